"""The fluid SLO estimate for pools of long answers (docs/slo.md, "Long answers" and "A KV-bound pool near its
compute ceiling"): an operating point's simulated replicas reach their steady running batch before the counted window
opens, and a KV-bound pool offered work just below its compute ceiling on a shared budget is warned of."""

import math
from pathlib import Path

import numpy as np
import pytest

import dcsim
from dcsim.serving import slo_estimate as se

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "mixed-fleet.yaml"


def _cls(out_sorted, name="c"):
    out = np.sort(np.asarray(out_sorted, float))
    return se.ClassMoments(name, 1.0, 100.0, 0.0, float(out.mean()), float(out.var()), out_sorted=out,
                           in_sorted=np.full(out.size, 100.0))


def test_fill_tokens_is_where_the_running_batch_reaches_its_steady_count():
    """A pool fed from empty holds lambda x E[min(R, t)] sequences at t (M/G/infinity), lambda x E[R] in steady
    state. Answers of one length L: full once a sequence has decoded L. Two lengths, 100 and 1,000 tokens, equally
    likely: E[L] = 550; E[min(L, l)] = 50 + 0.5 l for l in [100, 1,000], 0.99 x 550 = 544.5 at l = 989, so the
    draw that reaches it is the 1,000-token answer; at 0.1 (55 tokens) it is the 100-token one
    (E[min(L, 100)] = 100)."""
    assert se.fill_tokens([_cls(np.full(64, 700.0))]) == pytest.approx(700.0)
    two = _cls(np.repeat([100.0, 1000.0], 500))
    assert se.fill_tokens([two]) == pytest.approx(1000.0)
    assert se.fill_tokens([two], frac=0.1) == pytest.approx(100.0)
    # lognormal answers: the fill point holds 0.99 of the mean, the draw below it does not
    x = np.sort(np.random.default_rng(1).lognormal(np.log(5483.0), 0.7, 8192))
    f = se.fill_tokens([_cls(x)])
    assert np.mean(np.minimum(x, f)) >= 0.99 * x.mean() - 1e-9
    assert np.mean(np.minimum(x, x[np.searchsorted(x, f) - 1])) < 0.99 * x.mean()


def test_token_time_is_littles_law_on_the_node_table():
    """A replica whose step takes a + c x B s at batch B serves B / (a + c B) tokens/s; at a served rate r the batch
    is B = r a / (1 - r c) and each sequence advances one token per a + c B s = B / r. Beyond the table's largest rate
    it reads the largest batch; no load the first batch's step."""
    a, c = 0.02, 0.0001
    batch = np.arange(0, 257, dtype=float)
    thr = batch / (a + c * batch)
    r = 3000.0
    b = r * a / (1.0 - r * c)
    assert se.token_time_s(batch, thr, r) == pytest.approx(a + c * b, rel=1e-3)
    assert se.token_time_s(batch, thr, 1e9) == pytest.approx(a + c * 256.0)
    assert se.token_time_s(batch, thr, 0.0) == pytest.approx(a + c)


def _reasoning_service():
    """mixed-fleet's reasoning pool (Llama-3.1-405B FP8, TP4 on B200, the reasoning preset) as the estimate sees it
    (the classes and options estimate_for_run reads: se.run_classes, se.service_opts)."""
    from dcsim.engine.build import build_models
    from dcsim.scenario import load_scenario

    sc = load_scenario(SCENARIO)
    m = build_models(sc)
    pool = m.pools[1]
    classes = se.run_classes([m.workload.classes[ci] for ci in pool.classes], sc.seed)
    g = m.groups[pool.groups[0]]
    return se.service_from_node(g.node, g.table.batch, g.table.thr, m.clocks, classes, se.service_opts(sc)), \
        classes, m.clocks


