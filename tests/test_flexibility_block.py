"""The report's ``flexibility`` block compares like with like: the deferrable share is batch work with its deadline
in the run and in the baseline (served there on arrival), so flexibility is not credited with the deadline's
leniency as a service gain (docs/grid.md, "the flexibility block")."""

from __future__ import annotations

from pathlib import Path

import pytest

import dcsim
from dcsim.report.summary import flex_rows

ROOT = Path(__file__).resolve().parents[1]
FLEX = ROOT / "scenarios" / "grid-flex.yaml"
#: a 6-h window of grid-flex around its 17-19 h request (the afternoon peak, the request and the evening)
WINDOW = {"duration": "6 h", "start": "2026-07-15T14:00", "expect": {}}


@pytest.fixture(scope="module")
def flex_and_base():
    run = dcsim.run(str(FLEX), overrides=WINDOW)
    base = dcsim.run(str(FLEX), overrides={**WINDOW, "deferrable": None, "facility.storage": None})
    return run.report, base.report


def test_both_runs_score_the_deferrable_work_due_in_the_run(flex_and_base):
    """Both runs score the batch tokens whose deadline (24 h) falls inside the run; in a 6-h window none does:
    the deferrable part is 0 in both, the run's 1.93 G still waiting is reported as pending, not as a loss. Until
    2026-12-05 the baseline counted its whole served batch share (served on arrival) against the run's deferred
    tokens served so far, and the window read −838 M SLO-meeting tokens (interactive +458 M, deferrable −1.30 G)
    with nothing late; the year before that, the whole baseline was scored as chat (grid-flex's day +4.63 G)."""
    rep, base = flex_and_base
    fl, d = rep["flexibility"], rep["deferrable"]
    w, wo, ch = fl["with"], fl["without"], fl["change"]
    assert d["served_late_tokens"] == 0 and d["overdue_end_tokens"] == 0  # nothing late ...
    assert d["backlog_end_tokens"] > 1e9  # ... and much of the batch work not yet due at the end
    assert ch["slo_meeting_deferrable_tokens"] == 0  # ... so no deferrable loss (the old rule: −1.30 G)
    assert ch["slo_meeting_tokens"] >= ch["slo_meeting_interactive_tokens"] > 0
    # nothing is due in a window shorter than the deadline: the whole share is left out of both scores
    assert w["slo_meeting_deferrable_tokens"] == 0 and wo["slo_meeting_deferrable_tokens"] == 0
    assert w["deferrable_not_due_tokens"] == pytest.approx(d["arrived_tokens"], rel=1e-9)
    assert wo["deferrable_not_due_tokens"] == pytest.approx(d["share"] * base["tokens"]["output"], rel=1e-9)
    assert w["deferrable_pending_tokens"] == pytest.approx(d["backlog_end_tokens"], rel=1e-9)
    assert wo["deferrable_pending_tokens"] == 0
    # the baseline's interactive part: its goodput's non-deferrable share (one class, one attainment)
    assert wo["slo_meeting_interactive_tokens"] == pytest.approx((1 - d["share"]) * base["goodput_tok_s"]
                                                                 * base["duration_s"], rel=1e-9)


def test_the_due_in_run_rule_counts_ticks_and_arrivals_by_the_cut():
    """The rule on a hand-made series (4 ticks of 1 h, deadline 2 h: work arriving at 0, 1 or 2 h is due by the
    end, at 4 h; work at 3 h is not): the run's deferred arrivals are its backlog change plus what it served,
    the on-time due tokens are the first served less the late ones; the baseline counts the output of the ticks
    starting by the cut."""
    from types import SimpleNamespace

    import numpy as np

    from dcsim.engine.flexrun import slo_split

    h = 3600.0
    served = np.array([0.0, 0.0, 30.0, 50.0]) / h  # tok/s: the queue serves 80 tokens in the last two ticks
    backlog = np.array([20.0, 40.0, 30.0, 0.0])  # arrivals 20, 20, 20, 20 (backlog change + served)
    ts = {"t_s": np.arange(4) * h, "deferred_served_tok_s": served, "deferred_late_tok_s": np.array([0, 0, 0, 5 / h]),
          "deferred_backlog_tokens": backlog, "achieved_tok_s": np.array([100.0, 100.0, 100.0, 10.0]) / h}
    rep = {"tick_s": h, "duration_s": 4 * h, "goodput_interactive_tok_s": 7.0 / (4 * h),
           "deferrable": {"backlog_end_tokens": 0.0, "overdue_end_tokens": 0.0}}
    fig = {"slo_meeting_tokens": 99.0}
    w = slo_split(fig, SimpleNamespace(report=rep, timeseries=ts), 0.3, 2 * h)
    assert w["slo_meeting_deferrable_tokens"] == pytest.approx(60 - 5)  # 60 due, all served, 5 of them late
    assert w["deferrable_not_due_tokens"] == pytest.approx(20)
    assert w["slo_meeting_interactive_tokens"] == pytest.approx(7.0)
    assert w["slo_meeting_tokens"] == pytest.approx(62.0)
    base = {"tick_s": h, "duration_s": 4 * h}
    wo = slo_split({"slo_meeting_tokens": 50.0}, SimpleNamespace(report=base, timeseries=ts), 0.3, 2 * h)
    assert wo["slo_meeting_deferrable_tokens"] == pytest.approx(0.3 * 300)  # the ticks at 0, 1 and 2 h
    assert wo["deferrable_not_due_tokens"] == pytest.approx(0.3 * 10)
    assert wo["slo_meeting_interactive_tokens"] == pytest.approx(0.7 * 50)


