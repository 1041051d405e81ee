"""What a planner reads at a glance (the audit AUF of 2026-12-05, /work/notes/s51/AUF.md): each caveat once on
report.html's first screen, the energy rows named as the plant is built, the closed form's near-tie said in every
view, enough digits to tell used from available power, and the sweep's and compare's bands as the run's own."""

from __future__ import annotations

import re
import warnings

import pytest
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_report import synthetic_result  # noqa: E402  (test fixture, not shipped)

from dcsim.engine.assemble import clock_warning
from dcsim.engine.build import BANNERED_WARNINGS
from dcsim.metrics.fmt import energy_label
from dcsim.report.html import _cards, _energy_table, _warnings_box
from dcsim.report.summary import summary_table
from dcsim.scenario.facility import (AirsideEconomizerSpec, ChillerPlantSpec, FixedPueSpec, LiquidCoolingSpec)

#: mixed-fleet's clock warning (report.json warnings, main ac8a9c6: 12.7 % of h100-chat's GPU-time below the 0.69 its
#: capped measurements cover, down to 0.61), built by the code that writes it, not a hand copy of its words
CLOCK = clock_warning("racks[0] (h100-chat)", {"for": "H100-SXM / llama-3.1-70b", "gamma_source": "assumption"},
                      {"share": 0.127, "clock_min": 0.61, "measured_clock_min": 0.69, "clock_min_of": "gpu"})
OTHER = "the IT load drew more than its interconnect for 2 min"


def test_warnings_box_leaves_out_the_clock_caveat_its_banner_shows():
    """AUF item 2: the EXTRAPOLATED CLOCK banner's text came again in the Warnings box, word for word."""
    assert any(CLOCK.split(": ", 1)[1].startswith(p) for p in BANNERED_WARNINGS)
    box = _warnings_box({"warnings": [CLOCK, OTHER]})
    assert "Warnings (1)" in box and OTHER in box and "throttling below" not in box
    assert _warnings_box({"warnings": [CLOCK]}) == ""


def test_heat_rejection_kind_follows_the_plant():
    """What the cooling_tower part holds: tower fans only on a chiller plant with cooling towers."""
    from dcsim.thermal.facility import heat_rejection_kind

    assert heat_rejection_kind(ChillerPlantSpec(heat_rejection="cooling_tower")) == "cooling_tower"
    assert heat_rejection_kind(ChillerPlantSpec(heat_rejection="dry_cooler")) == "dry_cooler"
    assert heat_rejection_kind(LiquidCoolingSpec()) == "dry_cooler"
    assert heat_rejection_kind(AirsideEconomizerSpec()) == "dry_cooler"
    assert heat_rejection_kind(FixedPueSpec(pue=1.3)) is None


def test_energy_table_names_dry_cooler_fans_not_a_cooling_tower():
    """AUF item 4: an air-cooled plant's dry-cooler fans read "cooling tower" in report.html's energy table."""
    e = {"facility": 10.0e9, "it": 7.0e9, "cooling": 2.5e9, "cooling_chiller": 1.5e9, "cooling_tower": 0.2e9}
    row = lambda report: re.search(r'title="energy_j.cooling_tower">[^<]*?└ ([^<]*)<', _energy_table(report)).group(1)  # noqa: E731
    assert row({"energy_j": e, "heat_rejection": "dry_cooler"}) == "heat rejection (dry-cooler fans)"
    assert row({"energy_j": e, "heat_rejection": "cooling_tower"}) == "heat rejection (cooling-tower fans)"
    assert row({"energy_j": e}) == energy_label("cooling_tower") == "cooling tower"  # older report.json


#: reference's peak-demand moment (report.json tpf.moments.peak_demand, main ac8a9c6): cooling binds with Q
#: 2,208 tok/s (0.98 %) under C
TIE = {"gap_tok_s": 2208.1, "kind": "cooling", "margin": 0.00976, "threshold": 0.01}


