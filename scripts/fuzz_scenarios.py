"""Fuzz dcsim's inputs: mutated scenarios, damaged YAML text, damaged trace and weather files.

Every input must end in one of two ways: accepted (valid, and — with ``--preflight`` — past the
full preflight: files read, catalog names resolved, physics and resources checked), or a
:class:`dcsim.scenario.ScenarioError` whose ``errors`` name a field path (or the file) and a
reason. Anything else is counted as a *traceback* (another exception) or a *hang* (no answer
within ``--timeout`` seconds, by SIGALRM). Mutations: wrong types, negatives, NaN/inf, missing
and unknown keys, absurd magnitudes, wrong units ("20 kg"), deleted sections, lists where
mappings go (and the reverse), garbage strings, deep nesting; YAML text cut, duplicated,
re-indented, with stray tokens, alias bombs and deep brackets (``--yaml``); trace CSV/JSONL,
weather CSV and EPW files with bad cells, short rows, missing columns, duplicated or swapped
rows, non-UTF-8 bytes, NaT and far-future stamps (``--files N``).

    python scripts/fuzz_scenarios.py --n 3000 --preflight --yaml --files 1000

prints the counts (clean error / accepted / unclear error / traceback / hang) and the first
offending inputs of each kind; exit status 1 when any traceback, hang or unclear error was seen.
``tests/test_fuzz_scenarios.py`` drives the same engine from hypothesis (so failures shrink),
this script from ``random.Random``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import math
import random
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_DIR = ROOT / "scenarios"

#: the fault entries added to the seed scenarios once ``Scenario`` has a ``faults`` field
FAULTS_EXAMPLE = [
    {"kind": "node_failures", "mtbf": "800 h", "repair": "4 h", "distribution": "weibull", "shape": 1.2},
    {"kind": "cooling_failure", "start": "14 h", "duration": "2 h", "capacity_loss": "25%"},
    {"kind": "curtailment", "start": "17 h", "duration": "1 h", "fraction": "70%"},
    {"kind": "heat_wave", "start": "10 h", "duration": "8 h", "offset": "6 K", "ramp": "2 h"},
]

OPS = ("wrong_type", "negative", "nonfinite", "delete", "unknown_key", "absurd", "wrong_unit",
       "delete_section", "list_for_mapping", "mapping_for_list", "garbage", "deep", "empty", "swap")

WRONG_TYPES: list[Any] = [None, True, False, "abc", 42, -3.5, 0, [], {}, [1, 2], {"a": 1}, "", "   ",
                          "20", "yes", "0x1F", "1_000", [None], {"kind": None}, "null", "~"]
NONFINITE: list[Any] = [math.nan, math.inf, -math.inf, "nan", "inf", "-inf", "nan MW", "inf W",
                        "1e999", "-1e999 kW", ".nan", "NaN degC", "inf h"]
ABSURD: list[Any] = [1e300, -1e300, 10**40, 2**64, -(2**63) - 1, 1e-300, 5e-324, "1e30 MW", "1e300 h",
                     "99999999999999999999 GW", "1e-30 s", "1e308 TB/s", 10**400, "1e20 req/s", 999999999,
                     -(10**400)]  # 10**400: a 401-digit YAML integer (float() overflows)
BAD_UNITS = ["kg", "parsec", "MW/s", "degX", "furlongs", "W", "h", "%", "K", "J", "GB", "req/s", "°F",
             "MWh", "TFLOP/s", "g/kWh", "", "m", "1/s", " MW MW", "kW kW"]
UNKNOWN_KEYS = ["bogus", "Interconnect", "count ", "kind2", "__class__", "", "1"]
GARBAGE = ["20 kg", "twenty MW", "35 degC degC", "--5", "1e", "e5", "1,000 W", "10 M W", "\x00", "☃",
           "'; DROP TABLE", "!!python/object/apply:os.system ['echo pwned']", "${HOME}", "{{ x }}",
           "a" * 5000, "\n\n", "\t", "1 2 3", "5 MW;", "0b101", "1/0"]


class RandomChooser:
    """Choices from a ``random.Random`` (the script)."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def choice(self, seq):
        return seq[self.r.randrange(len(seq))]

    def integer(self, lo: int, hi: int) -> int:
        return self.r.randint(lo, hi)

    def text(self) -> str:
        n = self.r.randint(0, 12)
        return "".join(chr(self.r.choice([self.r.randint(32, 126), self.r.randint(0x80, 0x2FFF)])) for _ in range(n))


