"""The binding answer within the calibration band (issue 14.6): a transferred or extrapolated node profile's band
must qualify which limit binds — in the run's summary and report.html's binding card, in ``dcsim plan``'s answers —
not only travel as a caveat line. The rule is one helper, :func:`dcsim.tpf.ceilings_within_band`: the compute
ceiling moves with the tok/s band, the power and cooling ceilings (budgets over J/token) with the J/token band."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dcsim
from dcsim.tpf import band_ratio_window, ceilings_within_band, limits_within_band

REF = "scenarios/reference.yaml"
FP8 = {"racks.0.node.precision": "fp8"}  # transferred: ±27.76 % tok/s, ±30.83 % J/token (pooled-H100-SXM)


def test_band_ratio_window_upper_end_is_capped_by_what_the_gpus_can_draw():
    """P/C is the budget over the fleet's full-load draw, so P above C by r binds instead only if the node truly
    draws r times its modelled power. The reference H100 in FP8 is modelled at ~566 W a GPU at full load; at its
    700 W TDP the replica's wall power is 1.20x that (wall_power, host and PSU included), so the window's top is
    1.20, not the bands' product 1.67 (an H100 drawing ~1,230 W). The lower end (the node drawing less) is not capped."""
    from dcsim.engine.build import build_models
    from dcsim.node.power import tdp_wall_ratio, wall_power
    from dcsim.scenario import load_scenario

    g = build_models(load_scenario(REF, FP8)).groups[0]
    n = g.node
    full_gpu_w = float(np.max(g.table.gpu[-1]))
    cap = g.power_cap_ratio
    # measured 2026-12-05 (session 52, the H100 pool refitted with its host wait; 568.29 W and 1.2007 before): the
    # model's full-load draw 565.95 W a GPU, the cap 1.2050 (the GPUs at their 700 W TDP over that, at the wall: host
    # and PSU losses included, so not 700 / 565.95 = 1.237)
    assert full_gpu_w / n.gpus_per_replica == pytest.approx(565.95, abs=0.01)
    assert cap == pytest.approx(1.2050, abs=1e-4)
    assert cap < n.gpu.tdp_w / (full_gpu_w / n.gpus_per_replica)  # the wall's fixed part damps the GPUs' ratio
    assert tdp_wall_ratio(n.gpu, n.gpus_per_replica, n.gpus_per_node, full_gpu_w) == cap  # the group reads the rule
    assert float(wall_power(n.gpu, n.gpus_per_replica, n.gpus_per_node, n.gpu.tdp_w * n.gpus_per_replica)) > float(
        wall_power(n.gpu, n.gpus_per_replica, n.gpus_per_node, full_gpu_w))
    lo, hi = band_ratio_window(0.2776, 0.3083, cap)
    assert hi == pytest.approx(cap) and lo == band_ratio_window(0.2776, 0.3083)[0]
    # P 30 % above C: within the bands' product, but the node would have to draw 1.3x its modelled power, above TDP
    assert not ceilings_within_band(100.0, "compute", 130.0, "power", 0.2776, 0.3083, cap)
    assert ceilings_within_band(100.0, "compute", 115.0, "power", 0.2776, 0.3083, cap)
    # a cap below 1 (a model drawing above TDP) never excludes an exact tie; no cap keeps the product
    assert band_ratio_window(0.1, 0.1, 0.9)[1] == 1.0
    assert band_ratio_window(0.1, 1.0)[1] == math.inf


