"""Dotted paths into a scenario, read in one place: ``--set``, :func:`dcsim.scenario.apply_overrides`, sweep
parameters and ``fixed:``, the planner's and the phase diagram's probes.

``racks.0.count`` and ``racks[0].count`` (how error messages name a list item) are one path. A list index is a whole
number from 0 (``racks.-1.count`` set the last group, Python's way, and a sweep could not see that it was
``racks.0.count`` of a one-group fleet); an empty key (``racks..count``) is refused. Under a free section (``expect:``,
whose keys are themselves dotted report paths) the rest of the path is one key:
``expect.binding.share.power=[0.1, 0.5]`` sets the claim ``binding.share.power``.

:data:`PARAM_NAMES` gives common paths a readable name for figures (the sweep's and the phase diagram's).
"""

from __future__ import annotations

import re
from typing import Any

from dcsim.units import excerpt

__all__ = ["split_path", "ratio_parts", "index_key", "set_path", "FREE_SECTIONS", "PARAM_NAMES", "param_name"]

#: top-level keys whose mapping is free (dotted paths to bounds), not a section of fields: the rest of a path under
#: them is one key, and a mapping set on them replaces it (``--set expect={pue: [1, 3]}`` checks that claim alone)
FREE_SECTIONS = ("expect",)

_BRACKET = re.compile(r"\[([^\]]*)\]")
#: an ``expect:`` ratio claim's key: two dotted report paths joined by a slash (spaces around it optional)
_RATIO = re.compile(r"\s*/\s*")


def ratio_parts(key: str) -> tuple[str, str] | None:
    """``(numerator path, denominator path)`` of an ``expect:`` ratio claim's key (``a.b / c.d``: the ratio of two
    report figures is bounded), None for a plain path (:mod:`dcsim.metrics.expect`)."""
    parts = _RATIO.split(key)
    return (parts[0], parts[1]) if len(parts) == 2 else None


def split_path(path: str) -> tuple[str, ...]:
    """The keys of a dotted path: ``"racks[0].count"`` and ``"racks.0.count"`` → ``("racks", "0", "count")``;
    under a free section (:data:`FREE_SECTIONS`) the rest is one key (``("expect", "binding.share.power")``).
    :class:`ValueError` for an empty path or an empty key (``racks..count``, a trailing dot)."""
    if not isinstance(path, str):
        raise ValueError(f"a path is a string such as racks.0.count, got {excerpt(path, 40)}")
    if not path.strip():
        raise ValueError("empty path (expected a dotted path such as racks.0.count)")
    keys = _BRACKET.sub(r".\1", path.strip()).split(".")
    if keys[0] in FREE_SECTIONS and len(keys) > 2:
        keys = [keys[0], ".".join(keys[1:])]
    if any(k == "" for k in keys):
        raise ValueError(f"{excerpt(path, 80, quote=False)}: an empty key (two dots, or a dot at an end)")
    return tuple(keys)


def index_key(path: str) -> str:
    """``path`` with its list indices as ``#`` (``racks[1].count`` → ``racks.#.count``): the key of
    :data:`PARAM_NAMES`. A path that does not split is returned as given."""
    try:
        keys = split_path(path)
    except ValueError:
        return path
    return ".".join("#" if k.isdigit() else k for k in keys)


def _index(cur: list, key: str, where: str) -> int:
    n = len(cur)
    span = f"0 … {n - 1}" if n else "none: the list is empty"
    if not (key.isascii() and key.isdigit()):
        raise ValueError(f"{where} is a list: {excerpt(key, 20)} is not an index of it (a whole number, {span})")
    if len(key) > 1 and key[0] == "0":  # "00" would be a second spelling of 0 that the overlap check cannot see
        raise ValueError(f"{where} is a list: index {excerpt(key, 20)} has a leading zero (write {int(key)})")
    i = int(key)
    if i >= n:
        raise ValueError(f"{where} has {n} item{'s' if n != 1 else ''}: index {i} is past its end ({span})")
    return i


