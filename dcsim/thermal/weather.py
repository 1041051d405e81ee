"""Outdoor weather: dry-bulb and wet-bulb [degC] as functions of simulation time [s].

`Weather.at(t_s)` is vectorized; call it once with the whole tick array where possible.
Kinds: constant, synthetic (diurnal + seasonal cosines, see SyntheticWeatherSpec), csv (hourly),
epw (EnergyPlus weather; format per the EnergyPlus "Auxiliary Programs" manual, ch. "Weather
Converter": 8 header lines, then hourly rows with dry-bulb in field 7, dew point 8, RH 9,
station pressure 10, 1-based). File weather is interpolated linearly in time (t_db and the
wet-bulb computed at the file's points). Extension hook: `Weather.with_offset(delta_fn)` adds a
dry-bulb offset (e.g. a heat wave) at constant dew point.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from dcsim.thermal.psychro import (
    STANDARD_PRESSURE_PA,
    dew_point_c,
    humidity_ratio,
    saturation_vapor_pressure_pa,
    wet_bulb_c,
    wet_bulb_from_dew_point_c,
)

from dcsim.scenario.facility import DEFAULT_START_DAY

__all__ = ["Weather", "build_weather", "read_epw", "read_weather_csv", "synthetic_t_db", "ar1_hourly_noise"]

DAY_S = 86400.0
YEAR_DAYS = 365.0


@dataclass(frozen=True)
class Weather:
    """Weather as pure functions of time: `t_db_fn(t)` and `t_dp_fn(t)` (dew point) [degC],
    or a direct `t_wb_fn(t)` for file weather with precomputed wet-bulb."""

    t_db_fn: Callable[[np.ndarray], np.ndarray]
    t_wb_fn: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (t_s, t_db) -> t_wb
    description: str = ""

    def at(self, t_s):
        """(t_db_c, t_wb_c) arrays at simulation times t_s [s]."""
        t = np.asarray(t_s, dtype=float)
        t_db = np.asarray(self.t_db_fn(t), dtype=float)
        t_wb = np.minimum(np.asarray(self.t_wb_fn(t, t_db), dtype=float), t_db)
        return np.broadcast_to(t_db, t.shape).copy(), np.broadcast_to(t_wb, t.shape).copy()

    def with_offset(self, delta_fn: Callable[[np.ndarray], np.ndarray], description: str = "offset") -> "Weather":
        """Weather with dry-bulb raised by delta_fn(t) [K] at the base dew point (dew point =
        base wet-bulb/dry-bulb state held), i.e. sensible heating of the same air mass."""
        base = self

        def t_db(t):
            return base.t_db_fn(t) + delta_fn(t)

        def t_wb(t, t_db_now):
            t_db0 = np.asarray(base.t_db_fn(t), dtype=float)
            t_wb0 = np.minimum(base.t_wb_fn(t, t_db0), t_db0)
            t_dp = _dew_point_from_wb(t_db0, t_wb0)
            return wet_bulb_from_dew_point_c(t_db_now, t_dp)

        return Weather(t_db, t_wb, f"{self.description} + {description}")


def _dew_point_from_wb(t_db, t_wb, p_pa=STANDARD_PRESSURE_PA):
    """Dew point [degC] from dry-bulb and wet-bulb (ASHRAE 2017 ch.1 eq. 33, then inverse Magnus)."""
    ws = humidity_ratio(saturation_vapor_pressure_pa(t_wb), p_pa)
    w = ((2501.0 - 2.326 * t_wb) * ws - 1.006 * (t_db - t_wb)) / (2501.0 + 1.86 * t_db - 4.186 * t_wb)
    w = np.maximum(w, 1e-7)
    p_w = w * p_pa / (0.621945 + w)
    g = np.log(p_w / 610.94)
    return 243.04 * g / (17.625 - g)


def synthetic_t_db(t_s, mean_t: float, seasonal_amplitude: float, diurnal_amplitude: float,
                   start_day: float, peak_day: float, peak_hour: float):
    """Dry-bulb [degC]: mean + A_s·cos(2π(doy − peak_day)/365) + A_d·cos(2π(hour − peak_hour)/24)."""
    t = np.asarray(t_s, dtype=float)
    doy = start_day + t / DAY_S
    hour = (t % DAY_S) / 3600.0
    return (mean_t + seasonal_amplitude * np.cos(2 * np.pi * (doy - peak_day) / YEAR_DAYS)
            + diurnal_amplitude * np.cos(2 * np.pi * (hour - peak_hour) / 24.0))


def read_weather_csv(path: Path):
    """Read an hourly weather CSV -> (t_s, t_db, t_wb) arrays (see CsvWeatherSpec for columns)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{path}: no data rows")
    cols = {c.strip().lower(): c for c in rows[0].keys()}

    def col(name):
        return np.array([float(r[cols[name]]) for r in rows])

    if "t_s" in cols:
        t_s = col("t_s")
    elif "hour" in cols:
        t_s = col("hour") * 3600.0
    else:
        raise ValueError(f"{path}: need a time column 't_s' or 'hour', got {list(cols)}")
    if "t_db" not in cols:
        raise ValueError(f"{path}: need a 't_db' column")
    t_db = col("t_db")
    if "t_wb" in cols:
        t_wb = np.minimum(col("t_wb"), t_db)
    elif "rh" in cols:
        rh = col("rh")
        rh = rh if np.all(rh <= 1.0) else rh / 100.0
        t_wb = wet_bulb_c(t_db, rh)
    elif "t_dp" in cols:
        t_wb = wet_bulb_from_dew_point_c(t_db, col("t_dp"))
    else:
        raise ValueError(f"{path}: need one of 't_wb', 'rh', 't_dp'")
    if np.any(np.diff(t_s) <= 0):
        raise ValueError(f"{path}: time column must be strictly increasing")
    return t_s, t_db, t_wb


