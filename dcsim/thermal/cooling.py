"""Cooling-plant physics (pure, vectorized). Heat and power in W, temperatures in degC.

Sources: chiller COP regression, economizer logic, fan/pump/tower parameter ranges from Lei &
Masanet 2020, "Statistical analysis for predicting location-specific data center PUE and its
improvement potential", Energy 117556 [LEI] (re-implemented from the published formula;
CALIBRATION C3). Fan affinity laws (power ∝ speed³) and fluid power = flow × pressure / η are
textbook fluid mechanics. Capacity derating is linear in outdoor temperature (assumption).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "RHO_AIR", "CP_AIR", "RHO_WATER", "CP_WATER",
    "chiller_cop", "economizer_fraction", "fan_power_w", "crah_fan_power_w",
    "pump_power_w", "tower_fan_power_w", "dry_cooler_fan_power_w", "capacity_fraction",
    "H_FG_WATER", "evaporative_outlet_c", "airside_economizer_state",
]

RHO_AIR = 1.2      # kg/m³, air near 20 degC at sea level
CP_AIR = 1006.0    # J/(kg·K)
RHO_WATER = 1000.0  # kg/m³
CP_WATER = 4186.0  # J/(kg·K)
H_FG_WATER = 2.45e6  # J/kg, latent heat of vaporization of water near 20 degC (steam tables)


def chiller_cop(load_fraction, t_cond_c, cop_adjust: float = 0.0, t_evap_c: float = 7.0):
    """Chiller COP [-] from part load l and condenser-water temperature t [degC] [LEI]:
    COP = 16.798751 + 0.008840 t² − 8.528931 l² + 9.885294 l − 0.760621 t + 0.084615 l t,
    times (1 + pCOP). Validity of the fit: l 0.2–0.8 (clip before calling). The quadratic in t
    has its minimum near 39–42 degC, at the edge of the data the fit was made on; beyond it
    (hot dry-cooler condensers) COP keeps falling with the Carnot lift ratio
    (t* − t_evap)/(t − t_evap) in kelvin differences, t_evap the evaporator temperature
    (7 degC default: assumption), so COP never improves as the condenser gets hotter."""
    l = np.asarray(load_fraction, dtype=float)
    t = np.asarray(t_cond_c, dtype=float)
    t_star = (0.760621 - 0.084615 * l) / (2 * 0.008840)
    tt = np.minimum(t, t_star)
    cop = (16.798751 + 0.008840 * tt * tt - 8.528931 * l * l + 9.885294 * l
           - 0.760621 * tt + 0.084615 * l * tt)
    lift = np.where(t > t_star, (t_star - t_evap_c) / np.maximum(t - t_evap_c, 1e-9), 1.0)
    return cop * lift * (1.0 + cop_adjust)


def economizer_fraction(t_water_c, t_supply_c: float, t_return_c: float):
    """Share [0–1] of the load carried by the (waterside) economizer [LEI]: 1 when the water the
    outdoor side can make (T_wb + approaches) is ≤ supply temperature, 0 when ≥ return
    temperature, linear in between."""
    t = np.asarray(t_water_c, dtype=float)
    return np.clip((t_return_c - t) / (t_return_c - t_supply_c), 0.0, 1.0)


def fan_power_w(heat_w, delta_t_k: float, pressure_pa: float, efficiency: float):
    """Fan power [W] moving air to carry heat_w at air ΔT: V = Q/(ρ c_p ΔT), P = V·Δp/η."""
    return np.asarray(heat_w, dtype=float) / (RHO_AIR * CP_AIR * delta_t_k) * pressure_pa / efficiency


def crah_fan_power_w(air_heat_w, design_air_heat_w: float, delta_t_k: float, pressure_pa: float,
                     efficiency: float, exponent: float, min_speed: float):
    """CRAH fan power [W] on the affinity laws: P = P_design·s^n, speed s = clip(Q/Q_design, s_min, 1)
    (fans at full speed beyond the design heat: the excess is not removed — that is the cooling
    limit's business, see heat_rejection_capacity_w).

    P_design from fan_power_w at the design air heat (CALIBRATION C3: 24–91 W/kW across [LEI]
    bounds); n = 3 for variable-speed fans (affinity law), 0 for constant speed. No defaults here: the scenario's
    (``fan_exponent`` / ``fan_min_speed``, :data:`dcsim.scenario.facility.FAN_EXPONENT` / ``FAN_MIN_SPEED``) are
    passed by its caller."""
    p_design = fan_power_w(design_air_heat_w, delta_t_k, pressure_pa, efficiency)
    s = np.clip(np.asarray(air_heat_w, dtype=float) / design_air_heat_w, min_speed, 1.0)
    return p_design * s**exponent


def pump_power_w(heat_w, delta_t_k: float, head_pa: float, efficiency: float):
    """Pump power [W] for a water loop carrying heat_w at ΔT: flow = Q/(ρ c_p ΔT), P = flow·Δp/η
    (variable-flow pumping at constant head, as in [LEI])."""
    return np.asarray(heat_w, dtype=float) / (RHO_WATER * CP_WATER * delta_t_k) * head_pa / efficiency


def tower_fan_power_w(heat_w, water_delta_t_k: float, lg_ratio: float, pressure_pa: float, efficiency: float):
    """Cooling-tower fan power [W]: water mass flow Q/(c_p ΔT), air mass flow = water / (L/G),
    P = (air mass / ρ_air)·Δp/η [LEI parameters]."""
    m_water = np.asarray(heat_w, dtype=float) / (CP_WATER * water_delta_t_k)
    return m_water / lg_ratio / RHO_AIR * pressure_pa / efficiency


def dry_cooler_fan_power_w(heat_w, air_delta_t_k: float, pressure_pa: float, efficiency: float):
    """Dry-cooler fan power [W]: all heat leaves as sensible heat in air (no evaporation)."""
    return fan_power_w(heat_w, air_delta_t_k, pressure_pa, efficiency)


def capacity_fraction(t_out_c, rating_t_c: float, derate_per_k: float):
    """Heat-rejection capacity as a fraction of rated: clip(1 − k·(T_out − T_rating), 0, 1).

    Non-increasing in T_out: a hotter day never raises capacity; no credit above rated when cool
    (compressors and pumps are sized for the rating). Linear derating: assumption."""
    t = np.asarray(t_out_c, dtype=float)
    return np.clip(1.0 - derate_per_k * (t - rating_t_c), 0.0, 1.0)


def evaporative_outlet_c(t_db_c, t_wb_c, effectiveness: float):
    """Dry-bulb [degC] leaving a direct evaporative pad: T_db − ε·(T_db − T_wb), ε the saturation
    effectiveness (0.75–0.95 for direct pads, S. K. Wang, Handbook of Air Conditioning and
    Refrigeration §9.8). The process follows the wet-bulb line: the wet-bulb is unchanged."""
    t = np.asarray(t_db_c, dtype=float)
    return t - effectiveness * (t - np.asarray(t_wb_c, dtype=float))


def airside_economizer_state(t_db_c, t_wb_c, t_dp_c, t_pad_floor_c, supply_t_c: float, delta_t_k: float,
                             max_dew_point_c: float, adiabatic: bool, effectiveness: float):
    """Operating point of an airside economizer (vectorized over ticks).

    Outdoor air is admitted when its dew point is ≤ max_dew_point (else the unit recirculates and
    the trim carries all the heat). It cools the IT from the supply set point T_sa to the return
    T_ra = T_sa + ΔT. The coldest air it can supply is T_db, or with adiabatic assist the pad
    outlet, modulated to stay ≥ max(T_db − ε·(T_db − T_wb), T_sa, t_pad_floor) — t_pad_floor
    being the dry-bulb at which the humidified air reaches max_dew_point on its wet-bulb line
    (psychro.dry_bulb_on_wet_bulb_line_c). Using outdoor air at T_best the trim only cools it
    from T_best to T_sa, so the trim's share of the heat is clip((T_best − T_sa)/ΔT, 0, 1)
    ([LEI] linear economizer logic, on the air side).

    Returns (mech_fraction, t_best_c, evaporating (bool), evap_delta_t_k): the trim's share of
    the heat, the supply air before the trim (inf when outdoor air is refused), whether the pad
    runs, and the dry-bulb drop across the pad (it sets the water evaporated)."""
    t = np.asarray(t_db_c, dtype=float)
    air_ok = np.asarray(t_dp_c, dtype=float) <= max_dew_point_c
    t_pad = np.maximum(np.maximum(evaporative_outlet_c(t, t_wb_c, effectiveness), supply_t_c),
                       np.asarray(t_pad_floor_c, dtype=float))
    # the pad runs when it cools the air and the result is below the return (else it buys nothing)
    evaporating = adiabatic & air_ok & (t_pad < t) & (t_pad < supply_t_c + delta_t_k)
    t_best = np.where(evaporating, t_pad, t)
    mech = np.where(air_ok, np.clip((t_best - supply_t_c) / delta_t_k, 0.0, 1.0), 1.0)
    evap_dt = np.where(evaporating, t - t_pad, 0.0)
    return mech, np.where(air_ok, t_best, np.inf), evaporating, evap_dt
