"""The compact terminal summary of a run and the latency statistics it shows."""

from __future__ import annotations

import math
import os
import re
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import EllipsisType
from typing import Any, NamedTuple

import numpy as np

from dcsim.metrics.annual import HOURS_PER_YEAR, annual_label  # noqa: F401  (their home; re-exported)
from dcsim.metrics.summary import tied_leaders
from dcsim.metrics.fmt import (calibration_caveat, fmt_duration, fmt_energy, fmt_jpt, fmt_local_time,
                               fmt_local_window, fmt_num, fmt_pct, fmt_pue, fmt_si, fmt_time, get_path,
                               headline_band, fmt_headline_band, band_source, sample_scope,
                               with_band_lead, within_band_lead, within_band_text,
                               energy_overheads, closed_form_binding, fmt_delivered_power, fmt_power_w, group_band)
from dcsim.serving.slo_estimate import tail_flagged
from dcsim.tpf import BINDING_NAMES, binding_that_holds

__all__ = ["TERMINAL_WIDTH", "wrap_text", "wrap_hanging", "wrap_line", "wrap_block", "print_wrapped", "is_terminal", "print_message", "latency_stats", "report_latency", "current_binding", "binding_headline", "BindingHeadline", "headline_rows", "expect_lines", "summary_table", "terminal_lines",
           "pool_rows", "start_text", "annual_label", "HOURS_PER_YEAR",
           "U_MEANING", "SERVED_OVER_C", "SERVED_OVER_C_MEANING", "served_over_c_text", "mean_compute_ceiling"]


#: What U on the utilization-adjusted output figure means, said wherever U is shown (terminal, report.html): the
#: report also has ``utilization`` (served ÷ the compute ceiling C alone), a different number a reader took for U.
#: "Offered" is the work waiting clipped to the ceiling on each tick (dcsim.engine.assemble.utilization_adjusted): a
#: reference read "U = demand offered ÷ ceiling" beside demand 232 ktok/s over a 225 ktok/s ceiling and U 82.3 %, and
#: Φ_sys 100 % beside 20.1 % of the arrived tokens shed (the audit of 2026-12-05): said so here.
U_MEANING = ("U = offered ÷ ceiling min(C, P, Q), offered = the work waiting, clipped on each tick to the ceiling; "
             "Φ_sys = served ÷ offered (work beyond the ceiling, queued or shed, is never offered)")
#: The label and meaning of report.json ``utilization`` (∫ served dt ÷ ∫ C dt): named by its formula, not
#: "utilization", so that it does not read as a second, disagreeing U.
SERVED_OVER_C = "Served ÷ compute ceiling C"
SERVED_OVER_C_MEANING = "output served over the run ÷ what the compute ceiling C alone allows; not U"


def mean_compute_ceiling(report: Mapping[str, Any]) -> float | None:
    """A run's mean compute ceiling C, tok/s, the one reader of it (the summary's served ÷ C row, ``dcsim compare``'s
    ¶ rule and its rate overlay): the closed form's run mean (``tpf.run_mean.compute_tok_s``, the mean of the C
    column), else output served ÷ ``utilization`` (served ÷ C, for a report without the run mean); None without
    either."""
    c = get_path(report, "tpf.run_mean.compute_tok_s")
    if isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c):
        return float(c)
    served, share = get_path(report, "throughput_tok_s.output"), report.get("utilization")
    if (isinstance(served, (int, float)) and isinstance(share, (int, float)) and share
            and math.isfinite(served) and math.isfinite(share)):
        return float(served) / float(share)
    return None


def served_over_c_text(report: Mapping[str, Any]) -> str:
    """report.json ``utilization`` (served ÷ the compute ceiling C) with its two bases and U beside it on theirs, so
    that neither is taken for the other: ``"82.0% (served 186 ktok/s ÷ mean compute ceiling C 226 ktok/s; not U
    82.3%, which is offered ÷ the ceiling min(C, P, Q) 225 ktok/s)"`` (reference). They part where P or Q binds
    below C (chiller-trip 82.9 % against U 93.1 %) and where work beyond the ceiling is not offered. Mean C is the
    closed form's run mean (:func:`mean_compute_ceiling`)."""
    share = report.get("utilization")
    served = get_path(report, "throughput_tok_s.output")
    c = mean_compute_ceiling(report)
    uao = report.get("utilization_adjusted_output") or {}
    u, k = uao.get("utilization"), uao.get("ceiling_tok_s")
    if not isinstance(served, (int, float)) or not isinstance(c, (int, float)):
        return f"{fmt_pct(share)} ({SERVED_OVER_C_MEANING})"
    text = f"{fmt_pct(share)} (served {fmt_si(served, 'tok/s')} ÷ mean compute ceiling C {fmt_si(c, 'tok/s')}"
    if isinstance(u, (int, float)) and isinstance(k, (int, float)):
        text += f"; not U {fmt_pct(u)}, which is offered ÷ the ceiling min(C, P, Q) {fmt_si(k, 'tok/s')}"
    return text + ")"

#: The width of the terminal views, in characters: every line of the summary (its rows, the WARNING lines under it),
#: of ``dcsim plan`` and ``dcsim tpf`` answers and of ``dcsim compare``'s free text is laid out to it by its formatter,
#: piped or not; a message (the "warning:" lines before the summary, errors, ``dcsim sweep``'s lines) is wrapped to it
#: at a terminal only (:func:`print_message`). Continuation lines are indented under their text. 100 is the summary's
#: rule at its longest and the right edge its Note rows always had at the reference's label width (2 + 24 + 2 + 72
#: characters of text); a 300-600-character line was broken by the terminal at column 0 (the audit of 2026-12-04). A
#: layout choice, not a measurement.
TERMINAL_WIDTH = 100
#: The narrowest text column a row is wrapped to, whatever its label's width (a class name 40 characters long).
MIN_TEXT_WIDTH = 40
_NBSP = "\u00a0"
#: A unit (or magnitude letter, percent, percentage points) after a number: the space between them is held, so that
#: "±33 %" and "5,872 tokens" never break across lines. (A row holds any other phrase together with no-break spaces,
#: printed as spaces: the Files row's "plots/ (4 PNG)".)
_UNIT_AFTER_NUMBER = re.compile(
    r"(?<=\d) (?=(?:[kMGTPmµn]?(?:Wh|W|J|s|g|t|B|h|tok/s|tokens|tok|degC)|°C|%|pp|min|x|[kMGTP]|FLOP(?:/\w+)?)(?![\w/]))")


#: A command-line option and its argument ("--set fidelity=request"): held on one line, to be copied whole.
_OPTION_ARGUMENT = re.compile(r"(?<!\S)(--[a-z][\w-]*) (?=[^\s-])")


