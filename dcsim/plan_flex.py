"""The interconnection question with a curtailment budget (issue 18 item 3; docs/grid.md).

``dcsim plan FILE --question max-gpus|interconnect-for --curtailment 0.5% [--max-event 4h]
[--storage "200 kWh/150 kW"]``: how much more IT connects under an interconnect when the
facility may flex — accept that its meter be held at the contract (the fleet capped by DVFS,
a battery covering what it can first) on at most ``budget`` of the year's hours, in events no
longer than ``max_event`` — and at what cost in tokens.

Method, on the same closed form as :mod:`dcsim.plan` (full load: the fleet's whole compute at
every hour, as ``max-gpus`` asks): for each hour of the weather file's year (EPW or CSV; the
scenario's ticks otherwise) the meter power the fleet would draw flat out,
``F(t) = facility(a·W_full, T_db(t), T_wb(t))``. Where F exceeds the cap the site must flex.
A battery (:func:`dcsim.power.storage.dispatch`, every excess an event) covers what it can and
recharges from the headroom of other hours; what remains is a curtailment hour. The answer is
the largest fleet (``max-gpus``, integer bisection on racks) or the smallest cap
(``interconnect-for``, bisection) whose curtailment hours stay within the budget with no event
longer than ``max_event``; cooling must still carry the fleet at every hour (heat rejection does
not flex). Next to it: the firm answer (no curtailment), the gain, and the cost at full load —
tokens the fleet could not make in the curtailed hours, ``Σ (C − P)·dt`` scaled by the part of
each excess the battery did not cover (an upper bound: real demand is not always at full load).

``--confirm`` simulates the scenario at the answer over the day of the longest curtailment
event (the binding window of the year), with its own demand, and the same day on the firm
interconnect that fleet needs (the closed form without curtailment; no storage): tokens, SLO
attainment and energy with and without the flexing. The planner's first-order curve for a climate is
:func:`connectable_gpus_curve` (notebooks/06_grid_flexibility.ipynb).
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

import numpy as np
from pydantic import ValidationError

from dcsim.argcheck import flag_quantity
from dcsim.metrics.annual import HOURS_PER_YEAR
from dcsim.metrics.fmt import fmt_energy
from dcsim.power.grid import DAY_S, exceedance_events
from dcsim.power.storage import BatteryParams, dispatch
from dcsim.units import parse_quantity

__all__ = ["FlexBudget", "parse_storage", "flex_budget", "curtailment_need", "max_gpus_flex",
           "interconnect_for_flex", "connectable_gpus_curve", "format_flex", "plan_flex", "add_parser"]


class FlexBudget(dict):
    """``budget`` (share of hours), ``max_event_s`` (or None), ``battery`` (BatteryParams or None)."""


#: how ``--storage`` is written, quoted by its refusals
_STORAGE_FORM = "expected 'ENERGY/POWER', e.g. '200 kWh/150 kW'"


def parse_storage(text: str) -> BatteryParams:
    """``"200 kWh/150 kW"`` (energy / power; charge = discharge power) or ``"200 kWh/150 kW/0.9"``
    (round-trip efficiency) → battery parameters with the BatteryStorageSpec defaults
    (85 % round trip, SoC 10–90 %, starting full)."""
    from dcsim.power.storage import battery_params
    from dcsim.scenario.facility import BatteryStorageSpec

    parts = [p.strip() for p in re.split(r"/", text) if p.strip()]
    if len(parts) not in (2, 3):
        raise ValueError(f"--storage {text!r}: {_STORAGE_FORM}")
    try:  # `150 kW/200 kWh` said only "unit 'kW' is not a energy unit", naming no flag
        e, p = parse_quantity(parts[0], "energy"), parse_quantity(parts[1], "power")
    except ValueError as err:
        raise ValueError(f"--storage {text!r}: {err} ({_STORAGE_FORM})") from None
    kw = {"energy": e, "max_charge": p, "max_discharge": p}
    if len(parts) == 3:
        try:
            kw["round_trip_efficiency"] = float(parts[2])
        except ValueError:
            raise ValueError(f"--storage {text!r}: the round-trip efficiency is not a number: {parts[2]!r}") from None
    try:
        return battery_params(BatteryStorageSpec(**kw))
    except ValidationError as err:  # e.g. a negative energy: one line naming the part, not pydantic's dump
        first = err.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        part, i = {"energy": ("the energy", 0), "max_charge": ("the power", 1), "max_discharge": ("the power", 1),
                   "round_trip_efficiency": ("the round-trip efficiency", 2)}.get(field, (field, None))
        # the reason without pydantic's prefix and without the value in SI units (J, W): the user's own text instead
        why = re.sub(r",? got .*$", "", str(first["msg"]).removeprefix("Value error, "))
        given = f" {parts[i]!r}" if i is not None and i < len(parts) else ""
        raise ValueError(f"--storage {text!r}: {part}{given} {why}") from None


def flex_budget(curtailment: str, max_event: str | None = None, storage: str | None = None) -> FlexBudget:
    """Parse the CLI's ``--curtailment 0.5%``, ``--max-event 4 h``, ``--storage 200 kWh/150 kW``."""
    b = flag_quantity("--curtailment", curtailment, "fraction")
    if not 0.0 <= b < 1.0:
        raise ValueError(f"--curtailment {curtailment!r}: a share of the hours in [0, 1)")
    ev = None if max_event is None else flag_quantity("--max-event", max_event, "time")
    if ev is not None and not (0.0 < ev < math.inf):  # NaN fails too
        raise ValueError(f"--max-event {max_event!r}: the longest single event, a time > 0 (e.g. '4 h')")
    return FlexBudget(budget=float(b), max_event_s=ev, battery=None if storage is None else parse_storage(storage))


