"""Curtailment requests that do not fill whole controller ticks (audit of 2026-12-05, finding A).

A tick runs one operating point for its whole length; a tick any part of which lies in a request is held to the
request's cap (dcsim.power.grid.cap_over). Until 2026-12-05 the cap was taken at mid-tick: a request shorter than half
a tick was never applied, and the end of one running past its last tick's middle was dropped (the meter ran at the
contract for the request's last minutes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import dcsim
from dcsim.power.grid import CurtailmentEvent, below_contract, cap_over, overlaps
from dcsim.report.summary import flex_rows

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "scenarios" / "reference.yaml"
CONTRACT = 495e3  # reference.yaml's facility.interconnect


def _request(start: str, duration: str) -> dict:
    return {"curtailment": {"kind": "schedule", "events": [
        {"start": start, "duration": duration, "depth": "40%", "notice": "1 h"}]}}


def test_overlaps_is_the_half_open_rule():
    # [t0, t0 + dt) overlaps [100, 200) when it begins before the end and ends after the start
    t0 = np.array([0.0, 50.0, 51.0, 99.0, 150.0, 199.9, 200.0])
    # [50, 100) only touches the start and [200, 250) the end: neither overlaps
    assert overlaps(t0, 50.0, 100.0, 200.0).tolist() == [False, False, True, True, True, True, False]


def test_cap_over_takes_the_lowest_cap_in_any_part_of_the_interval():
    ev = [CurtailmentEvent(1100.0, 1160.0, 0.5, None, 0.0), CurtailmentEvent(2000.0, 2450.0, 0.2, None, 0.0)]
    t0 = np.array([0.0, 900.0, 1800.0, 2100.0, 2400.0, 2700.0])
    got = cap_over(ev, t0, 300.0, 100.0)
    # [900, 1200) holds the 1-min request (its middle, 1050, is not in it); [1800, 2100) and [2400, 2700) overlap the second
    assert got.tolist() == [100.0, 50.0, 80.0, 80.0, 80.0, 100.0]
    # a request touching an interval only at its end point does not cap it (half-open intervals)
    assert cap_over([CurtailmentEvent(300.0, 600.0, 0.5, None, 0.0)], np.array([0.0, 600.0]), 300.0, 100.0).tolist() \
        == [100.0, 100.0]
    # the lowest cap of the events in force: a 10-W cap inside a 50 % request
    ev2 = [CurtailmentEvent(100.0, 200.0, 0.5, None, 0.0), CurtailmentEvent(150.0, 160.0, 0.0, 10.0, 0.0)]
    assert cap_over(ev2, np.array([0.0, 100.0, 145.0, 160.0, 200.0]), 10.0, 100.0).tolist() == \
        [100.0, 50.0, 10.0, 50.0, 100.0]


@pytest.mark.parametrize("start,duration,ticks", [("17 h", "20 min", 2),          # ends 5 min into its 2nd tick
                                                  ("1025 min", "1 min", 1)])     # 17:05, shorter than half a tick
def test_a_request_not_filling_whole_ticks_holds_the_meter_for_all_of_it(start, duration, ticks):
    r = dcsim.run(str(REF), overrides={"controller.tick": "15 min", "duration": "24 h", "grid": _request(start, duration)})
    ts, rep = r.timeseries, r.report
    dt = rep["tick_s"]
    ev = rep["grid"]["curtailment"]["requests"][0]
    inside = overlaps(ts["t_s"], dt, ev["start_s"], ev["end_s"])
    assert inside.sum() == ticks
    cap = 0.6 * CONTRACT
    # every tick overlapping the request is capped, and its meter (= facility, no battery) stays under the cap
    assert np.all(ts["curtailment"][inside] == 1)
    assert np.all(ts["interconnect_w"][inside] == pytest.approx(cap))
    assert np.all(ts["meter_power_w"][inside] <= cap * (1 + 1e-9))
    # ... where the site runs above the cap outside requests (the evening peak): the cap bites
    assert ts["facility_power_w"][~inside].max() > cap * 1.2
    assert rep["interconnect_exceeded_s"] == 0.0
    # the report says the hours requested and the (whole-tick) hours enforced
    c = rep["grid"]["curtailment"]
    assert c["hours"] == pytest.approx((ev["end_s"] - ev["start_s"]) / 3600)
    assert c["enforced_hours"] == pytest.approx(ticks * dt / 3600)
    # ... and so do the summary's grid line (and the HTML report's table of the same rows)
    row = dict(flex_rows(rep))["Curtailment requests"]
    assert f"{c['hours']:.3g} h requested, {c['enforced_hours']:.3g} h enforced over whole ticks" in row


def test_the_summary_says_the_hours_enforced_only_where_they_differ():
    rep = {"grid": {"curtailment": {"events": 2, "hours": 0.5, "longest_h": 0.25, "enforced_hours": 0.75}}}
    assert dict(flex_rows(rep))["Curtailment requests"] == \
        "2 (0.5 h requested, 0.75 h enforced over whole ticks, longest 0.25 h)"
    rep["grid"]["curtailment"]["enforced_hours"] = 0.5
    assert dict(flex_rows(rep))["Curtailment requests"] == "2 (0.5 h, longest 0.25 h)"


@pytest.mark.parametrize("start,duration,ticks", [("1025 min", "1 min", 1),     # 17:05, shorter than half a tick
                                                  ("1030 min", "10 min", 2)])   # from past the middle of its 1st tick
def test_a_curtailment_fault_not_filling_whole_ticks_caps_them_as_a_request_does(start, duration, ticks):
    # the `curtailment` fault is a request without notice: enforced by the same rule (flex.curtailment_caps); until
    # 2026-12-05 it was read at mid-tick and the 1-min one left the hall at 490 kW against its 297-kW cap
    r = dcsim.run(str(REF), overrides={"controller.tick": "15 min", "duration": "24 h", "faults": [
        {"kind": "curtailment", "start": start, "duration": duration, "fraction": "60%"}]})
    ts, rep = r.timeseries, r.report
    dt = rep["tick_s"]
    f = rep["faults"][0]
    inside = overlaps(ts["t_s"], dt, f["start_s"], f["end_s"])
    assert inside.sum() == ticks
    cap = 0.6 * CONTRACT
    assert np.all(ts["interconnect_w"][inside] == pytest.approx(cap))
    assert np.all(ts["interconnect_w"][~inside] == CONTRACT)
    assert np.all(ts["facility_power_w"][inside] <= cap * (1 + 1e-9))
    assert ts["facility_power_w"][~inside].max() > cap * 1.2  # the cap bites: the evening peak runs above it
    assert rep["interconnect_exceeded_s"] == 0.0
    # its cost is counted on the ticks held to its cap (by mid-time the 1-min one had none and cost nothing)
    assert f["ticks"] == ticks
    assert f["binding_s"]["power"] == pytest.approx(ticks * dt)
    assert f["tokens_lost"] > 0


def test_a_fault_and_a_request_over_one_tick_take_the_lower_cap():
    r = dcsim.run(str(REF), overrides={"controller.tick": "15 min", "duration": "24 h", "grid": _request("17 h", "5 min"),
                                       "faults": [{"kind": "curtailment", "start": "1032 min", "duration": "2 min",
                                                   "fraction": "50%"}]})
    ts = r.timeseries
    i = int(np.flatnonzero(ts["t_s"] == 17 * 3600.0)[0])  # the tick 17:00-17:15 holds both: the fault's 50 % binds
    assert ts["interconnect_w"][i] == pytest.approx(0.5 * CONTRACT)
    assert ts["interconnect_w"][i + 1] == CONTRACT
    # the grid's curtailment column marks the request's tick (the fault is not a request)
    assert ts["curtailment"][i] == 1 and r.report["grid"]["curtailment"]["enforced_hours"] == pytest.approx(0.25)


@pytest.mark.parametrize("grid", [False, True])
def test_the_curtailment_faults_are_read_once_per_run(monkeypatch, grid):
    # the faults' cap lowerings are built once per run and passed to every chunk's exogenous inputs (build_flex, or
    # simulate without an issue-18 model); until 2026-12-05 a run without one rebuilt them every chunk
    from dcsim.engine.loop import CHUNK_TICKS
    from dcsim.faults import FaultSchedule

    calls = []
    orig = FaultSchedule.curtailment_windows
    monkeypatch.setattr(FaultSchedule, "curtailment_windows", lambda self: calls.append(1) or orig(self))
    over = {"controller.tick": "10 s", "duration": "24 h",
            "faults": [{"kind": "curtailment", "start": "17 h", "duration": "30 min", "fraction": "60%"}]}
    if grid:
        over["grid"] = _request("20 h", "15 min")
    r = dcsim.run(str(REF), overrides=over)
    assert r.timeseries["t_s"].size > 2 * CHUNK_TICKS  # several chunks
    assert np.any(np.isclose(r.timeseries["interconnect_w"], 0.6 * CONTRACT))  # the fault capped its ticks
    assert len(calls) == 1
    if grid:  # the grid's curtailment column marks the request's ticks alone, not the fault's (Exogenous.request)
        ts = r.timeseries
        fault = overlaps(ts["t_s"], 10.0, 17 * 3600.0, 17.5 * 3600.0)
        assert np.all(np.isclose(ts["interconnect_w"][fault], 0.6 * CONTRACT)) and not np.any(ts["curtailment"][fault])
        assert int(np.sum(ts["curtailment"])) == 90  # 20:00-20:15 in 10-s ticks


def _notice_run(notice: str):
    return dcsim.run(str(REF), overrides={
        "controller.tick": "15 min", "duration": "150 min", "economics.price": "60 USD/MWh",
        "grid": {"curtailment": {"kind": "schedule", "events": [
            {"start": "1 h", "duration": "1 h", "depth": "50%", "notice": notice}]}},
        "facility.storage": {"energy": "200 kWh", "max_charge": "150 kW", "max_discharge": "150 kW",
                             "soc_initial": 0.5, "recharge_only_below_price": "10 USD/MWh"},
        "deferrable": {"share": 0.3, "deadline": "24 h", "urgency": "30 min"}})


def test_a_notice_shorter_than_a_tick_inside_the_tick_before_the_request_gives_no_notice_tick():
    """15-min ticks, a request at 1 h with a 5-min notice: the utility announces it at 55 min, inside the tick
    45-60 min. A controller acts on a notice only at a tick that starts at or after it was announced
    (power.grid.notice_over: start - notice <= t0 < start), and the next tick to start is the request's own: no tick
    is a notice tick, the battery goes into the request as it was (charging only in cheap hours, the price above its
    limit) and deferrable work runs up to the request. What a controller on 15-min ticks can do with a 5-min notice
    (docs/grid.md). Until 2026-12-05 (one day) the tick 45-60 min was a notice tick from its start, 10 min before
    the announcement; before that the notice was read at mid-tick."""
    r = _notice_run("5 min")
    ts = r.timeseries
    assert (ts["interconnect_w"] / CONTRACT).tolist() == pytest.approx([1, 1, 1, 1, .5, .5, .5, .5, 1, 1])
    assert ts["curtailment"].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0, 0]
    assert ts["curtailment_notice"].tolist() == [0] * 10
    assert np.all(ts["battery_w"][:4] == 0.0)  # nothing charged before the request
    assert np.all(ts["deferred_served_tok_s"][:4] > 0)  # deferrable work ran up to the request
    # the controller log keeps the notice at its real time
    assert [e["t_s"] for e in r.controller_log if e["action"] == "curtailment notice"] == [3300.0]


def test_a_notice_spanning_a_tick_start_holds_from_that_tick_on():
    """The same request with a 20-min notice, announced at 40 min, inside the tick 30-45 min: that tick started
    before the announcement and runs as before; the tick 45-60 min starts after it and is the notice tick (the battery
    charges at once, the price notwithstanding; deferrable work is held). Until 2026-12-05 (one day) the tick
    30-45 min, overlapping the notice window, was a notice tick too, 10 min before the utility announced anything."""
    r = _notice_run("20 min")
    ts = r.timeseries
    assert ts["curtailment"].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0, 0]
    assert ts["curtailment_notice"].tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert np.all(ts["battery_w"][:3] == 0.0) and ts["battery_w"][3] < -1e3
    assert np.all(ts["deferred_served_tok_s"][:3] > 0) and ts["deferred_served_tok_s"][3] == 0.0
    assert [e["t_s"] for e in r.controller_log if e["action"] == "curtailment notice"] == [2400.0]


def test_a_request_capping_above_the_contract_inside_a_notice_is_a_notice_tick_in_the_engine():
    """One rule for a request's tick, a cap below the contract (power.grid.below_contract), read by the engine's
    Exogenous.request and by notice_over. A 1-MW contract, a request capping the meter at 2 MW at 15-30 min (it
    lowers nothing) inside the notice window of a 50 % request at 45-60 min (announced at 0): the ticks 0-45 min are
    notice ticks and the battery pre-charges on each. For part of session 52 notice_over dropped every tick
    overlapping a request while the engine counted none there: [1, 0, 1, 0], the tick 15-30 min neither notice nor
    request, the battery idle on it (0 W)."""
    r = dcsim.run(str(REF), overrides={
        "controller.tick": "15 min", "duration": "1 h", "economics.price": "60 USD/MWh", "facility.interconnect": "1 MW",
        "grid": {"curtailment": {"kind": "schedule", "events": [
            {"start": "15 min", "duration": "15 min", "cap": "2 MW", "notice": "0 s"},
            {"start": "45 min", "duration": "15 min", "depth": "50%", "notice": "45 min"}]}},
        "facility.storage": {"energy": "200 kWh", "max_charge": "150 kW", "max_discharge": "150 kW",
                             "soc_initial": 0.5, "recharge_only_below_price": "10 USD/MWh"}})
    ts = r.timeseries
    assert (ts["interconnect_w"] / 1e6).tolist() == pytest.approx([1, 1, 1, 0.5])
    assert ts["curtailment"].tolist() == [0, 0, 0, 1]
    assert ts["curtailment_notice"].tolist() == [1, 1, 1, 0]
    assert np.all(ts["battery_w"][:3] < -1e3)  # charging on every notice tick, the price above its limit


def test_notice_over_is_the_announcement_alone_and_overlaps_refuses_an_empty_window():
    from dcsim.power.grid import notice_over
    ev = [CurtailmentEvent(3600.0, 7200.0, 0.5, None, 1200.0)]
    t0 = np.arange(0.0, 9000.0, 900.0)
    # ticks starting in [40 min, 60 min): the one at 45 min
    assert notice_over(ev, t0, 900.0, 1.0).tolist() == [False, False, False, True] + [False] * 6
    # a request whose notice window reaches back over an earlier request: the earlier request's ticks are its own,
    # not notice ticks (the function once left them for its caller to drop): 0-15 min notice, 15-30 min capped
    two = [CurtailmentEvent(900.0, 1800.0, 0.5, None, 0.0), CurtailmentEvent(2700.0, 3600.0, 0.5, None, 2700.0)]
    assert notice_over(two, t0, 900.0, 1.0).tolist() == [True, False, True] + [False] * 7
    # the same, the earlier request capping at 2 W on a 1-W contract: it lowers nothing, so its tick is a notice tick
    # (below_contract, the engine's rule for a request's tick; for part of session 52 any overlap dropped it)
    above = [CurtailmentEvent(900.0, 1800.0, 0.0, 2.0, 0.0), two[1]]
    assert notice_over(above, t0, 900.0, 1.0).tolist() == [True, True, True] + [False] * 7
    assert below_contract(cap_over(above, t0, 900.0, 1.0), 1.0).tolist() == [False] * 3 + [True] + [False] * 6
    assert overlaps(t0, 900.0, 1000.0, 1000.0).tolist() == [False] * 10
    assert overlaps(np.array([0.0]), 900.0, 500.0, 100.0).tolist() == [False]  # end before start
