"""The figure of a parameter sweep (``dcsim sweep``, :func:`dcsim.sweep.run_sweep`): what the headline figures do
along what was swept. Nothing here computes physics; the numbers drawn are the rows' (one per point), averaged over
seeds where a sweep has several, and rescaled for display (W → kW, …).

Which figure suits the sweep (:func:`sweep_figure_kind`):

* one swept parameter → ``line``: served output tokens/s (with the demand and, when the rows have it, the
  SLO-meeting goodput), Joules per output token (facility, IT, GPU) and the share of the run each constraint binds,
  against the parameter; each point's marker coloured by what binds most of its run
  (:data:`dcsim.plots.CONSTRAINT_COLORS`): demand, or, where the limits together bind longer than demand, the
  limit binding the longest (:func:`dcsim.tpf.binding_that_holds`: a grey "demand" cell beside limits binding 57 %
  of the run read as an unconstrained hall);
* two parameters of a grid → ``heatmap``: output tokens/s (or ``metric``) over the grid, beside the map of what
  binds most of each point's run;
* more parameters, a zipped ``list`` of two or more, and ``random``/``lhs`` designs → ``scatter``: the headline
  figure against each swept parameter (a projection: the other parameters vary too), coloured by the binding
  constraint;
* no parameter (a sweep over seeds alone) or no figure to draw (``metrics`` without output tokens/s or any other
  number) → :class:`NoSweepFigure`, whose message says why.

Points the preflight refused (their row's ``error``) are drawn as refused: a black ✕ on the axis where their value
would be, a hatched cell on a heatmap, counted in the legend; a point that ran but has no value of the figure
drawn is a hollow marker on the axis. None is left out silently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import EngFormatter, FixedLocator, NullLocator

from dcsim.plots.figures import (
    ACHIEVED_COLOR,
    BINDING_NAMES,
    CONSTRAINT_COLORS,
    POWER_COLORS,
    RUN_COLORS,
    _styled,
    new_figure,
)
from dcsim.metrics.fmt import WITHIN_BAND_MIN_SHARE, fmt_band, unique_words
from dcsim.tpf import binding_that_holds
from dcsim.units import DIMENSIONS, display_unit

__all__ = ["NoSweepFigure", "sweep_figure", "sweep_figure_kind", "axis_unit", "binding_colormap", "HEADLINE",
           "MAX_SCATTER_PANELS"]

#: The headline figure: served output tokens/s, averaged over the run (report ``throughput_tok_s.output``).
HEADLINE = "throughput_tok_s.output"
DEMAND = "throughput_tok_s.demand_output"
GOODPUT = "goodput_tok_s"
#: Joules per output token, drawn facility first (the planner's figure), then IT and GPU.
JPT = (("joules_per_output_token.facility", "facility", "#555555"),
       ("joules_per_output_token.it", "IT", POWER_COLORS["it_other"]),
       ("joules_per_output_token.gpu", "GPU", POWER_COLORS["gpu"]))
SHARES = tuple(f"binding.share.{n}" for n in BINDING_NAMES)
#: what binds most of a point's run by the headline's rule (:func:`dcsim.tpf.binding_that_holds`), the column
#: results.csv carries (:data:`dcsim.sweep.HEADLINE_COLUMNS`) and the marker reads; rows without it (plain dicts)
#: are read from their shares by the same function
HOLDS = "binding.holds"
#: The error band each point's run prints on its headline tok/s and facility J/token (%, empty where calibrated
#: in-sample), whether it is a lower bound, and its node calibration in words (:data:`dcsim.sweep.HEADLINE_COLUMNS`).
#: A banded point is drawn as a white diamond edged in its binding's colour (:data:`BAND_MARKER`), with error bars of
#: its band, and the legend says the band (audit AUF item 1: a transferred fp8 point read as a measured +11 %; until
#: the review of that mend it was a hatch over the marker, invisible at its size); a heatmap cell is hatched.
BAND_TOK = "error_band_pct.tok_s"
BAND_JPT = "error_band_pct.j_per_tok"
BAND_LOWER = "error_band_lower_bound"
STATUS = "calibration.status"
#: the share of a point's run on which another limit could bind within its band (report.json
#: ``binding.within_band.share``, :data:`dcsim.sweep.HEADLINE_COLUMNS`): the binding share bar and the heatmap's binding
#: cell are hatched by it, not by the tok/s band (a banded point whose binding holds outside the band is not)
WITHIN = "binding.within_band.share"
#: the least such share marked is the run's own rule: the headline says "undetermined within the calibration band"
#: from :data:`dcsim.metrics.fmt.WITHIN_BAND_MIN_SHARE` of the run (:func:`dcsim.metrics.fmt.within_band_text`)
WITHIN_HATCH = "///"
BAND_HATCH = "////"
#: a heatmap cell whose points ran beyond what their profile was measured at with no band measured there (calibration
#: status "extrapolated clock", "extrapolated cap", "extrapolated batch": their error band columns empty): dotted, and
#: the legend says no band is measured (walkthrough 2026-12-06: interconnect_vs_gpus's three extrapolated-clock
#: points were drawn as the calibrated ones, the caveat said on stderr only); the cell on the binding map too, and a
#: one-axis or scatter sweep's point run there has its marker dotted, the legend entry the heatmap's (review of WALK3,
#: 2026-12-06: only the heatmap's value map marked them)
NO_BAND_HATCH = ".."
BAND_MARKER = "D"
#: how far the facility J/token error bar sits right of its point (points, 1/72 in): centred on the point it ran
#: through the IT level's marker just below (an assumption: a marker's width)
JPT_BAR_OFFSET_PT = 7.0
#: Parameter panels the scatter fallback draws at most (an assumption: beyond six the panels get too small to read;
#: the title says how many were left out).
MAX_SCATTER_PANELS = 6
#: A heatmap writes each cell's values in it up to this many columns and rows (an assumption: a 9-pt label of
#: "123.4k" needs about 1/12 of an 11-inch panel).
MAX_LABELLED_SIDE = 12
#: Longest category label on an axis (characters; an assumption: longer ones run into their neighbours), cut with "…".
MAX_TICK_CHARS = 24
#: Marker of a point the preflight refused, and of a point that ran without a value of the drawn figure. Black, not a
#: constraint's colour.
FAILED_STYLE = {"marker": "X", "color": "#000000", "ms": 9, "ls": "none"}
NOVALUE_STYLE = {"marker": "o", "mfc": "none", "mec": "#000000", "ms": 8, "ls": "none"}
#: The binding map's key (the legend's title below a heatmap), and what a labelled cell's number means.
BINDING_MAP_CAPTION = ("right: what binds most of the run. Colour: the limit binding longest where the limits together "
                       "bind longer than demand, else demand")
BINDING_MAP_NUMBER = "\nnumber: % of the run any limit (or demand) binds"
#: A caption wrapped to the figure takes at most this share of its width (an assumption: a margin for the
#: renderer's rounding and the layout's padding), and lines of no fewer than this many characters.
FIT_SHARE = 0.94
MIN_WRAP_CHARS = 24
#: Sequential colours of the heatmap's metric: purples, none near a constraint's colour (the map beside it uses those).
_HEAT_CMAP = "Purples"


def binding_colormap() -> tuple[Any, Any]:
    """(colormap, norm) of a binding-constraint map: each code of ``BINDING_NAMES`` (0 demand … 3 cooling) in its
    :data:`CONSTRAINT_COLORS` colour, a masked cell white. The sweep's heatmap and the phase diagram
    (:func:`dcsim.phase.plot_phase`) draw with it."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    cm = ListedColormap([CONSTRAINT_COLORS[n] for n in BINDING_NAMES]).with_extremes(bad="white")
    return cm, BoundaryNorm(np.arange(len(BINDING_NAMES) + 1) - 0.5, cm.N)


