"""A pooled fit leaves the J/token of a checkpoint whose energy is its own (block-scaled FP8 Qwen3-235B) to that
checkpoint's profiles (docs/node.md, "Twenty-fourth pass"). That the MoE dispatch draws P_sync, like every other
overhead, is tests/test_node_perf.py::test_moe_dispatch_adds_its_time_per_moe_layer_and_draws_sync_power."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dcsim.node.calibrate import Problem, energy_is_own, groups, read_rows

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
    assert energy_is_own("qwen3-235b-a22b", "fp8") and not energy_is_own("qwen3-235b-a22b", "bf16")
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


def test_own_energy_is_a_property_of_the_checkpoint_not_of_its_name():
    """energy_is_own reads the model catalog's fp8_scaling (sources in dcsim/data/models.yaml): the block-scaled FP8
    releases (Qwen3, DeepSeek-V3) keep their energy, the per-channel ones (Llama-3.1-405B-FP8, Llama-4-Maverick-FP8)
    and any BF16 checkpoint are pooled whole; a model of unknown scaling is pooled whole too."""
    from dcsim.node.catalog import resolve_model

    for m in ("qwen3-235b-a22b", "qwen3-30b-a3b", "deepseek-v3"):
        assert resolve_model(m).fp8_scaling == "block" and energy_is_own(m, "fp8") and not energy_is_own(m, "bf16")
    for m in ("llama-3.1-405b", "llama-4-maverick"):
        assert resolve_model(m).fp8_scaling == "channel" and not energy_is_own(m, "fp8")
    assert resolve_model("llama-3.1-70b").fp8_scaling is None and not energy_is_own("llama-3.1-70b", "fp8")


def test_pooled_fit_names_the_groups_whose_energy_it_left_out():
    """The pooled fit says which groups' J/token it did not fit: a warning and ``energy_not_fitted`` (written into the
    profile ``dcsim calibrate --pool`` writes); none when every group's energy is pooled."""
    from dcsim.node.calibrate import pooled_fit

    paths = [MEAS / "mlenergy_qwen3-235b-a22b-fp8.csv", MEAS / "mlenergy_qwen3-8b.csv"]
    pf = pooled_fit(paths, "H100-SXM")
    assert pf["energy_not_fitted"] == ["H100-SXM_qwen3-235b-a22b_fp8_tp4", "H100-SXM_qwen3-235b-a22b_fp8_tp8"]
    assert any(w.startswith("energy not fitted for H100-SXM_qwen3-235b-a22b_fp8_tp4, H100-SXM_qwen3-235b-a22b_fp8_tp8")
               for w in pf["warnings"])
    clean = pooled_fit([MEAS / "mlenergy_qwen3-8b.csv", MEAS / "mlenergy_qwen3-14b.csv"], "H100-SXM")
    assert clean["energy_not_fitted"] == [] and not any("energy not fitted" in w for w in clean["warnings"])


def test_a_group_whose_energy_is_not_fitted_drops_its_request_power_too(monkeypatch):
    """A request row's average and peak power are energy too: where a pooled fit leaves a group's energy out, its
    residuals do not move with them and it counts 2 values per request row (prompt and token times), as the
    residuals hold; the other groups' request power still counts."""
    from dcsim.node import calibrate as C

    monkeypatch.setattr(C, "energy_is_own", lambda model, precision: model == "llama-2-70b")
    rows = read_rows([MEAS / "splitwise_a100_requests.csv"])
    prob = Problem("A100-SXM4-80GB", list(groups(rows, "A100-SXM4-80GB").values()), [], pooled=True)
    own = [g for g in prob.groups if not g.fit_energy]
    other = [g for g in prob.groups if g.fit_energy]
    assert {g.key[1] for g in own} == {"llama-2-70b"} and {g.key[1] for g in other} == {"bloom-176b"}
    assert all(g.n_values == 2 * len(g.rq) for g in own) and all(g.n_values == 4 * len(g.rq) for g in other)
    x = prob.prior_centre()
    base = prob.data_residuals(x, fit_gamma=False)
    assert base.size == prob.n_values
    for g in own:
        g.rq_meas = g.rq_meas * np.array([1.0, 1.0, 2.0, 2.0])
    assert np.array_equal(prob.data_residuals(x, fit_gamma=False), base)
    for g in other:
        g.rq_meas = g.rq_meas * np.array([1.0, 1.0, 2.0, 2.0])
    assert not np.array_equal(prob.data_residuals(x, fit_gamma=False), base)


def test_an_under_determined_pool_names_what_each_row_gives():
    """The refusal of an under-determined fit counts what each row gives as the fit reads it: a pooled fit fits no
    median ITL, and a group whose energy is its own gives 1 value per load row."""
    from dcsim.node.calibrate import _check_determined

    rows = read_rows([MEAS / "mlenergy_qwen3-235b-a22b-fp8.csv", MEAS / "mlenergy_qwen3-8b.csv"])
    gs = groups(rows, "H100-SXM")
    prob = Problem("H100-SXM", [gs[k][:1] for k in gs], [], pooled=True)
    with pytest.raises(ValueError) as e:
        _check_determined(prob, "pooled H100-SXM")
    msg = str(e.value)
    assert "median ITL" not in msg and "tokens/s and J/token" in msg
    assert "the energy of H100-SXM_qwen3-235b-a22b_fp8_tp4, H100-SXM_qwen3-235b-a22b_fp8_tp8 is not fitted" in msg
    assert "1 per load row" in msg


def test_transferred_block_scaled_fp8_takes_the_left_out_own_energy_band():
    """A transferred block-scaled FP8 checkpoint (catalog.energy_is_own) is a checkpoint whose J/token the pool did not
    fit: its J/token band is the worst left-out J/token error of the pool's energy_not_fitted groups (H100: Qwen3-235B-
    FP8 TP4 40.38 %, B200: TP2 47.96 %), not the dense band (H100 ±30.83 %), and the record says so. The same model
    in BF16, and a per-channel or unknown-scaling FP8 model, keep the band of their kind."""
    from dcsim.node.catalog import lomo_band, own_energy_band, pooled_profiles
    from dcsim.node.model import build_node
    from dcsim.scenario.node import NodeSpec

    pools = pooled_profiles()
    for gpu in ("H100-SXM", "B200"):
        own = own_energy_band(pools[gpu])
        assert own is not None
        cal = build_node(NodeSpec(gpu=gpu, model="qwen3-32b", precision="fp8", tensor_parallel=1)).calibration
        dense = lomo_band(pools[gpu], moe=False)
        assert cal["status"] == "transferred" and cal["error_band_pct"]["tok_s_pct"] == dense["tok_s_pct"]
        assert cal["error_band_pct"]["j_per_tok_pct"] == own > dense["j_per_tok_pct"]
        assert "block-scaled FP8" in cal["meaning"] and not cal["band_lower_bound"]
        chan = build_node(NodeSpec(gpu=gpu, model="llama-3.1-70b", precision="fp8", tensor_parallel=4)).calibration
        assert chan["error_band_pct"]["j_per_tok_pct"] < own and "block-scaled" not in chan["meaning"]
    assert own_energy_band(pools["A100-SXM4-80GB"]) is None
