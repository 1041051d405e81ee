"""Issue 18 wired into the engine: curtailment requests, storage, thermal dynamics, deferrable
work and the annual block, checked on engine runs (conservation, energy balance, no work lost,
behaviour against a run without the response)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import dcsim
from dcsim.engine.build import build_models
from dcsim.engine.flex import build_flex
from dcsim.scenario import ScenarioError, load_scenario
from dcsim.tpf import MODE_SHED

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "scenarios" / "reference.yaml"
TRIP = ROOT / "scenarios" / "chiller-trip.yaml"

BATTERY = {"energy": "200 kWh", "max_charge": "150 kW", "max_discharge": "150 kW"}
REQUEST = {"curtailment": {"kind": "schedule",
                           "events": [{"start": "17 h", "duration": "2 h", "depth": "40%", "notice": "1 h"}]}}


def _run(path=REF, **ov):
    return dcsim.run(str(path), overrides=ov)


@pytest.fixture(scope="module")
def request_runs():
    """The reference day with a 2-h request at 60 % of the contract, without and with a battery."""
    plain = _run(grid=REQUEST)
    batt = _run(grid=REQUEST, **{"facility.storage": BATTERY})
    return plain, batt


def test_curtailment_request_caps_the_meter_and_is_logged(request_runs):
    plain, _ = request_runs
    ts = plain.timeseries
    sel = ts["curtailment"].astype(bool)
    assert sel.sum() == 120  # 2 h at a 1-min tick
    assert np.all(ts["interconnect_w"][sel] == pytest.approx(0.6 * 495e3))
    assert np.all(ts["facility_power_w"][sel] <= 0.6 * 495e3 * (1 + 1e-9))
    assert np.count_nonzero(ts["curtailment_notice"]) == 60
    kinds = [e["event"] for e in plain.events]
    assert kinds == ["curtailment notice", "curtailment start", "curtailment end"]
    assert any(a["action"] == "curtailment notice" for a in plain.controller_log)
    assert plain.report["grid"]["curtailment"]["events"] == 1
    assert plain.report["interconnect_exceeded_s"] == 0.0


def test_battery_charge_is_conserved_in_an_engine_run(request_runs):
    _, r = request_runs
    ts, st = r.timeseries, r.report["storage"]
    dt = r.report["tick_s"]
    eta = np.sqrt(0.85)
    bw = ts["battery_w"]
    charged, discharged = np.maximum(-bw, 0).sum() * dt, np.maximum(bw, 0).sum() * dt
    e0, e1 = st["energy_start_j"], st["energy_end_j"]
    assert charged * eta - discharged / eta == pytest.approx(e1 - e0, abs=1e-9 * 720e6)
    # tick by tick too: E_k − E_{k−1} = charge·η·dt − discharge·dt/η
    e = np.concatenate([[e0], ts["battery_energy_j"]])
    step = np.where(bw < 0, -bw * eta * dt, -bw * dt / eta)
    assert np.allclose(np.diff(e), step, rtol=0, atol=1e-6)
    # SoC and power limits
    assert ts["battery_energy_j"].min() >= 0.1 * 720e6 - 1e-6
    assert ts["battery_energy_j"].max() <= 0.9 * 720e6 + 1e-6
    assert bw.max() <= 150e3 + 1e-9 and bw.min() >= -150e3 - 1e-9
    # the meter sees facility − battery and never exceeds the cap in force
    assert np.allclose(ts["meter_power_w"], ts["facility_power_w"] - bw)
    assert np.all(ts["meter_power_w"] <= ts["interconnect_w"] * (1 + 1e-9) + 1e-6)
    assert st["unmet_energy_j"] < 1.0
    # it never charges during the request
    assert np.all(bw[ts["curtailment"].astype(bool)] >= 0)


def test_equivalent_full_cycles_is_the_energy_taken_from_the_cell(request_runs):
    """The report's storage.equivalent_full_cycles against the cell's own bookkeeping, not the helper's arithmetic:
    the energy taken from the cell is what it lost plus what charging put into it, energy_start - energy_end +
    charged x eta_c, over its usable range (SoC 10-90 % of 200 kWh). Until 2026-12-05 the report counted the terminal
    energy, eta_d (0.922) short of this; the test of 2026-12-05 re-did the helper's arithmetic and never read the
    report (review of 2026-12-05)."""
    _, r = request_runs
    st = r.report["storage"]
    eta_c = np.sqrt(0.85)  # the default round trip 0.85, split evenly (as the conservation test above)
    taken = st["energy_start_j"] - st["energy_end_j"] + st["charged_j"] * eta_c
    assert st["discharged_j"] > 0.1 * 720e6  # the battery worked through the request
    assert st["equivalent_full_cycles"] == pytest.approx(taken / (0.8 * 720e6), rel=1e-6)
    assert st["equivalent_full_cycles"] > st["discharged_j"] / (0.8 * 720e6) * 1.05  # not the terminal energy


def test_battery_serves_more_during_the_request(request_runs):
    plain, batt = request_runs
    sel = plain.timeseries["curtailment"].astype(bool)
    dt = plain.report["tick_s"]
    tok_plain = plain.timeseries["achieved_tok_s"][sel].sum() * dt
    tok_batt = batt.timeseries["achieved_tok_s"][sel].sum() * dt
    assert tok_batt > tok_plain * 1.2  # measured +28.3 % (150 kW for 1 h on a 306 kW meter), bar 20 %
    # the battery's energy went into the request (it was full at its start: pre-charged)
    st = batt.report["storage"]
    assert st["discharged_j"] == pytest.approx(0.8 * 720e6 * np.sqrt(0.85), rel=0.02)
    assert any(a["action"] == "battery discharge" for a in batt.controller_log)
    # the flexibility block compares with the same run without the battery
    fl = batt.report["flexibility"]
    assert fl["responses"] == ["storage"]
    assert fl["without"]["tokens_output"] == pytest.approx(plain.report["tokens"]["output"], rel=1e-12)
    assert fl["change"]["tokens_output"] > 0
    # all of the gain falls in the request: recharging after it uses headroom only and costs no token
    # (measured: window gain 2.8122245347e8 = the run's change, to 1e-15)
    assert fl["change"]["tokens_output"] == pytest.approx(tok_batt - tok_plain, rel=1e-6)
    # the stored energy spent is charged back: the meter energy with the battery restored to its starting charge
    w = fl["with"]
    down = st["energy_start_j"] - st["energy_end_j"]
    assert w["storage_drawdown_j"] == pytest.approx(down, rel=1e-12)
    eta = np.sqrt(st["round_trip_efficiency"])
    assert w["energy_meter_restored_j"] == pytest.approx(w["energy_meter_j"] + (down / eta if down > 0 else down * eta))
    assert fl["without"]["energy_meter_restored_j"] == fl["without"]["energy_meter_j"]
    # shed + served + waiting account for every arrival in both runs: the change in shed is the change in served
    # and in what still waits
    ch = fl["change"]
    assert -ch["tokens_shed"] == pytest.approx(ch["tokens_output"] + ch["tokens_waiting_end"], rel=1e-6)


def test_peak_shaving_holds_the_meter_where_it_can():
    spec = dict(BATTERY, dispatch="peak_shave", shave_to="480 kW", soc_initial=0.9)
    r = _run(duration="24 h", **{"facility.storage": spec})
    ts = r.timeseries
    bw = ts["battery_w"]
    over = ts["facility_power_w"] > 480e3 + 1.0
    assert over.any() and np.any(bw[over] > 0)
    # where the battery still had charge and power to spare, the meter sits at the target
    full = over & (bw < 150e3 - 1e-6) & (ts["battery_energy_j"] > 0.1 * 720e6 + 1.0)
    assert full.sum() > 100  # measured 333 ticks (an empty mask made the next line vacuous)
    assert np.allclose(ts["meter_power_w"][full], 480e3, rtol=1e-9)
    # it never discharges below the target: where it discharges the meter is at or above 480 kW
    assert np.all(ts["meter_power_w"][bw > 0] >= 480e3 * (1 - 1e-9))


@pytest.fixture(scope="module")
def late_deferred():
    """A short deadline on a hall that is compute- and power-bound much of the day: some work runs late."""
    return _run(deferrable={"share": 0.3, "deadline": "1 h", "urgency": "30 min"})


def test_deferrable_work_is_never_lost_and_lateness_is_counted(late_deferred):
    r = late_deferred
    d, acc = r.report["deferrable"], r.report["tokens_accounting"]
    assert d["arrived_tokens"] == pytest.approx(d["served_tokens"] + d["backlog_end_tokens"], rel=1e-12)
    assert d["served_late_tokens"] > 0 and d["overdue_end_tokens"] > 0  # measured 2.23e9 and 2.03e9 tokens
    assert acc["arrived"] == pytest.approx(acc["served"] + acc["waiting"] + acc["shed"], rel=1e-9)
    ts = r.timeseries
    dt = r.report["tick_s"]
    assert ts["deferred_served_tok_s"].sum() * dt == pytest.approx(d["served_tokens"], rel=1e-9)
    assert np.all(ts["deferred_served_tok_s"] <= ts["achieved_tok_s"] + 1e-6)
    # lateness recounted first-in-first-out from the time series: tick j serves the cumulative deferred
    # tokens (S_j-1, S_j]; those that arrived (at the start of their tick: buckets of 1 h/288 < the
    # 1-min tick) before t_end - deadline are late; overdue at the end = arrived by H - deadline - served
    arr = r.report["deferrable"]["share"] * np.asarray(ts["arrived_tokens"], float)
    assert arr.sum() == pytest.approx(d["arrived_tokens"], rel=1e-12)
    a_cum = np.concatenate([[0.0], np.cumsum(arr)])
    s_cum = np.concatenate([[0.0], np.cumsum(ts["deferred_served_tok_s"] * dt)])
    t, deadline = ts["t_s"], d["deadline_s"]
    due = a_cum[np.searchsorted(t, t + dt - deadline, side="left")]
    late = np.clip(due - s_cum[:-1], 0.0, np.diff(s_cum)).sum()
    assert late == pytest.approx(d["served_late_tokens"], rel=1e-9)  # measured equal to 2e-15
    overdue = a_cum[np.searchsorted(t, t.size * dt - deadline, side="right")] - s_cum[-1]
    assert overdue == pytest.approx(d["overdue_end_tokens"], rel=1e-9)
    # deferred work is never shed: only interactive work waits past the hold limit
    base = _run()
    assert acc["shed"] < base.report["tokens_accounting"]["shed"]


def test_deferred_tokens_served_late_are_not_goodput(late_deferred):
    """Goodput (SLO-meeting output) = the interactive tokens meeting their latency SLOs + the deferred
    tokens served by their deadline; deferred tokens served after it are output, not goodput."""
    rep = late_deferred.report
    d, dur = rep["deferrable"], rep["duration_s"]
    served, late = d["served_tokens"], d["served_late_tokens"]
    # the regime: a large share of the deferred work is served late, and the figures a wrong
    # subtraction would use instead differ from it (measured served 3.860e9, late 2.228e9, overdue
    # at the end 2.030e9, backlog at the end 2.159e9 tokens)
    assert late > 0.3 * served
    for other in (d["overdue_end_tokens"], d["backlog_end_tokens"]):
        assert abs(other - late) > 0.01 * late  # far above the 1e-12 tolerance below
    # the interactive part: the fluid estimate's per-class goodput, fed the interactive tokens only
    # (measured chat 73 904 tok/s = 6.385e9 tokens, under the 13.96e9 interactive tokens served)
    interactive = sum(c["goodput_tok_s"] for c in rep["serving"]["per_class"].values()) * dur
    assert 0 < interactive <= rep["tokens"]["output"] - served
    # goodput x duration = interactive + served - served_late: measured 8.0175e9 = 6.3853e9 + 3.8605e9
    # - 2.2282e9 tokens (92 796 tok/s; the deferred term agrees to 3e-16); counting the late tokens
    # would give 10.246e9, subtracting the overdue ones 8.216e9
    good_tok = rep["goodput_tok_s"] * dur
    assert good_tok == pytest.approx(interactive + served - late, rel=1e-12)
    # every figure built on goodput carries the same SLO-meeting tokens
    uao = rep["utilization_adjusted_output"]
    assert uao["slo_output_tok_s"] == pytest.approx(good_tok / dur, rel=1e-12)
    assert uao["slo_share"] == pytest.approx(good_tok / rep["tokens"]["output"], rel=1e-9)
    for k in ("gpu", "it", "facility"):
        assert rep["joules_per_slo_output_token"][k] == pytest.approx(rep["energy_j"][k] / good_tok, rel=1e-12)
    assert rep["flexibility"]["with"]["slo_meeting_tokens"] == pytest.approx(good_tok, rel=1e-12)


def test_a_fault_window_counts_deferred_goodput_as_the_run_does():
    """With deferrable work, a fault window spanning the whole run reports the run's own SLO-meeting tokens (the
    interactive work through the estimate plus the deferred tokens served by their deadline), and the windows'
    loss equals faults_total's. (Until 2026-12-04 the window passed the raw columns to the estimate: 0 against
    the run's 33.2 M on the audit's grid-flex case.)"""
    res = dcsim.run(str(ROOT / "scenarios" / "grid-flex.yaml"),
                    overrides={"duration": "6 h", "start": "2026-07-15T14:00", "expect": {},
                               "faults": [{"kind": "node_failures", "mtbf": "100 h", "repair": "3 h"}]})
    rep = res.report
    (f,) = rep["faults"]
    run_good = rep["utilization_adjusted_output"]["slo_output_tok_s"] * float(res.timeseries["t_s"].size) * rep["tick_s"]
    assert f["end_s"] - f["start_s"] == pytest.approx(6 * 3600.0)
    assert run_good > 0 and np.sum(res.timeseries["deferred_served_tok_s"]) > 0
    assert f["goodput_tokens"] == pytest.approx(run_good, rel=1e-9)
    assert f["goodput_tokens_lost"] > 0
    assert f["goodput_tokens_lost"] == pytest.approx(rep["faults_total"]["goodput_tokens_lost"], rel=1e-9)


def test_cheap_hours_lower_the_price_of_deferred_work():
    price = {"kind": "daily_profile", "value": "60 USD/MWh", "profile": [0.5] * 6 + [1.0] * 12 + [2.0] * 6}
    runs = {p: _run(duration="48 h", grid={"price": price},
                    deferrable={"share": 0.2, "policy": p, "quantile": 0.2})
            for p in ("headroom", "cheap")}
    h, c = (runs[p].report["deferrable"] for p in ("headroom", "cheap"))
    assert c["price_of_hours_served_usd_per_mwh"] < h["price_of_hours_served_usd_per_mwh"]
    assert c["mean_delay_s"] > h["mean_delay_s"]
    for d in (h, c):
        assert d["arrived_tokens"] == pytest.approx(d["served_tokens"] + d["backlog_end_tokens"], rel=1e-12)


@pytest.fixture(scope="module")
def trip(shipped_run):
    return shipped_run("chiller-trip")  # scenarios/chiller-trip.yaml as shipped, one run shared (conftest.py)


@pytest.mark.xdist_group("shipped-chiller-trip")
def test_temperature_rise_matches_the_energy_balance(trip):
    """m·c_p·dT/dt = Q_in − Q_out on every engaged tick of an engine run (two masses)."""
    ts, th = trip.timeseries, trip.report["thermal"]
    dt = trip.report["tick_s"]
    on = ts["thermal_engaged"].astype(bool)
    both = on[1:] & on[:-1]
    assert both.sum() > 100
    stored = th["c_space_j_per_k"] * np.diff(ts["t_space_c"]) + th["c_loop_j_per_k"] * np.diff(ts["t_loop_c"])
    flow = (ts["thermal_heat_w"][1:] - ts["thermal_q_out_w"][1:]) * dt
    assert np.allclose(stored[both], flow[both], rtol=1e-9, atol=1e-6 * np.abs(flow).max())
    # while the plant is off the loop warms at (Q_in)/(C_s + C_w) on average: the linear rise
    tm = ts["t_s"] + 0.5 * dt
    off = (tm > 600) & (tm < 3000) & on
    assert np.all(ts["thermal_q_out_w"][off] == 0.0)
    i = np.flatnonzero(off)
    rise = th["c_space_j_per_k"] * (ts["t_space_c"][i[-1]] - ts["t_space_c"][i[0] - 1]) + \
        th["c_loop_j_per_k"] * (ts["t_loop_c"][i[-1]] - ts["t_loop_c"][i[0] - 1])
    assert rise == pytest.approx(ts["thermal_heat_w"][i].sum() * dt, rel=1e-9)


@pytest.mark.xdist_group("shipped-chiller-trip")
def test_chiller_trip_throttles_then_sheds_then_recovers(trip):
    ts, f = trip.timeseries, trip.report["faults"][0]
    assert 0 < f["time_to_first_throttle_s"] < f["time_to_first_shed_s"]
    assert f["tokens_lost"] > 0
    # the white space rises monotonically from the trip to the first throttle
    dt = trip.report["tick_s"]
    tm = ts["t_s"] + 0.5 * dt
    pre = (tm > 600) & (tm < 600 + f["time_to_first_throttle_s"])
    assert np.all(np.diff(ts["t_space_c"][pre]) > 0)
    # throttled ticks run below full clock; shed ticks have no GPU in service and serve nothing
    thr = ts["thermal_throttled"].astype(bool)
    assert np.all(ts["mean_clock"][thr] < 1.0)
    # ... at or below the clock of the level the thermal limit holds (mean_clock < 1 on every tick
    # of this run, max 0.988, so the line above alone could not fail; measured equal to the level's clock)
    m = build_models(load_scenario(TRIP))
    top = m.clocks.size - 1
    lvl = ts["thermal_level"].astype(int)
    assert thr.sum() > 100 and np.all(lvl[thr] < top)  # measured 359 throttled ticks, levels 20-22, top 23
    assert np.all(ts["mean_clock"][thr] <= m.clocks[lvl[thr]] / m.clocks[top] + 1e-9)
    shed = ts["thermal_shed"].astype(bool)
    assert shed.any() and np.all(ts["gpus_in_service"][shed] == 0) and np.all(ts["achieved_tok_s"][shed] == 0)
    # the GPUs come back after the plant restarts (50 min)
    assert not shed[-1]
    # the die limit holds at the throttled clock: T_space + r_th·P ≤ t_limit (P the tick's GPU power per GPU in
    # service at the held level, T_space at the end of the tick before, when the level is chosen on that tick's work:
    # dcsim.engine.flex.group_gpu_w). Measured max 87.00 degC against 87 (until 2026-12-05 the level's full-batch
    # power was compared, and the die ran 2-13 K under the limit at the first throttle: tests/test_thermal_throttle_load.py)
    th = trip.report["thermal"]
    i = np.flatnonzero(thr)
    die = ts["t_space_c"][i - 1] + th["r_th_k_per_w"] * ts["gpu_power_w"][i] / ts["gpus_in_service"][i]
    assert np.all(die <= th["t_limit_c"] + 0.05)
    acts = [a["action"] for a in trip.controller_log]
    assert acts.index("thermal throttle") < acts.index("thermal shed") < acts.index("thermal restart")
    # throttle and shed are attributed to cooling
    assert trip.report["binding"]["share"]["cooling"] > 0.3


@pytest.mark.xdist_group("shipped-chiller-trip")
def test_the_plant_draws_for_the_heat_it_moves_and_keeps_the_contract(trip):
    """A tripped plant draws only its CRAH fans; a restarted one draws for the stored heat it works off (its
    cooling power follows thermal_q_plant_w, not the heat the IT made); its recovery is held to the meter's
    headroom, so the contract holds on every tick. (Before: billed at full load while off, ~11 kW while cooling
    the room down, and the restarted plant would have taken the hall over its contract.)"""
    ts = trip.timeseries
    dt = trip.report["tick_s"]
    tm = ts["t_s"] + 0.5 * dt
    m = build_models(load_scenario(TRIP))
    fac = m.facility
    off = (tm > 610) & (tm < 2990)
    assert np.all(ts["thermal_q_plant_w"][off] == 0.0)
    # chillers and pumps idle (what remains is the heat of the CRAH fans at their minimum speed, which the plant
    # model puts on its chilled water: 0.2 kW of the 78 kW the chillers drew before the trip)
    before = (tm > 300) & (tm < 590)
    for part in ("cooling_chiller_w", "cooling_pumps_w", "cooling_tower_w"):
        assert np.all(ts[part][off] < 0.01 * ts[part][before].min())
    assert np.all(ts["cooling_power_w"][off] < 0.25 * ts["cooling_power_w"][before].min())
    # after the restart, with the IT shed, the plant moves far more heat than is made, and pays for it
    rec = (tm > 3010) & ts["thermal_shed"].astype(bool)
    assert rec.sum() > 5
    assert np.all(ts["thermal_q_plant_w"][rec] > 10 * ts["thermal_heat_w"][rec])
    made = fac.breakdown(ts["it_power_w"][rec], m.liquid_fraction, ts["t_out_c"][rec], ts["t_wb_c"][rec])
    moved = fac.breakdown(ts["it_power_w"][rec], m.liquid_fraction, ts["t_out_c"][rec], ts["t_wb_c"][rec],
                          plant_heat_w=ts["thermal_q_plant_w"][rec])
    assert ts["cooling_power_w"][rec] == pytest.approx(moved["cooling"], rel=1e-9)
    assert np.all(moved["cooling"] > 3 * made["cooling"])
    assert np.all(ts["facility_power_w"] <= ts["interconnect_w"] * (1 + 1e-9))
    assert trip.report.get("interconnect_exceeded_s", 0.0) == 0.0


@pytest.mark.xdist_group("shipped-chiller-trip")
def test_a_battery_below_full_does_not_switch_the_thermal_masses_off(trip):
    """chiller-trip with a battery at 30 % charge (it recharges, so the battery is engaged on every tick): the
    masses still engage when the plant trips, the plant never moves more than its capacity, and the trip costs
    what it costs without the battery. (Until 2026-12-04 an engaged battery skipped the test that engages the
    masses while the cooling ceiling was lifted for them: the tripped plant moved 369 kW at 0 capacity, the room
    stayed at 20.6 degC and the fault cost 0 tokens; the physics audit's case.)"""
    batt = dcsim.run(str(TRIP), overrides={"facility.storage": {"energy": "200 kWh", "max_charge": "150 kW",
                                                                  "max_discharge": "150 kW", "soc_initial": 0.3}})
    ts = batt.timeseries
    assert np.all(ts["thermal_q_plant_w"] <= ts["heat_capacity_w"] * (1 + 1e-9))
    th, th0 = batt.report["thermal"], trip.report["thermal"]
    assert th["peak_space_c"] == pytest.approx(th0["peak_space_c"], abs=0.5)
    assert th["throttled_s"] == pytest.approx(th0["throttled_s"], rel=0.1)
    lost, lost0 = batt.report["faults"][0]["tokens_lost"], trip.report["faults"][0]["tokens_lost"]
    assert lost == pytest.approx(lost0, rel=0.05)


@pytest.mark.xdist_group("shipped-chiller-trip")
def test_preemptive_cap_and_a_tank_change_the_response(trip):
    pre = dcsim.run(str(TRIP), overrides={"facility.thermal.preemptive_cap": True})
    assert pre.report["thermal"]["throttled_s"] == 0.0
    assert pre.report["faults"][0]["time_to_first_throttle_s"] is None
    tank = dcsim.run(str(TRIP), overrides={"facility.thermal.tank": {"volume_m3": 6}})
    f0, f1 = trip.report["faults"][0], tank.report["faults"][0]
    assert f1["time_to_first_throttle_s"] > f0["time_to_first_throttle_s"]
    assert f1["tokens_lost"] < f0["tokens_lost"]


def test_no_thermal_no_change():
    """Without the issue-18 keys nothing changes: no flex object, no new columns or blocks."""
    sc = load_scenario(REF)
    m = build_models(sc)
    assert build_flex(m, 60.0, 1440) is None
    r = dcsim.run(str(REF), duration="2 h")
    for k in ("grid", "storage", "thermal", "deferrable", "flexibility", "annual"):
        assert k not in r.report
    assert "meter_power_w" not in r.timeseries


def test_curtailment_process_is_seeded():
    g = {"curtailment": {"kind": "process", "budget": "2%", "months": list(range(1, 13))}}
    a = _run(duration="96 h", grid=g, **{"controller.tick": "10 min"})
    b = _run(duration="96 h", grid=g, **{"controller.tick": "10 min"})
    ra, rb = a.report["grid"]["curtailment"], b.report["grid"]["curtailment"]
    assert ra["requests"] == rb["requests"] and ra["events"] >= 1
    # ... by the scenario's seed: another seed draws other requests (measured seed 43: one event at 31 h)
    c = _run(duration="96 h", grid=g, seed=43, **{"controller.tick": "10 min"})
    assert c.report["grid"]["curtailment"]["requests"] != ra["requests"]
    assert ra["share_of_hours"] == pytest.approx(0.02, rel=1e-9)
    # longer than 3 days: the annual block, consistent with the run
    an = a.report["annual"]
    assert sum(an["hours_binding"].values()) == pytest.approx(96.0)
    assert an["energy_j"]["facility"] == pytest.approx(a.report["energy_j"]["facility"], rel=1e-9)
    assert an["tokens"]["output"] == pytest.approx(a.report["tokens"]["output"], rel=1e-9)


def test_flex_inputs_are_checked_before_the_run():
    with pytest.raises(ScenarioError) as e:
        dcsim.run(str(REF), fidelity="request", duration="10 min", **{"facility.storage": BATTERY})
    assert "facility.storage" in str(e.value) and "fluid" in str(e.value)
    with pytest.raises(ScenarioError) as e:
        dcsim.run(str(REF), deferrable={"policy": "cheap"})
    assert "deferrable" in str(e.value) and "price" in str(e.value)


@pytest.mark.xdist_group("shipped-chiller-trip")
def test_flex_plots_are_written(tmp_path, trip):
    from dcsim.report.write import write_outputs

    r = _run(duration="24 h", grid=REQUEST, **{"facility.storage": BATTERY})
    files = write_outputs(r, tmp_path / "flex", formats=("json", "png"))
    assert "plots/grid_flex.png" in files
    files = write_outputs(trip, tmp_path / "trip", formats=("json", "png"))
    assert "plots/thermal.png" in files
    # thermal masses alone: no utility request, no battery, no deferral — no grid figure (it drew an empty one)
    assert "plots/grid_flex.png" not in files


def test_slo_estimate_sees_only_the_interactive_work():
    """Deferred tokens have their deadline as target: the fluid SLO estimate gets the interactive
    arrivals and departures (a door queue fed all arrivals but drained only by interactive
    departures would grow all day and put every request at the hold limit)."""
    light = {"workload.arrivals.mean_rate": "300 req/s", "duration": "24 h"}
    base = _run(**light).report
    dfr = _run(deferrable={"share": 0.3, "deadline": "24 h", "policy": "headroom"}, **light).report
    assert base["binding"]["share"]["demand"] > 0.99  # the hall has headroom all day
    assert base["slo_attainment"] > 0.9
    assert dfr["slo_attainment"] == pytest.approx(base["slo_attainment"], abs=0.02)
    ttft = dfr["serving"]["per_class"]["chat"]["latency_s"]["ttft"]["p99"]
    assert ttft < 10.0


@pytest.mark.parametrize("extra", [
    {"controller.idle_power_down": True},
    {"racks": [{"name": "a", "count": 5, "nodes_per_rack": 4, "serves": ["chat"],
                "node": {"gpu": "H100-SXM", "model": "llama-3.1-70b", "tensor_parallel": 4}},
               {"name": "b", "count": 5, "nodes_per_rack": 4, "serves": ["code"],
                "node": {"gpu": "H100-SXM", "model": "llama-3.1-8b", "tensor_parallel": 1}}],
     "workload.classes": [{"name": "chat", "preset": "chat", "share": 0.5},
                          {"name": "code", "preset": "code", "share": 0.5}]},
])
def test_flex_is_refused_where_it_is_not_modelled(extra):
    """Flexible responses act on one fleet with every replica awake: the validator says so."""
    with pytest.raises(ScenarioError) as e:
        dcsim.run(str(REF), duration="1 h", **{"facility.storage": BATTERY}, **extra)
    assert "facility.storage" in str(e.value) and "not supported" in str(e.value)


def test_a_grid_price_reaches_the_cost_block_summary_and_compare(tmp_path):
    """grid.price / grid.carbon were priced only in grid.meter: the cost and carbon blocks (summary,
    HTML, compare) said nothing. They now carry the meter's figures and say on what basis."""
    from dcsim.report import summary_table

    price = {"kind": "constant", "value": "80 USD/MWh"}
    # a request at 3 h makes the battery act, so that meter and facility energy differ (without it
    # the battery idled full and a cost priced on facility energy passed)
    req = {"kind": "schedule", "events": [{"start": "3 h", "duration": "1 h", "depth": "40%", "notice": "30 min"}]}
    r = _run(duration="6 h", grid={"price": price, "carbon": {"kind": "constant", "value": "400 g/kWh"},
                                   "curtailment": req},
             **{"facility.storage": BATTERY})
    rep = r.report
    meter = rep["grid"]["meter"]
    st = rep["storage"]
    # the meter bills facility energy plus what the battery charged less what it discharged
    # (measured +6.09e7 J, +0.69 % of the facility's 8.81e9 J)
    assert meter["energy_j"] == pytest.approx(rep["energy_j"]["facility"] + st["charged_j"] - st["discharged_j"],
                                              rel=1e-9)
    assert abs(meter["energy_j"] / rep["energy_j"]["facility"] - 1) > 1e-3
    assert rep["cost"]["usd"] == pytest.approx(meter["cost_usd"]) and rep["cost"]["basis"].startswith("meter")
    assert meter["cost_usd"] == pytest.approx(meter["energy_j"] / 3.6e9 * 80.0, rel=1e-9)
    assert rep["carbon"]["g"] == pytest.approx(meter["energy_j"] / 3.6e6 * 400.0, rel=1e-9)
    assert rep["cost"]["usd_per_mtok"] == pytest.approx(meter["cost_usd"] / rep["tokens"]["output"] * 1e6)
    assert "Cost / carbon" in summary_table(r)


@pytest.mark.xdist_group("shipped-chiller-trip")
def test_the_html_report_shows_what_the_summary_prints_of_faults_and_flexibility(trip):
    """The page carries each fault's cost (tokens lost, energy, what bound) and the grid / storage / deferral /
    flexibility rows, as the terminal summary does (they were only in report.json)."""
    from dcsim.report.html import _e, render_html
    from dcsim.report.summary import fault_lines

    page = render_html(trip, {})
    assert "<h2>Faults, grid and flexibility</h2>" in page
    (line,) = fault_lines(trip.report)
    assert _e(line) in page
    # its headline is what the trip cost the run (83.1 M; a window figure, 153.5 M, was printed before 2026-12-04)
    total = trip.report["faults_total"]["tokens_lost"]
    assert f": {total / 1e6:,.1f} M output tokens lost to the end of the run" in line
    plain = render_html(dcsim.run(str(REF), duration="1 h"), {})
    assert "Faults, grid and flexibility" not in plain


@pytest.mark.xdist_group("shipped-chiller-trip")
def test_a_trip_tick_whose_heat_the_masses_take_is_not_named_cooling_bound(trip):
    """The trip's first tick: the steady plant's ceiling is 0, but the thermal masses take the heat and the hall
    serves at full clock what is asked (demand-bound, 81 % of C); Q is the compute ceiling there (as on every later
    tick the masses carry), so the tick is not named cooling-bound with 183 k tok/s served (in the overloaded
    chiller-trip before 2026-12-04 it served 226 k tok/s, compute-bound), and Φ_sys stays ≤ 1 under the frontier
    policy."""
    from dcsim.tpf import BINDING_NAMES
    ts = trip.timeseries
    i = int(np.flatnonzero(ts["t_s"] >= 600.0)[0])
    assert ts["heat_capacity_w"][i] == 0.0 and ts["achieved_tok_s"][i] == pytest.approx(ts["demand_tok_s"][i])
    assert ts["demand_tok_s"][i] < 0.9 * ts["compute_tok_s"][i]  # the scenario's premise: near, not at, full load
    assert ts["cooling_tok_s"][i] == ts["compute_tok_s"][i]
    assert BINDING_NAMES[int(ts["binding"][i])] == "demand"
    assert trip.report["utilization_adjusted_output"]["phi_sys"] <= 1.0 + 1e-12


@pytest.mark.xdist_group("shipped-chiller-trip")
def test_shed_ticks_are_neither_capped_at_a_clock_nor_in_the_mean_clock(trip):
    """chiller-trip sheds IT for temperature on 104 of its 1,080 ticks (no GPU in service, nothing served, its
    arrivals wait and are served later at normal clocks). The engine recorded those ticks capped (uniform_cap) at
    the lowest clock level, 0.30, as a placeholder (since 2026-12-05: mode shed, the clocks still the placeholder).
    They read as "capped by power or cooling at clock 0.30 with work
    waiting at the door" (an SLO-estimate warning about replicas run at a low clock: none ran there), and in the
    controller's figures as capped ticks at clock 0.30 (capped 56.5 %, mean clock 0.917). Measured since:
    capped 46.9 % with GPUs in service, 9.5 % out of service, mean clock 0.982 over the ticks in service; since the
    thermal throttle read the power of the tick's work (2026-12-05) 104 shed ticks, 45.6 %, 9.6 %, 0.984."""
    ts, rep = trip.timeseries, trip.report
    on = ts["gpus_in_service"] > 0
    n = on.size
    assert (~on).sum() == ts["thermal_shed"].sum() == 104
    # the engine records them shed (their own mode code), not capped at the lowest clock level (until 2026-12-05:
    # uniform_cap at 0.30, which the readers had to filter by the GPUs in service)
    assert np.array_equal(ts["mode"] == MODE_SHED, ts["thermal_shed"].astype(bool))
    assert np.all(ts["controller_clock"][~on] < 0.4)  # the clock columns keep the lowest level: a placeholder
    assert not any("capped by power or cooling at clock" in w for w in rep["warnings"])
    ctl = rep["controller"]
    assert 0.45 < ctl["capped_share"] < 0.49  # measured 0.456 (0.469 before 2026-12-05's throttle fix); 0.565 with the shed ticks counted capped
    assert ctl["capped_share"] == pytest.approx(np.mean(np.isin(ts["mode"], (1, 2))), abs=1e-12)
    assert ctl["out_of_service_share"] == pytest.approx(104 / n, abs=1e-12)
    assert ctl["capped_share"] + ctl["out_of_service_share"] == pytest.approx(np.mean(ts["mode"] != 0), abs=1e-12)
    # the controller log holds no cap at the shed (the thermal model logs "thermal shed"), nor a mode "shed"
    assert not any(a.get("mode") == "shed" for a in trip.controller_log)
    assert ctl["mean_clock"] == pytest.approx(np.mean(ts["mean_clock"][on]), rel=1e-12)
    assert ctl["mean_clock"] > 0.97  # measured 0.984 (0.917 with the shed ticks at 0.30)
    assert ctl["mean_controller_clock"] == pytest.approx(np.mean(ts["controller_clock"][on]), rel=1e-12)


@pytest.mark.xdist_group("shipped-chiller-trip")
def test_an_air_white_space_above_the_a1_allowable_inlet_warns(trip):
    """After the chiller restarts, chiller-trip's white space stays above 32 degC (ASHRAE A1 allowable maximum
    inlet [ASH]) to the end of the run (39.4 degC at 14:00) and the summary said nothing. The thermal block says for
    how long, from when and where it ends; the run warns with the peak and the end-of-run temperature."""
    ts, th = trip.timeseries, trip.report["thermal"]
    dt = trip.report["tick_s"]
    over = ts["t_space_c"] > 32.0
    assert th["inlet_allowable_max_c"] == 32.0
    assert th["above_allowable_s"] == over.sum() * dt > 2 * 3600  # measured 9,440 s
    assert th["above_allowable_first_s"] == np.argmax(over) * dt
    assert th["end_space_c"] == ts["t_space_c"][-1] > 32.0  # measured 39.4
    hot = [w for w in trip.report["warnings"] if "ASHRAE A1 allowable maximum" in w]
    assert len(hot) == 1
    assert "still at the end of the run" in hot[0] and f"peak {th['peak_space_c']:.1f} °C" in hot[0] \
        and f"{th['end_space_c']:.1f} °C at the end" in hot[0]


def test_the_inlet_figures_and_warning_are_for_air_only():
    """Liquid's white space is secondary coolant (its W classes concern the facility water): no A1 figures and no
    warning however hot; an air white space under 32 degC: none either. The limits are the kinds' defaults."""
    from dcsim.engine.flex import inlet_allowable_figures, inlet_allowable_warning
    from dcsim.scenario.facility import THERMAL_KIND_DEFAULTS, ThermalDynamicsSpec
    from dcsim.thermal.dynamics import thermal_params

    lim = {k: thermal_params(ThermalDynamicsSpec(kind=k), 1e6, 15.0).allowable_space_c for k in ("air", "liquid")}
    assert lim == {"air": 32.0, "liquid": float("inf")}
    assert {k: d["allowable_space_c"] for k, d in THERMAL_KIND_DEFAULTS.items()} == lim
    hot = np.array([25.0, 40.0, 45.0, 41.0])
    liq = inlet_allowable_figures(hot, 10.0, lim["liquid"])
    assert liq["inlet_allowable_max_c"] is None and liq["above_allowable_s"] is None and liq["end_space_c"] == 41.0
    fmt = lambda s: f"{s:g} s"  # noqa: E731
    assert inlet_allowable_warning({**liq, "peak_space_c": 45.0}, 40.0, fmt, fmt) is None
    cool = inlet_allowable_figures(np.array([21.0, 31.9, 30.0]), 10.0, lim["air"])
    assert cool["above_allowable_s"] == 0.0 and cool["above_allowable_first_s"] is None
    assert inlet_allowable_warning({**cool, "peak_space_c": 31.9}, 30.0, fmt, fmt) is None
    air = inlet_allowable_figures(np.array([25.0, 33.0, 34.0, 31.0]), 10.0, lim["air"])
    assert air["above_allowable_s"] == 20.0 and air["above_allowable_first_s"] == 10.0
    w = inlet_allowable_warning({**air, "peak_space_c": 34.0}, 40.0, fmt, fmt)
    assert "for 20 s of 40 s (first at 10 s)" in w and "still at the end" not in w and "31.0 °C at the end" in w


def test_an_a2_hall_sets_its_own_allowable_inlet():
    """facility.thermal.inlet_allowable_limit replaces the kind's default (air: ASHRAE A1 32 degC): servers rated A2
    allow 35 degC [ASH], and the figures and the warning follow it; a liquid white space given a limit is held to it.
    Before: the limit was a constant for kind air (AIR_INLET_ALLOWABLE_MAX_C), not settable."""
    from dcsim.engine.flex import inlet_allowable_figures, inlet_allowable_warning
    from dcsim.scenario.facility import ThermalDynamicsSpec
    from dcsim.thermal.dynamics import thermal_params

    a2 = thermal_params(ThermalDynamicsSpec(kind="air", inlet_allowable_limit=35.0), 1e6, 15.0).allowable_space_c
    assert a2 == 35.0
    assert thermal_params(ThermalDynamicsSpec(kind="liquid", inlet_allowable_limit=45.0), 1e6, 15.0
                          ).allowable_space_c == 45.0
    t = np.array([25.0, 33.0, 36.0, 34.0])
    f = inlet_allowable_figures(t, 10.0, a2)
    assert f["inlet_allowable_max_c"] == 35.0 and f["above_allowable_s"] == 10.0 and f["above_allowable_first_s"] == 20.0
    fmt = lambda s: f"{s:g} s"  # noqa: E731
    w = inlet_allowable_warning({**f, "peak_space_c": 36.0}, 40.0, fmt, fmt)
    assert w.startswith("the white space's inlet air was above 35 °C, the allowable maximum set by "
                        "facility.thermal.inlet_allowable_limit, for 10 s") and "A1" not in w
