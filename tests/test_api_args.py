"""The Python API refuses a wrong argument before any work, naming the argument (the input audit AUH of 2026-12-05,
9 and 10): dcsim.run, dcsim.load_scenario (and dcsim.scenario.load_scenario), dcsim.plan, dcsim.phase.phase_diagram."""

from __future__ import annotations

import pytest

import dcsim

REF = "scenarios/reference.yaml"


@pytest.mark.parametrize("call, words", [
    (lambda: dcsim.run(42), "scenario: expected a path, a dict or a Scenario, got int"),
    (lambda: dcsim.run(None), "scenario: expected a path, a dict or a Scenario, got NoneType"),
    (lambda: dcsim.load_scenario(b"name: x"), "source: expected a path, a dict or a Scenario, got bytes"),
    (lambda: dcsim.run(REF, overrides=5), "overrides: expected a mapping"),
    (lambda: dcsim.run(REF, base_dir=3), "base_dir: expected a folder path"),
])
def test_run_and_load_scenario_name_a_wrong_argument_type(call, words):
    """pathlib's "expected str, bytes or os.PathLike object, not int" named no argument."""
    with pytest.raises(TypeError, match=words):
        call()


@pytest.mark.parametrize("call, words", [
    (lambda: __import__("dcsim.scenario").scenario.load_scenario(42), "source: expected a path, a dict or a Scenario, "
                                                                      "got int 42"),
    (lambda: __import__("dcsim.plan").plan.plan(42, "max-demand"), "scenario: expected a path, a dict or a Scenario, "
                                                                    "got int 42"),
    (lambda: __import__("dcsim.phase").phase.phase_diagram(42, ("facility.interconnect", ["400 kW"]),
                                                           ("racks.0.count", [1])),
     "scenario: expected a path, a dict or a Scenario, got int 42"),
    (lambda: __import__("dcsim.plan").plan.plan(b"name: x", "max-demand"), "got bytes; for YAML text"),
])
def test_every_entry_point_that_takes_a_scenario_names_a_wrong_type(call, words):
    """The check covered dcsim.load_scenario and dcsim.run only: ``dcsim.scenario.load_scenario(42)`` raised
    pathlib's "expected str, bytes or os.PathLike object, not int", the planner and the phase diagram
    "'int' object is not iterable"."""
    with pytest.raises(TypeError, match=words):
        call()


def test_a_path_like_that_is_not_a_pathlib_path_is_read_as_a_path():
    """Any os.PathLike names a file (the planner took only str and pathlib.Path, and made a dict of the rest)."""
    import os

    from dcsim.plan import _raw_and_dir

    class P(os.PathLike):
        def __fspath__(self):
            return REF

    raw, bdir = _raw_and_dir(P())
    assert raw["name"] == "reference" and bdir is not None


def test_a_progress_that_cannot_be_called_is_refused_before_the_run(monkeypatch):
    """``progress=5`` raised simpy's "'int' object is not callable" mid-run; now before anything is built."""
    import sys

    import dcsim.engine.run  # noqa: F401  (the module; dcsim.engine's `run` attribute is the function)

    er = sys.modules["dcsim.engine.run"]

    def never(*a, **k):
        raise AssertionError("the run started")

    monkeypatch.setattr(er, "preflight", never)
    with pytest.raises(TypeError, match="progress: expected a callable"):
        dcsim.run(REF, progress=5, duration="1 min")


IC = ("facility.interconnect", ["400 kW", "500 kW"])
RC = ("racks.0.count", [1, 2])


@pytest.mark.parametrize("args, kw, error, words", [
    ((("facility.interconnect", []), RC), {}, ValueError, "x: the facility.interconnect axis has no values"),
    ((RC, RC), {}, ValueError, r"x \(racks.0.count\) and y \(racks.0.count\) set the same field"),
    ((("racks[0].count", [1]), RC), {}, ValueError, r"x \(racks\[0\].count\) and y \(racks.0.count\) set the same field"),
    ((("racks.0", [{"count": 1}]), RC), {}, ValueError, r"x \(racks.0\) and y \(racks.0.count\) set overlapping fields"),
    (("facility.interconnect", RC), {}, TypeError, r"x: expected \(path, values\)"),
    ((IC, ("racks.0.count", "12")), {}, TypeError, "y: expected"),
    ((IC, RC), {"moment": 1e12}, ValueError, "moment 1000000000000.0: .* outside the run"),
    ((IC, RC), {"moment": -5}, ValueError, "moment -5: .* outside the run"),
    ((IC, RC), {"moment": "noon"}, ValueError, "moment 'noon': expected 'peak_demand', 'hottest' or a time"),
    ((IC, RC), {"simulate": -1}, ValueError, "simulate = -1"),
    ((IC, RC), {"simulate": True}, TypeError, "simulate: .* the boolean"),
    ((IC, RC), {"simulate": [(1, 2, 3)]}, TypeError, r"simulate\[0\]"),
])
def test_phase_diagram_refuses_what_it_cannot_map_naming_the_argument(args, kw, error, words):
    """An empty axis returned an empty map, a field on both axes a map of nothing, a moment past the run was clipped
    to its last tick, ``simulate=-1`` was taken as 1, and ``"noon"`` or a bare path raised Python's own errors."""
    from dcsim.phase import phase_diagram

    with pytest.raises(error, match="phase_diagram: " + words):
        phase_diagram(REF, *args, **kw)


