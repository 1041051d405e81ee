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
import textwrap
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from dcsim.metrics.fmt import (band_pct_value, band_source, calibration_bands, calibration_caveat, calibration_label, fmt_band,
                               fmt_duration, fmt_pct, fmt_pue, fmt_si, get_path, headline_band, jpt_band_frac, jpt_band_pct_by_level,
                               local_datetime, or_list, tok_s_band_frac, within_band_lead_names)
from dcsim.report.serialize import report_json_bytes
from dcsim.tpf import band_ratio_window
from dcsim.report.summary import (SERVED_OVER_C, TERMINAL_WIDTH, binding_headline, mean_compute_ceiling, start_text,
                                  tied_leaders, wrap_hanging, wrap_text)
from dcsim.report.write import atomic_write_bytes, read_timeseries
from dcsim.serving.slo_estimate import SEED_BAND_PCT, slo_caveats
from dcsim.textio import decode_text, out_folder

__all__ = ["HEADLINE", "TOTALS", "SLO_FIGURES", "slo_method", "compare", "load_run", "add_parser", "run", "main",
           "CompareError"]

#: the SLO goodput of the requests scored by their latency SLOs (a run that defers work stores it; compare shows
#: it only where a run defers: else it repeats the SLO goodput)
INTERACTIVE = "goodput_interactive_tok_s"
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
    (INTERACTIVE, "SLO goodput, interactive", "tok/s", 1.0, "higher"),
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
    ("requests.refused_context", "Requests refused, context window", "", 1.0, None),
    ("tokens_accounting.refused_context_in", "Prompt tokens refused, context window", "tok", 1.0, None),
    ("tokens_accounting.refused_context_out", "Output tokens refused, context window", "tok", 1.0, None),
    ("tokens_accounting.cut_context_out", "Output tokens cut, context window", "tok", 1.0, None),
)
#: what a model's context window refused or cut (docs/workload.md, Context window): shown only where a run has some
CONTEXT_FIGURES = frozenset({"requests.refused_context", "tokens_accounting.refused_context_in",
                             "tokens_accounting.refused_context_out", "tokens_accounting.cut_context_out"})
#: runs whose share of the asked output tokens the context window refused or cut (:func:`context_refused_share`)
#: differs by more than this are not like for like (assumption: 0.1 percentage point, above rounding, below any
#: change of trace or model window worth naming)
CONTEXT_SHARE_TOL = 1e-3


#: figures summed over the run: of runs with different durations they are not compared (not marked; † in the table)
TOTALS = frozenset({"tokens.output", "energy_j.facility", "energy_j.it", "energy_j.cooling", "binding.n_shifts"}) | CONTEXT_FIGURES
#: total energies: marked only when the runs served the same work (output tokens within MARK_THRESHOLD_PCT), else
#: less energy may only be fewer tokens served (‡; J/token is the figure that compares the efficiency)
ENERGY_TOTALS = frozenset({"energy_j.facility", "energy_j.it", "energy_j.cooling"})
#: figures that scale with the work served, marked only when the runs served the same work (‡): the total energies
#: and the peak facility draw. The audit of 2026-12-05 (AUF item 6) read "Peak facility power 1.275 → 1.055 MW
#: −17.2 % ✓" for the liquid-cooled heatwave hall, which drew less because its trim chiller held it to 6.3 % fewer
#: tokens ("Output tokens −6.3 % ✗"): a smaller draw of a hall that serves less is no smaller interconnect need
WORK_FIGURES = ENERGY_TOTALS | frozenset({"peak_power_w.facility"})
#: figures of the SLO method (the fluid estimate, or counted request by request): not marked across methods (≠),
#: nor between fluid runs within the estimate's seed noise (≈)
SLO_FIGURES = frozenset({"joules_per_slo_output_token.facility", "goodput_tok_s", "slo_attainment", INTERACTIVE})
#: why a change is shown without ✓/✗: its sign in the table and the note under it (``compare.json``: ``unmarked``)
UNMARKED: dict[str, tuple[str, str]] = {
    "duration": ("†", "a total over runs of different durations ({durations}): not marked; compare the rates and "
                      "per-token figures"),
    "slo_method": ("≠", "SLO figures of different methods (the fluid estimate against request-measured): not marked; "
                        "confirm at request fidelity, or compare runs of one fidelity"),
    "slo_noise": ("≈", "within the fluid SLO estimate's seed noise (each fluid run {band:g} % either way, so up to "
                       "{pair:g} % between two; docs/slo.md): not marked; compare over seeds or at request fidelity"),
    "deferrable": ("§", "SLO figures of runs whose deferrable share differs ({shares}): a run that defers part of its "
                        "demand scores that part by its deadline (SLO goodput and J/SLO-meeting token count it) and "
                        "only the rest, a smaller demand, by the latency SLOs (the interactive SLO goodput, the "
                        "attainment): not marked; a run's own `flexibility` block compares it like with like with "
                        "the same run without deferral (docs/grid.md)"),
    "work": ("‡", "energy and peak draw of runs that served different work (output tokens changed {work}): not "
                  "marked; J/token compares the efficiency"),
    "ceiling": ("¶", "a share of the compute ceiling C, which differs between the runs (mean C {ceilings}): the share "
                     "moves with C as well as with the output (a larger C lowers it at the same output): not marked; "
                     "the output throughput compares what was served"),
    "calibration": ("~", "within the node calibration's expected error of runs on different profiles ({bands}): the "
                         "change may be the profiles' difference rather than the change you made: not marked; "
                         "calibrate the pair you run (dcsim calibrate, docs/node.md) or compare runs on one profile"),
    "calibration_slo": ("≀", "SLO figures of runs on different profiles, one of them transferred or extrapolated "
                             "({bands}): the SLO-meeting output is a queueing figure, which a capacity error within "
                             "the band moves by far more than the band near saturation (a run that keeps up against "
                             "one that sheds): not marked at any size; calibrate the pair you run (dcsim calibrate, "
                             "docs/node.md) or compare runs on one profile"),
}
#: figures whose error a run's node calibration band bounds (``error_band_pct``: tokens/s or J/token; cost and carbon
#: per token follow J/token): a change between runs on different profiles within the larger band is not marked
#: (audit 2026-12-05: the reference hall in FP8, transferred at ±28 % tok/s, ±31 % J/token, read "J/token −17.6 % ✓"
#: against its calibrated BF16 run, though at batch 256 the pool's FP8 over the calibrated BF16 reads 0.99 J/token and over the pool's BF16 0.76)
#: figures that are a share of the run's own compute ceiling C (report.json ``utilization``, served ÷ C): where C
#: differs between the runs (by more than MARK_THRESHOLD_PCT, or is unknown) the share is not marked (¶). The audit of
#: 2026-12-05: ``compare base b200`` marked "Served ÷ compute ceiling C −13.5 pp ✗" where B200 served 55.4 % more.
SHARES_OF_C = frozenset({"utilization"})
BAND_TOK_S = frozenset({"throughput_tok_s.output", "utilization_adjusted_output_tok_s", "tokens.output"})
BAND_J_PER_TOK = frozenset({"joules_per_output_token.facility", "joules_per_output_token.it",
                            "joules_per_output_token.gpu", "cost.usd_per_mtok", "carbon.g_per_mtok"})
