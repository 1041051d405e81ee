"""Measurement CSVs (``dcsim calibrate``, fit or ``--predict``) that are wrong in the ways users get them wrong are one
error naming the file, the line and the column — never a traceback, a NaN answer or a silently wrong group."""

from __future__ import annotations

import pytest

from dcsim.node.predict import main

HEADER = ("kind,gpu,n_gpus,expert_parallel,model,precision,max_num_seqs,batch,mean_in,mean_out,request_repeats,"
          "output_tok_s,gpu_power_w,j_per_out_tok,median_itl_ms,source")
ROW = "load,H100-SXM,1,1,llama-3.1-8b,bf16,8,7.978,634.0,388.68,1,1069.57,486.44,0.4548,7.316,src"
REQ_HEADER = ("kind,gpu,n_gpus,model,precision,prompt_tokens,batch,output_tokens,prompt_time_ms,token_time_ms,"
              "avg_gpu_power_w,peak_gpu_power_w,source")
REQ = "request,A100-SXM4-80GB,2,llama-2-70b,bf16,512,1,64,196.7,54.84,294,400,src"


def _cell(row: str, col: str, value: str, header: str = HEADER) -> str:
    cells = row.split(",")
    cells[header.split(",").index(col)] = value
    return ",".join(cells)


@pytest.mark.parametrize("text, expect", [
    (HEADER + "\n" + _cell(ROW, "n_gpus", "2.5"), "'n_gpus': must be a whole number"),
    (HEADER + "\n" + _cell(ROW, "max_num_seqs", "1e1"), "'max_num_seqs': must be a whole number"),
    (HEADER + "\n" + _cell(ROW, "expert_parallel", "²"), "'expert_parallel': must be an integer"),
    (HEADER + "\n" + _cell(ROW, "j_per_out_tok", "nan"), "'j_per_out_tok': must be a finite number > 0"),
    (HEADER + "\n" + _cell(ROW, "j_per_out_tok", "-0.45"), "'j_per_out_tok': must be a finite number > 0"),
    (HEADER + "\n" + _cell(ROW, "precision", "fp4"), "'precision' must be one of bf16, fp8, int4"),
    (HEADER + "\n" + _cell(ROW, "gpu_power_w", "1e300"), "above H100-SXM's board power"),
    (HEADER + "\n" + ROW + ",extra", "more cells than the header"),
    (HEADER + ",gpu\n" + ROW + ",B200", "column 'gpu' appears twice"),
    (HEADER + "\n" + _cell(ROW, "model", "x" * 200_000), "not readable as CSV"),
    (REQ_HEADER + "\n" + _cell(REQ, "avg_gpu_power_w", "40000", REQ_HEADER), "above A100-SXM4-80GB's board power"),
    (REQ_HEADER + "\n" + _cell(REQ, "peak_gpu_power_w", "200", REQ_HEADER), "below 'avg_gpu_power_w'"),
    ("kind,gpu,n_gpus,model,precision,prompt_tokens,batch,cap_frac_tdp,latency_factor,phase,source\n"
     "cap,H100-SXM,1,llama-3.1-8b,bf16,512,1,70,1.2,prefill,src", "'cap_frac_tdp': the cap as a fraction"),
    ("kind,gpu,n_gpus,model,precision,prompt_tokens,batch,cap_frac_tdp,latency_factor,phase,source\n"
     "cap,H100-SXM,1,llama-3.1-8b,bf16,512,1,0.7,1.2,garbage,src", "'phase' must be prefill or decode"),
])
@pytest.mark.parametrize("predict", [True, False], ids=["predict", "fit"])
def test_a_wrong_measurement_file_is_one_error_naming_file_line_and_column(tmp_path, capsys, text, expect, predict):
    f = tmp_path / "m.csv"
    f.write_text(text + "\n")
    assert main([str(f)] + (["--predict"] if predict else [])) == 2
    err = capsys.readouterr().err
    assert expect in err and f"{f}:" in err, err
    assert len(err) < 1000  # a long cell is not echoed whole


def test_encodings_and_files_that_are_not_csv(tmp_path, capsys):
    f = tmp_path / "m.csv"
    f.write_bytes(b"\xef\xbb\xbf" + (REQ_HEADER + "\n" + REQ + "\n").encode())  # a BOM: read as the header's first column
    assert main([str(f), "--predict"]) == 0
    f.write_bytes(b"\xff\xfe" + HEADER.encode())
    assert main([str(f), "--predict"]) == 2
    assert "not UTF-8 text" in capsys.readouterr().err
    assert main([str(tmp_path), "--predict"]) == 2
    assert "a directory" in capsys.readouterr().err


def test_out_never_overwrites_an_input_and_gamma_is_bounded(tmp_path, capsys):
    f = tmp_path / "m.csv"
    f.write_text(HEADER + "\n" + ROW + "\n")
    before = f.read_text()
    assert main([str(f), "--predict", "--out", str(f)]) == 2
    assert main([str(f), "--out", str(f)]) == 2
    assert f.read_text() == before and "would be overwritten" in capsys.readouterr().err
    for g in ("-5", "0", "inf", "nan", "abc"):
        with pytest.raises(SystemExit):
            main([str(f), "--gamma", g])
    assert "--gamma" in capsys.readouterr().err


def test_skip_bad_rows_names_what_it_left_out_when_nothing_is_left(tmp_path, capsys):
    f = tmp_path / "m.csv"
    f.write_text(HEADER + "\n" + _cell(ROW, "batch", "-1") + "\n")
    assert main([str(f), "--predict", "--skip-bad-rows"]) == 2
    assert "1 malformed row(s) left out, the first: " in capsys.readouterr().err


def test_flags_belong_to_the_row_not_to_its_batch_cap(tmp_path):
    from dcsim.node.predict import predict
    f = tmp_path / "m.csv"
    # one batch cap, two batches (a batch above its cap is refused: the cap is max_num_seqs 8192 for both rows)
    row = _cell(ROW, "max_num_seqs", "8192")
    f.write_text(HEADER + "\n" + row + "\n" + _cell(row, "batch", "5000") + "\n")
    pts = predict([f])["groups"][0]["points"]
    assert pts[0]["flags"] == [] and pts[0]["within_band"] is True
    assert set(pts[1]["flags"]) == {"extrapolated", "kv-over-capacity"}


def test_a_row_far_beyond_the_profiles_lengths_is_flagged_extrapolated_context(tmp_path):
    """A measured row whose prompt (or decode context) is more than context_extrapolation_factor times the longest the
    profile was measured at is not held to the stated band (flag extrapolated-context, as the engine marks such a
    pool): Llama-3.1-8B's H100 profile was fitted on 634-token prompts."""
    from dcsim.node.predict import predict
    f = tmp_path / "m.csv"
    f.write_text(HEADER + "\n" + ROW + "\n" + _cell(ROW, "mean_in", "8000.0") + "\n")
    pts = predict([f])["groups"][0]["points"]
    assert pts[0]["flags"] == [] and pts[1]["flags"] == ["extrapolated-context"]
