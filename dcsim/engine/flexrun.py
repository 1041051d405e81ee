"""The same run without its flexibility (issue 18 item 2): what storage and deferrable work
bought, against a baseline run of the same scenario and seed with ``facility.storage`` and
``deferrable`` removed (curtailment requests, faults and DVFS caps stay). Orchestration, like
the fault baseline of :mod:`dcsim.engine.run`.

SLO-meeting tokens are compared like with like: the baseline's deferrable share is still batch work with its
deadline (its customers' promise does not change when the site stops deferring), served on arrival in the
baseline, so its served tokens meet that deadline; only the interactive share is scored by the latency SLOs
(:func:`slo_split`, docs/grid.md). Both runs' deferrable share is scored on the same tokens, those whose
deadline falls inside the run; the work not yet due at the end is reported on its own."""

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


def due_cut_s(duration_s: float, deadline_s: float) -> float:
    """The latest arrival (s from the run's start) whose deadline, ``deadline_s`` after it, falls inside a run of
    ``duration_s``: work arriving later is not yet due at the end, neither late nor on time (negative: none)."""
    return duration_s - deadline_s


def _due(t_s, cut_s: float) -> np.ndarray:
    """Ticks starting at or before ``cut_s`` (float rounding allowed)."""
    return np.asarray(t_s, float) <= cut_s + 1e-9 * max(abs(cut_s), 1.0)


def _deferred_due(ts: dict, dt: float, cut_s: float) -> tuple[float, float]:
    """(tokens of the run's deferred work served by their deadline among those due in the run, i.e. arrived at or
    before ``cut_s``; tokens of it arrived later). From the per-tick columns: arrivals of tick j are its backlog
    change plus its served tokens; the queue is first in, first out, so the due tokens are served first and every
    late token is a due one (served after a deadline that passed in the run). Arrivals are counted by their tick's
    start; the queue's 5-min buckets (DeferrableQueue.bucket_s) judge lateness by a bucket's first arrival, so
    near the cut a late token may sit in a tick counted as not due: the due part is clamped at 0."""
    served = np.asarray(ts["deferred_served_tok_s"], float) * dt
    late = float(np.sum(ts["deferred_late_tok_s"])) * dt
    arrived = np.diff(np.asarray(ts["deferred_backlog_tokens"], float), prepend=0.0) + served
    due = _due(ts["t_s"], cut_s)
    return max(min(float(np.sum(served)), float(np.sum(arrived[due]))) - late, 0.0), float(np.sum(arrived[~due]))


def slo_split(figures: dict, res, share: float, deadline_s: float) -> dict:
    """``figures`` with its SLO-meeting tokens split into ``slo_meeting_interactive_tokens`` and
    ``slo_meeting_deferrable_tokens`` (their sum is ``slo_meeting_tokens``), all None without an SLO estimate;
    ``deferrable_not_due_tokens``, the deferrable tokens left out of the score (their deadline after the end),
    and ``deferrable_pending_tokens``, those of them still waiting at the end (the baseline: 0).

    Both parts score the same tokens in both runs: the batch work whose deadline falls inside the run, arrived at
    or before ``end − deadline`` (:func:`due_cut_s`). The run with its deferrable work (``res.report`` has a
    ``deferrable`` block): its interactive part is the stored ``goodput_interactive_tok_s``, its deferrable part
    the deferred tokens due in the run and served by their deadline (:func:`_deferred_due`). The baseline (no
    deferrable work, ``share`` the scenario's ``deferrable.share``): the same demand served through one queue —
    its interactive part is ``(1 − share)`` of its goodput (one class, one attainment, as the run's chat), its
    deferrable part ``share`` of the output of the ticks at or before ``end − deadline``, served on arrival (held
    at most ``controller.hold_limit``: on time; preflight warns when the deadline is shorter).

    Until 2026-12-05 the baseline's batch share was first scored by the chat TTFT target (grid-flex +4.63 G
    SLO-meeting tokens), then its whole served share against the run's served − late (+1.51 G: the run's 2.93 G
    still waiting, not yet due, counted as a loss; a 6-h window read −838 M with nothing late)."""
    out = dict(figures)
    rep, ts = res.report, res.timeseries
    dt, dur = float(rep["tick_s"]), float(rep["duration_s"])
    cut = due_cut_s(dur, deadline_s)
    d = rep.get("deferrable")
    if d is not None and "deferred_served_tok_s" in ts:
        defer, not_due = _deferred_due(ts, dt, cut)
        inter = rep.get("goodput_interactive_tok_s")
        inter = None if inter is None else inter * dur
        out["deferrable_pending_tokens"] = float(d["backlog_end_tokens"]) - float(d["overdue_end_tokens"])
    else:
        tok = np.asarray(ts["achieved_tok_s"], float) * dt
        due = _due(ts["t_s"], cut)
        defer, not_due = share * float(np.sum(tok[due])), share * float(np.sum(tok[~due]))
        good = figures["slo_meeting_tokens"]
        inter = None if good is None else (1.0 - share) * good
        out["deferrable_pending_tokens"] = 0.0
    out["deferrable_not_due_tokens"] = not_due
    if inter is None:
        out["slo_meeting_tokens"] = None
        out["slo_meeting_interactive_tokens"] = out["slo_meeting_deferrable_tokens"] = None
        return out
    out["slo_meeting_interactive_tokens"] = inter
    out["slo_meeting_deferrable_tokens"] = defer
    out["slo_meeting_tokens"] = inter + defer
    return out


def flexibility_block(res, base, sc) -> dict:
    """``report.json``'s ``flexibility``: ``with``, ``without`` and ``change`` (with − without). SLO-meeting tokens
    score the deferrable share by its deadline in both runs (:func:`slo_split`)."""
    dt = float(res.report["tick_s"])
    share = float(sc.deferrable.share) if sc.deferrable is not None else 0.0
    deadline = float(sc.deferrable.deadline) if sc.deferrable is not None else 0.0
    w = slo_split(_figures(res, dt), res, share, deadline)
    wo = slo_split(_figures(base, dt), base, share, deadline)
    change = {k: (w[k] - wo[k]) if isinstance(w.get(k), float) and isinstance(wo.get(k), float) else None
              for k in w}
    what = [x for x, on in (("storage", sc.facility.storage is not None), ("deferrable", sc.deferrable is not None))
            if on]
    return {"responses": what, "with": w, "without": wo, "change": change,
            "baseline": "same scenario and seed without " + " and ".join(what)
                        + " (curtailment requests, faults and DVFS caps kept)"
                        + (f"; its deferrable share ({share:.0%} of the output) served on arrival and scored by "
                           "its deadline, as in the run; both runs score the deferrable work due in the run "
                           "(arrived at or before end − deadline), the rest is deferrable_not_due_tokens"
                           if share > 0 else "")}


def add_flexibility_baseline(sc, res, run_models, classes=None):
    """Run the baseline and attach ``flexibility`` to ``res`` (returned); ``classes``: the run's resolved request
    classes (``workload.classes``), taken by the baseline's build as they are."""
    base_sc = sc.model_copy(update={"deferrable": None,
                                    "facility": sc.facility.model_copy(update={"storage": None})})
    base = run_models(build_models(base_sc, classes=classes))
    if base.record.partial:  # interrupted in the baseline: no like-for-like comparison
        res.record.warnings.append("interrupted in the flexibility baseline: the `flexibility` block is not computed")
        return res.refresh()
    res.record.flexibility = flexibility_block(res, base, sc)
    return res.refresh()
