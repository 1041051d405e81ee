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
def test_host_wait_adds_its_time_per_sequence_at_p_sync(n_decode, prefill):
    """t_host_seq_s lengthens the step by t_host_seq_s x sequences and, like every overhead (launch gaps, MoE dispatch,
    FP8 quantisation), draws P_sync for it: the step's energy above idle grows by tp x P_sync x the wait (until the
    twenty-ninth pass's review it drew idle power, and predicted power fell with the host's share where the measured
    power is flat: docs/node.md)."""
    n = build_node(NodeSpec(gpu=A40, model="llama-3.1-8b", tensor_parallel=1))
    h = 2.5e-4
    ctx = n_decode * 700.0
    dt0, p0 = iteration_step(_params(n, **{HOST_SEQ: 0.0}), prefill, n_decode, ctx)
    dt1, p1 = iteration_step(_params(n, **{HOST_SEQ: h}), prefill, n_decode, ctx)
    idle = n.gpu.idle_w * n.gpus_per_replica
    assert p1 < n.gpu.tdp_w  # unthrottled: clock 1
    assert dt1 == pytest.approx(dt0 + h * n_decode, rel=1e-12)
    assert (p1 - idle) * dt1 == pytest.approx((p0 - idle) * dt0
                                              + n.gpus_per_replica * n.pw.p_sync_w * h * n_decode, rel=1e-9)
    assert p1 > idle + n.pw.p_sync_w * h * n_decode / dt1


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
    refit of the B200 pool (ML.ENERGY v3 rows, models of 46-126 layers) does not identify it: it is held at 0, said so,
    no value written and the fit is the shipped B200 pool's (fitted before the term existed). (The H100 pool's rows
    identify 22 us since the wait draws P_sync; that pool was not refitted: docs/node.md, the twenty-ninth pass's
    review.)"""
    pools = pooled_profiles()
    a40 = pools[A40]
    assert 1e-4 < a40["params"][HOST_SEQ] < 1e-3
    assert a40["uncertainty"][HOST_SEQ]["identified"] and not a40["uncertainty"][HOST_SEQ]["on_bound"]
    pf = pooled_fit(sorted(MEASUREMENT_DIR.glob("*.csv")), "B200")
    u = pf["uncertainty"][HOST_SEQ]
    assert HOST_SEQ not in pf["params"] and u["identified"] is False and u["held_at"] == 0.0
    assert u["rel_se_data"] > 1.0  # far from identified, not at the edge
    assert any(w.startswith(HOST_SEQ + " is not identified") and "held at 0" in w for w in pf["warnings"])
    shipped = pools["B200"]["params"]
    assert pf["params"].keys() == shipped.keys()
    assert all(pf["params"][k] == pytest.approx(v, rel=1e-4, abs=1e-12) for k, v in shipped.items())


@pytest.mark.parametrize("gpu, model, tp", [(A40, "gemma-2-9b", 1), ("H100-SXM", "qwen3-32b", 1)])
def test_a_measured_pair_runs_on_the_pool_where_it_beats_the_other_tp_carry(gpu, model, tp):
    """A100-SXM4-40GB Gemma-2-9B TP1 and H100 Qwen3-32B TP1 have no profile of their own; their rows were predicted
    better by the pool without the model (leave-one-model-out) than by the model's other TP degree's calibration
    (cross_tp), so they run on the pool. The choice was made on those rows and the pool that runs holds them, so the
    band is the worse of the two held-out predictions per quantity (not the smaller one chosen), and the meaning says
    the pool holds the pair's measurements and names the carry it bypassed (not "no measurement")."""
    n = build_node(NodeSpec(gpu=gpu, model=model, tensor_parallel=tp))
    rec = n.calibration
    assert rec["status"] == "transferred"
    pool = pooled_profiles()[gpu]
    name = f"{gpu}_{model}_bf16_tp{tp}"
    lomo = next(r for r in pool["leave_one_model_out"] if r["profile"] == name)
    carry = next(r for r in pool["cross_tp"] if r["profile"] == name)
    assert max(lomo["max_err_tok_s_pct"], lomo["max_err_j_per_tok_pct"]) < \
        max(carry["max_err_tok_s_pct"], carry["max_err_j_per_tok_pct"])
    assert rec["error_band_pct"] == {"tok_s_pct": max(lomo["max_err_tok_s_pct"], carry["max_err_tok_s_pct"]),
                                     "j_per_tok_pct": max(lomo["max_err_j_per_tok_pct"],
                                                          carry["max_err_j_per_tok_pct"])}
    assert "no measurement" not in rec["meaning"] and "hold this pair's own measurements" in rec["meaning"]
    assert carry["from"] in rec["meaning"] and name in rec["source_profiles"]
    assert n.perf.t_host_seq_s == pool["params"].get(HOST_SEQ, 0.0)


