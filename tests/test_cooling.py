"""Cooling-plant physics: Lei & Masanet COP regression (CALIBRATION C3), economizer, fans, pumps,
capacity derating, liquid vs air."""

import numpy as np
import pytest

from dcsim.scenario.facility import FacilitySpec
from dcsim.thermal import cooling as C
from dcsim.thermal.facility import build_facility
from dcsim.thermal.psychro import wet_bulb_c

# CALIBRATION C3 table (derived from the [LEI] formula)
C3 = {0.2: [9.27, 7.10, 5.37, 4.08, 3.23], 0.5: [10.82, 8.78, 7.18, 6.02, 5.30], 0.8: [10.84, 8.93, 7.45, 6.42, 5.82]}
C3_T = [15, 20, 25, 30, 35]


@pytest.mark.parametrize("load", sorted(C3))
def test_chiller_cop_reproduces_c3_table(load):
    np.testing.assert_allclose(C.chiller_cop(load, np.array(C3_T, float)), C3[load], atol=0.006)


def test_chiller_cop_point_and_adjust():
    assert C.chiller_cop(0.5, 25.0) == pytest.approx(7.18, abs=0.005)
    assert C.chiller_cop(0.5, 25.0, 0.11) == pytest.approx(1.11 * float(C.chiller_cop(0.5, 25.0)))


def test_chiller_cop_never_improves_with_hotter_condenser():
    t = np.linspace(5, 60, 221)
    for l in (0.2, 0.5, 0.8):
        assert np.all(np.diff(C.chiller_cop(l, t)) <= 1e-12)


def test_economizer_fraction_full_partial_none():
    f = C.economizer_fraction(np.array([5.0, 15.0, 18.75, 22.5, 30.0]), 15.0, 22.5)
    np.testing.assert_allclose(f, [1.0, 1.0, 0.5, 0.0, 0.0])


def test_crah_fan_w_per_kw_matches_c3_and_affinity_law():
    # CALIBRATION C3: 24 W/kW (19.4 K, 500 Pa, 0.90), 57 (13.9 K, 750 Pa, 0.775), 91 (13.9 K, 1000 Pa, 0.65)
    assert C.fan_power_w(1e3, 19.4, 500, 0.90) == pytest.approx(24, abs=0.5)
    assert C.fan_power_w(1e3, 13.9, 750, 0.775) == pytest.approx(57, abs=1.0)
    assert C.fan_power_w(1e3, 13.9, 1000, 0.65) == pytest.approx(91, abs=1.0)
    p1 = C.crah_fan_power_w(4e5, 1e6, 16.7, 750, 0.775, 3.0, 0.3)
    p2 = C.crah_fan_power_w(8e5, 1e6, 16.7, 750, 0.775, 3.0, 0.3)
    assert p2 / p1 == pytest.approx(8.0)  # P ∝ speed³
    # beyond the design heat the fans stay at full speed
    assert C.crah_fan_power_w(2e6, 1e6, 16.7, 750, 0.775, 3.0, 0.3) == pytest.approx(C.fan_power_w(1e6, 16.7, 750, 0.775))
    # below the minimum speed the fans do not slow further
    assert C.crah_fan_power_w(1e5, 1e6, 16.7, 750, 0.775, 3.0, 0.3) == pytest.approx(
        C.crah_fan_power_w(2e5, 1e6, 16.7, 750, 0.775, 3.0, 0.3))


def test_pump_and_tower_by_hand():
    # 1 MW at ΔT 5 K: flow 1e6/(1000·4186·5) m³/s; × 208,660 Pa / 0.7
    assert C.pump_power_w(1e6, 5.0, 208660, 0.7) == pytest.approx(1e6 / (4186 * 5) / 1000 * 208660 / 0.7)
    m_w = 1e6 / (4186 * 5)
    assert C.tower_fan_power_w(1e6, 5.0, 2.0, 250, 0.775) == pytest.approx(m_w / 2 / 1.2 * 250 / 0.775)


