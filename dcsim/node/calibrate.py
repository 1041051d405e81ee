"""``dcsim calibrate``: least-squares fit of a node profile to measured points.

    dcsim calibrate MEASUREMENTS.csv [MORE.csv ...] --gpu G --model M [--precision P] [--tp N]
                    [--gamma 2.0] [--loo] [--out profile.yaml]

Rows with ``kind=load`` (steady-state serving points: batch, mean_in, mean_out, output_tok_s,
gpu_power_w) for the GPU/model/precision/TP are fitted on log-ratios of tokens/s and
J/output-token; rows with ``kind=cap`` for the same GPU (phase, prompt/batch, cap as a
fraction of TDP, measured latency factor) fit the DVFS exponent gamma. Without cap rows gamma
is fixed (``--gamma``, an assumption recorded in the profile). Free parameters: MFU, MBU,
t_fixed, t_seq (perf) and P_base, P_compute, P_memory, gamma (power); see perf.py/power.py.
Fit: ``scipy.optimize.least_squares`` (trf, bounded) from a fixed grid of starts; deterministic.
Bounds: MFU, MBU in (0, 1]; overlap p in [1, 20]; powers in [0, TDP]; gamma in [1, 5]
(dynamic power ~ f V^2 with V non-increasing as f falls, so gamma >= 1).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import yaml
from scipy.optimize import least_squares

from dcsim.node.catalog import profile_name, resolve_gpu, resolve_model
from dcsim.node.levers import resolve_levers
from dcsim.node.model import make_step
from dcsim.node.perf import PerfParams, derive, steady_iteration
from dcsim.node.power import PowerParams, gpu_power
from dcsim.scenario.node import LeverSpec

PARAM_NAMES = ("mfu", "mbu", "t_fixed_s", "t_seq_s", "overlap_p", "p_base_w", "p_compute_w", "p_memory_w", "gamma")
# internal scaling so every free variable is O(1)
_SCALE = np.array([1.0, 1.0, 1e-3, 1e-5, 1.0, 100.0, 100.0, 100.0, 1.0])
# cap rows are few (5) against 2 x 6-12 load residuals: weight them so the DVFS curve is honoured
CAP_WEIGHT = 3.0
DEFAULT_GAMMA = 2.0  # assumption used only when no cap rows exist for the GPU


#: numeric columns each row kind must carry (positive, finite), for the line-numbered checks
_NUMERIC = {
    "load": ("n_gpus", "max_num_seqs", "batch", "mean_in", "mean_out", "output_tok_s", "gpu_power_w"),
    "cap": ("n_gpus", "prompt_tokens", "batch", "cap_frac_tdp", "latency_factor"),
}
_TEXT = ("gpu", "model", "precision")


class MeasurementError(ValueError):
    """A measurement row is malformed; the message names the file and line."""


def _row_problem(r: dict) -> str | None:
    kind = (r.get("kind") or "load").strip()
    if kind not in _NUMERIC:
        return f"kind must be 'load' or 'cap', got {kind!r}"
    for c in _TEXT:
        if not (r.get(c) or "").strip():
            return f"column {c!r} is missing or empty"
    for c in _NUMERIC[kind]:
        v = r.get(c)
        if v is None or not str(v).strip():
            return f"column {c!r} is missing or empty"
        try:
            x = float(v)
        except ValueError:
            return f"column {c!r}: not a number: {v!r}"
        if not math.isfinite(x) or (x <= 0 and c != "ctx_tokens"):
            return f"column {c!r}: must be a finite number > 0, got {v!r}"
    return None


def read_rows(paths: list[str | Path], skip_bad: bool = False, skipped: list | None = None) -> list[dict]:
    """All rows of the CSV files (strings), with ``_file`` added.

    A malformed row raises :class:`MeasurementError` naming ``file:line`` and the column; with
    ``skip_bad`` it is left out instead and its ``file:line: reason`` appended to ``skipped``.
    """
    rows = []
    for p in paths:
        with open(p, newline="") as f:
            reader = csv.DictReader(f)
            for r in reader:
                line = reader.line_num
                why = _row_problem(r)
                if why is not None:
                    msg = f"{p}:{line}: {why}"
                    if not skip_bad:
                        raise MeasurementError(msg + " (pass --skip-bad-rows to leave such rows out)")
                    if skipped is not None:
                        skipped.append(msg)
                    continue
                r["_file"] = Path(p).name
                rows.append(r)
    return rows


def select(rows: list[dict], gpu: str, model: str, precision: str | None, tp: int | None):
    """Split rows into the load points of this GPU/model/precision/TP and the GPU's cap points."""
    load = [r for r in rows if r.get("kind", "load") == "load" and r["gpu"] == gpu and r["model"] == model
            and (precision is None or r["precision"] == precision) and (tp is None or int(r["n_gpus"]) == tp)]
    if not load:
        raise ValueError(f"no load rows for gpu={gpu} model={model} precision={precision} tp={tp}")
    combos = {(r["precision"], int(r["n_gpus"])) for r in load}
    if len(combos) > 1:
        raise ValueError(f"rows mix (precision, n_gpus) {sorted(combos)}; pass --precision/--tp")
    caps = [r for r in rows if r.get("kind") == "cap" and r["gpu"] == gpu]
    return load, caps


