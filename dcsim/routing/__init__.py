"""Routers: which replica serves each request (``get_router(name, n_replicas)``)."""

from dcsim.routing.routers import ROUTERS, LeastOutstanding, PowerAware, RoundRobin, Router, get_router

__all__ = ["Router", "RoundRobin", "LeastOutstanding", "PowerAware", "ROUTERS", "get_router"]
