"""The controller: the one feedback arrow of dcsim (power/cooling headroom → caps → hold → shed).

On each controller tick it compares the work waiting (queue + arrivals, tokens/s) with what fits
in the power and cooling budgets of that tick (the exogenous ``fit_*`` rates of
:func:`dcsim.engine.loop.exogenous`) and picks an operating mode:

* the work fits at full clock with load spread evenly → ``uncapped``;
* it does not → policy ``frontier`` lowers node power caps and consolidates load so the
  facility runs on its efficient frontier (it reaches the P/Q ceilings); policy ``uniform``
  gives every node the same clock level (as POLCA-style capping does) and reaches somewhat
  less; policy ``none`` never caps (limits may be exceeded, counted in the report);
* work that still does not fit waits (admission held); work waiting longer than
  ``hold_limit`` is shed and counted — never silently lost (:func:`queue_step`).

Every change of mode and every start of shedding is logged with its time and reason.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from dcsim.engine.tables import SupplyCurves, efficiency_ladder, ladder_group_counts, supply_curves
from dcsim.tpf import MODE_NAMES, MODE_SHED

__all__ = ["LOG_LIMIT", "SHED_RESIDUE_TOK", "Controller", "queue_step", "ArrivalWindow", "PowerDown", "power_down_for",
           "awake_curves", "awake_groups", "per_awake_count"]

#: Controller log entries kept (later ones are counted in ``log_dropped``).
LOG_LIMIT = 5000
#: Tokens past the hold limit below which :func:`queue_step` sheds nothing (they wait a tick more): half a token, the
#: float residue of the queue's arithmetic, not a request shed (chiller-trip logged a shedding episode 10 s early from
#: a tick that shed 5.96e-08 tokens, audit 2026-12-05). Sheds are whole-token events in the timeseries and the log.
SHED_RESIDUE_TOK = 0.5


def queue_step(backlog_tok: float, inflow_tok_s: float, limit_tok_s: float, dt_s: float,
               young_tok: float) -> tuple[float, float, float]:
    """One tick of a fluid FIFO token queue: serve, keep waiting, shed what has waited past the hold limit.

    ``inflow_tok_s`` tokens/s arrive during the tick. The work waiting is
    ``backlog_tok / dt + inflow_tok_s`` (tokens/s); the tick serves the smaller of that and
    ``limit_tok_s`` from the head of the queue; what remains waits, except the tokens that arrived more
    than ``hold_limit`` ago: first in, first out, the backlog is the latest arrivals, so it keeps at most
    ``young_tok``, the tokens that arrived within the last ``hold_limit`` (:class:`ArrivalWindow`), and
    the older ones are shed from its head — as request fidelity sheds a request that has waited
    ``hold_limit`` at the door. Under a lasting overload the work served has waited about the hold
    limit. An excess under :data:`SHED_RESIDUE_TOK` (float residue) is not shed: it stays in the backlog.
    Returns ``(served_tok_s, backlog_tok, shed_tok)``; tokens are conserved:
    ``backlog_in + inflow·dt = served·dt + backlog_out + shed``.
    """
    need = backlog_tok / dt_s + inflow_tok_s
    s = need if need < limit_tok_s else limit_tok_s
    b = backlog_tok + inflow_tok_s * dt_s - s * dt_s
    sh = b - young_tok if b - young_tok >= SHED_RESIDUE_TOK else 0.0
    return s, b - sh, sh


class ArrivalWindow:
    """Tokens that arrived within the last ``hold_s`` (the cap of :func:`queue_step`'s backlog).

    Arrivals are even within a tick: the window holds the last ``floor(hold/dt)`` ticks whole (this one
    included) and the fraction left of the tick before them. Plain floats and a running sum, O(1) per tick.
    """

    def __init__(self, hold_s: float, dt_s: float):
        r = float(hold_s) / float(dt_s)
        self.full = int(math.floor(r + 1e-9))
        self.frac = max(r - self.full, 0.0)
        self._ring = [0.0] * (self.full + 1)  # the last full+1 ticks' arrivals, newest at self._i
        self._i = 0
        self._sum = 0.0  # of the last `full` ticks
        self._n = 0

    def push(self, arrived_tok: float) -> float:
        """Record this tick's arrivals (tokens); return the tokens that arrived within the hold limit."""
        ring, k = self._ring, self.full + 1
        self._i = (self._i + 1) % k
        leaving = ring[(self._i + k - self.full) % k] if self.full else 0.0  # leaves the whole-tick window
        ring[self._i] = arrived_tok
        if self.full:
            self._sum += arrived_tok - leaving
            self._n += 1
            if self._n % 4096 == 0:  # re-add now and then: no drift of the running sum
                self._sum = sum(ring[(self._i - q) % k] for q in range(self.full))
            older = ring[(self._i + k - self.full) % k]  # the tick before the whole ones
            return max(self._sum, 0.0) + self.frac * older
        return self.frac * arrived_tok


@dataclass
class Controller:
    """Picks the operating mode of each tick and keeps the action log (see module docstring).

    ``policy``: 'frontier', 'uniform' or 'none'; ``hold_s``: the hold limit (s);
    ``compute_tok_s``: the compute ceiling with every replica in service (tokens/s), the limit
    of policy 'none'; ``top_level``: index of the full clock level.
    """

    policy: str
    hold_s: float
    compute_tok_s: float
    top_level: int
    mode: int = 0
    log: list = field(default_factory=list)
    log_dropped: int = 0
    _episode: list | None = None  # the shedding episode under way: [start s, tokens shed so far]

    def decide(self, need_tok_s: float, fit_top: float, fit_frontier: float, fit_levels: np.ndarray | None,
               availability: float) -> tuple[int, float, int]:
        """``(mode, limit_tok_s, clock_level)`` for a tick whose waiting work is ``need_tok_s``.

        ``fit_top``/``fit_frontier``: largest rate within both budgets at full clock and even
        load / on the efficient frontier; ``fit_levels[k]``: at uniform clock level k (tokens/s;
        needed by policy 'uniform' only).
        """
        k = self.top_level
        if self.policy == "none":
            return 0, self.compute_tok_s * availability, k
        if need_tok_s <= fit_top or self._at_ceiling(fit_top, availability):
            # the waiting work fits, or the budgets hold the whole compute ceiling at full clock:
            # compute-bound, nothing to cap (capping could only lower the rate)
            return 0, fit_top, k
        if self.policy == "frontier":
            return 1, fit_frontier, k
        # uniform: the highest clock level that serves the most
        best = min(float(fit_levels.max()), need_tok_s)
        k = int(np.nonzero(fit_levels >= best * (1 - 1e-12))[0][-1])
        return 2, float(fit_levels[k]), k

    def _at_ceiling(self, rate_tok_s: float, availability: float) -> bool:
        """True when ``rate_tok_s`` reaches the compute ceiling of the replicas in service (rounding allowed)."""
        return rate_tok_s >= self.compute_tok_s * availability * (1.0 - 1e-9)

    def compute_only(self, mode: int, limit_tok_s: float, availability: float) -> bool:
        """True when only compute limits a tick :meth:`decide` returned ``(mode, limit_tok_s, ...)`` for: uncapped
        at the compute ceiling (policy 'none', or the budgets hold the whole ceiling, not merely the waiting work)."""
        return mode == 0 and self._at_ceiling(limit_tok_s, availability)

    def note(self, entry: dict) -> None:
        """Append an action to the log (bounded: later entries are only counted)."""
        if len(self.log) < LOG_LIMIT:
            self.log.append(entry)
        else:
            self.log_dropped += 1

    def record(self, t_s: float, mode: int, limit_tok_s: float, demand_tok_s: float, t_out_c: float,
               shed_tok: float, shed_before: bool) -> None:
        """Log a change of mode (cap / uncap) and the start of a shedding episode at ``t_s``. A tick on which IT was
        shed for temperature (``mode`` :data:`~dcsim.tpf.MODE_SHED`) is no cap: the thermal model logs the shed
        ("thermal shed"); the tick after it logs the mode IT comes back in, as a restart ("restart" uncapped, "cap"
        capped; reason "IT back in service after a thermal shed"), not as an uncap whose headroom was restored: the
        shed may have followed an uncapped tick (until 2026-12-05 the shed was recorded as uniform_cap and its start
        from an uncapped tick logged "cap ... caps lowered"; then the restart from it logged "uncap ... headroom
        restored" with no cap before it)."""
        if mode == MODE_SHED:
            self.mode = mode
        elif mode != self.mode:
            if self.mode == MODE_SHED:
                why = "IT back in service after a thermal shed"
                action = "cap" if mode else "restart"
            else:
                why = ("headroom restored" if mode == 0 else
                       "power or cooling budget short: caps lowered" + (", load consolidated" if mode == 1 else ""))
                action = "cap" if mode else "uncap"
            self.note({"t_s": t_s, "action": action, "mode": MODE_NAMES[mode],
                       "reason": why, "demand_tok_s": demand_tok_s, "limit_tok_s": limit_tok_s,
                       "t_out_c": t_out_c})
            self.mode = mode
        if shed_tok > 0 and not shed_before:  # an episode starts: its first tick's tokens, the total at its end
            self._episode = [t_s, 0.0]
            self.note({"t_s": t_s, "action": "shed", "tokens_first_tick": shed_tok,
                       "reason": f"waiting work beyond hold_limit {self.hold_s:g} s (the episode's total is logged "
                                 "at its end)"})
        if shed_tok > 0 and self._episode is not None:
            self._episode[1] += shed_tok
        if shed_tok <= 0 and shed_before and self._episode is not None:
            t0, total = self._episode
            self.note({"t_s": t_s, "action": "shed end", "tokens": total, "duration_s": t_s - t0,
                       "reason": "no work older than hold_limit left"})
            self._episode = None


# --------------------------------------------------------------------------- idle power-down
# (controller.idle_power_down, issue 13.4; docs/slo.md "Powering idle nodes down")

def _window(hist: np.ndarray, x: np.ndarray, w: int, fn) -> np.ndarray:
    """``fn`` (np.max or np.min) over the last ``w + 1`` values ending at each entry of ``x``,
    ``hist`` holding the ``w`` values before ``x``."""
    if w <= 0:
        return x.copy()
    v = np.concatenate([hist, x])
    return fn(np.lib.stride_tricks.sliding_window_view(v, w + 1), axis=-1)


@dataclass
class PowerDown:
    """Which replicas are awake, waking or in standby, tick by tick (a stateful schedule).

    The controller wants awake the replicas that serve the demand it observed in the previous
    tick at ``target_load`` of their throughput (``thr_rep_tok_s`` each at full clock), at least
    one; it keeps a replica powered for ``hold_ticks`` after it was last wanted (the break-even
    rule of ski rental: idle as long as a wake-up takes, then power down) and a woken replica
    serves only after ``delay_ticks`` (the wake-up delay). Replicas out of service (faults) are
    neither. Per tick: ``serving`` replicas take requests, ``powered - serving`` are waking (at
    idle power: assumption), the other in-service replicas are in standby.

    A pool of several rack groups (``ladder_group`` given) keeps its replicas awake in the order of the efficiency
    ladder (:func:`dcsim.engine.tables.efficiency_ladder`: the most efficient group first, the least efficient parked
    first): the wanted count is the ladder's first replicas whose throughput at ``target_load`` holds the demand, and
    the parked power is that of the replicas parked, each at its own group's idle draw. Replicas out of service are
    taken from the end of the ladder. Until 2026-12-04 the count used the pool's mean replica and the parked power its
    mean idle draw; request fidelity parked the last replicas by index (the last groups of ``racks:``) and fluid a
    proportional slice of every group (docs/slo.md "Powering idle nodes down").
    """

    replicas: int
    thr_rep_tok_s: float
    target_load: float
    hold_ticks: int
    delay_ticks: int
    idle_wall_w: float  # idle wall power of one replica (W)
    standby_fraction: float
    idle_gpu_w: float = 0.0  # idle GPU power of one replica (W, summed over its GPUs)
    #: the group (index into the run's groups) of each replica along the ladder, and per replica along it its
    #: throughput at full clock (tokens/s), idle wall and idle GPU power (W); not given (one group): every replica
    #: the mean one above
    ladder_group: np.ndarray | None = None
    ladder_thr_tok_s: np.ndarray | None = None
    ladder_idle_w: np.ndarray | None = None
    ladder_idle_gpu_w: np.ndarray | None = None
    #: whether the ladder ranks several rack groups (power_down_for gives it then): the awake replicas are the
    #: ladder's first, on their own curves; one group: an even share, the pool's curves
    by_group: bool = False
    _need: np.ndarray | None = None  # the last hold_ticks wanted counts
    _keep: np.ndarray | None = None  # the last delay_ticks powered counts
    _last_demand: float | None = None
    _prev: tuple | None = None  # (first tick, state before, demand, in service) of the last chunk

    def __post_init__(self):
        n = self.replicas
        if self.ladder_group is None:  # one group: every replica the mean one
            self.ladder_group = np.zeros(n, dtype=np.int64)
            self.ladder_thr_tok_s = np.full(n, float(self.thr_rep_tok_s))
            self.ladder_idle_w = np.full(n, float(self.idle_wall_w))
            self.ladder_idle_gpu_w = np.full(n, float(self.idle_gpu_w))
        cum = lambda x: np.concatenate([[0.0], np.cumsum(x)])  # noqa: E731
        self._cum_thr = cum(self.ladder_thr_tok_s)
        self._cum_idle = (cum(self.ladder_idle_w), cum(self.ladder_idle_gpu_w))
        # each rack group's replicas among the ladder's first k (row k): group_counts and group_replicas index it
        self._cum_groups = ladder_group_counts(self.ladder_group, int(self.ladder_group.max(initial=-1)) + 1)

    def schedule(self, i0: int, demand_tok_s: np.ndarray, in_service: np.ndarray,
                 affordable: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(serving, powered)`` replica counts for the chunk of ticks starting at tick ``i0``
        with the given demand (tokens/s), replicas in service and, optionally, replicas the power
        and cooling budgets can run (counts: the efficient frontier with standby points runs
        that many and parks the rest). Chunks continue the schedule; a chunk that starts inside
        the previous one (cut short by an event) replays the previous chunk's first ticks from
        the state before it."""
        if affordable is not None:
            in_service = np.stack([np.asarray(in_service, float), np.asarray(affordable, float)])
        if self._prev is not None and i0 < self._prev[0] + self._prev[2].size:
            p0, state, pd, ps = self._prev
            self._need, self._keep, self._last_demand = state
            self._prev = None
            if i0 > p0:
                self._advance(pd[: i0 - p0], ps[..., : i0 - p0])  # ticks, not rows (in service, affordable)
        self._prev = (i0, (self._need, self._keep, self._last_demand), np.asarray(demand_tok_s, float),
                      np.asarray(in_service, float))
        return self._advance(self._prev[2], self._prev[3])

    def _advance(self, d: np.ndarray, in_service: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        afford = None
        if in_service.ndim == 2:
            in_service, afford = in_service
        cap = np.maximum(np.floor(np.asarray(in_service, float) + 1e-9), 0.0)
        if self._last_demand is None:  # the run starts in steady state at its first demand
            self._last_demand = float(d[0]) if d.size else 0.0
        prev = np.concatenate([[self._last_demand], d[:-1]])
        # the ladder's first replicas whose throughput at the target load holds the demand
        want = np.clip(np.searchsorted(self._cum_thr * self.target_load, prev * (1.0 - 1e-9), side="left")
                       .astype(float), 1.0, None)
        if afford is not None:  # no more than the budgets can run (the rest would only idle)
            want = np.clip(np.minimum(want, afford), 1.0, None)
        if self._need is None:
            self._need = np.full(self.hold_ticks, want[0] if want.size else 1.0)
        keep = _window(self._need, want, self.hold_ticks, np.max)
        if self._keep is None:
            self._keep = np.full(self.delay_ticks, keep[0] if keep.size else 1.0)
        serving = np.minimum(_window(self._keep, keep, self.delay_ticks, np.min), cap)
        if d.size:
            self._last_demand = float(d[-1])
            self._need = np.concatenate([self._need, want])[-self.hold_ticks:] if self.hold_ticks else self._need
            self._keep = np.concatenate([self._keep, keep])[-self.delay_ticks:] if self.delay_ticks else self._keep
        return serving, np.minimum(keep, cap)

    def parked_power_w(self, in_service: np.ndarray, serving: np.ndarray, powered: np.ndarray) -> np.ndarray:
        """Wall power (W) of the in-service replicas that do not serve: waking ones at idle power,
        the rest in standby (each at its own group's idle draw, along the ladder)."""
        up = np.floor(np.asarray(in_service, float) + 1e-9)
        powered = np.asarray(powered, float)
        return (self._idle_between(serving, powered)[0]
                + self._idle_between(powered, np.maximum(up, powered))[0] * self.standby_fraction)

    def parked_idle_w(self, serving: float, in_service: float) -> float:
        """Idle wall power (W) of the in-service replicas past the ladder's first ``serving`` (counts): every parked
        replica at its own group's idle draw, waking or in standby alike (a hybrid sample's share of it is what its
        trim sets aside: ``dcsim.engine.requests._Lane``): :meth:`parked_power_w` with every parked replica powered."""
        up = float(np.floor(in_service + 1e-9))
        return float(self.parked_power_w(np.array(in_service), np.array(min(serving, up)), np.array(up)))

    def asleep_idle_w(self, in_service, asleep) -> tuple[np.ndarray, np.ndarray]:
        """(idle wall W, idle GPU W) of the ``asleep`` replicas in standby among ``in_service`` (counts per tick): the
        ladder's last ones in service, each at its own group's idle draw."""
        up = np.floor(np.asarray(in_service, float) + 1e-9)
        return self._idle_between(np.maximum(up - np.asarray(asleep, float), 0.0), up)

    def _idle_between(self, lo, hi) -> tuple[np.ndarray, np.ndarray]:
        """(idle wall W, idle GPU W) of the ladder's replicas from position ``lo`` to ``hi`` (counts per tick)."""
        n = np.arange(self.replicas + 1, dtype=float)
        cw, cg = self._cum_idle
        return np.interp(hi, n, cw) - np.interp(lo, n, cw), np.interp(hi, n, cg) - np.interp(lo, n, cg)

    def group_idle_w(self, groups: int) -> np.ndarray:
        """Idle wall power (W) of one replica of each rack group (``groups`` of them; 0 for a group with none along the
        ladder): the draw a parked replica is charged (:meth:`parked_power_w`, the node table at its top clock with no
        load), which a request lane sets aside from its measured power (``dcsim.engine.requests._Lane``)."""
        out = np.zeros(max(groups, int(self.ladder_group.max(initial=-1)) + 1))
        out[self.ladder_group] = self.ladder_idle_w
        return out[:groups]

    def group_counts(self, k, groups: int) -> np.ndarray:
        """Replicas of each rack group (``groups`` of them) among the ladder's first ``k`` (rounded to a whole count)."""
        return self.group_replicas(k, groups).astype(np.int64)

    def group_replicas(self, serving, groups: int) -> np.ndarray:
        """Per tick, the replicas of each rack group (``groups`` of them) among the ladder's first ``serving`` (counts
        per tick, rounded to whole replicas): shape ``(ticks, groups)``. The replicas whose full-load rate the
        critically-loaded test reads (``dcsim.serving.slo_estimate.full_load_tok_s``)."""
        k = np.clip(np.rint(np.asarray(serving, dtype=float)).astype(np.int64), 0, self.replicas)
        out = self._cum_groups[k]
        return out if out.shape[-1] >= groups else np.concatenate(
            [out, np.zeros(out.shape[:-1] + (groups - out.shape[-1],))], axis=-1)


def power_down_for(m, dt_s: float) -> PowerDown | None:
    """The power-down schedule of a built model ``m`` (None unless ``controller.idle_power_down``)."""
    c = m.scenario.controller
    if not c.idle_power_down:
        return None
    n = sum(g.limits.replicas for g in m.groups)
    idle = sum(g.limits.replicas * float(g.table.wall[-1, 0]) for g in m.groups) / max(n, 1)
    idle_gpu = sum(g.limits.replicas * float(g.node.idle_gpu_power_w) for g in m.groups) / max(n, 1)
    ticks = int(np.ceil(float(c.wake_up_delay) / dt_s - 1e-9))
    lad = {}
    if len(m.groups) > 1:  # several rack groups: the least efficient parked first (efficiency_ladder)
        order = efficiency_ladder([g.table for g in m.groups], [g.limits for g in m.groups])
        grp = np.concatenate([np.full(m.groups[g].limits.replicas, g, dtype=np.int64) for g in order])
        per = lambda f: np.array([f(m.groups[g]) for g in grp], dtype=float)  # noqa: E731
        lad = {"ladder_group": grp, "ladder_thr_tok_s": per(lambda g: g.table.thr[-1, -1]),
               "ladder_idle_w": per(lambda g: g.table.wall[-1, 0]),
               "ladder_idle_gpu_w": per(lambda g: g.node.idle_gpu_power_w), "by_group": True}
    return PowerDown(n, m.curves.compute_tok_s / max(n, 1), float(c.power_down_target_load), ticks, ticks, idle,
                     float(c.standby_power), idle_gpu, **lad)


def serving_replicas(m, power_down: PowerDown | None, availability, awake) -> np.ndarray:
    """Per tick, the replicas of each rack group serving: ``(ticks, groups)``. With ``controller.idle_power_down`` in
    a pool of several rack groups (``power_down`` given), the first ``awake`` (fraction of the pool, per tick) along
    the efficiency ladder (:meth:`PowerDown.group_replicas`: the most efficient kept awake); otherwise the same share
    of every group, the smaller of ``availability`` (in service) and ``awake``. The one description of the replicas
    serving that the binding label (``loop._record_chunk``) and the fluid SLO estimate
    (``assemble.slo_estimate``) read."""
    awake = np.asarray(awake, dtype=float)
    if power_down is not None and power_down.by_group:
        return power_down.group_replicas(awake * power_down.replicas, len(m.groups))
    share = np.minimum(np.asarray(availability, dtype=float), awake)
    return share[..., None] * np.array([g.limits.replicas for g in m.groups], dtype=float)


def awake_groups(m, power_down: PowerDown, k: int) -> list:
    """The run's rack groups cut to their replicas among the first ``k`` (at least one) of the power-down ladder: each
    group's replica count (``limits.replicas``) and GPUs those awake, every rack kept (its overhead: a parked replica's
    rack stays powered). The one rebuild :func:`awake_curves` and the awake replicas' effective clock
    (``dcsim.engine.loop._awake_effective_clock``) read; a group with none awake keeps a count of 0."""
    counts = power_down.group_counts(max(k, 1), len(m.groups))
    return [dataclasses.replace(g, gpus=int(c) * g.node.gpus_per_replica,
                                limits=dataclasses.replace(g.limits, replicas=int(c)))
            for g, c in zip(m.groups, counts)]


def awake_curves(m, power_down: PowerDown, k: int) -> SupplyCurves:
    """Supply curves of the first ``k`` replicas of the power-down ladder (a pool of several rack groups with
    ``controller.idle_power_down``: :class:`~dcsim.engine.controller.PowerDown`), on :func:`awake_groups`, every
    rack's overhead included (a parked replica's rack stays powered); built once per count and kept on ``m``. No
    replica at ``k`` = 0: the rate is 0 (the curves of one replica scaled to none)."""
    cache = m.__dict__.setdefault("_awake_curves", {})
    if k not in cache:
        gs = awake_groups(m, power_down, k)
        cv = supply_curves([g.table for g in gs], [g.limits for g in gs])
        if k <= 0:
            cv = dataclasses.replace(cv, **{f: getattr(cv, f) * 0.0 for f in ("rate_c", "rate_p", "rate_q", "rate_pq")})
        cache[k] = cv
    return cache[k]


def per_awake_count(serving, fn) -> dict[str, np.ndarray]:
    """Per-tick arrays of a pool of several rack groups with ``controller.idle_power_down``, computed on the ticks
    grouped by the count of the ladder's replicas serving (``serving``, counts per tick): ``fn(k, sel)`` returns for
    the ticks ``sel`` (a mask) serving ``k`` replicas a dict of arrays (one row per such tick), typically on
    :func:`awake_curves` of ``k``; the result holds each key's rows in tick order. The one loop of the fluid
    operating point and ceilings (``dcsim.engine.loop``) and a hybrid lane's fluid remainder (``requests._Lane``)."""
    ks = np.rint(np.asarray(serving, dtype=float)).astype(np.int64)
    out: dict[str, np.ndarray] = {}
    for k in np.unique(ks):
        sel = ks == k
        for key, v in fn(int(k), sel).items():
            v = np.asarray(v)
            out.setdefault(key, np.empty((ks.size,) + v.shape[1:], dtype=v.dtype))[sel] = v
    return out