def read_epw(path: Path):
    """Read an EnergyPlus EPW file -> (t_s from Jan 1 00:00, t_db, t_dp, rh, p_pa, t_wb).

    Hour h (1–24) of an EPW row is the hour ending at h; its values are placed at its midpoint
    (h − 0.5). Missing codes (99.9 °C, 999999 Pa, 999 % RH) are replaced by interpolation."""
    cum_days = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30])
    t, tdb, tdp, rh, p = [], [], [], [], []
    with open(path, newline="") as fh:
        lines = fh.read().splitlines()
    for i, line in enumerate(lines[8:], start=9):
        if not line.strip():
            continue
        f = line.split(",")
        if len(f) < 10:
            raise ValueError(f"{path}:{i}: EPW data row has {len(f)} fields, need ≥ 10")
        month, day, hour = int(f[1]), int(f[2]), int(f[3])
        doy0 = cum_days[month - 1] + (day - 1)
        if month == 2 and day == 29:
            doy0 = cum_days[1] + 27  # leap day folded onto 28 Feb
        t.append((doy0 * 24 + hour - 0.5) * 3600.0)
        tdb.append(float(f[6])), tdp.append(float(f[7])), rh.append(float(f[8])), p.append(float(f[9]))
    if not t:
        raise ValueError(f"{path}: no EPW data rows")
    t, tdb, tdp, rh, p = map(np.asarray, (t, tdb, tdp, rh, p))
    order = np.argsort(t, kind="stable")
    t, tdb, tdp, rh, p = t[order], tdb[order], tdp[order], rh[order], p[order]
    tdb = _fill_missing(t, tdb, tdb >= 99.9)
    tdp = _fill_missing(t, tdp, tdp >= 99.9)
    rh = _fill_missing(t, rh, rh > 100.0)
    p = _fill_missing(t, p, p >= 999999.0)
    tdp = np.where(tdp >= 99.9, dew_point_c(tdb, rh / 100.0), tdp)
    t_wb = wet_bulb_from_dew_point_c(tdb, tdp, p)
    return t, tdb, tdp, rh / 100.0, p, t_wb


def _fill_missing(t, x, missing):
    if not missing.any():
        return x
    if missing.all():
        return x
    return np.where(missing, np.interp(t, t[~missing], x[~missing]), x)


def _interp(t_file, y, offset: float, period: float | None):
    def f(t_sim, *_):
        tq = np.asarray(t_sim, dtype=float) + offset
        if period:
            return np.interp(tq, t_file, y, period=period)
        return np.interp(tq, t_file, y)
    return f


