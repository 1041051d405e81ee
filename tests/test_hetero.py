"""Heterogeneous fleets: model pools (racks[].serves) sharing one interconnect and one plant.

Checked: the joint efficient frontier splits a budget optimally and within each pool's work; a
one-pool scenario is the single-pool engine exactly; pools conserve tokens and energy; a pool
under an ample shared budget behaves exactly as its hall alone; fluid and request fidelity agree
per pool in steady state; class routing is validated with errors naming the field.
"""

import copy
import itertools

import numpy as np
import pytest

import dcsim
from dcsim.engine.build import build_models
from dcsim.engine.requests import CONTRACT_SCATTER_BAND
from dcsim.engine.steady import ceilings_at
from dcsim.plots.figures import SIGNATURE_STRIP_H
from dcsim.scenario import ScenarioError, load_scenario

from conftest import small_scenario

SUMM = {"name": "summarize", "preset": "summarization", "share": 0.5}
CHAT = {"name": "chat", "preset": "chat", "share": 0.5}


def two_pools(**over) -> dict:
    """An H100 70B hall serving chat beside an H100 8B hall summarizing (constant weather, Poisson)."""
    sc = small_scenario(**{"workload.classes": [CHAT, SUMM], "duration": "1 h", "controller.tick": "30 s",
                           "facility.interconnect": "2 MW", "facility.cooling.capacity": "3 MW"})
    big = sc["racks"][0]
    big.update(count=2, serves=["chat"])
    small = copy.deepcopy(big)
    small.update(name="s", count=1, nodes_per_rack=1, serves=["summarize"],
                 node={"gpu": "H100-SXM", "model": "llama-3.1-8b", "tensor_parallel": 1, "max_batch": 128})
    sc["racks"] = [big, small]
    for k, v in over.items():
        cur = sc
        keys = k.split(".")
        for kk in keys[:-1]:
            cur = cur[int(kk)] if isinstance(cur, list) else cur[kk]
        cur[keys[-1] if not isinstance(cur, list) else int(keys[-1])] = v
    return sc


# --------------------------------------------------------------------------- the joint frontier

@pytest.fixture(scope="module")
def joint():
    return build_models(load_scenario(two_pools())).joint("pq")


def test_split_respects_budget_and_needs_and_matches_scalar(joint):
    rng = np.random.default_rng(3)
    f0, f1 = joint.frontiers
    need = np.stack([rng.uniform(0, f0.rate[-1] * 1.2, 200), rng.uniform(0, f1.rate[-1] * 1.2, 200)], axis=1)
    budget = rng.uniform(joint.base_it_w() * 0.5, (f0.it[-1] + f1.it[-1]) * 1.1, 200)
    alloc = joint.split(need, budget)
    assert np.all(alloc <= need + 1e-9) and np.all(alloc >= 0)
    used = joint.it_w(0, alloc[:, 0]) + joint.it_w(1, alloc[:, 1])
    # a pool's IT at its allocation fits the budget (idle pools still draw their idle power)
    assert np.all(used <= np.maximum(budget, joint.base_it_w()) * (1 + 1e-9))
    for i in range(0, 200, 17):
        assert joint.split_one(need[i].tolist(), float(budget[i])) == pytest.approx(alloc[i].tolist(), rel=1e-12,
                                                                                     abs=1e-9)


def test_a_share_in_service_scales_the_it_power_above_the_rack_overhead(joint):
    """A fraction a of a pool's replicas in service draws a·(IT − overhead) + overhead: the rack overhead stays. The
    one home of the scaling (tables.in_service_it_w), which the frontier's budget at a rate limit reads, and its
    inverse, the budget per share (whole_pool_it_w)."""
    from dcsim.engine.tables import in_service_it_w, whole_pool_it_w
    f, ovh = joint.frontiers[0], joint.ovh_w[0]
    rate = np.linspace(0.0, float(f.rate[-1]), 7)
    for a in (1.0, 0.5, 0.125):
        whole = np.interp(rate, f.rate, f.it)  # every replica in service at the per-replica point of rate / a
        part = f.it_w(a * rate, ovh, a)
        assert np.allclose(in_service_it_w(whole, a, ovh), part)
        assert np.allclose(whole_pool_it_w(part, a, ovh), whole)  # the round trip
    # the 70B pool (16 H100 replicas in 2 racks of 500 W overhead): 68.78 kW at its top rate with every replica in
    # service; half of them serving half that rate draw half the replicas' 67.78 kW and both racks' 1 kW
    assert ovh == 1000.0 and float(f.it[-1]) == pytest.approx(68.78e3, rel=1e-4)
    assert float(f.it_w(0.5 * f.rate[-1], ovh, 0.5)) == pytest.approx(34.89e3, rel=1e-4)
    assert in_service_it_w(1.0e4, 0.0, 250.0) == 250.0  # nothing in service: the racks' overhead alone


def test_split_is_the_best_allocation(joint):
    """Greedy by marginal tokens per W on concave frontiers is optimal: no split of the budget
    on a fine grid serves more (brute force)."""
    f0, f1 = joint.frontiers
    for frac_b, need in itertools.product((0.55, 0.7, 0.85), ((f0.rate[-1], f1.rate[-1]), (f0.rate[-1] * 0.3, 1e12))):
        b = joint.base_it_w() + frac_b * (f0.it[-1] + f1.it[-1] - joint.base_it_w())
        best = float(joint.split([list(need)], [b]).sum())
        x0 = np.linspace(f0.it[0], min(f0.it[-1], b - f1.it[0]), 4001)  # IT of pool 0; the rest to pool 1
        r0 = np.minimum(np.interp(x0, f0.it, f0.rate), need[0])
        r1 = np.minimum(np.interp(b - x0, f1.it, f1.rate, right=f1.rate[-1]), need[1])
        assert best >= float(np.max(r0 + r1)) * (1 - 1e-9)
        assert best <= float(np.max(r0 + r1)) * (1 + 2e-3)  # the grid gets within its resolution


def test_more_budget_never_serves_less(joint):
    f0, f1 = joint.frontiers
    b = np.linspace(0, (f0.it[-1] + f1.it[-1]) * 1.2, 300)
    need = np.tile([f0.rate[-1] * 0.8, f1.rate[-1] * 0.9], (b.size, 1))
    tot = joint.split(need, b).sum(axis=1)
    assert np.all(np.diff(tot) >= -1e-9)
    assert tot[-1] == pytest.approx(need[0].sum())


# --------------------------------------------------------------------------- one pool = as before

def test_one_pool_is_the_single_pool_engine():
    """Naming every class for the only group (one pool) gives exactly the report without serves."""
    a = dcsim.run(small_scenario(duration="30 min"))
    b = dcsim.run(small_scenario(duration="30 min", **{"racks.0.serves": ["chat"]}))
    ra, rb = dict(a.report), dict(b.report)
    for r in (ra, rb):
        r.pop("provenance")
    assert ra == rb
    for k in a.timeseries:
        np.testing.assert_array_equal(a.timeseries[k], b.timeseries[k])
    assert len(a.report["pools"]) == 1 and a.report["pools"][0]["classes"] == ["chat"]


# --------------------------------------------------------------------------- conservation

@pytest.fixture(scope="module")
def capped():
    """Two pools under a tight interconnect in fluid fidelity (the budget is split every tick)."""
    return dcsim.run(two_pools(**{"facility.interconnect": "55 kW", "workload.arrivals.rate": "200 req/s",
                                  "racks.1.nodes_per_rack": 2}))


def test_pools_conserve_tokens_and_energy(capped):
    rep, ts = capped.report, capped.timeseries
    pools = rep["pools"]
    assert len(pools) == 2
    for p in pools:
        a = p["tokens_accounting"]
        assert a["arrived"] == pytest.approx(a["served"] + a["waiting"] + a["shed"], rel=1e-9)
    for key in ("arrived", "served", "waiting", "shed"):
        assert sum(p["tokens_accounting"][key] for p in pools) == pytest.approx(rep["tokens_accounting"][key], rel=1e-9)
    for key in ("it", "gpu", "facility"):
        assert sum(p["energy_j"][key] for p in pools) == pytest.approx(rep["energy_j"][key], rel=1e-9)
    np.testing.assert_allclose(ts["pool0_it_power_w"] + ts["pool1_it_power_w"], ts["it_power_w"], rtol=1e-12)
    np.testing.assert_allclose(ts["pool0_achieved_tok_s"] + ts["pool1_achieved_tok_s"], ts["achieved_tok_s"], rtol=1e-12)
    assert rep["tokens"]["input"] == pytest.approx(sum(p["tokens"]["input"] for p in pools), rel=1e-12)


