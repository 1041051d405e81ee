"""Capacity planner under the racks' own power limit (audit G, finding 2): a B200 reference fleet draws 48.5 kW per
rack at full load against a 48 kW feed (60 kW derated to 80 %), so its racks cap it below its compute ceiling
whatever the facility's budgets. The planner's answers read that cap as the fleet's full load."""

import numpy as np
import pytest

from conftest import ROOT
from dcsim.plan import _models, design_moment, evaluate, format_plan, plan, scenario_moments
from dcsim.scenario import read_yaml

REF = ROOT / "scenarios" / "reference.yaml"
B200 = {"racks.0.node.gpu": "B200"}


def _full_load(overrides, percentile):
    """The closed form at full load at the design moment, on models rebuilt at ``overrides`` (no planner code)."""
    m = _models(read_yaml(REF), REF.parent, overrides)
    r = evaluate(m, design_moment(scenario_moments(m), percentile), demand_tok_s=np.inf)
    return {k: float(np.atleast_1d(v)[0]) for k, v in r.items() if k in
            ("compute_tok_s", "power_tok_s", "cooling_tok_s", "achieved_tok_s", "binding")}


def test_interconnect_for_reads_one_full_load_and_names_the_racks_as_the_next_limit():
    """Cooling binds at the answer; with more heat rejection (and interconnect) the fleet stops at its racks' feeds,
    not at compute: it read "power -20.6 %, cooling -24.1 %" for equal P and Q and "next: compute with 12.6 %"."""
    r = plan(REF, "interconnect-for", weather_percentile=100, overrides=B200)
    c = r["ceilings"]
    assert r["binding"] == "cooling"
    assert c["power_tok_s"] == pytest.approx(c["cooling_tok_s"], rel=1e-4)  # the answer is where P meets Q
    # equal ceilings on one frontier are equal IT budgets: one full-load figure gives one headroom
    assert r["headroom"]["power"] == pytest.approx(r["headroom"]["cooling"], abs=1e-3)
    # the fleet's own top: the same fleet with heat rejection and interconnect to spare
    big = _full_load({**B200, "facility.cooling.capacity": "100 MW", "facility.interconnect": "100 MW"}, 100)
    assert big["achieved_tok_s"] < 0.99 * big["compute_tok_s"]  # the racks hold it under compute
    assert r["next_binding"] == "power (racks)"
    assert r["margin"] == pytest.approx(big["achieved_tok_s"] / c["cooling_tok_s"] - 1.0, rel=1e-6)
    assert "over its feed 48 kW" in r["rack_note"] and "at any interconnect" in r["rack_note"]
    text = format_plan(r)
    # P meets Q at the answer: power is tied with cooling, and the racks' feeds are the limit past them
    assert r["tied_with"] == ["power"]
    assert "next past them: power (racks) with" in " ".join(text.split()) and "racks: a rack at full load draws 48.5 kW" in text


def test_interconnect_for_does_not_chase_the_racks_feed_with_the_interconnect():
    """With heat rejection to spare, power binds at every interconnect because of the racks' feeds; the answer is
    the interconnect from which more adds no tokens (it grew the cap to 11.38 MW, whose UPS and transformer no-load
    losses then ate the plant's margin until cooling tied, or with fixed ratings to its 10 TW bound)."""
    ov = {**B200, "facility.cooling.capacity": "900 kW"}
    r = plan(REF, "interconnect-for", weather_percentile=100, overrides=ov)
    cap = r["interconnect_w"]
    assert cap < 1e6 and r["binding"] == "power (racks)" and r["next_binding"] == "cooling"
    at = _full_load({**ov, "facility.interconnect": cap}, 100)
    below = _full_load({**ov, "facility.interconnect": 0.99 * cap}, 100)
    more = _full_load({**ov, "facility.interconnect": 2.0 * cap}, 100)
    assert at["achieved_tok_s"] == pytest.approx(more["achieved_tok_s"], rel=1e-6)  # more interconnect: nothing
    assert below["achieved_tok_s"] < at["achieved_tok_s"] * (1 - 1e-4)                 # less: fewer tokens
    assert r["headroom"]["power"] == pytest.approx(0.0, abs=1e-5)


def test_max_demand_says_the_racks_limit_binds():
    """max-demand bound by power at the top of the racks' frontier names the racks' feed, as max-gpus does."""
    ov = {**B200, "facility.cooling.capacity": "900 kW", "facility.interconnect": "2 MW"}
    r = plan(REF, "max-demand", weather_percentile=100, overrides=ov)
    assert r["binding"] == "power" and "over its feed 48 kW" in r["rack_note"]
    assert "racks: a rack at full load draws 48.5 kW" in format_plan(r)
    # the facility as it is (H100 racks within their limits): no such note
    assert "rack_note" not in plan(REF, "max-demand", weather_percentile=100)
