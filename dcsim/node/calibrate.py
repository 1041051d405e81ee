"""``dcsim calibrate``: least-squares fit of node profiles to measured points, with uncertainty.

    dcsim calibrate MEASUREMENTS.csv [MORE.csv ...] [--gpu G] [--model M] [--precision P] [--tp N]
                    [--gamma 2.0] [--loo] [--pool] [--out profile.yaml | DIR]

Rows are grouped by (GPU, model, precision, GPUs per replica); ``--gpu/--model/--precision/--tp``
select groups and may be left out: every group in the files is calibrated in one call (``--out``
is then a directory, one ``NAME.yaml`` per group). Row kinds:

* ``load``: a steady-state serving point (batch, mean_in, mean_out, output_tok_s, gpu_power_w;
  optional ``decode_ctx``, the tokens a running sequence holds, residence-weighted — default
  ``mean_in + mean_out/2``, which under-states it for outputs of varied length; optional ``prompt_scv``, the
  squared coefficient of variation of the prompt lengths — default 0, every prompt alike — which sets the random
  prefill of the steady mix, :func:`dcsim.node.perf.steady_mix`),
  fitted on log-ratios of tokens/s and J/output-token (2 measured values);
* ``request``: one request phase by phase (Splitwise characterisation: a batch of ``batch``
  prompts of ``prompt_tokens`` prefilled in one iteration, then ``output_tokens`` decode steps),
  fitted on log-ratios of the prompt time, the per-token time, the average GPU power and the peak
  GPU power (= the prefill step's power) (4 values);
* ``cap``: a latency factor under a per-GPU power cap for the GPU (any model), fitting the DVFS
  exponent gamma (1 value); without cap rows gamma is fixed (``--gamma``, recorded as an assumption).

Free parameters (see perf.py, power.py, step.py): MFU, MBU, t_layer, t_seq_layer (overheads per
layer run), overlap p, t_moe_layer (MoE dispatch per MoE layer; free only when the data hold an MoE
model, else 0), t_fp8_layer (FP8 activation quantisation per layer of an FP8 model; free only when
the data hold one model in FP8 and in another precision, or two FP8 models beside BF16 ones, which
tells it from t_layer, else 0) (time) and P_compute, P_memory, P_sync, gamma (power; gamma free only with cap rows). Identifiability: every parameter has physical bounds
(efficiencies in (0, 1], overheads per layer up to 1 ms and 10 µs per sequence, p in [1, 20], each
power term in [0, TDP - idle], gamma in [1, 5]) and a
weak log-normal prior (:data:`PRIORS`, assumptions; weight :data:`PRIOR_WEIGHT`, so a factor-e
departure costs what one point 10 % off costs), and P_compute >= P_memory >= P_sync is enforced by
stiff one-sided penalties (prefill is the power-hungry phase [SW]; overheads load neither unit). The fit reports each parameter's standard error
from the Jacobian at the optimum, flags a parameter on a bound (within :data:`ON_BOUND_REL` of its range: its bound
sets it) or not identified by the data (its data-only standard error above half its value: the prior, not the data,
sets it), and refuses a group with fewer measured values than free parameters or fewer measurement points than half
of those its load and request points set (all but gamma, set by cap rows; :data:`QUANTITIES_PER_POINT`; rows
repeating a measurement point count, and are fitted, once: :func:`merge_repeats`), naming its files; a fit left with
few degrees of freedom (:func:`dcsim.node.model.band_dof`, :data:`FEW_DOF`) states a band widened by Student's t,
none with 0 (:func:`dcsim.node.model.fit_band`, which simulations read too). ``--pool`` fits one parameter
set to all the groups of a GPU (each group weighted equally): the GPU's hardware efficiencies,
which :func:`dcsim.node.catalog.transfer_profile` uses for models with no calibration.
Fit: ``scipy.optimize.least_squares`` (trf, bounded) over the free parameters from a fixed grid of starts;
deterministic.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import hashlib
import io
import math
import os
import re
import shlex
import sys
from dataclasses import asdict, replace
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np
import yaml
from scipy.optimize import least_squares

from dcsim.node.catalog import (BORROWABLE, borrow_unidentified, energy_is_own, profile_name, resolve_gpu, resolve_model,
                                same_architecture)
from dcsim.node.levers import resolve_levers
from dcsim.node.model import (FEW_DOF, QUANTITIES_PER_POINT, NodeModel, band_dof, band_widening, build_node, fit_band,
                              fit_dof, fmt_band, point_params, worst_in_sample)
from dcsim.node.perf import (DEFAULT_CHUNK_TOKENS, PerfParams, attended_context, decode_context, derive,
                             median_prefill_tokens, mfu_ceiling, tensor_parallel_problem)
from dcsim.node.power import GAMMA_RANGE, PowerParams, bisect_clock
from dcsim.node.step import iteration_step, median_step, steady_step, step_params
from dcsim.scenario.node import LeverSpec, NodeSpec
from dcsim.textio import MAX_TABLE_BYTES, atomic_write_bytes, check_count, count_arg, out_folder, read_text
from dcsim.units import excerpt

PARAM_NAMES = ("mfu", "mbu", "t_layer_s", "t_seq_layer_s", "overlap_p", "t_moe_layer_s", "t_fp8_layer_s",
               "t_host_seq_s", "p_compute_w", "p_memory_w", "p_sync_w", "gamma")
_I = {k: i for i, k in enumerate(PARAM_NAMES)}
_N_PERF = _I["p_compute_w"]  # PerfParams fields come first, then PowerParams
# internal scaling so every free variable is O(1)
_SCALE = np.array([1.0, 1.0, 1e-5, 1e-7, 1.0, 1e-5, 1e-5, 1e-6, 100.0, 100.0, 100.0, 1.0])
# cap rows are few (5) against 2 x 6-12 load residuals: weight them so the DVFS curve is honoured
CAP_WEIGHT = 3.0
DEFAULT_GAMMA = 2.0  # assumption used only when no cap rows exist for the GPU
#: weak log-normal priors (centre, sd of the log), assumptions; power centres are fractions of TDP - idle
PRIORS = {"mfu": (0.5, 0.7), "mbu": (0.8, 0.3), "t_layer_s": (6e-5, 1.5), "t_seq_layer_s": (2.5e-7, 1.5),
          "overlap_p": (8.0, 1.0), "t_moe_layer_s": (6e-5, 1.5), "t_fp8_layer_s": (6e-5, 1.5), "t_host_seq_s": (2e-5, 1.5), "p_compute_w": (0.6, 1.0), "p_memory_w": (0.5, 1.0), "p_sync_w": (0.15, 1.0),
          "gamma": (2.0, 0.5)}
PRIOR_WEIGHT = 0.1
#: weight of the one-sided penalties keeping P_compute >= P_memory >= P_sync: prefill (compute-bound)
#: is the power-hungry phase and decode (memory-bound) runs at lower power [SW] (Splitwise, ISCA'24);
#: the overhead part of a step (launch gaps, synchronisation) loads neither unit fully (assumption)
ORDER_WEIGHT = 10.0
#: a parameter whose data-only relative standard error exceeds this is "not identified by the data"
UNIDENTIFIED_REL_SE = 0.5
#: a parameter within this fraction of its bound range of a bound "sits on" it (assumption, 0.1 %). ``least_squares``
#: (trf) keeps its iterates strictly inside the box and stops where the objective is flat, so a fit pressed against a
#: bound ends a hair short of it: B200 Llama-3.1-70B TP2's power terms at 896.40 and 896.46 W against the 897 W bound
#: (0.07 % of the range away), while its twin Llama-3.3-70B's, at 896.94 W (0.007 %), were flagged by the 1e-4 used
#: until December 2026 (docs/node.md, Identifiability)
ON_BOUND_REL = 1e-3
_POWER = ("p_compute_w", "p_memory_w", "p_sync_w")
#: the host's work per decode sequence per iteration, waited on at P_sync like every overhead (s;
#: perf.PerfParams.t_host_seq_s): free only in a pool whose data identify it, else 0 (docs/node.md, "Twenty-ninth
#: pass"). Bounds [1 ns, 1 ms] and prior centre 20 us (log-sd 1.5) are assumptions (a scheduler and sampler's
#: per-sequence Python work, tens to hundreds of us)
HOST_SEQ = "t_host_seq_s"
#: the value at which a fit holds a term its data do not identify, rather than leave it to its prior (:func:`_fitted`):
#: no host wait. Only these terms can be held (``Problem(..., fixed=...)``)
NEUTRAL = {HOST_SEQ: 0.0}

#: numeric columns each row kind must carry (positive, finite), for the line-numbered checks
_NUMERIC = {
    "load": ("n_gpus", "max_num_seqs", "batch", "mean_in", "mean_out", "output_tok_s", "gpu_power_w"),
    "cap": ("n_gpus", "prompt_tokens", "batch", "cap_frac_tdp", "latency_factor"),
    "request": ("n_gpus", "prompt_tokens", "batch", "output_tokens", "prompt_time_ms", "token_time_ms",
                "avg_gpu_power_w", "peak_gpu_power_w"),
}
#: measured values each row kind contributes to the fit
_VALUES = {"load": 2, "request": 4, "cap": 1}
#: of those, the values that measure energy (a load row's J/token; a request row's average and peak power)
_ENERGY_VALUES = {"load": 1, "request": 2}
_TEXT = ("gpu", "model", "precision")
#: every column calibrate reads, by any row kind (the rest of a row is carried along unread: task, runs, ...)
READ_COLUMNS = ("kind", "gpu", "n_gpus", "model", "precision", "max_num_seqs", "batch", "mean_in", "mean_out",
                "output_tok_s", "gpu_power_w", "j_per_out_tok", "source", "note", "decode_ctx", "prompt_scv",
                "median_itl_ms", "expert_parallel", "request_repeats", "prompt_tokens", "output_tokens",
                "prompt_time_ms", "token_time_ms", "avg_gpu_power_w", "peak_gpu_power_w", "phase", "ctx_tokens",
                "cap_frac_tdp", "latency_factor")


#: what a required numeric column holds, for the error naming it missing (docs/node.md, "Your own measurements")
_MEANING = {
    "n_gpus": "GPUs per replica, the tensor-parallel degree the row was measured at",
    "max_num_seqs": "the server's batch cap, vLLM --max-num-seqs",
    "batch": "the average number of running sequences",
    "mean_in": "mean prompt tokens per request",
    "mean_out": "mean output tokens per request",
    "output_tok_s": "the replica's output tokens per second",
    "gpu_power_w": "the replica's GPU power in W, summed over its n_gpus GPUs",
}


class MeasurementError(ValueError):
    """A measurement row is malformed; the message names the file and line."""


#: columns that count things, by row kind: whole numbers (GPUs, a batch cap, prompts of a batch, tokens); a load
#: row's ``batch`` is an average and may be fractional
_INTEGER = {"load": ("n_gpus", "max_num_seqs"), "request": ("n_gpus", "prompt_tokens", "batch", "output_tokens"),
            "cap": ("n_gpus", "prompt_tokens", "batch")}
#: precisions a profile is fitted for (the scenario's ``node.precision``)
_PRECISIONS = ("bf16", "fp8", "int4")
#: A row's per-GPU power below this share of its GPU's idle draw (the catalog's idle_w) is refused: a board that
#: is on draws its idle power, and readings of an idle H100 sit near the catalog's 72 W; half of it leaves room
#: for meter offsets. Power in kW read as W (0.49 W per H100) was fitted with exit 0 (audit C, A10).
POWER_UNDER_IDLE = 0.5
#: a row's per-GPU power above this many times the GPU's board power (TDP) is refused: no board draws it; the
#: margin (assumption) covers a measurement's averaging, not a column holding a replica's sum where a per-GPU value
#: belongs
POWER_OVER_TDP = 1.25
#: a load row of a replica of several GPUs whose power per GPU (``gpu_power_w / n_gpus``) is below this many times its
#: GPU's idle draw reads as per-GPU power written where the replica's sum belongs: every one of the 231 shipped load
#: rows (ML.ENERGY v3, batch 8 and up, 1-8 GPUs) draws at least 3.2 times its idle per GPU (H100 Llama-4-Maverick-FP8
#: on 8 GPUs at max_num_seqs 8: 230 W), while their per-GPU figures written as sums would read 0.40-1.06 times idle on
#: 8 GPUs, 1.11-2.37 on 4 and 2.37-4.71 on 2 (there the check cannot tell them apart). 2 is an assumption between
#: the two. Such a fit matched its rows (MAPE 2.4 % / 1.7 %) with power terms of 69 / 37 / 37 W and was written
#: with exit 0: the reference scenario's first 2 h on it drew 0.415 J per output token on the GPUs, 1.57 on the
#: profile of the summed rows. The exception shipped with ``--force``: ML.ENERGY v2.0's Llama-3.1-70B on 8
#: A100-SXM4-40GBs under vLLM 0.5.4 draws 1.6-2.0 times idle per GPU at max_num_seqs 32-128 (summed by its aggregator;
#: that the GPUs wait on the stack's host-side scheduling is a hypothesis, not measured: docs/node.md, "A100-SXM4-40GB")
SUMMED_POWER_FLOOR_IDLE_X = 2.0
#: a load row's ``j_per_out_tok`` (the J/token the fit reads) may differ from ``gpu_power_w / output_tok_s`` by at most
#: this fraction: the two are one quantity (energy over the window / tokens = average power / token rate), so they
#: differ only by rounding. ML.ENERGY's published values agree to rounding: across every shipped load row the largest
#: disagreement is 0.0066 % (mlenergy_llama-3.1-8b.csv:11, 0.07019 against 688.3 / 9805.59 = 0.070195). 1 % admits a
#: J/token rounded to 3 significant digits (at most 0.5 % off) with its power and rate rounded too, and refuses a
#: column from another run or in other units (it would move the fitted J/token by more than the rounding)
J_PER_TOK_REL_TOL = 0.01
#: a cap row's latency factor (step time under the cap / at TDP) below this is refused: a power cap cannot speed a
#: step up; the margin (assumption) covers measurement noise
MIN_LATENCY_FACTOR = 0.9

def _row_problem(r: dict, catalog: bool = True) -> str | None:
    if None in r:
        return "more cells than the header has columns"
    kind = (r.get("kind") or "load").strip().lower()
    if kind not in _NUMERIC:
        return f"kind must be one of {', '.join(sorted(_NUMERIC))}, got {excerpt(kind)}"
    for c in _TEXT:
        if not (r.get(c) or "").strip():
            return f"column {c!r} is missing or empty"
    if r["precision"].strip().lower() not in _PRECISIONS:
        return f"column 'precision' must be one of {', '.join(_PRECISIONS)}, got {excerpt(r['precision'])}"
    for c in _NUMERIC[kind]:
        v = r.get(c)
        if v is None or not str(v).strip():
            return (f"column {c!r} is missing or empty"
                    + (f" ({_MEANING[c]}; no default)" if kind == "load" and c in _MEANING else ""))
        try:
            x = float(v)
        except ValueError:
            return f"column {c!r}: not a number: {excerpt(v)}"
        if not math.isfinite(x) or x <= 0:
            return f"column {c!r}: must be a finite number > 0, got {excerpt(v)}"
        if c in _INTEGER[kind] and not _is_count(v):
            return f"column {c!r}: must be a whole number (a count), got {excerpt(v)}"
    if kind == "load" and float(r["batch"]) > float(r["max_num_seqs"]):
        return (f"column 'batch': {excerpt(r['batch'])} running sequences on average, above max_num_seqs "
                f"{excerpt(r['max_num_seqs'])} (the server's batch cap): the two columns are swapped or one is mistyped")
    problem = _catalog_problem(r) if catalog else None
    if problem:
        return problem
    problem = _optional_number(r, "j_per_out_tok", 1e-300, "must be a finite number > 0 (J per output token)")
    if problem:
        return problem
    power = _power_problem(r, kind)
    if power:
        return power
    # after the power check: a power column above the board's is the wrong one, named as such
    if kind == "load" and (r.get("j_per_out_tok") or "").strip():
        j, w, t = float(r["j_per_out_tok"]), float(r["gpu_power_w"]), float(r["output_tok_s"])
        if abs(j / (w / t) - 1.0) > J_PER_TOK_REL_TOL:
            return (f"column 'j_per_out_tok': {j:g} J per output token disagrees with gpu_power_w / output_tok_s "
                    f"= {w:g} / {t:g} = {w / t:.4g} (more than {J_PER_TOK_REL_TOL:.0%} apart; the two are one "
                    f"quantity: leave j_per_out_tok empty to use the ratio)")
    if kind == "cap":
        phase = (r.get("phase") or "").strip()
        if phase not in ("prefill", "decode"):
            return f"column 'phase' must be prefill or decode (the step the cap was measured on), got {excerpt(phase)}"
        if float(r["cap_frac_tdp"]) > 1.0:
            return (f"column 'cap_frac_tdp': the cap as a fraction of TDP, at most 1 (e.g. 0.7 for 70 %), got "
                    f"{excerpt(r['cap_frac_tdp'])}")
        if float(r["latency_factor"]) < MIN_LATENCY_FACTOR:
            return (f"column 'latency_factor': the step time under the cap over the time at TDP, at least "
                    f"{MIN_LATENCY_FACTOR:g} (a cap cannot speed a step up), got {excerpt(r['latency_factor'])}")
        if phase == "decode":
            problem = _optional_number(r, "ctx_tokens", 1e-300, "must be a finite number > 0 (context tokens)")
            if problem:
                return problem
    if kind == "load":
        problem = (_optional_number(r, "decode_ctx", float(r["mean_in"]),  # tokens a running sequence holds
                                    "must be a finite number >= mean_in (a running sequence holds its prompt)")
                   or _optional_number(r, "prompt_scv", 0.0,  # spread of the prompt lengths
                                       "must be a finite number >= 0 (0: every prompt alike)")
                   or _optional_number(r, "median_itl_ms", 1e-300,  # median inter-token latency
                                       "must be a finite number > 0"))
        if problem:
            return problem
    rep = (r.get("request_repeats") or "").strip()  # optional: times the benchmark sent its request list
    if rep and (not _is_count(rep) or int(rep) < 1):
        return f"column 'request_repeats': must be an integer >= 1, got {excerpt(rep)}"
    ep = (r.get("expert_parallel") or "").strip()  # optional: GPUs the experts are spread over whole
    if ep:
        if not _is_count(ep) or int(ep) < 1:
            return f"column 'expert_parallel': must be an integer >= 1, got {excerpt(ep)}"
        if int(ep) not in (1, int(float(r["n_gpus"]))):
            return (f"column 'expert_parallel': must be 1 (experts sharded) or n_gpus ({r['n_gpus']}: vLLM's "
                    f"--enable-expert-parallel spreads the experts over the replica's GPUs), got {ep!r}")
    return None


def _is_count(v) -> bool:
    """True for a whole number written in ASCII digits ("8", " 16 "; not "8.5", "1e0" or "²")."""
    t = str(v).strip()
    return t.isascii() and t.isdigit()


def _catalog_reason(e: Exception) -> str:
    """The catalog's "unknown GPU/model ...; known: ..." message, without its hint for scenarios (a measurement
    row cannot define a GPU or model inline)."""
    return str(e).strip(chr(39) + chr(34)).removesuffix(" (or define it inline)")


def _catalog_problem(r: dict) -> str | None:
    """A row naming a GPU or a model the catalog does not hold (the known names listed), or a tensor-parallel
    degree (``n_gpus``) the model's attention heads do not split over: the engine refuses that replica
    (:func:`dcsim.node.model.build_node` runs :func:`dcsim.node.perf.tensor_parallel_problem`, the check reused
    here, on a server of the GPU's size), so a profile fitted to the row could not be used."""
    try:
        gpu = resolve_gpu(r["gpu"].strip())
    except ValueError as e:
        return f"column 'gpu': {_catalog_reason(e)}"
    try:
        model = resolve_model(r["model"].strip())
    except ValueError as e:
        return f"column 'model': {_catalog_reason(e)}"
    problem = tensor_parallel_problem(model, int(r["n_gpus"]), gpu.server.gpus_per_node)
    return f"column 'n_gpus': {problem}" if problem else None


def _canonical_names(r: dict) -> None:
    """Write a row's GPU and model as the catalog names them, where the catalog knows them: the catalog resolves a
    model's Hugging Face id and any letter case of a name (``meta-llama/Llama-3.1-70B-Instruct``, ``h100-sxm``), and
    rows of one setup written both ways formed two groups, with a profile named after the id (a ``/`` in the file
    name ``--out DIR`` writes) that a scenario naming the model said was fitted to another model. A name the catalog
    lacks is kept as written (``--predict`` reports its group as one it cannot build)."""
    r["gpu"], r["model"] = _canonical_name(r["gpu"], resolve_gpu), _canonical_name(r["model"], resolve_model)
    r["precision"] = r["precision"].strip().lower()  # "BF16" as the scenario's node.precision spells it


def _canonical_name(name: str, resolve) -> str:
    """``name`` as the catalog names it (``resolve``: :func:`resolve_gpu` or :func:`resolve_model`), else as written."""
    try:
        return resolve(name.strip()).name
    except (ValueError, KeyError):
        return name.strip()


def _power_problem(r: dict, kind: str) -> str | None:
    """A row whose per-GPU power exceeds :data:`POWER_OVER_TDP` times its GPU's board power (a GPU in the catalog;
    :func:`_catalog_problem` refuses an unknown one), or whose peak power is below its average."""
    try:
        g = resolve_gpu(r["gpu"].strip())
        tdp, idle = g.tdp_w, g.idle_w
    except (ValueError, KeyError):
        return None
    n = float(r["n_gpus"])
    cols = {"load": (("gpu_power_w", n),), "request": (("avg_gpu_power_w", 1.0), ("peak_gpu_power_w", 1.0))}.get(kind, ())
    for c, per in cols:
        w = float(r[c]) / per
        if w > POWER_OVER_TDP * tdp:
            what = "the replica's summed GPU power" if kind == "load" else "the power per GPU"
            return (f"column {c!r}: {w:,.4g} W per GPU, above {r['gpu'].strip()}'s board power ({tdp:g} W TDP): "
                    f"no board draws that (the column is {what})")
        if w < POWER_UNDER_IDLE * idle:
            return (f"column {c!r}: {w:,.4g} W per GPU, below half of {r['gpu'].strip()}'s idle draw ({idle:g} W): "
                    f"no working board reads that (kW written for W?)")
    if kind == "request" and float(r["peak_gpu_power_w"]) < float(r["avg_gpu_power_w"]):
        return "column 'peak_gpu_power_w' is below 'avg_gpu_power_w' (the peak is the prefill step's power)"
    return None


def per_gpu_power_suspects(rows: list[dict]) -> list[str]:
    """One warning per group of ``rows`` whose load rows on several GPUs read less than
    :data:`SUMMED_POWER_FLOOR_IDLE_X` times the GPU's idle draw per GPU (``gpu_power_w / n_gpus``), naming the rows:
    ``gpu_power_w`` is the replica's GPU power summed over its ``n_gpus`` GPUs, and a per-GPU reading written there
    fits a profile whose J/token is ``n_gpus`` times too low (the fit matches such rows well: their in-sample error
    does not show it). A GPU the catalog lacks is not checked."""
    low: dict[tuple, list] = {}
    for r in rows:
        if r["kind"] != "load" or int(r["n_gpus"]) < 2:
            continue
        try:
            idle = resolve_gpu(r["gpu"]).idle_w
        except (ValueError, KeyError):
            continue
        w = float(r["gpu_power_w"]) / int(r["n_gpus"])
        if w < SUMMED_POWER_FLOOR_IDLE_X * idle:
            low.setdefault(group_key(r), []).append((r, w, idle))
    out = []
    for (gpu, _model, _prec, n), hits in low.items():
        ws, idle = [w for _, w, _ in hits], hits[0][2]
        where = _where([(r.get("_path", r["_file"]), r["_line"]) for r, _, _ in hits])
        out.append(f"gpu_power_w of {where} is {min(ws):,.0f}-{max(ws):,.0f} W per GPU ({len(hits)} load row(s) "
                   f"over n_gpus {n}), under {SUMMED_POWER_FLOOR_IDLE_X:g}x {gpu}'s idle draw ({idle:g} W), where every "
                   f"shipped ML.ENERGY v3 serving point draws at least 3.2x (v2.0's host-bound vLLM 0.5.4 on 8 "
                   f"A100-SXM4-40GBs: 1.6x, summed): gpu_power_w is the replica's GPU power summed over its "
                   f"{n} GPUs; if these are per-GPU readings, multiply them by {n} (fitted as they are, J/token comes "
                   f"out {n} times too low)")
    return out


def _optional_number(r: dict, column: str, lowest: float, rule: str) -> str | None:
    """The problem with an optional numeric column of a row (empty: none): not a number, or below ``lowest``."""
    v = (r.get(column) or "").strip()
    if not v:
        return None
    try:
        x = float(v)
    except ValueError:
        return f"column {column!r}: not a number: {excerpt(v)}"
    return None if math.isfinite(x) and x >= lowest else f"column {column!r}: {rule}, got {excerpt(v)}"


def row_expert_parallel(r: dict) -> int:
    """A row's expert-parallel degree: its optional ``expert_parallel`` column, else 1 (experts sharded)."""
    return int((r.get("expert_parallel") or "").strip() or 1)


def row_request_repeats(r: dict) -> int:
    """How many times the benchmark sent its request list for this row (optional ``request_repeats`` column, else 1).

    A load row measured with repeated requests is left out of every fit: vLLM's prefix cache (on by default) serves
    a repeated prompt whose first copy is still resident from that copy's KV -- no prefill, shared KV blocks -- so
    the row measures a workload with less prefill per output token and a smaller KV footprint than the unique
    prompts the node model describes (ML.ENERGY v3 sent its 1,024 prompts 2-6 times at its highest
    ``max_num_seqs``: docs/node.md, "Twelfth pass"). Such rows are listed under ``repeated_requests``."""
    return int((r.get("request_repeats") or "").strip() or 1)


def fitted_load(r: dict) -> bool:
    """A load row the fits use: every load row but those measured with repeated requests (:func:`row_request_repeats`)."""
    return r["kind"] == "load" and row_request_repeats(r) == 1


def row_itl_s(r: dict) -> float:
    """A load row's median inter-token latency in seconds: its optional ``median_itl_ms`` column, else NaN (not fitted)."""
    v = (r.get("median_itl_ms") or "").strip()
    return float(v) * 1e-3 if v else math.nan


def row_itl_fitted(r: dict, tokens_per_step: float = 1.0) -> bool:
    """Whether a profile fits a load row's median ITL: a fitted row with the column whose median iteration is
    decode-only (at least half the iterations carry no prompt, :func:`dcsim.node.perf.median_prefill_tokens`):
    there the median does not depend on the assumed prompt lengths."""
    if not (fitted_load(r) and math.isfinite(row_itl_s(r))):
        return False
    count = float(r["batch"]) * tokens_per_step / float(r["mean_out"])
    return float(median_prefill_tokens(count, float(r["mean_in"]), row_prompt_scv(r))) == 0.0


def row_decode_ctx(r: dict) -> float:
    """A load row's decode context: its optional ``decode_ctx`` column, else the default of
    :func:`dcsim.node.perf.decode_context`."""
    v = (r.get("decode_ctx") or "").strip()
    return float(decode_context(float(r["mean_in"]), float(r["mean_out"]), float(v) if v else None))


def row_prompt_scv(r: dict) -> float:
    """A load row's squared coefficient of variation of the prompt lengths: its optional ``prompt_scv``
    column, else 0 (every prompt of ``mean_in`` tokens; the prompts per iteration stay Poisson)."""
    v = (r.get("prompt_scv") or "").strip()
    return float(v) if v else 0.0


#: largest measurement file read (assumption: the shipped files are under 100 kB; a bound against reading a device
#: or a mistaken path until memory runs out): the time-series tables' limit
MAX_CSV_BYTES = MAX_TABLE_BYTES


def _csv_text(p: str | Path) -> str:
    """The text of a measurement file: at most :data:`MAX_CSV_BYTES`, a regular file, UTF-8 (a byte-order mark
    allowed) — :func:`dcsim.textio.read_text`, errors as :class:`MeasurementError`."""
    return read_text(p, MeasurementError, limit=MAX_CSV_BYTES)


#: a first line YAML or JSON begins with (``name: reference``, ``---``, ``{``), never a measurements CSV's header
_YAML_OR_JSON_START = re.compile(r"^(?:---\s*$|[{]|[A-Za-z_][\w.-]*\s*:(?:\s|$))")


def _not_measurements(p: str | Path, text: str) -> str | None:
    """Why the file ``p`` (its ``text``) is no measurements CSV, when it is a scenario or other YAML or JSON file
    (its suffix, or its first line that is no ``#`` comment): ``dcsim calibrate scenarios/reference.yaml`` said
    "line 2: more cells than the header has columns" (the review of 2026-12-05)."""
    suffix = Path(p).suffix.lower()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if suffix in (".yaml", ".yml", ".json") or (lines and _YAML_OR_JSON_START.match(lines[0])):
        first = f" (its first line {excerpt(lines[0], 40)})" if lines else ""
        header = ",".join(("kind", "gpu", "n_gpus", "model", "precision") + _NUMERIC["load"][1:])
        return (f"this is a scenario/YAML file, not a measurements CSV{first}: give a CSV whose header names the "
                f"measured columns, e.g. {header} (docs/node.md, 'Your own measurements')")
    return None


def read_rows(paths: list[str | Path], skip_bad: bool = False, skipped: list | None = None,
              catalog: bool = True) -> list[dict]:
    """All rows of the CSV files (strings), with ``_file`` and ``_line`` added.

    A malformed row raises :class:`MeasurementError` naming ``file:line`` and the column; with
    ``skip_bad`` it is left out instead and its ``file:line: reason`` appended to ``skipped``. A file that cannot be
    read as CSV (not UTF-8, larger than :data:`MAX_CSV_BYTES`, a repeated column name, a cell beyond the CSV
    reader's field limit) is an error whatever ``skip_bad`` says. With ``catalog`` (the fits) a row naming a GPU or
    model the catalog lacks, or a TP degree its model does not split over, is malformed (:func:`_catalog_problem`);
    ``--predict`` reads them and reports such a group as one it cannot build.
    """
    rows = []
    for p in paths:
        text = _csv_text(p)
        why = _not_measurements(p, text)
        if why is not None:  # whatever skip_bad says: no row of it is a measurement
            raise MeasurementError(f"{p}: {why}")
        reader = csv.DictReader(io.StringIO(text, newline=""), skipinitialspace=True)
        try:
            # names as written in the docs: a space after each comma (" gpu") or "GPU" read as no such column
            header = reader.fieldnames = [c.strip().lower() for c in reader.fieldnames or []]
            if len(header) == 1 and any(sep in header[0] for sep in (";", "\t")):
                raise MeasurementError(f"{p}:1: the header is one column ({excerpt(header[0], 60)}): the file is not "
                                       f"comma-separated (semicolons or tabs?); save it with commas between cells and "
                                       f"'.' as the decimal point")
            dup = sorted({c for c in header if header.count(c) > 1})
            if dup:
                raise MeasurementError(f"{p}:1: column {excerpt(dup[0])} appears twice in the header")
            for r in reader:
                line = reader.line_num
                why = _row_problem(r, catalog)
                if why is not None:
                    msg = f"{p}:{line}: {why}"
                    if not skip_bad:
                        raise MeasurementError(msg + " (pass --skip-bad-rows to leave such rows out)")
                    if skipped is not None:
                        skipped.append(msg)
                    continue
                r["kind"] = (r.get("kind") or "load").strip().lower()
                _canonical_names(r)
                r["source"] = (r.get("source") or "").strip() or f"{Path(p).name}:{line}"
                r["_file"] = Path(p).name
                r["_path"] = str(p)  # as given, for the warnings that name rows (merge_repeats)
                r["_line"] = line
                rows.append(r)
        except csv.Error as e:
            raise MeasurementError(f"{p}:{reader.line_num}: not readable as CSV ({excerpt(str(e), 100, quote=False)})") from None
    return merge_repeats(rows)


#: the measured columns of each row kind (the rest of a row sets the point it measures)
_MEASURED = {"load": ("output_tok_s", "gpu_power_w", "j_per_out_tok", "median_itl_ms"),
             "request": ("prompt_time_ms", "token_time_ms", "avg_gpu_power_w", "peak_gpu_power_w"),
             "cap": ("latency_factor",)}


def point_key(r: dict) -> tuple:
    """The measurement point a row measures: its kind, group (:func:`group_key`), expert layout and the inputs the
    fit predicts it from (a load row's level, batch, prompt and output lengths, decode context, prompt spread and
    request repeats; a request row's prompt, batch and output tokens; a cap row's phase, prompt, batch, cap and
    context). Rows with one key are one point, whatever they measured."""
    base = (r["kind"], *group_key(r), row_expert_parallel(r))
    if r["kind"] == "load":
        return base + (int(r["max_num_seqs"]), float(r["batch"]), float(r["mean_in"]), float(r["mean_out"]),
                       row_decode_ctx(r), row_prompt_scv(r), row_request_repeats(r))
    pt, b = float(r["prompt_tokens"]), float(r["batch"])
    if r["kind"] == "request":
        return base + (pt, b, float(r["output_tokens"]))
    ctx = float(r.get("ctx_tokens") or pt * b) if r["phase"].strip() == "decode" else 0.0
    return base + (r["phase"].strip(), pt, b, float(r["cap_frac_tdp"]), ctx)


def merge_repeats(rows: list[dict]) -> list[dict]:
    """The rows with each measurement point (:func:`point_key`) once, in the order first read: copies of a row (the
    same row written twice, a file given twice) would count as points they are not -- five copies of one load row
    passed the under-determination check (15 values for 8 parameters) with standard errors shrunk by the copies. A repeated
    point keeps its first row, with ``_repeats`` (every ``(file, line)`` of it) and ``_repeats_differ`` (whether the
    measured values differ: then each is the geometric mean of the copies', the centre of their log-ratio residuals;
    a ``j_per_out_tok`` some copies leave empty is dropped, the ratio of the means stands in)."""
    by: dict[tuple, list[dict]] = {}
    for r in rows:
        by.setdefault(point_key(r), []).append(r)
    out = []
    for same in by.values():
        r = same[0]
        if len(same) > 1:
            r = {**r, "_repeats": [(x.get("_path", x["_file"]), x["_line"]) for x in same], "_repeats_differ": False}
            for c in _MEASURED[r["kind"]]:
                vals = [(x.get(c) or "").strip() for x in same]
                nums = [float(v) for v in vals if v]
                if len(set(nums)) <= 1 and len(nums) in (0, len(vals)):
                    continue
                r["_repeats_differ"] = True
                r[c] = "" if c == "j_per_out_tok" and len(nums) < len(vals) else repr(math.exp(np.mean(np.log(nums))))
        out.append(r)
    return out


def _where(repeats: list[tuple]) -> str:
    """``a.csv:2,3,5 and b.csv:4`` from ``(file, line)`` pairs (a line named twice: a file given twice)."""
    files: dict[str, list] = {}
    for f, line in repeats:
        files.setdefault(f, []).append(line)
    twice = any(len(set(lines)) < len(lines) for lines in files.values())
    return (" and ".join(f"{f}:{','.join(map(str, sorted(set(lines))))}" for f, lines in files.items())
            + (" (a file given more than once)" if twice else ""))


def repeat_warnings(rows: list[dict]) -> list[str]:
    """One warning per repeated measurement point among ``rows`` (:func:`merge_repeats`), naming its rows."""
    return [f"rows {_where(r['_repeats'])} repeat one {r['kind']} point (same group and inputs): fitted once"
            + (", at the geometric mean of their measured values, which differ" if r["_repeats_differ"] else "")
            for r in rows if r.get("_repeats")]


class GroupKey(NamedTuple):
    """The setup a load or request row measures, which a profile is fitted per: GPU and model (catalog names),
    precision and GPUs per replica (the row's n_gpus, a profile's tensor_parallel). A tuple, so ``profile_name(*k)``
    and ``sorted`` work as before."""

    gpu: str
    model: str
    precision: str
    tp: int


def group_key(r: dict) -> GroupKey:
    """(gpu, model, precision, n_gpus) of a load or request row."""
    return GroupKey(r["gpu"], r["model"], r["precision"], int(r["n_gpus"]))


def groups(rows: list[dict], gpu: str | None = None, model: str | None = None, precision: str | None = None,
           tp: int | None = None, skipped: list[str] | None = None) -> dict[GroupKey, list[dict]]:
    """Load and request rows by :func:`group_key`, filtered by the options that are given (``skipped``: the rows
    ``--skip-bad-rows`` left out, named when none is left)."""
    if tp is not None:
        try:  # 0 and negatives matched no rows and were reported as 'no load or request rows for tp=0'
            tp = check_count(tp, "GPUs per replica")
        except ValueError as e:
            raise ValueError(f"tp (--tp): {e}") from None
    # --gpu/--model as the catalog names them, as the rows are (_canonical_names)
    gpu, model = (None if gpu is None else _canonical_name(gpu, resolve_gpu),
                  None if model is None else _canonical_name(model, resolve_model))
    out: dict[GroupKey, list[dict]] = {}
    for r in rows:
        if r["kind"] == "cap":
            continue
        k = group_key(r)
        if (gpu is None or k.gpu == gpu) and (model is None or k.model == model) and \
                (precision is None or k.precision == precision) and (tp is None or k.tp == tp):
            out.setdefault(k, []).append(r)
    if not out:
        given = [f"{k}={v}" for k, v in (("gpu", gpu), ("model", model), ("precision", precision), ("tp", tp))
                 if v is not None]
        raise ValueError("no load or request rows" + (f" for {' '.join(given)}" if given else " in the files")
                         + (" (cap rows only: they fit a GPU's DVFS exponent beside load or request rows)"
                            if any(r["kind"] == "cap" for r in rows) else "")
                         + (f"; {len(skipped)} malformed row(s) left out, the first: {skipped[0]}" if skipped else ""))
    return dict(sorted(out.items()))


def cap_rows(rows: list[dict], gpu: str) -> list[dict]:
    """The cap rows of ``gpu`` among ``rows`` (any model: they fit the GPU's DVFS exponent gamma)."""
    return [r for r in rows if r["kind"] == "cap" and r["gpu"] == gpu]


def select(rows: list[dict], gpu: str, model: str, precision: str | None, tp: int | None):
    """The rows of one group (load and request) and the GPU's cap rows; error if options leave several."""
    g = groups(rows, gpu, model, precision, tp)
    if len(g) > 1:
        raise ValueError(f"rows mix (precision, n_gpus) {sorted((k.precision, k.tp) for k in g)}; pass --precision/--tp")
    caps = cap_rows(rows, gpu)
    return next(iter(g.values())), caps


def _derived(model: str, precision: str, tp: int, expert_parallel: int = 1):
    return derive(resolve_model(model), precision, resolve_levers(LeverSpec(), precision), expert_parallel, tp=tp)


class _Group:
    """One (model, precision, tp) block of rows with its physics constants and measured arrays."""

    def __init__(self, gpu, rows: list[dict], weight: float = 1.0, fit_energy: bool = True):
        r0 = rows[0]
        self.key = group_key(r0)
        layouts = {row_expert_parallel(r) for r in rows}
        if len(layouts) > 1:
            raise MeasurementError(f"{r0['_file']}: {'/'.join(map(str, self.key))} mixes expert_parallel "
                                   f"values {sorted(layouts)}; one group is one serving layout")
        self.expert_parallel = layouts.pop()
        try:
            self.d = _derived(r0["model"], self.precision, self.tp, self.expert_parallel)
        except ValueError as e:  # experts that do not split (an unknown model is refused by read_rows): name the rows
            raise MeasurementError(f"{r0['_file']}:{r0['_line']}: {'/'.join(map(str, self.key))}: "
                                   f"{_catalog_reason(e)}") from None
        self.gpu = gpu
        # the highest compute efficiency the GPU reaches in this group's compute precision (perf.mfu_ceiling)
        self.mfu_ceiling = mfu_ceiling(gpu, self.d.peak_precision)
        self.weight = weight
        load = [r for r in rows if fitted_load(r)]
        req = [r for r in rows if r["kind"] == "request"]
        self.load, self.req = load, req
        # measured with repeated prompts (prefix-cache hits): not the workload the model describes, not fitted
        self.repeated = [r for r in rows if r["kind"] == "load" and not fitted_load(r)]
        f = lambda rs, k: np.array([float(r[k]) for r in rs])  # noqa: E731
        self.batch, self.mean_in, self.mean_out = f(load, "batch"), f(load, "mean_in"), f(load, "mean_out")
        self.tok_s = f(load, "output_tok_s")
        # tokens a running sequence holds (residence-weighted, optional column; default: every request alike)
        self.decode_ctx = np.array([row_decode_ctx(r) for r in load])
        self.prompt_scv = np.array([row_prompt_scv(r) for r in load])
        self.j_tok = np.array([float(r["j_per_out_tok"]) if (r.get("j_per_out_tok") or "").strip()
                               else float(r["gpu_power_w"]) / float(r["output_tok_s"]) for r in load])
        self.level = np.array([int(r["max_num_seqs"]) for r in load], dtype=int)
        # median inter-token latency (optional column); a profile fits the rows whose median iteration is
        # decode-only (:func:`row_itl_fitted`): there the median does not depend on the assumed prompt lengths
        self.itl = np.array([row_itl_s(r) for r in load])
        self.itl_fitted = np.array([row_itl_fitted(r, self.d.tokens_per_step) for r in load], dtype=bool)
        self.rq = [(float(r["prompt_tokens"]), float(r["batch"]), float(r["output_tokens"])) for r in req]
        self.rq_meas = np.array([[float(r["prompt_time_ms"]) * 1e-3, float(r["token_time_ms"]) * 1e-3,
                                  float(r["avg_gpu_power_w"]) * self.tp, float(r["peak_gpu_power_w"]) * self.tp]
                                 for r in req]).reshape(-1, 4)
        #: whether the fit reads this group's energy: a load row's J/token and a request row's power (False in a pooled
        #: fit for a checkpoint whose energy is its own, :func:`energy_is_own`; set by :class:`Problem`)
        self.fit_energy = fit_energy
        #: measured values the fit reads per load and per request row (the energy values only where fitted)
        self.values_per_row = {k: _VALUES[k] - (0 if fit_energy else _ENERGY_VALUES[k]) for k in ("load", "request")}
        self.n_values = self.values_per_row["load"] * len(load) + self.values_per_row["request"] * len(req)

    @property
    def precision(self) -> str:
        return self.key.precision

    @property
    def tp(self) -> int:
        return self.key.tp


class Problem:
    """Predictions for groups of rows (one GPU) and its cap rows as a function of the parameters.

    Every prediction runs :func:`dcsim.node.step.iteration_step` (through ``steady_step`` for load
    rows), the function the engine runs, with the GPU's board limit (TDP) in force.
    """

    def __init__(self, gpu: str, blocks: list[list[dict]], caps: list[dict], pooled: bool = False,
                 ceiling: bool = False, fixed: tuple[str, ...] = ()):
        self.gpu = resolve_gpu(gpu)
        bad = sorted(set(fixed) - NEUTRAL.keys())
        if bad:
            raise ValueError(f"Problem: fixed {bad} has no neutral value (only {sorted(NEUTRAL)} can be held)")
        #: the terms held at their :data:`NEUTRAL` value (not free whatever the groups)
        self.fixed = frozenset(fixed)
        self._args = (gpu, blocks, caps, pooled, ceiling)  # what :meth:`holding` builds a fresh problem from
        # predict as a transfer runs: the compute efficiency held at the GPU's achievable matmul ceiling in each
        # group's precision (catalog.transfer_profile, perf.mfu_ceiling); fits leave it free (docs/node.md)
        self.ceiling = ceiling
        # pooled: each group counts equally (weight 1/sqrt(values) per residual)
        # a pooled fit leaves the energy of a checkpoint whose energy is its own to that checkpoint's profiles, when
        # another group sets the shared power (a pool of such checkpoints alone has nothing else to learn it from)
        keys = [group_key(b[0]) for b in blocks]
        own = [energy_is_own(k.model, k.precision) for k in keys] if pooled else [False] * len(blocks)
        if all(own):
            own = [False] * len(blocks)
        self.groups = [_Group(self.gpu, b, (1.0 / math.sqrt(len(b))) if pooled else 1.0, fit_energy=not o)
                       for b, o in zip(blocks, own)]
        # a profile fits its rows' median ITL too (the decode step, hence TPOT); a pooled fit does not: with it the
        # leave-one-model-out J/token of the transfer is worse (docs/node.md, "Seventeenth pass")
        self.fit_itl = not pooled
        self.caps = []
        for r in caps:
            d = _derived(r["model"], r["precision"], int(r["n_gpus"]), row_expert_parallel(r))
            pt, b = float(r["prompt_tokens"]), float(r["batch"])
            it = (pt * b, 0.0, 0.0, b * pt * pt / 2.0) if r["phase"] == "prefill" else \
                (0.0, b, float(r.get("ctx_tokens") or pt * b), 0.0)
            self.caps.append((d, int(r["n_gpus"]), it, float(r["cap_frac_tdp"]) * self.gpu.tdp_w,
                              float(r["latency_factor"]), r))
        self.n_values = (sum(g.n_values + (int(g.itl_fitted.sum()) if self.fit_itl else 0) for g in self.groups)
                         + _VALUES["cap"] * len(self.caps))
        #: whether the host's per-sequence wait ``t_host_seq_s`` is free: only in a fit over models of more than one
        #: depth (within one model a cost per sequence per step and one per sequence per layer are the same column),
        #: and unless held (``fixed``: :func:`_fitted` refits with it at 0 where the data do not identify it)
        self.host_seq_free = HOST_SEQ not in self.fixed and len({g.d.layers_run for g in self.groups}) > 1

    def holding(self, names) -> "Problem":
        """A fresh problem on the same rows with ``names`` held at their :data:`NEUTRAL` values too."""
        gpu, blocks, caps, pooled, ceiling = self._args
        return Problem(gpu, blocks, caps, pooled=pooled, ceiling=ceiling, fixed=tuple(self.fixed | set(names)))

    # for single-group callers
    @property
    def g0(self) -> _Group:
        return self.groups[0]

    @staticmethod
    def unpack(x) -> tuple[PerfParams, PowerParams]:
        v = np.asarray(x) * _SCALE
        return PerfParams(*map(float, v[:_N_PERF])), PowerParams(*map(float, v[_N_PERF:]))

    @property
    def has_moe(self) -> bool:
        """True when a group is an MoE model: only then is ``t_moe_layer_s`` a free parameter (else 0)."""
        return any(g.d.moe_layers_run > 0 for g in self.groups)

    @property
    def has_fp8(self) -> bool:
        """True when the FP8 cost ``t_fp8_layer_s`` is identified, hence free. It is a cost per FP8
        layer common to every FP8 model, fitted against the BF16 groups' overheads; the data identify
        it when they hold one model served both in FP8 and in another precision on this GPU (the
        difference between its groups is the precision's alone), or at least two FP8 models beside
        BF16 ones (a cost they share, not one model's own overheads). One FP8 model against BF16
        models confounds it with that model's depth- and TP-specific overheads (measured: that looser
        rule worsened the leave-one-model-out table, docs/node.md). Otherwise it is 0."""
        fp8 = {g.key.model for g in self.groups if g.d.fp8_layers_run > 0}
        other = {g.key.model for g in self.groups if g.d.fp8_layers_run == 0}
        return bool(fp8 & other) or (len(fp8) >= 2 and bool(other - fp8))

    def free(self) -> np.ndarray:
        """Mask of the free parameters: gamma only with cap rows, t_moe_layer_s only with MoE groups,
        t_fp8_layer_s only when the data identify it (:attr:`has_fp8`), t_host_seq_s only in a pool of models of
        several depths whose data identify it (:attr:`host_seq_free`)."""
        m = np.ones(len(PARAM_NAMES), dtype=bool)
        m[_I["gamma"]] = bool(self.caps)
        m[_I["t_moe_layer_s"]] = self.has_moe
        m[_I["t_fp8_layer_s"]] = self.has_fp8
        m[_I["t_host_seq_s"]] = self.host_seq_free
        return m

    def _P(self, g: _Group, perf, pw, clock=1.0, limit_w=None):
        if self.ceiling and perf.mfu > g.mfu_ceiling:
            perf = replace(perf, mfu=g.mfu_ceiling)
        return step_params(g.d, self.gpu, g.tp, perf, pw, clock, limit_w)

    def predict(self, perf: PerfParams, pw: PowerParams, g: _Group | None = None, idx=None):
        """Predicted (tokens/s, J/out-token, GPU W) of a group's load rows."""
        g = g or self.g0
        sl = slice(None) if idx is None else idx
        t, p, tokens = steady_step(self._P(g, perf, pw), g.batch[sl], g.mean_in[sl], g.mean_out[sl],
                                   DEFAULT_CHUNK_TOKENS, g.decode_ctx[sl], g.prompt_scv[sl])
        tput = tokens / t
        return tput, p / tput, p

    def predict_itl(self, perf: PerfParams, pw: PowerParams, g: _Group) -> np.ndarray:
        """Predicted median inter-token latency (s) of a group's load rows (:func:`dcsim.node.step.median_step`)."""
        return median_step(self._P(g, perf, pw), g.batch, g.mean_in, g.mean_out, g.decode_ctx, g.prompt_scv,
                           g.d.tokens_per_step)

    def predict_requests(self, perf: PerfParams, pw: PowerParams, g: _Group):
        """Predicted (prompt time s, token time s, average GPU W, prefill (peak) W, decode W) of the replica."""
        P = self._P(g, perf, pw)
        out = []
        for pt, b, n_out in g.rq:
            tp_, pp = iteration_step(P, pt * b, 0.0, 0.0, b * pt * pt / 2.0)
            td, pd = iteration_step(P, 0.0, b, b * (pt + 0.5 * n_out), 0.0)
            nd = n_out - 1.0
            out.append((tp_, td, (tp_ * pp + nd * td * pd) / (tp_ + nd * td), max(pp, pd), pd))
        return np.array(out).reshape(-1, 5)

    def predict_caps(self, perf: PerfParams, pw: PowerParams) -> np.ndarray:
        """Predicted latency factor (iteration time at the cap / at TDP) of each cap row."""
        out = []
        for d, tp, it, cap, _, _ in self.caps:  # the fits' own (the ceiling holds only the left-out predictions)
            t1 = iteration_step(step_params(d, self.gpu, tp, perf, pw, 1.0), *it)[0]
            tc = iteration_step(step_params(d, self.gpu, tp, perf, pw, 1.0, cap), *it)[0]
            out.append(tc / t1)
        return np.array(out)

    def clocks_at_caps(self, perf: PerfParams, pw: PowerParams) -> np.ndarray:
        """The DVFS clock (fraction of maximum) the fitted model runs each cap row's iteration at under its cap: the
        highest clock whose step power per GPU is within the cap (:func:`clock_at_cap`), the clock dcsim's own
        throttle sets for that row (what a profile records as ``cap_points[].clock_fit``; the lowest of them is the
        lowest clock its measurements cover, :func:`dcsim.node.catalog.profile_clock_floor`)."""
        return np.array([clock_at_cap(d, self.gpu, tp, perf, pw, it, cap) for d, tp, it, cap, _, _ in self.caps])

    def data_residuals(self, x, fit_gamma=True):
        perf, pw = self.unpack(x)
        res = []
        for g in self.groups:
            if len(g.load):
                tput, jt, _ = self.predict(perf, pw, g)
                res.append(g.weight * np.log(tput / g.tok_s))
                if g.fit_energy:
                    res.append(g.weight * np.log(jt / g.j_tok))
                if self.fit_itl and g.itl_fitted.any():
                    f = g.itl_fitted
                    res.append(g.weight * np.log(self.predict_itl(perf, pw, g)[f] / g.itl[f]))
            if g.rq:  # prompt time, token time, average and peak power (the power only where the energy is fitted)
                n = g.values_per_row["request"]
                pr = self.predict_requests(perf, pw, g)[:, :n]
                res.append(g.weight * np.log(pr / g.rq_meas[:, :n]).ravel())
        if fit_gamma and self.caps:
            res.append(CAP_WEIGHT * np.log(self.predict_caps(perf, pw) / np.array([c[4] for c in self.caps])))
        return np.concatenate(res)

    def prior_centre(self) -> np.ndarray:
        span = self.gpu.tdp_w - self.gpu.idle_w
        return np.array([PRIORS[k][0] * (span if k in _POWER else 1.0) for k in PARAM_NAMES]) / _SCALE

    @cached_property
    def _prior_terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(centre, log-sd, free mask) of the priors: fixed by the groups, computed once, not per residual call."""
        return self.prior_centre(), np.array([PRIORS[k][1] for k in PARAM_NAMES]), self.free()

    def residuals(self, x, fit_gamma=True):
        x0, sd, m = self._prior_terms
        prior = PRIOR_WEIGHT * np.log(np.maximum(x, 1e-300) / x0) / sd
        if not fit_gamma:
            m = m.copy()
            m[_I["gamma"]] = False
        prior = prior[m]
        c, mem, sy = _I["p_compute_w"], _I["p_memory_w"], _I["p_sync_w"]
        order = [ORDER_WEIGHT * max(0.0, math.log(x[mem] / x[c])),   # P_memory above P_compute
                 ORDER_WEIGHT * max(0.0, math.log(x[sy] / x[mem]))]  # P_sync above P_memory
        return np.concatenate([self.data_residuals(x, fit_gamma), prior, order])

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Physical bounds of every parameter (scaled units); :func:`fit` applies those of the free ones."""
        span = (self.gpu.tdp_w - self.gpu.idle_w) / 100
        lo = np.array([0.02, 0.05, 1e-3, 1e-3, 1.0, 1e-3, 1e-3, 1e-3, 0.01, 0.01, 0.01, GAMMA_RANGE[0]])
        hi = np.array([1.0, 1.0, 100.0, 100.0, 20.0, 100.0, 100.0, 1000.0, span, span, span, GAMMA_RANGE[1]])
        return lo, hi


def fit(prob: Problem, gamma: float = DEFAULT_GAMMA):
    """Best ``least_squares`` result over a fixed grid of starts (deterministic).

    Only the free parameters (:meth:`Problem.free`) are optimised; the fixed ones (gamma without cap
    rows, the MoE dispatch of a dense fit, the FP8 cost the data do not identify) are set, not held in
    a pinned interval: a variable boxed in a 1e-9-wide interval cripples the trust region of ``trf``
    (measured on B200 Gemma-3-27B: each start ran to the 3,000-iteration limit, ~21,000 residual
    evaluations; over the free parameters a start converges in 120-230). ``x`` and ``jac`` of the
    result span every parameter (0 columns for the fixed ones).
    """
    span = (prob.gpu.tdp_w - prob.gpu.idle_w) / 100
    fit_gamma = bool(prob.caps)
    lo, hi = prob.bounds()
    free = prob.free()
    idx = np.flatnonzero(free)
    base = np.zeros(len(PARAM_NAMES))
    base[_I["gamma"]] = gamma

    def full(z):
        x = base.copy()
        x[idx] = z
        return x

    def res_free(z):
        return prob.residuals(full(z), fit_gamma=fit_gamma)

    best = None
    for mfu in (0.3, 0.6):
        for mbu in (0.5, 0.85):
            x0 = np.array([mfu, mbu, 4.0, 2.5, 2.0, 6.0, 4.0, 20.0, 0.5 * span, 0.5 * span, 0.15 * span, 2.0])
            r = least_squares(res_free, np.clip(x0[idx], lo[idx], hi[idx]), bounds=(lo[idx], hi[idx]), method="trf",
                              xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=3000)
            if best is None or r.cost < best.cost - 1e-15:
                best = r
    jac = np.zeros((best.jac.shape[0], len(PARAM_NAMES)))
    jac[:, idx] = best.jac
    best.x, best.jac = full(best.x), jac
    return best


#: what a warning about a parameter the data do not identify says after its value (:func:`_unidentified_text`
#: writes it; :func:`_warning_lines` leaves the stored ones out by it and prints them from the uncertainty record)
_UNIDENTIFIED = " is not identified by the data (data-only relative standard error "


def _setter(on_bound: bool, held_at: float | None = None) -> str:
    """What sets a parameter the data do not identify: its neutral value when the fit held it there and was redone
    (``held_at``, :data:`NEUTRAL`), its bound when it sits on one (the prior's centre is elsewhere: a power term's is
    0.6 x (TDP - idle), 538 W on a B200, while the fit ends on 897 W), else its prior."""
    if held_at is not None:
        return f"held at {held_at:g} and the fit redone without it"
    return "its bound sets it" if on_bound else "its prior sets it"


def _unidentified_text(name: str, value: float | None, rel_se_data: float | None, on_bound: bool = False,
                       held_at: float | None = None) -> str:
    """The warning about a parameter the data do not identify, from its uncertainty record's ``rel_se_data``,
    ``on_bound`` and ``held_at`` (and its fitted value, when known): :func:`uncertainty` and :func:`_fitted` store it
    in the profile's ``warnings`` and :func:`_warning_lines` prints it rebuilt from the record, so a stored copy never
    has to be kept in step with the record."""
    head = name if value is None else f"{name} = {value:.4g}"
    return f"{head}{_UNIDENTIFIED}{_rel_se_text(rel_se_data)}): {_setter(on_bound, held_at)}"


def _rel_se_text(rel_se_data: float | None) -> str:
    """A parameter's data-only relative standard error as its uncertainty record holds it (``rel_se_data``: rounded
    to 3 significant digits, None when infinite) and as its warning and the report's grouped line print it."""
    return "inf" if rel_se_data is None else f"{rel_se_data:g}"


def bound_side(x: float, lo: float, hi: float) -> str | None:
    """The bound a fitted value ``x`` sits on, ``"lower"`` or ``"upper"`` (within :data:`ON_BOUND_REL` of the range
    ``[lo, hi]`` from the nearer one), None when it sits on neither."""
    side, gap = ("lower", x - lo) if x - lo <= hi - x else ("upper", hi - x)
    return side if gap <= ON_BOUND_REL * (hi - lo) else None


def _on_bound_text(name: str, val: float, side: str, bound: float) -> str:
    """The warning about a parameter on its bound (``val`` its value, ``side`` and ``bound`` the bound's side and
    value, :func:`bound_side`): so 896.4 against 897 reads as on it."""
    return f"{name} = {val:.4g} sits on its {side} bound ({bound:.4g})"


def uncertainty(prob: Problem, res) -> tuple[dict, list[str]]:
    """Standard error of each parameter (Jacobian at the optimum) and warnings.

    ``se`` comes from the full objective (data + priors), scaled by the residual variance of the
    data; ``se_data`` from the data rows alone (inf when the data do not constrain a direction).
    """
    fit_gamma = bool(prob.caps)
    idx = np.flatnonzero(prob.free())
    names = [PARAM_NAMES[i] for i in idx]
    k = len(names)
    J = res.jac[:, idx]
    nd = prob.n_values
    rd = prob.data_residuals(res.x, fit_gamma=fit_gamma)
    dof = max(nd - k, 1)
    s2 = float(np.sum(rd ** 2) / dof)
    x = res.x[idx]
    scale = _SCALE[idx]
    cov = np.linalg.pinv(J.T @ J) * s2
    Jd = J[:nd]
    JtJ = Jd.T @ Jd
    lo, hi = prob.bounds()
    out, warns = {}, []
    ev = np.linalg.eigvalsh(JtJ)
    for i, n in enumerate(names):
        e = np.zeros(k)
        e[i] = 1.0
        # data-only variance along e: infinite if e is (nearly) in the null space of J_d
        try:
            sol = np.linalg.solve(JtJ + 1e-12 * max(ev.max(), 1e-30) * np.eye(k), e)
            var_d = float(sol[i]) * s2
        except np.linalg.LinAlgError:
            var_d = math.inf
        se = math.sqrt(max(float(cov[i, i]), 0.0)) * scale[i]
        se_d = math.sqrt(max(var_d, 0.0)) * scale[i] if math.isfinite(var_d) else math.inf
        val = float(x[i] * scale[i])
        rel_d = se_d / abs(val) if val else math.inf
        lo_i, hi_i = lo[idx[i]], hi[idx[i]]
        side = bound_side(x[i], lo_i, hi_i)
        on_bound = side is not None
        out[n] = {"se": float(f"{se:.3g}"), "rel_se_data": (float(f"{rel_d:.3g}") if math.isfinite(rel_d) else None),
                  "on_bound": bool(on_bound), "identified": bool(rel_d <= UNIDENTIFIED_REL_SE)}
        if on_bound:
            warns.append(_on_bound_text(n, val, side, (lo_i if side == "lower" else hi_i) * scale[i]))
        if not out[n]["identified"]:  # the figure its record holds
            warns.append(_unidentified_text(n, val, out[n]["rel_se_data"], on_bound))
    return out, warns


def _mape(pred, meas) -> float:
    return float(np.mean(np.abs(pred / meas - 1.0)) * 100.0)


def _free(prob: Problem) -> int:
    return int(prob.free().sum())


def n_points(prob: Problem) -> int:
    """The distinct measurement points ``prob`` fits, which set its free parameters but gamma: its load rows (repeats
    merged: :func:`merge_repeats`) and request rows. A cap row is not one: it carries one value and sets gamma alone
    (:func:`dcsim.node.model.band_dof`). The count a profile's ``fit.n_points`` records."""
    return sum(len(g.load) + len(g.rq) for g in prob.groups)


def problem_dof(prob: Problem) -> int:
    """:func:`dcsim.node.model.band_dof` of ``prob``: what its refusal (below 0) and its band (:func:`fit_band`) read."""
    return band_dof(prob.n_values, n_points(prob), _free(prob), len(prob.caps))


def _files_of(prob: Problem) -> str:
    """The measurement files of ``prob``'s rows, as given, for an error naming them."""
    rows = [r for g in prob.groups for r in g.load + g.req + g.repeated] + [c[5] for c in prob.caps]
    return ", ".join(sorted({str(r.get("_path", r.get("_file", "?"))) for r in rows})) or "?"


def _underdetermined_reason(prob: Problem) -> str | None:
    """Why ``prob``'s rows cannot determine its fit (None when they can): fewer measured values than free parameters,
    or fewer load and request points than half the free parameters they set (:func:`problem_dof` below 0: a point
    measures at most :data:`QUANTITIES_PER_POINT` independent quantities; gamma is set by the cap rows)."""
    k = _free(prob)
    n = n_points(prob)
    if prob.n_values < k:
        v = _VALUES
        rep = [r for g in prob.groups for r in g.load + g.req] + [c[5] for c in prob.caps]
        rep = [_where(r["_repeats"]) for r in rep if r.get("_repeats")]
        own_groups = [g for g in prob.groups if not g.fit_energy]
        own = [profile_name(*g.key) for g in own_groups]
        return (f"{prob.n_values} measured value(s) for {k} free parameters; refusing an "
                f"under-determined fit (each load row gives {v['load']} values, tokens/s and J/token"
                + (", and its median ITL where fitted" if prob.fit_itl else "")
                + f"; a request row {v['request']}, prompt and token times and average and peak power; a cap "
                f"row {v['cap']}"
                + (f"; the energy of {', '.join(own)} is not fitted (its own: energy_is_own), "
                   f"{own_groups[0].values_per_row['load']} per load row and "
                   f"{own_groups[0].values_per_row['request']} per request row"
                   if own else "")
                + "".join(f"; rows {w} are one point and count once" for w in rep) + ")")
    dof = problem_dof(prob)
    if dof >= 0:
        return None
    kp = point_params(k, len(prob.caps))
    need = math.ceil(kp / QUANTITIES_PER_POINT)
    return (f"{n} measurement point(s) for {k} free parameters; refusing an under-determined fit: it needs at least "
            f"{need} distinct points (a point — a load or request row; repeated rows count once — measures at most "
            f"{QUANTITIES_PER_POINT} independent quantities, how fast the node runs and what it draws; its median ITL "
            f"times the same steps as its tokens/s"
            + (f"; the {len(prob.caps)} cap row(s) set gamma alone, so the points set the other {kp}"
               if prob.caps else "")
            + f"). Its {prob.n_values - len(prob.caps)} measured value(s) of those points count as "
              f"{dof + kp} independent ones for {kp} parameters; measure {max(need - n, 1)} more load "
              f"level(s) (max_num_seqs) or fit the rows in a pool with other models (--pool)")


def _underdetermined_error(prob: Problem, what: str, why: str) -> ValueError:
    """The refusal of ``prob``'s fit: naming the files, ``what`` (the group) and ``why``
    (:func:`_underdetermined_reason`)."""
    return ValueError(f"{_files_of(prob)}: {what}: {why}")


def _check_determined(prob: Problem, what: str) -> None:
    """Raise ``ValueError`` naming the files, ``what`` (the group) and :func:`_underdetermined_reason` when ``prob``'s
    rows cannot determine its fit."""
    why = _underdetermined_reason(prob)
    if why:
        raise _underdetermined_error(prob, what, why)


def _fit_quality(prob: Problem, perf, pw) -> tuple[dict, list, list]:
    g = prob.g0
    fitq: dict = {"n_points": n_points(prob), "n_values": prob.n_values, "n_free_params": _free(prob),
                  **({"n_cap_rows": len(prob.caps)} if prob.caps else {}),
                  # the lowest power cap its rows measured (x TDP; 1.0: every row at the full board limit): a run
                  # below it on this profile says EXTRAPOLATED CAP (dcsim.node.model.own_cap_frac)
                  "min_cap_frac": min_cap_frac([c[5] for c in prob.caps])}
    points, req_pts = [], []
    if len(g.load):
        tput, jt, _ = prob.predict(perf, pw, g)
        points = [{"max_num_seqs": int(g.level[i]), "batch": float(g.batch[i]),
                   "tok_s": float(g.tok_s[i]), "tok_s_fit": round(float(tput[i]), 2),
                   "j_per_tok": round(float(g.j_tok[i]), 6), "j_per_tok_fit": round(float(jt[i]), 5),
                   "err_tok_s_pct": round(float((tput[i] / g.tok_s[i] - 1) * 100), 2),
                   "err_j_pct": round(float((jt[i] / g.j_tok[i] - 1) * 100), 2)} for i in range(len(g.load))]
        fitq.update({"mape_tok_s_pct": round(_mape(tput, g.tok_s), 3),
                     "mape_j_per_tok_pct": round(_mape(jt, g.j_tok), 3),
                     "max_err_tok_s_pct": round(float(np.max(np.abs(tput / g.tok_s - 1)) * 100), 3),
                     "max_err_j_per_tok_pct": round(float(np.max(np.abs(jt / g.j_tok - 1)) * 100), 3)})
        if np.isfinite(g.itl).any():
            itl = prob.predict_itl(perf, pw, g)
            for i, pt in enumerate(points):
                if np.isfinite(g.itl[i]):
                    pt.update({"median_itl_ms": round(float(g.itl[i] * 1e3), 3),
                               "median_itl_ms_fit": round(float(itl[i] * 1e3), 3),
                               "err_itl_pct": round(float((itl[i] / g.itl[i] - 1) * 100), 2),
                               "itl_fitted": bool(g.itl_fitted[i] and prob.fit_itl)})
            f = g.itl_fitted
            if prob.fit_itl and f.any():
                fitq.update({"mape_itl_pct": round(_mape(itl[f], g.itl[f]), 3),
                             "max_err_itl_pct": round(float(np.max(np.abs(itl[f] / g.itl[f] - 1)) * 100), 3)})
    if g.rq:
        pr = prob.predict_requests(perf, pw, g)
        for (pt, b, n_out), m, p in zip(g.rq, g.rq_meas, pr):
            q = lambda v, n: round(float(v), n)  # noqa: E731
            req_pts.append({"prompt_tokens": int(pt), "batch": int(b), "output_tokens": int(n_out),
                            "prompt_time_ms": q(m[0] * 1e3, 3), "prompt_time_ms_fit": q(p[0] * 1e3, 3),
                            "token_time_ms": q(m[1] * 1e3, 3), "token_time_ms_fit": q(p[1] * 1e3, 3),
                            "avg_w_per_gpu": q(m[2] / g.tp, 2), "avg_w_per_gpu_fit": q(p[2] / g.tp, 2),
                            "peak_w_per_gpu": q(m[3] / g.tp, 2), "peak_w_per_gpu_fit": q(p[3] / g.tp, 2),
                            "decode_w_per_gpu_fit": q(p[4] / g.tp, 2)})
        err = np.abs(pr[:, :4] / g.rq_meas - 1) * 100
        fitq.update({"mape_prompt_time_pct": round(float(err[:, 0].mean()), 3),
                     "mape_token_time_pct": round(float(err[:, 1].mean()), 3),
                     "mape_avg_power_pct": round(float(err[:, 2].mean()), 3),
                     "mape_peak_power_pct": round(float(err[:, 3].mean()), 3),
                     "max_err_request_pct": round(float(err.max()), 3)})
    return fitq, points, req_pts


class Replica(NamedTuple):
    """dcsim's own replica for one group's rows and its prediction of them (:func:`dcsim_replica`)."""
    group: _Group  # the rows, with the physics constants of their model, precision and TP
    spec: NodeSpec
    node: NodeModel
    quality: dict  # :func:`_fit_quality`'s summary: MAPE and worst error of each quantity
    points: list  # each load row: measured, predicted (``*_fit``), error
    request_points: list  # each request row: measured and predicted


def dcsim_replica(rows_g: list[dict], profile: str | None = None, base_dir: str | Path | None = None) -> Replica:
    """The replica a scenario with this group's node runs (:func:`dcsim.node.model.build_node`: the shipped
    calibration, a carry from a model of the same shape or another TP degree, the GPU's pooled transfer, or the
    profile file ``profile``, relative to ``base_dir``) and its prediction of the group's rows through the fit's own
    steady state and iteration step (:func:`_fit_quality`). What ``--predict`` reports point by point
    (:func:`dcsim.node.predict.predict_group`) and the fit report's line against dcsim's own replica
    (:func:`dcsim_anchor`) sums up. Raises :class:`MeasurementError` / ``ValueError`` for a group that is not one
    serving layout of a known model, or that dcsim cannot build."""
    prob = Problem(rows_g[0]["gpu"], [rows_g], [])  # checks the group (one serving layout, a known model)
    g = prob.g0
    gpu, model, precision, tp = g.key
    spec = NodeSpec(gpu=gpu, model=model, precision=precision, tensor_parallel=tp, profile=profile,
                    expert_parallel=(g.expert_parallel > 1) if g.d.expert_frac > 0 else None)
    node = build_node(spec, base_dir)
    return Replica(g, spec, node, *_fit_quality(prob, node.perf, node.pw))


#: optional load-row columns whose default the fit and ``--predict`` take when a row leaves them empty, and what it is
_LOAD_DEFAULTS = {
    "decode_ctx": "mean_in + mean_out/2 assumed (it under-states the residence-weighted context when output lengths "
                  "vary)",
    "prompt_scv": "0 assumed (every prompt alike; ML.ENERGY's chat rows carry 0.28)",
}


def input_notes(rows: list[dict]) -> list[str]:
    """Notes on what ``rows`` leave to defaults: one per optional load-row column (:data:`_LOAD_DEFAULTS`) that some
    fitted load rows leave empty, with the default taken (both move a prediction: Llama-3.1-70B on 4 H100s, seven
    ML.ENERGY rows without them, the worst tokens/s error of the shipped profile 4.5 % instead of 3.6 %, one point
    outside its band); and one per column of the files that calibrate does not read but whose name is close to one it
    reads and the files lack (``decode_context`` for ``decode_ctx``): such a column is left out without a word and
    its default taken."""
    load = [r for r in rows if fitted_load(r)]
    out = []
    for c, what in _LOAD_DEFAULTS.items():
        n = sum(not (r.get(c) or "").strip() for r in load)
        if n:
            out.append(f"{c} not given in {n} of {len(load)} load row(s): {what}")
    header = {c for r in rows for c in r if isinstance(c, str) and not c.startswith("_")}
    for c in sorted(header - set(READ_COLUMNS)):
        near = [m for m in difflib.get_close_matches(c, READ_COLUMNS, n=2, cutoff=0.75) if m not in header]
        if near:
            out.append(f"column {excerpt(c)} is not one dcsim calibrate reads (did you mean "
                       f"{' or '.join(map(repr, near))}?): left out")
    return out


def kv_over_capacity(g: _Group) -> list[dict]:
    """The load rows whose measured batch, at its decode context, holds more KV than the replica can
    (``batch x decode_ctx`` over the KV capacity :func:`dcsim.node.model.build_node` gives the replica): a server
    cannot keep that resident, so the published average batch there counts requests waiting or preempted, while
    the fit reads the full context of every one (docs/node.md, "Eleventh pass"; ML.ENERGY's highest
    ``max_num_seqs`` of most groups, up to 6.4x)."""
    from dcsim.node.model import kv_free_bytes  # the engine's KV room (usable HBM less the weights)

    cap = kv_free_bytes(g.gpu, g.tp, g.d) / g.d.kv_bytes_per_token
    # a sliding-window layer keeps only its window (NodeModel.for_context): the KV a sequence holds is its attended context
    held = g.batch * attended_context(g.d, g.decode_ctx, 1.0) / cap if len(g.load) else np.empty(0)
    return [{"max_num_seqs": int(g.level[i]), "batch": float(g.batch[i]), "kv_held_x": round(float(held[i]), 2)}
            for i in np.flatnonzero(held > 1.0)]


def measured_lengths(rows: list[dict]) -> dict:
    """The prompt lengths and decode contexts a fit's rows were measured at, ``[lowest, highest]`` tokens each
    (``prompt_tokens``, ``decode_context``), over the rows it fits: a fitted load row's ``mean_in`` and its
    residence-weighted context (:func:`row_decode_ctx`); a request row's ``prompt_tokens`` and its decode steps' mean
    context, ``prompt + output/2`` (:func:`dcsim.node.perf.decode_context`). Written into every profile (and pooled
    fit): the engine compares a pool's workload with it (:func:`dcsim.node.model.at_workload`; a workload far beyond
    it runs on extrapolated figures, docs/node.md "Extrapolated context"). Empty when no row is fitted."""
    prompt, ctx = [], []
    for r in rows:
        if r["kind"] == "load" and fitted_load(r):
            prompt.append(float(r["mean_in"]))
            ctx.append(row_decode_ctx(r))
        elif r["kind"] == "request":
            p, n = float(r["prompt_tokens"]), float(r["output_tokens"])
            prompt.append(p)
            ctx.append(float(decode_context(p, n)))
    if not prompt:
        return {}
    return {"prompt_tokens": [round(min(prompt), 1), round(max(prompt), 1)],
            "decode_context": [round(min(ctx), 1), round(max(ctx), 1)]}


def input_files(paths) -> list[dict]:
    """What identifies the measurement files a profile was fitted from (a profile's ``inputs``): each file's path as
    given to ``dcsim calibrate`` (relative to where it ran), its size and the sha256 of its bytes, so the fit can be
    rerun, and its inputs checked, from elsewhere (its ``measurements`` name the files alone)."""
    out = []
    for p in sorted({str(p) for p in paths}):
        try:
            data = Path(p).read_bytes()
        except OSError:  # rows given without their file (not read by read_rows): nothing to hash
            out.append({"path": p, "bytes": None, "sha256": None})
            continue
        out.append({"path": p, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    return out


def _command(paths, options: str) -> str:
    """A profile's ``generated_by``: the ``dcsim calibrate`` call with the files as given (shell-quoted)."""
    return "dcsim calibrate " + " ".join(shlex.quote(p) for p in sorted({str(p) for p in paths})) + options


def _fitted(prob: Problem, gamma: float):
    """:func:`fit` of ``prob`` as a profile states it: ``(perf, pw, params, uncertainty, warnings)``, ``params`` every
    parameter to 6 significant digits (as written), ``perf``/``pw`` the optimum itself (the fit's own report)."""
    res = fit(prob, gamma)
    unc, warns = uncertainty(prob, res)
    # a term of NEUTRAL the data do not identify is held at its neutral value (no host wait), not left to its prior:
    # the fit is redone on a fresh problem holding it; its uncertainty record stays, marked held (identified False,
    # held_at), which the report's warning lines print (_warning_lines)
    held = [k for k in NEUTRAL if k in unc and not unc[k]["identified"]]
    if held:
        first = unc
        prob = prob.holding(held)
        res = fit(prob, gamma)
        unc, warns = uncertainty(prob, res)
        for k in held:
            unc[k] = {**first[k], "identified": False, "held_at": NEUTRAL[k]}
            warns = [_unidentified_text(k, None, first[k]["rel_se_data"], held_at=NEUTRAL[k])] + warns
    perf, pw = prob.unpack(res.x)
    params = {**asdict(perf), **asdict(pw)}
    # a profile states the host wait only where it was fitted (every other profile reads 0 without it)
    return perf, pw, {k: float(f"{params[k]:.6g}") for k in PARAM_NAMES
                      if k not in NEUTRAL or prob.free()[_I[k]]}, unc, warns


def clock_at_cap(d, gpu, tp: int, perf: PerfParams, pw: PowerParams, it: tuple, cap_w_per_gpu: float) -> float:
    """The highest clock in [the GPU's lowest, 1] at which the iteration ``it`` (``iteration_step``'s arguments) of a
    replica of ``tp`` GPUs draws at most ``cap_w_per_gpu`` per GPU (:func:`dcsim.node.power.bisect_clock`, the
    bisection :meth:`dcsim.node.model.NodeModel.clock_for_step` runs): 1.0 when full clock is within it."""
    cap = max(float(cap_w_per_gpu), gpu.power_limit_min_w)
    per_gpu = np.vectorize(lambda c: iteration_step(step_params(d, gpu, tp, perf, pw, float(c)), *it)[1] / tp)
    return float(bisect_clock(per_gpu, cap, gpu.clock_min))


def min_cap_frac(caps: list[dict]) -> float:
    """The lowest ``cap_frac_tdp`` of a fit's ``cap`` rows (x TDP), 1.0 without any (every row measured at the full
    board limit): what a profile records as ``fit.min_cap_frac`` (a pooled fit as ``min_cap_frac``)."""
    return min((float(r["cap_frac_tdp"]) for r in caps), default=1.0)


def _gamma_source(caps: list[dict], gpu: str, gamma: float) -> str:
    """A profile's ``gamma_source``: the cap files that fitted the DVFS exponent, or the assumption it was fixed at."""
    return (("fitted to cap rows: " + ", ".join(sorted({r["_file"] for r in caps}))) if caps
            else f"assumption (no cap measurements for {gpu}; gamma fixed at {gamma:g})")


def _group_label(rows_g: list[dict]) -> str:
    """A group's name in a refusal: gpu/model/precision/TP of its first row."""
    r0 = rows_g[0]
    return f"{r0['gpu']}/{r0['model']}/{r0['precision']}/TP{r0['n_gpus']}"


def _calibrate_group(rows_g: list[dict], caps: list[dict], gamma: float, loo: bool, prob: Problem) -> dict:
    """The profile dict of one group's rows with the GPU's cap rows (``prob``: their :class:`Problem`, which
    :func:`calibrate_all` has found determined: :func:`_underdetermined_reason`)."""
    r0 = rows_g[0]
    gpu, model = r0["gpu"], r0["model"]
    perf, pw, params, unc, warns = _fitted(prob, gamma)
    fitq, points, req_pts = _fit_quality(prob, perf, pw)
    cap_pts = []
    if caps:
        lf = prob.predict_caps(perf, pw)
        clk = prob.clocks_at_caps(perf, pw)
        for (d, tpc, it, cap, meas, r), v, ck in zip(prob.caps, lf, clk):
            cap_pts.append({"phase": r["phase"], "prompt_tokens": int(r["prompt_tokens"]), "batch": int(r["batch"]),
                            "cap_w_per_gpu": round(cap, 3), "latency_factor": meas,
                            "latency_factor_fit": round(float(v), 4), "clock_fit": round(float(ck), 4),
                            "err_pct": round(float((v / meas - 1) * 100), 2)})
        fitq["max_err_cap_pct"] = round(max(abs(c["err_pct"]) for c in cap_pts), 3)
    g = prob.g0
    if loo and len(g.load):
        lt, lj = [], []
        for lvl in sorted(set(g.level.tolist())):
            keep = np.flatnonzero(g.level != lvl)
            out = np.flatnonzero(g.level == lvl)
            pl = Problem(gpu, [[g.load[i] for i in keep]], caps)
            pf, pp = pl.unpack(fit(pl, params["gamma"]).x)
            t_, j_, _ = prob.predict(pf, pp, g, out)
            lt.append(np.abs(t_ / g.tok_s[out] - 1))
            lj.append(np.abs(j_ / g.j_tok[out] - 1))
        fitq["loo_mape_tok_s_pct"] = round(float(np.mean(np.concatenate(lt)) * 100), 3)
        fitq["loo_mape_j_per_tok_pct"] = round(float(np.mean(np.concatenate(lj)) * 100), 3)
    files = sorted({r["_file"] for r in rows_g} | {r["_file"] for r in caps})
    given = {r.get("_path", r["_file"]) for r in rows_g} | {r.get("_path", r["_file"]) for r in caps}
    suspects = per_gpu_power_suspects(rows_g)
    return {
        "name": profile_name(gpu, model, prob.g0.precision, prob.g0.tp),
        "gpu": gpu, "model": model, "precision": prob.g0.precision, "tensor_parallel": prob.g0.tp,
        "expert_parallel": prob.g0.expert_parallel > 1,
        "params": params,
        "uncertainty": unc,
        "warnings": suspects + repeat_warnings(rows_g + caps) + warns,
        **({"suspect_inputs": suspects} if suspects else {}),
        "gamma_source": _gamma_source(caps, gpu, gamma),
        "fit": fitq,
        "error_band_pct": fit_band(fitq) or {"tok_s_pct": None, "j_per_tok_pct": None},
        "measurements": files,
        "sources": sorted({r["source"] for r in rows_g} | {r["source"] for r in caps}),
        "assumptions": sorted({r.get("note", "") for r in rows_g if r.get("note")}),
        # the files as given and the sha256 of their bytes: the command reruns from where it ran, the hashes say
        # whether the files found elsewhere are the ones it read (until December 2026: the file names alone)
        "generated_by": _command(given, f" --gpu {gpu} --model {model} --precision {prob.g0.precision} --tp {prob.g0.tp}"),
        "inputs": input_files(given),
        "measured_lengths": measured_lengths(rows_g),
        **({"input_notes": notes} if (notes := input_notes(rows_g)) else {}),
        "points": points,
        "request_points": req_pts,
        "cap_points": cap_pts,
        "kv_over_capacity": kv_over_capacity(g),
        "repeated_requests": [{"max_num_seqs": int(r["max_num_seqs"]), "batch": float(r["batch"]),
                               "request_repeats": row_request_repeats(r)} for r in g.repeated],
    }


class CalibratedGroups(NamedTuple):
    """What :func:`calibrate_all` fits: ``profiles``, one profile dict per group fitted; ``rows``, the rows of each
    group fitted, by its :class:`GroupKey` (gpu, model, precision, tp; :func:`profile_key` of its profile): what
    the report sets against dcsim's own replica (:func:`dcsim_anchor`); ``skipped_groups``, the names of the groups
    with too few load levels (or no residual degree of freedom) for a profile of their own (selected alone, they are fitted); ``underdetermined``, by
    name, why each group whose points cannot determine its fit got none (:func:`_underdetermined_reason`: selected
    alone, it is refused with that reason)."""

    profiles: list[dict]
    rows: dict[GroupKey, list[dict]]
    skipped_groups: list[str]
    underdetermined: dict[str, str]


def profile_key(prof: dict) -> GroupKey:
    """The :class:`GroupKey` a profile dict was fitted for (its rows in :attr:`CalibratedGroups.rows`)."""
    return GroupKey(prof["gpu"], prof["model"], prof["precision"], int(prof["tensor_parallel"]))


def calibrate_all(paths: list[str | Path], gpu: str | None = None, model: str | None = None,
                  precision: str | None = None, tp: int | None = None, gamma: float = DEFAULT_GAMMA,
                  loo: bool = False, skip_bad: bool = False) -> CalibratedGroups:
    """Calibrate every (GPU, model, precision, TP) group the options select: a profile dict each, with the rows it was
    fitted on (:class:`CalibratedGroups`).

    When the options select several groups, a group with fewer load levels than :data:`MIN_LOAD_LEVELS` (and fewer
    request rows than :data:`MIN_REQUEST_ROWS`), or whose points leave no residual degree of freedom
    (:func:`problem_dof` 0: an exact fit, no band), gets no profile of its own — the rule the shipped set follows (such
    rows feed the pooled fits only) — and its name is listed in ``skipped_groups``; select it alone
    (``--gpu/--model/--precision/--tp``) to fit it anyway. A group whose points cannot determine its fit gets none
    either and is listed in ``underdetermined`` with the refusal's reason (selected alone, it is refused)."""
    skipped: list[str] = []
    rows = read_rows(paths, skip_bad=skip_bad, skipped=skipped)
    sel = groups(rows, gpu, model, precision, tp, skipped)
    few = [] if len(sel) == 1 else [k for k, rows_g in sel.items() if not has_own_profile(rows_g)]
    probs = {k: Problem(k.gpu, [rows_g], cap_rows(rows, k.gpu)) for k, rows_g in sel.items() if k not in few}
    # why each group's points cannot determine its fit, checked once: a group selected alone is refused with it,
    # one of several is listed in `underdetermined`
    under = {k: why for k, p in probs.items() if (why := _underdetermined_reason(p))}
    # a group whose points leave no residual degree of freedom is fitted exactly and states no band
    # (band_dof 0): among several, it feeds the pooled fits only, as a group with few load levels does
    if len(sel) > 1:
        nodof = [k for k, p in probs.items() if k not in under and problem_dof(p) == 0]
        few += nodof
        probs = {k: p for k, p in probs.items() if k not in nodof}
    if len(sel) == 1 and under:
        (k, why), = under.items()
        raise _underdetermined_error(probs[k], _group_label(sel[k]), why)
    if len(few) + len(under) == len(sel) > 1:
        raise ValueError("no selected group can have a profile of its own: "
                         + "; ".join([f"{profile_name(*k)} has fewer than {MIN_LOAD_LEVELS} load levels or no "
                                      "residual degree of freedom (select it with --gpu/--model/--precision/--tp to "
                                      "fit it anyway)" for k in few]
                                     + [f"{profile_name(*k)}: {why}" for k, why in under.items()]))
    out, fitted = [], {}
    for key, rows_g in sel.items():
        if key in few or key in under:
            continue
        prof = _calibrate_group(rows_g, cap_rows(rows, key.gpu), gamma, loo, probs[key])
        if skipped:
            prof["skipped_rows"] = skipped
        out.append(prof)
        fitted[key] = rows_g
    return CalibratedGroups(out, fitted, [profile_name(*k) for k in few],
                            {profile_name(*k): why for k, why in under.items()})


def calibrate(paths: list[str | Path], gpu: str | None = None, model: str | None = None, precision: str | None = None,
              tp: int | None = None, gamma: float = DEFAULT_GAMMA, loo: bool = False, skip_bad: bool = False) -> dict:
    """Fit the one group the options select and return its profile dict (what ``--out`` writes).

    With ``skip_bad``, malformed rows are left out and listed under ``skipped_rows``.
    """
    profs = calibrate_all(paths, gpu, model, precision, tp, gamma, loo, skip_bad).profiles
    if len(profs) > 1:
        raise ValueError("the files hold several groups (" + ", ".join(p["name"] for p in profs)
                         + "); pass --gpu/--model/--precision/--tp or use calibrate_all")
    return profs[0]


def _group_metrics(prob: Problem, g: _Group, perf, pw) -> tuple[np.ndarray, np.ndarray]:
    """Relative errors (pred/meas - 1) of output tokens/s and GPU J/output-token for a group's rows.

    Load rows: the steady-state point. Request rows: the whole request (prefill + decode):
    tokens/s = batch · output_tokens / (prompt time + (output_tokens - 1) · token time), and
    J/token = average GPU power x that time / tokens.
    """
    et, ej = [], []
    if len(g.load):
        tput, jt, _ = prob.predict(perf, pw, g)
        et.append(tput / g.tok_s - 1)
        ej.append(jt / g.j_tok - 1)
    if g.rq:
        pr = prob.predict_requests(perf, pw, g)
        for (pt, b, n_out), m, p in zip(g.rq, g.rq_meas, pr):
            tm_, tp_ = m[0] + (n_out - 1) * m[1], p[0] + (n_out - 1) * p[1]
            et.append(np.array([tm_ / tp_ - 1]))
            ej.append(np.array([(p[2] * tp_) / (m[2] * tm_) - 1]))
    return np.concatenate(et), np.concatenate(ej)


def pooled_fit(paths: list[str | Path], gpu: str, exclude_models: tuple[str, ...] = (),
               gamma: float = DEFAULT_GAMMA, rows: list[dict] | None = None) -> dict:
    """One parameter set fitted to every group of ``gpu`` (each group weighted equally), except
    the models in ``exclude_models``: the GPU's hardware efficiencies for transfer to models with
    no calibration (:func:`dcsim.node.catalog.transfer_profile`). Returns a profile-like dict
    with ``params``, ``uncertainty``, ``warnings`` and the pooled groups."""
    rows = read_rows(paths) if rows is None else rows
    gs = {k: v for k, v in groups(rows, gpu).items() if k.model not in exclude_models}
    if not gs:
        raise ValueError(f"no calibrated groups for {gpu} outside {exclude_models}")
    caps = cap_rows(rows, gpu)
    prob = Problem(gpu, list(gs.values()), caps, pooled=True)
    _check_determined(prob, f"pooled {gpu}")
    perf, pw, params, unc, warns = _fitted(prob, gamma)
    # the lowest clock its cap rows cover, by the pooled fit (1.0 without cap rows): the pool's own clock floor
    min_clock = round(float(min(prob.clocks_at_caps(perf, pw), default=1.0)), 4)
    not_fitted = [profile_name(*g.key) for g in prob.groups if not g.fit_energy]
    if not_fitted:
        warns = [f"energy not fitted for {', '.join(not_fitted)}: a block-scaled FP8 checkpoint's J/token (and "
                 f"request power) is its own (fp8_scaling: block in the model catalog; calibrate.energy_is_own), so "
                 f"the pool fits its tokens/s only and its own profiles its energy"] + warns
    return {"params": params, "uncertainty": unc, "min_clock_frac": min_clock,
            "warnings": per_gpu_power_suspects([r for v in gs.values() for r in v])
            + repeat_warnings([r for v in gs.values() for r in v] + caps) + warns,
            "energy_not_fitted": not_fitted,
            "pooled_groups": [profile_name(*k) for k in gs],
            "measurements": sorted({r["_file"] for v in gs.values() for r in v} | {r["_file"] for r in caps})}


def _error_row(et: np.ndarray, ej: np.ndarray) -> dict:
    """Points, MAPE and max |error| (%) of tokens/s and J/token from relative errors (:func:`_group_metrics`)."""
    return {"n_points": int(et.size),
            "mape_tok_s_pct": round(float(np.mean(np.abs(et)) * 100), 2),
            "mape_j_per_tok_pct": round(float(np.mean(np.abs(ej)) * 100), 2),
            "max_err_tok_s_pct": round(float(np.max(np.abs(et)) * 100), 2),
            "max_err_j_per_tok_pct": round(float(np.max(np.abs(ej)) * 100), 2)}


def twins(model: str, models) -> tuple[str, ...]:
    """``model`` and every model in ``models`` of the same shape (a fine-tune or a re-training under another
    name, :func:`dcsim.node.catalog.same_architecture`): what a leave-one-model-out test leaves out together,
    since a transfer would take a twin's calibration (status ``same-architecture``), not the pool."""
    m = resolve_model(model)
    return tuple(sorted({model} | {o for o in models if o != model and same_architecture(resolve_model(o), m)}))


def leave_one_model_out(paths: list[str | Path], gpu: str, gamma: float = DEFAULT_GAMMA,
                        rows: list[dict] | None = None, points: bool = False) -> list[dict]:
    """Each model of ``gpu`` predicted by the pooled fit of the GPU's other models (none of its data, nor of
    a model of the same shape: :func:`twins`, left out with it).

    One row per (model, precision, TP) group: MAPE and max |error| of tokens/s and J/token (%). A row whose
    MoE dispatch or FP8 cost the other models do not identify takes it from the other GPUs' pooled fits
    without the model, as a transfer does (:func:`dcsim.node.catalog.borrow_unidentified`), and names them
    under ``borrowed``.

    ``points``: each row also lists its points (:func:`_lomo_points`) with the *signed* errors, so a failing
    pair can be read by sign and batch (the tabulation of docs/node.md's twenty-third pass); the MAPEs above
    are their mean absolute values.
    """
    rows = read_rows(paths) if rows is None else rows
    gs = groups(rows, gpu)
    caps = cap_rows(rows, gpu)
    out = []
    models = sorted({k.model for k in gs})
    pools: dict[tuple, dict] = {}
    for model in models:
        out_models = twins(model, models)
        if len(out_models) == len(models):
            break
        if out_models not in pools:
            pools[out_models] = pooled_fit(paths, gpu, out_models, gamma, rows=rows)
        pooled = pools[out_models]
        # predicted as catalog.transfer_profile runs it: the pool's MFU held at the achievable matmul ceiling
        probs = {key: Problem(gpu, [rows_g], caps, ceiling=True) for key, rows_g in gs.items() if key.model == model}
        # the MoE dispatch / FP8 cost the other models do not identify: from the other GPUs' pools, which leave
        # this model out too (as catalog.transfer_profile takes them from the shipped pools)
        needs = {k for k, (n, _) in BORROWABLE.items()
                 if k not in pooled["uncertainty"] and any(getattr(pb.g0.d, n) > 0 for pb in probs.values())}
        params, borrowed = pooled["params"], {}
        if needs:
            params, borrowed = borrow_unidentified(pooled["params"], pooled["uncertainty"],
                                                   _donor_pools(paths, rows, gpu, out_models, needs, gamma))
        pv = np.array([params.get(k, 0.0) for k in PARAM_NAMES]) / _SCALE
        for key, prob in probs.items():
            perf, pw = prob.unpack(pv)
            row = {"profile": profile_name(*key), **_error_row(*_group_metrics(prob, prob.g0, perf, pw)),
                   "pooled_from": pooled["pooled_groups"]}
            if points:
                row["points"] = _lomo_points(prob, perf, pw)
            if borrowed:
                row["borrowed"] = {k: list(v) for k, v in borrowed.items()}  # a copy per row (no YAML anchors)
            out.append(row)
    return out


def _lomo_points(prob: Problem, perf, pw) -> list[dict]:
    """Each point of a left-out group (:func:`leave_one_model_out` with ``points``): signed relative errors
    (pred/meas - 1, %) of tokens/s and J/token, as :func:`_group_metrics` computes them. A load row adds its
    ``max_num_seqs``, batch and GPU power per GPU, measured and predicted (W); a request row its prompt tokens,
    batch and output tokens."""
    g = prob.g0
    et, ej = _group_metrics(prob, g, perf, pw)
    out = []
    if len(g.load):
        _, _, p = prob.predict(perf, pw, g)
        for i in range(len(g.load)):
            out.append({"max_num_seqs": int(g.level[i]), "batch": round(float(g.batch[i]), 2),
                        "err_tok_s_pct": round(float(et[i]) * 100, 2), "err_j_per_tok_pct": round(float(ej[i]) * 100, 2),
                        "gpu_w_measured": round(float(g.tok_s[i] * g.j_tok[i]) / g.tp, 1),
                        "gpu_w_predicted": round(float(p[i]) / g.tp, 1)})
    for j, (pt, b, n_out) in enumerate(g.rq):
        i = len(g.load) + j
        out.append({"prompt_tokens": int(pt), "batch": b, "output_tokens": int(n_out),
                     "err_tok_s_pct": round(float(et[i]) * 100, 2), "err_j_per_tok_pct": round(float(ej[i]) * 100, 2)})
    return out


def _donor_pools(paths, rows: list[dict], gpu: str, models: tuple[str, ...], needs: set[str],
                 gamma: float) -> list[tuple]:
    """``(gpu, params, uncertainty)`` of the pooled fits of the other GPUs without ``models`` whose data identify
    a parameter in ``needs`` (only those are fitted)."""
    donors = []
    for other in sorted({k.gpu for k in groups(rows)} - {gpu}):
        blocks = [b for k, b in groups(rows, other).items() if k.model not in models]
        if not blocks:
            continue
        probe = Problem(other, blocks, [])
        if ("t_moe_layer_s" in needs and probe.has_moe) or ("t_fp8_layer_s" in needs and probe.has_fp8):
            pf = pooled_fit(paths, other, tuple(models), gamma, rows=rows)
            donors.append((other, pf["params"], pf["uncertainty"]))
    return donors


#: the fewest load levels (distinct max_num_seqs) or request rows a group needs for a profile of its own
#: (fewer leave its nine parameters to the priors: it feeds the pooled fit only)
MIN_LOAD_LEVELS, MIN_REQUEST_ROWS = 4, 8


def has_own_profile(rows_g: list[dict]) -> bool:
    """True when a group has enough load levels or request rows for a profile of its own."""
    levels = {r["max_num_seqs"] for r in rows_g if fitted_load(r)}
    return len(levels) >= MIN_LOAD_LEVELS or sum(r["kind"] == "request" for r in rows_g) >= MIN_REQUEST_ROWS


def cross_tp(paths: list[str | Path], gpu: str, gamma: float = DEFAULT_GAMMA,
             rows: list[dict] | None = None) -> list[dict]:
    """Each group predicted by the fit of the same model and precision at another tensor-parallel degree
    (what a profile carried to a TP it was not measured at gives, :func:`dcsim.node.model.build_node`
    status ``other-tp``): one row per ordered pair, MAPE and max |error| of tokens/s and J/token (%)."""
    rows = read_rows(paths) if rows is None else rows
    gs = groups(rows, gpu)
    caps = cap_rows(rows, gpu)
    fits, out = {}, []
    for key, rows_g in gs.items():
        for src, rows_s in gs.items():
            if src == key or src[1:3] != key[1:3] or not has_own_profile(rows_s):
                continue
            if src not in fits:
                fits[src] = fit(Problem(gpu, [rows_s], caps), gamma).x
            prob = Problem(gpu, [rows_g], caps)
            perf, pw = prob.unpack(fits[src])
            out.append({"profile": profile_name(*key), "from": profile_name(*src),
                        **_error_row(*_group_metrics(prob, prob.g0, perf, pw))})
    return out


def pooled_profile(paths: list[str | Path], gpu: str, gamma: float = DEFAULT_GAMMA, lomo: bool = True) -> dict:
    """What ``--pool`` writes: the GPU's pooled fit over all its groups, and its leave-one-model-out table."""
    rows = read_rows(paths)
    pooled = pooled_fit(paths, gpu, (), gamma, rows=rows)
    caps = cap_rows(rows, gpu)
    files = sorted(set(pooled["measurements"]))
    return {"name": f"pooled-{gpu}", "gpu": gpu, "model": "*", "precision": "*", "tensor_parallel": None,
            "params": pooled["params"], "uncertainty": pooled["uncertainty"], "warnings": pooled["warnings"],
            "gamma_source": _gamma_source(caps, gpu, gamma), "min_cap_frac": min_cap_frac(caps),
            "min_clock_frac": pooled["min_clock_frac"],
            "pooled_groups": pooled["pooled_groups"], "energy_not_fitted": pooled["energy_not_fitted"],
            "measurements": files,
            "measured_lengths": measured_lengths([r for k, rs in groups(rows, gpu).items() for r in rs]),
            "leave_one_model_out": leave_one_model_out(paths, gpu, gamma, rows=rows) if lomo else [],
            "cross_tp": cross_tp(paths, gpu, gamma, rows=rows) if lomo else [],
            # every file read, not only those with this GPU's rows: the leave-one-model-out table borrows the costs this
            # GPU's data do not identify from the other GPUs' pools (borrow_unidentified), so their rows change it
            "generated_by": _command(paths, f" --gpu {gpu} --pool"), "inputs": input_files(paths)}


def _layout_suffix(prof: dict) -> str:
    """How an MoE profile's experts were laid out when measured (the layout it calibrates), "" if dense."""
    if prof.get("model", "*") == "*" or not resolve_model(prof["model"]).n_experts:
        return ""
    if prof.get("expert_parallel"):
        return f" (experts: expert-parallel over {prof['tensor_parallel']} GPUs, whole experts per GPU)"
    return " (experts: sharded over the replica's GPUs, tensor parallel)"


def _warning_lines(warnings: list[str], unc: dict, params: dict | None = None) -> list[str]:
    """The report's ``warning:`` lines: each warning, except that parameters not identified by the data share one line
    when there are several: on seven ML.ENERGY rows of one model every one of the 8 free parameters is, and eight such
    lines buried a warning that matters (a per-GPU power column, a bound). The line is built from the uncertainty
    record ``unc`` (each free parameter's ``identified`` and ``rel_se_data``), which a profile read back from its YAML
    file holds as the fit made it, with the fitted value from ``params``; the profile's ``warnings`` list keeps one
    entry per parameter, which is not printed (the line is always rebuilt from the record)."""
    unid = {k: u.get("rel_se_data") for k, u in unc.items() if u.get("identified") is False}
    held = {k: unc[k]["held_at"] for k in unid if unc[k].get("held_at") is not None}
    bound = [k for k in unid if unc[k].get("on_bound") and k not in held]
    out = [f"warning: {w}" for w in warnings if _UNIDENTIFIED not in w]
    if len(unid) > 1:
        each = ", ".join(f"{k} {_rel_se_text(r)}" for k, r in unid.items())
        n_set = len(unid) - len(held)
        setters = {0: "their priors set them", n_set: "their bounds set them"}.get(
            len(bound), f"their priors set them, their bounds {', '.join(bound)}") if n_set else ""
        setters = "; ".join([setters] * bool(setters)
                            + [f"{k} held at {v:g} and the fit redone without it" for k, v in held.items()])
        out.append(f"warning: {len(unid)} of {len(unc)} free parameters are not identified by these rows alone "
                   f"({setters}; data-only relative standard error, identified at most {UNIDENTIFIED_REL_SE:g}): "
                   f"{each}; together they fit the points (MAPE above), but read none of them alone as measured")
    else:
        out += [f"warning: {_unidentified_text(k, (params or {}).get(k), r, bool(unc[k].get('on_bound')), held.get(k))}"
                for k, r in unid.items()]
    return out


def _unidentified_mark(u: dict | None) -> str:
    """After a parameter's ``± se`` in the fit report: for one the rows do not identify (its uncertainty record's
    ``identified`` False), that its prior sets it and its data-only relative standard error — the ± beside it is the
    standard error with the priors, which reads as a measurement where the rows alone leave the value ±355 % (mfu of
    ML.ENERGY's Llama-3.1-70B rows: "0.85521 ± 0.0358" above a warning that none of the 8 parameters is identified)."""
    if not u or u.get("identified") is not False:
        return ""
    r = u.get("rel_se_data")
    return (f"  not identified: {_setter(bool(u.get('on_bound')))} (the data alone: ± "
            + ("inf" if r is None else f"{100 * r:,.0f} %") + ")")


def _itl_rows_text(prof: dict) -> str:
    """Which rows the fit report's median-ITL figures cover: the rows whose median iteration is decode-only
    (``itl_fitted``); the table also prints the others' ITL error, marked not fitted (ML.ENERGY's batch-383 row at
    +12.90 %, outside the "max 4.21 %" beside it), so the line says over how many rows it is taken."""
    n, total = itl_rows(prof.get("points"), "itl_fitted")
    if n == total:
        return ""
    return f" over the {n} fitted row{'s' if n != 1 else ''} ({total - n} not fitted, above)"


def itl_rows(points, flag: str) -> tuple[int, int]:
    """(rows whose median ITL is compared — ``flag`` set: ``itl_fitted`` in the fit report, ``itl_compared`` in
    ``--predict`` — , rows with a median ITL at all): the decode-only rows the median-ITL figures are taken over,
    out of those the tables print an ITL for."""
    pts = [p for p in points or [] if "median_itl_ms" in p]
    return sum(bool(p.get(flag)) for p in pts), len(pts)


def _band_lines(prof: dict) -> list[str]:
    """The fit report's ``warning:`` on the band a profile states when its fit has few degrees of freedom
    (:func:`dcsim.node.model.fit_band`): widened, or not determined; nothing otherwise (the band is the worst error
    above)."""
    f = prof["fit"]
    own = worst_in_sample(f)
    dof = fit_dof(f)
    if own is None or dof is None or dof > FEW_DOF:
        return []
    counted = (f"{f['n_points']} point(s) give at most {QUANTITIES_PER_POINT * f['n_points']} independent values for "
               f"the {point_params(f['n_free_params'], f.get('n_cap_rows') or 0)} free parameters they set")
    if dof < 1:
        return [f"warning: band not determined: {counted} (0 degrees of freedom) let the fit pass through every "
                f"value, so its in-sample error ({fmt_band(own, digits=1)}) says nothing of its error elsewhere; the "
                f"profile states none (a scenario naming it reads 'expected error unknown')"]
    band = prof.get("error_band_pct") or {}
    return [f"warning: band stated {fmt_band(band, digits=1)}: the worst in-sample error ({fmt_band(own, digits=1)}) "
            f"comes from {dof} degree(s) of freedom ({counted}), which the fit has mostly absorbed, so it is widened "
            f"x{band_widening(dof):.2f} (Student's t 97.5 % quantile at {dof} over the normal's); measure more load "
            f"levels for a band that says more"]


def format_report(prof: dict) -> str:
    """Human-readable fit table with parameter uncertainties and warnings."""
    unc = prof.get("uncertainty", {})
    files = prof.get("measurements") or []
    lines = [f"profile {prof['name']}" + _layout_suffix(prof),
             "  fitted to: " + (", ".join(Path(f).name for f in files) if files else "n/a"),
             f"  gamma (DVFS exponent): {prof['gamma_source']}"
             + (f"; they do not identify it: {_setter(bool(unc['gamma'].get('on_bound')))} (warning below)"
                if str(prof["gamma_source"]).startswith("fitted") and unc.get("gamma", {}).get("identified") is False
                else ""),
             "params (± standard error, the priors included):"]
    for k, v in prof["params"].items():
        u = unc.get(k)
        lines.append(f"  {k:<12} {v:>12.5g}" + (f" ± {u['se']:.3g}" if u else "  (fixed)") + _unidentified_mark(u))
    if prof["points"]:
        lines.append(f"{'max_num_seqs':>12} {'batch':>8} {'tok/s':>9} {'fit':>9} {'err%':>7} {'J/tok':>8} "
                     f"{'fit':>8} {'err%':>7}"
                     + (f" {'ITL ms':>8} {'fit':>8} {'err%':>7}" if any("median_itl_ms" in p for p in prof["points"])
                        else ""))
    for p in prof["points"]:
        itl = (f" {p['median_itl_ms']:>8.2f} {p['median_itl_ms_fit']:>8.2f} {p['err_itl_pct']:>7.2f}"
               + ("" if p["itl_fitted"] else " (not fitted: the median iteration carries a prompt)")
               if "median_itl_ms" in p else "")
        lines.append(f"{p['max_num_seqs']:>12} {p['batch']:>8.1f} {p['tok_s']:>9.1f} {p['tok_s_fit']:>9.1f} "
                     f"{p['err_tok_s_pct']:>7.2f} {p['j_per_tok']:>8.4f} {p['j_per_tok_fit']:>8.4f} {p['err_j_pct']:>7.2f}"
                     + itl)
    for q in prof.get("request_points", []):
        lines.append(f"request prompt {q['prompt_tokens']:>5} batch {q['batch']:>3}: prompt {q['prompt_time_ms']:.1f} "
                     f"fit {q['prompt_time_ms_fit']:.1f} ms; token {q['token_time_ms']:.2f} fit "
                     f"{q['token_time_ms_fit']:.2f} ms; W/GPU {q['avg_w_per_gpu']:.0f} fit {q['avg_w_per_gpu_fit']:.0f}; "
                     f"peak {q['peak_w_per_gpu']:.0f} fit {q['peak_w_per_gpu_fit']:.0f}")
    for c in prof["cap_points"]:
        lines.append(f"cap {c['phase']:<8} prompt {c['prompt_tokens']:>5} batch {c['batch']:>3} cap {c['cap_w_per_gpu']:.0f} W: "
                     f"latency x{c['latency_factor']:.2f} fit x{c['latency_factor_fit']:.3f} ({c['err_pct']:+.2f}%)")
    f = prof["fit"]
    if "mape_tok_s_pct" in f:
        lines.append(f"MAPE tok/s {f['mape_tok_s_pct']:.2f}%  J/tok {f['mape_j_per_tok_pct']:.2f}%  "
                     f"(max {f['max_err_tok_s_pct']:.2f}% / {f['max_err_j_per_tok_pct']:.2f}%)"
                     + (f"  median ITL {f['mape_itl_pct']:.2f}% (max {f['max_err_itl_pct']:.2f}%){_itl_rows_text(prof)}"
                        if "mape_itl_pct" in f else ""))
    if "mape_prompt_time_pct" in f:
        lines.append(f"MAPE prompt time {f['mape_prompt_time_pct']:.2f}%  token time {f['mape_token_time_pct']:.2f}%  "
                     f"average power {f['mape_avg_power_pct']:.2f}%  peak (prefill) power {f['mape_peak_power_pct']:.2f}%")
    if "loo_mape_tok_s_pct" in f:
        lines.append(f"leave-one-load-level-out MAPE tok/s {f['loo_mape_tok_s_pct']:.2f}%  J/tok {f['loo_mape_j_per_tok_pct']:.2f}%")
    lines.append(f"{f['n_values']} measured values, {f['n_free_params']} free parameters")
    lines += _band_lines(prof)
    lines += _warning_lines(prof.get("warnings", []), unc, prof.get("params"))
    over = prof.get("kv_over_capacity") or []
    if over:
        lines.append("note: at max_num_seqs " + ", ".join(str(o["max_num_seqs"]) for o in over)
                     + " the measured batch at its decode context holds "
                     + ", ".join(f"{o['kv_held_x']:.2f}x" for o in over)
                     + " the replica's KV capacity: more than a server can keep resident, so the published batch "
                       "there counts waiting or preempted requests, while the fit reads the full context of every "
                       "one (docs/node.md)")
    lines += [f"note: {d}" for d in prof.get("input_notes") or []]
    rep = prof.get("repeated_requests") or []
    if rep:
        lines.append("note: " + str(len(rep)) + " load row(s) measured with the request list sent several times "
                     "(max_num_seqs " + ", ".join(f"{o['max_num_seqs']} x{o['request_repeats']}" for o in rep)
                     + ") are left out of the fit: vLLM's prefix cache serves a repeated prompt without its "
                       "prefill, a workload the model's unique prompts do not describe (docs/node.md)")
    return "\n".join(lines)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``calibrate`` on an argparse subparsers object (for dcsim.cli)."""
    p = subparsers.add_parser("calibrate", help="fit node profiles to measured points (least squares)",
                              description=__doc__.split("\n\n")[0])
    add_args(p)
    p.set_defaults(func=run)
    return p


def _gamma_arg(text: str) -> float:
    """``--gamma``: a number in :data:`GAMMA_RANGE`, the bounds the fit holds gamma in when cap rows identify it."""
    try:
        g = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {excerpt(text)}") from None
    lo, hi = GAMMA_RANGE
    if not (lo <= g <= hi):
        raise argparse.ArgumentTypeError(f"must be in [{lo:g}, {hi:g}] (dynamic power ~ clock^gamma), got "
                                         f"{excerpt(text)}")
    return g


def _out_arg(text: str) -> str:
    """``--out``: a path, not blank (:func:`dcsim.textio.out_folder`), kept as written: a trailing ``/`` says it is a
    directory (``Path`` drops it: ``--out my_profiles/`` with one group wrote a file named ``my_profiles``)."""
    out_folder(text)
    return text


def names_a_directory(out: str) -> bool:
    """Whether ``--out`` names a directory: an existing one, or a path written with a trailing separator."""
    return Path(out).is_dir() or out.endswith(("/", os.sep))


def profile_yaml(prof: dict) -> bytes:
    """A profile (or pooled fit) as ``--out`` writes it: YAML, keys in the order the fit made them."""
    return yaml.safe_dump(prof, sort_keys=False, width=120).encode()


def fail(message: str) -> int:
    """Print ``dcsim calibrate: error: message`` on stderr; the exit code of a refused command, 2."""
    print(f"dcsim calibrate: error: {message}", file=sys.stderr)
    return 2


#: ``dcsim calibrate --predict``'s stamp (:func:`dcsim.node.predict.prediction_json` writes it first) and the bytes
#: its JSON file begins with
PREDICTION_STAMP = "dcsim calibrate --predict"
PREDICTION_HEAD = b'"generated_by": "' + PREDICTION_STAMP.encode() + b'"'  # within a prediction's first bytes
PREDICTION_KEYS = {"groups", "errors", "skipped_rows"}  # a prediction written before the stamp (2026-12-05)


def write_file(path: Path, data: bytes) -> int:
    """Write ``data`` to ``path`` (its folder made if missing) and say so; the exit code: 0, or 2 with the file and
    the reason when it cannot be written, or when ``path`` is a file calibrate did not write (a user's notes, a
    scenario: :func:`_written_by_calibrate`), which it refuses to replace. The one writer: a file named by ``--out``
    itself and one written inside an ``--out DIR/`` (``predictions.json``, ``<profile>.yaml``) are checked alike."""
    problem = _foreign_file(path)
    if problem:
        return fail(problem)
    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        return fail(f"cannot write {path}: {e}")
    print(f"wrote {path}")
    return 0


def write_out(out: str, name: str, data: bytes) -> int:
    """Write ``data`` where ``--out`` says (``out/name`` when it names a directory: :func:`names_a_directory`) and say
    so (:func:`write_file`); the exit code."""
    return write_file(Path(out) / name if names_a_directory(out) else Path(out), data)


def out_problem(out: str | None, inputs) -> str | None:
    """Why ``--out`` cannot be written, or None: it is one of the input files (a measurement CSV, a profile), which it
    would overwrite."""
    if out is None:  # (an empty --out is refused by its argparse type, textio.out_folder)
        return None
    try:
        target = Path(out).resolve()
    except (OSError, RuntimeError):
        return None
    for f in inputs:
        if f and Path(f).exists() and Path(f).resolve() == target:
            return f"--out {f} is one of the input files: it would be overwritten"
    # said before the fit is spent; write_file checks again whatever it writes, a file inside --out DIR/ too
    return None if names_a_directory(out) else _foreign_file(Path(out), "--out ")


def _foreign_file(path: Path, label: str = "") -> str | None:
    """Why ``path`` must not be written, or None: it is a file calibrate did not write (a user's notes, a scenario:
    :func:`_written_by_calibrate`), which would be replaced without a word. A profile or prediction calibrate wrote
    there before is replaced, as a re-fit asks."""
    if path.is_file() and not _written_by_calibrate(path):
        return (f"{label}{path} exists and is not a profile or prediction dcsim calibrate wrote: it would be "
                "overwritten; choose another path, or remove the file first")
    return None


def _written_by_calibrate(path: Path) -> bool:
    """Whether ``path`` holds a profile or a ``--predict`` result that ``--out`` may replace: a mapping whose
    ``generated_by`` starts ``dcsim calibrate`` (both stamp it: :func:`_command`,
    :func:`dcsim.node.predict.prediction_json`). Read as a scenario file is (:func:`dcsim.scenario.read_yaml`, its
    limits; a prediction by its stamp in its first bytes, :data:`PREDICTION_HEAD`, whatever its size, or an unstamped
    one of an earlier version by its keys, :data:`PREDICTION_KEYS`); anything unreadable is not calibrate's."""
    from dcsim.scenario import ScenarioError, read_yaml

    try:
        with open(path, "rb") as fh:
            if PREDICTION_HEAD in fh.read(128):  # a prediction past the read limits, too (whatever its layout)
                return True
        doc = read_yaml(path)
    except (OSError, ScenarioError):
        return False
    return str(doc.get("generated_by", "")).startswith("dcsim calibrate") or set(doc) == PREDICTION_KEYS


def add_args(p: argparse.ArgumentParser) -> None:
    """Add ``dcsim calibrate``'s arguments to ``p`` (the files, the group selection, ``--gamma``, ``--loo``, ``--out``,
    ``--pool``, ``--skip-bad-rows``, ``--force``); :mod:`dcsim.node.predict` adds ``--predict`` beside them."""
    p.add_argument("measurements", nargs="+", help="CSV file(s): kind=load / request / cap rows")
    p.add_argument("--gpu", default=None, help="GPU catalog name, e.g. H100-SXM (default: every GPU in the files)")
    p.add_argument("--model", default=None, help="model catalog name, e.g. llama-3.1-70b (default: every model)")
    p.add_argument("--precision", choices=["bf16", "fp8", "int4"], default=None)
    p.add_argument("--tp", type=count_arg("GPUs per replica"), default=None,
                   help="GPUs per replica (n_gpus column), at least 1")
    p.add_argument("--gamma", type=_gamma_arg, default=DEFAULT_GAMMA,
                   help="DVFS exponent when no cap rows (assumption; 1 to 5, the fit's bounds)")
    p.add_argument("--loo", action="store_true", help="also report leave-one-load-level-out error")
    p.add_argument("--out", type=_out_arg, default=None,
                   help="write the profile YAML here (a directory when several groups are calibrated, or when it "
                        "ends in /)")
    p.add_argument("--pool", action="store_true",
                   help="fit one parameter set to all groups of --gpu (default: the files' one GPU; its hardware "
                        "efficiencies for models with no calibration) and report the leave-one-model-out error")
    p.add_argument("--skip-bad-rows", action="store_true",
                   help="leave malformed rows out (counted and listed) instead of stopping at the first")
    p.add_argument("--force", action="store_true",
                   help=f"write a profile even when the fit misses its own data by more than {FIT_REFUSE_MAPE_PCT:g} %% "
                        "(MAPE)")


#: a fit whose in-sample MAPE (any of tokens/s, J/token, ITL, request times or power) exceeds this (%) is not written
#: without --force: the shipped fits miss their own data by at most 16.3 % (A100 prompt time; docs/node.md), and a
#: unit mistake misses by orders of magnitude (power in kW read as W: J/token 8,217 %; tokens/s in tok/ms: 3,752 %;
#: the hostile-input audit of 2026-12-04). Assumption: 50 %, three times the worst shipped fit
FIT_REFUSE_MAPE_PCT = 50.0


def fit_too_poor(prof: dict) -> list[str]:
    """The in-sample error figures of ``prof`` above :data:`FIT_REFUSE_MAPE_PCT` ("name X %"), empty if none."""
    f = prof.get("fit") or {}
    names = {"tok_s": "tokens/s", "j_per_tok": "J/token", "itl": "ITL"}
    return [f"{names.get(k[5:-4], k[5:-4].replace('_', ' '))} {v:,.1f} %" for k, v in f.items()
            if k.startswith("mape_") and k.endswith("_pct") and isinstance(v, (int, float)) and v > FIT_REFUSE_MAPE_PCT]


def run(args: argparse.Namespace) -> int:
    """Execute a parsed ``calibrate`` command; returns the exit code."""
    problem = out_problem(args.out, args.measurements)
    if problem:
        return fail(problem)
    if args.pool:
        return _run_pool(args)
    try:
        profs, fitted, few, under = calibrate_all(args.measurements, args.gpu, args.model, args.precision, args.tp,
                                           args.gamma, args.loo, skip_bad=args.skip_bad_rows)
    except (ValueError, OSError, KeyError) as e:
        return fail(str(e))
    for i, prof in enumerate(profs):
        if i:
            print()
        print(format_report(prof))
        line = dcsim_anchor(fitted[profile_key(prof)])
        if line:
            print(line)
    if few:
        print(f"no profile for {len(few)} group(s) with fewer than {MIN_LOAD_LEVELS} load levels or no residual "
              f"degree of freedom (select one with --gpu/--model/--precision/--tp to fit it anyway):", *few, sep="\n  ")
    if under:
        print(f"no profile for {len(under)} group(s) with too few measurement points for their free parameters "
              f"(selected alone, each is refused so):", *(f"{k}: {why}" for k, why in under.items()), sep="\n  ")
    if profs and profs[0].get("skipped_rows"):
        print(f"skipped {len(profs[0]['skipped_rows'])} malformed row(s):", *profs[0]["skipped_rows"], sep="\n  ")
    poor = {p["name"]: fit_too_poor(p) for p in profs}
    poor = {k: v for k, v in poor.items() if v}
    suspect = {p["name"]: p["suspect_inputs"] for p in profs if p.get("suspect_inputs")}
    if (poor or suspect) and not getattr(args, "force", False):
        for name, what in poor.items():
            print(f"dcsim calibrate: error: {name}: the fit misses its own measurements by more than "
                  f"{FIT_REFUSE_MAPE_PCT:g} % (MAPE {', '.join(what)}): a unit mistake (power in kW for W, tokens/s in "
                  "tokens/ms, energy per input token) or a configuration the node model does not describe; nothing "
                  "written (--force writes it anyway)", file=sys.stderr)
        for name, what in suspect.items():
            print(f"dcsim calibrate: error: {name}: {'; '.join(what)}; nothing written (--force writes it anyway)",
                  file=sys.stderr)
        return 2
    for prof in profs:  # a profile written only by --force says so, so that its generated_by rebuilds it
        if prof["name"] in poor or prof["name"] in suspect:
            prof["generated_by"] += " --force"
    if args.out:  # one profile to the path given, unless it names a directory; several into it, one file each
        one = len(profs) == 1 and not names_a_directory(args.out)
        for prof in profs:
            code = write_file(Path(args.out) if one else Path(args.out) / f"{prof['name']}.yaml", profile_yaml(prof))
            if code:
                return code
    return 0


def _pool_gpu(paths, gpu: str | None) -> str:
    """The GPU ``--pool`` fits: ``--gpu`` as the catalog names it, else the one GPU of the files' load and request
    rows (a ValueError naming them when there are several: a pool is one GPU's)."""
    if gpu is not None:
        return _canonical_name(gpu, resolve_gpu)
    gpus = sorted({k.gpu for k in groups(read_rows(paths))})
    if len(gpus) > 1:
        raise ValueError(f"--pool fits one GPU and the files hold {len(gpus)} ({', '.join(gpus)}): pass --gpu")
    return gpus[0]


#: rows that dcsim's own replica misses by a MAPE above this many times its stated band (and at least
#: :data:`ANCHOR_FLOOR_PCT`) are called far outside it in the fit report (assumption: a band is a worst in-sample or
#: left-out error, so a mean error twice the worst is not scatter; a units slip misses by n_gpus-fold)
ANCHOR_FAR_X = 2.0

#: the band below which :data:`ANCHOR_FAR_X` is not applied (assumption: a calibrated band of ±3 % would call a 7 %
#: miss from another lab's rig far)
ANCHOR_FLOOR_PCT = 5.0


def in_sample_files(rows_g: list[dict], cal: dict) -> list[dict]:
    """The files of a group's rows (as given) that the profile predicting them was fitted from — then its stated band,
    the worst in-sample error of that fit (:func:`dcsim.node.model.fit_band`), was set by these very rows, and "0 of
    9 points outside the stated band" (``--predict`` on ML.ENERGY's Llama-3.1-70B rows, the shipped profile's own
    input) tests nothing. Only a profile measured for this setup predicts them (``calibrated`` or ``user-profile``,
    no ``profile_mismatch``) — or a pool whose groups (``source_profiles``, its ``pooled_groups``) hold this group's
    (a pair run on the pool over its other-TP carry, :func:`dcsim.node.catalog.pool_over_carry`: the pool was fitted
    to these rows too, so its error on them is in-sample; ``pooled`` True in each match): a carry, a transfer of an
    unmeasured pair or another setup's profile was not fitted to this group's rows. A file matches one of the
    profile's inputs by its sha256 (``inputs``, written by ``dcsim calibrate`` since December 2026), else by its name
    where the profile records the name alone (``measurements``; the shipped profiles). Each match: ``path`` (as
    given), ``match`` (``sha256`` or ``name``) and ``pooled``."""
    status = cal.get("base_status", cal.get("status"))
    pooled = (bool(rows_g) and status == "transferred"
              and profile_name(*group_key(rows_g[0])) in (cal.get("source_profiles") or []))
    if (status not in ("calibrated", "user-profile") and not pooled) or cal.get("profile_mismatch"):
        return []
    src = cal.get("profile_source")
    if pooled:
        from dcsim.node.catalog import pooled_profiles

        src = pooled_profiles().get(rows_g[0]["gpu"]) or {}
    elif src is None:
        from dcsim.node.catalog import load_profile

        try:
            src = load_profile(str(cal.get("profile")))
        except (ValueError, OSError, KeyError):
            return []
    inputs = [i for i in src.get("inputs") or [] if isinstance(i, dict)]
    hashes = {i["sha256"] for i in inputs if i.get("sha256")}
    hashed = {Path(str(i.get("path"))).name for i in inputs if i.get("sha256")}
    named = ({Path(str(n)).name for n in src.get("measurements") or []}
             | {Path(str(i.get("path"))).name for i in inputs if not i.get("sha256")}) - hashed
    given = input_files({r["_path"] for r in rows_g if r.get("_path")})
    return [{"path": f["path"], "match": "sha256" if f["sha256"] and f["sha256"] in hashes else "name",
             "pooled": pooled}
            for f in given if (f["sha256"] and f["sha256"] in hashes) or Path(f["path"]).name in named]


def in_sample_text(files: list[dict], profile: str) -> str:
    """What a report says where :func:`in_sample_files` found the rows in the profile's inputs."""
    said = ", ".join(Path(f["path"]).name + (" (its sha256)" if f["match"] == "sha256" else " (by name: the profile "
                                                                                             "records no sha256)")
                     for f in files)
    if any(f.get("pooled") for f in files):
        return (f"in-sample: the pool that predicts these rows ({profile}) was fitted to them too ({said}), and its "
                "band was chosen on them, so they do not test it")
    return (f"in-sample: these rows set the band ({profile} was fitted to {said}; its band is that fit's worst "
            "error), so they do not test it")


def dcsim_anchor(rows_g: list[dict]) -> str | None:
    """One line setting a group's rows (as read for the fit) against dcsim's own replica for that setup (what
    ``--predict`` prints in full, :func:`dcsim_replica`: the shipped calibration, a carry or the GPU's pooled
    transfer) with the band dcsim states for it. A fit matches its own rows whatever their units: tokens/s per GPU
    written for a replica of 4 GPUs fitted with MAPE 3.2 / 1.0 % (a per-layer overhead of 0.70 ms, every shipped fit
    0.023-0.41 ms) and was written with exit 0, while dcsim's calibrated replica missed those rows by 306 % / 75 %
    against its band of 3.6 / 3.0 %. None for a group dcsim cannot build or with no load rows."""
    try:
        rep = dcsim_replica(rows_g)
    except (ValueError, KeyError, OSError):
        return None
    s, cal = rep.quality, rep.node.calibration
    if "mape_tok_s_pct" not in s:
        return None
    band = cal.get("error_band_pct") or {}
    stated = (f"its stated band {fmt_band(band, bool(cal.get('band_lower_bound')), digits=1)}"
              if band.get("tok_s_pct") is not None else "no stated band")
    far = band.get("tok_s_pct") is not None and any(
        s[m] > ANCHOR_FAR_X * max(band[b], ANCHOR_FLOOR_PCT)
        for m, b in (("mape_tok_s_pct", "tok_s_pct"), ("mape_j_per_tok_pct", "j_per_tok_pct")))
    return ("warning: " if far else "") + (
        f"dcsim's own {cal['status']} replica for these rows ({cal['profile']}, {stated}) misses them by "
        f"MAPE tok/s {s['mape_tok_s_pct']:.1f} %, J/token {s['mape_j_per_tok_pct']:.1f} % (`--predict` shows each "
        f"point)" + (": far outside its band, check the rows' units (tokens/s and gpu_power_w of the whole "
                     "replica, GPU board power only) before using this fit" if far else "")
        + ("; " + in_sample_text(own, cal["profile"]) if (own := in_sample_files(rows_g, cal)) else ""))


def _run_pool(args: argparse.Namespace) -> int:
    try:
        args.gpu = _pool_gpu(args.measurements, args.gpu)
        prof = pooled_profile(args.measurements, args.gpu, args.gamma)
    except (ValueError, OSError, KeyError) as e:
        return fail(str(e))
    print(f"pooled {args.gpu} over {', '.join(prof['pooled_groups'])}")
    for k, v in prof["params"].items():
        u = prof["uncertainty"].get(k)
        print(f"  {k:<12} {v:>12.5g}" + (f" ± {u['se']:.3g}" if u else "  (fixed)"))
    if not prof["leave_one_model_out"]:
        print("leave-one-model-out: none (the pool holds one model: its error on a model it was not fitted to, the "
              "band of a transfer, cannot be measured from these files)")
    else:
        print(f"{'leave-one-model-out':<45} {'MAPE tok/s':>10} {'J/tok':>8} {'max tok/s':>10} {'max J/tok':>10}")
    for r in prof["leave_one_model_out"]:
        print(f"{r['profile']:<45} {r['mape_tok_s_pct']:>10.2f} {r['mape_j_per_tok_pct']:>8.2f} "
              f"{r['max_err_tok_s_pct']:>10.2f} {r['max_err_j_per_tok_pct']:>10.2f}"
              + "".join(f"  ({k} from {', '.join(v)})" for k, v in (r.get("borrowed") or {}).items()))
    if prof["cross_tp"]:
        print(f"{'another TP degree (from)':<45} {'MAPE tok/s':>10} {'J/tok':>8} {'max tok/s':>10} {'max J/tok':>10}")
    for r in prof["cross_tp"]:
        print(f"{r['profile'] + ' <- tp' + r['from'].rsplit('_tp', 1)[1]:<45} {r['mape_tok_s_pct']:>10.2f} "
              f"{r['mape_j_per_tok_pct']:>8.2f} {r['max_err_tok_s_pct']:>10.2f} {r['max_err_j_per_tok_pct']:>10.2f}")
    print(*_warning_lines(prof["warnings"], prof["uncertainty"], prof.get("params")), sep="\n")
    return write_out(args.out, f"{prof['name']}.yaml", profile_yaml(prof)) if args.out else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``dcsim calibrate ...`` (argv without the subcommand name)."""
    p = argparse.ArgumentParser(prog="dcsim calibrate", description=__doc__.split("\n\n")[0])
    add_args(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
