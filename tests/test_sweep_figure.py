"""The sweep's figure (dcsim.plots.sweep, `dcsim sweep` writes sweep.png): one axis -> headline figures against it,
two grid axes -> heatmap + binding map, otherwise a scatter per parameter; refused points are drawn, never dropped."""

import json

import numpy as np
import pytest
from matplotlib.patches import Rectangle

from conftest import small_scenario
from dcsim.plots import CONSTRAINT_COLORS
from dcsim.plots.sweep import NoSweepFigure, axis_unit, sweep_figure, sweep_figure_kind
from dcsim.sweep import FIGURE_NAME, SweepRows, run_sweep, write_figure
from dcsim.tpf import binding_that_holds


def _row(i, params, out=None, most="compute", error=None, **extra):
    """A results row as run_sweep makes it (synthetic: no simulation)."""
    r = {"point": i, "scenario_hash": f"h{i}", **params}
    ok = error is None
    r.update({"throughput_tok_s.output": out if ok else None, "throughput_tok_s.demand_output": 5e4 if ok else None,
              "joules_per_output_token.facility": 2.0 if ok else None,
              "joules_per_output_token.it": 1.5 if ok else None, "joules_per_output_token.gpu": 1.0 if ok else None,
              "binding.most_common": most if ok else None,
              **{f"binding.share.{n}": (1.0 if (n == most and ok) else 0.0 if ok else None)
                 for n in ("demand", "compute", "power", "cooling")},
              "wall_s": 0.1, "cached": False, "error": error, **extra})
    return r


def _failed_markers(ax):
    """x of the refused-point markers (black X) on an axes."""
    xs = []
    for ln in ax.get_lines():
        if ln.get_marker() == "X":
            xs += list(np.asarray(ln.get_xdata(), dtype=float))
    return xs


def test_one_axis_sweep_writes_its_figure_with_the_refused_point_marked(tmp_path):
    """A real 1-axis sweep (three interconnects, one too small to power the idle fleet): sweep.png is written, the
    axis is labelled with the field's name, unit and path, the refused point is an X at its x and a gap in the line."""
    spec = {"name": "one", "base": small_scenario(duration="30 min"), "fixed": {"serving.slo_estimate": False},
            "parameters": {"facility.interconnect": {"values": ["1 W", "100 kW", "200 kW"]}}}
    rows = run_sweep(spec, cache_dir=None, progress=False, out=tmp_path)
    assert isinstance(rows, SweepRows) and [bool(r["error"]) for r in rows] == [True, False, False]
    path, what = rows.figure
    assert path == tmp_path / FIGURE_NAME and path.stat().st_size > 10_000
    assert "facility.interconnect" in what
    fig = rows.plot()
    top = fig.axes[0]
    assert fig.axes[-1].get_xlabel() == "interconnect (kW)\nfacility.interconnect"  # the unit the file wrote
    assert _failed_markers(top) == [pytest.approx(0.001)]  # 1 W in kW
    served = next(ln for ln in top.get_lines() if ln.get_label() == "served output")
    y = np.asarray(served.get_ydata(), dtype=float)
    assert np.isnan(y[0]) and np.allclose(y[1:], [r["throughput_tok_s.output"] for r in rows[1:]])
    assert "1 refused" in fig._suptitle.get_text()
    assert any("refused by the preflight (1 point" in t.get_text() for t in top.get_legend().get_texts())


def test_one_axis_markers_take_the_binding_constraints_colour():
    rows = [_row(i, {"facility.interconnect": v}, out=o, most=m)
            for i, (v, o, m) in enumerate([(3e5, 1e5, "power"), (4e5, 1.4e5, "power"), (5e5, 1.5e5, "compute")])]
    fig = sweep_figure(rows, {"facility.interconnect": {"name": "interconnect", "dim": "power"}})
    pts = fig.axes[0].collections[0]
    want = [CONSTRAINT_COLORS[m] for m in ("power", "power", "compute")]
    from matplotlib.colors import to_hex

    assert [to_hex(c) for c in pts.get_facecolors()] == [w.lower() for w in want]
    assert fig.axes[-1].get_xlabel() == "interconnect (kW)\nfacility.interconnect"  # 300e3 W: kW chosen
    # the share panel: each point's bar stacks the shares it binds
    bars = [p for p in fig.axes[2].patches if isinstance(p, Rectangle)]
    assert sum(b.get_height() for b in bars) == pytest.approx(300.0)