class NoSweepFigure(ValueError):
    """The sweep has nothing a figure can show; the message says why (``dcsim sweep`` prints it)."""


# --------------------------------------------------------------------------- rows → numbers

def _num(v: Any) -> float:
    if isinstance(v, bool) or v is None:
        return math.nan
    if isinstance(v, (int, float)):
        return float(v)
    return math.nan


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _failed(r: Mapping) -> bool:
    """The preflight refused the point: its ``error`` is a reason (None, or NaN in a table read back, is not)."""
    e = r.get("error")
    return isinstance(e, str) and bool(e.strip())


def axis_unit(info: Mapping[str, Any] | None, values: Sequence[float]) -> tuple[str, float]:
    """(display unit, SI → display factor) of a swept parameter: the unit the sweep file wrote (``[300 kW, 600 kW]``)
    when it is one of the field's dimension, else the largest unit of the dimension not above the largest value
    (:func:`dcsim.units.display_unit`, as ``format_quantity`` picks); ``("", 1.0)`` for a count or a field without a
    dimension."""
    info = info or {}
    dim, unit = info.get("dim"), info.get("unit")
    if dim == "temperature":
        return "°C", 1.0
    if dim == "fraction":
        return ("%", 100.0) if unit == "%" else ("", 1.0)
    table = DIMENSIONS.get(dim or "", {})
    if unit and unit in table and table[unit] > 0:
        return unit, 1.0 / table[unit]
    if not table or dim == "count":
        return "", 1.0
    if dim == "rate":
        return "req/s", 1.0
    big = max((abs(v) for v in values if math.isfinite(v)), default=0.0)
    best, per = display_unit(big, dim)  # the unit format_quantity would write the largest value in
    return best, 1.0 / per


def _label(path: str, info: Mapping[str, Any] | None, unit: str) -> str:
    name = (info or {}).get("name") or path
    u = f" ({unit})" if unit else ""
    return f"{name}{u}" if name == path else f"{name}{u}\n{path}"


class _Axis:
    """One swept parameter: its values per row in display units (numeric) or category positions, ticks and label."""

    def __init__(self, path: str, rows: Sequence[Mapping], info: Mapping[str, Any] | None):
        self.path, self.info = path, dict(info or {})
        raw = [r.get(path) for r in rows]
        self.numeric = all(_is_num(v) for v in raw)
        if self.numeric:
            si = [float(v) for v in raw]
            self.unit, k = axis_unit(self.info, si)
            self.x = np.asarray(si) * k
            self.levels = sorted(set(self.x.tolist()))
            self.ticklabels = [f"{v:.4g}" for v in self.levels]
        else:
            self.unit = ""
            keys = [str(v) for v in raw]
            self.levels_raw = list(dict.fromkeys(keys))  # first appearance: the sweep file's order
            pos = {k_: i for i, k_ in enumerate(self.levels_raw)}
            self.x = np.asarray([pos[k_] for k_ in keys], dtype=float)
            self.levels = list(range(len(self.levels_raw)))
            # a mapping value is its JSON: cut long ones so labels do not run into each other
            self.ticklabels = [k_ if len(k_) <= MAX_TICK_CHARS else k_[:MAX_TICK_CHARS - 1] + "…"
                               for k_ in self.levels_raw]
        self.log = bool(self.info.get("log")) and self.numeric and min(self.levels, default=0) > 0
        self.label = _label(path, self.info, self.unit)

    def index(self) -> np.ndarray:
        """Each row's level index."""
        pos = {v: i for i, v in enumerate(self.levels)}
        return np.asarray([pos[v] for v in self.x.tolist()], dtype=int)

    def set(self, ax: Any, which: str = "x", max_ticks: int = 12, log: bool | None = None) -> None:
        """Label the axis and set its ticks; ``log`` False for coordinates that are cell indices (a heatmap), where
        a log scale lost its first column (limits from -0.5)."""
        axis = ax.xaxis if which == "x" else ax.yaxis
        (ax.set_xlabel if which == "x" else ax.set_ylabel)(self.label)
        if self.log if log is None else log:
            (ax.set_xscale if which == "x" else ax.set_yscale)("log")
        if not self.numeric or len(self.levels) <= max_ticks:
            axis.set_major_locator(FixedLocator(self.levels))
            axis.set_major_formatter(_Fixed(self.levels, self.ticklabels))
            axis.set_minor_locator(NullLocator())
            if not self.numeric and which == "x" and max((len(t) for t in self.ticklabels), default=0) > 8:
                for t in ax.get_xticklabels():
                    t.set_rotation(20)
                    t.set_ha("right")


class _Fixed:
    """Tick formatter naming each level (matplotlib's FixedFormatter needs its locator's order; this does not)."""

    def __init__(self, levels, labels):
        self.map = {float(v): lab for v, lab in zip(levels, labels)}

    def __call__(self, x, pos=None):
        return self.map.get(float(x), "")


def _binding_code(name: Any) -> int:
    return BINDING_NAMES.index(name) if isinstance(name, str) and name in BINDING_NAMES else -1


def _has(rows: Sequence[Mapping], key: str) -> bool:
    return any(_is_num(r.get(key)) for r in rows)


