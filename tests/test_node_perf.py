"""Roofline latency of the node model: regimes, monotonicity, hand-computed values, catalogs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from dcsim.node import build_node, gpu_catalog, model_catalog
from dcsim.node.model import default_tp
from dcsim.scenario.node import GpuSpec, ModelSpec, NodeSpec

CHAT_IN, CHAT_OUT = 634.0, 380.0


def test_catalogs_load_with_required_entries():
    gpus, models = gpu_catalog(), model_catalog()
    for g in ("A100-SXM4-80GB", "H100-SXM", "H200", "B200", "MI300X"):
        s = gpus[g]
        assert s.peak_flops.bf16 > 1e14 and s.hbm_bw > 1e12 and s.hbm_bytes >= 80e9
        assert 0 < s.idle_w < s.power_limit_min_w <= s.tdp_w
        assert s.server.gpus_per_node == 8 and 0.8 < s.server.psu_efficiency <= 1
    assert gpus["H100-SXM"].server.server_max_w == 10200.0
    for m in ("llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "qwen3-235b-a22b", "mixtral-8x7b"):
        s = models[m]
        assert s.layers > 0 and s.heads % s.kv_heads == 0
    q = models["qwen3-235b-a22b"]
    # MoE: active = dense part + k/E of the experts, to within 3% of the published 22B
    active = (q.params - q.expert_params) + q.expert_params * q.experts_per_token / q.n_experts
    assert active == pytest.approx(q.active_params, rel=0.03)


@pytest.mark.parametrize("gpu,model,prec,tp", [
    ("H100-SXM", "llama-3.1-8b", "bf16", 1), ("H100-SXM", "llama-3.1-70b", "bf16", 4),
    ("B200", "llama-3.1-70b", "bf16", 2), ("H100-SXM", "llama-3.1-405b", "fp8", 8),
    ("B200", "llama-3.1-405b", "fp8", 4), ("H100-SXM", "qwen3-235b-a22b", "fp8", 8),
    ("B200", "qwen3-235b-a22b", "fp8", 2), ("B200", "deepseek-v3", "fp8", 8)])
def test_default_tensor_parallel_matches_mlenergy_choices(gpu, model, prec, tp):
    g, m = gpu_catalog()[gpu], model_catalog()[model]
    assert default_tp(m, g, prec, 8) == tp
    assert build_node(NodeSpec(gpu=gpu, model=model, precision=prec)).gpus_per_replica == tp


def test_shipped_profile_is_picked_and_replicas_fill_node():
    n = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b"))
    assert n.profile["name"] == "H100-SXM_llama-3.1-70b_bf16_tp4"
    assert (n.gpus_per_replica, n.replicas_per_node, n.gpus_per_node) == (4, 2, 8)
    # no profile for this GPU nor a calibrated GPU of its die -> generic one derived from shipped fits
    g = build_node(NodeSpec(gpu="MI300X", model="mixtral-8x7b"))
    assert g.profile["name"].startswith("generic-")


def test_decode_small_batch_is_memory_bound_and_prefill_compute_bound():
    n = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b"))
    from dcsim.node.perf import iteration_time
    # 8 decoding sequences with 1k context each
    t, tc, tm = iteration_time(n.derived, n.gpu, 4, n.perf, 0.0, 8.0, 8000.0, 0.0)
    assert tm > 5 * tc
    # one 4096-token prompt chunk
    t, tc, tm = iteration_time(n.derived, n.gpu, 4, n.perf, 4096.0, 0.0, 0.0, 4096.0 ** 2 / 2)
    assert tc > 3 * tm
    s = n.steady_state(np.array([8.0]), CHAT_IN, CHAT_OUT)
    assert s.u_memory[0] > s.u_compute[0]


def test_hand_computed_iteration_for_inline_gpu_and_model(tmp_path):
    gpu = GpuSpec(name="toy", peak_flops={"bf16": "100 TFLOP/s"}, hbm_bytes="40 GB", hbm_bw="1 TB/s",
                  tdp_w="400 W", idle_w="50 W", power_limit_min_w="100 W",
                  server={"gpus_per_node": 4, "non_gpu_idle_w": 400, "non_gpu_max_w": 800, "psu_efficiency": 0.9})
    model = ModelSpec(name="toy-1b", params=1e9, layers=10, hidden=2048, heads=16, kv_heads=4, head_dim=128)
    prof = {"name": "toy", "gpu": "toy", "model": "toy-1b", "precision": "bf16", "tensor_parallel": 1,
            "params": {"mfu": 0.5, "mbu": 0.8, "t_layer_s": 1e-4, "t_seq_layer_s": 1e-6, "overlap_p": 50.0,
                       "p_compute_w": 200.0, "p_memory_w": 150.0, "p_sync_w": 40.0, "gamma": 2.0}}
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(prof))
    n = build_node(NodeSpec(gpu=gpu, model=model, profile="toy.yaml"), base_dir=tmp_path)
    assert n.gpus_per_replica == 1 and n.replicas_per_node == 4
    kv_tok = 10 * 2 * 4 * 128 * 2.0               # layers * (K,V) * kv_heads * head_dim * 2 B = 20480 B
    assert n.derived.kv_bytes_per_token == kv_tok
    assert n.kv_capacity_tokens == pytest.approx((0.9 * 40e9 - 2e9) / kv_tok)
    # decode: 16 sequences, 16k context tokens in total
    flops = 16 * 2e9 + 4 * 10 * 16 * 128 * 16000.0
    mem = 2e9 + 16000 * kv_tok + 16 * kv_tok
    tc, tm = flops / (100e12 * 0.5), mem / (1e12 * 0.8)
    busy = (tc ** 50 + tm ** 50) ** (1 / 50)
    to = 1e-3 + 16 * 1e-5
    dt = busy + to
    p = 50 + (200 * tc + 150 * tm + 40 * to) / dt
    got = n.step_fn()(0, 16, 16000.0)
    assert got[0] == pytest.approx(dt, rel=1e-12)
    assert got[1] == pytest.approx(p, rel=1e-12)
    assert n.step_fn()(0, 0, 0.0) == (0.0, 50.0)
    assert n.idle_wall_power_w == pytest.approx((50 + 0.25 * 400) / 0.9)


def test_step_fn_agrees_with_vectorised_steady_state():
    """The steady state is the probability-weighted mix of the step at each node of the random prefill
    (perf.steady_mix): one plain-float step call per node, the time mean and the energy over it."""
    from dcsim.node.perf import steady_mix

    n = build_node(NodeSpec(gpu="H100-SXM", model="qwen3-235b-a22b", precision="fp8"))
    step = n.step_fn(0.8)
    for b in (8.0, 64.0, 300.0):
        for scv in (0.0, 0.28):
            _, ctx, x, w, pctx = steady_mix(b, CHAT_IN, CHAT_OUT, n.max_batched_tokens, 1.0, None, scv)
            calls = [step(float(xi), b, float(ctx), float(pi)) for xi, pi in zip(x, pctx)]
            dt = sum(wi * c[0] for wi, c in zip(w, calls))
            energy = sum(wi * c[0] * c[1] for wi, c in zip(w, calls))
            s = n.steady_state(b, CHAT_IN, CHAT_OUT, 0.8, prompt_scv=scv)
            assert dt == pytest.approx(float(s.iter_time_s), rel=1e-9)
            assert energy / dt == pytest.approx(float(s.gpu_power_w), rel=1e-9)
            assert all(isinstance(c[0], float) and isinstance(c[1], float) for c in calls)


@pytest.mark.parametrize("model,prec", [("llama-3.1-8b", "bf16"), ("llama-3.1-70b", "bf16"),
                                        ("llama-3.1-405b", "fp8"), ("qwen3-235b-a22b", "fp8")])
def test_throughput_rises_with_batch_and_clock_j_per_token_falls(model, prec):
    n = build_node(NodeSpec(gpu="H100-SXM", model=model, precision=prec))
    b = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512], dtype=float)[:, None]
    c = np.array([0.4, 0.6, 0.8, 1.0])[None, :]
    s = n.steady_state(b, CHAT_IN, CHAT_OUT, c)
    assert s.throughput_tok_s.shape == (10, 4)
    assert np.all(np.diff(s.throughput_tok_s, axis=0) > 0)
    assert np.all(np.diff(s.throughput_tok_s, axis=1) >= 0)
    j = n.energy_per_output_token(b[:, 0], CHAT_IN, CHAT_OUT)
    assert np.all(np.diff(j) < 0)
    assert j[0] / j[-1] > 4  # measured drop 8 -> 512 is 6.5x (8B) and 10x (70B) [ML3]


def test_saturation_and_max_throughput_respects_kv_capacity():
    n = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-8b", max_batch=4096))
    lim = float(n.batch_limit(CHAT_IN, CHAT_OUT))
    assert lim == pytest.approx(n.kv_capacity_tokens / (CHAT_IN + CHAT_OUT / 2))
    t_lim = n.max_throughput(CHAT_IN, CHAT_OUT)
    assert t_lim == pytest.approx(float(n.steady_state(lim, CHAT_IN, CHAT_OUT).throughput_tok_s))
    # doubling the batch near saturation gains far less than 2x
    s = n.steady_state(np.array([256.0, 512.0]), CHAT_IN, CHAT_OUT)
    assert s.throughput_tok_s[1] / s.throughput_tok_s[0] < 1.3


def test_flops_per_output_token_hand_value():
    n = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-8b"))
    m = n.model
    want = (1 + 600 / 300) * 2 * m.params + 4 * m.layers * m.heads * m.head_dim * (2.0 * 300 + 750)
    assert float(n.flops_per_output_token(600.0, 300.0)) == pytest.approx(want)


def test_unknown_names_and_oversized_models_fail_clearly():
    with pytest.raises(ValueError, match="unknown GPU"):
        build_node(NodeSpec(gpu="H900"))
    with pytest.raises(ValueError, match="does not fit"):
        build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-405b", tensor_parallel=2))
    assert math.isfinite(build_node(NodeSpec(gpu="MI300X", model="llama-3.1-70b")).kv_capacity_tokens)


def test_inline_gpu_without_profile_gets_generic_profile_scaled_to_its_power_envelope():
    # 8 x 1000 W boards need a larger chassis than the default DGX H100's 10.2 kW: the B200's 14.3 kW [DGXB200]
    mk = lambda tdp, idle: GpuSpec(name=f"acc{tdp}", peak_flops={"bf16": "1000 TFLOP/s"}, hbm_bytes="144 GB",  # noqa: E731
                                   hbm_bw="5 TB/s", tdp_w=tdp, idle_w=idle, power_limit_min_w=idle * 2,
                                   server={"server_max_w": "14.3 kW"})
    small = build_node(NodeSpec(gpu=mk(500.0, 50.0), model="llama-3.1-8b"))
    big = build_node(NodeSpec(gpu=mk(1000.0, 100.0), model="llama-3.1-8b"))
    assert small.profile["name"] == "generic-acc500.0" and small.gpus_per_replica == 1
    assert small.calibration["status"] == "generic"
    assert big.pw.p_compute_w == pytest.approx(2 * small.pw.p_compute_w)
    assert small.perf == big.perf
    s = small.steady_state(64.0, CHAT_IN, CHAT_OUT)
    assert 50.0 < float(s.gpu_power_w) <= 500.0 * (1 + 1e-9)


def test_calibration_record_says_how_each_pair_was_parameterised():
    cal = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b")).calibration
    assert cal["status"] == "calibrated" and cal["profile"] == "H100-SXM_llama-3.1-70b_bf16_tp4"
    assert cal["error_band_pct"]["tok_s_pct"] > 0
    # an uncalibrated model on a calibrated GPU: the GPU's pooled efficiencies, the model's own physics
    tr = build_node(NodeSpec(gpu="H100-SXM", model="mixtral-8x7b"))
    assert tr.calibration["status"] == "transferred" and tr.profile["name"] == "pooled-H100-SXM"
    assert len(tr.calibration["source_profiles"]) >= 2
    assert tr.calibration["error_band_pct"]["j_per_tok_pct"] > 0
    # the band is the worst leave-one-model-out error among left-out models of the same kind (MoE here)
    from dcsim.node.catalog import pooled_profiles
    lomo = pooled_profiles()["H100-SXM"]["leave_one_model_out"]
    cat = model_catalog()
    is_moe = {r["profile"]: cat[r["profile"].split("_")[1]].n_experts > 0 for r in lomo}
    moe_rows = [r for r in lomo if is_moe[r["profile"]]]
    assert tr.calibration["error_band_pct"]["tok_s_pct"] == max(r["max_err_tok_s_pct"] for r in moe_rows)
    dense = build_node(NodeSpec(gpu="H100-SXM", model="llama-2-70b", tensor_parallel=4)).calibration
    assert dense["status"] == "transferred"
    assert dense["error_band_pct"]["tok_s_pct"] == max(r["max_err_tok_s_pct"] for r in lomo if not is_moe[r["profile"]])
    # a GPU with no measurement at all and no calibrated GPU of its die
    assert build_node(NodeSpec(gpu="MI300X", model="llama-3.1-70b")).calibration["status"] == "generic"


def test_same_architecture_under_another_name_keeps_its_calibration():
    m = model_catalog()["llama-3.1-70b"].model_copy(update={"name": "my-70b-finetune", "hf_id": ""})
    n = build_node(NodeSpec(gpu="H100-SXM", model=m))
    ref = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b"))
    assert n.calibration["status"] == "same-architecture"
    assert n.calibration["profile"] == "H100-SXM_llama-3.1-70b_bf16_tp4"
    assert n.step_params() == ref.step_params()


@pytest.mark.parametrize("update, same", [
    ({"active_params": None}, True),          # "= params" for a dense model, left out
    ({"params": 70.55e9, "active_params": None}, True),   # the safetensors count
    ({"params": 70.0e9, "active_params": 70.0e9}, True),  # the card's "70B" (0.85 % off)
    ({"params": 72.0e9, "active_params": 72.0e9}, False),  # 2 % more parameters: another model
    ({"layers": 81}, False),
])
def test_same_architecture_tolerates_how_the_shape_is_written(update, same):
    """Defaults resolved and parameter counts within 1 %: writing the Llama-70B shape another way keeps its
    calibration (audit N #5: leaving out active_params or 70.55e9 made it "transferred", J/token +20 % at 256)."""
    m = model_catalog()["llama-3.1-70b"].model_copy(update={"name": "my-70b-finetune", "hf_id": "", **update})
    status = build_node(NodeSpec(gpu="H100-SXM", model=m, tensor_parallel=4)).calibration["status"]
    assert (status == "same-architecture") is same, status


def test_moe_dispatch_adds_its_time_per_moe_layer_and_draws_sync_power(tmp_path):
    """t_moe_layer_s adds exactly t_moe · layers to an MoE step (0 for a dense model), and its energy
    is P_sync · tp per second of it (routing, permutation and launch-bound kernels load neither unit; P_memory
    until the twenty-fourth pass, docs/node.md), on top of idle."""
    from dataclasses import replace

    from dcsim.node.step import iteration_step

    def node(model, t_moe):
        prof = {"name": f"moe{t_moe}", "gpu": "H100-SXM", "model": model, "precision": "bf16", "tensor_parallel": 8,
                "params": {"mfu": 0.5, "mbu": 0.8, "t_layer_s": 5e-5, "t_seq_layer_s": 3e-7, "overlap_p": 8.0,
                           "t_moe_layer_s": t_moe, "p_compute_w": 500.0, "p_memory_w": 350.0, "p_sync_w": 100.0,
                           "gamma": 1.2}}
        (tmp_path / f"{model}{t_moe}.yaml").write_text(yaml.safe_dump(prof))
        return build_node(NodeSpec(gpu="H100-SXM", model=model, tensor_parallel=8, profile=f"{model}{t_moe}.yaml"),
                          base_dir=tmp_path)

    it = (0.0, 8.0, 8.0 * 900.0)  # a batch-8 decode step, far below the board limit
    q0, q1 = node("qwen3-235b-a22b", 0.0), node("qwen3-235b-a22b", 1e-4)
    assert q1.derived.moe_layers_run == 94
    (t0, p0), (t1, p1) = iteration_step(q0.step_params(), *it), iteration_step(q1.step_params(), *it)
    assert t1 - t0 == pytest.approx(1e-4 * 94, rel=1e-9)
    assert t1 * p1 - t0 * p0 == pytest.approx((8 * 72.0 + 8 * 100.0) * 1e-4 * 94, rel=1e-9)
    # a dense model ignores the MoE parameter
    d0, d1 = node("llama-3.1-70b", 0.0), node("llama-3.1-70b", 1e-4)
    assert d1.derived.moe_layers_run == 0
    assert iteration_step(d0.step_params(), *it) == iteration_step(d1.step_params(), *it)
    # the steady state carries the same time: throughput falls as the dispatch grows
    s0, s1 = q0.steady_state(64.0, CHAT_IN, CHAT_OUT), q1.steady_state(64.0, CHAT_IN, CHAT_OUT)
    assert s1.throughput_tok_s < s0.throughput_tok_s
    assert replace(q1.perf, t_moe_layer_s=0.0) == q0.perf


def test_fp8_cost_adds_its_time_per_layer_of_an_fp8_model_only(tmp_path):
    """t_fp8_layer_s adds exactly t_fp8 · layers to a step of a model served in FP8 and nothing in
    BF16; its energy is P_sync · tp per second of it (short launch-bound quantisation kernels), and
    iteration_time (perf) agrees with the step (step)."""
    from dcsim.node.perf import iteration_time
    from dcsim.node.step import iteration_step

    def node(precision, t_fp8):
        prof = {"name": f"fp8{t_fp8}", "gpu": "H100-SXM", "model": "llama-3.1-70b", "precision": precision,
                "tensor_parallel": 4,
                "params": {"mfu": 0.5, "mbu": 0.8, "t_layer_s": 5e-5, "t_seq_layer_s": 3e-7, "overlap_p": 8.0,
                           "t_fp8_layer_s": t_fp8, "p_compute_w": 500.0, "p_memory_w": 350.0, "p_sync_w": 100.0,
                           "gamma": 1.2}}
        (tmp_path / f"{precision}{t_fp8}.yaml").write_text(yaml.safe_dump(prof))
        return build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", precision=precision, tensor_parallel=4,
                                   profile=f"{precision}{t_fp8}.yaml"), base_dir=tmp_path)

    it = (0.0, 8.0, 8.0 * 900.0)  # a batch-8 decode step, far below the board limit
    f0, f1 = node("fp8", 0.0), node("fp8", 1e-4)
    assert f1.derived.fp8_layers_run == 80
    (t0, p0), (t1, p1) = iteration_step(f0.step_params(), *it), iteration_step(f1.step_params(), *it)
    assert t1 - t0 == pytest.approx(1e-4 * 80, rel=1e-9)
    assert t1 * p1 - t0 * p0 == pytest.approx((4 * 72.0 + 4 * 100.0 * 1.0) * 1e-4 * 80, rel=1e-9)
    ti = iteration_time(f1.derived, f1.gpu, 4, f1.perf, *it, 0.0)[0]
    assert float(ti) == pytest.approx(t1, rel=1e-9)
    b0, b1 = node("bf16", 0.0), node("bf16", 1e-4)
    assert b1.derived.fp8_layers_run == 0
    assert iteration_step(b0.step_params(), *it) == iteration_step(b1.step_params(), *it)


