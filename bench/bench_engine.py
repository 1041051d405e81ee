"""Benchmark: engine overhead as a ratio to a bare simpy loop of as many events.

Two measurements in one run (one core):

1. fluid fidelity — controller ticks per CPU second of ``dcsim.run`` (86,400 ticks: a day at a
   1 s tick) vs a bare simpy process chaining the same number of ``env.timeout`` events;
2. request fidelity — simulated batch iterations per CPU second of ``dcsim.run`` (every
   replica's continuous-batching loop, router, admission and metrics included) vs the same bare
   simpy loop with one event per batch iteration. Batch iterations are counted by the replicas
   (``RequestEngine.pool.totals()``: ``iterations``; ``step_calls`` counts node-model calls, fewer
   with jump-ahead).

Rates are per CPU second (``time.process_time``, dcsim's and simpy's alike: the box is shared,
:mod:`benchtiming`); the wall time is printed beside. A ratio > 1 means dcsim runs more iterations per second than simpy can schedule bare events
(the batch loop advances inside one simpy tick, without one event per iteration).

    python bench/bench_engine.py [--sim-s 600] [--replicas 32] [--load 0.7]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchtiming  # noqa: E402,F401,I001  before numpy loads: BLAS held to one thread

import argparse  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import dcsim
from dcsim.engine.build import build_models
from dcsim.engine.requests import RequestEngine
from dcsim.engine.run import run_models

from benchtiming import timed  # noqa: E402
from simpy_floor import simpy_events_per_s  # noqa: E402  (bench/simpy_floor.py)


def scenario(replicas: int, rate: float, sim_s: float, fidelity: str, tick: str = "1 s") -> dict:
    """Llama-3.1-8B on 1×H100 per replica (8 replicas per DGX node), constant weather, Poisson chat."""
    nodes = max(1, replicas // 8)
    return {
        "name": "bench-engine", "seed": 7, "duration": sim_s, "fidelity": fidelity,
        "facility": {"interconnect": "5 MW", "cooling": {"kind": "chiller_plant", "capacity": "5 MW"},
                     "weather": {"kind": "constant", "t_db": 20, "rh": 0.5}},
        "racks": [{"name": "r", "count": 1, "nodes_per_rack": nodes,
                   "node": {"gpu": "H100-SXM", "model": "llama-3.1-8b", "tensor_parallel": 1, "max_batch": 256},
                   "power": {"power_limit": "1 MW"}, "cooling": {"kind": "liquid", "limit": "1 MW"}}],
        "workload": {"arrivals": {"kind": "poisson", "rate": rate},
                     "classes": [{"name": "chat", "preset": "chat", "share": 1.0}]},
        "controller": {"tick": tick},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim-s", type=float, default=600.0, help="simulated seconds, request fidelity")
    ap.add_argument("--replicas", type=int, default=32)
    ap.add_argument("--load", type=float, default=0.7, help="fraction of the compute ceiling")
    args = ap.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    # 1. fluid: controller ticks
    sc = scenario(args.replicas, 10.0, 86400.0, "fluid")
    with timed() as t:
        r = dcsim.run(sc)
    cpu = t.cpu_s  # rates per CPU second, dcsim's and simpy's alike: the box is shared (benchtiming)
    n_ticks = r.timeseries["t_s"].size
    ev = simpy_events_per_s(n_ticks, clock=time.process_time)
    print(f"fluid  : {n_ticks:,} ticks in {t} = {n_ticks / cpu:,.0f} ticks/CPU-s; "
          f"bare simpy {ev:,.0f} events/CPU-s; ratio dcsim/simpy {n_ticks / cpu / ev:.3f}")

    # 2. request fidelity: batch iterations
    probe = build_models(dcsim.load_scenario(scenario(args.replicas, 1.0, 60.0, "request")))
    node = probe.groups[0].node
    wl = probe.workload
    rate = args.load * float(node.max_throughput(wl.mean_input, wl.mean_output)) / wl.mean_output * probe.replicas
    m = build_models(dcsim.load_scenario(scenario(args.replicas, rate, args.sim_s, "request")))
    eng = RequestEngine(m)
    with timed() as t:
        res = run_models(m, request_engine=eng)
    cpu = t.cpu_s
    tot = eng.pool.totals()  # summed over replicas, either serving backend
    iters, calls = tot["iterations"], tot["step_calls"]
    done = res.report.get("requests", {}).get("completed") if isinstance(res.report.get("requests"), dict) else None
    done = done if done is not None else tot["completed"]
    ev = simpy_events_per_s(max(iters, 100_000), clock=time.process_time)
    print(f"request: {m.replicas} replicas, {rate:,.0f} req/s offered ({args.load:g} of compute), "
          f"{args.sim_s:g} s simulated, {t}")
    print(f"         {iters:,} batch iterations ({calls:,} node-step calls), {done:,} requests completed")
    print(f"         {iters / cpu:,.0f} iterations/CPU-s vs bare simpy {ev:,.0f} events/CPU-s: ratio "
          f"{iters / cpu / ev:.2f}; {done / cpu:,.0f} requests/CPU-s; sim/CPU {args.sim_s / cpu:.1f}x")


if __name__ == "__main__":
    main()
