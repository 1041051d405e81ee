"""The thermal throttle with several rack groups (audit of 2026-12-05): each group's dies are held under their own limit
at their own GPUs' power. Until then the throttle compared the fleet-average GPU power per clock level with one die
limit, so the hotter GPU type ran over its limit: chiller-trip's hall with a B200 group beside it (same model, same
r_th) ran its B200 dies at up to 101.4 degC while the fleet average read 87.3."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import yaml

import dcsim
from dcsim.engine.build import build_models
from dcsim.engine.flex import die_groups
from dcsim.scenario import ScenarioError, load_scenario
from dcsim.thermal.dynamics import thermal_params

ROOT = Path(__file__).resolve().parents[1]
TRIP = ROOT / "scenarios" / "chiller-trip.yaml"
TOL_K = 0.5  # the level is chosen on the tick before (its room, its work) and acts on the next: chiller-trip 87.3 degC


def _example(name: str):
    """A runnable example of docs/examples as a module (its demo runs as a script only)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "docs" / "examples" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _two_groups(b200_thermal=None) -> dict:
    """chiller-trip's H100 hall with 128 B200s beside it serving the same model, one plant sized for both (the
    scenario docs/examples/thermal_groups.py runs); 70 min."""
    return _example("thermal_groups").two_group_trip(b200_thermal, duration="70 min")


def _group_gpu_w(m, ts) -> np.ndarray:
    """(ticks, groups) per-GPU power of each rack group on each tick, from the node tables: the tick's rate spread
    evenly over the replicas in service at the tick's clock level (uniform_cap), each group at the fleet's common load
    (its replicas' rate u x its full-batch rate, held to its rack limits), independent of dcsim.engine.flex."""
    cv = m.curves
    avail = np.maximum(ts["gpus_in_service"] / m.gpus, 1e-12)
    out = np.zeros((ts["t_s"].size, len(m.groups)))
    for j in range(ts["t_s"].size):
        k = int(ts["thermal_level"][j])
        u = float(np.interp(ts["achieved_tok_s"][j] / avail[j], cv.rate_pq[k], cv.u))
        for i, g in enumerate(m.groups):
            lim, tab = g.limits, g.table
            w_rep = (min(lim.rack_power_limit_w, lim.rack_cooling_limit_w) - lim.rack_overhead_w) / lim.replicas_per_rack
            r = min(u * float(tab.thr_max[k]), float(tab.rate_at_wall(k, w_rep)))
            out[j, i] = float(tab.power_at_rate(k, r)[1]) / g.node.gpus_per_replica
    return out


def _dies(r, m):
    ts, th = r.timeseries, r.report["thermal"]
    thr = np.flatnonzero(ts["thermal_throttled"] > 0)
    sub = {k: np.asarray(ts[k], dtype=float)[thr] for k in ("t_s", "thermal_level", "achieved_tok_s",
                                                             "gpus_in_service", "gpu_power_w", "t_space_c")}
    p = _group_gpu_w(m, sub)
    # the decomposition is the fleet's: each group's GPUs at its power add up to the recorded GPU power
    gpus = np.array([g.gpus for g in m.groups], dtype=float)
    assert (p @ gpus) * sub["gpus_in_service"] / m.gpus == pytest.approx(sub["gpu_power_w"], rel=1e-4)  # (the record interpolates on the load grid)
    groups = th["groups"]
    r_th = np.array([g["r_th_k_per_w"] for g in groups])
    limit = np.array([g["t_limit_c"] for g in groups])
    return sub, p, sub["t_space_c"][:, None] + r_th[None, :] * p, limit


