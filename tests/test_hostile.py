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
