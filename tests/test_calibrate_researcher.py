"""``dcsim calibrate`` as an energy researcher uses it: their own measurement CSV, written the way a lab writes one
(catalog names in another spelling, per-GPU power, only the required columns), predicted, fitted and used in a
scenario (the audit of 2026-12-04, docs/node.md "Calibration")."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from dcsim.node import build_node
from dcsim.node.calibrate import groups, main, read_rows
from dcsim.node.catalog import MEASUREMENT_DIR
from dcsim.scenario.node import NodeSpec

#: the columns a researcher's load rows carry (docs/node.md, "Adding your own GPU or model"): no optional column
REQUIRED = ["kind", "gpu", "n_gpus", "model", "precision", "max_num_seqs", "batch", "mean_in", "mean_out",
            "output_tok_s", "gpu_power_w", "j_per_out_tok", "source"]


def _h100_70b_rows(n: int = 7) -> list[dict]:
    """The first ``n`` shipped H100 Llama-3.1-70B rows (4 GPUs per replica, unique requests), as a lab would write
    them: the required columns only, its own source."""
    with open(MEASUREMENT_DIR / "mlenergy_llama-3.1-70b.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["gpu"] == "H100-SXM" and r["request_repeats"] == "1"][:n]
    return [{**{k: r[k] for k in REQUIRED}, "source": "my lab, 2026-11"} for r in rows]


def _write(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_catalog_aliases_are_one_group_named_as_the_catalog_names_it(tmp_path):
    """The catalog resolves a model's Hugging Face id and any letter case of a name; rows written so formed a group of
    their own (the same setup fitted twice, copies of one point not merged) and a profile named
    ``H100-SXM_meta-llama/Llama-3.1-70B-Instruct_bf16_tp4`` (a '/' in the file --out DIR writes; a scenario naming
    llama-3.1-70b said it was fitted to another model). Now each row reads as the catalog names it."""
    rows = _h100_70b_rows()
    alias = [{**r, "gpu": "h100-sxm", "model": "meta-llama/Llama-3.1-70B-Instruct"} for r in rows]
    f = _write(tmp_path / "m.csv", rows[:4] + alias[3:])
    got = read_rows([f])
    assert {(r["gpu"], r["model"]) for r in got} == {("H100-SXM", "llama-3.1-70b")}
    assert len(got) == len(rows)  # row 4, written both ways, is one point
    assert list(groups(got, gpu="h100-sxm", model="META-LLAMA/Llama-3.1-70B-Instruct")) == \
        [("H100-SXM", "llama-3.1-70b", "bf16", 4)]


def test_per_gpu_power_in_the_replica_sum_column_is_not_written_without_force(tmp_path, capsys):
    """gpu_power_w of a load row is the replica's GPU power summed over its n_gpus GPUs. Per-GPU readings written there
    (a quarter of the sum on 4 GPUs) fitted with MAPE 2.4 / 1.7 % and power terms of 69 / 37 / 37 W, and the profile
    was written with exit 0: a scenario on it drew 0.415 J/token on the GPUs where the summed rows' profile gives
    1.57. Below SUMMED_POWER_FLOOR_IDLE_X times idle per GPU the fit now names the rows and writes nothing without
    --force; --predict says the same under its table."""
    from dcsim.node.calibrate import SUMMED_POWER_FLOOR_IDLE_X
    from dcsim.node.predict import format_prediction, predict

    rows = [{**r, "gpu_power_w": f"{float(r['gpu_power_w']) / 4:.2f}", "j_per_out_tok": ""} for r in _h100_70b_rows()]
    f = _write(tmp_path / "per_gpu.csv", rows)
    out = tmp_path / "p.yaml"
    assert main([str(f), "--out", str(out)]) == 2 and not out.exists()
    err = capsys.readouterr().err
    assert f"gpu_power_w of {f}:2,3,4,5,6,7,8 is 110-143 W per GPU" in err and "multiply them by 4" in err, err
    assert main([str(f), "--out", str(out), "--force"]) == 0 and out.exists()
    assert "multiply them by 4" in yaml.safe_load(out.read_text())["warnings"][0]
    text = format_prediction(predict([f]))
    assert "note: gpu_power_w of" in text and "J/token comes out 4 times too low" in text
    # the summed rows: no note, and the profile is written
    good = _write(tmp_path / "summed.csv", _h100_70b_rows())
    assert main([str(good), "--out", str(tmp_path / "ok.yaml")]) == 0
    assert "gpu_power_w of" not in format_prediction(predict([good]))
    # the floor's evidence (the constant's comment): every shipped load row draws at least 3.2 x idle per GPU
    from dcsim.node.calibrate import per_gpu_power_suspects
    from dcsim.node.catalog import resolve_gpu

    shipped = [r for r in read_rows(sorted(MEASUREMENT_DIR.glob("*.csv"))) if r["kind"] == "load"]
    v3 = [r for r in shipped if r["gpu"] != "A100-SXM4-40GB"]
    lowest = min(float(r["gpu_power_w"]) / int(r["n_gpus"]) / resolve_gpu(r["gpu"]).idle_w for r in v3)
    assert 3.2 <= lowest < 3.21 and SUMMED_POWER_FLOOR_IDLE_X < lowest
    assert per_gpu_power_suspects(v3) == []
    # the one exception, shipped with --force: ML.ENERGY v2.0's Llama-3.1-70B on 8 A100-SXM4-40GBs under the host-bound
    # vLLM 0.5.4, whose aggregator sums the energy of every GPU (docs/node.md, "A100-SXM4-40GB")
    (w,) = per_gpu_power_suspects(shipped)
    assert "mlenergy_v2_a100_40gb.csv:25,26,27 is 99-120 W per GPU (3 load row(s) over n_gpus 8)" in w, w


def test_a_fitted_profile_states_its_band_in_the_scenario_that_names_it(tmp_path):
    """A profile of one's own measurements, named as node.profile, ran with "expected error unknown tok/s, unknown
    J/token" although its fit states its errors: calibrate writes error_band_pct, its worst in-sample errors (the
    band dcsim states for its shipped calibrations), and the replica's calibration record carries it."""
    f = _write(tmp_path / "mine.csv", _h100_70b_rows())
    out = tmp_path / "mine.yaml"
    assert main([str(f), "--out", str(out)]) == 0
    prof = yaml.safe_load(out.read_text())
    band = prof["error_band_pct"]
    assert band == {"tok_s_pct": prof["fit"]["max_err_tok_s_pct"], "j_per_tok_pct": prof["fit"]["max_err_j_per_tok_pct"]}
    node = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", tensor_parallel=4, profile="mine.yaml"),
                      base_dir=tmp_path)
    assert node.calibration["status"] == "user-profile"
    assert node.calibration["error_band_pct"] == band and 2.0 < band["tok_s_pct"] < 5.0
    # as a shipped calibration of the same rows states it
    from dcsim.node.model import calibration_record

    assert calibration_record(prof, "calibrated", "H100-SXM", "llama-3.1-70b", "bf16", 4)["error_band_pct"] == band


