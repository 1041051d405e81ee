"""Reading user files as text, with errors that name the file and line, and writing files atomically (a leaf
module: the trace, weather and scenario readers share it; every writer of dcsim goes through
:func:`atomic_write_bytes`)."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_write_bytes", "decode_text", "out_folder", "plain", "read_text"]


def plain(obj: Any, nonfinite: str = "refuse", path: str = "") -> Any:
    """A JSON-ready copy of ``obj``: mappings with string keys, tuples and numpy arrays as lists, numpy scalars as
    Python numbers, paths as strings. A non-finite float is refused (``"refuse"``: ValueError naming its path, as
    report.json wants: a run's figures are finite, undefined ones are None), written as null (``"null"``: strict
    JSON of measured rows) or kept (``"keep"``: plain data between processes). Other types raise TypeError."""
    if isinstance(obj, Mapping):
        return {str(k): plain(v, nonfinite, f"{path}.{k}" if path else str(k)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [plain(v, nonfinite, f"{path}[{i}]") for i, v in enumerate(obj.tolist() if isinstance(obj, np.ndarray)
                                                                           else obj)]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        if math.isfinite(x) or nonfinite == "keep":
            return x
        if nonfinite == "null":
            return None
        raise ValueError(f"report value {path or '<root>'} is {x!r}: JSON has no such number and a "
                         "report's figures must be finite (a bug if it came from a run)")
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"value {path or '<root>'} of type {type(obj).__name__} cannot be written to JSON: {obj!r}")


def json_text(obj: Any, **kw) -> str:
    """Strict JSON of an answer printed for machines (``--json``): :func:`plain` with every non-finite number as
    null (JSON has no NaN or Infinity: ``JSON.parse`` and strict parsers reject them; an unbounded ceiling or an
    undefined crossover is null)."""
    import json

    return json.dumps(plain(obj, nonfinite="null"), allow_nan=False, **kw)


def decode_text(data: bytes, where: str, error: type[Exception] = ValueError, fallback: str | None = None) -> str:
    """``data`` as UTF-8 text (a BOM allowed). Not UTF-8: decode with ``fallback`` when given
    (EPW headers are often Latin-1), else raise ``error(f"{where}{line}: not UTF-8 text ...")``
    (``where`` is e.g. ``"file.csv:"`` or ``"line "``)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if fallback is not None:
            return data.decode(fallback, errors="replace")
        line = data[: e.start].count(b"\n") + 1
        raise error(f"{where}{line}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})") from None


def read_text(path: str | Path, error: type[Exception] = ValueError, fallback: str | None = None) -> str:
    """The file at ``path`` as text (see :func:`decode_text`); unreadable files raise ``error``
    naming the file and the reason."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise error(f"{path}: cannot read file: {e.strerror or e}") from None
    return decode_text(data, f"{path}:", error, fallback)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: a temp file in the same folder, fsync, ``os.replace``.
    A reader sees the old file or the new one, never a part. The one writer of every file dcsim
    produces (reports, time series, sweep cache and tables, calibration profiles)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), 0o644)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def out_folder(text: str) -> Path:
    """argparse type of every ``--out`` option (run, sweep, compare, calibrate): an empty or blank value is refused
    (``Path('')`` is the current folder, and an empty ``--out`` fell back to the default folder without a word)."""
    if not str(text).strip():
        raise argparse.ArgumentTypeError("is empty: give a path, or leave --out out for the default")
    return Path(text)
