"""Issue 18 in the tick loop: utility curtailment requests, price and carbon, on-site storage,
thermal dynamics (GPU thermal throttling) and deferrable work (docs/grid.md,
docs/thermal-dynamics.md).

The engine (:func:`dcsim.engine.loop.simulate`) evaluates its exogenous inputs per chunk of
ticks, vectorized, and steps only the queue per tick. Storage and thermal masses carry state
from tick to tick, and their state changes what the controller may do at the next tick, so
they are stepped per tick — but only while they are **engaged**:

* a battery is engaged while it is not full, during a curtailment request or its notice, or
  when the work waiting does not fit the meter target (cap, or ``shave_to``) at full clock;
  otherwise it idles at full charge and changes nothing;
* the thermal masses are engaged from the first tick whose heat exceeds the plant's capacity
  (a chiller trip, a hot hour; the tick's heat is estimated only where the largest possible
  IT heat would exceed it) until they are back at their steady state
  (loop at its set point, white space at set point + Q/UA, tank full, no throttle or shed).
  Outside, the plant holds its set point and the temperatures are the steady state of each
  tick's heat (quasi-steady: the white space follows the heat within C_s/UA ≈ 1 min).

A battery-engaged tick computes its exact IT and facility power (the same functions the chunk's
record uses, on one tick); a thermal-only tick estimates them on a per-chunk grid of IT powers
(linear interpolation) and the record then re-steps the thermal masses with the exact heat
(:meth:`FlexChunk.settle`). Each tick then steps :func:`dcsim.power.storage.battery_dispatch_step` and
:func:`dcsim.thermal.dynamics.thermal_step`. Their effect reaches the controller:

* during a curtailment request the battery raises the tick's meter budget by what it can
  discharge now (its power limit and state of charge); outside requests the controller keeps
  the meter under the contract as before and a ``peak_shave`` battery only lowers the meter
  towards ``shave_to`` — unless ``shave_to`` is at or above the cap: then the battery holds the
  meter at the cap while the site runs above it on stored energy (what ``dcsim plan
  --curtailment --storage`` assumes). The tick's rates are interpolated linearly between the chunk's
  exogenous inputs at the cap and at cap + the battery's power limit (IT budget and rate are
  concave in the meter budget, so the interpolation errs low: conservative); the exact
  dispatch then covers the tick's actual excess, and what it cannot cover is counted as the
  meter exceeding its cap (``storage.unmet_energy_j``);
* the thermal model gives the GPU power that keeps the die at its limit at the new
  white-space temperature; the next tick's clock is held at or below the highest level whose
  GPU power serving the tick's work (:func:`group_gpu_w`: at the load that serves it, full batch
  where the level cannot) fits (thermal DVFS, mode ``uniform_cap``); when no level fits, or the
  white space passes its shutdown limit, IT is shed (replicas off) until the room is back
  ``RESTART_MARGIN_K`` under that limit and the lowest level fits again. With thermal
  dynamics on, the cooling ceiling no longer caps IT at once (heat is stored); with
  ``preemptive_cap`` it does, as in the steady model.

Deferrable work: a share of each tick's demand joins a first-in-first-out backlog with a
deadline (:class:`dcsim.workload.deferrable.DeferrableQueue`); interactive work is served
first and the deferrable backlog takes the tick's spare rate (``headroom``), or only in
cheap/clean ticks (price or carbon at or below the run's quantile) and when due within
``urgency``; it is held during curtailment notices and requests. Nothing is dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from dcsim.engine.tables import in_service_it_w, supply_curves
from dcsim.power.grid import (CurtailmentEvent, below_contract, cap_over, curtailment_events, curtailment_summary,
                              notice_over, series_at)
from dcsim.power.storage import battery_dispatch_step, battery_params, equivalent_full_cycles
from dcsim.scenario.base import FieldError
from dcsim.scenario.facility import die_limit_source
from dcsim.thermal.dynamics import ThermalState, steady_state, thermal_params, thermal_step
from dcsim.tpf import MODE_SHED
from dcsim.workload.deferrable import DeferrableQueue, signal_threshold

__all__ = ["Flex", "FlexChunk", "DieGroup", "build_flex", "curtailment_caps", "die_groups", "die_limit_errors",
           "group_gpu_w", "load_per_level", "throttle_level", "steady_die_level", "steady_die_levels",
           "die_ceiling_tok_s", "thermal_params_of",
           "run_start", "price_carbon_per_tick", "RESTART_MARGIN_K", "flex_report", "cooling_failure_times",
           "inlet_allowable_figures", "inlet_allowable_warning"]

#: IT-power grid points of the in-loop power estimate of an engaged tick (settled exactly after the chunk)
POWER_GRID = 17
#: Deferrable arrivals are bucketed at deadline / this (5 min for 24 h; lateness judged from
#: the bucket's first arrival: conservative by at most a bucket)
DEFER_BUCKETS = 288
#: GPUs shed for temperature restart once the white space is this far under its shutdown limit
#: (assumption: a hysteresis band so that shed and restart do not alternate tick by tick).
RESTART_MARGIN_K = 5.0
#: GPUs shed because a rack group's dies could not be held under their limit at the lowest clock level restart only
#: once that lowest level would hold every group's dies this far under their limit (assumption: the room's band,
#: RESTART_MARGIN_K, for the same reason — without it the shed restarted as soon as the lowest level fit and shed and
#: restart alternated every 10-30 s; at a given power a die follows its coolant one to one: 5 K of die is 5 K of room).
DIE_RESTART_MARGIN_K = 5.0
#: thermal_throttled codes: 1 the thermal throttle engaged (the masses heating past their limit: a cooling failure's
#: throttle), 2 the die limit held in normal operation (the plant at its setpoint: FlexChunk._die_hold); 0 neither
THROTTLE_ENGAGED = 1
THROTTLE_DIE_HOLD = 2
#: The die hold reads each chunk's levels at once (FlexChunk._die_table, numpy over ticks) where a tick's inputs are
#: the table's; False: the per-tick reference (steady_die_level) on every tick. Both give the same run, bit for bit
#: (tests/test_die_hold_vector.py); the switch is there for that test and the timing in docs/thermal-dynamics.md.
DIE_HOLD_VECTORISED = True
#: secant steps bounding a recovering plant's heat moved to the meter's headroom (FlexChunk._plant_cap)
PLANT_CAP_ITERS = 8
_USD_PER_MWH = 1.0 / 3.6e9
_G_PER_KWH = 1.0 / 3.6e6


def run_start(m) -> datetime:
    """The run's start as a datetime: the scenario's ``start:``, else its clock of day in 2025."""
    sc = m.scenario
    if sc.start is not None:
        return sc.start
    return datetime(2025, 1, 1) + timedelta(seconds=float(m.clock_s))


def price_carbon_per_tick(m, t_mid_s: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Energy price (USD/J) and grid carbon (g/J) at each tick mid-time: ``grid.price``/``grid.carbon``
    when given, else ``economics`` (value × hourly profile), else ``None``."""
    sc = m.scenario
    start = run_start(m)
    hour = ((np.asarray(t_mid_s, dtype=float) + m.clock_s) // 3600.0).astype(np.int64) % 24
    out = []
    for key, eco_v, eco_p, unit in (("price", sc.economics.price, sc.economics.price_profile, _USD_PER_MWH),
                                    ("carbon", sc.economics.carbon_intensity, sc.economics.carbon_profile,
                                     _G_PER_KWH)):
        spec = getattr(sc.grid, key, None) if sc.grid is not None else None
        if spec is not None:
            out.append(np.asarray(series_at(spec, t_mid_s, start, sc.base_dir, unit=unit), dtype=float))
        elif eco_v is not None:
            mult = 1.0 if eco_p is None else np.asarray(eco_p, dtype=float)[hour]
            out.append(np.broadcast_to(float(eco_v) * mult, np.shape(t_mid_s)).astype(float))
        else:
            out.append(None)
    return out[0], out[1]


def curtailment_caps(m, events=()) -> list[CurtailmentEvent]:
    """Every lowering of the meter cap in the run, as :class:`~dcsim.power.grid.CurtailmentEvent`: the
    ``curtailment`` faults (a request without notice, its cap the fault's factor × the contract) and the utility's
    requests ``events`` (``grid.curtailment``, ``Flex.events``). :func:`dcsim.engine.loop.exogenous` holds each tick to
    the lowest of them in force in any part of it (:func:`~dcsim.power.grid.cap_over`), one rule for both; the faults'
    list is built once per run (``Flex.fault_caps`` in :func:`build_flex`, else in :func:`dcsim.engine.loop.simulate`)
    and passed in (until 2026-12-05 a run with no issue-18 model rebuilt it every chunk). Until 2026-12-05 the faults
    were read at mid-tick, so a 1-min curtailment fault at 17:05 inside a 15-min tick left the reference hall at
    490 kW against its 297-kW cap, reported as met (``interconnect_exceeded_s`` 0)."""
    out = [] if m.faults is None else [CurtailmentEvent(a, b, 1.0 - f, None, 0.0)
                                       for a, b, f in m.faults.curtailment_windows()]
    return out + list(events)


def load_per_level(cv, rate_tok_s, avail) -> np.ndarray:
    """The fleet's common load fraction at each clock level serving ``rate_tok_s`` on the share ``avail`` in service,
    (K,) for one tick or (K, n) for arrays of ticks: the load that serves it, at most the level's full batch (a level
    too slow for it runs full); ``avail`` 0 (IT shed) reads every level at full batch. Read once per tick for every
    rack group (:func:`throttle_level`), and for a run's record at once (:meth:`FlexChunk._die_columns`)."""
    rate, a = np.asarray(rate_tok_s, dtype=float), np.asarray(avail, dtype=float)
    r = np.where(a > 1e-12, rate / np.where(a > 1e-12, a, 1.0), np.inf)
    return np.array([np.interp(r, rate_k, cv.u) for rate_k in cv.rate_pq], dtype=float)


def group_gpu_w(g, x, loads) -> np.ndarray:
    """Per-GPU power (W) of rack group ``g`` (:class:`DieGroup`) at each clock level, at that level's load ``loads[k]``
    (:func:`load_per_level`: (K,) for one tick, (K, n) for ticks) on the group's per-GPU curve
    (:attr:`DieGroup.gpu_w_pq`, the node tables' GPU power vs the fleet's common load fraction ``x`` = ``cv.u`` per
    clock level, rack limits applied, divided by the group's GPUs): the fleet spreading the rate evenly (uniform_cap).
    What the thermal limit compares with the GPU power the die allows (:func:`throttle_level`), and what the record's
    die column splits the fleet's GPU power by (docs/thermal-dynamics.md). One group reads the fleet's curve."""
    return np.array([np.interp(u, x, row) for u, row in zip(loads, g.gpu_w_pq, strict=True)], dtype=float)


@dataclass(frozen=True, eq=False)
class DieGroup:
    """One rack group's GPU dies under the thermal throttle: its name and GPU, its GPU count, its die limit and
    die-to-coolant resistance (``racks[].gpu_thermal``, else ``facility.thermal.gpu``), and ``gpu_pq`` (K, U), the
    GPU power (W) of all its replicas vs the fleet's common load fraction at each clock level, rack limits applied
    (the group's own share of ``SupplyCurves.gpu_pq``; the fleet's curve itself for one group); ``gpu_w_pq`` the same
    per GPU (``gpu_pq / gpus``, a tuple of its levels' rows: what :func:`throttle_level` reads on every engaged tick),
    derived here, never given (until 2026-12-05 it was a field defaulting to ``()``: a DieGroup built without it fit
    no level, and the throttle shed the fleet on its first engaged tick).

    Compared and hashed by identity (``eq=False``): its fields hold arrays, so the generated ``==`` compared them
    elementwise and raised ("truth value of an array ... is ambiguous") and ``hash()`` raised on the array (until
    2026-12-05)."""

    name: str
    gpu: str
    gpus: int
    t_limit_c: float
    r_th_k_per_w: float
    gpu_pq: np.ndarray
    gpu_w_pq: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "gpu_w_pq", tuple(np.asarray(self.gpu_pq, dtype=float) / int(self.gpus)))


