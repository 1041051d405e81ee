"""A capped clock holds the served rate down only where a higher clock would serve more.

DESIGN.md: a limit binds when the work asked for is not served at the rate asked *because of that limit*. On a tick
the budget capped below full clock the binding label reads power (or cooling), never compute
(``dcsim.tpf.binding_simulated(capped=)``), and a tick run critically loaded there holds work past the tick
(``critical=``). For a memory-bound pool whose full-load rate barely moves with the clock, the clock the budget set
costs nothing: mixed-fleet's reasoning pool, at 07:14-07:20 of the hot day, serves its whole demand (73.9-75.2 ktok/s,
nothing held, fluid) at clock 0.84-0.89, 98.2 % of its compute ceiling at *any* clock, with the shared budget able to
buy it more than its compute (P above C). Until 2026-12-05 those ticks read power; a higher clock serves at most 0.02 % more,
and the work its replicas hold waits on compute, as request fidelity's lane, run at full clock there, labels it.
``dcsim.serving.slo_estimate.clock_holds_rate`` decides it: the clock's full-load rate under ``RHO_MAX`` of full
clock's.
"""

from pathlib import Path

import numpy as np
import pytest

import dcsim
from dcsim.engine.build import build_models
from dcsim.scenario import load_scenario
from dcsim.serving.slo_estimate import RHO_MAX, clock_cost_tok_s, clock_holds_rate
from dcsim.tpf import binding_simulated

MIXED = Path(__file__).resolve().parents[1] / "scenarios" / "mixed-fleet.yaml"
D, C, P = 0, 1, 2


def test_the_rule():
    """Two capped ticks, each critically loaded (nothing held in the record) with P above C: a clock costing 0.01 %
    of the full-clock rate is not what holds the work (compute, the lowest ceiling), one costing 30 % is (power). A
    capped tick whose P is under C reads power either way (the argmin: more power would buy more)."""
    full = np.array([75_257.0, 52_000.0, 75_000.0])
    top = np.array([75_265.0, 75_265.0, 75_265.0])
    holds = clock_holds_rate(full, top)
    assert holds.tolist() == [False, True, False]
    assert not clock_holds_rate(RHO_MAX * 100.0, 100.0) and clock_holds_rate(RHO_MAX * 100.0 - 1e-6, 100.0)
    code = binding_simulated(held_tok=[0.0, 0.0, 0.0], shed_tok=[0.0] * 3, scale_tok=[4e6] * 3,
                             compute=top, power=[76_295.0, 76_295.0, 75_100.0], cooling=[1e9] * 3,
                             capped=np.ones(3, bool) & holds, critical=[True, True, True])
    assert code.tolist() == [C, P, P]


def _full_load(m, pool: int, clock):
    return clock_cost_tok_s([m.groups[g] for g in m.pools[pool].groups], m.clocks, clock)


def test_a_memory_bound_pool_meeting_its_demand_at_a_capped_clock_is_not_power_bound():
    """mixed-fleet from 06:00 (fluid): at 07:14-07:20 the reasoning pool is capped below full clock, serves all its
    work (nothing held or shed) at >= RHO_MAX of its full-load rate, which is within 0.02 % of that at full clock, and
    the budget could buy it all its compute (P >= C): compute, not power (the facility's label, the pool furthest
    short, with it). From 07:21 its work exceeds its compute ceiling and P falls under C: power, as before (by a hair).
    Every pool tick still read power below full clock with P >= C is one whose clock costs throughput."""
    # the split these ticks were measured under (until session 53); under the default (controller.shared_split:
    # useful_clock) the reasoning pool runs at clock 0.76 there and holds 1.1 k tokens at 07:20 (19 tok/s, 0.03 %)
    res = dcsim.run(MIXED, overrides={"start": "2026-07-15T06:00", "duration": "90 min", "expect": {},
                                      "serving.slo_estimate": False, "controller.shared_split": "tokens"})
    ts = res.timeseries
    m = build_models(res.scenario)
    minute = np.rint(ts["t_s"] / 60.0).astype(int)
    win = (minute >= 74) & (minute <= 80)  # 07:14-07:20
    clock = ts["pool1_controller_clock"]
    full, top = _full_load(m, 1, clock)
    # the case
    assert np.all(clock[win] < 0.9) and np.all(ts["pool1_mode"][win] == 1)
    assert np.all(ts["pool1_held_tokens"][win] == 0) and np.all(ts["pool1_shed_tokens"][win] == 0)
    np.testing.assert_allclose(ts["pool1_achieved_tok_s"][win], ts["pool1_demand_tok_s"][win], rtol=1e-9)
    assert np.all(ts["pool1_achieved_tok_s"][win] >= RHO_MAX * full[win])  # critically loaded
    assert np.all(full[win] >= 0.9998 * top[win])  # the clock costs under 0.02 % of the rate
    assert np.all(ts["pool1_power_tok_s"][win] >= ts["pool1_compute_tok_s"][win])
    # the label: compute (until 2026-12-05 power), for the pool and the facility
    assert np.all(ts["pool1_binding"][win] == C)
    assert np.all(ts["binding"][win] == C)
    after = (minute >= 81) & (minute <= 89)
    assert np.all(ts["pool1_binding"][after] == P) and np.all(ts["pool1_held_tokens"][after] > 0)
    assert np.all(ts["pool1_power_tok_s"][after] < ts["pool1_compute_tok_s"][after])
    # every pool tick still read power with P >= C is one whose work full clock would have served: the work served
    # and held (over the 1-min tick) under RHO_MAX of the replicas' full-load rate at full clock (measured
    # 2026-12-05: the chat pool's nine at clock 0.587-0.603, 66-68 % of it; none of the reasoning pool's)
    n_pw = []
    for p in (0, 1):
        _, t = _full_load(m, p, ts[f"pool{p}_controller_clock"])
        pw = (ts[f"pool{p}_binding"] == P) & (ts[f"pool{p}_power_tok_s"] >= ts[f"pool{p}_compute_tok_s"])
        work = ts[f"pool{p}_achieved_tok_s"] + ts[f"pool{p}_held_tokens"] / 60.0
        assert np.all(work[pw] < RHO_MAX * t[pw])
        n_pw.append(int(pw.sum()))
    assert n_pw == [9, 0]


