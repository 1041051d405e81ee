"""The planner under targets keeps its confirming runs in a cache private to the plan
(dcsim.plan.confirm_window's cache: a window per value and each seed's run in it made once) and answers exactly as
when every confirmation starts with an empty cache; the critical tick is found on the engine's loop alone, without the
report's SLO estimate. bench/bench_plan.py times the planner on the README's examples."""

import importlib
import json

import numpy as np
import pytest

from conftest import small_scenario
from dcsim.plan import _critical_tick, _models, confirm_window, parse_target, plan_for_targets
from dcsim.scenario import apply_overrides

RUN = importlib.import_module("dcsim.engine.run")
SLO = importlib.import_module("dcsim.serving.slo_estimate")
PLAN = importlib.import_module("dcsim.plan")


def _counting(monkeypatch):
    """Count the SLO estimates made and the request/hybrid runs started."""
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
    # cache is taken (the refinement's probes, the seed-0 run at the value it settles on)
    raw = small_scenario(duration="20 min", **{"racks.0.count": 1, "controller.tick": "10 s"})
    return raw, ["ttft.p99<=2 s"]


def test_the_plans_cache_of_runs_changes_no_figure_and_saves_a_run(refined_case, monkeypatch):
    raw, targets = refined_case
    n = _counting(monkeypatch)
    memo = plan_for_targets(raw, "max-demand", targets, seeds=2, window=300)
    with_memo = dict(n)
    n.update(estimates=0, confirming_runs=0)
    with PLAN._without_the_plans_cache():
        no_memo = plan_for_targets(raw, "max-demand", targets, seeds=2, window=300)
    assert "refined" in memo and memo["refined"]["runs"] >= 2  # the case takes the refinement's path
    assert json.dumps(memo, sort_keys=True, default=str) == json.dumps(no_memo, sort_keys=True, default=str)
    # the refinement's probe at the value it settles on is the confirmation's first seed: made once with the cache
    assert with_memo["confirming_runs"] == n["confirming_runs"] - 1


def test_the_critical_tick_is_found_without_the_slo_estimate(refined_case, monkeypatch):
    """A confirmation makes no SLO estimate: the whole-run fluid run that only locates the critical tick is the
    engine's loop, whose demand and ceilings the report's estimate reads and does not change (until 2026-12-05 every
    confirmation made the estimate, and a second one on a fluid run of the window that nothing read)."""
    raw, targets = refined_case
    tg = [parse_target(t) for t in targets]
    ov = {"workload.arrivals.scale": 0.5}
    n = _counting(monkeypatch)
    c = confirm_window(raw, None, ov, tg, seeds=1, window=120)
    assert n == {"estimates": 0, "confirming_runs": 1}
    # the moment is the one the whole run with its report (and its SLO estimate) points at
    full = RUN.run_models(_models(apply_overrides(raw, ov), None, {"fidelity": "fluid"}))
    assert n["estimates"] == 1  # the full run did make its estimate
    i = _critical_tick(full.timeseries)
    assert c["moment"]["t_s"] == float(full.timeseries["t_s"][i])
    assert c["moment"]["demand_tok_s"] == float(full.timeseries["demand_tok_s"][i])
    assert np.isfinite(c["moment"]["t_out_c"])


def test_a_plans_cache_makes_each_window_and_seed_once(refined_case, monkeypatch):
    raw, targets = refined_case
    tg = [parse_target(t) for t in targets]
    n = _counting(monkeypatch)
    cache: dict = {}
    cw = lambda ov, seeds: confirm_window(raw, None, ov, tg, seeds=seeds, window=120, cache=cache)  # noqa: E731
    one = cw({"workload.arrivals.scale": 0.5}, 1)
    three = cw({"workload.arrivals.scale": 0.5}, 3)
    assert n["confirming_runs"] == 3  # seed 0 once, then seeds 1 and 2
    assert three["runs"][0] == one["runs"][0] and [r["seed"] for r in three["runs"]] == [1, 2, 3]
    assert three == confirm_window(raw, None, {"workload.arrivals.scale": 0.5}, tg, seeds=3, window=120)
    # another value is another window
    cw({"workload.arrivals.scale": 0.45}, 1)
    assert n["confirming_runs"] == 7
    # what the cache keeps: per value the window's scenario and moment, per seed the run's figures
    assert sorted(type(k).__name__ for k in cache) == ["str", "str", "tuple", "tuple", "tuple", "tuple"]
    assert all(len(v) == 2 for k, v in cache.items() if isinstance(k, str))
