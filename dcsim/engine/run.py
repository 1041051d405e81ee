"""``dcsim.run``: scenario in, :class:`~dcsim.metrics.result.Result` out."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from dcsim import __version__
from dcsim.engine.build import Models, build_models
from dcsim.engine.loop import simulate
from dcsim.engine.preflight import preflight
from dcsim.metrics.result import Result
from dcsim.metrics.summary import binding_summary, closed_form_summary, energy_summary
from dcsim.scenario import Scenario, load_scenario, scenario_hash

__all__ = ["run", "run_models", "check_invariants", "InvariantError"]


class InvariantError(RuntimeError):
    """A physical invariant was violated during a run (a bug, reported clearly)."""


def run(scenario: str | dict | Scenario, *, overrides: dict | list[str] | None = None,
        progress: Callable[[float], None] | None = None, **kw: Any) -> Result:
    """Run a scenario and return its :class:`Result`.

    ``scenario`` is a path, a dict or a :class:`Scenario`. Keyword arguments are
    top-level overrides (``seed=3``, ``duration="2 h"``); ``overrides`` takes dotted
    paths (``{"facility.interconnect": "15 MW"}``).
    """
    sc = load_scenario(scenario, overrides=overrides)
    if kw:
        sc = load_scenario(sc, overrides=kw)
    pre = preflight(sc)  # files, catalog names, cross-field physics, resources: before any work
    if sc.faults:  # run a fault-free baseline too, and report what each fault cost
        from dcsim.engine.faults import run_with_faults

        return pre.annotate(run_with_faults(sc, progress=progress))
    return run_models(pre.models, progress=progress)


def _goodput_fluid(m: Models, ts: dict) -> tuple[float, float]:
    """Fluid estimate of SLO goodput (tokens/s integrated, fraction of served).

    A tick's tokens count as good for a class when the estimated wait (queue ÷ rate,
    Little's law) meets its TTFT SLO and the decode step time at the operating batch of
    the first rack group (batch ÷ per-replica rate) meets its TPOT SLO.
    """
    served = ts["achieved_tok_s"]
    wait = np.where(served > 0, ts["queue_tokens"] / np.maximum(served, 1e-300), np.inf)
    tab = m.groups[0].table
    level = ts["clock_level"].astype(int)
    # per-replica rate; on the frontier (load consolidated) replicas run near full batch
    u = np.where(np.isnan(ts["load_fraction"]), 1.0, ts["load_fraction"])
    r_rep = u * tab.thr_max[level]
    step = np.zeros(served.size)
    for k in np.unique(level):
        sel = level == k
        b = np.interp(r_rep[sel], tab.thr[k], tab.batch)
        step[sel] = np.where(r_rep[sel] > 0, np.maximum(b, 1.0) / np.maximum(r_rep[sel], 1e-300), 0.0)
    good = np.zeros(served.size)
    total = 0.0
    for c in m.workload.classes:
        ok = np.ones(served.size, dtype=bool)
        if c.slo_ttft_s is not None:
            ok &= wait <= c.slo_ttft_s
        if c.slo_tpot_s is not None:
            ok &= step <= c.slo_tpot_s
        w = c.share * c.mean_output
        good += np.where(ok, served, 0.0) * w
        total += w
    good /= max(total, 1e-300)
    s_tot = float(np.sum(served))
    return float(np.sum(good)), (float(np.sum(good)) / s_tot if s_tot > 0 else 1.0)


def check_invariants(report: dict, ts: dict) -> None:
    """Cheap always-on checks; raise :class:`InvariantError` naming the broken one."""
    e = report["energy_j"]
    bad = sorted(k for k, v in e.items() if isinstance(v, float) and not np.isfinite(v))
    if bad:  # inf == inf would pass the balance below; a non-finite energy is never a result
        raise InvariantError(f"non-finite energy: {', '.join(f'{k}={e[k]!r}' for k in bad)} J")
    parts = e["it"] + e["cooling"] + e["power_losses"]
    if not np.isclose(e["facility"], parts, rtol=1e-9, atol=1e-6):
        raise InvariantError(f"energy not conserved: facility {e['facility']!r} J != it+cooling+losses {parts!r} J")
    for col in ("it_power_w", "gpu_power_w", "cooling_power_w", "loss_power_w", "facility_power_w", "achieved_tok_s"):
        if col in ts and ts[col].size and float(np.min(ts[col])) < -1e-9:
            raise InvariantError(f"negative {col} at t={float(ts['t_s'][int(np.argmin(ts[col]))]):g} s")
    if ts["pue"].size and float(np.min(ts["pue"])) < 1.0 - 1e-12:
        raise InvariantError(f"PUE below 1 at t={float(ts['t_s'][int(np.argmin(ts['pue']))]):g} s")
    if ts["t_s"].size > 1 and np.any(np.diff(ts["t_s"]) <= 0):
        raise InvariantError("time does not increase monotonically")
    tok = report["tokens_accounting"]
    lhs = tok["arrived"]
    rhs = tok["served"] + tok["waiting"] + tok["shed"]
    if not np.isclose(lhs, rhs, rtol=1e-9, atol=1e-6 * max(1.0, lhs)):
        raise InvariantError(f"work not accounted: arrived {lhs!r} != served+waiting+shed {rhs!r} tokens")


def _price_integral(ts: dict, dt: float, value: float | None, profile: list[float] | None) -> float | None:
    if value is None:
        return None
    mult = 1.0
    if profile is not None:
        hour = (ts["t_s"] // 3600).astype(int) % 24
        mult = np.asarray(profile, dtype=float)[hour]
    return float(np.sum(ts["facility_power_w"] * mult) * dt * value)


def run_models(m: Models, progress: Callable[[float], None] | None = None, request_engine=None,
               availability=None) -> Result:
    """Simulate built models and assemble the report."""
    sc = m.scenario
    if request_engine is None and sc.fidelity in ("request", "hybrid"):
        from dcsim.engine.requests import RequestEngine

        request_engine = RequestEngine(m)
    raw = simulate(m, progress=progress, request_engine=request_engine, availability=availability)
    ts = raw["timeseries"]
    dt = raw["dt"]
    duration = ts["t_s"].size * dt
    out_tok = float(np.sum(ts["achieved_tok_s"]) * dt)
    in_tok = out_tok * m.workload.mean_input / m.workload.mean_output
    en = energy_summary(ts, dt)
    node0 = m.groups[0].node
    f_tok = float(node0.flops_per_output_token(m.workload.mean_input, m.workload.mean_output))
    k_eff = float(np.mean(ts["compute_tok_s"])) * f_tok
    jpt = lambda j: j / out_tok if out_tok > 0 else float("nan")  # noqa: E731
    demand_tok = float(np.sum(ts["demand_tok_s"]) * dt)
    report: dict = {
        "scenario": sc.name,
        "seed": sc.seed,
        "fidelity": sc.fidelity,
        "duration_s": duration,
        "partial": bool(raw["interrupted"]),
        "tick_s": dt,
        "tokens": {"input": in_tok, "output": out_tok},
        "throughput_tok_s": {"output": out_tok / duration, "input": in_tok / duration,
                             "demand_output": demand_tok / duration},
        "energy_j": en,
        "joules_per_output_token": {"gpu": jpt(en["gpu"]), "it": jpt(en["it"]), "facility": jpt(en["facility"])},
        "pue": en["facility"] / en["it"] if en["it"] > 0 else float("nan"),
        "peak_power_w": {"it": float(np.max(ts["it_power_w"])), "facility": float(np.max(ts["facility_power_w"])),
                         "gpu": float(np.max(ts["gpu_power_w"]))},
        "pue_adjusted_delivered_power_w": {"mean": float(np.mean(ts["facility_power_w"])),
                                           "peak": float(np.max(ts["facility_power_w"]))},
        "utilization": out_tok / max(float(np.sum(ts["compute_tok_s"]) * dt), 1e-300),
        "utilization_adjusted_output_tok_s": out_tok / duration,
        "binding": binding_summary(ts, dt),
        "tpf": closed_form_summary(ts, dt, f_tok, k_eff),
        "policy": sc.controller.policy,
        "gpus": m.gpus,
        "replicas": m.replicas,
        "interconnect_w": float(np.max(ts["interconnect_w"])),
        "interconnect_exceeded_s": float(np.count_nonzero(ts["facility_power_w"] > ts["interconnect_w"] * (1 + 1e-9)) * dt),
        "tokens_accounting": {  # output tokens, from the recorded ticks (consistent for partial runs)
            "arrived": float(np.sum(ts["arrived_tokens"])), "served": out_tok,
            "waiting": float(ts["queue_tokens"][-1]) if ts["t_s"].size else 0.0,
            "shed": float(np.sum(ts["shed_tokens"])),
        },
        "controller": {"actions": len(raw["controller_log"]) + raw["controller_log_dropped"],
                       "cap_events": sum(1 for a in raw["controller_log"] if a["action"] == "cap"),
                       "capped_share": float(np.mean(ts["mode"] != 0)),
                       "mean_clock": float(np.mean(ts["mean_clock"]))},
        "warnings": list(m.warnings),
        "provenance": {
            "dcsim_version": __version__,
            "scenario_hash": scenario_hash(sc),
            "seed": sc.seed,
            "calibration_profiles": sorted({str(g.profile) for g in m.groups if g.profile}),
            "gpus": sorted({g.gpu_name for g in m.groups}),
            "models": sorted({g.model_name for g in m.groups}),
        },
    }
    if request_engine is not None:
        report.update(request_engine.report(duration))
        lat = request_engine.latency_samples()
    else:
        good, frac = _goodput_fluid(m, ts)
        report["goodput_tok_s"] = good * dt / duration
        report["slo_attainment"] = frac
        report["slo_note"] = "fluid fidelity: SLOs judged per tick from Little's-law wait and decode step time"
        lat = {}
    cost = _price_integral(ts, dt, sc.economics.price, sc.economics.price_profile)
    if cost is not None:
        report["cost"] = {"usd": cost, "usd_per_mtok": cost / out_tok * 1e6 if out_tok > 0 else float("nan")}
    carbon = _price_integral(ts, dt, sc.economics.carbon_intensity, sc.economics.carbon_profile)
    if carbon is not None:
        report["carbon"] = {"g": carbon, "g_per_mtok": carbon / out_tok * 1e6 if out_tok > 0 else float("nan")}
    check_invariants(report, ts)
    slo = {c.name: {"ttft_s": c.slo_ttft_s, "tpot_s": c.slo_tpot_s} for c in m.workload.classes}
    return Result(report=report, timeseries=ts, latency_samples=lat, slo=slo, scenario=sc,
                  controller_log=raw["controller_log"], wall_time_s=raw["wall_s"])
