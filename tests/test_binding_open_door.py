"""An open-door pool that is asked more than its replicas serve is compute-bound at fluid fidelity.

An "open door": no budget caps the pool (``mode`` 0), so the controller admits every request and nothing waits at
its door; a KV-bound pool (Llama-3.1-405B on B200, long reasoning answers) admits everything into its replicas. At
fluid fidelity the work a tick cannot serve is the backlog it carries to the next (``queue_step``), which the label
reads as held: compute on every tick, the backlog growing by what arrives beyond the compute ceiling. Request
fidelity's running-work overrun count (``dcsim.tpf.overrun_running_tok``) is kept on capped ticks only; there the
replicas' own queues show the overrun once their batch slots are taken (docs/engine.md, "An open door's overrun",
measured 2026-12-05, session 53)."""

import numpy as np

import dcsim

#: one rack of four 8xB200 servers, TP4: 8 replicas of Llama-3.1-405B FP8; no budget binds (10 MW)
POOL = {
    "name": "open-door", "seed": 7, "duration": "30 min", "fidelity": "fluid", "start": "2026-07-15T06:00",
    "facility": {"interconnect": "10 MW", "weather": {"kind": "constant", "t_db": "25 degC", "rh": "40%"},
                 "cooling": {"kind": "chiller_plant", "capacity": "10 MW", "heat_rejection": "dry_cooler"}},
    "racks": [{"name": "b200-reasoning", "count": 1, "nodes_per_rack": 4,
               "node": {"gpu": "B200", "model": "llama-3.1-405b", "precision": "fp8", "tensor_parallel": 4,
                        "max_batch": 256},
               "power": {"power_limit": "80 kW"}, "cooling": {"kind": "liquid", "limit": "100 kW"}}],
    "workload": {"arrivals": {"kind": "poisson", "rate": "1.0 req/s"},
                 "classes": [{"name": "reasoning", "preset": "reasoning", "share": 1.0}]},
    "controller": {"tick": "1 min", "policy": "frontier"},
}


def _run(rate_req_s: float):
    sc = {**POOL, "workload": {**POOL["workload"], "arrivals": {"kind": "poisson", "rate": f"{rate_req_s} req/s"}}}
    return dcsim.run(sc).timeseries


def test_an_open_door_pool_overrunning_is_compute_bound_at_fluid_fidelity():
    ts = _run(1.8816)  # ~1.05x the replicas' full-load rate (12.5 ktok/s of ~7,000-token answers)
    arr = ts["arrived_tokens"] / 60.0
    assert np.all(ts["mode"] == 0)  # the door open: no budget capped the pool
    assert np.mean(arr) > 1.02 * np.mean(ts["compute_tok_s"])
    assert np.all(ts["binding"] == 1)
    # what was not served is held, tick by tick: the work in the system from the flows
    work = np.cumsum(ts["arrived_tokens"] - 60.0 * ts["achieved_tok_s"] - ts["shed_tokens"])
    np.testing.assert_allclose(ts["held_tokens"], work, rtol=1e-9, atol=1e-3)
    assert work[-1] > 0.5 * 60.0 * np.mean(ts["compute_tok_s"])  # half a tick's full-load work and growing


def test_the_same_pool_keeping_up_is_demand_bound():
    ts = _run(1.6114)  # ~0.90x the full-load rate
    assert np.all(ts["mode"] == 0)
    assert np.mean(ts["binding"] == 0) >= 0.9  # a tick whose arrivals burst above C holds its excess
