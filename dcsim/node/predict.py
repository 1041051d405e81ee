"""``dcsim calibrate --predict``: what dcsim predicts for measured rows, set against the band it states.

    dcsim calibrate MEASUREMENTS.csv --predict [--gpu G] [--model M] [--precision P] [--tp N]
                    [--profile P.yaml] [--out predictions.json]

No fit. Each group of rows (GPU, model, precision, GPUs per replica, expert layout) is predicted by the replica
a scenario with that node would run (:func:`dcsim.node.model.build_node`: the shipped calibration, a carry from a
model of the same shape or another TP degree, the GPU's pooled transfer, or the profile file given with
``--profile``), through the same steady state and iteration step the engine runs, with the board limit (TDP) in
force. Load rows: tokens/s, J/output token and, where the row gives it and its median iteration is decode-only,
the median inter-token latency; request rows (a batch prefilled in one iteration, then decoded): the prompt
time, the per-token time, the average and the peak GPU power. Each load point is set against the calibration
record's error band (the tokens/s and J/token error dcsim states for that replica), so an energy researcher can
test the band on measurements of their own; a point above :data:`dcsim.node.model.EXTRAPOLATION_FACTOR` times
the largest batch the profile was measured at is marked ``extrapolated`` (the band does not cover it), and one
whose published batch holds more KV than the replica can (:func:`dcsim.node.calibrate.kv_over_capacity`)
``kv-over-capacity`` (the published batch counts waiting or preempted requests), and one whose prompt or decode
context is beyond the lengths the profile was measured at (:func:`dcsim.node.model.context_beyond`)
``extrapolated-context``. Rows measured with repeated
requests (prefix-cache hits) are counted, not predicted: the node model describes unique prompts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dcsim.node.calibrate import (PREDICTION_STAMP, add_args as calibrate_args, dcsim_replica, fail, groups,
                                  in_sample_files, in_sample_text, input_notes, itl_rows, kv_over_capacity,
                                  out_problem, per_gpu_power_suspects, read_rows, write_out)
from dcsim.node.calibrate import run as calibrate_run
from dcsim.node.catalog import load_profile
from dcsim.node.model import context_beyond, extrapolated, fmt_band
from dcsim.textio import plain
from dcsim.units import excerpt

#: a point's error is within the stated band up to this many percentage points (the band is printed to 0.1 %)
BAND_RESOLUTION_PCT = 0.05

#: keys of a point as the fit names them (``*_fit``, :func:`dcsim.node.calibrate.dcsim_replica`) and as a prediction
#: reports them (``*_dcsim``)
_RENAME = {"tok_s_fit": "tok_s_dcsim", "j_per_tok_fit": "j_per_tok_dcsim", "median_itl_ms_fit": "median_itl_ms_dcsim",
           "prompt_time_ms_fit": "prompt_time_ms_dcsim", "token_time_ms_fit": "token_time_ms_dcsim",
           "avg_w_per_gpu_fit": "avg_w_per_gpu_dcsim", "peak_w_per_gpu_fit": "peak_w_per_gpu_dcsim",
           "decode_w_per_gpu_fit": "decode_w_per_gpu_dcsim", "itl_fitted": "itl_compared"}


def _renamed(p: dict) -> dict:
    return {_RENAME.get(k, k): v for k, v in p.items()}


def predict_group(rows_g: list[dict], profile: str | None = None, base_dir: str | Path | None = None) -> dict:
    """dcsim's prediction of one group's rows (see the module docstring): the calibration record of the replica
    that predicts them, each point with dcsim's value, the error and whether it lies within the stated band, and
    the group's summary (MAPE, worst error, points outside the band)."""
    rep = dcsim_replica(rows_g, profile, base_dir)
    g, spec, cal = rep.group, rep.spec, rep.node.calibration
    gpu, model, precision, tp = g.key
    quality, points, req_points = rep.quality, rep.points, rep.request_points
    band = cal.get("error_band_pct") or {}
    bt, bj = band.get("tok_s_pct"), band.get("j_per_tok_pct")
    over_kv = {(p["max_num_seqs"], p["batch"]) for p in kv_over_capacity(g)}  # the row, not its batch cap alone
    outside = flagged = 0
    for i, p in enumerate(points):  # the points of the group's load rows, in order
        flags = []
        if extrapolated(cal, p["batch"]):
            flags.append("extrapolated")
        if context_beyond(cal, float(g.mean_in[i]), float(g.decode_ctx[i])):
            flags.append("extrapolated-context")
        if (p["max_num_seqs"], p["batch"]) in over_kv:
            flags.append("kv-over-capacity")
        within = None
        if bt is not None and bj is not None:
            # the band is stated to 0.1 % (a profile's parameters are stored to 6 digits): within it at that resolution
            within = abs(p["err_tok_s_pct"]) <= bt + BAND_RESOLUTION_PCT and abs(p["err_j_pct"]) <= bj + BAND_RESOLUTION_PCT
            outside += (not within) and not flags
            flagged += (not within) and bool(flags)
        p["within_band"] = within
        # within only at the band's printed resolution: the error prints a hair over the band (-4.7 % against
        # ±4.6 %: -4.65 against 4.648), so the mark says so
        p["at_band_edge"] = bool(within) and (abs(p["err_tok_s_pct"]) > bt or abs(p["err_j_pct"]) > bj)
        p["flags"] = flags
    for p in req_points:  # a request profile's band is its worst error over the four values of a request row
        errs = [p[f"{k}_fit"] / p[k] - 1.0 for k in ("prompt_time_ms", "token_time_ms", "avg_w_per_gpu", "peak_w_per_gpu")]
        p["within_band"] = (None if bt is None or bj is None
                            else max(abs(e) for e in errs) * 100 <= min(bt, bj) + BAND_RESOLUTION_PCT)
    summary = {k: v for k, v in quality.items() if k != "n_free_params"}
    summary["outside_band"] = outside if (bt is not None and bj is not None) else None
    # the points the band is tested on: those with no flag (a flagged one is beyond what the band covers)
    summary["points_in_band_range"] = sum(not p["flags"] for p in points)
    summary["flagged_points"] = len(points) - summary["points_in_band_range"]
    summary["outside_band_flagged"] = flagged  # outside, but extrapolated or KV-over-capacity: the band does not cover them
    # the files of these rows the predicting profile was fitted from: its band is their worst in-sample error
    summary["in_sample_files"] = in_sample_files(rows_g, cal)
    return {"gpu": gpu, "model": model, "precision": precision, "tensor_parallel": tp,
            "expert_parallel": bool(spec.expert_parallel), "calibration": cal, "summary": summary,
            "points": [_renamed(p) for p in points], "request_points": [_renamed(p) for p in req_points],
            "repeated_requests": len(g.repeated), "notes": per_gpu_power_suspects(rows_g) + input_notes(rows_g)}