def test_each_group_s_dies_stay_under_their_limit_on_every_throttled_tick():
    """Same die resistance for both (the facility's): the B200s (835 W/GPU at level 22 against the H100s' 564 W, the fleet mean 642 W) are
    the hotter group and set the level; the fleet-average die sat at the limit while theirs reached 101.4 degC."""
    d = _two_groups()
    m = build_models(load_scenario(d))
    r = dcsim.run(d)
    sub, p, die, limit = _dies(r, m)
    assert sub["t_s"].size > 30  # the throttle fires (the trip) and holds for a while
    assert np.all(p[:, 1] > p[:, 0])  # the B200 draws more per GPU at every throttled tick
    assert np.all(die <= limit[None, :] + TOL_K), float(np.max(die - limit[None, :]))
    # the hot group is held at its limit, not under it by the fleet average: its dies reach the limit on some tick
    assert np.max(die[:, 1]) >= limit[1] - TOL_K
    th = r.report["thermal"]
    assert [g["name"] for g in th["groups"]] == ["hall-a", "b200"]
    assert th["groups"][1]["throttle_set_s"] == pytest.approx(th["throttled_s"])  # the B200s set the level throughout
    assert th["groups"][0]["throttle_set_s"] == 0.0
    first = [a for a in r.controller_log if a["action"] == "thermal throttle"][0]
    assert first["group"] == "b200" and "'b200' (B200)" in first["reason"]
    # the record follows the dies that set the level: thermal_group and thermal_die_c on every throttled tick are the
    # B200s' (the node tables' figure above, within the record's load-grid interpolation), and the thermal figure draws
    # that die, reaching the dashed limit (until later on 2026-12-05 it drew the fleet's mean GPU, its peak 5.8 K
    # under it here)
    ts = r.timeseries
    thr = ts["thermal_throttled"] > 0
    assert np.all(ts["thermal_group"][thr] == 1)
    assert ts["thermal_die_c"][thr] == pytest.approx(die[:, 1], abs=0.05)
    from dcsim.plots.flex import thermal_figure
    ax = thermal_figure(r).axes[0]
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert "GPU die (inlet + R_th·P per GPU)" not in labels
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "GPU die of the group setting the level (thermal_group)"]
    assert np.nanmax(line.get_ydata()) >= limit[1] - TOL_K
    assert ax.get_title().endswith("(GPU limit 87 °C)")


def test_a_group_s_own_die_parameters_set_its_limit():
    """racks[].gpu_thermal: the B200s with their own (lower) resistance, (87 - 35)/1000 K/W by the default's design
    rule at their 1,000 W TDP, are no longer the hotter dies; the H100 hall sets the level and stays under its limit."""
    d = _two_groups({"r_th_k_per_w": 0.052})
    m = build_models(load_scenario(d))
    r = dcsim.run(d)
    sub, p, die, limit = _dies(r, m)
    th = r.report["thermal"]
    assert th["groups"][1]["r_th_k_per_w"] == 0.052 and th["groups"][0]["r_th_k_per_w"] == th["r_th_k_per_w"]
    assert sub["t_s"].size > 0
    assert np.all(die <= limit[None, :] + TOL_K), float(np.max(die - limit[None, :]))
    assert th["groups"][0]["throttle_set_s"] > 0.5 * th["throttled_s"]


def test_group_curves_add_up_to_the_fleet_s():
    """Each group's GPU power curve is its share of the fleet's (the supply curves of the group alone)."""
    d = _two_groups()
    m = build_models(load_scenario(d))
    p = thermal_params(load_scenario(d).facility.thermal, float(m.facility.capacity_w), 15.0)
    gs = die_groups(m, p)
    assert [g.gpus for g in gs] == [320, 128]
    assert sum(g.gpu_pq for g in gs) == pytest.approx(m.curves.gpu_pq, rel=1e-12)


def test_a_die_group_derives_its_per_gpu_curve():
    """DieGroup.gpu_w_pq (what throttle_level reads) is gpu_pq / gpus, derived when the group is built: until
    2026-12-05 it was a field defaulting to (), and a DieGroup built from its curve alone fit no level (-1, shed) at a
    coolant temperature where die_groups' own fit the top clock."""
    from dcsim.engine.flex import DieGroup, throttle_level
    d = _two_groups()
    m = build_models(load_scenario(d))
    p = thermal_params(load_scenario(d).facility.thermal, float(m.facility.capacity_w), 15.0)
    gs = die_groups(m, p)
    bare = [DieGroup(g.name, g.gpu, g.gpus, g.t_limit_c, g.r_th_k_per_w, g.gpu_pq) for g in gs]
    for g, b in zip(gs, bare):
        assert len(b.gpu_w_pq) == len(g.gpu_pq)
        np.testing.assert_allclose(np.array(b.gpu_w_pq), g.gpu_pq / g.gpus, rtol=1e-15)
    rate, top = 0.5 * float(np.max(m.curves.rate_pq[-1])), len(m.curves.gpu_pq) - 1
    assert throttle_level(gs, m.curves, 20.0, rate, 1.0)[0] == top
    assert throttle_level(bare, m.curves, 20.0, rate, 1.0) == throttle_level(gs, m.curves, 20.0, rate, 1.0)


