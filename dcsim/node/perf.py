"""Roofline iteration latency of one model replica (``tp`` GPUs, tensor parallel).

Per continuous-batching iteration [DESIGN "Physics, with calibration"]:

    t = overlap_p(t_compute, t_memory) + (t_layer + t_seq_layer * n_decode) * layers_run
        + t_moe_layer * moe_layers_run + t_fp8_layer * fp8_layers_run
    overlap_p(a, b) = (a^p + b^p)^(1/p)    (p -> inf: max(a, b), the ideal roofline;
                                            p = 1: a + b, no overlap of compute and memory)
    t_compute = FLOPs / (tp * peak * MFU * clock)
    t_memory  = (weight bytes + KV bytes read + KV bytes written) / (tp * HBM_BW * MBU)

FLOPs = 2 * active_params * f per forward position (Kaplan et al. 2020 forward-pass count) plus
attention 4 * layers * heads * head_dim per (position, context token) pair (QK^T and AV).
MoE weights read per iteration: dense part + expert part x (1 - (1 - k/E)^T), the expected
fraction of experts touched by T tokens routed independently (assumption: uniform routing). Served
expert-parallel (each GPU holds E/G whole experts), the step waits for the GPU with the most experts
touched (:func:`expert_parallel_imbalance`); the other GPUs read less and wait (their power: step).
Memory time does not depend on the SM clock (HBM is clocked separately) and the overheads
are CPU-side, so only the compute-bound part slows when a power cap lowers the clock.
The overheads are per layer run (kernel launches, synchronisation and the tensor-parallel all-reduce
of every layer; the per-sequence attention bookkeeping of every layer), so they scale with the
model's depth and with layer skipping; expressing them per layer is what lets a GPU's overheads
fitted on one model transfer to another (dcsim.node.catalog.transfer_profile).
The overlap exponent p generalises the roofline max (kernels do not overlap compute and memory
perfectly; ML.ENERGY's 70B iteration times grow almost linearly in batch from the smallest batch,
which a hard max cannot show). The MoE dispatch ``t_moe_layer`` (router and top-k, token
permutation, small grouped expert GEMMs far below the HBM bandwidth) is paid once per MoE layer run.
The FP8 cost ``t_fp8_layer`` is paid once per layer run of a model served with FP8 weights (W8A8;
0 for any other precision): vLLM quantises the activations to FP8 (a per-token scale: a reduction
and a cast kernel) in front of each FP8 linear layer, and block-quantised FP8 expert GEMMs carry
their scales; these are short kernels whose time does not shrink with the halved weight bytes.
ML.ENERGY v3 shows it: Qwen3-235B-A22B on the same 8×H100 at batch 8 is slower in FP8 than in BF16
(316 vs 388 tok/s) although FP8 reads half the bytes, and Llama-3.1-405B-FP8 spends about twice the
per-layer time of the BF16 dense models beyond its weight reads. It is identified only when the
fitted data hold FP8 and non-FP8 groups (:mod:`dcsim.node.calibrate`); with one group it cannot be
told apart from ``t_layer`` and is 0.
MFU, MBU, p, t_layer, t_seq_layer, t_moe_layer, t_fp8_layer are fitted by :mod:`dcsim.node.calibrate`.
Tensor-parallel communication is not modelled separately: it is absorbed in the fitted per-layer
overheads and efficiencies (an all-reduce term from the NVLink datasheet bandwidth was tried and
made the transfer and the 70B fit worse; docs/node.md "Leave-one-model-out").
All quantities SI: FLOP, B, s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dcsim.node.levers import BYTES_PER_ELEM, Levers
from dcsim.scenario.node import GpuSpec, ModelSpec, NodeSpec, ServerSpec

#: the roofline overlap exponent a profile that does not fit it runs with: (a^p + b^p)^(1/p) is within
#: 2^(1/50) - 1 = 1.4 % of max(a, b) when compute and memory times are equal (assumption: near the ideal roofline;
#: every shipped profile fits its own, 1.2-8.6). dcsim.node.model reads it for a profile with no overlap_p.
DEFAULT_OVERLAP_P = 50.0


@dataclass(frozen=True)
class Derived:
    """Per-token physics quantities of a model at a precision with levers applied (SI)."""

    flops_per_position: float      # FLOP per forward position, linear layers (2 * active * layer_frac)
    attn_flops_per_ctx: float      # FLOP per (position, context token) pair
    dense_weight_bytes: float      # B read once per iteration (non-expert weights x layer_frac)
    expert_weight_bytes: float     # B of routed-expert weights (x layer_frac)
    expert_frac: float             # k/E (0 for dense)
    kv_bytes_per_token: float      # B stored per cached token (all layers)
    kv_read_per_ctx: float         # B read per context token per decode step
    sparse: float                  # fraction of the context each decode position attends to
    weight_bytes_total: float      # B resident in HBM
    positions: float               # forward positions per decode sequence per step
    tokens_per_step: float         # tokens emitted per decode sequence per step
    peak_precision: str            # which peak FLOP/s applies
    layers_run: float              # transformer layers run per forward pass (layers x layer_frac)
    moe_layers_run: float = 0.0    # MoE (routed-expert) layers run per forward pass (0 for dense)
    fp8_layers_run: float = 0.0    # layers run per forward pass with FP8 (W8A8) linear layers (0 unless fp8)
    window: float = 0.0            # tokens a sliding-window layer attends to (0: every layer attends to all)
    local_frac: float = 0.0        # share of the layers (hence of KV reads and attention FLOPs) that are local
    ep_groups: float = 1.0         # GPUs the routed experts are spread over whole (expert parallel; 1: sharded)
    experts_per_group: float = 0.0  # routed experts each of those GPUs holds (E / ep_groups; 0: sharded)


@dataclass(frozen=True)
class PerfParams:
    """Fitted efficiency/overhead parameters (see calibrate)."""

    mfu: float          # model FLOP utilisation of the dense peak, (0, 1]
    mbu: float          # HBM bandwidth utilisation, (0, 1]
    t_layer_s: float    # s per layer run per iteration (launches, sync, TP all-reduce)
    t_seq_layer_s: float  # s per layer run per decode sequence per iteration (attention bookkeeping)
    overlap_p: float = DEFAULT_OVERLAP_P  # roofline combination exponent (>= 1; large = max)
    t_moe_layer_s: float = 0.0  # s per MoE layer run per iteration (routing, token permutation, expert GEMM launches)
    t_fp8_layer_s: float = 0.0  # s per FP8 layer run per iteration (activation quantisation, FP8 block scales)
    t_host_seq_s: float = 0.0  # s per decode sequence per iteration the GPUs wait on the host (P_sync); 0: none


def weight_bytes(model: ModelSpec, precision: str) -> tuple[float, float]:
    """Bytes of the non-expert and of the routed-expert weights of ``model`` served in ``precision``.

    A checkpoint with ``quantized: experts`` (Llama-4-Maverick-FP8) stores only its routed experts in
    ``precision``; attention, shared expert, router and dense layers stay BF16."""
    wb = BYTES_PER_ELEM[precision]
    dense_wb = BYTES_PER_ELEM["bf16"] if model.quantized == "experts" else wb
    return (model.params - model.expert_params) * dense_wb, model.expert_params * wb


def kv_units(model: ModelSpec) -> int:
    """KV-cache entries per token and layer that tensor parallelism splits: the KV heads (grouped-query or
    multi-head attention), or 1 for multi-head latent attention (one latent shared by every head)."""
    return 1 if model.attention == "mla" else model.kv_heads


def _split_problem(model: ModelSpec, tp: int) -> str | None:
    if model.heads % tp:
        return f"{model.name}'s {model.heads} attention heads do not split evenly over tensor_parallel {tp}"
    u = kv_units(model)
    if u > 1 and (u % tp if tp < u else tp % u):
        return (f"{model.name}'s {u} KV heads do not split over tensor_parallel {tp} (it must divide them, or be a "
                f"multiple of them: each GPU then holds one, replicated)")
    return None


def tensor_parallel_problem(model: ModelSpec, tp: int,
                            gpus_per_node: int = ServerSpec.model_fields["gpus_per_node"].default) -> str | None:
    """Why ``model`` cannot be split over ``tp`` tensor-parallel GPUs, or None. vLLM splits the query heads
    evenly and the KV heads evenly, or gives each GPU one KV head replicated over ``tp / kv_heads`` GPUs where
    the GPUs outnumber them (``ModelConfig.verify_with_parallel_config``: "Total number of attention heads
    must be divisible by tensor parallel size"; ``QKVParallelLinear``, vllm/model_executor/layers/linear.py).
    The message lists the degrees that split, up to ``gpus_per_node``."""
    problem = _split_problem(model, tp)
    if problem is None:
        return None
    ok = [str(t) for t in range(1, gpus_per_node + 1) if _split_problem(model, t) is None]
    return (f"{problem}; a serving engine (vLLM) refuses the split: tensor_parallel "
            f"{', '.join(ok[:-1]) + ' or ' + ok[-1] if len(ok) > 1 else ok[0]} on a server of {gpus_per_node} GPUs")


def kv_copies(model: ModelSpec, tp: int, latent: bool = False) -> float:
    """Copies of each KV-cache entry a replica of ``tp`` tensor-parallel GPUs stores and reads: 1 while the GPUs
    split the KV heads; ``tp / kv_heads`` where they outnumber them (each GPU holds one KV head, vLLM replicates
    it: Qwen3-235B, 4 KV heads, on 8 GPUs stores and reads its cache twice); ``tp`` for latent attention
    (every GPU holds the whole latent). [vLLM ``QKVParallelLinear`` and ``ModelConfig.get_num_kv_heads``:
    ``max(1, kv_heads // tp)`` KV heads per GPU; MLA counts as one]. ``latent``: the lever ``kv_latent`` turns the
    model's cache into such a latent (``tp`` copies)."""
    u = 1 if latent else kv_units(model)
    return max(u, int(tp)) / u


def derive(model: ModelSpec, precision: str, lv: Levers, expert_parallel: int = 1, *, tp: int) -> Derived:
    """FLOPs/bytes per token for ``model`` with weights in ``precision`` and levers ``lv``, on a replica of
    ``tp`` tensor-parallel GPUs (the KV cache's copies, :func:`kv_copies`).

    ``expert_parallel``: GPUs the routed experts are spread over whole (vLLM ``--enable-expert-parallel``
    on a replica of that many GPUs); 1 = every expert sharded over the replica (tensor parallel)."""
    ep = int(expert_parallel)
    if ep > 1 and not model.n_experts:
        raise ValueError(f"expert_parallel: {model.name} has no routed experts (a dense model)")
    if ep > 1 and model.n_experts % ep:
        raise ValueError(f"expert_parallel: {model.name}'s {model.n_experts} experts do not split evenly "
                         f"over {ep} GPUs")
    active = model.active_params if model.active_params is not None else model.params
    f = lv.layer_frac
    kv_elems = model.kv_elems_per_layer or 2 * model.kv_heads * model.head_dim
    kv_tok = model.layers * kv_elems * lv.kv_bytes_per_elem / lv.kv_compression * kv_copies(model, tp, lv.kv_latent)
    dense_b, expert_b = weight_bytes(model, precision)
    moe_layers = (model.moe_layers or model.layers) if model.n_experts else 0
    experts_only = model.quantized == "experts"
    return Derived(
        flops_per_position=2.0 * active * f,
        attn_flops_per_ctx=4.0 * model.layers * model.heads * model.head_dim * f,
        dense_weight_bytes=dense_b * f,
        expert_weight_bytes=expert_b * f,
        expert_frac=(model.experts_per_token / model.n_experts) if model.n_experts else 0.0,
        kv_bytes_per_token=kv_tok,
        kv_read_per_ctx=kv_tok * lv.sparse_attention * f,
        sparse=lv.sparse_attention,
        weight_bytes_total=dense_b + expert_b,
        positions=lv.positions,
        tokens_per_step=lv.tokens_per_step,
        # int4 = W4A16: bf16 tensor cores (assumption); experts-only FP8: most active FLOPs stay BF16
        peak_precision=compute_precision(model, precision),
        layers_run=float(model.layers) * f,
        moe_layers_run=float(moe_layers) * f,
        # W8A8 linear layers (vLLM fp8): every layer, or the MoE layers' experts only
        fp8_layers_run=float((moe_layers if experts_only else model.layers) if precision == "fp8" else 0) * f,
        window=float(model.sliding_window) if model.local_layers else 0.0,
        local_frac=model.local_layers / model.layers,
        ep_groups=float(max(ep, 1)),
        experts_per_group=float(model.n_experts // ep) if ep > 1 else 0.0,
    )


def compute_precision(model: ModelSpec, precision: str) -> str:
    """The precision whose peak FLOP/s a model served in ``precision`` computes at (``Derived.peak_precision``): FP8
    tensor cores for FP8 weights (W8A8), BF16 for everything else (int4 is W4A16) and for a checkpoint that stores
    only its routed experts in FP8 (most of its active FLOPs stay BF16)."""
    return "fp8" if precision == "fp8" and model.quantized != "experts" else "bf16"


def peak_flops(gpu: GpuSpec, peak_precision: str) -> float:
    """Dense peak FLOP/s of ``gpu`` for the compute precision (falls back to BF16)."""
    v = getattr(gpu.peak_flops, peak_precision, None)
    return float(v if v is not None else gpu.peak_flops.bf16)


#: the achievable share of the dense peak assumed for a GPU with no published achievable matmul rate (an inline GPU
#: without ``achievable_flops``): 0.78, the median efficiency of the 12 accelerators of [MAMF]'s BF16 table
#: (51.4-96.9 %; the catalog's published GPUs: A100 86.9, H100 80.3, B200 77.6, MI300X 51.4 %). Assumption.
ACHIEVABLE_FRACTION_ASSUMED = 0.78


def achievable_flops(gpu: GpuSpec, peak_precision: str) -> tuple[float, str]:
    """``(FLOP/s, how)``: the dense matmul rate ``gpu`` reaches in the compute precision, at most its peak.

    ``how`` is ``"published"`` (``gpu.achievable_flops`` gives it: [MAMF] in the catalog); ``"bf16 fraction"``
    (assumption: no figure for this precision, so the GPU's published BF16 share of its BF16 peak times this
    precision's peak — MI300X FP8, whose [MAMF] row is empty; int4, W4A16 on the BF16 tensor cores); or
    ``"assumed"`` (no figure at all: :data:`ACHIEVABLE_FRACTION_ASSUMED` of the peak)."""
    peak = peak_flops(gpu, peak_precision)
    a = gpu.achievable_flops
    v = None if a is None else getattr(a, peak_precision, None)
    if v is not None:
        return min(float(v), peak), "published"
    if a is not None and a.bf16 is not None:
        return min(float(a.bf16) / float(gpu.peak_flops.bf16), 1.0) * peak, "bf16 fraction"
    return ACHIEVABLE_FRACTION_ASSUMED * peak, "assumed"


def mfu_ceiling(gpu: GpuSpec, peak_precision: str) -> float:
    """The highest compute efficiency (a fraction of the dense peak, as ``PerfParams.mfu``) the GPU physically
    reaches in that precision: achievable / peak (:func:`achievable_flops`). H100 BF16 0.803, FP8 0.709; B200 0.776,
    0.763; MI300X BF16 0.511 (of the catalog's 1,307 TFLOP/s)."""
    return achievable_flops(gpu, peak_precision)[0] / peak_flops(gpu, peak_precision)


def attended_context(d: Derived, ctx_sum, n):
    """Context tokens attended to (and KV read), summed over ``n`` sequences or positions holding
    ``ctx_sum`` tokens of context, with sliding-window layers: a local layer attends to at most
    ``window`` tokens, so its share ``local_frac`` of the sum loses ``ctx_sum - n·window`` when the mean
    context exceeds the window. Mean field: the contexts are taken as all equal to their mean, which
    overstates the reads when some are shorter than the window and some longer (min is concave).
    Beltagy et al. 2020 (Longformer) sliding-window attention; Gemma 3 technical report (2025):
    5 local layers (1,024-token window) per global layer. Models without local layers: ``ctx_sum``."""
    if d.window <= 0.0:
        return ctx_sum
    return ctx_sum - d.local_frac * np.maximum(ctx_sum - np.asarray(n, dtype=float) * d.window, 0.0)


def iteration_flops(d: Derived, prefill_tokens, n_decode, ctx_sum, prefill_ctx_sum):
    """FLOP of one iteration: linear layers over all positions + attention over context."""
    pos = prefill_tokens + n_decode * d.positions
    return pos * d.flops_per_position + d.attn_flops_per_ctx * (
        attended_context(d, prefill_ctx_sum, prefill_tokens)
        + d.positions * attended_context(d, ctx_sum, n_decode) * d.sparse)


def expert_parallel_imbalance(q, m: float, g: float):
    """Busiest-GPU factor of the expert weights read under expert parallelism: E[max_j X_j] / E[X] for
    ``g`` GPUs each holding ``m`` experts, each expert touched with probability ``q`` (X_j ~ Binomial(m, q),
    taken independent: uniform routing, assumption). E[max] = sum_{k<m} (1 - F(k)^g) with F the binomial
    CDF. 1 when every expert is touched; tends to ``g`` as ``q`` -> 0 (one GPU holds the only expert
    touched). A step waits for the slowest GPU (the all-to-all after the experts), so expert-parallel
    serving reads the busiest GPU's experts in the step's time while the others wait: the cost of
    expert parallelism at small batch [Lepikhin et al. 2021, GShard; Rajbhandari et al. 2022,
    DeepSpeed-MoE: load imbalance of expert parallelism]."""
    q = np.asarray(q, dtype=float)
    if g <= 1.0 or m <= 0.0:
        return np.ones_like(q)
    full = q >= 1.0 - 1e-12
    qs = np.where(full, 0.5, np.maximum(q, 1e-300))
    pj = (1.0 - qs) ** m
    cdf = pj.copy()
    emax = np.zeros_like(qs)
    r = qs / (1.0 - qs)
    for j in range(int(m)):
        emax = emax + 1.0 - cdf ** g
        pj = pj * (m - j) / (j + 1.0) * r
        cdf = cdf + pj
    return np.where(full, 1.0, emax / (m * qs))


def iteration_bytes(d: Derived, prefill_tokens, n_decode, ctx_sum):
    """HBM bytes of one iteration on the busiest GPU, times the replica's GPU count: weights (MoE: experts
    touched; expert parallel: the busiest GPU's, :func:`expert_parallel_imbalance`) + KV read + KV written."""
    pos = prefill_tokens + n_decode * d.positions
    touched = 1.0 - (1.0 - d.expert_frac) ** pos if d.expert_frac > 0 else 0.0
    if d.expert_frac > 0 and d.ep_groups > 1:
        touched = touched * expert_parallel_imbalance(touched, d.experts_per_group, d.ep_groups)
    return d.dense_weight_bytes + d.expert_weight_bytes * touched \
        + attended_context(d, ctx_sum, n_decode) * d.kv_read_per_ctx + pos * d.kv_bytes_per_token


def roofline(tc, tm, p: float):
    """Combine compute and memory time (s): (tc^p + tm^p)^(1/p), computed stably."""
    hi = np.maximum(tc, tm)
    safe = np.where(hi > 0, hi, 1.0)
    return np.where(hi > 0, hi * ((tc / safe) ** p + (tm / safe) ** p) ** (1.0 / p), 0.0)


def iteration_time(d: Derived, gpu: GpuSpec, tp: int, p: PerfParams, prefill_tokens, n_decode, ctx_sum,
                   prefill_ctx_sum, clock=1.0):
    """Iteration latency (s) and its compute and memory parts; numpy-broadcasting.

    Returns ``(t, t_compute, t_memory)``. ``prefill_ctx_sum`` = sum over prefill positions of
    the context each attends to (causal chunk of L tokens: L^2 / 2).
    """
    prefill_tokens = np.asarray(prefill_tokens, dtype=float)
    n_decode = np.asarray(n_decode, dtype=float)
    tc = iteration_flops(d, prefill_tokens, n_decode, np.asarray(ctx_sum, float), prefill_ctx_sum) / (
        tp * peak_flops(gpu, d.peak_precision) * p.mfu * np.asarray(clock, dtype=float))
    tm = iteration_bytes(d, prefill_tokens, n_decode, np.asarray(ctx_sum, float)) / (tp * gpu.hbm_bw * p.mbu)
    # the overheads of dcsim.node.step.iteration_step's t_o, the host's wait per decoding sequence too (t_host_seq_s:
    # until the review of session 52 missing here, so a profile with one, every transfer since it is averaged over
    # the pools, read a shorter step than it runs)
    t = roofline(tc, tm, p.overlap_p) + (p.t_layer_s + p.t_seq_layer_s * n_decode) * d.layers_run \
        + p.t_host_seq_s * n_decode + p.t_moe_layer_s * d.moe_layers_run + p.t_fp8_layer_s * d.fp8_layers_run
    return t, tc, tm


#: vLLM V1 default ``max_num_batched_tokens`` for online serving, the token budget of an
#: iteration (prefill chunks + one position per decoding sequence): NodeSpec's default, its one home (with its source).
DEFAULT_CHUNK_TOKENS = float(NodeSpec.model_fields["max_batched_tokens"].default)


def decode_context(mean_in, mean_out, decode_ctx=None):
    """Tokens of context a running (decoding) sequence holds: ``decode_ctx`` when given — the
    residence-weighted ``E[n_out (n_in + n_out/2)] / E[n_out]`` of a workload
    (:meth:`dcsim.workload.Workload.decode_context`) or of a measured run (the ``decode_ctx`` column)
    — else ``mean_in + mean_out/2``, which holds when every request has the same lengths. The one
    home of that default (steady state, FLOPs per token, KV capacity, calibration rows)."""
    if decode_ctx is None:
        return np.asarray(mean_in, dtype=float) + 0.5 * np.asarray(mean_out, dtype=float)
    return np.asarray(decode_ctx, dtype=float)


#: quantile bins of the prefill each iteration carries in the steady state (:func:`steady_mix`): the
#: conditional mean of each bin is a node, with an atom at no prefill; 4 bins put the mean iteration
#: time within 0.25 % of 4,096 quasi-random draws on the chat, code and ML.ENERGY chat mixes
#: (Llama-3.1-70B on 4 H100s, batch 8-256; measured when introduced, docs/node.md "Random prefill")
PREFILL_BINS = 4


def compound_poisson_gamma(count, e_x, e_x2):
    """A compound Poisson sum (Poisson mean ``count``, jumps with moments ``e_x``, ``e_x2``) as an atom at 0 of
    mass ``p0 = exp(-count)`` and, above it, the Gamma with the sum's conditional mean and variance given at least
    one jump. Returns ``(p0, shape, scale)`` (broadcast arrays); the one home of that moment match (the steady
    mix's :func:`prefill_nodes`, the SLO estimate's prompt draws)."""
    n, ex, ex2 = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (count, e_x, e_x2)))
    m, v = n * ex, n * ex2  # mean and variance of the sum
    p0 = np.exp(-n)
    q = np.maximum(1.0 - p0, 1e-300)
    mc = m / q
    vc = np.maximum((v + m * m) / q - mc * mc, 1e-12 * mc * mc + 1e-300)
    shape = np.clip(mc * mc / vc, 1e-6, 1e12)
    return p0, shape, vc / np.maximum(mc, 1e-300)


def median_prefill_tokens(count, mean_in, prompt_scv):
    """Median prompt tokens of one steady-state iteration (the compound Poisson sum of
    :func:`compound_poisson_gamma`: ``count`` prompts on average, each of mean ``mean_in`` tokens with
    squared coefficient of variation ``prompt_scv``). 0 when at least half the iterations carry no prompt
    (``exp(-count) >= 1/2``): the median iteration is then decode-only, whatever the prompt lengths. Each
    iteration emits one token per decoding sequence, so this iteration's duration is the median
    inter-token latency (:mod:`dcsim.node.calibrate` fits the measured one)."""
    from scipy import special

    mi = np.asarray(mean_in, dtype=float)
    p0, shape, scale = compound_poisson_gamma(count, mi, mi * mi * (1.0 + np.asarray(prompt_scv, dtype=float)))
    q = np.clip((0.5 - p0) / np.maximum(1.0 - p0, 1e-300), 0.0, 1.0)
    return np.where(p0 >= 0.5, 0.0, special.gammaincinv(shape, q) * scale)


def prefill_nodes(count, mean_in, prompt_scv, bins=PREFILL_BINS):
    """Quadrature of the prompt tokens one iteration prefills: a compound Poisson sum of ``count``
    prompts on average (Poisson), each of mean ``mean_in`` tokens with squared coefficient of
    variation ``prompt_scv``. Returns ``(x, w)`` with a last axis of ``bins + 1``: an atom at 0 of
    mass ``exp(-count)``, and ``bins`` equal-probability bins of the Gamma with the sum's conditional
    mean and variance given at least one prompt (:func:`compound_poisson_gamma`), each at its conditional mean,
    so ``sum(w x) = count * mean_in`` exactly."""
    from scipy import special

    n, mi, scv = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (count, mean_in, prompt_scv)))
    p0, shape, scale = compound_poisson_gamma(n, mi, mi * mi * (1.0 + scv))
    edges = special.gammaincinv(shape[..., None], np.linspace(0.0, 1.0, bins + 1))
    edges[..., -1] = np.inf
    x = (scale * shape)[..., None] * np.diff(special.gammainc(shape[..., None] + 1.0, edges), axis=-1) * bins
    x = np.where((n * mi > 0)[..., None], x, 0.0)
    w = np.broadcast_to(((1.0 - p0) / bins)[..., None], x.shape)
    return (np.concatenate([np.zeros(n.shape + (1,)), x], axis=-1),
            np.concatenate([p0[..., None], w], axis=-1))


