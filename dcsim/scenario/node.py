"""Node sub-spec: which GPU, which model, how it is served, and the energy-to-token levers.

A ``gpu`` or ``model`` may be a catalog name (``dcsim/data/gpus.yaml`` / ``models.yaml``) or an
inline :class:`GpuSpec` / :class:`ModelSpec`, so users can add hardware without editing the
package. All physical fields accept unit strings ("989 TFLOP/s", "3.35 TB/s", "700 W").
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from dcsim.scenario.base import FieldError, Spec
from dcsim.units import quantity

Precision = Literal["bf16", "fp8", "int4"]


#: the full-load rule [D] (dcsim/data/gpus.yaml header, docs/node.md "Server power"): a server with every GPU at TDP
#: and its host at maximum draws this fraction of the vendor's maximum system power at the wall, the geometric mean of
#: the datasheet maximum and the measured gpu-burn maximum of an 8xH100 HGX: sqrt(8.48 kW [LAT] / 10.2 kW [DGXH100])
FULL_LOAD_FRACTION = (8.48 / 10.2) ** 0.5


#: the board power the default server (the catalog's DGX H100, [DGXH100]) is sized for: 8 x 700 W H100 SXM
#: (dcsim/data/gpus.yaml H100-SXM tdp_w)
DEFAULT_SERVER_TDP_W = 700.0


def full_load_non_gpu_max_w(server_max_w: float, psu_efficiency: float, gpus_per_node: int, tdp_w: float) -> float:
    """Host (non-GPU) maximum DC power in W by the full-load rule [D]: wall F = FULL_LOAD_FRACTION x server_max_w,
    so non_gpu_max_w = F x psu_efficiency - gpus_per_node x tdp_w, rounded to the watt as the catalog's
    (dcsim/data/gpus.yaml: DGX H100 10200 x 0.912 x 0.94 - 8 x 700 W = 3142 W)."""
    return float(round(FULL_LOAD_FRACTION * server_max_w * psu_efficiency - gpus_per_node * tdp_w))


#: the default server: the catalog's DGX H100 (dcsim/data/gpus.yaml H100-SXM server): 8 GPUs [DGXH100], 10.2 kW maximum
#: system power [DGXH100] [SWsim], 80 PLUS Platinum PSUs at 94 % [FLASH]; its host maximum is the full-load rule's
DEFAULT_GPUS_PER_NODE, DEFAULT_SERVER_MAX_W, DEFAULT_PSU_EFFICIENCY = 8, 10200.0, 0.94
DEFAULT_NON_GPU_MAX_W = full_load_non_gpu_max_w(DEFAULT_SERVER_MAX_W, DEFAULT_PSU_EFFICIENCY, DEFAULT_GPUS_PER_NODE,
                                                DEFAULT_SERVER_TDP_W)


class ServerSpec(Spec):
    """The server a GPU ships in (non-GPU power is DC, before PSU losses).

    The defaults are the catalog's DGX/HGX H100 server (``H100-SXM`` in dcsim/data/gpus.yaml). A GPU given without
    ``non_gpu_max_w`` derives it from its own ``tdp_w`` by the full-load rule [D] (:func:`full_load_non_gpu_max_w`),
    as the catalog's servers do.
    """

    name: str = "server"
    gpus_per_node: int = Field(DEFAULT_GPUS_PER_NODE, ge=1, description="GPUs per server; default 8 [DGXH100]")
    server_max_w: quantity("power", gt=0) = Field(
        DEFAULT_SERVER_MAX_W, description="vendor's maximum system power at the wall; default the DGX H100's "
                                          "10.2 kW [DGXH100] [SWsim]")
    non_gpu_idle_w: quantity("power", ge=0) = Field(
        1200.0, description="host DC power with the GPUs idle; default 1.2 kW (assumption, as the catalog's H100 "
                            "server: checked against MLPerf power runs' idle readings [MLP-PWR], docs/node.md)")
    non_gpu_max_w: quantity("power", ge=0) = Field(
        DEFAULT_NON_GPU_MAX_W, description="host DC power at full GPU load; default 3,142 W, the full-load rule [D] "
                                           "for the DGX H100 (10200 x 0.912 x 0.94 - 8 x 700 W: DEFAULT_NON_GPU_MAX_W); "
                                           "a GPU spec that leaves it out derives it for its own tdp_w and server_max_w "
                                           "(full_load_non_gpu_max_w)")
    psu_efficiency: quantity("fraction", gt=0, le=1) = Field(
        DEFAULT_PSU_EFFICIENCY, description="PSU efficiency; default 0.94, 80 PLUS Platinum at 50 % load [FLASH]")

    @model_validator(mode="after")
    def _order(self):
        if self.non_gpu_max_w < self.non_gpu_idle_w:
            raise FieldError("non_gpu_max_w", f"{self.non_gpu_max_w:g} W must be >= non_gpu_idle_w ({self.non_gpu_idle_w:g} W)")
        return self


class PeakFlopsSpec(Spec):
    """Dense peak FLOP/s per precision of the weights/activations."""

    bf16: quantity("compute", gt=0)
    fp8: quantity("compute", gt=0) | None = None
    int4: quantity("compute", gt=0) | None = None


class AchievableFlopsSpec(Spec):
    """Dense matmul FLOP/s the GPU reaches per precision (a measured maximum, e.g. [MAMF]); any may be left out."""

    bf16: quantity("compute", gt=0) | None = None
    fp8: quantity("compute", gt=0) | None = None
    int4: quantity("compute", gt=0) | None = None


class GpuSpec(Spec):
    """One accelerator: dense peak compute, HBM, power envelope and its server."""

    name: str = "custom-gpu"
    peak_flops: PeakFlopsSpec
    # the matmul rate actually reachable (S. Bekman's maximum achievable matmul FLOPS [MAMF]): the ceiling of a
    # transferred or generic compute efficiency (dcsim.node.perf.mfu_ceiling); missing: an assumption stands in
    achievable_flops: AchievableFlopsSpec | None = None
    hbm_bytes: quantity("data", gt=0)
    hbm_bw: quantity("bandwidth", gt=0)
    tdp_w: quantity("power", gt=0)
    idle_w: quantity("power", ge=0)
    power_limit_min_w: quantity("power", gt=0)
    clock_min: quantity("fraction", gt=0, le=1) = Field(
        0.2, description="lowest SM clock, a fraction of the maximum (assumption for an inline GPU; the catalog gives "
            "each its own, H100 0.174 [SMI])")
    # the GPU die (e.g. GH100 for H100 and H200): a GPU with no calibration runs on a calibrated GPU of the same
    # die, with its own HBM, bandwidth and power range (status same-silicon)
    silicon: str | None = None
    server: ServerSpec = ServerSpec()

    @model_validator(mode="after")
    def _achievable_below_peak(self):
        a = self.achievable_flops
        for k in ("bf16", "fp8", "int4"):
            v = None if a is None else getattr(a, k)
            peak = getattr(self.peak_flops, k) or self.peak_flops.bf16
            if v is not None and v > peak * (1 + 1e-9):
                raise FieldError(f"achievable_flops.{k}", f"{v:.4g} FLOP/s exceeds peak_flops.{k} ({peak:.4g}): a "
                                 "measured matmul rate cannot beat the datasheet peak (both dense, no sparsity)")
        return self

    @model_validator(mode="after")
    def _power_order(self):
        if not self.idle_w < self.tdp_w:
            raise FieldError("idle_w", f"{self.idle_w:g} W must be < tdp_w ({self.tdp_w:g} W)")
        if self.power_limit_min_w > self.tdp_w:
            raise FieldError("power_limit_min_w", f"{self.power_limit_min_w:g} W must be <= tdp_w")
        sv = self.server
        given = sv.model_fields_set
        if "non_gpu_max_w" not in given:
            # the host maximum by the catalog's full-load rule [D] for this GPU's tdp_w (one rule for catalog and
            # inline GPUs; the DGX H100 default 3142 W only fits 8 x 700 W boards)
            host = full_load_non_gpu_max_w(sv.server_max_w, sv.psu_efficiency, sv.gpus_per_node, self.tdp_w)
            if host < sv.non_gpu_idle_w:
                srv = "server_max_w" if "server_max_w" in given else "the default server_max_w (the DGX H100's)"
                raise FieldError("server.non_gpu_max_w", f"not given, and the full-load rule derives {host:.0f} W = "
                                 f"{FULL_LOAD_FRACTION:.3f} x {srv} {sv.server_max_w:g} W x psu_efficiency "
                                 f"{sv.psu_efficiency:g} - {sv.gpus_per_node} x tdp_w {self.tdp_w:g} W, below "
                                 f"non_gpu_idle_w ({sv.non_gpu_idle_w:g} W): give the server block with the vendor's "
                                 "maximum system power (server.server_max_w) or non_gpu_max_w, or name the catalog "
                                 "GPU it copies (gpu: B200; dcsim/data/gpus.yaml), whose server is sourced")
            # derived, not given: model_copy(update=) would mark the field user-set, and a spec dumped with
            # exclude_unset then re-validated with another tdp_w would keep this host maximum
            sv = sv.model_construct(_fields_set=set(given), **{**dict(sv), "non_gpu_max_w": host})
            object.__setattr__(self, "server", sv)  # frozen spec: set once, inside its own validation
        full = (sv.gpus_per_node * self.tdp_w + sv.non_gpu_max_w) / sv.psu_efficiency
        if full > sv.server_max_w * (1 + 1e-9):
            # a server cannot draw more than its maximum system power: every GPU at its board limit and the host at
            # its maximum is the most the model lets it draw (the catalog's servers draw 0.912 x theirs, docs/node.md);
            # checked for the default server_max_w too (the DGX H100's): a default must fit the GPU it serves
            srv = "" if "server_max_w" in given else "the default (the DGX H100's) "
            raise FieldError("server.server_max_w", f"{srv}{sv.server_max_w:g} W is below the server's full-load draw "
                             f"{full:.0f} W = ({sv.gpus_per_node} x tdp_w {self.tdp_w:g} W + non_gpu_max_w "
                             f"{sv.non_gpu_max_w:g} W) / psu_efficiency {sv.psu_efficiency:g}: set server_max_w to "
                             "the vendor's maximum system power or lower non_gpu_max_w")
        if not self.power_limit_min_w > self.idle_w:
            # a board cannot hold a working GPU below what it draws with no work: every power_cap is clipped up to
            # power_limit_min_w, so this keeps every limit above idle (H100: 200 W settable vs 72 W idle [SMI])
            raise FieldError("power_limit_min_w", f"{self.power_limit_min_w:g} W must be > idle_w ({self.idle_w:g} W): "
                             "a power limit at or below idle power cannot be met by a GPU doing any work")
        return self


class ModelSpec(Spec):
    """A transformer's shape: enough to derive FLOPs/token, weight bytes and KV bytes/token."""

    name: str = "custom-model"
    # le=1e14: 100x the largest published models (~1e12 parameters); 1e300 only overflows the FLOP counts
    params: float = Field(gt=0, le=1e14, description="total parameters")
    active_params: float | None = Field(None, gt=0, le=1e14, description="parameters used per token (default: params)")
    layers: int = Field(gt=0)
    hidden: int = Field(gt=0)
    heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    kv_elems_per_layer: int | None = Field(None, gt=0, description="cached elements/token/layer (default 2*kv_heads*head_dim)")
    attention: Literal["gqa", "mla"] = Field(
        "gqa", description="gqa: grouped-query (or multi-head) attention, the KV cache split by KV head over the "
                           "tensor-parallel GPUs (replicated where the GPUs outnumber the KV heads); mla: multi-head "
                           "latent attention (DeepSeek), one latent of kv_elems_per_layer per token and layer that "
                           "every tensor-parallel GPU holds whole (vLLM)")
    n_experts: int = Field(0, ge=0)
    experts_per_token: int = Field(0, ge=0)
    expert_params: float = Field(0.0, ge=0, description="parameters in routed experts (MoE)")
    moe_layers: int | None = Field(None, gt=0, description="layers with routed experts (MoE; default: every layer)")
    quantized: Literal["all", "experts"] = Field(
        "all", description="what a quantised checkpoint (fp8, int4) stores in that precision: every linear layer, or "
                           "only the routed experts (attention, shared expert, router and dense layers stay BF16)")
    fp8_scaling: Literal["channel", "block"] | None = Field(
        None, description="how the model's FP8 checkpoint scales its weights: channel (one scale per output channel, "
                          "per-token activation scales: Meta's fbgemm FP8 releases) or block (128 x 128 weight blocks "
                          "and per-token-group activation scales: quantization_config.weight_block_size, DeepSeek-V3 "
                          "and Qwen3 FP8); None: not known. A pooled calibration leaves a block-scaled checkpoint's "
                          "J/token to its own profiles (dcsim.node.calibrate.energy_is_own)")
    sliding_window: int | None = Field(
        None, gt=0, description="tokens a sliding-window (local) attention layer attends to and caches (Gemma 3: 1024)")
    local_layers: int = Field(0, ge=0, description="layers with sliding-window attention; the others attend to the "
                                                   "whole context (Gemma 3: 5 of every 6)")
    max_context: int | None = Field(
        None, gt=0, description="the model's context window, prompt + answer in tokens (config.json "
                                "max_position_embeddings, the max_model_len vLLM serves it with by default); None: no "
                                "window known, the check is skipped (docs/workload.md, Context window)")
    hf_id: str = ""
    source: str = ""

    @model_validator(mode="after")
    def _params_are_a_count(self):
        # `params: 70` (billions meant) was accepted and every FLOP/token and ceiling followed it (audit C, A7).
        # A floor that needs no shape: 1e6 parameters is far below any LLM (the smallest served models have
        # ~1e8); and a shape check: the attention projections alone (Q, K, V, O: layers x hidden x head_dim x
        # 2(heads + kv_heads)) are weights of the model, so params cannot be below them. Every catalog model has
        # 3x (bloom-176b) to 130x more; MLA's low-rank projections are smaller than this formula, so the shape
        # check is for gqa only.
        attn = self.layers * self.hidden * self.head_dim * 2 * (self.heads + self.kv_heads)
        small = self.params < 1e6 or (self.attention == "gqa" and self.params < attn)
        if small:
            guess = f"; did you mean {self.params:g}e9 ({self.params:g} billion)?" if self.params < 1e6 else ""
            raise FieldError("params", f"{self.params:g} is a total parameter count, and it is below the "
                             f"attention projections of this shape alone (layers x hidden x head_dim x 2(heads + "
                             f"kv_heads) = {attn:.3g}){guess}")
        if self.active_params is not None and self.active_params < 1e6:
            raise FieldError("active_params", f"{self.active_params:g} is a parameter count; did you mean "
                             f"{self.active_params:g}e9 ({self.active_params:g} billion)?")
        return self

    @model_validator(mode="after")
    def _moe(self):
        if self.n_experts and not (0 < self.experts_per_token <= self.n_experts):
            raise FieldError("experts_per_token", "must be in 1..n_experts for an MoE model")
        if self.moe_layers is not None and (not self.n_experts or self.moe_layers > self.layers):
            raise FieldError("moe_layers", "needs n_experts and must be <= layers")
        if self.quantized == "experts" and not self.n_experts:
            raise FieldError("quantized", "experts needs an MoE model (n_experts > 0)")
        if self.expert_params > self.params:
            raise FieldError("expert_params", "must be <= params")
        if self.active_params is not None and self.active_params > self.params:
            raise FieldError("active_params", "must be <= params")
        if self.local_layers > self.layers:
            raise FieldError("local_layers", f"{self.local_layers} must be <= layers ({self.layers})")
        if self.local_layers and self.sliding_window is None:
            raise FieldError("local_layers", "needs sliding_window (the tokens a local layer attends to)")
        if self.attention == "mla" and self.kv_elems_per_layer is None:
            raise FieldError("attention", "mla needs kv_elems_per_layer (the latent's elements per token and layer)")
        return self


