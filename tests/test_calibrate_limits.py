"""What ``dcsim calibrate`` tells an energy researcher about the limits of a fit (issue 14.5): a parameter pressed
against its bound is flagged as such and said to be set by it, a fit with too few measurement points is refused
naming the file, a band from few degrees of freedom is widened (or not stated), and ``--predict`` counts the points
outside the band over the points the band covers."""

from __future__ import annotations

import pytest

from dcsim.node.calibrate import (ON_BOUND_REL, PARAM_NAMES, _SCALE, Problem, bound_side, calibrate, format_report,
                                   main)
from dcsim.node.catalog import MEASUREMENT_DIR, pooled_profiles, shipped_profiles
from dcsim.node.model import band_widening, build_node, fit_band, fit_dof
from dcsim.node.predict import format_prediction, predict
from dcsim.scenario.node import NodeSpec

SRC = MEASUREMENT_DIR / "mlenergy_llama-3.1-70b.csv"


def _h100_70b(tmp_path, n: int, name: str, itl: bool = True):
    """The first ``n`` H100 Llama-3.1-70B TP4 load rows of the shipped ML.ENERGY file (header first), optionally
    without their median ITL."""
    lines = SRC.read_text().splitlines()
    rows = [ln for ln in lines[1:] if ",H100-SXM,4," in ln][:n]
    if not itl:
        col = lines[0].split(",").index("median_itl_ms")
        rows = [",".join(v if i != col else "" for i, v in enumerate(ln.split(",", col + 1)[:col + 1]))
                + "," + ln.split(",", col + 1)[col + 1] for ln in rows]
    f = tmp_path / name
    f.write_text("\n".join([lines[0]] + rows) + "\n")
    return f


def _scaled(prof: dict, k: str) -> tuple[float, float, float]:
    """A profile's stored parameter and its bounds, in the fit's scaled units."""
    lo, hi = Problem(prof["gpu"], [], []).bounds()
    i = PARAM_NAMES.index(k)
    return prof["params"][k] / _SCALE[i], lo[i], hi[i]


def test_a_parameter_a_hair_from_its_bound_is_on_it_in_every_shipped_profile():
    """B200 Llama-3.1-70B TP2's power terms, 896.40 and 896.46 W against the 897 W bound (0.07 % of the range), read
    on_bound false while its twin's 896.94 W was flagged: every shipped profile and pooled fit flags a parameter within
    0.1 % of its range of a bound, and only those."""
    profs = list(shipped_profiles().values()) + list(pooled_profiles().values())
    for prof in profs:
        for k, u in prof["uncertainty"].items():
            if "held_at" in u:  # not identified, held at its neutral value and the fit redone without it (no value
                continue        # stored, not fitted, so on no bound: the B200 and A100-SXM4-80GB pools' host wait)
            assert u["on_bound"] == (bound_side(*_scaled(prof, k)) is not None), (prof["name"], k, prof["params"][k])
    assert sum("held_at" in u for p in profs for u in p["uncertainty"].values()) == 2
    b = shipped_profiles()["B200_llama-3.1-70b_bf16_tp2"]
    x, lo, hi = _scaled(b, "p_compute_w")  # 896.40 W: 0.07 % of the range from the bound, inside ON_BOUND_REL
    assert 0 < (hi - x) / (hi - lo) <= ON_BOUND_REL
    assert b["uncertainty"]["p_compute_w"]["on_bound"] and b["uncertainty"]["p_memory_w"]["on_bound"]
    assert "p_compute_w = 896.4 sits on its upper bound (897)" in b["warnings"]


def test_a_refit_flags_the_power_terms_pressed_against_the_board_limit():
    """The fit itself (not only the stored profile) flags B200 Llama-3.1-70B TP2's power terms on their bound, and
    says the bound, not the prior (centred at 538 W), sets them."""
    prof = calibrate([SRC], "B200", "llama-3.1-70b", "bf16", 2)
    for k in ("p_compute_w", "p_memory_w"):
        assert prof["uncertainty"][k]["on_bound"], (k, prof["params"][k])
        assert any(w.startswith(f"{k} = ") and w.endswith("its bound sets it") for w in prof["warnings"]), k
    assert not any(w.startswith("p_compute_w = ") and w.endswith("its prior sets it") for w in prof["warnings"])


def test_the_report_says_the_bound_sets_an_unidentified_parameter_on_it():
    """The report line of a parameter on its bound that the data do not identify names its bound as what sets it;
    an unidentified parameter inside its bounds keeps "its prior sets it"."""
    prof = shipped_profiles()["B200_llama-3.3-70b_bf16_tp2"]
    text = format_report(prof)
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("p_compute_w"))
    assert "not identified: its bound sets it" in line, line
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("mfu"))
    assert "not identified: its prior sets it" in line, line
    # the grouped warning line names the parameters their bounds set
    assert "their priors set them, their bounds p_compute_w, p_memory_w" in text