def test_ceilings_within_band_compute_against_power_or_cooling_only():
    """The reference in FP8 at 16:00: C 249,177, P 268,289, Q 264,625 tok/s (P and Q 7.7 % and 6.2 % above C):
    either may bind within ±28 % tok/s, ±31 % J/token; 2x C may not; without a band only equality is a tie. P and Q
    are budgets over the same J/token: the band moves them together and never flips them."""
    assert ceilings_within_band(249_177, "compute", 268_289, "power", 0.2776, 0.3083)
    assert ceilings_within_band(264_625, "cooling", 249_177, "compute", 0.2776, 0.3083)
    assert not ceilings_within_band(249_177, "compute", 2 * 268_289, "power", 0.2776, 0.3083)
    assert not ceilings_within_band(249_177, "compute", 268_289, "power", 0.0, 0.0)
    assert not ceilings_within_band(268_289, "power", 264_625, "cooling", 0.5, 0.5)
    assert not ceilings_within_band(1.0, "compute", math.inf, "cooling", 0.5, 0.5)  # an unlimited plant
    # a calibrated profile's small band: 7.7 % apart is outside ±4 % tok/s, ±3 % J/token ((1.04)(1.03) = 1.071)
    assert not ceilings_within_band(249_177, "compute", 268_289, "power", 0.04, 0.03)


def test_limits_within_band_per_tick():
    """Per tick: which other limit could bind; demand-bound ticks never; the named limit itself never."""
    b = np.array([0, 1, 2, 3, 1])
    c = np.array([10.0, 10.0, 10.0, 10.0, 10.0])
    p = np.array([10.5, 10.5, 9.5, 30.0, 30.0])
    q = np.array([30.0, 30.0, 30.0, 9.0, 30.0])
    out = limits_within_band(b, c, p, q, 0.1, 0.1)
    assert out["compute"]["power"].tolist() == [False, True, False, False, False]
    assert out["power"]["compute"].tolist() == [False, False, True, False, False]
    assert out["cooling"]["compute"].tolist() == [False, False, False, True, False]
    assert not any(v.any() for k in out for kk, v in out[k].items() if "compute" not in (k, kk))


def test_alternatives_are_kept_per_limit_named():
    """[P, P, P, C, C]: P 5 % under C on the power-bound ticks, Q 5 % over C on the compute-bound ones, band ±10 %:
    power leads, and only compute could bind instead of it; cooling was an alternative of compute on other ticks
    and must not be said after "power" (pooled, the headline read "power …, or compute or cooling"). P = Q exactly
    is no alternative: which of two equal budgets is named is the tie order."""
    from dcsim.metrics.fmt import within_band_lead, within_band_lead_names

    b = np.array([2, 2, 2, 1, 1])
    c = np.full(5, 100.0)
    p = np.array([95.0, 95.0, 95.0, 200.0, 200.0])
    q = np.array([200.0, 200.0, 200.0, 105.0, 105.0])
    out = limits_within_band(b, c, p, q, 0.1, 0.1)
    assert out["power"]["compute"].tolist() == [True, True, True, False, False]
    assert not out["power"]["cooling"].any()
    assert out["compute"]["cooling"].tolist() == [False, False, False, True, True]
    frac = lambda v: float(np.count_nonzero(v)) / 5  # noqa: E731
    wb = {"share": 1.0, "share_by_named": {k: frac(np.logical_or.reduce(list(v.values()))) for k, v in out.items()},
          "by_named": {k: {kk: frac(vv) for kk, vv in v.items()} for k, v in out.items()},
          "alternatives": {"compute": 0.6, "power": 0.0, "cooling": 0.4}}
    assert within_band_lead_names(wb, "power", 1.0) == ["compute"]
    assert within_band_lead(wb, "power", 1.0) == ("compute could bind instead within the calibration band "
                                                  "throughout the run")
    assert not ceilings_within_band(100.0, "power", 100.0, "cooling", 0.5, 0.5)


@pytest.fixture(scope="module")
def fp8_noon():
    """The audit's case, shortened: the reference hall in FP8 from 12:00, compute-bound with P and Q ~9-12 % above C."""
    return dcsim.run(REF, overrides={**FP8, "duration": "30 min", "start": "2026-07-15T12:00"})


@pytest.fixture(scope="module")
def bf16_noon():
    return dcsim.run(REF, overrides={"duration": "30 min", "start": "2026-07-15T12:00"})


