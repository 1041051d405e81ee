"""Bounded, strict YAML reading for scenario, sweep and plan files and ``--set`` values.

PyYAML's safe loader never runs code, but on its own it accepts inputs that hang or exhaust
memory further down (a 2.5 KB "billion laughs" file whose aliases expand to 10^9 list items),
silently keeps the last of two equal keys, and raises ``RecursionError`` or ``ValueError`` (a
timestamp like ``2023-02-30``) instead of a YAML error. :func:`load_yaml_text` composes the
document first, measures it with aliases expanded, and only then builds Python objects:

==========================  ==============  =====================================================
limit                       value           why
==========================  ==============  =====================================================
file size                   4 MiB           shipped scenarios are < 5 kB; a sweep file < 50 kB
nesting depth               64 levels       the deepest shipped scenario is 6 levels
nodes, aliases expanded     200,000         the largest shipped scenario has ~200 nodes
==========================  ==============  =====================================================

(All three are assumptions: generous bounds on hand-written files, not measurements.)
Errors are :class:`YamlLimitError` / :class:`yaml.YAMLError`-derived messages that quote at
most a short excerpt of the input.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["MAX_YAML_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_NODES", "YamlInputError", "YamlInt", "YamlFloat",
           "load_yaml_text",
           "read_text_bounded"]

MAX_YAML_BYTES = 4 * 1024 * 1024
MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 200_000


class YamlInputError(ValueError):
    """A YAML document could not be read; the message is one line, without the file name."""


class _YamlNumber:
    """A number YAML 1.1 read from a literal few would write meaning it, with ``yaml_text``, what the file says: a
    scenario's number fields refuse it with that text (:func:`dcsim.units.refuse_misread`), anything else sees the
    number YAML made. The one mechanism of :class:`YamlInt` and :class:`YamlFloat` (``_plain``: the number type)."""

    yaml_text: str
    _plain: type

    def __new__(cls, value, text: str):
        obj = super().__new__(cls, value)
        obj.yaml_text = text
        return obj

    def __reduce__(self):  # pickles (sweep points go to worker processes) and deep-copies with its text
        return (type(self), (self._plain(self), self.yaml_text))

    def __deepcopy__(self, memo):
        return self


class YamlInt(_YamlNumber, int):
    """An integer YAML 1.1 read from base-60 (``1:30`` is 90, ``13:00`` is 780) or from octal with a leading zero
    (``010`` is 8)."""

    _plain = int


class YamlFloat(_YamlNumber, float):
    """A float YAML 1.1 read from a base-60 literal (``1:30.0`` is 90.0, ``1:30:00.5`` is 5400.5)."""

    _plain = float


#: Python's refusal of an integer literal past ``sys.get_int_max_str_digits()`` (4,300 digits): its digit count
_DIGITS = re.compile(r"integer string conversion: value has (\d+) digits")
_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+$")
_OCTAL = re.compile(r"^[-+]?0[0-7_]+$")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys in a mapping, and keeps the text of base-60 and leading-zero octal
    integers (:class:`YamlInt`) and of base-60 floats (:class:`YamlFloat`)."""

    def construct_yaml_int(self, node):
        value = super().construct_yaml_int(node)
        text = node.value
        if _BASE60.match(text) or (_OCTAL.match(text) and int(text.replace("_", ""), 10) != value):
            return YamlInt(value, text)  # "00" and "07" read the same either way
        return value

    def construct_yaml_float(self, node):
        value = super().construct_yaml_float(node)
        if ":" in node.value:  # the YAML 1.1 base-60 float: 1:30.0 is 90.0
            return YamlFloat(value, node.value)
        return value

    def construct_yaml_timestamp(self, node):
        """A date or date-time YAML 1.1 reads as one, or its text when it names no day of the calendar
        (``2026-02-30``, ``2026-07-15T25:00``): the field it sits in then refuses it, naming the field and the day
        (the hostile-input pass of session 54: ``start: 2026-02-30`` said "<root>: cannot read a YAML value: day is
        out of range for month", naming no field)."""
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError, AttributeError):  # AttributeError: an explicit `!!timestamp foo`, no date
            # at all (PyYAML's regex finds no match; it was an internal error, exit 70, reviewer of session 54)
            return node.value

    _last_mark = None

    def construct_object(self, node, deep=False):
        self._last_mark = node.start_mark
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue  # SafeLoader reports unhashable keys itself
                if key in seen:
                    first = seen[key]
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {_short(key)!s} (first at line {first.line + 1})",
                        key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _StrictLoader.construct_yaml_float)
