"""Facility specs: utility interconnect, power-delivery chain, cooling plant, weather, racks.

Pure data (pydantic v2, frozen, ``extra='forbid'``); the physics lives in
:mod:`dcsim.power` and :mod:`dcsim.thermal`. Every default carries its source tag
(see ``CALIBRATION.md`` §F) or is marked ``assumption``. Equations and examples:
``docs/facility.md``.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from dcsim.scenario.base import FieldError, FilePath, Spec
from dcsim.units import TEMPERATURE_RANGE_C, quantity

__all__ = [
    "PowerChainSpec",
    "ChillerPlantSpec",
    "LiquidCoolingSpec",
    "TrimChillerSpec",
    "FixedPueSpec",
    "PueCurveSpec",
    "CoolingSpec",
    "AirsideEconomizerSpec",
    "GpuThermalSpec",
    "DIE_LIMIT_PUBLISHED",
    "DIE_LIMIT_SEARCHED_NONE",
    "die_limit_source",
    "GpuDieSpec",
    "ThermalStorageTankSpec",
    "ThermalDynamicsSpec",
    "BatteryStorageSpec",
    "THERMAL_KIND_DEFAULTS",
    "ConstantWeatherSpec",
    "SyntheticWeatherSpec",
    "CsvWeatherSpec",
    "EpwWeatherSpec",
    "WeatherSpec",
    "FacilitySpec",
    "RackCoolingSpec",
    "RackPowerSpec",
    "WEATHER_PRESETS",
]

Power = quantity("power", gt=0)
NonNegPower = quantity("power", ge=0)
Temp = quantity("temperature", ge=TEMPERATURE_RANGE_C[0], le=TEMPERATURE_RANGE_C[1])
DeltaT = quantity("temperature_delta", gt=0, le=60)
NonNegDeltaT = quantity("temperature_delta", ge=0, le=60)
#: a die-to-coolant thermal resistance, K/W (facility.thermal.gpu.r_th_k_per_w and racks[].gpu_thermal.r_th_k_per_w)
ThermalResistance = quantity("thermal_resistance", gt=0, le=1)


def degf_hint(value: float) -> str:
    """The fix an error or warning suggests for an air temperature that reads as degF taken for degC: the same number
    with its unit written (``'75 degF'``; :func:`dcsim.units.quantity` converts it)."""
    return f"write '{value:g} degF'"
Frac = quantity("fraction", ge=0, le=1)
PosFrac = quantity("fraction", gt=0, le=1)
Pressure = quantity("count", gt=0)  # Pa; no pressure dimension in dcsim.units
Time = quantity("time", ge=0)


# --------------------------------------------------------------------------- power chain
# The one home of the power chain's default coefficients (dcsim.power.delivery refers to these).
#: UPS part-load loss, η(x) = x/(x + L0 + L1·x), fractions of rating: CALIBRATION C2, anchored on
#: η(1) = 0.955 (assumption within a 94–96 % "typical" double conversion [UPS]) and η(0.225) = 0.85 (Riello's
#: "20-25% load may only be capable of 85%" [UPS], at the range's middle); L0, L1 derived from the two [D]
UPS_L0 = 0.0376
UPS_L1 = 0.0096
#: transformer loss = rating·(no_load + proportional·x + square·x²), x = load/rating (structure:
#: Rasmussen, Schneider WP113 [WP113]). Coefficients are an assumption: MV transformers are
#: 98–99.5 % efficient (CALIBRATION C2, a range not checked against a source); 0.2 % no-load + 0.8 % load loss
#: give 99.0 % at rating
TRANSFORMER_NO_LOAD = 0.002
TRANSFORMER_PROPORTIONAL = 0.0
TRANSFORMER_SQUARE = 0.008
#: PDU/cabling loss, fraction of IT: [LEI] PD_lr bounds 0–2 % (midpoint)
PDU_LOSS_FRACTION = 0.01
#: fixed facility loads (lighting, offices, controls) when none is given, a fraction of the interconnect: [LEI]
#: lighting share 0–0.2 % of IT, the upper bound applied at the design load (dcsim.thermal.facility reads this)
FIXED_LOAD_FRACTION = 0.002

# --------------------------------------------------------------------------- fans
# The one home of the fan defaults (the CRAH fans of a chiller plant and an airside economizer's supply fans;
# dcsim.thermal.cooling.crah_fan_power_w takes them from its caller, with no default of its own).
#: affinity-law exponent, power ∝ speed³ for variable-speed fans (fan affinity laws; [LEI] models CRAH fans so)
FAN_EXPONENT = 3.0
#: minimum fan speed fraction (assumption: variable-speed drives are commonly floored near 30 % to keep airflow and
#: motor cooling; no measured floor in [LEI])
FAN_MIN_SPEED = 0.3


class PowerChainSpec(Spec):
    """Transformer -> UPS -> PDU chain; fixed facility loads.

    The **transformer** carries everything drawn at the meter (IT, cooling, UPS and PDU losses,
    fixed loads); its loss is ``rating·(no_load + proportional·x + square·x²)``, x = load/rating
    (no-load + proportional + square-law structure of Rasmussen, Schneider WP113 [WP113]).
    The **UPS** carries the IT load plus PDU losses (PDUs are downstream of the UPS); its
    efficiency is ``η(x) = x/(x + L0 + L1·x)`` (CALIBRATION C2 [UPS][D]).
    """

    transformer_rating: Power | None = Field(
        None, description="transformer rating; None = the interconnect (assumption)")
    transformer_no_load: Frac = Field(
        TRANSFORMER_NO_LOAD, description="no-load (core) loss, fraction of rating. assumption: MV transformers "
        "are 98–99.5 % efficient (CALIBRATION C2, a range not checked against a source); 0.2 % + 0.8 % gives "
        "99.0 % at rating")
    transformer_proportional: Frac = Field(TRANSFORMER_PROPORTIONAL,
                                           description="proportional loss coefficient (assumption)")
    transformer_square: Frac = Field(
        TRANSFORMER_SQUARE, description="load (copper, I²R) loss at rated load, fraction of rating (assumption, "
        "see no_load)")
    ups_rating: Power | None = Field(
        None, description="rating of one UPS system: caps IT + PDU load (delivered power binds there); "
        "None = the interconnect (assumption)")
    ups_redundancy: quantity("count", ge=1, le=4) = Field(
        1.0, description="installed UPS systems per rating sharing the load: 1 = N, 2 = 2N "
        "(each runs at half the load). default N (assumption)")
    ups_l0: Frac = Field(UPS_L0, description="UPS no-load loss, fraction of rating [UPS][D] (CALIBRATION C2)")
    ups_l1: Frac = Field(UPS_L1, description="UPS proportional loss coefficient [UPS][D] (CALIBRATION C2)")
    pdu_loss_fraction: Frac = Field(
        PDU_LOSS_FRACTION, description="PDU/cabling loss, fraction of IT; [LEI] PD_lr bounds 0–2 % (midpoint)")
    fixed_load: NonNegPower | None = Field(
        None, description="fixed facility loads (lighting, offices, controls); None = FIXED_LOAD_FRACTION (0.2 %) of "
        "the interconnect ([LEI] lighting share 0–0.2 % of IT, upper bound applied at the design load)")
    generator: Power | None = Field(
        None, description="on-site generator rating (recorded only: no utility outage is modelled, so it limits "
        "nothing; dcsim validate warns)")

    def fixed_load_w(self, interconnect_w: float) -> float:
        """The fixed facility loads [W]: ``fixed_load``, or with none given FIXED_LOAD_FRACTION of the interconnect
        ``interconnect_w`` [W] (the facility model reads it here, the rule's one home, without importing the
        scenario layer)."""
        return float(self.fixed_load if self.fixed_load is not None else FIXED_LOAD_FRACTION * interconnect_w)


# --------------------------------------------------------------------------- cooling
class ChillerPlantSpec(Spec):
    """Air-cooled white space (CRAH fans) on a chilled-water plant [LEI].

    Chillers with the Lei & Masanet 2020 COP regression in part load and condenser-water
    temperature, a waterside economizer, chilled-water and condenser pumps, and cooling towers
    (wet-bulb) or dry coolers (dry-bulb).
    """

    kind: Literal["chiller_plant"] = "chiller_plant"
    capacity: Power | None = Field(
        None, description="rated heat rejection at rating_t_out; None = the interconnect (assumption)")
    heat_rejection: Literal["cooling_tower", "dry_cooler"] = "cooling_tower"
    rating_t_out: Temp | None = Field(
        None, description="outdoor temperature (wet-bulb for towers, dry-bulb for dry coolers) at "
        "which `capacity` is rated; None = 25.6 degC wet-bulb (78 degF, CTI tower rating) or "
        "35 degC dry-bulb (95 degF, AHRI air-cooled rating) — assumption")
    derate_per_k: quantity("fraction", ge=0, le=1) = Field(
        0.015, description="fractional capacity lost per K of outdoor temperature above "
        "rating_t_out (linear; assumption: ~1–2 %/K typical of chiller capacity tables)")
    chw_supply_t: Temp = Field(
        15.0, description="chilled-water supply temperature (assumption, several K below the "
        "ASHRAE A1 recommended 18 degC inlet floor [ASH])")
    chw_delta_t: DeltaT = Field(7.5, description="chilled-water ΔT; [LEI] bounds 5–10 K (midpoint)")
    tower_approach: NonNegDeltaT = Field(4.75, description="cooling-tower approach; [LEI] 2.8–6.7 K (midpoint)")
    dry_cooler_approach: NonNegDeltaT = Field(
        8.0, description="dry-cooler approach to dry-bulb (assumption)")
    hx_approach: NonNegDeltaT = Field(1.5, description="economizer heat-exchanger approach (assumption)")
    economizer: bool = Field(True, description="waterside economizer present [LEI]")
    cop_adjust: quantity("fraction", ge=-0.5, le=0.5) = Field(
        0.0, description="pCOP, relative COP adjustment; [LEI] range ±11 %")
    chiller_min_load: PosFrac = Field(
        0.2, description="part-load floor of the COP regression ([LEI] validity 0.2–0.8)")
    chiller_max_load: PosFrac = Field(
        0.8, description="part-load ceiling of the COP regression; chillers stage so each runs "
        "≤ this ([LEI] validity 0.2–0.8)")
    chiller_unit: Power | None = Field(
        None, description="heat one chiller is rated for, the staging unit: the COP's part load is the chillers' load "
        "over it, clipped to chiller_min_load–chiller_max_load (continuous staging; assumption); None = capacity "
        "(one unit: a plant far larger than its load runs at the floor's COP)")
    air_delta_t: DeltaT = Field(16.7, description="CRAH air ΔT; [LEI] 13.9–19.4 K (midpoint)")
    fan_pressure_pa: quantity("count", gt=0) = Field(750.0, description="CRAH fan pressure; [LEI] 500–1000 Pa (midpoint)")
    fan_efficiency: PosFrac = Field(0.775, description="CRAH fan efficiency; [LEI] 0.65–0.90 (midpoint)")
    fan_exponent: quantity("count", ge=0, le=3) = Field(
        FAN_EXPONENT, description="fan affinity-law exponent (power ∝ speed³; source: the fan affinity laws); 0 = "
        "constant-speed fans")
    fan_min_speed: Frac = Field(FAN_MIN_SPEED, description="minimum CRAH fan speed fraction (assumption, FAN_MIN_SPEED)")
    chw_pump_head_pa: quantity("count", gt=0) = Field(143658.0, description="chilled-water pump head [LEI]")
    cw_pump_head_pa: quantity("count", gt=0) = Field(208660.0, description="condenser-water pump head [LEI]")
    pump_efficiency: PosFrac = Field(0.7, description="pump efficiency; [LEI] 0.6–0.8 (midpoint)")
    cw_delta_t: DeltaT = Field(5.0, description="condenser/tower water ΔT; [LEI] 4–6 K (midpoint)")
    tower_fan_pressure_pa: quantity("count", gt=0) = Field(250.0, description="tower fan pressure; [LEI] 100–400 Pa (midpoint)")
    tower_fan_efficiency: PosFrac = Field(0.775, description="tower fan efficiency; [LEI] 0.65–0.90 (midpoint)")
    tower_lg_ratio: quantity("count", gt=0) = Field(2.0, description="tower liquid/gas mass ratio; [LEI] 1–3 (midpoint)")
    dry_cooler_air_delta_t: DeltaT = Field(10.0, description="dry-cooler air temperature rise (assumption)")
    dry_cooler_fan_pressure_pa: quantity("count", gt=0) = Field(150.0, description="dry-cooler fan pressure (assumption)")
    dry_cooler_fan_efficiency: PosFrac = Field(0.6, description="dry-cooler fan efficiency (assumption)")

    @model_validator(mode="after")
    def _check(self):
        if self.chiller_min_load > self.chiller_max_load:
            raise FieldError("chiller_min_load", "must be <= chiller_max_load")
        return self


class TrimChillerSpec(ChillerPlantSpec):
    """A liquid plant's trim chiller and CRAHs (``LiquidCoolingSpec.air_side``): a chiller plant whose condenser is
    air-cooled (``heat_rejection`` dry_cooler, the default here, also when the trim is given without it) and which is
    rated and derated by the liquid spec's own ``rating_t_out`` and ``derate_per_k``: ``rating_t_out``,
    ``derate_per_k`` and ``heat_rejection: cooling_tower`` are refused, naming the field (docs/facility.md). Its
    ``capacity`` is the trim's size; None = what meets the liquid plant's capacity at its rating_t_out."""

    capacity: Power | None = Field(
        None, description="the trim's rated size (heat it carries at the liquid spec's rating_t_out); None = what "
        "meets the liquid plant's capacity at rating_t_out with its dry coolers: capacity − the dry coolers' "
        "capacity there (docs/facility.md). The default chiller_unit is min(capacity x air_design_fraction, this "
        "size); above that this size sets the trim's capacity only, not its COP")
    heat_rejection: Literal["cooling_tower", "dry_cooler"] = Field(
        "dry_cooler", description="the trim's condenser: air-cooled (dry coolers on dry-bulb); cooling_tower is refused")
    rating_t_out: Temp | None = Field(
        None, description="refused: the trim is rated at the liquid spec's rating_t_out (set that instead)")
    derate_per_k: quantity("fraction", ge=0, le=1) = Field(
        0.015, description="refused: the trim derates by the liquid spec's derate_per_k (set that instead)")
    chiller_unit: Power | None = Field(
        None, description="heat one trim chiller is rated for, the staging unit: the COP's part load is the trim's "
        "load over it, clipped to chiller_min_load–chiller_max_load (continuous staging; assumption); None = the "
        "liquid plant's capacity × air_design_fraction (a chiller sized for the design air-side heat), or the trim's "
        "capacity where that is smaller (one unit is never larger than the whole trim)")

    @model_validator(mode="after")
    def _one_description_of_the_trim(self):
        # the error's location is the liquid spec's air_side: the message names the field within it
        bad = [k for k in ("rating_t_out", "derate_per_k") if k in self.model_fields_set]
        if self.heat_rejection != "dry_cooler":
            bad.insert(0, f"heat_rejection {self.heat_rejection}")
        if bad:
            raise ValueError(
                f"{', '.join(bad)}: a liquid plant's trim chiller is air-cooled (its condenser on dry-bulb) and is "
                "rated and derated by the liquid spec's own rating_t_out and derate_per_k (docs/facility.md); set "
                "those instead")
        return self


class LiquidCoolingSpec(Spec):
    """Direct-to-chip liquid loop with warm supply water, dry coolers and a trim chiller.

    The liquid share of the heat goes to a warm-water loop (supply ``supply_t``, e.g. 32 degC)
    cooled by dry coolers; only when the dry-bulb is too warm does a trim chiller carry part of
    it. The air share (DIMMs, NICs, PSUs [DLC]) goes to CRAH fans and the trim chiller.
    """

    kind: Literal["liquid"] = "liquid"
    capacity: Power | None = Field(
        None, description="rated heat rejection at rating_t_out dry-bulb; None = the interconnect (assumption)")
    rating_t_out: Temp = Field(35.0, description="dry-bulb at which capacity is rated (95 degF; assumption)")
    derate_per_k: quantity("fraction", ge=0, le=1) = Field(
        0.015, description="trim chiller capacity lost per K of dry-bulb above rating_t_out (assumption, as "
        "chiller_plant); the dry coolers' capacity falls as their approach closes (docs/facility.md)")
    supply_t: Temp = Field(
        32.0, description="facility supply-water temperature; [DLC] 30–45 degC enables chiller-less "
        "operation in temperate climates (W32 class [ASH])")
    delta_t: DeltaT = Field(10.0, description="loop water ΔT (assumption)")
    dry_cooler_approach: NonNegDeltaT = Field(5.0, description="dry-cooler approach to dry-bulb (assumption)")
    pump_head_pa: quantity("count", gt=0) = Field(
        200000.0, description="CDU + facility loop pump head (assumption, comparable to [LEI] CW heads)")
    pump_efficiency: PosFrac = Field(0.7, description="pump efficiency; [LEI] 0.6–0.8 (midpoint)")
    dry_cooler_air_delta_t: DeltaT = Field(10.0, description="dry-cooler air temperature rise (assumption)")
    dry_cooler_fan_pressure_pa: quantity("count", gt=0) = Field(150.0, description="dry-cooler fan pressure (assumption)")
    dry_cooler_fan_efficiency: PosFrac = Field(0.6, description="dry-cooler fan efficiency (assumption)")
    air_design_fraction: PosFrac = Field(
        0.15, description="design air-side share of capacity for CRAH fan sizing (1 − 0.85, the low "
        "end of DLC capture [DLC]); the dry coolers are sized for the rest, capacity·(1 − this), and so is the "
        "default trim: set it to the hall's air share at capacity (docs/facility.md)")
    air_side: TrimChillerSpec = Field(
        default_factory=TrimChillerSpec,
        description="trim chiller / CRAH model for the air-side heat (and liquid overflow); its capacity is the "
        "trim's size, default: what meets `capacity` at rating_t_out with the dry coolers (docs/facility.md). The "
        "trim is air-cooled (heat_rejection dry_cooler, also when air_side is given without it) and rated and "
        "derated by this spec's rating_t_out and derate_per_k: air_side.rating_t_out, air_side.derate_per_k and "
        "heat_rejection cooling_tower are refused (TrimChillerSpec)")

    @field_validator("air_side", mode="before")
    @classmethod
    def _trim_from_a_chiller_plant(cls, v):
        # a ChillerPlantSpec built in Python is read as the trim it describes: the fields its caller set (its
        # defaults, a cooling tower among them, are a chiller plant's, not the trim's)
        if isinstance(v, ChillerPlantSpec) and not isinstance(v, TrimChillerSpec):
            return v.model_dump(include=v.model_fields_set)
        return v


class FixedPueSpec(Spec):
    """QUICK-STUDY MODE: facility = pue × IT. Overhead is reported as `cooling` (part
    `cooling_chiller`); losses and fixed loads are zero. Not physics — a labelled shortcut."""

    kind: Literal["fixed_pue"] = "fixed_pue"
    pue: quantity("fraction", ge=1, le=5) = Field(1.56, description="PUE; [UPT] 2024 industry average 1.56")
    capacity: Power | None = Field(None, description="heat-rejection capacity; None = unlimited")


class PueCurveSpec(Spec):
    """QUICK-STUDY MODE: PUE(load fraction, T_db) = interp(load, pue) + per_k·(T_db − t_ref),
    clipped at ≥ 1; load fraction = IT / design_it. Overhead reported as `cooling`."""

    kind: Literal["pue_curve"] = "pue_curve"
    design_it: Power | None = Field(None, description="IT power at load fraction 1; None = interconnect / pue at load 1")
    load: list[quantity("fraction", ge=0, le=2)] = Field(
        default_factory=lambda: [0.1, 0.5, 1.0],
        description="load fractions of the example curve's points (assumption: light, half and full load, with pue)")
    pue: list[quantity("fraction", ge=1, le=10)] = Field(
        default_factory=lambda: [2.0, 1.6, 1.5],
        description="example curve (assumption) bracketing the [UPT] 1.56 average")
    t_ref: Temp = Field(20.0, description="dry-bulb of the curve's reference PUE (assumption)")
    per_k: quantity("fraction", ge=0, le=1) = Field(0.0, description="PUE increase per K of dry-bulb above t_ref")
    capacity: Power | None = Field(None, description="heat-rejection capacity; None = unlimited")

    @model_validator(mode="after")
    def _check(self):
        if len(self.load) != len(self.pue) or len(self.load) < 1:
            raise FieldError("pue", f"{len(self.pue)} value(s) for {len(self.load)} load point(s): give one per load point, "
                                    "at least one")
        if any(b <= a for a, b in zip(self.load, self.load[1:])):
            raise FieldError("load", "must be strictly increasing")
        # facility = it·pue(it) must be non-decreasing for the inverse to exist
        for (x0, p0), (x1, p1) in zip(zip(self.load, self.pue), zip(self.load[1:], self.pue[1:])):
            slope = (p1 - p0) / (x1 - x0)
            for x in (x0, x1):
                pue_x = p0 + slope * (x - x0)
                if pue_x + slope * x < 0:
                    raise FieldError("pue", "falls too fast: facility power must not decrease with IT load")
        return self


class AirsideEconomizerSpec(Spec):
    """Outdoor air cools the white space directly when cool enough, with direct evaporative
    (adiabatic) assist bringing hot dry air toward its wet-bulb; a DX / chiller trim carries what
    is left (docs/thermal-dynamics.md §Airside economizer)."""

    kind: Literal["airside_economizer"] = "airside_economizer"
    capacity: Power | None = Field(
        None, description="design heat removal (fan and coil sizing); None = the interconnect (assumption)")
    supply_t: Temp = Field(
        24.0, description="supply (IT inlet) air temperature, inside the ASHRAE 18–27 degC recommended band [ASH] (assumption)")
    air_delta_t: DeltaT = Field(16.7, description="air temperature rise across the IT; as the CRAH default, [LEI] 13.9–19.4 K (midpoint)")
    max_dew_point: Temp = Field(
        15.0, description="highest supply dew point accepted without mechanical dehumidification: "
        "ASHRAE recommended upper limit 15 degC DP [ASH]")
    adiabatic: bool = Field(True, description="direct evaporative pad upstream of the supply fans")
    saturation_effectiveness: PosFrac = Field(
        0.85, description="(T_db,in − T_db,out)/(T_db,in − T_wb,in) of the pad: 0.75–0.95 (S. K. Wang, "
        "Handbook of Air Conditioning and Refrigeration, §9.8, direct evaporative coolers) [S], midpoint")
    trim_capacity_fraction: Frac = Field(
        1.0, description="mechanical (DX/chiller) trim as a fraction of capacity; 0 = chiller-less")
    trim_condenser_approach: NonNegDeltaT = Field(
        8.0, description="air-cooled trim condenser approach to dry-bulb (as the dry cooler; assumption)")
    cop_adjust: quantity("fraction", ge=-0.5, le=0.5) = Field(0.0, description="pCOP of the trim chiller; [LEI] ±11 %")
    fan_pressure_pa: quantity("count", gt=0) = Field(
        750.0, description="supply-fan pressure (filters, pads, dampers); as the CRAH default, [LEI] 500–1000 Pa "
        "(midpoint; assumption that pads and dampers fit in the same fan budget)")
    fan_efficiency: PosFrac = Field(0.775, description="fan efficiency; [LEI] 0.65–0.90 (midpoint)")
    fan_exponent: quantity("count", ge=0, le=3) = Field(
        FAN_EXPONENT, description="fan affinity-law exponent (power ∝ speed³; source: the fan affinity laws)")
    fan_min_speed: Frac = Field(FAN_MIN_SPEED, description="minimum fan speed fraction (assumption, FAN_MIN_SPEED)")
    pad_pump_w_per_w: quantity("count", ge=0, le=0.1) = Field(
        0.002, description="evaporative pad recirculation pump power per W of heat while wetting "
        "(assumption: small next to fans)")
    rating_t_out: Temp = Field(
        35.0, description="dry-bulb at which the trim capacity is rated (95 degF, as chiller_plant dry coolers; "
        "assumption)")
    derate_per_k: quantity("fraction", ge=0, le=1) = Field(0.015, description="trim capacity lost per K above rating_t_out (assumption)")


CoolingSpec = Annotated[
    Union[ChillerPlantSpec, LiquidCoolingSpec, FixedPueSpec, PueCurveSpec, AirsideEconomizerSpec], Field(discriminator="kind")
]


# --------------------------------------------------------------------------- weather
# Presets: annual mean dry-bulb, seasonal amplitude (half the difference between the warmest and
# coldest monthly means), diurnal amplitude (half the mean daily range), mean relative humidity.
# Except where a source is named, these are ROUNDED climate descriptions — assumption, not
# retrieved normals; use an EPW/CSV file for a real site.
WEATHER_PRESETS: dict[str, dict[str, float]] = {
    # mid-latitude temperate (e.g. north-western Europe) — assumption
    "temperate": {"mean_t": 11.0, "seasonal_amplitude": 7.0, "diurnal_amplitude": 4.0, "rh": 0.75},
    # hot desert, Phoenix-like. July anchored on the Arizona State Climate Office "July Weather"
    # page (azclimate.asu.edu/july-weather): July mean 93.5 degF (34.2 degC), mean high 105.9 degF
    # (41.1 degC), mean low 81.0 degF (27.2 degC) -> peak-day mean 34.2 degC and diurnal
    # amplitude (41.1 − 27.2)/2 = 6.95 K, used here rounded to 34.0 degC (24 + 10) and 7 K;
    # monsoon days have dew points ≥ 55 degF (12.8 degC); rh 0.30 at 34 degC gives a 14 degC
    # dew point. The annual mean / seasonal amplitude split (24 / 10) is an assumption.
    "hot-dry": {"mean_t": 24.0, "seasonal_amplitude": 10.0, "diurnal_amplitude": 7.0, "rh": 0.30},
    # hot humid (Gulf-coast / south-east Asia-like) — assumption
    "hot-humid": {"mean_t": 27.0, "seasonal_amplitude": 2.0, "diurnal_amplitude": 4.0, "rh": 0.80},
    # nordic (Scandinavian coast-like) — assumption
    "nordic": {"mean_t": 5.0, "seasonal_amplitude": 9.0, "diurnal_amplitude": 3.0, "rh": 0.80},
}


class _WeatherKind:
    """The default day of the year at t = 0 of a weather spec's kind (:data:`DEFAULT_START_DAY`, else 1), read off
    the spec by :meth:`dcsim.scenario.Scenario.clock` and :func:`dcsim.thermal.weather.build_weather`: one home for
    the default, and the thermal model imports nothing of the scenario layer to find it."""

    @property
    def default_start_day(self) -> int:
        return DEFAULT_START_DAY.get(self.kind, 1)


class ConstantWeatherSpec(_WeatherKind, Spec):
    kind: Literal["constant"] = "constant"
    t_db: Temp = Field(20.0, description="dry-bulb (assumption: a temperate default; give the site's)")
    t_wb: Temp | None = None
    rh: Frac | None = Field(None, description="relative humidity (0–1 or '50%'); default 50 % if t_wb absent")
    pressure_pa: Pressure = Field(
        101325.0, description="station pressure; source: the ISO 2533 standard atmosphere at sea level")

    @model_validator(mode="after")
    def _check(self):
        if self.t_wb is not None and self.rh is not None:
            raise FieldError("rh", "give t_wb or rh, not both")
        if self.t_wb is not None and self.t_wb > self.t_db:
            raise FieldError("t_wb", f"{self.t_wb} must be <= t_db ({self.t_db})")
        return self


#: Day of the year at the start of a run without ``start:`` (synthetic weather: 15 July, the
#: design day of the shipped presets; EPW files: 1 January, the file's first day).
DEFAULT_START_DAY = {"synthetic": 196, "epw": 1}


def _moved_to_start(v, key: str):
    """Refuse a time-of-day offset that the top-level ``start:`` replaced, naming the new key."""
    if isinstance(v, dict) and key in v:
        raise ValueError(f"'{key}' was replaced by the top-level 'start:' (ISO date-time of t = 0, e.g. "
                         "start: 2026-07-15T13:00), which sets weather, arrivals, prices and carbon together")
    return v


class SyntheticWeatherSpec(_WeatherKind, Spec):
    """T_db(t) = mean + A_s·cos(2π(doy − peak_day)/365) + A_d·cos(2π(hour − peak_hour)/24).

    Day of year and hour come from the scenario's clock (top-level ``start:``).

    Dew point is held at the value that gives ``rh`` at the daily mean temperature (absolute
    humidity varies little over a day), so RH swings inversely to temperature."""

    kind: Literal["synthetic"] = "synthetic"
    preset: Literal["temperate", "hot-dry", "hot-humid", "nordic"] | None = None
    mean_t: Temp | None = None
    diurnal_amplitude: NonNegDeltaT | None = None
    seasonal_amplitude: NonNegDeltaT | None = None
    rh: PosFrac | None = None
    peak_day: quantity("count", ge=1, le=366) = Field(
        200.0, description="day of the seasonal maximum (northern hemisphere, ~late July; assumption)")
    peak_hour: quantity("count", ge=0, le=24) = Field(15.0, description="hour of the daily maximum (assumption)")
    noise_std: quantity("temperature_delta", ge=0, le=20) = Field(
        0.0, description="std of an hourly AR(1) dry-bulb perturbation (weather variability), drawn "
        "from the scenario seed; 0 = deterministic cosines")
    noise_corr: quantity("fraction", ge=0, lt=1) = Field(
        0.95, description="hour-to-hour correlation of the perturbation (assumption)")
    pressure_pa: Pressure = Field(101325.0, description="station pressure; source: the ISO 2533 standard atmosphere")

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, v):
        return _moved_to_start(v, "start_day")

    @model_validator(mode="after")
    def _check(self):
        if self.preset is None:
            missing = [k for k in ("mean_t", "diurnal_amplitude", "seasonal_amplitude", "rh")
                       if getattr(self, k) is None]
            if missing:
                raise FieldError(missing[0], f"without a preset, give {', '.join(missing)}")
        r = self.resolved()
        swing = r["seasonal_amplitude"] + r["diurnal_amplitude"]  # the noise is drawn: preflight checks the day made
        lo, hi = r["mean_t"] - swing, r["mean_t"] + swing
        if hi > TEMPERATURE_RANGE_C[1] or lo < TEMPERATURE_RANGE_C[0]:
            # was silent: mean_t=75 (meant degF) on the hot-dry preset made a 92 degC day
            name = next((k for k in ("mean_t", "seasonal_amplitude", "diurnal_amplitude")
                         if k in self.model_fields_set), "mean_t")
            hint = (f" (a degF value? {degf_hint(r['mean_t'])})" if name == "mean_t" and hi > TEMPERATURE_RANGE_C[1]
                    else "")
            raise FieldError(name, f"mean_t {r['mean_t']:g} degC +- seasonal {r['seasonal_amplitude']:g} K + diurnal "
                             f"{r['diurnal_amplitude']:g} K spans {lo:g} .. {hi:g} degC, outside the {TEMPERATURE_RANGE_C[0]:g} .. "
                             f"{TEMPERATURE_RANGE_C[1]:g} degC an air temperature may take{hint}")
        return self

    def resolved(self) -> dict[str, float]:
        """Preset values overridden by any field given explicitly."""
        base = dict(WEATHER_PRESETS[self.preset]) if self.preset else {}
        for k in ("mean_t", "diurnal_amplitude", "seasonal_amplitude", "rh"):
            v = getattr(self, k)
            if v is not None:
                base[k] = v
        return base


class CsvWeatherSpec(_WeatherKind, Spec):
    """Hourly CSV with a header: a time column (`t_s` seconds or `hour`), `t_db` (degC; `t_db_degF` converts) and one of
    `t_wb`, `rh` (percent 0–100, or fraction if all ≤ 1), `t_dp`. Linearly interpolated."""

    kind: Literal["csv"] = "csv"
    path: FilePath
    offset: Time = Field(0.0, description="file time at simulation t=0")
    wrap: bool = Field(False, description="repeat the file periodically (else hold end values)")
    pressure_pa: Pressure = Field(101325.0, description="station pressure; source: the ISO 2533 standard atmosphere")


class EpwWeatherSpec(_WeatherKind, Spec):
    """EnergyPlus EPW hourly file: dry-bulb, dew point, RH, pressure -> wet-bulb. The file's hour
    read at t = 0 is the scenario's ``start:`` (day of year and time of day)."""

    kind: Literal["epw"] = "epw"
    path: FilePath
    wrap: bool = Field(True, description="repeat the year periodically")

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, v):
        return _moved_to_start(v, "start_day")


