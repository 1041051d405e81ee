"""Physical quantities: parse "20 MW", "35 degC", "6 h" into SI floats.

Inside the engine every quantity is a plain float in SI units:

=================  =========  ==========================================
dimension          SI unit    accepted unit strings (case-sensitive)
=================  =========  ==========================================
power              W          W kW MW GW
energy             J          J kJ MJ GJ Wh kWh MWh GWh
temperature        degC       degC °C C K degF °F   (absolute; stored in degC)
temperature_delta  K          K degC °C delta_degC
time               s          ns us ms s min h d day days
data               B          B kB MB GB TB KiB MiB GiB TiB
bandwidth          B/s        B/s kB/s MB/s GB/s TB/s
compute            FLOP/s     FLOP/s GFLOP/s TFLOP/s PFLOP/s (also FLOPS, TFLOPS)
rate               1/s        /s 1/s /min /h  (a prefix word for requests is allowed: "req/s", "requests/min"; "tok/s" is refused)
price              USD/J      USD/kWh USD/MWh USD/J  (a unit is required: a bare number other than 0 is refused)
carbon             g/J        g/kWh kg/MWh g/J       (a unit is required, as for price)
fraction           1          plain number or "30%"
=================  =========  ==========================================

Temperatures are the one exception to strict SI: absolute temperatures are
kept in degrees Celsius (an SI-derived unit) because the published plant
regressions (e.g. Lei & Masanet 2020 chiller COP) are written in degC.

A bare number is taken to be in the SI unit of its field (degC for
temperatures), except prices and carbon intensities, which need a unit (nobody quotes USD or
grams per joule). Use :func:`quantity` to build a pydantic field type that
parses, converts and range-checks, and reports errors with the value the
user wrote (``must be > 0, got -5 kW``).
"""

from __future__ import annotations

import decimal
import math
import numbers
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

__all__ = ["UnitError", "parse_quantity", "quantity", "format_quantity", "DIMENSIONS", "excerpt", "refuse_misread",
           "plain_number", "is_boolean", "quantity_dim", "display_unit"]


def excerpt(x: Any, limit: int = 60, quote: bool = True, _inner: bool = False) -> str:
    """A short, bounded rendering of a user value for error messages (never the whole input).

    Containers are summarised (``list of 1,000,000 items``) rather than walked, so quoting a
    huge or alias-expanded value costs nothing; strings are cut to ``limit`` characters.
    """
    if isinstance(x, str):
        s = repr(x[: limit + 1]) if quote else x[: limit + 1]
    elif _inner and isinstance(x, (list, tuple, dict)):
        s = "[...]" if not isinstance(x, dict) else "{...}"
    elif isinstance(x, (list, tuple)):
        s = f"a list of {len(x):,} items" if len(x) > 4 else None
        if s is None:
            s = "[" + ", ".join(excerpt(v, 20, quote, True) for v in x) + "]"
    elif isinstance(x, dict):
        s = f"a mapping of {len(x):,} keys" if len(x) > 4 else None
        if s is None:
            s = "{" + ", ".join(f"{excerpt(k, 20, quote, True)}: {excerpt(v, 20, quote, True)}" for k, v in x.items()) + "}"
    elif isinstance(x, int) and not isinstance(x, bool) and abs(x) > 10**40:
        s = f"an integer of {len(str(abs(x))):,} digits" if abs(x) < 10**4000 else "an integer of > 4,000 digits"
    else:
        try:
            s = repr(x)
        except Exception:  # noqa: BLE001 - a repr that fails must not hide the real error
            s = f"<{type(x).__name__}>"
    return s if len(s) <= limit else s[: max(limit - 3, 1)] + "..."


class UnitError(ValueError):
    """A quantity string could not be parsed or has the wrong dimension."""


def is_boolean(value: Any) -> bool:
    """A Python or a numpy boolean (``np.bool_`` is no subclass of ``bool``: ``arr > 0``'s elements, a mask's)."""
    return isinstance(value, bool) or (type(value).__name__ in ("bool", "bool_") and type(value).__module__ == "numpy")