class Problem:
    """Vectorised predictions for a set of load rows and cap rows as a function of the params."""

    def __init__(self, gpu: str, load: list[dict], caps: list[dict]):
        self.gpu = resolve_gpu(gpu)
        r0 = load[0]
        self.precision, self.tp = r0["precision"], int(r0["n_gpus"])
        self.model = resolve_model(r0["model"])
        self.d = derive(self.model, self.precision, resolve_levers(LeverSpec(), self.precision))
        f = lambda k: np.array([float(r[k]) for r in load])  # noqa: E731
        self.batch, self.mean_in, self.mean_out = f("batch"), f("mean_in"), f("mean_out")
        self.tok_s, self.j_tok = f("output_tok_s"), f("j_per_out_tok")
        self.level = np.array([int(r["max_num_seqs"]) for r in load])
        self.caps = []
        for r in caps:
            m = resolve_model(r["model"])
            d = derive(m, r["precision"], resolve_levers(LeverSpec(), r["precision"]))
            pt, b = float(r["prompt_tokens"]), float(r["batch"])
            if r["phase"] == "prefill":
                it = (pt * b, 0.0, 0.0, b * pt * pt / 2.0)
            else:
                it = (0.0, b, float(r["ctx_tokens"]), 0.0)
            self.caps.append((d, int(r["n_gpus"]), it, float(r["cap_frac_tdp"]) * self.gpu.tdp_w,
                              float(r["latency_factor"]), r))

    @staticmethod
    def unpack(x) -> tuple[PerfParams, PowerParams]:
        v = np.asarray(x) * _SCALE
        return PerfParams(*map(float, v[:5])), PowerParams(*map(float, v[5:]))

    def predict(self, perf: PerfParams, pw: PowerParams, idx=None):
        """Predicted (tokens/s, J/out-token, GPU W) of the load rows."""
        sl = slice(None) if idx is None else idx
        t, tc, tm, tokens = steady_iteration(self.d, self.gpu, self.tp, perf, self.batch[sl], self.mean_in[sl],
                                             self.mean_out[sl])
        p = self.tp * gpu_power(self.gpu.idle_w, pw, tc / t, tm / t)
        tput = tokens / t
        return tput, p / tput, p

    def predict_caps(self, perf: PerfParams, pw: PowerParams) -> np.ndarray:
        """Predicted latency factor (capped / uncapped iteration time) of each cap row."""
        out = []
        for d, tp, it, cap, _, _ in self.caps:
            t1, p1 = make_step(d, self.gpu, tp, perf, pw, 1.0)(*it)
            if p1 / tp <= cap:
                out.append(1.0)
                continue
            lo, hi = self.gpu.clock_min, 1.0
            for _ in range(40):  # largest clock whose per-GPU power fits the cap (plain-float bisection)
                mid = 0.5 * (lo + hi)
                if make_step(d, self.gpu, tp, perf, pw, mid)(*it)[1] / tp <= cap:
                    lo = mid
                else:
                    hi = mid
            out.append(make_step(d, self.gpu, tp, perf, pw, lo)(*it)[0] / t1)
        return np.array(out)

    def residuals(self, x, idx=None, fit_gamma=True):
        perf, pw = self.unpack(x)
        tput, jt, _ = self.predict(perf, pw, idx)
        sl = slice(None) if idx is None else idx
        res = [np.log(tput / self.tok_s[sl]), np.log(jt / self.j_tok[sl])]
        if fit_gamma and self.caps:
            res.append(CAP_WEIGHT * np.log(self.predict_caps(perf, pw) / np.array([c[4] for c in self.caps])))
        return np.concatenate(res)