WeatherSpec = Annotated[
    Union[ConstantWeatherSpec, SyntheticWeatherSpec, CsvWeatherSpec, EpwWeatherSpec],
    Field(discriminator="kind"),
]


# --------------------------------------------------------------------------- facility
class FacilitySpec(Spec):
    interconnect: Power = Field(description="utility cap at the meter (IT + cooling + losses + fixed)")
    power_chain: PowerChainSpec = Field(default_factory=PowerChainSpec)
    cooling: CoolingSpec = Field(default_factory=ChillerPlantSpec)
    weather: WeatherSpec = Field(default_factory=ConstantWeatherSpec)
    # issue 18 (phase 2): optional dynamics, wired by dcsim.engine.flex
    thermal: "ThermalDynamicsSpec | None" = Field(
        None, description="thermal masses of the loop and white space, GPU thermal throttling "
        "(docs/thermal-dynamics.md); None = every tick a steady state")
    storage: "BatteryStorageSpec | None" = Field(
        None, description="on-site battery or UPS energy store at the meter (docs/grid.md §Storage)")


# --------------------------------------------------------------------------- racks
# The one home of the rack defaults (dcsim.power.rack refers to these).
#: rack heat limit by cooling type when ``limit`` is not given, W
RACK_COOLING_LIMIT_W = {
    "air": 30e3,        # [FLASH] air-cooled ceiling ~25–30 kW/rack (upper end)
    "rear_door": 50e3,  # assumption: rear-door heat exchangers are commonly quoted to ~50 kW/rack
    "liquid": 120e3,    # [DLC] direct-to-chip 50–120+ kW/rack; ~120 kW GB200 NVL72 rack [INTROL]
}
#: share of a liquid rack's heat captured by the liquid loop: [DLC] 0.85–0.95 (midpoint)
RACK_LIQUID_FRACTION = 0.9
#: continuous-load derating of a rack feed: NEC (NFPA 70) 210.20(A)/215.3 size the breaker at
#: 125 % of the continuous load, i.e. load ≤ 80 % of rating
RACK_DERATE = 0.8