def _tied(pool: str | None = None):
    res = synthetic_result()
    mom = {"compute_tok_s": 226.18e3, "power_tok_s": 224.26e3, "cooling_tok_s": 223.97e3, "binding": "cooling",
           "operating_point": "peak demand", "t_s": 3600.0, "near_tie": {**TIE, **({"pool": pool} if pool else {})}}
    tpf = {**res.report["tpf"], "binding": "cooling", "operating_point": "peak_demand", "moments": {"peak_demand": mom}}
    return SimpleNamespace(**{**vars(res), "report": {**res.report, "tpf": tpf}})


def test_terminal_and_card_say_the_closed_forms_near_tie():
    """AUF item 7: the summary said "closed form at peak_demand: cooling" and the card's chip "cooling" where the
    HTML table and dcsim tpf said "cooling by a hair"."""
    res = _tied()
    assert "closed form at peak_demand: cooling by a hair" in summary_table(res)
    card = _cards(res.report).split("Binding constraint", 1)[1].split("closed form at", 1)[1][:400]
    assert "by a hair" in card
    pooled = _tied("b200-reasoning")
    assert "cooling by a hair (pool b200-reasoning)" in summary_table(pooled)
    # no near tie at the operating point: no label
    plain = synthetic_result()
    assert "by a hair" not in summary_table(plain) and "by a hair" not in _cards(plain.report)


#: campus-interconnect's figures (report.json, main ac8a9c6): used = available mean, the min 0.3 % lower, peak IT
#: 14.039 MW above both
CAMPUS = {"pue_adjusted_delivered_power_w": {"available": {"mean": 13997197.29, "min": 13956250.66},
                                             "mean": 13997197.29, "peak": 14038655.85, "theta": 1.0,
                                             "used": 13997197.29},
          "peak_power_w": {"facility": 15999999.99999444, "gpu": 7622326.6, "it": 14038655.85}}


def test_mw_scale_power_keeps_the_digits_that_tell_used_from_min():
    """AUF item 8: "used 14 MW of 14 MW available (min 14 MW)", "peak power IT 14 MW facility 16 MW" for 13.997 /
    13.997 / 13.956 MW and a 14.039 MW peak: the triple with digits enough to tell min from used, the peaks with
    their trailing zero; the reference hall's kW figures as README prints them."""
    res = synthetic_result()
    campus = SimpleNamespace(**{**vars(res), "report": {**res.report, **CAMPUS}})
    text = " ".join(summary_table(campus).split())
    assert "used 13.997 MW of 13.997 MW available (θ·P/PUE at the cap, min 13.956 MW)" in text
    assert "peak power IT 14.0 MW facility 16.0 MW" in text
    card = _cards(campus.report).split("PUE-adjusted delivered power", 1)[1][:600]
    assert "13.997 <small>MW" in card and "(min 13.956 MW)" in card and "meter peak 16.0 MW" in card
    ref = {"pue_adjusted_delivered_power_w": {"available": {"mean": 348339.4, "min": 338979.7}, "mean": 325275.8,
                                              "used": 325275.8, "peak": 343889.8, "theta": 1.0},
           "peak_power_w": {"facility": 495000.0, "it": 343889.8}}
    text = " ".join(summary_table(SimpleNamespace(**{**vars(res), "report": {**res.report, **ref}})).split())
    assert "used 325 kW of 348 kW available (θ·P/PUE at the cap, min 339 kW)" in text  # README's block
    assert "peak power IT 344 kW facility 495 kW" in text


def test_site_power_keeps_its_zeros_through_fmt_si_and_one_clock_warning_lead():
    """Review of the AUF mends: fmt_power_w copied fmt_si's prefix loop (now fmt_si's ``keep_zeros``), and the clock
    warning's words were written twice (node.model and engine.build's banner list): one constant."""
    from dcsim.metrics.fmt import fmt_power_w, fmt_si
    from dcsim.node.model import CLOCK_WARNING_LEAD

    assert [fmt_si(v, "W", keep_zeros=True) for v in (13.997e6, 325.3e3, 1.2e6, 16e6, 999.96e3)] == \
        ["14.0 MW", "325 kW", "1.20 MW", "16.0 MW", "1.00 MW"]
    assert [fmt_si(v, "W") for v in (13.997e6, 1.2e6, 16e6)] == ["14 MW", "1.2 MW", "16 MW"]  # unchanged
    assert fmt_power_w(13.956e6, 5) == "13.956 MW" and fmt_power_w(None) == "n/a" and fmt_power_w(0) == "0 W"
    assert CLOCK_WARNING_LEAD in BANNERED_WARNINGS and CLOCK.split(": ", 1)[1].startswith(CLOCK_WARNING_LEAD)