def test_capacity_fraction_never_rises_with_temperature():
    t = np.linspace(-30, 55, 400)
    f = C.capacity_fraction(t, 25.6, 0.015)
    assert np.all(np.diff(f) <= 0) and f.max() == 1.0 and f.min() >= 0.0


@pytest.mark.parametrize("cooling", [
    {"kind": "chiller_plant"}, {"kind": "chiller_plant", "heat_rejection": "dry_cooler"}, {"kind": "liquid"},
    {"kind": "liquid", "derate_per_k": 0.05}])
def test_facility_capacity_non_increasing_in_outdoor_temperature(cooling):
    f = build_facility(FacilitySpec(interconnect="20 MW", cooling=cooling))
    t_db = np.linspace(-10, 50, 121)
    t_wb = wet_bulb_c(t_db, 0.4)
    q = f.heat_rejection_capacity_w(t_db, t_wb, 0.9)
    assert np.all(np.diff(q) <= 0)
    assert q[0] == pytest.approx(20e6)
    assert q[-1] < q[0]  # and it does derate on a hot day


def test_economizer_hours_when_cool_and_none_when_hot():
    f = build_facility(FacilitySpec(interconnect="20 MW"))
    t_db = np.array([-5.0, 5.0, 35.0])
    b = f.breakdown(10e6, 0.0, t_db, wet_bulb_c(t_db, 0.5))
    assert b["economizer_fraction"][0] == 1.0 and b["cooling_chiller"][0] == 0.0
    assert b["economizer_fraction"][2] == 0.0 and b["cooling_chiller"][2] > 0.0


def test_liquid_cooling_lower_pue_than_air_same_weather():
    air_dry = build_facility(FacilitySpec(interconnect="20 MW", cooling={"kind": "chiller_plant",
                                                                        "heat_rejection": "dry_cooler"}))
    air_tower = build_facility(FacilitySpec(interconnect="20 MW"))
    liq = build_facility(FacilitySpec(interconnect="20 MW", cooling={"kind": "liquid"}))
    t_db = np.linspace(-5, 45, 26)
    t_wb = wet_bulb_c(t_db, 0.5)
    for it in (6e6, 12e6):
        p_liq = liq.pue(it, 0.9, t_db, t_wb)
        assert np.all(p_liq < air_dry.pue(it, 0.0, t_db, t_wb))
        hot = t_db >= 25  # towers use the (lower) wet-bulb: compare on warm days
        assert np.all(p_liq[hot] < air_tower.pue(it, 0.0, t_db, t_wb)[hot])


def test_liquid_loop_chiller_free_when_cool():
    liq = build_facility(FacilitySpec(interconnect="20 MW", cooling={"kind": "liquid"}))
    t_db = np.array([10.0, 25.0, 40.0])
    b = liq.breakdown(10e6, 0.9, t_db, wet_bulb_c(t_db, 0.4))
    np.testing.assert_allclose(b["liquid_free_fraction"], [1.0, 1.0, 0.0])
    # a hotter day needs the trim chiller for the warm loop too
    # COP of the warm-loop trim is at most 3 × the [LEI] COP (< 12 here) => ≥ 9 MW / 36
    assert b["cooling_chiller"][2] - b["cooling_chiller"][1] > 0.9 * 10e6 / 36


# --------------------------------------------------------------------------- liquid plant: dry coolers + trim
LIQ = {"interconnect": "1.4 MW", "power_chain": {"ups_rating": "1.1 MW", "fixed_load": "10 kW"}}


def _liquid(**cooling):
    return build_facility(FacilitySpec.model_validate({**LIQ, "cooling": {"kind": "liquid", "capacity": "1.04 MW",
                                                                          **cooling}}))


