"""Figures for a dcsim run: each function takes a Result (or its report and time series) and
returns a :class:`matplotlib.figure.Figure`. Nothing here computes physics; the numbers plotted
are the engine's, only rescaled for display (W → MW, s → h) and, for latency, sorted into CDFs.

Figures are built on the Agg canvas without pyplot, so there is no global figure state.
Colours are defined once (:data:`CONSTRAINT_COLORS`, :data:`POWER_COLORS`) and shared by every
figure, the HTML report and ``dcsim compare``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib
import matplotlib.patches
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, FuncFormatter, LogLocator, MaxNLocator, NullFormatter

# the out-of-sample selection and the fleet's band have one home, beside the headline that prints them
from dcsim.metrics.fmt import (HEADLINE_BAND_KINDS, energy_label, fmt_band, fmt_headline_band,
                               fmt_local_window, fmt_time, headline_band, jpt_band_pct_by_level, out_of_sample_bands,
                               pool_band_fracs,
                               sample_scope)
from dcsim.engine.flex import THROTTLE_DIE_HOLD, THROTTLE_ENGAGED
from dcsim.tpf import BINDING_NAMES, capped_ticks, in_service

__all__ = [
    "BINDING_NAMES",
    "CONSTRAINT_COLORS",
    "POWER_COLORS",
    "RUN_COLORS",
    "STYLE",
    "CAP_IN_FORCE",
    "cap_label",
    "new_figure",
    "time_axis",
    "time_scale",
    "clock_ticks",
    "clock_axis",
    "set_time_axis",
    "binding_runs",
    "signature_plot",
    "power_stack_plot",
    "pue_plot",
    "latency_cdf_plot",
    "joules_per_token_plot",
    "all_figures",
]


#: One colour per constraint, used everywhere (Okabe-Ito colour-blind-safe palette).
CONSTRAINT_COLORS: dict[str, str] = {
    "demand": "#8C8C8C",
    "compute": "#0072B2",
    "power": "#D55E00",
    "cooling": "#009E73",
}
#: Line colour of the achieved token rate.
ACHIEVED_COLOR = "#111111"

#: One colour per power component in the power stack. None is a constraint's colour, nor near one (CIELAB
#: distance >= 35 from each of CONSTRAINT_COLORS): the power figure draws both, the stack under a strip of what binds,
#: and until 2026-12-05 the stack's GPU blue #3B6FB6, cooling teal #2AA198, fixed-load grey #B0B0B0 and loss orange
#: #E6A23C were near-twins of compute, cooling, demand and power (distance 9, 21, 14, 32), so heatwave-air's thick
#: cooling-power band read as "cooling binds all day" (the audit of the figures, AUF item 3). Purples for IT (dark:
#: the GPUs, light: the rest), sand for cooling, wine for delivery losses, dark umber for fixed loads (after Paul
#: Tol's colour-blind-safe "muted" scheme; fixed loads were cream #F2E6D0 until 2026-12-05, CIELAB distance 14.7 from
#: white: nearly invisible; the umber is 77 from white and >= 38 from each constraint colour). The cap keeps a red (it is the power limit itself, drawn dashed); the meter with
#: storage is a black dash-dot line (its purple was the GPUs' now).
POWER_COLORS: dict[str, str] = {
    "gpu": "#4B2C83",
    "it_other": "#B48EC8",
    "cooling": "#DDCC77",
    "losses": "#882255",
    "fixed": "#503820",
    "cap": "#C0392B",
    "meter": "#000000",
}
#: The signature figure's lower panel: the share of its height each pool's binding strip takes.
SIGNATURE_STRIP_H = 0.16
#: The stack's layers (the keys of :data:`POWER_COLORS` that fill an area; cap and meter are lines).
POWER_LAYERS: tuple[str, ...] = ("gpu", "it_other", "cooling", "losses", "fixed")

#: Colours for runs in overlays (``dcsim compare``) and request classes in latency CDFs: none is a constraint's
#: colour, nor near one (CIELAB distance >= 40 from each of CONSTRAINT_COLORS; the first three were compute blue,
#: power vermillion and cooling green, so a run's line read as a constraint): indigo, reddish purple, olive, black,
#: wine, sand, purple, yellow (Okabe-Ito and Paul Tol's colour-blind-safe palettes).
RUN_COLORS: tuple[str, ...] = (
    "#332288", "#CC79A7", "#999933", "#000000", "#882255", "#DDCC77", "#AA4499", "#F0E442",
)

#: Matplotlib rc settings applied while a figure is built (readable at a glance).
STYLE: dict[str, Any] = {
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "legend.fontsize": 9.5,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
    "savefig.dpi": 110,
}


def _styled(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


class DcsimFigure(Figure):
    """A matplotlib Figure that Jupyter shows as an image on its own: ``_repr_png_`` (a Figure on the Agg canvas,
    made without pyplot, showed as ``<Figure size 1200x900 with 3 Axes>`` in a fresh kernel until ``%matplotlib
    inline`` or a pyplot figure; the audit of the API, finding 8)."""

    def _repr_png_(self) -> bytes:
        import io

        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=100)
        return buf.getvalue()


def new_figure(width: float = 11.0, height: float = 5.5) -> Figure:
    """A Figure on the Agg canvas (no pyplot), constrained layout; Jupyter shows it as a PNG (:class:`DcsimFigure`)."""
    fig = DcsimFigure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _parts(obj: Any) -> tuple[dict, dict]:
    """(report, timeseries) from a Result or a ``(report, timeseries)`` pair."""
    if isinstance(obj, tuple) and len(obj) == 2:
        report, ts = obj
    else:
        report, ts = getattr(obj, "report", {}) or {}, getattr(obj, "timeseries", {}) or {}
    return dict(report), {k: np.asarray(v) for k, v in dict(ts).items()}


#: Runs longer than this (s) are drawn as daily means in the time-series figures: a year of
#: 15-min ticks drawn tick by tick is a solid block (the month × hour map shows the pattern).
DAILY_BEYOND_S = 14 * 86400.0


def time_scale(t_s: np.ndarray) -> tuple[float, str]:
    """(display units per second, the elapsed axis label): days beyond 4 days, hours beyond 3 h, minutes above
    3 min, else seconds; the label says the time runs from the start (a run without a known clock, an overlay of
    runs on different clocks: :func:`clock_axis` names the local clock otherwise)."""
    t_s = np.asarray(t_s, dtype=float)
    span = float(t_s[-1] - t_s[0]) if t_s.size else 0.0
    if span > 4 * 86400:
        return 1.0 / 86400.0, "days from start"
    if span > 3 * 3600:
        return 1.0 / 3600.0, "hours from start"
    if span > 180:
        return 1.0 / 60.0, "minutes from start"
    return 1.0, "seconds from start"


def time_axis(t_s: np.ndarray) -> tuple[np.ndarray, str]:
    """Display time (:func:`time_scale`): the times in display units and the elapsed axis label."""
    scale, label = time_scale(t_s)
    return np.asarray(t_s, dtype=float) * scale, label


def _time_ticks(ax: Any, t_s: np.ndarray) -> None:
    """Elapsed-time ticks (no clock known): hour ticks every 3 h (6 h beyond two days); day ticks every day (two
    weeks or less), week (two months or less) or 30 days, as :func:`time_axis` scales the axis."""
    from matplotlib.ticker import MultipleLocator

    span = float(t_s[-1] - t_s[0]) if np.size(t_s) else 0.0
    if span > 4 * 86400:
        ax.xaxis.set_major_locator(MultipleLocator(1 if span <= 14 * 86400 else 7 if span <= 60 * 86400 else 30))
    elif span > 3 * 3600:
        ax.xaxis.set_major_locator(MultipleLocator(3 if span <= 2 * 86400 else 6))


#: tick steps (s) of a local-clock axis of four days or less: the first that puts at most :data:`CLOCK_TICKS`
#: intervals on the axis (2 h: every 15 min; 24 h: every 3 h; 48 h: every 6 h; 4 days: every 12 h)
CLOCK_STEPS_S = (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
CLOCK_TICKS = 8


def clock_ticks(t0_s: float, t1_s: float, clock: Any) -> tuple[np.ndarray, list[str], str] | None:
    """Ticks at round times of the scenario's local clock (report.json ``clock``) over [t0_s, t1_s] (seconds from
    the run's start): (their times in s from the start, their labels, the axis label); None without a clock.

    Four days or less: every 10 s … 12 h (:data:`CLOCK_STEPS_S`), labelled ``HH:MM`` (``HH:MM:SS`` under a minute),
    a local midnight after the start with its date under it; the axis label names the date (``local time,
    2026-07-15``). Longer: local midnights, every day (two weeks or less) or week (two months or less), labelled
    with the date (``Jul 15``), else the first of each month (``Feb``); the axis label names the year. A clock with
    no date (no ``start:``) names days of the year (``day 196``)."""
    from datetime import timedelta

    from dcsim.metrics.fmt import local_datetime

    loc = local_datetime(0.0, clock)
    if loc is None or not (math.isfinite(t0_s) and math.isfinite(t1_s) and t1_s > t0_s):
        return None
    base, dated = loc
    off = (base - base.replace(hour=0, minute=0, second=0)).total_seconds()  # local s after midnight at t = 0
    at = lambda t: base + timedelta(seconds=float(t))  # noqa: E731
    day = (lambda d: f"{d:%b} {d.day}") if dated else (lambda d: f"day {d.timetuple().tm_yday}")
    first, last = at(t0_s), at(t1_s - min(1.0, 0.5 * (t1_s - t0_s)))  # an axis ending at midnight ends that day
    span = t1_s - t0_s
    if span <= 4 * 86400:
        step = next(x for x in CLOCK_STEPS_S if span / x <= CLOCK_TICKS + 1e-6 or x == CLOCK_STEPS_S[-1])
        k = np.arange(math.ceil((off + t0_s) / step - 1e-9), math.floor((off + t1_s) / step + 1e-9) + 1)
        ticks = k * float(step) - off
        labels = []
        for t in ticks:
            d = at(t)
            lab = f"{d:%H:%M:%S}" if step < 60 else f"{d:%H:%M}"
            if d.time() == d.time().min and d.date() != first.date():  # a new day: its date under the hour
                lab += "\n" + day(d)
            labels.append(lab)
        if dated:
            days = f"{first:%Y-%m-%d}" + ("" if last.date() == first.date() else f" to {last:%m-%d}")
        else:
            days = day(first) + ("" if last.date() == first.date() else f"–{last.timetuple().tm_yday}")
        return ticks, labels, f"local time, {days}"
    midnight0 = math.ceil((off + t0_s) / 86400.0 - 1e-9) * 86400.0 - off
    if span <= 60 * 86400 or not dated:
        every = 1 if span <= 14 * 86400 else 7 if span <= 60 * 86400 else 30
        ticks = np.arange(midnight0, t1_s + 1e-6, every * 86400.0)
        labels = [day(at(t)) for t in ticks]
    else:  # the first of each month
        ticks_l = []
        d = at(midnight0)
        d = d if d.day == 1 else (d.replace(day=1) + timedelta(days=32)).replace(day=1)
        while (d - base).total_seconds() <= t1_s + 1e-6:
            ticks_l.append((d - base).total_seconds())
            d = (d + timedelta(days=32)).replace(day=1)
        ticks = np.asarray(ticks_l, dtype=float)
        years = [first.year] + [at(t).year for t in ticks]  # a new year: the year under its first month
        labels = [f"{at(t):%b}" + (f"\n{y}" if y != prev else "") for t, prev, y in zip(ticks, years, years[1:])]
    if dated:
        years = f"{first:%Y}" + ("" if last.year == first.year else f"–{last:%Y}")
        return ticks, labels, f"local date, {years}"
    return ticks, labels, "local date (day of the year)"


def clock_axis(ax: Any, scale: float, clock: Any) -> bool:
    """Ticks and label of a time x axis (x = seconds from the run's start × ``scale``, its limits already set) on the
    scenario's local clock (:func:`clock_ticks`); returns False, leaving the axis alone, without a clock."""
    lo, hi = ax.get_xlim()
    ct = clock_ticks(lo / scale, hi / scale, clock) if scale > 0 else None
    if ct is None:
        return False
    ticks, labels, label = ct
    ax.set_xticks(ticks * scale, labels)
    ax.set_xlim(lo, hi)
    ax.set_xlabel(label)
    return True


def set_time_axis(ax: Any, t_s: np.ndarray, clock: Any) -> None:
    """A time figure's x axis (x = :func:`time_axis` of ``t_s``, limits set): the local clock when the report has
    one, else elapsed time from the start (:func:`_time_ticks`) under a label that says so."""
    scale, label = time_scale(t_s)
    if not clock_axis(ax, scale, clock):
        ax.set_xlabel(label)
        _time_ticks(ax, t_s)


def _day_starts(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(day number of each tick from the run's start, index of each day's first tick)."""
    day = np.floor((t - t[0]) / 86400.0).astype(np.int64)
    return day, np.flatnonzero(np.r_[True, np.diff(day) != 0])


def daily_extremes(ts: Mapping[str, np.ndarray], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) of a column over each day, ignoring missing values: what a daily mean hides (a 2-h
    curtailment to half the contract moves the cap's daily mean 4 %)."""
    _, starts = _day_starts(np.asarray(ts["t_s"], dtype=float))
    v = np.asarray(ts[key], dtype=float)
    return np.fmin.reduceat(v, starts), np.fmax.reduceat(v, starts)


def daily_means(ts: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-day view of a run's time series: float columns averaged over each day (tick-weighted),
    ``binding`` the day's most frequent code, ``t_s`` the day's start. Used for runs longer than
    :data:`DAILY_BEYOND_S`."""
    t = np.asarray(ts["t_s"], dtype=float)
    day, starts = _day_starts(t)
    counts = np.diff(np.r_[starts, t.size])
    out: dict[str, np.ndarray] = {"t_s": t[0] + 86400.0 * day[starts]}
    for k, v in ts.items():
        v = np.asarray(v)
        if k == "t_s" or v.shape != t.shape:
            continue
        if k == "binding":
            out[k] = _daily_binding_counts(v, starts, counts).argmax(axis=1)
        elif np.issubdtype(v.dtype, np.number):
            vf = v.astype(float)
            out[k] = np.add.reduceat(np.where(np.isfinite(vf), vf, 0.0), starts) / counts
            fin = np.add.reduceat(np.isfinite(vf).astype(float), starts)
            out[k] = np.where(fin == counts, out[k], np.where(np.isposinf(np.add.reduceat(vf, starts)), np.inf, np.nan))
    return out


def _daily_binding_counts(binding: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(days, len(BINDING_NAMES)) ticks of each day (``starts``, ``counts`` of :func:`_day_starts`) bound by each
    constraint: the one histogram behind :func:`daily_means`' ``binding`` and :func:`daily_binding_shares`."""
    hist = np.zeros((starts.size, len(BINDING_NAMES)))
    np.add.at(hist, (np.repeat(np.arange(starts.size), counts), np.asarray(binding).astype(np.int64)), 1.0)
    return hist


def daily_binding_shares(ts: Mapping[str, np.ndarray]) -> np.ndarray:
    """(days, len(BINDING_NAMES)) array: each day's share of its ticks bound by each constraint (rows sum to 1)."""
    t = np.asarray(ts["t_s"], dtype=float)
    _, starts = _day_starts(t)
    counts = np.diff(np.r_[starts, t.size])
    return _daily_binding_counts(ts["binding"], starts, counts) / counts[:, None]


def _long_run(ts: Mapping[str, np.ndarray]) -> bool:
    t = np.asarray(ts["t_s"], dtype=float)
    return t.size > 1 and float(t[-1] - t[0]) > DAILY_BEYOND_S


def binding_runs(binding: np.ndarray) -> list[tuple[int, int, int]]:
    """Contiguous runs of equal binding code: list of (start index, end index exclusive, code)."""
    b = np.asarray(binding).astype(int)
    if b.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(b)) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [b.size]))
    return [(int(s), int(e), int(b[s])) for s, e in zip(starts, ends)]


