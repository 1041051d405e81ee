"""Copy the public data the tests and ``dcsim.validation`` read into ``dcsim/data/sources/``, trimmed.

Rerunnable: ``python scripts/vendor_data.py --shared DIR`` (DIR: the original releases). Writes

* ``ml-energy-v3/*.json``: every LLM-task file of the ML.ENERGY Leaderboard v3.0
  (github.com/ml-energy/leaderboard @0cd52dab, public/data/models/; Apache-2.0; cite Chung et al.,
  "The ML.ENERGY Benchmark", arXiv 2505.06371), keeping only the fields dcsim reads
  (per-configuration GPU, count, max_num_seqs, batch, output length, throughput, power, energy,
  ITL percentiles; the task-level output-length histogram); numbers unchanged;
* ``splitwise/perf_model_a100.csv``: the A100 rows with power of the Splitwise simulator's profile
  DB (github.com/Mutinifni/splitwise-sim @8f99e7d, ``data/perf_model.csv``; MIT; cite Patel et al.,
  "Splitwise", ISCA 2024), exact duplicate rows dropped (the DB repeats one block three times);
  numbers unchanged. Pass ``--splitwise PATH`` to that file (e.g. from a clone of the repository);
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

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "dcsim" / "data" / "sources"
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", required=True, metavar="DIR",
                    help="folder holding the original releases (ml-energy-v3/, traces) to trim from")
    ap.add_argument("--splitwise", default=None, help="path to splitwise-sim's data/perf_model.csv")
    a = ap.parse_args(argv)
    if a.splitwise:
        write_splitwise(Path(a.splitwise))
    src = Path(a.shared)
    (OUT / "ml-energy-v3").mkdir(parents=True, exist_ok=True)
    n = 0
    for f in sorted((src / "ml-energy-v3").glob("*__*.json")):
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