def _free(t_db, supply=32.0, dt=10.0, approach=5.0):
    """Share of the warm loop's heat its dry coolers reject: they cool the return (supply + dt) to T_db + approach
    (docs/facility.md), worked out here, not taken from the code."""
    return np.clip((supply + dt - (np.asarray(t_db, dtype=float) + approach)) / dt, 0.0, 1.0)


def _trim_w(t_db, rated_w, rating=35.0, k=0.015):
    """The trim chiller's capacity: its rated size derated linearly above its rating (air-cooled condenser)."""
    return rated_w * np.clip(1 - k * (np.asarray(t_db, dtype=float) - rating), 0.0, 1.0)


def _check_within_plant(f, t, lf, q, tight=True):
    """What a liquid plant can honestly reject, as the power model charges it: the dry coolers take free·lf·IT of
    the heat (at most their design size, capacity·(1 − air_design_fraction)·free), the trim everything else (the
    air-side heat and the loop's overflow (1 − free)·lf·IT), within its derated capacity; the total is at most
    `capacity`. ``tight``: q is the largest heat that does so (one of the three limits binds)."""
    cs = f.spec.cooling
    free = _free(t, cs.supply_t, cs.delta_t, cs.dry_cooler_approach)
    trim = _trim_w(t, f.trim_capacity_w, cs.rating_t_out, cs.derate_per_k)
    dry = f.capacity_w * (1 - cs.air_design_fraction) * free
    trim_load = q - np.minimum(free * lf * f.it_for_heat_w(q), dry)
    assert np.all(trim_load <= trim * (1 + 1e-9) + 1e-6)
    assert np.all(q <= f.capacity_w * (1 + 1e-12))
    if tight:
        binds = (np.isclose(q, f.capacity_w, rtol=1e-9) | np.isclose(trim_load, trim, rtol=1e-9, atol=1e-6))
        assert np.all(binds), t[~binds]


def test_liquid_capacity_is_dry_coolers_plus_trim_and_the_trim_alone_once_the_approach_closes():
    """A 156 kW trim (the old default size) cannot carry 785 kW of warm-loop heat: above 37 degC (W32 return
    42 degC − 5 K approach) the dry coolers reject nothing and the plant's capacity is the derated trim's."""
    f = _liquid(air_side={"capacity": "156 kW"})
    t = np.linspace(20.0, 50.0, 121)
    q = f.heat_rejection_capacity_w(t, wet_bulb_c(t, 0.3), 0.9)
    assert np.all(np.diff(q) <= 0)
    _check_within_plant(f, t, 0.9, q)
    hot = t >= 37.0
    np.testing.assert_allclose(q[hot], _trim_w(t[hot], 156e3), rtol=1e-12)
    assert q[t == 45.0][0] == pytest.approx(156e3 * (1 - 0.015 * 10))   # 132.6 kW, not 962 kW


def test_liquid_trim_defaults_to_what_meets_capacity_at_the_rating_temperature():
    """capacity means what it means for a chiller plant: heat rejected at rating_t_out (35 degC dry-bulb), when the
    hall's liquid heat at capacity is the design share capacity·(1 − air_design_fraction) the dry coolers are
    sized for; a hall with less liquid heat meets it with air_design_fraction set to its air share."""
    f = _liquid()
    free_35 = (42.0 - 40.0) / 10.0  # the W32 loop's dry coolers at 35 degC: 2 K of the 10 K range
    assert f.trim_capacity_w == pytest.approx(1.04e6 * (1 - 0.85 * free_35))   # 863.2 kW
    t = np.array([20.0, 35.0, 45.0])
    q = f.heat_rejection_capacity_w(t, wet_bulb_c(t, 0.3), 0.9)
    # lf 0.9 puts 0.9·IT(1.04 MW) = 881 kW on the loop, 3 kW short of the design 884 kW: 0.6 kW short at 35 degC
    np.testing.assert_allclose(q, [1.04e6, 1.0394e6, 863.2e3 * 0.85], rtol=1e-4)
    # sized for the hall's air share, the default trim meets capacity at the rating for any lf
    for lf in (0.3, 0.5, 0.9):
        share = 1 - lf * float(f.it_for_heat_w(1.04e6)) / 1.04e6
        g = _liquid(air_design_fraction=share)
        assert g.heat_rejection_capacity_w(35.0, 20.0, lf) == pytest.approx(1.04e6, rel=1e-12)
        assert _liquid().heat_rejection_capacity_w(35.0, 20.0, lf) < 1.04e6 * (1 - 0.1 * (0.9 - lf))
    # a warm loop (W45) is chiller-free at the rating: the trim is the design air-side share
    assert _liquid(supply_t=45.0).trim_capacity_w == pytest.approx(0.15 * 1.04e6)
    # rated where the W32 dry coolers give nothing, the trim is the whole plant
    assert _liquid(rating_t_out=40.0).trim_capacity_w == pytest.approx(1.04e6)