def _thermal_runs(ts: Mapping[str, np.ndarray], column: str) -> list[tuple[int, int]]:
    """(start, end exclusive) index runs of the ticks a thermal flag column (``thermal_throttled``, ``thermal_shed``)
    marks; none when the run has no thermal model."""
    if column not in ts:
        return []
    return [(s, e) for s, e, on in binding_runs(_flag_ticks(ts, column).astype(int)) if on]


def _flag_ticks(ts: Mapping[str, np.ndarray], column: str) -> np.ndarray:
    """The ticks a 0/1 flag column (``thermal_shed``, ``thermal_throttled``) marks, as booleans (a missing value
    unmarked); all False when the run has no such column (no thermal model)."""
    if column not in ts:
        return np.zeros(len(ts["t_s"]) if "t_s" in ts else 0, dtype=bool)
    return np.nan_to_num(np.asarray(ts[column], dtype=float)) > 0


def throttle_ticks(ts: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per tick, whether the plant's throttle held the clock (``thermal_throttled`` THROTTLE_ENGAGED: the masses heating
    past the limit, the plant short) and whether the dies did in normal operation (THROTTLE_DIE_HOLD, the plant at its
    setpoint; :mod:`dcsim.engine.flex`); all False without the column (no thermal model)."""
    if "thermal_throttled" not in ts:
        n = len(ts["t_s"]) if "t_s" in ts else 0
        return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    code = np.nan_to_num(np.asarray(ts["thermal_throttled"], dtype=float))
    return code == THROTTLE_ENGAGED, code == THROTTLE_DIE_HOLD


def _throttle_cause(ts: Mapping[str, np.ndarray]) -> str | None:
    """What held the clock on a run's throttled ticks (:func:`throttle_ticks`): "plant" (the masses heating past the
    limit, as every label read before the die hold), "die" (the dies in normal operation, the plant at its setpoint),
    "both", or None where nothing did."""
    plant, die = (bool(np.any(x)) for x in throttle_ticks(ts))
    return ("both" if plant and die else "die" if die else "plant" if plant else None)


def _span_edges(t: np.ndarray) -> np.ndarray:
    """Edges of the tick intervals: tick i covers [t[i], t[i+1]); the last tick lasts one step."""
    if t.size == 0:
        return t
    step = float(t[-1] - t[-2]) if t.size > 1 else 1.0
    return np.concatenate((t, [t[-1] + step]))


def _ext(y: Any) -> np.ndarray:
    """Values for a step plot over tick edges: the last tick's value repeated at the end."""
    y = np.asarray(y, dtype=float)
    return np.concatenate((y, y[-1:])) if y.size else y


#: Legend of the cap line when the cap moves during the run: the line is the cap in force at each tick (the
#: interconnect contract, lower while a curtailment is on), not the contract.
CAP_IN_FORCE = "cap in force (interconnect, lower while curtailed)"


def cap_label(cap: Any, contract_w: float | None = None) -> str:
    """Legend of a line drawn from ``interconnect_w``: ``"interconnect cap"`` when it is the same all run (and, given
    the contract ``contract_w``, at it), :data:`CAP_IN_FORCE` when a curtailment lowers it somewhere (a fault holding
    the whole run below the contract too)."""
    c = np.asarray(cap, dtype=float)
    c = c[np.isfinite(c)]
    if contract_w is not None and np.any(c < float(contract_w) * (1 - 1e-12)):
        return CAP_IN_FORCE
    return "interconnect cap" if c.size == 0 or np.all(c == c[0]) else CAP_IN_FORCE


#: The calibration caveats (:data:`dcsim.metrics.fmt.CALIBRATION_CAVEATS`) under which a rack group's figures are not
#: fitted in-sample to its own setup: a transferred or borrowed profile, a batch or context beyond the profile's
#: measured range. The figures shade C and P (and bar J/token) by such a group's ``error_band_pct`` only: an in-sample
#: band (3-5 % for the shipped calibrations) is about a line's width on these axes and is printed by every surface
#: already, while a transferred or extrapolated one (mixed-fleet's ≥±32 % tok/s) changes what the figure says.
#: (dcsim.metrics.fmt.HEADLINE_BAND_KINDS: the headline's band comes from the same groups, selected there.)
OUT_OF_SAMPLE_CAVEATS = HEADLINE_BAND_KINDS

#: What the signature figure's legend adds to each facility ceiling with several model pools: C is the sum of the
#: pools' compute ceilings; P and Q are not sums (``dcsim.engine.tables.JointFrontier.facility_ceiling``): what the
#: shared power or cooling budget buys for the pools' waiting work on their joint frontier, plus the budget left over
#: at the fleet's full-load tokens per W. Each pool's own P or Q counts that spare budget as its own, so their sum
#: overstates it (mixed-fleet at 07:00: P 313 k tok/s against the pools' 279 k + 78 k). Until 2026-12-05 all three read
#: "(Σ pools)".
SEVERAL_POOLS_CEILING = {"compute": " (Σ pools)",
                         "power": " (shared budget:\nthe pools' work + spare at fleet tok/W)",
                         "cooling": " (shared plant:\nthe pools' work + spare at fleet tok/W)"}

#: Opacity of the error band shaded around C and P (and its legend patch).
BAND_ALPHA = 0.18


#: Which band of the node profile each shaded ceiling carries: C is the profile's token rate, P = IT budget / J per
#: token, so its relative error is the J/token one.
CEILING_BAND_KEY = {"compute": "tok_s", "power": "j_per_tok"}


