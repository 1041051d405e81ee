"""Physics defects found by the physics audit: each test asserts the physics that was broken.

* A partial ``cooling_failure`` leaves the plant rejecting no more heat than its reduced capacity
  (the UPS no-load heat does not scale with the lost capacity).
* The report's ``tpf`` inputs give back its own ceilings and binding through ``dcsim.tpf``.
* ``mean_clock`` is the effective clock under a board ``power_cap`` (monotone in the cap).
"""

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from dcsim.cli import main
from dcsim.engine.build import build_models
from dcsim.engine.gpu_clock import board_clock
from dcsim.engine.run import run
from dcsim.engine.steady import steady_report
from dcsim.scenario import load_scenario
from dcsim.tpf import token_production

ROOT = Path(__file__).resolve().parents[1]


def _reference(**over) -> dict:
    sc = yaml.safe_load((ROOT / "scenarios" / "reference.yaml").read_text())
    sc.pop("expect", None)
    sc.update(over)
    return sc


def test_partial_cooling_failure_heat_within_reduced_capacity():
    """reference.yaml, 10:00–13:00 on 15 July, 30 % of the plant lost 11:00–12:00: cooling binds in
    the window, and the heat to reject (IT + PDU + UPS losses) never exceeds the reduced capacity."""
    sc = _reference(duration="3 h", start="2026-07-15T10:00",
                    faults=[{"kind": "cooling_failure", "start": "1 h", "duration": "1 h", "capacity_loss": "30%"}])
    ts = run(sc).timeseries
    heat_w = ts["it_power_w"] + ts["loss_pdu_w"] + ts["loss_ups_w"]
    tm = ts["t_s"] + 30.0
    win = (tm >= 3600.0) & (tm < 7200.0)
    assert win.sum() == 60 and np.all(ts["binding"][win] == 3)  # cooling holds the served rate down
    assert np.all(heat_w <= ts["heat_capacity_w"] * (1 + 1e-9))
    # the budget is used: heat meets the reduced capacity where cooling binds (no slack left idle)
    np.testing.assert_allclose(heat_w[win], ts["heat_capacity_w"][win], rtol=1e-6)


# --------------------------------------------------------------------------- B: tpf inputs reproduce the block

SCENARIOS = ["reference.yaml", "heatwave-air.yaml", "heatwave-liquid.yaml", "campus-interconnect.yaml",
             "year-richmond.yaml", "mixed-fleet.yaml"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_tpf_inputs_reproduce_ceilings_and_binding(name):
    """``token_production(**inputs)`` gives back every moment's C, P, Q, achieved rate and binding
    (Q = Q_rej / E_tok with Q_rej the IT heat the plant can take, not its raw capacity)."""
    m = build_models(load_scenario(ROOT / "scenarios" / name))
    st = steady_report(m, crossovers_too=False)
    for label, mo in st["moments"].items():
        t = token_production(**mo["inputs"]).as_dict()
        for k in ("compute_tok_s", "power_tok_s", "cooling_tok_s", "achieved_tok_s", "demand_tok_s"):
            # 1e-9: several pools sum their ceilings in another order (numpy 2.4: 2e-12 apart on mixed-fleet)
            assert t[k] == pytest.approx(mo[k], rel=1e-9), (label, k)
        if "pools" not in mo:  # several pools: the moment's binding is the pool furthest short
            assert t["binding"] == mo["binding"], label
        # the IT heat the plant can take lies below the raw capacity by at least the UPS no-load loss
        assert mo["inputs"]["heat_rejection_w"] < mo["heat_capacity_w"]


def test_tpf_hottest_reference_cooling_binds_through_closed_form():
    """The audit's case: reference.yaml at its hottest tick, cooling binds, and the exported inputs
    say so (they said power: Q_rej was the raw capacity, 7 % above the heat IT may add)."""
    m = build_models(load_scenario(ROOT / "scenarios" / "reference.yaml"))
    mo = steady_report(m, crossovers_too=False)["moments"]["hottest"]
    assert mo["binding"] == "cooling"
    assert token_production(**mo["inputs"]).binding_name == "cooling"
    i = mo["inputs"]
    assert i["heat_rejection_w"] / i["joule_per_token_it"] == pytest.approx(mo["cooling_tok_s"], rel=1e-12)


def test_tpf_cli_equals_report_block_inputs_included():
    """``dcsim tpf FILE --json`` moments equal report.json's ``tpf.moments`` (inputs included), and
    the run-mean linearisation uses the same meaning of Q_rej (the IT-heat budget)."""
    ref = ROOT / "scenarios" / "reference.yaml"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["tpf", str(ref), "--json"]) == 0
    cli = json.loads(buf.getvalue())
    res = run(ref)
    rep = res.report["tpf"]
    for label, mo in rep["moments"].items():
        for k, v in mo.items():
            assert cli["moments"][label][k] == v, (label, k)
    rm = rep["run_mean"]["inputs"]
    assert rm["heat_rejection_w"] == pytest.approx(float(np.mean(res.timeseries["it_max_cooling_w"])), rel=1e-12)


