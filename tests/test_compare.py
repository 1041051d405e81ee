"""`dcsim compare`: deltas computed right, table and JSON agree with the reports, overlay plots
written, bad input rejected with exit code 2. Uses the synthetic TEST FIXTURE of test_report.py."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_report import synthetic_result  # noqa: E402  (test fixture, not shipped)

from conftest import squash  # noqa: E402
from dcsim.report import write_outputs  # noqa: E402
from dcsim.report.compare import CompareError, add_parser, compare, main  # noqa: E402


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("cmp")
    a = synthetic_result("air")
    b = synthetic_result("liquid", e_it_j=0.95, hot=-3.0, samples=False)
    c = synthetic_result("plus20", n_gpus=614, samples=False)
    del c.report["cost"]
    for name, r in (("air", a), ("liquid", b), ("plus20", c)):
        write_outputs(r, base / name, formats=("json", "csv"))
    return base, a, b, c


def test_deltas_absolute_and_percent(runs):
    base, a, b, _ = runs
    table, data = compare([base / "air", base / "liquid"])
    m = data["metrics"]["joules_per_output_token.facility"]
    va = a.report["joules_per_output_token"]["facility"]
    vb = b.report["joules_per_output_token"]["facility"]
    assert m["values"] == [va, vb]
    assert m["delta"] == [None, vb - va]
    assert m["delta_pct"][1] == pytest.approx(100 * (vb - va) / va)
    assert vb < va and m["delta"][1] < 0
    # display scaling: energy in MWh, shares in %
    e = data["metrics"]["energy_j.facility"]
    assert e["unit"] == "MWh" and e["values"][1] == pytest.approx(b.report["energy_j"]["facility"] / 3.6e9)
    s = data["metrics"]["binding.share.power"]
    assert s["values"][0] == pytest.approx(100 * a.report["binding"]["share"]["power"])
    n = data["metrics"]["binding.n_shifts"]["values"]
    assert n == [len(a.report["binding"]["shifts"]), len(b.report["binding"]["shifts"])]
    # the table shows them: facility J/token row with its relative change and an improvement mark
    row = [ln for ln in table.splitlines() if ln.startswith("J/token, facility")][0]
    assert f"{va:.4g}" in row and f"{vb:.4g}" in row
    assert f"({100 * (vb - va) / va:.1f}%) ✓" in row
    share_row = [ln for ln in table.splitlines() if ln.startswith("Time power-bound")][0]
    assert share_row.rstrip().endswith("pp")
    assert [r["label"] for r in data["runs"]] == ["air", "liquid"] and data["reference"] == "air"


def test_three_runs_missing_values_and_binding(runs):
    base, a, b, c = runs
    table, data = compare([base / "air", base / "liquid", base / "plus20"])
    cost = data["metrics"]["cost.usd_per_mtok"]
    assert cost["values"][2] is None and cost["delta"][2] is None and cost["delta"][1] is not None
    thr = data["metrics"]["utilization_adjusted_output_tok_s"]
    assert thr["delta"][2] == pytest.approx(c.report["utilization_adjusted_output_tok_s"]
                                            - a.report["utilization_adjusted_output_tok_s"])
    assert data["binding"][0] == {"most_common": a.report["binding"]["most_common"],
                                  "most_common_share": a.report["binding"]["share"][a.report["binding"]["most_common"]],
                                  "final": a.report["binding"]["final"],
                                  "n_shifts": len(a.report["binding"]["shifts"]),
                                  # the synthetic fixture carries no provenance.calibration: not known
                                  "calibration": "n/a",
                                  # nor a binding.within_band: no limit could bind instead within a band
                                  "within_band": "none"}
    header = table.splitlines()[0]
    assert "plus20" in header and header.count("Δ vs air") == 2
    cost_row = [ln for ln in table.splitlines() if ln.startswith("Cost per M")][0]
    assert cost_row.rstrip().endswith("n/a")


def test_zero_reference_gives_no_percentage(runs, tmp_path):
    base, a, _, _ = runs
    ra = json.loads((base / "air" / "report.json").read_text())
    rb = json.loads((base / "liquid" / "report.json").read_text())
    # shares that sum to 1, as a run's do (compare refuses others)
    ra["binding"]["share"].update(demand=0.75, compute=0.25, power=0.0, cooling=0.0)
    rb["binding"]["share"].update(demand=0.5, compute=0.25, power=0.0, cooling=0.25)
    for name, r in (("x", ra), ("y", rb)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(json.dumps(r))
    _, data = compare([tmp_path / "x", tmp_path / "y"])
    m = data["metrics"]["binding.share.cooling"]
    assert m["delta"] == [None, 25.0] and m["delta_pct"] == [None, None]


def test_overlay_plots_and_json_written(runs, tmp_path):
    base, *_ = runs
    out = tmp_path / "cmp"
    _, data = compare([base / "air", base / "liquid"], out)
    for stem in ("compare_rate", "compare_power", "compare_jpt"):
        p = out / f"{stem}.png"
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
    saved = json.loads((out / "compare.json").read_text())
    assert saved["metrics"]["pue"]["values"] == data["metrics"]["pue"]["values"]
    assert set(saved["files"]) == {"compare_rate.png", "compare_power.png", "compare_jpt.png", "compare.json"}


def test_overlay_rate_figure_draws_each_run(runs):
    from dcsim.report.compare import load_run, overlay_figures

    base, a, b, _ = runs
    loaded = [load_run(base / "air"), load_run(base / "liquid")]
    figs = overlay_figures(["air", "liquid"], loaded)
    ax_p = figs["compare_rate"].axes[2]
    lines = {ln.get_label(): ln for ln in ax_p.get_lines()}
    np.testing.assert_array_equal(lines["liquid"].get_ydata()[:-1], b.timeseries["power_tok_s"])
    np.testing.assert_array_equal(lines["air"].get_ydata()[:-1], a.timeseries["power_tok_s"])
    assert figs["compare_rate"].axes[-1].get_xlim() == pytest.approx((0.0, 24.0))
    bars = figs["compare_jpt"].axes[0].patches
    assert [p.get_height() for p in bars[:3]] == [a.report["joules_per_output_token"][k]
                                                  for k in ("gpu", "it", "facility")]


def test_cli_main_and_errors(runs, tmp_path, capsys):
    base, *_ = runs
    assert main([str(base / "air"), str(base / "liquid"), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "J/token, facility" in out and str(tmp_path / "o") in out
    assert (tmp_path / "o" / "compare_rate.png").exists()
    assert main([str(base / "air"), str(base / "liquid"), "--json", "--no-plots"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["runs"][1]["scenario"] == "liquid" and "files" not in data
    assert main([str(base / "air"), str(tmp_path / "nope")]) == 2
    assert "no report.json" in capsys.readouterr().err
    assert main([str(base / "air")]) == 2
    with pytest.raises(CompareError):
        compare([base / "air"])


def test_add_parser_registers_subcommand(runs):
    base, *_ = runs
    parser = argparse.ArgumentParser(prog="dcsim")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    args = parser.parse_args(["compare", str(base / "air"), str(base / "liquid"), "--no-plots"])
    assert args.command == "compare" and args.func(args) == 0


def test_percentage_rows_are_marked_in_percentage_points():
    from dcsim.report.compare import _fmt_delta

    assert _fmt_delta(-6.26, None, "%", "higher") == "-6.26 pp ✗"   # utilization down: worse
    assert _fmt_delta(2.0, None, "%", "higher") == "+2 pp ✓"
    assert _fmt_delta(0.1, None, "%", "higher") == "+0.1 pp"        # below the threshold: unmarked
    assert _fmt_delta(5.0, None, "%", None) == "+5 pp"              # binding shares: no better/worse


# --- overlay figures against the numbers they were drawn from (mutation audit) ---------------------------------------

def _rgb(c):
    from matplotlib.colors import to_rgba

    return to_rgba(c)[:3]


def _steps(ln):
    """(x, per-tick values) of a step line drawn over tick edges (the last value repeated to close the last tick)."""
    x, y = np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float)
    assert y[-1] == y[-2] or (np.isnan(y[-1]) and np.isnan(y[-2]))
    return x, y[:-1]


def _edges_h(ts):
    h = np.asarray(ts["t_s"], float) / 3600.0
    return np.append(h, h[-1] + h[1] - h[0])


@pytest.fixture(scope="module")
def three(runs):
    from dcsim.report.compare import load_run, overlay_figures

    base, *_ = runs
    labels = ["air", "liquid", "plus20"]
    loaded = [load_run(base / n) for n in labels]
    return labels, loaded, overlay_figures(labels, loaded)


def test_overlay_rate_panels_draw_each_run_in_its_colour(three):
    """Each panel (achieved with demand dashed, C, P, Q) draws every run's column at its ticks on the hours axis, in
    the run's colour, under the run's name; panel titles in their constraint's colour. Catches runs swapped or named
    after another run, a tick's shift, seconds on an hours axis, panels swapped, demand drawn as the achieved rate or
    in another run's colour."""
    from dcsim.plots import CONSTRAINT_COLORS, RUN_COLORS

    labels, loaded, figs = three
    fig = figs["compare_rate"]
    axes = fig.axes
    panels = [("achieved_tok_s", "achieved (solid) and demand (dashed)", "#111111"),
              ("compute_tok_s", "C  compute ceiling", CONSTRAINT_COLORS["compute"]),
              ("power_tok_s", "P  power ceiling", CONSTRAINT_COLORS["power"]),
              ("cooling_tok_s", "Q  cooling ceiling", CONSTRAINT_COLORS["cooling"])]
    assert len(axes) == 4
    for ax, (col, title, colour) in zip(axes, panels):
        assert ax.get_title(loc="left") == title
        assert _rgb(ax._left_title.get_color()) == _rgb(colour)  # the left title's Text (no public getter)
        assert ax.get_ylabel() == "tok/s"
        for i, (lab, (_, ts)) in enumerate(zip(labels, loaded)):
            ln = [x for x in ax.get_lines() if x.get_label() == lab]
            assert len(ln) == 1, (col, lab)
            x, y = _steps(ln[0])
            np.testing.assert_allclose(x, _edges_h(ts))
            np.testing.assert_array_equal(y, ts[col])
            assert _rgb(ln[0].get_color()) == _rgb(RUN_COLORS[i])
            if col == "achieved_tok_s":
                dashed = [x for x in ax.get_lines() if x.get_linestyle() == "--"
                          and _rgb(x.get_color()) == _rgb(RUN_COLORS[i])]
                assert len(dashed) == 1
                np.testing.assert_array_equal(_steps(dashed[0])[1], ts["demand_tok_s"])
    assert not np.array_equal(loaded[0][1]["compute_tok_s"], loaded[2][1]["compute_tok_s"])  # runs tell apart
    # the runs share one clock: the axis is its local time (x stays hours from the start)
    assert axes[-1].get_xlabel() == "local time, day 196" and axes[-1].get_xlim() == pytest.approx((0.0, 24.0))
    leg = axes[0].get_legend()
    assert [t.get_text() for t in leg.get_texts()] == labels
    assert [_rgb(h.get_color()) for h in leg.legend_handles] == [_rgb(c) for c in RUN_COLORS[:3]]