def test_a_pool_of_long_answers_at_light_load_reads_the_tables_token_time():
    """mixed-fleet's reasoning pool at night (02:00-03:00: ~712 tok/s per replica at clock ~0.95; ~7,000-token
    answers at ~36 ms a token, ~4 min each). Its steady running batch B has the table rate of the served rate, and each
    sequence then decodes one token per B / rate s (Little's law): 36.4 ms here; request fidelity measured TPOT p50
    36.0 ms. Until 2026-12-05 the point's replicas, started empty, were counted after a 45-s warm-up and its answers
    after at most 90 s more: the batch was a fraction of its steady count (TPOT p50 31.6 ms, -13 %; the run's -11 %
    against request fidelity) and only the short answers finished (mean 3,480 tokens of the class's ~6,000)."""
    sv, classes, clocks = _reasoning_service()
    k = int(np.argmin(np.abs(clocks - 0.95)))
    rate = 712.0
    # the table's steady per-token time, Little's law written out (the table rises with the batch)
    thr, batch = sv.thr[k], sv.batch
    b = float(np.interp(rate, thr[1:], batch[1:]))
    tau = b / rate
    cap = float(np.broadcast_to(sv.eta, sv.thr.shape[:1])[k] * thr[-1])
    out = se.simulate_point(sv, classes, k, rate / classes[0].mean_out, 48, 1.0, 1.0, min(rate / cap, se.RHO_MAX),
                            se.CALIBRATION, 0)
    _, tpot, n_out = out[0]
    assert n_out.size >= 50
    assert np.nanmedian(tpot) == pytest.approx(tau, rel=0.03)
    # the window's long answers are kept: the mean answer is the class's, within the sample's noise
    sd = math.sqrt(classes[0].var_out / n_out.size)
    assert abs(n_out.mean() - classes[0].mean_out) < 4.0 * sd


def test_preempting_pool_ticks_are_those_offered_within_the_gap_below_the_ceiling():
    """A tick is concerned where the offered work is within the gap below the compute ceiling, not beyond it (the
    fluid pool holds work there too) nor further below (request fidelity's lane keeps up)."""
    demand = np.array([60.0, 93.9, 94.0, 99.0, 100.0, 130.0, 50.0])
    compute = np.array([100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 0.0])
    assert se.preempting_pool_near_ceiling_ticks(demand, compute, 0.06).tolist() == [
        False, False, True, True, False, False, False]


def test_a_kv_bound_pool_near_its_ceiling_on_a_shared_budget_is_warned():
    """mixed-fleet 07:00-07:20: the reasoning pool (KV-bound, preempting: request fidelity serves it 4-6 % below its
    table) is offered 94-99.6 % of its compute ceiling (70.9-75.0 k of 75.3 k tok/s). Request fidelity's lane falls
    behind there, the shared budget moves to it at 07:14 (clock 1.0) and the chat pool's clock falls from 0.86 to 0.59:
    over 06:00-07:20 its chat TTFT p99 read 0.495 s against the estimate's 0.335 s (-32 %), with no warning until
    2026-12-05. Warned since, weighed on the chat pool's requests, under the split of that day (``controller.shared_split:
    tokens``); the light 02:00 window is not, nor, since session 53, the same window under the default split."""
    head = "SLO estimate: a KV-bound pool near its compute ceiling on a shared budget"
    near = dcsim.run(SCENARIO, overrides={"duration": "20 min", "start": "2026-07-15T07:00", "expect": {},
                                          "controller.shared_split": "tokens"}).report
    warn = [w for w in near["warnings"] if w.startswith(head)]
    assert len(warn) == 1
    assert "pool b200-reasoning" in warn[0] and "pool h100-chat's requests" in warn[0]
    assert "(on 20 of 20 ticks" in warn[0] and "4-6 %" in warn[0]
    light = dcsim.run(SCENARIO, overrides={"duration": "20 min", "start": "2026-07-15T02:00", "expect": {},
                                           "controller.shared_split": "tokens"}).report
    assert not [w for w in light["warnings"] + list(light.get("notes") or []) if isinstance(w, str)
                and w.startswith(head)]
    # the default split (session 53) closes the gap: the window is not warned
    now = dcsim.run(SCENARIO, overrides={"duration": "20 min", "start": "2026-07-15T07:00", "expect": {}}).report
    assert not [w for w in now["warnings"] + list(now.get("notes") or []) if isinstance(w, str) and w.startswith(head)]


