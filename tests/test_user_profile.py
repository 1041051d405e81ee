"""A profile the scenario names (``node.profile``) carries an honest label (docs/node.md, "Using a profile you
fitted"): a file the user fitted with ``dcsim calibrate`` reads as USER PROFILE (from which files, with their sha256,
its in-sample band, not checked held-out by dcsim), not as UNCALIBRATED; a shipped profile named for its own setup is
dcsim's calibration; named for another it says so; a pooled fit file is used as dcsim transfers its own pools."""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest
import yaml

import dcsim
from conftest import small_scenario
from dcsim.metrics.fmt import NAMED_UNCALIBRATED, UNCALIBRATED, calibration_caveats, calibration_label
from dcsim.node import build_node
from dcsim.node.calibrate import main
from dcsim.node.catalog import POOLED_DIR, PROFILE_DIR, lomo_band, pooled_profiles, resolve_gpu, resolve_model, transfer_profile
from dcsim.node.perf import mfu_ceiling
from dcsim.report import write_outputs
from dcsim.report.compare import compare
from dcsim.report.summary import summary_table
from dcsim.scenario.node import NodeSpec
from test_calibrate_researcher import _h100_70b_rows, _write

SHIPPED = "H100-SXM_llama-3.1-70b_bf16_tp4"


def _caveats(node) -> list[str]:
    return calibration_caveats([{"group": "hall-a", **node.calibration}])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A profile fitted by ``dcsim calibrate`` to seven of a lab's H100 Llama-3.1-70B rows, run from the folder the
    CSV's relative path is given from."""
    base = tmp_path_factory.mktemp("user")
    (base / "data").mkdir()
    csv = _write(base / "data" / "mine.csv", _h100_70b_rows())
    cwd = os.getcwd()
    os.chdir(base)
    try:
        assert main(["data/mine.csv", "--out", "mine.yaml"]) == 0
    finally:
        os.chdir(cwd)
    return base, base / "mine.yaml", csv


def test_a_shipped_profile_named_for_its_own_setup_is_dcsims_calibration():
    """Named by its name for the GPU, model, precision and TP it was measured on, a shipped profile is the
    calibration build_node picks without the name; it read 'UNCALIBRATED ... user-profile (expected error unknown)'."""
    named = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", tensor_parallel=4, profile=SHIPPED))
    plain = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", tensor_parallel=4))
    assert named.calibration["status"] == "calibrated" == plain.calibration["status"]
    assert named.calibration["error_band_pct"] == plain.calibration["error_band_pct"]
    assert named.calibration["error_band_pct"]["tok_s_pct"] is not None
    assert named.perf == plain.perf and named.pw == plain.pw
    assert _caveats(named) == [] and calibration_label([{"group": "g", **named.calibration}]) == "calibrated"


def test_a_shipped_profile_named_for_another_setup_says_which_it_was_measured_for():
    """Named for TP8, the TP4 profile keeps an UNCALIBRATED caveat that names the setup it was measured on, with its
    own in-sample band as a lower bound (it read 'user-profile (expected error unknown ...)', the mismatch only in a
    warning)."""
    n = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", tensor_parallel=8, profile=SHIPPED))
    c = n.calibration
    assert c["status"] == "other-setup" and c["status"] in NAMED_UNCALIBRATED
    assert c["profile_mismatch"] == ["tensor_parallel"] and c["band_lower_bound"]
    own = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", tensor_parallel=4)).calibration["error_band_pct"]
    assert c["error_band_pct"] == own
    (text,) = _caveats(n)
    assert text.startswith("UNCALIBRATED — hall-a: H100-SXM / llama-3.1-70b / bf16 / TP8 other-setup")
    assert "measured for H100-SXM / llama-3.1-70b / bf16 / TP4" in text and "≥±4 % tok/s" in text


def test_a_profile_the_user_fitted_reads_as_user_profile_with_its_files_and_in_sample_band(fitted):
    base, prof_path, csv = fitted
    prof = yaml.safe_load(prof_path.read_text())
    n = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", tensor_parallel=4, profile="mine.yaml"),
                   base_dir=base)
    c = n.calibration
    assert c["status"] == "user-profile" and "user-profile" not in UNCALIBRATED + NAMED_UNCALIBRATED
    assert c["error_band_pct"] == prof["error_band_pct"] and not c["band_lower_bound"]
    src = c["profile_source"]
    assert src["sha256"] == hashlib.sha256(prof_path.read_bytes()).hexdigest()
    assert src["inputs"] == [{"path": "data/mine.csv", "bytes": csv.stat().st_size,
                              "sha256": hashlib.sha256(csv.read_bytes()).hexdigest()}]
    (text,) = _caveats(n)
    assert text.startswith("USER PROFILE — hall-a: H100-SXM / llama-3.1-70b / bf16 / TP4, expected error ±")
    assert "UNCALIBRATED" not in text
    assert f"data/mine.csv (sha256 {src['inputs'][0]['sha256'][:12]}…)" in text
    assert f"mine.yaml (sha256 {src['sha256'][:12]}…)" in text
    assert "in-sample" in text and "dcsim has not checked it" in text and "--loo" in text
    assert calibration_label([{"group": "g", **c}]) == "user profile"


