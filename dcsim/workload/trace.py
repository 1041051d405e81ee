"""Request-trace readers: Azure LLM inference CSV, Mooncake JSONL, generic CSV.

Each reader returns a :class:`TraceData` with arrival times in seconds after the first request
(sorted, stable), input and output token counts (int64 >= 1). A bad row (unparseable time,
non-integer or < 1 token count, missing column) raises :class:`TraceError` naming the file and
line number; with ``on_bad_row="skip"`` such rows are dropped and counted in ``skipped``.

Shipped traces (``dcsim/data/traces/``, CC-BY-4.0, see its README): ``azure-conv-2023`` and
``azure-code-2023`` (Patel et al., "Splitwise", ISCA'24; Azure/AzurePublicDataset @b469a113).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["TraceData", "TraceError", "read_trace", "read_azure", "read_mooncake", "read_csv_trace",
           "resolve_path", "SHIPPED_TRACES", "shipped_dir", "read_column"]

SHIPPED_TRACES = {
    "azure-conv-2023": ("AzureLLMInferenceTrace_conv.csv", "azure"),
    "azure-code-2023": ("AzureLLMInferenceTrace_code.csv", "azure"),
}


class TraceError(ValueError):
    """A trace file could not be read; the message names the file and line."""


@dataclass(frozen=True)
class TraceData:
    """A loaded trace: ``t`` (s after first request, sorted), ``n_in``, ``n_out`` (tokens)."""

    path: str
    t: np.ndarray
    n_in: np.ndarray
    n_out: np.ndarray
    skipped: int = 0

    @property
    def span_s(self) -> float:
        """Time from the first to the last request (s)."""
        return float(self.t[-1] - self.t[0]) if self.t.size else 0.0

    def __len__(self) -> int:
        return int(self.t.size)


def shipped_dir() -> Path:
    """Directory holding the shipped traces."""
    return Path(__file__).resolve().parent.parent / "data" / "traces"


def resolve_path(path: str, base_dir: Path | None) -> Path:
    """A shipped trace name, an absolute path, or a path relative to ``base_dir`` (or cwd)."""
    if path in SHIPPED_TRACES:
        return shipped_dir() / SHIPPED_TRACES[path][0]
    p = Path(path).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    if not p.exists():
        names = ", ".join(SHIPPED_TRACES)
        raise TraceError(f"{path}: file not found (resolved to {p}); shipped traces: {names}")
    return p


_TIME_FACTOR = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


def _parse_time(raw: str, unit: str) -> float:
    """Seconds (numeric units) or ns since epoch as float seconds (``datetime``)."""
    raw = raw.strip()
    if unit == "datetime":
        return np.datetime64(raw.replace(" ", "T"), "ns").astype(np.int64) * 1e-9
    return float(raw) * _TIME_FACTOR[unit]


def _parse_tokens(raw, what: str) -> int:
    if isinstance(raw, str):
        raw = raw.strip()
        try:
            v = int(raw) if raw.lstrip("+-").isdigit() else float(raw)
        except ValueError:
            raise ValueError(f"{what} is not a number: {raw!r}") from None
    else:
        v = raw
    if isinstance(v, bool) or v is None:
        raise ValueError(f"{what} is not a number: {raw!r}")
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError(f"{what} must be an integer token count, got {raw!r}")
        v = int(v)
    if v < 1:
        raise ValueError(f"{what} must be >= 1 token, got {raw!r}")
    return v


def _finish(path: Path, t: list, i: list, o: list, skipped: int) -> TraceData:
    if not t:
        raise TraceError(f"{path}: no valid requests in trace ({skipped} bad rows skipped)")
    ta = np.asarray(t, dtype=float)
    order = np.argsort(ta, kind="stable")
    ta = ta[order]
    ta -= ta[0]
    return TraceData(str(path), ta, np.asarray(i, dtype=np.int64)[order],
                     np.asarray(o, dtype=np.int64)[order], skipped)


def read_csv_trace(path: Path, time_col: str | int, in_col: str | int, out_col: str | int,
                   time_unit: str = "s", on_bad_row: str = "error") -> TraceData:
    """Read a CSV trace with a header row; columns by name or 0-based index."""
    path = Path(path)
    t, ni, no = [], [], []
    skipped = 0
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise TraceError(f"{path}: empty file") from None
        header = [h.strip() for h in header]
        idx = []
        for col in (time_col, in_col, out_col):
            if isinstance(col, int):
                if not 0 <= col < len(header):
                    raise TraceError(f"{path}:1: column index {col} out of range ({len(header)} columns)")
                idx.append(col)
            elif col in header:
                idx.append(header.index(col))
            else:
                raise TraceError(f"{path}:1: no column {col!r} in header {header}")
        width = max(idx) + 1
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            try:
                if len(row) < width:
                    raise ValueError(f"expected at least {width} fields, got {len(row)}")
                try:
                    tv = _parse_time(row[idx[0]], time_unit)
                except ValueError:
                    raise ValueError(f"cannot read time {row[idx[0]]!r} as {time_unit}") from None
                if not np.isfinite(tv):
                    raise ValueError(f"time is not finite: {row[idx[0]]!r}")
                iv = _parse_tokens(row[idx[1]], "input tokens")
                ov = _parse_tokens(row[idx[2]], "output tokens")
            except ValueError as exc:
                if on_bad_row == "skip":
                    skipped += 1
                    continue
                raise TraceError(f"{path}:{line}: bad row {row!r}: {exc}") from None
            t.append(tv)
            ni.append(iv)
            no.append(ov)
    return _finish(path, t, ni, no, skipped)


def read_azure(path: Path, on_bad_row: str = "error") -> TraceData:
    """Azure LLM inference trace CSV: ``TIMESTAMP,ContextTokens,GeneratedTokens``."""
    return read_csv_trace(path, "TIMESTAMP", "ContextTokens", "GeneratedTokens", "datetime", on_bad_row)


def read_mooncake(path: Path, on_bad_row: str = "error") -> TraceData:
    """Mooncake JSONL: ``timestamp`` (ms), ``input_length``, ``output_length`` per line."""
    path = Path(path)
    t, ni, no = [], [], []
    skipped = 0
    with open(path) as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise ValueError("line is not a JSON object")
                for key in ("timestamp", "input_length", "output_length"):
                    if key not in rec:
                        raise ValueError(f"missing key {key!r}")
                tv = float(rec["timestamp"]) * 1e-3
                if not np.isfinite(tv):
                    raise ValueError("timestamp is not finite")
                iv = _parse_tokens(rec["input_length"], "input_length")
                ov = _parse_tokens(rec["output_length"], "output_length")
            except (ValueError, TypeError) as exc:
                if on_bad_row == "skip":
                    skipped += 1
                    continue
                raise TraceError(f"{path}:{line_no}: bad record: {exc}") from None
            t.append(tv)
            ni.append(iv)
            no.append(ov)
    return _finish(path, t, ni, no, skipped)


def read_trace(path: str, fmt: str = "azure", base_dir: Path | None = None, columns=None,
               time_unit: str = "s", on_bad_row: str = "error") -> TraceData:
    """Read a trace by shipped name or path, in ``fmt`` (``azure``, ``mooncake``, ``csv``)."""
    p = resolve_path(path, base_dir)
    if path in SHIPPED_TRACES:
        fmt = SHIPPED_TRACES[path][1]
    if fmt == "azure":
        return read_azure(p, on_bad_row)
    if fmt == "mooncake":
        return read_mooncake(p, on_bad_row)
    if fmt == "csv":
        tc = getattr(columns, "time", "TIMESTAMP") if columns is not None else "TIMESTAMP"
        ic = getattr(columns, "input", "ContextTokens") if columns is not None else "ContextTokens"
        oc = getattr(columns, "output", "GeneratedTokens") if columns is not None else "GeneratedTokens"
        return read_csv_trace(p, tc, ic, oc, time_unit, on_bad_row)
    raise TraceError(f"{path}: unknown trace format {fmt!r} (azure, mooncake, csv)")


def read_column(path: str, column: str | int | None, base_dir: Path | None = None) -> np.ndarray:
    """One numeric column of a CSV with a header (default: first column; for a shipped Azure
    trace the default is ``GeneratedTokens``). Bad cells raise with file:line."""
    p = resolve_path(path, base_dir)
    if column is None and path in SHIPPED_TRACES:
        column = "GeneratedTokens"
    out = []
    with open(p, newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise TraceError(f"{p}: empty file") from None
        if column is None:
            j = 0
        elif isinstance(column, int):
            if not 0 <= column < len(header):
                raise TraceError(f"{p}:1: column index {column} out of range")
            j = column
        elif column in header:
            j = header.index(column)
        else:
            raise TraceError(f"{p}:1: no column {column!r} in header {header}")
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            try:
                out.append(_parse_tokens(row[j], f"column {header[j]!r}"))
            except (ValueError, IndexError) as exc:
                raise TraceError(f"{p}:{reader.line_num}: bad value: {exc}") from None
    if not out:
        raise TraceError(f"{p}: column {header[j]!r} has no values")
    return np.asarray(out, dtype=float)