def plain_number(value: Any) -> Any:
    """``value`` as a Python ``int`` or ``float`` when it is a real number of another type: numpy's scalars
    (``np.int64`` from ``np.arange``, ``np.float32``), :class:`fractions.Fraction`; anything else unchanged (a
    boolean, a string, a number YAML misread, which :func:`refuse_misread` refuses with its text). Until 2026-12-05
    ``facility.interconnect: np.int64(600000)`` was refused as "got int64" where ``np.float64`` (a float subclass)
    passed, and an error quoted ``np.float64(80.0)``. ``np.timedelta64`` is registered as an integer by numpy but
    is a duration in its own unit (2 h would read as 2 s): it is left as it is, and refused as no number. A finite
    :class:`decimal.Decimal` (no ``numbers.Real``) is read as a float like a Fraction (until 2026-12-05 refused as
    "got Decimal"); a NaN or infinite one is left as it is, so it is refused, not read as a float NaN a field
    without a finiteness check might take."""
    if is_boolean(value) or hasattr(value, "yaml_text") or type(value) in (int, float):
        return value
    if type(value).__name__ in ("timedelta64", "datetime64"):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, decimal.Decimal) and value.is_finite():  # not a numbers.Real: refused as "got Decimal"
        return float(value)
    return value


def refuse_misread(value: Any, expected: str) -> Any:
    """``value`` unchanged, unless it is a number YAML made of something else where ``expected`` (``"a whole
    number"``, ``"a power quantity"``) was asked for: then :class:`UnitError` saying so.

    * a boolean: pydantic's lax mode reads ``True`` as 1, and YAML reads ``yes``, ``on`` and ``true`` as ``True``, so
      ``count: yes`` or ``--set racks.0.count=true`` ran one rack without a word;
    * an integer YAML 1.1 read from base-60 (``duration: 1:30`` is 90 s) or from a leading-zero octal literal
      (``count: 010`` is 8), or a float read from base-60 (``duration: 1:30.0`` is 90.0 s):
      :mod:`dcsim.scenario.safeyaml` keeps such a number's text (``yaml_text``).

    The one check every number of a scenario passes: plain ints and floats through
    :class:`dcsim.scenario.base.NoBoolNumbers`, quantities through :func:`parse_quantity`.
    """
    if is_boolean(value):  # numpy's too: np.bool_(True) for max_batch ran a batch of one
        raise UnitError(f"expected {expected}, got the boolean {str(bool(value)).lower()} (YAML reads true/false, "
                        "yes/no and on/off as booleans)")
    text = getattr(value, "yaml_text", None)
    if isinstance(text, str) and isinstance(value, (int, float)) and ":" in text:
        shown = int(value) if float(value).is_integer() else float(value)
        raise UnitError(f"expected {expected}, got {excerpt(text, 30, quote=False)}, which YAML reads as the "
                        f"base-60 number {shown:,}; write the number you mean"
                        + (" with a unit ('90 min', '1.5 h')" if "quantity" in expected else ""))
    if isinstance(text, str) and isinstance(value, int):
        digits = text.replace("_", "").lstrip("+-").lstrip("0") or "0"
        raise UnitError(f"expected {expected}, got {excerpt(text, 30, quote=False)}, which YAML reads as the octal "
                        f"number {int(value):,}; write {digits} without the leading zero if you mean {digits}")
    return value


_PREFIX = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}

DIMENSIONS: dict[str, dict[str, float]] = {
    "power": {"W": 1.0, "kW": 1e3, "MW": 1e6, "GW": 1e9, "mW": 1e-3},
    "energy": {
        "J": 1.0, "kJ": 1e3, "MJ": 1e6, "GJ": 1e9,
        "Wh": 3600.0, "kWh": 3.6e6, "MWh": 3.6e9, "GWh": 3.6e12,
    },
    "temperature_delta": {"K": 1.0, "degC": 1.0, "°C": 1.0, "delta_degC": 1.0, "C": 1.0},
    "time": {
        "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0,
        "min": 60.0, "h": 3600.0, "hr": 3600.0, "d": 86400.0, "day": 86400.0, "days": 86400.0,
    },
    "data": {
        "B": 1.0, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
        "KiB": 1024.0, "MiB": 1024.0**2, "GiB": 1024.0**3, "TiB": 1024.0**4,
    },
    "bandwidth": {"B/s": 1.0, "kB/s": 1e3, "MB/s": 1e6, "GB/s": 1e9, "TB/s": 1e12},
    "compute": {
        **{f"{p}FLOP/s": m for p, m in _PREFIX.items()},
        **{f"{p}FLOPS": m for p, m in _PREFIX.items()},
    },
    "rate": {"/s": 1.0, "1/s": 1.0, "Hz": 1.0, "/min": 1 / 60.0, "/h": 1 / 3600.0, "/d": 1 / 86400.0},
    "price": {"USD/J": 1.0, "USD/kWh": 1 / 3.6e6, "USD/MWh": 1 / 3.6e9},
    "carbon": {"g/J": 1.0, "g/kWh": 1 / 3.6e6, "kg/MWh": 1 / 3.6e6, "g/MWh": 1 / 3.6e9},
    "fraction": {"%": 0.01, "": 1.0},
    "count": {"": 1.0},
    # a die-to-coolant thermal resistance (racks[].gpu_thermal.r_th_k_per_w): until 2026-12-05 a count, and
    # '0.05 K/W' was refused with "unit 'K/W' is not a count unit (expected one of )"
    "thermal_resistance": {"K/W": 1.0, "degC/W": 1.0, "°C/W": 1.0, "C/W": 1.0, "mK/W": 1e-3},
}
_SI_NAME = {
    "power": "W", "energy": "J", "temperature": "degC", "temperature_delta": "K", "time": "s",
    "data": "B", "bandwidth": "B/s", "compute": "FLOP/s", "rate": "1/s", "price": "USD/J",
    "carbon": "g/J", "fraction": "", "count": "", "thermal_resistance": "K/W",
}
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan"
_QRE = re.compile(rf"^\s*({_NUM})\s*(.*?)\s*$")
_RATE_WORD = re.compile(r"^([A-Za-z_]+)(/.+)$")  # "req/s" -> "/s", "requests/min" -> "/min"
#: words a rate (always requests per unit time in a scenario) may carry before the slash
_RATE_WORDS = ("req", "reqs", "request", "requests", "r", "arrivals")