# ------------------------------------------------------------------------------------------------ dcsim sweep

def _report(cal, shares=None, pools=False):
    """A point's report as headline_columns reads it (the run's own provenance.calibration and binding shares);
    ``pools``: mixed-fleet's two pools (test_report_views._two_pools), each band weighted by its pool's share."""
    from test_report_views import _two_pools

    res = synthetic_result()
    rep = {**res.report, "provenance": {**res.report["provenance"], "calibration": cal},
           **({"binding": {**res.report["binding"], "share": shares}} if shares else {})}
    return _two_pools(SimpleNamespace(**{**vars(res), "report": rep})).report if pools else rep


def test_sweep_row_carries_the_runs_band_status_and_the_figures_binding():
    """AUF items 1 and 11: results.csv had no band, no calibration status, and only the plurality binding
    (demand at 35 degC, where the figure's marker said cooling)."""
    from dcsim.metrics.fmt import headline_band
    from dcsim.sweep import HEADLINE_COLUMNS, headline_columns
    from test_report_views import CALIBRATED, EXTRAPOLATED

    # the outdoor-temperature sweep's 35 degC point (audit AUF item 11): demand the plurality, limits 57 %
    hot = {"demand": 0.43, "compute": 0.20, "power": 0.12, "cooling": 0.25}
    row = headline_columns(_report([CALIBRATED], hot))
    assert row["binding.holds"] == "cooling" and row["binding.holds_share"] == pytest.approx(0.57)
    assert row["calibration.status"] == "calibrated" and row["error_band_pct.tok_s"] is None
    rep = _report([CALIBRATED, EXTRAPOLATED])
    band = headline_band(rep)
    row = headline_columns(rep)
    assert row["calibration.status"] != "calibrated"
    assert row["error_band_pct.tok_s"] == pytest.approx(band["tok_s_pct"])
    assert row["error_band_pct.j_per_tok"] == pytest.approx(band["j_per_tok_pct"])
    # stored rounded (review of AUF item 1's mend: results.csv held 30.829999999999995): headline_band's float
    # arithmetic gives 31.790000000000003 here, results.csv and compare.json the same one rounding
    assert repr(row["error_band_pct.tok_s"]) == "31.79"
    from dcsim.report.compare import error_band_view
    assert repr(error_band_view({**band, "stated": ["tok_s_pct"]})["tok_s_pct"]) == "31.79"
    assert row["error_band_lower_bound"] is True
    assert headline_columns(None) == dict.fromkeys(HEADLINE_COLUMNS)  # a refused point


def test_sweep_says_the_calibration_caveat_once_and_estimates_without_the_slo_estimate(tmp_path, capsys):
    """AUF item 1: no stderr line said a point was transferred; item 11: a sweep without the SLO estimate was
    announced at 7x its time (every tick costed at SWEEP_TICK_S)."""
    from conftest import transferred_scenario
    from dcsim import sweep as sw

    spec = sw.load_sweep({"base": transferred_scenario(), "parameters": {"racks.0.count": {"values": [2, 4]}},
                          "fixed": {"duration": "20 min", "serving.slo_estimate": False}})
    with warnings.catch_warnings(record=True) as caught:  # said once, as a SweepWarning (dcsim sweep prints it)
        warnings.simplefilter("always")
        rows = sw.run_sweep(spec, cache_dir=None, progress=False, out=tmp_path)
    said = [str(w.message) for w in caught if w.category is sw.SweepWarning]
    assert len(said) == 1 and said[0].startswith("calibration caveat") and "2 of 2 points" in said[0]
    # attributed to this file's call, not to dcsim/sweep.py
    assert [w.filename for w in caught if w.category is sw.SweepWarning] == [__file__]
    assert capsys.readouterr().err == ""  # the library writes nothing itself
    assert all(r["calibration.status"] != "calibrated" and r["error_band_pct.tok_s"] > 0 for r in rows)
    head = (tmp_path / "results.csv").read_text().splitlines()[0].split(",")
    assert {"binding.holds", "calibration.status", "error_band_pct.tok_s", "error_band_pct.j_per_tok"} <= set(head)
    assert rows.estimate_s == pytest.approx(sw.sweep_cost_s(2, 2 * 2, 1, ticks_no_slo=2 * 2, points_no_slo=2))