def test_the_fidelities_agree_on_the_memory_bound_pool_at_its_ceiling():
    """The same window at request fidelity (06:00, 80 min): its reasoning pool, preempting and serving 4-6 % less,
    holds work at its door from 07:14 and runs its lane at full clock on most ticks (compute); on 07:17 the split ran
    it at clock 0.856, 37 k tokens held, which read power until 2026-12-05 though that clock costs it 0.02 % of its
    rate. Both fidelities read compute on each of 07:14-07:19 now (before: fluid power on all six, request compute on
    five)."""
    ov = {"start": "2026-07-15T06:00", "duration": "80 min", "expect": {}}
    req = dcsim.run(MIXED, overrides={**ov, "fidelity": "request"}).timeseries
    flu = dcsim.run(MIXED, overrides={**ov, "serving.slo_estimate": False}).timeseries
    minute = np.rint(req["t_s"] / 60.0).astype(int)
    win = (minute >= 74) & (minute <= 79)
    assert np.any(req["pool1_controller_clock"][win] < 0.9) and np.all(req["pool1_held_tokens"][win] > 0)
    assert np.all(req["pool1_binding"][win] == C)
    assert np.all(flu["pool1_binding"][win] == C)


def test_what_the_clock_costs_is_one_pair():
    """``clock_cost_tok_s``: the full-load rate at a clock and at full clock, for all of a pool's replicas (the top
    the same on every tick) or per tick's replicas (a ladder's awake ones): the reasoning pool of mixed-fleet, its
    rate at clock 0.844 within 0.02 % of full clock's (memory-bound), the chat pool's 13 % below it (measured
    2026-12-05); with half the replicas per tick, half of each."""
    m = build_models(load_scenario(MIXED))
    clock = np.array([0.844, 1.0])
    for pool, cost in ((1, 1.0002), (0, 1.1336)):
        groups = [m.groups[g] for g in m.pools[pool].groups]
        full, top = clock_cost_tok_s(groups, m.clocks, clock)
        assert top[0] == top[1] == full[1] > 0
        assert top[0] / full[0] == pytest.approx(cost, abs=5e-4)
        half = np.array([[g.limits.replicas / 2 for g in groups]] * 2)
        f2, t2 = clock_cost_tok_s(groups, m.clocks, clock, half)
        np.testing.assert_allclose([f2, t2], [full / 2, top / 2], rtol=1e-12)
        # read at a clock level (a request lane's effective level, no round trip through the clock): the same pair
        lv = np.interp(clock, m.clocks, np.arange(m.clocks.size))
        f3, t3 = clock_cost_tok_s(groups, m.clocks, None, level=lv)
        np.testing.assert_allclose([f3, t3], [full, top], rtol=1e-12)
        f4, t4 = clock_cost_tok_s(groups, m.clocks, None, half, level=lv)  # per tick's replicas at a level too
        np.testing.assert_allclose([f4, t4], [full / 2, top / 2], rtol=1e-12)