class SpeculativeSpec(Spec):
    """Speculative / multi-token decoding: each verification step runs ``draft_tokens + 1``
    positions per sequence and emits ``tokens_per_step`` tokens on average (given directly, or
    from the acceptance rate a: (1 - a^(k+1)) / (1 - a), Leviathan et al. 2023)."""

    draft_tokens: int = Field(ge=1, le=64)
    acceptance: float | None = Field(None, ge=0, lt=1)
    tokens_per_step: float | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _one(self):
        if (self.acceptance is None) == (self.tokens_per_step is None):
            raise FieldError("acceptance", "give exactly one of acceptance or tokens_per_step")
        if self.tokens_per_step is not None and self.tokens_per_step > self.draft_tokens + 1:
            raise FieldError("tokens_per_step", f"{self.tokens_per_step} cannot exceed draft_tokens + 1")
        return self


class LeverSpec(Spec):
    """Energy-to-token levers; each acts on FLOPs/token and/or bytes/token in the physics.

    ``preset`` names one or more shipped presets (``dcsim.node.levers.PRESETS``); fields set
    explicitly here override the presets.
    """

    preset: str | list[str] | None = None
    kv_precision: Precision | None = None
    # le=1000: published KV-cache compression reaches tens of x (quantisation x eviction); 1000 bounds a slip, and
    # `.inf` divided by zero deep in the node model (audit C, C1)
    kv_compression: float = Field(1.0, ge=1.0, le=1000.0, description="KV-cache size ratio (uncompressed/compressed)")
    kv_latent: bool = Field(False, description="the compressed cache is one latent per token and layer that every "
                                               "tensor-parallel GPU holds whole, as multi-head latent attention "
                                               "served tensor-parallel does (vLLM): a replica of tp GPUs holds tp copies")
    sparse_attention: quantity("fraction", gt=0, le=1) = 1.0
    speculative: SpeculativeSpec | None = None
    layer_skip: quantity("fraction", gt=0, le=1) = 1.0


