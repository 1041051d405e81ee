"""Copy the public data the tests and ``dcsim.validation`` read into ``dcsim/data/sources/``, trimmed.

Rerunnable: ``python scripts/vendor_data.py --shared DIR`` (DIR: the original releases). Writes

* ``ml-energy-v3/*.json``: every LLM-task file (lm-arena-chat, gpqa, sourcegraph-fim) of the ML.ENERGY
  Leaderboard v3.0 (github.com/ml-energy/leaderboard @0cd52dab, public/data/models/; Apache-2.0; cite Chung et al.,
  "The ML.ENERGY Benchmark", arXiv 2505.06371), keeping only the fields dcsim reads
  (per-configuration GPU, count, max_num_seqs, batch, output length, throughput, power, energy,
  ITL percentiles; the task-level output-length histogram); numbers unchanged. ``--shared DIR`` reads
  ``DIR/ml-energy-v3/``; ``--leaderboard DIR`` (a checkout of the leaderboard at that commit) adds the
  lm-arena-chat files the shared copy lacks (Qwen3-32B, Llama-3.3-70B: issue 14.4's twelfth pass; their other
  tasks are not vendored: the GPQA length preset stays the mean over the shared copy's 11 GPQA files);
* ``splitwise/perf_model_a100.csv``: the A100 rows with power of the Splitwise simulator's profile
  DB (github.com/Mutinifni/splitwise-sim @8f99e7d, ``data/perf_model.csv``; MIT; cite Patel et al.,
  "Splitwise", ISCA 2024), exact duplicate rows dropped (the DB repeats one block three times);
  numbers unchanged. Pass ``--splitwise PATH`` to that file (e.g. from a clone of the repository);
* ``ml-energy-v3/request_repeats.json``: with ``--benchmark DIR`` (a checkout of github.com/ml-energy/benchmark
  @c1d6557, the harness that produced the leaderboard data; Apache-2.0): for each LLM task its unique-request count
  (``workload_defaults.num_requests`` of ``configs/vllm/<task>/benchmark.yaml``) and, per model and GPU, the sweep of
  ``configs/vllm/<task>/<model>/<gpu>/sweeps.yaml`` (or the task's ``sweep_defaults``): how many times the request
  list was sent at each ``max_num_seqs``. Repeated prompts meet vLLM's prefix cache (issue 14.4, twelfth pass);
* ``mooncake/conversation_trace.jsonl``: the Mooncake FAST'25 conversation trace
  (github.com/kvcache-ai/Mooncake @3b5a594, FAST25-release/traces/; Apache-2.0; cite Qin et al.,
  "Mooncake", FAST 2025) without the ``hash_ids`` column, which dcsim does not read.

The Azure 2023 traces already ship, unmodified, in ``dcsim/data/traces/``.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "dcsim" / "data" / "sources"
LLM_TASKS = ("lm-arena-chat", "gpqa", "sourcegraph-fim")
TOP_KEYS = ("model_id", "task", "weight_precision", "architecture", "total_params_billions",
            "activated_params_billions", "output_length_distribution")
CONF_KEYS = ("gpu_model", "num_gpus", "max_num_seqs", "avg_batch_size", "avg_output_len",
             "output_throughput_tokens_per_sec", "avg_power_watts", "energy_per_token_joules",
             "energy_per_request_joules", "median_itl_ms", "p90_itl_ms", "p95_itl_ms", "p99_itl_ms",
             "parallelization")


def write_splitwise(path: Path) -> None:
    """The A100 rows with power (average_power > 0) of splitwise-sim's profile DB, duplicates dropped."""
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["hardware"] == "a100-80gb" and float(r["average_power"]) > 0]
    seen, out = set(), []
    for r in rows:
        key = tuple(r.values())
        if key not in seen:
            seen.add(key)
            out.append(r)
    (OUT / "splitwise").mkdir(parents=True, exist_ok=True)
    with (OUT / "splitwise" / "perf_model_a100.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(out)
    print(f"wrote {len(out)} Splitwise A100 rows")


def write_repeats(bench: Path) -> None:
    """The request-repeat sweeps of the ML.ENERGY benchmark's LLM tasks (see the module docstring)."""
    out = {"source": "github.com/ml-energy/benchmark@c1d6557 configs/vllm/<task>/benchmark.yaml and "
                     "<task>/<org>/<model>/<gpu>/sweeps.yaml (Apache-2.0)", "tasks": {}}
    for task in LLM_TASKS:
        root = bench / "configs" / "vllm" / task
        if not root.is_dir():
            continue
        top = yaml.safe_load((root / "benchmark.yaml").read_text())
        models = {}
        for sw in sorted(root.glob("*/*/*/sweeps.yaml")):
            org, model, gpu = sw.parts[-4:-1]
            models.setdefault(f"{org}/{model}", {})[gpu] = yaml.safe_load(sw.read_text())["sweep"]
        out["tasks"][task] = {"num_requests": top["workload_defaults"]["num_requests"],
                              "sweep_defaults": top["sweep_defaults"], "models": models}
    (OUT / "ml-energy-v3" / "request_repeats.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote the request-repeat sweeps of {sum(len(t['models']) for t in out['tasks'].values())} model/task pairs")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", required=True, metavar="DIR",
                    help="folder holding the original releases (ml-energy-v3/, traces) to trim from")
    ap.add_argument("--splitwise", default=None, help="path to splitwise-sim's data/perf_model.csv")
    ap.add_argument("--leaderboard", default=None, metavar="DIR",
                    help="checkout of github.com/ml-energy/leaderboard @0cd52dab: its lm-arena-chat files are vendored too")
    ap.add_argument("--benchmark", default=None, metavar="DIR",
                    help="checkout of github.com/ml-energy/benchmark @c1d6557: writes ml-energy-v3/request_repeats.json")
    a = ap.parse_args(argv)
    if a.benchmark:
        write_repeats(Path(a.benchmark))
    if a.splitwise:
        write_splitwise(Path(a.splitwise))
    src = Path(a.shared)
    (OUT / "ml-energy-v3").mkdir(parents=True, exist_ok=True)
    n = 0
    files = {f.name: f for f in (src / "ml-energy-v3").glob("*__*.json")}
    if a.leaderboard:
        for f in (Path(a.leaderboard) / "public" / "data" / "models").glob("*__*.json"):
            if f.stem.rsplit("__", 1)[1] == "lm-arena-chat":  # the chat runs the calibration reads
                files.setdefault(f.name, f)
    for f in (files[k] for k in sorted(files)):
        d = json.loads(f.read_text())
        keep = {k: d[k] for k in TOP_KEYS if k in d}
        keep["configurations"] = [{k: c[k] for k in CONF_KEYS if k in c} for c in d["configurations"]]
        (OUT / "ml-energy-v3" / f.name).write_text(json.dumps(keep, indent=0, sort_keys=True) + "\n")
        n += 1
    (OUT / "mooncake").mkdir(parents=True, exist_ok=True)
    lines = []
    for line in (src / "mooncake" / "conversation_trace.jsonl").read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            lines.append(json.dumps({k: r[k] for k in ("timestamp", "input_length", "output_length")}))
    (OUT / "mooncake" / "conversation_trace.jsonl").write_text("\n".join(lines) + "\n")
    print(f"wrote {n} ML.ENERGY files and {len(lines)} Mooncake rows to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
