"""The host's per-sequence work the GPUs wait on (``t_host_seq_s``, docs/node.md "Twenty-ninth pass") and the pool
chosen over another TP degree's calibration where the pair's own rows say it predicts better."""

from __future__ import annotations

import dataclasses

import pytest

from dcsim.node import build_node
from dcsim.node.calibrate import HOST_SEQ, NEUTRAL, Problem, _warning_lines, groups, pooled_fit, read_rows
from dcsim.node.catalog import MEASUREMENT_DIR, pooled_profiles
from dcsim.node.step import iteration_step, step_params
from dcsim.scenario.node import NodeSpec

A40 = "A100-SXM4-40GB"


def _params(node, **kw):
    return step_params(node.derived, node.gpu, node.gpus_per_replica, dataclasses.replace(node.perf, **kw), node.pw)


@pytest.mark.parametrize("n_decode, prefill", [(1, 0.0), (64, 0.0), (256, 0.0), (128, 512.0)])
def test_host_wait_adds_its_time_per_sequence_at_idle_power(n_decode, prefill):
    """t_host_seq_s lengthens the step by t_host_seq_s x sequences and adds no dynamic energy: the GPUs wait idle,
    so the step's energy above idle is what it was, spread over a longer step (power falls towards idle)."""
    n = build_node(NodeSpec(gpu=A40, model="llama-3.1-8b", tensor_parallel=1))
    h = 2.5e-4
    ctx = n_decode * 700.0
    dt0, p0 = iteration_step(_params(n, **{HOST_SEQ: 0.0}), prefill, n_decode, ctx)
    dt1, p1 = iteration_step(_params(n, **{HOST_SEQ: h}), prefill, n_decode, ctx)
    idle = n.gpu.idle_w * n.gpus_per_replica
    assert dt1 == pytest.approx(dt0 + h * n_decode, rel=1e-12)
    assert (p1 - idle) * dt1 == pytest.approx((p0 - idle) * dt0, rel=1e-9)
    assert idle < p1 < p0


def _rows():
    return read_rows(sorted(MEASUREMENT_DIR.glob("*.csv")))


def test_host_wait_is_free_only_in_a_pool_of_several_depths():
    """Within one model a cost per sequence per step and one per sequence per layer are the same column: a single
    group's fit (a profile) never frees it; a pool over models of different depths does."""
    rows = _rows()
    gs = groups(rows, A40)
    one = next(iter(gs.values()))
    assert not Problem(A40, [one], []).host_seq_free
    assert not Problem(A40, [one], [], pooled=True).host_seq_free  # one depth, even pooled
    assert Problem(A40, list(gs.values()), [], pooled=True).host_seq_free


def test_a_held_term_is_refitted_on_a_fresh_problem_not_by_mutating_the_first():
    """Holding the host wait at its neutral value builds a new problem (fixed=...): the first keeps it free (its
    cached prior mask too), the new one fits without it; only terms with a neutral value can be held."""
    gs = groups(_rows(), A40)
    prob = Problem(A40, list(gs.values()), [], pooled=True)
    m0 = prob.free().copy()
    held = prob.holding([HOST_SEQ])
    assert held is not prob and held.fixed == {HOST_SEQ} and NEUTRAL[HOST_SEQ] == 0.0
    assert prob.host_seq_free and not held.host_seq_free
    assert (prob.free() == m0).all() and held.free().sum() == m0.sum() - 1
    assert len(held.groups) == len(prob.groups) and held.n_values == prob.n_values
    with pytest.raises(ValueError, match="no neutral value"):
        Problem(A40, list(gs.values()), [], pooled=True, fixed=("mfu",))