def default_server_warning(gpu: GpuSpec) -> str | None:
    """A warning for an inline GPU on the default server (no ``server.server_max_w``) whose ``tdp_w`` is not the
    DGX H100's 700 W the default is sized for: its host maximum is derived from a chassis built for other boards (a
    900 W board: 8 x 900 W leave a 1,542 W host where the catalog's B200 server has 4,256 W), so its wall power is
    not any real server's. None otherwise (a catalog GPU, a server_max_w given, a 700 W board)."""
    sv = gpu.server
    if "server_max_w" in sv.model_fields_set or gpu.tdp_w == DEFAULT_SERVER_TDP_W:
        return None
    derived = "non_gpu_max_w" not in sv.model_fields_set
    host = (f"its host maximum is derived as {sv.non_gpu_max_w:,.0f} W" if derived
            else f"with non_gpu_max_w {sv.non_gpu_max_w:,.0f} W")
    return (f"the GPU {gpu.name!r} ({gpu.tdp_w:g} W) runs on the default server, the DGX H100's "
            f"({sv.server_max_w:,.0f} W for {sv.gpus_per_node} x {DEFAULT_SERVER_TDP_W:g} W boards): {host}, not any "
            "real server's; give its server block with the vendor's maximum system power (server.server_max_w), or "
            "name the catalog GPU it copies (gpu: B200, MI300X; dcsim/data/gpus.yaml), whose server is sourced")


