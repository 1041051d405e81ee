"""Request routers: pick a replica for each arriving request.

A router sees one controller tick's arrivals at once (arrays sorted by time) and the replicas'
state at the start of the tick: outstanding tokens (``n_in + n_out`` of requests assigned and not
finished), which replicas are available, and optionally each replica's power headroom (W, from the
engine: cap minus current power). ``assign`` returns a replica index per request.

* ``round_robin``: cyclic over available replicas, vectorized.
* ``least_outstanding``: join-the-shortest-queue measured in outstanding tokens; requests are
  assigned in arrival order, each to the replica with the fewest outstanding tokens counting the
  ones already assigned in this tick (heap, O(log n) per request).
* ``power_aware``: least outstanding tokens among replicas whose headroom is at least
  ``min_headroom_w``; if none has headroom, least outstanding among all available.

Pluggable by name: :func:`get_router` looks the name up in :data:`ROUTERS`.
"""

from __future__ import annotations

import heapq
from types import MappingProxyType
from typing import Protocol

import numpy as np

__all__ = ["Router", "RoundRobin", "LeastOutstanding", "PowerAware", "ROUTERS", "get_router"]


class Router(Protocol):
    """What the engine calls once per tick."""

    def assign(self, n_in: np.ndarray, n_out: np.ndarray, outstanding_tokens: np.ndarray,
               available: np.ndarray | None = None, headroom_w: np.ndarray | None = None) -> np.ndarray:
        """Replica index (int64) for each request."""


def _avail(n_replicas: int, available: np.ndarray | None) -> np.ndarray:
    idx = np.arange(n_replicas) if available is None else np.flatnonzero(np.asarray(available, bool))
    if idx.size == 0:
        raise ValueError("no replica available to route to")
    return idx


def _jsq(weights: np.ndarray, load: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """Greedy join-shortest-queue in tokens: each request (in order) to the candidate with the
    least ``load`` including this tick's earlier assignments; ties go to the lower index."""
    m = weights.shape[0]
    out = np.empty(m, dtype=np.int64)
    if m == 0:
        return out
    h = [(float(load[i]), int(i)) for i in cand]
    heapq.heapify(h)
    w = weights.tolist()
    rep = heapq.heapreplace
    for j in range(m):
        ld, i = h[0]
        out[j] = i
        rep(h, (ld + w[j], i))
    return out


class RoundRobin:
    """Cycle over the available replicas; the position carries over between ticks."""

    def __init__(self, n_replicas: int):
        self.n = int(n_replicas)
        self._next = 0

    def assign(self, n_in, n_out, outstanding_tokens=None, available=None, headroom_w=None) -> np.ndarray:
        cand = _avail(self.n, available)
        m = len(n_in)
        pos = (self._next + np.arange(m)) % cand.size
        self._next = int((self._next + m) % cand.size)
        return cand[pos].astype(np.int64)


class LeastOutstanding:
    """Join-the-shortest-queue by outstanding tokens (prompt + output of unfinished requests)."""

    def __init__(self, n_replicas: int):
        self.n = int(n_replicas)

    def assign(self, n_in, n_out, outstanding_tokens, available=None, headroom_w=None) -> np.ndarray:
        cand = _avail(self.n, available)
        w = np.asarray(n_in, dtype=float) + np.asarray(n_out, dtype=float)
        return _jsq(w, np.asarray(outstanding_tokens, dtype=float), cand)


class PowerAware:
    """Least outstanding tokens among replicas with power headroom >= ``min_headroom_w`` (W)."""

    def __init__(self, n_replicas: int, min_headroom_w: float = 0.0):
        self.n = int(n_replicas)
        self.min_headroom_w = float(min_headroom_w)

    def assign(self, n_in, n_out, outstanding_tokens, available=None, headroom_w=None) -> np.ndarray:
        cand = _avail(self.n, available)
        if headroom_w is not None:
            hr = np.asarray(headroom_w, dtype=float)[cand]
            ok = cand[hr >= self.min_headroom_w]
            if ok.size:
                cand = ok
        w = np.asarray(n_in, dtype=float) + np.asarray(n_out, dtype=float)
        return _jsq(w, np.asarray(outstanding_tokens, dtype=float), cand)


ROUTERS = MappingProxyType({
    "round_robin": RoundRobin,
    "least_outstanding": LeastOutstanding,
    "power_aware": PowerAware,
})


def get_router(name: str, n_replicas: int, **kwargs) -> Router:
    """Build the router registered under ``name`` for ``n_replicas`` replicas."""
    try:
        cls = ROUTERS[name]
    except KeyError:
        raise ValueError(f"unknown router {name!r}; choose one of {', '.join(ROUTERS)}") from None
    return cls(n_replicas, **kwargs)
