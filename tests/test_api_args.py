"""The Python API refuses a wrong argument before any work, naming the argument (the input audit AUH of 2026-12-05,
9 and 10): dcsim.run, dcsim.load_scenario, dcsim.phase.phase_diagram."""

from __future__ import annotations

import pytest

import dcsim

REF = "scenarios/reference.yaml"


@pytest.mark.parametrize("call, words", [
    (lambda: dcsim.run(42), "scenario: expected a path, a dict or a Scenario, got int"),
    (lambda: dcsim.run(None), "scenario: expected a path, a dict or a Scenario, got NoneType"),
    (lambda: dcsim.load_scenario(b"name: x"), "source: expected a path, a dict or a Scenario, got bytes"),
    (lambda: dcsim.run(REF, overrides="duration=1 min"), "overrides: expected a mapping"),
    (lambda: dcsim.run(REF, base_dir=3), "base_dir: expected a folder path"),
])
def test_run_and_load_scenario_name_a_wrong_argument_type(call, words):
    """pathlib's "expected str, bytes or os.PathLike object, not int" named no argument."""
    with pytest.raises(TypeError, match=words):
        call()


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
