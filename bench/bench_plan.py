"""Benchmark: ``dcsim plan`` on the README's plan examples, the planner's reuse of runs against making every run
afresh (``plan_for_targets(..., reuse=False)``, the planner before 2026-12-05), in one process.

    python bench/bench_plan.py                 # every example
    python bench/bench_plan.py --only targets  # the service-target example alone (notebook 03's plan cell)
    python bench/bench_plan.py --profile       # and cProfile's top functions of the reused run

Examples (README, "dcsim plan"; docs/sweeps.md and docs/slo.md): on scenarios/reference.yaml ``max-gpus
--confirm``, ``max-demand``, ``interconnect-for --gpus 320 --weather-percentile 90`` (the closed form: reuse does not
apply, timed for scale) and ``max-demand --target 'ttft.p99<=2 s' --target 'slo_attainment>=0.99' --window '5 min'``
(3 seeds). Prints each example's wall and CPU seconds with and without reuse, whether the answers are identical
(the whole answer, as ``--json`` prints it) and the ratio without / with reuse. The machine is shared, so the CPU
ratio is the figure to quote; the numba kernel is compiled before timing (a first run after a code change compiles it
once, 25-75 s, README).
"""

from __future__ import annotations

import argparse
import json
import os
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
REF = os.path.join(ROOT, "scenarios", "reference.yaml")
TARGETS = ["ttft.p99<=2 s", "slo_attainment>=0.99"]


def examples() -> dict:
    from dcsim.plan import plan, plan_for_targets

    return {
        "max-gpus --confirm": lambda reuse: plan(REF, "max-gpus", confirm=True),
        "max-demand": lambda reuse: plan(REF, "max-demand"),
        "interconnect-for --gpus 320 --weather-percentile 90":
            lambda reuse: plan(REF, "interconnect-for", gpus=320, weather_percentile=90),
        "targets": lambda reuse: plan_for_targets(REF, "max-demand", TARGETS, seeds=3, window=300, reuse=reuse),
    }


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def canonical(r) -> str:
    return json.dumps(r, sort_keys=True, default=str)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="run the examples whose name contains this")
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args()
    from dcsim.engine.run import run

    # compile (or load) the request kernel outside the timings
    run(REF, duration="2 min", fidelity="request", overrides={"racks.0.count": 1})
    ex = {k: f for k, f in examples().items() if not a.only or a.only in k}
    for name, fn in ex.items():
        old, w0, c0 = timed(lambda: fn(False))
        if a.profile:
            import cProfile
            import pstats

            pr = cProfile.Profile()
            pr.enable()
        new, w1, c1 = timed(lambda: fn(True))
        if a.profile:
            pr.disable()
            pstats.Stats(pr).sort_stats("cumulative").print_stats(25)
        same = canonical(old) == canonical(new)
        print(f"{name}: afresh {w0:.1f} s wall / {c0:.1f} s CPU; reusing runs {w1:.1f} s wall / {c1:.1f} s CPU; "
              f"answers identical: {same}; speed-up (CPU) {c0 / max(c1, 1e-9):.2f}x, (wall) {w0 / max(w1, 1e-9):.2f}x",
              flush=True)


if __name__ == "__main__":
    main()
