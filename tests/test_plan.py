"""Capacity planner: each answer sits where the binding constraint flips (closed form just below/above)."""

import json
import re

import numpy as np
import pytest

from conftest import ROOT, small_scenario
from dcsim.plan import _models, design_moment, evaluate, plan, scenario_moments
from dcsim.scenario import apply_overrides, read_yaml

REF = ROOT / "scenarios" / "reference.yaml"


def _full_load_codes(raw, overrides, percentile=None):
    """Binding codes at full load over the moments, from models rebuilt at ``overrides`` (no shortcuts)."""
    m = _models(raw, REF.parent, overrides)
    mom = design_moment(scenario_moments(m), percentile)
    return np.atleast_1d(evaluate(m, mom, demand_tok_s=np.inf)["binding"])


def test_max_gpus_is_where_compute_stops_binding_at_full_load():
    raw = read_yaml(REF)
    r = plan(REF, "max-gpus")
    n = r["racks"]
    assert r["binding"] == "compute" and r["gpus"] == n * 32
    at = _full_load_codes(raw, {"racks.0.count": n})
    above = _full_load_codes(raw, {"racks.0.count": n + 1})
    assert np.all(at == 1)                       # compute binds at every tick with N racks
    assert np.any(above >= 2)                    # power or cooling binds somewhere with N+1
    names_above = {("power", "cooling")[int(c) - 2] for c in above if c >= 2}
    assert r["next_binding_above"] in names_above
    assert r["next_binding"] == r["next_binding_above"]   # the smaller headroom is the one that flips
    # the headroom at the answer is smaller than one rack's worth of IT power
    assert 0.0 <= r["margin"] < 1.0 / n + 1e-9
    assert r["gpus"] <= r["gpus_at_flip"] < r["gpus"] + 32
    # the critical moment is the hottest tick of the day (hotter never raises P or Q)
    mom = scenario_moments(_models(raw, REF.parent))
    assert r["moment"]["t_out_c"] == pytest.approx(float(np.max(mom["t_db_c"])), abs=0.5)


def test_max_gpus_cooler_design_weather_allows_more_gpus():
    hot = plan(REF, "max-gpus", weather_percentile=100)
    mild = plan(REF, "max-gpus", weather_percentile=10)
    assert mild["gpus"] >= hot["gpus"]
    assert mild["moment"]["t_out_c"] < hot["moment"]["t_out_c"]


def test_max_demand_flips_from_demand_just_above_the_answer_and_simulation_serves_it():
    raw = small_scenario(duration="1 h", **{"facility.interconnect": "120 kW"})
    r = plan(raw, "max-demand", confirm=True)
    s = r["scale"]
    for f, all_demand in ((1 - 1e-6, True), (1 + 1e-3, False)):
        m = _models(raw, None, {"workload.arrivals.scale": s * f})
        codes = np.atleast_1d(evaluate(m, scenario_moments(m))["binding"])
        assert bool(np.all(codes == 0)) is all_demand
    m = _models(raw, None, {"workload.arrivals.scale": s * 1.001})
    codes = np.atleast_1d(evaluate(m, scenario_moments(m))["binding"])
    assert ("demand", "compute", "power", "cooling")[int(codes.max())] == r["binding"] == "power"
    assert r["margin"] > 0
    # the simulation at the answer serves (nearly) all the demand within the cap
    c = r["confirm"]
    assert c["served_share"] > 0.97
    assert c["interconnect_exceeded_s"] == 0
    assert c["delivery_exceeded_s"] == 0  # the power chain's ratings, beside the contract (reported since 2026-12-05)
    assert c["peak_facility_power_w"] <= 120e3 * (1 + 1e-9)


def test_max_demand_with_several_pools_is_where_the_first_pool_falls_short():
    """With several model pools the answer is the largest demand every pool serves in full at every moment; the
    facility's min(C, P, Q) over its demand counted one pool's spare replicas for another's model (mixed-fleet,
    until 2026-12-04: 0.752x, where the simulation left work waiting on 46 % of the day; now 0.561x, served)."""
    mf = ROOT / "scenarios" / "mixed-fleet.yaml"
    ov = {"start": "2026-07-15T12:00", "duration": "3 h", "expect": {}}
    r = plan(mf, "max-demand", overrides=ov, confirm=True)
    s = r["scale_ratio"]
    raw = apply_overrides(read_yaml(mf), ov)
    for f, served in ((1 - 1e-6, True), (1 + 1e-3, False)):
        m = _models(raw, mf.parent, {"workload.arrivals.scale": s * f})
        pools = evaluate(m, scenario_moments(m))["pools"]
        full = np.all(pools["achieved_tok_s"] >= pools["demand_tok_s"] * (1 - 1e-9))
        assert bool(full) is served
    assert r["binding_pool"] == "b200-reasoning" and r["binding"] in ("compute", "power")
    # the next constraint is that pool's own, at a hair (its power ceiling sits within 0.35 % of its compute)
    assert r["next_binding"] in ("compute", "power") and r["next_binding"] != r["binding"]
    assert 0.0 <= r["margin"] < 0.01
    c = r["confirm"]
    # served in full at the edge: the reasoning pool runs critically loaded at the clock the shared budget allows it,
    # which holds work (power, since 2026-12-05: 0.756 of the ticks, demand 0.244; demand 0.95 or more before)
    assert c["served_share"] > 0.99
    assert c["binding_share"].get("demand", 0.0) + c["binding_share"].get("power", 0.0) > 0.95


def test_interconnect_for_is_where_power_stops_binding():
    raw = apply_overrides(read_yaml(REF), {"facility.cooling.capacity": "3 MW"})  # cooling out of the way
    r = plan(raw, "interconnect-for", gpus=400, weather_percentile=100)
    assert r["gpus"] == 416 and r["racks"] == 13 and r["binding"] == "compute"
    cap = r["interconnect_w"]
    ov = {"racks.0.count": 13}
    below = _full_load_codes(raw, {**ov, "facility.interconnect": cap * (1 - 1e-4)}, 100)
    above = _full_load_codes(raw, {**ov, "facility.interconnect": cap * (1 + 1e-4)}, 100)
    assert np.all(below == 2) and np.all(above == 1)
    # physics: hotter design weather and more GPUs need more interconnect
    cool = plan(raw, "interconnect-for", gpus=400, weather_percentile=5)
    more = plan(raw, "interconnect-for", gpus=800, weather_percentile=100)
    assert cool["interconnect_w"] < cap < more["interconnect_w"]
    assert more["interconnect_w"] == pytest.approx(2 * cap, rel=0.15)


