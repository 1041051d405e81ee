"""Grid-side specs (issue 18, phase 1): utility curtailment requests as a schedule or a seeded
process, hourly price and carbon series, and deferrable work with a deadline.

Pure data (pydantic v2, frozen, ``extra='forbid'``). The models are in :mod:`dcsim.power.grid`
and :mod:`dcsim.workload.deferrable`; docs/grid.md gives the source of every default. Not yet
wired into :class:`dcsim.scenario.Scenario` (phase 2), e.g.::

    grid:
      curtailment: {kind: process, budget: 0.5%, max_duration: 4 h, depth: 50%, notice: 1 h}
      price: {kind: daily_profile, value: 60 USD/MWh, profile: [0.8, ..., 1.6]}
      carbon: {kind: constant, value: 350 g/kWh}
    deferrable: {share: 30%, deadline: 24 h, policy: cheap}
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from dcsim.scenario.base import FieldError, FilePath, Spec
from dcsim.units import quantity

__all__ = [
    "CurtailmentRequestSpec", "CurtailmentScheduleSpec", "CurtailmentProcessSpec", "CurtailmentSpec",
    "PriceSeriesSpec", "CarbonSeriesSpec", "DeferrableWorkSpec", "GridSpec",
]

_YEAR = 366 * 86400.0
Time = quantity("time", ge=0, le=_YEAR)
Window = quantity("time", gt=0, le=_YEAR)
Frac = quantity("fraction", ge=0, le=1)
PosFrac = quantity("fraction", gt=0, le=1)
Power = quantity("power", gt=0)

_NOTICE = Field(3600.0, description="warning before the cap applies. PJM Emergency Load Response lead times "
                "are 30–120 min (loadvizpro.com PJM DR summary; rodan.com) [S]; 1 h within that range (assumption)")


class CurtailmentRequestSpec(Spec):
    """One utility request: from ``start`` (s from the run start) for ``duration``, the meter may
    draw at most ``(1 − depth)`` × contract, or ``cap`` if given; announced ``notice`` before."""

    start: Time
    duration: Window
    depth: Frac = Field(0.5, description="share of the contract to shed (assumption)")
    cap: Power | None = Field(None, description="absolute meter cap instead of depth")
    notice: Time = _NOTICE


class CurtailmentScheduleSpec(Spec):
    kind: Literal["schedule"] = "schedule"
    events: list[CurtailmentRequestSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_overlap(self):
        ev = sorted(self.events, key=lambda e: e.start)
        for a, b in zip(ev, ev[1:]):
            if b.start < a.start + a.duration:
                raise FieldError("events", f"curtailment events overlap: one starts at {b.start:g} s before the one "
                                 f"starting at {a.start:g} s ends")
        return self


class CurtailmentProcessSpec(Spec):
    """Curtailment requests drawn from the scenario seed: events of random duration (exponential
    with mean ``mean_duration``, truncated to ``max_duration``) whose total is ``budget`` × the
    horizon, placed at random non-overlapping starts inside ``months`` × ``hours`` (local clock
    of the run's ``start``)."""

    kind: Literal["process"] = "process"
    budget: Frac = Field(
        0.005, description="share of the horizon's hours under curtailment. Norris et al., 'Rethinking "
        "Load Growth', Duke Nicholas Institute 2025: ~100 GW of new load fits the US grid at 0.5 % "
        "average annual curtailment (76 GW at 0.25 %, 126 GW at 1 %) [S]")
    mean_duration: Window = Field(7200.0, description="mean event length; the same study's 0.5 % case is "
                                  "'roughly two hours during peak events' [S]")
    max_duration: Window = Field(4 * 3600.0, description="longest single event (assumption, the issue's example '≤ 4 h each')")
    depth: Frac = Field(0.5, description="share of the contract shed per event (assumption)")
    notice: Time = _NOTICE
    months: list[int] = Field(default_factory=lambda: [1, 2, 6, 7, 8, 12],
                              description="months events may fall in: summer and winter peaks (assumption)")
    hours: list[int] = Field(default_factory=lambda: list(range(7, 10)) + list(range(14, 21)),
                             description="local hours events may start in: morning and afternoon-evening peaks (assumption)")

    @field_validator("months", "hours")
    @classmethod
    def _calendar(cls, v, info):
        lo, hi = (1, 12) if info.field_name == "months" else (0, 23)
        if not v or any(x < lo or x > hi for x in v):
            raise ValueError(f"{info.field_name} must be a non-empty list of {lo}–{hi}")
        return sorted(set(v))

    @model_validator(mode="after")
    def _durations(self):
        if self.mean_duration > self.max_duration:
            raise FieldError("mean_duration", "must be <= max_duration")
        return self


CurtailmentSpec = Annotated[Union[CurtailmentScheduleSpec, CurtailmentProcessSpec], Field(discriminator="kind")]


class _SeriesSpec(Spec):
    """constant: `value`; daily_profile: `value` × 24 hourly multipliers (local hour); csv: an
    hourly file (one value per row in column `column`, hour 0 = the run's start hour of 1 January;
    repeated when shorter than the run)."""

    kind: Literal["constant", "daily_profile", "csv"] = "constant"
    profile: list[float] | None = None
    path: FilePath | None = None
    column: str = "value"

    @field_validator("profile")
    @classmethod
    def _24(cls, v):
        if v is not None and (len(v) != 24 or any((not math.isfinite(x)) or x < 0 for x in v)):
            raise ValueError("profile must be 24 finite non-negative hourly multipliers")
        return v

    @model_validator(mode="after")
    def _need(self):
        if self.kind == "daily_profile" and self.profile is None:
            raise FieldError("profile", "kind daily_profile needs profile (24 multipliers)")
        if self.kind == "csv" and not self.path:
            raise FieldError("path", "kind csv needs path")
        if self.kind != "csv" and getattr(self, "value", None) is None:
            raise FieldError("value", f"kind {self.kind} needs value")
        return self


class PriceSeriesSpec(_SeriesSpec):
    value: quantity("price", ge=0) | None = Field(None, description="energy price, e.g. '60 USD/MWh' (SI: USD/J)")


class CarbonSeriesSpec(_SeriesSpec):
    value: quantity("carbon", ge=0) | None = Field(None, description="grid intensity, e.g. '350 g/kWh' (SI: g/J)")


class DeferrableWorkSpec(Spec):
    """A share of the output-token demand that may wait (a batch API), served into headroom or
    cheap/clean hours and due within ``deadline`` of its arrival. Nothing is dropped: work done
    after its deadline is served and counted as late."""

    share: Frac = Field(0.3, description="share of the output-token demand that is deferrable (assumption)")
    deadline: Window = Field(
        86400.0, description="completion window: 24 h, as the OpenAI and Anthropic batch APIs (both: results "
        "within 24 h at 50 % of the synchronous price; openrouter.ai/blog batch-api, apidog.com) [S]")
    policy: Literal["headroom", "cheap", "clean"] = Field(
        "headroom", description="headroom: serve whenever capacity is spare; cheap/clean: only in hours whose "
        "price/carbon is at or below the `quantile` of the run's series, unless the deadline is near")
    quantile: PosFrac = Field(0.3, description="cheap/clean threshold: this quantile of the series (assumption)")
    urgency: Window = Field(
        4 * 3600.0, description="work due within this is served whatever the price (assumption)")

    @model_validator(mode="after")
    def _check(self):
        if self.urgency > self.deadline:
            raise FieldError("urgency", "must be <= deadline")
        return self


class GridSpec(Spec):
    """The utility side of a run (all optional)."""

    curtailment: CurtailmentSpec | None = None
    price: PriceSeriesSpec | None = None
    carbon: CarbonSeriesSpec | None = None

    @field_validator("price", "carbon", mode="before")
    @classmethod
    def _a_quantity_is_a_constant_series(cls, v):
        """A bare quantity (``price: 80 USD/MWh``, ``--set 'grid.carbon=350 g/kWh'``, as the README writes a price) is
        the constant series ``{kind: constant, value: ...}``; its value is then checked as any series' (a unit
        required). Until 2026-12-05 it was refused with pydantic's "a valid dictionary or instance of
        PriceSeriesSpec"."""
        if isinstance(v, (str, int, float)) and not isinstance(v, bool):
            return {"kind": "constant", "value": v}
        return v