def test_run_records_where_the_binding_is_undetermined_within_its_band(fp8_noon, bf16_noon):
    """report.json ``binding.within_band``: the FP8 run is compute-bound on every tick, and power and cooling lie
    within its band on every one; the calibrated BF16 run has no out-of-sample band (None)."""
    b = fp8_noon.report["binding"]
    assert b["share"]["compute"] == 1.0
    wb = b["within_band"]
    assert wb["share"] == 1.0 and wb["alternatives"]["power"] == 1.0 and wb["alternatives"]["cooling"] == 1.0
    assert wb["alternatives"]["compute"] == 0.0
    assert 0 < wb["median_gap"]["power"] < wb["ratio_window"][1] - 1
    assert wb["tok_s_pct"] == pytest.approx(27.76) and wb["j_per_tok_pct"] == pytest.approx(30.83)
    assert wb["groups"] == ["hall-a"] and wb["lower_bound"] is False
    assert bf16_noon.report["binding"]["within_band"] is None


def test_summary_and_html_card_say_the_binding_is_undetermined_within_the_band(fp8_noon, bf16_noon):
    """The terminal's binding row and report.html's binding card read "compute most of the time (100.0%)" where power
    and cooling sat 8-9 % above compute under a ±28 %/±31 % band (the audit of 2026-12-05); they now add "power or
    cooling could bind instead within the calibration band" inside the parenthesis and a line with the gaps ("P and
    Q sit … above C"), the window's top the TDP cap 1.20x. A calibrated run reads as before."""
    from dcsim.report.html import render_html
    from dcsim.report.summary import headline_rows

    rows = dict((k, v) for k, v in headline_rows(fp8_noon.report) if k)
    # undetermined on every tick: the share is said once, in the headline's parenthesis (session 55; it read
    # "(100.0%; …, undetermined on 100.0% of the run)")
    assert rows["Binding constraint"].startswith("compute most of the time (100.0%; power or cooling could bind "
                                                 "instead within the calibration band throughout the run)")
    assert rows["Binding constraint"].count("100.0%") == 1
    text = " ".join(v for _, v in headline_rows(fp8_noon.report))
    assert "undetermined within the calibration band (±28 % tok/s, ±31 % J/token) on 100.0% of the run" in text
    assert "P and Q sit" in text and "above C (median)" in text
    assert "0.50-1.20x" in text
    html = render_html(fp8_noon, {})
    card = html[html.index("Binding constraint"):]
    card = card[:card.index('class="card"')]
    assert "power or cooling could bind instead within the calibration band" in card and "undetermined within the calibration band" in card
    calm = " ".join(v for _, v in headline_rows(bf16_noon.report))
    assert "calibration band" not in calm
    assert "calibration band" not in render_html(bf16_noon, {}).split("Binding constraint", 1)[1][:3000]


