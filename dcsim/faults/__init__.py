"""Exogenous faults: replica failures and repairs, chiller outages, curtailments, heat waves.

:func:`build_faults` samples every random failure/repair time once, up front, from the seeded
stream of the scenario (vectorized per-replica renewal processes), and returns a
:class:`FaultSchedule` the engine queries, vectorized over ticks (mid-times ``t`` or starts ``t0`` and length ``dt``,
s):

* ``availability(t)``        fraction of replicas in service, 0..1 (piecewise constant); ``availability_over(t0, dt)``
  its mean over each tick, which the engine reads;
* ``curtailment_windows()``  the curtailments' windows and their multipliers on the utility cap (enforced over
  whole ticks, as the grid's curtailment requests: :func:`dcsim.engine.flex.curtailment_caps`);
* ``weather_over(t0, dt, t_db_c, t_wb_c)`` outdoor temperatures of each tick [t0, t0 + dt) with the heat waves'
  offsets at their mean strength over it (degC);
* ``cooling_factor_over(t0, dt)`` multiplier on heat-rejection capacity over each tick (chiller / cooling-unit
  failures), its time-mean over the tick: a failure covering a share f of a tick acts on it by f.

This package is a leaf model beside :mod:`dcsim.power` and :mod:`dcsim.thermal`: it imports only
the scenario specs. Running a fault-free baseline and costing each fault window is orchestration
and lives in :mod:`dcsim.engine.run`.

Renewal model (``node_failures``): each replica alternates up and down. Up times are exponential
or Weibull with mean ``mtbf``; down (repair) times are fixed or exponential with mean ``repair``.
With ``initial: stationary`` the process starts in its stationary state: down with probability
``repair/(mtbf+repair)``, the remaining time drawn from the equilibrium (residual-life)
distribution — for a Weibull(k, λ) life that is ``λ·G^(1/k)``, ``G ~ Gamma(1/k, 1)``
(Cox, *Renewal Theory*, 1962, §7.2: residual-life density S(x)/mean). Several ``node_failures``
entries on the same replicas are independent failure modes; a replica is out while any of them
holds it down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
from pydantic import TypeAdapter

from dcsim.scenario.faults import (
    CoolingFailureSpec,
    CurtailmentSpec,
    FaultsSpec,
    HeatWaveSpec,
    NodeFailuresSpec,
    window_errors,
)

__all__ = [
    "FaultSchedule",
    "build_faults",
    "fault_specs",
    "sample_renewal",
    "merge_down_intervals",
    "covered_fraction",
    "cooling_factor_mean",
    "MAX_FAILURE_EVENTS",
]

#: upper bound on sampled failure intervals (memory guard: 3 float64/int64 arrays of this size)
MAX_FAILURE_EVENTS = 20_000_000


# --------------------------------------------------------------------------- sampling

def _child(seed_seq: np.random.SeedSequence, i: int) -> np.random.SeedSequence:
    """The i-th child of ``seed_seq`` without mutating its spawn counter (same result every call)."""
    return np.random.SeedSequence(entropy=seed_seq.entropy, spawn_key=tuple(seed_seq.spawn_key) + (i,),
                                  pool_size=seed_seq.pool_size)


def _weibull_scale(mean: float, k: float) -> float:
    """Scale λ of a Weibull(k) with the given mean: mean = λ·Γ(1 + 1/k)."""
    return mean / math.gamma(1.0 + 1.0 / k)


def _draw_up(rng: np.random.Generator, spec: NodeFailuresSpec, size) -> np.ndarray:
    """Fresh times to failure, s."""
    if spec.distribution == "weibull":
        return rng.weibull(spec.shape, size) * _weibull_scale(spec.mtbf, spec.shape)
    return rng.exponential(spec.mtbf, size)


def _draw_down(rng: np.random.Generator, spec: NodeFailuresSpec, size) -> np.ndarray:
    """Repair times, s."""
    if spec.repair_distribution == "fixed":
        return np.full(size, float(spec.repair))
    return rng.exponential(spec.repair, size)


def _residual_up(rng: np.random.Generator, spec: NodeFailuresSpec, n: int) -> np.ndarray:
    """Remaining up time of a replica found up at a random moment (equilibrium distribution), s."""
    if spec.distribution == "weibull":
        k = spec.shape
        return _weibull_scale(spec.mtbf, k) * rng.gamma(1.0 / k, 1.0, n) ** (1.0 / k)
    return rng.exponential(spec.mtbf, n)  # memoryless


def _residual_down(rng: np.random.Generator, spec: NodeFailuresSpec, n: int) -> np.ndarray:
    """Remaining repair time of a replica found down at a random moment, s."""
    if spec.repair_distribution == "fixed":
        return rng.uniform(0.0, spec.repair, n)
    return rng.exponential(spec.repair, n)


def sample_renewal(spec: NodeFailuresSpec, n: int, duration_s: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Down intervals of ``n`` replicas over ``[0, duration_s)``: arrays ``(replica, fail_s, repair_s)``.

    Every interval starts before ``duration_s`` (it may end after it); an interval starting at
    0 means the replica was already down when the run began (``initial: stationary``).
    Vectorized in blocks of cycles over all replicas still inside the horizon.
    """
    if n <= 0:
        e = np.empty(0)
        return e.astype(np.int64), e, e
    cycle = spec.mtbf + spec.repair
    expected = n * (duration_s / cycle + 2.0)
    if expected > MAX_FAILURE_EVENTS:
        raise ValueError(f"node_failures: about {expected:.3g} failures to sample ({n} replicas, mtbf "
                         f"{spec.mtbf:g} s, {duration_s:g} s run) exceeds {MAX_FAILURE_EVENTS:g}; "
                         "use a larger mtbf or a shorter run")
    reps, fails, repairs = [], [], []
    idx = np.arange(n)
    if spec.initial == "stationary":
        down0 = rng.random(n) < spec.repair / cycle
        first_down = _residual_down(rng, spec, n)
        reps.append(idx[down0])
        fails.append(np.zeros(int(down0.sum())))
        repairs.append(first_down[down0])
        up_start = np.where(down0, first_down, 0.0)
        first_up = np.where(down0, _draw_up(rng, spec, n), _residual_up(rng, spec, n))
    else:
        up_start = np.zeros(n)
        first_up = _draw_up(rng, spec, n)
    alive = up_start < duration_s
    idx, up_start, first_up = idx[alive], up_start[alive], first_up[alive]
    block = int(min(64, max(2, math.ceil(1.5 * duration_s / cycle) + 2)))
    first = True
    while idx.size:
        m = idx.size
        up = _draw_up(rng, spec, (m, block))
        if first:
            up[:, 0] = first_up
            first = False
        down = _draw_down(rng, spec, (m, block))
        ends = up_start[:, None] + np.cumsum(up + down, axis=1)   # repair times
        starts = ends - down                                      # failure times
        keep = starts < duration_s
        reps.append(np.broadcast_to(idx[:, None], (m, block))[keep])
        fails.append(starts[keep])
        repairs.append(ends[keep])
        more = ends[:, -1] < duration_s
        idx, up_start = idx[more], ends[more, -1]
    return (np.concatenate(reps).astype(np.int64), np.concatenate(fails), np.concatenate(repairs))


