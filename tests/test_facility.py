"""Facility: conservation, PUE physics, inverse of the facility power, quick-study modes, and the
PUE levels the defaults give against CALIBRATION C1."""

import numpy as np
import pytest
from pydantic import ValidationError

from dcsim.scenario.facility import FacilitySpec, PueCurveSpec
from dcsim.thermal.facility import COOLING_PARTS, LOSS_PARTS, build_facility
from dcsim.thermal.psychro import wet_bulb_c

KINDS = {
    "towers": {"kind": "chiller_plant"},
    "dry": {"kind": "chiller_plant", "heat_rejection": "dry_cooler", "fan_exponent": 0},
    "liquid": {"kind": "liquid"},
    "fixed": {"kind": "fixed_pue", "pue": 1.4},
    "curve": {"kind": "pue_curve", "load": [0.1, 0.5, 1.0], "pue": [1.9, 1.5, 1.4], "per_k": 0.01},
}


def _fac(kind, **pc):
    return build_facility(FacilitySpec.model_validate(
        {"interconnect": "20 MW", "cooling": KINDS[kind], "power_chain": pc}))


def _random_inputs(seed, n=500):
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    it = rng.uniform(0, 18e6, n)
    lf = rng.uniform(0, 1, n)
    t_db = rng.uniform(-20, 48, n)
    t_wb = wet_bulb_c(t_db, rng.uniform(0.05, 1.0, n))
    return it, lf, t_db, t_wb


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_energy_conservation_and_parts(kind):
    f = _fac(kind)
    b = f.breakdown(*_random_inputs(1))
    total = b["it"] + b["cooling"] + b["losses"] + b["fixed"]
    np.testing.assert_allclose(b["facility"], total, rtol=1e-12)
    np.testing.assert_allclose(b["cooling"], sum(b[k] for k in COOLING_PARTS), rtol=1e-12)
    np.testing.assert_allclose(b["losses"], sum(b[k] for k in LOSS_PARTS), rtol=1e-12)
    for k in ("it", "cooling", "losses", "fixed", *COOLING_PARTS, *LOSS_PARTS):
        assert b[k].shape == (500,) and np.all(b[k] >= 0), k
    # every watt of IT power becomes heat (plus UPS/PDU losses in the cooled space)
    np.testing.assert_allclose(b["heat_w"], b["it"] + b["loss_ups"] + b["loss_pdu"], rtol=1e-12)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_pue_at_least_one(kind):
    f = _fac(kind)
    it, lf, t_db, t_wb = _random_inputs(2)
    p = f.pue(it + 1.0, lf, t_db, t_wb)
    assert np.all(p >= 1.0)
    assert np.isnan(f.pue(0.0, 0.0, 20.0, 14.0))


@pytest.mark.parametrize("kind", ["towers", "dry", "liquid", "curve"])
def test_pue_falls_with_it_load_at_fixed_weather(kind):
    f = _fac(kind)
    # up to 12 MW (~80 % of the ~15 MW design IT under 20 MW): near full design load the
    # cube-law CRAH fans can flatten the curve (docs/facility.md)
    it = np.linspace(1e6, 12e6, 45)
    lf = 0.9 if kind == "liquid" else 0.0
    for t_db in (0.0, 15.0, 25.0, 35.0):
        p = f.pue(it, lf, t_db, float(wet_bulb_c(t_db, 0.5)))
        assert np.all(np.diff(p) <= 1e-12), (kind, t_db)
        assert p[0] > p[-1] + 0.01