def test_plan_answers_carry_the_range_within_the_band():
    """``dcsim plan -q max-gpus`` of the reference in FP8 answered "320 GPUs … binding at the answer: COMPUTE" with
    the ±31 % only on the caveat line: the answer now carries the GPU range within the band (the crossover, 341.0
    GPUs, over each end of the window, 0.50x and the TDP cap 1.20x: 283-683 GPUs, 8-21 racks flat out) and the
    binding its alternatives;
    interconnect-for (455.9 kW; 457.6 before session 52's H100 refit) its range of contract. The calibrated reference has no band and reads as before."""
    from dcsim.plan import format_plan, plan

    r = plan(REF, "max-gpus", overrides=FP8)
    b = r["band"]
    lo, hi = band_ratio_window(0.2776, 0.3083, b["power_cap_ratio"])
    assert hi == pytest.approx(b["power_cap_ratio"]) and hi < 1.25  # the H100's TDP, not the bands' product 1.67
    assert lo == pytest.approx(0.50, abs=0.005)
    # the measured answer (2026-12-05; session 52's H100 host-wait refit moved 339.84 -> 341.04 GPUs and the band's
    # 283.05-680.11 -> 283.03-682.50), not answer_band's arithmetic restated: the crossover 341.0 GPUs over the
    # TDP cap 1.20x and the window's 0.50x; whole racks of 32 GPUs below each end, the answer's own unit (until
    # 2026-12-05 the range was whole replicas, "70-170 replicas (280-680 GPUs)", beside an answer in whole racks;
    # README and docs/sweeps.md quote "8-21 racks (256-672 GPUs)"; tests/test_docs_quotes.py checks the quotes)
    assert r["gpus_at_flip"] == pytest.approx(341.04, abs=0.01)
    assert b["gpus_at_flip"] == pytest.approx([283.03, 682.50], abs=0.01)
    assert b["racks"] == [8, 21] and b["gpus"] == [256, 672] and "replicas" not in b
    assert b["gpus"][0] < r["gpus"] < b["gpus"][1] and r["gpus"] % r["gpus_per_rack"] == 0
    assert set(b["binding_alternatives"]) == {"power", "cooling"}
    txt = " ".join(format_plan(r).split())
    assert "within the calibration band (±28 % tok/s, ±31 % J/token): 8-21 racks (256-672 GPUs) run flat out" \
        in txt, txt
    assert "binding at the answer: COMPUTE, or power or cooling could bind instead within the calibration band" in txt

    ic = plan(REF, "interconnect-for", overrides=FP8)
    i0, i1 = ic["band"]["interconnect_w"]
    assert i0 < ic["interconnect_w"] < i1
    assert "of interconnect" in " ".join(format_plan(ic).split())

    cal = plan(REF, "max-gpus")
    assert cal["band"] is None
    assert "calibration band" not in format_plan(cal)


def test_compare_names_the_limits_within_the_band(fp8_noon, bf16_noon, tmp_path):
    """``dcsim compare`` reads the same rule: a row "Or within the calibration band" names, per run, the limits that
    could bind instead of the one named (the FP8 run: power or cooling; the calibrated BF16 run: none); runs with no
    such limit have no row."""
    from dcsim.report import write_outputs
    from dcsim.report.compare import compare

    a, b = tmp_path / "bf16", tmp_path / "fp8"
    write_outputs(bf16_noon, a, plots=False)
    write_outputs(fp8_noon, b, plots=False)
    table, data = compare([a, b])
    assert [x["within_band"] for x in data["binding"]] == ["none", "power or cooling"]
    row = next(line for line in table.splitlines() if line.startswith("Or within the calibration band"))
    assert "power or cooling" in row and "changed" in row, row
    table2, _ = compare([a, a])
    assert "Or within the calibration band" not in table2
    # the row takes the summary's own headline inputs (binding_headline of binding.share): a report.json without
    # binding.most_common (None) named no alternative until 2026-12-05, though its summary names power or cooling
    import json
    c = tmp_path / "fp8-no-most-common"
    write_outputs(fp8_noon, c, plots=False)
    rep = json.loads((c / "report.json").read_text())
    rep["binding"]["most_common"] = None
    (c / "report.json").write_text(json.dumps(rep))
    _, data3 = compare([a, c])
    assert [x["within_band"] for x in data3["binding"]] == ["none", "power or cooling"]


