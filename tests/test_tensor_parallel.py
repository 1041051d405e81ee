"""How a model splits over its tensor-parallel GPUs, as the serving engine does it: the heads must divide, a KV
head is replicated where the GPUs outnumber the KV heads (and a latent-attention cache held whole by every GPU),
and the GPUs of a server that no replica uses still draw power (dcsim.node.perf.tensor_parallel_problem,
kv_copies; dcsim.node.power.wall_power); the report and the summary say what then caps a replica's batch."""

from __future__ import annotations

import pytest

import dcsim
from conftest import small_scenario
from dcsim.node.catalog import model_catalog, resolve_gpu, resolve_model
from dcsim.node.levers import resolve_levers
from dcsim.node.model import build_node, kv_free_bytes
from dcsim.node.perf import derive, kv_copies, tensor_parallel_problem
from dcsim.node.power import host_power
from dcsim.scenario import ScenarioError
from dcsim.scenario.node import LeverSpec, ModelSpec, NodeSpec


def _shards(model, tp):
    """Query heads and KV heads per GPU by vLLM's QKVParallelLinear rule (None where it refuses the split)."""
    if model.heads % tp:
        return None
    kv = model.kv_heads
    if tp >= kv:
        return (model.heads // tp, 1) if tp % kv == 0 else None
    return (model.heads // tp, kv // tp) if kv % tp == 0 else None


@pytest.mark.parametrize("name", sorted(n for n, m in model_catalog().items() if m.attention == "gqa"))
def test_the_split_is_the_serving_engines(name):
    """Every catalog model at every tensor-parallel degree of an 8-GPU server: refused exactly where vLLM's
    head split is not whole, and the KV cache stored and read ``tp x (KV heads per GPU) / kv_heads`` times."""
    m = resolve_model(name)
    for tp in range(1, 9):
        shards = _shards(m, tp)
        assert (tensor_parallel_problem(m, tp) is None) == (shards is not None), tp
        if shards is not None:
            assert kv_copies(m, tp) == tp * shards[1] / m.kv_heads


def test_replicated_kv_heads_cost_capacity_and_reads():
    """Qwen3-235B has 4 KV heads: on 8 GPUs each holds one, every KV head twice over: the replica's KV bytes
    per token (capacity and reads) double from TP4 to TP8; a model with 8 KV heads keeps them."""
    lv = resolve_levers(LeverSpec(), "bf16")
    q = resolve_model("qwen3-235b-a22b")
    d4, d8 = derive(q, "bf16", lv, tp=4), derive(q, "bf16", lv, tp=8)
    assert d8.kv_bytes_per_token == pytest.approx(2 * d4.kv_bytes_per_token)
    assert d8.kv_read_per_ctx == pytest.approx(2 * d4.kv_read_per_ctx)
    assert d4.kv_bytes_per_token == pytest.approx(94 * 2 * 4 * 128 * 2)  # layers x (K, V) x heads x dim x bf16
    ll = resolve_model("llama-3.1-70b")
    assert derive(ll, "bf16", lv, tp=8).kv_bytes_per_token == derive(ll, "bf16", lv, tp=1).kv_bytes_per_token
    node = build_node(NodeSpec(gpu="B200", model="qwen3-235b-a22b", tensor_parallel=8))
    assert node.kv_capacity_tokens == pytest.approx(kv_free_bytes(node.gpu, 8, d8) / d8.kv_bytes_per_token)


def test_latent_attention_is_held_whole_by_every_gpu():
    """DeepSeek's MLA latent (576 elements per token and layer) is one cache entry: each GPU of a TP8 replica
    holds all of it, so the replica stores and reads it 8 times."""
    ds = resolve_model("deepseek-v3")
    lv = resolve_levers(LeverSpec(), "fp8")
    assert ds.attention == "mla" and kv_copies(ds, 8) == 8
    assert derive(ds, "fp8", lv, tp=8).kv_bytes_per_token == pytest.approx(8 * 61 * 576 * lv.kv_bytes_per_elem)


def test_a_split_the_engine_refuses_is_an_error_naming_the_field():
    sc = small_scenario(duration="1 h")
    sc["racks"][0]["node"]["tensor_parallel"] = 3
    with pytest.raises(ScenarioError, match=r"racks\[0\]\.node.*64 attention heads do not split evenly over "
                                            r"tensor_parallel 3; .*tensor_parallel 1, 2, 4 or 8 on a server of 8"):
        dcsim.run(sc)
    sc["racks"][0]["node"].update({"model": "qwen3-14b", "tensor_parallel": 5})  # 40 heads split, 8 KV heads not
    with pytest.raises(ScenarioError, match="8 KV heads do not split over tensor_parallel 5"):
        dcsim.run(sc)
    with pytest.raises(ValueError, match="attention: mla needs kv_elems_per_layer"):
        ModelSpec(**{**resolve_model("llama-3.1-8b").model_dump(), "attention": "mla", "kv_elems_per_layer": None})


def test_gpus_no_replica_uses_still_draw_power():
    """BLOOM-176B (112 heads) on 7 of a DGX A100's 8 GPUs: the eighth idles, powered; the one replica carries
    it and the whole host, so the server's wall power is that of 8 GPUs and its host, as with TP8."""
    gpu = resolve_gpu("A100-SXM4-80GB")
    n7 = build_node(NodeSpec(gpu="A100-SXM4-80GB", model="bloom-176b", tensor_parallel=7))
    assert n7.replicas_per_node == 1
    for per_gpu in (gpu.idle_w, 250.0, gpu.tdp_w):
        wall = float(n7.wall_power(7 * per_gpu))
        expect = (7 * per_gpu + gpu.idle_w + float(host_power(gpu, per_gpu))) / gpu.server.psu_efficiency
        assert wall == pytest.approx(expect)
    n8 = build_node(NodeSpec(gpu="A100-SXM4-80GB", model="bloom-176b", tensor_parallel=8))
    assert float(n7.idle_wall_power_w) == pytest.approx(float(n8.idle_wall_power_w))


def test_a_scenario_with_unused_gpus_says_so():
    sc = small_scenario(duration="1 h")
    sc["racks"][0]["node"].update({"gpu": "A100-SXM4-80GB", "model": "bloom-176b", "tensor_parallel": 7})
    res = dcsim.run(sc)
    assert any("tensor_parallel 7 leaves 1 of the 8 GPUs of each server unused" in w for w in res.record.warnings)


def test_the_report_says_what_caps_a_replicas_batch():
    """Each pool group reports its replicas' KV capacity, the batch they reach at full load and which limit sets
    it: the serving engine's sequence limit, the KV cache at the pool's context, or the per-iteration token
    budget (dcsim.node.model.NodeModel.batch_limiter)."""
    q = build_node(NodeSpec(gpu="H100-SXM", model="qwen3-235b-a22b", tensor_parallel=8, max_batch=256))
    assert q.batch_limiter(600.0, 5000.0, 5000.0) == "kv_cache"  # reasoning contexts: 2 KV copies on 8 GPUs
    assert float(q.batch_limit(600.0, 5000.0, 5000.0)) == pytest.approx(q.kv_capacity_tokens / 5000.0)
    s = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-8b", tensor_parallel=1, max_batch=256))
    assert s.batch_limiter(634.0, 389.0) == "max_batch"
    big = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-8b", tensor_parallel=1, max_batch=4096))
    assert big.batch_limiter(2000.0, 10.0) == "token_budget"  # 8,192 tokens per iteration, 201 per sequence
    res = dcsim.run(small_scenario(duration="1 h"))
    g = res.record.pools[0]["groups"][0]
    node = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", tensor_parallel=4, max_batch=256))
    assert g["kv_capacity_tokens"] == pytest.approx(node.kv_capacity_tokens)
    assert g["batch_limited_by"] == "max_batch" and g["batch_at_full_load"] == 256  # chat fits 256 sequences


def test_the_summary_says_when_a_replica_cannot_reach_max_batch():
    """The summary names a group whose replicas stay below max_batch at full load and what holds them: the KV
    cache (Llama-3.1-70B on 2 H100s keeps 3 GB of 160 GB for it) or the token budget (2,000-token prompts for
    10-token answers: 201 positions per sequence in 8,192 per iteration); nothing when max_batch is reached."""
    from dcsim.report.summary import summary_table
    base = small_scenario(duration="1 h")
    assert "Replica batch" not in summary_table(dcsim.run(base).report)
    kv = small_scenario(duration="1 h")
    kv["racks"][0]["node"]["tensor_parallel"] = 2
    res_kv = dcsim.run(kv)
    text = summary_table(res_kv.report)
    assert "Replica batch" in text and "of max_batch 256 at full load: the KV cache holds" in text
    from dcsim.report.html import render_html
    assert "Replica batch</td>" in render_html(res_kv, {})
    tb = small_scenario(duration="1 h")
    tb["racks"][0]["node"].update({"model": "llama-3.1-8b", "tensor_parallel": 1, "max_batch": 4096})
    tb["workload"]["classes"] = [{"name": "x", "share": 1.0, "slo_ttft": "2 s", "slo_tpot": "100 ms",
                                  "input": {"kind": "fixed", "value": 2000}, "output": {"kind": "fixed", "value": 10}}]
    res = dcsim.run(tb)
    g = res.report["pools"][0]["groups"][0]
    assert g["batch_limited_by"] == "token_budget" and g["batch_at_full_load"] == pytest.approx(8192 / 201, abs=0.05)  # rounded to 0.1
    assert "40.8 of max_batch 4,096 at full load: 8,192 tokens per iteration" in summary_table(res.report)