def fit(prob: Problem, gamma: float = DEFAULT_GAMMA, idx=None) -> np.ndarray:
    """Best scaled parameter vector over a fixed grid of starts (deterministic)."""
    tdp = prob.gpu.tdp_w
    fit_gamma = bool(prob.caps)
    lo = np.array([0.02, 0.05, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0 if fit_gamma else gamma - 1e-9])
    hi = np.array([1.0, 1.0, 50.0, 50.0, 20.0, tdp / 100, tdp / 100, tdp / 100, 5.0 if fit_gamma else gamma + 1e-9])
    best = None
    for mfu in (0.3, 0.6):
        for mbu in (0.5, 0.85):
            x0 = np.array([mfu, mbu, 3.0, 1.0, 2.0, 0.3 * tdp / 100, 0.3 * tdp / 100, 0.1 * tdp / 100,
                           2.0 if fit_gamma else gamma])
            r = least_squares(prob.residuals, np.clip(x0, lo, hi), bounds=(lo, hi), method="trf",
                              kwargs={"idx": idx, "fit_gamma": fit_gamma}, xtol=1e-12, ftol=1e-12, gtol=1e-12,
                              max_nfev=4000)
            if best is None or r.cost < best.cost - 1e-15:
                best = r
    return best.x


def _mape(pred, meas) -> float:
    return float(np.mean(np.abs(pred / meas - 1.0)) * 100.0)


def calibrate(paths: list[str | Path], gpu: str, model: str, precision: str | None = None, tp: int | None = None,
              gamma: float = DEFAULT_GAMMA, loo: bool = False, skip_bad: bool = False) -> dict:
    """Fit a profile and return it as a dict (what ``--out`` writes).

    With ``skip_bad``, malformed rows are left out and listed under ``skipped_rows``.
    """
    skipped: list[str] = []
    rows = read_rows(paths, skip_bad=skip_bad, skipped=skipped)
    load, caps = select(rows, gpu, model, precision, tp)
    prob = Problem(gpu, load, caps)
    x = fit(prob, gamma)
    perf, pw = prob.unpack(x)
    tput, jt, p = prob.predict(perf, pw)
    params = {**asdict(perf), **asdict(pw)}
    params = {k: float(f"{params[k]:.6g}") for k in PARAM_NAMES}
    points = [{"max_num_seqs": int(prob.level[i]), "batch": float(prob.batch[i]),
               "tok_s": float(prob.tok_s[i]), "tok_s_fit": round(float(tput[i]), 2),
               "j_per_tok": float(prob.j_tok[i]), "j_per_tok_fit": round(float(jt[i]), 5),
               "err_tok_s_pct": round(float((tput[i] / prob.tok_s[i] - 1) * 100), 2),
               "err_j_pct": round(float((jt[i] / prob.j_tok[i] - 1) * 100), 2)} for i in range(len(load))]
    fitq = {"n_points": len(load), "mape_tok_s_pct": round(_mape(tput, prob.tok_s), 3),
            "mape_j_per_tok_pct": round(_mape(jt, prob.j_tok), 3),
            "max_err_tok_s_pct": round(float(np.max(np.abs(tput / prob.tok_s - 1)) * 100), 3),
            "max_err_j_per_tok_pct": round(float(np.max(np.abs(jt / prob.j_tok - 1)) * 100), 3)}
    cap_pts = []
    if caps:
        lf = prob.predict_caps(perf, pw)
        for (d, tpc, it, cap, meas, r), v in zip(prob.caps, lf):
            cap_pts.append({"phase": r["phase"], "prompt_tokens": int(r["prompt_tokens"]), "batch": int(r["batch"]),
                            "cap_w_per_gpu": cap, "latency_factor": meas, "latency_factor_fit": round(float(v), 4),
                            "err_pct": round(float((v / meas - 1) * 100), 2)})
        fitq["max_err_cap_pct"] = round(max(abs(c["err_pct"]) for c in cap_pts), 3)
    if loo:
        lt, lj = [], []
        for lvl in sorted(set(prob.level.tolist())):
            keep = np.flatnonzero(prob.level != lvl)
            out = np.flatnonzero(prob.level == lvl)
            xl = fit(prob, params["gamma"], idx=keep) if not caps else _fit_idx(prob, keep)
            pf, pp = prob.unpack(xl)
            t_, j_, _ = prob.predict(pf, pp, out)
            lt += list(np.abs(t_ / prob.tok_s[out] - 1)), 
            lj += list(np.abs(j_ / prob.j_tok[out] - 1)),
        fitq["loo_mape_tok_s_pct"] = round(float(np.mean(np.concatenate(lt)) * 100), 3)
        fitq["loo_mape_j_per_tok_pct"] = round(float(np.mean(np.concatenate(lj)) * 100), 3)
    files = sorted({r["_file"] for r in load} | {r["_file"] for r in caps})
    return {
        "name": profile_name(gpu, model, prob.precision, prob.tp),
        "gpu": gpu, "model": model, "precision": prob.precision, "tensor_parallel": prob.tp,
        "params": params,
        "gamma_source": ("fitted to cap rows: " + ", ".join(sorted({r["_file"] for r in caps}))) if caps
        else f"assumption (no cap measurements for {gpu}; gamma fixed at {gamma:g})",
        "fit": fitq,
        "measurements": files,
        "sources": sorted({r["source"] for r in load} | {r["source"] for r in caps}),
        "assumptions": sorted({r.get("note", "") for r in load if r.get("note")}),
        "generated_by": "dcsim calibrate " + " ".join(files) + f" --gpu {gpu} --model {model} --precision "
                        f"{prob.precision} --tp {prob.tp}",
        "points": points,
        "cap_points": cap_pts,
        **({"skipped_rows": skipped} if skipped else {}),
    }


