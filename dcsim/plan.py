"""Capacity planner: answer sizing questions on the closed form, then confirm by simulation.

Questions (``dcsim plan FILE --question ...``):

* ``max-gpus`` — the most GPUs (``racks.0.count`` racks) whose full compute the facility can power
  and cool under its interconnect cap: at full load (unbounded demand) compute must still bind at
  every evaluated moment, so the fleet can serve any demand up to its compute ceiling at full clock
  (no controller capping, which stretches decode steps and so TPOT). Integer bisection.
* ``max-demand`` — the highest demand (``workload.arrivals.scale``) the facility serves in full at
  every tick (demand-limited all day: no queue builds, so TTFT holds). Demand is proportional to
  ``scale``, so the answer is the root ``scale·D(t) = min(C, P, Q)(t)`` at the critical tick.
* ``interconnect-for`` — the smallest ``facility.interconnect`` at which power no longer binds for
  ``--gpus N`` GPUs at full load at the weather percentile. Bisection on the cap.

Moments: every controller tick of the scenario (its demand and weather), or, with
``--weather-percentile P``, one design moment at the P-th percentile of the scenario's dry-bulb
temperature (nearest rank; that tick's wet-bulb). The closed form is
:func:`dcsim.engine.steady.ceilings_at` on the same node and facility models as the simulation.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from dcsim.engine.build import with_interconnect  # noqa: F401  (re-exported)
from dcsim.engine.steady import scenario_moments  # noqa: F401  (re-exported)

from dcsim.scenario import ScenarioError, load_scenario, read_yaml
from dcsim.tpf import BINDING_NAMES

__all__ = ["QUESTIONS", "plan", "scenario_moments", "with_interconnect", "design_moment", "evaluate", "add_parser"]

QUESTIONS = ("max-gpus", "max-demand", "interconnect-for")
_CEIL = ("compute_tok_s", "power_tok_s", "cooling_tok_s")
_NAMES = ("compute", "power", "cooling")


def _raw_and_dir(scenario) -> tuple[dict, Path | None]:
    """Scenario source as (raw dict, base folder); overrides are applied to the raw dict."""
    from dcsim.scenario import Scenario

    if isinstance(scenario, (str, Path)):
        p = Path(scenario)
        return read_yaml(p), p.resolve().parent
    if isinstance(scenario, Scenario):  # only the fields the author set: re-validates like the file did
        return scenario.model_dump(mode="json", exclude_unset=True), scenario.base_dir
    return dict(scenario), None


def _models(raw: dict, base_dir, overrides: dict | None = None):
    from dcsim.engine.build import build_models

    return build_models(load_scenario(raw, overrides=overrides or None, base_dir=base_dir))


def design_moment(mom: dict, percentile: float | None) -> dict[str, np.ndarray]:
    """All ticks (``percentile`` None) or the one tick at the nearest-rank P-th percentile of dry-bulb."""
    if percentile is None:
        return mom
    if not 0.0 <= percentile <= 100.0:
        raise ValueError(f"weather percentile must be in [0, 100], got {percentile}")
    order = np.argsort(mom["t_db_c"], kind="stable")
    k = int(np.clip(math.ceil(percentile / 100.0 * order.size) - 1, 0, order.size - 1))
    i = int(order[k])
    return {key: v[i:i + 1] for key, v in mom.items()}


def evaluate(m, mom: dict, demand_tok_s=None, interconnect_w=None, gpu_scale=1.0) -> dict:
    """Closed-form ceilings at the moments (``demand_tok_s`` overrides the moments' demand; inf = full load)."""
    from dcsim.engine.steady import ceilings_at

    d = mom["demand_tok_s"] if demand_tok_s is None else demand_tok_s
    return ceilings_at(m, d, mom["t_db_c"], mom["t_wb_c"], interconnect_w=interconnect_w, gpu_scale=gpu_scale)


def _ceilings_at_index(r: dict, i: int) -> dict:
    return {k: float(np.asarray(r[k]).ravel()[i]) for k in ("demand_tok_s", *_CEIL, "achieved_tok_s")}


def _margin(ceil: dict, binding: str) -> tuple[str | None, float]:
    """The next constraint after ``binding`` among compute/power/cooling and its headroom (fraction)."""
    vals = {n: ceil[f"{n}_tok_s"] for n in _NAMES if n != binding}
    if not vals:
        return None, float("nan")
    nxt = min(vals, key=vals.get)
    base = ceil[f"{binding}_tok_s"] if binding in _NAMES else ceil["demand_tok_s"]
    return nxt, (vals[nxt] / base - 1.0) if base > 0 else float("inf")


def _moment_info(mom: dict, i: int) -> dict:
    return {"t_s": float(mom["t_s"][i]), "t_out_c": float(mom["t_db_c"][i]), "t_wb_c": float(mom["t_wb_c"][i]),
            "demand_tok_s": float(mom["demand_tok_s"][i])}


# --------------------------------------------------------------------------- questions

def _headroom(m, r: dict, a: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Fractional IT-power headroom of the power and cooling budgets over the fleet at full load.

    ``it_budget / W_full - 1`` where ``W_full`` is the IT power (W) of ``a`` times the fleet with
    every replica at full clock and largest batch (the top of the supply frontier, rack limits
    applied). Negative: that constraint binds at full load.
    """
    wp = a * float(m.curves.frontier("p").it[-1])
    wq = a * float(m.curves.frontier("q").it[-1])
    return (np.asarray(r["it_budget_power_w"], dtype=float).ravel() / wp - 1.0,
            np.asarray(r["it_budget_cooling_w"], dtype=float).ravel() / wq - 1.0)


def _max_gpus(raw, bdir, m0, mom, max_racks: int) -> dict:
    sc = m0.scenario
    count0 = sc.racks[0].count
    g0 = m0.groups[0]
    gpus_per_rack = g0.gpus // count0
    single = len(m0.groups) == 1
    evals = {"n": 0}

    def ceil(count: int) -> tuple[dict, object, float]:
        evals["n"] += 1
        if single:  # a·N replicas and racks scale the supply curves exactly (ceilings_at gpu_scale)
            a = count / count0
            return evaluate(m0, mom, demand_tok_s=np.inf, gpu_scale=a), m0, a
        m = _models(raw, bdir, {"racks.0.count": count})
        return evaluate(m, mom, demand_tok_s=np.inf), m, 1.0

    def ok(count: int) -> bool:
        return bool(np.all(ceil(count)[0]["binding"] == 1))

    if not ok(1):
        lo, hi = 0, 1
    else:
        lo, hi = 1, 2
        while ok(hi):
            lo, hi = hi, hi * 2
            if hi > max_racks:
                raise ValueError(f"power and cooling never bind below {max_racks} racks: nothing limits the GPU count")
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    r, m, a = ceil(max(lo, 1))
    hp, hq = _headroom(m, r, a)
    h = np.minimum(hp, hq)
    i = int(np.argmin(h))
    nxt = "power" if hp[i] <= hq[i] else "cooling"
    r_hi = ceil(hi)[0]
    out: dict[str, Any] = {"overrides": {"racks.0.count": lo}, "racks": lo, "gpus": lo * gpus_per_rack,
                           "gpus_per_rack": gpus_per_rack, "ceilings": _ceilings_at_index(r, i),
                           "headroom": {"power": float(hp[i]), "cooling": float(hq[i])},
                           "next_binding_above": BINDING_NAMES[int(np.asarray(r_hi["binding"]).ravel()[i])]}
    if lo >= 1:
        g = lo * gpus_per_rack
        out.update(binding="compute", next_binding=nxt, margin=float(h[i]),
                   gpus_at_flip=g * (1.0 + float(h[i])), margin_gpus=g * float(h[i]))
    else:
        out.update(binding=nxt, next_binding="compute", margin=float(-h[i]),
                   note="even one rack at full load exceeds the power or cooling budget")
    out["moment"] = _moment_info(mom, i)
    out["closed_form_evaluations"] = evals["n"]
    return out


def _max_demand(raw, bdir, m0, mom) -> dict:
    scale0 = float(m0.scenario.workload.arrivals.scale)
    r = evaluate(m0, mom)
    lim = np.minimum(r["compute_tok_s"], np.minimum(r["power_tok_s"], r["cooling_tok_s"]))
    d = np.asarray(mom["demand_tok_s"], dtype=float) * np.ones_like(lim)
    ratio = np.where(d > 0, lim / np.maximum(d, 1e-300), np.inf)
    i = int(np.argmin(ratio))
    if not np.isfinite(ratio[i]):
        raise ValueError("the scenario has no demand to scale")
    scale = scale0 * float(ratio[i])
    at = _ceilings_at_index(r, i)
    at["demand_tok_s"] = float(d[i] * ratio[i])
    vals = {n: at[f"{n}_tok_s"] for n in _NAMES}
    binding = min(vals, key=vals.get)
    nxt, marg = _margin(at, binding)
    return {"overrides": {"workload.arrivals.scale": scale}, "scale": scale, "scale_ratio": float(ratio[i]),
            "peak_demand_tok_s": float(np.max(d) * ratio[i]), "mean_demand_tok_s": float(np.mean(d) * ratio[i]),
            "binding": binding, "ceilings": at, "next_binding": nxt, "margin": marg,
            "moment": _moment_info(mom, i), "closed_form_evaluations": 1}


def _interconnect_for(raw, bdir, m0, mom, gpus: int | None, rtol: float = 1e-7) -> dict:
    sc = m0.scenario
    count0 = sc.racks[0].count
    gpr = m0.groups[0].gpus // count0
    count = count0 if gpus is None else max(1, int(math.ceil(gpus / gpr)))
    single = len(m0.groups) == 1
    m = m0 if (single or count == count0) else _models(raw, bdir, {"racks.0.count": count})
    a = count / count0 if single else 1.0
    evals = {"n": 0}

    def r_at(cap: float) -> dict:
        evals["n"] += 1
        return evaluate(with_interconnect(m, cap), mom, demand_tok_s=np.inf, gpu_scale=a)

    def power_binds(cap: float) -> bool:
        return bool(np.any(r_at(cap)["binding"] == 2))

    lo, hi = 1.0, max(float(m0.facility.interconnect_w), 1e3)
    while power_binds(hi):
        lo, hi = hi, hi * 4.0
        if hi > 1e13:
            raise ValueError("power still binds at 10 TW: the delivery chain cannot feed this fleet")
    if not power_binds(lo):
        lo = hi = 1.0
    while hi / lo > 1.0 + rtol:
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if not power_binds(mid) else (mid, hi)
    r = r_at(hi)
    hp, hq = _headroom(m, r, a)
    i = int(np.argmin(hp))
    at = _ceilings_at_index(r, i)
    if hq[i] >= 0:
        binding, nxt, marg = "compute", "cooling", float(hq[i])
    else:
        binding, nxt, marg = "cooling", "compute", at["compute_tok_s"] / max(at["cooling_tok_s"], 1e-300) - 1.0
    out = {"overrides": {"racks.0.count": count, "facility.interconnect": hi}, "interconnect_w": hi,
           "racks": count, "gpus": count * gpr, "binding": binding, "ceilings": at,
           "next_binding": nxt, "margin": marg, "next_binding_below": "power",
           "headroom": {"power": float(hp[i]), "cooling": float(hq[i])},
           "moment": _moment_info(mom, i), "closed_form_evaluations": evals["n"],
           "it_budget_power_w": float(np.asarray(r["it_budget_power_w"]).ravel()[i])}
    if binding == "cooling":
        out["note"] = ("cooling binds at full load at this weather: interconnect above this adds no tokens; "
                       "the fleet's full compute needs more heat rejection")
    return out


def _confirm(raw, bdir, overrides: dict) -> dict:
    """Simulate the scenario at the answer and report what the closed form claims."""
    from dcsim.engine.run import run

    rep = run(load_scenario(raw, overrides=overrides, base_dir=bdir)).report
    return {
        "throughput_tok_s": rep["throughput_tok_s"]["output"],
        "demand_tok_s": rep["throughput_tok_s"]["demand_output"],
        "served_share": rep["throughput_tok_s"]["output"] / max(rep["throughput_tok_s"]["demand_output"], 1e-300),
        "peak_facility_power_w": rep["peak_power_w"]["facility"],
        "interconnect_w": rep["interconnect_w"],
        "interconnect_exceeded_s": rep["interconnect_exceeded_s"],
        "binding_share": dict(rep["binding"]["share"]),
        "most_common": rep["binding"]["most_common"],
        "capped_share": rep["controller"]["capped_share"],
        "slo_attainment": rep.get("slo_attainment"),
        "joules_per_output_token_facility": rep["joules_per_output_token"]["facility"],
        "pue": rep["pue"],
        "gpus": rep["gpus"],
    }


def plan(scenario, question: str, *, gpus: int | None = None, weather_percentile: float | None = None,
         confirm: bool = False, overrides: dict | None = None, max_racks: int = 1_000_000) -> dict:
    """Answer a capacity question (see module doc) for a scenario path, dict or Scenario.

    Returns a dict: ``question``, the answer (``overrides`` to apply plus ``gpus`` / ``scale`` /
    ``interconnect_w``), ``binding`` (constraint binding at the answer), ``next_binding`` and
    ``margin`` (fractional headroom of the next ceiling over the binding one), ``ceilings``
    (tokens/s at the critical moment), ``moment`` (its time, s, and temperatures, degC) and,
    with ``confirm=True``, ``confirm``: the simulation's figures at the answer.
    """
    if question not in QUESTIONS:
        raise ValueError(f"unknown question {question!r}; one of {', '.join(QUESTIONS)}")
    raw, bdir = _raw_and_dir(scenario)
    if overrides:
        from dcsim.scenario import apply_overrides

        raw = apply_overrides(raw, overrides)
    m0 = _models(raw, bdir)
    mom = design_moment(scenario_moments(m0), weather_percentile)
    if question == "max-gpus":
        out = _max_gpus(raw, bdir, m0, mom, max_racks)
    elif question == "max-demand":
        out = _max_demand(raw, bdir, m0, mom)
    else:
        out = _interconnect_for(raw, bdir, m0, mom, gpus)
    out = {"question": question, "scenario": m0.scenario.name,
           "weather_percentile": weather_percentile, "moments_evaluated": int(mom["t_s"].size), **out}
    if confirm:
        out["confirm"] = _confirm(raw, bdir, out["overrides"])
    return out


# --------------------------------------------------------------------------- CLI

def format_plan(r: dict) -> str:
    """Human-readable answer."""
    from dcsim.units import format_quantity as fq

    q = r["question"]
    where = (f"at the {r['weather_percentile']:g}th-percentile weather" if r["weather_percentile"] is not None
             else f"over all {r['moments_evaluated']} ticks")
    mo = r["moment"]
    lines = [f"{r['scenario']}: {q} {where}"]
    if q == "max-gpus":
        lines.append(f"  answer: {r['gpus']:,} GPUs ({r['racks']} racks of {r['gpus_per_rack']}) run flat out under the cap")
        if "gpus_at_flip" in r:
            lines.append(f"  {r['next_binding']} would bind from {r['gpus_at_flip']:,.0f} GPUs "
                         f"(margin {r['margin_gpus']:,.0f} GPUs; one rack more: {r['next_binding_above']} binds)")
    elif q == "max-demand":
        lines.append(f"  answer: workload.arrivals.scale = {r['scale']:.4g} ({r['scale_ratio']:.3g}x the scenario), "
                     f"peak demand {r['peak_demand_tok_s']:,.0f} tok/s")
    else:
        lines.append(f"  answer: interconnect {fq(r['interconnect_w'], 'power')} for {r['gpus']:,} GPUs at full load")
    lines.append(f"  critical moment: t = {mo['t_s'] / 3600:.2f} h, outdoor {mo['t_out_c']:.1f} degC")
    if "headroom" in r:
        hd = r["headroom"]
        lines.append(f"  IT-power headroom over the fleet at full load: power {100 * hd['power']:.1f} %, "
                     f"cooling {100 * hd['cooling']:.1f} %")
    c = r["ceilings"]
    lines.append(f"  ceilings there: C {c['compute_tok_s']:,.0f}  P {c['power_tok_s']:,.0f}  Q {c['cooling_tok_s']:,.0f} tok/s")
    nb = r.get("next_binding")
    lines.append(f"  binding at the answer: {r['binding'].upper()}"
                 + (f"; next: {nb} with {100 * r['margin']:.1f} % headroom" if nb else ""))
    if r.get("note"):
        lines.append(f"  note: {r['note']}")
    if "confirm" in r:
        s = r["confirm"]
        shares = ", ".join(f"{k} {100 * v:.0f} %" for k, v in s["binding_share"].items() if v > 0)
        slo = "n/a" if s["slo_attainment"] is None else f"{100 * s['slo_attainment']:.1f} %"
        lines.append(f"  simulation: {s['throughput_tok_s']:,.0f} tok/s served of {s['demand_tok_s']:,.0f} demanded, "
                     f"peak facility {fq(s['peak_facility_power_w'], 'power')} (cap {fq(s['interconnect_w'], 'power')}, "
                     f"exceeded {s['interconnect_exceeded_s']:g} s), binding {shares}, SLO attainment {slo}")
    return "\n".join(lines)


def cmd_plan(args) -> int:
    try:
        r = plan(args.file, args.question, gpus=args.gpus, weather_percentile=args.weather_percentile,
                 confirm=args.confirm, overrides=_sets(args.set))
    except ValueError as e:
        if isinstance(e, ScenarioError):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(r, indent=2, sort_keys=True, default=float))
    else:
        print(format_plan(r))
    return 0


def _sets(sets: list[str] | None) -> dict | None:
    if not sets:
        return None
    import yaml

    out = {}
    for s in sets:
        if "=" not in s:
            raise ScenarioError("--set", [(s, "expected dotted.path=value")])
        k, v = s.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``dcsim plan FILE --question ... [--gpus N] [--weather-percentile P] [--confirm]``."""
    p = subparsers.add_parser("plan", help="capacity planner: max GPUs, max demand, interconnect needed",
                              description="Answer a sizing question on the closed form, optionally confirm by simulation.")
    p.add_argument("file")
    p.add_argument("--question", "-q", required=True, choices=QUESTIONS)
    p.add_argument("--gpus", type=int, help="GPU count for interconnect-for (default: the scenario's)")
    p.add_argument("--weather-percentile", type=float, metavar="P",
                   help="evaluate at the P-th percentile of the scenario's dry-bulb (default: every tick)")
    p.add_argument("--confirm", action="store_true", help="simulate the scenario at the answer")
    p.add_argument("--set", action="append", metavar="PATH=VALUE", help="override a scenario field first")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plan)
    return p