def test_phase_diagram_takes_a_moment_as_a_time_string():
    """A time inside the run may carry its unit: "1 h" is 3,600 s."""
    from dcsim.phase import phase_diagram

    a = phase_diagram(REF, IC, RC, moment="1 h")
    b = phase_diagram(REF, IC, RC, moment=3600.0)
    assert a.moment == b.moment and (a.binding == b.binding).all()


def test_simulate_is_counted_by_the_one_count_check_with_zero_allowed():
    """phase_diagram's ``simulate`` repeated dcsim.textio.check_count but for allowing 0: the check takes a minimum."""
    import numpy as np

    from dcsim.phase import _check_simulate
    from dcsim.textio import check_count

    assert check_count(0, "cells", minimum=0) == 0 and check_count(np.int64(2), "cells", minimum=0) == 2
    with pytest.raises(ValueError, match=r"must be at least 0 \(cells\), got -1"):
        check_count(-1, "cells", minimum=0)
    with pytest.raises(ValueError, match=r"must be at least 1 \(GPUs\), got 0"):
        check_count(0, "GPUs")
    assert _check_simulate(0) == 0 and _check_simulate(np.int64(3)) == 3
    with pytest.raises(ValueError, match=r"simulate = -1: must be at least 0 \(cells per axis"):
        _check_simulate(-1)


# ------------------------------------------------------------------ overrides named as they were given (session 55)

@pytest.mark.parametrize("overrides, item", [
    ([5], "overrides[0]"),  # read "--set: invalid scenario ... 5: expected ..." until session 55
    (["duration=1 h", None], "overrides[1]"),
    (["racks.9.count=3"], "overrides[0]"),
    ({"racks.9.count": 3}, "overrides['racks.9.count']"),
    (["duration=1 h", "duration=2 h"], "overrides[1]"),
])
def test_an_override_error_names_the_api_argument_not_the_flag(overrides, item):
    """dcsim.run(f, overrides=[5]) reported under "--set:", a flag its caller never typed: the error names the
    argument and the entry, and the reason stays (dcsim.scenario.override_error, the one home of the label)."""
    from dcsim.scenario import ScenarioError

    with pytest.raises(ScenarioError) as e:
        dcsim.run(REF, overrides=overrides)
    assert e.value.source == "overrides" and e.value.errors[0][0] == item, str(e.value)
    assert "--set" not in str(e.value)