def steady_mix(batch, mean_in, mean_out, chunk_tokens=DEFAULT_CHUNK_TOKENS, tokens_per_step=1.0, decode_ctx=None,
               prompt_scv=0.0):
    """The iterations of a replica in steady state with ``batch`` sequences decoding.

    Each step emits ``batch * tokens_per_step`` tokens; a request is replaced per ``mean_out`` tokens,
    so the prompts an iteration prefills are a Poisson number with mean ``tokens / mean_out``
    (continuous batching admits a new prompt in the iteration after one finishes), of random lengths
    (mean ``mean_in``, squared coefficient of variation ``prompt_scv``: 0 when every prompt has the same
    length). The iteration time is convex in its prefill (the roofline's smooth max: a prefill hides
    under the decode's memory time up to the knee, then adds compute), so the mean over that random
    prefill is longer than the step at the mean prefill — by 1-5 % at full batch for the chat and code
    presets on a 70B (docs/node.md "Random prefill"); request fidelity draws exactly that. Quadrature:
    :func:`prefill_nodes`. Decode sequences hold on average ``decode_ctx`` tokens of context (the
    residence-weighted ``E[n_out (n_in + n_out/2)] / E[n_out]`` of the workload,
    :meth:`dcsim.workload.Workload.decode_context`; default ``mean_in + mean_out / 2``); a prefill
    position attends on average half its prompt, length-biased: ``mean_in (1 + prompt_scv) / 2``.

    Chunked prefill: an iteration takes at most ``chunk_tokens - batch`` prompt tokens; a node above
    that budget runs as several budget-sized iterations, which replace decode-only ones (the atom at 0)
    so the number of iterations per output token and the prefill per iteration stay exact; where the
    decode-only iterations do not suffice (the prompt queue rarely empties), every iteration carries
    the mean prefill.

    Returns ``(tokens, ctx_sum, x, w, prefill_ctx_sum)``: ``x``, ``w`` and ``prefill_ctx_sum`` carry a
    last axis of ``PREFILL_BINS + 1`` nodes (prefill tokens and probability of each kind of iteration).
    """
    batch = np.asarray(batch, dtype=float)
    mean_in = np.asarray(mean_in, dtype=float)
    mean_out = np.asarray(mean_out, dtype=float)
    tokens = batch * tokens_per_step
    prefill = tokens * mean_in / mean_out
    ctx = batch * decode_context(mean_in, mean_out, decode_ctx)
    budget = np.maximum(np.asarray(chunk_tokens, dtype=float) - batch, 1.0)
    tokens, ctx, prefill, budget, mi, scv = np.broadcast_arrays(tokens, ctx, prefill, budget, mean_in,
                                                                np.asarray(prompt_scv, dtype=float))
    x, w = prefill_nodes(tokens / mean_out, mi, scv)
    k = np.maximum(x / budget[..., None], 1.0)  # iterations each node's prefill needs
    spill = np.sum(w * (k - 1.0), axis=-1)
    fits = spill <= w[..., 0]
    w = np.where(fits[..., None], w * k, w)
    w[..., 0] = np.where(fits, w[..., 0] - spill, w[..., 0])  # the atom sits at 0: k = 1 there
    x = np.where(fits[..., None], x / k, x)
    flat = ~fits  # the prompt queue rarely empties: the mean prefill in every iteration
    x = np.where(flat[..., None], prefill[..., None], x)
    w = np.where(flat[..., None], 1.0 / x.shape[-1], w)
    pctx = x * (0.5 * mi * (1.0 + scv))[..., None]
    return tokens, ctx, x, w, pctx


def steady_iteration(d: Derived, gpu: GpuSpec, tp: int, p: PerfParams, batch, mean_in, mean_out, clock=1.0,
                     chunk_tokens=DEFAULT_CHUNK_TOKENS, decode_ctx=None, prompt_scv=0.0):
    """Unthrottled roofline times of the steady-state mix (:func:`steady_mix`) at ``clock``.

    Returns ``(t, t_compute, t_memory, tokens)``, probability-weighted means over the mix's kinds
    of iteration. Power, the board limit and throttling are :func:`dcsim.node.step.steady_step`'s.
    """
    tokens, ctx, x, w, pctx = steady_mix(batch, mean_in, mean_out, chunk_tokens, d.tokens_per_step, decode_ctx,
                                         prompt_scv)
    b = np.asarray(batch, dtype=float)
    b = np.broadcast_to(b, tokens.shape)[..., None]
    t, tc, tm = iteration_time(d, gpu, tp, p, x, b, ctx[..., None], pctx, np.asarray(clock, dtype=float)[..., None]
                               if np.ndim(clock) else clock)
    return np.sum(w * t, axis=-1), np.sum(w * tc, axis=-1), np.sum(w * tm, axis=-1), tokens