def _unit_factor(dim: str, unit: str) -> float:
    table = DIMENSIONS[dim]
    if unit in table:
        return table[unit]
    if dim == "rate":
        m = _RATE_WORD.match(unit)
        if m and m.group(2) in table:
            if m.group(1).lower() in _RATE_WORDS:
                return table[m.group(2)]
            raise UnitError(f"unit {excerpt(unit, 30)}: this rate counts requests (e.g. '200 req/s'), not "
                            f"{excerpt(m.group(1), 12)}; for a token demand divide by the mean output tokens per "
                            "request")
    if not any(table):  # a plain count: 'peak_hour: 4 pm' read "(expected one of )"
        raise UnitError(f"unit {excerpt(unit, 30)}: this field takes a plain number, without a unit")
    article = "an" if dim[:1] in "aeiou" else "a"
    raise UnitError(f"unit {excerpt(unit, 30)} is not {article} {dim} unit (expected one of "
                    f"{', '.join(k for k in table if k)})")


#: Temperature units read as degC (a bare number too); absolute zero in degC (the kelvin offset, exact by definition
#: of the kelvin and the Celsius scale: SI Brochure, 9th ed., 2.3.1)
_DEGC_UNITS = ("", "degC", "°C", "C")
ABSOLUTE_ZERO_C = -273.15


def parse_quantity(value: Any, dim: str) -> float:
    """Return ``value`` as a float in the SI unit of ``dim`` (degC for temperature).

    Accepts ints/floats (already SI) and strings such as ``"20 MW"``, ``"35 degC"``,
    ``"120 ms"``, ``"30%"``. Raises :class:`UnitError` with a readable reason.
    """
    refuse_misread(value, f"a {dim} quantity")
    value = plain_number(value)
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            raise UnitError(f"number too large: {str(value)[:20]}... has {len(str(value))} digits") from None
    if not isinstance(value, str):
        raise UnitError(f"expected a number or a string like '10 {_example_unit(dim)}', got {type(value).__name__}")
    m = _QRE.match(value)
    if not m:
        raise UnitError(f"cannot read {excerpt(value)} as a {dim} quantity (expected e.g. '10 {_example_unit(dim)}')")
    num = float(m.group(1))
    unit = m.group(2)
    if dim == "temperature":
        if unit in _DEGC_UNITS:
            return num
        if unit == "K":
            return num + ABSOLUTE_ZERO_C
        if unit in ("degF", "°F", "F"):
            return (num - 32.0) * 5.0 / 9.0
        raise UnitError(f"unit {excerpt(unit, 30)} is not a temperature unit (expected degC, K or degF)")
    if unit == "":
        return num
    return num * _unit_factor(dim, unit)


def _example_unit(dim: str) -> str:
    return {"power": "kW", "energy": "kWh", "temperature": "degC", "temperature_delta": "K",
            "time": "s", "data": "GB", "bandwidth": "TB/s", "compute": "TFLOP/s", "rate": "/s",
            "price": "USD/MWh", "carbon": "g/kWh", "fraction": "%", "count": "",
            "thermal_resistance": "K/W"}.get(dim, "")