#: a scenario at least this long is its own year: the plan counts its ticks, as its run does (s)
_YEAR_S = HOURS_PER_YEAR * 3600.0


def _moments(m):
    """The moments the curtailment budget counts: the scenario's own ticks when it covers a year (its run then
    counts the same hours: year-richmond at its 15-min tick), else every hour of its weather file, else its
    ticks. (Until 2026-12-04 a year scenario was counted at the file's hours, with the demand at each hour's
    middle, while its run counts 15-min ticks whose demand peaks within the hour: 79 h planned against 100.5 h
    run at the answer.)"""
    from dcsim.plan import scenario_moments, weather_year_moments

    year = None if float(m.scenario.duration) >= _YEAR_S * (1 - 1e-9) else weather_year_moments(m)
    mom = year if year is not None else scenario_moments(m)
    dt = float(np.median(np.diff(mom["t_s"]))) if mom["t_s"].size > 1 else float(m.scenario.controller.tick)
    src = "the weather file's year (hourly)" if year is not None else "the scenario's ticks"
    return mom, dt, src


def _served(m, mom) -> dict:
    """The fleet as built serving the moments' demand with no interconnect cap: rate and IT power."""
    from dcsim.plan import evaluate

    r = evaluate(m, mom, interconnect_w=1e15)
    rate = np.minimum(np.asarray(r["demand_tok_s"], float), np.asarray(r["compute_tok_s"], float)) * np.ones(
        mom["t_s"].shape)
    f = m.curves.frontier("pq")
    return {"rate": rate, "it_w": np.interp(rate, f.rate, f.it)}


def _full_load(m, mom, a: float, served: dict | None = None) -> dict:
    """Meter power (W) at each moment of a×fleet flat out (``served`` None), or of a×(fleet and its
    demand) — "more of the same site" (``served``: :func:`_served`); IT and the cooling margin."""
    lf = m.liquid_fraction
    if served is None:
        it = np.full(mom["t_db_c"].shape, a * float(m.curves.frontier("pq").it[-1]))
        w_q = a * float(m.curves.frontier("q").it[-1])
    else:
        it = a * served["it_w"]
        w_q = it
    it_q = np.asarray(m.facility.max_it_for_cooling_w(mom["t_db_c"], mom["t_wb_c"], lf), dtype=float)
    it = np.minimum(it, it_q)  # IT the plant cannot cool does not run: it draws nothing at the meter
    meter = np.asarray(m.facility.facility_power_w(it, lf, mom["t_db_c"], mom["t_wb_c"]), dtype=float)
    return {"meter_w": meter, "it_w": it, "cooling_ok": bool(np.all(it_q >= w_q * (1 - 1e-12)))}