def die_groups(m, p) -> list[DieGroup]:
    """The rack groups' dies of a run with thermal dynamics (resolved params ``p``: ``facility.thermal.gpu``'s limit
    and resistance, the defaults of the groups that set none). One group reads the fleet's curve and GPU count, as
    the throttle always did; several each read their own (:func:`dcsim.engine.tables.supply_curves` of the group
    alone: the fleet's curve is their sum)."""
    racks = m.scenario.racks
    out = []
    for i, g in enumerate(m.groups):
        own = racks[i].gpu_thermal
        t_lim = p.t_limit_c if own is None or own.t_limit is None else float(own.t_limit)
        r_th = p.r_th_k_per_w if own is None or own.r_th_k_per_w is None else float(own.r_th_k_per_w)
        if len(m.groups) == 1:
            curve, gpus = m.curves.gpu_pq, m.gpus
        else:
            curve, gpus = supply_curves([g.table], [g.limits]).gpu_pq, g.gpus
        out.append(DieGroup(g.name, g.gpu_name, int(gpus), t_lim, r_th, curve))
    return out


def _t_limit_field(m, i: int) -> str:
    """The field that sets rack group ``i``'s die limit: ``racks[i].gpu_thermal.t_limit`` where the group sets it,
    else ``facility.thermal.gpu.t_limit``."""
    own = m.scenario.racks[i].gpu_thermal
    return (f"racks[{i}].gpu_thermal.t_limit" if own is not None and own.t_limit is not None
            else "facility.thermal.gpu.t_limit")


def die_limit_errors(m, p, groups: list[DieGroup]) -> list[tuple[str, str]]:
    """(field, reason) of each rack group whose die limit is at or under the loop's setpoint ``p.setpoint_c`` (resolved
    params): its dies would be over their limit with the plant holding its setpoint and no GPU drawing power, so no
    level ever fits — the run would shed at its first engaged tick and could never restart. Until 2026-12-05 accepted.
    ``groups``: the run's :func:`die_groups` (built once by preflight for this and :func:`die_limit_warnings`, and by
    :func:`build_flex`)."""
    out = []
    for i, g in enumerate(groups):
        if g.t_limit_c <= p.setpoint_c:
            out.append((_t_limit_field(m, i),
                        f"{g.t_limit_c:g} °C is at or under the cooling loop's setpoint "
                        f"({p.setpoint_c:g} °C): the dies of rack group {g.name!r} would be over their limit "
                        "with the plant at its setpoint and the GPUs idle, so the thermal throttle could only "
                        f"shed; a die limit must lie above the coolant it sits in ({die_limit_source(g.gpu)})"))
    return out


def full_load_die_c(p, heat_w, g: DieGroup):
    """Die temperature (degC) of rack group ``g`` at full load in normal operation: the white space at the steady state
    of the heat ``heat_w`` (W, scalar or per tick) with the plant at its setpoint
    (:func:`dcsim.thermal.dynamics.steady_state`: T_s = setpoint + Q/UA) plus r_th x the group's highest per-GPU power
    (full clock, full batch, rack limits applied). The one full-load die test of preflight's
    :func:`die_limit_warnings` and of the run's die_risk ticks (:class:`FlexChunk`)."""
    return steady_state(p, np.asarray(heat_w, dtype=float)).t_space_c + g.r_th_k_per_w * float(np.max(g.gpu_w_pq[-1]))


def die_limit_warnings(m, p, groups: list[DieGroup], peak_it_w: float) -> list[str]:
    """One warning per rack group whose dies pass their limit at full load in normal operation: the white space at the
    steady state of the fleet's full-load heat with the plant at its setpoint (:func:`dcsim.thermal.dynamics.steady_state`,
    T_s = setpoint + Q/UA, Q the heat the plant rejects for the full-load IT power ``peak_it_w``: IT + PDU + UPS
    losses, :meth:`dcsim.thermal.facility.Facility.heat_to_reject_w`, as the engine reads it) plus r_th x the group's
    highest per-GPU power (every replica at full batch, full clock, rack limits applied). The run holds such dies at
    their limit by the clock (:func:`steady_die_level`, :meth:`FlexChunk._die_hold`: the board's DVFS at its die
    limit), so the warning says what that costs: the clock held below full wherever the work brings the dies to the
    limit, tokens lost, the binding constraint named cooling there. Until 2026-12-05 silent (a 48 degC B200 limit ran
    at 83.9 degC before the trip); later that day it warned that the run went over the limit at full clock (the die
    limit was then held only while the thermal masses were engaged); for part of that day the heat was the IT power
    alone (0.4 K low on the two-group trip: 87.8 for 88.2 degC)."""
    from dcsim.thermal.dynamics import steady_state

    heat_w = float(np.max(m.facility.heat_to_reject_w(peak_it_w)))
    t_space = steady_state(p, heat_w).t_space_c
    out = []
    for i, g in enumerate(groups):
        p_gpu = float(np.max(g.gpu_w_pq[-1]))
        t_die = float(full_load_die_c(p, heat_w, g))
        if t_die > g.t_limit_c:
            out.append(f"{_t_limit_field(m, i)}: the dies of rack group {g.name!r} ({g.gpu}) reach {t_die:.1f} °C "
                       f"at full load in normal operation ({t_space:.1f} °C white space with the plant at its "
                       f"setpoint, + {g.r_th_k_per_w:.3g} K/W x {p_gpu:.0f} W), over their {g.t_limit_c:g} °C "
                       "limit: the run holds the clock of the whole fleet at the level whose dies stay at their limit "
                       "wherever the work brings them there (thermal_throttled, the binding constraint cooling), "
                       f"at a cost in tokens; check t_limit and r_th ({die_limit_source(g.gpu)})")
    return out


def thermal_params_of(m):
    """The resolved thermal params of a run with ``facility.thermal`` (the plant's capacity and loop setpoint)."""
    fs = m.scenario.facility
    return thermal_params(fs.thermal, float(m.facility.capacity_w), _setpoint_c(fs.cooling))


def throttle_level(groups: list[DieGroup], cv, t_space_c, rate_tok_s: float, avail: float,
                   loads=None) -> tuple[int, int]:
    """(clock level, group that sets it) of the thermal throttle at white-space (coolant) temperature ``t_space_c``
    for the work ``rate_tok_s`` on the share ``avail`` in service: for each group the highest level whose per-GPU power
    serving that work keeps its dies at or under their limit, P ≤ (t_limit − T_s)/r_th (:func:`group_gpu_w`;
    -1: not even the lowest level), and the fleet's level the lowest of them — the uniform_cap the throttle sets holds
    one clock level for every replica, so the hottest group's dies set it (docs/thermal-dynamics.md, "Several rack
    groups"). The group is the first whose level is that lowest (ties: the first listed).

    The load at each level is read once for all groups (:func:`load_per_level`; ``loads`` (K,) given: those), each
    group's power at every level on its per-GPU curve (:func:`group_gpu_w`); a level fits only if it and every level
    under it do (the power is held monotone in clock: the first level over the limit bounds the fit). ``t_space_c``
    a scalar, or (K,) one white space per level (:func:`steady_die_level`: the room's steady state at each level's
    heat)."""
    us = load_per_level(cv, rate_tok_s, avail) if loads is None else loads
    t_space = np.asarray(t_space_c, dtype=float)
    best, who = None, 0
    for i, g in enumerate(groups):
        allowed = (g.t_limit_c - t_space) / g.r_th_k_per_w * (1 + 1e-12)  # allowed_gpu_power_w, scalar or (K,)
        over = group_gpu_w(g, cv.u, us) > allowed
        k = int(np.argmax(over)) - 1 if over.any() else over.size - 1  # the levels under the first one over
        if best is None or k < best:
            best, who = k, i
    return best, who


def steady_die_level(groups: list[DieGroup], cv, p, heat_w, rate_tok_s: float, avail: float,
                     overhead_w: float, fit_levels=None) -> tuple[int, int]:
    """(clock level, group that sets it) the dies can hold at their limit in normal operation: the plant at its
    setpoint, the white space at the steady state of the heat of each clock level serving the work ``rate_tok_s`` on
    the share ``avail`` in service (T_s,k = setpoint + Q_k/UA, :func:`dcsim.thermal.dynamics.steady_state`; Q_k =
    ``heat_w``(IT_k), :meth:`dcsim.thermal.facility.Facility.heat_to_reject_w`, IT_k the fleet's IT power at level k
    and the load serving the work, :func:`dcsim.engine.tables.in_service_it_w`), each group's die at
    T_s,k + r_th,g·P_g,k (:func:`group_gpu_w`). The highest level at which every group's die is at or under its limit
    (:func:`throttle_level` on the per-level white space, its 1e-12 tolerance; a level fits only if every level under
    it does); -1 when not even the lowest does.

    ``fit_levels`` (K,): the rate the budgets allow at each uniform clock level (the controller's ``fit_levels``):
    level k is read serving min(``rate_tok_s``, fit_levels[k]), the work it can serve under the power budget (until
    2026-12-05 every level was read at the whole work, hotter than a power-capped level can run: a power-capped hall
    under its die limit was held at a worse fixed clock). The top level is read first (one scalar per group) and
    returned when every group's die fits there (the power at a lower clock serving at most the same work is not higher).

    The board's own DVFS at its die limit (the law the power limit follows: docs/node.md, the clock at which
    P = P_idle + (P_max − P_idle)·f^γ meets the allowed power, here on the node tables' power per level): until
    2026-12-05 the die limit was held only while the thermal masses were engaged, and a group whose dies passed their
    limit at full load with the plant at its setpoint ran over it at full clock (a B200 at an H100's 0.0743 K/W:
    88.2 degC against 87). ``p``: the run's thermal params (``setpoint_c``, ``ua_w_per_k``)."""
    top = len(cv.rate_pq) - 1
    a = float(avail)
    rates = np.full(top + 1, float(rate_tok_s))
    if fit_levels is not None:
        rates = np.minimum(rates, np.asarray(fit_levels, dtype=float))

    def t_space_at(it_level):
        return p.setpoint_c + np.asarray(heat_w(in_service_it_w(it_level, a, overhead_w)), dtype=float) / p.ua_w_per_k

    def load(k):
        return float(np.interp(rates[k] / a, cv.rate_pq[k], cv.u)) if a > 1e-12 else float(cv.u[-1])

    u_top = load(top)
    t_top = float(t_space_at(float(np.interp(u_top, cv.u, cv.it_pq[top]))))
    if all(float(np.interp(u_top, cv.u, g.gpu_w_pq[top])) <= (g.t_limit_c - t_top) / g.r_th_k_per_w * (1 + 1e-12)
           for g in groups):
        return top, 0
    us = np.array([load(k) for k in range(top + 1)])
    it = np.array([np.interp(u, cv.u, row) for u, row in zip(us, cv.it_pq, strict=True)], dtype=float)
    return throttle_level(groups, cv, t_space_at(it), rate_tok_s, a, loads=us)


