"""The same run without its flexibility (issue 18 item 2): what storage and deferrable work
bought, against a baseline run of the same scenario and seed with ``facility.storage`` and
``deferrable`` removed (curtailment requests, faults and DVFS caps stay). Orchestration, like
the fault baseline of :mod:`dcsim.engine.run`."""

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


def flexibility_block(res, base, sc) -> dict:
    """``report.json``'s ``flexibility``: ``with``, ``without`` and ``change`` (with − without)."""
    dt = float(res.report["tick_s"])
    w, wo = _figures(res, dt), _figures(base, dt)
    change = {k: (w[k] - wo[k]) if isinstance(w.get(k), float) and isinstance(wo.get(k), float) else None
              for k in w}
    what = [x for x, on in (("storage", sc.facility.storage is not None), ("deferrable", sc.deferrable is not None))
            if on]
    return {"responses": what, "with": w, "without": wo, "change": change,
            "baseline": "same scenario and seed without " + " and ".join(what)
                        + " (curtailment requests, faults and DVFS caps kept)"}


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
