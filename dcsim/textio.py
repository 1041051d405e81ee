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

__all__ = ["MAX_TABLE_BYTES", "MAX_TEXT_BYTES", "atomic_write_bytes", "check_count", "count_arg", "decode_text", "out_folder", "plain",
           "read_text"]


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


#: Size limit of a user's data file read whole (traces). No reader streams, and the text is split into lines and
#: parsed into Python objects, which costs several times the file's size in memory: 2 GiB of text is already
#: past 10 GB of memory. Public LLM traces are well below it (the Azure LLM inference traces and BurstGPT are
#: tens to a few hundred MB). A reader of smaller tables passes a smaller ``limit`` (:data:`MAX_TABLE_BYTES`).
MAX_TEXT_BYTES = 2 * 1024**3
#: Size limit of a time-series table (weather, rate profiles, grid price and carbon): a year of 1-minute rows is
#: 0.53 M rows, about 25 MB; 64 MiB leaves room for wide rows and is the measurement files' limit
#: (dcsim.node.calibrate.MAX_CSV_BYTES is this limit).
MAX_TABLE_BYTES = 64 * 1024**2


def read_text(path: str | Path, error: type[Exception] = ValueError, fallback: str | None = None,
              limit: int = MAX_TEXT_BYTES) -> str:
    """The file at ``path`` as text (see :func:`decode_text`); unreadable files, files that are not regular files
    (a device such as /dev/zero, a FIFO, a folder) and files larger than ``limit`` bytes raise ``error`` naming the
    file and the reason. At most ``limit + 1`` bytes are read, so a file that grows meanwhile is still bounded."""
    import stat

    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a device, pipe or socket"
                raise error(f"{path}: not a regular file ({kind})")
            if st.st_size > limit:
                raise error(f"{path}: {st.st_size:,} bytes is larger than the {limit:,}-byte limit for this file")
            data = fh.read(limit + 1)
    except OSError as e:
        raise error(f"{path}: cannot read file: {e.strerror or e}") from None
    if len(data) > limit:
        raise error(f"{path}: larger than the {limit:,}-byte limit for this file")
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


def check_count(value, what: str, shown: str | None = None, minimum: int = 1) -> int:
    """A count (worker processes, GPUs per replica, ...) as an ``int``: a whole number >= ``minimum`` (1; 0 where
    none is a choice, as the phase diagram's ``simulate``), a Python or NumPy integer (``np.int64(4)`` is taken;
    ``True``, ``1.5`` and ``"2"`` are not); otherwise a ``ValueError`` naming ``what`` it counts and the value
    (``shown``, else its repr). The caller prefixes the field or option it checks; :func:`count_arg` (the command
    line's counts) words its refusals through this one check."""
    shown = repr(value) if shown is None else shown
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"expected a whole number of {what}, got {shown}")
    if value < minimum:
        raise ValueError(f"must be at least {minimum} ({what}), got {shown}")
    return int(value)


def count_arg(what: str):
    """An argparse type for a count option (``--workers``, ``--gpus``, ``--seeds``): a whole number >= 1, refused
    naming ``what`` it counts otherwise (0 and -1 ran one sweep point at a time without a word; plan checked its
    counts in its body); :func:`check_count` is the check, for the Python API's counts too."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            n = text  # not a whole number: check_count says so
        try:
            return check_count(n, what, shown=repr(text))
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = f"count of {what}"  # argparse names the type in some messages
    return parse


def out_folder(text: str) -> Path:
    """argparse type of every ``--out`` option (run, sweep, compare, calibrate): an empty or blank value is refused
    (``Path('')`` is the current folder, and an empty ``--out`` fell back to the default folder without a word)."""
    if not str(text).strip():
        raise argparse.ArgumentTypeError("is empty: give a path, or leave --out out for the default")
    p = Path(text)
    for up in p.parents:  # `outfile/sub` with outfile a file said "cannot create the output's parent folder (File
        if up.is_file():  # exists)": name the file in the way
            raise argparse.ArgumentTypeError(f"{text!r}: {up} is a file, not a folder; choose another --out")
    return p


def seed_arg(text: str) -> int:
    """argparse type of ``--seed``: a whole number >= 0 (numpy's SeedSequence takes no negative entropy); ``-1`` was
    passed on as ``seed=-1`` and refused as if the scenario file held it."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (a seed is a non-negative integer), got {text!r}")
    return n
