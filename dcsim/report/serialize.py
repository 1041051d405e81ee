"""``report.json`` bytes: sorted keys, two-space indent, shortest round-trip floats."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["report_json_bytes"]


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


