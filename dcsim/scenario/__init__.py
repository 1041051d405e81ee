"""Scenario files: YAML → validated, frozen pydantic specs with SI floats inside.

Top-level keys (stable, tools rely on them): ``name, seed, duration, fidelity,
facility, racks, workload, controller`` plus the optional ``serving``,
``economics``, ``hybrid_sample``, ``faults``, ``grid``, ``deferrable``, ``start`` (the clock of day at t = 0) and ``expect``
(bounds the run checks on its own report). Load with :func:`load_scenario`; errors are
:class:`ScenarioError` naming the file, the dotted field path and the reason.
"""

from __future__ import annotations

import copy
import math
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, ValidationInfo, field_validator, model_validator

from dcsim.units import UnitError, excerpt, is_boolean, plain_number, quantity, refuse_misread
from dcsim.scenario.safeyaml import MAX_YAML_BYTES, YamlInputError, load_yaml_text, read_text_bounded
from dcsim.scenario.base import FieldError, Spec
from dcsim.scenario.facility import FacilitySpec, GpuDieSpec, RackCoolingSpec, RackPowerSpec
from dcsim.scenario.faults import FaultsSpec, window_errors
from dcsim.scenario.grid import DeferrableWorkSpec, GridSpec
from dcsim.scenario.node import NodeSpec
from dcsim.scenario.paths import ratio_parts, set_path, split_path
from dcsim.scenario.serving import ServingSpec
from dcsim.scenario.workload import WorkloadSpec

__all__ = [
    "Scenario", "RackGroupSpec", "ControllerSpec", "EconomicsSpec", "ScenarioError",
    "load_scenario", "apply_overrides", "parse_set", "parse_sets", "scenario_hash", "yaml_kind", "GivenAs",
    "override_error", "relabel_override",
]


class ScenarioError(ValueError):
    """Invalid scenario input. ``errors`` is a list of (field path, reason)."""

    def __init__(self, source: str, errors: list[tuple[str, str]], *, what: str = "invalid scenario"):
        self.source = source
        self.errors = errors
        self.override: OverrideFault | None = None  # an override's error: what it says (override_error)
        # what: "invalid setting" for an environment variable, which is no scenario (DCSIM_MEMORY_LIMIT)
        lines = [f"{source}: {what} ({len(errors)} error{'s' if len(errors) != 1 else ''})"]
        lines += [f"  {path or '<root>'}: {reason}" for path, reason in errors]
        super().__init__("\n".join(lines))


class RackGroupSpec(Spec):
    """``count`` identical racks of ``nodes_per_rack`` servers, each server described by ``node``."""

    name: str = "racks"
    count: int = Field(1, ge=1, le=1_000_000, description="number of racks in this group")
    nodes_per_rack: int = Field(
        4, ge=1, le=256, description="GPU servers per rack (assumption: four 8-GPU servers, 41 kW of DGX H100 at their "
            "10.2 kW maximum [DGXH100], a high-density air-cooled rack)")
    node: NodeSpec = Field(default_factory=NodeSpec)
    power: RackPowerSpec = Field(default_factory=RackPowerSpec)
    cooling: RackCoolingSpec = Field(default_factory=RackCoolingSpec)
    serves: tuple[str, ...] | None = Field(
        None, min_length=1, description="names of the workload classes this group's model serves (a model pool); "
        "default: every class. Groups listing the same classes form one pool; each class is served by one pool")
    gpu_thermal: GpuDieSpec | None = Field(
        None, description="this group's GPU die limits under facility.thermal (t_limit, r_th_k_per_w), where its GPUs "
        "differ from facility.thermal.gpu; None = facility.thermal.gpu's (docs/thermal-dynamics.md)")


class ControllerSpec(Spec):
    """The one feedback arrow: power/cooling headroom → node clocks (DVFS caps) → hold → shed.

    Decisions made at one tick apply at the next.
    """

    tick: quantity("time", gt=0, le=3600) = Field(
        60.0, description="controller tick (assumption: a modelling choice, one-minute control of power and cooling; a "
            "shorter tick costs run time)")
    policy: Literal["frontier", "uniform", "none"] = Field(
        "frontier", description="when power or cooling run short — frontier: lower caps and consolidate load onto "
        "the facility's most efficient operating mix (reaches the P/Q ceilings); uniform: one clock level for all "
        "nodes, load spread evenly (POLCA-style); none: never cap (limits may be exceeded, counted)")
    clock_levels: int = Field(24, ge=2, le=128, description="DVFS levels the controller may choose between clock_min "
        "and 1 (assumption: a modelling choice, on an H100 steps of 3.6 % of the maximum clock, (1 - 0.174) / 23; "
        "the GPU offers finer ones)")
    hold_limit: quantity("time", gt=0) = Field(
        600.0, description="requests (fluid: tokens) waiting longer than this are shed, counted; default 600 s, a "
            "client that gives up: source: the OpenAI Python SDK's default request timeout, 600 s per attempt "
            "(src/openai/_constants.py DEFAULT_TIMEOUT); the SDK retries twice (DEFAULT_MAX_RETRIES = 2), so a "
            "client may wait longer: modelled as abandonment after one timeout, an assumption")
    shared_split: Literal["useful_clock", "tokens"] = Field(
        "useful_clock", description="several pools on a capped shared budget (docs/engine.md, The controller) — "
        "useful_clock: the split buys each pool's work up to what it serves at full load at the lowest clock whose "
        "rate is within 2 % of full clock's, gives the spare first where clock turns into tokens, then the rest "
        "(a memory-bound pool takes clock last); tokens: the earlier default, each pool's whole waiting work "
        "first, steepest tokens per W first, the spare shared by what each lacks of its full-clock draw")
    # --- powering idle replicas down (issue 13.4; docs/slo.md "Powering idle nodes down") ---
    idle_power_down: bool = Field(
        False, description="put replicas the demand does not need in standby and wake them when it rises")
    wake_up_delay: quantity("time", ge=0, le=3600) = Field(
        120.0, description="from waking a replica to its first request (boot and weight loading); "
        "assumption: no public measurement for GPU inference servers was found")
    standby_power: quantity("fraction", ge=0, le=1) = Field(
        0.05, description="wall power of a replica in standby, as a fraction of its idle wall power (BMC, fans, "
        "PSU standby); assumption: no public measurement for GPU servers was found")
    power_down_target_load: quantity("fraction", gt=0, le=1) = Field(
        0.8, description="the controller keeps awake enough replicas to serve the demand at this fraction of "
        "their throughput; the rest are put in standby (assumption, the headroom that absorbs bursts)")


