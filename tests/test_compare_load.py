"""``dcsim compare`` refuses report.json figures no run writes and names runs of different code (audit F, finding 7:
a hand-edited ``joules_per_output_token.facility: -5`` read "-8.9 (-228.2%) ✓", binding shares of power 0.9 +
compute 0.9 were shown, and ``provenance.dcsim_version``, 0.1.0 through every change, was never compared)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_report import synthetic_result  # noqa: E402  (test fixture, not shipped)

from dcsim.report import write_outputs  # noqa: E402
from dcsim.report.compare import BINDING_SHARE_SUM_TOL, CompareError, compare, load_run, main  # noqa: E402


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base = tmp_path_factory.mktemp("cmpload")
    for name, kw in (("a", {}), ("b", {"e_it_j": 0.95, "samples": False})):
        write_outputs(synthetic_result(name, **kw), base / name, formats=("json",))
    return base


def _edited(pair, tmp_path, edit, name: str = "edited") -> Path:
    """A copy of run b, folder ``name``, whose report.json ``edit`` (a function of the parsed report) has changed."""
    d = tmp_path / name
    d.mkdir()
    rep = json.loads((pair / "b" / "report.json").read_text())
    edit(rep)
    (d / "report.json").write_text(json.dumps(rep))  # json writes NaN/Infinity as Python reads them back
    return d


def test_the_runs_as_written_load(pair):
    for name in ("a", "b"):
        rep, _ = load_run(pair / name)
        assert abs(sum(rep["binding"]["share"].values()) - 1.0) <= BINDING_SHARE_SUM_TOL


@pytest.mark.parametrize("value", [-5.0, float("nan"), float("inf"), "2.5"])
def test_a_headline_figure_no_run_writes_is_refused_naming_file_and_key(pair, tmp_path, capsys, value):
    d = _edited(pair, tmp_path, lambda r: r["joules_per_output_token"].__setitem__("facility", value))
    with pytest.raises(CompareError) as e:
        load_run(d)
    msg = str(e.value)
    assert msg.startswith(f"{d / 'report.json'}: joules_per_output_token.facility is ") and "edited" in msg
    assert main([str(pair / "a"), str(d), "--no-plots"]) == 2
    assert "joules_per_output_token.facility" in capsys.readouterr().err


def test_a_null_figure_is_still_one_the_run_could_not_give(pair, tmp_path):
    d = _edited(pair, tmp_path, lambda r: r.__setitem__("goodput_tok_s", None))
    table, data = compare([pair / "a", d])
    assert data["metrics"]["goodput_tok_s"]["values"][1] is None


def test_binding_shares_that_do_not_sum_to_one_are_refused(pair, tmp_path):
    def edit(r):
        r["binding"]["share"].update(demand=0.0, compute=0.9, power=0.9, cooling=0.0)
    d = _edited(pair, tmp_path, edit)
    with pytest.raises(CompareError, match=r"binding\.share sums to 1\.8 .*not 1 \(within 1e-06\)"):
        load_run(d)


def test_a_binding_share_outside_zero_to_one_is_refused(pair, tmp_path):
    def edit(r):
        r["binding"]["share"].update(demand=1.5, compute=-0.5, power=0.0, cooling=0.0)  # sums to 1
    d = _edited(pair, tmp_path, edit)
    # refused as a share, once (the headline loop skips binding.share.*: it read compute -0.5 as "a headline figure")
    with pytest.raises(CompareError, match=r"binding\.share\.(demand is 1\.5|compute is -0\.5): a share of the run's "
                                           r"ticks, between 0 and 1"):
        load_run(d)


def test_runs_of_different_code_are_not_like_for_like(pair, tmp_path):
    def code(h):
        return lambda r: r["provenance"].__setitem__("code_hash", h)
    same_a, same_b, other = (_edited(pair, tmp_path, code(h), name) for name, h in
                             (("x", "1" * 64), ("y", "1" * 64), ("z", "2" * 64)))
    _, data = compare([same_a, same_b])
    assert "code" not in [x["field"] for x in data["differences"]]
    table, data = compare([same_a, other])
    diff = {x["field"]: x for x in data["differences"]}
    assert diff["code"]["values"] == ["0.1.0 (111111111111)", "0.1.0 (222222222222)"]
    assert table.startswith("NOT LIKE FOR LIKE") and "code" in table.split("\n")[0]
    # a report written before the code was recorded, beside one that records it: it cannot be the same code
    _, data = compare([pair / "a", other])
    assert [x["values"] for x in data["differences"] if x["field"] == "code"] == \
        [["0.1.0 (code not recorded)", "0.1.0 (222222222222)"]]


def test_a_run_records_the_code_hash_the_sweep_cache_keys_by():
    from conftest import small_scenario
    from dcsim import run
    from dcsim.sweep import code_hash

    rep = run(small_scenario(duration="10 min")).report
    assert rep["provenance"]["code_hash"] == code_hash() and len(code_hash()) == 64


def test_the_code_hash_changes_when_a_source_files_bytes_change(tmp_path, monkeypatch):
    """On a copy of the package: the hash of the copy is the package's, and one byte more in one source file (or in
    a shipped data file) changes it; a file outside the sources and data (a note) does not."""
    import shutil

    import dcsim.metrics.provenance as prov

    fresh = prov.code_hash.__wrapped__  # past its cache
    orig = fresh()  # the package's, read before _PKG points at the copy (a cold cache would hash the copy)
    copy = tmp_path / "dcsim"
    shutil.copytree(prov._PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(prov, "_PKG", copy)
    assert fresh() == orig
    (copy / "notes.txt").write_text("not code")
    assert fresh() == orig
    src = copy / "sweep.py"
    src.write_bytes(src.read_bytes() + b" ")
    changed = fresh()
    assert changed != orig
    data = next(p for p in sorted((copy / "data").rglob("*")) if p.is_file())
    data.write_bytes(data.read_bytes() + b"\n")
    assert fresh() not in (changed, orig)


def test_a_caveat_the_runs_share_is_printed_once_naming_them(pair, tmp_path):
    """compare printed each run's caveat paragraph again in full when it was the same for every run: once now, after
    the runs it applies to; a caveat of one run alone keeps its run's name."""
    rec = {"group": "hall", "status": "transferred", "in_range_status": "transferred", "profile": "pooled-H100-SXM",
           "error_band_pct": {"tok_s_pct": 27.8, "j_per_tok_pct": 30.8}, "band_lower_bound": False}

    def cal(r):
        r["provenance"]["calibration"] = [dict(rec)]
    one, two = _edited(pair, tmp_path, cal, "one"), _edited(pair, tmp_path, cal, "two")
    table, data = compare([one, two])
    text = data["runs"][0]["calibration_caveat"]
    assert text and text == data["runs"][1]["calibration_caveat"]
    flat = " ".join(table.split())
    head = " ".join(text.split())[:40]
    assert flat.count(head) == 1 and f"one, two: {head}" in flat, flat
    table, _ = compare([pair / "a", one])
    assert "one: " + head in " ".join(table.split())
