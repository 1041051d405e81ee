"""Figures show the Result's numbers: the plotted data is checked against the arrays, not only
that a Figure comes back. Uses the synthetic TEST FIXTURE from test_report.py."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import cielab as _cielab  # noqa: E402
from test_report import synthetic_result  # noqa: E402  (test fixture, not shipped)

from dcsim.plots import (  # noqa: E402
    BINDING_NAMES,
    CONSTRAINT_COLORS,
    all_figures,
    joules_per_token_plot,
    latency_cdf_plot,
    power_stack_plot,
    pue_plot,
    signature_plot,
)
from dcsim.plots.figures import (  # noqa: E402
    CAP_IN_FORCE,
    SHIFT_LABEL_GAP,
    _zoom_range,
    binding_runs,
    shift_label,
    time_axis,
)


@pytest.fixture(scope="module")
def result():
    return synthetic_result()


def _line(ax, label):
    found = [ln for ln in ax.get_lines() if ln.get_label() == label]
    assert found, f"no line labelled {label!r}: {[ln.get_label() for ln in ax.get_lines()]}"
    return found[0]


def _tick_values(ln):
    """Values of a step line drawn over tick edges (last value repeated to close the last tick)."""
    y = np.asarray(ln.get_ydata(), dtype=float)
    assert y[-1] == y[-2] or (np.isnan(y[-1]) and np.isnan(y[-2]))
    return y[:-1]


def test_one_colour_per_constraint_and_codes_match_contract():
    assert BINDING_NAMES == ("demand", "compute", "power", "cooling")
    assert set(CONSTRAINT_COLORS) == set(BINDING_NAMES)
    assert len({to_rgba(c) for c in CONSTRAINT_COLORS.values()}) == 4


def test_binding_runs_hand_example():
    assert binding_runs(np.array([0, 0, 2, 2, 2, 1, 0])) == [(0, 2, 0), (2, 5, 2), (5, 6, 1), (6, 7, 0)]
    assert binding_runs(np.array([], dtype=int)) == []


def test_time_axis_units():
    """Elapsed time (a run without a known clock) says it runs from the start."""
    t, lab = time_axis(np.array([0.0, 86400.0]))
    assert lab == "hours from start" and t[-1] == 24.0
    t, lab = time_axis(np.array([0.0, 600.0]))
    assert lab == "minutes from start" and t[-1] == 10.0
    assert time_axis(np.array([0.0, 60.0]))[1] == "seconds from start"


def test_signature_plot_draws_the_result(result):
    ts, rep = result.timeseries, result.report
    fig = signature_plot(result)
    assert isinstance(fig, Figure)
    ax, ax2 = fig.axes[0], fig.axes[-1]
    hours = ts["t_s"] / 3600.0
    ach = _line(ax, "achieved")
    np.testing.assert_allclose(ach.get_xdata(), np.append(hours, hours[-1] + hours[1] - hours[0]))
    np.testing.assert_array_equal(_tick_values(ach), ts["achieved_tok_s"])
    np.testing.assert_array_equal(_tick_values(_line(ax, "D  demand")), ts["demand_tok_s"])
    np.testing.assert_array_equal(_tick_values(_line(ax, "C  compute ceiling")), ts["compute_tok_s"])
    np.testing.assert_array_equal(_tick_values(_line(ax, "P  power ceiling")), ts["power_tok_s"])
    np.testing.assert_array_equal(_tick_values(_line(ax, "Q  cooling ceiling")), ts["cooling_tok_s"])
    # one filled band per contiguous binding run, in that constraint's colour
    runs = binding_runs(ts["binding"])
    bands = ax.collections
    assert len(bands) == len(runs)
    for band, (_, _, code) in zip(bands, runs):
        assert to_rgba(band.get_facecolor()[0])[:3] == to_rgba(CONSTRAINT_COLORS[BINDING_NAMES[code]])[:3]
    # the band reaches up to the achieved rate, not to a ceiling
    s, e, _ = runs[1]
    top = max(p.vertices[:, 1].max() for p in bands[1].get_paths())
    assert top == pytest.approx(ts["achieved_tok_s"][s:e].max())
    # one dotted vertical line per shift, at the shift time (hours)
    vlines = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    xs = sorted(float(ln.get_xdata()[0]) for ln in vlines)
    assert xs == pytest.approx([sh["t_s"] / 3600.0 for sh in rep["binding"]["shifts"]])
    assert ax.get_ylabel() == "output token rate (tok/s)" and ax2.get_xlabel() == "local time, day 196"
    assert [t.get_text() for t in ax2.get_xticklabels()][:3] == ["00:00", "03:00", "06:00"]
    assert "toy-day" in ax.get_title()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    share = rep["binding"]["share"]["power"]
    assert f"binds: power ({100 * share:.0f}%)" in legend
    assert f"shift ({len(rep['binding']['shifts'])})" in legend


def test_zoom_panel_range_spans_lowest_to_next_ceiling():
    c = {"compute": np.full(5, 100.0), "power": np.array([90.0, 92.0, 95.0, 93.0, 91.0]),
         "cooling": np.full(5, np.inf)}
    lo, hi = _zoom_range(c, top=300.0)
    assert lo < 90.0 < 100.0 < hi and hi - lo < 20.0
    # ceilings far apart relative to the panel: no zoom
    assert _zoom_range({"compute": np.full(5, 100.0), "power": np.full(5, 250.0),
                        "cooling": np.full(5, 260.0)}, top=300.0) is None


def test_no_zoom_panel_that_barely_magnifies():
    """campus-interconnect drew a 'zoom' of 4.6–11.3 Mtok/s under a 0–12.9 Mtok/s panel (1.9×): the same curves
    again, the cooling ceiling off it. A zoom that magnifies less than ZOOM_MIN_MAGNIFICATION is not drawn; the
    heatwave-air zoom (C 3.6, Q down to 3.6 and P 3.9 Mtok/s under a 4.3 Mtok/s panel, 6×) still is."""
    from dcsim.plots.figures import ZOOM_MIN_MAGNIFICATION, _zoom

    t = np.linspace(0.0, 1.0, 97)
    campus = {"compute": np.full(97, 10.9e6), "power": np.full(97, 7.33e6), "cooling": np.full(97, 11.97e6)}
    achieved = np.minimum(7.33e6, 7.3e6 + 2.2e6 * np.sin(2 * np.pi * (t - 0.375)))
    assert _zoom_range(campus, 12.9e6) is not None and _zoom(campus, achieved, 12.9e6) is None
    heat = {"compute": np.full(97, 3.6e6), "power": 3.9e6 + 0.1e6 * np.cos(2 * np.pi * t),
            "cooling": 3.6e6 + 0.4e6 * np.abs(np.cos(np.pi * t))}
    lo, hi = _zoom(heat, np.minimum(3.6e6, 2e6 + 1.6e6 * np.sin(np.pi * t)), 4.3e6)
    assert (hi - lo) * ZOOM_MIN_MAGNIFICATION <= 4.3e6 and lo < 3.6e6 < 3.9e6 < hi


def test_signature_zoom_panel_shows_the_binding_ceiling(result):
    ts = result.timeseries
    fig = signature_plot(result)
    assert len(fig.axes) == 3  # the toy day's ceilings are close together: zoom panel drawn
    axz = fig.axes[1]
    lo, hi = axz.get_ylim()
    lowest = np.min(np.vstack([ts["compute_tok_s"], ts["power_tok_s"], ts["cooling_tok_s"]]), axis=0)
    assert lo <= lowest.min() and hi >= lowest.max()


def test_signature_marks_ceilings_off_scale():
    r = synthetic_result(samples=False)
    ts = dict(r.timeseries)
    ts["cooling_tok_s"] = np.full_like(ts["cooling_tok_s"], np.inf)
    fig = signature_plot(SimpleNamespace(report=r.report, timeseries=ts))
    labels = [ln.get_label() for ln in fig.axes[0].get_lines()]
    assert "Q  cooling ceiling (off scale)" in labels
    assert np.isfinite(fig.axes[0].get_ylim()[1])


def test_power_stack_layers_sum_to_facility_and_cap_drawn(result):
    ts = result.timeseries
    fig = power_stack_plot(result)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "power (kW)"  # fixture peaks below 1 MW
    names = [c.get_label() for c in ax.collections]
    assert names == ["GPU", "rest of IT (host, network)", "cooling", "delivery losses", "fixed loads"]
    top_of_stack = max(p.vertices[:, 1].max() for p in ax.collections[-1].get_paths())
    assert top_of_stack == pytest.approx(ts["facility_power_w"].max() * 1e-3, rel=1e-9)
    np.testing.assert_allclose(_tick_values(_line(ax, "interconnect cap")), ts["interconnect_w"] * 1e-3)
    np.testing.assert_allclose(_tick_values(_line(ax, "facility (meter)")), ts["facility_power_w"] * 1e-3)
    assert ax.get_xlim() == pytest.approx((0.0, 24.0))


def test_pue_scatter_is_the_ticks(result):
    ts = result.timeseries
    fig = pue_plot(result)
    ax = fig.axes[0]
    pts = ax.collections[0].get_offsets()
    np.testing.assert_array_equal(pts[:, 0], ts["t_out_c"])
    np.testing.assert_array_equal(pts[:, 1], ts["pue"])
    np.testing.assert_allclose(ax.collections[0].get_array(), ts["it_power_w"] * 1e-3)
    assert fig.axes[1].get_ylabel() == "IT load (kW)"
    assert ax.get_xlabel() == "outdoor dry-bulb temperature (°C)"
    # long runs are thinned to at most max_points, evenly
    fig = pue_plot(result, max_points=100)
    assert len(fig.axes[0].collections[0].get_offsets()) <= 100


def test_latency_cdfs_and_slo_lines(result):
    fig = latency_cdf_plot(result)
    axes = fig.axes
    assert [a.get_title() for a in axes] == ["time to first token", "time per output token", "end-to-end latency"]
    for ax, key in zip(axes, ("ttft_s", "tpot_s", "e2e_s")):
        for cls, d in result.latency_samples.items():
            ln = [x for x in ax.get_lines() if x.get_label().startswith(f"{cls} (n=")][0]
            np.testing.assert_array_equal(ln.get_xdata(), np.sort(d[key]))
            y = ln.get_ydata()
            assert y[-1] == 1.0 and np.all(np.diff(y) > 0)
            target = result.slo[cls].get(key)
            slo_lines = [x for x in ax.get_lines() if x.get_label().startswith(f"{cls} SLO")]
            if target is None:
                assert not slo_lines
            else:
                assert float(slo_lines[0].get_xdata()[0]) == target
                met = 100 * np.mean(d[key] <= target)
                assert f"{met:.1f}% of completed met" in slo_lines[0].get_label()
        assert ax.get_xscale() == "log"


def test_latency_plot_skipped_without_samples(result):
    fluid = SimpleNamespace(**{**vars(result), "latency_samples": {}})
    assert latency_cdf_plot(fluid) is None
    assert "latency" not in all_figures(fluid)
    assert set(all_figures(result)) == {"signature", "power", "pue", "joules_per_token", "latency"}


def test_joules_per_token_bars_are_the_report_values(result):
    fig = joules_per_token_plot(result)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    jpt = result.report["joules_per_output_token"]
    assert heights == [jpt["gpu"], jpt["it"], jpt["facility"]]
    texts = [t.get_text() for t in ax.texts]
    assert f"{jpt['facility']:#.3g} J" in texts
    assert f"×{jpt['facility'] / jpt['it']:.2f}\nof IT" in texts
    assert ax.get_ylabel() == "energy per output token (J/token)"


def test_every_figure_is_drawn_in_the_house_style(result):
    """Each ``*_plot`` of the figures module is wrapped in ``_styled`` (the rc context of STYLE): until 2026-12-05 a
    text helper slipped between ``@_styled`` and ``def joules_per_token_plot`` took the decorator, and the J/token
    figure was drawn with matplotlib's defaults (top/right spines, regular-weight title)."""
    import dcsim.plots.figures as figures

    plots = [n for n in figures.__all__ if n.endswith("_plot")]
    assert "joules_per_token_plot" in plots and len(plots) >= 5
    assert [n for n in plots if not hasattr(getattr(figures, n), "__wrapped__")] == []
    ax = joules_per_token_plot(result).axes[0]
    assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible()
    assert ax.title.get_fontweight() == "bold"