def steady_die_levels(groups: list[DieGroup], cv, p, heat_w, rate_tok_s, avail, overhead_w,
                      fit_levels=None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`steady_die_level` of many ticks at once (numpy over ticks): ``rate_tok_s`` and ``avail`` (n,) (or
    scalars, broadcast), ``overhead_w`` a scalar or (n,), ``fit_levels`` None or (n, K). Returns (levels (n,) int,
    groups (n,) int), element for element what :func:`steady_die_level` returns for that tick: the same floating-point
    operations in the same order (np.interp per level over the ticks, the heat model's arithmetic elementwise), so
    the two agree exactly (``tests/test_die_hold_vector.py`` on random cases; the per-tick function stays the
    reference oracle). :meth:`FlexChunk._die_hold` reads it once per chunk (:meth:`FlexChunk._die_table`) and the
    closed form's die ceiling (:func:`die_ceiling_tok_s`) on arrays of moments."""
    rate, a = np.broadcast_arrays(np.atleast_1d(np.asarray(rate_tok_s, dtype=float)),
                                  np.atleast_1d(np.asarray(avail, dtype=float)))
    n, K = rate.size, len(cv.rate_pq)
    top = K - 1
    ovh = np.broadcast_to(np.asarray(overhead_w, dtype=float), (n,))
    rates = np.repeat(rate[:, None], K, axis=1)
    if fit_levels is not None:
        rates = np.minimum(rates, np.broadcast_to(np.asarray(fit_levels, dtype=float), (n, K)))
    on = a > 1e-12
    us = np.empty((n, K))
    it = np.empty((n, K))
    u_last = float(cv.u[-1])
    for k in range(K):
        x = rates[:, k] / np.where(on, a, 1.0)
        us[:, k] = np.where(on, np.interp(x, cv.rate_pq[k], cv.u), u_last)
        it[:, k] = np.interp(us[:, k], cv.u, cv.it_pq[k])
    heat = np.asarray(heat_w(in_service_it_w(it, a[:, None], ovh[:, None])), dtype=float)
    t_space = p.setpoint_c + heat / p.ua_w_per_k
    level = np.full(n, K, dtype=np.int64)
    who = np.zeros(n, dtype=np.int64)
    top_ok = np.ones(n, dtype=bool)
    for i, g in enumerate(groups):
        gpu = np.empty((n, K))
        for k in range(K):
            gpu[:, k] = np.interp(us[:, k], cv.u, g.gpu_w_pq[k])
        allowed = (g.t_limit_c - t_space) / g.r_th_k_per_w * (1 + 1e-12)
        over = gpu > allowed
        top_ok &= ~over[:, top]
        kg = np.where(over.any(axis=1), np.argmax(over, axis=1) - 1, top)
        first = kg < level
        who = np.where(first, i, who)
        level = np.minimum(level, kg)
    level = np.where(top_ok, top, level)
    who = np.where(top_ok, 0, who)
    return level, who


def die_ceiling_tok_s(m, demand_tok_s, it_budget_w, gpu_scale=1.0, holder: bool = False):
    """The closed form's die ceiling (tokens/s; +inf where the dies do not hold the clock): the compute ceiling of the
    clock level the dies hold in normal operation, as the simulation's die hold sets it (:meth:`FlexChunk._die_hold`:
    the plant at its setpoint, the white space at the steady state of each level's own heat, every rack group's die at
    or under its limit; :func:`steady_die_levels`). Each level is read serving what it can of the work under the
    power budget ``it_budget_w`` (W of IT, the closed form's P budget; the uniform level's rate at it, as the
    controller's ``fit_levels``): first the demand itself; where the level held there serves it, the ceiling is that
    level's full-batch rate (the demand is met, the binding demand); where it does not, the work waiting grows, the
    levels are read at their full work (the power budget's rate) and the ceiling is the level held there: the rate
    the simulation settles at. ``gpu_scale`` the replica count's multiple (racks scale with it, as
    :func:`dcsim.engine.steady.ceilings_at`). ``None`` for a run without ``facility.thermal`` (no die hold; with it
    the hold acts whether or not the pre-emptive cap is set, as in the engine). Broadcasts ``demand_tok_s``,
    ``it_budget_w`` and ``gpu_scale``. ``holder``: also return, per moment, the index of the rack group whose dies set
    the level held (:func:`steady_die_levels`; -1 where the dies do not hold the clock): whose power band moves a
    die-set answer (:func:`dcsim.plan.die_group_band`)."""
    th = m.scenario.facility.thermal
    if th is None:
        return None
    if m.die_cache is None:  # per Models (with_interconnect builds new ones: a new plant)
        p = thermal_params_of(m)
        # the dies' groups follow the racks and their supply curves, not the plant: kept on the curves (which
        # with_interconnect shares) per default limit and resistance; plan's interconnect-for rebuilt them at every
        # trial interconnect (320 times, 7 of the die hall's 15 s under a profiler)
        own = m.curves.__dict__.setdefault("_die_groups", {})
        key = (float(p.t_limit_c), float(p.r_th_k_per_w))
        if key not in own:
            own[key] = die_groups(m, p)
        m.die_cache = (p, own[key])
    p, groups = m.die_cache
    cv = m.curves
    d, b, a = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (demand_tok_s, it_budget_w, gpu_scale)))
    shape = d.shape
    d, b, a = (np.atleast_1d(x).ravel() for x in (d, b, a))
    K = len(cv.rate_pq)
    # a·N replicas with their racks: the IT power at a level is a x the fleet's (overhead 0 in in_service_it_w),
    # the budget per unit facility as steady.ceilings_at reads it
    ovh = float(m.overhead_w)
    unit = (b - a * ovh) / a + ovh
    fit = np.stack([np.interp(unit, cv.it_pq[k], cv.rate_pq[k], left=0.0) for k in range(K)], axis=-1) * a[:, None]
    heat = m.facility.heat_to_reject_w
    k_d, w_d = steady_die_levels(groups, cv, p, heat, d, a, 0.0, fit_levels=fit)
    k_inf, w_inf = steady_die_levels(groups, cv, p, heat, np.full(d.size, np.inf), a, 0.0, fit_levels=fit)
    k_d, k_inf = np.maximum(k_d, 0), np.maximum(k_inf, 0)
    full = np.array([float(r[-1]) for r in cv.rate_pq])
    served_at_d = np.minimum(full[k_d] * a, fit[np.arange(d.size), k_d]) >= d * (1 - 1e-12)
    k = np.where(served_at_d, k_d, k_inf)
    q = np.where(k >= K - 1, np.inf, full[k] * a)
    if holder:
        who = np.where(k >= K - 1, -1, np.where(served_at_d, w_d, w_inf))
        return (q.reshape(shape), who.reshape(shape)) if shape else (float(q[0]), int(who[0]))
    return q.reshape(shape) if shape else float(q[0])


def _setpoint_c(cooling) -> float:
    """The loop temperature the plant holds: chilled-water supply, warm-water supply, or supply air."""
    for k in ("chw_supply_t", "supply_t", "supply_air_t"):
        v = getattr(cooling, k, None)
        if v is not None:
            return float(v)
    return 15.0  # as ChillerPlantSpec's default chw_supply_t


