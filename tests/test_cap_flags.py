"""Extrapolation flags that travel with the profile and the run: a profile ``dcsim calibrate`` fitted judges a board
limit by the lowest cap its own rows measured (``fit.min_cap_frac``), not by the shipped H100 cap rows."""

from __future__ import annotations

import pytest
import yaml

from conftest import small_scenario
from dcsim.engine.build import build_models
from dcsim.node.calibrate import main
from dcsim.node.catalog import MEASUREMENT_DIR
from dcsim.scenario import load_scenario

SRC = MEASUREMENT_DIR / "mlenergy_llama-3.1-70b.csv"
CAP = MEASUREMENT_DIR / "splitwise_h100_cap.csv"


def _load_rows(tmp_path, n: int = 6):
    """The first ``n`` H100 Llama-3.1-70B TP4 load rows of the shipped ML.ENERGY file (header first)."""
    lines = SRC.read_text().splitlines()
    f = tmp_path / "load.csv"
    f.write_text("\n".join([lines[0]] + [ln for ln in lines[1:] if ",H100-SXM,4," in ln][:n]) + "\n")
    return f


def _cap_rows_at(tmp_path, frac: float):
    """Splitwise's five H100 cap rows, read as measured at ``frac`` x TDP (a user's own capped measurement)."""
    lines = CAP.read_text().splitlines()
    f = tmp_path / f"cap_{frac:g}.csv"
    f.write_text("\n".join([lines[0]] + [ln.replace(",0.7,", f",{frac:g},", 1) for ln in lines[1:]]) + "\n")
    return f


def _calibrate(tmp_path, *csvs) -> str:
    out = tmp_path / "mine.yaml"
    assert main([str(c) for c in csvs] + ["--out", str(out)]) == 0
    return str(out)


def _calibration(profile: str, frac: float) -> dict:
    sc = small_scenario(duration="1 h")
    sc["racks"][0]["node"].update(profile=profile, power_cap=frac * 700.0)
    return build_models(load_scenario(sc)).groups[0].node.calibration


def test_a_user_profile_with_its_own_cap_rows_is_judged_by_them(tmp_path):
    """A profile fitted to the user's cap rows measured at 0.5 x TDP records ``min_cap_frac`` 0.5: a run at 0.6 x TDP
    is within what it measured (it was flagged EXTRAPOLATED CAP against the shipped 0.7 until December 2026), one at
    0.45 x TDP is beyond it, and the warning names the profile's rows, not the GPU's."""
    prof = _calibrate(tmp_path, _load_rows(tmp_path), _cap_rows_at(tmp_path, 0.5))
    assert yaml.safe_load(open(prof))["fit"]["min_cap_frac"] == 0.5
    c = _calibration(prof, 0.6)
    assert c["cap_extrapolated"] is False and c["measured_cap_min_frac"] == 0.5 and c["cap_min_of"] == "profile"
    c = _calibration(prof, 0.45)
    assert c["cap_extrapolated"] is True and c["measured_cap_min_frac"] == 0.5
    from dcsim.node.model import cap_text
    assert "below the lowest cap the rows of its profile" in cap_text(c) and "(0.50x TDP)" in cap_text(c)


def test_a_run_on_a_user_profile_beyond_its_own_caps_names_the_profile_in_its_caveat(tmp_path):
    """The run's record carries ``cap_min_of``: a run at 0.45 x TDP on a profile whose cap rows were measured at
    0.5 x TDP says, in ``Result.caveats`` and the summary, that it is below the lowest cap the profile's rows were
    measured at, not "below the lowest cap measured on H100-SXM" (what it said before, the record without the key)."""
    import dcsim
    from conftest import squash
    from dcsim.report.summary import summary_table

    prof = _calibrate(tmp_path, _load_rows(tmp_path), _cap_rows_at(tmp_path, 0.5))
    sc = small_scenario(duration="1 h", **{"controller.tick": "10 min"})
    sc["racks"][0]["node"].update(profile=prof, power_cap=0.45 * 700.0)
    r = dcsim.run(sc)
    (c,) = r.report["provenance"]["calibration"]
    assert c["cap_min_of"] == "profile" and c["cap_extrapolated"] is True
    (cav,) = [k for k in r.caveats if k.startswith("EXTRAPOLATED CAP")]
    assert "below the lowest cap the rows of its profile" in cav and "(0.50x TDP)" in cav
    assert "measured on H100-SXM" not in cav
    text = squash(summary_table(r.report))
    assert "below the lowest cap the rows of its profile" in text and "measured on H100-SXM" not in text