def seed_scenarios() -> dict[str, dict]:
    """The shipped scenarios (``scenarios/*.yaml``) as raw dicts, with faults added when supported."""
    from dcsim.scenario import Scenario

    out = {}
    for p in sorted(SCENARIO_DIR.glob("*.yaml")):
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
        if isinstance(raw, dict):
            if "faults" in Scenario.model_fields and "faults" not in raw:
                raw["faults"] = copy.deepcopy(FAULTS_EXAMPLE)
            out[p.name] = raw
    return out


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a nested dict/list (the root is the empty path)."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _get(root: Any, path: tuple) -> Any:
    for k in path:
        root = root[k]
    return root


def _set(root: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    _get(root, path[:-1])[path[-1]] = value
    return root


def _negate(v: Any) -> Any:
    if isinstance(v, bool):
        return -1
    if isinstance(v, (int, float)):
        return -abs(v) - 1
    if isinstance(v, str):
        return "-" + v.lstrip("+-") if v.strip() else "-1"
    return -1


def _reunit(v: Any, unit: str) -> Any:
    if isinstance(v, str):
        parts = v.strip().split(None, 1)
        num = parts[0] if parts else "20"
        return f"{num} {unit}".strip()
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return f"{v} {unit}".strip()
    return f"20 {unit}".strip()


def mutate_once(raw: Any, ch) -> tuple[Any, str]:
    """Apply one mutation chosen by ``ch``; returns (new root, description)."""
    op = ch.choice(OPS)
    paths = _paths(raw)
    if op == "delete_section":
        if isinstance(raw, dict) and raw:
            k = ch.choice(sorted(raw, key=str))
            del raw[k]
            return raw, f"delete_section {k}"
        op = "wrong_type"
    path = ch.choice(paths)
    here = _get(raw, path)
    where = ".".join(map(str, path)) or "<root>"
    if op == "delete":
        if path:
            parent = _get(raw, path[:-1])
            del parent[path[-1]]
            return raw, f"delete {where}"
        return {}, "delete <root>"
    if op == "unknown_key":
        target = here if isinstance(here, dict) else (_get(raw, path[:-1]) if path else raw)
        if isinstance(target, dict):
            key = ch.choice(UNKNOWN_KEYS) if ch.integer(0, 3) else (ch.text() or "x")
            target[key] = copy.deepcopy(ch.choice(WRONG_TYPES))
            return raw, f"unknown_key {where}.{key!r}"
        return _set(raw, path, {"bogus": 1}), f"unknown_key-replace {where}"
    if op == "wrong_type":
        v = copy.deepcopy(ch.choice(WRONG_TYPES))  # pools hold mutable values: never share them
    elif op == "negative":
        v = _negate(here)
    elif op == "nonfinite":
        v = ch.choice(NONFINITE)
    elif op == "absurd":
        v = ch.choice(ABSURD)
    elif op == "wrong_unit":
        v = _reunit(here, ch.choice(BAD_UNITS))
    elif op == "list_for_mapping":
        v = [here] if not isinstance(here, list) else [[x] for x in here]
    elif op == "mapping_for_list":
        v = {str(i): x for i, x in enumerate(here)} if isinstance(here, list) else {"0": here}
    elif op == "garbage":
        v = ch.choice(GARBAGE + [ch.text()])
    elif op == "deep":
        v = here
        for _ in range(ch.integer(2, 60)):
            v = [v] if ch.integer(0, 1) else {"x": v}
    elif op == "empty":
        v = copy.deepcopy(ch.choice([{}, [], "", None, 0]))
    else:  # swap: a value from elsewhere in the same scenario
        other = ch.choice(paths)
        v = copy.deepcopy(_get(raw, other))
    return _set(raw, path, v), f"{op} {where} -> {_short(v)}"


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def mutate(base: dict, ch, max_ops: int = 3) -> tuple[Any, list[str]]:
    """A deep copy of ``base`` with 1..max_ops mutations; returns (scenario, descriptions)."""
    raw: Any = copy.deepcopy(base)
    notes = []
    for _ in range(ch.integer(1, max_ops)):
        raw, note = mutate_once(raw, ch)
        notes.append(note)
        if not isinstance(raw, (dict, list)):
            break
    return raw, notes


def error_problems(err, raw: Any) -> list[str]:
    """Why a ScenarioError is *not* clean (empty when it names a field path and a reason each)."""
    from dcsim.scenario import Scenario

    probs = []
    errs = getattr(err, "errors", None)
    if not isinstance(errs, list) or not errs:
        return ["no .errors list"]
    top = set(Scenario.model_fields) | (set(raw) if isinstance(raw, dict) else set())
    for e in errs:
        if not (isinstance(e, tuple) and len(e) == 2 and all(isinstance(x, str) for x in e)):
            probs.append(f"entry is not (path, reason): {e!r}")
            continue
        path, reason = e
        if not reason.strip():
            probs.append(f"{path or '<root>'}: empty reason")
        if "Traceback" in reason:
            probs.append(f"{path}: traceback in reason")
        if path:
            names = {"''" if k == "" else str(k) for k in top}  # dcsim shows an empty key as ''
            if not any(path == k or path.startswith((k + ".", k + "[")) for k in names):
                probs.append(f"path {path!r} does not start at a scenario field")
        elif isinstance(raw, dict) and not any(k in reason for k in Scenario.model_fields) and \
                not any(w in reason for w in ("mapping", "YAML", "file")):
            probs.append(f"<root>: reason names no field: {reason!r}")
    return probs


class Hang(BaseException):
    """Raised by SIGALRM when one input takes longer than the time limit."""


@contextlib.contextmanager
def time_limit(seconds: float | None):
    """Raise :class:`Hang` in the main thread after ``seconds`` (no limit when None or off-main)."""
    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(*_):
        raise Hang(f"no answer within {seconds:g} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _crash(e: BaseException) -> tuple[str, str]:
    if isinstance(e, Hang):
        return "hang", str(e)
    return "crash", f"{type(e).__name__}: {e}".splitlines()[0][:300] + "\n" + traceback.format_exc(limit=-3)


def _outcome(work, problems, timeout: float | None) -> tuple[str, str]:
    """Run ``work()`` within ``timeout``: ('valid', '') when it returns; for a ScenarioError
    ('clean', '') or ('unclear', why) from ``problems(err) -> list[str]``; ('crash', exception)
    or ('hang', why) otherwise."""
    from dcsim.scenario import ScenarioError

    try:
        with time_limit(timeout):
            work()
    except ScenarioError as e:
        probs = problems(e)
        return ("unclear", "; ".join(probs)) if probs else ("clean", "")
    except BaseException as e:  # noqa: BLE001 - counting exactly these (and hangs) is the point
        if isinstance(e, KeyboardInterrupt):
            raise
        return _crash(e)
    return "valid", ""


def check_one(raw: Any, base_dir: Path = SCENARIO_DIR, preflight: bool = False,
              timeout: float | None = None) -> tuple[str, str]:
    """Validate ``raw`` (and with ``preflight`` run :func:`dcsim.engine.preflight.preflight` on
    it): ('valid', ''), ('clean', ''), ('unclear', why), ('crash', exception) or ('hang', why)."""
    from dcsim.scenario import ScenarioError, load_scenario

    def work():
        if not isinstance(raw, dict):  # what read_yaml does with a non-mapping document
            raise ScenarioError("<fuzz>", [("", f"top level must be a mapping of keys, got {type(raw).__name__}")])
        sc = load_scenario(raw, base_dir=base_dir)
        if preflight:
            from dcsim.engine.preflight import preflight as pre

            pre(sc)

    return _outcome(work, lambda e: error_problems(e, raw), timeout)


def corrupt_text(text: str, ch) -> str:
    """Byte-level damage to a YAML document: cut, duplicate, or insert stray characters."""
    op = ch.choice(["cut", "dup", "insert", "truncate", "indent", "bomb", "deep", "dupkey", "bytes"])
    if op == "bomb":  # a billion-laughs block appended, used by a real field
        lines = ["x0: &x0 [1, 2, 3, 4, 5, 6, 7, 8, 9]"]
        for k in range(1, ch.integer(2, 9) + 1):
            lines.append(f"x{k}: &x{k} [" + ", ".join([f"*x{k - 1}"] * 9) + "]")
        return text + "\n".join(lines) + f"\neconomics: {{price_profile: *x{k}}}\n"
    if op == "deep":
        n = ch.integer(50, 20000)
        return text + "bogus: " + "[" * n + "]" * n + "\n"
    if op == "dupkey":
        first = text.splitlines()[0] if text.strip() else "name: x"
        return text + first + "\n"
    if op == "bytes":
        i = ch.integer(0, max(0, len(text) - 1))
        return text[:i] + "\udcff\udcfe" + text[i:]  # written with surrogateescape: invalid UTF-8
    i = ch.integer(0, max(0, len(text) - 1))
    j = min(len(text), i + ch.integer(1, 40))
    if op == "cut":
        return text[:i] + text[j:]
    if op == "dup":
        return text[:j] + text[i:j] + text[j:]
    if op == "insert":
        return text[:i] + ch.choice([":", "- ", "\t", "[", "{", "'", '"', "&a", "*a", "!!python/name:os.system", "%", "\x00", "\n  ", "? "]) + text[i:]
    if op == "truncate":
        return text[:i]
    return text[:i] + "\n   " + text[i:]


def check_yaml(raw: Any, ch, folder: Path, corrupt: bool, timeout: float | None = None) -> tuple[str, str]:
    """Like :func:`check_one`, through a YAML file on disk (``load_scenario(path)``), optionally damaged."""
    from dcsim.scenario import load_scenario

    text = yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)
    if corrupt:
        text = corrupt_text(text, ch)
    p = folder / "mutant.yaml"
    p.write_bytes(text.encode("utf-8", errors="surrogateescape"))

    def problems(e):
        if not e.errors or not all(isinstance(r, str) and r.strip() for _, r in e.errors):
            return [f"errors without reasons: {e.errors!r}"]
        if str(p) not in str(e):
            return ["error does not name the file"]
        probs = [] if corrupt else error_problems(e, raw)
        if len(str(e)) > 4000:
            probs.append(f"message of {len(str(e)):,} characters (quotes too much input)")
        return probs

    return _outcome(lambda: load_scenario(p, base_dir=SCENARIO_DIR), problems, timeout)


# ------------------------------------------------------------------ damaged input files

def _azure_base(rows: int = 120) -> str:
    lines = (ROOT / "dcsim" / "data" / "traces" / "AzureLLMInferenceTrace_conv.csv").read_text().splitlines()
    return "\n".join(lines[: rows + 1]) + "\n"


def _weather_csv_base(hours: int = 48) -> str:
    rows = [f"{h},{20 + 8 * math.sin(h / 24 * 2 * math.pi):.2f},{50 + 10 * math.cos(h / 24 * 2 * math.pi):.1f}"
            for h in range(hours)]
    return "hour,t_db,rh\n" + "\n".join(rows) + "\n"


def _epw_base(hours: int = 48) -> str:
    head = ["LOCATION,Fuzzville,XX,XXX,TMY3,000000,40.0,-100.0,-6.0,100.0"] + [f"HEADER{i},0" for i in range(7)]
    rows = []
    for k in range(hours):
        day, hour = 1 + k // 24, 1 + k % 24
        rows.append(f"1999,7,{day},{hour},0,?9?9?9?9E0,{18 + hour / 3:.1f},{10.0:.1f},55,95000," + ",".join(["0"] * 25))
    return "\n".join(head + rows) + "\n"


def _mooncake_base(rows: int = 60) -> str:
    return "".join(f'{{"timestamp": {1000 * k}, "input_length": {100 + k}, "output_length": {20 + k % 7}}}\n'
                   for k in range(rows))


#: kind -> (file name, base text, scenario fragment naming the file)
FILE_KINDS = {
    "azure": ("trace.csv", _azure_base, lambda n: ("workload", {
        "arrivals": {"kind": "trace", "path": n, "format": "azure"}, "classes": [{"name": "c", "preset": "chat"}]})),
    "mooncake": ("trace.jsonl", _mooncake_base, lambda n: ("workload", {
        "arrivals": {"kind": "trace", "path": n, "format": "mooncake"}, "classes": [{"name": "c", "preset": "chat"}]})),
    "weather_csv": ("weather.csv", _weather_csv_base, lambda n: ("facility.weather", {"kind": "csv", "path": n})),
    "epw": ("weather.epw", _epw_base, lambda n: ("facility.weather", {"kind": "epw", "path": n, "start_day": 182})),
}

BAD_CELLS = ["", " ", "NA", "nan", "NaN", "inf", "-inf", "-1", "0", "1.5", "1e30", "1" * 40, "9999", "99999",
             "NaT", "9999-01-01 00:00:00", "2500-01-01", "0000-00-00", "abc", "\udcff", "☃", '"', '"unterminated',
             "1e-300", "-0", "0x10", "1_000", "150", "-273.15", "1e12", "true", "null", "{", "[1]", "1,2", "\x00"]


def damage_file(text: str, ch) -> str:
    """Damage one input file: bad cells, short or long rows, a deleted column, duplicated or
    swapped rows, cut text, blank lines, stray bytes, a row far in the future."""
    lines = text.splitlines()
    op = ch.choice(["cell", "cell", "cell", "short", "long", "dropcol", "duprow", "swap", "cut", "blank",
                    "bytes", "header", "empty", "far", "json"])
    if not lines or op == "empty":
        return ""
    sep = "," if "," in lines[-1] else None
    k = ch.integer(1 if len(lines) > 1 else 0, len(lines) - 1)
    if op in ("cell", "short", "long", "dropcol", "far") and sep:
        cells = lines[k].split(",")
        j = ch.integer(0, len(cells) - 1)
        if op == "cell":
            cells[j] = ch.choice(BAD_CELLS)
        elif op == "short":
            cells = cells[: ch.integer(0, len(cells) - 1)]
        elif op == "long":
            cells += [ch.choice(BAD_CELLS)] * ch.integer(1, 3)
        elif op == "far":
            cells[0] = ch.choice(["1e12", "9999-12-31 23:59:59", "2199-12-31 23:59:59", "1e300", "-1e12"])
        else:
            lines = [",".join(c for i, c in enumerate(row.split(",")) if i != j) for row in lines]
            return "\n".join(lines) + "\n"
        lines[k] = ",".join(cells)
    elif op == "json" and "{" in lines[k]:
        lines[k] = ch.choice(['{"timestamp": 1}', "[" * 5000 + "]" * 5000, '{"a":' * 3000 + "1" + "}" * 3000,
                              '{"timestamp": "x", "input_length": 1, "output_length": 1}', "42", "null",
                              '{"timestamp": 1e400, "input_length": 1, "output_length": 1}',
                              '{"timestamp": 1, "input_length": true, "output_length": 1}'])
    elif op == "duprow":
        lines.insert(k, lines[k])
    elif op == "swap" and len(lines) > 2:
        k2 = ch.integer(1, len(lines) - 1)
        lines[k], lines[k2] = lines[k2], lines[k]
    elif op == "cut":
        i = ch.integer(0, len(text))
        return text[:i]
    elif op == "blank":
        lines.insert(k, ch.choice(["", "   ", ",,,", "\t"]))
    elif op == "bytes":
        i = ch.integer(0, max(0, len(lines[k]) - 1))
        lines[k] = lines[k][:i] + "\udcff\udcc3" + lines[k][i:]
    elif op == "header":
        lines[0] = ch.choice(["", "a,b,c", lines[0].upper(), lines[0].replace(",", ";"), "t_s"])
    return "\n".join(lines) + "\n"


def check_file(kind: str, text: str, folder: Path, timeout: float | None = None) -> tuple[str, str]:
    """Preflight the reference scenario reading a (damaged) ``kind`` file: ('valid', ''), ('clean', ''),
    ('unclear', why), ('crash', exc) or ('hang', why). A clean error names the field and the file."""
    from dcsim.scenario import load_scenario
    from dcsim.engine.preflight import preflight

    name, _, frag = FILE_KINDS[kind]
    p = folder / name
    p.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    field, value = frag(name)
    raw = yaml.safe_load((SCENARIO_DIR / "reference.yaml").read_text())
    raw["duration"] = "2 h"
    if field == "workload":
        raw["workload"] = value
    else:
        raw["facility"]["weather"] = value

    def problems(e):
        msg = str(e)
        probs = []
        if not any(path == field or path.startswith(field + ".") for path, _ in e.errors):
            probs.append(f"error does not name {field}: {e.errors!r}"[:300])
        if name not in msg:
            probs.append("error does not name the file")
        if len(msg) > 2000:
            probs.append(f"message of {len(msg):,} characters")
        return probs

    return _outcome(lambda: preflight(load_scenario(raw, base_dir=folder)), problems, timeout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000, help="mutated scenarios to try")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-ops", type=int, default=3)
    ap.add_argument("--preflight", action="store_true",
                    help="run the full preflight (files, catalog, physics, resources) on mutants that validate")
    ap.add_argument("--build", type=int, default=0, help="(older name) same as --preflight for up to N valid mutants")
    ap.add_argument("--files", type=int, default=0, help="also try N damaged trace/weather files through preflight")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds before an input counts as a hang")
    ap.add_argument("--show", type=int, default=5, help="examples to print per problem kind")
    ap.add_argument("--yaml", action="store_true",
                    help="go through YAML files on disk (load_scenario(path)); half of them also damaged as text")
    a = ap.parse_args(argv)

    bases = seed_scenarios()
    names = sorted(bases)
    ch = RandomChooser(a.seed)
    kinds = ("valid", "clean", "unclear", "crash", "hang")
    counts = dict.fromkeys(kinds, 0)
    fcounts = dict.fromkeys(kinds, 0)
    examples: dict[str, list[str]] = {}
    t0 = time.perf_counter()
    import tempfile

    def note(kind, why, label):
        if kind in ("unclear", "crash", "hang"):
            key = kind + ": " + why.splitlines()[0][:80]
            ex = examples.setdefault(key, [])
            if len(ex) < a.show:
                ex.append(f"{label}\n      {why}")

    tmp = tempfile.TemporaryDirectory()
    pre_left = a.build if a.build and not a.preflight else (a.n if a.preflight else 0)
    for i in range(a.n):
        name = ch.choice(names)
        raw, notes = mutate(bases[name], ch, a.max_ops)
        if a.yaml:
            corrupt = bool(ch.integer(0, 1))
            kind, why = check_yaml(raw, ch, Path(tmp.name), corrupt, a.timeout)
            notes.append("text damaged" if corrupt else "via YAML")
        else:
            deep = pre_left > 0
            kind, why = check_one(raw, preflight=deep, timeout=a.timeout)
            if deep and kind == "valid" or deep and kind == "clean":
                pre_left -= 1
        counts[kind] += 1
        note(kind, why, f"{name}: {' | '.join(notes)}")
    fkinds = sorted(FILE_KINDS)
    for i in range(a.files):
        kind_f = ch.choice(fkinds)
        text = FILE_KINDS[kind_f][1]()
        for _ in range(ch.integer(1, 3)):
            text = damage_file(text, ch)
        kind, why = check_file(kind_f, text, Path(tmp.name), a.timeout)
        fcounts[kind] += 1
        note(kind, why, f"{kind_f} file #{i}")
    el = time.perf_counter() - t0
    tmp.cleanup()
    print(f"seed scenarios: {', '.join(names)}")
    how = "; through YAML files, half damaged as text" if a.yaml else ("; valid ones through preflight" if a.preflight else "")
    print(f"tried {a.n} mutated scenarios and {a.files} damaged input files in {el:.1f} s "
          f"(seed {a.seed}, 1..{a.max_ops} mutations each{how}; hang = no answer in {a.timeout:g} s)")
    print(f"  {'':44s} {'scenarios':>10s} {'files':>8s}")
    for k, label in (("clean", "clean error (names field/file and reason)"), ("valid", "accepted"),
                     ("unclear", "error without a clear path/reason"), ("crash", "traceback (other exception)"),
                     ("hang", "hang")):
        print(f"  {label:44s} {counts[k]:10d} {fcounts[k]:8d}")
    for key, exs in sorted(examples.items()):
        print(f"\n[{key}]")
        for e in exs:
            print("   ", e)
    bad = sum(c[k] for c in (counts, fcounts) for k in ("unclear", "crash", "hang"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
