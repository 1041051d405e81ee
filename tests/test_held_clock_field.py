"""report.json's ``binding.held_clock`` (session 54, slice CODE2): where power or cooling holds the clock below full
while every token asked for is served, a structured entry per kind with each held pool's clock and ticks, which the
run's "holds the clock" note is rendered from. Until then the finding was the note's prose only (a planner or a
script had to parse "pool 'b200-reasoning' 0.77 (0.77-0.78)" out of it)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

import dcsim
from dcsim.engine.build import build_models
from dcsim.engine.held import held_clock_notes
from dcsim.tpf import capped_ticks

SC = Path(__file__).resolve().parents[1] / "scenarios"


def _held_ticks(ts) -> np.ndarray:
    return capped_ticks(ts["mode"], ts) & (np.asarray(ts["binding"]) == 0)  # capped while demand binds


def test_the_5_mw_reference_records_its_cooling_held_clock_and_the_note_reads_it():
    """Reference's hall under a 5 MW contract at night: the plant holds the clock near 0.55 on every tick while every
    token asked for is served (tests/test_notes.py has the physics); the field says so per pool, and the note is
    the field rendered: change the field and the note follows."""
    res = dcsim.run(SC / "reference.yaml", overrides={"facility.interconnect": "5 MW", "duration": "10 min",
                                                      "expect": {}})
    rep, ts = res.report, res.timeseries
    (h,) = rep["binding"]["held_clock"]
    sel = _held_ticks(ts)
    clock = np.asarray(ts["controller_clock"], float)
    assert h["kind"] == "cooling" and h["ticks"] == int(sel.sum()) == ts["t_s"].size and h["share"] == 1.0
    assert h["clock_mean"] == pytest.approx(float(clock[sel].mean()), rel=1e-12) and h["clock_mean"] < 0.6
    assert h["it_max_w"] == pytest.approx(float(np.mean(ts["it_max_cooling_w"])), rel=1e-12)
    assert h["ups_no_load_w"] == pytest.approx(0.0376 * 5e6) and h["heat_capacity_w"] == pytest.approx(395e3)
    m = build_models(res.scenario)
    (p,) = h["pools"]
    assert p["pool"] == m.pools[0].name
    assert p["ticks"] == h["ticks"] and p["clock_min"] <= p["clock_mean"] <= p["clock_max"] < 1.0
    (note,) = [n for n in rep["notes"] if "holds the clock" in n]
    assert held_clock_notes(m, rep["binding"]["held_clock"]) == [note]
    moved = copy.deepcopy(rep["binding"]["held_clock"])
    moved[0]["clock_mean"] = 0.42
    (again,) = held_clock_notes(m, moved)
    assert "a mean clock of 0.42" in again and "a mean clock of 0.42" not in note


def test_a_run_with_its_clock_free_records_no_held_clock():
    res = dcsim.run(SC / "reference.yaml", overrides={"facility.interconnect": "5 MW", "duration": "10 min",
                                                      "expect": {}, "facility.power_chain.ups_rating": "495 kW",
                                                      "facility.power_chain.transformer_rating": "495 kW"})
    assert res.report["binding"]["held_clock"] == []
    assert not [n for n in res.report["notes"] if "holds the clock" in n]


def test_mixed_fleet_records_the_held_pool_and_its_ticks():
    """mixed-fleet 07:00-07:30: power holds the reasoning pool at 0.77 on 13 of the 30 ticks while demand is met, the
    chat pool at full clock (so it has no entry); the field carries that pool's own clock and ticks, and the note's
    pool clause is read from it (`dcsim run scenarios/mixed-fleet.yaml --set start=2026-07-15T07:00 --set
    duration=30min`)."""
    res = dcsim.run(SC / "mixed-fleet.yaml", overrides={"start": "2026-07-15T07:00", "duration": "30 min",
                                                        "expect": {}})
    rep, ts = res.report, res.timeseries
    (h,) = rep["binding"]["held_clock"]
    sel = _held_ticks(ts) & (np.asarray(ts["it_max_power_w"]) < np.asarray(ts["it_max_cooling_w"]))
    assert h["kind"] == "power" and h["ticks"] == int(sel.sum()) > 0
    names = [p.name for p in build_models(res.scenario).pools]
    held = {p["pool"]: p for p in h["pools"]}
    for i, name in enumerate(names):
        c = np.asarray(ts[f"pool{i}_controller_clock"], float)[sel]
        if c.min() < 1 - 1e-9:
            cb = c[c < 1 - 1e-9]  # the pool's clock over the ticks it ran below full clock, which `ticks` counts
            assert held[name]["ticks"] == cb.size
            assert (held[name]["clock_mean"], held[name]["clock_min"]) == pytest.approx((cb.mean(), cb.min()), rel=1e-12)
        else:
            assert name not in held
    assert list(held) == ["b200-reasoning"] and held["b200-reasoning"]["clock_max"] < 0.8
    (note,) = [n for n in rep["notes"] if "holds the clock" in n]
    p = held["b200-reasoning"]
    assert f"pool 'b200-reasoning' {p['clock_mean']:.2f} ({p['clock_min']:.2f}-{p['clock_max']:.2f})" in note


def test_a_pools_clock_is_read_over_the_ticks_it_ran_below_full_clock():
    """A pool's ``clock_mean`` / ``clock_min`` / ``clock_max`` are over the ticks its ``ticks`` counts, those it ran
    below full clock; a held tick on which it ran at full clock is in neither (until session 54 the clock's figures
    averaged over every held tick: 1.0, 0.8, 0.9 gave ticks 2 and a mean 0.90, not 0.85)."""
    from types import SimpleNamespace

    from dcsim.engine.held import _held_pools

    m = SimpleNamespace(multi_pool=False, pools=[SimpleNamespace(name="hall")])
    clock = np.array([1.0, 0.8, 0.9, 0.5])
    sel = np.array([True, True, True, False])  # the last tick is not held: not read
    (p,) = _held_pools(m, {}, sel, clock)
    assert p["ticks"] == 2 and (p["clock_mean"], p["clock_min"], p["clock_max"]) == pytest.approx((0.85, 0.8, 0.9))


def test_the_room_throttle_through_a_chiller_trip_is_not_a_held_clock():
    """chiller-trip's first 40 minutes (the plant trips at 11:10): from 11:33:30 to 11:36:20 the GPUs are at their
    temperature limit (``thermal_throttled`` 1, the engaged throttle) while every token asked for is served, IT
    drawing 310-324 kW with the plant tripped (its ceiling 0 W: the room's thermal mass carries the heat). The clock
    there is the temperature's, not a steady ceiling's, so it is no held clock (the throttle has its own report:
    ``thermal.throttled_s``, ``faults[].time_to_first_throttle_s``); until session 54 these 18 ticks were recorded
    as ``cooling``, clock 0.94, "IT at most 0 kW there", with a fix (UPS rating, more cooling) that does not apply."""
    res = dcsim.run(SC / "chiller-trip.yaml", overrides={"duration": "40 min", "expect": {}})
    rep, ts = res.report, res.timeseries
    sel = _held_ticks(ts)
    throttled = np.asarray(ts["thermal_throttled"])[sel]
    assert sel.sum() >= 10 and np.all(throttled == 1)  # the case is exercised: demand met under the engaged throttle
    assert np.all(np.asarray(ts["it_max_cooling_w"], float)[sel] == 0.0)  # the plant tripped
    assert np.all(np.asarray(ts["it_power_w"], float)[sel] > 300e3)  # IT drawn all the same, from the room's mass
    assert np.all(np.asarray(ts["controller_clock"], float)[sel] < 1.0)
    assert rep["binding"]["held_clock"] == []
    assert not [n for n in rep["notes"] if "holds the clock" in n]