def test_many_shifts_are_counted_not_drawn(result):
    rep = dict(result.report)
    shifts = [{"t_s": float(t), "from": "power", "to": "cooling"} for t in range(0, 86400, 300)]
    rep["binding"] = {**rep["binding"], "shifts": shifts}
    fig = signature_plot(SimpleNamespace(report=rep, timeseries=result.timeseries), max_shift_lines=100)
    ax = fig.axes[0]
    assert not [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert f"{len(shifts)} shifts (too many to mark)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_latency_labels_say_when_samples_are_a_subset(result):
    rep = {**result.report, "serving": {"per_class": {"chat": {"requests": {"completed": 123456}}}}}
    fig = latency_cdf_plot(SimpleNamespace(**{**vars(result), "report": rep}))
    labels = [ln.get_label() for ln in fig.axes[0].get_lines()]
    assert "chat (sample of 4,000 of 123,456 completed)" in labels and "batch (n=4,000 completed)" in labels


def test_signature_draws_true_ceilings_above_compute():
    """Issue 12.4: P and Q at their own values (above C when they do not bind), never clamped to C;
    beyond the axis they run along its top edge with ▲ markers."""
    import dcsim
    from conftest import small_scenario

    res = dcsim.run(small_scenario(**{"duration": "30 min", "controller.tick": "1 min",
                                      "facility.interconnect": "260 kW", "workload.arrivals.rate": "200 req/s"}))
    ts = res.timeseries
    assert np.all(ts["power_tok_s"] > ts["compute_tok_s"] * 1.01)  # a generous contract: P above C
    fig = signature_plot(res)
    ax = fig.axes[0]
    top = ax.get_ylim()[1]
    for name, col in (("P  power ceiling", "power_tok_s"), ("Q  cooling ceiling", "cooling_tok_s")):
        ln = [x for x in ax.get_lines() if x.get_label().startswith(name)][0]
        np.testing.assert_allclose(_tick_values(ln), np.minimum(ts[col], top), rtol=1e-12)
        if np.any(ts[col] > top):
            assert "▲" in ln.get_label()
    c = _tick_values(_line(ax, "C  compute ceiling"))
    p = _tick_values([x for x in ax.get_lines() if x.get_label().startswith("P  power ceiling")][0])
    assert np.all(p > c)


def test_long_runs_are_drawn_as_daily_means():
    """A year drawn tick by tick was a solid block with unreadable hour ticks: beyond two weeks the
    time-series figures draw daily means (tick-weighted) on a day axis."""
    from dcsim.plots.figures import daily_means, time_axis

    dt = 900.0
    t = np.arange(0, 20 * 86400, dt)
    x = np.sin(2 * np.pi * t / 86400.0) + t / 86400.0
    b = np.where((t % 86400) < 10 * 3600, 1, 2)  # compute 10 h a day, power 14 h: power is the day's mode
    d = daily_means({"t_s": t, "achieved_tok_s": x, "binding": b})
    assert d["t_s"].size == 20 and np.allclose(d["t_s"], np.arange(20) * 86400.0)
    per_day = x.reshape(20, -1).mean(axis=1)
    np.testing.assert_allclose(d["achieved_tok_s"], per_day, rtol=1e-12)
    assert np.all(d["binding"] == 2)
    assert time_axis(t)[1] == "days from start" and time_axis(t[:100])[1] == "hours from start"


# --- content checks added by the mutation audit: each names the wrong figure it catches ----------------------------

def _xs(patch):
    """Data x of a patch's corners (axvspan: Rectangle or Polygon, axes-fraction y)."""
    return patch.get_patch_transform().transform(patch.get_path().vertices)[:, 0]


def _rgb(c):
    return to_rgba(c)[:3]


def _edges_h(ts):
    h = ts["t_s"] / 3600.0
    return np.append(h, h[-1] + h[1] - h[0])


def test_binding_strip_spans_each_run_in_its_colour(result):
    """The lower strip (binding constraint over time) has one span per contiguous binding run, from the run's first
    tick to the end of its last, in that constraint's colour. Catches a strip coloured for the wrong constraint or
    shifted by a tick."""
    ts = result.timeseries
    ax2 = signature_plot(result).axes[-1]
    edges = _edges_h(ts)
    runs = binding_runs(ts["binding"])
    assert len(ax2.patches) == len(runs)
    for p, (s, e, code) in zip(ax2.patches, runs):
        assert (_xs(p).min(), _xs(p).max()) == pytest.approx((edges[s], edges[e]))
        assert _rgb(p.get_facecolor()) == _rgb(CONSTRAINT_COLORS[BINDING_NAMES[code]])


def test_signature_bands_span_their_ticks(result):
    """Each band under the achieved rate covers exactly its run's ticks (no off-by-one against the time axis)."""
    ts = result.timeseries
    ax = signature_plot(result).axes[0]
    edges = _edges_h(ts)
    for band, (s, e, _) in zip(ax.collections, binding_runs(ts["binding"])):
        x = np.concatenate([p.vertices[:, 0] for p in band.get_paths()])
        assert (x.min(), x.max()) == pytest.approx((edges[s], edges[e]))


def test_signature_colours_agree_between_lines_bands_and_legend(result):
    """A ceiling's line, the band where it binds and its legend entries share one colour: a P line drawn in Q's
    colour, or a 'binds: power' legend patch in another constraint's colour, makes the planner read the wrong
    constraint as binding."""
    ax = signature_plot(result).axes[0]
    for label, name in (("C  compute ceiling", "compute"), ("P  power ceiling", "power"),
                        ("Q  cooling ceiling", "cooling")):
        assert _rgb(_line(ax, label).get_color()) == _rgb(CONSTRAINT_COLORS[name])
    leg = ax.get_legend()
    by_text = dict(zip([t.get_text() for t in leg.get_texts()], leg.legend_handles))
    binds = {k: h for k, h in by_text.items() if k.startswith("binds: ")}
    assert {k.split()[1] for k in binds} == {BINDING_NAMES[c] for c in set(result.timeseries["binding"].tolist())}
    for text, handle in binds.items():
        assert _rgb(handle.get_facecolor()) == _rgb(CONSTRAINT_COLORS[text.split()[1]])
    for text, handle in by_text.items():
        if text[:1] in "CPQ" and "ceiling" in text:
            assert _rgb(handle.get_color()) == _rgb(CONSTRAINT_COLORS[text.split()[1]])


def test_signature_outdoor_panel_is_the_dry_bulb(result):
    ts = result.timeseries
    ax2 = signature_plot(result).axes[-1]
    ln = [x for x in ax2.get_lines() if x.get_linestyle() != ":"]
    assert len(ln) == 1
    np.testing.assert_array_equal(ln[0].get_xdata(), ts["t_s"] / 3600.0)
    np.testing.assert_array_equal(ln[0].get_ydata(), ts["t_out_c"])
    assert ax2.get_ylabel() == "outdoor\n(°C)"


def test_shift_annotations_name_the_constraint_entered(result):
    """Shift labels at the top read '→X' for the constraint that binds after the shift (shifts closer than
    SHIFT_LABEL_GAP of the run are joined: '→compute→demand'), each in the colour of the last one named."""
    rep = result.report
    ax = signature_plot(result).axes[0]
    groups: list = []
    for sh in rep["binding"]["shifts"]:
        x = sh["t_s"] / 3600.0
        if groups and x - groups[-1][0] < SHIFT_LABEL_GAP * 24.0:
            groups[-1][1].append(sh["to"])
        else:
            groups.append([x, [sh["to"]]])
    assert any(len(g[1]) > 1 for g in groups)  # the toy day has a joined pair
    texts = [t for t in ax.texts if t.get_text().startswith("→")]
    assert [(t.xy[0], t.get_text()) for t in texts] == [(pytest.approx(x), shift_label(tos)) for x, tos in groups]
    for t, (_, tos) in zip(texts, groups):
        assert _rgb(t.get_color()) == _rgb(CONSTRAINT_COLORS[tos[-1]])


def test_close_shift_labels_do_not_overlap(result):
    """Labels of shifts closer than a label's width are joined (heatwave-air: →compute at 11.55 h, →cooling at
    11.93 h overlapped), so drawn labels stand at least SHIFT_LABEL_GAP of the run apart; three or more joined
    name the first and last entered and count the rest."""
    rep = dict(result.report)
    hours = [11.55, 11.93, 20.07, 20.77, 22.0, 22.1, 22.2, 22.3]
    names = ["compute", "cooling", "compute", "demand", "power", "cooling", "compute", "demand"]
    rep["binding"] = {**rep["binding"], "shifts": [{"t_s": h * 3600.0, "to": n} for h, n in zip(hours, names)]}
    ax = signature_plot(SimpleNamespace(report=rep, timeseries=result.timeseries)).axes[0]
    texts = sorted((t.xy[0], t.get_text()) for t in ax.texts if t.get_text().startswith("→"))
    assert [t for _, t in texts] == ["→compute→cooling", "→compute", "→demand", "→power …2 more… →demand"]
    xs = [x for x, _ in texts]
    assert min(b - a for a, b in zip(xs, xs[1:])) >= SHIFT_LABEL_GAP * rep["duration_s"] / 3600.0 - 1e-9


def test_zoom_panel_draws_the_same_series(result):
    """The zoom panel repeats C, P, Q, demand and the achieved rate at their own values (in their colours)."""
    ts = result.timeseries
    axz = signature_plot(result).axes[1]
    lines = [x for x in axz.get_lines() if x.get_linestyle() != ":"]
    expect = [("compute_tok_s", CONSTRAINT_COLORS["compute"]), ("power_tok_s", CONSTRAINT_COLORS["power"]),
              ("cooling_tok_s", CONSTRAINT_COLORS["cooling"]), ("demand_tok_s", "#444444"),
              ("achieved_tok_s", "#111111")]
    assert len(lines) == len(expect)
    for ln, (col, colour) in zip(lines, expect):
        np.testing.assert_allclose(ln.get_xdata(), _edges_h(ts))
        np.testing.assert_array_equal(_tick_values(ln), ts[col])
        assert _rgb(ln.get_color()) == _rgb(colour)


def test_off_scale_ceiling_is_marked_at_the_top_with_its_peak():
    """A ceiling entirely above the axis runs along its top edge with ▲ markers there, and its legend quotes its
    highest value (not its lowest)."""
    from dcsim.plots.figures import _eng

    r = synthetic_result(samples=False)
    ts = dict(r.timeseries)
    ts["cooling_tok_s"] = ts["cooling_tok_s"] * 10.0
    ax = signature_plot(SimpleNamespace(report=r.report, timeseries=ts)).axes[0]
    top = ax.get_ylim()[1]
    assert _line(ax, f"Q  cooling ceiling (off scale) ▲ up to {_eng(ts['cooling_tok_s'].max())}tok/s")
    marks = [x for x in ax.get_lines() if x.get_marker() == "^"]
    assert len(marks) == 1 and _rgb(marks[0].get_color()) == _rgb(CONSTRAINT_COLORS["cooling"])
    np.testing.assert_array_equal(marks[0].get_ydata(), top)


def _tiled(days: int, tick_s: float = 900.0):
    """The toy day repeated `days` times (a run long enough for the daily-mean drawing)."""
    r = synthetic_result(tick_s=tick_s, samples=False)
    n = r.timeseries["t_s"].size
    ts = {k: np.tile(v, days) for k, v in r.timeseries.items()}
    ts["t_s"] = np.arange(n * days) * tick_s
    rep = {**r.report, "duration_s": 86400.0 * days, "binding": {**r.report["binding"], "shifts": []}}
    return SimpleNamespace(report=rep, timeseries=ts)


def test_long_run_figures_draw_daily_means():
    """Beyond two weeks the signature and power figures draw one step per day, of that day's means, on a day axis."""
    from dcsim.plots.figures import daily_means

    r = _tiled(16)
    d = daily_means(r.timeseries)
    fig = signature_plot(r)
    ax = fig.axes[0]
    assert fig.axes[-1].get_xlabel() == "local date (day of the year)" and "daily means" in ax.get_title()
    np.testing.assert_allclose(_line(ax, "achieved").get_xdata(), np.arange(17.0))
    np.testing.assert_allclose(_tick_values(_line(ax, "achieved")), d["achieved_tok_s"], rtol=1e-12)
    ax = power_stack_plot(r).axes[0]
    assert ax.get_xlabel() == "local date (day of the year)" and "daily means" in ax.get_title()
    np.testing.assert_allclose(_tick_values(_line(ax, "facility (meter)")), d["facility_power_w"] * 1e-3, rtol=1e-12)


def _band_at(coll, x):
    """(bottom, top) of a filled polygon where the vertical line at each x crosses its horizontal edges (NaN where
    it misses the polygon)."""
    out = []
    for xm in np.atleast_1d(x):
        ys = []
        for p in coll.get_paths():
            a, b = p.vertices[:-1], p.vertices[1:]
            sel = (a[:, 0] - xm) * (b[:, 0] - xm) < 0
            ys += list(a[sel, 1]) + list(b[sel, 1])
        out.append((min(ys), max(ys)) if ys else (np.nan, np.nan))
    return np.array(out)


def test_power_stack_layers_are_each_component(result):
    """Each layer spans its component over each tick (GPU at the bottom, then the rest of IT, cooling, delivery
    losses, fixed loads) in its own colour, and the legend lists them top first as they are stacked. Catches two
    components swapped under the right labels (the total is unchanged) and a stack shifted by a tick."""
    from dcsim.plots.figures import POWER_COLORS

    ts = result.timeseries
    ax = power_stack_plot(result).axes[0]
    edges = _edges_h(ts)
    mid = 0.5 * (edges[:-1] + edges[1:])
    parts = [("GPU", ts["gpu_power_w"], "gpu"), ("rest of IT (host, network)", ts["it_power_w"] - ts["gpu_power_w"],
             "it_other"), ("cooling", ts["cooling_power_w"], "cooling"),
             ("delivery losses", ts["loss_power_w"], "losses"), ("fixed loads", ts["fixed_power_w"], "fixed")]
    below = np.zeros(ts["t_s"].size)
    for coll, (label, w, colour) in zip(ax.collections, parts):
        assert coll.get_label() == label
        assert _rgb(coll.get_facecolor()[0]) == _rgb(POWER_COLORS[colour])
        np.testing.assert_allclose(_band_at(coll, mid), np.c_[below, below + w] * 1e-3, rtol=1e-9)
        below = below + w
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    group = legend[legend.index("power by component") + 1:]  # the strip's group first: test_power_stack_legend_groups
    assert group == ["interconnect cap", "facility (meter)"] + [p[0] for p in parts[::-1]]


def test_power_stack_colours_are_not_constraint_colours(result):
    """The power figure draws the stack under a strip of what binds: no layer may be a near-twin of a constraint's
    colour (the audit of the figures: GPU #3B6FB6 beside compute #0072B2, CIELAB distance 9; cooling #2AA198 beside
    cooling #009E73, 21; fixed loads #B0B0B0 beside demand #8C8C8C, 14), and the layers tell apart. The figure draws
    the palette (not a copy of it)."""
    from dcsim.plots.figures import POWER_COLORS, POWER_LAYERS

    for layer in POWER_LAYERS:
        for name, c in CONSTRAINT_COLORS.items():
            d = float(np.linalg.norm(_cielab(POWER_COLORS[layer]) - _cielab(c)))
            assert d >= 35.0, (layer, name, round(d))
    for i, a in enumerate(POWER_LAYERS):
        for b in POWER_LAYERS[i + 1:]:
            assert np.linalg.norm(_cielab(POWER_COLORS[a]) - _cielab(POWER_COLORS[b])) >= 25.0, (a, b)
    for layer in POWER_LAYERS:  # visible on the white axes (fixed loads' cream #F2E6D0 was 14.7 from white)
        d = float(np.linalg.norm(_cielab(POWER_COLORS[layer]) - _cielab("white")))
        assert d >= 30.0, (layer, round(d, 1))
    ax = power_stack_plot(result).axes[0]
    assert [_rgb(c.get_facecolor()[0]) for c in ax.collections[:5]] == [_rgb(POWER_COLORS[k]) for k in POWER_LAYERS]


def test_power_stack_legend_groups(result):
    """The legend is two titled groups: what binds (the top strip, in the constraint colours, the at-cap note with
    it) and the power by component (the lines and the stack), so "cooling binds" is not read beside "cooling"."""
    from dcsim.plots.figures import POWER_LEGEND_TITLES

    ts = {k: np.array(v, copy=True) for k, v in result.timeseries.items()}
    ts["interconnect_w"] = ts["facility_power_w"].astype(float).copy()  # at the cap: the note is in the strip's group
    ax = power_stack_plot(SimpleNamespace(report=result.report, timeseries=ts)).axes[0]
    leg = ax.get_legend()
    texts = [t.get_text() for t in leg.get_texts()]
    codes = sorted(set(ts["binding"].astype(int).tolist()))
    strip = [f"{BINDING_NAMES[c]} binds" for c in codes]
    assert texts[0] == POWER_LEGEND_TITLES[0] and texts[1:1 + len(strip)] == strip
    assert texts[1 + len(strip)].startswith("at the cap") and texts[2 + len(strip)] == POWER_LEGEND_TITLES[1]
    assert not [t for t in texts if t.startswith("top strip")]
    for i, c in enumerate(codes):
        assert _rgb(leg.legend_handles[1 + i].get_facecolor()) == _rgb(CONSTRAINT_COLORS[BINDING_NAMES[c]])
    bold = [t.get_text() for t in leg.get_texts() if t.get_fontweight() == "bold"]
    assert bold == list(POWER_LEGEND_TITLES)


def test_pue_plot_run_line_is_the_reports_pue(result):
    """The dashed line and its legend give the run's energy-weighted PUE from the report (not a mean of the ticks)."""
    pue = result.report["pue"]
    assert abs(pue - np.mean(result.timeseries["pue"])) > 5e-4  # the two differ enough to tell apart
    ax = pue_plot(result).axes[0]
    ln = _line(ax, f"run PUE (energy-weighted) {pue:.3f}")
    np.testing.assert_array_equal(ln.get_ydata(), pue)
    assert ax.get_ylabel() == "PUE (facility / IT power)"


def test_latency_slo_lines_in_their_class_colour(result):
    """Each class's SLO line has its CDF's colour (else the planner reads chat's SLO against batch's curve)."""
    fig = latency_cdf_plot(result)
    for ax in fig.axes:
        for cls in result.latency_samples:
            cdf = [x for x in ax.get_lines() if x.get_label().startswith(f"{cls} (n=")][0]
            for slo_line in [x for x in ax.get_lines() if x.get_label().startswith(f"{cls} SLO")]:
                assert slo_line.get_color() == cdf.get_color()
    # the curves are of the completed requests (a shed one has no latency): the axis says so
    assert fig.axes[0].get_ylabel() == "fraction of completed requests ≤ x"


def test_joules_per_token_plot_of_a_run_that_served_no_token(result):
    """A run that served no output token has J/token null in report.json: the figure draws no bars (it raised a
    TypeError, an internal error at the end of such a run)."""
    import copy
    rep = copy.deepcopy(result.report)
    rep["joules_per_output_token"] = {k: None for k in ("gpu", "it", "facility")}
    fig = joules_per_token_plot(rep)
    ax = fig.axes[0]
    assert all(np.isnan(b.get_height()) for b in ax.patches)  # three bars, none drawn
    assert len(ax.patches) == 3
    assert not [c for c in ax.collections if c.get_gid() == "error-band-jpt"]
    assert not [t for t in ax.texts if t.get_text().endswith(" J")]  # no value labels


def test_joules_per_token_ratio_labels(result):
    jpt = result.report["joules_per_output_token"]
    texts = [t.get_text() for t in joules_per_token_plot(result).axes[0].texts]
    assert f"×{jpt['it'] / jpt['gpu']:.2f}\nof GPU" in texts
    assert [f"{jpt[k]:#.3g} J" for k in ("gpu", "it", "facility")] == [t for t in texts if t.endswith(" J")]


def test_power_stack_with_storage_draws_the_meter_not_facility_as_meter(result):
    """With a battery the meter (what the interconnect cap limits) is facility power minus the battery's output:
    the stack's top (facility, before storage) must not be labelled the meter, and the meter is drawn at its own
    values. (It was: a battery covering a peak showed 'facility (meter)' above the cap.)"""
    ts = dict(result.timeseries)
    batt = np.where(ts["facility_power_w"] > 0.95 * ts["interconnect_w"], 40e3, -10e3)
    ts["meter_power_w"] = ts["facility_power_w"] - batt
    ax = power_stack_plot(SimpleNamespace(report=result.report, timeseries=ts)).axes[0]
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert "facility (meter)" not in labels
    np.testing.assert_allclose(_tick_values(_line(ax, "facility (before storage)")), ts["facility_power_w"] * 1e-3)
    np.testing.assert_allclose(_tick_values(_line(ax, "meter (after storage)")), ts["meter_power_w"] * 1e-3)
    assert ax.get_ylim()[1] >= ts["meter_power_w"].max() * 1e-3
    # without storage the meter equals facility power: one line, labelled as the meter
    ts["meter_power_w"] = ts["facility_power_w"].copy()
    ax = power_stack_plot(SimpleNamespace(report=result.report, timeseries=ts)).axes[0]
    assert [ln.get_label() for ln in ax.get_lines()] == ["facility (meter)", "interconnect cap"]


# --- flex figures (grid: meter, requests, battery, deferred work; thermal response) -------------------------------

def _flex_result(tick_s: float = 120.0):
    """TEST FIXTURE: the toy day with a grid block (a 1 h curtailment request after a 1 h notice, a one-tick
    request, one running at the end), a battery that covers the request, deferred work, and a thermal block with
    throttled and shed ticks."""
    r = synthetic_result(tick_s=tick_s, samples=False)
    ts = dict(r.timeseries)
    n = ts["t_s"].size
    event, notice = np.zeros(n, np.int8), np.zeros(n, np.int8)
    event[300:330] = 1
    event[500] = 1
    event[-3:] = 1  # a request still on when the run ends: shaded to the end of its last tick
    notice[270:300] = 1
    ts["curtailment"], ts["curtailment_notice"] = event, notice
    ts["interconnect_w"] = np.where(event > 0, 0.7, 1.0) * ts["interconnect_w"]
    batt = np.where(event > 0, 0.2 * ts["facility_power_w"], np.where(np.arange(n) < 300, -5e3, 0.0))
    ts["battery_w"] = batt
    ts["meter_power_w"] = ts["facility_power_w"] - batt
    ts["battery_energy_j"] = 2.0e9 - np.cumsum(batt) * tick_s
    ts["deferred_backlog_tokens"] = 1e6 * np.abs(np.sin(ts["t_s"] / 20000.0)) * 3e3
    space = 27.0 + 8.0 * np.exp(-((ts["t_s"] / 3600.0 - 15.0) / 2.0) ** 2)
    ts["t_space_c"], ts["t_loop_c"] = space, space - 6.0
    ts["thermal_engaged"] = (space > 28.0).astype(np.int8)
    ts["thermal_throttled"] = ((space > 33.0) & (space <= 34.5)).astype(np.int8)
    ts["thermal_shed"] = (space > 34.5).astype(np.int8)
    # a throttle makes Q bind (the engine's throttled ticks are cooling-bound, but where demand is lower still)
    ts["binding"] = np.where(ts["thermal_throttled"] > 0, BINDING_NAMES.index("cooling"), ts["binding"])
    rep = {**r.report, "grid": {"curtailment": {"requests": 2}}, "storage": {"energy_capacity_j": 2.5e9},
           "thermal": {"t_limit_c": 87.0, "shed_space_c": 34.5, "r_th_k_per_w": (87.0 - 35.0) / 700.0}}
    return SimpleNamespace(report=rep, timeseries=ts)


def test_grid_flex_figure_draws_a_cap_lowered_by_a_curtailment_fault_alone():
    """A run with a grid block, no battery, no deferred work and no utility request, whose cap a curtailment fault
    lowers (the `curtailment` column marks requests only): the figure shows the meter against the lowered cap;
    with nothing lowered, no figure. Until 2026-12-05 the figure read the `curtailment` column and was left out."""
    from dcsim.plots.flex import grid_flex_figure

    r = _flex_result()
    ts = {k: v for k, v in r.timeseries.items() if k not in ("battery_w", "battery_energy_j", "deferred_backlog_tokens")}
    n = ts["t_s"].size
    ts["curtailment"], ts["curtailment_notice"] = np.zeros(n, np.int8), np.zeros(n, np.int8)
    contract = float(np.max(r.timeseries["interconnect_w"]))
    rep = {**r.report, "interconnect_w": contract}
    ts["meter_power_w"] = ts["facility_power_w"]
    ts["interconnect_w"] = np.full(n, contract)
    assert grid_flex_figure(SimpleNamespace(report=rep, timeseries=ts)) is None
    ts["interconnect_w"] = np.where((np.arange(n) >= 300) & (np.arange(n) < 310), 0.6, 1.0) * contract  # the fault
    fig = grid_flex_figure(SimpleNamespace(report=rep, timeseries=ts))
    assert fig is not None
    np.testing.assert_allclose(_tick_values(_line(fig.axes[0], CAP_IN_FORCE)), ts["interconnect_w"] * 1e-3)



def test_grid_flex_figure_draws_a_curtailment_fault_over_the_whole_run():
    """A curtailment fault from start to end holds every tick at 60 % of the 200-kW contract: the run's highest cap
    (report["interconnect_w"], 120 kW) is then no contract, and the figure compared the cap with it and was left out
    until 2026-12-05. The contract is report.json's grid.contract_w."""
    from conftest import small_scenario
    from dcsim.engine.run import run
    from dcsim.plots.flex import grid_flex_figure
    from dcsim.scenario import load_scenario

    raw = small_scenario()
    raw["grid"] = {}
    raw["faults"] = [{"kind": "curtailment", "start": "0 s", "duration": "2 h", "fraction": 0.6}]
    r = run(load_scenario(raw))
    assert r.report["grid"]["contract_w"] == pytest.approx(200e3)
    np.testing.assert_allclose(r.timeseries["interconnect_w"], 120e3)
    fig = grid_flex_figure(r)
    assert fig is not None
    np.testing.assert_allclose(_tick_values(_line(fig.axes[0], CAP_IN_FORCE)), 120.0)


def _shaded(ax, label, x):
    """Whether each x is inside the shading labelled `label` (a collection filling the axes' height)."""
    colls = [c for c in ax.collections if c.get_label() == label]
    assert len(colls) == 1, [c.get_label() for c in ax.collections]
    return np.nan_to_num(_band_at(colls[0], x)[:, 1]) > 0.5


def test_grid_flex_figure_draws_meter_cap_requests_battery_and_backlog():
    """Meter, facility and the cap in force at each tick's value over that tick (kW); requests and notices shaded
    over exactly their ticks (they were a tick short, and a one-tick request was not shaded at all); the battery's
    state of charge; the deferred work waiting (Gtok)."""
    from dcsim.plots.flex import grid_flex_figure

    r = _flex_result()
    ts = r.timeseries
    fig = grid_flex_figure(r)
    ax, axb, axd = fig.axes
    edges = _edges_h(ts)
    mid = 0.5 * (edges[:-1] + edges[1:])
    for label, col in (("meter", "meter_power_w"), ("facility (before storage)", "facility_power_w"),
                       (CAP_IN_FORCE, "interconnect_w")):
        ln = _line(ax, label)
        np.testing.assert_allclose(ln.get_xdata(), edges)
        np.testing.assert_allclose(_tick_values(ln), ts[col] / 1e3)
    assert ax.get_ylabel() == "power (kW)"  # the quantity with its unit (walkthrough 2026-12-06: "kW")
    np.testing.assert_array_equal(_shaded(ax, "curtailment request", mid), ts["curtailment"] > 0)
    np.testing.assert_array_equal(_shaded(ax, "notice", mid), ts["curtailment_notice"] > 0)
    # state of charge in % of the report's capacity (it was a bare 0–1 'battery SoC': no unit)
    np.testing.assert_allclose(_tick_values(axb.get_lines()[0]), 100.0 * ts["battery_energy_j"] / 2.5e9)
    assert axb.get_ylabel() == "battery charge\n(% of capacity)" and axb.get_ylim() == (0.0, 100.0)
    np.testing.assert_allclose(_tick_values(axd.get_lines()[0]), ts["deferred_backlog_tokens"] / 1e9)
    assert axd.get_ylabel() == "deferred work\nwaiting (Gtok)"
    assert axd.get_xlabel() == "local time, day 196"
    np.testing.assert_allclose(axd.get_lines()[0].get_xdata(), edges)


def test_grid_and_thermal_figures_use_days_beyond_three_days():
    """A year against 'hours from start' (0 … 8,760) cannot be read as dates: beyond 3 days the grid and thermal
    figures run in days from the start, the data at the same ticks (t / 86,400) and the shading on the same ticks;
    3 days or less stay in hours. The axis is the local clock (hours, then dates) when the report has one, elapsed
    time from the start, said so, when it has none."""
    from dcsim.plots.flex import grid_flex_figure, thermal_figure

    for stretch, unit, label, local in ((3.0, 3600.0, "hours from start", "local time, day 196–198"),
                                        (5.0, 86400.0, "days from start", "local date (day of the year)")):
        for clock in (True, False):
            r = _flex_result()
            ts = {**r.timeseries, "t_s": r.timeseries["t_s"] * stretch}  # the toy day drawn out over `stretch` days
            rep = r.report if clock else {k: v for k, v in r.report.items() if k != "clock"}
            r = SimpleNamespace(report=rep, timeseries=ts)
            edges = _edges_h(ts) * 3600.0 / unit
            mid = 0.5 * (edges[:-1] + edges[1:])
            fig = grid_flex_figure(r)
            ax = fig.axes[0]
            np.testing.assert_allclose(_line(ax, "meter").get_xdata(), edges)
            np.testing.assert_allclose(_tick_values(_line(ax, "meter")), ts["meter_power_w"] / 1e3)
            np.testing.assert_array_equal(_shaded(ax, "curtailment request", mid), ts["curtailment"] > 0)
            np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_xdata(), edges)
            assert fig.axes[-1].get_xlabel() == (local if clock else label)
            assert fig.axes[-1].get_xlim() == pytest.approx((0.0, edges[-1]))
            ax = thermal_figure(r).axes[0]
            np.testing.assert_allclose(_line(ax, "loop water").get_xdata(), edges)
            np.testing.assert_array_equal(_shaded(ax, "shed (IT off)", mid), ts["thermal_shed"] > 0)
            assert ax.get_xlabel() == (local if clock else label)
            ticks = [t for t in ax.get_xticks() if 0 <= t <= edges[-1] + 1e-9]
            if unit == 86400.0:  # a tick a day in a short run (local midnights; elapsed days)
                assert ticks == pytest.approx([0, 1, 2, 3, 4, 5])
            elif clock:  # three days on the local clock: every 12 h
                assert ticks == pytest.approx(np.arange(0.0, 73.0, 12.0))


