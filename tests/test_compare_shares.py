"""`dcsim compare` on runs whose compute ceilings differ (the audit of 2026-12-05): a share of C is not marked
better or worse when C itself changed, and the rate overlay draws runs of very different sizes each against its own
mean C. Uses the synthetic TEST FIXTURE of test_report.py."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_report import synthetic_result  # noqa: E402  (test fixture, not shipped)

from dcsim.report import write_outputs  # noqa: E402
from dcsim.report.compare import compare, load_run, overlay_figures  # noqa: E402


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    d = tmp_path_factory.mktemp("shares")
    res = synthetic_result("base")
    # the closed form's run mean of C, as a run writes it (tpf.run_mean), a little off served ÷ utilization and off
    # the C column's mean so that a reader of either of those instead shows
    res.report["tpf"] = {**res.report["tpf"], "run_mean": {"compute_tok_s": 1.05 * float(np.mean(
        res.timeseries["compute_tok_s"]))}}
    write_outputs(res, d / "base", formats=("json", "csv"))
    return d


def _scaled(base: Path, out: Path, name: str, c: float, served: float) -> Path:
    """A copy of the base run with its compute ceiling C times ``c`` and its output times ``served`` (report.json and
    timeseries.csv): the run a larger GPU gives, whose share of C may fall while its output rises."""
    rep = json.loads((base / "base" / "report.json").read_text())
    rep["scenario"] = name
    rep["throughput_tok_s"]["output"] *= served
    rep["utilization_adjusted_output_tok_s"] *= served
    rep["tokens"]["output"] *= served
    rep["utilization"] *= served / c
    rep["tpf"]["run_mean"]["compute_tok_s"] *= c
    d = out / name
    d.mkdir()
    (d / "report.json").write_text(json.dumps(rep))
    lines = (base / "base" / "timeseries.csv").read_text().splitlines()
    head = lines[0].split(",")
    scale = {k: c for k in ("compute_tok_s", "power_tok_s", "cooling_tok_s")}
    scale.update({"achieved_tok_s": served, "demand_tok_s": served})
    rows = [",".join(str(float(v) * scale.get(h, 1.0)) if h in scale else v for h, v in zip(head, ln.split(",")))
            for ln in lines[1:]]
    (d / "timeseries.csv").write_text("\n".join([lines[0]] + rows) + "\n")
    return d


def test_a_share_of_c_is_not_marked_when_c_changed(base, tmp_path):
    """`compare base b200` marked "Served ÷ compute ceiling C −13.5 pp ✗" where B200 served 55.4 % more: its C rose
    more. With C changed the row carries ¶ and the note names each run's mean C; with C unchanged it is marked."""
    b200 = _scaled(base, tmp_path, "b200", c=1.8, served=1.554)
    table, data = compare([base / "base", b200])
    m = data["metrics"]["utilization"]
    assert m["delta"][1] < 0 and data["metrics"]["throughput_tok_s.output"]["mark"] == [None, "better"]
    assert m["unmarked"] == [None, "ceiling"] and m["mark"] == [None, None]
    row = next(ln for ln in table.splitlines() if ln.startswith("Served ÷ compute ceiling C"))
    assert row.rstrip().endswith("¶") and "✗" not in row and "✓" not in row, row
    assert "mean C base " in data["unmarked_notes"]["ceiling"] and "b200 " in data["unmarked_notes"]["ceiling"]
    # the same C, less served: a share of one ceiling, marked
    less = _scaled(base, tmp_path, "less", c=1.0, served=0.9)
    _, data = compare([base / "base", less])
    assert data["metrics"]["utilization"]["mark"] == [None, "worse"]


def test_the_rate_overlay_draws_runs_of_very_different_sizes_against_their_own_ceiling(base, tmp_path):
    """heatwave-air at 3.6 M tok/s flattened reference and chiller-trip (0.23 M) along the bottom of one tok/s axis.
    Runs whose mean C differ more than 3x are drawn as a share of their own mean C, each legend naming it; runs of
    one size keep the shared tok/s axis."""
    big = _scaled(base, tmp_path, "big", c=15.8, served=15.8)
    figs = overlay_figures(["base", "big"], [load_run(base / "base"), load_run(big)])
    ax = figs["compare_rate"].axes[0]
    assert "mean C" in ax.get_ylabel()
    lines = {ln.get_label(): ln for ln in ax.get_lines() if not ln.get_label().startswith("_")}
    names = sorted(lines)
    # each its tpf.run_mean.compute_tok_s (1.05 x the C column's mean of 305.6 ktok/s: 321 ktok/s; big 15.8 x that)
    assert re.fullmatch(r"base \(mean C 321 ktok/s = 100 %\)", names[0]) and re.fullmatch(
        r"big \(mean C 5\.07 Mtok/s = 100 %\)", names[1]), names
    # both on one scale: the same day drawn at the same height, not one 15.8x the other
    y0, y1 = (np.nanmax(ln.get_ydata()) for ln in lines.values())
    assert y1 == pytest.approx(y0, rel=1e-6) and 50.0 < y0 <= 120.0
    near = _scaled(base, tmp_path, "near", c=1.8, served=1.5)
    figs = overlay_figures(["base", "near"], [load_run(base / "base"), load_run(near)])
    assert figs["compare_rate"].axes[0].get_ylabel() == "tok/s"


def test_mean_c_is_read_in_one_place_without_a_time_series_fallback(base, tmp_path):
    """Mean C was read three ways: the summary's served ÷ C row (tpf.run_mean only), compare's ¶ rule (that, else
    served ÷ utilization) and the rate overlay (those, else the C column's nanmean). One function now: the summary
    row of a report without the run mean names served ÷ utilization as C, and a run with neither is drawn on the
    shared axis rather than against a mean C the other readers would not give."""
    from dcsim.report.summary import mean_compute_ceiling, served_over_c_text

    rep = json.loads((base / "base" / "report.json").read_text())
    del rep["tpf"]["run_mean"]
    c = rep["throughput_tok_s"]["output"] / rep["utilization"]
    assert mean_compute_ceiling(rep) == pytest.approx(c)
    assert f"mean compute ceiling C {c / 1e3:.0f} ktok/s" in served_over_c_text(rep)
    big = _scaled(base, tmp_path, "big2", c=15.8, served=15.8)
    (small, ts), (large, ts2) = load_run(base / "base"), load_run(big)
    for r in (small, large):
        r["tpf"].pop("run_mean")
        r.pop("utilization")
    assert mean_compute_ceiling(small) is None
    ax = overlay_figures(["base", "big2"], [(small, ts), (large, ts2)])["compare_rate"].axes[0]
    assert "mean C" not in ax.get_ylabel()
