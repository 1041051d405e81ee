"""Figures README and docs quote that can be checked cheaply against their source of truth, so that the
next drift fails here instead of surviving until someone re-runs the command by hand.

- README's validation row counts against docs/validation.md's summary (itself checked by
  `python -m dcsim.validation --check`), and its count of GPQA reasoning rows within 20 % against the table's rows;
- README's leave-one-model-out figures (pairs meeting the issue-14 bar, H100 Llama-3.3-70B's errors) against
  the shipped leave-one-model-out table (dcsim.node.catalog.pooled_profiles(), which docs/node.md's table and
  dcsim/validation.py read), with the bar validation holds (dcsim.validation.LOMO_BAR);
- docs/report.md's `CALIBRATION_CAVEATS` example against the code;
- terminal output pasted into docs/sweeps.md (the plan answer) and docs/faults.md (the fault line) against the
  formatter's text for answers stored in tests/data;
- docs/sweeps.md's FP8 max-gpus answer with its calibration band, and README's "8-21 racks (256-672 GPUs)",
  against the planner's answer (a 2-s closed-form plan, no run).

The stored answers are checked against runs too: chiller-trip's fault figures, README's reference summary and its
mixed-fleet band in tests/test_scenarios_expect.py (on the run that checks each scenario's expect: block), the plan
answer here, by a `slow` test that runs the command's question (re-run the commands the pages give, store their
answers again and paste their text when one fails).
"""

import json
import re
from pathlib import Path

import pytest

from dcsim.validation import LOMO_BAR, meets_lomo_bar

ROOT = Path(__file__).resolve().parents[1]
ROWS = re.compile(r"(\d+) rows — (\d+) pass, (\d+) known failures")


def _read(rel):
    return (ROOT / rel).read_text()


def test_readme_validation_row_counts_equal_docs_validation():
    summary = re.search(r"\*\*Summary:\*\* " + ROWS.pattern, _read("docs/validation.md"))
    assert summary, "docs/validation.md: no '**Summary:** N rows — P pass, K known failures' line"
    quoted = ROWS.findall(re.sub(r"\s+", " ", _read("README.md")))
    assert quoted, "README.md: no 'N rows — P pass, K known failures' quote"
    for q in quoted:
        assert q == summary.groups(), f"README.md quotes {q}, docs/validation.md says {summary.groups()}"


def _validation_rows():
    """docs/validation.md's main-table rows (the table `python -m dcsim.validation --check` holds to the code), each
    its 10 cells: id, quantity, case, measured, simulated, error, bar, split, status, source."""
    lines = _read("docs/validation.md").splitlines()
    rows = ([c.strip() for c in line.strip().strip("|").split("|")] for line in lines)
    return [c for c in rows if len(c) == 10]


def _error_pct(cells) -> float:
    """A main-table row's simulated-vs-measured error, %, unsigned."""
    return abs(float(cells[5].replace("%", "").replace("−", "-").strip()))


def test_readme_gpqa_rows_within_20_pct_equal_docs_validation_table():
    rows = [c for c in _validation_rows() if re.match(r"H-\S*-gpqa-", c[0])]
    statuses = [c[8] for c in rows]
    assert rows and {c[6] for c in rows} == {"±20 %"}, "docs/validation.md: GPQA rows' bar is not ±20 %"
    assert set(statuses) <= {"pass", "KNOWN FAIL"}, f"docs/validation.md GPQA rows' status: {set(statuses)}"
    q = re.search(r"GPQA reasoning runs \([^:]*: (\d+) of (\d+) rows within 20 %", re.sub(r"\s+", " ", _read("README.md")))
    assert q, "README.md: no 'GPQA reasoning runs (...: N of M rows within 20 %' quote"
    assert (int(q[1]), int(q[2])) == (statuses.count("pass"), len(rows)), (
        f"README.md quotes {q[1]} of {q[2]} GPQA rows within 20 %, docs/validation.md has "
        f"{statuses.count('pass')} of {len(rows)}")


def _lomo_rows():
    """The shipped leave-one-model-out table (every pooled profile's ``leave_one_model_out``, written by ``dcsim
    calibrate --pool``): {pair: row}, the source docs/node.md's table and dcsim/validation.py read."""
    from dcsim.node.catalog import pooled_profiles

    return {r["profile"]: r for pooled in pooled_profiles().values() for r in pooled["leave_one_model_out"]}