def ar1_hourly_noise(std: float, corr: float, seed_seq, hours: int = int(YEAR_DAYS * 24)):
    """Stationary AR(1) series [K], one value per hour for a (periodic) year: x_k = ρ·x_{k−1} +
    σ·sqrt(1 − ρ²)·ε_k, ε ~ N(0, 1) from a Generator seeded by `seed_seq`. Pre-drawn so that
    `at(t)` is a pure function of t however the run is chunked."""
    rng = np.random.default_rng(seed_seq)
    eps = rng.standard_normal(hours)
    x = np.empty(hours)
    x[0] = std * eps[0]
    a = std * np.sqrt(1.0 - corr * corr)
    for k in range(1, hours):
        x[k] = corr * x[k - 1] + a * eps[k]
    return x


def build_weather(spec, base_dir: Path | None = None, seed_seq=None, clock_s: float | None = None) -> Weather:
    """Build a `Weather` from a weather spec (constant | synthetic | csv | epw). `seed_seq`
    (numpy SeedSequence) drives the optional synthetic noise. `clock_s`: seconds from 1 January
    00:00 local time to simulation t = 0 (the scenario's ``start:``; default midnight of
    ``DEFAULT_START_DAY``); synthetic and EPW weather take their day of year and hour from it (a
    CSV file keeps its own time axis, see `offset`)."""
    w = _build_weather(spec, base_dir, seed_seq)
    if clock_s is None:
        clock_s = (DEFAULT_START_DAY.get(spec.kind, 1) - 1) * DAY_S
    if spec.kind not in ("synthetic", "epw") or clock_s == 0.0:
        return w
    base = w
    return Weather(lambda t: base.t_db_fn(np.asarray(t, dtype=float) + clock_s),
                   lambda t, t_db: base.t_wb_fn(np.asarray(t, dtype=float) + clock_s, t_db), w.description)


def _build_weather(spec, base_dir: Path | None = None, seed_seq=None) -> Weather:
    """Weather of ``spec`` with t = 0 at 1 January 00:00 (synthetic, EPW) or at the file's `offset` (CSV)."""
    kind = spec.kind
    if kind == "constant":
        t_db0 = spec.t_db
        if spec.t_wb is not None:
            t_wb0 = spec.t_wb
        else:
            rh = 0.5 if spec.rh is None else spec.rh
            t_wb0 = float(wet_bulb_c(t_db0, rh, spec.pressure_pa))
        return Weather(lambda t: np.full(np.shape(t), t_db0), lambda t, _db: np.full(np.shape(t), t_wb0),
                       f"constant {t_db0:g} degC db / {t_wb0:.3g} degC wb")
    if kind == "synthetic":
        v = spec.resolved()
        args = (v["mean_t"], v["seasonal_amplitude"], v["diurnal_amplitude"],
                1.0, spec.peak_day, spec.peak_hour)
        p_pa, rh = spec.pressure_pa, v["rh"]

        noise = None
        if spec.noise_std > 0:
            noise = ar1_hourly_noise(spec.noise_std, spec.noise_corr,
                                     seed_seq if seed_seq is not None else np.random.SeedSequence(0))

        def t_db(t):
            base = synthetic_t_db(t, *args)
            if noise is None:
                return base
            return base + np.interp(np.asarray(t, dtype=float) / 3600.0, np.arange(noise.size, dtype=float),
                                    noise, period=float(noise.size))

        def t_wb(t, t_db_now):
            # dew point fixed by rh at the daily-mean temperature (diurnal term removed)
            daily_mean = synthetic_t_db(t, *args[:2], 0.0, *args[3:])
            return wet_bulb_from_dew_point_c(t_db_now, dew_point_c(daily_mean, rh), p_pa)

        return Weather(t_db, t_wb, f"synthetic {spec.preset or 'custom'}")
    if kind in ("csv", "epw"):
        path = Path(spec.path)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        if not path.exists():
            raise FileNotFoundError(f"weather file not found: {path}")
        if kind == "csv":
            t_f, tdb_f, twb_f = read_weather_csv(path)
            offset = spec.offset
            period = (t_f[-1] - t_f[0] + (t_f[-1] - t_f[-2] if len(t_f) > 1 else 3600.0)) if spec.wrap else None
        else:
            t_f, tdb_f, _tdp, _rh, _p, twb_f = read_epw(path)
            offset = 0.0
            period = YEAR_DAYS * DAY_S if spec.wrap else None
        return Weather(_interp(t_f, tdb_f, offset, period), _interp(t_f, twb_f, offset, period),
                       f"{kind} {path.name}")
    raise ValueError(f"unknown weather kind {kind!r}")
