"""Fuzz the scenario loader: mutate the shipped scenarios and check every outcome is clean.

Every mutated scenario must either validate or raise :class:`dcsim.scenario.ScenarioError`
whose ``errors`` name a field path and a reason — never any other exception. Mutations: wrong
types, negatives, NaN/inf, missing and unknown keys, absurd magnitudes, wrong units ("20 kg"),
deleted sections, lists where mappings go (and the reverse), garbage strings, deep nesting.

    python scripts/fuzz_scenarios.py --n 10000 [--seed 0] [--build 200] [--yaml]

prints ``tried / clean errors / valid / other-exception`` counts (and the first offending inputs
of each exception type). ``--build N`` also builds the models (``dcsim.engine.build.build_models``)
of up to N mutated scenarios that validated, and counts crashes there separately.

The mutation engine (:func:`mutate`) draws its choices from a *chooser*; ``tests/test_fuzz_scenarios.py``
drives the same engine from hypothesis (so failures shrink), this script from ``random.Random``.
"""

from __future__ import annotations

import argparse
import copy
import math
import random
import sys
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


def check_one(raw: Any, base_dir: Path = SCENARIO_DIR) -> tuple[str, str]:
    """Validate ``raw``: ('valid', ''), ('clean', ''), ('unclear', why) or ('crash', exception)."""
    from dcsim.scenario import ScenarioError, load_scenario

    try:
        if not isinstance(raw, dict):  # what read_yaml does with a non-mapping document
            raise ScenarioError("<fuzz>", [("", f"top level must be a mapping of keys, got {type(raw).__name__}")])
        load_scenario(raw, base_dir=base_dir)
    except ScenarioError as e:
        probs = error_problems(e, raw)
        return ("unclear", "; ".join(probs)) if probs else ("clean", "")
    except Exception as e:  # noqa: BLE001 - counting exactly these is the point
        return "crash", f"{type(e).__name__}: {e}".splitlines()[0][:300] + "\n" + traceback.format_exc(limit=-3)
    return "valid", ""


def corrupt_text(text: str, ch) -> str:
    """Byte-level damage to a YAML document: cut, duplicate, or insert stray characters."""
    op = ch.choice(["cut", "dup", "insert", "truncate", "indent"])
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


def check_yaml(raw: Any, ch, folder: Path, corrupt: bool) -> tuple[str, str]:
    """Like :func:`check_one`, through a YAML file on disk (``load_scenario(path)``), optionally damaged."""
    from dcsim.scenario import ScenarioError, load_scenario

    text = yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)
    if corrupt:
        text = corrupt_text(text, ch)
    p = folder / "mutant.yaml"
    p.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_scenario(p, base_dir=SCENARIO_DIR)
    except ScenarioError as e:
        if not e.errors or not all(isinstance(r, str) and r.strip() for _, r in e.errors):
            return "unclear", f"errors without reasons: {e.errors!r}"
        if str(p) not in str(e):
            return "unclear", "error does not name the file"
        probs = [] if corrupt else error_problems(e, raw)
        return ("unclear", "; ".join(probs)) if probs else ("clean", "")
    except Exception as e:  # noqa: BLE001
        return "crash", f"{type(e).__name__}: {e}".splitlines()[0][:300] + "\n" + traceback.format_exc(limit=-3)
    return "valid", ""


def check_build(raw: dict, base_dir: Path = SCENARIO_DIR) -> str:
    """Build the models of a valid scenario; '' or the exception."""
    from dcsim.engine.build import build_models
    from dcsim.scenario import ScenarioError, load_scenario

    try:
        build_models(load_scenario(raw, base_dir=base_dir))
    except (ScenarioError, ValueError) as e:  # a clear refusal at build time is acceptable
        return "" if str(e).strip() else f"{type(e).__name__} with no message"
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
    return ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000, help="mutated scenarios to try")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-ops", type=int, default=3)
    ap.add_argument("--build", type=int, default=0, help="also build models of up to N valid mutants")
    ap.add_argument("--show", type=int, default=5, help="examples to print per problem kind")
    ap.add_argument("--yaml", action="store_true",
                    help="go through YAML files on disk (load_scenario(path)); half of them also damaged as text")
    a = ap.parse_args(argv)

    bases = seed_scenarios()
    names = sorted(bases)
    ch = RandomChooser(a.seed)
    counts = {"valid": 0, "clean": 0, "unclear": 0, "crash": 0}
    examples: dict[str, list[str]] = {}
    built = build_bad = 0
    t0 = time.perf_counter()
    import tempfile

    tmp = tempfile.TemporaryDirectory()
    for i in range(a.n):
        name = ch.choice(names)
        raw, notes = mutate(bases[name], ch, a.max_ops)
        if a.yaml:
            corrupt = bool(ch.integer(0, 1))
            kind, why = check_yaml(raw, ch, Path(tmp.name), corrupt)
            notes.append("text damaged" if corrupt else "via YAML")
        else:
            kind, why = check_one(raw)
        counts[kind] += 1
        if kind in ("unclear", "crash"):
            key = kind + ": " + why.splitlines()[0][:80]
            ex = examples.setdefault(key, [])
            if len(ex) < a.show:
                ex.append(f"{name}: {' | '.join(notes)}\n      {why}")
        elif kind == "valid" and built < a.build and isinstance(raw, dict):
            built += 1
            why_b = check_build(raw)
            if why_b:
                build_bad += 1
                ex = examples.setdefault("build: " + why_b[:80], [])
                if len(ex) < a.show:
                    ex.append(f"{name}: {' | '.join(notes)}")
    el = time.perf_counter() - t0
    tmp.cleanup()
    other = counts["crash"]
    print(f"seed scenarios: {', '.join(names)}")
    print(f"tried {a.n} mutated scenarios in {el:.1f} s (seed {a.seed}, 1..{a.max_ops} mutations each"
          f"{'; through YAML files, half damaged as text' if a.yaml else ''})")
    print(f"  clean validation errors (ScenarioError naming path and reason): {counts['clean']}")
    print(f"  valid after mutation:                                             {counts['valid']}")
    print(f"  ScenarioError without a clear path/reason:                        {counts['unclear']}")
    print(f"  other exception (crash):                                          {other}")
    if a.build:
        print(f"  built models of {built} valid mutants: {build_bad} raised something other than a clear ValueError")
    for key, exs in sorted(examples.items()):
        print(f"\n[{key}]")
        for e in exs:
            print("   ", e)
    return 1 if other or counts["unclear"] else 0


if __name__ == "__main__":
    sys.exit(main())
