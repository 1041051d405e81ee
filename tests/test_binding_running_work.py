"""Request fidelity's binding label counts the running work a capped clock holds back, not only the door's.

DESIGN.md: a limit binds when the work asked for is not served at the rate asked because of that limit. Where the
shared budget drops a pool's clock, its running sequences decode slower and its batches grow towards the larger ones
the slower clock needs: the requests are admitted at once, nothing waits at the door (``held_tok``), yet the pool
serves less than arrives and its work in the system grows. ``dcsim.serving.slo_estimate.slowed_running_tok`` counts that
growth (as far as the clock's slowdown explains it, past the scatter of a tick's arrivals); the label reads it as
held (``_Lane.label_held_tok``). Until 2026-12-05 such ticks read demand (audit AUS finding 2).
"""

from pathlib import Path

import numpy as np
import pytest

import dcsim
from dcsim.serving.slo_estimate import RHO_MAX, slowed_running_held_tok, slowed_running_tok
from dcsim.tpf import binding_simulated

MIXED = Path(__file__).resolve().parents[1] / "scenarios" / "mixed-fleet.yaml"


def _series(arrived, served, shed, slowdown):
    """The count after each tick of a synthetic pool (tokens), from an empty start."""
    out, h = [], 0.0
    for a, s, x, k in zip(arrived, served, shed, slowdown):
        h = slowed_running_tok(h, a, s, x, k)
        out.append(h)
    return np.array(out)


def test_the_rule_on_a_synthetic_pool():
    """A pool asked 9 M tokens a tick. Keeping up at a capped clock, its service scatters by 1 % about its arrivals:
    nothing held. Its clock then drops (the full-load rate at full clock 1.5x that at its clock): it serves 7.2, 8.1,
    8.55 M, its work in the system growing by 1.8, 0.9, 0.45 M: held, accumulated, less the allowance. Back at full
    clock it serves 10.5 M, then 10 M (draining 1.5 M, 1 M): the count drains, to nothing. A memory-bound pool whose tokens barely slow with the
    clock (slowdown 1e-4) grows the same way at its cold start and holds back ~nothing: its clock is not the cause."""
    a = 9.0e6
    keep = _series([a] * 4, [a * 1.01, a * 0.99, a * 1.005, a * 0.995], [0] * 4, [0.11] * 4)
    assert np.all(keep == 0.0)
    slow = [0.11, 0.5, 0.5, 0.5, 0.0, 0.0]
    drop = _series([a] * 6, [a, 7.2e6, 8.1e6, 8.55e6, 10.5e6, 10.0e6], [0] * 6, slow)
    # by hand, the allowance 2 % of 9 M = 0.18 M a tick: 1.8 - 0.18 = 1.62; + 0.9 - 0.18 = 2.34; + 0.45 - 0.18 = 2.61;
    # - 1.5 - 0.18 = 0.93 M; then 0.93 - 1.0 - 0.18 < 0: nothing
    exp1 = 1.62e6
    np.testing.assert_allclose(drop, [0.0, exp1, 2.34e6, 2.61e6, 0.93e6, 0.0], rtol=1e-9, atol=1e-3)
    # only as far as the clock's slowdown explains the growth: served x slowdown, 7.2 M x 0.05 = 0.36 M, less 0.18 M
    assert slowed_running_tok(0.0, a, 7.2e6, 0.0, 0.05) == pytest.approx(0.18e6, rel=1e-9)
    cold = _series([a] * 3, [2.0e6, 5.0e6, 7.0e6], [0] * 3, [1e-4] * 3)
    assert np.all(cold <= 1e-3 * a)
    # shed work is not in the system: a pool that shed what it did not serve holds nothing running
    assert slowed_running_tok(0.0, a, 7.2e6, 1.8e6, 0.5) == 0.0
    # the label reads the count past one tick's allowance (the CUSUM's decision threshold): a count of 0.3 % of a
    # tick's arrivals is scatter (mixed-fleet's chat pool at 21:25, serving its demand at clock 0.567)
    assert slowed_running_held_tok(0.003 * a, a) == 0.0
    assert slowed_running_held_tok(exp1, a) == exp1
    # the label: demand while the count is nothing; power on the capped ticks (below full clock) that hold work; the
    # backlog left when full clock returns drains at the compute ceiling (here the lowest), then demand
    held = np.concatenate([keep, drop])
    below = np.concatenate([np.ones(4, bool), np.array(slow) > 0])
    code = binding_simulated(held, np.zeros(10), np.full(10, a), 1.0, 2.0, 3.0, capped=below)
    assert [int(c) for c in code] == [0, 0, 0, 0, 0, 2, 2, 2, 1, 0]


