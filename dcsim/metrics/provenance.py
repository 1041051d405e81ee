"""The code identity of a run: a hash of dcsim's own sources and shipped data.

One home for it: the sweep cache keys its points by it (:mod:`dcsim.sweep`, re-exported there as
``dcsim.sweep.code_hash``) and a run records it in ``report.json`` (``provenance.code_hash``), which
``dcsim compare`` reads to say when two runs come from different code (``dcsim_version`` alone stays
0.1.0 through every change).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

__all__ = ["code_hash"]

_PKG = Path(__file__).resolve().parent.parent  # the dcsim package


@functools.lru_cache(maxsize=1)
def code_hash() -> str:
    """sha256 over dcsim's own sources and shipped data (every ``*.py`` and every file under
    ``dcsim/data``, by relative path and content): any change to the code or its data changes it."""
    h = hashlib.sha256()
    files = sorted(p for p in _PKG.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                   and (p.suffix == ".py" or "data" in p.relative_to(_PKG).parts[:1]))
    for p in files:
        h.update(p.relative_to(_PKG).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()