def test_a_hall_split_into_two_identical_groups_throttles_as_one():
    """chiller-trip's hall as two identical H100 groups (6 + 4 racks) throttles and sheds on the same ticks at the same
    levels, its room on the same path, as the one-group run: each group's GPUs draw the fleet's per-GPU power, so the
    lowest of their levels is the one group's. Ties credit the first group listed (thermal.groups)."""
    d = yaml.safe_load(TRIP.read_text())
    d.update(duration="70 min", expect={})
    s = copy.deepcopy(d)
    s["racks"][0]["count"] = 6
    s["racks"].append(dict(copy.deepcopy(d["racks"][0]), name="hall-b", count=4))
    one, two = dcsim.run(d), dcsim.run(s)
    t1, t2 = one.timeseries, two.timeseries
    assert t1["thermal_throttled"].any() and t1["thermal_shed"].any()
    for k in ("thermal_level", "thermal_throttled", "thermal_shed"):
        np.testing.assert_array_equal(t2[k], t1[k], err_msg=k)
    # the room's path is the same sum taken in another order (two groups' heat): equal to the last bits, not bitwise
    # (5.7e-14 K apart on some machines' numpy builds)
    for k in ("t_space_c", "achieved_tok_s", "gpu_power_w", "thermal_die_c"):
        np.testing.assert_allclose(t2[k], t1[k], rtol=1e-9, atol=0.0, err_msg=k)
    g = two.report["thermal"]["groups"]
    assert [x["gpus"] for x in g] == [192, 128]
    assert g[0]["throttle_set_s"] == one.report["thermal"]["throttled_s"] > 0 and g[1]["throttle_set_s"] == 0.0


def test_gpu_thermal_needs_thermal_dynamics():
    d = yaml.safe_load(TRIP.read_text())
    d["facility"].pop("thermal")
    d["racks"][0]["gpu_thermal"] = {"t_limit": 90}
    with pytest.raises(ScenarioError, match=r"racks\[0\]\.gpu_thermal: applies only with facility.thermal"):
        load_scenario(d)


def _shed_notes(r) -> list[dict]:
    return [a for a in r.controller_log if a["action"] == "thermal shed"]


def test_shed_note_names_its_cause():
    """The shed note says why by the cause, not by the group count: the room past its shutdown limit (the two-group
    trip at 45 degC: until later on 2026-12-05 it read "GPUs cannot be held under 87 degC at their lowest power (or the
    room passed 45 degC)"), or a group's dies over their own limit at the lowest level (the B200s at a 48 degC limit
    with the room's shutdown limit out of reach), which sheds the whole fleet."""
    (room,) = _shed_notes(dcsim.run(_two_groups()))
    assert room["reason"].endswith(": the room passed 45 °C; IT off") and "GPUs" not in room["reason"]
    assert "group" not in room
    d = _two_groups({"t_limit": 48})
    d["facility"]["thermal"]["shed_inlet_limit"] = "80 degC"
    r = dcsim.run(d)
    die = _shed_notes(r)
    assert die and r.report["thermal"]["peak_space_c"] < 80.0
    assert all(a["group"] == "b200" and "rack group 'b200' (B200): GPUs cannot be held under 48 °C at their lowest"
               " power; IT off" in a["reason"] and "room" not in a["reason"] for a in die)
    # the whole fleet off on the shed ticks, not the B200 group alone
    shed = r.timeseries["thermal_shed"] > 0
    assert shed.any() and np.all(r.timeseries["gpus_in_service"][shed] == 0.0)