def test_sweep_estimate_without_the_slo_estimate_holds_on_a_length_not_in_its_fit():
    """Review of AUF item 11's mend: SWEEP_TICK_NO_SLO_S came from one 24 h sweep with its start-up folded into the
    ticks, and short sweeps read 3-4x low (6 points of 1 h: "about 1.73 s", 4.5-5.5 s taken). The constants are fitted
    on 1 h and 24 h; a 72 h sweep (6 points, measured 6.3 s on the same machine, SWEEP_TICK_NO_SLO_S's comment) is
    not in the fit. The estimate is positive and grows with the points and the ticks."""
    from dcsim import sweep as sw

    cost = lambda n, ticks: sw.sweep_cost_s(n, n * ticks, 1, ticks_no_slo=n * ticks, points_no_slo=n)  # noqa: E731
    assert cost(6, 3 * 1440) == pytest.approx(6.3, rel=0.25)
    assert cost(6, 60) == pytest.approx(5.0, rel=0.25)  # measured 4.5 and 5.5 s; 1.73 s said until then
    assert 0 < cost(1, 60) < cost(2, 60) < cost(2, 1440) < cost(2, 10 * 1440)
    assert sw.sweep_cost_s(0, 0) == 0.0  # nothing to run (every point cached)
    # a point with the SLO estimate costs more than one without it, at every length
    assert all(sw.sweep_cost_s(1, t) > cost(1, t) for t in (60, 1440, 4320))


def test_sweep_caveat_counts_banded_points_by_their_band_and_clock_points_apart():
    """Review of AUF item 1: the caveat counted every point not ``calibrated`` as carrying a band, while its widest
    band read the band columns: an extrapolated-clock point (no band) was counted among "points on a profile not
    calibrated in-sample" whose "tok/s and J/token carry the error band"."""
    from dcsim.sweep import calibration_caveat_line

    cal = {"calibration.status": "calibrated", "error_band_pct.tok_s": None, "error_band_pct.j_per_tok": None,
           "error_band_lower_bound": None}
    fp8 = {**cal, "calibration.status": "UNCALIBRATED", "error_band_pct.tok_s": 27.76,
           "error_band_pct.j_per_tok": 30.83, "error_band_lower_bound": False}
    both = {**fp8, "calibration.status": "UNCALIBRATED, extrapolated clock"}
    clock = {**cal, "calibration.status": "extrapolated clock"}
    line = calibration_caveat_line([cal, fp8, clock])
    assert "1 of 3 points run on a profile not calibrated in-sample (UNCALIBRATED)" in line, line
    assert "1 of 3 points (extrapolated clock): no error band measured" in line, line
    assert "up to ±28 % tok/s, ±31 % J/token" in line
    assert calibration_caveat_line([cal, clock]).startswith("calibration caveat: 1 of 2 points (extrapolated clock)")
    assert calibration_caveat_line([cal, cal]) is None
    # statuses as unique words, not "UNCALIBRATED; UNCALIBRATED, extrapolated clock"
    assert "(UNCALIBRATED, extrapolated clock)" in calibration_caveat_line([fp8, both])


