"""report.html's first screen and compare's table as a planner reads them at a glance (walkthrough 2026-12-06,
slice WALK3): the caveat banners above the cards are one line each, their detail folded; the binding card's
"undetermined within the band" detail folded under its lead; compare says what its ✓ / ✗ marks mean."""

from __future__ import annotations

import re
import types

from dcsim.report.html import render_html

#: the B200 reasoning pool of scenarios/mixed-fleet.yaml as its report.json records it (provenance.calibration, the
#: fields the caveats read): decode context 5.8x its profile's, clock below its measured range on all its GPU-time
B200_REASONING = {
    "group": "b200-reasoning", "for": "B200 / llama-3.1-405b / fp8 / TP4", "profile": "B200_llama-3.1-405b_fp8_tp4",
    "status": "context-extrapolated", "in_range_status": "calibrated", "band_lower_bound": True,
    "error_band_pct": {"j_per_tok_pct": 46.0, "tok_s_pct": 31.79}, "extrapolated": False, "cap_extrapolated": False,
    "context_extrapolated": True, "decode_context": 5872.5, "mean_input": 358.3, "measured_context_max": 1017.0,
    "measured_prompt_max": 634.0, "batch_limit": 79.9, "measured_batch_max": 510.466, "limit_frac_tdp": 1.0,
    "limit_w": 1000.0, "measured_cap_min_frac": 1.0, "clock_below_range_share": 1.0, "clock_below_range_min": 0.565,
    "measured_clock_min": 1.0, "clock_min_of": "profile", "cap_min_of": "profile",
    "gamma_source": "assumption (no cap measurements for B200; gamma fixed at 2)", "stack_current": True,
    "serving_stack": "vLLM 0.11.1 (ML.ENERGY Leaderboard v3.0, 2025)", "levers": [], "band_notes": [],
}


def _html(calibration: list[dict]) -> str:
    report = {"scenario": "probe", "duration_s": 3600.0, "provenance": {"calibration": calibration},
              "binding": {"share": {"demand": 0.4, "compute": 0.1, "power": 0.5, "cooling": 0.0}}}
    return render_html(types.SimpleNamespace(report=report), {})


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_caveat_banners_are_one_line_each_with_the_band_the_detail_folded():
    """Above the cards each caveat is a closed <details>: its summary names the group, how far out of range and the
    band (or that none is measured); the full text opens under it. Open, mixed-fleet's two banners ran 8 lines above
    the cards on a 1024x768 screen (main until 2026-12-06: <div class="caveat"> with the whole text)."""
    html = _html([B200_REASONING])
    head = html[:html.index('class="cards"')]
    banners = re.findall(r'<details class="caveat">(.*?)</details>', head, re.S)
    assert len(banners) == 2, head
    summaries = [_text(re.search(r"<summary>(.*?)</summary>", b, re.S).group(1)) for b in banners]
    ctx, clock = summaries
    assert "Extrapolated context." in ctx and "b200-reasoning" in ctx and "5.8x" in ctx
    assert "≥±32 % tok/s" in ctx and "≥±46 % J/token" in ctx
    assert "b200-reasoning" in clock and "100.0 %" in clock and "0.56" in clock and "no error band" in clock
    assert "0.56 of full clock" in clock  # what 0.56 is a share of (review of WALK3, 2026-12-06: a bare "down to 0.56")
    for s in summaries:  # one line at 1024 px: well under the ~140 characters a line holds there (2 at most)
        assert len(s) <= 200, s
    # the whole text is still there, folded under its summary
    assert "docs/validation.md H-*-gpqa-*" in _text(banners[0]).replace(" ", " ")
    assert "clock^γ" in banners[1]
    assert "<details class=\"caveat\" open" not in html


