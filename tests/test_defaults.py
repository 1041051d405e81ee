"""One home for each default: the scenario specs and the model functions share the same numbers."""

import inspect

from dcsim.power import delivery, rack
from dcsim.scenario import facility as fs


def _default(fn, arg):
    return inspect.signature(fn).parameters[arg].default


def test_power_chain_defaults_are_the_specs():
    pc = fs.PowerChainSpec()
    assert _default(delivery.ups_loss_w, "l0") == pc.ups_l0 == _default(delivery.ups_efficiency, "l0")
    assert _default(delivery.ups_loss_w, "l1") == pc.ups_l1 == _default(delivery.ups_efficiency, "l1")
    assert _default(delivery.transformer_loss_w, "no_load") == pc.transformer_no_load
    assert _default(delivery.transformer_loss_w, "proportional") == pc.transformer_proportional
    assert _default(delivery.transformer_loss_w, "square") == pc.transformer_square
    assert _default(delivery.pdu_loss_w, "fraction") == pc.pdu_loss_fraction


def test_rack_defaults_are_the_specs():
    assert _default(rack.rack_power_limit_w, "derate") == fs.RackPowerSpec().derate
    assert _default(rack.rack_liquid_fraction, "liquid_fraction") == fs.RackCoolingSpec().liquid_fraction
    for kind, w in fs.RACK_COOLING_LIMIT_W.items():
        assert rack.rack_cooling_limit_w(kind) == w


def test_ups_default_efficiency_is_its_calibration_anchor():
    """CALIBRATION C2: η(1) = 0.955 and η(0.2–0.25) ≈ 0.85 for the default coefficients."""
    assert abs(float(delivery.ups_efficiency(1.0)) - 0.955) < 0.002
    assert 0.83 < float(delivery.ups_efficiency(0.225)) < 0.87