def _headline(rows: Sequence[Mapping], metric: str | None, params: Sequence[str] = ()) -> str:
    if metric is not None:
        if not any(metric in r for r in rows):
            raise NoSweepFigure(f"metric {metric!r} is not a column of the sweep's rows")
        return metric
    if any(HEADLINE in r for r in rows):
        return HEADLINE
    skip = {"point", "scenario_hash", "seed", "wall_s", "cached", "error", *params}
    for k in (rows[0] if rows else {}):
        if k not in skip and any(_is_num(r.get(k)) for r in rows) and not k.startswith("binding.share"):
            return k
    raise NoSweepFigure(f"the sweep's metrics hold no number to draw (not {HEADLINE}, nor any other); "
                        "add throughput_tok_s.output to metrics:")


def _metric_label(key: str) -> tuple[str, bool]:
    """(axis label, token rate?) of a metric column."""
    if key == HEADLINE:
        return "served output (tok/s, mean over the run)", True
    if key == GOODPUT:
        return "SLO-meeting output (tok/s)", True
    if key.startswith("joules_per_output_token."):
        return f"J per output token ({key.rsplit('.', 1)[1]})", False
    if key.endswith("_tok_s") or key.startswith("throughput_tok_s."):
        return f"{key} (tok/s)", True
    if key.endswith("_w") or key.startswith("peak_power_w"):
        return f"{key} (W)", True
    return key, False


def sweep_figure_kind(rows: Sequence[Mapping], parameters: Sequence[str], mode: str = "grid") -> str:
    """``"line"``, ``"heatmap"`` or ``"scatter"`` (module docstring); :class:`NoSweepFigure` when nothing is swept."""
    if not rows:
        raise NoSweepFigure("the sweep has no points")
    if not parameters:
        raise NoSweepFigure("no parameter is swept (only seeds): nothing to draw against; results.csv has the spread "
                            "over seeds")
    if mode in ("random", "lhs") or len(parameters) > 2 or (len(parameters) == 2 and mode == "list"):
        return "scatter"
    return "line" if len(parameters) == 1 else "heatmap"


def _meta(rows: Any, parameters: Any, mode: str | None, name: str | None) -> tuple[dict, str, str]:
    if parameters is None:
        parameters = getattr(rows, "parameters", None)
        if parameters is None:
            raise NoSweepFigure("which columns were swept is not known: pass parameters=[...] (the rows of "
                                "dcsim.sweep.run_sweep carry them)")
    if not isinstance(parameters, Mapping):
        parameters = {p: {} for p in parameters}
    return (dict(parameters), mode or getattr(rows, "mode", None) or "grid",
            name or getattr(rows, "name", None) or "sweep")


@_styled
def sweep_figure(rows: Sequence[Mapping], parameters: Mapping[str, Mapping] | Sequence[str] | None = None, *,
                 mode: str | None = None, metric: str | None = None, title: str | None = None) -> Figure:
    """The figure that suits the sweep (module docstring) from its rows.

    ``rows``: the rows of :func:`dcsim.sweep.run_sweep` (which carry ``parameters``, ``mode`` and ``name``; with
    plain dicts pass them). ``parameters``: the swept columns, or a mapping column → ``{"name", "dim", "unit",
    "log"}`` (display name, dimension in :data:`dcsim.units.DIMENSIONS`, the unit the sweep file wrote, log spacing).
    ``metric``: the column a scatter or heatmap shows (default ``throughput_tok_s.output``, else the first numeric
    metric). Raises :class:`NoSweepFigure` (a ``ValueError``) with the reason when there is nothing to draw."""
    params, mode_, name = _meta(rows, parameters, mode, title)
    rows = list(rows)
    kind = sweep_figure_kind(rows, list(params), mode_)
    key = _headline(rows, metric, list(params))
    seeds = len({r.get("seed") for r in rows}) > 1 and "seed" in rows[0]
    head = title or f"Sweep {name}"
    if kind == "line":
        return _line(rows, params, key, head, seeds)
    if kind == "heatmap":
        return _heatmap(rows, params, key, head, seeds)
    return _scatter(rows, params, key, head, mode_)


# --------------------------------------------------------------------------- one axis

def _groups(ax_: _Axis, rows: Sequence[Mapping]) -> list[list[int]]:
    idx = ax_.index()
    return [list(np.flatnonzero(idx == i)) for i in range(len(ax_.levels))]


def _mean(rows: Sequence[Mapping], ids: Sequence[int], key: str) -> float:
    v = [_num(rows[i].get(key)) for i in ids if not _failed(rows[i])]
    v = [x for x in v if math.isfinite(x)]
    return float(np.mean(v)) if v else math.nan


def _holds(row: Mapping) -> tuple[int, float]:
    """(code, share of the run) of what binds most of a point's run (:func:`dcsim.tpf.binding_that_holds` on its
    shares: a limit where the limits together outlast demand, with the share some limit binds); (-1, nan), a white
    marker, without its ``binding.holds`` or its shares. Until the code review of session 52 a row without either took
    its ``binding.most_common``, the plurality the rule replaced, and coloured the marker as if the rule said so."""
    if _failed(row):
        return -1, math.nan
    if row.get(HOLDS) in BINDING_NAMES:  # the row's own column (dcsim.sweep.headline_columns: the same rule)
        return _binding_code(row[HOLDS]), _num(row.get(f"{HOLDS}_share"))
    sh = {n: _num(row.get(k)) for n, k in zip(BINDING_NAMES, SHARES) if _is_num(row.get(k))}
    if sh:
        name, share = binding_that_holds(sh)
        return _binding_code(name), share
    return -1, math.nan


def _holds_label(code: int) -> str:
    """A marker's legend entry: what binds most of the run."""
    name = BINDING_NAMES[code]
    return ("demand binds most of the run" if name == "demand"
            else f"a limit binds most of the run, longest: {name}")


def _band_key(key: str) -> str | None:
    """The band column of a drawn figure: tok/s for a token rate, J/token for the facility's J/token."""
    return {HEADLINE: BAND_TOK, GOODPUT: BAND_TOK, DEMAND: None, JPT[0][0]: BAND_JPT}.get(key)


def _band_pct(rows: Sequence[Mapping], ids: Sequence[int], col: str | None) -> float:
    """The widest band (%) over a level's points (seeds) in column ``col``; nan where none carries one."""
    v = [_num(rows[i].get(col)) for i in ids if col and not _failed(rows[i])]
    v = [x for x in v if math.isfinite(x) and x > 0]
    return max(v) if v else math.nan