def test_cap_line_is_named_alike_in_power_and_grid_figures():
    """During a curtailment the dashed line is the cap in force, not the interconnect contract: the power figure
    called it 'interconnect cap' where the grid figure said 'cap in force'. Both now name it the same way: the cap
    in force when a curtailment lowers it, the interconnect cap when it never moves."""
    from dcsim.plots.flex import grid_flex_figure

    r = _flex_result()
    ts = r.timeseries
    for fig in (power_stack_plot(r), grid_flex_figure(r)):
        ax = fig.axes[0]
        scale = 1e-3
        np.testing.assert_allclose(_tick_values(_line(ax, CAP_IN_FORCE)), ts["interconnect_w"] * scale)
        assert CAP_IN_FORCE in [t.get_text() for t in ax.get_legend().get_texts()]
        assert "interconnect cap" not in [ln.get_label() for ln in ax.get_lines()]
    flat = SimpleNamespace(report=r.report, timeseries={**ts, "interconnect_w": np.full(ts["t_s"].size, 4.6e5)})
    for fig in (power_stack_plot(flat), grid_flex_figure(flat)):
        assert "interconnect cap" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def _long_flex_result(days: int = 20, tick_s: float = 900.0):
    """TEST FIXTURE: the flex toy stretched to `days` days of 15-min ticks, a 2-h curtailment to half the contract
    on day 5 (after a 1-h notice) that the battery covers down to 10 % of its charge."""
    r = _flex_result()
    t = np.arange(0.0, days * 86400.0, tick_s)
    n, day = t.size, 96
    hour = (t % 86400.0) / 3600.0
    fac = 4.0e5 + 5.0e4 * np.sin(2 * np.pi * hour / 24.0)
    event = ((t >= 5 * 86400 + 14 * 3600) & (t < 5 * 86400 + 16 * 3600)).astype(np.int8)
    notice = ((t >= 5 * 86400 + 13 * 3600) & (t < 5 * 86400 + 14 * 3600)).astype(np.int8)
    cap = np.where(event > 0, 2.5e5, 5.0e5)
    meter = np.minimum(fac, cap)
    ts = {k: np.resize(np.asarray(v), n) for k, v in r.timeseries.items() if np.shape(v) == r.timeseries["t_s"].shape}
    ts.update({"t_s": t, "facility_power_w": fac, "meter_power_w": meter, "interconnect_w": cap,
               "curtailment": event, "curtailment_notice": notice, "battery_w": fac - meter,
               "battery_energy_j": 2.25e9 - 2.0e9 * (event.cumsum() / max(event.sum(), 1)) * (t < 6 * 86400),
               "deferred_backlog_tokens": 1e9 * (1 + np.sin(2 * np.pi * hour / 24.0)),
               "it_power_w": 0.7 * fac, "gpu_power_w": 0.4 * fac, "cooling_power_w": 0.2 * fac,
               "loss_power_w": 0.1 * fac})
    assert n == days * day
    return SimpleNamespace(report=r.report, timeseries=ts)