class EconomicsSpec(Spec):
    """Energy price and grid carbon intensity (constant or 24 hourly values)."""

    price: quantity("price", ge=0) | None = Field(None, description="energy price, e.g. '80 USD/MWh'")
    price_profile: list[float] | None = Field(None, description="24 hourly multipliers on price")
    carbon_intensity: quantity("carbon", ge=0) | None = Field(None, description="grid intensity, e.g. '350 g/kWh'")
    carbon_profile: list[float] | None = Field(None, description="24 hourly multipliers on carbon_intensity")

    @field_validator("price_profile", "carbon_profile")
    @classmethod
    def _24(cls, v):
        if v is not None and (len(v) != 24 or any((not math.isfinite(x)) or x < 0 for x in v)):
            raise ValueError("must be 24 finite non-negative hourly multipliers")
        return v


class Scenario(Spec):
    """A complete dcsim scenario. Reproducible from (file, seed)."""

    name: str = Field(..., min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_.\-]+$")
    seed: int = Field(0, ge=0, le=2**63 - 1)
    duration: quantity("time", gt=0, le=366 * 86400) = Field(..., description="simulated time")
    fidelity: Literal["fluid", "request", "hybrid"] = "fluid"
    hybrid_sample: int = Field(8, ge=1, le=10_000, description="replicas simulated per request in hybrid fidelity "
        "(assumption: a numerical setting, run time against sampling noise; docs/engine.md)")
    facility: FacilitySpec
    racks: list[RackGroupSpec] = Field(..., min_length=1)
    workload: WorkloadSpec
    controller: ControllerSpec = Field(default_factory=ControllerSpec)
    serving: ServingSpec = Field(default_factory=ServingSpec)
    economics: EconomicsSpec = Field(default_factory=EconomicsSpec)
    faults: FaultsSpec = Field(default_factory=tuple, description="exogenous events: node failures, "
                               "cooling failures, curtailments, heat waves (docs/faults.md)")
    grid: GridSpec | None = Field(None, description="utility side: curtailment requests (schedule or process), "
                                  "hourly price and carbon (docs/grid.md)")
    deferrable: DeferrableWorkSpec | None = Field(
        None, description="a share of the output-token demand that may wait until its deadline, served into "
        "headroom or cheap/clean hours (docs/grid.md §Deferrable work; fluid fidelity)")
    start: datetime | None = Field(
        None, description="local date and time at t = 0 (ISO, e.g. 2026-07-15T13:00): the one clock of day "
        "for weather, arrivals, prices and carbon; default midnight of the weather's day (synthetic: "
        "15 July; EPW: 1 January)")
    expect: dict[str, tuple[float, float] | str] = Field(
        default_factory=dict, description="claims on report figures by dotted path: bounds [lo, hi] "
        "('binding.share.cooling: [0.3, 0.55]'), bounds on the ratio of two figures ('flexibility.with.x / "
        "flexibility.without.x: [1.4, 1.5]') or a text ('binding.shifts.0.to: compute'); checked by `dcsim run` "
        "(exit 1 with --check when one fails; not checked on a run whose start or duration was overridden)")

    _base_dir: Path | None = PrivateAttr(default=None)
    _overrides: list = PrivateAttr(default_factory=list)
    #: the window (:meth:`window`) of the file or dict as written, when overrides moved this scenario's start or
    #: duration off it (None: the same window); ``("unknown",)`` when the file alone does not validate
    _file_window: tuple | None = PrivateAttr(default=None)
    #: ``expect:`` keys set by overrides (``--set expect...``): claims made for this run, not the file's
    _claims_given: frozenset = PrivateAttr(default_factory=frozenset)

    @field_validator("racks", mode="before")
    @classmethod
    def _one_group(cls, v):
        if isinstance(v, dict) and not v:  # `racks: {}` is a slip, not a request for a default fleet
            raise ValueError("an empty mapping: give a list of rack groups (or one group as a mapping with its node)")
        return [v] if isinstance(v, dict) else v

    @model_validator(mode="after")
    def _check(self):
        names = [g.name for g in self.racks]
        if len(set(names)) != len(names):
            raise FieldError("racks", f"group names must be unique, got {names}")
        if self.duration < self.controller.tick:
            raise FieldError("duration", f"{self.duration:g} s must be at least one controller tick ({self.controller.tick:g} s)")
        for path, reason in window_errors(self.faults, self.duration):
            raise FieldError(path, reason)
        for path, reason in _serves_errors(self.racks, [c.name for c in self.workload.classes]):
            raise FieldError(path, reason)
        pools = len({frozenset(g.serves or ()) for g in self.racks})
        if self.controller.policy == "uniform" and pools > 1:
            raise FieldError("controller.policy", "'uniform' (one clock for every node) is not defined for several "
                             "model pools (racks[].serves); use 'frontier' or 'none'")
        if self.controller.idle_power_down and pools > 1:
            raise FieldError("controller.idle_power_down", "not supported with several model pools (racks[].serves) "
                             "yet: the wake/standby schedule is facility-wide; use one pool or set it false")
        flex = [k for k, v in (("grid", self.grid), ("deferrable", self.deferrable),
                               ("facility.storage", self.facility.storage),
                               ("facility.thermal", self.facility.thermal)) if v is not None]
        if self.facility.thermal is None:
            for i, g in enumerate(self.racks):
                if g.gpu_thermal is not None:
                    raise FieldError(f"racks[{i}].gpu_thermal", "applies only with facility.thermal (thermal dynamics): "
                                     "without it no die temperature is modelled; set facility.thermal or remove it")
        if flex and pools > 1:
            raise FieldError(flex[0], "not supported with several model pools (racks[].serves) yet: "
                             "the flexible responses act on one fleet; use one pool or remove it")
        if flex and self.controller.idle_power_down:
            raise FieldError(flex[0], "not supported together with controller.idle_power_down yet; "
                             "set one of them off")
        if self.deferrable is not None and self.deferrable.policy != "headroom":
            sig = "price" if self.deferrable.policy == "cheap" else "carbon"
            have = (getattr(self.grid, sig, None) is not None if self.grid is not None else False) or (
                (self.economics.price if sig == "price" else self.economics.carbon_intensity) is not None)
            if not have:
                raise FieldError("deferrable.policy", f"{self.deferrable.policy!r} needs a {sig} series "
                                 f"(grid.{sig} or economics.{'price' if sig == 'price' else 'carbon_intensity'})")
        if self.duration / self.controller.tick > 2e6:
            raise FieldError("controller.tick", f"{self.controller.tick:g} s makes {self.duration / self.controller.tick:.3g} "
                             f"ticks of the {self.duration:g} s run, above 2e6 (the per-tick time series would not fit "
                             "in memory comfortably); use a longer tick")
        return self

    @field_validator("start", mode="before")
    @classmethod
    def _iso_only(cls, v):
        # pydantic's lax mode reads a number as Unix seconds, and YAML 1.1 reads `13:00` as the base-60
        # integer 780: `start: 13:00` became 1970-01-01T00:13:00 and moved the weather and demand to
        # another season and hour without a word. Only an ISO date or date-time (string or YAML date) is
        # a clock of day.
        if isinstance(v, (bool, int, float)):
            hint = ""
            if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 86400:
                hint = (f"; YAML reads h:mm such as {v // 60}:{v % 60:02d} as the number {v}, so write the "
                        "whole date-time in quotes")
            raise ValueError(f"must be an ISO date-time such as '2026-07-15T13:00' (or a date, '2026-07-15'), "
                             f"got the number {excerpt(v, quote=False)}{hint}")
        if isinstance(v, str):
            m = re.match(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)(.*?)\s*$", v, re.S)
            if not m:
                raise ValueError(f"must be an ISO date-time such as '2026-07-15T13:00' (or a date, '2026-07-15'), "
                                 f"got {excerpt(v)}")
            # a one-digit month or day (2026-7-5) is read as its zero-padded form, so its range is checked below
            # like any other (pydantic refused 2026-7-45 as "input is too short")
            y, mo, d, rest = m.groups()
            rest = re.sub(r"^([T ])(\d)(?=:)", r"\g<1>0\2", rest)  # and a one-digit hour (T9:00)
            iso = f"{y}-{int(mo):02d}-{int(d):02d}{rest}"
            # an hour, minute, month or day out of range (T25:00, T24:00, 2026-13-01) was refused by pydantic as
            # "unexpected extra characters at the end of the input", which sent the reader looking for a typo; the
            # reason is CPython's (datetime.fromisoformat)
            try:
                datetime.fromisoformat(iso)
            except ValueError as e:
                if re.search(r"must be in|out of range", str(e)):
                    hint = " (midnight is T00:00 of the next day)" if str(e).startswith("hour") else ""
                    raise ValueError(f"{excerpt(v)} is not a time on the clock or calendar: {e}{hint}") from None
                raise ValueError(f"must be an ISO date-time such as '2026-07-15T13:00' (or a date, '2026-07-15'), "
                                 f"got {excerpt(v)} ({e})") from None
            return iso
        return v

    @field_validator("start")
    @classmethod
    def _local(cls, v):
        # the site's wall-clock time: a time zone (+02:00, Z) was dropped without a word, so 13:00Z read as 13:00 at
        # the site wherever it is (the audit of the API); refused, with the fix
        if v is not None and v.tzinfo is not None:
            raise ValueError(f"is the site's local date-time, without a time zone: got {v.isoformat()}; write "
                             f"{v.replace(tzinfo=None).isoformat(timespec='minutes')} if that is the time at the site")
        return v

    @field_validator("start")
    @classmethod
    def _in_the_calendar(cls, v, info: ValidationInfo):
        # a run ending past the calendar's last day simulated in full and then died formatting its report's local
        # times (OverflowError: date value out of range, an internal error; hostile-input probe, 2026-12-04)
        dur = info.data.get("duration")
        if v is not None and isinstance(dur, float):
            last = datetime(9999, 12, 31) - timedelta(days=1)  # a day's margin for the report's local times
            if v > last or dur > (last - v).total_seconds():
                raise ValueError(f"{v.isoformat(timespec='minutes')} plus the run's duration ({dur:g} s) ends after "
                                 f"{last.date().isoformat()}, the last day the calendar holds with a day to spare; "
                                 "choose an earlier start")
        return v

    @field_validator("expect", mode="before")
    @classmethod
    def _claim_shape(cls, v):
        """Refuse a claim that is neither bounds nor a text with one reason naming the fix: a number alone
        (``pue: 1.3``) or a bound that is no number (``[nan, 2]``, ``--set 'expect.pue=[nan, 2]'``) failed both
        branches of the union, "Input should be a valid tuple" and "... a valid string" (review of 2026-12-05)."""
        if not isinstance(v, dict):
            return v
        for k, want in v.items():
            want = plain_number(want)
            if is_boolean(want):  # two errors of the union ("a valid tuple", "a valid string, got True") until
                # 2026-12-05; a text claim of yes/no/on/off unquoted is read as one too
                raise FieldError(str(k), f"give a range [lo, hi] or a text claim, got the boolean "
                                 f"{str(bool(want)).lower()} (YAML reads true/false, yes/no and on/off as booleans); "
                                 f"a claim on a text figure is quoted, {k}: \"...\"")
            if isinstance(want, (int, float)):
                raise FieldError(str(k), f"give a range [lo, hi] or a text claim, got the number {excerpt(want)}; "
                                 f"write the bounds the figure must lie within, {k}: [lo, hi]")
            if isinstance(want, (list, tuple)):
                if len(want) != 2:
                    raise FieldError(str(k), f"give a range [lo, hi] (two numbers), got {len(want)} values "
                                             f"{excerpt(list(want), 60)}")
                for i, (side, b) in enumerate(zip(("lower", "upper"), want)):
                    try:  # a boolean, a base-60 or octal number YAML made: the reason every number field gives
                        x = plain_number(refuse_misread(b, "a number"))
                    except UnitError as e:
                        raise FieldError(f"{k}[{i}]", str(e)) from None
                    if isinstance(x, str):
                        try:
                            x = float(x.strip())
                        except ValueError:
                            pass
                    if not isinstance(x, (int, float)):
                        raise FieldError(str(k), f"the {side} bound {excerpt(b, 40)} is not a number: give a "
                                                 f"range [lo, hi] of two numbers")
                    if isinstance(x, int) and not -1e308 < x < 1e308:  # a YAML integer past any float (fuzz)
                        raise FieldError(str(k), f"the {side} bound {excerpt(b, 40)} is beyond any float: give "
                                                 f"finite bounds [lo, hi] (a wide range such as [0, 1e9] for no limit)")
                    if math.isnan(x):
                        raise FieldError(str(k), f"the {side} bound {excerpt(b, 40)} is not a number (NaN): give "
                                                 f"finite bounds [lo, hi]")
                    if math.isinf(x):
                        raise FieldError(str(k), f"the {side} bound {excerpt(b, 40)} is not finite: give finite "
                                                 f"bounds [lo, hi] (a wide range such as [0, 1e9] for no limit)")
        return v

    @field_validator("expect")
    @classmethod
    def _bounds(cls, v):
        for k, want in v.items():
            paths = ratio_parts(k) or (k,) if isinstance(k, str) else ("",)
            if isinstance(k, str) and len(paths) == 1 and "/" in k:
                raise ValueError(f"{k!r}: a ratio takes two paths joined by one slash (a.b / c.d), got "
                                 f"{len(k.split('/'))} parts")
            if not k or any(not part.strip() for path in paths for part in path.split(".")):
                raise ValueError(f"{k!r}: expected a dotted path into report.json, e.g. binding.share.power (or "
                                 "two joined by a slash for their ratio)")
            if isinstance(want, str):
                if not want.strip():
                    raise ValueError(f"{k}: an empty text to compare with")
                if len(paths) > 1:
                    raise ValueError(f"{k}: a ratio is a number: give bounds [lo, hi], got the text {want!r}")
                if _number_or_bounds_text(want):  # `pue: "[1.2, 1.7]"` failed only after the run: "not a text"
                    raise FieldError(k, f"the text {excerpt(want, 40)} is compared as text, and no number in the "
                                        f"report equals a text: give bounds unquoted, e.g. {k}: [1.2, 1.7] (--set "
                                        f"'expect.{k}=[1.2, 1.7]')")
                continue
            lo, hi = want
            if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
                raise ValueError(f"{k}: bounds must be finite with lo <= hi, got [{lo}, {hi}]")
        return v

    def clock(self) -> tuple[int, float]:
        """(day of the year at t = 0, 1-based; seconds after local midnight at t = 0)."""
        if self.start is not None:
            st = self.start
            return st.timetuple().tm_yday, st.hour * 3600.0 + st.minute * 60.0 + st.second + st.microsecond * 1e-6
        return self.facility.weather.default_start_day, 0.0

    def clock_block(self) -> dict:
        """The run's clock of day as report.json carries it (key ``clock``): ``day_of_year`` and ``hour`` at t = 0,
        and ``start`` (ISO) when the scenario sets one; what :func:`dcsim.metrics.fmt.fmt_local_time` reads."""
        day, sec = self.clock()
        out = {"day_of_year": int(day), "hour": sec / 3600.0}
        if self.start is not None:
            out["start"] = self.start.isoformat()
        return out

    def window(self) -> tuple[dict, float]:
        """``(clock block, duration in s)``: the stretch of time the run covers (:meth:`clock_block`, what report.json
        carries as ``clock``, and ``duration_s``), which the file's ``expect:`` claims were written for."""
        return self.clock_block(), float(self.duration)

    def claims_not_checked(self) -> tuple[list[str], tuple[dict, float] | None]:
        """The file's ``expect:`` keys that do not apply to this run, and the window they were written for (the
        file's :meth:`window`; None where the file alone does not validate, or when all apply: ``([], None)``):
        where overrides (``--set start=``/``duration=``, a weather kind with another default day, a sweep point, a
        planner probe) moved the run's window off the file's, the file's claims were written for its whole run,
        and a window of it fails them without anything being wrong (reference over 2 h read "expect: 4 of 6 checks
        failed"). Claims set by the overrides themselves (``--set expect...``) are this run's and are checked.
        :func:`dcsim.metrics.expect.not_checked_reason` says why, in the report's words (until 2026-12-05 the reason
        was built here, with its own clock and duration formats)."""
        if self._file_window is None or self._file_window == self.window():
            return [], None
        keys = [k for k in self.expect if k not in self._claims_given]
        if not keys:
            return [], None
        return keys, (None if self._file_window == _UNKNOWN_WINDOW else self._file_window)

    @property
    def base_dir(self) -> Path | None:
        """Folder relative paths in the scenario are resolved against (the file's folder)."""
        return self._base_dir

    @property
    def overrides(self) -> list[str]:
        """The ``path=value`` overrides applied to the file or dict this scenario was loaded from
        (``--set``, sweep points, planner probes), in order; recorded in the report's provenance."""
        return list(self._overrides)


