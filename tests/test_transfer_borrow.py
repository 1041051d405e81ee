"""Transfer of the MoE dispatch and FP8 cost to a GPU whose own data do not identify them (issue 14.4).

A pooled fit with no MoE model fixes the MoE dispatch at 0: not a measurement of 0. A transfer (and the
leave-one-model-out table that judges transfers) takes it from the pools that identify it instead.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dcsim.node import build_node
from dcsim.node.calibrate import (PARAM_NAMES, _SCALE, Problem, _error_row, _group_metrics, groups,
                                  leave_one_model_out, read_rows)
from dcsim.node.catalog import MEASUREMENT_DIR, borrow_unidentified, lomo_band, pooled_profiles
from dcsim.scenario.node import NodeSpec


def test_borrow_takes_only_what_the_own_data_leave_unidentified():
    own = {"mfu": 0.5, "t_moe_layer_s": 0.0, "t_fp8_layer_s": 2e-5}
    unc = {"mfu": {"se": 0.01}, "t_fp8_layer_s": {"se": 1e-6}}           # FP8 identified, MoE not
    donors = [("X", {"mfu": 0.9, "t_moe_layer_s": 8e-5, "t_fp8_layer_s": 9e-5}, {"t_moe_layer_s": {}, "t_fp8_layer_s": {}}),
              ("Y", {"mfu": 0.9, "t_moe_layer_s": 6e-5, "t_fp8_layer_s": 0.0}, {"t_moe_layer_s": {}}),
              ("Z", {"mfu": 0.9, "t_moe_layer_s": 0.0, "t_fp8_layer_s": 0.0}, {})]   # identifies neither
    params, borrowed = borrow_unidentified(own, unc, donors)
    assert params == {"mfu": 0.5, "t_moe_layer_s": pytest.approx(7e-5, rel=1e-12), "t_fp8_layer_s": 2e-5}
    assert borrowed == {"t_moe_layer_s": ["X", "Y"]}
    assert own["t_moe_layer_s"] == 0.0                                      # the input is not changed
    assert borrow_unidentified(own, unc, donors[2:]) == (own, {})           # no donor identifies it: stays 0


def test_an_moe_model_on_a_gpu_with_no_moe_measurement_gets_a_dispatch_cost():
    pools = pooled_profiles()
    a100 = pools["A100-SXM4-80GB"]
    assert "t_moe_layer_s" not in a100["uncertainty"] and a100["params"]["t_moe_layer_s"] == 0.0
    donors = [g for g, p in pools.items() if "t_moe_layer_s" in p["uncertainty"]]
    assert sorted(donors) == ["B200", "H100-SXM"]
    moe = build_node(NodeSpec(gpu="A100-SXM4-80GB", model="mixtral-8x7b", tensor_parallel=2))
    assert moe.calibration["status"] == "transferred"
    assert moe.profile["borrowed"]["t_moe_layer_s"] == donors
    assert moe.perf.t_moe_layer_s == pytest.approx(np.mean([pools[g]["params"]["t_moe_layer_s"] for g in donors]))
    # the record (hence the run's warning and report) says where the dispatch came from; BF16: no FP8 cost charged
    assert moe.calibration["borrowed"] == {"t_moe_layer_s": donors}
    assert moe.calibration["meaning"].endswith("; MoE dispatch from the B200, H100-SXM pooled fits (none measured "
                                               "on A100-SXM4-80GB)")
    # the band of an MoE transfer covers the donors' MoE transfer errors, not only A100's dense ones
    band = moe.calibration["error_band_pct"]
    for g in donors:
        assert band["tok_s_pct"] >= lomo_band(pools[g], True)["tok_s_pct"]
    assert band["tok_s_pct"] >= lomo_band(a100, True)["tok_s_pct"]
    # the dispatch is time the step takes: a decode step of 8 sequences is slower by exactly its cost
    no = dataclasses.replace(moe, perf=dataclasses.replace(moe.perf, t_moe_layer_s=0.0))
    t1 = moe.step_fn()(0.0, 8.0, 8000.0)[0]
    t0 = no.step_fn()(0.0, 8.0, 8000.0)[0]
    assert t1 - t0 == pytest.approx(moe.perf.t_moe_layer_s * moe.derived.moe_layers_run, rel=1e-9)
    # a dense model's transfer is not changed by it
    dense = build_node(NodeSpec(gpu="A100-SXM4-80GB", model="llama-3.1-8b", tensor_parallel=1))
    assert dense.calibration["error_band_pct"] == lomo_band(a100, False)
    assert dense.calibration["borrowed"] == {} and "pooled fit" not in dense.calibration["meaning"]


def test_leave_one_model_out_borrows_from_the_other_gpus_without_the_left_out_model(monkeypatch):
    # B200: Gemma-3-27B and Qwen3-235B-FP8; H100: the same two and Qwen3-30B-A3B. Leaving Qwen3-235B out leaves
    # B200 no MoE model; H100 without Qwen3-235B still has one (Qwen3-30B-A3B) and lends its dispatch
    import dcsim.node.calibrate as cal

    paths = [MEASUREMENT_DIR / f for f in ("mlenergy_gemma-3-27b.csv", "mlenergy_qwen3-235b-a22b-fp8.csv",
                                           "mlenergy_qwen3-30b-a3b.csv")]
    fits = {}
    real = cal.pooled_fit

    def recording(paths_, gpu, exclude_models=(), *a, **k):   # the pooled fits the table ran, kept to check it
        fits[(gpu, tuple(exclude_models))] = r = real(paths_, gpu, exclude_models, *a, **k)
        return r

    monkeypatch.setattr(cal, "pooled_fit", recording)
    out = {r["profile"]: r for r in leave_one_model_out(paths, "B200")}
    q = out["B200_qwen3-235b-a22b_fp8_tp2"]
    assert q["borrowed"] == {"t_moe_layer_s": ["H100-SXM"]}        # FP8 cost: no donor identifies it here
    assert "borrowed" not in out["B200_gemma-3-27b_bf16_tp1"]      # dense: nothing needed
    own, donor = fits[("B200", ("qwen3-235b-a22b",))], fits[("H100-SXM", ("qwen3-235b-a22b",))]
    assert set(fits) == {("B200", ("qwen3-235b-a22b",)), ("B200", ("gemma-3-27b",)), ("H100-SXM", ("qwen3-235b-a22b",))}
    assert own["params"]["t_moe_layer_s"] == 0.0 and donor["params"]["t_moe_layer_s"] > 1e-5
    assert "qwen3-235b-a22b" not in " ".join(donor["pooled_groups"])
    # the row is the left-out group predicted with the B200 pool's parameters and the donor's dispatch
    rows = read_rows(paths)
    prob = Problem("B200", [groups(rows, "B200")[("B200", "qwen3-235b-a22b", "fp8", 2)]], [])
    res = {}
    for name, t_moe in (("borrowed", donor["params"]["t_moe_layer_s"]), ("zero", 0.0)):
        pv = np.array([{**dict.fromkeys(PARAM_NAMES, 0.0), **own["params"], "t_moe_layer_s": t_moe}[k]
                       for k in PARAM_NAMES]) / _SCALE
        res[name] = _error_row(*_group_metrics(prob, prob.g0, *prob.unpack(pv)))
    assert {k: q[k] for k in res["borrowed"]} == res["borrowed"]
    assert res["borrowed"] != res["zero"]


def test_leave_one_model_out_points_are_the_signed_errors_behind_the_row():
    """``points=True`` lists each left-out point with its signed errors (docs/node.md, twenty-third pass: the failing
    pairs tabulated by sign); they are the row's figures before the absolute value is taken, and a load point's power
    is the CSV's per GPU, so J/token's error is power's error over tokens/s's."""
    import csv

    paths = [MEASUREMENT_DIR / f for f in ("mlenergy_gemma-3-27b.csv", "mlenergy_qwen3-32b.csv",
                                           "splitwise_a100_requests.csv")]
    for gpu in ("H100-SXM", "A100-SXM4-80GB"):
        plain = leave_one_model_out(paths, gpu)
        rows = leave_one_model_out(paths, gpu, points=True)
        assert all("points" not in r for r in plain)                 # the shipped tables keep their shape
        for a, r in zip(plain, rows):
            assert {k: v for k, v in r.items() if k != "points"} == a
            et = np.array([p["err_tok_s_pct"] for p in r["points"]])
            ej = np.array([p["err_j_per_tok_pct"] for p in r["points"]])
            assert len(et) == r["n_points"]
            assert np.mean(np.abs(et)) == pytest.approx(r["mape_tok_s_pct"], abs=0.01)
            assert np.mean(np.abs(ej)) == pytest.approx(r["mape_j_per_tok_pct"], abs=0.01)
            assert np.max(np.abs(et)) == pytest.approx(r["max_err_tok_s_pct"], abs=0.01)
            assert np.max(np.abs(ej)) == pytest.approx(r["max_err_j_per_tok_pct"], abs=0.01)
    # load points: measured power per GPU from the CSV; J/token's error = power's error over tokens/s's
    h100 = {r["profile"]: r for r in leave_one_model_out(paths, "H100-SXM", points=True)}
    q = h100["H100-SXM_qwen3-32b_bf16_tp2"]["points"]
    csv_w = {int(r["max_num_seqs"]): float(r["gpu_power_w"]) / 2 for r in csv.DictReader(open(paths[1]))
             if r["gpu"] == "H100-SXM" and r["n_gpus"] == "2" and r["request_repeats"] == "1"}
    assert {p["max_num_seqs"] for p in q} == set(csv_w)
    for p in q:
        assert p["gpu_w_measured"] == pytest.approx(csv_w[p["max_num_seqs"]], abs=0.06)
        w_err = p["gpu_w_predicted"] / p["gpu_w_measured"]
        assert 1 + p["err_j_per_tok_pct"] / 100 == pytest.approx(w_err / (1 + p["err_tok_s_pct"] / 100), rel=2e-3)
