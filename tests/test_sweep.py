"""Sweeps: expansion (grid, list, random, LHS, seeds), the point cache, resume, and Dask == local."""

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, small_scenario
from dcsim.scenario import ScenarioError
from dcsim.sweep import SweepSpec, columns, expand, load_sweep, run_sweep


def _spec(**kw):
    d = {"base": small_scenario(duration="1 h"), "parameters": {}}
    d.update(kw)
    return load_sweep(d)


def test_grid_is_the_cartesian_product_with_seeds_as_a_dimension():
    s = _spec(parameters={"facility.interconnect": {"range": ["100 kW", "300 kW"], "steps": 3},
                          "racks.0.count": {"values": [2, 4]}},
              seeds=2, fixed={"duration": "30 min"})
    pts = expand(s, base_seed=7)
    assert len(pts) == 3 * 2 * 2
    assert {p["facility.interconnect"] for p in pts} == {"100 kW", "200 kW", "300 kW"}
    assert {p["racks.0.count"] for p in pts} == {2, 4}
    assert {p["seed"] for p in pts} == {7, 8}
    assert all(p["duration"] == "30 min" for p in pts)
    # every combination exactly once
    combos = {(p["facility.interconnect"], p["racks.0.count"], p["seed"]) for p in pts}
    assert len(combos) == len(pts)


def test_integer_range_stays_integer_and_log_range_is_geometric():
    s = _spec(parameters={"racks.0.count": {"range": [2, 8], "steps": 4},
                          "workload.arrivals.scale": {"range": [0.1, 10], "steps": 3, "log": True}})
    pts = expand(s)
    assert sorted({p["racks.0.count"] for p in pts}) == [2, 4, 6, 8]
    assert all(isinstance(p["racks.0.count"], int) for p in pts)
    np.testing.assert_allclose(sorted({p["workload.arrivals.scale"] for p in pts}), [0.1, 1.0, 10.0])


def test_list_mode_zips_and_rejects_unequal_lengths():
    s = _spec(mode="list", parameters={"racks.0.count": {"values": [1, 2, 3]},
                                       "facility.interconnect": {"values": ["1 MW", "2 MW", "3 MW"]}})
    assert [(p["racks.0.count"], p["facility.interconnect"]) for p in expand(s)] == [(1, "1 MW"), (2, "2 MW"), (3, "3 MW")]
    with pytest.raises(ScenarioError):
        _spec(mode="list", parameters={"racks.0.count": {"values": [1, 2]}, "seed": {"values": [1]}})


def test_lhs_has_one_sample_per_stratum_within_bounds_and_is_seeded():
    n = 16
    par = {"facility.interconnect": {"distribution": "uniform", "low": "100 kW", "high": "500 kW"},
           "workload.arrivals.scale": {"distribution": "loguniform", "low": 0.5, "high": 2.0}}
    s = _spec(mode="lhs", samples=n, seed=3, parameters=par)
    pts = expand(s)
    assert len(pts) == n
    kw = np.array([float(p["facility.interconnect"].split()[0]) for p in pts])
    sc = np.array([p["workload.arrivals.scale"] for p in pts])
    assert np.all((kw >= 100) & (kw < 500)) and np.all((sc >= 0.5) & (sc < 2.0))
    # Latin hypercube: exactly one point in each of the n equal-probability strata, per dimension
    assert sorted(np.floor((kw - 100) / 400 * n).astype(int)) == list(range(n))
    assert sorted(np.floor(np.log(sc / 0.5) / np.log(4.0) * n).astype(int)) == list(range(n))
    assert expand(s) == pts
    assert expand(_spec(mode="lhs", samples=n, seed=4, parameters=par)) != pts
    # random mode: same bounds, not stratified in general, reproducible
    r = _spec(mode="random", samples=n, seed=3, parameters=par)
    assert expand(r) == expand(r) and len(expand(r)) == n


def test_spec_errors_are_clear():
    with pytest.raises(ScenarioError, match="exactly one"):
        _spec(parameters={"racks.0.count": {"values": [1], "range": [1, 2], "steps": 2}})
    with pytest.raises(ScenarioError, match="samples"):
        _spec(mode="lhs", parameters={"racks.0.count": {"values": [1, 2]}})
    with pytest.raises(ScenarioError, match="distribution"):
        _spec(mode="grid", parameters={"racks.0.count": {"distribution": "uniform", "low": 1, "high": 2}})
    with pytest.raises(ScenarioError, match="sweep point"):
        run_sweep(_spec(parameters={"racks.0.count": {"values": [0]}}), cache_dir=None, progress=False)