def test_a_user_profile_without_cap_rows_is_not_judged_by_the_shipped_ones(tmp_path):
    """A profile fitted to load rows alone (γ an assumption) measured nothing below the full board limit: at
    0.7 x TDP it is extrapolated (until December 2026 the shipped H100 cap rows passed it as measured), and the
    warning says its rows hold no capped measurement. dcsim's own H100 calibration at 0.7 x TDP is not flagged."""
    prof = _calibrate(tmp_path, _load_rows(tmp_path))
    assert yaml.safe_load(open(prof))["fit"]["min_cap_frac"] == 1.0
    c = _calibration(prof, 0.7)
    assert c["cap_extrapolated"] is True and c["measured_cap_min_frac"] == 1.0 and c["cap_min_of"] == "profile"
    from dcsim.node.model import cap_text
    assert "hold no capped measurement" in cap_text(c)
    sc = small_scenario(duration="1 h")
    sc["racks"][0]["node"]["power_cap"] = 0.7 * 700.0
    shipped = build_models(load_scenario(sc)).groups[0].node.calibration
    assert shipped["cap_extrapolated"] is False and shipped["measured_cap_min_frac"] == 0.7
    assert shipped["cap_min_of"] == "profile"  # its own fit's 0.7, the GPU's figure too


def test_an_older_user_profile_says_what_it_can(tmp_path):
    """A profile written before ``min_cap_frac``: fitted without cap rows (γ an assumption) it is judged at the full
    board limit; fitted to cap rows at a level it does not state, by the GPU's shipped figure (today's answer)."""
    from dcsim.node.model import own_cap_frac

    assert own_cap_frac({"gamma_source": "assumption (no cap measurements for B200; gamma fixed at 2)", "fit": {}}) == 1.0
    assert own_cap_frac({"gamma_source": "fitted to cap rows: mine.csv", "fit": {}}) is None
    assert own_cap_frac({"fit": {"min_cap_frac": 0.55}}) == 0.55


def test_an_older_profile_with_cap_points_but_no_min_cap_frac_reads_its_lowest_cap_row():
    """A record whose ``cap_points`` list its cap rows but that has no ``min_cap_frac`` is judged by the lowest
    ``cap_w_per_gpu`` over its GPU's TDP (before: None, the GPU's shipped figure), ahead of ``gamma_source``."""
    from dcsim.node.model import own_cap_frac

    prof = {"gpu": "H100-SXM", "gamma_source": "fitted to cap rows: mine.csv",
            "cap_points": [{"cap_w_per_gpu": 490.0}, {"cap_w_per_gpu": 350.0}]}
    assert own_cap_frac(prof) == 0.5


def test_an_older_profile_without_the_counts_states_its_band_as_a_lower_bound_and_says_why(tmp_path):
    """A profile written before ``dcsim calibrate`` recorded ``n_values`` / ``n_points`` / ``n_free_params`` has no
    degrees of freedom (``fit_dof`` None) and its stored band is its un-widened in-sample error: six load rows state
    ±6.0 % tok/s today (4 degrees of freedom, widened x1.42), the same fit without the counts ±4.3 %. Until December
    2026 a run on it stated that tighter ±4.3 % plainly; now it reads ≥±4.3 % and says the counts are missing and to
    re-run dcsim calibrate. The new profile's band is unchanged and plain."""
    from dcsim.node.model import MISSING_COUNTS_NOTE, fit_dof

    new = _calibrate(tmp_path, _load_rows(tmp_path))
    p = yaml.safe_load(open(new))
    for k in ("n_values", "n_points", "n_free_params", "n_cap_rows", "min_cap_frac"):
        p["fit"].pop(k, None)
    assert fit_dof(p["fit"]) is None
    p["error_band_pct"] = {"tok_s_pct": p["fit"]["max_err_tok_s_pct"], "j_per_tok_pct": p["fit"]["max_err_j_per_tok_pct"]}
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump(p))
    c_new, c_old = _calibration(new, 1.0), _calibration(str(old), 1.0)
    assert c_new["band_lower_bound"] is False and c_new["band_notes"] == []
    assert c_old["error_band_pct"]["tok_s_pct"] < c_new["error_band_pct"]["tok_s_pct"]
    assert c_old["band_lower_bound"] is True and c_old["band_notes"] == [MISSING_COUNTS_NOTE]
    assert "re-run dcsim calibrate" in c_old["meaning"]
    from dcsim.metrics.fmt import calibration_caveat

    text = calibration_caveat([c_old])
    assert "USER PROFILE" in text and "≥±4" in text and "re-run dcsim calibrate" in text