_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _StrictLoader.construct_yaml_timestamp)


def _short(x: Any, n: int = 40, quote: bool = True) -> str:
    s = (repr(x[: n + 1]) if quote else x[: n + 1]) if isinstance(x, str) else repr(x)
    return s if len(s) <= n else s[: n - 3] + "..."


def _measure(root) -> tuple[int, int]:
    """(nodes with aliases expanded, depth) of a composed node graph, iteratively and with
    memoization (aliases share node objects), so a billion-laughs graph is measured in
    microseconds. Raises :class:`YamlInputError` on a recursive alias."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]

    def children(node):
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        if isinstance(node, yaml.MappingNode):
            return [x for kv in node.value for x in kv]
        return []

    while stack:
        node, done = stack.pop()
        k = id(node)
        if done:
            kids = children(node)
            size[k] = min(1 + sum(size[id(c)] for c in kids), 10**18)
            depth[k] = 1 + max((depth[id(c)] for c in kids), default=0)
            on_stack.discard(k)
            if size[k] > MAX_YAML_NODES:
                raise YamlInputError(
                    f"line {node.start_mark.line + 1}: YAML document expands to more than {MAX_YAML_NODES:,} "
                    f"values (aliases expanded; e.g. a 'billion laughs' file); refused")
            if depth[k] > MAX_YAML_DEPTH:
                raise YamlInputError(f"line {node.start_mark.line + 1}: YAML nested more than {MAX_YAML_DEPTH} levels deep; refused")
            continue
        if k in size:
            continue
        if k in on_stack:
            raise YamlInputError(f"line {node.start_mark.line + 1}: recursive YAML alias (a value that contains itself)")
        on_stack.add(k)
        stack.append((node, True))
        for c in children(node):
            if id(c) not in size:
                if id(c) in on_stack:
                    raise YamlInputError(f"line {c.start_mark.line + 1}: recursive YAML alias (a value that contains itself)")
                stack.append((c, False))
    return size.get(id(root), 0), depth.get(id(root), 0)


def load_yaml_text(text: str) -> Any:
    """Parse one YAML document within the limits above; raise :class:`YamlInputError` with a
    one-line reason ("line 3, column 5: ...") on any problem."""
    if len(text) > MAX_YAML_BYTES:
        raise YamlInputError(f"{len(text):,} characters is larger than the {MAX_YAML_BYTES:,}-byte limit for YAML input")
    loader = None
    try:
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise YamlInputError(f"YAML nested too deeply to parse (limit {MAX_YAML_DEPTH} levels)") from None
        if node is None:
            return None
        _measure(node)
        try:
            return loader.construct_document(node)
        except RecursionError:
            raise YamlInputError(f"YAML nested too deeply to parse (limit {MAX_YAML_DEPTH} levels)") from None
        except (ValueError, OverflowError, TypeError) as e:  # e.g. timestamp 2023-02-30
            mark = getattr(loader, "_last_mark", None)
            digits = _DIGITS.search(str(e))
            # Python's own limit on an integer's digits said "use sys.set_int_max_str_digits()": advice to a programmer
            why = (f"an integer of {int(digits.group(1)):,} digits, more than any field takes" if digits else
                   _short(str(e), 120, False))
            raise YamlInputError(f"cannot read a YAML value: {why}"
                                 + (f" (near line {mark.line + 1})" if mark else "")) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise YamlInputError(f"{where}not valid YAML ({_short(problem, 160, False)})") from None
    finally:
        if loader is not None:
            loader.dispose()


def read_text_bounded(data: bytes, limit: int = MAX_YAML_BYTES) -> str:
    """Decode file bytes as UTF-8 (a BOM allowed) within ``limit``; :class:`YamlInputError` otherwise."""
    if len(data) > limit:
        raise YamlInputError(f"file is {len(data):,} bytes, larger than the {limit:,}-byte limit")
    try:  # (dcsim.textio.decode_text does this for data files; scenario specs import nothing outside)
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise YamlInputError(f"line {line}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})") from None
