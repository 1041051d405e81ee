"""Every shipped scenario states its claims in an ``expect:`` block, and keeps them (issue 12.6)."""

from pathlib import Path

import pytest

import dcsim
from dcsim.cli import main
from dcsim.metrics.expect import check_expectations
from dcsim.scenario import ScenarioError, load_scenario

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))


def test_there_are_shipped_scenarios():
    assert len(SCENARIOS) >= 5


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_keeps_its_expect_block(path):
    sc = load_scenario(path)
    assert sc.expect, f"{path.name}: no expect: block stating what its header comment promises"
    assert sc.start is not None, f"{path.name}: no start: (the clock of day)"
    rep = dcsim.run(sc).report
    failed = [c for c in rep["expect"]["checks"] if not c["ok"]]
    assert not failed, f"{path.name}: " + "; ".join(f"{c['path']} = {c['value']} not in [{c['lo']}, {c['hi']}]"
                                                    for c in failed)


def test_heatwave_pair_shows_the_difference_the_plant_makes():
    """Both plants are rated 1.04 MW at 35 degC. Above 37 degC the liquid plant's W32 dry coolers reject
    nothing and its trim (863 kW, what meets the rating) derates below the air hall's chillers: cooling binds
    longer and fewer tokens are served, at a lower PUE and less energy. With a trim as large as the air hall's
    plant the liquid hall's capacity is the air hall's at every tick: the same tokens and binding.
    (Until 2026-12-04 the trim was unlimited and the liquid plant rated at 40 degC: it served more tokens.)"""
    path = SCENARIOS[[p.stem for p in SCENARIOS].index("heatwave-liquid")]
    air = dcsim.run(SCENARIOS[[p.stem for p in SCENARIOS].index("heatwave-air")]).report
    liq = dcsim.run(path).report
    big = dcsim.run(path, overrides={"facility.cooling.air_side.capacity": "1.04 MW"}).report
    assert air["gpus"] == liq["gpus"] and air["throughput_tok_s"]["demand_output"] == liq["throughput_tok_s"]["demand_output"]
    assert liq["binding"]["share"]["cooling"] > air["binding"]["share"]["cooling"] + 0.1
    assert liq["tokens"]["output"] < 0.97 * air["tokens"]["output"]
    assert liq["energy_j"]["facility"] < air["energy_j"]["facility"] and liq["pue"] < air["pue"]
    assert big["tokens"]["output"] == pytest.approx(air["tokens"]["output"], rel=1e-9)
    assert big["binding"]["share"] == pytest.approx(air["binding"]["share"], abs=1e-9)
    assert big["pue"] < air["pue"]


def test_check_expectations_by_hand():
    rep = {"a": {"b": 0.5, "s": "x"}, "l": [{"v": 3.0}]}
    out = check_expectations(rep, {"a.b": (0.4, 0.6), "l.0.v": (4.0, 5.0), "a.s": (0, 1), "a.zz": (0, 1)})
    assert [c["ok"] for c in out["checks"]] == [True, False, False, False]
    assert out["checks"][1]["reason"] == "below the bounds" and out["checks"][3]["value"] is None
    assert out["passed"] is False


def test_bad_expect_bounds_are_refused():
    raw = load_scenario(SCENARIOS[0]).model_dump(mode="json")
    raw["expect"] = {"pue": [2.0, 1.0]}
    with pytest.raises(ScenarioError, match="lo <= hi"):
        load_scenario(raw)


def test_run_check_exits_1_when_a_claim_fails(tmp_path, capsys):
    ref = [p for p in SCENARIOS if p.stem == "reference"][0]
    args = ["run", str(ref), "--out", str(tmp_path / "a"), "--no-plots", "-q", "--set", "duration=2 h"]
    assert main(args + ["--set", "expect={pue: [1.0, 3.0]}", "--check"]) == 0
    assert main(args[:3] + [str(tmp_path / "b")] + args[4:] + ["--set", "expect={pue: [5.0, 6.0]}", "--check"]) == 1
    assert "1 of 1 checks failed" in capsys.readouterr().err
    # without --check a failed claim is reported, not an error
    assert main(args[:3] + [str(tmp_path / "c")] + args[4:] + ["--set", "expect={pue: [5.0, 6.0]}"]) == 0
