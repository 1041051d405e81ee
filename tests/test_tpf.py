"""The closed-form Token Production Function: hand-computed cases, each ceiling binding, crossovers."""

import itertools
import json
import math

import numpy as np
import pytest

from dcsim import tpf


BASE = dict(
    flop_per_token=2.0e11,        # FLOP/token
    joule_per_token_it=0.5,       # J/token
    effective_flops=1.0e16,       # FLOP/s  -> C = 5e4 tok/s
    delivered_power_w=4.0e4,      # W       -> P = 4e4/(1.25*0.5) = 6.4e4 tok/s
    pue=1.25,
    heat_rejection_w=4.0e4,       # W       -> Q = 8e4 tok/s
    demand_tok_s=3.0e4,
)


def test_hand_computed_ceilings_and_demand_binding():
    r = tpf.token_production(**BASE)
    assert float(r.compute_tok_s) == pytest.approx(5.0e4)
    assert float(r.power_tok_s) == pytest.approx(6.4e4)
    assert float(r.cooling_tok_s) == pytest.approx(8.0e4)
    assert float(r.achieved_tok_s) == pytest.approx(3.0e4)
    assert r.binding_name == "demand"
    s = r.slack()
    assert float(s["compute"]) == pytest.approx(5e4 / 3e4 - 1)
    assert float(s["demand"]) == pytest.approx(0.0)


@pytest.mark.parametrize(
    "change, expect, achieved",
    [
        (dict(demand_tok_s=1e6), "compute", 5.0e4),
        (dict(demand_tok_s=1e6, effective_flops=1e17, delivered_power_w=2.5e4), "power", 4.0e4),
        (dict(demand_tok_s=1e6, effective_flops=1e17, heat_rejection_w=1.0e4), "cooling", 2.0e4),
    ],
)
def test_each_ceiling_binds_in_turn(change, expect, achieved):
    r = tpf.token_production(**{**BASE, **change})
    assert r.binding_name == expect
    assert float(r.achieved_tok_s) == pytest.approx(achieved)
    assert float(r.slack()[expect]) == pytest.approx(0.0, abs=1e-12)


def test_vectorized_arrays_in_arrays_out():
    demand = np.linspace(1e4, 1e5, 91)
    r = tpf.token_production(**{**BASE, "demand_tok_s": demand})
    assert r.achieved_tok_s.shape == demand.shape
    assert np.all(np.diff(r.achieved_tok_s) >= 0)
    assert np.all(r.achieved_tok_s <= 5e4 + 1e-9)
    names = set(r.binding_name)
    assert names == {"demand", "compute"}


def test_units_consistency_scaling():
    # Doubling J/token halves P and Q; doubling FLOP/token halves C; PUE only acts on P.
    a = tpf.token_production(**{**BASE, "demand_tok_s": 1e9})
    b = tpf.token_production(**{**BASE, "demand_tok_s": 1e9, "joule_per_token_it": 1.0})
    c = tpf.token_production(**{**BASE, "demand_tok_s": 1e9, "flop_per_token": 4e11, "pue": 2.5})
    assert float(b.power_tok_s) == pytest.approx(float(a.power_tok_s) / 2)
    assert float(b.cooling_tok_s) == pytest.approx(float(a.cooling_tok_s) / 2)
    assert float(b.compute_tok_s) == pytest.approx(float(a.compute_tok_s))
    assert float(c.compute_tok_s) == pytest.approx(float(a.compute_tok_s) / 2)
    assert float(c.power_tok_s) == pytest.approx(float(a.power_tok_s) / 2)
    assert float(c.cooling_tok_s) == pytest.approx(float(a.cooling_tok_s))


def test_theta_scales_power_ceiling_only():
    a = tpf.token_production(**BASE)
    b = tpf.token_production(**BASE, theta=0.5)
    assert float(b.power_tok_s) == pytest.approx(0.5 * float(a.power_tok_s))
    assert float(b.compute_tok_s) == float(a.compute_tok_s)