def test_a_pool_of_long_answers_near_its_ceiling_is_drained_to_its_long_answers():
    """Near the ceiling (rho 0.92, clock ~0.85: mixed-fleet's reasoning pool at 06:00-07:20) the longer warm-up is
    off (a queue the KV-bound replicas cannot clear would grow through it), but the drain is not: it starts after the
    window, so it builds no queue the window's requests meet. Until 2026-12-05 both were off there: the window's long
    answers were cut and the mean answer read 5,487-6,293 tokens of the class's 6,987 (the review of 2026-12-05)."""
    sv, classes, clocks = _reasoning_service()
    k = int(np.argmin(np.abs(clocks - 0.85)))
    cap = float(np.broadcast_to(sv.eta, sv.thr.shape[:1])[k] * sv.thr[k, -1]) * se.CALIBRATION.eta
    rho = 0.92
    out = se.simulate_point(sv, classes, k, rho * cap / classes[0].mean_out, 48, 1.0, 1.0, rho, se.CALIBRATION, 0)
    _, _, n_out = out[0]
    assert n_out.size >= 50
    sd = math.sqrt(classes[0].var_out / n_out.size)
    assert abs(n_out.mean() - classes[0].mean_out) < 4.0 * sd


def test_preempting_pool_shares_counts_capped_ticks_only():
    """The near-ceiling warning concerns a shared budget moving to the KV-bound pool: on an uncapped tick (``mode``
    0) there is no budget to move, and the tick is not counted even where the pool is offered work just below its
    ceiling (the review of 2026-12-05: the ticks were counted whatever the mode)."""
    from dcsim.engine.assemble import preempting_pool_shares
    from dcsim.engine.build import build_models
    from dcsim.scenario import load_scenario

    m = build_models(load_scenario(SCENARIO))
    n = 4
    ts = {"t_s": np.arange(n) * 60.0, "mode": np.array([1, 0, 1, 0])}
    for p in range(len(m.pools)):
        ts[f"pool{p}_demand_tok_s"] = np.full(n, 97.0)
        ts[f"pool{p}_compute_tok_s"] = np.full(n, 100.0)
        ts[f"pool{p}_achieved_tok_s"] = np.full(n, 90.0)
        ts[f"pool{p}_arrived_tokens"] = np.full(n, 90.0 * 60.0)
    (kv, other, sh), = preempting_pool_shares(m, ts)
    assert (kv, other) == ("b200-reasoning", "h100-chat")
    assert sh[:2] == (2, 4)


def test_the_near_ceiling_warning_is_weighed_as_every_known_gap():
    """preempting_pool_caveat warns or notes through the rule every known gap reads (slo_estimate._put_gap): a share
    that cannot move the other pool's TTFT p99 or the attainment is a note saying how many points it could move at
    most; a larger one is the warning, with its share of the run. Until 2026-12-05 it had its own copy of that rule,
    whose note said neither."""
    notes = []
    assert se.preempting_pool_caveat("kv", "chat", (1, 100, 0.001, 0.001), (4.0, 6.0), 0.9, notes) is None
    assert len(notes) == 1 and "points of SLO attainment were every request there to flip" in notes[0]
    assert "pool kv (preempting) offered within 6 % below its compute ceiling" in notes[0]
    w = se.preempting_pool_caveat("kv", "chat", (20, 80, 0.27, 0.27), (4.0, 6.0), 0.9, notes)
    assert w.startswith(se.SLO_GAP_PREFIX) and "(on 20 of 80 ticks" in w and "4-6 % below its table" in w
    assert len(notes) == 1
    assert se.preempting_pool_caveat("kv", "chat", (0, 80, 0.0, 0.0), (4.0, 6.0), 0.9, notes) is None


