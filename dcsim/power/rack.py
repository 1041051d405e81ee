"""Rack limits: power after continuous-load derating, cooling limit by type, heat split.

Powers in W. Sources: NEC (NFPA 70) 210.20(A) — breakers sized at 125 % of continuous load, i.e.
continuous load ≤ 80 % of rating; air-cooled rack ceiling ~25–30 kW [FLASH]; direct liquid
50–120+ kW/rack and 85–95 % liquid capture [DLC] (CALIBRATION C4); rear-door limit: assumption.
The default numbers live once, with these sources, in :mod:`dcsim.scenario.facility`.
"""

from __future__ import annotations

import math

import numpy as np

from dcsim.scenario.facility import RACK_COOLING_LIMIT_W, RACK_DERATE, RACK_LIQUID_FRACTION

__all__ = ["DEFAULT_RACK_COOLING_LIMIT_W", "rack_power_limit_w", "rack_node_power_budget_w",
           "rack_cooling_limit_w", "rack_liquid_fraction", "split_rack_heat"]

#: rack heat limits by cooling type (W): defined once, with sources, in dcsim.scenario.facility
DEFAULT_RACK_COOLING_LIMIT_W = RACK_COOLING_LIMIT_W


def rack_power_limit_w(power_limit_w: float | None, derate: float = RACK_DERATE) -> float:
    """Usable continuous rack power [W] = rating × derate (NEC 80 % rule); inf if unlimited."""
    if power_limit_w is None:
        return math.inf
    return float(power_limit_w) * float(derate)


def rack_node_power_budget_w(power_limit_w: float | None, derate: float = RACK_DERATE, overhead_w: float = 0.0) -> float:
    """Power [W] left for the nodes of a rack after derating and overhead (switches); ≥ 0."""
    return max(rack_power_limit_w(power_limit_w, derate) - float(overhead_w), 0.0)


def rack_cooling_limit_w(kind: str, limit_w: float | None = None) -> float:
    """Heat [W] a rack can shed by cooling type; `limit_w` overrides the per-type default."""
    if kind not in DEFAULT_RACK_COOLING_LIMIT_W:
        raise ValueError(f"unknown rack cooling kind {kind!r}")
    return float(limit_w) if limit_w is not None else DEFAULT_RACK_COOLING_LIMIT_W[kind]


def rack_liquid_fraction(kind: str, liquid_fraction: float = RACK_LIQUID_FRACTION) -> float:
    """Share of rack heat that goes to a liquid loop: `liquid_fraction` for liquid racks, else 0.

    Rear-door heat exchangers move heat into chilled water at the rack, but the air is still
    driven by server fans and the water is chilled-water temperature: the plant treats it as
    air-side (chilled-water) heat."""
    return float(liquid_fraction) if kind == "liquid" else 0.0


def split_rack_heat(heat_w, kind: str, liquid_fraction: float = RACK_LIQUID_FRACTION):
    """Split rack heat [W] into (to_liquid_w, to_air_w); every watt of rack power becomes heat."""
    q = np.asarray(heat_w, dtype=float)
    f = rack_liquid_fraction(kind, liquid_fraction)
    return f * q, (1.0 - f) * q
