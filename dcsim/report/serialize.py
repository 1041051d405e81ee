"""``report.json`` bytes: sorted keys, two-space indent, shortest round-trip floats."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["report_json_bytes"]


def _plain(obj: Any, path: str = "") -> Any:
    """JSON-ready copy: numpy scalars/arrays to Python, tuples to lists. A non-finite float is
    refused (ValueError naming its path): a run's figures are finite, undefined ones are None."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v, f"{path}.{k}" if path else str(k)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, f"{path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, np.ndarray):
        return [_plain(v, f"{path}[{i}]") for i, v in enumerate(obj.tolist())]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        if not math.isfinite(x):
            raise ValueError(f"report value {path or '<root>'} is {x!r}: JSON has no such number and a "
                             "report's figures must be finite (a bug if it came from a run)")
        return x
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"report value of type {type(obj).__name__} cannot be written to JSON: {obj!r}")


def report_json_bytes(report: Mapping[str, Any]) -> bytes:
    """The exact bytes of report.json: sorted keys, indent 2, shortest round-trip floats,
    UTF-8, trailing newline; non-finite floats are refused (see :func:`_plain`)."""
    text = json.dumps(_plain(report), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


