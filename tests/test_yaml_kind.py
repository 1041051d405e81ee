"""One rule says whether a YAML file is a sweep or a scenario (dcsim.scenario.yaml_kind), and every entry point that
reads one reads it: the scenario side (load_scenario, dcsim.run, the phase diagram, `dcsim run`, `validate`, `tpf`,
`plan`) refuses a sweep file as such, the sweep side (load_sweep, `dcsim sweep`) a scenario, a sweep's `base:` a sweep
file. Until session 53 the scenario loader and the sweep's base wrote one test of the keys and the sweep loader its
converse, each its own. Nothing here simulates: every scenario-side call carries an invalid override (refused after
the file is classified) and every sweep an unknown metric (refused after its base is loaded)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import dcsim
from dcsim.cli import main
from dcsim.phase import phase_diagram
from dcsim.scenario import ScenarioError, load_scenario, yaml_kind
from dcsim.sweep import load_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "scenarios" / "reference.yaml"
BAD = "duration=-1 h"  # refused by validation, after the file is classified
SWEEP_SAYS = "a scenario, not a sweep file"
SCENARIO_SAYS = ":), not a scenario"  # "a sweep file (it has base:), not a scenario"


def _files(tmp: Path) -> dict[str, tuple[Path, str | None]]:
    """name -> (file, the kind the rule gives it)."""
    ref = yaml.safe_load(REF.read_text())
    sweep = {"base": str(REF), "parameters": {"facility.interconnect": {"values": ["400 kW", "500 kW"]}},
             "metrics": ["no_such.metric"]}
    made = {
        "sweep": (sweep, "sweep"),
        "parameters-only": ({"parameters": sweep["parameters"]}, "sweep"),
        "racks-and-parameters": ({**ref, "parameters": sweep["parameters"]}, "scenario"),  # (a base: is needed)
        "racks-and-base": ({**ref, "base": str(REF)}, None),
        "neither": ({"name": "x", "duration": "1 h"}, None),
    }
    out = {"reference": (REF, "scenario"),
           "shipped-sweep": (ROOT / "scenarios" / "sweeps" / "outdoor_temperature.yaml", "sweep")}
    for name, (raw, kind) in made.items():
        p = tmp / f"{name}.yaml"
        p.write_text(yaml.safe_dump(raw, sort_keys=False))
        out[name] = (p, kind)
    return out


def _verdict(fn) -> str:
    """What an entry point made of a file: "sweep" (refused as a sweep file), "scenario" (refused as a scenario) or
    "other" (accepted, or refused for another reason)."""
    try:
        fn()
    except (ScenarioError, ValueError) as e:
        text = str(e)
        return "sweep" if SCENARIO_SAYS in text else "scenario" if SWEEP_SAYS in text else "other"
    return "other"


def _cli_verdict(capsys, argv) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    if SCENARIO_SAYS in err:
        return "sweep"
    if SWEEP_SAYS in err:
        return "scenario"
    assert code != 0 or argv[0] == "sweep", (argv, err)  # the invalid override is refused too
    return "other"


def test_the_rule_reads_the_keys():
    assert yaml_kind({"base": "a.yaml"}) == ("sweep", "base")
    assert yaml_kind({"parameters": {}, "base": "a.yaml"}) == ("sweep", "parameters")
    assert yaml_kind({"racks": [], "parameters": {}}) == ("scenario", "racks")
    assert yaml_kind({"racks": [], "base": "a.yaml"}) == (None, None)
    assert yaml_kind({"name": "x"}) == (None, None)
    assert yaml_kind(["racks"]) == (None, None)


def test_every_entry_point_classifies_each_file_as_the_rule_does(tmp_path, capsys):
    files = _files(tmp_path)
    assert {k for _, k in files.values()} == {"sweep", "scenario", None}  # a file each way, and neither
    for name, (path, kind) in files.items():
        assert yaml_kind(yaml.safe_load(path.read_text()))[0] == kind, name
        # the scenario side: a sweep file is refused as one; anything else is read as a scenario
        want = "sweep" if kind == "sweep" else "other"
        wrapper = tmp_path / f"base-{name}.yaml"  # a sweep whose base: is this file
        wrapper.write_text(yaml.safe_dump({"base": str(path), "metrics": ["no_such.metric"],
                                           "parameters": {"seed": {"values": [1, 2]}}}))
        scenario_side = {
            "load_scenario": _verdict(lambda: load_scenario(path, overrides=[BAD])),
            "dcsim.run": _verdict(lambda: dcsim.run(str(path), overrides=[BAD])),
            "phase_diagram": _verdict(lambda: phase_diagram(str(path), ("facility.interconnect", ["400 kW"]),
                                                            ("racks.0.count", [1]), overrides={"duration": "-1 h"})),
            "sweep base:": _verdict(lambda: run_sweep(wrapper, cache_dir=None, progress=False)),
        }
        for cmd in (["run", "--no-plots", "--out", str(tmp_path / "o")], ["validate"], ["tpf"],
                    ["plan", "-q", "max-gpus"]):
            scenario_side[f"dcsim {cmd[0]}"] = _cli_verdict(capsys, [cmd[0], str(path), *cmd[1:], "--set", BAD])
        assert scenario_side == dict.fromkeys(scenario_side, want), (name, scenario_side)
        # the sweep side: a scenario is refused as one; anything else is read as a sweep
        want = "scenario" if kind == "scenario" else "other"
        sweep_side = {"load_sweep": _verdict(lambda: load_sweep(path))}
        if name != "shipped-sweep":  # (it would run: the others stop at their base or their validation)
            sweep_side["dcsim sweep"] = _cli_verdict(capsys, ["sweep", str(path), "--no-cache", "-q",
                                                              "--out", str(tmp_path / "s")])
        assert sweep_side == dict.fromkeys(sweep_side, want), (name, sweep_side)
