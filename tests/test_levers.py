"""Energy-to-token levers act through FLOPs/token and bytes/token, in the right direction."""

from __future__ import annotations

import numpy as np
import pytest

from dcsim.node import PRESETS, build_node
from dcsim.node.levers import resolve_levers, tokens_per_step
from dcsim.scenario.node import LeverSpec, NodeSpec, SpeculativeSpec

IN, OUT = 634.0, 380.0
B = np.array([8.0, 64.0, 256.0])


def node(**lev):
    return build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", levers=LeverSpec(**lev)))


@pytest.fixture(scope="module")
def base():
    return node()


def test_kv_precision_halves_kv_bytes_raises_capacity_and_cuts_long_context_energy(base):
    fp8 = node(kv_precision="fp8")
    assert fp8.derived.kv_bytes_per_token == pytest.approx(base.derived.kv_bytes_per_token / 2)
    assert fp8.kv_capacity_tokens == pytest.approx(2 * base.kv_capacity_tokens)
    assert fp8.derived.flops_per_position == base.derived.flops_per_position
    # long-context decode is KV-read heavy: less time and less J/token
    t_b = base.steady_state(B, 8000.0, OUT).iter_time_s
    t_f = fp8.steady_state(B, 8000.0, OUT).iter_time_s
    assert np.all(t_f < t_b)
    assert np.all(fp8.energy_per_output_token(B, 8000.0, OUT) < base.energy_per_output_token(B, 8000.0, OUT))


def test_kv_compression_mla_preset_raises_capacity_by_published_ratio(base):
    """DeepSeek-V2's 93.3 % cut (x14.9) is the whole cache's; served tensor-parallel every GPU holds the latent
    whole, so Llama-3.1-70B on 4 GPUs (8 KV heads split, one copy) gains 14.9 / 4, and on one GPU 14.9."""
    mla = node(preset="mla-latent-kv")
    assert base.gpus_per_replica == 4
    assert base.kv_capacity_tokens * 14.9 / 4 == pytest.approx(mla.kv_capacity_tokens, rel=0.01)
    whole = node(preset="mla-latent-kv", kv_latent=False)  # a compression the GPUs split like the KV heads
    assert base.kv_capacity_tokens * 14.9 == pytest.approx(whole.kv_capacity_tokens, rel=0.01)
    one = [build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-8b", tensor_parallel=1, levers=LeverSpec(**lv)))
           for lv in ({}, {"preset": "mla-latent-kv"})]
    assert one[0].kv_capacity_tokens * 14.9 == pytest.approx(one[1].kv_capacity_tokens, rel=0.01)
    assert np.all(mla.steady_state(B, 8000.0, OUT).throughput_tok_s > base.steady_state(B, 8000.0, OUT).throughput_tok_s)
    assert float(mla.max_throughput(8000.0, OUT)) > float(base.max_throughput(8000.0, OUT))


def test_sparse_attention_cuts_kv_reads_and_attention_flops(base):
    sp = node(sparse_attention=0.25)
    f_b = float(base.flops_per_output_token(32000.0, OUT))
    f_s = float(sp.flops_per_output_token(32000.0, OUT))
    assert f_s < f_b
    assert sp.derived.kv_read_per_ctx == pytest.approx(0.25 * base.derived.kv_read_per_ctx)
    assert sp.kv_capacity_tokens == base.kv_capacity_tokens  # cache still stored
    step_b, step_s = base.step_fn(), sp.step_fn()
    assert step_s(0, 32, 32 * 32000.0)[0] < step_b(0, 32, 32 * 32000.0)[0]


def test_speculative_more_flops_per_token_but_faster_memory_bound_decode(base):
    spec = node(speculative=SpeculativeSpec(draft_tokens=3, acceptance=0.7))
    e = (1 - 0.7 ** 4) / 0.3
    assert spec.tokens_per_step == pytest.approx(e)
    # FLOPs per output token rise by (k+1)/E on the decode part
    assert float(spec.flops_per_output_token(0.0, OUT)) > float(base.flops_per_output_token(0.0, OUT))
    # small batch is memory-bound: weights read once per E tokens -> more tokens/s, fewer J/token
    s_b, s_s = base.steady_state(8.0, IN, OUT), spec.steady_state(8.0, IN, OUT)
    assert float(s_s.throughput_tok_s) > 1.5 * float(s_b.throughput_tok_s)
    assert float(spec.energy_per_output_token(8.0, IN, OUT)) < float(base.energy_per_output_token(8.0, IN, OUT))
    # at a saturated batch the extra verification FLOPs cost more than they save
    assert float(spec.steady_state(512.0, IN, OUT).throughput_tok_s) < float(base.steady_state(512.0, IN, OUT).throughput_tok_s) * e


def test_mtp_presets_encode_published_speedups():
    assert tokens_per_step(SpeculativeSpec(**PRESETS["mtp-chat"]["speculative"])) == 2.5
    assert tokens_per_step(SpeculativeSpec(**PRESETS["mtp-code-math"]["speculative"])) == 5.0
    # each preset names its source: a tag of docs/sources.md whose entry gives an address or a publication, else a
    # paper by its arXiv number, or a definition (fp8-kv: 1 byte against 2); until session 53 any text passed
    import re
    from conftest import CITED_TAG, citation_problems
    for name, p in PRESETS.items():
        assert p["figure"], name
        src = p["source"]
        assert re.search(CITED_TAG, src) or re.search(r"arXiv \d{4}\.\d{4,5}", src) or src.startswith("definition"), \
            (name, src)
        assert not citation_problems(src, f"preset {name}"), citation_problems(src, f"preset {name}")


def test_layer_skip_scales_linear_flops_and_weight_bytes(base):
    sk = node(preset="skipdecode-2x")
    assert sk.derived.flops_per_position == pytest.approx(0.5 * base.derived.flops_per_position)
    assert sk.derived.dense_weight_bytes == pytest.approx(0.5 * base.derived.dense_weight_bytes)
    assert np.all(sk.steady_state(B, IN, OUT).throughput_tok_s > base.steady_state(B, IN, OUT).throughput_tok_s)


def test_weight_precision_fp8_and_int4_reduce_weight_bytes_and_decode_time():
    b16 = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", precision="bf16", tensor_parallel=4))
    f8 = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", precision="fp8", tensor_parallel=4, profile=b16.profile["name"]))
    i4 = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", precision="int4", tensor_parallel=4, profile=b16.profile["name"]))
    assert f8.derived.weight_bytes_total == pytest.approx(b16.derived.weight_bytes_total / 2)
    assert i4.derived.weight_bytes_total == pytest.approx(b16.derived.weight_bytes_total / 4)
    t = [n.step_fn()(0, 8, 8000.0)[0] for n in (b16, f8, i4)]
    assert t[0] > t[1] > t[2]
    # fp8 uses the FP8 tensor-core peak: a prefill chunk is faster too; int4 (W4A16) is not
    p = [n.step_fn()(8192, 0, 0.0)[0] for n in (b16, f8, i4)]
    assert p[1] < p[0] and p[2] == pytest.approx(p[0], rel=0.1)


def test_presets_merge_and_explicit_fields_win():
    lv = resolve_levers(LeverSpec(preset=["mla-latent-kv", "fp8-kv"], kv_compression=2.0))
    assert lv.kv_compression == 2.0 and lv.kv_bytes_per_elem == 1.0
    with pytest.raises(ValueError, match="unknown lever preset"):
        resolve_levers(LeverSpec(preset="warp-drive"))
    with pytest.raises(ValueError):
        SpeculativeSpec(draft_tokens=2, tokens_per_step=5.0)