def test_the_crossovers_are_where_the_closed_form_binding_flips():
    """``engine.steady.crossovers`` (``dcsim tpf``, ``tpf.moments.*.crossover`` of report.json) on the reference at
    41 degC and unbounded demand: just below the GPU count it names, compute binds, just above it does not; power
    binds just below the interconnect it names (the facility rebuilt for it), not above; cooling binds just above
    the outdoor temperature it names, not below. (The closed-form shortcuts tpf.crossover_gpu_count /
    crossover_delivered_power_w, which held PUE and E_tok fixed where the facility is rebuilt, had no caller and are
    gone.)"""
    from pathlib import Path

    from dcsim.engine.build import build_models, with_interconnect
    from dcsim.engine.steady import ceilings_at, crossovers
    from dcsim.scenario import load_scenario

    m = build_models(load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "reference.yaml"))
    d, t_db, t_wb = 1e9, 30.0, 20.0
    x = crossovers(m, d, t_db, t_wb)
    name = lambda r: tpf.BINDING_NAMES[int(r["binding"])]  # noqa: E731
    a = x["gpus"] / m.gpus
    assert 0 < a < 1e3
    assert name(ceilings_at(m, d, t_db, t_wb, gpu_scale=a * 0.99)) == "compute"
    assert name(ceilings_at(m, d, t_db, t_wb, gpu_scale=a * 1.01)) != "compute"
    cap = x["interconnect_w"]
    assert 0 < cap < 100 * m.facility.interconnect_w
    assert name(ceilings_at(with_interconnect(m, cap * 0.99), d, t_db, t_wb)) == "power"
    assert name(ceilings_at(with_interconnect(m, cap * 1.01), d, t_db, t_wb)) != "power"
    t = x["t_out_c"]
    assert -30 < t < 55
    assert name(ceilings_at(m, d, t + 0.1, t + 0.1 - (t_db - t_wb))) == "cooling"
    assert name(ceilings_at(m, d, t - 0.1, t - 0.1 - (t_db - t_wb))) != "cooling"


def test_invalid_inputs_rejected():
    with pytest.raises(ValueError):
        tpf.token_production(**{**BASE, "pue": 0.9})
    with pytest.raises(ValueError):
        tpf.token_production(**{**BASE, "joule_per_token_it": 0.0})


def test_dcsim_tpf_and_the_reports_tpf_block_are_one_closed_form():
    """Issue 12.3: `dcsim tpf FILE` and report.json's `tpf` come from the same function and moments."""
    import contextlib
    import io
    import json
    from pathlib import Path

    import dcsim
    from dcsim.cli import main

    ref = Path(__file__).resolve().parents[1] / "scenarios" / "reference.yaml"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["tpf", str(ref), "--json"]) == 0
    cli = json.loads(buf.getvalue())
    rep = dcsim.run(ref).report["tpf"]
    assert set(cli["moments"]) == set(rep["moments"]) == {"peak_demand", "hottest", "mean_demand"}
    for name, mom in cli["moments"].items():
        assert mom["operating_point"] == rep["moments"][name]["operating_point"]
        for key in ("demand_tok_s", "compute_tok_s", "power_tok_s", "cooling_tok_s", "achieved_tok_s",
                    "binding", "t_s", "t_out_c"):
            assert rep["moments"][name][key] == mom[key], (name, key)
    # the block's headline figures are the peak-demand moment, labelled as such
    assert rep["operating_point"] == "peak_demand"
    assert rep["power_tok_s"] == cli["moments"]["peak_demand"]["power_tok_s"]
    # the run-mean linearisation is a different, labelled operating point
    assert "linearised" in rep["run_mean"]["operating_point"]
    # ... with its ceilings and no binding: at the run's mean E_tok (night's partial load included) P read 198,589
    # tok/s and "power" bound, where the run had power binding 14 % of the time within 0.8 % of C (2026-12-04)
    rm = rep["run_mean"]
    assert not {"binding", "achieved_tok_s", "slack"} & set(rm) and "no binding" in rm["note"]
    assert rm["power_tok_s"] < rm["compute_tok_s"] and rm["compute_tok_s"] == pytest.approx(rep["compute_tok_s"])
    # the backed-out symbols reproduce P = θ·P_deliv / (PUE·E_tok)
    s = rep["inputs"]
    assert s["theta"] * s["delivered_power_w"] / (s["pue"] * s["joule_per_token_it"]) == pytest.approx(rep["power_tok_s"])


