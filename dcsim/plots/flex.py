"""Run-level figures of issue 18, for ``dcsim run``'s plots folder: the year's month × hour
binding map and PUE against outdoor temperature (runs with an ``annual`` block), the meter with
curtailment requests, storage and deferred work (runs with a ``grid`` block), and the thermal
response (runs with a ``thermal`` block). Each takes a Result (or ``(report, timeseries)``) and
returns a Figure, or ``None`` when the run has nothing to show; nothing here computes physics.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
from matplotlib.patches import Patch

from dcsim.metrics.annual import annual_label
from dcsim.plots.annual import binding_month_hour_plot, pue_outdoor_year_plot, span_words
from dcsim.plots.figures import (BINDING_NAMES, CONSTRAINT_COLORS, POWER_COLORS, _cap_dips, _day_starts, _ext,
                                  _long_run, _parts, _span_edges, _styled, cap_label,
                                  clock_axis, daily_extremes, daily_means, new_figure, throttle_ticks)

__all__ = ["annual_binding_figure", "annual_pue_figure", "grid_flex_figure", "thermal_figure"]


def annual_binding_figure(result: Any):
    """Month × hour map of the binding constraint (runs longer than a few days)."""
    report, _ = _parts(result)
    a = report.get("annual")
    if not a:
        return None
    span, _ = span_words(annual_label(a))
    return binding_month_hour_plot(a, title=f"{report.get('scenario', '')}: binding constraint by month and hour "
                                            f"over {span}")


def annual_pue_figure(result: Any):
    """PUE of each tick against outdoor dry-bulb over the run, with the monthly PUE."""
    report, ts = _parts(result)
    a = report.get("annual")
    if not a or "t_out_c" not in ts:
        return None
    return pue_outdoor_year_plot(ts["t_s"], ts["pue"], ts["t_out_c"], datetime.fromisoformat(a["start"]), summary=a)


#: Runs longer than this (s) are drawn in days, shorter ones in hours (ticked on the local clock, :func:`_time_axis`).
DAYS_BEYOND_S = 3 * 86400.0


def _time(ts: dict) -> tuple[np.ndarray, str, float]:
    """Tick edges in hours, or in days for a run longer than :data:`DAYS_BEYOND_S` (8,760 h on an axis is
    unreadable): tick i covers [t_i, t_i+1), the last one a step long (values are drawn as steps). Returns
    (edges, the x-axis label without a clock, tick spacing in those units or 0 for matplotlib's own)."""
    t = np.asarray(ts["t_s"], dtype=float)
    span = float(t[-1] - t[0]) if t.size else 0.0
    if span > DAYS_BEYOND_S:
        every = 1.0 if span <= 14 * 86400 else 7.0 if span <= 60 * 86400 else 30.0
        return _span_edges(t / 86400.0), "days from start", every
    return _span_edges(t / 3600.0), "hours from start", 0.0


#: display units per second of the elapsed labels :func:`_time` and :func:`_days` return
_PER_S = {"hours from start": 1.0 / 3600.0, "days from start": 1.0 / 86400.0}


def _time_axis(ax, x: np.ndarray, label: str, every: float, clock=None) -> None:
    """The x axis over ``x`` (hours or days from the start, as ``label`` says): ticked on the scenario's local clock
    (report.json ``clock``, :func:`dcsim.plots.figures.clock_axis`); without one, elapsed, every ``every`` units."""
    from matplotlib.ticker import MultipleLocator

    ax.set_xlim(x[0], x[-1])
    if clock_axis(ax, _PER_S[label], clock):
        return
    ax.set_xlabel(label)
    if every:
        ax.xaxis.set_major_locator(MultipleLocator(every))


def _step(ax, x, y, **kw):
    ax.step(x, _ext(np.asarray(y, dtype=float)), where="post", **kw)


def _shade(ax, x, mask, color, label, strip: tuple[float, float] = (0.0, 1.0), alpha: float = 0.15,
           hatch: str | None = None):
    """Shade the flagged ticks over their whole span (a ``where=`` mask ends each run at its last tick's start:
    every run a tick short, a one-tick request not shaded at all), over ``strip`` of the axes' height; with
    ``hatch``, hatched in ``color`` over no fill (a state that is no constraint, drawn in no constraint's colour)."""
    m = np.asarray(mask) > 0
    if m.any():
        lo, hi = strip
        style = ({"facecolor": "none", "edgecolor": color, "hatch": hatch} if hatch else {"color": color})
        ax.fill_between(x, lo, _ext(np.where(m, hi, lo)), transform=ax.get_xaxis_transform(), alpha=alpha,
                        step="post", label=label, lw=0, **style)


def _days(ts: dict) -> tuple[np.ndarray, str, float]:
    """Day edges in days from the start (the last day ends with the run's last tick) for the daily view of a long
    run, its label and tick spacing."""
    t = np.asarray(ts["t_s"], dtype=float)
    day, starts = _day_starts(t)
    end = _span_edges(t)[-1]
    span = float(t[-1] - t[0])
    return (np.r_[t[0] + 86400.0 * day[starts], end] - t[0]) / 86400.0, "days from start", \
        7.0 if span <= 60 * 86400 else 30.0


def _battery_capacity_j(report: dict, ts: dict) -> float:
    """The battery's energy capacity (J) for the charge axis: the report's, else the run's highest charge."""
    return report.get("storage", {}).get("energy_capacity_j") or float(np.max(ts["battery_energy_j"])) or 1.0


def _range(ax, x, ts, key, scale, color, label, *, mean_label: str | None = None):
    """A column's daily range (lowest to highest, shaded) and daily mean (line): a year of 15-min ticks drawn one
    by one was a solid block."""
    lo, hi = daily_extremes(ts, key)
    ax.fill_between(x, _ext(lo * scale), _ext(hi * scale), step="post", color=color, alpha=0.25, lw=0,
                    label=f"{label}, day's lowest–highest")
    _step(ax, x, daily_means({"t_s": ts["t_s"], key: ts[key]})[key] * scale, color=color, lw=1.3,
          label=mean_label or f"{label}, daily mean")


#: The grid figure's colours: none a constraint's colour nor near one (CIELAB distance >= 35 from each of
#: CONSTRAINT_COLORS), but the cap, which is power.png's (the power limit itself, dashed). Until 2026-12-06 the meter
#: was matplotlib's blue (distance 2.9 from compute), the notice its orange (15 from power), the battery its green (37,
#: a near-twin of cooling at a glance), the facility before storage demand's grey itself: grid-flex's notice at
#: 16:00-17:00 read as a power-bound hour beside the signature's cooling band. Black meter as in power.png, olive
#: facility, reddish-purple request, sand notice, indigo battery, wine backlog (Okabe-Ito and Paul Tol's palettes).
GRID_COLORS: dict[str, str] = {
    "meter": "#000000",
    "facility": "#999933",
    "cap": POWER_COLORS["cap"],
    "request": "#CC79A7",
    "notice": "#DDCC77",
    "battery": "#332288",
    "deferred": "#882255",
}


#: A daily range is drawn as a band only where it carries information: when the day's lowest and highest are each
#: within this share of the run's largest value on nearly every day (a backlog that fills and drains every day), the
#: band is one flat block (year-richmond: 0-3.2 Gtok all year); the day's highest and mean are drawn as lines instead.
FLAT_RANGE_FRAC = 0.05


def _backlog_daily(ax, x, ts) -> None:
    """Deferred work waiting, per day: its range as a band when the range changes from day to day, else the day's
    highest and mean as lines (and the lowest, when it is not ~0), with a note that it fills and drains daily."""
    key = "deferred_backlog_tokens"
    lo, hi = daily_extremes(ts, key)
    top = float(np.nanmax(hi)) if np.isfinite(hi).any() and np.nanmax(hi) > 0 else 1.0
    steady = (np.nanpercentile(np.abs(hi - np.nanmedian(hi)), 90) <= FLAT_RANGE_FRAC * top
              and np.nanpercentile(np.abs(lo - np.nanmedian(lo)), 90) <= FLAT_RANGE_FRAC * top)
    if not steady:
        _range(ax, x, ts, key, 1e-9, GRID_COLORS["deferred"], "waiting")
        return
    _step(ax, x, hi * 1e-9, color=GRID_COLORS["deferred"], lw=1.0, ls="--", label="waiting, day's highest")
    if np.nanmax(lo) > FLAT_RANGE_FRAC * top:
        _step(ax, x, lo * 1e-9, color=GRID_COLORS["deferred"], lw=1.0, ls=":", label="waiting, day's lowest")
    _step(ax, x, daily_means({"t_s": ts["t_s"], key: ts[key]})[key] * 1e-9, color=GRID_COLORS["deferred"], lw=1.3,
          label="waiting, daily mean")
    low = float(np.nanmedian(lo))
    ax.text(0.005, 0.04, f"fills and drains each day, from {'~0' if low < 0.01 * top else f'~{low * 1e-9:.3g}'} "
                         f"to ~{np.nanmedian(hi) * 1e-9:.3g} Gtok on a typical day",
            transform=ax.transAxes, fontsize=8, color="#333333", va="bottom")
    ax.set_ylim(0, top * 1e-9 * 1.15)


def _any_per_day(ts, key) -> np.ndarray:
    return daily_extremes(ts, key)[1] if key in ts else np.zeros(0)


def _grid_daily(report: dict, ts: dict, axs) -> None:
    """The grid figure's panels for a run longer than two weeks: daily ranges and means, the cap's daily lowest
    (a curtailment's cut, which a daily mean hides), days with a request or a notice shaded."""
    x, xlabel, every = _days(ts)
    ax = axs[0]
    _range(ax, x, ts, "meter_power_w", 1e-3, GRID_COLORS["meter"], "meter")
    lo, hi = daily_extremes(ts, "interconnect_w")
    _step(ax, x, hi / 1e3, color=GRID_COLORS["cap"], ls="--", lw=1.0,
          label="cap in force, day's highest" if np.any(lo < hi) else cap_label(hi, _contract_w(report, hi)))
    _cap_dips(ax, x, lo / 1e3, hi / 1e3, color=GRID_COLORS["cap"])
    # days with a request or a notice as a strip along the top: shaded to the bottom they hid the meter's range
    _shade(ax, x, _any_per_day(ts, "curtailment_notice"), GRID_COLORS["notice"], "day with a notice", (0.93, 1.0), 0.6)
    _shade(ax, x, _any_per_day(ts, "curtailment"), GRID_COLORS["request"], "day with a curtailment request", (0.93, 1.0),
           0.6)
    i = 1
    if "battery_energy_j" in ts:
        _range(axs[i], x, ts, "battery_energy_j", 100.0 / _battery_capacity_j(report, ts), GRID_COLORS["battery"],
               "charge")
        i += 1
    if "deferred_backlog_tokens" in ts:
        _backlog_daily(axs[i], x, ts)
    for a in axs:  # beside the panels: inside, a legend hid a year's curtailment days
        a.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    _time_axis(axs[-1], x, xlabel, every, report.get("clock"))


def _grid_ticks(report: dict, ts: dict, axs) -> None:
    """The grid figure's panels tick by tick (runs of two weeks or less)."""
    x, xlabel, every = _time(ts)
    ax = axs[0]
    if "battery_energy_j" in ts:  # the meter differs from the facility only by the battery
        _step(ax, x, ts["facility_power_w"] / 1e3, color=GRID_COLORS["facility"], lw=1.0,
              label="facility (before storage)")
    _step(ax, x, ts["meter_power_w"] / 1e3, color=GRID_COLORS["meter"], lw=1.4, label="meter")
    _step(ax, x, ts["interconnect_w"] / 1e3, color=GRID_COLORS["cap"], ls="--", lw=1.0, label=cap_label(ts["interconnect_w"], _contract_w(report, ts["interconnect_w"])))
    _shade(ax, x, ts.get("curtailment", np.zeros(x.size - 1)), GRID_COLORS["request"], "curtailment request",
           alpha=0.25)
    _shade(ax, x, ts.get("curtailment_notice", np.zeros(x.size - 1)), GRID_COLORS["notice"], "notice", alpha=0.35)
    i = 1
    if "battery_energy_j" in ts:
        _step(axs[i], x, 100.0 * ts["battery_energy_j"] / _battery_capacity_j(report, ts), color=GRID_COLORS["battery"],
              lw=1.3)
        i += 1
    if "deferred_backlog_tokens" in ts:
        _step(axs[i], x, ts["deferred_backlog_tokens"] / 1e9, color=GRID_COLORS["deferred"], lw=1.3)
    _time_axis(axs[-1], x, xlabel, every, report.get("clock"))


def _contract_w(report: dict, cap) -> float:
    """The interconnect contract (W): report.json's ``grid.contract_w``. The run's highest cap
    (``report["interconnect_w"]``, read until 2026-12-05) is below it when a curtailment fault lowers the cap over the
    whole run, which then got no figure. Reports written before ``grid.contract_w``: the highest cap, as then."""
    contract = (report.get("grid") or {}).get("contract_w")
    if contract is None:
        cap = np.asarray(cap, dtype=float)
        contract = report.get("interconnect_w", np.max(cap) if cap.size else 0.0)
    return float(contract)


@_styled
def grid_flex_figure(result: Any):
    """Meter power against the cap in force (curtailment requests shaded, notices lighter),
    facility power before storage; battery state of charge (% of its capacity); deferred work waiting. Against the
    scenario's local clock (hours, or dates beyond 3 days); beyond two weeks as each day's range and mean (:func:`_grid_daily`)."""
    report, ts = _parts(result)
    if "grid" not in report or "meter_power_w" not in ts:
        return None
    storage, deferred = "battery_energy_j" in ts, "deferred_backlog_tokens" in ts
    # the cap lowered below the contract, by a utility request or a curtailment fault (the `curtailment` column marks
    # the requests alone: until 2026-12-05 a run with a grid block and only a curtailment fault got no figure)
    cap = np.asarray(ts.get("interconnect_w", []), dtype=float)
    contract = _contract_w(report, cap)
    lowered = bool(np.any(cap < contract * (1 - 1e-12)))
    if not (storage or deferred or lowered):
        return None  # nothing lowered the cap and no flexible response (e.g. thermal masses alone): no figure
    daily = _long_run(ts)
    rows = 1 + storage + deferred
    fig = new_figure(13.0 if daily else 11.0, 2.6 + 2.2 * rows)
    axs = np.atleast_1d(fig.subplots(rows, 1, sharex=True))
    (_grid_daily if daily else _grid_ticks)(report, ts, axs)
    ax = axs[0]
    ax.set_ylabel("power (kW)")
    if not daily:
        ax.legend(loc="lower left", fontsize=8, ncol=3)
    ax.set_title(f"{report.get('scenario', '')}: the meter, the utility's requests and the flexible responses"
                 + (" (daily)" if daily else ""))
    i = 1
    if storage:
        axs[i].set_ylabel("battery charge\n(% of capacity)")
        axs[i].set_ylim(0, 100)
        i += 1
    if deferred:
        axs[i].set_ylabel("deferred work\nwaiting (Gtok)")
    return fig


#: The thermal figure's shed: hatched in a dark grey over no fill (a state, not a constraint), the same hatch on the
#: axes and in the legend (until 2026-12-05 "xx" on the axes, "xxxx" in the legend).
SHED_COLOR, SHED_HATCH, SHED_ALPHA = "#333333", "xx", 0.6


#: The thermal figure's throttled ticks, shaded in the colour of the constraint that bound each (the signature's
#: band), cooling first in the legend: the throttle makes Q the rate at the clock the die limit allows, which binds
#: unless demand, or P or C, is lower still.
_THROTTLE_ORDER = ("cooling", "demand", "power", "compute")
_THROTTLE_LABEL = {"cooling": "thermal throttle (cooling binds)",
                   "demand": "thermal throttle, demand binds: the\nthrottled clock still serves the work",
                   "power": "thermal throttle, power binds (P under\nthe throttled rate)",
                   "compute": "thermal throttle, compute binds"}
_DIE_HOLD_LABEL = {"cooling": "die limit holds the clock: the next level up\nwould pass it (plant at setpoint; cooling binds)",
                   "demand": "die limit holds the clock (demand binds:\nthe held clock still serves the work)",
                   "power": "die limit holds the clock (power binds)",
                   "compute": "die limit holds the clock (compute binds)"}


def throttle_bindings(ts: Mapping[str, np.ndarray]) -> np.ndarray:
    """Per tick, the code (index in BINDING_NAMES) of the constraint that bound it, the thermal figure's colour for a
    throttled tick; cooling on every tick of a timeseries without a ``binding`` column (a throttle makes Q bind)."""
    n = len(ts["t_s"]) if "t_s" in ts else 0
    if "binding" not in ts:
        return np.full(n, BINDING_NAMES.index("cooling"), dtype=int)
    return np.asarray(ts["binding"]).astype(int)


@_styled
def thermal_figure(result: Any):
    """White-space (inlet or coolant) and loop temperatures; throttled and shed ticks shaded. Against the scenario's
    local clock (hours, or dates beyond 3 days)."""
    report, ts = _parts(result)
    th = report.get("thermal")
    # drawn where the masses engaged (a cooling failure) or the dies held the clock in normal operation
    # (thermal_throttled 2; until 2026-12-05 such a hall, throttled every tick, had no thermal figure)
    if not th or "t_space_c" not in ts or not (np.any(ts.get("thermal_engaged", 0))
                                               or np.any(ts.get("thermal_throttled", 0))):
        return None
    x, xlabel, every = _time(ts)
    fig = new_figure(11.0, 5.0)
    ax = fig.subplots()
    _step(ax, x, ts["t_space_c"], color="tab:red", lw=1.4, label="white space (GPU inlet / coolant)")
    _step(ax, x, ts["t_loop_c"], color="tab:blue", lw=1.4, label="loop water")
    groups = th.get("groups") or []
    limit = np.full(len(ts["t_space_c"]), float(th["t_limit_c"]))
    if "thermal_die_c" in ts:
        # what the throttle acts on: die = inlet + R_th x power per GPU of the group that set the level (on other ticks
        # the group nearest its limit), thermal_group; one group: the fleet's GPU (docs/thermal-dynamics.md). Until
        # 2026-12-05 several groups drew the fleet's mean GPU at the facility's R_th: 12 K (median) under the limit the
        # B200s of docs/examples/thermal_groups.py held
        die = np.asarray(ts["thermal_die_c"], dtype=float)
        if groups:
            lims = np.array([g["t_limit_c"] for g in groups], dtype=float)
            limit = lims[np.clip(np.asarray(ts["thermal_group"], dtype=int), 0, len(groups) - 1)]
        _step(ax, x, die, color="tab:purple", lw=1.4,
              label="GPU die of the group setting the level (thermal_group)" if groups
              else "GPU die (inlet + R_th·P per GPU)")
    elif "gpu_power_w" in ts and "gpus_in_service" in ts and th.get("r_th_k_per_w") is not None:
        # a timeseries from before the die column: the fleet's GPU (docs/thermal-dynamics.md)
        n = np.maximum(np.asarray(ts["gpus_in_service"], dtype=float), 1.0)
        die = np.asarray(ts["t_space_c"], dtype=float) + th["r_th_k_per_w"] * np.asarray(ts["gpu_power_w"], float) / n
        die = np.where(np.asarray(ts["thermal_shed"]) > 0, np.nan, die)  # IT off: no die temperature
        _step(ax, x, die, color="tab:purple", lw=1.4, label="GPU die (inlet + R_th·P per GPU)")
    # the groups' limits differ: the setting group's, tick by tick (limit is never empty: a run without ticks has no
    # thermal_engaged tick and returned above)
    varies = bool(np.ptp(limit))
    lim_txt = f"{np.min(limit):g}–{np.max(limit):g} °C" if varies else f"{limit[0]:g} °C"
    if varies:
        _step(ax, x, limit, color="tab:purple", ls="--", lw=1.0,
              label=f"GPU limit of that group {lim_txt}: throttle")
    else:
        ax.axhline(float(limit[0]), color="tab:purple", ls="--", lw=1.0, label=f"GPU limit {lim_txt}: throttle")
    if th.get("shed_space_c") is not None:
        ax.axhline(th["shed_space_c"], color="tab:red", ls=":", lw=1.0,
                   label=f"room limit {th['shed_space_c']:g} °C: shed")
    # the throttle in the cooling colour (the signature colours the same ticks cooling-bound; it was the power
    # colour); the shed hatched, not in a constraint's colour (grey is demand's elsewhere)
    # by cause (dcsim.engine.flex THROTTLE_ENGAGED 1: the masses heating past the limit, the plant short; 2: the dies at
    # their limit in normal operation, the plant at its setpoint), each shaded and named as what it is
    plant, die = throttle_ticks(ts)
    # each throttled tick in the colour of the constraint that bound it, as the signature's band: chiller-trip's first
    # 18 throttled ticks (11:33:30-11:36:30) were demand-bound, the throttled clock still serving the work, and
    # drew in the cooling colour as "cooling binds" while the signature drew them demand grey (until 2026-12-06)
    bind = throttle_bindings(ts)
    for k in _THROTTLE_ORDER:
        on = bind == BINDING_NAMES.index(k)
        _shade(ax, x, plant & on, CONSTRAINT_COLORS[k], _THROTTLE_LABEL[k])
        _shade(ax, x, die & on, CONSTRAINT_COLORS[k], _DIE_HOLD_LABEL[k], alpha=0.08)
    _shade(ax, x, ts["thermal_shed"], SHED_COLOR, "shed (IT off)", alpha=SHED_ALPHA, hatch=SHED_HATCH)
    _time_axis(ax, x, xlabel, every, report.get("clock"))
    ax.set_ylabel("temperature (°C)")
    # beside the axes: inside, it covered the temperature rise (chiller-trip 11:20-11:37)
    h, lab = ax.get_legend_handles_labels()  # the hatch's own patch: a fill_between with no face drew as a line
    h = [Patch(facecolor="none", edgecolor=SHED_COLOR, hatch=SHED_HATCH, alpha=SHED_ALPHA, lw=0.6)
         if t == "shed (IT off)" else handle for handle, t in zip(h, lab)]
    ax.legend(h, lab, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.set_title(f"{report.get('scenario', '')}: thermal response (GPU limit {lim_txt}"
                 + (", by group)" if varies else ")"))
    return fig