def predict(paths: list[str | Path], gpu: str | None = None, model: str | None = None, precision: str | None = None,
            tp: int | None = None, profile: str | None = None, skip_bad: bool = False) -> dict:
    """Predictions of every selected group of the files (:func:`predict_group`); a group dcsim cannot build (an
    unknown model, a split the serving engine refuses, a profile file that does not load) is listed under
    ``errors`` with the reason and the others are still predicted."""
    if profile is not None:
        load_profile(profile, Path.cwd())  # a file that does not load is one error, not one per group
    skipped: list[str] = []
    rows = read_rows(paths, skip_bad, skipped, catalog=False)  # a group dcsim cannot build is an error of its own
    out, errors = [], []
    for key, rows_g in groups(rows, gpu, model, precision, tp, skipped).items():
        try:
            out.append(predict_group(rows_g, profile, Path.cwd()))
        except (ValueError, KeyError, OSError) as e:
            errors.append({"group": "/".join(excerpt(str(k), 40, quote=False) for k in key), "error": str(e).strip(chr(39) + chr(34))})
    return {"groups": out, "errors": errors, "skipped_rows": skipped}


_BAND_MARK = {True: "within", False: "OUTSIDE", None: "-"}


def _pct(v) -> str:
    return "-" if v is None else f"{v:+.1f} %"


def _outside_text(points: list[dict], s: dict) -> str:
    """How many points lie outside the stated band, counted over the points it covers (no flag), with the flagged
    ones counted apart (until December 2026 the line read "0 of 9 points outside the stated band" above a table
    marking five "OUTSIDE (extrapolated)": the 9 counted the flagged points, the 0 did not). The counts are the
    summary's (:func:`predict_group`: ``points_in_band_range``, ``flagged_points``, ``outside_band``,
    ``outside_band_flagged``); ``points`` give the flags' kinds."""
    n, k = s["points_in_band_range"], s["flagged_points"]
    out = f"{s['outside_band']} of {n} point{'s' if n != 1 else ''} outside the stated band"
    if k:
        kinds = sorted({f for p in points for f in p["flags"]})
        out += (f"; {k} more point{'s' if k != 1 else ''} flagged {', '.join(kinds)}, where the band does not "
                f"apply, not counted: {s['outside_band_flagged']} of {k} outside it")
    return out


