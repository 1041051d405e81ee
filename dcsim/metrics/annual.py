"""Annual aggregates of a run's per-tick time series (issue 18 item 1; docs/grid.md §A year).

Takes the time series a run returns (``Result.timeseries``: ``t_s``, ``binding``,
``it_power_w``, ``facility_power_w``, ``cooling_power_w``, ``achieved_tok_s``, ``t_out_c``, …)
and the run's start datetime (the scenario's one clock of day), and returns plain-Python
figures: energy, PUE (annual and by month), the share of time each constraint binds by month
and by hour of day, the hours each binds, annual and monthly tokens and SLO-meeting tokens,
the month × hour table a heat map draws, and — given price/carbon per tick — cost and carbon.

Every aggregate is a weighted sum over ticks (``np.bincount`` on month × hour cells), so a
year at a 1-min tick (525,600 rows) takes well under a second. Tick i covers [t_i, t_i + tick).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from dcsim.power.grid import local_hour_and_month
from dcsim.tpf import BINDING_NAMES

__all__ = ["annual_summary", "month_hour_index", "HOURS_PER_YEAR", "annual_label"]

#: Hours of a year (365 d): an ``annual`` block over fewer hours is a run's, not a year's, and is labelled so
#: (:func:`annual_label`); a scenario at least this long is its own year to ``dcsim plan`` (dcsim.plan_flex).
HOURS_PER_YEAR = 8760.0


def month_hour_index(t_s, start: datetime) -> tuple[np.ndarray, np.ndarray]:
    """(month 0–11, hour 0–23) of each tick start, on the calendar of the run's start."""
    hr, mo = local_hour_and_month(t_s, start)
    return mo - 1, hr


def _ratio(num, den):
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _list(a) -> list:
    """Plain floats, NaN → None (JSON-ready)."""
    return [None if not np.isfinite(x) else float(x) for x in np.asarray(a, dtype=float).ravel()]