#: units format_quantity chooses from, smallest first
_DISPLAY = {
    "power": ("W", "kW", "MW", "GW"),
    "energy": ("J", "kJ", "MJ", "GJ"),
    "time": ("ms", "s", "min", "h", "d"),
    "data": ("B", "kB", "MB", "GB", "TB"),
    "bandwidth": ("B/s", "kB/s", "MB/s", "GB/s", "TB/s"),
    "compute": ("FLOP/s", "GFLOP/s", "TFLOP/s", "PFLOP/s"),
}


def display_unit(si_value: float, dim: str) -> tuple[str, float]:
    """(unit, SI value per unit) to show ``si_value`` of ``dim`` in: the largest display unit not exceeding its size
    (the smallest for tiny values), from :data:`_DISPLAY`, else from the dimension's units in :data:`DIMENSIONS`
    (``display_unit(3e5, 'power') == ('kW', 1e3)``). What :func:`format_quantity` writes numbers in and the sweep
    figure's axes are labelled in. :class:`KeyError` for a dimension without units (temperature)."""
    table = DIMENSIONS[dim]
    units = _DISPLAY.get(dim) or tuple(u for u in table if u)
    best = units[0]
    for u in units:
        if abs(si_value) >= table[u]:
            best = u
    return best, table[best]


def format_quantity(si_value: float, dim: str) -> str:
    """Human string for an SI value, e.g. ``format_quantity(2e7, 'power') == '20 MW'``.

    Picks the largest display unit not exceeding the value (the smallest for tiny values; :func:`display_unit`).
    """
    if dim == "temperature":
        return f"{si_value:.4g} degC"
    if dim not in _DISPLAY:
        return f"{si_value:.6g} {_SI_NAME[dim]}".strip()
    unit, per = display_unit(si_value, dim)
    return f"{si_value / per:.4g} {unit}"


def _bound_msg(op: str, bound: float, raw: Any, dim: str | None = None, v: float | None = None) -> str:
    """The bound in the user's terms (``366 d``, ``1000 GW``), with its SI value when that reads differently;
    ``v`` the value ``raw`` was read as (degC for a temperature)."""
    b = f"{bound:g}"
    if dim is not None and _SI_NAME.get(dim) and bound != 0 and dim not in ("temperature", "temperature_delta"):
        try:
            human = format_quantity(bound, dim)
        except Exception:  # noqa: BLE001 - the plain number is always right
            human = b
        if human != b:
            b = f"{human} ({bound:g} {_SI_NAME[dim]})"
    got = excerpt(raw, quote=False)
    if dim == "temperature":  # `-5 K` said "must be >= -90, got -5 K": -90 of what, and -5 K is what?
        b = f"{b} degC"
        m = _QRE.match(raw) if isinstance(raw, str) else None
        if v is not None and m and m.group(2) not in _DEGC_UNITS:
            got = f"{got} ({v:.6g} degC)"
        if v is not None and v < ABSOLUTE_ZERO_C:
            got = f"{got}, below absolute zero ({ABSOLUTE_ZERO_C} degC)"
    return f"must be {op} {b}, got {got}"


