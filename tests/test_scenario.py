"""Scenario files: good files load, every kind of bad input is rejected with the field named."""

import re
from pathlib import Path

import pytest
import yaml

import dcsim
from dcsim.scenario import ScenarioError, load_scenario
from dcsim.units import UnitError, parse_quantity

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def ref() -> dict:
    return yaml.safe_load((ROOT / "scenarios" / "reference.yaml").read_text())


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_shipped_scenarios_load(path):
    sc = load_scenario(path)
    assert sc.duration > 0 and sc.facility.interconnect > 0
    assert sc.base_dir == path.parent


def test_units_are_parsed_to_si():
    sc = load_scenario(ROOT / "scenarios" / "reference.yaml")
    assert sc.facility.interconnect == pytest.approx(495e3)
    assert sc.duration == pytest.approx(86400.0)
    assert sc.controller.tick == pytest.approx(60.0)
    assert parse_quantity("20 MW", "power") == 2e7
    assert parse_quantity("35 degC", "temperature") == 35.0
    assert parse_quantity("308.15 K", "temperature") == pytest.approx(35.0)
    assert parse_quantity("95 degF", "temperature") == pytest.approx(35.0)
    assert parse_quantity("120 ms", "time") == pytest.approx(0.12)
    assert parse_quantity("6 h", "time") == 21600.0
    assert parse_quantity("3.35 TB/s", "bandwidth") == pytest.approx(3.35e12)
    assert parse_quantity("989 TFLOP/s", "compute") == pytest.approx(9.89e14)
    assert parse_quantity("20 req/s", "rate") == 20.0
    assert parse_quantity("30%", "fraction") == pytest.approx(0.3)
    assert parse_quantity("80 USD/MWh", "price") == pytest.approx(80 / 3.6e9)
    with pytest.raises(UnitError):
        parse_quantity("20 kg", "power")


def _errors(raw) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as ei:
        load_scenario(raw)
    return ei.value.errors


def test_negative_quantity_names_field_and_value():
    raw = ref()
    raw["facility"]["cooling"]["capacity"] = "-5 kW"
    errs = _errors(raw)
    assert ("facility.cooling.capacity", "must be > 0, got -5 kW") in errs


@pytest.mark.parametrize(
    "mutate, path, words",
    [
        (lambda r: r["facility"].__setitem__("interconnect", "20 kg"), "facility.interconnect", "not a power unit"),
        (lambda r: r["facility"].__setitem__("interconect", "20 MW"), "facility.interconect", "unknown key"),
        (lambda r: r.__setitem__("bogus", 1), "bogus", "unknown key"),
        (lambda r: r.pop("duration"), "duration", "missing"),
        (lambda r: r.__setitem__("fidelity", "exact"), "fidelity", "fluid"),
        (lambda r: r["racks"][0].__setitem__("count", -3), "racks[0].count", "greater than or equal to 1"),
        (lambda r: r["racks"][0]["node"].__setitem__("max_batch", "lots"), "racks[0].node.max_batch", "integer"),
        (lambda r: r["facility"].__setitem__("interconnect", float("nan")), "facility.interconnect", "finite"),
        (lambda r: r["facility"].__setitem__("interconnect", "inf W"), "facility.interconnect", "finite"),
        (lambda r: r["controller"].__setitem__("tick", "0 s"), "controller.tick", "must be > 0"),
        (lambda r: r.__setitem__("seed", -1), "seed", "greater than or equal to 0"),
        (lambda r: r["facility"]["cooling"].__setitem__("kind", "magic"), "facility.cooling", "kind"),
    ],
)
def test_bad_input_rejected_with_field_path(mutate, path, words):
    raw = ref()
    mutate(raw)
    errs = _errors(raw)
    paths = [p for p, _ in errs]
    assert path in paths, errs
    reason = dict(errs)[path]
    assert words.lower() in reason.lower(), errs


def test_error_message_names_the_file(tmp_path):
    raw = ref()
    raw["facility"]["interconnect"] = "-1 MW"
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(raw))
    with pytest.raises(ScenarioError) as ei:
        load_scenario(f)
    msg = str(ei.value)
    assert str(f) in msg and "facility.interconnect: must be > 0, got -1 MW" in msg


