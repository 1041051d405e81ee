"""Fault specs: exogenous events a scenario can inject (``faults:`` list, ``kind`` discriminator).

Pure data (pydantic v2, frozen, ``extra='forbid'``); the schedule is sampled and evaluated in
:mod:`dcsim.faults`. Four kinds:

* ``node_failures`` — every replica (the GPUs serving one model copy) fails and is repaired as
  an independent renewal process: time to failure exponential or Weibull with mean ``mtbf``,
  repair time fixed or exponential with mean ``repair``. Optionally limited to one rack group.
* ``cooling_failure`` — a chiller / cooling unit out: heat-rejection capacity × (1 − capacity_loss)
  during ``[start, start + duration)``.
* ``curtailment`` — utility curtailment or demand response: the interconnect cap lowered to an
  absolute ``cap`` or to ``fraction`` of the contract during the window.
* ``heat_wave`` — outdoor dry-bulb (and wet-bulb) raised by ``offset`` during the window, with an
  optional linear ``ramp`` in and out.

Example (YAML)::

    faults:
      - {kind: node_failures, mtbf: 800 h, repair: 4 h}
      - {kind: cooling_failure, start: 14 h, duration: 2 h, capacity_loss: 25%}
      - {kind: curtailment, start: 17 h, duration: 1 h, fraction: 70%}
      - {kind: heat_wave, start: 10 h, duration: 8 h, offset: 6 K, ramp: 2 h}

No default here is a measurement: every default below is marked ``assumption``; typical failure
rates with their sources are in ``docs/faults.md``.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BeforeValidator, Field, model_validator

from dcsim.scenario.base import FieldError, Spec
from dcsim.units import quantity

__all__ = [
    "NodeFailuresSpec",
    "CoolingFailureSpec",
    "CurtailmentSpec",
    "HeatWaveSpec",
    "FaultSpec",
    "FaultsSpec",
    "FAULT_KINDS",
    "window_errors",
]

#: longest fault window and run horizon accepted (one year, as ``Scenario.duration``)
_YEAR = 366 * 86400.0
Start = quantity("time", ge=0, le=_YEAR)
Window = quantity("time", gt=0, le=_YEAR)


class _WindowSpec(Spec):
    """A fault acting during ``[start, start + duration)`` (seconds from the start of the run)."""

    start: Start = Field(description="when the fault begins, from the start of the run")
    duration: Window = Field(description="how long it lasts")

    @property
    def end(self) -> float:
        """End of the window, s."""
        return self.start + self.duration


class NodeFailuresSpec(Spec):
    """Replicas fail and are repaired at random (independent renewal processes per replica).

    ``mtbf`` is the mean time between failures of one replica (all ``tensor_parallel`` GPUs of a
    model copy: a series system, so replica MTBF ≈ GPU MTBF / GPUs per replica for exponential
    lifetimes). While a replica is down the compute ceiling and the power/cooling ceilings shrink
    in proportion; work waits (and is shed only after ``controller.hold_limit``, counted).
    """

    kind: Literal["node_failures"] = "node_failures"
    mtbf: quantity("time", ge=60.0, le=1e10) = Field(
        description="mean time between failures of one replica (≥ 1 min)")
    repair: quantity("time", gt=0, le=_YEAR) = Field(description="mean time to repair / replace and rejoin")
    distribution: Literal["exponential", "weibull"] = Field(
        "exponential", description="time-to-failure distribution (assumption: exponential)")
    shape: quantity("count", ge=0.2, le=20) = Field(
        1.0, description="Weibull shape k (k < 1 infant mortality, k > 1 wear-out); ignored for exponential")
    repair_distribution: Literal["fixed", "exponential"] = Field(
        "exponential", description="repair time distribution (assumption: exponential)")
    group: str | None = Field(None, min_length=1, max_length=120,
                              description="rack group name the failures apply to; None = every group")
    initial: Literal["stationary", "as_new"] = Field(
        "stationary", description="stationary: the run starts in the failure/repair process's steady "
        "state (some replicas may already be down at t=0); as_new: every replica starts fresh at t=0")

    @model_validator(mode="after")
    def _shape_only_for_weibull(self):
        if self.distribution == "exponential" and self.shape != 1.0:
            raise FieldError("shape", "applies to distribution: weibull only (exponential has shape 1)")
        return self


class CoolingFailureSpec(_WindowSpec):
    """A chiller or cooling unit fails: heat-rejection capacity × (1 − capacity_loss) in the window."""

    kind: Literal["cooling_failure"] = "cooling_failure"
    capacity_loss: quantity("fraction", gt=0, le=1) = Field(
        description="share of the plant's heat-rejection capacity lost, e.g. 25% for one of four chillers")


class CurtailmentSpec(_WindowSpec):
    """Utility curtailment / demand response: the interconnect cap is lowered in the window.

    Give exactly one of ``cap`` (absolute power at the meter) or ``fraction`` (of the contract).
    A ``cap`` above the contracted interconnect has no effect (it never raises the cap).
    """

    kind: Literal["curtailment"] = "curtailment"
    cap: quantity("power", ge=0, le=1e12) | None = Field(None, description="interconnect cap during the window")
    fraction: quantity("fraction", ge=0, le=1) | None = Field(
        None, description="interconnect cap during the window as a fraction of the contract")

    @model_validator(mode="after")
    def _one_of(self):
        if (self.cap is None) == (self.fraction is None):
            raise FieldError("cap" if self.cap is None else "fraction", "give exactly one of cap (e.g. '12 MW') or fraction (e.g. '60%')")
        return self


class HeatWaveSpec(_WindowSpec):
    """Outdoor temperature raised by ``offset`` in the window (linear ramp in and out over ``ramp``).

    ``wet_bulb_offset`` defaults to ``offset`` (assumption: a humid heat wave; conservative for
    evaporative plants — a dry heat wave at constant moisture raises the wet-bulb less).
    """

    kind: Literal["heat_wave"] = "heat_wave"
    offset: quantity("temperature_delta", gt=0, le=40) = Field(description="dry-bulb increase at full strength")
    wet_bulb_offset: quantity("temperature_delta", ge=0, le=40) | None = Field(
        None, description="wet-bulb increase; None = offset (assumption)")
    ramp: quantity("time", ge=0, le=_YEAR) = Field(
        0.0, description="linear ramp up after start and down before the end (0 = step change)")

    @model_validator(mode="after")
    def _consistent(self):
        if 2.0 * self.ramp > self.duration:
            raise FieldError("ramp", f"{self.ramp:g} s up and down must fit in duration ({self.duration:g} s)")
        if self.wet_bulb_offset is not None and self.wet_bulb_offset > self.offset:
            raise FieldError("wet_bulb_offset", "must not exceed offset (the wet-bulb would pass the dry-bulb)")
        return self


FAULT_KINDS = ("node_failures", "cooling_failure", "curtailment", "heat_wave")

FaultSpec = Annotated[
    Union[NodeFailuresSpec, CoolingFailureSpec, CurtailmentSpec, HeatWaveSpec],
    Field(discriminator="kind"),
]


def as_list(v):
    """A single mapping is a one-entry list; ``null`` is no faults."""
    if v is None:
        return []
    if isinstance(v, dict):
        return [v]
    return v


#: The scenario's ``faults:`` entry: a list (stored as a tuple, so it is immutable) of fault specs.
FaultsSpec = Annotated[
    tuple[FaultSpec, ...],
    BeforeValidator(as_list),
    Field(max_length=1000, description="exogenous faults: node_failures, cooling_failure, curtailment, heat_wave"),
]


def window_errors(windows, duration_s: float, field: str = "faults", what: str = "fault") -> list[tuple[str, str]]:
    """(field path, reason) for windows (anything with a ``start``, s) that start at or after the end of the run:
    ``field[i].start``, "the ``what`` starts at ...".

    For ``Scenario``'s model validator, which refuses such a fault (one that can never act is almost always a typo,
    e.g. ``start: 30 h`` in a 24 h run), and for preflight's warning on ``grid.curtailment.events`` (warned: a
    shortened run keeps its grid schedule); windows that merely run past the end are allowed.
    """
    out = []
    for i, f in enumerate(windows or ()):
        start = getattr(f, "start", None)
        if start is not None and start >= duration_s:
            out.append((f"{field}[{i}].start", f"the {what} starts at {start:g} s, at or after the end of the "
                                                f"run ({duration_s:g} s), so it would never act"))
    return out
