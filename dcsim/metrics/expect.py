"""A scenario's ``expect:`` block: bounds on report figures by dotted path, checked after a run."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dcsim.metrics.fmt import get_path

__all__ = ["check_expectations"]

_MISSING = object()


def check_expectations(report: Mapping[str, Any], expect: Mapping[str, tuple[float, float]]) -> dict:
    """Evaluate ``expect`` (dotted path → [lo, hi]) on a plain report.

    Returns ``{"passed": bool, "checks": [{path, lo, hi, value, ok, reason}]}`` in the order given;
    a path that names no number in the report fails with the reason (``value`` is then None).
    """
    checks = []
    for path, (lo, hi) in expect.items():
        v = get_path(report, path, _MISSING)
        if v is _MISSING:
            value, ok, why = None, False, "no such figure in the report"
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            value, ok, why = None, False, f"not a number ({type(v).__name__})"
        else:
            value = float(v)
            ok = lo <= value <= hi
            why = "within bounds" if ok else ("below" if value < lo else "above") + " the bounds"
        checks.append({"path": path, "lo": float(lo), "hi": float(hi), "value": value, "ok": ok, "reason": why})
    return {"passed": all(c["ok"] for c in checks), "checks": checks}
