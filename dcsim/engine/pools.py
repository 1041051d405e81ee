"""Several model pools under one interconnect and one cooling plant (``racks[].serves``).

A scenario whose rack groups serve different workload classes (an H100 hall serving a chat
model beside a B200 hall serving a reasoning model) has one *pool* per class list
(:class:`dcsim.engine.build.Pool`): its own demand (its classes' arrivals × their mean output),
its own queue, node tables and supply curves. The interconnect and the plant are shared: on
each tick the controller splits the facility's IT budget (the smaller of what the interconnect
and the plant allow) between the pools on their joint efficient frontier
(:class:`dcsim.engine.tables.JointFrontier`): the budget goes where it buys the most tokens/s,
each pool within its own waiting work. With one pool (no ``serves``) none of this runs and the
engine is exactly the single-pool one.

:class:`PoolTicker` is the per-tick part the loop calls (decide, serve each pool's queue) and
the per-chunk part it records (per-pool ceilings, binding, operating point, power);
:func:`pool_operating_point` turns a served rate into IT and GPU power on one set of supply
curves (the fleet's, or a pool's).
"""

from __future__ import annotations

import numpy as np

from dcsim.engine.controller import ArrivalWindow, queue_step
from dcsim.engine.gpu_clock import EffectiveClock
from dcsim.engine.tables import in_service_it_w, whole_pool_it_w
from dcsim.serving.slo_estimate import clock_cost_tok_s, clock_holds_rate, critically_loaded, full_load_tok_s
from dcsim.tpf import binding_simulated, facility_binding

__all__ = ["PoolTicker", "pool_operating_point", "frontier_parts", "frontier_share_within", "pool_availability", "POOL_COLUMNS",
           "mean_cap_w", "FRACTIONAL_REPLICAS_BELOW"]

#: per-pool timeseries columns (``pool<i>_<column>``, only when there are several pools)
POOL_COLUMNS = ("demand_tok_s", "achieved_tok_s", "compute_tok_s", "power_tok_s", "cooling_tok_s", "binding",
                "held_tokens", "shed_tokens", "arrived_tokens", "queue_tokens", "waiting_tok_s", "it_power_w",
                "gpu_power_w", "mean_clock", "controller_clock", "mean_cap_w", "mode", "limit_tok_s", "frontier_share",
                "power_part_tok_s")


#: a pool whose power budget's frontier point at the lowest clock loads fewer replicas than this, at full load and not
#: a whole count, warns (fluid: ``assemble.fractional_frontier_warning``; request: ``_Lane.fractional_note``): whole
#: replicas cannot realise it, and one replica is a quarter of the load or more (audit L #8; docs/engine.md "At the
#: lowest clock")
FRACTIONAL_REPLICAS_BELOW = 4.0


def _even_rows(cv, clocks: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, ...]:
    """Rows 0..K-1 of :func:`_capped_candidates`: even load serving ``r`` at each clock level from the top down (a level
    that cannot serve ``r`` evenly repeats the one above: no step), as ``(it, gpu, clock, load fraction, level)`` arrays
    of shape (K + 1, n), row K left for the frontier's point."""
    K = clocks.size
    n = r.size
    pts_it, pts_gpu, pts_clk, pts_u, pts_lvl = (np.empty((K + 1, n)) for _ in range(5))
    prev = None
    for j, k in enumerate(range(K - 1, -1, -1)):
        ok = r <= cv.rate_pq[k, -1] * (1.0 + 1e-12)
        u = np.interp(r, cv.rate_pq[k], cv.u)
        row = (np.interp(u, cv.u, cv.it_pq[k]), np.interp(u, cv.u, cv.gpu_pq[k]), np.full(n, clocks[k]), u,
               np.full(n, float(k)))
        if prev is not None:  # a level that cannot serve r evenly: repeat the one above (no step)
            row = tuple(np.where(ok, x, y) for x, y in zip(row, prev))
        for arr, x in zip((pts_it, pts_gpu, pts_clk, pts_u, pts_lvl), row):
            arr[j] = x
        prev = row
    return pts_it, pts_gpu, pts_clk, pts_u, pts_lvl


def _capped_candidates(cv, clocks: np.ndarray, r: np.ndarray, it_b: np.ndarray):
    """The candidates of :func:`_capped_point` (rows 0..K-1: even load at each clock level from the top down,
    :func:`_even_rows`; row K: the frontier's point) as ``(it, gpu, clock, load fraction, level)`` arrays of shape
    (K + 1, n), the pair ``(i, j)`` of candidates the tick mixes and the weight ``beta`` of candidate ``j`` (row K,
    the frontier's, where ``j == K``)."""
    K = clocks.size
    f = cv.frontier("pq")
    n = r.size
    pts_it, pts_gpu, pts_clk, pts_u, pts_lvl = _even_rows(cv, clocks, r)
    pts_it[K] = np.interp(r, f.rate, f.it)
    pts_gpu[K] = np.interp(r, f.rate, f.gpu)
    pts_clk[K] = np.interp(np.interp(r, f.rate, f.level), np.arange(K), clocks)
    pts_u[K] = np.nan
    pts_lvl[K] = np.nan  # the frontier's point: its vertices' own levels
    within = pts_it <= it_b[None, :] * (1.0 + 1e-12)
    j = np.where(within.any(axis=0), np.argmax(within, axis=0), K)
    i = np.maximum(j - 1, 0)
    cols = np.arange(n)
    hi, lo = pts_it[i, cols], pts_it[j, cols]
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.where((j > 0) & (hi > lo), (hi - it_b) / (hi - lo), 1.0)
    return (pts_it, pts_gpu, pts_clk, pts_u, pts_lvl), i, j, np.clip(beta, 0.0, 1.0)


