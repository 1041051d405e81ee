"""Calibration: shipped profiles reproduce from shipped measurements; fit quality; CLI."""

from __future__ import annotations

import csv
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import yaml

from dcsim.node import build_node
from dcsim.node.calibrate import (MIN_LOAD_LEVELS, MIN_REQUEST_ROWS, PARAM_NAMES, Problem, calibrate, energy_is_own,
                                  row_decode_ctx,
                                  fitted_load, groups, main, read_rows, row_prompt_scv)
from dcsim.node.catalog import MEASUREMENT_DIR, PROFILE_DIR, shipped_profiles
from dcsim.scenario.node import NodeSpec

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "dcsim" / "data" / "sources"
PROFILES = shipped_profiles()


def _args(prof):
    """Rebuild the calibrate call from the profile's ``generated_by`` line."""
    toks = shlex.split(prof["generated_by"])[2:]
    files = [MEASUREMENT_DIR / t for t in toks if t.endswith(".csv")]
    opts = dict(zip(toks[len(files)::2], toks[len(files) + 1::2]))
    return files, opts


def _rerun(prof, out: Path, monkeypatch) -> str:
    """Run the profile's ``generated_by`` command as a planner would (``cd dcsim/data/measurements && dcsim calibrate
    <its arguments> --out out``) and return the file it writes."""
    monkeypatch.chdir(MEASUREMENT_DIR)  # generated_by names its files as given, run from the measurements folder
    assert main(shlex.split(prof["generated_by"])[2:] + ["--out", str(out)]) == 0
    return out.read_text()


