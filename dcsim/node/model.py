"""NodeModel: one model replica on ``tp`` GPUs (contract: docs/architecture.md "Node model")."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial, reduce
import hashlib
from pathlib import Path
from collections.abc import Mapping
from typing import Callable, NamedTuple

import numpy as np

from dcsim.node.catalog import (BORROWABLE, SAME_SHAPE_CARRY_PCT, compute_ceiling, context_carry,
                                max_band, find_architecture_profile, find_profile, load_profile, measured_cap_frac,
                                measured_clock_frac, profile_clock_floor,
                                measured_tp_ratio_max,
                                other_tp_band, pool_over_carry, pool_transfer, profile_name, pooled_profiles, rescale_power, shipped_profiles,
                                tp_carry_evidence, resolve_gpu, resolve_model, same_silicon_gpu, serving_stack,
                                _worst, stack_note, transfer_mfu, transfer_profile, fitted_without_cap_rows, norm_gpu,
                                stated_min_cap_frac, has_shipped_measurements)
from dcsim.node.levers import active_levers, resolve_levers
from dcsim.node.perf import (DEFAULT_OVERLAP_P, Derived, PerfParams, attended_context, compute_precision,
                             decode_context, derive, steady_iteration, tensor_parallel_problem, weight_bytes)
from dcsim.node.power import PowerParams, bisect_clock, wall_power
from dcsim.node.step import check_clock, iteration_step, steady_step, step_params
from dcsim.scenario.node import GpuSpec, ModelSpec, NodeSpec

# vLLM gpu_memory_utilization default 0.9: fraction of HBM for weights + KV cache (vLLM docs).
HBM_USABLE = 0.9
# Weights must leave >= 30% of the replica's HBM for KV cache and activations (assumption; it
# reproduces every TP choice of ML.ENERGY v3: 8B/1xH100, 70B/4xH100, 70B/2xB200, 405B-FP8/8xH100,
# 405B-FP8/4xB200, Qwen3-235B-FP8/8xH100 and 2xB200, DeepSeek-V3/8xB200 [ML3]).
WEIGHT_FRACTION_MAX = 0.7


def kv_free_bytes(gpu: GpuSpec, tp: int, d: Derived) -> float:
    """HBM left for the KV cache on a replica of ``tp`` GPUs (B): the usable share less the weights."""
    return HBM_USABLE * tp * gpu.hbm_bytes - d.weight_bytes_total


class SteadyState(NamedTuple):
    """Steady-state operating point of a replica (arrays broadcast over batch and clock)."""

    throughput_tok_s: np.ndarray   # output tokens/s of the replica
    gpu_power_w: np.ndarray        # sum over the replica's GPUs
    wall_power_w: np.ndarray       # GPU + host share, after PSU losses
    iter_time_s: np.ndarray        # mean iteration time
    u_compute: np.ndarray          # compute roofline utilisation
    u_memory: np.ndarray           # memory roofline utilisation


def default_tp(model: ModelSpec, gpu: GpuSpec, precision: str, gpus_per_node: int) -> int:
    """Smallest power of two (<= gpus_per_node) whose HBM holds the weights with >= 30% spare."""
    wbytes = sum(weight_bytes(model, precision))
    tp = 1
    while tp < gpus_per_node and wbytes > WEIGHT_FRACTION_MAX * tp * gpu.hbm_bytes:
        tp *= 2
    return min(tp, gpus_per_node)


@dataclass(frozen=True, eq=False)
class NodeModel:
    """Latency and power of one replica; see module docstring of perf and power for physics."""

    spec: NodeSpec
    gpu: GpuSpec
    model: ModelSpec
    derived: Derived
    perf: PerfParams
    pw: PowerParams
    profile: dict
    gpus_per_replica: int
    replicas_per_node: int
    gpus_per_node: int
    max_batch: int
    kv_capacity_tokens: float
    clock_min: float
    power_cap_w: float
    calibration: dict = None  # type: ignore[assignment]  # see calibration_record()

    @property
    def limit_w(self) -> float:
        """Per-GPU board power limit in force (W): ``power_cap_w`` clipped to the GPU's settable
        range [power_limit_min_w, tdp_w] (nvidia-smi -pl behaviour). Power never exceeds it."""
        return min(max(float(self.power_cap_w), self.gpu.power_limit_min_w), self.gpu.tdp_w)

    # -- static quantities -------------------------------------------------
    @property
    def tokens_per_step(self) -> float:
        """Tokens emitted per decode sequence per verification step (1 without speculation)."""
        return self.derived.tokens_per_step

    @property
    def idle_gpu_power_w(self) -> float:
        """GPU power of the replica with no requests (W)."""
        return self.gpus_per_replica * self.gpu.idle_w

    @property
    def idle_wall_power_w(self) -> float:
        """Wall power attributable to the idle replica (W)."""
        return float(self.wall_power(self.idle_gpu_power_w))

    def wall_power(self, gpu_power_w):
        """Wall power of the replica (GPU + host share, PSU losses) for a replica GPU power (W)."""
        return wall_power(self.gpu, self.gpus_per_replica, self.gpus_per_node, gpu_power_w)

    # -- fast per-iteration closure -----------------------------------------
    def step_fn(self, clock: float = 1.0) -> Callable[..., tuple[float, float]]:
        """Plain-float closure ``(prefill_tokens, n_decode, ctx_tokens_sum[, prefill_ctx_sum])
        -> (dt_s, gpu_power_w)`` for one iteration at ``clock``.

        ``prefill_ctx_sum`` defaults to ``prefill_tokens**2 / 2`` (the chunk is one causal
        prompt). With speculative decoding a verification step emits ``tokens_per_step`` tokens
        per decode sequence; so that a caller counting one token per decode sequence per call
        stays right, the decode share of the step time (by positions) is divided by
        ``tokens_per_step``. Empty batch -> ``(0.0, idle power)``.
        """
        return partial(iteration_step, self.step_params(clock))

    def step_params(self, clock: float = 1.0) -> tuple:
        """Float tuple ``P`` with ``step_fn(clock)(*a) == iteration_step(P, *a)`` (for compiled kernels)."""
        return step_params(self.derived, self.gpu, self.gpus_per_replica, self.perf, self.pw, clock, self.limit_w)

    # -- vectorised steady state ---------------------------------------------
    @property
    def max_batched_tokens(self) -> int:
        """Token budget of one iteration (prefill chunks + decode positions), vLLM max_num_batched_tokens."""
        return int(self.spec.max_batched_tokens)

    def steady_state(self, batch, mean_in, mean_out, clock=1.0, decode_ctx=None, prompt_scv=0.0) -> SteadyState:
        """Steady-state throughput and power at ``batch`` concurrent sequences (broadcasts).

        Time and power are :func:`dcsim.node.step.steady_step` (the request path's
        ``iteration_step`` over the steady mix of iterations), so the board limit and throttling
        are the same as per iteration; ``u_compute`` / ``u_memory`` are the unthrottled roofline
        shares at ``clock`` (diagnostics). ``decode_ctx``: tokens of context a running sequence
        holds (:func:`dcsim.node.perf.steady_mix`; default ``mean_in + mean_out/2``). ``prompt_scv``: squared
        coefficient of variation of the prompt lengths (a workload's :meth:`dcsim.workload.Workload.prompt_scv`;
        0: every prompt of ``mean_in`` tokens; the prompts per iteration are Poisson either way).

        A ``batch`` below one is a replica busy part of the time: a batch of one runs for a share ``batch`` of the
        time and the replica idles the rest (throughput ``batch`` times a batch of one's, power the time-weighted
        mix of a batch of one's and idle; ``iter_time_s`` stays the step of a batch of one). Until December 2026 a
        batch of 0.001 drew a batch of one's power (the 8B on one H100, 634 / 400 tokens: 477 W and 3,196 J/token;
        now 72.4 W, the idle 72 W and a thousandth of a batch of one's, and 492 J/token). A negative or NaN batch is
        refused.
        """
        check_clock(clock)  # before any arithmetic: a clock of 0 divided by zero on the way to the refusal
        b_in = np.asarray(batch, dtype=float)
        if not np.all(b_in >= 0.0):
            bad = b_in[~(b_in >= 0.0)].ravel()[0]
            raise ValueError(f"batch must be a number of sequences >= 0 (below 1: the share of the time a batch of "
                             f"one runs), got {float(bad)!r}")
        share = np.minimum(b_in, 1.0)  # the share of the time a batch of one runs, where batch < 1
        b_run = np.maximum(b_in, 1.0)
        decode_ctx = decode_context(mean_in, mean_out, decode_ctx)
        t0, tc, tm, _ = steady_iteration(self.derived, self.gpu, self.gpus_per_replica, self.perf,
                                         b_run, mean_in, mean_out, clock, self.max_batched_tokens, decode_ctx,
                                         prompt_scv)
        b, mi, mo, clk, dc, scv, sh, b_in = np.broadcast_arrays(*(
            np.asarray(x, dtype=float) for x in (b_run, mean_in, mean_out, clock, decode_ctx, prompt_scv, share, b_in)))
        t = np.empty(b.shape)
        gp = np.empty(b.shape)
        for c in np.unique(clk):
            m = clk == c
            t[m], gp[m], _ = steady_step(self.step_params(float(c)), b[m], mi[m], mo[m], self.max_batched_tokens,
                                         dc[m], scv[m])
        gp = sh * gp + (1.0 - sh) * self.idle_gpu_power_w  # sh is 1 at batch >= 1: gp as run
        return SteadyState(b_in / t, gp, self.wall_power(gp), t, sh * tc / t0, sh * tm / t0)

    def energy_per_output_token(self, batch, mean_in, mean_out, clock=1.0, decode_ctx=None, prompt_scv=0.0):
        """GPU energy per output token (J), prefill included (GPU level, like ML.ENERGY)."""
        s = self.steady_state(batch, mean_in, mean_out, clock, decode_ctx, prompt_scv)
        return s.gpu_power_w / s.throughput_tok_s

    def flops_per_output_token(self, mean_in, mean_out, decode_ctx=None):
        """FLOP per output token including its share (mean_in/mean_out) of prefill; a decode step
        attends ``decode_ctx`` tokens on average (the per-token mean context is the residence-weighted
        one, :meth:`dcsim.workload.Workload.decode_context`; default ``mean_in + mean_out/2``); sliding-window
        layers attend to at most their window (:func:`dcsim.node.perf.attended_context`)."""
        d = self.derived
        mean_in = np.asarray(mean_in, dtype=float)
        mean_out = np.asarray(mean_out, dtype=float)
        prefill = mean_in / mean_out
        decode_pos = d.positions / d.tokens_per_step
        ctx = decode_context(mean_in, mean_out, decode_ctx)
        return (prefill + decode_pos) * d.flops_per_position + d.attn_flops_per_ctx * (
            prefill * attended_context(d, 0.5 * mean_in, 1.0) + decode_pos * attended_context(d, ctx, 1.0) * d.sparse)

    def for_context(self, decode_ctx: float) -> "NodeModel":
        """This replica with its KV capacity counted in tokens of a workload whose running sequences hold
        ``decode_ctx`` tokens. A model with sliding-window layers keeps only the window in its local layers
        (vLLM v1's hybrid KV cache manager: ``SlidingWindowManager`` frees the blocks that leave the window,
        vllm/v1/core/single_type_kv_cache_manager.py), so a sequence of ``ctx`` tokens holds
        :func:`dcsim.node.perf.attended_context` ``(ctx)`` tokens' worth of every-layer KV, and the replica fits
        ``ctx / held`` times more of them than ``kv_capacity_tokens`` full-depth tokens. Mean field, as the
        attention reads: every running sequence taken at ``decode_ctx`` (Gemma-3-27B at 8,000 tokens: 3.7x).
        Models without local layers, or contexts within the window: unchanged."""
        ctx = float(decode_ctx)
        held = float(attended_context(self.derived, ctx, 1.0))
        if not ctx > 0 or held >= ctx:
            return self
        return replace(self, kv_capacity_tokens=self.kv_capacity_tokens * ctx / held)

    def _batch_limits(self, mean_in, mean_out, decode_ctx=None) -> dict:
        """The three limits on the steady-state batch, in tie order: ``max_batch`` (the serving engine's sequence
        limit), ``kv_cache`` (the sequences the KV capacity holds at the context) and ``token_budget`` (prefill
        plus decode positions per iteration, ``max_batched_tokens``)."""
        mean_in = np.asarray(mean_in, dtype=float)
        mean_out = np.asarray(mean_out, dtype=float)
        return {"max_batch": np.asarray(float(self.max_batch)),
                "kv_cache": self.kv_capacity_tokens / decode_context(mean_in, mean_out, decode_ctx),
                "token_budget": self.spec.max_batched_tokens / (self.derived.positions
                                                                + self.tokens_per_step * mean_in / mean_out)}

    def batch_limit(self, mean_in, mean_out, decode_ctx=None):
        """Largest steady-state batch: max_batch, KV capacity, and the per-iteration token budget.

        The KV capacity as this node holds it: the engine's nodes are sized for their workload's context
        (:meth:`for_context`: sliding-window layers keep only their window); a node straight from
        :func:`build_node` counts every layer's KV (conservative for a model with sliding-window layers).

        ``decode_ctx``: tokens held per running sequence (default ``mean_in + mean_out/2``; a workload's
        residence-weighted context is :meth:`dcsim.workload.Workload.decode_context`).

        The sequence limits (``max_batch``, KV) hold at least one sequence; the token budget may hold less: a budget
        below one sequence's share of an iteration (its decode positions plus its prompt per output token) is a batch
        below 1 at the steady state, the rate the request engine reaches by chunking the prompt over iterations
        (``max_batched_tokens: 1`` on Llama-3.1-70B chat: 0.15, 9.3 tokens/s per replica; request fidelity 9.6).
        The engine's tables (:func:`dcsim.engine.tables.table_batch_max`) stop at this limit."""
        lim = self._batch_limits(mean_in, mean_out, decode_ctx)
        return np.minimum(np.maximum(1.0, np.minimum(lim["max_batch"], lim["kv_cache"])), lim["token_budget"])

    def batch_limiter(self, mean_in: float, mean_out: float, decode_ctx: float | None = None) -> str:
        """Which limit sets :meth:`batch_limit` (a key of :meth:`_batch_limits`; the first of them on a tie)."""
        limits = self._batch_limits(mean_in, mean_out, decode_ctx)
        return min(limits, key=lambda k: float(limits[k]))

    def max_throughput(self, mean_in, mean_out, clock=1.0, decode_ctx=None, prompt_scv=0.0):
        """Output tokens/s of the replica at its largest steady-state batch (``decode_ctx``: see :meth:`batch_limit`;
        ``prompt_scv``: see :meth:`steady_state`)."""
        return self.steady_state(self.batch_limit(mean_in, mean_out, decode_ctx), mean_in, mean_out, clock,
                                 decode_ctx, prompt_scv).throughput_tok_s

    def clock_for_cap(self, cap_w_per_gpu, batch, mean_in, mean_out, decode_ctx=None, prompt_scv=0.0):
        """Clock in [clock_min, 1] at which the steady-state per-GPU power of the running step meets the cap.

        Caps below the GPU's lowest settable limit are raised to it (nvidia-smi behaviour). A ``batch`` below one
        is a batch of one part of the time and idle the rest (:meth:`steady_state`); the limit acts on the step
        that runs, so the clock is a batch of one's (until December 2026 it was met on the time-averaged power: the
        B200 70B on 2 GPUs at 300 W, 634 / 400 tokens, ran at clock 1.0 at a batch of 0.05 and 0.67 at 0.6, a batch of one's 0.52).
        """
        cap = np.maximum(np.asarray(cap_w_per_gpu, dtype=float), self.gpu.power_limit_min_w)
        running = np.maximum(np.asarray(batch, dtype=float), 1.0)  # the step that runs holds at least one sequence

        def per_gpu(c):
            return self.steady_state(running, mean_in, mean_out, c, decode_ctx, prompt_scv).gpu_power_w / self.gpus_per_replica

        p1 = per_gpu(np.ones_like(cap))
        if np.all(p1 <= cap):  # the board limit already holds it (e.g. the cap is the board limit)
            shape = np.broadcast_shapes(np.shape(cap), np.shape(p1))
            return 1.0 if shape == () else np.ones(shape)
        out = bisect_clock(per_gpu, cap, self.clock_min)
        return float(out) if np.ndim(out) == 0 else out

    def clock_for_step(self, cap_w_per_gpu, prefill_tokens, n_decode, ctx_tokens_sum, prefill_ctx_sum=-1.0):
        """Clock in [clock_min, 1] meeting a per-GPU cap for one given iteration (plain float)."""
        cap = max(float(cap_w_per_gpu), self.gpu.power_limit_min_w)
        it = (prefill_tokens, n_decode, ctx_tokens_sum, prefill_ctx_sum)
        if self.step_fn(1.0)(*it)[1] / self.gpus_per_replica <= cap:
            return 1.0
        lo, hi = self.clock_min, 1.0
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if self.step_fn(mid)(*it)[1] / self.gpus_per_replica <= cap:
                lo = mid
            else:
                hi = mid
        return lo


def _params_from_profile(prof: dict) -> tuple[PerfParams, PowerParams]:
    q = prof["params"]  # checked when read (catalog.check_profile)
    return (PerfParams(q["mfu"], q["mbu"], q["t_layer_s"], q["t_seq_layer_s"], q.get("overlap_p", DEFAULT_OVERLAP_P),
                       q.get("t_moe_layer_s", 0.0), q.get("t_fp8_layer_s", 0.0), q.get("t_host_seq_s", 0.0)),
            PowerParams(q["p_compute_w"], q["p_memory_w"], q["p_sync_w"], q["gamma"]))


def _shipped_profile(gpu: GpuSpec, model: ModelSpec, precision: str,
                     tp: int) -> tuple[dict | None, str, dict | None]:
    """``(profile, status, pool_over_carry)`` from ``gpu``'s own calibrations: this model's at this TP
    (``calibrated``), a model of the same shape (``same-architecture``), either at another TP (``other-tp``, with that
    carry's band) — unless the pair was measured and its GPU's pooled transfer predicted it better than that carry
    (:func:`dcsim.node.catalog.pool_over_carry`, returned third for :func:`calibration_record`: ``transferred``, its
    meaning naming the carry it bypassed, with the band it sets); ``(None, "", None)`` when there is none. Until the
    code review of session 52 the choice rode in the profile dict as an extra key, and a same-silicon GPU running on
    such a pair's profile (H200 Qwen3-32B TP1 on the H100's) inherited it: its meaning called the H100's pool "this
    GPU's pooled fit" in place of the same-silicon wording."""
    prof, status = find_profile(gpu.name, model.name, precision, tp), "calibrated"
    if prof is None:
        prof, status = find_architecture_profile(gpu.name, model, precision, tp), "same-architecture"
    if prof is not None and prof["tensor_parallel"] != tp:
        better = pool_over_carry(gpu.name, model.name, precision, tp, prof["name"])
        if better is not None:
            # the pair was measured and its GPU's pool (without the model's data) predicted it better than this carry:
            # the transfer runs it (the shipped pool, which holds the pair's rows); calibration_record sets its band
            t = transfer_profile(gpu, model, precision)
            return t, t["status"], better
        # fitted at another TP degree: the TP dependence (per-layer sync, efficiencies) is not measured; the band is
        # that of the measured carries of this ratio or less, a lower bound beyond the largest (calibration_record)
        src = int(prof["tensor_parallel"])
        ratio = max(src, tp) / min(src, tp)
        prof = {**prof, "error_band_pct": other_tp_band(gpu.name, ratio),
                "tp_carry": {"gpu": gpu.name, "from_tp": src, "to_tp": tp, "ratio": ratio,
                             "measured_ratio_max": measured_tp_ratio_max(gpu.name)}}
        status = "other-tp"
    return (prof, status, None) if prof is not None else (None, "", None)


def _same_silicon_profile(sib: GpuSpec, gpu: GpuSpec, model: ModelSpec, precision: str, tp: int) -> dict:
    """The profile ``sib`` (a calibrated GPU on ``gpu``'s die) would run this model on — its own calibration, or
    its pooled transfer — with the power terms scaled to ``gpu``'s dynamic range; the band is ``sib``'s for that
    profile (a lower bound: ``gpu``'s memory generation and board are not measured)."""
    prof, status, poc = _shipped_profile(sib, model, precision, tp)
    if prof is None:
        prof = transfer_profile(sib, model, precision)
        status = prof["status"]
    band = calibration_record(prof, status, sib.name, model.name, precision, tp, pool_over_carry=poc)["error_band_pct"]
    # the compute efficiency as a share of the die's achievable matmul rate, on this board's (H200 FP8 1,453 against
    # the H100's 1,403 TFLOP/s [MAMF]; BF16 the same): a sibling's transfer is already held at its ceiling
    params = rescale_power(prof["params"], sib, gpu)
    prec = compute_precision(model, precision)
    params["mfu"] = transfer_mfu(params["mfu"], sib, gpu, prec, cap=False)
    return {**prof, "params": params, "name": f"{prof['name']} (same silicon)",
            "error_band_pct": band, "silicon_of": {"gpu": sib.name, "status": status},
            "compute_ceiling": compute_ceiling(gpu, prec, params["mfu"], prof["params"]["mfu"])}


def is_pooled(prof: dict) -> bool:
    """Whether a profile is a pooled fit (``dcsim calibrate --pool``: one parameter set over several models of a
    GPU, ``model: "*"``, its ``pooled_groups``) rather than the calibration of one setup."""
    return bool(prof.get("pooled_groups")) or prof.get("model") == "*"


def _profile_file(ref: str, base_dir: str | Path | None) -> Path:
    """The file ``node.profile`` names (relative to ``base_dir``, as :func:`dcsim.node.catalog.load_profile`
    reads it)."""
    p = Path(ref)
    return p if p.is_absolute() or base_dir is None else Path(base_dir) / p


def _named_profile(ref: str, base_dir: str | Path | None, gpu: GpuSpec, model: ModelSpec, precision: str,
                   tp: int) -> tuple[dict, str, dict]:
    """``(profile, status, source)`` of the profile a scenario names (``node.profile``):

    * a shipped profile by its name, measured for this GPU, model, precision and TP: ``calibrated`` (it is dcsim's
      calibration of this setup, the one ``build_node`` picks without the name);
    * a shipped profile named for another setup: ``other-setup`` (its in-sample band, a lower bound here, with a
      note naming the setup it was measured on);
    * a pooled fit file (``dcsim calibrate --pool``): ``user-pool``, used as a transfer uses dcsim's own pools
      (:func:`dcsim.node.catalog.pool_transfer`);
    * any other profile file: ``user-profile``, with the band the file states (``error_band_pct``, in-sample).

    ``source`` identifies it: the name given, and for a file its path, the sha256 of its bytes, the command that
    wrote it (``generated_by``) and the measurement files it was fitted from (``inputs``: path and sha256 each,
    written by ``dcsim calibrate`` since December 2026; else the file names of ``measurements``)."""
    if ref in shipped_profiles():
        prof = load_profile(ref)
        mine = (gpu.name, model.name, precision, tp)
        return prof, ("other-setup" if _mismatch(prof, *mine) else "calibrated"), {"ref": ref, "shipped": True}
    prof = load_profile(ref, base_dir)
    path = _profile_file(ref, base_dir)
    inputs = prof.get("inputs")
    source = {"ref": ref, "shipped": False, "path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
              "generated_by": prof.get("generated_by"),
              "inputs": inputs if isinstance(inputs, list) else None,
              "measurements": [str(m) for m in prof.get("measurements") or []]}
    if is_pooled(prof):
        return pool_transfer(prof, gpu, model, precision, pooled_profiles()), "user-pool", source
    return prof, "user-profile", source


def _mismatch(prof: dict, gpu: str, model: str, precision: str, tp: int) -> list[str]:
    """The fields (gpu, model, precision, tensor_parallel) whose value in ``prof`` is not this replica's (a pooled
    fit's ``*`` and a missing value match anything)."""
    return [k for k, mine, theirs in (("gpu", gpu, prof.get("gpu")), ("model", model, prof.get("model")),
                                      ("precision", precision, prof.get("precision")),
                                      ("tensor_parallel", tp, prof.get("tensor_parallel")))
            if theirs not in (None, "*") and norm_gpu(str(theirs)) != norm_gpu(str(mine))]


def build_node(spec: NodeSpec, base_dir: str | Path | None = None) -> NodeModel:
    """Build the replica model for ``spec`` (profile: explicit, shipped match, or generic)."""
    gpu = resolve_gpu(spec.gpu)
    model = resolve_model(spec.model)
    gpn = spec.gpus_per_node or gpu.server.gpus_per_node
    tp = spec.tensor_parallel or default_tp(model, gpu, spec.precision, gpn)
    if tp > gpn:
        raise ValueError(f"tensor_parallel {tp} exceeds gpus_per_node {gpn}")
    problem = tensor_parallel_problem(model, tp, gpn)
    if problem:
        raise ValueError(problem)
    source = poc = None
    if spec.profile is not None:
        prof, status, source = _named_profile(spec.profile, base_dir, gpu, model, spec.precision, tp)
    else:
        prof, status, poc = _shipped_profile(gpu, model, spec.precision, tp)
        sib = same_silicon_gpu(gpu) if prof is None else None
        if sib is not None:
            prof = _same_silicon_profile(sib, gpu, model, spec.precision, tp)
            status = "same-silicon"
        elif prof is None:
            prof = transfer_profile(gpu, model, spec.precision)
            status = prof["status"]
    # the layout the profile was measured with, where this model and TP can take it (a profile is used for
    # another model's shape only through a user's choice or a transfer)
    measured_ep = bool(prof.get("expert_parallel", False)) and model.n_experts > 0 and model.n_experts % tp == 0
    ep = measured_ep if spec.expert_parallel is None else bool(spec.expert_parallel)
    if ep != measured_ep and status in ("calibrated", "same-architecture", "other-tp", "same-silicon"):
        # measured with the other expert layout: its small-batch step and dispatch cost are not measured
        prof = {**prof, "error_band_pct": other_tp_band(gpu.name)}
        status = "other-layout"
    perf, pw = _params_from_profile(prof)
    lv = resolve_levers(spec.levers, spec.precision)
    d = derive(model, spec.precision, lv, tp if ep else 1, tp=tp)
    kv_free = kv_free_bytes(gpu, tp, d)
    if kv_free <= 0:
        raise ValueError(f"{model.name} ({spec.precision}, {d.weight_bytes_total / 1e9:.0f} GB) does not fit on "
                         f"{tp} x {gpu.name} ({HBM_USABLE:.0%} of {tp * gpu.hbm_bytes / 1e9:.0f} GB usable)")
    return NodeModel(
        spec=spec, gpu=gpu, model=model, derived=d, perf=perf, pw=pw, profile=prof,
        gpus_per_replica=tp, replicas_per_node=gpn // tp, gpus_per_node=gpn, max_batch=spec.max_batch,
        kv_capacity_tokens=kv_free / d.kv_bytes_per_token, clock_min=gpu.clock_min,
        power_cap_w=float(spec.power_cap) if spec.power_cap is not None else gpu.tdp_w,
        calibration=calibration_record(prof, status, gpu.name, model.name, spec.precision, tp, active_levers(lv),
                                       layout=_layout_name(model, ep), borrowed=_borrowed_used(prof, d),
                                       source=source, pool_over_carry=poc),
    )


def fp8_peak_fallback(gpu: GpuSpec) -> bool:
    """Whether ``gpu`` has no FP8 peak of its own: none given (:func:`dcsim.node.perf.peak_flops` falls back to the
    BF16 peak) or one no higher than its BF16 peak (the catalog's A100: no FP8 tensor cores)."""
    f = gpu.peak_flops.fp8
    return f is None or float(f) <= float(gpu.peak_flops.bf16)


def precision_warning(node: NodeModel) -> str | None:
    """What a replica served in fp8 on a GPU whose FP8 peak is a fallback (:func:`fp8_peak_fallback`) runs that dcsim
    does not model, for the run's warnings; None otherwise. Such a GPU has no FP8 tensor cores, and vLLM serves an FP8
    checkpoint there weight-only: "FP8 models will run on compute capability >= 7.5 (Turing) as weight-only W8A16,
    utilizing FP8 Marlin" (vLLM docs, Quantization, FP8 W8A8). dcsim reads the FP8 weight bytes and computes at the
    BF16 peak, as W8A16 does, but charges whatever W8A8 activation-quantisation cost per layer its profile holds
    (``t_fp8_layer_s``; A100's pool borrows it from the B200 and H100 fits), which a W8A16 kernel does not run, and no
    Marlin dequantisation cost."""
    if node.spec.precision != "fp8" or not fp8_peak_fallback(node.gpu):
        return None
    g, t = node.gpu, node.perf.t_fp8_layer_s
    peak = ("no peak_flops.fp8 given" if g.peak_flops.fp8 is None
            else f"its peak_flops.fp8 is its BF16 peak, {g.peak_flops.bf16 / 1e12:,.0f} TFLOP/s")
    lend = (node.calibration.get("borrowed") or {}).get("t_fp8_layer_s")
    cost = (f"; it charges the W8A8 activation-quantisation cost per FP8 layer ({t * 1e6:,.0f} µs, t_fp8_layer_s"
            + (f", borrowed from the {', '.join(lend)} pooled fits" if lend else "") + ") that W8A16 does not run, and "
            "no dequantisation cost" if t > 0 and node.derived.fp8_layers_run > 0 else "; no dequantisation cost")
    return (f"fp8 on {g.name}, a GPU with no FP8 peak of its own ({peak}: no FP8 tensor cores): vLLM serves FP8 "
            f"checkpoints on such GPUs weight-only (W8A16 with FP8 Marlin kernels; vLLM docs, "
            f"Quantization, FP8 W8A8); dcsim reads the FP8 weight bytes and computes at the BF16 peak, as W8A16 does"
            f"{cost}: its fp8 figures there are not a measurement (docs/node.md, Precisions never measured)")


def _borrowed_used(prof: dict, d: Derived) -> dict:
    """The borrowed costs (catalog.borrow_unidentified) this replica's steps actually charge, by lending GPUs."""
    return {k: v for k, v in (prof.get("borrowed") or {}).items() if getattr(d, BORROWABLE[k][0]) > 0}


def _pool_holds_pair(prof: dict, gpu: str, model: str, precision: str, tp) -> dict | None:
    """The pooled fit ``prof``'s leave-one-model-out row for the pair (``gpu``, ``model``, ``precision``, ``tp``) when
    the pool was fitted on that pair's own measurements (its ``pooled_groups`` name it); None otherwise."""
    name = profile_name(gpu, model, precision, int(tp)) if str(tp).isdigit() else None
    if name is None or name not in (prof.get("pooled_groups") or []):
        return None
    return next((r for r in prof.get("leave_one_model_out") or [] if r.get("profile") == name), None)


def _layout_name(model: ModelSpec, expert_parallel: bool) -> str:
    """How an MoE model's experts are laid out over a replica's GPUs, for the calibration record ("" if dense)."""
    if not model.n_experts:
        return ""
    return "expert-parallel" if expert_parallel else "sharded experts"


#: what each calibration status means, for warnings and reports
STATUS_TEXT = {
    "calibrated": "fitted to measurements of this GPU, model, precision and TP",
    "user-profile": "a profile file the scenario names (node.profile)",
    "user-pool": "a pooled fit (dcsim calibrate --pool) the scenario names (node.profile): one parameter set fitted "
                 "over several models, used for this one as dcsim transfers its own pools: the compute efficiency "
                 "held at the GPU's achievable matmul rate, the band the pool's worst leave-one-model-out error "
                 "(docs/validation.md); no measurement of this model at this precision and TP",
    "other-setup": "a shipped calibration the scenario names (node.profile) for a setup it was not measured on; the "
                   "band is that setup's in-sample error, a lower bound here",
    "same-architecture": "fitted to another model of the same shape (a fine-tune or rename) on this GPU; the band "
                         "is the larger of that profile's and the one measured same-shape carry's (Llama-3.3-70B on "
                         "the Llama-3.1-70B profile, docs/validation.md SA-*), a lower bound",
    "other-tp": "fitted to measurements of this GPU, model (or one of the same shape) and precision at another "
                "tensor-parallel degree; the "
                "TP dependence (per-layer synchronisation, efficiencies) is not measured; the band is the worst "
                "error of a calibration carried to another TP on this GPU (docs/node.md)",
    "other-layout": "fitted to measurements of this GPU, model and precision served with the other expert layout "
                    "(expert-parallel against sharded experts); the layout's own dispatch cost is not measured; "
                    "the band is the worst error of a calibration carried to another TP on this GPU (assumption: "
                    "the closest measured carry, docs/node.md)",
    "transferred": "this GPU's pooled hardware efficiencies with this model's own FLOPs, bytes and KV; no "
                   "measurement of this model at this precision and TP on this GPU",
    "generic": "no measurement of this GPU: efficiencies averaged over other GPUs' pooled fits",
    "same-silicon": "no measurement of this GPU: the parameters of a calibrated GPU on the same die (H200: the "
                    "H100's GH100) for this model, with this GPU's own memory, bandwidth and power range; the band is "
                    "that GPU's, a lower bound (the memory generation and board are not measured)",
    "lever-modelled": "the fitted parameters with serving levers applied from literature figures and "
                      "assumptions (docs/node.md, Levers), not measured on this setup; the band is the fit's "
                      "without the levers (a lower bound)",
    "context-extrapolated": "its pool's requests hold far longer contexts (or prompts) than the rows its profile was "
                            "fitted to: its figures there are extrapolated; the band is the larger of its own and the "
                            "misses of chat-fitted profiles run at ML.ENERGY's GPQA lengths (docs/validation.md "
                            "H-*-gpqa-*), a lower bound (docs/node.md, Extrapolated context)",
}


def fmt_band(band: Mapping | None, lower_bound: bool = False, digits: int = 0,
             quantities: tuple[str, ...] = ("tok_s_pct", "j_per_tok_pct")) -> str:
    """A calibration error band (``node.calibration.error_band_pct``, %) as every surface prints it:
    ``"±4 % tok/s, ±3 % J/token"``, each figure ``"≥±…"`` when the band is a lower bound
    (``band_lower_bound``: the true error may be larger), ``"unknown"`` where there is no figure.
    ``quantities`` picks the figures (``("j_per_tok_pct",)`` prints the J/token one alone)."""
    b = band or {}
    units = {"tok_s_pct": "tok/s", "j_per_tok_pct": "J/token"}
    lb = "≥" if lower_bound else ""
    f = lambda v: "unknown" if v is None else f"{lb}±{v:.{digits}f} %"  # noqa: E731
    return ", ".join(f"{f(b.get(k))} {units[k]}" for k in quantities)


def expected_error(calibration: Mapping, digits: int = 0) -> str:
    """``"expected error ±4 % tok/s, ±3 % J/token"`` of one calibration record (``node.calibration`` or a
    ``provenance.calibration`` item): :func:`fmt_band` of its ``error_band_pct``, ``≥±`` when its
    ``band_lower_bound`` is true."""
    return "expected error " + fmt_band(calibration.get("error_band_pct"), bool(calibration.get("band_lower_bound")),
                                        digits)


#: A replica whose largest steady-state batch exceeds this many times the largest batch its profile was measured at
#: runs on extrapolated figures (``calibration.extrapolated``). Evidence (docs/validation.md, rows ``REP-*``: ML.ENERGY
#: points above each fit's range): Qwen3-235B on B200, fitted up to batch 256, reads 15-16 % slow at 512 (2x) and
#: 27-46 % slow at 1,400-4,100; the dense points below max_num_seqs 1,024 (up to 4x the fitted batch, few prefix-cache
#: hits) read within -18 to +12 %. The threshold itself is an assumption on that evidence.
EXTRAPOLATION_FACTOR = 2.0


def measured_batch_max(prof: dict) -> float | None:
    """The largest average batch among the points a profile was fitted on (load points, else request points)."""
    pts = prof.get("points") or prof.get("request_points") or []
    b = [float(p["batch"]) for p in pts if p.get("batch") is not None]
    return max(b) if b else None


def context_extrapolation_factor() -> float:
    """How many times the longest decode context (or prompt) a profile was measured at a pool's workload may reach
    before its figures count as extrapolated (``calibration.context_extrapolated``): the smallest ratio at which a
    measured carry to longer contexts left its profile's own band (:func:`dcsim.node.catalog.context_carry`, the
    GPQA rows of docs/validation.md: chat-fitted profiles at 3.5-4.5x their contexts, 18 of 24 rows outside their
    bands as stated). Assumption: below it the profile's band holds (no carry was measured there); the same factor is applied
    to the prompt length, for which no carry was measured at all."""
    return float(min(r["context_x"] for r in context_carry() if r["beyond_band"]))


def context_band() -> dict:
    """The worst errors (%) of the measured carries to longer contexts (:func:`dcsim.node.catalog.context_carry`):
    the band of a context-extrapolated replica, with its own, as a lower bound (the carries were measured at
    3.5-4.5x; a pool may run further beyond)."""
    rows = context_carry()
    return {"tok_s_pct": max(abs(r["err_tok_s_pct"]) for r in rows),
            "j_per_tok_pct": max(abs(r["err_j_per_tok_pct"]) for r in rows)}


def context_beyond(calibration: Mapping, mean_input: float, decode_context: float) -> list[tuple[str, float, float]]:
    """``(what, value, measured)`` for each length of a workload — ``"decode context"`` (tokens a running sequence
    holds, residence-weighted) and ``"prompt"`` (mean tokens) — more than :func:`context_extrapolation_factor` times
    the longest the calibration's profile was measured at (``measured_context_max`` / ``measured_prompt_max``);
    empty within range or for a profile with no measured lengths. Only the top of the range counts: shorter
    contexts move the step toward the weight reads every fitted row measures (assumption)."""
    f = context_extrapolation_factor()
    out = []
    for what, v, key in (("decode context", decode_context, "measured_context_max"),
                         ("prompt", mean_input, "measured_prompt_max")):
        m = calibration.get(key)
        if m is not None and v is not None and float(v) > f * float(m):
            out.append((what, float(v), float(m)))
    return out


def own_cap_frac(prof: Mapping) -> float | None:
    """The lowest power cap (x TDP) a profile's own fit measured: ``fit.min_cap_frac`` (a pooled fit's
    ``min_cap_frac``: :func:`dcsim.node.catalog.stated_min_cap_frac`), written by ``dcsim calibrate`` since December
    2026 (1.0 when its rows hold no cap row); for an older record, the lowest ``cap_points[].cap_w_per_gpu`` over its
    GPU's TDP when it lists its cap rows, else 1.0 when it says its fit holds no cap row
    (:func:`dcsim.node.catalog.fitted_without_cap_rows`, the rule :func:`dcsim.node.catalog.profile_clock_floor`
    reads too); None when the profile does not say (an older record fitted to cap rows at a level it does not state, a
    hand-written profile): the caller then takes the GPU's shipped figure (:func:`dcsim.node.catalog.measured_cap_frac`)."""
    stated = stated_min_cap_frac(prof)
    if stated is not None:
        return stated
    caps = [float(c["cap_w_per_gpu"]) for c in prof.get("cap_points") or [] if c.get("cap_w_per_gpu") is not None]
    if caps and prof.get("gpu"):  # a record with its cap rows but no min_cap_frac: the lowest of them over its TDP
        return round(min(caps) / resolve_gpu(str(prof["gpu"])).tdp_w, 4)
    return 1.0 if fitted_without_cap_rows(prof) else None


def _measured_here(prof: Mapping, gpu: str) -> bool:
    """Whether ``prof`` was measured on ``gpu`` (its ``gpu`` field names it, or a profile that names none / ``*``): a
    profile of another GPU (a same-silicon transfer, H200 on the H100's fit; a named profile fitted for another GPU)
    measured its cap rows there, not on this GPU."""
    theirs = prof.get("gpu")
    return theirs in (None, "*") or norm_gpu(theirs) == norm_gpu(gpu)


def cap_floor(prof: Mapping, gpu: str) -> tuple[float, str]:
    """``(floor, of)``: the lowest power cap (x TDP) the measurements behind ``prof`` cover on ``gpu``, the one source
    of a calibration record's ``measured_cap_min_frac`` / ``cap_min_of``, by the rule of :func:`clock_floor`. A profile
    measured on this GPU (:func:`_measured_here`) that states its own (:func:`own_cap_frac`: ``fit.min_cap_frac``, its
    cap rows' lowest ``cap_w_per_gpu``, 1.0 without cap rows), shipped or a user's: ``(own, "profile")`` (every shipped
    profile's own equals its GPU's figure: the one capped file, Splitwise's 0.7 x TDP rows, is fitted by every H100
    profile, and no other GPU has a capped row); else the GPU's shipped figure,
    :func:`dcsim.node.catalog.measured_cap_frac`: ``(that, "gpu")`` -- a profile of another GPU (a same-silicon
    transfer; an H100 profile a scenario names on a B200: its cap rows were measured on the H100), and an older record
    fitted to cap rows at a level it does not state (a pooled fit written before ``min_cap_frac``, such as the shipped
    ``pooled/H100-SXM.yaml`` until session 52 regenerated it: 0.7 now, its own). Until December 2026 only a profile the scenario names was read for its own floor, and
    whatever GPU it was measured on (an H100 profile named on a B200 gave 0.7 "profile", its clock floor 1.0 "gpu")."""
    own = own_cap_frac(prof) if _measured_here(prof, gpu) else None
    return (float(own), "profile") if own is not None else (measured_cap_frac(gpu), "gpu")


def clock_floor(prof: Mapping, gpu: str) -> tuple[float, str]:
    """``(floor, of)``: the lowest DVFS clock (fraction of maximum) the measurements behind ``prof`` cover on ``gpu``,
    the one source of a calibration record's ``measured_clock_min`` / ``clock_min_of`` (read by the EXTRAPOLATED CLOCK
    flag, :func:`dcsim.engine.assemble.clock_below_range`). A profile measured on this GPU that states its own
    (:func:`dcsim.node.catalog.profile_clock_floor`: the least ``cap_points[].clock_fit``, the clock its fitted model
    runs each of its cap rows at; a pooled fit's ``min_clock_frac``; 1.0, full clock, without cap rows), shipped or a
    user's: ``(own, "profile")`` (H100: 0.69-0.76 by profile, until December 2026 every shipped H100 profile took the
    least of them, 0.69); else (an older record, cap rows without ``clock_fit`` or a pooled fit without
    ``min_clock_frac``, such as the shipped ``pooled/H100-SXM.yaml`` until session 52 regenerated it: 0.669 now, its
    own; a profile of another GPU) the GPU's floor,
    :func:`dcsim.node.catalog.measured_clock_frac` (the least over its shipped profiles): ``(that, "gpu")``.

    A transfer to a GPU with no measurement of its own is judged by the measurements its parameters come from (until
    session 53 by the GPU's own figure, full clock, as if it had been measured there): a same-silicon transfer
    (``silicon_of``: H200 on an H100 profile or pool) by that profile's own floor, ``(own, "same-silicon")`` (H200
    Llama-3.3-70B: 0.6897, the H100 profile's); a generic GPU's (``clock_floors_of_pools``, MI300X) by the highest of
    the floors of the pools it averages, the lowest clock every one of them covers, ``(that, "pools")`` (1.0: the B200
    pool holds no capped row)."""
    if prof.get("silicon_of") and (sib := profile_clock_floor(prof)) is not None:
        return round(float(sib), 4), "same-silicon"
    if prof.get("clock_floors_of_pools"):
        return round(max(float(v) for v in prof["clock_floors_of_pools"].values()), 4), "pools"
    own = profile_clock_floor(prof) if _measured_here(prof, gpu) else None
    return (round(float(own), 4), "profile") if own is not None else (round(measured_clock_frac(gpu), 4), "gpu")


def clock_floor_source(prof: Mapping, of: str) -> dict | None:
    """Where a transfer's clock floor (:func:`clock_floor`, ``of``) comes from, for the EXTRAPOLATED CLOCK text: the
    profile and GPU a same-silicon transfer's parameters come from (``{"profile", "gpu"}``), the pools a generic GPU's
    average with each one's floor (``{"pools": {gpu: floor}}``); None for a profile's own or the GPU's floor."""
    if of == "same-silicon":
        return {"profile": str(prof.get("name", "")).removesuffix(" (same silicon)"),
                "gpu": str((prof.get("silicon_of") or {}).get("gpu"))}
    if of == "pools":
        return {"pools": dict(prof["clock_floors_of_pools"])}
    return None


def profile_file_text(calibration: Mapping) -> str:
    """The profile file a scenario names, as its ``node.profile`` gives it (``profile_source.path``), or the
    profile's ``name`` when the record has no source: what the EXTRAPOLATED CAP / CLOCK texts call "its profile"."""
    src = calibration.get("profile_source") or {}
    return str(src.get("path") or calibration.get("profile"))


def cap_text(calibration: Mapping) -> str:
    """How far a ``cap_extrapolated`` record's board limit is below the caps measured on its GPU (or, for a profile
    the scenario names that states its own, ``cap_min_of`` ``"profile"``, by its own fit), in words (the run's
    warning and the EXTRAPOLATED CAP caveat)."""
    gpu = str(calibration.get("for") or "?").split(" / ")[0]
    m = calibration.get("measured_cap_min_frac")
    lim = (f"a board limit of {calibration.get('limit_w'):,.0f} W per GPU "
           f"({calibration.get('limit_frac_tdp'):.2f}x TDP)")
    if calibration.get("cap_min_of") == "profile":
        name = profile_file_text(calibration)
        if m is None or m >= 1.0:
            return f"{lim}, and the rows of its profile {name} hold no capped measurement (all at the full board limit)"
        return f"{lim}, below the lowest cap the rows of its profile {name} were measured at ({m:.2f}x TDP)"
    if m is None or m >= 1.0:
        return f"{lim}, and no capped {gpu} is measured (every calibration ran at the full board limit)"
    return f"{lim}, below the lowest cap measured on {gpu} ({m:.2f}x TDP)"


#: how the EXTRAPOLATED CLOCK warning (:func:`clock_text`) begins: the one literal, which the warnings the HTML's
#: banners already show are recognised by (dcsim.engine.build.BANNERED_WARNINGS)
CLOCK_WARNING_LEAD = "controller/thermal throttling below the measured clock range"


def clock_text(calibration: Mapping) -> str:
    """How far a rack group's controller or thermal throttle ran its DVFS clock below the lowest clock its
    measurements cover, in words (the run's warning and the EXTRAPOLATED CLOCK caveat): a calibration record with
    ``clock_below_range_share`` / ``clock_below_range_min`` / ``measured_clock_min``
    (:func:`dcsim.engine.assemble.clock_below_range`), the floor named as the GPU's shipped capped rows or, for a profile
    the scenario names that states its own (``clock_min_of`` ``"profile"``), its own rows; then the assumption that
    carries its figures there (:func:`cap_assumption_text`, its own ``gamma_source``)."""
    gpu = str(calibration.get("for") or "?").split(" / ")[0]
    m = float(calibration.get("measured_clock_min") or 1.0)
    src = calibration.get("clock_min_from") or {}
    if calibration.get("clock_min_of") == "same-silicon":
        whose = (f"{src.get('profile', '?')}, the {src.get('gpu', '?')} profile its parameters come from (same "
                 f"silicon; no measurement of {gpu})")
        where = (f"the lowest clock the capped rows of {whose} cover ({m:.2f})" if m < 1.0
                 else f"full clock, where every row of {whose} ran")
    elif calibration.get("clock_min_of") == "pools":
        each = ", ".join(f"{g} {float(f):.2f}" for g, f in (src.get("pools") or {}).items())
        where = (f"{'full clock' if m >= 1.0 else f'clock {m:.2f}'}, the lowest clock every pooled fit its "
                 f"parameters average covers ({each}; no measurement of {gpu})")
    elif calibration.get("clock_min_of") == "profile":
        name = profile_file_text(calibration)
        where = (f"the lowest clock the capped rows of its profile {name} cover ({m:.2f})" if m < 1.0
                 else f"full clock, where every row of its profile {name} ran")
    else:
        where = (f"the lowest clock the capped measurements of {gpu} cover ({m:.2f})" if m < 1.0
                 else f"full clock, where every measurement of {gpu} ran" if has_shipped_measurements(gpu)
                 else f"full clock (no measurement of {gpu})")
    pct = float(calibration.get("clock_below_range_share") or 0) * 100
    # a share rounded to 0.0 % (report.json keeps 4 decimals) still ran below: said as under 0.1 %
    share = f"{pct:.1f} %" if pct >= 0.05 else "under 0.1 %"
    return (f"{CLOCK_WARNING_LEAD}: "
            f"{share} of its GPU-time at a DVFS clock "
            f"below {where}, down to {float(calibration.get('clock_below_range_min') or 0):.2f}; on those ticks "
            f"{cap_assumption_text(calibration)}")


def cap_assumption_text(calibration: Mapping) -> str:
    """The assumption that carries a ``cap_extrapolated`` record's figures, in words (the run's warning and the
    EXTRAPOLATED CAP caveat): the GPU power's memory part, HBM included, scaled with clock^γ below the caps measured
    (the step time of a memory-bound decode is not modelled to slow), γ as ``gamma_source`` says."""
    src = str(calibration.get("gamma_source") or "")
    how = (f"fitted to the cap rows of {src.partition(':')[2].strip() or 'its measurements'}" if src.startswith("fitted")
           else "an assumption, no capped measurement" if src.startswith("assumption")
           else f"the {src}" if src.startswith("mean of")  # a generic GPU's (catalog.mean_gamma_source)
           else "source not recorded")
    return (f"no error band is measured there: the figures rest on the GPU power's memory part (HBM included) scaling "
            f"with clock^γ (γ {how}) and on decode time not slowing with the clock (docs/node.md, Extrapolated power "
            f"cap)")


def at_workload(calibration: dict, batch_limit: float, mean_input: float, decode_context: float,
                limit_w: float, tdp_w: float) -> dict:
    """A calibration record for a pool's workload: the batch a replica reaches at full load (``batch_limit``) and
    whether that is more than :data:`EXTRAPOLATION_FACTOR` times the largest its profile was measured at
    (``extrapolated``); the workload's mean prompt and residence-weighted decode context (``mean_input``,
    ``decode_context``) and whether either is beyond the lengths its profile was measured at
    (:func:`context_beyond`: ``context_extrapolated``). A context-extrapolated record's status becomes
    ``context-extrapolated`` (``in_range_status`` keeps the status it has within range), its band the larger of
    its own and :func:`context_band`, a lower bound.

    ``calibration`` is :func:`calibration_record`'s record: this reads its keys (``measured_batch_max``,
    ``measured_prompt_max`` / ``measured_context_max``, ``measured_cap_min_frac``, ``error_band_pct``,
    ``in_range_status``, ``meaning``) and returns a copy with the workload's keys added.

    ``limit_w`` (the replica's per-GPU board limit, :attr:`NodeModel.limit_w`) over ``tdp_w``: a limit below the
    record's ``measured_cap_min_frac`` (:func:`cap_floor`: a profile measured on this GPU, the lowest cap its own rows
    measured when it says, 0.7 x TDP for the shipped H100 profiles, 1.0 without cap rows; else the GPU's shipped
    figure; ``cap_min_of`` says which) sets
    ``cap_extrapolated`` (``limit_w`` and ``limit_frac_tdp`` say how far) and leaves the record with no error band
    (``error_band_pct`` figures None, as an extrapolated batch
    states none): the profile's band is measured at the full board limit (or at the measured cap), and below it the
    figures rest on the GPU power's memory part scaling with clock^γ (``gamma_source``; docs/node.md "Extrapolated
    power cap")."""
    c = {**calibration, "batch_limit": round(float(batch_limit), 1),
         "extrapolated": extrapolated(calibration, batch_limit),
         "mean_input": round(float(mean_input), 1), "decode_context": round(float(decode_context), 1)}
    frac = float(limit_w) / float(tdp_w)
    m = float(calibration["measured_cap_min_frac"])  # the record's own floor (calibration_record, cap_floor)
    c.update(limit_w=round(float(limit_w), 1), limit_frac_tdp=round(frac, 3), cap_extrapolated=frac < m - 1e-9)
    if context_beyond(c, mean_input, decode_context):
        c.update(status="context-extrapolated", context_extrapolated=True,
                 error_band_pct=max_band([c["error_band_pct"], context_band()]), band_lower_bound=True,
                 meaning=f"{STATUS_TEXT['context-extrapolated']}; within range it is {c['in_range_status']}: "
                         f"{c['meaning']}")
    if c["cap_extrapolated"]:
        c["error_band_pct"] = {"tok_s_pct": None, "j_per_tok_pct": None}
    return c


def extrapolated(calibration: dict, batch: float) -> bool:
    """Whether ``batch`` is more than :data:`EXTRAPOLATION_FACTOR` times the largest batch the profile of
    ``calibration`` was measured at (False for a profile with no measured batch range, a pooled fit)."""
    mb = calibration.get("measured_batch_max")
    return bool(mb is not None and batch > EXTRAPOLATION_FACTOR * mb)


#: the band note of a profile whose fit record lacks the counts its degrees of freedom are read from (:func:`fit_dof`
#: None: written before dcsim calibrate recorded them)
MISSING_COUNTS_NOTE = ("its fit record has no n_values / n_points / n_free_params (written before dcsim calibrate "
                       "recorded them), so its band is its in-sample error, not widened for few degrees of freedom as "
                       "a fit by today's dcsim calibrate may be: re-run dcsim calibrate")


def band_notes(prof: dict, precision: str) -> list[str]:
    """Why a profile's band is a lower bound beyond what its status says, in words (``calibration.band_notes``; each
    one marks ``band_lower_bound``):

    * a fit record with its worst in-sample errors but not the counts its degrees of freedom are read from
      (:func:`fit_dof` None: a profile written before ``dcsim calibrate`` recorded them): its band is stated
      un-widened, and a fit with few degrees of freedom would widen it (:data:`MISSING_COUNTS_NOTE`);

    * a TP carry (status ``other-tp``, ``tp_carry``) of a larger ratio than any measured on its GPU: its band is the
      worst of the measured carries, all of a smaller ratio (H100, B200: 2x), and the widest carry measured on any
      GPU (A100 Llama-2-70B TP2 -> TP8, 4x) erred further (:func:`dcsim.node.catalog.tp_carry_evidence`);
    * a transfer (``transferred``, ``generic``, or a ``same-silicon`` sibling's transfer) at a precision none of the
      groups its pooled fit(s) hold was measured at (``measured_precisions``): fp8 on A100 (no FP8 measurement, no
      FP8 tensor cores), int4 anywhere (no int4 measurement at all): its band is that of other precisions.
    """
    out = []
    fit = prof.get("fit") or {}
    if worst_in_sample(fit) is not None and fit_dof(fit) is None:
        out.append(MISSING_COUNTS_NOTE)
    mp = prof.get("measured_precisions")
    if mp is not None and precision not in mp:
        out.append(f"{precision} never measured on {prof.get('precisions_gpu') or 'any GPU'}: {prof['precisions_of']} "
                   f"only {', '.join(mp)}, so the band is that of other precisions")
    carry = prof.get("tp_carry")
    if carry and carry.get("measured_ratio_max") is not None and carry["ratio"] > carry["measured_ratio_max"] + 1e-9:
        ev = tp_carry_evidence(carry["ratio"])
        art = "an" if f"{carry['ratio']:g}".startswith(("8", "11", "18")) else "a"
        out.append(f"{art} {carry['ratio']:g}x TP carry (measured at TP{carry['from_tp']}, run at "
                   f"TP{carry['to_tp']}) is beyond the {carry['measured_ratio_max']:g}x carries measured on {carry['gpu']}, whose band this is"
                   + ("" if ev is None else f"; the {ev[2]:g}x carries measured on {', '.join(ev[1])} erred up to "
                      f"{fmt_band(ev[0]).replace('±', '')}"))
    return out


#: statuses of a profile the scenario names (``node.profile``, :func:`_named_profile`) other than dcsim's calibration
#: of the replica's own setup: the record says what the profile was measured for when that is not the replica
NAMED_STATUSES = ("user-profile", "user-pool", "other-setup")


#: a named profile fitted from more files than this names them by count (:func:`source_text`)
MAX_FILES_NAMED = 3


def _sha(h) -> str:
    return f"sha256 {h}" if h else "no sha256 recorded"


def source_text(source: Mapping | None) -> str:
    """Where a named profile file comes from, in words (a calibration record's ``meaning``, so report.json's
    ``provenance.calibration`` carries it, and the USER PROFILE caveat, which prints each sha256's first 12 hex
    digits): the file and the sha256 of its bytes, and the files ``dcsim calibrate`` fitted it from with theirs
    (``inputs``), the file names alone for a profile written before it recorded them, or that the file was not
    written by ``dcsim calibrate``. ``""`` for a shipped profile or none."""
    if not source or source.get("shipped"):
        return ""
    out = f"{source.get('path')} ({_sha(source.get('sha256'))})"
    gen = str(source.get("generated_by") or "")
    if not gen.startswith("dcsim calibrate"):
        return out + ", not written by dcsim calibrate (no generated_by)"
    inputs = [i for i in source.get("inputs") or [] if isinstance(i, Mapping)]
    names = source.get("measurements") or []
    if len(inputs) > MAX_FILES_NAMED or (not inputs and len(names) > MAX_FILES_NAMED):
        # a pool's dozen files: the profile's own sha256 pins them (its inputs, or its measurements, list them)
        files = (f"{len(inputs)} files (its inputs: each one's path and sha256)" if inputs else
                 f"{len(names)} files (its measurements: names only, written before dcsim calibrate recorded its "
                 f"inputs' paths and sha256)")
    elif inputs:
        files = ", ".join(f"{i.get('path')} ({_sha(i.get('sha256'))})" for i in inputs)
    else:
        files = (", ".join(names) or "files it does not name") + \
            " (names only: written before dcsim calibrate recorded its inputs' paths and sha256)"
    return f"{out}, fitted by dcsim calibrate{' --pool' if ' --pool' in gen else ''} from {files}"


#: the most quantities one measurement point (a load or request row; repeats count once) identifies independently:
#: how fast the node runs (tokens/s; its median ITL times the same decode steps) and what it draws (J/token). A fit's
#: load and request points set its free parameters but gamma, which its cap rows set (one value each, gamma alone):
#: ``dcsim calibrate`` refuses a fit whose points cannot (:func:`band_dof` below 0), and a fit's band counts its
#: degrees of freedom by the same rule (docs/node.md, Identifiability)
QUANTITIES_PER_POINT = 2
#: a fit with this many residual degrees of freedom (:func:`band_dof`) or fewer states a band widened by Student's t
#: (:func:`band_widening`). Assumption: below it the widening is the t/z ratio, above it none, although t/z is still
#: 1.31 at 5 and 1.20 at 8 (docs/node.md, Identifiability: a cut-off, not a measured one)
FEW_DOF = 4


def point_params(n_free: int, n_cap_rows: int) -> int:
    """The free parameters of a fit that its load and request points set: all ``n_free`` but gamma when the fit has
    cap rows (``n_cap_rows`` > 0), which set gamma alone (one value each, docs/node.md, Identifiability)."""
    return n_free - (1 if n_cap_rows else 0)


def band_dof(n_values: int, n_points: int, n_free: int, n_cap_rows: int = 0) -> int:
    """The residual degrees of freedom of a fit for its band: the independent values of its load and request points
    (their ``n_values`` less the cap rows' one each, at most :data:`QUANTITIES_PER_POINT` per point: a median ITL adds
    none) less the free parameters they set (:func:`point_params`). Below 0 the points cannot determine the fit
    (``dcsim calibrate`` refuses it); at 0 no band is determined."""
    return min(n_values - n_cap_rows, QUANTITIES_PER_POINT * n_points) - point_params(n_free, n_cap_rows)


def band_widening(dof: int) -> float | None:
    """The factor a fit's worst in-sample error is widened by for its band when it has ``dof`` residual degrees of
    freedom (:func:`band_dof`): 1 above :data:`FEW_DOF`; at or below it, Student's t 97.5 % quantile at ``dof`` over
    the normal one — how much wider a 95 % interval gets when the scatter is estimated from ``dof`` residuals, which a
    fit with nearly as many parameters as values has mostly absorbed (x6.5 at 1, x2.2 at 2, x1.6 at 3, x1.4 at 4);
    None below 1 (the fit can pass through every value: no band is determined)."""
    if dof > FEW_DOF:
        return 1.0
    if dof < 1:
        return None
    from scipy.stats import norm, t

    return float(t.ppf(0.975, dof) / norm.ppf(0.975))


def worst_in_sample(fit: dict) -> dict | None:
    """A fit's worst in-sample errors (``tokens/s`` and ``J/token``, %) from its ``fit`` record: the load rows',
    else a request profile's worst error over the four values of its request rows (prompt time, token time, average
    and peak power); None when it has neither."""
    if "max_err_tok_s_pct" in fit:
        return {"tok_s_pct": fit["max_err_tok_s_pct"], "j_per_tok_pct": fit["max_err_j_per_tok_pct"]}
    if "max_err_request_pct" in fit:
        return {"tok_s_pct": fit["max_err_request_pct"], "j_per_tok_pct": fit["max_err_request_pct"]}
    return None


def fit_dof(fit: dict) -> int | None:
    """:func:`band_dof` of a ``fit`` record (``n_values``, ``n_points``, ``n_free_params``, ``n_cap_rows``, 0 when
    absent); None for a record without the counts."""
    if not all(k in fit for k in ("n_values", "n_points", "n_free_params")):
        return None
    return band_dof(int(fit["n_values"]), int(fit["n_points"]), int(fit["n_free_params"]), int(fit.get("n_cap_rows", 0)))


def fit_band(fit: dict) -> dict | None:
    """The error band (``tokens/s`` and ``J/token``, %) a fit states for itself, from its ``fit`` record: its worst
    in-sample error (:func:`worst_in_sample`), widened for few degrees of freedom (:func:`band_widening` of
    :func:`fit_dof`, rounded to 3 decimals), both figures None when it has none (the fit can pass through every value);
    None when the record has no error (the caller says what then). The one rule for dcsim's shipped calibrations
    (:func:`calibration_record`) and for the ``error_band_pct`` ``dcsim calibrate`` writes into each profile (so a
    scenario naming it as ``node.profile`` carries the band in its caveat, and a simulation states the band its
    profile does)."""
    band = worst_in_sample(fit)
    dof = fit_dof(fit)
    if band is None or dof is None:
        return band
    f = band_widening(dof)
    if f is None:
        return {"tok_s_pct": None, "j_per_tok_pct": None}
    return band if f == 1.0 else {k: round(v * f, 3) for k, v in band.items()}


def calibration_record(prof: dict, status: str, gpu: str, model: str, precision: str, tp: int,
                       levers: list[str] | tuple = (), layout: str = "", borrowed: dict | None = None,
                       source: dict | None = None, pool_over_carry: dict | None = None) -> dict:
    """How trustworthy a replica's parameters are: status, source profile(s) and expected error band.

    ``error_band_pct`` (tokens/s and J/token, %): the profile's own band when calibrated (:func:`fit_band`: its
    worst in-sample error, widened for a fit with few degrees of freedom, as the profile states it); when ``same-architecture``, the larger (per quantity) of that and the worst measured error of a
    calibration carried to a model of the same shape (:data:`dcsim.node.catalog.SAME_SHAPE_CARRY_PCT`, one measured
    pair: a lower bound); the worst error of a calibration carried to another TP degree
    on this GPU when ``other-tp`` (the pooled fit's ``cross_tp`` rows); the worst leave-one-model-out
    error of the GPU's pooled fit when transferred — but for a pair measured without a profile of its own that runs on
    the pool because the pool predicted its rows better than its other-TP carry (``pool_over_carry``, the rows
    :func:`dcsim.node.catalog.pool_over_carry` chose by; recorded as ``pool_over_carry``: the carry bypassed and both
    worst errors), the larger per quantity of the two held-out worst errors on its own
    rows (the pool without the model's data, the carry), since the choice between them was made on those rows and
    the pool that runs holds them: a measured reference, not the held-out error of what runs (``meaning`` says so); the worst over the pools it averages when generic (a lower bound:
    the hardware is transferred too); the sibling GPU's band for its profile when ``same-silicon`` (a lower bound);
    the band a profile file states (``error_band_pct``, written by ``dcsim calibrate``: :func:`fit_band`;
    unknown without it) for ``user-profile``; the pool's leave-one-model-out band for ``user-pool``; the shipped
    profile's own when ``other-setup``. A named profile (:data:`NAMED_STATUSES`) measured for another GPU, model,
    precision or TP degree than this replica's names it (``profile_mismatch``, ``profile_measured_for``, a band note),
    and its band is a lower bound.

    ``source`` (a profile the scenario names, :func:`_named_profile`): what identifies it, recorded as
    ``profile_source`` and said in ``meaning`` (:func:`source_text`).

    ``layout`` (MoE models: ``expert-parallel`` or ``sharded experts``) is appended to ``for``.
    ``borrowed`` (a transfer's costs its GPU's data do not identify, by lending GPUs) is recorded and said in
    ``meaning``.

    ``serving_stack`` / ``stack_current`` (:func:`dcsim.node.catalog.serving_stack`): the serving software the
    profile's measurements were taken on, and whether it is dcsim's current one (figures of an older stack do not
    compare with the others on hardware alone).

    ``levers`` (:func:`dcsim.node.levers.active_levers`): with any lever on, a shipped profile's
    figures are no longer those its measurements cover (no lever is in the measurement sets), so
    the status becomes ``lever-modelled`` (``base_status`` keeps the profile's own) and the band,
    the profile's without the levers, is marked ``band_lower_bound``. A user profile keeps its
    status (its author may have fitted it with the levers on).
    """
    stated = prof.get("error_band_pct", {"tok_s_pct": None, "j_per_tok_pct": None})
    own = status in ("calibrated", "same-architecture", "other-setup")  # a profile's own fit: its in-sample band
    band = (fit_band(prof.get("fit", {})) or stated) if own else stated
    if status == "same-architecture":
        # the twin's in-sample band says how well it fits its own model, not how far another post-training of the
        # shape lands: the measured same-shape carry (docs/validation.md SA-*) is at least that far
        band = max_band([band, SAME_SHAPE_CARRY_PCT])
    base_status = status
    if levers and status != "user-profile":
        status = "lever-modelled"
    where = f"{gpu} / {model} / {precision} / TP{tp}" + (f" {layout}" if layout else "")
    src = source_text(source)
    head = (f"the scenario's node.profile {src}" if src and status == "user-profile"
            else STATUS_TEXT[status] + (f": {src}" if src else ""))
    poc = pool_over_carry
    if poc:
        # the pool runs a pair it was fitted on: not "no measurement" (STATUS_TEXT's transferred)
        band = _worst([poc["leave_one_model_out"], poc["carry"]])
        head = (STATUS_TEXT[status] + "; " if status == "lever-modelled" else "") + (
                f"this GPU's pooled fit, whose data hold this pair's own measurements ({poc['carry']['profile']}), used "
                f"instead of its other-TP calibration {poc['carry']['from']}: the pool without this model's data "
                f"predicted these rows better (worst point) than that carry (catalog.pool_over_carry); the band is the "
                f"worse, per quantity, of those two held-out predictions of the rows the choice was made on, not a "
                f"held-out error of the pool that runs")  # levers on: their wording first, as every status's
    own_rows = _pool_holds_pair(prof, gpu, model, precision, tp) if base_status == "transferred" and not poc else None
    if own_rows is not None:
        # a measured pair with no profile of its own (too few degrees of freedom, docs/node.md "Fit quality": A100
        # Mistral-Nemo-12B) runs on a pool fitted on its rows: not "no measurement" (STATUS_TEXT's transferred),
        # and the band is the pool's worst leave-one-model-out error over its models, not this pair's
        head = (STATUS_TEXT[status] + "; " if status == "lever-modelled" else "") + (
            f"this GPU's pooled hardware efficiencies with this model's own FLOPs, bytes and KV; the pool's data hold "
            f"this pair's own measurements ({own_rows['profile']}, {own_rows['n_points']} points), too few to fit a "
            f"profile of its own with a band (docs/node.md, Fit quality); the band is the pool's worst "
            f"leave-one-model-out error over its models (each predicted without its own data), not this pair's: "
            f"without them the pool missed this pair's rows by at most {own_rows['max_err_tok_s_pct']:g} % tok/s "
            f"and {own_rows['max_err_j_per_tok_pct']:g} % J/token")
    meaning = head + "".join(
        f"; {BORROWABLE[k][1]} from the {', '.join(v)} pooled fit{'s' if len(v) > 1 else ''} (none measured on {gpu})"
        for k, v in (borrowed or {}).items())
    stack, current = serving_stack(prof)
    lengths = prof.get("measured_lengths") or {}
    cap_m, cap_of = cap_floor(prof, gpu)
    clk_m, clk_of = clock_floor(prof, gpu)
    notes = band_notes(prof, precision)
    # a profile the scenario names, fitted to another GPU, model, precision or TP degree, describes that setup
    mismatch = _mismatch(prof, gpu, model, precision, tp) if base_status in NAMED_STATUSES else []
    measured_for = (" / ".join(str(prof.get(k, "?")) for k in ("gpu", "model", "precision"))
                    + f" / TP{prof.get('tensor_parallel', '?')}") if mismatch else None
    if mismatch:
        notes.append(f"{prof.get('name')} was measured for {measured_for} (its {', '.join(mismatch)} "
                     f"differ{'s' if len(mismatch) == 1 else ''} from this replica's): its parameters and band describe "
                     f"that setup")
    meaning += "".join(f"; {n}" for n in notes)
    if prof.get("energy_band_from"):
        # catalog.energy_is_own: the pool describes such a checkpoint's tokens/s, not its energy
        meaning += ("; a block-scaled FP8 checkpoint's J/token is not described by the pooled power (fitted without "
                    "it), so its J/token band is how far the left-out " + ", ".join(prof["energy_band_from"])
                    + " landed")
    if base_status == "user-profile":
        meaning += ("; its band is in-sample (how well it fits its own rows): dcsim has not checked it on rows it "
                    "was not fitted to (dcsim calibrate --loo predicts each load level left out)")
    return {"status": status, "profile": str(prof.get("name")), "for": where,
            "profile_mismatch": mismatch, "profile_measured_for": measured_for,
            "profile_source": dict(source) if source else None,
            "meaning": meaning, "borrowed": dict(borrowed or {}),
            "serving_stack": stack, "stack_current": current, "stack_note": stack_note(stack, current),
            "source_profiles": list(prof.get("pooled_groups") or [str(prof.get("name"))]),
            "error_band_pct": band, "levers": list(levers), "base_status": base_status,
            "band_lower_bound": (status in ("generic", "lever-modelled", "same-silicon", "same-architecture",
                                            "other-setup") or bool(notes)),
            # the batch range the profile was measured at (None for a pooled fit); the engine sets the batch a
            # replica reaches at full load and whether it is beyond that range (at_workload)
            "measured_batch_max": measured_batch_max(prof), "batch_limit": None, "extrapolated": False,
            # the longest prompt and decode context its rows were measured at (calibrate.measured_lengths; None for a
            # profile without them); the engine sets its pool's and whether they are beyond that range (at_workload)
            "measured_prompt_max": (lengths.get("prompt_tokens") or [None, None])[1],
            "measured_context_max": (lengths.get("decode_context") or [None, None])[1],
            "mean_input": None, "decode_context": None, "context_extrapolated": False, "in_range_status": status,
            # the replica's per-GPU board limit against the lowest cap measured on its GPU; the engine sets them
            # (at_workload); where the DVFS exponent γ comes from (fitted to cap rows, or an assumption)
            "limit_w": None, "limit_frac_tdp": None, "cap_extrapolated": False,
            # the lowest cap and DVFS clock the measurements behind it cover on this GPU, and whose they are
            # (cap_floor: a named profile's own, else the GPU's; clock_floor: the profile's own, shipped or named,
            # when it states one, else the GPU's)
            "measured_cap_min_frac": cap_m, "cap_min_of": cap_of,
            "measured_clock_min": clk_m, "clock_min_of": clk_of, "clock_min_from": clock_floor_source(prof, clk_of),
            "gamma_source": prof.get("gamma_source"),
            # a measured pair run on its GPU's pool instead of its other-TP carry (catalog.pool_over_carry): the carry
            # bypassed and the worst point errors of both on the pair's own rows, which chose between them
            "pool_over_carry": ({"carry_from": poc["carry"]["from"], "pool_pct": _worst([poc["leave_one_model_out"]]),
                                 "carry_pct": _worst([poc["carry"]])} if poc else None),
            # why the band is a lower bound beyond what the status says (band_notes)
            "band_notes": notes}