#: power figures: a fleet's draw is its tokens/s times its J/token, so a node model off by b_t and b_j draws up to
#: (1 + b_t)(1 + b_j) - 1 off (:func:`band_power_pct`; the two bands independent, as dcsim.tpf.band_ratio_window
#: reads them), above only up to what the GPUs draw at TDP where the run states it (``power_cap_ratio``). The audit of 2026-12-05 marked "Peak facility power -7.3 % ✓" between the reference and its FP8
#: twin (transferred, ±28 % tok/s, ±31 % J/token).
BAND_POWER = frozenset({"peak_power_w.facility"})
#: SLO figures between runs on different profiles: with both profiles in-sample the goodput carries the tok/s band
#: and J per SLO-meeting token the power band (facility energy over SLO-meeting tokens); with one transferred or
#: extrapolated, no band bounds them ("calibration_slo"): the audit's FP8 twin read "SLO goodput +99.6 % ✓" and
#: "J/SLO-meeting token -53.7 % ✓" beside a ±28 % capacity band, the queueing estimate's leap from a run that sheds to
#: one that keeps up. The attainment is the same queueing figure: left out, the FP8 twin read "SLO attainment
#: +4.78 pp ✓" beside "SLO goodput +22.8 % ≀" (the walk of 2026-12-05)
BAND_SLO = frozenset({"goodput_tok_s", INTERACTIVE, "joules_per_slo_output_token.facility", "slo_attainment"})
#: which calibration band a figure's change between runs on different profiles is read against (:func:`_unmarked`):
#: ``tok_s`` (the output and the SLO goodput), ``j_per_tok`` (energy per token and what is priced per token),
#: ``power`` (:func:`band_power_pct`: the peak draw and J per SLO-meeting token, facility energy over SLO-meeting
#: tokens); a figure it does not list reads no band
FIGURE_BAND: dict[str, str] = {**{k: "tok_s" for k in BAND_TOK_S | {"goodput_tok_s", INTERACTIVE}},
                               **{k: "j_per_tok" for k in BAND_J_PER_TOK},
                               **{k: "power" for k in BAND_POWER | {"joules_per_slo_output_token.facility"}}}


def band_power_pct(band: dict, power_cap_ratio: float | None = None) -> float:
    """The error band (%) of a power figure from a run's ``error_band_pct`` (tok/s and J/token, %): the draw is
    tokens/s × J/token, off by a factor within :func:`dcsim.tpf.band_ratio_window` of the two bands (the window the
    binding answer reads), its upper end capped by what the GPUs can draw at their TDP (``power_cap_ratio``,
    report.json ``binding.within_band.power_cap_ratio``; None: no cap); the wider side of that window, %. Without a
    cap (1 + b_t)(1 + b_j) - 1 (the wider side: it exceeds 1 - (1 - b_t)(1 - b_j)); 0 without either band."""
    bt, bj = (float(band.get(k) or 0.0) / 100.0 for k in ("tok_s_pct", "j_per_tok_pct"))
    lo, hi = band_ratio_window(bt, bj, math.inf if power_cap_ratio is None else float(power_cap_ratio))
    return 100.0 * max(hi - 1.0, 1.0 - lo)


def slo_method(report: dict) -> str | None:
    """How a run's SLO figures were obtained: ``"fluid estimate"`` (fluid fidelity: the sampled queueing estimate of
    :mod:`dcsim.serving.slo_estimate`), ``"request-measured"`` (request or hybrid fidelity), ``"not estimated"`` (a
    fluid run without SLO figures), None when the report does not say."""
    fid = report.get("fidelity")
    if fid in ("request", "hybrid"):
        return "request-measured"
    if fid == "fluid" or str(report.get("slo_method") or "").startswith("fluid"):
        return "fluid estimate" if _num(report.get("goodput_tok_s")) is not None else "not estimated"
    return None


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


#: binding shares of a run are tick counts over the ticks: they sum to 1 up to float rounding (a run of n ticks adds n
#: terms of 1/n; 1e-6 leaves room for any tick count a run holds) or, for a run that recorded no tick, to 0
BINDING_SHARE_SUM_TOL = 1e-6


def _shown(v: Any) -> str:
    """A report value as an error quotes it: a scalar as JSON writes it (NaN, Infinity as Python reads them), else
    its JSON type."""
    return json.dumps(v)[:60] if v is None or isinstance(v, (bool, int, float, str)) else f"a {type(v).__name__}"


def _check_figures(report: dict, rp: Path) -> None:
    """Refuse headline figures no run writes: a negative, non-finite or non-numeric value (every headline figure is a
    non-negative number or null: energies, tokens, rates, shares, PUE, cost and carbon at non-negative prices and
    intensities; report.json refuses NaN and infinity, docs/report.md), and binding shares outside [0, 1] or not
    summing to 1 within :data:`BINDING_SHARE_SUM_TOL`. A hand-edited ``joules_per_output_token.facility: -5`` read
    "-8.9 (-228.2%) ✓", and shares of power 0.9 + compute 0.9 were shown and ``demand`` named the longest-binding."""
    for key, *_ in HEADLINE:
        # binding.n_shifts is counted from binding.shifts, not stored; the shares are checked as shares below
        if key == "binding.n_shifts" or key.startswith("binding.share."):
            continue
        v = get_path(report, key)
        if v is None:  # absent or null: a figure the run could not give (shown n/a)
            continue
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if not ok or not math.isfinite(float(v)) or float(v) < 0:
            raise CompareError(f"{rp}: {key} is {_shown(v)}: no dcsim run writes it (a headline figure is a finite "
                               "number at least 0, or null); was the report edited?")
    share = get_path(report, "binding.share") or {}
    total = 0.0
    for name, v in share.items():
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if not ok or not (0.0 <= float(v) <= 1.0):
            raise CompareError(f"{rp}: binding.share.{name} is {_shown(v)}: a share of the run's ticks, between 0 "
                               "and 1; was the report edited?")
        total += float(v)
    if share and abs(total - 1.0) > BINDING_SHARE_SUM_TOL and total != 0.0:
        parts = " + ".join(f"{k} {v:g}" for k, v in share.items())
        raise CompareError(f"{rp}: binding.share sums to {total:g} ({parts}), not 1 (within "
                           f"{BINDING_SHARE_SUM_TOL:g}): each tick binds one constraint; was the report edited?")


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
    _check_figures(report, rp)
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