def test_the_crossover_searches_scan_the_published_ranges(monkeypatch):
    """``dcsim.tpf``'s CROSSOVER_*_RANGE constants are the ranges the crossover searches scan (the reasons
    ``dcsim tpf`` prints when no crossover lies in them are read from them): each bisection of
    ``engine.steady.crossovers`` recorded, in its order interconnect, GPU scale, then the outdoor-temperature scan
    (its range and grid step; the bisections inside it lie within the range)."""
    from pathlib import Path

    from dcsim.engine import steady
    from dcsim.engine.build import build_models
    from dcsim.scenario import load_scenario

    seen, flip, spans = [], steady._flip, steady._spans
    monkeypatch.setattr(steady, "_flip", lambda pred, lo, hi, log=False, iters=60: (
        seen.append((lo, hi)), flip(pred, lo, hi, log, iters))[1])
    monkeypatch.setattr(steady, "_spans", lambda grid, pred, lo, hi, step: (
        seen.append(("scan", lo, hi, step)), spans(grid, pred, lo, hi, step))[1])
    m = build_models(load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "reference.yaml"))
    steady.crossovers(m, 3e5, 40.0, 22.0)
    cap0 = float(m.facility.interconnect_w)
    lo, hi = tpf.CROSSOVER_INTERCONNECT_RANGE_X
    t_lo, t_hi = tpf.CROSSOVER_T_OUT_RANGE_C
    assert seen[:3] == [(cap0 * lo, cap0 * hi), tpf.CROSSOVER_GPU_RANGE_X,
                        ("scan", t_lo, t_hi, tpf.CROSSOVER_T_OUT_STEP_C)]
    assert len(seen) > 3 and all(t_lo <= a < b <= t_hi for a, b in seen[3:])


def test_dcsim_tpf_says_the_range_it_searched_from_the_constants(monkeypatch):
    """Where cooling never binds (a 5 MW plant on the reference), ``dcsim tpf`` names the range searched as
    ``dcsim.tpf`` holds it (it printed "-30..55 degC" as literal text, a copy of the search's bounds)."""
    import contextlib
    import io
    from pathlib import Path

    from dcsim.cli import main

    ref = Path(__file__).resolve().parents[1] / "scenarios" / "reference.yaml"

    def crossovers() -> list[str]:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(["tpf", str(ref), "--set", "facility.cooling.capacity=5 MW"]) == 0
        return [" ".join(b.split()) for b in buf.getvalue().split("crossovers: ")[1:]]

    assert all("cooling binds nowhere in -30..55 °C" in c for c in crossovers())
    from dcsim.engine import steady

    seen, spans = [], steady._spans
    monkeypatch.setattr(steady, "_spans", lambda grid, pred, lo, hi, step: (
        seen.append((lo, hi)), spans(grid, pred, lo, hi, step))[1])
    for mod in (tpf, steady):  # the range the search scans (steady holds its own name for it) and the text says
        monkeypatch.setattr(mod, "CROSSOVER_T_OUT_RANGE_C", (-40.0, 60.0))
    assert all("cooling binds nowhere in -40..60 °C" in c for c in crossovers())
    assert (-40.0, 60.0) in seen  # the text names the range the search did scan


def test_a_near_tie_is_a_power_or_cooling_binding_within_the_threshold_of_compute_with_the_work_at_c():
    """:func:`dcsim.tpf.near_tie_margin`, the one rule of the run's "by a hair" notes and of ``dcsim tpf``: power
    (or cooling) named binding with its ceiling within ``tol`` of C and the work reaching C as closely; the margin is
    (C - X)/C. No tie where the ceiling is further below C, where the work stays under C (a pool the shared budget
    runs below full clock at the rate that just meets its work: the next watt raises its clock), or where demand or
    compute binds."""
    c = 75_265.067
    m = tpf.near_tie_margin(2, c, 75_265.057, 2e5, 83_957.0, 0.01)
    assert m == pytest.approx(0.01 / c, rel=1e-3)  # mixed-fleet's reasoning pool at its mean-demand moment
    assert tpf.near_tie_margin(3, 226_177.0, 2e6, 223_969.0, 371_582.0, 0.01) == pytest.approx(2208 / 226_177, rel=1e-3)
    assert math.isnan(tpf.near_tie_margin(2, c, 0.98 * c, 2e5, 1e6, 0.01))  # 2 % under C: a real power limit
    assert math.isnan(tpf.near_tie_margin(2, c, 0.995 * c, 2e5, 0.9 * c, 0.01))  # work under C: no tie
    assert math.isnan(tpf.near_tie_margin(1, c, 0.995 * c, 2e5, 1e6, 0.01))  # compute binds
    assert math.isnan(tpf.near_tie_margin(0, c, 0.995 * c, 2e5, 1e6, 0.01))  # demand
    # a critically loaded tick: power named with P a little above C, its work at C
    assert tpf.near_tie_margin(2, c, 1.005 * c, 2e5, c, 0.01) == pytest.approx(-0.005)
    got = tpf.near_tie_margin(np.array([2, 2, 1]), c, np.array([0.995 * c, 0.9 * c, c]), 2e5, 1e6, 0.01)
    assert got[0] == pytest.approx(0.005) and np.isnan(got[1:]).all()