def _within_share(rows: Sequence[Mapping], ids: Sequence[int]) -> float:
    """The mean :data:`WITHIN` share over a level's points (seeds) that ran; nan where none has it."""
    v = [_num(rows[i].get(WITHIN)) for i in ids if not _failed(rows[i])]
    v = [x for x in v if math.isfinite(x)]
    return float(np.mean(v)) if v else math.nan


def _within_handle() -> Patch:
    return Patch(facecolor="none", edgecolor="#222222", hatch=WITHIN_HATCH, linewidth=0.6,
                 label="another limit could bind within\nthe run's band (binding.within_band)")


def _band_handle(rows: Sequence[Mapping], what: str = "error bars are\nthe run's band",
                 edge: str = "#222222", hatched: bool = False) -> Line2D | Patch | None:
    """The legend entry of the banded points: their calibration status (distinct words, :func:`unique_words`), what
    the mark shows (``what``) and the widest bands (``≥±`` for a lower bound); the swatch is the points' marker (a
    white :data:`BAND_MARKER` edged ``edge``, the points' binding colour where they share one) or, ``hatched``, a
    heatmap cell's hatch. None when every point is calibrated in-sample."""
    banded = [r for r in rows if any(math.isfinite(_band_pct([r], [0], c)) for c in (BAND_TOK, BAND_JPT))]
    if not banded:
        return None
    widest = {q: _band_pct(banded, range(len(banded)), c) for q, c in (("tok_s_pct", BAND_TOK),
                                                                         ("j_per_tok_pct", BAND_JPT))}
    band = fmt_band({q: (v if math.isfinite(v) else None) for q, v in widest.items()},
                    any(str(r.get(BAND_LOWER)).lower() in ("true", "1", "1.0") for r in banded))
    statuses = unique_words(r.get(STATUS) or "not calibrated in-sample" for r in banded)
    if hatched:
        return Patch(facecolor="white", edgecolor="#222222", hatch=BAND_HATCH,
                     label=f"{statuses} (hatched): {what}, up to {band}")
    return Line2D([], [], ls="none", marker=BAND_MARKER, ms=8, mfc="white", mec=edge, mew=2.0,
                  label=f"{statuses} (white diamond): {what}, up to {band}")


def _no_band(rows: Sequence[Mapping], ids: Sequence[int]) -> bool:
    """Whether any of a cell's points is extrapolated (its calibration status says so) with no band stated."""
    return any("extrapolated" in str(rows[i].get(STATUS) or "")
               and not math.isfinite(_band_pct(rows, [i], BAND_TOK)) and not math.isfinite(_band_pct(rows, [i], BAND_JPT))
               for i in ids)


def _no_band_handle(rows: Sequence[Mapping], ids: Sequence[int]) -> Patch:
    statuses = unique_words(str(rows[i].get(STATUS)) for i in ids
                            if "extrapolated" in str(rows[i].get(STATUS) or ""))
    return Patch(facecolor="white", edgecolor="#222222", hatch=NO_BAND_HATCH,
                 label=f"{statuses} (dotted): no error\nband measured there (results.csv)")


def _draw_dotted(ax: Any, x: np.ndarray, y: np.ndarray, sel: np.ndarray, colors: Sequence[str],
                 marker_s: float) -> None:
    """The points run beyond their measurements with no band there (:func:`_no_band`): a white marker dotted and
    edged in its binding's colour (dark grey without one), as a banded point is a white diamond so edged: the dots
    over a filled marker could not be seen."""
    if not sel.any():
        return
    edge = [c if c != "#FFFFFF" else "#222222" for c, s in zip(colors, sel) if s]
    ax.scatter(x[sel], y[sel], s=marker_s * 1.3, facecolors="white", edgecolors=edge, linewidths=1.8,
               hatch=NO_BAND_HATCH * 2, zorder=4.5)


def _band_edge(colors: Sequence[str], pct: np.ndarray) -> str:
    """The legend swatch's edge: the banded points' binding colour where they share one, else dark grey."""
    edges = {c for c, p in zip(colors, pct) if math.isfinite(p)}
    return edges.pop() if len(edges) == 1 else "#222222"


def _draw_bands(ax: Any, x: np.ndarray, y: np.ndarray, pct: np.ndarray, marker_s: float = 70.0,
                colors: Sequence[str] | None = None, offset_pt: float = 0.0) -> None:
    """The points that carry a band: error bars of ``pct`` %, shifted ``offset_pt`` points right of the point where
    it is not 0, and the point drawn again as a white :data:`BAND_MARKER` edged in its colour (``colors``, its
    binding's; dark grey without), so that a banded point reads apart from a measured one at a glance."""
    sel = np.isfinite(y) & np.isfinite(pct)
    if not sel.any():
        return
    trans = ax.transData
    if offset_pt:
        from matplotlib.transforms import ScaledTranslation

        trans = trans + ScaledTranslation(offset_pt / 72.0, 0.0, ax.figure.dpi_scale_trans)
    ax.errorbar(x[sel], y[sel], yerr=np.abs(y[sel]) * pct[sel] / 100.0, fmt="none", ecolor="#222222",
                elinewidth=1.1, capsize=4, zorder=3.5, transform=trans)
    edge = [c for c, s in zip(colors, sel) if s] if colors is not None else "#222222"
    ax.scatter(x[sel], y[sel], s=marker_s, marker=BAND_MARKER, facecolors="white", edgecolors=edge,
               linewidths=2.0, zorder=4.5)


def _most(rows: Sequence[Mapping], ids: Sequence[int]) -> int:
    """What binds most of the run (:func:`_holds`), by majority over a level's points (seeds); -1 without one."""
    codes = [_holds(rows[i])[0] for i in ids]
    codes = [c for c in codes if c >= 0]
    if not codes:
        return -1
    return max(set(codes), key=lambda c: (codes.count(c), -c))


def _mark_missing(ax: Any, x: Sequence[float], failed: Sequence[int], novalue: Sequence[int], total: Sequence[int],
                  which: str = "x") -> None:
    """Refused points (✕) and points without a value (○) on the bottom edge of ``ax`` at their x."""
    tr = ax.get_xaxis_transform()
    xf = [xi for xi, f in zip(x, failed) if f]
    xn = [xi for xi, f, nv in zip(x, failed, novalue) if nv and not f]
    if xf:
        ax.plot(xf, [0.0] * len(xf), transform=tr, clip_on=False, zorder=6, **FAILED_STYLE)
        for xi, f, n in zip(x, failed, total):
            if f and n > 1:
                ax.annotate(f"{f}/{n}", (xi, 0.0), xycoords=tr, xytext=(0, 9), textcoords="offset points",
                            ha="center", fontsize=8)
    if xn:
        ax.plot(xn, [0.0] * len(xn), transform=tr, clip_on=False, zorder=6, **NOVALUE_STYLE)