def test_the_shared_budget_binds_one_pool_and_is_used(capped):
    rep, ts = capped.report, capped.timeseries
    shares = [p["binding"]["share"] for p in rep["pools"]]
    assert max(s["power"] for s in shares) > 0.5  # the interconnect holds work back
    # capped ticks run at the interconnect: facility power at the cap (the split spends the budget)
    capped_ticks = ts["mode"] == 1
    assert capped_ticks.mean() > 0.5
    np.testing.assert_allclose(ts["facility_power_w"][capped_ticks], ts["interconnect_w"][capped_ticks], rtol=2e-3)
    # the binding of the facility is one of its pools' on every tick
    assert np.all((ts["binding"] == ts["pool0_binding"]) | (ts["binding"] == ts["pool1_binding"]))


def test_the_signature_figure_draws_each_pools_binding_under_the_facilitys(capped):
    """With several pools the facility's C is the sum over the pools and its band one pool's binding: the lower
    panel draws each pool's binding as its own strip (a pool bound by another constraint than the band's is seen),
    and the legend says what each line is (until 2026-12-05 neither: mixed-fleet's band read compute at 21:00-22:05
    under an achieved line running on P). P is not the sum of the pools' own P (each counts the spare budget as its
    own: mixed-fleet at 07:00, 313 k against 279 k + 78 k): the budget's split for the pools' work plus the spare at
    the fleet's full-load tokens per W, and the legend says so (it read "P  power ceiling (Σ pools)" until
    2026-12-05)."""
    from dcsim.plots import CONSTRAINT_COLORS
    from dcsim.plots.figures import binding_runs, signature_plot
    from dcsim.tpf import BINDING_NAMES
    from matplotlib.colors import to_rgb

    ts = capped.timeseries
    fig = signature_plot(capped)
    ax, ax2 = fig.axes[0], fig.axes[-1]
    runs = [binding_runs(ts[k]) for k in ("binding", "pool0_binding", "pool1_binding")]
    assert len(ax2.patches) == sum(len(r) for r in runs)
    pool_patches = ax2.patches[len(runs[0]):]
    want = [CONSTRAINT_COLORS[BINDING_NAMES[c]] for r in runs[1:] for _, _, c in r]
    assert [to_rgb(p.get_facecolor()[:3]) for p in pool_patches] == [to_rgb(c) for c in want]
    texts = [t.get_text() for t in ax2.texts]
    assert all(f"pool {p['name']}" in texts for p in capped.report["pools"])
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert "C  compute ceiling (Σ pools)" in labels
    np.testing.assert_allclose(ts["compute_tok_s"], ts["pool0_compute_tok_s"] + ts["pool1_compute_tok_s"], rtol=1e-12)
    p_label = [lb for lb in labels if lb.startswith("P  power ceiling")]
    assert p_label == ["P  power ceiling (shared budget:\nthe pools' work + spare at fleet tok/W)"], p_label
    assert not any("Σ" in lb for lb in labels if lb.startswith(("P ", "Q ")))
    # what the line is: the joint frontier's split of the IT budget for the pools' work, the spare at the fleet's
    # full-load tokens per W; on a capped tick with spare, not the pools' own P summed
    m = build_models(capped.scenario)
    need = np.stack([ts["pool0_waiting_tok_s"], ts["pool1_waiting_tok_s"]], axis=1)
    np.testing.assert_allclose(m.joint("p").facility_ceiling(need, ts["it_max_power_w"]), ts["power_tok_s"], rtol=1e-9)


@pytest.fixture(scope="module")
def mixed_spare():
    """mixed-fleet for 10 min from 00:00 and from 07:00: capped ticks (mode 1) with IT budget to spare beyond the
    pools' waiting work."""
    from pathlib import Path

    sc = Path(__file__).resolve().parents[1] / "scenarios" / "mixed-fleet.yaml"
    return [dcsim.run(load_scenario(sc, overrides={"start": st, "duration": "10 min"}))
            for st in ("2026-07-15T00:00", "2026-07-15T07:00")]


def test_pools_own_p_counts_the_spare_budget_once_per_pool(mixed_spare):
    """On the run's capped ticks with budget to spare each pool's own P counts the spare as its own, so their sum is
    no rate the facility runs: above the facility's P (mixed-fleet measured 1.47x at 00:00, 1.14x at 07:00). Until
    2026-12-05 this was checked on made-up inputs (a twentieth of a tick's work)."""
    for res, lo in zip(mixed_spare, (1.4, 1.1)):
        ts = res.timeseries
        m = build_models(res.scenario)
        need = np.stack([ts["pool0_waiting_tok_s"], ts["pool1_waiting_tok_s"]], axis=1)
        spare = ts["power_tok_s"] - m.joint("p").split(need, ts["it_max_power_w"]).sum(axis=1)
        ticks = (ts["mode"] == 1) & (spare > 0.01 * ts["power_tok_s"])
        assert ticks.all()
        own = ts["pool0_power_tok_s"] + ts["pool1_power_tok_s"]
        assert np.all(own[ticks] > lo * ts["power_tok_s"][ticks]), own / ts["power_tok_s"]


def test_p_band_weights_each_pools_part_of_the_facility_p(mixed_spare):
    """The signature figure's P band with several pools: Σ_p band_p x part_p, the pool's part of the facility's P
    (JointFrontier.facility_parts, timeseries pool<i>_power_part_tok_s), where the parts sum to the P line. Until
    2026-12-05 it weighted each pool's own P, which counts the spare budget once per pool (mixed-fleet at 07:00, 313 k
    against 279 k + 78 k): here the reasoning pool's part, 96 k (its work plus its share of the spare), against its
    own P, 78 k, so the band's half-width reads 44 k tok/s where the pools' own P gave 36 k."""
    from dcsim.metrics.fmt import pool_band_fracs
    from dcsim.plots.figures import CEILING_BAND_KEY, ceiling_band_halfwidth, out_of_sample_bands, signature_plot

    res = mixed_spare[1]
    ts, rep = res.timeseries, res.report
    m = build_models(res.scenario)
    need = np.stack([ts["pool0_waiting_tok_s"], ts["pool1_waiting_tok_s"]], axis=1)
    parts = m.joint("p").facility_parts(need, ts["it_max_power_w"])
    np.testing.assert_allclose(parts, np.stack([ts["pool0_power_part_tok_s"], ts["pool1_power_part_tok_s"]], axis=1),
                               rtol=1e-12)
    np.testing.assert_allclose(parts.sum(axis=1), ts["power_tok_s"], rtol=1e-12)
    oos = out_of_sample_bands(rep)
    fracs = pool_band_fracs(rep, oos, CEILING_BAND_KEY["power"])
    assert fracs[0] == 0 and fracs[1] > 0.4  # the reasoning pool's ≥±46 % J/token, the chat pool in-sample
    half = ceiling_band_halfwidth(rep, ts, "power", oos)
    np.testing.assert_allclose(half, fracs[1] * ts["pool1_power_part_tok_s"], rtol=1e-12)
    assert np.all(half > 1.1 * fracs[1] * ts["pool1_power_tok_s"])  # not the pool's own P
    band = [c for c in signature_plot(res).axes[0].collections if c.get_gid() == "error-band-power"]
    top = band[0].get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(float(np.max(ts["power_tok_s"] + half)))


def test_input_tokens_follow_each_pools_mix(capped):
    """Fluid input tokens: each pool's served output × its own classes' input per output token."""
    m = build_models(capped.scenario)
    for p, pr in zip(m.pools, capped.report["pools"]):
        assert pr["tokens"]["input"] == pytest.approx(pr["tokens"]["output"] * p.mean_input / p.mean_output, rel=1e-12)
    # each pool its own input per output token, not the fleet mixture's ratio
    assert m.pools[0].mean_input / m.pools[0].mean_output != pytest.approx(m.workload.mean_input / m.workload.mean_output,
                                                                           rel=0.05)


# --------------------------------------------------------------------------- pools vs halls alone

