"""Validation of dcsim against published measurements (issue 9).

    python -m dcsim.validation                          # print the table
    python -m dcsim.validation --markdown docs/validation.md
    python -m dcsim.validation --check                  # exit 1 if a row fails (known failures: outside their band)
    python -m dcsim.validation --context-carry dcsim/data/context_carry.yaml   # the GPQA rows as context carries

Each case compares one published figure with dcsim's value for the same inputs. Source tags
([ML3], [SWsim], [LAT], [UPT], [AZ23], ...) resolve in CALIBRATION.md §F (docs/node.md copies
them). A case is ``calibrated`` when the published point was used to fit the parameter that
produces dcsim's value (tolerance 10 %), ``held-out`` when it was not (20 %), and ``replay``
when dcsim only passes data through (trace statistics; tolerance = the rounding of the
published figure). Tolerances differ only where a source's own spread says so (stated per row).

Error metrics: ``rel`` = dcsim / published − 1; ``abs`` = dcsim − published; ``range`` = 0 inside
the published [lo, hi], else the relative distance to the nearer bound.

Held-out sets (nothing below was fitted to them):

* leave-out refits: the shipped calibration (``dcsim.node.calibrate``) rerun without two batch
  levels of a profile, then asked for those levels;
* ML.ENERGY v3 configurations absent from ``dcsim/data/measurements`` (read from the trimmed raw
  JSONs in ``dcsim/data/sources``): another tensor-parallel degree (Qwen3-235B-FP8 on 4×H100),
  another task (GPQA: long reasoning outputs of 8-10k tokens, short prompts; Qwen3-8B, Qwen3-14B,
  Qwen3-30B-A3B, Qwen3-235B BF16 and FP8 on H100 and B200, on their chat-fitted profiles), and models
  or precisions with no calibrated profile, served by the GPU's pooled fit (Llama-3.1-405B BF16 on
  8×B200, DeepSeek-V3.1 on 8×B200, Qwen3-235B BF16 on 8×H100);
* the leave-one-model-out table of every pooled GPU fit (issue 14.4);
* median inter-token latency (ITL), a quantity the calibration never fits;
* prefill vs decode power of an 8×H100 server (Splitwise, Illusion of Power Capping);
* server wall power at full load vs the [LAT] measurement and the vendors' datasheets.

Known failures carry an accepted error band (``KNOWN_FAILURES``: id -> (band, reason)); ``--check``
fails when any other row leaves its tolerance or a known failure leaves its band.

Which ML.ENERGY points the shipped profiles were fitted on: every ``kind=load`` row of
``dcsim/data/measurements/mlenergy_*.csv`` for the profile's GPU/model/precision/TP, plus the
five ``splitwise_h100_cap.csv`` rows for every H100 profile (see each profile's
``measurements`` and ``points`` keys).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from dcsim.node.calibrate import (fitted_load, group_key, profile_key, row_decode_ctx, row_itl_fitted, row_prompt_scv,
                                  row_request_repeats)
from dcsim.node.catalog import VLLM_054_TO_0111
from dcsim.node.perf import decode_context, median_prefill_tokens
from dcsim.node.step import median_step
from dcsim.workload.lengths import residence_output_context

ROOT = Path(__file__).resolve().parents[1]
MEASUREMENTS = ROOT / "dcsim" / "data" / "measurements"
#: public data shipped in the package (scripts/vendor_data.py; licences in its README)
DEFAULT_DATA = Path(__file__).resolve().parent / "data" / "sources"

TOL_CALIBRATED = 0.10   # issue 9
TOL_HELD_OUT = 0.20     # issue 9
TOL_REPLAY = 0.005      # published trace statistics are rounded to 3-4 significant digits
# ML.ENERGY mean prompt lengths, "634 vs 224" tokens for Text Conversation vs Problem Solving
# [ML3-blog] (Qwen3-32B); the shipped measurement CSVs use 634 (their `note` column).
MEAN_IN_CHAT = 634.0
MEAN_IN_GPQA = 224.0
#: spread of ML.ENERGY's prompt lengths (squared coefficient of variation), not published: the chat preset's
#: ([AZ23] conversation trace, lognormal fit, dcsim/workload/presets.py), an assumption for both tasks; the
#: measurement CSVs carry it (`prompt_scv`, scripts/extract_mlenergy.py)
ML3_PROMPT_SCV = 0.28

_B200_Q235 = ("ML.ENERGY's Qwen3-235B BF16 curves on B200 are not smooth in batch (8xB200: tok/s x1.31 from "
              "max_num_seqs 16 to 32, then x1.74 to 64; per-GPU power 493, 575, 566, 596 W at 8-64) and one "
              "parameter set leaves 10-16 % at the kinks (tokens/s and median ITL); MAPE over the 6 single-send "
              "points 6.2-8.2 % tok/s, 5.6-5.9 % J/token")
_TRANSFER = ("transferred (pooled) parameters: no measurement of DeepSeek on B200; the B200 pool's MoE dispatch "
             "comes from Qwen3-235B (128 experts, top-8, BF16 and FP8), and the pooled dense efficiencies from five "
             "dense models (four shapes); the left-out MoE rows of the leave-one-model-out table show the same size of "
             "error")
_LOMO_DEPTH = ("issue 14.4 not met for this pair: the pool's per-sequence overhead per layer (set by the 1-GPU "
               "models, whose large-batch steps are host-bound) is charged on 80 layers, so Llama-3.1-70B at batch "
               "96-383 is predicted 13-25 % slow and J/token +22 to +31 %, at batch 32-128 drawing 3.5-12 % less per "
               "GPU than the pool predicts (within 3 % from batch 192 up; 6-16 % less at batch 32-383 and J/token "
               "+25 to +38 % until docs/node.md's thirtieth pass fitted the pool's host wait); Llama-3.3-70B, the "
               "same shape: up to 28 % slow, J/token up to +25 %. Until the pool's MFU was held at the H100's "
               "achievable matmul ceiling (0.803 of the BF16 peak [MAMF]; the pool fitted 1.0 then, 0.972 since its "
               "host wait, which hid part of this excess) it was 8-19 % slow and +20 to +30 %. "
               "Its levels measured with repeated requests (max_num_seqs >= 512) are neither "
               "fitted nor scored (28-37 % slow when they were). A KV-read efficiency in place of the per-sequence "
               "term was tried and rejected (worse for every model)")
_LOMO_MOE = ("issue 14.4 not met for this pair: the MoE dispatch per MoE layer depends on the serving layout, not "
             "only on the GPU: Qwen3-30B-A3B on 1-2 GPUs fits 35-36 us per MoE layer on its own profiles, the pool "
             "without it 127 us (125 until docs/node.md's thirtieth pass), set by the models served "
             "expert-parallel over 4-8 GPUs (Qwen3-235B, Llama-4 Scout "
             "and Maverick: 24-238 us on their own profiles, with the expert-parallel imbalance charged), so it is "
             "predicted 20-28 % slow at batch 8-64 and J/token up to +46 % (1 GPU) and +54 % (2 GPUs) at batch 8; "
             "on 2 GPUs at batch 96-384 8-16 % slow (within 14 % until docs/node.md's thirtieth pass; twenty-fourth "
             "pass)")
_LOMO_SCOUT = ("issue 14.4 not met for this pair: the pool predicts Llama-4 Scout 36-65 % faster than measured at "
               "every batch, drawing more (311-520 W per GPU against 250-470 W): its steps are overhead-bound "
               "(21 ms at batch 8 on 8 H100s, Maverick 12 ms with the same 48 layers, hidden size and attention, "
               "16 large top-1 experts against 128), a cost of its serving in vLLM 0.11.1 that no other model in "
               "the pool shows; the expert-parallel imbalance (2 of its 16 experts per GPU) explains part of it "
               "(its own fits' MoE dispatch 69-114 us with it charged, 180-253 us without), not the rest")
_LOMO_POWER = ("issue 14.4 not met for this pair (tokens/s within the bar or near it, J/token not): power per GPU at "
               "small batch differs between models served on the same H100s beyond what the work done explains "
               "(overhead-bound steps at batch 8-16: Llama-4 Maverick 231-252 W per GPU on 8, Qwen3-235B BF16 354 W on "
               "8, Qwen3-235B-FP8 530 W on 4); the pool predicts 356-364 W for Maverick and 344-366 W for "
               "Qwen3-235B-FP8 (380-405 W for each until the twenty-fourth pass, docs/node.md, when the MoE dispatch "
               "drew P_memory and the pools fitted the block-scaled FP8 checkpoint's energy, which is its own: no other "
               "pooled model draws 56 % more per step in FP8 than in BF16)")
_LOMO_B200 = ("issue 14.4 not met for this pair, by its batch-8 tokens/s alone: Llama-3.1-405B-FP8 is the B200 pool's "
              "only dense FP8 model; without it the pool's FP8 cost per layer comes from Qwen3-235B's FP8-vs-BF16 step "
              "times (an expert-parallel MoE), which charged on 405B's 126 dense FP8 layers makes its small-batch steps "
              "too long: batch 8 predicted 25.5 % slow, batch 16-64 13-20 %, batch 128-510 within 9 % (MAPE 13.8 %). "
              "Its J/token is within 7 % at every batch (MAPE 4.7 %; +26 to +53 % until docs/node.md's twenty-fourth "
              "pass, when the pool fitted the block-scaled Qwen3-235B-FP8 checkpoint's energy)")
_LOMO_B200_MOE = ("issue 14.4 not met for this pair: without Qwen3-235B the B200 pool holds no MoE model and one FP8 "
                  "model, so its MoE dispatch and FP8 cost come from the H100 pool without Qwen3-235B (as a transfer "
                  "takes them: catalog.borrow_unidentified). In BF16 tokens/s is 21-24 % MAPE, predicted 26-28 % slow "
                  "at batch 8 and 26-37 % fast at batch 128-256, and J/token 16-20 % (+12 to +29 % at batch 8, -23 to "
                  "-29 % at 128-256); in FP8 on 2 GPUs tokens/s is within 17 % (MAPE 8.5 %) and J/token 41 % MAPE "
                  "(-37 to -48 %): per-GPU power falls with the TP degree (measured 903-947 W per GPU on 2 B200s in "
                  "FP8, 641-801 W on 4, 493-635 W on 8 in BF16), a fall the dense-only pool does not reproduce (it "
                  "predicts 508-668 W on 2 GPUs in FP8, 533-751 W on 4, 459-634 W on 8)")
_LOMO_A100 = ("issue 14.4 not met for this pair: leaving Llama-2-70B out removes all three of its TP degrees, so it "
              "is predicted from BLOOM-176B at TP8 alone; its TP-dependent per-layer overhead (fitted 67 us at TP2 "
              "and 417 us at TP8 on its own A100 profiles) cannot come from one TP8 model")
_A40 = ("issue 14.4 not met for this pair, on the A100-SXM4-40GB's own pool (ML.ENERGY v2.0, vLLM 0.5.4, ten groups of "
        "eight dense models at TP 1-8; docs/node.md, \"A100-SXM4-40GB\"): ")
_LOMO_A40_TP8 = (_A40 + "the two TP8 models (Llama-3.1-70B, Mistral-Large-2407) draw 99-173 W per GPU, the TP1-TP4 "
                 "groups 146-242 W, and the pool's per-GPU power terms, fitted mostly on 1-2 GPUs, predict 160-195 W: "
                 "J/token +2 to +36 %. Their steps are too fast at batch 32 (Llama-3.1-70B +52 %, Mistral-Large +30 %; "
                 "+32 % and +11 % before the host's per-sequence wait moved part of the per-sequence cost from every "
                 "layer to the step, which shortens a deep model's small-batch step) and within -11 to +5 % from batch "
                 "128 up. Each is the other's only TP8 peer, so leaving one out leaves a single 8-GPU model to set the "
                 "TP-dependent terms (an all-reduce wait per layer per peer GPU at idle power, identified by the whole "
                 "pool, is not by either pool without a TP8 model: twenty-ninth pass)")
_LOMO_A40_SMALLBATCH = (_A40 + "at batch 32 the 1-GPU Llama-3.1-8B is predicted 21 % slow (4-14 % slow from batch "
                        "64 up) and its J/token +28 % there: the pool's small-batch step of a 32-layer model is too "
                        "long (Mistral-Nemo-12B, 23 % slow at batch 32, meets the bar)")
_LOMO_A40_G27 = (_A40 + "Gemma-2-27B, left out, is predicted by eight other models: on 2 GPUs it draws 231-233 W per "
                 "GPU against 204 W predicted (J/token -19 / -20 %, MAPE 19.4 %; tokens/s within the bar, +8 / +10 %), "
                 "on 4 GPUs its tokens/s is 8-21 % fast (MAPE 15.2 %; J/token within the bar, -3 to -9 %). Gemma-2 "
                 "ran under FlashInfer, the harness's setting for its logit soft-capping, the other models under vLLM "
                 "0.5.4's default attention backend. Both met the bar while the host wait drew idle power; with it at "
                 "P_sync, as every overhead, the 2-GPU Gemma-2-9B and the 1-GPU Gemma-2-2B meet it instead "
                 "(docs/node.md, \"Twenty-ninth pass\", review)")
_SW_STACK = ("dcsim is 3-5× faster than the Splitwise profile DB: that DB was measured in 2023 on another "
             "serving stack, dcsim's latencies come from ML.ENERGY v3 (vLLM 0.11.1, 2025); " + VLLM_054_TO_0111)
_GPQA_POWER = ("long reasoning contexts (5.2-5.4k tokens per running sequence) on a profile fitted on chat (~1.5k): "
               "the KV-read-bound decode draws more than the chat fit's memory power allows (Qwen3-8B on 1 H100: 494 / "
               "608 / 689 W measured at batch 8 / 32 / 82, dcsim 425 / 451 / 468 W), so J/token is low")
_GPQA_LONG = ("long reasoning contexts (5.8k tokens per running sequence) on a profile fitted on chat: at batch 128 "
              "dcsim's decode step is 31 % longer than measured (35.8 vs 27.4 ms; 0.87x of the KV capacity held, so "
              "not a capacity effect), the KV reads and the MoE dispatch charged at the chat fit's efficiencies")
_GPQA_B200 = ("long reasoning contexts (~5.5k tokens per running sequence, 9k-token outputs) on the chat profile, "
              "now fitted at max_num_seqs <= 256 only (its repeated-request levels are not fitted): at batch 226-256 "
              "dcsim is 21-22 % slow, the KV-read-bound decode charged at the chat fit's efficiencies; the run itself "
              "sent GPQA's 198 prompts twice (max_num_seqs 256 > 198: every repeat finds its 224-token prompt cached, "
              "about 2 % of the prefill-plus-decode work)")
_GPQA_TP8 = ("long reasoning contexts (5-6k tokens per running sequence) on the chat profile of an 8-GPU replica: "
             "Qwen3-235B's 4 KV heads over 8 GPUs are each held and read twice (vLLM gives each GPU one KV head, "
             "replicated where the GPUs outnumber them: perf.kv_copies), and at GPQA's contexts the KV reads "
             "dominate the decode step, which dcsim charges too long: tokens/s -14 to -18 % (H100) and -32 % (B200 "
             "at batch 256; -33 % before docs/node.md's twenty-fourth pass), J/token +20 to +46 %. Qwen3-30B-A3B's "
             "GPQA rows show the same over-charge of "
             "long-context MoE decode with no replication and a chat-fitted MBU of 0.90 (H-Q30think-*), so it is not "
             "the memory efficiency alone; while the replicated reads were left out these rows read -7 / -12 % "
             "tokens/s on H100 (passing) and -22 % on B200, which hid part of it")
_REPEATS = ("ML.ENERGY sent its 1,024 chat prompts 2-6 times at these max_num_seqs (the benchmark's sweep configs "
            "[ML3-bench]); vLLM's prefix cache (on by default) serves a repeated prompt whose first copy is resident "
            "without prefill and shares its KV blocks. Not fitted, and dcsim has no prefix-cache model. Dense models: "
            "below max_num_seqs 1,024 dcsim stays within -17 to +9 % (few repeats find their prompt resident); at "
            ">= 1,024, where every repeat arrives while its original still runs, it is 17-38 % slow, between its "
            "prediction with every prompt prefilled and with none (B200 Llama-3.1-70B at 1,024: -28 %, and +48 % with "
            "none, measured with the profiles before the median-ITL fit). "
            "MoE models (Qwen3-235B on B200, Qwen3-30B-A3B on 2 H100s): dropping the prefill moves dcsim by < 2 %, so "
            "their shortfall (up to 42 % and 21 %) at batch 256-4,096 is not the prefix cache but a large-batch cost "
            "the model overstates (per-sequence overheads fitted at batch <= 256, charged on up to 4,096 sequences)")
_ITL_Q235_FP8 = ("dcsim's decode step at batch 384-512 is 8-15 % longer than the measured median ITL: the measured "
                 "step grows 72 us per added sequence from batch 384 to 511 against 92 us from 256 to 384, a flattening "
                 "the model's constant per-sequence cost does not reproduce (tokens/s +9 % at the same point)")

#: Rows that fail honestly: id -> (accepted error band in the row's metric, reason). A known failure
#: still fails the check when its |error| leaves the band, so a regression behind it is visible.
KNOWN_FAILURES: dict[str, tuple[float, str]] = {
    "fit-B200_qwen3-235b-a22b_bf16_tp4-tok_s": (0.15, _B200_Q235),
    "fit-B200_qwen3-235b-a22b_bf16_tp8-tok_s": (0.15, _B200_Q235),
    "fit-B200_qwen3-235b-a22b_bf16_tp8-j_tok": (0.15, _B200_Q235),
    "fit-B200_qwen3-235b-a22b_bf16_tp4-itl": (0.15, _B200_Q235),
    "fit-B200_qwen3-235b-a22b_bf16_tp8-itl": (0.20, _B200_Q235),
    "fit-H100-SXM_qwen3-235b-a22b_fp8_tp8-itl": (0.20, _ITL_Q235_FP8),
    "fit-A100-SXM4-40GB_gemma-2-2b_bf16_tp1-tok_s": (0.15, (
        "A100-SXM4-40GB Gemma-2-2B (ML.ENERGY v2.0, vLLM 0.5.4), in-sample: at max_num_seqs 512 the fit is 10.8 % "
        "fast (MAPE 3.6 % over its 7 levels): the measured tokens/s falls from 1,909 at max_num_seqs 320 to 1,818 at "
        "512 while the fit rises to 2,015 (no term of the node model falls with the batch); shipped, as its own fit "
        "is closer than the shipped pool's -5 to +13 % (MAPE 4.3 %, +13.4 % at 512; +14 to +61 % before the "
        "twenty-ninth pass's host wait; docs/node.md, \"A100-SXM4-40GB\")")),
    "H-DSV31-B200-bs8-j_tok": (0.25, _TRANSFER + "; at batch 8 tokens/s is within 16 % (served expert-parallel over "
                               "the 8 GPUs as measured; the FP8 cost per layer is in the pool) and the pool's power "
                               "above the measured 482 W per GPU: +20 % J/token (+73 % until the twenty-fourth pass, "
                               "docs/node.md, when the pool's P_sync was 692 W, its P_compute and P_memory, and the MoE "
                               "dispatch drew P_memory; 343 W now)"),
    "H-DSV31-B200-bs256-j_tok": (0.30, _TRANSFER + "; at batch 256 the pool's power is now below the measured (J/token "
                                 "-27 %; -12 % until the twenty-fourth pass, whose B200 pool draws P_sync 343 W for "
                                 "overheads instead of 692 W): the power the dense pool learns does not carry to a "
                                 "256-expert MLA model at large batch either way"),
    "H-DSV31-B200-bs256-tok_s": (0.30, _TRANSFER + "; MLA attention and 256-expert routing are not in the pool"),
    "H-L405bf16-B200-bs8-tok_s": (0.30, "transferred (pooled B200) parameters: Llama-3.1-405B BF16 on 8xB200 at batch 8 "
                                  "is slower than the pool predicts now that the FP8 cost no longer inflates the pool's "
                                  "per-layer overhead t_layer (-7 % before it): 126 layers at TP8 carry more "
                                  "per-layer synchronisation than the pool's TP1-TP4 groups, in BF16 too, so part of "
                                  "405B-FP8's excess is depth and TP, not FP8"),
    "H-L405bf16-B200-bs512-tok_s": (0.25, "transferred (pooled B200) parameters: at batch 510 the pool's per-sequence "
                                    "cost per layer, charged on 126 layers, makes the step 20 % slow (-15 % until the "
                                    "twenty-fourth pass, docs/node.md, whose B200 pool fits a larger per-layer and "
                                    "per-sequence cost once its overheads draw P_sync 343 W instead of 692 W): the "
                                    "depth-scaled per-sequence overhead of the H100 70Bs' leave-one-model-out rows"),
    "H-Q235think-bf16-gpqa-B200x4-bs256-tok_s": (0.25, _GPQA_B200),
    "H-Q235think-bf16-gpqa-B200x4-bs256-j_tok": (0.25, _GPQA_B200),
    "H-Q235think-bf16-gpqa-B200x8-bs256-tok_s": (0.35, _GPQA_TP8),
    "H-Q235think-bf16-gpqa-B200x8-bs256-j_tok": (0.50, _GPQA_TP8 + "; +46 % since the twenty-fourth pass's refit "
                                                 "(the MoE dispatch at P_sync: +42 % before)"),
    "H-Q235think-bf16-gpqa-B200x8-bs64-j_tok": (0.25, _GPQA_TP8 + "; +21.5 % since the twenty-fourth pass's refit "
                                                "(+18 % before)"),
    "H-Q235think-bf16-gpqa-bs16-j_tok": (0.25, _GPQA_TP8),
    "H-Q235think-gpqa-bs128-j_tok": (0.25, _GPQA_TP8),
    # measured with the request list sent 2-6 times: not fitted, dcsim slower (no prefix-cache hits modelled)
    "REP-B200_llama-3.1-70b_bf16_tp2-tok_s": (0.40, _REPEATS),
    "REP-B200_llama-3.1-70b_bf16_tp2-j_tok": (0.75, _REPEATS),
    "REP-B200_llama-3.3-70b_bf16_tp2-tok_s": (0.30, _REPEATS),
    "REP-B200_llama-3.3-70b_bf16_tp2-j_tok": (0.45, _REPEATS),
    "REP-B200_qwen3-235b-a22b_bf16_tp4-tok_s": (0.50, _REPEATS),
    "REP-B200_qwen3-235b-a22b_bf16_tp4-j_tok": (0.50, _REPEATS),
    "REP-B200_qwen3-235b-a22b_bf16_tp8-tok_s": (0.45, _REPEATS),
    "REP-H100-SXM_qwen3-30b-a3b_bf16_tp2-tok_s": (0.25, _REPEATS),
    "H-Q8-gpqa-bs96-tok_s": (0.25, _GPQA_POWER + "; and at max_num_seqs 96 the measured batch (82) at the GPQA "
                             "context (5.3k tokens) holds 1.16x the replica's KV capacity (377k tokens), which vLLM "
                             "cannot keep resident, while dcsim's steady state reads it all (step 34.9 vs 26.3 ms)"),
    "H-Q30think-gpqa-bs128-tok_s": (0.30, _GPQA_LONG),
    "H-Q30think-gpqa-bs128-j_tok": (0.30, _GPQA_LONG),
    "SW-prompt-512x1": (0.80, _SW_STACK),
    "SW-token-b1": (0.75, _SW_STACK),
    "SW-prompt-512x64": (0.80, _SW_STACK),
    "SW-token-b64": (0.80, _SW_STACK),
    "PD-decode": (0.20, "dcsim's H100 batch-1 decode power (0.53×TDP, 70B profile on Llama-2-70B TP8) is work-based "
                  "and follows the ML.ENERGY small-batch points it is fitted on; the range comes from other GPUs and "
                  "models ([ILL] H200; Splitwise A100 TP8 0.43-0.46, which dcsim's A100 profiles reproduce, rows "
                  "SWA-*): no H100 batch-1 decode measurement was found (searched again in the second pass: "
                  "ML.ENERGY v3's smallest point is max_num_seqs 8, POLCA and Splitwise characterise A100)"),
    "V7-measured": (0.10, "issue 14.3 rule: full load = geometric mean of the datasheet maximum (10.2 kW) and this "
                    "gpu-burn measurement (8.48 kW), so that both are within 10 %; ML.ENERGY is GPU-only and no "
                    "inference wall-power measurement of a DGX was found to pick between them"),
    "PUE-gap": (0.20, "the 'average' configuration gives 1.47 over a temperate year (-6 %, within its own ±10 %); the "
                "gap compounds that; Uptime's 1.56 is a global mix of climates and facility ages"),
}
#: issue 14.4's transfer bar, as fractions, per leave-one-model-out metric: MAPE on tokens/s and on J/token at most
#: 15 %, no point beyond 25 % (the issue's acceptance); the one place it is stated (cases_transfer, the known-failure
#: bands, the transfer table and the tests read it)
LOMO_BAR = {"mape_tok_s": 0.15, "mape_j_per_tok": 0.15, "max_err_tok_s": 0.25, "max_err_j_per_tok": 0.25}


def meets_lomo_bar(row: dict) -> bool:
    """Whether a leave-one-model-out row (``*_pct`` errors, %) meets :data:`LOMO_BAR`."""
    return all(row[k + "_pct"] <= 100 * tol for k, tol in LOMO_BAR.items())


_LOMO_BANDS = {  # accepted |error| per leave-one-model-out row and why: a metric beyond the bar (LOMO_BAR), a known
    # failure, is given the observed error plus at least 1 point, rounded up to the next 5 % (so that a last-digit
    # change is no failure; 59.89 % had a band of 60 until session 50's review); a metric within the bar passes on
    # the bar and is no known failure (its entry, the observed error rounded up to the next 5 %, is not read)
    # MAPE tok/s, MAPE J/tok, max tok/s, max J/tok; regenerate the table with `dcsim calibrate ... --pool`
    "A100-SXM4-80GB_llama-2-70b_bf16_tp2": ((0.20, 0.10, 0.25, 0.25), _LOMO_A100),
    "A100-SXM4-80GB_llama-2-70b_bf16_tp8": ((0.25, 0.15, 0.50, 0.20), _LOMO_A100),
    # A100-SXM4-40GB (ML.ENERGY v2.0, vLLM 0.5.4): Gemma-2-2B, Gemma-2-9B TP1 and TP2, Mistral-7B and Mistral-Nemo meet
    # the bar (earlier bands: docs/node.md, "Twenty-ninth pass")
    "A100-SXM4-40GB_gemma-2-27b_bf16_tp2": ((0.10, 0.25, 0.15, 0.20), _LOMO_A40_G27),
    "A100-SXM4-40GB_gemma-2-27b_bf16_tp4": ((0.20, 0.10, 0.25, 0.10), _LOMO_A40_G27),
    "A100-SXM4-40GB_llama-3.1-70b_bf16_tp8": ((0.20, 0.30, 0.55, 0.40), _LOMO_A40_TP8),
    "A100-SXM4-40GB_llama-3.1-8b_bf16_tp1": ((0.15, 0.15, 0.25, 0.30), _LOMO_A40_SMALLBATCH),
    "A100-SXM4-40GB_mistral-large-2407_bf16_tp8": ((0.15, 0.10, 0.35, 0.15), _LOMO_A40_TP8),
    "B200_llama-3.1-405b_fp8_tp4": ((0.15, 0.05, 0.30, 0.10), _LOMO_B200),
    "B200_qwen3-235b-a22b_bf16_tp4": ((0.25, 0.20, 0.35, 0.30), _LOMO_B200_MOE),
    "B200_qwen3-235b-a22b_bf16_tp8": ((0.25, 0.25, 0.40, 0.30), _LOMO_B200_MOE),
    "B200_qwen3-235b-a22b_fp8_tp2": ((0.10, 0.45, 0.20, 0.50), _LOMO_B200_MOE),
    "H100-SXM_llama-3.1-70b_bf16_tp4": ((0.15, 0.25, 0.30, 0.35), _LOMO_DEPTH),
    "H100-SXM_llama-3.3-70b_bf16_tp4": ((0.15, 0.15, 0.30, 0.30), _LOMO_DEPTH),
    # H100 bands re-set by the rule after the H100 pool's host-wait refit (session 52; docs/node.md, thirtieth pass):
    # Maverick (0.10, 0.20, 0.25, 0.30), Qwen3-30B-A3B TP1 (0.25, 0.35, 0.30, 0.50), TP2 (0.20, 0.25, 0.30, 0.60) before
    "H100-SXM_llama-4-maverick_fp8_tp8": ((0.10, 0.20, 0.20, 0.35), _LOMO_POWER),
    "H100-SXM_llama-4-scout_bf16_tp4": ((0.45, 0.25, 0.45, 0.25), _LOMO_SCOUT),
    "H100-SXM_llama-4-scout_bf16_tp8": ((0.60, 0.25, 0.70, 0.25), _LOMO_SCOUT),
    # H100 Qwen3-235B BF16 TP8 meets the bar since the twenty-fourth pass (12.3 / 9.8 %, worst 21.9 / 23.5 %)
    "H100-SXM_qwen3-235b-a22b_fp8_tp4": ((0.10, 0.35, 0.15, 0.45), _LOMO_POWER),
    "H100-SXM_qwen3-30b-a3b_bf16_tp1": ((0.25, 0.30, 0.30, 0.50), _LOMO_MOE),
    "H100-SXM_qwen3-30b-a3b_bf16_tp2": ((0.20, 0.25, 0.30, 0.55), _LOMO_MOE),
}
for _prof, (_bands, _why) in _LOMO_BANDS.items():
    for (_key, _tol), _band in zip(LOMO_BAR.items(), _bands):
        if _band > _tol:
            KNOWN_FAILURES[f"LOMO-{_prof}-{_key}"] = (_band, _why)


@dataclass(frozen=True)
class Case:
    """One published figure vs dcsim's value for the same inputs."""

    id: str
    group: str
    quantity: str
    unit: str
    inputs: str
    source: str
    published: float
    dcsim: float
    tol: float
    kind: str                      # calibrated | held-out | replay
    metric: str = "rel"            # rel | abs | range
    published_hi: float | None = None
    note: str = ""

    @property
    def error(self) -> float:
        """Signed error in the row's metric (fraction for rel/range, unit for abs)."""
        d, p = self.dcsim, self.published
        if self.metric == "rel":
            return d / p - 1.0
        if self.metric == "abs":
            return d - p
        lo, hi = p, self.published_hi
        if d < lo:
            return d / lo - 1.0
        if d > hi:
            return d / hi - 1.0
        return 0.0

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.dcsim)) and abs(self.error) <= self.tol + 1e-12

    @property
    def known_failure(self) -> str | None:
        """The reason this row is accepted to fail (None if it is not a known failure)."""
        k = KNOWN_FAILURES.get(self.id)
        return None if k is None else k[1]

    @property
    def band(self) -> float | None:
        """Accepted |error| of a known failure (in the row's metric), else None."""
        k = KNOWN_FAILURES.get(self.id)
        return None if k is None else k[0]

    @property
    def within_band(self) -> bool:
        """A known failure still inside its accepted error band."""
        return self.band is not None and bool(np.isfinite(self.dcsim)) and abs(self.error) <= self.band + 1e-12

    @property
    def failed(self) -> bool:
        """Outside its tolerance and not a known failure inside its band: fails ``--check``."""
        return not self.passed and not self.within_band

    def as_dict(self) -> dict:
        return {"id": self.id, "group": self.group, "quantity": self.quantity, "unit": self.unit,
                "inputs": self.inputs, "source": self.source, "published": self.published,
                "published_hi": self.published_hi, "dcsim": self.dcsim, "error": self.error,
                "metric": self.metric, "tol": self.tol, "kind": self.kind, "passed": self.passed,
                "known_failure": self.known_failure, "band": self.band, "failed": self.failed, "note": self.note}


