"""``--set`` paths that overlap are refused (session 54, slice CODE2): a field and a section holding it, in either
order and in any spelling of either path. Until then ``--set x=1 --set x.y=2`` was accepted and applied in turn, so the
order given decided silently which value the run used (a section's mapping merges into what it lands on; a list or a
free section such as ``expect`` is replaced); only one field given twice to different values was refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcsim.cli import main
from dcsim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
REF = str(ROOT / "scenarios" / "reference.yaml")


@pytest.mark.parametrize("sets", [
    ["facility.power_chain.ups_l0=0.01", "facility.power_chain={ups_l0: 0.02}"],
    ["facility.power_chain={ups_l0: 0.02}", "facility.power_chain.ups_l0=0.01"],  # either order
    ["racks[0].count=2", "racks.0={count: 3}"],  # two spellings of one path, one inside the other
    ["racks.0.count=2", "racks=[{count: 3}]"],
    ["expect.pue=[1.0, 3.0]", "expect={}"],  # a free section
])
def test_overlapping_paths_are_refused_naming_both(sets):
    with pytest.raises(ScenarioError) as e:
        load_scenario(REF, overrides=sets)
    assert all(s in str(e.value) for s in sets)


def test_overlapping_paths_on_the_command_line_exit_2(capsys):
    sets = ["facility.power_chain.ups_l0=0.01", "facility.power_chain={ups_l0: 0.01}"]  # the same value, still refused
    code = main(["validate", REF, "--set", sets[0], "--set", sets[1]])
    err = capsys.readouterr().err
    assert code == 2 and sets[0] in err and sets[1] in err


def test_sibling_paths_and_a_common_prefix_of_names_are_not_overlaps():
    sc = load_scenario(REF, overrides=["facility.power_chain.ups_l0=0.01", "facility.power_chain.ups_l1=0.02"])
    assert (sc.facility.power_chain.ups_l0, sc.facility.power_chain.ups_l1) == (0.01, 0.02)


def test_plan_refuses_overlapping_paths():
    from dcsim.plan import _sets

    with pytest.raises(ScenarioError):
        _sets(["facility.interconnect=1 MW", "facility={interconnect: 2 MW}"])


@pytest.mark.parametrize("second", ["racks.00.count=3", "racks[00].count=3", "racks.0\u0660.count=3"])
def test_an_index_with_a_leading_zero_or_a_non_ascii_digit_is_refused(second):
    """``racks.00`` was a second spelling of ``racks.0`` that the overlap check compares as text, so ``--set
    racks.0.count=2 --set racks.00.count=3`` was accepted and the last won (count 3); an index is plain ASCII digits
    without a leading zero."""
    with pytest.raises(ScenarioError) as e:
        load_scenario(REF, overrides=["racks.0.count=2", second])
    assert "racks" in str(e.value) and second.split("=")[0] in str(e.value)


def test_index_zero_and_a_plain_index_still_set():
    sc = load_scenario(REF, overrides=["racks.0.count=3"])
    assert sc.racks[0].count == 3