@dataclass
class Flex:
    """Issue-18 state of one run (built by :func:`build_flex`; ``None`` when the scenario uses none)."""

    m: object
    dt: float
    n_ticks: int
    contract_w: float
    events: list
    price: np.ndarray | None
    carbon: np.ndarray | None
    batt: object | None = None
    e_j: float = 0.0
    e0_j: float = 0.0
    th: object | None = None
    tstate: ThermalState | None = None
    th_free_q: bool = False           # thermal dynamics without pre-emptive cap: no instant Q ceiling
    k_th: int = 0
    th_shed: bool = False
    throttled: bool = False
    th_groups: list = field(default_factory=list)  # DieGroup of each rack group (thermal dynamics)
    th_bind: int = 0                               # the group whose dies set the throttle level (th_groups index)
    th_shed_group: int = -1  # while shed, what fired it: the group whose dies could not be held (index), -1 the room
    it_full_w: float = 0.0
    dq: DeferrableQueue | None = None
    share: float = 0.0
    open_: np.ndarray | None = None
    threshold: float | None = None
    notes: list = field(default_factory=list)  # actions for the controller log (when no sink)
    sink: object | None = None                 # the controller's log (Controller.note)
    operating_point: object | None = None      # dcsim.engine.loop.operating_point (set by simulate)
    discharging: bool = False
    busy: bool = False  # the battery is not full or the thermal masses are off their steady state
    prev_heat: float | None = None  # exact heat of the last tick of the previous chunk
    it_max_w: float = 0.0           # largest IT power of the fleet (the in-loop power grid's top)
    policy_none: bool = False
    frontier: object | None = None
    first_throttle_s: float | None = None
    first_shed_s: float | None = None
    fault_caps: list = field(default_factory=list)  # the curtailment faults' cap lowerings (curtailment_caps, once)
    # the utility requests' meter cap over each tick of the run (power.grid.cap_over) and the ticks that are a
    # request's notice (power.grid.notice_over), computed once per run by build_flex (None: no requests, or a Flex
    # built otherwise: request_caps and notice_ticks compute them for the ticks asked)
    request_cap_w: np.ndarray | None = None
    notice: np.ndarray | None = None

    @property
    def top(self) -> int:
        return self.m.clocks.size - 1

    def _precomputed(self, arr, i0: int, i1: int, dt: float):
        """``arr[i0:i1]`` where ``arr`` (a per-run array) covers ticks ``i0 .. i1-1`` of this run's tick length, else
        ``None``."""
        if arr is None or dt != self.dt or not 0 <= i0 <= i1 <= arr.size:
            return None
        return arr[i0:i1]

    def request_caps(self, i0: int, i1: int, dt: float) -> np.ndarray:
        """The utility requests' meter cap [W] over each tick ``i0 .. i1-1`` (:func:`~dcsim.power.grid.cap_over`):
        the slice of ``request_cap_w``, computed once per run, or computed here for a Flex built without it. Until
        session 53 it was computed on every call of :func:`dcsim.engine.loop.exogenous` (several per chunk)."""
        got = self._precomputed(self.request_cap_w, i0, i1, dt)
        return got if got is not None else cap_over(self.events, np.arange(i0, i1) * dt, dt, self.contract_w)

    def notice_ticks(self, i0: int, i1: int) -> np.ndarray:
        """True on the ticks ``i0 .. i1-1`` that are a request's notice (:func:`~dcsim.power.grid.notice_over` on the
        run's requests' caps, computed once per run; until session 53 the caps were recomputed in it per chunk)."""
        got = self._precomputed(self.notice, i0, i1, self.dt)
        if got is not None:
            return got
        t = np.arange(i0, i1) * self.dt
        return notice_over(self.events, t, self.dt, self.contract_w, cap_w=self.request_caps(i0, i1, self.dt))

    def battery_lift_w(self, cap_w):
        """How far [W] the battery may lift the meter budget above the cap ``cap_w`` (per tick or one figure): its
        discharge limit, for ``dispatch: events`` at most up to the contract (the battery covers a request's cut, the
        site draws no more than outside requests: until 2026-12-05 a 300-kW battery ran grid-flex at 495 kW against a
        400-kW contract during the request); a ``peak_shave`` / ``both`` battery may run the site above its contract,
        as ``dcsim plan --curtailment --storage`` assumes. The ceiling is derived here from ``batt.dispatch`` and
        ``contract_w`` on every call (until 2026-12-05 a field ``battery_ceiling_w`` set by :func:`build_flex`: a Flex
        built otherwise, or whose battery was swapped, lifted an events battery's site past its contract). Computed
        once per chunk (:func:`dcsim.engine.loop._flex_chunk`), where the budget of
        :func:`dcsim.engine.loop.exogenous` and :meth:`FlexChunk.fits` read it. A given ``power_chain.transformer_rating`` limits every budget, battery-fed or
        not, where the UPS rating does (:meth:`dcsim.thermal.facility.Facility.max_it_delivered_w`)."""
        ceiling = self.contract_w if self.batt.dispatch == "events" else math.inf
        room = np.maximum(ceiling - np.asarray(cap_w, dtype=float), 0.0)
        return np.minimum(self.batt.p_discharge_max_w, room)

    def window_events(self) -> list[tuple[float, str]]:
        """(time, what) of every request's notice, start and end inside the run, sorted."""
        out = []
        horizon = self.n_ticks * self.dt
        for i, ev in enumerate(self.events):
            for t, what in ((ev.start_s - ev.notice_s, "notice"), (ev.start_s, "start"), (ev.end_s, "end")):
                if 0.0 < t < horizon:
                    out.append((float(t), f"curtailment {what}", i))
        return sorted(out)

    def update_busy(self) -> None:
        b = self.batt
        # (a die hold in normal operation keeps every tick read until it clears: FlexChunk._die_hold)
        self.busy = (b is not None and self.e_j < b.e_max_j - 1.0) or self.tstate is not None or self.throttled

    def note(self, t_s: float, action: str, reason: str, **kw) -> None:
        entry = dict({"t_s": float(t_s), "action": action, "reason": reason}, **kw)
        (self.sink or self.notes.append)(entry)


def build_flex(m, dt: float, n_ticks: int) -> Flex | None:
    """The issue-18 models of a run, or ``None`` when the scenario sets none of ``grid``,
    ``deferrable``, ``facility.storage``, ``facility.thermal``, a price or a carbon series."""
    sc = m.scenario
    fs = sc.facility
    if sc.grid is None and sc.deferrable is None and fs.storage is None and fs.thermal is None:
        return None
    horizon = n_ticks * dt
    contract = float(m.facility.interconnect_w)
    seed = np.random.SeedSequence(sc.seed).spawn(5)[4]  # a stream of its own (the first 4 are build_models')
    events = curtailment_events(sc.grid.curtailment if sc.grid is not None else None, horizon, run_start(m), seed)
    t_mid = (np.arange(n_ticks) + 0.5) * dt
    price, carbon = price_carbon_per_tick(m, t_mid)
    fx = Flex(m=m, dt=dt, n_ticks=n_ticks, contract_w=contract, events=events, price=price, carbon=carbon,
              fault_caps=curtailment_caps(m))
    if events:  # the requests' caps and notice ticks, once per run (exogenous and FlexChunk read slices)
        t0 = np.arange(n_ticks) * dt
        fx.request_cap_w = cap_over(events, t0, dt, contract)
        fx.notice = notice_over(events, t0, dt, contract, cap_w=fx.request_cap_w)
    cv = m.curves
    fx.it_max_w = 1.05 * float(max(np.max(cv.it_pq), np.max(cv.it_c)))
    fx.policy_none = sc.controller.policy == "none"
    fx.frontier = cv.frontier("pq")
    if fs.storage is not None:
        fx.batt = battery_params(fs.storage)
        fx.e_j = fx.e0_j = fx.batt.e0_j  # the budget it may lift: Flex.battery_lift_w
    if fs.thermal is not None:
        # the die limit and resistance are facility.thermal.gpu's (each rack group's own in th_groups); its power range
        # (p_max_w, p_min_w, p_idle_w, gamma) is the standalone functions', not read here: each group's power at each
        # clock level is its node table's (die_groups). Until 2026-12-05 it was overwritten with rack group 0's table,
        # read nowhere, with the full-batch power per level (gpu_level_w)
        p = thermal_params_of(m)
        groups = die_groups(m, p)
        errs = die_limit_errors(m, p, groups)
        if errs:  # preflight refuses the same (flex_errors), naming the file; here for a direct caller
            raise FieldError(*errs[0])
        fx.th = p
        fx.th_groups = groups
        fx.th_free_q = not fs.thermal.preemptive_cap
        fx.k_th = m.clocks.size - 1
        fx.it_full_w = float(m.curves.it_pq[-1][-1])
    if sc.deferrable is not None:
        d = sc.deferrable
        fx.dq = DeferrableQueue(float(d.deadline), float(d.urgency), bucket_s=float(d.deadline) / DEFER_BUCKETS)
        fx.share = float(d.share)
        if d.policy == "headroom":
            fx.open_ = np.ones(n_ticks, dtype=bool)
        else:
            sig = price if d.policy == "cheap" else carbon
            fx.threshold = signal_threshold(sig, d.quantile)
            fx.open_ = sig <= fx.threshold
    return fx