def test_interconnect_for_names_the_moment_where_power_flips_last():
    """The critical moment is where power binds just below the answer (reference read 16:01 h, 41 degC, the
    tightest power headroom, where cooling binds first; power flips last at 39.3 degC)."""
    from dcsim.engine.build import with_interconnect

    r = plan(REF, "interconnect-for")
    m = _models(read_yaml(REF), REF.parent)
    mom = scenario_moments(m)
    i = int(np.argmin(np.abs(mom["t_s"] - r["moment"]["t_s"])))
    below = evaluate(with_interconnect(m, r["interconnect_w"] * (1 - 1e-6)), mom, demand_tok_s=np.inf)
    assert int(np.atleast_1d(below["binding"])[i]) == 2
    assert r["moment"]["t_out_c"] < float(np.max(mom["t_db_c"])) - 1.0
    # that moment is compute-bound, but the hottest hours are cooling-bound at full load at any interconnect: the
    # answer says so (audit A: "binding COMPUTE" alone let a planner believe the fleet runs flat out all day)
    at = evaluate(with_interconnect(m, r["interconnect_w"]), mom, demand_tok_s=np.inf)
    hot = np.atleast_1d(at["cooling_tok_s"]) < np.atleast_1d(at["compute_tok_s"]) * (1 - 1e-9)
    assert r["binding"] == "compute" and hot.any()
    assert r["cooling_binds_share"] == pytest.approx(float(np.mean(hot)), abs=0.01)
    from dcsim.plan import format_plan
    assert "WARNING: cooling binds at full load on 22." in format_plan(r)
    # a whole sentence (it ended "more heat rejection would", audit of 2026-12-04)
    assert r["cooling_note"].endswith("only more heat rejection raises its output there")


def test_interconnect_for_reports_cooling_when_heat_rejection_binds_first():
    r = plan(REF, "interconnect-for", gpus=640)
    assert r["binding"] == "cooling" and "note" in r
    assert r["headroom"]["cooling"] < 0
    # with the UPS/transformer ratings following the interconnect, more interconnect REMOVES tokens
    # (their no-load losses are heat in a cooling-bound plant): the note says so, and not when fixed
    assert "removes some" in r["note"]
    raw = apply_overrides(read_yaml(REF), {"facility.power_chain.ups_rating": "600 kW",
                                           "facility.power_chain.transformer_rating": "600 kW"})
    fixed = plan(raw, "interconnect-for", gpus=640)
    assert fixed["binding"] == "cooling" and "removes some" not in fixed["note"]


def test_plan_accepts_a_loaded_scenario():
    from dcsim.scenario import load_scenario

    a = plan(load_scenario(REF), "max-demand")
    b = plan(REF, "max-demand")
    assert a["scale"] == b["scale"] and a["moment"] == b["moment"]


