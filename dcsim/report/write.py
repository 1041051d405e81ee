"""Write a run's results to a directory, and the compact terminal summary.

``write_outputs(result, out_dir)`` writes

- ``report.json``: ``result.report`` with sorted keys, two-space indent and Python's shortest
  round-trip float repr, so the same Result always gives a byte-identical file; non-finite
  floats (NaN, ±inf) are written as ``null`` (JSON has no such numbers);
- ``timeseries.csv``: one row per controller tick, the arrays of ``result.timeseries`` (the
  contract columns first, in contract order, then any extra columns sorted by name) plus a
  ``binding_name`` text column; ``timeseries.parquet`` too when pyarrow is importable;
- ``plots/*.png`` (see :mod:`dcsim.plots`), PNG metadata stripped so files are reproducible;
- ``report.html``: one self-contained file (see :mod:`dcsim.report.html`).

The whole run is written into a hidden sibling folder and swapped into place when complete
(:mod:`dcsim.report.outdir`), so a reader never sees a half-written or mixed folder. An existing non-empty result
directory is refused unless ``force=True``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dcsim.report.outdir import atomic_write_bytes, is_staging, write_atomically

__all__ = [
    "OutputExistsError",
    "TIMESERIES_COLUMNS",
    "DEFAULT_FORMATS",
    "write_outputs",
    "report_json_bytes",
    "timeseries_csv_bytes",
    "read_timeseries",
    "latency_stats",
    "report_latency",
    "summary_table",
    "atomic_write_bytes",
    "fmt_si",
    "fmt_energy",
    "get_path",
]

#: Contract columns of ``Result.timeseries`` (docs/architecture.md "Engine and results").
TIMESERIES_COLUMNS: tuple[str, ...] = (
    "t_s", "demand_tok_s", "compute_tok_s", "power_tok_s", "cooling_tok_s", "achieved_tok_s",
    "binding", "it_power_w", "gpu_power_w", "cooling_power_w", "loss_power_w", "fixed_power_w",
    "facility_power_w", "interconnect_w", "pue", "t_out_c", "t_wb_c", "gpus_in_service",
    "mean_clock", "mean_cap_w", "queue_tokens",
)
BINDING_NAMES: tuple[str, ...] = ("demand", "compute", "power", "cooling")

#: Everything ``write_outputs`` can write; parquet is skipped silently without pyarrow.
DEFAULT_FORMATS: tuple[str, ...] = ("json", "csv", "parquet", "png", "html")

#: Files this module writes (relative to the result dir); used to clear stale ones under force.
_OWN_FILES = ("report.json", "timeseries.csv", "timeseries.parquet", "report.html")


class OutputExistsError(FileExistsError):
    """The result directory already holds files and ``force`` was not given."""


# --------------------------------------------------------------------------------------------
# atomic files


# (one helper for every writer: dcsim.report.outdir.atomic_write_bytes)


# --------------------------------------------------------------------------------------------
# report.json


def _plain(obj: Any) -> Any:
    """JSON-ready copy: numpy scalars/arrays to Python, tuples to lists, non-finite to None."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_plain(v) for v in obj.tolist()]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else None
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"report value of type {type(obj).__name__} cannot be written to JSON: {obj!r}")