def test_long_grid_figure_draws_daily_ranges_and_the_caps_lowest():
    """A year of 15-min ticks drawn tick by tick was a solid block of lines: beyond two weeks the grid figure draws
    each day's range (lowest to highest, shaded) and mean of the meter, battery charge and deferred work; the cap
    at the day's highest and, on a curtailed day, a ▼ at its lowest; days with a request as a strip on top."""
    from dcsim.plots.flex import grid_flex_figure

    r = _long_flex_result()
    ts = r.timeseries
    fig = grid_flex_figure(r)
    ax, axb, axd = fig.axes
    assert "(daily)" in ax.get_title() and axd.get_xlabel() == "local date (day of the year)"
    meter = ts["meter_power_w"].reshape(20, -1) / 1e3
    np.testing.assert_allclose(_tick_values(_line(ax, "meter, daily mean")), meter.mean(axis=1))
    np.testing.assert_allclose(_line(ax, "meter, daily mean").get_xdata(), np.arange(21.0))
    band = [c for c in ax.collections if c.get_label() == "meter, day's lowest–highest"][0]
    np.testing.assert_allclose(_band_at(band, np.arange(20) + 0.5), np.c_[meter.min(axis=1), meter.max(axis=1)])
    np.testing.assert_allclose(_tick_values(_line(ax, "cap in force, day's highest")), 500.0)
    low = _line(ax, "cap in force, day's lowest (1 curtailed days)")
    assert list(low.get_xdata()) == [5.5] and list(low.get_ydata()) == [250.0]
    req = [c for c in ax.collections if c.get_label() == "day with a curtailment request"][0]
    strip = _band_at(req, np.arange(20) + 0.5)  # a strip along the top (axes fraction), on day 5 only
    assert list(strip[:, 1] - strip[:, 0] > 0.05) == [d == 5 for d in range(20)] and strip[5, 1] == 1.0
    soc = 100.0 * ts["battery_energy_j"].reshape(20, -1) / 2.5e9
    np.testing.assert_allclose(_tick_values(_line(axb, "charge, daily mean")), soc.mean(axis=1))
    band = [c for c in axb.collections if c.get_label() == "charge, day's lowest–highest"][0]
    assert _band_at(band, 5.5)[0] == pytest.approx([soc[5].min(), soc[5].max()])
    np.testing.assert_allclose(_tick_values(_line(axd, "waiting, daily mean")),
                               ts["deferred_backlog_tokens"].reshape(20, -1).mean(axis=1) / 1e9)
    for a in fig.axes:  # no panel draws a line per tick
        assert all(len(ln.get_xdata()) <= 21 for ln in a.get_lines())


def test_long_power_figure_marks_the_caps_daily_lowest():
    """The daily-mean power figure drew the cap as its daily mean: a 2-h cut to half the contract read as a 4 % dip.
    It draws the cap at the day's highest and, on each curtailed day, a line down to a ▼ at the day's lowest."""
    r = _long_flex_result()
    ax = power_stack_plot(r).axes[0]
    np.testing.assert_allclose(_tick_values(_line(ax, "cap in force, day's highest")), 500.0)
    low = _line(ax, "cap in force, day's lowest (1 curtailed days)")
    assert list(low.get_xdata()) == [5.5] and list(low.get_ydata()) == [250.0]
    assert CAP_IN_FORCE not in [ln.get_label() for ln in ax.get_lines()]
    # a cap that never moves stays one line, 'interconnect cap'
    flat = SimpleNamespace(report=r.report, timeseries={**r.timeseries, "interconnect_w": np.full(1920, 5e5)})
    labels = [ln.get_label() for ln in power_stack_plot(flat).axes[0].get_lines()]
    assert "interconnect cap" in labels and not [x for x in labels if "day's" in x]


def test_grid_flex_figure_draws_in_no_constraints_colour():
    """grid-flex's grid_flex.png drew the meter in matplotlib's blue (CIELAB distance 2.9 from compute), the notice
    in its orange (15 from power), the battery in its green and the facility before storage in demand's grey itself:
    the notice hour read as power-bound beside the signature's cooling band. Every line and shading of the figure,
    tick by tick and daily, now keeps >= 35 from each constraint's colour, but the cap: power.png's red, the power
    limit itself."""
    from matplotlib.colors import to_hex

    from dcsim.plots.figures import POWER_COLORS
    from dcsim.plots.flex import grid_flex_figure

    for r in (_flex_result(), _long_flex_result()):
        fig = grid_flex_figure(r)
        drawn = []
        for ax in fig.axes:
            drawn += [(ln.get_label(), ln.get_color()) for ln in ax.get_lines()]
            drawn += [(c.get_label(), fc) for c in ax.collections for fc in c.get_facecolor()[:1]]
        assert len(drawn) >= 6, drawn
        for label, colour in drawn:
            if to_hex(colour).lower() == POWER_COLORS["cap"].lower():
                assert "cap" in label, label
                continue
            for name, c in CONSTRAINT_COLORS.items():
                d = float(np.linalg.norm(_cielab(to_hex(colour)) - _cielab(c)))
                assert d >= 35.0, (label, to_hex(colour), name, round(d, 1))


def test_thermal_figure_draws_temperatures_limits_and_responses():
    """White space, loop and GPU die (inlet + R_th × power per GPU, none while shed) over each tick; the GPU and
    room limits at the report's values; throttled and shed ticks shaded over exactly their ticks."""
    from dcsim.plots.flex import thermal_figure

    r = _flex_result()
    ts, th = r.timeseries, r.report["thermal"]
    ax = thermal_figure(r).axes[0]
    edges = _edges_h(ts)
    mid = 0.5 * (edges[:-1] + edges[1:])
    np.testing.assert_allclose(_tick_values(_line(ax, "white space (GPU inlet / coolant)")), ts["t_space_c"])
    np.testing.assert_allclose(_tick_values(_line(ax, "loop water")), ts["t_loop_c"])
    die = ts["t_space_c"] + th["r_th_k_per_w"] * ts["gpu_power_w"] / ts["gpus_in_service"]
    die = np.where(ts["thermal_shed"] > 0, np.nan, die)
    np.testing.assert_allclose(_tick_values(_line(ax, "GPU die (inlet + R_th·P per GPU)")), die)
    np.testing.assert_array_equal(_line(ax, "GPU limit 87 °C: throttle").get_ydata(), 87.0)
    np.testing.assert_array_equal(_line(ax, "room limit 34.5 °C: shed").get_ydata(), 34.5)
    assert ts["thermal_throttled"].any() and ts["thermal_shed"].any()
    np.testing.assert_array_equal(_shaded(ax, "thermal throttle (cooling binds)", mid), ts["thermal_throttled"] > 0)
    np.testing.assert_array_equal(_shaded(ax, "shed (IT off)", mid), ts["thermal_shed"] > 0)
    assert ax.get_ylabel() == "temperature (°C)" and ax.get_xlabel() == "local time, day 196"


def test_thermal_figure_throttle_in_the_cooling_colour_shed_hatched_legend_outside():
    """chiller-trip's thermal.png shaded the throttle in the power colour (the signature colours the same ticks
    cooling) and the shed grey (demand's colour), with the legend over the temperature rise: the throttle is
    CONSTRAINT_COLORS["cooling"], the shed a hatch with no fill, and the legend beside the axes."""
    from dcsim.plots.flex import thermal_figure

    ax = thermal_figure(_flex_result()).axes[0]
    by = {c.get_label(): c for c in ax.collections}
    thr, shed = by["thermal throttle (cooling binds)"], by["shed (IT off)"]
    assert _rgb(thr.get_facecolor()[0]) == _rgb(CONSTRAINT_COLORS["cooling"])
    fc = shed.get_facecolor()
    assert shed.get_hatch() == "xx" and (len(fc) == 0 or fc[0][3] == 0.0)  # hatched, no fill
    handles = dict(zip([t.get_text() for t in ax.get_legend().get_texts()], ax.get_legend().legend_handles))
    assert handles["shed (IT off)"].get_hatch() == shed.get_hatch()  # its legend entry shows the same hatch
    assert all(_rgb(shed.get_edgecolor()[0]) != _rgb(c) for c in CONSTRAINT_COLORS.values())  # the hatch colour
    leg = ax.get_legend()
    assert leg.get_bbox_to_anchor().x0 >= ax.get_window_extent().x1  # outside the axes, to the right


def test_thermal_figure_shades_each_throttled_tick_in_the_colour_of_its_binding():
    """chiller-trip's first 18 throttled ticks (11:33:30-11:36:30) were demand-bound (timeseries ``binding``; the
    throttled clock still served the work): thermal.png shaded them in the cooling colour as "cooling binds" while the
    signature's band drew them demand grey. Each throttled tick is now shaded in its binding's colour, under a label
    that names it; the cooling-bound ones alone under "thermal throttle (cooling binds)"."""
    from dcsim.plots.flex import thermal_figure

    r = _flex_result()
    ts = dict(r.timeseries)
    thr = np.flatnonzero(ts["thermal_throttled"] > 0)
    bind = np.asarray(ts["binding"]).copy()
    bind[thr[:5]] = BINDING_NAMES.index("demand")  # the throttle's first ticks: demand under the throttled rate
    ts["binding"] = bind
    ax = thermal_figure(SimpleNamespace(report=r.report, timeseries=ts)).axes[0]
    edges = _edges_h(ts)
    mid = 0.5 * (edges[:-1] + edges[1:])
    throttled = ts["thermal_throttled"] > 0
    np.testing.assert_array_equal(_shaded(ax, "thermal throttle (cooling binds)", mid),
                                  throttled & (bind == BINDING_NAMES.index("cooling")))
    dem = [c for c in ax.collections if c.get_label().startswith("thermal throttle, demand binds")]
    assert len(dem) == 1 and _rgb(dem[0].get_facecolor()[0]) == _rgb(CONSTRAINT_COLORS["demand"])
    np.testing.assert_array_equal(_shaded(ax, dem[0].get_label(), mid), throttled & (bind == 0))


# --- year figures (month × hour binding map, PUE against outdoor temperature) ------------------------------------

