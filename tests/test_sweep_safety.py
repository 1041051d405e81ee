"""Sweeps are safe (issues 16.6 and 17.5): the point cache answers only for the same scenario,
code and input files, and workers never outlive an interrupted or killed sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dcsim.sweep as sw
from conftest import small_scenario
from dcsim.sweep import load_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]


def _spec(base=None, **params):
    return load_sweep({"base": base or small_scenario(duration="1 h"),
                       "parameters": params or {"racks.0.count": {"values": [2, 4]}}})


def test_code_change_invalidates_the_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = run_sweep(_spec(), cache_dir=cache, progress=False)
    assert all(r["cached"] for r in run_sweep(_spec(), cache_dir=cache, progress=False))
    monkeypatch.setattr(sw, "code_hash", lambda: "0" * 64)  # as after an edit of the physics
    again = run_sweep(_spec(), cache_dir=cache, progress=False)
    assert not any(r["cached"] for r in again)
    assert [r["pue"] for r in again] == [r["pue"] for r in first]


def test_code_hash_covers_sources_and_data():
    h = sw.code_hash()
    assert len(h) == 64 and h == sw.code_hash()
    files = [p for p in (ROOT / "dcsim").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert any(p.suffix == ".py" for p in files) and any("data" in p.parts for p in files)


def test_input_file_change_invalidates_the_cache(tmp_path):
    w = tmp_path / "w.csv"
    w.write_text("hour,t_db,rh\n0,20,50\n1,22,50\n")
    base = small_scenario(duration="1 h")
    base["facility"]["weather"] = {"kind": "csv", "path": str(w), "wrap": True}
    cache = tmp_path / "cache"
    run_sweep(_spec(base), cache_dir=cache, progress=False)
    assert all(r["cached"] for r in run_sweep(_spec(base), cache_dir=cache, progress=False))
    w.write_text("hour,t_db,rh\n0,40,50\n1,42,50\n")  # a hotter file, same name and scenario
    hot = run_sweep(_spec(base), cache_dir=cache, progress=False)
    assert not any(r["cached"] for r in hot)
    assert sw.data_files(sw.load_scenario(base))[str(w)] != "missing"


def test_cache_files_are_written_by_the_one_atomic_helper(tmp_path, monkeypatch):
    import dcsim.report.outdir as od

    seen = []
    real = od.atomic_write_bytes
    monkeypatch.setattr(sw, "atomic_write_bytes", lambda p, d: seen.append(Path(p).name) or real(p, d))
    run_sweep(_spec(), cache_dir=tmp_path / "c", progress=False, out=tmp_path / "o")
    assert sum(n.endswith(".json") for n in seen) == 2 and "results.csv" in seen


def _descendants(pid: int) -> set[int]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    out, todo = set(), [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_workers_end_with_their_sweep(tmp_path, sig):
    spec = tmp_path / "sweep.yaml"
    # points long enough that a loaded machine interrupts them before the sweep ends (with 2000 h the whole sweep
    # finished first once, in a fresh clone's full run: exit 0, not 130)
    spec.write_text(
        f"name: stop\nbase: {ROOT / 'scenarios' / 'reference.yaml'}\nmode: grid\n"
        "parameters:\n  facility.interconnect: {range: [300 kW, 600 kW], steps: 6}\nfixed:\n  duration: 6000 h\n")
    errf = tmp_path / "stderr.txt"
    with open(errf, "w") as fh:  # not a pipe: a surviving worker would hold it open
        p = subprocess.Popen([sys.executable, "-m", "dcsim.cli", "sweep", str(spec), "--cache-dir",
                              str(tmp_path / "c"), "--out", str(tmp_path / "o"), "-q", "--workers", "2"],
                             stdout=subprocess.DEVNULL, stderr=fh, cwd=ROOT)
    workers: set[int] = set()
    t0 = time.time()
    while time.time() - t0 < 120 and p.poll() is None:  # until both workers are inside a point
        workers = {w for w in _descendants(p.pid) if _alive(w)}
        busy = [w for w in workers if "popen_loky" in Path(f"/proc/{w}/cmdline").read_text(errors="replace")
                and len(os.listdir(f"/proc/{w}/task")) >= 2]
        if len(busy) >= 2:
            break
        time.sleep(0.2)
    assert len(workers) >= 2, "the sweep never started its workers"
    workers |= _descendants(p.pid)
    os.kill(p.pid, sig)
    p.wait(timeout=60)
    err = errf.read_text()
    if sig == signal.SIGINT:
        assert p.returncode == 130 and "Traceback" not in err, err
    t1 = time.time()
    while time.time() - t1 < 15 and any(_alive(w) for w in workers):
        time.sleep(0.2)
    assert not [w for w in workers if _alive(w)], "workers outlived their sweep"


def test_an_interrupted_point_is_never_cached(tmp_path, monkeypatch):
    """Ctrl-C stops a run at a tick boundary with a partial report; a sweep must not keep it."""
    import importlib

    er = importlib.import_module("dcsim.engine.run")  # the module (dcsim.engine.run is also a function name)
    real = er.run

    def partial_run(*a, **k):
        res = real(*a, **k)
        res.report["partial"] = True
        return res

    monkeypatch.setattr(er, "run", partial_run)
    cache = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(_spec(), cache_dir=cache, progress=False)
    assert not list(cache.rglob("*.json"))