def test_a_limit_binding_longer_than_demand_is_what_the_markers_and_the_map_show():
    """Demand the plurality (43 %) but compute, power and cooling 57 % between them: the sweep's map drew a grey
    "demand 43 %" cell (the audit of 2026-12-04, interconnect_vs_gpus at 10 racks) where the summary's headline says a
    limit binds 57 %. Now the marker and the cell take the limit binding longest, the cell's number the 57 %."""
    shares = {"binding.share.demand": 0.43, "binding.share.compute": 0.25, "binding.share.power": 0.14,
              "binding.share.cooling": 0.18}
    plain = {"binding.share.demand": 0.7, "binding.share.compute": 0.3, "binding.share.power": 0.0,
             "binding.share.cooling": 0.0}
    rows = [{**_row(0, {"facility.interconnect": 3e5}, out=1e5, most="demand"), **shares},
            {**_row(1, {"facility.interconnect": 4e5}, out=1.2e5, most="demand"), **plain}]
    fig = sweep_figure(rows, {"facility.interconnect": {"name": "interconnect", "dim": "power"}})
    from matplotlib.colors import to_hex

    pts = fig.axes[0].collections[0]
    assert [to_hex(c) for c in pts.get_facecolors()] == [CONSTRAINT_COLORS["compute"].lower(),
                                                          CONSTRAINT_COLORS["demand"].lower()]
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "a limit binds most of the run, longest: compute" in labels and "demand binds most of the run" in labels
    grid = [{**_row(i, {"facility.interconnect": a, "racks.0.count": b}, out=1e5, most="demand"),
             **(shares if i == 0 else plain)} for i, (a, b) in enumerate([(3e5, 2), (4e5, 2), (3e5, 4), (4e5, 4)])]
    fig = sweep_figure(grid, {"facility.interconnect": {"name": "interconnect", "dim": "power"},
                              "racks.0.count": {"name": "racks", "dim": None}}, mode="grid")
    bind = fig.axes[1]
    assert int(bind.collections[0].get_array()[0, 0]) == 1  # compute
    assert sorted(t.get_text() for t in bind.texts) == ["57%", "70%", "70%", "70%"]


def test_two_axis_grid_is_a_heatmap_with_the_binding_map_and_refused_cells(tmp_path):
    spec = {"name": "two", "base": small_scenario(duration="30 min"), "fixed": {"serving.slo_estimate": False},
            "parameters": {"facility.interconnect": {"values": ["1 W", "100 kW", "200 kW"]},
                           "racks.0.count": {"values": [2, 4]}}}
    rows = run_sweep(spec, cache_dir=None, progress=False, out=tmp_path)
    assert (tmp_path / FIGURE_NAME).is_file() and "x racks.0.count" in rows.figure[1]
    fig = rows.plot()
    heat, bind = fig.axes[0], fig.axes[1]
    assert "racks (r)" in heat.get_ylabel()  # the rack group's own name
    # the binding map holds each cell's most common constraint; refused cells are masked and hatched
    codes = bind.collections[0].get_array()
    names = ("demand", "compute", "power", "cooling")
    for r in rows:
        ix = ["1 W", "100 kW", "200 kW"].index({1.0: "1 W", 1e5: "100 kW", 2e5: "200 kW"}[r["facility.interconnect"]])
        iy = [2, 4].index(r["racks.0.count"])
        cell = codes[iy, ix]
        if r["error"]:
            assert np.ma.is_masked(cell)
        else:
            want, _ = binding_that_holds({n: r[f"binding.share.{n}"] for n in names})
            assert names[int(cell)] == want
    for ax in (heat, bind):
        hatched = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_hatch() == "xx"]
        assert len(hatched) == sum(1 for r in rows if r["error"]) == 2


def test_partly_refused_cell_with_seeds_says_how_many():
    rows = [_row(0, {"a": 1.0, "b": 1.0, "seed": 1}, out=1e5), _row(1, {"a": 1.0, "b": 1.0, "seed": 2}, error="x: y"),
            _row(2, {"a": 2.0, "b": 1.0, "seed": 1}, out=2e5), _row(3, {"a": 2.0, "b": 1.0, "seed": 2}, out=2e5)]
    fig = sweep_figure(rows, ["a", "b"])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "1/2 refused" in texts