def test_a_parameter_spelled_two_ways_is_refused():
    """`racks.0.count` and `racks[0].count` were two axes of which one applied: half the points repeated others, and
    results.csv showed the other spelling's values (audit C, A11)."""
    two = {"racks.0.count": {"values": [1, 2]}, "racks[0].count": {"values": [3, 4]}}
    with pytest.raises(ScenarioError, match=r"parameters.racks.0.count and parameters.racks\[0\].count set the same "
                                            r"field: give each field once") as e:
        _spec(parameters=two)
    assert "Value error" not in str(e.value)
    with pytest.raises(ScenarioError, match="overlapping fields"):
        _spec(parameters={"racks.0": {"values": [{"count": 1}]}, "racks[0].count": {"values": [3, 4]}})
    with pytest.raises(ScenarioError, match=r"parameters.racks.0.count and fixed.racks\[0\].count set the same"):
        _spec(parameters={"racks.0.count": {"values": [1, 2]}}, fixed={"racks[0].count": 3})
    _spec(parameters={"racks.0.count": {"values": [1, 2]}, "racks.0.nodes_per_rack": {"values": [1, 2]}})


def _small_sweep():
    # 2 interconnects x 2 rack counts: power binds at the lower cap with more racks
    return _spec(parameters={"facility.interconnect": {"values": ["60 kW", "200 kW"]},
                             "racks.0.count": {"values": [2, 4]}})


