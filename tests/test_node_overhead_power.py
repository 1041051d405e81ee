"""A pooled fit leaves the J/token of a checkpoint whose energy is its own (block-scaled FP8 Qwen3-235B) to that
checkpoint's profiles (docs/node.md, "Twenty-fourth pass"). That the MoE dispatch draws P_sync, like every other
overhead, is tests/test_node_perf.py::test_moe_dispatch_adds_its_time_per_moe_layer_and_draws_sync_power."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dcsim.node.calibrate import OWN_ENERGY_CHECKPOINTS, Problem, groups, read_rows

MEAS = Path(__file__).resolve().parents[1] / "dcsim" / "data" / "measurements"


@pytest.fixture
def pooled_h100():
    """A fresh pool per test: the tests scale its groups' values in place."""
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
