"""A model's context window (prompt + answer, vLLM's max_model_len) applied to requests (audit F #5): a trace row whose
prompt leaves no room for one answer token is refused, a longer answer is cut at the window less the prompt, and
validate / the run say how many, naming the file and its columns; a synthetic class whose lengths can overrun the
window is warned with its exact expected share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dcsim.engine.build import build_models
from dcsim.engine.run import run
from dcsim.scenario import ScenarioError, load_scenario, read_yaml
from dcsim.scenario.workload import RequestClassSpec, WorkloadSpec
from dcsim.workload import build_workload
from dcsim.workload.context import context_cut, window_moments
from dcsim.workload.model import resolve_class
from dcsim.workload.trace import TraceError, read_trace

ROOT = Path(__file__).resolve().parents[1]
W70 = 131_072  # Llama-3.1-70B's max_position_embeddings (dcsim/data/models.yaml)


def _trace(tmp_path, rows) -> Path:
    p = tmp_path / "tr.csv"
    p.write_text("t,in,out\n" + "".join(f"{t},{i},{o}\n" for t, i, o in rows))
    return p


def _arr(p: Path) -> dict:
    return {"kind": "trace", "path": str(p), "format": "csv", "time_unit": "s",
            "columns": {"time": "t", "input": "in", "output": "out"}}


def _scenario(workload: dict, duration: str = "10 min") -> dict:
    raw = read_yaml(ROOT / "scenarios" / "reference.yaml")
    raw["workload"] = workload
    raw["duration"] = duration
    raw["facility"]["interconnect"] = "2 MW"  # never power-bound: nothing shed
    raw.pop("expect", None)
    return raw


def test_context_cut_follows_vllm():
    # prompt >= window: refused (no room for one answer token); else the answer stops at window - prompt
    n_in = np.array([10, 99, 100, 150, 40])
    n_out = np.array([5, 7, 1, 1, 80])
    kept, out = context_cut(n_in, n_out, 100)
    assert kept.tolist() == [True, True, False, False, True]
    assert out[kept].tolist() == [5, 1, 60]


def test_trace_rows_refused_and_cut_keep_their_times(tmp_path):
    # the production path (build_workload, one window for every class): the refused row is dropped before the
    # replay, the others keep their times and have their answers cut (apply_context_window, a copy of this path
    # only a test called, is gone)
    p = _trace(tmp_path, [(0.0, W70, 10), (1.0, 1000, 200), (2.0, 1000, 10_000_000), (3.0, W70 - 1, 5)])
    wl = build_workload(WorkloadSpec(arrivals=_arr(p), classes=[{"name": "c", "share": 1.0, "preset": "chat"}]),
                        np.random.SeedSequence(1), max_context=W70, context_of="llama-3.1-70b")
    got = wl.sample(0.0, 10.0)
    assert got.t.tolist() == [1.0, 2.0, 3.0]  # the refused first row does not move the others
    assert got.n_out.tolist() == [200, W70 - 1000, 1]
    assert wl.context_refused(10.0) == {"requests": 1.0, "in_tokens": float(W70), "out_tokens": 10.0,
                                        "cut_out_tokens": float((10_000_000 - (W70 - 1000)) + 4)}
    [w] = wl.context_warnings
    assert str(p) in w and "columns in, out" in w and "1 of its 4 requests (25 %)" in w and "2 (50 %)" in w


def test_read_trace_names_its_columns(tmp_path):
    # the warnings name the columns read_trace read (model.py repeated its format lookup and defaults)
    p = _trace(tmp_path, [(0.0, 10, 5)])
    assert read_trace(str(p), "csv", None, type("C", (), {"time": "t", "input": "in", "output": "out"})()).columns \
        == "columns in, out"
    m = tmp_path / "m.jsonl"
    m.write_text('{"timestamp": 0, "input_length": 10, "output_length": 5}\n')
    assert read_trace(str(m), "mooncake").columns == "input_length, output_length"


def test_every_row_refused_is_an_error_naming_the_file(tmp_path):
    p = _trace(tmp_path, [(0.0, 5000, 10), (1.0, 4096, 10)])
    with pytest.raises(TraceError, match=r"tr\.csv.*every one of its 2 requests"):
        build_workload(WorkloadSpec(arrivals=_arr(p), classes=[{"name": "c", "share": 1.0, "preset": "chat"}]),
                       np.random.SeedSequence(1), max_context=4096)


def test_validate_warns_and_the_run_serves_the_cut_trace(tmp_path):
    # every 100th request asks for 10 M output tokens (audit F #5): validate said nothing of the window before
    rows = [(0.5 * k, 1000, 10_000_000 if k % 100 == 0 else 200) for k in range(600)]
    p = _trace(tmp_path, rows)
    sc = load_scenario(_scenario({"arrivals": _arr(p), "classes": [{"name": "chat", "preset": "chat", "share": 1.0}]}))
    m = build_models(sc)
    warn = [w for w in m.warnings if "context window" in w]
    assert len(warn) == 1 and str(p) in warn[0] and "columns in, out" in warn[0]
    assert "6 (1 %) ask for more answer than the window leaves" in warn[0]
    # the pool's mean output is the cut trace's: 6 answers of 131,072 - 1,000 tokens, the rest 200
    want = (6 * (W70 - 1000) + 594 * 200) / 600
    assert m.workload.mean_output == want
    res = run(sc)
    assert res.report["tokens_accounting"]["arrived"] == 6 * (W70 - 1000) + 594 * 200  # integer sums: exact
    assert any("context window" in w for w in res.report["warnings"])


def test_window_moments_excess_is_exact():
    # the agentic preset's max_input 131,072 is Llama-3.1-70B's whole window: the prompts at that cap are refused
    rng = np.random.default_rng(7)
    for preset, w in (("agentic", W70), ("chat", 4096), ("reasoning", 32_768)):
        c = resolve_class(RequestClassSpec(name="x", preset=preset, share=1.0), None)
        m = window_moments(c.input, c.output, w)
        p_ref, p_cut, lost = m.p_refused, m.p_cut, m.cut_out
        n = 400_000
        kept, out = context_cut(c.input.sample(n, rng), o := c.output.sample(n, rng), w)
        se = lambda p: 5 * np.sqrt(max(p, 1e-6) / n)  # five standard errors
        assert abs(p_ref - (~kept).mean()) < se(p_ref)
        assert abs(p_cut - (kept & (out < o)).mean()) < se(p_cut)
        if p_cut * n > 1000:  # enough cut answers for the sampled mean to be within 5 %
            assert lost == pytest.approx(float(np.where(kept, o - out, 0).mean()), rel=0.05)
    c = resolve_class(RequestClassSpec(name="x", preset="agentic", share=1.0), None)
    m = window_moments(c.input, c.output, 131_072 + 2000)  # caps inside: none
    assert (m.p_refused, m.p_cut, m.cut_out, m.binds) == (0.0, 0.0, 0.0, False)


def test_synthetic_class_that_overruns_the_window_is_warned():
    wl = {"arrivals": {"kind": "poisson", "rate": "5 req/s"},
          "classes": [{"name": "chat", "preset": "chat", "share": 0.5},
                      {"name": "agents", "preset": "agentic", "share": 0.5}]}
    m = build_models(load_scenario(_scenario(wl)))
    warn = [w for w in m.warnings if "context window" in w]
    assert len(warn) == 1 and warn[0].startswith("workload.classes[agents]") and "0.291 %" in warn[0]


def test_the_docs_example_prints_what_it_says(capsys):
    doc = (ROOT / "docs" / "workload.md").read_text().split("## Context window", 1)[1]
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/workload.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "[ True False] [130072      0]"
    assert out[1] == "['0.00291', '2.53e-05', '0.00643']"
    assert "# [ True False] [130072      0]" in code and "# ['0.00291', '2.53e-05', '0.00643']" in code


def _two_pools(workload: dict) -> dict:
    """The reference hall split in two pools: racks[0] Llama-3.1-70B (131,072) serves `long`, racks[1] Llama-2-70B
    (4,096) serves `chat`."""
    raw = _scenario(workload)
    g = {**raw["racks"][0], "name": "hall-b", "serves": ["chat"]}
    g["node"] = {**g["node"], "model": "llama-2-70b"}
    raw["racks"][0]["serves"] = ["long"]
    raw["racks"].append(g)
    return raw


def test_each_class_is_held_to_its_own_pools_window_synthetic():
    # one smallest window (Llama-2-70B's 4,096) was applied to every class: `long` was warned that 48.8 % of its
    # requests exceed 4,096 though only the 131,072 pool serves it
    wl = {"arrivals": {"kind": "poisson", "rate": "5 req/s"},
          "classes": [{"name": "long", "preset": "summarization", "share": 0.3},
                      {"name": "chat", "preset": "chat", "share": 0.7}]}
    m = build_models(load_scenario(_two_pools(wl)))
    assert m.context_window == [W70, 4096]
    warn = [w for w in m.warnings if "context window" in w]
    assert len(warn) == 1 and warn[0].startswith("workload.classes[chat]") and "llama-2-70b" in warn[0]
    assert "0.263 %" in warn[0]


def test_each_class_is_held_to_its_own_pools_window_trace(tmp_path):
    # every other row has a 5,000-token prompt: refused when drawn into `chat` (4,096), served whole in `long`
    # (131,072); one smallest window dropped every such row before the class draw
    rows = [(0.5 * k, 5000 if k % 2 else 1000, 100 if k % 2 else 3500) for k in range(800)]
    p = _trace(tmp_path, rows)
    wl = {"arrivals": _arr(p), "classes": [{"name": "long", "preset": "summarization", "share": 0.5},
                                            {"name": "chat", "preset": "chat", "share": 0.5}]}
    m = build_models(load_scenario(_two_pools(wl)))
    b = m.workload.sample(0.0, 400.0)
    long_, chat = b.cls == 0, b.cls == 1
    assert np.any(b.n_in[long_] == 5000)  # the 131,072 pool serves them
    assert np.all(b.n_in[long_] + b.n_out[long_] <= W70) and np.any(b.n_out[long_] == 3500)
    assert not np.any(b.n_in[chat] >= 4096)  # the 4,096 pool's are refused ...
    assert np.all(b.n_in[chat] + b.n_out[chat] <= 4096) and np.any(b.n_out[chat] == 3096)  # ... or cut
    # the classes' means are their own window's: `long` the whole trace, `chat` the rows of 1,000 cut at 3,096
    assert m.workload.classes[0].mean_output == 0.5 * (100 + 3500)
    assert m.workload.classes[1].mean_output == 3096 and m.workload.classes[1].mean_input == 1000
    # counted from the requests drawn (request fidelity): every row arrives or is refused
    got = m.workload.context_refused(400.0)
    refused = 800 - len(b)
    assert got == {"requests": refused, "in_tokens": refused * 5000, "out_tokens": refused * 100,
                   "cut_out_tokens": 404 * np.count_nonzero(b.n_out[chat] == 3096)}
    # not drawn (the fluid fidelities): expected over the draw, half the 400 long prompts refused, half the 400 long
    # answers cut by 404 tokens
    got = build_models(load_scenario(_two_pools(wl))).workload.context_refused(400.0)
    assert got == {"requests": 200.0, "in_tokens": 200.0 * 5000, "out_tokens": 200.0 * 100,
                   "cut_out_tokens": 200.0 * 404}
    warn = [w for w in m.warnings if "context window" in w]
    assert len(warn) == 1 and "llama-2-70b" in warn[0] and "for the requests of chat (50 % of them)" in warn[0]
    assert "2,000,000 prompt tokens" in warn[0]


@pytest.mark.parametrize("fidelity", ["fluid", "request"])
def test_refused_requests_reach_the_report(tmp_path, fidelity):
    # refused rows used to vanish: requests.arrived and tokens_accounting.arrived shrank and only a warning said so
    rows = [(0.5 * k, 5000 if k % 4 == 0 else 1000, 300 if k % 4 == 0 else (3500 if k % 4 == 1 else 200))
            for k in range(600)]  # 5 min of rows in a 10-min run: 150 refused, 150 cut by 404 tokens
    p = _trace(tmp_path, rows)
    raw = _scenario({"arrivals": _arr(p), "classes": [{"name": "chat", "preset": "chat", "share": 1.0}]})
    raw["racks"][0]["node"]["model"] = "llama-2-70b"
    raw["racks"][0]["count"] = 2  # a small hall: the request-level run is quick
    raw["fidelity"] = fidelity
    res = run(load_scenario(raw))
    tok = res.report["tokens_accounting"]
    assert (tok["refused_context_in"], tok["refused_context_out"], tok["cut_context_out"]) == (150 * 5000, 150 * 300,
                                                                                               150 * 404)
    assert tok["arrived"] == 150 * 3096 + 300 * 200  # the kept requests, their answers cut
    assert tok["arrived"] == pytest.approx(tok["served"] + tok["waiting"] + tok["shed"], rel=1e-9)
    if fidelity == "request":
        req = res.report["requests"]
        assert req["refused_context"] == 150 and req["arrived"] == 450
    warn = [w for w in res.report["warnings"] if "context window" in w]
    assert "750,000 prompt tokens" in warn[0] and "25 %" in warn[0]


def test_compare_says_runs_with_different_refused_shares_are_not_like_for_like():
    from dcsim.report.compare import _differences, _run_rows

    def rep(refused_out: float) -> dict:
        return {"scenario": "s", "seed": 1, "duration_s": 600.0, "fidelity": "fluid",
                "tokens_accounting": {"arrived": 1e6, "served": 1e6, "waiting": 0.0, "shed": 0.0,
                                      "refused_context_in": 0.0, "refused_context_out": refused_out,
                                      "cut_context_out": 0.0}}
    al = {"note": ""}
    assert _differences(_run_rows(["a", "b"], [None, None], [rep(0.0), rep(0.0)]), al) == []
    diff = _differences(_run_rows(["a", "b"], [None, None], [rep(0.0), rep(1e5)]), al)
    assert [d["field"] for d in diff] == ["context window"] and diff[0]["values"] == ["0.0%", "9.1%"]


def test_length_pmf_applies_the_cap_as_sample_does():
    # LengthDist.pmf (each distribution's base pmf, the cap and cap_mass applied once in the base class) replaced a
    # function that branched on the type and read private members
    from dcsim.workload.lengths import EmpiricalLength, FixedLength, LogNormalLength
    rng = np.random.default_rng(3)
    for d in (LogNormalLength(median=300, p99=3000, cap=2000, cap_mass=0.01),
              EmpiricalLength(values=(5, 50, 500, 5000), weights=(1, 2, 3, 4), cap=1000),
              FixedLength(value=700, cap=512, cap_mass=0.2), FixedLength(value=30)):
        p = d.pmf(6000)
        assert p[0] == 0.0 and p.sum() == pytest.approx(1.0, abs=1e-12)
        assert float(np.dot(np.arange(p.size), p)) == pytest.approx(d.mean(), rel=1e-9)
        x = d.sample(200_000, rng)
        assert np.abs(np.bincount(x, minlength=p.size)[:p.size] / x.size - p).max() < 0.005
    assert FixedLength(value=700, cap=512, cap_mass=0.2).pmf(600)[512] == 1.0


def test_a_class_whose_pool_refuses_every_row_is_an_error(tmp_path):
    p = _trace(tmp_path, [(0.5 * k, 5000, 10) for k in range(20)])
    wl = {"arrivals": _arr(p), "classes": [{"name": "long", "preset": "summarization", "share": 0.5},
                                            {"name": "chat", "preset": "chat", "share": 0.5}]}
    with pytest.raises(Exception, match=r"tr\.csv.*every one of its 20 requests.*llama-2-70b.*class chat"):
        build_models(load_scenario(_two_pools(wl)))


def test_hybrid_and_the_pool_split_count_no_refused_request_as_served(tmp_path):
    # two pools of different windows (`long` on Llama-3.1-70B's 131,072, `chat` on Llama-2-70B's 4,096); every other
    # row has a 5,000-token prompt, refused when drawn into `chat`. After the window the run's 800 rows bring, in
    # expectation over the class draw, 400 x (100 + 3,500) / 2 = 720,000 output tokens to `long` and 400 x 1/2 (the
    # share chat's window accepts) x 3,096 = 619,200 to `chat`. The fluid split weighed each pool by its arrival share
    # x the mean answer of its served requests (counting chat's refused requests as served: 492,353 / 846,847) and the
    # hybrid fidelity's fluid remainder did too (1,926,148 output tokens arrived against 1,339,200 after refusal).
    rows = [(0.5 * k, 5000 if k % 2 else 1000, 100 if k % 2 else 3500) for k in range(800)]
    p = _trace(tmp_path, rows)
    wl = {"arrivals": _arr(p), "classes": [{"name": "long", "preset": "summarization", "share": 0.5},
                                            {"name": "chat", "preset": "chat", "share": 0.5}]}
    want = {"hall-a": 720_000.0, "hall-b": 619_200.0}
    got = {}
    for fid in ("fluid", "hybrid", "request"):
        raw = _two_pools(wl)
        for g in raw["racks"]:
            g["count"] = 4
        raw["hybrid_sample"] = 2
        raw["fidelity"] = fid
        rep = run(load_scenario(raw)).report
        got[fid] = rep
        tok = rep["tokens_accounting"]
        pools = {pp["name"]: pp["tokens"]["output"] for pp in rep["pools"]}
        assert tok["served"] <= tok["arrived"] + 1e-6 * tok["arrived"]
        if fid == "fluid":  # exact: the expectation over the draw
            assert pools == pytest.approx(want, rel=1e-9) and tok["arrived"] == pytest.approx(1_339_200, rel=1e-9)
        else:  # a sample of the draw (request) or a sample beside the expectation (hybrid): within its noise
            band = 0.02 if fid == "hybrid" else 0.1
            assert tok["arrived"] == pytest.approx(1_339_200, rel=band)
            assert pools == pytest.approx(want, rel=band)
    # the refused counts agree: the expectation (fluid and hybrid, run-wide), the draw's own count at request
    # fidelity within five standard deviations of the 400 long prompts' Bernoulli(1/2) draw (sd 10)
    ref = [got[f]["tokens_accounting"]["refused_context_in"] / 5000 for f in ("fluid", "hybrid", "request")]
    assert ref[0] == ref[1] == 200.0 and abs(ref[2] - 200.0) <= 50
    assert got["hybrid"]["requests"]["refused_context"] == 200
    assert abs(got["request"]["requests"]["refused_context"] - 200) <= 50


def test_the_memory_estimate_counts_the_window_arrays(tmp_path):
    # where the pools' windows differ the workload keeps, per distinct window, each row's kept flag (1 B) and cut
    # answer (8 B), and the expected answer per row (8 B); the estimate counted 24 B a row only
    from dcsim.engine.preflight import preflight
    rows = [(0.5 * k, 5000 if k % 2 else 1000, 100 if k % 2 else 3500) for k in range(800)]
    wl = {"arrivals": _arr(_trace(tmp_path, rows)),
          "classes": [{"name": "long", "preset": "summarization", "share": 0.5},
                      {"name": "chat", "preset": "chat", "share": 0.5}]}
    pf = preflight(load_scenario(_two_pools(wl)))
    assert pf.models.workload.trace_memory_bytes == 800 * 24 + 2 * 800 * 9 + 800 * 8
    assert pf.estimate["trace_memory_bytes"] == 800 * (24 + 2 * 9 + 8)


def test_the_memory_estimate_counts_the_trace_answers_once(tmp_path):
    # a class no window holds (its model has none: max_context None) takes the rows whole, its answers the trace's own
    # array, already in the 24 B a replayed row keeps: per distinct window (none, 4,096) a kept flag (1 B), the 4,096
    # window's cut answer (8 B), the expected answer per row (8 B). The estimate added the trace's answers again
    # (8 B a row: 800 x 50 B, not 800 x 42 B)
    rows = [(0.5 * k, 5000 if k % 2 else 1000, 100 if k % 2 else 3500) for k in range(800)]
    spec = WorkloadSpec(arrivals=_arr(_trace(tmp_path, rows)),
                        classes=[{"name": "long", "preset": "summarization", "share": 0.5},
                                 {"name": "chat", "preset": "chat", "share": 0.5}])
    wl = build_workload(spec, np.random.SeedSequence(1), max_context=[None, 4096])
    assert wl._win is not None and len(wl._by_window) == 2 and wl._trace[1].dtype.itemsize == 8
    assert wl.trace_memory_bytes == 800 * 24 + 2 * 800 * 1 + 800 * 8 + 800 * 8


def test_synthetic_classes_are_held_to_the_window_alike_in_every_fidelity():
    # Llama-2-70B's 4,096 tokens under the summarization preset (48.8 % of its prompts at 4,096 or more) and chat:
    # synthetic requests were served whole (only warned) while a trace's were refused or cut. Now the requests drawn
    # are refused or cut by context_cut (request fidelity) and the fluid figures take the exact expectation
    # (window_moments); both against a Monte Carlo of the classes' lengths under the same rule.
    rng = np.random.default_rng(11)
    n = 400_000
    mc = np.zeros(5)  # per arrival: refused share, refused prompt tokens, refused answer tokens, served answer tokens,
    # and the served requests' E[o (i + o/2)] (the residence-weighted context's numerator)
    for preset in ("summarization", "chat"):
        c = resolve_class(RequestClassSpec(name="x", preset=preset, share=0.5), None)
        i, o = c.input.sample(n, rng), c.output.sample(n, rng)
        kept, out = context_cut(i, o, 4096)
        ik, ok = i[kept].astype(float), out[kept].astype(float)
        mc += 0.5 * np.array([(~kept).mean(), i[~kept].sum() / n, o[~kept].sum() / n, out[kept].sum() / n,
                              np.sum(ok * (ik + 0.5 * ok)) / n])
    wl = {"arrivals": {"kind": "poisson", "rate": "4 req/s"},
          "classes": [{"name": "summ", "preset": "summarization", "share": 0.5},
                      {"name": "chat", "preset": "chat", "share": 0.5}]}
    rep = {}
    for fid in ("fluid", "request"):
        raw = _scenario(wl, "20 min")
        raw["racks"][0]["node"]["model"] = "llama-2-70b"
        raw["racks"][0]["count"] = 4
        raw["fidelity"] = fid
        rep[fid] = run(load_scenario(raw)).report
    arrivals = 4.0 * 1200.0
    fl = rep["fluid"]["tokens_accounting"]
    assert fl["arrived"] == pytest.approx(arrivals * mc[3], rel=0.01)  # was 1.58x: every request served whole
    assert fl["refused_context_in"] == pytest.approx(arrivals * mc[1], rel=0.02)
    assert fl["refused_context_out"] == pytest.approx(arrivals * mc[2], rel=0.03)
    rq, req = rep["request"]["tokens_accounting"], rep["request"]["requests"]
    drawn = req["arrived"] + req["refused_context"]
    # the refused share of the ~4,800 draws within 5 standard deviations (sd 0.6 pp) of the expectation
    assert abs(req["refused_context"] / drawn - mc[0]) < 0.03
    # the work: one sample of heavy-tailed lengths against the expectation (its sd ~2 % here): within 8 %
    assert rq["arrived"] == pytest.approx(fl["arrived"], rel=0.08)
    assert rq["refused_context_in"] == pytest.approx(fl["refused_context_in"], rel=0.08)
    assert rq["cut_context_out"] == pytest.approx(fl["cut_context_out"], rel=0.25)  # ~1.5 % of the draws are cut
    # the pool runs at the served requests' residence-weighted context, E[o (i + o/2)] / E[o] over the served draws
    # (the fluid moments under the window; both fidelities build the pool alike)
    assert rep["fluid"]["pools"][0]["decode_context_tokens"] == pytest.approx(mc[4] / mc[3], rel=0.01)
    # the fluid SLO estimate draws the requests served too: its TTFT p99 read 1.09 s against request fidelity's
    # 0.18 s while it drew summarization's refused 4,096+-token prompts (now 0.181 s)
    ttft = {f: rep[f]["latency_s"]["ttft"]["p99"] for f in rep}
    assert ttft["fluid"] == pytest.approx(ttft["request"], rel=0.3)


def test_synthetic_draws_are_refused_and_cut_by_the_window():
    spec = WorkloadSpec(arrivals={"kind": "poisson", "rate": "50 req/s"},
                        classes=[{"name": "summ", "preset": "summarization", "share": 1.0}])
    wl = build_workload(spec, np.random.SeedSequence(4), max_context=4096)
    b = wl.sample(0.0, 200.0)
    assert np.all(b.n_in < 4096) and np.all(b.n_in + b.n_out <= 4096) and np.any(b.n_in + b.n_out == 4096)
    free = build_workload(spec, np.random.SeedSequence(4)).sample(0.0, 200.0)  # the same draws, no window
    got = wl.context_refused(200.0)
    assert got["requests"] == np.count_nonzero(free.n_in >= 4096) == free.t.size - b.t.size
    assert got["in_tokens"] == free.n_in[free.n_in >= 4096].sum()
    assert b.t.tolist() == free.t[free.n_in < 4096].tolist()  # the accepted keep their arrival times
    # the fluid view: the class's means and accepted share are its served requests' (window_moments)
    c = wl.classes[0]
    assert c.accepted_share == pytest.approx(1 - 0.4878, abs=1e-3)
    # output served per arrival against a Monte Carlo of the class's lengths under the rule (400,000 draws)
    rng = np.random.default_rng(5)
    kept, out = context_cut(c.input.sample(400_000, rng), c.output.sample(400_000, rng), 4096)
    assert c.mean_input < 4096 and wl.output_per_arrival == pytest.approx(out[kept].sum() / kept.size, rel=0.01)
    assert c.mean_output == pytest.approx(b.n_out.mean(), rel=0.05)


def test_a_rack_group_serves_its_own_max_model_len():
    # vLLM's --max-model-len is set per deployment: a planner could only shorten a group's window by copying the whole
    # model inline with another max_context. node.max_model_len sets it per rack group, at most the model's window.
    wl = {"arrivals": {"kind": "poisson", "rate": "5 req/s"},
          "classes": [{"name": "long", "preset": "summarization", "share": 0.3},
                      {"name": "chat", "preset": "chat", "share": 0.7}]}
    raw = _two_pools(wl)
    raw["racks"][1]["node"]["model"] = "llama-3.1-70b"
    raw["racks"][1]["node"]["max_model_len"] = 4096
    m = build_models(load_scenario(raw))
    assert m.context_window == [W70, 4096]  # hall-a the model's 131,072, hall-b its own 4,096
    warn = [w for w in m.warnings if "context window" in w]
    assert len(warn) == 1 and "llama-3.1-70b at max_model_len 4,096 (racks[1], hall-b)" in warn[0]
    assert "0.263 %" in warn[0]  # chat under 4,096, as on Llama-2-70B's window
    # the smallest window of a pool's groups holds its classes
    one = _scenario(wl)
    one["racks"].append({**one["racks"][0], "name": "hall-b", "node": {**one["racks"][0]["node"], "max_model_len": 8192}})
    assert build_models(load_scenario(one)).context_window == [8192, 8192]
    raw["racks"][1]["node"]["max_model_len"] = W70 + 1
    with pytest.raises(ScenarioError, match=r"racks\[1\]\.node\.max_model_len: 131,073 tokens is above the context "
                                            r"window of llama-3\.1-70b, 131,072"):
        build_models(load_scenario(raw))
    raw["racks"][1]["node"]["max_model_len"] = 0
    with pytest.raises(ScenarioError, match=r"max_model_len"):
        load_scenario(raw)


def test_build_workload_cuts_each_window_once(tmp_path, monkeypatch):
    # build_workload ran context_cut 3-4 times per window (warnings, means, the replay or the per-class arrays); now
    # once per distinct window, the cut carried to every use
    import dcsim.workload.model as wm
    calls = []
    real = wm.context_cut
    monkeypatch.setattr(wm, "context_cut", lambda *a: calls.append(a[2]) or real(*a))
    rows = [(0.5 * k, 5000 if k % 2 else 1000, 100 if k % 2 else 3500) for k in range(800)]
    p = _trace(tmp_path, rows)
    spec = WorkloadSpec(arrivals=_arr(p), classes=[{"name": "long", "preset": "summarization", "share": 0.5},
                                                   {"name": "chat", "preset": "chat", "share": 0.5}])
    wl = build_workload(spec, np.random.SeedSequence(1), max_context=[W70, 4096])
    assert sorted(calls) == [4096, W70]
    calls.clear()
    build_workload(WorkloadSpec(arrivals=_arr(p), classes=[{"name": "c", "preset": "chat", "share": 1.0}]),
                   np.random.SeedSequence(1), max_context=4096)
    assert calls == [4096]
    # and the draw applies the rule through the same function, with one window per request
    calls.clear()
    wl.sample(0.0, 10.0)
    assert len(calls) == 1 and np.asarray(calls[0]).shape == (20,)


def test_a_synthetic_class_every_request_of_which_is_refused_is_an_error():
    # every prompt 5,000 tokens on Llama-2-70B (4,096): the class's accepted share is 0 and its served means 0/0 (a
    # bare ZeroDivisionError in Workload.mean_input); a trace in that case is refused with a TraceError, and so is it
    wl = {"arrivals": {"kind": "poisson", "rate": "2 req/s"},
          "classes": [{"name": "long", "preset": "chat", "share": 1.0, "input": {"kind": "fixed", "value": 5000}}]}
    raw = _scenario(wl)
    raw["racks"][0]["node"]["model"] = "llama-2-70b"
    with pytest.raises(TraceError, match=r"workload\.classes\[long\]: every request .* 4,096 tokens or more, the "
                                         r"context window of llama-2-70b.*vLLM refuses them all"):
        build_models(load_scenario(raw))
    # one class of two pools, the other served: the error names the class
    wl["classes"] = [{"name": "long", "preset": "summarization", "share": 0.5},
                     {"name": "chat", "preset": "chat", "share": 0.5, "input": {"kind": "fixed", "value": 5000}}]
    with pytest.raises(TraceError, match=r"workload\.classes\[chat\].*llama-2-70b.*class chat of it.*refuses them all"):
        build_models(load_scenario(_two_pools(wl)))


def test_float_rounding_does_not_bind_the_window():
    # the code preset on Llama-3.1-70B (131,072): P(cut) 4.7e-14 (a lognormal tail no run draws) and the reasoning
    # preset's P(refused) read 1 - sum(pmf) = 1.7e-15 at 32,768: the window "bound" on rounding, campus-interconnect's
    # code class took the windowed path (0.83 cut tokens in its report) against docs/workload.md's "no shipped
    # scenario's window binds"
    code = resolve_class(RequestClassSpec(name="x", preset="code", share=1.0), None)
    assert not window_moments(code.input, code.output, W70).binds
    reasoning = resolve_class(RequestClassSpec(name="x", preset="reasoning", share=1.0), None)
    m = window_moments(reasoning.input, reasoning.output, 32_768)
    assert m.binds and m.p_cut == pytest.approx(0.006, rel=0.01)  # the cut answers are real
    sc = load_scenario(ROOT / "scenarios" / "campus-interconnect.yaml")
    mm = build_models(sc)
    assert all(c.window is None and c.accepted_share == 1.0 for c in mm.workload.classes)
    assert mm.workload._syn_win is None and not [w for w in mm.warnings if "context window" in w]
    got = mm.workload.context_refused(float(sc.duration), float(sc.controller.tick))
    assert got == dict.fromkeys(("requests", "in_tokens", "out_tokens", "cut_out_tokens"), 0.0)


def test_window_moments_are_summed_once_per_run(monkeypatch):
    # every build_workload summed each class's window again (~0.2 s a class at 131,072): the fault-free baseline, the
    # faulted run, each fault's marginal run, each hybrid lane's sample. Now the run's resolved classes are reused.
    import dcsim.workload.model as wm
    calls = []
    real = wm.window_moments
    monkeypatch.setattr(wm, "window_moments", lambda *a: calls.append(a[2]) or real(*a))
    wl = {"arrivals": {"kind": "poisson", "rate": "2 req/s"},
          "classes": [{"name": "summ", "preset": "summarization", "share": 0.5},
                      {"name": "chat", "preset": "chat", "share": 0.5}]}
    raw = _scenario(wl, "6 min")
    raw["racks"][0]["node"]["model"] = "llama-2-70b"
    raw["fidelity"] = "hybrid"
    raw["faults"] = [{"kind": "curtailment", "start": "2 min", "duration": "2 min", "fraction": "20%"},
                     {"kind": "curtailment", "start": "3 min", "duration": "2 min", "fraction": "20%"}]
    rep = run(load_scenario(raw)).report
    assert rep["tokens_accounting"]["refused_context_in"] > 0  # the window binds in this run
    assert calls == [4096, 4096]  # one sum per class, in the preflight's build


def test_synthetic_refused_tokens_conserve_at_the_runs_tick():
    # refused and cut tokens were integrated by 1-min midpoints while the fluid arrivals take the run's ticks: under
    # diurnal arrivals at a 10-s tick, arrived + refused + cut missed the tokens asked by ~1e-6
    spec = WorkloadSpec(arrivals={"kind": "diurnal", "mean_rate": "4 req/s", "amplitude": 0.6, "peak_hour": 3},
                        classes=[{"name": "summ", "preset": "summarization", "share": 0.5},
                                 {"name": "chat", "preset": "chat", "share": 0.5}])
    wl = build_workload(spec, np.random.SeedSequence(2), max_context=4096)
    dt, t_end = 10.0, 2 * 3600.0
    t0 = np.arange(round(t_end / dt)) * dt
    arrived = float(np.sum(wl.demand_tok_s(t0, dt)) * dt)
    got = wl.context_refused(t_end, dt)
    asked = float(np.sum(wl.rate(t0 + 0.5 * dt)) * dt) * sum(c.share * c.output.mean() for c in wl.classes)
    assert arrived + got["out_tokens"] + got["cut_out_tokens"] == pytest.approx(asked, rel=1e-9)