@pytest.mark.parametrize("kind", ["towers", "dry", "liquid", "curve"])
def test_pue_rises_with_outdoor_temperature(kind):
    f = _fac(kind)
    t_db = np.linspace(-15, 48, 127)
    t_wb = wet_bulb_c(t_db, 0.5)
    lf = 0.9 if kind == "liquid" else 0.0
    for it in (3e6, 12e6):
        p = f.pue(it, lf, t_db, t_wb)
        assert np.all(np.diff(p) >= -1e-12), kind
        assert p[-1] > p[0] + 0.02
    # humidity matters for towers only through the wet-bulb
    if kind == "towers":
        assert f.pue(10e6, 0, 30.0, 15.0) < f.pue(10e6, 0, 30.0, 25.0)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_max_it_power_inverts_breakdown(kind):
    f = _fac(kind)
    _, lf, t_db, t_wb = _random_inputs(3, n=200)
    cap = np.random.default_rng(4).uniform(4e6, 20e6, 200)
    it = f.max_it_power_w(cap, lf, t_db, t_wb)
    fac = f.breakdown(it, lf, t_db, t_wb)["facility"]
    assert np.all(fac <= cap * (1 + 1e-12))
    np.testing.assert_allclose(fac, cap, rtol=1e-9)
    # the next IT watt above the answer breaks the cap (largest feasible IT, to 1e-9)
    assert np.all(f.breakdown(it * (1 + 1e-8), lf, t_db, t_wb)["facility"] > cap)
    # round trip from IT: max_it(facility(it)) == it
    it0 = np.linspace(1e6, 14e6, 14)
    fac0 = f.breakdown(it0, 0.5, 22.0, 16.0)["facility"]
    np.testing.assert_allclose(f.max_it_power_w(fac0, 0.5, 22.0, 16.0), it0, rtol=1e-9)


def test_max_it_power_edge_cases_and_monotone():
    f = _fac("towers")
    assert f.max_it_power_w(1.0, 0.0, 20.0, 14.0) == 0.0  # below the fixed loads
    np.testing.assert_array_equal(f.max_it_power_w(np.array([np.inf, 0.0]), 0.0, 20.0, 14.0), [np.inf, 0.0])
    assert isinstance(f.max_it_power_w(20e6, 0.0, 20.0, 14.0), float)
    t_db = np.linspace(-10, 45, 56)
    m = f.max_it_power_w(20e6, 0.0, t_db, wet_bulb_c(t_db, 0.5))
    assert np.all(np.diff(m) <= 1e-6)  # hotter -> more cooling power -> less IT under the cap
    assert f.max_it_power_w(np.array([10e6, 20e6]), 0.0, 20.0, 14.0)[1] > f.max_it_power_w(10e6, 0.0, 20.0, 14.0)


def test_fixed_pue_mode_exact():
    f = _fac("fixed")
    assert f.quick_study
    b = f.breakdown(np.array([1e6, 5e6]), 0.0, 30.0, 20.0)
    np.testing.assert_allclose(b["facility"], [1.4e6, 7e6])
    assert np.all(b["losses"] == 0) and np.all(b["fixed"] == 0)
    assert f.max_it_power_w(14e6, 0.0, 30.0, 20.0) == pytest.approx(10e6, rel=1e-9)
    assert np.isinf(f.heat_rejection_capacity_w(30.0, 20.0))


def test_pue_curve_mode_values_and_validation():
    f = _fac("curve")
    design = 20e6 / 1.4
    assert f.pue(0.5 * design, 0.0, 20.0, 14.0) == pytest.approx(1.5)
    assert f.pue(0.5 * design, 0.0, 30.0, 20.0) == pytest.approx(1.6)
    with pytest.raises(ValidationError):
        PueCurveSpec(load=[0.1, 0.2], pue=[5.0, 1.0])  # facility power would fall with IT load
    with pytest.raises(ValidationError):
        PueCurveSpec(load=[0.5, 0.1], pue=[1.5, 1.6])


def test_zero_it_costs_fixed_and_no_load_losses():
    f = _fac("towers")
    b = f.breakdown(0.0, 0.0, 20.0, 14.0)
    assert b["fixed"] == pytest.approx(0.002 * 20e6)
    assert b["loss_ups"] == pytest.approx(0.0376 * 20e6)
    assert b["facility"] > b["fixed"] + b["loss_ups"]


def test_spec_parsing_and_errors():
    spec = FacilitySpec.model_validate({"interconnect": "20 MW", "power_chain": {"ups_rating": "12 MW",
                                                                                "fixed_load": "100 kW"}})
    f = build_facility(spec)
    assert f.interconnect_w == 20e6 and f.ups_rating_w == 12e6 and f.fixed_w == 1e5
    with pytest.raises(ValidationError, match="must be > 0"):
        FacilitySpec.model_validate({"interconnect": "-5 MW"})
    with pytest.raises(ValidationError):
        FacilitySpec.model_validate({"interconnect": "20 MW", "cooling": {"kind": "chiller_plant", "colour": 1}})


