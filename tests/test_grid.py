"""Grid events (schedule and seeded process, notice, budget), hourly price/carbon series and
deferrable work (nothing lost, lateness counted, cheap/clean hours used)."""

from datetime import datetime

import numpy as np
import pytest
from pydantic import ValidationError

from dcsim.power.grid import (
    CurtailmentEvent, below_contract, cap_over, curtailment_events, curtailment_summary, local_hour_and_month,
    notice_over, series_at,
)
from dcsim.scenario.grid import (
    CarbonSeriesSpec, CurtailmentProcessSpec, CurtailmentScheduleSpec, DeferrableWorkSpec, GridSpec, PriceSeriesSpec,
)
from dcsim.workload.deferrable import DeferrableQueue, schedule_deferrable

YEAR = 8760 * 3600.0
START = datetime(2025, 1, 1)


def test_schedule_caps_and_notice():
    sp = CurtailmentScheduleSpec(events=[{"start": "10 h", "duration": "2 h", "depth": "40%", "notice": "30 min"},
                                         {"start": "20 h", "duration": "1 h", "cap": "50 MW"}])
    ev = curtailment_events(sp, 86400.0)
    t = np.arange(0, 86400.0, 600.0)
    cap = cap_over(ev, t, 600.0, 100e6)  # the 10-min intervals from t: the events start and end on their bounds
    assert np.all(cap[(t >= 36000) & (t < 43200)] == pytest.approx(60e6))
    assert np.all(cap[(t >= 72000) & (t < 75600)] == 50e6)
    assert np.all(cap[(t < 36000) | ((t >= 43200) & (t < 72000)) | (t >= 75600)] == 100e6)
    n = notice_over(ev, t, 600.0, 100e6)
    assert n[(t >= 34200) & (t < 36000)].all() and not n[t == 36000].any()
    assert n[(t >= 68400) & (t < 72000)].all()  # default notice 1 h
    with pytest.raises(ValidationError):
        CurtailmentScheduleSpec(events=[{"start": "1 h", "duration": "2 h"}, {"start": "2 h", "duration": "1 h"}])


def test_the_notice_marks_the_ticks_starting_after_the_announcement():
    """A controller acts on a notice only at a tick that starts at or after the utility announced it: notice_over is
    start - notice <= t0 < start, less the ticks a request caps (they are the request's). A notice
    shorter than a tick announced inside the tick before the request gives no notice tick, what a controller on that
    tick length can do (docs/grid.md). Until 2026-12-05 the notice was read at mid-tick, then for part of that day
    over any overlap of the tick with the notice window (a tick marked from its start, before the announcement)."""
    t0 = np.arange(10) * 900.0
    # 15-min ticks, a request at 1 h for 1 h at 50 %, announced 5 min before (at 55 min, inside the tick 45-60 min)
    ev = [CurtailmentEvent(3600.0, 7200.0, 0.5, None, 300.0)]
    assert (cap_over(ev, t0, 900.0, 1.0) == [1, 1, 1, 1, .5, .5, .5, .5, 1, 1]).all()
    assert notice_over(ev, t0, 900.0, 1.0).astype(int).tolist() == [0] * 10
    # announced 20 min before (at 40 min): the tick 45-60 min starts after it, the tick 30-45 min does not
    ev = [CurtailmentEvent(3600.0, 7200.0, 0.5, None, 1200.0)]
    assert notice_over(ev, t0, 900.0, 1.0).astype(int).tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    # announced on a tick's start (45 min): that tick is the notice's
    ev = [CurtailmentEvent(3600.0, 7200.0, 0.5, None, 900.0)]
    assert notice_over(ev, t0, 900.0, 1.0).astype(int).tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    # a notice inside a request's first tick: no tick starts in it
    ev = [CurtailmentEvent(3700.0, 7200.0, 0.5, None, 60.0)]
    assert notice_over(ev, t0, 900.0, 1.0).astype(int).tolist() == [0] * 10
    # a tick capped by one request (the first ends at 0:50) inside another's notice (announced at 0:45): the
    # request's tick, not a notice tick (notice_over leaves it out itself; until session 52 its caller dropped it)
    ev = [CurtailmentEvent(1800.0, 3000.0, 0.5, None, 0.0), CurtailmentEvent(4500.0, 5400.0, 0.5, None, 1800.0)]
    request = below_contract(cap_over(ev, t0, 900.0, 1.0), 1.0)
    assert request.astype(int).tolist() == [0, 0, 1, 1, 0, 1, 0, 0, 0, 0]
    assert notice_over(ev, t0, 900.0, 1.0).astype(int).tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    # a notice of zero length marks no tick
    assert not notice_over([CurtailmentEvent(3600.0, 7200.0, 0.5, None, 0.0)], t0, 900.0, 1.0).any()