def _fmt_val(v: float | None, unit: str, key: str | None = None) -> str:
    """A value in the table: tokens and tokens/s with an SI prefix from k up (``57.33k``, ``16.03G``), below 1 as a
    plain number (``0.6672``: a milli prefix, ``667.2m``, reads as millions beside them; :func:`fmt_si`'s rule for
    counts, :data:`dcsim.metrics.fmt.SUBUNIT_PREFIX_UNITS`); the PUE (``key`` "pue") at three decimals,
    :func:`~dcsim.metrics.fmt.fmt_pue`, as every other view prints it (the table printed "1.422" beside the summary's
    1.422 but "1.44" for 1.440 until session 53)."""
    if v is None:
        return "n/a"
    if key == "pue":
        return fmt_pue(v)
    if unit in ("tok/s", "tok"):
        return fmt_si(v, "", 4).replace(" ", "")
    return f"{v:.4g}"


#: compare_rate draws each run as a share of its own mean compute ceiling C when the runs' mean C differ by more than
#: this factor: on one linear tok/s axis a run that many times smaller is a line along the bottom (heatwave-air at
#: 3.6 M tok/s against reference and chiller-trip at 0.23 M, 15.8x). A layout choice, not a measurement.
RATE_SCALE_RATIO = 3.0

#: Changes smaller than this (percent of the reference) get no better/worse mark.
MARK_THRESHOLD_PCT = 0.5


def mark_note(reference: str, metrics: dict[str, dict]) -> str:
    """What ✓ and ✗ say, printed under the table when a change is marked (a planner reading "−3.4 % ✗" should not need
    docs/report.md to know it means worse than the reference): the labels of the rows marked, grouped by which way
    :data:`HEADLINE` says each is better. Until the review of WALK3 (2026-12-06) the note was written by hand and
    disagreed with the table (it put "PUE" with the better-lower figures above "PUE-adj. power available, mean
    +44.2 % ✓", named neither the peak facility power nor the SLO attainment, and said "utilization" for the row
    "Served ÷ compute ceiling C")."""
    groups: dict[str, list[str]] = {"lower": [], "higher": []}
    for m in metrics.values():
        if m.get("better") in groups and any(m.get("mark") or ()):
            groups[m["better"]].append(m["label"])
    said = "; ".join(f"{way} is better for {' · '.join(labs)}" for way, labs in groups.items() if labs)
    return (f"better / worse than {reference}, the first run; {said}; changes under {MARK_THRESHOLD_PCT:g} % "
            f"({MARK_THRESHOLD_PCT:g} pp for a figure in %) are not marked")


def _mark(d: float | None, pct: float | None, unit: str, better: str | None) -> str | None:
    """``"better"``, ``"worse"`` or None (no direction, or a change under MARK_THRESHOLD_PCT: percent, or percentage
    points for figures that are percentages)."""
    if d is None or d == 0 or not better:
        return None
    size = abs(d) if unit == "%" else (abs(pct) if pct is not None else None)
    if size is None or size < MARK_THRESHOLD_PCT:
        return None
    return "better" if (d < 0) == (better == "lower") else "worse"


def _fmt_delta(d: float | None, pct: float | None, unit: str, better: str | None, tag: str | None = None,
               key: str | None = None) -> str:
    """``+0.123 (+4.5%) ✓``; percentages change by percentage points (``+3.2 pp ✗``); ✓/✗ say
    whether the change is an improvement, for changes of at least MARK_THRESHOLD_PCT (percent, or
    percentage points for figures that are percentages). With ``tag`` (a sign of :data:`UNMARKED`) the change is
    not marked and carries the sign instead."""
    if d is None:
        return "n/a"
    if d == 0:
        return "0"
    sign = "+" if d > 0 else "-"
    if unit == "%":  # marked when the change is at least MARK_THRESHOLD_PCT percentage points
        txt = f"{sign}{abs(d):.3g} pp"
    else:
        mag = _fmt_val(abs(d), unit, key) if unit in ("tok/s", "tok") or key == "pue" else f"{abs(d):.3g}"
        txt = f"{sign}{mag}"
        if pct is not None:
            txt += f" ({'+' if pct > 0 else ''}{pct:.1f}%)"
    if tag:
        return f"{txt} {tag}"
    mark = _mark(d, pct, unit, better)
    return txt + ({"better": " ✓", "worse": " ✗"}[mark] if mark else "")


def _unmarked(key: str, i: int, metrics: dict[str, dict], runs: list[dict]) -> str | None:
    """Why run ``i``'s change in ``key`` against the reference is not marked (a key of :data:`UNMARKED`), or None."""
    m = metrics[key]
    d, pct = m["delta"][i], m["delta_pct"][i]
    if d is None or d == 0:
        return None
    ref, run = runs[0], runs[i]
    if key in TOTALS and not _same(ref["duration_s"], run["duration_s"]):
        return "duration"
    if key in SHARES_OF_C:  # served ÷ C of runs with different C: a share, not the output (b200: −13.5 pp at +55 %)
        c0, c1 = ref.get("compute_ceiling_tok_s"), run.get("compute_ceiling_tok_s")
        if c0 is None or c1 is None or abs(c1 - c0) > MARK_THRESHOLD_PCT / 100.0 * abs(c0):
            return "ceiling"
    if pct is not None and ref["profiles"] != run["profiles"]:
        pair = (ref["error_band_pct"], run["error_band_pct"])
        if key in BAND_SLO and (ref.get("out_of_sample") or run.get("out_of_sample")):
            return "calibration_slo"
        kind = FIGURE_BAND.get(key)
        if kind == "power":
            band = max(band_power_pct(b, r.get("power_cap_ratio")) for b, r in zip(pair, (ref, run)))
        else:
            band = max((b.get(f"{kind}_pct") or 0.0) for b in pair) if kind else None
        if band is not None and abs(pct) <= band:
            return "calibration"
    if key in SLO_FIGURES:
        if ref["slo_method"] != run["slo_method"]:
            return "slo_method"
        if not _same(ref["deferrable_share"], run["deferrable_share"]):
            return "deferrable"
        if ref["slo_method"] == "fluid estimate" and pct is not None and abs(pct) <= 2 * SEED_BAND_PCT:
            return "slo_noise"
    if key in WORK_FIGURES and m.get("better"):
        tok = (metrics.get("tokens.output") or {}).get("delta_pct") or [None] * len(runs)
        if tok[i] is None or abs(tok[i]) >= MARK_THRESHOLD_PCT:
            return "work"
    return None


def _calibration(report: dict) -> list[dict] | None:
    """A run's node calibration record (``provenance.calibration``, one mapping per rack group), as every reader
    here takes it: its mappings; None for a report without the record (or one that is not a list). A report
    ``dcsim compare`` loads is refused with the entry named when it holds another kind of entry (:func:`_check_shape`);
    reports handed in as they are (:func:`overlay_figures`) have it skipped here. Until 2026-12-05 the profiles' walk
    and the caveat read every entry as a mapping (AttributeError on ``[5]``) where the error band skipped it."""
    cal = get_path(report, "provenance.calibration")
    return [c for c in cal if isinstance(c, dict)] if isinstance(cal, list) else None