def test_invalid_yaml_and_non_mapping(tmp_path):
    f = tmp_path / "x.yaml"
    f.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="line"):
        load_scenario(f)
    f.write_text("- just\n- a list\n")
    with pytest.raises(ScenarioError, match="mapping"):
        load_scenario(f)


def test_yaml_is_loaded_safely(tmp_path):
    f = tmp_path / "evil.yaml"
    f.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ScenarioError):
        load_scenario(f)


def test_overrides_dotted_paths():
    sc = load_scenario(ROOT / "scenarios" / "reference.yaml",
                       overrides=["facility.interconnect=15 MW", "racks.0.count=3", "seed=7"])
    assert sc.facility.interconnect == 15e6
    assert sc.racks[0].count == 3
    assert sc.seed == 7
    sc2 = load_scenario(ROOT / "scenarios" / "reference.yaml", overrides={"duration": "2 h"})
    assert sc2.duration == 7200


def test_scenarios_are_frozen():
    sc = load_scenario(ROOT / "scenarios" / "reference.yaml")
    with pytest.raises(Exception):
        sc.seed = 3


def test_json_schema_lists_top_level_keys():
    schema = dcsim.Scenario.model_json_schema()
    for key in ("name", "seed", "duration", "fidelity", "facility", "racks", "workload", "controller"):
        assert key in schema["properties"]


def test_format_quantity_round_trips_through_parse():
    from dcsim.units import format_quantity

    assert format_quantity(2e7, "power") == "20 MW"
    assert format_quantity(450e3, "power") == "450 kW"
    assert format_quantity(0.5, "power") == "0.5 W"
    assert format_quantity(7200, "time") == "2 h"
    assert format_quantity(3.35e12, "bandwidth") == "3.35 TB/s"
    assert format_quantity(35.0, "temperature") == "35 degC"
    for v, dim in ((1.234e6, "power"), (5.5e9, "energy"), (90.0, "time"), (9.89e14, "compute")):
        assert parse_quantity(format_quantity(v, dim), dim) == pytest.approx(v, rel=1e-3)


def test_a_request_rate_refuses_a_token_rate():
    """Arrival rates count requests; '200000 tok/s' was read as 200,000 req/s (~211x the load)."""
    from dcsim.units import UnitError, parse_quantity

    assert parse_quantity("200 req/s", "rate") == 200.0
    assert parse_quantity("120 requests/min", "rate") == 2.0
    assert parse_quantity("3 /s", "rate") == 3.0
    for bad in ("200000 tok/s", "5 tokens/s"):
        with pytest.raises(UnitError, match="counts requests"):
            parse_quantity(bad, "rate")


@pytest.mark.parametrize("path, sets", [
    ("scenarios/reference.yaml", ["duration=2 h"]),
    ("scenarios/reference.yaml", ["duration=20 min", "fidelity=request"]),
    ("scenarios/reference.yaml", ["duration=20 min", "fidelity=hybrid", "economics.price=0.1 USD/kWh",
                                  "economics.carbon_intensity=400 g/kWh"]),
    # as shipped: the run conftest.py's shipped_run shares (test_scenarios_expect reads the same), in its xdist group
    pytest.param("scenarios/curtailment.yaml", [], marks=pytest.mark.xdist_group("shipped-curtailment")),
    pytest.param("scenarios/chiller-trip.yaml", [], marks=pytest.mark.xdist_group("shipped-chiller-trip")),
    ("scenarios/grid-flex.yaml", ["duration=2 h"]),
    ("scenarios/mixed-fleet.yaml", ["duration=2 h"]),
    ("scenarios/reference.yaml", ["duration=4 d", "economics.price=0.1 USD/kWh",
                                  "economics.carbon_intensity=400 g/kWh"]),  # the annual block (runs > 3 days)
])
def test_report_shape_knows_every_report_key(path, sets, shipped_run):
    """Preflight refuses an expect key the report cannot have (dcsim.metrics.expect.report_shape: the typed record's
    dataclasses plus dcsim/data/report_shape.json for its dict and list blocks). Every key a run writes must be
    known to it: a report that gains a key fails here until the shape learns it."""
    from dcsim.engine.run import run
    from dcsim.metrics.expect import _known, report_shape

    # a file as shipped (no sets) is read from the run the other tests of that file share (read only, as here)
    rep = (run(ROOT / path, overrides=sets) if sets else shipped_run(Path(path).stem)).report
    shape = report_shape()

    def flat(o, p=""):
        if isinstance(o, dict):
            for k, v in o.items():
                yield from flat(v, f"{p}.{k}" if p else str(k))
        elif isinstance(o, list):
            for i, v in enumerate(o[:3]):
                yield from flat(v, f"{p}.{i}")
            if not o:
                yield p
        else:
            yield p

    unknown = sorted({k for k in flat(rep) if not _known(shape, k.split("."))})
    assert not unknown, f"report keys missing from dcsim/data/report_shape.json: {unknown[:20]}"
    # a dict/list block absent from the file would accept any key below it: only the text lists may
    from dcsim.metrics.expect import _ANY
    unchecked = sorted(k for k, v in shape.items() if v == _ANY)
    assert unchecked == ["notes", "warnings"], unchecked