class RackCoolingSpec(Spec):
    """Rack heat limit by cooling type. Defaults for `limit` (None): ``RACK_COOLING_LIMIT_W``
    (air 30 kW, rear_door 50 kW, liquid 120 kW, sources there)."""

    kind: Literal["air", "rear_door", "liquid"] = "air"
    limit: Power | None = None
    liquid_fraction: Frac = Field(RACK_LIQUID_FRACTION,
                                  description="heat captured by liquid (liquid racks only); [DLC] 0.85–0.95")

    @model_validator(mode="after")
    def _check(self):
        if self.kind != "liquid" and "liquid_fraction" in self.model_fields_set and self.liquid_fraction > 0:
            raise FieldError("liquid_fraction", f"applies to liquid racks only (kind={self.kind})")
        return self


class RackPowerSpec(Spec):
    """Rack power feed: breaker/PDU rating, continuous-load derating, overhead (switches)."""

    power_limit: Power | None = Field(None, description="rack PDU/breaker rating; None = unlimited")
    derate: PosFrac = Field(
        RACK_DERATE, description="continuous-load derating; source: NEC (NFPA 70) 210.20(A)/215.3 size the breaker "
        "at 125 % of the continuous load, i.e. load ≤ 80 % of rating")
    overhead: NonNegPower = Field(
        500.0, description="non-node rack power (top-of-rack switches, management); assumption")


