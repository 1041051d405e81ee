"""The A100-SXM4-40GB: a GPU of its own, calibrated from ML.ENERGY Leaderboard v2.0 (vLLM 0.5.4) and pooled apart
from the A100-SXM4-80GB (docs/node.md, "A100-SXM4-40GB")."""

import csv
import json

import numpy as np

import dcsim
from conftest import DATA, small_scenario
from dcsim.node.catalog import MEASUREMENT_DIR, pooled_profiles, shipped_profiles

FILE = MEASUREMENT_DIR / "mlenergy_v2_a100_40gb.csv"


def _rows() -> list[dict]:
    with open(FILE, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_a_scenario_on_the_40gb_runs_calibrated_on_its_own_stack():
    sc = small_scenario(duration="1 h", **{"controller.tick": "10 min"})
    sc["racks"][0]["node"].update({"gpu": "A100-SXM4-40GB", "model": "llama-3.1-8b", "tensor_parallel": 1,
                                   "max_batch": 256})
    # prompts and answers of the lengths it was measured at (ShareGPT first turns with a system prompt, ~128 tokens
    # by the extraction's rule; answers up to max_tokens 1024, ~480 on average)
    sc["workload"]["classes"] = [{"name": "sharegpt", "share": 1.0, "max_tokens": 1024, "slo_ttft": "2 s", "slo_tpot": "200 ms",
                                  "input": {"kind": "lognormal", "median": 100, "p99": 1000},
                                  "output": {"kind": "lognormal", "median": 400, "p99": 1000}}]
    r = dcsim.run(sc)
    (c,) = r.report["provenance"]["calibration"]
    assert c["status"] == "calibrated" and c["profile"] == "A100-SXM4-40GB_llama-3.1-8b_bf16_tp1"
    assert "vLLM 0.5.4" in c["serving_stack"] and c["stack_current"] is False
    # the note of its own stack, not the Splitwise DB's (OLDER_STACK_NOTE), whatever the note's words
    from dcsim.node.catalog import OLDER_STACK_NOTE, stack_note
    assert c["stack_note"] and c["stack_note"] != OLDER_STACK_NOTE
    assert stack_note(c["serving_stack"], False) == c["stack_note"]
    assert c["error_band_pct"]["tok_s_pct"] < 10 and c["error_band_pct"]["j_per_tok_pct"] < 10


def test_the_40gb_profiles_shipped():
    """The A100-SXM4-40GB groups with a profile of their own: at least 4 load levels and a residual degree of freedom
    (Gemma-2-9B TP1, Gemma-2-27B TP2 and Mistral-Nemo-12B feed the pool only). Each profile's in-sample error and its
    reproduction from the CSV are checked with every shipped profile's (tests/test_calibrate.py)."""
    profs = {n: p for n, p in shipped_profiles().items() if p["gpu"] == "A100-SXM4-40GB"}
    assert sorted(p["model"] for p in profs.values()) == [
        "gemma-2-27b", "gemma-2-2b", "gemma-2-9b", "llama-3.1-70b", "llama-3.1-8b", "mistral-7b-v0.3",
        "mistral-large-2407"]


def test_a_group_with_no_residual_dof_feeds_the_pool_only():
    """Mistral-Nemo-12B's 4 load rows give 8 values for 8 free parameters: an exact fit with no band. Among several
    groups it gets no profile of its own (as a group with fewer than 4 load levels), yet it is pooled."""
    from dcsim.node.calibrate import Problem, cap_rows, calibrate_all, groups, problem_dof, read_rows

    rows = read_rows([FILE])
    nemo = [k for k in groups(rows) if k.model == "mistral-nemo-12b"][0]
    assert problem_dof(Problem(nemo.gpu, [groups(rows)[nemo]], cap_rows(rows, nemo.gpu))) == 0
    res = calibrate_all([FILE])
    assert "A100-SXM4-40GB_mistral-nemo-12b_bf16_tp1" in res.skipped_groups
    assert all(p["model"] != "mistral-nemo-12b" for p in res.profiles)
    assert "A100-SXM4-40GB_mistral-nemo-12b_bf16_tp1" in pooled_profiles()["A100-SXM4-40GB"]["pooled_groups"]
    assert "A100-SXM4-40GB_mistral-nemo-12b_bf16_tp1" not in shipped_profiles()


def test_the_40gb_pool_is_its_own():
    pools = pooled_profiles()
    p40, p80 = pools["A100-SXM4-40GB"], pools["A100-SXM4-80GB"]
    assert p40["measurements"] == ["mlenergy_v2_a100_40gb.csv"]
    assert all(g.startswith("A100-SXM4-40GB_") for g in p40["pooled_groups"])
    assert not any("40GB" in g for g in p80["pooled_groups"]) and "mlenergy_v2_a100_40gb.csv" not in p80["measurements"]
    # its leave-one-model-out table: ten groups of eight models, five meeting issue 14.4's bar (three before the host's
    # per-sequence wait, t_host_seq_s, joined the pool; the two Gemma-2-27B pairs instead of Gemma-2-2B and Gemma-2-9B
    # TP2 while the wait drew idle power: docs/node.md "Twenty-ninth pass")
    lomo = p40["leave_one_model_out"]
    assert len(lomo) == 10
    from dcsim.validation import meets_lomo_bar
    assert sorted(r["profile"] for r in lomo if meets_lomo_bar(r)) == [
        "A100-SXM4-40GB_gemma-2-2b_bf16_tp1", "A100-SXM4-40GB_gemma-2-9b_bf16_tp1",
        "A100-SXM4-40GB_gemma-2-9b_bf16_tp2", "A100-SXM4-40GB_mistral-7b-v0.3_bf16_tp1",
        "A100-SXM4-40GB_mistral-nemo-12b_bf16_tp1"]


def test_rows_are_the_published_figures():
    """Each row is its source JSON: tokens/s as published, J/token = Energy/req / Avg Output Tokens, power their
    product, batch, mean_out and max_num_seqs as published, n_gpus = TP."""
    rows = _rows()
    assert len(rows) == 52
    for r in rows:
        path = r["source"].split(" ", 2)[2]          # "[ML2] ml-energy/benchmark@d0311acf <path>"
        org, model, cfg = path.split("/")[-3:]
        d = json.loads((DATA / "ml-energy-v2" / f"{org}__{model}__{cfg}").read_text())
        assert d["GPU"] == "NVIDIA A100-SXM4-40GB" and d["PP"] == 1 and int(r["n_gpus"]) == d["TP"]
        assert int(r["max_num_seqs"]) == d["Max BS (reqs)"] and abs(float(r["batch"]) - d["Avg BS (reqs)"]) < 1e-3
        assert abs(float(r["mean_out"]) - d["Avg Output Tokens"]) <= 0.005 + 1e-9  # written to 0.01 token
        j = d["Energy/req (J)"] / d["Avg Output Tokens"]
        assert np.isclose(float(r["output_tok_s"]), d["Token tput (tok/s)"], rtol=1e-4)  # written to 0.01 tok/s
        assert np.isclose(float(r["j_per_out_tok"]), j, rtol=1e-4)
        assert np.isclose(float(r["gpu_power_w"]), j * d["Token tput (tok/s)"], rtol=1e-4)  # written to 0.01 W


def test_the_70b_profile_is_rebuilt_by_its_generated_by(tmp_path, monkeypatch):
    """Llama-3.1-70B on 8 GPUs draws 99-120 W per GPU at max_num_seqs 32-128 (summed readings under the summed-power
    floor): calibrate refuses it without --force, so its generated_by records --force, and that command rebuilds it."""
    import shlex

    import yaml

    from dcsim.node.calibrate import main
    from dcsim.node.catalog import PROFILE_DIR

    shipped = shipped_profiles()["A100-SXM4-40GB_llama-3.1-70b_bf16_tp8"]
    argv = shlex.split(shipped["generated_by"])[2:]
    assert "--force" in argv
    monkeypatch.chdir(MEASUREMENT_DIR)  # the profile names its file as given, run from the measurements folder
    out = tmp_path / "p.yaml"
    assert main(argv + ["--out", str(out)]) == 0
    new = yaml.safe_load(out.read_text())
    assert new["generated_by"] == shipped["generated_by"]
    assert new["params"] == yaml.safe_load((PROFILE_DIR / f"{shipped['name']}.yaml").read_text())["params"]
    assert main([a for a in argv if a != "--force"] + ["--out", str(tmp_path / "q.yaml")]) == 2


def test_the_nemo_transfer_says_the_pool_holds_its_own_rows_and_what_its_band_is():
    """Mistral-Nemo-12B on the 40GB runs on the pool (transferred: no profile of its own), but the pool was fitted on
    its 4 measured rows: its ``meaning`` said "no measurement of this model at this precision and TP on this GPU"
    until session 54. It now names the pair's own measurements, says the band (51.82 / 36.14 %) is the pool's worst
    leave-one-model-out error over its models, and quotes the pair's own held-out worst point (22.8 / 15.61 %)."""
    from dcsim.node import build_node
    from dcsim.scenario.node import NodeSpec

    pool = pooled_profiles()["A100-SXM4-40GB"]
    name = "A100-SXM4-40GB_mistral-nemo-12b_bf16_tp1"
    assert name in pool["pooled_groups"] and name not in shipped_profiles()
    c = build_node(NodeSpec(gpu="A100-SXM4-40GB", model="mistral-nemo-12b")).calibration
    assert c["status"] == "transferred"
    lomo = pool["leave_one_model_out"]
    worst = {"tok_s_pct": max(r["max_err_tok_s_pct"] for r in lomo),
             "j_per_tok_pct": max(r["max_err_j_per_tok_pct"] for r in lomo)}
    assert c["error_band_pct"] == worst  # the band is the pool's worst held-out error, over all its models
    (own,) = [r for r in lomo if r["profile"] == name]
    assert own["max_err_tok_s_pct"] < worst["tok_s_pct"]
    m = c["meaning"]
    assert "no measurement" not in m and name in m
    assert f"{own['max_err_tok_s_pct']:g} % tok/s" in m and f"{own['max_err_j_per_tok_pct']:g} % J/token" in m
    # an unmeasured pair on the same pool keeps the transfer's text
    q = build_node(NodeSpec(gpu="A100-SXM4-40GB", model="qwen3-8b")).calibration
    assert q["status"] == "transferred" and "no measurement of this model" in q["meaning"]
