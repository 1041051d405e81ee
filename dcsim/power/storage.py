"""On-site energy storage: a battery (or UPS battery) with capacity, charge/discharge power limits,
round-trip efficiency and state-of-charge limits, and its dispatch at the utility meter
(docs/grid.md §Storage).

Sign convention: battery power ``p > 0`` discharges into the site (the meter sees load − p),
``p < 0`` charges from the grid. Losses are split evenly, η_c = η_d = √RTE [ATB 2020: RTE 85 %]:
charging at c W for dt stores c·η_c·dt J; discharging p W for dt takes p·dt/η_d J. So over any
run Σ c·η_c·dt − Σ p·dt/η_d = E_end − E_start exactly (tested), and a full cycle returns
RTE × the energy put in.

Wiring (phase 2): once per tick, after the controller has the site's wanted meter power
(facility power of the tick's IT) and the cap in force (interconnect, curtailment, outage), call
:func:`battery_dispatch_step`; its ``unmet_w`` is what the controller must still take off
the meter by capping IT, as today.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["BatteryParams", "battery_params", "equivalent_full_cycles", "battery_step", "battery_dispatch_step", "dispatch",
           "ride_through_s"]


@dataclass(frozen=True)
class BatteryParams:
    """Resolved SI parameters of :class:`~dcsim.scenario.facility.BatteryStorageSpec`."""

    energy_j: float
    e_min_j: float
    e_max_j: float
    e0_j: float
    p_charge_max_w: float
    p_discharge_max_w: float
    eta_charge: float
    eta_discharge: float
    dispatch: str
    location: str
    shave_to_w: float
    recharge_price_max: float


def battery_params(spec) -> BatteryParams:
    """Resolve a BatteryStorageSpec (SoC limits → energy limits; RTE split evenly)."""
    e = float(spec.energy)
    eta = math.sqrt(spec.round_trip_efficiency)
    return BatteryParams(
        energy_j=e, e_min_j=spec.soc_min * e, e_max_j=spec.soc_max * e, e0_j=spec.soc_initial * e,
        p_charge_max_w=float(spec.max_charge), p_discharge_max_w=float(spec.max_discharge),
        eta_charge=eta, eta_discharge=eta, dispatch=spec.dispatch, location=spec.location,
        shave_to_w=math.inf if spec.shave_to is None else float(spec.shave_to),
        recharge_price_max=math.inf if spec.recharge_only_below_price is None else float(spec.recharge_only_below_price))


def battery_step(p: BatteryParams, e_j: float, want_w: float, dt_s: float) -> tuple[float, float]:
    """Deliver as much of `want_w` (+ discharge, − charge, at the AC side) as the power limits and
    the state-of-charge window allow over dt_s. Returns (battery power W, new stored energy J)."""
    if want_w > 0:
        pw = min(want_w, p.p_discharge_max_w, max(e_j - p.e_min_j, 0.0) * p.eta_discharge / dt_s)
        return pw, e_j - pw * dt_s / p.eta_discharge
    if want_w < 0:
        c = min(-want_w, p.p_charge_max_w, max(p.e_max_j - e_j, 0.0) / (p.eta_charge * dt_s))
        return -c, e_j + c * p.eta_charge * dt_s
    return 0.0, e_j


def battery_dispatch_step(p: BatteryParams, e_j: float, load_w: float, cap_w: float, contract_w: float,
                          dt_s: float, price: float = 0.0, precharge: bool = False) -> tuple[float, float]:
    """One tick of the dispatch rule. Returns (battery power W, new stored energy J).

    * An **event** is a cap below the contract (curtailment, or an outage with cap 0 or the
      generator's limit): the battery covers load − cap (both dispatch modes; a UPS battery
      only here).
    * **peak_shave** / **both**: outside events it also holds the meter at ``shave_to``.
    * Otherwise it recharges from the headroom under min(cap, shave_to), in hours priced at or
      below ``recharge_only_below_price`` — or at once, whatever the price, during the notice
      window before an event (`precharge`)."""
    event = cap_w < contract_w
    target = cap_w if (event or p.dispatch == "events") else min(cap_w, p.shave_to_w)
    if p.location == "ups" and not event:
        target = math.inf
    excess = load_w - target
    if excess > 0:
        return battery_step(p, e_j, excess, dt_s)
    if event:
        return 0.0, e_j  # never charge during an event
    headroom = min(cap_w, p.shave_to_w) - load_w
    if headroom > 0 and (precharge or price <= p.recharge_price_max):
        return battery_step(p, e_j, -headroom, dt_s)
    return 0.0, e_j


def dispatch(p: BatteryParams, load_w, cap_w, contract_w: float, dt_s: float, price=None,
             precharge=None) -> dict[str, np.ndarray]:
    """Run :func:`battery_dispatch_step` over the ticks of `load_w` (meter power the site wants,
    W) under `cap_w` (W per tick or scalar). Returns per-tick arrays: ``battery_w`` (+
    discharge), ``grid_w`` (meter = load − battery), ``energy_j`` and ``soc`` (end of tick; soc
    = energy / nameplate), ``unmet_w`` (max(grid − cap, 0): what IT capping must still take
    off), ``charge_w``, ``discharge_w``."""
    load = np.asarray(load_w, dtype=float)
    cap = np.broadcast_to(np.asarray(cap_w, dtype=float), load.shape)
    pr = np.zeros(load.shape) if price is None else np.broadcast_to(np.asarray(price, dtype=float), load.shape)
    pc = np.zeros(load.shape, dtype=bool) if precharge is None else np.broadcast_to(np.asarray(precharge, bool), load.shape)
    n = load.size
    batt = np.zeros(n)
    energy = np.zeros(n)
    e = p.e0_j
    for i in range(n):
        batt[i], e = battery_dispatch_step(p, e, float(load[i]), float(cap[i]), contract_w, dt_s,
                                           float(pr[i]), bool(pc[i]))
        energy[i] = e
    grid = load - batt
    return {"battery_w": batt, "grid_w": grid, "energy_j": energy, "soc": energy / p.energy_j,
            "unmet_w": np.maximum(grid - cap, 0.0), "charge_w": np.maximum(-batt, 0.0),
            "discharge_w": np.maximum(batt, 0.0)}


def ride_through_s(p: BatteryParams, e_j: float, shortfall_w: float) -> float:
    """How long [s] the battery can cover a constant shortfall (0 if the shortfall exceeds its
    discharge power; inf for no shortfall): (E − E_min)·η_d / shortfall."""
    if shortfall_w <= 0:
        return math.inf
    if shortfall_w > p.p_discharge_max_w:
        return 0.0
    return max(e_j - p.e_min_j, 0.0) * p.eta_discharge / shortfall_w


def equivalent_full_cycles(p: BatteryParams, discharged_terminal_j: float) -> float:
    """Equivalent full cycles of battery ``p``: the energy taken from the cell, its terminal discharge
    ``discharged_terminal_j`` (J) over the discharge efficiency, over its usable range ``e_max_j - e_min_j`` (J), so
    one whole discharge of the usable range is 1.0: the state-of-charge swing that cycle counting on the state of
    charge reads (a definition, not a measurement; the battery's wear model is not simulated). Until 2026-12-05 the
    terminal energy was counted, so one whole discharge read eta_discharge (0.922 = sqrt(0.85) on grid-flex)."""
    return discharged_terminal_j / p.eta_discharge / max(p.e_max_j - p.e_min_j, 1e-300)