def ceiling_band_halfwidth(report: Mapping[str, Any], ts: Mapping[str, np.ndarray], name: str,
                           bands: list[dict]) -> np.ndarray | None:
    """Half-width (tok/s, per tick) of the error band of the facility ceiling ``name`` (``compute``, ``power``): with
    several pools the sum over the pools of each pool's part of the line times its band (the band of a sum whose parts
    may err together: a pool in-sample adds nothing); else the ceiling times the run's widest band. C's parts are the
    pools' own C (``pool{i}_compute_tok_s``, which sum to it); P's are ``pool{i}_power_part_tok_s``
    (:meth:`dcsim.engine.tables.JointFrontier.facility_parts`, which sum to the P line), not the pools' own P, each of
    which counts the spare budget as its own (until 2026-12-05 the band summed those: mixed-fleet at 07:00, 313 k
    against 279 k + 78 k).
    C carries the profile's tok/s band; P, the IT budget over the energy per token, its J/token band
    (:data:`CEILING_BAND_KEY`; until 2026-12-05 P was shaded with the tok/s band). None when no group is out of sample
    or no band has a figure."""
    fracs = pool_band_fracs(report, bands, CEILING_BAND_KEY[name])
    if not any(f > 0 for f in fracs):
        return None
    total = np.asarray(ts[f"{name}_tok_s"], dtype=float)
    part = {"compute": "compute_tok_s", "power": "power_part_tok_s"}[name]
    cols = [f"pool{i}_{part}" for i in range(len(fracs))]
    if len(fracs) > 1 and all(c in ts for c in cols):
        h = sum(f * np.asarray(ts[c], dtype=float) for f, c in zip(fracs, cols) if f > 0)
    else:
        h = max(fracs) * total
    return np.where(np.isfinite(total), h, np.nan)


def band_label(bands: list[dict], key: str = "tok_s_pct") -> str:
    """Which groups' band a shaded or barred uncertainty is, as every surface prints it (:func:`fmt_band`):
    ``"b200-reasoning context-extrapolated ≥±32 % tok/s"``."""
    return "; ".join(f"{b['group']} {b['status']} "
                     f"{fmt_band(b['error_band_pct'], b['lower_bound'], quantities=(key,))}" for b in bands)


def _finite_max(*arrays: np.ndarray) -> float:
    vals = [np.nanmax(a[np.isfinite(a)]) for a in arrays if a.size and np.isfinite(a).any()]
    return float(max(vals)) if vals else 1.0


def _eng(x: float) -> str:
    """Engineering notation for a legend (``2.3e6`` → ``"2.3 M"``)."""
    return EngFormatter(places=1, sep=" ")(float(x)) + ("" if abs(float(x)) >= 1e3 else " ")


def _shift_times(report: Mapping[str, Any]) -> list[dict]:
    shifts = (report.get("binding") or {}).get("shifts") or []
    return [s for s in shifts if isinstance(s, Mapping) and "t_s" in s]


def _zoom_range(ceilings: Mapping[str, np.ndarray], top: float) -> tuple[float, float] | None:
    """Y-range of a zoom panel on the ceilings, from the lowest ceiling to the next-lowest one,
    when that band is thin compared with the main panel (< 30% of its height) but not a single
    line (> 0.5% of the ceiling); else None."""
    stack = np.vstack([np.where(np.isfinite(v), v, np.nan) for v in ceilings.values()])
    if stack.size == 0 or not np.isfinite(stack).any(axis=0).any():
        return None
    srt = np.sort(np.where(np.isnan(stack), np.inf, stack), axis=0)
    lo = float(np.min(srt[0][np.isfinite(srt[0])]))
    second = srt[1][np.isfinite(srt[1]) & (srt[1] <= top)]
    hi = float(np.max(second)) if second.size else float(np.max(srt[0][np.isfinite(srt[0])]))
    if not top > 0 or (hi - lo) >= 0.3 * top or (hi - lo) <= 0.005 * abs(hi):
        return None
    pad = max(0.12 * (hi - lo), 0.01 * hi)
    return lo - pad, hi + pad


#: Shift labels closer than this share of the run are joined into one label: a rotated 8.5-pt label is about
#: 2 % of the signature figure's axis wide, so two labels closer than that overlap (heatwave-air: →compute at
#: 11.55 h and →cooling at 11.93 h, 1.6 % apart, ran into one another).
SHIFT_LABEL_GAP = 0.025


def shift_groups(shifts: Sequence[Mapping[str, Any]], scale: float,
                 near: float) -> list[tuple[list[float], list[str]]]:
    """Shifts as (x of each, constraints entered) groups for labelling: a shift closer than ``near`` (display units)
    to its group's first one joins that group, so labels drawn at the groups' first x are at least ``near`` apart."""
    groups: list[tuple[list[float], list[str]]] = []
    for sh in shifts:
        x = float(sh["t_s"]) * scale
        if groups and x - groups[-1][0][0] < near:
            groups[-1][0].append(x)
            groups[-1][1].append(str(sh.get("to", "")))
        else:
            groups.append(([x], [str(sh.get("to", ""))]))
    return groups


def shift_label(tos: Sequence[str]) -> str:
    """'→cooling' for one shift, '→compute→cooling' for two close together; three or more as the first and last
    entered with a count of those between: '→power …2 more… →cooling'."""
    if len(tos) <= 2:
        return "".join(f"→{t}" for t in tos)
    return f"→{tos[0]} …{len(tos) - 2} more… →{tos[-1]}"


#: A burst of alternation: at least :data:`SHIFT_BURST` consecutive shifts, each within
#: :data:`SHIFT_BURST_GAP_TICKS` ticks of the one before (:func:`shift_bursts`), drawn as one outlined span, not a
#: dotted line each (chiller-trip's 21 shifts at 12:50-12:55 formed a hatch). Decided from the gaps between shifts, not
#: from the label groups (:func:`shift_groups`): with more than 12 shifts a label group spans 1/12 of the run, and each
#: day of a 4-day run (compute -> power -> cooling over some hours) was drawn as a "burst". Both numbers are choices.
SHIFT_BURST = 3
SHIFT_BURST_GAP_TICKS = 3
#: The burst's outline: darker than the shifts' dotted lines, no fill (#333 at alpha .18 read as a demand band).
BURST_COLOR = "#555555"


def shift_bursts(t_s: Sequence[float], tick_s: float) -> list[tuple[int, int]]:
    """(first, last) indices (inclusive) into the sorted shift times ``t_s`` (s) of each burst of alternation: a
    maximal run of at least :data:`SHIFT_BURST` shifts whose consecutive gaps are all at most
    :data:`SHIFT_BURST_GAP_TICKS` ticks of ``tick_s`` seconds."""
    t = np.asarray(t_s, dtype=float)
    out: list[tuple[int, int]] = []
    i = 0
    while i < t.size:
        j = i
        while j + 1 < t.size and t[j + 1] - t[j] <= SHIFT_BURST_GAP_TICKS * tick_s * (1 + 1e-9):
            j += 1
        if j - i + 1 >= SHIFT_BURST:
            out.append((i, j))
        i = j + 1
    return out


#: Height (points) of a row of shift labels above the signature's axes.
SHIFT_LABEL_ROW_PT = 11.0


def _shift_labels_above(ax: Any, groups: list[tuple[list[float], list[str]]], x0: float, x1: float,
                        fontsize: float = 8.5) -> int:
    """Each shift group's label (:func:`shift_label`) above the axes, horizontal, in the colour of the constraint
    entered last, in rows so that none overlaps another (a label's width estimated from its characters); returns the
    rows used. Inside the axes, rotated labels in white boxes covered the ceilings (chiller-trip's "→power …19
    more… →power" was a tall box over C, P and Q)."""
    fig = ax.figure
    w_pt = fig.get_figwidth() * 72.0 * 0.72  # the signature's main axes: about 72 % of the figure's width
    rows: list[float] = []  # right edge (axes fraction) of each row's last label
    for xs, tos in groups:
        x = xs[0]
        text = shift_label(tos)
        xf = (x - x0) / (x1 - x0) if x1 > x0 else 0.0
        wf = len(text) * 0.58 * fontsize / w_pt
        right = xf + wf > 1.0
        lo, hi = (xf - wf, xf) if right else (xf, xf + wf)
        r = next((i for i, end in enumerate(rows) if lo > end + 0.01), len(rows))
        if r == len(rows):
            rows.append(hi)
        else:
            rows[r] = hi
        ax.annotate(text, (x, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 2 + SHIFT_LABEL_ROW_PT * r),
                    textcoords="offset points", va="bottom", ha="right" if right else "left", fontsize=fontsize,
                    color=CONSTRAINT_COLORS.get(tos[-1], "#333333"), annotation_clip=False)
    return len(rows)


#: A zoom panel that magnifies less than this repeats the main panel (campus-interconnect: 4.6–11.3 Mtok/s under a
#: 0–12.9 Mtok/s panel, 1.9×, its "ceilings" without the cooling one above it): none is drawn.
ZOOM_MIN_MAGNIFICATION = 3.0


def _zoom(ceilings: Mapping[str, np.ndarray], achieved: np.ndarray, top: float,
          in_service: np.ndarray | None = None, binding: np.ndarray | None = None) -> tuple[float, float] | None:
    """Y-range of the signature figure's zoom panel (:func:`_zoom_range`), taking in the achieved rate when it runs
    just below the ceilings; None when it would magnify less than :data:`ZOOM_MIN_MAGNIFICATION`. ``in_service``
    (a mask over the ticks) limits the range to the ticks with GPUs in service: a shed's Q of 0 and a fault
    window's falling Q set the range's bottom, so chiller-trip's C, P and Q within 1 % had no zoom.

    The achieved rate's dips: over the ticks a ceiling binds (``binding`` not demand, code 0; all ticks when
    ``binding`` is None), when the rate's 10th percentile is in the panel or within one span below it, the panel
    reaches down to its lowest within two spans below, padded by 5 % of the span (one rule; until 2026-12-05 a second
    one also took the 10th percentile itself in) (year-richmond's daily achieved dipped to 200k under a 212k floor). A demand-bound tick's rate
    follows demand, not the ceilings: counted as a dip, chiller-trip's 180-200k demand-bound rate stretched the panel
    to 179.6k-230.3k and C, P and Q ran together again."""
    if in_service is not None and np.any(in_service):
        m = np.asarray(in_service, dtype=bool)
        ceilings = {k: np.asarray(v)[m] for k, v in ceilings.items()}
        achieved = np.asarray(achieved)[m]
        binding = None if binding is None else np.asarray(binding)[m]
    zoom = _zoom_range(ceilings, top)
    ach = np.asarray(achieved, dtype=float)
    keep = np.isfinite(ach) & (ach > 0)
    if binding is not None:
        keep &= np.asarray(binding) != BINDING_NAMES.index("demand")
    ach = ach[keep]
    if zoom is not None and ach.size:
        span = zoom[1] - zoom[0]
        if float(np.percentile(ach, 10)) >= zoom[0] - span:  # the rate runs in or within a span below the panel
            dips = ach[(ach >= zoom[0] - 2.0 * span) & (ach < zoom[0])]
            if dips.size:
                zoom = (float(dips.min()) - 0.05 * span, zoom[1])
    if zoom is None or (zoom[1] - zoom[0]) * ZOOM_MIN_MAGNIFICATION > top:
        return None
    return zoom


