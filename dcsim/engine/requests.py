"""Request and hybrid fidelity: each tick, real requests are served replica by replica.

``request`` fidelity simulates every replica with :class:`dcsim.serving.replica.Replica`
(continuous batching, KV cache, one loop step per batch iteration). ``hybrid`` simulates a
sample of ``hybrid_sample`` replicas that way — fed by the workload at the sample's share of
the facility's compute, so the sample sees the same per-replica load — and treats the rest as
a fluid on the same node tables. Latency and
per-request energy come from the simulated replicas; facility power is the sum of both parts.

Admission: the controller's rate limit (tokens/s) becomes a token bucket at the facility
door; requests wait there when power or cooling is short and are shed (counted) after
``controller.hold_limit``. When only compute limits the door is open: the replicas queue what
they cannot serve yet. The same limit bounds the wait inside replica queues: a request not
admitted to a batch within ``hold_limit`` of its arrival is shed there (counted). Latency counts
from each request's original arrival — held at the door, retried after a node failure or not.

Clock at a binding limit: on capped ticks each lane trims the controller's clock so the
replicas' measured IT power meets the power the controller's operating point draws at its
rate limit — with several pools, the pool's own IT budget (:attr:`dcsim.engine.pools.PoolTicker.budgets`), the
one its fluid record draws (:meth:`_Lane._clock_segments`; docs/engine.md "Request fidelity at a binding power
limit"): simulated replicas serve fewer tokens per clock than the node tables (length-biased
batches), and at the frontier's clock they were compute-saturated below the budget. At the lowest clock, where the
trim cannot go lower, a lane consolidates its load on a share of its replicas as the frontier does, wherever it
draws more than its target there: the most efficient rack group first, in whole replicas, which run above the lowest
clock where a whole one more does not fit the budget (below one replica the door admits a fraction of its rate), and
the run warns where that count is fractional and few (docs/engine.md "At the lowest clock"). With
``controller.idle_power_down`` the target is the awake replicas' operating point (a hybrid sample: its share of it, its
clock read on its own whole awake replicas), the lane reads their draw net of the parked replicas' charged idle, and an
uncapped tick on which a parked replica still finishes its batch is held to the awake replicas' budget (docs/engine.md
"With controller.idle_power_down"). Requests are never dropped silently: the report's
``requests`` block and the run's invariant check ``arrived = completed + in_flight + shed``.
"""

from __future__ import annotations

import dataclasses
from collections import deque

import numpy as np

from dcsim.engine.build import Models
from dcsim.engine.controller import ArrivalWindow, awake_curves, per_awake_count, power_down_for, queue_step
from dcsim.engine.invariants import InvariantError
from dcsim.engine.pools import FRACTIONAL_REPLICAS_BELOW, pool_operating_point, useful_clock_level
from dcsim.engine.tables import efficiency_ladder, in_service_it_w, ladder_group_counts, replica_curves
from dcsim.serving.metrics import ServingMetrics
from dcsim.serving.pool import HELD_AFTER_S, make_pool
from dcsim.serving.replica import FinishedBatch
from dcsim.serving.slo_estimate import (RHO_MAX, clock_cost_tok_s, slowed_running_tok,
                                        slowed_running_held_tok)
from dcsim.tpf import OVERRUN_WINDOW_S, overrun_running_tok, overrun_window_tok
from dcsim.workload import ArrivalBatch, build_workload
from dcsim.workload.model import child_seed

__all__ = ["RequestEngine"]

_NO_SHED = np.zeros((2, 0), np.int64)
#: a fractional clock level closer than this to a whole level runs the tick at that level
#: (one serve call instead of two; 0.02 level ≈ 0.06 % of the clock range: numerical choice)
_MIX_MIN = 0.02
#: gain of the clock trim's upward steps (downward steps: 1): approach the contract from below
#: (numerical choice: converges in a few ticks; measured in docs/engine.md)
_GAIN_UP = 0.5
#: weight of the last tick in the running mean square of the power error (about 5 ticks'
#: memory; numerical choice)
_EWMA = 0.2
#: the margin below the power target is at most this (relative; numerical choice)
_MARGIN_MAX = 0.02
#: a parked replica's draw over its charged idle (W, sample share) below which the lane does not hold an uncapped tick
#: for it (_Lane._parked_excess): float noise of the wall-power tables, not a batch still finishing (numerical choice;
#: a B200 parked with its batch took the mixed hall ~3 kW over its contract: docs/engine.md "A replica parked with a
#: full batch")
_PARKED_EXCESS_MIN_W = 1.0
#: a lane whose consolidated share ran above the lowest clock (or below one replica) warns when it served fewer
#: tokens than the controller's limit by more than this on those ticks (the 2 % band request fidelity keeps against
#: fluid when power binds, docs/engine.md), or drew more than its target
_FRACTIONAL_GAP = 0.02
#: the least load a consolidated lane keeps: this fraction of one replica's full-load rate at the lowest clock
#: (numerical floor; below one replica the door admits that fraction, docs/engine.md "At the lowest clock")
_X_MIN = 0.05
#: the largest excess over the contract a request lane's capped tick is documented to draw: the tick-to-tick scatter
#: of the random batches' power past the trim's margin (twice that scatter, _margin). Measured, not derived: the
#: whole request days of reference (5 ticks over 495 kW, at most +0.020 %) and mixed-fleet (12 over 700 kW, at most
#: +0.030 %, session 54), and the power-binding request windows of the tests (docs/engine.md, "The contract at either
#: fidelity", which lists the halls that go past it); the report names an excess past it (dcsim.engine.assemble)
CONTRACT_SCATTER_BAND = 0.001


def _first(available: np.ndarray, k: int, order: np.ndarray | None = None) -> np.ndarray:
    """``available`` restricted to its first ``k`` replicas (the others get no new requests): by index, or in
    ``order`` (a permutation of the replicas: the consolidation ladder, most efficient rack group first)."""
    up = np.flatnonzero(available) if order is None else order[available[order]]
    if k >= up.size:
        return available
    out = available.copy()
    out[up[k:]] = False
    return out


def _highest_level_within(it_w: np.ndarray, allow_w: float) -> float:
    """The highest (fractional) clock level whose IT power ``it_w`` (W, one entry per level, made non-decreasing) is at
    most ``allow_w``: between two levels by their power (a fractional level runs as a mix of the two in time, whose
    power is the mix of theirs); the top level where it fits there, the lowest where none does."""
    it = np.maximum.accumulate(np.asarray(it_w, dtype=float))
    top = it.size - 1
    if it[-1] <= allow_w:
        return float(top)
    k = int(np.searchsorted(it, allow_w, side="right")) - 1
    if k < 0:
        return 0.0
    return k + (allow_w - it[k]) / max(float(it[k + 1] - it[k]), 1e-9)


