"""Token-length distributions: lognormal by median/p99, caps, cap mass, empirical, presets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from dcsim.scenario.workload import RequestClassSpec, WorkloadSpec
from dcsim.workload import build_workload
from dcsim.workload.lengths import EmpiricalLength, FixedLength, LogNormalLength
from dcsim.workload.model import resolve_class
from dcsim.workload.presets import PRESETS


def _rng(s=0):
    return np.random.default_rng(s)


def test_lognormal_reproduces_median_and_p99():
    d = LogNormalLength(median=800.0, p99=6000.0)
    x = d.sample(400_000, _rng(1))
    assert x.dtype == np.int64 and x.min() >= 1
    assert np.median(x) == pytest.approx(800, rel=0.01)
    assert np.percentile(x, 99) == pytest.approx(6000, rel=0.02)


def test_lognormal_uncapped_mean_matches_closed_form_and_samples():
    d = LogNormalLength(median=500.0, p99=4000.0)
    s = d.sigma
    assert d.mean() == pytest.approx(500 * math.exp(s * s / 2), rel=1e-4)  # rounding is negligible
    assert d.var() == pytest.approx(500**2 * math.exp(s * s) * (math.exp(s * s) - 1), rel=1e-3)
    x = d.sample(400_000, _rng(2))
    assert abs(x.mean() - d.mean()) < 4 * math.sqrt(d.var() / x.size)


@pytest.mark.parametrize("cap", [300, 1000, 200_000])  # the last one uses the continuous tail path
def test_capped_mean_matches_samples_and_shows_mass_at_cap(cap):
    d = LogNormalLength(median=200.0 if cap < 10_000 else 20_000.0,
                        p99=1500.0 if cap < 10_000 else 300_000.0, cap=cap)
    x = d.sample(400_000, _rng(3))
    assert x.max() == cap
    assert abs(x.mean() - d.mean()) < 4 * math.sqrt(d.var() / x.size)
    assert x.var() == pytest.approx(d.var(), rel=0.03)
    frac = np.mean(x == cap)
    assert abs(frac - d.p_cap()) < 4 * math.sqrt(d.p_cap() * (1 - d.p_cap()) / x.size) + 1e-6
    # the cap holds mass far above the density just below it: outputs pile up at the cap
    assert frac > 20 * np.mean(x == cap - 1)
    uncapped = LogNormalLength(median=d.median, p99=d.p99)
    assert d.mean() < uncapped.mean()


def test_capped_mean_monotone_in_cap_and_tends_to_uncapped():
    caps = [50, 100, 500, 2000, 10_000, 100_000]
    means = [LogNormalLength(median=300.0, p99=3000.0, cap=c).mean() for c in caps]
    assert np.all(np.diff(means) > 0)
    assert means[-1] == pytest.approx(LogNormalLength(median=300.0, p99=3000.0).mean(), rel=1e-4)


def test_cap_mass_runaway_to_cap():
    q = 0.05
    d = LogNormalLength(median=150.0, p99=900.0, cap=4096, cap_mass=q)
    base = LogNormalLength(median=150.0, p99=900.0, cap=4096)
    assert d.p_cap() == pytest.approx(q + (1 - q) * base.p_cap())
    assert d.mean() == pytest.approx(q * 4096 + (1 - q) * base.mean())
    x = d.sample(200_000, _rng(4))
    assert abs(np.mean(x == 4096) - d.p_cap()) < 4 * math.sqrt(d.p_cap() / x.size)
    assert abs(x.mean() - d.mean()) < 4 * math.sqrt(d.var() / x.size)


def test_fixed_hand_computed_moments():
    assert FixedLength(value=100, cap=50).mean() == 50
    d = FixedLength(value=10, cap=100, cap_mass=0.2)
    assert d.mean() == pytest.approx(28.0)                      # 0.2*100 + 0.8*10
    assert d.var() == pytest.approx(0.2 * 1e4 + 0.8 * 100 - 28.0**2)  # 1296
    assert FixedLength(value=7).var() == 0.0
    assert np.all(FixedLength(value=7).sample(10, _rng()) == 7)


def test_empirical_moments_and_cap():
    d = EmpiricalLength(values=(10, 20, 400), weights=(1, 2, 1))
    assert d.mean() == pytest.approx((10 + 40 + 400) / 4)
    dc = EmpiricalLength(values=(10, 20, 400), weights=(1, 2, 1), cap=100)
    assert dc.mean() == pytest.approx((10 + 40 + 100) / 4)
    assert dc.p_cap() == pytest.approx(0.25)
    x = d.sample(100_000, _rng(5))
    assert set(np.unique(x)) == {10, 20, 400}
    assert np.mean(x == 20) == pytest.approx(0.5, abs=0.01)


def test_invalid_distributions_rejected():
    with pytest.raises(ValueError):
        LogNormalLength(median=100.0, p99=50.0)
    with pytest.raises(ValueError, match="finite cap"):
        FixedLength(value=3, cap_mass=0.1)
    with pytest.raises(ValidationError, match="p99"):
        RequestClassSpec(name="x", input={"kind": "lognormal", "median": 10, "p99": 5},
                         output={"kind": "fixed", "value": 3}, slo_ttft="1 s", slo_tpot="50 ms")
    with pytest.raises(ValidationError, match="no preset"):
        RequestClassSpec(name="x", input={"kind": "fixed", "value": 3})
    with pytest.raises(ValidationError, match="exactly one"):
        RequestClassSpec(name="x", preset="chat", output={"kind": "empirical"})


def test_presets_match_their_sources():
    cls = {n: resolve_class(RequestClassSpec(name=n, preset=n), None) for n in PRESETS}
    # chat and code: means of the Azure 2023 traces [AZ23] (fit matches the mean by construction)
    assert cls["chat"].mean_input == pytest.approx(1154.7, rel=2e-3)
    assert cls["chat"].mean_output == pytest.approx(211.1, rel=2e-3)
    assert cls["code"].mean_input == pytest.approx(2047.8, rel=2e-3)
    assert cls["code"].mean_output == pytest.approx(27.9, rel=5e-3)
    # reasoning: ML.ENERGY GPQA mean output 6,988 tokens (CALIBRATION A3)
    assert cls["reasoning"].mean_output == pytest.approx(6988, rel=0.01)
    # agentic: Mooncake mean input 12,035; input-dominated, an order of magnitude above chat
    assert cls["agentic"].mean_input == pytest.approx(12035, rel=0.01)
    assert cls["agentic"].mean_input > 10 * cls["chat"].mean_input
    assert cls["agentic"].mean_input / cls["agentic"].mean_output > 20
    assert cls["summarization"].mean_input > 5 * cls["summarization"].mean_output
    # agentic per-call spread: p95/p5 ~ the "up to 30x" run-to-run variation [AGENT]
    s = cls["agentic"].input.sigma
    assert 20 < math.exp(2 * 1.6449 * s) < 45
    for c in cls.values():
        assert c.slo_ttft_s > 0 and c.slo_tpot_s > 0
        if c.max_tokens is not None:
            assert c.output.sample(1000, _rng()).max() <= c.max_tokens


def test_preset_override_and_cap_saturation():
    base = resolve_class(RequestClassSpec(name="r", preset="reasoning"), None)
    small = resolve_class(RequestClassSpec(name="r", preset="reasoning", max_tokens=4096), None)
    over = resolve_class(RequestClassSpec(name="r", preset="reasoning", max_tokens=4096,
                                          cap_mass="10%", slo_tpot="50 ms"), None)
    assert small.max_tokens == 4096 and small.mean_output < base.mean_output
    assert small.output.p_cap() > 0.3  # median 5,483 > 4,096: most reasoning outputs hit the cap
    assert over.output.p_cap() == pytest.approx(0.1 + 0.9 * small.output.p_cap())
    assert over.slo_tpot_s == pytest.approx(0.05) and over.slo_ttft_s == base.slo_ttft_s


def test_workload_mixture_means_and_sampled_lengths():
    spec = WorkloadSpec(arrivals={"kind": "poisson", "rate": "200 /s"},
                        classes=[{"name": "chat", "preset": "chat", "share": 0.7},
                                 {"name": "code", "preset": "code", "share": 0.3}])
    wl = build_workload(spec, np.random.SeedSequence(9))
    c = wl.classes
    assert wl.mean_input == pytest.approx(0.7 * c[0].mean_input + 0.3 * c[1].mean_input)
    b = wl.sample(0, 500)
    assert np.mean(b.cls == 0) == pytest.approx(0.7, abs=0.01)
    for k, cl in enumerate(c):
        m = b.cls == k
        assert abs(b.n_out[m].mean() - cl.mean_output) < 4 * math.sqrt(cl.output.var() / m.sum())
        assert abs(b.n_in[m].mean() - cl.mean_input) < 4 * math.sqrt(cl.input.var() / m.sum())
    assert b.n_out[b.cls == 0].max() <= 1000 and b.n_in[b.cls == 1].max() <= 7437


def test_empirical_from_shipped_trace_column_is_exact():
    spec = WorkloadSpec(arrivals={"kind": "poisson", "rate": 1},
                        classes=[{"name": "chat", "preset": "chat",
                                  "output": {"kind": "empirical", "file": "azure-conv-2023",
                                             "column": "GeneratedTokens"}}])
    wl = build_workload(spec, np.random.SeedSequence(0))
    assert wl.classes[0].mean_output == pytest.approx(211.126, abs=1e-3)  # CALIBRATION V12: 211


def test_preset_numbers_are_reproduced_by_fit_script():
    """scripts/fit_presets.py on the real traces gives the lognormal p99s shipped in presets.py."""
    import importlib.util
    from pathlib import Path

    from dcsim.workload.trace import read_azure, read_mooncake

    root = Path(__file__).resolve().parents[1]
    data = root / "dcsim" / "data" / "sources"
    spec = importlib.util.spec_from_file_location("fit_presets", root / "scripts" / "fit_presets.py")
    fp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fp)

    def fitted_p99(x, cap):
        x = np.asarray(x, float)
        pc = float(np.mean(x >= cap)) if math.isfinite(cap) else 0.0
        s, q, _ = fp.fit_capped_lognormal(float(np.median(x)), float(x.mean()), pc, cap,
                                          float(np.percentile(x, 99)))
        return float(np.median(x)) * math.exp(2.3263478740408408 * s), q

    conv = read_azure(root / "dcsim" / "data" / "traces" / "AzureLLMInferenceTrace_conv.csv")
    mc = read_mooncake(data / "mooncake" / "conversation_trace.jsonl")
    checks = [(conv.n_in, math.inf, PRESETS["chat"]["input"]),
              (conv.n_out, 1000.0, PRESETS["chat"]["output"]),
              (mc.n_in, 131072.0, PRESETS["agentic"]["input"])]
    for x, cap, ship in checks:
        p99, q = fitted_p99(x, cap)
        assert p99 == pytest.approx(ship["p99"], rel=1e-4) and q == 0.0
        assert np.median(x) == ship["median"]
    med, mean, top, cap, p99, nf = fp.gpqa_pooled(data / "ml-energy-v3")
    s, q, _ = fp.fit_capped_lognormal(med, mean, top, cap, p99)
    assert nf == 11 and mean == pytest.approx(6988, rel=1e-3)  # CALIBRATION A3
    assert med * math.exp(2.3263478740408408 * s) == pytest.approx(PRESETS["reasoning"]["output"]["p99"], rel=1e-4)


def test_moments_properties_hypothesis():
    from hypothesis import given, settings, strategies as st

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(med=st.floats(1.0, 5e4), ratio=st.floats(1.05, 50.0), cap=st.integers(1, 300_000),
           q=st.floats(0.0, 0.5))
    def check(med, ratio, cap, q):
        d = LogNormalLength(median=med, p99=med * ratio, cap=cap, cap_mass=q)
        m = d.mean()
        assert 1.0 - 1e-9 <= m <= cap + 1e-9
        assert d.var() >= 0.0 and 0.0 <= d.p_cap() <= 1.0 + 1e-12
        assert d.var() <= (cap - 1) ** 2 / 4 + 1e-6 * cap * cap  # Popoviciu bound on [1, cap]
        more = LogNormalLength(median=med, p99=med * ratio, cap=cap, cap_mass=min(q + 0.1, 1.0))
        assert more.mean() >= m - 1e-9 * cap  # more runaway mass never lowers the mean

    check()


def test_decode_context_is_the_residence_weighted_context_of_the_sampled_requests():
    """Workload.decode_context (the KV tokens a running sequence holds, for the fluid table's largest
    batch) equals E[n_out (n_in + n_out/2)] / E[n_out] over the requests the workload draws, per pool
    of classes; it exceeds the request mean mean_in + mean_out/2 (length bias), most for long outputs."""
    spec = WorkloadSpec.model_validate({
        "arrivals": {"kind": "poisson", "rate": "200 /s"},
        "classes": [{"name": "chat", "preset": "chat", "share": 0.9},
                    {"name": "reasoning", "preset": "reasoning", "share": 0.1}]})
    wl = build_workload(spec, np.random.SeedSequence(3))
    b = wl.sample(0, 3000)
    for cis in ([0], [1], [0, 1]):
        m = np.isin(b.cls, cis)
        n_in, n_out = b.n_in[m].astype(float), b.n_out[m].astype(float)
        sampled = float(np.sum(n_out * (n_in + 0.5 * n_out)) / np.sum(n_out))
        assert wl.decode_context(cis) == pytest.approx(sampled, rel=0.03), cis
        cl = [wl.classes[i] for i in cis]
        sh = sum(c.share for c in cl)
        naive = sum(c.share * (c.mean_input + 0.5 * c.mean_output) for c in cl) / sh
        assert wl.decode_context(cis) > naive
    assert wl.decode_context([1]) / (wl.classes[1].mean_input + 0.5 * wl.classes[1].mean_output) > 1.3
    assert wl.decode_context() == wl.decode_context([0, 1])


def test_served_means_are_the_class_sums_made_once():
    """Workload.served_means (mean input, mean output, output per arrival) is the share-weighted sums over the
    classes; the classes are frozen, so it sums them once per selection of classes, not at each of the fluid
    engine's ticks (output_per_arrival in demand_tok_s)."""
    spec = WorkloadSpec.model_validate({
        "arrivals": {"kind": "poisson", "rate": "200 /s"},
        "classes": [{"name": "chat", "preset": "chat", "share": 0.9},
                    {"name": "reasoning", "preset": "reasoning", "share": 0.1}]})
    wl = build_workload(spec, np.random.SeedSequence(3))
    c0, c1 = wl.classes
    per = 0.9 * c0.mean_output + 0.1 * c1.mean_output
    assert wl.served_means() == pytest.approx((0.9 * c0.mean_input + 0.1 * c1.mean_input, per, per), rel=1e-12)
    assert wl.served_means([1]) == pytest.approx((c1.mean_input, c1.mean_output, 0.1 * c1.mean_output), rel=1e-12)

    class Counted(list):  # counts the reads of the class list
        reads = 0

        def __iter__(self):
            Counted.reads += 1
            return super().__iter__()

        def __getitem__(self, i):
            Counted.reads += 1
            return super().__getitem__(i)
    first = (wl.served_means(), wl.served_means((1,)), wl.output_per_arrival, wl.mean_input, wl.mean_output)
    wl.classes = Counted(wl.classes)
    t0 = np.arange(10) * 60.0
    again = (wl.served_means(), wl.served_means([1]), wl.output_per_arrival, wl.mean_input, wl.mean_output)
    assert again == first  # the same floats
    wl.demand_tok_s(t0, 60.0), wl.output_tokens(t0, 60.0)
    assert Counted.reads == 0