def _bar_edges(ax_: _Axis) -> tuple[np.ndarray, np.ndarray]:
    """Left edges and widths of one bar per level, 80 % of the gap to the neighbours (in log space on a log axis)."""
    v = np.asarray(ax_.levels, dtype=float)
    t = np.log10(v) if ax_.log else v
    if t.size == 1:
        half = np.array([0.4 if not ax_.numeric else max(0.05 * abs(t[0]), 0.4)])
        lo, hi = t - half, t + half
    else:
        mid = 0.5 * (t[1:] + t[:-1])
        lo = np.concatenate([[t[0] - (mid[0] - t[0])], mid])
        hi = np.concatenate([mid, [t[-1] + (t[-1] - mid[-1])]])
        lo, hi = t - 0.8 * (t - lo), t + 0.8 * (hi - t)
    if ax_.log:
        lo, hi = 10.0 ** lo, 10.0 ** hi
    return lo, hi - lo


def _line(rows, params, key, head, seeds) -> Figure:
    path = next(iter(params))
    ax_ = _Axis(path, rows, params[path])
    groups = _groups(ax_, rows)
    xs = np.asarray(ax_.levels, dtype=float)
    failed = [sum(_failed(rows[i]) for i in g) for g in groups]
    total = [len(g) for g in groups]
    y = np.asarray([_mean(rows, g, key) for g in groups])
    novalue = [int(not math.isfinite(v)) for v in y]
    most = [_most(rows, g) for g in groups]
    has_jpt = [k for k, _, _ in JPT if _has(rows, k)]
    has_shares = any(_has(rows, k) for k in SHARES)
    n_panels = 1 + bool(has_jpt) + has_shares
    fig = new_figure(10.5, 2.2 + 2.6 * n_panels)
    axs = np.atleast_1d(fig.subplots(n_panels, 1, sharex=True,
                                     height_ratios=[1.4] + [1.0] * (n_panels - 1)))
    ax = axs[0]
    ylab, rate = _metric_label(key)
    handles: list = []
    joined = ax_.numeric  # categories are not a continuum: markers, no lines between them
    tops: list[np.ndarray] = [y]
    if key == HEADLINE and _has(rows, DEMAND):
        d = np.asarray([_mean(rows, g, DEMAND) for g in groups])
        ax.plot(xs, d, color="#444444", ls="--" if joined else "none", lw=1.4, marker=None if joined else "_",
                ms=30, mew=1.6)
        handles.append(Line2D([], [], color="#444444", ls="--", lw=1.4, label="demand (output tok/s offered)"))
        tops.append(d)
    if seeds:  # each seed's value, behind the mean
        for g, x in zip(groups, xs):
            v = [_num(rows[i].get(key)) for i in g if not _failed(rows[i])]
            ax.plot([x] * len(v), v, ls="none", marker=".", color="#999999", ms=5, zorder=2)
    handles += ax.plot(xs, y, color=ACHIEVED_COLOR, lw=1.6, zorder=3, ls="-" if joined else "none",
                       marker=None if joined else "o", ms=9, mfc="none",
                       label=ylab.split(" (")[0] + (" (mean over seeds; dots: each seed)" if seeds else ""))
    if key == HEADLINE and _has(rows, GOODPUT):
        gp = np.asarray([_mean(rows, g, GOODPUT) for g in groups])
        handles += ax.plot(xs, gp, color=RUN_COLORS[0], ls=":" if joined else "none", lw=1.8, marker="." if joined
                           else "v", label="met SLO (goodput)")  # not a diamond: a banded point is one
    colors = [CONSTRAINT_COLORS[BINDING_NAMES[c]] if c >= 0 else "#FFFFFF" for c in most]
    ok = np.isfinite(y)
    band = np.asarray([_band_pct(rows, g, _band_key(key)) for g in groups])
    plain = ok & ~np.isfinite(band)  # a banded point is drawn as its own marker (_draw_bands)
    dotted = plain & np.asarray([_no_band(rows, g) for g in groups], dtype=bool)  # beyond its measurements, no band
    ax.scatter(xs[plain & ~dotted], y[plain & ~dotted], c=[c for c, o in zip(colors, plain & ~dotted) if o], s=70,
               edgecolors="#222222", linewidths=0.9, zorder=4)
    _draw_dotted(ax, xs, y, dotted, colors, 70.0)
    _draw_bands(ax, xs, y, band, colors=colors)
    tops.append(np.where(np.isfinite(band), y * (1 + band / 100.0), np.nan))
    if rate:
        ax.yaxis.set_major_formatter(EngFormatter(sep=""))
    drawn = np.concatenate([np.asarray(ln.get_ydata(), dtype=float) for ln in handles] + tops)
    top = float(np.nanmax(drawn)) if np.isfinite(drawn).any() else 1.0
    ax.set_ylim(0, top * 1.12 if top > 0 else 1.0)
    ax.set_ylabel(ylab.replace(" (tok/s, mean over the run)", "\n(tok/s, run mean)"))
    present = sorted({c for c, o in zip(most, ok) if c >= 0 and o})
    for c in present:
        handles.append(Line2D([], [], ls="none", marker="o", ms=8, mfc=CONSTRAINT_COLORS[BINDING_NAMES[c]],
                              mec="#222222", label=_holds_label(c)))
    bh = _band_handle(rows, edge=_band_edge(colors, band))
    if bh is not None:
        handles.append(bh)
    if dotted.any():
        handles.append(_no_band_handle(rows, [i for g, d in zip(groups, dotted) if d for i in g]))
    _legend_missing(handles, failed, novalue, total)
    _mark_missing(ax, xs, failed, novalue, total)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    i = 1
    if has_jpt:
        axj = axs[i]
        i += 1
        for k, lab, col in JPT:
            if k in has_jpt:
                v = np.asarray([_mean(rows, g, k) for g in groups])
                axj.plot(xs, v, color=col, lw=2.0 if lab == "facility" else 1.4, marker="o", ms=4 if joined else 7,
                         ls="-" if joined else "none", label=lab)
                if lab == "facility":  # the band the run's headline prints is the facility J/token's; its bar right
                    # of the point, clear of the IT marker below it
                    jpct = np.asarray([_band_pct(rows, g, BAND_JPT) for g in groups])
                    _draw_bands(axj, xs, v, jpct, 64.0, colors=[col] * len(xs), offset_pt=JPT_BAR_OFFSET_PT)
                    jtop = np.where(np.isfinite(jpct), v * (1 + np.where(np.isfinite(jpct), jpct, 0.0) / 100.0), v)
                    if np.isfinite(jtop).any():  # the error bars inside the axes
                        axj.set_ylim(top=max(axj.get_ylim()[1], float(np.nanmax(jtop)) * 1.08))
        axj.set_ylim(bottom=0)
        axj.set_ylabel("energy per output\ntoken (J/token)")
        axj.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="J per output token at")
        _mark_missing(axj, xs, failed, [0] * len(xs), total)
    if has_shares:
        axb = axs[i]
        lefts, widths = _bar_edges(ax_)
        bottom = np.zeros(len(groups))
        for n in BINDING_NAMES:
            s = np.asarray([_mean(rows, g, f"binding.share.{n}") for g in groups])
            s = np.where(np.isfinite(s), s, 0.0) * 100.0
            if np.any(s > 0):
                axb.bar(lefts, s, width=widths, bottom=bottom, align="edge", color=CONSTRAINT_COLORS[n],
                        linewidth=0, label=n)
            bottom += s
        within = np.asarray([_within_share(rows, g) for g in groups])
        marked = np.isfinite(within) & (within >= WITHIN_BAND_MIN_SHARE)
        if marked.any():  # over the limits' part of the bar, as high as the share on which another could bind
            dem = np.asarray([_mean(rows, g, "binding.share.demand") for g in groups])
            dem = np.where(np.isfinite(dem), dem, 0.0) * 100.0
            axb.bar(lefts[marked], within[marked] * 100.0, width=widths[marked], bottom=dem[marked], align="edge",
                    color="none", edgecolor="#222222", hatch=WITHIN_HATCH, linewidth=0.6,
                    label=_within_handle().get_label())
        if any(failed):
            fl = [j for j, (f, n) in enumerate(zip(failed, total)) if f == n]
            if fl:
                axb.bar(lefts[fl], [100.0] * len(fl), width=widths[fl], align="edge", color="white",
                        edgecolor="#555555", hatch="xx", linewidth=0.6, label="refused (not run)")
        axb.set_ylim(0, 100)
        axb.set_ylabel("share of the run\nit binds (%)")
        axb.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="constraint")
        axb.grid(False, axis="x")
    ax_.set(axs[-1], "x")
    for a in axs[:-1]:
        a.set_xlabel("")
    n = len(rows)
    nf = sum(failed)
    fig.suptitle(f"{head}: {ax_.label.splitlines()[0]} — {n} points"
                 + (f", {nf} refused by the preflight" if nf else ""), fontweight="bold", fontsize=13)
    return fig