@pytest.mark.parametrize("cooling", [{}, {"air_side": {"capacity": "50 kW"}}, {"supply_t": 45.0},
                                     {"supply_t": 40.0, "dry_cooler_approach": 3.0, "derate_per_k": 0.05},
                                     {"rating_t_out": 40.0}, {"air_side": {"capacity": "1.04 MW"}}])
@pytest.mark.parametrize("lf", [0.0, 0.3, 0.5, 0.9])
def test_liquid_capacity_monotone_in_outdoor_temperature_and_the_trim_carries_what_the_dry_coolers_do_not(
        cooling, lf):
    """The trim carries the air-side heat and the warm loop's overflow (1 − free)·lf·IT, as the power model charges
    it. Before: only the air-side heat was held to the trim and the dry coolers were credited their design size
    whatever the hall's lf: at 35 degC the default 863 kW trim carried 1.09× (lf 0.5) and 1.14× (lf 0.3) its
    capacity, the same plant capacity for every lf."""
    f = _liquid(**cooling)
    t = np.linspace(-10.0, 55.0, 261)
    q = f.heat_rejection_capacity_w(t, wet_bulb_c(t, 0.3), lf)
    assert np.all(np.diff(q) <= 0) and np.all(q >= 0) and q.max() <= 1.04e6
    _check_within_plant(f, t, lf, q)


def test_liquid_capacity_falls_with_the_air_side_share_where_the_trim_carries_loop_heat():
    """At 35 degC (2 K of the loop's 10 K range free) the less of the heat is liquid, the less the dry coolers take
    and the more the 863 kW trim must carry: 1,039 / 994 / 953 / 915 kW at lf 0.9 / 0.7 / 0.5 / 0.3 (all 1,040 kW
    before); at 20 degC (all free) and above 37 degC (none) lf 0.3–0.9 do not matter."""
    f = _liquid()
    q = {lf: f.heat_rejection_capacity_w(np.array([20.0, 35.0, 40.0]), 20.0, lf) for lf in (0.9, 0.7, 0.5, 0.3)}
    np.testing.assert_allclose([q[lf][1] for lf in (0.9, 0.7, 0.5, 0.3)], [1039.4e3, 994.0e3, 952.6e3, 914.6e3],
                               rtol=2e-4)
    assert q[0.9][1] > q[0.7][1] > q[0.5][1] > q[0.3][1]
    for lf in q:
        assert q[lf][0] == pytest.approx(1.04e6) and q[lf][2] == pytest.approx(q[0.9][2])


