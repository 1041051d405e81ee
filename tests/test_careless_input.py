"""Careless input caught at the door (audit AUH, 2026-12-05): unit slips in SLO targets, prices and rack limits,
a price or carbon intensity written as a quantity, a milli-token rate read as millions, a 1000x contract blamed on
the cooling plant, and a Ctrl-C while a finished run is written."""

from __future__ import annotations

import pytest

from dcsim.metrics.fmt import fmt_si


# ------------------------------------------------------------------ AUH 8: counts below 1 print plainly
def test_a_token_rate_below_one_prints_plainly_not_with_a_milli_prefix():
    # a one-request trace over 2 h printed "6.11 mtok/s" beside "171 ktok/s": read as millions
    assert fmt_si(0.00611, "tok/s") == "0.00611 tok/s"
    assert fmt_si(0.5, "") == "0.5" and fmt_si(0.25, "tokens") == "0.25 tokens"
    assert fmt_si(-0.6672, "", 4) == "-0.6672"
    # physical units keep their milli and micro prefixes (mW never reads as MW)
    assert fmt_si(6e-4, "W") == "600 µW" and fmt_si(0.6, "J") == "600 mJ"
    # k and up unchanged
    assert fmt_si(1.71e5, "tok/s") == "171 ktok/s"


def test_compare_and_the_summary_share_the_one_rule():
    from dcsim.report.compare import _fmt_val

    assert _fmt_val(0.6672, "tok/s") == fmt_si(0.6672, "", 4) == "0.6672"
    assert _fmt_val(57330.0, "tok/s") == "57.33k"


# ------------------------------------------------------------------ AUH 7: a quantity is a constant series
@pytest.mark.parametrize("path,text,kind", [("price", "80 USD/MWh", "price"), ("carbon", "350 g/kWh", "carbon")])
def test_a_price_or_carbon_quantity_is_a_constant_series(path, text, kind):
    from dcsim.scenario import load_scenario
    from dcsim.units import parse_quantity

    sc = load_scenario("scenarios/reference.yaml", overrides={f"grid.{path}": text})
    spec = getattr(sc.grid, path)
    assert spec.kind == "constant"
    assert spec.value == pytest.approx(parse_quantity(text, kind))


def test_a_bare_number_price_is_still_refused_with_the_unit_to_write():
    from dcsim.scenario import ScenarioError, load_scenario

    for v in ("80", 80, {"kind": "constant", "value": "80"}):  # a quoted "80" passed as 80 USD/J (2.88e11 USD/MWh)
        with pytest.raises(ScenarioError) as e:
            load_scenario("scenarios/reference.yaml", overrides={"grid.price": v})
        assert "needs a unit" in str(e.value) and "PriceSeriesSpec" not in str(e.value)
    assert load_scenario("scenarios/reference.yaml", overrides={"grid.price": "0"}).grid.price.value == 0.0


def test_a_unit_on_a_plain_number_field_says_it_takes_none():
    """`peak_hour: 4 pm` was refused with "unit 'pm' is not a count unit (expected one of )": an empty list where the
    planner looks for what to write. A field that takes a plain number now says so."""
    from dcsim.scenario import ScenarioError, load_scenario

    with pytest.raises(ScenarioError) as e:
        load_scenario("scenarios/reference.yaml", overrides={"facility.weather.peak_hour": "4 pm"})
    msg = str(e.value)
    assert "facility.weather.peak_hour" in msg and "'pm'" in msg and "plain number" in msg
    assert "expected one of )" not in msg


# ------------------------------------------------------------------ AUH 1, 6, 11: unit slips named at the door
REF = "scenarios/reference.yaml"


def _warnings(overrides: dict) -> list[str]:
    from dcsim.engine.preflight import preflight
    from dcsim.scenario import load_scenario

    return preflight(load_scenario(REF, overrides=overrides)).warnings