def curtailment_need(meter_w: np.ndarray, cap_w: float, dt_s: float, battery: BatteryParams | None) -> dict:
    """Hours the meter must be held at ``cap_w`` (after the battery), the events, the energy."""
    over_raw = meter_w - cap_w
    if battery is not None and np.any(over_raw > 0):
        d = dispatch(battery, meter_w, cap_w, cap_w + 1.0, dt_s)  # cap below "contract": every excess an event
        short = d["unmet_w"]
    else:
        short = np.maximum(over_raw, 0.0)
    over = short > 1e-6 * max(cap_w, 1.0)
    ev = exceedance_events(over, dt_s)
    return {"over": over, "short_w": short, "excess_w": np.maximum(over_raw, 0.0),
            "hours": float(over.sum() * dt_s / 3600.0), "share": float(over.mean()) if over.size else 0.0,
            "events": len(ev), "longest_h": max((e - s for s, e in ev), default=0.0) / 3600.0,
            "event_windows_s": ev, "energy_curtailed_j": float(short.sum() * dt_s)}


def _fits(need: dict, fb: FlexBudget) -> bool:
    if need["share"] > fb["budget"] + 1e-12:
        return False
    mx = fb["max_event_s"]
    return mx is None or all(e - s <= mx + 1e-9 for s, e in need["event_windows_s"])


def _cost(m, mom, a: float, cap: float, need: dict, dt: float, served: dict | None = None,
          meter: np.ndarray | None = None) -> dict:
    """Tokens the fleet could not make in its curtailed hours: at full load (an upper bound), or
    with its demand, the part of each hour's meter energy held back (first order: tokens in
    proportion to meter energy)."""
    from dcsim.plan import evaluate

    if served is not None:
        rate = a * served["rate"]
        lost = float(np.sum(rate * np.divide(need["short_w"], meter, out=np.zeros_like(meter), where=meter > 0)) * dt)
        total = float(np.sum(rate) * dt)
        return {"tokens_lost": lost, "tokens": total, "share_lost": lost / total if total else 0.0}

    r = evaluate(m, mom, demand_tok_s=np.inf, interconnect_w=cap, gpu_scale=a)
    c, p = np.asarray(r["compute_tok_s"], float) * np.ones(need["over"].shape), np.asarray(r["power_tok_s"], float)
    frac = np.divide(need["short_w"], need["excess_w"], out=np.zeros_like(need["short_w"]), where=need["excess_w"] > 0)
    lost = float(np.sum(np.maximum(c - p, 0.0) * frac) * dt)
    total = float(np.sum(c) * dt)
    return {"tokens_lost": lost, "tokens": total, "share_lost": lost / total if total else 0.0}


def max_gpus_flex(raw, bdir, m0, fb: FlexBudget, load: str = "full", max_scale: float = 1e4,
                  rtol: float = 1e-6) -> dict:
    """The most GPUs (group 0 scaled, in whole servers) under the contract with curtailment budget ``fb``."""
    if len(m0.groups) != 1:
        raise ValueError("--curtailment answers max-gpus for a single rack group")
    sc = m0.scenario
    count0 = sc.racks[0].count
    g0 = m0.groups[0]
    gpus0 = g0.gpus
    per_server = g0.node.gpus_per_node
    cap = float(m0.facility.interconnect_w)
    mom, dt, src = _moments(m0)
    served = _served(m0, mom) if load == "demand" else None

    def state(a: float, budget: FlexBudget):
        fl = _full_load(m0, mom, a, served)
        need = curtailment_need(fl["meter_w"], cap, dt, budget["battery"])
        return fl["cooling_ok"] and _fits(need, budget), need, fl["cooling_ok"]

    def largest(budget: FlexBudget) -> float:
        lo, hi = 0.0, 1.0 / count0
        while state(hi, budget)[0]:
            lo, hi = hi, hi * 2.0
            if hi > max_scale:
                raise ValueError(f"the budget is never exceeded below {max_scale:g}x the fleet")
        while hi - lo > rtol * hi:
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if state(mid, budget)[0] else (lo, mid)
        return lo

    def servers(a: float) -> int:
        return int(math.floor(a * gpus0 / per_server + 1e-9)) * per_server

    a_firm = largest(FlexBudget(budget=0.0, max_event_s=None, battery=None))
    a_flex = largest(fb)
    ok, need, _ = state(a_flex, fb)
    above = state(a_flex * (1 + 10 * rtol), fb)
    meter = _full_load(m0, mom, a_flex, served)["meter_w"]
    firm, flex = servers(a_firm), servers(a_flex)
    return {"question": "max-gpus", "scenario": sc.name, "interconnect_w": cap, "moments": src, "load": load,
            "moments_evaluated": int(mom["t_s"].size), "budget": _budget_dict(fb),
            "firm": {"gpus": firm, "racks": a_firm * count0, "gpus_exact": a_firm * gpus0},
            "flex": {"gpus": flex, "racks": a_flex * count0, "gpus_exact": a_flex * gpus0},
            "gain_gpus": flex - firm, "gain_share": (flex / firm - 1.0) if firm else None,
            "limited_by": ("cooling (heat rejection does not flex)" if not above[2] else
                           "the curtailment budget (hours)" if above[1]["share"] > fb["budget"] + 1e-12
                           else "the longest event"),
            "overrides": {"racks.0.count": max(1, int(math.floor(a_flex * count0 + 1e-4)))},
            "curtailment": _need_dict(need, mom), **_cost(m0, mom, a_flex, cap, need, dt, served, meter)}


