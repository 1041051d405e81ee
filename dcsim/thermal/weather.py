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
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from dcsim.textio import MAX_TABLE_BYTES, read_text
from dcsim.thermal.psychro import (
    STANDARD_PRESSURE_PA,
    dew_point_c,
    humidity_ratio,
    saturation_vapor_pressure_pa,
    wet_bulb_c,
    wet_bulb_from_dew_point_c,
)

__all__ = ["Weather", "WeatherError", "WeatherFileNotFound", "build_weather", "read_epw", "read_weather_csv",
           "resolve_weather_path", "shipped_weather_dir",
           "synthetic_t_db", "ar1_hourly_noise"]

DAY_S = 86400.0
YEAR_DAYS = 365.0


@dataclass(frozen=True)
class Weather:
    """Weather as pure functions of time: `t_db_fn(t)` and `t_dp_fn(t)` (dew point) [degC],
    or a direct `t_wb_fn(t)` for file weather with precomputed wet-bulb."""

    t_db_fn: Callable[[np.ndarray], np.ndarray]
    t_wb_fn: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (t_s, t_db) -> t_wb
    description: str = ""
    #: a CSV file that does not wrap: (file path, its first and last simulation times [s] after `offset`); beyond
    #: them the end values are held. Preflight compares it with the run (dcsim.engine.preflight).
    file_span: tuple[str, float, float] | None = None

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


class WeatherError(ValueError):
    """A weather file could not be read; the message names the file, the line and the reason."""


class WeatherFileNotFound(WeatherError, FileNotFoundError):
    """The weather file named by the scenario does not exist."""


#: Plausible ranges, from the EPW data dictionary (EnergyPlus "Auxiliary Programs", Weather
#: Converter, EPW CSV format, fields N6–N9): dry-bulb and dew point > -70 and < 70 degC
#: (missing: 99.9), relative humidity 0–110 % (missing: 999), station pressure > 31,000 and
#: < 120,000 Pa (missing: 999999). The same bounds apply to CSV weather.
T_RANGE_C = (-70.0, 70.0)
RH_MAX_PCT = 110.0
P_RANGE_PA = (31000.0, 120000.0)
#: The EPW data dictionary's missing-value code of the dry bulb and dew point (fields N6, N7), degC.
EPW_MISSING_T_C = 99.9
#: How far a CSV's wet bulb may read above its dry bulb before the row is refused: published values are rounded,
#: and one whole degree Fahrenheit of rounding is 0.56 K; within it the wet bulb is clipped to the dry bulb
#: (saturated air). Beyond it the columns are wrong (swapped, or another quantity).
WB_OVER_DB_TOL_K = 0.6
#: The highest air temperature ever recorded on Earth: 56.7 degC (134 degF), Furnace Creek (Death Valley), 10 July
#: 1913, the WMO World Weather and Climate Extremes Archive. A weather file records measured weather, so a dry bulb
#: above it is not a measurement: the file is in degF (52-68 "degC" rows are a mild day in degF) or the column is
#: another quantity. A CSV row above it is refused (a file cannot be right there), naming the column and suggesting
#: the ``t_db_degF`` header; an EPW row above it likewise (the one rule for both, :func:`_refuse_above_record`; the
#: EPW data dictionary's bound, :data:`T_RANGE_C`, is 70 degC). A what-if heat beyond the record goes through the
#: synthetic or constant forms, which warn (:func:`dcsim.engine.preflight`).
T_RECORD_HIGH_C = 56.7
#: How far two humidity columns of one CSV row (t_wb, rh, t_dp) may disagree on the wet bulb before the file is
#: refused: a psychrometer or an RH sensor of +-3 % reads the wet bulb within a few tenths of a kelvin at warm
#: temperatures, and rounding to whole degF adds 0.56 K; 1 K is the margin (an assumption). Beyond it the columns do
#: not describe the same air and the model cannot tell which one is meant.
HUMIDITY_AGREE_K = 1.0
#: Temperature columns a CSV may carry, and the unit suffixes its header may give them (default degC).
_T_COLS = ("t_db", "t_wb", "t_dp")
_T_UNITS = {"degc": lambda x: x, "degf": lambda x: (x - 32.0) * 5.0 / 9.0}
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _weather_text(path: Path) -> str:
    # EPW headers are often Latin-1 (place names); the data are ASCII
    return read_text(path, WeatherError, fallback="latin-1", limit=MAX_TABLE_BYTES)


