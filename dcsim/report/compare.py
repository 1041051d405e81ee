"""``dcsim compare DIR_A DIR_B [...]``: the what-if workflow.

Reads each result directory's ``report.json`` (and ``timeseries.csv`` for the overlays), prints
the headline figures side by side with deltas relative to the first directory (absolute and
percent), and writes overlay plots — token rate and ceilings, facility power, J/token bars —
plus ``compare.json`` into an output directory.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dcsim.metrics.fmt import (calibration_caveat, context_caveat, extrapolation_caveat, fmt_pct, fmt_si, get_path, stack_caveat,
                               uncalibrated_caveat)
from dcsim.report.serialize import report_json_bytes
from dcsim.report.summary import SERVED_OVER_C, tied_leaders
from dcsim.report.write import atomic_write_bytes, read_timeseries
from dcsim.serving.slo_estimate import slo_caveats
from dcsim.textio import decode_text, out_folder

__all__ = ["HEADLINE", "compare", "load_run", "add_parser", "run", "main", "CompareError"]

#: (key path in report.json, label, unit, display scale, better when "lower"/"higher"/None).
HEADLINE: tuple[tuple[str, str, str, float, str | None], ...] = (
    ("joules_per_output_token.facility", "J/token, facility", "J", 1.0, "lower"),
    ("joules_per_output_token.it", "J/token, IT", "J", 1.0, "lower"),
    ("joules_per_output_token.gpu", "J/token, GPU", "J", 1.0, "lower"),
    ("joules_per_slo_output_token.facility", "J/SLO-meeting token, facility", "J", 1.0, "lower"),
    ("pue_adjusted_delivered_power_w.mean", "PUE-adj. delivered power, mean", "MW", 1e-6, None),
    ("pue_adjusted_delivered_power_w.peak", "PUE-adj. delivered power, peak", "MW", 1e-6, None),
    ("pue_adjusted_delivered_power_w.available.mean", "PUE-adj. power available, mean", "MW", 1e-6, "higher"),
    ("utilization_adjusted_output_tok_s", "Utilization-adjusted output", "tok/s", 1.0, "higher"),
    ("throughput_tok_s.output", "Output throughput", "tok/s", 1.0, "higher"),
    ("goodput_tok_s", "SLO goodput", "tok/s", 1.0, "higher"),
    ("slo_attainment", "SLO attainment", "%", 100.0, "higher"),
    ("tokens.output", "Output tokens", "tok", 1.0, "higher"),
    ("utilization", SERVED_OVER_C, "%", 100.0, "higher"),
    ("pue", "PUE (energy-weighted)", "", 1.0, "lower"),
    ("energy_j.facility", "Energy, facility", "MWh", 1 / 3.6e9, "lower"),
    ("energy_j.it", "Energy, IT", "MWh", 1 / 3.6e9, "lower"),
    ("energy_j.cooling", "Energy, cooling", "MWh", 1 / 3.6e9, "lower"),
    ("peak_power_w.facility", "Peak facility power", "MW", 1e-6, "lower"),
    ("cost.usd_per_mtok", "Cost per M output tokens", "USD", 1.0, "lower"),
    ("carbon.g_per_mtok", "Carbon per M output tokens", "g", 1.0, "lower"),
    ("binding.share.demand", "Time demand-bound", "%", 100.0, None),
    ("binding.share.compute", "Time compute-bound", "%", 100.0, None),
    ("binding.share.power", "Time power-bound", "%", 100.0, None),
    ("binding.share.cooling", "Time cooling-bound", "%", 100.0, None),
    ("binding.n_shifts", "Binding shifts", "", 1.0, None),
)


class CompareError(ValueError):
    """A directory given to ``dcsim compare`` is not a dcsim result directory."""


#: the parts of a report compare reads, with the JSON type each must have when present (a report of another tool or
#: a hand-edited one is refused with the field named, not read into a traceback)
_SHAPE = (("binding", dict), ("binding.share", dict), ("binding.shifts", list), ("provenance", dict),
          ("provenance.calibration", list), ("slo_tail_near_ceiling", dict))


#: keys every dcsim report.json has (fluid, hybrid and request runs, partial ones included) and compare reads: a JSON
#: object without them is not a run (``{"a": 1}`` was compared as one, every figure n/a, exit 0)
REQUIRED_KEYS = ("scenario", "duration_s", "binding.share", "throughput_tok_s.output", "joules_per_output_token",
                 "energy_j", "pue")


def _check_shape(report: Any, rp: Path) -> dict:
    if not isinstance(report, dict):
        raise CompareError(f"{rp}: not a dcsim report (a JSON object expected, got a {type(report).__name__})")
    for path, kind in _SHAPE:
        v = get_path(report, path)
        if v is not None and not isinstance(v, kind):
            raise CompareError(f"{rp}: not a dcsim report: {path} is a {type(v).__name__}, expected a "
                               f"{'mapping' if kind is dict else 'list'}")
    for i, x in enumerate(get_path(report, "binding.shifts") or []):
        if not isinstance(x, dict):
            raise CompareError(f"{rp}: not a dcsim report: binding.shifts[{i}] is a {type(x).__name__}")
    for i, x in enumerate(get_path(report, "provenance.calibration") or []):
        if not isinstance(x, dict):
            raise CompareError(f"{rp}: not a dcsim report: provenance.calibration[{i}] is a {type(x).__name__}")
    missing = [k for k in REQUIRED_KEYS if get_path(report, k) is None and not _present(report, k)]
    if missing:
        raise CompareError(f"{rp}: not a dcsim report: no {', '.join(missing)} (every report.json of `dcsim run` has "
                           f"{'them' if len(missing) > 1 else 'it'}; docs/report.md)")
    return report


def _present(report: dict, path: str) -> bool:
    """True when ``path`` exists in ``report`` (its value may be null: a figure the run could not give)."""
    *head, last = path.split(".")
    parent = get_path(report, ".".join(head)) if head else report
    return isinstance(parent, dict) and last in parent


def load_run(d: Path) -> tuple[dict, dict[str, np.ndarray] | None]:
    """``(report, timeseries or None)`` of a result directory; :class:`CompareError` naming the file when either
    cannot be read as dcsim wrote it."""
    d = Path(d)
    rp = d / "report.json"
    if not rp.is_file():
        raise CompareError(f"{d}: no report.json here — is this a dcsim result directory?")
    try:
        report = json.loads(decode_text(rp.read_bytes(), f"{rp}:", CompareError))
    except json.JSONDecodeError as exc:
        raise CompareError(f"{rp}: not valid JSON ({exc})") from None
    except (OSError, RecursionError) as exc:
        raise CompareError(f"{rp}: cannot read: {getattr(exc, 'strerror', None) or type(exc).__name__}") from None
    report = _check_shape(report, rp)
    tsp = d / "timeseries.csv"
    try:
        ts = read_timeseries(tsp) if tsp.is_file() else None
    except UnicodeDecodeError as exc:
        raise CompareError(f"{tsp}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    except (ValueError, csv.Error, OSError) as exc:  # empty, a cell that is not a number, not CSV
        msg = str(exc)
        raise CompareError(msg if msg.startswith(str(tsp)) else f"{tsp}: not a dcsim time series ({msg[:200]})") from None
    return report, ts


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(float(x)) else None


def _labels(dirs: Sequence[Path], reports: Sequence[dict]) -> list[str]:
    """Run labels: the directory names, unless they repeat; then the scenario names, then both."""
    names = [Path(d).name or str(d) for d in dirs]
    if len(set(names)) < len(names):
        names = [str(r.get("scenario", n)) for r, n in zip(reports, names)]
    if len(set(names)) < len(names):
        names = [f"{i + 1}:{n}" for i, n in enumerate(names)]
    return names


def _fmt_val(v: float | None, unit: str) -> str:
    if v is None:
        return "n/a"
    if unit in ("tok/s", "tok"):
        return fmt_si(v, "", 4).replace(" ", "")
    return f"{v:.4g}"


#: Changes smaller than this (percent of the reference) get no better/worse mark.
MARK_THRESHOLD_PCT = 0.5


def _fmt_delta(d: float | None, pct: float | None, unit: str, better: str | None) -> str:
    """``+0.123 (+4.5%) ✓``; percentages change by percentage points (``+3.2 pp ✗``); ✓/✗ say
    whether the change is an improvement, for changes of at least MARK_THRESHOLD_PCT (percent, or
    percentage points for figures that are percentages)."""
    if d is None:
        return "n/a"
    if d == 0:
        return "0"
    sign = "+" if d > 0 else "-"
    if unit == "%":  # marked when the change is at least MARK_THRESHOLD_PCT percentage points
        txt = f"{sign}{abs(d):.3g} pp"
        if better and abs(d) >= MARK_THRESHOLD_PCT:
            txt += " ✓" if (d < 0) == (better == "lower") else " ✗"
        return txt
    mag = _fmt_val(abs(d), unit) if unit in ("tok/s", "tok") else f"{abs(d):.3g}"
    txt = f"{sign}{mag}"
    if pct is not None:
        txt += f" ({'+' if pct > 0 else ''}{pct:.1f}%)"
    if better and pct is not None and abs(pct) >= MARK_THRESHOLD_PCT:
        good = (d < 0) == (better == "lower")
        txt += " ✓" if good else " ✗"
    return txt


def _calibration_label(cal: list | None) -> str:
    """The compare table's word for a run's node calibration: every caveat that applies (issue 14.6)."""
    if cal is None:
        return "n/a"
    words = [w for w, f in (("UNCALIBRATED", uncalibrated_caveat), ("extrapolated", extrapolation_caveat),
                            ("extrapolated context", context_caveat), ("older stack", stack_caveat)) if f(cal)]
    return ", ".join(words) or "calibrated"


def compare(dirs: Sequence[str | Path], out_dir: str | Path | None = None) -> tuple[str, dict]:
    """Side-by-side headline figures of result directories, deltas relative to the first.

    Returns ``(table, data)``. ``data["metrics"][key]`` holds ``label, unit, values``
    (display units: MW, MWh, %, …) and ``delta``/``delta_pct`` per run (None for the first and
    where a value is missing; ``delta_pct`` is None when the reference is 0).
    ``data["binding"]`` gives each run's most common and final binding constraint. With
    ``out_dir``, overlay plots and ``compare.json`` are written there and listed in
    ``data["files"]``.
    """
    dirs = [Path(d) for d in dirs]
    if len(dirs) < 2:
        raise CompareError("compare needs at least two result directories")
    loaded = [load_run(d) for d in dirs]
    reports = [r for r, _ in loaded]
    labels = _labels(dirs, reports)
    metrics: dict[str, dict] = {}
    for key, label, unit, scale, better in HEADLINE:
        if key == "binding.n_shifts":
            raw = [float(len(get_path(r, "binding.shifts", []) or [])) for r in reports]
        else:
            raw = [_num(get_path(r, key)) for r in reports]
        if all(v is None for v in raw):
            continue
        vals = [v * scale if v is not None else None for v in raw]
        ref = vals[0]
        delta: list[float | None] = [None]
        pct: list[float | None] = [None]
        for v in vals[1:]:
            if v is None or ref is None:
                delta.append(None)
                pct.append(None)
            else:
                delta.append(v - ref)
                pct.append(100.0 * (v - ref) / abs(ref) if ref != 0 else None)
        metrics[key] = {"label": label, "unit": unit, "better": better, "values": vals,
                        "delta": delta, "delta_pct": pct}
    binding = []
    for r in reports:
        b = r.get("binding") or {}
        share = b.get("share") or {}
        most = b.get("most_common") or (max(share, key=lambda k: share[k] or 0) if share else None)
        final = b.get("final") or b.get("current")
        if final is None and b.get("shifts"):
            final = b["shifts"][-1].get("to")
        tied = tied_leaders(share)
        if most is not None and len(tied) > 1 and most in tied:  # a tie is named as one: "compute = cooling"
            most = " = ".join(tied)
            share_most = share.get(tied[0])
        else:
            share_most = share.get(most) if most else None
        binding.append({"most_common": most, "most_common_share": share_most, "final": final, "n_shifts": len(b.get("shifts") or []),
                        "calibration": _calibration_label(get_path(r, "provenance.calibration"))})
    data: dict[str, Any] = {
        "runs": [{"label": lab, "dir": str(d), "scenario": r.get("scenario"), "seed": r.get("seed"),
                  "calibration_caveat": calibration_caveat(get_path(r, "provenance.calibration")),
                  "slo_caveat": "; ".join(slo_caveats(r)) or None}
                 for lab, d, r in zip(labels, dirs, reports)],
        "reference": labels[0],
        "metrics": metrics,
        "binding": binding,
    }
    table = _table(labels, metrics, binding)
    caveats = [f"{lab}: {r['calibration_caveat']}" for lab, r in zip(labels, data["runs"]) if r["calibration_caveat"]]
    caveats += [f"{lab}: {c}" for lab, r in zip(labels, reports) for c in slo_caveats(r)]  # one per line
    if caveats:  # the caveat travels with the number (issue 14.6)
        table += "\n\n" + "\n".join(caveats)
    if out_dir is not None:
        data["files"] = _write_plots(Path(out_dir), labels, loaded, data)
        no_ts = [lab for lab, (_, ts) in zip(labels, loaded) if not _has_series(ts)]
        if no_ts:  # say which runs the rate and power overlays cannot draw, not only in a legend
            data["runs_without_timeseries"] = no_ts
            table += ("\n\nNo timeseries.csv in " + ", ".join(no_ts) + ": "
                      + ("no rate or power overlay is drawn, only the J/token bars" if len(no_ts) == len(labels)
                         else "the rate and power overlays name " + ("it" if len(no_ts) == 1 else "them")
                         + " without a line"))
    return table, data


def _table(labels: list[str], metrics: dict[str, dict], binding: list[dict]) -> str:
    header = ["metric", "unit", labels[0]]
    for lab in labels[1:]:
        header += [lab, f"Δ vs {labels[0]}"]
    rows = [header]
    for m in metrics.values():
        row = [m["label"], m["unit"], _fmt_val(m["values"][0], m["unit"])]
        for v, d, p in zip(m["values"][1:], m["delta"][1:], m["delta_pct"][1:]):
            row += [_fmt_val(v, m["unit"]), _fmt_delta(d, p, m["unit"], m["better"])]
        rows.append(row)
    def cell(b: dict, key: str) -> str:
        v = b[key]
        if key == "most_common" and v is not None and isinstance(b.get("most_common_share"), (int, float)):
            return f"{v} ({fmt_pct(b['most_common_share'])})"
        return str(v)

    for key, label in (("most_common", "Binding the longest (time share)"), ("final", "Binding at end"),
                       ("calibration", "Node calibration")):
        row = [label, "", cell(binding[0], key)]
        for b in binding[1:]:
            same = b[key] == binding[0][key]
            row += [cell(b, key), "same" if same else "changed"]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for j, r in enumerate(rows):
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])] + [c.rjust(w) for c, w in zip(r[2:], widths[2:])]
        lines.append("  ".join(cells).rstrip())
        if j == 0:
            lines.append("  ".join("─" * w for w in widths))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# overlay plots


def _write_plots(out: Path, labels: list[str], loaded: list, data: dict) -> dict[str, str]:
    from dcsim.report.write import _png_bytes

    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    figs = overlay_figures(labels, loaded)
    for stem, fig in figs.items():
        p = atomic_write_bytes(out / f"{stem}.png", _png_bytes(fig))
        files[f"{stem}.png"] = str(p)
    files["compare.json"] = str(out / "compare.json")
    atomic_write_bytes(out / "compare.json", report_json_bytes({**data, "files": files}))
    return files


def _lw(i: int, n: int) -> float:
    """Line width of run i of n: the first run widest, so identical curves stay visible."""
    return 1.4 + 2.4 * (n - 1 - i) / max(n - 1, 1)


def _has_series(ts: dict | None) -> bool:
    """True when a run's time series can be drawn (a timeseries.csv with its time column)."""
    return ts is not None and "t_s" in ts


