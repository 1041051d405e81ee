"""Request fidelity reads node failures over the tick, as fluid fidelity does (FaultSchedule.availability_over, the
time-mean of the replicas down): a replica failing inside a tick stops at its failure, one repaired inside it serves
from its repair (dcsim.engine.requests._Lane._serve_split). Until 2026-12-05 request fidelity read the failed replicas
at each tick's start only: a 2-min failure inside a 5-min tick cost nothing there, and one spanning a tick's start took
the whole tick."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import small_scenario
from dcsim.engine.build import build_models
from dcsim.engine.run import run_models
from dcsim.faults import build_faults
from dcsim.scenario import load_scenario

FAULTS = [{"kind": "node_failures", "mtbf": "1 h", "repair": "2 min", "repair_distribution": "fixed"}]


def _it_lost(fidelity: str):
    """Per tick, the IT power (W) the failures take from the near-idle small facility (2 req/s, 32 replicas, 5-min
    ticks, 40 min): the run without them less the run with them; and the schedule."""
    sc = load_scenario(small_scenario(**{"fidelity": fidelity, "duration": "40 min", "controller.tick": "5 min",
                                        "workload.arrivals.rate": "2 req/s"}))
    base = run_models(build_models(sc))
    m = build_models(sc)
    m.faults = build_faults(FAULTS, m.seeds["faults"], {g.name: g.limits.replicas for g in m.groups},
                            float(sc.duration), interconnect_w=m.facility.interconnect_w)
    run = run_models(m)
    return np.asarray(base.timeseries["it_power_w"]) - np.asarray(run.timeseries["it_power_w"]), m.faults


def test_request_fidelity_loses_the_failures_power_tick_by_tick_as_fluid_does():
    fluid, sched = _it_lost("fluid")
    request, _ = _it_lost("request")
    a = sched.availability_over(np.arange(fluid.size) * 300.0, 300.0)
    assert np.all(a < 1.0) and np.any(a > 0.99)  # failures in every tick, some covering little of it
    # each tick's loss within 10 % (+ 50 W of the few requests' noise) of the fluid's, which is the time-mean's:
    # it read 0 W against the fluid's 756 W on the first tick before (the failure inside it, after its start)
    np.testing.assert_allclose(request, fluid, rtol=0.10, atol=50.0)
    assert float(np.sum(request)) == pytest.approx(float(np.sum(fluid)), rel=0.03)


def test_requests_back_at_the_door_keep_their_arrival_order(monkeypatch):
    """Several replicas failing inside one tick: the requests drained from them go back to the door queue's front
    once, oldest first, ahead of the ones still waiting (FIFO: those arrived later). Until 2026-12-05 each failure's
    batch was put at the front in turn, so a later failure's requests came before older ones (the queue read out of
    arrival order after each of the 4 ticks of this run)."""
    import dcsim.engine.requests as rq

    unsorted = []
    serve = rq._Lane._serve_split

    def spy(self, *a, **kw):
        out = serve(self, *a, **kw)
        if self._hold:
            arrivals = np.concatenate([b[0] for b in self._hold])
            unsorted.append(bool(np.any(np.diff(arrivals) < 0)))
        return out

    monkeypatch.setattr(rq._Lane, "_serve_split", spy)
    sc = load_scenario(small_scenario(**{"fidelity": "request", "duration": "20 min", "controller.tick": "5 min",
                                        "workload.arrivals.rate": "50 req/s"}))
    m = build_models(sc)
    m.faults = build_faults([{"kind": "node_failures", "mtbf": "20 min", "repair": "2 min",
                              "repair_distribution": "fixed"}], m.seeds["faults"],
                            {g.name: g.limits.replicas for g in m.groups}, float(sc.duration),
                            interconnect_w=m.facility.interconnect_w)
    run_models(m)
    assert unsorted and not any(unsorted)