def interconnect_for_flex(raw, bdir, m0, fb: FlexBudget, gpus: int | None, load: str = "full",
                          rtol: float = 1e-6) -> dict:
    """The smallest interconnect for ``gpus`` GPUs flat out with curtailment budget ``fb``."""
    from dcsim.engine.build import with_interconnect
    from dcsim.plan import whole_racks

    if len(m0.groups) != 1:
        raise ValueError("--curtailment answers interconnect-for for a single rack group")
    sc = m0.scenario
    count0 = sc.racks[0].count
    gpr = m0.groups[0].gpus // count0
    count, asked = whole_racks(gpus, gpr, count0)
    a = count / count0
    mom, dt, src = _moments(m0)
    served = _served(m0, mom) if load == "demand" else None

    def state(cap: float, budget: FlexBudget):
        m = with_interconnect(m0, cap)  # the delivery chain follows the interconnect, as plan does
        fl = _full_load(m, mom, a, served)
        need = curtailment_need(fl["meter_w"], cap, dt, budget["battery"])
        return _fits(need, budget), need, m, fl

    def smallest(budget: FlexBudget) -> float:
        lo, hi = 1.0, max(float(m0.facility.interconnect_w), 1e3)
        while not state(hi, budget)[0]:
            lo, hi = hi, hi * 2.0
            if hi > 1e13:
                raise ValueError("no interconnect up to 10 TW meets the budget")
        while hi / lo > 1.0 + rtol:
            mid = math.sqrt(lo * hi)
            lo, hi = (lo, mid) if state(mid, budget)[0] else (mid, hi)
        return _clear(hi, budget)

    def _clear(cap: float, budget: FlexBudget) -> float:
        """``cap`` raised, where it must be, above the meter of every moment it does not curtail: the bisection's
        bound leaves moments within its tolerance of the cap (a flat-out plateau 0.27 W over it on 39 hours of
        year-richmond), which a run names power-bound."""
        for _ in range(4):
            _, need, _, fl = state(cap, budget)
            kept = fl["meter_w"][~need["over"]]
            top = float(kept.max()) if kept.size else 0.0
            if top < cap * (1.0 - 1e-9):
                break
            cap = top * (1.0 + 1e-7)
        return cap

    firm = smallest(FlexBudget(budget=0.0, max_event_s=None, battery=None))
    flex = smallest(fb)
    _, need, m, fl = state(flex, fb)
    meter = fl["meter_w"]
    out = {"question": "interconnect-for", "scenario": sc.name, "gpus": count * gpr, "racks": count, **asked,
           "moments": src,
           "load": load,
           "moments_evaluated": int(mom["t_s"].size), "budget": _budget_dict(fb),
           "firm": {"interconnect_w": firm}, "flex": {"interconnect_w": flex},
           "saving_w": firm - flex, "saving_share": 1.0 - flex / firm if firm else None,
           "overrides": {"racks.0.count": count, "facility.interconnect": flex},
           "curtailment": _need_dict(need, mom), **_cost(m, mom, a, flex, need, dt, served, meter)}
    if not fl["cooling_ok"]:
        out["note"] = "cooling cannot carry this fleet at full load in some hours: heat rejection does not flex"
    return out