def test_binding_card_folds_where_the_band_leaves_it_undetermined():
    """The binding card's lead says the other limit could bind within the band; the numbers behind it (the share of the
    run, the gaps, the band's window) are folded under it, as U's meaning is on the output card: open, they made the
    card row the tallest on mixed-fleet's first screen."""
    wb = {"share": 0.606, "alternatives": {"demand": 0.0, "compute": 0.606, "power": 0.0, "cooling": 0.0},
          "median_gap": {"compute": 0.042}, "tok_s_pct": 31.79, "j_per_tok_pct": 46.0, "lower_bound": True,
          "groups": ["b200-reasoning"], "ratio_window": [0.37, 1.10]}
    report = {"scenario": "probe", "duration_s": 3600.0, "provenance": {"calibration": [B200_REASONING]},
              "binding": {"share": {"demand": 0.381, "compute": 0.051, "power": 0.567, "cooling": 0.0},
                          "within_band": wb}}
    html = render_html(types.SimpleNamespace(report=report), {})
    card = html[html.index(">Binding constraint<"):]
    card = card[:card.index('class="card"')]
    assert "could bind instead within the calibration band" in card  # the lead, open
    folded = re.search(r'<details class="note"><summary>[^<]*</summary>(.*?)</details>', card, re.S)
    assert folded and "undetermined within the calibration band" in folded.group(1)
    # the lead says how much of the run the band leaves undetermined: 60.6 %, against the "power 56.7%" it names
    # (review of WALK3, 2026-12-06: only the folded line said it)
    lead = _text(card[:card.index("<details")])
    assert re.search(r"could bind instead within the calibration band\W+undetermined on 60\.6 ?% of the run", lead), lead


def test_each_pools_figures_carry_its_own_band():
    """With several pools, each pool's rows (terminal and report.html's summary) carry that pool's band: mixed-fleet's
    reasoning pool read "out 63.7 ktok/s ... facility 4.08 J" bare, though its groups' band is ≥±32 % tok/s and
    ≥±46 % J/token (the headline's ≥±9 / ≥±17 % is the fleet's, weighted by share). A calibrated pool reads bare."""
    from dcsim.report.summary import pool_rows

    chat = {"group": "h100-chat", "status": "calibrated", "in_range_status": "calibrated", "band_lower_bound": False,
            "error_band_pct": {"j_per_tok_pct": 3.0, "tok_s_pct": 3.6}, "stack_current": True}
    pools = [{"name": n, "classes": [c], "groups": [{"name": n, "gpus": g, "gpu": gpu, "model": m, "precision": pr}],
              "throughput_tok_s": {"output": o, "demand_output": d}, "joules_per_output_token": {"it": it, "facility": fa},
              "binding": {"share": {"demand": 0.5, "power": 0.5}}, "mean_clock": 0.8}
             for n, c, g, gpu, m, pr, o, d, it, fa in (
                 ("h100-chat", "chat", 320, "H100-SXM", "llama-3.1-70b", "bf16", 1.6e5, 1.66e5, 1.97, 2.75),
                 ("b200-reasoning", "reasoning", 192, "B200", "llama-3.1-405b", "fp8", 6.37e4, 8.38e4, 2.94, 4.08))]
    report = {"pools": pools, "provenance": {"calibration": [chat, B200_REASONING]}}
    rows = [v for _, v in pool_rows(report)]
    chat_row = next(v for v in rows if v.startswith("out 160"))
    b200_row = next(v for v in rows if v.startswith("out 63.7"))
    assert "±" not in chat_row
    assert b200_row.startswith("out 63.7 ktok/s ≥±32 %") and "facility 4.08 J (each ≥±46 %)" in b200_row


def test_grid_and_thermal_figures_name_the_quantity_on_their_y_axis():
    """The grid figure's meter panel read "kW" and the thermal figure's axis "°C": a unit with no quantity; they now
    say what is drawn in that unit."""
    import numpy as np

    from dcsim.plots.flex import grid_flex_figure, thermal_figure

    t = np.arange(0.0, 7200.0, 60.0)
    cap = np.where((t >= 3600) & (t < 5400), 297e3, 495e3)
    ts = {"t_s": t, "meter_power_w": np.minimum(cap, 480e3), "facility_power_w": np.full(t.size, 480e3),
          "interconnect_w": cap, "curtailment": ((t >= 3600) & (t < 5400)).astype(float)}
    fig = grid_flex_figure(({"scenario": "probe", "grid": {"contract_w": 495e3}}, ts))
    assert fig.axes[0].get_ylabel() == "power (kW)"
    hot = np.linspace(20.0, 46.0, t.size)
    ts = {"t_s": t, "t_space_c": hot, "t_loop_c": hot - 5.0, "thermal_engaged": np.ones(t.size),
          "thermal_throttled": (hot > 40).astype(float), "thermal_shed": (hot > 45).astype(float)}
    fig = thermal_figure(({"scenario": "probe", "thermal": {"t_limit_c": 87.0, "shed_space_c": 45.0}}, ts))
    assert fig.axes[0].get_ylabel() == "temperature (°C)"


