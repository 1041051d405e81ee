"""The thermal throttle with several rack groups (audit of 2026-12-05): each group's dies are held under their own limit
at their own GPUs' power. Until then the throttle compared the fleet-average GPU power per clock level with one die
limit, so the hotter GPU type ran over its limit: chiller-trip's hall with a B200 group beside it (same model, same
r_th) ran its B200 dies at up to 101.4 degC while the fleet average read 87.3."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import dcsim
from dcsim.engine.build import build_models
from dcsim.engine.flex import die_groups, gpu_w_per_level, throttle_level
from dcsim.scenario import ScenarioError, load_scenario
from dcsim.thermal.dynamics import thermal_params

ROOT = Path(__file__).resolve().parents[1]
TRIP = ROOT / "scenarios" / "chiller-trip.yaml"
TOL_K = 0.5  # the level is chosen on the tick before (its room, its work) and acts on the next: chiller-trip 87.3 degC


def _two_groups(b200_thermal=None) -> dict:
    """chiller-trip's H100 hall with 128 B200s beside it serving the same model, one plant sized for both; 70 min."""
    d = yaml.safe_load(TRIP.read_text())
    d.update(name="two-group-trip", duration="70 min", expect={})
    d["facility"].update(interconnect="800 kW")
    d["facility"]["cooling"]["capacity"] = "640 kW"
    d["workload"]["arrivals"]["mean_rate"] = "900 req/s"
    g = {"name": "b200", "count": 4, "nodes_per_rack": 4,
         "node": {"gpu": "B200", "model": "llama-3.1-70b", "precision": "bf16", "tensor_parallel": 4, "max_batch": 256},
         "power": {"power_limit": "80 kW"}, "cooling": {"kind": "rear_door", "limit": "70 kW"}}
    if b200_thermal is not None:
        g["gpu_thermal"] = b200_thermal
    d["racks"].append(g)
    return d


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
    # the thermal figure's one die line is the fleet's mean GPU at the facility's r_th, and says so
    from dcsim.plots.flex import thermal_figure
    fig = thermal_figure(r)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "GPU die, fleet mean (each group's own: thermal.groups)" in labels
    assert "GPU die (inlet + R_th·P per GPU)" not in labels


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


def test_throttle_level_is_the_lowest_group_level_and_one_group_reads_the_fleet():
    d = _two_groups()
    m = build_models(load_scenario(d))
    p = thermal_params(load_scenario(d).facility.thermal, float(m.facility.capacity_w), 15.0)
    gs = die_groups(m, p)
    cv = m.curves
    need = 0.8 * float(cv.rate_pq[-1, -1])
    for t_space in (30.0, 38.0, 42.0):
        k, who = throttle_level(gs, cv, t_space, need, 1.0)
        own = []
        for g in gs:
            lvl = np.maximum.accumulate(gpu_w_per_level(cv, g.gpus, need, 1.0, g.gpu_pq))
            own.append(int(np.sum(lvl <= (g.t_limit_c - t_space) / g.r_th_k_per_w)) - 1)
        assert k == min(own) and own[who] == k
    # the groups' curves add up to the fleet's
    assert sum(g.gpu_pq for g in gs) == pytest.approx(cv.gpu_pq, rel=1e-12)
    # one group: the fleet's curve and GPU count, as before
    m1 = build_models(load_scenario(TRIP))
    (g1,) = die_groups(m1, p)
    assert g1.gpu_pq is m1.curves.gpu_pq and g1.gpus == m1.gpus


def test_gpu_thermal_needs_thermal_dynamics():
    d = yaml.safe_load(TRIP.read_text())
    d["facility"].pop("thermal")
    d["racks"][0]["gpu_thermal"] = {"t_limit": 90}
    with pytest.raises(ScenarioError, match=r"racks\[0\]\.gpu_thermal: applies only with facility.thermal"):
        load_scenario(d)