def test_sweep_figure_draws_banded_points_as_white_diamonds_with_error_bars():
    """AUF item 1: sweep.png drew the transferred fp8 point as a plain measured point; the review of that mend: a
    hatch over a 70-pt² marker could not be seen, the facility J/token error bar ran through the IT marker below it."""
    from dcsim.plots.sweep import sweep_figure

    base = {"throughput_tok_s.output": 225e3, "joules_per_output_token.facility": 2.2, "binding.share.demand": 0.0,
            "binding.share.compute": 0.07, "binding.share.power": 0.86, "binding.share.cooling": 0.07,
            "calibration.status": "calibrated", "error_band_pct.tok_s": None, "error_band_pct.j_per_tok": None,
            "error_band_lower_bound": None, "error": None}
    fp8 = {**base, "throughput_tok_s.output": 249e3, "joules_per_output_token.facility": 1.83,
           "binding.share.compute": 1.0, "binding.share.power": 0.0, "binding.share.cooling": 0.0,
           "calibration.status": "UNCALIBRATED", "error_band_pct.tok_s": 27.76, "error_band_pct.j_per_tok": 30.83,
           "error_band_lower_bound": False}
    fig = sweep_figure([{**base, "p": "bf16"}, {**fp8, "p": "fp8"}], ["p"], title="prec")
    ax, axj = fig.axes[0], fig.axes[1]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("UNCALIBRATED (white diamond)" in t and "±28 % tok/s, ±31 % J/token" in t for t in labels), labels
    white = [c for c in ax.collections if len(c.get_offsets()) and len(c.get_facecolor())
             and tuple(c.get_facecolor()[0][:3]) == (1.0, 1.0, 1.0)]
    assert len(white) == 1 and white[0].get_offsets()[0][1] == pytest.approx(249e3)  # fp8's point, a white marker
    from dcsim.plots import CONSTRAINT_COLORS
    from matplotlib.colors import to_rgba
    assert tuple(white[0].get_edgecolor()[0]) == to_rgba(CONSTRAINT_COLORS["compute"])  # edged as what binds it
    swatch = ax.get_legend().legend_handles[-1]
    assert swatch.get_marker() == "D" and swatch.get_mfc() == "white"
    assert ax.containers and axj.containers  # error bars on tok/s and J/token
    bar = axj.containers[0].lines[2][0]  # the facility J/token bar: right of its point, clear of the IT marker
    x_bar = bar.get_transform().transform(bar.get_segments()[0])[0][0]
    assert x_bar - axj.transData.transform((1.0, 1.83))[0] == pytest.approx(7.0 / 72 * fig.dpi, rel=0.01)
    lo, hi = ax.containers[0].lines[2][0].get_segments()[0][:, 1]
    assert (hi - lo) / 2 == pytest.approx(249e3 * 0.2776)
    assert ax.get_ylim()[1] > 249e3 * 1.2776  # the error bar inside the axes
    sc = sweep_figure([{**base, "p": "bf16", "q": 1.0}, {**fp8, "p": "fp8", "q": 2.0}], ["p", "q"], mode="random",
                      title="prec")
    assert sc.axes[0].containers and sc.axes[0].get_ylim()[1] > 249e3 * 1.2776
    plain = sweep_figure([{**base, "p": "bf16"}, {**base, "p": "fp8"}], ["p"], title="prec")
    assert not plain.axes[0].containers and not any("UNCALIBRATED" in t.get_text()
                                                     for t in plain.axes[0].get_legend().get_texts())