def test_sweep_rows_cache_and_resume(tmp_path):
    cache = tmp_path / "cache"
    rows = run_sweep(_small_sweep(), cache_dir=cache, progress=False, out=tmp_path / "out")
    assert len(rows) == 4 and not any(r["cached"] for r in rows)
    assert len(list(cache.glob("*/*.json"))) == 4
    # inputs are the resolved SI values; the physics moves the right way
    by = {(r["facility.interconnect"], r["racks.0.count"]): r for r in rows}
    assert set(by) == {(60e3, 2), (60e3, 4), (200e3, 2), (200e3, 4)}
    assert by[(60e3, 4)]["binding.share.power"] > 0.5 > by[(200e3, 4)]["binding.share.power"]
    assert by[(200e3, 4)]["gpus"] == 2 * by[(200e3, 2)]["gpus"]
    for r in rows:
        s = sum(r[f"binding.share.{k}"] for k in ("demand", "compute", "power", "cooling"))
        assert s == pytest.approx(1.0)
    with open(tmp_path / "out" / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 4 and float(table[1]["throughput_tok_s.output"]) == rows[1]["throughput_tok_s.output"]

    # a repeated sweep is free: nothing runs (the runner would fail if called)
    import dcsim.sweep as sw

    def boom(*a, **k):
        raise AssertionError("a cached point was run again")

    orig = sw.run_point
    sw.run_point = boom
    try:
        again = run_sweep(_small_sweep(), cache_dir=cache, progress=False)
    finally:
        sw.run_point = orig
    assert all(r["cached"] for r in again)
    assert [r["throughput_tok_s.output"] for r in again] == [r["throughput_tok_s.output"] for r in rows]

    # simulated interruption: two points lost (and a stray temp file left behind) -> only they rerun
    files = sorted(cache.glob("*/*.json"))
    lost = {files[0].stem, files[1].stem}
    for p in files[:2]:
        p.unlink()
    (cache / ".deadbeef.tmp").write_text("{half a file")
    ran = []

    def counting(raw, ov, bdir):
        ran.append(ov)
        return orig(raw, ov, bdir)

    sw.run_point = counting
    try:
        resumed = run_sweep(_small_sweep(), cache_dir=cache, progress=False)
    finally:
        sw.run_point = orig
    assert len(ran) == 2
    assert {r["scenario_hash"] for r in resumed if not r["cached"]} == lost
    assert [r["throughput_tok_s.output"] for r in resumed] == [r["throughput_tok_s.output"] for r in rows]
    # cache entries are plain JSON reports keyed by the resolved scenario hash
    d = json.loads((cache / sw.code_hash()[:12] / f"{rows[0]['scenario_hash']}.json").read_text())
    assert d["report"]["provenance"]["scenario_hash"] == rows[0]["scenario_hash"]


def test_interrupted_sweep_resumes_where_it_stopped(tmp_path):
    import dcsim.sweep as sw

    cache = tmp_path / "cache"
    orig = sw.run_point
    calls = []

    def interrupted(raw, ov, bdir):
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C during the 4th point
        calls.append(ov)
        return orig(raw, ov, bdir)

    sw.run_point = interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            run_sweep(_small_sweep(), cache_dir=cache, progress=False)
    finally:
        sw.run_point = orig
    assert len(list(cache.glob("*/*.json"))) == 3          # finished points were kept
    rows = run_sweep(_small_sweep(), cache_dir=cache, progress=False)
    assert [r["cached"] for r in rows] == [True, True, True, False]
    fresh = run_sweep(_small_sweep(), cache_dir=None, progress=False)
    assert [r["throughput_tok_s.output"] for r in rows] == [r["throughput_tok_s.output"] for r in fresh]


def test_columns_and_parallel_local_equal_serial(tmp_path):
    spec = _small_sweep()
    serial = run_sweep(spec, cache_dir=None, progress=False)
    par = run_sweep(spec, workers=2, cache_dir=None, progress=False)
    keys = [k for k in serial[0] if k not in ("wall_s", "cached")]
    assert [[r[k] for k in keys] for r in par] == [[r[k] for k in keys] for r in serial]
    cols = columns(serial)
    assert cols["throughput_tok_s.output"].dtype == float and cols["binding.most_common"].dtype == object


def test_dask_localcluster_equals_local_run():
    distributed = pytest.importorskip("dask.distributed")
    spec = _small_sweep()
    local = run_sweep(spec, cache_dir=None, progress=False)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        remote = run_sweep(spec, client=client, cache_dir=None, progress=False)
    keys = [k for k in local[0] if k not in ("wall_s", "cached")]
    assert [[r[k] for k in keys] for r in remote] == [[r[k] for k in keys] for r in local]


def test_shipped_sweep_file_is_valid():
    spec = load_sweep(ROOT / "scenarios" / "sweeps" / "interconnect_vs_gpus.yaml")
    assert isinstance(spec, SweepSpec) and len(expand(spec)) == 20
    assert (spec.base_dir / spec.base).exists()


def test_sweep_killed_with_sigkill_resumes_without_losing_or_duplicating(tmp_path):
    """SIGKILL mid-sweep (no cleanup at all), then rerun: every point once, every cache file whole."""
    import os
    import signal
    import subprocess
    import sys
    import time

    root = Path(__file__).resolve().parents[1]
    spec = tmp_path / "sweep.yaml"
    spec.write_text(
        f"name: kill9\nbase: {root / 'scenarios' / 'reference.yaml'}\nmode: grid\n"
        "parameters:\n  facility.interconnect: {range: [300 kW, 600 kW], steps: 4}\n"
        "  racks.0.count: {values: [6, 8, 10]}\nfixed:\n  duration: 12 h\n")
    cache, out = tmp_path / "cache", tmp_path / "out"
    cmd = [sys.executable, "-m", "dcsim.cli", "sweep", str(spec), "--cache-dir", str(cache),
           "--out", str(out), "-q", "--workers", "1"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while time.time() - t0 < 120 and len(list(cache.glob("*/*.json"))) < 3 and p.poll() is None:
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    done_before = {f.stem for f in cache.glob("*/*.json")}
    assert 0 < len(done_before) < 12
    for f in cache.glob("*/*.json"):
        json.loads(f.read_text())  # no torn file
    assert subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300).returncode == 0
    files = {f.stem for f in cache.glob("*/*.json")}
    assert len(files) == 12 and done_before <= files
    with open(out / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 12 and len({r["scenario_hash"] for r in table}) == 12


# --------------------------------------------------------------------------- audit J: D5, D6, sweep metrics, Ctrl-C

def test_a_point_the_preflight_refuses_is_a_failed_row_not_a_bug(tmp_path, capsys):
    """A point whose scenario fails preflight (1 W cannot power the idle fleet) was 'internal error (a bug in
    dcsim)', exit 70, and stopped the sweep. Now its row has empty figures and the reason in `error`, the other
    points run (and are cached), and the CLI writes the table, names the point and the field, exit 2."""
    import yaml

    from dcsim.cli import main

    spec = _spec(parameters={"facility.interconnect": {"values": ["1 W", "200 kW"]}}, fixed={"duration": "30 min"})
    rows = run_sweep(spec, cache_dir=tmp_path / "c", progress=False)
    bad, good = rows
    assert bad["error"].startswith("facility.interconnect: 1 W cannot power the fleet even idle")
    assert bad["throughput_tok_s.output"] is None and bad["facility.interconnect"] == 1.0
    assert good["error"] is None and good["throughput_tok_s.output"] > 0
    assert len(list((tmp_path / "c").glob("*/*.json"))) == 1        # only the point that ran is cached
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({"name": "s", "base": small_scenario(duration="30 min"),
                                 "parameters": {"facility.interconnect": {"values": ["1 W", "200 kW"]}}}))
    code = main(["sweep", str(f), "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o"), "-q"])
    cap = capsys.readouterr()
    err = cap.err
    assert code == 2, err
    assert "1 of 2 sweep points are invalid scenarios" in err and "internal error" not in err
    # piped (not a terminal), each message line is whole, for grep and scripts: the point, its JSON and its reason
    from dcsim.units import excerpt

    assert f'  point 0 {{"facility.interconnect": 1.0}}: {excerpt(bad["error"], 300, quote=False)}' in err.splitlines()
    assert f"-> {tmp_path / 'o'}/ (results.csv, sweep.png)" in cap.out.splitlines()[0], cap.out
    with open(tmp_path / "o" / "results.csv") as fh:
        table = list(csv.DictReader(fh))
    assert table[0]["error"].startswith("facility.interconnect: 1 W") and table[1]["error"] == ""


