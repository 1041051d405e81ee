"""Hostile and careless input, the adversarial pass of session 52: each reproducer below failed before its fix.

The bar (as tests/test_hostile.py): a correct answer, or one short error naming the file, the field and the reason
with exit 2; never a traceback, an "internal error" for the user's own input, or a plausible-looking wrong result.
"""

from __future__ import annotations

import fractions
from pathlib import Path

import numpy as np
import pytest

from dcsim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "scenarios" / "reference.yaml"
SWEEP = ROOT / "scenarios" / "sweeps" / "outdoor_temperature.yaml"


def _cli(capsys, *argv):
    from conftest import cli_refusal

    return cli_refusal(capsys, *argv)


# ------------------------------------------------------------------ numpy numbers in the Python API

@pytest.mark.parametrize("path", ["racks.0.count", "racks.0.node.max_batch", "workload.arrivals.amplitude",
                                  "facility.interconnect"])
def test_a_numpy_boolean_is_refused_where_a_number_is_asked(path):
    """``np.bool_(True)`` (a mask element, ``arr > 0``) for ``max_batch`` ran a batch of one without a word: the
    boolean check knew Python's bool only (numpy's is no subclass of it)."""
    with pytest.raises(ScenarioError) as e:
        load_scenario(REF, overrides={path: np.bool_(True)})
    [(field, reason)] = e.value.errors
    assert field.replace("[0]", ".0") == path
    assert "boolean" in reason


@pytest.mark.parametrize("value, si", [(np.int64(600_000), 600_000.0), (np.int32(600_000), 600_000.0),
                                       (np.float32(600_000.0), 600_000.0), (fractions.Fraction(600_000), 600_000.0),
                                       (np.float64(600_000.0), 600_000.0)])
def test_numpy_and_fraction_numbers_are_read_as_numbers(value, si):
    """``np.arange(...)[i]`` (np.int64) or a float32 array's element for a quantity was refused as "got int64", where
    np.float64 (a float subclass) passed: a number is a number, read in the field's SI unit."""
    sc = load_scenario(REF, overrides={"facility.interconnect": value, "workload.arrivals.amplitude": value / 1e6})
    assert sc.facility.interconnect == si
    assert sc.workload.arrivals.amplitude == pytest.approx(0.6)


@pytest.mark.parametrize("value", [np.float32(80), np.int64(80), np.float64(80), fractions.Fraction(80)])
def test_a_bare_numpy_price_still_needs_its_unit(value):
    """Reading numpy numbers as numbers must not let a bare price through as USD per joule."""
    with pytest.raises(ScenarioError) as e:
        load_scenario(REF, overrides={"economics.price": value})
    [(field, reason)] = e.value.errors
    assert field == "economics.price" and "needs a unit" in reason and "np." not in reason, reason


@pytest.mark.parametrize("name, value", [("pue", 1.3 + 0.5j), ("pue", np.array([1.3 + 1j])), ("theta", 1j),
                                         ("pue", np.datetime64("2020-01-01")), ("pue", np.timedelta64(2, "s")),
                                         ("demand_tok_s", 10**400)])
def test_token_production_refuses_complex_time_and_huge_values_naming_the_argument(name, value):
    """``pue=1.3+0.5j`` dropped the imaginary part (a ComplexWarning, then a result),
    ``pue=np.datetime64('2020-01-01')`` was read as 18,262 (days since 1970) and bound power at 110 tok/s;
    ``10**400`` raised a bare OverflowError."""
    from dcsim.tpf import token_production

    args = dict(flop_per_token=1.4e11, joule_per_token_it=0.5, effective_flops=1e15, delivered_power_w=1e6,
                pue=1.3, heat_rejection_w=1e6, demand_tok_s=5000.0)
    args[name] = value
    with pytest.raises((TypeError, ValueError)) as e:
        token_production(**args)
    assert f"token_production: {name}" in str(e.value)


