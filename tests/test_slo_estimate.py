"""The fluid SLO estimate (dcsim.serving.slo_estimate): its pieces, its behaviour, and its agreement
with request fidelity over a grid of loads, workload presets and model sizes (docs/slo.md)."""

import importlib.util
import math
import re

import numpy as np
import pytest

import dcsim
from dcsim.engine.build import build_models
from dcsim.engine.assemble import serving_frontier_parts, slo_estimate
from dcsim.engine.run import run_models
from dcsim.scenario import load_scenario
from dcsim.serving import slo_estimate as se

from conftest import ROOT, small_scenario

_spec = importlib.util.spec_from_file_location("calibrate_slo", ROOT / "scripts" / "calibrate_slo.py")
cal = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cal)


# --------------------------------------------------------------------------- pieces

def test_compound_poisson_tokens_keep_their_moments():
    u = (np.arange(8192) + 0.5) / 8192
    for mean_count in (0.3, 1.2, 8.0):
        x = se._compound_tokens(np.full(u.size, mean_count), 1155.0, 1.71e6, u)
        assert x.mean() == pytest.approx(mean_count * 1155.0, rel=0.01)
        assert x.var() == pytest.approx(mean_count * 1.71e6, rel=0.03)
        assert np.mean(x == 0) == pytest.approx(math.exp(-mean_count), abs=1e-3)


def test_fifo_wait_of_a_growing_backlog_is_closed_form():
    """Arrivals at 1.2x the service rate from t = 0: the work served at time t arrived at t/1.2,
    so it waited t/6 (not backlog/rate = t/5, the wait of the work arriving at t)."""
    n, dt = 300, 2.0
    t_mid = dt * (np.arange(n) + 0.5)
    assert se.fifo_wait_s(np.full(n, 120.0 * dt), np.full(n, 100.0 * dt), dt) == pytest.approx(t_mid / 6.0)
    # nothing waits while the departures keep up
    assert np.all(se.fifo_wait_s(np.full(n, 50.0), np.full(n, 50.0), dt) == 0.0)


def test_fifo_wait_is_resolved_within_each_tick():
    """A door serving continuously through a tick: arrivals at 1.1x the service rate from t = 0 on 5-min ticks, the
    work leaving at t waited t/11, at every slice of the tick (one wait per tick, the midpoint's, made 20 min of
    capped 5-min ticks four point masses: TTFT p50 at the second tick's wait, -32 % against request fidelity)."""
    n, dt, s = 4, 300.0, 16
    w = se.fifo_wait_slices_s(np.full(n, 110.0 * dt), np.full(n, 100.0 * dt), dt, slices=s)
    t = dt * (np.arange(n)[:, None] + (np.arange(s)[None, :] + 0.5) / s)
    assert w.shape == (n, s) and w == pytest.approx(t / 11.0)
    # nothing waits while the departures keep up
    assert np.all(se.fifo_wait_slices_s(np.full(n, 50.0), np.full(n, 50.0), dt) == 0.0)
    # a backlog served faster than it arrived (held through tick 0, served at twice the arrival rate in tick 1): the
    # work leaving at 1 + f waited 1 - f, falling through the tick
    w = se.fifo_wait_slices_s(np.array([50.0, 50.0]), np.array([0.0, 100.0]), 1.0, slices=4)
    assert w[1] == pytest.approx(1.0 - (np.arange(4) + 0.5) / 4)


def test_shed_work_leaves_the_fifo_first_and_the_served_work_waits_its_own_wait():
    """Work shed at the door is the oldest (held past the hold limit), so it leaves at the tick's start and the
    served work follows it. 100 tokens arrive through tick 0 (1 s) and none leave; 100 more arrive in tick 1, which
    sheds 50 and serves 50: the served work is tokens 50-100, which arrived through the second half of tick 0, and
    leaves through tick 1, so at mid-tick the token at 75 (arrived at 0.75 s) leaves at 1.5 s: 0.75 s. With the shed
    work at mid-tick among the served (the midpoint of all 100 departures, until 2026-12-05) it read 1.0 s, the
    wait of token 50."""
    arrived, departed, shed = np.array([100.0, 100.0]), np.array([0.0, 100.0]), np.array([0.0, 50.0])
    assert se.fifo_wait_s(arrived, departed, 1.0, shed_tok=shed)[1] == pytest.approx(0.75)
    assert se.fifo_wait_s(arrived, departed, 1.0)[1] == pytest.approx(1.0)  # nothing shed: token 50's
    # the served slices follow the shed work: tokens 50 + (j + 1/2)/4 * 50, leaving at 1 + (j + 1/2)/4
    f = (np.arange(4) + 0.5) / 4
    w = se.fifo_wait_slices_s(arrived, departed, 1.0, slices=4, shed_tok=shed)[1]
    assert w == pytest.approx((1.0 + f) - (50.0 + 50.0 * f) / 100.0)
    # the one-slice wait is the sliced FIFO's midpoint, with or without shedding
    assert se.fifo_wait_s(arrived, departed, 1.0, shed_tok=shed) == pytest.approx(
        se.fifo_wait_slices_s(arrived, departed, 1.0, slices=1, shed_tok=shed)[:, 0])


def test_operating_point_keys_packed_into_one_integer_give_the_row_wise_unique():
    """The estimate's operating points are the unique rows of (clock level, utilisation bin, wait bin, critical rate
    bin), repeated per door slice; packing them into one int64 and taking the 1-D unique gives np.unique(axis=0)'s
    rows and inverse, bit for bit (negative and wide columns included), and a key too wide to pack falls back."""
    rng = np.random.default_rng(11)
    key = np.stack([rng.integers(0, 5, 4000), rng.choice([0, 3, 10_000], 4000),
                    rng.choice([0, 999_700, 1_000_300], 4000), rng.integers(-3, 3, 4000)], axis=1).astype(np.int64)
    key = np.repeat(key, 16, axis=0)
    uk, inv = np.unique(key, axis=0, return_inverse=True)
    got_k, got_inv = se._unique_rows(key)
    assert np.array_equal(got_k, uk) and np.array_equal(got_inv, inv.ravel())
    wide = np.array([[0, 2**40], [2**40, 0], [0, 2**40]], np.int64)
    k2, i2 = se._unique_rows(wide)
    assert np.array_equal(k2, np.unique(wide, axis=0)) and np.array_equal(k2[i2], wide)


def test_replica_backlog_wait_is_the_lindley_recursion_in_fifo_order():
    rng = np.random.default_rng(3)
    offered = rng.uniform(50, 150, 500)
    cap = np.full(500, 100.0)
    dt = 2.0
    w = se._replica_backlog_wait(offered, cap, dt)
    q, served = 0.0, []
    for o, c in zip(offered, cap):  # the recursion, stepped: serve up to capacity, keep the rest
        s = min(q + o * dt, c * dt)
        q = q + o * dt - s
        served.append(s)
    assert w == pytest.approx(se.fifo_wait_s(offered * dt, np.array(served), dt))
    assert np.all(w >= 0) and w.max() > 0
    # below capacity throughout: no backlog, no wait
    assert np.all(se._replica_backlog_wait(np.full(50, 80.0), np.full(50, 100.0), dt) == 0.0)


def test_arrival_scv_of_each_process():
    from dcsim.scenario.workload import GammaArrivalSpec, MmppArrivalSpec, PoissonArrivalSpec

    assert se.arrival_scv(PoissonArrivalSpec(rate=5.0)) == 1.0
    assert se.arrival_scv(GammaArrivalSpec(rate=5.0, cv=2.0)) == pytest.approx(4.0)
    # equal rates: an MMPP is Poisson; unequal rates are burstier
    assert se.arrival_scv(MmppArrivalSpec(rates=[5.0, 5.0], mean_sojourn=[10.0, 10.0])) == pytest.approx(1.0)
    assert se.arrival_scv(MmppArrivalSpec(rates=[1.0, 9.0], mean_sojourn=[10.0, 10.0])) > 10.0


def test_saturation_throughput_matches_request_fidelity():
    """The replicas' derived saturation throughput (eta x the table) against request fidelity
    driven at 1.3x the compute ceiling (the door releases at the ceiling, replicas stay full)."""
    for preset, model in (("chat", "8b"), ("code", "70b")):
        m = build_models(load_scenario(cal.scenario(preset, model, 1.3, "fluid")))
        est = slo_estimate(m, run_models(m).timeseries)
        assert est.estimated
        eta = float(m._slo_service[0].eta[-1])  # at full clock, where the controller leaves it
        res = dcsim.run(cal.scenario(preset, model, 1.3, "request", duration="8 min"))
        ts = res.timeseries
        late = ts["t_s"] >= 240
        measured = float(np.mean(ts["achieved_tok_s"][late]) / np.mean(ts["compute_tok_s"][late]))
        assert eta < 1.0
        # band 0.035, not the first pass's 0.02: node physics v2 moved chat/8B to 0.955 derived vs
        # 0.928 measured (code/70B 0.972 vs 0.969). The derived figure now only places the edge
        # between the simulated steady state (up to RHO_MAX of it) and the tick-level backlog, so
        # the grid test at 0.9 and 1.2 of the ceiling meets the bar with this error.
        assert eta == pytest.approx(measured, abs=0.035)


# --------------------------------------------------------------------------- behaviour

@pytest.fixture(scope="module")
def fluid_by_load():
    out = {}
    for load in (0.3, 0.6, 0.8, 0.9, 0.95, 1.1):
        m = build_models(load_scenario(cal.scenario("chat", "70b", load, "fluid")))
        out[load] = slo_estimate(m, run_models(m).timeseries)
    return out


