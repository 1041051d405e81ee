"""Shared fixtures: small scenarios built as dicts, and the in-repo copy of the public data."""

import copy
import functools
import os
from pathlib import Path

# BLAS and OpenMP on one thread in every test process (and the CLI, notebook and script subprocesses the tests start,
# which inherit the variables), set before numpy loads; a value already in the environment wins. Their worker threads
# busy-wait after each BLAS call (a calibration fit, a least-squares line): with pytest -n auto on every core that
# spinning takes CPU from the other worker; bench/benchtiming.py holds its timings to one thread for the same cause.
# What a test reads does not change (the tests pass either way; measured in the commit that added this).
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: public measurements and traces shipped with the package (scripts/vendor_data.py; licences in its README)
DATA = ROOT / "dcsim" / "data" / "sources"


def small_scenario(**over) -> dict:
    """A tiny steady facility: constant weather, constant Poisson demand, 2 racks of H100s."""
    sc = {
        "name": "small",
        "seed": 1,
        "duration": "2 h",
        "fidelity": "fluid",
        "facility": {
            "interconnect": "200 kW",
            "cooling": {"kind": "chiller_plant", "capacity": "300 kW"},
            "weather": {"kind": "constant", "t_db": 25, "rh": 0.4},
        },
        "racks": [{
            "name": "r", "count": 4, "nodes_per_rack": 4,
            "node": {"gpu": "H100-SXM", "model": "llama-3.1-70b", "tensor_parallel": 4, "max_batch": 256},
            "cooling": {"kind": "rear_door", "limit": "50 kW"},
        }],
        "workload": {"arrivals": {"kind": "poisson", "rate": "200 req/s"},
                     "classes": [{"name": "chat", "preset": "chat", "share": 1.0}]},
        "controller": {"tick": "30 s"},
    }
    out = copy.deepcopy(sc)
    for k, v in over.items():
        cur = out
        keys = k.split(".")
        for kk in keys[:-1]:
            cur = cur[int(kk)] if isinstance(cur, list) else cur[kk]
        last = keys[-1]
        if isinstance(cur, list):
            cur[int(last)] = v
        else:
            cur[last] = v
    return out


def throttled_small_runs(*interconnects, gpu: str | None = None) -> list:
    """``dcsim.run`` of the small facility over 1 h at 10-min ticks behind each of ``interconnects`` (None: its own
    200 kW, where the clock stays at 1.0), its GPU swapped for ``gpu`` when given: the runs the extrapolated-clock
    tests throttle (behind 120 kW about 0.73-0.77, behind 110 kW below 0.69; tests/test_cap_flags.py,
    tests/test_transfer_floors.py, which repeated this setup until session 54)."""
    import dcsim

    runs = []
    for ic in interconnects:
        sc = small_scenario(duration="1 h", **{"controller.tick": "10 min"})
        if gpu is not None:
            sc["racks"][0]["node"]["gpu"] = gpu
        if ic is not None:
            sc["facility"]["interconnect"] = ic
        runs.append(dcsim.run(sc))
    return runs


@pytest.fixture
def small():
    return small_scenario


@functools.cache
def _shipped_run(name: str):
    import dcsim

    return dcsim.run(ROOT / "scenarios" / f"{name}.yaml")


