"""Request-class presets, grounded in published traces and measurements.

Length distributions are lognormals given by median and p99 (tokens), fitted by
``scripts/fit_presets.py`` (median = data median; log-sd solved so that the capped,
discretised mean equals the data mean; p99 below is the fitted lognormal's, *not* the data's).
Rerun that script to reproduce every number marked [fit].

Sources (tags as in CALIBRATION.md):

- [AZ23] Azure LLM inference trace 2023 (Patel et al., "Splitwise", ISCA'24;
  github.com/Azure/AzurePublicDataset @b469a113), conversation and code services, CC-BY-4.0.
- [MC] Mooncake FAST'25 conversation trace (Qin et al.; kvcache-ai/Mooncake @3b5a594).
- [ML3] ML.ENERGY leaderboard v3.0 GPQA output-length histograms (11 models, each weighted 1):
  pooled mean 6,987 tokens (CALIBRATION A3: 6,988), max_tokens 32,768.
- [AGENT] Bai et al., "How Do AI Agents Spend Your Money? Analyzing and Predicting Token
  Consumption in Agentic Coding Tasks", arXiv 2604.22750 (2026): agentic coding on SWE-bench
  Verified uses ~1000x the tokens of code chat (4,167,850 tokens per task on average vs 3,390
  for code chat, per a secondary summary), input tokens drive the cost, runs of the same task
  differ by up to 30x. Abstract verified; the per-task averages are from a secondary summary.
- [TOKENOMICS] Salim et al., "Tokenomics: Quantifying Where Tokens Are Used in Agentic
  Software Engineering", arXiv 2601.14470 (2026): input tokens are 53.9% of tokens on average,
  code review 59.4% (ChatDev, GPT-5). Abstract verified.
- [BOF] "BenchOverflow: Measuring Overflow in Large Language Models via Plain-Text Prompts"
  (2026): plain prompts (explicit forced length, large enumerations, infinite generation, ...)
  drive outputs to the max-tokens cap. Only a secondary summary was found; no figure is taken
  from it. The measured pile-up at the cap used for the ``cap_mass`` guidance is from [ML3]
  lm-arena-chat: 0.01%-11% of outputs (mean 1.9% over 16 models) end in the top bin at
  max_tokens 4,096 (``scripts/fit_presets.py``).

Per-request agentic lengths: an agent task is many LLM calls, each re-reading a long,
growing context; the per-call (per-request) input distribution here is Mooncake's
conversation trace (median 6,909, mean 12,035 tokens; input:output ~35:1), which matches the
input-dominated pattern of [AGENT] and [TOKENOMICS]. Its fitted log-sd of 1.07 gives a p5-p95 spread
of ~33x, the order of the "up to 30x" run-to-run variation of [AGENT].

SLOs are assumptions (no trace carries them); TPOT values are taken from the ITL SLO grid
50/100/250 ms used by [ML3-blog] (CALIBRATION V5).
"""

from __future__ import annotations

__all__ = ["PRESETS", "preset"]

PRESETS: dict[str, dict] = {
    "chat": {
        # [AZ23] conv [fit]: input median 1,020 mean 1,155 (trace p99 4,142); output median 129,
        # mean 211 (trace p99 601, max 1,000 with 11 requests at 1,000 -> max_tokens 1,000).
        # The lognormal puts 2.8% of outputs at the cap (trace: 0.06%); for an exact replay of the
        # length distribution use ``empirical: {file: azure-conv-2023, column: GeneratedTokens}``.
        "input": {"kind": "lognormal", "median": 1020.0, "p99": 3249.4},
        "output": {"kind": "lognormal", "median": 129.0, "p99": 1561.0},
        "max_tokens": 1000,
        "max_input": None,
        "cap_mass": 0.0,
        "slo_ttft": 1.0,    # assumption
        "slo_tpot": 0.1,    # assumption (100 ms ITL, [ML3-blog] SLO grid)
        "source": "AZ23 conversation trace, fitted by scripts/fit_presets.py",
    },
    "code": {
        # [AZ23] code [fit]: input median 1,469 mean 2,048, pile-up at 7,436-7,437 tokens (the
        # service's context limit -> max_input 7,437); output median 13 mean 27.9 (trace p99 251).
        "input": {"kind": "lognormal", "median": 1469.0, "p99": 11488.9},
        "output": {"kind": "lognormal", "median": 13.0, "p99": 230.1},
        "max_tokens": None,
        "max_input": 7437,
        "cap_mass": 0.0,
        "slo_ttft": 0.5,    # assumption (interactive completion)
        "slo_tpot": 0.05,   # assumption (50 ms ITL, [ML3-blog] SLO grid)
        "source": "AZ23 code trace, fitted by scripts/fit_presets.py",
    },
    "summarization": {
        # assumption: long input, short output. No public trace in shared/data; numbers are
        # placeholders chosen to be long-input (input:output 10:1 at the median) and must be
        # replaced by a fit when a summarization trace is available.
        "input": {"kind": "lognormal", "median": 4000.0, "p99": 24000.0},
        "output": {"kind": "lognormal", "median": 400.0, "p99": 1500.0},
        "max_tokens": 2048,   # assumption
        "max_input": 32768,   # assumption
        "cap_mass": 0.0,
        "slo_ttft": 5.0,      # assumption
        "slo_tpot": 0.1,      # assumption
        "source": "assumption (no measured trace)",
    },
    "agentic": {
        # [MC] conversation [fit]: input median 6,909 mean 12,035 (trace p99 85,400, max 126,195
        # -> max_input 131,072 = 128k context, assumption); output median 350, trace p99 1,118.5,
        # max 2,000 (0.25% at 2,000 -> max_tokens 2,000); output mean 343 <= median, so the
        # log-sd comes from the p99 (fitted mean 396, +16%).
        "input": {"kind": "lognormal", "median": 6909.0, "p99": 82696.2},
        "output": {"kind": "lognormal", "median": 350.0, "p99": 1118.5},
        "max_tokens": 2000,
        "max_input": 131072,
        "cap_mass": 0.0,
        "slo_ttft": 5.0,      # assumption
        "slo_tpot": 0.1,      # assumption
        "source": "MC conversation trace (per-call lengths) + AGENT, TOKENOMICS (input-dominated)",
    },
    "reasoning": {
        # [ML3] GPQA [fit]: output median 5,483, mean 6,987 (A3: 6,988), max_tokens 32,768,
        # top-bin fraction 0.33% (fit: 0.57% at cap from the lognormal tail, no extra cap_mass).
        # Input: GPQA prompts are short multiple-choice questions; lengths not in the data,
        # assumption.
        "input": {"kind": "lognormal", "median": 300.0, "p99": 1200.0},
        "output": {"kind": "lognormal", "median": 5483.0, "p99": 28415.6},
        "max_tokens": 32768,
        "max_input": None,
        "cap_mass": 0.0,
        "slo_ttft": 2.0,      # assumption
        "slo_tpot": 0.1,      # assumption
        "source": "ML3 GPQA output-length histograms (output); input assumption",
    },
}


def preset(name: str) -> dict:
    """A copy of preset ``name``'s fields (lengths as spec dicts, SLOs in s)."""
    if name not in PRESETS:
        raise KeyError(f"unknown class preset {name!r} (known: {', '.join(PRESETS)})")
    return dict(PRESETS[name])