def test_latency_grows_and_attainment_falls_with_load(fluid_by_load):
    loads = sorted(fluid_by_load)
    p99 = [fluid_by_load[x].latency_s["ttft"]["p99"] for x in loads]
    tpot = [fluid_by_load[x].latency_s["tpot"]["p50"] for x in loads]
    att = [fluid_by_load[x].slo_attainment for x in loads]
    assert all(a < b for a, b in zip(p99, p99[1:]))
    assert all(a < b for a, b in zip(tpot, tpot[1:]))
    # attainment falls with load, within the estimate's resolution: it keeps se._N_KEEP (1,024) requests per class
    # and operating point, so one miss more or less at light load is 1/1,024 (measured after the December 2026
    # refit of the 70B profile: 0.99902 at 0.6 of the ceiling, 1.0 at 0.8)
    assert all(a >= b - 1.0 / se._N_KEEP - 1e-12 for a, b in zip(att, att[1:]))
    assert att[0] > 0.99 and att[-1] < 0.05  # light load meets the SLOs, overload does not


def test_tail_set_near_the_ceiling_is_flagged_as_a_lower_bound(fluid_by_load):
    """TTFT p99 served at 0.90-1.00 of the replicas' saturation throughput is flagged (docs/slo.md: measured up to
    45 % below request fidelity there); below it, and above the ceiling where the backlog's FIFO wait sets the tail
    (within 15 % of request fidelity), it is not."""
    for load, est in fluid_by_load.items():
        tail = est.tail_near_ceiling
        assert set(tail) == {"chat", "all"} and all(0.0 <= v <= 1.0 for v in tail.values())
        near = se.NEAR_CEILING[0] <= load < se.NEAR_CEILING[1]
        assert (se.tail_caveat(tail) is not None) == near, (load, tail)
        assert tail["all"] == (1.0 if near else 0.0)  # a steady rate: every tick at one operating point
    msg = se.tail_caveat(fluid_by_load[0.95].tail_near_ceiling)
    assert msg.startswith("SLO tail: TTFT p99 is uncertain") and "chat 100 %" in msg and "90-100 %" in msg
    assert se.report_block(fluid_by_load[0.95])["slo_tail_near_ceiling"] == {"chat": 1.0, "all": 1.0}
    # the share counts the requests at or above the p99 only
    ttft, w, near = np.array([0.2, 0.3, 5.0]), np.ones(3), np.array([True, True, False])
    p99 = se._lat(ttft, w)["p99"]
    assert se._tail_share(ttft, w, near, p99) == 0.0 and se._tail_share(ttft, w, ~near, p99) == 1.0


def test_tail_caveat_travels_to_every_place_the_number_is_read(tmp_path):
    """A run near the ceiling says its TTFT p99 is uncertain in report.json's warnings, the terminal summary
    (the p99 printed with a ~), the HTML's first screen, `compare` and the planner's fast-model line; the HTML
    also lists the run's other warnings (here: the interconnect exceeded under policy none)."""
    from dcsim.plan import format_targets
    from dcsim.report import summary_table, write_outputs
    from dcsim.report.compare import compare

    raw = cal.scenario("chat", "70b", 0.95, "fluid", duration="5 min")
    near = dcsim.run({**raw, "facility": {**raw["facility"], "interconnect": "40 kW"},
                      "controller": {**raw["controller"], "policy": "none"}})
    rep = near.report
    tail = [w for w in rep["warnings"] if w.startswith("SLO tail: ")]
    assert len(tail) == 1 and rep["slo_tail_near_ceiling"]["chat"] == 1.0
    assert re.search(r"TTFT \S+ \S+/~\S+ \S+", summary_table(near))
    page = write_outputs(near, tmp_path / "near", plots=False)["report.html"].read_text(encoding="utf-8")
    assert "<b>SLO tail.</b> TTFT p99 is uncertain" in page
    # (the third: the grid's 300 kW plant is 8x this 40 kW hall's heat, below the chillers' part-load floor)
    assert "<b>Warnings (3).</b>" in page and "drew more than its interconnect" in page
    low = dcsim.run(cal.scenario("chat", "70b", 0.6, "fluid", duration="5 min"))
    assert low.report["slo_tail_near_ceiling"]["all"] == 0.0 and not any(
        w.startswith("SLO tail") for w in low.report["warnings"])
    assert "TTFT" in summary_table(low) and "/~" not in summary_table(low)
    write_outputs(low, tmp_path / "low", plots=False)
    table, data = compare([tmp_path / "low", tmp_path / "near"])
    assert [r["slo_caveat"] is not None for r in data["runs"]] == [False, True]
    assert "near: SLO tail: TTFT p99 is uncertain" in table
    # the planner's fast-model line (format only: a plan under targets runs request-level confirmations)
    r = {"question": "interconnect-for", "scenario": "s", "targets": ["ttft.p99<=2 s"], "weather": "w",
         "interconnect_w": 1e5, "gpus": 16, "bracket": [1e5, 2e5], "closed_form_interconnect_w": 1.2e5,
         "fast": {"binding": "compute", "targets": [], "slo_caveat": tail[0]}}
    # in the answer's caveats, after it and its confirmation, cut to its head (session 55: the whole text, ~20
    # lines at a terminal, sat between them); the answer's JSON keeps the whole text
    from dcsim.plan import short_caveat
    lines = format_targets(r).splitlines()
    assert short_caveat(tail[0]).startswith("SLO tail: TTFT p99 is uncertain") and any(
        x.strip().startswith("fast model's SLO estimate") and short_caveat(tail[0]) in x
        for x in lines[lines.index("  caveats:"):])


def test_quantiles_are_ordered_and_per_class_sums_to_overall(fluid_by_load):
    est = fluid_by_load[0.8]
    for metric in ("ttft", "tpot", "e2e"):
        q = est.latency_s[metric]
        assert 0 < q["p50"] <= q["p90"] <= q["p99"]
    assert est.per_class["chat"]["slo_attainment"] == pytest.approx(est.slo_attainment)
    assert est.goodput_tok_s == pytest.approx(est.per_class["chat"]["goodput_tok_s"])


def test_fluid_report_has_the_request_fidelity_keys():
    raw = small_scenario(duration="20 min", **{"racks.0.count": 1, "controller.tick": "10 s"})
    req = dcsim.run({**raw, "fidelity": "request", "duration": "2 min"}).report
    flu = dcsim.run(raw).report
    assert set(flu["latency_s"]) == set(req["latency_s"])
    for m in flu["latency_s"]:
        assert set(req["latency_s"][m]) <= set(flu["latency_s"][m])
    assert set(flu["serving"]["per_class"]["chat"]) >= {"latency_s", "slo_attainment", "goodput_tok_s"}
    assert flu["slo_method"].startswith("fluid queueing estimate")
    assert 0.0 <= flu["slo_attainment"] <= 1.0


def test_trace_workload_is_not_estimated():
    raw = small_scenario(duration="10 min", **{"racks.0.count": 1})
    raw["workload"]["arrivals"] = {"kind": "trace", "path": "azure-conv-2023"}
    sc = load_scenario(raw)
    rep = dcsim.run(sc).report
    assert rep["slo_attainment"] is None and rep["goodput_tok_s"] is None
    assert rep["slo_method"].startswith("not estimated: trace workload")


def test_estimate_is_deterministic(fluid_by_load):
    m = build_models(load_scenario(cal.scenario("chat", "70b", 0.8, "fluid")))
    again = slo_estimate(m, run_models(m).timeseries)
    assert again.latency_s == fluid_by_load[0.8].latency_s
    assert again.slo_attainment == fluid_by_load[0.8].slo_attainment


# --------------------------------------------------------------------------- agreement with request fidelity

#: Issue 13.2's acceptance, held over the grid (two presets x two model sizes x loads from 0.3 to
#: 1.2 of the table's compute ceiling; 10 min at a 1 s controller tick, seed 1): attainment within 5
#: percentage points, TTFT p50 and p99 within 25 %; TPOT p50 too. Measured by
#: ``python scripts/calibrate_slo.py --duration "10 min" --loads 0.3,0.6,0.9,1.2``; the 20-minute
#: grid over two seeds is in docs/slo.md (seeds 1 and 2: at most 4.4 points, TTFT p50 18 %, p99 17 %). At 0.9
#: code/70B read TTFT p99 -45 % (20 min) to -25 % (80 min) while request fidelity's door held a tick's burst just
#: below the compute ceiling; with the door open there (docs/engine.md) -6 % at 10 min, -7 to -11 % at 40 and 80.
BAR = (5.0, 0.25, 0.25, 0.25)
#: known band (docs/slo.md): code/8B at 0.9 sits on the knee of attainment (~37 % of requests meet their SLOs) since the
#: tables obey the token budget: +5.8 points at 10 min (seed 1), +2.0 / +5.9 at 20 min (seeds 1 / 2)
ATTAINMENT_BAND = {("code", "8b", 0.9): 6.5}
TPOT_OVERLOAD_BAND = 0.40
GRID_LOADS = (0.3, 0.6, 0.9, 1.2)


@pytest.fixture(scope="module")
def grid():
    out = {}
    for preset in cal.PRESETS:
        for model in cal.MODELS:
            for load in GRID_LOADS:
                ref = cal.request_point(preset, model, load, duration="10 min")
                m, ts = cal.fluid_point(preset, model, load, duration="10 min")
                out[(preset, model, load)] = (ref, slo_estimate(m, ts))
    return out


