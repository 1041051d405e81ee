"""The binding constraint is what held the *served* rate down (from the simulated state), not the
argmin of the inputs: a backlog draining after a curtailment is supply-bound, not demand-bound."""

import numpy as np
import pytest

import dcsim
from conftest import small_scenario
from dcsim.engine.build import build_models
from dcsim.engine.run import run_models
from dcsim.scenario import load_scenario
from dcsim.tpf import BINDING_NAMES, binding_simulated, facility_binding

D, C, P, Q = (BINDING_NAMES.index(n) for n in ("demand", "compute", "power", "cooling"))
# demand ≈ 0.7 of the compute ceiling of the small hall: demand-bound when nothing goes wrong
BASE = {"workload.arrivals.rate": "300 req/s", "duration": "3 h", "controller.tick": "1 min"}


def _window(ts, dt, a, b):
    tm = ts["t_s"] + dt / 2
    return (tm >= a) & (tm < b)


def test_binding_simulated_by_hand():
    code = binding_simulated(held_tok=[0.0, 5.0, 0.0, 1e-12, 3.0], shed_tok=[0, 0, 2.0, 0, 0],
                             scale_tok=[100.0] * 5, compute=[10, 10, 10, 10, 30],
                             power=[20, 5, 20, 1, 20], cooling=[30, 30, 3, 30, 10])
    assert code.tolist() == [D, P, Q, D, Q]
    assert binding_simulated([1.0], [0.0], [1.0], [9.0], [1.0], [1.0], supply_only=C).tolist() == [C]



def test_facility_binding_of_several_pools_by_hand():
    """The bound pool short of the largest share of its own work names the facility's binding, whatever the count of
    tokens: a pool 10 % short of 1 M tokens (compute) against one 50 % short of 40 k (power) reads power."""
    b = np.array([[C, P], [C, P], [D, P], [D, D], [C, P], [P, C]])
    short = np.array([[1e5, 2e4], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1e5, 2e4], [5.0, 5.0]])
    offered = np.array([[1e6, 4e4], [1e6, 4e4], [1e6, 4e4], [1e6, 4e4], [1e5, 1e5], [10.0, 10.0]])
    np.testing.assert_array_equal(facility_binding(b, short, offered), [P, C, P, D, C, P])

def test_capped_below_full_clock_is_never_compute():
    """Where the controller ran the supply below its full clock because the budget capped it, the work held back
    waited on power or cooling (the lower of the two, ties power), even where their ceilings reach compute's;
    not capped, or nothing held, as before."""
    code = binding_simulated(held_tok=[5.0, 5.0, 5.0, 0.0, 5.0], shed_tok=[0] * 5, scale_tok=[100.0] * 5,
                             compute=[10, 10, 10, 10, 10], power=[10, 20, 20, 20, 20], cooling=[30, 15, 20, 30, 30],
                             capped=[True, True, True, True, False])
    assert code.tolist() == [P, Q, P, D, C]
    assert binding_simulated([5.0], [0.0], [1.0], [9.0], [1.0], [1.0], supply_only=C, capped=[True]).tolist() == [C]


def test_critically_loaded_holds_work_the_record_does_not_count():
    """A tick the controller ran at exactly its throughput at a capped clock (critically loaded: request fidelity's
    replicas hold work past the tick, fluid's SLO estimate makes it wait in that regulated queue) is not demand-bound
    even with nothing held in the record: the lower of P and Q at the operating point, as for held work."""
    code = binding_simulated(held_tok=[0.0, 0.0, 0.0, 5.0], shed_tok=[0] * 4, scale_tok=[100.0] * 4,
                             compute=[10, 10, 10, 10], power=[10, 20, 20, 20], cooling=[30, 15, 30, 30],
                             capped=[True, True, False, True], critical=[True, True, False, False])
    assert code.tolist() == [P, Q, D, P]
    from dcsim.serving.slo_estimate import RHO_MAX, critically_loaded
    assert critically_loaded([True, True, False, True], [RHO_MAX * 100, 97.0, 100.0, 0.0],
                             [100.0, 100.0, 100.0, 0.0]).tolist() == [True, False, False, False]


@pytest.mark.parametrize("fidelity", ["fluid", "hybrid"])
def test_backlog_after_a_curtailment_is_supply_bound(fidelity):
    over = dict(BASE, fidelity=fidelity, faults=[{"kind": "curtailment", "start": "60 min", "duration": "30 min",
                                                  "fraction": "45%"}])
    if fidelity == "hybrid":
        over.update({"duration": "2 h", "hybrid_sample": 4})
    res = dcsim.run(small_scenario(**over))
    ts, dt = res.timeseries, res.report["tick_s"]
    win = _window(ts, dt, 3600, 5400)
    assert np.mean(ts["binding"][win] == P) > 0.9
    after = (ts["t_s"] >= 5400) & (ts["held_tokens"] > 1e-6 * ts["arrived_tokens"])
    assert np.count_nonzero(after) >= 3  # the backlog takes a while to drain
    # draining at a supply ceiling: not demand, though the inputs alone say demand
    assert np.all(ts["binding"][after] != D)
    assert np.all(ts["binding_potential"][after] == D)
    assert res.report["binding"]["share"]["demand"] < res.report["binding_potential"]["share"]["demand"]
    before = ts["t_s"] + dt <= 3600
    assert np.mean(ts["binding"][before] == D) > 0.9