def _capped_point(cv, clocks: np.ndarray, r: np.ndarray, it_b: np.ndarray, ec=None) -> tuple[np.ndarray, ...]:
    """The operating point of capped ticks serving ``r`` tokens/s (every replica in service) within an IT budget
    ``it_b`` (W, same basis): the controller lowers the caps only as far as the budget needs. Candidates, in
    order of falling power: even load at each clock level from the top down (per-GPU caps lowered together, as
    DVFS capping does; a level that cannot serve ``r`` evenly is skipped), then the frontier's consolidated point
    at ``r`` (some replicas flat out, others idle: the least IT power that serves ``r``). The first candidate within
    the budget is mixed in time with the one before it so that the tick draws the budget exactly (a mix of two
    operating points, as the frontier's own vertices are); a budget above the top level's draw runs at the top,
    one below the frontier's point (rounding) at the frontier's.

    Before 2026-12-04 every capped tick ran at the frontier's point, the least power for its rate, however far below
    the budget: 1 °C more outside the reference hall (37 → 38 °C) took its facility from 459 to 359 kW for the same
    tokens, by switching the controller from uncapped to capped; a capping controller stops at its budget.
    Returns ``(it, gpu, clock, load fraction, effective clock, frontier share)``; the load fraction is NaN where the
    frontier's point is in the mix; the effective clock (``ec``, :class:`~dcsim.engine.gpu_clock.EffectiveClock`:
    lower where a board power cap throttles) mixes the candidates' own, as the clock does (None without ``ec``); the
    frontier share is the share of the tick's time at the frontier's point (0 where the tick mixes two even loads),
    which the fluid SLO estimate reads (:func:`frontier_parts`)."""
    (pts_it, pts_gpu, pts_clk, pts_u, pts_lvl), i, j, beta = _capped_candidates(cv, clocks, r, it_b)
    K = clocks.size
    cols = np.arange(r.size)
    mix = lambda a: (1.0 - beta) * a[i, cols] + beta * a[j, cols]  # noqa: E731
    u = np.where(beta >= 1.0, pts_u[j, cols], np.where(beta <= 0.0, pts_u[i, cols], mix(pts_u)))
    eff = None
    if ec is not None:
        pts_eff = np.empty_like(pts_u)
        for row in range(K):  # even load at its level: the grid at that level and load
            lv = pts_lvl[row].astype(int)
            for k in np.unique(lv):
                at = lv == k
                pts_eff[row, at] = np.interp(pts_u[row, at], cv.u, ec.grid_pq[k])
        pts_eff[K] = np.interp(r, ec.frontier.rate, ec.vertex)
        eff = mix(pts_eff)
    return mix(pts_it), mix(pts_gpu), mix(pts_clk), u, eff, np.where(j == K, beta, 0.0)


def frontier_parts(curves, clocks: np.ndarray, served, avail, frontier_share) -> dict[str, np.ndarray]:
    """Where the replicas of capped frontier ticks run, for the SLO estimate (``docs/slo.md``, "Capped on the
    frontier"): the tick of :func:`_capped_point` serving ``served`` tokens/s with a fraction ``avail`` of the
    replicas in service runs, for the time share ``frontier_share`` the engine recorded (``frontier_share`` and
    ``pool<i>_frontier_share`` in the timeseries: :func:`pool_operating_point`), at the frontier's point — a share
    ``1 - x`` of the replicas at the vertex below ``r`` (level ``level_a``, each serving ``rate_a`` tokens/s of a full
    fleet's ``rate_a x replicas``; idle where that is 0) and a share ``x`` at the vertex above (``level_b``,
    ``rate_b``) — and for the rest, where that share is above 0, even load at clock level ``level_even`` (the lowest
    level that serves ``r`` evenly: the candidate the frontier's point is mixed with). ``rate_*`` are the vertices'
    fleet rates (tokens/s, every replica in service); levels are clock-level indices. Until 2026-12-04 the share was
    recovered here from the recorded IT power, repeating the engine's choice of candidates."""
    cv = curves
    a = np.maximum(np.asarray(avail, dtype=float), 1e-12)
    r = np.asarray(served, dtype=float) / a
    K = clocks.size
    even = np.interp(_even_rows(cv, clocks, r)[2][K - 1], clocks, np.arange(K))
    f = cv.frontier("pq")
    s = np.clip(np.searchsorted(f.rate, r, side="right") - 1, 0, max(f.rate.size - 2, 0))
    s1 = np.minimum(s + 1, f.rate.size - 1)
    ra, rb = f.rate[s], f.rate[s1]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.clip(np.where(rb > ra, (r - ra) / (rb - ra), 1.0), 0.0, 1.0)
    return {"frontier": np.asarray(frontier_share, dtype=float), "x": x, "level_a": f.level[s].astype(float),
            "rate_a": ra, "level_b": f.level[s1].astype(float), "rate_b": rb, "level_even": even}