def test_a_sweep_over_the_point_limit_is_refused_before_any_point_is_made(monkeypatch):
    """steps: 1,000,000 printed nothing for 5 minutes; 10**9 would exhaust memory. The count is computed from the
    spec (no point made) and a sweep above the limit is one error with the count and how to raise it."""
    import time

    from dcsim.sweep import MAX_POINTS, count_points

    monkeypatch.delenv("DCSIM_SWEEP_MAX_POINTS", raising=False)
    huge = _spec(parameters={"facility.interconnect": {"range": ["300 kW", "600 kW"], "steps": 10**9},
                             "racks.0.count": {"values": [2, 4]}}, seeds=3)
    t0 = time.perf_counter()
    assert count_points(huge) == 6 * 10**9
    with pytest.raises(ScenarioError) as ei:
        run_sweep(huge, cache_dir=None, progress=False)
    assert time.perf_counter() - t0 < 5
    msg = str(ei.value)
    assert "6,000,000,000 points" in msg and f"limit of {MAX_POINTS:,} points" in msg
    assert "DCSIM_SWEEP_MAX_POINTS=6000000000" in msg and "split the sweep" in msg
    with pytest.raises(ScenarioError):
        expand(huge)
    with pytest.raises(ScenarioError, match="samples: 200,001 points"):
        expand(_spec(mode="lhs", samples=200_001, parameters={"seed": {"values": [1, 2]}}))
    # the count is exact in every mode, and the environment variable moves the limit
    for s in (_small_sweep(), _spec(mode="list", parameters={"seed": {"values": [1, 2, 3]}}, seeds=[4, 5]),
              _spec(mode="random", samples=7, parameters={"seed": {"values": [1, 2]}})):
        assert count_points(s) == len(expand(s))
    monkeypatch.setenv("DCSIM_SWEEP_MAX_POINTS", "3")
    with pytest.raises(ScenarioError, match="4 points .* limit of 3 points"):
        expand(_small_sweep())
    monkeypatch.setenv("DCSIM_SWEEP_MAX_POINTS", "4")
    assert len(expand(_small_sweep())) == 4