def test_a_controller_clock_below_the_measured_range_travels_as_extrapolated_clock(tmp_path):
    """The small H100 facility behind a 110 kW interconnect: the controller caps the DVFS clock at 0.63 on every tick,
    below the 0.69 the shipped capped measurements cover (the clock dcsim's H100 fits run Splitwise's prefill rows at
    under 0.7 x TDP). Until December 2026 no flag said so (only a static board limit below the measured caps was
    flagged); now the record in report.json carries the share of GPU-time run below the range, the run warns, and the
    summary's headline, the caveats and the HTML say EXTRAPOLATED CLOCK. Behind 200 kW the clock stays at 1.0: no
    flag, no new field; behind 120 kW it is 0.73, within the range (flagged against 1 / 1.3 = 0.77 before)."""
    from conftest import squash, throttled_small_runs
    from dcsim.report import write_outputs
    from dcsim.report.summary import summary_table

    free, within, capped = throttled_small_runs(None, "120 kW", "110 kW")
    assert 0.7 < float(within.timeseries["controller_clock"].min()) < 0.769
    assert not any("EXTRAPOLATED CLOCK" in k for k in within.caveats)
    assert float(capped.timeseries["controller_clock"].max()) < 0.6897
    (c,) = capped.report["provenance"]["calibration"]
    # judged by its own profile's floor (H100 Llama-3.1-70B TP4: 0.6995), not the least over the GPU's profiles (0.6897)
    assert c["clock_below_range_share"] == 1.0 and c["measured_clock_min"] == 0.6995 and c["clock_min_of"] == "profile"
    assert 0.6 < c["clock_below_range_min"] < 0.6897
    assert any("below the measured clock range: 100.0 % of its GPU-time" in w for w in capped.report["warnings"])
    head = squash(summary_table(capped.report)).split("J / output token")[0]
    assert "EXTRAPOLATED CLOCK" in head and "100.0 % of its GPU-time" in head
    assert any(k.startswith("EXTRAPOLATED CLOCK") for k in capped.caveats)
    write_outputs(capped, tmp_path / "c", formats=("json", "html"), plots=False)
    assert "Throttled below the measured clock range." in (tmp_path / "c" / "report.html").read_text()
    (f,) = free.report["provenance"]["calibration"]
    assert not any(k.startswith("clock_below") for k in f) and "measured_clock_min" not in f
    assert not any("EXTRAPOLATED CLOCK" in k for k in free.caveats)