def test_the_trim_has_one_description_the_liquid_spec():
    """The trim's size is air_side.capacity, its rating and derating the liquid spec's rating_t_out and derate_per_k
    on dry-bulb. air_side.rating_t_out / derate_per_k / a cooling-tower heat_rejection changed nothing in the capacity
    (and the tower changed the energy): refused, naming the field. air_side given without heat_rejection stays the
    default air-cooled trim (it became a cooling tower, ChillerPlantSpec's default)."""
    from pydantic import ValidationError

    for bad, word in (({"rating_t_out": 40.0}, "rating_t_out"), ({"derate_per_k": 0.03}, "derate_per_k"),
                      ({"heat_rejection": "cooling_tower"}, "heat_rejection cooling_tower")):
        with pytest.raises(ValidationError, match=r"air_side\n.*" + word + ".*rated and derated by the liquid spec"):
            _liquid(air_side=bad)
    f = _liquid(air_side={"capacity": "1.04 MW"})
    assert f.spec.cooling.air_side.heat_rejection == "dry_cooler"
    assert _liquid(air_side={"heat_rejection": "dry_cooler"}).trim_capacity_w == pytest.approx(863.2e3, rel=1e-4)


def test_the_trim_given_as_a_mapping_or_a_spec_from_python_is_the_same_trim():
    """LiquidCoolingSpec(air_side=ChillerPlantSpec(capacity=...)) from the Python API was refused for a cooling tower
    the caller did not set (ChillerPlantSpec's default), while the same trim as a mapping was accepted: the rule lives
    in TrimChillerSpec (air-cooled by default, its rating the liquid spec's), and a ChillerPlantSpec is read by the
    fields its caller set. What the caller did set is refused alike on every path."""
    from pydantic import ValidationError

    from dcsim.scenario.facility import ChillerPlantSpec, LiquidCoolingSpec, TrimChillerSpec

    given = {"capacity": 1.04e6, "cop_adjust": 0.05}
    trims = [LiquidCoolingSpec.model_validate({"air_side": given}).air_side,
             LiquidCoolingSpec(air_side=ChillerPlantSpec(**given)).air_side,
             LiquidCoolingSpec(air_side=TrimChillerSpec(**given)).air_side]
    for trim in trims:
        assert isinstance(trim, TrimChillerSpec)
        assert trim == trims[0] and trim.heat_rejection == "dry_cooler"
    assert LiquidCoolingSpec().air_side == TrimChillerSpec()
    for bad in ({"heat_rejection": "cooling_tower"}, {"rating_t_out": 40.0}, {"derate_per_k": 0.03}):
        for make in (lambda b: LiquidCoolingSpec.model_validate({"air_side": b}),
                     lambda b: LiquidCoolingSpec(air_side=ChillerPlantSpec(**b))):
            with pytest.raises(ValidationError, match="rated and derated by the liquid spec"):
                make(bad)
        with pytest.raises(ValidationError, match="rated and derated by the liquid spec"):
            TrimChillerSpec(**bad)


def test_liquid_plant_with_a_tiny_trim_binds_on_cooling_on_a_hot_afternoon_and_never_exceeds_its_capacity():
    """heatwave-liquid's hall, 14:00–16:00 (44–45 degC), with a 400 kW trim: the plant can reject ~340 kW
    (the old default 156 kW trim could not even cool the idle fleet: preflight refuses it), so cooling binds
    at every tick and the heat made stays within what the dry coolers (none left) and the trim can reject.
    Before: the plant still rejected 962 kW there and 882 kW of IT ran, compute-bound."""
    import dcsim

    path = __import__("pathlib").Path(__file__).resolve().parents[1] / "scenarios" / "heatwave-liquid.yaml"
    ts = dcsim.run(path, overrides={"duration": "2 h", "start": "2026-07-15T14:00", "expect": {},
                                    "facility.cooling.air_side.capacity": "400 kW"}).timeseries
    heat = ts["it_power_w"] + ts["loss_pdu_w"] + ts["loss_ups_w"]
    assert ts["t_out_c"].min() > 40.0
    free = _free(ts["t_out_c"])
    assert np.all(heat - free * 0.9 * ts["it_power_w"] <= _trim_w(ts["t_out_c"], 400e3) * (1 + 1e-9))
    assert np.all(heat <= ts["heat_capacity_w"] * (1 + 1e-9))
    assert np.all(ts["binding"] == 3)            # cooling
    assert ts["it_power_w"].max() < 360e3        # of 882 kW the GPUs could draw


