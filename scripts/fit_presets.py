#!/usr/bin/env python3
"""Fit the request-class presets' length distributions to real traces; print the numbers.

Rerun with ``python scripts/fit_presets.py [--data dcsim/data/sources]`` (the trimmed in-repo copies
of the public data, ``scripts/vendor_data.py``; the Azure traces ship in ``dcsim/data/traces``). The printed medians, p99s
and cap masses are the ones in ``dcsim/workload/presets.py``.

Fit: a lognormal (given to dcsim by median and p99) for each length. The median is the trace
median; the log-sd is solved so that the *capped, discretised* mean equals the trace mean
(what matters for token throughput and energy). If the lognormal's natural tail beyond the cap
is below the observed fraction of requests at the cap, an extra ``cap_mass`` is fitted jointly
so that both the mean and the at-cap fraction match. Where mean <= median (no right-skewed
lognormal fits) the log-sd comes from the trace p99 instead.

Sources:
- chat: Azure LLM inference 2023, conversation (Patel et al., Splitwise, ISCA'24) [AZ23]
- code: Azure LLM inference 2023, code [AZ23]
- agentic: Mooncake FAST'25 conversation trace (Qin et al.) [MC]
- reasoning: ML.ENERGY leaderboard v3.0 GPQA output-length histograms, 11 models, each model
  weighted equally [ML3]
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
from scipy import optimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dcsim.workload.lengths import LogNormalLength  # noqa: E402
from dcsim.workload.trace import read_azure, read_mooncake  # noqa: E402


def _dist(median, sigma, cap, cap_mass=0.0):
    return LogNormalLength.from_sigma(median, sigma, cap=cap, cap_mass=cap_mass)


def fit_capped_lognormal(median: float, mean: float, p_cap: float, cap: float, p99: float):
    """Return (sigma, cap_mass, method) reproducing median, capped mean and at-cap fraction."""
    if mean <= median * 1.0001:
        sigma = math.log(p99 / median) / 2.3263478740408408
        return sigma, 0.0, "median+p99 (mean <= median)"

    def err(s, q=0.0):
        return _dist(median, s, cap, q).mean() - mean

    hi = 4.0
    if err(1e-3) > 0 or err(hi) < 0:
        sigma = math.log(p99 / median) / 2.3263478740408408
        return sigma, 0.0, "median+p99 (mean not reachable)"
    sigma = optimize.brentq(err, 1e-3, hi, xtol=1e-10)
    if math.isfinite(cap) and _dist(median, sigma, cap).p_cap() < p_cap:
        def q_for(s):
            nat = _dist(median, s, cap).p_cap()
            return max((p_cap - nat) / (1.0 - nat), 0.0)

        def err2(s):
            return err(s, q_for(s))

        if err2(1e-3) < 0:
            sigma = optimize.brentq(err2, 1e-3, sigma, xtol=1e-10)
            return sigma, q_for(sigma), "median+mean+at-cap fraction"
    return sigma, 0.0, "median+mean"


def describe(name, x, cap, src):
    x = np.asarray(x, dtype=float)
    med, mean = float(np.median(x)), float(x.mean())
    p99 = float(np.percentile(x, 99))
    p_cap = float(np.mean(x >= cap)) if math.isfinite(cap) else 0.0
    sigma, q, how = fit_capped_lognormal(med, mean, p_cap, cap, p99)
    d = _dist(med, sigma, cap, q)
    print(f"{name:<22} [{src}] n={x.size}")
    print(f"  trace : median {med:9.1f}  mean {mean:9.1f}  p99 {p99:9.1f}  max {x.max():9.0f}  at-cap {p_cap:.5f}")
    print(f"  fit   : median {med:9.1f}  p99(lognormal) {d.p99:9.1f}  sigma {sigma:.4f}  cap {cap:g}  "
          f"cap_mass {q:.5f}  ({how})")
    print(f"  check : fitted mean {d.mean():9.1f}  sd {math.sqrt(d.var()):9.1f} (trace sd {x.std():.1f})  "
          f"P(at cap) {d.p_cap():.5f}")
    return dict(median=med, p99=d.p99, cap=cap, cap_mass=q)


def gpqa_pooled(folder: Path):
    """Pool ML.ENERGY GPQA output-length histograms (each model weighted 1); returns
    (median, mean, fraction in the top bin, cap, p99) with linear interpolation inside bins."""
    files = sorted(glob.glob(str(folder / "*__gpqa.json")))
    grid = np.linspace(0, 32768, 32769)
    cdf = np.zeros_like(grid)
    means, tops = [], []
    for f in files:
        o = json.load(open(f))["output_length_distribution"]
        b, c = np.asarray(o["bins"], float), np.asarray(o["counts"], float)
        p = c / c.sum()
        cdf += np.interp(grid, b, np.concatenate(([0.0], np.cumsum(p))))
        means.append(float(np.dot(p, 0.5 * (b[1:] + b[:-1]))))
        tops.append(float(p[-1]) if b[-1] >= 32768 else 0.0)
    cdf /= len(files)
    med = float(np.interp(0.5, cdf, grid))
    p99 = float(np.interp(0.99, cdf, grid))
    return med, float(np.mean(means)), float(np.mean(tops)), 32768.0, p99, len(files)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / "dcsim" / "data" / "sources"))
    a = ap.parse_args(argv)
    data = Path(a.data)
    azure = data / "azure-llm-2023" if (data / "azure-llm-2023").is_dir() else Path(__file__).resolve().parents[1] / "dcsim" / "data" / "traces"
    conv = read_azure(azure / "AzureLLMInferenceTrace_conv.csv")
    code = read_azure(azure / "AzureLLMInferenceTrace_code.csv")
    mc = read_mooncake(data / "mooncake" / "conversation_trace.jsonl")
    print(f"azure conv: {len(conv)} requests over {conv.span_s:.1f} s = {len(conv)/conv.span_s:.3f} req/s")
    print(f"azure code: {len(code)} requests over {code.span_s:.1f} s = {len(code)/code.span_s:.3f} req/s")
    print(f"mooncake conversation: {len(mc)} requests over {mc.span_s:.1f} s\n")
    # caps: the trace maxima, which are service limits visible as pile-ups in the data
    describe("chat input", conv.n_in, math.inf, "AZ23 conv")
    describe("chat output", conv.n_out, float(conv.n_out.max()), "AZ23 conv")
    describe("code input", code.n_in, float(code.n_in.max()), "AZ23 code")
    describe("code output", code.n_out, math.inf, "AZ23 code")
    describe("agentic input", mc.n_in, 131072.0, "MC conversation")  # cap: max_input 128k (assumption)
    describe("agentic output", mc.n_out, float(mc.n_out.max()), "MC conversation")
    med, mean, top, cap, p99, nf = gpqa_pooled(data / "ml-energy-v3")
    sigma, q, how = fit_capped_lognormal(med, mean, top, cap, p99)
    d = _dist(med, sigma, cap, q)
    print(f"{'reasoning output':<22} [ML3 gpqa, {nf} models pooled]")
    print(f"  data  : median {med:9.1f}  mean {mean:9.1f}  p99 {p99:9.1f}  top-bin fraction {top:.5f}  cap {cap:g}")
    print(f"  fit   : median {med:9.1f}  p99(lognormal) {d.p99:9.1f}  sigma {sigma:.4f}  cap_mass {q:.5f} ({how})")
    print(f"  check : fitted mean {d.mean():9.1f}  P(at cap) {d.p_cap():.5f}")
    tops = []
    for f in sorted(glob.glob(str(data / "ml-energy-v3" / "*__lm-arena-chat.json"))):
        o = json.load(open(f))["output_length_distribution"]
        c = np.asarray(o["counts"], float)
        tops.append((Path(f).name.split("__")[1], o["bins"][-1], c[-1] / c.sum()))
    print("\nML.ENERGY lm-arena-chat: fraction of outputs in the top bin (ending at max_tokens):")
    for name, cap_, frac in tops:
        print(f"  {name:<40} cap {cap_:>7.0f}  top-bin {frac:.4f}")
    print(f"  mean over {len(tops)} models: {np.mean([t[2] for t in tops]):.4f}")


if __name__ == "__main__":
    main()