def _wrap_words(text: str, width: int) -> list[str]:
    held = _OPTION_ARGUMENT.sub("\\1" + _NBSP, _UNIT_AFTER_NUMBER.sub(_NBSP, text))
    lines = textwrap.wrap(held, max(1, width), break_on_hyphens=False, break_long_words=False)
    return [line.replace(_NBSP, " ") for line in lines]


def wrap_text(text: str, width: int) -> list[str]:
    """``text`` as lines of at most ``width`` characters, broken at spaces only: never inside a word or at its
    hyphens ("no-load", "B200_llama-3.1-405b"), never between a number and its unit ("±33 %", "600 s") nor an
    option and its argument ("--set fidelity=request"); a word
    longer than ``width`` (a path) stands alone on its line, whole. A row of fields set apart by three spaces or
    more ("facility 11.1 MWh   IT 7.81 MWh") breaks between fields first, a field wider than ``width`` between its
    words. Joined with single spaces the lines give the text back (``" ".join(lines) == text`` up to the runs of
    spaces at the breaks). Empty text gives one empty line."""
    parts = re.split(r"( {3,})", text)  # [field, separator, field, ...]
    lines: list[str] = []
    cur = parts[0]
    for sep, field in zip(parts[1::2], parts[2::2]):
        if cur and field and len(cur) + len(sep) + len(field) > width:
            lines.extend(_wrap_words(cur, width))
            cur = field
        else:
            cur += sep + field
    lines.extend(_wrap_words(cur, width))
    return lines or [""]


def wrap_hanging(prefix: str, text: str, width: int = TERMINAL_WIDTH) -> list[str]:
    """``prefix`` + ``text`` wrapped to ``width``, continuation lines indented under the text
    (``"  WARNING  "`` + a warning; ``"warning: "`` + a warning)."""
    lines = wrap_text(text, max(MIN_TEXT_WIDTH, width - len(prefix)))
    return [prefix + lines[0]] + [" " * len(prefix) + line for line in lines[1:]]


#: A line's label: a short lead-in ending in ": " (``answer: ``, ``critical moment: ``, ``WARNING: ``) under whose
#: text :func:`wrap_line` indents a continuation.
_LABEL = re.compile(r"^(\s*)([A-Za-z][^:]{0,22}?: )(?=\S)")


def wrap_line(line: str, width: int = TERMINAL_WIDTH) -> list[str]:
    """One line of a plain-text answer (``dcsim plan``, ``dcsim tpf``) wrapped to ``width``: continuation lines
    indented under the text after its short label (``"  answer: "``), else two spaces past its own indent. A line
    that fits is returned as it is."""
    if len(line) <= width:
        return [line]
    m = _LABEL.match(line)
    if m:
        return wrap_hanging(m.group(0), line[m.end():], width)
    indent = line[:len(line) - len(line.lstrip())]
    lines = wrap_text(line[len(indent):], max(MIN_TEXT_WIDTH, width - len(indent) - 2))
    return [indent + lines[0]] + [indent + "  " + x for x in lines[1:]]


def wrap_block(text: str, width: int = TERMINAL_WIDTH) -> list[str]:
    """The lines of ``text`` (split at its newlines), each wrapped by :func:`wrap_line`: how a formatter's plain-text
    answer (``dcsim tpf``, ``dcsim plan``) and, at a terminal, a message (:func:`print_message`) are laid out."""
    return [x for line in str(text).split("\n") for x in wrap_line(line, width)]


def print_wrapped(text: str, file=None) -> None:
    """Print a formatted answer (``dcsim tpf``, ``dcsim plan``) as :func:`wrap_block` lays it out, on ``file``
    (default stdout), piped or not: its layout is the formatter's, the same in a log as at a terminal."""
    print("\n".join(wrap_block(text)), file=file)


