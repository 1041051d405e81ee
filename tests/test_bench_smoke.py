"""The benchmarks in bench/ still start: each parses its arguments, and the scenarios the fluid benches run
by default pass preflight (no run). bench_year.py once stopped here for weeks: preflight's memory fit refused its
default year (64 columns x 525,600 ticks, ~4.62 GB estimated, above the 4.29 GB default limit)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

import dcsim
from dcsim.engine.preflight import preflight
from dcsim.scenario import ScenarioError

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("bench_*.py"))


def _load(name: str, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.setattr(os, "environ", dict(os.environ))  # a bench may set its environment at import
    spec = importlib.util.spec_from_file_location(name[:-3], BENCH / name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_bench_is_listed():
    assert len(SCRIPTS) >= 8 and "bench_year.py" in SCRIPTS


@pytest.mark.parametrize("name", SCRIPTS)
def test_bench_parses_its_arguments(name, monkeypatch, capsys):
    mod = _load(name, monkeypatch)
    monkeypatch.setattr(sys, "argv", [name, "--help"])
    with pytest.raises(SystemExit) as e:
        mod.main()
    assert e.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_bench_year_default_passes_preflight(monkeypatch):
    """The default year (Phoenix, 8,760 h at a 1-min tick, every issue-18 model) passes preflight under the
    memory limit the bench sets; without it the default limit refuses it, naming DCSIM_MEMORY_LIMIT."""
    mod = _load("bench_year.py", monkeypatch)
    ov = mod.year_overrides(mod.parser().parse_args([]))
    os.environ.pop("DCSIM_MEMORY_LIMIT", None)
    with pytest.raises(ScenarioError, match="DCSIM_MEMORY_LIMIT") as e:
        preflight(dcsim.load_scenario(mod.REFERENCE, overrides=ov))
    assert "525,600 ticks" in str(e.value)
    monkeypatch.delenv("DCSIM_MEMORY_LIMIT", raising=False)
    mod.set_memory_limit()  # what main() calls: the test no longer sets the limit itself
    assert os.environ["DCSIM_MEMORY_LIMIT"] == mod.MEMORY_LIMIT
    pf = preflight(dcsim.load_scenario(mod.REFERENCE, overrides=ov))
    assert pf.estimate["ticks"] == 525_600
    env = {"DCSIM_MEMORY_LIMIT": "1 GB"}
    mod.set_memory_limit(env)
    assert env["DCSIM_MEMORY_LIMIT"] == "1 GB"  # a limit the caller set wins


def test_bench_fluid_default_passes_preflight(monkeypatch):
    mod = _load("bench_fluid.py", monkeypatch)
    os.environ.pop("DCSIM_MEMORY_LIMIT", None)
    preflight(dcsim.load_scenario(mod.REFERENCE, overrides=mod.scaled_overrides()))