# --------------------------------------------------------------------------- loading

def _serves_errors(racks: list[RackGroupSpec], classes: list[str]) -> list[tuple[str, str]]:
    """Class routing (``racks[].serves``): all groups say it or none does; each named class exists;
    groups listing the same classes form a pool, and every class belongs to exactly one pool."""
    given = [g.serves is not None for g in racks]
    if not any(given):
        return []
    if not all(given):
        i = given.index(False)
        return [(f"racks[{i}].serves", "when one rack group names the classes it serves, every group must "
                 f"(groups with serves: {', '.join(g.name for g in racks if g.serves is not None)})")]
    owner: dict[str, tuple[int, frozenset]] = {}
    for i, g in enumerate(racks):
        unknown = [c for c in g.serves if c not in classes]
        if unknown:
            return [(f"racks[{i}].serves", f"unknown class {unknown[0]!r} (workload classes: {', '.join(classes)})")]
        if len(set(g.serves)) != len(g.serves):
            return [(f"racks[{i}].serves", "a class is listed twice")]
        key = frozenset(g.serves)
        for c in g.serves:
            if c in owner and owner[c][1] != key:
                j = owner[c][0]
                return [(f"racks[{i}].serves", f"class {c!r} is also served by racks[{j}] ({racks[j].name}) with a "
                         "different class list: groups of one pool must list the same classes")]
            owner.setdefault(c, (i, key))
    missing = [c for c in classes if c not in owner]
    if missing:
        return [("racks", f"no rack group serves class {missing[0]!r} (add it to a group's serves)")]
    return []