class FlexChunk:
    """Per-tick issue-18 work inside one chunk of ticks (see the module docstring).

    ``ex`` the chunk's exogenous inputs at the cap in force (mutated in place where a battery
    raises the budget, thermal limits clocks or sheds, so the record shows what held);
    ``ex_hi_fn`` gives the same at cap + the battery's discharge limit (called on first need);
    ``ex_at(extra_w, j)`` the inputs of tick ``j`` alone at cap + ``extra_w`` (a partly drained
    battery); ``ex_tgt`` the inputs at the peak-shaving target (or ``ex``)."""

    def __init__(self, fx: Flex, ex, ex_hi_fn, ex_tgt, i0: int, ex_at=None, lift=None):
        self.fx, self.ex, self.ex_hi_fn, self.ex_hi, self.i0 = fx, ex, ex_hi_fn, None, i0
        self.ex_at = ex_at
        self.lift = None if lift is None else np.asarray(lift, dtype=float).tolist()  # ex_hi's lift per tick, W
        m = fx.m
        n = ex.t_s.size
        self.n = n
        self.cap = ex.interconnect_w.tolist()
        # a cap below the contract (a utility request or a curtailment fault): the battery covers the cut
        self.event = below_contract(ex.interconnect_w, fx.contract_w).tolist()
        # the ticks held to a utility request's cap (the grid's `curtailment` column: the report's enforced hours)
        self.request = ex.request  # (loop.exogenous, which capped them)
        # announced before the tick starts and not a request's tick (power.grid.notice_over: causal)
        self.notice = fx.notice_ticks(i0, i0 + n).tolist() if fx.events else [False] * n
        self.tgt_top = ex_tgt.fit_top.tolist()
        self.price = fx.price[i0:i0 + n].tolist() if fx.price is not None else [0.0] * n
        self.avail = ex.availability  # shed ticks set to 0 (IT off)
        self.battery_w = np.zeros(n)
        self.energy_j = np.zeros(n)
        self.b_on = self.t_on = False
        self.need = math.inf  # the tick's work, tokens/s (engaged): until set, every level at full batch
        # chunk-start state, for the exact settlement after the chunk (settle)
        self.e_start, self.tstate_start, self.prev_heat_start = fx.e_j, fx.tstate, fx.prev_heat
        self.b_flag = np.zeros(n, dtype=bool)
        self.t_flag = np.zeros(n, dtype=bool)
        self.t_enter = np.zeros(n, dtype=bool)
        self.t_exit = np.zeros(n, dtype=bool)
        self.fac_tab = self.heat_tab = None  # built on first use (_power)
        self.frontier = None  # the fleet's efficient frontier, on first use (_cap_at)
        self.lifted = -1      # the last tick whose fit_levels the battery lifted (fits)
        self.die_tab = None   # the die hold's levels of every tick at two works, on first use (_die_table)
        if fx.th is not None:
            it_max = np.minimum(ex.it_max_power_w, ex.availability * (fx.it_full_w - ex.overhead_w) + ex.overhead_w)
            heat_need = m.facility.heat_to_reject_w(it_max)
            self.risk = (np.asarray(heat_need) > ex.heat_capacity_w).tolist()
            # the ticks whose dies could pass a limit in normal operation: the room at the steady state of the tick's
            # full-load heat (every replica in service at full clock and full batch, no budget applied: a battery's
            # lift raises the budget after this is read, fits; until 2026-12-05 the budget at chunk start bounded it),
            # every group's GPUs at full clock and full batch (an upper bound: the others cannot, and are left
            # exactly as they were); on these the steady die hold is read (_die_hold)
            it_full = ex.availability * (fx.it_full_w - ex.overhead_w) + ex.overhead_w
            die_risk = np.zeros(n, dtype=bool)
            for g in fx.th_groups:
                die_risk |= full_load_die_c(fx.th, m.facility.heat_to_reject_w(it_full), g) > g.t_limit_c
            self.die_risk = die_risk.tolist()
            self.t_space = np.full(n, np.nan)
            self.t_loop = np.full(n, np.nan)
            self.tank = np.full(n, np.nan)
            self.q_out = np.full(n, np.nan)
            self.q_plant = np.full(n, np.nan)
            self.level = np.full(n, fx.top, dtype=np.int16)
            self.group = np.full(n, -1, dtype=np.int16)  # the group that set the level (-1: not engaged)
            self.throttled = np.zeros(n, dtype=np.int8)
            self.shed = np.zeros(n, dtype=np.int8)
        if fx.dq is not None:
            self.def_served = [0.0] * n
            self.def_late = [0.0] * n
            self.def_backlog = [0.0] * n
            self.gate = (fx.open_[i0:i0 + n] & ~below_contract(ex.interconnect_w, fx.contract_w)
                         & ~np.asarray(self.notice, dtype=bool)).tolist()
        b = fx.batt
        if b is None and fx.th is None:
            self.maybe = None
        elif b is not None and b.dispatch != "events":
            self.maybe = [True] * n  # peak shaving may act on any tick
        else:
            mb = np.zeros(n, dtype=bool)
            if b is not None:
                mb |= below_contract(ex.interconnect_w, fx.contract_w)
                mb |= np.asarray(self.notice, dtype=bool)
            if fx.th is not None:
                mb |= np.asarray(self.risk, dtype=bool) | np.asarray(self.die_risk, dtype=bool)
            self.maybe = mb.tolist()
        fx.update_busy()

    # -- before the controller decides --------------------------------------------------------
    def deferrable_need(self, j: int) -> tuple[bool, float]:
        """(gate open, deferrable backlog the tick may serve, tokens) — closed during notices and requests."""
        fx = self.fx
        dq = fx.dq
        if self.gate[j]:
            return True, dq.arrived - dq.served
        if dq.arrived - dq.served <= 0:
            return False, 0.0
        return False, dq._due_within(float(self.ex.t_s[j]) + fx.dt, dq.urgency_s)

    def engaged(self, j: int, need: float) -> bool:
        fx = self.fx
        b = fx.batt
        self.b_on = b is not None and (fx.e_j < b.e_max_j - 1.0 or self.event[j] or self.notice[j]
                                       or (b.dispatch != "events" and need > self.tgt_top[j]))
        self.t_on = fx.th is not None and fx.tstate is not None
        self.need = need  # the work the tick may serve (tokens/s): the thermal limit reads each level's power at it
        return self.b_on or self.t_on

    def fits(self, j: int, ftop: float, ffr: float, lv):
        """The tick's rates with the battery's available discharge added to the meter budget."""
        fx, ex = self.fx, self.ex
        b = fx.batt
        # the budget rises under a request, and for a battery holding the meter at the cap itself
        # (peak_shave/both with shave_to >= cap: the site runs above its contract on stored energy)
        if not self.b_on or b is None or not (self.event[j] or (b.dispatch != "events"
                                                                 and b.shave_to_w >= self.cap[j] * (1 - 1e-9))):
            return ftop, ffr, lv
        if self.ex_hi is None:  # the chunk's inputs at cap + the battery's discharge limit, on first use
            self.ex_hi = self.ex_hi_fn()
        hi = self.ex_hi
        top = self.lift[j]  # the lift of ex_hi (at most to the contract for dispatch: events)
        avail = min(top, max(fx.e_j - b.e_min_j, 0.0) * b.eta_discharge / fx.dt)
        f = avail / top if top > 0 else 0.0
        if f <= 0:
            return ftop, ffr, lv
        if f < 1.0 - 1e-9 and self.ex_at is not None:
            # a partly drained battery: the tick's inputs at cap + what it can still deliver, exactly
            # (interpolating between cap and cap + the full discharge limit over-states the rates
            # that fit, as the facility's power is not linear in them: the meter went over its cap)
            one = self.ex_at(avail, j)
            for name in ("power_tok_s", "it_max_power_w"):
                getattr(ex, name)[j] = float(getattr(one, name)[0])
            self.lifted = j  # this tick's fit_levels are no longer the chunk's (the die table's): _die_hold
            return float(one.fit_top[0]), float(one.fit_frontier[0]), one.fit_levels[0]
        ftop += f * (float(hi.fit_top[j]) - ftop)
        ffr += f * (float(hi.fit_frontier[j]) - ffr)
        lv = lv + f * (hi.fit_levels[j] - lv)
        for name in ("power_tok_s", "it_max_power_w"):
            a = getattr(ex, name)
            a[j] += f * (float(getattr(hi, name)[j]) - float(a[j]))
        self.lifted = j
        return ftop, ffr, lv

    def thermal_limit(self, j: int, md: int, limit: float, k: int, lv) -> tuple[int, float, int]:
        """Apply last tick's thermal limit: clock at most ``k_th`` (mode uniform_cap), or shed (mode
        :data:`~dcsim.tpf.MODE_SHED`, limit 0 at the lowest level: a placeholder no replica runs at; the loop treats
        it as a capped tick until it is recorded)."""
        fx, ex = self.fx, self.ex
        if fx.th is None:
            return md, limit, k
        if not self.t_on:
            if fx.th_free_q and self.risk[j]:  # the masses take this tick's excess heat (they engage after it):
                ex.cooling_tok_s[j] = ex.compute_tok_s[j]  # not the steady plant's ceiling (0 in a trip's first tick)
            if self.die_risk[j] or fx.throttled:  # normal operation: the dies at their limit hold the clock
                return self._die_hold(j, md, limit, k, lv)
            return md, limit, k
        cv = fx.m.curves
        self.group[j] = fx.th_bind
        if fx.th_shed:
            self.avail[j] = 0.0
            ex.cooling_tok_s[j] = 0.0
            self.shed[j] = 1
            return MODE_SHED, 0.0, 0
        kt = fx.k_th
        self.level[j] = kt
        if kt >= fx.top:
            if fx.th_free_q:
                ex.cooling_tok_s[j] = ex.compute_tok_s[j]  # the thermal side does not limit this tick
            return md, limit, k
        self.throttled[j] = THROTTLE_ENGAGED
        ex.cooling_tok_s[j] = float(cv.rate_pq[kt][-1]) * float(self.avail[j])
        return self._cap_at(j, md, limit, k, lv, kt) or (md, limit, k)

    def _cap_at(self, j: int, md: int, limit: float, k: int, lv, kt: int) -> tuple[int, float, int] | None:
        """The controller's decision ``(md, limit, k)`` held to clock level ``kt`` (the thermal throttle engaged, or
        the die hold in normal operation): mode uniform_cap at level ``kt`` and the rate the budgets allow there
        (``lv[kt]``), or the decision's own when already at or under it; ``None`` for a power-capped frontier tick
        (mode 1) whose frontier level at its limit (np.interp(limit/awake, frontier rate, frontier level), the clock
        the lanes run) is at or under ``kt``: the power cap already holds the clock there, and uniform_cap at ``kt``
        would serve less (until 2026-12-05 every such tick was moved to ``lv[kt]``: 0.34 of the free run's tokens
        at a 600 kW interconnect with the dies under their limit, docs/thermal-dynamics.md)."""
        if md == 1:
            if self.frontier is None:
                self.frontier = self.fx.m.curves.frontier("pq")
            fr = self.frontier
            if float(np.interp(limit / max(float(self.ex.awake[j]), 1e-12), fr.rate, fr.level)) <= kt + 1e-9:
                return None
        lim = float(lv[kt])
        if md != 2 or k > kt:
            return 2, lim, kt
        return md, min(limit, lim), k

    def _die_hold(self, j: int, md: int, limit: float, k: int, lv) -> tuple[int, float, int]:
        """The die limit in normal operation (the masses at their steady state): the clock held to the highest level
        whose dies stay at their limit in the room's steady state at that level's heat (:func:`steady_die_level`),
        mode uniform_cap, the tick recorded throttled with the group that set the level and its cooling ceiling Q the
        compute ceiling at that clock (the binding label then names cooling where it costs tokens). A level none fits
        (-1) runs the lowest: a steady state no clock holds, which preflight's die_limit_warnings names."""
        fx, ex = self.fx, self.ex
        cv, a = fx.m.curves, float(self.avail[j])
        kd, bind = self._die_level(j, a, lv)
        kd = max(kd, 0)
        t = float(ex.t_s[j])
        gb = fx.th_groups[bind]
        if (kd < fx.top) != fx.throttled:
            fx.throttled = kd < fx.top  # time_to_first_throttle_s is the engaged throttle's (as each failure's)
            fx.note(t, "thermal throttle" if fx.throttled else "thermal clear",
                    self._who(gb) + f"GPU die at its {gb.t_limit_c:g} °C limit in normal operation (the plant at "
                    f"its setpoint): clock held to level {kd}" if fx.throttled
                    else "GPUs back under their temperature limit at full clock",
                    **({"group": gb.name} if len(fx.th_groups) > 1 and fx.throttled else {}))
            fx.update_busy()
        if kd >= fx.top:
            return md, limit, k
        held = self._cap_at(j, md, limit, k, lv, kd)
        if held is None:  # power-capped under the held level: the dies are under their limit, nothing held
            return md, limit, k
        self.level[j] = kd
        self.group[j] = bind
        self.throttled[j] = THROTTLE_DIE_HOLD
        ex.cooling_tok_s[j] = min(float(ex.cooling_tok_s[j]), float(cv.rate_pq[kd][-1]) * a)
        return held

    def _die_level(self, j: int, a: float, lv) -> tuple[int, int]:
        """(level, group) of :func:`steady_die_level` for tick ``j`` at the work ``self.need`` on the share ``a`` with
        the rates ``lv``, read from the chunk's table where the tick's inputs are the table's (:meth:`_die_table`: the
        same in-service share, the chunk's own ``fit_levels``, and the work either the tick's arrivals alone, an empty
        queue, or enough that every level serves all it can: then the result does not depend on the work), else
        computed for the tick (the per-tick reference, :func:`steady_die_level`). Exactly the reference's answer
        either way (``tests/test_die_hold_vector.py``); :data:`DIE_HOLD_VECTORISED` False reads the reference always."""
        fx, ex = self.fx, self.ex
        need = self.need
        if DIE_HOLD_VECTORISED and self.lifted != j:
            if self.die_tab is None:
                self.die_tab = self._die_table()
            tab = self.die_tab
            if a == tab["a"][j]:
                if need == tab["need"][j]:
                    return tab["k_need"][j], tab["g_need"][j]
                if need >= tab["sat"][j]:
                    return tab["k_sat"][j], tab["g_sat"][j]
        return steady_die_level(fx.th_groups, fx.m.curves, fx.th, fx.m.facility.heat_to_reject_w, need, a,
                                float(ex.overhead_w), fit_levels=lv)

    def _die_table(self) -> dict:
        """The die hold of every tick of the chunk at once (:func:`steady_die_levels`, numpy over ticks), at two works:
        the tick's arrivals alone (``need``: the work of a tick whose queue is empty) and an unbounded work (``sat``:
        every level at the rate the budgets allow it, ``fit_levels``, or its full batch). A tick's work at or over
        ``sat`` = max over levels of min(fit_levels[k], share x full-batch rate of level k x (1 + 1e-9)) reads every
        level at the same load as the unbounded work (its rate the budget's, or past the level's full batch, where
        the load is the full batch either way), so its answer is that of the unbounded work, exactly."""
        fx, ex = self.fx, self.ex
        cv = fx.m.curves
        a = np.array(self.avail, dtype=float, copy=True)
        lv = np.asarray(ex.fit_levels, dtype=float)
        need = np.asarray(ex.demand_tok_s, dtype=float).copy()
        heat, ovh = fx.m.facility.heat_to_reject_w, float(ex.overhead_w)
        k_need, g_need = steady_die_levels(fx.th_groups, cv, fx.th, heat, need, a, ovh, fit_levels=lv)
        k_sat, g_sat = steady_die_levels(fx.th_groups, cv, fx.th, heat, np.full(a.size, np.inf), a, ovh,
                                         fit_levels=lv)
        full = np.array([float(r[-1]) for r in cv.rate_pq])
        sat = np.max(np.minimum(lv, a[:, None] * full[None, :] * (1 + 1e-9)), axis=1)
        sat = np.where(a > 1e-12, sat, -np.inf)
        return {"a": a.tolist(), "need": need.tolist(), "sat": sat.tolist(), "k_need": k_need.tolist(),
                "g_need": g_need.tolist(), "k_sat": k_sat.tolist(), "g_sat": g_sat.tolist()}

    # -- after the tick is served -------------------------------------------------------------
    def _it_w(self, md: int, sv: float, k: int, a: float, limit: float) -> float:
        """IT power of one tick (scalar :func:`dcsim.engine.loop.operating_point`; ``limit`` the controller's rate
        limit, whose frontier power a capped tick draws)."""
        fx = self.fx
        cv, ovh = fx.m.curves, self.ex.overhead_w
        if md == 1 and not fx.policy_none:
            return float(fx.operating_point(fx.m, np.array([sv]), np.array([1], dtype=np.int8),
                                            np.array([k], dtype=np.int16), np.array([a]),
                                            np.array([limit]))["it_power_w"][0])
        a = max(a, 1e-12)
        r = sv / a
        if fx.policy_none:
            top = cv.rate_pq.shape[0] - 1
            it = np.interp(np.interp(r, cv.rate_c[top], cv.u), cv.u, cv.it_c[top])
        else:
            it = np.interp(np.interp(r, cv.rate_pq[k], cv.u), cv.u, cv.it_pq[k])
        return in_service_it_w(float(it), a, ovh)

    def _power(self, j: int, it_w: float) -> tuple[float, float]:
        """(facility, heat to reject) of tick ``j`` at IT power ``it_w``: in-loop estimate."""
        if self.fac_tab is None:
            # facility and heat of each tick on a grid of IT powers: the in-loop estimate of an
            # engaged tick's power (linear between grid points); the record settles it exactly
            ex, m = self.ex, self.fx.m
            self.it_grid = np.linspace(0.0, self.fx.it_max_w, POWER_GRID)
            fb = m.facility.breakdown(np.broadcast_to(self.it_grid, (self.n, POWER_GRID)), m.liquid_fraction,
                                      ex.t_db_c[:, None], ex.t_wb_c[:, None])
            self.fac_tab, self.heat_tab = fb["facility"], fb["heat_w"]
        g = self.it_grid
        return float(np.interp(it_w, g, self.fac_tab[j])), float(np.interp(it_w, g, self.heat_tab[j]))

    def _plant_cap(self, j: int, it_w: float, heat: float) -> float:
        """Heat (W) the plant may move in tick ``j``: its capacity, less what would take the meter over the tick's
        cap. Working off stored heat (after a trip) the plant moves more than the heat made and draws more
        power than the controller budgeted for that IT, so its recovery is held to the meter's headroom (the
        contract holds; the room cools more slowly). A few secant steps on the facility power, which rises with
        the heat moved."""
        cap = float(self.ex.heat_capacity_w[j])
        if cap <= heat:
            return cap
        m, ex = self.fx.m, self.ex
        lim = float(self.cap[j])
        it = np.array([it_w])

        def over(x: float) -> float:
            return float(m.facility.breakdown(it, m.liquid_fraction, ex.t_db_c[j:j + 1], ex.t_wb_c[j:j + 1],
                                              plant_heat_w=np.array([x]))["facility"][0]) - lim
        f_hi = over(cap)
        if f_hi <= 0.0:
            return cap
        lo, f_lo = heat, over(heat)
        if f_lo >= 0.0:
            return heat  # no headroom left for recovery: the plant moves the heat made
        hi = cap
        for _ in range(PLANT_CAP_ITERS):
            x = lo - f_lo * (hi - lo) / (f_hi - f_lo)
            fx_ = over(x)
            if fx_ > 0.0:
                hi, f_hi = x, fx_
            else:
                lo, f_lo = x, fx_
            if f_lo > -1e-9 * lim:
                break
        return lo

    def _power_exact(self, j: int, md: int, sv: float, k: int, limit: float) -> tuple[float, float]:
        """(facility, heat) of tick ``j``: the record's own functions on one tick."""
        m, ex = self.fx.m, self.ex
        op = self.fx.operating_point(m, np.array([sv]), np.array([md], dtype=np.int8), np.array([k], dtype=np.int16),
                                     np.array([self.avail[j]]), np.array([limit]))
        fb = m.facility.breakdown(op["it_power_w"], m.liquid_fraction, ex.t_db_c[j:j + 1], ex.t_wb_c[j:j + 1])
        return float(fb["facility"][0]), float(fb["heat_w"][0])

    def after(self, j: int, md: int, sv: float, k: int, limit: float) -> None:
        """Estimate an engaged tick's power; step the battery and the thermal masses (the
        record then settles both exactly: :meth:`settle`)."""
        fx = self.fx
        risk = fx.th is not None and not self.t_on and self.risk[j]
        if self.b_on:  # the battery's meter needs the exact power (few ticks: requests and recharges)
            load, heat = self._power_exact(j, md, sv, k, limit)
        elif self.t_on or risk:
            it_w = self._it_w(md, sv, k, float(self.avail[j]), limit)
            load, heat = self._power(j, it_w)
        if risk and heat > float(self.ex.heat_capacity_w[j]):
            # the heat of this tick exceeds what the plant rejects: heat is stored. (With the battery engaged too:
            # until 2026-12-04 that tick skipped this test, and a battery below full kept the masses off while the
            # cooling ceiling was lifted for them — a chiller trip cost nothing, its plant moving 369 kW at 0)
            self.t_on = True
        if not (self.b_on or self.t_on):
            return
        t = float(self.ex.t_s[j])
        if self.b_on:
            self.b_flag[j] = True
            b = fx.batt
            p, fx.e_j = battery_dispatch_step(b, fx.e_j, load, self.cap[j], fx.contract_w, fx.dt,
                                              self.price[j], self.notice[j])
            self.battery_w[j] = p
            self.energy_j[j] = fx.e_j
            if (p > 1.0) != fx.discharging:  # log episodes (a watt of rounding is not one)
                fx.discharging = p > 1.0
                fx.note(t, "battery discharge" if p > 1.0 else "battery idle",
                        "meter load above its cap or target: storage covers the excess" if p > 1.0
                        else "load back under the meter cap", soc=fx.e_j / b.energy_j, battery_w=p)
        if self.t_on:
            self.t_flag[j] = True
            if self.b_on:
                it_w = self._it_w(md, sv, k, float(self.avail[j]), limit)
            self._thermal(j, t, heat, self._plant_cap(j, it_w, heat))
        fx.update_busy()

    def _who(self, g: DieGroup) -> str:
        """The log's naming of rack group ``g`` (several groups; nothing for one)."""
        return f"rack group {g.name!r} ({g.gpu}): " if len(self.fx.th_groups) > 1 else ""

    def _thermal(self, j: int, t: float, heat: float, cap: float) -> None:
        fx = self.fx
        p = fx.th
        if fx.tstate is None:  # from the steady state of the tick before (quasi-steady, as recorded)
            self.t_enter[j] = True
            if j > 0:
                c = self.cols
                h0 = self._power(j - 1, self._it_w(c["mode"][j - 1], c["served"][j - 1], c["level"][j - 1],
                                                   float(self.avail[j - 1]), c["limit"][j - 1]))[1]
            else:
                h0 = fx.prev_heat
            fx.tstate = steady_state(p, heat if h0 is None else h0)
        fx.tstate, f = thermal_step(p, fx.tstate, heat, cap, fx.dt)
        s = fx.tstate
        # each level's per-GPU power serving this tick's work (its full batch where it cannot serve it all), not every
        # level's full-batch power: until 2026-12-05 a lightly loaded hall throttled with its dies 13 K under the limit.
        # Each rack group's own power against its own die limit, the lowest level of them all: until 2026-12-05 the
        # fleet-average power per GPU was held to one limit, and a hotter GPU type ran over its own
        k_th, bind = throttle_level(fx.th_groups, fx.m.curves, s.t_space_c, self.need, float(self.avail[j]))
        several = len(fx.th_groups) > 1
        t_end = t + fx.dt
        if not fx.th_shed and (k_th < 0 or s.t_space_c >= p.shed_space_c):
            fx.th_shed = True
            fx.th_shed_group = bind if k_th < 0 else -1
            fx.first_shed_s = t_end if fx.first_shed_s is None else fx.first_shed_s
            # the cause, not the group count: a group's dies over their limit at the lowest level (that group's limit;
            # it sheds the whole fleet, one clock level for all), else the room past its shutdown limit. Until later
            # on 2026-12-05 one group's note said both, with facility.thermal.gpu's limit
            gb = fx.th_groups[bind]
            fx.note(t_end, "thermal shed", f"white space {s.t_space_c:.1f} °C: "
                    + (self._who(gb) + f"GPUs cannot be held under {gb.t_limit_c:g} °C at their lowest power"
                       if k_th < 0 else f"the room passed {p.shed_space_c:g} °C") + "; IT off",
                    t_space_c=s.t_space_c, **({"group": gb.name} if several and k_th < 0 else {}))
        elif fx.th_shed and k_th >= 0 and s.t_space_c < p.shed_space_c - RESTART_MARGIN_K and (
                fx.th_shed_group < 0 or throttle_level(fx.th_groups, fx.m.curves, s.t_space_c + DIE_RESTART_MARGIN_K,
                                                       self.need, float(self.avail[j]))[0] >= 0):
            # a shed the dies fired restarts only once the lowest level holds them DIE_RESTART_MARGIN_K under their
            # limits (their power at T_s + margin fits): until 2026-12-05 as soon as it fit, and on the two-group trip
            # with the B200s at a 48 degC limit shed and restart alternated 15 times in 3 h, 10-30 s apart
            fx.th_shed = False
            gb = fx.th_groups[max(fx.th_shed_group, 0)]
            fx.note(t_end, "thermal restart", f"white space back to {s.t_space_c:.1f} °C" + (
                "" if fx.th_shed_group < 0 else f"; {self._who(gb)}GPUs at their lowest power "
                f"{DIE_RESTART_MARGIN_K:g} K under {gb.t_limit_c:g} °C"), t_space_c=s.t_space_c)
        k_th = max(k_th, 0)
        # no throttle note while IT is shed (no GPU runs; the room, not a die, is at its limit): at night chiller-trip's
        # room reached its shed limit first, and until 2026-12-05 the shed tick logged "thermal throttle: GPU die at
        # its 87 degC limit" and set time_to_first_throttle_s, 10 min before the first throttled tick
        if not fx.th_shed and k_th < fx.top and fx.first_throttle_s is None:
            fx.first_throttle_s = t_end  # also where a normal-operation hold had already set fx.throttled
        if not fx.th_shed and (k_th < fx.top) != fx.throttled:
            fx.throttled = k_th < fx.top
            gb = fx.th_groups[bind]
            fx.note(t_end, "thermal throttle" if fx.throttled else "thermal clear",
                    self._who(gb) + f"GPU die at its {gb.t_limit_c:g} °C limit: clock held to level {k_th}"
                    if fx.throttled else "GPUs back under their temperature limit at full clock", t_space_c=s.t_space_c,
                    **({"group": gb.name} if several and fx.throttled else {}))
        # while shed, the record's group is what fired the shed: a room-caused shed names no group (-1: the record falls
        # back to the group nearest its limit, _die_columns); until 2026-12-05 it named the group binding the throttle
        fx.k_th, fx.th_bind = k_th, (fx.th_shed_group if fx.th_shed else bind)
        # at its steady state a hall whose dies hold the clock in normal operation (die_risk: _die_hold takes over)
        # returns to quasi-steady too; until 2026-12-05 only at full clock, so such a hall stayed engaged to the end
        steady = (not fx.th_shed and (k_th >= fx.top or self.die_risk[j]) and not self.risk[j]
                  and abs(s.t_loop_c - p.setpoint_c) < 1e-3
                  and abs(s.t_space_c - (p.setpoint_c + heat / p.ua_w_per_k)) < 1e-2
                  and s.tank_j >= p.tank_capacity_j - 1.0)
        if steady:
            fx.tstate = None  # back to quasi-steady: skip the per-tick step
            self.t_exit[j] = True

    def settle(self, j: int, fb: dict, rebreak=None) -> dict:
        """Re-step the thermal masses and the battery over the first ``j`` ticks with their exact heat and
        facility power (``fb``, the record's breakdown), with the decisions the loop made; the chunk's state
        carries on from the exact values. The thermal masses go first: where they are engaged the plant moves
        the heat they say (``q_plant_w``), not the heat made, and ``rebreak(plant_heat_w)`` (the facility's
        breakdown with it) gives the facility power the battery then sees. Returns that breakdown."""
        fx = self.fx
        heat = np.asarray(fb["heat_w"], dtype=float)
        if fx.th is not None:
            self._settle_thermal(j, heat, np.asarray(fb["it"], dtype=float))
            engaged = ~np.isnan(self.q_plant[:j])
            if rebreak is not None and engaged.any():
                fb = rebreak(np.where(engaged, self.q_plant[:j], heat))
        fac = np.asarray(fb["facility"], dtype=float)
        if fx.batt is not None:
            b, e = fx.batt, self.e_start
            for i in range(j):
                if self.b_flag[i]:
                    p, e = battery_dispatch_step(b, e, float(fac[i]), self.cap[i], fx.contract_w, fx.dt,
                                                 self.price[i], self.notice[i])
                    self.battery_w[i] = p
                self.energy_j[i] = e
            fx.e_j = e
        if j:
            fx.prev_heat = float(heat[j - 1])
        fx.update_busy()
        return fb

    def _settle_thermal(self, j: int, heat: np.ndarray, it: np.ndarray) -> None:
        fx = self.fx
        if fx.th is not None:
            p, st = fx.th, self.tstate_start
            for i in range(j):
                if not self.t_flag[i]:
                    continue
                if self.t_enter[i] or st is None:
                    h0 = float(heat[i - 1]) if i > 0 else self.prev_heat_start
                    st = steady_state(p, float(heat[i]) if h0 is None else h0)
                st, f = thermal_step(p, st, float(heat[i]), self._plant_cap(i, float(it[i]), float(heat[i])), fx.dt)
                self.t_space[i], self.t_loop[i], self.tank[i], self.q_out[i] = st.t_space_c, st.t_loop_c, st.tank_j, \
                    f["q_out_w"]
                self.q_plant[i] = f["q_plant_w"]
                if self.t_exit[i]:
                    st = None
            if j:
                fx.tstate = st

    def step_deferrable(self, j: int, open_: bool, arrivals_tok: float, spare_tok: float) -> float:
        fx = self.fx
        dq = fx.dq
        late0 = dq.served_late
        done = dq.step(float(self.ex.t_s[j]), fx.dt, arrivals_tok, spare_tok, open_)
        self.def_served[j] = done / fx.dt
        self.def_late[j] = (dq.served_late - late0) / fx.dt
        self.def_backlog[j] = dq.arrived - dq.served
        return done

    # -- the chunk's record -------------------------------------------------------------------
    def _die_columns(self, j: int, t_space: np.ndarray, gpu_w) -> tuple[np.ndarray, np.ndarray]:
        """(``thermal_group``, ``thermal_die_c``) of the first ``j`` ticks: the rack group whose dies the record follows
        and their temperature, T_s + r_th,g·P_g, P_g the group's per-GPU power: the record's GPU power ``gpu_w`` per
        GPU in service, split between the groups as their curves split it at the tick's clock level serving the tick's
        work (:func:`group_gpu_w`'s reading of each group's curve; the record's own power, so a capped tick's
        frontier point counts, and one group's die is exactly T_s + r_th·gpu_power_w/gpus_in_service, what the thermal
        figure always drew). NaN on shed ticks (no GPU running). On a throttled tick the group is the one that set the
        level, on a shed tick the one whose dies fired the shed; on any other, a shed the room fired included
        (group -1), the group nearest its limit (one group: 0). What plots/thermal.png draws against that group's limit
        (docs/thermal-dynamics.md, "Several rack groups")."""
        fx = self.fx
        cv, gs = fx.m.curves, fx.th_groups
        served = np.asarray(self.cols["served"][:j], dtype=float)
        level = np.asarray(self.cols["level"][:j], dtype=np.int64)
        avail = np.asarray(self.avail[:j], dtype=float)
        loads = load_per_level(cv, served, avail)  # (K, j): the load that serves the tick's work at each clock level
        cols = np.arange(j)
        # each group's per-GPU power on its curve, at the tick's level (group_gpu_w: as the throttle reads it)
        w = np.array([group_gpu_w(g, cv.u, loads)[level, cols] for g in gs]).reshape(len(gs), j)
        gpus = np.array([g.gpus for g in gs], dtype=float)
        mean = gpus @ w / float(np.sum(gpus))
        ratio = (np.ones((1, j)) if len(gs) == 1 else  # one group: the record's power per GPU itself
                 np.where(mean[None, :] > 0.0, w / np.where(mean > 0.0, mean, 1.0)[None, :], 1.0))
        n_in = np.maximum(avail * fx.m.gpus, 1.0)
        rec = np.asarray(gpu_w, dtype=float)[:j]
        die = np.array([t_space + g.r_th_k_per_w * (rec * ratio[i]) / n_in for i, g in enumerate(gs)])
        margin = die - np.array([g.t_limit_c for g in gs])[:, None]
        set_ = (self.throttled[:j] > 0) | (self.shed[:j] > 0)
        group = np.where(set_ & (self.group[:j] >= 0), self.group[:j], np.argmax(margin, axis=0)).astype(np.int16)
        out = die[group, np.arange(j)]
        return group, np.where(self.shed[:j] > 0, np.nan, out)

    def columns(self, j: int, fb: dict, rebreak=None, gpu_w=None) -> tuple[dict, dict]:
        """Per-tick columns of the first ``j`` ticks, given the record's facility breakdown ``fb`` and GPU power
        ``gpu_w`` (W, the fleet's: the thermal die column), and the breakdown as settled (:meth:`settle`: the plant's
        power follows the heat it moved)."""
        fx = self.fx
        fb = self.settle(j, fb, rebreak)
        batt = self.battery_w[:j]
        out = dict(zip(GRID_COLUMNS, (self.request[:j].astype(np.int8),
                                      np.array(self.notice[:j], dtype=np.int8), fb["facility"] - batt), strict=True))
        if fx.batt is not None:
            out.update(zip(STORAGE_COLUMNS, (batt.copy(), self.energy_j[:j].copy(),
                                             _over_cap_w(fb["facility"] - batt, np.asarray(self.cap[:j]))),
                           strict=True))
        if fx.th is not None:
            p = fx.th
            heat = np.asarray(fb["heat_w"], dtype=float)
            ts = self.t_space[:j]
            quasi = np.isnan(ts)
            t_space = np.where(quasi, p.setpoint_c + heat / p.ua_w_per_k, ts)
            out.update(zip(THERMAL_COLUMNS, (
                t_space,
                np.where(quasi, p.setpoint_c, self.t_loop[:j]),
                np.where(quasi, p.tank_capacity_j, self.tank[:j]),
                heat, np.where(quasi, heat, self.q_out[:j]),
                np.where(quasi, heat, self.q_plant[:j]),
                (~quasi).astype(np.int8),
                self.level[:j].copy(), *self._die_columns(j, t_space, gpu_w),
                self.throttled[:j].copy(), self.shed[:j].copy()), strict=True))
        if fx.dq is not None:
            out.update(zip(DEFERRED_COLUMNS, (np.array(self.def_served[:j]), np.array(self.def_late[:j]),
                                              np.array(self.def_backlog[:j])), strict=True))
        return out, fb