def test_liquid_dry_coolers_are_charged_no_more_heat_than_their_size_the_trim_the_rest():
    """The power model gave the dry coolers free·lf·IT with no cap at their size, capacity·(1 − air_design_fraction)·
    free, which the capacity holds (review of 2026-12-04): an all-liquid hall at 30 degC whose loop heat exceeds the
    dry coolers' size charged the trim (compressor work) less than it carries. The trim's energy now equals that of
    a trim carrying the loop heat above the dry coolers' size, and the dry-cooler fans move at most their size."""
    from dcsim.thermal.facility import _plant_parts

    f = _liquid()
    cs = f.spec.cooling
    t = np.array([30.0])
    q_liq = np.array([900e3])  # lf 1.0
    dry_size = f.capacity_w * (1 - cs.air_design_fraction) * _free(t, cs.supply_t, cs.delta_t, cs.dry_cooler_approach)
    assert q_liq[0] > dry_size[0] and _free(t)[0] * q_liq[0] > dry_size[0]  # the case the old model overcharged
    b = f.breakdown(q_liq, 1.0, t, wet_bulb_c(t, 0.4))
    heat = b["heat_w"]
    z = np.zeros(1)
    trim = _plant_parts(cs.air_side, f.chiller_unit_w, f.capacity_w * cs.air_design_fraction, heat - q_liq, z,
                        q_liq - dry_size, t, wet_bulb_c(t, 0.4), extra_evap_t_c=cs.supply_t)
    np.testing.assert_allclose(b["cooling_chiller"], trim["cooling_chiller"], rtol=1e-9)
    fans = C.dry_cooler_fan_power_w(dry_size, cs.dry_cooler_air_delta_t, cs.dry_cooler_fan_pressure_pa,
                                    cs.dry_cooler_fan_efficiency)
    np.testing.assert_allclose(b["cooling_tower"], trim["cooling_tower"] + fans, rtol=1e-9)


@pytest.mark.parametrize("cooling", [{}, {"supply_t": 45.0}, {"air_design_fraction": 0.5}, {"rating_t_out": 40.0}])
def test_the_trim_costs_the_same_whether_its_size_is_the_default_or_given(cooling):
    """The trim is one chiller plant of its rated size (`trim_capacity_w`): its part load, hence its COP, is read on
    that size whether the size is the default (what meets capacity at rating_t_out) or given as air_side.capacity.
    Before (review of 2026-12-04): the default trim's part load was read on capacity·air_design_fraction (156 kW of
    heatwave-liquid's 863 kW trim), so the same plant cost less energy described by default than by its size."""
    f = _liquid(**cooling)
    g = _liquid(**cooling, air_side={"capacity": f"{f.trim_capacity_w} W"})
    assert g.trim_capacity_w == pytest.approx(f.trim_capacity_w, rel=1e-12)
    t = np.linspace(0.0, 50.0, 51)
    for lf in (0.0, 0.5, 0.9):
        for it_w in (100e3, 500e3, 900e3):
            bf, bg = (h.breakdown(np.full_like(t, it_w), lf, t, wet_bulb_c(t, 0.3)) for h in (f, g))
            for k in ("cooling_chiller", "cooling_fans", "cooling_pumps", "cooling_tower", "facility"):
                np.testing.assert_allclose(bf[k], bg[k], rtol=1e-12, err_msg=f"{k} lf {lf} IT {it_w}")


