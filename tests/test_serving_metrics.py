"""Streaming serving metrics: sketch accuracy, SLO attainment, goodput, bounded reservoir."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dcsim.serving import FinishedBatch
from dcsim.scenario.serving import ServingSpec
from dcsim.serving.metrics import LogHistogram, ServingMetrics

SAMPLE_SIZE = ServingSpec.model_fields["latency_sample_size"].default  # what a run passes by default


def _batch(n, seed, n_cls=2):
    rng = np.random.default_rng(seed)
    t_arr = np.sort(rng.uniform(0, 100, n))
    q = rng.exponential(0.05, n) * (rng.random(n) < 0.5)  # half not queued at all (exact zeros)
    ttft = q + rng.lognormal(np.log(0.2), 0.8, n)
    n_out = rng.integers(1, 400, n)
    tpot = rng.lognormal(np.log(0.03), 0.4, n)
    t_first = t_arr + ttft
    t_fin = t_first + tpot * (n_out - 1)
    return FinishedBatch(rng.integers(0, n_cls, n), t_arr, t_arr + q, t_first, t_fin,
                         rng.integers(10, 3000, n), n_out, rng.lognormal(np.log(50.0), 1.0, n))


@pytest.mark.parametrize("dist", ["lognormal", "exponential", "uniform"])
def test_sketch_quantiles_within_1pct_of_numpy(dist):
    rng = np.random.default_rng(1)
    v = {"lognormal": rng.lognormal(0.0, 2.0, 200_000),
         "exponential": rng.exponential(0.3, 200_000),
         "uniform": rng.uniform(1e-3, 5.0, 200_000)}[dist]
    h = LogHistogram()
    for chunk in np.array_split(v, 17):  # streamed in pieces
        h.add(chunk)
    qs = [0.01, 0.1, 0.5, 0.9, 0.99, 0.999]
    est = h.quantile(qs)
    ref = np.quantile(v, qs)
    assert np.all(np.abs(est / ref - 1.0) <= 0.01)
    assert h.count() == v.size and h.mean() == pytest.approx(v.mean(), rel=1e-12)
    assert h.quantile(0.0)[0] == v.min() and h.quantile(1.0)[0] == v.max()


def test_sketch_rows_are_independent_and_memory_fixed():
    h = LogHistogram(rows=3)
    size = h.counts.nbytes
    rng = np.random.default_rng(2)
    v = rng.lognormal(0, 1, 50_000)
    rows = rng.integers(0, 3, v.size)
    h.add(v * (1 + rows), rows)  # row r holds values scaled by (1 + r)
    assert h.counts.nbytes == size
    for r in range(3):
        assert h.quantile(0.5, r)[0] == pytest.approx(np.median(v[rows == r] * (1 + r)), rel=0.01)
    assert h.quantile(0.5)[0] == pytest.approx(np.median(v * (1 + rows)), rel=0.01)
    assert np.isnan(LogHistogram().quantile(0.5)[0])


def test_slo_attainment_goodput_and_counts_by_hand():
    m = ServingMetrics(["chat", "batch"], [0.5, None], [0.05, None], sample_size=10, seed=1)
    # chat: meets both; misses TTFT; misses TPOT; single-token (no TPOT) meets; batch: no SLO
    fb = FinishedBatch(
        cls=np.array([0, 0, 0, 0, 1]),
        t_arrival=np.zeros(5), t_admit=np.zeros(5),
        t_first=np.array([0.4, 0.6, 0.1, 0.2, 9.0]),
        t_finish=np.array([0.4 + 0.04 * 9, 0.6 + 0.04 * 9, 0.1 + 0.06 * 9, 0.2, 99.0]),
        n_in=np.array([100, 100, 100, 100, 1000]), n_out=np.array([10, 10, 10, 1, 500]),
        energy_j=np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    m.record_arrivals(np.array([0, 0, 0, 0, 0, 0, 1, 1]))  # 6 chat (1 shed, 1 in flight), 2 batch
    m.record_shed(np.array([0]))
    m.add(fb)
    rep = m.to_report(duration_s=10.0)
    json.dumps(rep)  # JSON-serialisable
    chat = rep["per_class"]["chat"]
    assert chat["requests"] == {"arrived": 6, "completed": 4, "in_flight": 1, "shed": 1}
    assert chat["slo_attainment"] == pytest.approx(2 / 5)  # 2 met of 4 completed + 1 shed
    assert chat["goodput_tok_s"] == pytest.approx((10 + 1) / 10.0)
    assert rep["per_class"]["batch"]["slo_attainment"] == 1.0
    assert rep["goodput_tok_s"] == pytest.approx((10 + 1 + 500) / 10.0)
    assert rep["requests"] == {"arrived": 8, "completed": 5, "in_flight": 2, "shed": 1}
    assert rep["tokens"] == {"in": 1400, "out": 531}
    assert rep["energy_per_request_j"]["mean"] == pytest.approx(3.0)
    # a rank sketch reports the order statistic of rank floor(q*(n-1)): 0.2 of (0.1, 0.2, 0.4, 0.6)
    assert chat["latency_s"]["ttft"]["p50"] == pytest.approx(0.2, rel=0.005)
    assert chat["latency_s"]["ttft"]["mean"] == pytest.approx(0.325, rel=1e-12)
    for k in ("ttft", "tpot", "e2e"):
        assert set(rep["latency_s"][k]) >= {"p50", "p90", "p99"}


def test_report_quantiles_match_numpy_per_class():
    m = ServingMetrics(["a", "b"], [1.0, 2.0], [0.05, 0.1], sample_size=SAMPLE_SIZE, seed=3)
    fbs = [_batch(20_000, s) for s in range(5)]
    for fb in fbs:
        m.add(fb)
    all_ = FinishedBatch.concat(fbs)
    rep = m.to_report(100.0)
    for name, k in (("a", 0), ("b", 1)):
        sel = all_.cls == k
        for key, v in (("ttft", all_.ttft_s), ("e2e", all_.e2e_s), ("tpot", all_.tpot_s)):
            x = v[sel]
            x = x[np.isfinite(x)]
            for q in (50, 90, 99):
                assert rep["per_class"][name]["latency_s"][key][f"p{q}"] == pytest.approx(
                    np.quantile(x, q / 100), rel=0.01)
    met = (all_.ttft_s <= np.where(all_.cls == 0, 1.0, 2.0)) & (
        (all_.n_out == 1) | (all_.tpot_s <= np.where(all_.cls == 0, 0.05, 0.1)))
    assert rep["slo_attainment"] == pytest.approx(met.mean(), abs=1e-12)
    assert rep["goodput_tok_s"] == pytest.approx(all_.n_out[met].sum() / 100.0)


def test_reservoir_bounded_seeded_and_unbiased():
    def run(seed):
        m = ServingMetrics(["a", "b"], [1.0, 1.0], [0.1, 0.1], sample_size=2000, seed=seed)
        for s in range(10):
            m.add(_batch(10_000, 100 + s))
        return m

    m1, m2, m3 = run(7), run(7), run(8)
    s1, s2, s3 = m1.sample("a"), m2.sample("a"), m3.sample(0)
    assert all(np.array_equal(s1[k], s2[k], equal_nan=True) for k in s1)  # same seed, same sample
    assert not np.array_equal(s1["e2e_s"], s3["e2e_s"])
    assert s1["e2e_s"].size == 2000  # bounded although 50k requests of class a were added
    assert m1._sample.nbytes == run(7)._sample.nbytes
    # uniform over the stream: arrival times of the sample spread like the population's
    pop = FinishedBatch.concat([_batch(10_000, 100 + s) for s in range(10)])
    e2e = pop.e2e_s[pop.cls == 0]
    assert np.median(s1["e2e_s"]) == pytest.approx(np.median(e2e), rel=0.08)
    assert np.mean(s1["n_in"]) == pytest.approx(np.mean(pop.n_in[pop.cls == 0]), rel=0.06)
    # a stream shorter than the reservoir is kept whole, in order
    m = ServingMetrics(["a"], [1.0], [0.1], sample_size=100, seed=0)
    fb = _batch(50, 1, n_cls=1)
    m.add(fb)
    assert np.array_equal(m.sample("a")["t_arrival"], fb.t_arrival)


def test_buffered_rows_equal_direct_batches():
    fb = _batch(30_000, 9)
    rows = list(zip(fb.cls.tolist(), fb.t_arrival.tolist(), fb.t_admit.tolist(), fb.t_first.tolist(),
                    fb.t_finish.tolist(), fb.n_in.tolist(), fb.n_out.tolist(), fb.energy_j.tolist()))
    a = ServingMetrics(["a", "b"], [1.0, 1.0], [0.1, 0.1], sample_size=500, seed=4)
    b = ServingMetrics(["a", "b"], [1.0, 1.0], [0.1, 0.1], sample_size=500, seed=4)
    for i in range(0, len(rows), 37):  # many small ticks, buffered
        a.add_rows(rows[i:i + 37])
    b.add(fb)
    ra, rb = a.to_report(10.0), b.to_report(10.0)
    assert ra["requests"] == rb["requests"] and ra["slo_attainment"] == rb["slo_attainment"]
    for k in ("ttft", "tpot", "e2e"):
        for q in ("p50", "p90", "p99"):
            assert ra["latency_s"][k][q] == pytest.approx(rb["latency_s"][k][q], rel=1e-12)
    assert len(a._buf) == 0


def test_run_wide_figures_weight_each_class_by_the_requests_it_stands_for():
    """Hybrid fidelity with several model pools samples a different share of each pool: the run-wide percentiles and
    attainment weight each class's requests by 1 / its sampled share (``class_weight``), so they are those of the true
    mix — here class 1 sampled at half the rate of class 0 counts twice (audit L #6: mixed-fleet's run-wide TTFT p99
    read 283 s against 2.88 s, the reasoning pool over-sampled). Per-class figures stay as sampled."""
    fb = _batch(40_000, 7)
    m = ServingMetrics(["a", "b"], [0.5, 0.5], [None, None], sample_size=SAMPLE_SIZE, seed=1)
    m.add(fb)
    m.class_weight = np.array([1.0, 2.0])
    rep = m.to_report(100.0)
    w = np.where(fb.cls == 1, 2.0, 1.0)
    ttft = fb.ttft_s
    order = np.argsort(ttft)
    cw = np.cumsum(w[order]) / w.sum()
    for q, key in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99")):
        exact = ttft[order][np.searchsorted(cw, q)]
        assert rep["latency_s"]["ttft"][key] == pytest.approx(exact, rel=0.012)
    assert rep["latency_s"]["ttft"]["mean"] == pytest.approx(float(np.sum(w * ttft) / w.sum()), rel=1e-9)
    met = ttft <= 0.5
    assert rep["slo_attainment"] == pytest.approx(float(np.sum(w * met) / w.sum()), rel=1e-9)
    # unweighted per class, and unweighted run-wide without class_weight
    assert rep["per_class"]["b"]["slo_attainment"] == pytest.approx(float(np.mean(met[fb.cls == 1])), rel=1e-9)
    m.class_weight = None
    assert m.to_report(100.0)["slo_attainment"] == pytest.approx(float(np.mean(met)), rel=1e-9)
