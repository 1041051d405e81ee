"""Phase diagrams: which constraint binds over two parameters, densely from the closed form.

``phase_diagram(scenario, x=(path, values), y=(path, values))`` evaluates the Token Production
Function ceilings (:func:`dcsim.engine.steady.ceilings_at`, the same node and facility models as
the simulation) on every (x, y) cell at one moment of the scenario (its peak-demand tick by
default), and optionally simulates a few cells and reads the binding constraint the simulation
found at that tick, to overlay on the map.

Axes are dotted scenario paths. These are evaluated without rebuilding any model (fast):

* ``t_out_c`` — outdoor dry-bulb, degC (the moment's wet-bulb depression is kept);
* ``facility.interconnect`` — W or a quantity string (``"15 MW"``); rebuilds only the facility
  (its delivery-chain ratings follow the interconnect), microseconds per value;
* ``racks.0.count`` and ``gpus`` — fleet size (single rack group; racks scale with GPUs);
* ``demand`` — output tokens/s, and ``workload.arrivals.scale`` — a multiplier on the demand.

Any other path (``racks.0.node.precision``, ``racks.0.node.levers.kv_compression``, ...) rebuilds
the models once per value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dcsim.argcheck import overlapping_paths
from dcsim.metrics.fmt import NEAR_TIE
from dcsim.plan import (_models, _raw_and_dir, _source_label, moment_info, moment_text, scenario_moments,
                        with_interconnect)
from dcsim.scenario import GivenAs, ScenarioError, relabel_override
from dcsim.scenario.paths import param_name
from dcsim.tpf import BINDING_NAMES
from dcsim.units import TEMPERATURE_RANGE_C, excerpt
from dcsim.textio import check_count

__all__ = ["PhaseDiagram", "phase_diagram", "plot_phase", "CONSTRAINT_COLORS", "FAST_AXES"]

# one palette for every figure of dcsim, one home (a fallback copy here could drift from it)
from dcsim.plots import CONSTRAINT_COLORS  # noqa: E402

FAST_AXES = ("t_out_c", "facility.interconnect", "racks.0.count", "gpus", "demand", "workload.arrivals.scale")
#: display unit and SI divisor of the fast axes; their names are dcsim.scenario.paths.PARAM_NAMES's (one home with
#: the sweep's figure)
_AXIS_UNITS = {
    "t_out_c": ("degC", 1.0),
    "facility.interconnect": ("MW", 1e6),
    "gpus": ("", 1.0),
    "racks.0.count": ("", 1.0),
    "demand": ("M tok/s", 1e6),
    "workload.arrivals.scale": ("", 1.0),
}


@dataclass
class PhaseDiagram:
    """Binding constraint over a grid: arrays have shape (len(y), len(x)).

    ``binding`` int codes into ``BINDING_NAMES`` (0 demand, 1 compute, 2 power, 3 cooling);
    ceilings and ``achieved`` in output tokens/s. ``x_values``/``y_values`` are the values as
    given; ``x``/``y`` numeric (SI; category index for non-numeric values). ``sim`` lists the
    simulated cells: ``x``, ``y`` (as given), ``binding`` (the simulation's code at the moment's
    tick) and ``closed_form`` (the map's code at that cell).
    """

    x_path: str
    y_path: str
    x_values: list
    y_values: list
    x: np.ndarray
    y: np.ndarray
    binding: np.ndarray
    demand_tok_s: np.ndarray
    compute_tok_s: np.ndarray
    power_tok_s: np.ndarray
    cooling_tok_s: np.ndarray
    achieved_tok_s: np.ndarray
    moment: dict
    demand_mode: str | float
    sim: list[dict] = field(default_factory=list)

    def share(self) -> dict[str, float]:
        """Fraction of grid cells where each constraint binds."""
        return {n: float(np.mean(self.binding == k)) for k, n in enumerate(BINDING_NAMES)}

    def boundary_x(self, iy: int, frm: int, to: int) -> float:
        """First x (numeric) on row ``iy`` where the binding changes from code ``frm`` to ``to`` (NaN if none)."""
        row = self.binding[iy]
        for j in range(row.size - 1):
            if row[j] == frm and row[j + 1] == to:
                return 0.5 * (self.x[j] + self.x[j + 1])
        return float("nan")


def _numeric(path: str, v) -> float | None:
    """SI value of an axis value (quantity strings parsed), or None when categorical."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    if path == "facility.interconnect":
        from dcsim.units import parse_quantity

        return parse_quantity(v, "power")
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _moment_index(mom: dict, moment, duration_s: float) -> int:
    """The tick of ``moment``: ``"peak_demand"``, ``"hottest"`` or a time inside the run, s or a time string
    (``"16 h"``); anything else is a ValueError naming ``moment`` (``"noon"`` raised float()'s own error, and 1e12 s
    was clipped to the last tick without a word: the input audit AUH, 9)."""
    if isinstance(moment, str) and moment in ("peak_demand", "hottest"):
        return int(np.argmax(mom["demand_tok_s"] if moment == "peak_demand" else mom["t_db_c"]))
    from dcsim.units import UnitError, parse_quantity

    what = (f"'peak_demand', 'hottest' or a time inside the run (0 s to {duration_s:g} s, or a string such as "
            "'16 h')")
    try:
        if isinstance(moment, (bool, np.bool_)) or not isinstance(moment, (int, float, str, np.integer, np.floating)):
            raise UnitError
        t = parse_quantity(float(moment) if not isinstance(moment, str) else moment, "time")
    except (UnitError, ValueError):
        raise ValueError(f"phase_diagram: moment {excerpt(moment, 40)}: expected {what}") from None
    if not (0.0 <= t < duration_s):
        raise ValueError(f"phase_diagram: moment {excerpt(moment, 40)}: expected {what}; it lies outside the run")
    return int(np.clip(np.searchsorted(mom["t_s"], t, side="right") - 1, 0, mom["t_s"].size - 1))


def _check_axis(name: str, axis) -> tuple[str, list]:
    """``x`` or ``y`` of :func:`phase_diagram` as ``(path, values)``: a pair of a dotted path and a non-empty sequence
    of values, else a ValueError (TypeError for the wrong form) naming the argument (an empty axis returned an empty
    map; a bare path raised "too many values to unpack": the input audit AUH, 9)."""
    form = f"{name}: expected (path, values), e.g. ('facility.interconnect', ['400 kW', '500 kW'])"
    if isinstance(axis, (str, bytes, dict)) or not isinstance(axis, (tuple, list)) or len(axis) != 2:
        raise TypeError(f"phase_diagram: {form}, got {excerpt(axis, 60)}")
    path, vals = axis
    if not isinstance(path, str) or not path.strip():
        raise TypeError(f"phase_diagram: {form}; its path is {excerpt(path, 40)}, not a dotted path")
    if isinstance(vals, (str, bytes, dict)):
        raise TypeError(f"phase_diagram: {form}; its values are {excerpt(vals, 40)}, not a list of values")
    try:
        vals = list(vals)
    except TypeError:
        raise TypeError(f"phase_diagram: {form}; its values are {excerpt(vals, 40)}, not a list of values") from None
    if not vals:
        raise ValueError(f"phase_diagram: {name}: the {path} axis has no values (as a sweep's empty values: "
                         "give at least one)")
    return path, vals


def _check_simulate(simulate):
    """``simulate`` of :func:`phase_diagram`: None, a whole number of cells per axis (0: none) or a list of (x, y)
    value pairs; anything else (``-1`` was taken as 1) is a ValueError (TypeError for the wrong form) naming it."""
    if simulate is None:
        return None
    if isinstance(simulate, (bool, np.bool_)):
        raise TypeError("phase_diagram: simulate: expected a whole number of cells per axis (k: k x k cells), a list "
                        f"of (x, y) values or None, got the boolean {simulate}")
    if isinstance(simulate, (int, np.integer)):  # the one count check (dcsim.textio.check_count), 0 allowed
        try:
            return check_count(simulate, "cells per axis, k: k x k cells run with dcsim.run", minimum=0)
        except ValueError as e:
            raise ValueError(f"phase_diagram: simulate = {int(simulate)}: {e}; or give a list of (x, y) values or "
                             "None") from None
    if isinstance(simulate, (str, bytes, dict, float, np.floating)) or not isinstance(simulate, (list, tuple)):
        raise TypeError("phase_diagram: simulate: expected a whole number of cells per axis, a list of (x, y) "
                        f"values or None, got {excerpt(simulate, 40)}")
    for j, c in enumerate(simulate):
        if isinstance(c, (str, bytes, dict)) or not isinstance(c, (tuple, list)) or len(c) != 2:
            raise TypeError(f"phase_diagram: simulate[{j}]: expected an (x, y) pair of axis values, got "
                            f"{excerpt(c, 40)}")
    return list(simulate)


#: the unit dimension (dcsim.units) of each fast axis's values, and the range a value must lie in (the scenario's own
#: fields are checked by the scenario model when a slow axis rebuilds it; the fast axes never build a scenario)
_FAST_CHECK = {"temp": ("temperature", *TEMPERATURE_RANGE_C, "an outdoor dry-bulb in degC (the range a scenario's "
                                                             "temperatures may take)"),
               "cap": ("power", 0.0, math.inf, "a positive power"),
               "scale": (None, 0.0, math.inf, "a positive count"),
               "demand": (None, 0.0, math.inf, "output tokens/s, zero or more"),
               "dscale": (None, 0.0, math.inf, "a multiplier, zero or more")}


def _check_fast_axis(kind: str, path: str, vals: list) -> list:
    """The values of a fast axis as SI floats, refused (ValueError naming the axis, the value and the reason) when
    not finite, out of range or not a number: the fast axes never build a scenario, so nothing else checks them
    (the hostile-input audit of 2026-12-04: "35 degC" on t_out_c became NaN and drew as cooling-bound; negative GPU
    counts and NaN interconnects were computed without a word)."""
    from dcsim.units import UnitError, parse_quantity

    dim, lo, hi, what = _FAST_CHECK[kind]
    out = []
    for j, v in enumerate(vals):
        try:
            if isinstance(v, bool):
                raise ValueError
            x = float(v) if isinstance(v, (int, float, np.integer, np.floating)) or dim is None else \
                parse_quantity(v, dim)
        except (TypeError, ValueError, UnitError):
            raise ValueError(f"phase axis {path}[{j}]: {v!r} is not {what}") from None
        gt = kind in ("cap", "scale")
        if not math.isfinite(x) or x < lo or (gt and x <= lo) or x > hi:
            raise ValueError(f"phase axis {path}[{j}]: {v!r} is not {what}")
        if path == "racks.0.count" and x != int(x):
            raise ValueError(f"phase axis {path}[{j}]: {v!r} is not a whole number of racks")
        out.append(x)
    return out


def _axis_kind(path: str, single_group: bool) -> str:
    if path in ("t_out_c", "weather.t_db"):
        return "temp"
    if path == "facility.interconnect":
        return "cap"
    if path in ("racks.0.count", "gpus"):
        return "scale" if single_group else ("slow" if path == "racks.0.count" else "bad")
    if path == "demand":
        return "demand"
    if path == "workload.arrivals.scale":
        return "dscale"
    return "slow"


def phase_diagram(scenario, x: tuple[str, Sequence], y: tuple[str, Sequence], *, demand: str | float = "scenario",
                  moment: str | float = "peak_demand", simulate: int | Sequence[tuple[Any, Any]] | None = None,
                  overrides: dict | None = None) -> PhaseDiagram:
    """Binding-constraint map over two parameters (see module doc for the axes).

    ``demand``: ``"scenario"`` (the scenario's demand at the moment), ``"full"`` (unbounded:
    which of compute, power, cooling limits the fleet) or output tokens/s. ``moment``:
    ``"peak_demand"``, ``"hottest"`` or a time inside the run (s, or a string such as ``"16 h"``); it fixes the
    demand and weather not varied by an axis. ``simulate``: an int k ≥ 0 (k×k cells spread over the grid) or a list
    of (x, y) values to run with :func:`dcsim.run` and overlay. ``x`` and ``y`` are ``(path, values)`` pairs of two
    different fields, each with at least one value. A wrong argument is refused before any work, naming it.
    """
    (xp, xv), (yp, yv) = _check_axis("x", x), _check_axis("y", y)
    twice = overlapping_paths([("x", xp), ("y", yp)])
    if twice is not None:
        same = "the same field" if twice[4] else "overlapping fields (one inside the other)"
        raise ValueError(f"phase_diagram: x ({xp}) and y ({yp}) set {same}: give two different fields (as a sweep "
                         "refuses a field given twice)")
    simulate = _check_simulate(simulate)
    raw, bdir = _raw_and_dir(scenario, overrides)
    m0 = _models(raw, bdir, label=_source_label(scenario))
    mom0 = scenario_moments(m0)
    i = _moment_index(mom0, moment, float(m0.scenario.duration))
    single = len(m0.groups) == 1
    kx, ky = _axis_kind(xp, single), _axis_kind(yp, single)
    if "bad" in (kx, ky):
        raise ValueError("the 'gpus' axis needs a scenario with one rack group (use racks.N.count)")
    if demand not in ("scenario", "full") and not isinstance(demand, (int, float)):
        raise ValueError(f"demand must be 'scenario', 'full' or tokens/s, got {demand!r}")
    if isinstance(demand, (int, float)) and not (math.isfinite(demand) and demand >= 0):
        raise ValueError(f"demand must be 'scenario', 'full' or tokens/s (zero or more), got {demand!r}")
    # each fast axis parsed and checked once (SI floats); the cells, the axes and the simulated overrides read these
    fast = {path: _check_fast_axis(kind, path, vals) for kind, path, vals in ((kx, xp, xv), (ky, yp, yv))
            if kind in _FAST_CHECK}
    count0 = m0.scenario.racks[0].count
    gpus0 = m0.gpus
    scale0 = float(m0.scenario.workload.arrivals.scale)
    ny, nx = len(yv), len(xv)
    out = {k: np.zeros((ny, nx)) for k in ("demand_tok_s", "compute_tok_s", "power_tok_s", "cooling_tok_s",
                                           "achieved_tok_s")}
    code = np.zeros((ny, nx), dtype=int)

    cache: dict = {}

    def build(ov: dict):
        """Models for the slow overrides; an interconnect only rebuilds the facility (cheap)."""
        ov = dict(ov)
        cap = ov.pop("facility.interconnect", None)
        key = repr(sorted(ov.items(), key=lambda kv: kv[0]))
        if key not in cache:
            try:
                cache[key] = m0 if not ov else _models(raw, bdir, ov)
            except ScenarioError as e:  # an axis's path: named as the axis (x: racks.9.count: ...), not overrides[...]
                o = e.override
                if o is not None and o.given_as is GivenAs.OVERRIDES_ARG and o.at in (xp, yp):
                    raise relabel_override(e, GivenAs.X_AXIS if o.at == xp else GivenAs.Y_AXIS) from None
                raise
        m = cache[key]
        return (m if cap is None else with_interconnect(m, _numeric("facility.interconnect", cap))), bool(ov)

    from dcsim.engine.steady import ceilings_at

    loop_x, loop_y = kx in ("slow", "cap"), ky in ("slow", "cap")
    for iy in range(ny) if loop_y else [None]:
        for ix in range(nx) if loop_x else [None]:
            ov = {}
            if iy is not None:
                ov[yp] = yv[iy]
            if ix is not None:
                ov[xp] = xv[ix]
            m, rebuilt = build(ov)
            mom = scenario_moments(m) if rebuilt else mom0
            rows = range(ny) if iy is None else [iy]
            cols = range(nx) if ix is None else [ix]
            R, C = np.meshgrid(np.array(list(rows)), np.array(list(cols)), indexing="ij")
            d0 = float(mom["demand_tok_s"][i])
            tdb0, twb0 = float(mom["t_db_c"][i]), float(mom["t_wb_c"][i])
            d = np.full(R.shape, np.inf if demand == "full" else (d0 if demand == "scenario" else float(demand)))
            tdb, twb = np.full(R.shape, tdb0), np.full(R.shape, twb0)
            a = np.ones(R.shape)
            for kind, path, vals, idx in ((kx, xp, xv, C), (ky, yp, yv, R)):
                if kind in ("slow", "cap"):
                    continue
                v = np.array([fast[path][j] for j in idx.ravel()], dtype=float).reshape(idx.shape)
                if kind == "temp":
                    tdb, twb = v, v - (tdb0 - twb0)
                elif kind == "scale":
                    a = v / (count0 if path == "racks.0.count" else gpus0)
                elif kind == "demand":
                    d = v
                elif kind == "dscale" and demand != "full":
                    d = d * v / scale0
            r = ceilings_at(m, d, tdb, twb, gpu_scale=a)
            for k in out:
                out[k][R, C] = np.broadcast_to(r[k], R.shape)
            code[R, C] = np.broadcast_to(r["binding"], R.shape)

    def num_axis(path, vals, kind):
        nums = fast[path] if path in fast else [_numeric(path, v) for v in vals]
        return np.array(nums if all(n is not None for n in nums) else range(len(vals)), dtype=float)

    pd = PhaseDiagram(xp, yp, xv, yv, num_axis(xp, xv, kx), num_axis(yp, yv, ky), code, **out,
                      moment={"index": i, **moment_info(mom0, i, m0)},
                      demand_mode=demand)
    if simulate:
        pd.sim = _simulate(pd, raw, bdir, m0, simulate, (kx, ky), gpus0, scale0)
    return pd


def _sim_overrides(kind: str, path: str, v, num: float, pd: PhaseDiagram, m0, gpus0: int, scale0: float) -> dict:
    """The overrides that simulate an axis value: ``v`` as given, ``num`` its SI value (the axis's numeric
    coordinate: a fast axis's checked value, so "35 degC" on a temperature axis simulates 35 degC)."""
    if kind == "temp":
        dep = pd.moment["t_out_c"] - pd.moment["t_wb_c"]
        return {"facility.weather": {"kind": "constant", "t_db": num, "t_wb": num - dep}}
    if path == "gpus":
        gpr = m0.groups[0].gpus // m0.scenario.racks[0].count
        return {"racks.0.count": max(1, int(round(num / gpr)))}
    if kind == "demand":
        return {"workload.arrivals.scale": scale0 * num / max(pd.moment["demand_tok_s"], 1e-300)}
    return {path: v}


def _nearest(path: str, vals: list, nums: np.ndarray, v) -> int:
    """Index of ``v`` in the axis values ``vals`` (``nums``: their numeric coordinates): the value itself when it is
    one of them, else the nearest numeric coordinate on a numeric axis."""
    if v in vals:
        return vals.index(v)
    nv = _numeric(path, v)
    if nv is None:
        raise ValueError(f"phase: {v!r} is not a value of the {path} axis ({vals})")
    return int(np.argmin(np.abs(np.asarray(nums, dtype=float) - nv)))


def _simulate(pd: PhaseDiagram, raw, bdir, m0, simulate, kinds, gpus0, scale0) -> list[dict]:
    from dcsim.engine.run import run
    from dcsim.scenario import load_scenario

    if isinstance(simulate, int):
        k = max(1, simulate)
        jx = np.unique(np.round(np.linspace(0, len(pd.x_values) - 1, k)).astype(int))
        jy = np.unique(np.round(np.linspace(0, len(pd.y_values) - 1, k)).astype(int))
        cells = [(int(a), int(b)) for b in jy for a in jx]
    else:
        cells = [(_nearest(pd.x_path, pd.x_values, pd.x, xv), _nearest(pd.y_path, pd.y_values, pd.y, yv))
                 for xv, yv in simulate]
    pts = []
    for jx_, jy_ in cells:
        ov = {}
        ov.update(_sim_overrides(kinds[0], pd.x_path, pd.x_values[jx_], float(pd.x[jx_]), pd, m0, gpus0, scale0))
        ov.update(_sim_overrides(kinds[1], pd.y_path, pd.y_values[jy_], float(pd.y[jy_]), pd, m0, gpus0, scale0))
        if pd.demand_mode == "full":  # demand well above every ceiling at the moment
            top = max(pd.compute_tok_s[jy_, jx_], 1.0)
            base = ov.get("workload.arrivals.scale", scale0)
            ov["workload.arrivals.scale"] = base * 2.0 * top / max(pd.moment["demand_tok_s"], 1e-300)
        elif not isinstance(pd.demand_mode, str):
            ov["workload.arrivals.scale"] = scale0 * float(pd.demand_mode) / max(pd.moment["demand_tok_s"], 1e-300)
        try:
            sc = load_scenario(raw, overrides=ov, base_dir=bdir, given_as=GivenAs.POINT)
        except ScenarioError as e:  # the caller names the point, as a sweep's does (it read "paths:" alone)
            raise ScenarioError(f"phase diagram simulated cell {pd.x_path}={pd.x_values[jx_]!r}, "
                                f"{pd.y_path}={pd.y_values[jy_]!r}", e.errors) from None
        res = run(sc)
        b = res.timeseries["binding"]
        idx = min(pd.moment["index"], b.size - 1)
        pts.append({"x": pd.x_values[jx_], "y": pd.y_values[jy_], "ix": jx_, "iy": jy_, "binding": int(b[idx]),
                    "closed_form": int(pd.binding[jy_, jx_]),
                    "achieved_tok_s": float(res.timeseries["achieved_tok_s"][idx])})
    return pts


#: How a unit reads on a figure's axis (the package's figures write °C, not the scenario syntax's degC).
_SHOWN_UNIT = {"degC": "°C"}
#: Axes whose values are whole counts: ticked at whole numbers (the rack axis read 22.5).
_COUNT_AXES = ("gpus", "racks.0.count")


def _axis_label(path: str) -> tuple[str, float]:
    """An axis's label, ``"name (unit)"`` as the other figures write it, and the divisor to its display unit; a path
    without a known unit by its readable name (:func:`dcsim.scenario.paths.param_name`), not its raw key."""
    if path in _AXIS_UNITS:
        name, (unit, div) = param_name(path), _AXIS_UNITS[path]
        unit = _SHOWN_UNIT.get(unit, unit)
        return (f"{name} ({unit})" if unit else name), div
    return param_name(path), 1.0


def near_ties(pd: PhaseDiagram, frac: float = NEAR_TIE) -> np.ndarray:
    """Boolean map (shape of ``pd.binding``) of the cells whose two lowest limits among demand (when finite) and the
    C, P, Q ceilings are within ``frac`` of the lowest: near ties, hatched on the map rather than drawn in one colour
    as if sure (notebook 02's 15 degC row was cooling-bound by 0.1 % over power). ``frac`` is the run's own "by a
    hair" threshold, :data:`dcsim.metrics.fmt.NEAR_TIE` (1 %, a tie at display precision; until 2026-12-05 a copy
    of it here). It marks the closest ties only: the shipped calibrations' in-sample bands (3-5 %, dcsim.node.model)
    are wider, so a cell whose two lowest limits are 1-5 % apart is drawn in one colour although which binds there is
    within the profile's error too."""
    stack = np.stack([np.where(np.isfinite(a), a, np.inf) for a in
                      (pd.demand_tok_s, pd.compute_tok_s, pd.power_tok_s, pd.cooling_tok_s)])
    srt = np.sort(stack, axis=0)
    lo, nxt = srt[0], srt[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.isfinite(nxt) & (lo > 0) & ((nxt - lo) <= frac * lo)


def plot_phase(pd: PhaseDiagram, ax=None, title: str | None = None, contours: bool = True):
    """The binding-constraint map (constraint colours of :data:`dcsim.plots.CONSTRAINT_COLORS`) with
    simulated cells as circles filled by the simulation's binding; returns the matplotlib Figure (``ax.figure`` when
    ``ax`` is given, else a new Figure on the Agg canvas, without pyplot, so nothing needs closing)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from dcsim.plots.sweep import binding_colormap

    if ax is None:
        from dcsim.plots.figures import new_figure

        fig = new_figure(7.5, 5.2)  # constrained layout: no tight_layout below
        fig.set_dpi(110)
        ax = fig.subplots()
    else:
        fig = ax.figure
    cmap, norm = binding_colormap()  # the sweep heatmap's
    xl, xdiv = _axis_label(pd.x_path)
    yl, ydiv = _axis_label(pd.y_path)
    xs, ys = pd.x / xdiv, pd.y / ydiv

    def edges(v):
        if v.size == 1:
            return np.array([v[0] - 0.5, v[0] + 0.5])
        mid = 0.5 * (v[1:] + v[:-1])
        return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])

    ax.pcolormesh(edges(xs), edges(ys), pd.binding, cmap=cmap, norm=norm, shading="flat")  # full alpha
    tie = near_ties(pd)
    if tie.any():  # hatched over the colour: the binding there is a near tie, not a sure answer
        ex, ey = edges(xs), edges(ys)
        ax.pcolor(ex, ey, np.ma.masked_where(~tie, np.ones(tie.shape)), hatch="////", facecolor="none",
                  edgecolor="#222222", linewidth=0.0, alpha=None, zorder=2, gid="near-tie")
    contour_labels = []
    if contours and xs.size > 2 and ys.size > 2 and np.all(np.isfinite(pd.achieved_tok_s)):
        cs = ax.contour(xs, ys, pd.achieved_tok_s / 1e3, colors="k", linewidths=0.5, alpha=0.45)
        contour_labels = ax.clabel(cs, fontsize=7, fmt="%.0fk")  # what the numbers are: the legend's "served" entry
    for p in pd.sim:
        ax.scatter([xs[p["ix"]]], [ys[p["iy"]]], s=70, c=[CONSTRAINT_COLORS[BINDING_NAMES[p["binding"]]]],
                   edgecolors="k", linewidths=1.2, zorder=3,
                   marker="o" if p["binding"] == p["closed_form"] else "X")
    from matplotlib.ticker import MaxNLocator

    for axis, path, vals in ((ax.xaxis, pd.x_path, pd.x_values), (ax.yaxis, pd.y_path, pd.y_values)):
        if any(_numeric(path, v) is None for v in vals):
            axis.set_ticks(range(len(vals)))
            axis.set_ticklabels([str(v) for v in vals])
        elif path in _COUNT_AXES:
            axis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xl)
    ax.set_ylabel(yl)
    present = [n for k, n in enumerate(BINDING_NAMES) if np.any(pd.binding == k)]
    handles = [Patch(color=CONSTRAINT_COLORS[n], label=f"{n} binds") for n in present]
    if tie.any():
        handles.append(Patch(facecolor="white", edgecolor="#222222", hatch="////",
                             label=f"near tie: next-lowest limit\nwithin {100 * NEAR_TIE:.0f} % of the lowest"))
    if pd.sim:
        if any(p["binding"] == p["closed_form"] for p in pd.sim):
            handles.append(Line2D([], [], marker="o", color="w", markeredgecolor="k", label="simulated (agrees)"))
        if any(p["binding"] != p["closed_form"] for p in pd.sim):
            handles.append(Line2D([], [], marker="X", color="w", markeredgecolor="k", label="simulated (differs)"))
    # beside the map: the map fills its axes, so a legend inside covers cells ("best" put it over the compute
    # corner of notebook 04's map, the very region it names)
    if contour_labels:  # the contours drew labelled lines (not: the axes hold some text, a caller's own perhaps)
        handles.append(Line2D([], [], color="k", lw=0.5, alpha=0.45, label="contours: served output\n(k tok/s)"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    mo = pd.moment
    when = moment_text(mo)
    if pd.demand_mode == "full":
        dm = "full load"
    elif pd.demand_mode == "scenario":
        dm = f"demand {mo['demand_tok_s'] / 1e3:,.0f}k tok/s"
    else:
        dm = f"demand {float(pd.demand_mode) / 1e3:,.0f}k tok/s"
    ax.set_title(title or f"Binding constraint — {when}, {mo['t_out_c']:.1f} °C, {dm}",
                 fontsize=10)
    if fig.get_layout_engine() is None:  # a caller's figure without a layout engine
        fig.tight_layout()
    return fig
