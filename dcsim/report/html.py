"""One-file HTML report: inline CSS, figures embedded as base64 PNG data URIs, no scripts and
no network references, so it opens anywhere (mail attachment, air-gapped machine)."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Mapping
from typing import Any

from dcsim.engine.build import BANNERED_WARNINGS
from dcsim.metrics.fmt import (calibration_caveat_kinds, closed_form_binding, fmt_delivered_power, fmt_power_w, calibration_source, fmt_celsius, fmt_ceilings, fmt_duration,
                               energy_label, energy_overheads, fmt_energy, fmt_headline_band, headline_band, band_source, fmt_hms, fmt_local_short,
                               fmt_local_time, fmt_jpt, fmt_num, fmt_pct, fmt_pue, fmt_si, fmt_time, get_path, near_tie_label,
                               near_tie_text, pools_power_note, within_band_lead, within_band_text)
from dcsim.plots.figures import CONSTRAINT_COLORS, DAILY_BEYOND_S
from dcsim.report.serialize import report_json_bytes
from dcsim.report.summary import (SERVED_OVER_C, U_MEANING, annual_label, served_over_c_text, batch_rows, binding_headline, current_binding, expect_lines, fault_lines, flex_rows, latency_stats, pool_rows,
                                  controller_text, cost_carbon_text, hold_limit_note, report_latency, sample_scope,
                                  start_text)
from dcsim.serving.slo_estimate import tail_brief, tail_caveat
from dcsim.tpf import BINDING_NAMES

__all__ = ["render_html", "FIGURE_CAPTIONS"]

#: Caption per figure stem, in display order.
FIGURE_CAPTIONS: dict[str, str] = {
    "signature": "Token rate over time: demand (dashed), the compute (C), power (P) and cooling (Q) "
                 "ceilings, and the achieved rate; the band under it is coloured by the constraint "
                 "that binds, dotted lines mark shifts. Bottom strip: binding constraint and "
                 "outdoor temperature.",
    "power": "Facility power at the meter, stacked by component, against the interconnect cap.",
    "pue": "PUE on each controller tick against outdoor temperature, coloured by IT load.",
    "joules_per_token": "Energy per output token at GPU, IT and facility (IT × PUE) level.",
    "latency": "Latency CDFs per request class; dashed lines are the class SLOs.",
}

#: Section titles of the figures that have no section of their own (issue 18's figures).
FIGURE_TITLES: dict[str, str] = {
    "grid_flex": "Grid flexibility: the meter, the utility's requests, storage and deferred work",
    "thermal": "Thermal dynamics: temperatures, throttling and shedding",
}
#: What the figures of the ``annual`` block show; their title leads with the block's label (:func:`_figure_title`).
ANNUAL_FIGURE_TITLES: dict[str, str] = {
    "binding_month_hour": "binding constraint by month and hour",
    "pue_outdoor_year": "PUE against outdoor temperature",
}


def _figure_title(stem: str, report: Mapping[str, Any]) -> str:
    """The section title of a figure without a section of its own: those of the ``annual`` block
    (:data:`ANNUAL_FIGURE_TITLES`) lead with the block's label, "The year: ..." or "The run (96 h): ..."
    (:func:`dcsim.report.summary.annual_label`, as the figures' own titles do); the others from
    :data:`FIGURE_TITLES`."""
    if stem in ANNUAL_FIGURE_TITLES:
        label = annual_label(report.get("annual") or {})
        return f"The {label[0].lower()}{label[1:]}: {ANNUAL_FIGURE_TITLES[stem]}"
    return FIGURE_TITLES.get(stem, stem)


_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;margin:0;
 background:#f4f5f7;color:#1d2330;line-height:1.4}
main{max-width:1320px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:26px;margin:0 0 4px} h2{font-size:19px;margin:32px 0 10px;border-bottom:2px solid #d9dde3;
 padding-bottom:4px}
.sub{color:#5a6270;font-size:14px;margin-bottom:18px}
.warn{background:#fff3cd;border:1px solid #e0b84c;padding:8px 12px;border-radius:6px;margin:10px 0}
details.warn summary{cursor:pointer}
.caveat{background:#fff4e5;border-left:5px solid #d97706;border-radius:8px;padding:10px 14px;margin:0 0 14px;
font-size:14px;color:#5a3a06}
details.caveat summary{cursor:pointer} details.caveat .more{color:#8a6a3a;font-size:12.5px}
details.caveat .full{margin-top:6px}
.cards{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,2fr) minmax(0,1fr) minmax(0,1fr);gap:14px}
.nw{white-space:nowrap}
@media (max-width:900px){.cards{grid-template-columns:minmax(0,1fr) minmax(0,1fr)}}
.card{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 3px rgba(0,0,0,.12);
 border-top:5px solid #1d2330}
.card .label{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:#5a6270;font-weight:600}
.card .big{font-size:34px;font-weight:700;margin:6px 0 2px;white-space:normal;line-height:1.2}
@media (max-width:1180px){.card .big{font-size:28px}}
.card .big small{font-size:16px;font-weight:600;color:#5a6270}
.card .big small.band{color:#b45309}
.card .lead{font-size:15px;font-weight:600;line-height:1.3;margin:2px 0 6px} .card .lead.band{color:#b45309}
.card .detail{font-size:13.5px;color:#39404d}
.sharebar{display:flex;height:14px;border-radius:4px;overflow:hidden;margin:8px 0 4px}
.legend span{display:inline-block;margin-right:10px;font-size:12.5px}
.chip{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12.5px;font-weight:600}
.dot{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
table{border-collapse:collapse;background:#fff;font-size:13.5px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
th,td{padding:5px 10px;border-bottom:1px solid #e6e8ec;text-align:right}
th{background:#eef0f3;font-weight:600} td.l,th.l{text-align:left}
td:not(.l){white-space:nowrap}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:18px;align-items:start}
figure{margin:0 0 18px;background:#fff;padding:10px;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.1)}
figure img{width:100%;height:auto;display:block}
figcaption{font-size:13px;color:#5a6270;margin-top:6px}
details{margin-top:10px} pre{background:#fff;padding:12px;overflow:auto;font-size:12px;max-height:480px}
.note{color:#5a6270;font-size:13px} .card details.note{margin-top:4px} .card details.note summary{cursor:pointer}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _chip(name: str) -> str:
    color = CONSTRAINT_COLORS.get(name, "#555")
    return f'<span class="chip" style="background:{color}">{_e(name)}</span>'


def _card(label: str, big: str, detail: str, color: str = "#1d2330", extra: str = "") -> str:
    return (f'<div class="card" style="border-top-color:{color}"><div class="label">{_e(label)}</div>'
            f'<div class="big">{big}</div>{extra}<div class="detail">{detail}</div></div>')


def _split_unit(text: str) -> str:
    """'1.23 MW' → '1.23 <small>MW</small>' for the big card numbers."""
    num, _, unit = text.partition(" ")  # the number and its unit on one line; the card's text wraps between parts
    return f'<span class="nw">{_e(num)} <small>{_e(unit)}</small></span>' if unit else _e(text)


def _cards(report: Mapping[str, Any], band: Any = ...) -> str:
    jpt = report.get("joules_per_output_token") or {}
    shares = get_path(report, "binding.share", {}) or {}
    cur = current_binding(report)
    cf_bind, cf_tie = closed_form_binding(report)  # "cooling" + "by a hair", as the terminal and dcsim tpf say it
    bind = binding_headline(shares)  # the terminal's binding row says the same, from the same parts
    dominant, tied = bind.top, bind.tied
    shed = get_path(report, "tokens_accounting.shed")
    arrived = get_path(report, "tokens_accounting.arrived")
    shed_txt = (f" · <b>{_e(fmt_pct(shed / arrived))}</b> of arrived tokens shed"
                if isinstance(shed, (int, float)) and isinstance(arrived, (int, float)) and arrived > 0 and shed > 0
                else "")
    pad = report.get("pue_adjusted_delivered_power_w") or {}
    # used (the mean) / available / min with digits enough to tell them apart (campus: 13.997 / 13.997 / 13.956 MW)
    pad_used, pad_avail, pad_min = fmt_delivered_power(report)
    bar = "".join(
        f'<div style="width:{100 * float(shares[k]):.3f}%;background:{CONSTRAINT_COLORS[k]}" '
        f'title="{k} {fmt_pct(shares[k])}"></div>'
        for k in BINDING_NAMES if isinstance(shares.get(k), (int, float)) and shares[k] > 0)
    legend = "".join(
        f'<span><i class="dot" style="background:{CONSTRAINT_COLORS[k]}"></i>{k} {fmt_pct(shares[k])}</span>'
        for k in BINDING_NAMES if isinstance(shares.get(k), (int, float)) and shares[k] > 0)
    # a tie shows every leader, each in its colour ("compute = cooling"), not the first in dict order
    big_bind = (" = ".join(f'<span style="color:{CONSTRAINT_COLORS.get(k, "#1d2330")}">{_e(k)}</span>' for k in tied)
                if len(tied) > 1 else _e(dominant or "n/a"))
    small = _e(bind.how)
    if bind.limits_outlast_demand:  # demand is the plurality, but the limits together bind longer
        big_bind = (f'<span class="nw">demand <small>{_e(fmt_pct(shares["demand"]))}</small></span> · '
                    f'<span class="nw"><span style="color:#1d2330">a limit</span> '
                    f'<small>{_e(fmt_pct(bind.limit_share))}</small></span>')
        small = "of the time"
    # the limit named is undetermined within the calibration band (transferred or extrapolated groups): said on the
    # card as on the terminal's row (dcsim.metrics.fmt.within_band_lead / within_band_text)
    wb = get_path(report, "binding.within_band")
    wb_lead, wb_text = within_band_lead(wb, bind.top, bind.limit_share), within_band_text(wb)
    # its own line under the headline, at the detail's line height: inside the 34-px headline it ran two lines 41 px
    # apart that read as two paragraphs, in the small grey of "most of the time" (mixed-fleet, walkthrough 2026-12-06)
    lead = f'<div class="lead band">{_e(wb_lead)}</div>' if wb_lead else ""
    cal = get_path(report, "provenance.calibration") or []
    # transferred / extrapolated groups: the headline figures carry their band (as the terminal's headline rows),
    # each pool's weighted by its share of the figure; the groups it comes from are named on the card
    band = headline_band(report) if band is ... else band
    j_band, t_band = fmt_headline_band(band, "j_per_tok_pct"), fmt_headline_band(band, "tok_s_pct")
    src = (f'<div class="note">band: {_e(band_source(band))} (banner above)</div>' if band else "")
    cards = [
        _card("Joules per output token",
              f'<span class="nw">{_e(fmt_jpt(jpt.get("facility")).removesuffix(" J"))} <small>J</small></span> '
              "<small>facility</small>"
              + (f' <small class="band nw" title="the calibration band of the transferred or extrapolated rack groups, '
                 f'each pool\'s weighted by its share of the facility energy (banner above)">{_e(j_band)}</small>'
                 if j_band else ""),
              # each figure and its unit unbroken (heatwave-air's card wrapped "0.761" from its "J")
              f"GPU <b class=\"nw\">{_e(fmt_jpt(jpt.get('gpu')))}</b>"
              f" · IT <b class=\"nw\">{_e(fmt_jpt(jpt.get('it')))}</b>"
              f" · PUE {_e(fmt_pue(report.get('pue')))} · per SLO-meeting token <span class=\"nw\">"
              f"{_e(fmt_jpt(get_path(report, 'joules_per_slo_output_token.facility')))}</span>"
              + (src if j_band else "")),
        _card("Binding constraint", f'<span style="color:{CONSTRAINT_COLORS.get(dominant or "", "#1d2330")}">'
              f"{big_bind}</span> <small>{small}</small>",
              (f"{_e(bind.limits_text)} · " if bind.limits_text else "") +
              f"at end of run: {_chip(cur) if cur else 'n/a'} · closed form at "
              f"{_e(get_path(report, 'tpf.operating_point') or 'n/a')}: "
              f"{_chip(cf_bind) + (' ' + _e(cf_tie) if cf_tie else '') if cf_bind else 'n/a'}"
              f" · {len(get_path(report, 'binding.shifts', []) or [])} shifts{shed_txt}"
              # where and by how much, folded as U's meaning is: open it ran 6 lines and made the card row the
              # tallest on the first screen (mixed-fleet, walkthrough 2026-12-06); the lead above says the answer
              + (f'<details class="note"><summary>where the band leaves it undetermined</summary>{_e(wb_text)}</details>'
                 if wb_text else ""),
              CONSTRAINT_COLORS.get(dominant or "", "#1d2330"),
              f'{lead}<div class="sharebar">{bar}</div><div class="legend">{legend}</div>'),
        _card("PUE-adjusted delivered power", _split_unit(pad_used) + " <small class=\"nw\">to IT, mean</small>",
              f"θ·P<sub>fac</sub>/PUE · available <b>{_e(pad_avail)}</b> "
              f"(min {_e(pad_min)}) · meter peak "
              f"{_e(fmt_power_w(get_path(report, 'peak_power_w.facility')))}"),
        _card("Utilization-adjusted output",
              _split_unit(fmt_si(report.get("utilization_adjusted_output_tok_s"), "tok/s"))
              + (f' <small class="band nw" title="the calibration band of the transferred or extrapolated rack groups, '
                 f'each pool\'s weighted by its share of the output served (banner above)">{_e(t_band)}</small>'
                 if t_band else ""),
              f"ceiling <b>{_e(fmt_si(get_path(report, 'utilization_adjusted_output.ceiling_tok_s'), 'tok/s'))}</b>"
              f" × U <b>{_e(fmt_pct(get_path(report, 'utilization_adjusted_output.utilization')))}</b>"
              f" × Φ<sub>sys</sub> <b>{_e(fmt_pct(get_path(report, 'utilization_adjusted_output.phi_sys')))}</b>"
              f" · met SLO {_e(fmt_si(get_path(report, 'utilization_adjusted_output.slo_output_tok_s'), 'tok/s'))}"
              # what U and Φ_sys count, folded: open it ran ~10 lines and made the card row ~500 px tall
              f'<details class="note"><summary>what U and Φ<sub>sys</sub> count</summary>'
              f'{_e(U_MEANING).replace("Φ_sys", "Φ<sub>sys</sub>")}'
              # the shed share the binding card shows is on the arrived base: Φ_sys's base leaves it out
              + (f"; the {_e(fmt_pct(shed / arrived))} of arrived tokens shed is outside Φ<sub>sys</sub>'s base"
                 if shed_txt else "") + "</details>"),
        # only the binding card wears a constraint's colour (its leader's): the delivered-power card's vermillion
        # and the output card's blue, on every run, read as "power binds" and "compute binds" beside a cooling- or
        # demand-bound headline (walkthrough 2026-12-06)
    ]
    # a banner per calibration caveat that applies (dcsim.metrics.fmt.CALIBRATION_CAVEATS), the uncalibrated one
    # saying where the figures come from
    banner = "".join(_caveat_banner(k.title, text + "."
                                    + (f" These figures come from {calibration_source(cal)}." if k.key == "uncalibrated"
                                       else ""),
                                    k.brief([c for c in cal if k.applies(c)]))
                     for k, text in calibration_caveat_kinds(cal))
    tail = tail_caveat(report.get("slo_tail_near_ceiling"))
    if tail:
        banner += _caveat_banner("SLO tail", tail.removeprefix("SLO tail: ") + ".",
                                 tail_brief(report.get("slo_tail_near_ceiling")))
    # the answer first: the caveat banners over the cards, the other warnings under them, collapsed with their count
    # and subjects (mixed-fleet's five long warnings pushed the cards ~650 px down, off a 1000 px screen, until
    # 2026-12-05)
    return f'{banner}<div class="cards">{"".join(cards)}</div>{_warnings_box(report)}'


def _caveat_banner(title: str, text: str, brief: str) -> str:
    """A caveat banner above the cards: its title and ``brief`` (which groups, how far, the band) on one line, the full
    ``text`` folded under it (``<details>``), so that the cards, the answer, stay on the first screen (mixed-fleet's
    two banners, open, ran 8 lines, 200 px, above them on a 1024x768 screen)."""
    return (f'<details class="caveat"><summary><b>{_e(title)}.</b> {_e(brief)} '
            f'<span class="more">(details)</span></summary><div class="full">{_e(text)}</div></details>')


#: warnings the first screen already shows as a caveat banner: a rack group's calibration
#: (:data:`dcsim.engine.build.BANNERED_WARNINGS`), the SLO tail; a rack group's other warnings (e.g. long outputs)
#: go in the box
_BANNERED = re.compile(r"^(racks\[\d+\] \(.*?\): (" + "|".join(map(re.escape, BANNERED_WARNINGS))
                       + r")|SLO tail: )")


def _warnings_box(report: Mapping[str, Any]) -> str:
    """The run's other warnings (report.json ``warnings``: an interconnect exceeded, a preflight physics check, SLO
    figures not estimated, ...), on the first screen as the terminal prints them under its summary."""
    ws = [w for w in report.get("warnings") or [] if isinstance(w, str) and not _BANNERED.match(w)]
    if not ws:
        return ""
    items = "".join(f"<li>{_e(w)}</li>" for w in ws)
    subjects = list(dict.fromkeys(_warning_subject(w) for w in ws))
    about = f" — {_e('; '.join(subjects))}" if subjects and len(", ".join(subjects)) <= 160 else ""
    return (f'<details class="warn" id="warnings"><summary><b>Warnings ({len(ws)}).</b>{about} '
            f'<span class="note">(click to read)</span></summary>'
            f'<ul style="margin:4px 0 0 18px;padding:0">{items}</ul></details>')


def _warning_subject(w: str) -> str:
    """What a warning is about, for the collapsed box's summary line: its text before the first ': ' (the field or
    rack group it names, ``racks[1] (b200-reasoning)``), else its first 60 characters."""
    head, sep, _ = w.partition(": ")
    return head if sep and len(head) <= 60 else (w[:57] + "..." if len(w) > 60 else w)


def _kv_table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f'<tr><td class="l">{_e(k)}</td><td class="l">{v}</td></tr>' for k, v in rows)
    return f"<table>{body}</table>"


def _summary(report: Mapping[str, Any], band: Any = ...) -> str:
    """The run's summary table; ``band`` its :func:`dcsim.metrics.fmt.headline_band` (the cards' one)."""
    band = headline_band(report) if band is ... else band
    tokens = report.get("tokens") or {}
    e = report.get("energy_j") or {}
    peak = report.get("peak_power_w") or {}
    tpf = report.get("tpf") or {}
    rows = [
        ("Output throughput", _e(fmt_si(get_path(report, "throughput_tok_s.output"), "tok/s"))
         + (lambda b: f' <span class="nw">{_e(b)}</span> <span class="note">({_e(band_source(band))})</span>'
            if b else "")(fmt_headline_band(band, "tok_s_pct"))),
        ("Tokens (input / output)", f"{_e(fmt_si(tokens.get('input'), ''))} / {_e(fmt_si(tokens.get('output'), ''))}"),
        ("SLO goodput", _e(fmt_si(report.get("goodput_tok_s"), "tok/s"))),
        ("Output tokens arrived / served / shed",
         " / ".join(_e(fmt_si(get_path(report, f"tokens_accounting.{k}"), "")) for k in ("arrived", "served", "shed"))),
        ("PUE (energy-weighted)", _e(_fmt_pue(report.get("pue")))),
        # its fields set apart by runs of spaces on the terminal, which HTML collapses: "; " between them here
        ("Controller", _e(re.sub(r" {3,}", "; ", controller_text(report) or "never capped"))),
        (SERVED_OVER_C, (lambda t: f'{_e(t.partition(" ")[0])} <span class="note">{_e(t.partition(" ")[2])}</span>')(
            served_over_c_text(report))),
        ("Energy, facility", _e(fmt_energy(e.get("facility")))),
        ("Energy, IT / GPU", f"{_e(fmt_energy(e.get('it')))} / {_e(fmt_energy(e.get('gpu')))}"),
        ("Energy, " + " / ".join(lab for lab, _ in energy_overheads(e)),
         " / ".join(_e(fmt_energy(v)) for _, v in energy_overheads(e))),
        ("Peak power, IT / facility", f"{_e(fmt_power_w(peak.get('it')))} / {_e(fmt_power_w(peak.get('facility')))}"),
    ]
    moments = tpf.get("moments") or {}
    clock = report.get("clock")
    # with several pools the facility's C / P / Q are sums and its binding that of the pool furthest short for its
    # own work (dcsim.tpf.facility_binding)
    pools_note = "; binding: the pool furthest short for its own demand, each pool on the rows below" if len(report.get("pools") or []) > 1 else ""
    for label, mom in moments.items():  # the closed form of `dcsim tpf`, each moment labelled
        tie = mom.get("near_tie") if isinstance(mom.get("near_tie"), Mapping) else None
        pools = [pp for pp in mom.get("pools") or [] if isinstance(pp, Mapping)]
        p_note = pools_power_note(pools, mom.get("binding"))
        rows.append((f"Closed form C / P / Q at {label}",
                     " / ".join(_e(x) for x in fmt_ceilings(mom.get(k) for k in ("compute_tok_s", "power_tok_s", "cooling_tok_s")))
                     + (f" → {_chip(str(mom['binding']))}" if mom.get("binding") else "")
                     + (f" {_e(near_tie_label(tie))}" if tie else "")
                     + f' <span class="note">({_e(mom.get("operating_point", ""))}, '
                       f'at {_e(fmt_local_short(mom.get("t_s"), clock, report.get("duration_s")))}{" local" if clock else ""}'
                       f'{_e(pools_note)}'
                       + (f"; {_e(near_tie_text(tie, in_parens=True))}" if tie and not tie.get("pool") else "")
                       # P with a pool at its demand counts that demand, C every pool's compute (docs/report.md, tpf)
                       + (f"; {_e(p_note)}" if p_note else "")
                       + ")</span>"))
        for pp in pools:  # several pools: each pool's demand, C, P, achieved and binding there
            ptie = pp.get("near_tie") if isinstance(pp.get("near_tie"), Mapping) else None
            c_txt, p_txt = fmt_ceilings([pp.get("compute_tok_s"), pp.get("power_tok_s")])
            rows.append((f"  pool {pp.get('name')}",
                         f"D {_e(fmt_si(pp.get('demand_tok_s'), 'tok/s'))} / C {_e(c_txt)}"
                         + (f" / P {_e(p_txt)}" if pp.get("power_tok_s") is not None else "")
                         + f" / served {_e(fmt_si(pp.get('achieved_tok_s'), 'tok/s'))}"
                         + (f" → {_chip(str(pp['binding']))}" if pp.get("binding") else "")
                         + (f' <span class="note">({_e(near_tie_text(ptie, in_parens=True))})</span>' if ptie else "")))
    if not moments:
        rows.append(("Closed-form TPF ceilings C / P / Q",
                     " / ".join(_e(x) for x in fmt_ceilings(tpf.get(k) for k in ("compute_tok_s", "power_tok_s", "cooling_tok_s")))
                     + (f" → {_chip(str(tpf['binding']))}" if tpf.get("binding") else "")))
    cc = cost_carbon_text(report)  # totals and per million output tokens, as the terminal prints them
    if cc:
        rows.append(("Cost / carbon", _e(cc)))
    rows += [(k, _e(v)) for k, v in batch_rows(report)]  # replicas held below max_batch, and by what
    rows += [(k, _e(v)) for k, v in pool_rows(report)]  # several model pools: one block each
    return _kv_table(rows)


#: Display order of energy_j keys; component parts (cooling_*, loss_*) follow their total.
#: the energy tree, parents before their parts: (key, depth); ``cooling_*`` and ``loss_*`` parts follow their parent
_ENERGY_TREE = (("facility", 0), ("it", 1), ("gpu", 2), ("server_non_gpu_and_rack", 2), ("cooling", 1),
                ("power_losses", 1), ("delivery_losses", 2), ("fixed_loads", 2))
_ENERGY_ORDER = tuple(k for k, _ in _ENERGY_TREE)


def _energy_keys(e: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(key, depth) in the order of the tree: each part indented under its parent, so that only the rows of one
    depth under a parent add up to it (the audit of 2026-12-04: the flat table's "of facility" summed to 158 %)."""
    keys: list[tuple[str, int]] = []
    for k, d in _ENERGY_TREE:
        if k in e:
            keys.append((k, d))
        if k in ("cooling", "delivery_losses"):
            prefix = "cooling_" if k == "cooling" else "loss_"
            keys += [(x, d + 1) for x in sorted(e) if x.startswith(prefix) and x not in _ENERGY_ORDER]
    seen = {k for k, _ in keys}
    return keys + [(x, 1) for x in sorted(e) if x not in seen]


