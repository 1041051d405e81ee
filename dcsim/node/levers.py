"""Energy-to-token levers: named presets with their published figures, and their resolution
into the per-token physics quantities used by :mod:`dcsim.node.perf`.

A lever never multiplies a result. Each one changes FLOPs/token, bytes/token or tokens per
forward pass, and tokens/s, W and J/token follow from the roofline and the power model:

- ``kv_precision``: bytes per cached KV element (bf16 2, fp8 1, int4 0.5) -> KV bytes read, KV capacity.
- ``kv_compression`` r: cached bytes per token / r (e.g. latent KV) -> KV bytes read, KV capacity; with
  ``kv_latent`` the compressed cache is a latent every tensor-parallel GPU holds whole (``perf.kv_copies``).
- ``sparse_attention`` s: fraction of the context each decode position reads -> KV bytes and attention FLOPs x s.
- ``speculative`` (k draft positions, E tokens emitted per step): each verification step runs
  k+1 positions per sequence (FLOPs and KV writes x (k+1)) but reads the weights and KV once,
  and emits E tokens.
- ``layer_skip`` f: fraction of layers run per decode token -> linear FLOPs, weight bytes, KV bytes x f.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from dcsim.scenario.node import LeverSpec, SpeculativeSpec

BYTES_PER_ELEM = MappingProxyType({"bf16": 2.0, "fp8": 1.0, "int4": 0.5})

# Named presets. Each entry: LeverSpec fields + the published figure it encodes + source.
PRESETS = MappingProxyType({
    "mtp-chat": MappingProxyType({
        "speculative": {"draft_tokens": 8, "tokens_per_step": 2.5},
        "figure": "almost 2.5x faster general chat and knowledge tasks, no quality loss",
        "source": "Samragh et al. (Apple), 'Your LLM Knows the Future: Uncovering Its Multi-Token "
                  "Prediction Potential', arXiv 2507.11851 (2025), abstract. Encoded as 2.5 tokens per "
                  "verified step with 8 masked future positions (interpretation: speed-up = tokens/step).",
    }),
    "mtp-code-math": MappingProxyType({
        "speculative": {"draft_tokens": 8, "tokens_per_step": 5.0},
        "figure": "code and math generated nearly 5x faster",
        "source": "Samragh et al., arXiv 2507.11851 (2025), abstract; same encoding as mtp-chat.",
    }),
    "skipdecode-2x": MappingProxyType({
        "layer_skip": 0.5,
        "figure": "SkipDecode 2x-5x inference speed-up with batching and KV caching (OPT 1.3B/6.7B)",
        "source": "Del Corro et al., 'SkipDecode', arXiv 2307.02628 (2023), abstract; 2x target = half the layers per token.",
    }),
    "skipdecode-5x": MappingProxyType({
        "layer_skip": 0.2,
        "figure": "SkipDecode up to 5x speed-up",
        "source": "Del Corro et al., arXiv 2307.02628 (2023), abstract; 5x target = one fifth of the layers per token.",
    }),
    "mla-latent-kv": MappingProxyType({
        "kv_compression": 1.0 / (1.0 - 0.933),
        "kv_latent": True,
        "figure": "MLA reduces the KV cache by 93.3% vs DeepSeek 67B (and raises max generation throughput 5.76x)",
        "source": "DeepSeek-AI, 'DeepSeek-V2', arXiv 2405.04434 (2024), abstract. Ratio 1/(1-0.933) = 14.9 for "
                  "the whole cache; served tensor-parallel every GPU holds the latent whole (vLLM "
                  "ModelConfig.get_num_kv_heads: MLA counts one KV head), so a replica of tp GPUs holds tp copies.",
    }),
    "fp8-kv": MappingProxyType({
        "kv_precision": "fp8",
        "figure": "FP8 KV cache: half the bytes of BF16 per cached element",
        "source": "definition (1 byte vs 2 bytes per element); vLLM kv_cache_dtype=fp8.",
    }),
    "int4-kv": MappingProxyType({
        "kv_precision": "int4",
        "figure": "4-bit KV cache: a quarter of the BF16 bytes",
        "source": "definition (0.5 byte per element).",
    }),
})
_LEVER_FIELDS = ("kv_precision", "kv_compression", "kv_latent", "sparse_attention", "speculative", "layer_skip")


@dataclass(frozen=True)
class Levers:
    """Resolved levers (plain floats). ``positions`` = forward positions per decode sequence per
    step; ``tokens_per_step`` = tokens emitted per decode sequence per step."""

    kv_bytes_per_elem: float
    kv_compression: float
    sparse_attention: float
    positions: float
    tokens_per_step: float
    layer_frac: float
    kv_latent: bool = False  # the compressed cache is a latent every tensor-parallel GPU holds whole


def merged_lever_fields(spec: LeverSpec) -> dict:
    """Preset values overlaid by the fields set explicitly in ``spec`` (explicit wins)."""
    names = [] if spec.preset is None else ([spec.preset] if isinstance(spec.preset, str) else list(spec.preset))
    out: dict = {}
    for n in names:
        if n not in PRESETS:
            raise ValueError(f"unknown lever preset {n!r}; known: {', '.join(sorted(PRESETS))}")
        out.update({k: v for k, v in PRESETS[n].items() if k in _LEVER_FIELDS})
    for k in _LEVER_FIELDS:
        if k in spec.model_fields_set:
            out[k] = getattr(spec, k)
    return out


def tokens_per_step(spec: SpeculativeSpec) -> float:
    """Expected tokens emitted per verification step (Leviathan et al. 2023, eq. 1)."""
    if spec.tokens_per_step is not None:
        return float(spec.tokens_per_step)
    a, k = spec.acceptance, spec.draft_tokens
    return (1.0 - a ** (k + 1)) / (1.0 - a)


def resolve_levers(spec: LeverSpec, weight_precision: str = "bf16") -> Levers:
    """Turn a :class:`LeverSpec` (presets + overrides) into the numbers the physics uses.

    The KV cache defaults to BF16 (vLLM ``kv_cache_dtype=auto`` keeps activations in 16 bit
    even for FP8/int4 weights), unless ``kv_precision`` says otherwise.
    """
    f = merged_lever_fields(spec)
    kvp = f.get("kv_precision") or "bf16"
    spec_dec = f.get("speculative")
    if isinstance(spec_dec, dict):
        spec_dec = SpeculativeSpec(**spec_dec)
    if spec_dec is None:
        pos, tps = 1.0, 1.0
    else:
        pos, tps = float(spec_dec.draft_tokens + 1), tokens_per_step(spec_dec)
    return Levers(
        kv_bytes_per_elem=BYTES_PER_ELEM[kvp],
        kv_compression=float(f.get("kv_compression", 1.0)),
        sparse_attention=float(f.get("sparse_attention", 1.0)),
        positions=pos,
        tokens_per_step=tps,
        layer_frac=float(f.get("layer_skip", 1.0)),
        kv_latent=bool(f.get("kv_latent", False)),
    )


#: the lever each resolved field comes from (for saying which levers a node runs with)
_LEVER_OF_FIELD = {"kv_bytes_per_elem": "kv_precision", "kv_compression": "kv_compression",
                   "sparse_attention": "sparse_attention", "positions": "speculative",
                   "tokens_per_step": "speculative", "layer_frac": "layer_skip", "kv_latent": "kv_compression"}


def active_levers(lv: Levers) -> list[str]:
    """The levers whose resolved numbers differ from serving without levers (BF16 KV, no
    speculation, no compression, sparsity or layer skipping), in a fixed order, without repeats."""
    base = resolve_levers(LeverSpec())
    out: list[str] = []
    for f, name in _LEVER_OF_FIELD.items():
        if getattr(lv, f) != getattr(base, f) and name not in out:
            out.append(name)
    return out
