"""The liquid plant's trim chiller is staged in units no larger than the trim itself (review of session 46).

The default staging unit of a liquid plant's trim is capacity x air_design_fraction (156 kW on a 1.04 MW plant,
docs/facility.md); given a smaller trim (air_side.capacity 50 kW) that one "unit" was three times the whole trim,
so its part load, hence its COP, was read on a chiller it does not have.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dcsim.scenario.facility import FacilitySpec
from dcsim.thermal.facility import build_facility
from dcsim.thermal.psychro import wet_bulb_c

LIQ = {"interconnect": "1.4 MW", "power_chain": {"ups_rating": "1.1 MW", "fixed_load": "10 kW"}}  # test_cooling's


def _liquid(**cooling):
    return build_facility(FacilitySpec.model_validate({**LIQ, "cooling": {"kind": "liquid", "capacity": "1.04 MW",
                                                                          **cooling}}))


def test_a_trim_smaller_than_the_default_unit_is_staged_in_units_of_its_own_size():
    """A 50 kW trim on a 1.04 MW plant (default unit 0.15 x 1.04 MW = 156 kW): one unit is the whole 50 kW trim, and
    its chillers cost what a 50 kW unit given as air_side.chiller_unit costs, less than 156 kW units at the same load
    (a 32 kW load is 64 % of a 50 kW chiller, 21 % of a 156 kW one, near the regression's 0.2 floor)."""
    small = _liquid(air_side={"capacity": "50 kW"})
    assert small.trim_capacity_w == pytest.approx(50e3)
    assert small.chiller_unit_w == pytest.approx(50e3)  # was 156 kW, 3.1x the trim
    t = np.array([10.0, 20.0, 30.0])
    wb = wet_bulb_c(t, 0.3)
    given = _liquid(air_side={"capacity": "50 kW", "chiller_unit": "50 kW"})
    old = _liquid(air_side={"capacity": "50 kW", "chiller_unit": "156 kW"})
    for it_w in (100e3, 200e3):
        a, b, c = (f.breakdown(it_w, 0.9, t, wb)["cooling_chiller"] for f in (small, given, old))
        np.testing.assert_allclose(a, b, rtol=1e-12)
    a, c = (f.breakdown(100e3, 0.9, t[:1], wb[:1])["cooling_chiller"][0] for f in (small, old))
    assert small.chiller_load_w(100e3, 0.9, t[:1], wb[:1])[0] == pytest.approx(32.2e3, rel=1e-2)
    assert a < 0.85 * c  # 3.29 vs 4.04 kW of chiller power


@pytest.mark.parametrize("cooling", [{}, {"supply_t": 45.0}, {"air_design_fraction": 0.5}, {"rating_t_out": 40.0},
                                     {"air_side": {"capacity": "5 MW"}}, {"air_side": {"capacity": "0.9 MW"}}])
def test_the_default_unit_is_unchanged_where_the_trim_is_at_least_the_design_air_side_heat(cooling):
    """Where the trim is at least capacity x air_design_fraction (every default-sized trim, and the shipped
    scenarios, which do not size theirs) the unit stays capacity x air_design_fraction."""
    f = _liquid(**cooling)
    cs = f.spec.cooling
    assert f.trim_capacity_w >= f.capacity_w * cs.air_design_fraction * (1 - 1e-12)
    assert f.chiller_unit_w == pytest.approx(f.capacity_w * cs.air_design_fraction, rel=1e-12)


def test_the_floor_warning_names_the_trim_size_when_it_sets_the_unit():
    """Preflight's part-load-floor warning names what set the unit: on the campus at capacity 300 MW the default unit
    is 45 MW (300 MW x 0.15); a 30 MW trim (air_side.capacity) sets it to 30 MW, still ~9x the trim's full load."""
    from dcsim.engine.preflight import preflight
    from dcsim.scenario import apply_overrides, load_scenario, read_yaml

    path = Path(__file__).resolve().parents[1] / "scenarios" / "campus-interconnect.yaml"
    raw = apply_overrides(read_yaml(path), {"duration": "1 h", "facility.cooling.capacity": "300 MW",
                                            "facility.cooling.air_side.capacity": "30 MW"})
    (w,) = [w for w in preflight(load_scenario(raw, base_dir=path.parent)).warnings if "part-load floor" in w]
    assert w.startswith("facility.cooling.air_side.chiller_unit (default the trim's size air_side.capacity, under "
                        "capacity x air_design_fraction) 30 MW is 9."), w