def test_a_pair_whose_pool_row_is_not_better_keeps_the_carry():
    """A100-SXM4-40GB Gemma-2-27B TP2: since the host wait draws P_sync the pool without Gemma-2-27B predicts its rows
    at worst 19.75 % (J/token), the TP4 calibration at 19.69 % (tokens/s): not better, so the carry runs (other-tp)."""
    assert build_node(NodeSpec(gpu=A40, model="gemma-2-27b", tensor_parallel=2)).calibration["status"] == "other-tp"


def test_an_unmeasured_tp_keeps_the_carry():
    """No rows at Gemma-2-9B TP4: nothing says the pool is better, so the TP2 calibration is carried (other-tp)."""
    assert build_node(NodeSpec(gpu=A40, model="gemma-2-9b", tensor_parallel=4)).calibration["status"] == "other-tp"


def test_a_pool_over_carry_pair_with_a_lever_says_both():
    """A pair run on its GPU's pool over its other-TP carry, with a serving lever on: lever-modelled, and its meaning
    gives the levers' wording and the pool's (final review, 2026-12-05: the pool's wording replaced the levers')."""
    from dcsim.node import build_node
    from dcsim.scenario.node import NodeSpec

    c = build_node(NodeSpec(gpu="A100-SXM4-40GB", model="gemma-2-9b", tensor_parallel=1,
                            levers={"preset": "fp8-kv"})).calibration
    assert c["status"] == "lever-modelled" and c["band_lower_bound"]
    assert "serving levers" in c["meaning"] and "pooled fit, whose data hold this pair's own" in c["meaning"]


def test_pool_over_carry_is_a_field_of_the_record_and_stays_with_its_gpu():
    """The pool-over-carry choice is the calibration record's own field (the carry bypassed, both worst errors on the
    pair's rows), not a key riding in the profile dict: H200 Qwen3-32B TP1 runs on the H100's profile for the pair
    (same silicon) and once inherited that key, its meaning calling the H100's pool "this GPU's pooled fit"."""
    from dcsim.node import build_node
    from dcsim.scenario.node import NodeSpec

    h100 = build_node(NodeSpec(gpu="H100-SXM", model="qwen3-32b", tensor_parallel=1, precision="bf16")).calibration
    poc = h100["pool_over_carry"]
    assert h100["status"] == "transferred" and poc["carry_from"] == "H100-SXM_qwen3-32b_bf16_tp2"
    assert max(poc["pool_pct"].values()) < max(poc["carry_pct"].values())  # why the pool runs it
    assert h100["error_band_pct"] == {q: max(poc["pool_pct"][q], poc["carry_pct"][q]) for q in poc["pool_pct"]}
    h200 = build_node(NodeSpec(gpu="H200", model="qwen3-32b", tensor_parallel=1, precision="bf16")).calibration
    assert h200["status"] == "same-silicon" and h200["pool_over_carry"] is None
    assert "this GPU's pooled fit" not in h200["meaning"] and "same die" in h200["meaning"]
    assert h200["error_band_pct"] == h100["error_band_pct"]  # the sibling's band, as before


def test_iteration_time_charges_the_host_wait_as_the_step_does():
    """dcsim.node.perf.iteration_time (the roofline time steady_iteration and the utilisations read) is the step's
    time at clock 1: with the host wait it too adds t_host_seq_s x sequences (it left it out until session 52's
    review: 43.5 ms against the step's 59.5 ms at batch 64 with 250 us per sequence)."""
    from dcsim.node.perf import iteration_time

    n = build_node(NodeSpec(gpu=A40, model="llama-3.1-8b", tensor_parallel=1))
    perf = dataclasses.replace(n.perf, **{HOST_SEQ: 2.5e-4})
    for prefill, n_decode in ((0.0, 64.0), (512.0, 128.0)):
        ctx = n_decode * 700.0
        pctx = prefill ** 2 / 2
        dt, _ = iteration_step(_params(n, **{HOST_SEQ: 2.5e-4}), prefill, n_decode, ctx, pctx)
        t, _, _ = iteration_time(n.derived, n.gpu, n.gpus_per_replica, perf, prefill, n_decode, ctx, pctx)
        assert float(t) == pytest.approx(dt, rel=1e-9), (prefill, n_decode)