def _legend_missing(handles: list, failed: Sequence[int], novalue: Sequence[int], total: Sequence[int]) -> None:
    nf = sum(failed)
    if nf:
        handles.append(Line2D([], [], **FAILED_STYLE,
                              label=f"refused by the preflight ({nf} point{'s' if nf > 1 else ''}; "
                                    "reason in results.csv, error)"))
    nv = sum(1 for f, v in zip(failed, novalue) if v and not f)
    if nv:
        handles.append(Line2D([], [], **NOVALUE_STYLE, label=f"ran, no value of this figure ({nv})"))


# --------------------------------------------------------------------------- two axes

def _cell_edges(n: int) -> np.ndarray:
    return np.arange(n + 1) - 0.5


@_styled
def _heatmap(rows, params, key, head, seeds) -> Figure:
    px, py = list(params)[:2]
    ax_x, ax_y = _Axis(px, rows, params[px]), _Axis(py, rows, params[py])
    ix, iy = ax_x.index(), ax_y.index()
    nx, ny = len(ax_x.levels), len(ax_y.levels)
    cells: dict[tuple[int, int], list[int]] = {}
    for r_, (a, b) in enumerate(zip(ix, iy)):
        cells.setdefault((int(b), int(a)), []).append(r_)
    z = np.full((ny, nx), np.nan)
    jf = np.full((ny, nx), np.nan)
    code = np.full((ny, nx), -1)
    share = np.full((ny, nx), np.nan)
    nfail = np.zeros((ny, nx), dtype=int)
    ntot = np.zeros((ny, nx), dtype=int)
    for (b, a), ids in cells.items():
        z[b, a] = _mean(rows, ids, key)
        jf[b, a] = _mean(rows, ids, JPT[0][0])
        c = _most(rows, ids)
        code[b, a] = c
        if c >= 0:  # the share of the run the cell's holder binds, over the points (seeds) it holds
            held = [h for h in (_holds(rows[i]) for i in ids) if h[0] == c and math.isfinite(h[1])]
            share[b, a] = float(np.mean([h[1] for h in held])) if held else math.nan
        nfail[b, a] = sum(_failed(rows[i]) for i in ids)
        ntot[b, a] = len(ids)
    has_bind = bool((code >= 0).any())
    labelled = nx <= MAX_LABELLED_SIDE and ny <= MAX_LABELLED_SIDE
    w = max(5.2, min(6.8, 0.7 * nx + 2.4))
    fig = new_figure(2 * w + 1.8 if has_bind else w + 1.2, max(4.6, min(8.0, 0.5 * ny + 3.0)))
    axs = np.atleast_1d(fig.subplots(1, 2 if has_bind else 1))
    from matplotlib.colors import ListedColormap

    base = _cmap(_HEAT_CMAP)
    cmap = ListedColormap(base(np.linspace(0.12, 0.95, 256))).with_extremes(bad="white")
    ax = axs[0]
    ex, ey = _cell_edges(nx), _cell_edges(ny)
    zm = np.ma.masked_invalid(z)
    mesh = ax.pcolormesh(ex, ey, zm, cmap=cmap, shading="flat")
    ylab, rate = _metric_label(key)
    cb = fig.colorbar(mesh, ax=ax, pad=0.02, shrink=0.9)
    cb.set_label(ylab)
    if rate:
        cb.formatter = EngFormatter(sep="")
        cb.update_ticks()
    finite = z[np.isfinite(z)]
    mid = 0.5 * (float(finite.min()) + float(finite.max())) if finite.size else 0.0
    fmt = EngFormatter(places=1, sep="") if rate else (lambda v: f"{v:.3g}")
    banded = {(b, a) for (b, a), ids in cells.items()
              if math.isfinite(_band_pct(rows, ids, BAND_TOK)) or math.isfinite(_band_pct(rows, ids, BAND_JPT))}
    for (b, a), ids in cells.items():
        if labelled and np.isfinite(z[b, a]):
            txt = fmt(z[b, a]) + (f"\n{jf[b, a]:.3g} J/tok" if key == HEADLINE and np.isfinite(jf[b, a]) else "")
            hi = finite.size and z[b, a] > mid and finite.max() > finite.min()
            ax.text(a, b, txt, ha="center", va="center", fontsize=8.5 if nx <= 8 else 7,
                    color="white" if hi else "#222222", zorder=3,
                    bbox=_over_hatch(mesh.cmap(mesh.norm(z[b, a])))
                    if (b, a) in banded or _no_band(rows, ids) else None)
    missing_handles: list = []
    for a_ in axs[:2 if has_bind else 1]:
        _hatch_failed(a_, nfail, ntot, labelled)
    from matplotlib.patches import Rectangle

    for b, a in banded:  # a cell whose points carry a calibration band: hatched (its band: results.csv)
        ax.add_patch(Rectangle((a - 0.5, b - 0.5), 1, 1, facecolor="none", edgecolor="#222222",
                               hatch=BAND_HATCH, lw=0.0, zorder=2.5))
    within_cells = [(b, a) for (b, a), ids in cells.items() if _within_share(rows, ids) >= WITHIN_BAND_MIN_SHARE]
    if has_bind:  # the binding cell: hatched where another limit could bind within the band, not by the tok/s band
        for b, a in within_cells:
            axs[1].add_patch(Rectangle((a - 0.5, b - 0.5), 1, 1, facecolor="none", edgecolor="#222222",
                                       hatch=WITHIN_HATCH, lw=0.0, zorder=2.5))
        if within_cells:
            missing_handles.append(_within_handle())
    bh = _band_handle(rows, what="its band\n(results.csv)", hatched=True)
    if bh is not None:
        missing_handles.append(bh)
    unbanded = [(b, a) for (b, a), ids in cells.items() if (b, a) not in banded and _no_band(rows, ids)]
    for b, a in unbanded:  # beyond its measurements with no band there: dotted, on the binding map too (what binds
        for a_ in axs[:2 if has_bind else 1]:  # there rests on the same unmeasured figures)
            a_.add_patch(Rectangle((a - 0.5, b - 0.5), 1, 1, facecolor="none", edgecolor="#222222",
                                   hatch=NO_BAND_HATCH, lw=0.0, zorder=2.5))
    if unbanded:
        missing_handles.append(_no_band_handle(rows, [i for c in unbanded for i in cells[c]]))
    if nfail.any():
        nf = int(nfail.sum())
        missing_handles.append(Patch(facecolor="white", edgecolor="#555555", hatch="xx",
                                     label=f"refused by the preflight ({nf}; why: results.csv, error)"))
    novalue = int(sum(1 for (b, a) in cells if not np.isfinite(z[b, a]) and nfail[b, a] < ntot[b, a]))
    if novalue:
        missing_handles.append(Patch(facecolor="white", edgecolor="#222222",
                                     label=f"ran, no value of this figure ({novalue} cell{'s' if novalue > 1 else ''})"))
    for a_ in axs:
        ax_x.set(a_, "x", max_ticks=10 ** 6, log=False)  # cells at their indices: a log scale would clip -0.5
        ax_y.set(a_, "y", max_ticks=10 ** 6, log=False)
        a_.set_xlim(ex[0], ex[-1])
        a_.set_ylim(ey[0], ey[-1])
        a_.grid(False)
        _thin_ticks(a_, ax_x, ax_y)
    ax.set_title(ylab.split(" (")[0] + (" (mean over seeds)" if seeds else ""), fontsize=11)
    if has_bind:
        axb = axs[1]
        cm, norm = binding_colormap()
        axb.pcolormesh(ex, ey, np.ma.masked_less(code, 0), cmap=cm, shading="flat", norm=norm)
        if labelled:
            for (b, a) in cells:
                if code[b, a] >= 0 and np.isfinite(share[b, a]):
                    axb.text(a, b, f"{100 * share[b, a]:.0f}%", ha="center", va="center",
                             fontsize=8.5 if nx <= 8 else 7, color="white" if code[b, a] in (1, 2) else "#111111",
                             zorder=3, bbox=_over_hatch(CONSTRAINT_COLORS[BINDING_NAMES[code[b, a]]])
                             if (b, a) in within_cells or (b, a) in unbanded else None)
        present = [n for k_, n in enumerate(BINDING_NAMES) if np.any(code == k_)]
        handles = [Patch(color=CONSTRAINT_COLORS[n], label=n) for n in present]
        # below the figure (constrained layout makes room): inside the map it would cover cells
        leg = fig.legend(handles=handles + missing_handles, loc="outside lower center", frameon=False,
                         ncol=min(6, len(handles) + len(missing_handles)))
        # the only key saying what a cell's number means: wrapped to the figure's width (one line was cut at both
        # edges at every width the heatmap takes, 12.2-15.4 in)
        leg.set_title(BINDING_MAP_CAPTION + (BINDING_MAP_NUMBER if labelled else ""))
        wrap_to_figure(fig, leg.get_title())
        axb.set_title("what binds most of the run", fontsize=11)
    elif missing_handles:
        fig.legend(handles=missing_handles, loc="outside lower center", frameon=False, ncol=2)
    n, nf = len(rows), int(nfail.sum())
    fig.suptitle(f"{head}: {ax_x.label.splitlines()[0]} × {ax_y.label.splitlines()[0]} — {n} points"
                 + (f", {nf} refused by the preflight" if nf else ""), fontweight="bold", fontsize=13)
    return fig