def _leaves(x, at=""):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _leaves(v, f"{at}.{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _leaves(v, f"{at}[{i}]")
    else:
        yield at, x


def _assert_is_what_generated_by_writes(written: str, shipped_path: Path) -> None:
    """The shipped file is byte for byte what its ``generated_by`` command writes today: a calibrate change that moves
    any figure, adds a field or rewords a warning fails here until the file is regenerated with that command (the
    H100, B200 and A100-SXM4-80GB pools had gone stale by a host-wait parameter, ``min_cap_frac``/``min_clock_frac``
    and ``inputs``, and 29 per-model files by ``error_band_pct``/``fit.min_cap_frac``/``inputs``, until session 52).
    Exact on the machine that wrote them (fits are deterministic there); another numpy/scipy/CPU may stop the
    optimizer elsewhere along directions the data do not identify (the tolerant checks before this one bound that), so
    a file that differs passes only if its fields and its text (digits aside) are the written file's; the message names
    every field that differs."""
    shipped = shipped_path.read_text()
    if written == shipped:
        return
    a, b = dict(_leaves(yaml.safe_load(shipped))), dict(_leaves(yaml.safe_load(written)))
    diff = [f"{k}: shipped {a.get(k, '<absent>')!r}, written {b.get(k, '<absent>')!r}"
            for k in list(a) + [k for k in b if k not in a] if a.get(k, None) != b.get(k, None)]
    # Another machine may differ in the figures only (the tolerant checks before this one bound them), not in what the
    # file holds: the same fields (list positions aside), and the same text once its digits are set aside (warnings
    # aside: an ill-determined parameter's "not identified" flag may flip, which _same_warnings allows)
    def shape(leaves):
        return {re.sub(r"\[\d+\]", "[]", k) for k in leaves}

    def text(leaves):
        return {k: re.sub(r"[-+0-9.e]+", "#", v) for k, v in leaves.items()
                if isinstance(v, str) and not k.startswith(".warnings")}

    same_form = shape(a) == shape(b) and text(a) == text(b)
    assert same_form, (f"{shipped_path.name} is not what its generated_by writes; {len(diff)} fields differ "
                       "(regenerate it with that command):\n" + "\n".join(diff[:40] or ["(formatting only)"]))


def test_at_least_three_combinations_with_four_load_levels_and_a_cap_curve():
    assert len(PROFILES) >= 5
    assert len({p["gpu"] for p in PROFILES.values()}) >= 3  # H100, B200 and A100 generations
    for p in PROFILES.values():
        assert len({pt["max_num_seqs"] for pt in p["points"]}) >= MIN_LOAD_LEVELS \
            or len(p["request_points"]) >= MIN_REQUEST_ROWS
    caps = [r for r in read_rows([MEASUREMENT_DIR / "splitwise_h100_cap.csv"]) if r["kind"] == "cap"]
    assert {r["phase"] for r in caps} == {"prefill", "decode"}
    # each row cites a source: a tag of docs/sources.md whose entry gives an address or a publication (until session
    # 53 the test read only that the text began with "[": "[ML33]" passed)
    from conftest import CITED_TAG, citation_problems, source_entries
    entries, bad = source_entries(), []
    for f in MEASUREMENT_DIR.glob("*.csv"):
        for r in read_rows([f]):
            assert re.match(CITED_TAG, r["source"]), (f.name, r)
            bad += citation_problems(r["source"], f"{f.name}: {r['source'][:40]}", entries)
    assert not bad, "\n".join(sorted(set(bad)))


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_shipped_profile_in_sample_error_within_10pct(name):
    """The in-sample error recomputed from the profile's points (each measured value beside the fit's value; the
    fit values are re-derived by test_calibrate_recomputes_shipped_profile), not read from the summary the profile
    records about itself (which once was all this test asserted); the summary must agree with it."""
    p = PROFILES[name]
    f = p["fit"]

    def mape(rows, meas):
        return 100.0 * float(np.mean([abs(r[meas + "_fit"] / r[meas] - 1.0) for r in rows]))

    if "mape_tok_s_pct" in f:
        got = {"mape_tok_s_pct": mape(p["points"], "tok_s"), "mape_j_per_tok_pct": mape(p["points"], "j_per_tok")}
        bound = {"mape_tok_s_pct": 10.0, "mape_j_per_tok_pct": 10.0}
    else:  # Splitwise request rows: decode time and power within 10 %; prefill time within 20 % (the DB's
        # batched prompts grow superlinearly with batch at TP4/8, which one MFU does not follow)
        q = p["request_points"]
        got = {"mape_token_time_pct": mape(q, "token_time_ms"), "mape_avg_power_pct": mape(q, "avg_w_per_gpu"),
               "mape_peak_power_pct": mape(q, "peak_w_per_gpu"), "mape_prompt_time_pct": mape(q, "prompt_time_ms")}
        bound = {"mape_token_time_pct": 10.0, "mape_avg_power_pct": 10.0, "mape_peak_power_pct": 10.0,
                 "mape_prompt_time_pct": 20.0}
    for k, v in got.items():
        assert v <= bound[k], (k, v)
        assert f[k] == pytest.approx(v, abs=0.05), k  # the points are rounded to 5 significant digits
    for c in p["cap_points"]:
        assert abs(c["err_pct"]) <= 10.0


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_build_node_reproduces_measurements_independently(name):
    """Recompute the MAPE through build_node/steady_state straight from the shipped CSV."""
    p = PROFILES[name]
    files, opts = _args(p)
    n = build_node(NodeSpec(gpu=p["gpu"], model=p["model"], precision=p["precision"],
                            tensor_parallel=p["tensor_parallel"]))
    assert n.profile["name"] == name and n.calibration["status"] == "calibrated"
    rows = [r for r in read_rows(files) if r["kind"] == "load" and r["gpu"] == p["gpu"]
            and r["model"] == p["model"] and int(r["n_gpus"]) == p["tensor_parallel"]
            and fitted_load(r)]  # the rows fitted (prefix-cache repeats are not)
    if not rows:  # request rows: the decode step through step_fn
        for q in p["request_points"]:
            b = q["batch"]
            dt, _ = n.step_fn()(0, b, b * (q["prompt_tokens"] + 0.5 * q["output_tokens"]))
            assert dt * 1e3 == pytest.approx(q["token_time_ms_fit"], rel=1e-3)
        return
    f = lambda k: np.array([float(r[k]) for r in rows])  # noqa: E731
    # an empty decode_ctx (the A100-SXM4-40GB rows: ML.ENERGY v2.0 publishes no output-length histogram) is fitted
    # at its default, mean_in + mean_out/2 (calibrate.row_decode_ctx)
    ctx = np.array([row_decode_ctx(r) for r in rows])
    s = n.steady_state(f("batch"), f("mean_in"), f("mean_out"), decode_ctx=ctx,
                       prompt_scv=np.array([row_prompt_scv(r) for r in rows]))
    e_t = np.mean(np.abs(s.throughput_tok_s / f("output_tok_s") - 1)) * 100
    e_j = np.mean(np.abs(s.gpu_power_w / s.throughput_tok_s / f("j_per_out_tok") - 1)) * 100
    assert e_t == pytest.approx(p["fit"]["mape_tok_s_pct"], abs=0.01)
    assert e_j == pytest.approx(p["fit"]["mape_j_per_tok_pct"], abs=0.01)


def _same_warnings(new: dict, shipped: dict) -> None:
    """The same parameters on a bound (and on which side), and the same "not identified by the data" flags except
    for a parameter whose data-only relative standard error lies within a factor 2 of the threshold in either fit
    (it is itself ill-determined: numpy/scipy releases and CPUs move it, e.g. 41 vs 42, 1.9 vs 2.4)."""
    from dcsim.node.calibrate import UNIDENTIFIED_REL_SE

    def bound(prof):
        return sorted(w.split(" = ")[0] + w.rsplit(" its ", 1)[1] for w in prof["warnings"] if "sits on its" in w)

    assert bound(new) == bound(shipped)

    def near(prof, k):
        r = (prof["uncertainty"].get(k) or {}).get("rel_se_data")
        return r is None or UNIDENTIFIED_REL_SE / 2 <= r <= 2 * UNIDENTIFIED_REL_SE

    for k in set(new["uncertainty"]) | set(shipped["uncertainty"]):
        a, b = (p["uncertainty"].get(k, {}).get("identified") for p in (new, shipped))
        assert a == b or near(new, k) or near(shipped, k), (k, new["uncertainty"].get(k), shipped["uncertainty"].get(k))


# every shipped profile is refitted from its shipped CSVs by its generated_by command
@pytest.mark.parametrize("name", sorted(PROFILES))
def test_calibrate_recomputes_shipped_profile(name, tmp_path, monkeypatch):
    p = PROFILES[name]
    written = _rerun(p, tmp_path / f"{name}.yaml", monkeypatch)
    new = yaml.safe_load(written)
    # the fit is deterministic on one machine; across numpy/scipy releases and CPUs the optimizer stops elsewhere
    # along the directions the data do not identify (measured on numpy 2.4.6 / scipy 1.17.1 against fits made on
    # another machine: predictions within 0.2 % for 24 profiles and 2.9 % for Scout TP8, whose unidentified MoE
    # dispatch moved 44 %; parameters the data identify within 1 %; worst points within 3.1 points)
    for a, b in zip(new["points"], p["points"]):
        assert a["tok_s_fit"] == pytest.approx(b["tok_s_fit"], rel=0.03)
        assert a["j_per_tok_fit"] == pytest.approx(b["j_per_tok_fit"], rel=0.03)
    for a, b in zip(new["request_points"], p["request_points"]):
        assert a["token_time_ms_fit"] == pytest.approx(b["token_time_ms_fit"], rel=0.03)
        assert a["avg_w_per_gpu_fit"] == pytest.approx(b["avg_w_per_gpu_fit"], rel=0.03)
    _same_warnings(new, p)
    assert new["measured_lengths"] == p["measured_lengths"]
    scale = {"t_layer_s": 1e-5, "t_seq_layer_s": 1e-7, "t_moe_layer_s": 1e-5, "t_fp8_layer_s": 1e-5, "p_sync_w": 100.0, "p_compute_w": 100.0,
             "p_memory_w": 100.0}
    for k in PARAM_NAMES:
        ident = [(q["uncertainty"].get(k) or {}).get("identified") for q in (p, new)]
        if all(ident):
            assert new["params"][k] == pytest.approx(p["params"][k], rel=0.05, abs=1e-4 * scale.get(k, 1.0)), k
        elif k not in p["uncertainty"]:   # fixed: exactly the shipped value (a value not written reads 0)
            assert new["params"].get(k, 0.0) == p["params"].get(k, 0.0), k
        elif any(ident):  # identified by one fit only (its flag at the threshold's edge, _same_warnings): once never
            # compared; now within two of the identifying fit's data-only standard errors, at most 25 % (a
            # standard error near 50 % would let the check pass a parameter moved by +-100 %)
            rel = max((q["uncertainty"][k]["rel_se_data"] for q, i in zip((p, new), ident) if i))
            assert new["params"][k] == pytest.approx(p["params"][k], rel=min(2 * rel, 0.25),
                                                     abs=1e-4 * scale.get(k, 1.0)), k
    for k, v in p["fit"].items():
        tol = 1.0 if k.startswith("mape") else 3.5 if k.startswith("max_err") else 0.0
        assert new["fit"][k] == pytest.approx(v, abs=tol), k
    _assert_is_what_generated_by_writes(written, PROFILE_DIR / f"{name}.yaml")


def test_every_profile_records_the_lengths_its_rows_were_measured_at():
    """Each shipped profile and pooled fit holds the prompt lengths and decode contexts of the rows it fits
    (calibrate.measured_lengths, written by `dcsim calibrate`), recomputed here from its rows without refitting: the
    range the engine compares a workload with (docs/node.md, Extrapolated context). ML.ENERGY's chat rows: a
    634-token prompt (an assumption of the extraction) and 1.0-1.6k tokens of decode context; Splitwise's A100 rows
    128-4,096-token prompts."""
    from dcsim.node.calibrate import groups, measured_lengths, select
    from dcsim.node.catalog import pooled_profiles

    for name, p in PROFILES.items():
        files, o = _args(p)
        rows_g, _ = select(read_rows(files), o["--gpu"], o["--model"], o.get("--precision"), int(o["--tp"]))
        assert p["measured_lengths"] == measured_lengths(rows_g), name
    for gpu, p in pooled_profiles().items():
        files, _ = _args(p)
        assert p["measured_lengths"] == measured_lengths([r for rs in groups(read_rows(files), gpu).values()
                                                          for r in rs]), gpu
    assert PROFILES["H100-SXM_llama-3.1-70b_bf16_tp4"]["measured_lengths"] == {
        "prompt_tokens": [634.0, 634.0], "decode_context": [978.6, 993.2]}
    assert PROFILES["A100-SXM4-80GB_llama-2-70b_bf16_tp8"]["measured_lengths"]["prompt_tokens"] == [128.0, 4096.0]
    # what calibrate writes (the refit itself is test_calibrate_recomputes_shipped_profile's)
    one = calibrate([MEASUREMENT_DIR / "splitwise_a100_requests.csv"], "A100-SXM4-80GB", "llama-2-70b", "bf16", 4)
    assert one["measured_lengths"] == {"prompt_tokens": [128.0, 4096.0], "decode_context": [192.0, 4160.0]}
    assert list(one).index("measured_lengths") == list(one).index("points") - 1


def test_fit_recovers_known_parameters_from_synthetic_points(tmp_path):
    """Points generated by the model itself with known params are fitted back (no noise)."""
    truth = {"mfu": 0.55, "mbu": 0.75, "t_layer_s": 5e-5, "t_seq_layer_s": 4e-7, "overlap_p": 3.0,
             "p_compute_w": 600.0, "p_memory_w": 450.0, "p_sync_w": 120.0, "gamma": 2.0}
    prof = {"name": "truth", "gpu": "B200", "model": "llama-3.1-70b", "precision": "bf16",
            "tensor_parallel": 2, "params": truth}
    (tmp_path / "truth.yaml").write_text(yaml.safe_dump(prof))
    n = build_node(NodeSpec(gpu="B200", model="llama-3.1-70b", tensor_parallel=2, profile="truth.yaml"),
                   base_dir=tmp_path)
    rows = []
    for b in (4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048):
        s = n.steady_state(float(b), 600.0, 350.0)
        t, w = float(s.throughput_tok_s), float(s.gpu_power_w)
        rows.append({"kind": "load", "gpu": "B200", "n_gpus": 2, "model": "llama-3.1-70b", "precision": "bf16",
                     "max_num_seqs": b, "batch": b, "mean_in": 600, "mean_out": 350, "output_tok_s": t,
                     "gpu_power_w": w, "j_per_out_tok": w / t, "source": "[synthetic]"})
    path = tmp_path / "synthetic.csv"
    with path.open("w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    fit = calibrate([path], "B200", "llama-3.1-70b")
    # noise-free points: within 1 % (the weak priors, e.g. p = 8, pull a little)
    assert fit["fit"]["mape_tok_s_pct"] < 1.0 and fit["fit"]["mape_j_per_tok_pct"] < 1.0
    # each parameter is recovered within 2 of its data-only standard errors (10 % at least: the
    # weak priors pull a little), or flagged as not identified by the data
    # "identified" allows a relative standard error up to 0.5, so 2 of them alone let any value in (0, 2 x truth)
    # pass: the ten points must also identify the four time/efficiency parameters to better than 0.45 (measured
    # 2026-12-05: mfu 0.05, mbu 0.16, t_layer_s 0.35, t_seq_layer_s 0.38; recovered -7 %, +8 %, +23 %, -32 %)
    u = fit["uncertainty"]
    for k in ("mfu", "mbu", "t_layer_s", "t_seq_layer_s"):
        assert u[k]["identified"] and u[k]["rel_se_data"] < 0.45, (k, u[k])
    for k, u in fit["uncertainty"].items():
        if u["identified"]:
            assert fit["params"][k] == pytest.approx(truth[k], rel=max(0.10, 2 * u["rel_se_data"])), k
        else:
            assert any(w.startswith(k + " ") for w in fit["warnings"])


def test_cli_writes_a_profile_a_scenario_can_name(tmp_path, capsys):
    out = tmp_path / "mine.yaml"
    # (a file whose fits converge in seconds: the CLI is under test here, the shipped fits above)
    src = MEASUREMENT_DIR / "mlenergy_qwen3-235b-a22b-fp8.csv"
    rc = main([str(src), "--gpu", "B200", "--model", "qwen3-235b-a22b", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "MAPE tok/s" in text and "J/tok" in text
    n = build_node(NodeSpec(gpu="B200", model="qwen3-235b-a22b", precision="fp8", tensor_parallel=2,
                            profile="mine.yaml"), base_dir=tmp_path)
    assert n.profile["params"] == yaml.safe_load(out.read_text())["params"]
    assert main([str(src), "--gpu", "A100-SXM4-80GB", "--model", "qwen3-235b-a22b"]) == 2


def test_extraction_script_reproduces_shipped_csvs(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("extract_mlenergy", REPO / "scripts" / "extract_mlenergy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--data", str(DATA / "ml-energy-v3"), "--out", str(tmp_path)]) == 0
    # mlenergy_v2_a100_40gb.csv comes from scripts/extract_mlenergy_v2.py and a clone of ml-energy/benchmark; its rows
    # are checked against the vendored v2 JSONs in tests/test_a100_40gb.py
    for f in (f for f in MEASUREMENT_DIR.glob("*.csv") if not f.name.startswith("mlenergy_v2_")):
        assert (tmp_path / f.name).read_text() == f.read_text(), f.name


def test_profiles_dir_only_holds_calibrate_output():
    for f in PROFILE_DIR.glob("*.yaml"):
        p = yaml.safe_load(f.read_text())
        assert p["name"] == f.stem and p["generated_by"].startswith("dcsim calibrate ")


@pytest.mark.parametrize("name", [n for n in sorted(PROFILES) if PROFILES[n]["cap_points"]])
def test_cap_curve_reproduced_through_node_model(name):
    """Splitwise DGX-H100 at 70 % power: prefill x1.30, decode x1.00 [SWsim] -- recomputed with
    NodeModel.clock_for_step on the cap rows' own model (Llama-2-70B, TP8) and this profile."""
    n = build_node(NodeSpec(gpu="H100-SXM", model="llama-2-70b", tensor_parallel=8, profile=name))
    rows = [r for r in read_rows([MEASUREMENT_DIR / "splitwise_h100_cap.csv"]) if r["kind"] == "cap"]
    for r in rows:
        pt, b = float(r["prompt_tokens"]), float(r["batch"])
        # a prefill batch of b prompts of pt tokens: each position attends to pt/2 on average
        it = (pt * b, 0, 0.0, b * pt * pt / 2) if r["phase"] == "prefill" else (0, b, float(r["ctx_tokens"]), 0.0)
        cap = float(r["cap_frac_tdp"]) * n.gpu.tdp_w
        c = n.clock_for_step(cap, *it)
        factor = n.step_fn(c)(*it)[0] / n.step_fn(1.0)(*it)[0]
        assert factor == pytest.approx(float(r["latency_factor"]), rel=0.10), (r["phase"], pt, b)
        if r["phase"] == "prefill":
            assert factor > 1.15


def test_bad_measurement_rows_name_file_and_line(tmp_path):
    from dcsim.node.calibrate import MeasurementError, calibrate

    src = MEASUREMENT_DIR / "mlenergy_llama-4-maverick-fp8.csv"  # one group whose fit converges in a second
    lines = src.read_text().splitlines()
    header = lines[0].split(",")
    col = header.index("output_tok_s")
    bad = lines[3].split(",")
    bad[col] = "abc"
    lines[3] = ",".join(bad)
    f = tmp_path / "m.csv"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(MeasurementError, match=r"m\.csv:4: column 'output_tok_s': not a number"):
        calibrate([f], "H100-SXM", "llama-4-maverick")
    prof = calibrate([f], "H100-SXM", "llama-4-maverick", skip_bad=True)
    assert len(prof["skipped_rows"]) == 1 and prof["fit"]["n_points"] == len(lines) - 2


def _with_value(lines: list[str], column: str, value: str, path: Path) -> Path:
    """Write a measurement CSV's lines to ``path`` with ``column`` of its second data row (file line 3) set."""
    header = lines[0].split(",")
    row = lines[2].split(",")
    row[header.index(column)] = value
    path.write_text("\n".join(lines[:2] + [",".join(row)] + lines[3:]) + "\n")
    return path


def test_decode_context_column_is_used_and_checked(tmp_path):
    """The optional decode_ctx column (tokens a running sequence holds, residence-weighted) enters the
    fit's predictions; without it the default is mean_in + mean_out/2; a value below mean_in (less
    than the prompt) is refused with file and line."""
    from dcsim.node.calibrate import MeasurementError, Problem

    src = MEASUREMENT_DIR / "mlenergy_llama-3.1-8b.csv"
    rows = [r for r in read_rows([src]) if r["gpu"] == "H100-SXM"]
    assert all(float(r["decode_ctx"]) > float(r["mean_in"]) + 0.5 * float(r["mean_out"]) for r in rows)
    bare = [{k: v for k, v in r.items() if k != "decode_ctx"} for r in rows]
    with_c, without = Problem("H100-SXM", [rows], []), Problem("H100-SXM", [bare], [])
    np.testing.assert_allclose(without.g0.decode_ctx, without.g0.mean_in + 0.5 * without.g0.mean_out)
    perf, pw = with_c.unpack(with_c.prior_centre())
    t_with = with_c.predict(perf, pw)[0]
    t_without = without.predict(perf, pw)[0]
    assert np.all(t_with < t_without)  # more KV traffic per step: fewer tokens/s at large batch
    f = _with_value(src.read_text().splitlines(), "decode_ctx", "100", tmp_path / "m.csv")
    with pytest.raises(MeasurementError, match=r"m\.csv:3: column 'decode_ctx': must be a finite number >= mean_in"):
        calibrate([f], "H100-SXM", "llama-3.1-8b")


def test_prompt_scv_column_is_used_and_checked(tmp_path):
    """The optional prompt_scv column (spread of the prompt lengths) enters the fit's predictions through the
    random prefill of the steady mix: more spread, slower at large batch; without it the default is 0 (every
    prompt alike); a negative or non-numeric value is refused with file and line."""
    from dcsim.node.calibrate import MeasurementError, Problem

    src = MEASUREMENT_DIR / "mlenergy_llama-3.1-70b.csv"
    rows = [r for r in read_rows([src]) if r["gpu"] == "H100-SXM" and fitted_load(r)]
    assert {r["prompt_scv"] for r in rows} == {"0.28"}  # the ML.ENERGY assumption (dcsim.validation.ML3_PROMPT_SCV)
    bare = [{k: v for k, v in r.items() if k != "prompt_scv"} for r in rows]
    wide = [{**r, "prompt_scv": "2.0"} for r in rows]
    probs = [Problem("H100-SXM", [g], []) for g in (bare, rows, wide)]
    assert np.all(probs[0].g0.prompt_scv == 0.0)
    perf, pw = probs[0].unpack(probs[0].prior_centre())
    t = [pr.predict(perf, pw)[0] for pr in probs]
    big = probs[0].g0.batch >= 128
    assert np.all(t[0][big] > t[1][big]) and np.all(t[1][big] > t[2][big])
    lines = src.read_text().splitlines()
    for bad, why in (("-0.1", "must be a finite number >= 0"), ("wide", "not a number")):
        f = _with_value(lines, "prompt_scv", bad, tmp_path / "m.csv")
        with pytest.raises(MeasurementError, match=rf"m\.csv:3: column 'prompt_scv': {why}"):
            calibrate([f], "H100-SXM", "llama-3.1-70b")


def test_under_determined_fit_is_refused(tmp_path, capsys):
    """One load row (one measurement point: 3 measured values, tokens/s, J/token, its decode-only median ITL) for 8
    free parameters: refused, naming the file, no profile written."""
    src = MEASUREMENT_DIR / "mlenergy_llama-3.1-8b.csv"
    lines = src.read_text().splitlines()
    f = tmp_path / "one.csv"
    f.write_text("\n".join(lines[:2]) + "\n")
    with pytest.raises(ValueError, match=r"one\.csv: H100-SXM/llama-3.1-8b/bf16/TP1: 3 measured value.*8 free parameters.*"
                                         r"under-determined"):
        calibrate([f], "H100-SXM", "llama-3.1-8b")
    out = tmp_path / "p.yaml"
    assert main([str(f), "--out", str(out)]) == 2
    assert "under-determined" in capsys.readouterr().err and not out.exists()


def test_gpu_and_model_optional_and_every_group_in_one_call(tmp_path, capsys):
    # (the shipped profiles' files, with the cap rows as they are fitted: their fits converge in seconds; the
    # CLI is under test here, the shipped fits above)
    cap = str(MEASUREMENT_DIR / "splitwise_h100_cap.csv")
    # one group in the file: no --gpu/--model needed
    one = main([str(MEASUREMENT_DIR / "mlenergy_llama-4-maverick-fp8.csv"), cap, "--out", str(tmp_path / "m.yaml")])
    assert one == 0
    assert yaml.safe_load((tmp_path / "m.yaml").read_text())["name"] == "H100-SXM_llama-4-maverick_fp8_tp8"
    # several groups (two GPUs, three TP degrees): every one calibrated, one file each in the --out directory
    assert main([str(MEASUREMENT_DIR / "mlenergy_qwen3-235b-a22b-fp8.csv"), cap, "--out", str(tmp_path / "q")]) == 0
    names = sorted(p.stem for p in (tmp_path / "q").glob("*.yaml"))
    assert names == sorted(n for n in PROFILES if "qwen3-235b-a22b_fp8" in n) and len(names) == 3
    text = capsys.readouterr().out
    assert text.count("profile H100-SXM_qwen3") == 2 and text.count("profile B200_qwen3") == 1 and "±" in text


def test_uncertainty_and_warnings_are_reported():
    """Each free parameter carries a standard error; a parameter the data cannot pin down is
    flagged (batch-1 decode alone cannot separate MBU from the fixed overhead)."""
    p = PROFILES["A100-SXM4-80GB_llama-2-70b_bf16_tp8"]
    # no cap rows, dense bf16, one model (the host's per-sequence wait is a pooled fit's only)
    assert set(p["uncertainty"]) == set(PARAM_NAMES) - {"gamma", "t_moe_layer_s", "t_fp8_layer_s", "t_host_seq_s"}
    assert all(u["se"] >= 0 for u in p["uncertainty"].values())
    assert any("not identified" in w for w in p["warnings"])
    for name, u in p["uncertainty"].items():
        assert (not u["identified"]) == any(w.startswith(name + " ") and "not identified" in w for w in p["warnings"])
    # the H100 fits no longer sit on their bounds the way the old 70B fit did (p_base 3e-11, t_fixed 1e-13)
    q = PROFILES["H100-SXM_llama-3.1-70b_bf16_tp4"]
    assert not any(u["on_bound"] for u in q["uncertainty"].values())
    assert q["params"]["t_layer_s"] * 80 > 1e-4


def test_pooled_profiles_are_calibrate_output_with_a_leave_one_model_out_table():
    from dcsim.node.catalog import POOLED_DIR, pooled_profiles

    pooled = pooled_profiles()
    assert set(pooled) == {p["gpu"] for p in PROFILES.values()}
    for gpu, p in pooled.items():
        assert p["generated_by"].startswith("dcsim calibrate ") and p["name"] == f"pooled-{gpu}"
        assert (POOLED_DIR / f"{gpu}.yaml").is_file()
        # every pooled group has a profile of its own, or too few load levels for one (Gemma-3-27B and Qwen3-32B on
        # 1 H100: max_num_seqs 8-32, three levels each)
        # and Gemma-2-9B TP1 / Gemma-2-27B TP2 on the A100-SXM4-40GB, 3 and 2 levels), or no residual degree of
        # freedom (Mistral-Nemo-12B there: 4 load rows, 8 values for 8 free parameters)
        assert {g for g in p["pooled_groups"] if g not in PROFILES} <= {"H100-SXM_gemma-3-27b_bf16_tp1",
                                                                          "H100-SXM_qwen3-32b_bf16_tp1",
                                                                          "A100-SXM4-40GB_gemma-2-9b_bf16_tp1",
                                                                          "A100-SXM4-40GB_gemma-2-27b_bf16_tp2",
                                                                          "A100-SXM4-40GB_mistral-nemo-12b_bf16_tp1"}
        models = {g.split("_")[1] for g in p["pooled_groups"]}
        assert len(models) >= 2
        assert {r["profile"] for r in p["leave_one_model_out"]} == set(p["pooled_groups"])
        # the groups whose J/token the pool left to their own profiles (block-scaled FP8: calibrate.energy_is_own) are
        # named in the file, with a warning
        own = [g for g in p["pooled_groups"] if energy_is_own(*g.split("_")[1:3])]
        assert p["energy_not_fitted"] == own
        assert any(w.startswith("energy not fitted for " + ", ".join(own)) for w in p["warnings"]) == bool(own)
    assert pooled["H100-SXM"]["energy_not_fitted"] == ["H100-SXM_qwen3-235b-a22b_fp8_tp4",
                                                       "H100-SXM_qwen3-235b-a22b_fp8_tp8"]
    # the host wait per decoding sequence: identified by the H100 pool (22 us), held at 0 where the data do not identify
    # it, the hold recorded (until session 52 the shipped B200 and A100-SXM4-80GB files held no record of it)
    assert pooled["H100-SXM"]["uncertainty"]["t_host_seq_s"]["identified"]
    assert pooled["H100-SXM"]["params"]["t_host_seq_s"] == pytest.approx(22e-6, rel=0.1)
    for gpu in ("B200", "A100-SXM4-80GB"):
        u = pooled[gpu]["uncertainty"]["t_host_seq_s"]
        assert u["held_at"] == 0.0 and not u["identified"] and u["rel_se_data"] > 0.5
        assert "t_host_seq_s" not in pooled[gpu]["params"]
        assert any(w.startswith("t_host_seq_s is not identified") and "held at 0" in w for w in pooled[gpu]["warnings"])


@pytest.mark.parametrize("gpu", ["A100-SXM4-80GB"] + [pytest.param(g, marks=pytest.mark.slow)
                                                       for g in ("A100-SXM4-40GB", "B200", "H100-SXM")])
def test_pooled_profile_recomputes(gpu, tmp_path, monkeypatch):
    """Recompute each pooled fit by its generated_by command (A100-SXM4-80GB 4 s; A100-SXM4-40GB, B200 and H100
    45-200 s on a loaded 2-core box, so slow) with its leave-one-model-out and other-TP tables from the CSVs: the
    shipped tables, which docs/validation.md reads, are what the code computes (the B200 table had gone stale by up to
    0.4 points), and the whole file is what the command writes (the H100 pool had gone stale by the host wait:
    session 52)."""
    from dcsim.node.catalog import POOLED_DIR, pooled_profiles

    ship = pooled_profiles()[gpu]
    written = _rerun(ship, tmp_path / f"{gpu}.yaml", monkeypatch)
    new = yaml.safe_load(written)
    for k in PARAM_NAMES:
        assert new["params"].get(k, 0.0) == pytest.approx(ship["params"].get(k, 0.0), rel=0.02), k
    assert [r["profile"] for r in new["leave_one_model_out"]] == [r["profile"] for r in ship["leave_one_model_out"]]
    for a, b in zip(new["leave_one_model_out"], ship["leave_one_model_out"]):
        for k in ("mape_tok_s_pct", "mape_j_per_tok_pct", "max_err_tok_s_pct", "max_err_j_per_tok_pct"):
            assert a[k] == pytest.approx(b[k], abs=0.05), (a["profile"], k)
    if gpu == "A100-SXM4-80GB":
        # the other-TP table: Llama-2-70B at each TP predicted by its fit at each other TP (6 ordered pairs)
        assert len(new["cross_tp"]) == len(ship["cross_tp"]) == 6
        for a, b in zip(new["cross_tp"], ship["cross_tp"]):
            assert (a["profile"], a["from"]) == (b["profile"], b["from"])
            assert a["max_err_tok_s_pct"] == pytest.approx(b["max_err_tok_s_pct"], abs=0.1)
    _assert_is_what_generated_by_writes(written, POOLED_DIR / f"{gpu}.yaml")


def test_moe_dispatch_is_free_only_for_moe_models_and_identified_by_them():
    """t_moe_layer_s is a free parameter of an MoE group (identified: the MoE steps are far longer
    than their weight reads) and exactly 0, not fitted, for a dense group."""
    dense = PROFILES["H100-SXM_llama-3.1-8b_bf16_tp1"]
    assert dense["params"]["t_moe_layer_s"] == 0.0 and "t_moe_layer_s" not in dense["uncertainty"]
    moe = PROFILES["H100-SXM_qwen3-235b-a22b_fp8_tp8"]
    assert moe["params"]["t_moe_layer_s"] > 1e-5 and "t_moe_layer_s" in moe["uncertainty"]
    assert moe["fit"]["n_free_params"] == dense["fit"]["n_free_params"] + 1
    from dcsim.node.catalog import pooled_profiles
    h100 = pooled_profiles()["H100-SXM"]
    assert h100["params"]["t_moe_layer_s"] > 1e-5 and h100["uncertainty"]["t_moe_layer_s"]["identified"]


def test_fp8_cost_is_free_only_when_the_data_identify_it():
    """t_fp8_layer_s is identified by one model served in FP8 and in BF16 on the same GPU, or by two
    FP8 models beside BF16 ones; a single group (FP8 or not), FP8 groups alone, or one FP8 model
    among BF16 models leave it at exactly 0; the shipped H100 and B200 pools (Qwen3-235B-A22B in
    both precisions) fit it and the data identify it, at a positive cost per layer (FP8 Qwen3-235B
    is slower than BF16 at batch 8 on 8xH100)."""
    from dcsim.node.calibrate import Problem, groups, read_rows
    from dcsim.node.catalog import pooled_profiles

    fp8 = PROFILES["H100-SXM_llama-3.1-405b_fp8_tp8"]
    assert fp8["params"]["t_fp8_layer_s"] == 0.0 and "t_fp8_layer_s" not in fp8["uncertainty"]
    rows = read_rows(sorted(MEASUREMENT_DIR.glob("mlenergy_*.csv")))
    gs = groups(rows, "H100-SXM")
    no_pair = [v for k, v in gs.items() if k[1] != "qwen3-235b-a22b"]
    assert Problem("H100-SXM", no_pair, []).has_fp8  # 405B-FP8 and Maverick-FP8 beside BF16 models
    one_fp8 = [v for k, v in gs.items() if k[1] not in ("qwen3-235b-a22b", "llama-4-maverick")]
    assert not Problem("H100-SXM", one_fp8, []).has_fp8  # 405B-FP8 against BF16 models only
    assert Problem("H100-SXM", list(gs.values()), []).has_fp8
    assert not Problem("H100-SXM", [v for k, v in gs.items() if k[2] == "fp8"], []).has_fp8  # no BF16 group
    b200 = groups(rows, "B200")
    assert not Problem("B200", [v for k, v in b200.items() if k[1] != "qwen3-235b-a22b"], []).has_fp8
    pooled = pooled_profiles()
    for gpu in ("H100-SXM", "B200"):
        p = pooled[gpu]
        assert p["params"]["t_fp8_layer_s"] > 1e-5 and p["uncertainty"]["t_fp8_layer_s"]["identified"], gpu
    assert pooled["A100-SXM4-80GB"]["params"]["t_fp8_layer_s"] == 0.0


def test_report_header_names_the_data_fitted_and_says_where_gamma_comes_from(tmp_path):
    # the header printed "(fitted to cap rows: splitwise_h100_cap.csv)" as if that were the profile's
    # source; the user's own CSV was not named
    from dcsim.node.calibrate import format_report

    src = MEASUREMENT_DIR / "mlenergy_llama-3.1-70b.csv"
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    mine = tmp_path / "my_measurements.csv"
    with open(mine, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(r for r in rows if r["gpu"] == "H100-SXM")
    prof = calibrate([mine, MEASUREMENT_DIR / "splitwise_h100_cap.csv"], "H100-SXM", "llama-3.1-70b", "bf16", 4)
    head = format_report(prof).splitlines()[:3]
    assert head[0] == f"profile {prof['name']}"
    assert head[1] == "  fitted to: my_measurements.csv, splitwise_h100_cap.csv"
    assert head[2].startswith("  gamma (DVFS exponent): fitted to cap rows: splitwise_h100_cap.csv")
    # and the gamma line does not contradict the warnings: one cap level does not pin gamma
    assert ("its prior sets it" in head[2]) == (not prof["uncertainty"]["gamma"]["identified"])


def test_report_names_the_expert_layout_of_an_moe_profile():
    # the YAML recorded expert_parallel but the printed report did not say which layout was calibrated
    from dcsim.node.calibrate import format_report

    cap = MEASUREMENT_DIR / "splitwise_h100_cap.csv"  # as the shipped profiles are fitted (and in seconds)
    ep = calibrate([MEASUREMENT_DIR / "mlenergy_llama-4-maverick-fp8.csv", cap], "H100-SXM", "llama-4-maverick", "fp8", 8)
    assert ep["expert_parallel"] is True
    assert format_report(ep).splitlines()[0] == (f"profile {ep['name']} (experts: expert-parallel over 8 GPUs, "
                                                 "whole experts per GPU)")
    sharded = {**ep, "expert_parallel": False}
    assert format_report(sharded).splitlines()[0].endswith("(experts: sharded over the replica's GPUs, tensor parallel)")
    dense = calibrate([MEASUREMENT_DIR / "mlenergy_llama-3.1-70b.csv", cap], "H100-SXM", "llama-3.1-70b", "bf16", 4)
    assert format_report(dense).splitlines()[0] == f"profile {dense['name']}"


def test_fit_optimises_only_the_free_parameters_and_converges():
    """A fixed parameter (gamma without cap rows, the MoE dispatch and FP8 cost of a dense BF16 group) is set
    exactly, not boxed in a pinned interval that crippled the optimizer: B200 Gemma-3-27B's starts each ran to
    the 3,000-iteration limit (~21,000 residual evaluations) before; now the best start converges (status > 0)
    in a few hundred iterations, to the shipped fit."""
    from dcsim.node.calibrate import _I, Problem, fit, groups

    rows = read_rows([MEASUREMENT_DIR / "mlenergy_gemma-3-27b.csv"])
    prob = Problem("B200", [v for k, v in groups(rows, "B200").items()], [])
    assert list(prob.free()[[_I["gamma"], _I["t_moe_layer_s"], _I["t_fp8_layer_s"]]]) == [False, False, False]
    res = fit(prob, 1.7)
    assert res.status > 0 and res.nfev < 500
    assert res.x[_I["gamma"]] == 1.7 and res.x[_I["t_moe_layer_s"]] == 0.0 and res.x[_I["t_fp8_layer_s"]] == 0.0
    assert res.jac.shape[1] == len(PARAM_NAMES) and not res.jac[:, ~prob.free()].any()
    ship = PROFILES["B200_gemma-3-27b_bf16_tp1"]
    assert ship["params"]["gamma"] == 2.0
    tput, jt, _ = prob.predict(*prob.unpack(fit(prob, 2.0).x))
    np.testing.assert_allclose(tput, [q["tok_s_fit"] for q in ship["points"]], rtol=1e-3)
    np.testing.assert_allclose(jt, [q["j_per_tok_fit"] for q in ship["points"]], rtol=1e-3)


def test_calibration_flags_rows_whose_batch_holds_more_kv_than_fits():
    """Qwen3-8B on one H100 publishes, at max_num_seqs 384 and 512, an average batch that at its decode context holds
    more KV than the replica can keep (90 % of 80 GB less 16 GB of weights, 144 KB per token): the profile and the
    report say which rows and by how much. The far larger excesses (1.7-6.4x) of Llama-3.1-70B and Qwen3-235B were
    all measured with the request list sent several times (prefix-cache sharing), rows the fit leaves out."""
    from dcsim.node.calibrate import format_report
    cap_file = MEASUREMENT_DIR / "splitwise_h100_cap.csv"
    p = calibrate([MEASUREMENT_DIR / "mlenergy_qwen3-8b.csv", cap_file], "H100-SXM", "qwen3-8b", "bf16", 1)
    over = p["kv_over_capacity"]
    assert [o["max_num_seqs"] for o in over] == [384, 512]
    assert [o["kv_held_x"] for o in over] == [1.26, 1.56]
    node = build_node(NodeSpec(gpu="H100-SXM", model="qwen3-8b", tensor_parallel=1))
    row = next(r for r in read_rows([MEASUREMENT_DIR / "mlenergy_qwen3-8b.csv"])
               if r["gpu"] == "H100-SXM" and int(r["max_num_seqs"]) == 512)
    assert float(row["batch"]) * float(row["decode_ctx"]) / node.kv_capacity_tokens == pytest.approx(1.56, abs=0.005)
    assert "1.26x, 1.56x the replica's KV capacity" in format_report(p)
    assert shipped_profiles()["H100-SXM_qwen3-8b_bf16_tp1"]["kv_over_capacity"] == over
    assert shipped_profiles()["H100-SXM_llama-3.1-405b_fp8_tp8"]["kv_over_capacity"] == []
    assert shipped_profiles()["H100-SXM_llama-3.1-70b_bf16_tp4"]["kv_over_capacity"] == []


def test_rows_measured_with_repeated_requests_are_left_out_of_the_fit_and_listed(tmp_path):
    """ML.ENERGY sent its request list 2-3 times at Llama-3.1-70B's highest max_num_seqs on 4 H100s (the benchmark's
    sweep configs, column request_repeats): vLLM's prefix cache serves the repeats without prefill, a workload the
    model does not describe. Those rows are not fitted (the fit equals one on the other rows alone), the profile and
    the report list them, a malformed value names file and line, and a group keeps a profile of its own only with
    enough single-send levels."""
    from dcsim.node.calibrate import MeasurementError, format_report, has_own_profile
    src = MEASUREMENT_DIR / "mlenergy_llama-3.1-70b.csv"
    cap_file = MEASUREMENT_DIR / "splitwise_h100_cap.csv"
    rows = [r for r in read_rows([src]) if r["gpu"] == "H100-SXM"]
    assert {int(r["max_num_seqs"]): int(r["request_repeats"]) for r in rows if int(r["request_repeats"]) > 1} == \
        {512: 2, 768: 2, 1024: 2}
    p = calibrate([src, cap_file], "H100-SXM", "llama-3.1-70b", "bf16", 4)
    assert [(o["max_num_seqs"], o["request_repeats"]) for o in p["repeated_requests"]] == [(512, 2), (768, 2), (1024, 2)]
    assert max(pt["max_num_seqs"] for pt in p["points"]) == 384
    assert "512 x2, 768 x2, 1024 x2) are left out of the fit" in format_report(p)
    # the same fit as on a file without those rows
    lines = src.read_text().splitlines()
    hdr = lines[0].split(",")
    kept = [ln for ln in lines[1:] if int(ln.split(",")[hdr.index("request_repeats")]) == 1]
    f = tmp_path / "single.csv"
    f.write_text("\n".join([lines[0]] + kept) + "\n")
    q = calibrate([f, cap_file], "H100-SXM", "llama-3.1-70b", "bf16", 4)
    assert q["params"] == p["params"] and q["repeated_requests"] == []
    # 4 load levels but only 3 sent once: no profile of its own
    few = [r for r in rows if int(r["max_num_seqs"]) in (8, 16, 32, 512)]
    assert not has_own_profile(few)
    assert has_own_profile([r for r in rows if int(r["max_num_seqs"]) in (8, 16, 32, 64)])
    g = _with_value(lines, "request_repeats", "0", tmp_path / "bad.csv")
    with pytest.raises(MeasurementError, match=r"bad\.csv:3: column 'request_repeats': must be an integer >= 1"):
        calibrate([g], "H100-SXM", "llama-3.1-70b")


def test_request_repeats_come_from_the_benchmark_sweep_configs():
    """Every ML.ENERGY row carries how many times its run sent the 1,024 chat prompts, as the vendored sweep configs
    of the benchmark harness give it (spot checks against ml-energy/benchmark@c1d6557 sweeps.yaml files)."""
    import json
    sweeps = json.loads((DATA / "ml-energy-v3" / "request_repeats.json").read_text())
    assert sweeps["tasks"]["lm-arena-chat"]["num_requests"] == 1024
    rep = {}
    for f in MEASUREMENT_DIR.glob("mlenergy_*.csv"):
        if f.name.startswith("mlenergy_v2_"):
            # ML.ENERGY v2.0: 500 ShareGPT prompts sent 4 times with vLLM 0.5.4's prefix caching off, so every request
            # is prefilled and the rows are fitted (request_repeats empty: 1)
            assert all(r["unique_requests"] == "500" and r["request_repeats"] == "" for r in read_rows([f]))
            continue
        for r in read_rows([f]):
            assert int(r["unique_requests"]) == 1024 and int(r["request_repeats"]) >= 1, (f.name, r["_line"])
            rep[(r["model"], r["precision"], r["gpu"], int(r["n_gpus"]), int(r["max_num_seqs"]))] = int(r["request_repeats"])
    assert rep[("llama-3.1-70b", "bf16", "B200", 2, 2048)] == 3
    assert rep[("llama-3.1-70b", "bf16", "B200", 2, 256)] == 1
    assert rep[("qwen3-235b-a22b", "bf16", "B200", 4, 4096)] == 6
    assert rep[("llama-3.1-8b", "bf16", "H100-SXM", 1, 768)] == 3
    assert all(v == 1 for k, v in rep.items() if k[0] in ("qwen3-14b", "gemma-3-12b", "gemma-3-27b"))


def test_leave_one_model_out_leaves_same_shape_twins_out_together():
    """Llama-3.3-70B has Llama-3.1-70B's shape: a transfer to either would take the other's calibration
    (same-architecture), so the leave-one-model-out table predicts each from a pool holding neither."""
    from dcsim.node.calibrate import twins
    from dcsim.node.catalog import pooled_profiles
    models = ["gemma-3-12b", "llama-3.1-70b", "llama-3.1-8b", "llama-3.3-70b", "qwen3-32b"]
    assert twins("llama-3.1-70b", models) == ("llama-3.1-70b", "llama-3.3-70b")
    assert twins("llama-3.3-70b", models) == ("llama-3.1-70b", "llama-3.3-70b")
    assert twins("qwen3-32b", models) == ("qwen3-32b",)
    for gpu in ("H100-SXM", "B200"):
        p = pooled_profiles()[gpu]
        assert any("llama-3.3-70b" in g for g in p["pooled_groups"])
        for r in p["leave_one_model_out"]:
            if "70b" in r["profile"] and "llama-3" in r["profile"]:
                assert not any("llama-3.1-70b" in g or "llama-3.3-70b" in g for g in r["pooled_from"]), r["profile"]
            elif "qwen3-32b" in r["profile"]:
                assert any("llama-3.3-70b" in g for g in r["pooled_from"])


def test_every_group_mode_gives_no_profile_to_a_group_too_small_for_one():
    """With several groups selected, a group below MIN_LOAD_LEVELS gets no profile (the shipped set's rule, so
    docs/node.md's regenerate command reproduces the shipped set) and is named; selected alone it is fitted when its
    points can determine the fit."""
    from dcsim.node.calibrate import calibrate_all
    profs, rows, few, under = calibrate_all([MEASUREMENT_DIR / "mlenergy_qwen3-32b.csv"])
    assert sorted(p["name"] for p in profs) == ["B200_qwen3-32b_bf16_tp1", "H100-SXM_qwen3-32b_bf16_tp2"]
    assert few == ["H100-SXM_qwen3-32b_bf16_tp1"] and under == {}
    # the rows each profile was fitted on, by its (gpu, model, precision, TP): its group's, no other's
    for p in profs:
        key = (p["gpu"], p["model"], p["precision"], p["tensor_parallel"])
        assert rows[key] and all((r["gpu"], r["model"], r["precision"], int(r["n_gpus"])) == key for r in rows[key])
    assert sorted(rows) == sorted((p["gpu"], p["model"], p["precision"], p["tensor_parallel"]) for p in profs)
    # selected alone it is fitted if its points can determine the fit: its 3 load points (9 values: tokens/s, J/token
    # and median ITL each) cannot set 8 free parameters (each point measures at most two independent quantities), so
    # the fit is refused, naming the file (until December 2026 it was fitted, all 8 parameters unidentified, with a
    # band from 1 degree of freedom)
    with pytest.raises(ValueError, match=r"mlenergy_qwen3-32b\.csv: H100-SXM/qwen3-32b/bf16/TP1: 3 measurement point\(s\) "
                                         r"for 8 free parameters.*at least 4 distinct points"):
        calibrate_all([MEASUREMENT_DIR / "mlenergy_qwen3-32b.csv"], gpu="H100-SXM", tp=1)


def _h100_8b_lines() -> list[str]:
    """The shipped H100 Llama-3.1-8B load rows (header first): the measurement file the row checks below edit."""
    return (MEASUREMENT_DIR / "mlenergy_llama-3.1-8b.csv").read_text().splitlines()


def test_a_tensor_parallel_degree_the_engine_refuses_is_refused_with_file_and_line(tmp_path):
    """n_gpus 3 for Llama-3.1-8B (32 heads): build_node refuses that replica, so calibrate refuses the row (its
    file:line and the engine's own reason) instead of writing a profile nothing can use; --skip-bad-rows leaves it out."""
    from dcsim.node.calibrate import MeasurementError

    with pytest.raises(ValueError) as engine:
        build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-8b", tensor_parallel=3))
    f = _with_value(_h100_8b_lines(), "n_gpus", "3", tmp_path / "m.csv")
    with pytest.raises(MeasurementError) as e:
        read_rows([f])
    assert str(e.value).startswith(f"{f}:3: column 'n_gpus': {engine.value}")
    skipped: list[str] = []
    rows = read_rows([f], skip_bad=True, skipped=skipped)
    assert len(skipped) == 1 and skipped[0].startswith(f"{f}:3:") and {r["n_gpus"] for r in rows} == {"1"}


@pytest.mark.parametrize("column, value, known", [("gpu", "H100-PCIE", "H100-SXM"), ("model", "llama-9", "llama-3.1-8b")])
def test_an_unknown_gpu_or_model_names_the_first_bad_row(tmp_path, capsys, column, value, known):
    """One row naming a GPU (or model) the catalog lacks among good rows: the error names that row's file:line and the
    known names (before: an unknown GPU's error named no row, and one bad row among good ones gave "every selected
    group has fewer than 4 load levels")."""
    f = _with_value(_h100_8b_lines(), column, value, tmp_path / "m.csv")
    assert main([str(f)]) == 2
    err = capsys.readouterr().err
    assert f"{f}:3: column '{column}': unknown {'GPU' if column == 'gpu' else 'model'} '{value}'; known: " in err
    assert known in err and "load levels" not in err and "define it inline" not in err


def test_j_per_token_must_agree_with_power_over_token_rate(tmp_path):
    """j_per_out_tok (the J/token the fit reads) and gpu_power_w / output_tok_s are one quantity: a row where they
    differ by more than J_PER_TOK_REL_TOL is refused naming both values (before: 40 against 0.455 was fitted
    silently); every shipped row agrees to rounding, and a value rounded to 3 significant digits passes."""
    from dcsim.node.calibrate import J_PER_TOK_REL_TOL, MeasurementError

    worst = max(abs(float(r["j_per_out_tok"]) / (float(r["gpu_power_w"]) / float(r["output_tok_s"])) - 1)
                for r in read_rows(sorted(MEASUREMENT_DIR.glob("*.csv"))) if (r.get("j_per_out_tok") or "").strip())
    assert worst < 1e-4 < J_PER_TOK_REL_TOL  # the comment at J_PER_TOK_REL_TOL states it: 0.0066 %
    lines = _h100_8b_lines()
    f = _with_value(lines, "j_per_out_tok", "40", tmp_path / "m.csv")
    with pytest.raises(MeasurementError, match=r"m\.csv:3: column 'j_per_out_tok': 40 J per output token disagrees "
                                               r"with gpu_power_w / output_tok_s = [\d.]+ / [\d.]+ = 0\.\d+"):
        read_rows([f])
    row = next(csv.DictReader(lines[:3][::2]))  # the header and file line 3
    ratio = float(row["gpu_power_w"]) / float(row["output_tok_s"])
    assert len(read_rows([_with_value(lines, "j_per_out_tok", f"{ratio:.3g}", tmp_path / "ok.csv")])) == len(lines) - 1


def test_repeated_rows_count_as_one_point_and_are_fitted_once(tmp_path):
    """Copies of a row (same group and inputs) are one measurement point: one load row written five times is refused
    as the row alone is (before: "15 measured values, 8 free parameters", MAPE 1 %, standard errors shrunk by the
    copies); copies among other rows give the fit of the rows without them, with a warning naming file:lines."""
    lines = _h100_8b_lines()
    five = tmp_path / "five.csv"
    five.write_text("\n".join([lines[0]] + [lines[1]] * 5) + "\n")
    with pytest.raises(ValueError, match=r"3 measured value\(s\) for 8 free parameters.*rows .*five\.csv:2,3,4,5,6 are "
                                         r"one point and count once"):
        calibrate([five])
    base, dup = tmp_path / "base.csv", tmp_path / "dup.csv"
    base.write_text("\n".join(lines[:6]) + "\n")
    dup.write_text("\n".join(lines[:6] + [lines[2], lines[2]]) + "\n")
    pb, pd = calibrate([base]), calibrate([dup])
    assert pd["params"] == pb["params"] and pd["uncertainty"] == pb["uncertainty"] and pd["fit"] == pb["fit"]
    assert pd["warnings"] == [f"rows {dup}:3,7,8 repeat one load point (same group and inputs): fitted once"] \
        + pb["warnings"]
    # the same file given twice: each row once
    twice = calibrate([base, base])
    assert twice["fit"]["n_values"] == pb["fit"]["n_values"] and twice["params"] == pb["params"]
    assert f"rows {base}:2 (a file given more than once) repeat one load point" in twice["warnings"][0]
    # copies that measured different values: one point at the geometric mean (the centre of their log residuals)
    from dcsim.node.calibrate import merge_repeats
    r1, r2 = ({**r, "output_tok_s": v, "j_per_out_tok": j} for r, v, j in
              zip(read_rows([base])[:2], ("100", "400"), ("", "1.0")))
    r2 = {**r2, **{k: r1[k] for k in ("max_num_seqs", "batch", "mean_out", "decode_ctx")}, "_line": 9}
    (m,) = merge_repeats([r1, r2])
    assert float(m["output_tok_s"]) == pytest.approx(200.0) and m["j_per_out_tok"] == "" and m["_repeats_differ"]
    assert m["_repeats"] == [(str(base), 2), (str(base), 9)]


def test_power_below_the_gpus_idle_draw_is_refused(tmp_path):
    """gpu_power_w in kW (0.49 W per H100, whose idle is 72 W) was fitted and written with exit 0 and an
    8,217 % J/token MAPE (audit C, A10): a row below half the GPU's idle draw is refused with file:line."""
    from dcsim.node.calibrate import MeasurementError, read_rows

    lines = (MEASUREMENT_DIR / "mlenergy_llama-4-maverick-fp8.csv").read_text().splitlines()
    header = lines[0].split(",")
    row = lines[2].split(",")
    n = float(row[header.index("n_gpus")])
    kw = float(row[header.index("gpu_power_w")]) / 1000.0
    f = _with_value(lines, "gpu_power_w", f"{kw:g}", tmp_path / "kw.csv")
    if "j_per_out_tok" in header:  # keep the row's J/token consistent, so the power check is what refuses it
        f = _with_value(f.read_text().splitlines(), "j_per_out_tok",
                        f"{kw / float(row[header.index('output_tok_s')]):g}", f)
    with pytest.raises(MeasurementError, match=r"kw\.csv:3: column 'gpu_power_w': .* W per GPU, below half of "
                                               r"H100-SXM's idle draw \(72 W\).*kW written for W\?"):
        read_rows([f])
    assert kw / n < 36


def test_a_fit_that_misses_its_own_data_is_not_written(tmp_path, capsys):
    """Audit C (A10): tokens/s in tokens/ms fitted with a 3,752 % MAPE and wrote its profile with exit 0. A fit whose
    in-sample MAPE exceeds FIT_REFUSE_MAPE_PCT writes nothing, exit 2, unless --force."""
    from dcsim.node.calibrate import FIT_REFUSE_MAPE_PCT

    src = MEASUREMENT_DIR / "mlenergy_llama-3.1-8b.csv"
    with open(src, newline="", encoding="utf-8") as fh:
        lines = [ln for ln in fh if ln.startswith("#")]
        fh.seek(0)
        rows = list(csv.DictReader(ln for ln in fh if not ln.startswith("#")))
    for r in rows:  # tokens/ms written for tokens/s, the row kept self-consistent (J/token = power / tok/s)
        r["output_tok_s"] = repr(float(r["output_tok_s"]) * 1e-3)
        r["j_per_out_tok"] = repr(float(r["gpu_power_w"]) / float(r["output_tok_s"]))
    bad = tmp_path / "bad.csv"
    with open(bad, "w", newline="", encoding="utf-8") as fh:
        fh.writelines(lines)
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "p.yaml"
    assert main([str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"misses its own measurements by more than {FIT_REFUSE_MAPE_PCT:g} %" in err and not out.exists(), err
    assert main([str(bad), "--out", str(out), "--force"]) == 0 and out.exists()
    # every shipped measurement file fits within the gate (the shipped profiles)
    assert main([str(src), "--out", str(tmp_path / "ok.yaml")]) == 0


# --- a pooled fit leaves the J/token of a checkpoint whose energy is its own (block-scaled FP8, catalog.energy_is_own)
# to that checkpoint's profiles (docs/node.md, "Twenty-fourth pass"); moved from tests/test_node_overhead_power.py.
# That the MoE dispatch draws P_sync, like every other overhead, is
# tests/test_node_perf.py::test_moe_dispatch_adds_its_time_per_moe_layer_and_draws_sync_power.

@pytest.fixture
def pooled_h100():
    """A fresh pool per test: the tests scale its groups' values in place."""
    rows = read_rows([MEASUREMENT_DIR / "mlenergy_qwen3-235b-a22b-fp8.csv", MEASUREMENT_DIR / "mlenergy_qwen3-8b.csv"])
    gs = groups(rows, "H100-SXM")
    return gs, Problem("H100-SXM", list(gs.values()), [], pooled=True)


def test_pooled_fit_reads_tokens_not_energy_of_own_energy_checkpoint(pooled_h100):
    """A pooled fit's residuals do not move when the block-scaled FP8 checkpoint's J/token does (they move with its
    tokens/s, and with the J/token of every other group); a profile of the checkpoint alone fits its J/token."""
    gs, prob = pooled_h100
    assert energy_is_own("qwen3-235b-a22b", "fp8") and not energy_is_own("qwen3-235b-a22b", "bf16")
    x = prob.prior_centre()
    base = prob.data_residuals(x, fit_gamma=False)
    fp8 = [g for g in prob.groups if g.key.model == "qwen3-235b-a22b"]
    dense = [g for g in prob.groups if g.key.model == "qwen3-8b"][0]
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
    own = Problem("H100-SXM", [b for k, b in gs.items() if k.model == "qwen3-235b-a22b"][:1], [])
    assert own.g0.fit_energy
    r0 = own.data_residuals(x, fit_gamma=False)
    own.g0.j_tok = own.g0.j_tok * 2.0
    assert not np.array_equal(own.data_residuals(x, fit_gamma=False), r0)


def test_a_pool_of_own_energy_checkpoints_alone_fits_their_energy():
    """With no other group to set the shared power, a pooled fit of the block-scaled FP8 checkpoint alone reads its
    J/token (else it would have 5 values for 9 parameters on B200, and refuse)."""
    rows = read_rows([MEASUREMENT_DIR / "mlenergy_qwen3-235b-a22b-fp8.csv"])
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

    paths = [MEASUREMENT_DIR / "mlenergy_qwen3-235b-a22b-fp8.csv", MEASUREMENT_DIR / "mlenergy_qwen3-8b.csv"]
    pf = pooled_fit(paths, "H100-SXM")
    assert pf["energy_not_fitted"] == ["H100-SXM_qwen3-235b-a22b_fp8_tp4", "H100-SXM_qwen3-235b-a22b_fp8_tp8"]
    assert any(w.startswith("energy not fitted for H100-SXM_qwen3-235b-a22b_fp8_tp4, H100-SXM_qwen3-235b-a22b_fp8_tp8")
               for w in pf["warnings"])
    clean = pooled_fit([MEASUREMENT_DIR / "mlenergy_qwen3-8b.csv", MEASUREMENT_DIR / "mlenergy_qwen3-14b.csv"], "H100-SXM")
    assert clean["energy_not_fitted"] == [] and not any("energy not fitted" in w for w in clean["warnings"])


def test_a_group_whose_energy_is_not_fitted_drops_its_request_power_too(monkeypatch):
    """A request row's average and peak power are energy too: where a pooled fit leaves a group's energy out, its
    residuals do not move with them and it counts 2 values per request row (prompt and token times), as the
    residuals hold; the other groups' request power still counts."""
    from dcsim.node import calibrate as C

    monkeypatch.setattr(C, "energy_is_own", lambda model, precision: model == "llama-2-70b")
    rows = read_rows([MEASUREMENT_DIR / "splitwise_a100_requests.csv"])
    prob = Problem("A100-SXM4-80GB", list(groups(rows, "A100-SXM4-80GB").values()), [], pooled=True)
    own = [g for g in prob.groups if not g.fit_energy]
    other = [g for g in prob.groups if g.fit_energy]
    assert {g.key.model for g in own} == {"llama-2-70b"} and {g.key.model for g in other} == {"bloom-176b"}
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

    rows = read_rows([MEASUREMENT_DIR / "mlenergy_qwen3-235b-a22b-fp8.csv", MEASUREMENT_DIR / "mlenergy_qwen3-8b.csv"])
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


def test_v2_extraction_resets_the_dup_factor_at_each_queue_entry(monkeypatch):
    """MD1 8: a queue file's second ``- command:`` entry whose command gives no --data-dup-factor lists models that
    must not inherit the first entry's factor (nor its command line be read as a model)."""
    import importlib.util
    monkeypatch.syspath_prepend(str(REPO / "scripts"))  # it imports extract_mlenergy, as when run from scripts/
    spec = importlib.util.spec_from_file_location("extract_mlenergy_v2", REPO / "scripts" / "extract_mlenergy_v2.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = "\n".join([
        "- command:",
        "  - python scripts/benchmark_one_model.py --data-dup-factor 2",
        "  model:",
        "  - meta-llama/Llama-2-7b-chat-hf",
        "- command:",
        "  - python scripts/benchmark_one_model.py",
        "  model:",
        "  - mistralai/Mistral-7B-Instruct-v0.2",
    ])
    monkeypatch.setattr(mod, "show", lambda repo, f: text if f.endswith("queue_1gpu.yaml") else "")
    out = mod.dup_factors(REPO)
    assert out == {("meta-llama/Llama-2-7b-chat-hf", 1): (2, f"{mod.QUEUES}/queue_1gpu.yaml line 2")}