def _num(path, line: int, name: str, raw) -> float:
    if raw is None:
        raise WeatherError(f"{path}:{line}: column {name!r} is missing (short row)")
    txt = str(raw).strip()
    if not txt:
        raise WeatherError(f"{path}:{line}: column {name!r} is empty")
    try:
        v = float(txt)
    except ValueError:
        raise WeatherError(f"{path}:{line}: column {name!r} is not a number: {txt[:30]!r}") from None
    if not np.isfinite(v):
        raise WeatherError(f"{path}:{line}: column {name!r} is not finite: {txt[:30]!r}")
    return v


def _check_range(path, lines, name: str, x: np.ndarray, lo: float, hi: float, unit: str) -> None:
    bad = np.nonzero(~((x > lo) & (x < hi)))[0]
    if bad.size:
        k = int(bad[0])
        raise WeatherError(f"{path}:{lines[k]}: {name} = {x[k]:g} {unit} is outside the plausible range "
                           f"({lo:g} .. {hi:g} {unit}; EPW data dictionary bounds)")


def read_weather_csv(path: Path):
    """Read an hourly weather CSV -> (t_s, t_db, t_wb) arrays (see CsvWeatherSpec for columns).

    Every cell is checked: empty cells, ``NA``, NaN, short rows, a missing column, times that
    do not strictly increase (unsorted or duplicate) and values outside the plausible ranges
    (:data:`T_RANGE_C`, RH 0–100 %, a dry bulb above :data:`T_RECORD_HIGH_C`) raise :class:`WeatherError`
    naming file, line and column; so do a column given twice and two humidity columns whose wet bulbs
    disagree by more than :data:`HUMIDITY_AGREE_K`. A temperature header may name its unit (``t_db_degF``)."""
    reader = csv.reader(io.StringIO(_weather_text(path), newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise WeatherError(f"{path}: empty file")
        cols: dict[str, int] = {}
        units: dict[str, str] = {}
        for j, c in enumerate(header):
            name = c.strip().lower()
            base, _, unit = name.rpartition("_")
            if base in _T_COLS and unit in _T_UNITS:  # t_db_degF, t_wb_degC, ...: an explicit unit
                name = base
            elif name in _T_COLS:
                unit = "degc"
            if name in cols:  # the reader would keep one silently
                raise WeatherError(f"{path}:1: column {name!r} appears twice (columns {cols[name] + 1} and {j + 1}); "
                                   f"give each quantity once")
            cols[name] = j
            if name in _T_COLS:
                units[name] = unit
        tcol = "t_s" if "t_s" in cols else ("hour" if "hour" in cols else None)
        if tcol is None:
            raise WeatherError(f"{path}:1: need a time column 't_s' or 'hour', got {sorted(cols)[:10]}")
        if "t_db" not in cols:
            raise WeatherError(f"{path}:1: need a 't_db' column")
        hums = [c for c in ("t_wb", "rh", "t_dp") if c in cols]
        if not hums:
            raise WeatherError(f"{path}:1: need one of 't_wb', 'rh', 't_dp'")
        if len(hums) > 2:
            raise WeatherError(f"{path}:1: give at most two humidity columns (two are cross-checked), not "
                               f"{', '.join(hums)}: each fixes the wet bulb")
        rows, lines = [], []
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            line = reader.line_num
            vals = []
            for name in (tcol, "t_db", *hums):
                j = cols[name]
                vals.append(_num(path, line, name, row[j] if j < len(row) else None))
            rows.append(vals)
            lines.append(line)
    except csv.Error as e:
        raise WeatherError(f"{path}:{reader.line_num}: not a readable CSV row ({e})") from None
    if not rows:
        raise WeatherError(f"{path}: no data rows")
    a = np.asarray(rows, dtype=float)
    t_s = a[:, 0] * (3600.0 if tcol == "hour" else 1.0)
    step = np.diff(t_s)
    if np.any(step <= 0):
        k = int(np.nonzero(step <= 0)[0][0]) + 1
        why = "duplicate time" if step[k - 1] == 0 else "time goes backwards (rows must be sorted)"
        raise WeatherError(f"{path}:{lines[k]}: {why}: {tcol} {a[k, 0]:g} after {a[k - 1, 0]:g}")
    for k, name in enumerate(("t_db", *hums), start=1):
        if name in _T_COLS:
            a[:, k] = _T_UNITS[units[name]](a[:, k])
    t_db = a[:, 1]
    _check_range(path, lines, "t_db", t_db, *T_RANGE_C, "degC")
    _refuse_above_record(path, lines, "t_db", t_db, t_db > T_RECORD_HIGH_C,
                         "is the column in degF? Name the unit in the header ('t_db_degF')")
    t_wb = _wet_bulb_from(path, lines, hums[0], a[:, 2], t_db)
    if len(hums) == 2:
        other = _wet_bulb_from(path, lines, hums[1], a[:, 3], t_db)
        gap = np.abs(other - t_wb)
        _refuse_first(path, lines, gap > HUMIDITY_AGREE_K, lambda k, n: (
            f"columns {hums[0]!r} and {hums[1]!r} give wet bulbs {t_wb[k]:.1f} and {other[k]:.1f} degC, "
            f"{gap[k]:.1f} K apart (more than {HUMIDITY_AGREE_K:g} K in {n} of {len(t_db)} rows): they do not "
            f"describe the same air; keep one humidity column"))
    return t_s, t_db, t_wb


def _refuse_above_record(path, lines, name: str, t_db: np.ndarray, above: np.ndarray, hint: str) -> None:
    """Refuse a weather file whose dry bulb ``t_db`` (degC) reads above :data:`T_RECORD_HIGH_C` on the rows ``above``
    marks: the one rule for CSV and EPW weather (until 2026-12-05 an EPW file passed up to 70 degC, the EPW data
    dictionary's bound, where a CSV was refused above the record). ``name`` the column as the file names it, ``hint``
    what to check."""
    _refuse_first(path, lines, above, lambda k, n: (
        f"{name} = {t_db[k]:g} degC is above the highest air temperature ever recorded ({T_RECORD_HIGH_C:g} degC, "
        f"Death Valley 1913, WMO): {hint}; {n} of {len(t_db)} rows are above it"))


def _refuse_first(path, lines, bad: np.ndarray, why) -> None:
    """Refuse a weather file at the first row of ``bad`` (a mask over its rows): ``why(k, n)`` words the reason for
    row ``k`` of the ``n`` rows marked, after ``file:line:``."""
    rows = np.nonzero(bad)[0]
    if rows.size:
        k = int(rows[0])
        raise WeatherError(f"{path}:{lines[k]}: {why(k, int(rows.size))}")


def _wet_bulb_from(path, lines, hum: str, h: np.ndarray, t_db: np.ndarray) -> np.ndarray:
    """The wet bulb [degC] from one humidity column (t_wb, rh as % or fraction, t_dp), each value checked."""
    if hum == "t_wb":
        _check_range(path, lines, "t_wb", h, *T_RANGE_C, "degC")
        over = h - t_db > WB_OVER_DB_TOL_K
        if over.any():  # swapped columns, say; the constant form refuses the same (facility.weather.constant)
            k = int(np.nonzero(over)[0][0])
            raise WeatherError(f"{path}:{lines[k]}: t_wb ({h[k]:g}) must be <= t_db ({t_db[k]:g}): a wet bulb "
                               f"reads at most the dry bulb (swapped columns?)")
        return np.minimum(h, t_db)  # within the rounding tolerance: saturated air
    if hum == "rh":
        frac = np.all(h <= 1.0)
        _check_range(path, lines, "rh", h * (100.0 if frac else 1.0), -1e-9, 100.0 + 1e-9, "%")
        return wet_bulb_c(t_db, h if frac else h / 100.0)
    _check_range(path, lines, "t_dp", h, *T_RANGE_C, "degC")
    return wet_bulb_from_dew_point_c(t_db, h)


def read_epw(path: Path):
    """Read an EnergyPlus EPW file -> (t_s from Jan 1 00:00, t_db, t_dp, rh, p_pa, t_wb).

    Hour h (1–24) of an EPW row is the hour ending at h; its values are placed at its midpoint
    (h − 0.5). Missing codes (99.9 °C, 999999 Pa, 999 % RH) are replaced by interpolation.
    Month, day and hour are checked against the calendar, each hour may appear once, and values
    that are neither plausible (EPW data dictionary bounds) nor a missing code raise
    :class:`WeatherError` naming file and line."""
    cum_days = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30])
    t, tdb, tdp, rh, p, lines = [], [], [], [], [], []
    seen: dict[tuple, int] = {}
    text_lines = _weather_text(path).splitlines()
    if len(text_lines) < 9:
        raise WeatherError(f"{path}: an EPW file has 8 header lines and then hourly rows; got {len(text_lines)} lines")
    for i, line in enumerate(text_lines[8:], start=9):
        if not line.strip():
            continue
        f = line.split(",")
        if len(f) < 10:
            raise WeatherError(f"{path}:{i}: EPW data row has {len(f)} fields, need >= 10")
        try:
            month, day, hour = (int(float(f[k])) for k in (1, 2, 3))
        except (ValueError, OverflowError):
            raise WeatherError(f"{path}:{i}: month, day and hour must be integers, got "
                               f"{','.join(x.strip()[:8] for x in f[1:4])!r}") from None
        if not 1 <= month <= 12:
            raise WeatherError(f"{path}:{i}: month {month} is not 1..12")
        if not 1 <= day <= _DAYS_IN_MONTH[month - 1]:
            raise WeatherError(f"{path}:{i}: day {day} does not exist in month {month}")
        if not 1 <= hour <= 24:
            raise WeatherError(f"{path}:{i}: hour {hour} is not 1..24 (EPW hours end at 1..24)")
        key = (month, day, hour, int(float(f[4])) if f[4].strip().lstrip("-").isdigit() else 0)
        if key in seen:
            raise WeatherError(f"{path}:{i}: duplicate time month {month} day {day} hour {hour} "
                               f"(first at line {seen[key]})")
        seen[key] = i
        doy0 = cum_days[month - 1] + (day - 1)
        if month == 2 and day == 29:
            doy0 = cum_days[1] + 27  # leap day folded onto 28 Feb
        t.append((doy0 * 24 + hour - 0.5) * 3600.0)
        tdb.append(_num(path, i, "dry bulb (field 7)", f[6]))
        tdp.append(_num(path, i, "dew point (field 8)", f[7]))
        rh.append(_num(path, i, "relative humidity (field 9)", f[8]))
        p.append(_num(path, i, "station pressure (field 10)", f[9]))
        lines.append(i)
    if not t:
        raise WeatherError(f"{path}: no EPW data rows")
    t, tdb, tdp, rh, p = map(np.asarray, (t, tdb, tdp, rh, p))
    # one reading of each missing code (the number as the file writes it, 99.9 or 99.90), for the range checks, the
    # record check and the filling alike: until 2026-12-05 the checks passed a value within 1e-5 of the code
    # (np.isclose: 99.8995 degC, 999995 Pa) that the filling (>= the code) kept as a reading
    miss_tdb, miss_tdp, miss_rh, miss_p = tdb == EPW_MISSING_T_C, tdp == EPW_MISSING_T_C, rh == 999.0, p == 999999.0
    for name, x, miss, lo, hi, unit in (("dry bulb", tdb, miss_tdb, *T_RANGE_C, "degC"),
                                        ("dew point", tdp, miss_tdp, *T_RANGE_C, "degC"),
                                        ("relative humidity", rh, miss_rh, -1e-9, RH_MAX_PCT + 1e-9, "%"),
                                        ("station pressure", p, miss_p, *P_RANGE_PA, "Pa")):
        _check_range(path, lines, name, np.where(miss, 0.5 * (lo + hi), x), lo, hi, unit)
    _refuse_above_record(path, lines, "dry bulb (field 7)", tdb, (tdb > T_RECORD_HIGH_C) & ~miss_tdb,
                         "an EPW file records measured weather, in degC (is the field another quantity?)")
    order = np.argsort(t, kind="stable")
    t, tdb, tdp, rh, p = t[order], tdb[order], tdp[order], rh[order], p[order]
    miss_tdb, miss_tdp, miss_p = miss_tdb[order], miss_tdp[order], miss_p[order]
    if miss_tdb.all():
        raise WeatherError(f"{path}: every dry-bulb value is the missing code {EPW_MISSING_T_C}")
    tdb = _fill_missing(t, tdb, miss_tdb)
    tdp = _fill_missing(t, tdp, miss_tdp)
    rh = _fill_missing(t, rh, rh > 100.0)  # the code 999 and readings above 100 % (up to RH_MAX_PCT, checked above)
    p = _fill_missing(t, p, miss_p)
    rh = np.where(rh > 100.0, 50.0, rh)  # all missing: assumption 50 % (dew point then from t_db)
    p = np.where(miss_p.all(), STANDARD_PRESSURE_PA, p)
    tdp = np.where(miss_tdp.all(), dew_point_c(tdb, rh / 100.0), tdp)
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