def test_kv_fill_time_is_the_fill_tokens_at_the_saturated_token_time():
    """Saturated replicas run the table's largest batch B at its rate R (times eta): each sequence advances one token
    per B / R s, so the running batch, started empty, reaches its steady count after fill_tokens x B / R s. One answer
    length L = 1,000 tokens, B = 64 at R = 320 tok/s: 1,000 x 0.2 = 200 s; with eta 0.5 (the saturation throughput
    half the table's) the full batch advances at half the rate, 400 s. The
    saturated window closes at 1.25 x the calibration window (180 s: 225 s)."""
    batch = np.array([0.0, 1.0, 64.0])
    thr = np.array([[0.0, 10.0, 320.0]])
    cls = [_cls(np.full(64, 1000.0))]
    sv = se.ReplicaService(batch, thr, np.array([1.0]), None, {}, 1.0)
    assert se.kv_fill_time_s(sv, cls, 0) == pytest.approx(200.0)
    half = se.ReplicaService(batch, thr, np.array([1.0]), None, {}, np.array([0.5]))
    assert se.kv_fill_time_s(half, cls, 0) == pytest.approx(400.0)
    assert se.saturated_window_end_s() == pytest.approx(1.25 * se.CALIBRATION.window_s)
    assert se.saturated_window_end_s(se.Calibration(window_s=100.0)) == pytest.approx(125.0)


def test_saturated_spell_is_the_time_its_consecutive_saturated_ticks_had_lasted():
    """A spell's first tick has lasted 0 s at its start, the next one tick, ...; an unsaturated tick ends it."""
    sat = np.array([True, True, True, False, True, True])
    assert se.saturated_spell_s(sat, 60.0).tolist() == [0.0, 60.0, 120.0, 0.0, 0.0, 60.0]
    assert se.saturated_spell_s(np.zeros(0, bool), 60.0).size == 0


def test_young_saturated_ticks_need_a_saturated_spell_as_long_as_the_fill_time():
    """A tick is flagged once the pool's saturated spell has lasted its KV fill time by the tick's start (request
    fidelity's replicas preempt from then on); not before, not on an unsaturated tick, nor where no fill time is
    known. Fill 120 s on 60-s ticks: the spell's third tick on; a new spell starts over."""
    sat = np.array([True, True, True, True, False, True, True, True])
    fill = np.full(sat.size, 120.0)
    assert se.young_saturated_ticks(sat, fill, 60.0).tolist() == [False, False, True, True, False, False, False, True]
    fill[3] = np.nan
    assert se.young_saturated_ticks(sat, fill, 60.0).tolist() == [False, False, True, False, False, False, False, True]
    # a shorter onset flags earlier (the threshold is the measured one, PREEMPT_ONSET_FILL)
    assert se.young_saturated_ticks(sat, 120.0, 60.0, onset=0.5)[:4].tolist() == [False, True, True, True]


def test_the_young_saturated_warning_goes_to_the_notes_where_its_share_is_minor():
    """A share too small to move the pool's p99 or its SLO attainment is noted, not warned; a large one is warned and
    quotes the band by spell length."""
    notes: list[str] = []
    assert se.young_saturated_caveat("kv", (1, 1440, 0.001, 0.001), 1305.0, 0.9, notes) is None
    assert len(notes) == 1 and notes[0].startswith(se.SLO_GAP_PREFIX) and "pool kv" in notes[0]
    assert "not warned" in notes[0]
    w = se.young_saturated_caveat("kv", (38, 60, 0.63, 0.63), 1305.0, 0.9, notes)
    assert w is not None and w.startswith(se.SLO_GAP_PREFIX) and "(on 38 of 60 ticks" in w and len(notes) == 1
    assert se.young_saturated_caveat("kv", (0, 60, 0.0, 0.0), 1305.0, 0.9, notes) is None and len(notes) == 1


