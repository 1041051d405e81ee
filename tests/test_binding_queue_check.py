"""The binding label never ignores the queue: an independent check (tests/binding_check.py) re-reads every tick's
label from the record alone — work held at the door or shed, the served rate against the replicas' full-load rate at
the controller's clock (node tables), the controller's mode and the ceilings — over a window of every shipped scenario
at fluid fidelity, so a physics change that labels a tick demand while work waits (or a limit where nothing was held)
fails here (DESIGN.md "binding constraint"; docs/engine.md "The binding constraint")."""

from pathlib import Path

import numpy as np
import pytest

import dcsim
from dcsim.engine.build import build_models
from dcsim.scenario import load_scenario

from binding_check import check_run, full_load_capacity, unit_flags

ROOT = Path(__file__).resolve().parents[1]

#: a window of each shipped scenario over its binding shifts (start, duration), short so the test stays fast; event
#: times are counted from a run's start, so a window moves its events with it (EVENTS)
WINDOWS = {
    "reference": ("2026-07-15T07:30", "6 h"),            # demand -> compute 07:50, power 12:08, cooling 13:52 (fluid)
    "mixed-fleet": ("2026-07-15T06:30", "3 h"),          # the pools' split at the morning rise, 07:14-07:21
    "campus-interconnect": ("2026-07-15T08:00", "3 h"),  # demand -> power at 08:45 (critical ticks at its onset)
    "chiller-trip": (None, None),                        # the whole 3 h: trip, throttle, shed, recovery
    "curtailment": ("2026-07-15T16:00", "5 h"),          # the 17:00-19:00 curtailment and the backlog it leaves
    "grid-flex": ("2026-07-15T16:00", "5 h"),            # the 17:00-19:00 demand response, the battery
    "heatwave-air": ("2026-07-15T10:00", "6 h"),         # cooling through the afternoon heat
    "heatwave-liquid": ("2026-07-15T10:00", "6 h"),
    "year-richmond": ("2025-07-15T00:00", "24 h"),       # a summer day of the year
}
#: the events a window keeps at their clock time (17:00, 1 h into a window from 16:00)
EVENTS = {"curtailment": {"faults.0.start": "1 h"}, "grid-flex": {"grid.curtailment.events.0.start": "1 h"}}


def _run(name: str):
    start, duration = WINDOWS[name]
    ov = {} if start is None else {"start": start, "duration": duration, **EVENTS.get(name, {})}
    sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml", overrides=ov)
    return dcsim.run(sc), build_models(sc)


def test_every_shipped_scenario_has_a_window():
    assert set(WINDOWS) == {p.stem for p in (ROOT / "scenarios").glob("*.yaml")}


@pytest.mark.parametrize("name", sorted(WINDOWS))
def test_the_binding_label_agrees_with_the_queue_at_fluid_fidelity(name):
    res, m = _run(name)
    ts = {k: np.asarray(v) for k, v in res.timeseries.items()}
    bad = check_run(ts, m=m)
    assert not bad, f"{name}: {len(bad)} ticks whose label the record contradicts:\n" + "\n".join(map(str, bad[:10]))


def test_the_check_catches_a_label_that_ignores_the_queue():
    """The check can fail: reference's afternoon (fluid), its labels rewritten the ways a broken rule would write
    them — demand on ticks whose work waits at the door, with the engine's ``held_tokens`` (and, a second time, its
    ``queue_tokens`` too) rewritten to nothing with them, as a bug in the engine's accounting would write them; and
    power on an uncapped tick that held nothing. The check reads the work waiting from what arrived, was served and
    was shed, so the engine's own held work cannot vouch for its label."""
    res, m = _run("reference")
    ts0 = {k: np.asarray(v).copy() for k, v in res.timeseries.items()}
    assert not check_run(ts0, m=m)
    f = unit_flags(ts0)
    held = np.flatnonzero(f["held"])
    open_idle = np.flatnonzero(~f["held"] & ~f["capped"] & (ts0["binding"] == 0))
    assert held.size >= 30 and open_idle.size >= 10  # the window holds both kinds of tick
    for cols in (("held_tokens",), ("held_tokens", "queue_tokens")):
        ts = {k: v.copy() for k, v in ts0.items()}
        ts["binding"][held[:5]] = 0  # the queue ignored
        for k in cols:
            ts[k][held[:5]] = 0.0  # and the engine's account of it with it
        ts["binding"][open_idle[:3]] = 2  # a limit named where nothing waited
        bad = check_run(ts, m=m)
        assert sorted({d.tick for d in bad}) == sorted(held[:5].tolist() + open_idle[:3].tolist())
        assert {d.label for d in bad} == {"demand", "power"}
        assert all(any(d.tick == i and "not its flows' work" in d.why for d in bad) for i in held[:5])


def test_the_check_catches_a_queue_that_loses_work():
    """The conservation leg: the engine's queue must be what arrived less what was served and shed, summed over the
    ticks (within RTOL of a tick's arrivals). reference (fluid) with 1 % of one tick's arrivals dropped from its queue
    and held work from that tick on, labels untouched: every later tick is caught, the earlier ones not."""
    res, m = _run("reference")
    ts = {k: np.asarray(v).copy() for k, v in res.timeseries.items()}
    i = int(np.flatnonzero(unit_flags(ts)["held"])[0])
    for k in ("held_tokens", "queue_tokens"):
        ts[k][i:] -= 0.01 * ts["arrived_tokens"][i]
    ticks = {d.tick for d in check_run(ts, m=m) if "not its flows' work" in d.why}
    assert min(ticks) == i and len(ticks) >= 0.9 * (ts["t_s"].size - i)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["reference", "mixed-fleet"])