@pytest.mark.parametrize("load", GRID_LOADS)
@pytest.mark.parametrize("preset", cal.PRESETS)
@pytest.mark.parametrize("model", list(cal.MODELS))
def test_fluid_agrees_with_request_fidelity_over_the_grid(grid, preset, model, load):
    ref, est = grid[(preset, model, load)]
    att, p50, p99, tpot = BAR
    e = cal.errors(ref, est)
    assert abs(e["attainment"]) * 100 <= ATTAINMENT_BAND.get((preset, model, load), att)
    assert abs(e["ttft_p50"]) <= p50
    assert abs(e["ttft_p99"]) <= p99
    # beyond the ceiling code's TPOT p50 (answers a few tokens long) varies with the seed: 35 % low with
    # seed 1, 20-21 % with seed 2 over 20 min (docs/slo.md, known band 40 %); attainment is ~0 either way
    assert abs(e["tpot_p50"]) <= (tpot if load < 1.0 else TPOT_OVERLOAD_BAND)


def test_grid_spans_light_load_to_overload(grid):
    """The grid is not all easy: light load meets nearly every SLO, overload misses nearly all."""
    att = {k: ref["slo_attainment"] for k, (ref, _) in grid.items()}
    assert min(att[(p, m, 0.3)] for p in cal.PRESETS for m in cal.MODELS) > 0.95
    assert max(att[(p, m, 1.2)] for p in cal.PRESETS for m in cal.MODELS) < 0.05


def test_hybrid_reproduces_request_fidelity_on_its_sampled_replicas():
    """Hybrid (8 of 32 replicas simulated) against request fidelity of 8 replicas at the same
    per-replica load: the sample sees the same latency distribution."""
    for load in (0.6, 0.9):
        a = cal.scenario("chat", "70b", load, "request", duration="15 min")
        b = cal.scenario("chat", "70b", load, "hybrid", duration="15 min")
        b["racks"][0]["count"] = 4
        b["workload"]["arrivals"]["rate"] = f"{4 * float(b['workload']['arrivals']['rate'].split()[0])} req/s"
        ra, rb = dcsim.run(a).report, dcsim.run(b).report
        assert rb["serving"]["hybrid"]["sampled_replicas"] == 8
        assert rb["slo_attainment"] == pytest.approx(ra["slo_attainment"], abs=0.02)
        # tolerances cover the seed-to-seed spread of the two samples at 0.9 of the ceiling (seeds 1, 2, 3:
        # TTFT p50 -2.0 to +5.1 %, p99 -3.0 to +11.6 %, TPOT p50 -3.0 to +5.1 %; the estimate's histogram bins are 1 %)
        for metric, q, tol in (("ttft", "p50", 0.10), ("ttft", "p99", 0.15), ("tpot", "p50", 0.08)):
            assert rb["latency_s"][metric][q] == pytest.approx(ra["latency_s"][metric][q], rel=tol)


def test_fluid_agrees_with_request_fidelity_when_capped_on_the_frontier():
    """Power short: the controller lowers clocks (frontier policy); both fidelities run every replica
    at the clock of the frontier ceiling. The load is where the capped pool starts to miss its SLOs
    (at 150 req/s both met them for 0.999 of requests, which any agreement passes). Measured (with the
    median-ITL profiles and the trim relaxing while the limit does not bind): attainment 0.9941 fluid vs
    0.9956 request, TTFT p50 +0.5 %, p99 +2.2 %, TPOT p50 +0.2 % (docs/slo.md); held at issue 13's bar. With
    the trim of the run's first, filling ticks kept for the rest of it (until 2026-12-03) request fidelity's
    replicas ran 0.8 clock levels below the controller's and its TPOT p50 was 11 % above the estimate's. Closer to the capped ceiling the two part (164 req/s: 0.905 vs 0.973), the
    near-ceiling band of docs/slo.md."""
    raw = small_scenario(**{"duration": "10 min", "controller.tick": "1 s", "racks.0.count": 2,
                            "facility.interconnect": "70 kW", "workload.arrivals.rate": "158 req/s"})
    flu = dcsim.run(raw).report
    req = dcsim.run({**raw, "fidelity": "request"}).report
    assert flu["controller"]["capped_share"] == 1.0 and flu["controller"]["mean_clock"] < 0.8
    assert req["slo_attainment"] < 0.998  # the load exercises the SLO, not a pool that meets it trivially
    assert abs(flu["slo_attainment"] - req["slo_attainment"]) <= 0.05
    for metric, q, tol in (("ttft", "p50", 0.25), ("ttft", "p99", 0.25), ("tpot", "p50", 0.10)):
        assert flu["latency_s"][metric][q] == pytest.approx(req["latency_s"][metric][q], rel=tol)


@pytest.mark.parametrize("sojourns, load", [(("60 s", "120 s"), 0.3), (("5 s", "10 s"), 0.5)])
def test_fluid_agrees_with_request_fidelity_under_mmpp_arrivals(sojourns, load):
    """MMPP arrivals (rates 4:1) are simulated as such in the estimate: their burstiness lives at the time scale
    of their sojourns, which the gamma renewal with their asymptotic SCV (1.29e3 for 60 s / 120 s) put at the
    time scale of a request. Measured 2026-12-04 (the SLO audit's case, 8 replicas of 70B, 20 min): attainment
    1.000 fluid vs 1.000 request for both sojourn pairs; before, 0.139 and 0.789 against 1.000. (At load 0.5
    with the long sojourns the high state sits at the compute ceiling for minutes: 0.928 vs 0.991.)"""
    raw = small_scenario(**{"duration": "20 min", "controller.tick": "1 s", "racks.0.count": 1})
    m = build_models(load_scenario(raw))
    rate = load * m.curves.compute_tok_s / m.workload.mean_output  # requests/s
    s1, s2 = (float(x.split()[0]) for x in sojourns)
    mean = (4.0 * s1 + 1.0 * s2) / (s1 + s2)
    raw["workload"]["arrivals"] = {"kind": "mmpp", "rates": [f"{4.0 * rate / mean} /s", f"{rate / mean} /s"],
                                   "mean_sojourn": list(sojourns)}
    flu = dcsim.run(raw).report
    req = dcsim.run({**raw, "fidelity": "request"}).report
    assert "MMPP" in flu["slo_method"]
    assert abs(flu["slo_attainment"] - req["slo_attainment"]) <= 0.05
    assert flu["latency_s"]["ttft"]["p99"] == pytest.approx(req["latency_s"]["ttft"]["p99"], rel=0.25)


def test_replicas_served_at_their_ceiling_are_flagged():
    """idle_power_down sized at target load 1.0 runs its awake replicas at their saturation throughput: the tail
    there is as uncertain as just below it (attainment 0.475 fluid against 0.000 request, TTFT p99 -76 %, in the
    SLO audit's case), and the run warns; the band stopped just under 1.0 until 2026-12-04."""
    raw = small_scenario(**{"duration": "20 min", "controller.tick": "1 s", "racks.0.count": 1,
                            "controller.idle_power_down": True, "controller.power_down_target_load": 1.0})
    m = build_models(load_scenario(raw))
    raw["workload"]["arrivals"]["rate"] = f"{0.5 * m.curves.compute_tok_s / m.workload.mean_output} req/s"
    rep = dcsim.run(raw).report
    assert any(w.startswith("SLO tail: TTFT p99 is uncertain") for w in rep["warnings"])
    assert rep["slo_tail_near_ceiling"]["all"] > 0.5


def test_just_below_the_compute_ceiling_request_fidelity_queues_at_the_replicas():
    """Only compute limits, so request fidelity's door stays open and the replicas queue a tick's burst, as a
    fleet without admission control does: TTFT p99 agrees with the fluid estimate (chat/70B at 0.97 of the
    ceiling, seed 1, 320 min: request 0.79 s, fluid 0.72 s; 1.04 s with the door's token bucket two ticks deep,
    which held such bursts for a tick, docs/slo.md). The binding labels see the replicas' queues: compute on 1.6 %
    of ticks at 0.97 (fluid: none) and 98.9 % at 1.1 of the ceiling (fluid: all); with the door open and only
    the door's queue read they said demand while the replicas' queues grew."""
    def run(load, fidelity, duration):
        return dcsim.run(cal.scenario("chat", "70b", load, fidelity, duration=duration)).report

    req, flu = run(0.97, "request", "320 min"), run(0.97, "fluid", "320 min")
    assert req["latency_s"]["ttft"]["p99"] <= 1.2 * flu["latency_s"]["ttft"]["p99"]
    assert req["binding"]["share"]["compute"] <= 0.05
    assert run(1.1, "request", "60 min")["binding"]["share"]["compute"] >= 0.95


def test_slo_estimate_off_skips_only_the_latency_figures():
    """serving.slo_estimate: false (fast sweeps) leaves every physical figure as it was and says
    that no latency / SLO figure was estimated."""
    ref = str(ROOT / "scenarios" / "reference.yaml")
    ov = {"duration": "3 h", "start": "2026-07-15T12:00"}
    on = dcsim.run(ref, overrides=ov).report
    off = dcsim.run(ref, overrides={**ov, "serving.slo_estimate": False}).report
    assert off["goodput_tok_s"] is None and off["slo_attainment"] is None and on["goodput_tok_s"] is not None
    assert any("serving.slo_estimate is false" in w for w in off["warnings"])
    for k in ("tokens", "energy_j", "binding", "pue", "tpf", "tokens_accounting"):
        assert off[k] == on[k], k