def _fit_idx(prob: Problem, keep: np.ndarray) -> np.ndarray:
    return fit(prob, DEFAULT_GAMMA, idx=keep)


def format_report(prof: dict) -> str:
    """Human-readable fit table."""
    lines = [f"profile {prof['name']}  ({prof['gamma_source']})", "params: " + ", ".join(
        f"{k}={v:.4g}" for k, v in prof["params"].items()),
        f"{'max_num_seqs':>12} {'batch':>8} {'tok/s':>9} {'fit':>9} {'err%':>7} {'J/tok':>8} {'fit':>8} {'err%':>7}"]
    for p in prof["points"]:
        lines.append(f"{p['max_num_seqs']:>12} {p['batch']:>8.1f} {p['tok_s']:>9.1f} {p['tok_s_fit']:>9.1f} "
                     f"{p['err_tok_s_pct']:>7.2f} {p['j_per_tok']:>8.4f} {p['j_per_tok_fit']:>8.4f} {p['err_j_pct']:>7.2f}")
    for c in prof["cap_points"]:
        lines.append(f"cap {c['phase']:<8} prompt {c['prompt_tokens']:>5} batch {c['batch']:>3} cap {c['cap_w_per_gpu']:.0f} W: "
                     f"latency x{c['latency_factor']:.2f} fit x{c['latency_factor_fit']:.3f} ({c['err_pct']:+.2f}%)")
    f = prof["fit"]
    lines.append(f"MAPE tok/s {f['mape_tok_s_pct']:.2f}%  J/tok {f['mape_j_per_tok_pct']:.2f}%  "
                 f"(max {f['max_err_tok_s_pct']:.2f}% / {f['max_err_j_per_tok_pct']:.2f}%)")
    if "loo_mape_tok_s_pct" in f:
        lines.append(f"leave-one-load-level-out MAPE tok/s {f['loo_mape_tok_s_pct']:.2f}%  J/tok {f['loo_mape_j_per_tok_pct']:.2f}%")
    return "\n".join(lines)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``calibrate`` on an argparse subparsers object (for dcsim.cli)."""
    p = subparsers.add_parser("calibrate", help="fit a node profile to measured points (least squares)",
                              description=__doc__.split("\n\n")[0])
    _add_args(p)
    p.set_defaults(func=run)
    return p


def _add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("measurements", nargs="+", help="CSV file(s): kind=load rows (and optional kind=cap rows)")
    p.add_argument("--gpu", required=True, help="GPU catalog name, e.g. H100-SXM")
    p.add_argument("--model", required=True, help="model catalog name, e.g. llama-3.1-70b")
    p.add_argument("--precision", choices=["bf16", "fp8", "int4"], default=None)
    p.add_argument("--tp", type=int, default=None, help="GPUs per replica (n_gpus column)")
    p.add_argument("--gamma", type=float, default=DEFAULT_GAMMA, help="DVFS exponent when no cap rows (assumption)")
    p.add_argument("--loo", action="store_true", help="also report leave-one-load-level-out error")
    p.add_argument("--out", default=None, help="write the profile YAML here")
    p.add_argument("--skip-bad-rows", action="store_true",
                   help="leave malformed rows out (counted and listed) instead of stopping at the first")


def run(args: argparse.Namespace) -> int:
    """Execute a parsed ``calibrate`` command; returns the exit code."""
    try:
        prof = calibrate(args.measurements, args.gpu, args.model, args.precision, args.tp, args.gamma, args.loo,
                         skip_bad=args.skip_bad_rows)
    except (ValueError, OSError, KeyError) as e:
        print(f"dcsim calibrate: error: {e}", file=sys.stderr)
        return 2
    print(format_report(prof))
    if prof.get("skipped_rows"):
        print(f"skipped {len(prof['skipped_rows'])} malformed row(s):", *prof["skipped_rows"], sep="\n  ")
    if args.out:
        Path(args.out).write_text(yaml.safe_dump(prof, sort_keys=False, width=120))
        print(f"wrote {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``dcsim calibrate ...`` (argv without the subcommand name)."""
    p = argparse.ArgumentParser(prog="dcsim calibrate", description=__doc__.split("\n\n")[0])
    _add_args(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