def _in_service(report: Mapping[str, Any], ts: Mapping[str, np.ndarray]) -> np.ndarray:
    """Mask of the ticks whose ceilings the zoom panel is for: GPUs in service (:func:`dcsim.tpf.in_service`: not
    thermally shed, not every GPU failed; every tick for a series without ``gpus_in_service``) and outside every
    windowed fault (report ``faults``)."""
    t_s = np.asarray(ts["t_s"], dtype=float)
    m = in_service(ts) if "gpus_in_service" in ts else np.ones(t_s.shape, dtype=bool)
    for _, a, b in _windowed_faults(report):
        m &= ~((t_s >= a) & (t_s < b))
    return m


@_styled
def signature_plot(result: Any, *, title: str | None = None, max_shift_labels: int = 12,
                   max_shift_lines: int = 150) -> Figure:
    """Token rate over time: demand, the ceilings C/P/Q, the achieved rate with the band under it
    coloured by the binding constraint, and shifts as vertical lines; below, outdoor temperature
    over the binding-constraint timeline."""
    report, ts = _parts(result)
    daily = _long_run(ts)
    t_ticks = np.asarray(ts["t_s"], dtype=float)
    tick_s = float(np.median(np.diff(t_ticks))) if t_ticks.size > 1 else 0.0  # the run's tick, for shift bursts
    # the thermal flags' runs on the ticks; the daily view's on the days (a day flagged when any of its ticks is)
    th_cols = ("thermal_throttled", "thermal_shed")
    ts_th = ts  # the tick columns (the daily view replaces ts by its daily means)
    if daily:
        day_max = {c: daily_extremes(ts, c)[1] for c in th_cols if c in ts}
        th_days = {c: _thermal_runs(day_max, c) for c in th_cols}
        th_runs = {c: [] for c in th_cols}  # the tick runs are drawn in the tick view only
        day_shares = daily_binding_shares(ts)
        ts = daily_means(ts)
    else:
        th_runs = {c: _thermal_runs(ts, c) for c in th_cols}
    t, _ = time_axis(ts["t_s"])
    scale = time_scale(ts["t_s"])[0]
    achieved = ts["achieved_tok_s"].astype(float)
    demand = ts["demand_tok_s"].astype(float)
    ceilings = {
        "compute": ts["compute_tok_s"].astype(float),
        "power": ts["power_tok_s"].astype(float),
        "cooling": ts["cooling_tok_s"].astype(float),
    }
    binding = ts["binding"].astype(int)
    edges = _span_edges(t)
    # several model pools: the facility's C is the sum over the pools; its P and Q are what the shared budget buys for
    # the pools' waiting work on their joint frontier plus the budget left over at the fleet's full-load tokens per W
    # (dcsim.engine.tables.JointFrontier.facility_ceiling), not the sum of the pools' own P and Q (each of which counts
    # the spare budget as its own: mixed-fleet at 07:00, P 313 k against 279 k + 78 k); its band is the binding of the
    # pool furthest short for its own work (dcsim.tpf.facility_binding); each pool's own binding is drawn as a strip in
    # the lower panel, so a pool bound by another constraint than the band's is seen (mixed-fleet in the afternoon:
    # the chat pool compute, the reasoning pool power, the band power)
    pools = [p for p in (report.get("pools") or []) if isinstance(p, Mapping)]
    several = len(pools) > 1
    strips = [] if daily or not several else [
        (str(p.get("name", f"pool {i}")), np.asarray(ts[f"pool{i}_binding"]).astype(int)) for i, p in enumerate(pools)
        if f"pool{i}_binding" in ts]
    strip_h = SIGNATURE_STRIP_H
    band_lo = strip_h * len(strips) + (0.02 if strips else 0.0)
    base = _finite_max(demand, achieved)
    top_all = _finite_max(demand, achieved, *ceilings.values())
    top = min(top_all * 1.08, base * 3.0) if base > 0 else top_all * 1.08
    zoom = _zoom(ceilings, achieved, top, None if daily else _in_service(report, ts), binding)

    # the lower panel grows with the pool strips, so that each strip stays as tall as a line of its label
    low_h = 1.0 + 0.3 * len(strips)
    if zoom is None:
        fig = new_figure(12.0, 6.8 + 0.3 * len(strips))
        ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[4.2, low_h])
        axz = None
    else:
        fig = new_figure(12.0, 9.0 + 0.3 * len(strips))
        ax, axz, ax2 = fig.subplots(3, 1, sharex=True, height_ratios=[3.4, 2.0, low_h])

    # Band under the achieved rate, coloured by the binding constraint (step: one tick = one span).
    for s, e, code in ([] if daily else binding_runs(binding)):
        name = BINDING_NAMES[code]
        xs = np.repeat(edges[s : e + 1], 2)[1:-1]
        ys = np.repeat(achieved[s:e], 2)
        ax.fill_between(xs, 0, ys, color=CONSTRAINT_COLORS[name], alpha=0.35, linewidth=0)
        ax2.axvspan(edges[s], edges[e], ymin=band_lo, color=CONSTRAINT_COLORS[name], alpha=0.45, linewidth=0)
    if daily:
        # each day's shares stacked (demand at the bottom): the day's most frequent binding drew year-richmond all
        # compute, its 20 % demand-bound hours invisible
        cum = np.zeros(achieved.shape)
        ach0 = np.nan_to_num(achieved)
        for code in range(day_shares.shape[1]):
            sh = day_shares[:, code]
            if not np.any(sh > 0):
                continue
            lo_, hi_ = cum, cum + sh
            col = CONSTRAINT_COLORS[BINDING_NAMES[code]]
            ax.fill_between(edges, _ext(lo_ * ach0), _ext(hi_ * ach0), step="post", color=col, alpha=0.35,
                            linewidth=0, gid=f"daily-share-{BINDING_NAMES[code]}")
            ax2.fill_between(edges, _ext(band_lo + (1 - band_lo) * lo_), _ext(band_lo + (1 - band_lo) * hi_),
                             step="post", transform=ax2.get_xaxis_transform(), color=col, alpha=0.45, linewidth=0)
            cum = hi_
    for k, (pname, pb) in enumerate(strips):  # one strip per pool, the first at the top of the strips
        lo = strip_h * (len(strips) - 1 - k)
        for s, e, code in binding_runs(pb):
            nm = BINDING_NAMES[code]
            ax2.axvspan(edges[s], edges[e], ymin=lo + 0.01, ymax=lo + strip_h - 0.01, color=CONSTRAINT_COLORS[nm],
                        alpha=0.7, linewidth=0)
        ax2.text(0.005, lo + 0.5 * strip_h, f"pool {pname}", transform=ax2.transAxes, fontsize=8, va="center",
                 color="#111111", bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none",
                                        "alpha": 0.8})

    # Widths and dashes differ so that coincident ceilings (e.g. C == Q) both stay visible.
    styles = {"compute": ("-", 3.4), "power": ("-", 2.2), "cooling": ((0, (5, 3)), 2.0)}
    ylim_top = top if top > 0 else 1.0
    oos = out_of_sample_bands(report)
    for name, arr in ceilings.items():
        shown = np.where(np.isfinite(arr), arr, np.nan)
        label = {"compute": "C  compute ceiling", "power": "P  power ceiling",
                 "cooling": "Q  cooling ceiling"}[name] + (SEVERAL_POOLS_CEILING[name] if several else "")
        over = (arr > ylim_top) | np.isposinf(arr)  # off the axis (unlimited counts as off it)
        if np.all(over | np.isnan(arr)):
            label += " (off scale)" + (f" ▲ up to {_eng(np.nanmax(shown))}tok/s" if np.isfinite(shown).any() else "")
        elif np.any(over):
            label += " (▲ above the axis)"
        # drawn at its own value; where it is off the axis it runs along the top edge, marked ▲
        ax.step(edges, _ext(np.where(over, ylim_top, shown)), where="post", color=CONSTRAINT_COLORS[name],
                lw=styles[name][1], ls=styles[name][0], label=label)
        if np.any(over):
            idx = np.flatnonzero(over)
            idx = idx[:: max(1, idx.size // 24)]
            ax.plot(0.5 * (edges[idx] + edges[idx + 1]), np.full(idx.size, ylim_top), ls="none", marker="^",
                    ms=7, color=CONSTRAINT_COLORS[name], clip_on=False, zorder=5)
        if axz is not None:
            axz.step(edges, _ext(shown), where="post", color=CONSTRAINT_COLORS[name], lw=styles[name][1],
                     ls=styles[name][0])
        half = ceiling_band_halfwidth(report, ts, name, oos) if name in ("compute", "power") and oos else None
        if half is not None:
            # the profile's expected error where it is transferred or extrapolated: the ceiling is not a line
            lab = ({"compute": "C", "power": "P"}[name] + " ± expected error of the node profile"
                   + f"\n({band_label(oos, CEILING_BAND_KEY[name] + '_pct')}"
                   + (";\nout-of-sample groups only)" if name == "compute" else ")"))
            for a_ in (ax,) if axz is None else (ax, axz):
                a_.fill_between(edges, _ext(shown - half), _ext(shown + half), step="post",
                                color=CONSTRAINT_COLORS[name],
                                alpha=BAND_ALPHA, linewidth=0, zorder=1.5, label=lab if a_ is ax else None,
                                gid=f"error-band-{name}")
    ax.step(edges, _ext(demand), where="post", color="#444444", lw=1.6, ls="--", label="D  demand")
    throttled = th_runs["thermal_throttled"]
    if throttled:
        # On a throttled tick Q is the compute ceiling at the clock the GPUs' die limit allows (docs/thermal-dynamics.md),
        # and the hall serves at it: the dashed Q ran hidden under the achieved line while C and P sat above it, so the
        # band read "cooling binds" with no line below the others (chiller-trip, 11:54-12:49). Drawn solid and wide
        # under the achieved line, and named.
        q_th = np.full(ceilings["cooling"].shape, np.nan)
        for s_, e_ in throttled:
            q_th[s_:e_] = ceilings["cooling"][s_:e_]
        # the cause (thermal_throttled 1: the plant short, the masses heating; 2: the dies at their limit in normal
        # operation, the plant at its setpoint) said where the run has the die hold; a plant's throttle reads as before
        cause = _throttle_cause(ts_th)
        ax.step(edges, _ext(q_th), where="post", color=CONSTRAINT_COLORS["cooling"], lw=4.0, alpha=0.9,
                label="Q, thermal throttle: the rate at\nthe clock the die limit allows"
                + {"die": "\n(the dies in normal operation)",
                   "both": "\n(the plant short, and the dies in\nnormal operation)"}.get(cause, ""))
        s_, e_ = max(throttled, key=lambda r: r[1] - r[0])
        die_held = bool(np.all(throttle_ticks(ts_th)[1][s_:e_]))  # the longest throttled stretch: the dies' alone
        ax.annotate("die limit (Q)" if die_held else "thermal throttle (Q)",
                    (0.5 * (edges[s_] + edges[e_]), float(np.nanmin(q_th[s_:e_]))),
                    xytext=(0, -6), textcoords="offset points", ha="center", va="top", fontsize=8.5,
                    color=CONSTRAINT_COLORS["cooling"], fontweight="bold",
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.7})
    for s_, e_ in th_runs["thermal_shed"]:
        if e_ - s_ >= 0.04 * len(achieved):  # long enough to hold its label
            ax.annotate("IT shed (thermal)", (0.5 * (edges[s_] + edges[e_]), 0.0), xytext=(0, 4),
                        textcoords="offset points", ha="center", va="bottom", rotation=90, fontsize=8.5,
                        color=CONSTRAINT_COLORS["cooling"], fontweight="bold")
    ax.step(edges, _ext(achieved), where="post", color=ACHIEVED_COLOR, lw=1.4, label="achieved")
    if not daily:
        _fault_windows(ax, report, scale)
        _grid_request_windows(ax, report, scale)
        _recovery_marks(ax, report, edges, scale, throttled + th_runs["thermal_shed"])
    else:
        # the daily view drops the throttle's line, the shed's label and the fault windows: the days with a throttled
        # (or shed) tick are marked, one span per stretch of consecutive days (the runs of the flag's daily highest;
        # until 2026-12-05 one span per day, from the flag's daily mean)
        for column, ymin, ymax, color, label in (
                ("thermal_throttled", 0.97, 1.0, CONSTRAINT_COLORS["cooling"],
                 "days the GPUs throttled (thermal" + {"die": ": the die limit in normal operation",
                                                       "both": ": the plant, and the die limit in normal operation"}
                 .get(_throttle_cause(ts_th), "") + ")"),
                ("thermal_shed", 0.94, 0.97, "black", "days IT was shed (thermal)")):
            for k, (d0, d1) in enumerate(th_days[column]):
                ax.axvspan(edges[d0], edges[d1], ymin=ymin, ymax=ymax, color=color, alpha=0.9, linewidth=0,
                           label=label if k == 0 else None)

    if axz is not None:
        axz.step(edges, _ext(demand), where="post", color="#444444", lw=1.4, ls="--")
        if throttled:
            axz.step(edges, _ext(q_th), where="post", color=CONSTRAINT_COLORS["cooling"], lw=4.0, alpha=0.9)
        axz.step(edges, _ext(achieved), where="post", color=ACHIEVED_COLOR, lw=1.4)
        for s_, e_, code in ([] if daily else binding_runs(binding)):
            nm = BINDING_NAMES[code]
            axz.axvspan(edges[s_], edges[e_], color=CONSTRAINT_COLORS[nm], alpha=0.12, linewidth=0)
        axz.set_ylim(*zoom)
        axz.yaxis.set_major_formatter(EngFormatter(places=1, sep=""))
        axz.set_ylabel("zoom (tok/s)")
        sim = report.get("fidelity") in ("request", "hybrid")
        over = sim and bool(np.any(achieved > np.minimum(np.minimum(*list(ceilings.values())[:2]),
                                                           list(ceilings.values())[2]) * 1.005))
        axz.set_title(("zoom on the ceilings (C summed over the pools, P and Q the shared budgets:\nthe band is the "
                       "pool furthest short's binding)"
                       if several else "zoom on the ceilings: the lowest one binds unless demand is lower")
                      + ("\n(simulated requests: a tick's output may pass the ceilings by a few %, not on average)"
                         if over else ""),
                      loc="left", fontsize=9.5, fontweight="normal", color="#222222")
    shifts = _shift_times(report)
    marked = shifts if len(shifts) <= max_shift_lines else []
    label_rows = 0
    bursts = False
    if marked:
        # more shifts than labels: join those within 1/max_shift_labels of the run into one label ("→a …n more… →b"),
        # so a run of 24 shifts still names its isolated ones (the audit of 2026-12-04: chiller-trip had none)
        gap = SHIFT_LABEL_GAP if len(shifts) <= max_shift_labels else max(SHIFT_LABEL_GAP, 1.0 / max_shift_labels)
        near = gap * max(float(report.get("duration_s") or 0.0) * scale, 1e-12)
        groups = shift_groups(marked, scale, near)
        xs_all = [x for xs, _ in groups for x in xs]
        in_burst = np.zeros(len(marked), dtype=bool)
        for i0, i1 in shift_bursts([float(sh["t_s"]) for sh in marked], tick_s):
            in_burst[i0:i1 + 1] = True
            # an outline over the panels with the rates (not the binding strip below): a grey fill read as demand
            for a_ in (ax,) if axz is None else (ax, axz):
                a_.axvspan(xs_all[i0], max(xs_all[i1], xs_all[i0] + 0.002 * (edges[-1] - edges[0])),
                           facecolor="none", edgecolor=BURST_COLOR, lw=1.0, ls="-", hatch="..", zorder=2.5,
                           gid="shift-burst")
            bursts = True
        for xv, b_ in zip(xs_all, in_burst):
            if not b_:
                for a_ in (ax, ax2) if axz is None else (ax, axz, ax2):
                    a_.axvline(xv, color="#333333", lw=0.8, ls=":", alpha=0.8)
        label_rows = _shift_labels_above(ax, groups, edges[0], edges[-1])
    name = title or report.get("scenario") or getattr(result, "name", "") or "run"
    ax.set_title(f"Token rate and ceilings — {name}"
                 + (" (daily means; band: each day's share of each binding)" if daily else ""),
                 pad=6.0 + SHIFT_LABEL_ROW_PT * label_rows + (4.0 if label_rows else 0.0))
    ax.set_ylim(0, top if top > 0 else 1.0)
    ax.yaxis.set_major_formatter(EngFormatter(sep=""))  # %g digits: 3.5M stays 3.5M
    ax.set_ylabel("output token rate (tok/s)")

    # Legend: lines, plus patches for the band colours.
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    shares = ((report.get("binding") or {}).get("share") or {})
    present = ({c for c in range(day_shares.shape[1]) if np.any(day_shares[:, c] > 0)} if daily
               else set(binding.tolist()))
    # every constraint that bound, from the run's shares: with daily means the band shows each day's most frequent
    # one, and a constraint that never leads a day vanished from the legend (the audit of 2026-12-04: the year read
    # "binds: compute (80%)" alone, its 1,730 demand-bound hours gone)
    codes = sorted(present | {i for i, nm in enumerate(BINDING_NAMES)
                              if isinstance(shares.get(nm), (int, float)) and shares[nm] > 0})
    hair = by_a_hair_labels(report)
    for code in codes:
        nm = BINDING_NAMES[code]
        share = shares.get(nm)
        pct = "<1" if share is not None and 0 < float(share) < 0.005 else f"{100 * float(share or 0):.0f}"
        txt = f"binds: {nm}" + (f" ({pct}%)" if share is not None else "")
        for line in hair.get(nm, []):  # report binding.near_tie: named within 1 % of C, more of it buys under 1 %
            txt += f";\n{line}"
        if code not in present:
            txt += "\n(inside days: leads none)"
        handles.append(Patch(facecolor=CONSTRAINT_COLORS[nm], alpha=0.45))
        labels.append(txt)
    if several:  # what the band and the facility's lines mean with several pools
        handles.append(Patch(facecolor="none", edgecolor="none"))
        labels.append("band: the binding of the pool\nfurthest short for its own work;\n"
                      + ("each pool's in the strips below.\n" if strips else "each pool's: report pools[].\n")
                      + "C: sum over the pools; P, Q: not\nsums (each pool's own P, Q\ncounts the spare budget)")
    if shifts:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="#333333", lw=0.8, ls=":" if marked else "none"))
        labels.append(f"shift ({len(shifts)})" if marked else f"{len(shifts)} shifts (too many to mark)")
        if bursts:
            handles.append(Patch(facecolor="none", edgecolor=BURST_COLOR, lw=1.0, hatch=".."))
            labels.append(f"burst: {SHIFT_BURST}+ shifts each within\n{SHIFT_BURST_GAP_TICKS} ticks of the last "
                          "(binding\nalternating)")
    leg = ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    _legend_beside_all_panels(fig, leg)

    if "t_out_c" in ts:
        ax2.plot(t, ts["t_out_c"], color="#222222", lw=1.4)
        lo, hi = float(np.nanmin(ts["t_out_c"])), float(np.nanmax(ts["t_out_c"]))
        pad = max(1.0, 0.15 * (hi - lo))
        # the temperature over the facility's band only: the pool strips below it keep their own rows (the line ran
        # over mixed-fleet's "pool h100-chat" strip and its label, the audit of the figures, AUF item 10)
        y0, y1 = lo - pad, hi + pad
        # room over the line for the panel's label (top-aligned at 0.95 of the panel, a line of 8.5 pt: under 0.2 of
        # it): mixed-fleet's 40 degC afternoon ran through "outdoor dry-bulb", the strips taking the panel's foot
        f = SIGNATURE_LABEL_FRAC / (1.0 - band_lo)
        y1 = max(y1, y0 + (hi - y0) / (1.0 - f))
        ticks = MaxNLocator(nbins=3 if strips else 4).tick_values(y0, y1)
        ax2.set_yticks([v for v in ticks if y0 <= v <= y1])  # no temperature tick beside a pool strip
        ax2.set_ylim(y0 - band_lo / (1.0 - band_lo) * (y1 - y0), y1)
    ax2.set_ylabel("outdoor\n(°C)")
    ax2.grid(True, axis="x")
    ax2.text(0.005, 0.95, ("facility binding (band above the pools' strips) / outdoor dry-bulb" if strips
                           else "binding constraint / outdoor dry-bulb"), transform=ax2.transAxes,
             fontsize=8.5, va="top", color="#222222")
    ax.set_xlim(edges[0], edges[-1])
    set_time_axis(ax2, ts["t_s"], report.get("clock"))
    return fig