def is_terminal(stream) -> bool:
    """Whether ``stream`` is a terminal (where a message is wrapped); piped or redirected to a file it is not, and
    a message stays one line, whole, for grep and scripts -- its breaks never depend on the length of a path in it."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, a closed stream
        return False


def print_message(text: str, file=None) -> None:
    """Print a free-form message (a warning or error on stderr, ``dcsim sweep``'s lines): at a terminal each of its
    lines wrapped as :func:`wrap_block` does, continued under its text; piped or redirected (:func:`is_terminal`)
    as it is, one line each, whole. ``file`` defaults to stdout."""
    f = sys.stdout if file is None else file
    print("\n".join(wrap_block(text)) if is_terminal(f) else str(text), file=f)


def latency_stats(result: Any, quantiles: Sequence[float] = (0.5, 0.9, 0.99)) -> dict[str, dict]:
    """Per request class: ``n``, quantiles of ``ttft_s``/``tpot_s``/``e2e_s`` (keys ``p50`` …)
    and the fraction of requests meeting each SLO (``slo_ttft_met``, ``slo_tpot_met``,
    ``slo_met`` = both), from ``result.latency_samples`` and ``result.slo``. Empty without
    samples."""
    samples = getattr(result, "latency_samples", None) or {}
    slo = getattr(result, "slo", None) or {}
    out: dict[str, dict] = {}
    for cls in sorted(samples):
        d = samples[cls] or {}
        entry: dict[str, Any] = {}
        n = 0
        for key in ("ttft_s", "tpot_s", "e2e_s"):
            v = np.asarray(d.get(key, []), dtype=float)
            v = v[np.isfinite(v)]
            n = max(n, int(v.size))
            if v.size:
                entry[key] = {f"p{round(100 * q):d}": float(np.quantile(v, q)) for q in quantiles}
        if n == 0:
            continue
        entry["n"] = n
        ttft = np.asarray(d.get("ttft_s", []), dtype=float)
        tpot = np.asarray(d.get("tpot_s", []), dtype=float)
        target = slo.get(cls) or {}
        ok = None
        if target.get("ttft_s") is not None and ttft.size:
            m = ttft <= float(target["ttft_s"])
            entry["slo_ttft_met"] = float(m.mean())
            ok = m
        if target.get("tpot_s") is not None and tpot.size:
            m = tpot <= float(target["tpot_s"])
            entry["slo_tpot_met"] = float(m.mean())
            ok = m if ok is None or ok.shape != m.shape else ok & m
        if ok is not None:
            entry["slo_met"] = float(ok.mean())
        out[cls] = entry
    return out


def report_latency(report: Mapping[str, Any]) -> dict[str, dict]:
    """Per-class latency quantiles and SLO attainment as the engine reported them (over all
    requests), in the shape of :func:`latency_stats`: from ``serving.per_class.<cls>`` when
    present, else the run-wide ``latency_s`` under the class name ``"all"``; empty in fluid
    fidelity."""

    def conv(lat: Any) -> dict:
        lat = lat if isinstance(lat, Mapping) else {}
        return {f"{k}_s": dict(v) for k, v in lat.items() if k in ("ttft", "tpot", "e2e") and isinstance(v, Mapping)}

    out: dict[str, dict] = {}
    per_class = get_path(report, "serving.per_class") or {}
    for cls in sorted(per_class):
        d = per_class[cls] or {}
        entry = conv(d.get("latency_s"))
        if not entry:
            continue
        n = get_path(d, "requests.completed")
        if n is not None:
            entry["n"] = int(n)
        if d.get("slo_attainment") is not None:
            entry["slo_met"] = float(d["slo_attainment"])
        out[cls] = entry
    if not out and isinstance(report.get("latency_s"), Mapping):
        entry = conv(report["latency_s"])
        if entry:
            if get_path(report, "requests.completed") is not None:
                entry["n"] = int(get_path(report, "requests.completed"))
            if isinstance(report.get("slo_attainment"), (int, float)):
                entry["slo_met"] = float(report["slo_attainment"])
            out["all"] = entry
    return out



def controller_text(report: Mapping[str, Any]) -> str | None:
    """How often the controller capped the fleet and its mean clock, over the ticks with GPUs in service, and the share
    of ticks with none (IT shed for temperature: no clock, nothing served); None when it never capped and nothing was
    out of service (the meter pinned at the cap on every tick of a demand-bound night read as unexplained: the audit
    of 2026-12-04)."""
    share = get_path(report, "controller.capped_share")
    off = get_path(report, "controller.out_of_service_share")
    off = off if isinstance(off, (int, float)) and off > 0 else 0.0
    if not isinstance(share, (int, float)) or (share <= 0 and off <= 0):
        return None
    clock = get_path(report, "controller.mean_clock")
    text = (f"capped {fmt_pct(share)} of the ticks (each draws its budget)" if share > 0 else "never capped")
    if isinstance(clock, (int, float)):
        text += f"   mean clock {fmt_num(clock, 3)}" + (" in service" if off > 0 else "")
    if off > 0:
        text += f"   no GPU in service on {fmt_pct(off)} of the ticks"
    return text


def shed_share_text(report: Mapping[str, Any]) -> str | None:
    """The share of the arrived requests shed, as printed beside the counts: ``serving.shed_share`` (weighted to the
    pools' true request shares at hybrid fidelity with pools sampled at different shares,
    ``serving.hybrid.run_wide_weighting``, as the SLO attainment; said so), else ``requests.shed / arrived``. Until
    2026-12-05 the raw sample mix was printed there: mixed-fleet's hybrid sample holds 16.7 % of the reasoning pool
    and 10 % of the chat pool. None without request counts."""
    req = report.get("requests") if isinstance(report.get("requests"), Mapping) else {}
    arrived, shed = req.get("arrived"), req.get("shed")
    if not (isinstance(arrived, (int, float)) and arrived > 0 and isinstance(shed, (int, float))):
        return None
    share = get_path(report, "serving.shed_share")
    weighted = get_path(report, "serving.hybrid.run_wide_weighting") is not None
    if not isinstance(share, (int, float)):
        share, weighted = shed / arrived, False
    return fmt_pct(share) + (" weighted to the pools' request shares" if weighted else "")


def hold_limit_note(report: Mapping[str, Any], lat: Mapping[str, Any] | None = None,
                    scope_said: bool = False) -> str | None:
    """A sentence when a class's TTFT percentile sits at ``controller.hold_limit`` (within 5 %): requests waiting
    longer are shed and counted as SLO misses, so the percentile is the limit, not a wait a user would see without
    shedding (the audit of 2026-12-04 read "TTFT 600 s/600 s" on every overloaded run, unexplained). None otherwise.
    ``scope_said``: the caller has just named the hybrid sample the counts come from (:func:`sample_scope`), so the
    note says "here" instead of naming it a second time."""
    hold = get_path(report, "controller.hold_limit_s")
    lat = lat if lat is not None else report_latency(report)
    if not isinstance(hold, (int, float)) or not hold > 0 or not isinstance(lat, Mapping):
        return None
    at = sorted(c for c, st in lat.items() if isinstance(st, Mapping) and any(
        isinstance((st.get("ttft_s") or {}).get(q), (int, float)) and (st["ttft_s"][q]) >= 0.95 * hold
        for q in ("p50", "p99")))
    if not at:
        return None
    req = report.get("requests") if isinstance(report.get("requests"), Mapping) else {}
    arrived, shed = req.get("arrived"), req.get("shed")
    if isinstance(arrived, (int, float)) and arrived > 0 and isinstance(shed, (int, float)):
        scope = None if scope_said else sample_scope(report, with_share=False)
        what = (f"{fmt_si(shed, '')} of {fmt_si(arrived, '')} requests "
                f"{'in ' + scope if scope else 'here'}, {shed_share_text(report)}")
    else:
        acc = report.get("tokens_accounting") if isinstance(report.get("tokens_accounting"), Mapping) else {}
        a, sh = acc.get("arrived"), acc.get("shed")
        what = (f"{fmt_pct(sh / a)} of the output tokens that arrived here"
                if isinstance(a, (int, float)) and a > 0 and isinstance(sh, (int, float)) else "")
    return (f"TTFT of {', '.join(at)} reaches the hold limit ({fmt_time(hold)}, controller.hold_limit): requests "
            f"that wait longer are shed{' (' + what + ')' if what else ''}, each an SLO miss, so the percentile is "
            "the limit, not a wait users would see without shedding")


def _mass_text(g: float) -> str:
    """A mass of CO2e in g as g / kg / t, three significant figures, without an exponent (1,360 t, not 1.36e+03 t)."""
    v, unit = (g / 1e6, "t") if g >= 1e6 else (g / 1e3, "kg") if g >= 1e3 else (g, "g")
    return f"{v:,.0f} {unit}" if v >= 100 else f"{v:.3g} {unit}"


def cost_carbon_text(report: Mapping[str, Any]) -> str | None:
    """The run's cost and carbon: totals and per million output tokens (the summary's and the HTML's one line);
    None when the scenario has neither a price nor a carbon series."""
    cost, carbon = get_path(report, "cost.usd_per_mtok"), get_path(report, "carbon.g_per_mtok")
    if cost is None and carbon is None:
        return None
    usd, g = get_path(report, "cost.usd"), get_path(report, "carbon.g")
    c_txt = (f"{'$' + format(usd, ',.0f') + ' (' if usd is not None else ''}${fmt_num(cost, 4)} per M output "
             f"tokens{')' if usd is not None else ''}" if cost is not None else "cost n/a")
    mass = _mass_text(float(g)) if isinstance(g, (int, float)) else "n/a"
    g_txt = f"{mass} CO2e ({fmt_num(carbon, 4)} g per M output tokens)" if carbon is not None else "carbon n/a"
    return f"{c_txt}   {g_txt}"


class BindingHeadline(NamedTuple):
    """The binding-constraint headline of a run, in parts (:func:`binding_headline`): the terminal's row and
    report.html's card are both built from these, so that they cannot say it differently."""

    #: the constraint binding the longest (the first of a tie, as ``binding.most_common``); None without shares
    top: str | None
    #: every constraint with the largest share (one name when there is no tie)
    tied: list[str]
    #: their name(s) as said: "demand", "compute and cooling"
    lead: str
    #: how long: "most of the time (70.0%)", "42.6% of the time (the most of any)", "40.0% of the time each (tied)"
    how: str
    #: its share of the time (None without shares)
    share: float | None
    #: the limits (compute, power, cooling) that bind some of the time, longest first, with their shares
    limits: list[tuple[str, float]]
    #: "a limit binds 57.4%: compute 25.2%, cooling 17.8%, power 14.4%" when demand leads and a limit binds, else None
    limits_text: str | None

    @property
    def limit_share(self) -> float:
        """The share of time some limit binds (the sum of :attr:`limits`)."""
        return sum(v for _, v in self.limits)

    @property
    def limits_outlast_demand(self) -> bool:
        """True when demand binds the longest (alone or tied) but the limits together bind longer: the glance must
        not read "not supply-bound" (the audit of 2026-12-04: reference at demand 42.6 % with a limit binding 57.4 %
        and 20 % of tokens shed). The rule is :func:`dcsim.tpf.binding_that_holds`, which the sweep figure reads."""
        if self.top != "demand":
            return False
        return binding_that_holds({"demand": self.share, **dict(self.limits)})[0] not in (None, "demand")

    @property
    def first(self) -> str:
        """Who binds the longest and how long: ``"demand 42.6% of the time (the most of any)"``; "n/a" without
        shares."""
        return f"{self.lead} {self.how}" if self.top is not None else "n/a"


def binding_headline(shares: Mapping[str, Any] | None) -> BindingHeadline:
    """Who binds the longest and how to say it, from ``binding.share``: the one home of the rule.

    "most of the time" only when it is more than half; otherwise its share "(the most of any)".
    When demand leads, the share of time some limit binds follows, split by limit (the planner's
    question is whether a limit binds, and the plurality of four labels hides it: reference, demand
    46 % but a limit 54 % of the day).
    """
    sh = {k: float(v) for k, v in (shares or {}).items() if isinstance(v, (int, float))}
    if not sh:
        return BindingHeadline(None, [], "", "n/a", None, [], None)
    top = max(sh, key=sh.get)
    tied = tied_leaders(sh)
    if len(tied) > 1:  # as many ticks each: neither is "the most of any" (and the first in dict order is no answer)
        lead, how = " and ".join(tied), f"{fmt_pct(sh[top])} of the time each (tied)"
    else:
        lead = top
        how = (f"most of the time ({fmt_pct(sh[top])})" if sh[top] > 0.5
               else f"{fmt_pct(sh[top])} of the time (the most of any)")
    limits = sorted(((k, v) for k, v in sh.items() if k != "demand" and v > 0), key=lambda kv: -kv[1])
    limits_text = None
    if "demand" in tied and limits:
        limits_text = (f"a limit binds {fmt_pct(sum(v for _, v in limits))}: "
                       + ", ".join(f"{k} {fmt_pct(v)}" for k, v in limits))
    return BindingHeadline(top, tied, lead, how, sh[top], limits, limits_text)


def current_binding(report: Mapping[str, Any]) -> str | None:
    """The constraint binding at the end of the run: ``binding.final`` when the engine
    reports it, else the ``to`` of the last shift, else the only constraint with a share."""
    b = report.get("binding") or {}
    for key in ("final", "current"):
        if isinstance(b.get(key), str):
            return b[key]
    shifts = b.get("shifts") or []
    if shifts and isinstance(shifts[-1], Mapping) and "to" in shifts[-1]:
        return str(shifts[-1]["to"])
    shares = b.get("share") or {}
    nonzero = [k for k, v in shares.items() if isinstance(v, (int, float)) and v > 0]
    return nonzero[0] if len(nonzero) == 1 else None


def headline_rows(report: Mapping[str, Any], band: Mapping[str, Any] | None | EllipsisType = ...
                  ) -> list[tuple[str, str]]:
    """The four Token Production Function figures as (label, text) rows (docs/report.md)."""
    jpt = report.get("joules_per_output_token") or {}
    jslo = report.get("joules_per_slo_output_token") or {}
    shares = get_path(report, "binding.share", {}) or {}
    share_txt = "  ".join(f"{k} {fmt_pct(shares.get(k))}" for k in BINDING_NAMES if k in shares)
    bind = binding_headline(shares)
    cur = current_binding(report)
    pad = report.get("pue_adjusted_delivered_power_w") or {}
    uao = report.get("utilization_adjusted_output") or {}
    tpf_op = get_path(report, "tpf.operating_point")
    rows = []
    caveat = calibration_caveat(get_path(report, "provenance.calibration"))
    if caveat:  # the caveat travels with the number (issue 14.6)
        rows.append(("Calibration", caveat))
    if band is ...:  # transferred / extrapolated groups: the headline figures carry their band (summary_table's)
        band = headline_band(report)

    def jb(level: str) -> str:
        t = fmt_headline_band(band, "j_per_tok_pct", level)
        return f" {t}" if t else ""

    rows += [
        ("J / output token",
         f"GPU {fmt_jpt(jpt.get('gpu'))}{jb('gpu')}   IT {fmt_jpt(jpt.get('it'))}{jb('it')}   "
         f"facility {fmt_jpt(jpt.get('facility'))}{jb('facility')}"
         + (f"   ({band_source(band)})" if band else "")),
    ]
    if jslo:
        rows.append(("", f"per SLO-meeting token: facility {fmt_jpt(jslo.get('facility'))}"))
    wb = get_path(report, "binding.within_band")
    wb_lead = within_band_lead(wb, bind.top, bind.limit_share)
    wb_text = within_band_text(wb)
    rows += [
        ("Binding constraint",
         f"{with_band_lead(bind.first, wb_lead)}   at end: {cur or 'n/a'}   "
         f"shifts {get_path(report, 'binding.n_shifts', 'n/a')}"),
        ("", bind.limits_text or f"time share: {share_txt or 'n/a'}"),
        *([("", wb_text)] if wb_text else []),
        ("", f"closed form at {tpf_op or 'n/a'}: {' '.join(x for x in closed_form_binding(report) if x) or 'n/a'}"
             + (" (the pool furthest short for its own demand)" if len(report.get("pools") or []) > 1 else "")),
    ]
    if "used" in pad:
        rows.append(("PUE-adj. delivered power",
                     "used {} of {} available (θ·P/PUE at the cap, min {})".format(*fmt_delivered_power(report))))
    else:
        rows.append(("PUE-adj. delivered power",
                     f"mean {fmt_si(pad.get('mean'), 'W')}   peak {fmt_si(pad.get('peak'), 'W')}"))
    if uao:
        rows.append(("Util.-adjusted output",
                     f"{fmt_si(uao.get('ceiling_tok_s'), 'tok/s')} ceiling × U {fmt_pct(uao.get('utilization'))} "
                     f"× Φ_sys {fmt_pct(uao.get('phi_sys'))} = {fmt_si(uao.get('achieved_tok_s'), 'tok/s')}"
                     + (f" {fmt_headline_band(band, 'tok_s_pct')}" if fmt_headline_band(band, 'tok_s_pct')
                        else "")))
        rows.append(("", U_MEANING))
        rows.append(("", f"met SLO: {fmt_si(uao.get('slo_output_tok_s'), 'tok/s')} "
                         f"({fmt_pct(uao.get('slo_share'))} of output)"))
    else:
        rows.append(("Util.-adjusted output",
                     f"{fmt_si(report.get('utilization_adjusted_output_tok_s'), 'tok/s')}   "
                     f"{SERVED_OVER_C} {served_over_c_text(report)}"))
    return rows


def batch_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A row per rack group whose replicas cannot reach ``max_batch`` at full load: what holds them below it (the
    KV cache at the pool's context, or the per-iteration token budget); none when every group reaches it."""
    rows = []
    for p in report.get("pools") or []:
        for g in p.get("groups", []):
            by = g.get("batch_limited_by")
            if by not in ("kv_cache", "token_budget"):
                continue
            why = (f"the KV cache holds {fmt_si(g['kv_capacity_tokens'], 'tokens')}, "
                   f"{fmt_si(p.get('decode_context_tokens'), 'tokens')} per sequence" if by == "kv_cache" else
                   f"{g['max_batched_tokens']:,} tokens per iteration (max_batched_tokens) at "
                   f"{p['mean_input_tokens']:,.0f} prompt tokens per {p['mean_output_tokens']:,.0f} output")
            rows.append(("Replica batch" if not rows else "",
                         f"{g['name']}: {fmt_num(g['batch_at_full_load'], 3)} of max_batch {g['max_batch']:,} at full "
                         f"load: {why}"))
    return rows


def pool_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """One row per model pool when there are several (``pools``): its hardware and classes, then
    output against demand, J/token (IT, facility), binding shares and mean clock."""
    pools = report.get("pools") or []
    if len(pools) < 2:
        return []
    rows = []
    cal = get_path(report, "provenance.calibration") or []
    for p in pools:
        hw = ", ".join(f"{g['gpus']:,}× {g['gpu']} {g['model']} {g['precision']}" for g in p.get("groups", []))
        rows.append((f"Pool {p['name']}", f"{hw} → {', '.join(p.get('classes', []))}"))
        thr, jpt = p.get("throughput_tok_s", {}), p.get("joules_per_output_token", {})
        # the pool's own figures carry its groups' band, unweighted (the headline carries it weighted by the pool's
        # share): mixed-fleet's reasoning pool read "facility 4.08 J" bare where its band is >=±46 % (walkthrough
        # 2026-12-06)
        names = [str(g.get("name")) for g in p.get("groups", []) if isinstance(g, Mapping) and g.get("name")]
        t_band, j_band = _pool_band(cal, names, "tok_s"), _pool_band(cal, names, "j_per_tok")
        rows.append(("", f"out {fmt_si(thr.get('output'), 'tok/s')}{' ' + t_band if t_band else ''}"
                         f" of {fmt_si(thr.get('demand_output'), 'tok/s')} asked   J/token IT {fmt_jpt(jpt.get('it'))}"
                         f"  facility {fmt_jpt(jpt.get('facility'))}{' (each ' + j_band + ')' if j_band else ''}"))
        share = get_path(p, "binding.share", {}) or {}
        bind = "  ".join(f"{k} {fmt_pct(v)}" for k, v in share.items() if v)
        rows.append(("", f"binding {bind}   mean clock {fmt_pct(p.get('mean_clock'))}"))
    return rows


def _pool_band(calibration: list, groups: list[str], key: str) -> str:
    """The band (``"≥±32 %"``) of a pool's ``key`` figure (``tok_s`` or ``j_per_tok``): the widest of its out-of-sample
    groups' (:func:`dcsim.metrics.fmt.group_band`), ``""`` for a pool whose groups are in-sample calibrated."""
    gb = group_band(calibration, groups) if groups else None
    if not gb or not gb.get(key):
        return ""
    return fmt_headline_band({f"{key}_pct": 100.0 * float(gb[key]), "lower_bound": bool(gb.get("lower_bound"))},
                             f"{key}_pct")


def start_text(report: Mapping[str, Any]) -> str | None:
    """The run's start in the scenario's local clock (``2026-07-15 11:00``, or ``day 196 00:00`` without a date):
    every moment the summary names is on that clock; ``None`` for a report without one."""
    t = fmt_local_time(0.0, report.get("clock"))
    return None if t == "n/a" else t


def _mtok(x: float) -> str:
    """Output tokens in millions, one decimal (``274.3 M``)."""
    return f"{x / 1e6:,.1f} M"


#: below this many tokens a loss (or a part of it) is printed as none: 0.05 M prints as 0.1 M
_NO_TOKENS = 5e4


def fault_tokens_text(f: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    """What a fault cost in output tokens against the run without it, worded for every fault kind in one place.

    The headline is the cost to the end of the run (``tokens_lost_net``: the window's shortfall plus what the
    fault costs after it while the hall recovers, less the backlog served after it). The window's own figure
    (``tokens_lost``) is added where it is the smaller one (the recovery cost more) and stands alone where it is
    the only one (the window reaches the end of the run, so both are the same, as for ``node_failures``; or a
    report without ``tokens_lost_net``). Where the window lost more than the net, the line says how much of its
    backlog was served after it. With a single fault, tokens of the cost still waiting when the run ends are
    named (the recovery runs past the end: the cost is not final); chiller-trip's audit: its line read "200.4 M
    lost in its window" where the run served 274.3 M fewer (docs/faults.md, Reading it)."""
    window = float(f["tokens_lost"])
    net = None if f.get("tokens_lost_net") is None else float(f["tokens_lost_net"])
    span = report.get("duration_s")
    reaches_end = span is not None and f.get("end_s") is not None and float(f["end_s"]) >= float(span)
    if net is None or reaches_end:
        text = f"{_mtok(window)} output tokens lost in its window" + (" (to the end of the run)" if reaches_end else "")
    elif (window <= 0.0 and net <= 0.0) or max(abs(window), abs(net)) < _NO_TOKENS:
        text = "no output tokens lost, in its window or to the end of the run"
    elif net < _NO_TOKENS:  # the window's shortfall was all served after it (a chilled-water tank: 6 m³)
        text = (f"no output tokens lost to the end of the run (all {_mtok(window)} of the backlog from its window "
                f"served after it)")
    elif net - window >= _NO_TOKENS:
        text = (f"{_mtok(net)} output tokens lost to the end of the run ({_mtok(window)} in its window, "
                f"{_mtok(net - window)} after it, recovering)")
    elif window - net >= _NO_TOKENS:
        text = (f"{_mtok(net)} output tokens lost to the end of the run ({_mtok(window - net)} of the backlog "
                f"from its window served after it)")
    else:
        text = f"{_mtok(net)} output tokens lost in its window and to the end of the run"
    total = report.get("faults_total") or {}
    if len(report.get("faults") or []) == 1 and "tokens_shed_change" in total:
        # arrivals are the same in both runs: tokens lost = more shed + more waiting at the end
        waiting = float(total["tokens_lost"]) - float(total["tokens_shed_change"])
        if waiting >= _NO_TOKENS:
            text += f", {_mtok(waiting)} of them still waiting when the run ends (the recovery runs past it)"
    return text


def fault_slo_text(report: Mapping[str, Any]) -> str:
    """The run's SLO attainment without and with the fault (``faults_baseline``, ``faults_total``), for a run with a
    single fault whose SLO was estimated; empty otherwise (with several, the change is theirs together)."""
    base = get_path(report, "faults_baseline.slo_attainment")
    change = get_path(report, "faults_total.slo_attainment_change")
    if len(report.get("faults") or []) != 1 or base is None or change is None:
        return ""
    return f"SLO attainment of the run {fmt_pct(base)} → {fmt_pct(base + change)}"


def fault_lines(report: Mapping[str, Any]) -> list[str]:
    """One line per fault of the run (``faults``): its window (in the scenario's local clock), the tokens it cost
    against a run without it (:func:`fault_tokens_text`), the run's SLO attainment without and with it, the energy
    change in its window, its own marginal cost where several faults overlap, and what bound during it."""
    out = []
    clock, span = report.get("clock"), report.get("duration_s")
    for f in report.get("faults") or []:
        own = (f"; its own cost (the run without it, the other faults kept): "
               f"{f['marginal_tokens_lost'] / 1e6:,.1f} M tokens, {f['marginal_energy_change_j'] / 3.6e6:+,.1f} kWh"
               if "marginal_tokens_lost" in f else "")
        vs = "vs the run without any fault (overlapping faults share it)" if own else "vs a run without it"
        parts = [f"{fault_tokens_text(f, report)} {vs}{own}", fault_slo_text(report),
                 f"energy {f['energy_change_j'] / 3.6e6:+,.1f} kWh in its window",
                 "bound in its window by " + ", ".join(f"{k} {v / 60:.0f} min" for k, v in f["binding_s"].items()
                                                      if v > 0)]
        # one space after the kind: padded to 14 ("fault curtailment    17:00"), the run of spaces read as a field
        # break to the wrapper, and the line broke straight after "fault curtailment"
        out.append(f"fault {f['kind']} {fmt_local_window(f['start_s'], f['end_s'], clock, span)}: "
                   + "; ".join(p for p in parts if p))
    return out


def _claim_num(x: Any) -> str:
    """A figure of an ``expect:`` check: 4 significant digits, and whole from 10,000 to 10 million with thousands
    separators (a shift at 28,200 s read ``2.82e+04 in [2.76e+04, 2.88e+04]``, its bounds 10 min either side)."""
    if isinstance(x, (int, float)) and not isinstance(x, bool) and 1e4 <= abs(x) < 1e7:
        return f"{x:,.0f}"
    return fmt_num(x, 4)


def expect_lines(report: Mapping[str, Any]) -> list[str]:
    """One line per ``expect:`` check of the run: ok/FAIL, the figure, its value and bounds."""
    out = []
    checks = get_path(report, "expect.checks", []) or []
    skipped = get_path(report, "expect.not_checked", []) or []
    if skipped:  # a window of the scenario's run: its claims were not checked, none failed
        out.append(f"not checked: {len(skipped)} claim{'s' if len(skipped) != 1 else ''} — "
                   + str(get_path(report, "expect.not_checked_reason", "") or ""))
    if checks and get_path(report, "provenance.overrides"):
        out.append("(the claims set by --set, checked on this run)" if skipped else
                   "(the file's claims, checked on the scenario as overridden)")
    for c in checks:
        if "equals" in c:  # a text claim (a binding label)
            out.append(f"{'ok  ' if c.get('ok') else 'FAIL'} {c.get('path')} = {c.get('value') or 'n/a'}"
                       + (" as claimed" if c.get("ok") else f" — claimed {c.get('equals')}: {c.get('reason')}"))
            continue
        v = c.get("value")
        # a token count under half a token is none: grid-flex's deferrable SLO-meeting change, a difference of two
        # equal sums, read "-2.328e-10" (walkthrough 2026-12-06); report.json keeps the value as computed. A plain
        # path only (a ratio "a_tokens / b_tokens" of 0.3 read 0 in [0.2, 0.4]), a check that held with 0 in its range
        # (a failed one read "= 0 in [0, ...] — below its range": review 2026-12-06)
        if (isinstance(v, float) and c.get("ok") and re.fullmatch(r"[\w.]*tokens", str(c.get("path", "")))
                and abs(v) < 0.5 and float(c.get("lo", -math.inf)) <= 0 <= float(c.get("hi", math.inf))):
            v = 0
        val = _claim_num(v) if v is not None else "n/a"
        out.append(f"{'ok  ' if c.get('ok') else 'FAIL'} {c.get('path')} = {val} in [{_claim_num(c.get('lo'))}, "
                   f"{_claim_num(c.get('hi'))}]" + ("" if c.get("ok") else f" — {c.get('reason')}"))
    return out


def round_keeping_sum(values: list[float], decimals: int) -> list[float]:
    """``values`` rounded to ``decimals`` so that they add up to their sum rounded alike (largest remainder: each
    floored, the units left over to the largest remainders). A year's hours binding at a 10-min tick (1/6 h)
    round one by one to a sum 0.01 h off the year's."""
    scale = 10.0 ** decimals
    scaled = [v * scale for v in values]
    low = [math.floor(x + 1e-9) for x in scaled]  # 1e-9: a value exact at this precision is not a remainder
    left = round(sum(scaled)) - sum(low)
    for i in sorted(range(len(values)), key=lambda i: low[i] - scaled[i])[:max(left, 0)]:
        low[i] += 1
    return [x / scale for x in low]


def flex_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Issue-18 lines: curtailment requests, storage, deferrable work, the flexibility comparison,
    thermal response and the year (only for the blocks the run has)."""
    rows = []
    c = get_path(report, "grid.curtailment")
    if c and c.get("events"):
        enf = c.get("enforced_hours")
        # a tick any part of which lies in a request is held to its cap: where requests do not fill whole ticks the
        # hours enforced exceed those requested (report.json's grid.curtailment.enforced_hours), said beside them
        held = (f" requested, {fmt_num(enf, 3)} h enforced over whole ticks"
                if enf is not None and abs(enf - c["hours"]) > 1e-9 * max(c["hours"], 1.0) else "")
        rows.append(("Curtailment requests", f"{c['events']} ({fmt_num(c['hours'], 3)} h{held}, longest "
                                             f"{fmt_num(c['longest_h'], 3)} h)"))
    st = report.get("storage")
    if st:
        rows.append(("Storage", f"discharged {fmt_energy(st['discharged_j'])}   charged {fmt_energy(st['charged_j'])}   "
                                f"losses {fmt_energy(st['losses_j'])}   meter over cap {fmt_energy(st['unmet_energy_j'])}"))
    d = report.get("deferrable")
    if d:
        rows.append(("Deferrable work", f"served {fmt_si(d['served_tokens'], '')} of {fmt_si(d['arrived_tokens'], '')} "
                                        f"tokens   late {fmt_si(d['served_late_tokens'], '')}   waiting at the end "
                                        f"{fmt_si(d['backlog_end_tokens'], '')}   mean delay {fmt_duration(d['mean_delay_s'])}"))
    fl = report.get("flexibility")
    if fl:
        ch = fl["change"]

        tok = lambda x: fmt_si(x, '')  # noqa: E731

        def signed(x, f):  # a token change under half a token is float noise: 0, said without a sign
            if x is None:
                return "n/a"
            x = 0.0 if f is tok and abs(x) < 0.5 else x
            return ("+" if x > 0 else "") + f(x)
        wait = ch.get("tokens_waiting_end")
        restored = ch.get("energy_meter_restored_j")
        rows.append(("Flexibility (vs without)", f"tokens {signed(ch.get('tokens_output'), tok)}   SLO-meeting "
                                                 f"{signed(ch.get('slo_meeting_tokens'), tok)}"))
        defer = ch.get("slo_meeting_deferrable_tokens")
        if defer is not None and "deferrable" in (fl.get("responses") or []):
            # the deferrable share is scored by its deadline in both runs (the baseline serves it on arrival), on
            # the same tokens: those due in the run; the work not yet due at the end is neither loss nor gain
            pending = get_path(fl, "with.deferrable_pending_tokens")
            rows.append(("", f"interactive {signed(ch.get('slo_meeting_interactive_tokens'), tok)}   deferrable work "
                             f"due in the run, on time {signed(defer, tok)}"))
            if pending:
                rows.append(("", f"not yet due: {tok(pending)} deferrable tokens waiting at the end (not scored)"))
        if ch.get("tokens_shed") is not None:
            rows.append(("", f"shed {signed(ch['tokens_shed'], tok)}"
                             + (f": {signed(ch.get('tokens_output'), tok)} served, {signed(wait, tok)} still waiting at "
                                "the end" if wait else "")))
        rows.append(("", f"meter energy {signed(ch.get('energy_meter_j'), fmt_energy)}"
                         + (f" ({signed(restored, fmt_energy)} with the battery recharged to its starting charge)"
                            if restored is not None and abs(restored - (ch.get('energy_meter_j') or 0.0)) > 1.0
                            else "")))
    th = report.get("thermal")
    if th:
        die = th.get("throttled_die_s") or 0.0  # the dies at their limit in normal operation, not the plant
        rows.append(("Thermal", f"peak inlet/coolant {fmt_num(th['peak_space_c'], 3)} °C   throttled "
                                f"{fmt_duration(th['throttled_s'])}"
                                + (f" ({fmt_duration(die)} of it the die limit in normal operation, "
                                   f"{fmt_duration(th['throttled_s'] - die)} the plant)" if die > 0 else "")
                                + f"   shed {fmt_duration(th['shed_s'])}"))
    a = report.get("annual")
    if a:
        hours = {k: float(v) for k, v in (a.get("hours_binding") or {}).items() if isinstance(v, (int, float))}
        # fixed decimals, rounded so that the hours printed add up to the year's as the stored ones do (4 significant
        # figures printed 1729.25 / 6990.5 / 40.25 h as 1729 / 6990 / 40.25: 8,759.25 h of 8,760)
        dec = 0 if all(v == round(v) for v in hours.values()) else 2
        hb = "  ".join(f"{k} {v:,.{dec}f} h" for k, v in zip(hours, round_keeping_sum(list(hours.values()), dec)))
        rows.append((annual_label(a), f"PUE {fmt_pue(get_path(a, 'pue.annual'))}   hours binding: {hb}"))
    return rows


def terminal_lines(result: Any, files: Mapping[str, Path] | None = None,
                   out_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """What `dcsim run` prints after the run (dcsim.cli.cmd_run), each line as the terminal lays it out: the summary
    (:func:`summary_table` of ``result``, a Result, with its ``files`` and ``out_dir``), the run's warnings repeated
    under it (never scrolled away) and one line per fault (:func:`fault_lines`). The one spelling of it: the command
    prints these lines, and the test of README's pasted summary compares against them."""
    report = result.report if hasattr(result, "report") else result
    return (summary_table(result, files=files, out_dir=out_dir).splitlines()
            + [x for w in report.get("warnings", []) for x in wrap_hanging("  WARNING  ", w)]
            + [x for line in fault_lines(report) for x in wrap_line(f"  {line}")])


def summary_table(
    report: Mapping[str, Any] | Any,
    files: Mapping[str, Path] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    latency: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The compact plain-text summary printed after ``dcsim run``: the four TPF figures first,
    then throughput, PUE, energy, latency p50/p99 and SLO attainment per class, shifts, and
    where the files went. ``latency`` is :func:`latency_stats` output; without it the
    ``latency`` section of the report is used when present. ``report`` may also be a Result,
    whose latency samples are then summarised. Without ``files``, the files found in
    ``out_dir`` are listed."""
    if not isinstance(report, Mapping) and hasattr(report, "report"):
        if latency is None:
            latency = report_latency(report.report) or latency_stats(report) or None
        report = report.report
    if files is None and out_dir is not None and Path(out_dir).is_dir():
        found = {p.relative_to(out_dir).as_posix(): p for p in sorted(Path(out_dir).rglob("*"))
                 if p.is_file() and not p.name.startswith(".")}
        files = found or None
    rows: list[tuple[str | None, str]] = []
    title = (f"dcsim — {report.get('scenario', 'run')}   seed {report.get('seed', 'n/a')}   "
             f"{fmt_duration(report.get('duration_s'))} simulated")
    if report.get("fidelity"):
        title += f"   fidelity {report['fidelity']}"
    start = start_text(report)
    if start:
        title += f"   start {start}"
    ov = get_path(report, "provenance.overrides") or []
    if ov:  # the run is not the file's scenario: say how it differs before any figure
        rows.append(("Overrides", "; ".join(str(x) for x in ov)))
    band = headline_band(report)  # once for the view: the headline rows and the throughput row print it
    rows.extend(headline_rows(report, band))
    rows.append((None, ""))
    tokens = report.get("tokens") or {}
    tok_band = fmt_headline_band(band, "tok_s_pct")
    rows.append(("Throughput (output)",
                 f"{fmt_si(get_path(report, 'throughput_tok_s.output'), 'tok/s')}{' ' + tok_band if tok_band else ''}   "
                 f"tokens in {fmt_si(tokens.get('input'), '')}  out {fmt_si(tokens.get('output'), '')}"))
    if report.get("goodput_tok_s") is not None:
        rows.append(("SLO goodput", fmt_si(report.get("goodput_tok_s"), "tok/s")))
    peak = report.get("peak_power_w") or {}
    rows.append(("PUE (energy-weighted)",
                 f"{fmt_pue(report.get('pue'))}   peak power IT {fmt_power_w(peak.get('it'))}  "
                 f"facility {fmt_power_w(peak.get('facility'))}"))
    ctl = controller_text(report)
    if ctl:
        rows.append(("Controller", ctl))
    e = report.get("energy_j") or {}
    rows.append(("Energy",
                 f"facility {fmt_energy(e.get('facility'))}   IT {fmt_energy(e.get('it'))}   "
                 f"GPU {fmt_energy(e.get('gpu'))}"))
    # named apart, as the power figure draws them: the fixed loads (lighting, offices) are no loss
    rows.append(("", "overhead: " + "   ".join(f"{lab} {fmt_energy(v)}" for lab, v in energy_overheads(e))))
    cc = cost_carbon_text(report)
    if cc:
        rows.append(("Cost / carbon", cc))
    lat = latency if latency is not None else (report_latency(report) or report.get("latency"))
    if isinstance(lat, Mapping) and lat:
        unsure_p99 = tail_flagged(report.get("slo_tail_near_ceiling"))  # the SLO tail warning below: ~ (uncertain)
        for cls in sorted(lat):
            st = lat[cls] or {}
            parts = []
            for key, lab in (("ttft_s", "TTFT"), ("tpot_s", "TPOT"), ("e2e_s", "E2E")):
                q = st.get(key) or {}
                if q.get("p50") is not None:
                    unsure = lab == "TTFT" and cls in unsure_p99
                    parts.append(f"{lab} {fmt_time(q.get('p50'))}/{'~' if unsure else ''}{fmt_time(q.get('p99'))}")
            rows.append((f"Latency p50/p99 [{cls}]", "  ".join(parts) or "n/a"))
        att = [f"{cls} {fmt_pct((lat[cls] or {}).get('slo_met'))}" for cls in sorted(lat)
               if (lat[cls] or {}).get("slo_met") is not None]
        if att:
            est = report.get("fidelity") == "fluid" and not any("n" in (lat[c] or {}) for c in lat)
            rows.append(("SLO attainment", "  ".join(att) + ("   (fluid: queueing estimate, docs/slo.md)" if est else
                                                             "   (of requests completed or shed)")))
        req = report.get("requests")
        scope = None
        if isinstance(req, Mapping) and isinstance(req.get("arrived"), (int, float)) and req["arrived"] > 0:
            scope = sample_scope(report)  # hybrid: the sample's counts, said so (not the facility's)
            shed_txt = shed_share_text(report)  # None without a shed count: no parenthesis (it read "(None)")
            rows.append(("Requests", f"arrived {fmt_si(req['arrived'], '')}   completed {fmt_si(req.get('completed'), '')}"
                                     f"   shed {fmt_si(req.get('shed'), '')}{f' ({shed_txt})' if shed_txt else ''}"
                                     f"   in flight {fmt_si(req.get('in_flight'), '')}"
                                     + (f"   counted in {scope}, not scaled to the facility (the token "
                                        "accounting below is the facility's)" if scope else "")))
        hn = hold_limit_note(report, lat, scope_said=scope is not None)  # the Requests row named the sample
        if hn:
            rows.append(("Note", hn))
    else:
        rows.append(("Latency", "no per-request latencies"
                     + (" (fluid fidelity)" if report.get("fidelity") == "fluid" else "")))
        if isinstance(report.get("slo_attainment"), (int, float)):
            rows.append(("SLO attainment", f"{fmt_pct(report['slo_attainment'])} of output tokens"
                         + (" (estimated per tick)" if report.get("slo_note") else "")))
    acc = report.get("tokens_accounting")
    if isinstance(acc, Mapping) and acc.get("shed") is not None:
        rows.append(("Output token accounting",
                     f"arrived {fmt_si(acc.get('arrived'), '')}   served {fmt_si(acc.get('served'), '')}   "
                     f"waiting {fmt_si(acc.get('waiting'), '')}   shed {fmt_si(acc.get('shed'), '')}"))
    shifts = get_path(report, "binding.shifts", []) or []
    rows.append(("Binding shifts", f"{len(shifts)}"))
    rows += batch_rows(report)
    rows += pool_rows(report)
    rows.extend(flex_rows(report))
    for note in report.get("notes") or []:
        rows.append(("Note", note))
    for line in expect_lines(report):
        # one claim reads as one: "ok" and its key held to each other ("ok   a / b" is three spaces, a field break to
        # the wrapper, which left "Expect ok" alone on a row over a long ratio claim: grid-flex --check until
        # 2026-12-05) and a ratio's key held whole ("a / b")
        head, _, rest = line.partition(" ")
        if head in ("ok", "FAIL") and rest:
            key, eq, tail = rest.lstrip().partition(" = ")
            line = (head.ljust(5, _NBSP) + key.replace(" / ", _NBSP + "/" + _NBSP) + eq
                    + re.sub(r"\[([^\]]*?), ", "[\\1," + _NBSP, tail))
        rows.append(("Expect", line))
    if report.get("partial"):
        rows.append(("WARNING", "partial run: the report covers only the simulated part"))
    if files:
        base = Path(out_dir) if out_dir is not None else None
        if base is None:
            first = next(iter(files.values()))
            base = first.parent.parent if first.parent.name == "plots" else first.parent
        n_png = sum(1 for k in files if k.startswith("plots/"))
        order = {"report.json": 0, "timeseries.csv": 1, "timeseries.parquet": 2, "report.html": 3}
        names = sorted((k for k in files if not k.startswith("plots/")), key=lambda k: (order.get(k, 9), k))
        if n_png:
            names.append(f"plots/ ({n_png} PNG)".replace(" ", _NBSP))  # one item: never broken across lines
        rows.append(("Files", f"{base}/  " + ", ".join(names)))
        if "report.html" in files:
            rows.append(("Open", str(base / "report.html")))
    elif out_dir is not None:
        rows.append(("Files", f"{out_dir}/"))

    width = max(len(k) for k, _ in rows if k)
    rule = "─" * min(TERMINAL_WIDTH, max(len(title), width + 60))
    lines = [*wrap_text(title, TERMINAL_WIDTH), rule, "Token Production Function"]
    for k, v in rows:
        if k is None:
            lines.append(rule)
            continue
        # every row wraps as the notes always did: under the value column, a number with its unit
        lines.extend(wrap_hanging(f"  {k:<{width}}  ", v))
    lines.append(rule)
    return "\n".join(lines)
