"""Expert parallelism (vLLM ``--enable-expert-parallel``): each GPU holds E/G whole experts, a step waits
for the GPU with the most experts touched, the others read less and wait (dcsim.node.perf.
expert_parallel_imbalance, dcsim.node.step.iteration_step)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import yaml

from dcsim.node import calibrate as C
from dcsim.node.catalog import other_tp_band, resolve_model
from dcsim.node.levers import resolve_levers
from dcsim.node.model import build_node
from dcsim.node.perf import derive, expert_parallel_imbalance, iteration_time
from dcsim.node.step import iteration_step
from dcsim.scenario.node import LeverSpec, NodeSpec


@pytest.mark.parametrize("q,m,g", [(0.06, 16, 8), (0.4, 16, 8), (0.02, 64, 2), (0.3, 32, 4), (0.5, 2, 8),
                                   (0.95, 16, 8)])
def test_imbalance_is_the_expected_maximum_of_binomials(q, m, g):
    """E[max over g GPUs of Binomial(m, q)] / (m q), against a seeded Monte Carlo of 200,000 draws."""
    rng = np.random.default_rng(7)
    x = rng.binomial(m, q, size=(200_000, g)).max(axis=1).mean() / (m * q)
    assert float(expert_parallel_imbalance(q, m, g)) == pytest.approx(x, rel=0.01)


def test_imbalance_limits():
    """1 when every expert is touched or there is one group; tends to g when one expert is touched."""
    assert float(expert_parallel_imbalance(1.0, 16, 8)) == 1.0
    assert float(expert_parallel_imbalance(0.3, 16, 1)) == 1.0
    assert float(expert_parallel_imbalance(1e-7, 16, 8)) == pytest.approx(8.0, rel=1e-5)
    q = np.linspace(0.01, 0.99, 50)
    f = expert_parallel_imbalance(q, 16, 8)
    assert np.all(np.diff(f) < 0) and np.all(f > 1.0)


def _profile(model, precision, tp):
    return {"name": "p", "gpu": "H100-SXM", "model": model, "precision": precision, "tensor_parallel": tp,
            "params": {"mfu": 0.5, "mbu": 0.8, "t_layer_s": 3e-5, "t_seq_layer_s": 1e-6, "overlap_p": 8.0,
                       "t_moe_layer_s": 5e-5, "p_compute_w": 560.0, "p_memory_w": 370.0, "p_sync_w": 300.0,
                       "gamma": 1.15}}


def _node(tmp_path, model="llama-4-maverick", precision="fp8", tp=8, ep=True):
    prof = _profile(model, precision, tp)
    path = tmp_path / f"{model}{ep}.yaml"
    path.write_text(yaml.safe_dump(prof))
    return build_node(NodeSpec(gpu="H100-SXM", model=model, precision=precision, tensor_parallel=tp,
                               expert_parallel=ep, profile=str(path)))


def test_expert_parallel_step_is_slower_at_small_batch_and_the_same_when_every_expert_is_read(tmp_path):
    """Maverick (128 experts top-1, 16 per GPU on 8): a batch-8 decode step reads the busiest GPU's
    experts, ~2.4x the mean, so it is slower; the dynamic energy is the same (the waiting GPUs add
    idle power only); an 8,192-token prefill touches every expert, so the layouts agree."""
    ep, sh = _node(tmp_path, ep=True), _node(tmp_path, ep=False)
    assert ep.derived.ep_groups == 8 and ep.derived.experts_per_group == 16 and sh.derived.ep_groups == 1
    idle = 8 * ep.gpu.idle_w
    dec = (0.0, 8.0, 8.0 * 1000.0)
    (te, pe), (ts, ps) = iteration_step(ep.step_params(), *dec), iteration_step(sh.step_params(), *dec)
    assert te > 1.15 * ts
    assert pe < ps
    assert (pe - idle) * te == pytest.approx((ps - idle) * ts, rel=1e-9)
    pre = (8192.0, 0.0, 0.0)
    assert iteration_step(ep.step_params(), *pre) == pytest.approx(iteration_step(sh.step_params(), *pre), rel=1e-9)
    # perf's array roofline gives the step's time
    for it in (dec, (512.0, 8.0, 8000.0)):
        t_perf = iteration_time(ep.derived, ep.gpu, 8, ep.perf, *it, it[0] ** 2 / 2)[0]
        assert float(t_perf) == pytest.approx(iteration_step(ep.step_params(), *it, it[0] ** 2 / 2)[0], rel=1e-9)


def test_time_grows_with_the_busiest_gpu_by_the_closed_form(tmp_path):
    """The memory time added by expert parallelism is the expert bytes times (imbalance - 1)."""
    ep, sh = _node(tmp_path, ep=True), _node(tmp_path, ep=False)
    d = ep.derived
    n = 4.0
    q = 1.0 - (1.0 - d.expert_frac) ** n
    extra = d.expert_weight_bytes * q * (float(expert_parallel_imbalance(q, 16, 8)) - 1.0)
    _, _, tm_e = iteration_time(ep.derived, ep.gpu, 8, ep.perf, 0.0, n, n * 500.0, 0.0)
    _, _, tm_s = iteration_time(sh.derived, sh.gpu, 8, sh.perf, 0.0, n, n * 500.0, 0.0)
    assert float(tm_e - tm_s) == pytest.approx(extra / (8 * ep.gpu.hbm_bw * ep.perf.mbu), rel=1e-9)


def test_layout_errors():
    lv = resolve_levers(LeverSpec(), "bf16")
    with pytest.raises(ValueError, match="no routed experts"):
        derive(resolve_model("llama-3.1-70b"), "bf16", lv, 4, tp=4)
    with pytest.raises(ValueError, match="do not split evenly over 3"):
        derive(resolve_model("llama-4-scout"), "bf16", lv, 3, tp=4)
    with pytest.raises(ValueError, match="dense model"):
        build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", tensor_parallel=4, expert_parallel=True))


def test_shipped_layout_follows_the_measurement_and_another_layout_is_labelled():
    """ML.ENERGY served its MoE models expert-parallel: the shipped Maverick profile says so, a node
    takes that layout by default, and choosing the other layout is ``other-layout`` with a band."""
    node = build_node(NodeSpec(gpu="H100-SXM", model="llama-4-maverick", precision="fp8", tensor_parallel=8))
    assert node.profile["expert_parallel"] is True and node.derived.ep_groups == 8
    assert node.calibration["status"] == "calibrated"
    other = build_node(NodeSpec(gpu="H100-SXM", model="llama-4-maverick", precision="fp8", tensor_parallel=8,
                                expert_parallel=False))
    assert other.derived.ep_groups == 1
    assert other.calibration["status"] == "other-layout"
    assert node.calibration["for"] == "H100-SXM / llama-4-maverick / fp8 / TP8 expert-parallel"
    assert other.calibration["for"].endswith("TP8 sharded experts")
    assert other.calibration["error_band_pct"] == other_tp_band("H100-SXM")
    dense = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", tensor_parallel=4))
    assert dense.profile["expert_parallel"] is False and dense.derived.ep_groups == 1


def _write(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_measurement_column_checks(tmp_path):
    src = "dcsim/data/measurements/mlenergy_llama-4-maverick-fp8.csv"
    rows = C.read_rows([src])
    assert {C.row_expert_parallel(r) for r in rows} == {8}
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    bad = [dict(r) for r in clean]
    bad[2]["expert_parallel"] = "4"
    _write(tmp_path / "bad.csv", bad)
    with pytest.raises(C.MeasurementError, match=r"bad.csv:4: column 'expert_parallel': must be 1"):
        C.read_rows([tmp_path / "bad.csv"])
    mixed = [dict(r) for r in clean]
    mixed[0]["expert_parallel"] = "1"
    _write(tmp_path / "mixed.csv", mixed)
    with pytest.raises(C.MeasurementError, match=r"mixes expert_parallel values \[1, 8\]"):
        C.calibrate([tmp_path / "mixed.csv"])
    # without the column a file is read as sharded experts (the format before the column)
    plain = [{k: v for k, v in r.items() if k != "expert_parallel"} for r in clean]
    _write(tmp_path / "plain.csv", plain)
    assert {C.row_expert_parallel(r) for r in C.read_rows([tmp_path / "plain.csv"])} == {1}
