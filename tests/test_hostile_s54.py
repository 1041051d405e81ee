"""Hostile and careless input, the third pass (session 54): YAML features, every subcommand's flags, request traces,
extreme but valid halls and the Python API.

The bar (as tests/test_hostile.py): a correct answer, or one short error naming the file, the field (or flag) and the
reason with exit 2; never a traceback, an "internal error" for the user's own input, or a report with a NaN, an
infinity or a negative energy. The cases marked "failed before" are the defects this pass fixed; the others pin down
refusals that already held, so that a change cannot lose them.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]

#: a small hall, one hour at fluid fidelity: each case below changes one line of it
BASE = """\
name: small
seed: 1
duration: 1 h
fidelity: fluid
start: 2026-07-15T00:00
facility:
  interconnect: 495 kW
  cooling:
    kind: chiller_plant
    capacity: 395 kW
  weather:
    kind: synthetic
    preset: hot-dry
racks:
  - name: hall-a
    count: 10
    nodes_per_rack: 4
    node:
      gpu: H100-SXM
      model: llama-3.1-70b
      precision: bf16
      tensor_parallel: 4
      max_batch: 256
workload:
  arrivals:
    kind: poisson
    rate: 100 req/s
  classes:
    - name: chat
      preset: chat
      share: 1.0
controller:
  tick: 1 min