def quantity(
    dim: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    description: str = "",
):
    """A pydantic field type for a physical quantity of dimension ``dim``.

    The value is parsed to SI (see module docstring), must be finite, and is
    checked against the bounds (given in SI). Error messages quote the raw input.
    """

    def _validate(raw: Any) -> float:
        raw = plain_number(raw)  # np.int64, np.float32, a Fraction: a number, quoted plainly in errors
        if dim in _UNIT_REQUIRED:  # a bare number (no unit) other than 0 is refused with the units to write
            bare = None
            if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                try:
                    bare = (excerpt(raw, quote=False), float(raw))
                except OverflowError:
                    bare = (excerpt(raw, quote=False), math.inf)
            # a number written as text without a unit ('80', YAML's quoted "80", a Python override's "80") is a bare
            # number too: until 2026-12-05 it passed as 80 USD/J (2.88e+11 USD/MWh)
            elif isinstance(raw, str) and (m := _QRE.match(raw)) and m.group(2) == "":
                bare = (excerpt(raw.strip(), quote=False), parse_quantity(raw, dim))
            if bare is not None and bare[1] != 0:
                raise UnitError(_UNIT_REQUIRED[dim].format(raw=bare[0], mwh=bare[1] * 3.6e9, kwh=bare[1] * 3.6e6))
        v = parse_quantity(raw, dim)
        if math.isnan(v) or math.isinf(v):
            raise UnitError(f"must be a finite number, got {excerpt(raw, quote=False)}")
        if gt is not None and not v > gt:
            raise UnitError(_bound_msg(">", gt, raw, dim, v))
        if ge is not None and not v >= ge:
            raise UnitError(_bound_msg(">=", ge, raw, dim, v))
        if lt is not None and not v < lt:
            raise UnitError(_bound_msg("<", lt, raw, dim, v))
        if le is not None and not v <= le:
            raise UnitError(_bound_msg("<=", le, raw, dim, v))
        return v

    _validate.quantity_dim = dim  # what quantity_dim() reads back from a field's type
    si = _SI_NAME[dim]
    desc = description or f"{dim} quantity"
    if dim in _UNIT_REQUIRED:
        desc = f"{desc} [{dim}; a unit is required, strings like '10 {_example_unit(dim)}'; a bare 0 is allowed]"
        schema = {"anyOf": [{"type": "string"}, {"const": 0}], "description": desc}
        # the resolved scenario (validate's print, the reload of a Scenario) must validate again: the SI value
        # is written with its unit, exactly (repr round-trips the float)
        ser = PlainSerializer(lambda x: f"{x!r} {si}" if x else 0.0, return_type=Any)
    else:
        desc = f"{desc} [{dim}; bare number = {si or 'dimensionless'}; strings like '10 {_example_unit(dim)}']"
        schema = {"anyOf": [{"type": "number"}, {"type": "string"}], "description": desc}
        ser = PlainSerializer(lambda x: x, return_type=float)
    return Annotated[
        float,
        BeforeValidator(_validate),
        WithJsonSchema(schema),
        ser,
        Field(description=desc),
    ]


def quantity_dim(tp: Any, metadata: Any = ()) -> str | None:
    """The dimension (``"power"``, ``"temperature"``, ...) of a :func:`quantity` type, also inside ``X | None`` or
    ``list[X]``; None for any other type. ``metadata``: a pydantic field's own (``FieldInfo.metadata``, where pydantic
    moves the annotations of a field's top-level type), read first."""
    import typing

    stack, seen = [(tp, tuple(metadata))], 0
    while stack and seen < 64:  # bounded: a type is a small tree
        t, meta = stack.pop()
        seen += 1
        for m in (*meta, *getattr(t, "__metadata__", ())):
            dim = getattr(getattr(m, "func", None), "quantity_dim", None)
            if isinstance(dim, str):
                return dim
        stack.extend((a, ()) for a in typing.get_args(t))  # X | None's NoneType (and a Literal's values) hold none
    return None


#: dimensions whose bare number is refused. The rule "a bare number is SI" would make a price USD per joule
#: and a carbon intensity grams per joule, units nobody quotes: `price: 0.08` (meant per kWh) was read as
#: $288,000/MWh and a 10-minute run cost $19.7 M without a word (audit C, A2). The grid CSV columns are
#: USD/MWh and g/kWh by contrast, so a bare number has no one meaning here; a unit is asked for instead.
_UNIT_REQUIRED = {
    "price": "a price needs a unit, e.g. '80 USD/MWh' or '0.08 USD/kWh', got the bare number {raw} (a bare "
             "number would be USD per joule: {raw} USD/J = {mwh:,.4g} USD/MWh)",
    "carbon": "a carbon intensity needs a unit, e.g. '350 g/kWh' or '350 kg/MWh', got the bare number {raw} "
              "(a bare number would be grams per joule: {raw} g/J = {kwh:,.4g} g/kWh)",
}


# Common field types ---------------------------------------------------------
PositivePower = quantity("power", gt=0)
NonNegPower = quantity("power", ge=0)
PositiveTime = quantity("time", gt=0)
NonNegTime = quantity("time", ge=0)
#: the range of an air or water temperature a scenario may carry, degC (below Earth's record low, above its record high)
TEMPERATURE_RANGE_C = (-90.0, 80.0)
Temperature = quantity("temperature", ge=TEMPERATURE_RANGE_C[0], le=TEMPERATURE_RANGE_C[1],
                       description="air or water temperature")
Fraction = quantity("fraction", ge=0, le=1)
PositiveFraction = quantity("fraction", gt=0, le=1)
PositiveRate = quantity("rate", gt=0)
NonNegRate = quantity("rate", ge=0)
