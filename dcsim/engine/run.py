"""``dcsim.run``: scenario in, :class:`~dcsim.metrics.result.Result` out — the one orchestrator.

It builds the component models, runs the simulation (:func:`dcsim.engine.loop.simulate`), has
the typed report assembled (:func:`dcsim.engine.assemble.assemble_report`) and checked
(:mod:`dcsim.engine.invariants`); a scenario with ``faults`` is also run without them (same
seed) and every fault window is costed against that baseline (:func:`fault_costs`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from dcsim.argcheck import check_run_args
from dcsim.engine.assemble import assemble_report, deferred_on_time_tok_s, goodput_fluid, interactive_view
from dcsim.engine.build import Models, build_models
from dcsim.engine.flex import cooling_failure_times
from dcsim.engine.invariants import InvariantError, check_invariants, check_report_energy
from dcsim.engine.loop import simulate
from dcsim.engine.preflight import preflight
from dcsim.engine.requests import RequestEngine
from dcsim.faults import FaultSchedule, build_faults, fault_specs
from dcsim.metrics.expect import check_expectations
from dcsim.metrics.result import Result
from dcsim.power.grid import overlaps
from dcsim.scenario import Scenario, load_scenario
from dcsim.tpf import BINDING_NAMES

__all__ = ["run", "run_models", "run_with_faults", "fault_costs", "check_invariants", "InvariantError"]


def run(scenario: str | dict | Scenario, *, overrides: dict | list[str] | None = None,
        progress: Callable[[float], None] | None = None, base_dir: str | Path | None = None, **kw: Any) -> Result:
    """Run a scenario and return its :class:`Result`.

    ``scenario`` is a path, a dict or a :class:`Scenario`. Keyword arguments are
    top-level overrides (``seed=3``, ``duration="2 h"``); ``overrides`` takes dotted
    paths (``{"facility.interconnect": "15 MW"}``); ``base_dir``: the folder a dict scenario's relative file paths
    (weather, traces, prices) are read from (default: the working directory; a path scenario uses its own folder).
    Each argument's type is checked first (:func:`dcsim.argcheck.check_run_args`: a TypeError naming it).
    """
    check_run_args(scenario, overrides, progress, base_dir)  # TypeError naming the argument, before any work
    sc = load_scenario(scenario, overrides=overrides, base_dir=base_dir)
    if kw:
        sc = load_scenario(sc, overrides=kw)
    pre = preflight(sc)  # files, catalog names, cross-field physics, resources: before any work
    if sc.faults:  # run a fault-free baseline too, and report what each fault cost
        res = pre.annotate(run_with_faults(sc, progress=progress, classes=pre.models.workload.classes))
    else:
        res = run_models(pre.models, progress=progress)
    from dcsim.engine.flexrun import add_flexibility_baseline, has_flexibility
    if has_flexibility(sc) and not res.record.partial:  # issue 18: the same run without storage / deferrable work
        _stage(progress, "the same run without storage or deferrable work (the flexibility baseline)")
        res = add_flexibility_baseline(sc, res, run_models, classes=pre.models.workload.classes)
    check_report_energy(res.report)  # the finished report: the fault rows and the flexibility block too
    if sc.expect:  # the scenario's own claims, checked on the finished report (not on a window of its run)
        skip, written_for = sc.claims_not_checked()
        res.record.expect = check_expectations(res.report, sc.expect, not_checked=skip, written_for=written_for)
        res.refresh()
    return res


def _stage(progress, text: str) -> None:
    """Tell a progress object with a ``stage(text)`` method (the CLI's bar) which stage follows the ticks; a plain
    ``progress(frac)`` callable is left alone."""
    stage = getattr(progress, "stage", None)
    if callable(stage):
        stage(text)


def run_models(m: Models, progress: Callable[[float], None] | None = None,
               request_engine: RequestEngine | None = None, availability=None) -> Result:
    """Simulate built models, assemble the typed report and check the run's invariants."""
    sc = m.scenario
    if request_engine is None and sc.fidelity in ("request", "hybrid"):
        request_engine = RequestEngine(m)
    raw = simulate(m, progress=progress, request_engine=request_engine, availability=availability)
    _stage(progress, "assembling the report" + (" (the fluid SLO estimate simulates the replicas' queues)"
                                                 if request_engine is None and sc.serving.slo_estimate else ""))
    ts = raw["timeseries"]
    serving, lat = None, {}
    if request_engine is not None:
        serving = request_engine.report(ts["t_s"].size * raw["dt"])
        lat = request_engine.latency_samples()
    record = assemble_report(m, raw, serving)
    res = Result(record=record, timeseries=ts, latency_samples=lat,
                 slo={c.name: {"ttft_s": c.slo_ttft_s, "tpot_s": c.slo_tpot_s} for c in m.workload.classes},
                 scenario=sc, controller_log=raw["controller_log"], events=raw["events"], wall_time_s=raw["wall_s"])
    check_invariants(res.report, ts)
    return res


# --------------------------------------------------------------------------- faults

def _goodput_tokens(models: Models, ts: dict, mask: np.ndarray, dt: float) -> float | None:
    """SLO-meeting output tokens in the ticks of ``mask`` (the engine's fluid per-tick estimate);
    None when no SLO estimate is made (``serving.slo_estimate: false``, a trace workload) and at request and hybrid
    fidelity (their SLOs are counted per request over the run, with no per-tick count to cut a window from)."""
    if models.scenario.fidelity != "fluid":  # request and hybrid runs count SLOs per request, not per tick: the
        return None  # fluid estimate on their series read 0 for a window of a run at 0.75 (the audit of fidelities #4)
    if not np.any(mask):
        return 0.0
    # as the run's own figure (assemble_report): the interactive work through the estimate, plus the deferred
    # tokens served by their deadline (until 2026-12-04 the raw columns: deferred work counted as interactive and
    # its on-time tokens left out, a whole-run window read 0 against the run's 33.2 M). The estimate sees the
    # whole run and counts the window's ticks: a window cut out of the series started with an empty door queue,
    # so a window opening on a backlog counted its requests as on time (79.8 M SLO-meeting tokens in a window
    # of a run whose total was 0, until 2026-12-04)
    good, _ = goodput_fluid(models, interactive_view(models, ts), ticks=mask)  # sum over the window's ticks
    on_time = np.broadcast_to(deferred_on_time_tok_s(ts), mask.shape)
    return None if good is None else (float(good) + float(np.sum(on_time[mask]))) * dt


def _binding_seconds(codes: np.ndarray, dt: float) -> dict:
    return {k: float(np.count_nonzero(codes == i) * dt) for i, k in enumerate(BINDING_NAMES)}


def fault_costs(result: Result, baseline_result: Result, schedule: FaultSchedule, models: Models) -> list[dict]:
    """What each fault window cost versus the no-fault baseline run (same scenario and seed).

    Per window (the ticks any part of which lies in ``[start_s, end_s)``, :func:`~dcsim.power.grid.overlaps`: a
    curtailment holds them to its cap, a cooling failure or heat wave acts on them by the share it covers,
    :meth:`~dcsim.faults.FaultSchedule.cooling_factor_over`): output tokens served and
    lost, goodput (SLO-meeting tokens, the engine's per-tick estimate; needs ``models``), shed
    tokens, facility and IT energy and their change, J/token, PUE, mean replicas in service and
    the seconds each constraint bound (``binding_s``, with the baseline's ``baseline_binding_s``).
    ``tokens_lost_net`` counts from the window start to the end of the run, i.e. net of the
    backlog served after the window (overlapping windows share those ticks).
    """
    ts, bs = result.timeseries, baseline_result.timeseries
    dt = float(result.report["tick_s"])
    if ts["t_s"].shape != bs["t_s"].shape or not np.array_equal(ts["t_s"], bs["t_s"]):
        raise ValueError("fault_costs: faulted and baseline runs have different ticks (not the same scenario)")
    out = []
    t0 = ts["t_s"]
    for w in schedule.windows():
        # the ticks the fault acts on: any part of which lies in it (a curtailment's cap, flex.curtailment_caps; a
        # cooling failure's or heat wave's share of the tick, FaultSchedule.cooling_factor_over / weather_over). By
        # mid-time, a 1-min fault inside a 15-min tick had no tick and cost nothing while it acted on the tick
        sel = overlaps(t0, dt, w["start_s"], w["end_s"])
        after = overlaps(t0, dt, w["start_s"], math.inf)
        tok = float(np.sum(ts["achieved_tok_s"][sel]) * dt)
        btok = float(np.sum(bs["achieved_tok_s"][sel]) * dt)
        e = float(np.sum(ts["facility_power_w"][sel]) * dt)
        be = float(np.sum(bs["facility_power_w"][sel]) * dt)
        e_it = float(np.sum(ts["it_power_w"][sel]) * dt)
        be_it = float(np.sum(bs["it_power_w"][sel]) * dt)
        shed = float(np.sum(ts["shed_tokens"][sel])) if "shed_tokens" in ts else 0.0
        bshed = float(np.sum(bs["shed_tokens"][sel])) if "shed_tokens" in bs else 0.0
        good = _goodput_tokens(models, ts, sel, dt)
        bgood = _goodput_tokens(models, bs, sel, dt)
        row = dict(w)
        row.update({
            "ticks": int(np.count_nonzero(sel)),
            "seconds_in_run": float(np.count_nonzero(sel) * dt),
            "tokens_served": tok,
            "baseline_tokens_served": btok,
            "tokens_lost": btok - tok,
            "tokens_lost_net": float((np.sum(bs["achieved_tok_s"][after]) - np.sum(ts["achieved_tok_s"][after])) * dt),
            "tokens_shed": shed,
            "tokens_shed_change": shed - bshed,
            "queue_tokens_at_end": float(ts["queue_tokens"][sel][-1]) if np.any(sel) else 0.0,
            "goodput_tokens": good,
            "baseline_goodput_tokens": bgood,
            "goodput_tokens_lost": _change(bgood, good),
            "slo_attainment": good / tok if tok > 0 and good is not None else None,
            "baseline_slo_attainment": bgood / btok if btok > 0 and bgood is not None else None,
            "energy_j": e,
            "baseline_energy_j": be,
            "energy_change_j": e - be,
            "it_energy_change_j": e_it - be_it,
            "joules_per_token": e / tok if tok > 0 else None,
            "baseline_joules_per_token": be / btok if btok > 0 else None,
            "pue": e / e_it if e_it > 0 else None,
            "baseline_pue": be / be_it if be_it > 0 else None,
            "mean_gpus_in_service": float(np.mean(ts["gpus_in_service"][sel])) if np.any(sel) else None,
            "binding_s": _binding_seconds(ts["binding"][sel], dt),
            "baseline_binding_s": _binding_seconds(bs["binding"][sel], dt),
        })
        if w["kind"] == "cooling_failure":  # with facility.thermal: time to throttle / shed (issue 18.4)
            row.update(cooling_failure_times(ts, after, w["start_s"]))
        out.append(row)
    return out


def _change(new, old):
    """``new - old``, or None when either figure was not estimated."""
    return None if new is None or old is None else new - old


def run_with_faults(scenario: str | dict | Scenario, faults=None, *, overrides: dict | None = None,
                    progress: Callable[[float], None] | None = None, classes: list | None = None) -> Result:
    """Run the scenario with its faults and a no-fault baseline; return the faulted :class:`Result`.

    ``faults`` (a list of fault specs or dicts) replaces the scenario's own ``faults`` entry when
    given. The report gains ``faults`` (one entry per fault window, see :func:`fault_costs`) and
    ``faults_total`` (whole-run changes versus the baseline: tokens, goodput, SLO attainment,
    energy, J/token) and ``faults_baseline`` (the baseline's headline figures). With several
    faults each entry also carries its own cost over the whole run, ``marginal_tokens_lost`` and
    ``marginal_energy_change_j``: the run with every fault but this one (the others' sampled
    failures kept) minus the run with all of them — one extra run per fault. ``classes``: the scenario's
    resolved request classes (a build's ``workload.classes``), taken by every build here as they are.
    """
    sc = load_scenario(scenario, overrides=overrides)
    specs = fault_specs(faults) if faults is not None else tuple(sc.faults)
    base_sc = sc.model_copy(update={"faults": ()})
    m0 = build_models(base_sc, classes=classes)
    cls = m0.workload.classes  # resolved once: the runs below take them (their context windows' sums not redone)
    base = run_models(m0)
    if base.record.partial:  # interrupted in the fault-free baseline: no faulted run yet (it ran to the end and then
        raise KeyboardInterrupt  # failed "different ticks", an internal error: the audit of the API, finding 3)
    mf = build_models(base_sc, classes=cls)
    sched = build_faults(specs, mf.seeds["faults"], {g.name: g.limits.replicas for g in mf.groups},
                         float(sc.duration), interconnect_w=float(mf.facility.interconnect_w))
    mf.faults = sched
    res = run_models(mf, progress=progress)
    rec = res.record
    if sched is None:
        rec.faults = []
        return res.refresh()
    if rec.partial:  # interrupted: a partial faulted run has no like-for-like baseline to cost its faults against
        rec.faults = []
        rec.warnings.append("interrupted: the faults' costs against the fault-free baseline are not computed for a "
                            "partial run")
        return res.refresh()
    rec.faults = fault_costs(res, base, sched, models=mf)
    r, b = rec, base.record
    if len(sched.specs) > 1:  # overlapping faults share their windows' losses: add each one's own cost
        # tokens and energy only: the fluid SLO estimate (most of a fluid run's time) is not needed
        quick_sc = base_sc.model_copy(update={"serving": base_sc.serving.model_copy(update={"slo_estimate": False})})
        for j, row in enumerate(rec.faults):
            mj = build_models(quick_sc, classes=cls)
            mj.faults = sched.without(j)
            rj = run_models(mj).record
            row["marginal_tokens_lost"] = rj.tokens.output - r.tokens.output
            row["marginal_energy_change_j"] = r.energy_j["facility"] - rj.energy_j["facility"]
    dur = r.duration_s
    rec.faults_baseline = {
        "tokens_output": b.tokens.output,
        "goodput_tok_s": b.goodput_tok_s,
        "slo_attainment": b.slo_attainment,
        "energy_facility_j": b.energy_j["facility"],
        "joules_per_output_token_facility": b.joules_per_output_token.facility,
        "binding_share": b.binding.share,
    }
    rec.faults_total = {
        "tokens_lost": b.tokens.output - r.tokens.output,
        "tokens_shed_change": r.tokens_accounting.shed - b.tokens_accounting.shed,
        # None when no SLO estimate was made (serving.slo_estimate: false, a trace workload)
        "goodput_change_tok_s": _change(r.goodput_tok_s, b.goodput_tok_s),
        "goodput_tokens_lost": None if r.goodput_tok_s is None or b.goodput_tok_s is None
        else (b.goodput_tok_s - r.goodput_tok_s) * dur,
        "slo_attainment_change": _change(r.slo_attainment, b.slo_attainment),
        "energy_change_j": r.energy_j["facility"] - b.energy_j["facility"],
        "joules_per_token_change": r.joules_per_output_token.facility - b.joules_per_output_token.facility,
        "replica_hours_down": sched.down_replica_seconds() / 3600.0,
        "mean_availability": (1.0 - sched.down_replica_seconds() / (sched.replicas * sched.duration_s)
                              if sched.replicas > 0 else 1.0),
    }
    return res.refresh()
