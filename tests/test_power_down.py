"""controller.idle_power_down (issue 13.4): replicas the demand does not need go to standby and
are woken with a delay; the fluid and request engines both honour it (docs/slo.md)."""

import copy

import numpy as np
import pytest

import dcsim
from dcsim.engine.build import build_models
from dcsim.engine.controller import PowerDown, power_down_for
from dcsim.scenario import load_scenario

from conftest import run_with_replica_clock, small_scenario

STEP = [0.1] * 12 + [1.0] * 12  # a 2400 s "day": demand steps up tenfold at t = 1200 s


def _run(pd: bool, **over):
    return dcsim.run(small_scenario(**{"duration": "30 min", "controller.tick": "10 s",
                                       "controller.idle_power_down": pd, **over}))


def test_schedule_is_the_same_in_chunks_and_when_a_chunk_is_cut_short():
    rng = np.random.default_rng(2)
    demand = np.repeat(rng.uniform(0, 1e4, 40), 7)
    avail = np.full(demand.size, 16.0)
    mk = lambda: PowerDown(16, 1000.0, 0.8, hold_ticks=5, delay_ticks=3, idle_wall_w=1e3, standby_fraction=0.05)  # noqa: E731
    whole = mk().schedule(0, demand, avail)
    pd = mk()
    a = pd.schedule(0, demand[:100], avail[:100])
    pd.schedule(100, demand[100:200], avail[100:200])
    b = pd.schedule(130, demand[130:], avail[130:])  # the chunk at 100 was cut short at 130
    assert np.array_equal(np.concatenate([a[0], whole[0][100:130], b[0]]), whole[0])
    serving, powered = whole
    assert np.all(serving <= powered) and np.all(serving >= 1) and np.all(powered <= 16)
    # the same with the counts the budgets afford (two rows: in service, affordable): a cut-short chunk replays
    # ticks, not rows (until 2026-12-04 idle_power_down with a curtailment stopped with a broadcast error)
    afford = np.repeat(rng.uniform(4, 16, 40), 7)
    whole2 = mk().schedule(0, demand, avail, afford)
    pd2 = mk()
    a2 = pd2.schedule(0, demand[:100], avail[:100], afford[:100])
    pd2.schedule(100, demand[100:200], avail[100:200], afford[100:200])
    b2 = pd2.schedule(130, demand[130:], avail[130:], afford[130:])
    assert np.array_equal(np.concatenate([a2[0], whole2[0][100:130], b2[0]]), whole2[0])
    # a replica serves only after it has been powered for the whole delay
    for i in range(3, demand.size):
        assert serving[i] <= powered[i - 3: i + 1].min()


def test_power_down_saves_energy_at_low_load_as_the_node_table_says():
    off, on = _run(False, **{"workload.arrivals.rate": "20 req/s"}), _run(True, **{"workload.arrivals.rate": "20 req/s"})
    assert on.report["throughput_tok_s"]["output"] == pytest.approx(off.report["throughput_tok_s"]["output"])
    ts = on.timeseries
    assert np.all(off.timeseries["awake_fraction"] == 1.0) and ts["awake_fraction"].max() <= 0.25
    m = build_models(load_scenario(small_scenario(**{"controller.idle_power_down": True})))
    pd = power_down_for(m, 10.0)
    g = m.groups[0]
    n = pd.replicas
    awake = np.rint(ts["awake_fraction"] * n)
    served = ts["achieved_tok_s"]
    # IT power from the node table directly: the load spread evenly over the serving replicas,
    # the others at standby (steady state: none is waking), plus the rack overhead
    wall = lambda rate: g.table.power_at_rate(g.table.clocks.size - 1, rate)[0]  # noqa: E731
    expect_off = n * wall(served / n) + m.overhead_w
    expect_on = awake * wall(served / awake) + (n - awake) * pd.idle_wall_w * pd.standby_fraction + m.overhead_w
    assert off.timeseries["it_power_w"] == pytest.approx(expect_off, rel=1e-3)
    assert ts["it_power_w"][1:] == pytest.approx(expect_on[1:], rel=1e-3)
    assert on.report["energy_j"]["it"] < 0.3 * off.report["energy_j"]["it"]
    assert on.report["slo_attainment"] >= 0.99


def test_power_down_changes_nothing_when_every_replica_is_busy():
    off, on = _run(False, **{"workload.arrivals.rate": "400 req/s"}), _run(True, **{"workload.arrivals.rate": "400 req/s"})
    assert np.all(on.timeseries["awake_fraction"] == 1.0)
    for k in ("achieved_tok_s", "it_power_w", "facility_power_w", "queue_tokens"):
        assert np.array_equal(on.timeseries[k], off.timeseries[k]), k
    assert on.report["slo_attainment"] == off.report["slo_attainment"]


@pytest.fixture(scope="module")
def step_runs():
    out = {}
    for fid in ("request", "fluid"):
        for delay in (None, "120 s", "0 s"):
            raw = small_scenario(**{"duration": "40 min", "controller.tick": "1 s", "fidelity": fid,
                                    "racks.0.count": 1, "controller.idle_power_down": delay is not None})
            if delay is not None:
                raw["controller"]["wake_up_delay"] = delay
            raw["workload"]["arrivals"] = {"kind": "diurnal", "mean_rate": "30 req/s", "profile": STEP,
                                           "period": "2400 s"}
            out[(fid, delay)] = dcsim.run(raw)
    return out


