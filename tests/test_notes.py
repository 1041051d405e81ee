"""Counter-intuitive results are explained in report.notes with figures (issue 12.7), and the
claims hold when checked independently."""

import re
from pathlib import Path

import numpy as np
import pytest

import dcsim
from dcsim.engine.build import build_models, with_interconnect
from dcsim.tpf import capped_ticks

SC = Path(__file__).resolve().parents[1] / "scenarios"


def test_fewer_gpus_serve_more_under_a_power_cap():
    full = dcsim.run(SC / "campus-interconnect.yaml", overrides={"expect": {}})
    fewer = dcsim.run(SC / "campus-interconnect.yaml", overrides={"racks.0.count": 540, "expect": {}})
    note = [n for n in full.report["notes"] if n.startswith("fewer GPUs would serve more")]
    assert note and "19,200 GPUs" in note[0] and "17,280" in note[0]
    # the simulation agrees with the note: 10 % fewer racks, more tokens over the day
    assert fewer.report["tokens"]["output"] > full.report["tokens"]["output"]
    assert full.report["binding"]["share"]["power"] > 0.3
    # the figure's whole fleet is the tpf block's own peak-demand achieved rate (written once: report.json's
    # tpf.fewer_gpus.achieved_tok_s_all repeated it, recomputed, until 2026-12-05), and the note quotes it
    tpf = full.report["tpf"]
    few = tpf["fewer_gpus"]
    assert "achieved_tok_s_all" not in few
    assert few["change"] == pytest.approx(few["achieved_tok_s"] / tpf["achieved_tok_s"] - 1.0, rel=1e-12)
    assert f"{tpf['achieved_tok_s']:,.0f} tok/s with 19,200 GPUs" in note[0]


def test_no_fewer_gpus_note_when_power_does_not_bind():
    res = dcsim.run(SC / "campus-interconnect.yaml", overrides={"racks.0.count": 350, "expect": {}})
    assert res.report["binding"]["share"]["power"] == 0.0
    assert not [n for n in res.report["notes"] if n.startswith("fewer GPUs")]


@pytest.mark.xdist_group("shipped-reference")
def test_larger_interconnect_raises_pue_at_the_same_load(shipped_run):
    res = shipped_run("reference")
    note = [n for n in res.report["notes"] if n.startswith("a larger interconnect would raise PUE")]
    assert note
    m = build_models(res.scenario)
    ts = res.timeseries
    it = float(np.mean(ts["it_power_w"]))
    args = (it, m.liquid_fraction, float(np.mean(ts["t_out_c"])), float(np.mean(ts["t_wb_c"])))
    pue = lambda f: float(f.breakdown(*args)["facility"] / it)  # noqa: E731
    p1, p2 = pue(m.facility), pue(with_interconnect(m, 2 * m.facility.interconnect_w).facility)
    assert p2 > p1
    assert f"PUE is {p1:.3f}" in note[0] and f"{p2:.3f} with" in note[0]
    # with the ratings set explicitly the effect (and the note) goes away
    fixed = dcsim.run(SC / "reference.yaml", overrides={"facility.power_chain.ups_rating": "450 kW",
                                                        "facility.power_chain.transformer_rating": "450 kW",
                                                        "expect": {}})
    assert not [n for n in fixed.report["notes"] if n.startswith("a larger interconnect")]