#: The per-tick columns :meth:`FlexChunk.columns` adds to the record, by the model that adds them (also counted by
#: dcsim.engine.preflight's memory estimate): any issue-18 model adds the grid's; facility.storage, facility.thermal
#: and deferrable add theirs.
GRID_COLUMNS = ("curtailment", "curtailment_notice", "meter_power_w")
STORAGE_COLUMNS = ("battery_w", "battery_energy_j", "meter_unmet_w")
THERMAL_COLUMNS = ("t_space_c", "t_loop_c", "tank_j", "thermal_heat_w", "thermal_q_out_w", "thermal_q_plant_w",
                   "thermal_engaged", "thermal_level", "thermal_group", "thermal_die_c", "thermal_throttled",
                   "thermal_shed")
DEFERRED_COLUMNS = ("deferred_served_tok_s", "deferred_late_tok_s", "deferred_backlog_tokens")


def _over_cap_w(meter_w, cap_w) -> np.ndarray:
    """Meter power above its cap (W), 0 within 1e-9 of the cap (float rounding of the battery
    dispatch, not a real excess: it printed as 'meter over cap 2.91e-12 Wh')."""
    over = np.asarray(meter_w, dtype=float) - np.asarray(cap_w, dtype=float)
    return np.where(over > 1e-9 * np.abs(cap_w), over, 0.0)