def test_process_meets_its_budget_in_its_windows_and_is_seeded():
    sp = CurtailmentProcessSpec(budget="0.5%", mean_duration="2 h", max_duration="4 h")
    ev = curtailment_events(sp, YEAR, START, np.random.SeedSequence(42))
    s = curtailment_summary(ev, YEAR)
    assert s["share_of_hours"] == pytest.approx(0.005, rel=1e-9)  # 43.8 h
    assert s["longest_h"] <= 4.0 + 1e-9 and s["events"] >= 11
    hr, mo = local_hour_and_month(np.array([e.start_s for e in ev]), START)
    assert set(hr) <= set(sp.hours) and set(mo) <= set(sp.months)
    starts = sorted((e.start_s, e.end_s) for e in ev)
    assert all(b[0] >= a[1] for a, b in zip(starts, starts[1:]))  # no overlap
    again = curtailment_events(sp, YEAR, START, np.random.SeedSequence(42))
    assert [(e.start_s, e.end_s) for e in again] == [(e.start_s, e.end_s) for e in ev]
    other = curtailment_events(sp, YEAR, START, np.random.SeedSequence(43))
    assert [(e.start_s, e.end_s) for e in other] != [(e.start_s, e.end_s) for e in ev]


def test_calendar_of_the_run_start():
    hr, mo = local_hour_and_month(np.array([0.0, 3600.0 * 25, 31 * 86400.0]), datetime(2025, 1, 1, 6))
    assert list(hr) == [6, 7, 6] and list(mo) == [1, 1, 2]
    hr, mo = local_hour_and_month(np.array([0.0]), datetime(2025, 12, 31, 23))
    assert hr[0] == 23 and mo[0] == 12


def test_price_and_carbon_series(tmp_path):
    prof = [0.5] * 6 + [1.0] * 12 + [2.0] * 6
    p = PriceSeriesSpec(kind="daily_profile", value="60 USD/MWh", profile=prof)
    t = np.arange(0, 86400.0, 3600.0)
    np.testing.assert_allclose(series_at(p, t, START) * 3.6e9, 60 * np.array(prof))
    c = CarbonSeriesSpec(value="350 g/kWh")
    assert series_at(c, t, START)[0] == pytest.approx(350 / 3.6e6)
    f = tmp_path / "price.csv"
    f.write_text("value\n" + "\n".join(str(10 + (h % 24)) for h in range(48)) + "\n")
    pc = PriceSeriesSpec(kind="csv", path=str(f))
    v = series_at(pc, np.array([0.0, 3600.0 * 5, 3600.0 * 50]), datetime(2025, 1, 1), unit=1 / 3.6e9)
    np.testing.assert_allclose(v * 3.6e9, [10, 15, 12])  # 48 rows repeat
    with pytest.raises(ValidationError):
        PriceSeriesSpec(kind="daily_profile", value=1.0)
    with pytest.raises(ValidationError):
        PriceSeriesSpec(kind="daily_profile", value=1.0, profile=[1.0] * 23)
    assert GridSpec(curtailment={"kind": "process"}).curtailment.budget == 0.005