def test_deferred_work_keeps_its_goodput_where_the_tail_is_flagged():
    """The SLO-tail caveat and deferred work (issue 18) together: the interactive share (0.8 of 1.15 of the
    ceiling) works near saturation, so its TTFT p99 is flagged as uncertain, and the deferrable share is served
    with spare rate before its deadline. Deferred tokens served on time count as goodput; the caveat was once added
    in an `elif` in front of that branch and would have dropped them (2.1 M of 26.8 M tokens here)."""
    raw = cal.scenario("chat", "70b", 1.15, "fluid", duration="20 min")
    rep = dcsim.run({**raw, "deferrable": {"share": 0.2, "deadline": "1 h", "urgency": "30 min"}}).report
    d = rep["deferrable"]
    assert any(w.startswith("SLO tail: ") for w in rep["warnings"])
    assert rep["slo_tail_near_ceiling"]["chat"] == 1.0
    on_time = d["served_tokens"] - d["served_late_tokens"]
    out = rep["tokens"]["output"]
    assert on_time > 0.05 * out
    assert rep["goodput_tok_s"] * rep["duration_s"] >= on_time + 0.95 * (out - d["served_tokens"])
    assert rep["goodput_tok_s"] <= rep["throughput_tok_s"]["output"] * (1 + 1e-9)


def _capped_rack(overload: float, seed: int, duration: str = "20 min", racks: int = 1) -> dict:
    """scripts/calibrate_slo.py's capped_ticks case: the chat/70B rack power-capped at 40 kW, Poisson at ``overload``
    times its lowest ceiling; ``racks`` such racks (8 replicas each) behind ``racks`` x 40 kW, the plant's cooling
    capacity scaled with them so that power binds."""
    import copy
    base = cal.scenario("chat", "70b", 1.0, "fluid", duration=duration, seed=seed)
    base["facility"]["interconnect"] = f"{40 * racks} kW"
    if racks != 1:
        base["racks"][0]["count"] = racks
        base["facility"]["cooling"]["capacity"] = f"{300 * racks} kW"
    probe = copy.deepcopy(base)
    probe["duration"] = "2 min"
    t = dcsim.run(probe).report["tpf"]
    lim = min(t["compute_tok_s"], t["power_tok_s"], t["cooling_tok_s"])
    mean_out = build_models(load_scenario(copy.deepcopy(base))).workload.mean_output
    base["workload"]["arrivals"]["rate"] = f"{overload * lim / mean_out} req/s"
    return base


def test_capped_overload_ttft_does_not_depend_on_the_controller_tick():
    """A capped overload (the 40-kW chat/70B rack at 1.1x its power ceiling, seed 1, 20 min): the door's wait grows
    through the run, and the estimate now resolves it within each tick (fifo_wait_slices_s), so 5-min ticks read
    what 1-min ticks read. Measured 2026-12-05: fluid TTFT p50 54.7 s at 1 s, 10 s and 1 min, 54.5 s at 5 min (p99
    107.9 / 108.4 s), request fidelity 61.4 s at 1-s ticks (p99 124.8 s; 56.7-64.5 s at 10 s to 5 min). Before, one
    wait per tick made the 5-min run four point masses: TTFT p50 41.6 s (-32 % against request fidelity), p99 95.7 s
    (-23 %). Run over 10 min (two 5-min ticks; 2026-12-05: fluid 27.6 s at 1 min, 27.2 s at 5 min, p99 53.7 / 53.9 s,
    request fidelity 32.0 s, p99 60.8 s) to keep the test short."""
    import copy
    base = _capped_rack(1.1, 1, duration="10 min")
    out = {}
    for fid, tick in (("request", "1 s"), ("fluid", "1 min"), ("fluid", "5 min")):
        raw = copy.deepcopy(base)
        raw["fidelity"], raw["controller"]["tick"] = fid, tick
        out[(fid, tick)] = dcsim.run(raw).report["latency_s"]["ttft"]
    one, five, req = out[("fluid", "1 min")], out[("fluid", "5 min")], out[("request", "1 s")]
    for q in ("p50", "p99"):
        assert five[q] == pytest.approx(one[q], rel=0.02), (q, five[q], one[q])
        assert abs(five[q] / req[q] - 1.0) <= 0.25, (q, five[q], req[q])  # issue 13's bar


def test_a_long_tick_is_cut_into_slices_of_at_most_twenty_seconds():
    """The door's wait is resolved per slice of a tick's work; with a fixed 16 slices a 15-min tick's slices were 56 s
    long, and 60 min of 15-min ticks at 1.1x the capped rack's power ceiling read TTFT p50 161.5 s where 1-min ticks
    read 164.0 (-1.5 %, measured 2026-12-05). Cut into 20-s slices (45 at 15 min), the two agree."""
    assert [se.door_slices(t) for t in (1.0, 60.0, 300.0, 320.0, 900.0, 3600.0)] == [16, 16, 16, 16, 45, 64]
    import copy
    base = _capped_rack(1.1, 1, duration="60 min")
    p50 = {}
    for tick in ("1 min", "15 min"):
        raw = copy.deepcopy(base)
        raw["controller"]["tick"] = tick
        p50[tick] = dcsim.run(raw).report["latency_s"]["ttft"]["p50"]
    assert p50["15 min"] == pytest.approx(p50["1 min"], rel=0.005), p50


def test_known_gaps_are_said_where_they_were_measured():
    """docs/slo.md's "known gaps" (the estimate measured outside its bar against request fidelity) were listed in
    the docs only: a run in one of those regimes printed its SLO figures with no caveat."""
    kg = se.known_gap_caveats
    assert kg({"chat": 1155.0}, 30.0, 1.0, 0.0, False) == []
    short = kg({"chat": 1155.0}, 2.0, 1.0, 5e4, False)
    assert len(short) == 1 and "hold_limit 2 s with requests shed" in short[0]
    assert kg({"chat": 1155.0}, 2.0, 1.0, 0.0, False) == [] and kg({"chat": 1155.0}, 5.0, 1.0, 5e4, False) == []
    mix = kg({"chat": 1155.0, "code": 2048.0, "agentic": 12035.0}, 30.0, 1.0, 0.0, False)
    assert len(mix) == 1 and "agentic 12,035 tokens on average, chat 1,155" in mix[0]
    assert kg({"chat": 1155.0, "code": 2048.0}, 30.0, 1.0, 0.0, False) == []
    long_tick = kg({"chat": 1155.0}, 900.0, 1800.0, 0.0, True)
    assert long_tick[0].startswith("SLO estimate: capped by power or cooling")
    assert "measured against request fidelity on ticks of up to 15 min" in long_tick[0]
    # ticks of up to 15 min: within -15 to 0 % of request fidelity (docs/slo.md); until 2026-12-05 warned above 1 min
    assert kg({"chat": 1155.0}, 900.0, 900.0, 0.0, True) == [] and kg({"chat": 1155.0}, 900.0, 300.0, 0.0, True) == []
    assert kg({"chat": 1155.0}, 900.0, 1800.0, 0.0, False) == []


def test_known_gaps_say_their_share_of_the_run_and_minor_ones_become_notes():
    """year-richmond warned "capped ... at clock 0.37" and "... on 900-s ticks" for 22 and 158 of its 35,040 ticks
    (0.55 % of its requests arrived on the 158, 0.33 % were served there): each such warning now says the share of
    the run it concerns, and one whose requests could not move the run's attainment beyond the seed band it is read
    with (every one flipping) is a note of report.json instead (dcsim.serving.slo_estimate.slo_gap_is_minor). (Its
    900-s ticks are within CAPPED_TICK_S since 2026-12-05; its shares are kept here on 1800-s ticks.)"""
    kg = se.known_gap_caveats
    big = {"capped_long_tick": (5_000, 35_040, 0.2, 0.15), "capped_low_clock": (900, 35_040, 0.03, 0.02)}
    notes: list[str] = []
    w = kg({"chat": 1155.0}, 900.0, 1800.0, 0.0, True, False, 0.37, shares=big, attainment=0.348, notes=notes)
    assert notes == [] and len(w) == 2
    assert "at clock 0.37 with work waiting at the door (below 0.4) (on 900 of 35,040 ticks, 2.6 % of the run; 3 % " \
           "of its requests arrived and 2 % were served there): this estimate" in w[0]
    assert "on 1800-s controller ticks (on 5,000 of 35,040 ticks, 14 % of the run; 20 % of its requests" in w[1]
    small = {"capped_long_tick": (158, 35_040, 0.0055, 0.0033), "capped_low_clock": (22, 35_040, 0.00077, 0.0003)}
    w = kg({"chat": 1155.0}, 900.0, 1800.0, 0.0, True, False, 0.37, shares=small, attainment=0.348, notes=notes)
    assert w == [] and len(notes) == 2
    assert notes[1].startswith("SLO estimate: capped by power or cooling with work waiting at the door, on 1800-s "
                               "controller ticks (on 158 of 35,040 ticks, 0.45 % of the run; 0.55 % of its requests")
    assert "not warned: at most 0.88 points of SLO attainment" in notes[1] and "34.8 %" in notes[1]
    # against a low attainment (band +-0.16 points) the 0.88 % is warned, the 0.11 % still is not
    low = kg({"chat": 1155.0}, 900.0, 1800.0, 0.0, True, False, 0.37, shares=small, attainment=0.05)
    assert len(low) == 1 and "1800-s controller ticks (on 158 of 35,040" in low[0]
    # under half the printed 0.1 % step it is minor whatever the attainment
    assert se.slo_gap_is_minor(0.0004, 0.0) and not se.slo_gap_is_minor(0.0006, 0.0)
    assert se.slo_gap_is_minor(0.0111, 0.348) and not se.slo_gap_is_minor(0.0112, 0.348)