def run_error_band(report: dict) -> dict[str, float]:
    """A run's node calibration error band on its fleet figures, % (``tok_s_pct``, ``j_per_tok_pct``): every rack
    group's band (``provenance.calibration[].error_band_pct``, in-sample ones too: between runs on different profiles
    their residuals do not cancel), each pool's weighted by its share of the output served and of the facility energy
    (:func:`dcsim.metrics.fmt.tok_s_band_frac`, :func:`~dcsim.metrics.fmt.jpt_band_frac`: the one rule the headline
    and the J/token figure use); the widest where the record names no pool's group. Empty for a report that does not
    give one; a band that is not a mapping of figure to % (a hand-edited report's bare number) gives none. Until
    2026-12-05 it took the widest group's band (mixed-fleet: one pool's 46 % on the whole fleet's J/token); since
    2026-12-05 it is :func:`~dcsim.metrics.fmt.headline_band` over every group, not a copy of its arithmetic: a view
    of :func:`_every_group_band` (:func:`error_band_view`)."""
    return error_band_view(_every_group_band(report))


def _every_group_band(report: dict) -> dict | None:
    """The run's :func:`~dcsim.metrics.fmt.headline_band` over every group (in-sample ones too), the one read of its
    calibration bands that ``dcsim compare``'s band figures and their "≥" both come from."""
    return headline_band(report, out_of_sample=False)


def error_band_view(band: dict | None) -> dict[str, float]:
    """``compare.json``'s ``error_band_pct`` of a run from its :func:`_every_group_band`: the figures a group states
    (``tok_s_pct``, ``j_per_tok_pct``, %); empty without a band."""
    if band is None:
        return {}
    # a figure no group states is left out; a stated 0 stays (the headline's None for no band); a single band back as
    # stated (27.8, not 27.800000000000004)
    return {q: band_pct_value(band[q] or 0.0) for q in band["stated"]}


def context_refused_share(report: dict) -> float:
    """Share of the output tokens a run's requests asked for that the model's context window refused or cut
    (``tokens_accounting``: (refused_context_out + cut_context_out) / (arrived + both)); 0 for a report without them."""
    tok = report.get("tokens_accounting") or {}
    lost = float(tok.get("refused_context_out") or 0.0) + float(tok.get("cut_context_out") or 0.0)
    asked = float(tok.get("arrived") or 0.0) + lost
    return lost / asked if asked > 0 else 0.0


def deferrable_share(report: dict) -> float:
    """The share of the run's output-token demand that is deferrable (batch) work; 0 without ``deferrable:``."""
    return _num(get_path(report, "deferrable.share")) or 0.0


def interactive_goodput(report: dict) -> float | None:
    """SLO goodput of the requests scored by their latency SLOs (tok/s): the run's stored
    ``goodput_interactive_tok_s`` (``goodput_tok_s`` less the deferred tokens served by their deadline, which it
    counts as SLO-meeting); the run's goodput when it defers nothing; from a run written before the figure was
    stored (2026-12-05), worked out as that run did: the goodput less its deferred tokens served by their deadline
    over the run; None without a goodput."""
    good = _num(report.get("goodput_tok_s"))
    d = report.get("deferrable")
    if good is None or not isinstance(d, dict):
        return good
    stored = _num(report.get("goodput_interactive_tok_s"))
    if stored is not None:
        return stored
    served, late, dur = (_num(x) for x in (d.get("served_tokens"), d.get("served_late_tokens"),
                                           report.get("duration_s")))
    return None if None in (served, late, dur) or not dur > 0 else good - (served - late) / dur


def _same(a: Any, b: Any) -> bool:
    a, b = _num(a), _num(b)
    return a is not None and b is not None and abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)


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
    if out_dir is not None and Path(out_dir).exists() and not Path(out_dir).is_dir():
        # until 2026-12-05 found only after the whole table was computed, as "Error: X: File exists" (the folder's
        # mkdir); compare has no --force: a folder would have to replace the user's file
        raise CompareError(f"--out {out_dir}: a file (not a folder) exists there; compare writes compare.json and "
                           "its overlay plots into a folder: choose another --out, remove the file, or print the "
                           "table only (--no-plots, without --out)")
    loaded = [load_run(d) for d in dirs]
    reports = [r for r, _ in loaded]
    labels = _labels(dirs, reports)
    metrics: dict[str, dict] = {}
    for key, label, unit, scale, better in HEADLINE:
        if key == "binding.n_shifts":
            raw = [float(len(get_path(r, "binding.shifts", []) or [])) for r in reports]
        elif key == INTERACTIVE:  # only where a run defers work (else it is the SLO goodput again)
            if not any(deferrable_share(r) > 0 for r in reports):
                continue
            raw = [interactive_goodput(r) for r in reports]
        else:
            raw = [_num(get_path(r, key)) for r in reports]
        if all(v is None for v in raw) or (key in CONTEXT_FIGURES and not any(raw)):
            continue
        vals = [v * scale if v is not None else None for v in raw]
        ref = vals[0]
        delta: list[float | None] = [None]
        pct: list[float | None] = [None]
        for v in vals[1:]:
            if v is None or ref is None:
                delta.append(None)
                pct.append(None)
            elif _same(v, ref):  # equal up to rounding (the sum of a run's parts in another order): no change
                delta.append(0.0)
                pct.append(0.0 if ref != 0 else None)
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
        # the limits that could bind instead of the one named within the run's calibration band (the summary's rule,
        # dcsim.metrics.fmt.within_band_lead): "" where none, or an in-sample calibrated run
        bh = binding_headline(share)  # the summary's headline inputs (its top and limit share), not re-derived
        alt = within_band_lead_names(b.get("within_band") if isinstance(b.get("within_band"), dict) else None,
                                     bh.top, bh.limit_share)
        binding.append({"most_common": most, "most_common_share": share_most, "final": final, "n_shifts": len(b.get("shifts") or []),
                        "calibration": calibration_label(_calibration(r)),
                        "within_band": or_list(alt) or "none"})
    runs = _run_rows(labels, dirs, reports)
    for r, rep in zip(runs, reports):  # what a share of C is a share of (SHARES_OF_C)
        r["compute_ceiling_tok_s"] = mean_compute_ceiling(rep)
    used: dict[str, None] = {}
    for key, m in metrics.items():
        m["unmarked"] = [None] + [_unmarked(key, i, metrics, runs) for i in range(1, len(runs))]
        m["mark"] = [None] + [None if why else _mark(d, p, m["unit"], m["better"])
                              for why, d, p in zip(m["unmarked"][1:], m["delta"][1:], m["delta_pct"][1:])]
        used.update(dict.fromkeys(w for w in m["unmarked"] if w))
    used = {w: None for w in UNMARKED if w in used}  # the notes in one order
    alignment = _alignment(reports, labels)
    differences = _differences(runs, alignment)
    data: dict[str, Any] = {
        "runs": runs,
        "reference": labels[0],
        "like_for_like": not differences,
        "differences": differences,
        "overlay_time": {"axis": alignment["axis"], "note": alignment["note"]},
        "metrics": metrics,
        "binding": binding,
        "unmarked_notes": {w: _unmarked_note(w, runs, metrics) for w in used},
    }
    table = _table(labels, metrics, binding)
    if differences:  # what makes the runs not like for like comes first, before any number is read
        table = _differences_text(labels, differences) + "\n\n" + table
    # the free text around the table is wrapped to the terminal's width, continuation lines under their text (the
    # table's columns are kept whole; compare.json keeps every note unwrapped)
    marked = any(mk for m in metrics.values() for mk in m["mark"] if mk)
    if marked:  # what the marks mean, under the table they are read in (docs/report.md said it; the table did not)
        data["mark_note"] = mark_note(labels[0], metrics)
        table += "\n\n" + "\n".join(wrap_hanging("✓ ✗ ", data["mark_note"]))
    if used:
        table += ("\n" if marked else "\n\n") + "\n".join(
            x for w in used for x in wrap_hanging(f"{UNMARKED[w][0]} ", data["unmarked_notes"][w]))
    caveats = [(lab, r["calibration_caveat"]) for lab, r in zip(labels, data["runs"]) if r["calibration_caveat"]]
    caveats += [(lab, c) for lab, r in zip(labels, reports) for c in slo_caveats(r)]  # one per line
    if caveats:  # the caveat travels with the number (issue 14.6), once per text with the runs it applies to
        runs_of: dict[str, list[str]] = {}
        for lab, c in caveats:
            if lab not in runs_of.setdefault(c, []):
                runs_of[c].append(lab)
        table += "\n\n" + "\n".join(x for c, labs in runs_of.items() for x in wrap_hanging(f"{', '.join(labs)}: ", c))
    if out_dir is not None:
        data["files"] = _write_plots(Path(out_dir), labels, loaded, data, alignment)
        no_ts = [lab for lab, (_, ts) in zip(labels, loaded) if not _has_series(ts)]
        if no_ts:  # say which runs the rate and power overlays cannot draw, not only in a legend
            data["runs_without_timeseries"] = no_ts
            table += "\n\n" + "\n".join(wrap_text(
                "No timeseries.csv in " + ", ".join(no_ts) + ": "
                + ("no rate or power overlay is drawn, only the J/token bars" if len(no_ts) == len(labels)
                   else "the rate and power overlays name " + ("it" if len(no_ts) == 1 else "them")
                   + " without a line"), TERMINAL_WIDTH))
    return table, data