def test_saturated_kv_bound_replicas_preempt_only_after_their_fill_time():
    """The mechanism the warning rests on, in the request engine's own replicas (mixed-fleet's reasoning pool, 8
    replicas at clock 0.57, started empty, offered 1.1x their saturation throughput, FIFO queue standing): no
    preemption while the contexts are young — none by the close of the estimate's saturated window (a 180-s window
    closing at 225 s), nor before half the KV fill time (1,305 s; the first came at 0.72-0.87 x it on seeds 1-3) — and
    preemptions by recompute once it has passed (measured: 1.1-1.7 per completed request on seeds 1-3, counted from
    the fill time over the 2 x fill-time run's completions). The requests arriving after the fill time then
    read a TPOT p99 well above the estimate's saturated sample (measured 2026-12-05: 52 ms for the sample, 80-240 ms
    for requests arriving from 600 s on; request fidelity 91.4 ms over mixed-fleet 14:00-15:00)."""
    sv, classes, clocks = _reasoning_service()
    k = int(np.argmin(np.abs(clocks - 0.57)))
    fill = se.kv_fill_time_s(sv, classes, k)
    assert fill > se.saturated_window_end_s()
    n = 8
    sat = float(np.broadcast_to(sv.eta, sv.thr.shape[:1])[k]) * float(sv.thr[k, -1])
    rng = np.random.default_rng(1)
    pool = se._pool(sv, n, hold_limit=math.inf)
    horizon = 2.0 * fill
    ta = se._arrival_times(rng, 1.1 * n * sat / classes[0].mean_out, 1.0, horizon)
    reqs = se._requests(rng, classes, ta)
    edges = np.searchsorted(ta, np.arange(int(horizon) + 1) * 1.0)
    pre_at, fins = {}, []
    for j in range(int(horizon)):
        fins += pool.serve((j + 1) * 1.0, float(clocks[k]), *(x[edges[j]:edges[j + 1]] for x in reqs))[1]
        pre_at[j + 1] = pool.totals()["preemptions"]
    assert pre_at[int(se.saturated_window_end_s())] == 0
    assert pre_at[int(0.5 * fill)] == 0
    late = pool.totals()
    # measured 1.1-1.7 preemptions per completed request after the fill time (the SLO review, seeds 1-3)
    assert late["preemptions"] - pre_at[int(fill)] > late["completed"] * 0.8
    # the estimate's saturated sample (young contexts) against the replicas' requests arriving after the fill time
    from dcsim.serving.replica import FinishedBatch
    fb = FinishedBatch.concat([f for f in fins if len(f)])
    after = (fb.t_arrival >= fill) & (fb.n_out > 1)
    est = se.simulate_point(sv, classes, k, 0.0, 48, 1.0, 60.0, 1.0, se.CALIBRATION, 0, saturated=True)[0][1]
    assert np.count_nonzero(after) >= 100
    assert np.nanpercentile(fb.tpot_s[after], 99) > 1.3 * np.nanpercentile(est, 99)


def test_a_saturated_kv_bound_pool_is_warned_once_its_spell_outlasts_the_fill_time():
    """mixed-fleet from 14:00: the reasoning pool (KV-bound, long answers) is simulated saturated on every tick, at
    clock 0.57, where its KV fill time is 1,305 s. Over 14:00-15:00 the estimate's TPOT p99 read 52.6 ms against
    request fidelity's 91.4 ms (-42 %): warned on the ticks after the spell has lasted the fill time (38 of 60),
    weighed on that pool's own requests. Over 14:00-14:20 the spell is shorter than the fill time and the estimate
    reads above request fidelity (53.1 against 48.7 ms): neither warned nor noted."""
    head = "SLO estimate: a saturated KV-bound pool"
    hour = dcsim.run(SCENARIO, overrides={"duration": "60 min", "start": "2026-07-15T14:00", "expect": {}}).report
    warn = [w for w in hour["warnings"] if w.startswith(head)]
    assert len(warn) == 1
    assert "pool b200-reasoning" in warn[0] and "(on 38 of 60 ticks" in warn[0]
    short = dcsim.run(SCENARIO, overrides={"duration": "20 min", "start": "2026-07-15T14:00", "expect": {}}).report
    assert not [w for w in short["warnings"] + list(short.get("notes") or []) if isinstance(w, str)
                and w.startswith(head)]