def test_extrapolated_clock_on_a_user_profile_names_its_rows_and_each_group_its_own_gamma(tmp_path):
    """A profile fitted to load rows alone (no cap row) ran every row at full clock: throttled to about 0.73 behind
    120 kW, the warning and the EXTRAPOLATED CLOCK caveat say "full clock, where every row of its profile ... ran"
    (before: "every measurement of H100-SXM ran", the GPU's, and the caveat text came from another function than
    the warning). The caveat of two groups states each group's own γ source (before: the first group's for both)."""
    import dcsim
    from dcsim.metrics.fmt import calibration_caveat

    prof = _calibrate(tmp_path, _load_rows(tmp_path))
    sc = small_scenario(duration="1 h", **{"controller.tick": "10 min"})
    sc["racks"][0]["node"]["profile"] = prof
    sc["facility"]["interconnect"] = "120 kW"
    r = dcsim.run(sc)
    (c,) = r.report["provenance"]["calibration"]
    assert c["clock_min_of"] == "profile" and c["measured_clock_min"] == 1.0 and c["clock_below_range_share"] == 1.0
    (cav,) = [k for k in r.caveats if k.startswith("EXTRAPOLATED CLOCK")]
    (w,) = [x for x in r.report["warnings"] if "below the measured clock range" in x]
    for text in (cav, w):
        assert f"full clock, where every row of its profile {prof} ran" in text and "H100-SXM" not in text
        assert "100.0 % of its GPU-time" in text and "γ an assumption" in text
    h100 = {"group": "a", "for": "H100-SXM / m / fp8 / TP4", "measured_clock_min": 0.66, "clock_min_of": "gpu",
            "clock_below_range_share": 0.5, "clock_below_range_min": 0.6, "gamma_source": "fitted to cap rows: x.csv"}
    b200 = {"group": "b", "for": "B200 / m / fp8 / TP4", "measured_clock_min": 1.0, "clock_min_of": "gpu",
            "clock_below_range_share": 0.25, "clock_below_range_min": 0.9, "gamma_source": "assumption: none"}
    text = calibration_caveat([h100, b200])
    a, b = text.split("b: ")
    assert "fitted to the cap rows of x.csv" in a and "γ an assumption" not in a
    assert "γ an assumption" in b and "every measurement of B200 ran" in b and "x.csv" not in b


def test_the_clock_below_range_is_worked_out_once_per_run(monkeypatch):
    """The warning and report.json's record read one ``clock_below_range`` (before, ``calibration_provenance`` ran it
    a second time on the same ticks)."""
    import dcsim
    from dcsim.engine import assemble

    calls = []
    real = assemble.clock_below_range
    monkeypatch.setattr(assemble, "clock_below_range", lambda *a: calls.append(1) or real(*a))
    sc = small_scenario(duration="1 h", **{"controller.tick": "10 min"})
    sc["facility"]["interconnect"] = "110 kW"
    r = dcsim.run(sc)
    assert len(calls) == 1 and r.report["provenance"]["calibration"][0]["clock_below_range_share"] == 1.0


def test_a_share_below_the_rounding_still_carries_the_caveat():
    """``clock_below_range`` writes the share to 4 decimals, so a group that ran below its range on a sliver of its
    GPU-time can record 0.0: the record is present only for a group that ran below, so the caveat is said (before, a
    share of 0.0 warned in the run's warnings with no EXTRAPOLATED CLOCK caveat), as "under 0.1 %"."""
    from dcsim.metrics.fmt import calibration_caveat

    c = {"group": "a", "for": "H100-SXM / m / fp8 / TP4", "measured_clock_min": 0.77, "clock_min_of": "gpu",
         "clock_below_range_share": 0.0, "clock_below_range_min": 0.75, "gamma_source": "fitted to cap rows: x.csv"}
    text = calibration_caveat([c])
    assert "EXTRAPOLATED CLOCK" in text and "under 0.1 % of its GPU-time" in text


def test_the_lowest_measured_clock_is_the_clock_the_fit_gives_the_slowest_capped_row(tmp_path):
    """The floor is the clock dcsim's own fitted model runs each cap row at under its cap (``cap_points[].clock_fit``,
    calibrate.clock_at_cap), not 1 / latency_factor: H100 0.6897 (the Llama-3.3-70B fit on Splitwise's 512-token
    prefill row at 0.7 x TDP; 1 / 1.3 = 0.77 before), so a controller clock the shipped 0.7 x TDP limit itself sets is
    not flagged. A GPU with no capped measurement: full clock; a user profile fitted without cap rows: full clock,
    with them: its own lowest ``clock_fit``; a user pool: its ``min_clock_frac`` (before: the GPU's shipped figure)."""
    from dcsim.node.calibrate import pooled_profile
    from dcsim.node.catalog import measured_clock_frac, profile_clock_floor
    from dcsim.node.model import clock_floor

    assert measured_clock_frac("H100-SXM") == 0.6897 and measured_clock_frac("B200") == 1.0
    assert clock_floor({"fit": {"min_cap_frac": 1.0}}, "H100-SXM") == (1.0, "profile")
    assert clock_floor({"fit": {"min_cap_frac": 0.5}, "cap_points": [{"latency_factor": 1.6, "clock_fit": 0.6},
                                                                   {"latency_factor": 1.0, "clock_fit": 1.0}]},
                       "H100-SXM") == (0.6, "profile")
    assert clock_floor({"gamma_source": "fitted to cap rows: x.csv"}, "H100-SXM") == (0.6897, "gpu")
    prof = yaml.safe_load(open(_calibrate(tmp_path, _load_rows(tmp_path), _cap_rows_at(tmp_path, 0.5))))
    clocks = [c["clock_fit"] for c in prof["cap_points"]]
    floor = clock_floor(prof, "H100-SXM")[0]
    assert floor == round(min(clocks), 4) < 1 / max(c["latency_factor"] for c in prof["cap_points"])
    pool = pooled_profile([SRC, CAP], "H100-SXM", lomo=False)
    assert 0.5 < pool["min_clock_frac"] < 0.769 and profile_clock_floor(pool) == pool["min_clock_frac"]