@pytest.mark.parametrize("fid", ["request", "fluid"])
def test_wake_up_delay_costs_latency_after_a_step_in_demand(step_runs, fid):
    base, pd, instant = step_runs[(fid, None)], step_runs[(fid, "120 s")], step_runs[(fid, "0 s")]
    ts = pd.timeseries
    t_step = float(ts["t_s"][np.flatnonzero(np.diff(ts["demand_tok_s"]) > 0)[0] + 1])
    more = ts["t_s"][np.flatnonzero(np.diff(ts["awake_fraction"]) > 0) + 1]
    # the replicas woken at the step serve from one wake-up delay later (the controller acts
    # on the demand of the tick before)
    assert more[0] == pytest.approx(t_step + 121.0, abs=1.0)
    assert ts["awake_fraction"][ts["t_s"] < t_step].max() < ts["awake_fraction"][-1]
    # latency: the delay costs attainment and tail latency; with no delay it costs little
    assert pd.report["slo_attainment"] < base.report["slo_attainment"] - 0.2
    assert pd.report["latency_s"]["ttft"]["p99"] > 50 * base.report["latency_s"]["ttft"]["p99"]
    assert instant.report["slo_attainment"] > pd.report["slo_attainment"] + 0.2
    # energy: standby before the step saves energy in every case
    assert pd.report["energy_j"]["it"] < 0.7 * base.report["energy_j"]["it"]


def test_fluid_and_request_agree_on_the_step(step_runs):
    """Measured (2026-12-03, after the steady state took the random prefill): attainment 0.756 (fluid) vs
    0.751 (request), TTFT p99 90 s vs 88 s, IT energy +0.4 % (before: 0.635 vs 0.671, 94 s vs 86 s, +2.1 %;
    first measured: 0.605 vs 0.640, 94 s vs 87 s, within 2 %)."""
    f, r = step_runs[("fluid", "120 s")].report, step_runs[("request", "120 s")].report
    assert f["slo_attainment"] == pytest.approx(r["slo_attainment"], abs=0.05)
    assert f["latency_s"]["ttft"]["p99"] == pytest.approx(r["latency_s"]["ttft"]["p99"], rel=0.25)
    assert f["energy_j"]["it"] == pytest.approx(r["energy_j"]["it"], rel=0.03)


def test_hybrid_accounts_the_parked_replicas_like_fluid():
    """Hybrid (8 of 32 replicas simulated, the rest a flow) with 8 of 32 replicas awake: the
    sample's parked replicas draw standby, the flow serves on its awake share; the IT energy
    agrees with fluid (measured: -0.4 % at 80 req/s; at 90 req/s, since the 8B profile is fitted on the
    single-send rows only, 9 of 32 are awake and hybrid draws 1.7 % less). The sample's awake count is
    rounded (at least one): with 6 of 32 awake it keeps 2 of 8 and draws 3 % more; with 2 of 32, 1 of 8
    and 8 % more."""
    raw = small_scenario(**{"duration": "10 min", "controller.tick": "1 s", "controller.idle_power_down": True,
                            "workload.arrivals.rate": "80 req/s"})
    flu = dcsim.run(raw)
    hyb = dcsim.run({**raw, "fidelity": "hybrid"})
    assert np.all(np.rint(hyb.timeseries["awake_fraction"] * 32) == 8)
    assert hyb.report["energy_j"]["it"] == pytest.approx(flu.report["energy_j"]["it"], rel=0.02)


def test_power_down_runs_through_a_curtailment():
    """idle_power_down with a curtailment (the chunk cut short at the event): the run completes, conserves tokens
    and keeps the meter under the curtailed cap (until 2026-12-04 it stopped with a broadcast error)."""
    res = dcsim.run(small_scenario(**{"duration": "40 min", "controller.tick": "1 min",
                                      "controller.idle_power_down": True, "facility.interconnect": "120 kW",
                                      "faults": [{"kind": "curtailment", "start": "13 min", "duration": "14 min",
                                                  "fraction": "50%"}]}))
    ts, acc = res.timeseries, res.report["tokens_accounting"]
    assert acc["arrived"] == pytest.approx(acc["served"] + acc["waiting"] + acc["shed"], rel=1e-9)
    assert np.all(ts["facility_power_w"] <= ts["interconnect_w"] * (1 + 1e-9))
    assert ts["interconnect_w"].min() == pytest.approx(60e3)


_H100_70B = {"name": "h100", "count": 2, "nodes_per_rack": 4,
             "node": {"gpu": "H100-SXM", "model": "llama-3.1-70b", "tensor_parallel": 4, "max_batch": 256}}
_B200_70B = {"name": "b200", "count": 1, "nodes_per_rack": 4,
             "node": {"gpu": "B200", "model": "llama-3.1-70b", "tensor_parallel": 4, "max_batch": 256}}