def test_readme_transfer_bar_figures_equal_the_shipped_lomo_table():
    rows = _lomo_rows()
    assert len(rows) >= 20, "dcsim/data/profiles/pooled: leave-one-model-out rows not found"
    met = sum(meets_lomo_bar(r) for r in rows.values())
    readme = re.sub(r"\s+", " ", _read("README.md"))
    m = re.search(r"MAPE ≤ ([\d.]+) % and no point beyond ([\d.]+) %, met for (\d+) of (\d+) calibrated pairs", readme)
    assert m, "README.md: no 'MAPE ≤ X % and no point beyond Y %, met for N of M calibrated pairs' quote"
    bar = {(100 * LOMO_BAR[k], 100 * LOMO_BAR[k.replace("tok_s", "j_per_tok")]) for k in ("mape_tok_s", "max_err_tok_s")}
    assert bar == {(float(m.group(1)),) * 2, (float(m.group(2)),) * 2}, "README.md quotes another transfer bar"
    assert (int(m.group(3)), int(m.group(4))) == (met, len(rows)), (
        f"README.md: met for {m.group(3)} of {m.group(4)}; the shipped table: {met} of {len(rows)}")
    r = rows["H100-SXM_llama-3.3-70b_bf16_tp4"]
    m = re.search(r"H100 Llama-3\.3-70B[^()]*\(MAPE J/token ([\d.]+) %, worst points ([\d.]+) % tok/s and ([\d.]+) % J/token",
                  readme)
    assert m, "README.md: no quote of H100 Llama-3.3-70B's transfer errors"
    for quoted, key in zip(m.groups(), ("mape_j_per_tok_pct", "max_err_tok_s_pct", "max_err_j_per_tok_pct")):
        digits = len(quoted.split(".")[1]) if "." in quoted else 0
        assert float(quoted) == round(r[key], digits), f"README.md: H100 Llama-3.3-70B {key} {quoted}, table {r[key]}"


def test_report_md_calibration_caveats_example_matches_code():
    from dcsim.metrics.fmt import CALIBRATION_CAVEATS

    m = re.search(r"\[k\.key for k in CALIBRATION_CAVEATS\]\s+# (\[.*\])", _read("docs/report.md"))
    assert m, "docs/report.md: no CALIBRATION_CAVEATS example"
    assert m.group(1) == repr([k.key for k in CALIBRATION_CAVEATS])


def _fenced_block_after(doc: str, name: str, opening: str) -> str:
    """The text of the fenced block of ``doc`` (named ``name``) whose body starts with ``opening``."""
    m = re.search(r"```\n *" + re.escape(opening), doc)
    assert m, f"{name}: no fenced block starting {opening!r}"
    i = m.start() + 4
    return doc[i:doc.index("```", i)]


PLAN_COMMAND = ('$ dcsim plan scenarios/reference.yaml -q max-demand --target "ttft.p99<=2 s" '
                '--target "slo_attainment>=0.99" --window "5 min"')


def test_pasted_plan_answer_is_the_stored_answer_as_the_terminal_prints_it():
    """docs/sweeps.md's plan answer is `dcsim plan`'s output for the answer stored in tests/data (its --json, from the
    command the block shows): every line, wrapped as the terminal wraps it. After a change of the planner's figures,
    re-run the command with --json into tests/data/plan_reference_max_demand_targets.json and paste its text."""
    from dcsim.plan import format_targets
    from dcsim.report.summary import wrap_block

    block = _fenced_block_after(_read("docs/sweeps.md"), "docs/sweeps.md", PLAN_COMMAND)
    answer = json.loads(_read("tests/data/plan_reference_max_demand_targets.json"))
    assert block.splitlines() == [PLAN_COMMAND] + wrap_block(format_targets(answer))


FP8_PLAN_COMMAND = "$ dcsim plan scenarios/reference.yaml -q max-gpus --set racks.0.node.precision=fp8"


