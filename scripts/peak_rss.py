"""Peak resident memory (RSS) of a request-fidelity run of 1 million requests and of a facility-day
fluid run, each in a fresh subprocess (``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the child).

* ``import``: ``import dcsim`` and building the models of the request scenario (the floor);
* ``request``: ``dcsim.run`` at request fidelity serving ``--requests`` requests (default 10^6):
  Llama-3.1-8B on 1×H100 replicas (``--replicas``, default 128) at 70 % of their compute
  ceiling, Poisson chat arrivals, 10 s controller tick; the simulated time is set so that
  ``requests`` arrive;
* ``fluid-day``: ``scenarios/reference.yaml`` scaled to 313 racks (10,016 H100) with its
  interconnect, cooling and demand scaled alike, 24 h at a 1 s tick (86,400 ticks), plus the
  example faults of ``docs/faults.md`` when ``--faults`` is given (baseline + faulted run).

    python scripts/peak_rss.py [--requests 1000000] [--replicas 128] [--faults] [--skip-request]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "scenarios" / "reference.yaml"
RACKS = 313
FAULTS = [
    {"kind": "node_failures", "mtbf": "800 h", "repair": "4 h"},
    {"kind": "cooling_failure", "start": "14 h", "duration": "2 h", "capacity_loss": "25%"},
    {"kind": "curtailment", "start": "17 h", "duration": "1 h", "fraction": "70%"},
    {"kind": "heat_wave", "start": "10 h", "duration": "8 h", "offset": "6 K", "ramp": "2 h"},
]


def request_scenario(replicas: int, rate: float, duration_s: float) -> dict:
    """``replicas`` 1×H100 Llama-3.1-8B replicas (8 per server, 4 servers per rack), Poisson chat."""
    racks = max(1, replicas // 32)
    return {
        "name": "peak-rss-request", "seed": 7, "duration": duration_s, "fidelity": "request",
        "facility": {"interconnect": f"{racks * 60} kW", "cooling": {"kind": "chiller_plant", "capacity": f"{racks * 60} kW"},
                     "weather": {"kind": "constant", "t_db": 20, "rh": 0.4}},
        "racks": [{"name": "r", "count": racks, "nodes_per_rack": 4,
                   "node": {"gpu": "H100-SXM", "model": "llama-3.1-8b", "tensor_parallel": 1, "max_batch": 256},
                   "power": {"power_limit": "60 kW"}, "cooling": {"kind": "rear_door", "limit": "60 kW"}}],
        "workload": {"arrivals": {"kind": "poisson", "rate": rate},
                     "classes": [{"name": "chat", "preset": "chat", "share": 1.0}]},
        "controller": {"tick": "10 s"},
    }


def _child(kind: str, n: int, replicas: int, faults: bool) -> dict:
    import dcsim
    from dcsim.engine.build import build_models
    from dcsim.scenario import load_scenario

    t0 = time.perf_counter()
    out: dict = {"kind": kind}
    if kind in ("import", "request"):
        probe = build_models(load_scenario(request_scenario(replicas, 1.0, 60.0)))
        node, wl = probe.groups[0].node, probe.workload
        rate = 0.7 * float(node.max_throughput(wl.mean_input, wl.mean_output)) / wl.mean_output * probe.replicas
        out.update(replicas=probe.replicas, rate_req_s=rate)
        if kind == "request":
            sim_s = max(10.0, math.ceil(n / rate / 10.0) * 10.0)  # expected arrivals ≥ n
            r = dcsim.run(request_scenario(replicas, rate, sim_s))
            out.update(sim_s=sim_s, requests=r.report.get("requests"), partial=r.report.get("partial"))
    else:
        sc = load_scenario(REFERENCE)
        f = RACKS / sc.racks[0].count
        ov = {"racks.0.count": RACKS, "facility.interconnect": sc.facility.interconnect * f,
              "facility.cooling.capacity": sc.facility.cooling.capacity * f,
              "workload.arrivals.mean_rate": sc.workload.arrivals.mean_rate * f, "controller.tick": "1 s"}
        if faults:
            from dcsim.engine.run import run_with_faults

            r = run_with_faults(REFERENCE, FAULTS, overrides=ov)
            out["faults"] = len(r.report["faults"])
        else:
            r = dcsim.run(REFERENCE, overrides=ov)
        out.update(ticks=int(r.timeseries["t_s"].size), gpus=r.report["gpus"])
    out["wall_s"] = time.perf_counter() - t0
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
    return out


def run_child(kind: str, n: int, replicas: int, faults: bool = False) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--requests", str(n),
           "--replicas", str(replicas)] + (["--faults"] if faults else [])
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        return {"kind": kind, "error": (p.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--replicas", type=int, default=128)
    ap.add_argument("--faults", action="store_true", help="fluid day with the example faults (baseline + faulted run)")
    ap.add_argument("--skip-request", action="store_true")
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(_child(a.child, a.requests, a.replicas, a.faults)))
        return 0
    base = run_child("import", 0, a.replicas)
    print(f"import + build models: peak RSS {base.get('peak_rss_mib', float('nan')):.0f} MiB")
    if not a.skip_request:
        rq = run_child("request", a.requests, a.replicas)
        if "error" in rq:
            print(f"request fidelity ({a.requests:,} requests): failed: {rq['error']}")
        else:
            req = rq["requests"] or {}
            print(f"request fidelity, {req.get('arrived', 0):,} requests arrived ({req.get('completed', 0):,} completed) "
                  f"on {rq['replicas']} replicas over {rq['sim_s']:g} s simulated: peak RSS {rq['peak_rss_mib']:.0f} MiB, "
                  f"wall {rq['wall_s']:.1f} s")
    fl = run_child("fluid-day", 0, a.replicas, a.faults)
    if "error" in fl:
        print(f"fluid facility-day: failed: {fl['error']}")
    else:
        print(f"fluid facility-day ({fl['gpus']:,} GPUs, {fl['ticks']:,} ticks{', with faults + baseline' if a.faults else ''}): "
              f"peak RSS {fl['peak_rss_mib']:.0f} MiB, wall {fl['wall_s']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