def test_a_user_profile_for_another_tp_says_so_in_its_caveat(fitted):
    base, _, _ = fitted
    n = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", tensor_parallel=8, profile="mine.yaml"),
                   base_dir=base)
    assert n.calibration["status"] == "user-profile" and n.calibration["band_lower_bound"]
    (text,) = _caveats(n)
    assert text.startswith("USER PROFILE") and "≥±" in text
    assert "measured for H100-SXM / llama-3.1-70b / bf16 / TP4 (its tensor_parallel differs" in text


def test_calibrate_records_its_inputs_as_given_with_their_sha256(fitted):
    """generated_by named the files' basenames only ('dcsim calibrate mine.csv ...'): it could not be rerun from
    elsewhere, nor its inputs checked. Now the paths as given, and inputs with each file's size and sha256."""
    _, prof_path, csv = fitted
    prof = yaml.safe_load(prof_path.read_text())
    assert prof["generated_by"].startswith("dcsim calibrate data/mine.csv --gpu H100-SXM --model llama-3.1-70b")
    assert prof["inputs"] == [{"path": "data/mine.csv", "bytes": csv.stat().st_size,
                               "sha256": hashlib.sha256(csv.read_bytes()).hexdigest()}]
    assert prof["measurements"] == ["mine.csv"]


def test_a_pooled_fit_file_is_used_as_dcsims_transfer_uses_its_pool(tmp_path):
    """A pooled fit (calibrate --pool) named as node.profile ran at its fitted MFU (the H100 pool's 1.0, above the
    GPU's achievable matmul rate, 0.803 in BF16) with no band; now it is held at the ceiling and states the pool's
    leave-one-model-out band, as the transfer of the same pool does, under an UNCALIBRATED caveat naming the file."""
    f = tmp_path / "pool.yaml"
    shutil.copy(POOLED_DIR / "H100-SXM.yaml", f)
    gpu, pool = resolve_gpu("H100-SXM"), pooled_profiles()["H100-SXM"]
    assert pool["params"]["mfu"] > mfu_ceiling(gpu, "bf16")
    for model in ("llama-3.1-70b", "qwen3-30b-a3b"):
        m = resolve_model(model)
        tp = 4 if model == "llama-3.1-70b" else 2
        n = build_node(NodeSpec(gpu="H100-SXM", model=model, tensor_parallel=tp, profile=str(f)))
        c = n.calibration
        assert c["status"] == "user-pool" and c["status"] in NAMED_UNCALIBRATED
        assert n.perf.mfu == pytest.approx(mfu_ceiling(gpu, "bf16"))
        tr = transfer_profile(gpu, m, "bf16")
        assert n.perf.mfu == pytest.approx(tr["params"]["mfu"])
        assert c["error_band_pct"] == tr["error_band_pct"]
        assert c["error_band_pct"]["tok_s_pct"] >= lomo_band(pool, m.n_experts > 0)["tok_s_pct"] > 0
        assert str(f) in c["meaning"] and hashlib.sha256(f.read_bytes()).hexdigest() in c["meaning"]
        (text,) = _caveats(n)
        assert text.startswith("UNCALIBRATED — hall-a:") and "user-pool (expected error ±" in text