def test_the_headline_adds_alternatives_only_to_a_limit():
    """A run whose longest binding is demand gets no "or power …" on its headline (that would misname what the band
    reorders: the limits), only the line under it; a zero ceiling is never within the band, even of 100 %."""
    from dcsim.metrics.fmt import within_band_lead, within_band_text

    wb = {"share": 0.5, "alternatives": {"compute": 0.0, "power": 0.5, "cooling": 0.0},
          "median_gap": {"compute": None, "power": 0.05, "cooling": None}, "tok_s_pct": 28.0, "j_per_tok_pct": 31.0,
          "ratio_window": [0.5, 1.67], "lower_bound": True, "groups": ["a"]}
    assert within_band_lead(wb, "demand", 0.5) == ""
    assert within_band_lead(wb, "compute", 0.5) == ("power could bind instead within the calibration band, "
                                                    "undetermined on 50.0% of the run")
    assert within_band_lead(wb, "compute", 1.2) == ""  # undetermined on under half the limit-bound time
    # the whole run undetermined: said once, "throughout"; a tick short of it keeps its share
    whole = {**wb, "share": 1.0}
    assert within_band_lead(whole, "compute", 1.0) == ("power could bind instead within the calibration band "
                                                       "throughout the run")
    assert within_band_lead({**wb, "share": 1439 / 1440}, "compute", 1.0).endswith(
        ", undetermined on 99.9% of the run")
    # one tick of a 1-s day short of every tick prints as 100.0%: not the headline's share again, nor "throughout"
    assert within_band_lead({**wb, "share": 86399 / 86400}, "compute", 1.0).endswith(
        ", undetermined on over 99.9% of the run")
    assert within_band_lead(None, "compute", 1.0) == ""
    assert "(≥±28 % tok/s, ≥±31 % J/token) on 50.0% of the run: P sits 5.0 % above C (median)" in \
        within_band_text(wb)
    assert not ceilings_within_band(0.0, "power", 10.0, "compute", 1.0, 1.0)


def test_several_pools_count_only_the_facility_bound_pools_flags(monkeypatch):
    """With several pools a tick's flags are those of the pool whose binding is the facility's
    (dcsim.tpf.facility_bound_pool): on tick 0 pool 0 is compute-bound with P 5 % above C (within the band) but pool 1,
    power-bound with compute far above, is furthest short for its own work and names the facility's binding; the
    band cannot reorder that. On tick 1 pool 0 is the bound pool and its flag counts. (OR-ed across pools, tick 0
    counted: share 1.0.)"""
    import dcsim.engine.assemble as asm
    from dcsim.engine.build import build_models
    from dcsim.scenario import load_scenario

    m = build_models(load_scenario("scenarios/mixed-fleet.yaml"))
    assert m.multi_pool and len(m.pools) == 2
    monkeypatch.setattr(asm, "group_band", lambda records, groups: {
        "tok_s": 0.1, "j_per_tok": 0.1, "lower_bound": False, "groups": list(groups)})
    f = lambda *v: np.array(v, dtype=float)  # noqa: E731
    ts = {"t_s": f(0, 60), "binding": np.array([2, 1], dtype=np.int8),
          "pool0_binding": np.array([1, 1], dtype=np.int8), "pool1_binding": np.array([2, 0], dtype=np.int8),
          "pool0_compute_tok_s": f(100, 100), "pool0_power_tok_s": f(105, 105), "pool0_cooling_tok_s": f(500, 500),
          "pool1_compute_tok_s": f(300, 300), "pool1_power_tok_s": f(100, 400), "pool1_cooling_tok_s": f(500, 500),
          "pool0_held_tokens": f(60, 600), "pool0_shed_tokens": f(0, 0), "pool0_waiting_tok_s": f(110, 110),
          "pool1_held_tokens": f(6000, 0), "pool1_shed_tokens": f(0, 0), "pool1_waiting_tok_s": f(200, 50)}
    assert asm.bound_pool_of_ticks(m, ts).tolist() == [1, 0]
    wb = asm.binding_within_band(m, ts)
    assert wb["share"] == 0.5
    assert wb["by_named"]["compute"]["power"] == 0.5 and wb["by_named"]["power"]["compute"] == 0.0


