"""The planner under targets reuses its runs (dcsim.plan.confirm_window's memo, the critical tick without the SLO
estimate) and answers exactly as when it makes every run afresh (``reuse=False``, the planner before 2026-12-05).
bench/bench_plan.py measures the speed-up on the README's examples."""

import importlib
import json

import pytest

from conftest import small_scenario
from dcsim.plan import confirm_window, parse_target, plan_for_targets

RUN = importlib.import_module("dcsim.engine.run")
SLO = importlib.import_module("dcsim.serving.slo_estimate")


def _counting(monkeypatch):
    """Count the SLO estimates made (not those a run with ``serving.slo_estimate: false`` declines) and the
    request/hybrid runs started."""
    n = {"estimates": 0, "confirming_runs": 0}
    est, run = SLO.estimate_slo, RUN.run

    def est_counted(*a, **k):
        n["estimates"] += 1
        return est(*a, **k)

    def run_counted(scenario, *a, **k):
        if isinstance(scenario, dict) and scenario.get("fidelity") in ("request", "hybrid") or getattr(
                scenario, "fidelity", None) in ("request", "hybrid"):
            n["confirming_runs"] += 1
        return run(scenario, *a, **k)

    monkeypatch.setattr(SLO, "estimate_slo", est_counted)
    monkeypatch.setattr(RUN, "run", run_counted)
    return n


@pytest.fixture(scope="module")
def refined_case():
    # a case the confirming model refines (the fast model's TTFT p99 is optimistic at its answer): every path of the
    # reuse is taken (the refinement's probes, the seed-0 run at the value it settles on)
    raw = small_scenario(duration="20 min", **{"racks.0.count": 1, "controller.tick": "10 s"})
    return raw, ["ttft.p99<=2 s"]


def test_reusing_runs_answers_exactly_as_making_every_run_afresh(refined_case, monkeypatch):
    raw, targets = refined_case
    n_new = _counting(monkeypatch)
    new = plan_for_targets(raw, "max-demand", targets, seeds=2, window=300)
    counts_new = dict(n_new)
    n_new.update(estimates=0, confirming_runs=0)
    old = plan_for_targets(raw, "max-demand", targets, seeds=2, window=300, reuse=False)
    assert "refined" in new and new["refined"]["runs"] >= 2  # the case takes the refinement's path
    assert json.dumps(new, sort_keys=True, default=str) == json.dumps(old, sort_keys=True, default=str)
    # and it did less: the refinement's probe at the value it settles on is the confirmation's first seed; its
    # probes make no fluid window, and no critical tick costs an SLO estimate
    assert counts_new["confirming_runs"] == n_new["confirming_runs"] - 1
    assert counts_new["estimates"] < n_new["estimates"] - new["refined"]["runs"]


def test_the_critical_tick_is_found_without_the_slo_estimate(refined_case, monkeypatch):
    """A confirmation makes one SLO estimate, the steady window's own at fluid fidelity (the answer's
    ``fluid_window``): the whole-run fluid run that only locates the critical tick reads demand and ceilings, which
    the estimate does not change (until 2026-12-05 it made the estimate too: 3.4 of the 4.7 s CPU of a confirmation
    on the reference hall)."""
    raw, targets = refined_case
    tg = [parse_target(t) for t in targets]
    n = _counting(monkeypatch)
    c = confirm_window(raw, None, {"workload.arrivals.scale": 0.5}, tg, seeds=1, window=120)
    assert n == {"estimates": 1, "confirming_runs": 1}
    assert c["fluid_window"]["slo_attainment"] is not None
    n.update(estimates=0, confirming_runs=0)
    afresh = confirm_window(raw, None, {"workload.arrivals.scale": 0.5}, tg, seeds=1, window=120, reuse=False)
    assert n == {"estimates": 2, "confirming_runs": 1}
    assert json.dumps(afresh, sort_keys=True, default=str) == json.dumps(c, sort_keys=True, default=str)


def test_a_memo_makes_each_window_and_seed_once(refined_case, monkeypatch):
    raw, targets = refined_case
    tg = [parse_target(t) for t in targets]
    n = _counting(monkeypatch)
    memo: dict = {}
    one = confirm_window(raw, None, {"workload.arrivals.scale": 0.5}, tg, seeds=1, window=120, memo=memo,
                         fluid_window=False)
    assert "fluid_window" not in one and n["estimates"] == 0
    three = confirm_window(raw, None, {"workload.arrivals.scale": 0.5}, tg, seeds=3, window=120, memo=memo)
    assert n["confirming_runs"] == 3  # seed 0 once, then seeds 1 and 2
    assert three["runs"][0] == one["runs"][0] and [r["seed"] for r in three["runs"]] == [1, 2, 3]
    # another value or window is another window
    confirm_window(raw, None, {"workload.arrivals.scale": 0.45}, tg, seeds=1, window=120, memo=memo)
    assert n["confirming_runs"] == 4