def test_the_planner_names_overrides_as_its_caller_gave_them(capsys):
    """dcsim.plan.plan(..., overrides={...}) names the argument; `dcsim plan --set` and `dcsim run --set` the flag."""
    from dcsim.cli import main
    from dcsim.plan import plan
    from dcsim.scenario import ScenarioError

    with pytest.raises(ScenarioError) as e:
        plan(REF, "max-gpus", overrides={"racks.9.count": 3})
    assert e.value.source == "overrides" and e.value.errors[0][0] == "overrides['racks.9.count']", str(e.value)
    for argv in (["plan", REF, "-q", "max-gpus", "--set", "racks.9.count=3"],
                 ["run", REF, "--set", "racks.9.count=3", "--out", "/nonexistent/never-written"],
                 ["validate", REF, "--set", "duration=1 h", "--set", "duration=2 h"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("--set: invalid scenario") and "overrides[" not in err, err


def test_a_sweep_point_names_its_path(tmp_path, capsys):
    """A sweep point's paths come from the sweep file, its error names the point: the path alone, not the Python
    argument (held before session 55 as "--set"'s item, dropped by the sweep's own label; pinned)."""
    from pathlib import Path

    from dcsim.cli import main

    sw = tmp_path / "sw.yaml"
    sw.write_text(f"name: bad\nbase: {Path(REF).resolve()}\nmode: grid\nparameters:\n"
                  "  racks.9.count: {values: [6, 8]}\nfixed:\n  duration: 1 h\n", encoding="utf-8")
    assert main(["sweep", str(sw), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "sweep point 0" in err and "\n  racks.9.count: cannot set this path" in err and "overrides" not in err, err


# ------------------------------------------------------------------ given_as: a closed type, one default (session 55)

@pytest.mark.parametrize("call", [
    lambda: dcsim.load_scenario(REF, overrides=["racks.9.count=3"], given_as="--sett"),  # named "--sett[0]" before
    lambda: __import__("dcsim.scenario").scenario.apply_overrides({}, ["a=1"], given_as="--set"),  # a value, not a member
    lambda: __import__("dcsim.scenario").scenario.parse_set("a=1", "overrides"),
    lambda: __import__("dcsim.scenario").scenario.parse_sets(["a=1"], None),
])
def test_given_as_takes_only_its_members(call):
    """given_as was a free string with three magic values: a typo was taken silently and named the error after it
    (``--sett[0]``); anything but a dcsim.scenario.GivenAs member is refused, naming the argument."""
    with pytest.raises(TypeError, match=r"^given_as: expected one of GivenAs\.OVERRIDES_ARG"):
        call()


def test_every_override_reader_names_the_api_argument_by_default():
    """One default for given_as: parse_set and parse_sets named "--set" by default, apply_overrides and load_scenario
    "overrides"; a Python caller of any of them gave the argument, so each names it."""
    from dcsim.scenario import ScenarioError, apply_overrides, load_scenario, parse_set, parse_sets

    for call in (lambda: parse_set(5, at=0), lambda: parse_sets([5]), lambda: apply_overrides({}, [5]),
                 lambda: load_scenario(REF, overrides=[5])):
        with pytest.raises(ScenarioError) as e:
            call()
        assert e.value.source == "overrides" and e.value.errors[0][0] == "overrides[0]", str(e.value)


def test_plan_set_is_applied_once_as_the_api_overrides_are(monkeypatch, capsys):
    """`dcsim plan --set` read the file and applied every --set a second time only to borrow the flag's label for
    an error: the command sets each path as often as the API's overrides= does, and still names the flag
    (test_the_planner_names_overrides_as_its_caller_gave_them)."""
    import dcsim.scenario as S
    from dcsim.cli import main
    from dcsim.plan import plan

    calls: list[str] = []
    real = S.set_path

    def spy(raw, key, value):
        calls.append(key)
        return real(raw, key, value)

    monkeypatch.setattr(S, "set_path", spy)
    plan(REF, "max-gpus", overrides={"facility.interconnect": "600 kW"})
    api = calls.count("facility.interconnect")
    calls.clear()
    assert main(["plan", REF, "-q", "max-gpus", "--set", "facility.interconnect=600 kW"]) == 0
    capsys.readouterr()
    assert api >= 1 and calls.count("facility.interconnect") == api, (api, calls)


@pytest.mark.parametrize("argv", [
    ["plan", REF, "-q", "interconnect-for", "--set", "racks.9.count=3", "--curtailment", "0.5%"],
    ["plan", REF, "-q", "max-demand", "--set", "racks.9.count=3", "--target", "ttft.p99<=2 s", "--no-confirm"],
])
def test_every_plan_form_names_the_set_flag(argv, capsys):
    """plan --curtailment (dcsim.plan_flex) and plan --target pass --set to the planner as overrides= too: the error
    is named as the flag (dcsim.scenario.relabel_override), as plain plan's is."""
    from dcsim.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("--set: invalid scenario") and "\n  racks.9.count: cannot set this path" in err, err
    assert "overrides" not in err, err


@pytest.mark.parametrize("x, y, axis", [
    (("racks.9.count", [1, 2]), ("facility.interconnect", ["10 MW", "20 MW"]), "x"),
    (("facility.interconnect", ["10 MW", "20 MW"]), ("racks.9.count", [1, 2]), "y"),
])
def test_a_phase_axis_that_cannot_be_set_is_named_as_the_axis(x, y, axis):
    """phase_diagram(REF, ('racks.9.count', [1, 2]), ...) reported overrides['racks.9.count'], an argument its caller
    never gave: the error names the axis the path was given as (x or y) and the path; the phase diagram's own
    overrides= still names that argument."""
    from dcsim.phase import phase_diagram
    from dcsim.scenario import ScenarioError

    with pytest.raises(ScenarioError) as e:
        phase_diagram(REF, x, y)
    (item, reason), = e.value.errors
    assert e.value.source == axis and item == axis and reason.startswith("racks.9.count: cannot set this path"), \
        str(e.value)
    assert "overrides" not in str(e.value)
    with pytest.raises(ScenarioError) as e:
        phase_diagram(REF, ("racks.0.count", [1, 2]), ("facility.interconnect", ["10 MW"]),
                      overrides={"racks.9.count": 3})
    assert e.value.errors[0][0] == "overrides['racks.9.count']", str(e.value)