def test_cli_plan_json(capsys):
    from dcsim.cli import main

    assert main(["plan", str(REF), "--question", "max-demand", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["question"] == "max-demand" and out["scale"] > 0
    assert main(["plan", str(REF), "--question", "max-gpus"]) == 0
    assert "GPUs" in capsys.readouterr().out


# --------------------------------------------------------------------------- service targets

from dcsim.plan import format_plan, format_targets, parse_target, plan_for_targets, weather_note  # noqa: E402


def test_parse_target_forms_and_errors():
    t = parse_target("ttft.p99<=2 s")
    assert (t.cls, t.metric, t.quantile, t.op, t.value) == (None, "ttft", "p99", "<=", 2.0)
    t = parse_target("chat.tpot.p99 <= 100 ms", ["chat"])
    assert (t.cls, t.metric, t.value) == ("chat", "tpot", pytest.approx(0.1))
    t = parse_target("slo_attainment>=99%")
    assert (t.metric, t.op, t.value) == ("slo_attainment", ">=", pytest.approx(0.99))
    for bad, why in (("ttft<=2 s", "quantile"), ("ttft.p99>=2 s", "ceiling"), ("slo_attainment<=0.9", "floor"),
                     ("code.ttft.p99<=1 s", "no request class"), ("latency<=1 s", "expected"),
                     # audit C A8: a bare number was seconds, so tpot.p99<=100 (ms meant) never bound
                     ("tpot.p99<=100", r"needs a unit, e.g. 'tpot.p99<=100 ms' or 'tpot.p99<=100 s'"),
                     ("ttft.mean<=2.5e-1", "needs a unit")):
        with pytest.raises(ValueError, match=why):
            parse_target(bad, ["chat"])


def test_target_check_reads_fluid_and_per_class_figures():
    rep = {"slo_attainment": 0.97, "latency_s": {"ttft": {"p99": 1.5}},
           "serving": {"per_class": {"chat": {"slo_attainment": 0.995, "latency_s": {"ttft": {"p99": 2.5}}}}}}
    assert parse_target("ttft.p99<=2 s").check(rep) == {"target": "ttft.p99<=2 s", "value": 1.5, "ok": True,
                                                          "headroom": pytest.approx(0.25)}
    assert not parse_target("chat.ttft.p99<=2 s").check(rep)["ok"]
    assert parse_target("chat.slo_attainment>=0.99").check(rep)["ok"]
    assert parse_target("slo_attainment>=0.99").check(rep)["headroom"] < 0
    assert parse_target("tpot.p99<=0.1 s").check(rep) == {"target": "tpot.p99<=0.1 s", "value": None,
                                                           "ok": False, "headroom": None}
    # a target of 0 has no relative margin: no headroom (was +inf, printed "+inf %" and written as
    # Infinity, which is not JSON)
    zero = parse_target("slo_attainment>=0").check(rep)
    assert zero == {"target": "slo_attainment>=0", "value": 0.97, "ok": True, "headroom": None}
    import json
    from dcsim.plan import _fmt_check
    json.dumps(zero, allow_nan=False)
    assert _fmt_check(zero) == "slo_attainment>=0: 97 % of requests (ok)"  # no "+inf %"; with its unit (PLAN3)


def test_weather_note_says_where_percentiles_come_from():
    from dcsim.scenario import load_scenario

    assert "one synthetic day" in weather_note(load_scenario(REF))
    assert weather_note(load_scenario(small_scenario())) == "constant weather"


@pytest.fixture(scope="module")
def demand_answer():
    raw = small_scenario(duration="20 min", **{"racks.0.count": 1, "controller.tick": "10 s"})
    targets = ["ttft.p99<=1 s", "tpot.p99<=100 ms", "slo_attainment>=0.99"]
    return raw, targets, plan_for_targets(raw, "max-demand", targets, seeds=3, window=300)


def test_max_demand_under_targets_is_bracketed_and_confirmed(demand_answer):
    from dcsim.plan import _fast, _meets

    raw, targets, r = demand_answer
    tg = [parse_target(t) for t in targets]
    fast = r.get("fast_answer", r)
    lo, hi = fast["bracket"]
    assert lo <= fast["overrides"]["workload.arrivals.scale"] <= hi and hi / lo - 1 <= 0.0051
    assert _meets(tg, _fast(raw, None, {"workload.arrivals.scale": lo}))[0]
    # the bisection's invariant: the bracket's low end meets the targets, its high end does not (a
    # point 0.01 % above hi may meet them again: the fast model's p99 moves by ~1 % with the arrival
    # draws, docs/slo.md, so the bracket is one crossing of a slightly noisy function)
    assert not _meets(tg, _fast(raw, None, {"workload.arrivals.scale": hi}))[0]
    assert r["scale"] < r["closed_form_scale"]           # queueing: below the compute ceiling
    c = r["confirm"]
    assert c["fidelity"] == "request" and len(c["runs"]) == 3
    assert len({x["seed"] for x in c["runs"]}) == 3
    for t in targets:
        s = c["spread"][t]
        assert s["min"] <= s["mean"] <= s["max"]
    assert c["confirmed"] == all(x["meets"] for x in c["runs"])
    if "fast_answer" in r:  # refined on the confirming model: lower, and confirmed there
        assert r["scale"] < fast["overrides"]["workload.arrivals.scale"] and c["confirmed"]
    text = format_targets(r)
    assert "binding target" in text and ("CONFIRMED" in text)


def test_max_gpus_under_a_power_cap_recommends_the_most_slo_meeting_output():
    from dcsim.plan import GOODPUT_TIE_REL

    raw = small_scenario(duration="30 min", **{"controller.tick": "10 s", "facility.interconnect": "150 kW",
                                               "workload.arrivals.rate": "300 req/s"})
    r = plan_for_targets(raw, "max-gpus", ["ttft.p99<=1 s", "slo_attainment>=0.95"], confirm=False)
    feas = [x for x in r["scan"] if x["meets"]]
    # the fewest GPUs within the estimate's seed spread of the most SLO-meeting output (not the largest figure by
    # 0.002 %: the audit of fidelities, finding 7)
    top = max(x["goodput_tok_s"] for x in feas)
    assert r["recommended_gpus"] == min(x["gpus"] for x in feas if x["goodput_tok_s"] >= (1 - GOODPUT_TIE_REL) * top)
    pd_feas = [x for x in r["scan"] if x["power_down_meets"]]
    pd_top = max(x["power_down_goodput_tok_s"] for x in pd_feas)
    assert r["power_down"]["recommended_gpus"] == min(
        x["gpus"] for x in pd_feas if x["power_down_goodput_tok_s"] >= (1 - GOODPUT_TIE_REL) * pd_top)
    assert r["fewest_gpus"] <= r["recommended_gpus"] <= r["most_gpus"]
    # beyond the answer the cap forces lower clocks: SLO-meeting output falls, and the plan says so
    assert any(x["gpus"] > r["most_gpus"] and not x["meets"] for x in r["scan"])
    assert r["note"] and "lower SLO-meeting output" in r["note"]
    # powering idle replicas down (the engine's runs, controller.idle_power_down): the counts the
    # cap ruined serve their SLO-meeting output again, and the recommendation says which is best
    pdn = r["power_down"]
    assert any(x["power_down_meets"] and not x["meets"] for x in r["scan"])
    big = r["scan"][-1]
    best = max(x["goodput_tok_s"] for x in r["scan"] if x["goodput_tok_s"] is not None)
    # the largest count loses SLO-meeting output to the cap (measured 61.9 k of the best 63.3 k tok/s with the
    # profiles fitted to the median ITL; 54.9 k before them, 35.5 k before the pool's routing windows) and powering
    # idle replicas down gives it back the best count's output
    assert big["goodput_tok_s"] < 0.99 * best
    assert big["power_down_goodput_tok_s"] >= 0.99 * best
    # with power-down the best count does about as well as the best count without it (not more: the
    # wake-up delay costs a little at the counts the cap does not ruin; measured -0.09 % here)
    assert pdn["meets_targets"]
    assert pdn["recommended_goodput_tok_s"] >= 0.99 * max(x["goodput_tok_s"] for x in r["scan"])


def test_cli_plan_with_targets(capsys, tmp_path):
    import yaml

    from dcsim.cli import main

    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(small_scenario(duration="20 min", **{"racks.0.count": 1, "controller.tick": "10 s"})))
    assert main(["plan", str(f), "-q", "max-demand", "--target", "ttft.p99<=1 s", "--no-confirm"]) == 0
    out = capsys.readouterr().out
    assert "under ttft.p99<=1 s" in out and "binding target: ttft.p99<=1 s" in out
    assert main(["plan", str(f), "-q", "max-demand", "--target", "ttft<=1 s"]) == 2
    assert "give a quantile" in capsys.readouterr().err


def test_flat_out_answer_warns_when_it_misses_slos():
    raw = small_scenario(duration="20 min", **{"racks.0.count": 1, "controller.tick": "10 s"})
    r = plan(raw, "max-gpus", confirm=True)
    r["confirm"]["slo_attainment"] = 0.27
    assert "WARNING: only 27.0 % of requests meet their SLOs" in format_plan(r)
    r["confirm"]["slo_attainment"] = 1.0
    assert "WARNING" not in format_plan(r)


def test_power_down_ceiling_physics():
    from dcsim.plan import power_down_ceiling_tok_s

    m = _models(small_scenario(duration="1 h", **{"racks.0.count": 8}), None)
    f = m.curves.frontier("pq")
    budget = np.linspace(0.0, float(f.it[-1]) * 1.1, 200)
    # standby = idle power: the frontier as it is
    assert power_down_ceiling_tok_s(m, budget, 1.0) == pytest.approx(m.curves.ceiling(budget, "pq"), rel=1e-9, abs=1e-6)
    lo, mid = power_down_ceiling_tok_s(m, budget, 0.05), power_down_ceiling_tok_s(m, budget, 0.5)
    assert np.all(lo >= mid - 1e-6) and np.all(mid >= m.curves.ceiling(budget, "pq") - 1e-6)
    # below the all-idle IT power nothing runs today; powered down, part of the fleet does
    below_idle = (budget < f.it[0]) & (budget > 0.2 * f.it[0])
    assert np.all(m.curves.ceiling(budget[below_idle], "pq") == 0) and np.all(lo[below_idle] > 0)
    # the top of the frontier (every replica at full load) is unchanged
    assert lo[-1] == pytest.approx(float(f.rate[-1]))


def test_power_down_gain_is_zero_when_demand_binds():
    from dcsim.plan import power_down_gain

    raw = small_scenario(duration="30 min", **{"controller.tick": "10 s"})
    g = power_down_gain(raw, None, {})
    assert g["gain_tok_s"] == 0.0 and g["standby_fraction"] == 0.05
    capped = power_down_gain(raw, None, {"racks.0.count": 12, "facility.interconnect": "150 kW",
                                          "workload.arrivals.rate": "300 req/s"})
    assert capped["gain_tok_s"] > 0.0


def test_weather_percentile_uses_the_weather_files_year(tmp_path):
    """With an EPW weather file the percentile is taken over the file's hours, not only the simulated
    ticks; with synthetic weather the answer says it comes from the simulated (synthetic) day."""
    from test_weather import _write_epw

    rows = []
    for day in range(1, 6):
        for hour in range(1, 25):
            hot = 20.0 if day != 3 else 38.0  # day 3 is the heat wave
            rows.append((7, day, hour, hot + 4.0 * np.sin(np.pi * (hour - 6) / 12.0), 8.0, 40, 101325))
    _write_epw(tmp_path / "site.epw", rows)
    raw = small_scenario(duration="1 h", **{"controller.tick": "10 min"})
    raw["facility"]["weather"] = {"kind": "epw", "path": str(tmp_path / "site.epw"), "wrap": False}
    raw["start"] = "2026-07-01T00:00"
    r = plan(raw, "max-gpus", weather_percentile=100)
    assert r["moment"]["t_out_c"] == pytest.approx(42.0, abs=0.01)       # the file's hottest hour
    assert "hours of" in r["weather_source"] and r["moments_evaluated"] == 1
    cool = plan(raw, "max-gpus")                                            # the simulated hour only
    assert cool["moment"]["t_out_c"] < 30.0 and cool["gpus"] >= r["gpus"]
    syn = plan(REF, "max-gpus", weather_percentile=50)
    assert "one synthetic day" in syn["weather_source"] and "weather percentile over" in format_plan(syn)


# --------------------------------------------------------------------------- heterogeneous fleets

MIXED = ROOT / "scenarios" / "mixed-fleet.yaml"


@pytest.mark.parametrize("question", ["max-gpus", "interconnect-for"])
def test_fleet_sizing_refuses_several_model_pools(question):
    """Sizing one rack group of a multi-pool fleet gave '0 GPUs' and 'interconnect 1 W': refused now."""
    with pytest.raises(ValueError, match="several model pools"):
        plan(str(MIXED), question)


def test_max_demand_of_a_multi_pool_fleet_is_answered():
    r = plan(str(MIXED), "max-demand")
    c = r["ceilings"]
    assert r["scale"] > 0 and r["binding"] in ("compute", "power", "cooling")
    # at the answer the binding ceiling equals the scaled demand (the closed form's own fixed point)
    assert c["demand_tok_s"] == pytest.approx(min(c["compute_tok_s"], c["power_tok_s"], c["cooling_tok_s"]), rel=1e-6)


def test_several_groups_in_one_pool_say_which_group_is_sized():
    raw = read_yaml(REF)
    g = dict(raw["racks"][0], name="hall-b", count=2)
    raw = {**raw, "racks": [raw["racks"][0], g]}
    r = plan(raw, "max-gpus")
    assert "hall-b" in r["fleet_note"] and "racks.0.count" in r["fleet_note"]
    assert "fleet: sizes rack group 0" in format_plan(r)
    one = plan(str(REF), "max-gpus")
    assert "fleet_note" not in one
    assert r["racks"] < one["racks"]  # hall-b's fixed racks take their share of the budget


def test_interconnect_for_under_targets_answers_or_says_the_fleet_falls_short():
    """interconnect-for with targets: the search never probes an interconnect the scenario refuses as
    if it were an answer (below the idle fleet's draw, or so large that the ratings following it break
    the plant); a feasible case gets the smallest interconnect meeting the targets, an infeasible one
    says the fleet, not the interconnect, falls short (both failed with 'invalid scenario' before)."""
    from dcsim.plan import _fast, _meets

    raw = small_scenario(duration="30 min", **{"controller.tick": "10 s", "workload.arrivals.rate": "150 req/s"})
    targets = ["ttft.p99<=2 s", "slo_attainment>=0.95"]
    r = plan_for_targets(raw, "interconnect-for", targets, confirm=False)
    tg = [parse_target(t) for t in targets]
    lo, hi = r["bracket"]
    assert lo <= r["interconnect_w"] <= hi and hi / lo - 1 <= 0.0051
    assert _meets(tg, _fast(raw, None, r["overrides"]))[0]
    assert "answer: interconnect" in format_targets(r)
    over = small_scenario(duration="30 min", **{"controller.tick": "10 s", "workload.arrivals.rate": "3000 req/s"})
    with pytest.raises(ValueError, match="the fleet, not the interconnect, falls short"):
        plan_for_targets(over, "interconnect-for", targets, confirm=False)


def test_targets_that_never_bind_are_not_given_the_search_limit_as_an_answer():
    """A target the fast model cannot miss (a TTFT limit above hold_limit, where fluid waits are
    capped) does not bound demand: the answer is the facility's ceiling, and it says so."""
    raw = small_scenario(duration="30 min", **{"controller.tick": "10 s"})
    r = plan_for_targets(raw, "max-demand", ["ttft.p99<=1000 s"], confirm=False)
    assert r["targets_bind"] is False and r["scale"] == pytest.approx(r["closed_form_scale"])
    text = format_targets(r)
    assert "the targets do not bind" in text and "hold_limit" in r["note"]


def test_printed_answers_round_toward_the_answers_own_side():
    """A minimum is printed rounded up and a maximum rounded down (to nearest, interconnect-for printed 96.07 kW
    for 96,073.4 W, where power binds instead of compute; max-demand 3.571 for 3.57095, where compute binds)."""
    from dcsim.plan import round_sig

    assert round_sig(96073.4, 4, up=True) == pytest.approx(96080.0)
    assert round_sig(3.57095, 4, up=False) == pytest.approx(3.570)
    assert round_sig(96080.0, 4, up=True) == pytest.approx(96080.0)  # on the grid: unchanged
    assert round_sig(3.570, 4, up=False) == pytest.approx(3.570)
    base = {"scenario": "s", "weather_percentile": None, "moments_evaluated": 1, "moment": {"t_s": 0.0, "t_out_c": 20.0},
            "ceilings": {"compute_tok_s": 1.0, "power_tok_s": 1.0, "cooling_tok_s": 1.0}, "binding": "compute",
            "gpus": 64}
    out = format_plan(dict(base, question="interconnect-for", interconnect_w=96073.4))
    assert "96.08 kW" in out
    assert "critical moment: 00:00:00 from the start," in out  # no clock known: elapsed, and it says so
    out = format_plan(dict(base, question="max-demand", scale=3.57095, scale_ratio=3.57095, peak_demand_tok_s=1.0))
    assert "scale = 3.57 " in out and "3.571" not in out


def test_interconnect_for_refuses_a_fleet_run_refuses(capsys):
    """3,200 GPUs under a 300 kW plant: the fleet's idle heat alone is more than the plant rejects, so run and
    validate refuse it at any interconnect; the planner answered "ok" (1.146 MW for the audit's hall, ceilings C 2.26 M,
    P 0, Q 0 tok/s, "compute with inf % headroom", margin 2.26e306 in --json) and now refuses with run's reason."""
    from dcsim.cli import main
    from dcsim.scenario import ScenarioError

    raw = small_scenario()
    with pytest.raises(ScenarioError, match="cannot reject even the idle fleet's heat") as e:
        plan(raw, "interconnect-for", gpus=3200)
    assert "interconnect-for has no answer" in str(e.value) and "racks.0.count=100" in str(e.value)
    import yaml
    from pathlib import Path
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "s.yaml"
        f.write_text(yaml.safe_dump(raw))
        assert main(["plan", str(f), "-q", "interconnect-for", "--gpus", "3200", "--json"]) == 2
    out = capsys.readouterr()
    assert "inf" not in out.out and "idle fleet's heat" in out.err


@pytest.mark.parametrize("question", ["max-gpus", "max-demand"])
def test_max_gpus_and_max_demand_refuse_a_fleet_run_refuses(question):
    """A 5 kW plant cannot reject one rack's idle heat: max-gpus answered "0 racks", max-demand a scale, for a fleet
    dcsim run refuses."""
    from dcsim.scenario import ScenarioError

    raw = small_scenario(**{"facility.cooling.capacity": "5 kW"})
    with pytest.raises(ScenarioError, match="cannot reject even the idle fleet's heat"):
        plan(raw, question)


def test_a_margin_over_a_zero_ceiling_is_undefined():
    from dcsim.plan import _margin, format_plan

    nxt, marg = _margin({"demand_tok_s": 1.0, "compute_tok_s": 2e6, "power_tok_s": 0.0, "cooling_tok_s": 0.0},
                        "cooling")
    assert nxt == "power" and marg is None
    r = plan(REF, "max-demand")
    r.update(binding="cooling", margin=None, margin_note="the cooling ceiling is 0 at the critical moment")
    text = format_plan(r)
    assert "margin undefined: the cooling ceiling is 0" in text and "inf" not in text
    # the critical moment on the scenario's local clock (it printed "t = 16.02 h"), t_s kept in seconds
    assert re.search(r"critical moment: 07-15 \d\d:\d\d local, outdoor", text) and "t = " not in text
    assert r["moment"]["local_time"].startswith("07-15 ") and isinstance(r["moment"]["t_s"], float)


def test_the_confirming_window_keeps_the_faults_in_force_at_its_tick():
    """A steady window at a tick inside a curtailment runs curtailed (held through the window); outside, not; a
    heat wave at its strength there; node failures always (audit of fidelities #1: plan confirmed curtailment.yaml's
    answer at 17:00, its critical tick because the curtailment starts there, on the full contract)."""
    from dcsim.plan import _steady_window, faults_at

    cur = ROOT / "scenarios" / "curtailment.yaml"
    raw = read_yaml(cur)
    m = _models(raw, cur.parent)
    dt = float(m.scenario.controller.tick)
    inside = _steady_window(raw, m, int(17.5 * 3600 / dt), 300.0, "request")
    assert [(f["kind"], f["start"], f["duration"]) for f in inside["faults"]] == [("curtailment", 0.0, 300.0)]
    assert inside["faults"][0]["fraction"] == raw["faults"][0]["fraction"]
    assert _steady_window(raw, m, int(12 * 3600 / dt), 300.0, "request")["faults"] == []
    # a heat wave ramping up: its strength at the tick, no ramp; node failures kept as they are
    raw2 = small_scenario(duration="4 h", faults=[
        {"kind": "heat_wave", "start": "1 h", "duration": "2 h", "offset": "8 K", "ramp": "1 h"},
        {"kind": "node_failures", "mtbf": "1000 h", "repair": "4 h"}])
    m2 = _models(raw2, None)
    held = faults_at(raw2["faults"], m2.scenario.faults, 1.5 * 3600, 600.0, tick_s=60.0)
    assert held[0]["offset"] == pytest.approx(4.0) and held[0]["ramp"] == 0.0 and held[0]["duration"] == 600.0
    assert held[1] == raw2["faults"][1]
    assert [f["kind"] for f in faults_at(raw2["faults"], m2.scenario.faults, 3.5 * 3600, 600.0, tick_s=60.0)] == ["node_failures"]
    # a cooling failure or heat wave in part of the tick, as the engine reads it: its share of the tick (until
    # 2026-12-05 kept only if in force at the tick's middle, whole); a 15-min tick from 17:00, faults from 17:10
    raw3 = small_scenario(duration="24 h", faults=[
        {"kind": "cooling_failure", "start": "1030 min", "duration": "1 h", "capacity_loss": "90%"},
        {"kind": "heat_wave", "start": "1030 min", "duration": "2 h", "offset": "6 K"}])
    m3 = _models(raw3, None)
    held = faults_at(raw3["faults"], m3.scenario.faults, 17.125 * 3600, 600.0, tick_s=900.0)
    assert [f["kind"] for f in held] == ["cooling_failure", "heat_wave"]
    assert held[0]["capacity_loss"] == pytest.approx(0.3) and held[1]["offset"] == pytest.approx(2.0)
    assert held[0]["duration"] == held[1]["duration"] == 600.0
    # the held window validates as a scenario
    from dcsim.scenario import load_scenario
    load_scenario(inside, base_dir=cur.parent)
    # faults: written as one mapping (the scenario reads it as a list of one) holds the same way
    one = {**raw, "faults": raw["faults"][0]}
    assert _steady_window(one, _models(one, cur.parent), int(17.5 * 3600 / dt), 300.0, "request")["faults"] \
        == inside["faults"]


def test_the_confirming_window_holds_overlapping_cooling_faults_as_the_engine_reads_them():
    """Two 50 % cooling failures within one 15-min tick (17:00-17:10 and 17:05-17:15): the engine takes the tick's
    capacity at the time-mean of their product (0.5, 0.25, 0.5 by thirds: 1.25/3, FaultSchedule.cooling_factor_over);
    the window holds them as one failure at that loss, 1 - 1.25/3 = 0.583. Until 2026-12-05 each was held at its own
    mean loss (1/3 each), a product of means: 1 - (2/3)^2 = 0.556, less than the engine took."""
    from dcsim.plan import faults_at

    raw = small_scenario(duration="24 h", faults=[
        {"kind": "cooling_failure", "start": "1020 min", "duration": "10 min", "capacity_loss": "50%"},
        {"kind": "cooling_failure", "start": "1025 min", "duration": "10 min", "capacity_loss": "50%"}])
    m = _models(raw, None)
    held = faults_at(raw["faults"], m.scenario.faults, 17.125 * 3600, 600.0, tick_s=900.0)
    assert [f["kind"] for f in held] == ["cooling_failure"] and held[0]["duration"] == 600.0
    engine = float(m.faults.cooling_factor_over(np.array([17 * 3600.0]), 900.0)[0])
    assert engine == pytest.approx(1.25 / 3, rel=1e-12)
    assert held[0]["capacity_loss"] == pytest.approx(1 - engine, rel=1e-12)


def test_the_confirming_window_keeps_a_curtailment_fault_overlapping_its_tick():
    """The engine holds a tick any part of which lies in a curtailment fault to its cap (dcsim.power.grid.overlaps), so
    the critical tick's window runs with it: reference.yaml at a 15-min tick with a 1-min 60 % fault at 17:05 has its
    critical tick at 17:00 (capped); until 2026-12-05 the window read the fault at the tick's middle, 17:07:30, and
    ran without it (faults [])."""
    from dcsim.plan import _window_at_critical_tick

    ref = ROOT / "scenarios" / "reference.yaml"
    raw = apply_overrides(read_yaml(ref), {"controller.tick": "15 min", "faults": [
        {"kind": "curtailment", "start": "1025 min", "duration": "1 min", "fraction": "60%"}]})
    base, moment = _window_at_critical_tick(raw, ref.parent, 300.0)
    assert moment["t_s"] == 17 * 3600.0
    assert [(f["kind"], f["start"], f["duration"], f["fraction"]) for f in base["faults"]] \
        == [("curtailment", 0.0, 300.0, "60%")]


@pytest.mark.parametrize("gpus, reason", [(-5, "must be at least 1 (GPUs), got -5"),
                                          (0, "must be at least 1 (GPUs), got 0"),
                                          (2.5, "expected a whole number of GPUs, got 2.5"),
                                          (32.0, "expected a whole number of GPUs, got 32.0"),
                                          (True, "expected a whole number of GPUs, got True")])
def test_the_python_planner_checks_gpus_as_the_cli_does(gpus, reason):
    """plan(gpus=-5) answered 32 GPUs (the CLI refuses --gpus < 1; the audit of the API, finding 9). The check is
    the CLI's (dcsim.textio.check_count), its refusal naming the field and the reason; a whole float, which the CLI
    refuses as `--gpus 32.0`, was taken until 2026-12-05."""
    for call in (lambda: plan(REF, "interconnect-for", gpus=gpus),
                 lambda: plan_for_targets(REF, "interconnect-for", ["ttft.p99<=2 s"], gpus=gpus)):
        with pytest.raises(ValueError) as e:
            call()
        assert str(e.value) == f"gpus: {reason} (as `dcsim plan --gpus`)"
    with pytest.raises(SystemExit):  # the command line refuses the same values
        _cli_gpus(str(gpus))


def _cli_gpus(text: str) -> None:
    from dcsim.cli import main as cli_main

    cli_main(["plan", str(REF), "-q", "interconnect-for", "--gpus", text])


def test_targets_as_one_string_are_refused():
    with pytest.raises(ValueError, match="got one string"):
        plan_for_targets(REF, "max-demand", "ttft.p99<=2 s")


def test_max_gpus_names_the_rack_limit_when_no_rack_runs_flat_out():
    """37 kW racks under the default 30 kW air rack limit in a 600 kW hall: the answer names the rack's own limit
    and its default, not the facility's budget ("0 GPUs … binding POWER … -1139 % headroom": audit N #11)."""
    from dcsim.plan import format_plan

    raw = small_scenario(**{"facility.interconnect": "600 kW", "facility.cooling.capacity": "400 kW",
                            "racks.0.count": 4, "racks.0.nodes_per_rack": 4, "racks.0.cooling": {"kind": "air"}})
    r = plan(raw, "max-gpus")
    assert r["gpus"] == 0 and r["binding"] == "cooling" and r["margin"] is None
    assert "over its heat limit 30 kW" in r["note"] and "default for air cooling" in r["note"]
    assert "rack's own limit binds" in format_plan(r)


def test_targets_missed_at_the_search_bottom_are_said_against_the_scenarios_scale():
    """``max-demand`` under targets no demand meets names the bottom of its search as a multiple of the scenario's
    demand scale and as the share of the closed form's ceiling it is (plan.TARGET_SCALE_SEARCH_X): it printed the
    absolute scale as "x the scenario's", 4 times too large on a scenario at arrivals.scale 0.25."""
    from conftest import small_scenario
    from dcsim.plan import TARGET_SCALE_SEARCH_X, plan, plan_for_targets

    sc = small_scenario(**{"duration": "20 min", "workload.arrivals.scale": 0.25})
    cf = plan(sc, "max-demand")["scale"]
    with pytest.raises(ValueError) as e:
        plan_for_targets(sc, "max-demand", ["ttft.p99<=20 ms"], confirm=False)  # above one iteration (16.5 ms): 1 ms is refused before the search
    lo = cf * TARGET_SCALE_SEARCH_X[0]
    assert f"targets not met even at {lo / 0.25:.3g}x the scenario's demand scale (0.1 % of the closed form's " \
           "ceiling)" in str(e.value)


def test_interconnect_for_says_the_largest_interconnect_it_tried(monkeypatch):
    """Where power still binds at the top of ``interconnect-for``'s search, the error names the largest interconnect
    the search tried (it said "10 TW", the search's bound, which it never reached: the last bracket tried was
    below it). Here the bound is lowered to 1 MW: the search tries the scenario's 495 kW, then stops."""
    import dcsim.plan as plan_mod
    from dcsim.metrics.fmt import fmt_si
    from dcsim.scenario import load_scenario

    monkeypatch.setattr(plan_mod, "INTERCONNECT_SEARCH_MAX_W", 1e6)
    cap0 = float(load_scenario(REF).facility.interconnect)
    assert 1e6 / 4 < cap0 < 1e6  # one bracket tried, the next (4x) past the bound
    with pytest.raises(ValueError) as e:
        plan_mod.plan(REF, "interconnect-for", gpus=3200)
    assert str(e.value) == (f"power still binds at {fmt_si(cap0, 'W')}, the largest interconnect searched (up to "
                            "1 MW): the delivery chain cannot feed this fleet")


def test_max_gpus_and_tpf_name_the_same_crossover_in_whole_replicas(capsys):
    """plan's max-gpus and tpf's crossover at the same moment (reference, 16:00, 41 degC) name one count, in whole
    replicas of the scenario's tensor-parallel size and in its 8-GPU servers: they printed 311 and 312 GPUs for the
    one continuous crossover (311.1), one rounding to nearest, one up, neither a whole replica (TP 4). The count is
    where the closed form flips: with that many replicas the next limit binds, with one fewer compute still does."""
    from conftest import squash
    from dcsim.cli import main
    from dcsim.engine.steady import ceilings_at
    from dcsim.plan import format_plan

    r = plan(REF, "max-gpus")
    f = r["at_flip"]
    assert f["gpus"] == 4 * f["replicas"] and f["servers"] == -(-f["replicas"] // 2) and f["gpus_per_server"] == 8
    assert f["replicas"] - 1 < r["gpus_at_flip"] / 4 <= f["replicas"]
    m = _models(read_yaml(REF), REF.parent)
    mo = r["moment"]
    code = lambda n: int(ceilings_at(m, np.inf, mo["t_out_c"], mo["t_wb_c"], gpu_scale=n / m.replicas)["binding"])
    assert code(f["replicas"]) >= 2 and code(f["replicas"] - 1) == 1
    assert r["margin_replicas"] == f["replicas"] - 1 - r["replicas"] and r["replicas"] == r["gpus"] // 4
    said = squash(format_plan(r))
    assert f"would bind from {f['replicas']} replicas ({f['gpus']} GPUs; in {f['servers']} servers of 8)" in said
    assert main(["tpf", str(REF)]) == 0
    hottest = squash(capsys.readouterr().out).split("[hottest")[1].split("[mean_demand")[0]
    assert f"compute stops binding from {f['replicas']} replicas ({f['gpus']} GPUs; in {f['servers']} servers" in hottest


def test_whole_replicas_from_rounds_up_to_a_whole_replica_and_server():
    from dcsim.metrics.fmt import fmt_replicas_from, whole_replicas_from

    w = whole_replicas_from(311.12, 4, 8)
    assert (w["replicas"], w["gpus"], w["servers"], w["replicas_below"]) == (78, 312, 39, 77)
    assert fmt_replicas_from(w) == "78 replicas (312 GPUs; in 39 servers of 8)"
    w = whole_replicas_from(330.0, 4, 8)  # 82.5 replicas: 83, in 42 servers (the last holds one)
    assert (w["replicas"], w["servers"]) == (83, 42)
    assert whole_replicas_from(312.0, 4, 8)["replicas"] == 78  # on a whole count: that count
    w = whole_replicas_from(100.0, 3, 8)  # TP 3 in 8-GPU servers: 2 replicas a server, 2 GPUs unused
    assert (w["replicas"], w["gpus"], w["servers"]) == (25, 75, 13)
    assert whole_replicas_from(float("nan"), 4, 8) is None


def test_cli_plan_names_the_file_when_a_later_load_fails(monkeypatch, capsys):
    """Only the first load of the file's dict is labelled with the file (``_source_label``); the planner's later
    loads with its own overrides (here --confirm's run at the answer) named ``<dict>``. plan_error names FILE."""
    import dcsim.plan as plan_mod
    from dcsim.cli import main

    real, labels = plan_mod.load_scenario, []

    def later_load_fails(raw, overrides=None, base_dir=None, label=None):
        labels.append(label)
        if len(labels) > 1:  # a later, unlabelled load: an override the validator refuses
            overrides = {**(overrides or {}), "racks.0.count": 0}
        return real(raw, overrides=overrides, base_dir=base_dir, label=label)

    monkeypatch.setattr(plan_mod, "load_scenario", later_load_fails)
    monkeypatch.setattr(plan_mod, "refuse_unrunnable", lambda *a, **k: None)  # it relabels on its own
    assert main(["plan", str(REF), "--question", "max-demand", "--confirm"]) == 2
    err = capsys.readouterr().err
    assert len(labels) > 1 and labels[-1] is None, labels
    assert err.startswith(f"{REF}: invalid scenario") and "<dict>" not in err, err
    assert "racks[0].count" in err


def test_binding_answer_text_spells_an_either_or_list_as_the_summary_does():
    """One spelling of "a, b or c" (dcsim.metrics.fmt.or_list) for the summary, compare and plan: the planner printed
    "compute or power or cooling" until 2026-12-05."""
    from dcsim.metrics.fmt import or_list
    from dcsim.plan import binding_answer_text

    assert [or_list(n) for n in ([], ["power"], ["power", "cooling"], ["compute", "power", "cooling"])] == \
        ["", "power", "power or cooling", "compute, power or cooling"]
    r = {"binding": "demand", "band": {"binding_alternatives": ["compute", "power", "cooling"]}}
    assert binding_answer_text(r) == "DEMAND, or compute, power or cooling could bind instead within the calibration band"
    assert binding_answer_text({"binding": "compute", "band": None}) == "COMPUTE"


def test_interconnect_for_says_it_rounded_the_gpus_up_to_whole_racks():
    """``--gpus 7`` was answered "for 32 GPUs" without a word that the question had changed (the input audit AUH,
    4): the answer (text and JSON) says the count was rounded up to whole racks, and a whole-rack count says
    nothing."""
    r = plan(REF, "interconnect-for", gpus=7)
    assert r["gpus"] == 32 and r["racks"] == 1 and r["gpus_asked"] == 7
    assert r["gpus_note"] == "7 GPUs asked, rounded up to whole racks: 1 rack of 32 GPUs = 32 GPUs (the answer is for those)"
    assert "  GPUs: 7 GPUs asked, rounded up to whole racks: 1 rack of 32 GPUs" in format_plan(r)
    whole = plan(REF, "interconnect-for", gpus=64)
    assert whole["gpus_asked"] == 64 and whole["gpus_note"] is None and "GPUs asked" not in format_plan(whole)


def test_the_rounding_to_whole_racks_has_one_home():
    """plan, plan under targets and --curtailment round --gpus alike (dcsim.plan.whole_racks), and say so in one
    line (dcsim.plan.gpus_note_lines): the --curtailment answer itself is asked here (the test handed format_flex a
    dict it had made, so a plan_flex that sized 33 GPUs, or dropped the note, passed)."""
    from dcsim.plan import whole_racks
    from dcsim.plan_flex import FlexBudget, format_flex, plan_flex

    assert whole_racks(33, 32, 10) == (2, {"gpus_asked": 33, "gpus_note": "33 GPUs asked, rounded up to whole "
                                           "racks: 2 racks of 32 GPUs = 64 GPUs (the answer is for those)"})
    assert whole_racks(None, 32, 10) == (10, {"gpus_asked": None, "gpus_note": None})
    r = plan_flex(REF, "interconnect-for", FlexBudget(budget=0.005, max_event_s=None, battery=None), gpus=33)
    assert r["gpus"] == 64 and r["gpus_asked"] == 33
    assert r["gpus_note"] == whole_racks(33, 32, 10)[1]["gpus_note"]
    assert "\n  GPUs: 33 GPUs asked, rounded up to whole racks: 2 racks of 32 GPUs = 64 GPUs" in format_flex(r)
    whole = plan_flex(REF, "interconnect-for", FlexBudget(budget=0.005, max_event_s=None, battery=None), gpus=64)
    assert whole["gpus"] == 64 and whole["gpus_note"] is None and "GPUs asked" not in format_flex(whole)


@pytest.mark.parametrize("call, words", [
    (lambda: __import__("dcsim.plan_flex").plan_flex.plan_flex(
        REF, "interconnect-for", __import__("dcsim.plan_flex").plan_flex.FlexBudget(
            budget=0.005, max_event_s=None, battery=None), gpus=-5), "gpus: must be at least 1"),
    (lambda: plan(REF, "max-everything", gpus=5), "unknown question 'max-everything'"),
])
def test_gpus_is_checked_where_the_question_is(call, words):
    """One check of ``gpus`` where the question is read (dcsim.plan._prepare): ``--curtailment``'s ``plan_flex``
    never checked its count (``gpus=-5`` was sized as one rack), and an unknown question with ``gpus`` was told
    ``gpus applies to interconnect-for, not max-everything: max-gpus finds the GPU count itself``."""
    with pytest.raises(ValueError, match=words):
        call()


@pytest.mark.parametrize("args, expect", [
    (["-q", "max-demand", "--gpus", "5"], "--gpus applies to interconnect-for, not max-demand"),
    (["-q", "max-gpus", "--gpus", "33"], "--gpus applies to interconnect-for, not max-gpus"),
    (["-q", "max-gpus", "--gpus", "33", "--curtailment", "0.5%"], "--gpus applies to interconnect-for, not max-gpus"),
    (["-q", "max-gpus", "--seeds", "5"], "--seeds qualifies --target"),
    (["-q", "interconnect-for", "--window", "10 min", "--no-refine"], "--window and --no-refine qualify --target"),
    (["-q", "max-demand", "--no-confirm"], "--no-confirm qualifies --target"),
])
def test_plan_refuses_flags_that_do_not_apply_before_any_work(capsys, monkeypatch, args, expect):
    """``-q max-demand --gpus 5`` answered for the scenario's 320 GPUs and ``--seeds 5`` without ``--target`` was
    unused, both with exit 0 (the input audit AUH, 5): refused as ``--curtailment`` with max-demand is, through
    plan_error (exit 2, ``dcsim plan: error: ...``), before the planner runs."""
    import dcsim.plan as plan_mod
    import dcsim.plan_flex as flex_mod
    from dcsim.cli import main as cli_main

    def never(*a, **k):
        raise AssertionError("the planner ran")

    for mod, name in ((plan_mod, "plan"), (plan_mod, "plan_for_targets"), (flex_mod, "plan_flex")):
        monkeypatch.setattr(mod, name, never)
    assert cli_main(["plan", str(REF), *args]) == 2
    assert capsys.readouterr().err.startswith(f"dcsim plan: error: {expect}")


@pytest.mark.parametrize("question", ["max-demand", "max-gpus"])
def test_the_python_planner_refuses_gpus_for_another_question(question):
    from dcsim.plan_flex import FlexBudget, plan_flex

    calls = [lambda: plan(REF, question, gpus=5), lambda: plan_for_targets(REF, question, ["ttft.p99<=2 s"], gpus=5)]
    if question == "max-gpus":
        calls.append(lambda: plan_flex(REF, question, FlexBudget(budget=0.005, max_event_s=None, battery=None), gpus=5))
    for call in calls:
        with pytest.raises(ValueError, match=f"gpus applies to interconnect-for, not {question}"):
            call()


def test_interconnect_for_names_the_limit_tied_with_compute_as_the_next():
    """interconnect-for sizes the contract so that power meets compute: at the answer power is tied with compute,
    and a smaller interconnect makes it bind. The answer read "next: cooling with 918.7 % headroom" beside "power
    0.0 %" for 7 GPUs of the reference (walkthrough 2026-12-05); the tie is reported and named first."""
    from dcsim.plan import PLAN_TIE_REL, format_plan

    r = plan(REF, "interconnect-for", gpus=7)
    c = r["ceilings"]
    assert r["binding"] == "compute" and abs(c["power_tok_s"] / c["compute_tok_s"] - 1) <= PLAN_TIE_REL
    assert c["cooling_tok_s"] > 2 * c["compute_tok_s"]  # cooling far away
    assert r["tied_with"] == ["power"]
    txt = " ".join(format_plan(r).split())
    line = txt.split("binding at the answer:", 1)[1].split(" note:", 1)[0]
    assert "power" in line and line.index("power") < line.index("cooling"), line