def test_node_table_largest_batch_follows_the_kv_context():
    """The fluid table's largest batch is the KV capacity over the context a running sequence holds."""
    from dcsim.engine.tables import node_table
    from dcsim.node import build_node
    from dcsim.scenario.node import NodeSpec
    node = build_node(NodeSpec(gpu="B200", model="llama-3.1-405b", precision="fp8", tensor_parallel=4, max_batch=256))
    clocks = np.array([0.5, 1.0])
    plain = node_table(node, 358.0, 6987.0, clocks)
    biased = node_table(node, 358.0, 6987.0, clocks, decode_ctx=5872.0)
    assert plain.batch[-1] == int(node.kv_capacity_tokens // (358.0 + 0.5 * 6987.0))
    assert biased.batch[-1] == int(node.kv_capacity_tokens // 5872.0) < plain.batch[-1]
    assert node.batch_limit(358.0, 6987.0, decode_ctx=5872.0) == pytest.approx(node.kv_capacity_tokens / 5872.0)


def test_residence_output_context_of_a_histogram():
    """E[o^2]/(2E[o]) with lengths uniform within bins: half the length for equal outputs, 2/3 of
    the mean for a uniform spread from 0 to twice it; ``mean_out`` rescales the shape."""
    from dcsim.workload.lengths import residence_output_context
    assert residence_output_context([399.5, 400.5], [10]) == pytest.approx(200.0, rel=1e-5)
    assert residence_output_context([0, 1000], [7]) == pytest.approx(1000 / 3)  # uniform 0..1000: mean 500
    edges = np.linspace(0, 2000, 201)
    assert residence_output_context(edges, np.ones(200)) == pytest.approx(2000 / 3, rel=1e-4)
    assert residence_output_context(edges, np.ones(200), mean_out=500.0) == pytest.approx(500 * 2 / 3, rel=1e-4)
    for bad in (([0, 1], [1, 2]), ([1, 0], [1]), ([0, 1], [0]), ([0, 1], [-1])):
        with pytest.raises(ValueError):
            residence_output_context(*bad)