# ----------------------------------------------------------------------------- data access
def _node(gpu: str, model: str, precision: str, tp: int, profile: str | None = None, **kw):
    from dcsim.node import build_node
    from dcsim.scenario.node import NodeSpec
    return build_node(NodeSpec(gpu=gpu, model=model, precision=precision, tensor_parallel=tp, profile=profile, **kw))


def row_errors(node, rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Relative errors (dcsim / measured - 1) of output tokens/s and GPU J/token of a node at measured load rows."""
    f = lambda k: np.array([float(r[k]) for r in rows])  # noqa: E731
    s = node.steady_state(f("batch"), f("mean_in"), f("mean_out"), decode_ctx=np.array([row_decode_ctx(r) for r in rows]),
                          prompt_scv=np.array([row_prompt_scv(r) for r in rows]))
    return s.throughput_tok_s / f("output_tok_s") - 1.0, s.gpu_power_w / s.throughput_tok_s / f("j_per_out_tok") - 1.0


def worst_error_cases(cid: str, group: str, what: str, et: np.ndarray, ej: np.ndarray,
                      inputs: Callable[[int, np.ndarray], str], source: str, tol: float, kind: str) -> list[Case]:
    """Two rows, ``{cid}-tok_s`` and ``{cid}-j_tok``: the worst relative error of tokens/s and of J/token over a set of
    points (``inputs(i, e)`` describes the set, ``i`` the worst point)."""
    out = []
    for q, e in (("tok/s", et), ("J/tok", ej)):
        i = int(np.argmax(np.abs(e)))
        out.append(Case(f"{cid}-{'tok_s' if q == 'tok/s' else 'j_tok'}", group, f"worst {q} error {what}", "%",
                        inputs(i, e), source, 0.0, float(e[i]), tol, kind, "abs"))
    return out


def measured_rows(file: str) -> list[dict]:
    """Rows of a shipped measurement CSV (``dcsim/data/measurements``)."""
    with open(MEASUREMENTS / file, newline="") as f:
        return list(csv.DictReader(f))


def measured(file: str, gpu: str, max_num_seqs: int, n_gpus: int | None = None) -> dict:
    """The shipped (calibration) row of ``file`` for ``gpu`` (on ``n_gpus`` GPUs, if given) at ``max_num_seqs``."""
    rows = [r for r in measured_rows(file) if r.get("kind", "load") == "load" and r["gpu"] == gpu
            and int(r["max_num_seqs"]) == max_num_seqs and (n_gpus is None or int(r["n_gpus"]) == n_gpus)]
    if len(rows) != 1:
        raise LookupError(f"{file}: {len(rows)} rows for {gpu} max_num_seqs={max_num_seqs}")
    r = rows[0]
    dctx = (r.get("decode_ctx") or "").strip()
    return {"batch": float(r["batch"]), "mean_in": float(r["mean_in"]), "mean_out": float(r["mean_out"]),
            "decode_ctx": float(dctx) if dctx else None, "prompt_scv": row_prompt_scv(r), "tok_s": float(r["output_tok_s"]), "gpu_w": float(r["gpu_power_w"]),
            "j_tok": float(r["j_per_out_tok"]), "itl_ms": float(r["median_itl_ms"]), "n_gpus": int(r["n_gpus"])}


def ml3_config(data_dir: Path, file: str, gpu: str, n_gpus: int, max_num_seqs: int, mean_in: float) -> dict:
    """A raw ML.ENERGY v3 configuration (duplicated seeds averaged) [ML3]; ``decode_ctx`` from the
    task's output-length histogram (residence-weighted, as the calibration rows)."""
    d = json.loads((data_dir / "ml-energy-v3" / file).read_text())
    cs = [c for c in d["configurations"] if c["gpu_model"] == gpu and c["num_gpus"] == n_gpus
          and c["max_num_seqs"] == max_num_seqs]
    if not cs:
        raise LookupError(f"{file}: no {gpu}x{n_gpus} max_num_seqs={max_num_seqs}")
    m = lambda k: float(np.mean([c[k] for c in cs]))  # noqa: E731
    hist = d["output_length_distribution"]
    return {"batch": m("avg_batch_size"), "mean_out": m("avg_output_len"),
            "decode_ctx": mean_in + residence_output_context(hist["bins"], hist["counts"], m("avg_output_len")),
            "prompt_scv": ML3_PROMPT_SCV,
            "tok_s": m("output_throughput_tokens_per_sec"), "gpu_w": m("avg_power_watts"),
            "j_tok": m("energy_per_token_joules"), "itl_ms": m("median_itl_ms"), "n_seeds": len(cs)}


def _ml3_tag(file: str) -> str:
    return f"[ML3] ml-energy/leaderboard@0cd52dab public/data/models/{file}"


# ----------------------------------------------------------------------------- cases
def _chat_j_tok(node, pt: dict) -> float:
    """dcsim's GPU J/out-token at a measured ML.ENERGY chat point (its batch, output length, context and prompt spread)."""
    return float(node.energy_per_output_token(pt["batch"], MEAN_IN_CHAT, pt["mean_out"], decode_ctx=pt["decode_ctx"],
                                              prompt_scv=pt["prompt_scv"]))


def load_point_cases(case_id: str, group: str, node, pt: dict, mean_in: float, src: str, kind: str,
                     label: str, quantities=("tok_s", "j_tok"), tol: float | None = None, note: str = "") -> list[Case]:
    """tok/s, J/out-token, GPU W per GPU of a steady-state serving point."""
    tol = tol if tol is not None else (TOL_CALIBRATED if kind == "calibrated" else TOL_HELD_OUT)
    s = node.steady_state(pt["batch"], mean_in, pt["mean_out"], decode_ctx=pt.get("decode_ctx"),
                          prompt_scv=pt.get("prompt_scv", 0.0))
    thr, gw = float(s.throughput_tok_s), float(s.gpu_power_w)
    tp = node.gpus_per_replica
    inputs = f"{label}, avg batch {pt['batch']:.0f}, in {mean_in:.0f} / out {pt['mean_out']:.0f} tok"
    vals = {"tok_s": ("output throughput", "tok/s", pt["tok_s"], thr),
            "j_tok": ("GPU energy per output token", "J/tok", pt["j_tok"], gw / thr),
            "w_gpu": ("GPU power per GPU", "W", pt["gpu_w"] / tp, gw / tp),
            "gpu_w": ("GPU power (replica sum)", "W", pt["gpu_w"], gw)}
    return [Case(f"{case_id}-{q}", group, vals[q][0], vals[q][1], inputs, src, vals[q][2], vals[q][3], tol, kind,
                 note=note) for q in quantities]


def median_itl_ms(node, batch: float, mean_in: float, mean_out: float, decode_ctx: float | None = None,
                  prompt_scv: float = 0.0) -> float:
    """Median inter-token latency (ms) of ``node`` in steady state (:func:`dcsim.node.step.median_step`) with
    ``batch`` sequences holding ``decode_ctx`` tokens each (default in + out/2)."""
    return 1e3 * float(median_step(node.step_params(1.0), batch, mean_in, mean_out,
                                   decode_context(mean_in, mean_out, decode_ctx), prompt_scv, node.tokens_per_step))


def cases_mlenergy_calibrated() -> list[Case]:
    """CALIBRATION D V1-V4 and every shipped profile's fit, against the points it was fitted on."""
    from dcsim.node.catalog import shipped_profiles
    out: list[Case] = []
    g = "ML.ENERGY v3 load points (calibrated)"
    f8, f70, f405 = "mlenergy_llama-3.1-8b.csv", "mlenergy_llama-3.1-70b.csv", "mlenergy_llama-3.1-405b-fp8.csv"
    h8 = _node("H100-SXM", "llama-3.1-8b", "bf16", 1)
    src8 = "[ML3] Llama-3.1-8B-Instruct lm-arena-chat (CALIBRATION A1, D V1/V2)"
    p = measured(f8, "H100-SXM", 128)
    out += load_point_cases("V1", g, h8, p, MEAN_IN_CHAT, src8, "calibrated", "Llama-3.1-8B BF16, 1×H100",
                            ("tok_s", "gpu_w", "j_tok"))
    for lvl in (8, 512):
        p = measured(f8, "H100-SXM", lvl)
        out += load_point_cases(f"V2-bs{lvl}", g, h8, p, MEAN_IN_CHAT, src8, "calibrated",
                                "Llama-3.1-8B BF16, 1×H100", ("tok_s", "w_gpu", "j_tok"))
    # V2 trend: the J/tok drop from bs 8 to bs 512 (published 6.5x) and monotonicity
    lo, hi = measured(f8, "H100-SXM", 8), measured(f8, "H100-SXM", 512)
    jl = _chat_j_tok(h8, lo)
    jh = _chat_j_tok(h8, hi)
    out.append(Case("V2-drop", g, "J/tok drop bs 8 → 512", "×", "Llama-3.1-8B BF16, 1×H100", src8,
                    lo["j_tok"] / hi["j_tok"], jl / jh, TOL_CALIBRATED, "calibrated"))
    lv = [int(r["max_num_seqs"]) for r in measured_rows(f8) if r["gpu"] == "H100-SXM"]
    pts = [measured(f8, "H100-SXM", k) for k in sorted(lv)]
    js = np.array([_chat_j_tok(h8, q)
                   for q in pts
                   if q["batch"] <= 512])
    out.append(Case("V2-monotone", g, "J/tok non-increasing in batch (1 = yes)", "bool",
                    "Llama-3.1-8B BF16, 1×H100, bs 8…512", src8, 1.0, float(np.all(np.diff(js) <= 0)), 0.0,
                    "calibrated", "abs", note="V2 requires a monotone trend"))
    # V3: 70B H100x4 vs B200x2 at max_num_seqs 256
    src70 = "[ML3] Llama-3.1-70B-Instruct lm-arena-chat (CALIBRATION D V3)"
    h70 = _node("H100-SXM", "llama-3.1-70b", "bf16", 4)
    b70 = _node("B200", "llama-3.1-70b", "bf16", 2)
    ph, pb = measured(f70, "H100-SXM", 256), measured(f70, "B200", 256)
    out += load_point_cases("V3-H100", g, h70, ph, MEAN_IN_CHAT, src70, "calibrated", "Llama-3.1-70B BF16, 4×H100 TP4",
                            ("tok_s", "gpu_w", "j_tok"))
    out += load_point_cases("V3-B200", g, b70, pb, MEAN_IN_CHAT, src70, "calibrated", "Llama-3.1-70B BF16, 2×B200 TP2",
                            ("tok_s", "gpu_w", "j_tok"))
    jh_ = _chat_j_tok(h70, ph)
    jb_ = _chat_j_tok(b70, pb)
    out.append(Case("V3-ratio", g, "J/tok B200 ÷ H100", "ratio", "Llama-3.1-70B BF16, max_num_seqs 256", src70,
                    pb["j_tok"] / ph["j_tok"], jb_ / jh_, 0.05, "calibrated", "abs", note="V3: ratio ±0.05"))
    # same check as V3's ratio for the other two models calibrated on both GPUs (max_num_seqs 256)
    # (Qwen3-235B-FP8 at 128: its 2-B200 run at 256 sent the request list twice, a point not fitted)
    for cid, file, model, prec, tb, th, lvl in (("R-405B", f405, "llama-3.1-405b", "fp8", 4, 8, 256),
                                                ("R-Q235", "mlenergy_qwen3-235b-a22b-fp8.csv", "qwen3-235b-a22b", "fp8",
                                                 2, 8, 128)):
        nb, nh = _node("B200", model, prec, tb), _node("H100-SXM", model, prec, th)
        qb, qh = measured(file, "B200", lvl, tb), measured(file, "H100-SXM", lvl, th)
        rb = _chat_j_tok(nb, qb)
        rh = _chat_j_tok(nh, qh)
        out.append(Case(f"{cid}-ratio", g, "J/tok B200 ÷ H100", "ratio",
                        f"{model} {prec.upper()}, {tb}×B200 vs {th}×H100, max_num_seqs {lvl}", f"[ML3] {file}",
                        qb["j_tok"] / qh["j_tok"], rb / rh, 0.05, "calibrated", "abs", note="V3: ratio ±0.05"))
    # V4: 405B-FP8 on 8xH100 at bs 8 and 256
    src405 = "[ML3] Llama-3.1-405B-Instruct-FP8 lm-arena-chat (CALIBRATION D V4)"
    h405 = _node("H100-SXM", "llama-3.1-405b", "fp8", 8)
    for lvl in (8, 256):
        out += load_point_cases(f"V4-bs{lvl}", g, h405, measured(f405, "H100-SXM", lvl), MEAN_IN_CHAT, src405,
                                "calibrated", "Llama-3.1-405B FP8, 8×H100 TP8", ("w_gpu", "j_tok"))
    grep = "ML.ENERGY v3 load points measured with repeated requests (held-out, not fitted)"
    # every shipped profile: worst error over all the points it was fitted on
    for name, prof in shipped_profiles().items():
        key = profile_key(prof)
        node = _node(*key, profile=name)
        files = [f for f in prof.get("measurements", []) if f.startswith("mlenergy")]
        every = [r for f in files for r in measured_rows(f) if r.get("kind", "load") == "load" and group_key(r) == key]
        # rows measured with the request list sent several times are not fitted (prefix-cache hits): own rows below
        rows = [r for r in every if fitted_load(r)]
        rep = [r for r in every if not fitted_load(r)]
        if rep:
            lv = [f"{r['max_num_seqs']} x{row_request_repeats(r)}" for r in rep]
            out += worst_error_cases(
                f"REP-{name}", grep, "at the repeated-request points", *row_errors(node, rep),
                lambda i, e: f"{name}: {len(rep)} points (max_num_seqs x repeats: {', '.join(lv)}), worst at {lv[i]}",
                f"[ML3] {', '.join(files)}; repeats [ML3-bench]", TOL_HELD_OUT, "held-out")
        if not rows:
            continue
        lvls = [int(r["max_num_seqs"]) for r in rows]
        out += worst_error_cases(f"fit-{name}", g, "over the fit", *row_errors(node, rows),
                                 lambda i, e: f"{name}: {len(rows)} points, worst at max_num_seqs {lvls[i]}",
                                 f"[ML3] {', '.join(files)} (the {len(rows)} load rows fitted)", TOL_CALIBRATED,
                                 "calibrated")
        ir = [r for r in rows if row_itl_fitted(r)]
        if ir:
            ei = np.array([median_itl_ms(node, float(r["batch"]), float(r["mean_in"]), float(r["mean_out"]),
                                         row_decode_ctx(r), row_prompt_scv(r)) / float(r["median_itl_ms"]) - 1.0
                           for r in ir])
            i = int(np.argmax(np.abs(ei)))
            out.append(Case(f"fit-{name}-itl", g, "worst median ITL error over the fit", "%",
                            f"{name}: {len(ir)} points (decode-only median), worst at max_num_seqs "
                            f"{ir[i]['max_num_seqs']}", f"[ML3] {', '.join(files)} median_itl_ms", 0.0, float(ei[i]),
                            TOL_CALIBRATED, "calibrated", "abs"))
    return out


def cases_leave_out(levels: dict[str, tuple[str, str, str, int, tuple[int, ...]]] | None = None) -> list[Case]:
    """Refit a shipped profile without some batch levels and predict them (held-out)."""
    from dcsim.node import calibrate as cal
    levels = levels or {
        "LO-8B": ("mlenergy_llama-3.1-8b.csv", "H100-SXM", "llama-3.1-8b", 1, (96, 384)),
        "LO-70B": ("mlenergy_llama-3.1-70b.csv", "H100-SXM", "llama-3.1-70b", 4, (192, 384)),
    }
    g = "ML.ENERGY v3 leave-out refits (held-out)"
    out = []
    for cid, (file, gpu, model, tp, held) in levels.items():
        rows = cal.read_rows([MEASUREMENTS / file, MEASUREMENTS / "splitwise_h100_cap.csv"])
        load, caps = cal.select(rows, gpu, model, None, tp)
        prob = cal.Problem(gpu, [load], caps)
        lv = prob.g0.level
        keep = [load[i] for i in np.flatnonzero(~np.isin(lv, held))]
        test = np.flatnonzero(np.isin(lv, held))
        perf, pw = prob.unpack(cal.fit(cal.Problem(gpu, [keep], caps)).x)
        tput, jt, _ = prob.predict(perf, pw, prob.g0, test)
        for k, i in enumerate(test):
            lvl = int(lv[i])
            inputs = (f"{model} on {tp}×{gpu}, refit without max_num_seqs {', '.join(map(str, held))}; "
                      f"avg batch {prob.g0.batch[i]:.0f}")
            src = load[i]["source"]
            out.append(Case(f"{cid}-bs{lvl}-tok_s", g, "output throughput", "tok/s", inputs, src,
                            float(prob.g0.tok_s[i]), float(tput[k]), TOL_HELD_OUT, "held-out"))
            out.append(Case(f"{cid}-bs{lvl}-j_tok", g, "GPU energy per output token", "J/tok", inputs, src,
                            float(prob.g0.j_tok[i]), float(jt[k]), TOL_HELD_OUT, "held-out"))
    return out


#: what the GPQA rows' ``inputs`` say of their profile: a chat-fitted calibration run at GPQA's lengths
GPQA_TASK = "GPQA reasoning task (profile fitted on chat)"
_Q235, _Q235FP8 = "Qwen__Qwen3-235B-A22B-Thinking-2507__gpqa.json", "Qwen__Qwen3-235B-A22B-Thinking-2507-FP8__gpqa.json"
#: ML.ENERGY v3 configurations not in dcsim/data/measurements, as ``cases_mlenergy_held_out`` scores them: id, json,
#: gpu (json), GPUs, catalog gpu, model, precision, profile note, mean_in, max_num_seqs levels
HELD_OUT_SPECS = [
    ("H-Q235think-gpqa", _Q235FP8, "H100", 8, "H100-SXM", "qwen3-235b-a22b", "fp8", GPQA_TASK, MEAN_IN_GPQA, (8, 32, 128)),
    # the other GPQA runs of models calibrated on chat: long reasoning outputs (8-10k tokens), KV-read-bound decode
    *((cid, file, jg, n, cat, model, prec, GPQA_TASK, MEAN_IN_GPQA, lv) for cid, file, jg, n, cat, model, prec, lv in (
        ("H-Q8-gpqa", "Qwen__Qwen3-8B__gpqa.json", "H100", 1, "H100-SXM", "qwen3-8b", "bf16", (8, 32, 96)),
        ("H-Q14-gpqa", "Qwen__Qwen3-14B__gpqa.json", "H100", 1, "H100-SXM", "qwen3-14b", "bf16", (8, 32, 64)),
        ("H-Q30think-gpqa", "Qwen__Qwen3-30B-A3B-Thinking-2507__gpqa.json", "H100", 2, "H100-SXM", "qwen3-30b-a3b",
         "bf16", (8, 32, 128)),
        ("H-Q235think-bf16-gpqa", _Q235, "H100", 8, "H100-SXM", "qwen3-235b-a22b", "bf16", (8, 16, 32)),
        ("H-Q235think-bf16-gpqa-B200x4", _Q235, "B200", 4, "B200", "qwen3-235b-a22b", "bf16", (8, 64, 256)),
        ("H-Q235think-bf16-gpqa-B200x8", _Q235, "B200", 8, "B200", "qwen3-235b-a22b", "bf16", (8, 64, 256)),
        ("H-Q235think-gpqa-B200x2", _Q235FP8, "B200", 2, "B200", "qwen3-235b-a22b", "fp8", (8, 32, 64)))),
    ("H-L405bf16-B200", "meta-llama__Llama-3.1-405B-Instruct__lm-arena-chat.json", "B200", 8, "B200",
     "llama-3.1-405b", "bf16", "BF16 on 8×B200: transferred (pooled B200)", MEAN_IN_CHAT, (8, 64, 512)),
    ("H-DSV31-B200", "deepseek-ai__DeepSeek-V3.1__lm-arena-chat.json", "B200", 8, "B200",
     "deepseek-v3", "fp8", "no DeepSeek profile: transferred (pooled B200)", MEAN_IN_CHAT, (8, 64, 256)),
]


def held_out_points(data_dir: Path, specs=None):
    """``(case id, spec, node, point)`` for every level of :data:`HELD_OUT_SPECS` (or ``specs``): the node served
    as measured (the MoE runs spread their experts over the GPUs, ``parallelization.expert_parallel``) and the raw
    configuration (:func:`ml3_config`)."""
    for spec in HELD_OUT_SPECS if specs is None else specs:
        cid, file, jgpu, n, gpu, model, prec, why, mean_in, lvls = spec
        cfg = json.loads((data_dir / "ml-energy-v3" / file).read_text())["configurations"]
        ep = max(c["parallelization"]["expert_parallel"] for c in cfg if c["gpu_model"] == jgpu and c["num_gpus"] == n)
        node = _node(gpu, model, prec, n, expert_parallel=True if ep > 1 else None)
        for lvl in lvls:
            yield f"{cid}-bs{lvl}", spec, node, ml3_config(data_dir, file, jgpu, n, lvl, mean_in)


def cases_mlenergy_held_out(data_dir: Path) -> list[Case]:
    """ML.ENERGY v3 configurations not in dcsim/data/measurements (raw JSONs) [ML3]."""
    g = "ML.ENERGY v3 configurations not used in calibration (held-out)"
    out: list[Case] = []
    for cid, (_, file, _, n, gpu, model, prec, why, mean_in, _), node, pt in held_out_points(data_dir):
        note = f"profile {node.profile.get('name', '?')}" + (f"; mean of {pt['n_seeds']} seeds" if pt["n_seeds"] > 1
                                                              else "")
        out += load_point_cases(cid, g, node, pt, mean_in, _ml3_tag(file), "held-out",
                                f"{model} {prec.upper()} {n}×{gpu}, {why}", ("tok_s", "j_tok"), note=note)
    return out


def context_carry_table(data_dir: Path | None = None) -> dict:
    """The measured carries of a calibration to longer contexts than it was fitted at: every GPQA row of
    :data:`HELD_OUT_SPECS` (a profile fitted on ML.ENERGY's chat rows, run at GPQA's 224-token prompts and 8-10k-token
    reasoning outputs: docs/validation.md rows ``H-*-gpqa-*``) with its decode context against the highest its profile
    was measured at (the profile's ``measured_lengths``), its errors (the rows' own, %) and whether they leave the
    profile's in-sample band. What :func:`dcsim.node.model.at_workload` takes its context band and threshold from."""
    data_dir = Path(data_dir) if data_dir is not None else DEFAULT_DATA
    rows = []
    for cid, spec, node, pt in held_out_points(data_dir, [s for s in HELD_OUT_SPECS if s[7] == GPQA_TASK]):
        mean_in = spec[8]
        et, ej = (c.error for c in load_point_cases(cid, "", node, pt, mean_in, "", "held-out", "", ("tok_s", "j_tok")))
        ctx_max = node.profile["measured_lengths"]["decode_context"][1]
        band = node.calibration["error_band_pct"]
        rows.append({"id": cid, "profile": str(node.profile["name"]), "batch": round(pt["batch"], 1),
                     "prompt_tokens": mean_in, "decode_context": round(pt["decode_ctx"], 1),
                     "measured_context_max": ctx_max, "context_x": round(pt["decode_ctx"] / ctx_max, 2),
                     "err_tok_s_pct": round(100 * et, 2), "err_j_per_tok_pct": round(100 * ej, 2),
                     "beyond_band": bool(abs(100 * et) > band["tok_s_pct"] or abs(100 * ej) > band["j_per_tok_pct"])})
    return {"_source": "python -m dcsim.validation --context-carry (docs/validation.md rows H-*-gpqa-*; [ML3])",
            "rows": rows}


def write_context_carry(path: str | Path, data_dir: Path | None = None) -> None:
    """Write :func:`context_carry_table` as YAML, with a header naming the command."""
    import yaml
    head = ("# Generated by `python -m dcsim.validation --context-carry dcsim/data/context_carry.yaml`: do not edit.\n"
            "# Chat-fitted profiles run at ML.ENERGY v3's GPQA lengths (docs/validation.md rows H-*-gpqa-*): decode\n"
            "# context against the profile's measured range, and the errors (%). Read by\n"
            "# dcsim.node.catalog.context_carry.\n")
    Path(path).write_text(head + yaml.safe_dump(context_carry_table(data_dir), sort_keys=False, width=120))


def cases_itl() -> list[Case]:
    """Median ITL vs dcsim's iteration at the median prefill (fitted where that iteration is decode-only)."""
    g = "Median inter-token latency"
    out = []
    for cid, file, gpu, model, prec, tp, lvls in (
            ("ITL-8B", "mlenergy_llama-3.1-8b.csv", "H100-SXM", "llama-3.1-8b", "bf16", 1, (8, 128, 512)),
            ("ITL-70B", "mlenergy_llama-3.1-70b.csv", "H100-SXM", "llama-3.1-70b", "bf16", 4, (8, 256)),
            ("ITL-405B", "mlenergy_llama-3.1-405b-fp8.csv", "H100-SXM", "llama-3.1-405b", "fp8", 8, (8, 256))):
        node = _node(gpu, model, prec, tp)
        for lvl in lvls:
            p = measured(file, gpu, lvl)
            row = [r for r in measured_rows(file) if r.get("kind", "load") == "load" and r["gpu"] == gpu
                   and int(r["max_num_seqs"]) == lvl][0]
            fitted = row_itl_fitted(row)
            x = median_prefill_tokens(p["batch"] / p["mean_out"], p["mean_in"], p["prompt_scv"])
            out.append(Case(f"{cid}-bs{lvl}", g, "median ITL vs the median iteration", "ms",
                            f"{model} {prec.upper()} {tp}×{gpu}, avg batch {p['batch']:.0f}",
                            f"[ML3] {file} median_itl_ms (CALIBRATION D V1)", p["itl_ms"],
                            median_itl_ms(node, p["batch"], p["mean_in"], p["mean_out"], p["decode_ctx"],
                                          p["prompt_scv"]),
                            TOL_CALIBRATED if fitted else TOL_HELD_OUT, "calibrated" if fitted else "held-out",
                            note=("dcsim: decode-only iteration at the row's residence-weighted context (fitted)"
                                  if x == 0.0 else
                                  f"dcsim: the iteration at the median prefill ({x:.0f} prompt tokens: fewer than "
                                  f"half the iterations are decode-only, so the median depends on the assumed prompt "
                                  f"lengths; not fitted)")))
    return out


def cases_splitwise() -> list[Case]:
    """Power capping (CALIBRATION A5/C6) and prefill vs decode power of an 8×H100 server."""
    g = "Power capping and prefill/decode power, Llama-2-70B on 8×H100 (Splitwise)"
    node = _node("H100-SXM", "llama-2-70b", "bf16", 8, profile="H100-SXM_llama-3.1-70b_bf16_tp4")
    tdp = node.gpu.tdp_w
    f1 = node.step_fn(1.0)
    out = []
    src = ("[SWsim] Mutinifni/splitwise-sim@8f99e7d data/perf_model.csv, dgx-h100-pcap.yaml "
           "(CALIBRATION A5/C6; 70 % of 10.2 kW read as 0.7×TDP per GPU)")
    cap = 0.7 * tdp
    for cid, phase, it, pub in (("CAP-prefill-512x1", "prefill 512 tok, batch 1", (512.0, 0.0, 0.0, 512.0 ** 2 / 2), 1.30),
                                ("CAP-prefill-2048x8", "prefill 2048 tok, batch 8", (16384.0, 0.0, 0.0, 8 * 2048.0 ** 2 / 2), 1.30),
                                ("CAP-decode-b1", "decode batch 1, ctx 512", (0.0, 1.0, 512.0, 0.0), 1.00),
                                ("CAP-decode-b64", "decode batch 64, ctx 512", (0.0, 64.0, 64 * 512.0, 0.0), 1.00)):
        c = node.clock_for_step(cap, *it)
        lf = node.step_fn(c)(*it)[0] / f1(*it)[0]
        out.append(Case(cid, g, "latency × at a 70 % power cap", "×", f"{phase}, cap {cap:.0f} W/GPU",
                        src, pub, lf, TOL_CALIBRATED, "calibrated",
                        note="profile H100-SXM_llama-3.1-70b_bf16_tp4 (gamma fitted to these cap rows)"))
    src_l = ("[SWsim] Mutinifni/splitwise-sim@8f99e7d data/perf_model.csv, Llama-2-70B TP8 H100, means of "
             "the profile rows (CALIBRATION A5)")
    for cid, label, it, pub in (("SW-prompt-512x1", "prefill 512 tok, batch 1", (512.0, 0.0, 0.0, 512.0 ** 2 / 2), 55.5),
                                ("SW-token-b1", "decode step, batch 1, ctx 512", (0.0, 1.0, 512.0, 0.0), 30.5),
                                ("SW-prompt-512x64", "prefill 512 tok × batch 64", (512.0 * 64, 0.0, 0.0, 64 * 512.0 ** 2 / 2), 2942.0),
                                ("SW-token-b64", "decode step, batch 64, ctx 512", (0.0, 64.0, 64 * 512.0, 0.0), 50.0)):
        out.append(Case(cid, g, "iteration latency", "ms", label + ", uncapped", src_l, pub, 1e3 * f1(*it)[0],
                        TOL_HELD_OUT, "held-out", note="profile H100-SXM_llama-3.1-70b_bf16_tp4 (same architecture)"))
    pd = f1(0.0, 1.0, 512.0, 0.0)[1] / 8 / tdp
    for cid, label, it in (("PD-prefill-2048x8", "prefill 2048 tok × batch 8, uncapped", (16384.0, 0.0, 0.0, 8 * 2048.0 ** 2 / 2)),
                           ("PD-prefill-512x1", "prefill 512 tok × batch 1, uncapped", (512.0, 0.0, 0.0, 512.0 ** 2 / 2))):
        out.append(Case(cid, g, "prefill GPU power ÷ TDP", "×TDP", label,
                        "[SW] Patel et al. ISCA'24 (prompt phase compute-bound, power-hungry: 'near TDP', read as "
                        "0.9-1.0); [SWsim] A100 profile peak power ≈1.0 for prompts ≥2k (CALIBRATION A4/A5)",
                        0.9, f1(*it)[1] / 8 / tdp, 0.0, "held-out", "range", 1.0,
                        note="bound 0.9 is this table's reading of 'near TDP'"))
    out.append(Case("PD-decode", g, "decode GPU power ÷ TDP", "×TDP", "decode batch 1, ctx 512, uncapped",
                    "[ILL] arXiv 2605.11999: H200 decode 137-300 W of 700 W; [SWsim] A100 token phase 0.43-0.46 "
                    "(CALIBRATION A4/C6)", 137.0 / 700.0, pd, 0.0, "held-out", "range", 0.46,
                    note="range = union of the two sources (other GPUs/models; spread justifies a range)"))
    return out


def cases_a100_phases() -> list[Case]:
    """Splitwise's A100 characterisation, phase by phase (the A100 profiles are fitted on it).

    Batch-1 decode power: the request average of a 128-token prompt + 128 output tokens at batch 1
    (99 % of the request's time is decode). Prefill power: the request's peak power (the prefill
    step) for a 4096-token prompt. dcsim's values are recomputed through build_node/step_fn.
    """
    g = "Per-phase power, Llama-2-70B and BLOOM-176B on A100 (Splitwise characterisation, calibrated)"
    rows = [r for r in measured_rows("splitwise_a100_requests.csv") if r["kind"] == "request"]
    src = "[SWsim] Mutinifni/splitwise-sim@8f99e7d data/perf_model.csv (A100 rows), dcsim/data/measurements/splitwise_a100_requests.csv"
    out = []
    for model, tp in (("llama-2-70b", 2), ("llama-2-70b", 4), ("llama-2-70b", 8), ("bloom-176b", 8)):
        node = _node("A100-SXM4-80GB", model, "bf16", tp)
        step = node.step_fn()
        by = {(int(r["prompt_tokens"]), int(r["batch"])): r for r in rows
              if r["model"] == model and int(r["n_gpus"]) == tp}
        r = by[(128, 1)]
        n_out = float(r["output_tokens"])
        tpf, ppf = step(128.0, 0.0, 0.0, 128.0 ** 2 / 2)
        tdc, pdc = step(0.0, 1.0, 128.0 + 0.5 * n_out)
        avg = (tpf * ppf + (n_out - 1) * tdc * pdc) / (tpf + (n_out - 1) * tdc) / tp
        tag = f"{model} BF16 {tp}×A100"
        out.append(Case(f"SWA-{model}-tp{tp}-decode-b1-w", g, "batch-1 decode GPU power per GPU", "W",
                        f"{tag}, prompt 128, 128 tokens at batch 1 (request average)", src,
                        float(r["avg_gpu_power_w"]), float(avg), TOL_CALIBRATED, "calibrated"))
        out.append(Case(f"SWA-{model}-tp{tp}-decode-b1-ms", g, "batch-1 decode step time", "ms", f"{tag}, ctx ~192",
                        src, float(r["token_time_ms"]), 1e3 * tdc, TOL_CALIBRATED, "calibrated"))
        r = by[(4096, 1)]
        peak, tdp = float(r["peak_gpu_power_w"]), node.gpu.tdp_w
        out.append(Case(f"SWA-{model}-tp{tp}-prefill-w", g, "prefill GPU power per GPU (request peak)", "W",
                        f"{tag}, one 4096-token prompt", src, peak,
                        float(step(4096.0, 0.0, 0.0, 4096.0 ** 2 / 2)[1] / tp), TOL_CALIBRATED, "calibrated",
                        note=SWA_ABOVE_TDP_NOTE.format(tdp=tdp) if peak > tdp else ""))
    return out


#: why a Splitwise A100 prefill peak reads above the board limit (the rows it applies to: published > TDP)
SWA_ABOVE_TDP_NOTE = (
    "published above the A100's {tdp:.0f} W board limit, so not a per-GPU power a board sustains: Splitwise's "
    "perf_model.csv gives power normalised (these peaks above 1), and the extraction scales it by the {tdp:.0f} W "
    "TDP, an assumption (scripts/extract_mlenergy.py, the CSV's note); a normalised peak above 1 says that scale is not "
    "exactly the TDP, or that the peak is a short sample above the limit the board's power controller then pulls "
    "back. dcsim holds a GPU at the limit (the board-power law), so it reads at most {tdp:.0f} W here: the error of "
    "these rows is in part that scale, not the node model"
)


def cases_transfer() -> list[Case]:
    """Issue 14.4: each calibrated (GPU, model) pair predicted without its own data, by the pooled
    fit of the GPU's other models (the shipped ``leave_one_model_out`` table of every pooled profile,
    written by ``dcsim calibrate --pool``; tests/test_calibrate.py recomputes the A100 one)."""
    from dcsim.node.catalog import pooled_profiles
    g = "Transfer to uncalibrated models: leave-one-model-out (held-out)"
    out = []
    for gpu, pooled in pooled_profiles().items():
        for r in pooled["leave_one_model_out"]:
            inp = f"{r['profile']} from pooled {', '.join(p for p in r['pooled_from'])}"
            for q, (key, tol) in zip(("MAPE tok/s", "MAPE J/tok", "max |error| tok/s", "max |error| J/tok"),
                                     LOMO_BAR.items()):
                cid = f"LOMO-{r['profile']}-{key}"
                out.append(Case(cid, g, q, "%", inp, f"dcsim/data/profiles/pooled/{gpu}.yaml ({pooled['measurements'][0]} ...)",
                                0.0, r[key + "_pct"] / 100.0, tol, "held-out", "abs",
                                note=f"issue 14.4 acceptance: MAPE <= {100 * LOMO_BAR['mape_tok_s']:g} %, no point "
                                     f"beyond {100 * LOMO_BAR['max_err_tok_s']:g} %"))
    return out


def cases_dgx() -> list[Case]:
    """CALIBRATION D V7 and issue 14.3: server wall power at full load vs measurement and datasheets."""
    g = "Server wall power (V7, datasheets)"
    out = []
    for gpu, model, pub, src in (
            ("H100-SXM", "llama-3.1-8b", 10200.0, "[DGXH100] NVIDIA DGX H100 user guide: 10.2 kW maximum system power"),
            ("B200", "llama-3.1-8b", 14300.0, "[DGXB200] NVIDIA DGX B200 user guide: 14.3 kW"),
            ("A100-SXM4-80GB", "llama-3.1-8b", 6500.0, "[SWsim] dgx-a100.yaml / NVIDIA DGX A100 datasheet: 6.5 kW")):
        node = _node(gpu, model, "bf16", 1)
        full = float(node.wall_power(node.gpu.tdp_w)) * node.replicas_per_node
        out.append(Case(f"SRV-{gpu}-datasheet", g, "server wall power, GPUs at TDP, host at max", "W",
                        f"8×{gpu} at TDP", src, pub, full, 0.10, "calibrated",
                        note="issue 14.3: a fully loaded server within 10 % of its datasheet maximum"))
        if gpu == "H100-SXM":
            out.append(Case("V7-measured", g, "node wall power, GPUs at TDP (compute-heavy)", "W",
                            "8×H100 SXM, 700 W each",
                            "[LAT] Latif et al. IEEE Access 2025: 8.48 kW max incl. gpu-burn (8.4 kW training)",
                            8480.0, full, 0.05, "held-out",
                            note="±5 % (V7)"))
            out.append(Case("V7-nameplate", g, "node wall power ≤ nameplate", "W", "8×H100 SXM at TDP",
                            "[DGXH100] NVIDIA DGX H100 user guide: 10.2 kW (6×3.3 kW PSUs, 4+2)", 0.0, full, 0.0,
                            "held-out", "range", 10200.0))
    # idle: the lowest 1-s AC readings of MLPerf Inference power runs, logged while the harness loads its engines
    # before any work (the GPUs idle; CPUs busy loading, so host power is at or above its idle) — [MLP-PWR]
    for gpu, system, lo, hi, src in (
            ("H100-SXM", "Dell XE9680 (HGX H100, 2× Xeon 8470)", 1893.5, 1921.5,
             "mlcommons/inference_results_v4.0@3c4a1cf closed/Dell/results/XE9680_H100_SXM_80GBx8_TRT_MaxQ/resnet50/"
             "Offline/performance/power/server.json: PTDaemon Watts min 1,893.5 (ranging) and 1,921.5 W (testing)"),
            ("H100-SXM", "NVIDIA DGX H100", 2057.7, 2213.4,
             "mlcommons/inference_results_v3.1@eaf622a and v4.0@3c4a1cf closed/NVIDIA/results/DGX-H100_H100-SXM-80GBx8_"
             "TRT_MaxQ/resnet50/Offline/performance/power/server.json: PTDaemon Watts min 2,057.7 (v3.1) to 2,213.4 W (v4.0)"),
            ("A100-SXM4-80GB", "NVIDIA DGX A100", 1476.3, 1541.2,
             "mlcommons/inference_results_v2.1@c43f76f closed/NVIDIA/results/DGX-A100_A100-SXM-80GBx8_TRT_MaxQ/resnet50/"
             "Offline/performance/run_1/spl.txt: 1,476.3 W first sample, 1,535-1,541 W between warm-up bursts")):
        node = _node(gpu, "llama-3.1-8b", "bf16", 1)
        idle = float(node.wall_power(node.gpu.idle_w)) * node.replicas_per_node
        tag = "DGX" if "DGX" in system else "HGX-OEM"
        out.append(Case(f"SRV-{gpu}-idle-{tag}", g, "server wall power at idle (GPUs idle, host at its idle)", "W",
                        f"8×{gpu} idle; {system}", f"[MLP-PWR] {src}", lo, idle, 0.10, "held-out", "range", hi,
                        note="issue 14.3: idle server power sourced; the lowest readings of a run, not a controlled "
                             "idle (±10 %)"))
    return out


def annual_pue(facility: dict, it_w: float, liquid_fraction: float, preset: str = "temperate") -> float:
    """Energy-weighted PUE over a synthetic year (hourly), constant IT load."""
    from dcsim.scenario.facility import FacilitySpec
    from dcsim.thermal.facility import build_facility
    spec = FacilitySpec.model_validate({**facility, "weather": {"kind": "synthetic", "preset": preset}})
    fac = build_facility(spec, None, np.random.SeedSequence(0))
    t = np.arange(8760) * 3600.0
    t_db, t_wb = fac.weather.at(t)
    b = fac.breakdown(np.full(t.size, it_w), liquid_fraction, t_db, t_wb)
    return float(b["facility"].sum() / b["it"].sum())


#: The configurations of docs/facility.md ("What the defaults give").
PUE_AVERAGE = {"interconnect": "20 MW", "power_chain": {"ups_redundancy": 2},
               "cooling": {"kind": "chiller_plant", "heat_rejection": "dry_cooler", "chw_supply_t": 7,
                           "economizer": False, "fan_exponent": 0, "cop_adjust": -0.11, "air_delta_t": 13.9}}
PUE_HYPERSCALE = {"interconnect": "20 MW", "power_chain": {"ups_l0": 0.005, "ups_l1": 0.005},
                  "cooling": {"kind": "liquid"}}


def cases_pue() -> list[Case]:
    """CALIBRATION C1: annual PUE of an average vs a hyperscale facility under the plant model."""
    g = "Facility PUE (CALIBRATION C1)"
    avg = annual_pue(PUE_AVERAGE, 12e6, 0.0)
    hyp = annual_pue(PUE_HYPERSCALE, 12e6, 0.9)
    inp = "12 MW IT of a 20 MW site, synthetic temperate year (hourly), docs/facility.md configuration"
    return [
        Case("PUE-average", g, "annual PUE, average air-cooled facility", "–", inp + " 'average'",
             "[UPT] Uptime Institute global survey 2024: 1.56 (1.55-1.59 since ~2020)", 1.56, avg, TOL_CALIBRATED,
             "calibrated", note="configuration chosen by the facility model's author to represent an average site"),
        Case("PUE-hyperscale", g, "annual PUE, hyperscale liquid-cooled facility", "–", inp + " 'hyperscale liquid'",
             "[GOOG] Google fleet ~1.10 (2025 environmental report)", 1.10, hyp, TOL_CALIBRATED, "calibrated",
             note="configuration chosen by the facility model's author to represent a hyperscale site"),
        Case("PUE-gap", g, "PUE average − hyperscale", "–", inp, "[UPT] 1.56 − [GOOG] 1.10", 0.46, avg - hyp,
             TOL_CALIBRATED, "calibrated"),
    ]


def cases_trace() -> list[Case]:
    """CALIBRATION D V12: Azure 2023 conversation trace replay, and the fitted chat preset."""
    from dcsim.scenario.workload import WorkloadSpec
    from dcsim.workload import build_workload
    g = "Azure LLM inference 2023 conversation trace (V12)"
    wl = build_workload(WorkloadSpec(arrivals={"kind": "trace", "path": "azure-conv-2023"}),
                        np.random.SeedSequence(0), None)
    b = wl.sample(0.0, 4000.0)
    span = float(b.t[-1] - b.t[0])
    counts, _ = np.histogram(b.t - b.t[0], bins=np.arange(int(np.ceil(span / 60.0)) + 1) * 60.0)
    src = "[AZ23] Azure/AzurePublicDataset@b469a113 AzureLLMInferenceTrace_conv.csv (CALIBRATION E, D V12)"
    inp = "replay of azure-conv-2023 (dcsim.workload, kind: trace)"
    rows = [("V12-n", "requests", "req", 19366, len(b)),
            ("V12-span", "span", "s", 3502, span),
            ("V12-rate", "mean arrival rate", "req/s", 5.53, len(b) / span),
            ("V12-in-mean", "context tokens, mean", "tok", 1155, float(b.n_in.mean())),
            ("V12-in-median", "context tokens, median", "tok", 1020, float(np.median(b.n_in))),
            ("V12-out-mean", "output tokens, mean", "tok", 211, float(b.n_out.mean())),
            ("V12-out-median", "output tokens, median", "tok", 129, float(np.median(b.n_out))),
            ("V12-peak", "per-minute peak/mean", "ratio", 1.54, float(counts.max() / counts.mean()))]
    out = [Case(i, g, q, u, inp, src, float(p), float(d), TOL_REPLAY, "replay",
                note="tolerance: rounding of the published statistic") for i, q, u, p, d in rows]
    syn = build_workload(WorkloadSpec(arrivals={"kind": "poisson", "rate": 2000.0},
                                      classes=[{"name": "chat", "preset": "chat", "share": 1.0}]),
                         np.random.SeedSequence(12345), None)
    s = syn.sample(0.0, 100.0)
    inp = f"chat preset (lognormal fit), {len(s):,} sampled requests, seed 12345"
    for i, q, p, d in (("V12-syn-in-mean", "context tokens, mean", 1155, s.n_in.mean()),
                       ("V12-syn-in-median", "context tokens, median", 1020, np.median(s.n_in)),
                       ("V12-syn-out-mean", "output tokens, mean", 211, s.n_out.mean()),
                       ("V12-syn-out-median", "output tokens, median", 129, np.median(s.n_out))):
        out.append(Case(i, g, q, "tok", inp, src, float(p), float(d), 0.05, "calibrated",
                        note="V12: ±5 % for the synthetic generator"))
    return out


def cases_same_shape() -> list[Case]:
    """Issue 14.4's same-shape rule, held out: Llama-3.3-70B (a new post-training of Llama-3.1-70B's shape) predicted
    with the Llama-3.1-70B calibration of the same GPU and TP, as a transfer to a fine-tune or rename takes it
    (status ``same-architecture``), on its rows sent once."""
    g = "Same-shape transfer: a twin's calibration (held-out)"
    rows = [r for r in measured_rows("mlenergy_llama-3.3-70b.csv") if fitted_load(r)]
    out = []
    for gpu, tp in (("H100-SXM", 4), ("B200", 2)):
        rs = [r for r in rows if r["gpu"] == gpu and int(r["n_gpus"]) == tp]
        twin = f"{gpu}_llama-3.1-70b_bf16_tp{tp}"
        lv = [int(r["max_num_seqs"]) for r in rs]
        out += worst_error_cases(
            f"SA-{gpu}-llama-3.3-70b", g, "of Llama-3.3-70B on the Llama-3.1-70B profile",
            *row_errors(_node(gpu, "llama-3.3-70b", "bf16", tp, profile=twin), rs),
            lambda i, e: f"{tp}×{gpu}, {len(rs)} points (MAPE {np.mean(np.abs(e)) * 100:.1f} %), worst at "
                         f"max_num_seqs {lv[i]}",
            f"[ML3] mlenergy_llama-3.3-70b.csv; profile {twin}", TOL_HELD_OUT, "held-out")
    return out


def run_validation(data_dir: Path | None = None, leave_out: bool = True) -> list[Case]:
    """All cases (deterministic)."""
    data_dir = Path(data_dir) if data_dir is not None else DEFAULT_DATA
    builders: list[Callable[[], list[Case]]] = [
        cases_mlenergy_calibrated, lambda: cases_mlenergy_held_out(data_dir), cases_itl, cases_splitwise,
        cases_a100_phases, cases_transfer, cases_same_shape, cases_dgx, cases_pue, cases_trace]
    if leave_out:
        builders.insert(1, cases_leave_out)
    out: list[Case] = []
    for b in builders:
        out += b()
    ids = [c.id for c in out]
    if len(set(ids)) != len(ids):
        raise RuntimeError("duplicate case ids")
    return out


# ----------------------------------------------------------------------------- output
def _num(x: float) -> str:
    if not np.isfinite(x):
        return str(x)
    a = abs(x)
    if a == 0:
        return "0"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 0.1:
        return f"{x:.3f}"
    return f"{x:.4f}"


def _fmt_pub(c: Case) -> str:
    if c.metric == "range":
        return f"[{_num(c.published)}, {_num(c.published_hi)}]"
    if c.unit == "%":
        return "0 %"
    return _num(c.published)


def _fmt_val(c: Case) -> str:
    if c.unit == "%":
        return f"{c.dcsim * 100:+.1f} %"
    return _num(c.dcsim)


def _fmt_err(c: Case) -> str:
    if c.metric == "abs" and c.unit != "%":
        return f"{c.error:+.3g}"
    return f"{c.error * 100:+.1f} %"


def _fmt_tol(c: Case) -> str:
    if c.metric == "abs" and c.unit != "%":
        return f"±{c.tol:g}"
    return f"±{c.tol * 100:g} %"


def _fmt_band(c: Case) -> str:
    if c.metric == "abs" and c.unit != "%":
        return f"±{c.band:g}"
    return f"±{c.band * 100:g} %"


def status(c: Case) -> str:
    if c.passed:
        return "pass"
    if c.within_band:
        return "KNOWN FAIL"
    return "FAIL (out of band)" if c.known_failure else "FAIL"


def summary(cases: list[Case]) -> dict:
    """Counts and the worst errors per kind."""
    out = {"rows": len(cases), "pass": sum(c.passed for c in cases),
           "known_fail": sum((not c.passed) and c.within_band for c in cases),
           "fail": sum(c.failed for c in cases)}
    for kind in ("calibrated", "held-out", "replay"):
        ks = [c for c in cases if c.kind == kind and c.metric != "abs"]
        ks += [c for c in cases if c.kind == kind and c.unit == "%"]
        if ks:
            w = max(ks, key=lambda c: abs(c.error))
            out[f"worst_{kind}"] = (w.id, w.error)
    return out


def to_markdown(cases: list[Case]) -> str:
    s = summary(cases)
    lines = [
        "# Validation against published measurements",
        "",
        "Generated by `python -m dcsim.validation --markdown docs/validation.md` (the code, sources and",
        "tolerances are in `dcsim/validation.py`; `tests/test_validation.py` reruns it in CI and fails if a",
        "row outside the known failures leaves its tolerance, or a known failure leaves its accepted error",
        "band). Rerun it after changing a node profile, the",
        "facility defaults or the workload presets, and commit the regenerated file. ML.ENERGY raw data are",
        "read from `dcsim/data/sources/ml-energy-v3` (trimmed copies, `scripts/vendor_data.py`; `--data DIR` to point elsewhere).",
        "",
        "**Kinds.** *calibrated*: the published point was used to fit the parameters that produce dcsim's",
        "value (tolerance 10 %, issue 9); *held-out*: it was not (20 %); *replay*: dcsim passes the data",
        "through (tolerance = rounding of the published statistic). Ranges: error 0 inside the published",
        "range, else the relative distance to the nearer bound. Source tags resolve in",
        "each measurement CSV's `source` column and `dcsim/data/sources/README.md`. Every ML.ENERGY power figure is GPU-only, summed over the",
        "replica's GPUs; mean prompt length 634 tokens for chat, 224 for GPQA ([ML3-blog]; assumption).",
        "",
        "**What is held out.** The shipped profiles were fitted on every `kind=load` row of",
        "`dcsim/data/measurements/mlenergy_*.csv` for their GPU/model/precision/TP measured with each prompt",
        "sent once (the rows whose `request_repeats` > 1 -- ML.ENERGY sent its 1,024 chat prompts 2-6 times at",
        "its highest `max_num_seqs`, and vLLM's prefix cache served the repeats without prefill -- are",
        "held-out rows `REP-*`, docs/node.md twelfth pass) -- their tokens/s, J/token and, where at least half",
        "the iterations are decode-only, their median ITL (rows `fit-*-itl`, `ITL-*`; docs/node.md seventeenth",
        "pass) -- plus the five",
        "Splitwise cap rows (H100), and the A100 profiles on Splitwise's A100 characterisation",
        "(`splitwise_a100_requests.csv`: prompt time, token time, average and peak power per request).",
        "Held out: leave-out refits (the calibration rerun without two batch levels, then asked for",
        "them); ML.ENERGY v3 configurations not in the measurement CSVs (another TP degree, another",
        "task, models/precisions with no calibration, served by the GPU's pooled fit); the",
        "leave-one-model-out table (each calibrated pair predicted by the pooled fit of its GPU's other",
        "models, issue 14.4); the same-shape rule (Llama-3.3-70B on the Llama-3.1-70B profile, rows `SA-*`);",
        "the median ITL where the median iteration carries a prompt (not fitted); H100 prefill vs decode power;",
        "server wall power",
        "against measurement and datasheets.",
        "",
        "**Batch-1 decode and prefill power** (issue 14.2): rows `SWA-*-decode-b1-w` (request-average",
        "power of a batch-1 request, 99 % decode) and `SWA-*-prefill-w` (the request's peak = its prefill",
        "step) for Llama-2-70B on 2/4/8×A100 and BLOOM-176B on 8×A100; `PD-*` for the H100 model.",
        "",
        f"**Summary:** {s['rows']} rows — {s['pass']} pass, {s['known_fail']} known failures (reasons below),",
        f"{s['fail']} unexpected failures.",
    ]
    for kind in ("calibrated", "held-out", "replay"):
        if f"worst_{kind}" in s:
            i, e = s[f"worst_{kind}"]
            ok = [c for c in cases if c.kind == kind and c.passed and (c.metric != "abs" or c.unit == "%")]
            w = max(ok, key=lambda c: abs(c.error)) if ok else None
            lines.append(f"Worst {kind} relative error: {e * 100:+.1f} % ({i})"
                         + (f"; among passing rows {w.error * 100:+.1f} % ({w.id})." if w else "."))
    lines.append("")
    lines += _lomo_table()
    groups: list[str] = []
    for c in cases:
        if c.group not in groups:
            groups.append(c.group)
    for gname in groups:
        gc = [c for c in cases if c.group == gname]
        lines += [f"## {gname}", "",
                  "| id | quantity | inputs | published | dcsim | error | tol | kind | status | source |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for c in gc:
            unit = "" if c.unit in ("–", "%", "bool") else f" {c.unit}"
            lines.append(f"| {c.id} | {c.quantity} | {c.inputs} | {_fmt_pub(c)}{unit} | {_fmt_val(c)}{unit} | "
                         f"{_fmt_err(c)} | {_fmt_tol(c)} | {c.kind} | {status(c)} | {c.source} |")
        notes: dict[str, list[str]] = {}
        for c in gc:
            if c.note:
                notes.setdefault(c.note, []).append(c.id)
        if notes:
            lines.append("")
            lines += [f"* {', '.join(ids) if len(ids) <= 4 else ids[0] + ' … ' + ids[-1]}: {n}"
                      for n, ids in notes.items()]
        lines.append("")
    kf = [c for c in cases if not c.passed and c.known_failure]
    lines += ["## Known failures", "",
              "Each carries an accepted error band: it fails the check (and this table says so) when its |error|",
              "leaves the band, so a regression behind a known failure is visible.", ""]
    if kf:
        lines += ["| id | error | tol | accepted band | status | reason |", "|---|---|---|---|---|---|"]
        lines += [f"| {c.id} | {_fmt_err(c)} | {_fmt_tol(c)} | {_fmt_band(c)} | {status(c)} | {c.known_failure} |"
                  for c in kf]
    else:
        lines.append("None.")
    lines.append("")
    lines += ["## Not covered", "",
              "CALIBRATION D V5 (B200 vs H100 population over many models: needs profiles for them), V10",
              "(POLCA oversubscription: qualitative), V13 (Fan et al. cluster peak: non-AI servers).", ""]
    return "\n".join(lines)


def _lomo_table() -> list[str]:
    """Issue 14.4 at a glance: one line per calibrated pair predicted without its own data."""
    from dcsim.node.catalog import pooled_profiles
    out = ["## Leave-one-model-out at a glance (issue 14.4)", "",
           "Each calibrated pair predicted by its GPU's pooled fit of the other models (every precision and TP",
           "of the left-out model removed, and any model of the same shape with it: Llama-3.1-70B and",
           "Llama-3.3-70B leave together; scored on the rows sent once, as fitted). Acceptance: "
           f"MAPE ≤ {100 * LOMO_BAR['mape_tok_s']:g} % and",
           f"no point beyond {100 * LOMO_BAR['max_err_tok_s']:g} %, on tokens/s and",
           "J/token. Rows `LOMO-*` below carry the same numbers; a failing pair's band and mechanism are in",
           "*Known failures*; the failing pairs point by point, by the sign of their errors, and what the",
           "shipped data cannot give are in docs/node.md (\"Twenty-third pass\"; `leave_one_model_out(...,",
           "points=True)`).", "",
           "| left-out pair | points | MAPE tok/s | MAPE J/tok | max tok/s | max J/tok | met |",
           "|---|---|---|---|---|---|---|"]
    n = met = 0
    for gpu, pooled in sorted(pooled_profiles().items()):
        for r in pooled["leave_one_model_out"]:
            ok = meets_lomo_bar(r)
            n, met = n + 1, met + ok
            out.append(f"| {r['profile']} | {r['n_points']} | {r['mape_tok_s_pct']:.1f} % | "
                       f"{r['mape_j_per_tok_pct']:.1f} % | {r['max_err_tok_s_pct']:.1f} % | "
                       f"{r['max_err_j_per_tok_pct']:.1f} % | {'yes' if ok else 'no'} |")
    return out + ["", f"Met for {met} of {n} pairs.", ""]


def to_text(cases: list[Case]) -> str:
    w = max(len(c.id) for c in cases)
    lines = [f"{'id':<{w}}  {'published':>14} {'dcsim':>12} {'error':>9} {'tol':>8} {'kind':<10} status"]
    for c in cases:
        lines.append(f"{c.id:<{w}}  {_fmt_pub(c):>14} {_fmt_val(c):>12} {_fmt_err(c):>9} {_fmt_tol(c):>8} "
                     f"{c.kind:<10} {status(c)}")
    s = summary(cases)
    lines.append(f"{s['rows']} rows: {s['pass']} pass, {s['known_fail']} known failures, {s['fail']} unexpected failures")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dcsim.validation", description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", default=None, help="write the table as Markdown to this path")
    ap.add_argument("--json", default=None, help="write the rows as JSON to this path")
    ap.add_argument("--data", default=None, help=f"data folder holding ml-energy-v3/ (default {DEFAULT_DATA})")
    ap.add_argument("--context-carry", default=None, metavar="PATH",
                    help="write the GPQA context-carry table (dcsim/data/context_carry.yaml) to this path")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if a row fails outside KNOWN_FAILURES or a known failure leaves its band")
    args = ap.parse_args(argv)
    cases = run_validation(args.data)
    print(to_text(cases))
    if args.markdown:
        Path(args.markdown).write_text(to_markdown(cases))
        print(f"wrote {args.markdown}")
    if args.json:
        Path(args.json).write_text(json.dumps([c.as_dict() for c in cases], indent=1))
    if args.context_carry:
        write_context_carry(args.context_carry, args.data)
        print(f"wrote {args.context_carry}")
    if args.check and summary(cases)["fail"]:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
