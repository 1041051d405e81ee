"""Bad input never crashes: mutated shipped scenarios, damaged YAML text and damaged trace and
weather files are accepted or refused with a clean ScenarioError — never another exception,
never a hang, and no test here skips past a crash.

The mutation engine lives in ``scripts/fuzz_scenarios.py`` (``--n 3000 --preflight --files 1000``
runs the large campaign); here hypothesis drives it for a few hundred examples so failures shrink.
"""

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import squash
from dcsim.cli import main as cli_main
from dcsim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("fuzz_scenarios", ROOT / "scripts" / "fuzz_scenarios.py")
fz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fz)

BASES = fz.seed_scenarios()
NAMES = sorted(BASES)

class HypothesisChooser:
    """The fuzz engine's choices drawn from hypothesis (so a failing mutation shrinks)."""

    def __init__(self, data):
        self.data = data

    def choice(self, seq):
        return self.data.draw(st.sampled_from(list(seq)))

    def integer(self, lo, hi):
        return self.data.draw(st.integers(lo, hi))

    def text(self):
        return self.data.draw(st.text(max_size=12).filter(bool))


TIMEOUT_S = 60.0  # an input with no answer in this time is a hang, and fails the test


def _assert_clean(raw, preflight=False):
    kind, why = fz.check_one(raw, preflight=preflight, timeout=TIMEOUT_S)
    assert kind in ("valid", "clean"), why


FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def test_seed_scenarios_are_valid():
    assert len(BASES) >= 3
    for name, raw in BASES.items():
        assert fz.check_one(raw) == ("valid", ""), name


@FUZZ
@given(st.data())
def test_mutated_scenarios_validate_or_fail_cleanly(data):
    base = BASES[data.draw(st.sampled_from(NAMES))]
    raw, _ = fz.mutate(base, HypothesisChooser(data))
    _assert_clean(raw)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**200), 2**200) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4),
    max_leaves=12,
)


@FUZZ
@given(st.data())
def test_arbitrary_values_anywhere(data):
    """Any JSON-like value (NaN, inf, huge ints, nesting) at any path of a shipped scenario."""
    base = BASES[data.draw(st.sampled_from(NAMES))]
    raw = fz.copy.deepcopy(base)
    paths = [p for p in fz._paths(raw) if p]
    path = data.draw(st.sampled_from(paths))
    raw = fz._set(raw, path, data.draw(JSONISH))
    _assert_clean(raw)