def test_no_larger_interconnect_note_where_neither_power_nor_cooling_binds():
    """The note fired on every run of the audit of 2026-12-05, compute-bound ones included, where a larger contract
    is no decision a planner faces. Six racks of reference's ten are compute-bound all afternoon: no note. The ten
    racks that afternoon are named power- or cooling-bound on 93 % of the ticks, every one a near tie with compute
    (the run's own "binds by a hair" notes: more power would buy under 1 %): no note either (it was written there
    until the review of 2026-12-05). Under a 600 kW contract the same afternoon is cooling-bound outright and has
    it (the ratings following the interconnect in all three)."""
    from dcsim.engine.assemble import PLANNER_NOTE_MIN_BINDING_SHARE

    hot = {"duration": "2 h", "start": "2026-07-15T12:00", "expect": {}}
    few = dcsim.run(SC / "reference.yaml", overrides={**hot, "racks.0.count": 6}).report
    assert few["binding"]["share"]["compute"] == 1.0
    assert not [n for n in few["notes"] if n.startswith("a larger interconnect")]
    full = dcsim.run(SC / "reference.yaml", overrides=hot).report
    assert full["binding"]["share"]["power"] + full["binding"]["share"]["cooling"] > 0.5
    hair = [n for n in full["notes"] if " binds by a hair: on " in n]
    assert hair and sum(float(n.split(" binds by a hair: on ")[1].split(" %")[0]) for n in hair) > 90, hair
    assert not [n for n in full["notes"] if n.startswith("a larger interconnect")]
    tight = dcsim.run(SC / "reference.yaml", overrides={**hot, "facility.interconnect": "600 kW"}).report
    assert tight["binding"]["share"]["cooling"] > 0.5 and not [n for n in tight["notes"] if " binds by a hair" in n]
    assert [n for n in tight["notes"] if n.startswith("a larger interconnect would raise PUE")]
    # the share docs/facility.md quotes, read from the page (not a literal here)
    doc = " ".join((SC.parent / "docs" / "facility.md").read_text().split())
    quoted = re.search(r"on at least ([0-9.]+) % of the run \(`dcsim\.engine\.assemble\.PLANNER_NOTE_MIN_BINDING_SHARE`", doc)
    assert quoted and PLANNER_NOTE_MIN_BINDING_SHARE == pytest.approx(float(quoted.group(1)) / 100, rel=1e-12)


@pytest.mark.xdist_group("shipped-reference")
def test_where_cooling_binds_the_note_says_a_larger_contract_serves_less_and_the_simulation_agrees(shipped_run):
    """The UPS and PDU losses are heat inside the hall: a facility rated for a larger contract rejects more
    of its own heat, so where the cooling plant binds its cooling ceiling falls (the note) and the same
    hours serve fewer tokens (the simulation; with the ratings fixed, the same tokens)."""
    res = shipped_run("reference")
    note = [n for n in res.report["notes"] if n.startswith("a larger interconnect would raise PUE")][0]
    assert res.report["binding"]["share"]["cooling"] > 0
    q = re.search(r"the cooling ceiling is ([\d,]+) tok/s with 0.495 MW and ([\d,]+) tok/s \(([-+\d.]+) %\) with "
                  r"0.99 MW, so where cooling binds a larger contract serves less", note)
    assert q, note
    q_now, q_big = (float(q.group(i).replace(",", "")) for i in (1, 2))
    assert q_big < q_now
    hot = {"duration": "2 h", "start": "2026-07-15T12:00", "expect": {}}
    fixed = {"facility.power_chain.ups_rating": "600 kW", "facility.power_chain.transformer_rating": "600 kW"}
    out = {ic: dcsim.run(SC / "reference.yaml", overrides={**hot, "facility.interconnect": ic}).report["tokens"]["output"]
           for ic in ("600 kW", "1 MW")}
    assert out["1 MW"] < out["600 kW"] * 0.98  # measured 1.538 vs 1.594 G (-3.5 %), docs/facility.md
    same = dcsim.run(SC / "reference.yaml", overrides={**hot, **fixed, "facility.interconnect": "1 MW"})
    assert same.report["tokens"]["output"] == out["600 kW"]
    # no cooling clause in a run where the plant never binds (the 2-h window at 600 kW: power and compute)
    rep = dcsim.run(SC / "reference.yaml", overrides={**hot, "start": "2026-07-15T06:00"}).report
    assert rep["binding"]["share"]["cooling"] == 0.0
    assert not any("heat the cooling plant must reject" in n for n in rep["notes"])