def test_pasted_fp8_band_answer_and_readme_quote_are_what_the_planner_says():
    """docs/sweeps.md pastes the reference hall's max-gpus answer in FP8 with its calibration band (lines elided as
    "..."), README quotes its "8-21 racks (256-672 GPUs)": each pasted piece is in `dcsim plan`'s output
    (whitespace as one space), and README's range is the planner's, so neither can drift from it."""
    from dcsim.plan import format_plan, plan

    r = plan(ROOT / "scenarios" / "reference.yaml", "max-gpus", overrides={"racks.0.node.precision": "fp8"})
    out = " ".join(format_plan(r).split())
    block = _fenced_block_after(_read("docs/sweeps.md"), "docs/sweeps.md", FP8_PLAN_COMMAND)
    pasted = block.split("$ ")[1].split("\n", 1)[1]  # this command's lines, not the next command's
    pieces = [" ".join(p.split()) for p in pasted.split("...")]
    assert [p for p in pieces if p], "docs/sweeps.md: nothing pasted after the command"
    for p in filter(None, pieces):
        assert p in out, f"docs/sweeps.md pastes {p!r}; dcsim plan says: {out}"
    (n0, n1), (g0, g1) = r["band"]["racks"], r["band"]["gpus"]
    quote = f"{n0}-{n1} racks ({g0}-{g1} GPUs)"
    readme = re.sub(r"\s+", " ", _read("README.md"))
    assert f'("{quote}" for the reference hall in FP8' in readme, f"README.md: the planner says {quote!r}"


def test_stored_plan_answer_is_the_answer_the_command_gives_now(capsys, monkeypatch):
    """tests/data/plan_reference_max_demand_targets.json (the answer docs/sweeps.md pastes, the test above) is what the
    command the page shows answers now. Two halves: here, the command (run with --json, its argument checks and its
    printing) makes notebook 03's call, ``plan_for_targets(scenarios/reference.yaml, "max-demand", the two targets,
    seeds=3, window=300 s)`` with nothing changed (no gpus, overrides, --no-confirm or --no-refine), and prints an
    answer as stored: the stored answer handed back by that call comes out field for field; tests/test_notebooks.py
    (notebook 03's run) checks every field of that call's fresh answer against the stored one (numbers to a relative
    1e-9, text exactly; until 2026-12-05 only the printed text was compared, and the stored
    ``fast_answer.fast.slo_caveat``, which the text does not print, had gone stale). Until session 55 this test ran the
    command's whole plan itself, the same plan notebook 03 runs (44.5 CPU-s, 118 s wall on a loaded 2-core box, 2026-12-06),
    marked slow; now 0.7 CPU-s."""
    import shlex

    import dcsim.plan as PLAN
    from conftest import json_mismatches
    from dcsim.cli import main
    from dcsim.plan import format_targets

    stored = json.loads(_read("tests/data/plan_reference_max_demand_targets.json"))
    calls = []

    def made(*a, **k):
        calls.append((a, k))
        return json.loads(json.dumps(stored))

    monkeypatch.setattr(PLAN, "plan_for_targets", made)
    argv = shlex.split(PLAN_COMMAND)[2:] + ["--json"]
    argv[argv.index("scenarios/reference.yaml")] = str(ROOT / "scenarios" / "reference.yaml")
    capsys.readouterr()
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(calls) == 1
    (scenario, question, targets), kw = calls[0]
    assert Path(scenario).resolve() == (ROOT / "scenarios" / "reference.yaml").resolve() and question == "max-demand"
    # notebook 03's call (its cell `base = plan_for_targets(REF, "max-demand", TARGETS, seeds=3, window=300)`)
    nb = json.loads(_read("notebooks/03_capacity_planning.ipynb"))
    src = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert 'TARGETS = ["ttft.p99<=2 s", "slo_attainment>=0.99"]' in src
    assert 'base = plan_for_targets(REF, "max-demand", TARGETS, seeds=3, window=300)' in src
    assert list(targets) == ["ttft.p99<=2 s", "slo_attainment>=0.99"]
    assert kw == {"gpus": None, "overrides": kw["overrides"], "confirm": True, "seeds": 3, "refine": True,
                  "window": 300.0} and not kw["overrides"], kw
    off = json_mismatches(stored, out)
    assert not off, f"dcsim plan --json does not print the answer it is handed as stored: {off[:5]}"
    assert format_targets(out).splitlines() == format_targets(stored).splitlines()


def test_pasted_fault_line_is_the_stored_report_as_the_terminal_prints_it():
    """docs/faults.md's fault line is `dcsim run scenarios/chiller-trip.yaml`'s, for the report's fault figures
    stored in tests/data (faults, faults_baseline, faults_total, clock, duration_s), laid out as cmd_run prints it."""
    from dcsim.report.summary import fault_lines, wrap_line

    block = _fenced_block_after(_read("docs/faults.md"), "docs/faults.md", "fault cooling_failure")
    report = json.loads(_read("tests/data/chiller_trip_faults.json"))
    assert block.splitlines() == [x for line in fault_lines(report) for x in wrap_line(f"  {line}")]