def _budget_dict(fb: FlexBudget) -> dict:
    b = fb["battery"]
    return {"share_of_hours": fb["budget"], "max_event_s": fb["max_event_s"],
            "storage": None if b is None else {"energy_j": b.energy_j, "power_w": b.p_discharge_max_w,
                                                "round_trip_efficiency": b.eta_charge * b.eta_discharge}}


def _need_dict(need: dict, mom) -> dict:
    ev = need["event_windows_s"]
    t0 = float(mom["t_s"][0]) if mom["t_s"].size else 0.0
    longest = max(ev, key=lambda w: w[1] - w[0]) if ev else None
    return {"hours": need["hours"], "share_of_hours": need["share"], "events": need["events"],
            "longest_h": need["longest_h"], "energy_curtailed_j": need["energy_curtailed_j"],
            "longest_event_start_s": None if longest is None else t0 + longest[0]}


def confirm_flex(raw, bdir, out: dict, fb: FlexBudget, firm_w: float | None = None) -> dict:
    """Simulate the day of the longest curtailment event at the answer, and the same day with
    an interconnect large enough never to bind: what the flexing costs with the scenario's demand."""
    from dcsim.engine.build import build_models
    from dcsim.engine.flex import run_start
    from dcsim.engine.run import run
    from dcsim.scenario import load_scenario

    t_ev = out["curtailment"]["longest_event_start_s"]
    ov = dict(out["overrides"])
    sc0 = load_scenario(raw, overrides=ov, base_dir=bdir)
    start = run_start(build_models(sc0))
    # --confirm simulates the calendar day (local clock) of the longest curtailment event
    day0 = 0.0 if t_ev is None else math.floor(t_ev / DAY_S) * DAY_S
    ov.update({"start": (start + timedelta(seconds=day0)).isoformat(), "duration": DAY_S, "faults": []})
    b = fb["battery"]
    cap = float(ov.get("facility.interconnect", sc0.facility.interconnect))
    if b is not None:  # the battery holds the meter at the contract: the site runs above it on stored energy
        ov["facility.storage"] = {"energy": b.energy_j, "max_charge": b.p_charge_max_w,
                                  "max_discharge": b.p_discharge_max_w, "dispatch": "both", "shave_to": cap,
                                  "round_trip_efficiency": b.eta_charge * b.eta_discharge}
    # the contract as a firm cap around the clock: every excess over it is a curtailment the site absorbs;
    # the reference is the same fleet on the firm interconnect it needs (no curtailment, no storage)
    firm_cap = firm_w if firm_w is not None else cap
    flexed = run(load_scenario(raw, overrides=ov, base_dir=bdir)).report
    firm = run(load_scenario(raw, overrides=dict(ov, **{"facility.interconnect": firm_cap,
                                                         "facility.storage": None}), base_dir=bdir)).report

    def figs(r):
        return {"tokens_output": r["tokens"]["output"], "slo_attainment": r.get("slo_attainment"),
                "goodput_tok_s": r.get("goodput_tok_s"), "energy_facility_j": r["energy_j"]["facility"],
                "power_bound_share": r["binding"]["share"]["power"], "peak_meter_w":
                    (r.get("storage") or {}).get("peak_meter_w", r["peak_power_w"]["facility"])}

    a, f = figs(flexed), figs(firm)
    return {"window": {"start": ov["start"], "duration_h": DAY_S / 3600.0}, "with_flex": a, "firm": f,
            "firm_interconnect_w": firm_cap,
            "tokens_lost": f["tokens_output"] - a["tokens_output"],
            "tokens_lost_share": 1.0 - a["tokens_output"] / f["tokens_output"] if f["tokens_output"] else None,
            "slo_attainment_change": (None if a["slo_attainment"] is None or f["slo_attainment"] is None
                                      else a["slo_attainment"] - f["slo_attainment"])}