@pytest.mark.xdist_group("shipped-mixed-fleet")
def test_a_pool_named_power_bound_by_a_near_tie_is_told_so(shipped_run):
    """mixed-fleet's reasoning pool is named power-bound through the day, but its KV-bound steps barely slow with
    the clock: its power ceiling sits at most 0.35 % under its compute ceiling. The note says so with the run's own
    figures; a pool whose binding is not a near tie gets none."""
    from dcsim.engine.assemble import NEAR_TIE, near_tie_notes, pool_columns

    res = shipped_run("mixed-fleet")
    m = build_models(dcsim.load_scenario(SC / "mixed-fleet.yaml"))
    (note,) = [n for n in res.report["notes"] if "by a hair" in n]
    assert note.startswith("pool 'b200-reasoning': power binds by a hair")
    c = pool_columns(m, res.timeseries, 1)
    # the ticks whose work waiting reaches compute's ceiling (since 2026-12-05 the pool's critically loaded ticks, run
    # below full clock at the rate that just meets its work, are power too, with P above C: no tie, no share of it)
    sel = (c["binding"] == 2) & (c["waiting_tok_s"] >= c["compute_tok_s"] * (1 - NEAR_TIE))
    margin = (c["compute_tok_s"][sel] - c["power_tok_s"][sel]) / c["compute_tok_s"][sel]
    # within NEAR_TIE either side: a few critically loaded ticks whose work reaches C have P up to 0.75 % above it
    assert np.all(np.abs(margin) < NEAR_TIE)
    share = float(np.mean(sel))
    assert f"on {100 * share:.0f} % of the run" in note
    assert f"at most {100 * margin.max():.2f} %" in note
    # the same figures through the function, and no note for the chat pool (compute-bound, no power ticks)
    assert near_tie_notes(m, res.timeseries) == [note]


def test_an_alternation_of_two_labels_is_one_noted_window():
    """Labels flipping power <-> cooling every few ticks (chiller-trip's thermal throttle switching between two
    clock levels) are noted as one window with its count and shares; isolated shifts, or flips further apart
    than ALTERNATION_TICKS, are not."""
    from dcsim.engine.assemble import ALTERNATION_MIN_SHIFTS, ALTERNATION_TICKS, alternation_notes

    t = np.arange(200) * 10.0
    b = np.zeros(200, dtype=np.int8)  # demand
    b[50:60] = 1  # one compute episode: two shifts
    b[100:140] = 3  # cooling ...
    b[101:140:2] = 2  # ... alternating with power every tick: 39 shifts in 100-140
    (note,) = alternation_notes({"binding": b, "t_s": t})
    assert note.startswith("power and cooling alternate: 39 of the run's 43 shifts fall in 00:16:50–00:23:10 from the "
                           "start")  # no clock known: elapsed, and it says so
    # with the scenario's clock the window is in local time (a run starting 11:00: 11:16–11:23, not 00:16–00:23)
    (local,) = alternation_notes({"binding": b, "t_s": t}, {"start": "2026-07-15T11:00:00", "day_of_year": 196,
                                                            "hour": 11.0}, 7200.0)
    assert "shifts fall in 11:16–11:23, at most" in local
    assert "over those 40 ticks power binds 50 % and cooling 50 %" in note
    # the same flips spread wider than the window are separate shifts, not an alternation
    b2 = np.zeros(400, dtype=np.int8)
    for k in range(100, 400, 2 * (ALTERNATION_TICKS + 1)):  # power episodes and gaps one tick longer than the window
        b2[k: k + ALTERNATION_TICKS + 1] = 2
    assert alternation_notes({"binding": b2, "t_s": np.arange(400) * 10.0}) == []
    # fewer flips than the minimum: no note
    b3 = np.zeros(200, dtype=np.int8)
    b3[100:100 + ALTERNATION_MIN_SHIFTS - 1] = [2, 3, 2, 3, 2][: ALTERNATION_MIN_SHIFTS - 1]
    assert alternation_notes({"binding": b3, "t_s": t}) == []


@pytest.mark.xdist_group("shipped-chiller-trip")
def test_chiller_trip_notes_its_throttle_limit_cycle(shipped_run):
    res = shipped_run("chiller-trip")
    (note,) = [n for n in res.report["notes"] if " alternate: " in n]
    n = int(re.search(r"alternate: (\d+) of the run's (\d+) shifts", note).group(1))
    assert n >= 0.5 * res.report["binding"]["n_shifts"]
    assert note.startswith("power and cooling alternate") or note.startswith("cooling and power alternate")
    # in the scenario's local clock (it starts 11:00; the limit cycle is at 12:49-12:53 of its 3 h): it read
    # "between 01:48:50 and 01:54:00", a planner's 2 a.m. on a hot afternoon
    assert re.search(r"shifts fall in 12:[0-5]\d–1[23]:[0-5]\d, ", note), note