def test_the_facility_binding_is_that_of_the_bound_pool_it_names():
    """:func:`dcsim.tpf.facility_bound_pool` names the pool whose code :func:`dcsim.tpf.facility_binding` returns:
    the bound pool short of the largest share of its own work."""
    codes = np.array([[1, 2], [0, 2], [0, 0], [2, 3]])
    short = np.array([[10.0, 5.0], [0.0, 1.0], [0.0, 0.0], [1.0, 1.0]])
    offered = np.array([[100.0, 10.0], [50.0, 80.0], [5.0, 5.0], [10.0, 100.0]])
    idx = tpf.facility_bound_pool(codes, short, offered)
    assert idx.tolist() == [1, 1, 0, 0]
    assert tpf.facility_binding(codes, short, offered).tolist() == [2, 2, 0, 2]


def test_cooling_binds_text_names_every_span_in_a_planners_words():
    """:func:`dcsim.tpf.cooling_binds_text`: one span reaching the top reads as it always did, "above X"; a span
    from the bottom "below X"; both in one sentence; none and the whole range say the range searched."""
    say = lambda spans: tpf.cooling_binds_text(spans, -30.0, 55.0)  # noqa: E731
    assert say([{"from_c": 39.93, "to_c": None}]) == "cooling binds above 39.9 °C"
    assert say([]) == "cooling binds nowhere in -30..55 °C"
    assert say([{"from_c": None, "to_c": 15.18}, {"from_c": 39.93, "to_c": None}]) == (
        "cooling binds below 15.2 °C and above 39.9 °C")
    assert say([{"from_c": 5.0, "to_c": 12.0}]) == "cooling binds between 5.0 and 12.0 °C"
    assert say([{"from_c": None, "to_c": None}]) == "cooling binds at every outdoor temperature searched (-30..55 °C)"


def test_tpf_finds_cooling_binding_in_the_cold_and_in_the_heat():
    """Below the plant's rating its capacity is flat while the power budget grows in the cold (PUE falls), so on
    reference with B200 nodes cooling binds in the cold, power in the mild, cooling in the heat. The search
    compared the two ends of -30..55 degC only, saw cooling at both and printed "cooling binds above (none in
    -30..55 degC)" on a screen whose peak moment (40.0 degC) read "binding: COOLING" (audit of 5c8e81e). Every
    change is found now; each lies where the closed form's binding does change, and the text names both."""
    import contextlib
    import io
    import re
    from pathlib import Path

    from dcsim.cli import main
    from dcsim.engine.build import build_models
    from dcsim.engine.steady import ceilings_at, crossovers, scenario_moments
    from dcsim.scenario import load_scenario

    ref = Path(__file__).resolve().parents[1] / "scenarios" / "reference.yaml"
    sets = ["racks[0].node.gpu=B200", "duration=2 h", "start=2026-07-15T13:00"]
    m = build_models(load_scenario(ref, sets))
    mom = scenario_moments(m)
    i = int(np.argmax(mom["demand_tok_s"]))
    d, tdb, twb = (float(mom[k][i]) for k in ("demand_tok_s", "t_db_c", "t_wb_c"))
    dep = tdb - twb
    name = lambda t: tpf.BINDING_NAMES[int(ceilings_at(m, d, t, t - dep)["binding"])]  # noqa: E731
    assert name(tdb) == "cooling" and name(-30.0) == "cooling" and name(25.0) == "power"
    x = crossovers(m, d, tdb, twb)
    (cold, heat) = x["cooling_binds_t_out_c"]
    assert cold["from_c"] is None and heat["to_c"] is None
    lo, hi = cold["to_c"], heat["from_c"]
    assert -30.0 < lo < hi <= tdb and x["t_out_c"] == hi
    for t, binds in ((lo - 0.05, True), (lo + 0.05, False), (hi - 0.05, False), (hi + 0.05, True)):
        assert (name(t) == "cooling") is binds, t

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["tpf", str(ref)] + [a for s in sets for a in ("--set", s)]) == 0
    text = " ".join(buf.getvalue().split())
    peak = text.split("[peak_demand:")[1].split("[hottest:")[0]
    assert "binding: COOLING" in peak
    got = re.search(r"cooling binds below (-?[\d.]+) °C and above (-?[\d.]+) °C", peak)
    assert got, peak
    assert float(got[1]) == pytest.approx(lo, abs=0.05) and float(got[2]) == pytest.approx(hi, abs=0.05)
    assert float(got[2]) <= 40.0