def test_three_load_points_for_eight_parameters_are_refused_naming_the_file(tmp_path, capsys):
    """Three load rows give 9 values (tokens/s, J/token, median ITL) for 8 free parameters: accepted until December
    2026 (all 8 unidentified, a ±3.6 / ±1.4 % band from one degree of freedom). A point measures at most two
    independent quantities, so 3 points cannot set 8 parameters: refused, naming the file, the group and the counts
    (its 9 values counted as the 6 independent ones the band counts too); nothing written."""
    f = _h100_70b(tmp_path, 3, "three.csv")
    with pytest.raises(ValueError) as e:
        calibrate([f])
    msg = str(e.value)
    assert msg.startswith(f"{f}: H100-SXM/llama-3.1-70b/bf16/TP4: 3 measurement point(s) for 8 free parameters")
    assert "at least 4 distinct points" in msg and "9 measured value(s) of those points count as 6 independent" in msg
    assert "degree(s) of freedom" not in msg
    out = tmp_path / "p.yaml"
    assert main([str(f), "--out", str(out)]) == 2
    assert "under-determined" in capsys.readouterr().err and not out.exists()


def test_cap_rows_do_not_count_as_points_for_the_other_parameters(tmp_path):
    """Two H100 Llama-3.1-70B TP4 load rows with the five Splitwise cap rows: a cap row carries one value and sets
    gamma alone, so the 2 points face the 8 other parameters and are refused (until December 2026 each cap row counted
    as a full point: 7 points for 9 parameters, fitted with none identified and a ±5.6 / ±3.7 % band). A fit with cap
    rows records its load points alone as ``n_points`` and its cap rows apart, the counts the refusal reads."""
    cap = MEASUREMENT_DIR / "splitwise_h100_cap.csv"
    with pytest.raises(ValueError, match=r"2 measurement point\(s\) for 9 free parameters.*at least 4 distinct points.*"
                                         r"the 5 cap row\(s\) set gamma alone, so the points set the other 8"):
        calibrate([_h100_70b(tmp_path, 2, "two.csv"), cap])
    prof = calibrate([_h100_70b(tmp_path, 5, "five.csv"), cap])
    f = prof["fit"]
    assert (f["n_points"], f["n_cap_rows"], f["n_free_params"]) == (5, 5, 9)
    assert fit_dof(f) == 2 * 5 - 8  # the 8 parameters the points set; gamma the cap rows'


def test_a_band_from_four_degrees_of_freedom_is_widened_by_students_t(tmp_path):
    """Six load rows (18 values, but 12 independent: 2 per point) for 8 parameters: 4 degrees of freedom; the band
    the profile states is its worst in-sample error widened by t(0.975, 4) / z(0.975), with a warning saying so (until
    December 2026 the median ITL counted as a third value: 10 degrees of freedom, no widening)."""
    prof = calibrate([_h100_70b(tmp_path, 6, "six.csv")])
    f = prof["fit"]
    assert (f["n_points"], f["n_values"], f["n_free_params"], fit_dof(f)) == (6, 18, 8, 4)
    k = band_widening(4)
    assert prof["error_band_pct"]["tok_s_pct"] == pytest.approx(f["max_err_tok_s_pct"] * k, abs=2e-3)
    assert prof["error_band_pct"]["j_per_tok_pct"] == pytest.approx(f["max_err_j_per_tok_pct"] * k, abs=2e-3)
    assert f"widened x{k:.2f}" in format_report(prof)


def test_a_fit_with_no_degree_of_freedom_states_no_band(tmp_path):
    """Four load rows, with their ITL or without (12 or 8 values): 8 independent values for 8 parameters, the fit can
    pass through every one: the profile states no band (a scenario naming it reads "expected error unknown") and the
    report says why."""
    for itl in (True, False):
        prof = calibrate([_h100_70b(tmp_path, 4, "four.csv", itl=itl)])
        assert prof["fit"]["n_values"] == (12 if itl else 8) and fit_dof(prof["fit"]) == 0
        assert prof["error_band_pct"] == {"tok_s_pct": None, "j_per_tok_pct": None}
        assert "band not determined" in format_report(prof)


def test_a_simulation_states_the_band_its_profile_does(tmp_path):
    """The band a replica built from a profile states (``node.calibration.error_band_pct``) is the band the profile
    states, widened alike: every shipped profile's (its stored ``error_band_pct`` where it has one), B200
    Qwen3-235B-A22B FP8 TP2's, from 1 degree of freedom (5 points for 9 parameters), widened x6.5 (simulations read
    its unwidened in-sample ±4.7 % until December 2026), and a user profile's."""
    for prof in shipped_profiles().values():
        if "error_band_pct" in prof:
            assert prof["error_band_pct"] == fit_band(prof["fit"]), prof["name"]
    prof = shipped_profiles()["B200_qwen3-235b-a22b_fp8_tp2"]
    node = build_node(NodeSpec(gpu="B200", model="qwen3-235b-a22b", precision="fp8", tensor_parallel=2))
    assert node.calibration["profile"] == prof["name"]
    assert node.calibration["error_band_pct"] == fit_band(prof["fit"])
    assert node.calibration["error_band_pct"]["tok_s_pct"] == pytest.approx(
        prof["fit"]["max_err_tok_s_pct"] * band_widening(1), abs=2e-3)
    out = tmp_path / "mine.yaml"
    assert main([str(_h100_70b(tmp_path, 6, "six.csv")), "--out", str(out)]) == 0
    mine = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", tensor_parallel=4, profile=str(out)))
    assert mine.calibration["error_band_pct"] == fit_band(yaml_load(out)["fit"]) == yaml_load(out)["error_band_pct"]