def _loc_path(loc: tuple, raw: Any, *, leaf: bool = True) -> str:
    """Dotted path for a pydantic error location, dropping union tags not in the input. ``leaf``: the location's last
    element may be a key missing from the input (a missing or unknown key); without it (the model a check across
    fields raised from) every element not in the input is a tag."""
    parts: list[str] = []
    cur = raw
    for i, el in enumerate(loc):
        last = leaf and i == len(loc) - 1
        if isinstance(cur, dict) and el in cur:
            parts.append(str(el) if el != "" else "''")
            cur = cur[el]
        elif isinstance(cur, list) and isinstance(el, int) and 0 <= el < len(cur):
            parts.append(f"[{el}]")
            cur = cur[el]
        elif last and isinstance(el, str) and isinstance(cur, dict):
            parts.append(el if el else "''")  # missing or unknown key (an empty key shown as '')
        elif isinstance(el, int) and not isinstance(cur, list):
            continue
        elif not isinstance(cur, (dict, list)):
            continue  # tags of unions over scalars (e.g. 'float', 'function-after[...]')
        else:
            continue  # discriminator tag or model name
    out = ""
    for p in parts:
        out += p if p.startswith("[") or not out else "." + p
    return out


def _models_in(ann) -> list:
    """The pydantic models an annotation may hold (through Optional, Union, Annotated, list, dict, tuple)."""
    import typing

    from pydantic import BaseModel

    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    out: list = []
    for a in typing.get_args(ann):
        out += _models_in(a)
    return out


