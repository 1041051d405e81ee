"""Hostile inputs whose errors must name the right thing: plan targets no fleet can meet, and the cosmetic errors of
the audit (environment, flags, paths, dates, misspelt keys, booleans for numbers)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "scenarios" / "reference.yaml"


@pytest.mark.parametrize("target, words", [
    ("ttft.p99<=1 ms", "a 1-token prompt prefilled alone takes"),
    ("tpot.p50<=1 ms", "one decode step of a request alone takes"),
    ("e2e.p99<=2 ms", "single iteration alone takes"),
])
def test_plan_refuses_a_target_below_one_unloaded_request_before_searching(monkeypatch, capsys, target, words):
    """`ttft.p99<=1 ms` searched 2 min 48 s, then said no GPU count meets the targets: below one request's own
    unloaded iteration at the top clock (the node's step model) it is refused before any run, prefixed `dcsim plan:`."""
    import dcsim.plan as plan
    from dcsim.cli import main

    def no_search(*a, **k):
        raise AssertionError("the search ran")
    monkeypatch.setattr(plan, "_fast", no_search)
    assert main(["plan", str(REF), "-q", "max-gpus", "--target", target, "--no-confirm"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"dcsim plan: error: --target {target}: ") and words in err and "top clock" in err


def test_fastest_step_is_the_node_iteration_of_one_token():
    from dcsim.engine.build import build_models
    from dcsim.plan import fastest_step_s
    from dcsim.scenario import load_scenario

    m = build_models(load_scenario(str(REF)))
    best = fastest_step_s(m)
    step = m.groups[0].node.step_fn(1.0)
    assert best["ttft"][0] == pytest.approx(step(1, 0, 0.0)[0]) and best["tpot"][0] == pytest.approx(step(0, 1, 1.0)[0])
    # an iteration at least reads the weights once: 70B BF16 over 4 H100s at 3.35 TB/s is >= 10 ms
    assert best["tpot"][0] > 140e9 / 4 / 3.35e12


def _cli(capsys, *argv):
    from dcsim.cli import main

    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse's refusals
        code = e.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("value, words", [("nan GB", "'nan GB' is not a finite size"), ("abc", "cannot read 'abc'")])
def test_a_bad_memory_limit_is_an_invalid_setting_not_a_scenario(monkeypatch, capsys, value, words):
    monkeypatch.setenv("DCSIM_MEMORY_LIMIT", value)
    code, err = _cli(capsys, "validate", str(REF))
    assert code == 2 and "environment: invalid setting (1 error)" in err and f"  DCSIM_MEMORY_LIMIT: {words}" in err
    assert "invalid scenario" not in err and "nan bytes" not in err


def test_a_negative_seed_is_blamed_on_the_flag(capsys):
    code, err = _cli(capsys, "run", str(REF), "--seed", "-1")
    assert code == 2 and "argument --seed: must be >= 0" in err and str(REF) not in err


def test_an_out_path_under_a_file_names_the_file(tmp_path, capsys):
    f = tmp_path / "outfile"
    f.write_text("")
    code, err = _cli(capsys, "run", str(REF), "--out", str(f / "sub"))
    assert code == 2 and f"{f} is a file, not a folder" in err and "File exists" not in err


def test_a_bad_date_in_set_is_called_a_bad_date():
    from dcsim.scenario import ScenarioError, load_scenario

    with pytest.raises(ScenarioError) as e:
        load_scenario(str(REF), overrides=["start=2026-13-01"])
    assert e.value.errors == [("start", "'2026-13-01' is not a time on the clock or calendar: month must be in 1..12")]


@pytest.mark.parametrize("key, guess", [("facility.interconect", "interconnect"), ("controler.tick", "controller"),
                                        ("racks.0.node.tensor_paralel", "tensor_parallel"),
                                        ("facility.cooling.capcity", "capacity")])
def test_a_misspelt_scenario_key_gets_close_matches(key, guess):
    """As a misspelt expect: key does (difflib, cutoff 0.6), within the section the key sits in."""
    from dcsim.scenario import ScenarioError, load_scenario

    with pytest.raises(ScenarioError) as e:
        load_scenario(str(REF), overrides=[f"{key}=1"])
    (path, reason), = e.value.errors
    assert reason.startswith("unknown key") and f"did you mean {guess}" in reason, reason


@pytest.mark.parametrize("value", [0, 1, "'false'", 0.0])
def test_a_number_or_string_for_a_boolean_is_refused(value):
    """A boolean for a number is refused (NoBoolNumbers); the other way round, slo_estimate=0 ran as false."""
    from dcsim.scenario import ScenarioError, load_scenario

    with pytest.raises(ScenarioError, match=r"serving\.slo_estimate: expected true or false, got"):
        load_scenario(str(REF), overrides=[f"serving.slo_estimate={value}"])
    assert load_scenario(str(REF), overrides=["serving.slo_estimate=false"]).serving.slo_estimate is False


def test_tpf_header_has_thousands_separators(capsys):
    """"3200000 GPUs in 800000 replicas" read as digits to count."""
    from dcsim.cli import main

    assert main(["tpf", str(REF), "--set", "racks.0.count=1000", "--set", "facility.interconnect=50 MW",
                 "--set", "facility.cooling.capacity=40 MW"]) == 0
    assert "reference: 32,000 GPUs in 8,000 replicas," in capsys.readouterr().out