def test_fallback_scatter_for_lhs_and_many_axes_marks_refused_points():
    rows = [_row(i, {"p.a": float(i), "p.b": float(i % 3), "p.c": ["x", "y"][i % 2]}, out=1e4 * (i + 1),
                 error="f: too small" if i == 0 else None) for i in range(6)]
    rows = SweepRows(rows, name="lhs", mode="lhs", parameters={k: {} for k in ("p.a", "p.b", "p.c")})
    assert sweep_figure_kind(rows, list(rows.parameters), "lhs") == "scatter"
    fig = rows.plot()
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_xlabel() for ax in shown] == ["p.a", "p.b", "p.c"]
    assert _failed_markers(shown[0]) == [0.0]  # the refused point at its p.a
    assert shown[2].get_xticks().tolist() == [0, 1] and [t.get_text() for t in shown[2].get_xticklabels()] == ["x", "y"]
    assert "1 refused" in fig._suptitle.get_text() and "Latin hypercube" in fig._suptitle.get_text()
    # a grid of three axes falls back to the scatter too, and a zipped list of two
    assert sweep_figure_kind(rows, ["a", "b", "c"], "grid") == "scatter"
    assert sweep_figure_kind(rows, ["a", "b"], "list") == "scatter"


def test_no_parameter_no_figure_with_the_reason(tmp_path):
    rows = SweepRows([_row(0, {"seed": 1}, out=1.0), _row(1, {"seed": 2}, out=1.0)], name="s", parameters={})
    (tmp_path / FIGURE_NAME).write_bytes(b"old")  # an earlier sweep's figure must not stay as this one's
    path, why = write_figure(rows, tmp_path)
    assert path is None and "no parameter is swept" in why and not (tmp_path / FIGURE_NAME).exists()
    with pytest.raises(NoSweepFigure, match="no parameter"):
        rows.plot()
    # metrics without any number to draw
    bare = [{"point": 0, "x": 1.0, "binding.most_common": "power", "error": None}]
    with pytest.raises(NoSweepFigure, match="no number to draw"):
        sweep_figure(bare, ["x"])


def test_axis_units_follow_the_file_else_the_magnitude():
    assert axis_unit({"dim": "power", "unit": "MW"}, [3e5]) == ("MW", 1e-6)
    assert axis_unit({"dim": "power"}, [3e5, 6e5]) == ("kW", 1e-3)
    assert axis_unit({"dim": "temperature"}, [35.0]) == ("°C", 1.0)
    assert axis_unit({"dim": "fraction", "unit": "%"}, [0.3]) == ("%", 100.0)
    assert axis_unit({}, [4.0]) == ("", 1.0)


def test_cli_prints_the_figure_and_writes_it(tmp_path, capsys):
    from dcsim.sweep import main

    f = tmp_path / "s.yaml"
    f.write_text(json.dumps({"name": "cli", "base": small_scenario(duration="30 min"),
                             "fixed": {"serving.slo_estimate": False},
                             "parameters": {"facility.weather.t_db": {"values": [20, 40]}}}))
    assert main([str(f), "--out", str(tmp_path / "o"), "--no-cache", "-q"]) == 0
    out = capsys.readouterr().out
    assert "sweep.png" in out and f"figure: {tmp_path / 'o' / 'sweep.png'}" in out
    assert (tmp_path / "o" / "sweep.png").is_file()


def test_axis_info_reads_dimensions_and_rack_group_names_off_the_scenario():
    """The field's dimension comes from its unit-parsing type, also inside an optional one (`Temp | None`), the rack
    group's own name into the label, and the unit from the sweep file (one unit only)."""
    from dcsim.scenario import load_scenario
    from dcsim.sweep import axis_info, load_sweep

    sc = load_scenario(str(__import__("conftest").ROOT / "scenarios" / "reference.yaml"))
    spec = load_sweep({"base": "x.yaml", "parameters": {
        "facility.weather.mean_t": {"values": [20, 30]},
        "facility.interconnect": {"values": ["1 W", "300 kW"]},
        "racks[0].count": {"range": [6, 12], "steps": 4},
        "workload.arrivals.scale": {"range": [0.1, 10], "steps": 3, "log": True}}})
    info = axis_info(spec, sc)
    assert info["facility.weather.mean_t"] == {"name": "mean outdoor dry-bulb", "dim": "temperature", "unit": None,
                                               "log": False}
    assert info["facility.interconnect"]["dim"] == "power" and info["facility.interconnect"]["unit"] is None
    assert info["racks[0].count"]["name"] == "racks (hall-a)" and info["racks[0].count"]["dim"] is None
    assert info["workload.arrivals.scale"]["log"] is True