def merge_down_intervals(rep: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step function of the number of replicas down, from possibly overlapping per-replica intervals.

    Returns ``(times, down)``: from ``times[i]`` on (until ``times[i+1]``) ``down[i]`` replicas are
    out; before ``times[0]`` none. A replica held down by two overlapping intervals counts once.
    """
    if rep.size == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    t = np.concatenate([t0, t1])
    d = np.concatenate([np.ones(rep.size, dtype=np.int64), -np.ones(rep.size, dtype=np.int64)])
    r = np.concatenate([rep, rep])
    order = np.lexsort((-d, t, r))  # by replica, then time; failures before repairs at equal times
    t, d = t[order], d[order]
    cnt = np.cumsum(d)               # each replica's events sum to 0, so the count restarts per replica
    prev = cnt - d
    went_down = (prev == 0) & (cnt > 0)
    came_up = (prev > 0) & (cnt == 0)
    sel = went_down | came_up
    tt = t[sel]
    dd = np.where(went_down[sel], 1, -1)
    o = np.argsort(tt, kind="stable")
    return tt[o], np.cumsum(dd[o])


# --------------------------------------------------------------------------- schedule

def _active(t: np.ndarray, start: float, end: float) -> np.ndarray:
    return (t >= start) & (t < end)


def covered_fraction(t0_s, dt_s: float, start_s: float, end_s: float) -> np.ndarray:
    """Share (0..1) of each interval [t0, t0 + dt) that lies in [start, end): the time-weighted reading of a fault
    window over a controller tick (:meth:`FaultSchedule.cooling_factor_over`, :meth:`FaultSchedule.weather_over`).
    Positive exactly where the two half-open intervals overlap (the rule of :func:`dcsim.power.grid.overlaps`)."""
    t0 = np.asarray(t0_s, dtype=float)
    dt = float(dt_s)
    return np.clip(np.minimum(t0 + dt, end_s) - np.maximum(t0, start_s), 0.0, dt) / dt


def cooling_factor_mean(fails, t0_s, dt_s: float) -> np.ndarray:
    """Time-mean over each interval [t0, t0 + dt) of the product of the multipliers ``factor`` of the windows
    ``fails`` = [(start_s, end_s, factor), ...] in force (1 where none is), exact: the product is piecewise constant
    between the windows' edges, so its deficit 1 − product integrates to a piecewise-linear function of time, read at
    both ends of each interval. Overlapping failures multiply (two 50 % losses leave 25 %), as at an instant."""
    t0 = np.asarray(t0_s, dtype=float)
    dt = float(dt_s)
    if not fails:
        return np.ones(t0.shape)
    edges = np.unique(np.array([x for a, b, _ in fails for x in (a, b)], dtype=float))
    mids = 0.5 * (edges[:-1] + edges[1:])
    val = np.ones(mids.shape)
    for a, b, f in fails:
        val = np.where(_active(mids, a, b), val * f, val)
    deficit = np.concatenate([[0.0], np.cumsum((1.0 - val) * np.diff(edges))])  # ∫ (1 − product) up to each edge
    lost = np.interp(t0 + dt, edges, deficit) - np.interp(t0, edges, deficit)    # constant outside the edges
    return 1.0 - lost / dt


def down_seconds_over(times, down, t0_s, dt_s: float) -> np.ndarray:
    """Replica-seconds down over each interval [t0, t0 + dt) of the step function ``down[i]`` replicas out from
    ``times[i]`` on (none before ``times[0]``; :func:`merge_down_intervals`), exact: its integral is piecewise linear
    in time, read at both ends of each interval (the count after the last step holds to any later time)."""
    t = np.asarray(times, dtype=float)
    d = np.asarray(down, dtype=float)
    t0 = np.asarray(t0_s, dtype=float)
    if t.size == 0:
        return np.zeros(t0.shape)
    cum = np.concatenate([[0.0], np.cumsum(d[:-1] * np.diff(t))])  # ∫ down from -inf to each step

    def integral_to(x):
        return np.interp(x, t, cum) + np.maximum(x - t[-1], 0.0) * d[-1]  # 0 before the first step

    return integral_to(t0 + float(dt_s)) - integral_to(t0)


@dataclass
class FaultSchedule:
    """Sampled faults of one run, queried vectorized over times ``t`` (s). See module docstring."""

    duration_s: float
    replicas: int
    interconnect_w: float | None
    specs: tuple = ()
    down_times: np.ndarray = field(default_factory=lambda: np.empty(0))
    down_count: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    failures: list = field(default_factory=list)  # per node_failures entry: (replica, fail_s, repair_s)

    def without(self, j: int) -> "FaultSchedule | None":
        """This schedule with fault entry ``j`` removed and every other entry's sampled failures kept
        as drawn (``None`` when no entry is left): the run "without this fault, the others as they
        were" that a fault's own (marginal) cost is measured against."""
        specs = self.specs[:j] + self.specs[j + 1:]
        if not specs:
            return None
        node_idx = [k for k, s in enumerate(self.specs) if isinstance(s, NodeFailuresSpec)]
        drop = node_idx.index(j) if j in node_idx else -1
        failures = [f for k, f in enumerate(self.failures) if k != drop]
        if failures:
            times, down = merge_down_intervals(np.concatenate([f[0] for f in failures]),
                                               np.concatenate([f[1] for f in failures]),
                                               np.concatenate([f[2] for f in failures]))
        else:
            times, down = np.empty(0), np.empty(0, dtype=np.int64)
        return FaultSchedule(duration_s=self.duration_s, replicas=self.replicas, interconnect_w=self.interconnect_w,
                             specs=specs, down_times=times, down_count=down, failures=failures)

    # -- engine hooks -------------------------------------------------------------------------
    def availability(self, t) -> np.ndarray:
        """Fraction of replicas in service at ``t`` (piecewise constant, 0..1)."""
        t = np.asarray(t, dtype=float)
        if self.down_times.size == 0 or self.replicas <= 0:
            return np.ones(t.shape)
        i = np.searchsorted(self.down_times, t, side="right") - 1
        down = np.where(i >= 0, self.down_count[np.clip(i, 0, None)], 0)
        return 1.0 - down / float(self.replicas)

    def availability_over(self, t0_s, dt_s: float) -> np.ndarray:
        """Fraction of replicas in service (0..1) over each tick [t0, t0 + dt): the time-mean of :meth:`availability`
        over the tick, exact (the count down is piecewise constant: 1 − ∫ down dt / (replicas · dt)), so a failure
        covering a share f of a tick takes f of that replica from it, and one spanning ticks acts on each by the share
        it covers — the whole-tick rule cooling failures, heat waves (:meth:`cooling_factor_over`,
        :meth:`weather_over`) and curtailments follow. Until 2026-12-05 the engine read :meth:`availability` at the
        tick's middle: a 1-min failure at 17:05 inside a 15-min tick starting 17:00 cost nothing, and one covering a
        tick's second half took the whole tick."""
        t0 = np.asarray(t0_s, dtype=float)
        dt = float(dt_s)
        if self.down_times.size == 0 or self.replicas <= 0:
            return np.ones(t0.shape)
        return 1.0 - down_seconds_over(self.down_times, self.down_count, t0, dt) / (dt * float(self.replicas))

    def curtailment_windows(self) -> list[tuple[float, float, float]]:
        """``(start_s, end_s, factor)`` of each ``curtailment`` fault: the interconnect cap is ``factor`` (0..1) × the
        contract during ``[start_s, end_s)``. The engine enforces them as the utility's curtailment requests, by one
        rule (:func:`dcsim.engine.flex.curtailment_caps`: a tick any part of which lies in one runs at the lowest cap
        in force over it). Until 2026-12-05 the factor was read at each tick's middle (``interconnect_factor(t)``): a
        curtailment shorter than half a tick, or the part of one past its last tick's middle, was not enforced."""
        return [(float(s.start), float(s.end), self._curtail_factor(s)) for s in self.specs
                if isinstance(s, CurtailmentSpec)]

    def cooling_factor_over(self, t0_s, dt_s: float) -> np.ndarray:
        """Multiplier (0..1) on heat-rejection capacity over each tick [t0, t0 + dt): the time-mean over the tick of
        the product of the outages in force (``1 − capacity_loss`` each), so a failure covering a share f of a tick
        takes ``capacity_loss × f`` of that tick's capacity (:func:`cooling_factor_mean`).

        Time-weighted, not the worst case the meter cap takes (:func:`dcsim.engine.flex.curtailment_caps`): the cap
        is a limit on the meter at every instant, while heat-rejection capacity acts through the heat the plant moves
        over the tick, an energy (the capacity's mean over the tick × the tick), and the loop's and room's thermal
        masses ride through a loss shorter than a tick (docs/thermal-dynamics.md). Until 2026-12-05 the factor was
        read at the tick's middle: a failure shorter than a tick, or starting past its middle, was seen or missed
        depending on where the middle fell (a 1-min total failure at 17:05 inside a 15-min tick was lost)."""
        fails = [(float(s.start), float(s.end), 1.0 - float(s.capacity_loss)) for s in self.specs
                 if isinstance(s, CoolingFailureSpec)]
        return cooling_factor_mean(fails, t0_s, dt_s)

    def weather_over(self, t0_s, dt_s: float, t_db_c, t_wb_c) -> tuple[np.ndarray, np.ndarray]:
        """Outdoor dry- and wet-bulb (degC) of each tick [t0, t0 + dt) with the heat waves' offsets added at their
        mean strength over the tick (:meth:`heat_wave_mean_strength`): a heat wave covering a share f of a tick at
        full strength raises that tick's outdoor temperature by f × its offset. Time-weighted for the reason
        :meth:`cooling_factor_over` is: the ambient acts on the plant through the heat it rejects over the tick.
        ``t_db_c``, ``t_wb_c`` are the weather's own figures of the ticks. Until 2026-12-05 the offset was read at
        the tick's middle (a heat wave starting past a tick's middle left that tick unchanged)."""
        t0 = np.asarray(t0_s, dtype=float)
        db = np.array(np.broadcast_to(np.asarray(t_db_c, dtype=float), t0.shape))
        wb = np.array(np.broadcast_to(np.asarray(t_wb_c, dtype=float), t0.shape))
        for s in self.specs:
            if isinstance(s, HeatWaveSpec):
                w = self.heat_wave_mean_strength(s, t0, dt_s)
                db = db + s.offset * w
                wb = wb + (s.offset if s.wet_bulb_offset is None else s.wet_bulb_offset) * w
        return db, wb

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def heat_wave_strength(s: HeatWaveSpec, t: np.ndarray) -> np.ndarray:
        """0..1: linear ramp up over ``ramp`` after start, full, linear ramp down before the end."""
        t = np.asarray(t, dtype=float)
        if s.ramp <= 0:
            return _active(t, s.start, s.end).astype(float)
        w = np.minimum((t - s.start) / s.ramp, (s.end - t) / s.ramp)
        return np.clip(w, 0.0, 1.0) * _active(t, s.start, s.end)

    @staticmethod
    def heat_wave_mean_strength(s: HeatWaveSpec, t0_s, dt_s: float) -> np.ndarray:
        """0..1: the mean of :meth:`heat_wave_strength` over each interval [t0, t0 + dt), exact (the strength is
        piecewise linear: 0 before the start, ramping to full over ``ramp``, full, ramping down to 0 at the end; the
        scenario keeps the two ramps within the wave, a triangle at most)."""
        t0 = np.asarray(t0_s, dtype=float)
        dt = float(dt_s)
        a, b = float(s.start), float(s.end)
        r = float(s.ramp)
        if r <= 0:
            return covered_fraction(t0, dt, a, b)
        knots = np.array([a, a + r, b - r, b])  # the scenario refuses 2 x ramp > duration (a triangle at most)
        vals = np.clip(np.minimum((knots - a) / r, (b - knots) / r), 0.0, 1.0)

        def integral_to(t):  # ∫ strength from -inf to t: each linear piece by the trapezoid rule (exact)
            out = np.zeros(np.shape(t))
            for k0, k1, v0, v1 in zip(knots[:-1], knots[1:], vals[:-1], vals[1:]):
                if k1 <= k0:
                    continue
                u = np.clip(t, k0, k1)
                out = out + (u - k0) * (v0 + (v0 + (v1 - v0) * (u - k0) / (k1 - k0))) / 2.0
            return out

        return (integral_to(t0 + dt) - integral_to(t0)) / dt

    def _curtail_factor(self, s: CurtailmentSpec) -> float:
        if s.fraction is not None:
            return float(s.fraction)
        if not self.interconnect_w or self.interconnect_w <= 0:
            raise ValueError("curtailment with an absolute cap needs the facility interconnect "
                             "(build_faults(..., interconnect_w=...))")
        return float(min(1.0, s.cap / self.interconnect_w))

    def replicas_down(self, t: float) -> np.ndarray:
        """Which replicas (global index, rack groups in scenario order) are out at time ``t`` (bool array).

        For request fidelity: the engine can requeue the requests of exactly these replicas.
        Consistent with :meth:`availability`: ``replicas_down(t).mean() == 1 - availability(t)``.
        """
        down = np.zeros(self.replicas, dtype=bool)
        for rep, f0, f1 in self.failures:
            act = (f0 <= t) & (t < f1)
            down[rep[act]] = True
        return down

    def down_replica_seconds(self, t0: float = 0.0, t1: float | None = None) -> float:
        """Integral of replicas down over ``[t0, t1)`` (replica·s): :func:`down_seconds_over`, the one integral the
        engine's whole-tick availability reads (until 2026-12-05 a second copy of it, summed piecewise here)."""
        t1 = self.duration_s if t1 is None else t1
        if self.down_times.size == 0 or t1 <= t0:
            return 0.0
        return float(down_seconds_over(self.down_times, self.down_count, float(t0), float(t1) - float(t0)))

    def window_events(self) -> list[tuple[float, str, int]]:
        """Start and end times (s) of every windowed fault, sorted: ``(t_s, "start"|"end", spec index)``.

        Node failures are not listed: their many per-replica changes stay vectorized in
        :meth:`availability`; the engine schedules these rare window edges as simpy events.
        """
        out = []
        for i, s in enumerate(self.specs):
            if isinstance(s, (CoolingFailureSpec, CurtailmentSpec, HeatWaveSpec)):
                out.append((float(s.start), "start", i))
                if s.end < self.duration_s:
                    out.append((float(s.end), "end", i))
        return sorted(out)

    def windows(self) -> list[dict]:
        """One entry per fault: ``kind, start_s, end_s, description`` (+ facts for node failures)."""
        out = []
        fi = 0
        for s in self.specs:
            if isinstance(s, NodeFailuresSpec):
                rep, f0, f1 = self.failures[fi]
                fi += 1
                n_fail = int(np.count_nonzero(f0 > 0))
                dist = s.distribution + (f" k={s.shape:g}" if s.distribution == "weibull" else "")
                down_s = float(np.sum(np.minimum(f1, self.duration_s) - f0))
                out.append({
                    "kind": s.kind, "start_s": 0.0, "end_s": float(self.duration_s),
                    "description": (f"replica failures{' in group ' + repr(s.group) if s.group else ''}: MTBF "
                                    f"{s.mtbf / 3600:g} h ({dist}), repair {s.repair / 3600:g} h "
                                    f"({s.repair_distribution}); {n_fail} failures during the run, "
                                    f"{int(np.count_nonzero(f0 == 0))} replicas down at start"),
                    "failures": n_fail,
                    "replica_hours_down": down_s / 3600.0,
                })
            elif isinstance(s, CoolingFailureSpec):
                out.append({"kind": s.kind, "start_s": s.start, "end_s": s.end,
                            "description": f"cooling failure: heat-rejection capacity -{100 * s.capacity_loss:g}%"})
            elif isinstance(s, CurtailmentSpec):
                f = self._curtail_factor(s)
                what = (f"interconnect cap to {100 * s.fraction:g}% of contract" if s.fraction is not None
                        else f"interconnect cap to {s.cap / 1e6:g} MW" + (" (no effect: above the contract)" if f >= 1 else ""))
                out.append({"kind": s.kind, "start_s": s.start, "end_s": s.end,
                            "description": f"curtailment: {what}", "interconnect_factor": f})
            elif isinstance(s, HeatWaveSpec):
                wb = s.offset if s.wet_bulb_offset is None else s.wet_bulb_offset
                out.append({"kind": s.kind, "start_s": s.start, "end_s": s.end,
                            "description": f"heat wave: +{s.offset:g} K dry-bulb, +{wb:g} K wet-bulb"
                                           + (f", ramp {s.ramp / 3600:g} h" if s.ramp > 0 else "")})
        return out


def fault_specs(spec: Any) -> tuple:
    """The validated fault specs of ``spec`` (a list of specs or raw dicts; ``None`` → ``()``)."""
    if spec is None:
        return ()
    if isinstance(spec, (list, tuple)) and all(
            isinstance(s, (NodeFailuresSpec, CoolingFailureSpec, CurtailmentSpec, HeatWaveSpec)) for s in spec):
        return tuple(spec)
    return TypeAdapter(FaultsSpec).validate_python(spec)


def build_faults(spec: Sequence | None, seed_seq: np.random.SeedSequence, replicas: int | Mapping[str, int],
                 duration_s: float, *, interconnect_w: float | None = None) -> FaultSchedule | None:
    """Sample the scenario's faults once; ``None`` when there are none.

    ``spec``: the scenario's ``faults`` (a list of fault specs, or raw dicts to validate).
    ``seed_seq``: the faults stream of the run (``Models.seeds['faults']``); entry ``i`` draws from
    its own child ``i`` (derived without mutating ``seed_seq``, so building twice gives the same
    schedule). ``replicas``: total replica count, or ``{group name: replicas}`` in scenario order
    (needed for ``group:``). ``interconnect_w``: the contract cap, needed for absolute curtailments.
    """
    specs = fault_specs(spec)
    if not specs:
        return None
    late = window_errors(specs, float(duration_s))
    if late:
        raise ValueError("; ".join(f"{p}: {r}" for p, r in late))
    if isinstance(replicas, Mapping):
        names = list(replicas)
        counts = [int(replicas[k]) for k in names]
    else:
        names, counts = [], [int(replicas)]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    total = int(offsets[-1])
    reps, t0s, t1s, failures = [], [], [], []
    for i, s in enumerate(specs):
        if isinstance(s, CurtailmentSpec) and s.cap is not None and not interconnect_w:
            raise ValueError(f"faults[{i}]: curtailment cap given in W but the interconnect is unknown "
                             "(pass interconnect_w to build_faults)")
        if not isinstance(s, NodeFailuresSpec):
            continue
        if s.group is not None:
            if s.group not in names:
                raise ValueError(f"faults[{i}].group: no rack group named {s.group!r} "
                                 f"(groups: {', '.join(names) if names else 'unnamed'})")
            g = names.index(s.group)
            lo, n = int(offsets[g]), counts[g]
        else:
            lo, n = 0, total
        rng = np.random.default_rng(_child(seed_seq, i))
        try:
            r, a, b = sample_renewal(s, n, float(duration_s), rng)
        except ValueError as e:
            raise ValueError(f"faults[{i}].mtbf: {e}") from None
        failures.append((r + lo, a, b))
        reps.append(r + lo)
        t0s.append(a)
        t1s.append(b)
    if reps:
        times, down = merge_down_intervals(np.concatenate(reps), np.concatenate(t0s), np.concatenate(t1s))
    else:
        times, down = np.empty(0), np.empty(0, dtype=np.int64)
    return FaultSchedule(duration_s=float(duration_s), replicas=total,
                         interconnect_w=None if interconnect_w is None else float(interconnect_w),
                         specs=tuple(specs), down_times=times, down_count=down, failures=failures)
