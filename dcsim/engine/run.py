"""``dcsim.run``: scenario in, :class:`~dcsim.metrics.result.Result` out."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from dcsim import __version__
from dcsim.engine.build import Models, build_models
from dcsim.engine.loop import simulate
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
    if sc.faults:  # run a fault-free baseline too, and report what each fault cost
        from dcsim.engine.faults import run_with_faults

        return run_with_faults(sc, progress=progress)
    return run_models(build_models(sc), progress=progress)


def _goodput_fluid(m: Models, ts: dict) -> tuple[float, float | None]:
    """Fluid SLO goodput (sum over ticks of SLO-meeting tokens/s, fraction of requests meeting SLOs),
    from the queueing-aware estimate :mod:`dcsim.serving.slo_estimate` (NaN, None: not estimated)."""
    from dcsim.serving.slo_estimate import estimate_for_run

    est = estimate_for_run(m, ts)
    if not est.estimated:
        return float("nan"), None
    return est.goodput_tok_s * ts["t_s"].size, est.slo_attainment


def check_invariants(report: dict, ts: dict) -> None:
    """Cheap always-on checks; raise :class:`InvariantError` naming the broken one."""
    e = report["energy_j"]
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
        from dcsim.serving.slo_estimate import estimate_for_run, report_block

        report.update(report_block(estimate_for_run(m, ts)))
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