def test_a_pool_under_ample_budget_is_its_hall_alone():
    """With the interconnect and plant far from binding, each pool serves, draws and bills exactly
    as its hall would alone serving only its class (same demand); the closed form agrees."""
    mixed = dcsim.run(two_pools(**{"workload.arrivals.rate": "40 req/s"}))
    for p, (cls, idx) in enumerate(((CHAT, 0), (SUMM, 1))):
        alone = two_pools(**{"workload.arrivals.rate": "20 req/s"})
        alone["racks"] = [alone["racks"][idx]]
        alone["racks"][0]["serves"] = None
        alone["workload"]["classes"] = [dict(cls, share=1.0)]
        solo = dcsim.run(alone)
        pm = mixed.report["pools"][p]
        assert pm["binding"]["share"]["demand"] == 1.0
        assert pm["tokens"]["output"] == pytest.approx(solo.report["tokens"]["output"], rel=1e-9)
        assert pm["energy_j"]["it"] == pytest.approx(solo.report["energy_j"]["it"], rel=1e-9)
        assert pm["energy_j"]["gpu"] == pytest.approx(solo.report["energy_j"]["gpu"], rel=1e-9)
        assert pm["flop_per_output_token"] == pytest.approx(solo.report["tpf"]["flop_per_output_token"], rel=1e-12)
    m = build_models(mixed.scenario)
    ts = mixed.timeseries
    cf = ceilings_at(m, ts["demand_tok_s"][-1], ts["t_out_c"][-1], ts["t_wb_c"][-1])
    assert cf["binding"] == 0
    np.testing.assert_allclose(cf["pools"]["achieved_tok_s"], [ts["pool0_achieved_tok_s"][-1],
                                                                ts["pool1_achieved_tok_s"][-1]], rtol=1e-9)


def test_a_pool_under_a_board_power_cap_reports_its_throttled_clock_as_its_hall_alone():
    """A pool whose GPUs are capped (node.power_cap) runs at the clock the cap allows: its mean clock is the
    effective one, as its hall alone reports (it read the controller's 1.0 until 2026-12-04, against 0.548
    alone), and its controller clock stays in pool<i>_controller_clock."""
    over = {"workload.arrivals.rate": "40 req/s", "racks.0.node.power_cap": "400 W"}
    mixed = dcsim.run(two_pools(**over))
    alone = two_pools(**{**over, "workload.arrivals.rate": "20 req/s"})
    alone["racks"] = [alone["racks"][0]]
    alone["racks"][0]["serves"] = None
    alone["workload"]["classes"] = [dict(CHAT, share=1.0)]
    solo = dcsim.run(alone)
    pm = mixed.report["pools"][0]
    assert pm["mean_clock"] < 0.95
    assert pm["mean_clock"] == pytest.approx(solo.report["controller"]["mean_clock"], rel=1e-9)
    assert np.all(mixed.timeseries["pool0_controller_clock"] == 1.0)
    assert mixed.report["pools"][1]["mean_clock"] == pytest.approx(1.0)


def test_closed_form_matches_the_simulation_per_pool_when_power_binds(capped):
    """Steady state under a binding interconnect: the closed form's per-pool split of the budget
    is what the simulation serves once the queues are full."""
    m = build_models(capped.scenario)
    ts = capped.timeseries
    i = ts["t_s"].size - 1
    cf = ceilings_at(m, ts["demand_tok_s"][i], ts["t_out_c"][i], ts["t_wb_c"][i])
    got = [ts["pool0_achieved_tok_s"][i], ts["pool1_achieved_tok_s"][i]]
    np.testing.assert_allclose(cf["pools"]["achieved_tok_s"], got, rtol=0.02)


# --------------------------------------------------------------------------- fluid vs request per pool

@pytest.mark.parametrize("over", [{}, {"facility.interconnect": "26 kW"}], ids=["ample", "power-bound"])
def test_fluid_and_request_agree_per_pool(over):
    """Served tokens/s per pool agree; so do GPU and IT power where no pool is capped. Power-bound, pool 0 runs at
    the lowest clock, where its frontier loads about 1.7 of its 8 replicas fully and idles the rest: request
    fidelity consolidates its requests on whole replicas (docs/engine.md "At the lowest clock"), keeping the
    contract (before: pool 0 drew 24 % over its share, the facility 11 % over 26 kW on every tick, its tokens
    within 0.2 %), and serves 5 % fewer tokens than the fractional mix (8 % before its whole replicas could run above
    the lowest clock, 2026-12-04; 15 % with the profiles before the median-ITL fit), and says so (a warning naming
    the pool); pool 1 agrees within 5 %."""
    base = {"workload.arrivals.rate": "40 req/s", "duration": "20 min", "controller.tick": "10 s",
            "racks.0.count": 1, **over}
    flu = dcsim.run(two_pools(**base))
    req = dcsim.run(two_pools(**base, fidelity="request"))
    late_f = flu.timeseries["t_s"] >= 600
    late_r = req.timeseries["t_s"] >= 600
    cols = (("achieved_tok_s", 0.05), ("gpu_power_w", 0.05), ("it_power_w", 0.04)) if not over else (
        ("achieved_tok_s", 0.05),)
    assert flu.report["pools"][0]["binding"]["share"]["power" if over else "demand"] == 1.0
    for p in range(2):
        for col, tol in cols:
            f = float(np.mean(flu.timeseries[f"pool{p}_{col}"][late_f]))
            r = float(np.mean(req.timeseries[f"pool{p}_{col}"][late_r]))
            if over and p == 0:  # consolidated on whole replicas at the lowest clock: fewer tokens, never more
                assert 0.8 * f < r <= f, (p, col)
            else:
                assert r == pytest.approx(f, rel=tol, abs=1e-6), (p, col)
    if over:  # the shared contract holds (measured 2026-12-04: 70 s over, at most +0.71 %; before the loaded replicas
        #       could run above the lowest clock, +0.8 % on the first tick and 20 s in all; before the consolidation:
        #       +12 %, every tick; consolidating without the whole-replica rule: +2.5 % on 150 s of 1,200). Session 55:
        #       pool r's whole replicas run above the lowest clock on a trim of their own, and on the ticks the 8B pool
        #       took its budget back that trim drew past pool r's fallen budget (5 of 120 ticks, at most +0.686 % at
        #       00:12:20); the lanes' prediction now steps such a trim down before the tick (RequestEngine._predict_over):
        #       none over, at most -0.03 % (pool r 3.472 M tokens against 3.590 M, -3.3 %)
        frac = [w for w in req.report["warnings"] if w.startswith("pool r:") and "of its 8 replicas" in w]
        assert len(frac) == 1
        ts = req.timeseries
        assert np.max(ts["facility_power_w"] / ts["interconnect_w"]) <= 1.0 + CONTRACT_SCATTER_BAND
        assert req.report["interconnect_max_excess_fraction"] <= CONTRACT_SCATTER_BAND
        assert np.mean(ts["facility_power_w"][late_r]) <= np.mean(ts["interconnect_w"][late_r])
    # request fidelity counts the served requests' own input tokens
    assert req.report["tokens"]["input"] == pytest.approx(sum(p["tokens"]["input"] for p in req.report["pools"]))
    assert req.report["requests"]["arrived"] == (req.report["requests"]["completed"] + req.report["requests"]["in_flight"]
                                                 + req.report["requests"]["shed"])


