"""Argument checks the Python API shares: each refuses a wrong argument before any work, with an error naming the
argument and the reason (the input audit AUH of 2026-12-05, 9 and 10: ``dcsim.run(42)`` raised pathlib's
``expected str, bytes or os.PathLike object, not int``, ``progress=5`` simpy's ``'int' object is not callable``
mid-run, and ``phase_diagram`` took an axis given twice).

One home for :func:`dcsim.run` (:func:`dcsim.engine.run.run`), :mod:`dcsim.sweep` and :mod:`dcsim.phase` (peers that
may not import each other). :func:`check_scenario_arg` lives beside :func:`dcsim.scenario.load_scenario`, which calls
it (the scenario package may not import this module: a cycle), and is re-exported here."""

from __future__ import annotations

import os
import re
from typing import Any, Iterable

from dcsim.scenario import check_scenario_arg
from dcsim.scenario.paths import split_path
from dcsim.units import excerpt

__all__ = ["check_scenario_arg", "check_run_args", "overlapping_paths", "check_scheduler_address",
           "scheduler_arg", "flag_quantity"]


def _kind(x: Any) -> str:
    return type(x).__name__


def check_run_args(scenario: Any, overrides: Any = None, progress: Any = None, base_dir: Any = None) -> None:
    """The arguments of :func:`dcsim.run` checked before the run (TypeError naming the argument): ``scenario``
    (:func:`check_scenario_arg`), ``overrides`` (None, a mapping of dotted paths or a list of ``path=value``
    strings), ``progress`` (None or a callable, called with the simulated fraction) and ``base_dir`` (None or a
    path)."""
    check_scenario_arg(scenario)
    # one string is refused by apply_overrides itself (a ScenarioError: "got one string"), read there
    if overrides is not None and not isinstance(overrides, (dict, list, tuple, str)):
        raise TypeError(f"overrides: expected a mapping of dotted paths to values ({{'facility.interconnect': "
                        f"'15 MW'}}) or a list of 'path=value' strings, got {_kind(overrides)}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress: expected a callable (called with the simulated fraction, 0-1) or None, got "
                        f"{_kind(progress)} {excerpt(progress, 40)}")
    if base_dir is not None and not isinstance(base_dir, (str, os.PathLike)):
        raise TypeError(f"base_dir: expected a folder path (str or pathlib.Path) or None, got {_kind(base_dir)}")


def flag_quantity(flag: str, text: Any, kind: str) -> float:
    """``text``, a command-line flag's quantity of ``kind`` (:func:`dcsim.units.parse_quantity`), in SI units; a
    ValueError naming ``flag`` and the text when it is none (the hostile-input pass of session 54: ``dcsim plan
    --window '5 kW'`` said "unit 'kW' is not a time unit", naming no flag, as ``--curtailment`` and
    ``--max-event`` did). The range each flag takes is its caller's check."""
    from dcsim.units import parse_quantity

    try:
        return parse_quantity(text, kind)
    except ValueError as e:
        raise ValueError(f"{flag} {excerpt(text, 40)}: {e}") from None


def overlapping_paths(paths: Iterable[tuple[str, str]]) -> tuple[str, str, str, str, bool] | None:
    """The first two of ``paths`` (``(where, dotted path)`` pairs) that set one field: the same path spelled two ways
    (``racks.0.count`` and ``racks[0].count``) or one inside the other (``racks.0`` and ``racks.0.count``), as
    ``(where_a, a, where_b, b, same)``; None when every path sets its own field. :func:`dcsim.scenario.paths.
    split_path`'s ValueError (an empty key) propagates. The sweep's parameters and ``fixed:`` and the phase
    diagram's two axes read this one rule."""
    keys = list(paths)
    for i, (wa, a) in enumerate(keys):
        for wb, b in keys[i + 1:]:
            na, nb = split_path(a), split_path(b)
            if na[:len(nb)] == nb or nb[:len(na)] == na:
                return wa, a, wb, b, na == nb
    return None


#: ``host:port`` of a Dask scheduler: a name or an IPv4 address, or an IPv6 address in brackets, and a port
_HOST_PORT = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+):([0-9]{1,5})$")
#: the schemes of dask.distributed's comms that address a host and a port (``inproc://`` is one process's own)
_SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


def check_scheduler_address(address: Any, name: str = "client") -> str:
    """``address`` if it reads as a Dask scheduler's address (``tcp://10.0.0.5:8786``, ``10.0.0.5:8786``,
    ``tls://host:8786``, ``tcp://[::1]:8786``); else a ValueError (TypeError for no string) naming ``name`` and the
    form expected, before any work. Whether a scheduler answers there is the connection's own error (an OSError
    after dask's timeout). Until 2026-12-05 ``dcsim sweep FILE --scheduler 'not a url'`` prepared every point and
    then said "internal error (a bug in dcsim)" with dask's ``missing port number``, exit 70."""
    if not isinstance(address, str):
        raise TypeError(f"{name}: expected a scheduler address (a string such as 'tcp://10.0.0.5:8786') or a "
                        f"dask.distributed.Client, got {_kind(address)}")
    text = address.strip()
    scheme, sep, loc = text.partition("://")
    if not sep:
        scheme, loc = "tcp", text
    ok = False
    if scheme == "inproc":
        ok = bool(loc)
    elif scheme in _SCHEDULER_SCHEMES:
        m = _HOST_PORT.match(loc)
        ok = bool(m) and 1 <= int(m.group(1)) <= 65535
    if not ok:
        why = (f"the scheme {excerpt(scheme, 20)} is none of {', '.join(_SCHEDULER_SCHEMES)}"
               if sep and scheme not in _SCHEDULER_SCHEMES + ("inproc",) else
               "expected host:port, the port a number 1-65535, an IPv6 host in brackets")
        raise ValueError(f"{name} {excerpt(address, 60)}: not a Dask scheduler address ({why}), e.g. "
                         "tcp://10.0.0.5:8786")
    return text  # as checked: ' tcp://h:1' passed the check and dask read the scheme ' tcp' (exit 70)


def scheduler_arg(text: str) -> str:
    """The argparse type of ``dcsim sweep --scheduler``: :func:`check_scheduler_address`, said as argparse says a bad
    argument (exit 2, naming the flag)."""
    import argparse

    try:
        return check_scheduler_address(text, "")
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).strip()) from None