def _run_rows(labels: Sequence[str], dirs: Sequence[Path | None], reports: Sequence[dict]) -> list[dict]:
    """``compare.json``'s ``runs``: each run's label, directory, scenario, seed, duration, local start, fidelity, SLO
    method and caveats (what :func:`_differences` reads to say whether the runs are like for like). The error band and
    its "≥" (``band_lower_bound``) come from one :func:`_every_group_band` per run: the "≥" of the groups that add to
    the band printed (until 2026-12-05 of any group, one without a figure too: "≥±10 %" where the groups that gave the
    10 % state it as measured)."""
    bands = [_every_group_band(r) for r in reports]
    heads = [headline_band(r) for r in reports]  # the band each run's own headline prints, read once
    return [{"label": lab, "dir": None if d is None else str(d), "scenario": r.get("scenario"), "seed": r.get("seed"),
             "duration_s": _num(r.get("duration_s")), "start": start_text(r), "fidelity": r.get("fidelity"),
             "slo_method": slo_method(r), "deferrable_share": deferrable_share(r),
             "context_refused_share": context_refused_share(r),
             "calibration_caveat": calibration_caveat(_calibration(r)),
             "profiles": sorted({str(c.get("profile")) for c in _calibration(r) or []}),
             "error_band_pct": error_band_view(band),
             "power_cap_ratio": _num(get_path(r, "binding.within_band.power_cap_ratio")),
             "band_lower_bound": bool(band and band["lower_bound"]),
             # the band the run's own headline prints (out-of-sample groups only; empty for a calibrated run)
             "headline_band_pct": error_band_view(head),
             "headline_band_lower_bound": bool((head or {}).get("lower_bound")),
             "out_of_sample": bool(calibration_bands(r, out_of_sample=True)),
             "slo_caveat": "; ".join(slo_caveats(r)) or None, "code": code_identity(r)}
            for lab, d, r, band, head in zip(labels, dirs, reports, bands, heads)]


def code_identity(report: dict) -> str | None:
    """The code a run came from as compare names it: ``dcsim_version`` and the first 12 hex digits of
    ``provenance.code_hash`` (:func:`dcsim.metrics.provenance.code_hash`, which keys the sweep cache too; a report
    written before 2026-12-05 has none: "code not recorded"); None when the report records neither."""
    prov = report.get("provenance") if isinstance(report.get("provenance"), dict) else {}
    ver, h = prov.get("dcsim_version"), prov.get("code_hash")
    if ver is None and h is None:
        return None
    return f"{ver if ver is not None else '?'} ({str(h)[:12] if h else 'code not recorded'})"


def _start(report: dict) -> tuple[datetime | None, bool]:
    """(local start, dated): :func:`dcsim.metrics.fmt.local_datetime` at t = 0; (None, False) without a clock."""
    return local_datetime(0.0, report.get("clock")) or (None, False)


def _alignment(reports: Sequence[dict], labels: Sequence[str]) -> dict[str, Any]:
    """How the overlays place the runs in time: ``axis`` ``"elapsed"`` (every run from its own start: the starts
    agree, or one is unknown), ``"local clock"`` (each run at its start on the local clock, runs that overlap or
    follow one another), ``"hour of day"`` (runs on dates further apart than the longest run, laid over one another
    by the hour of day); ``offsets_s`` per run from ``origin`` (midnight before the first start), ``dated``,
    ``note``."""
    starts = [_start(r) for r in reports]
    n = len(reports)
    unknown = [lab for lab, (st, _) in zip(labels, starts) if st is None]
    if unknown:
        who = (", ".join(unknown) + " give" + ("s" if len(unknown) == 1 else "")
               + " no start time (no clock in report.json)")
        return {"axis": "elapsed", "offsets_s": [0.0] * n, "origin": None, "dated": False, "unknown": who,
                "note": f"elapsed time, each run from its own start: {who}"}
    dated = all(d for _, d in starts)
    if not dated:  # a date and a day of year: compare them as days of year
        starts = [(datetime(2001, 1, 1) + (st - datetime(st.year, 1, 1)) if d else st, False) for st, d in starts]
    t = [st for st, _ in starts]
    if len({x for x in t}) == 1:
        return {"axis": "elapsed", "offsets_s": [0.0] * n, "origin": t[0], "dated": dated,
                "note": f"every run starts at {start_text(reports[0])}: elapsed time is the local clock"}
    longest = max((_num(r.get("duration_s")) or 0.0) for r in reports)
    if (max(t) - min(t)).total_seconds() <= longest:
        origin = min(t).replace(hour=0, minute=0, second=0, microsecond=0)
        return {"axis": "local clock", "offsets_s": [(x - origin).total_seconds() for x in t], "origin": origin,
                "dated": dated, "note": "each run drawn at its own start on the local clock"}
    return {"axis": "hour of day", "offsets_s": [x.hour * 3600.0 + x.minute * 60.0 + x.second for x in t],
            "origin": None, "dated": dated,
            "note": "the runs start on dates further apart than the longest run: laid over one another by the local "
                    "hour of day"}