@pytest.mark.parametrize("fidelity", ["request", "hybrid"])
def test_request_lanes_draw_their_pools_share_of_a_capped_budget(fidelity):
    """34 kW caps both pools (at full clock they would draw more) while the frontier serves both pools' demand
    for less: the joint split's rate limits cost 11.4 + 5.9 kW on the pools' frontiers, and the budget left over is
    shared (``PoolTicker._share_budget``): the fluid pools draw 16.2 and 6.7 kW at clocks 0.47 and 0.74. Each
    request lane (and a hybrid pool's fluid remainder) aims at that same budget: measured 2026-12-04, request
    -1.1 % and -0.8 % against fluid (until then it aimed at the frontier's IT at the limit: -20.9 % and -10.3 %, the
    pools' replicas trimmed to another power split; hybrid -23.9 % and -11.3 % -> -0.7 % and -0.2 %), the facility
    at most +0.42 % over its contract (70 s of 1,200; hybrid +0.35 %, 90 s) and under it on average."""
    base = {"workload.arrivals.rate": "40 req/s", "duration": "20 min", "controller.tick": "10 s",
            "racks.0.count": 1, "facility.interconnect": "34 kW"}
    extra = {"fidelity": fidelity} if fidelity == "request" else {"fidelity": fidelity, "hybrid_sample": 4}
    flu = dcsim.run(two_pools(**base))
    req = dcsim.run(two_pools(**base, **extra))
    f, r = flu.timeseries, req.timeseries
    late = f["t_s"] >= 300  # the replicas' batches filled
    joint = build_models(load_scenario(two_pools(**base))).joint("pq")
    for p in range(2):
        assert np.all(f[f"pool{p}_mode"] == 1) and np.all(r[f"pool{p}_mode"] == 1), p  # both pools capped
        assert flu.report["pools"][p]["binding"]["share"]["demand"] == 1.0  # and their demand served
        fl = float(np.mean(f[f"pool{p}_it_power_w"][late]))
        # the premise: the pool's budget lies well above its frontier's IT power at its rate limit
        assert fl > 1.1 * float(np.mean(joint.it_w(p, f[f"pool{p}_limit_tok_s"][late]))), p
        rq = float(np.mean(r[f"pool{p}_it_power_w"][late]))
        assert rq == pytest.approx(fl, rel=0.03), (p, rq, fl)
        assert np.mean(r[f"pool{p}_achieved_tok_s"][late]) == pytest.approx(np.mean(f[f"pool{p}_achieved_tok_s"][late]),
                                                                            rel=0.03)
    ratio = r["facility_power_w"] / r["interconnect_w"]
    assert ratio.max() < 1.01 and ratio[late].mean() <= 1.0
    # the report says it (session 54): report.json interconnect_max_excess_fraction is the largest excess over the cap,
    # and the warning (repeated in the run's summary) tells the lanes' documented per-tick scatter from more than it.
    # Measured on this hall: request 7 ticks over, at most +0.50 %; hybrid 10, +0.30 % (docs/engine.md, "The contract
    # at either fidelity": the demand-bound lanes' ratchet, not fixed)
    exc = float(ratio.max() - 1.0)
    assert flu.report["interconnect_max_excess_fraction"] == 0.0
    assert req.report["interconnect_max_excess_fraction"] == pytest.approx(max(exc, 0.0), abs=1e-12)
    from dcsim.engine.requests import CONTRACT_SCATTER_BAND
    said = [w for w in req.report["warnings"] if w.startswith("the facility drew more than its interconnect")]
    assert len(said) == int(exc > 1e-9)
    if exc > CONTRACT_SCATTER_BAND:
        assert "more than the request lanes' documented per-tick scatter" in said[0]
        # no pool loads a fraction of a replica at the lowest clock here (both above it): no known cause is named
        assert not any(w.startswith("pool ") and "fraction of a replica" in w for w in req.report["warnings"])
        assert "the known cause" not in said[0]


