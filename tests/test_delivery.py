"""Power-delivery chain and rack limits: UPS anchors (CALIBRATION C2), who carries what, racks."""

import math

import numpy as np
import pytest
from pydantic import ValidationError

from dcsim.power.delivery import pdu_loss_w, transformer_loss_w, ups_efficiency, ups_loss_w
from dcsim.power.rack import (
    rack_cooling_limit_w, rack_liquid_fraction, rack_node_power_budget_w, rack_power_limit_w, split_rack_heat,
)
from dcsim.scenario.facility import FacilitySpec, RackCoolingSpec, RackPowerSpec
from dcsim.thermal.facility import build_facility


def test_ups_efficiency_anchors_c2():
    # CALIBRATION C2: eta(1)=0.955, eta(0.5)=0.922, eta(0.75)=0.944, eta(0.2–0.25)≈0.85
    assert ups_efficiency(1.0) == pytest.approx(0.955, abs=5e-4)
    assert ups_efficiency(0.5) == pytest.approx(0.922, abs=5e-4)
    assert ups_efficiency(0.75) == pytest.approx(0.944, abs=5e-4)
    assert 0.83 <= ups_efficiency(0.2) <= ups_efficiency(0.25) <= 0.87
    x = np.linspace(0.05, 1.0, 50)
    assert np.all(np.diff(ups_efficiency(x)) > 0)  # efficiency drops at low load


def test_ups_loss_consistent_with_efficiency_and_redundancy():
    rating = 1e6
    for x in (0.1, 0.4, 0.9):
        out = x * rating
        loss = ups_loss_w(out, rating)
        assert out / (out + loss) == pytest.approx(float(ups_efficiency(x)), rel=1e-12)
    # 2N: twice the no-load loss, same proportional loss
    l1 = ups_loss_w(3e5, rating, redundancy=1.0)
    l2 = ups_loss_w(3e5, rating, redundancy=2.0)
    assert l2 - l1 == pytest.approx(0.0376 * rating)


def test_transformer_and_pdu():
    r = 20e6
    assert 1 - transformer_loss_w(r, r) / (r + transformer_loss_w(r, r)) == pytest.approx(0.99, abs=1e-3)
    p = np.linspace(0, 2 * r, 21)
    assert np.all(np.diff(transformer_loss_w(p, r)) > 0)
    assert transformer_loss_w(0.0, r) == pytest.approx(0.002 * r)
    assert pdu_loss_w(1e6, 0.01) == pytest.approx(1e4)


def test_ups_carries_it_only_transformer_carries_everything():
    f = build_facility(FacilitySpec(interconnect="20 MW"))
    it = np.full(2, 10e6)
    b = f.breakdown(it, 0.0, np.array([0.0, 40.0]), np.array([-3.0, 28.0]))
    # UPS loss does not see the cooling load; the transformer does
    assert b["loss_ups"][0] == b["loss_ups"][1]
    assert b["cooling"][1] > b["cooling"][0]
    assert b["loss_transformer"][1] > b["loss_transformer"][0]
    pc = f.spec.power_chain
    expected_ups = ups_loss_w(it[0] * (1 + pc.pdu_loss_fraction), 20e6)
    assert b["loss_ups"][0] == pytest.approx(expected_ups, rel=1e-12)
    down = b["it"] + b["cooling"] + b["loss_ups"] + b["loss_pdu"] + b["fixed"]
    np.testing.assert_allclose(b["loss_transformer"], transformer_loss_w(down, 20e6), rtol=1e-12)


def test_ups_rating_limits_it():
    f = build_facility(FacilitySpec(interconnect="20 MW", power_chain={"ups_rating": "10 MW"}))
    assert f.ups_it_limit_w == pytest.approx(10e6 / 1.01)
    g = build_facility(FacilitySpec(interconnect="20 MW", power_chain={"generator": "15 MW"}))
    assert g.generator_w == 15e6 and g.ups_rating_w == 20e6


def test_rack_power_limit_nec_derating():
    assert rack_power_limit_w(50e3, 0.8) == pytest.approx(40e3)
    assert rack_node_power_budget_w(50e3, 0.8, 1e3) == pytest.approx(39e3)
    assert rack_node_power_budget_w(1e3, 0.8, 2e3) == 0.0
    assert math.isinf(rack_power_limit_w(None))
    spec = RackPowerSpec(power_limit="50 kW")
    assert spec.derate == 0.8 and spec.power_limit == 50e3


def test_rack_cooling_limits_and_heat_split():
    assert rack_cooling_limit_w("air") < rack_cooling_limit_w("rear_door") < rack_cooling_limit_w("liquid")
    assert rack_cooling_limit_w("air", 20e3) == 20e3
    with pytest.raises(ValueError):
        rack_cooling_limit_w("immersion")
    heat = np.array([1e3, 5e4])
    liq, air = split_rack_heat(heat, "liquid", 0.9)
    np.testing.assert_allclose(liq + air, heat, rtol=1e-15)
    np.testing.assert_allclose(liq, 0.9 * heat)
    liq, air = split_rack_heat(heat, "air")
    assert np.all(liq == 0) and np.all(air == heat)
    assert rack_liquid_fraction("rear_door", 0.9) == 0.0
    assert RackCoolingSpec(kind="liquid").liquid_fraction == 0.9
    with pytest.raises(ValidationError):
        RackCoolingSpec(kind="air", liquid_fraction=0.5)
