"""``dcsim calibrate --predict``: dcsim's prediction of measured rows (no fit), set against the band it states."""

from __future__ import annotations

import csv
import json

import pytest

from dcsim.node.catalog import MEASUREMENT_DIR, PROFILE_DIR, shipped_profiles
from dcsim.node.model import band_widening, build_node, fit_dof
from dcsim.node.predict import BAND_RESOLUTION_PCT, main, predict
from dcsim.scenario.node import NodeSpec

PROFILES = shipped_profiles()  # name -> profile
QWEN32 = MEASUREMENT_DIR / "mlenergy_qwen3-32b.csv"


def _one(res: dict, gpu: str, tp: int) -> dict:
    (g,) = [g for g in res["groups"] if g["gpu"] == gpu and g["tensor_parallel"] == tp]
    return g


@pytest.mark.parametrize("csv_name, gpu, tp", [("mlenergy_qwen3-32b.csv", "H100-SXM", 2),
                                                ("mlenergy_llama-3.1-70b.csv", "B200", 2),
                                                ("mlenergy_qwen3-235b-a22b-bf16.csv", "H100-SXM", 8)])
def test_prediction_of_a_profiles_own_rows_is_its_in_sample_fit_and_within_its_band(csv_name, gpu, tp):
    """Predicting the rows a shipped profile was fitted on gives the fit's own values (calibrate and the
    engine's steady state are one computation), hence every point within the band the profile states (its
    worst in-sample error, widened for few degrees of freedom)."""
    g = _one(predict([MEASUREMENT_DIR / csv_name], gpu=gpu, tp=tp), gpu, tp)
    assert g["calibration"]["status"] == "calibrated"
    prof = PROFILES[g["calibration"]["profile"]]
    fitted = {p["max_num_seqs"]: p for p in prof["points"]}
    assert len(g["points"]) == len(fitted)
    for p in g["points"]:
        f = fitted[p["max_num_seqs"]]
        assert p["tok_s"] == pytest.approx(f["tok_s"])
        assert p["tok_s_dcsim"] == pytest.approx(f["tok_s_fit"], rel=1e-4)
        assert p["j_per_tok_dcsim"] == pytest.approx(f["j_per_tok_fit"], rel=1e-4)
        assert p["within_band"] is True
    assert g["summary"]["outside_band"] == 0
    band = g["calibration"]["error_band_pct"]
    worst = max(abs(p["err_tok_s_pct"]) for p in g["points"])
    # the band is this worst point, widened when the fit has few degrees of freedom (B200 Llama-3.1-70B TP2: 4)
    widen = band_widening(fit_dof(prof["fit"]))
    assert worst * widen == pytest.approx(band["tok_s_pct"], abs=BAND_RESOLUTION_PCT * widen)


def test_a_pair_without_its_own_profile_is_predicted_with_its_status_and_band_and_matches_build_node():
    """Qwen3-32B on one H100 has no calibration of its own: its rows were predicted better by the H100 pool without
    Qwen3-32B than by the TP2 profile, so it runs on the pool (transferred, catalog.pool_over_carry; other-tp, the
    TP2 profile, until the twenty-ninth pass) with that leave-one-model-out row's band; the prediction is the steady
    state of the replica build_node returns for that node."""
    g = _one(predict([QWEN32], gpu="H100-SXM", tp=1), "H100-SXM", 1)
    cal = g["calibration"]
    assert cal["status"] == "transferred" and cal["profile"] == "pooled-H100-SXM"
    node = build_node(NodeSpec(gpu="H100-SXM", model="qwen3-32b", tensor_parallel=1))
    assert cal["error_band_pct"] == node.calibration["error_band_pct"]
    assert all(p["within_band"] for p in g["points"])
    # an independent check of one point: tokens/s = batch / mean step of the replica's own steady state
    p0 = g["points"][0]
    with open(QWEN32) as f:
        row = next(r for r in csv.DictReader(f) if r["gpu"] == "H100-SXM" and r["n_gpus"] == "1"
                   and int(r["max_num_seqs"]) == p0["max_num_seqs"])
    assert p0["tok_s"] == pytest.approx(float(row["output_tok_s"]))
    s = node.steady_state(float(row["batch"]), float(row["mean_in"]), float(row["mean_out"]),
                          decode_ctx=float(row["decode_ctx"]), prompt_scv=float(row["prompt_scv"]))
    assert p0["tok_s_dcsim"] == pytest.approx(float(s.throughput_tok_s), rel=1e-4)
    assert p0["j_per_tok_dcsim"] == pytest.approx(float(s.gpu_power_w / s.throughput_tok_s), rel=1e-3)
    assert abs(p0["err_tok_s_pct"]) > 1.0  # a real prediction, not the measurement echoed


def test_a_point_outside_the_band_is_counted_and_flagged_points_are_not(tmp_path):
    """A measurement 50 % above what dcsim predicts lies outside any shipped band and is counted; a batch beyond
    twice the measured range is marked extrapolated and not counted."""
    rows = list(csv.DictReader(open(QWEN32)))
    hdr = list(rows[0])
    pick = [r for r in rows if r["gpu"] == "H100-SXM" and r["n_gpus"] == "2" and r["request_repeats"] == "1"][:3]
    # (the power too: the row's j_per_out_tok must stay power / tokens per second, which the test keeps)
    pick[0] = {**pick[0], "output_tok_s": str(float(pick[0]["output_tok_s"]) * 1.5),
               "gpu_power_w": str(float(pick[0]["gpu_power_w"]) * 1.5)}
    f = tmp_path / "m.csv"
    with open(f, "w", newline="") as fh:
        w = csv.DictWriter(fh, hdr)
        w.writeheader()
        w.writerows(pick)
    g = predict([f])["groups"][0]
    assert [p["within_band"] for p in g["points"]] == [False, True, True]
    assert g["summary"]["outside_band"] == 1


