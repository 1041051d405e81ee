"""The utility side: curtailment requests (schedule or seeded process) and hourly price and
carbon series, as pure functions of time (docs/grid.md).

Times are seconds from the run's start; a run's ``start`` datetime (the scenario's one clock of
day) places them on the calendar for month/hour windows and hourly series.

Wiring (phase 2): build the event list and the price/carbon arrays once per run
(:func:`curtailment_events`, :func:`series_at`); per chunk of ticks take
:func:`cap_over` (the meter cap over each whole tick, vectorized), :func:`below_contract` (the ticks that cap holds
below the contract: a request's ticks), :func:`notice_over` (the tick starts after a request was announced and before
it starts, and is no request's tick: storage pre-charges, deferrable work is held) and the price/carbon of each tick.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from dcsim.textio import MAX_TABLE_BYTES, read_text

__all__ = ["CurtailmentEvent", "curtailment_events", "sample_curtailment_events", "overlaps", "cap_over", "below_contract",
           "notice_over",
           "curtailment_summary", "series_at", "local_hour_and_month", "exceedance_events",
           "curtailment_enabled_scale"]

DAY_S = 86400.0


@dataclass(frozen=True)
class CurtailmentEvent:
    """A request: the meter may draw at most `cap_w` (or (1 − depth) × contract when cap_w is
    None) during [start_s, end_s); announced at start_s − notice_s."""

    start_s: float
    end_s: float
    depth: float
    cap_w: float | None
    notice_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def cap_for(self, contract_w: float) -> float:
        return self.cap_w if self.cap_w is not None else (1.0 - self.depth) * contract_w


def local_hour_and_month(t_s, start: datetime):
    """(hour of day 0–23, month 1–12) of run times t_s [s] for a run starting at `start`
    (vectorized; the calendar of `start`'s year, no time zone or DST shifts)."""
    t = np.asarray(t_s, dtype=float)
    year0 = datetime(start.year, 1, 1)
    s0 = (start - year0).total_seconds()
    abs_s = s0 + t
    hour = np.floor((abs_s % DAY_S) / 3600.0).astype(int)
    # month from day of year, repeating the start year's calendar
    y_len = (datetime(start.year + 1, 1, 1) - year0).total_seconds()
    doy = np.floor((abs_s % y_len) / DAY_S).astype(int)
    cum = np.cumsum([0] + [((datetime(start.year, m + 1, 1) if m < 12 else datetime(start.year + 1, 1, 1))
                            - datetime(start.year, m, 1)).days for m in range(1, 13)])
    month = np.searchsorted(cum, doy, side="right")
    return hour, month


def sample_curtailment_events(spec, horizon_s: float, start: datetime, seed_seq) -> list[CurtailmentEvent]:
    """Draw a CurtailmentProcessSpec's events for a run of `horizon_s` seconds (seeded by a numpy
    SeedSequence; same seed, same events). Durations are exponential with the spec's mean,
    truncated to max_duration, and rescaled so that they add up to budget × horizon; starts are
    drawn on whole hours inside the month × hour window, rejecting overlaps (up to 10,000 draws;
    events that do not fit are dropped — the summary shows the hours actually placed)."""
    rng = np.random.default_rng(seed_seq)
    total = spec.budget * horizon_s
    if total <= 0:
        return []
    durs: list[float] = []
    while sum(durs) < total:
        d = min(float(rng.exponential(spec.mean_duration)), spec.max_duration)
        durs.append(max(d, 60.0))
    durs[-1] -= sum(durs) - total  # exact budget
    if durs[-1] < 60.0 and len(durs) > 1:
        extra = durs.pop()
        durs[-1] += extra
    durs = [min(d, spec.max_duration) for d in durs]
    hours_grid = np.arange(0.0, horizon_s, 3600.0)
    hr, mo = local_hour_and_month(hours_grid, start)
    ok = np.isin(hr, spec.hours) & np.isin(mo, spec.months)
    candidates = hours_grid[ok]
    events: list[CurtailmentEvent] = []
    taken: list[tuple[float, float]] = []
    tries = 0
    for d in sorted(durs, reverse=True):
        while tries < 10_000 and candidates.size:
            tries += 1
            s = float(rng.choice(candidates))
            e = min(s + d, horizon_s)
            if all(e <= a or s >= b for a, b in taken):
                taken.append((s, e))
                events.append(CurtailmentEvent(s, e, spec.depth, None, spec.notice))
                break
    return sorted(events, key=lambda ev: ev.start_s)


def curtailment_events(spec, horizon_s: float, start: datetime | None = None, seed_seq=None) -> list[CurtailmentEvent]:
    """Events of a CurtailmentScheduleSpec or CurtailmentProcessSpec (None → no events)."""
    if spec is None:
        return []
    if spec.kind == "schedule":
        return sorted((CurtailmentEvent(e.start, min(e.start + e.duration, horizon_s), e.depth,
                                        None if e.cap is None else float(e.cap), e.notice)
                       for e in spec.events if e.start < horizon_s), key=lambda ev: ev.start_s)
    return sample_curtailment_events(spec, horizon_s, start or datetime(2025, 1, 1),
                                     seed_seq if seed_seq is not None else np.random.SeedSequence(0))


def overlaps(t0_s, dt_s: float, start_s: float, end_s: float):
    """True where the interval [t0, t0 + dt) overlaps [start, end) (half-open: it begins before the end and ends
    after the start; touching at an end point is no overlap; an empty window, end ≤ start, overlaps nothing, as
    :func:`dcsim.faults.covered_fraction` gives it no share). The one rule for "a tick any part of which lies in a
    curtailment": :func:`cap_over` (the engine's cap), the fault costs'
    window (:func:`dcsim.engine.run.fault_costs`) and ``dcsim plan``'s steady window at a tick
    (:func:`dcsim.plan.faults_at`) all read it."""
    t0 = np.asarray(t0_s, dtype=float)
    return (t0 < end_s) & (t0 + float(dt_s) > start_s) & (end_s > start_s)


def cap_over(events: list[CurtailmentEvent], t0_s, dt_s: float, contract_w: float):
    """Meter cap [W] of each interval [t0, t0 + dt): the contract, or the lowest cap of any event overlapping it
    (:func:`overlaps`).

    A controller tick runs one operating point for its whole length, so a tick any part of which lies in a request
    is held to that request's cap throughout (:func:`dcsim.engine.loop.exogenous`, which reads every lowering of the
    cap this way: the utility's requests and the ``curtailment`` faults alike): the meter stays under the cap for
    the whole request, at the price of capping the rest of a tick the request only partly fills. Until 2026-12-05
    the engine took the cap in force at mid-tick: a request shorter than half a tick was never applied and the end of
    one running past its last tick's middle was dropped (year-richmond, 15-min ticks: a 1-min request at 3,692 h
    and a 7.5-min one at 350 h drew 474.9 and 461.9 kW against a 247.5-kW cap)."""
    t0 = np.asarray(t0_s, dtype=float)
    cap = np.full(t0.shape, float(contract_w))
    for ev in events:
        cap = np.where(overlaps(t0, dt_s, ev.start_s, ev.end_s), np.minimum(cap, ev.cap_for(contract_w)), cap)
    return cap


def below_contract(cap_w, contract_w: float):
    """True where a meter cap [W] lies below the contract ``contract_w`` [W] (relative tolerance 1e-12): the one rule
    for "a tick held to a curtailment". The engine's request ticks (``Exogenous.request``: :func:`cap_over` of the
    utility's requests below the contract, the grid's ``curtailment`` column), its event ticks (any lowering, faults
    included: the battery covers the cut) and :func:`notice_over`'s exclusion all read it. A request whose cap is at
    or above the contract (a 2-MW cap on a 1-MW contract) lowers nothing: its ticks are no request's."""
    return np.asarray(cap_w, dtype=float) < float(contract_w) * (1 - 1e-12)


def notice_over(events: list[CurtailmentEvent], t0_s, dt_s: float, contract_w: float, cap_w=None):
    """True where a tick [t0, t0 + ``dt_s``) starts inside a request's notice window (start − notice ≤ t0 < start) and
    is no request's tick: the requests' cap over it (:func:`cap_over`) is not below the contract ``contract_w``
    (:func:`below_contract`, the rule the engine's ``Exogenous.request`` reads). A controller acts on a notice only at
    a tick that begins at or after the utility announced it, and a tick a request holds below the contract is that
    request's, never a notice's: what is left are the ticks on which the battery pre-charges and deferrable work is
    held. A notice shorter than a tick announced inside the tick before the request therefore gives no notice tick:
    no controller on that tick length could act on it before the request's tick (docs/grid.md).

    Until 2026-12-05 the notice was read at mid-tick (a 5-min notice with 15-min ticks held no tick's middle), then,
    for part of that day, over any overlap of the tick with the notice window: the battery charged and deferrable work
    was held from the tick's start, up to a tick before the utility announced the request. Until the code review of
    session 52 the request's ticks were left in and dropped by the caller (the engine's ``Exogenous.request``): a
    tick inside one request's notice window that a still earlier request capped read as a notice tick here; then, for
    part of that session, every tick overlapping a request was left out, a request whose cap lies above the contract
    included (a second definition of a request's tick beside the engine's): such a tick inside a later request's
    notice window was neither notice nor request, and the battery did not pre-charge on it.

    ``cap_w``: the requests' cap over each tick, :func:`cap_over` of the same ``events``, ``t0_s``, ``dt_s`` and
    ``contract_w``, where the caller has it (the engine computes it once per run, ``Flex.request_cap_w``); ``None``
    computes it here. Until session 53 it was always computed here, once per chunk of ticks beside the engine's own."""
    t0 = np.asarray(t0_s, dtype=float)
    announced = np.zeros(t0.shape, dtype=bool)
    for ev in events:
        announced |= (t0 >= ev.start_s - ev.notice_s) & (t0 < ev.start_s)
    if cap_w is None:
        cap_w = cap_over(events, t0, dt_s, contract_w)
    return announced & ~below_contract(cap_w, contract_w)


def curtailment_summary(events: list[CurtailmentEvent], horizon_s: float) -> dict:
    """Count, hours, share of the horizon and longest event (h) — what a planner's budget is
    written in."""
    hours = sum(ev.duration_s for ev in events) / 3600.0
    return {"events": len(events), "hours": hours, "share_of_hours": hours * 3600.0 / horizon_s if horizon_s else 0.0,
            "longest_h": max((ev.duration_s for ev in events), default=0.0) / 3600.0}


def _read_hourly_csv(path: Path, column: str) -> np.ndarray:
    """The hourly values of ``column``; errors (ValueError) name the file, and the line of a bad cell. The file is
    read with the size limit of every time-series table (:data:`dcsim.textio.MAX_TABLE_BYTES`): a device such as
    /dev/zero or a huge file is refused before it fills memory."""
    text = read_text(path, ValueError, limit=MAX_TABLE_BYTES)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise ValueError(f"{path}: empty file (expected a header row with a {column!r} column)")
    names = [h.strip() for h in header]
    if column not in names:
        raise ValueError(f"{path}:1: no column {column!r} (columns: {', '.join(map(repr, names[:12]))})")
    j = names.index(column)
    vals: list[float] = []
    for row in reader:
        line = reader.line_num
        if not row or not any(c.strip() for c in row):
            continue
        raw = row[j].strip() if j < len(row) else ""
        try:
            x = float(raw)
        except ValueError:
            raise ValueError(f"{path}:{line}: column {column!r} is not a number: {raw[:40]!r}") from None
        if not math.isfinite(x) or x < 0:
            raise ValueError(f"{path}:{line}: column {column!r} must be finite and non-negative, got {raw[:40]}")
        vals.append(x)
    if not vals:
        raise ValueError(f"{path}: no data rows")
    return np.array(vals)


def series_at(spec, t_s, start: datetime, base_dir: Path | None = None, unit: float = 1.0):
    """Price or carbon [SI: USD/J, g/J] at run times t_s for a PriceSeriesSpec/CarbonSeriesSpec.
    A CSV holds hourly values in the file's own unit; `unit` converts them to SI (e.g. 1/3.6e9
    for USD/MWh). Hour k of the file is hour k of the start year (8,760 rows for a year; a
    shorter file repeats)."""
    t = np.asarray(t_s, dtype=float)
    if spec.kind == "constant":
        return np.full(t.shape, float(spec.value))
    if spec.kind == "daily_profile":
        hr, _ = local_hour_and_month(t, start)
        return float(spec.value) * np.asarray(spec.profile)[hr]
    path = Path(spec.path)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    v = _read_hourly_csv(path, spec.column) * unit
    hour_of_year = np.floor(((start - datetime(start.year, 1, 1)).total_seconds() + t) / 3600.0).astype(int)
    return v[hour_of_year % v.size]



# --------------------------------------------------------------------------- curtailment-enabled headroom
def exceedance_events(over, dt_s: float) -> list[tuple[float, float]]:
    """Contiguous runs of ticks where `over` is true, as (start_s, end_s) from the first tick."""
    m = np.asarray(over, dtype=bool)
    if not m.any():
        return []
    edges = np.diff(np.concatenate(([0], m.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return [(float(s) * dt_s, float(e) * dt_s) for s, e in zip(starts, ends)]


def curtailment_enabled_scale(load_w, cap_w: float, dt_s: float, budget: float, *, max_event_s: float | None = None,
                              battery=None, iterations: int = 40) -> dict:
    """How far a facility's meter-power profile `load_w` (W per tick, e.g. a year's
    ``facility_power_w``) can be scaled under a firm cap `cap_w` if the site accepts curtailment
    of at most `budget` × the horizon's hours, no event longer than `max_event_s`, optionally
    with a battery (BatteryParams) covering part of each excess first.

    This is the first-order "curtailment-enabled headroom" of Norris et al. (Duke Nicholas
    Institute 2025) applied to the facility's own profile: a multiplier s such that
    s·load > cap (after the battery) on at most the budget's hours. It scales facility power
    proportionally (PUE and J/token held) — a planning bound, not a dispatch; the engine's plan
    questions (phase 2) re-run the facility at the scaled size. Bisection on s (feasibility is
    monotone: a larger s never exceeds less). Returns ``scale``, ``hours_curtailed``,
    ``events``, ``longest_h`` and ``energy_curtailed_j`` at that scale."""
    load = np.asarray(load_w, dtype=float)
    horizon_s = load.size * dt_s
    peak = float(load.max())

    def over_at(s):
        scaled = s * load
        if battery is None:
            return scaled > cap_w, np.maximum(scaled - cap_w, 0.0)
        from dcsim.power.storage import dispatch  # same layer; imported here to keep grid.py light
        d = dispatch(battery, scaled, cap_w, cap_w + 1.0, dt_s)  # cap below "contract": every excess is an event
        return d["unmet_w"] > 0, d["unmet_w"]

    def feasible(s):
        over, _ = over_at(s)
        ev = exceedance_events(over, dt_s)
        hours_ok = over.sum() * dt_s <= budget * horizon_s + 1e-9
        long_ok = max_event_s is None or all(e - b <= max_event_s for b, e in ev)
        return hours_ok and long_ok

    lo = cap_w / peak if peak > 0 else 1.0  # never exceeds: always feasible
    hi = lo
    while feasible(hi * 1.25) and hi < 1e3 * lo:
        hi *= 1.25
    hi *= 1.25
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if feasible(mid) else (lo, mid)
    over, short = over_at(lo)
    ev = exceedance_events(over, dt_s)
    return {"scale": lo, "hours_curtailed": float(over.sum() * dt_s / 3600.0), "events": len(ev),
            "longest_h": max((e - b for b, e in ev), default=0.0) / 3600.0,
            "energy_curtailed_j": float(short.sum() * dt_s)}
