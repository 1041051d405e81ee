"""Airside economizer with adiabatic assist: modes, evaporation energy balance, monotonicity,
and a year of the two shipped climates."""

from pathlib import Path

import numpy as np
import pytest

from dcsim.scenario.facility import AirsideEconomizerSpec, FacilitySpec
from dcsim.thermal import cooling as C
from dcsim.thermal.facility import build_facility
from dcsim.thermal.psychro import dew_point_from_wet_bulb_c, wet_bulb_from_dew_point_c

WEATHER = Path(__file__).resolve().parents[1] / "dcsim" / "data" / "weather"
PHX = WEATHER / "USA_AZ_Phoenix-Sky.Harbor.Intl.AP.722780_TMY3.epw"
RIC = WEATHER / "USA_VA_Richmond.Intl.AP.724010_TMY3.epw"


def fac(**kw):
    return build_facility(FacilitySpec(interconnect="12 MW", cooling={"kind": "airside_economizer", **kw}))


def test_dew_point_from_wet_bulb_round_trips():
    t = np.array([5.0, 20.0, 35.0, 42.0])
    dp = np.array([-5.0, 10.0, 12.0, 20.0])
    wb = wet_bulb_from_dew_point_c(t, dp)
    np.testing.assert_allclose(dew_point_from_wet_bulb_c(t, wb), dp, atol=0.05)


def test_modes_cool_hot_dry_and_humid():
    f = fac()
    it = np.full(3, 9e6)
    t_db = np.array([10.0, 40.0, 30.0])
    t_wb = wet_bulb_from_dew_point_c(t_db, np.array([0.0, 5.0, 22.0]))  # dry, desert, humid
    b = f.breakdown(it, 0.0, t_db, t_wb)
    # cool: outdoor air does it all, no compressor, no water
    assert b["economizer_fraction"][0] == 1.0 and b["cooling_chiller"][0] == 0.0 and b["water_kg_s"][0] == 0.0
    # hot and dry: the pad evaporates water and carries the load down to the set point
    assert b["water_kg_s"][1] > 0 and b["economizer_fraction"][1] > 0.5
    # humid (dew point 22 > 15 degC): no outdoor air, the trim carries everything
    assert b["economizer_fraction"][2] == 0.0 and b["water_kg_s"][2] == 0.0 and b["cooling_chiller"][2] > 0
    np.testing.assert_allclose(b["facility"], b["it"] + b["cooling"] + b["losses"] + b["fixed"], rtol=1e-12)


def test_evaporation_energy_balance():
    sp = AirsideEconomizerSpec()
    f = fac()
    t_db, t_wb = np.array([38.0]), np.array([18.0])
    b = f.breakdown(np.array([9e6]), 0.0, t_db, t_wb)
    t_pad = max(float(C.evaporative_outlet_c(t_db, t_wb, sp.saturation_effectiveness)[0]), sp.supply_t)
    m_air = (b["heat_w"][0] + b["cooling_fans"][0]) / (C.CP_AIR * sp.air_delta_t)
    # water evaporated × latent heat = sensible heat the air gave up across the pad
    assert b["water_kg_s"][0] * C.H_FG_WATER == pytest.approx(m_air * C.CP_AIR * (38.0 - t_pad), rel=1e-12)


def test_monotone_in_outdoor_temperature():
    f = fac(trim_capacity_fraction=0.5)
    t_db = np.linspace(0, 45, 91)
    t_wb = wet_bulb_from_dew_point_c(t_db, np.full_like(t_db, 5.0))
    b = f.breakdown(np.full_like(t_db, 9e6), 0.0, t_db, t_wb)
    assert np.all(np.diff(b["cooling"]) >= -1e-6)
    cap = f.heat_rejection_capacity_w(t_db, t_wb)
    assert np.all(np.diff(cap) <= 1e-6) and cap[0] == pytest.approx(12e6)
    # no adiabatic assist: never cheaper than with it, and never uses water
    g = fac(trim_capacity_fraction=0.5, adiabatic=False)
    bg = g.breakdown(np.full_like(t_db, 9e6), 0.0, t_db, t_wb)
    assert np.all(bg["cooling"] >= b["cooling"] - 1e-6) and np.all(bg["water_kg_s"] == 0)


def test_chiller_less_capacity_is_free_cooling_only():
    f = fac(trim_capacity_fraction=0.0)
    t_db = np.array([15.0, 35.0, 30.0])
    t_wb = wet_bulb_from_dew_point_c(t_db, np.array([5.0, 5.0, 22.0]))
    cap = f.heat_rejection_capacity_w(t_db, t_wb)
    assert cap[0] == pytest.approx(12e6) and cap[2] == 0.0  # humid: no outdoor air, no trim


@pytest.mark.parametrize("path", [PHX, RIC], ids=["phoenix", "richmond"])
def test_a_year_of_each_climate(path):
    sp = {"kind": "epw", "path": str(path)}
    t = np.arange(8760) * 3600.0 + 1800.0
    out = {}
    for adiabatic in (True, False):
        f = build_facility(FacilitySpec(interconnect="12 MW", weather=sp,
                                        cooling={"kind": "airside_economizer", "adiabatic": adiabatic}))
        db, wb = f.weather.at(t)
        b = f.breakdown(np.full(t.size, 9e6), 0.0, db, wb)
        out[adiabatic] = b
    pue = {k: v["facility"].sum() / v["it"].sum() for k, v in out.items()}
    assert 1.05 < pue[True] <= pue[False] < 1.5
    water_l_per_kwh = out[True]["water_kg_s"].sum() * 3600 / (out[True]["it"].sum() / 1e3)
    assert 0 <= water_l_per_kwh < 1.0
    if path == PHX:  # the desert uses its pads; humid Richmond barely can (dew point limit)
        assert pue[True] < pue[False] and water_l_per_kwh > 0.05