def test_a_drawing_failure_keeps_the_points_and_says_why(tmp_path, monkeypatch):
    """A bug in the figure must not stop a finished sweep with a traceback: the table is written, the summary says."""
    import dcsim.plots.sweep as ps

    def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(ps, "sweep_figure", broken)
    rows = SweepRows([_row(0, {"x": 1.0}, out=1.0), _row(1, {"x": 2.0}, out=2.0)], name="s",
                     parameters={"x": [1.0, 2.0]})
    (tmp_path / FIGURE_NAME).write_bytes(b"old")
    path, why = write_figure(rows, tmp_path)
    assert path is None and "could not be drawn (RuntimeError: boom)" in why
    assert not (tmp_path / FIGURE_NAME).exists()


def test_a_log_spaced_axis_of_a_heatmap_keeps_every_cell():
    """A log-spaced parameter on a grid: the heatmap's cells sit at their indices, so its axis stays linear (a log
    scale there set the limits from 0 and lost half of the first column with its labels)."""
    import warnings

    rows, i = [], 0
    for a in (0.1, 1.0, 10.0):
        for b in (2, 4):
            rows.append(_row(i, {"a": a, "b": b}, out=1e4 * a * b))
            i += 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Attempt to set non-positive xlim on a log-scaled axis" was warned
        fig = sweep_figure(rows, {"a": {"min": 0.1, "max": 10.0, "log": True}, "b": {"values": [2, 4]}}, mode="grid")
    heat = fig.axes[0]
    assert heat.get_xscale() == "linear" and heat.get_xlim() == pytest.approx((-0.5, 2.5))


def test_the_figure_line_says_what_the_figure_draws(tmp_path):
    """A sweep whose metrics hold only pue draws pue, with no binding map: the summary line said 'output tok/s and
    the binding constraint' whatever was drawn."""
    rows = SweepRows([{"point": i, "a": a, "b": b, "pue": 1.2 + 0.01 * i, "error": None}
                      for i, (a, b) in enumerate((a, b) for a in (1.0, 2.0) for b in (2, 4))],
                     name="s", parameters={"a": {"values": [1.0, 2.0]}, "b": {"values": [2, 4]}})
    path, what = write_figure(rows, tmp_path)
    assert path is not None and what == "pue over a x b"


def test_binding_that_holds_is_the_plurality_unless_the_limits_together_outlast_demand():
    """dcsim.tpf.binding_that_holds: the reference day (demand 42.6 %, compute 25.2, power 14.4, cooling 17.8) is held
    by a limit, compute the longest, 57.4 % in all; demand at 70 % holds its own run; a plurality limit stays."""
    assert binding_that_holds({"demand": 0.426, "compute": 0.252, "power": 0.144, "cooling": 0.178}) == \
        ("compute", pytest.approx(0.574))
    assert binding_that_holds({"demand": 0.7, "compute": 0.3, "power": 0.0, "cooling": 0.0}) == ("demand", 0.7)
    assert binding_that_holds({"demand": 0.3, "compute": 0.1, "power": 0.6, "cooling": 0.0}) == \
        ("power", pytest.approx(0.7))  # the share some limit binds, as where demand leads (review of 2026-12-04)
    assert binding_that_holds({"demand": 0.5, "compute": 0.5}) == ("demand", 0.5)  # a limit must bind *longer*
    assert binding_that_holds({})[0] is None and binding_that_holds(None)[0] is None


