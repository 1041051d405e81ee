"""What report.html and the terminal summary say about a run's headline figures (the audits of 2026-12-05): the band
a transferred or extrapolated rack group puts on them, what U, Φ_sys and "Served ÷ compute ceiling C" count, the
energy parts named as the power figure names them, and the layout at narrow widths. Uses the synthetic TEST FIXTURE
of test_report.py."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_report import synthetic_result  # noqa: E402  (test fixture, not shipped)

from dcsim.report.html import _CSS, render_html  # noqa: E402
from dcsim.report.summary import summary_table  # noqa: E402
from dcsim.metrics.fmt import fmt_jpt  # noqa: E402

#: mixed-fleet's calibration record (report.json provenance.calibration, main 5c8e81e): the chat pool calibrated
#: in-sample, the reasoning pool's B200 profile run 5.8x beyond its measured context
CALIBRATED = {"group": "h100-chat", "status": "calibrated", "in_range_status": "calibrated",
              "error_band_pct": {"j_per_tok_pct": 3.033, "tok_s_pct": 3.556}, "band_lower_bound": False,
              "extrapolated": False, "context_extrapolated": False, "stack_current": True}
EXTRAPOLATED = {"group": "b200-reasoning", "status": "context-extrapolated", "in_range_status": "calibrated",
                "error_band_pct": {"j_per_tok_pct": 46.0, "tok_s_pct": 31.79}, "band_lower_bound": True,
                "extrapolated": False, "context_extrapolated": True, "stack_current": True,
                "profile": "B200_llama-3.1-405b_fp8_tp4", "measured_context_max": 1017.0, "decode_context": 5872.0,
                "mean_input": 358.0}


def _with(res, **report):
    return SimpleNamespace(**{**vars(res), "report": {**res.report, **report}})


def _cal(res, records):
    return _with(res, provenance={**res.report["provenance"], "calibration": records})


def _uao(res, shed=0.2):
    out = res.report["throughput_tok_s"]["output"]
    arrived = out * 86400.0 / (1.0 - shed)
    return _with(res, utilization_adjusted_output={
        "ceiling_tok_s": 1.1 * out / 0.9, "utilization": 0.9, "phi_sys": 1.0, "product_tok_s": out,
        "achieved_tok_s": out, "slo_output_tok_s": 0.5 * out, "slo_share": 0.5},
        tokens_accounting={"arrived": arrived, "served": out * 86400.0, "waiting": 0.0, "shed": shed * arrived},
        tpf={**res.report["tpf"], "run_mean": {"compute_tok_s": 512 * 600.0}})


def _two_pools(res, chat_share=0.715, chat_energy_share=0.583):
    """mixed-fleet's two pools (report.json pools[], main 781c7fc): h100-chat served 160.2 of 223.9 ktok/s and drew
    35.3 of 60.5 GJ (the pools' facility energy), b200-reasoning the rest."""
    out, e = res.report["throughput_tok_s"]["output"], res.report["energy_j"]
    shares = {"h100-chat": (chat_share, chat_energy_share, "H100-SXM", "llama-3.1-70b", "bf16"),
              "b200-reasoning": (1 - chat_share, 1 - chat_energy_share, "B200", "llama-3.1-405b", "fp8")}
    return _with(res, pools=[
        {"name": g, "groups": [{"name": g, "gpus": 320, "gpu": gpu, "model": model, "precision": prec}],
         "classes": [g.split("-")[1]], "throughput_tok_s": {"output": t * out},
         "energy_j": {k: q * e[k] for k in ("gpu", "it", "facility")}} for g, (t, q, gpu, model, prec) in shares.items()])


def test_headline_band_is_each_pools_band_weighted_by_its_share():
    """mixed-fleet's headline read "3.13 J ≥±46 %" and "224 ktok/s ≥±32 %": one pool's band on the whole fleet, while
    its J/token figure drew ±19 % (each pool's band weighted by its energy share). The headline, the cards, the HTML
    summary's output row and the terminal now print the share-weighted band (J/token by facility energy, tok/s by the
    output served: 28.5 % × 31.79 % = ±9 %), and the card names the group it comes from; a run calibrated in-sample
    shows none."""
    res = _uao(synthetic_result())
    ext = _cal(_two_pools(res), [CALIBRATED, EXTRAPOLATED])
    flat = " ".join(summary_table(ext).split())
    jb = round(46.0 * (1 - 0.583))  # 19
    assert f"facility {fmt_jpt(ext.report['joules_per_output_token']['facility'])} ≥±{jb} %" in flat, flat
    assert "(b200-reasoning's band, by pool share)" in flat and "±46" not in flat.split("Binding constraint")[0] \
        .split("J / output token")[1]
    tb = round(31.79 * (1 - 0.715))  # 9
    assert re.search(rf"Φ_sys 100\.0% = [\d.]+ [kM]?tok/s ≥±{tb} %", flat), flat
    assert re.search(rf"Throughput \(output\) [\d.]+ [kM]?tok/s ≥±{tb} %", flat)
    page = render_html(ext, {})
    assert re.findall(r'<small class="band nw"[^>]*>([^<]*)</small>', page) == [f"≥±{jb} %", f"≥±{tb} %"]
    jcard = page.split("Joules per output token")[1].split('<div class="card"')[0]
    assert "band: b200-reasoning&#x27;s band, by pool share" in jcard or "band: b200-reasoning's band" in jcard, jcard
    row = re.search(r"Output throughput</td><td class=\"l\">(.*?)</td>", page).group(1)
    assert f"≥±{tb} %" in row and "b200-reasoning" in row, row
    # the band's figure from the fixture's shares (the in-sample pool adds nothing to an out-of-sample band)
    from dcsim.metrics.fmt import headline_band
    assert headline_band(ext.report)["j_per_tok_pct"] == pytest.approx(46.0 * (1 - 0.583))
    assert headline_band(ext.report)["tok_s_pct"] == pytest.approx(31.79 * (1 - 0.715))
    # compare's band between runs on different profiles: the same weighting, in-sample groups counted too
    from dcsim.report.compare import run_error_band
    assert run_error_band(ext.report)["tok_s_pct"] == pytest.approx(0.715 * 3.556 + 0.285 * 31.79)
    assert run_error_band(ext.report)["j_per_tok_pct"] == pytest.approx(0.583 * 3.033 + 0.417 * 46.0)
    # in-sample calibrated (reference): no band on the headline
    cal = _cal(res, [CALIBRATED])
    flat = " ".join(summary_table(cal).split())
    assert "±" not in flat.split("Binding constraint")[0] and "≥±" not in flat
    assert 'class="band' not in render_html(cal, {}).split("<h2>")[0]


def test_a_batch_extrapolated_band_is_a_lower_bound_on_every_surface():
    """A calibrated record run beyond its batches printed "≥±4 %" in the headline and "±4 %" in the figures' legends,
    under a banner saying no error band is measured there: one rule (band_is_lower_bound) makes both "≥"."""
    from dcsim.metrics.fmt import headline_band, fmt_headline_band, out_of_sample_bands
    from dcsim.plots.figures import band_label

    rec = {**CALIBRATED, "extrapolated": True}
    rep = _cal(synthetic_result(), [rec]).report
    assert fmt_headline_band(headline_band(rep), "tok_s_pct") == "≥±4 %"
    assert band_label(out_of_sample_bands(rep)) == "h100-chat calibrated ≥±4 % tok/s"


def test_uncalibrated_transfer_bands_the_headline_not_its_own_in_sample_fit():
    """A transferred group's band (±28 % tok/s here) is on the headline; its lower bound is said only when the record
    says it is one."""
    res = _uao(synthetic_result())
    tr = {**CALIBRATED, "group": "hall", "status": "transferred", "in_range_status": "transferred",
          "error_band_pct": {"tok_s_pct": 28.0, "j_per_tok_pct": 31.0}}
    flat = " ".join(summary_table(_cal(res, [tr])).split())
    assert "facility " in flat and "±31 % (hall's band)" in flat and "≥±" not in flat


def test_u_and_phi_sys_say_what_they_count_and_served_over_c_shows_its_bases():
    """The card read "U = demand offered ÷ ceiling" beside demand above the ceiling and U 82.3 %, and Φ_sys 100 %
    beside 20.1 % of arrived tokens shed; the summary's "Served ÷ compute ceiling C" 82.0 % beside U 82.3 % read as
    a second U. Offered is said to be clipped to the ceiling, the shed share to lie outside Φ_sys's base, and the
    served ÷ C row shows its two bases and U on its own."""
    res = _uao(synthetic_result(), shed=0.201)
    page = render_html(res, {})
    card = page.split("Utilization-adjusted output")[1].split('<div class="card"')[0]
    assert "offered = the work waiting, clipped on each tick to the ceiling" in card
    assert "the 20.1% of arrived tokens shed is outside Φ<sub>sys</sub>'s base" in card
    # folded: open, the note ran ~10 lines and made the card row ~500 px tall (mixed-fleet at 1,280 px)
    note = re.search(r'<details class="note"><summary>what U and Φ<sub>sys</sub> count</summary>(.*?)</details>', card)
    assert note and "clipped on each tick" in note.group(1), card
    row = re.search(r"Served ÷ compute ceiling C</td><td class=\"l\">(.*?)</td>", page).group(1)
    text = re.sub(r"<[^>]+>", "", row)
    assert re.fullmatch(r"[\d.]+% \(served [\d.]+ [kM]?tok/s ÷ mean compute ceiling C 307 ktok/s; not U 90\.0%, "
                        r"which is offered ÷ the ceiling min\(C, P, Q\) [\d.]+ [kM]?tok/s\)", text), text
    flat = " ".join(summary_table(res).split())
    assert "offered = the work waiting, clipped on each tick to the ceiling" in flat


def test_energy_parts_are_named_as_the_power_figure_names_them():
    """The energy table showed server_non_gpu_and_rack, loss_pdu, power_losses beside a power figure saying "rest of
    IT (host, network)" and "delivery losses"; the summary counted the fixed loads as losses ("losses 826 kWh
    (delivery 706 kWh + fixed loads 120 kWh)") where the figure draws them apart."""
    from dcsim.metrics.fmt import ENERGY_LABELS
    from dcsim.plots.figures import power_stack_plot

    res = synthetic_result()
    res = _with(res, energy_j={**res.report["energy_j"], "loss_pdu": 1e8, "loss_ups": 5e8})
    page = render_html(res, {})
    table = page[page.index("component (parts indented"):]
    table = table[:table.index("</table>")]
    names = re.findall(r'<td class="l" title="energy_j\.(\w+)">(?:&nbsp;)*(?:└ )?([^<]*)</td>', table)
    labels = dict(names)
    assert labels["server_non_gpu_and_rack"] == "rest of IT (host, network)"
    assert labels["delivery_losses"] == "delivery losses" and labels["fixed_loads"] == "fixed loads"
    assert labels["loss_pdu"] == "PDU" and labels["power_losses"] == "delivery losses + fixed loads"
    assert not any("_" in lab for _, lab in names), names
    # the figure's legend says the same words, read from ENERGY_LABELS (a changed label moves both)
    import dcsim.metrics.fmt as fmt_mod
    renamed = {**ENERGY_LABELS, "server_non_gpu_and_rack": "host and network", "fixed_loads": "offices, lighting"}
    orig = dict(ENERGY_LABELS)
    try:
        fmt_mod.ENERGY_LABELS.update(renamed)
        legend = [t.get_text() for t in power_stack_plot(res).axes[0].get_legend().get_texts()]
    finally:
        fmt_mod.ENERGY_LABELS.clear()
        fmt_mod.ENERGY_LABELS.update(orig)
    for k in ("gpu", "server_non_gpu_and_rack", "cooling", "delivery_losses", "fixed_loads"):
        assert renamed[k] in legend, (k, legend)
    e = res.report["energy_j"]
    from dcsim.metrics.fmt import fmt_energy
    flat = " ".join(summary_table(res).split())
    assert (f"overhead: cooling {fmt_energy(e['cooling'])} delivery losses {fmt_energy(e['delivery_losses'])} "
            f"fixed loads {fmt_energy(e['fixed_loads'])}") in flat
    assert "losses " + fmt_energy(e["power_losses"]) not in flat
    assert "Energy, cooling / delivery losses / fixed loads" in page


def test_cards_wrap_between_parts_and_numbers_hold_their_units():
    """At 1,024 px the J/token and delivered-power cards ran past their edge (.card .big nowrap); energy figures and
    the controller log's local times wrapped ("11.1 / MWh", "2026-07- / 15 11:31"); the controller row ran its
    fields together ("mean clock 0.982 in service no GPU in service on ...": HTML collapses the terminal's runs of
    spaces)."""
    big = re.search(r"\.card \.big\{([^}]*)\}", _CSS).group(1)
    assert "nowrap" not in big
    res = synthetic_result()
    ctl = {"capped_share": 0.469, "mean_clock": 0.982, "out_of_service_share": 0.095}
    page = render_html(_with(res, controller=ctl), {})
    assert '<span class="nw">' in page.split("Joules per output token")[1].split("</div></div>")[0]
    assert ("capped 46.9% of the ticks (each draws its budget); mean clock 0.982 in service; no GPU in service on "
            "9.5% of the ticks") in page
    log = page.split("<h2>Controller log</h2>")[1].split("</table>")[0]
    assert re.search(r'<td class="nw">day 196 \d\d:\d\d</td>', log)
    energy = page[page.index("component (parts indented"):].split("</table>")[0]
    assert re.search(r'<td class="nw">[\d.]+ [kMG]?Wh</td>', energy)


def test_energy_overheads_are_split_in_one_place_for_both_views():
    """The overhead split was written twice (terminal, HTML summary), the terminal calling power_losses "losses" where
    the HTML table said "delivery losses + fixed loads": both read dcsim.metrics.fmt.energy_overheads now, with the
    split when the report has it and the sum named as ENERGY_LABELS names it when it does not."""
    from dcsim.metrics.fmt import energy_overheads, fmt_energy

    res = synthetic_result()
    e = {k: v for k, v in res.report["energy_j"].items() if k not in ("delivery_losses", "fixed_loads")}
    old = _with(res, energy_j=e)
    parts = energy_overheads(e)
    assert [lab for lab, _ in parts] == ["cooling", "delivery losses + fixed loads"]
    flat = " ".join(summary_table(old).split())
    assert "overhead: " + " ".join(f"{lab} {fmt_energy(v)}" for lab, v in parts) in flat, flat
    row = re.search(r'<td class="l">Energy, cooling / ([^<]*)</td><td class="l">([^<]*)</td>', render_html(old, {}))
    assert row.group(1) == "delivery losses + fixed loads", row.group(0)
    assert row.group(2) == " / ".join(fmt_energy(v) for _, v in parts)
    split = energy_overheads(res.report["energy_j"])
    assert [lab for lab, _ in split] == ["cooling", "delivery losses", "fixed loads"]


def test_the_headline_band_is_computed_once_per_view(monkeypatch):
    """fmt_headline_band recomputed headline_band on every call (three walks in headline_rows, one in summary_table,
    two in the cards): each view computes it once and hands the dict on."""
    import dcsim.report.html as html_mod
    import dcsim.report.summary as summary_mod
    from dcsim.metrics import fmt

    calls, original = [], fmt.headline_band

    def counted(report):
        calls.append(1)
        return original(report)

    res = _cal(_two_pools(_uao(synthetic_result())), [CALIBRATED, EXTRAPOLATED])
    for mod in (summary_mod, html_mod, fmt):  # fmt's own: fmt_headline_band walked it on every call
        monkeypatch.setattr(mod, "headline_band", counted)
    summary_table(res)
    assert len(calls) == 1
    calls.clear()
    render_html(res, {})
    assert len(calls) == 1



def test_the_band_says_by_pool_share_only_where_it_weighted():
    """A report missing a pool's energy figure takes the widest pool's band for J/token: its band is not said to be
    weighted by pool share (it was, whenever the run had several pools)."""
    import copy
    from dcsim.metrics.fmt import headline_band
    ext = _cal(_two_pools(_uao(synthetic_result())), [CALIBRATED, EXTRAPOLATED])
    assert headline_band(ext.report)["weighted"]
    bare = copy.deepcopy(ext.report)
    bare["pools"][0].pop("energy_j")
    assert headline_band(bare)["j_per_tok_pct"] == pytest.approx(46.0)  # the widest: not weighted
    assert not headline_band(bare)["weighted"]
