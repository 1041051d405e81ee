"""All simulated replicas of a run behind one interface, on either serving backend.

``serving.backend: kernel`` (default) serves each rack group with one compiled call per tick
(:class:`dcsim.serving.kernel.KernelGroup`: routing, enqueue and the batching loop);
``serving.backend: python`` runs the readable reference (:class:`dcsim.serving.replica.Replica`
per replica, routed by :mod:`dcsim.routing`). Both give the same finished requests and the same
per-replica energy (tests/test_kernel.py). :func:`make_pool` picks the backend and falls back to
the reference only where numba cannot be imported, and says so (a run warning: :func:`fallback_warning`).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from dcsim.routing import get_router
from dcsim.serving import kernel
from dcsim.serving.replica import Replica, check_request_arrays

__all__ = ["PythonPool", "KernelPool", "make_pool", "effective_backend", "fallback_warning", "FALLBACK_WARNING",
           "FALLBACK_SLOWDOWN", "HELD_AFTER_S"]

#: longest time a state-reading router routes on the same replica state (s); assumption: a
#: production router (vLLM's router, llm-d) reads load per request, and 0.1 s is below a decode
#: step x batch turnover of the shipped workloads (docs/serving.md, "Routing windows")
ROUTE_INTERVAL_S = 0.1
#: work in the replicas' queues counts as held back by supply once it has waited this long at the tick's end (s):
#: a request that arrived later waits for its replica's next iteration (tens to a few hundred ms at the shipped
#: profiles) and the pool's 0.1-s routing window, not for supply (assumption: a few iterations). Until 2026-12-04
#: only requests that arrived before the tick began counted, so an overload read "demand" until its backlog
#: exceeded one tick's arrivals: 64 replicas of 8B at 1.05x the compute ceiling on 1-min ticks read demand on every
#: tick (fluid: compute). The one constant: request fidelity's held work (``dcsim.engine.requests``) and the SLO
#: estimate's controlled queue (:func:`dcsim.serving.slo_estimate.critical_wait_s`) read it here.
HELD_AFTER_S = 1.0

#: request and loop counters summed over a pool's replicas by ``totals()``
_TOTALS = ("enqueued", "completed", "shed", "preemptions", "iterations", "step_calls")


class _Pool:
    """Shared bookkeeping: replica ``i`` belongs to group ``group_of[i]``; routing windows.

    A router that reads the replicas' state (``least_outstanding``, ``power_aware``) routes the
    requests released in each window of at most ``route_interval_s`` against the state at the
    window's start, the replicas advanced to it; a real router sees the state at every request.
    Routing a whole controller tick on the state at its start instead sends a tick's arrivals to
    the replicas that were emptiest when it began, the completions during the tick unseen: a
    burst per replica per tick, whose TTFT tail made SLO attainment depend on the tick (reference
    from 20:40, 20 min: 0.9996 at a 0.2 s tick, 0.966 at 2 s; 0.99973-0.99975 at every tick with
    windows). Round robin does not read the state: its windows change nothing.
    """

    def __init__(self, nodes, counts, router: str, min_headroom_w: float,
                 route_interval_s: float = ROUTE_INTERVAL_S, **opts):
        self.nodes = list(nodes)
        self.counts = [int(c) for c in counts]
        self.n = sum(self.counts)
        self.group_of = np.repeat(np.arange(len(self.counts)), self.counts)
        self.router_name = router
        self.min_headroom_w = float(min_headroom_w)
        if not route_interval_s > 0:
            raise ValueError(f"route_interval_s must be > 0, got {route_interval_s!r}")
        self.route_interval_s = float(route_interval_s)
        self.opts = opts
        self._t = 0.0  # the time every replica has been advanced to (runs start at t = 0)
        self._last_rel = -math.inf  # the latest release time served: rows may not go back before it

    def _check_rows(self, t_rel, t_arr, cls, n_in, n_out) -> None:
        """The pool's rows checked once, as the reference replica checks its own (ValueError), whichever backend
        serves them and however they are routed; release times may not go back before the latest one served (the
        reference checked that per replica only, the compiled backend not at all: final review, 2026-12-05)."""
        t = np.asarray(t_rel, float)
        check_request_arrays(t, np.asarray(t_arr, float), np.asarray(cls), np.asarray(n_in), np.asarray(n_out),
                             self._last_rel)
        if len(t):
            self._last_rel = float(t[-1])

    def serve(self, t_end, clock, t_rel, t_arr, cls, n_in, n_out, available=None, headroom_w=None):
        """Route and enqueue the released requests (sorted by release time ``t_rel``), advance every
        replica to ``t_end``. Returns (GPU energy J per replica, finished batches, shed classes,
        shed output tokens). A state-reading router routes window by window (class docstring)."""
        self._check_rows(t_rel, t_arr, cls, n_in, n_out)
        t0, self._t = self._t, float(t_end)
        d = self.route_interval_s
        if self.router_name == "round_robin" or len(t_rel) == 0 or t_end - t0 <= d:
            return self._serve(t_end, clock, t_rel, t_arr, cls, n_in, n_out, available, headroom_w)
        # windows holding requests: k = floor((t_rel - t0) / d); each call routes one window's
        # requests on the state at its start and advances every replica to the next one's start
        k = np.floor((np.asarray(t_rel, float) - t0) / d).astype(np.int64)
        cut = np.flatnonzero(np.diff(k)) + 1
        bounds = np.concatenate([[0], cut, [len(k)]]).tolist()
        win_t = np.minimum(np.maximum(t0 + k[bounds[:-1]] * d, t0), t_end).tolist()
        # (advance to, first request, end): first to the first window's start with no request
        calls = [(win_t[0], 0, 0)] if win_t[0] > t0 else []
        calls += [(te, a, b) for te, a, b in zip(win_t[1:] + [t_end], bounds[:-1], bounds[1:])]
        energy = np.zeros(self.n)
        fins, shed_c, shed_o = [], [], []
        for te, a, b in calls:
            e, f, c, o = self._serve(te, clock, t_rel[a:b], t_arr[a:b], cls[a:b], n_in[a:b], n_out[a:b],
                                     available, headroom_w)
            energy += e
            fins += f
            shed_c.append(c)
            shed_o.append(o)
        return energy, fins, _cat(shed_c), _cat(shed_o)


class PythonPool(_Pool):
    """The reference: one :class:`Replica` per replica, routed by :func:`dcsim.routing.get_router`."""

    backend = "python"

    def __init__(self, nodes, counts, router="least_outstanding", min_headroom_w=0.0,
                 route_interval_s=ROUTE_INTERVAL_S, **opts):
        super().__init__(nodes, counts, router, min_headroom_w, route_interval_s, **opts)
        self.replicas = [Replica(node, **opts) for node, c in zip(self.nodes, self.counts) for _ in range(c)]
        self.router = get_router(router, self.n, **({"min_headroom_w": min_headroom_w} if router == "power_aware" else {}))

    def outstanding_tokens(self) -> np.ndarray:
        return np.array([r.outstanding_tokens for r in self.replicas], dtype=float)

    def pending(self) -> np.ndarray:
        """Per replica: enqueued requests not in the running batch (fresh or preempted)."""
        return np.array([r.n_pending for r in self.replicas], dtype=np.int64)

    def pending_tokens(self, arrived_before: float = math.inf) -> np.ndarray:
        """Per replica: output tokens of the enqueued requests not yet admitted to a batch that arrived
        before ``arrived_before`` (s)."""
        return np.array([r.pending_out_tokens(arrived_before) for r in self.replicas], dtype=float)

    def net_generated(self) -> int:
        """Output tokens generated so far by every replica, less those lost with the requests a node
        failure took out (the replica that retries them generates them again)."""
        return sum(r.generated - r.lost_generated for r in self.replicas)

    def _serve(self, t_end, clock, t_rel, t_arr, cls, n_in, n_out, available=None, headroom_w=None):
        """One routing window: route and enqueue the released requests, advance every replica to
        ``t_end``."""
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

    def __init__(self, nodes, counts, router="least_outstanding", min_headroom_w=0.0,
                 route_interval_s=ROUTE_INTERVAL_S, **opts):
        super().__init__(nodes, counts, router, min_headroom_w, route_interval_s, **opts)
        kernel.warm_up(self.nodes[0])  # compile (or load the cached machine code) before any run clock starts
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

    def pending_tokens(self, arrived_before: float = math.inf) -> np.ndarray:
        """As :meth:`PythonPool.pending_tokens`."""
        return np.concatenate([g.pending_out_tokens(arrived_before) for g in self.groups]).astype(float)

    def net_generated(self) -> int:
        """As :meth:`PythonPool.net_generated`."""
        return sum(int(g.generated.sum() - g.lost_generated.sum()) for g in self.groups)

    def serve(self, t_end, clock, t_rel, t_arr, cls, n_in, n_out, available=None, headroom_w=None):
        """As :meth:`_Pool.serve`; with one rack group and a state-reading router the routing
        windows run inside the compiled call (the same windows as the Python loop, without a
        call per window)."""
        if len(self.groups) > 1 or self.router_name == "round_robin":
            return super().serve(t_end, clock, t_rel, t_arr, cls, n_in, n_out, available, headroom_w)
        self._check_rows(t_rel, t_arr, cls, n_in, n_out)
        t0, self._t = self._t, float(t_end)
        g = self.groups[0]
        f, sc, so = g.tick_rows(t_end, clock, t_rel, t_arr, cls, n_in, n_out, available=available,
                                headroom_w=headroom_w, route_from=t0, route_interval_s=self.route_interval_s)
        return g.window[:, kernel.W_ENERGY].copy(), ([f] if len(f) else []), sc.astype(np.int64), so.astype(np.int64)

    def _serve(self, t_end, clock, t_rel, t_arr, cls, n_in, n_out, available=None, headroom_w=None):
        """As :meth:`PythonPool._serve`: one compiled call per rack group."""
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
                f, sc, so = g.tick_rows(t_end, clock, t_rel, t_arr, cls, n_in, n_out, available=av, headroom_w=hr)
            else:
                sel = (dest >= lo) & (dest < hi)
                f, sc, so = g.tick_rows(t_end, clock, t_rel[sel], t_arr[sel], cls[sel], n_in[sel], n_out[sel],
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


#: CPU time of the Python reference over the compiled kernel, for the same run: measured 8.0-10.3x by
#: ``bench/bench_request_fidelity.py`` (kernel / reference per interleaved pair, loads 0.7 and 0.3; bench/README.md)
#: and 9.0x for ``dcsim run scenarios/reference.yaml`` (4.85 s against 43.6 s of user CPU; docs/serving.md)
FALLBACK_SLOWDOWN = "8-10x"

#: The warning where numba cannot be imported. It names both uses of the replica pool: request-level serving
#: (request and hybrid fidelity) and the SLO estimate a fluid run makes, whose user never chose a backend, and what
#: the fallback costs (:data:`FALLBACK_SLOWDOWN`, measured in docs/serving.md and bench/README.md).
FALLBACK_WARNING = ("numba cannot be imported: the compiled serving kernel (serving.backend: kernel, the default) "
                    "falls back to the Python reference for request-level serving and for the SLO estimate of a "
                    f"fluid run; the same results at about {FALLBACK_SLOWDOWN} the CPU time (measured in "
                    "docs/serving.md, Serving at request fidelity). Install numba (a core dependency of dcsim) to "
                    "restore the kernel")


def fallback_warning(backend: str) -> str | None:
    """The run warning (report.json ``warnings``, the summary, the CLI's ``warning:`` lines) where ``backend`` is
    ``kernel`` and numba cannot be imported: :data:`FALLBACK_WARNING` with the import's own error; None otherwise.
    A run adds it once (``dcsim.engine.build``) and builds its pools with ``make_pool(..., warn=False)``."""
    if effective_backend(backend) == backend:
        return None
    return f"{FALLBACK_WARNING} (the import failed: {kernel.IMPORT_ERROR})"


def effective_backend(backend: str) -> str:
    """The serving backend that runs when ``backend`` is asked for: ``kernel`` is ``python`` where numba cannot
    be imported (:data:`FALLBACK_WARNING`); recorded in report.json as ``provenance.serving_backend``."""
    return "python" if backend == "kernel" and not kernel.AVAILABLE else backend


def make_pool(backend: str, nodes, counts, *, warn: bool = True, **kw) -> PythonPool | KernelPool:
    """The replica pool of ``backend`` (``kernel`` or ``python``); ``kernel`` falls back to the
    reference where numba cannot be imported (:func:`effective_backend`), with a RuntimeWarning
    unless ``warn`` is False (a run warns once in its report instead: :func:`fallback_warning`)."""
    runs = effective_backend(backend)
    if runs != backend:
        if warn:
            warnings.warn(FALLBACK_WARNING, RuntimeWarning, stacklevel=2)
        backend = runs
    if backend not in ("kernel", "python"):
        raise ValueError(f"serving.backend must be 'kernel' or 'python', got {backend!r}")
    return (KernelPool if backend == "kernel" else PythonPool)(nodes, counts, **kw)