def _mixed_hall(racks: list[dict], fidelity: str) -> dict:
    """16 H100 and 8 B200 replicas of Llama-3.1-70B (TP4) in one pool, 60 req/s of chat, idle replicas powered
    down: about 4 of the 24 replicas awake."""
    return {"name": "mixed-power-down", "seed": 3, "duration": "30 min", "fidelity": fidelity,
            "facility": {"interconnect": "500 kW", "cooling": {"kind": "chiller_plant", "capacity": "300 kW"},
                         "weather": {"kind": "constant", "t_db": 25, "rh": 0.4}},
            "racks": [{"cooling": {"kind": "liquid", "limit": "120 kW"}, **r} for r in racks],
            "workload": {"arrivals": {"kind": "poisson", "rate": "60 req/s"},
                         "classes": [{"name": "chat", "preset": "chat", "share": 1.0}]},
            "controller": {"tick": "10 s", "idle_power_down": True, "wake_up_delay": "60 s"},
            "serving": {"slo_estimate": False}}


def test_a_mixed_pool_parks_its_least_efficient_replicas_first_in_both_fidelities():
    """A pool of H100 and B200 racks (B200: 1.43 J/token at 80 % load against the H100's 1.78, by the node tables)
    keeps the B200s awake and parks the H100s first, whatever the order of racks:, in fluid and request fidelity
    alike. Until 2026-12-04 request fidelity kept the first replicas by index awake (4.18 J/token with the H100s
    listed first, 4.65 with the B200s first) and fluid a proportional slice of both groups (4.32); now 4.30 fluid and
    4.29 request in either order (1-h runs, docs/slo.md "Powering idle nodes down")."""
    h100, b200 = _H100_70B, _B200_70B
    m = build_models(load_scenario(_mixed_hall([h100, b200], "fluid")))
    pd = power_down_for(m, 10.0)
    assert pd.ladder_group.tolist() == [1] * 8 + [0] * 16  # the B200s first, the H100s parked first
    it, runs = {}, {}
    for name, racks in (("h100 first", [h100, b200]), ("b200 first", [b200, h100])):
        for fid in ("fluid", "request"):
            res = runs[name, fid] = dcsim.run(_mixed_hall(racks, fid))
            late = res.timeseries["t_s"] >= 300.0
            it[name, fid] = float(np.mean(res.timeseries["it_power_w"][late]))
            assert float(np.max(res.timeseries["awake_fraction"][late])) <= 0.25
    # fluid: the four B200 replicas awake serve the load evenly at full clock, by the B200 node table; every other
    # replica in standby; every rack's overhead (a parked replica's rack stays powered)
    ts = runs["h100 first", "fluid"].timeseries
    late = ts["t_s"] >= 300.0
    assert np.all(np.rint(ts["awake_fraction"][late] * 24) == 4) and np.all(ts["mode"][late] == 0)
    b, h = m.groups[1], m.groups[0]
    top = b.table.clocks.size - 1
    served = ts["achieved_tok_s"][late]
    expect = (4 * b.table.power_at_rate(top, served / 4)[0]
              + (16 * float(h.table.wall[-1, 0]) + 4 * float(b.table.wall[-1, 0])) * pd.standby_fraction + m.overhead_w)
    assert ts["it_power_w"][late] == pytest.approx(expect, rel=1e-3)
    # the order of racks: changes nothing, and the fidelities park the same replicas (the same IT power, to the
    # request replicas' scatter)
    assert it["h100 first", "fluid"] == pytest.approx(it["b200 first", "fluid"], rel=1e-9)
    assert it["h100 first", "request"] == pytest.approx(it["b200 first", "request"], rel=0.01)
    assert it["h100 first", "request"] == pytest.approx(it["h100 first", "fluid"], rel=0.015)


def test_hybrid_parks_a_mixed_pool_along_the_ladder_within_the_documented_gap():
    """Hybrid on the mixed hall (8 of 24 replicas sampled: 5 H100, 3 B200): the sample keeps round(4/24 x 8) = 1
    replica awake along the ladder (a B200, at 85 % load where fluid's four run at 62 %) and its fluid remainder serves
    on its share of the awake replicas' curves. Its IT power, minutes 5-30, is 5.8 % below fluid's (measured
    2026-12-04: 23.38 kW against 24.81 kW; docs/slo.md "Powering idle nodes down"): the sample's whole-replica
    granularity. Before the ladder (both proportional) the two read 25.0 kW."""
    it = {}
    for fid in ("fluid", "hybrid"):
        ts = dcsim.run(_mixed_hall([_H100_70B, _B200_70B], fid)).timeseries
        late = ts["t_s"] >= 300.0
        assert np.all(np.rint(ts["awake_fraction"][late] * 24) == 4)
        it[fid] = float(np.mean(ts["it_power_w"][late]))
    assert it["fluid"] == pytest.approx(24.81e3, rel=0.01)
    assert it["hybrid"] / it["fluid"] - 1.0 == pytest.approx(-0.058, abs=0.01)