def test_sweep_marks_the_binding_by_its_within_band_share_not_the_tok_s_band():
    """Review of AUF item 2: sweep.png still showed fp8 "removing the power limit" (compute binds 100 %) with no mark
    on its share bar, and the heatmap hatched the binding cell by the tok/s band, whether or not another limit could
    bind within it. The row carries ``binding.within_band.share`` (report.json) and the figure marks by it."""
    from dcsim.plots.sweep import sweep_figure
    from dcsim.sweep import headline_columns
    from test_report_views import CALIBRATED, EXTRAPOLATED

    rep = _report([CALIBRATED, EXTRAPOLATED])
    rep = {**rep, "binding": {**rep["binding"], "within_band": {"share": 0.62}}}
    assert headline_columns(rep)["binding.within_band.share"] == pytest.approx(0.62)
    assert headline_columns(_report([CALIBRATED]))["binding.within_band.share"] is None
    base = {"throughput_tok_s.output": 225e3, "joules_per_output_token.facility": 2.2, "binding.share.demand": 0.0,
            "binding.share.compute": 0.07, "binding.share.power": 0.86, "binding.share.cooling": 0.07,
            "calibration.status": "calibrated", "error_band_pct.tok_s": None, "error_band_pct.j_per_tok": None,
            "error_band_lower_bound": None, "binding.within_band.share": None, "error": None}
    fp8 = {**base, "throughput_tok_s.output": 249e3, "binding.share.compute": 1.0, "binding.share.power": 0.0,
           "binding.share.cooling": 0.0, "calibration.status": "UNCALIBRATED", "error_band_pct.tok_s": 27.76,
           "error_band_pct.j_per_tok": 30.83, "error_band_lower_bound": False, "binding.within_band.share": 0.62}
    fig = sweep_figure([{**base, "p": "bf16"}, {**fp8, "p": "fp8"}], ["p"], title="prec")
    axb = fig.axes[-1]
    hatched = [b for b in axb.patches if b.get_hatch()]
    assert len(hatched) == 1 and hatched[0].get_height() == pytest.approx(62.0)  # over fp8's bar alone
    assert any("within" in t.get_text() for t in axb.get_legend().get_texts())
    # a heatmap: the binding cell hatched by the within-band share; a banded cell whose binding holds is not
    held = {**fp8, "binding.within_band.share": 0.0}
    rows = [{**r, "p": p, "q": q} for (p, q, r) in
            (("bf16", 1, base), ("bf16", 2, base), ("fp8", 1, fp8), ("fp8", 2, held))]
    hm = sweep_figure(rows, ["p", "q"], mode="grid", title="prec")
    axb = next(a for a in hm.axes if a.get_title() == "what binds most of the run")
    cells = [r.get_xy() for r in axb.patches if r.get_hatch()]
    assert cells == [(0.5, -0.5)], cells  # fp8 (x 1) at q 1 (y 0) only
    # the hatch runs around a hatched cell's numbers, not through them: a box in the cell's colour behind the text
    boxed = lambda a: sorted(t.get_position() for t in a.texts if t.get_bbox_patch() is not None)  # noqa: E731
    assert boxed(axb) == [(1, 0)] and boxed(hm.axes[0]) == [(1, 0), (1, 1)]  # both fp8 cells carry the tok/s band
    # the legend's statuses as distinct words
    both = {**fp8, "calibration.status": "UNCALIBRATED, extrapolated clock"}
    fig = sweep_figure([{**fp8, "p": "a"}, {**both, "p": "b"}], ["p"], title="prec")
    assert any(t.get_text().startswith("UNCALIBRATED, extrapolated clock (white diamond)")
               for t in fig.axes[0].get_legend().get_texts())


# ------------------------------------------------------------------------------------------------ dcsim compare

def test_compare_footnote_prints_each_runs_headline_band_and_labels_the_other():
    """AUF item 5: compare's `~` footnote printed "mixed ≥±12 % tok/s" where the run's own headline printed
    "≥±9 %", and "±4 %" for a calibrated run whose summary prints none."""
    from dcsim.metrics.fmt import fmt_band, headline_band
    from dcsim.report.compare import _run_rows, _unmarked_note, run_error_band
    from test_report_views import CALIBRATED, EXTRAPOLATED

    ref, mixed = _report([CALIBRATED]), _report([CALIBRATED, EXTRAPOLATED], pools=True)
    runs = _run_rows(["reference", "mixed"], [None, None], [ref, mixed])
    note = _unmarked_note("calibration", runs, {})
    head = headline_band(mixed)
    own = fmt_band({q: head[q] for q in ("tok_s_pct", "j_per_tok_pct")}, True)
    assert f"mixed headline band {own})" in note, note
    assert own != fmt_band(run_error_band(mixed), True)  # the two differ here: both printed, each labelled
    # the residuals the mark reads once, in a trailing sentence under its own mark; no brackets nested in brackets
    every = fmt_band(run_error_band(mixed), True)
    assert note.endswith(f". ~ reads every group's band, the in-sample residuals too: reference ±4 % tok/s, "
                         f"±3 % J/token; mixed {every}"), note
    assert "(reference calibrated in-sample, no headline band; mixed" in note
    depth = max(note[:i].count("(") - note[:i].count(")") for i in range(len(note) + 1))
    assert depth == 1, note
    slo = _unmarked_note("calibration_slo", runs, {})
    assert "≀ reads every group's band" in slo and "~ reads" not in slo  # the ≀ note said "which compare's ~ reads"