def test_the_summary_headline_and_the_sweep_read_one_rule_ties_included():
    """binding_that_holds is the rule report.html's card and the sweep's map both read: demand tied with compute at
    35 % and a limit binding 65 % read "tied" in the card and compute on the map (review of 2026-12-04); two limits
    tied under demand resolve in BINDING_NAMES' order, whatever the order of the shares given."""
    from dcsim.report.summary import binding_headline

    tie = {"demand": 0.35, "compute": 0.35, "power": 0.30, "cooling": 0.0}
    assert binding_that_holds(tie) == ("compute", pytest.approx(0.65))
    assert binding_headline(tie).limits_outlast_demand
    assert binding_that_holds({"demand": 0.4, "power": 0.3, "compute": 0.3})[0] == "compute"
    assert not binding_headline({"demand": 0.7, "compute": 0.3}).limits_outlast_demand


@pytest.mark.parametrize("nx", [2, 3, 5, 8, 12])
def test_the_binding_maps_key_fits_the_figure_at_every_width(nx):
    """The legend's title under a heatmap is the only key saying what a cell's number means; as one line it was cut
    at both edges of sweep.png ("ht: what binds most of the run. ... any limit (or demand) bin") at every width the
    figure takes. Wrapped to the figure, every line lies inside it, and the text is whole."""
    rows = [_row(10 * i + j, {"facility.interconnect": 1e5 * (j + 1), "racks.0.count": i + 2}, out=1e5)
            for i in range(4) for j in range(nx)]
    fig = sweep_figure(rows, {"facility.interconnect": {"name": "interconnect", "dim": "power"},
                              "racks.0.count": {"name": "racks", "dim": None}}, mode="grid")
    fig.canvas.draw()
    title = fig.legends[0].get_title()
    box = title.get_window_extent(fig.canvas.get_renderer())
    assert box.x0 >= 0 and box.x1 <= fig.bbox.width
    text = " ".join(title.get_text().split())
    assert text.startswith("right: what binds most of the run.") and text.endswith("any limit (or demand) binds")


def test_a_row_without_its_binding_rule_gets_no_colour_from_the_plurality():
    """A point's marker is coloured by binding_that_holds (its binding.holds, or its shares by the same rule); a row
    with neither is drawn white (-1), not coloured by its binding.most_common, the plurality the rule replaced."""
    from dcsim.plots.sweep import _holds

    assert _holds({"point": 0, "binding.most_common": "power", "error": None})[0] == -1
    shares = {"binding.share.demand": 0.45, "binding.share.power": 0.3, "binding.share.cooling": 0.25}
    code, share = _holds({"point": 0, "binding.most_common": "demand", "error": None, **shares})
    assert (code, share) == (2, 0.55)  # power leads the limits, which together outlast demand


def test_every_category_of_a_scatter_axis_is_in_view_with_its_label():
    """A categorical axis shows every category's tick and label: the points are spread ±0.15 about their category
    so they do not hide each other, and until session 53 the view was fitted to the spread points, so a category
    whose one point fell below its position lost its tick and label (a 2-point zipped sweep over racks.0.node.gpu:
    MI300X, H100-SXM drew the H100-SXM point at x 0.87 with no label; the view ended at 0.92)."""
    rows = [_row(i, {"racks.0.node.gpu": g, "racks.0.node.tensor_parallel": tp}, out=1e5)
            for i, (g, tp) in enumerate((("MI300X", 2), ("H100-SXM", 4)))]
    rows = SweepRows(rows, name="gpus", mode="list", parameters={"racks.0.node.gpu": {},
                                                                    "racks.0.node.tensor_parallel": {}})
    assert sweep_figure_kind(rows, list(rows.parameters), "list") == "scatter"
    fig = rows.plot()
    fig.canvas.draw()
    ax = next(a for a in fig.axes if a.get_visible() and a.get_xlabel().endswith("racks.0.node.gpu"))
    lo, hi = ax.get_xlim()
    assert lo <= -0.15 and hi >= 1.15, (lo, hi)  # every category and the spread of its points
    shown = [t.get_text() for t in ax.get_xticklabels() if lo <= t.get_position()[0] <= hi and t.get_text()]
    assert shown == ["MI300X", "H100-SXM"]