def test_a_shipped_profile_is_judged_by_its_own_cap_rows_clock():
    """Every profile, shipped or a user's, is judged by the clock its own fit runs its cap rows at
    (``model.clock_floor``): the shipped H100 profiles' floors run 0.69-0.76 (the Llama-3.1-70B TP4 fit 0.6995, the
    Gemma-3-27B TP2 fit 0.7404), and each replica's record carries its own with ``clock_min_of`` "profile". Until
    December 2026 every shipped H100 profile took the least of them, 0.6897 (``clock_min_of`` "gpu"), so a Gemma-3-27B
    replica throttled to 0.70-0.74 was not flagged although its own fit covers no clock below 0.74. A profile with no
    capped row (B200) is judged at full clock, as the GPU's figure already said."""
    from dcsim.node.catalog import load_profile, measured_clock_frac
    from dcsim.node.model import cap_floor, clock_floor

    floors = {}
    for name in ("H100-SXM_llama-3.1-70b_bf16_tp4", "H100-SXM_gemma-3-27b_bf16_tp2", "B200_llama-3.1-70b_bf16_tp2"):
        prof = load_profile(name)
        floors[name] = clock_floor(prof, prof["gpu"])
    assert floors["H100-SXM_llama-3.1-70b_bf16_tp4"] == (0.6995, "profile")
    assert floors["H100-SXM_gemma-3-27b_bf16_tp2"] == (0.7404, "profile") and 0.7404 > measured_clock_frac("H100-SXM")
    assert floors["B200_llama-3.1-70b_bf16_tp2"] == (1.0, "profile")
    assert cap_floor(load_profile("H100-SXM_gemma-3-27b_bf16_tp2"), "H100-SXM") == (0.7, "profile")
    sc = small_scenario(duration="1 h")
    sc["racks"][0]["node"].update(model="gemma-3-27b", tensor_parallel=2)
    c = build_models(load_scenario(sc)).groups[0].node.calibration
    assert (c["measured_clock_min"], c["clock_min_of"]) == (0.7404, "profile")


