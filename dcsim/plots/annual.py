"""Figures of a year (issue 18): a month × hour map of the binding constraint, and PUE against
outdoor temperature over the year. They take arrays or an :func:`dcsim.metrics.annual.annual_summary`
dict and return a Figure; nothing here computes physics.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.legend_handler import HandlerBase
from matplotlib.patches import Patch, Polygon, Rectangle

from dcsim.metrics.annual import annual_label, month_hour_index
from dcsim.plots.figures import BINDING_NAMES, CONSTRAINT_COLORS, _styled, new_figure

__all__ = ["binding_month_hour_plot", "pue_outdoor_year_plot", "span_words"]

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def span_words(label: str) -> tuple[str, str]:
    """("the year", "annual") for the label "Year" of an ``annual`` block
    (:func:`dcsim.metrics.annual.annual_label`); ("the run (96 h)", "run (96 h)") for a run shorter than a year, whose
    figures said "over the year" and "annual PUE 1.422" for 96 h until 2026-12-05."""
    if label == "Year":
        return "the year", "annual"
    low = f"{label[0].lower()}{label[1:]}"
    return f"the {low}", low


class _CornerSwatch(HandlerBase):
    """Legend swatch of the corner triangle: a tinted cell with the runner-up's triangle in its lower right corner,
    as drawn on the map (the handle is a Patch: face = the cell's colour, edge = the triangle's)."""

    def create_artists(self, legend, orig_handle, xdescent, ydescent, width, height, fontsize, trans):
        x0, y0, h = -xdescent, -ydescent, height
        w = min(width, 1.6 * h)
        cell = Rectangle((x0, y0), w, h, facecolor=orig_handle.get_facecolor(), edgecolor="none", transform=trans)
        leg = 0.65 * h  # the map's triangle has legs 0.45 of a cell: a little larger to be seen at legend size
        tri = Polygon([(x0 + w, y0), (x0 + w, y0 + leg), (x0 + w - leg, y0)], closed=True,
                      facecolor=orig_handle.get_edgecolor(), edgecolor="white", lw=0.4, transform=trans)
        return [cell, tri]


@_styled
def binding_month_hour_plot(summary: dict, *, title: str | None = None, runner_up_min: float = 0.05):
    """Heat map, months down × hours of day across: each cell coloured by the constraint that
    binds most often in it, paler the less of the cell's time it binds (white: no ticks); the
    share is printed in the cell; a corner triangle shows the runner-up constraint where it
    binds ≥ `runner_up_min` of the cell's time (so a constraint that binds a few hours a year
    is still visible). Right panel: hours each constraint binds over the run. The titles name the block's span
    (:func:`dcsim.metrics.annual.annual_label`: the year, or the run's hours)."""
    span, _ = span_words(annual_label(summary))
    b = summary["binding"]
    top = np.asarray(b["month_hour_binding"], dtype=int)
    share = {k: np.asarray([[np.nan if x is None else x for x in row] for row in v], dtype=float)
             for k, v in b["month_hour_share"].items()}
    img = np.ones((12, 24, 3))
    frac = np.zeros((12, 24))
    for code, name in enumerate(BINDING_NAMES):
        m = top == code
        s = np.nan_to_num(share[name])
        rgb = np.asarray(to_rgb(CONSTRAINT_COLORS[name]))
        a = 0.25 + 0.75 * s  # a majority of 100 % is full colour, a plurality of ~1/3 is pale
        img[m] = (1 - a[m, None]) + a[m, None] * rgb
        frac[m] = s[m]
    fig = new_figure(13.0, 5.6)
    gs = fig.add_gridspec(1, 2, width_ratios=[5, 1])
    ax = fig.add_subplot(gs[0])
    ax.imshow(img, aspect="auto", interpolation="nearest", extent=(-0.5, 23.5, 11.5, -0.5))
    for i in range(12):
        for j in range(24):
            if top[i, j] >= 0:
                ax.text(j, i, f"{100 * frac[i, j]:.0f}", ha="center", va="center", fontsize=6.5,
                        color="white" if frac[i, j] > 0.7 and top[i, j] != 0 else "#333333")
    stack = np.stack([np.nan_to_num(share[name]) for name in BINDING_NAMES])  # (4, 12, 24)
    second = np.argsort(stack, axis=0)[-2]
    second_share = np.take_along_axis(stack, second[None], axis=0)[0]
    corner: dict[tuple[int, int], int] = {}  # (top, runner-up) → cells with a triangle
    for i in range(12):
        for j in range(24):
            if top[i, j] >= 0 and second_share[i, j] >= runner_up_min:
                code = int(second[i, j])
                corner[(int(top[i, j]), code)] = corner.get((int(top[i, j]), code), 0) + 1
                ax.add_patch(Polygon([(j + 0.5, i + 0.5), (j + 0.5, i + 0.05), (j + 0.05, i + 0.5)], closed=True,
                                     facecolor=CONSTRAINT_COLORS[BINDING_NAMES[code]], edgecolor="white", lw=0.4))
    ax.set_xticks(range(0, 24, 2))
    ax.set_xticklabels([f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_yticks(range(12))
    ax.set_yticklabels(MONTHS)
    ax.set_xlabel("hour of day (local clock of the run's start)")
    ax.grid(False)
    ax.set_title(title or f"Binding constraint by month and hour over {span} (number: % of the cell's time it binds)")
    present = sorted(set(int(c) for c in top.ravel() if c >= 0) | {r for _, r in corner})
    handles = [Patch(color=CONSTRAINT_COLORS[BINDING_NAMES[c]], label=BINDING_NAMES[c]) for c in present]
    handler_map = {}
    if corner:
        # the swatch shows the map's most frequent pair: a tinted cell of the top constraint, the runner-up's corner
        t_, r_ = max(corner, key=lambda k: (corner[k], k))
        cell = 1 - 0.6 * (1 - np.asarray(to_rgb(CONSTRAINT_COLORS[BINDING_NAMES[t_]])))
        swatch = Patch(facecolor=tuple(cell), edgecolor=CONSTRAINT_COLORS[BINDING_NAMES[r_]],
                       label=f"corner triangle: runner-up, ≥ {100 * runner_up_min:.0f} % of the cell")
        handles.append(swatch)
        handler_map[swatch] = _CornerSwatch()
    ax.legend(handles=handles, handler_map=handler_map, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=5,
              frameon=False, handleheight=1.3)
    ax2 = fig.add_subplot(gs[1])
    hours = summary["hours_binding"]
    names = list(BINDING_NAMES)
    ax2.barh(names, [hours[k] for k in names], color=[CONSTRAINT_COLORS[k] for k in names])
    for y, k in enumerate(names):
        ax2.text(hours[k], y, f" {hours[k]:,.0f} h", va="center", fontsize=9)
    ax2.invert_yaxis()
    ax2.set_xlabel("hours binding")
    ax2.set_xlim(0, max(max(hours.values()), 1.0) * 1.45)
    ax2.set_title(f"Hours\nover {span}")
    return fig


def _warming(t_month, i: int) -> bool:
    """Whether month i is warming: the next month's mean temperature above the previous one's (across the year's
    end; a month without a neighbour counts as cooling)."""
    a, b = t_month[(i - 1) % 12], t_month[(i + 1) % 12]
    return a is not None and b is not None and b > a


@_styled
def pue_outdoor_year_plot(t_s, pue, t_out_c, start: datetime, *, title: str | None = None, max_points: int = 8760,
                          summary: dict | None = None):
    """PUE of each tick against the outdoor dry-bulb, coloured by month (a year's cycle: winter
    blue, summer red), thinned to at most `max_points` evenly spaced ticks; with `summary`, the
    monthly energy-weighted PUE at each month's mean temperature as labelled points (warming months labelled
    above left, cooling months below right) and the PUE over its span as a line, the title and legend naming the span
    (:func:`dcsim.metrics.annual.annual_label`: "annual PUE" over a year, "run (96 h) PUE" over a shorter run)."""
    span, adj = span_words(annual_label(summary or {}))
    t = np.asarray(t_s, dtype=float)
    p = np.asarray(pue, dtype=float)
    x = np.asarray(t_out_c, dtype=float)
    step = max(1, int(np.ceil(t.size / max_points)))
    sel = slice(None, None, step)
    mo, _ = month_hour_index(t[sel], start)
    fig = new_figure(10.0, 5.8)
    ax = fig.add_subplot()
    # months on a cyclic colour scale (winter blue, summer red), each labelled month at its tick: Jan −1, Apr and
    # Oct 0, Jul +1 (the months between share a shade with their mirror month: Feb with Dec, Mar with Nov)
    phase = -np.cos(2 * np.pi * mo / 12.0)
    sc = ax.scatter(x[sel], p[sel], c=phase, cmap="coolwarm", s=4, alpha=0.45, linewidths=0, vmin=-1, vmax=1)
    cb = fig.colorbar(sc, ax=ax, ticks=[-1, 0, 1], pad=0.01)
    cb.ax.set_yticklabels(["Jan", "Apr / Oct", "Jul"])
    if summary is not None:
        pm = summary["pue"]["by_month"]
        tm = summary.get("t_out_c", {}).get("mean_by_month")
        if tm is not None:
            for i, (tt, pp) in enumerate(zip(tm, pm)):
                if tt is not None and pp is not None:
                    ax.plot(tt, pp, "o", color="black", ms=5)
                    # a month and its mirror month (Mar and Nov) often sit on one spot: warming months are
                    # labelled above left, cooling months below right, so the two labels part
                    left = _warming(tm, i)
                    ax.annotate(MONTHS[i], (tt, pp), textcoords="offset points", xytext=(-5, 4) if left else (5, -4),
                                ha="right" if left else "left", va="bottom" if left else "top", fontsize=8.5)
        annual = summary["pue"]["annual"]
        if annual is not None:
            ax.axhline(annual, color="black", lw=1.2, ls="--", label=f"{adj} PUE {annual:.3f} (energy-weighted)")
            ax.legend(loc="upper left")
    ax.set_xlabel("outdoor dry-bulb (°C)")
    ax.set_ylabel("PUE")
    ax.set_title(title or f"PUE against outdoor temperature over {span} (dots: ticks; black: monthly)")
    return fig