def test_group_band_is_the_widest_out_of_sample_band_of_the_groups_asked():
    """One rule for binding.within_band (per pool) and a plan answer's band (the scenario's groups)
    (dcsim.metrics.fmt.group_band): the widest tok/s and J/token band of the out-of-sample groups among those asked,
    an in-sample calibrated group's residual left out; lower_bound from the groups read; None without a band above 0.
    And plan.model_band reads it: the mixed-fleet's out-of-sample groups, the largest power-cap ratio of them."""
    from dcsim.engine.assemble import calibration_provenance
    from dcsim.engine.build import build_models
    from dcsim.metrics.fmt import group_band
    from dcsim.plan import model_band
    from dcsim.scenario import load_scenario

    rec = lambda g, status, t, j, **kw: {"group": g, "status": status,  # noqa: E731
                                         "error_band_pct": {"tok_s_pct": t, "j_per_tok_pct": j}, **kw}
    records = [rec("a", "calibrated", 40.0, 40.0), rec("b", "transferred", 10.0, 30.0),
               rec("c", "transferred", 20.0, 5.0, band_lower_bound=True)]
    both = group_band(records)
    assert both["tok_s"] == pytest.approx(0.20) and both["j_per_tok"] == pytest.approx(0.30)
    assert both["groups"] == ["b", "c"] and both["lower_bound"]
    only_b = group_band(records, ["a", "b"])
    assert only_b["tok_s"] == pytest.approx(0.10) and only_b["groups"] == ["b"] and not only_b["lower_bound"]
    assert group_band(records, ["a"]) is None
    assert group_band([rec("b", "transferred", 0.0, None)]) is None and group_band(None) is None

    m = build_models(load_scenario("scenarios/mixed-fleet.yaml"))
    band, mb = group_band(calibration_provenance(m)), model_band(m)
    assert band is not None and mb["groups"] == band["groups"]
    assert (mb["tok_s"], mb["j_per_tok"], mb["lower_bound"]) == (band["tok_s"], band["j_per_tok"], band["lower_bound"])
    assert mb["power_cap_ratio"] == max(g.power_cap_ratio for g in m.groups if g.name in band["groups"])


def test_max_demand_band_holds_the_node_draw_under_the_tdp_cap():
    """max-demand's range within the band took C·(1 ± b_t) and P, Q over (1 ∓ b_j) with no TDP cap, while max-gpus,
    interconnect-for and the binding alternatives read the window capped (band_ratio_window): a ±50 % tok/s band
    with no J/token error put the top at 1.5x, a node drawing 1.5x its modelled full-load power, though its GPUs at
    TDP allow 1.1x. Now the draw tokens/s × J/token stays within the window's top: the top is 1.1x."""
    from dcsim.plan import answer_band

    out = {"question": "max-demand", "scale": 1.0, "binding": "compute",
           "ceilings": {"compute_tok_s": 100.0, "power_tok_s": 200.0, "cooling_tok_s": 300.0}}
    band = {"tok_s": 0.5, "j_per_tok": 0.0, "lower_bound": False, "groups": ["g"], "power_cap_ratio": 1.1}
    assert answer_band(out, band)["scale"] == pytest.approx([0.5, 1.1])
    uncapped = answer_band(out, {**band, "power_cap_ratio": math.inf})["scale"]
    assert uncapped == pytest.approx([0.5, 1.5])  # no cap: the bands alone, as before
    # the low end: J/token up by at most cap/(1 - b_t) with C at its bottom (P = 200/min(1.4, 1.1/0.5) = 142.9)
    out2 = {**out, "ceilings": {"compute_tok_s": 100.0, "power_tok_s": 110.0, "cooling_tok_s": 300.0}}
    b2 = {**band, "tok_s": 0.1, "j_per_tok": 0.4, "power_cap_ratio": 1.0}
    lo, hi = answer_band(out2, b2)["scale"]
    assert lo == pytest.approx(min(90.0, 110.0 / min(1.4, 1.0 / 0.9)) / 100.0)
    assert hi == pytest.approx(min(100.0 * min(1.1, 1.0 / 0.6), 110.0 / 0.6) / 100.0)
