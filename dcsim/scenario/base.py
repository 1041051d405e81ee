"""Base class for every scenario spec: frozen, unknown keys rejected, no boolean where a number is asked for."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic_core import core_schema

from dcsim.units import is_boolean, plain_number, refuse_misread

__all__ = ["NoBoolNumbers", "Spec", "FieldError", "FilePath"]

_MARK = "dcsim_refuses_bool"
#: keys of a pydantic-core schema that hold one inner schema, or a list of them
_INNER = ("schema", "items_schema", "keys_schema", "values_schema", "lax_schema", "strict_schema", "python_schema")
_INNER_LISTS = ("steps", "definitions")


class FieldError(ValueError):
    """A check across fields (a ``model_validator``) that blames one of them: ``field`` is its dotted path relative
    to the model that raises (``"controller.tick"`` from the scenario, ``"chiller_min_load"`` from the cooling spec).
    The scenario's error list (``dcsim.scenario._errors_from``) names ``<where the model sits>.<field>``, so the
    message says which value to change instead of ``<root>`` or the enclosing section.

    ``reason`` says what is wrong without naming ``field`` again (``"800 W must be < tdp_w (700 W)"`` for
    ``idle_w``): the error list puts it under the field's path, and the exception's own text (a catalog file's or a
    Python caller's pydantic error) is ``"<field>: <reason>"``, naming it once."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _refusing(expected: str, schema: dict) -> dict:
    """``schema`` behind a check that refuses a boolean (numpy's too; or a base-60 or octal number YAML made), saying
    ``expected`` (:func:`dcsim.units.refuse_misread`), and reads numpy's numbers and a Fraction as Python's
    (:func:`dcsim.units.plain_number`)."""
    return core_schema.no_info_before_validator_function(lambda v: plain_number(refuse_misread(v, expected)),
                                                         schema, metadata={_MARK: True})


def _leaf(s: Any) -> str | None:
    """The type of a number-or-not schema through its wrappers (``int``, ``float``, ``bool``, ``str``, ...)."""
    for _ in range(8):
        if not isinstance(s, dict):
            return None
        if s.get("type") in ("nullable", "default", "function-before", "function-after", "function-wrap"):
            s = s.get("schema")
            continue
        return s.get("type")
    return None


def _no_bool_schema(s: Any, owner: type) -> Any:
    """Put the boolean check in front of every ``int`` and ``float`` of a model's core schema, and of every union that
    holds one but no ``bool`` (so ``str | int`` says one thing); other models' schemas carry their own. In place."""
    if not isinstance(s, dict) or (s.get("metadata") or {}).get(_MARK):
        return s
    t = s.get("type")
    if t == "model" and s.get("cls") is not owner:
        return s
    for k in _INNER:
        if isinstance(s.get(k), dict):
            s[k] = _no_bool_schema(s[k], owner)
        elif isinstance(s.get(k), list):  # a tuple's items_schema
            s[k] = [_no_bool_schema(x, owner) for x in s[k]]
    for k in _INNER_LISTS:
        if isinstance(s.get(k), list):
            s[k] = [_no_bool_schema(x, owner) for x in s[k]]
    if t == "model-fields":
        for f in s.get("fields", {}).values():
            f["schema"] = _no_bool_schema(f["schema"], owner)
    elif t == "tagged-union":
        s["choices"] = {k: _no_bool_schema(c, owner) for k, c in s["choices"].items()}
    elif t == "union":
        s["choices"] = [(_no_bool_schema(c[0], owner), c[1]) if isinstance(c, tuple) else _no_bool_schema(c, owner)
                        for c in s["choices"]]
        leaves = {_leaf(c[0] if isinstance(c, tuple) else c) for c in s["choices"]}
        if leaves & {"int", "float"} and "bool" not in leaves:
            what = "a whole number" if "float" not in leaves else "a number"
            return _refusing(f"a string or {what}" if "str" in leaves else what, s)
    if t in ("int", "float"):
        return _refusing("a whole number" if t == "int" else "a number", s)
    if t == "bool":  # symmetric: pydantic's lax mode read 0 / 1 (and "0", "off") as a boolean
        return core_schema.no_info_before_validator_function(_refuse_non_bool, s, metadata={_MARK: True})
    return s


def _refuse_non_bool(value: Any) -> Any:
    """``value`` if a boolean; a number or a string given for a true/false field is refused (``slo_estimate: 0`` was
    read as false without a word, where a boolean given for a number is refused)."""
    if is_boolean(value):  # numpy's too (np.bool_ is named "bool" in numpy 2: it was refused as "got a bool")
        return bool(value)
    raise ValueError(f"expected true or false, got {value!r}" if isinstance(value, (int, float, str)) else
                     f"expected true or false, got a {type(value).__name__}")


class NoBoolNumbers(BaseModel):
    """A pydantic model none of whose number fields (``int``, ``float``, also inside lists, tuples, mappings and
    unions) takes a boolean; :func:`dcsim.units.quantity` fields refuse one in :func:`dcsim.units.parse_quantity`.

    pydantic's lax mode reads ``True`` as 1, and YAML reads ``yes``, ``on`` and ``true`` as ``True``: ``count: yes`` or
    ``--set racks.0.count=true`` ran one rack without a word (and YAML 1.1 reads ``1:30`` as 90 and ``010`` as 8:
    refused the same way, :func:`dcsim.units.refuse_misread`). One hook, inherited by every spec (and the sweep file's
    models), puts the check in front of every number of the model's validator when pydantic builds it, so a field
    added later is covered too; the error keeps pydantic's location (``racks[0].count``,
    ``economics.price_profile[23]``) and the JSON schema is unchanged."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        return _no_bool_schema(handler(source), cls)


class Spec(NoBoolNumbers):
    """A frozen pydantic model; unknown keys are errors (``extra='forbid'``); no number field takes a boolean
    (:class:`NoBoolNumbers`).

    Specs are pure data: they import nothing from the rest of dcsim except
    :mod:`dcsim.units`, and a component receives only its own sub-spec.
    """

    # allow_inf_nan=False: a plain float field (a multiplier, a count) is never meant to be inf or NaN; `.inf` in
    # one passed validation and failed deep in a run as an internal error (audit C, C1-C2). Quantity fields check
    # the same in dcsim.units.quantity.
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False)


def _nonblank_path(value: str) -> str:
    """``value`` unless blank: an empty ``path:`` resolved to the scenario's own folder and was refused as
    ``workload.arrivals: : not a regular file (resolved to .../scenarios)``."""
    if not value.strip():
        raise ValueError("empty path: give the file's path (relative to the scenario file, or absolute)")
    return value


#: A data file's path in a scenario (weather, trace, rate profile, grid series): a string, not blank.
FilePath = Annotated[str, AfterValidator(_nonblank_path)]