def _profile_text(cal: dict) -> str:
    """The profile a group was predicted with, as the header names it: a file of the user's by its path as given
    (a profile ``dcsim calibrate`` wrote carries the name of the shipped profile of its setup: the name alone read
    as dcsim's own), a shipped one by its name."""
    src = cal.get("profile_source") or {}
    if src.get("ref") and not src.get("shipped"):
        return f"profile {cal['profile']} from the file {src['ref']}"
    return f"profile {cal['profile']}"


def format_prediction(res: dict) -> str:
    """The terminal report of :func:`predict`: one block per group."""
    lines: list[str] = []
    for grp in res["groups"]:
        cal, s = grp["calibration"], grp["summary"]
        band = cal.get("error_band_pct") or {}
        bt, bj = band.get("tok_s_pct"), band.get("j_per_tok_pct")
        band_txt = (f"stated band {fmt_band(band, bool(cal.get('band_lower_bound')), digits=1)}"
                    if bt is not None and bj is not None else "no stated band")
        if lines:
            lines.append("")
        lines.append(f"{grp['gpu']} / {grp['model']} / {grp['precision']} / TP{grp['tensor_parallel']}"
                     + (" expert-parallel" if grp["expert_parallel"] else "")
                     + f": dcsim's {cal['status']} replica ({_profile_text(cal)}), {band_txt}")
        if cal.get("profile_mismatch"):
            lines.append(f"  note: the profile was fitted to {cal['profile_measured_for']} (its "
                         f"{', '.join(cal['profile_mismatch'])} differ from these rows)")
        if grp["points"]:
            itl = any("median_itl_ms" in p for p in grp["points"])
            lines.append(f"  {'batch':>7} {'tok/s':>9} {'dcsim':>9} {'error':>8}  {'J/tok':>8} {'dcsim':>8} "
                         f"{'error':>8}" + (f"  {'ITL ms':>7} {'dcsim':>7} {'error':>8}" if itl else "") + "  band")
            for p in grp["points"]:
                row = (f"  {p['batch']:>7.1f} {p['tok_s']:>9.1f} {p['tok_s_dcsim']:>9.1f} {_pct(p['err_tok_s_pct']):>8}"
                       f"  {p['j_per_tok']:>8.4g} {p['j_per_tok_dcsim']:>8.4g} {_pct(p['err_j_pct']):>8}")
                if itl:
                    compared = p.get("itl_compared")
                    row += (f"  {p['median_itl_ms']:>7.2f} {p['median_itl_ms_dcsim']:>7.2f} "
                            f"{_pct(p['err_itl_pct']) if compared else '(mixed)':>8}" if "median_itl_ms" in p
                            else f"  {'':>7} {'':>7} {'':>8}")
                mark = "within (at the band's 0.1 % resolution)" if p.get("at_band_edge") else _BAND_MARK[p["within_band"]]
                row += f"  {mark}" + (f" ({', '.join(p['flags'])})" if p["flags"] else "")
                lines.append(row)
            summ = (f"  MAPE tok/s {s['mape_tok_s_pct']:.1f} %, J/token {s['mape_j_per_tok_pct']:.1f} % "
                    f"(worst {s['max_err_tok_s_pct']:.1f} / {s['max_err_j_per_tok_pct']:.1f} %)")
            if "mape_itl_pct" in s:
                n_itl, n_with = itl_rows(grp["points"], "itl_compared")
                summ += (f"; median ITL {s['mape_itl_pct']:.1f} % (worst {s['max_err_itl_pct']:.1f} %)"
                         # over the decode-only rows: the table marks the others (mixed), as the fit report says
                         + (f" over the {n_itl} decode-only row{'s' if n_itl != 1 else ''}" if n_itl < n_with
                            else ""))
            if s.get("in_sample_files"):  # the band is these rows' worst error in the fit: none can lie outside
                summ += "; " + in_sample_text(s["in_sample_files"], cal["profile"])
            elif s["outside_band"] is not None:
                summ += "; " + _outside_text(grp["points"], s)
            lines.append(summ)
        if grp["request_points"]:
            lines.append(f"  {'prompt':>6} {'batch':>5} {'prompt ms':>10} {'dcsim':>9}  {'token ms':>9} {'dcsim':>8}"
                         f"  {'avg W/GPU':>9} {'dcsim':>7}  {'peak W/GPU':>10} {'dcsim':>7}  band")
            for p in grp["request_points"]:
                lines.append(f"  {p['prompt_tokens']:>6} {p['batch']:>5} {p['prompt_time_ms']:>10.1f} "
                             f"{p['prompt_time_ms_dcsim']:>9.1f}  {p['token_time_ms']:>9.2f} {p['token_time_ms_dcsim']:>8.2f}"
                             f"  {p['avg_w_per_gpu']:>9.0f} {p['avg_w_per_gpu_dcsim']:>7.0f}  {p['peak_w_per_gpu']:>10.0f} "
                             f"{p['peak_w_per_gpu_dcsim']:>7.0f}  {_BAND_MARK[p['within_band']]}")
            lines.append(f"  MAPE prompt time {s['mape_prompt_time_pct']:.1f} %, token time "
                         f"{s['mape_token_time_pct']:.1f} %, average power {s['mape_avg_power_pct']:.1f} %, peak power "
                         f"{s['mape_peak_power_pct']:.1f} %")
        lines += [f"  note: {n}" for n in grp.get("notes", [])]
        if grp["repeated_requests"]:
            lines.append(f"  {grp['repeated_requests']} row(s) measured with repeated requests not predicted "
                         f"(prefix-cache hits: not the unique-prompt workload the node model describes)")
    for e in res["errors"]:
        if lines:
            lines.append("")
        lines.append(f"{e['group']}: cannot predict: {e['error']}")
    if res["skipped_rows"]:
        lines.append(f"skipped {len(res['skipped_rows'])} malformed row(s):")
        lines += [f"  {m}" for m in res["skipped_rows"]]
    return "\n".join(lines)


