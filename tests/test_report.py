"""report.json, timeseries.csv, report.html and the terminal summary, checked against the Result
they were written from.

``synthetic_result`` below is a TEST FIXTURE, not shipped: a toy day whose arrays obey the
Result contract (docs/architecture.md) — achieved = min(D, C, P, Q), binding = its argmin,
facility = IT + cooling + losses + fixed — so the writers can be tested without the engine.
Tests that need the real engine use ``dcsim.run`` on scenarios/reference.yaml when it exists.
"""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from dcsim.report import OutputExistsError, read_timeseries, summary_table, write_outputs
from dcsim.report import TIMESERIES_COLUMNS, latency_stats, report_json_bytes
from dcsim.report.html import render_html
from dcsim.metrics.fmt import fmt_energy, fmt_hms, fmt_jpt, fmt_local_time, fmt_pct, fmt_si

import dcsim
from conftest import small_scenario

REPO = Path(__file__).resolve().parents[1]
NAMES = ("demand", "compute", "power", "cooling")


def synthetic_result(name: str = "toy-day", tick_s: float = 120.0, n_gpus: int = 512,
                     e_it_j: float = 1.1, hot: float = 0.0, samples: bool = True, seed: int = 7):
    """TEST FIXTURE: a 24 h toy run following the Result contract (see module docstring)."""
    t = np.arange(0.0, 86400.0, tick_s)
    h = t / 3600.0
    t_out = 24.0 + hot + 9.0 * np.cos(2 * np.pi * (h - 15.0) / 24.0)
    demand = 2.0e5 + 1.5e5 * np.cos(2 * np.pi * (h - 14.0) / 24.0)
    gpus = np.full(t.size, n_gpus, dtype=np.int64)
    gpus[(h >= 3) & (h < 4)] -= 64
    compute = gpus * 600.0
    pue = 1.12 + 0.012 * np.maximum(t_out - 15.0, 0.0)
    cap = np.full(t.size, 3.6e5 * 1.3)
    power = (cap - 2.0e4) / (pue * e_it_j)
    q_rej = 4.3e5 * (1.0 - 0.025 * np.maximum(t_out - 25.0, 0.0))
    cooling = q_rej / e_it_j
    stack = np.vstack([demand, compute, power, cooling])
    achieved = stack.min(axis=0)
    binding = np.argmin(stack, axis=0).astype(np.int64)
    binding[demand <= achieved] = 0
    it = achieved * e_it_j + 2.0e4
    gpu = 0.72 * it
    over = it * (pue - 1.0)
    cooling_w, loss_w, fixed_w = 0.7 * over, 0.25 * over, 0.05 * over
    facility = it + cooling_w + loss_w + fixed_w
    ts = {
        "t_s": t, "demand_tok_s": demand, "compute_tok_s": compute, "power_tok_s": power,
        "cooling_tok_s": cooling, "achieved_tok_s": achieved, "binding": binding,
        "it_power_w": it, "gpu_power_w": gpu, "cooling_power_w": cooling_w,
        "loss_power_w": loss_w, "fixed_power_w": fixed_w, "facility_power_w": facility,
        "interconnect_w": cap, "pue": facility / it, "t_out_c": t_out, "t_wb_c": t_out - 6.0,
        "gpus_in_service": gpus, "mean_clock": np.where(binding >= 2, 0.85, 1.0),
        "mean_cap_w": np.where(binding >= 2, 560.0, 700.0), "queue_tokens": np.maximum(demand - achieved, 0) * tick_s,
    }
    e = {k: float(np.sum(v) * tick_s) for k, v in
         (("gpu", gpu), ("server_non_gpu_and_rack", it - gpu), ("it", it), ("cooling", cooling_w),
          ("cooling_chiller", 0.8 * cooling_w), ("cooling_fans", 0.2 * cooling_w),
          ("power_losses", loss_w + fixed_w), ("delivery_losses", loss_w), ("fixed_loads", fixed_w),
          ("facility", facility))}
    out_tok = float(np.sum(achieved) * tick_s)
    shifts = []
    for i in np.flatnonzero(np.diff(binding)) + 1:
        shifts.append({"t_s": float(t[i]), "from": NAMES[binding[i - 1]], "to": NAMES[binding[i]],
                       "demand_tok_s": float(demand[i]), "t_out_c": float(t_out[i]),
                       "pue": float(facility[i] / it[i]), "gpus_in_service": int(gpus[i])})
    report = {
        "scenario": name, "seed": seed, "duration_s": 86400.0, "fidelity": "fluid",
        "clock": {"day_of_year": 196, "hour": 0.0},
        "tokens": {"input": 3.0 * out_tok, "output": out_tok},
        "throughput_tok_s": {"output": out_tok / 86400.0},
        "energy_j": e,
        "joules_per_output_token": {k: e[k] / out_tok for k in ("gpu", "it", "facility")},
        "pue": e["facility"] / e["it"],
        "peak_power_w": {"it": float(it.max()), "facility": float(facility.max())},
        "utilization": float(np.mean(achieved / compute)),
        "binding": {"share": {n: float(np.mean(binding == i)) for i, n in enumerate(NAMES)},
                    "shifts": shifts, "n_shifts": len(shifts), "final": NAMES[binding[-1]],
                    "most_common": NAMES[int(np.bincount(binding).argmax())]},
        "tpf": {"compute_tok_s": float(compute[0]), "power_tok_s": float(power[0]),
                "cooling_tok_s": float(cooling[0]), "binding": "compute"},
        "pue_adjusted_delivered_power_w": {"mean": float(np.mean(it)), "peak": float(it.max())},
        "utilization_adjusted_output_tok_s": float(np.mean(achieved / compute) * out_tok / 86400.0),
        "goodput_tok_s": 0.97 * out_tok / 86400.0,
        "cost": {"usd_per_mtok": 0.08 * e["facility"] / 3.6e6 / out_tok * 1e6},
        "carbon": {"g_per_mtok": 350.0 * e["facility"] / 3.6e6 / out_tok * 1e6},
        "provenance": {"dcsim_version": "0.1.0", "scenario_hash": "ab12cd34", "seed": seed,
                       "calibration_profiles": ["h100-llama70b-fp8"]},
    }
    lat: dict = {}
    slo = {"chat": {"ttft_s": 0.5, "tpot_s": 0.05}, "batch": {"ttft_s": 5.0, "tpot_s": 0.2}}
    if samples:
        rng = np.random.default_rng(np.random.SeedSequence(seed))
        for cls, (mt, mp) in (("chat", (0.2, 0.03)), ("batch", (1.5, 0.08))):
            ttft = rng.lognormal(np.log(mt), 0.6, 4000)
            tpot = rng.lognormal(np.log(mp), 0.3, 4000)
            lat[cls] = {"ttft_s": ttft, "tpot_s": tpot, "e2e_s": ttft + 300 * tpot}
    log = [{"t_s": shifts[1]["t_s"], "action": "set_clock", "from": 1.0, "to": 0.85,
            "reason": "power/cooling limit: clock lowered"}] if len(shifts) > 1 else []
    return SimpleNamespace(name=name, report=report, timeseries=ts, latency_samples=lat, slo=slo,
                           controller_log=log)


@pytest.fixture(scope="module")
def result():
    return synthetic_result()


