"""Dotted scenario paths read in one place (dcsim.scenario.paths): --set, apply_overrides, sweeps, the figures' names;
and the units' one home for a field's dimension and a display unit."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcsim.scenario import ScenarioError, apply_overrides, load_scenario, read_yaml
from dcsim.scenario.paths import PARAM_NAMES, index_key, param_name, set_path, split_path

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "scenarios" / "reference.yaml"


def test_both_spellings_of_a_list_item_are_one_path():
    assert split_path("racks[0].count") == split_path("racks.0.count") == ("racks", "0", "count")
    assert index_key("racks[1].node.power_cap") == "racks.#.node.power_cap"


@pytest.mark.parametrize("path", ["racks..count", ".racks", "racks.", "", "  "])
def test_an_empty_key_is_refused(path):
    with pytest.raises(ValueError, match="empty"):
        split_path(path)


def _two_groups() -> dict:
    raw = read_yaml(REF)
    raw["racks"] = [dict(raw["racks"][0], name="a"), dict(raw["racks"][0], name="b", count=3)]
    return raw


@pytest.mark.parametrize("path, words", [
    ("racks.-1.count", "racks is a list: '-1' is not an index of it (a whole number, 0 … 1)"),
    ("racks[-1].count", "racks is a list: '-1' is not an index of it"),
    ("racks.2.count", "racks has 2 items: index 2 is past its end (0 … 1)"),
    ("racks.0.node.gpu.tdp", "racks.0.node.gpu is 'H100-SXM', not a section with keys: set racks.0.node.gpu itself"),
    ("racks.0.count.x", "racks.0.count is 10, not a section with keys"),
])
def test_a_path_that_leaves_the_scenario_says_where(path, words):
    """`racks.-1.count` set the last group (Python's negative index) without a word, and a sweep could not see that
    it was racks.1.count; stepping under a value said "'str' object has no attribute 'get'"."""
    raw = _two_groups()
    with pytest.raises(ScenarioError, match="cannot set this path") as e:
        apply_overrides(raw, {path: 2})
    assert words in str(e.value), str(e.value)
    assert raw["racks"][1]["count"] == 3  # nothing set


def test_an_expect_claim_is_set_by_its_dotted_report_path():
    """expect:'s keys are report paths: --set expect.binding.share.power=[...] made nested mappings
    (expect.binding: Input should be a valid tuple)."""
    sc = load_scenario(REF, overrides=["expect.binding.share.power=[0.1, 0.9]"])
    assert sc.expect["binding.share.power"] == (0.1, 0.9)
    assert "pue" in sc.expect  # a claim set under expect joins the file's claims
    sc = load_scenario(REF, overrides=["expect={pue: [1, 3]}"])
    assert sc.expect == {"pue": (1.0, 3.0)}  # a mapping on the section replaces it


def test_set_path_merges_a_mapping_unless_it_names_another_kind():
    raw = read_yaml(REF)
    set_path(raw, "facility", {"interconnect": "600 kW"})
    assert raw["facility"]["interconnect"] == "600 kW" and raw["facility"]["cooling"]["capacity"] == "395 kW"
    set_path(raw, "facility.weather", {"kind": "constant", "t_db": 20})
    assert raw["facility"]["weather"] == {"kind": "constant", "t_db": 20}


def test_one_home_for_path_splitting_and_names():
    """The dotted-path split lived in three places (apply_overrides, the sweep's overlap check and its axis names);
    the sweep figure's names and the phase diagram's labels in two tables."""
    import dcsim.sweep
    from dcsim.phase import _axis_label

    homes = [p.relative_to(ROOT).as_posix() for p in (ROOT / "dcsim").rglob("*.py")
             if r'\[(\d+)\]' in p.read_text(encoding="utf-8")]
    assert homes == [], homes  # paths.py reads any bracket
    # the sweep names its axes by the one table (its old copy, kept as an alias for this test, is gone)
    assert dcsim.sweep.param_name is param_name and not hasattr(dcsim.sweep, "PARAM_NAMES")
    assert _axis_label("racks.0.count") == ("racks", 1.0) == (param_name("racks[0].count"), 1.0)
    assert _axis_label("facility.interconnect") == ("interconnect (MW)", 1e6)
    assert _axis_label("workload.arrivals.scale")[0] == PARAM_NAMES["workload.arrivals.scale"]
    assert param_name("racks.0.node.levers.kv_compression") == "kv compression"


def test_a_fields_dimension_is_read_from_its_type():
    from dcsim.scenario import ControllerSpec, RackGroupSpec
    from dcsim.scenario.facility import ChillerPlantSpec
    from dcsim.scenario.workload import MmppArrivalSpec
    from dcsim.units import quantity, quantity_dim

    assert quantity_dim(quantity("power", gt=0)) == "power"
    assert quantity_dim(quantity("time") | None) == "time"
    assert quantity_dim(list[quantity("rate")]) == "rate"
    assert quantity_dim(int) is None and quantity_dim(str | None) is None

    def dim(model, key):
        f = model.model_fields[key]
        return quantity_dim(f.annotation, f.metadata)

    assert dim(ControllerSpec, "tick") == "time" and dim(ControllerSpec, "standby_power") == "fraction"
    assert dim(ChillerPlantSpec, "capacity") == "power" and dim(ChillerPlantSpec, "rating_t_out") == "temperature"
    assert dim(MmppArrivalSpec, "rates") == "rate"
    assert dim(RackGroupSpec, "count") is None and dim(ControllerSpec, "clock_levels") is None


def test_the_sweep_axis_unit_is_the_unit_format_quantity_writes():
    from dcsim.plots.sweep import axis_unit
    from dcsim.units import display_unit, format_quantity

    for dim in ("power", "energy", "time", "data", "compute"):
        for v in (3e-4, 0.5, 2.0, 950.0, 3e5, 7e7, 2e10, 4e13, 6e16):
            unit, per = display_unit(v, dim)
            assert format_quantity(v, dim) == f"{v / per:.4g} {unit}"
            assert axis_unit({"dim": dim}, [v / 2, v]) == (unit, 1.0 / per)
    assert display_unit(3e5, "power") == ("kW", 1e3)


def test_the_binding_maps_share_one_colour_map():
    import numpy as np
    from matplotlib.collections import QuadMesh

    from dcsim.phase import PhaseDiagram, plot_phase
    from dcsim.plots import CONSTRAINT_COLORS
    from dcsim.plots.sweep import binding_colormap
    from dcsim.tpf import BINDING_NAMES

    cm, norm = binding_colormap()
    assert [cm(norm(k)) for k in range(4)] == [cm(k) for k in range(4)]
    from matplotlib.colors import to_rgba

    assert [cm(norm(k)) for k in range(4)] == [to_rgba(CONSTRAINT_COLORS[n]) for n in BINDING_NAMES]
    z = np.zeros((2, 2))
    pd = PhaseDiagram("t_out_c", "facility.interconnect", [20, 30], [1e6, 2e6], np.array([20.0, 30.0]),
                      np.array([1e6, 2e6]), np.array([[0, 1], [2, 3]]), z, z, z, z, z,
                      {"t_out_c": 25.0, "demand_tok_s": 1.0, "t_s": 0.0}, "scenario")
    fig = plot_phase(pd, contours=False)
    mesh = next(c for c in fig.axes[0].collections if isinstance(c, QuadMesh))
    got = [tuple(c) for c in mesh.cmap(mesh.norm(np.arange(4)))]
    assert got == [to_rgba(CONSTRAINT_COLORS[n]) for n in BINDING_NAMES]
