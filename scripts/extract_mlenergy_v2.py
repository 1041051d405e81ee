"""Extract ML.ENERGY Leaderboard v2.0 chat rows on the A100-SXM4-40GB into a dcsim ``load`` CSV.

Reads a clone of github.com/ml-energy/benchmark (Apache-2.0) at commit d0311acfa99b88ac6a389ce12ee53b33014fa56d, the
last commit holding the v2.0 per-configuration data (``data/llm_text_generation/chat/A100-SXM4-40GB/<org>/<model>/
bs<N>+tp<T>+pp<P>.json``), and writes

* ``dcsim/data/measurements/mlenergy_v2_a100_40gb.csv`` (one ``load`` row per configuration of a model the catalog
  describes; columns as the other ``mlenergy_*.csv``), and
* ``dcsim/data/sources/ml-energy-v2/<org>__<model>__<config>.json``, the JSONs the rows come from (unchanged: each is
  the aggregator's 10-field record).

Usage: ``python scripts/extract_mlenergy_v2.py /path/to/ml-energy/benchmark`` (a git clone; read with ``git show``).

Each row: n_gpus = TP, max_num_seqs = "Max BS (reqs)", batch = "Avg BS (reqs)" (the aggregator keeps only rows whose
average batch is >= 0.95 x the cap), mean_out = "Avg Output Tokens", output_tok_s = "Token tput (tok/s)",
j_per_out_tok = "Energy/req (J)" / "Avg Output Tokens" (the aggregator computes Energy/req as steady-state GPU energy
per output token x mean output length), gpu_power_w = j_per_out_tok x output_tok_s (summed over the TP GPUs: Zeus /
NVML GPU energy of all GPUs of the replica over the steady-state window).
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from extract_mlenergy import COLUMNS, write  # noqa: E402 (scripts/ is on sys.path when this file is run)

COMMIT = "d0311acfa99b88ac6a389ce12ee53b33014fa56d"
ROOT = "data/llm_text_generation/chat/A100-SXM4-40GB"
GPU = "A100-SXM4-40GB"
#: Hugging Face id -> dcsim catalog name; models left out and why: docs/node.md "A100-SXM4-40GB (ML.ENERGY v2.0)"
MODELS = {
    "meta-llama/Meta-Llama-3.1-8B-Instruct": "llama-3.1-8b",
    "meta-llama/Meta-Llama-3.1-70B-Instruct": "llama-3.1-70b",
    "mistralai/Mistral-7B-Instruct-v0.3": "mistral-7b-v0.3",
    "mistralai/Mistral-Nemo-Instruct-2407": "mistral-nemo-12b",
    "mistralai/Mistral-Large-Instruct-2407": "mistral-large-2407",
    "google/gemma-2-2b-it": "gemma-2-2b",
    "google/gemma-2-9b-it": "gemma-2-9b",
    "google/gemma-2-27b-it": "gemma-2-27b",
}
#: the harness's system prompt (benchmark/llm_text_generation/chat/scripts/benchmark_client.py line 19, SYSTEM_PROMPT).
#: How v2.0 built each prompt, read at COMMIT: the client keeps the first turn of each of the 500 ShareGPT conversations
#: (benchmark_client.py line 78), sends it stripped after this system prompt through the OpenAI chat API (lines
#: 111-116), and the server renders the pair with the model's own chat template (benchmark_one_datapoint.py line 82:
#: ``--chat-template`` from ``models/<org>/<model>/tokenizer_config.json``). The tokens the server counted
#: (``total_prompt_tokens``, benchmark_client.py line 229) are in the raw results, not in the aggregate the data
#: holds (aggregate_leaderboard_data.py lines 51-60), so the mean prompt stays an estimate (below).
SYSTEM_PROMPT = ("You are an artificial intelligence assistant that gives helpful answers to the user's questions "
                 "or instructions.")
CHARS_PER_TOKEN = 4.0      # assumption: the common ~4 characters per token of English BPE text (no tokenizer here)
#: assumption: chat-template and special tokens around a system + user turn, one figure for every model. The templates
#: at COMMIT differ: rendered (jinja2) around an empty turn they add ~31 tokens on Llama-3.1 (9 special tokens and a
#: dated "Cutting Knowledge Date ... Today Date: 26 Jul 2024" system header, by this file's character rule), ~4 on the
#: Mistral models and ~7 on Gemma-2 (which folds the system prompt into the user turn); not applied per model: without
#: a tokenizer the character rule's own error is larger (docs/node.md, "A100-SXM4-40GB")
TEMPLATE_TOKENS = 12
SHAREGPT = "benchmark/llm_text_generation/chat/sharegpt/ShareGPT_V3_filtered_500.json"
#: the queue files the runs were launched from (one per GPU count; queue_16gpu.yaml is the two-node PP2 runs)
QUEUES = "benchmark/llm_text_generation/chat/pegasus/A100"
#: the harness's own default repeat count, where no queue file states one: benchmark_one_model.py line 78
#: (``--data-dup-factor`` default "1", "How many times to repeat the ShareGPT dataset to generate more requests.")
DUP_DEFAULT_WHERE = "benchmark/llm_text_generation/chat/scripts/benchmark_one_model.py line 78"


def show(repo: Path, path: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "show", f"{COMMIT}:{path}"], check=True,
                          capture_output=True, text=True).stdout


def prompt_stats(repo: Path) -> tuple[float, float]:
    """Mean prompt tokens and the prompts' squared coefficient of variation, by the character rule above: each
    request is the system prompt plus the first ShareGPT turn (stripped, as the client sends it)."""
    data = json.loads(show(repo, SHAREGPT))
    toks = [(len(SYSTEM_PROMPT) + len(d["conversations"][0]["value"].strip())) / CHARS_PER_TOKEN + TEMPLATE_TOKENS
            for d in data]
    m = statistics.fmean(toks)
    return m, statistics.pvariance(toks) / m ** 2


def dup_factors(repo: Path) -> dict[tuple[str, int], tuple[int, str]]:
    """``(model, TP) -> (data-dup-factor, "file line N")`` as the queue files at :data:`COMMIT` state them: each
    ``- command:`` entry of ``pegasus/A100/queue_<n>gpu.yaml`` runs ``benchmark_one_model.py ... --data-dup-factor D``
    on the models listed under it, on n GPUs (TP n, ``--tensor-parallel-size`` = the GPU count,
    benchmark_one_datapoint.py line 83). The client sends the 500 ShareGPT first turns D times over
    (benchmark_client.py line 78: ``[...] * data_dup_factor``). A (model, TP) no queue file lists is absent."""
    out: dict[tuple[str, int], tuple[int, str]] = {}
    for n in (1, 2, 4, 8):
        f = f"{QUEUES}/queue_{n}gpu.yaml"
        out.update(parse_dup_factors(show(repo, f), n, f))
    return out


def parse_dup_factors(text: str, n: int, f: str) -> dict[tuple[str, int], tuple[int, str]]:
    """``(model, n) -> (data-dup-factor, "f line N")`` from one queue file's ``text`` (:func:`dup_factors`): the
    factor is reset at each ``- command:`` entry, so the models of an entry whose command gives none are absent
    rather than given the previous entry's factor."""
    out: dict[tuple[str, int], tuple[int, str]] = {}
    dup, where = None, None
    for i, line in enumerate(text.splitlines(), start=1):
        if line.strip().startswith("- command:"):
            dup, where = None, None
        if "--data-dup-factor" in line:
            dup, where = int(line.split("--data-dup-factor")[1].split()[0].strip('"')), f"{f} line {i}"
        elif line.strip().startswith("- ") and "/" in line and dup is not None:
            out[(line.strip()[2:].strip(), n)] = (dup, where)
    return out