def _year_ts(seed: int = 11):
    """TEST FIXTURE: a year of hourly ticks from 1 Jan 2025, binding drawn at random (seeded) with month- and
    hour-dependent odds (cooling and power on summer afternoons, demand on winter nights), PUE rising with the
    outdoor temperature."""
    from datetime import datetime

    rng = np.random.default_rng(seed)
    t = np.arange(365 * 24) * 3600.0
    day, hour = t // 86400.0, (t // 3600.0) % 24
    from dcsim.metrics.annual import month_hour_index

    start = datetime(2025, 1, 1)
    mo, hr = month_hour_index(t, start)
    summer, afternoon = (mo >= 5) & (mo <= 8), (hr >= 11) & (hr <= 18)
    odds = np.select([(summer & afternoon)[:, None], summer[:, None], (hr < 6)[:, None]],
                     [[0.0, 0.1, 0.35, 0.55], [0.4, 0.6, 0.0, 0.0], [0.97, 0.03, 0.0, 0.0]], [0.5, 0.3, 0.2, 0.0])
    binding = (rng.random(t.size)[:, None] > np.cumsum(odds, axis=1)).sum(axis=1)
    t_out = 10.0 - 12.0 * np.cos(2 * np.pi * (day - 15.0) / 365.0) + 5.0 * np.sin(2 * np.pi * (hour - 9.0) / 24.0)
    pue = 1.1 + 0.01 * np.maximum(t_out - 15.0, 0.0) + 0.002 * rng.random(t.size)
    it = 1.0e6 * (0.8 + 0.2 * rng.random(t.size))
    ts = {"t_s": t, "binding": binding, "it_power_w": it, "facility_power_w": it * pue, "pue": pue,
          "achieved_tok_s": it / 1.2, "t_out_c": t_out}
    return ts, start


@pytest.fixture(scope="module")
def year():
    from dcsim.metrics.annual import annual_summary

    ts, start = _year_ts()
    return ts, start, annual_summary(ts, start, tick_s=3600.0)


def test_month_hour_map_cells_numbers_and_runner_up(year):
    """Each cell is a tint of the colour of the constraint binding most often in it (paler the smaller its share:
    alpha 0.25 + 0.75 × share), with that share printed in it; months run Jan..Dec downwards; the corner triangle
    is in the runner-up's colour where the runner-up binds ≥ 5 % of the cell."""
    from matplotlib.patches import Polygon

    from dcsim.plots.annual import MONTHS, binding_month_hour_plot

    _, _, a = year
    b = a["binding"]
    top = np.asarray(b["month_hour_binding"])
    share = np.stack([np.asarray(b["month_hour_share"][n], dtype=float) for n in BINDING_NAMES])
    assert set(np.unique(top)) == {0, 1, 2, 3}
    ax = binding_month_hour_plot(a).axes[0]
    img = np.asarray(ax.images[0].get_array(), dtype=float)
    assert img.shape == (12, 24, 3) and ax.images[0].get_extent() == [-0.5, 23.5, 11.5, -0.5]
    for i in range(12):
        for j in range(24):
            rgb, s = np.asarray(_rgb(CONSTRAINT_COLORS[BINDING_NAMES[top[i, j]]])), share[top[i, j], i, j]
            np.testing.assert_allclose(img[i, j], 1.0 - (0.25 + 0.75 * s) * (1.0 - rgb), atol=1e-12)
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert cells == {(i, j): f"{100 * share[top[i, j], i, j]:.0f}" for i in range(12) for j in range(24)}
    assert [t.get_text() for t in ax.get_yticklabels()] == list(MONTHS)
    srt = np.sort(share, axis=0)
    want = {(i, j): BINDING_NAMES[int(np.argsort(share[:, i, j])[-2])] for i in range(12) for j in range(24)
            if srt[-2, i, j] >= 0.05}
    assert 0 < len(want) < 288
    tri = [p for p in ax.patches if isinstance(p, Polygon)]
    got = {}
    for p in tri:
        x, y = p.get_xy()[0]  # the cell's lower-right corner (j + 0.5, i + 0.5)
        got[(round(y - 0.5), round(x - 0.5))] = p.get_facecolor()[:3]
    assert got.keys() == want.keys()
    for k, name in want.items():
        assert got[k] == _rgb(CONSTRAINT_COLORS[name])


def test_month_hour_map_legend_shows_a_corner_triangle(year):
    """The 'corner triangle' legend entry has a swatch that looks like a map cell with its triangle: a cell tinted
    as the map's most frequent top constraint among triangled cells, the runner-up's triangle in its lower right
    corner. (The entry had an empty swatch: the text explained a mark it did not show.)"""
    from matplotlib.patches import Polygon, Rectangle

    from dcsim.plots.annual import binding_month_hour_plot

    _, _, a = year
    b = a["binding"]
    top = np.asarray(b["month_hour_binding"])
    share = np.stack([np.asarray(b["month_hour_share"][n], dtype=float) for n in BINDING_NAMES])
    second = np.argsort(share, axis=0)[-2]
    has = np.sort(share, axis=0)[-2] >= 0.05
    pairs, counts = np.unique(np.c_[top[has], second[has]], axis=0, return_counts=True)
    t_, r_ = pairs[np.lexsort((pairs[:, 1], pairs[:, 0], counts))[-1]]
    fig = binding_month_hour_plot(a)
    fig.canvas.draw()
    leg = fig.axes[0].get_legend()
    texts = [t.get_text() for t in leg.get_texts()]
    assert texts[-1] == "corner triangle: runner-up, ≥ 5 % of the cell"
    tri = [p for p in leg.findobj(Polygon) if p.get_figure() is not None and len(p.get_xy()) >= 3]
    cells = [p for p in leg.findobj(Rectangle) if p is not leg.get_frame() and p.get_visible()]
    assert len(tri) == 1
    corner = tri[0].get_transform().transform(tri[0].get_xy()[:3])  # display coordinates, y up
    cell = min(cells, key=lambda c: np.linalg.norm(c.get_window_extent().p1 - corner.max(axis=0)))
    x0, y0, x1, y1 = cell.get_window_extent().extents
    assert corner[:, 0].max() == pytest.approx(x1, abs=0.5) and corner[:, 1].min() == pytest.approx(y0, abs=0.5)
    assert corner[:, 0].min() > x0 and corner[:, 1].max() < y1  # in the corner, not covering the cell
    assert _rgb(tri[0].get_facecolor()) == _rgb(CONSTRAINT_COLORS[BINDING_NAMES[r_]])
    tint = 1 - 0.6 * (1 - np.asarray(_rgb(CONSTRAINT_COLORS[BINDING_NAMES[t_]])))
    np.testing.assert_allclose(_rgb(cell.get_facecolor()), tint, atol=1e-9)


def test_month_hour_map_hours_panel(year):
    """The right panel's bars are the hours each constraint binds, against its name and in its colour."""
    from dcsim.plots.annual import binding_month_hour_plot

    _, _, a = year
    ax2 = binding_month_hour_plot(a).axes[-1]
    names = [t.get_text() for t in ax2.get_yticklabels()]
    assert sorted(names) == sorted(BINDING_NAMES)
    bars = sorted(ax2.patches, key=lambda p: p.get_y())
    by_name = {names[round(p.get_y() + p.get_height() / 2)]: p for p in bars}
    for name, p in by_name.items():
        assert p.get_width() == pytest.approx(a["hours_binding"][name])
        assert _rgb(p.get_facecolor()) == _rgb(CONSTRAINT_COLORS[name])
    texts = {round(t.get_position()[1]): t.get_text() for t in ax2.texts}
    assert {names[y]: s for y, s in texts.items()} == {k: f" {v:,.0f} h" for k, v in a["hours_binding"].items()}
    assert sum(a["hours_binding"].values()) == pytest.approx(8760.0)
    assert ax2.get_xlabel() == "hours binding"