def _differences(runs: list[dict], alignment: dict) -> list[dict]:
    """What makes the runs not like for like: duration, start (local clock), fidelity, SLO method, code, seed — each
    with every run's value and what compare does about it."""
    out = []

    def add(field: str, values: list, note: str) -> None:
        out.append({"field": field, "values": values, "note": note})

    durs = [r["duration_s"] for r in runs]
    if any(not _same(d, durs[0]) for d in durs[1:]):
        add("duration", [fmt_duration(d) for d in durs],
            f"totals (energy, output tokens, binding shifts) are not marked ({UNMARKED['duration'][0]}): compare the "
            "rates and per-token figures")
    starts = [r["start"] for r in runs]
    if len(set(starts)) > 1:
        add("start", [s or "n/a" for s in starts], "overlays: " + alignment["note"])
    fids = [r["fidelity"] for r in runs]
    if len(set(fids)) > 1:
        add("fidelity", [str(f) for f in fids], "the same physics at different resolution (docs/engine.md); the "
            "SLO figures by different methods")
    methods = [r["slo_method"] for r in runs]
    if len(set(methods)) > 1:
        add("SLO method", [str(m) for m in methods],
            f"SLO figures across methods are not marked ({UNMARKED['slo_method'][0]})")
    shares = [r["deferrable_share"] for r in runs]
    if any(not _same(x, shares[0]) for x in shares[1:]):
        add("deferrable share", [fmt_pct(x) for x in shares],
            "deferred tokens served by their deadline count as SLO-meeting, the latency SLOs score the rest: the SLO "
            f"figures are not marked ({UNMARKED['deferrable'][0]})")
    lost = [r.get("context_refused_share", 0.0) for r in runs]
    if max(lost) - min(lost) > CONTEXT_SHARE_TOL:
        add("context window", [fmt_pct(x) for x in lost],
            "a different share of the asked output tokens refused or cut by the models' context windows "
            "(tokens_accounting.refused_context_out, cut_context_out): the runs served different work, not the same "
            "work differently (docs/workload.md, Context window)")
    codes = [r.get("code") for r in runs]
    if any(c is not None for c in codes) and len(set(codes)) > 1:
        add("code", [c or "not recorded" for c in codes],
            "different dcsim code or shipped data (provenance.code_hash): a change may be the code's, not the "
            "scenario's; re-run both with one install to compare the scenarios")
    seeds = [r["seed"] for r in runs]
    if len(set(map(str, seeds))) > 1:
        add("seed", [str(x) for x in seeds], "different random draws (arrivals, failures, the fluid SLO estimate's "
            "samples)")
    return out


def _differences_text(labels: Sequence[str], differences: list[dict]) -> str:
    """The block opening compare's table when the runs are not like for like, wrapped to the terminal's width: a
    field's values and its note each under the text column."""
    lines = wrap_hanging("NOT LIKE FOR LIKE: ", "the runs differ in " + ", ".join(d["field"] for d in differences))
    w = max(len(d["field"]) for d in differences)
    for d in differences:
        lines += wrap_hanging(f"  {d['field'].ljust(w)}  ",
                              "  |  ".join(f"{lab}: {v}" for lab, v in zip(labels, d["values"])))
        lines += wrap_hanging(f"  {' ' * w}  ", d["note"])
    return "\n".join(lines)


def _differences_title(labels: Sequence[str], differences: list[dict], width: int = 120) -> str:
    """A figure title's lines saying what makes the runs not like for like ("" when nothing does): the runs' values
    in run order, starts on one date as times of day with the date once."""
    if not differences:
        return ""
    parts = []
    for d in differences:
        vals = list(d["values"])
        dates = {v.split(" ")[0] for v in vals}
        if d["field"] == "start" and all(len(v.split(" ")) == 2 for v in vals) and len(dates) == 1:
            parts.append("start " + " / ".join(v.split(" ")[1] for v in vals) + f" ({dates.pop()})")
        else:
            parts.append(f"{d['field']} " + " / ".join(vals))
    # wrapped between its parts ("; "), a part broken only when it is wider than a line: "seed 42 / 42 / 7" was cut
    # after "42 / 42" with "/ 7" alone on the next line (audit AUF item 9)
    pieces = [f"Not like for like ({' / '.join(labels)}):"] + [p + ";" for p in parts[:-1]] + parts[-1:]
    lines: list[str] = []
    for piece in pieces:
        if lines and len(lines[-1]) + 1 + len(piece) <= width:
            lines[-1] += " " + piece
        else:
            lines += textwrap.wrap(piece, width) or [piece]
    return "\n".join(lines)


def _unmarked_note(why: str, runs: list[dict], metrics: dict[str, dict]) -> str:
    sign, text = UNMARKED[why]
    tok = (metrics.get("tokens.output") or {}).get("delta_pct") or []
    work = ", ".join(f"{r['label']} {p:+.1f} %" for r, p in zip(runs[1:], tok[1:]) if p is not None) or "unknown"
    banded = [r for r in runs if r["error_band_pct"]]
    note = text.format(durations=", ".join(fmt_duration(r["duration_s"]) for r in runs), band=SEED_BAND_PCT,
                       pair=2 * SEED_BAND_PCT, work=work,
                       ceilings=", ".join(f"{r['label']} {fmt_si(r.get('compute_ceiling_tok_s'), 'tok/s')}" for r in runs),
                       shares=", ".join(f"{r['label']} {fmt_pct(r['deferrable_share'])}" for r in runs),
                       bands="; ".join(_band_text(r) for r in banded) or "unknown")
    if "{bands}" not in text:
        return note
    residuals = "; ".join(f"{r['label']} {t}" for r in banded if (t := _residual_text(r)))
    return note + (f". {sign} reads every group's band, the in-sample residuals too: {residuals}" if residuals else "")


def _band_text(run: dict) -> str:
    """A run's band in the ``~``/``≀`` footnote: the band its own headline prints (``headline_band_pct``,
    :func:`dcsim.metrics.fmt.headline_band`: the summary's, report.html's and its J/token figure's), or that it
    prints none (calibrated in-sample). The band the mark reads, every group's with the in-sample residuals
    (``error_band_pct``, :func:`run_error_band`), follows once in a trailing sentence (:func:`_residual_text`), under
    the mark it reads for. Until 2026-12-05 the footnote printed only the latter, a third band for a run (mixed-fleet
    "≥±12 % tok/s, ≥±21 % J/token" beside its own "≥±9 %", "≥±19 %"; the calibrated reference "±4 % tok/s", where its
    summary prints none: audit AUF item 5); until the review of that mend both sat in nested brackets, three deep,
    and the ``≀`` note said "which compare's ~ reads"."""
    head = run.get("headline_band_pct") or {}
    if not head:
        return f"{run['label']} calibrated in-sample, no headline band"
    return f"{run['label']} headline band {fmt_band(head, bool(run.get('headline_band_lower_bound')))}"