# --------------------------------------------------------------------------- report
def _energy_cost(ts: dict, dt: float, fx: Flex, col: str = "meter_power_w") -> dict:
    n = ts["t_s"].size
    e = np.asarray(ts.get(col, ts["facility_power_w"]), dtype=float)
    out = {"energy_j": float(np.sum(e) * dt)}
    if fx.price is not None:
        out["cost_usd"] = float(np.sum(e * fx.price[:n]) * dt)
    if fx.carbon is not None:
        out["carbon_g"] = float(np.sum(e * fx.carbon[:n]) * dt)
    return out


def flex_report(fx: Flex, ts: dict, dt: float) -> dict:
    """Report blocks ``grid``, ``storage``, ``thermal``, ``deferrable`` of a run (those it has)."""
    out: dict = {}
    n = ts["t_s"].size
    horizon = n * dt
    # the contract (facility.interconnect), which report["interconnect_w"] (the run's highest cap) is not when a cap
    # is lowered over the whole run (a curtailment fault from start to end): what the grid figure compares the cap to
    g = {"contract_w": float(fx.contract_w), "meter": _energy_cost(ts, dt, fx),
         "curtailment": dict(curtailment_summary([e for e in fx.events if e.start_s < horizon], horizon),
                             requests=[{"start_s": e.start_s, "end_s": e.end_s, "notice_s": e.notice_s,
                                        "cap_w": e.cap_for(fx.contract_w)} for e in fx.events[:200]])}
    if fx.events and n:
        # whole ticks: a tick any part of which lies in a request is held to its cap (power.grid.cap_over; the
        # `curtailment` column marks them), so the hours enforced are at least the hours requested (more where
        # requests do not fill whole ticks)
        g["curtailment"]["enforced_hours"] = float(np.count_nonzero(ts["curtailment"]) * dt / 3600.0)
    if "curtailment" in ts and np.any(ts["curtailment"]):
        sel = ts["curtailment"].astype(bool)
        g["curtailment"]["tokens_served_in_requests"] = float(np.sum(ts["achieved_tok_s"][sel]) * dt)
        g["curtailment"]["meter_energy_in_requests_j"] = float(np.sum(ts["meter_power_w"][sel]) * dt)
    out["grid"] = g
    if fx.batt is not None and "battery_w" in ts:
        b = fx.batt
        bw = ts["battery_w"]
        ch, dis = np.maximum(-bw, 0.0), np.maximum(bw, 0.0)
        e_end = float(ts["battery_energy_j"][-1]) if n else fx.e0_j
        charged_j, discharged_j = float(np.sum(ch) * dt), float(np.sum(dis) * dt)  # at the terminals
        out["storage"] = {
            "energy_capacity_j": b.energy_j, "max_charge_w": b.p_charge_max_w, "max_discharge_w": b.p_discharge_max_w,
            "round_trip_efficiency": b.eta_charge * b.eta_discharge, "location": b.location, "dispatch": b.dispatch,
            "energy_start_j": fx.e0_j, "energy_end_j": e_end,
            "charged_j": charged_j, "discharged_j": discharged_j,
            "losses_j": charged_j * (1 - b.eta_charge) + discharged_j * (1 / b.eta_discharge - 1),
            "equivalent_full_cycles": equivalent_full_cycles(b, discharged_j),
            "discharge_s": float(np.count_nonzero(dis > 0) * dt),
            "soc_min_seen": float(np.min(ts["battery_energy_j"]) / b.energy_j) if n else b.e0_j / b.energy_j,
            "unmet_energy_j": float(np.sum(ts["meter_unmet_w"]) * dt),
            "peak_meter_w": float(np.max(ts["meter_power_w"])) if n else 0.0,
        }
    if fx.th is not None and "t_space_c" in ts:
        p = fx.th
        out["thermal"] = {
            "c_space_j_per_k": p.c_space_j_per_k, "c_loop_j_per_k": p.c_loop_j_per_k, "ua_w_per_k": p.ua_w_per_k,
            "setpoint_c": p.setpoint_c, "t_limit_c": p.t_limit_c, "r_th_k_per_w": p.r_th_k_per_w,
            # None: no room limit (liquid's default, THERMAL_KIND_DEFAULTS: its racks shed only when the dies cannot
            # be held); until 2026-12-05 inf, which the report's finite check refused (InvariantError)
            "shed_space_c": p.shed_space_c if math.isfinite(p.shed_space_c) else None,
            "tank_capacity_j": p.tank_capacity_j, "preemptive_cap": p.preemptive_cap,
            "peak_space_c": float(np.max(ts["t_space_c"])), "peak_loop_c": float(np.max(ts["t_loop_c"])),
            "throttled_s": float(np.count_nonzero(ts["thermal_throttled"]) * dt),
            # of which the dies held the clock in normal operation (code 2, the plant at its setpoint), not the plant
            "throttled_die_s": float(np.count_nonzero(np.asarray(ts["thermal_throttled"]) == THROTTLE_DIE_HOLD) * dt),
            "shed_s": float(np.count_nonzero(ts["thermal_shed"]) * dt),
            "engaged_s": float(np.count_nonzero(ts["thermal_engaged"]) * dt),
            "time_to_first_throttle_s": fx.first_throttle_s, "time_to_first_shed_s": fx.first_shed_s,
            **inlet_allowable_figures(ts["t_space_c"], dt, p.allowable_space_c),
        }
        if len(fx.th_groups) > 1:  # several rack groups: each one's dies, and the throttled time they set the level
            out["thermal"]["groups"] = [
                {"name": g.name, "gpu": g.gpu, "gpus": g.gpus, "t_limit_c": g.t_limit_c, "r_th_k_per_w": g.r_th_k_per_w,
                 "throttle_set_s": float(np.count_nonzero((np.asarray(ts["thermal_throttled"]) > 0)
                                                         & (np.asarray(ts["thermal_group"]) == i)) * dt)}
                for i, g in enumerate(fx.th_groups)]
    if fx.dq is not None:
        q = fx.dq
        sc = fx.m.scenario.deferrable
        out["deferrable"] = {
            "share": fx.share, "deadline_s": q.deadline_s, "policy": sc.policy, "threshold": fx.threshold,
            "arrived_tokens": q.arrived, "served_tokens": q.served, "served_late_tokens": q.served_late,
            "backlog_end_tokens": q.backlog, "overdue_end_tokens": q.overdue(horizon),
            "mean_delay_s": q.delay_token_s / q.served if q.served > 0 else 0.0,
        }
        if fx.price is not None and "deferred_served_tok_s" in ts and q.served > 0:
            out["deferrable"]["price_of_hours_served_usd_per_mwh"] = float(
                np.sum(ts["deferred_served_tok_s"] * fx.price[:n]) / np.sum(ts["deferred_served_tok_s"]) / _USD_PER_MWH)
    return out