def test_each_lane_aims_at_the_budget_it_is_given_even_at_the_top_clock():
    """RequestEngine.tick_pools hands each lane its pool's IT budget (PoolTicker.budgets): a capped lane's target is
    that budget at its sample share — at the top clock too (until 2026-12-04 a pool of several ran untrimmed there:
    mixed-fleet's reasoning pool at full clock drew 0.5 % over its budget, the facility 0.1 % over its contract on
    most ticks of 21:00-22:00) — and a pool whose budget is inf (its limit does not bind) is not capped."""
    from dcsim.engine.requests import RequestEngine
    m = build_models(load_scenario(two_pools(**{"fidelity": "request", "racks.0.count": 1})))
    eng = RequestEngine(m)
    top = float(m.clocks[-1])
    lim = [0.5 * p.curves.compute_tok_s for p in m.pools]
    for t0, clock in ((0.0, top), (10.0, float(m.clocks[m.clocks.size // 2]))):
        eng.tick_pools(t0, 10.0, lim, [clock, top], budgets=[12_345.0, float("inf")])
        meas, target = eng.lanes[0].capped_draw()
        assert target == pytest.approx(12_345.0 * eng.lanes[0].frac) and meas > 0
        assert eng.lanes[1].capped_draw() is None


def test_a_pool_run_critically_loaded_at_a_capped_clock_is_power_bound_at_fluid_fidelity():
    """DESIGN.md's binding rule, one for both fidelities: mixed-fleet's chat pool at 07:30-09:30 is given its whole
    need by the split of the shared budget, at the clock whose full-load rate is that need. Its replicas run critically
    loaded: request fidelity counts the work they hold past each tick (power on 117 of the 120 ticks, measured
    2026-12-05), and fluid's SLO estimate makes its requests wait in that regulated queue (TTFT p50 0.75 s). Fluid's
    record serves the tick's work in full and held nothing, so until 2026-12-05 it read demand on all 120 ticks; now
    the critically loaded ticks read power there too."""
    from pathlib import Path
    sc = Path(__file__).resolve().parents[1] / "scenarios" / "mixed-fleet.yaml"
    # the split these figures were measured under (until session 53), which runs the pool critically loaded here; the default
    # (controller.shared_split: useful_clock) gives the chat pool its full clock instead (docs/slo.md)
    res = dcsim.run(sc, overrides={"start": "2026-07-15T07:30", "duration": "2 h", "expect": {},
                                   "serving.slo_estimate": False, "controller.shared_split": "tokens"})
    ts = res.timeseries
    m = build_models(res.scenario)
    clock = ts["pool0_controller_clock"]
    below = (ts["pool0_mode"] == 1) & (clock < m.clocks[-1] * (1 - 1e-9))
    lv = np.interp(clock, m.clocks, np.arange(m.clocks.size))  # full-load rate of its replicas at that clock
    full = sum(m.groups[g].limits.replicas * np.interp(lv, np.arange(m.clocks.size), m.groups[g].table.thr_max)
               for g in m.pools[0].groups)
    crit = below & (ts["pool0_achieved_tok_s"] >= 0.98 * full)  # offered what they serve at full load (RHO_MAX)
    assert np.all(ts["pool0_held_tokens"] == 0) and np.all(ts["pool0_shed_tokens"] == 0)  # the record holds nothing
    assert crit.sum() >= 100
    assert np.all(ts["pool0_binding"][crit] == 2)
    assert res.report["pools"][0]["binding"]["share"]["power"] >= 0.85  # request fidelity: 117 / 120


@pytest.mark.parametrize("split", ["tokens", "useful_clock"])
@pytest.mark.parametrize("start,duration", [("2026-07-15T09:00", "90 min"), ("2026-07-15T07:30", "2 h")])
def test_several_pools_keep_the_shared_contract_at_request_fidelity(start, duration, split):
    """mixed-fleet with power binding the shared 700 kW. 09:00-10:30: each pool's replicas run the fractional clock
    of its frontier at its rate limit, as a mix of the two levels around it; rounded to the nearest level (until
    2026-12-03) the chat pool, with nothing waiting and so never trimmed, ran up to one level above its share and
    the facility drew more than its contract for 1,260 s of 90 min, up to 708.8 kW (+1.3 %). 07:30-09:30: the
    reasoning pool's replicas (long outputs, preempting) drew more than its share at its clock while the chat pool
    kept to its own; a pool's trim may now go below its clock when the pools together and it alone are over their
    targets: 3,780 s over (+0.34 %) before, 180 s (+0.02 %) after, the pools' tokens within 0.1 %. The contract and
    the chat pool's tokens hold under both splits (``controller.shared_split``; the default, ``useful_clock``, since
    session 53); the SLO estimate's bands below were measured under ``tokens``."""
    from pathlib import Path
    sc = Path(__file__).resolve().parents[1] / "scenarios" / "mixed-fleet.yaml"
    # the split these figures were measured under (until session 53), which runs the pool critically loaded here; the default
    # (controller.shared_split: useful_clock) gives the chat pool its full clock instead (docs/slo.md)
    ov = {"duration": duration, "start": start, "expect": {}, "controller.shared_split": split}
    req = dcsim.run(sc, overrides={**ov, "fidelity": "request"})
    flu = dcsim.run(sc, overrides=ov).report
    rep, ts = req.report, req.timeseries
    assert flu["pools"][1]["binding"]["share"]["power"] >= 0.75 and rep["pools"][1]["binding"]["share"]["power"] >= 0.75
    assert rep["interconnect_exceeded_s"] <= 300.0
    assert np.max(ts["facility_power_w"]) <= 1.001 * float(np.max(ts["interconnect_w"]))
    chat_r, chat_f = (r["pools"][0]["throughput_tok_s"]["output"] for r in (rep, flu))
    assert chat_r == pytest.approx(chat_f, rel=0.02)
    if split != "tokens":
        return
    # the fluid SLO estimate takes each pool's clock at its own limit, as its request lane runs (it read the pools'
    # P ceilings until 2026-12-04: chat 0.986 fluid vs 0.222 request at 09:00, 1.000 vs 0.030 at 07:30; then
    # 0.044 / 0.222 and 0.007 / 0.030). Since request fidelity counts the work its replicas hold (HELD_AFTER_S) the
    # controller opens the chat pool's door on it: request 0.457 at 09:00 and 0.101 at 07:30, fluid unchanged — a
    # known gap of the estimate for pools capped on a shared budget (band 0.45 then), said with the run. Since the estimate
    # runs a capped frontier tick's loaded replicas at full load (2026-12-04, audit L #2) it reads the chat pool's
    # 0.670 at 09:00 (above request fidelity's 0.457) and 0.136 at 07:30 (0.101): the controller gives the chat pool
    # its whole need at the clock whose full-load rate is that need, so its replicas are critically loaded and queue,
    # and the estimate gave them no wait. Since they wait in the queue the controller regulates
    # (slo_estimate.critical_wait_s, 2026-12-04): 0.477 / 0.457 at 09:00 and 0.092 / 0.101 at 07:30, TTFT p50 0.747 /
    # 0.710 s and 0.747 / 0.662 s (0.136 and 0.158 s before); TTFT p99 1.71 / 2.29 s and 1.84 / 2.48 s (-25 %, -26 %).
    # Bands: chat 0.06, three times the larger miss measured (0.020), which the old estimate's 0.21 fails; TTFT p50
    # within issue 13's 25 % (measured +5 %, +13 %; -81 % before). Reasoning: 0.000 / 0.024 and 0.008 / 0.104 (the
    # estimate unchanged there), band 0.15
    for c, band in (("chat", 0.06), ("reasoning", 0.15)):
        f, r = (x["serving"]["per_class"][c]["slo_attainment"] for x in (flu, rep))
        assert abs(f - r) <= band, (c, f, r)
    f, r = (x["serving"]["per_class"]["chat"]["latency_s"]["ttft"]["p50"] for x in (flu, rep))
    assert f == pytest.approx(r, rel=0.25)
    assert any(w.startswith("SLO estimate: several model pools capped on a shared budget") for w in flu["warnings"])


def test_hybrid_agrees_with_fluid_per_pool():
    """Hybrid fidelity samples replicas in every pool (each fed its own classes at its sample's
    share of the pool's compute) and runs the rest fluid: per pool it serves what the fluid does."""
    base = {"workload.arrivals.rate": "40 req/s", "duration": "20 min", "controller.tick": "10 s"}
    hyb = dcsim.run(two_pools(**base, fidelity="hybrid", hybrid_sample=4))
    flu = dcsim.run(two_pools(**base))
    share = hyb.report["serving"]["hybrid"]["compute_share"]
    assert set(share) == {"r", "s"} and all(0 < v < 1 for v in share.values())
    late_h, late_f = hyb.timeseries["t_s"] >= 600, flu.timeseries["t_s"] >= 600
    for p in range(2):
        for col in ("achieved_tok_s", "it_power_w"):
            h = float(np.mean(hyb.timeseries[f"pool{p}_{col}"][late_h]))
            f = float(np.mean(flu.timeseries[f"pool{p}_{col}"][late_f]))
            assert h == pytest.approx(f, rel=0.05), (p, col)


def test_replica_failures_fall_on_their_own_pool():
    """Failures limited to the chat hall lower the chat pool's compute and GPUs, never the other's."""
    fault = {"kind": "node_failures", "mtbf": "3 h", "repair": "30 min", "group": "r"}
    for fid, dur, mtbf in (("fluid", "2 h", "3 h"), ("request", "20 min", "20 min")):
        res = dcsim.run(two_pools(**{"workload.arrivals.rate": "40 req/s", "duration": dur, "fidelity": fid,
                                     "faults": [dict(fault, mtbf=mtbf)]}))
        ts = res.timeseries
        m = build_models(res.scenario)
        c0, c1 = (p.curves.compute_tok_s for p in m.pools)
        assert ts["pool0_compute_tok_s"].min() < c0 * (1 - 1e-9)  # some chat replicas were down
        np.testing.assert_allclose(ts["pool1_compute_tok_s"], c1, rtol=1e-12)
        down0 = 1.0 - ts["pool0_compute_tok_s"] / c0
        np.testing.assert_allclose(ts["gpus_in_service"], m.gpus - down0 * m.pools[0].gpus, rtol=1e-9)


# --------------------------------------------------------------------------- validation

@pytest.mark.parametrize("racks_over, field, words", [
    ({"racks.1.serves": None}, "racks[1].serves", "every group must"),
    ({"racks.1.serves": ["summaries"]}, "racks[1].serves", "unknown class 'summaries'"),
    ({"racks.1.serves": ["chat"]}, "racks", "no rack group serves class 'summarize'"),
    ({"racks.1.serves": ["summarize", "chat"]}, "racks[1].serves", "also served by racks[0]"),
])
def test_class_routing_errors_name_the_field(racks_over, field, words):
    with pytest.raises(ScenarioError) as e:
        load_scenario(two_pools(**racks_over))
    assert field in str(e.value) and words in str(e.value)


def test_uniform_policy_needs_one_pool():
    with pytest.raises(ScenarioError, match="controller.policy"):
        load_scenario(two_pools(**{"controller.policy": "uniform"}))


@pytest.mark.parametrize("fidelity", ["fluid", "request"])
def test_a_rack_limited_pool_is_served_on_its_frontier_beside_a_free_one(fidelity):
    """Pool 0's racks (30 kW PDUs, 24 kW derated, under their full-load draw) hold it under its compute
    ceiling while the interconnect has room for all. It serves at its rack-limited frontier top (a lower clock),
    as one pool does and as the closed form says; the free pool serves its demand; Φ_sys is 1, because pool 1's
    spare replicas cannot serve pool 0's model. Before (2026-12-04) the multi-pool controller ran an uncapped
    tick at full clock, where those racks pass almost nothing: mixed-fleet with 30 kW chat racks and a 2 MW
    contract served 80 ktok/s of a 235 ktok/s ceiling (Φ_sys 26.5 %); with that fixed, Φ_sys still read 77.9 %,
    counting pool 1's idle replicas as offered to pool 0's queue."""
    sc = two_pools(**{"workload.arrivals.rate": "400 req/s", "duration": "20 min", "controller.tick": "10 s",
                      "fidelity": fidelity, "workload.classes": [dict(CHAT, share=0.95), dict(SUMM, share=0.05)]})
    sc["racks"][0]["power"] = {"power_limit": "30 kW"}
    res = dcsim.run(sc)
    m = build_models(res.scenario)
    assert m.pools[0].curves.rack_limited("pq") and not m.pools[1].curves.rack_limited("pq")
    ts, rep = res.timeseries, res.report
    late = ts["t_s"] >= 600
    top0 = float(m.pools[0].curves.frontier("pq").rate[-1])
    assert top0 < 0.9 * m.pools[0].curves.compute_tok_s
    cf = ceilings_at(m, ts["demand_tok_s"][-1], ts["t_out_c"][-1], ts["t_wb_c"][-1])
    assert cf["pools"]["achieved_tok_s"][0] == pytest.approx(top0, rel=1e-9)
    assert int(cf["pools"]["binding"][0]) == 2  # power, at the racks
    served0 = ts["pool0_achieved_tok_s"][late]
    assert rep["pools"][0]["binding"]["share"]["power"] == pytest.approx(1.0, abs=0.05)
    assert rep["pools"][1]["binding"]["share"]["demand"] >= 0.95
    # the free pool is not slowed for a budget nobody can use: uncapped at full clock, its own mode
    assert np.all(ts["pool0_mode"] == 1) and np.all(ts["pool1_mode"] == 0)
    assert rep["pools"][1]["mean_clock"] == pytest.approx(1.0)
    if fidelity == "fluid":
        np.testing.assert_allclose(served0, top0, rtol=1e-6)
        np.testing.assert_allclose(ts["pool1_achieved_tok_s"][late], ts["pool1_demand_tok_s"][late], rtol=1e-6)
        assert rep["utilization_adjusted_output"]["phi_sys"] == pytest.approx(1.0, abs=1e-6)
        assert rep["utilization_adjusted_output"]["ceiling_tok_s"] < 0.9 * float(np.mean(ts["compute_tok_s"]))
    else:  # whole requests on whole replicas at the frontier's clock: close to the fluid top, never above
        assert 0.85 * top0 < float(np.mean(served0)) <= 1.01 * top0
        assert rep["rack_limit_exceeded_s"] <= 0.1 * float(ts["t_s"][-1])


def test_an_uncapped_pools_fluid_remainder_runs_at_its_own_mode_at_hybrid_fidelity():
    """Both pools rack-limited (30 kW and 10 kW PDUs): the chat pool's work is beyond its racks' full-clock rate, so
    it is capped on its frontier (the facility's mode is 1 on every tick); the 8B pool's demand is under its racks'
    full-clock rate, so it runs uncapped at full clock (its mode 0). At hybrid fidelity each lane's fluid remainder
    draws power at its own pool's mode. Until 2026-12-04 every lane was given the facility's mode: the 8B pool's
    remainder ran capped at the frontier's IT power at its rate limit — below even load at full clock, where rack
    limits lift its frontier above its full-clock rate — and the pool drew 10.1 kW against fluid's 15.5 kW (-35 %);
    now 15.4 kW (-0.8 %), its tokens unchanged (-0.8 %, the sample's)."""
    sc = two_pools(**{"workload.arrivals.rate": "400 req/s", "duration": "20 min", "controller.tick": "10 s",
                      "hybrid_sample": 4, "workload.classes": [dict(CHAT, share=0.95), dict(SUMM, share=0.05)]})
    sc["racks"][0]["power"] = {"power_limit": "30 kW"}
    sc["racks"][1].update(count=2, power={"power_limit": "10 kW"})
    hyb, flu = dcsim.run({**sc, "fidelity": "hybrid"}), dcsim.run(sc)
    m = build_models(hyb.scenario)
    assert all(p.curves.rack_limited("pq") for p in m.pools)
    th, tf = hyb.timeseries, flu.timeseries
    assert np.all(th["mode"] == 1) and np.all(th["pool0_mode"] == 1) and np.all(th["pool1_mode"] == 0)
    late = th["t_s"] >= 600
    for col, rel in (("it_power_w", 0.03), ("achieved_tok_s", 0.03)):
        h, f = (float(np.mean(t[f"pool1_{col}"][late])) for t in (th, tf))
        assert h == pytest.approx(f, rel=rel), col


def test_the_crossovers_of_several_pools_are_flips_of_a_pool_not_of_the_facility_label():
    """With several pools a crossover is where a constraint starts or stops binding *any* pool: the facility's label
    names one pool's constraint (the pool furthest short for its own work), and its flips, where another pool becomes
    the furthest short, are no crossover (mixed-fleet at peak read "compute stops binding from 448 GPUs" where the chat pool stayed
    compute-bound at 447 and 449, until 2026-12-04)."""
    from pathlib import Path

    from dcsim.engine.steady import crossovers, scenario_moments

    sc = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "mixed-fleet.yaml")
    m = build_models(sc)
    mom = scenario_moments(m)
    i = int(np.argmax(mom["demand_tok_s"]))
    d, tdb, twb = (float(mom[k][i]) for k in ("demand_tok_s", "t_db_c", "t_wb_c"))
    x = crossovers(m, d, tdb, twb)
    a = x["gpus"] / m.gpus
    for f, compute_somewhere in ((1 - 1e-3, True), (1 + 1e-3, False)):
        codes = ceilings_at(m, d, tdb, twb, gpu_scale=a * f)["pools"]["binding"]
        assert bool(np.any(np.asarray(codes) == 1)) is compute_somewhere
    cap = x["interconnect_w"]
    from dcsim.engine.build import with_interconnect
    for f, power_somewhere in ((1 - 1e-3, True), (1 + 1e-3, False)):
        codes = ceilings_at(with_interconnect(m, cap * f), d, tdb, twb)["pools"]["binding"]
        assert bool(np.any(np.asarray(codes) == 2)) is power_somewhere


def test_hybrid_run_wide_latency_is_the_pools_true_request_mix():
    """mixed-fleet at hybrid fidelity samples 10 % of the chat pool's compute and 16.7 % of the reasoning pool's: the
    run-wide attainment and percentiles weight each pool's sampled requests by 1 / its share, the mix request
    fidelity measures, and the report says so (``serving.hybrid.run_wide_weighting``). Before 2026-12-04 the sample's
    own mix: 09:00-10:00 run-wide TTFT p99 283 s against request fidelity's 2.88 s (reasoning 2.5 % of the sample's
    requests, 1.5 % of the run's); now 6.9 s (the chat lane's own p99 5.7 s against 2.3 s is a separate gap)."""
    from pathlib import Path
    sc = Path(__file__).resolve().parents[1] / "scenarios" / "mixed-fleet.yaml"
    rep = dcsim.run(sc, overrides={"start": "2026-07-15T09:00", "duration": "20 min", "fidelity": "hybrid"}).report
    hyb = rep["serving"]["hybrid"]
    share = hyb["compute_share"]
    assert len(set(share.values())) == 2 and "true request shares" in hyb["run_wide_weighting"]
    pools = {p["name"]: p for p in rep["pools"]}
    w_att = n = 0.0
    for name, pc in rep["serving"]["per_class"].items():
        pool = next(p for p in pools if name in pools[p]["classes"])
        k = (pc["requests"]["completed"] + pc["requests"]["shed"]) / share[pool]
        w_att += k * pc["slo_attainment"]
        n += k
    assert rep["slo_attainment"] == pytest.approx(w_att / n, rel=1e-6)
    chat, reas = (rep["serving"]["per_class"][c]["latency_s"]["ttft"]["p99"] for c in ("chat", "reasoning"))
    assert chat <= rep["latency_s"]["ttft"]["p99"] < 0.5 * reas


def test_the_request_engine_weighs_its_pools_samples_where_it_draws_them():
    """The run-wide weighting of a hybrid run's pools (above) is the request engine's own: set when it draws its
    samples, so a RequestEngine driven by the loop directly (``dcsim.engine.loop.simulate``, as the tests and
    scripts do) reports the pools' true request mix too. Until 2026-12-04 ``run_models`` applied it after the run,
    and such a run reported the sample's own mix."""
    from pathlib import Path

    from dcsim.engine.loop import simulate
    from dcsim.engine.requests import RequestEngine

    sc = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "mixed-fleet.yaml")
    m = build_models(sc.model_copy(update={"fidelity": "hybrid", "duration": 120.0}))
    eng = RequestEngine(m)
    frac = {eng.m.pools[ln.index].name: ln.frac for ln in eng.lanes}
    assert len(set(frac.values())) == 2
    for ln in eng.lanes:
        np.testing.assert_allclose(eng.metrics.class_weight[ln.classes], 1.0 / ln.frac)
    raw = simulate(m, request_engine=eng)
    rep = eng.report(raw["timeseries"]["t_s"].size * raw["dt"])
    assert "true request shares" in rep["serving"]["hybrid"]["run_wide_weighting"]


# --------------------------------------------------------------------------- binding at the controller's operating point

def test_a_pool_capped_below_full_clock_that_queues_is_power_bound():
    """DESIGN.md: binding is the one of C, P, Q *at the controller's operating point* that held the served rate
    down. The shared 60 kW budget runs the 8B pool below its full clock at the rate that just meets its work (its
    P ceiling, the budget it could take from the 70B pool, reaches its compute ceiling); at request fidelity its
    critically loaded replicas queue. Compute at full clock was not reached, so the label is power; where the
    pool ran at full clock and still queued, compute. Since 2026-12-05 power only where the clock costs throughput
    (``clock_holds_rate``: its full-load rate under RHO_MAX of full clock's): 5 of the 29 such ticks ran at clock
    0.949-0.991, 98.4-99.8 % of the full-clock rate (at 0.991 serving 24,564 of its 24,566 tok/s compute ceiling),
    and read compute. The facility's binding is that of the bound pool short of the largest share of its own work.
    Since the overrun count (``dcsim.tpf.overrun_running_tok``, later on 2026-12-05) 32 such ticks: 00:01:00 and
    00:02:00, whose arrivals (23.4 and 23.8 ktok/s) reached its replicas' 23.6 ktok/s full-load rate at clock 0.90
    and whose work in the system grew 57 k and 22 k tokens with nothing at the door, and 00:01:30 between them (its
    count draining by the spare capacity, 19.7 k tokens left), read power where they read demand
    (tests/binding_check.py found the two). Since session 54 (a pool stuck at the lowest clock consolidates at once
    and the 8B pool holds the share of its rise the 70B pool cannot shed, RequestEngine._predict_over: the hall no
    longer goes 2.55 % over its contract) 28 such ticks, five of them compute at clock 0.946-0.972 (00:08:00,
    00:08:30, 00:09:30, 00:13:30, 00:17:30), the other 23 power at 0.900-0.938; on main before it, 32, the five at
    0.949-0.991 (00:09:00, 00:10:30, 00:12:00, 00:13:30, 00:19:00) and power at 0.899-0.935. Since its review (a
    pool whose door holds work is not consolidated ahead of a tick; the 8B pool's clock path moved with the 70B
    pool's draw) 30 such ticks, seven compute at clock 0.946-0.986 (00:08:00, 00:08:30, 00:09:30, 00:13:00,
    00:13:30, 00:17:30, 00:19:30), the other 23 power at 0.900-0.935."""
    # the split these ticks were pinned under (until session 53); the default (controller.shared_split: useful_clock)
    # gives the 8B pool, whose full-load rate at 0.97 is within RHO_MAX of full clock's, its clock later: 37 such ticks
    sc = two_pools(**{"facility.interconnect": "60 kW", "workload.arrivals.rate": "100 req/s",
                      "racks.1.nodes_per_rack": 2, "duration": "20 min", "fidelity": "request",
                      "controller.shared_split": "tokens"})
    res = dcsim.run(sc)
    ts = res.timeseries
    m = build_models(load_scenario(sc))
    top = float(m.clocks[-1])
    b, clock = ts["pool1_binding"], ts["pool1_controller_clock"]
    below = (ts["pool1_mode"] == 1) & (clock < top * (1 - 1e-9))
    held = b != 0
    # the case: capped below full clock, work held back, power's ceiling not below compute's (argmin: compute)
    case = below & held & (ts["pool1_power_tok_s"] >= ts["pool1_compute_tok_s"])
    assert case.sum() == 30
    # the seven ticks whose clock costs under RHO_MAX's margin, pinned by time (measured in session 54's review:
    # clocks 0.946, 0.962, 0.986, 0.949, 0.967, 0.948, 0.947): compute; the other 23, at clock 0.900-0.935, power
    seven = np.isin(np.rint(ts["t_s"]).astype(int), [480, 510, 570, 780, 810, 1050, 1170])
    assert np.all(case[seven]) and np.all(b[seven] == 1)
    assert np.all(clock[seven] >= 0.945) and np.all(clock[seven] <= 0.987)
    assert np.all(b[case & ~seven] == 2) and np.all(clock[case & ~seven] <= 0.938)
    assert np.all(b[below & held & (clock <= 0.936)] != 1)  # never compute at a clock that costs throughput
    at_top = ~below & held
    assert np.all(b[at_top] == np.where(ts["pool1_power_tok_s"][at_top] < ts["pool1_compute_tok_s"][at_top], 2, 1))
    # its work stays below its compute ceiling on these ticks: no near tie with compute is noted (P reaches C there)
    assert not np.any(ts["pool1_waiting_tok_s"][case] >= ts["pool1_compute_tok_s"][case])
    assert not any("by a hair" in n for n in res.report["notes"])
    # the facility's: the bound pool furthest short for its own work (held + shed over queue + arrivals), a pool bound
    # with nothing held (critically loaded) before one not bound (dcsim.tpf.facility_binding)
    dt = float(ts["t_s"][1] - ts["t_s"][0])
    worst = np.argmax(np.stack([(ts[f"pool{p}_binding"] != 0) * (1.0 + (ts[f"pool{p}_held_tokens"]
                                                                        + ts[f"pool{p}_shed_tokens"])
                                                                       / (ts[f"pool{p}_waiting_tok_s"] * dt))
                                for p in (0, 1)], axis=1), axis=1)
    np.testing.assert_array_equal(ts["binding"], np.where(worst == 0, ts["pool0_binding"], ts["pool1_binding"]))


@pytest.mark.parametrize("split,fidelity", [("tokens", "request"), ("useful_clock", "request"),
                                            ("tokens", "hybrid"), ("useful_clock", "hybrid")])
def test_a_pool_stuck_at_the_lowest_clock_keeps_the_shared_contract_when_its_budget_falls(split, fidelity):
    """The two-pool 60 kW hall at request fidelity (30-s ticks, 20 min): the 70B pool runs demand-bound at the lowest
    clock, its replicas evenly loaded drawing ~27.4 kW, and its budget moves between 27.5 kW and 26.2 kW as the 8B pool
    beside it takes back its full-clock budget. The clock cannot fall below the lowest level, and until session 54 the
    pool consolidated only after a tick on which the pools together were over: the facility drew up to 2.55 % over its
    contract (ticks 1, 20-22, 25 and 38; +1.80 % on ticks 1 and 20-22 under useful_clock), far past the trim's per-tick
    scatter (+0.1 %, docs/engine.md). Now the lanes predict the tick (RequestEngine._predict_over): the stuck pool
    consolidates at once and the pool rising beside it holds the share of its rise the other cannot shed, for that
    tick. Band: the documented per-tick scatter, +0.1 %; the budget still used (mean within 2 % of the contract) and the
    pools' tokens within 0.5 % of the run before the fix (12.660 / 27.921 M tokens under tokens, 12.649 / 27.918 M
    under useful_clock; now -0.23 / -0.02 % and -0.14 / -0.02 %). Hybrid fidelity's lanes do the same (before the
    fix 7 ticks over, at most +0.103 % under tokens; 6, +0.323 % under useful_clock; now 3, +0.094 % and 2, +0.050 %;
    tokens 12.650 / 27.918 M and 12.674 / 27.915 M before, now 0.00 / -0.01 % and -0.18 / -0.01 %; measured in
    session 54)."""
    sc = two_pools(**{"facility.interconnect": "60 kW", "workload.arrivals.rate": "100 req/s",
                      "racks.1.nodes_per_rack": 2, "duration": "20 min", "fidelity": fidelity,
                      "controller.shared_split": split})
    ts = dcsim.run(sc).timeseries
    ratio = ts["facility_power_w"] / ts["interconnect_w"]
    dt = float(ts["t_s"][1] - ts["t_s"][0])
    # the case: the 70B pool at the lowest clock on ticks its budget fell below what it drew before
    assert np.count_nonzero(ts["pool0_controller_clock"] <= float(build_models(load_scenario(sc)).clocks[0]) + 1e-9) >= 10
    assert np.max(ratio) <= 1.001, (np.argmax(ratio), np.max(ratio))
    assert np.mean(ratio) >= 0.98
    before = {("tokens", "request"): (12.6600e6, 27.9206e6), ("useful_clock", "request"): (12.6487e6, 27.9177e6),
              ("tokens", "hybrid"): (12.6501e6, 27.9175e6), ("useful_clock", "hybrid"): (12.6743e6, 27.9146e6)}[
        (split, fidelity)]
    for p in (0, 1):
        assert float(ts[f"pool{p}_achieved_tok_s"].sum()) * dt == pytest.approx(before[p], rel=0.005)


def test_a_power_bound_pool_at_the_lowest_clock_is_not_consolidated_while_its_door_holds_work():
    """The same 60 kW hall at 120 req/s under ``shared_split: tokens``: the 70B pool is power-bound at the lowest clock,
    100-340 k tokens held at its door. Consolidating it ahead of a tick (RequestEngine._predict_over, session 54) cut
    its tokens while its work waited, and its share spread back as the work drained overshot: from tick 25 a 4-tick
    cycle 8 to 13 % under the contract, 42.315 M tokens against 43.109 M before that prediction (-1.84 %). Now such a
    pool is left to the rising pool's one-tick hold: 43.122 M (+0.03 %), no tick after filling below -4.1 %, at most
    +0.157 % (the last tick, its door just drained; before the prediction +0.618 %). Bands: tokens within 0.3 % of the
    run before the prediction; no tick after the first 5 min below -5 %; at most +0.2 % over."""
    sc = two_pools(**{"facility.interconnect": "60 kW", "workload.arrivals.rate": "120 req/s",
                      "racks.1.nodes_per_rack": 2, "duration": "20 min", "fidelity": "request",
                      "controller.shared_split": "tokens"})
    ts = dcsim.run(sc).timeseries
    ratio = ts["facility_power_w"] / ts["interconnect_w"]
    dt = float(ts["t_s"][1] - ts["t_s"][0])
    assert float(np.max(ts["pool0_held_tokens"][10:])) > 1e5  # the case: work held at the 70B pool's door
    tok = sum(float(ts[f"pool{p}_achieved_tok_s"].sum()) * dt for p in (0, 1))
    assert tok == pytest.approx(14.4780e6 + 28.6315e6, rel=0.003)  # before the prediction (measured in session 54)
    assert np.min(ratio[ts["t_s"] >= 300.0]) >= 0.95, np.argmin(ratio)
    assert np.max(ratio) <= 1.002, (np.argmax(ratio), np.max(ratio))


# --------------------------------------------------------------------------- the facility's label: one rule

def _mixed_fleet_at(rate: str, **over):
    from pathlib import Path
    return load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "mixed-fleet.yaml",
                         overrides={"workload.arrivals.mean_rate": rate, "expect": {}, **over})


def test_the_closed_forms_facility_label_is_the_pool_furthest_short_for_its_own_demand():
    """mixed-fleet at 1,000 req/s, at its peak: the chat pool (70B) is compute-bound, 106.6 ktok/s short of 332.7 (32 %);
    the reasoning pool (405B) power-bound, 92.7 ktok/s short of 167.7 (55 %). More 70B tokens are missing, but a
    405B-class token is not a 70B one: the facility's label is that of the pool short of the larger share of its own
    demand, power (until 2026-12-05 the largest deficit in tokens/s: compute)."""
    from dcsim.engine.steady import scenario_moments

    m = build_models(_mixed_fleet_at("1000 req/s"))
    mom = scenario_moments(m)
    i = int(np.argmax(mom["demand_tok_s"]))
    r = ceilings_at(m, mom["demand_tok_s"][i], mom["t_db_c"][i], mom["t_wb_c"][i])
    p = r["pools"]
    short = p["demand_tok_s"] - p["achieved_tok_s"]
    assert [int(x) for x in p["binding"]] == [1, 2]
    assert short[0] > short[1] and short[0] / p["demand_tok_s"][0] < short[1] / p["demand_tok_s"][1]  # the case
    assert int(r["binding"]) == 2


def test_the_simulated_facility_label_is_the_pool_furthest_short_for_its_own_work():
    """The same scenario simulated over 13:00-14:00: the chat pool holds more tokens back (206 M against 106 M at
    the end) but the reasoning pool the larger share of its waiting work (0.96 against 0.94); the facility reads power
    on every tick, as the closed form does (until 2026-12-05 compute: the pool holding back the most tokens)."""
    res = dcsim.run(_mixed_fleet_at("1000 req/s", start="2026-07-15T13:00", duration="1 h",
                                    **{"serving.slo_estimate": False}))
    ts = res.timeseries
    assert np.all(ts["pool0_binding"] == 1) and np.all(ts["pool1_binding"] == 2)
    held = [ts[f"pool{p}_held_tokens"] + ts[f"pool{p}_shed_tokens"] for p in (0, 1)]
    assert np.all(held[0][5:] > held[1][5:])  # the case: more chat tokens held back
    assert np.all(ts["binding"] == 2)
    assert res.report["binding"]["share"]["power"] == pytest.approx(1.0)


def test_the_signature_figures_pool_strips_and_legend_leave_each_other_room(capped):
    """mixed-fleet's signature (the audit of the figures, AUF item 10): the 12-entry legend set the top panel's
    height (a blank band above the zoom panel) and the outdoor-temperature line ran over the pool strips and their
    labels. The legend is out of the layout (the panels close up under it, the legend inside the figure), and the
    temperature (line and ticks) stays above the strips."""
    from matplotlib.transforms import Bbox

    from dcsim.plots.figures import signature_plot

    fig = signature_plot(capped)
    fig.canvas.draw()
    ax, ax2 = fig.axes[0], fig.axes[-1]
    below = fig.axes[-2]  # the zoom panel, or the lower panel where no zoom is drawn
    leg = ax.get_legend()
    # out of the layout: the legend's height does not set the top panel's (this fixture's 9 entries fit beside it;
    # mixed-fleet's day, 12 entries, left a gap of 0.160 of the figure's height, 0.057 once out of the layout)
    assert not leg.get_in_layout()
    gap = ax.get_position().y0 - below.get_position().y1
    assert 0 < gap < 0.08, gap  # a title's height
    box = leg.get_window_extent()
    assert Bbox.intersection(box, fig.bbox).width == pytest.approx(box.width)  # the legend is not cut off
    assert box.x0 >= max(a.get_window_extent().x1 for a in fig.axes) - 1  # nor over a panel
    n_pools = len(capped.report["pools"])
    strips_top = SIGNATURE_STRIP_H * n_pools  # the strips' share of the lower panel
    line = ax2.get_lines()[0]
    y_axes = ax2.transLimits.transform(np.c_[line.get_xdata(), line.get_ydata()])[:, 1]
    assert y_axes.min() > strips_top, y_axes.min()
    ticks = ax2.transLimits.transform(np.c_[np.zeros(len(ax2.get_yticks())), ax2.get_yticks()])[:, 1]
    assert np.all(ticks > strips_top)
    labels = [t for t in ax2.texts if t.get_text().startswith("pool ")]
    assert len(labels) == n_pools and all(t.get_fontsize() >= 8 for t in labels)


def test_the_signature_keeps_the_outdoor_line_under_its_panels_label(capped):
    """mixed-fleet's signature (the walk of 2026-12-05): the 40 degC afternoon ran through the lower panel's label
    "facility binding (band above the pools' strips) / outdoor dry-bulb", the pool strips taking the panel's foot.
    The temperature axis leaves the label's height free over the line, with or without strips."""
    from dcsim.plots.figures import signature_plot

    ts = dict(capped.timeseries)
    t = np.asarray(ts["t_s"], dtype=float)
    # the day's swing, hottest a third of the way in: under the label, which runs from the panel's left edge
    ts["t_out_c"] = 33.0 + 8.0 * np.cos(2 * np.pi * (t - t[0]) / max(t[-1] - t[0], 1.0) - 2 * np.pi / 3)
    for report in (capped.report, {**capped.report, "pools": capped.report["pools"][:1]}):
        fig = signature_plot((report, ts))
        fig.canvas.draw()
        ax2 = fig.axes[-1]
        label = next(x for x in ax2.texts if "outdoor dry-bulb" in x.get_text()).get_window_extent()
        line = max(ax2.get_lines(), key=lambda ln: len(ln.get_xdata()))
        xy = ax2.transData.transform(np.c_[line.get_xdata(), line.get_ydata()])
        under = xy[(xy[:, 0] >= label.x0) & (xy[:, 0] <= label.x1)]
        assert len(under) and under[:, 1].max() < label.y0, (under[:, 1].max(), label.y0)


@pytest.mark.slow
def test_a_draining_pool_keeps_the_shared_contract_under_the_useful_clock_split():
    """mixed-fleet 20:00-21:35 at request fidelity, the default split (controller.shared_split: useful_clock): the chat
    pool runs at full clock on a budget of its whole full-clock draw, so it has no slack to cover the other pool's
    excess; the KV-bound reasoning pool drains its backlog, its door empty, its replicas still serving more than its
    rate limit (work inside them), and the controller's clock rises tick by tick as its limit falls at a constant
    budget. Until session 53 those rises went through at once (only a pool allowed below its clock stepped up
    through its trim): the reasoning lane drew up to 0.39 % over its budget with nothing to trim it, the facility
    700.8 kW (+0.11 %) against its 700 kW contract at 21:33 and 2 ticks over (the whole request day: 35 ticks, at most
    +0.41 % at 22:19; 12 ticks, +0.030 %, re-measured in session 54). Now its rises step up through the trim where it runs at or above its useful clock (the lowest
    level for this pool; a compute-bound pool's is full clock, so the chat pool's rises still go through at once): no
    tick over, at most -0.25 % under, the reasoning pool's tokens -0.008 %. Band: half the trim's per-tick scatter band (+0.1 %, docs/engine.md)."""
    from pathlib import Path
    sc = Path(__file__).resolve().parents[1] / "scenarios" / "mixed-fleet.yaml"
    req = dcsim.run(sc, overrides={"duration": "95 min", "start": "2026-07-15T20:00", "expect": {},
                                   "fidelity": "request"})
    ts = req.timeseries
    capped = ts["pool1_mode"] == 1
    assert np.count_nonzero(capped) >= 60  # the reasoning pool capped on the shared budget most of the window
    assert np.max(ts["facility_power_w"] / ts["interconnect_w"]) <= 1.0005