def wrap_to_figure(fig: Figure, text: Any, share: float = FIT_SHARE) -> None:
    """Break a text artist's text between words so that its widest line takes at most ``share`` of the figure's
    width (measured with the figure's renderer at its own dpi; a width ratio, so the same in the saved PNG); the line
    breaks it has are kept."""
    import textwrap

    paras = [" ".join(p.split()) for p in text.get_text().split("\n")]  # its own line breaks kept
    avail = share * fig.bbox.width
    renderer = fig.canvas.get_renderer()
    # a first guess from the font size (an average glyph ~0.5 em), then narrower until the measured lines fit
    width = max(MIN_WRAP_CHARS, int(avail / (0.5 * text.get_fontsize() * fig.dpi / 72.0)))
    while True:
        text.set_text("\n".join(ln for p in paras for ln in (textwrap.wrap(p, width, break_long_words=False) or [""])))
        if width <= MIN_WRAP_CHARS or text.get_window_extent(renderer).width <= avail:
            return
        width = max(MIN_WRAP_CHARS, int(width * 0.9))


def _cmap(name: str):
    import matplotlib

    return matplotlib.colormaps[name]


def _thin_ticks(ax: Any, ax_x: _Axis, ax_y: _Axis) -> None:
    """Cell-centre ticks, every k-th when there are more than 12 (labels would run together)."""
    for a_, axis, set_ticks in ((ax_x, ax.xaxis, ax.set_xticks), (ax_y, ax.yaxis, ax.set_yticks)):
        n = len(a_.levels)
        step = max(1, math.ceil(n / 12))
        idx = list(range(0, n, step))
        set_ticks(idx, [a_.ticklabels[i] for i in idx])
        axis.set_minor_locator(NullLocator())
    if any(len(t) > 6 for t in ax_x.ticklabels) and len(ax_x.levels) > 4:
        for t in ax.get_xticklabels():
            t.set_rotation(30)
            t.set_ha("right")