#: the share of the signature's lower panel, from its top, its label takes (a line of 8.5 pt top-aligned at 0.95 of a
#: panel at least ~1 inch tall): the outdoor temperature is drawn under it
SIGNATURE_LABEL_FRAC = 0.2


def _legend_beside_all_panels(fig: Figure, leg: Any) -> None:
    """A legend anchored beside the top panel that may run down beside the panels below it: out of the constrained
    layout (which set the top panel's height to the legend's, mixed-fleet's 12 entries (counted 2026-12-05) leaving a blank band above
    the zoom panel: the audit of the figures, AUF item 10), with the panels' area narrowed by the legend's width."""
    renderer = fig.canvas.get_renderer()
    box = leg.get_window_extent(renderer)
    if box.height > 0.95 * fig.bbox.height:  # taller than the figure: the layout makes room for it as before
        return
    width = box.width / fig.bbox.width
    leg.set_in_layout(False)
    fig.get_layout_engine().set(rect=(0.0, 0.0, max(0.5, 1.0 - width - 0.02), 1.0))


#: Within this share of the cap in force a tick's meter counts as at the cap (:func:`at_cap_note`).
AT_CAP_FRAC = 0.01


def at_cap_note(ts: Mapping[str, np.ndarray]) -> str | None:
    """The power figure's note on the ticks whose meter (``meter_power_w``, else ``facility_power_w``) is within
    :data:`AT_CAP_FRAC` of the cap in force (``interconnect_w``) while power does not bind: the share of those
    not-power-bound ticks that sit at the cap, and of the run they are, and why where the time series says it: when
    most of them run a capped controller mode (``mode`` frontier or uniform_cap) the controller spends the budget on
    clock (mixed-fleet: at the cap on every tick, mode frontier, clock 0.91 at 100k tok/s in the night). None when no
    such tick is at the cap. Until 2026-12-05 the note gave the at-cap ticks' share of the whole run as if it were
    their share of the not-power-bound ones ("at the cap on 43 % of the ticks while power does not bind": mixed-fleet
    is at the cap on all of them; 43 % was the share not power-bound)."""
    capv, fac = ts.get("interconnect_w"), ts.get("meter_power_w", ts.get("facility_power_w"))
    if capv is None or fac is None or "binding" not in ts:
        return None
    capv, fac = np.asarray(capv, dtype=float), np.asarray(fac, dtype=float)
    free = np.asarray(ts["binding"]).astype(int) != BINDING_NAMES.index("power")
    at_cap = free & np.isfinite(capv) & (fac >= (1.0 - AT_CAP_FRAC) * capv)
    if not at_cap.any():
        return None
    note = (f"at the cap (within {100 * AT_CAP_FRAC:.0f} %) on {100 * at_cap.sum() / free.sum():.0f} % of the\n"
            f"{100 * free.mean():.0f} % of ticks where power does not bind")
    if "mode" in ts:
        capped = capped_ticks(ts["mode"])[at_cap]
        if capped.mean() > 0.5:
            clock = ts.get("controller_clock", ts.get("mean_clock"))
            med = (f", median clock {float(np.nanmedian(np.asarray(clock, dtype=float)[at_cap][capped])):.2f}"
                   if clock is not None else "")
            note += f":\nthe controller runs the clock up to the budget\n(capped mode{med})"
    return note