def test_known_gap_caveat_travels_with_the_run(tmp_path):
    """A run with a 1-s hold limit under overload says so in report.json (the CLI prints its warnings under the
    summary), the HTML, compare and plan's fast-model line (which reads slo_caveats)."""
    from dcsim.report import write_outputs
    from dcsim.report.compare import compare

    raw = cal.scenario("chat", "70b", 1.3, "fluid", duration="5 min")
    res = dcsim.run({**raw, "controller": {**raw["controller"], "hold_limit": "1 s"}})
    gaps = [w for w in res.report["warnings"] if w.startswith(se.SLO_GAP_PREFIX)]
    assert len(gaps) == 1 and "hold_limit 1 s" in gaps[0], res.report["warnings"]
    assert se.slo_caveats(res.report)[-1:] == gaps  # after the tail caveat when it fires too
    page = write_outputs(res, tmp_path / "short", plots=False)["report.html"].read_text(encoding="utf-8")
    assert "hold_limit 1 s with requests shed" in page
    ok = dcsim.run(cal.scenario("chat", "70b", 0.6, "fluid", duration="5 min"))
    assert se.slo_caveats(ok.report) == []
    write_outputs(ok, tmp_path / "ok", plots=False)
    table, data = compare([tmp_path / "ok", tmp_path / "short"])
    assert [r["slo_caveat"] is not None for r in data["runs"]] == [False, True]
    assert "short: SLO estimate: controller.hold_limit 1 s" in table


@pytest.mark.parametrize("racks, cap_kw, rate", [(2, 50, 130), (3, 40, 150)])
def test_fluid_tpot_where_the_clock_is_capped_low_is_that_of_request_fidelity(racks, cap_kw, rate):
    """Capped low on the power frontier, work held at the door: the frontier serves the rate on replicas at full load
    (at 40 kW for 12 replicas: a share of them, the rest idle, at the lowest clock). The estimate simulates those
    replicas at the batch saturated replicas hold (audit L #2). Until 2026-12-04 it spread the rate evenly over every
    replica and simulated saturated ones at 0.98 of their throughput, half the batch at these clocks: TPOT p50
    130 against request fidelity's 155 ms at 50 kW (clock 0.49), 23 against 239 ms at 40 kW (consolidated, clock
    0.30); now 159 / 155 and 246 / 239 ms (docs/slo.md, "Capped on the frontier")."""
    raw = small_scenario(**{"duration": "20 min", "controller.tick": "10 s", "racks.0.count": racks,
                            "facility.interconnect": f"{cap_kw} kW", "workload.arrivals.rate": f"{rate} req/s"})
    flu = dcsim.run(raw).report
    req = dcsim.run({**raw, "fidelity": "request"}).report
    assert flu["controller"]["mean_clock"] < 0.55
    assert flu["latency_s"]["tpot"]["p50"] == pytest.approx(req["latency_s"]["tpot"]["p50"], rel=0.08)


def test_the_estimate_reads_the_frontier_share_the_engine_records():
    """The engine records the share of each capped tick it ran at the frontier's point (``frontier_share``: some
    replicas at full load, the others idle, mixed in time with even load) and the estimate reads it, instead of
    choosing the engine's candidates again from the recorded IT power (until 2026-12-04). 12 replicas of 70B at 40 kW
    and 150 req/s run consolidated at the lowest clock: the tick draws its IT budget as that mix — the share of the
    frontier's point between the lowest clock's even load and the frontier's — and the estimate splits it as
    recorded. With deferrable work the estimate's view carries the share at which the interactive tokens run within
    the tick's power (docs/grid.md: the estimate leaves the deferred work out of the replicas' load)."""
    from dcsim.engine.assemble import interactive_view
    from dcsim.engine.pools import _even_rows

    raw = small_scenario(**{"duration": "10 min", "controller.tick": "10 s", "racks.0.count": 3,
                            "facility.interconnect": "40 kW", "workload.arrivals.rate": "150 req/s"})
    res = dcsim.run({**raw, "serving": {"slo_estimate": False}})
    ts, m = res.timeseries, build_models(res.scenario)
    share, capped = ts["frontier_share"], ts["mode"] == 1
    assert np.all(share[~capped] == 0.0) and np.all((share >= 0.0) & (share <= 1.0))
    assert np.count_nonzero(share[capped] > 0) >= 0.5 * np.count_nonzero(capped) > 0
    # the IT power the tick drew is the recorded mix of the lowest clock's even load and the frontier's point
    avail = ts["gpus_in_service"] / m.gpus
    r = ts["achieved_tok_s"] / avail
    even = _even_rows(m.curves, m.clocks, r)[0][m.clocks.size - 1]
    f = m.curves.frontier("pq")
    mix = (1.0 - share) * even + share * np.interp(r, f.rate, f.it)
    on = capped & (share > 0)
    np.testing.assert_allclose(avail[on] * (mix[on] - m.overhead_w) + m.overhead_w, ts["it_power_w"][on], rtol=1e-9)
    reps = avail[:, None] * np.array([g.limits.replicas for g in m.groups], float)
    fp = se._frontier_parts(m, ts, ts["achieved_tok_s"], avail, serving_frontier_parts(m), reps)
    np.testing.assert_array_equal(fp["frontier"], np.where(capped, share, 0.0))
    assert se._frontier_parts(m, dict(ts, frontier_share=np.zeros_like(share)), ts["achieved_tok_s"], avail,
                              serving_frontier_parts(m), reps) is None  # nothing recorded at the frontier's point: even load
    # deferrable work: grid-flex's catch-up (19:41-19:51) runs wholly at the frontier's point; the interactive tokens
    # alone fit even load within that power
    gf = dcsim.run(ROOT / "scenarios" / "grid-flex.yaml", overrides={"serving.slo_estimate": False})
    gts, gm = gf.timeseries, build_models(gf.scenario)
    catch_up = (gts["mode"] == 1) & (gts["deferred_served_tok_s"] > 0.1 * gts["achieved_tok_s"])
    assert np.count_nonzero(catch_up) >= 5 and np.all(gts["frontier_share"][catch_up] == 1.0)
    view = interactive_view(gm, gts)
    assert np.all(view["frontier_share"][catch_up] == 0.0)
    same = (gts["mode"] == 1) & (gts["deferred_served_tok_s"] == 0.0)
    np.testing.assert_allclose(view["frontier_share"][same], gts["frontier_share"][same], atol=1e-9)


# --------------------------------------------------------------------------- critically loaded pools

def _critical_waits_by_events(lam: float, tick_s: float, held_after_s: float, n_ticks: int, seed: int) -> np.ndarray:
    """The same controlled queue, request by request in continuous time (competing exponential clocks): Poisson
    arrivals at ``lam``, Poisson completions at ``lam + held / tick_s`` while requests wait, ``held`` the requests
    waiting at a tick's end that arrived at least ``held_after_s`` before it. FIFO waits after a tenth of warm-up."""
    rng = np.random.default_rng(seed)
    waiting: list[float] = []  # arrival times, FIFO
    head, waits, held = 0, [], 0
    for j in range(n_ticks):
        t, end, mu = j * tick_s, (j + 1) * tick_s, lam + held / tick_s
        while True:
            rate = lam + (mu if head < len(waiting) else 0.0)
            t += rng.exponential(1.0 / rate)
            if t >= end:
                break
            if rng.random() < lam / rate:
                waiting.append(t)
            else:
                if j >= n_ticks // 10:
                    waits.append(t - waiting[head])
                head += 1
        held = sum(1 for a in waiting[head:] if a <= end - held_after_s)
    return np.asarray(waits)


def test_critical_wait_is_the_controlled_queue_simulated_request_by_request():
    """critical_wait_s steps the queue in 20-ms steps with the Lindley recursion; an event simulation of the same
    queue (above) gives the same waits: 40 requests/s on 10-s ticks, the controller counting what waited 1 s."""
    fast = se.critical_wait_s(40.0, 10.0, 1.0, held_after_s=1.0, seed=1, n_ticks=1000)
    ev = _critical_waits_by_events(40.0, 10.0, 1.0, 1000, seed=2)
    for q in (0.5, 0.9, 0.99):
        assert np.quantile(fast, q) == pytest.approx(np.quantile(ev, q), rel=0.15), q  # measured within 4 %


