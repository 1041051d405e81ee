"""The same run without its flexibility (issue 18 item 2): what storage and deferrable work
bought, against a baseline run of the same scenario and seed with ``facility.storage`` and
``deferrable`` removed (curtailment requests, faults and DVFS caps stay). Orchestration, like
the fault baseline of :mod:`dcsim.engine.run`.

SLO-meeting tokens are compared like with like: the baseline's deferrable share is still batch work with its
deadline (its customers' promise does not change when the site stops deferring), served on arrival in the
baseline, so its served tokens meet that deadline; only the interactive share is scored by the latency SLOs
(:func:`slo_split`, docs/grid.md)."""

from __future__ import annotations

import math

import numpy as np

from dcsim.engine.build import build_models

__all__ = ["has_flexibility", "flexibility_block", "add_flexibility_baseline"]


def has_flexibility(sc) -> bool:
    """Does the scenario flex (storage or deferrable work)?"""
    return sc.facility.storage is not None or sc.deferrable is not None


def _figures(res, dt: float) -> dict:
    """Tokens, SLO-meeting tokens, energy, meter energy, cost and carbon of a run."""
    rep, ts = res.report, res.timeseries
    meter = (rep.get("grid") or {}).get("meter", {})
    good = rep.get("goodput_tok_s")
    out = {
        "tokens_output": rep["tokens"]["output"],
        "slo_meeting_tokens": None if good is None else good * rep["duration_s"],
        "tokens_shed": rep["tokens_accounting"]["shed"],
        # work still waiting at the end (deferred work not yet due): neither served nor shed, so a run that defers
        # sheds less partly by leaving work for later
        "tokens_waiting_end": rep["tokens_accounting"]["waiting"],
        "energy_facility_j": rep["energy_j"]["facility"],
        "energy_meter_j": meter.get("energy_j", float(np.sum(ts["facility_power_w"]) * dt)),
        "peak_meter_w": float(np.max(ts.get("meter_power_w", ts["facility_power_w"]))) if ts["t_s"].size else 0.0,
    }
    for k in ("cost_usd", "carbon_g"):
        if k in meter:
            out[k] = meter[k]
    # a battery that ends below its starting charge spent stored energy the meter never paid for: the meter energy
    # with the battery brought back to its starting charge (through its charging efficiency) is the fair figure
    st = rep.get("storage")
    out["storage_drawdown_j"] = 0.0
    out["energy_meter_restored_j"] = out["energy_meter_j"]
    if st:
        down = float(st["energy_start_j"]) - float(st["energy_end_j"])
        eta = math.sqrt(float(st["round_trip_efficiency"]))  # split evenly, as dcsim.power.storage.battery_params
        out["storage_drawdown_j"] = down
        out["energy_meter_restored_j"] = out["energy_meter_j"] + (down / eta if down > 0 else down * eta)
    return out


def slo_split(figures: dict, report: dict, share: float, deferring: bool) -> dict:
    """``figures`` with its SLO-meeting tokens split into ``slo_meeting_interactive_tokens`` and
    ``slo_meeting_deferrable_tokens`` (their sum is ``slo_meeting_tokens``), all None without an SLO estimate.

    ``deferring`` (the run with its deferrable work): the deferred tokens served by their deadline
    (``deferrable.served_tokens − served_late_tokens``) are its deferrable part, the rest of the run's goodput is
    interactive. The baseline (``deferring`` False, ``share`` the scenario's ``deferrable.share``): the same
    demand without deferral, every request served through the one queue — its share ``share`` of the output
    served is the batch work served on arrival (held at most ``controller.hold_limit``, 600 s by default, against
    a deadline of hours: on time; a deadline shorter than the hold limit would make it an upper bound), the rest
    of its goodput, ``(1 − share)`` of it, is interactive (one class, one attainment, as the run's chat). Scoring the
    baseline's batch share by a chat TTFT target instead (the block until 2026-12-05) credited flexibility with
    the deferred work's deadline as if it were a service gain: grid-flex +4.63 G SLO-meeting tokens, of which the
    like-for-like gain is +1.51 G."""
    out = dict(figures)
    good = figures["slo_meeting_tokens"]
    if good is None:
        out["slo_meeting_interactive_tokens"] = out["slo_meeting_deferrable_tokens"] = None
        return out
    if deferring:
        d = report.get("deferrable") or {}
        defer = float(d.get("served_tokens", 0.0)) - float(d.get("served_late_tokens", 0.0))
        inter = good - defer
    else:
        inter = (1.0 - share) * good
        defer = share * figures["tokens_output"]
    out["slo_meeting_interactive_tokens"] = inter
    out["slo_meeting_deferrable_tokens"] = defer
    out["slo_meeting_tokens"] = inter + defer
    return out


def flexibility_block(res, base, sc) -> dict:
    """``report.json``'s ``flexibility``: ``with``, ``without`` and ``change`` (with − without). SLO-meeting tokens
    score the deferrable share by its deadline in both runs (:func:`slo_split`)."""
    dt = float(res.report["tick_s"])
    share = float(sc.deferrable.share) if sc.deferrable is not None else 0.0
    w = slo_split(_figures(res, dt), res.report, share, deferring=True)
    wo = slo_split(_figures(base, dt), base.report, share, deferring=False)
    change = {k: (w[k] - wo[k]) if isinstance(w.get(k), float) and isinstance(wo.get(k), float) else None
              for k in w}
    what = [x for x, on in (("storage", sc.facility.storage is not None), ("deferrable", sc.deferrable is not None))
            if on]
    return {"responses": what, "with": w, "without": wo, "change": change,
            "baseline": "same scenario and seed without " + " and ".join(what)
                        + " (curtailment requests, faults and DVFS caps kept)"
                        + (f"; its deferrable share ({share:.0%} of the output) served on arrival and scored by "
                           "its deadline, as in the run" if share > 0 else "")}


def add_flexibility_baseline(sc, res, run_models):
    """Run the baseline and attach ``flexibility`` to ``res`` (returned)."""
    base_sc = sc.model_copy(update={"deferrable": None,
                                    "facility": sc.facility.model_copy(update={"storage": None})})
    base = run_models(build_models(base_sc))
    if base.record.partial:  # interrupted in the baseline: no like-for-like comparison
        res.record.warnings.append("interrupted in the flexibility baseline: the `flexibility` block is not computed")
        return res.refresh()
    res.record.flexibility = flexibility_block(res, base, sc)
    return res.refresh()