# --------------------------------------------------------------------------- issue 18 (phase 1):
# thermal dynamics, airside economizer, on-site energy storage. Standalone specs: the models live
# in dcsim.thermal.dynamics, dcsim.thermal.facility (airside economizer) and dcsim.power.storage;
# docs/thermal-dynamics.md and docs/grid.md give the sources of every default.

Energy = quantity("energy", gt=0)
Volume = quantity("count", gt=0)  # m³; no volume dimension in dcsim.units
DieTemp = quantity("temperature", ge=0, le=150)


#: Defaults of ThermalDynamicsSpec / GpuThermalSpec fields left None, by white-space kind.
THERMAL_KIND_DEFAULTS: dict[str, dict[str, float]] = {
    "air": {
        # [D] an air-cooled HGX H100 reaches its 87 degC limit [SMI] at its 700 W TDP [HWT] with a
        # 35 degC inlet, the ASHRAE A2 allowable maximum [ASH]: (87 − 35)/700 (assumption that the
        # design just meets A2)
        "r_th_k_per_w": (87.0 - 35.0) / 700.0,
        # assumption: air of a 4 m hall at 1 kW/m² (~4.8 J/K/W) plus the server metal coupled within
        # minutes; with no heat removal the inlet rises 6 K/min at full load (24 → 40 degC in 2.7 min),
        # as the Opengate/Active Power study reports thermal shutdown ~3 min after cooling loss at
        # 5 kW/cabinet [S]
        "white_space_j_per_k_per_w": 10.0,
        # assumption: 15 degC water gives a 21 degC inlet, inside ASHRAE 18–27 degC recommended [ASH]
        "coil_approach": 6.0,
        # ASHRAE A4 allowable maximum inlet 45 degC [ASH]
        "shed_space_c": 45.0,
        # ASHRAE class A1 allowable maximum server inlet (dry bulb) 32 degC [ASH] (TC9.9 2021 Thermal Guidelines,
        # Table 2.1: A1 allowable 15-32 degC; A2 35, A3 40, A4 45): above it servers rated A1, the common
        # enterprise class, run outside their allowable range and the run warns (dcsim.engine.flex); not shed
        "allowable_space_c": 32.0,
    },
    "liquid": {
        # [D] a cold-plate H100 at 700 W [HWT] reaching 87 degC [SMI] with 45 degC coolant, the top
        # of the DLC secondary-loop range (~25 in / ~45 degC out [DLC]): (87 − 45)/700
        "r_th_k_per_w": (87.0 - 45.0) / 700.0,
        # assumption: ~1 L of secondary coolant per kW (CDU, manifolds, cold plates): 4.19 J/K/W
        "white_space_j_per_k_per_w": 4.19,
        # assumption: CDU heat-exchanger approach 3 K at design heat
        "coil_approach": 3.0,
        # no air limit: liquid racks shed when the GPUs cannot be held under their limit
        "shed_space_c": float("inf"),
        # the white space is secondary coolant, whose classes (W) concern the facility water: no inlet-air limit
        "allowable_space_c": float("inf"),
    },
}


