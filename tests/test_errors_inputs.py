"""Hostile inputs whose errors must name the right thing: plan targets no fleet can meet, and the cosmetic errors of
the audit (environment, flags, paths, dates, misspelt keys, booleans for numbers)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "scenarios" / "reference.yaml"


@pytest.mark.parametrize("target, words", [
    ("ttft.p99<=1 ms", "a 1-token prompt prefilled alone takes"),
    ("tpot.p50<=1 ms", "one decode step of a request alone takes"),
    ("e2e.p99<=2 ms", "single iteration alone takes"),
])
def test_plan_refuses_a_target_below_one_unloaded_request_before_searching(monkeypatch, capsys, target, words):
    """`ttft.p99<=1 ms` searched 2 min 48 s, then said no GPU count meets the targets: below one request's own
    unloaded iteration at the top clock (the node's step model) it is refused before any run, prefixed `dcsim plan:`."""
    import dcsim.plan as plan
    from dcsim.cli import main

    def no_search(*a, **k):
        raise AssertionError("the search ran")
    monkeypatch.setattr(plan, "_fast", no_search)
    assert main(["plan", str(REF), "-q", "max-gpus", "--target", target, "--no-confirm"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"dcsim plan: error: --target {target}: ") and words in err and "top clock" in err


def test_fastest_step_is_the_node_iteration_of_one_token():
    from dcsim.engine.build import build_models
    from dcsim.plan import fastest_step_s
    from dcsim.scenario import load_scenario

    m = build_models(load_scenario(str(REF)))
    best = fastest_step_s(m)
    step = m.groups[0].node.step_fn(1.0)
    assert best["ttft"][0] == pytest.approx(step(1, 0, 0.0)[0]) and best["tpot"][0] == pytest.approx(step(0, 1, 1.0)[0])
    # an iteration at least reads the weights once: 70B BF16 over 4 H100s at 3.35 TB/s is >= 10 ms
    assert best["tpot"][0] > 140e9 / 4 / 3.35e12