def test_critical_wait_is_set_by_what_the_controller_counts_as_held():
    """A pool run at exactly its throughput queues as a driftless random walk until its work has waited long enough
    for the controller to count it (HELD_AFTER_S) and raise the next tick's rate: the wait is of that order, about
    twice as long when the controller waits twice as long to count it, and shorter when it counts every waiting
    request; a larger pool's walk is narrower, so its tail is shorter (950 requests/s on 1-min ticks is mixed-fleet's
    chat pool at 09:00)."""
    q = lambda w: np.quantile(w, [0.5, 0.99])  # noqa: E731
    base = q(se.critical_wait_s(950.0, 60.0, 1.0, held_after_s=1.0, seed=3))
    assert 0.4 <= base[0] <= 0.9 and 1.2 <= base[1] <= 2.2  # measured 0.60 s, 1.58 s
    twice = q(se.critical_wait_s(950.0, 60.0, 1.0, held_after_s=2.0, seed=3))
    assert 1.6 <= twice[0] / base[0] <= 2.4  # measured 1.92
    every = q(se.critical_wait_s(950.0, 60.0, 1.0, held_after_s=0.0, seed=3))
    assert every[0] < 0.5 * base[0]  # measured 0.18 s
    large = q(se.critical_wait_s(9500.0, 60.0, 1.0, held_after_s=1.0, seed=3))
    assert large[1] < 0.85 * base[1]  # measured 1.16 s
    assert np.all(np.diff(se.critical_wait_s(950.0, 60.0, 1.0, held_after_s=1.0, seed=3)) >= 0)


def test_a_pool_given_its_whole_need_on_a_shared_cap_waits_in_its_critical_queue():
    """mixed-fleet 09:00-10:30: the controller splits the 700 kW on the pools' joint frontier and gives the chat pool
    its whole need, at the clock whose full-load rate is that need (nothing at its door). The estimate took its
    replicas as held at full load with no wait: TTFT p50 0.136 s, where request fidelity measured 0.710 s
    (tests/test_hetero.py compares the two); now they wait in the queue the controller regulates: 0.747 s."""
    from pathlib import Path
    sc = Path(__file__).resolve().parents[1] / "scenarios" / "mixed-fleet.yaml"
    # the split these figures were measured under (until session 53), which runs the pool critically loaded here; the default
    # (controller.shared_split: useful_clock) gives the chat pool its full clock instead (docs/slo.md)
    rep = dcsim.run(sc, overrides={"duration": "90 min", "start": "2026-07-15T09:00", "expect": {},
                                   "controller.shared_split": "tokens"}).report
    chat = rep["serving"]["per_class"]["chat"]
    assert 0.5 <= chat["latency_s"]["ttft"]["p50"] <= 1.0
    assert 0.35 <= chat["slo_attainment"] <= 0.6  # 0.477 measured (request fidelity 0.457); 0.667 before


def test_a_door_releasing_per_tick_lets_a_ticks_early_arrivals_in():
    """Request fidelity's door refills its token bucket once per tick and releases in FIFO order at the tick's start:
    with a backlog of a fifth of a tick's release, the first four fifths of the tick's work arrived within the tick
    and waited nothing; the backlog waited from its arrival (the end of the previous tick) to the tick's start. A
    door serving continuously (fifo_wait_s) gives the whole tick one wait, ~12 s here."""
    dt, n = 60.0, 12
    arrived = np.full(n, 100.0 * dt)
    arrived[0] += 20.0 * dt  # a backlog of 1,200 tokens (12 s of arrivals) left after tick 0
    released = np.full(n, 100.0 * dt)
    w = se.door_release_wait_s(arrived, released, dt, slices=10)
    assert w.shape == (n, 10)
    for k in range(1, n):
        assert np.all(w[k, 2:] == 0.0)  # the tick's own arrivals: in at once
        # the backlog: the last 12 s of tick k-1 (10 s of tick 0, arriving at 120/s), at the slices' midpoints
        assert w[k, :2] == pytest.approx([7.5, 2.5] if k == 1 else [9.0, 3.0])
    assert se.fifo_wait_s(arrived, released, dt)[1:] == pytest.approx(12.0)
    # nothing waits when the release keeps up
    assert np.all(se.door_release_wait_s(np.full(n, 50.0), np.full(n, 50.0), dt) == 0.0)


def test_work_shed_at_a_door_releasing_per_tick_leaves_first_and_the_served_slices_do_not_wait_its_wait():
    """The tokens shed in a tick are the oldest at the door (held past the hold limit), so they leave first: the tick's
    served slices are the work after them. A backlog of 1,200 tokens after tick 0, all of it shed in tick 1 with the
    release 6,000 tokens (shed counted in): tick 1 serves only its own arrivals, none of which waited. (Splitting the
    served and shed tokens evenly, the first two of ten served slices read the backlog's 7.5 and 2.5 s.)"""
    dt, n = 60.0, 4
    arrived = np.full(n, 100.0 * dt)
    arrived[0] += 20.0 * dt
    released = np.full(n, 100.0 * dt)
    shed = np.array([0.0, 1200.0, 0.0, 0.0])
    w = se.door_release_wait_s(arrived, released, dt, slices=10, shed_tok=shed)
    assert np.all(w[1] == 0.0)
    assert w[2, :2] == pytest.approx([9.0, 3.0])  # tick 1's own last arrivals, held to tick 2, are served there
    # without shedding, tick 1's first slices are the backlog's
    assert se.door_release_wait_s(arrived, released, dt, slices=10)[1, :2] == pytest.approx([7.5, 2.5])


def _kv_bound_capped(fidelity: str, tick: str = "1 min") -> dict:
    """One rack of Llama-3.1-405B FP8 on B200 (8 replicas, TP4) serving the reasoning preset, whose KV cache holds 79
    sequences (max_batch 256), at 1.05x its ceiling under a 40 kW interconnect (the controller capped), 1-min ticks
    (or ``tick``)."""
    raw = {"name": "kv-bound-capped", "seed": 1, "duration": "30 min", "fidelity": fidelity,
           "facility": {"interconnect": "40 kW", "cooling": {"kind": "chiller_plant", "capacity": "300 kW"},
                        "weather": {"kind": "constant", "t_db": 25, "rh": 0.4}},
           "racks": [{"name": "r", "count": 1, "nodes_per_rack": 4,
                      "node": {"gpu": "B200", "model": "llama-3.1-405b", "precision": "fp8", "tensor_parallel": 4,
                               "max_batch": 256},
                      "cooling": {"kind": "liquid", "limit": "100 kW"}}],
           "workload": {"arrivals": {"kind": "poisson", "rate": "1 req/s"},
                        "classes": [{"name": "reasoning", "preset": "reasoning", "share": 1.0}]},
           "controller": {"tick": tick}}
    m = build_models(load_scenario(dict(raw)))
    g = m.groups[0]
    assert g.kv_bound
    t = dcsim.run(dict(raw, duration="5 min", fidelity="fluid")).report["tpf"]
    lim = min(t["compute_tok_s"], t["power_tok_s"], t["cooling_tok_s"])
    raw["workload"]["arrivals"]["rate"] = f"{1.05 * lim / m.workload.mean_output} req/s"
    return dcsim.run(raw).report


def test_kv_bound_replicas_behind_a_capped_door_wait_as_the_door_releases():
    """A KV-bound pool capped at 1.05x its ceiling on 1-min ticks: request fidelity's door lets each tick's early
    arrivals in and holds its last ones to the next tick's start, and the replicas admit what it releases at once.
    Measured 2026-12-05: SLO attainment 0.314 request (0.563 and 0.442 with seeds 2 and 3; 0.312, 0.550 and 0.436
    before the door stopped blocking on a long answer), the estimate 0.375 — 0.033 before, when every request of a
    tick waited the door's continuous FIFO wait (TTFT p50 41.6 s against request fidelity's 23.3 s, 23.0 s since the
    door's fix; now 13.3 s)."""
    req, flu = _kv_bound_capped("request"), _kv_bound_capped("fluid")
    assert abs(flu["slo_attainment"] - req["slo_attainment"]) <= 0.15, (flu["slo_attainment"], req["slo_attainment"])


def test_kv_bound_capped_rack_on_one_second_ticks_reads_as_request_fidelity():
    """The KV-bound rack above on 1-s controller ticks (2026-12-05, seed 1): request fidelity reads SLO attainment
    0.088 and TTFT p50 50.8 s (p99 127 s) against the estimate's 0.028 and 42 s: within 6 points and 17 %. Until the
    door was fixed (2026-12-05) it read 0.001 and 594 s (the hold limit's 600): request fidelity's door, a token
    bucket two ticks deep at the controller's limit (25.1 k output tokens at 12.5 k tok/s), released its FIFO head
    only when the head's whole answer fitted; 1.6 % of the reasoning requests (lognormal, median 5,483, capped at
    32,768 tokens) are longer, so the first such request blocked the door until it was shed at the hold limit (it
    served nothing from minute 3 to minute 10). Now a request goes while the tokens released before it are under
    the bucket, the bucket going into debt (tests/test_requests_door.py). At 10-s and 1-min ticks (bucket depth
    250 k and 1.5 M tokens) no answer is that long."""
    req, flu = _kv_bound_capped("request", "1 s"), _kv_bound_capped("fluid", "1 s")
    f, r = (x["latency_s"]["ttft"]["p50"] for x in (flu, req))
    assert f == pytest.approx(r, rel=0.25), (f, r)
    assert abs(flu["slo_attainment"] - req["slo_attainment"]) <= 0.15


