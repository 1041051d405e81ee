"""The engine: builds component models, owns the clock (simpy) and the controller."""

from dcsim.engine.run import run, run_models

__all__ = ["run", "run_models"]