def test_gpu_thermal_resistance_reads_k_per_w():
    """racks[].gpu_thermal.r_th_k_per_w with its unit: until 2026-12-05 a count, and '0.05 K/W' was refused with
    "unit 'K/W' is not a count unit (expected one of )"."""
    for v, want in (("0.052 K/W", 0.052), ("52 mK/W", 0.052), ("0.052 degC/W", 0.052), (0.052, 0.052)):
        sc = load_scenario(_two_groups({"r_th_k_per_w": v}))
        assert sc.racks[1].gpu_thermal.r_th_k_per_w == pytest.approx(want, rel=1e-12)
    with pytest.raises(ScenarioError, match=r"racks\[1\]\.gpu_thermal\.r_th_k_per_w.*'W' is not a thermal_resistance "
                                            r"unit \(expected one of K/W, degC/W"):
        load_scenario(_two_groups({"r_th_k_per_w": "0.05 W"}))


def test_a_die_limit_at_or_under_the_loop_setpoint_is_refused():
    """A group's die limit at or under the loop's setpoint (15 degC here) can never be met: refused before the run,
    naming the field (until 2026-12-05 accepted; the run shed at its first engaged tick)."""
    from dcsim.engine.flex import build_flex
    from dcsim.scenario.base import FieldError

    d = _two_groups({"t_limit": 15})
    with pytest.raises(ScenarioError, match=r"racks\[1\]\.gpu_thermal\.t_limit: 15 °C is at or under the cooling "
                                            r"loop's setpoint \(15 °C\)"):
        dcsim.run(d)
    with pytest.raises(FieldError, match=r"racks\[1\]\.gpu_thermal\.t_limit"):
        build_flex(build_models(load_scenario(d)), 10.0, 10)
    d = _two_groups({"t_limit": 16})  # just above: accepted
    assert build_flex(build_models(load_scenario(d)), 10.0, 10).th_groups[1].t_limit_c == 16.0


def test_a_room_caused_shed_names_no_group():
    """A shed fired by the room passing its shutdown limit (the two-group trip at 45 degC) is no group's: the
    ``thermal_group`` column on its ticks falls back to the group nearest its limit, as on an unthrottled tick (no GPU
    runs, so each group's die reads the room: both at 87 degC, the first listed, the H100 hall). Until later on
    2026-12-05 it named the B200s, the group binding the throttle on the tick before the shed."""
    r = dcsim.run(_two_groups())
    (room,) = _shed_notes(r)
    assert "the room passed" in room["reason"]
    ts = r.timeseries
    shed = ts["thermal_shed"] > 0
    assert shed.sum() > 10
    assert np.all(ts["thermal_group"][shed] == 0)
    assert np.all(np.isnan(ts["thermal_die_c"][shed]))
    # the throttled ticks still follow the B200s, and the report's seconds count them only
    thr = ts["thermal_throttled"] > 0
    assert np.all(ts["thermal_group"][thr] == 1)
    g = r.report["thermal"]["groups"]
    assert g[1]["throttle_set_s"] == pytest.approx(r.report["thermal"]["throttled_s"]) and g[0]["throttle_set_s"] == 0.0