def test_tpf_with_one_cooling_crossover_prints_as_it_did():
    """Reference (cooling binds only in the heat) reads "cooling binds above 39.9 degC" at each moment, as before
    the search scanned the whole range (measured on 5c8e81e), and ``t_out_c`` is that crossover."""
    import contextlib
    import io
    from pathlib import Path

    from dcsim.cli import main

    ref = Path(__file__).resolve().parents[1] / "scenarios" / "reference.yaml"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["tpf", str(ref), "--json"]) == 0
    rep = json.loads(buf.getvalue())
    for m in rep["moments"].values():
        (span,) = m["crossover"]["cooling_binds_t_out_c"]
        assert span["to_c"] is None and span["from_c"] == m["crossover"]["t_out_c"]
        assert tpf.cooling_binds_text([span], *tpf.CROSSOVER_T_OUT_RANGE_C) == "cooling binds above 39.9 °C"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["tpf", str(ref)]) == 0
    text = " ".join(buf.getvalue().split())
    assert text.count("cooling binds above 39.9 °C") == 3 and "cooling binds below" not in text


def test_the_cooling_spans_bisect_each_change_to_well_under_the_printed_tenth():
    """_flip's 60 bisections of a 0.25-degC grid step took 60 ceilings_at calls per change for a boundary printed to
    0.1 degC (191 calls a moment): each change is bisected SPAN_BISECTIONS times, 2.4e-7 degC, and no more."""
    from dcsim.engine.steady import SPAN_BISECTIONS, _spans

    calls = []

    def pred(t):
        calls.append(t)
        return 15.2 > t or t > 39.9

    spans = _spans(lambda g: (g < 15.2) | (g > 39.9), pred, -30.0, 55.0, 0.25)
    assert [s["to_c"] for s in spans] == [pytest.approx(15.2, abs=1e-5), None]
    assert spans[1]["from_c"] == pytest.approx(39.9, abs=1e-5) and spans[0]["from_c"] is None
    assert len(calls) == 2 * (2 + SPAN_BISECTIONS) and SPAN_BISECTIONS <= 24


@pytest.mark.parametrize("name, value, error", [
    ("pue", float("nan"), ValueError),               # achieved NaN, binding "power", before 2026-12-05
    ("pue", True, TypeError),                        # read as 1
    ("pue", float("inf"), ValueError),
    ("delivered_power_w", -20e6, ValueError),        # a negative rate, binding "power"
    ("heat_rejection_w", None, TypeError),           # cooling NaN, binding "cooling"
    ("demand_tok_s", -5, ValueError),                # achieved -5 tok/s, binding "demand"
    ("demand_tok_s", [1e4, float("nan")], ValueError),
    ("effective_flops", float("nan"), ValueError),   # achieved NaN, binding "compute"
    ("theta", -1, ValueError),
    ("flop_per_token", "1.4e11", TypeError),         # no unit dimension: a number only
    ("delivered_power_w", "20 degC", ValueError),    # a unit of another dimension
])
def test_token_production_refuses_what_it_cannot_answer_naming_the_argument(name, value, error):
    """The input audit AUH, 2: NaN, None, booleans and negative inputs gave NaN or negative rates with a binding
    label (an argmin over NaN). Each is refused, naming the argument."""
    with pytest.raises(error, match=f"token_production: {name}"):
        tpf.token_production(**{**BASE, name: value})


def test_token_production_parses_a_quantity_string_in_its_dimension():
    """``delivered_power_w="40 kW"`` is 40,000 W (it raised a bare float-conversion error); +inf demand is unbounded
    demand: the answer is the lowest supply ceiling."""
    a = tpf.token_production(**BASE).as_dict()
    b = tpf.token_production(**{**BASE, "delivered_power_w": "40 kW", "heat_rejection_w": "0.04 MW",
                                "effective_flops": "10 PFLOP/s", "joule_per_token_it": "0.5 J"}).as_dict()
    assert a == b
    r = tpf.token_production(**{**BASE, "demand_tok_s": float("inf")})
    assert r.binding_name == "compute" and float(r.achieved_tok_s) == pytest.approx(5.0e4)