def test_token_production_still_takes_empty_and_integer_arrays():
    from dcsim.tpf import token_production

    r = token_production(flop_per_token=1.4e11, joule_per_token_it=0.5, effective_flops=1e15,
                         delivered_power_w=np.array([1_000_000, 10], dtype=np.int64), pue=1.3,
                         heat_rejection_w=1e6, demand_tok_s=5000)
    assert r.achieved_tok_s.tolist() == pytest.approx([5000.0, 10 / 1.3 / 0.5])
    e = token_production(flop_per_token=1.4e11, joule_per_token_it=0.5, effective_flops=1e15,
                         delivered_power_w=np.array([]), pue=1.3, heat_rejection_w=1e6, demand_tok_s=5000)
    assert e.achieved_tok_s.shape == (0,)


# ------------------------------------------------------------------ a scenario's text given as its path

def test_yaml_text_given_as_a_path_is_named_briefly(capsys):
    """``load_scenario(open(f).read())`` (the text, not the path) said "File name too long" under a 4,172-character
    label: the whole scenario echoed back as the file name."""
    text = REF.read_text()
    with pytest.raises(ScenarioError) as e:
        load_scenario(text)
    msg = str(e.value)
    assert len(msg) < 600, msg
    assert "YAML text" in msg and "File name too long" not in msg
    code, err = _cli(capsys, "validate", text)
    assert code == 2 and len(err) < 600 and "YAML text" in err


# ------------------------------------------------------------------ sweep and scenario files swapped

@pytest.mark.parametrize("cmd", [["validate"], ["tpf"], ["plan", "-q", "max-gpus"]])
def test_a_sweep_file_given_as_a_scenario_says_so(capsys, cmd):
    """``dcsim validate sweep.yaml`` listed 8 errors ("duration: required field is missing", "base: unknown key", ...)
    instead of saying the file is a sweep file."""
    code, err = _cli(capsys, *cmd, SWEEP)
    assert code == 2
    assert "sweep file" in err and "dcsim sweep" in err and "required field is missing" not in err, err
    assert str(SWEEP) in err


def test_a_scenario_given_to_sweep_says_so(capsys, tmp_path):
    """``dcsim sweep reference.yaml`` listed 9 errors ("base: Field required", "duration: Extra inputs are not
    permitted", ...)."""
    code, err = _cli(capsys, "sweep", REF, "--out", tmp_path / "o", "--no-cache")
    assert code == 2
    assert "a scenario, not a sweep file" in err and "Extra inputs" not in err and str(REF) in err, err


# ------------------------------------------------------------------ sweep --scheduler

@pytest.mark.parametrize("address", ["not a url", "", "tcp://", ":::", "tcp://host:port", "tcp://h:99999"])
def test_a_malformed_scheduler_address_is_refused_naming_the_flag(capsys, tmp_path, address):
    """``dcsim sweep FILE --scheduler 'not a url'`` prepared every point, then said "internal error (a bug in dcsim)"
    with dask's ``missing port number``, exit 70."""
    code, err = _cli(capsys, "sweep", SWEEP, "--scheduler", address, "--out", tmp_path / "o", "--no-cache")
    assert code == 2
    assert "--scheduler" in err and "points" not in err, err


def test_run_sweep_refuses_a_malformed_scheduler_address_before_any_point(tmp_path, monkeypatch):
    from dcsim import sweep as sw

    read = []  # the sweep file is not even read: the address is refused first (it once failed after every point)
    monkeypatch.setattr(sw, "load_sweep", lambda *a, **k: read.append(a) or pytest.fail("the sweep was read"))
    with pytest.raises(ValueError, match="client"):
        sw.run_sweep(SWEEP, client="not a url", cache_dir=None, progress=False)
    assert read == []


def test_well_formed_scheduler_addresses_pass_the_check():
    from dcsim.argcheck import check_scheduler_address

    for a in ("tcp://10.0.0.5:8786", "10.0.0.5:8786", "tls://sched.example.org:8786", "tcp://[::1]:8786",
              "localhost:8786", "inproc://10.0.0.5/1234/1"):
        assert check_scheduler_address(a) == a


# ------------------------------------------------------------------ file paths and YAML numbers

@pytest.mark.parametrize("override", ["facility.weather={kind: csv, path: ''}",
                                      "facility.weather={kind: epw, path: ' '}",
                                      "workload.arrivals={kind: trace, path: ''}",
                                      "workload.arrivals={kind: profile_csv, path: ''}"])