def test_the_trim_part_load_is_read_per_staging_unit_not_on_its_whole_size():
    """The trim's COP is read per staging unit (air_side.chiller_unit; the default unit is min(capacity x
    air_design_fraction, trim size), above that the trim's size sets its capacity only): the same load costs the
    same whatever the trim's size; a unit so large that the load sits under the
    regression's 0.2 floor is charged the floor's (worse) COP, so it costs more chiller power. Before (s46c): the
    part load was read on the trim's whole size, so a larger trim cost more at the same load."""
    t = np.array([20.0, 30.0, 40.0])
    wb = wet_bulb_c(t, 0.3)
    small = _liquid(air_side={"capacity": "0.9 MW"})
    large = _liquid(air_side={"capacity": "5 MW"})           # a larger trim of the same units: the same COP
    for it_w in (200e3, 600e3):
        a, b = (f.breakdown(it_w, 0.9, t, wb)["cooling_chiller"] for f in (small, large))
        np.testing.assert_allclose(a, b, rtol=1e-12)
    unit = _liquid(air_side={"chiller_unit": "156 kW"})      # the default unit (1.04 MW x 0.15) given: the same
    np.testing.assert_allclose(unit.breakdown(600e3, 0.9, t, wb)["cooling_chiller"],
                               small.breakdown(600e3, 0.9, t, wb)["cooling_chiller"], rtol=1e-12)
    one = _liquid(air_side={"chiller_unit": "5 MW"})         # one huge unit: the load at the floor, worse COP
    assert np.all(one.breakdown(200e3, 0.9, t, wb)["cooling_chiller"]
                  > 1.05 * small.breakdown(200e3, 0.9, t, wb)["cooling_chiller"])


def test_a_trim_smaller_than_the_default_unit_is_staged_in_units_of_its_own_size():
    """A 50 kW trim on a 1.04 MW plant (default unit 0.15 x 1.04 MW = 156 kW): one unit is the whole 50 kW trim, and
    its chillers cost what a 50 kW unit given as air_side.chiller_unit costs, less than 156 kW units at the same load
    (a 32 kW load is 64 % of a 50 kW chiller, 21 % of a 156 kW one, near the regression's 0.2 floor). Before
    (s46): the 156 kW "unit" was 3.1x the whole trim, its part load read on a chiller it does not have."""
    small = _liquid(air_side={"capacity": "50 kW"})
    assert small.trim_capacity_w == pytest.approx(50e3)
    assert small.chiller_unit_w == pytest.approx(50e3)  # was 156 kW, 3.1x the trim
    t = np.array([10.0, 20.0, 30.0])
    wb = wet_bulb_c(t, 0.3)
    given = _liquid(air_side={"capacity": "50 kW", "chiller_unit": "50 kW"})
    old = _liquid(air_side={"capacity": "50 kW", "chiller_unit": "156 kW"})
    for it_w in (100e3, 200e3):
        a, b = (f.breakdown(it_w, 0.9, t, wb)["cooling_chiller"] for f in (small, given))
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


def _preflight_warnings(name: str, overrides: dict) -> list[str]:
    from pathlib import Path

    from dcsim.engine.preflight import preflight
    from dcsim.scenario import apply_overrides, load_scenario, read_yaml

    path = Path(__file__).resolve().parents[1] / "scenarios" / name
    raw = apply_overrides(read_yaml(path), {"duration": "1 h", **overrides})
    return preflight(load_scenario(raw, base_dir=path.parent)).warnings


def test_the_floor_warning_names_the_trim_size_when_it_sets_the_unit():
    """Preflight's part-load-floor warning names what set the unit: on the campus at capacity 300 MW the default unit
    is 45 MW (300 MW x 0.15); a 30 MW trim (air_side.capacity) sets it to 30 MW, still ~9x the trim's full load."""
    ws = _preflight_warnings("campus-interconnect.yaml", {"facility.cooling.capacity": "300 MW",
                                                          "facility.cooling.air_side.capacity": "30 MW"})
    (w,) = [w for w in ws if "part-load floor" in w]
    assert w.startswith("facility.cooling.air_side.chiller_unit (default the trim's size air_side.capacity, under "
                        "capacity x air_design_fraction) 30 MW is 9."), w
    assert not [w for w in ws if "not more than all of them" in w]  # the default unit is never above the trim


