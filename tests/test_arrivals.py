"""Arrival processes: counts, burstiness, thinning, chunked generation, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from dcsim.scenario.workload import WorkloadSpec
from dcsim.workload import build_workload
from dcsim.workload.arrivals import GammaRenewal, Mmpp2, PoissonProcess
from dcsim.workload.trace import TraceError


def _wl(arrivals, seed=1, start_hour=0.0, **kw):
    return build_workload(WorkloadSpec(arrivals=arrivals, **kw), np.random.SeedSequence(seed), start_hour=start_hour)


def _chunked(wl, T, dt):
    edges = np.arange(0.0, T + 1e-9, dt)
    ts = [wl.sample(a, b).t for a, b in zip(edges[:-1], edges[1:])]
    return np.concatenate(ts)


def test_poisson_count_mean_and_variance():
    wl = _wl({"kind": "poisson", "rate": "20 req/s"})
    counts = np.array([len(wl.sample(10.0 * i, 10.0 * (i + 1))) for i in range(2000)])
    # N(10 s) ~ Poisson(200): mean 200 (SE 0.32), variance 200 (SE ~6.3)
    assert abs(counts.mean() - 200.0) < 1.5
    assert abs(counts.var(ddof=1) / 200.0 - 1.0) < 0.1


def test_rate_units_and_scale():
    a = _wl({"kind": "poisson", "rate": "1200 /min"}).sample(0, 1000)
    b = _wl({"kind": "poisson", "rate": "20 /s", "scale": 2.0}).sample(0, 1000)
    assert abs(len(a) - 20_000) < 4 * np.sqrt(20_000)
    assert abs(len(b) - 40_000) < 4 * np.sqrt(40_000)


@pytest.mark.parametrize("cv", [0.5, 2.5])
def test_gamma_renewal_cv_and_rate(cv):
    wl = _wl({"kind": "gamma", "rate": 10.0, "cv": cv}, seed=3)
    t = _chunked(wl, 20_000.0, 7.0)  # ~200k arrivals over many window boundaries
    gaps = np.diff(t)
    assert np.all(gaps >= 0)
    assert abs(len(t) / 20_000.0 - 10.0) / 10.0 < 0.03
    assert abs(gaps.std() / gaps.mean() - cv) / cv < 0.05


def test_gamma_burstier_than_poisson():
    """Counts of a CV=3 renewal are overdispersed (asymptotic IDC = cv^2 = 9); Poisson ~1."""
    def idc(wl):
        c = np.array([len(wl.sample(20.0 * i, 20.0 * (i + 1))) for i in range(1500)])
        return c.var() / c.mean()
    assert idc(_wl({"kind": "gamma", "rate": 5.0, "cv": 3.0})) > 5.0
    assert abs(idc(_wl({"kind": "poisson", "rate": 5.0})) - 1.0) < 0.15


def test_diurnal_thinning_counts_per_hour():
    mean, amp, peak = 5.0, 0.8, 14.0
    wl = _wl({"kind": "diurnal", "mean_rate": mean, "amplitude": amp, "peak_hour": peak})
    t = _chunked(wl, 86400.0, 60.0)
    counts = np.bincount((t // 3600).astype(int), minlength=24)
    h = np.arange(24)
    # exact integral of mean*(1 + a cos(2 pi (x - peak)/24)) over [h, h+1) hours
    w = 2 * np.pi / 24
    expect = 3600 * mean * (1 + amp * (np.sin(w * (h + 1 - peak)) - np.sin(w * (h - peak))) / w)
    assert np.all(np.abs(counts - expect) < 4.5 * np.sqrt(expect))
    assert counts.argmax() in (13, 14)
    assert abs(counts.sum() - 86400 * mean) < 4 * np.sqrt(86400 * mean)
    assert wl.rate(np.array([14 * 3600.0]))[0] == pytest.approx(mean * (1 + amp))
    assert wl.rate(np.array([2 * 3600.0]))[0] == pytest.approx(mean * (1 - amp))


def test_diurnal_profile_is_normalised_and_respects_start_hour():
    prof = [1.0] * 12 + [3.0] * 12  # mean 2 -> multipliers 0.5 and 1.5
    wl = _wl({"kind": "diurnal", "mean_rate": 4.0, "profile": prof}, start_hour=6)
    t = _chunked(wl, 86400.0, 300.0)
    counts = np.bincount((t // 3600).astype(int), minlength=24)
    local_hour = (np.arange(24) + 6) % 24
    expect = np.where(local_hour < 12, 2.0, 6.0) * 3600
    assert np.all(np.abs(counts - expect) < 4.5 * np.sqrt(expect))
    assert wl.mean_rate == 4.0


def test_profile_csv_step_and_bad_row(tmp_path):
    p = tmp_path / "rate.csv"
    p.write_text("time,rate\n0,2\n1000,8\n2000,8\n")
    wl = build_workload(WorkloadSpec(arrivals={"kind": "profile_csv", "path": "rate.csv",
                                               "interpolation": "step"}),
                        np.random.SeedSequence(5), base_dir=tmp_path)
    t = _chunked(wl, 2000.0, 50.0)
    n1, n2 = np.sum(t < 1000), np.sum(t >= 1000)
    assert abs(n1 - 2000) < 4 * np.sqrt(2000) and abs(n2 - 8000) < 4 * np.sqrt(8000)
    assert wl.mean_rate == pytest.approx(5.0, rel=1e-3)
    bad = tmp_path / "bad.csv"
    bad.write_text("time,rate\n0,2\n10,x\n")
    with pytest.raises(TraceError, match=r"bad\.csv:3"):
        build_workload(WorkloadSpec(arrivals={"kind": "profile_csv", "path": str(bad)}),
                       np.random.SeedSequence(5))


def test_mmpp_rate_and_burstiness():
    rates, soj = [40.0, 2.0], [10.0, 30.0]
    wl = _wl({"kind": "mmpp", "rates": rates, "mean_sojourn": soj}, seed=7)
    assert wl.mean_rate == pytest.approx((40 * 10 + 2 * 30) / 40)
    t = _chunked(wl, 200_000.0, 50.0)  # 5,000 modulation cycles: rate SE ~1.3%
    assert abs(len(t) / 200_000.0 - wl.mean_rate) / wl.mean_rate < 0.05
    c = np.bincount((t // 20).astype(int), minlength=10_000)
    assert c.var() / c.mean() > 5.0  # strongly overdispersed vs Poisson (1)


@pytest.mark.parametrize("proc", ["poisson", "gamma", "mmpp"])
def test_chunked_equals_one_window_statistically(proc):
    """N(T) over 100 windows vs one window: same mean and variance over 300 seeds."""
    def make(seed):
        rng = np.random.default_rng(seed)
        return {"poisson": lambda: PoissonProcess(8.0, rng),
                "gamma": lambda: GammaRenewal(8.0, 2.0, rng),
                "mmpp": lambda: Mmpp2([15.0, 1.0], [2.0, 2.0], rng)}[proc]()
    T = 50.0
    one = np.array([len(make(s).sample(0.0, T)) for s in range(300)])
    many = []
    for s in range(300, 600):
        p = make(s)
        many.append(sum(len(p.sample(i * 0.5, (i + 1) * 0.5)) for i in range(100)))
    many = np.array(many)
    se = np.sqrt(one.var() / 300 + many.var() / 300)
    assert abs(one.mean() - many.mean()) < 4 * se
    assert 0.7 < many.var() / one.var() < 1.4
    assert abs(one.mean() - 400.0) < 4 * np.sqrt(one.var() / 300)


@pytest.mark.parametrize("arr", [
    {"kind": "poisson", "rate": 30.0},
    {"kind": "gamma", "rate": 30.0, "cv": 4.0},
    {"kind": "mmpp", "rates": [50.0, 5.0], "mean_sojourn": [3.0, 6.0]},
    {"kind": "diurnal", "mean_rate": 30.0, "amplitude": 0.5, "peak_hour": 0, "period": "1 h"},
])
def test_reproducible_and_sorted(arr):
    def run(seed):
        wl = _wl(arr, seed=seed)
        bs = [wl.sample(i * 1.0, (i + 1) * 1.0) for i in range(200)]
        return np.concatenate([b.t for b in bs]), np.concatenate([b.n_in for b in bs])
    t1, n1 = run(11)
    t2, n2 = run(11)
    t3, _ = run(12)
    assert np.array_equal(t1, t2) and np.array_equal(n1, n2)
    assert not (t1.size == t3.size and np.array_equal(t1, t3))
    assert np.all(np.diff(t1) >= 0) and t1.min() >= 0 and t1.max() < 200


def test_windows_must_not_overlap_but_may_skip():
    wl = _wl({"kind": "poisson", "rate": 100.0})
    wl.sample(0, 10)
    with pytest.raises(ValueError, match="consecutive"):
        wl.sample(5, 15)
    b = wl.sample(20, 30)
    assert b.t.min() >= 20 and b.t.max() < 30


def test_shares_accept_percent():
    spec = WorkloadSpec(arrivals={"kind": "poisson", "rate": 1},
                        classes=[{"name": "a", "preset": "chat", "share": "60%"},
                                 {"name": "b", "preset": "code", "share": "40%"}])
    assert [c.share for c in spec.classes] == [0.6, 0.4]


def test_spec_errors_are_clear():
    with pytest.raises(ValidationError, match="shares must sum to 1"):
        WorkloadSpec(arrivals={"kind": "poisson", "rate": 1},
                     classes=[{"name": "a", "preset": "chat", "share": 0.5},
                              {"name": "b", "preset": "code", "share": 0.3}])
    with pytest.raises(ValidationError, match="24 hourly"):
        WorkloadSpec(arrivals={"kind": "diurnal", "mean_rate": 1, "profile": [1, 2]})
    with pytest.raises(ValidationError, match="peak_hour"):
        WorkloadSpec(arrivals={"kind": "diurnal", "mean_rate": 1, "amplitude": 0.5})
    with pytest.raises(ValidationError, match="format 'csv'"):
        WorkloadSpec(arrivals={"kind": "trace", "path": "x.jsonl", "format": "mooncake",
                               "columns": {"time": "ts"}})
    with pytest.raises(ValidationError, match="must be > 0"):
        WorkloadSpec(arrivals={"kind": "poisson", "rate": "-3 /s"})
    with pytest.raises(ValidationError):
        WorkloadSpec(arrivals={"kind": "weibull", "rate": 1})
    with pytest.raises(ValidationError, match="unique"):
        WorkloadSpec(arrivals={"kind": "poisson", "rate": 1},
                     classes=[{"name": "a", "preset": "chat", "share": 0.5},
                              {"name": "a", "preset": "code", "share": 0.5}])


def test_docs_yaml_snippets_are_valid_and_build():
    import re
    from pathlib import Path

    import yaml

    doc = (Path(__file__).resolve().parents[1] / "docs" / "workload.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", doc, flags=re.S)
    assert len(blocks) >= 8
    for text in blocks:
        spec = WorkloadSpec(**yaml.safe_load(text)["workload"])
        if spec.arrivals.kind == "trace" and spec.arrivals.path.endswith(".csv"):
            continue  # user file (BurstGPT) not shipped
        wl = build_workload(spec, np.random.SeedSequence(0))
        b = wl.sample(0.0, 60.0)
        assert len(b) > 0 and wl.mean_output > 0
