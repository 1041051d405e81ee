"""Benchmark: peak resident memory (RSS) of dcsim runs, each in a fresh subprocess.

* baseline: ``import dcsim`` and building the models of the scenario (no run);
* request fidelity: ``dcsim.run`` serving N requests (Llama-3.1-8B, 1×H100 replicas at 70 % of
  their compute ceiling, Poisson chat arrivals, 1 s tick) for N = 10^5 and 10^6 (``--sizes``);
  the growth between sizes is extrapolated linearly to 10^7 requests (labelled EXTRAPOLATED);
* fluid fidelity: the 10,000-GPU facility day of ``bench_fluid.py`` (86,400 ticks at 1 s).

Peak RSS is the child's ``ru_maxrss``. If a request run would exceed ``--max-wall`` (default 300 s,
estimated from the smaller size's wall time), it is measured at the largest size that fits and the
rest is extrapolated, clearly labelled.

    python bench/bench_memory.py [--sizes 100000 1000000] [--replicas 128]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def _child(kind: str, n: int, replicas: int) -> dict:
    sys.path.insert(0, HERE)
    import benchtiming  # noqa: I001  first: holds BLAS to one thread before numpy loads
    import dcsim  # noqa: F401  loaded before the timer starts, as before
    from dcsim.engine.build import build_models  # noqa: F401

    out: dict = {"kind": kind}
    with benchtiming.timed() as t:
        _child_run(kind, n, replicas, out)
    out["wall_s"], out["cpu_s"] = t.wall_s, t.cpu_s  # CPU beside the wall time: the box is shared (benchtiming)
    out["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
    return out


def _child_run(kind: str, n: int, replicas: int, out: dict) -> None:
    import dcsim
    from dcsim.engine.build import build_models

    if kind == "fluid-day":
        from bench_fluid import REFERENCE, scaled_overrides
        r = dcsim.run(REFERENCE, overrides=scaled_overrides())
        out["ticks"] = int(r.timeseries["t_s"].size)
    else:
        from bench_engine import scenario
        probe = build_models(dcsim.load_scenario(scenario(replicas, 1.0, 60.0, "request")))
        node, wl = probe.groups[0].node, probe.workload
        rate = 0.7 * float(node.max_throughput(wl.mean_input, wl.mean_output)) / wl.mean_output * probe.replicas
        if kind == "baseline":
            out["requests"] = 0
        else:
            sim_s = max(1.0, round(n / rate))
            r = dcsim.run(scenario(replicas, rate, sim_s, "request"))
            req = r.report.get("requests") or {}
            out.update(requests_arrived=req.get("arrived"), requests_completed=req.get("completed"), sim_s=sim_s,
                       rate=rate)


def run_child(kind: str, n: int = 0, replicas: int = 128) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", kind, "--n", str(n), "--replicas", str(replicas)]
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--replicas", type=int, default=128)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--max-wall", type=float, default=300.0, help="skip a request size whose estimated wall exceeds this")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.n, args.replicas)))
        return
    base = run_child("baseline", 0, args.replicas)
    print(f"baseline (import + build models): peak RSS {base['maxrss_mib']:.0f} MiB")
    fl = run_child("fluid-day")
    print(f"fluid facility-day (10,016 GPUs, {fl['ticks']:,} ticks): peak RSS {fl['maxrss_mib']:.0f} MiB, "
          f"CPU {fl['cpu_s']:.1f} s (wall {fl['wall_s']:.1f} s)")
    done: list[dict] = []
    for n in sorted(args.sizes):
        if done:
            est = done[-1]["wall_s"] * n / max(done[-1]["requests_completed"] or 1, 1)
            if est > args.max_wall:
                print(f"request N={n:,}: skipped (estimated wall {est:.0f} s > {args.max_wall:g} s)")
                continue
        r = run_child("request", n, args.replicas)
        done.append(r)
        print(f"request N={n:,}: {r['requests_completed']:,} completed of {r['requests_arrived']:,} arrived "
              f"({args.replicas} replicas, {r['sim_s']:.0f} s simulated), peak RSS {r['maxrss_mib']:.0f} MiB, "
              f"CPU {r['cpu_s']:.1f} s (wall {r['wall_s']:.1f} s)")
    if len(done) >= 2:
        a, b = done[-2], done[-1]
        slope = (b["maxrss_mib"] - a["maxrss_mib"]) / (b["requests_completed"] - a["requests_completed"])
        for target in (1_000_000, 10_000_000):
            if target > b["requests_completed"] * 1.05:
                est = b["maxrss_mib"] + slope * (target - b["requests_completed"])
                print(f"request N={target:,}: peak RSS {est:.0f} MiB [EXTRAPOLATED linearly from the last two sizes; "
                      f"{slope * 1e6:.1f} MiB per million requests] (target 10M <= 1024 MiB)")


if __name__ == "__main__":
    main()