def test_weather_drives_facility_through_a_day():
    spec = FacilitySpec.model_validate({"interconnect": "20 MW", "weather": {"kind": "synthetic", "preset": "hot-dry"}})
    f = build_facility(spec)
    t = np.arange(0, 86400, 300.0)
    t_db, t_wb = f.weather.at(t)
    p = f.pue(10e6, 0.0, t_db, t_wb)
    assert np.argmax(p) == np.argmax(t_wb)  # towers follow the wet-bulb
    dry = build_facility(spec.model_copy(update={"cooling": FacilitySpec.model_validate(
        {"interconnect": 1, "cooling": {"kind": "chiller_plant", "heat_rejection": "dry_cooler"}}).cooling}))
    q = dry.heat_rejection_capacity_w(t_db, t_wb, 0.0)
    # afternoon peak (41 degC > 35 degC rating): lowest capacity at the hottest dry-bulb
    assert np.argmin(q) == np.argmax(t_db) and q.min() < 0.95 * 20e6 and q.max() == 20e6
    nordic = build_facility(FacilitySpec.model_validate(
        {"interconnect": "20 MW", "weather": {"kind": "synthetic", "preset": "nordic"}}), clock_s=14 * 86400.0)
    b = nordic.breakdown(10e6, 0.0, *nordic.weather.at(t))
    assert np.mean(b["economizer_fraction"] == 1.0) > 0.9  # winter economizer hours
    hot = f.breakdown(10e6, 0.0, t_db, t_wb)
    assert np.all(hot["economizer_fraction"] == 0.0)


def test_pue_levels_match_calibration_c1():
    """Average air-cooled site ~1.5–1.6 and hyperscale/liquid ~1.1 [UPT][GOOG] (CALIBRATION C1)."""
    t_db = np.array([10.0, 15.0, 20.0])  # temperate day
    t_wb = wet_bulb_c(t_db, 0.6)
    average = build_facility(FacilitySpec.model_validate({
        "interconnect": "20 MW", "power_chain": {"ups_redundancy": 2},
        "cooling": {"kind": "chiller_plant", "heat_rejection": "dry_cooler", "chw_supply_t": 7,
                    "economizer": False, "fan_exponent": 0, "cop_adjust": -0.11, "air_delta_t": 13.9}}))
    hyperscale = build_facility(FacilitySpec.model_validate({
        "interconnect": "20 MW", "power_chain": {"ups_l0": 0.005, "ups_l1": 0.005},
        "cooling": {"kind": "liquid"}}))
    p_avg = average.pue(10e6, 0.0, t_db, t_wb)
    p_hyp = hyperscale.pue(12e6, 0.9, t_db, t_wb)
    assert np.all((p_avg > 1.45) & (p_avg < 1.7)), p_avg
    assert np.all((p_hyp > 1.04) & (p_hyp < 1.13)), p_hyp


@pytest.mark.parametrize("kind", ["towers", "liquid", "fixed"])
def test_max_it_for_cooling_inverts_heat(kind):
    f = build_facility(FacilitySpec.model_validate(
        {"interconnect": "20 MW", "cooling": {**KINDS[kind], "capacity": "12 MW"}}))
    t_db = np.linspace(0, 45, 10)
    t_wb = wet_bulb_c(t_db, 0.5)
    it = f.max_it_for_cooling_w(t_db, t_wb, 0.9)
    np.testing.assert_allclose(f.heat_to_reject_w(it), f.heat_rejection_capacity_w(t_db, t_wb, 0.9), rtol=1e-12)
    np.testing.assert_allclose(f.breakdown(it, 0.9, t_db, t_wb)["heat_w"], f.heat_to_reject_w(it), rtol=1e-12)
    assert np.all(np.diff(it) <= 0)