"""


def _cli(capsys, *argv):
    from conftest import cli_refusal

    return cli_refusal(capsys, *argv)


def _scenario(tmp_path, old: str = "", new: str = "", name: str = "s.yaml") -> Path:
    assert old in BASE
    p = tmp_path / name
    p.write_text(BASE.replace(old, new) if old else BASE)
    return p


def _report_problems(out: Path) -> list[str]:
    """Every NaN, infinity or negative energy or power in ``out``/report.json, as dotted paths."""
    text = (out / "report.json").read_text()
    bad = [w for w in ("NaN", "Infinity") if w in text]

    def walk(x, path):
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{path}.{k}")
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, f"{path}.{i}")
        elif isinstance(x, (int, float)) and not isinstance(x, bool):
            if not math.isfinite(x):
                bad.append(path)
            # an energy_j block's figure, or one of a power block's (peak_power_w.it, facility_power_w.mean, ...)
            elif x < -1e-6 and (".energy_j." in path + "." or "_power_w." in path + "."):
                bad.append(f"{path}={x}")

    walk(json.loads(text), "")
    return bad


# ------------------------------------------------------------------ YAML features, each refused naming its field

@pytest.mark.parametrize("old, new, field, why", [
    # failed before: a date naming no day said "<root>: cannot read a YAML value: day is out of range for month"
    ("start: 2026-07-15T00:00", "start: 2026-02-30", "start:", "day is out of range"),
    ("start: 2026-07-15T00:00", "start: 2026-13-01", "start:", "month must be in 1..12"),
    # failed before (review): an explicit tag on no date was an internal error, exit 70 ('NoneType' ... 'groupdict')
    ("start: 2026-07-15T00:00", "start: !!timestamp foo", "start:", "got 'foo'"),
    # held already: pinned
    ("seed: 1", "seed: 1\nseed: 2", "duplicate key 'seed'", "line 3"),
    ("  interconnect", "\tinterconnect", "line 7", "'\\t'"),
    ("name: small", "name: sm\x00all", "not valid YAML", "#x0000"),
    ("495 kW", "1e308 kW", "facility.interconnect:", "finite"),
    ("495 kW", ".nan", "facility.interconnect:", "finite"),
    ("395 kW", "-.inf", "facility.cooling.capacity:", "finite"),
    ("count: 10", "count: yes", "racks[0].count:", "boolean"),
    ("count: 10", "count: [10]", "racks[0].count:", "integer"),
    ("count: 10", "count: 010", "racks[0].count:", "octal"),
    ("count: 10", "count: 1:30", "racks[0].count:", "base-60"),
    ("duration: 1 h", "duration: 5 kW", "duration:", "not a time unit"),
    ("tick: 1 min", "tick: 5 kW", "controller.tick:", "not a time unit"),
    ("rate: 100 req/s", "rate: 100 s", "workload.arrivals.rate:", "not a rate unit"),
    ("rate: 100 req/s", "rate: 0 req/s", "workload.arrivals.rate:", "> 0"),
    ("duration: 1 h", "duration: 1 ns", "duration:", "at least one controller tick"),
    ("interconnect: 495 kW", "interconnect: &ic 495 kW\n  x: *ic", "facility.x:", "unknown key"),
    ("seed: 1", "seed: !!python/object/apply:os.system ['true']", "line 2", "could not determine a constructor"),
])
def test_a_yaml_slip_names_its_field(tmp_path, capsys, old, new, field, why):
    p = _scenario(tmp_path, old, new)
    code, err = _cli(capsys, "validate", p)
    assert code == 2, err
    assert str(p) in err and field in err and why in err, err
    assert "<root>: cannot read a YAML value" not in err


@pytest.mark.parametrize("data, why", [(b"\xef\xbb\xbf" + BASE.encode(), None),  # a BOM is read
                                       (BASE.replace("small", "caf\u00e9").encode("latin-1"), "not UTF-8"),
                                       (BASE.encode("utf-16"), "not UTF-8")])
def test_a_bom_is_read_and_other_encodings_are_named(tmp_path, capsys, data, why):
    p = tmp_path / "enc.yaml"
    p.write_bytes(data)
    code, err = _cli(capsys, "validate", p)
    assert (code, why is None or why in err) == ((0, True) if why is None else (2, True)), err


def test_a_bad_date_given_by_set_names_the_field_as_the_file_does(capsys):
    code, err = _cli(capsys, "validate", ROOT / "scenarios" / "reference.yaml", "--set", "start=2026-02-30")
    assert code == 2 and "start: '2026-02-30' is not a time on the clock or calendar: day is out of range" in err, err


def test_a_string_field_keeps_a_date_that_names_no_day_as_its_text():
    from dcsim.scenario.safeyaml import load_yaml_text

    assert load_yaml_text("name: 2026-02-30\n") == {"name": "2026-02-30"}
    import datetime

    assert load_yaml_text("d: 2026-02-28\n") == {"d": datetime.date(2026, 2, 28)}  # a real date is still one


# ------------------------------------------------------------------ plan flags

@pytest.mark.parametrize("args, flag", [
    # failed before: "dcsim plan: error: unit 'kW' is not a time unit (...)", naming no flag
    (["-q", "max-gpus", "--target", "ttft.p99<=2 s", "--window", "5 kW"], "--window '5 kW'"),
    (["-q", "max-gpus", "--curtailment", "5 kW"], "--curtailment '5 kW'"),
    (["-q", "max-gpus", "--curtailment", "1%", "--max-event", "4 kW"], "--max-event '4 kW'"),
    # held already: pinned
    (["-q", "max-gpus", "--target", "ttft.p99<=2 s", "--window", "0 s"], "--window '0 s'"),
    (["-q", "max-gpus", "--curtailment", "200%"], "--curtailment '200%'"),
    (["-q", "max-gpus", "--curtailment", "1%", "--storage", "150 kW/200 kWh"], "--storage '150 kW/200 kWh'"),
    (["-q", "max-gpus", "--target", "ttft.p99<=2 kW"], "--target 'ttft.p99<=2 kW'"),
    (["-q", "max-gpus", "--target", "slo_attainment>=2"], "--target 'slo_attainment>=2'"),
    (["-q", "max-gpus", "--weather-percentile", "101"], "weather percentile"),
    (["-q", "max-gpus", "--seeds", "3"], "--seeds qualifies --target"),
    (["-q", "max-gpus", "--gpus", "100"], "--gpus applies to interconnect-for"),
    (["-q", "interconnect-for", "--gpus", "1.5"], "argument --gpus"),
    (["-q", "max-gpus", "--target", "ttft.p99<=2 s", "--seeds", "0"], "argument --seeds"),
])
def test_a_plan_flag_with_a_wrong_value_is_named(tmp_path, capsys, args, flag):
    code, err = _cli(capsys, "plan", _scenario(tmp_path), *args)
    assert code == 2 and flag in err, err


# ------------------------------------------------------------------ sweep files

@pytest.mark.parametrize("param, why", [
    # failed before: "bounds must share one unit, got nan and '600 kW'"
    ("{range: [.nan, 600 kW], steps: 2}", "a bound must be a finite number, got nan"),
    ("{range: [300 kW, .inf], steps: 2}", "a bound must be a finite number, got inf"),
    ("{range: [300 kW, 1e999], steps: 2}", "a bound must be a finite number"),
    # held already: pinned
    ("{range: [300 kW, 1 h], steps: 3}", "bounds must share one unit"),
    ("{range: [0 kW, 600 kW], steps: 2, log: true}", "log spacing needs positive bounds"),
    ("{range: [300 kW, 600 kW], steps: 0}", "greater than or equal to 1"),
    ("{values: []}", "values must not be empty"),
    ("300 kW", "valid dictionary"),
])
def test_a_sweep_parameter_with_a_wrong_bound_is_named(tmp_path, capsys, param, why):
    _scenario(tmp_path, name="base.yaml")
    p = tmp_path / "sw.yaml"
    p.write_text(f"name: sw\nbase: base.yaml\nparameters:\n  facility.interconnect: {param}\n")
    code, err = _cli(capsys, "sweep", p, "--no-cache", "-q", "--out", tmp_path / "out")
    assert code == 2 and str(p) in err and "facility.interconnect" in err and why in err, err
    assert "bounds must share one unit" not in err or "1 h" in err


def test_a_sweep_point_past_a_field_bound_is_named_by_a_short_excerpt(tmp_path, capsys):
    """docs/limits.md: a message quotes at most 60-300 characters of any input. Failed before: the header of the
    refused point quoted all 301 digits of its value ("sweep point 1 {'racks.0.count': 1000000000000000052...}")."""
    _scenario(tmp_path, name="base.yaml")
    p = tmp_path / "sw.yaml"
    p.write_text("name: sw\nbase: base.yaml\nparameters:\n  racks.0.count: {range: [1, 1e300], steps: 2, integer: true}\n")
    code, err = _cli(capsys, "sweep", p, "--no-cache", "-q", "--out", tmp_path / "out")
    assert code == 2 and "sweep point 1" in err and "racks" in err and "integer of 301 digits" in err, err
    assert not re.search(r"\d{41}", err), err  # no number quoted past 40 digits (excerpt's bound)


@pytest.mark.parametrize("flag, value", [("--workers", "0"), ("--workers", "-1"), ("--scheduler", "not a url")])
def test_a_sweep_flag_with_a_wrong_value_is_named(tmp_path, capsys, flag, value):
    _scenario(tmp_path, name="base.yaml")
    p = tmp_path / "sw.yaml"
    p.write_text("name: sw\nbase: base.yaml\nparameters:\n  racks.0.count: {values: [1, 2]}\n")
    code, err = _cli(capsys, "sweep", p, "--no-cache", "-q", "--out", tmp_path / "out", flag, value)
    assert code == 2 and flag in err, err


# ------------------------------------------------------------------ request traces

_HEAD = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
_TRACE = ("    kind: poisson\n    rate: 100 req/s",
          "    kind: trace\n    path: t.csv\n    format: csv\n    time_unit: s\n"
          "    columns: {time: TIMESTAMP, input: ContextTokens, output: GeneratedTokens}")


@pytest.mark.parametrize("rows, why", [
    ("", "empty file"),
    (_HEAD, "no valid requests"),
    (_HEAD + "1,0,0\n", "input tokens must be >= 1 token"),
    (_HEAD + "1,100,0\n", "output tokens must be >= 1 token"),
    (_HEAD + "1,100.5,10\n", "integer token count"),
    (_HEAD + "1,100000000,10\n", "above the limit of 10,000,000 tokens per request"),
    (_HEAD + "nan,100,10\n", "time is not finite"),
    (_HEAD + "1e300,100,10\n2,100,10\n", "10-year"),
    ("a,b,c\n1,2,3\n", "no column 'TIMESTAMP'"),
    (_HEAD.replace(",", ";") + "1;100;10\n", "no column 'TIMESTAMP'"),
    (_HEAD + "1,100\n", "expected at least 3 fields"),
])
def test_a_bad_trace_is_refused_naming_file_line_and_reason(tmp_path, capsys, rows, why):
    (tmp_path / "t.csv").write_text(rows)
    p = _scenario(tmp_path, *_TRACE)
    code, err = _cli(capsys, "validate", p)
    assert code == 2 and "workload.arrivals" in err and "t.csv" in err and why in err, err


@pytest.mark.parametrize("rows, served_in, served_out, refused", [
    (_HEAD + "0,100,10\n", 100, 10, 0),                               # one row
    (_HEAD + "10,100,10\n5,100,10\n1,100,10\n", 300, 30, 0),          # unsorted: replayed in time order
    (_HEAD + "-10,100,10\n5,100,10\n", 200, 20, 0),                   # negative stamps: relative to the first
    (_HEAD + "5,100,10\n5,100,10\n5,100,10\n", 300, 30, 0),           # duplicate stamps: three requests at once
    (_HEAD + "1,200000,10\n2,100,10\n", 100, 10, 1),                  # a prompt beyond the 131,072-token window
])
def test_an_odd_but_valid_trace_runs_to_a_correct_report(tmp_path, capsys, rows, served_in, served_out, refused):
    (tmp_path / "t.csv").write_text(rows)
    p = _scenario(tmp_path, *_TRACE)
    p.write_text(p.read_text().replace("fidelity: fluid", "fidelity: request").replace("duration: 1 h",
                                                                                      "duration: 10 min"))
    out = tmp_path / "out"
    code, err = _cli(capsys, "run", p, "--out", out, "--force", "--no-plots", "-q")
    assert code == 0, err
    rep = json.loads((out / "report.json").read_text())
    assert rep["tokens"] == {"input": served_in, "output": served_out}
    assert rep["requests"]["refused_context"] == refused and rep["requests"]["in_flight"] == 0
    assert _report_problems(out) == []


# ------------------------------------------------------------------ extreme but valid halls

@pytest.mark.parametrize("old, new", [
    ("count: 10\n    nodes_per_rack: 4", "count: 1\n    nodes_per_rack: 1"),  # one server, 4 GPUs
    ("count: 10\n    nodes_per_rack: 4\n    node:\n      gpu: H100-SXM\n      model: llama-3.1-70b\n"
     "      precision: bf16\n      tensor_parallel: 4",
     "count: 1\n    nodes_per_rack: 1\n    node:\n      gpu: H100-SXM\n      model: llama-3.1-8b\n"
     "      precision: bf16\n      tensor_parallel: 1\n      gpus_per_node: 1"),          # one GPU
    ("duration: 1 h", "duration: 1 min"),                                   # one controller tick
    ("rate: 100 req/s", "rate: 1e6 req/s"),                                 # demand far past every ceiling
])
def test_an_extreme_but_valid_hall_reports_finite_non_negative_figures(tmp_path, capsys, old, new):
    p = _scenario(tmp_path, old, new)
    out = tmp_path / "out"
    code, err = _cli(capsys, "run", p, "--out", out, "--force", "--no-plots", "-q")
    assert code == 0, err
    assert _report_problems(out) == []
    rep = json.loads((out / "report.json").read_text())
    assert rep["energy_j"]["facility"] > 0


@pytest.mark.parametrize("old, new, field", [
    ("interconnect: 495 kW", "interconnect: 10 kW", "facility.interconnect: 10 kW cannot power the fleet even idle"),
    ("capacity: 395 kW", "capacity: 1 W", "facility.cooling.capacity: 1 W cannot reject even the idle fleet's heat"),
    ("capacity: 395 kW", "capacity: 0 kW", "facility.cooling.capacity: must be > 0"),
])
def test_a_hall_that_cannot_serve_a_token_is_refused_before_the_run(tmp_path, capsys, old, new, field):
    code, err = _cli(capsys, "run", _scenario(tmp_path, old, new), "--out", tmp_path / "out", "-q", "--no-plots")
    assert code == 2 and field in err, err
    assert not (tmp_path / "out" / "report.json").exists()



def test_an_interconnect_below_its_own_rating_quotes_no_meter_figure_past_the_chain(tmp_path, capsys):
    """1 W of interconnect: the idle IT is refused; the meter figure, the chain's loss curves extrapolated far past a
    rating of 1 W, read "109.3 MW at the meter" (2026-12-06) and is left out; within the rating it stays."""
    code, err = _cli(capsys, "run", _scenario(tmp_path, "interconnect: 495 kW", "interconnect: 1 W"),
                     "--out", tmp_path / "out", "-q", "--no-plots")
    assert code == 2 and "facility.interconnect: 1 W cannot power the fleet even idle" in err, err
    assert "at the meter" not in err and "MW" not in err.replace("1 MW?", ""), err


# ------------------------------------------------------------------ the Python API

@pytest.mark.parametrize("overrides, words", [
    # failed before: TypeError "argument of type 'int' is not iterable"
    ([5], "expected a 'dotted.path=value' string, got int"),
    (["duration=1 h", None], "expected a 'dotted.path=value' string, got NoneType"),
    ([("duration", "2 h")], "expected a 'dotted.path=value' string, got tuple"),  # was "expected dotted.path=value"
    # held already: pinned
    ({5: 1}, "a path is a string"),
])
def test_run_names_an_override_that_is_no_path_value_string(tmp_path, overrides, words):
    import dcsim
    from dcsim.scenario import ScenarioError

    with pytest.raises(ScenarioError) as e:
        dcsim.run(_scenario(tmp_path), overrides=overrides)
    assert words in str(e.value)


@pytest.mark.parametrize("kw, words", [({"overrides": 5}, "overrides: expected a mapping"),
                                       ({"progress": 5}, "progress: expected a callable"),
                                       ({"base_dir": 5}, "base_dir: expected a folder path")])
def test_run_names_an_argument_of_the_wrong_type(tmp_path, kw, words):
    import dcsim

    with pytest.raises(TypeError, match=words):
        dcsim.run(_scenario(tmp_path), **kw)


# ------------------------------------------------------------------ the energy invariant

def test_a_negative_energy_anywhere_in_an_energy_block_is_found():
    from dcsim.engine.invariants import negative_energy_paths

    rep = {"energy_j": {"it": 5.0, "cooling": -1.0}, "pools": [{"energy_j": {"gpu": -2.0}}],
           "flexibility": {"energy_change_j": -3.0}, "annual": {"energy_j": {"facility": 1.0}}}
    assert negative_energy_paths(rep) == ["energy_j.cooling", "pools.0.energy_j.gpu"]
    assert negative_energy_paths({"energy_j": {"it": -1e-9}}) == []  # rounding
    # a fault row's and the flexibility block's energies drawn (review of session 54: not under an energy_j block)
    rep = {"faults": [{"energy_j": -1.0, "baseline_energy_j": -2.0, "energy_change_j": -3.0}],
           "flexibility": {"without": {"energy_facility_j": -4.0, "storage_drawdown_j": -5.0},
                           "change": {"energy_facility_j": -6.0}}}
    assert negative_energy_paths(rep) == ["faults.0.energy_j", "faults.0.baseline_energy_j",
                                          "flexibility.without.energy_facility_j"]


def test_a_negative_energy_in_a_fault_row_stops_the_run(tmp_path, monkeypatch):
    """The fault rows are added after each simulated run's invariants were checked (run_models): dcsim.run checks
    the finished report again. Failed before: the run returned with faults.0.energy_j = -1 J."""
    import importlib

    import dcsim
    from dcsim.engine.invariants import InvariantError

    engine_run = importlib.import_module("dcsim.engine.run")  # the module (dcsim.engine.run is also the function)
    real = engine_run.fault_costs

    def negative(*a, **k):
        rows = real(*a, **k)
        rows[0]["energy_j"] = -1.0
        return rows

    monkeypatch.setattr(engine_run, "fault_costs", negative)
    sc = _scenario(tmp_path, "controller:", "faults:\n  - kind: cooling_failure\n    start: 10 min\n"
                                            "    duration: 20 min\n    capacity_loss: 50%\ncontroller:")
    with pytest.raises(InvariantError, match=r"negative energy at faults\.0\.energy_j"):
        dcsim.run(sc)


def test_a_run_whose_report_holds_a_negative_energy_is_stopped():
    """check_invariants caught negative powers in the timeseries and non-finite figures, but no negative energy in
    the report itself (the brief's third requirement): a negative energy_j figure now stops the run as a bug."""
    import numpy as np

    from dcsim.engine.invariants import InvariantError, check_invariants

    ts = {"t_s": np.array([0.0, 60.0]), "pue": np.array([1.2, 1.2])}
    rep = {"energy_j": {"it": 1.0, "cooling": 0.5, "power_losses": 0.5, "facility": 2.0, "gpu": -1.0},
           "tokens_accounting": {"arrived": 1.0, "served": 1.0, "waiting": 0.0, "shed": 0.0}}
    with pytest.raises(InvariantError, match="negative energy at energy_j.gpu"):
        check_invariants(rep, ts)
    rep["energy_j"]["gpu"] = 1.0
    check_invariants(rep, ts)


def test_a_curtailment_to_nothing_reports_no_fraction_of_a_zero_cap(tmp_path, capsys):
    """grid-flex with a 100 % curtailment: the cap in force is 0 W, the idle fleet still draws; the run simulated to the
    end and then stopped with "internal error: InvariantError: non-finite result at interconnect_max_excess" (exit 70,
    the review of 2026-12-06). Now it finishes: the field is null (no fraction of 0 W) and the warning says so."""
    out = tmp_path / "out"
    code, err = _cli(capsys, "run", ROOT / "scenarios" / "grid-flex.yaml", "--set", "duration=3 h",
                     "--set", "grid.curtailment.events.0.start=1 h", "--set", "grid.curtailment.events.0.depth=100%",
                     "--out", out, "-q", "--no-plots")
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    assert report["interconnect_max_excess_fraction"] is None
    assert report["interconnect_exceeded_s"] > 0
    assert "against a limit of 0 W" in err, err


# ------------------------------------------------------------------ calibrate and compare

_CAL_HEAD = "kind,gpu,n_gpus,model,precision,max_num_seqs,batch,mean_in,mean_out,output_tok_s,gpu_power_w,median_itl_ms"
#: five H100 Llama-3.1-70B TP4 load rows of the shipped ML.ENERGY file (dcsim/data/measurements), trimmed columns
_CAL_ROWS = ["load,H100-SXM,4,llama-3.1-70b,bf16,8,7.987,634.0,349.99,469.69,1765.43,16.573",
             "load,H100-SXM,4,llama-3.1-70b,bf16,16,15.954,634.0,354.42,862.65,1803.81,17.697",
             "load,H100-SXM,4,llama-3.1-70b,bf16,32,31.876,634.0,350.57,1486.67,1794.22,20.047",
             "load,H100-SXM,4,llama-3.1-70b,bf16,64,63.791,634.0,351.96,2510.51,2001.5,22.432",
             "load,H100-SXM,4,llama-3.1-70b,bf16,96,95.725,634.0,357.47,3244.34,2101.55,25.356"]


def _cal_csv(tmp_path, rows, name="m.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join([_CAL_HEAD] + rows) + "\n")
    return p


# all held already (the review of session 54): pinned
@pytest.mark.parametrize("rows, flags, words", [
    ([], (), "no load or request rows"),
    ([_CAL_ROWS[0], _CAL_ROWS[1].replace("862.65", "nan")], (), ":3: column 'output_tok_s': must be a finite number > 0"),
    ([_CAL_ROWS[0], _CAL_ROWS[1].replace("862.65", "-862.65")], (), ":3: column 'output_tok_s'"),
    ([_CAL_ROWS[0], _CAL_ROWS[1].replace("862.65", "1e400")], (), ":3: column 'output_tok_s'"),
    (_CAL_ROWS[:1], (), "refusing an under-determined fit"),
    (_CAL_ROWS, ("--tp", "0"), "argument --tp: must be at least 1"),
    (_CAL_ROWS, ("--gamma", "nan"), "argument --gamma: must be in [1, 5]"),
])
def test_a_hostile_calibrate_input_is_refused_naming_it(tmp_path, capsys, rows, flags, words):
    p = _cal_csv(tmp_path, rows)
    code, err = _cli(capsys, "calibrate", p, *flags)
    assert code == 2 and words in err, err
    if ":3:" in words:
        assert str(p) in err, err


def test_calibrate_predict_with_a_missing_profile_names_it(tmp_path, capsys):
    code, err = _cli(capsys, "calibrate", _cal_csv(tmp_path, _CAL_ROWS), "--predict", "--profile",
                     tmp_path / "none.yaml")
    assert code == 2 and f"profile '{tmp_path / 'none.yaml'}'" in err and "nor a file" in err, err


def test_compare_names_a_missing_folder(tmp_path, capsys):
    code, err = _cli(capsys, "compare", tmp_path / "nothing", tmp_path / "nothing2", "--no-plots")
    assert code == 2 and f"{tmp_path / 'nothing'}: no report.json" in err, err


def test_calibrate_reads_a_row_kind_in_any_letter_case(tmp_path):
    """docs/node.md: `kind` is read in any letter case (decided in the review of session 54: accepted, not refused).
    The fit of LOAD / Load rows is the fit of the same rows in lower case."""
    from dcsim.node.calibrate import calibrate

    lower = calibrate([_cal_csv(tmp_path, _CAL_ROWS, "lower.csv")])
    upper = calibrate([_cal_csv(tmp_path, ["LOAD" + _CAL_ROWS[0][4:], "Load" + _CAL_ROWS[1][4:]] + _CAL_ROWS[2:],
                                "upper.csv")])
    assert upper["params"] == lower["params"]
