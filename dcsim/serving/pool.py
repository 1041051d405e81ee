"""All simulated replicas of a run behind one interface, on either serving backend.

``serving.backend: kernel`` (default) serves each rack group with one compiled call per tick
(:class:`dcsim.serving.kernel.KernelGroup`: routing, enqueue and the batching loop);
``serving.backend: python`` runs the readable reference (:class:`dcsim.serving.replica.Replica`
per replica, routed by :mod:`dcsim.routing`). Both give the same finished requests and the same
per-replica energy (tests/test_kernel.py). :func:`make_pool` picks the backend and falls back to
the reference, with a one-line warning, only where numba cannot be imported.
"""

from __future__ import annotations

import warnings

import numpy as np

from dcsim.routing import get_router
from dcsim.serving import kernel
from dcsim.serving.replica import Replica

__all__ = ["PythonPool", "KernelPool", "make_pool"]

#: request and loop counters summed over a pool's replicas by ``totals()``
_TOTALS = ("enqueued", "completed", "shed", "preemptions", "iterations", "step_calls")


class _Pool:
    """Shared bookkeeping: replica ``i`` belongs to group ``group_of[i]``."""

    def __init__(self, nodes, counts, router: str, min_headroom_w: float, **opts):
        self.nodes = list(nodes)
        self.counts = [int(c) for c in counts]
        self.n = sum(self.counts)
        self.group_of = np.repeat(np.arange(len(self.counts)), self.counts)
        self.router_name = router
        self.min_headroom_w = float(min_headroom_w)
        self.opts = opts


class PythonPool(_Pool):
    """The reference: one :class:`Replica` per replica, routed by :func:`dcsim.routing.get_router`."""

    backend = "python"

    def __init__(self, nodes, counts, router="least_outstanding", min_headroom_w=0.0, **opts):
        super().__init__(nodes, counts, router, min_headroom_w, **opts)
        self.replicas = [Replica(node, **opts) for node, c in zip(self.nodes, self.counts) for _ in range(c)]
        self.router = get_router(router, self.n, **({"min_headroom_w": min_headroom_w} if router == "power_aware" else {}))

    def outstanding_tokens(self) -> np.ndarray:
        return np.array([r.outstanding_tokens for r in self.replicas], dtype=float)

    def pending(self) -> np.ndarray:
        """Per replica: enqueued requests not in the running batch (fresh or preempted)."""
        return np.array([r.n_pending for r in self.replicas], dtype=np.int64)

    def serve(self, t_end, clock, t_rel, t_arr, cls, n_in, n_out, available=None, headroom_w=None):
        """Route and enqueue the released requests, advance every replica to ``t_end``.
        Returns (GPU energy J per replica, finished batches, shed classes, shed output tokens)."""
        shed_c, shed_o = [], []
        if len(t_rel):
            dest = self.router.assign(n_in, n_out, self.outstanding_tokens(), available=available,
                                      headroom_w=headroom_w)
            for k in np.unique(dest):
                sel = dest == k
                mask = self.replicas[int(k)].enqueue_many(t_rel[sel], cls[sel], n_in[sel], n_out[sel], t_arr[sel])
                if mask.any():  # can never fit in this replica's KV cache
                    shed_c.append(cls[sel][mask])
                    shed_o.append(n_out[sel][mask])
        energy = np.empty(self.n)
        fins = []
        for i, r in enumerate(self.replicas):
            res = r.advance(t_end, clock)
            energy[i] = res.energy_gpu_j
            if res.shed_rows:  # waited in the replica's queue past hold_limit
                c, o = zip(*res.shed_rows)
                shed_c.append(np.array(c, np.int64))
                shed_o.append(np.array(o, np.int64))
            if res.finished_count:
                fins.append(res.finished)
        return energy, fins, _cat(shed_c), _cat(shed_o)

    def drain(self, i: int) -> list:
        return self.replicas[i].drain()

    def totals(self) -> dict:
        """Counters summed over replicas: requests enqueued, completed, shed; preemptions, batch
        iterations and node-step evaluations."""
        rs = self.replicas
        return {k: int(sum(getattr(r, k) for r in rs)) for k in _TOTALS}