def test_an_empty_file_path_is_called_empty(capsys, override):
    """``path: ""`` read the scenario's own folder: ``workload.arrivals: : not a regular file (resolved to
    .../scenarios)``."""
    code, err = _cli(capsys, "validate", REF, "--set", override)
    assert code == 2 and "path" in err and "empty" in err, err


def test_a_huge_yaml_integer_is_said_in_the_users_terms(tmp_path, capsys):
    """A 5,000-digit count said "use sys.set_int_max_str_digits()": Python's advice to a programmer."""
    p = tmp_path / "s.yaml"
    p.write_text(REF.read_text().replace("count: 10", "count: " + "9" * 5000))
    code, err = _cli(capsys, "validate", p)
    assert code == 2 and "set_int_max_str_digits" not in err and "5,000 digits" in err and "line 38" in err, err


def test_a_numpy_boolean_is_taken_where_true_or_false_is_asked():
    """``economizer: np.False_`` was refused with "expected true or false, got a bool": the check looked for numpy's
    type name ``bool_``, which numpy 2 calls ``bool``."""
    sc = load_scenario(REF, overrides={"facility.cooling": {"kind": "chiller_plant", "economizer": np.False_}})
    assert sc.facility.cooling.economizer is False


@pytest.mark.parametrize("value", ['"[1.2, 1.7]"', '"1.3"', "'[1, 2]'"])
def test_an_expect_claim_quoted_by_mistake_is_refused_before_the_run(capsys, value):
    """``expect: {pue: "[1.2, 1.7]"}`` validated, and the run's check then failed with "not a text (float)": a
    24-hour run to learn that the bounds were quoted."""
    code, err = _cli(capsys, "validate", REF, "--set", f"expect={{pue: {value}}}")
    assert code == 2 and "expect.pue: the text" in err and "unquoted" in err, err


def test_text_claims_on_text_figures_still_validate(capsys):
    code, err = _cli(capsys, "validate", REF, "--set", "expect.binding.shifts.0.to=compute")
    assert code == 0, err


# ------------------------------------------------------------------ traces

def _trace_scenario(tmp_path, stamps):
    import yaml

    (tmp_path / "t.csv").write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                    + "".join(f"{s},100,50\n" for s in stamps))
    d = yaml.safe_load(REF.read_text())
    d["workload"]["arrivals"] = {"kind": "trace", "path": "t.csv"}
    d["duration"] = "10 min"
    d.pop("expect")
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(d))
    return p


@pytest.mark.parametrize("stamps", [("2023-11-16T18:15:46+05:00", "2023-11-16T18:15:47"),
                                    ("2023-11-16 18:15:46", "2023-11-16 18:15:47Z")])
def test_a_trace_mixing_zoned_and_unzoned_stamps_is_refused(tmp_path, capsys, stamps):
    """``18:15:46+05:00`` then ``18:15:47`` validated and replayed the two requests 5 h apart (the stamp without a
    zone read as UTC), unsaid."""
    code, err = _cli(capsys, "validate", _trace_scenario(tmp_path, stamps))
    assert code == 2 and "t.csv:3" in err and "time zone" in err, err


@pytest.mark.parametrize("stamps", [("2023-11-16T18:15:46+05:00", "2023-11-16T13:15:47Z"),
                                    ("2023-11-16 18:15:46", "2023-11-16 18:15:47")])
def test_a_trace_zoned_throughout_or_not_at_all_still_reads(tmp_path, stamps):
    from dcsim.workload.trace import read_azure

    _trace_scenario(tmp_path, stamps)
    assert read_azure(tmp_path / "t.csv").t.tolist() == pytest.approx([0.0, 1.0])


# ------------------------------------------------------------------ review of session 52 (branch s52-rv-hostile)

def test_a_scheduler_address_with_spaces_reaches_dask_as_checked():
    """``--scheduler ' tcp://127.0.0.1:1'`` passed the check (which strips) and dask was handed the unstripped text:
    "unknown address scheme ' tcp'", exit 70 as an internal error after every point was prepared."""
    from dcsim.argcheck import check_scheduler_address, scheduler_arg

    assert check_scheduler_address(" tcp://10.0.0.5:8786\n") == "tcp://10.0.0.5:8786"
    assert scheduler_arg(" 10.0.0.5:8786 ") == "10.0.0.5:8786"