def test_fp8_costs_energy_at_small_batch_and_saves_it_at_large_batch():
    """[ML3-blog] (ML.ENERGY v3.0, median over the models served in both precisions): FP8 vs BF16
    +30 % J/token at batch 8-16 and -11 % at 65-256; Qwen3-235B-A22B on the same 8 H100s measured
    +56 % at batch 8, +22 % at 16 and -13 % at 256 (ML.ENERGY v3 rows). With the H100 pooled fit (the same
    parameters for both precisions; the FP8 cost per layer is what differs besides bytes and peak FLOP/s), FP8
    costs energy at batch 8 and saves it at batch 256 for Qwen3-235B: the sign of both published figures (the pool
    without the FP8 cost gave -31 % at every batch).
    Since the twenty-fourth pass the pools leave the block-scaled Qwen3-235B-FP8 checkpoint's energy to its own
    profiles: the pool gives Qwen3-235B +2.9 % at batch 8 (+20.5 % before, on fb9224e's parent), -8.7 % at 16 (measured +22 %: the pool no
    longer reproduces the block-scaled small-batch penalty for a transferred model) and -13 % at 256. The
    per-channel FP8 evidence (Llama-3.1-405B measured in both precisions on B200) is
    test_fp8_over_bf16_energy_of_a_per_channel_checkpoint_as_measured."""
    from dcsim.node.catalog import POOLED_DIR

    prof = str(POOLED_DIR / "H100-SXM.yaml")
    bf, f8 = (build_node(NodeSpec(gpu="H100-SXM", model="qwen3-235b-a22b", precision=p, tensor_parallel=8,
                                  profile=prof)) for p in ("bf16", "fp8"))
    b = np.array([8.0, 256.0])
    sb, s8 = bf.steady_state(b, CHAT_IN, CHAT_OUT), f8.steady_state(b, CHAT_IN, CHAT_OUT)
    ratio = (s8.gpu_power_w / s8.throughput_tok_s) / (sb.gpu_power_w / sb.throughput_tok_s)
    assert ratio[0] > 1.02 and ratio[1] < 0.95


