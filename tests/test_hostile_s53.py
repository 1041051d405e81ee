"""Session 53 (slice POLISH): die-limit answers and careless input, each reproduced on the old code first.

Die answers: the die warning cites the group's own GPU's throttle figure, its resistance to sensible precision (1);
a plan answer on a hall of several GPUs weights each group's band by its share of the fleet (2); ``plan -q max-gpus``
prints one headroom, its unit stated, and the next limit in GPUs (3); report.html's near-tie notes close their own
parentheses once (4). Careless input: ``compare --out FILE`` (5), a repeated ``--set`` (6), a max-demand answer past
``workload.arrivals.scale``'s bound (7), a 1 GW contract's "at most 0 W" (8), a boolean ``expect:`` claim (9)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from dcsim.cli import main
from dcsim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
REF = str(ROOT / "scenarios" / "reference.yaml")


def _die_hall() -> dict:
    """docs/examples/die_limit.py's hall: 320 H100s (calibrated) beside 128 B200s (other-tp, ±36 % tok/s) at 1,400
    req/s, the B200 dies over their 87 degC default at the hall's 0.0743 K/W."""
    spec = importlib.util.spec_from_file_location("die_limit", ROOT / "docs" / "examples" / "die_limit.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.full_load()


@pytest.fixture(scope="module")
def die_warnings() -> list[str]:
    from dcsim.engine.preflight import preflight

    return list(preflight(load_scenario(_die_hall())).warnings)


@pytest.fixture(scope="module")
def die_plan() -> dict:
    from dcsim.plan import plan

    return plan(_die_hall(), "max-gpus")


# --------------------------------------------------------------------------- 1. the die warning's figures
def test_die_warning_cites_the_b200s_own_figure_not_the_h100s(die_warnings):
    """The B200 group's warning read "check t_limit and r_th (H100 SXM: 87 degC [SMI])" and "+ 0.0742857 K/W": no
    B200 throttle temperature is published, so the warning must say so and mark its 87 degC an assumption."""
    (w,) = [x for x in die_warnings if "rack group 'b200'" in x]
    tail = w[w.rindex("check t_limit and r_th"):]
    assert "H100 SXM: 87 degC" not in tail and "B200" in tail and "assumption" in tail
    r_th = re.search(r"\+ ([0-9.eE-]+) K/W", w).group(1)
    assert len(r_th.replace("0.", "", 1).lstrip("0")) <= 4, r_th  # 0.0743, not 0.0742857


def test_die_limit_source_published_and_not():
    from dcsim.scenario.facility import die_limit_source

    assert "[SMI]" in die_limit_source("H100-SXM") and "assumption" not in die_limit_source("H100-SXM")
    for gpu in ("B200", "H200", "MI300X"):
        assert "assumption" in die_limit_source(gpu) and gpu in die_limit_source(gpu)


# --------------------------------------------------------------------------- 2./3. the die hall's plan answer
def test_plan_band_weights_each_group_by_its_share(die_plan):
    """Old: the B200's ±35.87 % tok/s / ±22.1 % J/token stood for the whole hall, 320 of whose 448 GPUs are
    calibrated H100s: 6-14 racks. The fleet's aggregate C moves by each group's band times its share."""
    b = die_plan["band"]
    assert 0 < b["tok_s_pct"] < 0.75 * 35.87 and 0 < b["j_per_tok_pct"] < 0.75 * 22.1
    assert b["weighted"] is True and b["groups"] == ["b200"]


def test_plan_max_gpus_says_headroom_in_one_unit(die_plan):
    """Old: "IT-power headroom ...: power 40.5 %, cooling 47.5 %" (of the fleet's IT power) and "next: cooling
    with 16.7 % headroom" (more of group 0's GPUs) in one answer. Now one headroom (the IT power's) and the next
    limit in GPUs, the answer's unit, the figure the answer's crossover states."""
    from dcsim.plan import format_plan

    text = format_plan(die_plan)
    assert text.count("headroom") == 1
    (nxt,) = [ln for ln in text.splitlines() if "binding at the answer" in ln]
    assert f"{die_plan['gpus_at_flip']:,.1f} GPUs" in nxt


# --------------------------------------------------------------------------- 4. near-tie parentheses
def test_near_tie_note_in_parentheses_closes_once():
    """report.html printed a pool's near tie as "(by a hair: ... (docs/report.md, binding))" (mixed-fleet)."""
    from dcsim.metrics.fmt import near_tie_text

    tie = {"kind": "power", "gap_tok_s": 250.0, "margin": 0.0033, "threshold": 0.01, "next": "compute"}
    wrapped = f"({near_tie_text(tie, in_parens=True)})"
    assert "))" not in wrapped and wrapped.count("(") == wrapped.count(")")
    assert "docs/report.md, binding" in wrapped
    assert near_tie_text(tie).endswith("(docs/report.md, binding)")  # the terminal's own line keeps its source


def test_report_html_pool_rows_have_no_double_parenthesis():
    from dcsim.report.html import _summary

    tie = {"kind": "power", "gap_tok_s": 250.0, "margin": 0.0033, "threshold": 0.01, "next": "compute",
           "pool": "b"}
    pool = {"name": "b", "demand_tok_s": 1e5, "compute_tok_s": 75265.0, "power_tok_s": 75015.0,
            "achieved_tok_s": 75015.0, "binding": "power", "near_tie": {**tie, "pool": None}}
    mom = {"compute_tok_s": 3e5, "power_tok_s": 2.9e5, "cooling_tok_s": 4e5, "binding": "power", "t_s": 0.0,
           "operating_point": "the tick of highest offered demand", "near_tie": tie, "pools": [pool]}
    report = {"tpf": {"moments": {"peak_demand": mom}, "binding": "power", "operating_point": "peak_demand"}}
    try:
        html = _summary(report)
    except Exception as e:  # a hand-made report short of fields: the rows are what is checked
        pytest.skip(f"report.html's summary needs a whole report: {e}")
    assert "binding))" not in html and "by a hair" in html


# --------------------------------------------------------------------------- 5. compare --out FILE
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A 2-minute reference run to compare with itself."""
    a = tmp_path_factory.mktemp("s53") / "ref"
    assert main(["run", REF, "--out", str(a), "--set", "duration=2 min", "--no-plots", "--quiet"]) == 0
    return a


def test_compare_out_existing_file_says_what_and_what_to_do(run_dir, tmp_path, capsys):
    """Old: the whole table, then "Error: notes.txt: File exists" (the folder's mkdir)."""
    f = tmp_path / "notes.txt"
    f.write_text("mine\n")
    code = main(["compare", str(run_dir), str(run_dir), "--out", str(f)])
    err = capsys.readouterr().err
    assert code == 2 and "File exists" not in err
    assert "a file (not a folder) exists there" in err and "another --out" in err
    assert f.read_text() == "mine\n"  # the file is left alone


# --------------------------------------------------------------------------- 6. --set twice
def test_set_twice_to_different_values_is_refused_naming_both(capsys):
    code = main(["validate", REF, "--set", "duration=1 h", "--set", "duration=2 h"])
    err = capsys.readouterr().err
    assert code == 2 and "duration=1 h" in err and "duration=2 h" in err


def test_set_twice_spelled_two_ways_is_one_field():
    with pytest.raises(ScenarioError) as e:
        load_scenario(REF, overrides=["racks[0].count=2", "racks.0.count=3"])
    assert "racks[0].count=2" in str(e.value) and "racks.0.count=3" in str(e.value)


def test_set_twice_to_the_same_value_is_accepted():
    sc = load_scenario(REF, overrides=["duration=1 h", "duration=1 h"])
    assert float(sc.duration) == 3600.0


def test_plan_set_twice_is_refused():
    from dcsim.plan import _sets

    with pytest.raises(ScenarioError):
        _sets(["facility.interconnect=1 MW", "facility.interconnect=2 MW"])


# --------------------------------------------------------------------------- 7. max-demand past scale's bound
def test_max_demand_past_the_scale_bound_answers_on_the_rate():
    """reference at mean_rate 1e-6 req/s: the closed form's answer, 6.6e8x, is past workload.arrivals.scale's bound
    1e6, and the planner said "max-demand has no answer" though its ceilings were the reference's own. The same
    demand as the scenario at 1100 req/s answers 0.601x: 661 req/s."""
    from dcsim.plan import plan

    low = plan(REF, "max-demand", overrides={"workload.arrivals.mean_rate": "1e-6 req/s"})
    ref = plan(REF, "max-demand")
    assert low["rate_field"] == "mean_rate"
    assert low["rate_req_s"] == pytest.approx(1100.0 * ref["scale"], rel=1e-6)
    assert low["peak_demand_tok_s"] == pytest.approx(ref["peak_demand_tok_s"], rel=1e-6)
    assert low["binding"] == ref["binding"]


# --------------------------------------------------------------------------- 8. 1 GW: "at most 0 W"
def test_no_load_heat_over_the_plant_is_said_without_0_w(capsys):
    code = main(["validate", REF, "--set", "facility.interconnect=1 GW"])
    err = capsys.readouterr().err
    assert code == 2
    assert "at most 0 W" not in err and "infinitely more" not in err
    assert "395 kW" in err  # the plant's capacity the no-load heat exceeds


# --------------------------------------------------------------------------- 9. a boolean expect: claim
@pytest.mark.parametrize("value", ["true", "no"])
def test_boolean_expect_claim_is_one_clear_error(value):
    with pytest.raises(ScenarioError) as e:
        load_scenario(REF, overrides=[f"expect.pue={value}"])
    assert len(e.value.errors) == 1
    assert "boolean" in str(e.value) and "valid tuple" not in str(e.value)


def test_compare_out_beside_no_plots_is_refused(run_dir, tmp_path, capsys):
    """--no-plots writes nothing, so an --out beside it was dropped without a word (exit 0, no compare.json)."""
    capsys.readouterr()
    code = main(["compare", str(run_dir), str(run_dir), "--no-plots", "--out", str(tmp_path / "cmp")])
    err = capsys.readouterr().err
    assert code == 2 and "--no-plots" in err and "--out" in err
    assert not (tmp_path / "cmp").exists()


# --------------------------------------------------------------------------- max-gpus crossover of several groups
def test_max_gpus_crossover_of_several_groups_is_in_group_0s_gpus():
    """The die hall without its die limit (320 H100s in racks of 32 beside 128 B200s): max-gpus adds H100s only, so
    the crossover is where those H100s' full-load IT fills the headroom, a fraction of the whole fleet's IT power.
    Old: ``g·(1 + h)``, that fraction of the H100s alone: "continuous crossover 332.3 GPUs ... 83 replicas (332
    GPUs) still run flat out". The same hall in racks of 8 (one server, a quarter of the rack's feed, heat limit and
    overhead: the same fleet per GPU) bisects whole racks to 336 GPUs compute-bound, 344 not: the crossover is there
    (339.2 GPUs)."""
    from dcsim.plan import plan

    coarse = _die_hall()
    del coarse["facility"]["thermal"]
    fine = _die_hall()
    del fine["facility"]["thermal"]
    r = fine["racks"][0]
    r.update(count=40, nodes_per_rack=1)
    r["power"].update(power_limit="15 kW", overhead="125 W")
    r["cooling"]["limit"] = "12.5 kW"
    a, b = plan(coarse, "max-gpus"), plan(fine, "max-gpus")
    assert a["gpus"] == 320 and a["next_binding"] == "power"
    assert b["gpus"] < a["gpus_at_flip"] <= b["gpus"] + b["gpus_per_rack"]
    assert a["at_flip"]["replicas_below"] * 4 >= b["gpus"]
    assert b["gpus"] < b["gpus_at_flip"] <= b["gpus"] + b["gpus_per_rack"]


def test_max_gpus_band_of_several_groups_keeps_the_other_groups_draw():
    """The band's crossover where the fleet's draw per token is off by r (the window's ends): the budget B equals r
    times the draw of n H100s and the B200s, ``r·(w0·n + W1) = B``. Old: ``f / r``, as if the B200s' draw moved
    with the H100 count: the die hall without its die limit read 312-434 GPUs where the budget gives 296-486."""
    from dcsim.engine.build import build_models
    from dcsim.engine.tables import supply_curves
    from dcsim.plan import plan

    raw = _die_hall()
    del raw["facility"]["thermal"]
    a = plan(raw, "max-gpus")
    m = build_models(load_scenario(raw))
    w0, w1 = (float(supply_curves([g.table], [g.limits]).frontier("pq").it[-1]) for g in m.groups)
    per_gpu, budget = w0 / a["gpus"], (1.0 + a["headroom"]["power"]) * (w0 + w1)
    lo, hi = a["band"]["ratio_window"]
    n_hi, n_lo = a["band"]["gpus_at_flip"]
    assert hi * (per_gpu * n_hi + w1) == pytest.approx(budget, rel=1e-6)
    assert lo * (per_gpu * n_lo + w1) == pytest.approx(budget, rel=1e-6)


def test_die_limit_source_claims_a_datasheet_only_where_one_was_searched():
    """Until session 53 every GPU but the Hopper SXMs read "(its datasheet states none)", a user-defined GPU nobody
    checked too: only a GPU the catalog records as searched may say its datasheet states none."""
    from dcsim.scenario.facility import die_limit_source

    assert "datasheet states none" in die_limit_source("B200")
    made_up = die_limit_source("MyCustomGPU-9000")
    assert "datasheet" not in made_up
    assert "on file" in made_up and "assumption" in made_up