#: The die throttle figure each shipped GPU's vendor publishes, with its source, by GPU name as the catalog compares it
#: (:func:`dcsim.node.catalog.norm_gpu`); the die-limit messages cite it (:func:`die_limit_source`). Only the Hopper
#: SXM figure is published: `nvidia-smi -q` reads "GPU Max Operating Temp 87 C" (slowdown 89, shutdown 92) on an H800
#: SXM and the H100 SXM [SMI]. For the B200 none was found (searched 2026-12-05: NVIDIA's DGX B200 user guide and the
#: HGX/DGX datasheets state power, not a die temperature; no public nvidia-smi dump of a B200 states its thresholds),
#: nor for the A100, H200 or MI300X: their 87 degC, this spec's default, is an assumption.
DIE_LIMIT_PUBLISHED: dict[str, str] = {
    "h100-sxm": "87 degC 'GPU max operating temp' [SMI]",
    "h800-sxm": "87 degC 'GPU max operating temp' [SMI]",
}


#: The GPUs whose vendor documents were searched for a die throttle figure and state none (the search of 2026-12-05
#: above: NVIDIA's DGX B200 user guide and HGX/DGX B200 datasheets, and likewise the A100, H200 and MI300X), by
#: :func:`dcsim.node.catalog.norm_gpu` name: only for these may a message say the datasheet states none. Any other GPU
#: (a user-defined one, or one nobody checked) has no figure on file, which is not the same claim.
DIE_LIMIT_SEARCHED_NONE: frozenset[str] = frozenset(
    {"b200", "a100-sxm4-40gb", "a100-sxm4-80gb", "h200", "h200-sxm", "mi300x"})