def shipped_weather_dir() -> Path:
    """Folder of the weather files dcsim ships (``dcsim/data/weather``, sources in its README)."""
    return Path(__file__).resolve().parent.parent / "data" / "weather"


def resolve_weather_path(path: str, base_dir: Path | None) -> Path:
    """A weather file: an absolute path, a path relative to ``base_dir`` (the scenario's folder), or the bare name
    of a shipped file (``USA_VA_Richmond.Intl.AP.724010_TMY3.epw``) when no such file sits beside the scenario, so a
    scenario naming a shipped file runs from any folder. Raises :class:`WeatherFileNotFound` naming the shipped
    files."""
    p = Path(path).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    if not p.exists() and Path(path).name == str(path) and (shipped_weather_dir() / path).is_file():
        p = shipped_weather_dir() / path
    if not p.is_file():
        shipped = ", ".join(sorted(x.name for x in shipped_weather_dir().glob("*.epw")))
        if p.exists():  # a folder, or a device such as /dev/zero, a FIFO: there is a path but no file to read
            what = "a folder" if p.is_dir() else "a device, pipe or socket"
            raise WeatherFileNotFound(f"{p}: not a regular file ({what}); shipped files (by name): {shipped}")
        raise WeatherFileNotFound(f"{p}: weather file not found; shipped files (by name): {shipped}")
    return p