def test_a_run_on_a_user_profile_says_so_on_every_view(fitted, tmp_path):
    """The terminal's headline, report.json's provenance (with the full sha256 of the profile and its CSV), the HTML
    banner and compare's row read USER PROFILE, not UNCALIBRATED."""
    base, prof_path, csv = fitted
    sc = small_scenario(duration="1 h", **{"controller.tick": "10 min"})
    sc["racks"][0]["node"]["profile"] = str(prof_path)
    r = dcsim.run(sc)
    (p,) = r.report["provenance"]["calibration"]
    assert p["status"] == "user-profile"
    for f in (prof_path, csv):
        assert hashlib.sha256(f.read_bytes()).hexdigest() in p["meaning"]
    # what identifies the profile travels as data too, not only inside the text
    assert p["profile_source"]["sha256"] == hashlib.sha256(prof_path.read_bytes()).hexdigest()
    assert [i["sha256"] for i in p["profile_source"]["inputs"]] == [hashlib.sha256(csv.read_bytes()).hexdigest()]
    assert p["profile_mismatch"] == [] and p["profile_measured_for"] is None
    head = summary_table(r.report).split("J / output token")[0]
    assert "Calibration               USER PROFILE — r: H100-SXM" in head and "UNCALIBRATED" not in head
    assert any(c.startswith("USER PROFILE — r:") for c in r.caveats)
    write_outputs(r, tmp_path / "mine", formats=("json", "html"), plots=False)
    html = (tmp_path / "mine" / "report.html").read_text()
    # one line, the profile's band, over its whole text folded under it (walkthrough 2026-12-06)
    assert '<details class="caveat"><summary><b>User profile.</b> r: a profile fitted to your measurements' in html
    assert "r: H100-SXM" in html.split('class="cards"')[0] and "Calibration caveat" not in html
    table, _ = compare([tmp_path / "mine", tmp_path / "mine"])
    row = [ln for ln in table.splitlines() if ln.startswith("Node calibration")][0]
    assert "user profile" in row and "UNCALIBRATED" not in row


def test_a_profile_file_written_by_hand_says_it_was_not_fitted_by_calibrate(tmp_path):
    prof = yaml.safe_load((PROFILE_DIR / f"{SHIPPED}.yaml").read_text())
    for k in ("generated_by", "inputs"):
        prof.pop(k, None)
    f = tmp_path / "hand.yaml"
    f.write_text(yaml.safe_dump(prof))
    n = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", tensor_parallel=4, profile=str(f)))
    (text,) = _caveats(n)
    assert text.startswith("USER PROFILE") and "not written by dcsim calibrate (no generated_by)" in text


def test_docs_node_md_quotes_what_build_node_gives():
    """docs/node.md "Using a profile you fitted" quotes the other-setup caveat and the pool's band as build_node gives
    them."""
    doc = " ".join((PROFILE_DIR.parents[2] / "docs" / "node.md").read_text().split())
    n = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", tensor_parallel=8, profile=SHIPPED))
    (text,) = _caveats(n)
    assert f"`{text}`" in doc
    pool = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", tensor_parallel=4,
                               profile=str(POOLED_DIR / "H100-SXM.yaml"))).calibration["error_band_pct"]
    assert (f"Llama-3.1-70B on the shipped H100 pool: ±{pool['tok_s_pct']:.0f} % tok/s, ±{pool['j_per_tok_pct']:.0f} % "
            f"J/token") in doc


def test_a_profile_of_another_setup_is_said_once_on_report_htmls_first_screen(tmp_path):
    """The mismatch of a named profile is in its caveat's banner; the run's warning that says it was listed again in
    the warnings box below it."""
    sc = small_scenario(duration="1 h", **{"controller.tick": "10 min"})
    sc["racks"][0]["node"].update({"profile": SHIPPED, "tensor_parallel": 8})
    r = dcsim.run(sc)
    assert any("node.profile H100-SXM_llama-3.1-70b_bf16_tp4 was fitted to" in w for w in r.report["warnings"])
    write_outputs(r, tmp_path / "o", formats=("json", "html"), plots=False)
    html = (tmp_path / "o" / "report.html").read_text()
    banner = html[html.index('<details class="caveat"><summary><b>Calibration caveat.</b>'):html.index('class="cards"')]
    assert "was measured for H100-SXM / llama-3.1-70b / bf16 / TP4" in banner
    assert "was fitted to" not in html.split('class="cards"')[0]


def test_a_user_profile_beside_a_same_silicon_group_leaves_that_groups_source_alone():
    """The uncalibrated banner's source is that of the groups it names: a USER PROFILE group beside a same-silicon
    one has its own banner and must not turn the same-silicon source into the generic 'transferred' one."""
    from dcsim.metrics.fmt import OTHER_SOURCE, STATUS_SOURCE, calibration_source

    assert (calibration_source([{"in_range_status": "same-silicon"}, {"in_range_status": "user-profile"}])
            == STATUS_SOURCE["same-silicon"])
    assert (calibration_source([{"in_range_status": "other-setup"}, {"in_range_status": "user-profile"},
                                {"in_range_status": "calibrated"}]) == STATUS_SOURCE["other-setup"])
    assert calibration_source([{"in_range_status": "same-silicon"}, {"in_range_status": "transferred"}]) == OTHER_SOURCE