def die_limit_source(gpu: str) -> str:
    """The die throttle figure of ``gpu`` as a die-limit message cites it: its published figure and source
    (:data:`DIE_LIMIT_PUBLISHED`); for a GPU whose datasheet was searched and states none
    (:data:`DIE_LIMIT_SEARCHED_NONE`) that none is published; for any other, that none is on file (nobody checked);
    either way the 87 degC default is an assumption for it (until 2026-12-05 every message cited the H100's figure, a
    B200 hall's too; until session 53 every GPU but the Hopper SXMs read "its datasheet states none", a user-defined
    GPU nobody had checked too)."""
    key = str(gpu).strip().lower().replace("_", "-")
    if key in DIE_LIMIT_PUBLISHED:
        return f"{gpu}: {DIE_LIMIT_PUBLISHED[key]}"
    why = ("no throttle temperature published (its datasheet states none, searched 2026-12-05)"
           if key in DIE_LIMIT_SEARCHED_NONE else "no throttle temperature on file (none recorded in dcsim's catalog)")
    return f"{gpu}: {why}, so the 87 degC default, the H100 SXM's [SMI], is an assumption for it"


class GpuThermalSpec(Spec):
    """GPU die temperature T = T_coolant + r_th·P (coolant = inlet air, or cold-plate water), and
    the limits that throttle it. Defaults: H100 SXM."""

    t_limit: DieTemp = Field(87.0, description="temperature at which clocks throttle; H100/H800 SXM "
                          "'GPU max operating temp' 87 degC, slowdown 89 degC [SMI] (CALIBRATION C5)")
    r_th_k_per_w: ThermalResistance | None = Field(
        None, description="die-to-coolant thermal resistance, K/W; None = THERMAL_KIND_DEFAULTS of the "
        "thermal-dynamics kind (air 0.0743, liquid 0.06 K/W)")
    p_max_w: Power = Field(700.0, description="board power at full clock; H100 SXM TDP [HWT]")
    p_min_w: Power = Field(200.0, description="lowest settable power limit; H100 SXM 200 W [SMI]")
    p_idle_w: NonNegPower = Field(72.0, description="idle board power; H100-class ~72 W [SMI]")
    gamma: quantity("count", gt=0, le=4) = Field(
        2.0, description="dynamic power ∝ clock^γ for the clock ↔ power map (assumption, the node "
        "model's own γ should be passed when wiring)")

    @model_validator(mode="after")
    def _check(self):
        if not self.p_idle_w < self.p_min_w <= self.p_max_w:
            raise FieldError("p_min_w", "need p_idle_w < p_min_w <= p_max_w")
        return self


