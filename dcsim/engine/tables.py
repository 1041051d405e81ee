"""Performance tables and facility supply curves, precomputed once per run.

A :class:`NodeTable` holds one replica's steady-state throughput and power on a
grid of DVFS clock levels × batch sizes (from the node model's
``steady_state``); column 0 is the idle state (no requests). A
:class:`SupplyCurves` holds, for each clock level, the facility's total output
token rate and IT power as a common load fraction ``u`` of every replica goes
from 0 (idle) to 1 (every replica at its largest batch), with rack power and
rack cooling limits applied. Inverting those monotone curves gives the power and
cooling ceilings of the Token Production Function on every tick.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dcsim.node.perf import decode_context

__all__ = ["NodeTable", "node_table", "SupplyCurves", "supply_curves", "GroupLimits", "JointFrontier", "efficiency_ladder",
           "replica_curves", "ladder_replicas", "in_service_it_w", "whole_pool_it_w"]


def in_service_it_w(it_w, share, overhead_w):
    """IT power (W) of a pool with a fraction ``share`` of its replicas in service (or serving), each at the point at
    which the whole pool draws ``it_w`` (W): ``share·(it_w − overhead) + overhead``, the rack overhead ``overhead_w``
    (W) staying whatever the share (a failed or parked replica's rack stays powered). The one home of the scaling: the
    frontier's budget at a rate limit, the joint split, the operating point and its callers read it here. Arrays or
    floats."""
    return share * (it_w - overhead_w) + overhead_w


def whole_pool_it_w(it_w, share, overhead_w):
    """The inverse of :func:`in_service_it_w`: the whole pool's IT power (W) at the point at which a fraction
    ``share`` (> 0) of its replicas draws ``it_w`` (W), rack overhead ``overhead_w`` included: a budget per share."""
    return (it_w - overhead_w) / share + overhead_w


def _monotone(x: np.ndarray) -> np.ndarray:
    """Make rows strictly increasing for np.interp (ties nudged by a relative 1e-12)."""
    x = np.maximum.accumulate(x, axis=-1)
    eps = 1e-12 * np.maximum(np.abs(x[..., -1:]), 1e-300)
    return x + eps * np.arange(x.shape[-1])


@dataclass(frozen=True)
class NodeTable:
    """One replica: ``thr``, ``wall``, ``gpu`` have shape (clock levels, batch points).

    Units: tokens/s (output), W at the server wall (replica share), W summed over the
    replica's GPUs. Row k is clock level ``clocks[k]`` (fraction of max clock).
    """

    clocks: np.ndarray
    batch: np.ndarray
    thr: np.ndarray
    wall: np.ndarray
    gpu: np.ndarray
    #: (largest relative lift, its batch, its clock): how far holding the power non-decreasing in batch raised the
    #: node model's GPU power where it falls past its peak (0 where it never falls); the run warns above
    #: build.TABLE_LIFT_WARN
    gpu_lift: tuple = (0.0, 0.0, 1.0)

    @property
    def thr_max(self) -> np.ndarray:
        """Largest throughput at each clock level, tokens/s."""
        return self.thr[:, -1]

    def power_at_rate(self, k: int, rate: float | np.ndarray):
        """(wall W, GPU W) of a replica serving ``rate`` tokens/s at clock level ``k``."""
        return (np.interp(rate, self.thr[k], self.wall[k]), np.interp(rate, self.thr[k], self.gpu[k]))

    def rate_at_wall(self, k: int, wall_w):
        """Largest rate (tokens/s) whose wall power is ≤ ``wall_w`` at clock level ``k``."""
        return np.interp(wall_w, self.wall[k], self.thr[k], left=0.0)


def table_batch_max(node, mean_in: float, mean_out: float, ctx: float) -> float:
    """The largest batch a replica's table reaches: :meth:`dcsim.node.model.NodeModel.batch_limit`, the limits the
    request engine obeys: ``max_batch``, the sequences the KV cache holds at ``ctx`` (here whole sequences) and the
    per-iteration token budget ``max_batched_tokens`` (fractional; below 1 where one sequence's share of an iteration
    exceeds it). Before the budget was counted here, a fluid run with ``max_batched_tokens: 256`` served at
    ``max_batch`` (Llama-3.1-70B chat on 80 replicas: 213 k tokens/s, request fidelity 151 k)."""
    lim = node._batch_limits(mean_in, mean_out, ctx)
    whole = max(1.0, min(float(node.max_batch), float(node.kv_capacity_tokens // max(ctx, 1.0))))
    return float(min(whole, float(lim["token_budget"])))


def node_table(node, mean_in: float, mean_out: float, clocks: np.ndarray, batch_points: int = 48,
               power_cap_w: float | None = None, decode_ctx: float | None = None, prompt_scv: float = 0.0) -> NodeTable:
    """Tabulate ``node.steady_state`` over clock levels and batch sizes.

    ``decode_ctx``: tokens of context a running sequence holds, the residence-weighted context of
    the workload (:meth:`dcsim.workload.Workload.decode_context`: the batch holds long outputs
    longer), default ``mean_in + mean_out/2``. It sets the KV traffic of every step and, with the node's limits, the
    largest batch (:func:`table_batch_max`). ``prompt_scv``: the spread of the workload's
    prompt lengths (:meth:`dcsim.workload.Workload.prompt_scv`), which sets the random prefill of the steady
    mix (:func:`dcsim.node.perf.steady_mix`). ``power_cap_w`` (per GPU) lowers
    the clock wherever the GPU would exceed it (``node.clock_for_cap``).
    """
    ctx = float(decode_context(mean_in, mean_out, decode_ctx))
    b_max = table_batch_max(node, mean_in, mean_out, ctx)
    batch = np.unique(np.round(np.geomspace(min(1.0, b_max), b_max, batch_points)))
    batch = np.append(batch[(batch < b_max) & (batch > 0)], b_max)  # ends at the limit itself (a fractional budget)
    clocks = np.asarray(clocks, dtype=float)
    f = np.broadcast_to(clocks[:, None], (clocks.size, batch.size)).copy()
    if power_cap_w is not None:
        f_cap = np.array([node.clock_for_cap(power_cap_w, b, mean_in, mean_out, ctx, prompt_scv) for b in batch],
                         dtype=float)
        f = np.minimum(f, f_cap[None, :])
    ss = node.steady_state(batch[None, :], mean_in, mean_out, f, ctx, prompt_scv)
    thr = np.broadcast_to(np.asarray(ss.throughput_tok_s, dtype=float), f.shape)
    wall = np.broadcast_to(np.asarray(ss.wall_power_w, dtype=float), f.shape)
    gpu = np.broadcast_to(np.asarray(ss.gpu_power_w, dtype=float), f.shape)
    z = np.zeros((clocks.size, 1))
    thr = _monotone(np.hstack([z, thr]))
    wall = np.maximum.accumulate(np.hstack([z + node.idle_wall_power_w, wall]), axis=1)
    raw = np.hstack([z + node.idle_gpu_power_w, gpu])
    gpu = np.maximum.accumulate(raw, axis=1)
    lift = gpu / np.maximum(raw, 1e-300) - 1.0
    k, j = np.unravel_index(int(np.argmax(lift)), lift.shape)
    bb = np.concatenate([[0.0], batch])
    return NodeTable(clocks, bb, thr, wall, gpu, gpu_lift=(float(lift[k, j]), float(bb[j]), float(clocks[k])))


@dataclass(frozen=True)
class GroupLimits:
    """Static per-group facts the curves need: replica count and per-rack limits (W)."""

    replicas: int
    replicas_per_rack: int
    racks: int
    rack_overhead_w: float
    rack_power_limit_w: float
    rack_cooling_limit_w: float


@dataclass(frozen=True)
class SupplyCurves:
    """Facility rate and IT power vs common load fraction, per clock level.

    Arrays have shape (K clock levels, U load points). ``rate_*`` tokens/s,
    ``it_*`` and ``gpu_*`` W. Suffix ``c``: no rack limits (compute);
    ``p``: rack power limits; ``q``: rack cooling limits; ``pq``: both.
    """

    u: np.ndarray
    rate_c: np.ndarray
    it_c: np.ndarray
    gpu_c: np.ndarray
    rate_p: np.ndarray
    it_p: np.ndarray
    rate_q: np.ndarray
    it_q: np.ndarray
    rate_pq: np.ndarray
    it_pq: np.ndarray
    gpu_pq: np.ndarray

    @property
    def compute_tok_s(self) -> float:
        """Compute ceiling with every replica in service at full clock, tokens/s."""
        return float(self.rate_c[-1, -1])

    def frontier(self, which: str = "pq") -> "Frontier":
        """The efficient frontier: most tokens/s for each IT power, mixing clock levels and loads.

        Replicas may run at different clock levels and loads within a tick (one at a lower
        cap, another idle), so any convex combination of operating points is achievable: the
        frontier is the upper concave hull of all (IT power, rate) points of all clock levels.
        ``which`` selects the rack limits applied: 'p' (rack power), 'q' (rack cooling), 'pq'.
        """
        cache = self.__dict__.setdefault("_frontiers", {})
        if which not in cache:
            rate, it = getattr(self, f"rate_{which}"), getattr(self, f"it_{which}")
            gpu = self.gpu_pq if which == "pq" else np.zeros_like(rate)
            K = rate.shape[0]
            clk = np.broadcast_to(np.arange(K, dtype=float)[:, None], rate.shape)
            cache[which] = _upper_hull(it.ravel(), rate.ravel(), gpu.ravel(), clk.ravel())
        return cache[which]

    def ceiling(self, it_budget_w, which: str, beyond_compute: bool = False) -> np.ndarray:
        """Largest rate (tokens/s) whose IT power fits ``it_budget_w`` (vectorized), on the frontier.

        The frontier ends where every replica runs flat out (the compute ceiling). With
        ``beyond_compute`` a budget larger than that is converted at the facility's full-load
        energy per token (more of the same racks, flat out): the *true* power or cooling ceiling
        — what the budget could feed if compute were unlimited — so headroom over C is visible.
        Without it the rate stops at C (what the facility can actually serve). Where the rack limits
        of ``which`` stop the frontier below C (:meth:`rack_limited`), the ceiling ends at the frontier's
        top either way: more budget at the facility feeds those racks nothing, so P (rack power limits)
        or Q (rack cooling limits) sits under C and the binding names it.
        """
        f = self.frontier(which)
        b = np.asarray(it_budget_w, dtype=float)
        r = np.interp(b, f.it, f.rate, left=0.0)
        if beyond_compute and not self.rack_limited(which):
            r = np.where(b > f.it[-1], b * (f.rate[-1] / f.it[-1]), r)
        return r

    def rack_limited(self, which: str) -> bool:
        """True when the rack limits of ``which`` ('p' power, 'q' cooling, 'pq' both) stop the frontier below
        the compute ceiling: no budget at the facility feeds those racks more, so the true ceiling ends at the
        frontier's top (:meth:`ceiling`), under C, and the binding names it."""
        return bool(self.frontier(which).rate[-1] < self.compute_tok_s * (1.0 - 1e-9))

    def standby_frontier(self, standby_fraction: float, overhead_w: float, which: str = "pq") -> "Frontier":
        """The efficient frontier when replicas not needed are put in standby (``idle_power_down``).

        The frontier mixes operating points, the all-idle one included. In standby a replica
        draws ``standby_fraction`` of its idle wall power (rack overhead ``overhead_w`` unchanged),
        so the all-idle point moves to ``overhead + standby_fraction x (idle IT - overhead)``; the
        new frontier is the upper hull of that standby point and the old frontier's vertices.
        """
        f = self.frontier(which)
        x0 = overhead_w + (float(f.it[0]) - overhead_w) * standby_fraction
        slope = np.where(f.it > x0, f.rate / np.maximum(f.it - x0, 1e-300), -np.inf)
        j = int(np.argmax(slope))
        return Frontier(np.concatenate([[x0], f.it[j:]]), np.concatenate([[0.0], f.rate[j:]]),
                        np.concatenate([[0.0], f.gpu[j:]]), np.concatenate([[f.level[j]], f.level[j:]]))

    def fit_top(self, it_budget_w) -> np.ndarray:
        """Largest rate that fits the budget with every replica at full clock and equal load."""
        return np.interp(np.asarray(it_budget_w, dtype=float), self.it_pq[-1], self.rate_pq[-1], left=0.0)


@dataclass(frozen=True)
class Frontier:
    """Vertices of the efficient frontier, increasing in IT power (W) and rate (tokens/s).

    ``gpu`` is the GPU power (W) and ``level`` the clock-level index at each vertex;
    between vertices all four interpolate linearly (a mix of two operating points).
    """

    it: np.ndarray
    rate: np.ndarray
    gpu: np.ndarray
    level: np.ndarray

    def it_w(self, rate_tok_s, overhead_w: float, scale=1.0) -> np.ndarray:
        """IT power (W) of the replicas in service (fraction ``scale``) serving ``rate_tok_s`` on this frontier, with
        ``overhead_w`` of rack overhead that stays whatever the share in service: a fraction ``a`` maps the frontier's
        (IT, rate) points to ``(a·(IT − overhead) + overhead, a·rate)``. The one home of that formula: the joint
        split (:meth:`JointFrontier.it_w`) and a capped tick's IT budget at its rate limit (the engine's operating
        point, a hybrid lane's fluid remainder) read it here."""
        a = np.maximum(np.asarray(scale, dtype=float), 1e-12)
        return in_service_it_w(np.interp(np.asarray(rate_tok_s, dtype=float) / a, self.rate, self.it), a, overhead_w)


def _upper_hull(x, y, g, k) -> Frontier:
    """Upper concave hull of points (x, y), from the idle point to the maximum y."""
    order = np.lexsort((-y, x))
    x, y, g, k = x[order], y[order], g[order], k[order]
    hull: list[int] = []
    for i in range(x.size):
        while len(hull) >= 2:
            i1, i2 = hull[-2], hull[-1]
            cross = (x[i2] - x[i1]) * (y[i] - y[i1]) - (y[i2] - y[i1]) * (x[i] - x[i1])
            if cross >= 0:  # i2 lies on or below the chord from i1 to i: drop it
                hull.pop()
            else:
                break
        if hull and x[i] == x[hull[-1]]:
            continue
        hull.append(i)
    h = np.array(hull)
    top = int(np.argmax(y[h]))
    h = h[: top + 1]
    return Frontier(_monotone(x[h][None, :])[0], y[h], g[h], k[h])


def supply_curves(tables: list[NodeTable], limits: list[GroupLimits], points: int = 257) -> SupplyCurves:
    """Build the facility supply curves from each group's node table and limits."""
    u = np.linspace(0.0, 1.0, points)
    K = tables[0].clocks.size

    def build(use_p: bool, use_q: bool):
        rate = np.zeros((K, points))
        it = np.zeros((K, points))
        gpu = np.zeros((K, points))
        for g, (tab, lim) in enumerate(zip(tables, limits)):
            per_rack_budget = np.inf
            if use_p:
                per_rack_budget = min(per_rack_budget, lim.rack_power_limit_w)
            if use_q:
                per_rack_budget = min(per_rack_budget, lim.rack_cooling_limit_w)
            w_rep_max = (per_rack_budget - lim.rack_overhead_w) / lim.replicas_per_rack
            for k in range(K):
                r = u * tab.thr_max[k]
                if np.isfinite(w_rep_max):
                    r = np.minimum(r, tab.rate_at_wall(k, w_rep_max))
                w, gp = tab.power_at_rate(k, r)
                rate[k] += lim.replicas * r
                it[k] += lim.replicas * w + lim.racks * lim.rack_overhead_w
                gpu[k] += lim.replicas * gp
        return rate, _monotone(it), gpu

    rate_c, it_c, gpu_c = build(False, False)
    rate_p, it_p, _ = build(True, False)
    rate_q, it_q, _ = build(False, True)
    rate_pq, it_pq, gpu_pq = build(True, True)
    return SupplyCurves(u, rate_c, it_c, gpu_c, rate_p, it_p, rate_q, it_q, rate_pq, it_pq, gpu_pq)


def replica_curves(tables: list[NodeTable], limits: list[GroupLimits]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(u, rate, it)``: one replica of each rack group on its own group's supply curves (:func:`supply_curves`,
    ``'pq'``, rack limits applied): its rate (tokens/s) and IT power (W, its racks' overhead not included) at each
    clock level and load fraction ``u``, arrays (groups, clock levels, load points). Built once for the efficiency
    ladder, the ladder's replica count and a request lane's consolidation (``requests._Lane``)."""
    cs = [supply_curves([tab], [lim]) for tab, lim in zip(tables, limits)]
    rate = np.stack([c.rate_pq / lim.replicas for c, lim in zip(cs, limits)])
    it = np.stack([(c.it_pq - lim.racks * lim.rack_overhead_w) / lim.replicas for c, lim in zip(cs, limits)])
    return cs[0].u, rate, it


def efficiency_ladder(tables: list[NodeTable], limits: list[GroupLimits], curves=None) -> np.ndarray:
    """The rack groups of a pool, the most efficient first (indices into ``tables``): the order in which load goes to
    them when it is consolidated and in which they stay awake when idle replicas are powered down (least efficient
    parked first). Efficiency is a replica's marginal tokens per joule at full load at the lowest clock — its rate
    over its full-load wall draw less its idle draw, rack limits applied (the replicas left out idle anyway, or in
    standby) — as the frontier buys tokens with power at its steepest segments first; ties keep the order of
    ``racks:``. The one home of the ladder: the request lanes' consolidation (``requests._Lane``) and the power-down
    schedule (:func:`dcsim.engine.controller.power_down_for`) read it here. ``curves``: :func:`replica_curves` of
    the groups, when the caller has them."""
    _, rate, w = replica_curves(tables, limits) if curves is None else curves
    eff = np.max(rate[:, 0, :], axis=1) / np.maximum(w[:, 0, -1] - w[:, 0, 0], 1e-9)
    return np.lexsort((np.arange(eff.size), -eff))


def ladder_group_counts(ladder_group: np.ndarray, groups: int) -> np.ndarray:
    """Cumulative replicas of each rack group along a ladder whose ``i``-th replica is of group ``ladder_group[i]``:
    row ``k`` holds each group's replicas among the ladder's first ``k``, shape ``(len(ladder_group) + 1, groups)``.
    The one table of the power-down schedule (:meth:`dcsim.engine.controller.PowerDown.group_replicas`) and of a
    request lane's walk (``requests._Lane._set_ladder``)."""
    gl = np.asarray(ladder_group, dtype=np.int64)
    one_hot = np.zeros((gl.size + 1, int(groups)))
    one_hot[np.arange(1, gl.size + 1), gl] = 1.0
    return np.cumsum(one_hot, axis=0)


def ladder_replicas(rate_tok_s, tables: list[NodeTable], limits: list[GroupLimits]) -> np.ndarray:
    """Replicas (fractional) of a pool that serve ``rate_tok_s`` at full load at the lowest clock, loaded along the
    :func:`efficiency_ladder` (the most efficient rack group's replicas first, each at its own full-load rate, rack
    limits applied): the count whole replicas must realise there, as request fidelity consolidates. Fluid's
    fractional-replica warning reads it (``assemble.fractional_frontier_warning``); a request lane counts along the
    same ladder itself (``requests._Lane._frontier_x``: its replicas in service, each at its own group's full-load rate
    from :func:`replica_curves`, in :func:`efficiency_ladder` order), not through this function. Until 2026-12-04 fluid
    counted the pool's mean replica, so a pool of H100 and B200 racks read 0.29 replicas in fluid and 0.21 in request
    fidelity at the same point."""
    curves = replica_curves(tables, limits)
    per = np.max(curves[1][:, 0, :], axis=1)
    order = efficiency_ladder(tables, limits, curves)
    cum = np.concatenate([[0.0], np.cumsum(np.repeat(per[order], [limits[g].replicas for g in order]))])
    return np.interp(np.asarray(rate_tok_s, dtype=float), cum, np.arange(cum.size, dtype=float))


class JointFrontier:
    """Several model pools sharing one IT-power budget (one interconnect, one cooling plant).

    Each pool's efficient frontier (:meth:`SupplyCurves.frontier`) is concave: its segments buy
    tokens/s at falling slopes (tokens/s per W). The joint frontier of the pools is their
    segments in one list, steepest first, above the base of every pool idle — the budget goes
    where it buys the most tokens/s. :meth:`split` fills that list in order while each pool's
    rate stays within its own waiting work (a pool never takes budget its queue cannot use), so
    the allocation maximises the facility's served tokens/s for the budget and the demands.

    ``scale`` (per pool, optional): the fraction of the pool's replicas in service. A fraction
    ``a`` of a pool's replicas maps its (IT, rate) points to ``(a·(IT − overhead) + overhead,
    a·rate)`` (rack overhead stays): its segments keep their slopes and shrink by ``a``.
    """

    def __init__(self, frontiers: list[Frontier], overheads_w: list[float], rack_limited: list[bool] | None = None):
        self.frontiers = list(frontiers)
        self.n = len(self.frontiers)
        # pools whose frontier top is a rack limit, under their compute ceiling (SupplyCurves.rack_limited): no
        # budget feeds them beyond it, so the ceilings do not extrapolate them
        self.rack_limited = [bool(x) for x in (rack_limited or [False] * self.n)]
        self.it0_w = [float(f.it[0]) for f in self.frontiers]
        self.ovh_w = [float(o) for o in overheads_w]
        pool, dit, slope = [], [], []
        for p, f in enumerate(self.frontiers):
            d_it, d_r = np.diff(f.it), np.diff(f.rate)
            pool += [p] * d_it.size
            dit += d_it.tolist()
            slope += (d_r / d_it).tolist()
        order = sorted(range(len(pool)), key=lambda i: (-slope[i], pool[i], i))  # stable: each pool in order
        self.seg_pool = [pool[i] for i in order]
        self.seg_it_w = [dit[i] for i in order]
        self.seg_slope = [slope[i] for i in order]
        self.rate_max = np.array([f.rate[-1] for f in self.frontiers])
        self.it_max_w = np.array([f.it[-1] for f in self.frontiers])

    def _scale(self, scale, ticks: int) -> np.ndarray:
        if scale is None:
            return np.ones((ticks, self.n))
        return np.broadcast_to(np.asarray(scale, dtype=float).reshape(-1, self.n), (ticks, self.n))

    def base_it_w(self, scale=None):
        """IT power (W) of every pool idle (per tick with ``scale`` (ticks, pools))."""
        if scale is None:
            return float(sum(self.it0_w))
        return sum(in_service_it_w(self.it0_w[p], scale[:, p], self.ovh_w[p]) for p in range(self.n))

    def split(self, need_tok_s, budget_w, scale=None) -> np.ndarray:
        """Rates (tokens/s, shape (ticks, pools)) that the IT budget (W, shape (ticks,)) buys on
        the joint frontier, each pool at most its ``need_tok_s`` (ticks, pools); vectorized."""
        need = np.atleast_2d(np.asarray(need_tok_s, dtype=float))
        sc = self._scale(scale, need.shape[0])
        rem = np.maximum(np.asarray(budget_w, dtype=float).reshape(-1) - self.base_it_w(sc), 0.0)
        alloc = np.zeros(need.shape)
        for p, dit, sl in zip(self.seg_pool, self.seg_it_w, self.seg_slope):
            want = np.maximum(need[:, p] - alloc[:, p], 0.0) / sl
            take = np.minimum(np.minimum(want, rem), dit * sc[:, p])
            alloc[:, p] += take * sl
            rem = rem - take
        return alloc

    def split_one(self, need_tok_s: list[float], budget_w: float, scale: list[float] | None = None) -> list[float]:
        """:meth:`split` for one tick, on plain floats (the per-tick controller loop)."""
        sc = scale if scale is not None else [1.0] * self.n
        rem = budget_w - sum(in_service_it_w(self.it0_w[p], sc[p], self.ovh_w[p]) for p in range(self.n))
        alloc = [0.0] * self.n
        if rem <= 0.0:
            return alloc
        left = [x if x > 0.0 else 0.0 for x in need_tok_s]
        for p, dit, sl in zip(self.seg_pool, self.seg_it_w, self.seg_slope):
            lp = left[p]
            if lp <= 0.0:
                continue
            take = lp / sl
            if take > rem:
                take = rem
            w = dit * sc[p]
            if take > w:
                take = w
            r = take * sl
            alloc[p] += r
            left[p] = lp - r
            rem -= take
            if rem <= 0.0:
                break
        return alloc

    def it_w(self, p: int, rate_tok_s, scale=1.0) -> np.ndarray:
        """IT power (W) of pool ``p`` serving ``rate_tok_s`` on its own frontier (``scale``: its
        fraction of replicas in service)."""
        return self.frontiers[p].it_w(rate_tok_s, self.ovh_w[p], scale)

    def pool_ceilings(self, need_tok_s, budget_w, scale=None) -> np.ndarray:
        """Each pool's ceiling (tokens/s, (ticks, pools)) under the shared budget: what the budget
        buys for pool ``p`` when every other pool takes its waiting work first by the joint
        order and ``p`` asks for all it can; a budget beyond ``p``'s flat-out IT power converts
        at its full-load tokens per W (more of the same racks), as :meth:`SupplyCurves.ceiling`
        does with ``beyond_compute`` for one pool, so headroom stays visible."""
        need = np.atleast_2d(np.asarray(need_tok_s, dtype=float))
        b = np.asarray(budget_w, dtype=float).reshape(-1)
        sc = self._scale(scale, need.shape[0])
        out = np.empty(need.shape)
        for p in range(self.n):
            nd = need.copy()
            nd[:, p] = np.inf
            alloc = self.split(nd, b, sc)
            others = sum(self.it_w(q, alloc[:, q], sc[:, q]) for q in range(self.n) if q != p)
            own_b = b - others  # the budget left to pool p
            a = sc[:, p]
            top_it = in_service_it_w(self.it_max_w[p], a, self.ovh_w[p])
            full = own_b >= top_it * (1 - 1e-12)
            beyond = a * self.rate_max[p] if self.rack_limited[p] else \
                np.maximum(own_b, top_it) * (a * self.rate_max[p] / top_it)
            out[:, p] = np.where(full, beyond, alloc[:, p])
        return out

    def facility_parts(self, need_tok_s, budget_w, scale=None) -> np.ndarray:
        """Each pool's part (tokens/s, (ticks, pools)) of :meth:`facility_ceiling`, which is their sum: the rate the
        budget buys for pool ``p``'s waiting work on the joint frontier (:meth:`split`), plus the budget left over
        converted at the fleet's full-load tokens per W, shared by the pools more budget could feed in proportion to
        their full-load rate (pool ``p``'s share of the spare: ``rate_max[p] / Σ it_max_w[free]``; a rack-limited
        pool takes none). Unlike :meth:`pool_ceilings`, which counts the whole spare as each pool's own, the parts
        do not overlap, so a per-pool quantity weighted by them (the figure's error band) adds up to the line."""
        need = np.atleast_2d(np.asarray(need_tok_s, dtype=float))
        b = np.asarray(budget_w, dtype=float).reshape(-1)
        sc = self._scale(scale, need.shape[0])
        alloc = self.split(need, b, sc)
        used = sum(self.it_w(q, alloc[:, q], sc[:, q]) for q in range(self.n))
        free = [q for q in range(self.n) if not self.rack_limited[q]]  # pools more budget could feed
        spare = np.maximum(b - used, 0.0)
        if free:
            per_w = np.where([q in free for q in range(self.n)], self.rate_max, 0.0) / self.it_max_w[free].sum()
            return alloc + spare[:, None] * per_w[None, :]
        return alloc

    def facility_ceiling(self, need_tok_s, budget_w, scale=None) -> np.ndarray:
        """The facility's ceiling (tokens/s, (ticks,)) for the pools' waiting work: the rate the
        budget buys for each pool's work on the joint frontier, plus any budget left over
        converted at the fleet's full-load tokens per W (headroom, as for one pool): the sum of
        :meth:`facility_parts` (one rule for the line and its parts)."""
        return self.facility_parts(need_tok_s, budget_w, scale).sum(axis=1)