def test_only_growth_beyond_the_replicas_capacity_counts():
    """The count reads the slowdown of the clock the replicas ran, a lane's trim included, which is larger than the
    controller's on a trimmed tick, and counts only the growth the spare capacity of those replicas at that clock
    (within RHO_MAX) leaves (``slowed_running_tok`` with ``capacity_tok``). A pool at 80 % of that capacity (the
    capped mixed hall of tests/test_power_down.py at 150 req/s) serves 95, 99 and 96 % of three ticks' arrivals (its scatter):
    with a slowdown of 0.2 the bare count (``slowed_running_tok``) keeps 4 % of a tick's arrivals, past the label's
    threshold (2 %); with the spare capacity (0.98 x 1.25 - 1 = 22.5 % of the arrivals) it holds nothing. At or
    above RHO_MAX of its capacity the growth counts as before (mixed-fleet's chat pool at 07:14-07:19), and just
    under it the count falls by the spare capacity, not to nothing (no edge at the margin)."""
    a, cap80, cap99 = 400e3, 400e3 / 0.8, 400e3 / 0.99
    bare, counted = 0.0, 0.0
    for s in (a * 0.95, a * 0.99, a * 0.96):
        bare = slowed_running_tok(bare, a, s, 0.0, 0.2)
        counted = slowed_running_tok(counted, a, s, 0.0, 0.2, cap80)
    assert slowed_running_held_tok(bare, a) == pytest.approx(0.04 * a)  # 5 + 1 + 4 % grown, less 3 x 2 %
    assert counted == 0.0
    # no spare capacity: the bare count; a little: the count less it
    bare1 = slowed_running_tok(0.0, a, 0.9 * a, 0.0, 0.2)
    assert bare1 == pytest.approx(0.08 * a)
    assert slowed_running_tok(0.0, a, 0.9 * a, 0.0, 0.2, cap99) == bare1
    assert slowed_running_tok(0.0, a, 0.9 * a, 0.0, 0.2, a / RHO_MAX) == pytest.approx(bare1)
    assert slowed_running_tok(0.0, a, 0.9 * a, 0.0, 0.2, 1.01 * a / RHO_MAX) == pytest.approx(
        bare1 - 0.01 * a)
    # at most the clock's slowdown: served x 0.05 = 18 k, less the allowance 8 k
    assert slowed_running_tok(0.0, a, 0.9 * a, 0.0, 0.05, cap99) == pytest.approx(0.045 * a - 0.02 * a)
    # spare capacity drains a count left from earlier ticks: 50 k + (40 k grown - 90 k spare) - 8 k
    assert slowed_running_tok(50e3, a, 0.9 * a, 0.0, 0.2, cap80) == 0.0
    assert slowed_running_tok(150e3, a, 0.9 * a, 0.0, 0.2, cap80) == pytest.approx(150e3 - 50e3 - 8e3)


def test_running_work_beyond_the_replicas_capacity_counts_whatever_the_clock():
    """``overrun_running_tok``: on a tick whose arrivals reach RHO_MAX of the replicas' full-load work, the growth of
    the work in the system counts (less the 2 % allowance), however little the clock slowed them; below it the spare
    capacity drains the count, so replicas filling from empty under their capacity count nothing."""
    from dcsim.tpf import overrun_running_tok
    a, cap = 10e6, 10e6  # arrivals at the replicas' full-load work: 100 % >= 98 %
    assert overrun_running_tok(0.0, a, 9e6, 0.0, cap, rho_max=RHO_MAX) == pytest.approx(1e6 - 0.2e6)
    assert overrun_running_tok(0.0, a, 9.9e6, 0.0, cap, rho_max=RHO_MAX) == 0.0  # growth within the allowance
    # a cold start: 8.5 M arriving at replicas of 10 M (85 %), only 3 M served while they fill: nothing counts
    assert overrun_running_tok(0.0, 8.5e6, 3e6, 0.0, cap, rho_max=RHO_MAX) == 0.0
    # spare capacity drains a count: 1.5 M held, then arrivals at 90 % of capacity (spare 0.8 M, allowance 0.18 M)
    assert overrun_running_tok(1.5e6, 9e6, 9e6, 0.0, cap, rho_max=RHO_MAX) == pytest.approx(1.5e6 - 0.8e6 - 0.18e6)
    # shed work is not held
    assert overrun_running_tok(0.0, a, 9e6, 1e6, cap, rho_max=RHO_MAX) == 0.0