class _Lane:
    """One model pool's simulated replicas and their facility door (see :class:`RequestEngine`)."""

    def __init__(self, m: Models, pi: int, counts: list[int], pool_obj, frac: float, workload, global_idx):
        pool = m.pools[pi]
        self.m = m
        self.index = pi
        self.groups = pool.groups  # indices into m.groups
        self._group_objs = [m.groups[g] for g in self.groups]  # (the running-work count's clock cost, per tick)
        self.classes = np.array(pool.classes, dtype=np.int64)
        self.pool = pool_obj
        self.frac = frac
        self.workload = workload  # its own arrival sample (hybrid), or None: rows of the shared sample
        #: expected output tokens per arrival of the whole workload that belong to this pool and are served (a
        #: request its context window refuses brings none: Pool.output_per_arrival)
        self.mean_out_share = pool.output_per_arrival
        self.in_per_out = pool.mean_input / pool.mean_output
        self.curves = pool.curves
        self.overhead_w = pool.overhead_w
        self.global_idx = global_idx  # scenario-wide replica index of each simulated replica (faults)
        self.hold_limit = float(m.scenario.controller.hold_limit)
        # requests waiting at the facility door, FIFO: blocks of arrays (t_arrival, cls, n_in, n_out)
        self._hold: deque = deque()
        self._hold_n = 0  # requests in _hold
        self._hold_tok = 0  # output tokens of the requests in _hold (kept as a running sum)
        self._bucket = 0.0  # output tokens the door may release (negative: debt a longer answer left, docs/engine.md)
        self._fluid_backlog = 0.0
        self._fluid_window: ArrivalWindow | None = None  # the fluid remainder's work younger than hold_limit
        self._tick_gpu: list[float] = []
        self._tick_it_sample: list[float] = []
        self._tick_fluid_rate: list[float] = []
        self._tick_fluid_limit: list[float] = []  # the fluid remainder's rate limit per tick (its share of the pool's)
        #: the fluid remainder's IT budget per tick (W, its share of the pool's, with the pool's whole rack overhead as
        #: pool_operating_point counts it), or NaN: the frontier's IT power at its rate limit (one pool; a pool whose
        #: limit does not bind)
        self._tick_fluid_budget: list[float] = []
        self._tick_avail: list[float] = []  # fraction of replicas in service per tick (node failures)
        self.arrived_tok = 0.0
        self.served_tok = 0.0  # output tokens generated (net of those lost to node failures; fluid remainder: served)
        self.served_in_tok = 0.0  # input tokens of the requests completed (fluid remainder: its mix)
        self._gen_prev = 0  # the replicas' net generated output tokens after the previous tick
        self._gen_debt = 0  # tokens lost to a node failure not yet deducted from a tick's output (see tick)
        self.shed_tok = 0.0
        self._ovh_share = pool.overhead_w * self.frac
        self._last_gpu_w = np.zeros(self.pool.n)
        self._down = np.zeros(self.pool.n, dtype=bool)
        self._edges = None  # failure and repair times of this lane's replicas, sorted (_fault_edges), on first use
        self._up_scale = 1.0  # hybrid: the sample's in-service share over its rounded count (<= 1)
        self._any_down = False
        self._all_up = np.ones(self.pool.n, dtype=bool)  # read-only by convention: never modified
        gof = self.pool.group_of
        self._by_group = [(self.groups[g], np.flatnonzero(gof == g)) for g in sorted(set(gof.tolist()))]
        self.requeued = 0  # requests retried after their replica failed
        self.rack_over_s = 0.0  # time a whole simulated rack drew more than its limit (_rack_check)
        self.rack_over_ratio = 1.0  # the largest rack draw over its limit seen
        self.held_tok = 0.0  # output tokens waiting for admission after the tick (see the end of tick)
        #: running work the tick's clock held back (tokens, slo_estimate.slowed_running_tok): what the binding label
        #: counts held beside held_tok (label_held_tok); the controller's waiting work stays held_tok
        self.slowed_tok = 0.0
        #: running work held past the tick because more arrived than the replicas could serve at the clock they ran
        #: (tokens, dcsim.tpf.overrun_running_tok), whatever the clock's slowdown, kept on capped ticks (0 on an open
        #: door's, whose work waits in the replicas' queues that held_tok reads): the label reads it beside slowed_tok
        self.overrun_tok = 0.0
        self._ticked = False  # a tick served: the first one fills the empty replicas, which holds nothing back
        #: the replicas have filled: a tick served and shed at least RHO_MAX of its arrivals. Until then the growth of
        #: the work in the system is the empty replicas filling (mixed-fleet's reasoning pool takes ~15 min and
        #: ~16 M tokens from a cold start), not work held back, and overrun_tok counts nothing
        self._filled = False
        #: (dt, arrived, served, shed, capacity, sum of squared arrived output tokens) of each tick since the replicas
        #: filled, the last OVERRUN_WINDOW_S of them: the trailing window of overrun_window_tok
        self._overrun_win: deque = deque()
        #: work held past the trailing window beyond its arrivals' scatter (tokens, dcsim.tpf.overrun_window_tok), on
        #: capped and open ticks alike: the label reads it beside held_tok and the two CUSUMs
        self.overrun_win_tok = 0.0
        #: output tokens the binding label counts held back after the tick: the larger of the work waiting for
        #: admission (held_tok) and the running work the clock held back past its decision threshold
        #: (slo_estimate.slowed_running_held_tok); the two overlap (a request held at the door grows the work in the
        #: system too), so not their sum
        self.label_held_tok = 0.0
        # clock trim (module docstring "Clock at a binding limit"): the offset (clock levels) added
        # to the controller's capped clock so the measured IT power meets the fluid target
        self._trim = 0.0
        # with controller.idle_power_down at request fidelity the trim aims the awake replicas at the awake operating
        # point (_clock_segments) and reads their draw net of the parked replicas' idle (tick). Until 2026-12-05 such
        # runs were not trimmed, and a mixed hall under 60 kW drew 62.1 kW (150 req/s) and 68.4 kW (220 req/s) on every
        # tick (docs/engine.md). A hybrid sample is trimmed too (since 2026-12-05; until then hybrid with power-down was
        # not, and drew 2.8-5.3 % over the contract in the mean): its target is its share (frac) of the awake operating
        # point, read at the pool's awake count, and it sets aside its share of the pool's parked replicas' idle, not
        # of its own whole awake replicas (another share of it than the awake fraction)
        pd_on = bool(m.scenario.controller.idle_power_down)
        self._trim_on = m.scenario.controller.policy in ("frontier", "uniform")
        #: the power-down ladder (several rack groups: the awake replicas' own curves, controller.awake_curves)
        pd = power_down_for(m, 1.0) if pd_on else None
        self._pdown = pd
        self._parked_w = 0.0  # idle wall power (W) of this tick's parked replicas by the node tables (PowerDown)
        self._parked_excess_w = 0.0  # their draw over it on the last tick (W, sample share; uncapped ticks: tick)
        self._awake_n = None  # replicas awake this tick (idle_power_down), None otherwise
        self._awake_k = 0  # the pool's replicas awake this tick (hybrid: of the whole pool, not of the sample)
        self._sample_parked_idle_w = 0.0  # the lane's own parked replicas at their charged idle (W, sample share)
        #: _awake_n on the last tick the capped branch trimmed (a hybrid sample's count-change rule, _clock_segments:
        #: until 2026-12-05 the last tick's, so a change on an uncapped or held tick went unseen by the next capped one)
        self._awake_n_trimmed = None
        self._target_w = None  # IT target of this tick when trimmed (sample share), W
        self._meas_prev = None  # measured IT power (sample) of the last saturated trimmed tick, W
        # running mean square of the relative IT power error of trimmed ticks; None until first measured, and
        # then the margin is its cap (aim 2 % below the target while the replicas fill: with none, the 40 kW
        # contract run of tests/test_fidelity.py drew 0.1 % over on its first saturated tick)
        self._var = None
        #: the lane's first tick, on which nothing has been measured: it runs no higher than the clock the tables give
        #: for its budget less the trim's margin (_clock_segments). Until 2026-12-05 it ran at the controller's clock
        #: with no margin, and the replicas filling from empty (a prefill-heavy tick) drew more than the tables say:
        #: the reference hall at request fidelity started at 12:00 drew 498.8 kW against 495 kW on it (+0.77 %)
        self._first_tick = True
        self._level_now = 0.0  # the controller's clock level this tick (fractional index)
        self._sample_tab = None  # _sample_level's (ladder, size, scale, rate, draw) tables of the sample's awake replicas
        self._slope_w = 1.0  # IT W per clock level at full batch near that level (sample share)
        self._tick_level: list[float] = []  # effective clock level (fractional index) of each tick
        #: GPUs of the replicas serving (in service and awake; hybrid: times the in-service scale) on each tick
        self._tick_gpus: list[float] = []
        self._gpus_per_replica = np.array([m.groups[g].node.gpus_per_replica for g in self.groups], dtype=float)
        #: the trim may lower the clock below the controller's: always for a single pool, whose target is the
        #: facility's budget; with several pools after a tick on which they together and this one alone drew more
        #: than their targets (RequestEngine.tick_pools: one pool over its share while another is under keeps the
        #: contract), or set before a tick by RequestEngine._predict_over for a pool at the lowest clock whose predicted
        #: draw takes the pools together over their budgets (it consolidates by its excess on that tick)
        self.may_trim_down = False
        #: the pool's useful clock level (dcsim.engine.pools.useful_clock_level): above it the clock buys its replicas
        #: no tokens, so a rise of the controller's level above it steps up through the trim with a budget of its own
        #: too (_clock_segments)
        self._useful_level = float(useful_clock_level([m.groups[g] for g in self.groups], m.clocks))
        #: the rule goes with the split that defines the useful clock; ``shared_split: tokens`` keeps the earlier
        #: default's lanes as they were (the figures its pinned tests hold were measured under them)
        self._absorb_above_useful = m.scenario.controller.shared_split == "useful_clock"
        self._level_capped = None  # the controller's level on the last trimmed tick (None: that tick was not trimmed)
        #: (measured IT W, effective clock level) of the last tick where it was capped with a budget of
        #: its own (several pools), else None: what RequestEngine._predict_over predicts the next tick's draw by
        self.last_capped: tuple[float, float] | None = None
        #: this tick's predicted draw over its aim (W, sample share) at the lowest clock, set before the tick by
        #: RequestEngine._predict_over where the pools together would go over the contract and nothing waits at its
        #: door (0: none): consolidated at once
        self.pre_excess_w = 0.0
        #: the share (0-1) of this tick's rise of its effective clock level the lane holds back, for this tick only (its
        #: trim untouched), set with another pool's pre_excess_w where that pool's draw cannot fall as fast as its
        #: budget
        self.hold_rise_share = 0.0
        self._rise_held = False  # this tick's rise was held (_clock_segments): the trim does not integrate its shortfall
        #: share of the replicas in service that get new requests: 1, but at the lowest clock, where the trim cannot
        #: go lower, the load is consolidated on fewer replicas as the frontier does (_clock_segments, end of tick)
        self._share = 1.0
        self.consolidation_s = 0.0  # time its load was consolidated (report: consolidation_s)
        self._n_up = 1  # replicas in service on the tick (the share's whole replicas are counted in them)
        # the consolidation ladder: the order in which replicas get new requests when the load is consolidated — the
        # rack group of the most marginal tokens per joule at full load at the lowest clock first (its rate over its
        # full-load draw less its idle draw: the replicas left out idle anyway), as the frontier loads the most
        # efficient replicas; then by index. Until 2026-12-04 it was by index (the first rack group of racks:), and a
        # pool of H100 and B200 racks consolidated on its H100s when they were listed first: -37 % tokens against
        # fluid at +64 % J/token (audit L #3). Per pool-local group, clock level and load point (G, K, U): a
        # replica's rate (tokens/s) and IT power (W; rack limits applied, rack overhead not included)
        tabs, lims = [m.groups[g].table for g in self.groups], [m.groups[g].limits for g in self.groups]
        curves = replica_curves(tabs, lims)
        self._u, rate, self._g_w = curves
        #: each group's idle wall power of one replica, the draw the facility's record charges a parked one
        #: (PowerDown.group_idle_w; idle_power_down only)
        self._idle_tab_w = None if pd is None else pd.group_idle_w(len(m.groups))[np.asarray(self.groups)]
        self._g_rate = np.maximum.accumulate(rate, axis=2)  # over the load points
        rank = np.argsort(efficiency_ladder(tabs, lims, curves))  # each group's place on the ladder
        self._order = np.lexsort((np.arange(self.pool.n), rank[gof]))
        self._lad = self._order  # this tick's ladder: the replicas in service, in that order
        self._lad_key = None  # (replicas in service, sample scale) the ladder's arrays were built for (_set_ladder)
        self._set_ladder(self._all_up)
        #: time the load ran consolidated above the lowest clock (a whole replica more did not fit the budget there)
        #: or on one replica over its target at the lowest clock (a fraction of a replica cannot be loaded), and the
        #: frontier's replica count on those ticks (summed, for the mean): the warning of RequestEngine.report
        self.fractional_s = 0.0
        #: the below-one-replica door's learned corrections (session 55), relative, not in W: ``_door_ratio``, the
        #: measured draw over the idle pool's on its ticks under its aim to the tables' at the rate served (its bound
        #: admits the rate whose tables' draw over idle, times it, fits the room over idle), and ``_door_shortfall``,
        #: a share of the target its aim is lowered by: a tick over the target adds its measured excess over the
        #: target; a tick under the lowered aim halves it. A target risen past the scatter band (a curtailment's end)
        #: clears both. The first version added the excess over the aim in W and never relaxed it: one +0.27 % tick
        #: cost the 4 kW hall of tests/test_fidelity.py 27 % of its tokens, and a curtailment throttled it to the end
        self._door_ratio = 1.0
        self._door_shortfall = 0.0
        self._door_target_prev = None  # the power target (W, sample share) of the door's last tick
        #: time the below-one-replica door admitted nothing: the replicas in service, idle, left no room under the
        #: target (by the tables, or by what its ticks over it measured): the warning names idle_power_down
        self.door_shut_s = 0.0
        self._fractional_x = 0.0
        self._fractional_tok = [0.0, 0.0]  # on those ticks: output tokens served (sample), and at the limit
        self._fractional_w = [0.0, 0.0]  # on those ticks: IT energy measured and at the target (sample), J

    @property
    def _pd(self):
        """The power-down ladder where the pool has several rack groups (the awake replicas' own curves,
        :func:`~dcsim.engine.controller.awake_curves`), else None: read from :attr:`_pdown` (until 2026-12-05 a second
        attribute set beside it)."""
        pd = self._pdown
        return pd if pd is not None and pd.by_group else None

    def tick(self, eng: "RequestEngine", ab, t0: float, dt: float, limit_tok_s: float, clock: float,
             availability: float, awake: float | None = None, capped: bool = False, open_door: bool = False,
             budget_w: float | None = None, it_budget_w: float | None = None):
        """Serve this pool's requests ``ab`` over ``[t0, t0+dt)``; returns (served tokens/s,
        waiting tokens, shed tokens, arrived tokens). ``awake`` (``controller.idle_power_down``,
        one pool) is the fraction of replicas serving: the others in service are parked (waking or
        in standby) and get no new requests; requests already inside a parked replica finish there.
        ``open_door``: only compute limits this tick (the controller's limit is the pool's compute
        ceiling): the door releases every request and the replicas queue what they cannot serve yet,
        as a fleet with no admission control does (a token bucket there held a tick's burst at the
        door for a tick: docs/slo.md). ``budget_w``: the pool's IT budget this tick (W, the whole pool's, several
        pools: :attr:`dcsim.engine.pools.PoolTicker.budgets`), the power its capped replicas aim at
        (:meth:`_clock_segments`); None or inf: the frontier's IT power at ``limit_tok_s``. ``it_budget_w``
        (every tick, :attr:`dcsim.engine.loop.Exogenous.it_budget_w`): the IT power (W, the whole pool's) the serving
        replicas and every rack's overhead may draw by the facility's budgets this tick, with
        ``controller.idle_power_down`` the parked replicas' charged power (idle or standby,
        :meth:`~dcsim.engine.controller.PowerDown.parked_power_w`) set aside: an uncapped tick on which a parked
        replica still finishes its requests, and the lane's first tick, are held to it less the trim's margin
        (:meth:`_clock_segments`)."""
        m = self.m
        t1 = t0 + dt
        t, cls, n_in, n_out = ab.t, ab.cls, ab.n_in, ab.n_out
        fluid_arr = 0.0
        if self.frac < 1.0:  # expected output tokens of the rest of the pool
            fluid_arr = float(m.workload.rate(np.array([t0 + 0.5 * dt]))[0]) * self.mean_out_share * dt * (1.0 - self.frac)
        arrived = float(n_out.sum()) + fluid_arr
        arrived_sq = float(np.square(n_out, dtype=float).sum())  # the sample's scatter; the fluid remainder has none
        eng.metrics.record_arrivals(cls)
        available = self._in_service(t0, availability)
        self._parked_w, self._awake_n, self._parked_excess_w = 0.0, None, 0.0
        if awake is not None and awake < availability - 1e-12:  # idle_power_down: park the rest
            # the least efficient parked first: the efficiency ladder, as the schedule counts them (PowerDown); until
            # 2026-12-04 the first replicas by index stayed awake (the first rack group of racks:)
            self._awake_n = max(1, int(round(awake * self.pool.n)))
            self._awake_k = max(1, int(round(awake * self._pdown.replicas)))  # the pool's ladder count (one pool)
            in_service = available
            available = _first(available, self._awake_n, self._order)
            if self._trim_on:
                # the parked replicas at their groups' idle wall power by the node tables, as the facility's record
                # counts them (PowerDown.parked_power_w, and the asleep ones' standby in chunk_power): the trim reads
                # the awake replicas' draw net of it
                parked_sel = in_service & ~available
                parked = np.bincount(self.pool.group_of[parked_sel], minlength=len(self.groups))
                self._parked_w = self._sample_parked_idle_w = float(parked @ self._idle_tab_w) * self._up_scale
                if self.frac < 1.0:
                    # hybrid: the sample's share of the pool's parked replicas at their charged idle (the facility's
                    # record adds the remainder's share, and counts the sample's at that share too: chunk_power)
                    self._parked_w = self.frac * self._pdown.parked_idle_w(self._awake_k,
                                                                           availability * self._pdown.replicas)
                if not capped and it_budget_w is not None and np.isfinite(it_budget_w):
                    self._parked_excess_w = self._parked_excess(parked_sel)
        # the clock(s) of this tick, its power target if capped, and the share of the replicas that get requests
        # (the ladder: the replicas in service, most efficient rack group first); the work of the tick is what is
        # held and arriving, at most what the door admits at the limit
        self._set_ladder(available)
        self._n_up = max(int(self._lad.size), 1)  # replicas in service that could get requests
        work = min(float(self._hold_tok + n_out.sum()), limit_tok_s * self.frac * dt) / dt
        segs = self._clock_segments(clock, limit_tok_s, availability if awake is None else awake, t0, dt, capped,
                                    work, budget_w, it_budget_w)
        self._tick_gpus.append(float(self._gpus_per_replica[self.pool.group_of[available]].sum()) * self._up_scale)
        if self._share < 1.0:  # consolidated: new requests go to the first share of the replicas in service
            available = _first(available, self._replicas(self._share), self._order)
            self.consolidation_s += dt
        # admission: token bucket on output tokens at the controller's limit (sample share), two ticks deep;
        # open when only compute limits (the replicas' own queues hold what they cannot serve yet)
        door = limit_tok_s * self.frac
        x_tick = self._share * self._n_up  # loaded replicas of the ladder (a fraction below one: see below)
        if x_tick < 1.0 - 1e-9:
            # one replica at the lowest clock draws more than the target: the door admits the fraction of that
            # replica's full-load rate the consolidation reached (a fraction of a replica, realised as its load;
            # until 2026-12-04 it ran at the limit, 1.3 % over the contract on 1,130 s of 1,200: audit L #8)
            door = min(door, x_tick * self._walk_rate(0))
        door_bound = None  # the tables' bound on one replica's admission, where it binds
        if self._target_w is not None and self._share < 1.0 and x_tick <= 1.0 + 1e-9:
            # and no more than that replica serves within the target less the margin by the tables, corrected by what
            # its ticks measured (_door_ratio, _door_shortfall): at a small load a replica's draw over idle is far
            # more than its share of the full-load draw the feedback walks by (a DGX B200's 70B replica at 5 % of its
            # rate draws 72 % of its full-load excess), so the floor _X_MIN ran it over the contract on most ticks,
            # and the share spread back to one whole replica (the 7 kW hall of tests/test_fidelity.py: 35 of 60 ticks,
            # up to +2.96 %); where the pool's idle draw leaves no room for any load the door admits nothing. Not
            # where one replica at full load fits (then it is loaded whole, or above the lowest clock). Session 55
            prev = self._door_target_prev
            if prev is not None and self._target_w > prev * (1.0 + CONTRACT_SCATTER_BAND):
                # the target rose (a curtailment ended): what was learned under the lower one is stale
                self._door_shortfall, self._door_ratio = 0.0, 1.0
            elif prev is not None and self._target_w < prev * (1.0 - CONTRACT_SCATTER_BAND):
                # the target fell (a curtailment began): a ratio under one, learned at a larger load, does not hold
                # at the smaller one (the tables under-read a small load's draw)
                self._door_ratio = max(self._door_ratio, 1.0)
            self._door_target_prev = self._target_w
            door_aim = self._target_w * (1.0 - self._margin() - self._door_shortfall)
            # the tables' draw over idle scaled by the measured ratio (_door_ratio): the room left over the idle pool
            idle_w = self._pred_w(1.0, 0.0, 0.0)
            bound = self._admit_within(idle_w + (door_aim - idle_w) / self._door_ratio) if door_aim > idle_w else 0.0
            if bound < self._walk_rate(0) * (1.0 - 1e-9):
                door_bound = bound
                door = min(door, bound)
                if bound <= 0.0:
                    self.door_shut_s += dt
        shed_tok = 0.0
        rel, shed_cls = self._admit((t, cls, n_in, n_out), door, dt, t1, open_door)
        if shed_cls.size:
            eng.metrics.record_shed(shed_cls[0])
            shed_tok += float(shed_cls[1].sum())
        if rel is not None:
            # a request held at the door (or retried) enters a replica when released, at t0: that
            # is its place in the replica's FIFO; its latency still counts from its arrival
            order = np.argsort(np.maximum(rel[0], t0), kind="stable")
            ra, rc, ri, ro = (x[order] for x in rel)
            rt = np.maximum(ra, t0)
            headroom = None
            if m.scenario.serving.router == "power_aware":
                # power headroom of each replica: GPU power at full batch at this clock minus its last draw
                k = float(np.interp(clock, m.clocks, np.arange(m.clocks.size)))
                capg = np.array([np.interp(k, np.arange(m.clocks.size), m.groups[g].table.gpu[:, -1])
                                 for g in self.groups])
                headroom = capg[self.pool.group_of] - self._last_gpu_w
        else:
            rt = ra = np.zeros(0)
            rc = ri = ro = np.zeros(0, np.int64)
            headroom = None
        edges = self._fault_edges(t0, t1)
        up_s = None  # seconds each replica was in service this tick, where a failure or repair falls inside it
        if edges:
            energy, fins, sh_c, sh_o, up_s = self._serve_split(t0, t1, segs, edges, available, rt, ra, rc, ri, ro,
                                                               headroom)
        elif len(segs) == 1:
            energy, fins, sh_c, sh_o = self.pool.serve(t1, segs[0][1], rt, ra, rc, ri, ro, available=available,
                                                       headroom_w=headroom)
        else:  # the tick's first part at the upper clock level, the rest at the lower one
            (tm, c_hi), (_, c_lo) = segs
            n1 = int(np.searchsorted(rt, tm, side="left"))
            e1, fins, c1, o1 = self.pool.serve(tm, c_hi, rt[:n1], ra[:n1], rc[:n1], ri[:n1], ro[:n1],
                                               available=available, headroom_w=headroom)
            e2, f2, c2, o2 = self.pool.serve(t1, c_lo, rt[n1:], ra[n1:], rc[n1:], ri[n1:], ro[n1:],
                                             available=available, headroom_w=headroom)
            energy, fins = e1 + e2, list(fins) + list(f2)
            sh_c, sh_o = np.concatenate([c1, c2]).astype(np.int64), np.concatenate([o1, o2]).astype(np.int64)
        if sh_c.size:  # never fits in KV, or waited in a replica queue past hold_limit
            eng.metrics.record_shed(sh_c)
            shed_tok += float(sh_o.sum())
        if up_s is None and self._any_down:  # a failed replica is out of service and draws nothing, as the fluid
            energy = np.where(self._down, 0.0, energy)  # model takes it (_serve_split: over its down part only)
        self._last_gpu_w = energy / dt
        gpu_j = float(energy.sum()) * self._up_scale
        # output tokens served: those the replicas generated this tick, iteration by iteration (a long
        # output counts as it is generated, not all at its completion, as the fluid model serves a rate),
        # less those generated earlier by requests a node failure took out this tick (generated again on
        # the replica that retries them). A loss larger than the tick's output is deducted from the next ticks.
        gen = self.pool.net_generated()
        x = gen - self._gen_prev - self._gen_debt
        self._gen_prev = gen
        served = float(max(x, 0))
        self._gen_debt = max(-x, 0)
        served_in = 0.0
        it_w = 0.0
        for fin in fins:
            eng._finished.append(fin)
            eng._buffered += len(fin)
            served_in += float(fin.n_in.sum())
        if eng._buffered >= 20_000:
            eng._flush()
        over_ratio = 0.0
        for g, sel in self._by_group:  # wall power of each replica in service from its mean GPU power this tick
            if up_s is not None:  # in service a share of the tick: its draw while up, for that share
                f_up = up_s[sel] / dt
                walls = np.where(f_up > 0, f_up * m.groups[g].node.wall_power(
                    self._last_gpu_w[sel] / np.maximum(f_up, 1e-12)), 0.0)
            else:
                walls = np.where(self._down[sel], 0.0, m.groups[g].node.wall_power(self._last_gpu_w[sel]))
            it_w += float(np.sum(walls)) * self._up_scale
            over_ratio = max(over_ratio, self._rack_ratio(g, walls))
        if over_ratio > 1 + 1e-6:  # a rack over its limit this tick (counted once per tick)
            self.rack_over_s += dt
            self.rack_over_ratio = max(self.rack_over_ratio, over_ratio)
        # the fluid remainder of a hybrid facility
        fluid_served = 0.0
        if self.frac < 1.0:
            if self._fluid_window is None:
                self._fluid_window = ArrivalWindow(self.hold_limit, dt)
            fluid_served, self._fluid_backlog, sh = queue_step(
                self._fluid_backlog, fluid_arr / dt, limit_tok_s * (1.0 - self.frac), dt,
                self._fluid_window.push(fluid_arr))
            shed_tok += sh
        self._tick_gpu.append(gpu_j / dt)
        self._tick_it_sample.append(it_w + self._ovh_share)
        prev_trim = self._trim  # after _clock_segments (a rise of the controller's level already absorbed)
        # measured IT power the target is set for: with idle_power_down the parked replicas' idle draw by the tables is
        # left out (the target is the awake operating point's, the parked power is the facility's part on top: the
        # excess of a parked replica still finishing its requests stays in)
        meas = it_w + self._ovh_share - self._parked_w
        # the limit binds (work held at the door), or a pool allowed below its clock draws more than its target
        # with nothing held (several pools: its replicas serve its demand less efficiently than the frontier)
        over_free = self._target_w is not None and self.may_trim_down and meas > self._target_w
        cons = self._share < 1.0  # the load was consolidated this tick (docs/engine.md "At the lowest clock")
        step_w = self._slope_w  # IT W per clock level of the trim's step this tick
        if cons:  # only the loaded replicas' draw moves with the clock (an idle replica's hardly does)
            step_w = self._loaded_slope_w(self._level_now + self._trim)
        if self._target_w is None or (self._hold_tok <= 0 and not over_free):
            self._meas_prev = None
            if self._target_w is not None and self._trim < 0.0:
                # capped, but nothing held and under the target: the limit does not bind, so a trim below the
                # controller's clock (left from ticks on which it did) goes back towards it, as on a binding tick
                # under the target. Without this a demand-bound run kept the trim of its first, filling ticks: the
                # replicas ran 0.8 clock levels below the controller's for the rest of the run, their TPOT 11 %
                # above the fluid estimate's (tests/test_slo_estimate.py)
                self._relax_trim((self._target_w * (1.0 - self._margin()) - meas) / self._slope_w)
            if cons and self._target_w is not None:
                # consolidated with nothing held and under the target (demand-bound at the lowest clock): spread the
                # load again as far as the budget allows, in whole replicas
                self._spread(self._target_w * (1.0 - self._margin()), meas)
        else:
            # work still held at the door: the limit binds. Integrate the IT power error into the
            # trim (one clock level ≈ slope W at full batch): down whenever over the target, up
            # (at half gain) only while most replicas have requests waiting for a batch slot —
            # saturated, so a higher clock serves more; replicas still filling (the first ticks
            # of a run) draw less for want of work, not of clock
            saturated = self._saturated(available) and not self._rise_held
            # the scatter is known once two saturated ticks follow each other: no step up before
            # (the first saturated tick of the tests' 40 kW contract run stepped up with no margin
            # and drew 0.3 % over the contract on the next tick, docs/engine.md)
            scatter_known = saturated and self._meas_prev is not None
            if scatter_known:
                # the random batches' power scatters from tick to tick and the contract is a
                # per-tick ceiling: aim below the target by twice that scatter (running mean
                # square of the tick-to-tick change, halved: the variance of one tick)
                d = (meas - self._meas_prev) / self._target_w
                # the first pair's scatter as it is (an EWMA started from 0 reads it 5x low: the 40 kW run then drew
                # 0.14 % over on a later tick), then the running mean
                self._var = 0.5 * d * d if self._var is None else (1.0 - _EWMA) * self._var + _EWMA * 0.5 * d * d
            self._meas_prev = meas if saturated else None
            aim = self._target_w * (1.0 - self._margin())
            err = (aim - meas) / step_w
            if err < 0.0:
                self._trim += err
            elif cons:
                # the load is consolidated (below): spread it again first, the clock staying at its lowest level; in
                # whole replicas, one more only where the headroom holds its full-load power (the door holds work, so
                # a replica that gets requests fills at once: a pool whose target lay between two counts, 2.5 % over
                # it for a step, went up to the upper count, over the contract until its batches drained, back down
                # to one replica — tests/test_hetero.py's power-bound pool, +2.5 % on 150 s of 1,200). Where a whole
                # replica more does not fit, the loaded replicas run above the lowest clock, within the budget: the
                # frontier's fractional count of loaded replicas has no whole equivalent (audit L #8: 2 replicas of
                # 70B at 5 kW left 16 % of the budget unused and served 42 % less than fluid)
                if not self._spread(aim, meas) and scatter_known:
                    self._trim += _GAIN_UP * err
            elif scatter_known:
                self._trim += _GAIN_UP * err
            elif self._trim < 0.0 and not self._rise_held:  # below the controller's clock and under the target: back
                self._relax_trim(err)
        eff = self._level_now + self._trim
        if (self._target_w is not None and meas > self._target_w * (1.0 - self._margin())
                and (self._hold_tok > 0 or over_free) and eff <= 1e-9):
            # over the target with the clock at its lowest level (the limit holding work back, or, for a pool allowed
            # below its clock, nothing held and demand below the limit): evenly loaded replicas draw more than the
            # frontier's mix of fully loaded and idle ones at the same rate (power per token falls with the batch).
            # Consolidate: fewer replicas get new requests, by the excess the clock could not take (the part of the
            # trim's step below the lowest level) over what those replicas draw at full load. Without it, a facility
            # of 16 racks, 280 kW, 1,600 req/s drew 4 % over its contract on every tick at request fidelity, and the
            # power-bound pool of tests/test_hetero.py 24 % over its share (its facility 11 % over); admitting fewer
            # requests instead cost 36 % of the tokens (fewer requests per replica, smaller batches, worse J/token).
            # Until 2026-12-04 only where the limit held work back: a demand-bound pool at the lowest clock, its
            # demand just under the consolidated ceiling, drew 15 % over its contract on every tick (audit L #5)
            over_w = meas - self._target_w * (1.0 - self._margin())
            below_w = over_w if prev_trim + self._level_now <= 1e-9 else min(-eff * step_w, over_w)
            x = self._walk(self._share * self._n_up, -below_w)
            # below one replica, the fraction is the share of that replica's full-load rate the door admits
            self._share = min(max(x, _X_MIN) / self._n_up, 1.0)
        if door_bound is not None:
            idle_w = self._pred_w(1.0, 0.0, 0.0)
            tab_ex = self._pred_w(1.0, served / dt, 0.0) - idle_w  # the tables' draw over idle at the rate served
            if meas > self._target_w:
                # the below-one-replica door drew more than the target (its few requests' batches past the tables' load
                # curve): its aim comes down by the excess over the target, a share of the target (admitted less, or
                # nothing, rather than run over)
                self._door_shortfall += meas / self._target_w - 1.0
            elif meas < door_aim:
                # under the door's aim: the learned excess relaxes, and where the tick served a measurable load the
                # ratio of its measured draw over idle to the tables' moves halfway to this tick's (at least 0.5)
                self._door_shortfall *= 0.5
                if tab_ex > 0.05 * max(self._target_w - idle_w, 1e-9):
                    self._door_ratio = max(0.5 * (self._door_ratio + max(meas - idle_w, 0.0) / tab_ex), 0.5)
        if self._target_w is not None and cons and (self._level_now + prev_trim > 1e-9 or x_tick < 1.0 - 1e-9
                                                     or door_bound is not None
                                                     or (x_tick <= 1.0 + 1e-9 and meas > self._target_w)):
            # the frontier's fractional count of loaded replicas realised by a higher clock, or by one replica's
            # admission (or not at all: one replica over its target): the output says so (RequestEngine.report)
            self._count_fractional(dt, limit_tok_s, served, meas)
        # below the controller's clock only where allowed (a single pool; several pools after a tick on which the
        # facility and this pool were over their targets): replicas spread evenly draw more than the consolidated
        # frontier at the same rate, and the contract is a ceiling; otherwise no lower than the trim already is
        lo = -self._level_now if self.may_trim_down else min(prev_trim, 0.0)
        self._trim = min(max(self._trim, lo), self.m.clocks.size - 1 - self._level_now)
        self.last_capped = ((meas, self._tick_level[-1])
                            if self._target_w is not None and budget_w is not None and np.isfinite(budget_w) else None)
        self._tick_fluid_rate.append(fluid_served)
        self._tick_fluid_limit.append(limit_tok_s * (1.0 - self.frac))
        self._tick_fluid_budget.append(in_service_it_w(budget_w, 1.0 - self.frac, self.overhead_w)
                                       if budget_w is not None and np.isfinite(budget_w) else np.nan)
        self._tick_avail.append(availability)
        self.arrived_tok += arrived
        self.served_tok += served + fluid_served * dt
        self.served_in_tok += served_in + fluid_served * dt * self.in_per_out
        self.shed_tok += shed_tok
        waiting = self.arrived_tok - self.served_tok - self.shed_tok
        # work carried over, waiting for admission (what the controller's need and the binding labels read):
        # tokens held at the door (sample), the fluid remainder's queue, and the requests in the replicas' own
        # queues that have waited at least HELD_AFTER_S by the tick's end (the fluid's backlog is the work a tick
        # leaves to the next; a request that arrived in the last moments waits for its replica's next iteration,
        # not for supply)
        self.held_tok = self._hold_tok + self._fluid_backlog + float(
            self.pool.pending_tokens(max(t0, t0 + dt - HELD_AFTER_S)).sum())
        # running work the clock held back (DESIGN.md: work not served at the rate asked because of the limit): the
        # growth of the work in the system the clock's slowdown explains, past the scatter of a tick's arrivals, on a
        # tick whose arrivals reach the capacity of the replicas that served it at the clock they ran
        # (slowed_running_tok with the capacity). That clock is the lane's effective level, its trim included, as
        # chunk_clock reports it; until 2026-12-05 the controller's, which read no slowdown on a lane-held tick at
        # full clock and less than the replicas' on a trimmed one. The first tick fills empty replicas (its growth is
        # their batches' work, not held back)
        if self._ticked:
            # the simulated replicas that took requests this tick (in service, awake, the consolidated share): their
            # full-load rate at that clock and at full clock, in one evaluation; a hybrid sample is frac of its pool's
            # compute (simulated_share)
            serving = np.bincount(self.pool.group_of[available], minlength=len(self.groups))
            full, top = (float(x) for x in clock_cost_tok_s(self._group_objs, self.m.clocks, None, serving,
                                                            level=self._tick_level[-1]))
            slowdown = top / full - 1.0 if full > 0 else 0.0
            self.slowed_tok = slowed_running_tok(self.slowed_tok, arrived, served + fluid_served * dt, shed_tok,
                                                 slowdown, full * dt / self.frac)
            # on a capped tick only (the door closed: the controller's limit admits, a KV-bound pool's replicas take
            # what they cannot serve); with the door open the replicas' own queues hold it, which held_tok reads
            # only once the replicas have filled (_filled): a pool filling from empty grows its running work by
            # its batches', whatever its arrivals against capacity (until 2026-12-05, later, only the first tick was
            # skipped: mixed-fleet from a cold 06:53 read its reasoning pool compute from 06:56 with 0.86-2.06 M
            # tokens counted held while it filled)
            self._filled = self._filled or served + fluid_served * dt + shed_tok >= RHO_MAX * float(arrived)
            self.overrun_tok = overrun_running_tok(self.overrun_tok, arrived, served + fluid_served * dt, shed_tok,
                                                   full * dt / self.frac,
                                                   rho_max=RHO_MAX) if capped and self._filled else 0.0
            # sustained overrun, capped or not: the work's growth over the trailing window against the Poisson
            # scatter of the window's arrivals (dcsim.tpf.overrun_window_tok), once a whole window has passed since
            # the replicas filled (until then the growth is their batches filling)
            self.overrun_win_tok = 0.0
            if self._filled:
                win = self._overrun_win
                win.append((dt, float(arrived), served + fluid_served * dt, float(shed_tok), full * dt / self.frac,
                            arrived_sq))
                span = sum(w[0] for w in win)
                while win and span - win[0][0] >= OVERRUN_WINDOW_S - 1e-9:
                    span -= win.popleft()[0]
                if span >= OVERRUN_WINDOW_S - 1e-9:
                    a_w, s_w, sh_w, c_w, q_w = (sum(w[k] for w in win) for k in range(1, 6))
                    self.overrun_win_tok = overrun_window_tok(a_w, s_w, sh_w, c_w, q_w, rho_max=RHO_MAX)
        self._ticked = True
        self.label_held_tok = max(self.held_tok, slowed_running_held_tok(max(self.slowed_tok, self.overrun_tok),
                                                                         float(arrived)), self.overrun_win_tok)
        return served / dt + fluid_served, waiting, shed_tok, arrived

    def _saturated(self, available: np.ndarray) -> bool:
        """True when at least half the replicas in service have requests waiting for a batch slot."""
        pend = self.pool.pending()[available]
        return bool(pend.size) and bool(np.mean(pend > 0) >= 0.5)

    def capped_draw(self) -> tuple[float, float] | None:
        """(measured, target) IT power (W, sample share) of the tick just served, or None if it was not capped."""
        return None if self._target_w is None else (self._tick_it_sample[-1], self._target_w)

    def _clock_segments(self, clock: float, limit_tok_s: float, avail: float, t0: float, dt: float,
                        capped: bool = False, work_tok_s: float | None = None, budget_w: float | None = None,
                        it_budget_w: float | None = None) -> list:
        """The clock(s) the replicas run this tick: ``[(t_end, clock)]``, or two segments
        ``[(t_mid, upper level), (t_end, lower level)]`` for a fractional effective level.

        Uncapped ticks (the controller's clock is the top level) run at that clock. On capped
        ticks the effective level is the controller's level plus the lane's trim: the integral
        of the IT power error (target minus measured, in clock levels) over the ticks whose
        limit bound (work left at the door), or, where the trim may go down, on which the pool drew more than
        its target. With several pools it goes below zero only after a tick on which the pools together and
        this pool alone drew more than their targets (``may_trim_down``, set by :meth:`RequestEngine.tick_pools`:
        one pool over its share while another is under keeps the contract, and trimming the pool that is not
        over cost mixed-fleet's chat pool 11 % of its tokens, docs/engine.md). A single pool's target is the facility's
        budget, so its trim may go below the controller's clock, and it runs on capped ticks at the top clock
        too (``capped``): the frontier caps there by consolidating load, which evenly routed replicas do not, so
        at the controller's clock they drew more than the budget. Between two trimmed ticks a rise of the
        controller's level is absorbed into the trim, so the replicas step up through the integrator. The target is
        the pool's IT budget ``budget_w`` where it is given and finite (several pools on a tick the shared budget caps:
        :attr:`dcsim.engine.pools.PoolTicker.budgets`, the same budget the fluid pool draws and its clock is chosen
        for), else the IT power of the controller's
        operating point at ``limit_tok_s`` (:func:`dcsim.engine.pools.pool_operating_point`, the
        power a fluid facility draws serving that rate: the budget when power binds), at the lane's sample share, so a
        request run at a binding limit uses the contract as the fluid does even where the
        simulated replicas serve at a different rate per clock than the node tables (measured
        in docs/engine.md "Request fidelity at a binding power limit"). A fractional level runs
        the tick's first part at the upper level and the rest at the lower one: a mix of two
        operating points in time, as the frontier mixes them across replicas. At the lowest level the frontier
        serves its rate with some replicas at full load and the others idle: where evenly loaded replicas serving
        the tick's work (``work_tok_s``: held and arriving, at most the limit; sample share) draw more than the
        target by the tables, the lane routes new requests to a share of its replicas (``_share``, the most
        efficient rack group first: :meth:`_start_share`), then adjusts it on the measured power at the end of
        :meth:`tick`. The share persists while the load stays consolidated (it spreads again on the measured
        headroom), also where the loaded replicas run above the lowest clock.

        With ``controller.idle_power_down`` an uncapped tick on which a parked replica still finishes the requests
        inside it (powering down is immediate: docs/slo.md) is held to ``it_budget_w`` (the awake replicas' IT
        budget, the parked ones' charged power set aside): that replica's draw over its charged idle, read from its
        last tick (:meth:`_parked_excess`), is set aside from the budget, and where the awake replicas serving the
        tick's work at the top clock would draw more than the rest by the tables, they run at the highest clock
        level within it (:meth:`_held_level`; a hybrid sample's on its own awake replicas) plus the trim, and the tick
        goes through the capped tick's tail with that level as its clock and the awake budget as its target (the
        measured draw net of the parked replicas' idle): the trim, a hybrid sample's count-change rule, the slope, and
        at the lowest clock the consolidated share (:meth:`_start_share`, within the target less the excess). Until
        2026-12-05 such ticks ran at the top clock: the mixed hall of tests/test_power_down.py drew up to 5 % over
        its contract on 4 ticks of a 2-h sinusoid (docs/engine.md); then, later that day, held by a branch of their
        own (``_hold_to_budget``) that read a hybrid sample's level on the pool's awake curves, never consolidated and
        left the count-change rule to the next capped tick.
        """
        m = self.m
        K = m.clocks.size
        level = float(np.interp(clock, m.clocks, np.arange(K)))
        if capped and self._trim_on and self._pd is not None and self._awake_n is not None \
                and m.scenario.controller.policy == "frontier":
            level = self._awake_level(limit_tok_s, work_tok_s)
        self._level_now = level
        first, self._first_tick = self._first_tick, False
        held = None  # the level an uncapped tick is held to (_held_level), or None
        serving = None  # the curves it was read on (_serving_curves)
        if self._trim_on and ((self._parked_excess_w > _PARKED_EXCESS_MIN_W and self._awake_n is not None) or (
                first and not capped and self.may_trim_down and it_budget_w is not None
                and bool(np.isfinite(it_budget_w)))):
            # a parked replica still finishing its batch, or the lane's first tick (nothing measured yet: the
            # replicas fill from empty): held to the budget less the trim's margin by the tables, then trimmed as a
            # capped tick below (one tail: the target, the trim, consolidation at the lowest clock)
            held, serving = self._held_level(level, work_tok_s, it_budget_w, avail)
        # a single pool is trimmed down on a capped tick at the top clock too: the frontier caps there by
        # consolidating load, which evenly routed replicas do not (they draw more at the same rate); a pool of several
        # with a budget of its own aims at it at the top clock too, going below that clock only by the several-pool
        # rule (may_trim_down). Until 2026-12-04 such a pool ran untrimmed: mixed-fleet's reasoning pool at full clock
        # on its frontier's top (21:00-22:00) drew 0.5 % over its budget, and the chat pool beside it, under its own,
        # was not trimmed: the facility 0.1 % over its contract on most of those ticks
        given = budget_w is not None and bool(np.isfinite(budget_w))
        if held is None and (not self._trim_on or (level >= K - 1 - 1e-9
                                                   and not (capped and (self.may_trim_down or given)))):
            self._target_w = None
            self._share = 1.0
            self._trim = max(self._trim, 0.0)  # uncapped: a trim below the controller's clock is not carried over
            self._level_capped = None
            self._tick_level.append(level)
            return self._mix(level, t0, dt)
        policy = m.scenario.controller.policy
        mode = np.array([1 if policy == "frontier" else 2], np.int8)
        k = int(round(level))
        curves, scale = self.curves, 1.0  # the replicas' curves the target and the trim's slope are read on
        a = avail  # the share of ``curves`` serving (the first trimmed tick's clock is read on them: _first_trim)
        if held is not None:
            # held: the target is the awake replicas' IT budget (the parked ones' charged power set aside), the clock
            # the held level (read on the replicas serving, a hybrid sample's on its own awake replicas: _held_level)
            if self._awake_n is not None:
                curves, a, scale = serving
            self._target_w = float(it_budget_w) * self.frac
            level = self._level_now = held
        elif budget_w is not None and np.isfinite(budget_w):
            # several pools: the pool's share of the shared budget, the one its fluid record draws and its controller
            # clock was chosen for (PoolTicker.clock_of). Until 2026-12-04 it was the frontier's IT power at the rate
            # limit, below that share by the budget the joint split leaves unspent: the lanes trimmed to another
            # power split than the fluid model's (docs/engine.md "Request fidelity at a binding power limit")
            self._target_w = float(budget_w) * self.frac
        else:
            if self._awake_n is not None:  # idle_power_down: the awake replicas' operating point, the parked excluded
                curves, a, scale = self._serving_curves(avail)
            op = pool_operating_point(curves, m.clocks, policy, self.overhead_w, np.array([limit_tok_s]), mode,
                                      np.array([k], np.int16), np.array([a]))
            self._target_w = float(op["it_power_w"][0]) * self.frac
        if self.frac < 1.0 and self._awake_n is not None and work_tok_s is not None:
            # a hybrid sample with idle replicas powered down keeps round(awake x sample) whole replicas awake, more or
            # fewer than its share of the pool's: read the clock on them, at most the controller's (with the pool's
            # level, a sample rounded up drew up to 4 % over its target on the tick its count rose, 1.9 % over the
            # facility's contract, before the trim had measured it)
            if held is None:  # (a held level is read on them already)
                level = min(level, self._sample_level(work_tok_s, self._target_w * (1.0 - self._margin())))
            self._level_now = level
            if self._awake_n != self._awake_n_trimmed:
                # the count changed: a trim above the clock read is the tables' error on the replicas awake before;
                # not carried over (carried, the mixed hall drew 0.5 % over its contract as its sample's count rose);
                # compared with the count at the last trimmed tick, so a change on an uncapped tick between is seen
                self._trim = min(self._trim, 0.0)
            self._awake_n_trimmed = self._awake_n
        self._slope_w = self._slope_at(curves, level, scale)
        if held is None and self._level_capped is not None and level > self._level_capped:
            # the controller's level rose between two trimmed ticks (a limit changed, e.g. cooling -> power): the
            # replicas step up through the integrator, not at once (at once: 1.3 % over the contract for a tick). Not
            # on a held tick: its level is read by the tables within the budget less the trim's margin already, and
            # absorbing its rise took a second margin (until 2026-12-05, later: the fall from 00:50's held ticks
            # 2.87 to 8.45 % under the contract where 0.73 to 6.44 % keeps it; docs/engine.md).
            # A pool that may not go below its clock (several pools, a budget of its own: ``given``) absorbs it where
            # it runs at or above its useful clock (useful_clock_level), where holding the clock costs it no tokens:
            # mixed-fleet's KV-bound reasoning pool draining its backlog (its limit falling to its waiting work at a
            # constant budget, the controller's clock rising each tick) took its rises at once and drew up to 1.3 %
            # over its budget beside a chat pool given its whole full-clock draw (shared_split: useful_clock), the
            # facility over its contract (700.8 kW at 21:33; the request day +0.41 % at 22:19). A compute-bound
            # pool's useful clock is full clock, so it steps up at once as before: absorbing its rises too cost the
            # tokens split's critically loaded chat pool at 09:00 its SLO (0.457 -> 0.038; s53-rv-slo-attempt)
            if self.may_trim_down:
                self._trim -= level - self._level_capped
            elif given and self._absorb_above_useful and self._level_capped >= self._useful_level - 1e-9:
                self._trim -= level - self._level_capped
        self._level_capped = level
        if first and held is None and self.may_trim_down and not (self.frac < 1.0 and self._awake_n is not None):
            # (a held first tick's level is the one _first_trim would give: _held_level reads the same tables)
            self._first_trim(curves, a, level, work_tok_s, limit_tok_s)
        pre, self.pre_excess_w = self.pre_excess_w, 0.0
        if pre > 0.0 and held is None:
            # several pools, the shared budget capping, and this pool's draw predicted over its aim at the lowest clock
            # with the pools together over (RequestEngine._predict_over): the clock cannot take it, so the load is
            # consolidated now by that excess (what the clock's last fraction of a level takes first), as the frontier
            # the split was priced on is, instead of after a tick over the contract. Until session 54 a demand-bound pool at the lowest clock
            # waited for that tick: the two-pool 60 kW hall of tests/test_hetero.py drew up to 2.55 % over its
            # contract on the ticks its 8B pool took back its full-clock budget (docs/engine.md)
            drop = min(pre / self._slope_w, max(level + self._trim, 0.0))
            self._trim -= drop
            pre -= drop * self._slope_w
        if pre > 0.0 and held is None and level + self._trim <= 1e-9:
            x = self._walk(self._share * self._n_up, -pre)
            self._share = min(max(x, _X_MIN) / self._n_up, self._share)
        elif not self.may_trim_down and level > 1e-9:
            self._share = 1.0  # a pool that may not go below its controller's clock, above the lowest level
        elif level + self._trim <= 1e-9 and self._share >= 1.0:
            # at the lowest clock: where even load there draws more than the target, start from the tables'
            # consolidated share, instead of learning it over several ticks above the contract
            # (a held tick: within the target less a parked replica's excess, as its level is)
            work = limit_tok_s * self.frac if work_tok_s is None else work_tok_s
            self._share = self._start_share(work, self._target_w * (1.0 - self._margin()) - self._parked_excess_w)
        eff = min(max(level + self._trim, 0.0), K - 1.0)
        h, self.hold_rise_share = self.hold_rise_share, 0.0
        self._rise_held = h > 0.0 and self.last_capped is not None and eff > self.last_capped[1]
        if self._rise_held:
            # another pool at the lowest clock cannot shed its budget's fall this tick (RequestEngine._predict_over):
            # this pool holds that share of its rise for this tick only, its trim untouched
            eff -= h * (eff - self.last_capped[1])
        self._tick_level.append(eff)
        return self._mix(eff, t0, dt)

    def _first_trim(self, curves, a: float, level: float, work_tok_s: float | None, limit_tok_s: float) -> None:
        """The trim of a lane's first tick where it is capped, before it has measured one: no higher than the level at
        which the replicas of ``curves`` (``a``: their share serving) evenly loaded with the tick's work (at most the
        limit) draw the target less the trim's margin by the node tables (:meth:`_level_within`), as every later tick
        aims (:meth:`tick`). Without it the first tick ran at the controller's clock: the frontier's operating point
        at the budget, which evenly loaded simulated replicas overdraw (reference hall started at 12:00: 498.8 kW
        against 495 kW, +0.77 %; the capped mixed hall of tests/test_power_down.py +0.05 % and +0.8 %)."""
        work = (limit_tok_s * self.frac if work_tok_s is None else float(work_tok_s)) / self.frac
        lv = self._level_within(curves, a, work, self._target_w / self.frac * (1.0 - self._margin()))
        self._trim = min(self._trim, lv - level)

    def _awake_level(self, limit_tok_s: float, work_tok_s: float | None) -> float:
        """The controller's capped clock level read on the curves of the replicas awake (``idle_power_down``, several
        rack groups: :func:`dcsim.engine.controller.awake_curves`), as the fluid record reads it
        (``dcsim.engine.loop._awake_operating_point``): the tick's work (at most the limit) within the frontier's IT
        power at the limit. The loop's clock is read on an even slice of every group's curves: the ladder's first
        replicas awake (the B200s of tests/test_power_down.py's mixed hall) ran the first tick of a 60-kW run at 0.691
        where fluid's run at 0.617, 17.6 % over the contract before the trim had measured a tick."""
        m = self.m
        cv = awake_curves(m, self._pd, self._awake_k)
        lim = np.array([limit_tok_s])
        served = limit_tok_s if work_tok_s is None else min(work_tok_s / self.frac, limit_tok_s)
        op = pool_operating_point(cv, m.clocks, "frontier", self.overhead_w, np.array([served]),
                                  np.array([1], np.int8), np.array([m.clocks.size - 1], np.int16), np.array([1.0]),
                                  it_budget_w=cv.frontier("pq").it_w(lim, self.overhead_w))
        return float(np.interp(float(op["clock"][0]), m.clocks, np.arange(m.clocks.size)))

    def _parked_excess(self, parked: np.ndarray) -> float:
        """Wall power (W, sample share) the parked replicas (mask ``parked``) drew on the last tick over the idle draw
        the facility's record charges them (:attr:`_idle_tab_w`): those still finishing the requests inside them
        (powering down is immediate), read from their mean GPU power on that tick; replicas with nothing inside draw
        their idle (no excess)."""
        if not parked.any():
            return 0.0
        gof, x = self.pool.group_of, 0.0
        for g, sel in self._by_group:
            p = sel[parked[sel]]
            if p.size:
                walls = self.m.groups[g].node.wall_power(self._last_gpu_w[p])
                x += float(np.sum(np.maximum(walls - self._idle_tab_w[gof[p[0]]], 0.0)))
        return x * self._up_scale

    def _level_within(self, curves, a: float, rate_tok_s: float, allow_w: float) -> float:
        """The highest (fractional) clock level at which the replicas of ``curves`` (``a``: their share of them)
        serving ``rate_tok_s`` (the pool's, tokens/s) evenly draw at most ``allow_w`` (W, IT power with every rack's
        overhead) by the tables, at full load where the level's rate falls short of it; the lowest level where none
        does. A fractional level is a mix of two levels in time, whose power is the mix of theirs."""
        m = self.m
        K = m.clocks.size
        op = pool_operating_point(curves, m.clocks, "uniform", self.overhead_w, np.full(K, rate_tok_s),
                                  np.full(K, 2, np.int8), np.arange(K, dtype=np.int16), np.full(K, a))
        return _highest_level_within(op["it_power_w"], allow_w)

    def _sample_level(self, work_tok_s: float, allow_w: float) -> float:
        """The highest (fractional) clock level at which a hybrid sample's awake replicas (this tick's ladder), evenly
        loaded with ``work_tok_s`` (sample share), draw at most ``allow_w`` (W) as the trim measures them (rack
        overhead share in, the sample's share of the pool's parked idle out: :meth:`tick`), by the node tables
        (:func:`~dcsim.engine.tables.replica_curves`); the lowest level where none does. The draw at each level is
        ``np.interp`` on each level's rate and draw rows (a vectorised form of it, 2026-12-05, saved about 30 ms a
        simulated day and was dropped: the loop is simpler)."""
        tab, n = self._sample_tab, int(self._lad.size)
        if tab is None or tab[0] is not self._lad_cum_n or tab[1] != n or tab[2] != self._up_scale:
            c = self._lad_cum_n[n] * self._up_scale  # awake replicas per (pool-local) group
            # (K, U) the sample's awake rate at an even load, and their draw: read once per change of the ladder
            tab = self._sample_tab = (self._lad_cum_n, n, self._up_scale, np.tensordot(c, self._g_rate, axes=(0, 0)),
                                      np.tensordot(c, self._g_w, axes=(0, 0)))
        idle = self._sample_parked_idle_w + self._ovh_share - self._parked_w
        it = np.array([np.interp(min(work_tok_s, r[-1]), r, w) for r, w in zip(tab[3], tab[4])]) + idle
        return _highest_level_within(it, allow_w)

    def _serving_curves(self, avail: float) -> tuple:
        """(curves, a, scale) of the replicas serving with ``controller.idle_power_down`` (``avail``: their share of
        the pool): in a pool of several rack groups the ladder's first on their own curves (as fluid:
        :func:`~dcsim.engine.controller.awake_curves`), a = scale = 1; with one group the pool's curves, a = scale =
        ``avail`` (their operating point is read on ``a`` of the curves, the trim's slope scaled by ``scale``)."""
        if self._awake_n is not None and self._pd is not None:
            return awake_curves(self.m, self._pd, self._awake_k), 1.0, 1.0
        return self.curves, avail, avail

    def _slope_at(self, curves, level: float, scale: float) -> float:
        """IT W per clock level at full batch near ``level`` on ``curves`` (sample share, times ``scale``: the share
        of them serving): the trim's slope (:attr:`_slope_w`)."""
        K = self.m.clocks.size
        it_full = curves.it_pq[:, -1]
        kk = min(max(int(round(level)), 0), K - 2)
        return max(float(it_full[kk + 1] - it_full[kk]) * self.frac * scale, 1e-9)

    def _held_level(self, level: float, work_tok_s: float | None, it_budget_w: float,
                    avail: float) -> tuple[float | None, tuple]:
        """The clock level of an uncapped tick on which parked replicas still finishing their requests
        (``idle_power_down``), or the replicas filling on the lane's first tick, would take the facility over its budget
        less the trim's margin by the tables (:meth:`_clock_segments`), or None where the replicas serving at the
        controller's clock ``level`` fit beside them: the highest level at which the replicas serving the tick's work
        evenly draw within ``it_budget_w`` less the margin and the parked replicas' excess (:meth:`_level_within`); a
        hybrid sample with idle replicas powered down reads it on its own awake replicas too (:meth:`_sample_level`,
        as a capped tick does; until 2026-12-05 on the pool's awake curves alone). Returned with the
        :meth:`_serving_curves` it was read on (the held tick's target and slope are read on them)."""
        curves, a, scale = self._serving_curves(avail)  # without idle_power_down: the pool's curves, ``avail`` serving
        work = float(work_tok_s) / self.frac if work_tok_s is not None else 0.0
        allow = it_budget_w * (1.0 - self._margin()) - self._parked_excess_w / self.frac
        lv = min(self._level_within(curves, a, work, allow), level)
        if self.frac < 1.0 and self._awake_n is not None and work_tok_s is not None:
            lv = min(lv, self._sample_level(work_tok_s, self.frac * allow))
        return (None if lv >= level - 1e-9 else lv), (curves, a, scale)

    def _margin(self) -> float:
        """How far below its power target the trim aims: twice the tick-to-tick scatter of the measured power (the
        contract is a per-tick ceiling), at most :data:`_MARGIN_MAX` (also before the scatter is known)."""
        return _MARGIN_MAX if self._var is None else min(2.0 * self._var ** 0.5, _MARGIN_MAX)

    # ---------------------------------------------------------------- the consolidation ladder
    def _set_ladder(self, available: np.ndarray) -> None:
        """This tick's ladder (the replicas in service, in the order of :attr:`_order`) and the arrays its walks read,
        built once per change of what they depend on — the replicas in service and the sample's in-service scale
        (``_up_scale``, hybrid) — not on every call: each replica's rack group along the ladder (``_lad_gl``), the
        cumulative count of each group's replicas along it (``_lad_cum_n``, (n + 1, groups)), the cumulative
        full-load rate at the lowest clock (``_lad_cum_rate``) and the cumulative full-load draw over idle there
        (``_lad_cum_w``, W, sample share: what :meth:`_walk` steps along; until 2026-12-04 a dict per clock level,
        which only ever held the lowest)."""
        key = self._lad_key
        if key is not None and key[1] == self._up_scale and (key[0] is available or np.array_equal(key[0], available)):
            return
        self._lad_key = (available if available is self._all_up else available.copy(), self._up_scale)
        self._lad = self._order[available[self._order]]
        gl = self.pool.group_of[self._lad]
        self._lad_gl = gl
        self._lad_cum_n = ladder_group_counts(gl, self._g_rate.shape[0])
        self._lad_cum_rate = np.concatenate([[0.0], np.cumsum(self._g_rate[:, 0, -1][gl])])
        step = np.maximum((self._g_w[:, 0, -1] - self._g_w[:, 0, 0])[gl] * self._up_scale, 1e-9)
        self._lad_cum_w = np.concatenate([[0.0], np.cumsum(step)])

    def _at(self, arr: np.ndarray, level: float) -> np.ndarray:
        """``arr`` (groups, clock levels, load points) at a fractional clock ``level``: (groups, load points)."""
        K = arr.shape[1]
        lo = min(max(int(np.floor(level + 1e-9)), 0), K - 1)
        f = level - lo
        if lo >= K - 1 or f < 1e-9:
            return arr[:, lo]
        return (1.0 - f) * arr[:, lo] + f * arr[:, lo + 1]

    def _counts(self, x: float) -> np.ndarray:
        """Replicas of each rack group among the first ``x`` of this tick's ladder (the last one a fraction)."""
        gl = self._lad_gl
        x = min(max(x, 0.0), float(gl.size))
        nf = int(np.floor(x + 1e-12))
        c = self._lad_cum_n[nf].copy()
        if nf < gl.size and x > nf:
            c[gl[nf]] += x - nf
        return c

    def _pred_w(self, x: float, rate: float, level: float) -> float:
        """The tables' IT power (W, sample share, its rack overhead included) of the first ``x`` replicas of the
        ladder serving ``rate`` tokens/s (sample share) at a common load fraction (at most full load), the others
        idle, at clock ``level``."""
        R, W = self._at(self._g_rate, level), self._at(self._g_w, level)
        c, call = self._counts(x), self._lad_cum_n[-1]
        tot = c @ R
        u = float(np.interp(rate, tot, self._u)) if tot[-1] > 0 else 1.0
        wu = np.array([np.interp(u, self._u, w) for w in W])
        return float(c @ wu + (call - c) @ W[:, 0]) * self._up_scale + self._ovh_share

    def _walk(self, x: float, dw: float) -> float:
        """``x`` loaded replicas of the ladder moved by ``dw`` W of full-load draw over idle at the lowest clock (each
        replica by its own group's draw: a B200 replica of 70B adds 472 W, an H100 one 812 W; ``_lad_cum_w``)."""
        cum = self._lad_cum_w
        n = np.arange(cum.size, dtype=float)
        return float(np.interp(float(np.interp(x, n, cum)) + dw, cum, n))

    def _loaded_slope_w(self, level: float) -> float:
        """IT W (sample share) per clock level of the replicas a consolidated share loads, at full load."""
        K = self.m.clocks.size
        kk = min(max(int(np.floor(level + 1e-9)), 0), K - 2)
        c = self._counts(float(self._replicas(self._share)))
        return max(float(c @ (self._g_w[:, kk + 1, -1] - self._g_w[:, kk, -1])) * self._up_scale, 1e-9)

    def _start_share(self, rate: float, aim: float | None = None) -> float:
        """The share of the replicas in service that gets new requests at the lowest clock: 1 where evenly loaded
        replicas serving ``rate`` (tokens/s, sample share) draw no more than the target by the tables; else the
        whole replicas of the ladder, most efficient group first, that serve ``rate`` at a common load within the
        target less the trim's margin, or ``aim`` (W, sample share: a held tick's, less a parked replica's excess), at
        least the whole ones that serve it at full load, at least one. The tables' draw grows with the
        replicas sharing the rate, so the count is the largest whole one within the aim, found by bisection over whole
        counts (until 2026-12-04 a 40-step bisection over a fractional count, rounded after: the same count,
        ``tests/test_fidelity.py::test_the_start_share_is_the_fractional_bisection_it_replaced``)."""
        n = self._lad.size
        if n == 0 or rate <= 0.0:
            return 1.0
        aim = self._target_w * (1.0 - self._margin()) if aim is None else aim
        if self._pred_w(float(n), rate, 0.0) <= aim:
            return 1.0
        cum = self._lad_cum_rate
        full = min(max(float(np.interp(rate, cum, np.arange(cum.size, dtype=float))), 1.0), float(n))
        lo, hi = int(np.floor(full + 1e-9)), n  # the draw at hi is over the aim
        if self._pred_w(float(lo), rate, 0.0) > aim:
            if lo == 1 and self._pred_w(1.0, self._walk_rate(0), 0.0) > aim:
                # one replica at full load at the lowest clock is over the aim: below one replica from the start, the
                # door admitting what the tables fit (tick); until session 55 one whole replica, its first tick over
                # the contract (the 7 kW hall of tests/test_fidelity.py: +2.9 %)
                return max(self._admit_within(aim) / self._walk_rate(0), _X_MIN) / n
            return lo / n
        while hi - lo > 1:  # the draw at lo is within the aim
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if self._pred_w(float(mid), rate, 0.0) <= aim else (lo, mid)
        return lo / n

    def _spread(self, aim: float, meas: float) -> bool:
        """Consolidated and under ``aim`` (W): spread the load on more replicas, the clock at its lowest level, in
        whole replicas, one more only where the headroom holds its full-load draw (the door holds work, so a
        replica that gets requests fills at once). Loaded above the lowest clock, first as many replicas more at the
        lowest clock as the draw the higher clock takes and the headroom hold. False where a whole replica more
        does not fit (then the loaded replicas may run above the lowest clock: :meth:`tick`)."""
        head = aim - meas
        if head <= 0.0:
            return True
        n = self._n_up
        x = self._share * n
        now = self._replicas(self._share)
        eff = self._level_now + self._trim
        if eff > 1e-9:
            if not self.may_trim_down and self._trim <= 0.0:
                return True  # the controller's clock, which this pool may not go below
            free = self._pred_w(float(now), np.inf, eff) - self._pred_w(float(now), np.inf, 0.0)
            j = int(np.floor(self._walk(float(now), head + free) + 1e-9))
            if j > now:
                self._share = min(j / n, 1.0)
                self._trim = -self._level_now
                return True
            return False
        up = self._walk(x, _GAIN_UP * head)
        if int(np.ceil(up - 1e-9)) > now and head < self._walk_w(now):
            if x < 1.0 - 1e-9:  # one replica's admission below its full rate (tick): up to that rate first
                self._share = min(up, 1.0) / n
                return True
            self._share = max(x, float(now)) / n
            return False
        self._share = min(up / n, 1.0)
        return True

    def _count_fractional(self, dt: float, limit_tok_s: float, served: float, meas: float) -> None:
        """A tick whose frontier point needs a fractional count of loaded replicas (:attr:`fractional_s`)."""
        self.fractional_s += dt
        self._fractional_x += dt * self._frontier_x(limit_tok_s)
        self._fractional_tok[0] += served
        self._fractional_tok[1] += limit_tok_s * self.frac * dt
        self._fractional_w[0] += meas * dt
        self._fractional_w[1] += self._target_w * dt

    def fractional_note(self) -> dict | None:
        """Where the frontier's point needed a fractional count of loaded replicas this lane could not load (run
        above the lowest clock, or one replica over its target): the time, the mean count, and the measured gap
        (tokens served against the limit, IT power against the target, on those ticks); None if never."""
        t, w = self._fractional_tok, self._fractional_w
        if self.fractional_s <= 0.0 or t[1] <= 0 or w[1] <= 0:
            return None
        x = self._fractional_x / self.fractional_s
        if x >= FRACTIONAL_REPLICAS_BELOW * self.frac or (t[0] / t[1] > 1.0 - _FRACTIONAL_GAP and w[0] <= w[1]):
            # many replicas (one is a small part of the load: 16 racks at 280 kW, 112 of 128, read -2.6 % with the
            # filling ticks), or neither fewer tokens than the limit beyond the fidelities' band nor over the target
            return None
        return {"pool": self.m.pools[self.index].name, "replicas": int(self.pool.n), "seconds": self.fractional_s,
                "frontier_replicas": self._fractional_x / self.fractional_s,
                "tokens_vs_limit": t[0] / t[1] - 1.0,
                "it_vs_target": w[0] / w[1] - 1.0, "door_shut_s": self.door_shut_s}

    def _admit_within(self, aim: float) -> float:
        """The largest rate (tokens/s, sample share) the first replica of the ladder serves at the lowest clock, the
        others in service idle, whose IT power by the tables (:meth:`_pred_w`) is within ``aim`` (W, sample share); 0
        where the idle pool alone is over it. Bisection on the tables' draw, which grows with the rate."""
        r0 = self._walk_rate(0)
        if r0 <= 0.0 or self._pred_w(1.0, 0.0, 0.0) > aim:
            return 0.0
        if self._pred_w(1.0, r0, 0.0) <= aim:
            return r0
        lo, hi = 0.0, 1.0
        for _ in range(30):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if self._pred_w(1.0, mid * r0, 0.0) <= aim else (lo, mid)
        return lo * r0

    def _walk_rate(self, i: int) -> float:
        """Full-load rate (tokens/s) at the lowest clock of the ``i``-th replica of the ladder."""
        if i >= self._lad.size:
            return 0.0
        return float(self._g_rate[int(self._lad_gl[i]), 0, -1])

    def _walk_w(self, i: int) -> float:
        """Full-load draw over idle (W, sample share) at the lowest clock of the ``i``-th replica of the ladder."""
        if i >= self._lad.size:
            return np.inf
        g = int(self._lad_gl[i])
        return float(self._g_w[g, 0, -1] - self._g_w[g, 0, 0]) * self._up_scale

    def _frontier_x(self, limit_tok_s: float) -> float:
        """Replicas (fractional) of the ladder the frontier loads at full load at the lowest clock serving the
        limit (sample share)."""
        cum = self._lad_cum_rate
        return float(np.interp(limit_tok_s * self.frac, cum, np.arange(cum.size, dtype=float)))

    def _relax_trim(self, err: float) -> None:
        """Under the target by ``err`` clock levels: a trim below the controller's clock goes back towards it at
        half gain, never above it."""
        self._trim = min(self._trim + _GAIN_UP * max(err, 0.0), 0.0)

    def _replicas(self, share: float) -> int:
        """Whole replicas of the ones in service this tick that a consolidated ``share`` routes new requests to."""
        return max(1, int(np.ceil(share * self._n_up - 1e-9)))

    def _mix(self, level: float, t0: float, dt: float) -> list:
        """The tick's clock segments for a (fractional) clock ``level``: one whole level, or the first part
        at the upper level and the rest at the lower one (a mix of two operating points in time, as the
        frontier mixes them across replicas; replicas keep step tables per clock level)."""
        clocks = self.m.clocks
        K = clocks.size
        lo = int(np.floor(level + 1e-9))
        f = level - lo
        if f < _MIX_MIN or lo >= K - 1:
            return [(t0 + dt, float(clocks[min(lo, K - 1)]))]
        if f > 1.0 - _MIX_MIN:
            return [(t0 + dt, float(clocks[lo + 1]))]
        return [(t0 + f * dt, float(clocks[lo + 1])), (t0 + dt, float(clocks[lo]))]

    def _refill(self, door_tok_s: float, dt: float, open_door: bool = False) -> float:
        """Add a tick's tokens (``door_tok_s x dt``) to the door's bucket, two ticks deep; returns the depth
        (tokens). Open (``open_door``): the bucket holds everything held. A debt (negative bucket, left by an answer
        longer than the depth: :meth:`_release`) is repaid first."""
        depth = door_tok_s * dt * 2 + 1.0
        self._bucket = max(depth, float(self._hold_tok)) if open_door else min(self._bucket + door_tok_s * dt, depth)
        return depth

    def _admit(self, arrivals: tuple, door_tok_s: float, dt: float, t1: float, open_door: bool = False):
        """The door's step of a tick ending at ``t1``: queue ``arrivals`` (t, cls, n_in, n_out) in its FIFO, refill the
        bucket at ``door_tok_s`` (:meth:`_refill`), release (:meth:`_release`) and clamp the bucket to its depth.
        Returns :meth:`_release`'s (released, shed)."""
        t, n_out = arrivals[0], arrivals[3]
        if t.size:
            self._hold.append(arrivals)
            self._hold_n += t.size
            self._hold_tok += int(n_out.sum())
        depth = self._refill(door_tok_s, dt, open_door)
        rel, shed = self._release(t1)
        self._bucket = min(self._bucket, depth)
        return rel, shed

    def _release(self, t1: float):
        """Take requests from the door queue in FIFO order: those waiting more than hold_limit
        (at ``t1``) are shed; the others are released while the token bucket holds their output
        tokens: each request goes while the tokens released before it this tick are under the bucket, and is
        charged its whole answer, so the last one may leave the bucket in debt (at most its answer), which the next
        ticks repay before anything else is released. The door so never blocks on an answer longer than the bucket
        (until 2026-12-05 the head went only when its whole answer fitted: a longer one blocked the door until the
        hold limit shed it), and over a run releases the limit's worth, at most ``limit x time`` plus one answer
        (docs/engine.md, the door). Returns
        (released arrays (t_arrival, cls, n_in, n_out) or None, shed (2, k) array of class and output tokens)."""
        if not self._hold:
            return None, _NO_SHED
        if self._hold_tok <= self._bucket and not any(t1 - b[0][0] > self.hold_limit for b in self._hold):
            # fast path: nothing expired and everything fits the bucket: release all
            blocks = list(self._hold)
            out = blocks[0] if len(blocks) == 1 else tuple(np.concatenate(x) for x in zip(*blocks))
            self._bucket -= float(self._hold_tok)
            self._hold.clear()
            self._hold_n = self._hold_tok = 0
            return out, _NO_SHED
        rel, shed = [], []
        while self._hold:
            t, c, i, o = self._hold[0]
            exp = (t1 - t) > self.hold_limit
            ox = np.where(exp, 0, o)
            cs = np.cumsum(ox, dtype=float)
            # a request goes while the tokens released before it are under the bucket; the bucket is charged its
            # whole answer (cs), so the last one released may leave it in debt, which the next ticks repay first
            stop = np.flatnonzero(~exp & (cs - ox >= self._bucket))
            j = int(stop[0]) if stop.size else t.size
            if j:
                e, k = exp[:j], ~exp[:j]
                shed.append(np.stack([c[:j][e], o[:j][e]]))
                rel.append((t[:j][k], c[:j][k], i[:j][k], o[:j][k]))
                self._bucket -= float(cs[j - 1])
                self._hold_n -= j
                self._hold_tok -= int(o[:j].sum())
            if j < t.size:
                self._hold[0] = (t[j:], c[j:], i[j:], o[j:])
                break
            self._hold.popleft()
        sh = np.concatenate(shed, axis=1) if shed else _NO_SHED
        if not rel:
            return None, sh
        out = tuple(np.concatenate(x) for x in zip(*rel))
        return (out if out[0].size else None), sh

    def _rack_ratio(self, g: int, walls: np.ndarray) -> float:
        """The largest draw of a whole rack of group ``g`` in the sample over its limit (the lower of its derated
        PDU rating and its cooling limit), 0 without a whole rack or a finite limit: the controller holds the
        facility's budgets, and the fluid model holds each rack to its limits, but simulated replicas' power moves
        from tick to tick (``rack_limit_exceeded_s``)."""
        lim = self.m.groups[g].limits
        per, limit = lim.replicas_per_rack, min(lim.rack_power_limit_w, lim.rack_cooling_limit_w)
        whole = walls.size // per
        if whole == 0 or not np.isfinite(limit):
            return 0.0
        return float((walls[:whole * per].reshape(whole, per).sum(axis=1) + lim.rack_overhead_w).max()) / limit

    def _in_service(self, t0: float, availability: float) -> np.ndarray:
        """Replicas in service at ``t0``; requests inside a replica that has just failed are
        taken out (``Replica.drain``) and retried first, from the start, at ``t0``."""
        n = self.pool.n
        fx = self.m.faults
        if fx is None and availability >= 1.0 and not self._any_down:  # all in service (fast path)
            return self._all_up
        if fx is not None and self.frac == 1.0:  # request fidelity: the exact failed replicas
            down = np.asarray(fx.replicas_down(t0), dtype=bool)[self.global_idx]
        else:  # hybrid: the sample loses its share of replicas, rounded to whole replicas
            up = max(1, int(round(availability * n)))
            down = np.arange(n) >= up
            # the sample's power stands for availability·n replicas in service, not the rounded count (rounding up,
            # its one replica more would draw idle power the controller's budget does not hold)
            self._up_scale = min(availability * n / up, 1.0) if up > availability * n else 1.0
        newly = np.flatnonzero(down & ~self._down)
        if newly.size:
            retry = []
            for i in newly:
                retry += self.pool.drain(int(i))
            self._requeue(retry)  # back to the front of the door queue, first to be served
            self.requeued += len(retry)
        self._down = down
        self._any_down = bool(down.any())
        return ~down if self._any_down and not down.all() else self._all_up

    def _fault_edges(self, t0: float, t1: float) -> list[float]:
        """Failure and repair times of this lane's replicas strictly inside ``(t0, t1)`` (request fidelity only; a
        hybrid sample reads the tick's mean share): where the tick is served in parts (:meth:`_serve_split`)."""
        fx = self.m.faults
        if fx is None or self.frac < 1.0 or not fx.failures:
            return []
        edges = self._edges
        if edges is None:  # every failure and repair time of this lane's replicas, sorted and unique, once per run
            mine = np.zeros(fx.replicas, dtype=bool)
            mine[self.global_idx] = True
            edges = self._edges = np.unique(np.concatenate(
                [t[mine[rep]] for rep, f0, f1 in fx.failures for t in (f0, f1)]).astype(float))
        return edges[np.searchsorted(edges, t0, side="right"):np.searchsorted(edges, t1, side="left")].tolist()

    def _serve_split(self, t0, t1, segs, edges, available, rt, ra, rc, ri, ro, headroom):
        """Serve the tick in parts cut at the failures and repairs inside it (``edges``) and the clock segments'
        change: each part on the replicas in service during it. A replica failing inside the tick stops at its
        failure (its requests are drained and retried, from the start, at the door next tick) and draws nothing
        after; one repaired inside it takes requests from its repair (where the tick's replicas are not narrowed by
        idle_power_down or consolidation, which choose at the tick's start). So each replica is in service for
        exactly the part of the tick it is up: the fluid model's time-mean over the tick
        (:meth:`dcsim.faults.FaultSchedule.availability_over`). Until 2026-12-05 request fidelity read the failed
        replicas at the tick's start only (a failure inside a tick began at the next one, a repair likewise).
        Returns the serve's (energy J per replica, finished, shed classes, shed output tokens) and the seconds each
        replica was in service."""
        fx = self.m.faults
        tm = segs[0][0] if len(segs) > 1 else None
        cuts = sorted(set(edges) | ({tm} if tm is not None and t0 < tm < t1 else set())) + [t1]
        n = self.pool.n
        energy = np.zeros(n)
        up_s = np.zeros(n)
        fins, shed_c, shed_o = [], [], []
        down = self._down.copy()
        avail = available.copy()
        simple = self._share >= 1.0 and self._awake_n is None
        start, i = t0, 0
        # the tick's requests back at the door, requeued once at its end in arrival order (each _requeue goes to the
        # queue's front: two failures in one tick requeued apart put the later batch before older requests)
        waiting = []
        for b in cuts:
            clock = segs[0][1] if tm is None or b <= tm else segs[1][1]
            j = int(np.searchsorted(rt, b, side="left")) if b < t1 else len(rt)
            if j > i and not avail.any():  # every replica down: the part's requests wait at the door
                waiting += list(zip(ra[i:j], rc[i:j], ri[i:j], ro[i:j]))
                i = j
            e, f, c, o = self.pool.serve(b, clock, rt[i:j], ra[i:j], rc[i:j], ri[i:j], ro[i:j],
                                         available=avail if avail.any() else None, headroom_w=headroom)
            energy += np.where(down, 0.0, e)
            up_s += np.where(down, 0.0, b - start)
            fins += list(f)
            shed_c.append(np.asarray(c))
            shed_o.append(np.asarray(o))
            i, start = j, b
            if b < t1:
                now = np.asarray(fx.replicas_down(b), dtype=bool)[self.global_idx]
                newly, back = now & ~down, down & ~now
                retry = []
                for r in np.flatnonzero(newly):
                    retry += self.pool.drain(int(r))
                waiting += retry
                self.requeued += len(retry)
                avail = avail & ~newly
                if simple:
                    avail = avail | back
                down = now
        self._requeue(waiting)
        self._down = down
        self._any_down = bool(down.any())
        # one part at least (t1 closes the cuts); empty parts concatenate to nothing, as the two-segment path's
        return energy, fins, np.concatenate(shed_c).astype(np.int64), np.concatenate(shed_o).astype(np.int64), up_s

    def _requeue(self, reqs: list) -> None:
        """Requests (arrival, class, input tokens, output tokens) back to the front of the door queue, oldest first."""
        reqs = sorted(reqs, key=lambda r: r[0])
        if not reqs:
            return
        a = np.array(reqs, dtype=float)
        self._hold.appendleft((a[:, 0], a[:, 1].astype(np.int64), a[:, 2].astype(np.int64), a[:, 3].astype(np.int64)))
        self._hold_n += len(reqs)
        self._hold_tok += int(a[:, 3].sum())

    def chunk_power(self, mode: np.ndarray, level: np.ndarray, parked=None) -> tuple[np.ndarray, np.ndarray]:
        """(IT W, GPU W) of this pool in the ticks since the last call (sample measured + fluid
        remainder at the controller's operating point, like a fluid facility).

        ``parked`` (``controller.idle_power_down``, one pool): per-tick arrays ``(awake fraction,
        parked wall power W, replicas asleep)`` of the facility and the run's
        :class:`~dcsim.engine.controller.PowerDown` (until 2026-12-04 rebuilt on every chunk): the sample's parked
        replicas idled in the engine and draw standby power instead; the fluid remainder serves on its awake share and
        draws its share of the parked power.
        """
        gpu = np.array(self._tick_gpu)
        it = np.array(self._tick_it_sample)
        # the fluid remainder's replicas in service: its share of the pool times the availability (a failed replica
        # draws nothing; the remainder counted its failed replicas' idle power, taking a hybrid run with failures over
        # its contract)
        share = (1.0 - self.frac) * np.array(self._tick_avail, dtype=float)  # one entry per tick, as _tick_gpu
        pd = None
        if parked is not None:  # the replicas asleep, each at its own group's idle draw (PowerDown.asleep_idle_w)
            *arrs, pd = parked
            awake, parked_w, asleep = (np.asarray(x, float) for x in arrs)
            idle_w, idle_gpu = pd.asleep_idle_w(np.array(self._tick_avail, dtype=float) * pd.replicas, asleep)
            it = it - self.frac * idle_w * (1.0 - pd.standby_fraction)  # the sample's share
            gpu = gpu - self.frac * idle_gpu
            share = awake * (1.0 - self.frac)  # awake already counts only replicas in service
        if self.frac < 1.0:
            fr = np.array(self._tick_fluid_rate)
            # a capped tick's remainder draws its share of the budget, as a fluid facility does (pool_operating_point)
            budget = self.curves.frontier("pq").it_w(np.array(self._tick_fluid_limit), self.overhead_w, share)
            given = np.array(self._tick_fluid_budget, dtype=float)  # the pool's budget share, where it was given
            budget = np.where(np.isnan(given), budget, given)
            if pd is not None and pd.by_group:
                # several rack groups, idle replicas powered down: the remainder's awake replicas are its share of the
                # ladder's first (controller.awake_curves), as fluid runs them, not a proportional slice of each group
                op = self._remainder_on_the_ladder(pd, awake, fr, mode, level, given)
            else:
                op = pool_operating_point(self.curves, self.m.clocks, self.m.scenario.controller.policy,
                                          self.overhead_w, fr, mode, level, share, it_budget_w=budget)
            # the operating point adds all rack overhead; the sample already carries its share
            it = it + op["it_power_w"] - self._ovh_share
            gpu = gpu + op["gpu_power_w"]
            if parked is not None:
                it = it + parked_w * (1.0 - self.frac)
        self._tick_gpu.clear()
        self._tick_it_sample.clear()
        self._tick_fluid_rate.clear()
        self._tick_fluid_limit.clear()
        self._tick_fluid_budget.clear()
        self._tick_avail.clear()
        return it, gpu

    def _remainder_on_the_ladder(self, pd, awake, fr, mode, level, given) -> dict:
        """:func:`pool_operating_point` of a hybrid lane's fluid remainder (a share ``1 - frac`` of the pool) serving
        ``fr`` tokens/s per tick on the curves of the ladder's first replicas awake (``awake`` of the pool), a pool of
        several rack groups with ``controller.idle_power_down``."""
        mode, level = np.asarray(mode), np.asarray(level)
        limit = np.array(self._tick_fluid_limit)

        def point(k: int, sel: np.ndarray) -> dict[str, np.ndarray]:
            cv = awake_curves(self.m, pd, k)
            a = np.full(int(sel.sum()), 1.0 - self.frac)
            b = cv.frontier("pq").it_w(limit[sel], self.overhead_w, a)
            b = np.where(np.isnan(given[sel]), b, given[sel])
            return pool_operating_point(cv, self.m.clocks, self.m.scenario.controller.policy, self.overhead_w, fr[sel],
                                        mode[sel], level[sel], a, it_budget_w=b)

        return per_awake_count(np.asarray(awake, dtype=float) * pd.replicas, point)

    def chunk_clock(self) -> np.ndarray:
        """The clock the simulated replicas ran in each tick since the last call (time mean of
        a tick split between two levels: the clock of its effective level)."""
        lv = np.array(self._tick_level, dtype=float)
        self._tick_level.clear()
        self._tick_gpus.clear()
        return np.interp(lv, np.arange(self.m.clocks.size), self.m.clocks)

    def in_flight(self) -> int:
        """Requests at the door or inside a replica (simulated part)."""
        t = self.pool.totals()
        return self._hold_n + t["enqueued"] - t["completed"] - t["shed"]