def test_the_run_splits_its_slo_meeting_tokens_into_interactive_and_deferred(flex_and_base):
    rep, _ = flex_and_base
    w, dur = rep["flexibility"]["with"], rep["duration_s"]
    interactive = sum(c["goodput_tok_s"] for c in rep["serving"]["per_class"].values()) * dur
    assert rep["goodput_interactive_tok_s"] * dur == pytest.approx(interactive, rel=1e-9)
    d = rep["deferrable"]
    assert rep["goodput_deferred_tok_s"] * dur == pytest.approx(d["served_tokens"] - d["served_late_tokens"], rel=1e-9)
    assert w["slo_meeting_interactive_tokens"] == pytest.approx(interactive, rel=1e-9)


def test_preflight_warns_when_the_deadline_is_shorter_than_the_hold_limit():
    """The baseline scores the batch share it serves (held up to controller.hold_limit) as on time: with a
    deadline shorter than the hold limit that is an upper bound, said at preflight."""
    from conftest import small_scenario

    from dcsim.engine.preflight import preflight
    from dcsim.scenario import load_scenario

    d = small_scenario(duration="10 min")
    d["deferrable"] = {"share": 0.3, "deadline": "5 min", "urgency": "1 min"}
    d.setdefault("controller", {})["hold_limit"] = "10 min"
    assert any(w.startswith("deferrable.deadline 5 min is shorter than controller.hold_limit")
               for w in preflight(load_scenario(d)).warnings)
    d["deferrable"]["deadline"] = "1 h"
    assert not any(w.startswith("deferrable.deadline") for w in preflight(load_scenario(d)).warnings)


def test_the_summary_prints_the_split_of_the_gain():
    """The terminal rows give the interactive and the deferred parts of the SLO-meeting change and the deferred
    work not yet due at the end: the wording, on figures typed in (grid-flex's day as measured on 2026-12-05: +3.02 G =
    interactive +3.02 G, deferred work due in the run +0, 2.93 G waiting); scenarios/grid-flex.yaml's expect block
    guards the figures themselves."""
    fig = {"tokens_output": 0.0, "slo_meeting_tokens": 0.0, "slo_meeting_interactive_tokens": 0.0,
           "slo_meeting_deferrable_tokens": 0.0, "tokens_shed": 0.0, "tokens_waiting_end": 0.0, "energy_meter_j": 0.0}
    change = dict(fig, tokens_output=997e6, slo_meeting_tokens=3.024e9, slo_meeting_interactive_tokens=3.024e9,
                  slo_meeting_deferrable_tokens=-2e-7)
    rows = flex_rows({"flexibility": {"responses": ["storage", "deferrable"],
                                      "with": dict(fig, deferrable_pending_tokens=2.926e9), "without": fig,
                                      "change": change}})
    text = "\n".join(b for _, b in rows)
    assert "SLO-meeting +3.02 G" in text
    assert "interactive +3.02 G   deferrable work due in the run, on time 0" in text
    assert "not yet due: 2.93 G deferrable tokens waiting at the end (not scored)" in text
    # storage alone: no deferrable share, no split
    rows = flex_rows({"flexibility": {"responses": ["storage"], "with": fig, "without": fig, "change": change}})
    assert "interactive" not in "\n".join(b for _, b in rows)


def test_the_years_hours_binding_add_up_as_printed():
    """year-richmond's stored hours binding, 1729.25 / 6990.5 / 40.25 / 0 h, add up to the year's 8,760 h; printed at
    4 significant figures they read 1729 / 6990 / 40.25 h, 8,759.25 h. Fixed decimals keep the sum."""
    hours = {"compute": 6990.5, "cooling": 0.0, "demand": 1729.25, "power": 40.25}
    (row,) = [b for a, b in flex_rows({"annual": {"hours_binding": hours, "pue": {"annual": 1.307}}}) if a == "Year"]
    printed = [float(x.replace(",", "")) for x in row.split("hours binding:")[1].split()[1::3]]
    assert sum(printed) == pytest.approx(8760.0, abs=1e-9)
    assert "compute 6,990.50 h" in row and "demand 1,729.25 h" in row
    # hours at a 10-min tick (1/6 h) rounded one by one sum to 8,760.01 h; the largest remainder keeps 8,760
    sixths = {"compute": 5000 + 1 / 6, "demand": 3000 + 1 / 6, "power": 760 - 2 / 6}
    (row,) = [b for a, b in flex_rows({"annual": {"hours_binding": sixths}}) if a == "Year"]
    printed = [float(x.replace(",", "")) for x in row.split("hours binding:")[1].split()[1::3]]
    assert sum(round(v, 2) for v in sixths.values()) != pytest.approx(8760.0, abs=1e-9)
    assert sum(printed) == pytest.approx(8760.0, abs=1e-9)
    # whole hours print whole
    (row,) = [b for a, b in flex_rows({"annual": {"hours_binding": {"demand": 8000.0, "compute": 760.0}}})
              if a == "Year"]
    assert "demand 8,000 h  compute 760 h" in row