def _lw_thin(i: int, n: int) -> float:
    """Line width of run i's dashed/dotted lines (demand, IT, meter, cap): also widest for the first run, so a line
    two runs share (the same demand or cap) shows both colours instead of the last run's alone."""
    return 1.0 + 1.6 * (n - 1 - i) / max(n - 1, 1)


def overlay_figures(labels: list[str], loaded: list) -> dict:
    """Overlay figures by file stem: ``compare_rate`` (achieved rate and C/P/Q per run),
    ``compare_power`` (facility and IT power, the meter when a battery makes it differ, and the cap, named as in
    the run's power figure: the cap in force when a curtailment lowers it), ``compare_jpt`` (J/token bars)."""
    import matplotlib

    from dcsim.plots.figures import (
        CONSTRAINT_COLORS,
        RUN_COLORS,
        STYLE,
        _ext,
        _long_run,
        _span_edges,
        _time_ticks,
        cap_label,
        daily_means,
        new_figure,
        time_axis,
    )

    figs = {}
    with matplotlib.rc_context(STYLE):
        # (run index, label, time series) of the runs with a time series; a run keeps its index (its colour in every
        # figure) when an earlier run has none
        series = [(j, lab, ts) for j, (lab, (_, ts)) in enumerate(zip(labels, loaded)) if _has_series(ts)]
        # the run figures' rule: beyond two weeks a tick-by-tick line is a solid block, so every run is drawn as
        # daily means when one of them is that long (one time base for the overlay)
        daily = any(_long_run(ts) for _, _, ts in series)
        if daily:
            series = [(j, lab, daily_means(ts)) for j, lab, ts in series]
        note = " (daily means)" if daily else ""
        # every run by index: (its index among the runs drawn, time series), None for a run without a time series,
        # which gets a legend entry in its colour saying so instead of vanishing from the overlays
        runs = [(j, lab, next(((k, ts) for k, (i, _, ts) in enumerate(series) if i == j), None))
                for j, lab in enumerate(labels)]
        no_ts = "no time series"
        if series:
            fig = new_figure(12.0, 9.5)
            axes = fig.subplots(4, 1, sharex=True, height_ratios=[1.6, 1, 1, 1])
            panels = [("achieved_tok_s", "achieved (solid) and demand (dashed)"),
                      ("compute_tok_s", "C  compute ceiling"), ("power_tok_s", "P  power ceiling"),
                      ("cooling_tok_s", "Q  cooling ceiling")]
            span = max(float(_span_edges(ts["t_s"])[-1] - ts["t_s"][0]) for _, _, ts in series)
            for ax, (col, title) in zip(axes, panels):
                for i, lab, drawn in runs:
                    if drawn is None:
                        if col == "achieved_tok_s":
                            ax.plot([], [], color=RUN_COLORS[i % len(RUN_COLORS)], lw=1.4, label=f"{lab}: {no_ts}")
                        continue
                    k, ts = drawn
                    t, xlabel = time_axis(np.array([0.0, span]))
                    tt = ts["t_s"] * (t[-1] / span if span else 1.0)
                    y = np.where(np.isfinite(ts[col]), ts[col], np.nan) if col in ts else None
                    if y is None:
                        continue
                    ax.step(_span_edges(tt), _ext(y), where="post", color=RUN_COLORS[i % len(RUN_COLORS)],
                            lw=_lw(k, len(series)), label=lab, alpha=0.9)
                    if col == "achieved_tok_s" and "demand_tok_s" in ts:
                        ax.step(_span_edges(tt), _ext(ts["demand_tok_s"]), where="post",
                                color=RUN_COLORS[i % len(RUN_COLORS)], lw=_lw_thin(k, len(series)), ls="--", alpha=0.8)
                name = col.split("_")[0]
                ax.set_title(title, loc="left", fontsize=11.5,
                             color=CONSTRAINT_COLORS.get(name, "#111111"))
                ax.set_ylabel("tok/s")
                from matplotlib.ticker import EngFormatter

                ax.yaxis.set_major_formatter(EngFormatter(sep=""))  # as many places as the ticks need (places=0 printed "4M 4M 3M")
                if col == "achieved_tok_s":
                    ax.set_ylim(bottom=0)
            _time_ticks(axes[-1], np.array([0.0, span]))
            axes[-1].set_xlim(0, t[-1])
            axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
            axes[-1].set_xlabel(xlabel)
            fig.suptitle("Token rate and ceilings, run by run" + note, fontweight="bold", fontsize=13)
            figs["compare_rate"] = fig

            fig = new_figure(12.0, 5.0)
            ax = fig.subplots()
            peak = max(float(np.nanmax(ts.get("facility_power_w", [0.0]))) for _, _, ts in series)
            scale, unit = (1e-6, "MW") if peak >= 1e6 else (1e-3, "kW")
            for i, lab, drawn in runs:
                if drawn is None:
                    ax.plot([], [], color=RUN_COLORS[i % len(RUN_COLORS)], lw=1.4, label=f"{lab}: {no_ts}")
                    continue
                k, ts = drawn
                if "facility_power_w" not in ts:
                    continue
                t, xlabel = time_axis(np.array([0.0, span]))
                tt = ts["t_s"] * (t[-1] / span if span else 1.0)
                c = RUN_COLORS[i % len(RUN_COLORS)]
                ax.step(_span_edges(tt), _ext(ts["facility_power_w"] * scale), where="post", color=c,
                        lw=_lw(k, len(series)), label=f"{lab}: facility", alpha=0.9)
                if "it_power_w" in ts:
                    ax.step(_span_edges(tt), _ext(ts["it_power_w"] * scale), where="post", color=c,
                            lw=_lw_thin(k, len(series)), alpha=0.6, ls="-.", label=f"{lab}: IT")
                meter = ts.get("meter_power_w")
                if meter is not None and not np.allclose(meter, ts["facility_power_w"], rtol=1e-9, atol=1e-6):
                    # with a battery the meter (what the cap limits) is not facility power: facility may exceed the cap
                    ax.step(_span_edges(tt), _ext(meter * scale), where="post", color=c,
                            lw=_lw_thin(k, len(series)), ls=":",
                            label=f"{lab}: meter (after storage)")
                if "interconnect_w" in ts and np.isfinite(ts["interconnect_w"]).any():
                    cap = np.where(np.isfinite(ts["interconnect_w"]), ts["interconnect_w"], np.nan)
                    ax.step(_span_edges(tt), _ext(cap * scale), where="post", color=c,
                            lw=_lw_thin(k, len(series)), ls="--",
                            label=f"{lab}: {cap_label(cap)}")
            ax.set_ylim(bottom=0)
            _time_ticks(ax, np.array([0.0, span]))
            ax.set_xlim(0, t[-1])
            ax.set_ylabel(f"power ({unit})")
            ax.set_xlabel(xlabel)
            ax.set_title("Facility power, run by run" + note)
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
            figs["compare_power"] = fig

        fig = new_figure(max(7.5, 2.0 + 1.6 * len(labels)), 5.0)
        ax = fig.subplots()
        levels = ["gpu", "it", "facility"]
        width = 0.8 / len(labels)
        x = np.arange(len(levels))
        for i, (lab, (report, _)) in enumerate(zip(labels, loaded)):
            vals = [_num(get_path(report, f"joules_per_output_token.{k}")) for k in levels]
            vals = [v if v is not None else np.nan for v in vals]
            bars = ax.bar(x + (i - (len(labels) - 1) / 2) * width, vals, width * 0.95,
                          color=RUN_COLORS[i % len(RUN_COLORS)], label=lab, edgecolor="#333333", lw=0.5)
            for b, v in zip(bars, vals):
                if np.isfinite(v):
                    ax.annotate(f"{v:#.3g}", (b.get_x() + b.get_width() / 2, v), xytext=(0, 3),
                                textcoords="offset points", ha="center", va="bottom", fontsize=9)
        ax.set_xticks(x, ["GPU", "IT", "facility"])
        ax.set_ylabel("energy per output token (J/token)")
        ax.set_title("Joules per output token, run by run")
        ax.grid(False, axis="x")
        ax.legend(loc="upper left", frameon=False)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.1)
        figs["compare_jpt"] = fig
    return figs


