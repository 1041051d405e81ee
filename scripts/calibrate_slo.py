"""Measure the fluid SLO estimate against request fidelity over a grid; print the error table.

    python scripts/calibrate_slo.py [--cache DIR] [--duration "20 min"] [--seed 1] [--loads 0.3,0.9]
                                    [--only chat,70b] [--out FILE.json]
    python scripts/calibrate_slo.py --capped-ticks 1.1 [--seed 1]

The grid: two workload presets (chat, code) x two model sizes (Llama-3.1-70B on 4 H100 per
replica, 8 replicas; Llama-3.1-8B on 1 H100 per replica, 8 replicas) x loads as a fraction of
the compute ceiling (``LOADS``), 20 min at a 1 s controller tick, Poisson arrivals, seed 1.
Each point runs request fidelity once and fluid once and prints fluid minus request: the
attainment (points) and TTFT/TPOT p50/p99 (relative). The estimate has no fitted constant
(docs/slo.md); the error bands quoted there come from this script.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json


import dcsim
from dcsim.engine.build import build_models
from dcsim.engine.assemble import slo_estimate
from dcsim.engine.run import run_models
from dcsim.scenario import load_scenario
from dcsim.serving import slo_estimate as se

MODELS = {
    "70b": {"model": "llama-3.1-70b", "tensor_parallel": 4, "nodes_per_rack": 4},
    "8b": {"model": "llama-3.1-8b", "tensor_parallel": 1, "nodes_per_rack": 1},
}
PRESETS = ("chat", "code")
LOADS = (0.3, 0.6, 0.8, 0.9, 1.1, 1.2)


def scenario(preset: str, model: str, load: float, fidelity: str, duration: str = "20 min", seed: int = 1) -> dict:
    """The calibration scenario: one rack (8 replicas), steady weather, Poisson at ``load`` x compute ceiling."""
    mm = MODELS[model]
    raw = {
        "name": f"slo-{preset}-{model}-{load:g}", "seed": seed, "duration": duration, "fidelity": fidelity,
        "facility": {"interconnect": "200 kW", "cooling": {"kind": "chiller_plant", "capacity": "300 kW"},
                     "weather": {"kind": "constant", "t_db": 25, "rh": 0.4}},
        "racks": [{"name": "r", "count": 1, "nodes_per_rack": mm["nodes_per_rack"],
                   "node": {"gpu": "H100-SXM", "model": mm["model"], "tensor_parallel": mm["tensor_parallel"],
                            "max_batch": 256},
                   "cooling": {"kind": "rear_door", "limit": "50 kW"}}],
        "workload": {"arrivals": {"kind": "poisson", "rate": "1 req/s"},
                     "classes": [{"name": preset, "preset": preset, "share": 1.0}]},
        "controller": {"tick": "1 s"},
    }
    m = build_models(load_scenario(copy.deepcopy(raw)))
    raw["workload"]["arrivals"]["rate"] = f"{load * m.curves.compute_tok_s / m.workload.mean_output} req/s"
    return raw


def request_point(preset, model, load, **kw) -> dict:
    rep = dcsim.run(scenario(preset, model, load, "request", **kw)).report
    return {"slo_attainment": rep["slo_attainment"], "latency_s": rep["latency_s"]}


def fluid_point(preset, model, load, **kw):
    m = build_models(load_scenario(scenario(preset, model, load, "fluid", **kw)))
    return m, run_models(m).timeseries


def errors(ref: dict, est) -> dict:
    """Relative errors of TTFT/TPOT p50/p99 and the attainment difference (fluid - request)."""
    out = {"attainment": est.slo_attainment - ref["slo_attainment"]}
    for m, q in itertools.product(("ttft", "tpot"), ("p50", "p99")):
        a, b = est.latency_s[m][q], ref["latency_s"][m][q]
        out[f"{m}_{q}"] = (a / b - 1.0) if (a is not None and b) else float("nan")
    return out


def capped_ticks(overload: float, seed: int, duration: str) -> None:
    """SLO known gap (dcsim.serving.slo_estimate.CAPPED_TICK_S): the chat/70B rack power-capped (interconnect 40 kW),
    Poisson at ``overload`` x its lowest ceiling; request fidelity at 1-s ticks against fluid at 1 s to 5 min."""
    base = scenario("chat", "70b", 1.0, "fluid", duration=duration, seed=seed)
    base["facility"]["interconnect"] = "40 kW"
    probe = copy.deepcopy(base)
    probe["duration"] = "2 min"
    t = dcsim.run(probe).report["tpf"]
    lim = min(t["compute_tok_s"], t["power_tok_s"], t["cooling_tok_s"])
    base["workload"]["arrivals"]["rate"] = f"{overload * lim / build_models(load_scenario(copy.deepcopy(base))).workload.mean_output} req/s"
    ref = None
    for fid, tick in (("request", "1 s"), ("fluid", "1 s"), ("fluid", "10 s"), ("fluid", "1 min"), ("fluid", "2 min"),
                      ("fluid", "5 min")):
        raw = copy.deepcopy(base)
        raw["fidelity"], raw["controller"]["tick"] = fid, tick
        rep = dcsim.run(raw).report
        r = (rep["slo_attainment"], rep["latency_s"]["ttft"]["p50"], rep["latency_s"]["ttft"]["p99"])
        ref = ref or r
        print(f"{fid:7s} {tick:6s} att {r[0]:.3f} ({100 * (r[0] - ref[0]):+.1f} pts)  TTFT p50 {r[1]:.2f} s "
              f"({100 * (r[1] / ref[1] - 1):+.0f} %)  p99 {r[2]:.2f} s ({100 * (r[2] / ref[2] - 1):+.0f} %)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out")
    ap.add_argument("--cache", help="folder keeping the request-fidelity figures between runs")
    ap.add_argument("--only", help="comma-separated presets/models to keep, e.g. chat,70b")
    ap.add_argument("--duration", default="20 min", help="simulated time of each run (default 20 min)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--loads", help="comma-separated loads (default: LOADS)")
    ap.add_argument("--capped-ticks", type=float, metavar="OVERLOAD",
                    help="instead of the grid: the power-capped chat/70B rack at OVERLOAD x its power ceiling, fluid "
                         "at 1 s to 5 min ticks against request fidelity at 1 s (the controller-tick known gap)")
    args = ap.parse_args()
    if args.capped_ticks:
        return capped_ticks(args.capped_ticks, args.seed, args.duration)
    kw = {"duration": args.duration, "seed": args.seed}
    loads = tuple(float(x) for x in args.loads.split(",")) if args.loads else LOADS
    keep = set(args.only.split(",")) if args.only else None
    pts = []
    for p, mdl, load in [(p, mdl, x) for p in PRESETS for mdl in MODELS for x in loads]:
        if keep and not ({p, mdl} <= keep or (keep <= {p, mdl})):
            continue
        path = None
        if args.cache:
            from pathlib import Path

            path = Path(args.cache) / f"{p}-{mdl}-{load:g}-{args.duration.replace(' ', '')}-s{args.seed}.json"
        if path is not None and path.exists():
            ref = json.loads(path.read_text())
        else:
            ref = request_point(p, mdl, load, **kw)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(ref))
        m, ts = fluid_point(p, mdl, load, **kw)
        pts.append(((p, mdl, load), ref, m, ts))
    cal = se.CALIBRATION
    rows = []
    for key, ref, m, ts in pts:
        est = slo_estimate(m, ts)  # the engine's estimate of the run (se.CALIBRATION, its default)
        e = errors(ref, est)
        rows.append({"point": key, **e})
        print(f"{key[0]:5s} {key[1]:4s} {key[2]:4.2f} att {ref['slo_attainment']:.3f}/{est.slo_attainment:.3f} "
              + " ".join(f"{k} {100 * v:+.0f}%" for k, v in e.items() if k != "attainment"))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"eta": cal.eta, "window_s": cal.window_s, "sample_replicas": cal.sample_replicas,
                   "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