def test_cli_prints_the_table_writes_json_and_refuses_misuse(tmp_path, capsys):
    out = tmp_path / "pred.json"
    assert main([str(QWEN32), "--predict", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "H100-SXM / qwen3-32b / bf16 / TP1: dcsim's transferred replica" in text
    # every group's rows are in what predicts them (the TP1 pair's pool holds them: catalog.pool_over_carry), so none
    # is tested against its band: each says it is in-sample
    assert "outside the stated band" not in text and "repeated requests not predicted" in text and "in-sample" in text
    res = json.loads(out.read_text())
    groups = {(g["gpu"], g["tensor_parallel"]): g for g in res["groups"]}
    assert set(groups) == {("B200", 1), ("H100-SXM", 1), ("H100-SXM", 2)}
    # the written result, not the wording: each group's own file is in-sample, the TP1 pair's through its GPU's pool
    assert {k: [f["pooled"] for f in g["summary"]["in_sample_files"]] for k, g in groups.items()} == {
        ("B200", 1): [False], ("H100-SXM", 1): [True], ("H100-SXM", 2): [False]}
    assert groups[("H100-SXM", 1)]["calibration"]["profile"] == "pooled-H100-SXM"
    assert main([str(QWEN32), "--predict", "--profile", str(tmp_path / "none.yaml")]) == 2
    assert "none.yaml" in capsys.readouterr().err
    assert main([str(QWEN32), "--profile", "H100-SXM_qwen3-32b_bf16_tp2"]) == 2  # --profile needs --predict
    assert "--profile is for --predict" in capsys.readouterr().err
    assert main([str(MEASUREMENT_DIR / "splitwise_h100_cap.csv"), "--predict"]) == 2
    assert "cap rows only" in capsys.readouterr().err


def test_a_user_profile_has_no_band_and_a_group_dcsim_cannot_build_does_not_stop_the_others(tmp_path, capsys):
    # a profile file that states no band (a shipped profile's file without its error_band_pct, as every shipped
    # per-model file was until session 52 regenerated them by their generated_by)
    import yaml

    ship = PROFILE_DIR / "H100-SXM_qwen3-32b_bf16_tp2.yaml"
    bare = tmp_path / "no-band.yaml"
    bare.write_text(yaml.safe_dump({k: v for k, v in yaml.safe_load(ship.read_text()).items() if k != "error_band_pct"},
                                   sort_keys=False))
    g = _one(predict([QWEN32], gpu="H100-SXM", tp=1, profile=str(bare)), "H100-SXM", 1)
    assert g["calibration"]["status"] == "user-profile"
    assert all(p["within_band"] is None for p in g["points"]) and g["summary"]["outside_band"] is None
    # the shipped file given by its path states the band dcsim calibrate wrote into it: a user profile with that band
    g = _one(predict([QWEN32], gpu="H100-SXM", tp=1, profile=str(ship)), "H100-SXM", 1)
    assert g["calibration"]["status"] == "user-profile"
    assert g["calibration"]["error_band_pct"] == yaml.safe_load(ship.read_text())["error_band_pct"]
    assert g["summary"]["outside_band"] is not None
    # named by its name for another TP degree it is dcsim's calibration of that setup: its own band, a lower bound
    g = _one(predict([QWEN32], gpu="H100-SXM", tp=1, profile="H100-SXM_qwen3-32b_bf16_tp2"), "H100-SXM", 1)
    c = g["calibration"]
    assert c["status"] == "other-setup" and c["band_lower_bound"] and c["profile_mismatch"] == ["tensor_parallel"]
    assert c["error_band_pct"]["tok_s_pct"] is not None and g["summary"]["outside_band"] is not None
    rows = list(csv.DictReader(open(QWEN32)))
    bad = [{**r, "model": "no-such-model"} for r in rows[:2]]
    f = tmp_path / "m.csv"
    with open(f, "w", newline="") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        w.writerows(rows + bad)
    res = predict([f])
    assert len(res["groups"]) == 3 and len(res["errors"]) == 1
    assert "no-such-model" in res["errors"][0]["group"]
    assert main([str(f), "--predict"]) == 2  # bad input in part: the others printed, the exit says so
    assert "cannot predict" in capsys.readouterr().out


def test_request_rows_are_predicted_phase_by_phase():
    """Splitwise request rows: prompt time, per-token time, average and peak power, each against the measurement;
    a row is within the request profile's band when its worst value is."""
    g = _one(predict([MEASUREMENT_DIR / "splitwise_a100_requests.csv"], model="llama-2-70b", tp=2),
             "A100-SXM4-80GB", 2)
    assert not g["points"] and len(g["request_points"]) == 10
    assert all(p["within_band"] is True for p in g["request_points"])
    assert 0.0 < g["summary"]["mape_token_time_pct"] < 10.0


def test_the_docs_example_prints_what_docs_node_md_shows(capsys):
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[1] / "docs" / "node.md").read_text()
    assert "dcsim calibrate dcsim/data/measurements/mlenergy_qwen3-32b.csv --predict --gpu H100-SXM --tp 1" in doc
    assert main([str(QWEN32), "--predict", "--gpu", "H100-SXM", "--tp", "1"]) == 0
    for line in capsys.readouterr().out.splitlines():
        assert line.strip() in doc, line


def test_dcsim_calibrate_carries_predict_from_the_top_level_cli(capsys):
    from dcsim.cli import main as dcsim_main
    assert dcsim_main(["calibrate", str(QWEN32), "--predict", "--gpu", "H100-SXM", "--tp", "1"]) == 0
    assert "dcsim's transferred replica" in capsys.readouterr().out
