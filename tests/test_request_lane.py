"""The request lane's own arithmetic (dcsim/engine/requests.py): the ticks it holds below the controller's clock (their
level, their consolidation, the clock the record keeps)."""

import numpy as np
import pytest


@pytest.mark.parametrize("fidelity", ["request", "hybrid"])
def test_a_held_tick_records_the_clock_its_replicas_ran(monkeypatch, fidelity):
    """The reference hall from 12:00 (uncapped, P 0.1 % above C, work waiting): the lane holds its first tick below
    the controller's full clock (docs/engine.md "The first tick"). The timeseries' effective clock (mean_clock, what
    the summary's and report's mean clock read) records what the replicas ran there — at request fidelity the lane's
    clock; at hybrid its sample's share of it, the fluid remainder at full clock — while controller_clock keeps the
    controller's full clock. Until 2026-12-05 mean_clock read 1.0 on that tick: power binding at full clock. The ticks
    after it run at full clock in both columns. The tick is labelled compute at both fidelities: the lane's clock
    (0.978) costs its replicas 1.6 % of their full-clock rate, within RHO_MAX's margin (``clock_holds_rate``; request
    fidelity read power there earlier on 2026-12-05)."""
    from conftest import ROOT, run_with_replica_clock
    from dcsim.engine.build import build_models
    from dcsim.scenario import load_scenario

    ov = {"duration": "5 min", "start": "2026-07-15T12:00", "expect": {}, "fidelity": fidelity}
    r, clk = run_with_replica_clock(monkeypatch, ROOT / "scenarios" / "reference.yaml", ov)
    ts = r.timeseries
    assert np.all(ts["mode"] == 0) and clk[0] < 1.0 - 1e-3 and np.all(clk[1:] == pytest.approx(1.0))
    assert np.all(ts["controller_clock"] == pytest.approx(1.0))
    f = 1.0
    if fidelity == "hybrid":
        # one rack group, every replica in service: the sample's GPUs are hybrid_sample of the hall's replicas
        m = build_models(load_scenario(ROOT / "scenarios" / "reference.yaml", overrides=ov))
        assert len(m.groups) == 1
        f = m.scenario.hybrid_sample / m.groups[0].limits.replicas
        assert 0.0 < f < 0.5
    assert ts["mean_clock"][0] == pytest.approx(f * clk[0] + (1.0 - f), rel=1e-12)
    assert ts["mean_clock"][0] < 1.0 - 1e-4
    assert np.all(ts["mean_clock"][1:] == pytest.approx(1.0))
    assert ts["binding"][0] == 1  # the held clock costs under RHO_MAX's margin: compute (power before the clock rule)


def test_a_tick_held_at_the_lowest_clock_consolidates_as_a_capped_tick_does():
    """A held tick (here the lane's first, uncapped, its budget tight) goes through the capped tick's tail: where even
    at the lowest clock the replicas serving the tick's work evenly draw more than the budget less the trim's margin
    by the tables, the lane routes new requests to the share of its replicas that serves that work within it
    (_start_share), as on a capped tick at the lowest clock: the most whole replicas within that aim (one more is
    over it). Until 2026-12-05 a held tick had a branch of its own (_hold_to_budget) that set the share to 1: every
    replica evenly loaded, over its aim by the tables. 32 H100 replicas of 70B (small_scenario) serving half their
    full-load rate at the lowest clock, the budget 3 % under their even draw there. A parked replica's draw over its
    charged idle is set aside from the aim too: with 2 % of the budget of it, fewer replicas are loaded."""
    from conftest import small_scenario
    from dcsim.engine.build import build_models
    from dcsim.engine.requests import RequestEngine
    from dcsim.scenario import load_scenario

    m = build_models(load_scenario(small_scenario(fidelity="request")))

    def held_share(excess_w: float):
        ln = RequestEngine(m).lanes[0]
        n = int(ln.pool.n)
        ln._n_up = n
        ln._parked_excess_w = excess_w
        work = 0.5 * float(ln._lad_cum_rate[-1])  # tokens/s: half the replicas' full-load rate at the lowest clock
        even_w = ln._pred_w(float(n), work, 0.0)
        budget = 0.97 * even_w / (1.0 - ln._margin())
        segs = ln._clock_segments(float(m.clocks[-1]), 1e12, 1.0, 0.0, 10.0, capped=False, work_tok_s=work,
                                  it_budget_w=budget)
        assert ln._tick_level[-1] == 0.0 and segs == [(10.0, float(m.clocks[0]))]  # held to the lowest clock
        return ln, n, work, budget, ln._replicas(ln._share)

    ln, n, work, budget, k = held_share(0.0)
    aim = budget * (1.0 - ln._margin())
    assert n / 2 <= k < n  # consolidated: at least the replicas that serve the work at full load, not all
    assert ln._pred_w(float(k), work, 0.0) <= aim < ln._pred_w(float(k + 1), work, 0.0)  # the most within the aim
    excess = 0.02 * budget
    ln_x, _, _, _, k_x = held_share(excess)
    assert k_x < k
    assert ln_x._pred_w(float(k_x), work, 0.0) <= aim - excess < ln_x._pred_w(float(k_x + 1), work, 0.0)