def test_the_binding_label_agrees_with_the_queue_at_request_fidelity(name):
    """The same check at request fidelity over 06:00-07:20, where it also reads the growth of the work in the system
    (tests/binding_check.py ``grew``): until 2026-12-05 (later) mixed-fleet's reasoning pool read demand at 06:55,
    06:59 and 07:12 while more arrived than its replicas serve at full load (dcsim.tpf.overrun_running_tok)."""
    sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml",
                       overrides={"fidelity": "request", "start": "2026-07-15T06:00", "duration": "80 min"})
    res = dcsim.run(sc)
    ts = {k: np.asarray(v) for k, v in res.timeseries.items()}
    m = build_models(sc)
    bad = check_run(ts, request=True, m=m)
    assert not bad, f"{name}: {len(bad)} ticks whose label the record contradicts:\n" + "\n".join(map(str, bad[:10]))
    if name != "mixed-fleet":
        return
    # the check can fail here too: the reasoning pool's ticks whose work grew beyond its replicas' capacity relabelled
    # demand with held_tokens 0, as a bug in the engine's running-work count would write them; the check reads the
    # growth from the flows, so it is caught
    ran = full_load_capacity(m, ts, "mean_clock")
    grew = np.flatnonzero(unit_flags(ts, "pool1_", request=True, ran_capacity=ran["pool1_"])["grew"])
    assert grew.size >= 3
    ts = {k: v.copy() for k, v in ts.items()}
    ts["pool1_binding"][grew] = 0
    ts["pool1_held_tokens"][grew] = 0.0
    ts["binding"][grew] = np.where(ts["pool0_binding"][grew] == 0, 0, ts["binding"][grew])
    bad = check_run(ts, request=True, m=m)
    assert {d.tick for d in bad if d.who == "pool1"} == set(grew.tolist())


def test_a_pool_filling_from_empty_holds_nothing_back_at_request_fidelity():
    """mixed-fleet at request fidelity from a cold 06:53 (12 min): the reasoning pool's replicas take ~15 min and
    ~16 M tokens to fill, its arrivals near its full-load rate. The growth of its work in the system is their batches
    filling, not work held back: every tick reads demand (dcsim.engine.requests, the lane's ``_filled`` latch). Until
    2026-12-05 (later) only the first tick was skipped, and from 06:56 its ticks read compute with 0.86-2.06 M tokens
    counted held (9 of 12), where the warm run from 06:00 reads demand."""
    sc = load_scenario(ROOT / "scenarios" / "mixed-fleet.yaml",
                       overrides={"fidelity": "request", "start": "2026-07-15T06:53", "duration": "12 min"})
    res = dcsim.run(sc)
    ts = {k: np.asarray(v) for k, v in res.timeseries.items()}
    assert ts["pool1_binding"].size == 12
    assert np.all(ts["pool1_binding"] == 0), ts["pool1_binding"]
    assert np.all(ts["pool1_held_tokens"] <= 1e-9 * ts["pool1_arrived_tokens"])
    # the pool was filling: the work in its system grew on most of the window's ticks
    grow = ts["pool1_arrived_tokens"] - ts["pool1_achieved_tok_s"] * 60.0 - ts["pool1_shed_tokens"]
    assert np.sum(grow > 0.02 * ts["pool1_arrived_tokens"]) >= 6
    m = build_models(sc)
    assert not check_run(ts, request=True, m=m)


def test_the_check_catches_a_held_count_above_the_work_in_the_system_at_request_fidelity():
    """The conservation leg at request fidelity bounds the engine's held count by the flows' work (arrived - served -
    shed, summed): held work is a part of the work in the system. mixed-fleet from 06:00 (10 min): the chat pool's
    ticks 3 and 5 read compute with 0.09 M and 0.03 M tokens held. Their held count set 1 % above the flows' work (as a
    running-work count that drains slower than the work would write it), labels untouched: the label still agrees
    (compute, held), so only the bound catches those ticks and no other. The check before the bound
    (da61b18e) passed this record."""
    sc = load_scenario(ROOT / "scenarios" / "mixed-fleet.yaml",
                       overrides={"fidelity": "request", "start": "2026-07-15T06:00", "duration": "10 min"})
    res = dcsim.run(sc)
    ts = {k: np.asarray(v).copy() for k, v in res.timeseries.items()}
    m = build_models(sc)
    assert not check_run(ts, request=True, m=m)
    limited = np.flatnonzero((ts["pool0_binding"] != 0) & (ts["pool0_held_tokens"] > 0))
    assert limited.size >= 2, (ts["pool0_binding"], ts["pool0_held_tokens"])  # ticks 3 and 5 on 2026-12-05
    work = unit_flags(ts, "pool0_", request=True)["work"]
    assert np.all(work[limited] > 0)
    ts["pool0_held_tokens"][limited] = work[limited] * 1.01
    bad = check_run(ts, request=True, m=m)
    assert {(d.who, d.tick) for d in bad} == {("pool0", int(i)) for i in limited}
