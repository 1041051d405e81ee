"""Fluid trace replay conserves tokens (issue 17.4): the output tokens that arrive over a run
equal the trace's own tokens in the simulated window, at every tick length, including a trace
shorter than one tick (which used to deliver nothing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dcsim.engine.run import run
from dcsim.scenario import read_yaml
from dcsim.workload.trace import read_trace

ROOT = Path(__file__).resolve().parents[1]


def _scenario(arrivals: dict, tick: str, duration: str) -> dict:
    raw = read_yaml(ROOT / "scenarios" / "reference.yaml")
    raw["workload"] = {"arrivals": arrivals, "classes": [{"name": "chat", "preset": "chat", "share": 1.0}]}
    raw["controller"]["tick"] = tick
    raw["duration"] = duration
    raw["facility"]["interconnect"] = "2 MW"  # never power-bound: nothing shed
    return raw


@pytest.mark.parametrize("tick_s", [1.0, 60.0, 600.0])
def test_fluid_replay_arrives_exactly_the_trace_tokens(tick_s):
    tr = read_trace("azure-conv-2023")
    dur = 3000.0  # ends inside the trace: the window [0, n_ticks * tick) is what must arrive
    res = run(_scenario({"kind": "trace", "path": "azure-conv-2023"}, f"{tick_s} s", f"{dur} s"),
              overrides=None)
    horizon = res.timeseries["t_s"].size * tick_s
    want = float(tr.n_out[tr.t < horizon].sum())
    got = res.report["tokens_accounting"]["arrived"]
    assert got == pytest.approx(want, rel=1e-12, abs=1e-6)
    # and the per-tick demand is the trace's own count in each tick
    edges = np.arange(res.timeseries["t_s"].size + 1) * tick_s
    per_tick = np.histogram(tr.t, bins=edges, weights=tr.n_out.astype(float))[0]
    np.testing.assert_allclose(res.timeseries["arrived_tokens"], per_tick, rtol=1e-12, atol=1e-6)


def test_trace_shorter_than_a_tick_delivers_its_tokens(tmp_path):
    p = tmp_path / "short.csv"
    p.write_text("t,in,out\n0.0,100,7\n3.5,200,11\n9.0,50,13\n")
    arr = {"kind": "trace", "path": str(p), "format": "csv", "time_unit": "s",
           "columns": {"time": "t", "input": "in", "output": "out"}}
    res = run(_scenario(arr, "1 min", "5 min"))
    assert res.report["tokens_accounting"]["arrived"] == pytest.approx(31.0, rel=1e-12)


def test_looped_replay_conserves_tokens_per_period():
    tr = read_trace("azure-conv-2023")
    arr = {"kind": "trace", "path": "azure-conv-2023", "loop": True}
    res = run(_scenario(arr, "1 min", "3 h"))
    gap = tr.t[-1] / (len(tr) - 1)
    period = tr.t[-1] + gap
    horizon = res.timeseries["t_s"].size * 60.0
    k = int(horizon // period)
    want = k * float(tr.n_out.sum()) + float(tr.n_out[tr.t < horizon - k * period].sum())
    assert res.report["tokens_accounting"]["arrived"] == pytest.approx(want, rel=1e-12)


def test_far_future_row_costs_no_memory(tmp_path):
    """One row at t = 1e12 s used to allocate 124 GiB of rate bins; now the reader refuses the
    10-year span, naming the row, and the replay itself allocates no bins."""
    from dcsim.workload.arrivals import TraceReplay
    from dcsim.workload.trace import TraceError, read_csv_trace

    p = tmp_path / "far.csv"
    p.write_text("t,in,out\n0,10,10\n1,10,10\n2,10,10\n1e12,10,10\n")
    with pytest.raises(TraceError, match=r"far\.csv:5: .*10-year"):
        read_csv_trace(p, "t", "in", "out", "s")
    rp = TraceReplay(np.array([0.0, 1.0, 1e12]), None, 60.0, np.random.default_rng(0))
    assert rp.rate(np.array([30.0, 1e12 - 1]))[0] == pytest.approx(2 / 60)
    assert rp.expected_count(np.array([0.0, 1e12]), 60.0).tolist() == [2.0, 1.0]
