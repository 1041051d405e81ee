"""Psychrometrics: saturation pressure, dew point, wet-bulb. Temperatures in degC, pressure in Pa,
relative humidity as a fraction 0–1. All functions are vectorized over numpy arrays.

Sources:
- Saturation vapour pressure: Magnus form with the Alduchov & Eskridge (1996) coefficients,
  e_s = 610.94·exp(17.625·T/(T + 243.04)) Pa (J. Appl. Meteor. 35, 601–609).
- Wet-bulb from T and RH: Stull (2011), "Wet-Bulb Temperature from Relative Humidity and Air
  Temperature", J. Appl. Meteor. Climatol. 50, 2267–2269 (valid RH 5–99 %, T −20…50 degC;
  check value T=20 degC, RH=50 % -> 13.7 degC).
- Psychrometric (thermodynamic) wet-bulb at a given pressure: ASHRAE Handbook—Fundamentals
  (2017) ch. 1, eqs. 20/22 (humidity ratio) and 33 (wet-bulb energy balance), solved by
  vectorized bisection.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "saturation_vapor_pressure_pa",
    "dew_point_c",
    "relative_humidity",
    "humidity_ratio",
    "wet_bulb_stull_c",
    "wet_bulb_c",
    "wet_bulb_from_dew_point_c",
    "dew_point_from_wet_bulb_c",
    "dry_bulb_on_wet_bulb_line_c",
    "STANDARD_PRESSURE_PA",
]

STANDARD_PRESSURE_PA = 101325.0  # ICAO standard atmosphere at sea level
_A, _B, _C = 610.94, 17.625, 243.04  # Alduchov & Eskridge (1996)


def saturation_vapor_pressure_pa(t_c):
    """Saturation vapour pressure over water [Pa] at t_c [degC] (Magnus, Alduchov & Eskridge 1996)."""
    t = np.asarray(t_c, dtype=float)
    return _A * np.exp(_B * t / (t + _C))


def dew_point_c(t_c, rh):
    """Dew point [degC] from dry-bulb [degC] and relative humidity [0–1] (inverse Magnus)."""
    t = np.asarray(t_c, dtype=float)
    rh = np.clip(np.asarray(rh, dtype=float), 1e-6, 1.0)
    g = np.log(rh) + _B * t / (t + _C)
    return _C * g / (_B - g)


def relative_humidity(t_c, t_dp_c):
    """Relative humidity [0–1] from dry-bulb and dew point [degC] (Magnus)."""
    return np.clip(saturation_vapor_pressure_pa(t_dp_c) / saturation_vapor_pressure_pa(t_c), 0.0, 1.0)


def humidity_ratio(p_w_pa, p_pa=STANDARD_PRESSURE_PA):
    """Humidity ratio [kg water / kg dry air] for vapour partial pressure p_w (ASHRAE eq. 20/22)."""
    p_w = np.asarray(p_w_pa, dtype=float)
    return 0.621945 * p_w / (np.asarray(p_pa, dtype=float) - p_w)


def wet_bulb_stull_c(t_c, rh):
    """Wet-bulb [degC] from dry-bulb [degC] and RH [0–1], Stull (2011) empirical fit (RH in %)."""
    t = np.asarray(t_c, dtype=float)
    r = 100.0 * np.asarray(rh, dtype=float)
    return (t * np.arctan(0.151977 * np.sqrt(r + 8.313659)) + np.arctan(t + r)
            - np.arctan(r - 1.676331) + 0.00391838 * r**1.5 * np.arctan(0.023101 * r) - 4.686035)


def wet_bulb_from_dew_point_c(t_c, t_dp_c, p_pa=STANDARD_PRESSURE_PA, iterations: int = 50):
    """Thermodynamic wet-bulb [degC] from dry-bulb and dew point [degC] at pressure p [Pa].

    Solves the ASHRAE (2017, ch.1 eq. 33) energy balance
    W = ((2501 − 2.326·Tw)·Ws(Tw) − 1.006·(T − Tw)) / (2501 + 1.86·T − 4.186·Tw)
    for Tw in [T_dp, T] by bisection (the right side increases with Tw)."""
    t = np.asarray(t_c, dtype=float)
    td = np.minimum(np.asarray(t_dp_c, dtype=float), t)
    t, td, p = np.broadcast_arrays(t, td, np.asarray(p_pa, dtype=float))
    w = humidity_ratio(saturation_vapor_pressure_pa(td), p)
    lo, hi = td.copy(), t.copy()
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        ws = humidity_ratio(saturation_vapor_pressure_pa(mid), p)
        w_mid = ((2501.0 - 2.326 * mid) * ws - 1.006 * (t - mid)) / (2501.0 + 1.86 * t - 4.186 * mid)
        above = w_mid > w
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return 0.5 * (lo + hi)


def wet_bulb_c(t_c, rh, p_pa=STANDARD_PRESSURE_PA):
    """Thermodynamic wet-bulb [degC] from dry-bulb [degC] and RH [0–1] at pressure p [Pa]."""
    return wet_bulb_from_dew_point_c(t_c, dew_point_c(t_c, rh), p_pa)


def dew_point_from_wet_bulb_c(t_c, t_wb_c, p_pa=STANDARD_PRESSURE_PA):
    """Dew point [degC] of air at dry-bulb t_c and thermodynamic wet-bulb t_wb_c [degC]: humidity
    ratio from the ASHRAE (2017, ch.1 eq. 33) wet-bulb energy balance, then the inverse Magnus
    form on its vapour pressure (eq. 20/22 inverted)."""
    t = np.asarray(t_c, dtype=float)
    tw = np.minimum(np.asarray(t_wb_c, dtype=float), t)
    ws = humidity_ratio(saturation_vapor_pressure_pa(tw), p_pa)
    w = ((2501.0 - 2.326 * tw) * ws - 1.006 * (t - tw)) / (2501.0 + 1.86 * t - 4.186 * tw)
    w = np.maximum(w, 1e-7)
    p_w = w * np.asarray(p_pa, dtype=float) / (0.621945 + w)
    g = np.log(p_w / _A)
    return _C * g / (_B - g)


def dry_bulb_on_wet_bulb_line_c(t_wb_c, t_dp_c, p_pa=STANDARD_PRESSURE_PA):
    """Dry-bulb [degC] at which air of wet-bulb t_wb_c has dew point t_dp_c: the end of an
    adiabatic (evaporative) process that humidifies the air up to that dew point. ASHRAE (2017,
    ch.1) eq. 33 solved for the dry-bulb at the humidity ratio W of the dew point:
    T = ((2501 − 2.326·Tw)·Ws(Tw) + 1.006·Tw − W·(2501 − 4.186·Tw)) / (1.006 + 1.86·W)."""
    tw = np.asarray(t_wb_c, dtype=float)
    ws = humidity_ratio(saturation_vapor_pressure_pa(tw), p_pa)
    w = humidity_ratio(saturation_vapor_pressure_pa(np.asarray(t_dp_c, dtype=float)), p_pa)
    return ((2501.0 - 2.326 * tw) * ws + 1.006 * tw - w * (2501.0 - 4.186 * tw)) / (1.006 + 1.86 * w)