def rack_gpu_cap_w(group) -> float | None:
    """The per-GPU power limit (W) at which a whole rack of ``group`` draws its rack limit (the lower of its derated
    PDU rating and its cooling limit) with every replica at it; None where the board limit already holds the rack.

    Request and hybrid fidelity cap their simulated replicas there, as operators hold a rack under its PDU or
    rear-door rating (node power capping: the GPUs' power limit lowered, the clock throttling under it): the
    controller holds the facility's budgets, the door the pool's rate, and the cap each rack's draw, tick by tick
    (before 2026-12-04 a 22 kW rear-door rack swung to 34 kW, +55 %, on 210 s of 900 s). The fluid model holds each
    rack to its limits through its tables (:func:`dcsim.engine.tables.supply_curves`). Below the GPU's lowest
    settable limit the cap stops there (``NodeModel.limit_w``), and a rack can still draw over (counted:
    ``rack_limit_exceeded_s``)."""
    lim, node = group.limits, group.node
    limit = min(lim.rack_power_limit_w, lim.rack_cooling_limit_w)
    if not np.isfinite(limit):
        return None
    w_rep = (limit - lim.rack_overhead_w) / lim.replicas_per_rack  # wall power per replica
    n = node.gpus_per_replica
    if float(node.wall_power(n * node.limit_w)) <= w_rep:
        return None
    lo, hi = 0.0, n * node.limit_w  # the replica's GPU power whose wall power is w_rep (monotone)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if float(node.wall_power(mid)) <= w_rep else (lo, mid)
    return lo / n