def test_deferrable_nothing_lost_and_late_counted():
    rng = np.random.default_rng(5)
    n, dt = 3 * 1440, 60.0
    arr = rng.uniform(0, 2e5, n)
    cap = np.where((np.arange(n) // 60) % 24 < 8, 4e5, 2e4)  # spare capacity only 8 h a day
    r = schedule_deferrable(arr, cap, dt, 86400.0)
    assert r["arrived"] == pytest.approx(arr.sum())
    np.testing.assert_allclose(np.cumsum(arr) - np.cumsum(r["served"]), r["backlog"], rtol=1e-9, atol=1e-3)
    assert np.all(r["served"] <= cap + 1e-9)
    assert r["served_late"] == 0.0 and r["overdue_end"] == 0.0
    # too little capacity: work is late but never dropped
    r2 = schedule_deferrable(arr, 5e4, dt, 6 * 3600.0)
    assert r2["served_total"] + r2["backlog_end"] == pytest.approx(arr.sum())
    assert r2["served_late"] > 0 and r2["overdue_end"] > 0
    assert r2["mean_delay_s"] > r["mean_delay_s"]


def test_deferrable_cheap_hours_shift_work_and_urgency_keeps_deadlines():
    n, dt = 2 * 1440, 60.0
    hour = (np.arange(n) * dt / 3600.0) % 24
    price = np.where((hour >= 1) & (hour < 6), 20.0, 80.0)
    arr = np.full(n, 1e4)
    cap = 1e6
    head = schedule_deferrable(arr, cap, dt, 86400.0)
    cheap = schedule_deferrable(arr, cap, dt, 86400.0, policy="cheap", signal=price, quantile=0.2,
                                 urgency_s=4 * 3600.0)  # 20 % quantile = the 20 USD hours (5 of 24)
    mean_price = lambda r: np.sum(r["served"] * price) / np.sum(r["served"])
    assert mean_price(cheap) < mean_price(head)
    assert cheap["served_late"] == 0.0  # urgency serves work before its deadline
    assert cheap["mean_delay_s"] > head["mean_delay_s"]
    with pytest.raises(ValueError):
        schedule_deferrable(arr, cap, dt, 86400.0, policy="clean")


def test_queue_due_within_matches_a_scan():
    q = DeferrableQueue(deadline_s=100.0, urgency_s=50.0)
    rng = np.random.default_rng(2)
    for i in range(200):
        q.step(i * 10.0, 10.0, float(rng.uniform(0, 10)), float(rng.uniform(0, 12)), bool(rng.random() < 0.5))
        t = i * 10.0 + 10.0
        scan = sum(q.left[k] for k in range(q.head, len(q.left)) if q.arrival_t[k] + 100.0 <= t + 50.0)
        assert q._due_within(t, 50.0) == pytest.approx(scan, abs=1e-9)


def test_deferrable_spec():
    d = DeferrableWorkSpec()
    assert d.deadline == 86400.0 and d.policy == "headroom"
    with pytest.raises(ValidationError):
        DeferrableWorkSpec(deadline="1 h", urgency="2 h")


def test_curtailment_enabled_scale_matches_the_closed_form_for_a_sine():
    from dcsim.power.grid import curtailment_enabled_scale, exceedance_events
    from dcsim.power.storage import battery_params
    from dcsim.scenario.facility import BatteryStorageSpec

    n, dt = 60 * 288, 300.0  # whole days: the closed form holds for any number of them
    t = np.arange(n) * dt
    a, amp, cap = 100e6, 0.3, 120e6
    load = a * (1 + amp * np.sin(2 * np.pi * t / 86400.0))
    scales = []
    for f in (0.0, 0.0025, 0.005, 0.01, 0.05):
        r = curtailment_enabled_scale(load, cap, dt, f)
        # s·A·(1 + a·sin θ) > C on a share f of the time  ⇔  s = C / (A·(1 + a·cos(π f)))
        assert r["scale"] == pytest.approx(cap / (a * (1 + amp * np.cos(np.pi * f))), rel=2e-3)
        assert r["hours_curtailed"] <= f * n * dt / 3600.0 + 1e-9
        scales.append(r["scale"])
    assert scales == sorted(scales)
    # one event a day, each shorter than a limit of 1 h binds before the budget does
    r1 = curtailment_enabled_scale(load, cap, dt, 0.05, max_event_s=3600.0)
    assert r1["longest_h"] <= 1.0 and r1["scale"] < scales[-1]
    # a battery covering part of each peak lets more connect at the same budget
    b = battery_params(BatteryStorageSpec(energy="20 MWh", max_charge="10 MW", max_discharge="10 MW"))
    rb = curtailment_enabled_scale(load, cap, dt, 0.005, battery=b, iterations=25)
    assert rb["scale"] > scales[2]
    assert exceedance_events([False, True, True, False, True], 60.0) == [(60.0, 180.0), (240.0, 300.0)]