def _held_lane(excess_w: float = 0.0):
    """The request lane of small_scenario (32 H100 replicas of 70B, one rack group, no idle_power_down) past its first
    tick, every replica in service, may trim down; ``excess_w``: a parked replica's draw over its charged idle."""
    from conftest import small_scenario
    from dcsim.engine.build import build_models
    from dcsim.engine.requests import RequestEngine
    from dcsim.scenario import load_scenario

    m = build_models(load_scenario(small_scenario(fidelity="request")))
    ln = RequestEngine(m).lanes[0]
    ln._n_up = int(ln.pool.n)
    ln._first_tick, ln.may_trim_down = False, True
    ln._awake_n, ln._parked_excess_w = int(ln.pool.n), excess_w
    return m, ln


def test_a_held_level_above_the_last_trimmed_ticks_is_not_absorbed_into_the_trim():
    """A held tick's level is read by the tables within the budget less the trim's margin (_held_level); the trim's
    absorption of a level rise between trimmed ticks (the controller's limit changed) must not apply to it, or it
    takes a second margin: until 2026-12-05 (later) it did, and the fall from 00:50 of the capped mixed hall
    (tests/test_power_down.py) held its 4 ticks 2.87 to 8.45 % under the contract where 0.73 to 6.44 % keeps it. Here
    the last trimmed tick ran the lowest level and a parked replica's 2 W over its idle holds an uncapped tick to
    about the middle level: the replicas run the held level, the trim stays 0 (absorbed: the lowest level again)."""
    from dcsim.engine.pools import pool_operating_point
    from dcsim.engine.requests import _highest_level_within

    m, ln = _held_lane(excess_w=2.0)
    K = m.clocks.size
    work = 0.3 * float(ln._lad_cum_rate[-1])  # tokens/s: 30 % of the replicas' full-load rate at the lowest clock
    it = pool_operating_point(ln.curves, m.clocks, "uniform", ln.overhead_w, np.full(K, work),
                              np.full(K, 2, np.int8), np.arange(K, dtype=np.int16), np.full(K, 1.0))["it_power_w"]
    margin = ln._margin()
    budget = float(it[K // 2]) / (1.0 - margin)  # the replicas' even draw at the middle level, before the margin
    want = _highest_level_within(it, budget * (1.0 - margin) - 2.0)
    assert K // 2 - 1 < want < K // 2
    ln._level_capped = 0.0  # the last trimmed tick ran the lowest level
    ln._clock_segments(float(m.clocks[-1]), 1e12, 1.0, 0.0, 10.0, capped=False, work_tok_s=work, it_budget_w=budget)
    assert ln._trim == 0.0
    assert ln._tick_level[-1] == pytest.approx(want, rel=1e-12)


def test_the_lane_clock_is_read_through_the_board_limit_where_it_throttles():
    """mean_clock at request fidelity is the clock the replicas ran, at most the board's throttled clock there
    (loop.lane_effective_clock). The mixed hall of tests/test_power_down.py with board power caps (H100 450 W, B200
    700 W per GPU): a lane at full clock at full load runs each group at its board's clock at its largest batch (node
    model, gpu_clock.board_clock: H100 0.714, B200 0.853), GPU-weighted 0.760, and so does a lane two levels down
    (0.939, still above both); at the middle level (0.665) nothing throttles; a fractional level is the time mix of
    its two; where the lane runs the controller's clock it is the fluid operating point's effective clock (read on
    the replicas awake)."""
    import copy

    from dcsim.engine.build import build_models
    from dcsim.engine.gpu_clock import board_clock
    from dcsim.engine.loop import lane_effective_clock
    from dcsim.scenario import load_scenario
    from test_power_down import _B200_70B, _H100_70B, _mixed_hall

    h, b = copy.deepcopy(_H100_70B), copy.deepcopy(_B200_70B)
    h["node"]["power_cap"], b["node"]["power_cap"] = "450 W", "700 W"
    m = build_models(load_scenario(_mixed_hall([h, b], "request")))
    p, c, K = m.pools[0], m.clocks, m.clocks.size
    board = [float(board_clock(g.node, g.table.batch, p.mean_input, p.mean_output, p.decode_context,
                               p.prompt_scv)[-1]) for g in m.groups]
    w = np.array([g.gpus for g in m.groups], dtype=float) / sum(g.gpus for g in m.groups)
    full = float(sum(wi * min(1.0, bc) for wi, bc in zip(w, board)))
    assert 0.75 < full < 0.77
    rc = np.array([c[-1], c[-3], c[K // 2], 0.5 * (c[K // 2] + c[K // 2 + 1]), c[-1]])
    ctrl = np.array([2.0, 2.0, 2.0, 2.0, c[-1]])  # the last tick: the lane at the controller's clock
    got = lane_effective_clock(m, rc, ctrl, np.full(5, 0.5), np.full(5, np.nan))
    assert got[:3] == pytest.approx([full, full, c[K // 2]], rel=1e-9)
    assert got[3] == pytest.approx(0.5 * (c[K // 2] + min(c[K // 2 + 1], full)), rel=1e-9)
    assert got[4] == 0.5


def test_a_hybrid_sample_rounded_up_is_held_on_its_own_awake_replicas():
    """A hybrid sample with idle replicas powered down keeps round(awake x sample) whole replicas awake: with 8 of the
    mixed hall's 24 replicas awake (the B200s) its 8-replica sample keeps 3 B200s awake, more than its compute share of
    the pool's (0.342 x 8 = 2.74). Held to its share of the awake budget, those 3 serving its share of the work draw
    more than the share of the pool's 8 at the same clock, so its held level is read on them (_sample_level) and lies
    below the level the pool's awake replicas read (the budget: their even draw at the middle level, before the
    margin): 10.36 against 12.0. Without that reading the sample would run the pool's level, over its target."""
    from dcsim.engine.build import build_models
    from dcsim.engine.controller import awake_curves
    from dcsim.engine.pools import pool_operating_point
    from dcsim.engine.requests import RequestEngine, _first
    from dcsim.scenario import load_scenario
    from test_power_down import _capped_mixed_hall

    m = build_models(load_scenario(_capped_mixed_hall("hybrid")))
    ln = RequestEngine(m).lanes[0]
    K = m.clocks.size
    assert ln.pool.n == 8 and 0.3 < ln.frac < 0.4
    ln._awake_n, ln._awake_k = 3, 8  # as RequestEngine's tick sets them for an awake fraction of 8/24
    awake = _first(ln._all_up, 3, ln._order)
    assert np.all(ln.pool.group_of[awake] == 1)  # the B200s, the ladder's first
    ln._set_ladder(awake)
    ln._n_up = 3
    cv = awake_curves(m, ln._pd, 8)
    work = 0.3 * float(cv.rate_c[-1][-1])  # tokens/s, the pool's
    it = pool_operating_point(cv, m.clocks, "uniform", ln.overhead_w, np.full(K, work), np.full(K, 2, np.int8),
                              np.arange(K, dtype=np.int16), np.full(K, 1.0))["it_power_w"]
    allow = float(it[K // 2])  # the budget less the trim's margin
    budget = allow / (1.0 - ln._margin())
    assert ln._level_within(cv, 1.0, work, allow) == pytest.approx(K // 2, abs=1e-9)  # the pool's awake replicas
    held, _ = ln._held_level(float(K - 1), work * ln.frac, budget, 8 / 24)
    assert held == pytest.approx(ln._sample_level(work * ln.frac, ln.frac * allow), rel=1e-12)
    assert held < K // 2 - 1.0


def test_the_lane_clock_grid_reading_is_np_interp_bit_for_bit():
    """lane_effective_clock reads EffectiveClock's grid at each tick's two clock levels in one pass
    (gpu_clock.interp_rows) on the ticks the lane ran its own clock, not a per-tick np.interp on every tick: the
    same numbers to the last bit as the per-tick reading (the mixed hall with board caps, random clocks and loads,
    NaN loads read as full load), and interp_rows is np.interp's own formula, at the grid's points, outside it, on
    a repeated point and at a NaN."""
    import copy

    from dcsim.engine.build import build_models
    from dcsim.engine.gpu_clock import interp_rows
    from dcsim.engine.loop import effective_clock, lane_effective_clock
    from dcsim.scenario import load_scenario
    from test_power_down import _B200_70B, _H100_70B, _mixed_hall

    rng = np.random.default_rng(5)
    xp = np.array([0.0, 0.25, 0.25, 0.6, 1.0])
    fp = rng.normal(size=(3, xp.size))
    x = np.array([-0.5, 0.0, 0.1, 0.25, 0.3, 0.6, 0.99, 1.0, 1.5, np.nan, *rng.uniform(-0.2, 1.2, 40)])
    rows = rng.integers(0, 3, x.size)
    want = np.array([np.interp(xi, xp, fp[r]) for xi, r in zip(x, rows)])
    assert np.array_equal(interp_rows(x, xp, fp, rows), want, equal_nan=True)

    h, b = copy.deepcopy(_H100_70B), copy.deepcopy(_B200_70B)
    h["node"]["power_cap"], b["node"]["power_cap"] = "450 W", "700 W"
    m = build_models(load_scenario(_mixed_hall([h, b], "request")))
    ec, c, K = effective_clock(m), m.clocks, m.clocks.size
    assert ec.throttles
    n = 200
    rc = np.concatenate([rng.uniform(c[0], c[-1], n - 3), [c[0], c[-1], c[K // 2]]])
    ctrl = np.where(rng.random(n) < 0.3, rc, 2.0)  # 30 % of ticks at the controller's clock
    lf = np.where(rng.random(n) < 0.2, np.nan, rng.random(n))
    fluid = rng.random(n)
    lv = np.interp(rc, c, np.arange(K))  # the per-tick reading (until 2026-12-05 the code itself)
    lo = np.minimum(np.floor(lv + 1e-9).astype(int), K - 2)
    w = np.clip(lv - lo, 0.0, 1.0)
    u = np.where(np.isfinite(lf), lf, 1.0)
    at = lambda k: np.array([np.interp(ui, ec.curves.u, ec.grid_pq[ki]) for ui, ki in zip(u, k)])  # noqa: E731
    want = np.where(np.abs(rc - ctrl) <= 1e-9, fluid, (1.0 - w) * at(lo) + w * at(lo + 1))
    got = lane_effective_clock(m, rc, ctrl, fluid, lf)
    assert got.tobytes() == want.tobytes()