@pytest.mark.parametrize("kind", ["fixed", "curve"])
def test_a_quick_study_plant_without_capacity_runs_with_no_cooling_ceiling(kind, tmp_path, capsys):
    """docs/facility.md's quick studies (fixed_pue / pue_curve without `capacity`: unlimited) run: the cooling
    figures of the Token Production Function are null, not inf (which failed the run's invariant check), the run
    says why, and `dcsim tpf` prints the plant as unlimited (its --json null)."""
    import json

    import yaml

    from conftest import small_scenario
    from dcsim.cli import main
    from dcsim.engine import run
    from dcsim.scenario import load_scenario

    d = small_scenario(duration="10 min")
    d["facility"]["cooling"] = KINDS[kind]
    res = run(load_scenario(d))
    rep = res.report
    assert rep["tpf"]["cooling_tok_s"] is None and rep["tpf"]["moments"]["hottest"]["slack"]["cooling"] is None
    assert rep["binding"]["median_slack"]["cooling"] is None
    assert rep["tpf"]["compute_tok_s"] > 0 and rep["tokens"]["output"] > 0
    assert any("cooling has no capacity" in w for w in rep["warnings"])
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(d))
    assert main(["tpf", str(f)]) == 0
    assert "cooling Q =    unlimited" in capsys.readouterr().out
    assert main(["tpf", str(f), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["moments"]["peak_demand"]["cooling_tok_s"] is None


@pytest.mark.parametrize("kind", ["fixed", "curve"])
def test_a_quick_study_plant_warns_of_the_power_chain_fields_it_does_not_read(kind):
    """A fixed_pue / pue_curve plant's PUE covers delivery losses and fixed loads, which it reports as zero: a
    scenario that sets them is told they are not used (they were dropped without a word); the generator is said to
    limit nothing on every plant (no outage is modelled), in a warning of its own."""
    from conftest import small_scenario
    from dcsim.engine.preflight import preflight
    from dcsim.scenario import load_scenario

    d = small_scenario(duration="10 min")
    d["facility"]["cooling"] = KINDS[kind]
    assert not any("power_chain" in w for w in preflight(load_scenario(d)).warnings)
    d["facility"]["power_chain"] = {"fixed_load": "2 kW", "pdu_loss_fraction": 0.02, "generator": "1 MW"}
    (w, g) = sorted(w for w in preflight(load_scenario(d)).warnings if "power_chain" in w)
    assert w.startswith("facility.power_chain.fixed_load, pdu_loss_fraction not used") and "generator" not in w
    assert g.startswith("facility.power_chain.generator is recorded but limits nothing")
    d["facility"]["cooling"] = {"kind": "chiller_plant"}
    assert [w for w in preflight(load_scenario(d)).warnings if "power_chain" in w] == [g]


# --------------------------------------------------------------------------- UPS rating and generator

def _small_run(**over):
    from conftest import small_scenario
    from dcsim.engine.build import build_models
    from dcsim.engine.preflight import preflight
    from dcsim.engine.run import run_models
    from dcsim.scenario import load_scenario

    d = small_scenario(**{"duration": "30 min", "workload.arrivals.rate": "600 req/s"})
    d["facility"]["power_chain"] = over
    sc = load_scenario(d)
    return preflight(sc), run_models(build_models(sc))


def test_the_ups_rating_limits_it_power_and_power_binds():
    """power_chain.ups_rating was described as a limit on IT + PDU load but never applied: a 100 kW UPS carried
    344 kW of IT and its no-load losses shrank, so PUE fell (1.392 vs 1.538 at 1 MW). The rating now caps IT at
    rating / (1 + PDU loss): delivered power binds there, and preflight says the UPS binds first."""
    pre, res = _small_run(ups_rating="120 kW")
    ts = res.timeseries
    lim = 120e3 / 1.01
    assert np.all(ts["it_power_w"] <= lim * (1 + 1e-9)) and np.max(ts["it_power_w"]) > 0.9 * lim  # DVFS levels
    assert res.report["binding"]["share"]["power"] == pytest.approx(1.0)
    assert any("ups_rating" in w and "binds at the UPS first" in w for w in pre.warnings)
    # the default rating (the interconnect) never binds: the meter cap holds IT + losses below it
    _, base = _small_run()
    _, same = _small_run(ups_rating="200 kW")  # = small_scenario's interconnect
    np.testing.assert_array_equal(base.timeseries["it_power_w"], same.timeseries["it_power_w"])


def test_a_ups_below_the_idle_fleet_is_refused_and_a_generator_is_said_to_limit_nothing():
    from dcsim.scenario import ScenarioError

    with pytest.raises(ScenarioError, match=r"facility.power_chain.ups_rating.*below the idle fleet"):
        _small_run(ups_rating="1 kW")
    pre, _ = _small_run(generator="100 kW")
    assert any("generator is recorded but limits nothing" in w for w in pre.warnings)


def test_a_shipped_weather_file_is_found_by_name_from_any_folder(tmp_path):
    """year-richmond named its EPW as ../dcsim/data/weather/..., so a copy of scenarios/ elsewhere did not run.
    A bare shipped name resolves to dcsim's own file when none sits beside the scenario; a missing file's error
    names the shipped ones."""
    import shutil

    from conftest import ROOT
    from dcsim.engine.preflight import preflight
    from dcsim.scenario import apply_overrides, load_scenario, read_yaml
    from dcsim.thermal.weather import WeatherFileNotFound, resolve_weather_path, shipped_weather_dir

    name = "USA_VA_Richmond.Intl.AP.724010_TMY3.epw"
    assert resolve_weather_path(name, tmp_path) == shipped_weather_dir() / name
    local = tmp_path / name
    local.write_bytes((shipped_weather_dir() / name).read_bytes())
    assert resolve_weather_path(name, tmp_path) == local  # a file beside the scenario wins
    with pytest.raises(WeatherFileNotFound, match="shipped files \\(by name\\): .*Richmond"):
        resolve_weather_path("nowhere.epw", tmp_path)
    copy = tmp_path / "elsewhere" / "year.yaml"
    copy.parent.mkdir()
    shutil.copy(ROOT / "scenarios" / "year-richmond.yaml", copy)
    sc = load_scenario(apply_overrides(read_yaml(copy), {"duration": "1 h"}), base_dir=copy.parent)
    assert preflight(sc).models.facility.weather is not None  # runs from a folder with no dcsim/data beside it


def test_a_liquid_trim_staged_on_units_far_larger_than_its_load_is_warned():
    """The trim's COP is read per staging unit (air_side.chiller_unit, default capacity x air_design_fraction): a
    unit 9x what the trim carries at full load runs at the regression's 0.2 floor. Preflight says so for a liquid
    plant as for a chiller plant (before: only chiller plants were checked); the shipped campus is not warned."""
    from pathlib import Path

    from dcsim.engine.preflight import preflight
    from dcsim.scenario import apply_overrides, load_scenario, read_yaml

    path = Path(__file__).resolve().parents[1] / "scenarios" / "campus-interconnect.yaml"

    def floor_warnings(**ov):
        raw = apply_overrides(read_yaml(path), {"duration": "1 h", **ov})
        return [w for w in preflight(load_scenario(raw, base_dir=path.parent)).warnings if "part-load floor" in w]

    assert floor_warnings() == []
    (w,) = floor_warnings(**{"facility.cooling.air_side.chiller_unit": "30 MW"})
    assert w.startswith("facility.cooling.air_side.chiller_unit 30 MW is 9.") and "trim chillers" in w
    (w,) = floor_warnings(**{"facility.cooling.capacity": "300 MW"})     # the default unit: 45 MW
    assert w.startswith("facility.cooling.air_side.chiller_unit (default capacity x air_design_fraction) 45 MW")


def test_the_schema_tells_the_truth_about_the_trim_chiller():
    """`dcsim schema` describes a liquid plant's air_side (TrimChillerSpec) as it behaves: its capacity's default is
    what meets the plant's capacity with the dry coolers, not the interconnect; rating_t_out and derate_per_k are
    refused, not settable; its staging unit defaults to capacity x air_design_fraction. Before: the chiller plant's
    descriptions were inherited."""
    from dcsim.scenario.facility import LiquidCoolingSpec, TrimChillerSpec

    props = TrimChillerSpec.model_json_schema()["properties"]
    assert "interconnect" not in props["capacity"]["description"]
    assert "dry coolers" in props["capacity"]["description"]
    for k in ("rating_t_out", "derate_per_k"):
        assert props[k]["description"].startswith("refused")
        with pytest.raises(ValidationError, match=k):
            LiquidCoolingSpec.model_validate({"air_side": {k: 30.0 if k == "rating_t_out" else 0.02}})
    assert "air_design_fraction" in props["chiller_unit"]["description"]