def rack_capped_node(group):
    """``group.node`` with its GPUs' power limit lowered to :func:`rack_gpu_cap_w` where that binds."""
    cap = rack_gpu_cap_w(group)
    node = group.node
    if cap is None or cap >= node.power_cap_w:
        return node
    return dataclasses.replace(node, power_cap_w=cap)


def simulated_counts(sc, total: list[int]) -> list[int]:
    """Replicas simulated request by request in each rack group of a pool (``total``: the groups' replicas):
    all of them at request fidelity; at hybrid, ``hybrid_sample`` spread over the groups in proportion to their
    size, at least 1 each."""
    if sc.fidelity == "request":
        return list(total)
    n = min(sc.hybrid_sample, sum(total))
    raw = np.array(total, dtype=float) / sum(total) * n
    return [max(1, min(t, int(round(x)))) for t, x in zip(total, raw)]


def simulated_share(sc, gs, counts: list[int]) -> float:
    """Share of a pool's compute (rack groups ``gs``) its ``counts`` simulated replicas are: the share of the
    workload's arrivals the pool's own sample draws at hybrid fidelity (1 at request fidelity)."""
    if sc.fidelity == "request":
        return 1.0
    cap_sample = sum(c * g.table.thr_max[-1] for g, c in zip(gs, counts))
    cap_all = sum(g.limits.replicas * g.table.thr_max[-1] for g in gs)
    return float(cap_sample / cap_all)