def _energy_table(report: Mapping[str, Any]) -> str:
    e = report.get("energy_j") or {}
    fac = e.get("facility")
    rows = []
    for k, depth in _energy_keys(e):
        v = e[k]
        if isinstance(v, Mapping):
            continue
        share = (f"{100 * float(v) / float(fac):.1f}%" if isinstance(v, (int, float))
                 and isinstance(fac, (int, float)) and fac else "")
        indent = "&nbsp;&nbsp;&nbsp;&nbsp;" * depth + ("└ " if depth else "")
        bold = ' style="font-weight:700"' if depth == 0 else (' style="font-weight:600"' if depth == 1 else "")
        # named as the power figure names them; the report.json key in the tooltip
        rows.append(f'<tr{bold}><td class="l" title="energy_j.{_e(k)}">{indent}'
                    f'{_e(energy_label(k, report.get("heat_rejection")))}</td>'
                    f'<td class="nw">{_e(fmt_energy(v))}</td>'
                    f'<td class="nw">{_e(fmt_si(v, "J", 4))}</td><td class="nw">{share}</td></tr>')
    return ('<table><tr><th class="l">component (parts indented under their total)</th><th>energy</th><th>J</th>'
            '<th>of facility</th></tr>' + "".join(rows) + "</table>")


def _latency_table(stats: Mapping[str, Mapping[str, Any]], slo: Mapping[str, Any],
                   report: Mapping[str, Any] | None = None) -> str:
    report = report or {}
    if not stats:
        txt = '<p class="note">No per-request latency samples in this run (fluid fidelity).</p>'
        att = report.get("slo_attainment")
        if isinstance(att, (int, float)):
            targets = ", ".join(
                f"{_e(c)}: TTFT ≤ {_e(fmt_si(t.get('ttft_s'), 's'))}, TPOT ≤ {_e(fmt_si(t.get('tpot_s'), 's'))}"
                for c, t in sorted(slo.items()) if isinstance(t, Mapping))
            txt += _kv_table([
                ("SLO attainment", f"<b>{_e(fmt_pct(att))}</b>"),
                ("SLO goodput", _e(fmt_si(report.get("goodput_tok_s"), "tok/s"))),
        ("Output tokens arrived / served / shed",
         " / ".join(_e(fmt_si(get_path(report, f"tokens_accounting.{k}"), "")) for k in ("arrived", "served", "shed"))),
                ("SLO targets", targets or "n/a"),
                ("method", _e(report.get("slo_note", ""))),
            ])
        return txt

    counted = any("n" in st for st in stats.values())
    head = ('<tr><th class="l">class</th><th title="requests that finished; the latencies are theirs">requests '
            'completed</th>' + ('<th title="requests waiting longer than controller.hold_limit: not served, each an '
                                'SLO miss">shed</th>' if counted else '')
            + '<th>TTFT p50</th><th>TTFT p99</th><th>TPOT p50</th><th>TPOT p99</th><th>E2E p50</th><th>E2E p99</th>'
            '<th>SLO TTFT / TPOT</th><th title="of the requests completed or shed">SLO met</th></tr>')
    rows = []
    for cls, st in stats.items():
        target = slo.get(cls) or {}
        shed = (get_path(report, f"serving.per_class.{cls}.requests.shed") if cls != "all"
                else get_path(report, "requests.shed"))
        shed_td = f"<td>{_e(f'{int(shed):,}' if isinstance(shed, (int, float)) else 'n/a')}</td>" if counted else ""
        rows.append(
            f'<tr><td class="l">{_e(cls)}</td><td>{_e(n_requests(st))}</td>{shed_td}'
            + "".join(f"<td>{fmt_time((st.get(m) or {}).get(q))}</td>"
                      for m in ("ttft_s", "tpot_s", "e2e_s") for q in ("p50", "p99"))
            + f"<td>{fmt_time(target.get('ttft_s'))} / {fmt_time(target.get('tpot_s'))}</td>"
            + f"<td>{_e(fmt_pct(st.get('slo_met')))}</td></tr>")
    note = ""
    if stats and not counted and report.get("slo_method"):
        note = f'<p class="note">Not counted per request at this fidelity: {_e(report["slo_method"])}.</p>'
    scope = sample_scope(report)  # hybrid: the counts and latencies are the sample's (not the facility's counts)
    # the scope note below comes first: the hold-limit note says "here" rather than naming the sample again
    hn = hold_limit_note(report, stats, scope_said=bool(scope and counted))
    if hn:
        note += f'<p class="note">{_e(hn)}.</p>'
    if scope and counted:
        note = (f'<p class="note">Requests completed and shed in {_e(scope)}: its own counts, not scaled to the '
                'facility; the latencies and SLO shares are measured on it (docs/engine.md, hybrid).</p>') + note
    return f"<table>{head}{''.join(rows)}</table>{note}"