def test_cooling_failure_makes_cooling_bind():
    over = dict(BASE, faults=[{"kind": "cooling_failure", "start": "60 min", "duration": "30 min",
                               "capacity_loss": "75%"}])
    res = dcsim.run(small_scenario(**over))
    ts, dt = res.timeseries, res.report["tick_s"]
    win = _window(ts, dt, 3600, 5400)
    assert np.all(ts["binding"][win] == Q)
    assert res.report["binding"]["share"]["cooling"] == pytest.approx(np.mean(ts["binding"] == Q))


def test_node_failure_window_makes_compute_bind():
    m = build_models(load_scenario(small_scenario(**BASE)))
    res = run_models(m, availability=lambda t: np.where((t >= 3600) & (t < 5400), 0.5, 1.0))
    ts, dt = res.timeseries, res.report["tick_s"]
    win = _window(ts, dt, 3600, 5400)
    assert np.all(ts["binding"][win[:]][2:] == C)  # after the first ticks, half the replicas cannot keep up
    assert np.all(ts["gpus_in_service"][win] == pytest.approx(0.5 * m.gpus))
    assert np.any((ts["t_s"] >= 5400) & (ts["binding"] == C))  # the backlog drains at full compute


def test_request_fidelity_binding_follows_the_door_queue():
    over = {"fidelity": "request", "duration": "20 min", "controller.tick": "10 s", "racks.0.count": 1,
            "workload.arrivals.rate": "400 req/s"}  # ~2× what one rack can serve
    res = dcsim.run(small_scenario(**over))
    ts = res.timeseries
    late = ts["t_s"] >= 300
    assert np.all(ts["held_tokens"][late] > 0) and np.all(ts["binding"][late] == C)
    light = dcsim.run(small_scenario(**dict(over, **{"workload.arrivals.rate": "20 req/s"})))
    assert light.report["binding"]["share"]["demand"] > 0.95


def test_binding_split_after_a_curtailment_follows_the_load():
    """The defect of issue 12: the split stayed identical at 300 and 400 req/s. The backlog left by a
    curtailment drains at full compute, longer the busier the hall: more compute-bound time."""
    curt = [{"kind": "curtailment", "start": "60 min", "duration": "30 min", "fraction": 0.5}]
    shares = {}
    for rate in (300, 400):
        r = dcsim.run(small_scenario(**dict(BASE, faults=curt, **{"workload.arrivals.rate": f"{rate} req/s"})))
        shares[rate] = (r.report["binding"]["share"], r.report["binding_potential"]["share"])
    assert shares[300][1] == shares[400][1]  # the inputs alone cannot tell the two apart
    assert shares[400][0]["compute"] > shares[300][0]["compute"] > 0
    assert shares[400][0]["demand"] < shares[300][0]["demand"]


@pytest.mark.parametrize("limit, kind", [({"power": {"power_limit": "30 kW"}}, "power"),
                                          ({"cooling": {"kind": "rear_door", "limit": "22 kW"}}, "cooling")])