def frontier_share_within(curves, clocks: np.ndarray, overhead_w: float, served, avail, it_w) -> np.ndarray:
    """The share of a capped tick's time at the frontier's point (:func:`_capped_point`'s choice of candidates) for
    ``served`` tokens/s with a fraction ``avail`` of the replicas in service within the IT power ``it_w`` (W) the tick
    drew. For the rate the tick served it is the share the engine records (``frontier_share``); the fluid SLO estimate
    of a run with deferrable work sees the interactive tokens only (docs/grid.md), and takes the share that rate runs
    at within the tick's power (:func:`dcsim.engine.assemble.interactive_view`)."""
    a = np.maximum(np.asarray(avail, dtype=float), 1e-12)
    r = np.asarray(served, dtype=float) / a
    b = whole_pool_it_w(np.asarray(it_w, dtype=float), a, overhead_w)
    _, _, j, beta = _capped_candidates(curves, clocks, r, b)
    return np.where(j == clocks.size, beta, 0.0)


def pool_operating_point(curves, clocks: np.ndarray, policy: str, overhead_w: float, served, mode, level,
                         avail, it_budget_w=None, ec=None) -> dict[str, np.ndarray]:
    """IT power (W), GPU power (W), effective clock, per-replica load fraction and frontier share per tick.

    ``curves``: :class:`~dcsim.engine.tables.SupplyCurves` of the replicas serving ``served``
    tokens/s; ``overhead_w`` their racks' overhead; ``mode`` per
    :data:`dcsim.engine.controller.MODE_NAMES`; ``level`` clock-level index (uniform mode);
    ``avail`` fraction of replicas in service. ``it_budget_w``: per tick, the IT power (W) a capped tick
    (frontier mode) may draw — the frontier's IT power at its rate limit (:meth:`~dcsim.engine.tables.Frontier.it_w`) — which it draws by lowering the caps no
    further than it needs (:func:`_capped_point`); without it a capped tick runs at the frontier's point for its
    rate (the least power: a rate limit's own budget). ``ec``: the pool's
    :class:`~dcsim.engine.gpu_clock.EffectiveClock`, when a board power cap throttles: the result then carries
    ``effective_clock`` (at most the clock), a capped tick's from the same candidates its clock mixes (until
    2026-12-04 the frontier's vertex at the served rate, however high the even-load clock the tick ran at: the
    reference with a 450 W cap recorded 0.307 where the tick ran at 0.512). ``frontier_share``: the share of a capped
    tick's time at the frontier's consolidated point (some replicas at full load, the others idle or at another
    clock), 1 without ``it_budget_w``, 0 on other ticks: recorded per tick for the SLO estimate
    (:func:`frontier_parts`).
    """
    cv = curves
    ovh = overhead_w
    a = np.maximum(np.asarray(avail, dtype=float), 1e-12)
    r = np.asarray(served, dtype=float) / a  # rate if every replica were in service
    it, gpu = np.empty(r.size), np.empty(r.size)
    clock, u = np.empty(r.size), np.full(r.size, np.nan)
    share = np.zeros(r.size)  # time share of a capped tick at the frontier's point (_capped_point)
    capped_eff = np.full(r.size, np.nan)  # a capped tick's effective clock from its own candidates (with ec)
    top = cv.rate_pq.shape[0] - 1
    if policy == "none":
        sel = np.ones(r.size, dtype=bool)
        u[sel] = np.interp(r, cv.rate_c[top], cv.u)
        it[sel] = np.interp(u, cv.u, cv.it_c[top])
        gpu[sel] = np.interp(u, cv.u, cv.gpu_c[top])
        clock[sel] = clocks[top]
    else:
        for md in np.unique(mode):
            sel = mode == md
            if md == 1:
                f = cv.frontier("pq")
                if it_budget_w is None:
                    it[sel] = np.interp(r[sel], f.rate, f.it)
                    gpu[sel] = np.interp(r[sel], f.rate, f.gpu)
                    clock[sel] = np.interp(np.interp(r[sel], f.rate, f.level), np.arange(clocks.size), clocks)
                    share[sel] = 1.0
                    continue
                b = whole_pool_it_w(np.broadcast_to(np.asarray(it_budget_w, dtype=float), r.shape)[sel],
                                    np.broadcast_to(a, r.shape)[sel], ovh)
                it[sel], gpu[sel], clock[sel], u[sel], e, share[sel] = _capped_point(cv, clocks, r[sel], b, ec)
                if e is not None:
                    capped_eff[sel] = e
                continue
            for k in np.unique(level[sel]):
                s2 = sel & (level == k)
                u[s2] = np.interp(r[s2], cv.rate_pq[k], cv.u)
                it[s2] = np.interp(u[s2], cv.u, cv.it_pq[k])
                gpu[s2] = np.interp(u[s2], cv.u, cv.gpu_pq[k])
                clock[s2] = clocks[k]
    out = {"it_power_w": in_service_it_w(it, a, ovh), "gpu_power_w": a * gpu, "clock": clock, "load_fraction": u,
           "frontier_share": share}
    if ec is not None:
        eff = np.where(np.isnan(capped_eff), ec.at(policy, served, mode, level, avail, u), capped_eff)
        out["effective_clock"] = np.minimum(clock, eff)
    return out


