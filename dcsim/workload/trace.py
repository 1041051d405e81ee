"""Request-trace readers: Azure LLM inference CSV, Mooncake JSONL, generic CSV.

Each reader returns a :class:`TraceData` with arrival times in seconds after the first request
(sorted, stable), input and output token counts (int64 >= 1). A bad row (unparseable time,
non-integer or < 1 token count, missing column) raises :class:`TraceError` naming the file and
line number; with ``on_bad_row="skip"`` such rows are dropped and counted in ``skipped``.

Limits (assumptions, documented in docs/limits.md): token counts at most
:data:`MAX_TOKENS` per request; datetime stamps between 1970-01-01 and 2200-01-01 (``NaT`` and
out-of-range stamps are bad rows, never wrapped around); a trace spanning more than
:data:`MAX_SPAN_S` (10 years — one stray stamp far from the rest) is refused naming that row;
files must be UTF-8; a JSONL record longer than :data:`MAX_LINE_CHARS` or nested deeper than
Python's parser allows is a bad row.

Shipped traces (``dcsim/data/traces/``, CC-BY-4.0, see its README): ``azure-conv-2023`` and
``azure-code-2023`` (Patel et al., "Splitwise", ISCA'24; Azure/AzurePublicDataset @b469a113).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dcsim.textio import read_text

__all__ = ["TraceData", "TraceError", "read_trace", "read_azure", "read_mooncake", "read_csv_trace",
           "resolve_path", "SHIPPED_TRACES", "shipped_dir", "read_column"]

SHIPPED_TRACES = {
    "azure-conv-2023": ("AzureLLMInferenceTrace_conv.csv", "azure"),
    "azure-code-2023": ("AzureLLMInferenceTrace_code.csv", "azure"),
}


class TraceError(ValueError):
    """A trace file could not be read; the message names the file and line."""


#: Largest token count accepted per request (10 M: the longest context windows announced as of
#: 2025 are 10 M tokens, Llama 4 Scout; an assumption, not a measurement).
MAX_TOKENS = 10_000_000
#: Largest time span of a trace, s (10 years): a longer span is a corrupt or stray timestamp.
MAX_SPAN_S = 10 * 365.25 * 86400.0
#: Longest JSONL record, characters.
MAX_LINE_CHARS = 100_000
_DT_MIN, _DT_MAX = np.datetime64("1970-01-01", "us"), np.datetime64("2200-01-01", "us")


def _short(x, n: int = 60) -> str:
    s = repr(x)
    return s if len(s) <= n else s[: n - 3] + "..."


def _read_text(path: Path) -> str:
    """The file as text; TraceError naming the file and line when it is not UTF-8 or unreadable."""
    return read_text(path, TraceError)


@dataclass(frozen=True)
class TraceData:
    """A loaded trace: ``t`` (s after first request, sorted), ``n_in``, ``n_out`` (tokens)."""

    path: str
    t: np.ndarray
    n_in: np.ndarray
    n_out: np.ndarray
    skipped: int = 0
    #: rows that arrive before the row above them in the file, and the file line of the first (None: in order);
    #: the requests are replayed in time order, and preflight says so (a time column that is not arrival times?)
    unsorted: int = 0
    first_unsorted_line: int | None = None
    #: its input and output columns, as warnings name them (set by :func:`read_trace`)
    columns: str = "ContextTokens, GeneratedTokens"

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
    if not p.is_file():
        raise TraceError(f"{path}: not a regular file (resolved to {p})")
    return p


_TIME_FACTOR = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


def _parse_time(raw: str, unit: str) -> float:
    """Seconds (numeric units) or ns since epoch as float seconds (``datetime``)."""
    raw = raw.strip()
    if unit == "datetime":
        iso = raw.replace(" ", "T")
        # a zone (`Z`, `+05:00`) is read as the instant it names, in UTC (numpy's warning that it does so is
        # silenced once around the rows: _collect)
        wide = np.datetime64(iso, "us")  # wide range: out-of-range years are caught, not wrapped
        if np.isnat(wide):
            raise ValueError("timestamp is NaT (not a time)")
        if not _DT_MIN <= wide < _DT_MAX:
            raise ValueError(f"timestamp {_short(raw, 40)} is outside 1970-01-01 .. 2200-01-01")
        return np.datetime64(iso, "ns").astype(np.int64) * 1e-9
    return float(raw) * _TIME_FACTOR[unit]


#: the zone at the end of an ISO date-time (after its time of day, minutes optional as numpy reads ``T18+05`` as
#: 13:00 UTC; until 2026-12-05 such a stamp beside zone-less ones passed the mixed-zone check): ``Z``, ``+05:00``,
#: ``-0800``, ``+05``
_ZONE = re.compile(r"[T ]\d{1,2}(?::\d{2}(?::\d{2}(?:\.\d*)?)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)


class MixedZonesError(ValueError):
    """Stamps with and without a zone in one trace: refused even with ``on_bad_row: skip``, which dropped every row
    unlike the first without a word."""


def _same_zoning(raw: str, first: list) -> None:
    """MixedZonesError when the datetime stamp ``raw`` has a zone and the trace's first stamp none, or the reverse
    (``first`` holds the first row's ``(zoned, stamp)``, set here). A zoned stamp is the instant it names, in UTC;
    a stamp without a zone has no instant, and read beside zoned ones it was taken as UTC: a trace mixing
    ``18:15:46+05:00`` and ``18:15:47`` replayed its two requests 5 h apart, unsaid (until 2026-12-05)."""
    text = raw.strip()
    zoned = bool(_ZONE.search(text))
    if not first:
        first.append((zoned, text))
        return
    if zoned != first[0][0]:
        raise MixedZonesError(f"timestamp {_short(text, 40)} {'has a' if zoned else 'has no'} time zone where the "
                              f"first row's {_short(first[0][1], 40)} {'has none' if zoned else 'has one'}: the time "
                              "between them is not known; give every row its zone, or none")


def _parse_tokens(raw, what: str) -> int:
    if isinstance(raw, str):
        raw = raw.strip()
        if len(raw) > 40:
            raise ValueError(f"{what} is not a token count: {_short(raw)}")
        try:
            v = int(raw) if raw.lstrip("+-").isdigit() else float(raw)
        except ValueError:
            raise ValueError(f"{what} is not a number: {_short(raw)}") from None
    else:
        v = raw
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{what} is not a number: {_short(raw)}")
    if isinstance(v, float):
        if not v == v or v in (float("inf"), float("-inf")):
            raise ValueError(f"{what} is not finite: {_short(raw)}")
        if not v.is_integer():
            raise ValueError(f"{what} must be an integer token count, got {_short(raw)}")
        v = int(v)
    if v < 1:
        raise ValueError(f"{what} must be >= 1 token, got {_short(raw)}")
    if v > MAX_TOKENS:
        raise ValueError(f"{what} = {_short(raw)} is above the limit of {MAX_TOKENS:,} tokens per request")
    return v


def _finish(path: Path, t: list, i: list, o: list, skipped: int, lines: list) -> TraceData:
    """The trace of rows ``t``, ``i``, ``o`` (read from file lines ``lines``) in time order, its rows out of order
    counted (the first named by its line), a span past :data:`MAX_SPAN_S` refused at the stray row's line."""
    if not t:
        raise TraceError(f"{path}: no valid requests in trace ({skipped} bad rows skipped)")
    ta = np.asarray(t, dtype=float)
    back = np.flatnonzero(ta[1:] < ta[:-1]) + 1  # rows earlier than the row above them
    first_back = lines[int(back[0])] if back.size else None
    order = np.argsort(ta, kind="stable")
    ta = ta[order]
    span = ta[-1] - ta[0]
    if not span <= MAX_SPAN_S:
        # name the row farthest from the median: the stray one
        med = float(np.median(ta))
        k = int(order[0] if med - ta[0] > ta[-1] - med else order[-1])
        raise TraceError(f"{path}:{lines[k]}: this row's time is {abs(t[k] - med):.3g} s from the trace's median; the trace "
                         f"would span {span:.3g} s, more than the {MAX_SPAN_S:.3g} s (10-year) limit "
                         "(a corrupt or stray timestamp?)")
    ta -= ta[0]
    return TraceData(str(path), ta, np.asarray(i, dtype=np.int64)[order],
                     np.asarray(o, dtype=np.int64)[order], skipped, int(back.size), first_back)


def _collect(path: Path, records, parse, on_bad_row: str, label) -> TraceData:
    """Parse ``records`` (``(line, payload)`` pairs) with ``parse(payload) -> (t, n_in, n_out)``;
    a bad record raises TraceError ``file:line: <label(payload)>: reason``, or is skipped and
    counted with ``on_bad_row="skip"``."""
    t, ni, no, lines = [], [], [], []
    skipped = 0
    with warnings.catch_warnings():
        # numpy reads a zoned timestamp (`Z`, `+05:00`) as the instant it names, in UTC, and says so with a
        # UserWarning per row that quoted dcsim's own source lines to the user; the arrival times are relative, so a
        # trace in one zone reads as without it and one mixing zones keeps the true gaps. Set once for the rows
        # (per row it cost +39 % a row)
        warnings.filterwarnings("ignore", message="no explicit representation of timezones", category=UserWarning)
        for line, payload in records:
            try:
                tv, iv, ov = parse(payload)
            except (ValueError, TypeError, OverflowError) as exc:
                if on_bad_row == "skip" and not isinstance(exc, MixedZonesError):  # a file's fault, not a row's
                    skipped += 1
                    continue
                raise TraceError(f"{path}:{line}: {label(payload)}: {exc}") from None
            t.append(tv)
            ni.append(iv)
            no.append(ov)
            lines.append(line)
    return _finish(path, t, ni, no, skipped, lines)


def read_csv_trace(path: Path, time_col: str | int, in_col: str | int, out_col: str | int,
                   time_unit: str = "s", on_bad_row: str = "error") -> TraceData:
    """Read a CSV trace with a header row; columns by name or 0-based index."""
    path = Path(path)
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    try:
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
                raise TraceError(f"{path}:1: no column {_short(col)} in header {_short(header, 200)}")
        width = max(idx) + 1

        def rows():
            for row in reader:
                if row and any(c.strip() for c in row):
                    yield reader.line_num, row

        first_zone: list[tuple[bool, str]] = []  # (zoned, stamp) of the first datetime row

        def parse(row):
            if len(row) < width:
                raise ValueError(f"expected at least {width} fields, got {len(row)}")
            try:
                tv = _parse_time(row[idx[0]], time_unit)
            except ValueError as e:
                why = str(e) if "timestamp" in str(e) else f"cannot read time {_short(row[idx[0]])} as {time_unit}"
                raise ValueError(why) from None
            if not np.isfinite(tv):
                raise ValueError(f"time is not finite: {_short(row[idx[0]])}")
            counts = _parse_tokens(row[idx[1]], "input tokens"), _parse_tokens(row[idx[2]], "output tokens")
            if time_unit == "datetime":  # the first row read in full sets the zoning (a skipped bad row set it)
                _same_zoning(row[idx[0]], first_zone)
            return (tv, *counts)

        return _collect(path, rows(), parse, on_bad_row, lambda row: f"bad row {_short(row, 120)}")
    except csv.Error as exc:
        raise TraceError(f"{path}:{reader.line_num}: not a readable CSV row ({exc})") from None


def read_azure(path: Path, on_bad_row: str = "error") -> TraceData:
    """Azure LLM inference trace CSV: ``TIMESTAMP,ContextTokens,GeneratedTokens``."""
    return read_csv_trace(path, "TIMESTAMP", "ContextTokens", "GeneratedTokens", "datetime", on_bad_row)


def read_mooncake(path: Path, on_bad_row: str = "error") -> TraceData:
    """Mooncake JSONL: ``timestamp`` (ms), ``input_length``, ``output_length`` per line."""
    path = Path(path)

    def parse(line):
        if len(line) > MAX_LINE_CHARS:
            raise ValueError(f"record is {len(line):,} characters, above the {MAX_LINE_CHARS:,} limit")
        try:
            rec = json.loads(line)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        if not isinstance(rec, dict):
            raise ValueError("line is not a JSON object")
        for key in ("timestamp", "input_length", "output_length"):
            if key not in rec:
                raise ValueError(f"missing key {key!r}")
        ts = rec["timestamp"]
        if isinstance(ts, bool) or not isinstance(ts, (int, float, str)):
            raise ValueError(f"timestamp is not a number: {_short(ts)}")
        tv = float(ts) * 1e-3
        if not np.isfinite(tv):
            raise ValueError(f"timestamp is not finite: {_short(ts)}")
        return tv, _parse_tokens(rec["input_length"], "input_length"), _parse_tokens(rec["output_length"], "output_length")

    records = ((n, line) for n, line in enumerate(_read_text(path).splitlines(), start=1) if line.strip())
    return _collect(path, records, parse, on_bad_row, lambda _: "bad record")


def read_trace(path: str, fmt: str = "azure", base_dir: Path | None = None, columns=None,
               time_unit: str = "s", on_bad_row: str = "error") -> TraceData:
    """Read a trace by shipped name or path, in ``fmt`` (``azure``, ``mooncake``, ``csv``)."""
    p = resolve_path(path, base_dir)
    if path in SHIPPED_TRACES:
        fmt = SHIPPED_TRACES[path][1]
    if fmt == "azure":
        return read_azure(p, on_bad_row)
    if fmt == "mooncake":
        return dataclasses.replace(read_mooncake(p, on_bad_row), columns="input_length, output_length")
    if fmt == "csv":
        tc = getattr(columns, "time", "TIMESTAMP") if columns is not None else "TIMESTAMP"
        ic = getattr(columns, "input", "ContextTokens") if columns is not None else "ContextTokens"
        oc = getattr(columns, "output", "GeneratedTokens") if columns is not None else "GeneratedTokens"
        tr = read_csv_trace(p, tc, ic, oc, time_unit, on_bad_row)
        return tr if columns is None else dataclasses.replace(tr, columns=f"columns {ic}, {oc}")
    raise TraceError(f"{path}: unknown trace format {fmt!r} (azure, mooncake, csv)")


def read_column(path: str, column: str | int | None, base_dir: Path | None = None) -> np.ndarray:
    """One numeric column of a CSV with a header (default: first column; for a shipped Azure
    trace the default is ``GeneratedTokens``). Bad cells raise with file:line."""
    p = resolve_path(path, base_dir)
    if column is None and path in SHIPPED_TRACES:
        column = "GeneratedTokens"
    out = []
    reader = csv.reader(io.StringIO(_read_text(p), newline=""))
    try:
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
            raise TraceError(f"{p}:1: no column {_short(column)} in header {_short(header, 200)}")
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            try:
                if j >= len(row):
                    raise ValueError(f"row has {len(row)} fields, column {header[j]!r} is field {j + 1}")
                out.append(_parse_tokens(row[j], f"column {header[j]!r}"))
            except (ValueError, IndexError, OverflowError) as exc:
                raise TraceError(f"{p}:{reader.line_num}: bad value: {exc}") from None
    except csv.Error as exc:
        raise TraceError(f"{p}:{reader.line_num}: not a readable CSV row ({exc})") from None
    if not out:
        raise TraceError(f"{p}: column {header[j]!r} has no values")
    return np.asarray(out, dtype=float)