def test_an_older_pooled_fit_with_cap_rows_at_an_unstated_level_takes_the_gpus_floors(tmp_path):
    """The "older record" branch is reached by a real format: a pooled fit written before ``dcsim calibrate --pool``
    recorded ``min_cap_frac`` (2026-12-05, commit 29921e1) and ``min_clock_frac`` says its γ was fitted to cap rows
    but neither which caps nor which clocks (it lists no ``cap_points``). The shipped ``pooled/H100-SXM.yaml`` was
    such a file until session 52 regenerated it by its ``generated_by`` (it now states 0.7 x TDP and clock 0.669, the
    clock its fit runs Splitwise's capped prefill rows at, and is judged by them); the same file without the two
    fields, as it was written before, named by a scenario (a user pool) is judged by the GPU's figures (0.7 x TDP,
    clock 0.6897), said as ``"gpu"``. An H100 profile named on H200 (a profile of another GPU; the built-in
    same-silicon transfer is judged by its H100 profile's floor, tests/test_transfer_floors.py) takes the H200's own:
    full clock, none measured."""
    from dcsim.node.catalog import POOLED_DIR, load_profile
    from dcsim.node.model import cap_floor, clock_floor

    shipped = yaml.safe_load((POOLED_DIR / "H100-SXM.yaml").read_text())
    assert cap_floor(shipped, "H100-SXM") == (0.7, "profile") and clock_floor(shipped, "H100-SXM") == (0.669, "profile")
    old = {k: v for k, v in shipped.items() if k not in ("min_cap_frac", "min_clock_frac")}
    assert old["gamma_source"].startswith("fitted to cap rows") and not old.get("cap_points")
    assert cap_floor(old, "H100-SXM") == (0.7, "gpu") and clock_floor(old, "H100-SXM") == (0.6897, "gpu")
    path = tmp_path / "H100-SXM-older.yaml"
    path.write_text(yaml.safe_dump(old, sort_keys=False))
    sc = small_scenario(duration="1 h")
    sc["racks"][0]["node"]["profile"] = str(path)
    c = build_models(load_scenario(sc)).groups[0].node.calibration
    assert c["status"] == "user-pool" and (c["measured_cap_min_frac"], c["cap_min_of"]) == (0.7, "gpu")
    assert (c["measured_clock_min"], c["clock_min_of"]) == (0.6897, "gpu")
    assert clock_floor(load_profile("H100-SXM_llama-3.1-70b_bf16_tp4"), "H200") == (1.0, "gpu")


def test_both_floors_follow_one_rule_for_a_profile_of_another_gpu():
    """MD1 3: cap and clock floors read a profile's own only where it was measured. An H100 profile named on a B200
    measured its cap rows on the H100: both floors are the B200's (until December 2026 the cap floor said 0.7
    'profile' while the clock floor said 1.0 'gpu'). GPU names compare as the catalog does ('_' read as '-')."""
    from dcsim.node.catalog import load_profile, measured_cap_frac, norm_gpu
    from dcsim.node.model import _mismatch, cap_floor, clock_floor

    h = load_profile("H100-SXM_llama-3.1-70b_bf16_tp4")
    assert cap_floor(h, "B200") == (measured_cap_frac("B200"), "gpu") == (1.0, "gpu")
    assert clock_floor(h, "B200")[1] == "gpu"
    assert cap_floor(h, "h100_sxm") == (0.7, "profile") and clock_floor(h, "h100_sxm")[1] == "profile"
    assert norm_gpu(" H100_SXM ") == "h100-sxm"
    assert _mismatch(h, "h100_sxm", h["model"], h["precision"], h["tensor_parallel"]) == []
    sc = small_scenario(duration="1 h")
    sc["racks"][0]["node"].update(gpu="B200", tensor_parallel=4, profile=str(__import__("dcsim.node.catalog",
                                  fromlist=["PROFILE_DIR"]).PROFILE_DIR / "H100-SXM_llama-3.1-70b_bf16_tp4.yaml"))
    c = build_models(load_scenario(sc)).groups[0].node.calibration
    assert (c["measured_cap_min_frac"], c["cap_min_of"]) == (1.0, "gpu")


@pytest.mark.parametrize("prof", [
    {"gamma_source": "assumption (no cap measurements for B200; gamma fixed at 2)"},  # the shipped B200/A100 pools
    {"cap_points": []},
    {"fit": {"min_cap_frac": None}, "min_cap_frac": 1.0},
])
def test_a_profile_without_cap_rows_is_full_clock_and_full_cap_by_one_rule(prof):
    """own_cap_frac and profile_clock_floor read "no cap row in the fit" by one rule (catalog.fitted_without_cap_rows):
    until session 52 an assumed gamma or an empty cap_points was the full board limit to one and "not said" to the
    other (the B200 pool: cap floor 1.0 "profile", clock floor 1.0 "gpu"), and fit.min_cap_frac: null hid min_cap_frac
    from the clock's."""
    from dcsim.node.catalog import profile_clock_floor
    from dcsim.node.model import cap_floor, clock_floor, own_cap_frac

    assert own_cap_frac(prof) == profile_clock_floor(prof) == 1.0
    assert cap_floor(prof, "B200") == clock_floor(prof, "B200") == (1.0, "profile")
    assert own_cap_frac({}) is profile_clock_floor({}) is None  # a profile that says nothing: the GPU's figures