def _residual_text(run: dict) -> str | None:
    """A run's every-group band (with its in-sample groups' residuals, :func:`run_error_band`), which the ``~``/``≀``
    marks read, where it is not the band its headline prints; None where it is."""
    every = fmt_band(run["error_band_pct"], bool(run.get("band_lower_bound")))
    head = run.get("headline_band_pct") or {}
    if head and fmt_band(head, bool(run.get("headline_band_lower_bound"))) == every:
        return None
    return every


def _table(labels: list[str], metrics: dict[str, dict], binding: list[dict]) -> str:
    header = ["metric", "unit", labels[0]]
    for lab in labels[1:]:
        header += [lab, f"Δ vs {labels[0]}"]
    rows = [header]
    for key, m in metrics.items():
        row = [m["label"], m["unit"], _fmt_val(m["values"][0], m["unit"], key)]
        why = m.get("unmarked") or [None] * len(m["values"])
        for v, d, p, w in zip(m["values"][1:], m["delta"][1:], m["delta_pct"][1:], why[1:]):
            row += [_fmt_val(v, m["unit"], key),
                    _fmt_delta(d, p, m["unit"], m["better"], UNMARKED[w][0] if w else None, key)]
        rows.append(row)
    def cell(b: dict, key: str) -> str:
        v = b[key]
        if key == "most_common" and v is not None and isinstance(b.get("most_common_share"), (int, float)):
            return f"{v} ({fmt_pct(b['most_common_share'])})"
        return str(v)

    keys = [("most_common", "Binding the longest (time share)"), ("final", "Binding at end"),
            ("calibration", "Node calibration")]
    if any(b.get("within_band", "none") != "none" for b in binding):  # the summary's "or ... within the band"
        keys.insert(1, ("within_band", "Or within the calibration band"))
    for key, label in keys:
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


def _write_plots(out: Path, labels: list[str], loaded: list, data: dict, alignment: dict) -> dict[str, str]:
    from dcsim.report.write import _png_bytes

    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    figs = overlay_figures(labels, loaded, alignment=alignment, differences=data["differences"])
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