@pytest.fixture(scope="module")
def written(result, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "toy"
    files = write_outputs(result, out)
    return out, files


def test_non_finite_figures_are_refused_naming_the_key():
    """Issue 17.2: a NaN or infinity is never written as null; the key that holds it is named."""
    with pytest.raises(ValueError, match=r"energy_j\.facility is inf"):
        report_json_bytes({"energy_j": {"facility": float("inf")}})
    with pytest.raises(ValueError, match=r"binding\.shifts\[1\]\.pue is nan"):
        report_json_bytes({"binding": {"shifts": [{"pue": 1.2}, {"pue": float("nan")}]}})


def test_run_with_a_non_finite_figure_fails_its_invariant():
    from dcsim.engine.invariants import InvariantError, check_invariants

    r = dcsim.run(small_scenario(duration="10 min"))
    rep = dict(r.report, pue=float("nan"))
    with pytest.raises(InvariantError, match="non-finite result at pue"):
        check_invariants(rep, r.timeseries)


def _walk_numbers(a, b, path=""):
    """Assert two JSON-like trees are equal, floats exactly (None stands for non-finite)."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _walk_numbers(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _walk_numbers(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not math.isfinite(a):
        assert b is None, path
    elif isinstance(a, (float, np.floating)):
        assert isinstance(b, float) and b == float(a), path
    else:
        assert b == a, path


def test_report_json_round_trips_to_the_same_numbers(result, written):
    out, files = written
    data = json.loads((out / "report.json").read_text())
    _walk_numbers(result.report, data)
    assert data["energy_j"]["facility"] == result.report["energy_j"]["facility"]
    assert data["binding"]["shifts"][0]["to"] == result.report["binding"]["shifts"][0]["to"]
    assert files["report.json"] == out / "report.json"


def test_report_json_is_byte_identical_for_the_same_result(result, tmp_path):
    a = write_outputs(result, tmp_path / "a", formats=("json", "csv"))
    b = write_outputs(result, tmp_path / "b", formats=("json", "csv"))
    small = synthetic_result(tick_s=900.0, samples=False)  # figures too (PNG metadata stripped)
    a.update(write_outputs(small, tmp_path / "c", formats=("png", "html")))
    b.update(write_outputs(small, tmp_path / "d", formats=("png", "html")))
    assert sorted(a) == sorted(b)
    for rel in a:
        assert a[rel].read_bytes() == b[rel].read_bytes(), rel
    text = (tmp_path / "a" / "report.json").read_text()
    keys = re.findall(r'^  "([^"]+)":', text, flags=re.M)
    assert keys == sorted(keys) and len(keys) == len(result.report)


def test_report_json_bytes_rejects_unserialisable_values():
    with pytest.raises(TypeError, match="object"):
        report_json_bytes({"x": object()})


def test_timeseries_csv_columns_equal_the_arrays(result, written):
    out, _ = written
    back = read_timeseries(out / "timeseries.csv")
    header = (out / "timeseries.csv").read_text().splitlines()[0].split(",")
    assert header[: len(TIMESERIES_COLUMNS) + 1] == list(TIMESERIES_COLUMNS[:7]) + ["binding_name"] + list(TIMESERIES_COLUMNS[7:])
    # the contract order of docs/architecture.md, written out (the line above compares the header with the
    # constant that builds it, so a reordered constant would pass it)
    assert header == ["t_s", "demand_tok_s", "compute_tok_s", "power_tok_s", "cooling_tok_s", "achieved_tok_s",
                      "binding", "binding_name", "it_power_w", "gpu_power_w", "cooling_power_w", "loss_power_w",
                      "fixed_power_w", "facility_power_w", "interconnect_w", "pue", "t_out_c", "t_wb_c",
                      "gpus_in_service", "mean_clock", "mean_cap_w", "queue_tokens"]
    for k, v in result.timeseries.items():
        assert back[k].shape == v.shape, k
        np.testing.assert_array_equal(back[k], v, err_msg=k)
    assert back["binding"].dtype.kind == "i" and back["gpus_in_service"].dtype.kind == "i"
    names = np.asarray(NAMES)[result.timeseries["binding"]]
    np.testing.assert_array_equal(back["binding_name"], names)


def test_unequal_timeseries_lengths_are_rejected(result, tmp_path):
    bad = SimpleNamespace(report=result.report, timeseries={"t_s": np.arange(3.0), "pue": np.ones(4)})
    with pytest.raises(ValueError, match="equal length"):
        write_outputs(bad, tmp_path / "bad", formats=("csv",))


def test_overwrite_refused_without_force_and_force_clears_stale_files(result, tmp_path):
    out = tmp_path / "r"
    write_outputs(result, out, formats=("json", "png"))
    before = (out / "report.json").read_bytes()
    assert (out / "plots" / "latency.png").exists()
    with pytest.raises(OutputExistsError, match="--force"):
        write_outputs(result, out)
    assert (out / "report.json").read_bytes() == before
    fluid = SimpleNamespace(**{**vars(result), "latency_samples": {}})
    files = write_outputs(fluid, out, force=True, formats=("json", "png"), plots=False)
    assert "plots/latency.png" not in files
    assert not (out / "plots" / "latency.png").exists()
    assert not (out / "plots" / "signature.png").exists()  # no stale plots of the earlier run
    assert not list(out.rglob("*.tmp"))
    # an empty existing directory is fine without force
    (tmp_path / "empty").mkdir()
    write_outputs(result, tmp_path / "empty", formats=("json",))


def test_plots_written_and_png(written):
    out, files = written
    for stem in ("signature", "power", "pue", "joules_per_token", "latency"):
        p = out / "plots" / f"{stem}.png"
        assert files[f"plots/{stem}.png"] == p
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000


def test_html_embeds_figures_and_headline_numbers(result, written):
    out, files = written
    html = (out / "report.html").read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html
    imgs = re.findall(r'<img alt="([a-z_]+) plot" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert [s for s, _ in imgs] == ["signature", "power", "pue", "joules_per_token", "latency"]
    import base64

    for stem, b64 in imgs:
        assert base64.b64decode(b64) == (out / "plots" / f"{stem}.png").read_bytes()
    r = result.report
    jpt = r["joules_per_output_token"]
    assert f"{jpt['facility']:.3g}" in html and f"{jpt['gpu']:.3g} J" in html
    # each J/token next to its own label (GPU 0.867 J, IT 1.20 J on the fixture)
    assert f"GPU <b class=\"nw\">{fmt_jpt(jpt['gpu'])}</b> · IT <b class=\"nw\">{fmt_jpt(jpt['it'])}</b>" in html
    sh = r["binding"]["share"]
    dominant = max(sh, key=sh.get)
    # the card says how long it binds: "most of the time" only above half (issue: plurality of four
    # labels read as "the hall is not constrained" when a limit binds 54 % of the day)
    qual = "most of the time" if sh[dominant] > 0.5 else "of the time (the most of any)"
    assert f">{dominant}</span> <small>" in html and qual in html.split(f">{dominant}</span> <small>")[1][:80]
    assert f"{r['pue']:.4g}" in html
    # every shift is in the log table, in order
    times = re.findall(r"<tr><td>(\d\d:\d\d:\d\d)</td><td[^>]*>", html.split("<h2>Controller log</h2>")[0])
    assert len(times) == len(r["binding"]["shifts"])
    rows = re.findall(r'<tr><td>(\d\d:\d\d:\d\d)</td><td class="nw">([^<]*)</td><td>[^<]*</td><td class="l"><span [^>]*>(\w+)'
                      r'</span> → <span [^>]*>(\w+)</span>', html)
    # beside the elapsed time, the scenario's own clock (its day of year and hour; a date with start:)
    assert rows == [(fmt_hms(sh["t_s"]), fmt_local_time(sh["t_s"], r["clock"]), sh["from"], sh["to"])
                    for sh in r["binding"]["shifts"]]
    assert all(re.fullmatch(r"(day \d+|\d{4}-\d\d-\d\d) \d\d:\d\d", loc) for _, loc, _, _ in rows), rows
    # energy table: shares of the facility energy (IT 79.3 % of facility on the fixture)
    e = r["energy_j"]
    assert (f'<tr style="font-weight:600"><td class="l" title="energy_j.it">&nbsp;&nbsp;&nbsp;&nbsp;└ IT</td>'
            f'<td class="nw">{fmt_energy(e["it"])}</td><td class="nw">{fmt_si(e["it"], "J", 4)}</td>'
            f'<td class="nw">{100 * e["it"] / e["facility"]:.1f}%</td></tr>') in html
    assert (f'<td class="l" title="energy_j.facility">facility</td><td class="nw">{fmt_energy(e["facility"])}</td>'
            f'<td class="nw">{fmt_si(e["facility"], "J", 4)}</td><td class="nw">100.0%</td>') in html
    assert "ab12cd34" in html and "h100-llama70b-fp8" in html
    # controller log, with its time as hh:mm:ss
    t_log = result.controller_log[0]["t_s"]
    assert "<h2>Controller log</h2>" in html and "power/cooling limit: clock lowered" in html
    h, m = int(t_log // 3600), int(t_log % 3600 // 60)
    assert (f"<td>{h:02d}:{m:02d}:00</td><td class=\"nw\">{fmt_local_time(t_log, r['clock'])}</td>"
            f"<td class=\"l\">") in html
    # the log's own fields in words with units and formatted values (it showed "t_out_c", "1.24726e+06"), the time
    # not repeated in seconds
    log_html = html.split("<h2>Controller log</h2>")[1].split("</table>")[0]
    assert "e+0" not in log_html and ">t_s<" not in log_html and "_" not in re.sub(r"<[^>]+>", "", log_html.split("</tr>")[0])
    # a cap entry as the controller logs it (controller.py: demand, limit, outdoor, tokens of the first tick)
    cap = {"t_s": 3600.0, "action": "cap", "demand_tok_s": 1.24726e6, "limit_tok_s": 9.8e5, "t_out_c": 37.7043,
           "tokens_first_tick": 4.03698e9, "duration_s": 3600.0}
    page = render_html(SimpleNamespace(**{**vars(result), "controller_log": [cap]}), {})
    log_html = page.split("<h2>Controller log</h2>")[1].split("</table>")[0]
    for txt in ("demand (tok/s)", "1.25 Mtok/s", "outdoor (°C)", "37.7 °C", "tokens first tick (tokens)", "4.04 G",
                ">duration<", "60 min"):
        assert txt in log_html, txt
    # a duration's cells carry their own unit (h, min, s): the header names none (it read "duration (s)" over "60 min")
    assert "duration (s)" not in log_html
    # each figure unbroken from its unit; the words (the action) wrap as text
    assert '<td class="l nw">1.25 Mtok/s</td>' in log_html and '<td class="l nw">980 ktok/s</td>' in log_html
    assert '<td class="l">cap</td>' in log_html
    assert "e+0" not in log_html and "1.24726" not in log_html
    # the end of a shedding episode logs its total as "tokens" (it read "1.5e+06"), the thermal model the room's
    # temperature, the battery its power: each in its unit's format
    more = [{"t_s": 7200.0, "action": "shed end", "tokens": 1.5e6, "duration_s": 5400.0},
            {"t_s": 7300.0, "action": "thermal shed", "t_space_c": 45.04, "battery_w": 1.5e5}]
    page = render_html(SimpleNamespace(**{**vars(result), "controller_log": more}), {})
    log_html = page.split("<h2>Controller log</h2>")[1].split("</table>")[0]
    for txt in ('<td class="l nw">1.5 M</td>', "90 min", "t space (°C)", "45.0 °C", "battery (W)", "150 kW"):
        assert txt in log_html, txt
    assert "e+0" not in log_html
    # latency table: p99 TTFT of chat as computed from the samples
    p99 = float(np.quantile(result.latency_samples["chat"]["ttft_s"], 0.99))
    assert f"{1e3 * p99:.3g} ms" in html
    # "at end of run" is the final constraint, not the most common one (equal on the fixture: make them differ)
    end = SimpleNamespace(**{**vars(result), "report": {**r, "binding": {**r["binding"], "final": "power"}}})
    page = render_html(end, {})
    assert re.search(r'at end of run: <span class="chip"[^>]*>power</span>', page)
    assert f">{dominant}</span> <small>" in page


def test_latency_stats_match_samples(result):
    st = latency_stats(result)
    chat = result.latency_samples["chat"]
    assert st["chat"]["n"] == 4000
    assert st["chat"]["ttft_s"]["p50"] == pytest.approx(float(np.median(chat["ttft_s"])))
    met = np.mean((chat["ttft_s"] <= 0.5) & (chat["tpot_s"] <= 0.05))
    assert st["chat"]["slo_met"] == pytest.approx(met)
    assert st["chat"]["slo_ttft_met"] >= st["chat"]["slo_met"]
    assert latency_stats(SimpleNamespace(latency_samples={}, slo={})) == {}


def test_summary_table_leads_with_the_four_tpf_figures(result, written):
    out, files = written
    text = summary_table(result.report, files=files, out_dir=out, latency=latency_stats(result))
    lines = text.splitlines()
    block = lines[3:lines.index(lines[1], 3)]  # the rows up to the next rule
    labels = [ln.strip().split("  ")[0] for ln in block if ln[2] != " "]
    assert labels == ["J / output token", "Binding constraint", "PUE-adj. delivered power",
                      "Util.-adjusted output"]
    r = result.report
    assert f"facility {r['joules_per_output_token']['facility']:#.3g} J" in text
    last = r["binding"]["shifts"][-1]["to"]
    assert f"at end: {last}" in text
    assert f"Binding shifts" in text and f"  {len(r['binding']['shifts'])}" in text
    # each figure's value in its row, in its place
    row = {ln.strip().split("  ")[0]: ln.strip().split("  ", 1)[1].strip() for ln in block if ln[2] != " "}
    jpt, pad = r["joules_per_output_token"], r["pue_adjusted_delivered_power_w"]
    assert row["J / output token"] == f"GPU {fmt_jpt(jpt['gpu'])}   IT {fmt_jpt(jpt['it'])}   facility {fmt_jpt(jpt['facility'])}"
    assert row["PUE-adj. delivered power"] == f"mean {fmt_si(pad['mean'], 'W')}   peak {fmt_si(pad['peak'], 'W')}"
    assert row["Util.-adjusted output"] == fmt_si(r['utilization_adjusted_output_tok_s'], 'tok/s')
    # the row's second field, on its continuation line
    # its mean C served ÷ utilization, the fixture having no tpf.run_mean (dcsim.report.summary.mean_compute_ceiling)
    served = r["throughput_tok_s"]["output"]
    assert (f"{fmt_si(r['utilization_adjusted_output_tok_s'], 'tok/s')} Served ÷ compute ceiling C "
            f"{fmt_pct(r['utilization'])} (served {fmt_si(served, 'tok/s')} ÷ mean compute ceiling C "
            f"{fmt_si(served / r['utilization'], 'tok/s')})") in " ".join(text.split())
    assert re.search(r"^  Binding shifts\s+(\d+)$", text, flags=re.M).group(1) == str(len(r["binding"]["shifts"]))
    # "at end" is the final constraint, not the most common one (equal on the fixture: make them differ)
    end = summary_table({**r, "binding": {**r["binding"], "final": "power"}})
    assert "at end: power" in end and "demand most of the time" in end
    assert "Latency p50/p99 [chat]" in text and "SLO attainment" in text
    assert str(out) in text and "report.html" in text and "plots/ (5 PNG)" in text
    # aligned: every value column starts at the same offset
    starts = {re.match(r"  (\S.*?)\s{2,}(\S)", ln).start(2) for ln in lines[3:12]
              if ln.strip() and not ln.startswith("─") and ln[2] != " "}
    assert len(starts) == 1
    assert len(lines) < 30
    # no samples → says so rather than inventing numbers
    assert "no per-request latencies (fluid fidelity)" in summary_table(r)


def test_real_engine_run_writes_consistent_outputs(tmp_path):
    ref = REPO / "scenarios" / "reference.yaml"
    res = dcsim.run(dcsim.load_scenario(ref))
    files = write_outputs(res, tmp_path / "ref")
    data = json.loads(files["report.json"].read_text())
    _walk_numbers(res.report, data)
    back = read_timeseries(files["timeseries.csv"])
    for k in TIMESERIES_COLUMNS:
        np.testing.assert_array_equal(back[k], np.asarray(res.timeseries[k]), err_msg=k)
    e = data["energy_j"]
    assert e["facility"] == pytest.approx(e["it"] + e["cooling"] + e["power_losses"], rel=1e-9)
    html = files["report.html"].read_text()
    assert "https://" not in html and "data:image/png;base64," in html
    # a fluid run counts no requests: its latency row says the figures are estimated, and how
    row = re.search(r'<tr><td class="l">chat</td><td>([^<]*)</td>', html)
    assert row and row.group(1) == "estimated"
    assert "Not counted per request at this fidelity: fluid queueing estimate" in html


def test_plots_false_and_summary_from_result_and_dir(result, tmp_path):
    out = tmp_path / "noplots"
    files = write_outputs(result, out, plots=False)
    assert not (out / "plots").exists() and not any(k.startswith("plots/") for k in files)
    html = (out / "report.html").read_text()
    assert "data:image/png" not in html and "<h1>dcsim report — toy-day</h1>" in html
    # a Result instead of a report: latency comes from its samples; files found in out_dir
    text = summary_table(result, out_dir=out)
    p50 = float(np.quantile(result.latency_samples["chat"]["tpot_s"], 0.5))
    assert f"TPOT {1e3 * p50:.3g} ms/" in text
    assert "report.json, timeseries.csv, report.html" in text
    assert f"Open" in text and str(out / "report.html") in text


def test_parquet_only_with_pyarrow(result, written):
    out, files = written
    try:
        import pyarrow.parquet as pq
    except ImportError:
        assert "timeseries.parquet" not in files and not (out / "timeseries.parquet").exists()
        return
    table = pq.read_table(out / "timeseries.parquet")
    for k, v in result.timeseries.items():
        np.testing.assert_array_equal(table.column(k).to_numpy(), v, err_msg=k)


def test_partial_run_is_flagged(result, tmp_path):
    rep = {**result.report, "partial": True}
    part = SimpleNamespace(**{**vars(result), "report": rep})
    files = write_outputs(part, tmp_path / "p", formats=("json", "html"), plots=False)
    assert "<b>Partial run.</b>" in files["report.html"].read_text()
    assert json.loads(files["report.json"].read_text())["partial"] is True
    assert "WARNING" in summary_table(rep) and "WARNING" not in summary_table(result.report)


def test_engine_latency_quantiles_preferred_over_samples(result, tmp_path):
    """Request fidelity: the engine's quantiles over all requests (serving.per_class) are shown,
    not the bounded samples'."""
    rep = {**result.report, "fidelity": "request", "serving": {"per_class": {
        "chat": {"latency_s": {"ttft": {"p50": 0.0123, "p90": 0.05, "p99": 0.0789},
                               "tpot": {"p50": 0.0311, "p99": 0.0422},
                               "e2e": {"p50": 4.56, "p99": 32.1}},
                 "requests": {"completed": 369179}, "slo_attainment": 0.987}}}}
    res = SimpleNamespace(**{**vars(result), "report": rep})
    text = summary_table(res)
    assert "Latency p50/p99 [chat]    TTFT 12.3 ms/78.9 ms  TPOT 31.1 ms/42.2 ms  E2E 4.56 s/32.1 s" in text
    assert "SLO attainment            chat 98.7%" in text and "[batch]" not in text
    files = write_outputs(res, tmp_path / "req", formats=("html",), plots=False)
    html = files["report.html"].read_text()
    # completed, then shed (not in this fixture: n/a), then the latencies of the completed requests
    assert "<td>369,179</td><td>n/a</td><td>12.3 ms</td><td>78.9 ms</td>" in html and "98.7%" in html
    # run-wide latency only → one row named "all"
    rep2 = {k: v for k, v in rep.items() if k != "serving"}
    rep2["latency_s"] = rep["serving"]["per_class"]["chat"]["latency_s"]
    rep2["slo_attainment"] = 0.5
    assert "Latency p50/p99 [all]" in summary_table(rep2) and "all 50.0%" in summary_table(rep2)


def test_html_of_a_real_run_shows_the_four_figures_as_defined(tmp_path):
    """The cards and summary render the typed report: used of available power, ceiling × U × Φ_sys,
    the binding share, and the closed form at each labelled moment."""
    res = dcsim.run(small_scenario(**{"duration": "30 min", "facility.interconnect": "120 kW",
                                      "workload.arrivals.rate": "600 req/s"}))
    files = write_outputs(res, tmp_path / "run", plots=False)
    page = files["report.html"].read_text(encoding="utf-8")
    pad = res.report["pue_adjusted_delivered_power_w"]
    from dcsim.metrics.fmt import fmt_delivered_power, fmt_si

    assert "θ·P<sub>fac</sub>/PUE" in page and fmt_delivered_power(res.report)[1] in page
    assert "Φ<sub>sys</sub>" in page
    for label in ("peak_demand", "hottest", "mean_demand"):
        assert f"Closed form C / P / Q at {label}" in page
    assert "Notes: results a planner might not expect" in page or not res.report["notes"]
    # each closed-form row shows C / P / Q in that order and the moment's own binding
    # (measured 98.9 k / 65.6 k / 198 ktok/s -> power: three distinct values, so a swap shows)
    moments = {**res.report["tpf"]["moments"]}
    moments["hottest"] = {**moments["hottest"], "binding": "cooling"}  # the moment's, not the run's
    rep = {**res.report, "tpf": {**res.report["tpf"], "moments": moments}}
    # figures 3 and 4 with distinct parts (this run is power-bound: used = available, U = Phi_sys = 100 %)
    rep["pue_adjusted_delivered_power_w"] = {"mean": 80e3, "peak": 90e3, "used": 80e3, "theta": 1.0,
                                             "available": {"mean": 95e3, "min": 91e3}}
    rep["utilization_adjusted_output"] = {"ceiling_tok_s": 100e3, "utilization": 0.7, "phi_sys": 0.9,
                                          "product_tok_s": 63e3, "achieved_tok_s": 63e3,
                                          "slo_output_tok_s": 50e3, "slo_share": 50 / 63}
    page = render_html(SimpleNamespace(**{**vars(res), "report": rep}), {})
    for label, m in moments.items():
        cpq = " / ".join(fmt_si(m[k], "tok/s") for k in ("compute_tok_s", "power_tok_s", "cooling_tok_s"))
        assert re.search(f"at {label}</td><td class=\"l\">{re.escape(cpq)} → <span [^>]*>{m['binding']}</span>", page)
    assert '<span class="nw">80.0 <small>kW</small></span> <small class="nw">to IT, mean</small>' in page
    assert "available <b>95.0 kW</b> (min 91.0 kW)" in page
    assert "ceiling <b>100 ktok/s</b> × U <b>70.0%</b> × Φ<sub>sys</sub> <b>90.0%</b>" in page
    # U and report.json "utilization" (served ÷ C) are different numbers: each says what it is, and only U is "U"
    assert "U = offered ÷ ceiling min(C, P, Q), offered = the work waiting, clipped on each tick to the ceiling; Φ<sub>sys</sub> = served ÷ offered" in page
    assert re.search(r"Served ÷ compute ceiling C</td><td class=\"l\">[\d.]+% <span class=\"note\">\(served "
                     r"[\d.]+ [kM]?tok/s ÷ mean compute ceiling C [\d.]+ [kM]?tok/s; not U 70.0%, which is offered ÷ "
                     r"the ceiling min\(C, P, Q\) 100 ktok/s\)", page)
    assert "Compute utilization" not in page
    text = summary_table(rep)
    # site powers keep their trailing zero (dcsim.metrics.fmt.fmt_power_w: "14 MW" hid campus's 13.997 MW)
    assert "used 80.0 kW of 95.0 kW available (θ·P/PUE at the cap, min 91.0 kW)" in text
    assert "100 ktok/s ceiling × U 70.0% × Φ_sys 90.0% = 63 ktok/s" in text
    assert ("U = offered ÷ ceiling min(C, P, Q), offered = the work waiting, clipped on each tick to the ceiling; "
            "Φ_sys = served ÷ offered") in " ".join(text.split())


def test_energy_per_token_and_run_lengths_print_as_a_planner_reads_them():
    from dcsim.metrics.fmt import fmt_duration, fmt_jpt

    assert [fmt_jpt(x) for x in (0.0123, 1.2, 220.4)] == ["0.0123 J", "1.20 J", "220 J"]  # was "220. J"
    assert fmt_duration(8760 * 3600.0) == "8,760 h" and fmt_duration(24 * 3600.0) == "24 h"  # was "8.76e+03 h"
    from dcsim.metrics.fmt import fmt_multiple  # a search range's ends, as dcsim tpf says them
    assert [fmt_multiple(x) for x in (1e-3, 0.5, 1.0, 100.0, 1e3)] == ["0.1 %", "50 %", "1x", "100x", "1000x"]


def test_binding_headline_says_how_long_and_whether_a_limit_binds():
    """The headline does not call a plurality 'most of the time', and when demand leads it says how
    long a limit binds (reference: demand 46 %, a limit 54 % of the day)."""
    from dcsim.report.summary import binding_headline
    h = binding_headline({"demand": 0.46, "compute": 0.045, "power": 0.371, "cooling": 0.124})
    assert h.top == "demand" and h.first == "demand 46.0% of the time (the most of any)"
    assert h.limits_text == "a limit binds 54.0%: power 37.1%, cooling 12.4%, compute 4.5%"
    h = binding_headline({"demand": 0.2, "compute": 0.0, "power": 0.8, "cooling": 0.0})
    assert (h.top, h.first, h.limits_text) == ("power", "power most of the time (80.0%)", None)
    h = binding_headline({"demand": 1.0, "compute": 0.0, "power": 0.0, "cooling": 0.0})
    assert (h.first, h.limits_text) == ("demand most of the time (100.0%)", None)
    assert (binding_headline(None).top, binding_headline(None).first) == (None, "n/a")


def test_html_card_and_terminal_say_the_binding_from_one_rule():
    """report.html's binding card and the terminal's binding row are built from the same parts
    (summary.binding_headline): the same constraint, the same "how long" and the same limit split, also for a report
    whose ``binding.most_common`` does not agree with its shares (the card read ``most_common``, the terminal the
    shares: a hand-edited report named power on one and cooling on the other)."""
    import html as _html

    from dcsim.report.html import _cards
    from dcsim.report.summary import headline_rows

    def texts(report):
        card = _html.unescape(re.sub(r"<[^>]+>", " ", _cards(report).split('<div class="label">Binding constraint')[1]
                                     .split('<div class="card"')[0]))
        row = dict(headline_rows(report)).get("Binding constraint")
        return " ".join(card.split()), row

    for share, first, limits in (
            ({"demand": 0.2, "compute": 0.0, "power": 0.5, "cooling": 0.3}, "power 50.0% of the time (the most of any)",
             None),
            ({"demand": 0.1, "compute": 0.0, "power": 0.3, "cooling": 0.6}, "cooling most of the time (60.0%)", None),
            ({"demand": 0.7, "compute": 0.2, "power": 0.1, "cooling": 0.0}, "demand most of the time (70.0%)",
             "a limit binds 30.0%: compute 20.0%, power 10.0%")):
        report = {"binding": {"share": share, "most_common": "compute", "shifts": []}}
        card, row = texts(report)
        name, how = first.split(" ", 1)
        assert row.startswith(first + "   at end")
        assert card.startswith(f"{name} {how}"), card  # the card named binding.most_common (compute) over the shares
        assert (limits in card) if limits else ("a limit binds" not in card)


def test_html_renders_a_report_without_its_run(result):
    """report.html from a report alone (no Result.controller_log): report.json's controller.actions is the number of
    entries, not the log, and rendering it raised "'int' object is not iterable"; the page has no controller log."""
    report = json.loads(report_json_bytes(result.report))
    report["controller"] = {**(report.get("controller") or {}), "actions": 3}  # as engine/assemble.py writes it
    page = render_html(SimpleNamespace(report=report), {})
    assert "<h2>Controller log</h2>" not in page and "<h2>Binding-constraint shifts</h2>" in page


def test_overrides_travel_with_the_run(tmp_path):
    """A run of a scenario file changed by --set says so: provenance.overrides in report.json, a line
    above the figures in the summary and the HTML (its title too), and the expect block is marked as
    the file's claims checked on the overridden scenario."""
    from conftest import small_scenario
    from dcsim.report import write_outputs
    from dcsim.report.summary import summary_table
    from dcsim.scenario import load_scenario
    sc = small_scenario(duration="1 h", **{"controller.tick": "10 min"})
    sc["expect"] = {"pue": [1.0, 2.0]}
    plain = load_scenario(sc)
    assert plain.overrides == []
    over = load_scenario(plain, ["racks.0.count=2", "facility.interconnect=900 kW"])
    over2 = load_scenario(over, {"seed": 3})
    assert over2.overrides == ["racks.0.count=2", "facility.interconnect=900 kW", "seed=3"]
    r = dcsim.run(over2)
    assert r.report["provenance"]["overrides"] == over2.overrides
    text = summary_table(r.report)
    assert "Overrides" in text and "racks.0.count=2; facility.interconnect=900 kW; seed=3" in text
    assert text.index("Overrides") < text.index("J / output token")
    assert "checked on the scenario as overridden" in text
    assert "Overrides" not in summary_table(dcsim.run(plain).report)
    write_outputs(r, tmp_path / "o", formats=("json", "html"), plots=False)
    html = (tmp_path / "o" / "report.html").read_text()
    assert "(3 overrides)</title>" in html and "<code>racks.0.count=2</code>" in html
    assert html.index("<b>Overrides</b>") < html.index('class="cards"')


def test_local_time_follows_the_scenario_clock():
    """The HTML's shift and controller logs showed only the time since the start; a planner reading a year's log
    needs the date and hour of day (report.json ``clock``)."""
    assert fmt_local_time(3600 * 30 + 60, {"start": "2026-07-15T00:00:00", "day_of_year": 196, "hour": 0.0}) \
        == "2026-07-16 06:01"
    assert fmt_local_time(7200, {"day_of_year": 365, "hour": 23.0}) == "day 1 01:00"  # the year wraps
    assert fmt_local_time(0, {"day_of_year": 196, "hour": 14.5}) == "day 196 14:30"
    assert fmt_local_time(0, None) == "n/a" and fmt_local_time(None, {"day_of_year": 1, "hour": 0}) == "n/a"


def _request_report(result, ttft_p99, hold=600.0):
    return {**result.report, "fidelity": "request", "controller": {**(result.report.get("controller") or {}),
                                                                   "hold_limit_s": hold},
            "requests": {"arrived": 1000, "completed": 700, "shed": 290, "in_flight": 10},
            "serving": {"per_class": {"chat": {
                "latency_s": {"ttft": {"p50": 0.9 * ttft_p99, "p99": ttft_p99}, "tpot": {"p50": 0.03, "p99": 0.04},
                              "e2e": {"p50": 10.0, "p99": ttft_p99 + 30.0}},
                "requests": {"arrived": 1000, "completed": 700, "shed": 290}, "slo_attainment": 0.2}}}}


def test_a_ttft_at_the_hold_limit_is_said_to_be_the_limit(result, tmp_path):
    """TTFT percentiles at controller.hold_limit are the limit (older requests are shed), said in the summary and
    the HTML with the shed count; the HTML latency table shows completed and shed requests (the audit of 2026-12-04:
    "TTFT 600 s/600 s" beside "75.9 M requests … SLO met 24.5 %", the share over completed + shed, unexplained)."""
    rep = _request_report(result, 599.7)
    res = SimpleNamespace(**{**vars(result), "report": rep})
    text = " ".join(summary_table(res).split())
    assert "TTFT of chat reaches the hold limit (600 s, controller.hold_limit)" in text
    assert "(290 of 1 k requests here, 29.0%)" in text
    assert "Requests arrived 1 k completed 700 shed 290 (29.0%) in flight 10" in text
    assert "(of requests completed or shed)" in text
    html = write_outputs(res, tmp_path / "h", formats=("html",), plots=False)["report.html"].read_text()
    assert "requests completed</th>" in html and ">shed</th>" in html and "<td>700</td><td>290</td>" in html
    assert "reaches the hold limit" in html
    # below the limit: no such note
    res2 = SimpleNamespace(**{**vars(result), "report": _request_report(result, 30.0)})
    assert "hold limit" not in summary_table(res2)


def test_html_headline_names_the_limits_when_they_bind_longer_than_demand(result):
    """Demand the plurality but the limits together longer: the first card says both (the reference read a big
    "demand" with a limit binding 57 % of the day)."""
    rep = {**result.report, "binding": {**result.report["binding"], "most_common": "demand",
                                        "share": {"demand": 0.426, "compute": 0.252, "power": 0.144, "cooling": 0.178}}}
    html = render_html(SimpleNamespace(report=rep), {})
    card = html[html.index("Binding constraint"):][:1500]
    assert "a limit</span> <small>57.4%</small>" in card and "demand <small>42.6%</small>" in card
    assert '<span class="nw">demand <small>42.6%</small></span> · <span class="nw">' in card  # breaks at "·" only
    rep2 = {**rep, "binding": {**rep["binding"], "share": {"demand": 0.7, "compute": 0.3, "power": 0.0, "cooling": 0.0}}}
    assert "a limit</span>" not in render_html(SimpleNamespace(report=rep2), {})


def test_html_cards_fit_the_page():
    """At a 1,300-px window the fourth card ran 15 px past the page (headless Chromium): the grid's 1fr columns grew
    to the binding card's unbreakable "demand 42.6 % · a limit 57.4 %". The columns may now shrink below their
    content (minmax(0, ...)), the binding headline breaks between its two chunks only, and a narrow window shows two
    cards a row."""
    import re

    from dcsim.report import html as html_mod

    css = html_mod._CSS
    cols = re.search(r"\.cards\{display:grid;grid-template-columns:([^;]+);", css).group(1)
    assert cols.split() and all(c.startswith("minmax(0,") for c in cols.split(" ")), cols
    assert "@media (max-width:900px){.cards{grid-template-columns:minmax(0,1fr) minmax(0,1fr)}}" in css
    assert ".nw{white-space:nowrap}" in css
    # a figure's cell (right-aligned, not class "l") keeps its number and unit on one line: chiller-trip's controller
    # log wrapped "221" from "ktok/s" in every cap row's limit column
    assert "td:not(.l){white-space:nowrap}" in css


def test_html_only_the_binding_card_wears_a_constraint_colour(result):
    """The delivered-power card's top edge was the power colour and the output card's the compute colour on every run,
    beside a demand- or cooling-bound headline (chiller-trip: a grey binding card between a vermillion and a blue one):
    a planner reads the colours as binding kinds. Only the binding card is coloured, by the constraint it names; the
    card's figures keep their units on their line (heatwave-air's "0.761" wrapped from its "J")."""
    import re

    from dcsim.plots import CONSTRAINT_COLORS

    for leader in ("demand", "cooling"):
        share = {k: (0.7 if k == leader else 0.1) for k in CONSTRAINT_COLORS}
        rep = {**result.report, "binding": {**result.report["binding"], "most_common": leader, "share": share}}
        page = render_html(SimpleNamespace(report=rep), {})
        tops = re.findall(r'<div class="card" style="border-top-color:([^"]+)"><div class="label">([^<]+)</div>', page)
        assert [t[1] for t in tops] == ["Joules per output token", "Binding constraint",
                                        "PUE-adjusted delivered power", "Utilization-adjusted output"]
        colours = {k: v.lower() for k, v in CONSTRAINT_COLORS.items()}
        for colour, label in tops:
            if label == "Binding constraint":
                assert colour.lower() == colours[leader]
            else:
                assert colour.lower() not in colours.values(), (label, colour)
    jcard = page[page.index("Joules per output token"):page.index("Binding constraint")]
    assert re.search(r'GPU <b class="nw">[0-9.]+ [mk]?J</b> · IT <b class="nw">[0-9.]+ [mk]?J</b>', jcard), jcard
    assert 'per SLO-meeting token <span class="nw">' in jcard


def test_html_binding_card_says_the_band_lead_on_its_own_line_not_in_the_headline(result):
    """mixed-fleet's binding card put "compute could bind instead within the calibration band, undetermined on 60.6%
    of the run" inside the 34-px headline: two lines 41 px apart, read as two paragraphs. The lead is now a line of its
    own under the headline, in the band's colour; the headline holds the constraint and its share only."""
    import re

    wb = {"alternatives": {"compute": 0.567, "cooling": 0.0, "power": 0.038}, "groups": ["b200-reasoning"],
          "by_named": {"compute": {"cooling": 0.0, "power": 0.038}, "cooling": {"compute": 0.0, "power": 0.0},
                       "power": {"compute": 0.567, "cooling": 0.0}},
          "j_per_tok_pct": 46.0, "lower_bound": True, "median_gap": {"compute": 0.003, "cooling": None, "power": 0.04},
          "power_cap_ratio": 1.0956, "ratio_window": [0.368, 1.0956], "share": 0.6056,
          "share_by_named": {"compute": 0.038, "cooling": 0.0, "power": 0.567}, "tok_s_pct": 31.79}
    share = {"demand": 0.381, "compute": 0.051, "power": 0.567, "cooling": 0.0}
    rep = {**result.report, "binding": {**result.report["binding"], "most_common": "power", "share": share,
                                        "within_band": wb}}
    page = render_html(SimpleNamespace(report=rep), {})
    card = page[page.index('<div class="label">Binding constraint'):]
    card = card[:card.index('<div class="card"')]
    big = re.search(r'<div class="big">(.*?)</div>', card).group(1)
    assert "power" in big and "calibration band" not in big, big
    lead = re.search(r'<div class="lead band">([^<]*)</div>', card)
    assert lead and "could bind instead within the calibration band" in lead.group(1)


def test_html_energy_table_indents_parts_under_their_totals(result):
    """Facility first, its parts indented under it, so one depth under a parent adds up to it (the flat table's
    "of facility" column summed to 158 %)."""
    html = render_html(result, {})
    t = html[html.index("component (parts indented"):]
    t = t[:t.index("</table>")]
    rows = re.findall(r'<td class="l" title="energy_j.(\w+)">((?:&nbsp;)*)(?:└ )?[^<]*</td><td class="nw">[^<]*</td>'
                      r'<td class="nw">[^<]*</td><td class="nw">([\d.]+)%</td>', t)
    rows = [(ind, k, p) for k, ind, p in rows]
    depth = {k: len(ind) // 24 for ind, k, _ in rows}
    share = {k: float(p) for _, k, p in rows}
    assert rows[0][1] == "facility" and depth["facility"] == 0
    assert depth["it"] == 1 and depth["gpu"] == 2 and depth["cooling"] == 1 and depth["power_losses"] == 1
    top = [k for k, d in depth.items() if d == 1]
    assert abs(sum(share[k] for k in top) - 100.0) < 0.5, (top, share)


def test_html_shows_cost_and_carbon_totals(result):
    rep = {**result.report, "cost": {"usd": 661.4, "usd_per_mtok": 0.0279}, "carbon": {"g": 3.8e6, "g_per_mtok": 160.2}}
    html = render_html(SimpleNamespace(report=rep), {})
    assert "$661 ($0.0279 per M output tokens)" in html and "3.8 t CO2e (160.2 g per M output tokens)" in html
    big = {**rep, "carbon": {"g": 1.36e9, "g_per_mtok": 160.2}}
    assert "1,360 t CO2e" in render_html(SimpleNamespace(report=big), {})
def test_summary_and_html_name_the_start_and_moments_on_the_local_clock():
    """chiller-trip starts 2026-07-15 11:00: neither header said so, its fault read "0.17–0.83 h" and its closed
    form's moments "01:59:55" (a planner's 2 a.m.). The headers show the start; moments and windows print on the
    scenario's local clock."""
    from dcsim.report.html import render_html
    from dcsim.report.summary import fault_lines

    r = synthetic_result()
    rep = dict(r.report, duration_s=7200.0,
               clock={"start": "2026-07-15T11:00:00", "day_of_year": 196, "hour": 11.0},
               tpf={**r.report["tpf"], "moments": {"hottest": {
                   "t_s": 7195.0, "operating_point": "the tick of highest outdoor dry-bulb temperature",
                   "compute_tok_s": 1.0, "power_tok_s": 1.0, "cooling_tok_s": 1.0, "binding": "power"}}},
               faults=[{"kind": "cooling_failure", "start_s": 600.0, "end_s": 3000.0, "tokens_lost": 2e8,
                        "energy_change_j": -5.6e8, "binding_s": {"cooling": 1200.0, "compute": 1200.0}}])
    text = summary_table(rep)
    assert text.splitlines()[0].endswith("start 2026-07-15 11:00")
    (line,) = fault_lines(rep)
    assert line.startswith("fault cooling_failure 11:10–11:50: ")
    page = render_html(SimpleNamespace(**{**vars(r), "report": rep}), {})
    assert "start 2026-07-15 11:00</span>" in page
    assert "(the tick of highest outdoor dry-bulb temperature, at 12:59 local)" in page
    assert "01:59:55" not in page and "fault cooling_failure 11:10–11:50" in page


def _fault(kind="cooling_failure", start=600.0, end=3000.0, window=2e8, net=None, **kw):
    f = {"kind": kind, "start_s": start, "end_s": end, "tokens_lost": window, "energy_change_j": -5.6e8,
         "binding_s": {"cooling": 1200.0, "compute": 1200.0}, **kw}
    if net is not None:
        f["tokens_lost_net"] = net
    return f


def _fault_line(*faults, duration=7200.0, **report):
    from dcsim.report.summary import fault_lines
    lines = fault_lines({"duration_s": duration, "faults": list(faults), **report})
    return lines[0] if len(lines) == 1 else lines


def test_the_fault_line_leads_with_the_cost_to_the_end_of_the_run_when_the_recovery_costs_more():
    """chiller-trip's audit (1,100 req/s, 2 h): the line read "200.4 M output tokens lost in its window" while the run
    served 274.3 M fewer than its baseline (the hall stayed cooling-bound for an hour after the plant returned). The
    line leads with what the fault cost to the end of the run and gives the window's share, the smaller one."""
    line = _fault_line(_fault(window=200.4e6, net=274.3e6))
    assert line.startswith("fault cooling_failure 00:10:00–00:50:00 from the start: 274.3 M output tokens lost to the "
                           "end of the run (200.4 M in its window, 73.9 M after it, recovering) vs a run without it; ")
    assert "energy -155.6 kWh in its window" in line


def test_the_fault_line_gives_the_net_cost_when_the_backlog_is_served_after_the_window():
    """The normal case (a hall with headroom: chiller-trip at 600 req/s): the window lost 151.6 M, 70.4 M of that
    backlog was served after it, so the fault cost 81.3 M; the larger window figure is not the headline."""
    line = _fault_line(_fault(window=151.64e6, net=81.26e6))
    assert ": 81.3 M output tokens lost to the end of the run (70.4 M of the backlog from its window served after " \
           "it) vs a run without it; " in line
    assert "151.6" not in line


def test_the_fault_line_gives_the_window_figure_where_it_is_the_only_one():
    """A window reaching the end of the run (node_failures span it) has one figure; so has a report without
    tokens_lost_net. A fault that cost nothing says so."""
    nf = _fault_line(_fault("node_failures", 0.0, 7200.0, window=31.7e6, net=31.7e6))
    assert ": 31.7 M output tokens lost in its window (to the end of the run) vs a run without it; " in nf
    assert ": 200.0 M output tokens lost in its window vs a run without it; " in _fault_line(_fault())
    tank = _fault_line(_fault(window=51.4e6, net=1e-6))  # chiller-trip with a 6 m³ tank: served late, none lost
    assert ": no output tokens lost to the end of the run (all 51.4 M of the backlog from its window served after " \
           "it) vs a run without it; " in tank
    hw = _fault_line(_fault("heat_wave", window=0.0, net=-1e3))
    assert ": no output tokens lost, in its window or to the end of the run vs a run without it; " in hw


def test_the_fault_line_names_the_cost_still_waiting_at_the_end_and_the_slo_attainment():
    """A recovery that runs past the end (chiller-trip at 640 req/s over 3 h: 137.3 M lost, 92.7 M more shed,
    44.6 M more waiting at 14:00) is not a final cost: the line says so, and gives the run's SLO attainment without
    and with the fault. Several faults share the totals: neither is printed per fault then."""
    total = {"faults_total": {"tokens_lost": 137.3e6, "tokens_shed_change": 92.7e6, "slo_attainment_change": -0.792},
             "faults_baseline": {"slo_attainment": 0.9937}}
    line = _fault_line(_fault(window=167.8e6, net=137.3e6), duration=10800.0, **total)
    assert ", 44.6 M of them still waiting when the run ends (the recovery runs past it) vs a run without it; " \
           "SLO attainment of the run 99.4% → 20.2%; energy" in line
    two = _fault_line(_fault(window=167.8e6, net=137.3e6, marginal_tokens_lost=1e8, marginal_energy_change_j=0.0),
                      _fault("curtailment", window=1e6, net=1e6, marginal_tokens_lost=1e6,
                             marginal_energy_change_j=0.0), duration=10800.0, **total)
    assert not any("still waiting" in x or "SLO attainment" in x for x in two)
    # a lone window reaching the end of the run (node failures span it) with a backlog at the end says so too (it
    # returned before the clause: review of 2026-12-04)
    nf = _fault_line(_fault("node_failures", 0.0, 10800.0, window=137.3e6, net=137.3e6), duration=10800.0, **total)
    assert ": 137.3 M output tokens lost in its window (to the end of the run), 44.6 M of them still waiting when " \
           "the run ends" in nf


def test_the_summary_says_how_often_the_controller_capped(result):
    """A meter pinned at the cap on a demand-bound night read as unexplained: the summary and the HTML say how often
    the controller capped and its mean clock (the audit of the views)."""
    rep = {**result.report, "controller": {**(result.report.get("controller") or {}), "capped_share": 0.25,
                                           "mean_clock": 0.8}}
    res = SimpleNamespace(**{**vars(result), "report": rep})
    assert "Controller                capped 25.0% of the ticks" in summary_table(res)
    assert "capped 25.0% of the ticks" in render_html(res, {})
    rep0 = {**rep, "controller": {**rep["controller"], "capped_share": 0.0}}
    assert "Controller" not in summary_table(SimpleNamespace(**{**vars(result), "report": rep0}))


def test_report_html_reads_a_pools_near_tie_by_a_hair_and_what_p_counts():
    """report.html's closed-form rows of mixed-fleet: the reasoning pool power-bound 1.4e-7 under its compute ceiling
    at the mean-demand moment read "D / C / served → power" (its P not shown), the facility "301 k / 242 k / 489 k →
    power", a 20 % power shortfall where the chat pool is demand-bound. Now each pool's P is printed beside its C with
    digits that tell them apart, a near tie reads "by a hair" with the run's note, and the facility row says what P
    counts."""
    from dcsim.engine.build import build_models
    from dcsim.engine.steady import steady_report
    from dcsim.report.html import _summary

    m = build_models(dcsim.load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "mixed-fleet.yaml"))
    text = " ".join(re.sub(r"<[^>]+>", " ", html.unescape(_summary(
        {"tpf": {"moments": steady_report(m, crossovers_too=False)["moments"]}}))).split())
    assert "→ power by a hair (pool b200-reasoning)" in text
    assert "C 75.26507 ktok/s / P 75.26506 ktok/s" in text
    assert "by a hair: P is 0.0105 tok/s (1.4e-05 %) under C" in text
    assert "(h100-chat at its demand), C every pool's full compute: C − P is no power shortfall" in text
    assert "C 226 ktok/s / P 226 ktok/s" in text  # the chat pool's P at its C (equal but for rounding): 3 figures


def test_the_summary_reports_ticks_with_no_gpu_in_service_apart_from_the_capped_ones(result):
    """chiller-trip's 103 thermally shed ticks (no GPU in service) read "capped 56.5 % of the ticks ... mean clock
    0.917" at their placeholder clock 0.30. The controller row says the share out of service apart, and the mean
    clock is said to be over the ticks in service; a run with none out of service reads as before."""
    ctl = {**(result.report.get("controller") or {}), "capped_share": 0.469, "mean_clock": 0.982,
           "out_of_service_share": 0.095}
    res = SimpleNamespace(**{**vars(result), "report": {**result.report, "controller": ctl}})
    flat = " ".join(summary_table(res).split())
    assert "capped 46.9% of the ticks (each draws its budget) mean clock 0.982 in service no GPU in service on " \
           "9.5% of the ticks" in flat
    assert "no GPU in service on 9.5% of the ticks" in render_html(res, {})
    # shed but never capped: still a Controller row
    none = SimpleNamespace(**{**vars(result), "report": {**result.report, "controller": {**ctl, "capped_share": 0.0}}})
    assert "never capped" in " ".join(summary_table(none).split())
    plain = SimpleNamespace(**{**vars(result), "report": {**result.report, "controller": {
        **ctl, "out_of_service_share": 0.0}}})
    flat = " ".join(summary_table(plain).split())
    assert "mean clock 0.982" in flat and "in service" not in flat.split("Controller")[1].split("Energy")[0]


def test_a_long_ratio_claim_reads_as_one_claim_in_the_summary(result):
    """grid-flex --check printed an "Expect ok" row alone over a long ratio claim wrapped onto the next line ("ok" and
    the key were three spaces apart, a field break to the wrapper; until 2026-12-05): "ok", the key and its value
    start one row, the key whole, the bounds kept together."""
    rep = dict(result.report)
    key = "flexibility.with.slo_meeting_tokens / flexibility.without.slo_meeting_tokens"
    rep["expect"] = {"passed": True, "checks": [
        {"path": key, "lo": 1.36, "hi": 1.5, "value": 1.43, "ok": True, "reason": "within bounds"},
        {"path": "pue", "lo": 1.0, "hi": 1.5, "value": 1.2, "ok": True, "reason": "within bounds"}]}
    lines = summary_table(rep).splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.strip().startswith("Expect"))
    assert re.search(r"Expect\s+ok\s+flexibility\.with\.slo_meeting_tokens / flexibility\.without\.slo_meeting_tokens",
                     lines[i]), lines[i:i + 2]
    assert "[1.36, 1.5]" in lines[i] + lines[i + 1] and not lines[i + 1].strip().startswith("Expect")
    assert re.search(r"Expect\s+ok\s+pue = 1\.2 in \[1, 1\.5\]", lines[i + 2]), lines[i:i + 3]