def test_a_heatmap_cell_run_beyond_its_measurements_with_no_band_is_marked():
    """A point whose run says EXTRAPOLATED CLOCK (calibration.status "extrapolated clock", no error band stated) was
    drawn as a calibrated one, the caveat on stderr only (interconnect_vs_gpus: 3 of 20 points, walkthrough
    2026-12-06); its cell is now dotted and the legend says no band is measured there. Calibrated cells are not."""
    params = [{"facility.interconnect": ic, "racks.0.count": n} for n in (2, 4) for ic in (1e5, 2e5)]
    rows = [_row(i, p, out=1e5 + i, **{"calibration.status": "extrapolated clock" if i == 2 else "calibrated",
                                       "error_band_pct.tok_s": None, "error_band_pct.j_per_tok": None})
            for i, p in enumerate(params)]
    fig = sweep_figure(rows, ["facility.interconnect", "racks.0.count"], mode="grid")
    dotted = [p for p in fig.axes[0].patches if isinstance(p, Rectangle) and p.get_hatch() == ".."]
    assert len(dotted) == 1 and dotted[0].get_xy() == (-0.5, 0.5)  # the first interconnect, 4 racks
    labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert any("extrapolated clock" in t and "no error" in t for t in labels), labels


def test_the_binding_map_dots_the_same_cell_run_beyond_its_measurements():
    """What binds in a cell run beyond its measurements rests on the same unmeasured figures: the binding map dots the
    cell the value map dots (review of WALK3, 2026-12-06: only the value map did)."""
    params = [{"facility.interconnect": ic, "racks.0.count": n} for n in (2, 4) for ic in (1e5, 2e5)]
    rows = [_row(i, p, out=1e5 + i, **{"calibration.status": "extrapolated clock" if i == 2 else "calibrated",
                                       "error_band_pct.tok_s": None, "error_band_pct.j_per_tok": None})
            for i, p in enumerate(params)]
    fig = sweep_figure(rows, ["facility.interconnect", "racks.0.count"], mode="grid")
    axb = next(a for a in fig.axes if a.get_title() == "what binds most of the run")
    dotted = [p.get_xy() for p in axb.patches if isinstance(p, Rectangle) and p.get_hatch() == ".."]
    assert dotted == [(-0.5, 0.5)]


def _dotted_points(ax):
    """(x, y) of the markers drawn dotted (a scatter collection with a dotted hatch) on an axes."""
    pts = []
    for c in ax.collections:
        if (c.get_hatch() or "").startswith(".."):
            pts += [tuple(map(float, xy)) for xy in c.get_offsets()]
    return pts


def _no_band_rows(params, extrapolated):
    return [_row(i, p, out=1e5 + i, **{"calibration.status": "extrapolated clock" if i == extrapolated else "calibrated",
                                       "error_band_pct.tok_s": None, "error_band_pct.j_per_tok": None})
            for i, p in enumerate(params)]


@pytest.mark.parametrize("kind", ["line", "scatter"])
def test_a_one_axis_or_scatter_point_run_beyond_its_measurements_with_no_band_is_marked(kind):
    """The heatmap's rule on the other sweep figures: a point whose run says EXTRAPOLATED CLOCK with no band stated is
    drawn dotted, the legend saying no band is measured there; the calibrated points are not (review of WALK3,
    2026-12-06: a one-axis sweep drew it as a calibrated point, the legend silent)."""
    if kind == "line":
        params = [{"facility.interconnect": ic} for ic in (1e5, 2e5, 3e5, 4e5)]
        fig = sweep_figure(_no_band_rows(params, 2), ["facility.interconnect"])
    else:
        params = [{"facility.interconnect": ic, "racks.0.count": n} for ic, n in ((1e5, 2), (2e5, 3), (3e5, 4), (4e5, 5))]
        fig = sweep_figure(_no_band_rows(params, 2), ["facility.interconnect", "racks.0.count"], mode="random")
    assert sweep_figure_kind(_no_band_rows(params, 2), list(params[0]),
                             "grid" if kind == "line" else "random") == kind
    ax = fig.axes[0]
    assert _dotted_points(ax) == [(3e5, 1e5 + 2)]
    labels = [t.get_text() for a in fig.axes if a.get_legend() for t in a.get_legend().get_texts()]
    labels += [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert any("extrapolated clock" in t and "no error" in t for t in labels), labels
    calibrated = sweep_figure(_no_band_rows(params, -1), list(params[0]), mode="grid" if kind == "line" else "random")
    assert _dotted_points(calibrated.axes[0]) == []
