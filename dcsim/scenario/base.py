"""Base class for every scenario spec: frozen, unknown keys rejected."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Spec(BaseModel):
    """A frozen pydantic model; unknown keys are errors (``extra='forbid'``).

    Specs are pure data: they import nothing from the rest of dcsim except
    :mod:`dcsim.units`, and a component receives only its own sub-spec.
    """

    # allow_inf_nan=False: a plain float field (a multiplier, a count) is never meant to be inf or NaN; `.inf` in
    # one passed validation and failed deep in a run as an internal error (audit C, C1-C2). Quantity fields check
    # the same in dcsim.units.quantity.
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False)