def test_slo_targets_in_seconds_where_ms_were_meant_are_warned():
    """slo_tpot: 100, slo_ttft: 1000 (ms meant; a bare number is seconds) validated with 0 warnings and the reference
    run read SLO attainment 79.9 % where the intended targets give 24.1 % (docs/workload.md)."""
    w = _warnings({"workload.classes.0.slo_tpot": 100, "workload.classes.0.slo_ttft": 1000})
    tpot = [x for x in w if x.startswith("workload.classes[0].slo_tpot:")]
    ttft = [x for x in w if x.startswith("workload.classes[0].slo_ttft:")]
    assert len(tpot) == 1 and "100 s" in tpot[0] and "ms written as s?" in tpot[0] and "'100 ms'" in tpot[0], w
    assert len(ttft) == 1 and "1000 s" in ttft[0] and "'1000 ms'" in ttft[0], w


def test_slo_targets_below_any_step_are_warned_and_plausible_ones_are_not():
    w = _warnings({"workload.classes.0.slo_tpot": "1 us", "workload.classes.0.slo_ttft": "1 us"})
    assert sum("shorter than any" in x and "µs written for ms?" in x for x in w) == 2, w
    w = _warnings({"workload.classes.0.slo_tpot": "80 ms", "workload.classes.0.slo_ttft": "30 s"})
    assert not [x for x in w if "slo_t" in x], w
    # the thresholds themselves: 10 s per token and 60 s to the first token pass, a hair above is warned
    w = _warnings({"workload.classes.0.slo_tpot": "10 s", "workload.classes.0.slo_ttft": "60 s"})
    assert not [x for x in w if "slo_t" in x], w
    w = _warnings({"workload.classes.0.slo_tpot": "10.5 s", "workload.classes.0.slo_ttft": "61 s"})
    assert len([x for x in w if "slo_t" in x]) == 2, w


@pytest.mark.parametrize("path,value,words", [
    ("grid.price", "80 USD/kWh", ["grid.price:", "80,000 USD/MWh", "USD/kWh written for USD/MWh?", "(80 USD/MWh then)"]),
    ("economics.price", "80 USD/kWh", ["economics.price:", "80,000 USD/MWh"]),
    ("grid.price", "0.08 USD/MWh", ["grid.price:", "USD/MWh written for USD/kWh?", "(80 USD/MWh then)"]),
    ("grid.carbon", "350 g/MWh", ["grid.carbon:", "g/MWh written for g/kWh?", "(350 g/kWh then)"]),
    ("grid.carbon", "350 g/J", ["grid.carbon:", "above 2,000 g/kWh"]),
])
def test_a_price_or_carbon_intensity_a_thousand_times_off_is_warned(path, value, words):
    w = [x for x in _warnings({path: value}) if x.startswith(path)]
    assert len(w) == 1 and all(s in w[0] for s in words), w


@pytest.mark.parametrize("path,value", [("grid.price", "80 USD/MWh"), ("grid.price", "0 USD/MWh"),
                                        ("grid.price", "4000 USD/MWh"), ("grid.carbon", "350 g/kWh"),
                                        ("grid.carbon", "0 g/kWh")])
def test_plausible_prices_and_intensities_are_not_warned(path, value):
    assert not [x for x in _warnings({path: value}) if x.startswith(path)]


def test_a_rack_limit_a_thousand_times_its_draw_is_warned():
    """racks[0].power.power_limit: 60000 kW (60 kW meant) passed silently; only the reverse was warned."""
    w = _warnings({"racks.0.power.power_limit": "60000 kW", "racks.0.cooling.limit": "50 MW"})
    p = [x for x in w if x.startswith("racks[0].power.power_limit:")]
    c = [x for x in w if x.startswith("racks[0].cooling.limit:")]
    assert len(p) == 1 and "60 MW" in p[0] and "never binds" in p[0] and "did you mean 60 kW?" in p[0], w
    assert len(c) == 1 and "did you mean 50 kW?" in c[0], w
    assert not [x for x in _warnings({}) if "never binds" in x]  # the shipped 60 kW / 50 kW racks