def test_compare_does_not_mark_a_lower_peak_draw_of_a_run_that_served_less():
    """AUF item 6: "Peak facility power −17.2 % ✓" beside "Output tokens −6.3 % ✗" (heatwave liquid vs air)."""
    from dcsim.report.compare import _run_rows, _unmarked

    rep = _report([{"group": "r", "status": "calibrated", "in_range_status": "calibrated", "profile": "p",
                    "error_band_pct": {"tok_s_pct": 3.0, "j_per_tok_pct": 3.0}}])
    runs = _run_rows(["air", "liquid"], [None, None], [rep, rep])
    metrics = {"peak_power_w.facility": {"delta": [None, -0.22e6], "delta_pct": [None, -17.2], "better": "lower"},
               "tokens.output": {"delta": [None, -1e9], "delta_pct": [None, -6.3], "better": "higher"}}
    assert _unmarked("peak_power_w.facility", 1, metrics, runs) == "work"
    same = {**metrics, "tokens.output": {"delta": [None, 1e6], "delta_pct": [None, 0.1], "better": "higher"}}
    assert _unmarked("peak_power_w.facility", 1, same, runs) is None  # the same work served: marked


def test_compare_jpt_overlay_draws_each_runs_headline_band_and_wraps_its_title_between_parts():
    """AUF item 9: the overlay drew mixed-fleet's 3.13 J plain beside its own figure's ≥±19 % error bars, and its
    title broke "seed 42 / 42 / 7" after "42 / 42"."""
    from dcsim.metrics.fmt import headline_band
    from dcsim.report.compare import _differences_title, overlay_figures
    from test_report_views import CALIBRATED, EXTRAPOLATED

    ref, mixed = _report([CALIBRATED]), _report([CALIBRATED, EXTRAPOLATED], pools=True)
    figs = overlay_figures(["reference", "mixed"], [(ref, None), (mixed, None)])
    ax = figs["compare_jpt"].axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "reference" and labels[1].startswith("mixed (error bars ≥±"), labels
    bars = [c for c in ax.containers if getattr(c, "errorbar", None) is not None]
    assert len(bars) == 1  # the calibrated run draws none
    seg = bars[0].errorbar.lines[2][0].get_segments()[2][:, 1]  # the facility bar's
    jf = mixed["joules_per_output_token"]["facility"]
    assert (seg[1] - seg[0]) / 2 == pytest.approx(jf * headline_band(mixed)["j_per_tok_pct_by_level"]["facility"] / 100)
    title = _differences_title(["reference", "curtailment", "mixed-fleet"],
                               [{"field": "scenario", "values": ["reference", "curtailment", "mixed-fleet"]},
                                {"field": "seed", "values": ["42", "42", "7"]}], 71)
    assert any(line.endswith("seed 42 / 42 / 7") for line in title.splitlines()), title


