"""Write a run's results to a directory.

``write_outputs(result, out_dir)`` writes

- ``report.json``: ``result.report`` with sorted keys, two-space indent and Python's shortest
  round-trip float repr, so the same Result always gives a byte-identical file; a non-finite
  float (NaN, ±inf) is refused with the key that holds it (a run's figures are finite:
  :mod:`dcsim.engine.invariants`; undefined ones are ``null`` with a warning);
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
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dcsim.report.outdir import atomic_write_bytes, is_staging, write_atomically
from dcsim.report.serialize import report_json_bytes
from dcsim.tpf import BINDING_NAMES

__all__ = [
    "OutputExistsError",
    "TIMESERIES_COLUMNS",
    "DEFAULT_FORMATS",
    "write_outputs",
    "timeseries_csv_bytes",
    "read_timeseries",
    "atomic_write_bytes",
    "write_data_files",
]

#: Contract columns of ``Result.timeseries`` (docs/architecture.md "Engine and results").
TIMESERIES_COLUMNS: tuple[str, ...] = (
    "t_s", "demand_tok_s", "compute_tok_s", "power_tok_s", "cooling_tok_s", "achieved_tok_s",
    "binding", "it_power_w", "gpu_power_w", "cooling_power_w", "loss_power_w", "fixed_power_w",
    "facility_power_w", "interconnect_w", "pue", "t_out_c", "t_wb_c", "gpus_in_service",
    "mean_clock", "mean_cap_w", "queue_tokens",
)

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
# write_outputs


def _dir_nonempty(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def _png_bytes(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def write_data_files(result: Any, out: Path, formats: Iterable[str] = ("json", "csv", "parquet"), *,
                     keep_existing: bool = False) -> dict[str, Path]:
    """Write the files that hold the run itself into the folder ``out`` (which exists): ``report.json``,
    ``timeseries.csv`` and ``timeseries.parquet``, those of ``formats``, each atomically (whole or absent); return
    them by name. With ``keep_existing`` a file already there is kept, not rewritten (it was written whole). The first
    step of :func:`write_outputs`, and all that it and ``dcsim run`` write when a Ctrl-C stops the figures
    (:func:`keep_interrupted_run`)."""
    formats = tuple(formats)
    ts = {k: np.asarray(v) for k, v in (getattr(result, "timeseries", {}) or {}).items()}
    written: dict[str, Path] = {}

    def put(name: str, make) -> None:
        if keep_existing and (out / name).is_file():
            return
        data = make()
        if data is not None:
            written[name] = atomic_write_bytes(out / name, data)

    if "json" in formats:
        put("report.json", lambda: report_json_bytes(dict(getattr(result, "report", {}) or {})))
    if "csv" in formats and ts:
        put("timeseries.csv", lambda: timeseries_csv_bytes(ts))
    if "parquet" in formats and ts:
        put("timeseries.parquet", lambda: _parquet_bytes(ts))
    return written


def keep_interrupted_run(result: Any, rd: Any, out: str | os.PathLike[str], partial: bool = False, note: str = "",
                         formats: Iterable[str] = DEFAULT_FORMATS) -> str:
    """A Ctrl-C while a finished run's files were being written into the open
    :class:`~dcsim.report.outdir.RunDir` ``rd`` for ``out`` (the figures and report.html take seconds): write what
    holds the run, ``report.json`` and ``timeseries.csv`` of ``formats`` (the first files written, whole or absent:
    each is written atomically), keep the figures already whole, commit the folder (a ``PARTIAL`` marker saying
    ``note`` where ``partial``) and return what was written and what was not. A second Ctrl-C here stops at once:
    the text then says that nothing was written to ``out`` and what was lost. Shared by ``dcsim run`` (exit 130)
    and :func:`write_outputs` (the KeyboardInterrupt raised again with this text). Until 2026-12-05 the CLI
    discarded the whole run and printed "interrupted", and until a session later :func:`write_outputs` still did
    (docs/limits.md, Run folders)."""
    from dcsim.metrics.fmt import fmt_duration

    out = Path(out)
    formats = tuple(formats)  # once: a generator would read empty the second time
    report = getattr(result, "report", {}) or {}
    simulated = fmt_duration(float(report.get("duration_s", 0.0) or 0.0))
    if rd.committed:  # interrupted after the swap (removing an old folder): the run is in place
        return f"interrupted; the run ({simulated} simulated) is written to {out}"
    data = tuple(f for f in ("json", "csv") if f in formats)
    try:
        st = rd.staging
        write_data_files(result, st, data, keep_existing=True)  # write_outputs' first step, what it missed
        kept = sorted(p.relative_to(st).as_posix() for p in st.rglob("*") if p.is_file())
        rd.commit(partial=partial, note=note)
    except KeyboardInterrupt:
        lost = ", ".join(n for n, f in (("report.json", "json"), ("timeseries.csv", "csv")) if f in data)
        return (f"interrupted again while writing the finished run: nothing written to {out} (left as it was); "
                f"the {simulated} simulated are lost ({lost + ', ' if lost else ''}the figures and report.html)")
    missing = "report.html" if "html" in formats and "report.html" not in kept else ""
    return (f"interrupted while writing the finished run's files: the run ({simulated} simulated) is written to "
            f"{out}: {', '.join(kept) or 'nothing'}"
            + (f"; not written: {missing} and any figure not listed (run again for them)" if missing else ""))


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
    # matplotlib is loaded only when a run's files are written (not to print a summary)
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
        # a Ctrl-C while writing keeps the run's data files and says what was lost, as dcsim run does
        # (keep_interrupted_run; until 2026-12-05 the Python entry dropped the whole run silently)
        partial = bool(report.get("partial"))
        return write_atomically(out, force, lambda d: write_outputs(result, d, True, formats, plots), partial=partial,
                                on_interrupt=lambda rd: keep_interrupted_run(result, rd, out, partial, formats=formats))
    out.mkdir(parents=True, exist_ok=True)
    ts = {k: np.asarray(v) for k, v in (getattr(result, "timeseries", {}) or {}).items()}
    written = write_data_files(result, out, formats)

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