def n_requests(st: Mapping[str, Any]) -> str:
    """The request count of a latency row, or "estimated" when the run did not count requests (fluid)."""
    return f"{st['n']:,}" if "n" in st else "estimated"


#: the column of the scenario's own clock (its ``start:`` date-time, else its day of year and hour of day)
_LOCAL_TH = '<th title="the scenario\'s clock: its start date-time plus the elapsed time">local time</th>'


_fmt_pue = fmt_pue  # three decimals, as every PUE a planner reads (dcsim.metrics.fmt.fmt_pue)


def _shift_table(report: Mapping[str, Any], limit: int = 300) -> str:
    shifts = get_path(report, "binding.shifts", []) or []
    if not shifts:
        return '<p class="note">The binding constraint did not change during the run.</p>'
    clock = report.get("clock")
    head = ('<tr><th title="time since the start of the run">elapsed</th>'
            + _LOCAL_TH * bool(clock) + '<th>t (s)</th><th class="l">from → to</th><th>demand</th>'
            '<th>outdoor</th><th>PUE</th><th>GPUs in service</th></tr>')
    rows = []
    for sh in shifts[:limit]:
        t_out = sh.get("t_out_c")
        local = f'<td class="nw">{_e(fmt_local_time(sh.get("t_s"), clock))}</td>' if clock else ""
        rows.append(
            f"<tr><td>{fmt_hms(sh.get('t_s'))}</td>{local}<td>{_e(fmt_num(sh.get('t_s'), 8))}</td>"
            f'<td class="l">{_chip(str(sh.get("from")))} → {_chip(str(sh.get("to")))}</td>'
            f"<td>{_e(fmt_si(sh.get('demand_tok_s'), 'tok/s'))}</td>"
            f"<td>{_e(fmt_celsius(t_out))}</td>"
            f"<td>{_e(_fmt_pue(sh.get('pue')))}</td>"
            f"<td>{_e(fmt_num(sh.get('gpus_in_service'), 8))}</td></tr>")
    more = (f'<p class="note">… and {len(shifts) - limit} more (all in report.json).</p>'
            if len(shifts) > limit else "")
    return f"<table>{head}{''.join(rows)}</table>{more}"