def test_an_expect_line_reads_a_token_count_under_half_a_token_as_zero():
    """grid-flex's claim on the deferrable work's SLO-meeting change read "= -2.328e-10 in [-1,000,000, 1,000,000]": a
    difference of two equal token sums in floating point. A token count under half a token reads 0; other figures
    keep their digits."""
    from dcsim.report.summary import expect_lines

    report = {"expect": {"checks": [
        {"path": "flexibility.change.slo_meeting_deferrable_tokens", "value": -2.328e-10, "lo": -1e6, "hi": 1e6,
         "ok": True},
        {"path": "binding.share.power", "value": 2.5e-10, "lo": 0.0, "hi": 0.1, "ok": True}]}}
    tok, share = expect_lines(report)
    assert tok == "ok   flexibility.change.slo_meeting_deferrable_tokens = 0 in [-1,000,000, 1,000,000]"
    assert "2.5e-10" in share


def test_the_slo_tail_banner_is_one_line_naming_the_classes():
    """The SLO tail caveat's banner, like the calibration ones, is one line (which classes, how near saturation, what to
    do) over its whole text folded; it was its whole text, 5 lines at 1024 px."""
    from dcsim.serving.slo_estimate import TAIL_CAVEAT_SHARE

    report = {"scenario": "probe", "duration_s": 3600.0, "slo_tail_near_ceiling": {"chat": TAIL_CAVEAT_SHARE + 0.2},
              "binding": {"share": {"demand": 1.0, "compute": 0.0, "power": 0.0, "cooling": 0.0}}}
    html = render_html(types.SimpleNamespace(report=report), {})
    head = html[:html.index('class="cards"')]
    (banner,) = re.findall(r'<details class="caveat">(.*?)</details>', head, re.S)
    summary = _text(re.search(r"<summary>(.*?)</summary>", banner, re.S).group(1))
    assert summary.strip().startswith("SLO tail. TTFT p99 is uncertain")
    assert f"(chat {100 * (TAIL_CAVEAT_SHARE + 0.2):.0f} %)" in summary and "fidelity=request" in summary
    assert len(summary) <= 200 and "76 % below" in banner  # the measured range, in the folded text


def test_the_slo_tail_one_liner_keeps_the_attainment_bias():
    """The SLO tail banner's one line says how far the estimate's attainment reads high there, from the caveat's own
    module (review of WALK3, 2026-12-06: report.html re-derived the caveat's rule and its line dropped the band)."""
    from dcsim.serving.slo_estimate import TAIL_ATTAINMENT_HIGH_PTS, TAIL_CAVEAT_SHARE, tail_brief

    tail = {"all": TAIL_CAVEAT_SHARE + 0.3}
    report = {"scenario": "probe", "duration_s": 3600.0, "slo_tail_near_ceiling": tail,
              "binding": {"share": {"demand": 1.0, "compute": 0.0, "power": 0.0, "cooling": 0.0}}}
    html = render_html(types.SimpleNamespace(report=report), {})
    (banner,) = re.findall(r'<details class="caveat">(.*?)</details>', html[:html.index('class="cards"')], re.S)
    summary = _text(re.search(r"<summary>(.*?)</summary>", banner, re.S).group(1))
    assert f"attainment up to {TAIL_ATTAINMENT_HIGH_PTS} points high" in summary, summary
    assert tail_brief(tail) in summary and f"all classes {100 * (TAIL_CAVEAT_SHARE + 0.3):.0f} %" in summary
    assert tail_brief({"chat": TAIL_CAVEAT_SHARE}) is None  # the caveat's own rule: a share above it


def test_an_expect_line_keeps_a_ratio_and_a_failed_checks_digits():
    """The half-a-token rule reads a plain token count only, on a check that held with 0 in its range: a ratio whose
    path ends in "tokens" (year-richmond's slo_meeting_tokens / slo_meeting_tokens) of 0.3 read "= 0 in [0.2, 0.4]",
    and a failed check read "= 0 in [0, 1,000,000] — below its range" (review of WALK3, 2026-12-06)."""
    from dcsim.report.summary import expect_lines

    report = {"expect": {"checks": [
        {"path": "flexibility.with.slo_meeting_tokens / flexibility.without.slo_meeting_tokens", "value": 0.3,
         "lo": 0.2, "hi": 0.4, "ok": True},
        {"path": "flexibility.change.slo_meeting_tokens", "value": -2.3e-10, "lo": 0.0, "hi": 1e6, "ok": False,
         "reason": "below its range"}]}}
    ratio, failed = expect_lines(report)
    assert "= 0.3 in [0.2, 0.4]" in ratio
    assert "= -2.3e-10 in [0," in failed