def _quantity_leaves(node, prefix=()):
    """Paths of leaves written as '<number> <unit>' strings."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _quantity_leaves(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _quantity_leaves(v, prefix + (i,))
    elif isinstance(node, str) and node[:1].isdigit() and " " in node:
        yield prefix


def _dotted(path):
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (p if not out else "." + p)
    return out


@pytest.mark.parametrize("how", ["unit", "negative", "nan"])
def test_every_quantity_field_names_its_path(how):
    """Each '<number> <unit>' field of the reference scenario, given a wrong unit ("20 kg"), a
    negative or NaN in its own unit, gives an error naming exactly that field path and the reason."""
    base = BASES["reference.yaml"]
    leaves = list(_quantity_leaves(base))
    assert len(leaves) >= 6
    rejected = 0
    for path in leaves:
        num, unit = fz._get(base, path).split(None, 1)
        bad = {"unit": "20 kg", "negative": f"-{num} {unit}", "nan": f"nan {unit}"}[how]
        raw = fz._set(fz.copy.deepcopy(base), path, bad)
        try:
            load_scenario(raw, base_dir=fz.SCENARIO_DIR)
        except ScenarioError as e:
            rejected += 1
            match = [r for p, r in e.errors if p == _dotted(path)]
            assert match, (path, e.errors)
            want = {"unit": "unit 'kg'", "negative": bad, "nan": "finite"}[how]
            assert any(want in r for r in match), (path, match)
        else:  # only a negative value may be legal, and only where the field allows it
            assert how == "negative" and unit in ("degC", "K"), (path, bad)
    assert rejected >= len(leaves) - (2 if how == "negative" else 0)


def test_yaml_is_never_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.yaml"
    p.write_text(f"name: !!python/object/apply:os.system ['touch {marker}']\nduration: 1 h\n")
    assert cli_main(["validate", str(p)]) == 2
    assert not marker.exists()


@pytest.mark.parametrize("text", [
    "", "- a\n- b\n", "name: [unclosed\n", "\tname: tab\n", "name: x\nname: y\n: :\n", "\x00\x01",
    "duration: 1 h\n", "name: ok\nduration: 1 h\nracks: {}\nfacility: 5\nworkload: []\n",
])
def test_cli_validate_broken_files(tmp_path, capsys, text):
    p = tmp_path / "broken.yaml"
    p.write_text(text)
    assert cli_main(["validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(p) in err and "invalid scenario" in squash(err)


def test_cli_validate_mutated_files(tmp_path, capsys):
    """A few hundred invalid mutants through ``dcsim validate``: exit 2, field path in stderr, no traceback."""
    ch = fz.RandomChooser(11)
    n_invalid = 0
    for i in range(200):
        name = ch.choice(NAMES)
        raw, notes = fz.mutate(BASES[name], ch)
        if fz.check_one(raw)[0] != "clean":
            continue
        p = tmp_path / f"m{i}.yaml"
        p.write_text(yaml.safe_dump(raw, allow_unicode=True))
        code = cli_main(["validate", str(p)])
        out = capsys.readouterr()
        assert code == 2, notes
        assert "Traceback" not in out.err and "invalid scenario" in squash(out.err), notes
        n_invalid += 1
    assert n_invalid > 150


def test_cli_bad_overrides(tmp_path, capsys):
    ref = str(fz.SCENARIO_DIR / "reference.yaml")
    for sets in (["racks.7.count=3"], ["facility=5"], ["duration=20 kg"], ["nonsense"], ["seed=-1"],
                 ["facility.interconnect=nan MW"]):
        assert cli_main(["validate", ref, *sum((["--set", s] for s in sets), [])]) == 2, sets
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.strip(), sets


def test_cli_subprocess_exit_code_and_no_traceback(tmp_path):
    bad = fz.copy.deepcopy(BASES["reference.yaml"])
    bad["facility"]["interconnect"] = "20 kg"
    bad["racks"][0]["count"] = -3
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(bad))
    r = subprocess.run([sys.executable, "-c", "import sys; from dcsim.cli import main; sys.exit(main())",
                        "validate", str(p)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "facility.interconnect" in r.stderr and "racks[0].count" in r.stderr


# ------------------------------------------------------------------ regressions found by the fuzzer

def test_huge_integer_quantity_is_a_clean_error():
    raw = fz.copy.deepcopy(BASES["reference.yaml"])
    raw["facility"]["interconnect"] = 10**400
    with pytest.raises(ScenarioError):
        load_scenario(raw, base_dir=fz.SCENARIO_DIR)


def test_empty_unknown_key_is_named():
    raw = fz.copy.deepcopy(BASES["reference.yaml"])
    raw[""] = 1
    with pytest.raises(ScenarioError) as ei:
        load_scenario(raw, base_dir=fz.SCENARIO_DIR)
    assert all(p for p, _ in ei.value.errors), ei.value.errors


def test_nan_is_never_accepted_anywhere():
    """NaN in any numeric leaf is rejected (never silently propagated into the engine)."""
    base = BASES["reference.yaml"]
    for path in fz._paths(base):
        v = fz._get(base, path) if path else None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            raw = fz._set(fz.copy.deepcopy(base), path, math.nan)
            with pytest.raises(ScenarioError):
                load_scenario(raw, base_dir=fz.SCENARIO_DIR)


@FUZZ
@given(st.data())
def test_mutated_faults_fail_cleanly(data):
    """The ``faults:`` section (a Scenario with the field the integrator wires) under the same mutations."""
    from pydantic import ValidationError

    from dcsim.scenario import Scenario, _errors_from
    from dcsim.scenario.faults import FaultsSpec

    class WithFaults(Scenario):
        faults: FaultsSpec = ()

    part, notes = fz.mutate({"faults": fz.FAULTS_EXAMPLE}, HypothesisChooser(data))
    raw = fz.copy.deepcopy(BASES["reference.yaml"])
    if isinstance(part, dict):
        raw.update(part)
    else:
        raw["faults"] = part
    try:
        WithFaults.model_validate(raw)
    except ValidationError as e:
        err = ScenarioError("<fuzz>", _errors_from(e, raw))
        assert not fz.error_problems(err, raw), (notes, err.errors)
        if isinstance(part, dict) and set(part) == {"faults"}:  # only the faults entry changed
            assert any(p.startswith("faults") for p, _ in err.errors), (notes, err.errors)


def test_damaged_yaml_files_fail_cleanly(tmp_path):
    """Mutants written as YAML and damaged as text (cuts, stray ':', tabs, anchors, python tags,
    alias bombs, deep brackets, duplicate keys, invalid UTF-8). Every one is counted."""
    ch = fz.RandomChooser(5)
    seen = {"clean": 0, "valid": 0}
    for _ in range(200):
        raw, notes = fz.mutate(BASES[ch.choice(NAMES)], ch)
        kind, why = fz.check_yaml(raw, ch, tmp_path, corrupt=True, timeout=TIMEOUT_S)
        assert kind in seen, (notes, why)
        seen[kind] += 1
    assert seen["clean"] > 150


@FUZZ
@given(data=st.data())
def test_yaml_text_damage_fails_cleanly(tmp_path_factory, data):
    base = BASES[data.draw(st.sampled_from(NAMES))]
    kind, why = fz.check_yaml(base, HypothesisChooser(data), tmp_path_factory.mktemp("y"), corrupt=True,
                              timeout=TIMEOUT_S)
    assert kind in ("valid", "clean"), why


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_valid_mutants_pass_preflight_or_fail_cleanly(data):
    """Mutants that validate go through the whole preflight: files, catalog names, physics,
    resources — a refusal there is a clean ScenarioError too."""
    base = BASES[data.draw(st.sampled_from(NAMES))]
    raw, _ = fz.mutate(base, HypothesisChooser(data), max_ops=2)
    _assert_clean(raw, preflight=True)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_damaged_input_files_fail_cleanly(tmp_path_factory, data):
    """Trace (Azure CSV, Mooncake JSONL), weather CSV and EPW files with bad cells, short rows,
    dropped columns, duplicated/swapped rows, cut text, bad bytes, far-future stamps: accepted or
    refused naming the scenario field and the file."""
    ch = HypothesisChooser(data)
    kind = ch.choice(sorted(fz.FILE_KINDS))
    text = fz.FILE_KINDS[kind][1]()
    for _ in range(ch.integer(1, 3)):
        text = fz.damage_file(text, ch)
    res, why = fz.check_file(kind, text, tmp_path_factory.mktemp("f"), timeout=TIMEOUT_S)
    assert res in ("valid", "clean"), (kind, why)


def test_damaged_input_files_seeded_campaign(tmp_path):
    """The script's own chooser over every file kind; most damage must be caught."""
    ch = fz.RandomChooser(3)
    seen = {"valid": 0, "clean": 0}
    for i in range(200):
        kind = ch.choice(sorted(fz.FILE_KINDS))
        text = fz.damage_file(fz.FILE_KINDS[kind][1](), ch)
        res, why = fz.check_file(kind, text, tmp_path, timeout=TIMEOUT_S)
        assert res in seen, (i, kind, why)
        seen[res] += 1
    assert seen["clean"] > 80


def test_fuzz_script_reports_counts(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "fuzz_scenarios.py"), "--n", "40", "--preflight",
                        "--files", "20", "--seed", "7"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    for word in ("clean error", "accepted", "traceback", "hang"):
        assert word in r.stdout