def test_compare_jpt_overlay_says_each_levels_band_as_the_runs_own_figure(monkeypatch):
    """Review of AUF item 9's mend: the overlay's legend gave the facility band alone ("≥±20 % J/token") where the
    run's own joules_per_token figure says each level's when they differ; it now reads the figure's own text."""
    from dcsim.metrics import fmt
    from dcsim.report import compare
    from test_report_views import CALIBRATED, EXTRAPOLATED

    def levels(report, out_of_sample=True):  # a run whose GPU level carries a wider band than IT and facility
        band = fmt.headline_band(report, out_of_sample)
        return band and {**band, "j_per_tok_pct_by_level": {"gpu": 25.0, "it": 20.0, "facility": 20.0}}
    monkeypatch.setattr(compare, "headline_band", levels)
    ref, mixed = _report([CALIBRATED]), _report([CALIBRATED, EXTRAPOLATED], pools=True)
    ax = compare.overlay_figures(["reference", "mixed"], [(ref, None), (mixed, None)])["compare_jpt"].axes[0]
    label = [t.get_text() for t in ax.get_legend().get_texts()][1]
    assert "error bars GPU ≥±25 %, IT ≥±20 %, facility ≥±20 % J/token" in label, label


def test_the_headline_cards_come_before_the_warnings_which_are_collapsed_and_counted():
    """walkthrough 2026-12-05: on mixed-fleet five long warnings sat between the caveat banners and the headline
    cards, pushing the answer ~650 px down; the cards now follow the banners and the warnings come after them in a
    collapsed box that still counts them and names what they are about."""
    from test_report import synthetic_result

    from dcsim.report.html import render_html

    res = synthetic_result()
    res.report["warnings"] = [CLOCK, OTHER, "racks[1] (b200): " + "x " * 400]
    page = render_html(res, {})
    cards, box = page.index('<div class="cards">'), page.index('id="warnings"')
    assert cards < box
    details = page[page.rindex("<details", 0, box):page.index("</details>", box)]
    assert "<summary>" in details and "Warnings (2)" in details and OTHER in details  # counted, still in the page
    assert " open" not in details.split(">", 1)[0]  # collapsed
    assert "racks[1] (b200)" in details.split("</summary>", 1)[0]  # its subject in the summary line


def test_the_provenance_calibration_row_is_readable_without_nulls():
    """walkthrough 2026-12-05: report.html's provenance "calibration" row was report.json's list of dicts dumped as
    JSON, full of nulls; it reads key: value now, nulls and empty parts left out; report.json keeps every key."""
    import json

    from test_report import synthetic_result

    from dcsim.report.html import _provenance, render_html

    cal = [{"group": "hall-a", "for": "H100-SXM / llama-3.1-70b", "status": "calibrated", "band_notes": [],
            "borrowed": {}, "warning": None, "error_band_pct": {"tok_s_pct": 3.556, "j_per_tok_pct": 3.033}}]
    row = _provenance({"provenance": {"calibration": cal}})
    cell = row.split(">calibration<", 1)[1]
    assert "null" not in cell and "None" not in cell and "warning" not in cell and "band_notes" not in cell
    assert "<b>group</b>: hall-a" in cell and "tok_s_pct 3.556" in cell
    res = synthetic_result()
    res.report.setdefault("provenance", {})["calibration"] = cal
    page = render_html(res, {})
    embedded = page.split("<summary>report.json</summary><pre>", 1)[1]
    assert "&quot;warning&quot;: null" in embedded  # report.json itself unchanged
    assert json.loads(json.dumps(res.report["provenance"]["calibration"])) == cal


def test_the_signature_caption_says_what_the_pool_strips_are():
    """walkthrough 2026-12-05: a multi-pool run's signature figure draws a binding strip per pool, which its caption
    did not mention; with one pool, or a run drawn by day (no strips), the caption has no such sentence."""
    from dcsim.report.html import SIGNATURE_POOLS_CAPTION as CAP, _e, _img

    SIGNATURE_POOLS_CAPTION = _e(CAP)
    two = {"pools": [{"name": "chat"}, {"name": "reasoning"}], "duration_s": 86400.0, "tick_s": 60.0}
    assert SIGNATURE_POOLS_CAPTION in _img("signature", b"png", two)
    assert "pool" in CAP and "strip" in CAP
    assert SIGNATURE_POOLS_CAPTION not in _img("signature", b"png", {"pools": [{"name": "chat"}]})
    assert SIGNATURE_POOLS_CAPTION not in _img("signature", b"png", {**two, "duration_s": 365 * 86400.0})
