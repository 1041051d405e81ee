"""The facility: power-delivery chain + cooling plant + weather; PUE emerges (docs/facility.md).

Conventions (all powers in W, vectorized over ticks):
- Heat the plant must reject = IT + PDU loss + UPS loss (PDUs sit in the white space and UPS rooms
  are cooled by the same plant); transformer losses (outdoor/yard) and fixed loads (offices,
  lighting; separately conditioned) are not. The liquid share applies to IT heat only; PDU and
  UPS losses are air-side heat. CRAH fan heat is added to the chilled-water load.
- UPS carries IT + PDU loss; the transformer carries everything (IT, cooling, UPS and PDU
  losses, fixed loads); the interconnect cap applies at the meter (transformer input).
- breakdown(): facility = it + cooling + losses + fixed; cooling = sum of cooling_* parts;
  losses = loss_transformer + loss_ups + loss_pdu.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from dcsim.power.delivery import pdu_loss_w, transformer_loss_w, ups_loss_w
from dcsim.thermal import cooling as C
from dcsim.thermal.psychro import dew_point_from_wet_bulb_c, dry_bulb_on_wet_bulb_line_c
from dcsim.thermal.weather import Weather, build_weather

__all__ = ["Facility", "build_facility", "heat_rejection_kind", "COOLING_PARTS", "LOSS_PARTS", "liquid_dry_cooler_capacity_w",
           "liquid_trim_rated_w", "liquid_trim_capacity_w"]

COOLING_PARTS = ("cooling_chiller", "cooling_fans", "cooling_pumps", "cooling_tower")
LOSS_PARTS = ("loss_transformer", "loss_ups", "loss_pdu")

_TOWER_RATING_WB_C = 25.6    # 78 degF wet-bulb, CTI standard tower rating point (assumption)
_AIR_COOLED_RATING_DB_C = 35.0  # 95 degF ambient, AHRI 550/590 air-cooled rating (assumption)
# airside-economizer trim condenser fans: the ChillerPlantSpec dry-cooler defaults (assumption)
_TRIM_COND_AIR_DT_K, _TRIM_COND_FAN_PA, _TRIM_COND_FAN_EFF = 10.0, 150.0, 0.6


def _airside_outdoor(sp, t_db, t_wb):
    """Economizer operating point (see cooling.airside_economizer_state) from dry/wet-bulb."""
    t_dp = dew_point_from_wet_bulb_c(t_db, t_wb)
    floor = dry_bulb_on_wet_bulb_line_c(t_wb, sp.max_dew_point)
    return C.airside_economizer_state(t_db, t_wb, t_dp, floor, sp.supply_t, sp.air_delta_t, sp.max_dew_point,
                                      sp.adiabatic, sp.saturation_effectiveness)


def _airside_parts(sp, capacity_w, heat, t_db, t_wb):
    """Airside economizer + adiabatic assist + DX/chiller trim power parts [W] (pure)."""
    mech_frac, _t_best, evaporating, evap_dt = _airside_outdoor(sp, t_db, t_wb)
    fans = C.crah_fan_power_w(heat, capacity_w, sp.air_delta_t, sp.fan_pressure_pa, sp.fan_efficiency,
                              sp.fan_exponent, sp.fan_min_speed)
    load = heat + fans  # fan work ends up as heat in the supply air
    mech = load * mech_frac
    trim_cap = capacity_w * sp.trim_capacity_fraction
    l = np.clip(mech / trim_cap, 0.2, 0.8) if trim_cap > 0 else np.full_like(mech, 0.8)
    cop = C.chiller_cop(l, t_db + sp.trim_condenser_approach, sp.cop_adjust)
    chiller = mech / cop
    cond = C.dry_cooler_fan_power_w(mech + chiller, _TRIM_COND_AIR_DT_K, _TRIM_COND_FAN_PA, _TRIM_COND_FAN_EFF)
    pumps = sp.pad_pump_w_per_w * heat * evaporating
    m_air = load / (C.CP_AIR * sp.air_delta_t)
    return {"cooling_chiller": chiller, "cooling_fans": fans, "cooling_pumps": pumps, "cooling_tower": cond,
            "economizer_fraction": 1.0 - mech_frac, "water_kg_s": m_air * C.CP_AIR * evap_dt / C.H_FG_WATER}


def heat_rejection_kind(cs) -> str | None:
    """What the ``cooling_tower`` power part of a cooling spec holds (the key keeps its name for every plant):
    ``"cooling_tower"`` for a chiller plant with ``heat_rejection: cooling_tower`` (tower fans,
    :func:`dcsim.thermal.cooling.tower_fan_power_w`), ``"dry_cooler"`` for every other plant that rejects heat with
    fans (a chiller plant's dry coolers, the liquid loop's dry coolers and its air-cooled trim, the airside
    economizer's trim condenser, :func:`dcsim.thermal.cooling.dry_cooler_fan_power_w`), ``None`` for the
    quick-study modes (fixed_pue, pue_curve: no such part). report.json ``heat_rejection``; report.html names the
    energy row by it (the audit of 2026-12-05: an air-cooled plant's dry-cooler fans read "cooling tower")."""
    kind = getattr(cs, "kind", None)
    if kind == "chiller_plant":
        return cs.heat_rejection
    if kind in ("liquid", "airside_economizer"):
        return "dry_cooler"
    return None


def _rating_t(spec) -> float:
    if spec.rating_t_out is not None:
        return spec.rating_t_out
    return _TOWER_RATING_WB_C if spec.heat_rejection == "cooling_tower" else _AIR_COOLED_RATING_DB_C


def _lift_ratio(t_cond_c, t_evap_ref_c: float, t_evap_c: float):
    """COP multiplier for a chiller evaporating at t_evap instead of t_evap_ref, at the same
    condenser temperature: ratio of Carnot COPs T_e/(T_c − T_e) (lift floored at 5 K, ratio
    clipped to [1, 3]). Assumption: the [LEI] regression's lift dependence scales as Carnot."""
    te_ref, te = t_evap_ref_c + 273.15, t_evap_c + 273.15
    tc = np.asarray(t_cond_c, dtype=float) + 273.15
    ratio = (te / np.maximum(tc - te, 5.0)) / (te_ref / np.maximum(tc - te_ref, 5.0))
    return np.clip(ratio, 1.0, 3.0)


def _plant_parts(sp, unit_w, design_air_w, q_air, q_chw_direct, q_mech_extra, t_db, t_wb,
                 extra_evap_t_c: float | None = None):
    """Chilled-water plant power parts [W] (pure; see ChillerPlantSpec).

    q_air: air-side heat through CRAHs; q_chw_direct: heat put on chilled water without CRAH
    fans (liquid racks on a CDU); q_mech_extra: heat that bypasses the economizer and must go
    through the chillers (warm-loop overflow in liquid mode), evaporating at extra_evap_t_c."""
    fans = C.crah_fan_power_w(q_air, design_air_w, sp.air_delta_t, sp.fan_pressure_pa, sp.fan_efficiency,
                              sp.fan_exponent, sp.fan_min_speed)
    chw_load = q_air + fans + q_chw_direct
    tower = sp.heat_rejection == "cooling_tower"
    t_ref = t_wb if tower else t_db
    t_cond = t_ref + (sp.tower_approach if tower else sp.dry_cooler_approach)
    if sp.economizer:
        econ = C.economizer_fraction(t_cond + sp.hx_approach, sp.chw_supply_t, sp.chw_supply_t + sp.chw_delta_t)
    else:
        econ = np.zeros_like(t_cond)
    mech = chw_load * (1.0 - econ) + q_mech_extra
    # part load per staging unit (`Facility.chiller_unit_w`): continuous staging, clipped to the regression's
    # validity range [LEI] (assumption: units stage so each runs <= chiller_max_load, none below chiller_min_load)
    l = np.clip(mech / unit_w, sp.chiller_min_load, sp.chiller_max_load)
    cop = C.chiller_cop(l, t_cond, sp.cop_adjust)
    chiller = (mech - q_mech_extra) / cop
    if extra_evap_t_c is not None:
        chiller = chiller + q_mech_extra / (cop * _lift_ratio(t_cond, sp.chw_supply_t, extra_evap_t_c))
    else:
        chiller = chiller + q_mech_extra / cop
    rejected = chw_load + q_mech_extra + chiller
    pumps = (C.pump_power_w(chw_load + q_mech_extra, sp.chw_delta_t, sp.chw_pump_head_pa, sp.pump_efficiency)
             + C.pump_power_w(rejected, sp.cw_delta_t, sp.cw_pump_head_pa, sp.pump_efficiency))
    if tower:
        rej_fans = C.tower_fan_power_w(rejected, sp.cw_delta_t, sp.tower_lg_ratio, sp.tower_fan_pressure_pa,
                                       sp.tower_fan_efficiency)
    else:
        rej_fans = C.dry_cooler_fan_power_w(rejected, sp.dry_cooler_air_delta_t, sp.dry_cooler_fan_pressure_pa,
                                            sp.dry_cooler_fan_efficiency)
    return {"cooling_chiller": chiller, "cooling_fans": fans, "cooling_pumps": pumps, "cooling_tower": rej_fans,
            "economizer_fraction": econ, "chiller_load_w": mech}


def _liquid_free_fraction(cs, t_db):
    """Share [0–1] of the warm loop's heat its dry coolers reject at dry-bulb t_db: they cool the return
    (supply_t + delta_t) down to t_db + dry_cooler_approach at the loop's design flow ([LEI] economizer logic on
    the warm loop): 1 up to supply_t − approach (27 degC for W32), 0 from supply_t + delta_t − approach (37 degC)."""
    return C.economizer_fraction(np.asarray(t_db, dtype=float) + cs.dry_cooler_approach, cs.supply_t,
                                 cs.supply_t + cs.delta_t)


def liquid_dry_cooler_capacity_w(cs, capacity_w: float, t_db_c, free=None):
    """Heat [W] a liquid plant's warm-loop dry coolers can reject at dry-bulb t_db_c: their design size, the design
    liquid heat capacity·(1 − air_design_fraction) (assumption), times the free fraction, so the capacity falls to 0
    as the approach closes (t_db + approach reaches the loop return). Non-increasing in t_db. ``free``: the free
    fraction at t_db_c when the caller has it (`_liquid_free_fraction`)."""
    free = _liquid_free_fraction(cs, t_db_c) if free is None else free
    return capacity_w * (1.0 - cs.air_design_fraction) * free


def liquid_trim_rated_w(cs, capacity_w: float) -> float:
    """Rated capacity [W] of a liquid plant's trim chiller (at rating_t_out): air_side.capacity when given,
    else what the plant needs to reject `capacity` at rating_t_out with its dry coolers —
    capacity − dry-cooler capacity at rating_t_out (≥ capacity·air_design_fraction; assumption: the same rating
    basis as a chiller plant, whose `capacity` is its heat rejection at its rating temperature)."""
    if cs.air_side.capacity is not None:
        return float(cs.air_side.capacity)
    return float(capacity_w - liquid_dry_cooler_capacity_w(cs, capacity_w, cs.rating_t_out))


def liquid_trim_capacity_w(cs, capacity_w: float, t_db_c, rated_w: float | None = None):
    """Heat [W] a liquid plant's trim chiller can carry at dry-bulb t_db_c: its rated size (`liquid_trim_rated_w`)
    derated linearly above the liquid spec's rating_t_out by its derate_per_k (its condenser is air-cooled,
    dry-bulb; assumption as a chiller plant's). The liquid spec is the one description of the trim's rating:
    its air_side (`TrimChillerSpec`) refuses heat_rejection other than dry_cooler, rating_t_out and derate_per_k.
    No credit for its warm evaporator (assumption). ``rated_w``: the rated size when the caller holds it
    (`Facility.trim_capacity_w`)."""
    rated = liquid_trim_rated_w(cs, capacity_w) if rated_w is None else rated_w
    return rated * C.capacity_fraction(np.asarray(t_db_c, dtype=float), cs.rating_t_out, cs.derate_per_k)


def _liquid_capacity_w(cs, capacity_w: float, t_db, lf, no_load_w: float, per_it: float,
                       trim_rated_w: float | None = None):
    """Heat [W] a liquid plant can reject (pure; see heat_rejection_capacity_w): at most `capacity`, at most the dry
    coolers' + the trim's capacity, and no more total heat than leaves the trim a load it can carry.

    The trim's load is everything the dry coolers do not take, as the power model charges it (`_cooling_parts`):
    the air-side heat (the (1 − lf) share of IT, PDU and UPS losses) plus the warm loop's overflow (1 − free)·lf·IT
    (and, where free·lf·IT exceeds the dry coolers' size, the excess: held here by Q_dry + Q_trim).
    With heat H: trim_load(H) = H − free·lf·IT(H), IT(H) = max((H − no_load)/per_it, 0), increasing in H with slope
    1 − free·lf/per_it beyond the no-load heat; the largest H with trim_load(H) ≤ Q_trim is the limit. (Until
    2026-12-04 only the air-side heat was held to the trim, the dry coolers credited at their design size: a mixed
    air/liquid hall, lf 0.3 at 35 degC, reported 14 % more than the trim could carry.)"""
    t_db = np.asarray(t_db, dtype=float)
    lf = np.asarray(lf, dtype=float)
    free = _liquid_free_fraction(cs, t_db)
    q_trim = liquid_trim_capacity_w(cs, capacity_w, t_db, trim_rated_w)
    q = np.minimum(capacity_w, liquid_dry_cooler_capacity_w(cs, capacity_w, t_db, free) + q_trim)
    slope = 1.0 - free * lf / per_it  # d trim_load / d H beyond the no-load heat (> 0 unless free·lf = per_it = 1)
    ok = slope > 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        h_trim = np.where(q_trim <= no_load_w, q_trim,
                          np.where(ok, no_load_w + (q_trim - no_load_w) / np.where(ok, slope, 1.0), np.inf))
    return np.minimum(q, h_trim)


@dataclass(frozen=True)
class Facility:
    """Facility physics, vectorized over ticks. Build with :func:`build_facility`."""

    spec: Any
    weather: Weather
    interconnect_w: float
    transformer_rating_w: float
    ups_rating_w: float
    fixed_w: float
    capacity_w: float
    generator_w: float | None
    quick_study: bool

    # ------------------------------------------------------------------ limits
    @property
    def ups_it_limit_w(self) -> float:
        """Largest IT power the UPS rating allows (UPS output = IT·(1 + PDU loss fraction))."""
        return self.ups_rating_w / (1.0 + self.spec.power_chain.pdu_loss_fraction)

    @property
    def ups_it_cap_w(self) -> float:
        """IT power [W] the delivery chain holds the run to at its UPS: :attr:`ups_it_limit_w`, or ``inf`` for a
        quick-study plant (fixed PUE or a PUE curve), which models no delivery chain and reads no rating. The one
        rule :meth:`max_it_delivered_w`, preflight's UPS checks and the report's ``delivery_exceeded_s`` read."""
        return math.inf if self.quick_study else self.ups_it_limit_w

    @property
    def transformer_limit_w(self) -> float:
        """Largest facility power [W] the transformer may carry: ``power_chain.transformer_rating`` where the scenario
        gives it, else no limit (the rating then follows the interconnect and sets only the transformer's losses, so
        a ``peak_shave`` battery may run the site above its contract on stored energy, as ``dcsim plan --curtailment
        --storage`` assumes). Compared with the facility power including the transformer's own loss, as the meter
        cap is (conservative by that loss: the rating is on the transformer's output)."""
        tr = self.spec.power_chain.transformer_rating
        return math.inf if tr is None else float(tr)

    def delivery_budget_w(self, cap_w):
        """Facility power budget [W] the delivery chain holds under the budget ``cap_w`` (the meter cap plus what a
        battery lifts it by): ``cap_w`` at most the transformer's rating where given (:attr:`transformer_limit_w`:
        the transformer carries the whole site, IT, cooling, losses and fixed loads, battery-fed or not). A
        quick-study plant (fixed PUE or a PUE curve) models no delivery chain and reads no rating: ``cap_w`` as
        given. The one rule :meth:`max_it_delivered_w` and preflight's transformer check both read."""
        cap = np.asarray(cap_w, dtype=float)
        return cap if self.quick_study else np.minimum(cap, self.transformer_limit_w)

    def max_it_delivered_w(self, cap_w, liquid_fraction, t_db_c, t_wb_c):
        """Largest IT power [W] the delivery chain can carry under the facility budget ``cap_w`` (the meter cap plus
        what a battery lifts it by): what the budget allows (:meth:`max_it_power_w`) with the budget at most the
        transformer's rating where given (:meth:`delivery_budget_w`: the transformer carries the whole site,
        battery-fed or not), and at most what the UPS rating allows (:attr:`ups_it_limit_w`: its output is IT + PDU
        loss, and with 2N each system must carry it all). The UPS rating defaults to the interconnect, which the
        meter cap already holds below; a quick-study plant (fixed PUE or a PUE curve) models no delivery chain and
        reads no rating. Until 2026-12-05 a given transformer rating limited only a battery's lift: reference.yaml
        with ``transformer_rating: 400 kW`` and no battery ran at 495.0 kW."""
        it = np.asarray(self.max_it_power_w(self.delivery_budget_w(cap_w), liquid_fraction, t_db_c, t_wb_c),
                        dtype=float)
        return np.minimum(it, self.ups_it_cap_w)

    def heat_rejection_capacity_w(self, t_db_c, t_wb_c, liquid_fraction=0.0):
        """Heat [W] the plant can reject now; non-increasing in outdoor temperature.

        Chiller plant: capacity derated above its rating temperature. Liquid plant: its warm-loop dry coolers
        (`liquid_dry_cooler_capacity_w`, 0 once the approach closes) plus its trim chiller (`liquid_trim_capacity_w`,
        derated above rating_t_out), at most `capacity`, with the trim's load (air-side heat plus the warm loop's
        overflow, at `liquid_fraction`) within the trim.
        Airside economizer: outdoor air's share plus the derated trim."""
        t_db = np.asarray(t_db_c, dtype=float)
        t_wb = np.asarray(t_wb_c, dtype=float)
        shape = np.broadcast_shapes(t_db.shape, t_wb.shape, np.shape(liquid_fraction))
        cs = self.spec.cooling
        if cs.kind == "chiller_plant":
            t_ref = t_wb if cs.heat_rejection == "cooling_tower" else t_db
            frac = C.capacity_fraction(t_ref, _rating_t(cs), cs.derate_per_k)
        elif cs.kind == "liquid":
            q = _liquid_capacity_w(cs, self.capacity_w, t_db, np.broadcast_to(liquid_fraction, shape),
                                   self._heat_no_load_w(), self._heat_per_it(), self.trim_capacity_w)
            return np.broadcast_to(q, shape).astype(float)
        elif cs.kind == "airside_economizer":
            # outdoor air at its best supply temperature carries clip((T_ra − T_best)/ΔT, 0, 1) of
            # the fan-limited capacity; the trim adds its (derated) share, up to the capacity
            mech_frac, _tb, _ev, _dt = _airside_outdoor(cs, t_db, t_wb)
            trim = cs.trim_capacity_fraction * C.capacity_fraction(t_db, cs.rating_t_out, cs.derate_per_k)
            frac = np.minimum(1.0 - mech_frac + trim, 1.0)
        else:
            frac = np.ones(shape)
        return np.broadcast_to(self.capacity_w * frac, shape).astype(float)

    # ------------------------------------------------------------------ power
    def _cooling_parts(self, it, heat, lf, t_db, t_wb):
        cs = self.spec.cooling
        z = np.zeros_like(it)
        if cs.kind == "chiller_plant":
            q_liq = lf * it
            return _plant_parts(cs, self.chiller_unit_w, self.capacity_w, heat - q_liq, q_liq, z, t_db, t_wb)
        if cs.kind == "airside_economizer":
            return _airside_parts(cs, self.capacity_w, heat, t_db, t_wb)
        if cs.kind == "liquid":
            q_liq = lf * it
            q_air = heat - q_liq
            # the dry coolers take the free share of the loop's heat up to their capacity, free·min(lf·IT, size)
            # (liquid_dry_cooler_capacity_w = free·size); the trim the rest (the split the capacity holds, _liquid_capacity_w: a
            # loop above the dry coolers' size overflows to the trim)
            free = _liquid_free_fraction(cs, t_db)
            free_heat = np.minimum(free * q_liq, liquid_dry_cooler_capacity_w(cs, self.capacity_w, t_db, free))
            overflow = q_liq - free_heat
            # the trim's part load is read per staging unit (chiller_unit_w: the default unit is min(capacity x
            # air_design_fraction, trim size); above that the trim's size, trim_capacity_w, sets its capacity only);
            # its CRAH fans are sized on the design air-side heat capacity·air_design_fraction
            parts = _plant_parts(cs.air_side, self.chiller_unit_w,
                                 self.capacity_w * cs.air_design_fraction, q_air, z, overflow,
                                 t_db, t_wb, extra_evap_t_c=cs.supply_t)
            parts["cooling_pumps"] = parts["cooling_pumps"] + C.pump_power_w(
                q_liq, cs.delta_t, cs.pump_head_pa, cs.pump_efficiency)
            parts["cooling_tower"] = parts["cooling_tower"] + C.dry_cooler_fan_power_w(
                free_heat, cs.dry_cooler_air_delta_t, cs.dry_cooler_fan_pressure_pa, cs.dry_cooler_fan_efficiency)
            parts["liquid_free_fraction"] = free
            return parts
        # quick-study modes: overhead reported as chiller power
        if cs.kind == "fixed_pue":
            pue = np.full_like(it, cs.pue)
        else:
            design = cs.design_it if cs.design_it is not None else self.interconnect_w / float(
                np.interp(1.0, cs.load, cs.pue))
            pue = np.interp(it / design, cs.load, cs.pue) + cs.per_k * (t_db - cs.t_ref)
            pue = np.maximum(pue, 1.0)
        return {"cooling_chiller": (pue - 1.0) * it, "cooling_fans": z, "cooling_pumps": z, "cooling_tower": z}

    def breakdown(self, it_power_w, liquid_fraction, t_db_c, t_wb_c, plant_heat_w=None) -> dict[str, np.ndarray]:
        """Facility power split [W]: keys it, cooling, losses, fixed, facility and the parts
        cooling_chiller/fans/pumps/tower, loss_transformer/ups/pdu, plus heat_w (heat to reject)
        and economizer_fraction (chilled-water plants, airside economizer) and water_kg_s
        (water evaporated by the airside economizer's adiabatic pads). facility = it + cooling + losses + fixed.

        ``plant_heat_w`` (thermal dynamics, docs/thermal-dynamics.md): the heat the plant moved this tick when it
        is not the heat made (a tripped plant moves none; a restarted one works off the stored heat). The plant's
        parts (chillers, pumps, heat rejection) then follow the heat moved; the CRAH fans of a chilled-water or
        liquid plant keep moving the room's air (they follow the heat made). None: the plant moves the heat made."""
        it, lf, t_db, t_wb = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in
                                                   (it_power_w, liquid_fraction, t_db_c, t_wb_c)))
        it = np.maximum(it, 0.0)
        pc = self.spec.power_chain
        z = np.zeros_like(it)
        if self.quick_study:
            loss_pdu = loss_ups = loss_tr = z
            fixed = z
        else:
            loss_pdu = pdu_loss_w(it, pc.pdu_loss_fraction)
            loss_ups = ups_loss_w(it + loss_pdu, self.ups_rating_w, pc.ups_l0, pc.ups_l1, pc.ups_redundancy)
            fixed = np.full_like(it, self.fixed_w)
        heat = it + loss_pdu + loss_ups
        parts = self._cooling_parts(it, heat, lf, t_db, t_wb)
        if plant_heat_w is not None:  # the plant's parts as it moves that heat (of the IT whose heat it is)
            moved = np.maximum(np.broadcast_to(np.asarray(plant_heat_w, dtype=float), heat.shape), 0.0)
            plant = self._cooling_parts(self.it_for_heat_w(moved), moved, lf, t_db, t_wb)
            keep = ("cooling_fans",) if self.spec.cooling.kind in ("chiller_plant", "liquid") else ()
            parts = {**parts, **{k: plant[k] for k in COOLING_PARTS if k not in keep}}
        cooling = parts["cooling_chiller"] + parts["cooling_fans"] + parts["cooling_pumps"] + parts["cooling_tower"]
        if not self.quick_study:
            loss_tr = transformer_loss_w(it + cooling + loss_ups + loss_pdu + fixed, self.transformer_rating_w,
                                         pc.transformer_no_load, pc.transformer_proportional, pc.transformer_square)
        losses = loss_tr + loss_ups + loss_pdu
        out = {
            "it": it, "cooling": cooling, "losses": losses, "fixed": fixed,
            "facility": it + cooling + losses + fixed,
            "loss_transformer": loss_tr, "loss_ups": loss_ups, "loss_pdu": loss_pdu, "heat_w": heat,
        }
        for k in COOLING_PARTS:
            out[k] = np.broadcast_to(parts[k], it.shape).astype(float)
        for k in ("economizer_fraction", "liquid_free_fraction", "water_kg_s"):
            if k in parts:
                out[k] = np.broadcast_to(parts[k], it.shape).astype(float)
        return out

    def facility_power_w(self, it_power_w, liquid_fraction, t_db_c, t_wb_c):
        """Power at the meter [W]."""
        return self.breakdown(it_power_w, liquid_fraction, t_db_c, t_wb_c)["facility"]

    def pue(self, it_power_w, liquid_fraction, t_db_c, t_wb_c):
        """PUE = facility / IT (NaN where IT = 0)."""
        b = self.breakdown(it_power_w, liquid_fraction, t_db_c, t_wb_c)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(b["it"] > 0, b["facility"] / np.where(b["it"] > 0, b["it"], 1.0), np.nan)

    def heat_to_reject_w(self, it_power_w):
        """Heat [W] the plant must reject for a given IT power (IT + PDU + UPS losses)."""
        it = np.maximum(np.asarray(it_power_w, dtype=float), 0.0)
        if self.quick_study:
            return it
        pc = self.spec.power_chain
        pdu = pdu_loss_w(it, pc.pdu_loss_fraction)
        return it + pdu + ups_loss_w(it + pdu, self.ups_rating_w, pc.ups_l0, pc.ups_l1, pc.ups_redundancy)

    def max_it_for_cooling_w(self, t_db_c, t_wb_c, liquid_fraction=0.0, capacity_factor=1.0):
        """Largest IT power [W] whose heat (IT + PDU + UPS losses) fits the heat-rejection
        capacity now: the exact inverse of `heat_to_reject_w` (linear). Use this, not the raw
        capacity, when comparing the plant with an IT power. ``capacity_factor`` (dimensionless,
        broadcasts) scales the capacity before the inversion (a partial cooling failure): the
        no-load UPS heat does not scale with it."""
        q = self.heat_rejection_capacity_w(t_db_c, t_wb_c, liquid_fraction) * np.asarray(capacity_factor, dtype=float)
        return self.it_for_heat_w(q)

    def _heat_no_load_w(self) -> float:
        """Heat [W] at zero IT: the UPS no-load loss (0 in quick-study modes)."""
        if self.quick_study:
            return 0.0
        pc = self.spec.power_chain
        return pc.ups_l0 * pc.ups_redundancy * self.ups_rating_w

    def _heat_per_it(self) -> float:
        """Heat per W of IT beyond the no-load heat (PDU and proportional UPS losses; 1 in quick-study modes)."""
        if self.quick_study:
            return 1.0
        pc = self.spec.power_chain
        return (1.0 + pc.pdu_loss_fraction) * (1.0 + pc.ups_l1)

    @cached_property
    def trim_capacity_w(self) -> float | None:
        """Rated capacity [W] of a liquid plant's trim chiller (None for other plants): see `liquid_trim_rated_w`.
        Worked out once (the plant's limit reads it on every call of `heat_rejection_capacity_w`)."""
        cs = self.spec.cooling
        return liquid_trim_rated_w(cs, self.capacity_w) if cs.kind == "liquid" else None

    @cached_property
    def chiller_unit_w(self) -> float | None:
        """Staging unit [W] of a chilled-water plant's chillers (None for other plants): the heat one unit is rated
        for; the COP regression's part load is the chillers' load over it, clipped to [chiller_min_load,
        chiller_max_load] (continuous staging: units stage so each runs at most chiller_max_load; assumption).
        A chiller plant: its `chiller_unit`, default its `capacity` (one unit, no staging below the floor).
        A liquid plant's trim: air_side.chiller_unit, default min(capacity·air_design_fraction, the trim's rated size
        `trim_capacity_w`); above that the trim's size (default or air_side.capacity) sets its capacity only, not its
        COP, and one unit is never larger than the whole trim (a 50 kW trim on a 1.04 MW plant is staged in 50 kW,
        not 156 kW, units; assumption). A given unit larger than the trim (or than a chiller plant's capacity) is
        taken as given and warned by preflight."""
        cs = self.spec.cooling
        if cs.kind == "chiller_plant":
            return float(cs.chiller_unit) if cs.chiller_unit is not None else self.capacity_w
        if cs.kind == "liquid":
            unit = cs.air_side.chiller_unit
            if unit is not None:
                return float(unit)
            return min(self.capacity_w * cs.air_design_fraction, self.trim_capacity_w)
        return None

    def chiller_load_w(self, it_power_w, liquid_fraction, t_db_c, t_wb_c):
        """Heat [W] a chilled-water or liquid plant's chillers carry (after the economizer or the warm loop's dry
        coolers); None for other plants. Its ratio to `chiller_unit_w` is the COP regression's part load before
        clipping."""
        if self.chiller_unit_w is None:
            return None
        it, lf, t_db, t_wb = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in
                                                   (it_power_w, liquid_fraction, t_db_c, t_wb_c)))
        it = np.maximum(it, 0.0)
        return self._cooling_parts(it, self.heat_to_reject_w(it), lf, t_db, t_wb)["chiller_load_w"]

    def it_for_heat_w(self, heat_w):
        """IT power [W] whose heat (IT + PDU + UPS losses) is ``heat_w``: the exact inverse of `heat_to_reject_w`
        (linear), 0 below the UPS no-load heat."""
        q = np.asarray(heat_w, dtype=float)
        if self.quick_study:
            return q
        return np.maximum((q - self._heat_no_load_w()) / self._heat_per_it(), 0.0)

    def max_it_power_w(self, cap_w, liquid_fraction, t_db_c, t_wb_c, rtol: float = 1e-12):
        """Largest IT power [W] whose facility power fits cap_w (vectorized Illinois regula falsi
        on [0, cap], facility power being continuous, increasing and ≥ IT). 0 where even zero IT
        exceeds the cap (fixed loads alone); inf where cap is inf."""
        cap, lf, t_db, t_wb = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in
                                                    (cap_w, liquid_fraction, t_db_c, t_wb_c)))
        cap_in = cap
        cap = np.where(np.isfinite(cap), cap, np.nan)

        def g(x):
            return self.breakdown(x, lf, t_db, t_wb)["facility"] - cap

        lo = np.zeros_like(cap)
        hi = np.where(np.isnan(cap), 0.0, np.maximum(cap, 0.0))
        f_lo = g(lo)
        f_hi = g(hi)
        g_lo = f_lo.copy()  # true residual at lo (f_lo may be Illinois-scaled)
        infeasible = f_lo > 0
        side = np.zeros(cap.shape, dtype=int)
        for _ in range(200):
            done = infeasible | np.isnan(cap) | (g_lo >= -rtol * np.abs(cap)) | (hi - lo <= rtol * hi)
            if np.all(done):
                break
            denom = f_hi - f_lo
            x = np.where(denom > 0, lo - f_lo * (hi - lo) / np.where(denom > 0, denom, 1.0), 0.5 * (lo + hi))
            x = np.where((x <= lo) | (x >= hi) | ~np.isfinite(x), 0.5 * (lo + hi), x)
            gx = g(x)
            upd = ~done
            left = upd & (gx <= 0)   # feasible: x becomes the new lo
            right = upd & ~(gx <= 0)
            # Illinois modification: halve the stale end's residual when the same end moves twice
            f_hi = np.where(left & (side == 1), 0.5 * f_hi, f_hi)
            f_lo = np.where(right & (side == -1), 0.5 * f_lo, f_lo)
            lo = np.where(left, x, lo)
            f_lo = np.where(left, gx, f_lo)
            g_lo = np.where(left, gx, g_lo)
            hi = np.where(right, x, hi)
            f_hi = np.where(right, gx, f_hi)
            side = np.where(left, 1, np.where(right, -1, side))
        res = np.where(infeasible | np.isnan(cap), 0.0, lo)
        res = np.where(np.isposinf(cap_in), np.inf, res)  # no cap: unlimited IT
        return res if res.ndim else float(res)


def build_facility(spec, base_dir: Path | None = None, seed_seq=None, clock_s: float | None = None) -> Facility:
    """Build the facility from a FacilitySpec; `seed_seq` (numpy SeedSequence) seeds the
    optional synthetic-weather noise (everything else is deterministic); `clock_s` places t = 0
    in the year (seconds from 1 January 00:00, see `build_weather`)."""
    pc = spec.power_chain
    inter = float(spec.interconnect)
    cs = spec.cooling
    quick = cs.kind in ("fixed_pue", "pue_curve")
    if cs.capacity is not None:
        capacity = float(cs.capacity)
    else:
        capacity = math.inf if quick else inter
    return Facility(
        spec=spec,
        weather=build_weather(spec.weather, base_dir, seed_seq, clock_s),
        interconnect_w=inter,
        transformer_rating_w=float(pc.transformer_rating or inter),
        ups_rating_w=float(pc.ups_rating or inter),
        fixed_w=pc.fixed_load_w(inter),  # FIXED_LOAD_FRACTION of the interconnect unless given
        capacity_w=capacity,
        generator_w=None if pc.generator is None else float(pc.generator),
        quick_study=quick,
    )