def test_spell_sample_age_is_the_bin_of_the_spell_capped_at_the_settled_age():
    """A KV-bound pool's saturated tick is sampled at the start of the SPELL_AGE_BIN_S-wide bin its spell age falls
    in: 0 for a spell younger than one bin, non-decreasing in the spell, and at most the bin of SPELL_MAX_FILL fill
    times (an older spell reads the settled sample); no fill time known reads the youngest bin."""
    b = se.SPELL_AGE_BIN_S
    spell = np.array([0.0, 0.5 * b, b, 1.5 * b, 3.2 * b, 50.0 * b])
    fill = 3.0 * b  # settled from SPELL_MAX_FILL x 3 bins (4 bins at the sourced 1.4)
    age = se.spell_sample_age_s(spell, fill)
    assert age.tolist() == [0.0, 0.0, b, b, 3.0 * b, math.floor(se.SPELL_MAX_FILL * 3.0) * b]
    assert np.all(np.diff(se.spell_sample_age_s(np.linspace(0, 100 * b, 1001), fill)) >= 0.0)
    assert se.spell_sample_age_s(np.array([5.0 * b]), np.nan).tolist() == [0.0]
    assert se.spell_sample_age_s(np.array([5.0 * b]), 10.0 * b, max_fill=0.25).tolist() == [2.0 * b]


def test_replica_hold_is_the_hold_limit_net_of_the_door_wait():
    """request fidelity sheds a request not admitted within controller.hold_limit of its arrival: what it waited at
    the door is gone from the replicas' own queue; never below 0; no hold limit, none."""
    assert se.replica_hold_s(600.0, np.array([0.0, 530.0, 700.0])).tolist() == [600.0, 70.0, 0.0]
    assert se.replica_hold_s(math.inf, 530.0) == math.inf


def test_a_saturated_spell_of_kv_bound_replicas_stalls_its_later_requests():
    """The mechanism the estimate now samples (docs/slo.md "A saturated KV-bound pool"): mixed-fleet's reasoning pool,
    8 replicas at clock 0.57 (KV fill 1,305 s), fed from empty at their saturation throughput (a door at its limit),
    their own queue bounded by a 70-s hold (600 s less the door's 530 s on 14:00-16:00). The requests admitted in
    the spell's first 10 min decode on young contexts unstalled; those admitted after two fill times, the replicas
    preempting by recompute, read a TPOT p99 far above them (request fidelity's lane, by arrival time: 46 ms for
    14:00-14:05, 105-125 ms from 14:30 on), while the p50 moves a few ms (41 to 53-57 ms there). Measured here
    (2026-12-06, ages 0-10 min against 2-4 fill times, p50/p99): seed 0 41/48 against 52-62/92-133 ms; seeds 1 and 2
    read the old ages' p99 62-103 and 113-142 ms (8 replicas preempt in bursts). The spell's queue stays bounded by
    the hold: no admission waits longer."""
    sv, classes, clocks = _reasoning_service()
    k = int(np.argmin(np.abs(clocks - 0.57)))
    fill = se.kv_fill_time_s(sv, classes, k)
    fins = se._simulate_spell(sv, classes, k, 8, 1.0, 70.0, 4.0 * fill, np.random.default_rng(0))
    young = se._window_samples(fins, 0.0, se.SPELL_AGE_BIN_S, 1)[0][1]
    old = se._window_samples(fins, 2.0 * fill, 4.0 * fill, 1)[0][1]
    assert np.nanpercentile(old, 99) > 1.5 * np.nanpercentile(young, 99)
    assert 1.0 < np.nanpercentile(old, 50) / np.nanpercentile(young, 50) < 1.5
    from dcsim.serving.replica import FinishedBatch
    fb = FinishedBatch.concat([f for f in fins if len(f)])
    # the young window's requests all served (none waits out the hold before the cache fills), at the offered rate:
    # SPELL_OFFER x the 8 replicas' saturation throughput in requests/s (Poisson over 600 s: +-3 sigma ~ 9 %)
    sat = se.CALIBRATION.eta * float(np.broadcast_to(sv.eta, sv.thr.shape[:1])[k]) * float(sv.thr[k, -1])
    offered = se.SPELL_OFFER * 8 * sat / classes[0].mean_out * se.SPELL_AGE_BIN_S
    assert abs(np.count_nonzero(fb.t_arrival < se.SPELL_AGE_BIN_S) / offered - 1.0) < 0.1
    assert float(np.max(fb.queue_delay_s)) <= 70.0 + 1.0


