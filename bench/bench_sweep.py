"""Benchmark: sweep throughput (points per minute) for a 100-point fluid sweep, 1 and 2 workers.

The sweep is the reference scenario (a full 24 h day at 1-minute ticks, fluid fidelity) over a
10 x 10 grid of interconnect (300-700 kW) x rack count (6-15). The cache is disabled, so every
point runs. Worker start-up (loky process pool, or a Dask LocalCluster with ``--dask``) is part
of the measured time, as a user would see it.

    python bench/bench_sweep.py            # 1 and 2 local workers
    python bench/bench_sweep.py --dask     # also a dask.distributed LocalCluster with 2 workers
    python bench/bench_sweep.py --points 36

Prints points/minute for each (of wall time: the scaling is what a user waits for), the CPU time of this
process and its workers beside it (:mod:`benchtiming`; on a shared box the wall-time scaling reads the other
jobs too), and the 2-worker / 1-worker scaling ratio (ideal 2.0 on 2 cores).
"""

from __future__ import annotations

import benchtiming  # noqa: F401,I001  first: holds BLAS to one thread before numpy loads

import argparse
import math
import os
import time

from benchtiming import timed
from dcsim.sweep import run_sweep

REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenarios", "reference.yaml")


def spec(points: int, slo: bool = True) -> dict:
    n = max(1, int(round(math.sqrt(points))))
    m = max(1, int(math.ceil(points / n)))
    return {
        **({} if slo else {"fixed": {"serving.slo_estimate": False}}),
        "name": "bench",
        "base": os.path.abspath(REFERENCE),
        "mode": "grid",
        "parameters": {
            "facility.interconnect": {"range": ["300 kW", "700 kW"], "steps": n} if n > 1 else {"values": ["300 kW"]},
            "racks.0.count": {"range": [6, 6 + m - 1], "steps": m} if m > 1 else {"values": [10]},
        },
    }


def measure(points: int, workers: int = 1, client=None, slo: bool = True) -> tuple[float, int, float]:
    """(wall s, points, CPU s of this process and its local workers) of one sweep."""
    with timed(children=True) as t:
        rows = run_sweep(spec(points, slo), workers=workers, client=client, cache_dir=None, progress=False)
    return t.wall_s, len(rows), t.cpu_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--dask", action="store_true", help="also run on a 2-worker dask LocalCluster")
    args = ap.parse_args()
    print(f"sweep benchmark: {args.points}-point fluid grid over the reference day (24 h, 1-min ticks), "
          f"cache off, {os.cpu_count()} CPUs")
    for slo in (True, False):
        results = {}
        what = "with the fluid SLO estimate" if slo else "serving.slo_estimate: false"
        for w in (1, 2):
            el, n, cpu = measure(args.points, workers=w, slo=slo)
            results[w] = n / el * 60.0
            print(f"  {what:28s} {w} worker{'s' if w > 1 else ' '}: {n} points in {el:6.1f} s = "
                  f"{results[w]:6.1f} points/min (CPU {cpu:.1f} s, {cpu / n:.2f} s a point)")
        print(f"  {what:28s} scaling 2 workers / 1 worker: {results[2] / results[1]:.2f}x")
    if args.dask:
        from dask.distributed import Client, LocalCluster

        t0 = time.perf_counter()
        with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cl, \
                Client(cl) as client:
            t_start = time.perf_counter() - t0
            el, n, _ = measure(args.points, client=client)  # wall only: the cluster runs its own processes
        print(f"  dask LocalCluster (2 workers): {n} points in {el:6.1f} s = {n / el * 60:6.1f} points/min "
              f"(+{t_start:.1f} s cluster start-up)")


if __name__ == "__main__":
    main()