class NodeSpec(Spec):
    """A GPU server running replicas of one model (``tensor_parallel`` GPUs per replica)."""

    gpu: str | GpuSpec = "H100-SXM"
    model: str | ModelSpec = "llama-3.1-70b"
    precision: Precision = "bf16"
    gpus_per_node: int | None = Field(None, ge=1)
    tensor_parallel: int | None = Field(None, ge=1)
    profile: str | None = None
    max_batch: int = Field(256, ge=1, description="most sequences a replica runs at once; assumption (vLLM V0 "
                           "EngineArgs default max_num_seqs 256; V1 on >= 70 GiB non-A100 GPUs uses 1024, "
                           "vllm/engine/arg_utils.py, EngineArgs.get_batch_defaults)")
    max_batched_tokens: int = Field(8192, ge=1, description="token budget of an iteration; source: vLLM V1's "
                                    "max_num_batched_tokens default 8192 for the OpenAI API server on GPUs with "
                                    ">= 70 GiB whose name lacks 'a100' (H100, MI300X); A100: 2048 in vLLM V1 "
                                    "(vllm/engine/arg_utils.py, EngineArgs._set_default_args/get_batch_defaults)")
    power_cap: quantity("power", gt=0) | None = None
    # MoE models: routed experts spread whole over the replica's GPUs (vLLM --enable-expert-parallel),
    # rather than each sharded over them; None: the layout the calibration was measured with (sharded
    # when there is none)
    expert_parallel: bool | None = None
    #: vLLM's ``--max-model-len`` for this rack group's replicas: the context window (prompt + answer, tokens) they
    #: serve, at most the model's ``max_context`` (vLLM refuses a larger one: "User-specified max_model_len (...) is
    #: greater than the derived max_model_len (max_position_embeddings=...)", ModelConfig's _get_and_verify_max_len,
    #: unless VLLM_ALLOW_LONG_MAX_MODEL_LEN is set); None: the model's window, vLLM's default
    max_model_len: int | None = Field(
        None, gt=0, description="the context window this rack group's replicas serve, prompt + answer in tokens "
                                "(vLLM --max-model-len); at most the model's max_context; None: the model's window "
                                "(docs/workload.md, Context window)")
    levers: LeverSpec = LeverSpec()

    @model_validator(mode="after")
    def _tp(self):
        if self.tensor_parallel is not None and self.gpus_per_node is not None:
            if self.tensor_parallel > self.gpus_per_node:
                raise FieldError("tensor_parallel", f"{self.tensor_parallel} > gpus_per_node ({self.gpus_per_node})")
        return self
