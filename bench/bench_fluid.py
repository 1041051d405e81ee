"""Benchmark: a 10,000-GPU facility day at fluid fidelity (one core) and at hybrid fidelity.

The facility is ``scenarios/reference.yaml`` scaled from 10 to 313 racks (313 x 4 DGX x 8 H100
= 10,016 GPUs); the interconnect, the cooling-plant capacity and the mean arrival rate scale by
the same factor (31.3), so the day still crosses the same binding constraints. The controller
ticks every second (86,400 ticks).

Prints, each measured in this run:

* fluid: CPU and wall time (build + run, pinned to one core), simulated-time / CPU-time ratio
  (target: facility-day <= 10 s, judged on CPU time: the box is shared, :mod:`benchtiming`);
* hybrid (``fidelity: hybrid``, ``hybrid_sample: 8``, the sampled replicas on the compiled serving
  kernel, ``serving.backend: kernel``): CPU and wall time (target <= 60 s on this 2-core machine, issue 15,
  judged on CPU time),
  and its facility energy (target within 0.1 % of fluid) and binding-constraint shares (within
  1 pp) against the fluid run.

    python bench/bench_fluid.py                      # fluid + full-day hybrid
    python bench/bench_fluid.py --hybrid-duration 1h # shorter hybrid, extrapolated (labelled)
    python bench/bench_fluid.py --backend python   # hybrid on the Python reference loop
    python bench/bench_fluid.py --no-hybrid
    python bench/bench_fluid.py --profile            # cProfile of the fluid run (top 20 cumulative)
"""

from __future__ import annotations

import benchtiming  # noqa: F401,I001  first: holds BLAS to one thread before numpy loads

import argparse
import cProfile
import io
import os
import pstats

import dcsim
from benchtiming import timed, verdict
from dcsim.units import parse_quantity

REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenarios", "reference.yaml")
RACKS = 313


def scaled_overrides(racks: int = RACKS, tick: str = "1 s") -> dict:
    """Dotted overrides that scale the reference scenario to ``racks`` racks."""
    sc = dcsim.load_scenario(REFERENCE)
    f = racks / sc.racks[0].count
    return {
        "racks.0.count": racks,
        "facility.interconnect": sc.facility.interconnect * f,
        "facility.cooling.capacity": sc.facility.cooling.capacity * f,
        "workload.arrivals.mean_rate": sc.workload.arrivals.mean_rate * f,
        "controller.tick": tick,
    }


def timed_run(overrides: dict):
    """(Result, :class:`benchtiming.Timing`: CPU and wall seconds) of one run including scenario build."""
    with timed() as t:
        r = dcsim.run(REFERENCE, overrides=overrides)
    return r, t


def summary(r) -> dict:
    """Facility energy (J), binding shares, tokens served."""
    rep = r.report
    return {"facility_j": rep["energy_j"]["facility"], "it_j": rep["energy_j"]["it"],
            "share": rep["binding"]["share"], "tokens": rep["tokens"], "gpus": rep["gpus"],
            "j_per_tok": rep["joules_per_output_token"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-hybrid", action="store_true")
    ap.add_argument("--hybrid-duration", default="24 h", help="simulated time of the hybrid run")
    ap.add_argument("--profile", action="store_true", help="cProfile the fluid run")
    ap.add_argument("--backend", default="kernel", choices=("kernel", "python"),
                    help="serving backend of the hybrid's sampled replicas")
    args = ap.parse_args()
    ov = scaled_overrides()
    all_cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(all_cpus)})  # fluid: one core
    r, wall = timed_run(ov)
    s = summary(r)
    day = r.report["duration_s"]
    print(f"facility: {s['gpus']:,} GPUs, {RACKS} racks, tick 1 s, {day / 3600:g} h, policy {r.report['policy']}")
    print(f"fluid : CPU {wall.cpu_s:6.2f} s (wall {wall.wall_s:.2f} s) on one core  sim/CPU {day / wall.cpu_s:,.0f}x  "
          f"({verdict(wall.cpu_s, 10.0)})")
    print(f"        facility energy {s['facility_j'] / 3.6e9:,.1f} MWh  J/tok (facility) {s['j_per_tok']['facility']:.3f}  "
          f"binding shares {', '.join(f'{k} {v:.3f}' for k, v in s['share'].items())}")
    if args.profile:
        pr = cProfile.Profile()
        pr.enable()
        dcsim.run(REFERENCE, overrides=ov)
        pr.disable()
        buf = io.StringIO()
        pstats.Stats(pr, stream=buf).sort_stats("cumulative").print_stats(20)
        print(buf.getvalue())
    os.sched_setaffinity(0, all_cpus)
    if args.no_hybrid:
        return
    hdur = parse_quantity(args.hybrid_duration, "time")
    hov = {**ov, "fidelity": "hybrid", "hybrid_sample": 8, "duration": hdur, "serving.backend": args.backend}
    rh, hwall = timed_run(hov)
    h = summary(rh)
    if hdur < day:
        fl, _ = timed_run({**ov, "duration": hdur})
        ref = summary(fl)
        label = f"EXTRAPOLATED from {hdur / 3600:g} h x {day / hdur:g}"
        est = hwall.cpu_s * day / hdur
    else:
        ref, label, est = s, "measured", hwall.cpu_s
    print(f"hybrid: CPU {hwall.cpu_s:6.1f} s (wall {hwall.wall_s:.1f} s) for {hdur / 3600:g} h (sample 8 replicas of "
          f"{r.report['replicas']}); facility-day CPU {est:,.0f} s [{label}]  sim/CPU {hdur / hwall.cpu_s:,.0f}x  "
          f"({verdict(est, 60.0)})")
    de = h["facility_j"] / ref["facility_j"] - 1.0
    print(f"        facility energy vs fluid {de * 100:+.3f} %  (target within 0.1 %)")
    worst = max(abs(h["share"][k] - ref["share"][k]) for k in ref["share"])
    print("        binding shares hybrid/fluid: " + ", ".join(
        f"{k} {h['share'][k]:.3f}/{ref['share'][k]:.3f}" for k in ref["share"]) +
        f"  (max diff {worst * 100:.2f} pp; target 1 pp)")
    print(f"        output tokens vs fluid {h['tokens']['output'] / ref['tokens']['output'] - 1:+.3%}")


if __name__ == "__main__":
    main()