def _fields_at(loc: tuple) -> list[str]:
    """The field names of the section at ``loc`` (a pydantic error's location inside a :class:`Scenario`): every
    model the path may reach, following union members by field name or by their ``kind`` tag."""
    models: list = [Scenario]
    for el in loc:
        if not isinstance(el, str):
            continue  # a list index or a dict key: the models inside are already the candidates
        nxt = [m for c in models if el in c.model_fields for m in _models_in(c.model_fields[el].annotation)]
        if nxt:
            models = nxt
            continue
        tagged = [c for c in models if "kind" in c.model_fields and c.model_fields["kind"].default == el]
        models = tagged or models  # a discriminator tag, or a union's member name
    return sorted({f for c in models for f in c.model_fields})


def _reason(err: dict) -> str:
    msg = err.get("msg", "")
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if err.get("type") == "extra_forbidden":
        # as a misspelt expect: key gets close matches (dcsim.metrics.expect.unknown_report_paths: difflib, 0.6)
        import difflib

        loc = tuple(err.get("loc", ()))
        key = loc[-1] if loc else ""
        close = difflib.get_close_matches(str(key), _fields_at(loc[:-1]), n=3, cutoff=0.6) if key else []
        hint = f"; did you mean {', '.join(close)}?" if close else "; see `dcsim schema`"
        return f"unknown key (not a field of this section{hint})"
    if err.get("type") == "missing":
        return "required field is missing"
    inp = err.get("input")
    if err.get("type") in ("int_parsing", "float_parsing") and isinstance(inp, str):
        # pydantic's "Input should be a valid integer, unable to parse string as an integer" read as a parser's
        # complaint (walkthrough 2026-12-05, `count: 10 racks`): say what the field takes and what to write
        whole = err.get("type") == "int_parsing"
        what = "a whole number (an integer)" if whole else "a plain number"
        lead = re.match(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*\S", inp)
        fix = (f"; write {lead.group(1)}" if lead and (not whole or lead.group(1).lstrip("+-").isdigit())
               else f"; write {'a count such as 10' if whole else 'a number such as 0.5'}")
        return f"expected {what} with no unit or word, got {excerpt(inp)}{fix}"
    if err.get("type") in ("float_parsing", "int_parsing", "int_from_float", "literal_error",
                           "greater_than", "greater_than_equal", "less_than", "less_than_equal",
                           "string_pattern_mismatch", "bool_parsing", "string_type", "int_type",
                           "float_type", "list_type", "dict_type", "model_type", "union_tag_invalid",
                           "finite_number", "too_short", "too_long"):
        msg = f"{msg}, got {excerpt(inp)}"
    return excerpt(msg, 300, quote=False)


#: At most this many errors are listed; the rest are counted.
MAX_ERRORS = 25


def _errors_from(exc: ValidationError, raw: Any) -> list[tuple[str, str]]:
    seen = set()
    out = []
    errs = exc.errors(include_url=False)
    # a union such as `model: str | ModelSpec` given a mapping fails both ways: the "not a string" branch says
    # nothing when the mapping's own errors are listed, and the tags of the union ('str', 'function-after[...]',
    # 'ModelSpec') are not keys of the input
    union_tag = re.compile(r"^(str|int|float|bool|[A-Z]\w*|[\w-]+\[.*\])$")
    def _strip(loc: tuple, typ: str) -> tuple:
        while loc and typ not in ("extra_forbidden", "missing") and isinstance(loc[-1], str) and union_tag.match(loc[-1]):
            loc = loc[:-1]
        return loc
    locs = [_strip(tuple(e.get("loc", ())), e.get("type", "")) for e in errs]
    errs = [e for e, loc in zip(errs, locs)
            if not (e.get("type") == "string_type" and isinstance(e.get("input"), dict)
                    and sum(1 for other in locs if other[:len(loc)] == loc) > 1)]
    for e in errs:
        item = (_loc_path(_strip(tuple(e.get("loc", ())), e.get("type", "")), raw), _reason(e))
        blamed = (e.get("ctx") or {}).get("error")
        if isinstance(blamed, FieldError):  # a check across fields names the one it blames (not <root>), once
            f, at = blamed.field, _loc_path(tuple(e.get("loc", ())), raw, leaf=False)
            item = (at + f if f.startswith("[") or not at else f"{at}.{f}", excerpt(blamed.reason, 300, quote=False))
        if item not in seen:
            seen.add(item)
            out.append(item)
            if len(out) == MAX_ERRORS and len(errs) > MAX_ERRORS:
                out.append(("", f"... and up to {len(errs) - MAX_ERRORS} more errors not listed"))
                break
    return out


class GivenAs(Enum):
    """How overrides were given, which their errors name (:func:`override_error`); a closed set, every function
    taking ``given_as`` refuses anything else (:func:`given_as_checked`: until session 55 it was a free string, and a
    typo ``given_as='--sett'`` named ``--sett[0]`` silently). The default everywhere is :attr:`OVERRIDES_ARG`.

    - ``OVERRIDES_ARG``: the Python API's argument (``dcsim.run``, :func:`load_scenario`, :func:`apply_overrides`,
      :func:`parse_set`, :func:`parse_sets`, the planner's and the phase diagram's ``overrides=``).
    - ``SET_FLAG``: the command line's flag (run, validate, tpf, sweep, plan: :mod:`dcsim.cli`, :func:`dcsim.plan._sets`).
    - ``POINT``: a sweep's or a phase diagram's simulated point, whose paths come from the sweep file or the axes;
      the caller names the point (``sweep point 0 {...}``), the error names the path alone.
    - ``X_AXIS``, ``Y_AXIS``: a phase diagram's axis (:func:`dcsim.phase.phase_diagram`'s ``x``, ``y``), the error
      ``x: racks.9.count: ...`` (until session 55 ``overrides['racks.9.count']``, an argument its caller never gave).
    """
    OVERRIDES_ARG = "overrides"
    SET_FLAG = "--set"
    POINT = "point"
    X_AXIS = "x"
    Y_AXIS = "y"


def given_as_checked(given_as: Any) -> GivenAs:
    """``given_as`` itself when it is a :class:`GivenAs`; else a TypeError naming the argument and the members (a
    string, even a member's value, is refused: the one spelling is the member)."""
    if isinstance(given_as, GivenAs):
        return given_as
    raise TypeError(f"given_as: expected one of {', '.join('GivenAs.' + m.name for m in GivenAs)}, "
                    f"got {type(given_as).__name__} {excerpt(given_as, 40)}")


@dataclass(frozen=True)
class OverrideFault:
    """What an override's error says before it is worded (:func:`override_error`), kept on the error as
    ``ScenarioError.override`` so a caller can name it again as its user gave it (:func:`relabel_override`)."""
    given_as: GivenAs
    at: Any
    what: str
    reason: str


def override_error(given_as: GivenAs, at, what: str, reason: str) -> ScenarioError:
    """The one wording of an error in one override, named as the caller gave it (:class:`GivenAs`). ``SET_FLAG``: the
    error is under ``--set``, the item the path or the text as typed (``--set: ... racks.9.count: cannot set this
    path``). ``OVERRIDES_ARG``: under ``overrides``, the item the entry of the argument, ``overrides[0]`` for a list's
    first or ``overrides['racks.9.count']`` for a mapping's key (``at``; None where it is not known), then ``what``
    before the reason. ``X_AXIS``/``Y_AXIS``: under ``x`` (``y``), ``x: racks.9.count: ...``. ``POINT``: the path
    alone (a sweep's or a phase diagram's point, which its caller names). Until session 55 six places chose "--set"
    each, so ``dcsim.run(f, overrides=[5])`` reported under "--set:", a flag its caller never typed. The error keeps
    what it says as ``.override`` (:class:`OverrideFault`) for :func:`relabel_override`."""
    g = given_as_checked(given_as)
    if g in (GivenAs.SET_FLAG, GivenAs.POINT):
        err = ScenarioError(g.value, [(what, reason)])
    elif g in (GivenAs.X_AXIS, GivenAs.Y_AXIS):  # the axis is one path: named with it
        err = ScenarioError(g.value, [(g.value, f"{what}: {reason}" if what else reason)])
    else:
        item = g.value if at is None else f"{g.value}[{at!r}]"
        err = ScenarioError(g.value, [(item, reason if not what or what == at else f"{what}: {reason}")])
    err.override = OverrideFault(g, at, what, reason)
    return err


def relabel_override(e: ScenarioError, given_as: GivenAs, at=None) -> ScenarioError:
    """``e``, an override's error (:func:`override_error`), worded again as ``given_as`` (``at`` the entry there, if
    any); ``e`` itself when it is no override's error. The command ``dcsim plan --set`` passes its flags to the
    planner as the API's ``overrides`` mapping, and names an error the flag through this (until session 55 it read
    the file and applied every --set a second time only to borrow the flag's label); the phase diagram names an
    axis."""
    o = getattr(e, "override", None)
    if o is None:
        return e
    return override_error(given_as, at, o.what, o.reason)


def parse_set(s: str, given_as: GivenAs = GivenAs.OVERRIDES_ARG, at=None) -> tuple[str, Any]:
    """One ``"dotted.path=value"`` override (``--set``) as ``(path, value)``, the value read as a YAML scalar by the
    bounded reader (:mod:`dcsim.scenario.safeyaml`: ``5`` an int, ``20 MW`` a string); :class:`ScenarioError`
    naming it when it is not one, as it was given (:func:`override_error`: ``given_as``, and ``at`` its index)."""
    given_as = given_as_checked(given_as)
    if not isinstance(s, str):  # dcsim.run(f, overrides=[5]) raised "argument of type 'int' is not iterable"
        raise override_error(given_as, at, excerpt(s, 40, quote=False),
                             f"expected a 'dotted.path=value' string, got {type(s).__name__}")
    if "=" not in s:
        raise override_error(given_as, at, excerpt(s, 80, quote=False), "expected dotted.path=value")
    k, v = s.split("=", 1)
    try:
        return k.strip(), (load_yaml_text(v) if v.strip() else v)
    except YamlInputError as e:
        # a date naming no day (start=2026-02-30) is no error here: the YAML reader keeps its text, and the field's
        # own check names the field and the day (dcsim.scenario.safeyaml, construct_yaml_timestamp)
        raise override_error(given_as, at, excerpt(k.strip(), 80, quote=False),
                             f"value is not a YAML scalar: {e}") from None


def apply_overrides(raw: dict, overrides: dict[str, Any] | list[str] | None,
                    given_as: GivenAs = GivenAs.OVERRIDES_ARG) -> dict:
    """Return a copy of ``raw`` with dotted-path overrides applied.

    ``overrides`` is a mapping ``{"facility.interconnect": "15 MW"}`` or a list of
    ``"dotted.path=value"`` strings (values parsed as YAML scalars, so ``5`` is an int
    and ``20 MW`` a string). List indices are numbers: ``racks.0.count=12`` (or ``racks[0].count=12``).
    A mapping value merges into the mapping it lands on unless it names another ``kind`` (:func:`dcsim.scenario.paths.merged`).
    An error names the override as it was given (``given_as``, a :class:`GivenAs`: ``OVERRIDES_ARG``, the Python
    argument, by default, or ``SET_FLAG``, the command line's flag; :func:`override_error`).
    """
    given_as = given_as_checked(given_as)
    out = copy.deepcopy(raw)
    for i, (k, v, _) in enumerate(_override_items(overrides, given_as)):
        try:
            set_path(out, k, v)
        except (KeyError, IndexError, ValueError, TypeError, AttributeError) as e:
            at = k if isinstance(overrides, dict) else i
            raise override_error(given_as, at, excerpt(k, 80, quote=False),
                                 f"cannot set this path: {excerpt(str(e), 200, quote=False)}") from None
    return out


def _number_or_bounds_text(text: str) -> bool:
    """``text`` reads as a number (``"1.3"``) or as bounds (``"[1.2, 1.7]"``): an ``expect:`` claim quoted by
    mistake, compared as text with a figure that is a number, so it could only fail."""
    t = text.strip()
    if t[:1] + t[-1:] in ("[]", "()"):  # `pue: "(1.2, 1.7)"` too
        return True
    try:
        float(t)
    except ValueError:
        return False
    return True


def read_yaml(path: str | Path) -> dict:
    """Read a scenario YAML file with the safe loader, within the limits of
    :mod:`dcsim.scenario.safeyaml` (size, depth, alias expansion; duplicate keys refused);
    errors name the file and line. A string of several lines is the text of a file, not its path: until 2026-12-05
    ``load_scenario(open(f).read())`` said "File name too long" under the whole scenario as its label."""
    text = str(path).strip()
    if "\n" in text:
        first = excerpt(text.splitlines()[0], 40, quote=False)
        raise ScenarioError(f"<YAML text, {text.count(chr(10)) + 1:,} lines: {first}>", [(
            "", "this is YAML text, not a file path: give the file's path, or in Python load_scenario(yaml.safe_load("
            "text)) (a dict)")])
    p = Path(path)
    try:
        if p.is_dir():
            raise IsADirectoryError(21, "is a directory")
        with open(p, "rb") as fh:
            data = fh.read(MAX_YAML_BYTES + 1)
    except OSError as e:
        raise ScenarioError(str(p), [("", f"cannot read file: {e.strerror or e}")]) from None
    try:
        raw = load_yaml_text(read_text_bounded(data))
    except YamlInputError as e:
        raise ScenarioError(str(p), [("", str(e))]) from None
    if not isinstance(raw, dict):
        got = ("an empty document (the file holds no YAML value, or only comments)" if raw is None else
               {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
                   type(raw), type(raw).__name__) + f" ({excerpt(raw, 40)})")
        raise ScenarioError(str(p), [("", f"top level must be a mapping of keys (name: ..., duration: ...), got {got}")])
    return raw


#: the top-level keys that mark a sweep file (dcsim.sweep.SweepSpec's ``parameters`` and ``base``) and a scenario
#: (``racks``, which every scenario has and no sweep file)
SWEEP_KEYS = ("parameters", "base")
SCENARIO_KEY = "racks"


def yaml_kind(raw: Any) -> tuple[str | None, str | None]:
    """What a YAML file's top-level mapping is, and the key that says so: ``("sweep", "parameters" | "base")`` when it
    has a sweep key and no ``racks:``, ``("scenario", "racks")`` when it has ``racks:`` and no ``base:``, else
    ``(None, None)`` (neither, or both a ``racks:`` and a ``base:``: validated as what it was given as, the
    validator naming the fields). The one rule: :func:`load_scenario` (``dcsim run``, ``validate``, ``tpf``, ``plan``,
    the phase diagram, ``dcsim.run``) refuses a "sweep", :func:`dcsim.sweep.load_sweep` (``dcsim sweep``) a
    "scenario", and a sweep's ``base:`` a "sweep". Until session 53 each of the three wrote its own test of the keys
    (the scenario loader and the sweep's base one rule, the sweep loader its converse)."""
    if not isinstance(raw, dict):
        return None, None
    scenario = SCENARIO_KEY in raw
    sweep = next((k for k in SWEEP_KEYS if k in raw), None)
    if sweep is not None and not scenario:
        return "sweep", sweep
    if scenario and "base" not in raw:
        return "scenario", SCENARIO_KEY
    return None, None


def check_scenario_arg(scenario: Any, name: str = "scenario") -> None:
    """TypeError unless ``scenario`` is a path (str or os.PathLike), a dict or a :class:`Scenario`, naming the
    argument ``name`` (the input audit AUH of 2026-12-05, 9: ``dcsim.run(42)`` raised pathlib's ``expected str,
    bytes or os.PathLike object, not int``). Bytes are refused with the way to pass YAML text (:func:`read_yaml`
    reads a file; a YAML string is parsed with ``yaml.safe_load`` into the dict form). The one check of every entry
    point that takes a scenario: :func:`load_scenario`, :func:`dcsim.run`, the planner, the sweep, the phase
    diagram (re-exported by :mod:`dcsim.argcheck`)."""
    if isinstance(scenario, (Scenario, dict, str, os.PathLike)):
        return
    kind = type(scenario).__name__
    if isinstance(scenario, (bytes, bytearray)):
        raise TypeError(f"{name}: expected a path, a dict or a Scenario, got {kind}; for YAML text, "
                        "pass yaml.safe_load(text) (a dict), for a file its path as a str")
    raise TypeError(f"{name}: expected a path, a dict or a Scenario, got {kind} {excerpt(scenario, 40)}")


def load_scenario(source: str | Path | dict | Scenario, overrides: dict | list[str] | None = None,
                  base_dir: str | Path | None = None, label: str | None = None,
                  given_as: GivenAs = GivenAs.OVERRIDES_ARG) -> Scenario:
    """Load and validate a scenario from a YAML path, a dict, or an existing Scenario.

    ``overrides`` (dotted paths) are applied before validation. Raises
    :class:`ScenarioError` naming the file, each field path and the reason. ``label`` names the source in those
    errors: the file a dict was read from (dcsim.plan and dcsim.sweep read the file first, then validate it with
    the planner's or the sweep's overrides); by default the path, the Scenario's name, or ``<dict>``. A ``source``
    of another type is a TypeError naming it (:func:`check_scenario_arg`; ``load_scenario(42)`` raised
    pathlib's own). ``given_as`` (a :class:`GivenAs`) names the overrides in their errors (:func:`override_error`):
    the Python argument, ``overrides[0]``, by default; the command line passes ``GivenAs.SET_FLAG``.
    """
    check_scenario_arg(source, "source")
    given_as = given_as_checked(given_as)
    prior: list[str] = []
    if isinstance(source, Scenario):
        if not overrides:
            return source
        raw, named, bdir = source.model_dump(mode="json", exclude_unset=True), source.name, source.base_dir
        prior = source.overrides
    elif isinstance(source, dict):
        raw, named, bdir = source, "<dict>", Path(base_dir) if base_dir else None
    else:
        p = Path(source)
        raw, named, bdir = read_yaml(p), str(p), p.resolve().parent
    if base_dir is not None:
        bdir = Path(base_dir)
    label = named if label is None else str(label)
    kind, key = yaml_kind(raw)
    if kind == "sweep":
        # a sweep file given as a scenario (`dcsim validate sweep.yaml`) listed eight errors ("duration: required
        # field is missing", "base: unknown key", ...) instead of saying what the file is
        raise ScenarioError(label, [("", f"a sweep file (it has {key}:), not a scenario: run it with `dcsim sweep "
                                         f"{excerpt(named, 60, quote=False)}` (dcsim.sweep.run_sweep in Python)")])
    written = raw
    raw = apply_overrides(raw, overrides, given_as)
    try:
        sc = Scenario.model_validate(raw)
    except ValidationError as e:
        raise ScenarioError(label, _errors_from(e, raw)) from None
    except (ValueError, TypeError) as e:  # raised outside pydantic's wrapping
        raise ScenarioError(label, [("", excerpt(str(e), 300, quote=False))]) from None
    except RecursionError:
        raise ScenarioError(label, [("", "input nested too deeply to validate")]) from None
    sc._base_dir = bdir
    sc._overrides = prior + _override_strings(overrides)
    _expect_scope(sc, source, written, overrides)
    return sc


#: ``Scenario._file_window`` where the file alone does not validate (an override completed it): its window is unknown
_UNKNOWN_WINDOW = ("unknown",)


def _expect_scope(sc: Scenario, source, written: dict, overrides) -> None:
    """Record on ``sc`` what its ``expect:`` claims were written for (:meth:`Scenario.claims_not_checked`): the
    window of the file (or of the Scenario overridden) when the overrides moved it, and the claims the overrides set
    themselves. The file's window is compared whenever there are overrides and claims (until 2026-12-05 only when
    they named ``start`` or ``duration``: a weather kind with another default day moved the run unseen)."""
    paths = []
    for k, _, _ in _override_items(overrides):
        try:
            paths.append(split_path(str(k)))
        except ValueError:
            continue
    given = set(source._claims_given) if isinstance(source, Scenario) else set()
    for keys in paths:
        if keys[0] == "expect":
            given |= set(sc.expect) if len(keys) == 1 else {keys[1]}
    sc._claims_given = frozenset(given)
    if isinstance(source, Scenario):
        base = source._file_window or source.window()
    elif paths and sc.expect:
        try:
            base = Scenario.model_validate(written).window()
        except Exception:  # the file alone does not validate (an override completed it): its window is unknown
            base = _UNKNOWN_WINDOW
    else:
        base = None
    sc._file_window = None if base is None or base == sc.window() else base


def _override_items(overrides: dict | list[str] | None, given_as: GivenAs = GivenAs.OVERRIDES_ARG) -> list[tuple[str, Any, str]]:
    """Overrides given as a mapping or as ``--set`` strings, read once the same way for every use
    (:func:`apply_overrides`, the ``expect:`` scope, the provenance strings): ``(path, value, "path=value" as
    given)``. :class:`ScenarioError` for one string (iterated character by character it read "f: expected
    dotted.path=value") or a string that is no ``path=value`` (:func:`parse_set`)."""
    if not overrides:
        return []
    if isinstance(overrides, str):
        raise ScenarioError("overrides", [("overrides", "expected a mapping {dotted.path: value} or a list of "
                                           f"'dotted.path=value' strings, got one string {excerpt(overrides, 80)}")])
    if isinstance(overrides, dict):
        return [(k, v, f"{k}={v}") for k, v in overrides.items()]
    return parse_sets(overrides, given_as)


def parse_sets(sets, given_as: GivenAs = GivenAs.OVERRIDES_ARG) -> list[tuple[str, Any, str]]:
    """``--set`` strings as ``(path, value, "path=value" as given)`` (:func:`parse_set` each), refusing one field set
    twice to different values (:class:`ScenarioError` naming both): until 2026-12-05 the last silently won
    (``--set duration='1 h' --set duration='2 h'`` ran 2 h). The field is compared as :func:`split_path` reads it,
    so ``racks[0].count`` and ``racks.0.count`` are one field; the same value given twice is accepted (it changes
    nothing). The one reading of every command's ``--set`` (run, validate, tpf, sweep, plan: :func:`dcsim.plan._sets`),
    which pass ``given_as=GivenAs.SET_FLAG``; the default names the Python argument, as every ``given_as`` does.

    Overlapping paths are refused too, whatever their values: a field and a section holding it
    (``--set power_chain.ups_l0=0.01 --set power_chain={...}``, in either order, in any spelling of either path).
    Until 2026-12-06 both were applied in turn, so the order given decided silently what the run used (the section's
    mapping merges into it, or replaces a list or a free section such as ``expect``)."""
    given_as = given_as_checked(given_as)
    out: list[tuple[str, Any, str]] = []
    seen: dict[tuple[str, ...], tuple[Any, str]] = {}
    for i, x in enumerate(sets):
        k, v = parse_set(x, given_as, i)
        text = str(x).strip()
        try:
            key = split_path(k)
        except ValueError:
            key = (k,)  # apply_overrides names the bad path
        if key in seen and seen[key][0] != v:
            raise override_error(given_as, i, excerpt(k, 80, quote=False),
                                 f"set twice to different values ({excerpt(seen[key][1], 80)} and "
                                 f"{excerpt(text, 80)}): give the field once")
        for other, (_, other_text) in seen.items():
            if other != key and (other[:len(key)] == key or key[:len(other)] == other):  # one holds the other
                inner, outer = (other_text, text) if len(other) > len(key) else (text, other_text)
                raise override_error(given_as, i, excerpt(k, 80, quote=False),
                                     f"overlapping paths: {excerpt(inner, 80)} sets a field inside what "
                                     f"{excerpt(outer, 80)} sets, so the order given would decide which "
                                     "value the run uses: give the field in the section's value, or only the field")
        seen.setdefault(key, (v, text))
        out.append((k, v, text))
    return out


def _override_strings(overrides: dict | list[str] | None) -> list[str]:
    """``path=value`` strings of overrides given as a mapping or as ``--set`` strings."""
    return [text for _, _, text in _override_items(overrides)]


def scenario_hash(sc: Scenario) -> str:
    """sha256 of the resolved scenario (canonical JSON), for provenance and caching."""
    import hashlib
    import json

    blob = json.dumps(sc.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()