def test_a_mapping_override_merges_unless_it_names_another_kind():
    """{"facility": {"interconnect": ...}} keeps the scenario's plant and weather (it replaced the whole section,
    silently: J/token 2.52 -> 2.17 and no cooling limit on the reference hall; the audit of the API, finding 1);
    a mapping naming another kind replaces; one string is refused, not read character by character."""
    from dcsim.scenario import ScenarioError, apply_overrides, read_yaml

    raw = read_yaml(ROOT / "scenarios" / "reference.yaml")
    a = apply_overrides(raw, {"facility": {"interconnect": "600 kW"}})
    assert a["facility"]["interconnect"] == "600 kW"
    assert a["facility"]["cooling"] == raw["facility"]["cooling"] and a["facility"]["weather"] == raw["facility"]["weather"]
    b = apply_overrides(raw, {"racks.0.node": {"gpu": "B200"}})
    assert b["racks"][0]["node"]["tensor_parallel"] == raw["racks"][0]["node"]["tensor_parallel"]
    c = apply_overrides(raw, {"facility.weather": {"kind": "constant", "t_db": 25}})
    assert c["facility"]["weather"] == {"kind": "constant", "t_db": 25}
    assert apply_overrides(raw, {"expect": {"pue": [1.0, 3.0]}})["expect"] == {"pue": [1.0, 3.0]}  # claims: replaced
    with pytest.raises(ScenarioError, match="got one string"):
        apply_overrides(raw, "facility.interconnect=350 kW")


@pytest.mark.parametrize("start", ["2026-07-15T13:00+02:00", "2026-07-15T13:00Z"])
def test_a_start_with_a_time_zone_is_refused(start):
    """start: is the site's wall clock; an offset was dropped without a word (the audit of the API)."""
    from dcsim.scenario import ScenarioError, load_scenario

    raw = yaml.safe_load((ROOT / "scenarios" / "reference.yaml").read_text())
    with pytest.raises(ScenarioError, match="without a time zone"):
        load_scenario({**raw, "start": start})
    assert load_scenario({**raw, "start": "2026-07-15T13:00"}).start.hour == 13


def test_a_boolean_seed_is_refused():
    from dcsim.scenario import ScenarioError, load_scenario

    raw = yaml.safe_load((ROOT / "scenarios" / "reference.yaml").read_text())
    with pytest.raises(ScenarioError, match="boolean"):
        load_scenario({**raw, "seed": True})


def test_a_dict_scenario_reads_its_files_from_base_dir(tmp_path):
    """dcsim.run(raw_dict, base_dir=...) was refused ("base_dir: unknown key"): a dict's relative weather file is read
    from base_dir (the audit of the API)."""
    import dcsim

    (tmp_path / "w.csv").write_text("t_s,t_db,t_wb\n0,20,15\n7200,22,16\n")
    raw = yaml.safe_load((ROOT / "scenarios" / "reference.yaml").read_text())
    raw.update(duration="1 h", expect={})
    raw["facility"]["weather"] = {"kind": "csv", "path": "w.csv"}
    res = dcsim.run(raw, base_dir=tmp_path, overrides={"serving.slo_estimate": False})
    assert abs(float(res.timeseries["t_out_c"][0]) - 20.0) < 0.1