# --------------------------------------------------------------------------------------------
# command line


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``compare`` on an argparse subparsers object; the handler is :func:`run`."""
    p = subparsers.add_parser(
        "compare", help="compare result directories side by side (deltas vs the first)",
        description="Side-by-side headline figures of two or more dcsim result directories, with "
                    "deltas relative to the first, and overlay plots.")
    _add_args(p)
    p.set_defaults(func=run)
    return p


def _add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dirs", nargs="+", type=Path, metavar="DIR",
                   help="result directories written by `dcsim run` (the first is the reference)")
    p.add_argument("--out", type=out_folder, default=None,
                   help="where to write the overlay plots and compare.json "
                        "(default: <parent of first DIR>/compare-<A>-vs-<B>...)")
    p.add_argument("--no-plots", action="store_true", help="print the table only")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON instead of a table")


def default_out_dir(dirs: Sequence[Path]) -> Path:
    names = [Path(d).resolve().name for d in dirs]
    return Path(dirs[0]).resolve().parent / ("compare-" + "-vs-".join(names))


def run(args: argparse.Namespace) -> int:
    """Run ``dcsim compare`` from parsed arguments; returns the exit code (2 on bad input)."""
    if len(args.dirs) < 2:
        print("dcsim compare: give at least two result directories", file=sys.stderr)
        return 2
    out = None if args.no_plots else (args.out or default_out_dir(args.dirs))
    try:
        table, data = compare(args.dirs, out)
    except CompareError as exc:
        print(f"dcsim compare: {exc}", file=sys.stderr)
        return 2
    if args.json:
        sys.stdout.write(report_json_bytes(data).decode("utf-8"))
    else:
        print(table)
        if out is not None:
            print(f"\nOverlay plots and compare.json written to {out}/")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m dcsim.report.compare DIR_A DIR_B [...]``."""
    p = argparse.ArgumentParser(prog="dcsim compare")
    _add_args(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