def connectable_gpus_curve(scenario, budgets, *, max_event: str | None = "4 h", storage: str | None = None,
                           overrides: dict | None = None, load: str = "demand") -> list[dict]:
    """GPUs that connect under the scenario's interconnect at each curtailment budget (max-gpus)."""
    from dcsim.plan import _prepare

    raw, bdir, m0 = _prepare(scenario, "max-gpus", overrides)
    rows = []
    for b in budgets:
        fb = flex_budget(f"{b}", max_event, storage)
        r = max_gpus_flex(raw, bdir, m0, fb, load)
        rows.append({"budget": fb["budget"], "gpus": r["flex"]["gpus"], "firm_gpus": r["firm"]["gpus"],
                     "gpus_exact": r["flex"]["gpus_exact"],
                     "racks": r["flex"]["racks"], "limited_by": r["limited_by"],
                     "hours": r["curtailment"]["hours"], "events": r["curtailment"]["events"],
                     "share_lost": r["share_lost"]})
    return rows


def format_flex(r: dict) -> str:
    """Human-readable answer of a curtailment-budget question."""
    from dcsim.units import format_quantity as fq
    from dcsim.plan import gpus_note_lines, round_sig

    b = r["budget"]
    st = b["storage"]
    lines = [f"{r['scenario']}: {r['question']} with a curtailment budget of {100 * b['share_of_hours']:g} % of the hours"
             + (f", events <= {b['max_event_s'] / 3600:g} h" if b["max_event_s"] is not None else "")
             + (f", storage {st['energy_j'] / 3.6e6:g} kWh / {st['power_w'] / 1e3:g} kW" if st else ""),
             f"  evaluated over {r['moments_evaluated']} moments of {r['moments']}, "
             + ("fleet at full load" if r["load"] == "full" else "fleet and its demand scaled together")]
    if r["question"] == "max-gpus":
        gain = "" if r["gain_share"] is None else f" (+{100 * r['gain_share']:.1f} %)"
        lines.append(f"  answer: {r['flex']['gpus']:,} GPUs under {fq(r['interconnect_w'], 'power')} "
                     f"(firm, no curtailment: {r['firm']['gpus']:,}); gain {r['gain_gpus']:,} GPUs{gain}; "
                     f"limited by {r['limited_by']}")
        per_rack = r["flex"]["gpus_exact"] / r["flex"]["racks"] if r["flex"]["racks"] else 0.0
        whole = r["overrides"]["racks.0.count"]
        lines.append(f"  ({r['flex']['racks']:.2f} racks: the budget fits part of one more rack, not a whole one; "
                     f"confirm and overrides use {whole} whole racks = {round(whole * per_rack):,} GPUs)"
                     if r["flex"]["racks"] > whole else
                     f"  ({r['flex']['racks']:.2f} racks; confirm and overrides use {whole} whole racks = "
                     f"{round(whole * per_rack):,} GPUs)")
    else:
        lines.append(f"  answer: interconnect {fq(round_sig(r['flex']['interconnect_w'], 4, up=True), 'power')} for {r['gpus']:,} GPUs "
                     f"(firm: {fq(round_sig(r['firm']['interconnect_w'], 4, up=True), 'power')}; saving {100 * (r['saving_share'] or 0):.1f} %)")
        lines += gpus_note_lines(r)
    c = r["curtailment"]
    held = fmt_energy(c["energy_curtailed_j"])
    lines.append(f"  the site flexes {c['hours']:.1f} h ({100 * c['share_of_hours']:.2f} % of the hours) in "
                 f"{c['events']} event{'s' * (c['events'] != 1)}, longest {c['longest_h']:.1f} h, {held} held back")
    share = 100 * r["share_lost"]
    share_txt = f"{share:.3f} %" if share >= 0.001 or share == 0 else f"{share:.1e} %"
    lines.append(f"  cost: {r['tokens_lost']:,.0f} tokens ({share_txt} of the year's "
                 + ("full-load output; an upper bound)" if r["load"] == "full" else "output; first order)"))
    if r.get("note"):
        lines.append(f"  note: {r['note']}")
    if "confirm" in r:
        s = r["confirm"]
        slo = s["slo_attainment_change"]
        lines.append(f"  simulated {s['window']['start']} ({s['window']['duration_h']:g} h, the longest event's day), "
                     "the scenario's demand: "
                     f"{s['tokens_lost']:.3g} tokens lost ({100 * (s['tokens_lost_share'] or 0):.2f} %) against the firm "
                     f"interconnect {fq(s['firm_interconnect_w'], 'power')}"
                     + ("" if slo is None else f", SLO attainment {100 * slo:+.2f} points"))
    return "\n".join(lines)