def test_rack_limits_that_hold_the_fleet_under_compute_bind(limit, kind):
    """Racks whose own PDU (derated) or cooling limit is below their full-load draw hold the fleet under its
    compute ceiling whatever the interconnect and plant: the binding names power / cooling, the ceiling sits at
    what the limited racks serve, Φ_sys stays 1 and a note names the rack groups. (The ceiling used to be
    extrapolated past the rack limit at the full-load J/token, so compute was named and the shortfall showed
    as Φ_sys ≈ 0.7.)"""
    import copy

    from dcsim.engine.steady import ceilings_at

    d = small_scenario(**{"facility.interconnect": "2 MW", "facility.cooling.capacity": "2 MW",
                          "workload.arrivals.rate": "800 req/s", "duration": "20 min", "controller.tick": "1 min"})
    d["racks"][0].update(copy.deepcopy(limit))
    m = build_models(load_scenario(d))
    which, other = ("p", "q") if kind == "power" else ("q", "p")
    assert m.curves.rack_limited(which) and not m.curves.rack_limited(other)
    res = run_models(m)
    ts, rep = res.timeseries, res.report
    ceiling = ts[f"{kind}_tok_s"]
    assert np.all(ceiling < 0.9 * ts["compute_tok_s"])
    assert np.all(ts["binding"] == BINDING_NAMES.index(kind))
    assert rep["binding"]["share"][kind] == pytest.approx(1.0)
    # served at the rack-limited ceiling: nothing left unexplained (Φ_sys 1)
    assert rep["utilization_adjusted_output"]["phi_sys"] == pytest.approx(1.0, abs=1e-6)
    assert ts["achieved_tok_s"][1:] == pytest.approx(ceiling[1:], rel=1e-6)
    # the closed form agrees and says the same
    c = ceilings_at(m, 1e9, 25.0, 15.0)
    assert int(c["binding"]) == BINDING_NAMES.index(kind)
    assert float(c[f"{kind}_tok_s"]) == pytest.approx(float(m.curves.frontier(which).rate[-1]), rel=1e-9)
    (note,) = [n for n in rep["notes"] if "binds at the racks" in n]
    assert note.startswith(f"{kind} binds at the racks: racks[0] (r)")
    if kind == "power":  # no interconnect frees it: the crossover is where the racks take over from the contract
        from dcsim.engine.steady import crossovers

        x = crossovers(m, 1e9, 25.0, 15.0)
        assert x["racks_hold_power"] and x["interconnect_w"] < 0.5 * m.facility.interconnect_w


def test_rack_limits_below_full_load_but_not_binding_keep_the_headroom_visible():
    """Without a binding rack limit the true ceilings still extrapolate past C (headroom stays visible)."""
    m = build_models(load_scenario(small_scenario(**{"facility.interconnect": "2 MW",
                                                     "facility.cooling.capacity": "2 MW"})))
    assert not m.curves.rack_limited("p") and not m.curves.rack_limited("q")
    from dcsim.engine.steady import ceilings_at
    c = ceilings_at(m, 1e9, 25.0, 15.0)
    assert float(c["power_tok_s"]) > 2 * float(c["compute_tok_s"])
    from dcsim.engine.steady import crossovers
    assert not crossovers(m, 1e9, 25.0, 15.0)["racks_hold_power"]


def test_a_tie_in_binding_time_is_named_as_a_tie():
    """Compute and cooling binding on as many ticks (128 of 360 in a 6-h reference run) was reported as
    "compute 35.6 % of the time (the most of any)": the first in dict order. The phrase, the report and compare
    name both."""
    from dcsim.metrics.summary import binding_summary
    from dcsim.report.summary import binding_headline

    sh = {"demand": 0.0, "compute": 128 / 360, "power": 104 / 360, "cooling": 128 / 360}
    assert binding_headline(sh).first == "compute and cooling 35.6% of the time each (tied)"
    assert binding_headline(dict(sh, compute=129 / 360)).first == "compute 35.8% of the time (the most of any)"
    n = 360
    b = np.array([1] * 128 + [2] * 104 + [3] * 128)
    ts = {"binding": b, "compute_tok_s": np.ones(n), "power_tok_s": np.ones(n), "cooling_tok_s": np.ones(n),
          "achieved_tok_s": np.ones(n), "t_s": np.arange(n) * 60.0, "demand_tok_s": np.ones(n),
          "t_out_c": np.ones(n), "pue": np.ones(n), "gpus_in_service": np.ones(n)}
    s = binding_summary(ts, 60.0)
    assert s["most_common_tied"] == ["compute", "cooling"]


@pytest.mark.parametrize("load, expect", [(1.05, "compute"), (0.97, "demand")])
def test_request_fidelity_names_an_overload_on_long_ticks(load, expect):
    """Audit D (2026-12-04): the work held after a tick counted only queued requests that arrived before the tick
    began, so a 1.05x overload on 1-min ticks read "demand" on every tick at request fidelity (fluid: compute). A
    request waiting at least HELD_AFTER_S at the tick's end now counts; just below the ceiling nothing does."""
    sc = small_scenario(**{"racks": [{"name": "g", "count": 2, "nodes_per_rack": 2,
                                      "node": {"gpu": "H100-SXM", "model": "llama-3.1-8b", "tensor_parallel": 1,
                                               "max_batch": 256}}],
                           "facility.interconnect": "2 MW", "facility.cooling.capacity": "2 MW",
                           "controller.tick": "1 min", "duration": "6 min"})
    m = build_models(load_scenario(sc))
    rate = load * m.curves.compute_tok_s / m.workload.mean_output
    for fid in ("fluid", "request"):
        ts = dcsim.run({**sc, "fidelity": fid, "workload": {**sc["workload"], "arrivals": {
            "kind": "poisson", "rate": f"{rate} req/s"}}}).timeseries
        late = ts["t_s"] >= 120  # after the replicas have filled
        assert {BINDING_NAMES[b] for b in ts["binding"][late]} == {expect}, (fid, ts["binding"])