def report_json_bytes(report: Mapping[str, Any]) -> bytes:
    """The exact bytes of report.json: sorted keys, indent 2, shortest round-trip floats,
    non-finite as null, UTF-8, trailing newline."""
    text = json.dumps(_plain(report), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


# --------------------------------------------------------------------------------------------
# time series


def _ordered_columns(ts: Mapping[str, Any]) -> list[str]:
    cols = [c for c in TIMESERIES_COLUMNS if c in ts]
    cols += sorted(c for c in ts if c not in TIMESERIES_COLUMNS)
    return cols


def _check_lengths(ts: Mapping[str, np.ndarray]) -> int:
    lengths = {k: np.asarray(v).shape for k, v in ts.items()}
    n = {s[0] if s else -1 for s in lengths.values()}
    bad = {k: s for k, s in lengths.items() if len(s) != 1}
    if bad or len(n) > 1:
        raise ValueError(f"timeseries arrays must be 1-D and of equal length, got shapes {lengths}")
    return n.pop() if n else 0


def _column_strings(arr: np.ndarray) -> list[str]:
    arr = np.asarray(arr)
    if arr.dtype.kind in "iub":
        return [str(int(v)) for v in arr.tolist()]
    if arr.dtype.kind == "f":
        return [repr(float(v)) for v in arr.tolist()]
    return [str(v) for v in arr.tolist()]


def timeseries_csv_bytes(ts: Mapping[str, Any]) -> bytes:
    """CSV of the time series: header row, one row per tick, floats in shortest round-trip
    repr (``nan``/``inf`` as such), plus ``binding_name`` after ``binding``."""
    ts = {k: np.asarray(v) for k, v in ts.items()}
    n = _check_lengths(ts)
    cols = _ordered_columns(ts)
    columns = [_column_strings(ts[c]) for c in cols]
    header = list(cols)
    if "binding" in ts:
        names = [BINDING_NAMES[b] if 0 <= b < len(BINDING_NAMES) else str(b)
                 for b in ts["binding"].astype(int).tolist()]
        pos = cols.index("binding") + 1
        header.insert(pos, "binding_name")
        columns.insert(pos, names)
    lines = [",".join(header)]
    if n:
        lines.extend(",".join(row) for row in zip(*columns))
    return ("\n".join(lines) + "\n").encode("utf-8")


def read_timeseries(path: Path) -> dict[str, np.ndarray]:
    """Read a timeseries.csv written by :func:`write_outputs` back into numpy arrays
    (``binding_name`` stays text; integer columns come back as int64)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise ValueError(f"{path}: empty time-series file")
    header, body = rows[0], rows[1:]
    cols = list(zip(*body)) if body else [() for _ in header]
    out: dict[str, np.ndarray] = {}
    for name, vals in zip(header, cols):
        if name == "binding_name":
            out[name] = np.asarray(vals, dtype=str)
            continue
        if all(v.lstrip("-").isdigit() for v in vals):
            out[name] = np.asarray([int(v) for v in vals], dtype=np.int64)
        else:
            out[name] = np.asarray([float(v) for v in vals], dtype=float)
    return out


def _parquet_bytes(ts: Mapping[str, Any]) -> bytes | None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    cols = _ordered_columns(ts)
    table = pa.table({c: np.asarray(ts[c]) for c in cols})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# latency statistics (presentation of the engine's samples)


def latency_stats(result: Any, quantiles: Sequence[float] = (0.5, 0.9, 0.99)) -> dict[str, dict]:
    """Per request class: ``n``, quantiles of ``ttft_s``/``tpot_s``/``e2e_s`` (keys ``p50`` …)
    and the fraction of requests meeting each SLO (``slo_ttft_met``, ``slo_tpot_met``,
    ``slo_met`` = both), from ``result.latency_samples`` and ``result.slo``. Empty without
    samples."""
    samples = getattr(result, "latency_samples", None) or {}
    slo = getattr(result, "slo", None) or {}
    out: dict[str, dict] = {}
    for cls in sorted(samples):
        d = samples[cls] or {}
        entry: dict[str, Any] = {}
        n = 0
        for key in ("ttft_s", "tpot_s", "e2e_s"):
            v = np.asarray(d.get(key, []), dtype=float)
            v = v[np.isfinite(v)]
            n = max(n, int(v.size))
            if v.size:
                entry[key] = {f"p{round(100 * q):d}": float(np.quantile(v, q)) for q in quantiles}
        if n == 0:
            continue
        entry["n"] = n
        ttft = np.asarray(d.get("ttft_s", []), dtype=float)
        tpot = np.asarray(d.get("tpot_s", []), dtype=float)
        target = slo.get(cls) or {}
        ok = None
        if target.get("ttft_s") is not None and ttft.size:
            m = ttft <= float(target["ttft_s"])
            entry["slo_ttft_met"] = float(m.mean())
            ok = m
        if target.get("tpot_s") is not None and tpot.size:
            m = tpot <= float(target["tpot_s"])
            entry["slo_tpot_met"] = float(m.mean())
            ok = m if ok is None or ok.shape != m.shape else ok & m
        if ok is not None:
            entry["slo_met"] = float(ok.mean())
        out[cls] = entry
    return out


def report_latency(report: Mapping[str, Any]) -> dict[str, dict]:
    """Per-class latency quantiles and SLO attainment as the engine reported them (over all
    requests), in the shape of :func:`latency_stats`: from ``serving.per_class.<cls>`` when
    present, else the run-wide ``latency_s`` under the class name ``"all"``; empty in fluid
    fidelity."""

    def conv(lat: Any) -> dict:
        lat = lat if isinstance(lat, Mapping) else {}
        return {f"{k}_s": dict(v) for k, v in lat.items() if k in ("ttft", "tpot", "e2e") and isinstance(v, Mapping)}

    out: dict[str, dict] = {}
    per_class = get_path(report, "serving.per_class") or {}
    for cls in sorted(per_class):
        d = per_class[cls] or {}
        entry = conv(d.get("latency_s"))
        if not entry:
            continue
        n = get_path(d, "requests.completed")
        if n is not None:
            entry["n"] = int(n)
        if d.get("slo_attainment") is not None:
            entry["slo_met"] = float(d["slo_attainment"])
        out[cls] = entry
    if not out and isinstance(report.get("latency_s"), Mapping):
        entry = conv(report["latency_s"])
        if entry:
            if get_path(report, "requests.completed") is not None:
                entry["n"] = int(get_path(report, "requests.completed"))
            if isinstance(report.get("slo_attainment"), (int, float)):
                entry["slo_met"] = float(report["slo_attainment"])
            out["all"] = entry
    return out


# --------------------------------------------------------------------------------------------
# write_outputs


def _dir_nonempty(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def _png_bytes(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def write_outputs(
    result: Any,
    out_dir: str | os.PathLike[str],
    force: bool = False,
    formats: Iterable[str] = DEFAULT_FORMATS,
    plots: bool = True,
) -> dict[str, Path]:
    """Write the run's files into ``out_dir`` (created if missing) and return them by name
    relative to ``out_dir`` (``"report.json"``, ``"plots/signature.png"`` …).

    ``formats`` picks among ``json, csv, parquet, png, html``; ``plots=False`` drops the PNGs
    and the figures in the HTML (for quick runs and sweeps). Raises
    :class:`OutputExistsError` if ``out_dir`` exists and is not empty, unless ``force``; with
    ``force``, files of an earlier run that this run does not rewrite (an old latency plot,
    an old parquet file) are removed so the directory never mixes two runs.
    """
    from dcsim.plots.figures import FIGURES, all_figures
    from dcsim.report.html import render_html

    out = Path(out_dir)
    formats = tuple(formats)
    if not plots:
        formats = tuple(f for f in formats if f != "png")
    unknown = set(formats) - set(DEFAULT_FORMATS)
    if unknown:
        raise ValueError(f"unknown output format(s) {sorted(unknown)}; choose from {DEFAULT_FORMATS}")
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"result path {out} exists and is not a directory")
    if _dir_nonempty(out) and not force:
        raise OutputExistsError(
            f"result directory {out} already exists and is not empty; "
            "choose another --out or pass --force to overwrite it"
        )
    report = dict(getattr(result, "report", {}) or {})
    if not is_staging(out):  # whole run atomically: staged in a sibling folder, then swapped in
        return write_atomically(out, force, lambda d: write_outputs(result, d, True, formats, plots),
                                partial=bool(report.get("partial")))
    out.mkdir(parents=True, exist_ok=True)
    ts = {k: np.asarray(v) for k, v in (getattr(result, "timeseries", {}) or {}).items()}
    written: dict[str, Path] = {}

    if "json" in formats:
        written["report.json"] = atomic_write_bytes(out / "report.json", report_json_bytes(report))
    if "csv" in formats and ts:
        written["timeseries.csv"] = atomic_write_bytes(out / "timeseries.csv", timeseries_csv_bytes(ts))
    if "parquet" in formats and ts:
        data = _parquet_bytes(ts)
        if data is not None:
            written["timeseries.parquet"] = atomic_write_bytes(out / "timeseries.parquet", data)

    pngs: dict[str, bytes] = {}
    if plots and ("png" in formats or "html" in formats) and ts:
        for stem, fig in all_figures(result).items():
            pngs[stem] = _png_bytes(fig)
    if "png" in formats:
        for stem, data in pngs.items():
            rel = f"plots/{stem}.png"
            written[rel] = atomic_write_bytes(out / rel, data)
    if "html" in formats:
        html = render_html(result, pngs)
        written["report.html"] = atomic_write_bytes(out / "report.html", html.encode("utf-8"))

    if force:
        stale = [out / f for f in _OWN_FILES] + [out / "plots" / f"{s}.png" for s in FIGURES]
        for p in stale:
            rel = p.relative_to(out).as_posix()
            if rel not in written and p.exists():
                p.unlink()
    return written


# --------------------------------------------------------------------------------------------
# formatting helpers and the terminal summary


def get_path(d: Mapping[str, Any] | None, dotted: str, default: Any = None) -> Any:
    """``d["a"]["b"]`` for ``"a.b"``, or ``default`` when any level is missing."""
    cur: Any = d
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return default
        cur = cur[part]
    return cur


_SI_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"))


def fmt_si(x: Any, unit: str, digits: int = 3) -> str:
    """``1.23e6, "W"`` → ``"1.23 MW"``; ``None``/non-numbers → ``"n/a"``."""
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        return "n/a"
    x = float(x)
    if not math.isfinite(x):
        return f"{x} {unit}".strip()
    if x == 0:
        return f"0 {unit}".strip()
    for scale, prefix in _SI_PREFIXES:
        if abs(x) >= scale * 0.9995:
            return f"{x / scale:.{digits}g} {prefix}{unit}".strip()
    return f"{x:.{digits}g} {unit}".strip()


def fmt_energy(j: Any) -> str:
    """Energy in Wh-multiples (``3.6e9 J`` → ``"1 MWh"``)."""
    if j is None or not isinstance(j, (int, float, np.integer, np.floating)):
        return "n/a"
    return fmt_si(float(j) / 3600.0, "Wh")


def fmt_pct(x: Any) -> str:
    if x is None or not isinstance(x, (int, float, np.integer, np.floating)):
        return "n/a"
    return f"{100 * float(x):.1f}%"


def fmt_num(x: Any, digits: int = 4) -> str:
    if x is None or not isinstance(x, (int, float, np.integer, np.floating)):
        return "n/a"
    return f"{float(x):.{digits}g}"


def fmt_jpt(x: Any) -> str:
    """Joules per token, three significant digits kept (``1.2`` → ``"1.20 J"``)."""
    if x is None or not isinstance(x, (int, float, np.integer, np.floating)):
        return "n/a"
    return f"{float(x):#.3g} J"


def fmt_duration(s: Any) -> str:
    if not isinstance(s, (int, float, np.integer, np.floating)):
        return "n/a"
    s = float(s)
    if s >= 2 * 3600:
        return f"{s / 3600:.3g} h"
    if s >= 120:
        return f"{s / 60:.3g} min"
    return f"{s:.3g} s"


def current_binding(report: Mapping[str, Any]) -> str | None:
    """The constraint binding at the end of the run: ``binding.final`` when the engine
    reports it, else the ``to`` of the last shift, else the only constraint with a share."""
    b = report.get("binding") or {}
    for key in ("final", "current"):
        if isinstance(b.get(key), str):
            return b[key]
    shifts = b.get("shifts") or []
    if shifts and isinstance(shifts[-1], Mapping) and "to" in shifts[-1]:
        return str(shifts[-1]["to"])
    shares = b.get("share") or {}
    nonzero = [k for k, v in shares.items() if isinstance(v, (int, float)) and v > 0]
    return nonzero[0] if len(nonzero) == 1 else None


def headline_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The four Token Production Function figures as (label, text) rows."""
    jpt = report.get("joules_per_output_token") or {}
    shares = get_path(report, "binding.share", {}) or {}
    share_txt = "  ".join(f"{k} {fmt_pct(shares.get(k))}" for k in BINDING_NAMES if k in shares)
    cur = current_binding(report)
    pad = report.get("pue_adjusted_delivered_power_w") or {}
    return [
        ("J / output token",
         f"GPU {fmt_jpt(jpt.get('gpu'))}   IT {fmt_jpt(jpt.get('it'))}   "
         f"facility {fmt_jpt(jpt.get('facility'))}"),
        ("Binding constraint",
         f"at end: {cur or 'n/a'}   closed form: {get_path(report, 'tpf.binding', 'n/a')}"),
        ("", f"time share: {share_txt or 'n/a'}"),
        ("PUE-adj. delivered power",
         f"mean {fmt_si(pad.get('mean'), 'W')}   peak {fmt_si(pad.get('peak'), 'W')}"),
        ("Util.-adjusted output",
         f"{fmt_si(report.get('utilization_adjusted_output_tok_s'), 'tok/s')}   "
         f"(utilization {fmt_pct(report.get('utilization'))})"),
    ]


def summary_table(
    report: Mapping[str, Any] | Any,
    files: Mapping[str, Path] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    latency: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The compact plain-text summary printed after ``dcsim run``: the four TPF figures first,
    then throughput, PUE, energy, latency p50/p99 and SLO attainment per class, shifts, and
    where the files went. ``latency`` is :func:`latency_stats` output; without it the
    ``latency`` section of the report is used when present. ``report`` may also be a Result,
    whose latency samples are then summarised. Without ``files``, the files found in
    ``out_dir`` are listed."""
    if not isinstance(report, Mapping) and hasattr(report, "report"):
        if latency is None:
            latency = report_latency(report.report) or latency_stats(report) or None
        report = report.report
    if files is None and out_dir is not None and Path(out_dir).is_dir():
        found = {p.relative_to(out_dir).as_posix(): p for p in sorted(Path(out_dir).rglob("*"))
                 if p.is_file() and not p.name.startswith(".")}
        files = found or None
    rows: list[tuple[str | None, str]] = []
    title = (f"dcsim — {report.get('scenario', 'run')}   seed {report.get('seed', 'n/a')}   "
             f"{fmt_duration(report.get('duration_s'))} simulated")
    if report.get("fidelity"):
        title += f"   fidelity {report['fidelity']}"
    rows.extend(headline_rows(report))
    rows.append((None, ""))
    tokens = report.get("tokens") or {}
    rows.append(("Throughput (output)",
                 f"{fmt_si(get_path(report, 'throughput_tok_s.output'), 'tok/s')}   "
                 f"tokens in {fmt_si(tokens.get('input'), '')}  out {fmt_si(tokens.get('output'), '')}"))
    if report.get("goodput_tok_s") is not None:
        rows.append(("SLO goodput", fmt_si(report.get("goodput_tok_s"), "tok/s")))
    peak = report.get("peak_power_w") or {}
    rows.append(("PUE (energy-weighted)",
                 f"{fmt_num(report.get('pue'), 4)}   peak power IT {fmt_si(peak.get('it'), 'W')}  "
                 f"facility {fmt_si(peak.get('facility'), 'W')}"))
    e = report.get("energy_j") or {}
    rows.append(("Energy",
                 f"facility {fmt_energy(e.get('facility'))}   IT {fmt_energy(e.get('it'))}   "
                 f"GPU {fmt_energy(e.get('gpu'))}"))
    over = f"overhead: cooling {fmt_energy(e.get('cooling'))}   losses {fmt_energy(e.get('power_losses'))}"
    if e.get("fixed_loads") is not None and e.get("delivery_losses") is not None:
        over += (f" (delivery {fmt_energy(e.get('delivery_losses'))}"
                 f" + fixed loads {fmt_energy(e.get('fixed_loads'))})")
    rows.append(("", over))
    cost = get_path(report, "cost.usd_per_mtok")
    carbon = get_path(report, "carbon.g_per_mtok")
    if cost is not None or carbon is not None:
        rows.append(("Cost / carbon",
                     f"{('$' + fmt_num(cost, 4)) if cost is not None else 'n/a'} per M output tokens   "
                     f"{fmt_num(carbon, 4) + ' gCO2e' if carbon is not None else 'n/a'} per M output tokens"))
    lat = latency if latency is not None else (report_latency(report) or report.get("latency"))
    if isinstance(lat, Mapping) and lat:
        for cls in sorted(lat):
            st = lat[cls] or {}
            parts = []
            for key, lab in (("ttft_s", "TTFT"), ("tpot_s", "TPOT"), ("e2e_s", "E2E")):
                q = st.get(key) or {}
                if q.get("p50") is not None:
                    parts.append(f"{lab} {_fmt_t(q.get('p50'))}/{_fmt_t(q.get('p99'))}")
            rows.append((f"Latency p50/p99 [{cls}]", "  ".join(parts) or "n/a"))
        att = [f"{cls} {fmt_pct((lat[cls] or {}).get('slo_met'))}" for cls in sorted(lat)
               if (lat[cls] or {}).get("slo_met") is not None]
        if att:
            rows.append(("SLO attainment", "  ".join(att)))
    else:
        rows.append(("Latency", "no per-request latencies"
                     + (" (fluid fidelity)" if report.get("fidelity") == "fluid" else "")))
        if isinstance(report.get("slo_attainment"), (int, float)):
            rows.append(("SLO attainment", f"{fmt_pct(report['slo_attainment'])} of output tokens"
                         + (" (estimated per tick)" if report.get("slo_note") else "")))
    acc = report.get("tokens_accounting")
    if isinstance(acc, Mapping) and acc.get("shed") is not None:
        rows.append(("Output token accounting",
                     f"arrived {fmt_si(acc.get('arrived'), '')}   served {fmt_si(acc.get('served'), '')}   "
                     f"waiting {fmt_si(acc.get('waiting'), '')}   shed {fmt_si(acc.get('shed'), '')}"))
    shifts = get_path(report, "binding.shifts", []) or []
    rows.append(("Binding shifts", f"{len(shifts)}"))
    if report.get("partial"):
        rows.append(("WARNING", "partial run: the report covers only the simulated part"))
    if files:
        base = Path(out_dir) if out_dir is not None else None
        if base is None:
            first = next(iter(files.values()))
            base = first.parent.parent if first.parent.name == "plots" else first.parent
        n_png = sum(1 for k in files if k.startswith("plots/"))
        order = {"report.json": 0, "timeseries.csv": 1, "timeseries.parquet": 2, "report.html": 3}
        names = sorted((k for k in files if not k.startswith("plots/")), key=lambda k: (order.get(k, 9), k))
        if n_png:
            names.append(f"plots/ ({n_png} PNG)")
        rows.append(("Files", f"{base}/  " + ", ".join(names)))
        if "report.html" in files:
            rows.append(("Open", str(base / "report.html")))
    elif out_dir is not None:
        rows.append(("Files", f"{out_dir}/"))

    width = max(len(k) for k, _ in rows if k)
    rule = "─" * min(100, max(len(title), width + 60))
    lines = [title, rule, "Token Production Function"]
    for k, v in rows:
        if k is None:
            lines.append(rule)
            continue
        lines.append(f"  {k:<{width}}  {v}")
    lines.append(rule)
    return "\n".join(lines)


def _fmt_t(x: Any) -> str:
    if not isinstance(x, (int, float, np.integer, np.floating)):
        return "n/a"
    x = float(x)
    return f"{x:.3g} s" if x >= 1 else f"{1e3 * x:.3g} ms"
