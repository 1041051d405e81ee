"""Benchmark: simulated requests per second of one core at request fidelity.

Serves chat-like requests (the workload's ``chat`` preset, Poisson arrivals) on replicas of the
dcsim node model (Llama-3.1-8B on one H100 by default) at a fraction of their compute ceiling,
with the router, the replica batching loop and the streaming metrics, ticking at 1 s as the
engine does. Arrival generation (the workload module) is timed separately and not counted.

Times are CPU seconds of this process (``time.process_time``), so other load on the machine
inflates them less than wall time. Prints: simulated requests per CPU-second, batch iterations and node-step calls per request, scaling with
the number of replicas and with max batch, and the ratio to a bare simpy loop (an
``env.timeout`` chain) with as many events as the batch loop ran iterations.

    python bench/bench_request_fidelity.py            # default grid
    python bench/bench_request_fidelity.py --quick    # smaller
"""

from __future__ import annotations

import argparse
import time

import sys
from pathlib import Path

import numpy as np

from dcsim.node import build_node
from dcsim.routing import get_router
from dcsim.scenario.node import NodeSpec
from dcsim.scenario.workload import WorkloadSpec
from dcsim.serving import Replica
from dcsim.serving.metrics import ServingMetrics
from dcsim.workload import build_workload

sys.path.insert(0, str(Path(__file__).resolve().parent))
from simpy_floor import simpy_events_per_s  # noqa: E402  (bench/simpy_floor.py)


def run(n_replicas: int, max_batch: int, load: float, sim_s: float, model: str = "llama-3.1-8b",
        chunked: bool = True, router: str = "least_outstanding", seed: int = 1) -> dict:
    node = build_node(NodeSpec(model=model, max_batch=max_batch))
    probe = build_workload(WorkloadSpec(arrivals={"kind": "poisson", "rate": 1.0}), np.random.SeedSequence(seed), None)
    mi, mo = probe.mean_input, probe.mean_output
    cap_req_s = float(node.max_throughput(mi, mo)) / mo  # requests/s at the compute ceiling
    rate = load * cap_req_s * n_replicas
    wl = build_workload(WorkloadSpec(arrivals={"kind": "poisson", "rate": rate}), np.random.SeedSequence(seed), None)
    t0 = time.process_time()
    ticks = [wl.sample(float(k), float(k + 1)) for k in range(int(sim_s))]
    t_gen = time.process_time() - t0
    classes = wl.classes
    metrics = ServingMetrics([c.name for c in classes], [c.slo_ttft_s for c in classes],
                             [c.slo_tpot_s for c in classes], seed=seed)
    reps = [Replica(node, chunked_prefill=chunked) for _ in range(n_replicas)]
    rt = get_router(router, n_replicas)
    out = np.zeros(n_replicas)
    iters = calls = 0
    t0 = time.process_time()
    for k, b in enumerate(ticks):
        te = float(k + 1)
        metrics.record_arrivals(b.cls)
        for i, r in enumerate(reps):
            out[i] = r.outstanding_tokens
        a = rt.assign(b.n_in, b.n_out, out) if n_replicas > 1 else np.zeros(len(b.t), np.int64)
        # group the tick's requests by replica (stable: each group stays sorted by time)
        order = np.argsort(a, kind="stable")
        bounds = np.searchsorted(a[order], np.arange(n_replicas + 1)).tolist()
        t_, c_, i_, o_ = b.t[order], b.cls[order], b.n_in[order], b.n_out[order]
        rows: list = []
        for i, r in enumerate(reps):
            lo, hi = bounds[i], bounds[i + 1]
            if hi > lo:
                shed = r.enqueue_many(t_[lo:hi], c_[lo:hi], i_[lo:hi], o_[lo:hi])
                if shed.any():
                    metrics.record_shed(c_[lo:hi][shed])
            res = r.advance(te, 1.0)
            rows.extend(res.rows)
            iters += res.iterations
        metrics.add_rows(rows)
    wall = time.process_time() - t0
    calls = sum(r.step_calls for r in reps)
    rep = metrics.to_report(sim_s)
    done = rep["requests"]["completed"]
    return dict(n_replicas=n_replicas, max_batch=max_batch, load=load, requests=done, wall_s=wall,
                req_per_s=done / wall, iters=iters, iters_per_req=iters / max(done, 1),
                calls_per_req=calls / max(done, 1), gen_s=t_gen, cap_req_s=cap_req_s,
                ttft_p50=rep["latency_s"]["ttft"]["p50"], tpot_p50=rep["latency_s"]["tpot"]["p50"],
                slo=rep["slo_attainment"], preempt=sum(r.preemptions for r in reps))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sim-s", type=float, default=None, help="simulated seconds per run")
    args = ap.parse_args()
    sim_s = args.sim_s or (300.0 if args.quick else 1200.0)
    ev_s = simpy_events_per_s(300_000 if args.quick else 1_000_000, time.process_time)
    print(f"bare simpy env.timeout chain: {ev_s:,.0f} events per CPU-second")
    hdr = (f"{'replicas':>8} {'max_b':>5} {'load':>5} {'requests':>9} {'cpu s':>7} {'req/s':>9} "
           f"{'iter/req':>8} {'step/req':>8} {'simpy x':>7} {'simpy ev/s':>10} {'TTFT p50':>9} {'TPOT p50':>9} {'SLO':>5}")
    print(hdr)
    grid = [(1, 256, 0.7), (4, 256, 0.7), (16, 256, 0.7), (4, 16, 0.7), (4, 64, 0.7), (4, 128, 0.7),
            (4, 256, 0.1), (4, 256, 0.3), (4, 256, 0.9)]
    if args.quick:
        grid = grid[:2] + grid[3:4]
    for n, mb, load in grid:
        r = run(n, mb, load, sim_s)
        ev_s = simpy_events_per_s(300_000, time.process_time)  # re-measured beside each run (machine load varies)
        simpy_s = r["iters"] / ev_s  # a bare simpy loop with one event per iteration
        print(f"{n:>8} {mb:>5} {load:>5.1f} {r['requests']:>9} {r['wall_s']:>7.2f} {r['req_per_s']:>9,.0f} "
              f"{r['iters_per_req']:>8.2f} {r['calls_per_req']:>8.2f} {simpy_s / r['wall_s']:>7.2f} {ev_s:>10,.0f} "
              f"{r['ttft_p50']:>9.3f} {r['tpot_p50']:>9.4f} {r['slo']:>5.2f}")


if __name__ == "__main__":
    main()