def yaml_load(path):
    import yaml

    return yaml.safe_load(path.read_text())


def test_predict_counts_points_outside_the_band_over_those_it_covers(tmp_path):
    """A profile fitted to five load levels, predicting nine: the table marks the extrapolated ones, and the summary
    counts the points outside the band over the points without a flag and the flagged ones apart (it read "0 of 9
    points outside the stated band" above rows marked "OUTSIDE (extrapolated)"); the header names the profile file."""
    prof_path = tmp_path / "mine.yaml"
    assert main([str(_h100_70b(tmp_path, 5, "five.csv")), "--out", str(prof_path)]) == 0
    res = predict([_h100_70b(tmp_path, 9, "nine.csv")], profile=str(prof_path))
    (g,) = res["groups"]
    pts, s = g["points"], g["summary"]
    plain = [p for p in pts if not p["flags"]]
    flagged = [p for p in pts if p["flags"]]
    assert plain and flagged and len(plain) + len(flagged) == 9
    assert any(p["within_band"] is False for p in flagged)  # a flagged point outside the band
    assert s["points_in_band_range"] == len(plain) and s["flagged_points"] == len(flagged)
    text = format_prediction(res)
    n_out = sum(p["within_band"] is False for p in plain)
    assert f"{n_out} of {len(plain)} point{'s' if len(plain) != 1 else ''} outside the stated band" in text
    assert f"not counted: {sum(p['within_band'] is False for p in flagged)} of {len(flagged)} outside it" in text
    assert "of 9 points outside" not in text
    assert f"from the file {prof_path}" in text.splitlines()[0]
    # a shipped profile is named by its name alone
    shipped = format_prediction(predict([_h100_70b(tmp_path, 9, "nine.csv")]))
    assert "(profile H100-SXM_llama-3.1-70b_bf16_tp4)" in shipped.splitlines()[0]


def test_stored_profile_on_bound_flags_match_their_warnings():
    """A profile's warnings name exactly the parameters its uncertainty record flags on a bound."""
    for prof in list(shipped_profiles().values()) + list(pooled_profiles().values()):
        flagged = sorted(k for k, u in prof["uncertainty"].items() if u["on_bound"])
        warned = sorted(w.split(" = ")[0] for w in prof["warnings"] if " sits on its " in w)
        assert flagged == warned, prof["name"]


def test_every_group_mode_names_a_group_too_small_to_determine_its_fit(tmp_path, capsys, monkeypatch):
    """With several groups, one whose points cannot determine its fit (4 B200 Qwen3-235B-A22B load levels: 4 points
    for 9 free parameters, the MoE dispatch among them) gets no profile and is named apart from the groups of too few
    load levels, with the refusal's own advice (measure more load levels or --pool), not theirs ("select one with
    --gpu/... to fit it anyway", which then raised that refusal); the other groups are fitted. Each group's points are
    checked once (the fitted group's were checked again before its fit)."""
    import dcsim.node.calibrate as cal
    from dcsim.node.calibrate import calibrate_all
    checked = []
    real = cal._underdetermined_reason
    monkeypatch.setattr(cal, "_underdetermined_reason", lambda prob: checked.append(prob.g0.key) or real(prob))

    moe = MEASUREMENT_DIR / "mlenergy_qwen3-235b-a22b-bf16.csv"
    lines = moe.read_text().splitlines()
    b200 = [ln for ln in lines[1:] if ",B200,4," in ln][:4]
    f = tmp_path / "two_groups.csv"
    f.write_text("\n".join([lines[0]] + b200 + _h100_70b(tmp_path, 9, "h.csv").read_text().splitlines()[1:]) + "\n")
    profs, _, few, under = calibrate_all([f])
    assert sorted(k[0] for k in checked) == ["B200", "H100-SXM"]
    assert [p["name"] for p in profs] == ["H100-SXM_llama-3.1-70b_bf16_tp4"]
    assert few == [] and list(under) == ["B200_qwen3-235b-a22b_bf16_tp4"]
    why = under["B200_qwen3-235b-a22b_bf16_tp4"]
    assert why.startswith("4 measurement point(s) for 9 free parameters") and "measure 1 more load level(s)" in why
    assert main([str(f)]) == 0
    out = capsys.readouterr().out
    assert "no profile for 1 group(s) with too few measurement points" in out
    assert f"  B200_qwen3-235b-a22b_bf16_tp4: {why}" in out
    assert "fit it anyway" not in out
    with pytest.raises(ValueError, match="4 measurement point"):  # selected alone: the same refusal
        calibrate([f], gpu="B200")