def arrivals_multiplier(m: Models) -> float:
    """Arrivals drawn request by request per arrival of the workload: 1 at request fidelity (one sample shared
    by every pool); at hybrid the sum over pools of each pool's own sample's share (each draws the whole
    workload at its share and keeps its classes; a pool simulated whole reads the shared sample). 0 at fluid
    fidelity."""
    sc = m.scenario
    if sc.fidelity == "fluid":
        return 0.0
    if sc.fidelity == "request":
        return 1.0
    shares = []
    for pool in m.pools:
        gs = [m.groups[g] for g in pool.groups]
        shares.append(simulated_share(sc, gs, simulated_counts(sc, [g.limits.replicas for g in gs])))
    # a pool simulated whole (share 1) reads the one shared sample, as at request fidelity
    return float(any(f >= 1.0 for f in shares)) + sum(f for f in shares if f < 1.0)


class RequestEngine:
    """Serves each controller tick's arrivals on simulated replicas (see module docstring).

    Each model pool (``racks[].serves``; one pool without it) is a :class:`_Lane`: its own
    replicas, door queue and token bucket at the pool's rate limit, fed with its own classes.
    """

    def __init__(self, m: Models):
        sc = m.scenario
        self.m = m
        sv = sc.serving
        rng_sample, rng_metrics = m.stream("serving.sample"), m.stream("serving.metrics")
        offsets = np.cumsum([0] + [g.limits.replicas for g in m.groups])
        self.lanes: list[_Lane] = []
        for pi, pool in enumerate(m.pools):
            gs = [m.groups[g] for g in pool.groups]
            total = [g.limits.replicas for g in gs]
            counts = simulated_counts(sc, total)
            obj = make_pool(sv.backend, [rack_capped_node(g) for g in gs], counts, warn=False, router=sv.router,
                            min_headroom_w=sv.min_headroom_w, chunked_prefill=sv.chunked_prefill,
                            kv_watermark=sv.kv_watermark, hold_limit=float(sc.controller.hold_limit))
            #: share of the pool's compute simulated request by request
            frac = simulated_share(sc, gs, counts)
            wl = None
            if frac < 1.0:
                # The sample's own arrival stream: the workload at frac of its rate (exact thinning
                # for Poisson and time-varying Poisson arrivals; for renewal, MMPP and trace arrivals a
                # rate-scaled copy of the process), keeping this pool's classes. The fluid remainder
                # takes the expected rest.
                arr = sc.workload.arrivals
                spec = sc.workload.model_copy(update={"arrivals": arr.model_copy(update={"scale": arr.scale * frac})})
                ss = child_seed(rng_sample, 0) if not m.multi_pool else m.stream(f"serving.sample.{pool.name}")
                # the lane differs in arrivals.scale only: the run's resolved classes (their windows' sums made once)
                wl = build_workload(spec, ss, sc.base_dir, start_hour=m.start_hour, max_context=m.context_window,
                                    warn=False, classes=m.workload.classes)
            gidx = np.concatenate([np.arange(offsets[g], offsets[g] + c) for g, c in zip(pool.groups, counts)])
            self.lanes.append(_Lane(m, pi, counts, obj, frac, wl, gidx))
        self.frac = self.lanes[0].frac if len(self.lanes) == 1 else None
        self.lanes[0].may_trim_down = len(self.lanes) == 1
        cls = m.workload.classes
        self.metrics = ServingMetrics([c.name for c in cls], [c.slo_ttft_s for c in cls], [c.slo_tpot_s for c in cls],
                                      sample_size=sv.latency_sample_size, seed=rng_metrics)
        self._lane_of_class = np.zeros(len(cls), dtype=np.int64)
        for ln in self.lanes:
            self._lane_of_class[ln.classes] = ln.index
        self._finished: list = []  # finished requests not yet in the metrics (bounded by _flush)
        self._buffered = 0
        self.run_wide_weighting = self._weigh_pools()

    def _weigh_pools(self) -> str | None:
        """Hybrid fidelity with several model pools: each pool's sample is a different share of its compute
        (``serving.hybrid.compute_share``), so the sampled requests mix the pools' classes in other proportions than
        the run does. The run-wide latency percentiles and SLO attainment weight each sampled request by the requests
        it stands for (1 / its pool's sampled share: the pools' true request shares, as the fluid estimate weights its
        pools by their served requests; ``ServingMetrics.class_weight``); returns the sentence the report carries
        (``serving.hybrid.run_wide_weighting``), None when every pool is sampled alike. Until 2026-12-04 the
        unweighted sample: on mixed-fleet at 09:00 it took 10 % of the chat pool and 16.7 % of the reasoning pool,
        and read the run-wide TTFT p99 283 s against request fidelity's 2.88 s (audit L #6). (Set here, where the
        samples are drawn, since 2026-12-04: it was applied after the run, by ``run_models``, so a request engine run
        another way reported the unweighted mix.)"""
        fr = {ln.index: float(ln.frac) for ln in self.lanes}
        if len(self.lanes) < 2 or max(fr.values()) - min(fr.values()) <= 1e-12:
            return None
        w = np.ones(len(self.m.workload.classes))
        for ln in self.lanes:
            w[np.asarray(ln.classes, dtype=np.int64)] = 1.0 / max(fr[ln.index], 1e-12)
        self.metrics.class_weight = w
        shares = ", ".join(f"{self.m.pools[ln.index].name} {100 * fr[ln.index]:.3g} %" for ln in self.lanes)
        return (f"run-wide latency_s and slo_attainment weight each sampled request by 1 / its pool's sampled share "
                f"({shares}): the pools' true request shares; per-class figures are each class's own sample")

    @property
    def pool(self):
        """The serving pool of the simulated replicas (one model pool; with several, ``lanes[i].pool``)."""
        if len(self.lanes) != 1:
            raise AttributeError("several model pools: use RequestEngine.lanes[i].pool")
        return self.lanes[0].pool

    @property
    def group_of(self) -> list[int]:
        """Rack group of each simulated replica (one model pool)."""
        return self.pool.group_of.tolist()

    @property
    def held_tok(self) -> float:
        """Output tokens carried over, waiting for admission (at the door, in the fluid remainder's queue, and in
        the replicas' queues since before the tick began), all pools: the controller's waiting work and what makes
        a tick supply-bound."""
        return sum(ln.held_tok for ln in self.lanes)

    def held_pools(self) -> list[float]:
        """:attr:`held_tok` per pool."""
        return [ln.held_tok for ln in self.lanes]

    @property
    def label_held_tok(self) -> float:
        """Output tokens held back after the tick as the binding label counts them, all pools: per pool the larger of
        its work waiting for admission and the running work its clock held back (:attr:`_Lane.label_held_tok`)."""
        return sum(ln.label_held_tok for ln in self.lanes)

    def label_held_pools(self) -> list[float]:
        """:attr:`label_held_tok` per pool."""
        return [ln.label_held_tok for ln in self.lanes]

    @property
    def requeued(self) -> int:
        return sum(ln.requeued for ln in self.lanes)

    def _flush(self) -> None:
        """Hand buffered finished requests to the streaming metrics in one vectorized call."""
        if self._finished:
            self.metrics.add(FinishedBatch.concat(self._finished))
            self._finished.clear()
            self._buffered = 0

    # ------------------------------------------------------------------ per tick
    def tick(self, t0: float, dt: float, limit_tok_s: float, clock: float, availability: float = 1.0,
             awake: float | None = None, capped: bool = False, open_door: bool = False,
             it_budget_w: float | None = None):
        """Serve ``[t0, t0+dt)`` (one pool); returns (served tokens/s, waiting tokens, shed tokens,
        arrived tokens).

        ``availability`` is the fraction of replicas in service: new requests are routed only to
        the first ``round(availability · n)`` replicas (requests already inside a failed replica
        finish there — a simplification). ``awake``: the fraction serving when
        ``controller.idle_power_down`` parks the rest; ``open_door``: only compute limits;
        ``it_budget_w``: the serving replicas' IT budget this tick, the parked ones' power set aside with
        ``idle_power_down`` (see :meth:`_Lane.tick`).
        """
        ln = self.lanes[0]
        wl = ln.workload if ln.workload is not None else self.m.workload
        return ln.tick(self, wl.sample(t0, t0 + dt), t0, dt, limit_tok_s, clock, availability, awake, capped,
                       open_door, it_budget_w=it_budget_w)

    def tick_pools(self, t0: float, dt: float, limits: list[float], clocks: list[float],
                   availability: list[float] | None = None, open_door: bool | list[bool] = False,
                   budgets: list[float] | None = None):
        """Serve ``[t0, t0+dt)`` for every pool at its own rate limit, clock and fraction of
        replicas in service (``open_door``, per pool or for all: uncapped, its limit is its compute ceiling);
        ``budgets``: each pool's IT budget (W; :attr:`dcsim.engine.pools.PoolTicker.budgets`, inf where its limit
        does not bind), the power its lane aims at when capped; returns one (served tokens/s, waiting tokens, shed
        tokens, arrived tokens) per pool."""
        availability = availability if availability is not None else [1.0] * len(self.lanes)
        if isinstance(open_door, bool):
            open_door = [open_door] * len(self.lanes)
        shared = None
        out = []
        self._predict_over(budgets, clocks)
        for ln in self.lanes:
            if ln.workload is not None:
                ab = ln.workload.sample(t0, t0 + dt)
                keep = self._lane_of_class[ab.cls] == ln.index
            else:
                if shared is None:
                    shared = self.m.workload.sample(t0, t0 + dt)
                ab = shared
                keep = self._lane_of_class[ab.cls] == ln.index
            ab = ArrivalBatch(ab.t[keep], ab.cls[keep], ab.n_in[keep], ab.n_out[keep])
            bw = None if budgets is None else float(budgets[ln.index])
            out.append(ln.tick(self, ab, t0, dt, limits[ln.index], clocks[ln.index], availability[ln.index],
                               capped=bw is not None and bool(np.isfinite(bw)), open_door=open_door[ln.index],
                               budget_w=bw))
        # next tick a pool's trim may go below its controller clock only if the pools together drew more than their
        # targets (their shares of the facility's budget, which sum to it on a tick the shared budget caps) this tick
        # and this pool more than its own: one pool over its share while another is under keeps the contract, and
        # trimming the pool that is not over costs its tokens
        draw = [ln.capped_draw() for ln in self.lanes]
        capped = [d for d in draw if d is not None]
        over = bool(capped) and sum(m for m, _ in capped) > sum(t for _, t in capped)
        for ln, d in zip(self.lanes, draw):
            ln.may_trim_down = over and d is not None and d[0] > d[1]
        return out

    def _predict_over(self, budgets: list[float] | None, clocks: list[float]) -> None:
        """Before a tick the shared budget caps (every pool a finite budget) after another: each pool's draw predicted
        from the last tick's (:attr:`_Lane.last_capped`), moved along the clock from the level it ran to the one it runs now
        (the controller's plus its trim) by its slope (W per level at full batch). A pool at the lowest clock cannot
        follow a fall of its budget by the clock, and its load was consolidated only after a tick over
        (:meth:`_Lane.tick`). Where such a pool's predicted draw exceeds its aim (its budget less the trim's margin) and
        the pools together would exceed theirs, it may go below its clock now and consolidates by its excess
        (:attr:`_Lane.pre_excess_w`, :meth:`_Lane._clock_segments`); since routing moves only new requests and its
        batches in flight draw on, the pools whose clock rises this tick hold, for this tick only, the share of their
        rise that covers the facility's predicted excess (:attr:`_Lane.hold_rise_share`). Where the others' slack covers
        the stuck pool's excess nothing changes, so no pool loses tokens there. Until session 54 that pool waited for
        the tick over: the two-pool 60 kW hall of tests/test_hetero.py, its 70B pool demand-bound at the lowest clock
        drawing 27.4 kW evenly loaded, went 2.2 to 2.55 % over its contract on the ticks its budget fell from 27.5 to
        26.2 kW as the 8B pool beside it took its full-clock budget back (docs/engine.md, "The contract at either
        fidelity"). Where the pools together would go over, a pool running above its controller's clock on a trim of
        its own and predicted over its aim steps that trim down now by its excess, at most to that clock (session 55:
        the 26 kW two-pool hall of tests/test_hetero.py went up to +0.686 % over on the ticks its budget fell).

        Assumptions: a pool's next draw is its last measured one moved along its full-batch slope
        (:attr:`_Lane._slope_w`) from the level it ran to the controller's new level plus its trim as it stands, so the
        next tick's change of load and batch scatter are not predicted (hence the aims, with the trim's margin, not the
        budgets); the trims a lane makes inside the tick (:meth:`_Lane._clock_segments`) absorb what the prediction
        misses. A pool whose door holds work is not consolidated (its tokens, see below); the rising pools hold the
        whole predicted excess, the stuck pool's included although it also sheds its own: its consolidation moves only
        new requests, and holding only the rest left the 60 kW hall's ticks 11, 21 and 38 up to +1.15 % over (100 req/s,
        tokens; measured in session 54), half of it none over but by a share no measurement derives."""
        for ln in self.lanes:
            ln.pre_excess_w, ln.hold_rise_share = 0.0, 0.0
        if budgets is None or len(self.lanes) < 2:
            return
        last = [ln.last_capped for ln in self.lanes]
        if any(x is None for x in last) or not all(np.isfinite(float(b)) for b in budgets):
            return
        new = [float(budgets[ln.index]) * ln.frac for ln in self.lanes]
        K = self.m.clocks.size
        eff1 = [min(max(float(np.interp(clocks[ln.index], self.m.clocks, np.arange(K))) + ln._trim, 0.0), K - 1.0)
                for ln in self.lanes]
        low = [e <= 1e-9 for e in eff1]
        # the next draw: the last one moved along the clock by the lane's slope (W per level at full batch)
        pred = [meas + ln._slope_w * (e1 - eff) for ln, (meas, eff), e1 in zip(self.lanes, last, eff1)]
        aims = [t1 * (1.0 - ln._margin()) for ln, t1 in zip(self.lanes, new)]
        stuck = [lo and p > a for p, a, lo in zip(pred, aims, low)]
        # against the aims, not the budgets: the prediction moves last tick's draw along the full-batch slope and does
        # not see the next tick's scatter, so it needs the trim's margin (against the budgets the 60 kW hall's tick 1
        # at 100 req/s went +0.93 % over, measured in session 54)
        over_w = sum((p - a) / ln.frac for p, a, ln in zip(pred, aims, self.lanes))  # the whole pools', W
        if over_w <= 0.0:
            return
        for i, (ln, p, a, e1) in enumerate(zip(self.lanes, pred, aims, eff1)):
            # a pool running above its controller's clock on a trim of its own (the whole replicas of a consolidated
            # share run above the lowest clock: docs/engine.md "At the lowest clock"), predicted over its aim: its
            # budget fell (another pool took it back), and the trim, integrated only after a tick, would have drawn
            # the tick past it: it steps down now by its excess, at most to the controller's clock. Until session 55
            # the 26 kW two-pool hall of tests/test_hetero.py went up to +0.69 % over its contract on such ticks
            # (a consolidated share: only its loaded replicas' draw moves with the clock, _Lane._loaded_slope_w; the
            # pool's full-batch slope took the step a third of the way: +0.29 % over)
            slope = ln._loaded_slope_w(e1) if ln._share < 1.0 else ln._slope_w
            if ln._trim > 1e-9 and p > a and slope > 0.0:
                drop = min((p - a) / slope, ln._trim, e1)
                ln._trim -= drop
                pred[i] = p - drop * slope
                over_w -= drop * slope / ln.frac
        if not any(stuck) or over_w <= 0.0:
            return
        for ln, p, a, st in zip(self.lanes, pred, aims, stuck):
            # not a pool whose door holds work (power-bound at the lowest clock, not demand-bound): consolidating it
            # cuts its tokens while its work waits, and its share spread back as the work drained overshot: the 60 kW
            # hall at 120 req/s under shared_split tokens fell into a 4-tick cycle 8 to 13 % under the contract, -1.84 %
            # tokens (session 54 review); the rising pools' hold below covers its excess alone there (+0.16 % at most)
            if st and ln.held_tok < 1.0:
                ln.pre_excess_w = p - a
                ln.may_trim_down = True
        # the pools whose clock rises hold that share of their rise this tick (consolidating alone left the hall's
        # tick 20 at +1.39 %: the consolidation moves only new requests, and the batches in flight draw on)
        rise = [max(p - x[0], 0.0) / ln.frac for p, x, ln in zip(pred, last, self.lanes)]
        tot = sum(r for r, st in zip(rise, stuck) if not st)
        if tot > 0.0:
            for ln, r, st in zip(self.lanes, rise, stuck):
                if r > 0.0 and not st:
                    ln.hold_rise_share = min(over_w / tot, 1.0)

    def chunk_power(self, mode: np.ndarray, level: np.ndarray, parked=None) -> dict:
        """IT and GPU power (W) of the ticks since the last call (sample measured + fluid modelled),
        for the facility and (``pool_*``, shape (ticks, pools)) per pool.

        ``mode`` and ``level`` are the controller's operating mode and clock level of each of
        those ticks; the fluid remainder runs at that operating point like a fluid facility. With several pools
        ``mode`` is each pool's own (ticks, pools) (:meth:`dcsim.engine.pools.PoolTicker.decide`), which its lane's
        fluid remainder runs at: until 2026-12-04 every lane was given the facility's (capped when any pool is), so
        an uncapped pool's remainder took the capped branch at the frontier's IT power at its rate limit (no figure
        moved: at its full-clock limit that budget holds even load at full clock).
        """
        self._flush()
        modes = np.asarray(mode)
        parts = [ln.chunk_power(modes[:, ln.index] if modes.ndim == 2 else modes, level, parked) for ln in self.lanes]
        it = np.stack([p[0] for p in parts], axis=1)
        gpu = np.stack([p[1] for p in parts], axis=1)
        # the simulated replicas' clock per tick and pool (the controller's, trimmed when capped)
        gpus = np.array(self.lanes[0]._tick_gpus, dtype=float)  # one pool: its sample's GPUs serving (read before
        # chunk_clock clears them)
        clk = np.stack([ln.chunk_clock() for ln in self.lanes], axis=1)
        if len(parts) == 1:
            # sample_share 1: every replica simulated (request fidelity, not a hybrid sample), so the replicas' clock is
            # the facility's: the record labels an uncapped tick on which the lane ran them below full clock as capped
            # (loop._record_chunk); a hybrid sample's clock is not (its fluid remainder ran at the controller's)
            return {"it_power_w": parts[0][0], "gpu_power_w": parts[0][1], "pool_it_power_w": it,
                    "pool_gpu_power_w": gpu, "replica_clock": clk[:, 0], "pool_replica_clock": clk,
                    "sample_share": float(self.lanes[0].frac), "sample_gpus": gpus}
        return {"it_power_w": it.sum(axis=1), "gpu_power_w": gpu.sum(axis=1), "pool_it_power_w": it,
                "pool_gpu_power_w": gpu, "pool_replica_clock": clk}

    # ------------------------------------------------------------------ results
    def in_flight(self) -> int:
        """Requests at the door or inside a replica (simulated part)."""
        return sum(ln.in_flight() for ln in self.lanes)

    def report(self, duration_s: float) -> dict:
        """Latency, SLO attainment, goodput and request accounting (simulated replicas)."""
        self._flush()
        rep = self.metrics.to_report(duration_s)
        req = rep["requests"]
        counted = req["completed"] + req["shed"] + self.in_flight()
        if counted != req["arrived"]:
            raise InvariantError(f"requests not accounted: arrived {req['arrived']} != completed+in_flight+shed {counted}")
        req["in_flight"] = self.in_flight()
        # goodput is, per pool, the share of the finished output that met its SLOs times the output the pool
        # served. The output counts as it is generated (and, at hybrid fidelity, as the fluid remainder serves
        # it), a request's SLO is known when it finishes: the finished requests' good tokens over the run alone
        # left out the tokens in flight at its end from "met SLO" but not from the output (a 10-minute run of
        # 7k-token outputs: 0.61 of the output met its SLOs, 0.81 of the requests), and at hybrid fidelity
        # dividing the sample's good tokens by its compute share read ~2 points low the same way.
        good, done = self.metrics.good_tokens, self.metrics.tokens_out
        total = 0.0
        for ln in self.lanes:
            sel = self._lane_of_class == ln.index
            d = float(done[sel].sum())
            total += ln.served_tok * (float(good[sel].sum()) / d if d > 0 else 0.0)
        rep["goodput_tok_s"] = total / duration_s
        if any(ln.frac < 1.0 for ln in self.lanes):
            # latency and SLOs come from the sample
            rep["hybrid"] = {"sampled_replicas": sum(ln.pool.n for ln in self.lanes),
                             "compute_share": self.frac if len(self.lanes) == 1 else
                             {self.m.pools[ln.index].name: ln.frac for ln in self.lanes}}
            if self.run_wide_weighting is not None:
                rep["hybrid"]["run_wide_weighting"] = self.run_wide_weighting
        out = {k: rep[k] for k in ("latency_s", "slo_attainment", "goodput_tok_s", "queue_delay_s", "requests")}
        out["serving"] = {k: v for k, v in rep.items() if k not in out}
        out["preemptions"] = sum(ln.pool.totals()["preemptions"] for ln in self.lanes)
        out["consolidation_s"] = {self.m.pools[ln.index].name: ln.consolidation_s for ln in self.lanes}
        out["requests"]["requeued_after_failure"] = int(self.requeued)
        out["rack_limit_exceeded_s"] = max((ln.rack_over_s for ln in self.lanes), default=0.0)
        out["_rack_over_ratio"] = max((ln.rack_over_ratio for ln in self.lanes), default=1.0)
        out["_fractional"] = [x for x in (ln.fractional_note() for ln in self.lanes) if x is not None]
        out["_input_tokens_pools"] = [ln.served_in_tok for ln in self.lanes]  # for the report's tokens.input
        return out

    def latency_samples(self) -> dict:
        """Per-class bounded samples of TTFT, TPOT and e2e latency (s) for CDF plots."""
        out = {}
        for name in self.metrics.class_names:
            s = self.metrics.sample(name)
            out[name] = {"ttft_s": s["ttft_s"], "tpot_s": s["tpot_s"], "e2e_s": s["e2e_s"]} if "ttft_s" in s else {
                "ttft_s": s.get("ttft"), "tpot_s": s.get("tpot"), "e2e_s": s.get("e2e")}
        return out
