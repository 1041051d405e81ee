"""Preflight on hostile inputs: a degF temperature read as degC, a unit slip blamed on the right field."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcsim.engine.preflight import preflight
from dcsim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "scenarios" / "reference.yaml"


def _pre(*sets):
    return preflight(load_scenario(str(REF), overrides=list(sets)), label="reference.yaml")


def test_synthetic_day_outside_the_temperature_range_refused_with_degF_hint():
    """mean_t=75 (meant degF) on the hot-dry preset (seasonal 10 K, diurnal 7 K) makes a 92 degC day: refused on
    facility.weather.mean_t, with the span and "write '75 degF'"; 75 degF itself is valid."""
    with pytest.raises(ScenarioError, match=r"facility\.weather\.mean_t: .*58 \.\. 92 degC.*write '75 degF'"):
        load_scenario(str(REF), overrides=["facility.weather.mean_t=75"])
    load_scenario(str(REF), overrides=["facility.weather.mean_t=75 degF"])


def test_generated_day_above_world_record_warned():
    """A synthetic day peaking above 56.7 degC (WMO world record) is warned naming mean_t; a hot real day is not."""
    w = [x for x in _pre("facility.weather.mean_t=60").warnings if "56.7" in x]
    assert len(w) == 1 and w[0].startswith("facility.weather.mean_t: the outdoor dry bulb reaches 77.0 degC")
    assert "write '60 degF'" in w[0]
    assert not [x for x in _pre().warnings if "56.7" in x]  # the reference's Phoenix-like day peaks near 41 degC
    w = [x for x in _pre("facility.weather={kind: constant, t_db: 60, rh: 0.1}").warnings if "56.7" in x]
    assert len(w) == 1 and w[0].startswith("facility.weather.t_db:")


@pytest.mark.parametrize("override, field, words", [
    # an oversized plant's idle fans and pumps eat the contract: the slip is the capacity, not the interconnect
    ("facility.cooling.capacity=395 MW", "facility.cooling.capacity", "MW for kW"),
    # a plant rated below the idle heat: the capacity, not the power chain's ratings
    ("facility.cooling.capacity=395 W", "facility.cooling.capacity", "W for kW"),
    ("facility.power_chain.fixed_load=5 MW", "facility.power_chain.fixed_load", "MW for kW"),
    ("facility.power_chain.fixed_load=600 kW", "facility.power_chain.fixed_load", "lower fixed_load"),
    ("facility.interconnect=495 W", "facility.interconnect", "cannot power the fleet even idle"),
])
def test_unit_slip_blamed_on_the_field_that_slipped(override, field, words):
    with pytest.raises(ScenarioError) as e:
        _pre(override)
    errs = e.value.errors
    assert len(errs) == 1 and errs[0][0] == field and words in errs[0][1], errs
    assert "ups_rating" not in errs[0][1]
