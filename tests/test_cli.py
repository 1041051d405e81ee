"""The command line as a user meets it: run, validate, schema, tpf; clean errors with exit code 2."""

import json
from pathlib import Path

import pytest
import yaml

from conftest import squash
from dcsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
REF = str(ROOT / "scenarios" / "reference.yaml")


def test_run_writes_report_and_prints_summary(tmp_path, capsys):
    out = tmp_path / "ref"
    rc = main(["run", REF, "--out", str(out), "--set", "duration=3 h", "--seed", "5", "--no-plots"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "J / output token" in text and "Binding constraint" in text
    assert text.splitlines()[0].endswith("start 2026-07-15 00:00")  # every moment below is on that clock
    rep = json.loads((out / "report.json").read_text())
    assert rep["seed"] == 5 and rep["duration_s"] == pytest.approx(3 * 3600)
    e = rep["energy_j"]
    assert e["facility"] == pytest.approx(e["it"] + e["cooling"] + e["power_losses"], rel=1e-9)
    assert (out / "timeseries.csv").exists()
    # an existing result folder is not overwritten without --force
    rc = main(["run", REF, "--out", str(out), "--set", "duration=1 h", "-q"])
    assert rc == 2
    assert "--force" in capsys.readouterr().err
    assert main(["run", REF, "--out", str(out), "--set", "duration=1 h", "-q", "--force", "--no-plots"]) == 0
    assert json.loads((out / "report.json").read_text())["duration_s"] == pytest.approx(3600)


def test_validate_prints_resolved_si_scenario(capsys):
    assert main(["validate", REF]) == 0
    out = capsys.readouterr().out
    resolved = yaml.safe_load(out)
    assert resolved["facility"]["interconnect"] == pytest.approx(495e3)
    assert resolved["duration"] == pytest.approx(86400)


def test_validate_bad_file_exit_2_names_file_field_reason(tmp_path, capsys):
    raw = yaml.safe_load(Path(REF).read_text())
    raw["facility"]["cooling"]["capacity"] = "-5 kW"
    raw["racks"][0]["node"]["gpux"] = "H100"
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(raw))
    rc = main(["validate", str(f)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "Traceback" not in err
    assert str(f) in err
    assert "facility.cooling.capacity: must be > 0, got -5 kW" in err
    assert "racks[0].node.gpux: unknown key" in err


def test_missing_file_is_a_clean_error(capsys):
    assert main(["validate", "does-not-exist.yaml"]) == 2
    assert "cannot read file" in capsys.readouterr().err


def test_schema_is_json_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["type"] == "object" and "facility" in schema["properties"]


def test_tpf_prints_ceilings_and_crossovers(capsys):
    assert main(["tpf", REF]) == 0
    out = capsys.readouterr().out
    for word in ("compute C", "power   P", "cooling Q", "binding", "crossovers"):
        assert word in out
    assert main(["tpf", REF, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    m = rep["moments"]["peak_demand"]
    assert m["achieved_tok_s"] == pytest.approx(min(m["demand_tok_s"], m["compute_tok_s"], m["power_tok_s"], m["cooling_tok_s"]))
    assert m["crossover"]["interconnect_w"] > 0


def test_tpf_names_its_moments_on_the_local_clock(capsys):
    """chiller-trip starts 2026-07-15 11:00: its moments printed "t = 2.00 h" (a planner's 2 a.m.). The start is
    stated and each moment is at its local time; --json keeps t_s in seconds from the start."""
    trip = str(ROOT / "scenarios" / "chiller-trip.yaml")
    assert main(["tpf", trip]) == 0
    out = capsys.readouterr().out
    assert "local clock: start 2026-07-15 11:00, 3 h" in out
    assert "[hottest: the tick of highest outdoor dry-bulb temperature] at 13:59, outdoor" in out
    assert "t = " not in out
    assert main(["tpf", trip, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["moments"]["hottest"]["t_s"] == pytest.approx(10795.0)


@pytest.mark.parametrize("argv", [
    ["run", REF, "--out", ""],
    ["sweep", str(ROOT / "scenarios" / "sweeps" / "interconnect_vs_gpus.yaml"), "--out", "  "],
    ["compare", "a", "b", "--out", ""],
    ["calibrate", str(ROOT / "dcsim" / "data" / "measurements" / "mlenergy_qwen3-32b.csv"), "--out", " "],
])
def test_empty_out_folder_is_refused_before_any_work(argv, capsys, tmp_path, monkeypatch):
    """An empty --out is refused (it fell back to the default folder, or to the current folder, without a word)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert "--out: is empty" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing simulated, nothing written


def _strict_json(text: str):
    """JSON as a strict parser reads it: NaN and Infinity are not JSON (JavaScript's JSON.parse rejects them)."""
    def refuse(c):
        raise ValueError(f"non-JSON constant {c}")
    return json.loads(text, parse_constant=refuse)


def test_json_answers_are_strict_json(tmp_path, capsys):
    """``tpf --json`` (a crossover with no outdoor temperature) and ``plan --json`` (an unbounded demand ceiling)
    printed NaN and Infinity until 2026-12-04; an undefined or unbounded figure is null."""
    from conftest import small_scenario

    f = tmp_path / "small.yaml"
    sc = small_scenario()
    sc["duration"] = "30 min"
    f.write_text(yaml.safe_dump(sc))
    assert main(["tpf", str(f), "--json"]) == 0
    rep = _strict_json(capsys.readouterr().out)
    assert any(m["crossover"].get("t_out_c", 0) is None for m in rep["moments"].values())
    assert main(["plan", str(f), "-q", "interconnect-for", "--json"]) == 0
    ans = _strict_json(capsys.readouterr().out)
    assert ans["ceilings"]["demand_tok_s"] is None


def test_progress_names_the_stages_after_the_ticks():
    """The bar read 100 % at 6 s of a 30-s year run with nothing printed after it: the stages that follow the
    ticks (the SLO estimate, a flexibility baseline) are named to a progress object that has a ``stage`` method;
    a plain callable still works."""
    import io

    import dcsim
    from conftest import small_scenario
    from dcsim.cli import Progress

    class Rec:
        def __init__(self):
            self.fracs, self.stages = [], []

        def __call__(self, f):
            self.fracs.append(f)

        def stage(self, text):
            self.stages.append(text)

    rec = Rec()
    dcsim.run(small_scenario(duration="10 min"), progress=rec)
    assert rec.fracs[-1] == 1.0 and any("SLO estimate" in s for s in rec.stages)
    dcsim.run(small_scenario(duration="10 min"), progress=lambda f: None)
    buf = io.StringIO()
    p = Progress("x", delay_s=0.0, stream=buf)
    p(1.0)
    p.stage("assembling")
    assert "x: assembling ... (elapsed" in buf.getvalue()


def test_a_closed_stderr_keeps_the_exit_code(tmp_path):
    """`dcsim validate bad.json 2>&1 | head -1` exited 1 about half the time: the error message hit the closed pipe
    and the BrokenPipeError escaped main(). With stderr closed before anything is written, the code is still 2
    (bad input); a valid scenario still exits 0; stdout closed is 141 (docs/limits.md)."""
    import os
    import subprocess
    import sys

    bad = tmp_path / "j.json"
    bad.write_text('{"name": "j"}')
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}

    def rc(path, closed):
        r, w = os.pipe()
        kw = {"stderr": w, "stdout": subprocess.DEVNULL} if closed == "stderr" else {"stdout": w,
                                                                                   "stderr": subprocess.DEVNULL}
        p = subprocess.Popen([sys.executable, "-m", "dcsim.cli", "validate", str(path)], env=env, **kw)
        os.close(w)
        os.close(r)  # the reader is gone before anything is written
        return p.wait(timeout=120)

    assert rc(bad, "stderr") == 2
    assert rc(root / "scenarios" / "reference.yaml", "stderr") == 0
    assert rc(root / "scenarios" / "reference.yaml", "stdout") == 141
    assert rc(bad, "stdout") == 2


def test_tpf_names_a_fixed_rating_when_power_binds_at_every_contract(capsys):
    """campus-interconnect fixes its UPS at 16 MW: power binds at every contract searched; tpf said "(none in range)"
    (the audit of fidelities, finding 9)."""
    from dcsim.cli import main

    assert main(["tpf", str(ROOT / "scenarios" / "campus-interconnect.yaml")]) == 0
    out = squash(capsys.readouterr().out)  # the line wraps at the terminal's width
    assert "power binds at every interconnect searched (to 100x the contract): the fixed UPS rating 16 MW" in out


def test_tpf_reads_a_near_tie_by_a_hair_and_says_what_a_crossover_buys(capsys):
    """mixed-fleet at its mean-demand moment: the reasoning pool is power-bound with P 75,265.057 under C 75,265.067
    tok/s (1.4e-7), which ``dcsim tpf`` printed as "C 75,265 achieved 75,265 binding: POWER", the facility "C 301,442 /
    P 241,850 → POWER" (P the budget's tokens for the pools' work, the chat pool at its demand: no 20 % shortfall),
    and "power binds at the interconnect below 731 kW" / at peak "below 888.4 kW", a 27 % larger contract for +250
    tok/s (0.08 %). The run's rule (metrics.fmt.NEAR_TIE, the "by a hair" note) now reads the closed form too: the
    label stays the lowest ceiling's, as the run's does, with the gap; each crossover above the scenario's value says
    what it buys. reference's peak: cooling 0.98 % under C, by a hair; heatwave-air: no near tie."""
    from dcsim.metrics.fmt import NEAR_TIE

    mixed = str(ROOT / "scenarios" / "mixed-fleet.yaml")
    assert main(["tpf", mixed, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    mean, peak = rep["moments"]["mean_demand"], rep["moments"]["peak_demand"]
    chat, reasoning = mean["pools"]
    assert reasoning["binding"] == "power" and chat["binding"] == "demand" and mean["binding"] == "power"
    gap = reasoning["compute_tok_s"] - reasoning["power_tok_s"]
    assert 0 < gap < 1e-6 * reasoning["compute_tok_s"]
    tie = reasoning["near_tie"]
    assert tie["kind"] == "power" and tie["gap_tok_s"] == pytest.approx(gap) and tie["threshold"] == NEAR_TIE
    assert mean["near_tie"]["pool"] == "b200-reasoning" and chat["near_tie"] is None
    # the interconnect crossover above the 700 kW contract buys what power withholds: at most the near tie
    for m in (mean, peak):
        x = m["crossover"]
        assert x["interconnect_w"] > rep["interconnect_w"]
        assert 0 <= x["interconnect_gain_tok_s"] <= NEAR_TIE * m["achieved_tok_s"]
        assert x["interconnect_gain_tok_s"] == pytest.approx(m["near_tie"]["gap_tok_s"], rel=1e-3, abs=1e-3)
    assert mean["crossover"]["gpus_gain_tok_s"] is None  # compute binds no pool there: nothing to buy
    assert peak["crossover"]["gpus_gain_tok_s"] > 0.05 * peak["achieved_tok_s"]
    assert main(["tpf", mixed]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the wrapping undone
    assert "binding: POWER, by a hair (pool b200-reasoning, below)" in out
    assert "C 75,265.067 P 75,265.057 achieved 75,265 tok/s binding: POWER, by a hair" in out
    assert "by a hair: P is 0.0105 tok/s (1.4e-05 %) under C: more power would buy at most that" in out
    assert "(h100-chat at its demand), C every pool's full compute: C - P is no power shortfall" in out
    assert "power binds at the interconnect below 888.4 kW: +250 tok/s (+0.083 %) for +26.9 % contract" in out
    assert main(["tpf", REF, "--json"]) == 0
    ref = json.loads(capsys.readouterr().out)["moments"]
    assert ref["peak_demand"]["near_tie"]["kind"] == "cooling"
    assert ref["peak_demand"]["near_tie"]["margin"] == pytest.approx(2208 / 226_177, abs=1e-4)
    assert ref["mean_demand"]["near_tie"] is None and ref["hottest"]["near_tie"] is None  # 2.3 % under C there
    assert main(["tpf", str(ROOT / "scenarios" / "heatwave-air.yaml")]) == 0
    assert "by a hair" not in capsys.readouterr().out


def test_tpf_cooling_bracket_is_the_it_heat_budget_that_sets_q(capsys):
    """The cooling line printed the plant's raw capacity (reference's peak: 365.2 kW) beside Q, which the IT heat
    budget sets (capacity less the PDU and UPS losses it also rejects: 339.8 kW), while the power line prints its IT
    budget: the two brackets read E_tok 1.63 J and 1.52 J (audit of 2026-12-05). The budgets each line prints over its
    ceiling are the same J/token (within 1 %: the frontiers' curvature), and the raw capacity is named as such.
    Every moment is read, each bracket against the moment's own budgets in ``--json`` (to 0.1 kW): at the peak P's and
    Q's budgets are 0.15 % apart (340.4 and 339.8 kW), so printing the power budget in the cooling bracket would pass
    a check of the peak alone; at the mean-demand moment they are 354.0 and 369.1 kW."""
    import re
    assert main(["tpf", REF]) == 0
    out = capsys.readouterr().out
    assert main(["tpf", REF, "--json"]) == 0
    moments = json.loads(capsys.readouterr().out)["moments"]
    blocks = dict(re.findall(r"^\[(\w+):(.*?)(?=^\[|\Z)", out, flags=re.M | re.S))
    assert set(blocks) == set(moments) == {"peak_demand", "hottest", "mean_demand"}, blocks.keys()
    for name, text in blocks.items():
        mo = moments[name]
        p_tok, p_kw = re.search(r"power   P = +([\d,]+) tok/s +\(IT budget ([\d.]+) kW\)", text).groups()
        q_tok, q_kw, cap_kw = re.search(
            r"cooling Q = +([\d,]+) tok/s +\(IT heat budget ([\d.]+) kW of the plant's ([\d.]+) kW\)", text).groups()
        assert float(q_kw) == pytest.approx(mo["it_budget_cooling_w"] / 1e3, abs=0.1), (name, q_kw)
        assert float(p_kw) == pytest.approx(mo["it_budget_power_w"] / 1e3, abs=0.1), (name, p_kw)
        assert float(cap_kw) == pytest.approx(mo["heat_capacity_w"] / 1e3, abs=0.1), (name, cap_kw)
        e_p = float(p_kw) / float(p_tok.replace(",", ""))
        e_q = float(q_kw) / float(q_tok.replace(",", ""))
        assert e_q == pytest.approx(e_p, rel=0.01), name
        assert float(cap_kw) > float(q_kw) * 1.05, name  # the raw capacity also covers the losses (7 % here)
    # the moments where the two budgets differ enough to tell the brackets apart
    assert abs(moments["mean_demand"]["it_budget_cooling_w"] - moments["mean_demand"]["it_budget_power_w"]) > 10e3
