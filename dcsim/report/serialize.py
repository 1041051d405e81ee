"""``report.json`` bytes: sorted keys, two-space indent, shortest round-trip floats."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dcsim.textio import plain

__all__ = ["report_json_bytes"]


def report_json_bytes(report: Mapping[str, Any]) -> bytes:
    """The exact bytes of report.json: sorted keys, indent 2, shortest round-trip floats,
    UTF-8, trailing newline; non-finite floats are refused (see :func:`dcsim.textio.plain`)."""
    text = json.dumps(plain(report), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