def test_the_report_prints_that_an_unidentified_host_wait_was_held_at_0():
    """The A100-SXM4-80GB pool's rows do not identify the host wait: its uncertainty record stays (identified False,
    held_at 0) and the report's warning lines, rebuilt from the record, say it was held at 0 (the stored note alone
    was stripped with the other not-identified warnings and never printed)."""
    pf = pooled_fit(sorted(MEASUREMENT_DIR.glob("*.csv")), "A100-SXM4-80GB")
    u = pf["uncertainty"][HOST_SEQ]
    assert u["identified"] is False and u["held_at"] == 0.0 and u["rel_se_data"] > 0.5
    lines = _warning_lines(pf["warnings"], pf["uncertainty"], pf["params"])
    assert any(HOST_SEQ in ln and "held at 0" in ln for ln in lines), lines
    # alone (no other parameter unidentified) it gets its own line, with the same wording
    alone = {HOST_SEQ: u, "mfu": {**u, "identified": True}}
    line, = [ln for ln in _warning_lines(pf["warnings"], alone, pf["params"]) if HOST_SEQ in ln]
    assert line.startswith(f"warning: {HOST_SEQ} is not identified") and "held at 0" in line


def test_pools_state_the_host_wait_only_where_their_data_identify_it():
    """The A100-SXM4-40GB pool (vLLM 0.5.4, models of 26-88 layers) identifies a host wait per sequence per step; a
    pool whose data do not identify it (the A100-SXM4-80GB's Splitwise rows: BLOOM-176B and Llama-2-70B, 70 and 80
    layers) holds it at 0, says so, and writes no value (every other profile reads 0); the shipped H100 and B200 pools,
    whose leave-one-model-out tables the rule leaves unchanged, state none."""
    pools = pooled_profiles()
    p = pools[A40]
    assert 5e-5 < p["params"][HOST_SEQ] < 1e-3
    assert p["uncertainty"][HOST_SEQ]["identified"] and not p["uncertainty"][HOST_SEQ]["on_bound"]
    for g in ("H100-SXM", "B200", "A100-SXM4-80GB"):
        assert HOST_SEQ not in pools[g]["params"], g
    pf = pooled_fit(sorted(MEASUREMENT_DIR.glob("*.csv")), "A100-SXM4-80GB")
    assert HOST_SEQ not in pf["params"]
    assert any(w.startswith(HOST_SEQ + " is not identified") and "held at 0" in w for w in pf["warnings"])
    shipped = pools["A100-SXM4-80GB"]["params"]  # the shipped pool, fitted before the term existed
    assert pf["params"].keys() == shipped.keys()
    assert all(pf["params"][k] == pytest.approx(v, rel=1e-4, abs=1e-12) for k, v in shipped.items())


@pytest.mark.parametrize("model, tp", [("gemma-2-9b", 1), ("gemma-2-27b", 2)])
def test_a_measured_pair_runs_on_the_pool_where_it_beats_the_other_tp_carry(model, tp):
    """Gemma-2-9B TP1 and Gemma-2-27B TP2 on the A100-SXM4-40GB have no profile of their own (too few load levels);
    their rows were predicted better by the pool without the model (leave-one-model-out) than by the model's other TP
    degree's calibration (cross_tp), so they run on the pool, with their own leave-one-model-out row as the band."""
    n = build_node(NodeSpec(gpu=A40, model=model, tensor_parallel=tp))
    rec = n.calibration
    assert rec["status"] == "transferred"
    pool = pooled_profiles()[A40]
    name = f"{A40}_{model}_bf16_tp{tp}"
    lomo = next(r for r in pool["leave_one_model_out"] if r["profile"] == name)
    carry = next(r for r in pool["cross_tp"] if r["profile"] == name)
    assert max(lomo["max_err_tok_s_pct"], lomo["max_err_j_per_tok_pct"]) < \
        max(carry["max_err_tok_s_pct"], carry["max_err_j_per_tok_pct"])
    assert rec["error_band_pct"] == {"tok_s_pct": lomo["max_err_tok_s_pct"], "j_per_tok_pct": lomo["max_err_j_per_tok_pct"]}
    assert n.perf.t_host_seq_s == pool["params"][HOST_SEQ]


def test_an_unmeasured_tp_keeps_the_carry():
    """No rows at Gemma-2-9B TP4: nothing says the pool is better, so the TP2 calibration is carried (other-tp)."""
    assert build_node(NodeSpec(gpu=A40, model="gemma-2-9b", tensor_parallel=4)).calibration["status"] == "other-tp"