def test_preparing_a_sweep_shows_progress(tmp_path, capsys, monkeypatch):
    """Every point is validated, hashed and looked up in the cache before the first runs (20,000 points took 25 s
    with nothing on screen, 200,000 never started in 2 minutes: a list-membership test made it quadratic). A
    preparation longer than a second now draws its own bar."""
    import time

    import dcsim.sweep as sw

    orig = sw.load_scenario

    def slow(*a, **k):
        time.sleep(0.4)
        return orig(*a, **k)

    monkeypatch.setattr(sw, "load_scenario", slow)
    monkeypatch.setattr(sw, "run_point", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        run_sweep(_small_sweep(), cache_dir=tmp_path / "c", progress=True)
    err = capsys.readouterr().err
    assert "sweep: preparing [" in err and "4/4 points" in err


def test_unknown_metric_is_refused_before_anything_runs(tmp_path):
    """metrics: [nonexistent.metric, pue] ran every point and wrote an empty column. Now the keys are checked
    against the report's shape (dcsim.metrics.expect.unknown_report_paths, as expect: keys are) first, with close
    matches suggested; every default metric is a known key."""
    import dcsim.sweep as sw
    from dcsim.metrics.expect import unknown_report_paths
    from dcsim.sweep import DEFAULT_METRICS

    spec = _spec(parameters={"racks.0.count": {"values": [2, 4]}},
                 metrics=["nonexistent.metric", "pue", "binding.share.pwer", "joules_per_output_token.facility",
                          "serving.per_class.chat.latency_s.ttft.p99", "latency_s.ttft.p99", "faults.0.kind"])
    orig = sw.run_point
    sw.run_point = lambda *a: (_ for _ in ()).throw(AssertionError("a point ran"))
    try:
        with pytest.raises(ScenarioError) as ei:
            run_sweep(spec, cache_dir=None, progress=False)
    finally:
        sw.run_point = orig
    errs = dict(ei.value.errors)
    assert set(errs) == {"metrics.0", "metrics.2"}, errs
    assert "'nonexistent.metric': no such figure in report.json" in errs["metrics.0"]
    assert "did you mean binding.share.power" in errs["metrics.2"]
    assert unknown_report_paths(DEFAULT_METRICS) == []


def test_ctrl_c_says_how_many_points_are_cached_and_how_to_resume(tmp_path, capsys, monkeypatch):
    """Ctrl-C printed only 'interrupted'. Now: how many points finished and are cached, and that the same command
    resumes (only the missing points run, test_interrupted_sweep_resumes_where_it_stopped)."""
    import yaml

    import dcsim.sweep as sw
    from dcsim.cli import main

    orig, calls = sw.run_point, []

    def interrupted(raw, ov, bdir):
        if len(calls) == 1:
            raise KeyboardInterrupt
        calls.append(ov)
        return orig(raw, ov, bdir)

    monkeypatch.setattr(sw, "run_point", interrupted)
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({"name": "s", "base": small_scenario(duration="30 min"),
                                 "parameters": {"racks.0.count": {"values": [2, 3, 4]}}}))
    argv = ["sweep", str(f), "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o"), "-q"]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert f"interrupted: 1 of 3 distinct points finished and are cached in {tmp_path / 'c'}/" in err, err
    assert "run the same command again to resume: only the 2 missing points run" in err
    calls.clear()
    monkeypatch.setattr(sw, "run_point", orig)
    assert main(argv) == 0
    assert "3 points (1 from cache)" in capsys.readouterr().out
    monkeypatch.setattr(sw, "run_point", interrupted)
    assert main([*argv[:2], "--no-cache", *argv[4:]]) == 130
    assert "nothing is cached (--no-cache), so a rerun starts again" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["afile", "afile/sub"])
def test_sweep_out_is_checked_before_any_point_runs(tmp_path, capsys, monkeypatch, where):
    """`--out` naming a file was found only after every point had run (audit C, D7)."""
    import dcsim.sweep as sw
    from dcsim.cli import main as cli_main

    (tmp_path / "afile").write_text("x")
    f = tmp_path / "s.yaml"
    f.write_text(f"base: {ROOT / 'scenarios' / 'reference.yaml'}\nparameters:\n  racks.0.count: {{values: [1, 2]}}\n")
    monkeypatch.setattr(sw, "run_sweep", lambda *a, **k: pytest.fail("a point ran before --out was checked"))
    try:
        code = cli_main(["sweep", str(f), "--out", str(tmp_path / where), "-q"])
    except SystemExit as e:  # a path through a file is refused by --out's own type (argparse)
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and ("is a file, not a folder" in err or "exists and is not a folder" in err), err