@_styled
def power_stack_plot(result: Any, *, title: str | None = None) -> Figure:
    """Facility power over time stacked as GPU, rest of IT, cooling, delivery losses and fixed
    loads (MW), against the cap in force (the interconnect, lower while a curtailment is on); with a battery, the
    meter (facility power minus the battery's output) as its own line."""
    report, ts = _parts(result)
    daily = _long_run(ts)
    cap_range = daily_extremes(ts, "interconnect_w") if daily and "interconnect_w" in ts else None
    if daily:
        ts = daily_means(ts)
    t, _ = time_axis(ts["t_s"])
    fig = new_figure(12.0, 5.2)
    ax = fig.subplots()
    it = ts["it_power_w"].astype(float)
    peak = float(np.nanmax(ts.get("facility_power_w", it)))
    mw, unit = (1e-6, "MW") if peak >= 1e6 else (1e-3, "kW")
    gpu = ts.get("gpu_power_w")
    # each layer of POWER_LAYERS, in its order: (label, series in W) or None where the run has no such series
    series = {
        "gpu": ((energy_label("gpu"), gpu.astype(float)) if gpu is not None else (energy_label("it"), it)),
        "it_other": (energy_label("server_non_gpu_and_rack"), it - gpu) if gpu is not None else None,
        "cooling": (energy_label("cooling"), ts["cooling_power_w"].astype(float)),
        "losses": (energy_label("delivery_losses"), ts["loss_power_w"].astype(float)),
        "fixed": (energy_label("fixed_loads"), ts["fixed_power_w"].astype(float)) if "fixed_power_w" in ts else None,
    }
    layers: list[tuple[str, np.ndarray, str]] = [(series[k][0], series[k][1] * mw, POWER_COLORS[k])
                                                 for k in POWER_LAYERS if series[k] is not None]
    edges = _span_edges(t)
    ax.stackplot(edges, *[_ext(v) for _, v, _ in layers], labels=[n for n, _, _ in layers],
                 colors=[c for _, _, c in layers], step="post", alpha=0.9, linewidth=0)
    top = float(np.nanmax(ts.get("facility_power_w", it))) * mw
    if "facility_power_w" in ts:
        # with a battery the meter (what the cap limits) is facility power minus the battery's output
        meter = ts.get("meter_power_w")
        storage = meter is not None and not np.allclose(meter, ts["facility_power_w"], rtol=1e-9, atol=1e-6)
        ax.step(edges, _ext(ts["facility_power_w"] * mw), where="post", color="#222222", lw=1.0,
                label="facility (before storage)" if storage else "facility (meter)")
        if storage:
            ax.step(edges, _ext(meter * mw), where="post", color=POWER_COLORS["meter"], lw=1.6, ls="-.",
                    label="meter (after storage)")
            top = max(top, float(np.nanmax(meter)) * mw)
    cap = ts.get("interconnect_w") if cap_range is None else cap_range[1]
    if cap is not None and np.isfinite(cap).any():
        capd = np.where(np.isfinite(cap), cap, np.nan) * mw
        line = ax.step(edges, _ext(capd), where="post", color=POWER_COLORS["cap"], lw=2.2, ls="--",
                       label=cap_label(cap))[0]
        top = max(top, float(np.nanmax(capd)))
        if cap_range is not None and _cap_dips(ax, edges, cap_range[0] * mw, capd):
            line.set_label("cap in force, day's highest")
    if not daily:
        _fault_windows(ax, report, time_scale(ts["t_s"])[0])
    if not daily and "binding" in ts:
        # what binds, as a strip along the top (the signature's colours): mixed-fleet sat at its 700-kW cap all day
        # while the signature said demand binds overnight, and nothing here said which
        b = ts["binding"].astype(int)
        for s_, e_, code in binding_runs(b):
            ax.axvspan(edges[s_], edges[e_], ymin=0.965, ymax=1.0, color=CONSTRAINT_COLORS[BINDING_NAMES[code]],
                       alpha=0.8, lw=0, gid="binding-strip")
        strip = [(matplotlib.patches.Rectangle((0, 0), 0, 0, color=CONSTRAINT_COLORS[BINDING_NAMES[code]], alpha=0.8,
                                               lw=0), f"{BINDING_NAMES[code]} binds")
                 for code in sorted(set(b.tolist()))]
        note = at_cap_note(ts)
        if note:  # a legend entry of its own (over the axes it covered the cap line)
            strip.append((matplotlib.patches.Rectangle((0, 0), 0, 0, facecolor="none", edgecolor="none",
                                                       gid="at-cap-note"), note))
    ax.set_ylim(0, top * 1.12 if top > 0 else 1.0)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylabel(f"power ({unit})")
    set_time_axis(ax, ts["t_s"], report.get("clock"))
    name = title or report.get("scenario") or "run"
    ax.set_title(f"Facility power by component — {name}" + (" (daily means)" if daily else ""))
    h, lab = ax.get_legend_handles_labels()
    groups = [(POWER_LEGEND_TITLES[1], list(zip(h[::-1], lab[::-1])))]
    if not daily and "binding" in ts:
        groups.insert(0, (POWER_LEGEND_TITLES[0], strip))
    _titled_legend(ax, groups, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


#: The titles of the power figure's two legend groups: what binds (the strip along the top, in the constraint colours)
#: and what draws the power (the stack, in :data:`POWER_COLORS`, with the facility and cap lines).
POWER_LEGEND_TITLES: tuple[str, str] = ("binds (top strip)", "power by component")


def _titled_legend(ax: Any, groups: Sequence[tuple[str, Sequence[tuple[Any, str]]]], **kw: Any) -> Any:
    """One legend of several groups, each under its title in bold (a handle-less entry, gid ``legend-title``): the
    power figure listed "top strip: cooling binds" beside "cooling" (the cooling plant's power) as one list."""
    handles: list[Any] = []
    labels: list[str] = []
    titles = set()
    for title, entries in groups:
        if not entries:
            continue
        titles.add(len(handles))
        handles.append(matplotlib.patches.Rectangle((0, 0), 0, 0, facecolor="none", edgecolor="none",
                                                    gid="legend-title"))
        labels.append(title)
        for hd, lb in entries:
            handles.append(hd)
            labels.append(lb)
    leg = ax.legend(handles, labels, **kw)
    for i, text in enumerate(leg.get_texts()):
        if i in titles:
            text.set_fontweight("bold")
    return leg


def _windowed_faults(report: Mapping[str, Any]) -> list[tuple[str, float, float]]:
    """The run's faults with a time window (report ``faults``; node failures have none) as (kind, start_s, end_s),
    skipping entries without a window of positive length."""
    out = []
    for f in report.get("faults") or []:
        if not isinstance(f, Mapping) or f.get("kind") == "node_failures":
            continue
        a, b = f.get("start_s"), f.get("end_s")
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > a:
            out.append((str(f.get("kind", "fault")), float(a), float(b)))
    return out


def _fault_windows(ax: Any, report: Mapping[str, Any], scale: float) -> None:
    """Each windowed fault of the run (cooling failure, curtailment, heat wave; report ``faults``) as a hatched band
    over its time, labelled once per kind: the figures showed a trip's dip with nothing marking the trip (the audit
    of the views: chiller-trip's plant trips at 11:10, its signature showed compute binding until 11:30)."""
    seen = set()
    for kind, a, b in _windowed_faults(report):
        ax.axvspan(a * scale, b * scale, facecolor="none", edgecolor="#555555", hatch="///", lw=0.0, alpha=0.45,
                   zorder=0.5, label=None if kind in seen else f"{kind.replace('_', ' ')} (fault window)")
        seen.add(kind)


def by_a_hair_labels(report: Mapping[str, Any]) -> dict[str, list[str]]:
    """``{kind: [legend lines]}``: what report.json's ``binding.near_tie`` says binds "by a hair" (written by
    :func:`dcsim.engine.assemble.near_ties`, the one computation of the run's "binds by a hair" notes: named binding
    with the ceiling within ``within_frac`` of compute, so more of it buys under that), each line with its share of
    the run and whose C it is: ``"by a hair on 11 % of the run (within 1 % of C)"`` with one pool, ``"by a hair in
    pool b200-reasoning on 57 % of the run (within 1 % of its own C, 75.3k tok/s)"`` with several, where the drawn C
    is the sum over the pools and the facility's P may sit far under it. Until 2026-12-05 the figure parsed the
    notes' prose and put "by a hair (within 1 % of C)" on the kind's whole share: grid-flex's 19 % power read by a
    hair where 11 % of the run was (its 17:00-19:00 utility request binds hard, P 9-41 % under C), and mixed-fleet's
    against the drawn Σ-pools C (302 k tok/s) where the tie is with the reasoning pool's own (75 k)."""
    out: dict[str, list[str]] = {}
    for e in (report.get("binding") or {}).get("near_tie") or []:
        if not isinstance(e, Mapping) or e.get("kind") not in ("power", "cooling"):
            continue
        share, within = float(e.get("share") or 0.0), 100 * float(e.get("within_frac") or 0.0)
        pct = "<1" if 0 < share < 0.005 else f"{100 * share:.0f}"
        if e.get("pool"):
            own = (f", {float(e['compute_tok_s']) / 1e3:,.1f}k tok/s"
                   if isinstance(e.get("compute_tok_s"), (int, float)) else "")
            line = f"by a hair in pool {e['pool']}\non {pct} % of the run (within {within:g} %\nof its own C{own})"
        else:
            line = f"by a hair on {pct} % of the run\n(within {within:g} % of C)"
        out.setdefault(str(e["kind"]), []).append(line)
    return out


def _grid_request_windows(ax: Any, report: Mapping[str, Any], scale: float) -> None:
    """Each utility curtailment request of the run (report ``grid.curtailment.requests``: ``start_s``, ``end_s``) as a
    hatched band over its time, labelled once: grid-flex's signature showed the 17:00-19:00 dip to 133 k tok/s with
    nothing marking the request (the audit of 2026-12-05; a curtailment given as a fault was marked, a grid request
    was not; the power figure draws its cap)."""
    reqs = ((report.get("grid") or {}).get("curtailment") or {}).get("requests") or []
    first = True
    for r in reqs:
        a, b = (r.get("start_s"), r.get("end_s")) if isinstance(r, Mapping) else (None, None)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > a:
            ax.axvspan(a * scale, b * scale, facecolor="none", edgecolor="#555555", hatch="\\\\", lw=0.0,
                       alpha=0.45, zorder=0.5, label="utility request (curtailment window)" if first else None)
            first = False


def _recovery_marks(ax: Any, report: Mapping[str, Any], edges: np.ndarray, scale: float,
                    runs: list[tuple[int, int]]) -> None:
    """Where the thermal throttle or shed outlasts a fault window (the plant is back but the loop and the dies are
    still hot), the span from the window's end to the last such tick, labelled "after the trip" (or after the fault
    kind): chiller-trip's hatched window ends at 11:50 while its shed runs to 11:54 and its throttle to 12:49, and
    nothing said why the hall was still short."""
    for kind, a, b in _windowed_faults(report):
        a, b = a * scale, b * scale
        # the runs that start within the window and last beyond it, and those that follow on within 3 ticks (the shed
        # that ends a tick before the throttle begins)
        end, gap = b, 3 * float(edges[1] - edges[0]) if edges.size > 1 else 0.0
        for s_, e in sorted(runs):
            if float(edges[e]) > a and float(edges[s_]) <= end + (gap if end > b else 0.0) and float(edges[e]) > end:
                end = float(edges[e])
        if not end > b:
            continue
        what = "the trip" if kind == "cooling_failure" else f"the {kind.replace('_', ' ')}"
        ax.annotate("", (b, 0.93), xytext=(end, 0.93), xycoords=("data", "axes fraction"),
                    arrowprops={"arrowstyle": "<->", "color": CONSTRAINT_COLORS["cooling"], "lw": 1.2})
        ax.annotate(f"after {what}", (0.5 * (b + end), 0.93), xycoords=("data", "axes fraction"), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8,
                    color=CONSTRAINT_COLORS["cooling"],
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.7})


