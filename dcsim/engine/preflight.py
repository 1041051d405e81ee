"""Preflight: every input of a run checked before any work starts (issue 17).

:func:`preflight` is called by ``dcsim validate``, ``dcsim run`` and :func:`dcsim.run`. It

1. builds the models, which reads every file the scenario names (traces, weather, length
   tables, rate profiles) and resolves every catalog name (GPU, model, profile); any reader
   error becomes a :class:`~dcsim.scenario.ScenarioError` naming the scenario field and the
   file and line the reader reported;
2. checks cross-field physics that each field alone cannot see (:func:`physics_checks`):
   a fleet whose *idle* draw exceeds what the interconnect can deliver, or whose idle heat
   exceeds what the plant can reject, cannot produce a single token, so it is an error (the
   classic unit slip: ``"20 mW"`` for ``"20 MW"``); a fleet whose full-load draw is many times
   the interconnect or the plant, or a facility much larger than its fleet, is a loud warning
   with the figure;
3. estimates the resources of the run (:func:`estimate`) and refuses one above the documented
   limits (:data:`LIMITS`; the memory limit, DCSIM_MEMORY_LIMIT, is :func:`dcsim.scenario.limits.memory_limit_bytes`),
   before the first tick.

Warnings are returned, printed by the CLI and added to ``report.json`` ``warnings``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dcsim.engine.build import Models, build_models, pool_layout
from dcsim.engine.flex import DEFERRED_COLUMNS, GRID_COLUMNS, STORAGE_COLUMNS, THERMAL_COLUMNS
from dcsim.engine.pools import POOL_COLUMNS
from dcsim.metrics.fmt import fmt_duration
from dcsim.scenario import Scenario, ScenarioError
from dcsim.scenario.facility import degf_hint
from dcsim.scenario.faults import window_errors
from dcsim.scenario.node import default_server_warning
# the memory limit and the peak-memory fit have their one home in dcsim.scenario.limits (the trace replay reads them too)
from dcsim.scenario.limits import BASE_MEMORY_BYTES, BYTES_PER_TICK_COLUMN, memory_limit_bytes
from dcsim.thermal.weather import T_RECORD_HIGH_C, WeatherError
from dcsim.units import DIMENSIONS, display_unit, excerpt, format_quantity
from dcsim.workload.trace import TraceError

__all__ = ["Preflight", "preflight", "physics_checks", "estimate", "request_estimate", "LIMITS", "input_slip_warnings",
           "PLAUSIBLE_RANGES"]

#: Documented limits (docs/limits.md). All are assumptions chosen to refuse nonsense and runs
#: that would exhaust an ordinary machine, not measurements.
LIMITS = {
    # the controller model assumes power caps settle within a tick; hardware capping takes
    # milliseconds, so a shorter tick is outside the model
    "min_tick_s": 1e-3,
    # full-load IT power over what the interconnect (or plant) can carry: above this ratio the
    # fleet is almost all stranded; warn
    "stranded_ratio": 20.0,
    # interconnect over the fleet's full-load IT draw: above this the facility is almost
    # empty (e.g. '20 GW' for '20 MW'); warn
    "oversized_ratio": 1000.0,
}

#: the columns of scenarios/reference.yaml's timeseries.csv (one pool, no grid, storage, thermal or deferrable work)
BASE_COLUMNS = 45
#: timeseries.csv bytes per tick and column: measured 13.6 B (reference, 45 columns: 882 kB for 1,440 ticks),
#: 12.3 B (year-richmond, 54 columns) and 14.4 B (mixed-fleet, 82 columns), rounded up.
CSV_BYTES_PER_TICK_COLUMN = 14
#: Peak memory per request drawn at request or hybrid fidelity, counted as the arrivals of one tick plus those
#: that may wait (at the door and in the replicas' queues, up to controller.hold_limit) at the process's peak rate
#: (:func:`request_estimate`). Measured as the rise of VmHWM (peak RSS, ~210-260 MB for a 1 req/s run) between runs
#: differing only in the arrival rate, 15 min, 60-s tick, kernel backend, 2-core VM, CPython 3.11:
#: scenarios/reference.yaml at a constant 2,500 / 5,000 / 10,000 req/s (compute-bound: the door is open and requests
#: queue in the replicas, whose arrays grow by doubling): 141 and 105 B per request added (108 B on average over
#: the 1 req/s run), frontier and policy none alike; the audit's hall from 12:00 at a diurnal 10,000-40,000 req/s,
#: power-capped (requests wait at the door): 33 B. The arrival arrays alone are 32 B (time, class, input and output
#: tokens). Rounded up to the open-door case; checked within a factor of 2 by
#: tests/test_hostile.py::test_request_memory_estimate_matches_a_measured_run.
BYTES_PER_REQUEST = 128


@dataclass
class Preflight:
    """What preflight found: the built models, warnings, and the resource estimate."""

    models: Models
    warnings: list[str] = field(default_factory=list)
    estimate: dict = field(default_factory=dict)

    def annotate(self, result):
        """Add this preflight's warnings to a Result's report (for paths that rebuilt the models)."""
        w = result.record.warnings
        w.extend(x for x in self.warnings if x not in w)
        result.refresh()
        return result


def _flex_columns(sc: Scenario) -> int:
    """Per-tick columns the issue-18 models add (dcsim.engine.flex.FlexChunk.columns)."""
    if sc.grid is None and sc.deferrable is None and sc.facility.storage is None and sc.facility.thermal is None:
        return 0
    return (len(GRID_COLUMNS) + len(STORAGE_COLUMNS) * (sc.facility.storage is not None)
            + len(THERMAL_COLUMNS) * (sc.facility.thermal is not None)
            + len(DEFERRED_COLUMNS) * (sc.deferrable is not None))


def _columns(sc: Scenario) -> int:
    """The run's time-series columns: the reference's, the issue-18 models' and, with several pools, each pool's
    (dcsim.engine.pools.POOL_COLUMNS, less the frontier_share then held per pool: mixed-fleet's 84 = 45 + 2 x 20 - 1)."""
    pools = len(pool_layout(sc))
    return BASE_COLUMNS + _flex_columns(sc) + (len(POOL_COLUMNS) * pools - 1 if pools > 1 else 0)


def estimate(sc: Scenario) -> dict:
    """Resources of a run, before it starts: ticks, time-series columns, CSV bytes, peak memory
    (:data:`BASE_MEMORY_BYTES` + :data:`BYTES_PER_TICK_COLUMN` per tick and column: within -3.2 % and +3.4 % of
    the 11 runs it was fitted on, 1,440-527,040 ticks, 45-82 columns)."""
    dt = float(sc.controller.tick)
    ticks = int(math.ceil(sc.duration / dt - 1e-9))
    cols = _columns(sc)
    return {"ticks": ticks, "columns": cols, "csv_bytes": int(ticks * CSV_BYTES_PER_TICK_COLUMN * cols),
            "peak_memory_bytes": int(BASE_MEMORY_BYTES + ticks * BYTES_PER_TICK_COLUMN * cols)}


#: the field of each arrival kind that sets its rate (named by the request-memory refusal)
_RATE_FIELD = {"poisson": "rate", "gamma": "rate", "diurnal": "mean_rate", "mmpp": "rates",
               "profile_csv": "path", "trace": "rate_scale"}


def request_estimate(m: Models, est: dict) -> dict:
    """Requests a request- or hybrid-fidelity run draws, and their memory (:data:`BYTES_PER_REQUEST`): the most
    arrivals of one tick plus those that may wait up to ``controller.hold_limit`` (at the door and in the
    replicas' queues; older work is shed), at the arrival process's peak rate (a time-varying rate at its
    maximum, a trace over its busiest window), times the share drawn request by request (1 at request fidelity;
    the sample's share at hybrid). Empty at fluid fidelity."""
    from dcsim.engine.requests import arrivals_multiplier

    sc = m.scenario
    k = arrivals_multiplier(m)
    if k <= 0:
        return {}
    tick = float(sc.controller.tick)
    span = est["ticks"] * tick
    proc = m.workload.arrivals
    with np.errstate(all="ignore"):
        per_tick = k * float(proc.peak_count(tick))
        window = min(float(sc.controller.hold_limit) + tick, span)
        live = max(per_tick, k * float(proc.peak_count(window)))
        # expected arrivals over the run, on at most 10,000 windows (exact for a trace, midpoint rule otherwise)
        nw = max(1, min(est["ticks"], 10_000))
        total = k * float(np.sum(proc.expected_count(np.arange(nw) * (span / nw), span / nw)))
    return {"requests_per_tick": per_tick, "requests_in_flight": live, "requests_total": total,
            "request_memory_bytes": live * BYTES_PER_REQUEST}


def _request_errors(sc: Scenario, est: dict) -> list[tuple[str, str]]:
    mem = est.get("request_memory_bytes")
    lim = memory_limit_bytes()
    if mem is None or not est["peak_memory_bytes"] > lim:
        return []
    a = sc.workload.arrivals
    path = f"workload.arrivals.{_RATE_FIELD.get(a.kind, 'kind')}"
    scale = f" (x scale {a.scale:g})" if a.scale != 1 else ""
    hyb = (" (or fidelity hybrid, which draws only its sample's share)" if sc.fidelity == "request" else "")
    return [(path, f"at {sc.fidelity} fidelity every request is drawn and kept until served or shed: at the peak "
                   f"rate{scale} ~{_count(est['requests_per_tick'])} arrive per {fmt_duration(float(sc.controller.tick))} "
                   f"tick and up to ~{_count(est['requests_in_flight'])} are held at once (controller.hold_limit "
                   f"{fmt_duration(float(sc.controller.hold_limit))} plus a tick), ~{_count(est['requests_total'])} "
                   f"over the run: ~{_gb(est['peak_memory_bytes'])} of memory at {BYTES_PER_REQUEST} B per request, "
                   f"above the {_gb(lim)} limit; use fidelity fluid{hyb}, a lower rate, or a shorter tick or hold "
                   "limit (or raise DCSIM_MEMORY_LIMIT)")]


def _count(x: float) -> str:
    return f"{x:,.0f}" if x < 1e9 else f"{x:.3g}"


def thermal_dies(m: Models):
    """(resolved thermal params, :func:`dcsim.engine.flex.die_groups`) of a run whose thermal dynamics can run
    (``facility.thermal`` with a cooling plant model), else ``None``: built once by :func:`preflight` for the die
    limit's refusal (:func:`flex_errors`) and warning (:func:`physics_checks`)."""
    sc = m.scenario
    if sc.facility.thermal is None or sc.facility.cooling.kind in ("fixed_pue", "pue_curve"):
        return None
    from dcsim.engine.flex import die_groups, thermal_params_of
    p = thermal_params_of(m)
    return p, die_groups(m, p)


_UNSET = object()


def flex_errors(m: Models, dies=_UNSET) -> list[tuple[str, str]]:
    """Inputs of the issue-18 models that cannot run (docs/grid.md, docs/thermal-dynamics.md). ``dies``: the run's
    :func:`thermal_dies` where already built (preflight), else built here."""
    sc = m.scenario
    if dies is _UNSET:
        dies = thermal_dies(m)
    errs = []
    if sc.fidelity != "fluid":
        for path, on in (("facility.storage", sc.facility.storage is not None),
                         ("facility.thermal", sc.facility.thermal is not None),
                         ("deferrable", sc.deferrable is not None)):
            if on:
                errs.append((path, f"runs at fidelity 'fluid' only (this scenario: {sc.fidelity!r}); "
                                   "curtailment requests, price and carbon work at every fidelity"))
    if sc.facility.thermal is not None and sc.facility.cooling.kind in ("fixed_pue", "pue_curve"):
        errs.append(("facility.thermal", f"needs a cooling plant model (cooling.kind {sc.facility.cooling.kind!r} "
                                         "has no capacity or loop temperature)"))
    elif dies is not None:
        from dcsim.engine.flex import die_limit_errors
        errs += die_limit_errors(m, *dies)
    if sc.grid is not None and (sc.grid.price is not None or sc.grid.carbon is not None):
        from dcsim.engine.flex import price_carbon_per_tick
        try:
            price_carbon_per_tick(m, np.zeros(1))
        except (OSError, ValueError, KeyError) as e:
            which = "price" if sc.grid.price is not None and sc.grid.price.kind == "csv" else "carbon"
            errs.append((f"grid.{which}.path", excerpt(str(e), 300, quote=False)))
    return errs


def _gb(x: float) -> str:
    if x >= 1e15:
        return f"{x / 1e12:.3g} TB"
    return f"{x / 1e9:.3g} GB" if x >= 1e8 else f"{x / 1e6:.3g} MB"


def _resource_errors(sc: Scenario, est: dict) -> list[tuple[str, str]]:
    errs = []
    tick = float(sc.controller.tick)
    if tick < LIMITS["min_tick_s"]:
        errs.append(("controller.tick", f"{tick:g} s is below the {LIMITS['min_tick_s'] * 1e3:g} ms minimum: the "
                     "controller model assumes power caps settle within one tick (hardware capping takes "
                     "milliseconds)"))
    lim = memory_limit_bytes()
    if est["peak_memory_bytes"] > lim:
        errs.append(("controller.tick", f"{est['ticks']:,} ticks would need ~{_gb(est['peak_memory_bytes'])} of "
                     f"memory and write a ~{_gb(est['csv_bytes'])} timeseries.csv, above the {_gb(lim)} limit; "
                     "use a longer tick or a shorter duration (or raise DCSIM_MEMORY_LIMIT)"))
    return errs


def _weather_samples(m: Models, duration: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0.0, duration, 97)
    t_db, t_wb = m.facility.weather.at(t)
    return np.asarray(t_db, dtype=float), np.asarray(t_wb, dtype=float)


#: A weather CSV (without wrap) that covers less than this share of the run is refused: beyond the file its end
#: values are held, and a run held at one row's weather for most of its length models no weather (a `t_s` column
#: holding hours covers 24 s of a day). Between this and the whole run it is a warning. An assumption.
WEATHER_MIN_COVER = 0.5
#: A trace replayed once whose last arrival comes before this share of the run is warned: the rest of the run has
#: no arrivals and its averages are diluted (loop: true?). An assumption; 10 % of idle tail is allowed for drain.
TRACE_MIN_COVER = 0.9
#: A trace of which less than this share of requests arrives within the run, and whose mean rate over its span is
#: below TRACE_SLOW_RATE, reads as ms taken for s: a 2 req/s trace in ms read as s is 0.002 req/s over 1,000 h.
#: A real trace sampled by a short run (a week of Azure requests, run for an hour) has a mean rate of req/s and
#: is not warned. Assumptions: 1 % and 0.1 req/s (one request per 10 s, below any served LLM load).
TRACE_MIN_SHARE_IN_RUN = 0.01
TRACE_SLOW_RATE = 0.1


def coverage_checks(m: Models) -> tuple[list[tuple[str, str]], list[str]]:
    """What of the run's inputs falls outside its time axis: (errors, warnings). A weather file covering too little
    of the run (an error below WEATHER_MIN_COVER, else a warning); a trace ending early, spanning far more than the
    run at a slow rate, or with rows out of time order (warnings); a curtailment event starting at or after the end
    (a warning: :func:`dcsim.scenario.faults.window_errors`)."""
    sc = m.scenario
    run = float(sc.duration)
    errs: list[tuple[str, str]] = []
    warns: list[str] = []
    span = getattr(getattr(m.facility, "weather", None), "file_span", None)
    if span is not None:
        path, t0, t1 = span
        covered = max(0.0, min(t1, run) - max(t0, 0.0))
        if covered < run:
            say = (f"{path} covers {fmt_duration(covered)} of the {fmt_duration(run)} run (the file spans "
                   f"{fmt_duration(max(t1 - t0, 0.0))}, from {t0:g} s to {t1:g} s of the run after offset "
                   f"{sc.facility.weather.offset:g} s); outside it the end values are held (wrap: true to repeat "
                   "it; a t_s column holding hours? use 'hour')")
            if covered < WEATHER_MIN_COVER * run:
                errs.append(("facility.weather.path", say))
            else:
                warns.append(f"facility.weather.path: {say}")
    ts = getattr(m.workload, "trace_span", None)
    if ts is not None:
        path, t0, t1, n = ts
        if t1 < TRACE_MIN_COVER * run:
            warns.append(f"workload.arrivals.path: {path}: the trace's last request arrives at {fmt_duration(t1)} "
                         f"of the {fmt_duration(run)} run; no request arrives after it (loop: true to repeat the "
                         "trace; timestamps in s where the format expects ms?)")
        if t1 > run and n > 0 and (t1 - t0) > 0:
            rate = n / (t1 - t0)
            share = min(1.0, run / (t1 - t0))  # of the span inside the run; with the mean rate, of the requests
            if share < TRACE_MIN_SHARE_IN_RUN and rate < TRACE_SLOW_RATE:
                warns.append(f"workload.arrivals.path: {path}: the trace spans {fmt_duration(t1 - t0)} "
                             f"({t1 - t0:.3g} s) at a mean {rate:.3g} req/s, but the run is {fmt_duration(run)}: "
                             f"about {100 * share:.2g} % of its {n:,} requests arrive in the run (times in ms read "
                             "as s? set time_unit: ms)")
    un = getattr(m.workload, "trace_unsorted", None)
    if un is not None:  # was silent: a shuffled file, or a time column that is not the arrival time, was sorted
        path, k, n, line = un
        warns.append(f"workload.arrivals.path: {path}: {k:,} of its {n:,} rows arrive{'s' if k == 1 else ''} before "
                     f"the row above them (the first at line {line}); the requests are replayed in time order (is "
                     "the time column the arrival time?)")
    # was silent: the report counted 0 events. Warned, where a fault's window is refused (window_errors): a shortened
    # run (grid-flex's tests, a sweep over duration) keeps its grid program's schedule
    cur = getattr(sc.grid, "curtailment", None)
    warns += [f"{p}: {r}" for p, r in window_errors(getattr(cur, "events", None), run, "grid.curtailment.events",
                                                    "event")]
    return errs, warns


def weather_record_warnings(m: Models) -> list[str]:
    """A warning when the run's outdoor dry bulb rises above the highest air temperature ever recorded
    (:data:`dcsim.thermal.weather.T_RECORD_HIGH_C`, 56.7 degC, WMO): a degF value read as degC, most likely (a
    synthetic ``mean_t: 60``, meant degF, makes a 77 degC day on the hot-dry preset, and the plant's warnings then
    blame the plant; ``mean_t: 75`` there spans past 80 degC and validation refuses it). Warned, not refused:
    a what-if beyond the record is a question one may ask; a weather file is refused there (it records measurements).
    Sampled every 15 min of the run (at most 35,041 points: a year), so a diurnal peak is not missed."""
    w = getattr(m.facility, "weather", None)
    spec = getattr(getattr(m.scenario, "facility", None), "weather", None)
    if w is None or spec is None:
        return []
    run = float(m.scenario.duration)
    t = np.linspace(0.0, run, int(min(run / 900.0, 35040)) + 2)
    t_db = np.asarray(w.at(t)[0], dtype=float)
    k = int(np.argmax(t_db))
    if not t_db[k] > T_RECORD_HIGH_C:
        return []
    kind = getattr(spec, "kind", "")
    if kind == "constant":
        where, hint = "facility.weather.t_db", degf_hint(spec.t_db)
    elif kind == "synthetic":
        r = spec.resolved()
        where, hint = "facility.weather.mean_t", degf_hint(r["mean_t"])
    else:
        where, hint = "facility.weather.path", "name the unit in the file"
    share = float(np.mean(t_db > T_RECORD_HIGH_C))
    return [f"{where}: the outdoor dry bulb reaches {t_db[k]:.1f} °C at {fmt_duration(float(t[k]))} of the run "
            f"({100 * share:.0f} % of it above {T_RECORD_HIGH_C:g} °C, the highest air temperature ever recorded: "
            f"Death Valley 1913, WMO); the plant's ceilings follow that air. A °F value read as °C? {hint}"]


def physics_checks(m: Models, dies=_UNSET) -> tuple[list[tuple[str, str]], list[str]]:
    """Cross-field physics over the built models: (errors as (field, reason), warnings). ``dies``: the run's
    :func:`thermal_dies` where already built (preflight), else built here."""
    with np.errstate(all="ignore"):  # absurd inputs overflow on purpose here; the checks say so
        return _physics_checks(m, thermal_dies(m) if dies is _UNSET else dies)


#: A liquid plant's default staging unit where its trim is no smaller: the design air-side share of its capacity
#: (:attr:`dcsim.thermal.facility.Facility.chiller_unit_w`), as the part-load floor's warning names it.
_DESIGN_UNIT = "chiller_unit (default capacity x air_design_fraction)"

#: What a given chiller staging unit larger than the chillers it stages is said to exceed, by what sizes them (the
#: oversized-unit warning of :func:`_physics_checks`): a chiller plant's ``capacity``; a liquid plant's trim,
#: ``air_side.capacity`` or its default, what the plant needs to reject ``capacity`` at rating_t_out
#: (``liquid_trim_rated_w``).
_STAGING_WHOLE = {
    "capacity": "the plant's capacity",
    "air_side.capacity": "the whole trim chiller (air_side.capacity)",
    "default trim": "the whole trim chiller (default: capacity less the dry coolers' capacity at rating_t_out)",
}
#: A liquid plant's default staging unit where its given trim (``air_side.capacity``) is under the design share, as
#: the part-load floor's warning names it (a default trim is at least the design share: its unit is then that share).
_TRIM_UNIT = "chiller_unit (default the trim's size air_side.capacity, under capacity x air_design_fraction)"


def _delivery_binding(m: Models, cap_w: float, budget_w: float, contract_it_w: float,
                      delivered_it_w: float) -> tuple[str, str, str]:
    """(field, what, also) naming the series element that sets ``delivered_it_w``, the IT the delivery chain delivers at
    the run's worst hour (:meth:`~dcsim.thermal.facility.Facility.max_it_delivered_w` of the contract): the
    interconnect where it alone delivers as little (``contract_it_w``), else the transformer where its rating
    (``budget_w``, :meth:`~dcsim.thermal.facility.Facility.delivery_budget_w`) is below the contract, else the UPS.
    ``also`` gives the contract's own figure where an element below it binds (else "")."""
    fq = format_quantity
    if delivered_it_w >= contract_it_w * (1 - 1e-9):
        return f"facility.interconnect {fq(cap_w, 'power')}", "the interconnect", ""
    also = f", where the {fq(cap_w, 'power')} interconnect alone would deliver {fq(contract_it_w, 'power')}"
    ups_it = float(m.facility.ups_it_limit_w)
    if budget_w < cap_w and delivered_it_w < ups_it * (1 - 1e-9):
        return ("facility.power_chain.transformer_rating",
                f"the transformer ({fq(budget_w, 'power')}, rated below the interconnect)", also)
    return ("facility.power_chain.ups_rating", f"the UPS ({fq(float(m.facility.ups_rating_w), 'power')})", also)


def _physics_checks(m: Models, dies) -> tuple[list[tuple[str, str]], list[str]]:
    sc = m.scenario
    fq = format_quantity
    errs: list[tuple[str, str]] = []
    warns: list[str] = []
    cv = m.curves
    idle_it = float(np.min(cv.it_pq[:, 0]))        # every replica idle at its lowest-power clock
    peak_it = float(np.max(cv.it_pq[-1]))          # every replica at full batch, full clock
    cap = float(m.facility.interconnect_w)
    lf = m.liquid_fraction
    t_db, t_wb = _weather_samples(m, float(sc.duration))
    contract_it = np.asarray(m.facility.max_it_power_w(np.full(t_db.shape, cap), lf, t_db, t_wb), dtype=float)
    # the budget the run holds (Facility.delivery_budget_w, the one rule Facility.max_it_delivered_w reads): the
    # contract, at most a given transformer rating (the UPS rating is checked on its own below), and the IT it allows.
    # Until 2026-12-05 preflight read the contract alone: reference.yaml with transformer_rating 60 kW validated and
    # served no token, and 400 W was blamed on facility.interconnect
    tr_w = float(m.facility.delivery_budget_w(cap))  # below cap only where a given transformer rating binds
    allowed_it = np.asarray(m.facility.max_it_power_w(np.full(t_db.shape, tr_w), lf, t_db, t_wb), dtype=float)
    delivered_it = np.minimum(allowed_it, m.facility.ups_it_cap_w)  # Facility.max_it_delivered_w, not solved twice
    coolable_it = np.asarray(m.facility.max_it_for_cooling_w(t_db, t_wb, lf), dtype=float)
    idle_bd = m.facility.breakdown(np.full(t_db.shape, idle_it), lf, t_db, t_wb)  # the idle fleet, every weather sample
    idle_fac = np.asarray(idle_bd["facility"], dtype=float)
    peak_fac = np.asarray(m.facility.breakdown(np.full(t_db.shape, peak_it), lf, t_db, t_wb)["facility"], dtype=float)
    # a plant with no capacity (fixed_pue / pue_curve without `capacity`, the documented default) cools any load:
    # +inf there is the model's answer (unlimited), not an input out of range
    for name, x, unlimited_ok in (("idle IT power", idle_it, False), ("full-load IT power", peak_it, False),
                                  ("IT power the interconnect allows", allowed_it, False),
                                  ("IT power the plant can cool", coolable_it, True)):
        x = np.asarray(x, dtype=float)
        if np.any(np.isnan(x) | (x == -np.inf) | (~unlimited_ok & (x == np.inf))):
            errs.append(("facility", f"{name} is not finite ({excerpt(np.asarray(x).ravel()[:3].tolist())}): "
                         "an input is out of any physical range"))
    if errs:
        return errs, warns
    for gi, r in enumerate(sc.racks):  # an inline GPU whose host maximum comes from a chassis sized for 700 W boards
        w = None if isinstance(r.node.gpu, str) else default_server_warning(r.node.gpu)
        if w:
            warns.append(f"racks[{gi}].node.gpu.server: {w}")
    for gi, g in enumerate(m.groups):  # a rack whose limits are below its own idle draw serves nothing
        lim, spec = g.limits, sc.racks[gi]
        rack_idle = lim.replicas_per_rack * float(np.min(g.table.wall[:, 0])) + lim.rack_overhead_w
        rack_full = float(g.rack_full_load_w)
        for name, limit, given in (("power.power_limit", lim.rack_power_limit_w, spec.power.power_limit),
                                   ("cooling.limit", lim.rack_cooling_limit_w, spec.cooling.limit)):
            what = "power limit (derated)" if name.startswith("power") else "cooling limit"
            if rack_idle > limit:
                errs.append((f"racks[{gi}].{name}", f"the rack's {what} {fq(limit, 'power')} is below the rack's idle "
                             f"draw {fq(rack_idle, 'power')} ({_times(rack_idle, limit)} it): no rack of "
                             f"{sc.racks[gi].name!r} could serve a token"))
            elif sc.controller.policy == "none" and rack_full > limit * (1 + 1e-9):
                warns.append(f"racks[{gi}].{name}: controller.policy none never caps, so the rack's {what} "
                             f"{fq(limit, 'power')} does not hold it: at full load it draws {fq(rack_full, 'power')} "
                             f"({rack_full / limit:.3g}x; not counted in the report)")
            elif rack_full > LIMITS["stranded_ratio"] * limit:
                warns.append(f"racks[{gi}].{name}: the rack's {what} {fq(limit, 'power')} is "
                             f"{rack_full / limit:.3g}x below its full-load draw {fq(rack_full, 'power')}; "
                             "most of each rack is stranded — check the units")
            elif given is not None and rack_full > 0 and limit > LIMITS["stranded_ratio"] * rack_full:
                # the other way (60000 kW for 60 kW): the limit never binds and silently drops out of the run. A PDU
                # is sized to its rack with headroom (NEC's 80 % continuous rule, spare for growth), not 20x
                given = float(given)
                derated = f" ({fq(limit, 'power')} derated)" if abs(limit - given) > 1e-9 * given else ""
                warns.append(f"racks[{gi}].{name}: the rack's limit {fq(given, 'power')}{derated} is "
                             f"{limit / rack_full:.3g}x its full-load draw {fq(rack_full, 'power')}, so it never "
                             f"binds; a unit slip? did you mean {fq(given / 1e3, 'power')}? (above "
                             f"{LIMITS['stranded_ratio']:g}x is no rack design)")
    hold, tick = float(sc.controller.hold_limit), float(sc.controller.tick)
    if hold < tick:  # the queues judge a request's age at tick boundaries
        warns.append(f"controller.hold_limit {fq(hold, 'time')} is shorter than controller.tick {fq(tick, 'time')}: "
                     "work is judged old at the end of the tick it arrived in, so the queues shed work a replica "
                     "could still have served within the hold limit (request fidelity shed half the arrivals at a "
                     "0.5 s hold and 1 s tick, the fluid queue far fewer); use a tick no longer than the hold limit")
    d = sc.deferrable
    if d is not None and float(d.deadline) < hold:  # the flexibility baseline serves the batch share on arrival
        warns.append(f"deferrable.deadline {fq(float(d.deadline), 'time')} is shorter than controller.hold_limit "
                     f"{fq(hold, 'time')}: the flexibility baseline (the same run without deferrable work) serves "
                     "the batch share through the one queue, held up to the hold limit, and scores what it serves "
                     "as on time; past the deadline it would be late, so the baseline's deferrable figure is an "
                     "upper bound (docs/grid.md, the flexibility block)")
    pc = sc.facility.power_chain
    if not m.facility.quick_study and pc.ups_rating is not None:  # a rating that follows the interconnect: its check
        ups_it = float(m.facility.ups_it_limit_w)
        if idle_it > ups_it:
            errs.append(("facility.power_chain.ups_rating",
                         f"the UPS rating {fq(float(m.facility.ups_rating_w), 'power')} carries at most "
                         f"{fq(ups_it, 'power')} of IT (its output is IT + PDU loss), below the idle fleet's "
                         f"{fq(idle_it, 'power')} ({_times(idle_it, ups_it)} it): no GPU could serve a token"))
        elif ups_it < float(np.max(allowed_it)) and peak_it > ups_it:
            warns.append(f"facility.power_chain.ups_rating: the UPS ({fq(float(m.facility.ups_rating_w), 'power')}) "
                         f"carries at most {fq(ups_it, 'power')} of IT, less than the interconnect"
                         f"{' and transformer allow' if tr_w < cap else ' allows'} "
                         f"({fq(float(np.max(allowed_it)), 'power')}) and the fleet's full load "
                         f"({fq(peak_it, 'power')}): delivered power binds at the UPS first")
    tr_refused = False
    if tr_w < cap:  # a given rating below the contract: the transformer carries the whole site (IT, cooling, losses)
        best_tr, best_contract = float(np.max(allowed_it)), float(np.max(contract_it))
        worst_tr = float(np.min(allowed_it))
        rated = (f"the transformer ({fq(tr_w, 'power')}) is rated below the interconnect ({fq(cap, 'power')}) and "
                 f"carries at most {fq(best_tr, 'power')} of IT (its load is the whole site: IT, cooling, losses and "
                 "fixed loads)")
        if idle_it > best_tr:
            tr_refused = True
            errs.append(("facility.power_chain.transformer_rating",
                         f"{rated}, below the idle fleet's {fq(idle_it, 'power')} ({_times(idle_it, best_tr)} it): "
                         "no GPU could serve a token"))
        elif peak_it > best_tr:  # (best_tr < best_contract: the rating is below the contract)
            warns.append(f"facility.power_chain.transformer_rating: {rated}, less than the interconnect allows "
                         f"({fq(best_contract, 'power')}) and the fleet's full load ({fq(peak_it, 'power')}): delivered "
                         "power binds at the transformer before the interconnect")
        else:  # below the contract but not under the full load at every hour: it still limits the site, say so
            fits = ("the fleet's full load fits under it at every hour of the run" if peak_it <= worst_tr else
                    f"the fleet's full load ({fq(peak_it, 'power')} of IT) fits under it only at the milder hours of "
                    f"the run ({fq(worst_tr, 'power')} of IT at the hottest)")
            fed = ", battery-fed or not" if sc.facility.storage is not None else ""
            warns.append(f"facility.power_chain.transformer_rating: {rated}: the site draws at most "
                         f"{fq(tr_w, 'power')}{fed}, never its contract (docs/facility.md); {fits}")
    if pc.generator is not None:
        warns.append("facility.power_chain.generator is recorded but limits nothing: no fault or event models a utility "
                     "outage, so the generator never carries the load (docs/facility.md)")
    if m.facility.quick_study:  # its PUE covers the delivery chain: the loss and fixed-load fields are not read
        unused = sorted(set(sc.facility.power_chain.model_fields_set) - {"generator"})
        if unused:
            warns.append(f"facility.power_chain.{', '.join(unused)} not used: a {sc.facility.cooling.kind} plant's PUE "
                         "covers delivery losses and fixed loads (reported as zero); use kind chiller_plant or "
                         "liquid to model them (docs/facility.md)")
    tick = float(sc.controller.tick)
    n_ticks = math.ceil(float(sc.duration) / tick - 1e-9)
    if abs(n_ticks * tick - float(sc.duration)) > 1e-6 * tick:
        warns.append(f"duration {fmt_duration(float(sc.duration))} is not a whole number of controller ticks "
                     f"({fmt_duration(tick)}): the run simulates {n_ticks:,} ticks = "
                     f"{fmt_duration(n_ticks * tick)}, and every total covers that")
    for gi, g in enumerate(m.groups):  # a board cap outside the settable range is clipped, as nvidia-smi -pl does
        node, spec_cap = g.node, sc.racks[gi].node.power_cap
        if spec_cap is not None and abs(node.limit_w - float(spec_cap)) > 1e-6 * float(spec_cap):
            lo, hi = node.gpu.power_limit_min_w, node.gpu.tdp_w
            warns.append(f"racks[{gi}].node.power_cap {fq(float(spec_cap), 'power')} is outside {g.gpu_name}'s settable "
                         f"board limit range [{fq(lo, 'power')}, {fq(hi, 'power')}]: the boards run at "
                         f"{fq(node.limit_w, 'power')}, as nvidia-smi -pl would set them")
    best_allowed = float(np.max(contract_it))  # the contract's own checks: a binding transformer is refused above
    fixed = float(sc.facility.power_chain.fixed_load or 0.0) if not m.facility.quick_study else 0.0
    # the fixed loads alone take the contract, which the idle fleet would fit without them: name them, not a unit
    # slip of the interconnect (600 kW of fixed_load on a 495 kW contract; 5 MW for 5 kW)
    plant_cap = getattr(sc.facility.cooling, "capacity", None)
    plant_cap = float(plant_cap) if plant_cap is not None else None
    idle_cooling = float(np.min(np.asarray(idle_bd["cooling"], dtype=float)))
    # the idle fleet over the contract, unless the transformer's refusal above already names the cause
    idle_over = not tr_refused and idle_it > best_allowed
    if idle_over and fixed >= cap and idle_it <= cap:
        without = float(np.min(idle_fac)) - fixed
        errs.append(("facility.power_chain.fixed_load",
                     f"{fq(fixed, 'power')} of fixed loads alone is {_times(fixed, cap)} the {fq(cap, 'power')} "
                     f"interconnect: nothing is left for the {m.gpus:,} GPUs (idle, they draw {fq(idle_it, 'power')} of IT"
                     + (f", {_meter(without)} at the meter without the fixed loads" if without <= cap else "")
                     + "); lower fixed_load or raise facility.interconnect"
                     + (" (a unit slip, MW for kW?)" if reads_as_unit_slip("fixed_load", fixed, cap) else "")))
    elif (idle_over and plant_cap is not None and plant_cap > LIMITS["stranded_ratio"] * peak_it
          and idle_cooling + idle_it > cap):
        # an oversized plant: its fans and pumps, sized to its capacity, eat the contract (395 MW for 395 kW)
        errs.append(("facility.cooling.capacity",
                     f"{fq(plant_cap, 'power')} is {_times(plant_cap, peak_it)} the fleet's full-load IT power "
                     f"({fq(peak_it, 'power')}), and the plant's own draw with the fleet idle ({fq(idle_cooling, 'power')}) "
                     f"leaves the {fq(cap, 'power')} interconnect nothing for the {m.gpus:,} GPUs "
                     f"(a unit slip, {'MW for kW' if reads_as_unit_slip('cooling_capacity', plant_cap, peak_it) else 'a zero too many'}?)"))
    elif idle_over:
        errs.append(("facility.interconnect",
                     f"{fq(cap, 'power')} cannot power the fleet even idle: {m.gpus:,} GPUs idle draw "
                     f"{fq(idle_it, 'power')} of IT"
                     # the meter figure only where the chain, rated for the interconnect, carries the idle IT: past
                     # its rating the losses are the curves' extrapolation (80.57 kW on a 1 W chain read 109.3 MW)
                     + (f" ({_meter(idle_fac)} at the meter with cooling and losses)" if idle_it <= cap else "")
                     + f", {_times(idle_it, best_allowed)} what the interconnect can deliver to IT "
                     f"({fq(best_allowed, 'power')}); no token could be served"
                     # the hint asks the idle IT, not the meter (UNIT_SLIP_FACTORS says why)
                     + (f" (a unit slip? did you mean {_readings(slip)}?)"
                        if reads_as_unit_slip("interconnect", idle_it, cap) and (slip := unit_slip_readings(cap, idle_it))
                        else "; raise facility.interconnect")))
    idle_meter = float(np.min(idle_fac))  # the idle fleet at the meter, at the mildest hour of the run
    for fi, f in enumerate(sc.faults):
        # a curtailment below the idle draw: nothing the controller does meets it, so the run could only report the
        # cap broken for the whole window. Refused, unless a battery (facility.storage) may carry the site through it
        # or controller.idle_power_down may park replicas below their idle draw: then a warning
        if getattr(f, "kind", None) != "curtailment":
            continue
        fcap = float(f.cap) if f.cap is not None else float(f.fraction) * cap
        if fcap < idle_meter:
            what = (f"cap {fq(fcap, 'power')}" if f.cap is not None else
                    f"fraction {float(f.fraction):g} of the {fq(cap, 'power')} contract ({fq(fcap, 'power')})")
            msg = (f"the {what} is below the idle fleet's draw at the meter ({fq(idle_meter, 'power')} with cooling, "
                   "losses and fixed loads): no controller action meets it (dcsim does not switch the site off), so "
                   "the facility would draw over the cap for the whole window")
            if sc.facility.storage is not None or sc.controller.idle_power_down:
                warns.append(f"faults[{fi}]: {msg}, unless facility.storage or parked replicas "
                             "(controller.idle_power_down) carry the difference")
            else:
                errs.append((f"faults[{fi}]", msg + "; give a cap at or above the idle draw, or model the outage "
                             "with facility.storage"))
    best_cool = float(np.max(coolable_it))
    if idle_it > best_cool:
        loss0 = float(np.max(np.asarray(m.facility.breakdown(np.zeros(t_db.shape), lf, t_db, t_wb)["losses"], dtype=float)))
        pc = sc.facility.power_chain
        follows = pc.ups_rating is None or pc.transformer_rating is None
        why = (f"; the power chain's no-load losses alone are {fq(loss0, 'power')} of heat"
               + (f", because the UPS and transformer ratings follow the interconnect {fq(cap, 'power')} — set "
                  "facility.power_chain.ups_rating / transformer_rating to the equipment you have"
                  if follows else "")) if loss0 > 0 else ""
        if plant_cap is not None and plant_cap < idle_it:  # the rated capacity itself: 395 W for 395 kW
            errs.append(("facility.cooling.capacity",
                         f"{fq(plant_cap, 'power')} cannot reject even the idle fleet's heat ({fq(idle_it, 'power')} of "
                         f"IT power, {_times(idle_it, plant_cap)} that; at most {fq(best_cool, 'power')} of IT can be "
                         f"cooled during the run){' (a unit slip, W for kW?)' if idle_it > 100 * plant_cap else ''}"))
            return errs, warns
        if best_cool > 0:
            plant = (f"the plant cannot reject even the idle fleet's heat: {fq(idle_it, 'power')} of idle IT power vs "
                     f"at most {fq(best_cool, 'power')} of IT the plant can cool during the run "
                     f"({_times(idle_it, best_cool)} that; power-chain losses count as heat too{why})")
        else:  # the chain's no-load heat alone fills the plant: "at most 0 W of IT ... (infinitely more than that)"
            # until 2026-12-05 (a 1 GW contract on reference's 34 kW fleet)
            q_best = float(np.max(np.asarray(m.facility.heat_rejection_capacity_w(t_db, t_wb, lf), dtype=float)))
            h0 = float(np.max(np.asarray(m.facility.heat_to_reject_w(0.0), dtype=float)))
            plant = (f"the plant cannot reject even the idle fleet's heat ({fq(idle_it, 'power')} of idle IT power): "
                     f"the power chain's heat at zero IT, {fq(h0, 'power')}, already exceeds the most the plant "
                     f"rejects during the run, {fq(q_best, 'power')}, so it can cool no IT power at all"
                     + (f" (the UPS and transformer ratings follow the interconnect {fq(cap, 'power')}, and their "
                        "no-load losses follow the ratings: set facility.power_chain.ups_rating / transformer_rating "
                        "to the equipment you have)" if follows else ""))
        if follows and loss0 > 0 and reads_as_unit_slip("interconnect_oversized", cap, peak_it):
            # the chain's ratings follow an oversized contract: its no-load losses overwhelm the plant. Name the contract
            # (495 MW for 495 kW), not the plant the losses overwhelm; the plant's reason follows
            meant = unit_slip_readings(cap, idle_it, LIMITS["stranded_ratio"] * peak_it)
            slip = (f"a unit slip, {display_unit(cap, 'power')[0]} for {meant[0][1]}? did you mean {_readings(meant)}?"
                    if meant else "a unit slip, a prefix too large?")
            errs.append(("facility.interconnect", f"{fq(cap, 'power')} is {_times(cap, peak_it)} the fleet's full-load "
                         f"IT power ({fq(peak_it, 'power')}) ({slip}): {plant}; give the contract you have"))
            return errs, warns
        errs.append(("facility.cooling", plant))
    if errs:
        return errs, warns
    # what the delivery chain delivers to IT as the run holds it (Facility.max_it_delivered_w, the engine's ceiling:
    # the contract, at most a given transformer rating, IT at most the UPS rating). Until 2026-12-05 this read the
    # contract alone, though a transformer or UPS rated below it is what limits the run
    worst_allowed = float(np.min(delivered_it))
    if peak_it > LIMITS["stranded_ratio"] * worst_allowed:
        where, what, also = _delivery_binding(m, cap, tr_w, float(np.min(contract_it)), worst_allowed)
        warns.append(f"{where}: the fleet's full-load IT power {fq(peak_it, 'power')} is "
                     f"{peak_it / worst_allowed:.3g}x what {what} can deliver to IT ({fq(worst_allowed, 'power')})"
                     f"{also}; "
                     f"most of the {m.gpus:,} GPUs are stranded — check the units and counts")
    worst_cool = float(np.min(coolable_it))
    if peak_it > LIMITS["stranded_ratio"] * worst_cool:
        warns.append(f"facility.cooling: the fleet's full-load IT power {fq(peak_it, 'power')} is "
                     f"{peak_it / worst_cool:.3g}x what the plant can cool at the hottest hour "
                     f"({fq(worst_cool, 'power')}); most of the fleet cannot run — check the units and counts")
    cs = sc.facility.cooling
    unit = m.facility.chiller_unit_w
    if cs.kind in ("chiller_plant", "liquid") and unit is not None and unit < math.inf:
        # the COP regression's part load is the chillers' load over one staging unit (chiller_unit_w), floored at its
        # validity range: a unit far larger than the load its chillers carry runs at the floor's (worst) COP, and a
        # bigger unit can then serve fewer tokens under the same interconnect. A chiller plant: the fleet's
        # full-load heat; a liquid plant's trim: the most it carries at full load during the run (air-side heat and
        # the warm loop's overflow)
        plant = cs if cs.kind == "chiller_plant" else cs.air_side
        where = "facility.cooling" + ("" if cs.kind == "chiller_plant" else ".air_side")
        if cs.kind == "chiller_plant":
            load, what = float(np.max(m.facility.heat_to_reject_w(peak_it))), "the fleet's full-load heat"
        else:
            load = float(np.max(m.facility.chiller_load_w(np.full(np.shape(t_db), peak_it), lf, t_db, t_wb)))
            what = "the most its trim chillers carry at full load during the run"
        # a given unit larger than what it stages (a chiller plant's capacity, a liquid plant's whole trim) was taken
        # without a word: one chiller larger than its plant, its part load (hence COP) read on a chiller it lacks
        size = m.facility.capacity_w if cs.kind == "chiller_plant" else m.facility.trim_capacity_w
        if cs.kind == "chiller_plant":
            whole = _STAGING_WHOLE["capacity"]
        else:
            whole = _STAGING_WHOLE["air_side.capacity" if cs.air_side.capacity is not None else "default trim"]
        if plant.chiller_unit is not None and unit > size * (1 + 1e-9):
            warns.append(f"{where}.chiller_unit {fq(unit, 'power')} is {unit / size:.3g}x {whole} "
                         f"{fq(size, 'power')}: a unit is one of its chillers, not more than all of them; its part load, "
                         f"hence its COP, is read on a chiller the plant does not have (give at most {fq(size, 'power')}, docs/facility.md)")
        if load < plant.chiller_min_load * unit:
            # what set the unit: given; else the size it stages (a chiller plant's capacity, a liquid trim's given size
            # where that is under capacity x air_design_fraction: its default unit is the smaller), else that share
            if plant.chiller_unit is not None:
                field = "chiller_unit"
            elif cs.kind == "chiller_plant":
                field = "capacity"
            else:
                given_under = cs.air_side.capacity is not None and size < m.facility.capacity_w * cs.air_design_fraction
                field = _TRIM_UNIT if given_under else _DESIGN_UNIT
            warns.append(f"{where}.{field} {fq(unit, 'power')} is {unit / max(load, 1e-9):.3g}x {what} "
                         f"({fq(load, 'power')}): its chillers run below the COP regression's {plant.chiller_min_load:g} "
                         "part-load floor even at full load and are charged the floor's COP "
                         + ("(dcsim does not stage smaller units unless given one: set "
                            if plant.chiller_unit is None else "(set ")
                         + f"{where}.chiller_unit to the size of one chiller, docs/facility.md)")
    top_fac = float(np.max(peak_fac))
    if sc.controller.policy == "none" and math.isfinite(top_fac):
        # every element the engine holds the site to (Facility.delivery_budget_w for the facility power, the UPS's IT
        # limit): until 2026-12-05 only the contract was read, so a fleet within its contract but over a transformer
        # rated below it validated with no word and drew through the transformer over its rating
        over = []
        if top_fac > cap:
            over.append(f"its interconnect {fq(cap, 'power')}")
        if tr_w < cap and top_fac > tr_w:
            over.append(f"its transformer's rating {fq(tr_w, 'power')}"
                        + ("" if top_fac > cap else f" (below its {fq(cap, 'power')} interconnect, which it fits)"))
        ups_it = float(m.facility.ups_it_cap_w)
        if peak_it > ups_it:  # the engine holds IT to it, given or following the contract (inf: a quick-study plant)
            over.append(f"its UPS rating {fq(float(m.facility.ups_rating_w), 'power')} ({fq(ups_it, 'power')} of IT "
                        f"against the fleet's {fq(peak_it, 'power')} at full load)")
        if over:
            over_chain = len(over) > int(top_fac > cap)  # a transformer or UPS rating among them, not the contract alone
            counted = ("report.json interconnect_exceeded_s counts the time over the contract"
                       + (", delivery_exceeded_s the time over the power chain's ratings" if over_chain else ""))
            warns.append(f"controller.policy none: nothing holds the facility to {' or '.join(over)}; at full load "
                         f"it draws up to {fq(top_fac, 'power')} at the meter ({counted})")
    if not math.isfinite(top_fac):
        errs.append(("facility", "facility power at full load is not finite: an input is out of any physical range"))
    elif cap > LIMITS["oversized_ratio"] * peak_it:
        warns.append(f"facility.interconnect {fq(cap, 'power')} is {cap / peak_it:.3g}x the fleet's full-load IT "
                     f"power ({fq(peak_it, 'power')}); a power chain and plant sized for the interconnect make losses "
                     f"and PUE those of an almost empty facility (PUE at full load {top_fac / peak_it:.3g}) — check "
                     "the units")
    if dies is not None:
        from dcsim.engine.flex import die_limit_warnings
        warns += die_limit_warnings(m, *dies, peak_it)
    return errs, warns


#: The units a site's interconnect is quoted in (a utility contract, a substation rating): kW to MW.
SITE_POWER_UNITS = ("kW", "MW")
#: The unit-slip rules of :func:`physics_checks`, in one place: a refusal adds "a unit slip?" to its reason where one
#: power exceeds another by more than the rule's factor (:func:`reads_as_unit_slip`). Each factor is an assumption (a
#: slipped prefix is a factor of 1,000; below the factor the input reads as sized wrong, not mistyped); they differ
#: because the powers they compare are spread differently in real designs:
#:
#: - ``interconnect`` (:data:`UNIT_SLIP_FACTOR`, 10): the contract against the idle fleet's IT draw (not the meter's:
#:   a power chain rated at a slipped contract, its UPS and transformer ratings following it, loses megawatts carrying
#:   the idle fleet). A contract sized short misses it by a factor of a few; 10x is no design.
#: - ``fixed_load`` (3): the fixed loads (lighting, offices) against the contract, which they are a share of: over 3
#:   times the whole contract reads as a slipped unit, less as a contract (or fixed load) sized wrong.
#: - ``cooling_capacity`` (300): the plant's rated capacity against the fleet's full-load IT. The refusal starts at
#:   an oversize of ``LIMITS["stranded_ratio"]`` (20x) already; a factor of 300 (near the 1,000 of a prefix) reads as
#:   MW for kW, anything less as a zero too many.
#: - ``interconnect_oversized`` (300): the contract against the fleet's full-load IT where the UPS and transformer
#:   ratings follow the contract and their no-load losses alone are more heat than the plant can reject (``495 MW``
#:   for ``495 kW``: 19.61 MW of losses). Above 300x (near the 1,000 of a prefix) the refusal names
#:   ``facility.interconnect`` and asks "MW for kW? did you mean 495 kW?" (until 2026-12-05 it blamed
#:   ``facility.cooling`` with no unit hint); below it the contract reads as a deliberate what-if ("make power
#:   unlimited": 10 MW on the 495 kW hall) and the refusal stays on ``facility.cooling``, saying the ratings follow
#:   the interconnect.
UNIT_SLIP_FACTORS: dict[str, float] = {"interconnect": 10.0, "fixed_load": 3.0, "cooling_capacity": 300.0,
                                       "interconnect_oversized": 300.0}
#: A contract short of the idle fleet's IT draw by more than this factor reads as a unit slip, not a sizing
#: shortfall (:data:`UNIT_SLIP_FACTORS`' ``interconnect`` rule).
UNIT_SLIP_FACTOR = UNIT_SLIP_FACTORS["interconnect"]

#: Plausible ranges of the inputs that carry no cross-field check of their own, each ``(low, high)`` in SI; a value
#: outside reads as a unit slip and is warned, naming the field, the value and the unit likely meant
#: (:func:`input_slip_warnings`). Warned, not refused: a what-if outside them is a question one may ask. Each bound
#: is an assumption, its reason beside it:
#:
#: - ``slo_ttft`` (1 ms, 60 s): a TTFT target is interactive, a fraction of a second to a few seconds (the presets
#:   hold 0.5-5 s, docs/workload.md); over a minute is no target a user waits for, and ``slo_ttft: 1000`` (ms meant,
#:   a bare number is seconds) reads 1,000 s, met by any request served. Below 1 ms is shorter than one prefill
#:   step (a forward pass of the model over the prompt, milliseconds on any GPU): no request can meet it.
#: - ``slo_tpot`` (0.1 ms, 10 s): a TPOT target is one decode step's time, tens of ms (the presets hold 50-100 ms);
#:   10 s per token (0.1 tok/s) is slower than any served model, and ``slo_tpot: 100`` (ms meant) reads 100 s, met
#:   by every token: with ``slo_ttft: 1000`` too, reference.yaml's run reads SLO attainment 79.9 % for the 24.1 % its
#:   chat targets (1 s, 100 ms) give (docs/workload.md, measured 2026-12-05). Below 0.1 ms is shorter than any decode
#:   step (a forward pass reads the weights from memory: milliseconds).
#: - ``price`` (1, 10,000 USD/MWh, the highest hour and the run's mean alike): above the wholesale price caps of the
#:   largest markets (ERCOT's system-wide offer cap is 5,000 USD/MWh), so ``80 USD/kWh`` (80,000 USD/MWh) for
#:   80 USD/MWh is warned; a run whose every hour is below 1 USD/MWh reads as USD/MWh written for USD/kWh
#:   (``0.08 USD/MWh``). 0 (no price) is not warned.
#: - ``carbon`` (1, 2,000 g/kWh): above the intensity of any generating source (coal and lignite, about
#:   1,000 g/kWh) by 2x; below 1 g/kWh over the whole run reads as g/MWh for g/kWh. 0 (carbon-free) is not warned.
#:
#: A rack's given power or cooling limit is not here: it has a cross-field check, :func:`physics_checks`, which warns
#: a limit more than ``LIMITS["stranded_ratio"]`` (20x) below the rack's full-load draw (most of the rack stranded)
#: or above it (``60000 kW`` for ``60 kW``: it never binds).
PLAUSIBLE_RANGES: dict[str, tuple[float, float]] = {
    "slo_ttft": (1e-3, 60.0),
    "slo_tpot": (1e-4, 10.0),
    "price": (1.0 / 3.6e9, 10_000.0 / 3.6e9),   # USD/J: 1 and 10,000 USD/MWh
    "carbon": (1.0 / 3.6e6, 2_000.0 / 3.6e6),   # g/J: 1 and 2,000 g/kWh
}


def reads_as_unit_slip(rule: str, larger_w: float, smaller_w: float) -> bool:
    """True when ``larger_w`` exceeds ``smaller_w`` (W) by more than :data:`UNIT_SLIP_FACTORS` [``rule``]: the two
    powers are too far apart for a design, and the refusal asks whether a unit was slipped."""
    return larger_w > UNIT_SLIP_FACTORS[rule] * smaller_w


def unit_slip_readings(value_w: float, lo_w: float, hi_w: float = math.inf) -> list[tuple[float, str]]:
    """What a site power ``value_w`` (W) was likely meant to be, either way: its number as written (its display unit,
    mW below 1 W: ``495 W``, ``495 mW``) read in each other unit of :data:`SITE_POWER_UNITS` at which it lands in
    [``lo_w``, ``hi_w``], as ``(number, unit)`` pairs. A contract short of the idle fleet (80.6 kW) reads larger:
    ``unit_slip_readings(495, 80.6e3)`` is ``[(495.0, "kW"), (495.0, "MW")]``; an oversized one smaller:
    ``unit_slip_readings(495e6, 80.6e3, 6.9e6)`` is ``[(495.0, "kW")]``. None for ``value_w <= 0``. Whether the
    value reads as a slip at all is the caller's rule (:func:`reads_as_unit_slip`). Until 2026-12-05 every contract
    short of the idle fleet was asked "mW for MW?", a 495 W typo for 495 kW too."""
    if not value_w > 0.0:
        return []
    unit, per = ("mW", 1e-3) if value_w < 1.0 else display_unit(value_w, "power")
    num = value_w / per
    scale = DIMENSIONS["power"]
    return [(num, u) for u in SITE_POWER_UNITS if scale[u] != per and lo_w <= num * scale[u] <= hi_w]


def _readings(rs: list[tuple[float, str]]) -> str:
    """``[(495.0, "kW"), (495.0, "MW")]`` as ``495 kW or 495 MW``."""
    return " or ".join(f"{n:.4g} {u}" for n, u in rs)


def input_slip_warnings(m: Models) -> list[str]:
    """Inputs outside their plausible range (:data:`PLAUSIBLE_RANGES`), each warned naming the field, the value and
    the unit likely meant: SLO targets (:func:`slo_slip_warnings`) and the energy price and carbon intensity
    (:func:`price_carbon_slip_warnings`); rack limits are :func:`physics_checks`' (both ways). Until 2026-12-05 each
    was taken silently (audit AUH, defects 1 and 6)."""
    return slo_slip_warnings(m.scenario) + price_carbon_slip_warnings(m)


def slo_slip_warnings(sc: Scenario) -> list[str]:
    """A class's given ``slo_ttft`` / ``slo_tpot`` outside :data:`PLAUSIBLE_RANGES`: above it, ms written as s (a bare
    number is seconds); below it, shorter than any prefill or decode step (µs for ms?). Preset targets are not
    checked (they are in range)."""
    from dcsim.metrics.fmt import fmt_time

    out = []
    what = {"slo_ttft": ("TTFT target", "prefill step (a forward pass over the prompt)"),
            "slo_tpot": ("TPOT target", "decode step (a forward pass reading the weights)")}
    for i, c in enumerate(sc.workload.classes):
        for key, (name, step) in what.items():
            v = getattr(c, key)
            if v is None:
                continue
            v = float(v)
            lo, hi = PLAUSIBLE_RANGES[key]
            where = f"workload.classes[{i}].{key}"
            if v > hi:
                long = "" if (d := fmt_duration(v)) == f"{v:g} s" else f" ({d})"
                out.append(f"{where}: the {name} of class {c.name!r} is {v:g} s{long}, above "
                           f"{hi:g} s: every {'token' if key == 'slo_tpot' else 'request'} served meets it and SLO "
                           f"attainment reads inflated; ms written as s? (a bare number is seconds: write "
                           f"'{v:g} ms' for {fmt_time(v * 1e-3)})")
            elif v < lo:
                out.append(f"{where}: the {name} of class {c.name!r} is {fmt_time(v)}, below {fmt_time(lo)}, shorter "
                           f"than any {step}: no request can meet it and SLO attainment reads 0 %; µs written for "
                           f"ms? ({fmt_time(v * 1e3)} then)")
    return out


def price_carbon_slip_warnings(m: Models) -> list[str]:
    """The run's energy price or grid carbon intensity (``grid.price`` / ``grid.carbon``, else ``economics``) outside
    :data:`PLAUSIBLE_RANGES`: its highest hour above the range (USD/kWh for USD/MWh, kg for g), or every hour of the
    run inside (0, low) (USD/MWh for USD/kWh, g/MWh for g/kWh). Sampled hourly over the run (at most 8,784 points);
    a series that cannot be read is :func:`flex_errors`' refusal, not warned here."""
    from dcsim.engine.flex import price_carbon_per_tick

    sc = m.scenario
    run = float(sc.duration)
    t = np.linspace(0.0, run, int(min(run / 3600.0, 8783)) + 2)
    try:
        price, carbon = price_carbon_per_tick(m, t)
    except (OSError, ValueError, KeyError):
        return []
    g = sc.grid

    def num(x: float) -> str:  # no exponent: 80,000, not 8e+04
        return f"{x:,.0f}" if abs(x) >= 1e3 else f"{x:.4g}"

    out = []
    for rng, key, series, field, unit, per, hint_hi, hint_lo in (
            ("price", "price", price, "grid.price" if g is not None and g.price is not None else "economics.price",
             "USD/MWh", 3.6e9, "USD/kWh written for USD/MWh? ({} USD/MWh then)",
             "USD/MWh written for USD/kWh? ({} USD/MWh then)"),
            ("carbon", "carbon intensity", carbon,
             "grid.carbon" if g is not None and g.carbon is not None else "economics.carbon_intensity",
             "g/kWh", 3.6e6, "a unit slip? (g/kWh and kg/MWh are equal; 1 g/J is 3.6e6 g/kWh)",
             "g/MWh written for g/kWh? ({} g/kWh then)")):
        if series is None:
            continue
        x = np.asarray(series, dtype=float)
        if x.size == 0 or not np.all(np.isfinite(x)):
            continue
        lo, hi = PLAUSIBLE_RANGES[rng]
        top, mean = float(np.max(x)), float(np.mean(x))
        if top > hi:
            out.append(f"{field}: the {key} reaches {num(top * per)} {unit} (mean over the run {num(mean * per)} "
                       f"{unit}), above {num(hi * per)} {unit}, "
                       + ("above the largest markets' price caps; " if key == "price" else
                          "twice the intensity of coal; ")
                       + hint_hi.format(num(top * per / 1e3)))
        elif 0.0 < top < lo:
            out.append(f"{field}: the {key} is at most {num(top * per)} {unit} over the whole run, below "
                       f"{num(lo * per)} {unit}; " + hint_lo.format(num(top * per * 1e3)))
    return out


def _meter(x) -> str:
    v = float(np.min(x))
    return format_quantity(v, "power") if math.isfinite(v) else "more than any finite power"


def _times(a: float, b: float) -> str:
    return f"{a / b:.3g}x" if b > 0 else "infinitely more than"


def _field_for(exc: Exception) -> str:
    if isinstance(exc, TraceError):
        return "workload.arrivals"
    if isinstance(exc, WeatherError):
        return "facility.weather"
    return ""


def _a_refusal(e: BaseException) -> bool:
    """True when ``e`` is a refusal of the input: an explicit ``raise`` in dcsim, or an error raised
    inside a library (numpy, the csv reader, the file system) reading the user's data. False for an
    error Python itself raised in dcsim's own code (unpacking, indexing, a missing dict key): a bug,
    which must not be reported as "invalid scenario" (exit 2) but as an internal error (exit 70)."""
    import linecache

    tb = e.__traceback__
    if tb is None or isinstance(e, (OSError, OverflowError)):
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    fname = tb.tb_frame.f_code.co_filename
    if _PKG_DIR not in str(Path(fname).resolve()):
        return True
    return linecache.getline(fname, tb.tb_lineno).strip().startswith("raise")


_PKG_DIR = str(Path(__file__).resolve().parents[1])


def preflight(sc: Scenario, *, label: str | None = None) -> Preflight:
    """Check a validated scenario end to end before running it; raise
    :class:`~dcsim.scenario.ScenarioError` (file/field/reason) on any problem."""
    label = label or sc.name
    est = estimate(sc)
    errs = _resource_errors(sc, est)
    if sc.expect:  # a typo in an expect key was found only after the whole run
        from dcsim.metrics.expect import unknown_expect_paths

        errs += unknown_expect_paths(sc.expect)
    if errs:
        raise ScenarioError(label, errs)
    if sc.name in (".", "..") or sc.name.startswith("."):
        raise ScenarioError(label, [("name", f"{sc.name!r} cannot name an output folder (it must not start with "
                                             "'.'); choose a plain name")])
    try:
        m = build_models(sc)
    except ScenarioError as e:
        raise ScenarioError(label, e.errors) from None
    except (TraceError, WeatherError) as e:
        raise ScenarioError(label, [(_field_for(e), excerpt(str(e), 400, quote=False))]) from None
    except (ValueError, KeyError, OSError, OverflowError) as e:  # builders' own refusals
        if not _a_refusal(e):
            raise  # a bug in dcsim (e.g. a failed unpacking), not the user's scenario: the CLI says so
        msg = str(e).strip("'\"")
        path, sep, reason = msg.partition(": ")
        if sep and path and " " not in path:
            raise ScenarioError(label, [(path, excerpt(reason, 400, quote=False))]) from None
        raise ScenarioError(label, [("", excerpt(msg, 400, quote=False))]) from None
    est.update(request_estimate(m, est))
    # a trace replay keeps its requests for the whole run (TRACE_KEPT_BYTES_PER_REQUEST each: 24 B measured) and its
    # context windows' row arrays (Workload.trace_memory_bytes)
    est["trace_memory_bytes"] = m.workload.trace_memory_bytes
    est["peak_memory_bytes"] = int(min(est["peak_memory_bytes"] + est.get("request_memory_bytes", 0.0)
                                       + est["trace_memory_bytes"], 2.0**62))
    errs = _request_errors(sc, est)
    if errs:
        raise ScenarioError(label, errs)
    dies = thermal_dies(m)
    errs, warns = physics_checks(m, dies)
    errs += flex_errors(m, dies)
    e2, w2 = coverage_checks(m)
    errs += e2
    warns += w2
    warns += weather_record_warnings(m)
    warns += input_slip_warnings(m)
    if errs:
        raise ScenarioError(label, errs)
    for w in warns:
        if w not in m.warnings:
            m.warnings.append(w)
    return Preflight(models=m, warnings=list(m.warnings), estimate=est)