def inlet_allowable_figures(t_space_c, dt: float, limit_c: float) -> dict:
    """The thermal block's figures of the white space against the server inlet's allowable maximum ``limit_c``
    (``ThermalParams.allowable_space_c``: ``facility.thermal.inlet_allowable_limit``, default by kind in
    :data:`dcsim.scenario.facility.THERMAL_KIND_DEFAULTS`: air ASHRAE A1's 32 degC [ASH], liquid none, inf):
    ``inlet_allowable_max_c`` that limit (None when there is none, as for liquid, whose white space is secondary
    coolant, not server inlet air), ``above_allowable_s`` the seconds of ticks whose white space ended above it, ``above_allowable_first_s``
    the start of the first (None: never), ``end_space_c`` the white space (inlet air or coolant) at the end of the
    run, degC. ``t_space_c``: per tick, at the tick's end (dcsim.engine.flex)."""
    t = np.asarray(t_space_c, dtype=float)
    end = float(t[-1]) if t.size else None
    if not math.isfinite(limit_c):
        return {"inlet_allowable_max_c": None, "above_allowable_s": None, "above_allowable_first_s": None,
                "end_space_c": end}
    over = t > limit_c
    first = int(np.argmax(over)) if np.any(over) else None
    return {"inlet_allowable_max_c": float(limit_c), "above_allowable_s": float(np.count_nonzero(over) * dt),
            "above_allowable_first_s": None if first is None else first * dt, "end_space_c": end}


def inlet_allowable_warning(th: dict, duration_s: float, at, fmt_duration) -> str | None:
    """The run's warning when its air white space passed the server inlet's allowable maximum (the ``thermal`` block
    of :func:`flex_report`): for how long, from when, the peak and the end-of-run temperature; None otherwise.
    ``at`` formats a moment of the run (s) on the scenario's clock, ``fmt_duration`` a duration (s)."""
    above = th.get("above_allowable_s")
    if not above or th.get("inlet_allowable_max_c") is None:
        return None
    lim, end = th["inlet_allowable_max_c"], th.get("end_space_c")
    at_end = end is not None and end > lim
    a1 = lim == 32.0  # the air default (THERMAL_KIND_DEFAULTS); another is facility.thermal.inlet_allowable_limit
    what = ("the ASHRAE A1 allowable maximum [ASH]" if a1 else
            "the allowable maximum set by facility.thermal.inlet_allowable_limit")
    tail = ("servers rated A1 run outside their allowable range there (A2 allows 35, A4 45 °C; "
            if a1 else "servers rated for it run outside their allowable range there (")
    return (f"the white space's inlet air was above {lim:g} °C, {what}, for "
            f"{fmt_duration(above)} of {fmt_duration(duration_s)} (first at {at(th['above_allowable_first_s'])}"
            + (", still at the end of the run" if at_end else "") + f"): peak {th['peak_space_c']:.1f} °C, "
            f"{end:.1f} °C at the end; " + tail + "docs/thermal-dynamics.md)")


def cooling_failure_times(ts: dict, after, start_s: float) -> dict:
    """For a cooling failure starting at ``start_s``: seconds from its start to the start of the
    first thermally throttled tick and of the first shed tick (each limit is found at the end of
    the tick before and acts from the next; 0 where that tick began before the failure), ``None`` if none; and the
    peak white-space and loop temperatures from then on. ``after``: the ticks from the failure on, any part of which
    lies at or after its start (:func:`dcsim.power.grid.overlaps`, the mask :func:`dcsim.engine.run.fault_costs`
    reads; until 2026-12-05 this took the ticks whose middle was at or after it, one tick fewer where the failure
    starts in a tick's first half: chiller-trip at 15-min ticks). Empty without thermal dynamics."""
    if "thermal_throttled" not in ts:
        return {}
    t = np.asarray(ts["t_s"], dtype=float)
    after = np.asarray(after, dtype=bool)

    def first(col, shift, code=None):
        v = np.asarray(ts[col])
        idx = np.flatnonzero(after & ((v > 0) if code is None else (v == code)))
        return max(float(t[idx[0]] + shift - start_s), 0.0) if idx.size else None

    # the engaged throttle (code 1): a die hold in normal operation (code 2) is not the failure's doing
    return {"time_to_first_throttle_s": first("thermal_throttled", 0.0, THROTTLE_ENGAGED),
            "time_to_first_shed_s": first("thermal_shed", 0.0),
            "peak_space_c": float(np.max(ts["t_space_c"][after])) if after.any() else None,
            "peak_loop_c": float(np.max(ts["t_loop_c"][after])) if after.any() else None}