def _cap_dips(ax: Any, edges: np.ndarray, low: np.ndarray, high: np.ndarray, color: str = POWER_COLORS["cap"]) -> bool:
    """On a daily-mean power figure, each day the cap was lowered (a curtailment) as a line from the day's highest
    cap down to a ▼ at its lowest (the daily mean of the cap hid a 2-h cut to half the contract as a 4 % dip).
    Returns whether any day was lowered."""
    low = np.where(np.isfinite(low), low, high)
    dip = low < high - 1e-9 * np.abs(high)
    if not dip.any():
        return False
    x = 0.5 * (edges[:-1] + edges[1:])[dip]
    ax.vlines(x, low[dip], high[dip], color=color, lw=1.6, zorder=4)
    ax.plot(x, low[dip], ls="none", marker="v", ms=7, color=color, zorder=4,
            label=f"cap in force, day's lowest ({int(dip.sum())} curtailed days)")
    return True


#: The PUE figure's scale follows ticks whose IT load is at least this share of the run's peak (assumption: below it a
#: tick is an outage or a trip, its PUE the fixed loads over almost no IT); such ticks are marked on the top edge.
PUE_SCALE_MIN_LOAD = 0.10


#: The most ticks of one fault window :func:`pue_plot` rings (evenly spaced; the legend counts them all).
FAULT_RINGS_MAX = 20


#: The most off-scale episodes :func:`pue_plot` labels with their local time window (beyond it, the spans alone).
OFF_SCALE_LABELS_MAX = 4


def _off_scale_episodes(ax, report: Mapping[str, Any], ts: Mapping[str, np.ndarray], above: np.ndarray,
                        y_mark: float) -> None:
    """The PUE figure's off-scale ticks (near-idle IT: a thermal shed, an outage) on its top edge at ``y_mark``, one
    mark per episode (a run of consecutive such ticks): a line over the outdoor temperatures the episode spans with
    one ▲ at its middle, labelled with its local time window (up to :data:`OFF_SCALE_LABELS_MAX` episodes), and one
    legend entry naming what they are — ``shed (IT off)`` where every such tick is a thermal shed. Until 2026-12-05
    each tick had its own ▲: chiller-trip's 104 shed ticks, 36.8-37.3 degC, merged into one dark bar."""
    x, y, t = (np.asarray(ts[k], dtype=float) for k in ("t_out_c", "pue", "t_s"))
    runs = [(a, b) for a, b, on in binding_runs(above.astype(int)) if on]
    shed = _flag_ticks(ts, "thermal_shed")
    edges = _span_edges(t)
    color = "#444444"
    spans = []  # (lo, hi, a, b) of each episode with an outdoor temperature
    for a, b in runs:
        xs = x[a:b][np.isfinite(x[a:b])]
        if xs.size:
            spans.append((float(xs.min()), float(xs.max()), a, b))
    if spans:
        # one line for every episode's span, NaN between them (a "|" at each end: a segment has its two points
        # only), and one markers-only line of their ▲: two artists for the figure, not two per episode
        seg_x = np.array([[lo, hi, np.nan] for lo, hi, _, _ in spans]).ravel()[:-1]
        ax.plot(seg_x, np.where(np.isnan(seg_x), np.nan, y_mark), color=color, lw=2.0, solid_capstyle="butt",
                zorder=4, gid="off-scale-span", marker="|", markersize=7)
        mid = np.array([0.5 * (lo + hi) for lo, hi, _, _ in spans])
        # a markers-only line, not a scatter: a scatter's ▲ of the same size is not snapped to the pixel grid and
        # drew a little apart from the one each episode had
        ax.plot(mid, np.full(mid.size, y_mark), marker="^", ms=8, ls="none", color=color, zorder=5, gid="off-scale")
    if len(runs) <= OFF_SCALE_LABELS_MAX:
        for lo, hi, a, b in spans:
            ax.annotate(fmt_local_window(edges[a], edges[b], report.get("clock"), report.get("duration_s")),
                        (0.5 * (lo + hi), y_mark), xytext=(0, -5), textcoords="offset points", ha="center",
                        va="top", fontsize=8, color=color, zorder=5)
    n = int(above.sum())
    what = ("shed (IT off)" if shed[above].all() else f"at IT < {100 * PUE_SCALE_MIN_LOAD:.0f} % of peak")
    ax.plot([], [], marker="^", ms=8, color=color, lw=2.0,
            label=f"{n} ticks {what}, PUE up to {float(np.nanmax(y[above])):.3g} (off scale):\n{len(runs)} "
                  + ("episodes, a ▲ each over its outdoor temperatures" if len(runs) > 1
                     else "episode, ▲ over its outdoor temperatures"))


@_styled
def pue_plot(result: Any, *, title: str | None = None, max_points: int = 6000) -> Figure:
    """PUE against outdoor temperature, one point per tick, coloured by IT load (MW)."""
    report, ts = _parts(result)
    fig = new_figure(7.2, 5.0)
    ax = fig.subplots()
    x, y = ts["t_out_c"].astype(float), ts["pue"].astype(float)
    peak_it = float(np.nanmax(ts["it_power_w"]))
    scale, unit = (1e-6, "MW") if peak_it >= 1e6 else (1e-3, "kW")
    c = ts["it_power_w"].astype(float) * scale
    # the scale follows the ticks carrying load: a few near-idle ticks (an outage, a trip) have PUEs of 6-30 that
    # flattened chiller-trip's 1.40-1.46 cloud onto the axis (the audit of 2026-12-04); those sit on the top edge, ▲
    it = ts["it_power_w"].astype(float)
    loaded = np.isfinite(y) & (it >= PUE_SCALE_MIN_LOAD * peak_it)
    ys = y[loaded] if loaded.any() else y[np.isfinite(y)]
    lo, hi = float(np.nanmin(ys)), float(np.nanmax(ys))
    pad = max(0.01, 0.1 * (hi - lo))
    top = hi + pad * 3.0
    above = np.isfinite(y) & (y > top)
    # the colour bar spans the points drawn on the scale: the off-scale shed ticks (5 kW) set its minimum, and every
    # drawn point was the same yellow (chiller-trip)
    idx = np.flatnonzero(~above)
    idx = idx[:: max(1, int(np.ceil(idx.size / max_points)))]
    size = 14 if idx.size > 500 else 45 if idx.size > 50 else 70
    cs = c[idx][np.isfinite(c[idx])]
    vmin, vmax = (float(cs.min()), float(cs.max())) if cs.size else (None, None)
    sc = ax.scatter(x[idx], y[idx], c=c[idx], cmap="viridis", vmin=vmin, vmax=vmax, s=size, alpha=0.85,
                    linewidths=0, rasterized=True, zorder=3)
    cb = fig.colorbar(sc, ax=ax, pad=0.01)
    cb.set_label(f"IT load ({unit})")
    pue = report.get("pue")
    if isinstance(pue, (int, float)) and np.isfinite(pue):
        ax.axhline(float(pue), color="#C0392B", lw=1.2, ls="--",
                   label=f"run PUE (energy-weighted) {float(pue):.3f}")
        ax.legend(loc="upper left", frameon=False)
    ax.set_xlabel("outdoor dry-bulb temperature (°C)")
    ax.set_ylabel("PUE (facility / IT power)")
    # the ticks inside a fault window (a chiller trip's plant draws only its fans: chiller-trip's lowest PUE, 1.145,
    # is the trip, not the best operating point), ringed and named
    t_s = ts["t_s"].astype(float)
    for kind in sorted({k for k, _, _ in _windowed_faults(report)}):
        inw = np.zeros(t_s.shape, dtype=bool)
        for k, a, b in _windowed_faults(report):
            inw |= (k == kind) & (t_s >= a) & (t_s < b)
        inw &= ~above & np.isfinite(y)
        if inw.any():
            # at most FAULT_RINGS_MAX rings, evenly over the window's ticks, thin and little larger than a point:
            # chiller-trip's 160 rings (2.2x a point, 0.9-pt black) merged into one black bar over the points
            ring = np.flatnonzero(inw)
            step = max(1, int(np.ceil(ring.size / FAULT_RINGS_MAX)))
            ring = ring[::step]
            ax.scatter(x[ring], y[ring], s=size * 1.6, facecolors="none", edgecolors="#222222", linewidths=0.5,
                       zorder=4, gid="fault-window-ticks",
                       label=f"{int(inw.sum())} ticks in the {kind.replace('_', ' ')} window"
                             + (f" (one in {step} ringed)" if step > 1 else ""))
    if above.any():
        _off_scale_episodes(ax, report, ts, above, hi + pad * 2.2)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", frameon=True, framealpha=0.9, edgecolor="none")
    ax.set_ylim(max(1.0, lo - pad) if lo >= 1.0 else lo - pad, top)
    name = title or report.get("scenario") or "run"
    ax.set_title(f"PUE vs outdoor temperature — {name}")
    return fig


