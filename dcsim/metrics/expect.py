"""A scenario's ``expect:`` block: claims on report figures by dotted path, checked after a run.

Three kinds of claim, by the form of the entry (docs/report.md, "Scenarios that check their own claims"):

* ``path: [lo, hi]`` — the number at ``path`` lies in the bounds;
* ``path_a / path_b: [lo, hi]`` — the ratio of two numbers of the report lies in the bounds (``2.23x the SLO-meeting
  tokens`` against a baseline was stated in a header and bounded nowhere: the block bounded the difference);
* ``path: text`` — the text at ``path`` is ``text`` (a binding label: ``binding.shifts.1.to: power``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dcsim.metrics.fmt import fmt_duration, fmt_local_time, get_path
from dcsim.scenario.paths import ratio_parts

__all__ = ["check_expectations", "not_checked_reason", "report_shape", "unknown_expect_paths", "unknown_report_paths"]

_MISSING = object()


def _lookup(report: Mapping[str, Any], path: str, text: bool = False) -> tuple[Any, str]:
    """The finite number at ``path`` (``text``: the text), or None and why not: the one lookup of every claim."""
    v = get_path(report, path, _MISSING)
    if v is _MISSING:
        return None, "no such figure in the report"
    if text:
        return (v, "") if isinstance(v, str) else (None, f"not a text ({type(v).__name__})")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        return None, f"not a number ({type(v).__name__})"
    return float(v), ""


def not_checked_reason(written_for: tuple | None, run_window: tuple) -> str:
    """Why a scenario's claims were not checked on this run, each window (``(clock block, duration s)``:
    :meth:`dcsim.scenario.Scenario.window`; ``written_for`` None where unknown) as the report says its times
    (:func:`fmt_duration` from :func:`fmt_local_time`): "the scenario's expect: block was written for its whole run
    (24 h from 2026-07-15 00:00); this run covers 2 h from 2026-07-15 12:00 ...". Until 2026-12-05 built by the
    Scenario with its own formats."""
    def said(w: tuple | None) -> str:
        if not w:
            return "the file's own start and duration"
        clock, dur = w
        return f"{fmt_duration(dur)} from {fmt_local_time(0.0, clock)}"

    return (f"the scenario's expect: block was written for its whole run ({said(written_for)}); this run covers "
            f"{said(run_window)} (start, duration or the weather's default day overridden), so its claims were not "
            "checked: run the file without those overrides to check them")


def check_expectations(report: Mapping[str, Any], expect: Mapping[str, Any], not_checked: list[str] | None = None,
                       reason: str | None = None, written_for: tuple | None = None) -> dict:
    """Evaluate ``expect`` (dotted path, or ``path / path`` for a ratio, → [lo, hi]; or path → text) on a plain
    report.

    Returns ``{"passed": bool, "checks": [{path, lo, hi, value, ok, reason}]}`` in the order given (a text claim
    has ``equals`` and the text found as ``value``, no ``lo``/``hi``); a path that names no number (or, for a
    text claim, no text) in the report fails with the reason (``value`` is then None).

    ``not_checked``: the scenario's claims left out, with the ``reason`` (a run over a window of the scenario's,
    :meth:`dcsim.scenario.Scenario.claims_not_checked`; by default :func:`not_checked_reason` of ``written_for``, the
    window they were written for, against the report's own ``clock`` and ``duration_s``): they are not checked (the
    caller passes the whole block; until 2026-12-05 it filtered them out itself too), stored as ``not_checked`` and ``not_checked_reason``, and
    ``passed`` is None when no claim was checked (nothing failed, nothing was shown to hold).
    """
    checks = []
    skip = set(not_checked or ())
    for path, want in expect.items():
        if path in skip:
            continue
        if isinstance(want, str):
            value, why = _lookup(report, path, text=True)
            ok = value is not None and value == want
            if value is not None:
                why = "as claimed" if ok else f"{value!r}, not {want!r}"
            checks.append({"path": path, "equals": want, "value": value, "ok": ok, "reason": why})
            continue
        lo, hi = want
        ratio = ratio_parts(path)
        if ratio is None:
            value, why = _lookup(report, path)
        else:
            (num, why_n), (den, why_d) = _lookup(report, ratio[0]), _lookup(report, ratio[1])
            value = None
            why = f"{ratio[0]}: {why_n}" if why_n else (f"{ratio[1]}: {why_d}" if why_d else "")
            if not why:
                if den == 0.0:
                    why = f"the denominator {ratio[1]} is 0"
                else:
                    value = num / den
        if value is None:
            ok = False
        else:
            ok = lo <= value <= hi
            why = "within bounds" if ok else ("below" if value < lo else "above") + " the bounds"
        checks.append({"path": path, "lo": float(lo), "hi": float(hi), "value": value, "ok": ok, "reason": why})
    out = {"passed": all(c["ok"] for c in checks) if checks or not not_checked else None, "checks": checks}
    if not_checked:
        if reason is None:
            reason = not_checked_reason(written_for, (report.get("clock"), report.get("duration_s")))
        out.update(not_checked=list(not_checked), not_checked_reason=reason)
    return out


# ------------------------------------------------------------------ the report's paths, before a run
#: ``dcsim/data/report_shape.json``: the keys inside the report's blocks that :mod:`dcsim.metrics.record` types as
#: plain ``dict`` or ``list`` (``energy_j``, ``tpf``, ``faults``, ``grid``, …) and the serving figures merged at top
#: level (``serving_figures``); ``"#"`` is a list index, ``"*"`` any name (a request class). The typed blocks'
#: keys come from the dataclasses themselves. tests/test_scenario.py::test_report_shape_knows_every_report_key runs
#: scenarios of every block and fails on a report key the shape does not know.
_SHAPE_FILE = "report_shape.json"
_ANY = "ANY"  # a block with no recorded shape: any path below it is accepted


def report_shape() -> dict:
    """The tree of ``report.json`` paths: name → subtree, ``None`` for a leaf, :data:`_ANY` for an unrecorded block."""
    import dataclasses
    import json
    import typing
    from importlib import resources

    from dcsim.metrics import record

    recorded = json.loads(resources.files("dcsim.data").joinpath(_SHAPE_FILE).read_text(encoding="utf-8"))
    recorded.pop("_source", None)  # where the file's keys come from (the runs that record them), not a report key

    def tree(cls, rec: dict) -> dict:
        hints = typing.get_type_hints(cls)
        out = {}
        for f in dataclasses.fields(cls):
            key = f.metadata.get("key", f.name)
            sub = [a for a in typing.get_args(hints[f.name]) if dataclasses.is_dataclass(a)] or (
                [hints[f.name]] if dataclasses.is_dataclass(hints[f.name]) else [])
            if sub:
                out[key] = tree(sub[0], rec.get(key) or {})
            elif key in rec:
                out[key] = rec[key]
            else:
                origin = typing.get_origin(hints[f.name]) or hints[f.name]
                args = {typing.get_origin(a) or a for a in typing.get_args(hints[f.name])}
                container = origin in (dict, list) or args & {dict, list}
                out[key] = _ANY if container else None
        return out

    t = tree(record.RunReport, recorded)
    t.pop("serving_figures", None)
    t.update(recorded.get("serving_figures", {}))
    return t


def _known(shape, parts: list[str]) -> bool:
    node = shape
    for p in parts:
        if node == _ANY:
            return True
        if not isinstance(node, dict):
            return False
        if p in node:
            node = node[p]
        elif "#" in node and p.isdigit():
            node = node["#"]
        elif "*" in node:
            node = node["*"]
        else:
            return False
    return True


def _all_paths(node, prefix: str = "") -> list[str]:
    if not isinstance(node, dict):
        return [prefix] if prefix else []
    out = [prefix] if prefix else []
    for k, v in node.items():
        k = "0" if k == "#" else ("<class>" if k == "*" else k)
        out += _all_paths(v, f"{prefix}.{k}" if prefix else k)
    return out


def unknown_report_paths(keys) -> list[tuple[str, str]]:
    """``(key, reason)`` for each dotted key that names no figure a report can have (:func:`report_shape`), with
    close matches: the one check of report keys named before a run (a scenario's ``expect:``, a sweep's
    ``metrics:``)."""
    import difflib

    shape = report_shape()
    bad = []
    paths = None
    for key in keys:
        if isinstance(key, str) and key and _known(shape, key.split(".")):
            continue
        paths = paths if paths is not None else _all_paths(shape)
        close = difflib.get_close_matches(str(key), paths, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else " (docs/report.md lists the figures)"
        bad.append((str(key), f"no such figure in report.json{hint}"))
    return bad


def unknown_expect_paths(expect: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(path, reason)`` for each ``expect:`` key that names no figure a report can have, with close matches (each
    side of a ratio claim, ``a / b``, on its own)."""
    out = []
    for key in expect:
        parts = ratio_parts(key) or (key,)
        out += [(f"expect.{key}" if len(parts) == 1 else f"expect.{key} ({side})", why)
                for side, why in unknown_report_paths(parts)]
    return out