@pytest.fixture(scope="session")
def shipped_run():
    """``shipped_run("reference")``: ``dcsim.run`` of ``scenarios/reference.yaml`` as shipped (no overrides), run once
    per test process and shared by every test that asks for it, so the same day is not simulated again in each file
    (mixed-fleet's day: 40 CPU-s a run in a warm process, measured 2026-12-06). Read it, never change it. Tests that
    share a run carry ``pytest.mark.xdist_group("shipped-<name>")`` so ``--dist loadgroup`` (addopts) sends them to one worker."""
    return _shipped_run


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under ``--dist loadgroup`` (addopts) the tests of a module that read one of its module-scoped fixtures go to
    one worker together (``xdist_group`` = the module's path), so each such fixture (a simulation, a grid of them)
    is built once per run, not once on each worker that draws one of its tests (under ``--dist load`` a module's
    tests are spread over the workers and each built it: test_slo_estimate's grid of 16 request-fidelity points,
    twice). A test that names its own group (a shared run of :func:`shipped_run`) keeps it. Nothing runs
    differently: the same tests, on one worker instead of two."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        module = item.nodeid.split("::", 1)[0]
        if any(fd.scope == "module" and fd.baseid == module
               for defs in info.name2fixturedefs.values() for fd in defs[-1:]):
            item.add_marker(pytest.mark.xdist_group(module))
    _long_tests_first(config, items)
    _group_suffix_for_pytest_9(config, items)


def _long_tests_first(config, items) -> None:
    """Under pytest-xdist, the tests marked ``slow`` or ``notebooks`` (each over a minute on a loaded 2-core box: the
    tutorial notebooks, notebook 03's plan cells 76-165 s) are handed out first, so the run does not end on one worker
    running a long test the scheduler reached late while the other has nothing left (xdist hands out the work units
    in collection order, under loadgroup the groups of several tests first: the notebooks waited for every test of the
    files before test_notebooks.py).
    A stable sort: every other test keeps its order, and a group's tests stay one unit. Without -n the order is left
    as collected."""
    if not hasattr(config, "workerinput"):  # an xdist worker (its collection is what the scheduler hands out)
        return
    items.sort(key=lambda it: it.get_closest_marker("slow") is None and it.get_closest_marker("notebooks") is None)


def _group_suffix_for_pytest_9(config, items) -> None:
    """pytest-xdist (3.8) sends a group to one worker by the ``@group`` it appends to a test's id, written to
    ``item._nodeid``; pytest 9 keeps the id in ``item._id`` and ignored it, so ``--dist loadgroup`` silently ran every
    test as its own unit (the groups above and :func:`shipped_run`'s split again; pytest-xdist issue #1386, fix
    proposed in PR #1388, open on 2026-12-05). Append it where xdist's write does not take; under pytest 8 xdist does
    it itself; once xdist writes ``_id`` it appends the same suffix after this one and its scheduler reads the last
    ``@``: the same group. Remove this then."""
    if not getattr(config.option, "loadgroup", False) or not items or not hasattr(items[0], "_id"):
        return
    from _pytest.nodeid import coerce_node_id

    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        if names and "@" not in item.nodeid.rsplit("]", 1)[-1]:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(names)}")


def transferred_scenario() -> dict:
    """The tiny facility of :func:`small_scenario` for one hour at 10-min ticks, on a model no profile calibrates
    (Mixtral 8x7B on 2 H100s, transferred): a ~400-character UNCALIBRATED caveat and long warnings."""
    sc = small_scenario(**{"duration": "1 h", "controller.tick": "10 min"})
    sc["name"] = "mixtral"
    sc["racks"][0]["node"].update({"model": "mixtral-8x7b", "tensor_parallel": 2})
    return sc


def cli_refusal(capsys, *argv) -> tuple:
    """Run the CLI in-process and return ``(exit code, stderr)``; an argparse refusal (SystemExit) is an exit code
    like any other, and no input, however hostile, may print a traceback or "internal error" (the hostile-input
    tests' one rule)."""
    from dcsim.cli import main as cli_main

    try:
        code = cli_main([str(a) for a in argv])
    except SystemExit as e:  # argparse's refusal of an argument
        code = e.code
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "internal error" not in out.err, out.err
    return code, out.err


def squash(text: str) -> str:
    """``text`` with every run of whitespace (a line break of the terminal's wrapping included) as one space: what a
    test searches the summary, a plan answer or compare's text for, wherever the terminal view breaks its lines."""
    return " ".join(str(text).split())


def run_with_replica_clock(monkeypatch, scenario, overrides=None, force=None):
    """``dcsim.run`` of ``scenario`` that also returns the request lane's clock per tick
    (``RequestEngine.chunk_power(...)["replica_clock"]``, one pool: the replicas' own, not the timeseries' fluid
    ``mean_clock``). ``force(i, clock) -> clock``, where given, replaces that clock of tick ``i`` before the record
    reads it (the binding label's input)."""
    import dcsim
    from dcsim.engine.requests import RequestEngine
    orig, seen = RequestEngine.chunk_power, []

    def chunk_power(self, *a, **k):
        out = orig(self, *a, **k)
        rc = np.array(out["replica_clock"], float)
        if force is not None:
            rc = np.array([force(len(seen) + i, c) for i, c in enumerate(rc)])
            out["replica_clock"] = rc
        seen.extend(rc.tolist())
        return out

    monkeypatch.setattr(RequestEngine, "chunk_power", chunk_power)
    r = dcsim.run(scenario, overrides=overrides)
    return r, np.array(seen)