def main(argv: list[str]) -> int:
    repo = Path(argv[0])
    out_csv = Path("dcsim/data/measurements/mlenergy_v2_a100_40gb.csv")
    src_dir = Path("dcsim/data/sources/ml-energy-v2")
    src_dir.mkdir(parents=True, exist_ok=True)
    mean_in, scv = prompt_stats(repo)
    mean_in, scv = round(mean_in), round(scv, 2)
    dups = dup_factors(repo)
    files = subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", "--name-only", COMMIT, "--", ROOT],
                           check=True, capture_output=True, text=True).stdout.split()
    rows = []
    for f in files:
        rel = f[len(ROOT) + 1:]
        org, name, cfg = rel.split("/")
        hf = f"{org}/{name}"
        if hf not in MODELS:
            continue
        d = json.loads(show(repo, f))
        assert d["GPU"] == "NVIDIA A100-SXM4-40GB" and d["PP"] == 1 and d["Model"] == hf, f
        (src_dir / f"{org}__{name}__{cfg}").write_text(show(repo, f), encoding="utf-8")
        j = d["Energy/req (J)"] / d["Avg Output Tokens"]
        tok_s = d["Token tput (tok/s)"]
        # times the ShareGPT list was sent (the harness's --data-dup-factor), as the queue files state it
        # (dup_factors); two groups are in no queue file at this commit (Gemma-2-9B TP2, Gemma-2-27B TP4). It sets
        # no column: vLLM 0.5.4 caches no prefix unless asked and the server command asks not
        # (benchmark_one_datapoint.py lines 66-92: no --enable-prefix-caching), so every request is prefilled
        dup = dups.get((hf, d["TP"]))
        sent = (f"prompt list sent {dup[0]}x (--data-dup-factor {dup[0]}, {dup[1]})" if dup else
                f"prompt list sent an unstated number of times (no {QUEUES}/queue_*.yaml at this commit lists this "
                f"model at TP{d['TP']}; the harness default is 1, {DUP_DEFAULT_WHERE})")
        rows.append({
            "kind": "load", "gpu": GPU, "n_gpus": d["TP"], "expert_parallel": 1, "model": MODELS[hf],
            "precision": "bf16", "task": "sharegpt-chat", "max_num_seqs": d["Max BS (reqs)"],
            "batch": f"{d['Avg BS (reqs)']:.3f}", "mean_in": f"{mean_in:.1f}", "mean_out": f"{d['Avg Output Tokens']:.2f}",
            "decode_ctx": "", "prompt_scv": f"{scv:.2f}", "request_repeats": "", "unique_requests": 500,
            "output_tok_s": f"{tok_s:.2f}", "gpu_power_w": f"{j * tok_s:.2f}", "j_per_out_tok": f"{j:.5g}",
            "median_itl_ms": "",
            "source": f"[ML2] ml-energy/benchmark@d0311acf {f}",
            "note": (f"mean_in={mean_in} and prompt_scv={scv} assumption: the harness's system prompt + each ShareGPT "
                     f"first turn at {CHARS_PER_TOKEN:g} characters per token + {TEMPLATE_TOKENS} template tokens "
                     "(scripts/extract_mlenergy_v2.py; no tokenizer run); power GPU-only, summed over the TP GPUs; "
                     f"{sent} with vLLM 0.5.4's prefix caching off (its default; the harness passes no "
                     "--enable-prefix-caching), so every request is prefilled: request_repeats left empty (1)"),
        })
    rows.sort(key=lambda r: (r["model"], r["n_gpus"], r["max_num_seqs"]))
    assert list(rows[0]) == COLUMNS, list(rows[0])
    write(out_csv, COLUMNS, rows)
    print(f"{out_csv}: {len(rows)} rows; mean_in {mean_in}, prompt_scv {scv}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