@pytest.mark.parametrize("level", [8, 64])
def test_fp8_over_bf16_energy_of_a_per_channel_checkpoint_as_measured(level):
    """The one per-channel FP8 checkpoint measured in both precisions: Llama-3.1-405B, BF16 on 8 B200s (ML.ENERGY v3
    JSON, validation rows H-L405bf16-B200, not calibrated) and FP8 on 4 B200s (mlenergy_llama-3.1-405b-fp8.csv).
    Measured FP8 / BF16 J/token 0.594 at max_num_seqs 8 and 0.627 at 64; the B200 pooled fit, each precision at its
    own layout, batch, lengths and context, gives 0.647 / 0.614 (+8.9 / -2.2 %); before the twenty-fourth pass left
    the block-scaled checkpoint's energy out of the pools, 0.816 / 0.712 (+37 / +14 %). Within 15 %."""
    import csv
    from pathlib import Path

    from dcsim.node.catalog import POOLED_DIR
    from dcsim.validation import DEFAULT_DATA, MEAN_IN_CHAT, ml3_config

    prof = str(POOLED_DIR / "B200.yaml")
    f = Path(__file__).resolve().parents[1] / "dcsim" / "data" / "measurements" / "mlenergy_llama-3.1-405b-fp8.csv"
    r = next(r for r in csv.DictReader(f.open()) if r["gpu"] == "B200" and int(r["max_num_seqs"]) == level)
    pb = ml3_config(DEFAULT_DATA, "meta-llama__Llama-3.1-405B-Instruct__lm-arena-chat.json", "B200", 8, level,
                    MEAN_IN_CHAT)

    def j_tok(precision, tp, batch, mean_in, mean_out, ctx, scv):
        n = build_node(NodeSpec(gpu="B200", model="llama-3.1-405b", precision=precision, tensor_parallel=tp,
                                profile=prof))
        return float(n.energy_per_output_token(batch, mean_in, mean_out, decode_ctx=ctx, prompt_scv=scv))

    pred = (j_tok("fp8", 4, *(float(r[k]) for k in ("batch", "mean_in", "mean_out", "decode_ctx", "prompt_scv")))
            / j_tok("bf16", 8, pb["batch"], MEAN_IN_CHAT, pb["mean_out"], pb["decode_ctx"], pb["prompt_scv"]))
    meas = float(r["j_per_out_tok"]) / pb["j_tok"]
    assert meas < 0.65  # FP8 saves a third or more of the energy per token at batch 8 and 64
    assert abs(pred / meas - 1.0) < 0.15, (level, pred, meas)