def json_mismatches(stored, fresh, where: str = "") -> list[str]:
    """Where ``fresh`` differs from ``stored`` (JSON values, a stored file against the run or command that made it):
    numbers beyond a relative 1e-9, anything else unequal; each as ``.dotted.path: stored ..., run ...``."""
    if isinstance(stored, dict) and isinstance(fresh, dict):
        if set(stored) != set(fresh):
            return [f"{where or '.'}: keys {sorted(set(stored) ^ set(fresh))}"]
        return [x for k in stored for x in json_mismatches(stored[k], fresh[k], f"{where}.{k}")]
    if isinstance(stored, list) and isinstance(fresh, list):
        if len(stored) != len(fresh):
            return [f"{where}: {len(stored)} entries stored, {len(fresh)} in the run"]
        return [x for i, (a, b) in enumerate(zip(stored, fresh)) for x in json_mismatches(a, b, f"{where}.{i}")]
    num = (int, float)
    if isinstance(stored, num) and isinstance(fresh, num) and not isinstance(stored, bool):
        return [] if fresh == pytest.approx(stored, rel=1e-9, abs=1e-12) else [f"{where}: stored {stored}, run {fresh}"]
    return [] if stored == fresh else [f"{where}: stored {stored!r}, run {fresh!r}"]


def cielab(c) -> np.ndarray:
    """CIELAB (D65) of a matplotlib colour: the sRGB curve undone, XYZ by the sRGB matrix (IEC 61966-2-1), L*a*b*
    (CIE 15:2004). The colour-distance tests' one helper (tests/test_plots.py, tests/test_compare.py)."""
    from matplotlib.colors import to_rgba

    rgb = np.asarray(to_rgba(c)[:3])
    lin = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ lin
    f = [v ** (1 / 3) if v > 216 / 24389 else (24389 / 27 * v + 16) / 116
         for v in xyz / np.array([0.95047, 1.0, 1.08883])]
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


#: docs/sources.md's marks, not publications: [S] a figure read through a secondary source, [D] one derived in dcsim
SOURCE_MARKS = frozenset({"S", "D"})
#: entries whose text names no address and no publication (their addresses were lost before docs/sources.md was
#: written: CALIBRATION.md had the same text), each allowed by name with why, so a new one fails
SOURCE_UNADDRESSED: dict[str, str] = {}
#: a cited tag in a text: [KEY] with a letter first ("[ML3]", "[ML3-bench]", "[AZ23]"; spaces too: "[ML3 Table 2]"
#: is no entry, as test_defaults read it before session 53); units in brackets ([W]) are not written in the texts
#: these tests read
CITED_TAG = r"\[([A-Za-z][A-Za-z0-9\-_. ]*)\]"
_ADDRESS = (r"https?://|github\.com|\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|io|net|ai|page|blog|tech|news|quest|sg|edu|gov"
            r"|dev)\b|`[\w.-]+/[\w.-]+`|@[0-9a-f]{7,40}\b|\([0-9a-f]{7,40}\)")
_PUBLICATION = (r"arXiv \d{4}\.\d{4,5}|\bdoi\b|\b(?:ISCA|ASPLOS|HPCA|SOSP|NeurIPS|FAccT|IEEE|ACM)\b|White Paper"
                r"|datasheet|\"[^\"]{10,}\"[^.]*\b(?:19|20)\d{2}\b|\bEnergy \(\d{4}\)")


def source_entries() -> dict[str, str]:
    """docs/sources.md as {tag: its entry's text}: each ``**[KEY]**`` (each key of a ``**[A]/[B]**`` group) with the
    text up to the next tag of its line."""
    import re
    out = {}
    for line in (ROOT / "docs" / "sources.md").read_text().splitlines():
        if line.startswith("- **["):
            parts = re.split(r"\*\*((?:\[[^\]]+\]/?)+)\*\*", line[2:])
            for group, body in zip(parts[1::2], parts[2::2]):
                for k in re.findall(r"\[([^\]]+)\]", group):
                    out[k] = body.strip()
    return out


def citation_problems(text: str, where: str, entries: dict[str, str] | None = None) -> list[str]:
    """What is wrong with the citations of ``text`` (``where``: what it is, for the message): each tag it cites must
    be an entry of docs/sources.md (a typo, [ML33], is no entry) whose text gives an address (a URL, a site, a
    repository or commit) or a publication (an arXiv number, a DOI, a venue, a titled and dated paper, a datasheet);
    the marks [S] and [D] are entries with neither by definition."""
    import re
    entries = source_entries() if entries is None else entries
    bad = []
    for tag in re.findall(CITED_TAG, text):
        body = entries.get(tag)
        if body is None:
            bad.append(f"{where}: [{tag}] is no entry of docs/sources.md")
        elif tag not in SOURCE_MARKS and tag not in SOURCE_UNADDRESSED and not (
                re.search(_ADDRESS, body) or re.search(_PUBLICATION, body)):
            bad.append(f"{where}: [{tag}]'s entry in docs/sources.md gives no address or publication: {body[:80]}")
    return bad
