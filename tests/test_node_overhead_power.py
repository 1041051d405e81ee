"""Power by the kind of overhead (docs/node.md, "Twenty-fourth pass"): every overhead of a step — launch gaps,
per-sequence bookkeeping, the MoE dispatch, the FP8 quantisation — draws P_sync, and a pooled fit leaves the
J/token of a checkpoint whose energy is its own (block-scaled FP8 Qwen3-235B) to that checkpoint's profiles."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dcsim.node.calibrate import OWN_ENERGY_CHECKPOINTS, Problem, groups, read_rows
from dcsim.node.catalog import resolve_gpu, resolve_model
from dcsim.node.levers import resolve_levers
from dcsim.node.perf import PerfParams, derive
from dcsim.node.power import PowerParams
from dcsim.node.step import iteration_step, step_params
from dcsim.scenario.node import LeverSpec

MEAS = Path(__file__).resolve().parents[1] / "dcsim" / "data" / "measurements"


def _moe_step(t_moe_layer_s: float, pw: PowerParams):
    """(dt, P) of a batch-8 decode step of Qwen3-235B on 8 H100s (expert parallel) with the given dispatch cost."""
    d = derive(resolve_model("qwen3-235b-a22b"), "bf16", resolve_levers(LeverSpec(), "bf16"), 8, tp=8)
    perf = PerfParams(mfu=0.5, mbu=0.8, t_layer_s=4e-5, t_seq_layer_s=1e-6, overlap_p=8.0,
                      t_moe_layer_s=t_moe_layer_s, t_fp8_layer_s=0.0)
    return iteration_step(step_params(d, resolve_gpu("H100-SXM"), 8, perf, pw), 0.0, 8.0, 8.0 * 1500.0, 0.0)


def test_moe_dispatch_draws_p_sync_not_p_memory():
    """The dispatch's time is charged at P_sync: with P_sync = 0 a longer dispatch adds time and no dynamic energy
    (until December 2026 it drew P_memory, and the small-batch MoE steps drew 380-400 W per GPU against 231-354 W
    measured); with P_sync > 0 it adds exactly P_sync per GPU over its time."""
    idle = 8 * resolve_gpu("H100-SXM").idle_w
    pw0 = PowerParams(p_compute_w=500.0, p_memory_w=400.0, p_sync_w=0.0, gamma=2.0)
    (t1, p1), (t2, p2) = _moe_step(5e-5, pw0), _moe_step(2e-4, pw0)
    assert t2 - t1 == pytest.approx((2e-4 - 5e-5) * 94, rel=1e-9)  # 94 MoE layers run
    assert (p2 - idle) * t2 == pytest.approx((p1 - idle) * t1, rel=1e-9)  # the same dynamic energy
    pw = replace(pw0, p_sync_w=100.0)
    (u1, q1), (u2, q2) = _moe_step(5e-5, pw), _moe_step(2e-4, pw)
    assert (q2 - idle) * u2 - (q1 - idle) * u1 == pytest.approx(8 * 100.0 * (u2 - u1), rel=1e-9)


@pytest.fixture(scope="module")
def pooled_h100():
    rows = read_rows([MEAS / "mlenergy_qwen3-235b-a22b-fp8.csv", MEAS / "mlenergy_qwen3-8b.csv"])
    gs = groups(rows, "H100-SXM")
    return gs, Problem("H100-SXM", list(gs.values()), [], pooled=True)


def test_pooled_fit_reads_tokens_not_energy_of_own_energy_checkpoint(pooled_h100):
    """A pooled fit's residuals do not move when the block-scaled FP8 checkpoint's J/token does (they move with its
    tokens/s, and with the J/token of every other group); a profile of the checkpoint alone fits its J/token."""
    gs, prob = pooled_h100
    assert ("qwen3-235b-a22b", "fp8") in OWN_ENERGY_CHECKPOINTS
    x = prob.prior_centre()
    base = prob.data_residuals(x, fit_gamma=False)
    fp8 = [g for g in prob.groups if g.key[1] == "qwen3-235b-a22b"]
    dense = [g for g in prob.groups if g.key[1] == "qwen3-8b"][0]
    assert fp8 and all(not g.fit_energy for g in fp8) and dense.fit_energy
    for g in fp8:
        g.j_tok = g.j_tok * 2.0
    assert np.array_equal(prob.data_residuals(x, fit_gamma=False), base)
    for g in fp8:
        g.tok_s = g.tok_s * 2.0
    assert not np.array_equal(prob.data_residuals(x, fit_gamma=False), base)
    r_tok = prob.data_residuals(x, fit_gamma=False)
    dense.j_tok = dense.j_tok * 2.0
    assert not np.array_equal(prob.data_residuals(x, fit_gamma=False), r_tok)
    # its own values counted once (tokens/s only) where the fit checks it has enough data
    assert sum(g.n_values for g in fp8) == sum(len(g.load) for g in fp8)
    own = Problem("H100-SXM", [b for k, b in gs.items() if k[1] == "qwen3-235b-a22b"][:1], [])
    assert own.g0.fit_energy
    r0 = own.data_residuals(x, fit_gamma=False)
    own.g0.j_tok = own.g0.j_tok * 2.0
    assert not np.array_equal(own.data_residuals(x, fit_gamma=False), r0)


def test_a_pool_of_own_energy_checkpoints_alone_fits_their_energy():
    """With no other group to set the shared power, a pooled fit of the block-scaled FP8 checkpoint alone reads its
    J/token (else it would have 5 values for 9 parameters on B200, and refuse)."""
    rows = read_rows([MEAS / "mlenergy_qwen3-235b-a22b-fp8.csv"])
    prob = Problem("B200", list(groups(rows, "B200").values()), [], pooled=True)
    assert all(g.fit_energy for g in prob.groups)
    assert prob.n_values == 2 * sum(len(g.load) for g in prob.groups)