def _has_latency(samples: Mapping[str, Any] | None) -> bool:
    if not samples:
        return False
    return any(np.asarray(v.get(k, [])).size for v in samples.values() for k in ("ttft_s", "tpot_s", "e2e_s"))


@_styled
def latency_cdf_plot(result: Any, *, title: str | None = None) -> Figure | None:
    """Empirical CDFs of TTFT, TPOT and end-to-end latency per request class, with each class's
    SLO as a dashed vertical line. Returns None when the run has no per-request samples
    (fluid fidelity)."""
    samples = getattr(result, "latency_samples", None) or {}
    slo = getattr(result, "slo", None) or {}
    if not _has_latency(samples):
        return None
    report = getattr(result, "report", {}) or {}
    scope = sample_scope(report, with_share=False)  # hybrid: the counts are the simulated sample's
    metrics = [("ttft_s", "time to first token"), ("tpot_s", "time per output token"),
               ("e2e_s", "end-to-end latency")]
    metrics = [m for m in metrics if any(np.asarray(v.get(m[0], [])).size for v in samples.values())]
    fig = new_figure(4.5 * len(metrics) + 1.5, 4.4 + 0.28 * len(samples))
    axes = np.atleast_1d(fig.subplots(1, len(metrics), sharey=True))
    classes = sorted(samples)
    slo_prefixes = tuple(f"{cls} SLO " for cls in classes)  # the SLO lines' labels (the class lines' name "SLO misses")
    for ax, (key, label) in zip(axes, metrics):
        for i, cls in enumerate(classes):
            v = np.sort(np.asarray(samples[cls].get(key, []), dtype=float))
            v = v[np.isfinite(v)]
            if v.size == 0:
                continue
            color = RUN_COLORS[i % len(RUN_COLORS)]
            p = np.arange(1, v.size + 1) / v.size
            reqs = ((report.get("serving") or {}).get("per_class") or {}).get(cls, {})
            reqs = (reqs.get("requests") or {}) if isinstance(reqs, Mapping) else {}
            total, shed = reqs.get("completed"), reqs.get("shed")
            cls_label = (f"{cls} (sample of {v.size:,} of {int(total):,} completed)"
                         if isinstance(total, (int, float)) and total > v.size else f"{cls} (n={v.size:,} completed)")
            if isinstance(shed, (int, float)) and shed > 0:  # shed requests have no latency: not in the curve
                cls_label += f"\n{int(shed):,} shed (not drawn; SLO misses)"
            if scope and isinstance(total, (int, float)):  # hybrid: both counts are the sample's, not the facility's
                cls_label += f"\ncounted in {scope}"
            ax.step(v, p, where="post", color=color, lw=1.8, label=cls_label)
            target = (slo.get(cls) or {}).get(key)
            if target is not None and np.isfinite(target):
                ok = float(np.mean(v <= target))
                ax.axvline(float(target), color=color, ls="--", lw=1.2,
                           label=f"{cls} SLO {fmt_time(float(target))}: {100 * ok:.1f}% of completed met")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: fmt_time(x)))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("latency (log scale)")
        ax.set_title(label)
        ax.set_ylim(0, 1.02)
        lo, hi = ax.get_xlim()
        dense = hi > 0 and lo > 0 and np.log10(hi / lo) <= 1.5  # 1-2-5 ticks only where they do not run together
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if dense else (1.0,)))
        slo_h = [(h, lab) for h, lab in zip(*ax.get_legend_handles_labels()) if lab.startswith(slo_prefixes)]
        if slo_h:  # each panel: its SLO lines; the classes once, below the figure
            ax.legend([h for h, _ in slo_h], [lab for _, lab in slo_h], loc="upper center",
                      bbox_to_anchor=(0.5, -0.2), frameon=False, fontsize=9, ncol=1)
    cls_h = [(h, lab) for h, lab in zip(*axes[0].get_legend_handles_labels()) if not lab.startswith(slo_prefixes)]
    if cls_h:  # a CDF's upper left is empty: the classes go there, once
        slo_leg = axes[0].get_legend()
        axes[0].legend([h for h, _ in cls_h], [lab for _, lab in cls_h], loc="upper left", frameon=True,
                       framealpha=0.9, edgecolor="none", fontsize=8.5)
        if slo_leg is not None:
            axes[0].add_artist(slo_leg)
    # of the completed requests: a shed one has no latency and is not in the curves (reference at request fidelity,
    # 12:00-13:00: 1,290,105 shed beside 3,824,324 completed read as a share of all requests until 2026-12-06)
    axes[0].set_ylabel("fraction of completed requests ≤ x")
    name = title or report.get("scenario") or "run"
    fig.suptitle(f"Latency CDFs per request class — {name}", fontweight="bold", fontsize=13)
    return fig


def _jpt_band_text(band: Mapping[str, Any] | None) -> str:
    """The J/token band of a :func:`~dcsim.metrics.fmt.headline_band` as the headline prints it after each level's
    figure: once (``"≥±19 % J/token"``) where every level prints the same, else per level (``"GPU ≥±25 %, IT ≥±20 %,
    facility ≥±20 % J/token"``)."""
    text = {lv: fmt_headline_band(band, "j_per_tok_pct", lv) for lv in ("gpu", "it", "facility")}
    shown = {lv: t for lv, t in text.items() if t}
    if len(set(shown.values())) <= 1:
        return f"{next(iter(shown.values()), '')} J/token".strip()
    return ", ".join(f"{energy_label(lv)} {t}" for lv, t in shown.items()) + " J/token"


@_styled
def joules_per_token_plot(result: Any, *, title: str | None = None) -> Figure:
    """Joules per output token at GPU, IT and facility level (bars, values written on them)."""
    report, _ = _parts(result)
    jpt = report.get("joules_per_output_token") or {}
    levels = [("gpu", "GPU"), ("it", "IT (server + network)"), ("facility", "facility (IT × PUE)")]
    vals = [np.nan if jpt.get(k) is None else float(jpt[k]) for k, _ in levels]  # null: no token served
    fig = new_figure(7.2, 5.0)
    ax = fig.subplots()
    colors = [POWER_COLORS["gpu"], POWER_COLORS["it_other"], "#555555"]
    bars = ax.bar([lab for _, lab in levels], vals, color=colors, edgecolor="#333333", width=0.6)
    # the headline's band at each level (dcsim.metrics.fmt.headline_band, the one the summary's J/token row and
    # report.html's card print): until 2026-12-05 the figure worked out its own and its legend gave the widest level's
    # (mixed-fleet: the GPU level's 19.30 % beside the headline's facility 19.18 %)
    band = headline_band(report)
    err = [p / 100.0 for p in jpt_band_pct_by_level(band, [k for k, _ in levels])]
    for b, v, e in zip(bars, vals, err):
        if np.isfinite(v):  # above the error bar when there is one
            ax.annotate(f"{v:#.3g} J", (b.get_x() + b.get_width() / 2, v * (1 + e)), xytext=(0, 4),
                        textcoords="offset points", ha="center", va="bottom", fontsize=12,
                        fontweight="bold")
    finite = [v for v in vals if np.isfinite(v)]
    if any(e > 0 for e in err):
        # the profile's expected error where it is transferred or extrapolated (none where every group is in-sample)
        yerr = [v * e for v, e in zip(vals, err)]
        ax.errorbar(range(len(vals)), vals, yerr=yerr, fmt="none", ecolor="#111111", elinewidth=1.6, capsize=8,
                    capthick=1.6, zorder=4, gid="error-band-jpt",
                    label=f"expected error of the node profile, {_jpt_band_text(band)}"
                          + f"\n({band_label(band['bands'], 'j_per_tok_pct')}"
                          + (";\nweighted by its pool's share of the energy" if len(report.get("pools") or []) > 1
                             else "") + ")")
        finite = [v * (1 + e) for v, e in zip(vals, err) if np.isfinite(v)]
        ax.legend(loc="upper left", frameon=True, framealpha=0.9, edgecolor="none", fontsize=8.5)
    ax.set_ylim(0, (max(finite) * 1.18) if finite else 1.0)
    if np.isfinite(vals[0]) and np.isfinite(vals[1]) and vals[0] > 0:
        ax.text(1, 0.5 * vals[1], f"×{vals[1] / vals[0]:.2f}\nof GPU", ha="center", va="center",
                fontsize=9.5, color="#222222")
    if np.isfinite(vals[1]) and np.isfinite(vals[2]) and vals[1] > 0:
        ax.text(2, 0.5 * vals[2], f"×{vals[2] / vals[1]:.2f}\nof IT", ha="center", va="center",
                fontsize=9.5, color="white")
    ax.set_ylabel("energy per output token (J/token)")
    ax.grid(True, axis="y")
    ax.grid(False, axis="x")
    name = title or report.get("scenario") or "run"
    ax.set_title(f"Joules per output token — {name}")
    return fig


#: File stem → figure function, in the order the report shows them.
FIGURES: dict[str, Callable[..., Figure | None]] = {
    "signature": signature_plot,
    "power": power_stack_plot,
    "pue": pue_plot,
    "joules_per_token": joules_per_token_plot,
    "latency": latency_cdf_plot,
}


def all_figures(result: Any, names: Sequence[str] | None = None) -> dict[str, Figure]:
    """Every figure that applies to this run, by file stem; figures that do not apply
    (latency without samples) are left out."""
    out: dict[str, Figure] = {}
    for stem, fn in FIGURES.items():
        if names is not None and stem not in names:
            continue
        fig = fn(result)
        if fig is not None:
            out[stem] = fig
    return out