def test_a_mixed_pool_with_a_board_power_cap_reads_the_clock_of_its_awake_replicas():
    """A board power cap (H100 at 450 W, B200 at 700 W per GPU) on the mixed hall with idle replicas powered down: the
    effective clock is that of the replicas serving, not of the whole pool. Uncapped (4 B200 awake, even load at full
    clock) it is the B200 board's clock at the batch that serves a quarter of the load (node model, 0.876); until
    2026-12-04 the whole pool's grid read 0.815 (the H100s' lower board clock mixed in). Capped at a 90-kW contract
    (250 req/s, 22 of 24 awake) the controller runs at 0.679, below either board's clock at any batch (H100 0.714, B200
    0.853): nothing throttles and the effective clock is the controller's; it read 0.573 (the frontier vertex at the
    served rate on the whole pool's curves, the error pool_operating_point's own effective clock left on
    2026-12-04)."""
    from dcsim.engine.gpu_clock import board_clock
    h, b = copy.deepcopy(_H100_70B), copy.deepcopy(_B200_70B)
    h["node"]["power_cap"], b["node"]["power_cap"] = "450 W", "700 W"
    raw = _mixed_hall([h, b], "fluid")
    m = build_models(load_scenario(raw))
    p = m.pools[0]
    board = [board_clock(g.node, g.table.batch, p.mean_input, p.mean_output, p.decode_context, p.prompt_scv)
             for g in m.groups]
    ts = dcsim.run(raw).timeseries
    late = ts["t_s"] >= 300.0
    assert np.all(ts["mode"][late] == 0) and np.all(np.rint(ts["awake_fraction"][late] * 24) == 4)
    g = m.groups[1]  # B200
    top = g.table.clocks.size - 1
    batch = np.interp(ts["achieved_tok_s"][late] / 4, g.table.thr[top], g.table.batch)
    expect = np.minimum(board_clock(g.node, batch, p.mean_input, p.mean_output, p.decode_context, p.prompt_scv), 1.0)
    assert ts["mean_clock"][late] == pytest.approx(expect, rel=1e-3)
    assert float(np.mean(ts["mean_clock"][late])) == pytest.approx(0.876, abs=0.002)

    raw["facility"]["interconnect"] = "90 kW"
    raw["workload"]["arrivals"]["rate"] = "250 req/s"
    ts = dcsim.run(raw).timeseries
    late = ts["t_s"] >= 300.0
    assert np.all(ts["mode"][late] == 1)
    clk = ts["controller_clock"][late]
    assert np.all(clk < min(float(np.min(c)) for c in board))  # no board throttles at this clock
    assert ts["mean_clock"][late] == pytest.approx(clk, rel=1e-9)
    assert float(np.mean(clk)) == pytest.approx(0.679, abs=0.002)


def _capped_mixed_hall(fidelity: str, rate: str = "150 req/s") -> dict:
    """The mixed hall (16 H100 + 8 B200 replicas of Llama-3.1-70B) under a 60-kW contract, 10 min, with the SLO
    estimate: the budget caps every tick a little below full clock."""
    raw = _mixed_hall([_H100_70B, _B200_70B], fidelity)
    raw["facility"]["interconnect"] = "60 kW"
    raw["workload"]["arrivals"]["rate"] = rate
    raw["duration"] = "10 min"
    raw["serving"]["slo_estimate"] = True
    return raw