def test_a_contract_a_thousand_times_too_large_is_named_not_the_cooling_plant():
    """495 MW for 495 kW: the UPS and transformer ratings follow the contract and their no-load losses (19.61 MW)
    overwhelm the plant; the refusal named facility.cooling with no unit hint."""
    from dcsim.engine.preflight import preflight
    from dcsim.scenario import ScenarioError, load_scenario

    for cap, meant in (("495 MW", "did you mean 495 kW?"), ("495 GW", "did you mean 495 kW?")):
        with pytest.raises(ScenarioError) as e:
            preflight(load_scenario(REF, overrides={"facility.interconnect": cap}))
        assert [p for p, _ in e.value.errors] == ["facility.interconnect"], e.value.errors
        assert "a unit slip" in str(e.value) and meant in str(e.value) and "follow the interconnect" in str(e.value)
    # a deliberate what-if below the slip factor (10 MW, 29x) keeps its reason on the plant
    with pytest.raises(ScenarioError) as e:
        preflight(load_scenario(REF, overrides={"facility.interconnect": "10 MW"}))
    assert [p for p, _ in e.value.errors] == ["facility.cooling"]


# ------------------------------------------------------------------ AUH 3: Ctrl-C while a finished run is written
def _run_interrupted_in_the_writer(monkeypatch, capsys, tmp_path, *, again: bool):
    import dcsim.report
    from dcsim.cli import main

    real = dcsim.report.write_outputs

    def writer(res, out_dir, force=False, plots=True, **kw):  # report.json written, then Ctrl-C in the figures
        real(res, out_dir, force=force, formats=("json",), plots=False)
        raise KeyboardInterrupt

    monkeypatch.setattr(dcsim.report, "write_outputs", writer)
    if again:  # a second Ctrl-C while the run's data files are written (dcsim.report.write.write_data_files)
        import dcsim.report.write

        def no(*a, **k):
            raise KeyboardInterrupt

        monkeypatch.setattr(dcsim.report.write, "atomic_write_bytes", no)
    out = tmp_path / "o"
    code = main(["run", REF, "--out", str(out), "--set", "duration=1h", "--quiet"])
    return code, out, capsys.readouterr().err


def test_ctrl_c_while_a_finished_run_is_written_keeps_its_report(monkeypatch, capsys, tmp_path):
    """The whole run was thrown away and the one word "interrupted" printed (7 simulated days lost)."""
    import json

    code, out, err = _run_interrupted_in_the_writer(monkeypatch, capsys, tmp_path, again=False)
    assert code == 130
    rep = json.loads((out / "report.json").read_text())
    assert rep["duration_s"] == 3600 and not rep.get("partial")
    assert (out / "timeseries.csv").is_file() and not (out / "report.html").exists()
    assert "interrupted while writing the finished run's files" in err and str(out) in err, err
    assert "report.json, timeseries.csv" in err and "not written: report.html" in err, err
    assert not list(tmp_path.glob(".o.tmp-*")) and not list(tmp_path.glob(".o.lock"))


def test_a_second_ctrl_c_says_nothing_was_written_and_what_was_lost(monkeypatch, capsys, tmp_path):
    code, out, err = _run_interrupted_in_the_writer(monkeypatch, capsys, tmp_path, again=True)
    assert code == 130 and not out.exists()
    assert f"nothing written to {out}" in err and "the 60 min simulated are lost" in err, err
    assert not list(tmp_path.glob(".o.tmp-*"))


@pytest.mark.parametrize("doc,cmd,overrides", [
    ("docs/workload.md", "--set workload.classes.0.slo_tpot=100", {"workload.classes.0.slo_tpot": 100}),
    ("docs/grid.md", "--set 'grid.price=80 USD/kWh'", {"grid.price": "80 USD/kWh"}),
    ("docs/limits.md", '--set racks.0.power.power_limit="60000 kW"', {"racks.0.power.power_limit": "60000 kW"}),
])
def test_the_warnings_the_docs_paste_are_the_ones_preflight_gives(doc, cmd, overrides):
    from pathlib import Path

    text = Path(doc).read_text()
    head = f"dcsim validate scenarios/reference.yaml {cmd}\n"
    assert head in text
    lines = []
    for line in text.split(head, 1)[1].splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].strip())
    pasted = " ".join(lines).removeprefix("warning: ")
    assert pasted in _warnings(overrides)