def build_weather(spec, base_dir: Path | None = None, seed_seq=None, clock_s: float | None = None) -> Weather:
    """Build a `Weather` from a weather spec (constant | synthetic | csv | epw). `seed_seq`
    (numpy SeedSequence) drives the optional synthetic noise. `clock_s`: seconds from 1 January
    00:00 local time to simulation t = 0 (the scenario's ``start:``; default midnight of
    the spec's ``default_start_day``, which the scenario layer's weather specs carry); synthetic and EPW weather take their day of year and hour from it (a
    CSV file keeps its own time axis, see `offset`)."""
    w = _build_weather(spec, base_dir, seed_seq)
    if clock_s is None:
        clock_s = (spec.default_start_day - 1) * DAY_S
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
        path = resolve_weather_path(spec.path, base_dir)
        if kind == "csv":
            t_f, tdb_f, twb_f = read_weather_csv(path)
            offset = spec.offset
            period = (t_f[-1] - t_f[0] + (t_f[-1] - t_f[-2] if len(t_f) > 1 else 3600.0)) if spec.wrap else None
        else:
            t_f, tdb_f, _tdp, _rh, _p, twb_f = read_epw(path)
            offset = 0.0
            period = YEAR_DAYS * DAY_S if spec.wrap else None
        last = t_f[-1] + (t_f[-1] - t_f[-2] if len(t_f) > 1 else 0.0)  # an hourly file's last row stands for its hour
        span = None if period else (str(path), float(t_f[0] - offset), float(last - offset))
        return Weather(_interp(t_f, tdb_f, offset, period), _interp(t_f, twb_f, offset, period),
                       f"{kind} {path.name}", span)
    raise ValueError(f"unknown weather kind {kind!r}")