def test_the_default_cache_is_the_user_cache_folder_not_the_working_one(tmp_path, monkeypatch, capsys):
    """The default point cache, .dcsim-cache, landed in the working folder: a planner running sweeps from $HOME left
    one there. It is now dcsim/sweep in the user cache folder ($XDG_CACHE_HOME, else ~/.cache), said after the run;
    --cache-dir names another."""
    import sys

    import yaml

    import dcsim.sweep as sw
    from dcsim.cli import main

    work, xdg = tmp_path / "work", tmp_path / "xdg"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # as platformdirs: only an absolute path counts
    assert sw.default_cache_dir() == tmp_path / "home" / ".cache" / "dcsim" / "sweep" or sys.platform == "darwin"
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    assert sw.default_cache_dir() == xdg / "dcsim" / "sweep"
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({"name": "s", "base": small_scenario(duration="30 min"),
                                 "parameters": {"racks.0.count": {"values": [2]}}}))
    assert main(["sweep", str(f), "--out", str(tmp_path / "o"), "-q"]) == 0
    assert f"cache: {xdg / 'dcsim' / 'sweep'}/" in capsys.readouterr().out
    assert len(list((xdg / "dcsim" / "sweep").glob("*/*.json"))) == 1
    assert not any(work.iterdir()), list(work.iterdir())  # nothing left in the working folder
    assert main(["sweep", str(f), "--out", str(tmp_path / "o2"), "--cache-dir", str(tmp_path / "c"), "-q"]) == 0
    assert "1 points (0 from cache)" in capsys.readouterr().out and len(list((tmp_path / "c").glob("*/*.json"))) == 1


def test_two_code_versions_keep_their_own_points_in_one_cache(tmp_path, monkeypatch):
    """The cache held one file per scenario hash, the code hash only inside it: two dcsim installs sharing the user
    cache overwrote each other's points, and each rerun by the other ran every point again. Each code version now
    has its own subfolder; one unused for CACHE_KEEP_S is removed, the one in use is kept."""
    import os
    import time

    import dcsim.sweep as sw

    cache = tmp_path / "cache"
    rows = run_sweep(_small_sweep(), cache_dir=cache, progress=False)
    assert rows.cache_dir == cache and not any(r["cached"] for r in rows)
    monkeypatch.setattr(sw, "code_hash", lambda: "b" * 64)  # another install, other code
    assert not any(r["cached"] for r in run_sweep(_small_sweep(), cache_dir=cache, progress=False))
    monkeypatch.undo()
    assert all(r["cached"] for r in run_sweep(_small_sweep(), cache_dir=cache, progress=False))  # not evicted
    assert (cache / ("b" * 12)).is_dir()
    old = time.time() - sw.CACHE_KEEP_S - 86400
    os.utime(cache / ("b" * 12), (old, old))
    (cache / "notes").mkdir()  # not a code version's folder: never touched
    assert sw._prune_cache(cache) == [cache / ("b" * 12)]
    assert sorted(d.name for d in cache.iterdir()) == sorted([sw.code_hash()[:12], "notes"])


def test_a_sweep_that_varies_nothing_is_refused_before_running():
    """parameters: {} ran one full point, then the figure said "no parameter is swept": refused at load, naming
    `parameters`; seeds alone still make a sweep (replications of the base)."""
    with pytest.raises(ScenarioError) as e:
        _spec()
    assert e.value.errors[0][0] == "parameters" and "would run one point" in e.value.errors[0][1]
    with pytest.raises(ScenarioError, match="would run one point"):
        _spec(seeds=1)
    assert len(expand(_spec(seeds=3))) == 3