def plan_flex(scenario, question: str, fb: FlexBudget, *, gpus: int | None = None, confirm: bool = False,
              overrides: dict | None = None, load: str = "full") -> dict[str, Any]:
    """``dcsim plan --question max-gpus|interconnect-for --curtailment ...`` (module doc)."""
    from dcsim.plan import _prepare

    if question not in ("max-gpus", "interconnect-for"):
        raise ValueError(f"--curtailment answers max-gpus and interconnect-for, not {question}")
    raw, bdir, m0 = _prepare(scenario, question, overrides, gpus)
    if load not in ("full", "demand"):
        raise ValueError(f"--load must be 'full' or 'demand', got {load!r}")
    out = (max_gpus_flex(raw, bdir, m0, fb, load) if question == "max-gpus"
           else interconnect_for_flex(raw, bdir, m0, fb, gpus, load))
    if confirm:
        if question == "interconnect-for":
            firm_w = out["firm"]["interconnect_w"]
        else:  # the firm interconnect the flexed fleet would need
            n = out["overrides"]["racks.0.count"] * (m0.groups[0].gpus // m0.scenario.racks[0].count)
            firm_w = interconnect_for_flex(raw, bdir, m0, FlexBudget(budget=0.0, max_event_s=None, battery=None),
                                           n, load)["flex"]["interconnect_w"]
        out["confirm"] = confirm_flex(raw, bdir, out, fb, firm_w)
    return out


# --------------------------------------------------------------------------- CLI

def add_parser(subparsers) -> None:
    """Add ``--curtailment``, ``--max-event``, ``--storage``, ``--load`` to ``dcsim plan`` (registered
    by :mod:`dcsim.plan`, which this module builds on); without ``--curtailment`` plan answers as before."""
    from dcsim.plan import _sets, plan_error
    from dcsim.report.summary import print_wrapped

    p = subparsers.choices.get("plan")
    if p is None:
        return
    p.add_argument("--curtailment", metavar="SHARE",
                   help="max-gpus / interconnect-for when the site may flex: at most SHARE of the year's hours "
                        "held at the contract, e.g. '0.5%%' (docs/grid.md, the interconnection question)")
    p.add_argument("--max-event", metavar="TIME", help="with --curtailment: longest single event, e.g. '4 h'")
    p.add_argument("--storage", metavar="ENERGY/POWER", help="with --curtailment: a battery, e.g. '200 kWh/150 kW'")
    p.add_argument("--load", choices=("full", "demand"), default="full",
                   help="with --curtailment: the fleet flat out every hour (full, default), or the fleet and the "
                        "scenario's demand scaled together (demand: more of the same site)")
    plain = p.get_default("func")

    def cmd(args) -> int:
        from dcsim.plan import unused_flags

        why = unused_flags(args)  # --gpus beside max-gpus, --seeds without --target: ignored flags refused
        if why:
            return plan_error(ValueError(why), args.file)
        if args.curtailment is None:
            given = [f for f, v in (("--max-event", args.max_event), ("--storage", args.storage),
                                    ("--load", None if args.load == "full" else args.load)) if v is not None]
            if given:
                return plan_error(ValueError(f"{' and '.join(given)} qualif{'y' if len(given) > 1 else 'ies'} "
                                             f"--curtailment (when the site may flex); give --curtailment too, or "
                                             f"drop {'them' if len(given) > 1 else 'it'}"), args.file)
            return plain(args)
        sets = None
        try:
            sets = _sets(args.set)
            if args.target or args.weather_percentile is not None:
                raise ValueError("--curtailment evaluates every hour of the year; drop --target and "
                                 "--weather-percentile")
            r = plan_flex(args.file, args.question, flex_budget(args.curtailment, args.max_event, args.storage),
                          gpus=args.gpus, confirm=args.confirm, overrides=sets, load=args.load)
        except ValueError as e:
            return plan_error(e, args.file, sets)
        from dcsim.textio import json_text

        if args.json:
            print(json_text(r, indent=2, sort_keys=True))
        else:
            print_wrapped(format_flex(r))
        return 0

    p.set_defaults(func=cmd)