def test_pue_outdoor_year_points_months_and_annual_line(year):
    """Dots are (outdoor dry-bulb, PUE) of each tick, coloured by month on the colour bar's scale (January at its
    'Jan' end, July at its 'Jul' end); black points are each month's PUE at its mean temperature, labelled with
    the month; the dashed line is the annual energy-weighted PUE. The run-level wrapper feeds the dry-bulb."""
    from dcsim.plots.annual import MONTHS, pue_outdoor_year_plot
    from dcsim.plots.flex import annual_pue_figure

    ts, start, a = year
    fig = pue_outdoor_year_plot(ts["t_s"], ts["pue"], ts["t_out_c"], start, summary=a)
    ax, cb = fig.axes
    sc = ax.collections[0]
    np.testing.assert_array_equal(sc.get_offsets(), np.c_[ts["t_out_c"], ts["pue"]])
    assert [t.get_text() for t in cb.get_yticklabels()] == ["Jan", "Apr / Oct", "Jul"]
    ticks = cb.get_yticks()
    c = np.asarray(sc.get_array())
    day = ts["t_s"] // 86400.0
    for lo, hi, label in ((0, 31, "Jan"), (181, 212, "Jul"), (90, 120, "Apr / Oct"), (273, 304, "Apr / Oct")):
        sel = (day >= lo) & (day < hi)
        nearest = np.argmin(np.abs(c[sel][:, None] - ticks[None, :]), axis=1)
        assert np.all(nearest == ["Jan", "Apr / Oct", "Jul"].index(label)), label
    # each labelled month exactly at its colour-bar tick, and one shade per month: the colours were half a month
    # off the labels (Jan and Feb one shade, Jul and Aug another, neither Jan nor Jul at its tick)
    from dcsim.metrics.annual import month_hour_index

    mo, _ = month_hour_index(ts["t_s"], start)
    np.testing.assert_allclose(c, -np.cos(2 * np.pi * mo / 12.0), atol=1e-12)
    shade = {MONTHS[m]: float(c[mo == m][0]) for m in range(12)}
    assert (shade["Jan"], shade["Apr"], shade["Jul"], shade["Oct"]) == pytest.approx((-1.0, 0.0, 1.0, 0.0))
    assert shade["Feb"] > shade["Jan"] + 0.1 and shade["Aug"] < shade["Jul"] - 0.1
    pts = [(ln.get_xdata()[0], ln.get_ydata()[0]) for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert pts == [pytest.approx((t, p)) for t, p in zip(a["t_out_c"]["mean_by_month"], a["pue"]["by_month"])]
    assert [(t.get_text(), t.xy) for t in ax.texts] == [(m, pytest.approx(xy)) for m, xy in zip(MONTHS, pts)]
    # a month and its mirror month sit on one spot (Feb and Dec, Mar and Nov here): warming months are labelled
    # above left, cooling months below right, so the pair's labels part (they were drawn on top of each other)
    tm = a["t_out_c"]["mean_by_month"]
    side = {t.get_text(): (t.get_ha(), tuple(np.sign(t.xyann))) for t in ax.texts}
    for i, m in enumerate(MONTHS):
        warming = tm[(i + 1) % 12] > tm[i - 1]
        assert side[m] == (("right", (-1, 1)) if warming else ("left", (1, -1))), m
    for a_, b_ in (("Feb", "Dec"), ("Mar", "Nov"), ("Apr", "Oct"), ("May", "Sep")):
        assert side[a_][0] == "right" and side[b_][0] == "left", (a_, b_)
    np.testing.assert_array_equal(_line(ax, f"annual PUE {a['pue']['annual']:.3f} (energy-weighted)").get_ydata(),
                                  a["pue"]["annual"])
    assert ax.get_xlabel() == "outdoor dry-bulb (°C)" and ax.get_ylabel() == "PUE"
    rep = {"scenario": "toy-year", "annual": {**a, "start": start.isoformat()}}
    wet = {**ts, "t_wb_c": ts["t_out_c"] - 8.0}
    sc = annual_pue_figure((rep, wet)).axes[0].collections[0]
    np.testing.assert_array_equal(sc.get_offsets(), np.c_[ts["t_out_c"], ts["pue"]])


def test_more_shifts_than_labels_still_name_the_isolated_ones(result):
    """Above max_shift_labels the shifts are labelled in groups (not left unlabelled: chiller-trip's 24 shifts had
    none, its compute→cooling at 30 min among them); a lone shift keeps its own label."""
    rep = dict(result.report)
    hours = [1.0] + [20.0 + 0.05 * i for i in range(20)]
    rep["binding"] = {**rep["binding"], "shifts": [{"t_s": h * 3600.0, "to": "power" if i % 2 else "cooling"}
                                                   for i, h in enumerate(hours)]}
    ax = signature_plot(SimpleNamespace(report=rep, timeseries=result.timeseries), max_shift_labels=12).axes[0]
    texts = sorted((t.xy[0], t.get_text()) for t in ax.texts if t.get_text().startswith("→"))
    assert texts[0][1] == "→cooling" and len(texts) <= 12
    assert any("more…" in t for _, t in texts)


def test_signature_legend_keeps_constraints_the_daily_band_hides(result):
    """A constraint that binds but leads no day is still in the legend, with its share (the year read "binds:
    compute (80%)" alone)."""
    rep = dict(result.report)
    rep["binding"] = {**rep["binding"], "share": {"demand": 0.197, "compute": 0.798, "power": 0.004, "cooling": 0.001}}
    ts = dict(result.timeseries)
    ts["binding"] = np.full(ts["binding"].shape, BINDING_NAMES.index("compute"))
    labels = [t.get_text() for t in signature_plot(SimpleNamespace(report=rep, timeseries=ts)).axes[0]
              .get_legend().get_texts()]
    assert "binds: compute (80%)" in labels
    assert "binds: demand (20%)\n(inside days: leads none)" in labels
    assert "binds: power (<1%)\n(inside days: leads none)" in labels


def test_pue_scale_follows_the_loaded_ticks(result):
    """Near-idle ticks (a trip: PUE 27) do not set the PUE axis; they are counted on its top edge."""
    ts = {k: np.array(v, copy=True) for k, v in result.timeseries.items()}
    pue = ts["pue"].astype(float)
    ts["pue"][:5] = 27.0
    ts["it_power_w"] = ts["it_power_w"].astype(float)
    ts["it_power_w"][:5] = 0.02 * float(np.nanmax(ts["it_power_w"]))
    ax = pue_plot(SimpleNamespace(report=result.report, timeseries=ts)).axes[0]
    assert ax.get_ylim()[1] < 2.0 * float(np.nanmax(pue[5:]))
    assert any("5 ticks at IT < 10 % of peak, PUE up to 27" in t.get_text() for t in ax.get_legend().get_texts())
def test_time_axes_read_the_scenario_local_clock():
    """Every time axis was elapsed time with nothing saying so: chiller-trip (start 11:00, 2 h) read "time (min)"
    0–120, a planner's midnight. The axes now carry the local clock: HH:MM ticks and the date in the axis label for
    a short run, a new day's date under its midnight, dates (then months) for long runs, days of the year without a
    start date; elapsed time, said so, only without a clock."""
    from dcsim.plots.figures import clock_ticks

    r = synthetic_result(tick_s=60.0, samples=False)
    two_h = {k: v[:120] for k, v in r.timeseries.items()}
    rep = {**r.report, "duration_s": 7200.0, "binding": {**r.report["binding"], "shifts": []},
           "clock": {"start": "2026-07-15T11:00:00", "day_of_year": 196, "hour": 11.0}}
    res = SimpleNamespace(report=rep, timeseries=two_h)
    for ax in (signature_plot(res).axes[-1], power_stack_plot(res).axes[0]):
        assert ax.get_xlabel() == "local time, 2026-07-15"
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert labels[0] == "11:00" and labels[-1] == "13:00" and "12:00" in labels
        assert ax.get_xticks()[labels.index("12:00")] == pytest.approx(60.0)  # x stays minutes from the start
    ticks, labels, axis = clock_ticks(0.0, 86400.0, {"start": "2026-07-15T06:00:00"})
    assert axis == "local time, 2026-07-15 to 07-16" and labels[0] == "06:00" and "00:00\nJul 16" in labels
    assert ticks[labels.index("00:00\nJul 16")] == 18 * 3600.0
    assert clock_ticks(0.0, 30 * 86400.0, {"start": "2025-01-01T00:00:00"})[1:] == (
        ["Jan 1", "Jan 8", "Jan 15", "Jan 22", "Jan 29"], "local date, 2025")
    ticks, labels, axis = clock_ticks(0.0, 365 * 86400.0, {"start": "2025-06-10T06:00:00"})
    assert labels[:2] == ["Jul", "Aug"] and labels[6] == "Jan\n2026" and labels[7] == "Feb"
    assert axis == "local date, 2025–2026" and ticks[0] == (20 * 86400.0 + 18 * 3600.0)  # 1 July, local midnight
    assert clock_ticks(0.0, 7200.0, {"day_of_year": 196, "hour": 23.0})[1:] == (
        ["23:00", "23:15", "23:30", "23:45", "00:00\nday 197", "00:15", "00:30", "00:45", "01:00"],
        "local time, day 196–197")
    assert clock_ticks(0.0, 7200.0, None) is None
    bare = SimpleNamespace(report={k: v for k, v in rep.items() if k != "clock"}, timeseries=two_h)
    assert signature_plot(bare).axes[-1].get_xlabel() == "minutes from start"


def test_figures_show_themselves_in_jupyter(result):
    """Each figure has _repr_png_ (a fresh kernel printed '<Figure size ... with 3 Axes>')."""
    png = signature_plot(result)._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_fault_windows_are_marked_on_the_time_figures(result):
    """A windowed fault is a hatched band over its time on the signature and power figures, labelled once (a trip's
    dip showed with nothing marking the trip)."""
    rep = {**result.report, "faults": [{"kind": "cooling_failure", "start_s": 3600.0, "end_s": 7200.0},
                                       {"kind": "node_failures", "start_s": 0.0, "end_s": 86400.0}]}
    r = SimpleNamespace(report=rep, timeseries=result.timeseries)
    for fig in (signature_plot(r), power_stack_plot(r)):
        ax = fig.axes[0]
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels.count("cooling failure (fault window)") == 1
        assert not any("node failures" in lab for lab in labels)


def test_grid_requests_are_marked_on_the_signature(result):
    """A utility curtailment request (report grid.curtailment.requests) is a hatched band over its window on the
    signature, labelled once: grid-flex's 17:00-19:00 dip to 133 k tok/s showed with nothing marking the request."""
    reqs = [{"start_s": 3600.0, "end_s": 7200.0, "cap_w": 3e5}, {"start_s": 9000.0, "end_s": 9600.0, "cap_w": 3e5}]
    rep = {**result.report, "grid": {"curtailment": {"requests": reqs}}}
    ax = signature_plot(SimpleNamespace(report=rep, timeseries=result.timeseries)).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels.count("utility request (curtailment window)") == 1
    spans = [p for p in ax.patches if p.get_hatch() == "\\\\"]
    assert len(spans) == 2
    ax = signature_plot(result).axes[0]  # a run without requests has none
    assert "utility request (curtailment window)" not in [t.get_text() for t in ax.get_legend().get_texts()]


def _near_tie_ticks(cols: dict, within: float) -> np.ndarray:
    """The ticks named power-bound with P within ``within`` of C either side and the work waiting reaching C as
    closely (the rule of docs/report.md, binding), from a run's own columns."""
    c = np.asarray(cols["compute_tok_s"], dtype=float)
    return ((np.asarray(cols["binding"]) == 2) & (np.abs(c - np.asarray(cols["power_tok_s"])) <= within * c)
            & (np.asarray(cols["waiting_tok_s"]) >= c * (1 - within)))


def _legend_power(res) -> str:
    (lab,) = [t.get_text() for t in signature_plot(res).axes[0].get_legend().get_texts()
              if t.get_text().startswith("binds: power")]
    return lab


def test_signature_legend_states_the_share_bound_by_a_hair_not_the_whole_binding():
    """grid-flex from 12:00 for 90 min with its 2-h utility request moved to 13:00: power binds 91 % of the run, by a
    hair (P within 1 % of C) on 58 % (12:10-13:00) and hard in the request (P far under C). report.json's
    binding.near_tie says so (its share a part of binding.share.power) and the signature's legend states that share;
    until 2026-12-05 the legend parsed the note and read "binds: power (19%), by a hair (within 1 % of C)" on the
    whole share of the day. (Until session 53 the run was 8 h from 12:00 with the request at 17:00, power 57.5 %, by a
    hair 32.5 %: 90 min is the shortest window measured that holds both; 1 h with the request at 12:30 holds no near
    tie.)"""
    import dcsim
    from dcsim.engine.assemble import pool_columns
    from dcsim.engine.build import build_models

    path = Path(__file__).resolve().parents[1] / "scenarios" / "grid-flex.yaml"
    over = {"start": "2026-07-15T12:00", "duration": "90 min", "grid.curtailment.events[0].start": "1 h"}
    res = dcsim.run(str(path), overrides=over)
    rep, ts = res.report, res.timeseries
    (tie,) = rep["binding"]["near_tie"]
    assert tie["kind"] == "power" and tie["pool"] is None and tie["within_frac"] == 0.01
    n = ts["binding"].size
    sel = _near_tie_ticks(pool_columns(build_models(dcsim.load_scenario(path, overrides=over)), ts, 0),
                          tie["within_frac"])
    assert tie["share"] == pytest.approx(np.count_nonzero(sel) / n)  # 0.578 measured
    assert tie["bound_share"] == rep["binding"]["share"]["power"]  # 0.911 measured
    assert 0.2 < tie["share"] < tie["bound_share"] - 0.1
    # the rest of power's ticks bind hard: P more than 1 % under C (the request)
    hard = (ts["binding"] == 2) & ~sel
    assert np.all(ts["power_tok_s"][hard] < 0.99 * ts["compute_tok_s"][hard])
    # the note is rendered from the field
    assert any(nt.startswith(f"power binds by a hair: on {100 * tie['share']:.0f} % of the run") for nt in rep["notes"])
    lab = _legend_power(res)
    assert f"binds: power ({100 * tie['bound_share']:.0f}%)" in lab
    assert f"by a hair on {100 * tie['share']:.0f} % of the run" in lab and "within 1 % of C" in lab


def test_signature_legend_names_the_pool_whose_own_c_a_near_tie_is_with():
    """mixed-fleet 07:00-07:30: its reasoning pool is named power-bound with P within 1 % of its own C (75 k tok/s);
    the drawn C is the sum over the pools, which the facility's P sits far under on those ticks. report.json's
    binding.near_tie names the pool and the legend says the tie is with the pool's own C (until 2026-12-05 it read
    "by a hair (within 1 % of C)", the drawn C). (Until session 53 the run was 06:00-09:00, near tie 55 %; from 07:00
    30 min holds it on 30 %, where 06:00-07:00 holds none.)"""
    import dcsim
    from dcsim.engine.assemble import pool_columns
    from dcsim.engine.build import build_models

    path = Path(__file__).resolve().parents[1] / "scenarios" / "mixed-fleet.yaml"
    over = {"start": "2026-07-15T07:00", "duration": "30 min"}
    res = dcsim.run(str(path), overrides=over)
    rep, ts = res.report, res.timeseries
    (tie,) = rep["binding"]["near_tie"]
    assert tie["kind"] == "power" and tie["pool"] == "b200-reasoning"
    m = build_models(dcsim.load_scenario(path, overrides=over))
    p = [pl.name for pl in m.pools].index("b200-reasoning")
    sel = _near_tie_ticks(pool_columns(m, ts, p), tie["within_frac"])
    assert tie["share"] == pytest.approx(np.count_nonzero(sel) / ts["binding"].size)  # 0.30 measured
    assert tie["compute_tok_s"] < 0.5 * float(np.median(ts["compute_tok_s"][sel]))  # its own C, not the Σ-pools C
    # the drawn P is not within 1 % of the drawn C there
    assert np.any(ts["power_tok_s"][sel] < 0.99 * ts["compute_tok_s"][sel])
    lab = _legend_power(res)
    assert f"by a hair in pool b200-reasoning\non {100 * tie['share']:.0f} % of the run" in lab
    assert "of its own C" in lab


def test_signature_draws_the_thermal_throttle_that_binds(result):
    """chiller-trip, 11:54-12:49: the band read cooling while the dashed Q ran hidden under the achieved line and C
    and P sat above it, so nothing drawn was below the others. On throttled ticks Q (the compute ceiling at the clock
    the die limit allows) is drawn solid and wide, named in the legend and labelled in the panel."""
    ts = {k: np.array(v, dtype=float) for k, v in result.timeseries.items()}
    n = ts["t_s"].size
    on = np.zeros(n)
    on[n // 3: n // 2] = 1.0
    q = np.where(on > 0, 0.9 * ts["compute_tok_s"], ts["cooling_tok_s"])
    ts.update(thermal_throttled=on, thermal_shed=np.zeros(n), cooling_tok_s=q,
              achieved_tok_s=np.where(on > 0, q, ts["achieved_tok_s"]),
              binding=np.where(on > 0, 3, ts["binding"]))
    ax = signature_plot(SimpleNamespace(report=result.report, timeseries=ts)).axes[0]
    lines = [ln for ln in ax.get_lines() if "throttle" in ln.get_label()]
    assert len(lines) == 1, [ln.get_label() for ln in ax.get_lines()]
    y = _tick_values(lines[0])
    np.testing.assert_allclose(y[on > 0], q[on > 0])
    assert np.all(np.isnan(y[on == 0]))
    assert to_rgba(lines[0].get_color())[:3] == to_rgba(CONSTRAINT_COLORS["cooling"])[:3]
    assert any(t.get_text() == "thermal throttle (Q)" for t in ax.texts)
    # a run without a thermal model draws no such line
    ax0 = signature_plot(result).axes[0]
    assert not [ln for ln in ax0.get_lines() if "throttle" in ln.get_label()]


def test_signature_labels_the_throttle_that_outlasts_the_fault_window(result):
    """chiller-trip: the hatched fault window ends at 11:50 while the shed runs to 11:54 and the throttle (a tick
    later) to 12:49, and nothing said why the hall was still short. The span from the window's end to the last
    throttled tick is marked "after the trip"; the throttle's legend entry names the thermal throttle, not a compute
    ceiling."""
    ts = {k: np.array(v, dtype=float) for k, v in result.timeseries.items()}
    t, n = ts["t_s"], ts["t_s"].size
    shed = np.zeros(n)
    shed[n // 4: n // 3] = 1.0
    on = np.zeros(n)
    on[n // 3 + 1: n // 2] = 1.0  # a tick after the shed, as chiller-trip's
    ts.update(thermal_throttled=on, thermal_shed=shed)
    fault = {"kind": "cooling_failure", "start_s": float(t[n // 5]), "end_s": float(t[n // 4 + 2])}
    ax = signature_plot(SimpleNamespace(report={**result.report, "faults": [fault]}, timeseries=ts)).axes[0]
    (lab,) = [x for x in ax.texts if x.get_text() == "after the trip"]
    scale = (ax.get_lines()[0].get_xdata()[1] - ax.get_lines()[0].get_xdata()[0]) / (t[1] - t[0])
    (arrow,) = [x for x in ax.texts if x.get_text() == "" and getattr(x, "arrow_patch", None) is not None]
    assert sorted([arrow.xy[0], arrow.xyann[0]]) == pytest.approx([fault["end_s"] * scale, t[n // 2] * scale],
                                                                  rel=1e-9, abs=1e-9)
    (q,) = [ln for ln in ax.get_lines() if "throttle" in ln.get_label()]
    assert q.get_label().startswith("Q, thermal throttle") and "ceiling" not in q.get_label()


def test_a_long_run_marks_a_throttle_over_consecutive_days_as_one_span_and_the_shed_days():
    """The daily view's throttle marks come from the tick runs binned by day: a heat wave throttling from day 5,
    22:00 to day 7, 02:00 (and again on day 7 in the evening) is one span over days 5-7, not one span per day (three
    before 2026-12-05); a throttle on day 12 is a span of its own. The days IT was shed are marked too (nothing
    marked them in the daily view)."""
    r = _tiled(16)
    t = r.timeseries["t_s"]
    on = np.zeros(t.size)
    on[(t >= 5 * 86400 + 22 * 3600) & (t < 7 * 86400 + 2 * 3600)] = 1.0
    on[(t >= 7 * 86400 + 20 * 3600) & (t < 7 * 86400 + 21 * 3600)] = 1.0
    on[(t >= 12 * 86400) & (t < 12 * 86400 + 900)] = 1.0
    shed = np.zeros(t.size, dtype=np.int8)
    shed[(t >= 6 * 86400 + 3600) & (t < 6 * 86400 + 7200)] = 1
    r.timeseries["thermal_throttled"] = on
    r.timeseries["thermal_shed"] = shed
    ax = signature_plot(r).axes[0]
    _, labels = ax.get_legend_handles_labels()
    assert "days the GPUs throttled (thermal)" in labels and "days IT was shed (thermal)" in labels
    marks = sorted((round(p.get_x()), round(p.get_width())) for p in ax.patches
                   if p.get_facecolor()[:3] == pytest.approx(to_rgba(CONSTRAINT_COLORS["cooling"])[:3])
                   and p.get_y() == pytest.approx(0.97))
    assert marks == [(5, 3), (12, 1)]
    sheds = [(round(p.get_x()), round(p.get_width())) for p in ax.patches
             if p.get_facecolor()[:3] == pytest.approx((0.0, 0.0, 0.0)) and p.get_y() == pytest.approx(0.94)]
    assert sheds == [(6, 1)]


def test_a_long_run_marks_the_days_the_gpus_throttled():
    """Beyond DAILY_BEYOND_S the signature draws daily means and dropped both the throttle's line and the fault
    windows: a year with a throttled hour showed nothing of it. Each day with a throttled tick is marked."""
    r = _tiled(16)
    n = r.timeseries["t_s"].size
    on = np.zeros(n)
    on[(r.timeseries["t_s"] >= 3 * 86400 + 3600) & (r.timeseries["t_s"] < 3 * 86400 + 7200)] = 1.0
    on[(r.timeseries["t_s"] >= 9 * 86400) & (r.timeseries["t_s"] < 9 * 86400 + 900)] = 1.0
    r.timeseries["thermal_throttled"] = on
    ax = signature_plot(r).axes[0]
    handles, labels = ax.get_legend_handles_labels()
    assert "days the GPUs throttled (thermal)" in labels
    marks = [p for p in ax.patches if p.get_facecolor()[:3] == pytest.approx(to_rgba(CONSTRAINT_COLORS["cooling"])[:3])
             and p.get_y() == pytest.approx(0.97)]
    assert sorted(round(p.get_x()) for p in marks) == [3, 9], [(p.get_x(), p.get_y()) for p in marks]


def _with_calibration(result, status="transferred", tok=20.0, jpt=30.0):
    rep = dict(result.report)
    rep["provenance"] = {**(rep.get("provenance") or {}), "calibration": [
        {"group": "g0", "status": status, "in_range_status": status, "error_band_pct":
         {"tok_s_pct": tok, "j_per_tok_pct": jpt}, "band_lower_bound": status != "calibrated",
         "extrapolated": False, "context_extrapolated": False, "stack_current": True}]}
    return SimpleNamespace(**{**vars(result), "report": rep})


def test_signature_shades_c_and_p_by_an_out_of_sample_band_only(result):
    """A transferred profile's C and P are drawn with the run's calibration band around them (report.json
    provenance.calibration[*].error_band_pct, not recomputed): mixed-fleet's banner said ≥±32 % tok/s while C and P
    were exact lines. A calibrated (in-sample) run draws none."""
    from dcsim.plots.figures import BAND_ALPHA

    ts = result.timeseries
    fig = signature_plot(_with_calibration(result))
    ax = fig.axes[0]
    # C carries the tok/s band (20 %); P = IT budget / J per token carries the J/token band (30 %)
    for name, col, b in (("compute", "compute_tok_s", 0.2), ("power", "power_tok_s", 0.3)):
        band = [c for c in ax.collections if c.get_gid() == f"error-band-{name}"]
        assert len(band) == 1 and band[0].get_alpha() == BAND_ALPHA
        assert _rgb(band[0].get_facecolor()[0]) == _rgb(CONSTRAINT_COLORS[name])
        v = band[0].get_paths()[0].vertices[:, 1]
        c = np.asarray(ts[col], dtype=float)
        assert v.max() == pytest.approx((1 + b) * c.max()) and v.min() == pytest.approx((1 - b) * c.min())
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("C ±") and "≥±20 % tok/s" in t for t in texts)
    assert any(t.startswith("P ±") and "≥±30 % J/token" in t for t in texts), texts
    calibrated = signature_plot(_with_calibration(result, "calibrated", 3.0, 3.0))
    assert not [c for c in calibrated.axes[0].collections if str(c.get_gid()).startswith("error-band")]


def test_joules_per_token_bars_carry_an_out_of_sample_band_only(result):
    """J/token bars get error bars of the transferred profile's J/token band (± value × band); none in-sample."""
    fig = joules_per_token_plot(_with_calibration(result))
    ax = fig.axes[0]
    segs = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    assert segs, "no error bars"
    jpt = result.report["joules_per_output_token"]
    tops = sorted(float(s[:, 1].max()) for s in segs[0].get_segments())
    assert tops == pytest.approx(sorted(1.3 * jpt[k] for k in ("gpu", "it", "facility")))
    assert any("expected error of the node profile" in t.get_text() for t in ax.get_legend().get_texts())
    plain = joules_per_token_plot(_with_calibration(result, "calibrated", 3.0, 3.0))
    assert not [c for c in plain.axes[0].collections if type(c).__name__ == "LineCollection"]


def test_joules_per_token_bars_and_legend_carry_the_headline_band_of_each_level(result):
    """With several pools the J/token band differs by level (each pool's band weighted by its share of that level's
    energy): the bars carry the headline's band at their level and the legend prints what the summary's J/token row
    prints (dcsim.metrics.fmt.headline_band). Until 2026-12-05 the figure worked out its own band and its legend gave
    the widest level's: mixed-fleet's GPU 19.30 % beside the headline's facility 19.18 %; here GPU 30 % against the
    facility's 20 %."""
    from dcsim.metrics.fmt import fmt_headline_band, headline_band
    from dcsim.report.summary import headline_rows

    rep = dict(_with_calibration(result, tok=10.0, jpt=40.0).report)
    rep["provenance"] = {**rep["provenance"], "calibration": rep["provenance"]["calibration"] + [
        {"group": "g1", "status": "calibrated", "in_range_status": "calibrated",
         "error_band_pct": {"tok_s_pct": 3.0, "j_per_tok_pct": 3.0}, "band_lower_bound": False, "extrapolated": False,
         "context_extrapolated": False, "stack_current": True}]}
    # g0's pool (transferred, ≥±40 % J/token) draws 3/4 of the GPU energy and half of the IT and facility energy
    rep["pools"] = [{"name": "a", "groups": [{"name": "g0"}], "throughput_tok_s": {"output": 1.0},
                     "energy_j": {"gpu": 3.0, "it": 1.0, "facility": 1.0}},
                    {"name": "b", "groups": [{"name": "g1"}], "throughput_tok_s": {"output": 1.0},
                     "energy_j": {"gpu": 1.0, "it": 1.0, "facility": 1.0}}]
    band = headline_band(rep)
    assert band["j_per_tok_pct_by_level"] == pytest.approx({"gpu": 30.0, "it": 20.0, "facility": 20.0})
    ax = joules_per_token_plot(SimpleNamespace(**{**vars(result), "report": rep})).axes[0]
    segs = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    jpt = rep["joules_per_output_token"]
    tops = [float(seg[:, 1].max()) for seg in segs[0].get_segments()]
    assert tops == pytest.approx([1.3 * jpt["gpu"], 1.2 * jpt["it"], 1.2 * jpt["facility"]])
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    row = dict(headline_rows(rep, band))["J / output token"]
    for level, name in (("gpu", "GPU"), ("it", "IT"), ("facility", "facility")):
        printed = fmt_headline_band(band, "j_per_tok_pct", level)
        assert f" {printed}" in row and f"{name} {printed}" in legend, (level, row, legend)


def test_zoom_ranges_over_the_ticks_with_gpus_in_service():
    """chiller-trip: C, P and Q within 1 % on a 0-250k axis had no zoom panel because Q drops to 0 while IT is shed
    (and falls through the fault window): the zoom's range is taken over the ticks with GPUs in service."""
    from dcsim.plots.figures import _in_service, _zoom

    n = 40
    t = np.arange(n) * 60.0
    c = np.full(n, 226e3)
    p = np.linspace(228e3, 224e3, n)
    q = np.full(n, 225e3)
    shed = np.zeros(n)
    shed[10:15] = 1.0
    q[10:15] = 0.0
    q[5:10] = np.linspace(240e3, 150e3, 5)  # the fault window's falling Q
    ach = np.full(n, 200e3)
    report = {"faults": [{"kind": "cooling_failure", "start_s": 5 * 60.0, "end_s": 10 * 60.0}]}
    ts = {"t_s": t, "thermal_shed": shed, "gpus_in_service": np.where(shed > 0, 0.0, 256.0)}  # a shed tick: none
    m = _in_service(report, ts)
    assert not m[5:15].any() and m[:5].all() and m[15:].all()
    ceil = {"compute": c, "power": p, "cooling": q}
    assert _zoom(ceil, ach, 250e3) is None  # the old range: from the shed's 0
    lo, hi = _zoom(ceil, ach, 250e3, m)
    assert 190e3 < lo < 225e3 and 228e3 <= hi < 235e3


def test_zoom_takes_dips_only_from_ticks_a_ceiling_binds():
    """chiller-trip: its demand-bound achieved rate (180-200k, following demand) was counted as the achieved rate's
    dips and stretched the zoom to 179.6k-230.3k, C, P and Q together again. A demand-bound tick's rate says nothing
    of the ceilings: the dips are taken from the ticks a ceiling binds only."""
    from dcsim.plots.figures import _zoom

    n = 60
    c, p, q = np.full(n, 226e3), np.linspace(229e3, 224e3, n), np.full(n, 225e3)
    ceil = {"compute": c, "power": p, "cooling": q}
    demand = 185e3 + 10e3 * np.sin(np.arange(n) / 5.0)  # well below the ceilings
    ach = demand.copy()
    binding = np.zeros(n, dtype=int)  # demand binds
    ach[40:50], binding[40:50] = 224e3, 2  # power binds, at P
    lo, hi = _zoom(ceil, ach, 250e3, None, binding)
    assert 220e3 < lo < 224e3 and 228e3 < hi < 232e3
    ach[45], binding[45] = 219e3, 2  # a bound tick's dip below the ceilings is taken in
    lo2, _ = _zoom(ceil, ach, 250e3, None, binding)
    assert 218e3 < lo2 < 219e3


def test_shift_labels_sit_above_the_axes_and_a_burst_is_one_span(result):
    """Shift labels covered the ceilings (chiller-trip's "→power …19 more… →power", a tall white box) and 25 dotted
    lines formed a hatch: the labels stand above the axes, and a burst (SHIFT_BURST or more shifts, each within
    SHIFT_BURST_GAP_TICKS ticks of the one before) is one outlined span from its first to its last shift, unfilled
    (a grey fill read as demand), with no dotted line each."""
    from dcsim.plots.figures import SHIFT_BURST_GAP_TICKS

    tick_h = 120.0 / 3600.0  # the toy run's tick
    assert 0.02 < SHIFT_BURST_GAP_TICKS * tick_h
    rep = dict(result.report)
    hours = [3.0] + [12.0 + 0.02 * i for i in range(10)] + [20.0]
    names = ["compute"] + ["power", "cooling"] * 5 + ["demand"]
    rep["binding"] = {**rep["binding"], "shifts": [{"t_s": h * 3600.0, "to": n} for h, n in zip(hours, names)]}
    ax = signature_plot(SimpleNamespace(report=rep, timeseries=result.timeseries)).axes[0]
    labels = [t for t in ax.texts if t.get_text().startswith("→")]
    assert [t.get_text() for t in labels] == ["→compute", "→power …8 more… →cooling", "→demand"]
    for t in labels:
        assert t.get_va() == "bottom" and t.xy[1] == 1.0 and t.get_annotation_clip() is False
        assert t.xyann[1] > 0  # above the top edge
    spans = [p for p in ax.patches if p.get_gid() == "shift-burst"]
    assert len(spans) == 1 and spans[0].get_facecolor()[3] == 0  # no fill
    x0, w = spans[0].get_x(), spans[0].get_width()
    assert x0 == pytest.approx(12.0) and x0 + w == pytest.approx(12.18)
    dotted = sorted(float(ln.get_xdata()[0]) for ln in ax.get_lines() if ln.get_linestyle() == ":")
    assert dotted == pytest.approx([3.0, 20.0])  # the burst's shifts have no line each
    assert any(t.get_text().startswith("burst:") for t in ax.get_legend().get_texts())


def test_shifts_joined_in_one_label_are_not_a_burst_when_hours_apart(result):
    """With more than 12 shifts a label joins those within 1/12 of the run: each day of a 4-day run (compute → power
    → cooling over some hours) was drawn as a grey "burst" over the bands. A burst is decided from the gaps between
    consecutive shifts, not from the label groups: shifts 24-30 min apart (12-15 ticks) are joined in one label,
    each drawn as its own dotted line, and no burst."""
    rep = dict(result.report)
    hours = [1.0 + 0.5 * i for i in range(4)] + [8.0 + 0.5 * i for i in range(4)] + [15.0 + 0.4 * i for i in range(5)]
    names = (["compute", "power", "cooling", "demand"] * 4)[:len(hours)]
    rep["binding"] = {**rep["binding"], "shifts": [{"t_s": h * 3600.0, "to": n} for h, n in zip(hours, names)]}
    ax = signature_plot(SimpleNamespace(report=rep, timeseries=result.timeseries)).axes[0]
    labels = [t.get_text() for t in ax.texts if t.get_text().startswith("→")]
    assert len(labels) == 3 and all("more" in t for t in labels)
    assert not [p for p in ax.patches if p.get_gid() == "shift-burst"]
    dotted = sorted(float(ln.get_xdata()[0]) for ln in ax.get_lines() if ln.get_linestyle() == ":")
    assert dotted == pytest.approx(hours)


def test_shift_bursts_from_the_gaps_between_shifts():
    from dcsim.plots.figures import SHIFT_BURST_GAP_TICKS, shift_bursts

    g = SHIFT_BURST_GAP_TICKS * 60.0
    t = [0.0, 10 * g, 10 * g + 60, 10 * g + 60 + g, 10 * g + 60 + 2 * g, 30 * g, 30 * g + g, 50 * g]
    assert shift_bursts(t, 60.0) == [(1, 4)]  # two shifts a gap apart are not a burst; four are
    assert shift_bursts(t, 30.0) == []


def test_pue_colour_bar_spans_the_drawn_points_and_fault_ticks_are_ringed(result):
    """chiller-trip's colour bar spanned 5-340 kW because the shed ticks (off scale) set its minimum, every drawn
    point the same yellow; and its lowest PUE, during the chiller trip, was unmarked. The colour limits are the IT
    load of the points drawn on the scale, and the ticks inside a fault window are ringed and counted."""
    ts = {k: np.array(v, copy=True) for k, v in result.timeseries.items()}
    ts["pue"] = ts["pue"].astype(float)
    ts["it_power_w"] = ts["it_power_w"].astype(float)
    ts["pue"][:5] = 27.0
    ts["it_power_w"][:5] = 0.01 * float(np.nanmax(ts["it_power_w"]))
    t = ts["t_s"].astype(float)
    rep = {**result.report, "faults": [{"kind": "cooling_failure", "start_s": float(t[10]), "end_s": float(t[20])}]}
    fig = pue_plot(SimpleNamespace(report=rep, timeseries=ts))
    ax = fig.axes[0]
    main = ax.collections[0]
    scale = 1e-6 if float(np.nanmax(ts["it_power_w"])) >= 1e6 else 1e-3
    drawn = ts["it_power_w"][5:] * scale
    assert main.get_clim() == pytest.approx((float(drawn.min()), float(drawn.max())))
    rings = [c for c in ax.collections if c.get_gid() == "fault-window-ticks"]
    assert len(rings) == 1 and len(rings[0].get_offsets()) == 10
    assert any(t_.get_text() == "10 ticks in the cooling failure window" for t_ in ax.get_legend().get_texts())
    # chiller-trip's 160 rings, 2.2x a point, merged into one black bar: a long window rings at most FAULT_RINGS_MAX
    # of its ticks, evenly, thin and little larger than a point, and the legend still counts them all
    from dcsim.plots.figures import FAULT_RINGS_MAX

    rep["faults"] = [{"kind": "cooling_failure", "start_s": float(t[10]), "end_s": float(t[210])}]
    ax = pue_plot(SimpleNamespace(report=rep, timeseries=ts)).axes[0]
    (rings,) = [c for c in ax.collections if c.get_gid() == "fault-window-ticks"]
    assert len(rings.get_offsets()) == FAULT_RINGS_MAX == 20 and rings.get_linewidths()[0] <= 0.5
    assert rings.get_sizes()[0] <= 2.0 * ax.collections[0].get_sizes()[0]
    texts = [x.get_text() for x in ax.get_legend().get_texts()]
    assert "200 ticks in the cooling failure window (one in 10 ringed)" in texts


def test_pue_off_scale_ticks_are_one_mark_per_episode_with_its_span_and_window(result):
    """chiller-trip's 104 shed ticks, each a ▲ on the top edge at its outdoor temperature (36.8-37.3 degC), merged
    into one dark bar. Each episode (a run of consecutive off-scale ticks) is now one ▲ over a line spanning its
    temperatures, labelled with its local time window, and the legend says what they are (shed, IT off)."""
    ts = {k: np.array(v, copy=True) for k, v in result.timeseries.items()}
    for k in ("pue", "it_power_w", "t_out_c"):
        ts[k] = ts[k].astype(float)
    peak = float(np.nanmax(ts["it_power_w"]))
    n = ts["t_s"].size
    ts["thermal_shed"] = np.zeros(n)
    episodes = [(20, 60), (100, 130)]
    for a, b in episodes:
        ts["pue"][a:b], ts["it_power_w"][a:b], ts["thermal_shed"][a:b] = 27.0, 0.01 * peak, 1.0
        ts["t_out_c"][a:b] = np.linspace(36.8, 37.3, b - a) + (a / 10.0)
    t = ts["t_s"].astype(float)
    rep = {**result.report, "duration_s": float(t[-1] - t[0] + (t[1] - t[0])),
           "clock": {"start": "2026-07-15T11:00:00", "day_of_year": 196, "hour": 11.0}}
    ax = pue_plot(SimpleNamespace(report=rep, timeseries=ts)).axes[0]
    # two artists for all the episodes (they were two per episode): one line, its spans NaN-separated, one of the ▲
    marks = [ln for ln in ax.get_lines() if ln.get_gid() == "off-scale"]
    spans = [ln for ln in ax.get_lines() if ln.get_gid() == "off-scale-span"]
    assert len(marks) == len(spans) == 1, [ln.get_gid() for ln in ax.get_lines()]
    assert not [c for c in ax.collections if len(c.get_offsets()) and c.get_offsets()[:, 1].max() > 5]
    sx = np.asarray(spans[0].get_xdata(), dtype=float)
    segs = [sx[i:i + 2] for i in range(0, sx.size, 3)]
    assert np.isnan(sx[2::3]).all() and len(segs) == len(episodes) == len(marks[0].get_xydata())
    for (a, b), seg, mark in zip(episodes, segs, marks[0].get_xydata()):
        assert sorted(seg) == pytest.approx([ts["t_out_c"][a:b].min(), ts["t_out_c"][a:b].max()])
        assert mark[0] == pytest.approx(np.mean(seg)) and mark[1] == pytest.approx(spans[0].get_ydata()[0])
    from dcsim.metrics.fmt import fmt_local_window

    windows = [fmt_local_window(t[a], t[b], rep["clock"], rep["duration_s"]) for a, b in episodes]
    assert [x.get_text() for x in ax.texts if x.get_text() in windows] == windows
    labels = [x.get_text() for x in ax.get_legend().get_texts()]
    assert f"70 ticks shed (IT off), PUE up to 27 (off scale):\n2 episodes, a ▲ each over its outdoor temperatures" \
        in labels, labels


def test_daily_signature_stacks_each_days_binding_shares():
    """Year-richmond's daily view showed each day's most frequent binding: the year all compute, its 20 % demand
    share invisible. Each day's band is now stacked by its shares of each binding, under the achieved rate."""
    from dcsim.plots.figures import daily_binding_shares, daily_means

    r = _tiled(16)
    shares = daily_binding_shares(r.timeseries)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    ax = signature_plot(r).axes[0]
    d = daily_means(r.timeseries)
    drawn = {c.get_gid(): c for c in ax.collections if str(c.get_gid()).startswith("daily-share-")}
    present = [BINDING_NAMES[k] for k in range(len(BINDING_NAMES)) if shares[:, k].any()]
    assert len(present) >= 2 and sorted(drawn) == sorted(f"daily-share-{n}" for n in present)
    x_mid = 0.5  # the first day's middle (days from the start)
    cum = 0.0
    for k, n in enumerate(BINDING_NAMES):
        if n not in present:
            continue
        lo, hi = _band_at(drawn[f"daily-share-{n}"], x_mid)[0]
        assert lo == pytest.approx(cum * d["achieved_tok_s"][0]) and hi == pytest.approx(
            (cum + shares[0, k]) * d["achieved_tok_s"][0])
        cum += shares[0, k]
    assert "each day's share" in ax.get_title()


def test_zoom_keeps_the_achieved_rates_dips():
    """Year-richmond's zoom panel cut the achieved line's dips at its floor: the panel reaches down to the lowest
    achieved value within two spans below it."""
    from dcsim.plots.figures import _zoom

    n = 50
    ceil = {"compute": np.full(n, 226e3), "power": np.linspace(245e3, 230e3, n), "cooling": np.full(n, 243e3)}
    ach = np.full(n, 217e3)
    ach[20] = 201e3
    lo, hi = _zoom(ceil, ach, 290e3)
    assert lo < 201e3 < 226e3 < hi


def test_power_stack_binding_strip_and_the_at_cap_note(result):
    """mixed-fleet's power figure sat at its 700-kW cap all day while the signature said demand binds overnight:
    a strip along the top spans each binding run in its constraint's colour, and the legend says how many of the
    ticks power does not bind sit at the cap (:func:`at_cap_note`)."""
    ts = {k: np.array(v, copy=True) for k, v in result.timeseries.items()}
    ax = power_stack_plot(SimpleNamespace(report=result.report, timeseries=ts)).axes[0]
    edges = _edges_h(ts)
    strip = [p for p in ax.patches if p.get_gid() == "binding-strip"]
    runs = binding_runs(ts["binding"])
    assert len(strip) == len(runs)
    for p, (s_, e_, code) in zip(strip, runs):
        assert p.get_x() == pytest.approx(edges[s_]) and p.get_x() + p.get_width() == pytest.approx(edges[e_])
        assert _rgb(p.get_facecolor()) == _rgb(CONSTRAINT_COLORS[BINDING_NAMES[code]])
    from dcsim.plots.figures import at_cap_note

    # at the cap on every tick: the legend carries the note, all of the ticks power does not bind at the cap
    ts["interconnect_w"] = ts["facility_power_w"].astype(float).copy()
    if "meter_power_w" in ts:
        ts["meter_power_w"] = ts["facility_power_w"]
    ax = power_stack_plot(SimpleNamespace(report=result.report, timeseries=ts)).axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert at_cap_note(ts) in texts and at_cap_note(ts).startswith("at the cap (within 1 %) on 100 % of the")


def test_the_at_cap_note_gives_the_share_of_the_ticks_power_does_not_bind():
    """mixed-fleet's note read "at the cap (within 1 %) on 43 % of the ticks while power does not bind": it is at the
    cap on every tick, and 43 % was the share of ticks power does not bind. The note gives the at-cap share of those
    ticks, and says why when a capped controller mode runs there (it spends the budget on clock)."""
    from dcsim.plots.figures import at_cap_note

    n = 10
    b = np.array([2, 2, 2, 2, 0, 0, 0, 1, 1, 1])  # power binds on 4 ticks; 6 it does not
    cap = np.full(n, 700e3)
    fac = np.array([700e3] * 4 + [699e3, 698e3, 600e3, 695e3, 500e3, 500e3])  # 3 of the 6 within 1 %
    ts = {"binding": b, "interconnect_w": cap, "facility_power_w": fac}
    assert at_cap_note(ts) == "at the cap (within 1 %) on 50 % of the\n60 % of ticks where power does not bind"
    ts["mode"] = np.array([1] * n)
    ts["controller_clock"] = np.array([1.0] * 4 + [0.9, 0.91, 0.5, 0.92, 0.5, 0.5])
    assert at_cap_note(ts).endswith(":\nthe controller runs the clock up to the budget\n(capped mode, median clock 0.91)")
    ts["mode"] = np.zeros(n, dtype=int)  # uncapped: the series does not say why
    assert "controller" not in at_cap_note(ts)
    ts["facility_power_w"] = np.full(n, 500e3)
    assert at_cap_note(ts) is None


def test_grid_figure_draws_a_daily_backlog_cycle_as_lines_not_a_flat_band():
    """Year-richmond's deferred work filled and drained every day: its daily range was one flat 0-3.2 Gtok block all
    year. When the day's lowest and highest barely change, the panel draws the day's highest and mean as lines (no
    band) and says the backlog cycles daily; a range that changes from day to day keeps its band."""
    from dcsim.plots.flex import grid_flex_figure

    r = _long_flex_result()
    axd = grid_flex_figure(r).axes[-1]
    assert not [c for c in axd.collections if "lowest–highest" in str(c.get_label())]
    hi = r.timeseries["deferred_backlog_tokens"].reshape(20, -1).max(axis=1) / 1e9
    np.testing.assert_allclose(_tick_values(_line(axd, "waiting, day's highest")), hi)
    assert any(t.get_text().startswith("fills and drains each day") for t in axd.texts)
    ts = dict(r.timeseries)
    ts["deferred_backlog_tokens"] = ts["deferred_backlog_tokens"] * (1 + np.floor(ts["t_s"] / 86400.0))  # grows
    axd = grid_flex_figure(SimpleNamespace(report=r.report, timeseries=ts)).axes[-1]
    assert [c for c in axd.collections if "lowest–highest" in str(c.get_label())]


def test_binding_maps_draw_the_palette_at_full_alpha():
    """The sweep's binding bars and map and the phase map drew the constraint colours at alpha 0.85, so compute read
    lighter than the signature's #0072B2: they are drawn at full alpha, the palette's own colour."""
    from matplotlib.collections import QuadMesh
    from matplotlib.colors import to_hex
    from test_sweep_figure import _row

    from dcsim.plots.sweep import sweep_figure

    rows = [_row(i, {"a": a, "b": b}, out=1e4 * a * b, most=("compute", "power")[i % 2])
            for i, (a, b) in enumerate((a, b) for a in (1.0, 2.0, 3.0) for b in (2, 4))]
    fig = sweep_figure(rows, {"a": {"values": [1.0, 2.0, 3.0]}, "b": {"values": [2, 4]}}, mode="grid")
    meshes = [c for a in fig.axes for c in a.collections if isinstance(c, QuadMesh)]
    bmap = [m for m in meshes if to_hex(m.cmap(m.norm(1))) == CONSTRAINT_COLORS["compute"].lower()]
    assert bmap and all(m.get_alpha() in (None, 1.0) for m in bmap)
    rows1 = [_row(i, {"a": a}, out=1e4 * a, most="compute") for i, a in enumerate((1.0, 2.0, 3.0))]
    fig = sweep_figure(rows1, {"a": {"values": [1.0, 2.0, 3.0]}})
    bars = [p for a in fig.axes for p in a.patches if p.get_label() == "compute" or
            (_rgb(p.get_facecolor()) == _rgb(CONSTRAINT_COLORS["compute"]))]
    assert bars and all(p.get_facecolor()[3] == 1.0 for p in bars)