def _time_base(reports: list[dict], series: list, al: dict) -> dict[str, Any]:
    """The overlays' x axis for the runs' alignment ``al`` (:func:`_alignment`): ``x(j, t_s)`` (run j's seconds from
    its start to axis units), ``xlim``, ``xlabel``, ``ticks(ax)``. Runs whose starts differ are placed on the local
    clock, ticked and labelled as each run's own figures are (:func:`dcsim.plots.figures.clock_ticks`), or laid over
    one another by the hour of day when their dates are far apart; otherwise each run is drawn from its own start, on
    its local clock (clock_ticks again), or on elapsed time, said so, when a start is unknown."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    from dcsim.plots.figures import _span_edges, _time_ticks, clock_ticks, time_axis

    offs = al["offsets_s"]
    spans = {j: float(_span_edges(ts["t_s"])[-1] - ts["t_s"][0]) for j, _, ts in series}
    if al["axis"] == "elapsed":
        span = max(spans.values())
        t, xlabel = time_axis(np.array([0.0, span]))
        f = t[-1] / span if span else 1.0
        if "unknown" in al:  # a start unknown: say that the runs are overlaid on elapsed time
            xlabel = f"{xlabel.replace('from start', 'from each run' + chr(39) + 's start')}: {al['unknown']}"
        else:  # every run starts at the same moment: its local clock (as each run's own figures show it)
            ct = clock_ticks(0.0, span, reports[0].get("clock"))
            if ct is not None:
                tk, tl, xl = ct
                return {"x": lambda j, ts_s: ts_s * f, "xlim": (0.0, float(t[-1])), "xlabel": xl, "alignment": al,
                        "ticks": lambda ax: ax.set_xticks(tk * f, tl)}
        return {"x": lambda j, ts_s: ts_s * f, "xlim": (0.0, float(t[-1])), "xlabel": xlabel, "alignment": al,
                "ticks": lambda ax: _time_ticks(ax, np.array([0.0, span]))}
    lo = min(offs[j] for j in spans)
    hi = max(offs[j] + spans[j] for j in spans)
    unit = 86400.0 if hi - lo > 4 * 86400 else 3600.0
    x = lambda j, ts_s: (ts_s + offs[j]) / unit  # noqa: E731
    if al["axis"] == "local clock":  # one clock from the midnight before the first start: as the run figures read it
        origin = al["origin"]
        clock = ({"start": origin.isoformat()} if al["dated"]
                 else {"day_of_year": origin.timetuple().tm_yday, "hour": 0.0})
        tk, tl, xl = clock_ticks(lo, hi, clock)
        return {"x": x, "xlim": (lo / unit, hi / unit), "xlabel": f"{xl} (each run at its own start)",
                "ticks": lambda ax: ax.set_xticks(tk / unit, tl), "alignment": al}

    def label(x: float, _pos: Any = None) -> str:  # hour of day (or days) from each run's start day
        minutes = int(round(x * unit / 60.0))
        day, rem = divmod(minutes, 1440)
        if unit > 3600:
            return f"+{day} d" if day else "start day"
        return f"{rem // 60:02d}:{rem % 60:02d}" + (f"\n+{day} d" if day and not rem else "")

    def ticks(ax: Any) -> None:
        span_h = (hi - lo) / 3600.0
        if unit > 3600:
            ax.xaxis.set_major_locator(MultipleLocator(1 if span_h <= 14 * 24 else 7 if span_h <= 60 * 24 else 30))
        elif span_h > 3:
            ax.xaxis.set_major_locator(MultipleLocator(3 if span_h <= 48 else 6))
        ax.xaxis.set_major_formatter(FuncFormatter(label))

    xlabel = ("local hour of day" if unit == 3600 else "days from each run's start day")
    xlabel += " (the runs start on different dates: laid over one another)"
    return {"x": x, "xlim": (lo / unit, hi / unit), "xlabel": xlabel, "ticks": ticks, "alignment": al}


def overlay_figures(labels: list[str], loaded: list, *, alignment: dict | None = None,
                    differences: list[dict] | None = None) -> dict:
    """Overlay figures by file stem: ``compare_rate`` (achieved rate and C/P/Q per run),
    ``compare_power`` (facility and IT power, the meter when a battery makes it differ, and the cap, named as in
    the run's power figure: the cap in force when a curtailment lowers it), ``compare_jpt`` (J/token bars).

    Runs that start at different local times are drawn at their starts on the local clock (``report["clock"]``);
    when the runs differ in duration, start, fidelity, SLO method or seed, every title says so. ``alignment`` and
    ``differences``: :func:`compare`'s (its table and compare.json say the same), else worked out here alike."""
    import matplotlib
    from matplotlib.ticker import EngFormatter

    from dcsim.plots.figures import (
        CONSTRAINT_COLORS,
        RUN_COLORS,
        STYLE,
        _ext,
        _jpt_band_text,
        _long_run,
        _span_edges,
        cap_label,
        daily_means,
        new_figure,
    )

    reports = [r for r, _ in loaded]
    if alignment is None:
        alignment = _alignment(reports, labels)
    if differences is None:
        differences = _differences(_run_rows(labels, [None] * len(reports), reports), alignment)
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
        diffs = differences

        def put_title(fig: Any, ax: Any, text: str) -> None:
            """The figure's title; with runs not like for like, the lines saying how, under it, as the figure's
            title (over the legend too: an axes title is cut at the axes' width)."""
            if diffs:
                width = int(fig.get_figwidth() * 9.5)  # characters of 13-pt bold across the figure
                fig.suptitle(text + "\n" + _differences_title(labels, diffs, width), fontweight="bold", fontsize=13)
            elif ax is None:
                fig.suptitle(text, fontweight="bold", fontsize=13)
            else:
                ax.set_title(text)

        grow = 0.25 * (1 + len(_differences_title(labels, diffs, 110).splitlines())) if diffs else 0.0
        # every run by index: (its index among the runs drawn, time series), None for a run without a time series,
        # which gets a legend entry in its colour saying so instead of vanishing from the overlays
        runs = [(j, lab, next(((k, ts) for k, (i, _, ts) in enumerate(series) if i == j), None))
                for j, lab in enumerate(labels)]
        no_ts = "no time series"
        if series:
            base = _time_base(reports, series, alignment)
            xs = base["x"]
            fig = new_figure(12.0, 9.5 + grow)
            axes = fig.subplots(4, 1, sharex=True, height_ratios=[1.6, 1, 1, 1])
            panels = [("achieved_tok_s", "achieved (solid) and demand (dashed)"),
                      ("compute_tok_s", "C  compute ceiling"), ("power_tok_s", "P  power ceiling"),
                      ("cooling_tok_s", "Q  cooling ceiling")]
            # runs of very different sizes on one linear tok/s axis: the largest flattens the rest at the bottom
            # (reference and chiller-trip under heatwave-air's 3.6 M tok/s): each run is then drawn as a share of its
            # own mean compute ceiling C, which it names in the legend
            c_mean = {i: mean_compute_ceiling(reports[i]) for i, _, d in runs if d is not None}
            known = [c for c in c_mean.values() if c and c > 0]
            per_run = len(known) == len(c_mean) and len(known) > 1 and max(known) > RATE_SCALE_RATIO * min(known)
            for ax, (col, title) in zip(axes, panels):
                for i, lab, drawn in runs:
                    if drawn is None:
                        if col == "achieved_tok_s":
                            ax.plot([], [], color=RUN_COLORS[i % len(RUN_COLORS)], lw=1.4, label=f"{lab}: {no_ts}")
                        continue
                    k, ts = drawn
                    tt = xs(i, ts["t_s"])
                    y = np.where(np.isfinite(ts[col]), ts[col], np.nan) if col in ts else None
                    if y is None:
                        continue
                    f = 100.0 / c_mean[i] if per_run else 1.0
                    ax.step(_span_edges(tt), _ext(y * f), where="post", color=RUN_COLORS[i % len(RUN_COLORS)],
                            lw=_lw(k, len(series)), alpha=0.9,
                            label=f"{lab} (mean C {fmt_si(c_mean[i], 'tok/s')} = 100 %)" if per_run else lab)
                    if col == "achieved_tok_s" and "demand_tok_s" in ts:
                        ax.step(_span_edges(tt), _ext(ts["demand_tok_s"] * f), where="post",
                                color=RUN_COLORS[i % len(RUN_COLORS)], lw=_lw_thin(k, len(series)), ls="--", alpha=0.8)
                name = col.split("_")[0]
                ax.set_title(title, loc="left", fontsize=11.5,
                             color=CONSTRAINT_COLORS.get(name, "#111111"))
                if per_run:
                    ax.set_ylabel("% of the run's\nmean C")
                else:
                    ax.set_ylabel("tok/s")
                    ax.yaxis.set_major_formatter(EngFormatter(sep=""))  # as many places as the ticks need (places=0 printed "4M 4M 3M")
                ax.set_ylim(bottom=0)  # every panel from 0: a ceiling's axis from 130 k magnified its swings unsaid
            base["ticks"](axes[-1])
            axes[-1].set_xlim(*base["xlim"])
            axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
            axes[-1].set_xlabel(base["xlabel"])
            put_title(fig, None, "Token rate and ceilings, run by run" + note
                      + (f", each as a share of its own mean compute ceiling C (the runs' C differ "
                         f"{max(known) / min(known):.1f}x)" if per_run else ""))
            figs["compare_rate"] = fig

            fig = new_figure(12.0, 5.0 + grow)
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
                tt = xs(i, ts["t_s"])
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
            base["ticks"](ax)
            ax.set_xlim(*base["xlim"])
            ax.set_ylabel(f"power ({unit})")
            ax.set_xlabel(base["xlabel"])
            put_title(fig, ax, "Facility power, run by run" + note)
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
            figs["compare_power"] = fig

        fig = new_figure(max(7.5, 2.0 + 1.6 * len(labels)), 5.0 + 2 * grow)
        ax = fig.subplots()
        levels = ["gpu", "it", "facility"]
        width = 0.8 / len(labels)
        x = np.arange(len(levels))
        for i, (lab, (report, _)) in enumerate(zip(labels, loaded)):
            vals = [_num(get_path(report, f"joules_per_output_token.{k}")) for k in levels]
            vals = [v if v is not None else np.nan for v in vals]
            # each run's own headline band at each level, as its joules_per_token figure draws it (AUF item 9: the
            # overlay drew mixed-fleet's 3.13 J plain beside its own figure's ≥±19 %)
            band = headline_band(report)
            pct = np.array(jpt_band_pct_by_level(band, levels))
            err = np.where(np.isfinite(vals), np.asarray(vals, dtype=float) * pct / 100.0, 0.0)
            tag = _jpt_band_text(band) if pct.any() else ""  # per level where they differ, as its own figure says
            bars = ax.bar(x + (i - (len(labels) - 1) / 2) * width, vals, width * 0.95,
                          color=RUN_COLORS[i % len(RUN_COLORS)], edgecolor="#333333", lw=0.5,
                          label=lab + (f" (error bars {tag}, {band_source(band)})" if tag else ""),
                          yerr=err if pct.any() else None, ecolor="#222222", capsize=4,
                          error_kw={"elinewidth": 1.0})
            for b, v, e in zip(bars, vals, err):
                if np.isfinite(v):
                    ax.annotate(f"{v:#.3g}", (b.get_x() + b.get_width() / 2, v + e), xytext=(0, 3),
                                textcoords="offset points", ha="center", va="bottom", fontsize=9)
        ax.set_xticks(x, ["GPU", "IT", "facility"])
        ax.set_ylabel("energy per output token (J/token)")
        put_title(fig, ax, "Joules per output token, run by run")
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
    if args.no_plots and args.out is not None:  # --out was dropped without a word until 2026-12-05: nothing written
        print(f"dcsim compare: --out {args.out} with --no-plots: --no-plots writes nothing (no plots, no "
              "compare.json), so --out would be ignored; drop one of them", file=sys.stderr)
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
