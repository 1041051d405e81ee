"""Named random streams (dcsim.streams): keyed by component name, not by spawn position."""

import numpy as np

import dcsim
from dcsim.engine.build import build_models
from dcsim.scenario import load_scenario
from dcsim.streams import LEGACY_KEYS, named_stream, stream_key

from conftest import small_scenario

NAMES = ["workload", "facility", "serving", "faults", "slo_estimate", "serving.sample", "serving.metrics",
         "serving.sample.r", "serving.sample.s", "grid", "storage", "weather.noise"]


def test_keys_are_a_pure_function_of_the_name_and_distinct():
    keys = [stream_key(n) for n in NAMES]
    assert keys == [stream_key(n) for n in reversed(NAMES)][::-1]  # order of asking does not matter
    assert len(set(keys)) == len(keys)
    for n, k in LEGACY_KEYS.items():  # the streams that existed keep their draws
        assert stream_key(n) == k
    hashed = [stream_key(n)[0] for n in NAMES if n not in LEGACY_KEYS]
    assert all(h >= 2 ** 63 for h in hashed)  # never a small spawn position


def test_streams_are_independent_and_reproducible():
    a = np.random.default_rng(named_stream(5, "workload")).random(4)
    assert np.array_equal(a, np.random.default_rng(named_stream(5, "workload")).random(4))
    assert not np.array_equal(a, np.random.default_rng(named_stream(5, "facility")).random(4))
    assert not np.array_equal(a, np.random.default_rng(named_stream(6, "workload")).random(4))


def test_models_draw_the_same_whatever_else_is_built():
    """The workload's requests do not depend on which other components the scenario has."""
    base = small_scenario(duration="10 min")
    with_faults = small_scenario(duration="10 min", faults=[{"kind": "node_failures", "mtbf": "100000 h",
                                                             "repair": "1 h"}])
    w1 = build_models(load_scenario(base)).workload.sample(0.0, 60.0)
    w2 = build_models(load_scenario(with_faults)).workload.sample(0.0, 60.0)
    for f in ("t", "cls", "n_in", "n_out"):
        np.testing.assert_array_equal(getattr(w1, f), getattr(w2, f))


def test_adding_a_component_does_not_change_request_level_draws():
    over = {"fidelity": "request", "duration": "3 min", "racks.0.count": 1, "workload.arrivals.rate": "40 req/s"}
    a = dcsim.run(small_scenario(**over))
    b = dcsim.run(small_scenario(**over, faults=[{"kind": "node_failures", "mtbf": "100000 h", "repair": "1 h"}]))
    assert b.report["faults_total"]["replica_hours_down"] == 0.0  # the fault component drew, no failure fell
    assert a.report["requests"] == {k: v for k, v in b.report["requests"].items()}
    assert a.report["latency_s"] == b.report["latency_s"]
    np.testing.assert_array_equal(a.latency_samples["chat"]["ttft_s"], b.latency_samples["chat"]["ttft_s"])