def test_write_outputs_keeps_a_finished_run_on_ctrl_c_and_says_what_was_lost(result, tmp_path, monkeypatch):
    """dcsim.report.write_outputs from Python: a Ctrl-C while report.html was being written dropped the whole run,
    report.json included, and said nothing (dcsim run kept it since 2026-12-05). It keeps the run's data files now,
    commits the folder and raises KeyboardInterrupt again naming what was written and what not (the CLI's code,
    dcsim.report.write.keep_interrupted_run); a second Ctrl-C says nothing was written."""
    import dcsim.report.html
    import dcsim.report.write

    def ctrl_c(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(dcsim.report.html, "render_html", ctrl_c)
    out = tmp_path / "o"
    with pytest.raises(KeyboardInterrupt) as e:
        write_outputs(result, out, formats=("json", "csv", "html"), plots=False)
    msg = str(e.value)
    assert msg.startswith("interrupted while writing the finished run's files: the run (") and str(out) in msg, msg
    assert ": report.json, timeseries.csv; not written: report.html" in msg, msg
    assert json.loads((out / "report.json").read_text())["duration_s"] == result.report["duration_s"]
    assert (out / "timeseries.csv").is_file() and not (out / "report.html").exists()
    assert not list(tmp_path.glob(".o.tmp-*")) and not list(tmp_path.glob(".o.lock"))
    # a second Ctrl-C (every file write interrupted): nothing written, the folder left as it was, and said so
    monkeypatch.setattr(dcsim.report.write, "atomic_write_bytes", ctrl_c)
    with pytest.raises(KeyboardInterrupt) as e:
        write_outputs(result, tmp_path / "p", formats=("json", "csv", "html"), plots=False)
    assert f"nothing written to {tmp_path / 'p'}" in str(e.value) and "are lost (report.json, timeseries.csv" in str(e.value)
    assert not (tmp_path / "p").exists() and not list(tmp_path.glob(".p.tmp-*"))


def test_every_pue_a_planner_reads_has_three_decimals(result):
    """One run's PUE read "1.44" on the terminal (four significant figures), "1.42" in report.html's J/token card
    (three) and "1.440" in its summary and shift table (review of session 53): three decimals everywhere now."""
    from dcsim.report.html import render_html

    r = SimpleNamespace(**{**vars(result), "report": {**result.report, "pue": 1.44}})
    assert "PUE (energy-weighted)     1.440 " in summary_table(r.report)
    page = render_html(r, {})
    assert "PUE 1.440 ·" in page and ">1.440<" in page and "PUE 1.44 " not in page


def test_thermal_row_and_controller_log_read_temperatures_in_degrees_celsius(result):
    """The "Thermal" row (terminal and report.html) printed "peak inlet/coolant 45.1 degC" beside the controller log's
    "t space (°C)" column and the figures' "temperature (°C)" (chiller-trip, review of session 55): every temperature a
    planner reads is in °C. The controller log's reasons come from the engine (tests/test_thermal_groups.py)."""
    rep = {**result.report, "thermal": {"peak_space_c": 45.06, "throttled_s": 3588.0, "throttled_die_s": 0.0,
                                        "shed_s": 1038.0}}
    log = [{"t_s": 7300.0, "action": "thermal shed", "t_space_c": 45.06,
            "reason": "white space 45.1 °C: the room passed 45 °C; IT off"}]
    page = render_html(SimpleNamespace(**{**vars(result), "report": rep, "controller_log": log}), {})
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    assert re.search(r"Thermal\s+peak inlet/coolant 45\.1\s°C", text), text[text.find("Thermal"):][:200]
    table = summary_table(rep)
    assert re.search(r"Thermal\s+peak inlet/coolant 45\.1\s°C", table), table
    assert "degC" not in text and "degC" not in table