def test_a_group_shed_restarts_a_margin_under_the_die_limit():
    """A shed the dies fired (the B200s at a 48 degC limit, the room's shutdown limit out of reach) restarts only once
    the lowest level would hold them DIE_RESTART_MARGIN_K (5 K) under their limit, as the room's shed restarts 5 K under
    its own: until 2026-12-05 it restarted as soon as the lowest level fit, and here it shed 15 times in 7 minutes
    (44:30-51:40 into the run), restarting 10-30 s after each shed (the same 15 in the example's 3 h). The dies still
    never run over their limit."""
    from dcsim.engine.flex import DIE_RESTART_MARGIN_K

    d = _two_groups({"t_limit": 48})
    d["facility"]["thermal"]["shed_inlet_limit"] = "80 degC"
    m = build_models(load_scenario(d))
    r = dcsim.run(d)
    ts = r.timeseries
    shed = ts["thermal_shed"] > 0
    restarts = [a for a in r.controller_log if a["action"] == "thermal restart"]
    assert len(_shed_notes(r)) == 1 and len(restarts) == 1
    assert np.count_nonzero(np.diff(shed.astype(int))) == 2  # one shed, one restart
    assert np.all(ts["thermal_group"][shed] == 1)  # the B200s fired it
    # at the restart the B200s' lowest level at its full batch (the backlog waiting; node tables, not the throttle's
    # reading) sits the margin under their limit: a die follows its coolant one to one at a given power
    g = m.groups[1]
    lim, tab = g.limits, g.table
    w_rep = (min(lim.rack_power_limit_w, lim.rack_cooling_limit_w) - lim.rack_overhead_w) / lim.replicas_per_rack
    p0 = float(tab.power_at_rate(0, min(float(tab.thr_max[0]), float(tab.rate_at_wall(0, w_rep))))[1])
    p0 /= g.node.gpus_per_replica
    r_th = r.report["thermal"]["groups"][1]["r_th_k_per_w"]
    (rs,) = restarts
    assert rs["t_space_c"] + r_th * p0 <= 48.0 - DIE_RESTART_MARGIN_K + 0.05
    assert "'b200' (B200): GPUs at their lowest power 5 K under 48 °C" in rs["reason"]
    # not held longer than that: the tick before the restart's, the margin did not hold yet
    j = int(np.searchsorted(ts["t_s"], rs["t_s"])) - 2
    assert shed[j] and ts["t_space_c"][j] + r_th * p0 > 48.0 - DIE_RESTART_MARGIN_K
    # the dies stay under their limit: on every throttled tick (node tables), and on every tick with GPUs running from
    # the first throttle on (the record's die of the group nearest or at its limit)
    sub, p, die, limit = _dies(r, m)
    assert sub["t_s"].size > 30 and np.all(die <= limit[None, :] + TOL_K), float(np.max(die - limit[None, :]))
    first = [a for a in r.controller_log if a["action"] == "thermal throttle"][0]["t_s"]
    on = (ts["t_s"] >= first) & ~shed
    lim_of = np.array([x["t_limit_c"] for x in r.report["thermal"]["groups"]])[ts["thermal_group"]]
    assert np.all(ts["thermal_die_c"][on] <= lim_of[on] + TOL_K)


def test_a_die_group_is_hashed_and_compared_by_identity():
    """A DieGroup holds arrays: as a frozen dataclass with the generated ``==`` and ``__hash__`` (until 2026-12-05),
    ``hash()`` raised on the array and ``==`` of two groups built alike raised on the arrays' ambiguous truth value."""
    from dcsim.engine.flex import DieGroup
    curve = np.array([[100.0, 200.0], [150.0, 300.0]])
    a = DieGroup("hall", "H100", 2, 87.0, 0.05, curve)
    b = DieGroup("hall", "H100", 2, 87.0, 0.05, curve.copy())
    assert hash(a) != hash(b) and len({a, b, a}) == 2
    assert a == a and a != b and a in [b, a]