@pytest.mark.parametrize("client", [42, 8786.0, ["tcp://10.0.0.5:8786"]])
def test_run_sweep_refuses_a_client_that_is_no_address_nor_client(client):
    """``run_sweep(client=42)`` prepared every point, then failed in joblib: "To use Joblib with Dask first create a
    Dask Client"."""
    from dcsim.sweep import run_sweep

    with pytest.raises(TypeError, match="run_sweep: client"):
        run_sweep(SWEEP, client=client, cache_dir=None, progress=False)


def test_an_empty_empirical_length_file_is_called_empty(capsys):
    """``input: {kind: empirical, file: ''}`` read the scenario's folder, as the four data paths did before."""
    code, err = _cli(capsys, "validate", REF, "--set", "workload.classes.0.input={kind: empirical, file: ''}")
    assert code == 2 and "empty" in err and "not a regular file" not in err, err


def test_a_bounds_claim_quoted_in_parentheses_is_refused_before_the_run(capsys):
    code, err = _cli(capsys, "validate", REF, "--set", 'expect={pue: "(1.2, 1.7)"}')
    assert code == 2 and "expect.pue: the text" in err, err


def _zoned_trace(tmp_path, rows):
    p = tmp_path / "z.csv"
    p.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n" + "".join(f"{r},10,10\n" for r in rows))
    return p


def test_a_skipped_bad_first_row_does_not_set_the_traces_zoning(tmp_path):
    """With ``on_bad_row: skip`` a garbage first row set the zoning, and every zoned row after it was skipped as
    'mixed': "no valid requests in trace (4 bad rows skipped)"."""
    from dcsim.workload.trace import read_azure

    tr = read_azure(_zoned_trace(tmp_path, ["not-a-time"] + [f"2023-11-16T18:15:4{i}Z" for i in range(3)]),
                    on_bad_row="skip")
    assert tr.t.tolist() == pytest.approx([0.0, 1.0, 2.0]) and tr.skipped == 1


def test_mixed_zones_are_refused_even_when_bad_rows_are_skipped(tmp_path):
    """One row without a zone, then 50 with one, under ``on_bad_row: skip``: the 50 were dropped as bad rows and the
    scenario validated, exit 0, with one request left."""
    from dcsim.workload.trace import TraceError, read_azure

    p = _zoned_trace(tmp_path, ["2023-11-16T18:15:46"] + [f"2023-11-16T18:16:{10 + i}Z" for i in range(50)])
    with pytest.raises(TraceError, match=r"z\.csv:3: .*time zone"):
        read_azure(p, on_bad_row="skip")


# ------------------------------------------------------------------ mends of the review's rough edges (s52-mhostile)

def _one_error(e) -> tuple[str, str]:
    assert len(e.value.errors) == 1, e.value.errors
    return e.value.errors[0]


@pytest.mark.parametrize("claim", [1.3, 2, np.float64(1.3)])
def test_a_single_number_claim_gets_one_error_naming_the_range_form(claim):
    """``expect: {pue: 1.3}`` failed both branches of the union: "Input should be a valid tuple" and "... a valid
    string, got 1.3", neither saying to write bounds."""
    with pytest.raises(ScenarioError) as e:
        load_scenario(REF, overrides={"expect": {"pue": claim}})
    path, reason = _one_error(e)
    assert path == "expect.pue" and "[lo, hi]" in reason and "valid" not in reason, reason


@pytest.mark.parametrize("bounds", ["[nan, 2]", "[1.2, .nan]", "[-.inf, 2]"])
def test_a_bound_that_is_no_finite_number_is_named_so(capsys, bounds):
    """``--set 'expect.pue=[nan, 2]'`` said "Input should be a valid string" beside the finite-number error."""
    code, err = _cli(capsys, "validate", REF, "--set", f"expect.pue={bounds}")
    assert code == 2 and "expect.pue" in err and "valid string" not in err and "1 error)" in err, err
    assert ("NaN" in err) if "nan" in bounds else ("finite" in err), err