def test_critically_loaded_replicas_ttft_p99_is_within_its_accepted_band_and_warned():
    """mixed-fleet's chat pool at 07:40-08:10 (seed 8): the shared budget runs its 80 replicas critically loaded
    (the controller's limit is their whole need, at the clock whose full-load rate is that need). The estimate walks
    one pooled queue for them (critical_wait_s); request fidelity's router balances the replicas' outstanding tokens
    (sd 0.3-0.6 % of ~410 k tokens per replica), which leaves each replica's own queue of waiting requests unequal
    (sd about its mean; 5-35 of 80 replicas with none at a tick's end), so its waits spread wider about the same mean:
    TTFT p99 1.96 s fluid against 2.45 s request (-20 %; seeds 7 and 9 -17 and -29 %; 09:00-09:30 -21 %; 07:30-08:30
    -22 %, per 5-min window -17 to -30 %). The accepted band is CRITICAL_TTFT_P99_BAND_PCT, and the run's warning says it (until
    2026-12-05 the warning said "25 % short" without a band or a cause)."""
    from pathlib import Path
    sc = Path(__file__).resolve().parents[1] / "scenarios" / "mixed-fleet.yaml"
    # the split these figures were measured under (until session 53), which runs the pool critically loaded here; the default
    # (controller.shared_split: useful_clock) gives the chat pool its full clock instead (docs/slo.md)
    ov = {"duration": "30 min", "start": "2026-07-15T07:40", "expect": {}, "seed": 8, "controller.shared_split": "tokens"}
    flu = dcsim.run(sc, overrides=dict(ov, fidelity="fluid")).report
    req = dcsim.run(sc, overrides=dict(ov, fidelity="request")).report
    f, r = (x["serving"]["per_class"]["chat"]["latency_s"]["ttft"]["p99"] for x in (flu, req))
    lo, hi = se.CRITICAL_TTFT_P99_BAND_PCT
    assert lo <= 100.0 * (f / r - 1.0) <= hi, (f, r)
    warn = [w for w in flu["warnings"] if w.startswith("SLO estimate: several model pools capped on a shared budget")]
    # the band as the reader sees it (a literal: formatting the constant would find the warning built from it)
    assert warn and "-35 to -15 %" in warn[0], warn


def test_one_pool_at_its_capping_ceiling_is_warned_with_its_measured_band():
    """One pool (the 40-kW chat/70B rack, 8 replicas) offered its power ceiling on 1-min ticks: request fidelity's lane
    aims its power trim below the target and serves 1.7-3.3 % below the fluid ceiling, so its queue grows where the
    fluid replicas keep up (or walk the critically loaded queue). The band (-75 to +20 % since 2026-12-05, from 1, 4
    and 16 racks; -70 to -15 % before, from the one rack's 20-min runs at 0.97 (seed 1), 0.99 and 1.0 (seeds 1, 2) and
    1.02 (seed 3)) is checked here at a point not used to set it, 0.995 (seed 1, 10 min: TTFT p99 3.29 against
    5.40 s, -39 %, measured 2026-12-05). The warning is keyed on ticks capped with the arrivals within 3.5 % of the
    capping ceiling (or critically loaded): 0.97 (TTFT p99 -67 %, no tick critically loaded) and 1.02 (-19 %) were
    not warned until 2026-12-05, when it was keyed on critically loaded ticks alone."""
    import copy
    out = {}
    for fid in ("fluid", "request"):
        raw = copy.deepcopy(_capped_rack(0.995, 1, duration="10 min"))
        raw["fidelity"], raw["controller"]["tick"] = fid, "1 min"
        out[fid] = dcsim.run(raw).report
    f, r = (out[x]["latency_s"]["ttft"]["p99"] for x in ("fluid", "request"))
    assert -75.0 <= 100.0 * (f / r - 1.0) <= 20.0, (f, r)
    head = "SLO estimate: capped by power or cooling with the arrivals within 3.5 % of the capping ceiling"
    warn = [w for w in out["fluid"]["warnings"] if w.startswith(head)]
    assert warn and "(on 10 of 10 ticks, 100 % of the run" in warn[0], out["fluid"]["warnings"]
    assert "TTFT p99 -75 to +20 %" in warn[0]  # the band as the reader sees it
    # the scope measured
    assert "pools of 8, 32 and 128 replicas" in warn[0] and "10- and 20-min runs" in warn[0] and "1-min ticks" in warn[0]
    # just below (0.97: no tick critically loaded, the arrivals 3 % under the ceiling) and just above (1.02) warned;
    # well below (0.9) not: the door and the replicas keep up
    for load, warned in ((0.97, True), (1.02, True), (0.9, False)):
        raw = copy.deepcopy(_capped_rack(load, 1, duration="10 min"))
        raw["controller"]["tick"] = "1 min"
        assert bool([w for w in dcsim.run(raw).report["warnings"] if w.startswith(head)]) == warned, load


def test_one_pool_gap_on_a_larger_pool_is_within_its_band_and_warned():
    """The one-pool gap beyond one rack (measured 2026-12-05, 10 min, 1-min ticks, seeds 1-3 at 0.97-1.02 of the power
    ceiling): it does not shrink with the pool. At the ceiling itself 4 racks (32 replicas) read TTFT p99 -57 / -68 /
    -73 % and 16 racks (128) -75 / -70 / -69 % of request fidelity's, SLO attainment +22 to +32 points, where one rack
    read -60 / -11 / -58 %: the estimate's critically loaded walk shortens as the pool grows, request fidelity's lane
    queue does not. The band the warning quotes (-70 to -15 % until then, from one rack) now spans them: 4 racks at
    1.0, seed 3 (2.12 against 7.90 s, -73 %) was outside it."""
    import copy
    out = {}
    for fid in ("fluid", "request"):
        raw = copy.deepcopy(_capped_rack(1.0, 3, duration="10 min", racks=4))
        raw["fidelity"], raw["controller"]["tick"] = fid, "1 min"
        out[fid] = dcsim.run(raw).report
    f, r = (out[x]["latency_s"]["ttft"]["p99"] for x in ("fluid", "request"))
    lo, hi = se.CRITICAL_ONE_POOL_BAND_PCT
    gap = 100.0 * (f / r - 1.0)
    assert lo <= gap <= hi and gap < -60.0, (f, r)  # far short, as measured
    assert out["fluid"]["slo_attainment"] > out["request"]["slo_attainment"] + 0.15  # attainment reads high
    head = "SLO estimate: capped by power or cooling with the arrivals within 3.5 % of the capping ceiling"
    warn = [w for w in out["fluid"]["warnings"] if w.startswith(head)]
    assert warn and "TTFT p99 -75 to +20 %" in warn[0] and "32 and 128 replicas" in warn[0], out["fluid"]["warnings"]


def test_the_critical_gap_warning_reads_the_ticks_the_estimate_walked_on_a_deferrable_run(monkeypatch):
    """With deferrable work the estimate reads the interactive view (the deferred work out of the arrivals and the
    served rate): the capped rack at 1.25x its power ceiling with a 20 % deferrable share (headroom policy, 1-min
    ticks, 10 min) serves its interactive work critically loaded on every tick, while the whole series holds the
    deferred work at the door. The warning read the whole series and found no critically loaded tick (until
    2026-12-05: year-richmond's estimate walked the critical queue on three ticks its warning never named); it now
    reads the estimate's own ticks (SloEstimate.critical_ticks)."""
    import copy
    import dcsim.engine.assemble as asm
    from dcsim.tpf import closed_door
    raw = copy.deepcopy(_capped_rack(1.25, 1, duration="10 min"))
    raw["controller"]["tick"] = "1 min"
    raw["deferrable"] = {"share": "20%", "deadline": "24 h", "policy": "headroom"}
    seen = []
    real = asm.slo_gap_caveats
    monkeypatch.setattr(asm, "slo_gap_caveats", lambda m, ts, *a, **k: seen.append((m, ts, a)) or real(m, ts, *a, **k))
    raws = []  # the whole series, as the run recorded it (the caveats read the interactive view the estimate read)
    real_view = asm.interactive_view
    monkeypatch.setattr(asm, "interactive_view", lambda m, ts: raws.append(ts) or real_view(m, ts))
    rep = dcsim.run(raw).report
    warn = [w for w in rep["warnings"] if "critically loaded" in w]
    assert len(warn) == 1 and "(on 10 of 10 ticks" in warn[0]
    m, view, args = seen[0]
    ts = raws[-1]
    assert np.sum(view["arrived_tokens"]) < np.sum(ts["arrived_tokens"])  # the caveats read the interactive view
    walked = args[2]  # the estimate's critically loaded ticks, passed on
    assert walked is not None and walked.shape == (10, 1) and np.all(walked)  # (ticks, pools), one pool too
    # on the whole series the door holds the deferred work: the same test finds no tick there
    dt = float(m.scenario.controller.tick)
    served = np.asarray(ts["achieved_tok_s"], float)
    door = se.fifo_wait_slices_s(np.asarray(ts["arrived_tokens"], float),
                                 served * dt + np.asarray(ts["shed_tokens"], float), dt, shed_tok=ts["shed_tokens"])
    whole = se.critical_ticks(m.groups, m.clocks, closed_door(ts["mode"]), served, door, ts["controller_clock"],
                              asm._serving(m, ts)["serving_replicas"])
    assert not np.any(whole)


def test_one_pool_critical_gap_is_a_note_where_it_concerns_few_requests():
    kg = se.known_gap_caveats
    notes: list[str] = []
    few = {"critical": (14, 1_440, 0.0004, 0.0004)}
    assert kg({"chat": 1155.0}, 600.0, 60.0, 0.0, False, shares=few, attainment=0.27, notes=notes) == []
    assert len(notes) == 1 and "(critically loaded) (on 14 of 1,440 ticks" in notes[0]
    many = {"critical": (700, 1_440, 0.5, 0.5)}
    w = kg({"chat": 1155.0}, 600.0, 60.0, 0.0, False, shares=many, attainment=0.27)
    assert len(w) == 1 and "TTFT p99 -75 to +20 %" in w[0]
    # no critically loaded tick: no warning
    assert kg({"chat": 1155.0}, 600.0, 60.0, 0.0, False, shares={"critical": (0, 1_440, 0.0, 0.0)},
              attainment=0.27) == []
    assert kg({"chat": 1155.0}, 600.0, 60.0, 0.0, False, attainment=0.27) == []


