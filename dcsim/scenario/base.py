"""Base class for every scenario spec: frozen, unknown keys rejected."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Spec(BaseModel):
    """A frozen pydantic model; unknown keys are errors (``extra='forbid'``).

    Specs are pure data: they import nothing from the rest of dcsim except
    :mod:`dcsim.units`, and a component receives only its own sub-spec.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)