def test_a_die_limit_passed_at_full_load_in_normal_operation_is_warned():
    """A group whose dies pass their limit at full load in steady state (the plant at its setpoint) is named by
    preflight, with the die temperature it computes (white space at the steady state of the full-load heat the plant
    rejects, IT + PDU + UPS losses, + r_th x the group's top per-GPU power) and what the run does: holds the clock at
    the limit. Checked against the run itself: with the fleet saturated (5,000 req/s, every replica at full batch and
    full clock) and the B200s free to run to 95 degC, the record's thermal_die_c, which follows the B200 group nearest
    its limit, reads what the warning says: 88.2 degC (88.17 measured); at a 48 degC limit the run holds every die
    under 48 degC. Until 2026-12-05 silent; later that day it warned the run went over the limit at full clock (it
    did: the die limit was held only while the thermal masses were engaged); for part of that day the warning took
    the IT power alone as the heat and read 87.8 degC, 0.4 K under the run. chiller-trip's H100s reach 67.4 degC
    against 87 and are not warned (67.0 with the IT power alone)."""
    from dcsim.engine.preflight import preflight

    def sat(b200):
        d = _two_groups(b200)
        d["workload"]["arrivals"]["mean_rate"] = "5000 req/s"
        d["duration"] = "11 min"  # the trip starts at 10 min
        return d

    d = sat({"t_limit": 48})
    (w,) = [w for w in preflight(load_scenario(d)).warnings if "normal operation" in w]
    assert w.startswith("racks[1].gpu_thermal.t_limit:") and "48 °C limit" in w and "holds the clock" in w
    t_warn = float(w.split(" reach ")[1].split(" °C")[0])
    ts = dcsim.run(sat({"t_limit": 95})).timeseries
    top = int(np.max(ts["thermal_level"]))
    full = (ts["thermal_engaged"] == 0) & (ts["thermal_level"] == top) & (ts["thermal_group"] == 1)
    assert full.any()
    # full load: the run serves what every replica at full batch and full clock serves (the fleet's top rate)
    m = build_models(load_scenario(d))
    assert ts["achieved_tok_s"][full] == pytest.approx(float(np.max(m.curves.rate_pq[-1])), rel=1e-6)
    assert t_warn == pytest.approx(float(ts["thermal_die_c"][full][0]), abs=0.05)
    assert t_warn == pytest.approx(88.2, abs=0.05)
    held = dcsim.run(d).timeseries  # at the 48 degC limit: held under it in normal operation
    calm = held["thermal_engaged"] == 0
    assert calm.any() and np.all(held["thermal_throttled"][calm] == 2)  # the normal-operation hold (code 2)
    assert np.nanmax(held["thermal_die_c"][calm]) <= 48.0 + 1e-9
    # chiller-trip: 67.4 degC at full load, under its 87 degC limit (a limit under it is warned, naming 67.4)
    assert not [w for w in preflight(load_scenario(TRIP)).warnings if "normal operation" in w]
    low = load_scenario(TRIP, overrides={"facility.thermal.gpu.t_limit": 66})
    (w,) = [w for w in preflight(low).warnings if "normal operation" in w]
    assert w.startswith("facility.thermal.gpu.t_limit:") and "reach 67.4 °C" in w


def _full_load(b200_thermal=None, duration: str = "20 min") -> dict:
    """The docs example's two groups in normal operation (no chiller trip) at full load (1,400 req/s, beyond the
    fleet's compute ceiling): the plant at its setpoint the whole run."""
    d = _example("thermal_groups").two_group_trip(b200_thermal, duration=duration)
    d["faults"] = []
    d["workload"]["arrivals"]["mean_rate"] = "1400 req/s"
    return d


def test_the_die_limit_holds_the_clock_in_normal_operation():
    """The B200s at the H100 hall's r_th (0.0743 K/W) pass 87 degC at full clock and full batch with the plant at its
    setpoint (preflight: 88.2 degC). Until 2026-12-05 the die limit was held only while the thermal masses were
    engaged, and this run went at full clock with thermal_die_c at 88.17 degC on every tick, compute-bound. Now the
    clock is held to the level whose dies stay at the limit in the room's steady state: every tick's die at or under
    87 degC, every tick throttled, named cooling, and the tokens fall by that clock's compute ceiling against the same
    hall whose B200s may run to 95 degC (nothing held)."""
    r = dcsim.run(_full_load())
    free = dcsim.run(_full_load({"t_limit": 95}))
    ts, ts0 = r.timeseries, free.timeseries
    assert np.nanmax(ts0["thermal_die_c"]) > 88.0  # the hall free to run its dies over 87 degC does so
    assert np.nanmax(ts["thermal_die_c"]) <= 87.0 + 1e-9
    assert np.all(ts["thermal_throttled"] == 2) and not np.any(ts["thermal_engaged"])  # 2: held in normal operation
    assert np.all(ts["binding"] == 3)  # cooling (dcsim.tpf.BINDING_NAMES)
    m = build_models(load_scenario(_full_load()))
    k = int(ts["thermal_level"][0])
    assert k < m.clocks.size - 1 and np.all(ts["thermal_level"] == k)
    ratio = float(np.sum(ts["achieved_tok_s"]) / np.sum(ts0["achieved_tok_s"]))
    ceiling = float(m.curves.rate_pq[k][-1] / m.curves.rate_pq[-1][-1])
    assert ratio < 1.0 and ratio == pytest.approx(ceiling, rel=5e-3)
    notes = [e for e in r.controller_log if e["action"] == "thermal throttle"]
    assert notes and "normal operation" in notes[0]["reason"]