def test_shared_cap_gap_is_weighed_on_its_critically_loaded_share():
    """The several-pools warning quotes a band (TTFT p99 -35 to -15 %, p50 long) measured on replicas run critically
    loaded; until 2026-12-05 it was printed on every capped mixed-fleet run, where 02:00-03:00 and 14:00-15:00 have no
    such tick and read their chat TTFT p99 -9 % and +1.5 % of request fidelity's. Now: no critically loaded tick, no
    warning; under 1 % of the pool's requests served on them (none can be the p99) and too few to move the
    attainment, a note; else the warning, with the pool and its share."""
    kg = se.known_gap_caveats
    head = "SLO estimate: several model pools capped on a shared budget"
    none = {"shared_critical": (0, 60, 0.0, 0.0)}
    notes: list[str] = []
    assert kg({"chat": 1155.0}, 600.0, 60.0, 0.0, True, True, shares=none, attainment=1.0, notes=notes) == []
    assert notes == []
    # mixed-fleet 05:00 for 142 min (seed 7): one critically loaded chat tick, 0.87 % of the pool's requests
    few = {"shared_critical": (1, 142, 0.0087, 0.0087)}
    assert kg({"chat": 1155.0}, 600.0, 60.0, 0.0, True, True, shares=few, attainment=0.991, notes=notes,
              critical_pool="h100-chat") == []
    assert len(notes) == 1 and notes[0].startswith(head + ", pool h100-chat run critically loaded")
    assert "(on 1 of 142 ticks, 0.7 % of the run; 0.87 % of the pool's requests" in notes[0]
    assert "under 1 % of the pool's requests were served there" in notes[0]
    # 06:00 for 82 min: the same tick is 1.4 % of the requests, the chat TTFT p99 0.53 s against 0.33 s without it
    one = {"shared_critical": (1, 82, 0.014, 0.014)}
    w = kg({"chat": 1155.0}, 600.0, 60.0, 0.0, True, True, shares=one, attainment=0.986, critical_pool="h100-chat")
    assert len(w) == 1 and w[0].startswith(head) and "-35 to -15 %" in w[0] and "1.4 % of the pool's requests" in w[0]
    # a one-pool critically loaded gap is weighed on the p99 the same way: 1.5 % of the requests served there is the
    # p99 even where the attainment could move by no more than its seed band (noted until 2026-12-05)
    p99 = {"critical": (20, 1_440, 0.015, 0.015)}
    assert len(kg({"chat": 1155.0}, 600.0, 60.0, 0.0, False, shares=p99, attainment=1.0)) == 1
    assert se.ttft_gap_is_minor(0.0099, 0.02, 1.0) and not se.ttft_gap_is_minor(0.01, 0.02, 1.0)
    assert not se.ttft_gap_is_minor(0.005, 0.01, 0.2)  # the attainment's band still counts


def test_a_light_mixed_fleet_window_gets_no_shared_cap_band_and_a_loaded_one_does():
    """mixed-fleet (seed 7) is capped on its shared 700 kW on every tick. At 02:00 its pools run light (the chat pool
    at clock ~0.95, far from its full-load rate): no tick critically loaded, and fluid matched request fidelity
    (chat TTFT p99 0.206 / 0.227 s, attainment 1.000 / 1.000; the audit of 2026-12-05), so no band is printed. At
    07:30 the split runs the chat pool critically loaded on every tick and the band is printed with that share."""
    from pathlib import Path
    sc = Path(__file__).resolve().parents[1] / "scenarios" / "mixed-fleet.yaml"
    head = "SLO estimate: several model pools capped on a shared budget"
    # the split these figures were measured under (until session 53), which runs the pool critically loaded here; the default
    # (controller.shared_split: useful_clock) gives the chat pool its full clock instead (docs/slo.md)
    tok = {"controller.shared_split": "tokens"}
    light = dcsim.run(sc, overrides={"duration": "20 min", "start": "2026-07-15T02:00", "expect": {}, **tok})
    assert np.all(light.timeseries["mode"] == 1)  # capped: the old warning's only condition
    assert not [w for w in light.report["warnings"] if w.startswith(head)]
    assert not [n for n in light.report.get("notes") or [] if isinstance(n, str) and n.startswith(head)]
    loaded = dcsim.run(sc, overrides={"duration": "20 min", "start": "2026-07-15T07:30", "expect": {}, **tok}).report
    warn = [w for w in loaded["warnings"] if w.startswith(head)]
    assert len(warn) == 1 and "pool h100-chat run critically loaded" in warn[0]
    assert "(on 20 of 20 ticks, 100 % of the run; 100 % of the pool's requests" in warn[0] and "-35 to -15 %" in warn[0]


def test_kv_bound_replicas_given_their_whole_need_are_not_held_in_the_critical_queue():
    """mixed-fleet 06:40-07:20: the shared budget gives the reasoning pool (KV-bound: 79 sequences of 256) its whole
    need at the clock whose full-load rate is that need. Its replicas admit a request as soon as the KV cache holds
    its prompt, so no admission queue forms (request fidelity: TTFT p99 0.18 s, attainment 0.996; 0.17 s and 0.997
    before its door's fix of 2026-12-05). The estimate
    held them in the critically loaded queue a slot-bound pool forms (critical_wait_s) until 2026-12-05: TTFT p99
    5.95 s, attainment 0.920; now 0.62 s and 0.992."""
    from pathlib import Path
    sc = Path(__file__).resolve().parents[1] / "scenarios" / "mixed-fleet.yaml"
    rep = dcsim.run(sc, overrides={"duration": "40 min", "start": "2026-07-15T06:40", "expect": {}}).report
    rs = rep["serving"]["per_class"]["reasoning"]
    assert rs["latency_s"]["ttft"]["p99"] < 2.0
    assert rs["slo_attainment"] >= 0.97


def test_level_share_takes_one_level_for_the_run():
    """Each group's share of the serving replicas' full-load rate: the estimate reads it at full clock on every tick,
    a level constant per run, passed as one level (until 2026-12-05 as a per-tick array of that one value); a tick
    with none serving takes the shares of all the groups' replicas. Two groups: 4 replicas at 10 tok/s and 2 at 30 at
    the top level."""
    from types import SimpleNamespace

    g = [SimpleNamespace(table=SimpleNamespace(thr_max=np.array([5.0, 10.0])), limits=SimpleNamespace(replicas=4)),
         SimpleNamespace(table=SimpleNamespace(thr_max=np.array([6.0, 30.0])), limits=SimpleNamespace(replicas=2))]
    reps = np.array([[4.0, 2.0], [4.0, 0.0], [0.0, 0.0], [2.0, 1.0]])
    one = se._level_share(g, 1, reps)
    np.testing.assert_allclose(one, [[0.4, 0.6], [1.0, 0.0], [0.4, 0.6], [0.4, 0.6]])
    np.testing.assert_array_equal(one, se._level_share(g, np.full(4, 1), reps))
    np.testing.assert_allclose(se._level_share(g, np.array([0, 1, 0, 0]), reps)[[0, 1]], [[0.625, 0.375], [1.0, 0.0]])


def test_tick_share_of_a_series_with_no_token_is_none_of_it():
    """The share of the run a gap's ticks are (dcsim.engine.assemble.tick_share, one rule for the facility's gaps and
    the shared-cap gap's pool): a series with no token has none on any tick, 0.0 (until 2026-12-05 the facility's
    gaps read 1.0 there and the pool choice 0.0, two copies of one lambda)."""
    from dcsim.engine.assemble import tick_share

    sel = np.array([True, False, True])
    assert tick_share(sel, np.zeros(3), np.zeros(3)) == (2, 3, 0.0, 0.0)
    assert tick_share(sel, np.array([1.0, 2.0, 1.0]), np.array([0.0, 0.0, 0.0])) == (2, 3, 0.5, 0.0)
    assert tick_share(sel, np.array([1.0, 2.0, 1.0]), np.array([3.0, 1.0, 0.0])) == (2, 3, 0.5, 0.75)


def test_known_gaps_of_the_whole_run_are_asked_once_with_several_pools(monkeypatch):
    """slo_gap_caveats asked every known gap once per pool and dropped the repeats (until 2026-12-05): now the whole
    run's gaps once, and each further pool's prompt mix alone (long_prompt_caveat). Two pools capped on a shared
    budget (chat; summarize): one call, with the first pool's classes, and no repeated warning."""
    import dcsim.engine.assemble as asm
    from test_hetero import two_pools

    calls = []
    real = asm.known_gap_caveats
    monkeypatch.setattr(asm, "known_gap_caveats", lambda *a, **k: calls.append(a) or real(*a, **k))
    res = dcsim.run(two_pools(**{"facility.interconnect": "55 kW", "workload.arrivals.rate": "200 req/s",
                                 "racks.1.nodes_per_rack": 2, "duration": "10 min"}))
    assert len(calls) == 1, calls
    assert set(calls[0][0]) == {"chat"}  # the first pool's classes
    gaps = [w for w in res.report["warnings"] if w.startswith(se.SLO_GAP_PREFIX)]
    assert len(gaps) == len(set(gaps))
