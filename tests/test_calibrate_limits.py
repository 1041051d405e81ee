"""What ``dcsim calibrate`` tells an energy researcher about the limits of a fit (issue 14.5): a parameter pressed
against its bound is flagged as such and said to be set by it, a fit with too few measurement points is refused
naming the file, a band from few degrees of freedom is widened (or not stated), and ``--predict`` counts the points
outside the band over the points the band covers."""

from __future__ import annotations

import pytest

from dcsim.node.calibrate import (PARAM_NAMES, _SCALE, Problem, calibrate, format_report, main)
from dcsim.node.catalog import MEASUREMENT_DIR, pooled_profiles, shipped_profiles
from dcsim.node.predict import format_prediction, predict

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


def _bound_distance(prof: dict, k: str) -> float:
    """How far (fraction of its bound range) a profile's stored parameter lies from the nearer bound."""
    lo, hi = Problem(prof["gpu"], [], []).bounds()
    i = PARAM_NAMES.index(k)
    x = prof["params"][k] / _SCALE[i]
    return min(x - lo[i], hi[i] - x) / (hi[i] - lo[i])


def test_a_parameter_a_hair_from_its_bound_is_on_it_in_every_shipped_profile():
    """B200 Llama-3.1-70B TP2's power terms, 896.40 and 896.46 W against the 897 W bound (0.07 % of the range), read
    on_bound false while its twin's 896.94 W was flagged: every shipped profile and pooled fit flags a parameter within
    0.1 % of its range of a bound, and only those."""
    profs = list(shipped_profiles().values()) + list(pooled_profiles().values())
    for prof in profs:
        for k, u in prof["uncertainty"].items():
            assert u["on_bound"] == (_bound_distance(prof, k) <= 1e-3), (prof["name"], k, prof["params"][k])
    b = shipped_profiles()["B200_llama-3.1-70b_bf16_tp2"]
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
    independent quantities, so 3 points cannot set 8 parameters: refused, naming the file, the group and the counts;
    nothing written."""
    f = _h100_70b(tmp_path, 3, "three.csv")
    with pytest.raises(ValueError) as e:
        calibrate([f])
    msg = str(e.value)
    assert msg.startswith(f"{f}: H100-SXM/llama-3.1-70b/bf16/TP4: 3 measurement point(s) for 8 free parameters")
    assert "at least 4 distinct points" in msg and "9 for 8 parameters, 1 degree(s) of freedom" in msg
    out = tmp_path / "p.yaml"
    assert main([str(f), "--out", str(out)]) == 2
    assert "under-determined" in capsys.readouterr().err and not out.exists()


def test_a_band_from_four_degrees_of_freedom_is_widened_by_students_t(tmp_path):
    """Four load rows (12 values, 8 parameters: 4 degrees of freedom) are fitted, and the band the profile states is
    its worst in-sample error widened by t(0.975, 4) / z(0.975) = 1.42, with a warning saying so."""
    from scipy.stats import norm, t

    prof = calibrate([_h100_70b(tmp_path, 4, "four.csv")])
    f = prof["fit"]
    assert f["n_values"] - f["n_free_params"] == 4
    k = t.ppf(0.975, 4) / norm.ppf(0.975)
    assert k == pytest.approx(1.42, abs=0.01)
    assert prof["error_band_pct"]["tok_s_pct"] == pytest.approx(f["max_err_tok_s_pct"] * k, abs=2e-3)
    assert prof["error_band_pct"]["j_per_tok_pct"] == pytest.approx(f["max_err_j_per_tok_pct"] * k, abs=2e-3)
    assert "widened x1.42" in format_report(prof)


def test_a_fit_with_no_degree_of_freedom_states_no_band(tmp_path):
    """Four load rows without their ITL: 8 values for 8 parameters, the fit can pass through every one: the profile
    states no band (a scenario naming it reads "expected error unknown") and the report says why."""
    prof = calibrate([_h100_70b(tmp_path, 4, "four.csv", itl=False)])
    assert prof["fit"]["n_values"] == prof["fit"]["n_free_params"] == 8
    assert prof["error_band_pct"] == {"tok_s_pct": None, "j_per_tok_pct": None}
    assert "band not determined" in format_report(prof)


def test_shipped_profiles_keep_their_band():
    """Every shipped profile has more than a few degrees of freedom: the bands dcsim states are unchanged."""
    for prof in shipped_profiles().values():
        assert prof["fit"]["n_values"] - prof["fit"]["n_free_params"] >= 5, prof["name"]


def test_predict_counts_points_outside_the_band_over_those_it_covers(tmp_path):
    """A profile fitted to four load levels, predicting nine: the table marks the extrapolated ones, and the summary
    counts the points outside the band over the points without a flag and the flagged ones apart (it read "0 of 9
    points outside the stated band" above rows marked "OUTSIDE (extrapolated)"); the header names the profile file."""
    prof_path = tmp_path / "mine.yaml"
    assert main([str(_h100_70b(tmp_path, 4, "four.csv")), "--out", str(prof_path)]) == 0
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


def test_every_group_mode_names_a_group_too_small_to_determine_its_fit(tmp_path, capsys):
    """With several groups, one whose points cannot determine its fit (4 B200 Qwen3-235B-A22B load levels: 4 points
    for 9 free parameters, the MoE dispatch among them) gets no profile and is named, as a group of too few load levels
    is, and the other groups are fitted (it stopped the whole call, or, before the point rule, was fitted)."""
    from dcsim.node.calibrate import calibrate_all

    moe = MEASUREMENT_DIR / "mlenergy_qwen3-235b-a22b-bf16.csv"
    lines = moe.read_text().splitlines()
    b200 = [ln for ln in lines[1:] if ",B200,4," in ln][:4]
    f = tmp_path / "two_groups.csv"
    f.write_text("\n".join([lines[0]] + b200 + _h100_70b(tmp_path, 9, "h.csv").read_text().splitlines()[1:]) + "\n")
    profs, _, few = calibrate_all([f])
    assert [p["name"] for p in profs] == ["H100-SXM_llama-3.1-70b_bf16_tp4"]
    assert few == ["B200_qwen3-235b-a22b_bf16_tp4"]
    assert main([str(f)]) == 0
    assert "too few measurement points" in capsys.readouterr().out