def test_the_full_load_rate_of_a_mixed_pool_is_that_of_its_replicas_awake_along_the_ladder():
    """The ladder keeps the B200 replicas awake first (index 1 of racks:), then the H100s: the full-load rate the
    engine's binding label reads for k awake replicas (loop.serving_full_load_tok_s, the one loop._record_chunk
    calls, at a clock of the tables' grid)
    is theirs, each at its own node table's largest throughput at that clock — a sum of table entries — not k/24 of
    the whole pool's (the reading until 2026-12-05: 4 awake replicas then read 4/24 of 16 H100 + 8 B200)."""
    from dcsim.engine.loop import serving_full_load_tok_s
    m = build_models(load_scenario(_mixed_hall([_H100_70B, _B200_70B], "fluid")))
    pd = power_down_for(m, 10.0)
    reps = pd.group_replicas(np.array([0, 4, 8, 10, 24]), len(m.groups))
    assert reps.tolist() == [[0, 0], [0, 4], [0, 8], [2, 8], [16, 8]]
    h, b = (g.table.thr_max for g in m.groups)
    for k in (m.clocks.size - 1, m.clocks.size // 2):
        full = serving_full_load_tok_s(m, pd, np.full(5, m.clocks[k]), np.ones(5), np.array([0, 4, 8, 10, 24]) / 24)
        assert full == pytest.approx([0.0, 4 * b[k], 8 * b[k], 2 * h[k] + 8 * b[k], 16 * h[k] + 8 * b[k]], rel=1e-12)
        # the awake share of the whole pool's rate (the old reading) is lower: the ladder's first are the faster
        assert full[1] > 1.2 * (4 / 24) * (16 * h[k] + 8 * b[k])


def test_a_capped_mixed_pool_below_its_awake_replicas_full_load_is_demand_bound_in_both_fidelities():
    """At 60 kW and 150 req/s the 8 B200 replicas are awake and the budget caps them at clock 0.965, where they serve
    80 % of their full-load rate (node tables): nothing waits at the door, so the tick is demand-bound, and the SLO
    estimate simulates the 8 B200s at that load. Until 2026-12-05 the critically-loaded test read 8/24 of the whole
    pool's full-load rate (a third of every group: 0.98 of it was below the rate served), so both fidelities named
    power on every tick, and fluid estimated the replicas critically loaded on an even slice of both groups: attainment
    0.628 and TTFT p50 0.76 s where request fidelity measured 1.000 and 0.054 s (now 1.000 and 0.056 s)."""
    from dcsim.serving.slo_estimate import RHO_MAX, full_load_tok_s
    m = build_models(load_scenario(_capped_mixed_hall("fluid")))
    res = {fid: dcsim.run(_capped_mixed_hall(fid)) for fid in ("fluid", "request")}
    for fid, r in res.items():
        ts = r.timeseries
        assert np.all(ts["mode"] == 1) and np.all(np.rint(ts["awake_fraction"] * 24) == 8), fid
        assert np.all(ts["held_tokens"] == 0) and np.all(ts["binding"] == 0), fid
        # request fidelity's first two ticks fill the replicas (the clock recorded at the rate served: 0.981 on the
        # second since the trim keeps the contract with idle_power_down, 2026-12-05)
        late = ts["t_s"] > 10.0
        clock, served = ts["controller_clock"][late], ts["achieved_tok_s"][late]
        assert np.all(clock < 0.98), fid
        b = m.groups[1]  # the 8 B200s, the ladder's first
        ratio = served / (8 * np.interp(clock, m.clocks, b.table.thr_max))  # request: scattered per tick
        assert np.all(ratio < RHO_MAX) and float(np.mean(ratio)) == pytest.approx(0.8, abs=0.02), fid
        slice_ = (8 / 24) * full_load_tok_s(m.groups, m.clocks, clock)
        assert np.all(served >= RHO_MAX * slice_), fid  # what the old test took as critically loaded
        assert r.report["binding"]["share"]["demand"] == 1.0, fid
    f, q = res["fluid"].report, res["request"].report
    assert q["slo_attainment"] >= 0.99 and f["slo_attainment"] >= 0.99
    for k in ("ttft", "tpot"):
        assert f["latency_s"][k]["p50"] == pytest.approx(q["latency_s"][k]["p50"], rel=0.1), k


def test_a_mixed_pool_through_a_capped_peak_reads_like_request_fidelity():
    """The capped mixed hall through the peak of a 2-h sinusoid of 60-240 req/s (1 h from its half-way rise: 7 to 16
    replicas awake, capped, work held at the door around the top, capped ticks at the frontier's point): the binding
    and the SLO estimate on the awake replicas' own curves. Measured 2026-12-05: power 0.822 of the time fluid, 0.797
    request; attainment 0.186 fluid, 0.267 request. Until 2026-12-05 fluid read power on every tick (1.000) and
    estimated 0.107, its frontier ticks split on an even slice of both groups. Request fidelity then drew more than
    the contract on every tick (70.4 kW in the mean, at most 81.8); trimmed with idle_power_down (later on
    2026-12-05) it keeps it but on the first tick (+0.18 %) and one more (+0.003 %), and reads power 0.822 and
    attainment 0.185, as fluid does.

    The running work a capped clock holds back is read at the clock the replicas ran (the trim's, 0.012-0.019 below
    the controller's on the rise), counting the growth their spare capacity there leaves
    (``slowed_running_tok`` with ``capacity_tok``): every tick whose arrivals reach the awake replicas' full-load rate
    at that clock and whose work grows (served under 0.98 of the arrivals) reads power — 200 of 200 ticks, 194 until
    2026-12-05 (the count read the controller's clock, whose smaller slowdown the allowance swallowed: 00:38:40,
    00:39:20, 00:40:00 and 00:40:40-00:41:00 read demand at 100.2-103.4 % of the replicas' rate; 15 ticks of
    00:36:50-00:41:00, at 93.5-103.4 %, move to power). Request fidelity reads power 0.867 of the time (0.825
    before), fluid 0.822: fluid's frontier keeps its replicas at the controller's clock, where they keep up; request
    fidelity's evenly loaded replicas draw more per token and the trim runs them lower, where they do not (an
    operating point apart, not a rule: measured 2026-12-05). Both figures are pinned (0.822 and 0.869, +-0.005):
    until the review of 2026-12-05 the test held them within 0.05 of each other, widened from 0.02 to fit the
    offset, which let either move by 0.05 unseen.

    Decided tick by tick (tests/binding_check.py, 2026-12-05): each fidelity's label agrees with its own record on
    all 360 ticks, and the 16 ticks they differ on (00:36:40-00:40:30, fluid demand, request power) are an operating
    point apart, not a labelling error. Fluid serves the expected arrivals (38.2-41.7 ktok/s) at 60.0 kW, 90-97 % of
    the awake replicas' full-load rate at its clock (0.745-0.797), nothing held; request fidelity's lane draws
    58.3-59.2 kW (the trim's margin under the contract), runs 0.010-0.019 below the controller's clock, and its
    arrivals scatter to 37.2-42.9 ktok/s, up to 101 % of that rate there: work waits at its door (up to 105 k tokens)
    on 15 of them. Request fidelity's share is 0.869 since the running work held past a tick beyond the replicas'
    capacity counts (``dcsim.tpf.overrun_running_tok``; 0.867 before: 00:39:40, its arrivals 39.4 ktok/s against its
    41.1 served, drains at 97 % of that rate the 17.8 k tokens 00:39:30 left, and reads power)."""
    from dcsim.engine.loop import serving_full_load_tok_s
    from dcsim.serving.slo_estimate import RHO_MAX

    res = {}
    for fid in ("fluid", "request"):
        raw = _capped_mixed_hall(fid)
        raw.update(duration="1 h", start="2026-07-15T00:30")
        raw["workload"]["arrivals"] = {"kind": "diurnal", "mean_rate": "150 req/s", "amplitude": 0.6, "peak_hour": 1,
                                       "period": "2 h"}
        run = dcsim.run(raw)
        res[fid], ts = run.report, run.timeseries
        p = ts["facility_power_w"]
        if fid == "request":  # the contract kept after the first tick, to the trim's per-tick scatter
            assert float(np.max(p[1:])) <= 60e3 * 1.001 and float(np.mean(p > 60e3 * (1 + 1e-9))) <= 0.02
            # the replicas' own clock (one pool, every replica simulated: mean_clock) and their full-load rate there
            m = build_models(load_scenario(raw))
            full = serving_full_load_tok_s(m, power_down_for(m, 10.0), ts["mean_clock"], np.ones(p.size),
                                           ts["awake_fraction"])
            at_rate = ts["arrived_tokens"] / 10.0 >= full
            grows = ts["achieved_tok_s"] * 10.0 < RHO_MAX * ts["arrived_tokens"]
            assert np.sum(at_rate & grows) >= 150 and np.all(ts["binding"][at_rate & grows] == 2)
    f, q = res["fluid"], res["request"]
    # a known offset of 0.045 (explained above), not a tolerance widened to hold it: both figures pinned
    assert f["binding"]["share"]["power"] == pytest.approx(0.822, abs=0.005)
    assert q["binding"]["share"]["power"] == pytest.approx(0.869, abs=0.005)
    assert f["slo_attainment"] == pytest.approx(q["slo_attainment"], abs=0.02)


@pytest.mark.parametrize("rate, mean_kw", [("150 req/s", 58.6), ("220 req/s", 59.6)])
def test_request_fidelity_keeps_the_contract_with_idle_power_down(rate, mean_kw):
    """The capped mixed hall (60 kW; 150 req/s: 8 B200s awake, demand-bound under the cap; 220 req/s: 15 awake, power
    binding) at request fidelity keeps its contract as fluid does: the trim aims the awake replicas at the awake
    operating point and reads their draw net of the parked replicas' idle, from a clock read on the awake replicas'
    own curves. Until 2026-12-05 idle_power_down runs were not trimmed: every tick over, 62.1 kW (max 62.6) at 150
    req/s and 68.4 kW (max 70.6) at 220 req/s. Now the first tick, before the trim has measured one, is over (+0.05 %
    and +0.8 %), and at 220 req/s one more by +0.003 % (the per-tick scatter beyond the trim's margin); the means sit
    within the trim's 2 % margin under the contract: 58.6 and 59.6 kW (docs/engine.md). Since 2026-12-05 (later) the
    first tick runs at the clock the tables give for the budget less the trim's margin: -1.74 % and -1.14 % under,
    no tick over (the means 58.57 and 59.52 kW)."""
    cap = 60e3
    ts = {fid: dcsim.run(_capped_mixed_hall(fid, rate)).timeseries for fid in ("fluid", "request")}
    f, q = ts["fluid"], ts["request"]
    assert np.all(f["facility_power_w"] <= cap * (1 + 1e-9))
    p = q["facility_power_w"]
    # the first tick (no measured tick yet) under the contract; after it, the tick-to-tick scatter beyond the trim's
    # margin only, as elsewhere (docs/engine.md: at most +0.1 % on a few ticks)
    assert float(p[0]) <= cap
    assert float(np.max(p)) <= cap * 1.001
    assert float(np.mean(p > cap * (1 + 1e-9))) <= 0.05
    assert float(np.mean(p)) <= cap and float(np.mean(p)) >= cap * (1 - 0.03)
    assert float(np.mean(p)) / 1e3 == pytest.approx(mean_kw, abs=0.3)
    np.testing.assert_array_equal(np.rint(q["awake_fraction"] * 24), np.rint(f["awake_fraction"] * 24))
    # the tokens within the band request fidelity keeps against fluid where power binds (the same hall without
    # idle_power_down at 220 req/s: -6.2 %)
    tok = {k: float(np.sum(v["achieved_tok_s"])) for k, v in ts.items()}
    assert tok["request"] / tok["fluid"] - 1.0 == pytest.approx(0.0, abs=0.05)


def _sinusoid(raw: dict, start: str, duration: str) -> dict:
    """``raw`` (the capped mixed hall) under the 2-h sinusoid of 60-240 req/s (its peak at 01:00)."""
    raw.update(duration=duration, start=start)
    raw["workload"]["arrivals"] = {"kind": "diurnal", "mean_rate": "150 req/s", "amplitude": 0.6, "peak_hour": 1,
                                   "period": "2 h"}
    return raw


def test_request_fidelity_keeps_the_contract_while_a_parked_replica_finishes_its_batch(monkeypatch):
    """The capped mixed hall through the sinusoid's fall from 00:50 (50 min, 16 to 6 awake): at 01:34 the schedule
    parks one of the 8 B200s awake while work waits at the door, and the 7 left at full clock fit the 60-kW budget by
    the tables, so the tick is uncapped; the parked replica still finishes the full batch inside it (powering down is
    immediate), at its full draw where the record charges it idle. Until 2026-12-05 such uncapped ticks ran at the
    top clock and drew 62.6 kW (+4.3 %) on 3 ticks here (on the whole 2-h period 4 of 720 ticks, up to 63.0 kW, +5.0 %);
    now the lane sets that replica's last draw over its idle aside from the awake replicas' budget and runs them at
    the clock that fits the rest (docs/engine.md): the ticks the lane holds below full clock are within the contract,
    exactly, and labelled power (the replicas' clock below full: loop._record_chunk), 4 ticks here (01:34:20-01:35,
    the highest 0.73 % below; 2.87 % while the trim absorbed the rise of their held level, until later on 2026-12-05),
    mean_clock the lane's clock on every tick (capped ones too). No tick of the run is over (measured 2026-12-05, at
    most -0.044 %; the trim's per-tick scatter beyond its margin elsewhere is at most +0.1 %, docs/engine.md)."""
    cap = 60e3
    r, clk = run_with_replica_clock(monkeypatch, _sinusoid(_capped_mixed_hall("request"), "2026-07-15T00:50",
                                                           "50 min"))
    ts = r.timeseries
    p = ts["facility_power_w"]
    assert float(np.max(p)) <= cap
    # the run holds the case: an uncapped tick on which the awake count fell with work held at the door
    n = np.rint(ts["awake_fraction"] * 24)
    fell = (np.diff(n) < 0) & (ts["mode"][1:] == 0) & (ts["held_tokens"][1:] > 0)
    assert np.any(fell)
    # the ticks the fix acts on: uncapped, the lane's replicas below full clock (held to the budget)
    lane_held = (ts["mode"] == 0) & (clk < 1.0 - 1e-9)
    assert np.any(lane_held)
    assert float(np.max(p[lane_held])) <= cap
    assert np.all(ts["binding"][lane_held] == 2)  # power, not compute
    # and their clock is the one the replicas ran, the controller's full clock beside it (until 2026-12-05 mean_clock
    # read 1.0 there: power binding at full clock; docs/engine.md "The clock the record keeps")
    assert np.all(ts["controller_clock"][lane_held] == 1.0)
    # on every tick, capped ones too (no board limit throttles here): until later on 2026-12-05 a capped tick recorded
    # the fluid operating point's clock, 0.690 in the mean on the 266 capped ticks where the replicas ran 0.667
    assert np.any(ts["mode"] != 0)
    np.testing.assert_allclose(ts["mean_clock"], clk, rtol=1e-12)


@pytest.mark.parametrize("rate, mean_kw", [("150 req/s", 59.44), ("220 req/s", 59.60)])
def test_hybrid_fidelity_keeps_the_contract_with_idle_power_down(rate, mean_kw):
    """Hybrid on the capped mixed hall (8 of 24 replicas sampled) keeps the 60-kW contract on every tick, as request
    fidelity does: its sample is trimmed to its share of the awake operating point, its clock read on its own whole
    awake replicas (round(awake x 8), more or fewer than its share). Until 2026-12-05 hybrid with idle_power_down was
    not trimmed and drew more than the contract on every tick: 61.67 kW in the mean (at most 61.98) at 150 req/s, 62.45
    (63.06) at 220 req/s; now 59.44 and 59.60 kW (measured 2026-12-05, docs/engine.md), the tokens within 0.5 % of
    before and of fluid."""
    cap = 60e3
    ts = {fid: dcsim.run(_capped_mixed_hall(fid, rate)).timeseries for fid in ("fluid", "hybrid")}
    p = ts["hybrid"]["facility_power_w"]
    assert float(np.max(p)) <= cap * (1 + 1e-9)
    assert float(np.mean(p)) / 1e3 == pytest.approx(mean_kw, abs=0.3)
    tok = {k: float(np.sum(v["achieved_tok_s"])) for k, v in ts.items()}
    assert tok["hybrid"] / tok["fluid"] - 1.0 == pytest.approx(0.0, abs=0.02)


def test_a_hybrid_samples_clock_counts_its_own_awake_gpus(monkeypatch):
    """mean_clock is GPU-weighted: at hybrid fidelity with idle_power_down the sample's whole replicas awake
    (round(awake x 8): 2 B200 where the pool has 7 of 24 awake, a share of 2.33) ran the lane's clock, the fluid
    remainder (1 - the sample's share of the pool's compute, of the 7 awake B200s) the controller's. On the 2-h
    sinusoid's ticks 566-567 (uncapped, the lane held below full clock for a B200 parked with its batch; no board limit
    throttles, so the remainder's effective clock is the controller's full clock) the column is that GPU-weighted
    mean: 0.9508 and 0.9719 (the sample 0.303 of the GPUs running). Until 2026-12-05 (later) the sample was weighted by
    its compute share (0.342), as if 2.33 replicas had run its clock: 0.9444 and 0.9682."""
    from dcsim.engine.requests import simulated_counts, simulated_share

    raw = _sinusoid(_capped_mixed_hall("hybrid"), "2026-07-15T00:00", "2 h")
    r, clk = run_with_replica_clock(monkeypatch, raw)
    ts = r.timeseries
    m = build_models(load_scenario(raw))
    h, b = m.groups
    assert b.node.gpus_per_replica > 0 and b.table.thr_max[-1] > h.table.thr_max[-1]  # the B200s: the ladder's first
    counts = simulated_counts(m.scenario, [g.limits.replicas for g in m.groups])
    assert counts == [5, 3]  # 8 sampled: 5 H100, 3 B200
    share = simulated_share(m.scenario, list(m.groups), counts)  # the sample's share of the pool's compute
    for t in (566, 567):
        assert ts["mode"][t] == 0 and ts["controller_clock"][t] == 1.0 and clk[t] < 0.95
        assert np.rint(ts["awake_fraction"][t] * 24) == 7  # 7 B200 awake; the sample's 2 of its 3
        g_s, g_r = 2 * b.node.gpus_per_replica, (1.0 - share) * 7 * b.node.gpus_per_replica
        assert ts["mean_clock"][t] == pytest.approx((g_s * clk[t] + g_r * 1.0) / (g_s + g_r), rel=1e-12)
    assert ts["mean_clock"][566] == pytest.approx(0.9508, abs=1e-4)


def test_hybrid_fidelity_keeps_the_contract_through_a_capped_peak_with_idle_power_down():
    """The capped mixed hall at hybrid fidelity through the sinusoid's hour from its half-way rise (7 to 16 awake;
    the sample's awake count steps with them, 3 to 6 of its 8): every tick within the contract. Until 2026-12-05 it
    drew 63.18 kW in the mean, at most 67.43 (+12.4 %); with the trim but the clock read at the pool's awake count, 6
    ticks over by up to +1.9 %, each where the sample's count rose; now none (docs/engine.md)."""
    ts = dcsim.run(_sinusoid(_capped_mixed_hall("hybrid"), "2026-07-15T00:30", "1 h")).timeseries
    p = ts["facility_power_w"]
    assert float(np.max(p)) <= 60e3 * (1 + 1e-9)
    assert float(np.mean(p)) >= 60e3 * (1 - 0.03)  # within the trim's margin: the budget used, not left
    assert np.unique(np.rint(ts["awake_fraction"] * 8)).size >= 4


def test_the_ladder_counts_each_groups_replicas_among_its_first_k():
    """Row k of the ladder's table holds each rack group's replicas among the ladder's first k (one table for the
    power-down schedule and a request lane's walk): a ladder B, A, B counts (0,0), (0,1), (1,1), (1,2); the schedule
    reads it rounded to whole replicas and clipped to the ladder, a third group with none along it reads zeros."""
    from dcsim.engine.controller import PowerDown
    from dcsim.engine.tables import ladder_group_counts
    assert ladder_group_counts(np.array([1, 0, 1]), 2).tolist() == [[0, 0], [0, 1], [1, 1], [1, 2]]
    pd = PowerDown(3, 1.0, 0.5, 0, 0, 100.0, 0.1, ladder_group=np.array([1, 0, 1]),
                   ladder_thr_tok_s=np.ones(3), ladder_idle_w=np.ones(3), ladder_idle_gpu_w=np.ones(3))
    assert pd.group_replicas(np.array([0.0, 1.4, 1.6, 9.0]), 3).tolist() == [[0, 0, 0], [0, 1, 0], [1, 1, 0],
                                                                             [1, 2, 0]]
    assert pd.group_counts(2, 2).tolist() == [1, 1]


def test_kv_bound_groups_with_idle_power_down_are_estimated():
    """A pool of two KV-bound rack groups (Llama-3.1-405B FP8: 4 H100 TP8 and 8 B200 TP4 replicas, reasoning preset,
    both groups' batch set by the KV cache) with idle replicas powered down under a 60-kW contract, 1-min ticks:
    the estimate takes the door that releases per tick on the ladder's awake replicas. Every tick is capped; at
    2 req/s the contract still serves the work (attainment 1.000, TTFT p50 0.07 s, measured 2026-12-05, 15 min), at
    8 req/s work waits at the door for minutes (0.061, p50 281 s; the reviewer's 30-min runs: 1.00 / 0.020)."""
    def raw(rate):
        hall = _mixed_hall([{"name": "h100", "count": 1, "nodes_per_rack": 4,
                             "node": {"gpu": "H100-SXM", "model": "llama-3.1-405b", "precision": "fp8",
                                      "tensor_parallel": 8, "max_batch": 256}},
                            {"name": "b200", "count": 1, "nodes_per_rack": 4,
                             "node": {"gpu": "B200", "model": "llama-3.1-405b", "precision": "fp8",
                                      "tensor_parallel": 4, "max_batch": 256}}], "fluid")
        hall["facility"]["interconnect"] = "60 kW"
        hall["workload"] = {"arrivals": {"kind": "poisson", "rate": f"{rate} req/s"},
                            "classes": [{"name": "reasoning", "preset": "reasoning", "share": 1.0}]}
        hall.update(duration="15 min", controller={"tick": "1 min", "idle_power_down": True, "wake_up_delay": "60 s"},
                    serving={"slo_estimate": True})
        return hall
    m = build_models(load_scenario(raw(2)))
    assert [g.kv_bound for g in m.groups] == [True, True]
    low, high = dcsim.run(raw(2)), dcsim.run(raw(8))
    for r in (low, high):
        assert np.all(r.timeseries["mode"] != 0) and "awake_fraction" in r.timeseries
    assert low.report["slo_attainment"] >= 0.99 and low.report["latency_s"]["ttft"]["p50"] < 1.0
    assert high.report["slo_attainment"] < 0.2
    assert 60.0 < high.report["latency_s"]["ttft"]["p50"] < 600.0  # minutes at the door, within the hold limit