@pytest.mark.slow
def test_a_saturated_kv_bound_pools_tpot_tail_agrees_with_request_fidelity_over_an_hour():
    """mixed-fleet 14:00-15:00: the reasoning pool (KV-bound, ~7,000-token answers) saturated from 14:00 at clock 0.57.
    Request fidelity's replicas fill their KV cache over the spell and then preempt by recompute: TPOT p99 91.4 ms.
    Until 2026-12-06 the estimate sampled every saturated tick from the spell's first minutes (52.6 ms, -42 %); now
    each tick is sampled at its age in the spell (102.6 ms, +12 %, the top of the band measured over seeds 0-4 and 7,
    -40 to +12 %, ``YOUNG_SATURATED_TPOT_P99_MS``; seeds 1 and 2 87.5 and 82.8 ms, seed 0 53.6), and the p50 stays
    within 5 % (50.8 against 49.6 ms). Request fidelity ~1-10 min wall."""
    over = {"duration": "60 min", "start": "2026-07-15T14:00", "expect": {}}
    fl = dcsim.run(SCENARIO, overrides=over).report["serving"]["per_class"]["reasoning"]["latency_s"]["tpot"]
    rq = dcsim.run(SCENARIO, overrides=dict(over, fidelity="request")).report["serving"]["per_class"]["reasoning"][
        "latency_s"]["tpot"]
    lo, hi = se.young_saturated_band_pct(60)
    assert lo - 0.5 <= 100.0 * (fl["p99"] / rq["p99"] - 1.0) <= hi + 0.5
    assert abs(fl["p50"] / rq["p50"] - 1.0) <= 0.05


@pytest.mark.slow
def test_the_fluid_tpot_tail_of_a_saturated_kv_bound_pool_is_inside_its_seed_band():
    """The band the warning quotes for a saturated KV-bound pool (``YOUNG_SATURATED_TPOT_P99_MS``) is the spread of
    fluid / request - 1 over seeds, not one seed's reading: mixed-fleet 14:00-14:40, seeds 0 and 1, both fidelities.
    Request fidelity's lane varies little by seed (TPOT p99 70.4 / 75.3 ms; 67.0-78.3 over seeds 0-4 and 7); the
    estimate's spell, one draw of 8 replicas per clock level, varies much more (53.6 / 80.4 ms: seed 0's spell at clock
    level 9 never stalls within the ages sampled). Until the SLOSEED slice (2026-12-06) the band was seed 7's reading
    alone, +33 %, and seed 0 read -24 %, outside it. ~1-3 min wall on a loaded 2-core box."""
    lo, hi = se.young_saturated_band_pct(40)
    for seed in (0, 1):
        over = {"duration": "40 min", "start": "2026-07-15T14:00", "seed": seed, "expect": {}}
        fl = dcsim.run(SCENARIO, overrides=over).report["serving"]["per_class"]["reasoning"]["latency_s"]["tpot"]
        rq = dcsim.run(SCENARIO, overrides=dict(over, fidelity="request")).report["serving"]["per_class"][
            "reasoning"]["latency_s"]["tpot"]
        err = 100.0 * (fl["p99"] / rq["p99"] - 1.0)
        assert lo - 0.5 <= err <= hi + 0.5, (seed, err, lo, hi)
        # the p50 is not what the band is about, and stays within the 5 % bar on these seeds (-1 / +4 %)
        assert abs(fl["p50"] / rq["p50"] - 1.0) <= 0.05


def test_the_young_saturated_band_is_the_spread_over_its_seeds_and_the_warning_quotes_it():
    """The band of each run length is the lowest and highest fluid / request - 1 of its seeds' measured pairs, every
    run length measured on at least two seeds, and the warning quotes each band with its seeds."""
    for mins, rows in se.YOUNG_SATURATED_TPOT_P99_MS:
        assert len({r[0] for r in rows}) >= 2
        lo, hi = se.young_saturated_band_pct(mins)
        errs = [100.0 * (fl / rq - 1.0) for _, fl, rq in rows]
        assert lo == min(errs) and hi == max(errs) and lo <= hi
    w = se.young_saturated_caveat("kv", (38, 60, 0.63, 0.63), 1305.0, 0.9, [])
    lo, hi = se.young_saturated_band_pct(40)
    assert f"40 min from 14:00 {lo:+.0f} to {hi:+.0f} %" in w