def annual_summary(ts: dict, start: datetime, *, tick_s: float | None = None, slo_tok_s=None,
                   slo_token_share: float | None = None, price=None, carbon=None) -> dict:
    """Annual figures from per-tick arrays `ts` for a run starting at `start`.

    SLO-meeting tokens come from `slo_tok_s` (per tick), else a ``goodput_tok_s`` column of
    `ts`, else the run's `slo_token_share` (the fraction of its output tokens that met their SLO,
    = goodput / output throughput, applied to every tick — labelled so in ``slo_source``; not the
    request-weighted ``slo_attainment``, which counts requests, not tokens), else they are None.
    ``slo_meeting_by_month`` is written only when the source is per tick (``slo_tok_s`` or ``goodput_tok_s``):
    the run-level share times each month's output has no monthly information, so the key is left out (a run's
    ``annual`` block, which reads the run-level share, never has it; until 2026-12-05 it was emitted and read as
    measured). `price` [USD/J] and `carbon` [g/J] per tick (or
    scalars) add ``cost_usd`` and ``carbon_g`` by month.

    Keys: ``hours`` (simulated), ``energy_j`` {it, facility, cooling, facility_by_month[12]},
    ``pue`` {annual, by_month[12]}, ``binding`` {share, share_by_month {name: [12]},
    share_by_hour {name: [24]}, month_hour_share {name: 12×24}, month_hour_binding (12×24 code
    of the most common constraint, −1 where no ticks)}, ``hours_binding`` {name: h},
    ``tokens`` {output, slo_meeting, output_by_month[12], and from a per-tick source only
    slo_meeting_by_month[12]},
    ``slo_source``, ``t_out_c`` {mean_by_month[12], min, max}, and optionally ``cost_usd`` /
    ``carbon_g`` {total, by_month[12]}. Months and hours with no ticks are None."""
    t = np.asarray(ts["t_s"], dtype=float)
    n = t.size
    if n == 0:
        raise ValueError("annual_summary: empty time series")
    dt = float(tick_s) if tick_s is not None else (float(t[1] - t[0]) if n > 1 else 1.0)
    mo, hr = month_hour_index(t, start)
    cell = mo * 24 + hr
    w = np.full(n, dt)

    def by(x, cells=12, key=mo):
        return np.bincount(key, weights=np.asarray(x, dtype=float) * dt, minlength=cells)

    it_j = by(ts["it_power_w"])
    fac_j = by(ts["facility_power_w"])
    cool_j = by(ts["cooling_power_w"]) if "cooling_power_w" in ts else np.zeros(12)
    time_m = np.bincount(mo, weights=w, minlength=12)
    time_h = np.bincount(hr, weights=w, minlength=24)
    time_c = np.bincount(cell, weights=w, minlength=288)

    binding = np.asarray(ts["binding"], dtype=int)
    share_m, share_h, share_c, hours_b = {}, {}, {}, {}
    counts_c = np.zeros((len(BINDING_NAMES), 288))
    for code, name in enumerate(BINDING_NAMES):
        on = (binding == code).astype(float)
        share_m[name] = _list(_ratio(np.bincount(mo, weights=on * dt, minlength=12), time_m))
        share_h[name] = _list(_ratio(np.bincount(hr, weights=on * dt, minlength=24), time_h))
        counts_c[code] = np.bincount(cell, weights=on * dt, minlength=288)
        share_c[name] = [_list(r) for r in _ratio(counts_c[code], time_c).reshape(12, 24)]
        hours_b[name] = float(on.sum() * dt / 3600.0)
    top = np.where(time_c > 0, counts_c.argmax(axis=0), -1).reshape(12, 24)

    out_tok = np.asarray(ts["achieved_tok_s"], dtype=float)
    # monthly: the source varies tick by tick, so its months carry information of their own
    monthly = slo_tok_s is not None or "goodput_tok_s" in ts
    if slo_tok_s is not None:
        slo, src = np.broadcast_to(np.asarray(slo_tok_s, dtype=float), (n,)), "per-tick SLO-meeting rate"
    elif "goodput_tok_s" in ts:
        slo, src = np.asarray(ts["goodput_tok_s"], dtype=float), "timeseries goodput_tok_s"
    elif slo_token_share is not None:
        slo, src = out_tok * float(slo_token_share), "run-level share of output tokens meeting the SLO applied to every tick"
    else:
        slo, src = None, "not available"
    res = {
        "hours": float(n * dt / 3600.0),
        "energy_j": {"it": float(it_j.sum()), "facility": float(fac_j.sum()), "cooling": float(cool_j.sum()),
                     "facility_by_month": _list(np.where(time_m > 0, fac_j, np.nan))},
        "pue": {"annual": float(fac_j.sum() / it_j.sum()) if it_j.sum() > 0 else None,
                "by_month": _list(_ratio(fac_j, it_j))},
        "binding": {"share": {k: float(v) for k, v in zip(BINDING_NAMES, np.bincount(binding, minlength=4) / n)},
                    "share_by_month": share_m, "share_by_hour": share_h,
                    "month_hour_share": share_c, "month_hour_binding": top.tolist()},
        "hours_binding": hours_b,
        "tokens": {"output": float(out_tok.sum() * dt),
                   "slo_meeting": None if slo is None else float(slo.sum() * dt),
                   "output_by_month": _list(np.where(time_m > 0, by(out_tok), np.nan))},
        "slo_source": src,
    }
    if monthly:
        # by month only from a per-tick source: the run-level share times each month's output carries no monthly
        # information and would read as measured (year-richmond: 0.5042 of every month); left out otherwise, so
        # that an expect: key naming it is refused before the run (dcsim/data/report_shape.json has no such key)
        res["tokens"]["slo_meeting_by_month"] = _list(np.where(time_m > 0, by(slo), np.nan))
    if "t_out_c" in ts:
        tout = np.asarray(ts["t_out_c"], dtype=float)
        res["t_out_c"] = {"mean_by_month": _list(_ratio(by(tout), time_m)), "min": float(tout.min()),
                          "max": float(tout.max())}
    # paid at the meter: facility power minus battery discharge plus charge (= facility without storage)
    fac_w = np.asarray(ts.get("meter_power_w", ts["facility_power_w"]), dtype=float)
    for key, sig in (("cost_usd", price), ("carbon_g", carbon)):
        if sig is not None:
            per = fac_w * np.broadcast_to(np.asarray(sig, dtype=float), (n,))
            m = by(per)
            res[key] = {"total": float(m.sum()), "by_month": _list(np.where(time_m > 0, m, np.nan))}
    return res


def annual_label(annual) -> str:
    """The label of a run's ``annual`` block (report.json, :func:`annual_summary`): "Year", or the run's length where
    its ``hours`` are under :data:`HOURS_PER_YEAR` ("Run (96 h)": a 4-day run printed its PUE and hours binding as
    "Year" until 2026-12-05). "Year" where the block does not say its hours. The terminal summary, report.html and
    the annual figures (dcsim.plots.annual) all take it from here."""
    h = (annual or {}).get("hours")
    if not isinstance(h, (int, float)) or not h < HOURS_PER_YEAR:
        return "Year"
    return f"Run ({f'{h:,.2f}'.rstrip('0').rstrip('.')} h)"
