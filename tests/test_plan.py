"""Capacity planner: each answer sits where the binding constraint flips (closed form just below/above)."""

import json

import numpy as np
import pytest

from conftest import ROOT, small_scenario
from dcsim.plan import _models, design_moment, evaluate, plan, scenario_moments
from dcsim.scenario import apply_overrides, read_yaml

REF = ROOT / "scenarios" / "reference.yaml"


def _full_load_codes(raw, overrides, percentile=None):
    """Binding codes at full load over the moments, from models rebuilt at ``overrides`` (no shortcuts)."""
    m = _models(raw, REF.parent, overrides)
    mom = design_moment(scenario_moments(m), percentile)
    return np.atleast_1d(evaluate(m, mom, demand_tok_s=np.inf)["binding"])


def test_max_gpus_is_where_compute_stops_binding_at_full_load():
    raw = read_yaml(REF)
    r = plan(REF, "max-gpus")
    n = r["racks"]
    assert r["binding"] == "compute" and r["gpus"] == n * 32
    at = _full_load_codes(raw, {"racks.0.count": n})
    above = _full_load_codes(raw, {"racks.0.count": n + 1})
    assert np.all(at == 1)                       # compute binds at every tick with N racks
    assert np.any(above >= 2)                    # power or cooling binds somewhere with N+1
    names_above = {("power", "cooling")[int(c) - 2] for c in above if c >= 2}
    assert r["next_binding_above"] in names_above
    assert r["next_binding"] == r["next_binding_above"]   # the smaller headroom is the one that flips
    # the headroom at the answer is smaller than one rack's worth of IT power
    assert 0.0 <= r["margin"] < 1.0 / n + 1e-9
    assert r["gpus"] <= r["gpus_at_flip"] < r["gpus"] + 32
    # the critical moment is the hottest tick of the day (hotter never raises P or Q)
    mom = scenario_moments(_models(raw, REF.parent))
    assert r["moment"]["t_out_c"] == pytest.approx(float(np.max(mom["t_db_c"])), abs=0.5)


def test_max_gpus_cooler_design_weather_allows_more_gpus():
    hot = plan(REF, "max-gpus", weather_percentile=100)
    mild = plan(REF, "max-gpus", weather_percentile=10)
    assert mild["gpus"] >= hot["gpus"]
    assert mild["moment"]["t_out_c"] < hot["moment"]["t_out_c"]


def test_max_demand_flips_from_demand_just_above_the_answer_and_simulation_serves_it():
    raw = small_scenario(duration="1 h", **{"facility.interconnect": "120 kW"})
    r = plan(raw, "max-demand", confirm=True)
    s = r["scale"]
    for f, all_demand in ((1 - 1e-6, True), (1 + 1e-3, False)):
        m = _models(raw, None, {"workload.arrivals.scale": s * f})
        codes = np.atleast_1d(evaluate(m, scenario_moments(m))["binding"])
        assert bool(np.all(codes == 0)) is all_demand
    m = _models(raw, None, {"workload.arrivals.scale": s * 1.001})
    codes = np.atleast_1d(evaluate(m, scenario_moments(m))["binding"])
    assert ("demand", "compute", "power", "cooling")[int(codes.max())] == r["binding"] == "power"
    assert r["margin"] > 0
    # the simulation at the answer serves (nearly) all the demand within the cap
    c = r["confirm"]
    assert c["served_share"] > 0.97
    assert c["interconnect_exceeded_s"] == 0
    assert c["peak_facility_power_w"] <= 120e3 * (1 + 1e-9)


def test_interconnect_for_is_where_power_stops_binding():
    raw = apply_overrides(read_yaml(REF), {"facility.cooling.capacity": "3 MW"})  # cooling out of the way
    r = plan(raw, "interconnect-for", gpus=400, weather_percentile=100)
    assert r["gpus"] == 416 and r["racks"] == 13 and r["binding"] == "compute"
    cap = r["interconnect_w"]
    ov = {"racks.0.count": 13}
    below = _full_load_codes(raw, {**ov, "facility.interconnect": cap * (1 - 1e-4)}, 100)
    above = _full_load_codes(raw, {**ov, "facility.interconnect": cap * (1 + 1e-4)}, 100)
    assert np.all(below == 2) and np.all(above == 1)
    # physics: hotter design weather and more GPUs need more interconnect
    cool = plan(raw, "interconnect-for", gpus=400, weather_percentile=5)
    more = plan(raw, "interconnect-for", gpus=800, weather_percentile=100)
    assert cool["interconnect_w"] < cap < more["interconnect_w"]
    assert more["interconnect_w"] == pytest.approx(2 * cap, rel=0.15)


def test_interconnect_for_reports_cooling_when_heat_rejection_binds_first():
    r = plan(REF, "interconnect-for", gpus=640)
    assert r["binding"] == "cooling" and "note" in r
    assert r["headroom"]["cooling"] < 0


def test_plan_accepts_a_loaded_scenario():
    from dcsim.scenario import load_scenario

    a = plan(load_scenario(REF), "max-demand")
    b = plan(REF, "max-demand")
    assert a["scale"] == b["scale"] and a["moment"] == b["moment"]


def test_cli_plan_json(capsys):
    from dcsim.cli import main

    assert main(["plan", str(REF), "--question", "max-demand", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["question"] == "max-demand" and out["scale"] > 0
    assert main(["plan", str(REF), "--question", "max-gpus"]) == 0
    assert "GPUs" in capsys.readouterr().out