class KernelPool(_Pool):
    """One :class:`~dcsim.serving.kernel.KernelGroup` per rack group. With one group the router
    runs inside the compiled call; with several, the Python router assigns replicas across
    groups (the same assignment) and each group's call gets its destinations."""

    backend = "kernel"

    def __init__(self, nodes, counts, router="least_outstanding", min_headroom_w=0.0, **opts):
        super().__init__(nodes, counts, router, min_headroom_w, **opts)
        kernel.warm_up()  # compile (or load the cached machine code) before any run clock starts
        single = len(self.counts) == 1
        self.groups = [kernel.KernelGroup(node, c, router=router if single else None, min_headroom_w=min_headroom_w,
                                          **opts) for node, c in zip(self.nodes, self.counts)]
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(int)
        self.router = None if single else get_router(
            router, self.n, **({"min_headroom_w": min_headroom_w} if router == "power_aware" else {}))

    def outstanding_tokens(self) -> np.ndarray:
        return np.concatenate([g.outstanding_tokens for g in self.groups]).astype(float)

    def pending(self) -> np.ndarray:
        """As :meth:`PythonPool.pending`."""
        return np.concatenate([g.n_pending for g in self.groups]).astype(np.int64)

    def serve(self, t_end, clock, t_rel, t_arr, cls, n_in, n_out, available=None, headroom_w=None):
        """As :meth:`PythonPool.serve`: one compiled call per rack group."""
        energy = np.empty(self.n)
        fins, shed_c, shed_o = [], [], []
        dest = None
        if self.router is not None:
            dest = self.router.assign(n_in, n_out, self.outstanding_tokens(), available=available,
                                      headroom_w=headroom_w) if len(t_rel) else np.zeros(0, np.int64)
        for gi, g in enumerate(self.groups):
            lo, hi = self.offsets[gi], self.offsets[gi + 1]
            av = None if available is None else np.asarray(available)[lo:hi]
            hr = None if headroom_w is None else np.asarray(headroom_w)[lo:hi]
            if dest is None:
                f, sc, so = g.tick(t_end, clock, t_rel, t_arr, cls, n_in, n_out, available=av, headroom_w=hr)
            else:
                sel = (dest >= lo) & (dest < hi)
                f, sc, so = g.tick(t_end, clock, t_rel[sel], t_arr[sel], cls[sel], n_in[sel], n_out[sel],
                                   dest=(dest[sel] - lo).astype(np.int64))
            energy[lo:hi] = g.window[:, kernel.W_ENERGY]
            if len(f):
                fins.append(f)
            shed_c.append(sc)
            shed_o.append(so)
        return energy, fins, _cat(shed_c), _cat(shed_o)

    def drain(self, i: int) -> list:
        gi = int(self.group_of[i])
        return self.groups[gi].drain(i - int(self.offsets[gi]))

    def totals(self) -> dict:
        return {k: int(sum(getattr(g, k).sum() for g in self.groups)) for k in _TOTALS}


def _cat(parts: list) -> np.ndarray:
    parts = [p for p in parts if len(p)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def make_pool(backend: str, nodes, counts, **kw) -> PythonPool | KernelPool:
    """The replica pool of ``backend`` (``kernel`` or ``python``); ``kernel`` falls back to the
    reference with a one-line warning where numba cannot be imported."""
    if backend == "kernel" and not kernel.AVAILABLE:
        warnings.warn("numba cannot be imported: serving.backend=kernel falls back to the Python reference "
                      "(same results, slower)", RuntimeWarning, stacklevel=2)
        backend = "python"
    if backend not in ("kernel", "python"):
        raise ValueError(f"serving.backend must be 'kernel' or 'python', got {backend!r}")
    return (KernelPool if backend == "kernel" else PythonPool)(nodes, counts, **kw)