def set_path(d: dict, path: str, value: Any) -> None:
    """Set ``path`` (:func:`split_path`) of the raw scenario ``d`` to ``value``, in place: missing (or null) sections
    on the way are made; a mapping set on a mapping merges into it unless it names another ``kind``
    (:func:`merged`); under a free section it replaces. :class:`ValueError` saying where the path leaves the
    scenario (an index past a list's end, a key under a value that is not a section)."""
    keys = split_path(path)
    cur: Any = d
    for depth, k in enumerate(keys[:-1]):
        where = ".".join(keys[:depth]) or "the scenario"
        if isinstance(cur, list):
            cur = cur[_index(cur, k, where)]
            continue
        if not isinstance(cur, dict):
            raise ValueError(f"{where} is {excerpt(cur, 40)}, not a section with keys: set {where} itself")
        if k not in cur or cur[k] is None:
            cur[k] = {}
        cur = cur[k]
    last, where = keys[-1], ".".join(keys[:-1]) or "the scenario"
    if isinstance(cur, list):
        i = _index(cur, last, where)
        cur[i] = merged(cur[i], value)
    elif not isinstance(cur, dict):
        raise ValueError(f"{where} is {excerpt(cur, 40)}, not a section with keys: set {where} itself")
    elif keys[0] in FREE_SECTIONS:  # a free mapping (the claims of expect:), not a section: set as given
        cur[last] = value
    else:
        cur[last] = merged(cur.get(last), value)


def merged(old: Any, new: Any) -> Any:
    """A mapping set on a mapping merges into it, key by key (recursively), unless it names another ``kind`` (then it
    replaces it: ``facility.weather: {kind: epw, path: ...}`` is a new weather source). Anything else replaces.
    Until 2026-12-04 a mapping always replaced: ``{"facility": {"interconnect": "600 kW"}}`` dropped the scenario's
    395 kW dry-cooler plant and hot-dry weather for the defaults, silently (the audit of the API, finding 1)."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return new
    if "kind" in new and new["kind"] != old.get("kind"):
        return new
    out = dict(old)
    for k, v in new.items():
        out[k] = merged(old.get(k), v)
    return out


#: Readable names of common swept fields and phase-diagram axes (dotted path, list indices as ``#``); any other field
#: is named by its last key (:func:`param_name`). The sweep's figure adds a rack group's own name: ``racks (hall-a)``.
PARAM_NAMES: dict[str, str] = {
    "facility.interconnect": "interconnect",
    "facility.cooling.capacity": "cooling capacity",
    "facility.weather.t_db": "outdoor dry-bulb",
    "facility.weather.mean_t": "mean outdoor dry-bulb",
    "facility.weather.diurnal_amplitude": "daily temperature swing",
    "facility.weather.rh": "relative humidity",
    "facility.power_chain.fixed_load": "fixed load",
    "racks.#.count": "racks",
    "racks.#.nodes_per_rack": "nodes per rack",
    "racks.#.node.gpu": "GPU",
    "racks.#.node.model": "model",
    "racks.#.node.precision": "precision",
    "racks.#.node.max_batch": "max batch",
    "racks.#.node.power_cap": "GPU power cap",
    "workload.arrivals.scale": "demand scale (× the scenario's)",
    "workload.arrivals.rate": "arrival rate",
    "controller.tick": "controller tick",
    # the phase diagram's axes that are not scenario fields (dcsim.phase)
    "t_out_c": "outdoor dry-bulb",
    "gpus": "GPUs",
    "demand": "demand",
}


def param_name(path: str) -> str:
    """The readable name of a dotted path (:data:`PARAM_NAMES`), else its last key with spaces."""
    name = PARAM_NAMES.get(index_key(path))
    if name:
        return name
    try:
        return split_path(path)[-1].replace("_", " ")
    except ValueError:
        return path