class GpuDieSpec(Spec):
    """A rack group's own GPU die limits (``racks[].gpu_thermal``), for a fleet of several GPU types under one
    ``facility.thermal``: each field left None takes ``facility.thermal.gpu``'s. The group's dies are held under
    ``t_limit`` at T_coolant + r_th·P with P its own GPUs' power (docs/thermal-dynamics.md, "Several rack groups")."""

    t_limit: DieTemp | None = Field(None, description="die temperature at which this group's clocks throttle; "
                                    "None = facility.thermal.gpu.t_limit")
    r_th_k_per_w: ThermalResistance | None = Field(
        None, description="this group's die-to-coolant thermal resistance, K/W; None = facility.thermal.gpu's "
        "(itself the kind's default, derived for an H100 at its 700 W TDP)")


class ThermalStorageTankSpec(Spec):
    """Stratified chilled-water storage tank: holds ρ·V·c_p·usable_delta_t of cooling, released
    when the plant falls short (up to `max_discharge`) and recharged from spare plant capacity."""

    volume_m3: Volume = Field(description="tank water volume, m³")
    usable_delta_t: DeltaT = Field(
        7.5, description="return − supply temperature the tank is charged across (as the plant's "
        "chw_delta_t; [LEI] 5–10 K midpoint)")
    max_discharge: Power | None = Field(None, description="largest cooling the tank delivers; None = unlimited")
    max_recharge: Power | None = Field(
        None, description="largest recharge rate drawn from spare plant capacity; None = unlimited")
    initial_charge: Frac = Field(1.0, description="state of charge at t = 0 (full: assumption)")