#: a controller-log field's unit by its name's suffix, each value in the dcsim.metrics.fmt format of its unit:
#: (suffix, unit shown in the header, formatter). The fields logged (engine/controller.py, engine/flex.py) are
#: demand_tok_s, limit_tok_s, t_out_c, t_space_c, duration_s, battery_w, tokens and tokens_first_tick. A duration's
#: header names no unit: its cells pick their own ("10.9 h", "60 min"; the header read "duration (s)" over them).
_LOG_UNITS = (("_tok_s", "tok/s", lambda v: fmt_si(v, "tok/s")), ("_w", "W", lambda v: fmt_si(v, "W")),
              ("_c", "°C", fmt_celsius), ("_s", "", fmt_duration))


def _log_field(k: str) -> tuple[str, str, Any] | None:
    """A controller-log field's (name in words, unit, formatter), None for a field without a unit: ``tokens`` and
    ``tokens_*`` are token counts; ``t_out_c`` is the outdoor temperature; else :data:`_LOG_UNITS` by suffix."""
    if k == "t_out_c":
        return "outdoor", "°C", fmt_celsius
    if k == "tokens" or k.startswith("tokens_"):
        return k.replace("_", " "), "tokens", lambda v: fmt_si(v, "")
    for suf, unit, f in _LOG_UNITS:
        if k.endswith(suf) and len(k) > len(suf):
            return k[: -len(suf)].replace("_", " "), unit, f
    return None