def test_docs_node_fit_tables_are_the_ones_profile_table_prints(capsys):
    """Every table line scripts/profile_table.py prints from the shipped profiles and pooled fits (profile fits,
    pooled fits with their warning counts, leave-one-model-out) is in docs/node.md, so a refit that moves a figure
    fails here until the tables are regenerated (run the script and paste its tables)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("profile_table", ROOT / "scripts" / "profile_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main()
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("|")]
    doc = set(_read("docs/node.md").splitlines())
    assert len(lines) > 40, "scripts/profile_table.py printed no tables"
    missing = [ln for ln in lines if ln not in doc]
    assert not missing, f"docs/node.md lacks {len(missing)} line(s) scripts/profile_table.py prints: {missing[:3]}"


def test_readme_calibrated_fit_errors_equal_docs_validation():
    """README's 'calibrated points: within 10 % but for B200 Qwen3-235B BF16's worst points, up to X % tok/s, Y %
    J/token and Z % ITL, and H100 Qwen3-235B-FP8's ITL at batch 511, W %, and A100-SXM4-40GB Gemma-2-2B's tokens/s
    at max_num_seqs 512, V %' against docs/validation.md's fit-* rows:
    every other fit row within 10 %, and each quoted worst the largest of its rows."""
    rows = {c[0]: _error_pct(c) for c in _validation_rows() if c[0].startswith("fit-")}
    assert len(rows) > 50, "docs/validation.md: fit-* rows not found"
    m = re.search(r"within (\d+) % but for B200 Qwen3-235B BF16's worst points, up to ([\d.]+) % tok/s, ([\d.]+) % "
                  r"J/token and ([\d.]+) % ITL, and H100 Qwen3-235B-FP8's ITL at batch 511, ([\d.]+) %, and "
                  r"A100-SXM4-40GB Gemma-2-2B's tokens/s at max_num_seqs 512, ([\d.]+) %",
                  re.sub(r"\s+", " ", _read("README.md")))
    assert m, "README.md: no 'within 10 % but for B200 Qwen3-235B BF16's worst points, up to ...' quote"
    b200 = {k: v for k, v in rows.items() if k.startswith("fit-B200_qwen3-235b-a22b_bf16_")}
    fp8_itl = "fit-H100-SXM_qwen3-235b-a22b_fp8_tp8-itl"
    for quoted, suffix in zip(m.groups()[1:4], ("-tok_s", "-j_tok", "-itl")):
        worst = max(v for k, v in b200.items() if k.endswith(suffix))
        assert float(quoted) == worst, f"README.md: B200 Qwen3-235B BF16 worst {suffix[1:]} {quoted} %, table {worst} %"
    assert float(m.group(5)) == rows[fp8_itl], f"README.md: {fp8_itl} {m.group(5)} %, table {rows[fp8_itl]} %"
    g2 = "fit-A100-SXM4-40GB_gemma-2-2b_bf16_tp1-tok_s"
    assert float(m.group(6)) == rows[g2], f"README.md: {g2} {m.group(6)} %, table {rows[g2]} %"
    others = {k: v for k, v in rows.items() if k not in b200 and k not in (fp8_itl, g2) and v > float(m.group(1))}
    assert not others, f"README.md says every other fit row is within {m.group(1)} %: {others}"


def test_readme_extrapolated_context_band_equals_context_band():
    """README's EXTRAPOLATED CONTEXT band (mixed-fleet row: 'that pool's band (≥±32 % tok/s, ≥±46 % J/token', the
    pool's own; the headline figures it gives that row quotes are checked against the run in
    tests/test_scenarios_expect.py) and the GPQA misses it is made of ('up to 32 % tok/s and 46 % J/token') against
    dcsim.node.model.context_band(), rounded as quoted."""
    from dcsim.node.model import context_band

    band = context_band()
    want = (round(band["tok_s_pct"]), round(band["j_per_tok_pct"]))
    readme = re.sub(r"\s+", " ", _read("README.md"))
    quoted = re.findall(r"`EXTRAPOLATED CONTEXT`, and that pool's band \(≥±(\d+) % tok/s, ≥±(\d+) % J/token", readme)
    assert quoted, "README.md: no '`EXTRAPOLATED CONTEXT`, and that pool's band (≥±X % tok/s, ≥±Y % J/token' quote"
    misses = re.findall(r"these misses, up to (\d+) % tok/s and (\d+) % J/token", readme)
    assert misses, "README.md: no 'these misses, up to X % tok/s and Y % J/token' quote"
    for q in quoted + misses:
        assert tuple(map(int, q)) == want, f"README.md quotes {q}, context_band() {band}"