def test_a_pool_whose_clock_the_budget_drops_is_power_bound_while_its_running_work_grows():
    """mixed-fleet at request fidelity from 06:00 (80 min): at 07:14 the shared budget moves to the reasoning pool and
    the chat pool's clock falls 0.864 -> 0.588. The chat pool serves 117-142 of 147-149 ktok/s and its work in the
    system grows 1.36 -> 3.94 M tokens (and 3.33 -> 4.12 M at 07:18-07:19), every request admitted at once: nothing
    waits at its door. Until 2026-12-05 those ticks read demand with held_tokens 0; now the running work the clock
    held back counts, and they read power. The 06:00-07:13 ticks before it, the pool keeping up at clock 0.86-0.87,
    stay demand where nothing waits at the door."""
    # the split that moved the budget (until session 53); the default (controller.shared_split: useful_clock) gives the
    # reasoning pool no clock the chat pool needs, and the chat pool stays at full clock (tests/test_shared_split.py)
    res = dcsim.run(MIXED, overrides={"fidelity": "request", "start": "2026-07-15T06:00", "duration": "80 min",
                                      "expect": {}, "controller.shared_split": "tokens"})
    ts = res.timeseries
    minute = np.rint(ts["t_s"] / 60.0).astype(int)  # minutes since 06:00
    slowed = np.isin(minute, [74, 75, 76, 78, 79])  # 07:14-07:16, 07:18-07:19
    clock = ts["pool0_controller_clock"]
    assert np.all(clock[slowed] < 0.6)  # the case: the budget dropped its clock
    assert np.all(ts["pool0_achieved_tok_s"][slowed] < 0.97 * ts["pool0_demand_tok_s"][slowed])
    assert np.all(ts["pool0_binding"][slowed] == 2)
    assert np.all(ts["pool0_held_tokens"][slowed] > 0.05 * ts["pool0_arrived_tokens"][slowed])
    # the reasoning pool (KV-bound: it admits every request and preempts, nothing waits at its door) at 06:55-06:57,
    # 06:59 and 07:12: more arrives than its replicas serve at full load (06:55, 06:59, 07:12: 77.7, 76.4, 73.8
    # ktok/s against 75.3; 06:56-06:57 the count left drains by the spare capacity), and its work in the system grows
    # 0.16-0.64 M tokens on the tick. Until 2026-12-05 (later) those ticks read demand with
    # held_tokens 0 (tests/binding_check.py); the running work held past the tick beyond the replicas' capacity
    # (dcsim.tpf.overrun_running_tok) now counts, and they read compute (the clock costs that pool under 2 %)
    over = np.isin(minute, [55, 56, 57, 59, 72])
    assert np.all(ts["pool1_arrived_tokens"][over] - 60.0 * ts["pool1_achieved_tok_s"][over]
                  > 0.03 * ts["pool1_arrived_tokens"][over])
    assert np.all(ts["pool1_binding"][over] == 1) and np.all(ts["pool1_held_tokens"][over] > 1e5)
    # the window's facility shares (80 ticks; measured 2026-12-05): demand 61, compute 12 (the reasoning pool's held
    # ticks at a clock costing it under 2 %, 06:55-06:57, 06:59, 07:01-07:13 and 07:17), power 7 (the chat pool's
    # five above, and 06:03, 06:05 while its replicas fill); 66 / 7 / 7 before the overrun count
    fac = [int(np.sum(ts["binding"] == c)) for c in (0, 1, 2, 3)]
    assert fac == [61, 12, 7, 0]
    before = (minute >= 4) & (minute < 74)  # after its replicas filled
    door_empty = before & (ts["pool0_shed_tokens"] == 0)
    assert np.mean(ts["pool0_binding"][door_empty] == 0) >= 0.9


def test_a_light_load_window_stays_demand_and_the_fidelities_agree():
    """mixed-fleet at 02:00-03:00: both pools well below what their capped clocks serve. The running-work count stays
    at nothing after the replicas fill; request fidelity labels the chat pool demand as fluid does on at least 95 %
    of the ticks, and the two fidelities agree on each pool's label there (tolerance: 5 % of the ticks, the request
    pool's door holding a request past a tick by chance)."""
    ov = {"start": "2026-07-15T02:00", "duration": "1 h", "expect": {}}
    req = dcsim.run(MIXED, overrides={**ov, "fidelity": "request"}).timeseries
    flu = dcsim.run(MIXED, overrides={**ov, "fidelity": "fluid", "serving.slo_estimate": False}).timeseries
    warm = req["t_s"] >= 240.0  # after the replicas' first fill (the reasoning pool's long answers)
    assert np.mean(req["pool0_binding"][warm] == 0) >= 0.95
    for p in (0, 1):
        agree = req[f"pool{p}_binding"][warm] == flu[f"pool{p}_binding"][warm]
        assert np.mean(agree) >= 0.95
