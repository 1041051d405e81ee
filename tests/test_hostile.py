"""Hostile and careless input (issue 17): every reproducer is a test.

Each test feeds one damaged input and asserts the outcome a careful tool gives: a one-line
error naming the file, the line or field and the reason, exit 2, within a bounded time and
memory — never a traceback, a hang, or a result that looks valid but is not.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dcsim.cli import main as cli_main
from dcsim.scenario import ScenarioError, apply_overrides, load_scenario, read_yaml
from dcsim.scenario.safeyaml import MAX_YAML_BYTES, load_yaml_text, YamlInputError
from dcsim.units import excerpt

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "scenarios" / "reference.yaml"


def _validate(capsys, *argv):
    code = cli_main(["validate", *map(str, argv)])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.err


# ------------------------------------------------------------------ bounded YAML (17.1)

def _bomb(depth: int = 9, width: int = 9) -> str:
    lines = ["name: bomb", "duration: 1 h", "a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9]"]
    for i in range(1, depth + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    lines.append(f"economics:\n  price_profile: *a{depth}")
    return "\n".join(lines) + "\n"


def test_billion_laughs_fails_fast(tmp_path, capsys):
    p = tmp_path / "bomb.yaml"
    p.write_text(_bomb())
    assert p.stat().st_size < 3000
    t0 = time.perf_counter()
    code, err = _validate(capsys, p)
    assert code == 2
    assert time.perf_counter() - t0 < 5.0
    assert "expands to more than" in err and str(p) in err
    assert len(err) < 500  # the message quotes no expanded input


def test_small_alias_use_is_still_fine():
    assert load_yaml_text("a: &x [1, 2]\nb: *x\nc: {<<: {k: 1}, j: 2}\n") == {
        "a": [1, 2], "b": [1, 2], "c": {"k": 1, "j": 2}}


@pytest.mark.parametrize("text, want", [
    ("name: x\nname: y\n", "duplicate key 'name'"),
    ("a:\n  b: 1\n  b: 2\n", "duplicate key 'b'"),
    ("a: &x [1, *x]\n", "recursive alias"),
    ("name: 2023-02-30\n", "day is out of range"),
    ("name: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ("name: " + "[" * 100 + "]" * 100 + "\n", "nested more than 64"),
    ("n: " + "9" * 5000 + "\n", "cannot read a value"),
    ("\x00\x01", "not valid YAML"),
])
def test_yaml_refusals(tmp_path, capsys, text, want):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    code, err = _validate(capsys, p)
    assert code == 2 and want in err and str(p) in err, err
    assert len(err) < 600


def test_non_utf8_and_oversize_files(tmp_path, capsys):
    p = tmp_path / "latin1.yaml"
    p.write_bytes("name: caf\xe9\n".encode("latin-1"))
    code, err = _validate(capsys, p)
    assert code == 2 and "not UTF-8" in err and "line 1" in err
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (MAX_YAML_BYTES + 10) + b"\n")
    code, err = _validate(capsys, big)
    assert code == 2 and "limit" in err
    code, err = _validate(capsys, tmp_path)  # a directory
    assert code == 2 and "cannot read" in err


@pytest.mark.parametrize("value", ["!!python/name:os.system", "!!binary ZZZ", "&a [*a]", "[[[[", "{a: 1, a: 2}"])
def test_yaml_tags_and_garbage_through_set(capsys, value):
    code, err = _validate(capsys, REF, "--set", f"name={value}")
    assert code == 2 and "--set" in err, err


def test_error_messages_quote_short_excerpts():
    raw = read_yaml(REF)
    raw["name"] = "a" * 100_000
    raw["racks"][0]["count"] = list(range(100_000))
    with pytest.raises(ScenarioError) as ei:
        load_scenario(raw, base_dir=REF.parent)
    assert len(str(ei.value)) < 1000
    assert excerpt(list(range(10**6))) == "a list of 1,000,000 items"
    assert len(excerpt("x" * 10**6)) <= 60
    assert "digits" in excerpt(10**400)


def test_too_many_errors_are_counted_not_listed():
    raw = read_yaml(REF)
    raw["economics"] = {"price_profile": ["x"] * 5000}
    with pytest.raises(ScenarioError) as ei:
        load_scenario(raw, base_dir=REF.parent)
    assert len(ei.value.errors) <= 26
    assert "more errors not listed" in ei.value.errors[-1][1]


def test_load_yaml_text_limits_are_errors_not_crashes():
    with pytest.raises(YamlInputError):
        load_yaml_text("x" * (MAX_YAML_BYTES + 1))
    with pytest.raises(ScenarioError):
        apply_overrides({}, ["a.b=!!python/object:os.system"])


# ------------------------------------------------------------------ damaged trace files (17.2)

def _trace_scenario(tmp_path, body: str | bytes, fmt: str = "azure", name: str = "t.csv") -> Path:
    import yaml

    p = tmp_path / name
    (p.write_bytes if isinstance(body, bytes) else p.write_text)(body)
    raw = read_yaml(REF)
    raw["duration"] = "1 h"
    raw["workload"] = {"arrivals": {"kind": "trace", "path": name, "format": fmt},
                       "classes": [{"name": "chat", "preset": "chat"}]}
    s = tmp_path / "sc.yaml"
    s.write_text(yaml.safe_dump(raw))
    return s


AZ = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,374,44\n"
TRACE_CASES = [
    (AZ + "2023-11-16 18:15:47,abc,44\n", "azure", ":3:", "not a number"),
    (AZ + "2023-11-16 18:15:47,12\n", "azure", ":3:", "fields"),
    (AZ + "2023-11-16 18:15:47,0,44\n", "azure", ":3:", ">= 1 token"),
    (AZ + "2023-11-16 18:15:47,-5,44\n", "azure", ":3:", ">= 1 token"),
    (AZ + "2023-11-16 18:15:47,1.5,44\n", "azure", ":3:", "integer"),
    (AZ + "2023-11-16 18:15:47,1000000000000000000000000000000,44\n", "azure", ":3:", "above the limit"),
    (AZ + "NaT,10,44\n", "azure", ":3:", "NaT"),
    (AZ + "9999-01-01 00:00:00,10,44\n", "azure", ":3:", "outside 1970"),
    (AZ + "2500-01-01 00:00:00,10,44\n", "azure", ":3:", "outside 1970"),
    (AZ + "2023-11-16 18:15:47," + "1" * 200_000 + ",44\n", "azure", ":3:", "CSV"),
    (AZ.encode() + b"2023-11-16 18:15:47,\xff\xfe,44\n", "azure", ":3:", "not UTF-8"),
    ('{"timestamp": 0, "input_length": 5, "output_length": 5}\n' + "[" * 100_000 + "]" * 100_000 + "\n",
     "mooncake", ":2:", "record is"),
    ('{"timestamp": 0, "input_length": 5, "output_length": 5}\n' + '{"a":' * 5000 + "1" + "}" * 5000 + "\n",
     "mooncake", ":2:", "nested too deeply"),
    ('{"timestamp": 0, "input_length": 5, "output_length": 5}\n{"timestamp": 1, "input_length": 5}\n',
     "mooncake", ":2:", "missing key"),
    ('{"timestamp": 0, "input_length": 5, "output_length": 5}\n{"timestamp": 1e300, "input_length": 5, '
     '"output_length": 5}\n', "mooncake", ":2:", "10-year"),
    ("", "azure", "t.csv", "empty file"),
]


@pytest.mark.parametrize("body, fmt, where, why", TRACE_CASES)
def test_damaged_traces_fail_validate_and_run_cleanly(tmp_path, capsys, body, fmt, where, why):
    s = _trace_scenario(tmp_path, body, fmt)
    code, err = _validate(capsys, s)
    assert code == 2 and why in err and where in err and "workload" in err, err
    assert len(err) < 800
    code = cli_main(["run", str(s), "--out", str(tmp_path / "out"), "-q", "--no-plots"])
    err = capsys.readouterr().err
    assert code == 2 and why in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_missing_and_folder_traces(tmp_path, capsys):
    s = _trace_scenario(tmp_path, AZ)
    (tmp_path / "t.csv").unlink()
    code, err = _validate(capsys, s)
    assert code == 2 and "file not found" in err
    (tmp_path / "t.csv").mkdir()
    code, err = _validate(capsys, s)
    assert code == 2 and "not a regular file" in err


# ------------------------------------------------------------------ damaged weather files (17.2)

def _weather_scenario(tmp_path, body: str, kind: str = "csv", name: str = "w.csv") -> Path:
    import yaml

    (tmp_path / name).write_text(body)
    raw = read_yaml(REF)
    raw["facility"]["weather"] = {"kind": kind, "path": name}
    s = tmp_path / "sc.yaml"
    s.write_text(yaml.safe_dump(raw))
    return s


W = "hour,t_db,rh\n0,20,50\n"
WEATHER_CASES = [
    (W + "1,,50\n", ":3:", "'t_db' is empty"),
    (W + "1,NA,50\n", ":3:", "not a number"),
    (W + "1,20\n", ":3:", "missing (short row)"),
    ("hour,rh\n0,50\n", ":1:", "t_db"),
    (W + "2,20,50\n1,20,50\n", ":4:", "backwards"),
    (W + "1,20,50\n1,21,50\n", ":4:", "duplicate time"),
    (W + "1,nan,50\n", ":3:", "not finite"),
    (W + "1,9999,50\n", ":3:", "plausible range"),
    (W + "1,20,150\n", ":3:", "plausible range"),
    ("", "w.csv", "empty file"),
]


@pytest.mark.parametrize("body, where, why", WEATHER_CASES)
def test_damaged_weather_csv_fails_cleanly(tmp_path, capsys, body, where, why):
    code, err = _validate(capsys, _weather_scenario(tmp_path, body))
    assert code == 2 and why in err and where in err and "facility.weather" in err, err


def _epw(rows: list[str]) -> str:
    head = ["LOCATION,S\xe3o Paulo,SP,BRA,SWERA,837800,-23.6,-46.6,-3.0,803.0"] + [f"H{i},0" for i in range(7)]
    return "\n".join(head + rows) + "\n"


def _epw_row(month=7, day=1, hour=3, tdb="20.0", tdp="10.0", rh="50", p="95000"):
    return f"1999,{month},{day},{hour},0,?9?9?9?9E0,{tdb},{tdp},{rh},{p}," + ",".join(["0"] * 25)


@pytest.mark.parametrize("row, why", [
    (_epw_row(month=0), "month 0"),
    (_epw_row(day=32), "day 32"),
    (_epw_row(hour=25), "hour 25"),
    (_epw_row(tdb="9999"), "plausible range"),
    (_epw_row(rh="150"), "plausible range"),
    (_epw_row(tdb="NA"), "not a number"),
    (_epw_row(hour=1), "duplicate time"),
    ("1999,7,1,2", "fields"),
])
def test_damaged_epw_fails_cleanly(tmp_path, capsys, row, why):
    body = _epw([_epw_row(hour=1), _epw_row(hour=2, tdb="99.9"), row])  # 99.9 = EPW missing code: fine
    code, err = _validate(capsys, _weather_scenario(tmp_path, body, "epw", "w.epw"))
    assert code == 2 and why in err and "w.epw:11:" in err, err


def test_real_epw_conventions_are_accepted(tmp_path, capsys):
    """Latin-1 header (a place name), missing codes 99.9 / 999 / 999999, RH up to 110 %."""
    rows = [_epw_row(hour=h, tdb="99.9" if h == 3 else f"{15 + h / 2}", rh="999" if h == 4 else "105" if h == 5 else "60",
                     p="999999" if h == 6 else "92000") for h in range(1, 25)]
    p = tmp_path / "w.epw"
    p.write_bytes(_epw(rows).encode("latin-1"))
    raw = read_yaml(REF)
    raw["facility"]["weather"] = {"kind": "epw", "path": "w.epw", "start_day": 182}
    sc = load_scenario(raw, base_dir=tmp_path)
    from dcsim.engine.preflight import preflight

    pre = preflight(sc)
    db, wb = pre.models.facility.weather.at(np.array([2.5 * 3600.0]))
    assert db[0] == pytest.approx(0.5 * (16.0 + 17.0)) and wb[0] <= db[0]