def test_moe_layers_and_expert_only_quantisation_change_only_what_they_name():
    """``moe_layers`` (Llama-4-Maverick: 24 of 48, DeepSeek-V3: 58 of 61) sets the MoE dispatches per
    forward pass; ``quantized: experts`` (Maverick-FP8) stores only the routed experts in FP8: the other
    weights keep 2 bytes, only the MoE layers run W8A8 kernels, and the compute peak stays BF16."""
    from dcsim.node.levers import resolve_levers
    from dcsim.node.perf import derive, weight_bytes
    from dcsim.scenario.node import LeverSpec

    cat = model_catalog()
    mav = cat["llama-4-maverick"]
    every = mav.model_copy(update={"moe_layers": None, "quantized": "all"})
    lv = resolve_levers(LeverSpec())
    d, d_all = derive(mav, "fp8", lv, tp=8), derive(every, "fp8", lv, tp=8)
    assert d.moe_layers_run == 24 and d_all.moe_layers_run == 48
    assert d.fp8_layers_run == 24 and d_all.fp8_layers_run == 48
    assert d.peak_precision == "bf16" and d_all.peak_precision == "fp8"
    dense, experts = mav.params - mav.expert_params, mav.expert_params
    assert weight_bytes(mav, "fp8") == pytest.approx((2.0 * dense, 1.0 * experts))
    assert weight_bytes(every, "fp8") == pytest.approx((dense, experts))
    # in BF16 the quantisation scope changes nothing
    b, b_all = derive(mav, "bf16", lv, tp=8), derive(every, "bf16", lv, tp=8)
    assert (b.dense_weight_bytes, b.expert_weight_bytes, b.fp8_layers_run, b.peak_precision) == \
        (b_all.dense_weight_bytes, b_all.expert_weight_bytes, 0.0, "bf16")
    assert derive(cat["deepseek-v3"], "fp8", lv, tp=8).moe_layers_run == 58
    with pytest.raises(ValueError, match="moe_layers"):
        ModelSpec(params=1e9, layers=4, hidden=64, heads=4, kv_heads=4, head_dim=16, moe_layers=2)
    with pytest.raises(ValueError, match="moe_layers"):
        ModelSpec(**(every.model_dump() | {"moe_layers": 49}))
    with pytest.raises(ValueError, match="quantized"):
        ModelSpec(params=1e9, layers=4, hidden=64, heads=4, kv_heads=4, head_dim=16, quantized="experts")