def test_a_long_sweep_is_estimated_and_warned_before_it_runs(tmp_path, capsys):
    """Before the first point runs, the sweep says its point count, ticks and estimated wall time, and warns above
    SWEEP_WARN_S (the 10,000-point audit sweep started silently; its eta of 23 h showed after the first point)."""
    from dcsim import sweep as sw

    assert sw.sweep_cost_s(10_000, 14_400_000) == pytest.approx(sw.SWEEP_START_S + 10_000 * sw.SWEEP_POINT_S
                                                                + 14_400_000 * sw.SWEEP_TICK_S)
    run_s = sw.sweep_cost_s(10, 1000) - sw.SWEEP_START_S  # the points' part is divided by the workers, not the start
    assert sw.sweep_cost_s(10, 1000, workers=2) == pytest.approx(sw.SWEEP_START_S + run_s / 2)
    spec = _spec(parameters={"racks.0.count": {"values": [1, 2]}}, fixed={"duration": "10 min"})
    rows = run_sweep(spec, cache_dir=None, progress=False)
    err = capsys.readouterr().err
    assert "warning" not in err and rows.estimate_s == pytest.approx(sw.sweep_cost_s(2, 2 * rows_ticks(spec)))
    old = sw.SWEEP_WARN_S
    sw.SWEEP_WARN_S = 0.1  # the same sweep, over a lower threshold: warned before any point runs
    try:
        seen = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")

            def prog(done, ran):
                seen.append((done, ran, [str(w.message) for w in caught if w.category is sw.SweepWarning]))
            run_sweep(spec, cache_dir=None, progress=prog)
    finally:
        sw.SWEEP_WARN_S = old
    assert seen[0][:2] == (0, 0) and len(seen[0][2]) == 1  # a SweepWarning, before the first progress call
    assert seen[0][2][0].startswith("sweep: 2 points, 2 to run (0 cached)")  # no "warning: " inside a warning
    assert capsys.readouterr().err == ""  # said through warnings, not written by the library


def test_a_sweep_warning_points_at_the_callers_line_from_either_public_name(monkeypatch):
    """run_sweep's warnings used stacklevel=2, right for run_sweep but not for the public alias dcsim.sweep.sweep(),
    which adds a frame: from sweep() the warning named dcsim/sweep.py, not the caller's line. Both name this file
    and the line of the call, and the text carries no "warning: " of its own (the CLI adds it)."""
    import inspect

    from dcsim import sweep as sw

    monkeypatch.setattr(sw, "SWEEP_WARN_S", 0.1)
    spec = _spec(parameters={"racks.0.count": {"values": [1]}}, fixed={"duration": "10 min"})
    for call in (sw.run_sweep, sw.sweep):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            line = inspect.currentframe().f_lineno + 1
            call(spec, cache_dir=None, progress=False)
        said = [w for w in caught if issubclass(w.category, sw.SweepWarning)]
        assert len(said) == 1, call.__name__
        assert (said[0].filename, said[0].lineno) == (__file__, line), call.__name__
        assert str(said[0].message).startswith("sweep: 1 points, 1 to run"), call.__name__