@pytest.mark.parametrize("interconnect", ["650 kW", "700 kW"])
def test_a_power_capped_hall_under_its_die_limit_is_not_held(interconnect):
    """Power-capped at the interconnect (frontier ticks) with every die under its 87 degC limit, the die hold leaves
    the ticks alone: the hall serves what the same hall whose B200s may run to 95 degC serves, token for token, no
    tick throttled, the label power. Until 2026-12-05 the hold moved every such tick to uniform_cap at a fixed level
    read at the whole work (the power budget ignored): 0.790 of the free run's tokens at 700 kW, label still power."""
    def run(b200):
        d = _full_load(b200, duration="10 min")
        d["facility"]["interconnect"] = interconnect
        return dcsim.run(d).timeseries

    held, free = run(None), run({"t_limit": 95})
    assert np.nanmax(free["thermal_die_c"]) < 87.0  # no hold needed: the free run's dies stay under the limit
    assert np.all(free["binding"] == 2) and np.all(free["mode"] == 1)  # power (dcsim.tpf.BINDING_NAMES), frontier
    assert float(np.sum(held["achieved_tok_s"])) == pytest.approx(float(np.sum(free["achieved_tok_s"])), rel=1e-9)
    assert not np.any(held["thermal_throttled"]) and np.all(held["binding"] == 2)


def test_a_cooling_failure_in_a_die_held_hall_times_its_own_throttle():
    """The two-group trip at full load (1,400 req/s) with the B200s at the hall's r_th: their dies are held in normal
    operation from the first tick (thermal_throttled 2), and the chiller trip at 10 min engages the throttle (1) only
    later. The failure's time_to_first_throttle_s reads the engaged throttle: after the trip, not 0 (until 2026-12-05
    it took the first tick held in normal operation, and read 0.0)."""
    d = _example("thermal_groups").two_group_trip(None, duration="20 min")
    d["workload"]["arrivals"]["mean_rate"] = "1400 req/s"
    r = dcsim.run(d)
    ts = r.timeseries
    assert ts["thermal_throttled"][0] == 2  # held in normal operation before the trip
    (f,) = [f for f in r.report["faults"] if "time_to_first_throttle_s" in f]
    first = int(np.flatnonzero(ts["thermal_throttled"] == 1)[0])
    assert f["time_to_first_throttle_s"] is not None and f["time_to_first_throttle_s"] > 0
    assert f["time_to_first_throttle_s"] == pytest.approx(float(ts["t_s"][first]) - 600.0)


def test_the_die_hold_gives_no_larger_contract_advice():
    """A hall whose dies hold the clock in normal operation is labelled cooling on every tick, but the dies bind, not
    the plant: the interconnect note ("a larger interconnect would raise PUE ... where cooling binds a larger contract
    serves less") does not apply and is not given (until 2026-12-05 it was, on the full-load B200 hall)."""
    r = dcsim.run(_full_load(duration="10 min"))
    ts = r.timeseries
    assert np.all(ts["binding"] == 3) and np.all(ts["thermal_throttled"] == 2)
    notes = " ".join(r.report["notes"])
    assert "a larger interconnect would raise PUE" not in notes
    assert "a larger contract serves less" not in notes


def test_the_runs_first_throttle_is_the_engaged_throttle_too():
    """report.thermal.time_to_first_throttle_s reads the engaged throttle as each failure's does: a hall whose dies are
    held in normal operation from the first tick (thermal_throttled 2) reads the trip's throttle, not 0 (until
    2026-12-05 the normal-operation hold set it)."""
    d = _example("thermal_groups").two_group_trip(None, duration="20 min")
    d["workload"]["arrivals"]["mean_rate"] = "1400 req/s"
    r = dcsim.run(d)
    t = r.report["thermal"]["time_to_first_throttle_s"]
    (f,) = [f for f in r.report["faults"] if "time_to_first_throttle_s" in f]
    assert t is not None and t > 0
    assert t >= f["time_to_first_throttle_s"]
