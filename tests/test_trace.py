"""Trace replay: Azure 2023 conversation (CALIBRATION V12), readers, bad rows, scaling, loops."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from dcsim.scenario.workload import WorkloadSpec
from dcsim.workload import build_workload
from dcsim.workload.trace import TraceError, read_mooncake, read_trace, shipped_dir

DATA = Path(__file__).resolve().parents[1] / "dcsim" / "data" / "sources"
# sha256 of the files published at github.com/Azure/AzurePublicDataset@b469a113 data/
AZURE_SHA256 = {
    "AzureLLMInferenceTrace_conv.csv": "2f1e5b666d4e3055fdbba98598ce2ec307767b9064e03e2fa46676dbcc7d0bf8",
    "AzureLLMInferenceTrace_code.csv": "54e9a6d2a4bd06ba1e060304b900abbc74cbea53de96506e60fe5bb4f2277fb6",
}


def _trace_wl(seed=0, base_dir=None, **arr):
    return build_workload(WorkloadSpec(arrivals={"kind": "trace", **arr}),
                          np.random.SeedSequence(seed), base_dir=base_dir)


def test_azure_conv_2023_replay_matches_calibration_v12():
    wl = _trace_wl(path="azure-conv-2023")
    b = wl.sample(0.0, 4000.0)
    assert len(b) == 19_366
    span = b.t[-1] - b.t[0]
    assert round(span) == 3_502
    assert len(b) / span == pytest.approx(5.53, abs=0.005)
    assert round(b.n_in.mean()) == 1_155 and np.median(b.n_in) == 1_020
    assert round(b.n_out.mean()) == 211 and np.median(b.n_out) == 129
    assert wl.mean_input == pytest.approx(b.n_in.mean()) and wl.mean_output == pytest.approx(b.n_out.mean())
    # per-minute peak/mean 1.54 (V12), from the empirical 60-s rate bins (59 minutes)
    per_min = wl.rate(np.arange(59) * 60.0 + 1.0) * 60
    assert per_min.max() / per_min.mean() == pytest.approx(1.54, abs=0.01)
    assert np.all(b.n_out >= 1) and np.all(np.diff(b.t) >= 0)


def test_shipped_traces_are_the_published_files():
    for name in ("AzureLLMInferenceTrace_conv.csv", "AzureLLMInferenceTrace_code.csv"):
        assert hashlib.sha256((shipped_dir() / name).read_bytes()).hexdigest() == AZURE_SHA256[name]
    assert "CC-BY-4.0" in (shipped_dir() / "README.md").read_text()
    assert len(read_trace("azure-code-2023")) == 8_819


def test_chunked_replay_equals_one_window():
    one = _trace_wl(path="azure-code-2023").sample(0.0, 3600.0)
    wl = _trace_wl(path="azure-code-2023")
    parts = [wl.sample(float(i), float(i + 1)) for i in range(3600)]
    for f in ("t", "n_in", "n_out"):
        assert np.array_equal(getattr(one, f), np.concatenate([getattr(p, f) for p in parts]))


def test_rate_integrates_to_request_count():
    wl = _trace_wl(path="azure-conv-2023")
    t = np.arange(0.0, 3600.0, 1.0) + 0.5
    assert wl.rate(t).sum() == pytest.approx(19_366, rel=0.01)
    assert wl.rate(np.array([5000.0]))[0] == 0.0  # after the end of a non-looped trace


def test_mooncake_reader():
    tr = read_mooncake(DATA / "mooncake" / "conversation_trace.jsonl")
    assert len(tr) == 12_031
    assert round(tr.n_in.mean()) == 12_035  # CALIBRATION E [MC]
    assert tr.span_s == pytest.approx(3537.0, abs=1.0)


def test_bad_csv_row_names_file_and_line(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                 "2023-11-16 18:15:46.68,374,44\n"
                 "2023-11-16 18:15:50.99,396,109\n"
                 "2023-11-16 18:15:51.22,abc,55\n"
                 "2023-11-16 18:15:52.00,12,0\n"
                 "2023-11-16 18:15:53.00,12,9\n")
    with pytest.raises(TraceError, match=r"t\.csv:4: .*input tokens"):
        _trace_wl(path=str(p))
    wl = _trace_wl(path="t.csv", base_dir=tmp_path, on_bad_row="skip")
    assert wl.trace_skipped == 2  # line 4 (abc) and line 5 (0 output tokens)
    b = wl.sample(0, 100)
    assert len(b) == 3 and list(b.n_out) == [44, 109, 9]
    assert b.t[1] == pytest.approx(4.31, abs=1e-6)


def test_bad_mooncake_line_and_missing_column(tmp_path):
    p = tmp_path / "m.jsonl"
    p.write_text('{"timestamp": 0, "input_length": 10, "output_length": 5}\n'
                 '{"timestamp": 5, "input_length": 10}\n')
    with pytest.raises(TraceError, match=r"m\.jsonl:2: .*output_length"):
        _trace_wl(path=str(p), format="mooncake")
    q = tmp_path / "c.csv"
    q.write_text("Timestamp,Request tokens,Response tokens\n0,3,4\n")
    with pytest.raises(TraceError, match=r"c\.csv:1: no column 'TIMESTAMP'"):
        _trace_wl(path=str(q), format="csv")
    with pytest.raises(TraceError, match="file not found"):
        _trace_wl(path="no-such-trace.csv")


def test_generic_csv_with_column_mapping(tmp_path):
    p = tmp_path / "burst.csv"
    rows = ["Timestamp,Model,Request tokens,Response tokens"] + \
           [f"{1000 + 2 * i},gpt,{100 + i},{10 + i}" for i in range(50)]
    p.write_text("\n".join(rows) + "\n")
    cols = {"time": "Timestamp", "input": "Request tokens", "output": 3}
    b = _trace_wl(path=str(p), format="csv", columns=cols, time_unit="s").sample(0, 1000)
    assert len(b) == 50 and b.t[0] == 0.0 and b.t[-1] == 98.0
    assert b.n_in[-1] == 149 and b.n_out[-1] == 59


def test_time_scale_rate_scale_offset_and_loop():
    base = _trace_wl(path="azure-conv-2023").sample(0, 1e5)
    slow = _trace_wl(path="azure-conv-2023", time_scale=2.0).sample(0, 1e5)
    assert np.allclose(slow.t, 2 * base.t) and np.array_equal(slow.n_in, base.n_in)
    half = _trace_wl(path="azure-conv-2023", rate_scale=0.5, seed=3).sample(0, 1e5)
    assert abs(len(half) - 19_366 / 2) < 4 * np.sqrt(19_366 / 4)
    dbl = _trace_wl(path="azure-conv-2023", rate_scale=1.5, scale=2.0, seed=3).sample(0, 1e5)
    assert abs(len(dbl) - 3 * 19_366) < 1 and np.all(np.diff(dbl.t) >= 0)
    off = _trace_wl(path="azure-conv-2023", start_offset="10 min").sample(0, 1e5)
    assert len(off) == np.sum(base.t >= 600) and off.t[0] == pytest.approx(base.t[base.t >= 600][0] - 600)
    loop = _trace_wl(path="azure-conv-2023", loop=True)
    period = loop.arrivals.period
    assert period == pytest.approx(base.t[-1] * (1 + 1 / 19_365))
    b1 = loop.sample(0, period)
    b2 = loop.sample(period, 2 * period)
    assert len(b1) == len(b2) == 19_366
    assert np.allclose(b2.t - period, b1.t) and np.array_equal(b2.n_out, b1.n_out)


def test_trace_classes_drawn_by_share():
    spec = WorkloadSpec(arrivals={"kind": "trace", "path": "azure-conv-2023"},
                        classes=[{"name": "a", "preset": "chat", "share": 0.25},
                                 {"name": "b", "preset": "chat", "share": 0.75}])
    wl = build_workload(spec, np.random.SeedSequence(2))
    b = wl.sample(0, 4000)
    assert np.mean(b.cls == 1) == pytest.approx(0.75, abs=0.015)
    assert wl.classes[0].mean_output == pytest.approx(b.n_out.mean())