def test_one_set_parser_for_run_and_plan():
    """`dcsim run --set` (apply_overrides) and `dcsim plan --set` read an override with one parser (plan had its own
    copy of it): the same values, the same errors."""
    from dcsim.plan import _sets
    from dcsim.scenario import ScenarioError, apply_overrides, parse_set

    sets = ["facility.interconnect=600 kW", "racks.0.count=12", "seed=", "name=a=b"]
    assert [parse_set(s) for s in sets] == [("facility.interconnect", "600 kW"), ("racks.0.count", 12), ("seed", ""),
                                            ("name", "a=b")]
    assert _sets(sets) == dict(parse_set(s) for s in sets)
    raw = {"facility": {"interconnect": "1 MW"}, "racks": [{"count": 1}], "seed": 1, "name": "x"}
    assert apply_overrides(raw, sets) == apply_overrides(raw, _sets(sets))
    for bad, why in (("racks.0.count=[1", "not a YAML scalar"), ("facility.interconnect", "expected dotted.path=value")):
        for read in (lambda: _sets([bad]), lambda: apply_overrides(raw, [bad])):
            with pytest.raises(ScenarioError, match=re.escape(why)):
                read()


@pytest.mark.parametrize("start, words", [
    ("2026-07-15T25:00", "hour must be in 0..23 (midnight is T00:00 of the next day)"),
    ("2026-07-15T24:00", "hour must be in 0..23"),
    ("2026-13-01T00:00", "month must be in 1..12"),
    ("2026-07-15T12:61", "minute must be in 0..59"),
    # one-digit months and days, which the pattern admits: pydantic refused 2026-7-45 as "input is too short"
    ("2026-7-45", "day is out of range for month"),
    ("2026-7-5T25:00", "hour must be in 0..23"),
])
def test_a_start_off_the_clock_names_the_part_out_of_range(start, words):
    """start: ...T25:00 was refused as 'unexpected extra characters at the end of the input' (pydantic's
    reading), which sent the reader looking for a typo; the error names the field and the part out of range."""
    errs = _errors({**ref(), "start": start})
    assert len(errs) == 1 and errs[0][0] == "start", errs
    assert errs[0][1].startswith(f"'{start}' is not a time on the clock or calendar: {words}"), errs


def test_a_start_with_one_digit_month_and_day_is_its_zero_padded_date():
    """2026-7-5 is admitted by the start pattern; it is read as 2026-07-05 (pydantic alone refused it as "input is
    too short")."""
    from datetime import datetime

    from dcsim.scenario import Scenario

    assert Scenario.model_validate({**ref(), "start": "2026-7-5T13:00"}).start == datetime(2026, 7, 5, 13, 0)


@pytest.mark.parametrize("mutate, path, words", [
    # a check across fields raised from the scenario's own model_validator was listed under <root>
    (lambda r: r["controller"].__setitem__("tick", 1e-300), "controller.tick",
     "1e-300 s makes 8.64e+304 ticks of the 86400 s run, above 2e6"),
    (lambda r: r.__setitem__("duration", "10 s"), "duration", "10 s must be at least one controller tick (60 s)"),
    (lambda r: r["racks"].append(dict(r["racks"][0])), "racks", "group names must be unique"),
    # one from a nested model sits under its field, not the section (or the union's tag, chiller_plant)
    (lambda r: r["facility"]["cooling"].__setitem__("chiller_min_load", 0.99), "facility.cooling.chiller_min_load",
     "must be <= chiller_max_load"),
    (lambda r: r["racks"][0]["node"].__setitem__("gpu", {"name": "x", "peak_flops": {"bf16": "989 TFLOP/s"},
                                                         "hbm_bytes": "80 GB", "hbm_bw": "3.35 TB/s", "tdp_w": "700 W",
                                                         "idle_w": "800 W", "power_limit_min_w": "200 W"}),
     "racks[0].node.gpu.idle_w", "800 W must be < tdp_w (700 W)"),
    (lambda r: r["workload"]["classes"][0].__setitem__("share", 0.5), "workload.classes",
     "shares must sum to 1, got 0.5 (chat=0.5)"),
    (lambda r: r["workload"]["classes"][0].update(output={"kind": "lognormal", "median": 500, "p99": 300}),
     "workload.classes[0].output.p99", "300 must be > median (500)"),
])
def test_a_check_across_fields_names_the_field_it_blames(mutate, path, words):
    raw = ref()
    mutate(raw)
    errs = _errors(raw)
    assert path in dict(errs), errs
    assert words in dict(errs)[path], errs
    assert "" not in dict(errs)  # never <root>