# --------------------------------------------------------------------------- C: effective clock under a board power cap

CAPS_W = (250, 280, 300, 320, 350, 450)


def _capped(cap_w, policy="frontier"):
    over = {"duration": "10 min", "start": "2026-07-15T13:00", "controller.tick": "10 s", "controller.policy": policy}
    if cap_w is not None:
        over["racks.0.node.power_cap"] = f"{cap_w} W"
    return run(ROOT / "scenarios" / "reference.yaml", overrides=over)


@pytest.mark.parametrize("policy", ["frontier", "uniform"])
def test_mean_clock_is_effective_and_monotone_in_power_cap(policy):
    """``mean_clock`` is the clock the GPUs run at: the lower of the controller's DVFS clock and the
    board's throttled clock under ``power_cap``; it rises with the cap (it was the controller's
    level: 0.94 at 250 W, 0.48 at 320 W under the frontier policy)."""
    clocks, ctl = [], []
    for cap in CAPS_W:
        res = _capped(cap, policy)
        c = res.report["controller"]
        ts = res.timeseries
        assert np.all(ts["mean_clock"] <= ts["controller_clock"] + 1e-12)
        clocks.append(c["mean_clock"])
        ctl.append(c["mean_controller_clock"])
    assert all(b > a for a, b in zip(clocks, clocks[1:])), clocks
    assert all(x <= y + 1e-12 for x, y in zip(clocks, ctl))
    # saturated (the whole fleet at full batch), the effective clock is the board's at full batch
    m = build_models(load_scenario(ROOT / "scenarios" / "reference.yaml",
                                   overrides={"racks.0.node.power_cap": "250 W"}))
    g = m.groups[0]
    full = board_clock(g.node, g.table.batch[-1:], m.pools[0].mean_input, m.pools[0].mean_output)[0]
    assert 0.3 < full < 0.45 and clocks[0] == pytest.approx(full, rel=0.02)


def test_mean_clock_without_cap_is_the_controllers():
    """No board cap below TDP: the effective clock is the controller's, tick by tick."""
    ts = _capped(None).timeseries
    np.testing.assert_array_equal(ts["mean_clock"], ts["controller_clock"])


def test_available_delivered_power_is_what_the_cap_can_feed_not_cap_over_the_light_load_pue():
    """At light load the fixed losses make PUE(t) large; cap / PUE(t) then read 1.64 MW 'available'
    on a 5 MW site that can feed 3.75 MW to IT. `available` is the IT power at which the facility
    reaches its cap (it_max_power_w), and at the cap the two readings agree."""
    sc = {"name": "tiny", "seed": 1, "duration": "1 h", "fidelity": "fluid",
          "facility": {"interconnect": "5 MW", "cooling": {"kind": "chiller_plant", "capacity": "5 MW"},
                       "weather": {"kind": "constant", "t_db": 20}},
          "racks": [{"name": "a", "count": 10, "nodes_per_rack": 4,
                     "node": {"gpu": "H100-SXM", "model": "llama-3.1-70b", "tensor_parallel": 4, "max_batch": 256},
                     "power": {"power_limit": "60 kW"}, "cooling": {"kind": "rear_door", "limit": "50 kW"}}],
          "workload": {"arrivals": {"kind": "poisson", "rate": "10 req/s"},
                       "classes": [{"name": "chat", "preset": "chat", "share": 1.0}]},
          "controller": {"tick": "60 s"}}
    r = run(load_scenario(sc))
    pad, ts = r.report["pue_adjusted_delivered_power_w"], r.timeseries
    assert pad["available"]["mean"] == pytest.approx(float(np.mean(ts["it_max_power_w"])), rel=1e-12)
    light = float(np.mean(ts["interconnect_w"] / ts["pue"]))
    assert pad["available"]["mean"] > 2.0 * light  # the old reading understated it at this load
    # at the cap (the reference hall's power-bound afternoon) both readings agree
    ref = run(load_scenario(_reference(duration="1 h", start="2026-07-15T13:00")))
    t2 = ref.timeseries
    at_cap = t2["binding"] == 2
    assert at_cap.any()
    np.testing.assert_allclose(t2["it_max_power_w"][at_cap], (t2["interconnect_w"] / t2["pue"])[at_cap], rtol=2e-3)
