"""Cheap always-on checks of every run: energy and work conserved, no negative power or energy, PUE ≥ 1,
time increasing, every figure finite. A violation is a bug, raised as :class:`InvariantError`."""

from __future__ import annotations

import numpy as np

from dcsim.metrics.record import non_finite_paths

__all__ = ["InvariantError", "check_invariants", "check_report_energy", "negative_energy_paths", "ENERGY_KEYS"]


class InvariantError(RuntimeError):
    """A physical invariant was violated during a run (a bug, reported clearly)."""


#: the report keys holding an energy drawn (never negative), a number or a block of them: the run's, each pool's and
#: the annual ``energy_j``, a fault row's ``energy_j`` and ``baseline_energy_j``, the flexibility block's and the
#: fault baseline's ``energy_facility_j``. Changes (``energy_change_j``), a battery's drawdown and meter energies
#: that a battery may offset are not among them.
ENERGY_KEYS = frozenset({"energy_j", "baseline_energy_j", "energy_facility_j"})


def negative_energy_paths(report: dict, tol_j: float = 1e-6) -> list[str]:
    """The dotted paths of ``report``'s energies below zero (``-tol_j`` for rounding): every number under a key of
    :data:`ENERGY_KEYS`, at any depth (the run's, each pool's, the annual block's, each fault row's, the flexibility
    block's ``with`` and ``without``; never inside a ``change`` block of differences). An energy drawn is never negative;
    the timeseries' powers are checked column by column, and until 2026-12-06 nothing checked the report's sums
    themselves (the hostile-input pass of session 54). A change of energy (``energy_change_j``) may be negative and is
    not under an ``energy_j`` key."""
    out: list[str] = []

    def walk(x, path: str, inside: bool) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "change":  # a block of differences (flexibility.change: with − without), any sign
                    continue
                walk(v, f"{path}.{k}" if path else str(k), inside or k in ENERGY_KEYS)
        elif isinstance(x, (list, tuple)):
            for i, v in enumerate(x):
                walk(v, f"{path}.{i}", inside)
        elif inside and isinstance(x, (int, float)) and not isinstance(x, bool) and x < -tol_j:
            out.append(path)

    walk(report, "", False)
    return out


def check_report_energy(report: dict) -> None:
    """Raise :class:`InvariantError` naming the first five negative energies of ``report``
    (:func:`negative_energy_paths`). :func:`check_invariants` calls it on each simulated run's report and
    :func:`dcsim.engine.run.run` again on the finished one, after the fault rows and the flexibility block are added
    (until 2026-12-06 those were never checked: the review of the hostile-input pass of session 54)."""
    neg = negative_energy_paths(report)
    if neg:
        raise InvariantError(f"negative energy at {', '.join(neg[:5])}" + (f" and {len(neg) - 5} more" if len(neg) > 5 else ""))


def check_invariants(report: dict, ts: dict) -> None:
    """Raise :class:`InvariantError` naming the broken invariant of a plain report and its ticks."""
    e = report["energy_j"]
    parts = e["it"] + e["cooling"] + e["power_losses"]
    if not np.isclose(e["facility"], parts, rtol=1e-9, atol=1e-6):
        raise InvariantError(f"energy not conserved: facility {e['facility']!r} J != it+cooling+losses {parts!r} J")
    for col in ("it_power_w", "gpu_power_w", "cooling_power_w", "loss_power_w", "facility_power_w", "achieved_tok_s"):
        if col in ts and ts[col].size and float(np.min(ts[col])) < -1e-9:
            raise InvariantError(f"negative {col} at t={float(ts['t_s'][int(np.argmin(ts[col]))]):g} s")
    if ts["pue"].size and float(np.min(ts["pue"])) < 1.0 - 1e-12:
        raise InvariantError(f"PUE below 1 at t={float(ts['t_s'][int(np.argmin(ts['pue']))]):g} s")
    if ts["t_s"].size > 1 and np.any(np.diff(ts["t_s"]) <= 0):
        raise InvariantError("time does not increase monotonically")
    check_report_energy(report)
    bad = non_finite_paths(report)
    if bad:
        raise InvariantError(f"non-finite result at {', '.join(bad[:5])}" + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
                             + " (every figure must be finite; undefined ones are null with a warning)")
    tok = report["tokens_accounting"]
    lhs = tok["arrived"]
    rhs = tok["served"] + tok["waiting"] + tok["shed"]
    if not np.isclose(lhs, rhs, rtol=1e-9, atol=1e-6 * max(1.0, lhs)):
        raise InvariantError(f"work not accounted: arrived {lhs!r} != served+waiting+shed {rhs!r} tokens")
