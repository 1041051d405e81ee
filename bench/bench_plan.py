"""Benchmark: ``dcsim plan`` on the README's plan examples, and the planner under targets with and without the
cache of confirming runs it keeps within a plan (dcsim.plan.confirm_window's cache), in one process.

    python bench/bench_plan.py                 # every example
    python bench/bench_plan.py --only targets  # the service-target example alone (notebook 03's plan cell)
    python bench/bench_plan.py --only targets --repeat 2   # two pairs, in alternating order
    python bench/bench_plan.py --profile       # and cProfile's top functions of the cached run

Examples (README, "dcsim plan"; docs/sweeps.md and docs/slo.md): on scenarios/reference.yaml ``max-gpus
--confirm``, ``max-demand`` and ``interconnect-for --gpus 320 --weather-percentile 90`` (the closed form, with no
confirmations to cache: timed once, for scale), and ``max-demand --target 'ttft.p99<=2 s' --target
'slo_attainment>=0.99' --window '5 min'`` (3 seeds), timed with the plan's cache and with an empty cache for each
confirmation (every confirming run made afresh), in alternating order (``--repeat`` pairs, the first pair with the
cache first), printing whether the answers are identical (the whole answer, as ``--json`` prints it) and the ratio.
Before timing, a request-fidelity run and a fluid run with the SLO estimate compile (or load) the numba kernels
both sides use (a first run after a code change compiles them, 25-75 s, README). The machine is shared, so the CPU
time is the figure to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
REF = os.path.join(ROOT, "scenarios", "reference.yaml")
TARGETS = ["ttft.p99<=2 s", "slo_attainment>=0.99"]


def closed_form() -> dict:
    from dcsim.plan import plan

    return {
        "max-gpus --confirm": lambda: plan(REF, "max-gpus", confirm=True),
        "max-demand": lambda: plan(REF, "max-demand"),
        "interconnect-for --gpus 320 --weather-percentile 90":
            lambda: plan(REF, "interconnect-for", gpus=320, weather_percentile=90),
    }


def targets(cached: bool) -> dict:
    """The plan under targets; ``cached=False``: each confirmation starts with an empty cache
    (:func:`dcsim.plan._without_the_plans_cache`, as tests/test_plan_speed.py does)."""
    import contextlib

    import dcsim.plan as plan_mod

    with contextlib.nullcontext() if cached else plan_mod._without_the_plans_cache():
        return plan_mod.plan_for_targets(REF, "max-demand", TARGETS, seeds=3, window=300)


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def canonical(r) -> str:
    return json.dumps(r, sort_keys=True, default=str)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="run the examples whose name contains this")
    ap.add_argument("--repeat", type=int, default=1, help="pairs of the targets example (default 1)")
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args()
    from dcsim.engine.run import run

    # compile (or load) the request kernel and the fluid SLO estimate's kernels outside the timings
    run(REF, duration="2 min", fidelity="request", overrides={"racks.0.count": 1})
    run(REF, duration="10 min", fidelity="fluid", overrides={"racks.0.count": 1})
    for name, fn in closed_form().items():
        if a.only and a.only not in name:
            continue
        _, w, c = timed(fn)
        print(f"{name}: {w:.1f} s wall / {c:.1f} s CPU", flush=True)
    if a.only and a.only not in "targets":
        return
    cpu = {True: [], False: []}
    answers = {}
    for k in range(max(1, a.repeat)):
        for cached in ((True, False) if k % 2 == 0 else (False, True)):
            if a.profile and cached:
                import cProfile
                import pstats

                pr = cProfile.Profile()
                pr.enable()
            r, w, c = timed(lambda: targets(cached))
            if a.profile and cached:
                pr.disable()
                pstats.Stats(pr).sort_stats("cumulative").print_stats(25)
            cpu[cached].append(c)
            answers.setdefault(cached, canonical(r))
            print(f"targets ({'with the plan cache' if cached else 'every confirming run afresh'}): {w:.1f} s wall / "
                  f"{c:.1f} s CPU", flush=True)
    same = answers[True] == answers[False]
    m1, m0 = min(cpu[True]), min(cpu[False])
    print(f"targets: answers identical: {same}; least CPU {m1:.1f} s with the cache, {m0:.1f} s without: "
          f"{m0 / max(m1, 1e-9):.2f}x", flush=True)


if __name__ == "__main__":
    main()