def test_overlay_power_draws_each_run_in_kw_or_mw(three):
    """Facility power, IT power and the cap of each run at its ticks, in kW below 1 MW (MW above), in the run's
    colour and under its name. Catches a run's lines swapped or named after another run, watts on a kW axis, an
    unscaled cap, IT drawn as facility, a tick's shift, the cap in a colour that belongs to no run."""
    from dcsim.plots import RUN_COLORS
    from dcsim.report.compare import overlay_figures

    labels, loaded, figs = three
    ax = figs["compare_power"].axes[0]
    assert ax.get_ylabel() == "power (kW)" and ax.get_xlabel() == "local time, day 196"
    assert ax.get_xlim() == pytest.approx((0.0, 24.0))
    want = []
    for i, (lab, (_, ts)) in enumerate(zip(labels, loaded)):
        for part, col in (("facility", "facility_power_w"), ("IT", "it_power_w"),
                          ("interconnect cap", "interconnect_w")):
            ln = [x for x in ax.get_lines() if x.get_label() == f"{lab}: {part}"]
            assert len(ln) == 1, (lab, part)
            x, y = _steps(ln[0])
            np.testing.assert_allclose(x, _edges_h(ts))
            np.testing.assert_allclose(y, ts[col] * 1e-3, rtol=1e-12)
            assert _rgb(ln[0].get_color()) == _rgb(RUN_COLORS[i])
            want.append(f"{lab}: {part}")
    assert not np.allclose(loaded[0][1]["facility_power_w"], loaded[1][1]["facility_power_w"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == want
    # above 1 MW the axis is in MW
    big = [(r, {**ts, **{k: ts[k] * 10.0 for k in ("facility_power_w", "it_power_w", "interconnect_w")}})
           for r, ts in loaded[:2]]
    ax = overlay_figures(labels[:2], big)["compare_power"].axes[0]
    assert ax.get_ylabel() == "power (MW)"
    np.testing.assert_allclose(_steps([x for x in ax.get_lines() if x.get_label() == "liquid: facility"][0])[1],
                               big[1][1]["facility_power_w"] * 1e-6, rtol=1e-12)


def test_overlay_jpt_bars_grouped_by_level_in_run_colours(three):
    """J/token bars: for each level (GPU, IT, facility) one bar per run, left to right in run order, at the report's
    value, in the run's colour, the value written on it; the legend names each run in its colour. Catches bars of
    one run under another's name or colour, levels swapped, a wrong number written on a bar."""
    from dcsim.plots import RUN_COLORS

    labels, loaded, figs = three
    ax = figs["compare_jpt"].axes[0]
    n, w = len(labels), 0.8 / len(labels)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["GPU", "IT", "facility"]
    assert ax.get_ylabel() == "energy per output token (J/token)"
    assert len(ax.containers) == n
    texts = {(round(t.xy[0], 9), round(t.xy[1], 12)): t.get_text() for t in ax.texts}
    for i, (bars, (rep, _)) in enumerate(zip(ax.containers, loaded)):
        assert bars.get_label() == labels[i]
        for k, (b, level) in enumerate(zip(bars, ("gpu", "it", "facility"))):
            v = rep["joules_per_output_token"][level]
            assert b.get_height() == v
            assert b.get_x() + b.get_width() / 2 == pytest.approx(k + (i - (n - 1) / 2) * w)
            assert _rgb(b.get_facecolor()) == _rgb(RUN_COLORS[i])
            assert texts[(round(b.get_x() + b.get_width() / 2, 9), round(v, 12))] == f"{v:#.3g}"
    leg = ax.get_legend()
    assert [t.get_text() for t in leg.get_texts()] == labels
    assert [_rgb(h.get_facecolor()) for h in leg.legend_handles] == [_rgb(c) for c in RUN_COLORS[:n]]


def test_overlay_colours_follow_the_run_when_one_has_no_timeseries(three):
    """A run without timeseries.csv is left out of the time-series overlays but keeps its colour: the next run is
    drawn in its own colour, the one its J/token bars have (it took the missing run's colour and line width, so the
    planner read the rate and power of 'liquid' in the colour the bar chart gives 'air')."""
    from dcsim.plots import RUN_COLORS
    from dcsim.report.compare import overlay_figures

    labels, loaded, _ = three
    gap = [(loaded[0][0], None), loaded[1], loaded[2]]
    figs = overlay_figures(labels, gap)
    jpt = {c.get_label(): _rgb(c[0].get_facecolor()) for c in figs["compare_jpt"].axes[0].containers}
    for lab in labels[1:]:
        i = labels.index(lab)
        rate = [x for x in figs["compare_rate"].axes[0].get_lines() if x.get_label() == lab][0]
        power = [x for x in figs["compare_power"].axes[0].get_lines() if x.get_label() == f"{lab}: facility"][0]
        assert _rgb(rate.get_color()) == _rgb(power.get_color()) == jpt[lab] == _rgb(RUN_COLORS[i])
    assert "air" not in [x.get_label() for x in figs["compare_rate"].axes[0].get_lines()]


def test_overlay_power_names_the_cap_in_force_and_draws_the_meter(three):
    """As in the run's power figure: a cap lowered by a curtailment is the cap in force (it was 'interconnect cap'),
    and with a battery the meter (what the cap limits) is drawn next to facility power, which may exceed the cap."""
    from dcsim.plots.figures import CAP_IN_FORCE
    from dcsim.report.compare import overlay_figures

    labels, loaded, _ = three
    (ra, ta), (rb, tb) = loaded[:2]
    n = ta["t_s"].size
    cut = np.where((np.arange(n) >= 300) & (np.arange(n) < 330), 0.7, 1.0)
    tb = {**tb, "interconnect_w": tb["interconnect_w"] * cut, "meter_power_w": tb["facility_power_w"] - 2e4 * cut}
    ta = {**ta, "meter_power_w": ta["facility_power_w"].copy()}  # no battery: meter = facility, not drawn again
    ax = overlay_figures(labels[:2], [(ra, ta), (rb, tb)])["compare_power"].axes[0]
    names = [x.get_label() for x in ax.get_lines()]
    assert "air: interconnect cap" in names and "air: meter (after storage)" not in names
    assert f"liquid: {CAP_IN_FORCE}" in names and "liquid: interconnect cap" not in names
    for label, col in ((f"liquid: {CAP_IN_FORCE}", "interconnect_w"), ("liquid: meter (after storage)",
                                                                       "meter_power_w")):
        ln = [x for x in ax.get_lines() if x.get_label() == label][0]
        x, y = _steps(ln)
        np.testing.assert_allclose(x, _edges_h(tb))
        np.testing.assert_allclose(y, tb[col] * 1e-3, rtol=1e-12)


def _long_runs(loaded, days, seed=3, tick_s=3600.0):
    """The runs' reports with seeded synthetic hourly time series of ``days[i]`` days each."""
    rng = np.random.default_rng(seed)
    out = []
    for (rep, _), d in zip(loaded, days):
        n = int(round(d * 86400.0 / tick_s))
        ts = {"t_s": np.arange(n) * tick_s}
        for k in ("demand_tok_s", "achieved_tok_s", "compute_tok_s", "power_tok_s", "cooling_tok_s"):
            ts[k] = rng.uniform(1e5, 4e5, n)
        for k in ("facility_power_w", "it_power_w", "interconnect_w"):
            ts[k] = rng.uniform(2e5, 6e5, n)
        out.append((rep, ts))
    return out


def test_overlays_beyond_two_weeks_are_daily_means(three):
    """As the run figures do (signature and power plots): runs longer than two weeks are drawn as daily means, not
    tick by tick (a solid block), and the titles say so. One time base: a shorter run beside a long one is drawn as
    daily means too. Two weeks or less stays tick by tick. Catches the overlays drawing every tick of a month."""
    from dcsim.report.compare import overlay_figures

    labels, loaded, _ = three
    long = _long_runs(loaded[:2], (20, 3))
    figs = overlay_figures(labels[:2], long)
    rate, power = figs["compare_rate"], figs["compare_power"]
    assert rate.get_suptitle() == "Token rate and ceilings, run by run (daily means)"
    assert power.axes[0].get_title() == "Facility power, run by run (daily means)"
    assert rate.axes[-1].get_xlabel() == power.axes[0].get_xlabel() == "local date (day of the year)"
    for (lab, (_, ts)), days in zip(zip(labels, long), (20, 3)):
        for ax, label, col, scale in ((rate.axes[0], lab, "achieved_tok_s", 1.0),
                                      (rate.axes[2], lab, "power_tok_s", 1.0),
                                      (power.axes[0], f"{lab}: facility", "facility_power_w", 1e-3)):
            ln = [x for x in ax.get_lines() if x.get_label() == label]
            assert len(ln) == 1, (label, col)
            x, y = _steps(ln[0])
            np.testing.assert_allclose(x, np.arange(days + 1.0))          # one step per day, on the days axis
            np.testing.assert_allclose(y, ts[col].reshape(days, 24).mean(axis=1) * scale, rtol=1e-12)
    # exactly two weeks: tick by tick, as in the run figures
    two = _long_runs(loaded[:2], (14 + 1 / 24, 14 + 1 / 24))
    figs = overlay_figures(labels[:2], two)
    assert figs["compare_rate"].get_suptitle() == "Token rate and ceilings, run by run"
    assert figs["compare_power"].axes[0].get_title() == "Facility power, run by run"
    ln = [x for x in figs["compare_rate"].axes[0].get_lines() if x.get_label() == labels[0]][0]
    np.testing.assert_array_equal(_steps(ln)[1], two[0][1]["achieved_tok_s"])


@pytest.mark.parametrize("gap", [0, 1])
def test_overlays_name_a_run_without_timeseries_in_its_colour(three, gap):
    """A run without timeseries.csv no longer vanishes from the rate and power overlays: their legends list it, in
    run order, as '<name>: no time series' in the colour its J/token bars have, with nothing drawn for it."""
    from dcsim.plots import RUN_COLORS
    from dcsim.report.compare import overlay_figures

    labels, loaded, _ = three
    gapped = [(r, None) if i == gap else (r, ts) for i, (r, ts) in enumerate(loaded)]
    figs = overlay_figures(labels, gapped)
    jpt = {c.get_label(): _rgb(c[0].get_facecolor()) for c in figs["compare_jpt"].axes[0].containers}
    missing = f"{labels[gap]}: no time series"
    rate_leg = figs["compare_rate"].axes[0].get_legend()
    assert [t.get_text() for t in rate_leg.get_texts()] == [missing if i == gap else lab
                                                            for i, lab in enumerate(labels)]
    assert _rgb(rate_leg.legend_handles[gap].get_color()) == jpt[labels[gap]] == _rgb(RUN_COLORS[gap])
    power_ax = figs["compare_power"].axes[0]
    power_texts = [t.get_text() for t in power_ax.get_legend().get_texts()]
    assert missing in power_texts
    assert power_texts.index(missing) == (0 if gap == 0 else power_texts.index(f"{labels[0]}: interconnect cap") + 1)
    h = power_ax.get_legend().legend_handles[power_texts.index(missing)]
    assert _rgb(h.get_color()) == jpt[labels[gap]]
    for ax in (figs["compare_rate"].axes[0], power_ax):
        ln = [x for x in ax.get_lines() if x.get_label() == missing]
        assert len(ln) == 1 and ln[0].get_xydata().shape == (0, 2)   # named, nothing drawn


def test_compare_says_which_runs_have_no_timeseries(runs, tmp_path):
    """With no timeseries.csv in a run, the printed table says so (the overlays alone did, in a legend), and
    with none in any run it says that no rate or power overlay was drawn (it wrote them silently not at all)."""
    base, *_ = runs
    for name in ("air", "liquid"):
        d = tmp_path / name
        d.mkdir()
        (d / "report.json").write_bytes((base / name / "report.json").read_bytes())
    table, data = compare([base / "air", tmp_path / "liquid"], tmp_path / "one")
    assert data["runs_without_timeseries"] == ["liquid"]
    assert table.endswith("No timeseries.csv in liquid: the rate and power overlays name it without a line")
    assert (tmp_path / "one" / "compare_rate.png").is_file()
    table, data = compare([tmp_path / "air", tmp_path / "liquid"], tmp_path / "none")
    assert data["runs_without_timeseries"] == ["air", "liquid"]
    assert table.endswith("No timeseries.csv in air, liquid: no rate or power overlay is drawn, only the J/token bars")
    assert sorted(p.name for p in (tmp_path / "none").iterdir()) == ["compare.json", "compare_jpt.png"]
    table, data = compare([base / "air", base / "liquid"], tmp_path / "all")
    assert "runs_without_timeseries" not in data and "No timeseries.csv" not in table
    table, data = compare([base / "air", tmp_path / "liquid"])   # no plots written: nothing to say
    assert "No timeseries.csv" not in table


def test_dashed_lines_two_runs_share_show_both_runs(three):
    """Runs compared on one workload share the demand line and often the cap: the dashed and dotted lines were all
    1-1.2 pt, so the last run's hid the others'. Now each run's is wider than every later run's (as the solid lines),
    so the earlier colours show at the edges."""
    from dcsim.plots import RUN_COLORS

    labels, loaded, figs = three
    for ax, styles in ((figs["compare_rate"].axes[0], ("--",)), (figs["compare_power"].axes[0], ("--", "-."))):
        for ls in styles:
            widths = []
            for c in RUN_COLORS[:3]:
                ln = [x for x in ax.get_lines() if x.get_linestyle() == ls and _rgb(x.get_color()) == _rgb(c)]
                assert len(ln) == 1, (ls, c)
                widths.append(ln[0].get_linewidth())
            assert widths[0] > widths[1] > widths[2] >= 1.0, (ls, widths)
            # the solid lines' rule, narrower: the dashes stay thinner than the run's own solid line
            solid = [x.get_linewidth() for x in ax.get_lines() if x.get_linestyle() == "-" and x.get_label() != "_nolegend_"]
            assert all(w < s for w, s in zip(widths, solid[:3]))


@pytest.mark.parametrize("name, content, expect", [
    ("report.json", "[1, 2]", "a JSON object expected"),
    ("report.json", '{"binding": "x"}', "binding is a str"),
    ("report.json", '{"binding": {"share": [1, 2]}}', "binding.share is a list"),
    ("report.json", '{"binding": {"shifts": [5]}}', "binding.shifts[0] is a int"),
    ("report.json", '{"provenance": {"calibration": "x"}}', "provenance.calibration is a str"),
    ("report.json", '{"provenance": {"calibration": [5]}}', "provenance.calibration[0] is a int"),
    ("report.json", '{"slo_tail_near_ceiling": 5}', "slo_tail_near_ceiling is a int"),
    ("report.json", b"\xff\xfe\x00", "not UTF-8"),
    ("timeseries.csv", "", "empty time-series file"),
    ("timeseries.csv", b"\xa1\xb2", "not UTF-8"),
    ("timeseries.csv", "t_s,x\n0,abc\n", "not a dcsim time series"),
])
def test_a_malformed_result_folder_is_one_error_naming_the_file(runs, tmp_path, capsys, name, content, expect):
    """A report or time series compare cannot read as dcsim wrote it is exit 2 naming the file, not a traceback."""
    base, *_ = runs
    bad = tmp_path / "bad"
    bad.mkdir()
    if name == "timeseries.csv":
        (bad / "report.json").write_text((base / "air" / "report.json").read_text())
    target = bad / name
    target.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main([str(base / "air"), str(bad), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert str(target) in err and expect in err, err


def test_calibration_entries_that_are_not_mappings_are_skipped_in_reports_handed_in(runs):
    """overlay_figures takes reports as they are (not through load_run, which refuses a provenance.calibration entry
    that is not a mapping, above): such an entry is skipped by every reader of the record — the profiles, the error
    band, the caveat — as the error band skipped it; until 2026-12-05 the profiles' walk and the caveat raised
    AttributeError on it."""
    from dcsim.report.compare import _run_rows, load_run, overlay_figures

    base, *_ = runs
    air, (liquid, ts) = load_run(base / "air"), load_run(base / "liquid")
    entry = {"profile": "pooled-H100-SXM", "error_band_pct": {"tok_s_pct": 27.8}}
    odd = dict(liquid, provenance=dict(liquid.get("provenance") or {}, calibration=[5, "x", entry]))
    figs = overlay_figures(["air", "odd"], [air, (odd, ts)])
    assert {"compare_rate", "compare_power", "compare_jpt"} <= set(figs)
    row = _run_rows(["air", "odd"], [None, None], [air[0], odd])[1]
    assert row["profiles"] == ["pooled-H100-SXM"] and row["error_band_pct"] == {"tok_s_pct": 27.8}
    assert row["calibration_caveat"] == _run_rows(["one"], [None], [dict(liquid, provenance={
        "calibration": [entry]})])[0]["calibration_caveat"]


@pytest.mark.parametrize("content, missing", [
    ('{"a": 1}', "scenario, duration_s, binding.share, throughput_tok_s.output, joules_per_output_token, energy_j, pue"),
    ('{"scenario": "x", "duration_s": 60, "binding": {"share": {}}, "throughput_tok_s": {"output": 1}, '
     '"joules_per_output_token": {}, "energy_j": {}}', "no pue "),
])
def test_a_json_object_that_is_not_a_report_is_refused(runs, tmp_path, capsys, content, missing):
    """{"a": 1} as report.json was compared as a run (every figure n/a), exit 0. A report.json without the keys
    every dcsim report has is refused, naming the file and the missing keys, exit 2; a null figure is no gap."""
    base, *_ = runs
    fake = tmp_path / "fakejson"
    fake.mkdir()
    (fake / "report.json").write_text(content)
    assert main([str(base / "air"), str(fake), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert f"{fake / 'report.json'}: not a dcsim report: no " in err and missing in err, err
    rep = json.loads((base / "air" / "report.json").read_text())
    rep["pue"] = None   # a figure the run could not give is null, not missing
    ok = tmp_path / "nullpue"
    ok.mkdir()
    (ok / "report.json").write_text(json.dumps(rep))
    assert main([str(base / "air"), str(ok), "--no-plots"]) == 0


# --- runs that are not like for like (audit: durations, starts, fidelities, SLO methods, seeds) ---------------------

def _variant(base, tmp_path, name, src="air", **changes):
    """A copy of a fixture run with report.json keys changed (``clock``, ``duration_s``, ``fidelity``, ``seed``,
    ``goodput_tok_s``, ...; dotted keys reach into blocks) and, with ``ts_hours``, its time series cut to that many
    hours."""
    rep = json.loads((base / src / "report.json").read_text())
    hours = changes.pop("ts_hours", None)
    for k, v in changes.items():
        *head, last = k.split("__")
        d = rep
        for h in head:
            d = d[h]
        d[last] = v
    d = tmp_path / name
    d.mkdir()
    (d / "report.json").write_text(json.dumps(rep))
    csv_text = (base / src / "timeseries.csv").read_text().splitlines()
    if hours is not None:
        hdr, rows = csv_text[0], csv_text[1:]
        rows = [r for r in rows if float(r.split(",")[0]) < hours * 3600.0]
        csv_text = [hdr] + rows
    (d / "timeseries.csv").write_text("\n".join(csv_text) + "\n")
    return d


def _row(table, label):
    return [ln for ln in table.splitlines() if ln.startswith(label)][0]


def test_totals_over_different_durations_are_not_marked(runs, tmp_path):
    """A 2-h run beside a 24-h one: its energy is a twelfth and its tokens too. Energy −92 % was marked ✓ and output
    tokens −92 % ✗ (totals over different durations); now they carry † and the note says why, the table opens with
    the durations, and the rates and per-token figures keep their marks."""
    base, a, _, _ = runs
    short = _variant(base, tmp_path, "short", src="liquid", duration_s=7200.0, ts_hours=2,
                     tokens__output=a.report["tokens"]["output"] / 12,
                     energy_j__facility=a.report["energy_j"]["facility"] / 12)
    table, data = compare([base / "air", short])
    for key, label in (("energy_j.facility", "Energy, facility"), ("tokens.output", "Output tokens"),
                       ("binding.n_shifts", "Binding shifts")):
        m = data["metrics"][key]
        assert m["unmarked"] == [None, "duration"] and m["mark"] == [None, None], key
        row = _row(table, label)
        assert row.rstrip().endswith("†") and "✓" not in row and "✗" not in row, row
    assert data["metrics"]["joules_per_output_token.facility"]["mark"] == [None, "better"]   # per token: marked
    assert _row(table, "J/token, facility").rstrip().endswith("✓")
    assert not data["like_for_like"]
    assert {k: v for k, v in data["differences"][0].items() if k != "note"} == {"field": "duration",
                                                                                "values": ["24 h", "2 h"]}
    assert data["differences"][0]["note"].startswith("totals (energy, output tokens, binding shifts) are not marked")
    lines = table.splitlines()
    assert lines[0] == "NOT LIKE FOR LIKE: the runs differ in duration"
    assert lines[1].split() == ["duration", "air:", "24", "h", "|", "short:", "2", "h"]
    assert "† a total over runs of different durations (24 h, 2 h): not marked" in table
    assert data["runs"][1]["duration_s"] == 7200.0


def test_like_for_like_runs_have_no_warning_block(runs):
    """The same duration, start, fidelity, SLO method and seed: the table starts with its header as before."""
    base, *_ = runs
    table, data = compare([base / "air", base / "liquid"])
    assert data["like_for_like"] and data["differences"] == []
    assert table.splitlines()[0].startswith("metric")
    assert data["overlay_time"]["axis"] == "elapsed"
    assert data["overlay_time"]["note"] == "every run starts at day 196 00:00: elapsed time is the local clock"


def test_energy_is_marked_only_when_the_runs_served_the_same_work(runs, tmp_path):
    """Less energy for fewer tokens served is no improvement: energy totals are marked only when output tokens
    changed by less than MARK_THRESHOLD_PCT (else ‡, and J/token is the figure that compares); with the same work,
    less energy is ✓."""
    from dcsim.report.compare import MARK_THRESHOLD_PCT

    base, a, _, _ = runs
    tok, e = a.report["tokens"]["output"], a.report["energy_j"]["facility"]
    fewer = _variant(base, tmp_path, "fewer", tokens__output=0.9 * tok, energy_j__facility=0.93 * e)
    table, data = compare([base / "air", fewer])
    m = data["metrics"]["energy_j.facility"]
    assert m["delta_pct"][1] == pytest.approx(-7.0) and m["unmarked"] == [None, "work"] and m["mark"] == [None, None]
    assert _row(table, "Energy, facility").rstrip().endswith("‡")
    assert "‡ energy and peak draw of runs that served different work (output tokens changed fewer -10.0 %)" in table
    same = _variant(base, tmp_path, "same", tokens__output=tok * (1 - MARK_THRESHOLD_PCT / 200),
                    energy_j__facility=0.93 * e)
    table, data = compare([base / "air", same])
    assert data["metrics"]["energy_j.facility"]["mark"] == [None, "better"]
    assert _row(table, "Energy, facility").rstrip().endswith("✓")


def test_slo_changes_within_the_fluid_estimates_seed_noise_are_not_marked(runs, tmp_path):
    """Two fluid runs: their SLO figures each carry the estimate's seed noise (SEED_BAND_PCT, from docs/slo.md), so a
    change of up to twice it is not marked (≈): the curtailed day's 'SLO goodput +1.4 % ✓' and 'J/SLO-meeting token
    −4.9 % ✓' were noise (the reference day at seeds 42 and 43 differed by 6.3 % on 2026-12-03, 0.6 % since). Beyond it, marked."""
    from dcsim.serving.slo_estimate import SEED_BAND_PCT

    base, a, _, _ = runs
    g = a.report["goodput_tok_s"]
    inside = _variant(base, tmp_path, "inside", goodput_tok_s=g * (1 + 1.9 * SEED_BAND_PCT / 100))
    table, data = compare([base / "air", inside])
    m = data["metrics"]["goodput_tok_s"]
    assert m["unmarked"] == [None, "slo_noise"] and m["mark"] == [None, None]
    assert _row(table, "SLO goodput").rstrip().endswith("≈")
    assert (f"≈ within the fluid SLO estimate's seed noise (each fluid run {SEED_BAND_PCT:g} % either way, so up to "
            f"{2 * SEED_BAND_PCT:g} % between two; docs/slo.md)") in squash(table)  # the note wraps at the width
    outside = _variant(base, tmp_path, "outside", goodput_tok_s=g * (1 + 2.1 * SEED_BAND_PCT / 100))
    table, data = compare([base / "air", outside])
    assert data["metrics"]["goodput_tok_s"]["mark"] == [None, "better"]
    assert _row(table, "SLO goodput").rstrip().endswith("✓")


def test_the_seed_band_has_one_home():
    """compare reads the band from dcsim.serving.slo_estimate (not a copy of the number), and docs/slo.md names it."""
    import dcsim.report.compare as cmp
    from dcsim.serving import slo_estimate

    assert cmp.SEED_BAND_PCT is slo_estimate.SEED_BAND_PCT
    src = Path(cmp.__file__).read_text()
    band, pair = f"{slo_estimate.SEED_BAND_PCT:g}", f"{2 * slo_estimate.SEED_BAND_PCT:g}"
    assert not re.search(rf"(?<![\d.]){re.escape(band)} ?%|(?<![\d.]){re.escape(pair)}(?![\d])", src)
    slo_md = (Path(__file__).resolve().parents[1] / "docs" / "slo.md").read_text()
    assert "SEED_BAND_PCT" in slo_md and f"±{slo_estimate.SEED_BAND_PCT:g} %" in slo_md


def test_slo_figures_across_methods_are_not_marked(runs, tmp_path):
    """The fluid estimate against request-measured SLO figures of the same physics ('SLO goodput +6.8 % ✓' at fluid
    vs request fidelity) is no change of the hall: ≠, never ✓/✗, and the table opens with the fidelity and the SLO
    method of each run; a request run against a request run is marked as before."""
    base, a, _, _ = runs
    req = _variant(base, tmp_path, "req", fidelity="request", goodput_tok_s=a.report["goodput_tok_s"] * 1.5)
    table, data = compare([base / "air", req])
    from dcsim.report.compare import SLO_FIGURES

    changed = [k for k in SLO_FIGURES if k in data["metrics"] and data["metrics"][k]["delta"][1]]
    assert "goodput_tok_s" in changed  # every SLO figure that moved across the methods is unmarked, for that reason
    assert all(data["metrics"][k]["unmarked"][1] == "slo_method" for k in changed), changed
    m = data["metrics"]["goodput_tok_s"]
    assert m["unmarked"] == [None, "slo_method"] and m["mark"] == [None, None]
    assert _row(table, "SLO goodput").rstrip().endswith("≠")
    assert [r["slo_method"] for r in data["runs"]] == ["fluid estimate", "request-measured"]
    fields = {d["field"]: d["values"] for d in data["differences"]}
    assert fields == {"fidelity": ["fluid", "request"], "SLO method": ["fluid estimate", "request-measured"]}
    assert table.splitlines()[0] == "NOT LIKE FOR LIKE: the runs differ in fidelity, SLO method"
    req0 = _variant(base, tmp_path, "req0", fidelity="request")
    _, data = compare([req0, req])
    assert data["metrics"]["goodput_tok_s"]["mark"] == [None, "better"]
    # a hybrid run measures per request too
    hyb = _variant(base, tmp_path, "hyb", fidelity="hybrid", goodput_tok_s=a.report["goodput_tok_s"] * 1.5)
    _, data = compare([req0, hyb])
    assert [d["field"] for d in data["differences"]] == ["fidelity"]
    assert data["metrics"]["goodput_tok_s"]["mark"] == [None, "better"]


def test_seeds_and_starts_that_differ_are_said(runs, tmp_path):
    """Seed and local start differences head the table and compare.json, with each run's value."""
    base, *_ = runs
    other = _variant(base, tmp_path, "other", seed=8, clock={"day_of_year": 196, "hour": 11.0,
                                                              "start": "2026-07-15T11:00:00"},
                     duration_s=7200.0, ts_hours=2)
    ref = _variant(base, tmp_path, "ref", clock={"day_of_year": 196, "hour": 0.0, "start": "2026-07-15T00:00:00"})
    table, data = compare([ref, other], tmp_path / "out")
    fields = {d["field"]: d["values"] for d in data["differences"]}
    assert fields == {"duration": ["24 h", "2 h"], "start": ["2026-07-15 00:00", "2026-07-15 11:00"],
                      "seed": ["7", "8"]}
    assert table.splitlines()[0] == "NOT LIKE FOR LIKE: the runs differ in duration, start, seed"
    saved = json.loads((tmp_path / "out" / "compare.json").read_text())
    assert saved["differences"] == data["differences"] and saved["like_for_like"] is False
    assert saved["overlay_time"]["axis"] == "local clock"
    assert [r["start"] for r in saved["runs"]] == ["2026-07-15 00:00", "2026-07-15 11:00"]


def test_overlays_place_runs_at_their_local_start(runs, tmp_path):
    """chiller-trip's 11:00-13:00 was drawn at 0-2 h beside the reference's midnight (3x its demand 'at 0 h'): runs
    that start at different local times are drawn at their starts on the local clock; the titles say what differs."""
    from dcsim.report.compare import load_run, overlay_figures

    base, *_ = runs
    ref = _variant(base, tmp_path, "ref", clock={"day_of_year": 196, "hour": 0.0, "start": "2026-07-15T00:00:00"})
    late = _variant(base, tmp_path, "late", src="liquid", duration_s=7200.0, ts_hours=2,
                    clock={"day_of_year": 196, "hour": 11.0, "start": "2026-07-15T11:00:00"})
    loaded = [load_run(ref), load_run(late)]
    figs = overlay_figures(["ref", "late"], loaded)
    for ax in (figs["compare_rate"].axes[0], figs["compare_power"].axes[0]):
        lab = "late" if ax is figs["compare_rate"].axes[0] else "late: facility"
        x, _ = _steps([ln for ln in ax.get_lines() if ln.get_label() == lab][0])
        assert x[0] == pytest.approx(11.0) and x[-1] == pytest.approx(13.0)   # hours from midnight, local
        assert ax.get_xlim() == pytest.approx((0.0, 24.0))
    ax = figs["compare_rate"].axes[-1]
    # ticked and labelled as each run's own figures are (plots.clock_ticks): every 3 h, the midnight that ends the
    # day with its date (it read "00:00" like the start)
    assert ax.get_xlabel() == "local time, 2026-07-15 (each run at its own start)"
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "00:00", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00", "00:00\nJul 16"]
    assert list(ax.get_xticks()) == pytest.approx([0, 3, 6, 9, 12, 15, 18, 21, 24])
    want = "Not like for like (ref / late): duration 24 h / 2 h; start 00:00 / 11:00 (2026-07-15)"
    assert figs["compare_rate"].get_suptitle() == "Token rate and ceilings, run by run\n" + want
    assert figs["compare_power"].get_suptitle() == "Facility power, run by run\n" + want
    assert figs["compare_jpt"].get_suptitle().startswith("Joules per output token, run by run\nNot like for like")
    # starts on dates further apart than the longest run: laid over one another by the hour of day, and said so
    jan = _variant(base, tmp_path, "jan", src="liquid", duration_s=7200.0, ts_hours=2,
                   clock={"day_of_year": 20, "hour": 11.0, "start": "2026-01-20T11:00:00"})
    figs = overlay_figures(["ref", "jan"], [loaded[0], load_run(jan)])
    ax = figs["compare_power"].axes[0]
    x, _ = _steps([ln for ln in ax.get_lines() if ln.get_label() == "jan: facility"][0])
    assert x[0] == pytest.approx(11.0)
    assert ax.get_xlabel() == "local hour of day (the runs start on different dates: laid over one another)"
    # a start unknown: elapsed time, said plainly
    blind = _variant(base, tmp_path, "blind", src="liquid", clock=None)
    figs = overlay_figures(["late", "blind"], [loaded[1], load_run(blind)])
    assert figs["compare_power"].axes[0].get_xlabel() == ("hours from each run's start: blind gives "
                                                          "no start time (no clock in report.json)")


def test_overlays_reuse_the_tables_alignment_and_differences(runs, tmp_path, monkeypatch):
    """compare works out the runs' alignment and what makes them not like for like once, for its table, compare.json
    and the overlays alike (the overlays worked both out again, the alignment twice), and the overlays draw what they
    are given."""
    import dcsim.report.compare as cmp

    base, *_ = runs
    ref = _variant(base, tmp_path, "ref", clock={"day_of_year": 196, "hour": 0.0, "start": "2026-07-15T00:00:00"})
    late = _variant(base, tmp_path, "late", src="liquid", duration_s=7200.0, ts_hours=2,
                    clock={"day_of_year": 196, "hour": 11.0, "start": "2026-07-15T11:00:00"})
    calls = {"alignment": 0, "differences": 0}

    def counted(name):
        f = getattr(cmp, name)

        def wrap(*a, **k):
            calls[name.strip("_")] += 1
            return f(*a, **k)
        return wrap

    monkeypatch.setattr(cmp, "_alignment", counted("_alignment"))
    monkeypatch.setattr(cmp, "_differences", counted("_differences"))
    _, data = cmp.compare([ref, late], tmp_path / "out")
    assert calls == {"alignment": 1, "differences": 1}
    assert [d["field"] for d in data["differences"]] == ["duration", "start"]
    loaded = [cmp.load_run(ref), cmp.load_run(late)]
    said = [{"field": "seed", "values": ["1", "2"], "note": "n"}]
    figs = cmp.overlay_figures(["ref", "late"], loaded, alignment=cmp._alignment([r for r, _ in loaded], ["ref", "late"]),
                               differences=said)
    assert figs["compare_power"].get_suptitle() == "Facility power, run by run\nNot like for like (ref / late): seed 1 / 2"


def test_rate_panels_start_at_zero(three):
    """The P and Q panels of compare_rate.png started at 130 k / 220 k without saying so: every panel starts at 0."""
    _, _, figs = three
    for ax in figs["compare_rate"].axes:
        assert ax.get_ylim()[0] == 0.0


def test_run_colours_are_not_constraint_colours():
    """Each run colour is far from every constraint colour (the first three were compute blue, power vermillion and
    cooling green, so the curtailed run's line and the 'P power ceiling' title were both vermillion)."""
    from conftest import cielab as lab

    from dcsim.plots import CONSTRAINT_COLORS, RUN_COLORS

    assert len(set(RUN_COLORS)) == len(RUN_COLORS) >= 8
    for run in RUN_COLORS:
        for name, c in CONSTRAINT_COLORS.items():
            assert np.linalg.norm(lab(run) - lab(c)) >= 40.0, (run, name)


def test_overlays_on_one_clock_read_it(three):
    """Runs on one local clock read it on the overlay's axis, as each run's own figures do (runs on different
    clocks: test_overlays_place_runs_at_their_local_start)."""
    from dcsim.report.compare import overlay_figures

    labels, loaded, _ = three
    same = [(dict(rep, clock={"start": "2026-07-15T11:00:00"}), ts) for rep, ts in loaded[:2]]
    ax = overlay_figures(labels[:2], same)["compare_power"].axes[0]
    assert ax.get_xlabel() == "local time, 2026-07-15 to 07-16" and ax.get_xticklabels()[0].get_text() == "12:00"

def test_token_rates_below_one_print_without_a_milli_prefix():
    """A change of 0.667 tok/s printed '+667.2m' beside '57.33k' and '16.03G': read as 667 million. Below 1 a token
    figure prints as a plain number; from 1 up with k, M, G, T."""
    from dcsim.report.compare import _fmt_delta, _fmt_val

    assert _fmt_delta(0.66718, 1.2e-3, "tok/s", "higher") == "+0.6672 (+0.0%)"
    assert _fmt_val(0.66718, "tok") == "0.6672" and _fmt_val(-0.5, "tok/s") == "-0.5"
    assert _fmt_val(57331.0, "tok/s") == "57.33k" and _fmt_val(16.03e9, "tok") == "16.03G"


def test_changes_within_rounding_read_zero(runs, tmp_path):
    """Two runs with the same SLO attainment summed in another order differ by 1e-17: compare printed
    '-3.55e-15 pp'. Within 1e-9 relative (compare's _same) the change is 0, in the table and in compare.json."""
    base, _, _, _ = runs
    att = 0.457
    ref = _variant(base, tmp_path, "ref", slo_attainment=att)
    same = _variant(base, tmp_path, "same", slo_attainment=float(np.nextafter(att, 0.0)))  # one ulp below
    table, data = compare([ref, same])
    m = data["metrics"]["slo_attainment"]
    assert m["delta"] == [None, 0.0] and m["delta_pct"] == [None, 0.0]
    assert _row(table, "SLO attainment").split()[-1] == "0"
    far = _variant(base, tmp_path, "far", slo_attainment=att * (1 - 1e-6))  # a real change still shows
    assert compare([ref, far])[1]["metrics"]["slo_attainment"]["delta"][1] < 0


def test_deferred_goodput_is_not_marked_across_deferrable_shares(runs, tmp_path):
    """reference against grid-flex read 'SLO goodput +93.5 % ✓': grid-flex counts its 30 % batch share served by its
    24-h deadline as SLO-meeting, reference scores all its requests by the chat TTFT. Between runs whose deferrable
    share differs the SLO figures carry § (not marked: the interactive ones score a smaller demand), the differences
    say so, and the interactive SLO goodput (the run's stored goodput_interactive_tok_s: goodput less the deferred
    tokens served by their deadline) is shown."""
    base, a, _, _ = runs
    g, dur = a.report["goodput_tok_s"], a.report["duration_s"]
    deferred_on_time = 0.5 * g * dur  # the deferred tokens served by their deadline: half the reference's goodput
    flex = _variant(base, tmp_path, "flex", goodput_tok_s=1.6 * g, goodput_interactive_tok_s=1.1 * g,
                    goodput_deferred_tok_s=0.5 * g,
                    deferrable={"share": 0.3, "served_tokens": deferred_on_time + 1e6, "served_late_tokens": 1e6})
    table, data = compare([base / "air", flex])
    good = data["metrics"]["goodput_tok_s"]
    assert good["unmarked"] == [None, "deferrable"] and good["mark"] == [None, None]
    assert _row(table, "SLO goodput ").rstrip().endswith("§")
    inter = data["metrics"]["goodput_interactive_tok_s"]
    assert inter["values"][0] == pytest.approx(g) and inter["values"][1] == pytest.approx(1.1 * g)
    assert inter["unmarked"] == [None, "deferrable"] and inter["mark"] == [None, None]
    assert [d["field"] for d in data["differences"]] == ["deferrable share"]
    assert data["differences"][0]["values"] == ["0.0%", "30.0%"]
    assert "§ SLO figures of runs whose deferrable share differs (air 0.0%, flex 30.0%)" in squash(table)
    # a run written before the figure was stored: worked out from its deferrable block as that run did (goodput less
    # the deferred tokens served by their deadline over the run)
    old = _variant(base, tmp_path, "old", goodput_tok_s=1.6 * g,
                   deferrable={"share": 0.3, "served_tokens": deferred_on_time + 1e6, "served_late_tokens": 1e6})
    old_inter = compare([base / "air", old])[1]["metrics"]["goodput_interactive_tok_s"]["values"][1]
    assert old_inter == pytest.approx(1.1 * g)
    # runs that defer nothing have no interactive row (it would repeat the SLO goodput)
    assert "goodput_interactive_tok_s" not in compare([base / "air", base / "liquid"])[1]["metrics"]


def test_a_change_within_the_calibration_band_of_runs_on_different_profiles_is_not_marked():
    """The reference hall against the same in FP8 (transferred, ±28 % tok/s, ±31 % J/token) read "J/token, GPU
    −17.6 % ✓" (audit 2026-12-05): a change of that size between runs on different profiles may be the profiles'
    difference. Within the larger band it is `~`; beyond it, or between runs on one profile, it is marked."""
    from dcsim.report.compare import _unmarked

    def run(profile, tok, jpt):
        return {"duration_s": 3600.0, "slo_method": "fluid estimate", "deferrable_share": 0.0,
                "profiles": [profile], "error_band_pct": {"tok_s_pct": tok, "j_per_tok_pct": jpt}}

    metrics = {"joules_per_output_token.gpu": {"delta": [None, -0.156], "delta_pct": [None, -17.6], "better": [None, True]},
               "throughput_tok_s.output": {"delta": [None, 26.5e3], "delta_pct": [None, 11.9], "better": [None, True]}}
    runs = [run("H100-SXM_llama-3.1-70b_bf16_tp4", 4.0, 3.0), run("pooled-H100-SXM", 27.8, 30.8)]
    assert _unmarked("joules_per_output_token.gpu", 1, metrics, runs) == "calibration"
    assert _unmarked("throughput_tok_s.output", 1, metrics, runs) == "calibration"
    metrics["joules_per_output_token.gpu"]["delta_pct"] = [None, -35.0]  # beyond the larger band: marked
    assert _unmarked("joules_per_output_token.gpu", 1, metrics, runs) is None
    same = [runs[0], dict(runs[0])]  # one profile: its error cancels between the runs, marked
    assert _unmarked("throughput_tok_s.output", 1, metrics, same) is None


def _calibrated(base, tmp_path, name, src, profile, band):
    """A fixture run whose report names its node calibration (``provenance.calibration``) and that calibration's
    expected error band (``error_band_pct``: a mapping, or whatever a hand-edited report holds)."""
    return _variant(base, tmp_path, name, src=src,
                    provenance__calibration=[{"profile": profile, "error_band_pct": band}])


def test_compare_of_stored_runs_on_different_profiles_leaves_changes_within_the_band_unmarked(runs, tmp_path):
    """compare() on two stored report.json folders, as `dcsim compare` reads them: the liquid hall's J/token and
    tokens/s change by a few % against the air hall's; on different profiles, one of them transferred (±27.8 % tok/s,
    ±30.8 % J/token), that is within the larger band, so those rows carry `~` (not ✓/✗) and the note names each
    run's band. On one profile they are marked; a report whose band is a bare number (hand-edited) gives no band
    (it raised AttributeError until 2026-12-05) and its changes are marked."""
    base, *_ = runs
    ref = _calibrated(base, tmp_path, "ref", "air", "H100-SXM_llama-3.1-70b_bf16_tp4",
                      {"tok_s_pct": 4.0, "j_per_tok_pct": 3.0})
    fp8 = _calibrated(base, tmp_path, "fp8", "liquid", "pooled-H100-SXM", {"tok_s_pct": 27.8, "j_per_tok_pct": 30.8})
    table, data = compare([ref, fp8])
    m = data["metrics"]["joules_per_output_token.gpu"]
    assert m["delta_pct"][1] is not None and 0 < abs(m["delta_pct"][1]) <= 30.8, m
    assert m["unmarked"] == [None, "calibration"] and m["mark"] == [None, None], m
    row = _row(table, "J/token, GPU")
    assert row.rstrip().endswith("~") and "✓" not in row and "✗" not in row, row
    flat = " ".join(table.split())
    # the records name no status (in-sample): no headline band, their residuals the band ~ reads (audit AUF item 5)
    assert "~ within the node calibration's expected error of runs on different profiles (ref calibrated in-sample, " \
           "no headline band; fp8 calibrated in-sample, no headline band)" in flat, flat
    assert "~ reads every group's band, the in-sample residuals too: ref ±4 % tok/s, ±3 % J/token; fp8 ±28 % tok/s, " \
           "±31 % J/token" in flat, flat
    # one profile: the error cancels between the runs, the change is marked
    same = _calibrated(base, tmp_path, "same", "liquid", "H100-SXM_llama-3.1-70b_bf16_tp4",
                       {"tok_s_pct": 4.0, "j_per_tok_pct": 3.0})
    table1, data1 = compare([ref, same])
    assert data1["metrics"]["joules_per_output_token.gpu"]["unmarked"] == [None, None]
    assert data1["metrics"]["joules_per_output_token.gpu"]["mark"][1] in ("better", "worse")
    assert "within the node calibration's expected error" not in " ".join(table1.split())
    # a band that is a bare number: no band read, no AttributeError, the change marked
    bare = _calibrated(base, tmp_path, "bare", "liquid", "pooled-H100-SXM", 27.8)
    _, data2 = compare([ref, bare])
    assert data2["runs"][1]["error_band_pct"] == {}
    assert data2["metrics"]["joules_per_output_token.gpu"]["unmarked"] == [None, None]


def test_power_and_slo_figures_within_the_band_of_runs_on_different_profiles_are_not_marked():
    """The audit of 2026-12-05 (issue 14.6): the reference against its FP8 twin (transferred, ±28 % tok/s, ±31 %
    J/token) marked "Peak facility power −7.3 % ✓", "SLO goodput +99.6 % ✓" and "J/SLO-meeting token −53.7 % ✓".
    A fleet's draw is tokens/s × J/token (band (1.28)(1.31) − 1 = 67 %); the SLO figures of a transferred run are
    queueing figures no band bounds. Between runs on one profile, or in-sample profiles beyond their band, marked."""
    from dcsim.report.compare import _unmarked, band_power_pct

    def run(profile, tok, jpt, oos):
        return {"duration_s": 3600.0, "slo_method": "fluid estimate", "deferrable_share": 0.0, "profiles": [profile],
                "error_band_pct": {"tok_s_pct": tok, "j_per_tok_pct": jpt}, "out_of_sample": oos}

    metrics = {"peak_power_w.facility": {"delta": [None, -0.036], "delta_pct": [None, -7.3]},
               "goodput_tok_s": {"delta": [None, 57e3], "delta_pct": [None, 99.6]},
               "joules_per_slo_output_token.facility": {"delta": [None, -4.3], "delta_pct": [None, -53.7]}}
    runs = [run("H100-SXM_llama-3.1-70b_bf16_tp4", 4.0, 3.0, False), run("pooled-H100-SXM", 27.8, 30.8, True)]
    assert abs(band_power_pct(runs[1]["error_band_pct"]) - 67.16) < 0.01
    # the run's TDP cap (binding.within_band.power_cap_ratio, 1.20 for the H100 in FP8): the draw cannot be 67 % above
    # the model; the wider side is then the node drawing less, 1 - (0.722)(0.692) = 50 %
    assert abs(band_power_pct(runs[1]["error_band_pct"], 1.2) - 100 * (1 - 0.722 * 0.692)) < 0.05
    assert band_power_pct({"tok_s_pct": 4.0, "j_per_tok_pct": 3.0}, 1.02) == pytest.approx(
        100 * (1 - 0.96 * 0.97))
    assert _unmarked("peak_power_w.facility", 1, metrics, runs) == "calibration"
    assert _unmarked("goodput_tok_s", 1, metrics, runs) == "calibration_slo"
    assert _unmarked("joules_per_slo_output_token.facility", 1, metrics, runs) == "calibration_slo"
    # the attainment is the same queueing figure (in pp, with its relative change): the FP8 twin read
    # "SLO attainment +4.78 pp ✓" beside "SLO goodput +22.8 % ≀" (2026-12-05)
    metrics["slo_attainment"] = {"delta": [None, 4.78], "delta_pct": [None, 19.8]}
    assert _unmarked("slo_attainment", 1, metrics, runs) == "calibration_slo"
    # two in-sample profiles: the goodput carries the tok/s band, beyond it marked (here by the SLO noise rule only)
    cal = [runs[0], run("H100-SXM_llama-3.1-8b_bf16_tp1", 5.0, 4.0, False)]
    assert _unmarked("goodput_tok_s", 1, metrics, cal) is None
    assert _unmarked("peak_power_w.facility", 1, metrics, cal) == "calibration"  # within (1.05)(1.04) - 1 = 9.2 %
    metrics["peak_power_w.facility"]["delta_pct"] = [None, -12.0]
    assert _unmarked("peak_power_w.facility", 1, metrics, cal) is None
    metrics["peak_power_w.facility"]["delta_pct"] = [None, -7.3]
    same = [runs[0], dict(runs[0])]  # one profile: marked
    assert _unmarked("peak_power_w.facility", 1, metrics, same) is None


def test_the_calibration_footnote_keeps_a_lower_bound_band(runs, tmp_path):
    """The footnote under the table printed "fp8 ±28 % tok/s" where the run's own caveat says "≥±28 %" (a lower-bound
    band, ``band_lower_bound``): each run's flag now travels to the footnote (issue 14.6)."""
    base, *_ = runs
    ref = _calibrated(base, tmp_path, "ref", "air", "H100-SXM_llama-3.1-70b_bf16_tp4",
                      {"tok_s_pct": 4.0, "j_per_tok_pct": 3.0})
    lb = _variant(base, tmp_path, "lb", src="liquid", provenance__calibration=[
        {"profile": "pooled-H100-SXM", "status": "same-silicon", "band_lower_bound": True,
         "error_band_pct": {"tok_s_pct": 27.8, "j_per_tok_pct": 30.8}}])
    table, data = compare([ref, lb])
    assert data["runs"][1]["band_lower_bound"] is True and data["runs"][1]["out_of_sample"] is True
    flat = " ".join(table.split())
    assert "lb headline band ≥±28 % tok/s, ≥±31 % J/token)" in flat, flat
    assert "ref calibrated in-sample, no headline band;" in flat and "too: ref ±4 % tok/s, ±3 % J/token" in flat, flat


def test_the_band_footnotes_lower_bound_is_that_of_the_groups_that_give_the_band():
    """compare's "≥" before a run's band comes from the groups that add to the band printed (the run's headline_band
    over every group, read once per run): a group stating no figure (marked a lower bound) beside one stating
    ±10 % tok/s, ±12 % J/token prints "±10 %", not "≥±10 %" (before: any group's mark, the one without a figure too)."""
    from dcsim.report.compare import _run_rows, _unmarked_note

    rep = {"provenance": {"calibration": [
        {"group": "a", "status": "transferred", "profile": "p1",
         "error_band_pct": {"tok_s_pct": 10.0, "j_per_tok_pct": 12.0}},
        {"group": "b", "status": "transferred", "profile": "p2", "error_band_pct": {}, "band_lower_bound": True}]}}
    rows = _run_rows(["x", "y"], [None, None], [rep, rep])
    assert rows[0]["error_band_pct"] == {"tok_s_pct": 10.0, "j_per_tok_pct": 12.0}
    assert rows[0]["band_lower_bound"] is False and rows[0]["out_of_sample"] is True
    note = _unmarked_note("calibration", rows, {})
    assert "x headline band ±10 % tok/s, ±12 % J/token" in note and "≥" not in note
    rep["provenance"]["calibration"][0]["band_lower_bound"] = True  # the group that gives the band: "≥"
    assert _run_rows(["x"], [None], [rep])[0]["band_lower_bound"] is True


def test_the_jpt_error_bars_per_level_are_read_in_one_place():
    """The report's J/token figure and compare's overlay draw their per-level bars from
    dcsim.metrics.fmt.jpt_band_pct_by_level (each had its own copy): a level the band does not state, or no band at
    all (an in-sample run), draws no bar."""
    from dcsim.metrics.fmt import jpt_band_pct_by_level

    band = {"j_per_tok_pct_by_level": {"gpu": 19.3, "it": 19.2, "facility": None}}
    assert jpt_band_pct_by_level(band) == [19.3, 19.2, 0.0]
    assert jpt_band_pct_by_level(band, ["it"]) == [19.2]
    assert jpt_band_pct_by_level(None) == jpt_band_pct_by_level({}) == [0.0, 0.0, 0.0]


def test_dcsim_compare_writes_each_runs_j_per_token_in_its_table_json_and_bar_figure(runs, tmp_path, capsys,
                                                                                       monkeypatch):
    """End to end through the command line (``dcsim compare air liquid plus20 --out DIR``): the J/token figures of
    each run's report.json, at each level, are the table's rows, compare.json's values and the heights of the bars
    of the compare_jpt.png the command writes (the figure captured as it is saved), each run's bars under its own
    label. The tests above check the figure function (``overlay_figures``) alone; this one what a user gets."""
    import dcsim.report.write as W
    from dcsim.cli import main as cli

    base, *_ = runs
    saved = []
    real = W._png_bytes
    monkeypatch.setattr(W, "_png_bytes", lambda fig: saved.append(fig) or real(fig))
    names = ["air", "liquid", "plus20"]
    out = tmp_path / "cmp"
    assert cli(["compare", *(str(base / n) for n in names), "--out", str(out)]) == 0
    table = capsys.readouterr().out
    reports = [json.loads((base / n / "report.json").read_text())["joules_per_output_token"] for n in names]
    written = json.loads((out / "compare.json").read_text())
    assert (out / "compare_jpt.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "compare_jpt.png" in written["files"]
    (fig,) = [f for f in saved if f.axes and f.axes[0].get_ylabel() == "energy per output token (J/token)"]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["GPU", "IT", "facility"]
    assert [c.get_label().split(" (")[0] for c in ax.containers] == names
    for level, row_name in (("gpu", "J/token, GPU"), ("it", "J/token, IT"), ("facility", "J/token, facility")):
        want = [r[level] for r in reports]
        assert written["metrics"][f"joules_per_output_token.{level}"]["values"] == want, level
        assert [c[("gpu", "it", "facility").index(level)].get_height() for c in ax.containers] == want, level
        row = _row(table, row_name)
        assert all(f"{v:.4g}" in row for v in want), (row, want)


def test_the_pue_row_reads_three_decimals_as_every_view(runs, tmp_path):
    """``dcsim compare`` prints the PUE as the terminal summary and report.html do (dcsim.metrics.fmt.fmt_pue, three
    decimals): until session 53 (mend 1) its table printed four significant figures, "1.44" for a run whose summary
    reads 1.440, and its change as "0.0436" beside them."""
    base, _, _, _ = runs
    for name, pue in (("x", 1.44), ("y", 1.3964)):
        r = json.loads((base / "air" / "report.json").read_text())
        r["pue"] = pue
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(json.dumps(r))
    table, data = compare([tmp_path / "x", tmp_path / "y"])
    assert data["metrics"]["pue"]["values"] == [1.44, 1.3964]  # the data keeps full precision
    row = [ln for ln in table.splitlines() if ln.startswith("PUE (energy-weighted)")][0]
    cells = re.split(r"\s{2,}", row.strip())
    assert cells[1:4] == ["1.440", "1.396", "-0.044 (-3.0%) ✓"], cells


def test_the_table_says_what_its_marks_mean(runs):
    """A planner reading "-3.4 % ✗" learns under the table that ✗ is worse than the first run and which way each figure
    is better (walkthrough 2026-12-06: only docs/report.md said it; the table explained its ≈ and ‡, not ✓ / ✗)."""
    base, *_ = runs
    table, data = compare([base / "air", base / "liquid"])
    assert "✓" in _row(table, "J/token, facility")
    legend = [ln for ln in table.splitlines() if ln.startswith("✓ ✗ ")]
    assert len(legend) == 1 and "better / worse than air, the first run" in squash(table)
    assert data["mark_note"].startswith("better / worse than air")


def _note_groups(note):
    """The row labels the mark note names under each direction: {"lower": [...], "higher": [...]}."""
    groups = {}
    for part in note.split("; "):
        for way in ("lower", "higher"):
            if part.startswith(f"{way} is better for "):
                groups[way] = part[len(f"{way} is better for "):].split(" · ")
    return groups


def test_the_mark_note_names_every_marked_row_under_its_own_direction(runs, tmp_path):
    """Every row marked ✓ or ✗ is named, by its label in the table, under the direction HEADLINE marks it by (review
    of WALK3, 2026-12-06: the hand-written note put "PUE" with the better-lower figures above "PUE-adj. power
    available, mean +44.2 % ✓" (better higher), named neither the peak facility power nor the SLO attainment, and
    called "Served ÷ compute ceiling C" utilization)."""
    base, *_ = runs
    r = json.loads((base / "air" / "report.json").read_text())
    for name, pue, avail in (("x", 1.44, 3.0e5), ("y", 1.30, 4.0e5)):  # better lower and better higher both marked
        r["pue"] = pue
        r["pue_adjusted_delivered_power_w"]["available"] = {"mean": avail}
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(json.dumps(r))
    for dirs in ([base / "air", base / "liquid"], [tmp_path / "x", tmp_path / "y"]):
        table, data = compare(dirs)
        groups = _note_groups(data["mark_note"])
        marked = {m["label"]: m["better"] for m in data["metrics"].values() if any(m["mark"])}
        assert marked, "nothing marked: the check would be empty"
        for label, way in marked.items():
            assert label in groups.get(way, []), (label, way, data["mark_note"])
            assert label in _row(table, label)
        named = [lab for labs in groups.values() for lab in labs]
        assert sorted(named) == sorted(marked), (named, marked)  # and no row that is not marked
    assert marked == {"PUE (energy-weighted)": "lower", "PUE-adj. power available, mean": "higher"}