def _over_hatch(color: Any) -> dict:
    """A text box in the cell's own colour, so that a hatched cell's hatch runs around its numbers, not through them."""
    return {"boxstyle": "round,pad=0.25", "facecolor": color, "edgecolor": "none"}


def _hatch_failed(ax: Any, nfail: np.ndarray, ntot: np.ndarray, labelled: bool) -> None:
    from matplotlib.patches import Rectangle

    for b, a in zip(*np.nonzero(nfail)):
        whole = nfail[b, a] == ntot[b, a]
        ax.add_patch(Rectangle((a - 0.5, b - 0.5), 1, 1, facecolor="white" if whole else "none", edgecolor="#555555",
                               hatch="xx", lw=0.6, zorder=3))
        if labelled:
            ax.text(a, b, "refused" if whole else f"{nfail[b, a]}/{ntot[b, a]} refused", ha="center",
                    va="bottom" if not whole else "center", fontsize=7.5, color="#111111", zorder=4,
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})


# --------------------------------------------------------------------------- fallback

@_styled
def _scatter(rows, params, key, head, mode) -> Figure:
    paths = list(params)
    shown = paths[:MAX_SCATTER_PANELS]
    ncol = len(shown) if len(shown) <= 3 else 2 if len(shown) == 4 else 3
    nrow = math.ceil(len(shown) / ncol)
    fig = new_figure(4.4 * ncol + 0.8, 3.6 * nrow + 1.5)
    axs = np.atleast_1d(fig.subplots(nrow, ncol, sharey=True, squeeze=False)).ravel()
    y = np.asarray([_num(r.get(key)) if not _failed(r) else math.nan for r in rows])
    failed = np.asarray([_failed(r) for r in rows])
    codes = np.asarray([_holds(r)[0] for r in rows])
    ylab, rate = _metric_label(key)
    ok = np.isfinite(y)
    pct = np.asarray([_band_pct(rows, [i], _band_key(key)) for i in range(len(rows))])  # each row's band, once
    colors = [CONSTRAINT_COLORS[BINDING_NAMES[c]] if c >= 0 else "#FFFFFF" for c in codes]
    plain = ok & ~np.isfinite(pct)
    dotted = plain & np.asarray([_no_band(rows, [i]) for i in range(len(rows))], dtype=bool)
    for a_, path in zip(axs, shown):
        ax_ = _Axis(path, rows, params[path])
        x = ax_.x.copy()
        if not ax_.numeric:  # categories: a little spread so points on one category do not hide each other
            x = x + (np.random.default_rng(0).random(x.size) - 0.5) * 0.3
        for c in sorted(set(codes[plain & ~dotted].tolist())):
            sel = plain & ~dotted & (codes == c)
            a_.scatter(x[sel], y[sel], s=36, c=CONSTRAINT_COLORS[BINDING_NAMES[c]] if c >= 0 else "#FFFFFF",
                       edgecolors="#222222", linewidths=0.6, zorder=3)
        _draw_dotted(a_, x, y, dotted, colors, 36.0)
        _draw_bands(a_, x, y, pct, 36.0, colors=colors)
        _mark_missing(a_, x.tolist(), failed.astype(int).tolist(), (~ok & ~failed).astype(int).tolist(),
                      [1] * x.size)
        ax_.set(a_, "x", max_ticks=8)
        if not ax_.numeric:  # every category in view with its label, not just the spread points (a view fitted to
            a_.set_xlim(-0.5, len(ax_.levels) - 0.5)  # them dropped a category whose one point fell below it)
        if rate:
            a_.yaxis.set_major_formatter(EngFormatter(sep=""))
    for a_ in axs[len(shown):]:
        a_.set_visible(False)
    tops = np.where(np.isfinite(pct), y * (1 + np.where(np.isfinite(pct), pct, 0.0) / 100.0), y)  # error bars too
    top = float(np.nanmax(tops)) if ok.any() else 1.0
    axs[0].set_ylim(0, top * 1.12 if top > 0 else 1.0)
    for r_ in range(nrow):
        axs[r_ * ncol].set_ylabel(ylab.replace(" (tok/s, mean over the run)", "\n(tok/s, run mean)"))
    handles = [Line2D([], [], ls="none", marker="o", ms=7, mfc=CONSTRAINT_COLORS[BINDING_NAMES[c]], mec="#222222",
                      label=_holds_label(c)) for c in sorted(set(codes[ok].tolist()))
               if c >= 0]
    bh = _band_handle(rows, edge=_band_edge(colors, pct))
    if bh is not None:
        handles.append(bh)
    if dotted.any():
        handles.append(_no_band_handle(rows, np.flatnonzero(dotted).tolist()))
    _legend_missing(handles, failed.astype(int).tolist(), (~ok).astype(int).tolist(), [1] * len(rows))
    if handles:
        fig.legend(handles=handles, loc="outside lower center", frameon=False, ncol=min(3, len(handles)))
    more = len(paths) - len(shown)
    what = {"random": "random draws", "lhs": "a Latin hypercube", "list": "zipped lists", "grid": "a grid"}.get(mode, mode)
    nf = int(failed.sum())
    fig.suptitle(f"{head} — {len(rows)} points of {what}" + (f", {nf} refused by the preflight" if nf else "")
                 + f"\n{ylab.split(' (')[0]} against each swept parameter (a projection: the others vary too"
                 + (f"; {more} more parameter{'s' if more > 1 else ''} not drawn" if more else "") + ")",
                 fontweight="bold", fontsize=11.5)
    return fig
