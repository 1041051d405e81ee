"""Sliding-window attention (Gemma 3: 5 of 6 layers attend to 1,024 tokens) in the node model.

A local layer attends to, and reads the KV cache of, at most ``sliding_window`` tokens; the step
charges the attended context (:func:`dcsim.node.perf.attended_context`, mean field). Checked here:
the closed form of the bytes and FLOPs saved, no effect while every context fits the window, the
step function against the roofline of :mod:`dcsim.node.perf`, the input validation, and the
shipped Gemma 3 calibrations against ML.ENERGY's rows (the window shows in the data).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pydantic import ValidationError

from dcsim.node import build_node, model_catalog
from dcsim.node.calibrate import read_rows
from dcsim.node.catalog import DATA_DIR
from dcsim.node.perf import attended_context, iteration_bytes, iteration_flops, iteration_time
from dcsim.node.step import STEP_FIELDS, iteration_step, step_params
from dcsim.scenario.node import ModelSpec, NodeSpec


@pytest.fixture(scope="module")
def gemma():
    return build_node(NodeSpec(gpu="H100-SXM", model="gemma-3-27b", tensor_parallel=2))


def _no_window(d):
    return dataclasses.replace(d, window=0.0)


def test_catalog_gemma_layers_follow_the_five_to_one_pattern():
    for name, layers, local in (("gemma-3-12b", 48, 40), ("gemma-3-27b", 62, 52)):
        m = model_catalog()[name]
        assert (m.layers, m.local_layers, m.sliding_window) == (layers, local, 1024)
        assert m.layers - m.local_layers == layers // 6  # every 6th layer global


def test_kv_bytes_and_attention_flops_saved_match_the_closed_form(gemma):
    d = gemma.derived
    assert d.window == 1024.0 and d.local_frac == pytest.approx(52 / 62)
    n = np.array([1.0, 8.0, 64.0, 256.0])
    for mean_ctx in (300.0, 1024.0, 1500.0, 8000.0):
        ctx = n * mean_ctx
        saved = d.local_frac * n * max(mean_ctx - 1024.0, 0.0)  # local layers read min(ctx, W)
        np.testing.assert_allclose(attended_context(d, ctx, n), ctx - saved, rtol=1e-12)
        db = iteration_bytes(_no_window(d), 0.0, n, ctx) - iteration_bytes(d, 0.0, n, ctx)
        np.testing.assert_allclose(db, saved * d.kv_read_per_ctx, rtol=1e-9, atol=1e-3)
        df = iteration_flops(_no_window(d), 0.0, n, ctx, 0.0) - iteration_flops(d, 0.0, n, ctx, 0.0)
        np.testing.assert_allclose(df, saved * d.attn_flops_per_ctx * d.positions * d.sparse, rtol=1e-9, atol=1e-3)


def test_no_effect_while_every_context_fits_the_window_and_faster_beyond(gemma):
    d = gemma.derived
    gpu, tp, perf, pw = gemma.gpu, gemma.gpus_per_replica, gemma.perf, gemma.pw
    P_w = step_params(d, gpu, tp, perf, pw)
    P_0 = step_params(_no_window(d), gpu, tp, perf, pw)
    for n, ctx in ((1, 100.0), (32, 32 * 1000.0), (128, 128 * 1024.0)):
        assert iteration_step(P_w, 0.0, n, ctx) == iteration_step(P_0, 0.0, n, ctx)
    # prefill of a 1,024-token prompt attends within the window too
    assert iteration_step(P_w, 1024.0, 0.0, 0.0) == iteration_step(P_0, 1024.0, 0.0, 0.0)
    dt_w, p_w = iteration_step(P_w, 0.0, 128, 128 * 4000.0)
    dt_0, p_0 = iteration_step(P_0, 0.0, 128, 128 * 4000.0)
    assert dt_w < 0.8 * dt_0  # 4,000-token contexts: 52 of 62 layers read 1,024 of them
    # a long prompt's prefill: fewer attention FLOPs, shorter step
    assert iteration_step(P_w, 8192.0, 0.0, 0.0)[0] < iteration_step(P_0, 8192.0, 0.0, 0.0)[0]


def test_step_function_equals_the_roofline_of_perf_with_a_window(gemma):
    """The two written forms of the iteration (the scalar step the engine and kernel run, the array
    roofline of dcsim.node.perf) give the same time with the window in force."""
    d, gpu, tp, perf = gemma.derived, gemma.gpu, gemma.gpus_per_replica, gemma.perf
    P = list(step_params(d, gpu, tp, perf, gemma.pw))
    P[STEP_FIELDS.index("lim")] = 1e12  # no board limit: compare the unthrottled time
    P = tuple(P)
    for pre, n, ctx, pctx in ((0.0, 64, 64 * 3000.0, 0.0), (2048.0, 16, 16 * 5000.0, 2048.0 ** 2 / 2),
                              (512.0, 200, 200 * 900.0, 512.0 ** 2 / 2), (8192.0, 0, 0.0, 8192.0 ** 2 / 2)):
        t, _, _ = iteration_time(d, gpu, tp, perf, pre, n, ctx, pctx)
        assert iteration_step(P, pre, n, ctx, pctx)[0] == pytest.approx(float(t), rel=1e-12)


@pytest.mark.parametrize("bad,reason", [
    ({"local_layers": 70}, "local_layers: 70 must be <= layers (62)"),
    ({"sliding_window": None}, "local_layers: needs sliding_window"),
    ({"sliding_window": 0}, "greater than 0"),
])
def test_invalid_window_specs_name_the_reason(bad, reason):
    spec = model_catalog()["gemma-3-27b"].model_dump()
    spec.update(bad)
    with pytest.raises(ValidationError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        ModelSpec(**spec)


def test_shipped_gemma_profiles_reproduce_the_mlenergy_rows():
    """Each Gemma 3 profile (H100 12B TP1 and 27B TP2, B200 27B TP1) against its ML.ENERGY v3 rows:
    tokens/s and J/token within 10 % at every point (measured in-sample worst 3.1 % H100, 4.8 % B200).
    Gemma-3-27B on one H100 has three load levels only (max_num_seqs 8-32: the weights leave little KV
    room): too few for a profile of its own (tests/test_calibrate.py), its rows feed the pooled fit."""
    from dcsim.node.catalog import shipped_profiles

    rows = read_rows(sorted((DATA_DIR / "measurements").glob("mlenergy_gemma-3-*.csv")))
    groups = {(r["gpu"], r["model"], int(r["n_gpus"])) for r in rows}
    assert groups == {("H100-SXM", "gemma-3-12b", 1), ("H100-SXM", "gemma-3-27b", 1),
                      ("H100-SXM", "gemma-3-27b", 2), ("B200", "gemma-3-27b", 1)}
    shipped = {(p["gpu"], p["model"], p["tensor_parallel"]) for p in shipped_profiles().values()}
    assert ("H100-SXM", "gemma-3-27b", 1) not in shipped
    for gpu, model, tp in sorted(groups & shipped):
        node = build_node(NodeSpec(gpu=gpu, model=model, tensor_parallel=tp))
        assert node.calibration["status"] == "calibrated"
        for r in (r for r in rows if (r["gpu"], r["model"], int(r["n_gpus"])) == (gpu, model, tp)):
            ss = node.steady_state(float(r["batch"]), float(r["mean_in"]), float(r["mean_out"]),
                                   decode_ctx=float(r["decode_ctx"]))
            tok_s = float(ss.throughput_tok_s)
            assert tok_s == pytest.approx(float(r["output_tok_s"]), rel=0.10), (gpu, model, tp, r["max_num_seqs"])
            assert float(ss.gpu_power_w) / tok_s == pytest.approx(float(r["j_per_out_tok"]), rel=0.10)


def test_flops_per_output_token_count_the_window(gemma):
    d = gemma.derived
    plain = dataclasses.replace(gemma, derived=_no_window(d))
    assert gemma.flops_per_output_token(634.0, 700.0, decode_ctx=900.0) == plain.flops_per_output_token(
        634.0, 700.0, decode_ctx=900.0)
    saved = d.attn_flops_per_ctx * d.positions * d.sparse * d.local_frac * (3000.0 - 1024.0)
    diff = plain.flops_per_output_token(634.0, 700.0, decode_ctx=3000.0) - gemma.flops_per_output_token(
        634.0, 700.0, decode_ctx=3000.0)
    assert float(diff) == pytest.approx(saved, rel=1e-9)


def test_kv_capacity_counts_only_the_window_of_local_layers(gemma):
    """A local layer keeps only its window of KV (vLLM v1's SlidingWindowManager frees what leaves it), so at a
    context beyond the window a replica holds ctx / attended(ctx) times more sequences than a full-depth count:
    Gemma-3-27B (52 of 62 layers local, 1,024 tokens) at 8,000 tokens 3.72x, at 1,600 1.43x, none within the
    window; a model without local layers is unchanged. The engine sizes every fidelity with it."""
    import dcsim
    from conftest import small_scenario

    kv = gemma.kv_capacity_tokens
    for ctx, factor in ((500.0, 1.0), (1024.0, 1.0), (1600.0, 1600.0 / (1600.0 - 52 / 62 * 576.0)),
                        (8000.0, 8000.0 / (8000.0 - 52 / 62 * 6976.0))):
        n = gemma.for_context(ctx)
        assert n.kv_capacity_tokens == pytest.approx(kv * factor)
        # sequences that fit: the full-depth KV of the global layers plus the window of the local ones
        held_bytes = gemma.derived.kv_bytes_per_token * (10 / 62 * ctx + 52 / 62 * min(ctx, 1024.0))
        assert float(n.batch_limit(634.0, 1e9, ctx)) == pytest.approx(
            min(gemma.max_batch, kv * gemma.derived.kv_bytes_per_token / held_bytes), rel=1e-9)
    llama = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b"))
    assert llama.for_context(8000.0) is llama
    # the engine builds each group's node at its workload's residence context
    sc = small_scenario(duration="1 h")
    sc["racks"][0]["node"].update({"model": "gemma-3-27b", "tensor_parallel": 2})
    sc["workload"]["classes"] = [{"name": "rag", "preset": "chat", "share": 1.0, "input": {"kind": "fixed", "value": 6000},
                                  "output": {"kind": "fixed", "value": 400}}]
    from dcsim.engine.build import build_models
    from dcsim.scenario import load_scenario
    m = build_models(load_scenario(sc))
    g = m.groups[0]
    dctx = m.pools[0].decode_context
    assert dctx > 6000 and g.node.kv_capacity_tokens == pytest.approx(gemma.for_context(dctx).kv_capacity_tokens)
    assert dcsim.run(sc).report["throughput_tok_s"]["output"] > 0


def test_fluid_and_request_fidelity_agree_on_a_window_bound_load():
    """16 Gemma-3-27B TP2 replicas saturated by 6,000-token prompts, the KV sized at the window (measured: 13.7 k
    tok/s fluid, 13.0 k request fidelity; 10.4 k / 10.1 k when every layer's KV was counted): both fidelities take
    the same capacity and agree within 10 %, and both serve more than the full-depth count allows."""
    import dcsim
    from conftest import small_scenario

    out = {}
    for fid in ("fluid", "request"):
        sc = small_scenario(duration="20 min", **{"controller.tick": "1 min"})
        sc["fidelity"] = fid
        sc["racks"][0].update({"count": 1})
        sc["racks"][0]["node"].update({"model": "gemma-3-27b", "tensor_parallel": 2})
        sc["workload"]["arrivals"] = {"kind": "poisson", "rate": "60 req/s"}
        sc["workload"]["classes"] = [{"name": "rag", "preset": "chat", "share": 1.0,
                                      "input": {"kind": "fixed", "value": 6000}, "output": {"kind": "fixed", "value": 400}}]
        out[fid] = dcsim.run(sc).report["throughput_tok_s"]["output"]
    assert out["request"] == pytest.approx(out["fluid"], rel=0.10)
    assert min(out.values()) > 12_000  # above the 10.4 k the full-depth KV count gave
