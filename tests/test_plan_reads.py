"""A plan answer a planner can sign without a second reading (session 55, PLAN3): interconnect-for says whom it
feeds, a past-bound max-demand answer gives the units the others give, every figure of a target carries its unit, the
answer and its confirmation read together with the caveats after them, and --seeds has a documented bound."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from dcsim.plan import format_plan, format_targets, plan

ROOT = Path(__file__).resolve().parents[1]
REF = str(ROOT / "scenarios" / "reference.yaml")
STORED = ROOT / "tests" / "data" / "plan_reference_max_demand_targets.json"


def _die_hall() -> dict:
    spec = importlib.util.spec_from_file_location("die_limit", ROOT / "docs" / "examples" / "die_limit.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.full_load("10 min")


def _answer_gpus(text: str) -> int:
    m = re.search(r"answer: interconnect \S+ \S+ for ([\d,]+) GPUs", text)
    assert m, text
    return int(m.group(1).replace(",", ""))


def test_interconnect_for_names_the_fleet_its_interconnect_feeds():
    """The die hall: rack group 0 (320 H100s) is sized, the 128 B200s keep their count, and the interconnect feeds
    all 448; the answer read "for 320 GPUs" until session 55. The one-group reference is unchanged (320 of 320)."""
    r = plan(_die_hall(), "interconnect-for")
    assert (r["gpus"], r["fleet_gpus"]) == (320, 448)
    assert _answer_gpus(format_plan(r)) == r["fleet_gpus"]
    one = plan(REF, "interconnect-for")
    assert _answer_gpus(format_plan(one)) == one["gpus"] == one["fleet_gpus"]
    # the answer under targets says it as plan does (its line read r["gpus"] too)
    t = {"question": "interconnect-for", "scenario": "s", "targets": ["ttft.p99<=2 s"], "weather": "w",
         "interconnect_w": 7.4e5, "gpus": 320, "fleet_gpus": 448, "bracket": [7e5, 8e5],
         "closed_form_interconnect_w": 7.4e5, "fast": {"binding": "cooling", "targets": []}}
    assert _answer_gpus(format_targets(t)) == 448


def test_max_demand_past_the_scale_bound_gives_the_units_the_other_answers_give():
    """reference at mean_rate 1e-6 req/s answers on mean_rate (past scale's bound): its line gave the rate field and
    the peak tok/s but not the req/s served nor the GPUs serving them, which every other demand answer gives."""
    low = plan(REF, "max-demand", overrides={"workload.arrivals.mean_rate": "1e-6 req/s"})
    ref = plan(REF, "max-demand")
    assert low.get("scale_bound") and low["gpus"] == ref["gpus"] == 320
    answer = format_plan(low).split("critical moment:")[0]
    for fig in (f"{ref['gpus']:,} GPUs", "1,057 req/s at the peak", "223,346 output tok/s", "661.1 req/s mean"):
        assert fig in answer, answer


def _figure_units(text: str, targets: list[str]) -> list[tuple[str, str]]:
    """(target, what follows its figure) for every figure a target line prints."""
    out = []
    for t in targets:
        for m in re.finditer(re.escape(t) + r": ([-+]?[\d.]+(?:e[-+]?\d+)?)(\s*\S*)", text):
            out.append((t, m.group(2).strip()))
    return out


def test_every_target_figure_carries_its_unit():
    """"ttft.p99<=2 s: 0.4209" (and 0.9977 for an attainment) until session 55: a latency now prints in the unit its
    target is written in, an attainment as a % of requests, in the fast model's line, the confirmation and a miss."""
    r = json.loads(STORED.read_text(encoding="utf-8"))
    text = format_targets(r)
    found = _figure_units(text, r["targets"])
    assert len(found) == 4, found  # the fast model's line and the confirmation, each target
    for t, unit in found:
        assert unit == ("%" if t.startswith("slo_attainment") else "s"), (t, unit, text)
    miss = {**r, "confirm": {**r["confirm"], "confirmed": False, "runs": [
        {"seed": 0, "meets": False, "targets": [{"target": "chat.tpot.p99<=100 ms", "value": 0.1234, "ok": False,
                                                 "headroom": -0.234}]}]}}
    assert "chat.tpot.p99<=100 ms: 123.4 ms (MISSED" in format_targets(miss)


def test_the_answer_and_its_confirmation_read_together_and_the_caveats_come_after():
    """The stored reference answer with the fast model's SLO caveat (its fast answer's, ~1,500 characters): the
    confirmation follows the answer, the verdict it, and the caveats come last, short (the whole caveat stays in the
    answer's JSON). Until session 55 the caveat (~20 lines at a terminal), the fast model's line and the refinement
    came between the answer and its confirmation, and the weather note before the answer."""
    from dcsim.report.summary import wrap_block

    r = json.loads(STORED.read_text(encoding="utf-8"))
    r["fast"] = {**r["fast"], "slo_caveat": r["fast_answer"]["fast"]["slo_caveat"]}
    r["calibration_caveat"] = "UNCALIBRATED - b200: B200 / llama-3.1-70b (expected error +-36 % tok/s)"
    lines = wrap_block(format_targets(r))
    starts = [i for i, x in enumerate(lines) if x.startswith("  ") and not x.startswith("   ")]
    heads = [lines[i].split(":")[0].strip() for i in starts]
    assert heads[:3] == ["answer", "confirmation", "CONFIRMED"], heads
    caveats = lines[starts[heads.index("caveats")]:]
    assert heads[-1] == "caveats" and len(caveats) <= 8, lines
    text = "\n".join(caveats)
    assert "SLO tail" in text and "weather" in text and "UNCALIBRATED" in text
    assert len(text) < 900 < len(r["fast"]["slo_caveat"])  # the whole caveat stays in the JSON, fast.slo_caveat


class _SearchStarted(Exception):
    pass


def test_seeds_past_the_bound_are_refused_before_any_run(monkeypatch, capsys):
    """--seeds 1000000 (a typo for 10) ran for hours: refused, naming the flag (the argument in Python) and the bound,
    before the search; the bound itself is taken. The search is replaced by a sentinel so the old code fails fast."""
    import dcsim.plan as P
    from dcsim.cli import main

    def started(*a, **k):
        raise _SearchStarted

    monkeypatch.setattr(P, "_prepare", started)
    with pytest.raises(ValueError, match=r"^seeds 1000000: at most 20 confirming runs"):
        P.plan_for_targets(REF, "max-demand", ["ttft.p99<=2 s"], seeds=1_000_000)
    with pytest.raises(ValueError, match="^seeds: must be at least 1"):
        P.plan_for_targets(REF, "max-demand", ["ttft.p99<=2 s"], seeds=0)
    with pytest.raises(_SearchStarted):
        P.plan_for_targets(REF, "max-demand", ["ttft.p99<=2 s"], seeds=P.MAX_TARGET_SEEDS)
    monkeypatch.setattr(P, "plan_for_targets", started)
    assert main(["plan", REF, "-q", "max-demand", "--target", "ttft.p99<=2 s", "--seeds", "1000000"]) == 2
    err = capsys.readouterr().err
    assert "--seeds 1000000" in err and f"--seeds {P.MAX_TARGET_SEEDS} or fewer" in err, err


def test_the_seeds_refusal_docs_quote_is_the_one_the_planner_gives():
    """docs/sweeps.md pastes `--seeds 1000000`'s refusal: it is check_seeds' own words."""
    from dcsim.plan import check_seeds

    with pytest.raises(ValueError) as e:
        check_seeds(1_000_000, "--seeds")
    assert f"dcsim plan: error: {e.value}\n" in (ROOT / "docs" / "sweeps.md").read_text(encoding="utf-8")


def test_plan_confirm_reads_under_the_answer_and_the_caveats_come_last():
    """`dcsim plan --confirm` (no --target) on the die hall, 10 min: its simulation line came 25 lines after the
    answer, below the band, headroom, ceilings, binding, fleet note and the dies' 10-line note, and the calibration
    caveat before the answer (review of PLAN3, session 55). Now the answer, its band, then the simulation and its
    SLO warning; the caveats last, as under --target. About 6 s of CPU."""
    r = plan(_die_hall(), "interconnect-for", confirm=True)
    assert r["calibration_caveat"] and r.get("band") and r.get("note")  # the hall has all the parts to order
    lines = format_plan(r).splitlines()
    heads = [x.split(":")[0].strip() for x in lines if x.startswith("  ") and not x.startswith("   ")]
    assert heads[0] == "answer" and heads[1].startswith("within the calibration band") and heads[2:4] == [
        "simulation", "WARNING"], heads
    assert heads[-1] == "caveats" and lines[-1].strip() == f"calibration: {r['calibration_caveat']}", lines
    assert heads.index("simulation") < heads.index("critical moment") < heads.index("note")


def test_an_interconnect_for_refusal_under_targets_names_the_fleet_and_the_units():
    """The die hall at 1,400 req/s mean is past its compute ceiling, so no interconnect meets a 2-s TTFT: the
    refusal read "for 320 GPUs ...; ttft.p99<=2 s -> 76.83; tpot.p99<=100 ms -> 0.1117" (rack group 0's GPUs, figures
    without units) after the merge of PLAN3; it says them as the answers do (review of PLAN3)."""
    from dcsim.plan import plan_for_targets

    with pytest.raises(ValueError) as e:
        plan_for_targets(_die_hall(), "interconnect-for", ["ttft.p99<=2 s", "tpot.p99<=100 ms"], confirm=False)
    msg = str(e.value)
    assert msg.startswith("targets not met at any interconnect") and "for 448 GPUs (320 in rack group 0" in msg, msg
    assert re.search(r"ttft\.p99<=2 s: [\d.]+ s \(MISSED", msg), msg
    assert re.search(r"tpot\.p99<=100 ms: [\d.]+ ms \(", msg), msg


def test_the_seeds_bound_states_the_runs_the_planner_can_make(monkeypatch):
    """The refusal (and docs/sweeps.md) said the runs grow as "--seeds x 4"; the planner confirms an answer with every
    seed up to 5 times (the fast answer, before dcsim.plan._refine; the refined one; up to 3 steps). Counted on
    _refine with a confirming model that passes one seed and misses with all of them (every step taken)."""
    import dcsim.plan as P

    monkeypatch.setattr(P, "_demand_answer", lambda *a, **k: None)
    monkeypatch.setattr(P, "_fast", lambda *a, **k: None)
    monkeypatch.setattr(P, "_fast_block", lambda *a, **k: {})
    calls: list[int] = []

    def cw(ov, seeds):
        calls.append(seeds)
        return {"confirmed": seeds == 1}

    out = {"scale": 0.6, "scale_ratio": 1.0, "overrides": {"workload.arrivals.scale": 0.6},
           "confirm": {"confirmed": False}, "fast": {}}
    P._refine(out, None, None, [], "max-demand", 7, 300.0, cw)
    every_seed = 1 + calls.count(7)  # the fast answer's confirmation came before _refine
    assert every_seed == P.CONFIRMS_PER_SEED == 5
    with pytest.raises(ValueError) as e:
        P.check_seeds(21, "--seeds")
    assert f"up to {every_seed * 21:,} such runs" in str(e.value), str(e.value)


def test_fleet_gpus_is_the_fleet_the_models_build():
    """fleet_gpus had two formulas (round(a * m.gpus) in plan, m0.gpus - g0 + count * gpr under targets): one helper,
    the GPUs the models hold with rack group 0 at `count` racks, on one group (the reference) and several (die hall)."""
    from dcsim.plan import _models, _raw_and_dir, fleet_gpus

    for sc in (REF, _die_hall()):
        raw, bdir = _raw_and_dir(sc)
        m0 = _models(raw, bdir)
        for count in (1, 7, 13):
            assert fleet_gpus(m0, count) == _models(raw, bdir, {"racks.0.count": count}).gpus