def test_a_sweep_prints_nothing_from_python_when_silenced_and_the_cli_says_it_plainly(tmp_path, capsys,
                                                                                     monkeypatch):
    """run_sweep's cost warning goes through ``warnings`` (SweepWarning), so a Python caller can silence it (it was
    written to stderr by the library); ``dcsim sweep`` still shows it as the same plain line on stderr."""
    from dcsim import sweep as sw

    monkeypatch.setattr(sw, "SWEEP_WARN_S", 0.1)
    import yaml

    from dcsim.cli import main

    raw = {"name": "sweep", "base": small_scenario(duration="1 h"), "parameters": {"racks.0.count": {"values": [1]}},
           "fixed": {"duration": "10 min"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sw.SweepWarning)
        run_sweep(load_sweep(raw), cache_dir=None, progress=False)
    assert capsys.readouterr().err == ""
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(raw))
    assert main(["sweep", str(f), "--no-cache", "--quiet", "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [ln for ln in err if ln.startswith("warning: sweep: 1 points, 1 to run")]


def rows_ticks(spec):
    from dcsim.scenario import load_scenario

    sc = load_scenario(spec.base if isinstance(spec.base, dict) else str(spec.base), overrides=["duration=10 min"])
    return int(round(float(sc.duration) / float(sc.controller.tick)))


@pytest.mark.parametrize("param, words", [
    ({"range": [1, 3], "steps": 5, "integer": True},
     "range [1, 3] with steps 5 and integer: true gives 3 distinct whole numbers (1, 2, 3): 2 points would repeat "
     "others; give steps <= 3, or values: [1, 2, 3]"),
    ({"range": [1, 100], "steps": 20, "log": True, "integer": True}, "3 points would repeat others; give fewer steps"),
    # a bound halfway between two whole numbers rounds half to even (0.5, 1.5, 2.5 -> 0, 2, 2): counted, not judged
    # by the whole numbers between the bounds (3 here, as many as the steps)
    ({"range": [0.5, 2.5], "steps": 3, "integer": True}, "gives 2 distinct whole numbers (0, 2): 1 point would repeat"),
])
def test_an_integer_range_with_more_steps_than_whole_numbers_is_refused(param, words):
    """``range: [1, 3], steps: 5, integer: true`` ran count 2 three times (same scenario hash, three rows; the input
    audit AUH, 12): refused as a ``steps: 1`` range between two bounds is, naming the parameter."""
    with pytest.raises(ScenarioError) as e:
        load_sweep({"base": str(ROOT / "scenarios" / "reference.yaml"), "parameters": {"racks.0.count": param}})
    assert "parameters.racks.0.count" in str(e.value) and words in str(e.value)
    ok = load_sweep({"base": str(ROOT / "scenarios" / "reference.yaml"),
                     "parameters": {"racks.0.count": {"range": [1, 3], "steps": 3, "integer": True}}})
    assert [p["racks.0.count"] for p in expand(ok)] == [1, 2, 3]


def test_a_huge_integer_range_is_judged_without_making_its_values():
    """10**9 steps over [1, 3] are refused from the bounds alone (making them would take gigabytes): evenly spaced
    steps repeat a whole number exactly when there are more steps than whole numbers between the bounds."""
    import time

    t0 = time.perf_counter()
    with pytest.raises(ScenarioError, match=r"gives 3 distinct whole numbers \(1, 2, 3\): 999,999,997 points would "
                                            r"repeat others; give steps <= 3"):
        load_sweep({"base": str(ROOT / "scenarios" / "reference.yaml"),
                    "parameters": {"racks.0.count": {"range": [1, 3], "steps": 10**9, "integer": True}}})
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("log", [False, True])
def test_a_random_sweep_makes_only_the_values_it_draws(log):
    """``mode: random, samples: 2`` over ``steps: 10**9`` made the whole range first (10**6 steps took 1.1 s, 10**9
    would take ~1,000 s and tens of GB): now only the two drawn values are made, each the one the full range holds
    at its index."""
    import time

    import numpy as np

    rng = {"range": ["400 kW", "600 kW"], "steps": 10**9, "log": log}
    spec = {"base": str(ROOT / "scenarios" / "reference.yaml"), "mode": "random", "samples": 2,
            "parameters": {"facility.interconnect": rng}}
    t0 = time.perf_counter()
    pts = expand(spec)
    assert time.perf_counter() - t0 < 5
    u = np.random.default_rng(np.random.SeedSequence(0)).random((2, 1))[:, 0]  # the sampler's draws (seed 0)
    i = (u * 10**9).astype(np.int64)
    f = i / (10**9 - 1)
    want = 400 * (600 / 400) ** f if log else 400 + 200 * f
    got = [float(p["facility.interconnect"].removesuffix(" kW")) for p in pts]
    assert got == pytest.approx(want, rel=1e-11)
    # a range small enough to make: the drawn values are those of the made range, to the last digit
    small = load_sweep({**spec, "samples": 50, "parameters": {"facility.interconnect": {**rng, "steps": 1000}}})
    d = small.parameters["facility.interconnect"].discrete
    u = np.random.default_rng(np.random.SeedSequence(0)).random((50, 1))[:, 0]
    assert [p["facility.interconnect"] for p in expand(small)] == [d[k] for k in (u * 1000).astype(int)]


def test_whole_bounds_give_whole_values_only_when_every_step_is_whole():
    """Both bounds whole: the values stay whole numbers when every step lands on one (judged from the bounds, not
    by making the range); [1,000,000, 2,000,000] in 4 steps was rounded to 1,333,333 (a relative tolerance of
    1e-5 took 0.33 for whole), now 1,333,333.33 as the range says."""
    from dcsim.sweep import ParamSpec

    assert ParamSpec(range=(8, 12), steps=3).discrete == [8, 10, 12]
    assert all(isinstance(v, int) for v in ParamSpec(range=(8, 12), steps=3).discrete)
    assert ParamSpec(range=(1_000_000, 2_000_000), steps=4).discrete[1] == pytest.approx(1_333_333.333, abs=1e-3)
    assert ParamSpec(range=(1, 8), steps=4, log=True).discrete == [1, 2, 4, 8]
    assert ParamSpec(range=(1, 2**40), steps=100, log=True).discrete[1] == pytest.approx(2 ** (40 / 99))