@pytest.mark.parametrize("name, overrides, unit, words", [
    # a 40 MW unit given on a 30 MW trim (the campus's liquid plant)
    ("campus-interconnect.yaml", {"facility.cooling.air_side.capacity": "30 MW"},
     ("facility.cooling.air_side.chiller_unit", "40 MW", "30 MW"),
     "facility.cooling.air_side.chiller_unit 40 MW is 1.33x the whole trim chiller (air_side.capacity) 30 MW"),
    # a 2 MW unit given on heatwave-liquid.yaml's default-sized 863.2 kW trim: its size is capacity less the dry
    # coolers' capacity at rating_t_out (liquid_trim_rated_w), not a trim_capacity_fraction (an air-side
    # economizer's setting, which the warning named until 2026-12-05)
    ("heatwave-liquid.yaml", {}, ("facility.cooling.air_side.chiller_unit", "2 MW", "863.2 kW"),
     "facility.cooling.air_side.chiller_unit 2 MW is 2.32x the whole trim chiller (default: capacity less the dry "
     "coolers' capacity at rating_t_out) 863.2 kW"),
    # a 2 MW unit given on the reference's 395 kW chiller plant
    ("reference.yaml", {}, ("facility.cooling.chiller_unit", "2 MW", "395 kW"),
     "facility.cooling.chiller_unit 2 MW is 5.06x the plant's capacity 395 kW"),
])
def test_a_given_unit_larger_than_what_it_stages_is_warned(name, overrides, unit, words):
    """A chiller unit larger than the whole trim (or a chiller plant's capacity) was taken without a word: its part
    load, hence its COP, is read on one chiller bigger than all of them. A unit equal to the size is not warned."""
    field, big, size = unit
    (w,) = [w for w in _preflight_warnings(name, {**overrides, field: big}) if "not more than all of them" in w]
    assert w.startswith(words), w
    assert not [w for w in _preflight_warnings(name, {**overrides, field: size}) if "not more than all of them" in w]


@pytest.mark.parametrize("cooling, it_w, lf", [
    ({"kind": "chiller_plant"}, 6e6, 0.0),
    ({"kind": "chiller_plant", "heat_rejection": "dry_cooler"}, 6e6, 0.0),
    ({"kind": "chiller_plant", "capacity": "24 MW"}, 6e6, 0.5),
    ({"kind": "liquid", "capacity": "24 MW"}, 16e6, 0.9),     # campus-interconnect.yaml's plant
    ({"kind": "liquid", "capacity": "24 MW"}, 8e6, 0.7),
    ({"kind": "liquid"}, 12e6, 0.9),
])
def test_chiller_and_facility_power_do_not_fall_as_the_day_warms(cooling, it_w, lf):
    """At a fixed IT load a warmer day can only cost more: less free cooling, a hotter condenser. Chiller power and
    facility power are non-decreasing in dry-bulb from -10 to 45 degC (relative humidity fixed). Fails on s46c's
    trim part load read on the trim's whole size: the campus plant's chiller power fell 975 -> 959 kW from 28 to
    29.5 degC as the rising load lifted the trim off the regression's 0.2 floor."""
    f = build_facility(FacilitySpec.model_validate({"interconnect": "16 MW", "cooling": cooling}))
    t = np.arange(-10.0, 45.01, 0.25)
    b = f.breakdown(np.full_like(t, it_w), lf, t, wet_bulb_c(t, 0.4))
    for k in ("cooling_chiller", "facility"):
        d = np.diff(b[k])
        assert np.all(d >= -1e-9 * b[k][1:]), (k, t[1:][d < 0][:5], d[d < 0][:5])