def test_the_interconnect_pue_note_names_only_the_ratings_that_follow_it():
    """A scenario fixing its UPS rating (campus-interconnect) read "the UPS and transformer ratings follow the
    interconnect" (the audit of fidelities, finding 9): the note names only what follows."""
    import dcsim
    from conftest import small_scenario

    # power-bound (the note is only written where power or cooling binds): 2,000 req/s under a 100 kW contract
    raw = small_scenario(duration="1 h", **{"workload.arrivals.rate": "2000 req/s", "facility.interconnect": "100 kW"})
    raw["facility"]["power_chain"] = {"transformer_rating": "1 MW"}
    notes = [n for n in dcsim.run(raw).report["notes"] if n.startswith("a larger interconnect")]
    assert notes and "because the UPS rating follows the interconnect and its no-load losses" in notes[0]
    assert "UPS and transformer" not in notes[0] and "power_chain.ups_rating to decouple it" in notes[0]


def test_a_two_pool_hybrid_runs_shed_share_is_weighted_like_its_attainment():
    """mixed-fleet's hybrid sample holds 10 % of the chat pool's compute and 16.7 % of the reasoning pool's: the run-wide
    SLO attainment and latencies weight each sampled request by 1 / its pool's share (serving.hybrid.
    run_wide_weighting), but the summary's Requests row and hold-limit note printed the raw sample's shed share, the
    reasoning pool over-counted (review of 2026-12-05). Half the requests reasoning at 03:00, the reasoning pool sheds
    and the chat pool does not: the raw share is 27.4 %, the pools' true request mix 21.9 %; both print the latter."""
    from dcsim.plots.figures import latency_cdf_plot
    from dcsim.report.summary import hold_limit_note, summary_table

    res = dcsim.run(SC / "mixed-fleet.yaml", overrides={
        "start": "2026-07-15T03:00", "duration": "20 min", "fidelity": "hybrid", "expect": {},
        "workload.classes.0.share": 0.5, "workload.classes.1.share": 0.5})
    rep = res.report
    share = rep["serving"]["hybrid"]["compute_share"]
    pools = {p["name"]: p["classes"] for p in rep["pools"]}
    arr = shed = 0.0
    for name, pc in rep["serving"]["per_class"].items():
        k = 1.0 / share[next(p for p in pools if name in pools[p])]
        arr, shed = arr + k * pc["requests"]["arrived"], shed + k * pc["requests"]["shed"]
    raw = rep["requests"]["shed"] / rep["requests"]["arrived"]
    assert rep["serving"]["shed_share"] == pytest.approx(shed / arr, rel=1e-9)
    assert raw - shed / arr > 0.03  # the two differ: the test can tell them apart
    text = " ".join(summary_table(rep).split())  # the rows wrap
    row = text[text.index("Requests arrived"):][:400]
    assert f"({100 * shed / arr:.1f}% weighted to the pools' request shares)" in row, row
    assert f"{100 * raw:.1f}%" not in text
    # the hold-limit note, given a limit the reasoning class reaches, says the same share
    lat = {"reasoning": {"ttft_s": {"p50": 1.0, "p99": rep["controller"]["hold_limit_s"]}}}
    note = hold_limit_note(rep, lat)
    assert f"{100 * shed / arr:.1f}% weighted" in note and "in the simulated sample of" in note, note
    assert "requests here," in hold_limit_note(rep, lat, scope_said=True) and "simulated sample" not in hold_limit_note(
        rep, lat, scope_said=True)
    # the latency CDFs' legend says its completed and shed counts are the sample's (without the compute shares)
    scope = f"the simulated sample of 16 of {rep['replicas']:,} replicas"
    fig = latency_cdf_plot(res)
    labels = [ln.get_label() for ln in fig.axes[0].get_lines()]
    (reas,) = [lb for lb in labels if lb.startswith("reasoning (")]
    assert "shed (not drawn; SLO misses)" in reas and reas.endswith(f"\ncounted in {scope}"), reas
    assert all(lb.endswith(f"counted in {scope}") for lb in labels if lb.startswith("chat ("))