def test_finite_bounds_and_text_claims_still_load():
    sc = load_scenario(REF, overrides={"expect": {"pue": [1.2, 1.7], "binding.shifts.0.to": "compute"}})
    assert sc.expect == {"pue": (1.2, 1.7), "binding.shifts.0.to": "compute"}


@pytest.mark.parametrize("name", ["reference.yaml", "reference.txt"])
def test_calibrate_given_a_scenario_says_it_is_no_measurements_csv(tmp_path, capsys, name):
    """``dcsim calibrate scenarios/reference.yaml`` said "line 2: more cells than the header has columns"."""
    p = tmp_path / name
    p.write_text(REF.read_text())
    code, err = _cli(capsys, "calibrate", p)
    assert code == 2 and "YAML" in err and "CSV" in err and "gpu_power_w" in err and "more cells" not in err, err


def test_calibrate_given_json_says_it_is_no_measurements_csv(tmp_path, capsys):
    p = tmp_path / "m.csv"
    p.write_text('{"gpu": "H100-SXM", "n_gpus": 1}\n')
    code, err = _cli(capsys, "calibrate", p)
    assert code == 2 and "not a measurements CSV" in err, err


@pytest.mark.parametrize("stamps", [("2023-11-16T18+05", "2023-11-16T18:15:47"),
                                    ("2023-11-16T18:15:47", "2023-11-16 19-08")])
def test_an_hour_only_zoned_stamp_beside_unzoned_ones_is_refused(tmp_path, capsys, stamps):
    """numpy reads ``2023-11-16T18+05`` as 13:00 UTC, but the zone check asked for HH:MM and took it for a stamp
    without a zone: mixed with ``18:15:47`` (read as UTC) it passed, the requests 5 h 15 min apart."""
    code, err = _cli(capsys, "validate", _trace_scenario(tmp_path, stamps))
    assert code == 2 and "t.csv:3" in err and "time zone" in err, err


def test_hour_only_zoned_stamps_with_zoned_ones_still_read(tmp_path):
    from dcsim.workload.trace import read_azure

    _trace_scenario(tmp_path, ("2023-11-16T18+05", "2023-11-16T13:00:01Z"))
    assert read_azure(tmp_path / "t.csv").t.tolist() == pytest.approx([0.0, 1.0])


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_out_folder_that_cannot_be_created_names_out(capsys):
    """``run --out /proc/x`` said "/proc/.x.lock: No such file or directory", a file the user never named."""
    code, err = _cli(capsys, "run", REF, "--out", "/proc/dcsim-x", "--set", "duration=60 s")
    assert code == 2 and "--out" in err and "/proc/dcsim-x" in err and ".lock" not in err, err


def test_a_decimal_reads_as_a_plain_number():
    """``duration: Decimal('1800')`` (Python API) was refused as "got Decimal", where a Fraction was read."""
    from decimal import Decimal

    sc = load_scenario(REF, overrides={"duration": Decimal("1800"), "racks.0.count": Decimal("2"),
                                       "expect": {"pue": [Decimal("1.1"), Decimal("1.9")]}})
    assert sc.duration == 1800.0 and sc.racks[0].count == 2 and sc.expect["pue"] == (1.1, 1.9)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_a_decimal_that_is_no_finite_number_is_refused(value):
    from decimal import Decimal

    with pytest.raises(ScenarioError) as e:
        load_scenario(REF, overrides={"duration": Decimal(value)})
    assert _one_error(e)[0] == "duration"


def test_a_claim_bound_beyond_any_float_is_refused_not_crashed():
    """The fuzz (tests/test_fuzz_scenarios.py) drew a 400-digit integer as an expect bound: math.isnan raised
    OverflowError inside the validator (a crash, not a field error). It is refused naming the claim."""
    import yaml as _yaml

    d = _yaml.safe_load(REF.read_text())
    d["expect"] = {"pue": [1, 10 ** 400]}
    with pytest.raises(ScenarioError) as e:
        load_scenario(d)
    assert "expect.pue" in str(e.value) and "float" in str(e.value)