def test_out_ending_in_a_slash_is_a_directory_even_for_one_group(tmp_path, capsys):
    """docs/node.md writes ``--out my_profiles/`` for a directory; with one group in the files the profile was written
    to a file named ``my_profiles`` (Path drops the slash). Now a trailing slash names a directory for the fit, the
    pooled fit and --predict alike; a path without one is still the file written."""
    f = _write(tmp_path / "mine.csv", _h100_70b_rows())
    assert main([str(f), "--out", f"{tmp_path / 'profiles'}/"]) == 0
    assert (tmp_path / "profiles" / "H100-SXM_llama-3.1-70b_bf16_tp4.yaml").is_file()
    assert main([str(f), "--out", str(tmp_path / "one.yaml")]) == 0 and (tmp_path / "one.yaml").is_file()
    from dcsim.node.predict import main as predict_main  # (dcsim calibrate --predict)

    assert predict_main([str(f), "--predict", "--out", f"{tmp_path / 'pred'}/"]) == 0
    assert (tmp_path / "pred" / "predictions.json").is_file()


def test_pool_takes_the_one_gpu_of_the_files_and_says_when_no_model_can_be_left_out(tmp_path, capsys):
    """--gpu may be left out when the files hold one group (issue 14), but --pool refused "--pool needs --gpu" on a
    file of one GPU; it now pools that GPU, names the GPUs when there are several, and says that a pool of one model
    has no leave-one-model-out error (it printed the table's header over no rows)."""
    f = _write(tmp_path / "mine.csv", _h100_70b_rows())
    assert main([str(f), "--pool"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("pooled H100-SXM over H100-SXM_llama-3.1-70b_bf16_tp4")
    assert "leave-one-model-out: none (the pool holds one model" in text
    with open(MEASUREMENT_DIR / "mlenergy_llama-3.1-70b.csv", newline="", encoding="utf-8") as fh:
        b200 = [{**{k: r[k] for k in REQUIRED}} for r in csv.DictReader(fh) if r["gpu"] == "B200"][:4]
    two = _write(tmp_path / "two.csv", _h100_70b_rows() + b200)
    assert main([str(two), "--pool"]) == 2
    assert "--pool fits one GPU and the files hold 2 (B200, H100-SXM): pass --gpu" in capsys.readouterr().err


def test_defaults_taken_for_empty_optional_columns_are_said(tmp_path, capsys):
    """A row without decode_ctx or prompt_scv is fitted and predicted at their defaults (mean_in + mean_out/2, 0),
    which moved the shipped H100 Llama-3.1-70B profile's worst tokens/s error on seven of its own rows from 3.6 to
    4.5 % (one point outside its band) without a word; the fit report and --predict now name each default taken. The
    fit table's ITL columns are printed only when a row gives the median ITL (the header named three empty
    columns)."""
    from dcsim.node.predict import format_prediction, predict

    f = _write(tmp_path / "mine.csv", _h100_70b_rows())
    assert main([str(f)]) == 0
    text = capsys.readouterr().out
    assert "note: decode_ctx not given in 7 of 7 load row(s): mean_in + mean_out/2 assumed" in text
    assert "note: prompt_scv not given in 7 of 7 load row(s): 0 assumed" in text
    assert "ITL ms" not in text
    assert "note: prompt_scv not given in 7 of 7" in format_prediction(predict([f]))
    # the shipped rows give both columns: no note
    shipped = MEASUREMENT_DIR / "mlenergy_llama-3.1-70b.csv"
    assert "not given" not in format_prediction(predict([shipped], gpu="H100-SXM"))


def test_parameters_not_identified_share_one_warning_line_and_the_profile_keeps_each(tmp_path, capsys):
    """Seven rows of one model: every one of the 8 free parameters is not identified by the data alone, and the report
    printed eight such warning lines after the table (a warning that matters, such as a per-GPU power column, sat
    among them). They now share one line naming each with its data-only relative standard error; the profile's
    warnings keep one entry per parameter."""
    f = _write(tmp_path / "mine.csv", _h100_70b_rows())
    out = tmp_path / "p.yaml"
    assert main([str(f), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    warn = [ln for ln in text.splitlines() if ln.startswith("warning:")]
    assert len(warn) == 1 and warn[0].startswith("warning: 8 of 8 free parameters are not identified by these rows "
                                                 "alone"), warn
    prof = yaml.safe_load(out.read_text())
    unid = [k for k, u in prof["uncertainty"].items() if not u["identified"]]
    assert len(unid) == 8 and all(f" {k} " in warn[0] for k in unid)
    assert sum("is not identified by the data" in w for w in prof["warnings"]) == 8



def test_the_grouped_warning_prints_the_figures_of_the_record_and_so_does_a_profile_read_back(tmp_path):
    """The report's one line about the parameters not identified by the data names each with its data-only relative
    standard error as the profile's ``uncertainty`` record holds it, and each parameter's own warning prints the same
    figure (it printed 2 significant digits where the record holds 3: 0.73 beside 0.734). A profile read back from its
    YAML file (plain strings and numbers) gets the same line, where it printed one line per parameter; and the
    profile dumps with yaml's C dumper too (the string subclass its warnings were made of did not)."""
    from dcsim.node.calibrate import _warning_lines, calibrate, format_report, profile_yaml

    prof = calibrate([_write(tmp_path / "mine.csv", _h100_70b_rows())])
    unc = prof["uncertainty"]
    line = _warning_lines(prof["warnings"], unc)[-1]
    each = line.split("identified at most 0.5): ")[1].split("; together")[0].split(", ")
    assert len(each) == len(unc) == 8 and line.startswith("warning: 8 of 8 free parameters are not identified")
    for item in each:
        k, fig = item.split(" ")
        assert unc[k]["identified"] is False and float(fig) == unc[k]["rel_se_data"], (item, unc[k])
        own = [w for w in prof["warnings"] if w.startswith(f"{k} = ") and "not identified" in w]
        assert len(own) == 1 and own[0].endswith(f"relative standard error {fig}): its prior sets it"), own
    back = yaml.safe_load(profile_yaml(prof))
    assert all(type(w) is str for w in back["warnings"])
    assert _warning_lines(back["warnings"], back["uncertainty"]) == _warning_lines(prof["warnings"], unc)
    assert format_report(back) == format_report(prof)
    if hasattr(yaml, "CSafeDumper"):
        assert yaml.dump(prof, Dumper=yaml.CSafeDumper, sort_keys=False, width=120).encode() == profile_yaml(prof)


def test_a_profile_that_cannot_be_written_is_named_in_the_error(tmp_path, capsys):
    """Several groups go to one file each in the ``--out`` directory; when one cannot be written the error names that
    file (it named the directory: "cannot write q: ..." for q/B200_....yaml), as ``--pool`` and ``--predict`` do. The
    blocker is a folder where the profile's file goes (an --out through a file is refused before the fit: textio)."""
    out = tmp_path / "blocked"
    (out / "B200_llama-3.1-70b_bf16_tp2.yaml").mkdir(parents=True)  # a folder where the profile's file goes
    src = MEASUREMENT_DIR / "mlenergy_llama-3.1-70b.csv"  # two groups: B200 TP2 and H100 TP4
    assert main([str(src), "--out", str(out), "--force"]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {out / 'B200_llama-3.1-70b_bf16_tp2.yaml'}: " in " ".join(err.split()), err
    assert main([str(src), "--out", str(tmp_path / "q")]) == 0
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == ["B200_llama-3.1-70b_bf16_tp2.yaml",
                                                                   "H100-SXM_llama-3.1-70b_bf16_tp4.yaml"]
    assert capsys.readouterr().out.count("wrote ") == 2


def test_a_csv_written_by_hand_or_a_spreadsheet_reads_or_says_why_not(tmp_path):
    """How labs write CSVs: a space after each comma (the header's " gpu" read as no gpu column: "column 'gpu' is
    missing or empty"; cells " bf16" became a group the engine could not build), upper-case names ("GPU", "BF16",
    "Load": refused), a semicolon-separated sheet with decimal commas ("more cells than the header has columns"), a
    batch above max_num_seqs (fitted and predicted +42 % off without a word), a misspelt optional column (left out
    without a word)."""
    from dcsim.node.calibrate import MeasurementError
    from dcsim.node.predict import format_prediction, predict

    rows = _h100_70b_rows()
    cols = list(rows[0])
    spaced = tmp_path / "spaced.csv"
    spaced.write_text(", ".join(c.upper() if c == "gpu" else c for c in cols) + "\n"
                      + "".join(", ".join({**r, "precision": "BF16", "kind": "Load", "source": "my lab"}[c]
                                          for c in cols) + "\n"
                                for r in rows))
    got = read_rows([spaced])
    assert {(r["kind"], r["gpu"], r["precision"]) for r in got} == {("load", "H100-SXM", "bf16")} and len(got) == 7
    semi = tmp_path / "semi.csv"
    semi.write_text(";".join(cols) + "\n" + "".join(";".join(r[c].replace(".", ",") for c in cols) + "\n"
                                                     for r in rows))
    with pytest.raises(MeasurementError, match=r"semi\.csv:1: the header is one column .*not comma-separated"):
        read_rows([semi])
    over = _write(tmp_path / "over.csv", [{**rows[0], "batch": "12"}] + rows[1:])
    with pytest.raises(MeasurementError, match=r"over\.csv:2: column 'batch': '12' running sequences on average, "
                                               r"above max_num_seqs '8'"):
        read_rows([over])
    typo = _write(tmp_path / "typo.csv", [{**r, "decode_context": "980"} for r in rows])
    assert ("note: column 'decode_context' is not one dcsim calibrate reads (did you mean 'decode_ctx'?)"
            in format_prediction(predict([typo])))
    # the shipped files' unread columns (task, unique_requests, runs) are not near a read one: no such note
    shipped = read_rows(sorted(MEASUREMENT_DIR.glob("*.csv")))
    from dcsim.node.calibrate import input_notes

    assert not [n for n in input_notes(shipped) if n.startswith("column ")]


def test_the_fit_report_sets_the_rows_against_dcsims_own_replica(tmp_path, capsys):
    """A fit matches its own rows whatever their units: tokens/s per GPU written for a replica of 4 GPUs fitted with
    MAPE 3.2 / 1.0 % and was written with exit 0 (a scenario on it would run 4 times slower at 4 times the J/token).
    The report now sets the rows against dcsim's own replica for the setup (what --predict shows), and calls a miss
    beyond ANCHOR_FAR_X times its stated band a warning; the same rows in the replica's units are within it."""
    rows = [{**r, "output_tok_s": f"{float(r['output_tok_s']) / 4:.2f}", "j_per_out_tok": ""} for r in _h100_70b_rows()]
    f = _write(tmp_path / "per_gpu_tok.csv", rows)
    assert main([str(f)]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "dcsim's own" in ln)
    assert line.startswith("warning: dcsim's own calibrated replica for these rows ("
                           "H100-SXM_llama-3.1-70b_bf16_tp4, its stated band ±3.6 % tok/s, ±3.0 % J/token) misses "
                           "them by MAPE tok/s 305.7 %, J/token 75.3 %"), line
    assert main([str(_write(tmp_path / "mine.csv", _h100_70b_rows()))]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "dcsim's own" in ln)
    assert line.startswith("dcsim's own calibrated replica") and "MAPE tok/s 2.3 %, J/token 1.5 %" in line


def test_a_missing_required_column_says_what_it_holds(tmp_path):
    """TP not given: "column 'n_gpus' is missing or empty" did not say that n_gpus is the tensor-parallel degree or
    that it has no default; a missing load column now says what it holds."""
    from dcsim.node.calibrate import MeasurementError

    f = _write(tmp_path / "no_tp.csv", [{**r, "n_gpus": ""} for r in _h100_70b_rows()])
    with pytest.raises(MeasurementError, match=r"no_tp\.csv:2: column 'n_gpus' is missing or empty \(GPUs per replica, "
                                               r"the tensor-parallel degree the row was measured at; no default\)"):
        read_rows([f])


def test_predicting_the_rows_a_profile_was_fitted_to_says_in_sample_not_within_its_band(tmp_path, capsys):
    """A profile's stated band is its fit's worst in-sample error, so predicting the very rows it was fitted to
    puts every point within it by construction: ``--predict`` on ML.ENERGY's Llama-3.1-70B rows printed "0 of 9
    points outside the stated band", though the shipped profile's ``measurements`` name that file. Now the summary
    says the rows set the band: by sha256 for a profile ``dcsim calibrate`` wrote (the shipped ones too since session 52
    regenerated them by their generated_by, with ``inputs``; by name before, when they recorded names alone); a file
    of the same name with other bytes, or rows a carry predicts, are a test."""
    from dcsim.node.predict import format_prediction, predict

    shipped = MEASUREMENT_DIR / "mlenergy_llama-3.1-70b.csv"
    res = predict([shipped], gpu="H100-SXM")
    (g,) = res["groups"]
    assert [f["match"] for f in g["summary"]["in_sample_files"]] == ["sha256"]
    text = format_prediction(res)
    assert "in-sample: these rows set the band" in text and "outside the stated band" not in text
    assert "median ITL 1.7 % (worst 3.9 %) over the 7 decode-only rows;" in text  # the 2 others print (mixed)
    # a profile fitted to a researcher's file: its inputs' sha256 matches the same file, not another's bytes
    mine = _write(tmp_path / "mine.csv", _h100_70b_rows())
    prof = tmp_path / "p.yaml"
    assert main([str(mine), "--out", str(prof)]) == 0
    capsys.readouterr()
    (g,) = predict([mine], profile=str(prof))["groups"]
    assert g["calibration"]["status"] == "user-profile"
    assert [f["match"] for f in g["summary"]["in_sample_files"]] == ["sha256"]
    other = tmp_path / "other"
    other.mkdir()
    _write(other / "mine.csv", _h100_70b_rows(5))  # the same name, two rows fewer: not the file it was fitted to
    res = predict([other / "mine.csv"], profile=str(prof))
    assert res["groups"][0]["summary"]["in_sample_files"] == []
    assert "0 of 5 points outside the stated band" in format_prediction(res)
    # rows dcsim predicts with the GPU's pool (Qwen3-32B on one H100, which the pool predicted better than its TP2
    # profile: catalog.pool_over_carry) are in the pool's data and chose its band: in-sample, and said so
    res = predict([MEASUREMENT_DIR / "mlenergy_qwen3-32b.csv"], gpu="H100-SXM", tp=1)
    assert res["groups"][0]["calibration"]["status"] == "transferred"
    assert [(Path(f["path"]).name, f["pooled"]) for f in res["groups"][0]["summary"]["in_sample_files"]] == \
        [("mlenergy_qwen3-32b.csv", True)]
    text = format_prediction(res)
    assert "in-sample" in text and "pooled-H100-SXM" in text and "outside the stated band" not in text


def test_the_fit_report_marks_unidentified_parameters_on_their_line_and_counts_the_itl_rows(tmp_path, capsys):
    """The shipped H100 Llama-3.1-70B rows at TP4: the table printed "mfu 0.85521 ± 0.0358" above a warning that
    none of the 8 parameters is identified by the rows (mfu's data-only relative standard error 3.55), and "median
    ITL 1.99% (max 4.21%)" over the 7 rows whose median iteration is decode-only, while the table showed the
    batch-383 row's ITL at +12.90 %. Each unidentified parameter now says on its line that its prior sets it, with
    the data-only error, and the ITL figures say over how many rows they are taken."""
    shipped = MEASUREMENT_DIR / "mlenergy_llama-3.1-70b.csv"
    assert main([str(shipped), "--gpu", "H100-SXM", "--model", "llama-3.1-70b", "--tp", "4",
                 "--out", str(tmp_path / "p.yaml")]) == 0
    text = capsys.readouterr().out
    prof = yaml.safe_load((tmp_path / "p.yaml").read_text())
    unc = prof["uncertainty"]
    assert "params (± standard error, the priors included):" in text
    for k, u in unc.items():
        (line,) = [ln for ln in text.splitlines() if ln.startswith(f"  {k} ")]
        if u["identified"] is False:
            assert line.endswith(f"not identified: its prior sets it (the data alone: ± {100 * u['rel_se_data']:,.0f} %)")
        else:
            assert "not identified" not in line
    assert sum(u["identified"] is False for u in unc.values()) == 8
    fitted = [p for p in prof["points"] if p.get("itl_fitted")]
    others = [p for p in prof["points"] if "median_itl_ms" in p and not p.get("itl_fitted")]
    assert len(fitted) == 7 and len(others) == 2 and max(abs(p["err_itl_pct"]) for p in others) > 10
    (mape,) = [ln for ln in text.splitlines() if ln.startswith("MAPE tok/s")]
    assert mape.endswith("over the 7 fitted rows (2 not fitted, above)")
    assert f"(max {max(abs(p['err_itl_pct']) for p in fitted):.2f}%)" in mape
    # the fit's line against dcsim's own replica: the shipped profile was fitted to this file
    assert "in-sample: these rows set the band" in text


def test_the_unidentified_warning_is_printed_from_the_record_not_the_stored_copy():
    """A profile's warning about a parameter the data do not identify was printed from its stored copy when it was
    the only one (the grouped line of several was built from the record), so 32 shipped files had to be rewritten
    to keep 171 copies in step with their records. The line is now always built from the uncertainty record and the
    fitted value; a stored copy, stale or not, is not printed."""
    from pathlib import Path

    from dcsim.node.calibrate import _warning_lines

    f = Path(__file__).resolve().parents[1] / "dcsim" / "data" / "profiles" / "A100-SXM4-80GB_bloom-176b_bf16_tp8.yaml"
    prof = yaml.safe_load(f.read_text())
    unc = {k: dict(u, identified=(k != "mbu")) for k, u in prof["uncertainty"].items()}
    unc["mbu"]["rel_se_data"] = 0.734
    stale = [w for w in prof["warnings"] if " is not identified " not in w]
    stale.append("mbu = 0.1 is not identified by the data (data-only relative standard error 0.73): its prior sets it")
    lines = _warning_lines(stale, unc, prof["params"])
    assert lines[-1] == (f"warning: mbu = {prof['params']['mbu']:.4g} is not identified by the data (data-only "
                         "relative standard error 0.734): its prior sets it"), lines
    assert sum("is not identified" in ln for ln in lines) == 1
    unc["mbu"]["rel_se_data"] = None  # infinite
    assert _warning_lines([], unc)[-1].endswith("mbu is not identified by the data (data-only relative standard "
                                                "error inf): its prior sets it")