def test_maverick_fp8_fits_on_one_h100_server_and_bf16_does_not():
    """Meta's FP8 release of Maverick fits one 8xH100 host (414 GB with BF16 non-expert weights);
    400 B parameters in BF16 (800 GB) do not."""
    n = build_node(NodeSpec(gpu="H100-SXM", model="llama-4-maverick", precision="fp8", tensor_parallel=8))
    assert n.derived.weight_bytes_total == pytest.approx(2 * 13.5e9 + 386.5e9)
    with pytest.raises(ValueError, match="does not fit"):
        build_node(NodeSpec(gpu="H100-SXM", model="llama-4-maverick", precision="bf16", tensor_parallel=8))


def test_median_iteration_is_decode_only_until_half_the_iterations_carry_a_prompt():
    """The median inter-token latency the calibration fits (`node.step.median_step`): while at least half the
    iterations carry no prompt (exp(-batch/mean_out) >= 1/2) it is the decode-only step, whatever the prompt
    lengths; beyond, the median iteration carries a prompt, so it is longer than the decode step and grows with the
    prompt length, and it stays below an iteration carrying a whole mean batch of prompts."""
    from dcsim.node.step import iteration_step, median_step

    n = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", tensor_parallel=4))
    P = n.step_params(1.0)
    mean_out, ctx = 400.0, 1200.0
    for b in (8.0, 64.0, 0.69 * mean_out):  # exp(-b/400) >= 0.5 up to b = 277
        for mean_in, scv in ((634.0, 0.0), (4000.0, 1.0)):
            assert float(median_step(P, b, mean_in, mean_out, ctx, scv)) == pytest.approx(
                iteration_step(P, 0.0, b, b * ctx, 0.0)[0], rel=1e-12)
    b = 400.0  # exp(-1) < 0.5: the median iteration prefills part of a prompt
    decode = iteration_step(P, 0.0, b, b * ctx, 0.0)[0]
    short, long_ = (float(median_step(P, b, mi, mean_out, ctx, 0.28)) for mi in (634.0, 4000.0))
    assert decode < short < long_
    assert long_ < iteration_step(P, 4000.0, b, b * ctx, 4000.0 * 4000.0 * 0.5 * 1.28)[0]