def prediction_json(res: dict) -> bytes:
    """:func:`predict`'s result as JSON (numbers as floats; a non-finite one as null), stamped
    ``generated_by: dcsim calibrate --predict`` first (how ``--out`` knows a file it may replace:
    :func:`dcsim.node.calibrate.write_file`)."""
    return json.dumps(plain({"generated_by": PREDICTION_STAMP, **res}, nonfinite="null"), indent=1,
                      allow_nan=False).encode()


def _add_args(p) -> None:
    p.add_argument("--predict", action="store_true",
                   help="no fit: predict the rows with the replica a scenario would run (shipped calibration, "
                        "carry or pooled transfer) and set each error against the band dcsim states for it; "
                        "--out writes the predictions as JSON")
    p.add_argument("--profile", default=None,
                   help="with --predict: predict with this profile file instead (as a scenario's node.profile)")


def _run(args, fit) -> int:
    """``dcsim calibrate`` with ``--predict`` (this module), else the fit (``fit``, :func:`dcsim.node.calibrate.run`)."""
    if not args.predict:
        if args.profile:
            return fail("--profile is for --predict (a fit writes a profile: --out)")
        return fit(args)
    if args.pool or args.loo:
        return fail("--predict fits nothing: drop --pool / --loo")
    problem = out_problem(args.out, [*args.measurements, args.profile])
    if problem:
        return fail(problem)
    try:
        res = predict(args.measurements, args.gpu, args.model, args.precision, args.tp, args.profile,
                      skip_bad=args.skip_bad_rows)
    except (ValueError, OSError, KeyError) as e:
        return fail(str(e))
    print(format_prediction(res))
    if args.out and write_out(args.out, "predictions.json", prediction_json(res)):
        return 2
    return 2 if res["errors"] or not res["groups"] else 0


def add_parser(subparsers) -> None:
    """Add ``--predict`` and ``--profile`` to ``dcsim calibrate`` (registered by :mod:`dcsim.node.calibrate`, which
    this module builds on); without ``--predict`` calibrate fits as before."""
    p = subparsers.choices.get("calibrate")
    if p is None:
        return
    _add_args(p)
    fit = p.get_default("func")
    p.set_defaults(func=lambda args: _run(args, fit))


def main(argv: list[str] | None = None) -> int:
    """``dcsim calibrate ...`` with ``--predict`` available (argv without the subcommand name)."""
    p = argparse.ArgumentParser(prog="dcsim calibrate", description=calibrate_run.__doc__)
    calibrate_args(p)
    _add_args(p)
    return _run(p.parse_args(argv), calibrate_run)


if __name__ == "__main__":
    raise SystemExit(main())