class ThermalDynamicsSpec(Spec):
    """Lumped thermal masses of the cooling plant and the white space (docs/thermal-dynamics.md).

    Two nodes exchange heat through the CRAH coil (air) or CDU heat exchanger (liquid):
    the **loop** (chilled / facility water, C_w = ρ·V·c_p) cooled by the plant, and the **white
    space** (room air + IT equipment, or the secondary coolant, C_r) heated by IT. The GPU sees
    the white-space node: inlet air (air racks) or coolant supply (liquid racks)."""

    kind: Literal["air", "liquid"] = "air"
    loop_water_l_per_kw: quantity("count", gt=0, le=1000) = Field(
        10.8, description="loop water per kW of design heat, L/kW: rule of thumb 10 US gal per ton for "
        "process cooling (hoffmech.com, 'Low loop volume') = 37.85 L / 3.517 kW [S]")
    white_space_j_per_k_per_w: quantity("count", gt=0, le=1000) | None = Field(
        None, description="white-space heat capacity per W of design heat, J/K/W; None = "
        "THERMAL_KIND_DEFAULTS (air 10: room air + coupled server metal; liquid 4.19: secondary coolant)")
    coil_approach: DeltaT | None = Field(
        None, description="white-space − loop temperature difference at design heat (sets the coil / "
        "CDU UA = Q_design/approach); None = THERMAL_KIND_DEFAULTS (air 6 K, liquid 3 K)")
    setpoint: Temp | None = Field(None, description="loop supply temperature the plant holds; None = "
                                  "the cooling spec's chw_supply_t / supply_t")
    design_heat: Power | None = Field(None, description="design heat the masses scale with; None = plant capacity")
    tank: ThermalStorageTankSpec | None = None
    gpu: GpuThermalSpec = Field(default_factory=GpuThermalSpec)
    preemptive_cap: bool = Field(
        False, description="when the plant (plus tank) cannot carry the heat, cap IT to what it can "
        "carry at once instead of waiting for GPUs to reach their limit")
    shed_inlet_limit: Temp | None = Field(
        None, description="white-space temperature above which IT is shut down (shed) even if the "
        "GPUs could throttle further; None = THERMAL_KIND_DEFAULTS (air: ASHRAE A4 allowable maximum "
        "45 degC [ASH]; liquid: none)")
    inlet_allowable_limit: Temp | None = Field(
        None, description="white-space temperature above which the run warns that servers run outside their "
        "allowable inlet range (not shed); None = THERMAL_KIND_DEFAULTS (air: ASHRAE A1 allowable maximum 32 degC "
        "[ASH]; liquid: none). Servers rated A2 allow 35 degC; the default GPU r_th_k_per_w assumes a design that "
        "just meets A2")

    @property
    def kind_defaults(self) -> dict[str, float]:
        """THERMAL_KIND_DEFAULTS of this ``kind``: the figures a field left None takes (dcsim.thermal.dynamics reads
        them here, without importing the scenario layer)."""
        return THERMAL_KIND_DEFAULTS[self.kind]


class BatteryStorageSpec(Spec):
    """On-site battery (or UPS battery) energy store; dispatch in dcsim.power.storage."""

    energy: Energy = Field(description="usable nameplate energy, e.g. '20 MWh'")
    max_charge: Power = Field(description="largest charging power (AC, at the meter)")
    max_discharge: Power = Field(description="largest discharging power (AC, at the meter)")
    round_trip_efficiency: PosFrac = Field(
        0.85, description="AC-to-AC round-trip efficiency; NREL ATB 2020 utility-scale Li-ion 85 % "
        "(Cole & Frazier 2020) [S]; split evenly: η_charge = η_discharge = √RTE")
    soc_min: Frac = Field(0.1, description="lowest state of charge used (assumption: Li-ion reserve)")
    soc_max: Frac = Field(0.9, description="highest state of charge used (assumption)")
    soc_initial: Frac = Field(0.9, description="state of charge at t = 0 (assumption: a battery kept near full)")
    location: Literal["meter", "ups"] = Field(
        "meter", description="meter: behind the utility meter, can shave peaks and cover curtailment; "
        "ups: on the UPS bus, rides through outages only")
    dispatch: Literal["events", "peak_shave", "both"] = Field(
        "events", description="events: discharge only to cover what a curtailment/outage cap leaves short; "
        "peak_shave: also hold the meter at or under `shave_to`")
    shave_to: Power | None = Field(None, description="meter target for peak shaving")
    recharge_only_below_price: quantity("price", ge=0) | None = Field(
        None, description="recharge only in hours priced at or below this (None: whenever there is headroom)")

    @model_validator(mode="after")
    def _check(self):
        if not self.soc_min < self.soc_max:
            raise FieldError("soc_min", "must be < soc_max")
        if not self.soc_min <= self.soc_initial <= self.soc_max:
            raise FieldError("soc_initial", "must lie within [soc_min, soc_max]")
        if self.dispatch != "events" and self.shave_to is None:
            raise FieldError("shave_to", f"dispatch={self.dispatch!r} needs shave_to (the meter target)")
        if self.location == "ups" and self.dispatch != "events":
            raise FieldError("dispatch", "a UPS battery (location: ups) only rides through events")
        return self


FacilitySpec.model_rebuild()