def mean_cap_w(groups, clocks: np.ndarray, clock) -> np.ndarray:
    """Equivalent per-GPU power cap (W) at effective clock ``clock``: the GPU power of a
    full-batch replica at that clock per GPU, averaged over ``groups`` weighted by their GPUs
    (one group: its own figure)."""
    idx = np.interp(clock, clocks, np.arange(clocks.size))
    caps = [np.interp(idx, np.arange(clocks.size), g.table.gpu[:, -1]) / g.node.gpus_per_replica for g in groups]
    if len(caps) == 1:
        return caps[0]
    w = np.array([g.gpus for g in groups], dtype=float)
    return sum(c * wi for c, wi in zip(caps, w)) / w.sum()


def _pool_down_steps(m) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per pool: (times s, replicas of the pool down from that time on), from the fault schedule's
    replica failures (global replica index: rack groups in scenario order). Cached on ``m``."""
    cache = m.__dict__.get("_pool_down")
    if cache is not None:
        return cache
    offsets = np.cumsum([0] + [g.limits.replicas for g in m.groups])
    pool_of_rep = np.empty(int(offsets[-1]), dtype=np.int64)
    for pi, pool in enumerate(m.pools):
        for g in pool.groups:
            pool_of_rep[offsets[g]:offsets[g + 1]] = pi
    ev_t: list[list] = [[] for _ in m.pools]
    ev_d: list[list] = [[] for _ in m.pools]
    for rep, f0, f1 in m.faults.failures:
        rep, f0, f1 = (np.asarray(x) for x in (rep, f0, f1))
        pp = pool_of_rep[rep.astype(np.int64)]
        for pi in range(len(m.pools)):
            sel = pp == pi
            ev_t[pi] += [f0[sel], f1[sel]]
            ev_d[pi] += [np.ones(int(sel.sum())), -np.ones(int(sel.sum()))]
    out = []
    for pi in range(len(m.pools)):
        t = np.concatenate(ev_t[pi]) if ev_t[pi] else np.zeros(0)
        d = np.concatenate(ev_d[pi]) if ev_d[pi] else np.zeros(0)
        order = np.argsort(t, kind="stable")
        out.append((t[order], np.cumsum(d[order])))
    m.__dict__["_pool_down"] = out
    return out


def pool_availability(m, t0_s, dt: float, extra=None) -> np.ndarray:
    """(ticks, pools) fraction of each pool's replicas in service over the ticks starting at ``t0_s`` (s), each
    ``dt`` long: each pool's mean over [t0, t0 + dt), the engine's whole-tick rule
    (:meth:`dcsim.faults.FaultSchedule.availability_over`; until 2026-12-05 read at the middle); replica failures of
    the fault schedule fall on the pool whose groups they hit (a failure in the H100 hall does not take B200
    capacity); ``extra``: a facility-wide availability function, read at the ticks' middles (t0 + dt/2). Until
    2026-12-05 it took the middles and an optional ``dt`` (without it, the share down at the middle: no caller)."""
    from dcsim.faults import down_seconds_over

    t0 = np.asarray(t0_s, dtype=float)
    a = np.ones((t0.size, len(m.pools)))
    if m.faults is not None and m.faults.failures:
        for pi, (times, down) in enumerate(_pool_down_steps(m)):
            if times.size:
                a[:, pi] = 1.0 - down_seconds_over(times, down, t0, dt) / float(dt) / float(m.pools[pi].replicas)
    if extra is not None:
        a = a * np.asarray(extra(t0 + 0.5 * dt), dtype=float)[:, None]
    return a


def useful_clock_level(groups, clocks: np.ndarray) -> int:
    """The lowest clock level (index into ``clocks``) from which the replicas of ``groups`` at full load serve what
    full clock would: every level from it up has a full-load rate (:func:`~dcsim.serving.slo_estimate.full_load_tok_s`)
    that :func:`~dcsim.serving.slo_estimate.clock_holds_rate` does not count as held down by the clock (within
    :data:`~dcsim.serving.slo_estimate.RHO_MAX` of full clock's, the binding label's one rule). A compute-bound pool's
    is full clock (the H100 chat pool of mixed-fleet: 0.978 of its full-clock rate at 0.97); a memory-bound one's
    lower (its KV-bound B200 reasoning pool: 0.985 at 0.30, the lowest level). The shared budget's split
    (:meth:`PoolTicker._split_shared`) gives clock above it only where every pool has its own."""
    full = np.asarray(full_load_tok_s(groups, clocks, clocks), float)
    held = clock_holds_rate(full, np.full(full.shape, full[-1]))
    below = np.flatnonzero(held)
    return int(below[-1] + 1) if below.size else 0


class PoolTicker:
    """The multi-pool controller step and its per-chunk record (module docstring).

    ``request_engine`` (request and hybrid fidelity) serves each pool's requests on its own
    replicas (``RequestEngine.tick_pools``); without it each pool is a fluid token queue
    (:func:`dcsim.engine.controller.queue_step`).
    """

    def __init__(self, m, hold_s: float, request_engine=None, availability=None):
        self.m = m
        self.extra_availability = availability
        self.n = len(m.pools)
        self.policy = m.scenario.controller.policy
        self.hold_s = hold_s
        self.req = request_engine
        self.joint = m.joint("pq")
        self.top_rate = [float(p.curves.rate_pq[-1, -1]) for p in m.pools]  # full clock, rack limits
        self.compute = [p.curves.compute_tok_s for p in m.pools]
        self.top_curve = [(p.curves.rate_pq[-1], p.curves.it_pq[-1]) for p in m.pools]
        # the lowest clock level whose full-load rate already serves what full clock would (useful_clock_level): the
        # clock beyond it buys a pool no tokens worth a shared budget's watts, and its curve there
        self.split_rule = m.scenario.controller.shared_split
        self.useful_level = [useful_clock_level([m.groups[g] for g in p.groups], m.clocks) for p in m.pools]
        self.useful_top = [float(p.curves.rate_pq[k, -1]) for p, k in zip(m.pools, self.useful_level)]
        self.useful_curve = [(p.curves.rate_pq[k], p.curves.it_pq[k]) for p, k in zip(m.pools, self.useful_level)]
        self._ec: dict[int, EffectiveClock] = {}  # per pool, built on first use (_effective_clock)
        self.backlog = [0.0] * self.n
        self.window: list[ArrivalWindow] | None = None  # per pool: the work younger than the hold limit
        self.cols: dict[str, list] = {}

    # ------------------------------------------------------------------ per chunk, before the ticks
    def start_chunk(self, ex, dt: float) -> None:
        m = self.m
        if self.window is None:
            self.window = [ArrivalWindow(self.hold_s, dt) for _ in range(self.n)]
        self.dt = dt
        self.A = pool_availability(m, ex.t_s, dt, self.extra_availability)
        self.al = self.A.tolist()
        self.d = m.pool_demand_tok_s(ex.demand_tok_s)
        self.dl = self.d.tolist()
        self.both = np.minimum(ex.it_max_power_w, ex.it_max_cooling_w).tolist()
        self.cols = {k: [] for k in ("served", "backlog", "held", "shed", "arrived", "need", "limit", "clock", "mode",
                                     "budget")}

    # ------------------------------------------------------------------ one tick
    def decide(self, need: list[float], j: int) -> tuple[int, list[float], list[int]]:
        """``(facility mode, per-pool limits tokens/s, per-pool modes)``: uncapped (mode 0, full clock and even
        load) when every pool's waiting work fits within the shared budget that way — except a pool whose racks'
        own limits pass less than its work at full clock, which is served on its frontier (mode 1, at most its
        frontier's top: the lower clock its rack limits allow, as one pool is, ``Controller.decide``) while the
        others stay uncapped; else (policy frontier) the budget split on the joint frontier, every pool on its
        frontier (mode 1). Policy none never caps (each pool's compute ceiling)."""
        a = self.al[j]
        n = self.n
        if self.policy == "none":
            self.budgets = [float("inf")] * n
            return 0, [c * x for c, x in zip(self.compute, a)], [0] * n
        b = self.both[j]
        it, modes, limits = 0.0, [0] * n, [0.0] * n
        for p in range(n):
            ap = a[p] if a[p] > 1e-12 else 1e-12
            if need[p] / ap > self.top_rate[p] and self.top_rate[p] < self.compute[p] * (1.0 - 1e-9):
                fr = self.joint.frontiers[p]
                it += float(self.joint.it_w(p, min(need[p], ap * float(fr.rate[-1])), ap))
                modes[p], limits[p] = 1, float(fr.rate[-1]) * a[p]
            else:
                it += self._uncapped_it_w(p, need[p], ap)
                limits[p] = self.top_rate[p] * a[p]
        if it <= b:
            self.budgets = [float(self.joint.it_w(p, limits[p], a[p])) if modes[p] == 1 else float("inf")
                            for p in range(n)]
            return (1 if 1 in modes else 0), limits, modes
        if self.split_rule == "tokens":  # the rule until session 53 (controller.shared_split)
            limits = self.joint.split_one(need, b, a)
            self.budgets = self._share_budget(need, limits, b, a)
        else:
            limits, self.budgets = self._split_shared(need, b, a)
        return 1, limits, [1] * n

    def _share_budget(self, need: list[float], limits: list[float], b: float, a: list[float]) -> list[float]:
        """``controller.shared_split: tokens`` (the rule until session 53): each pool's IT budget (W) on a tick the
        shared budget ``b`` caps: what its rate limit costs on its frontier (the joint split of its whole waiting
        work), plus the budget the split left unspent, shared in proportion to what each pool lacks of its uncapped
        draw (full clock, even load, its waiting work). Until 2026-12-04 every pool ran at its frontier's point, the
        least power for its rate: mixed-fleet at midnight capped both pools with the facility at 357 of its 510 kW
        budget, the chat pool at clock 0.30 (its SLO attainment 6.6 % over the day against 44.4 % alone with the same
        demand)."""
        n = self.n
        base, short = [0.0] * n, [0.0] * n
        for p in range(n):
            ap = a[p] if a[p] > 1e-12 else 1e-12
            base[p] = float(self.joint.it_w(p, limits[p], ap))
            short[p] = max(self._uncapped_it_w(p, need[p], ap) - base[p], 0.0)
        left = max(b - sum(base), 0.0)
        tot = sum(short)
        f = min(1.0, left / tot) if tot > 0 else 0.0
        return [base[p] + f * short[p] for p in range(n)]

    def _split_shared(self, need: list[float], b: float, a: list[float]) -> tuple[list[float], list[float]]:
        """Each pool's rate limit (tokens/s) and IT budget (W) on a tick the shared budget ``b`` caps, in three steps.

        1. The joint split (:meth:`~dcsim.engine.tables.JointFrontier.split_one`) of each pool's waiting work, up to
           what its replicas serve at full load at their *useful clock* (:func:`useful_clock_level`): the rates the
           budget buys, steepest tokens per W first.
        2. The budget left, shared in proportion to what each pool lacks of its draw uncapped at that useful clock
           (even load, its waiting work): clock headroom goes first where clock turns into tokens.
        3. The rest, shared in proportion to what each pool lacks of its uncapped draw at full clock, as before; a pool
           whose work step 1 left waiting gets the rate its budget then buys on its frontier, at most its work.

        A pool whose full-load rate at every clock is within :data:`~dcsim.serving.slo_estimate.RHO_MAX` of its
        full-clock one (a memory-bound pool: mixed-fleet's KV-bound reasoning pool, 74.1 k tok/s at clock 0.30 against
        75.3 k at full clock) has its useful clock at the lowest level, so it takes clock only where every other pool
        has its own. Until session 53 step 1 bought every pool's whole waiting work: where a memory-bound pool held
        work (request fidelity's reasoning lane preempting, 07:14 of mixed-fleet's morning) the split spent the budget
        on its top segments (0.3 k tok/s for 200 kW) and the chat pool, left its frontier's point, fell from clock 0.86
        to 0.59 and held work, where fluid's reasoning pool, holding none, left both at 0.83-0.86 (docs/slo.md, "A
        KV-bound pool near its compute ceiling on a shared budget")."""
        n = self.n
        ap = [x if x > 1e-12 else 1e-12 for x in a]
        capped = [min(need[p], self.useful_top[p] * a[p]) if need[p] > 0.0 else 0.0 for p in range(n)]
        limits = self.joint.split_one(capped, b, a)
        base = [float(self.joint.it_w(p, limits[p], a[p])) for p in range(n)]
        budgets = list(base)
        for draw in (self._useful_it_w, self._uncapped_it_w):
            short = [max(draw(p, need[p], ap[p]) - budgets[p], 0.0) for p in range(n)]
            left = max(b - sum(budgets), 0.0)
            tot = sum(short)
            f = min(1.0, left / tot) if tot > 0 else 0.0
            budgets = [budgets[p] + f * short[p] for p in range(n)]
        for p in range(n):
            if need[p] > limits[p] and budgets[p] > base[p]:  # the rest of its work, as far as its budget reaches
                limits[p] = max(limits[p], min(need[p], self._frontier_rate(p, budgets[p], a[p])))
        return limits, budgets

    def _frontier_rate(self, p: int, it_w: float, a: float) -> float:
        """The rate (tokens/s) pool ``p``'s frontier serves with IT power ``it_w`` (W), a fraction ``a`` of its replicas
        in service (:meth:`~dcsim.engine.tables.Frontier.it_w` inverted)."""
        f = self.joint.frontiers[p]
        ovh = self.joint.ovh_w[p]
        ap = a if a > 1e-12 else 1e-12
        return ap * float(np.interp((it_w - ovh) / ap + ovh, f.it, f.rate))

    def _useful_it_w(self, p: int, need: float, ap: float) -> float:
        """IT power (W) of pool ``p`` at its useful clock (:func:`useful_clock_level`), even load, serving its waiting
        work ``need`` (tokens/s), at most its full-load rate there, with a fraction ``ap`` (> 0) of its replicas in
        service: :meth:`_uncapped_it_w` at that clock (the same for a pool whose useful clock is full clock)."""
        rr, ii = self.useful_curve[p]
        return in_service_it_w(float(np.interp(min(need / ap, self.useful_top[p]), rr, ii)), ap,
                               self.m.pools[p].overhead_w)

    def _uncapped_it_w(self, p: int, need: float, ap: float) -> float:
        """IT power (W) of pool ``p`` uncapped (full clock, even load; its racks' limits applied) serving its waiting
        work ``need`` (tokens/s), at most its top, with a fraction ``ap`` (> 0) of its replicas in service."""
        rr, ii = self.top_curve[p]
        ovh = self.m.pools[p].overhead_w
        return in_service_it_w(float(np.interp(min(need / ap, self.top_rate[p]), rr, ii)), ap, ovh)

    def clock_of(self, p: int, md: int, limit: float, avail: float, need: float, budget: float) -> float:
        """The clock (fraction) pool ``p``'s simulated replicas run at: full clock uncapped, else that of its
        operating point (:func:`pool_operating_point`) serving its waiting work up to its rate limit within its IT
        ``budget`` (:attr:`budgets`; the frontier's clock at the limit where the limit binds), at a fractional level
        (the lanes run it as a mix of the two levels around it in time: replicas keep step tables per level)."""
        m = self.m
        if md != 1:
            return float(m.clocks[-1])
        pool = m.pools[p]
        return float(pool_operating_point(pool.curves, m.clocks, self.policy, pool.overhead_w,
                                          np.array([min(need, limit)]), np.array([1], np.int8),
                                          np.array([m.clocks.size - 1], np.int16), np.array([avail]),
                                          it_budget_w=np.array([budget]))["clock"][0])

    def tick(self, j: int, t0: float, dt: float) -> tuple:
        """Serve tick ``j`` of the chunk; returns the facility's (mode, limit, served tok/s,
        backlog tok, shed tok, arrived tok, held tok, waiting tok/s)."""
        req = self.req
        queued = self.backlog if req is None else req.held_pools()
        need = [queued[p] / dt + self.dl[j][p] for p in range(self.n)]
        md, limits, modes = self.decide(need, j)
        c = self.cols
        c["mode"].append(modes)
        if req is not None:
            clocks = [self.clock_of(p, modes[p], limits[p], self.al[j][p], need[p], self.budgets[p])
                      for p in range(self.n)]
            # a pool uncapped (or policy none): its limit is its compute ceiling, so its door stays open
            # each lane aims at its pool's IT budget, the one the fluid record draws and the clock above is chosen for
            res = req.tick_pools(t0, dt, limits, clocks, self.al[j], open_door=[x == 0 for x in modes],
                                 budgets=self.budgets)
            sv = [r[0] for r in res]
            b = [r[1] for r in res]  # in the system: at the door and inside replicas
            held = req.label_held_pools()  # the door's and the running work the clock held back
            sh = [r[2] for r in res]
            arr = [r[3] for r in res]
            c["clock"].append(clocks)
        else:
            sv, b, sh = [], [], []
            for p in range(self.n):
                s, bb, hh = queue_step(self.backlog[p], self.dl[j][p], limits[p], dt,
                                       self.window[p].push(self.dl[j][p] * dt))
                sv.append(s)
                b.append(bb)
                sh.append(hh)
            arr = [x * dt for x in self.dl[j]]
            held = b
        self.backlog = list(b) if req is None else self.backlog
        c["served"].append(sv)
        c["backlog"].append(list(b))
        c["held"].append(list(held))
        c["shed"].append(sh)
        c["arrived"].append(arr)
        c["need"].append(need)
        c["limit"].append(limits)
        c["budget"].append(self.budgets)
        return md, sum(limits), sum(sv), sum(b), sum(sh), sum(arr), sum(held), sum(need)

    def _effective_clock(self, p: int) -> EffectiveClock:
        """Pool ``p``'s :class:`~dcsim.engine.gpu_clock.EffectiveClock` (built once)."""
        if p not in self._ec:
            m, pool = self.m, self.m.pools[p]
            self._ec[p] = EffectiveClock([m.groups[g] for g in pool.groups], pool.curves, m.clocks, pool.mean_input,
                                         pool.mean_output, pool.decode_context, pool.prompt_scv)
        return self._ec[p]

    # ------------------------------------------------------------------ per chunk, after the ticks
    def record(self, ex, mode: np.ndarray, extra: dict | None) -> dict:
        """Per-pool and facility figures of the first ``len(mode)`` ticks of the chunk: the
        facility's ``compute/power/cooling_tok_s``, ``binding``, IT and GPU power, clock and cap,
        and the ``pool<i>_*`` columns (:data:`POOL_COLUMNS`)."""
        m = self.m
        n = mode.size
        cols = {k: np.array(v[:n], dtype=float).reshape(n, -1) for k, v in self.cols.items() if k != "clock" or v}
        A = self.A[:n]
        need = cols["need"]
        pmode = cols["mode"].astype(np.int8)  # each pool's own (decide): uncapped at full clock, or on its frontier
        top = np.full(n, m.clocks.size - 1, dtype=np.int16)
        comp = np.array(self.compute)[None, :] * A
        pw = m.joint("p").pool_ceilings(need, ex.it_max_power_w[:n], A)
        cq = m.joint("q").pool_ceilings(need, ex.it_max_cooling_w[:n], A)
        supply_only = 1 if self.policy == "none" else None
        bind = np.zeros((n, self.n), dtype=np.int8)  # each pool's, once its operating point's clock is known
        # each pool's part of the facility's P (JointFrontier.facility_parts: they sum to it), which the signature
        # figure weights by each pool's J/token band
        pw_part = m.joint("p").facility_parts(need, ex.it_max_power_w[:n], A)
        out = {"compute_tok_s": comp.sum(axis=1),
               "power_tok_s": pw_part.sum(axis=1),
               "cooling_tok_s": m.joint("q").facility_ceiling(need, ex.it_max_cooling_w[:n], A),
               # GPUs in service over the fleet's (each pool's own failures)
               "availability": (A * np.array([p.gpus for p in m.pools], dtype=float)).sum(axis=1) / m.gpus}
        it = np.zeros(n)
        gpu = np.zeros(n)
        clk_w = np.zeros(n)
        ctl_w = np.zeros(n)
        u_w = np.zeros(n)
        cap_w = np.zeros(n)
        reps = float(sum(p.replicas for p in m.pools))
        gpus = float(sum(p.gpus for p in m.pools))
        pc: dict[str, np.ndarray] = {}
        for p, pool in enumerate(m.pools):
            ec = self._effective_clock(p)  # lower where a board power cap throttles, as for one pool
            op = pool_operating_point(pool.curves, m.clocks, self.policy, pool.overhead_w, cols["served"][:, p],
                                      pmode[:, p], top, A[:, p], it_budget_w=cols["budget"][:, p],
                                      ec=ec if ec.throttles else None)
            if "clock" in cols:  # request fidelity: the clock the pool's replicas ran at
                op["clock"] = cols["clock"][:, p]
            # what held its served rate down; capped below full clock by its share of the budget, not compute, where
            # that clock costs throughput (clock_holds_rate: a clock whose full-load rate is within RHO_MAX of full
            # clock's, a memory-bound pool's, serves what full clock would, and the work it holds is the lowest
            # ceiling's, compute where the budget could buy it; until 2026-12-05 power); run there at exactly its
            # full-load rate (critically loaded), its replicas hold work past the tick
            below = (pmode[:, p] == 1) & (op["clock"] < m.clocks[-1] * (1 - 1e-9))
            full, full_top = clock_cost_tok_s([m.groups[g] for g in pool.groups], m.clocks, op["clock"])
            full, full_top = A[:, p] * full, A[:, p] * full_top
            bind[:, p] = binding_simulated(cols["held"][:, p], cols["shed"][:, p], cols["arrived"][:, p],
                                           comp[:, p], pw[:, p], cq[:, p], supply_only=supply_only,
                                           capped=below & clock_holds_rate(full, full_top),
                                           critical=critically_loaded(below, cols["served"][:, p], full))
            cap = mean_cap_w([m.groups[g] for g in pool.groups], m.clocks, op["clock"])
            eff = np.minimum(op["clock"], op.get("effective_clock", op["clock"]))
            it += op["it_power_w"]
            gpu += op["gpu_power_w"]
            clk_w += eff * pool.replicas
            ctl_w += op["clock"] * pool.replicas
            u_w += op["load_fraction"] * pool.replicas
            cap_w += cap * pool.gpus
            pc.update({f"pool{p}_demand_tok_s": self.d[:n, p],
                       f"pool{p}_achieved_tok_s": cols["served"][:, p], f"pool{p}_compute_tok_s": comp[:, p],
                       f"pool{p}_power_tok_s": pw[:, p], f"pool{p}_cooling_tok_s": cq[:, p],
                       f"pool{p}_binding": bind[:, p], f"pool{p}_held_tokens": cols["held"][:, p],
                       f"pool{p}_shed_tokens": cols["shed"][:, p], f"pool{p}_arrived_tokens": cols["arrived"][:, p],
                       f"pool{p}_queue_tokens": cols["backlog"][:, p], f"pool{p}_waiting_tok_s": cols["need"][:, p],
                       f"pool{p}_it_power_w": op["it_power_w"], f"pool{p}_gpu_power_w": op["gpu_power_w"],
                       f"pool{p}_mean_clock": eff, f"pool{p}_controller_clock": op["clock"], f"pool{p}_mean_cap_w": cap,
                       f"pool{p}_mode": pmode[:, p], f"pool{p}_limit_tok_s": cols["limit"][:, p],
                       f"pool{p}_frontier_share": op["frontier_share"],
                       f"pool{p}_power_part_tok_s": pw_part[:, p]})
        if extra is not None:  # request fidelity measured each pool's IT and GPU power
            for p in range(self.n):
                pc[f"pool{p}_it_power_w"] = extra["pool_it_power_w"][:, p]
                pc[f"pool{p}_gpu_power_w"] = extra["pool_gpu_power_w"][:, p]
            it, gpu = extra["it_power_w"], extra["gpu_power_w"]
        # the facility's binding: that of the pool furthest short for its own work this tick (held + shed over its
        # queue + arrivals; a critically loaded pool, which holds work its record does not count, before a pool that
        # holds none): dcsim.tpf.facility_binding, the closed form's rule too (steady.ceilings_at)
        out["binding"] = facility_binding(bind, cols["held"] + cols["shed"], need * self.dt)
        out.update({"it_power_w": it, "gpu_power_w": gpu, "clock": ctl_w / reps, "effective_clock": clk_w / reps,
                    "load_fraction": u_w / reps,
                    "mean_cap_w": cap_w / gpus, "pools": pc})
        return out