def test_the_requests_row_without_a_shed_count_prints_no_empty_share():
    """A report whose requests block has no shed count (a hand-edited or older report.json) printed the Requests row
    with "shed n/a (None)": the share is left out, the counts stay."""
    from test_report import _request_report, synthetic_result

    from dcsim.report.summary import summary_table

    rep = _request_report(synthetic_result("air"), 30.0)
    full = " ".join(summary_table(rep).split())
    assert "Requests arrived 1 k completed 700 shed 290 (29.0%) in flight 10" in full
    no_shed = {**rep, "requests": {k: v for k, v in rep["requests"].items() if k != "shed"}}
    text = " ".join(summary_table(no_shed).split())
    row = text[text.index("Requests arrived"):][:120]
    assert "arrived 1 k completed 700 shed" in row and "(None)" not in row and "in flight 10" in row, row


def test_cooling_holding_the_clock_while_demand_is_met_is_told_with_the_ups_no_load_loss():
    """Reference's hall under a 5 MW contract at night (walkthrough 2026-12-05): every token asked for is served
    (binding demand), yet the UPS, rated for the contract, makes ~188 kW of no-load heat in a 395 kW plant, so the
    controller holds the clock near 0.55 on every tick. Until then only an "EXTRAPOLATED CLOCK" warning said so."""
    over = {"facility.interconnect": "5 MW", "duration": "10 min", "expect": {}}
    res = dcsim.run(SC / "reference.yaml", overrides=over)
    rep, ts = res.report, res.timeseries
    assert rep["binding"]["share"]["demand"] == 1.0  # the label is right: demand limits the tokens
    assert rep["tokens_accounting"]["shed"] == 0
    assert float(np.max(ts["controller_clock"])) < 0.7  # and the clock is held all the same
    # the plant is full: IT sits at the largest IT whose heat (UPS no-load loss included) the plant rejects
    assert np.allclose(ts["it_power_w"], ts["it_max_cooling_w"], rtol=1e-6)
    m = build_models(res.scenario)
    pc = res.scenario.facility.power_chain
    ups_nl = pc.ups_l0 * pc.ups_redundancy * m.facility.ups_rating_w
    assert ups_nl == pytest.approx(0.0376 * 5e6)
    assert float(m.facility.heat_to_reject_w(0.0)) == pytest.approx(ups_nl)
    note = [n for n in rep["notes"] if n.startswith("cooling holds the clock while demand is met")]
    assert len(note) == 1
    assert f"{ups_nl / 1e3:,.1f} kW" in note[0] and "395 kW" in note[0]
    nl = ups_nl + pc.transformer_no_load * m.facility.transformer_rating_w
    assert f"{nl / float(np.mean(ts['achieved_tok_s'])):.2f} J per output token" in note[0]
    # with the chain rated for the hall's load the plant has room: the clock runs free and the note goes away
    fixed = dcsim.run(SC / "reference.yaml", overrides={**over, "facility.power_chain.ups_rating": "495 kW",
                                                        "facility.power_chain.transformer_rating": "495 kW"})
    assert float(np.min(fixed.timeseries["controller_clock"])) == 1.0
    assert not [n for n in fixed.report["notes"] if "holds the clock" in n]
    assert fixed.report["joules_per_output_token"]["facility"] < rep["joules_per_output_token"]["facility"]


@pytest.mark.xdist_group("shipped-mixed-fleet")
def test_the_held_clock_note_gives_the_held_pools_own_clock(shipped_run):
    """review C, session 53: mixed-fleet's note read "a mean clock of 0.95" on its 38 % of demand-bound capped ticks,
    the 320 chat GPUs at full clock blended with the reasoning pool held at 0.77-0.91 (mean 0.87)."""
    res = shipped_run("mixed-fleet")
    (note,) = [n for n in res.report["notes"] if n.startswith("power holds the clock while demand is met")]
    held = capped_ticks(res.timeseries["mode"], res.timeseries) & (np.asarray(res.timeseries["binding"]) == 0)
    c = np.asarray(res.timeseries["pool1_controller_clock"], float)[held]
    assert f"pool 'b200-reasoning' {c.mean():.2f} ({c.min():.2f}-{c.max():.2f}); the others at full clock" in note