def test_docs_node_md_examples_print_what_the_document_says():
    """The Python block under docs/node.md's "Examples" runs and each print gives the text after its `# →`."""
    import contextlib
    import io
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "node.md").read_text()
    block = re.search(r"## Examples\n.*?```python\n(.*?)```", doc, re.S).group(1)
    expected = [line.split("# → ", 1)[1].strip() for line in block.splitlines() if "# → " in line]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "docs/node.md", "exec"), {})
    assert out.getvalue().splitlines() == expected


def test_docs_node_md_own_model_examples_state_the_bands_build_node_gives():
    """docs/node.md "Adding your own GPU or model": the bands it quotes for a Scout and a Gemma-3-27B fine-tune
    (same-architecture) and for the Gemma written without its window (transferred) are build_node's."""
    from pathlib import Path

    from dcsim.metrics.fmt import fmt_band
    from dcsim.node import build_node
    from dcsim.scenario.node import ModelSpec, NodeSpec

    doc = " ".join((Path(__file__).resolve().parents[1] / "docs" / "node.md").read_text().split())
    scout = ModelSpec(name="my-scout", params=109e9, active_params=17e9, layers=48, hidden=5120, heads=40, kv_heads=8,
                      head_dim=128, n_experts=16, experts_per_token=1, expert_params=96.6e9)
    gemma = dict(name="my-gemma-27b-ft", params=27.01e9, active_params=27.01e9, layers=62, hidden=5376, heads=32,
                 kv_heads=16, head_dim=128)
    for model, tp in ((scout, 4), (ModelSpec(**gemma, sliding_window=1024, local_layers=52), 2), (ModelSpec(**gemma), 2)):
        c = build_node(NodeSpec(gpu="H100-SXM", model=model, tensor_parallel=tp)).calibration
        text = fmt_band(c["error_band_pct"], c["band_lower_bound"], digits=1)  # "≥±" on a lower bound
        assert text in doc, text


