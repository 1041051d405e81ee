"""What report.html and the terminal summary say about a run's headline figures (the audits of 2026-12-05): the band
a transferred or extrapolated rack group puts on them, what U, Φ_sys and "Served ÷ compute ceiling C" count, the
energy parts named as the power figure names them, and the layout at narrow widths. Uses the synthetic TEST FIXTURE
of test_report.py."""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_report import synthetic_result  # noqa: E402  (test fixture, not shipped)

from dcsim.report.html import _CSS, render_html  # noqa: E402
from dcsim.report.summary import summary_table  # noqa: E402

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


def test_headline_figures_carry_the_band_of_an_extrapolated_group():
    """mixed-fleet's card read "3.13 J" bare under a banner saying ≥±46 % J/token: the J/token and the output figures
    now carry the band of the group run beyond its profile (its calibration record's own band, not recomputed), on
    the terminal and the cards alike; a run calibrated in-sample shows none."""
    res = _uao(synthetic_result())
    ext = _cal(res, [CALIBRATED, EXTRAPOLATED])
    flat = " ".join(summary_table(ext).split())
    assert "J / output token GPU" in flat and "each ≥±46 % (b200-reasoning's band)" in flat
    assert re.search(r"Φ_sys 100\.0% = [\d.]+ [kM]?tok/s ≥±32 %", flat), flat
    assert re.search(r"Throughput \(output\) [\d.]+ [kM]?tok/s ≥±32 %", flat)
    page = render_html(ext, {})
    assert re.findall(r'<small class="band nw"[^>]*>([^<]*)</small>', page) == ["≥±46 %", "≥±32 %"]
    # in-sample calibrated (reference): no band on the headline
    cal = _cal(res, [CALIBRATED])
    flat = " ".join(summary_table(cal).split())
    assert "±" not in flat.split("Binding constraint")[0] and "≥±" not in flat
    assert 'class="band' not in render_html(cal, {}).split("<h2>")[0]


def test_uncalibrated_transfer_bands_the_headline_not_its_own_in_sample_fit():
    """A transferred group's band (±28 % tok/s here) is on the headline; its lower bound is said only when the record
    says it is one."""
    res = _uao(synthetic_result())
    tr = {**CALIBRATED, "group": "hall", "status": "transferred", "in_range_status": "transferred",
          "error_band_pct": {"tok_s_pct": 28.0, "j_per_tok_pct": 31.0}}
    flat = " ".join(summary_table(_cal(res, [tr])).split())
    assert "each ±31 % (hall's band)" in flat and "≥±" not in flat


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
    # the figure's legend says the same words
    src = inspect.getsource(power_stack_plot)
    for k in ("gpu", "server_non_gpu_and_rack", "cooling", "delivery_losses", "fixed_loads"):
        assert f'"{ENERGY_LABELS[k]}"' in src, k
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