def _stacked(*x):
    """tpf._binding_of_stacked (argmin over the stacked ceilings: the definition) on broadcast float arrays."""
    return tpf._binding_of_stacked(*np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in x)))


def test_binding_of_equals_the_stacked_argmin_on_ties_infinities_and_nan():
    """The comparison chain gives the stacked argmin's label for every element: ties among ceilings (compute,
    power, cooling in that order), demand equal to the lowest ceiling, +-inf, -0.0 against 0.0, NaN demand (no
    bound: the lowest ceiling binds), broadcasting and 0-d inputs; a NaN ceiling (the stacked form's first-NaN rule,
    where the chain falls back to it) on small arrays of its own, so that the large ones stay on the chain."""
    rng = np.random.default_rng(11)
    vals = np.array([0.0, -0.0, 1.0, 2.0, 3.0, np.inf, -np.inf, np.nan])
    n = 200_000
    c, p, q = (rng.choice(vals[:7], n) for _ in range(3))  # every tie and infinity among ceilings, no NaN: the chain
    d = rng.choice(vals, n)  # NaN demand in 1 element of 8
    got = tpf.binding_of(d, c, p, q)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, _stacked(d, c, p, q))
    assert (got[np.isnan(d)] > 0).all() and set(np.unique(got)) == {0, 1, 2, 3}
    finite = [rng.choice(vals[:5], n) for _ in range(4)]  # ties only
    np.testing.assert_array_equal(tpf.binding_of(*finite), _stacked(*finite))
    for args in itertools.product(vals, repeat=4):  # NaN ceilings: 1-element arrays, the fallback, 4,096 cases
        got = tpf.binding_of(*(np.array([a]) for a in args))
        np.testing.assert_array_equal(got, _stacked(*args).reshape(1), err_msg=str(args))
    x = [rng.uniform(0.0, 1.0, (50, 1)), rng.uniform(0.0, 1.0, (1, 40)), 0.5, rng.uniform(0.0, 1.0, 40)]
    np.testing.assert_array_equal(tpf.binding_of(*x), _stacked(*x))  # broadcast
    for args in itertools.product([1.0, 2.0, np.inf, np.nan], repeat=4):  # 0-d: an np.int8 scalar
        got = tpf.binding_of(*args)
        assert isinstance(got, np.int8) and got == _stacked(*args), args


def test_a_near_tie_names_the_ceiling_between_it_and_compute():
    """reference's peak: Q 223,969 under P 224,256 under C 226,177 (tok/s). Cooling binds by a hair (0.98 % under C),
    but more cooling buys at most P - Q = 287 tok/s, then power holds the rest; the note said "at most that [2,208]
    ... compute holds the rest" (final read, 2026-12-05)."""
    from dcsim.engine.steady import _near_tie
    from dcsim.metrics.fmt import near_tie_text

    tie = _near_tie(3, 226_177.0, 224_256.0, 223_969.0, 449_000.0)
    assert tie["kind"] == "cooling" and tie["next"] == "power"
    assert tie["buy_tok_s"] == pytest.approx(287.0) and tie["gap_tok_s"] == pytest.approx(2_208.0)
    assert "power holds the rest" in near_tie_text(tie) and "287" in near_tie_text(tie)
    alone = _near_tie(3, 226_177.0, 240_000.0, 223_969.0, 449_000.0)  # P above C: compute is next, the whole gap
    assert alone["next"] == "compute" and alone["buy_tok_s"] == pytest.approx(2_208.0)
    assert "compute holds the rest" in near_tie_text(alone)


def test_the_public_closed_form_answers_the_binding_by_name():
    """walkthrough 2026-12-05: ``token_production(...).binding`` gave ``np.int8(1)``; it is the name (a str for scalar
    arguments, names for arrays), the int codes kept as ``binding_code``."""
    r = tpf.token_production(**{**BASE, "demand_tok_s": 1e12})
    assert isinstance(r.binding, str) and r.binding == r.binding_name == "compute"
    assert tpf.BINDING_NAMES[int(r.binding_code)] == r.binding
    arr = tpf.token_production(**{**BASE, "demand_tok_s": np.array([1.0, 1e12])})
    assert list(arr.binding) == ["demand", "compute"] and arr.binding_code.tolist() == [0, 1]
    assert r.as_dict()["binding"] == "compute"