def test_a_power_limit_floor_at_or_below_idle_is_refused():
    """An inline GPU whose lowest settable limit is below its idle power (150 W idle, 100 W floor, capped at
    120 W) ran with every busy step reported at exactly the limit — a working GPU drawing less than an idle
    one — until 2026-12-04. Every cap is clipped up to the floor, so a floor above idle keeps every limit above it."""
    from pydantic import ValidationError

    kw = dict(name="toy", peak_flops={"bf16": "100 TFLOP/s"}, hbm_bytes="40 GB", hbm_bw="1 TB/s", tdp_w="700 W",
              idle_w="150 W", server={"gpus_per_node": 8, "non_gpu_idle_w": 400, "non_gpu_max_w": 800,
                                      "psu_efficiency": 0.9})
    for floor in ("100 W", "150 W"):
        with pytest.raises(ValidationError, match=r"power_limit_min_w: .* must be > idle_w \(150 W\)"):
            GpuSpec(power_limit_min_w=floor, **kw)
    assert GpuSpec(power_limit_min_w="151 W", **kw).power_limit_min_w == 151.0


def test_a_server_max_power_below_its_full_load_draw_is_refused():
    """server.server_max_w was read by nothing: 100 W ran as 10.2 kW. A server's maximum system power bounds
    what the model lets it draw (every GPU at TDP, host at its maximum, through the PSUs)."""
    from pydantic import ValidationError

    kw = dict(name="toy", peak_flops={"bf16": "100 TFLOP/s"}, hbm_bytes="40 GB", hbm_bw="1 TB/s", tdp_w="700 W",
              idle_w="70 W", power_limit_min_w="200 W")
    srv = {"gpus_per_node": 8, "non_gpu_idle_w": 1200, "non_gpu_max_w": 2300, "psu_efficiency": 0.94}
    with pytest.raises(ValidationError, match=r"server.server_max_w: 100 W is below .* 8404 W"):
        GpuSpec(server={**srv, "server_max_w": "100 W"}, **kw)
    assert GpuSpec(server={**srv, "server_max_w": "8.5 kW"}, **kw).server.server_max_w == 8500.0


def test_a100_hbm_bandwidth_is_the_datasheet_column_of_each_board():
    """NVIDIA's A100 datasheet ([A100-DS], docs/sources.md) gives "GPU Memory Bandwidth" per board: 1,555 GB/s for the
    A100 40GB SXM (HBM2), 2,039 GB/s for the A100 80GB SXM (HBM2e). The 80 GB board read [HWT]'s rounded 2.0 TB/s
    until session 53 (docs/node.md, thirty-first pass), 2 % short of the bandwidth its Splitwise decode steps ran at."""
    g = gpu_catalog()
    assert g["A100-SXM4-40GB"].hbm_bw == pytest.approx(1.555e12, rel=1e-9)
    assert g["A100-SXM4-80GB"].hbm_bw == pytest.approx(2.039e12, rel=1e-9)