def _log_head(k: str) -> str:
    """A controller-log column named in words with its unit (``demand_tok_s`` → ``demand (tok/s)``; the log showed
    snake-case names without units: the audit of the views)."""
    field = _log_field(k)
    if field is None:
        return k.replace("_", " ")
    words, unit, _ = field
    return words if words == unit or not unit else f"{words} ({unit})"


def _log_cell(k: str, v: Any) -> str:
    """A controller-log value in its unit ("1.25 Mtok/s", not "1.24726e+06")."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    field = _log_field(k)
    if field is not None:
        return field[2](float(v))
    return fmt_num(v, 4) if isinstance(v, float) else f"{v:,}"


def _controller_log(result: Any, report: Mapping[str, Any], limit: int = 300) -> str:
    log = getattr(result, "controller_log", None)
    if log is None:  # a report without its run: report.json keeps no log (controller.actions is the entries' count)
        log = get_path(report, "controller.log")
    if not isinstance(log, list) or not log:
        return ""
    # in time order (the thermal and battery notes are logged when a tick is settled, after the controller's)
    entries = sorted(log, key=lambda e: e.get("t_s", 0.0) if isinstance(e, Mapping) else 0.0)
    keys: list[str] = []
    for ent in entries[:limit]:
        if isinstance(ent, Mapping):
            keys += [k for k in ent if k not in keys]
    if not keys:
        return ""
    clock = report.get("clock") if "t_s" in keys else None
    cols = [k for k in keys if k != "t_s"]  # the time has its own columns
    head = ("<tr>" + ("<th title=\"time since the start of the run\">elapsed</th>" if "t_s" in keys else "")
            + _LOCAL_TH * bool(clock) + "".join(f'<th class="l">{_e(_log_head(k))}</th>' for k in cols) + "</tr>")
    rows = []
    for ent in entries[:limit]:
        if not isinstance(ent, Mapping):
            continue
        cells = [f"<td>{fmt_hms(ent.get('t_s'))}</td>"] if "t_s" in keys else []
        if clock:
            cells.append(f'<td class="nw">{_e(fmt_local_time(ent.get("t_s"), clock))}</td>')
        for k in cols:
            # a figure and its unit on one line (chiller-trip's limit column wrapped "221" from "ktok/s" in each cap row)
            v = ent.get(k, "")
            num = isinstance(v, (int, float)) and not isinstance(v, bool)
            cells.append(f'<td class="{"l nw" if num else "l"}">{_e(_log_cell(k, v))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = (f'<p class="note">… and {len(entries) - limit} more actions.</p>' if len(entries) > limit else "")
    return f"<h2>Controller log</h2><table>{head}{''.join(rows)}</table>{more}"


def _empty(v: Any) -> bool:
    """A provenance value with nothing to read: None (JSON null), an empty list or mapping."""
    return v is None or (isinstance(v, (Mapping, list, tuple)) and not v)


def _inline(v: Any) -> str:
    """A nested provenance value on one line (escaped): ``key value`` pairs of a mapping, a list's items, by ``, ``;
    nulls and empty parts left out."""
    if isinstance(v, Mapping):
        return "; ".join(f"{_e(k)} {_inline(x)}" for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))
                         if not _empty(x))
    if isinstance(v, (list, tuple)):
        return ", ".join(_inline(x) for x in v if not _empty(x))
    if isinstance(v, bool):
        return "yes" if v else "no"
    return _e(v)


#: the keys a provenance item leads with (report.json provenance.calibration: which rack group, which setup)
_LEAD_KEYS = ("group", "for", "profile", "status")


def _readable(v: Any) -> str:
    """A provenance value as HTML a reader reads (walkthrough 2026-12-05: the calibration row was a raw JSON dump, a
    screen of ``null``): a mapping one ``key: value`` line per key, a list of mappings one block per item, a list of
    plain values joined by commas; nulls and empty lists or mappings left out (report.json keeps them all)."""
    if isinstance(v, Mapping):
        # what an item is (a calibration entry's group, setup, profile and status) first, then the rest by name
        order = lambda kv: (_LEAD_KEYS.index(kv[0]) if kv[0] in _LEAD_KEYS else len(_LEAD_KEYS), str(kv[0]))  # noqa: E731
        lines = [f"<b>{_e(k)}</b>: {_inline(x)}" for k, x in sorted(v.items(), key=order) if not _empty(x)]
        return "<br>".join(lines)
    if isinstance(v, (list, tuple)):
        if any(isinstance(x, Mapping) for x in v):
            return "".join(f'<div style="margin:2px 0 6px">{_readable(x)}</div>' for x in v if not _empty(x))
        return _inline(v)
    return f"<code>{_e(v)}</code>"


def _provenance(report: Mapping[str, Any]) -> str:
    prov = report.get("provenance") or {}
    rows = [(k, _e(report.get(k, "n/a"))) for k in ("scenario", "seed") if k not in prov]
    for k in sorted(prov):
        v = prov[k]
        rows.append((k, _readable(v) if isinstance(v, (Mapping, list)) else f"<code>{_e(v)}</code>"))
    return _kv_table(rows)


#: the signature figure's caption with several model pools: its lower panel adds a strip per pool
#: (:func:`dcsim.plots.figures.signature_plot`), which the caption did not mention (walkthrough 2026-12-05)
SIGNATURE_POOLS_CAPTION = (" With several model pools, the strips at the foot of the bottom panel, one per pool "
                           "(labelled 'pool NAME'), colour the constraint that binds that pool on its own: its "
                           "demand, its own compute, or its share of the shared power or cooling budget; the band "
                           "above them is the facility's binding, that of the pool furthest short of its own demand.")


def _img(stem: str, png: bytes, report: Mapping[str, Any] | None = None) -> str:
    b64 = base64.b64encode(png).decode("ascii")
    cap = FIGURE_CAPTIONS.get(stem, "")
    pools = [p for p in ((report or {}).get("pools") or []) if isinstance(p, Mapping)]
    # the strips are drawn per tick, not on a run drawn by day (dcsim.plots.figures._long_run: over 14 days)
    span = float((report or {}).get("duration_s") or 0.0) - float((report or {}).get("tick_s") or 0.0)
    if stem == "signature" and len(pools) > 1 and span <= DAILY_BEYOND_S:
        cap += SIGNATURE_POOLS_CAPTION
    return (f'<figure id="fig-{_e(stem)}"><img alt="{_e(stem)} plot" src="data:image/png;base64,{b64}">'
            f"<figcaption>{_e(cap)}</figcaption></figure>")


def render_html(result: Any, pngs: Mapping[str, bytes]) -> str:
    """The whole report.html as a string. ``pngs`` maps figure stem → PNG bytes (as written to
    ``plots/``); each is embedded as a data URI."""
    report = dict(getattr(result, "report", {}) or {})
    name = report.get("scenario") or getattr(result, "name", "run")
    stats = report_latency(report) or latency_stats(result)
    slo = getattr(result, "slo", None) or {}
    start = start_text(report)
    sub = (f"seed {_e(report.get('seed', 'n/a'))} · {_e(fmt_duration(report.get('duration_s')))} simulated"
           + (f" · fidelity {_e(report['fidelity'])}" if report.get("fidelity") else "")
           + (f' · <span title="the scenario\'s local clock at t = 0: every time of day below is on it">start '
              f"{_e(start)}</span>" if start else "")
           + (f" · dcsim {_e(get_path(report, 'provenance.dcsim_version'))}"
              if get_path(report, "provenance.dcsim_version") else ""))
    warn = ('<div class="warn"><b>Partial run.</b> The simulation was interrupted; figures cover only '
            "the simulated part.</div>" if report.get("partial") else "")
    ov = get_path(report, "provenance.overrides") or []
    if ov:  # not the file's scenario: say how it differs, above every figure
        warn += ('<div class="sub"><b>Overrides</b> (applied to the scenario file): '
                 + "; ".join(f"<code>{_e(x)}</code>" for x in ov) + "</div>")
    figs = dict(pngs)
    band = headline_band(report)  # once for the page: the cards and the summary table print it
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>dcsim report — {_e(name)}{' (' + str(len(ov)) + ' overrides)' if ov else ''}</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>dcsim report — {_e(name)}{' <small>(overridden)</small>' if ov else ''}</h1>",
        f'<div class="sub">{sub}</div>', warn,
        _cards(report, band),
    ]
    if "signature" in figs:
        parts += ["<h2>Token rate, ceilings and the binding constraint</h2>", _img("signature", figs.pop("signature"), report)]
    parts += ['<h2>Summary</h2><div class="grid2"><div>', _summary(report, band), "</div><div>",
              _energy_table(report), "</div></div>"]
    if "power" in figs:
        parts += ["<h2>Power</h2>", _img("power", figs.pop("power"))]
    pair = [s for s in ("pue", "joules_per_token") if s in figs]
    if pair:
        parts += ['<h2>PUE and energy per token</h2><div class="grid2">']
        parts += [_img(s, figs.pop(s)) for s in pair]
        parts += ["</div>"]
    parts += ["<h2>Latency and SLOs</h2>", _latency_table(stats, slo, report)]
    if "latency" in figs:
        parts += ["<br>", _img("latency", figs.pop("latency"))]
    for stem in sorted(figs):
        parts += [f"<h2>{_e(_figure_title(stem, report))}</h2>", _img(stem, figs[stem])]
    faults, flex = fault_lines(report), flex_rows(report)
    if faults or flex:  # what the terminal summary prints: each fault's cost, the grid, storage, deferral
        parts += ["<h2>Faults, grid and flexibility</h2>"]
        parts += [f'<div class="warn">{_e(x)}</div>' for x in faults]
        if flex:
            parts += [_kv_table([(k, _e(v)) for k, v in flex])]
    notes = report.get("notes") or []
    if notes:
        parts += ["<h2>Notes: results a planner might not expect</h2>"]
        parts += [f'<div class="warn">{_e(n)}</div>' for n in notes]
    checks = expect_lines(report)
    if checks:
        parts += ["<h2>Scenario expectations</h2>", "<pre>" + _e("\n".join(checks)) + "</pre>"]
    parts += ["<h2>Binding-constraint shifts</h2>", _shift_table(report),
              _controller_log(result, report),
              "<h2>Provenance</h2>", _provenance(report),
              "<details><summary>report.json</summary><pre>",
              _e(report_json_bytes(report).decode("utf-8")), "</pre></details>",
              "</main></body></html>"]
    return "\n".join(parts) + "\n"
