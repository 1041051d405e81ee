"""Routers: balance, availability, power headroom, registry; end to end with replicas."""

from __future__ import annotations

import numpy as np
import pytest

from dcsim.routing import ROUTERS, LeastOutstanding, PowerAware, RoundRobin, get_router
from dcsim.serving import Replica
from dcsim.scenario.serving import ServingSpec
from dcsim.serving.metrics import ServingMetrics

SAMPLE_SIZE = ServingSpec.model_fields["latency_sample_size"].default  # what a run passes by default


def _reqs(m, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(1, 4000, m), rng.integers(1, 1000, m)


def test_registry_by_name():
    assert set(ROUTERS) == {"round_robin", "least_outstanding", "power_aware"}
    assert isinstance(get_router("round_robin", 3), RoundRobin)
    assert isinstance(get_router("least_outstanding", 3), LeastOutstanding)
    assert isinstance(get_router("power_aware", 3, min_headroom_w=50.0), PowerAware)
    with pytest.raises(ValueError, match="unknown router 'random'"):
        get_router("random", 3)


def test_round_robin_even_and_continues_across_ticks():
    r = RoundRobin(5)
    a = np.concatenate([r.assign(*_reqs(m, m), np.zeros(5)) for m in (7, 3, 11, 9)])
    counts = np.bincount(a, minlength=5)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 30
    assert a[:6].tolist() == [0, 1, 2, 3, 4, 0]
    avail = np.array([True, False, True, False, True])
    b = r.assign(*_reqs(9), np.zeros(5), available=avail)
    assert set(b.tolist()) <= {0, 2, 4} and np.bincount(b, minlength=5)[[0, 2, 4]].tolist() == [3, 3, 3]
    with pytest.raises(ValueError):
        r.assign(*_reqs(2), np.zeros(5), available=np.zeros(5, bool))


def test_least_outstanding_balances_tokens():
    n_in, n_out = _reqs(2000, 3)
    w = n_in + n_out
    out0 = np.array([50_000.0, 0.0, 10_000.0, 0.0])
    a = LeastOutstanding(4).assign(n_in, n_out, out0)
    load = out0 + np.bincount(a, weights=w, minlength=4)
    assert load.max() - load.min() <= w.max()  # greedy JSQ: within one request of level
    assert a[0] in (1, 3)  # the first request goes to an empty replica
    # better balanced than round robin on heterogeneous requests
    rr = RoundRobin(4).assign(n_in, n_out, out0)
    load_rr = out0 + np.bincount(rr, weights=w, minlength=4)
    assert np.ptp(load) < np.ptp(load_rr)


def test_power_aware_prefers_headroom():
    n_in, n_out = _reqs(400, 5)
    outstanding = np.zeros(4)
    headroom = np.array([-200.0, 300.0, 5.0, 800.0])
    a = PowerAware(4, min_headroom_w=10.0).assign(n_in, n_out, outstanding, headroom_w=headroom)
    assert set(a.tolist()) == {1, 3}  # only replicas with >= 10 W headroom
    c = np.bincount(a, minlength=4)
    assert abs(c[1] - c[3]) < 0.2 * len(a)  # balanced among them
    # nobody has headroom: fall back to least outstanding over all
    b = PowerAware(4).assign(n_in, n_out, outstanding, headroom_w=np.full(4, -1.0))
    assert set(b.tolist()) == {0, 1, 2, 3}
    # without a headroom array it is least-outstanding
    assert np.array_equal(PowerAware(4).assign(n_in, n_out, outstanding),
                          LeastOutstanding(4).assign(n_in, n_out, outstanding))


class _Node:
    """Test-local roofline stand-in (see tests/test_replica.py)."""

    max_batch, kv_capacity_tokens, max_batched_tokens, idle_gpu_power_w = 64, 100_000, 2048, 75.0

    def step_fn(self, clock=1.0):
        def step(p, n, ctx):
            tc = 3.2e-5 * (p + n)
            tm = 6e-3 + 4.9e-8 * ctx
            dt = max(tc, tm) + 2e-3
            return dt, 300.0 + 400.0 * tc / dt
        return step


def _serve(name, n_rep=4, T=300.0):
    reps = [Replica(_Node()) for _ in range(n_rep)]
    router = get_router(name, n_rep)
    metrics = ServingMetrics(["chat"], [2.0], [0.1], sample_size=SAMPLE_SIZE, seed=0)
    rng = np.random.default_rng(8)
    served = np.zeros(n_rep)
    imbalance = []
    for te in np.arange(1.0, T + 1.0):
        m = rng.poisson(24.0)
        t = np.sort(rng.uniform(te - 1.0, te, m))
        n_in = np.clip(rng.lognormal(np.log(500), 1.0, m).astype(int), 1, 8000)
        n_out = np.clip(rng.lognormal(np.log(150), 1.0, m).astype(int), 1, 2000)
        out = np.array([r.outstanding_tokens for r in reps], float)
        imbalance.append(np.ptp(out) / max(out.mean(), 1.0))
        a = router.assign(n_in, n_out, out, headroom_w=np.full(n_rep, 100.0))
        metrics.record_arrivals(np.zeros(m, int))
        for i, r in enumerate(reps):
            sel = a == i
            r.enqueue_many(t[sel], np.zeros(sel.sum(), int), n_in[sel], n_out[sel])
            served[i] += (n_in[sel] + n_out[sel]).sum()
        rows = []
        for r in reps:
            rows.extend(r.advance(float(te)).rows)
        metrics.add_rows(rows)
    return reps, served, float(np.mean(imbalance)), metrics.to_report(T)


def test_routers_balance_load_end_to_end():
    res = {name: _serve(name) for name in ROUTERS}
    for name, (reps, served, imb, rep) in res.items():
        assert np.ptp(served) / served.mean() < 0.12  # every replica gets its share of work
        assert rep["requests"]["arrived"] == rep["requests"]["completed"] + rep["requests"]["in_flight"]
        assert rep["requests"]["in_flight"] == sum(r.n_running + r.n_pending for r in reps)
        assert rep["slo_attainment"] > 0.5
    # JSQ on outstanding tokens keeps the replicas' backlogs closer than blind round robin
    assert res["least_outstanding"][2] < 0.7 * res["round_robin"][2]
    assert res["power_aware"][2] == res["least_outstanding"][2]  # all have headroom: the same routes, bit for bit
    assert (res["least_outstanding"][3]["latency_s"]["ttft"]["p99"]
            <= res["round_robin"][3]["latency_s"]["ttft"]["p99"])


def _served(tick_s, router, route_interval_s=0.125, backend="kernel", horizon_s=40.0, seed=3, rate=60.0):
    """Every finished request (arrival, replica-independent fields) of a pool fed the same Poisson
    requests in caller ticks of ``tick_s``."""
    from dcsim.node import build_node
    from dcsim.scenario.node import NodeSpec
    from dcsim.serving.pool import make_pool

    node = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-8b", tensor_parallel=1))
    pool = make_pool(backend, [node], [6], router=router, route_interval_s=route_interval_s)
    rng = np.random.default_rng(seed)
    n = rng.poisson(rate * horizon_s)
    t = np.sort(rng.uniform(0.0, horizon_s, n))
    n_in, n_out = rng.integers(50, 3000, n), rng.integers(20, 1200, n)
    cls = np.zeros(n, np.int64)
    edges = np.searchsorted(t, np.arange(0.0, horizon_s + tick_s, tick_s))
    rows = []
    for j in range(len(edges) - 1):
        a, b = edges[j], edges[j + 1]
        fins = pool.serve((j + 1) * tick_s, 1.0, t[a:b], t[a:b], cls[a:b], n_in[a:b], n_out[a:b])[1]
        for f in fins:
            rows += list(zip(f.t_arrival.tolist(), f.t_finish.tolist(), f.n_out.tolist()))
    return sorted(rows)


@pytest.mark.parametrize("backend", ["kernel", "python"])
def test_state_reading_router_does_not_depend_on_the_callers_tick(backend):
    """least_outstanding routes each 0.125 s window on the state at its start, whatever the controller
    tick: the same requests served in 2 s and 0.25 s ticks finish at the same times. Before routing
    windows a 2 s tick sent each tick's arrivals to the replicas emptiest at its start (reference at
    20:40, 20 min: SLO attainment 0.966 at a 2 s tick, 0.9996 at 0.2 s)."""
    coarse = _served(2.0, "least_outstanding", backend=backend)
    fine = _served(0.25, "least_outstanding", backend=backend)
    assert len(coarse) > 1000
    assert coarse == fine


def test_routing_windows_leave_round_robin_unchanged_and_are_checked():
    from dcsim.serving.pool import make_pool
    from dcsim.node import build_node
    from dcsim.scenario.node import NodeSpec

    # round robin reads no state and skips the windows: its results do not depend on the caller's tick
    # either (the cycle position carries over, advancing a replica in steps is exact)
    rr2, rr025 = np.array(_served(2.0, "round_robin")), np.array(_served(0.25, "round_robin"))
    assert rr2.shape == rr025.shape and (rr2[:, 2] == rr025[:, 2]).all()
    np.testing.assert_allclose(rr2[:, :2], rr025[:, :2], rtol=1e-9)  # float rounding of the tick steps only
    node = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-8b", tensor_parallel=1))
    with pytest.raises(ValueError, match="route_interval_s"):
        make_pool("python", [node], [2], router="least_outstanding", route_interval_s=0.0)


def test_routing_windows_in_the_kernel_match_the_python_loop():
    """The compiled window loop (one call per tick) routes as the pool's Python loop (one call per
    window): the same requests finish at the same times on both backends."""
    k, p = _served(2.0, "least_outstanding", backend="kernel"), _served(2.0, "least_outstanding", backend="python")
    assert len(k) == len(p)
    assert [x[2] for x in k] == [x[2] for x in p]
    np.testing.assert_array_equal(np.array(k)[:, :2], np.array(p)[:, :2])  # bit for bit: the same float operations


def test_kernel_windows_resume_when_the_pending_rings_overflow(monkeypatch):
    """An overload (400 req/s on 6 replicas for 20 s) piles up more pending requests than the rings
    hold: the compiled window loop stops before the window that does not fit, the rings grow, and
    it resumes there; the requests still finish as in the Python loop."""
    from dcsim.serving import kernel

    grown = []
    orig = kernel.KernelGroup._grow_rings

    def spy(self, need):
        if need > self.st[5].shape[2]:
            grown.append(need)
        return orig(self, need)

    monkeypatch.setattr(kernel.KernelGroup, "_grow_rings", spy)
    k = _served(2.0, "least_outstanding", backend="kernel", horizon_s=20.0, rate=400.0)
    p = _served(2.0, "least_outstanding", backend="python", horizon_s=20.0, rate=400.0)
    assert grown  # the resumable path ran
    assert len(k) == len(p) > 0
    assert [x[2] for x in k] == [x[2] for x in p]
    np.testing.assert_array_equal(np.array(k)[:, :2], np.array(p)[:, :2])  # bit for bit: the same float operations


def test_rings_grow_to_the_routed_need_not_the_whole_burst():
    """Requests held at the door are released together at a tick's start, all in its first routing
    window. The rings must grow to what the fullest replica receives, not to the whole burst on one
    replica (which took the reference request day's 80 rings to 64,088 slots, 196 MiB: peak RSS
    481 MiB, 310 MiB after the fix). 20,000 requests at t = 0 on 40 replicas: 500 each."""
    import importlib.util

    from dcsim.node import build_node
    from dcsim.scenario.node import NodeSpec
    from dcsim.serving.pool import KernelPool

    if importlib.util.find_spec("numba") is None:  # installed but not importable: fail, not skip (audit AUC 3)
        pytest.skip("numba is not installed")
    pool = KernelPool([build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-8b", max_batch=64))], [40],
                      router="least_outstanding")
    n = 20_000
    t = np.zeros(n)
    pool.serve(1.0, 1.0, t, t, np.zeros(n, np.int64), np.full(n, 600, np.int64), np.full(n, 200, np.int64))
    g = pool.groups[0]
    assert int(g.n_pending.max()) > 256  # the burst outgrew the initial rings
    # least-outstanding spreads the burst evenly: the rings hold the per-replica share, doubled at most
    # (measured 512 slots, 436 pending on every replica after the tick; the old sizing gave 20,000)
    assert g.st[5].shape[2] <= 2 * n // 40
