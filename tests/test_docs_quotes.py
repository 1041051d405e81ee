"""Figures README and docs quote that can be checked cheaply against their source of truth, so that the
next drift fails here instead of surviving until someone re-runs the command by hand.

- README's validation row counts against docs/validation.md's summary (itself checked by
  `python -m dcsim.validation --check`), and its count of GPQA reasoning rows within 20 % against the table's rows;
- README's leave-one-model-out figures (pairs meeting the issue-14 bar, H100 Llama-3.3-70B's errors) against
  docs/node.md's leave-one-model-out table (regenerated with `python scripts/profile_table.py`);
- docs/report.md's `CALIBRATION_CAVEATS` example against the code;
- terminal output pasted into docs/sweeps.md (the plan answer) and docs/faults.md (the fault line) wrapped as the
  terminal wraps it (the figures themselves take a multi-minute run to check: re-run the commands the pages give).
"""

import re
from pathlib import Path

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


def test_readme_gpqa_rows_within_20_pct_equal_docs_validation_table():
    """The main table's rows (10 cells: id, quantity, case, measured, simulated, error, bar, split, status, source)."""
    rows = [[c.strip() for c in r.strip().strip("|").split("|")] for r in _read("docs/validation.md").splitlines()
            if re.match(r"\| H-\S*-gpqa-", r)]
    rows = [c for c in rows if len(c) == 10]
    statuses = [c[8] for c in rows]
    assert rows and {c[6] for c in rows} == {"±20 %"}, "docs/validation.md: GPQA rows' bar is not ±20 %"
    assert set(statuses) <= {"pass", "KNOWN FAIL"}, f"docs/validation.md GPQA rows' status: {set(statuses)}"
    q = re.search(r"GPQA reasoning runs \([^:]*: (\d+) of (\d+) rows within 20 %", re.sub(r"\s+", " ", _read("README.md")))
    assert q, "README.md: no 'GPQA reasoning runs (...: N of M rows within 20 %' quote"
    assert (int(q[1]), int(q[2])) == (statuses.count("pass"), len(rows)), (
        f"README.md quotes {q[1]} of {q[2]} GPQA rows within 20 %, docs/validation.md has "
        f"{statuses.count('pass')} of {len(rows)}")


def _lomo_table():
    """docs/node.md's leave-one-model-out table: {pair: (MAPE tok/s, MAPE J/tok, max tok/s, max J/tok)}."""
    rows = {}
    for line in _read("docs/node.md").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("pooled-") and all(c.endswith(" %") for c in cells[2:]):
            rows[cells[1]] = tuple(float(c[:-2]) for c in cells[2:])
    return rows


def test_readme_transfer_bar_figures_equal_node_md_table():
    rows = _lomo_table()
    assert len(rows) >= 20, "docs/node.md: leave-one-model-out table not found"
    # issue 14.4's bar: MAPE <= 15 % and no point beyond 25 %, on tokens/s and J/token
    met = sum(1 for v in rows.values() if v[0] <= 15 and v[1] <= 15 and v[2] <= 25 and v[3] <= 25)
    readme = re.sub(r"\s+", " ", _read("README.md"))
    m = re.search(r"MAPE ≤ 15 % and no point beyond 25 %, met for (\d+) of (\d+) calibrated pairs", readme)
    assert m, "README.md: no 'met for N of M calibrated pairs' quote"
    assert (int(m.group(1)), int(m.group(2))) == (met, len(rows))
    v = rows["H100-SXM_llama-3.3-70b_bf16_tp4"]
    m = re.search(r"H100 Llama-3\.3-70B[^()]*\(MAPE J/token ([\d.]+) %, worst points ([\d.]+) % tok/s and ([\d.]+) % J/token",
                  readme)
    assert m, "README.md: no quote of H100 Llama-3.3-70B's transfer errors"
    assert tuple(float(x) for x in m.groups()) == (v[1], v[2], v[3])


def test_report_md_calibration_caveats_example_matches_code():
    from dcsim.metrics.fmt import CALIBRATION_CAVEATS

    m = re.search(r"\[k\.key for k in CALIBRATION_CAVEATS\]\s+# (\[.*\])", _read("docs/report.md"))
    assert m, "docs/report.md: no CALIBRATION_CAVEATS example"
    assert m.group(1) == repr([k.key for k in CALIBRATION_CAVEATS])


def _fenced_block_after(doc: str, opening: str) -> str:
    """The text of the fenced block of ``doc`` whose body starts with ``opening``."""
    i = re.search(r"```\n *" + re.escape(opening), doc).start() + 4
    return doc[i:doc.index("```", i)]


def test_pasted_terminal_output_is_wrapped_as_the_terminal_wraps_it():
    """The plan answer in docs/sweeps.md and the fault line in docs/faults.md are pasted terminal output: no line
    past the terminal's width (the command line a user types excepted), as `dcsim plan` / `dcsim run` print them."""
    from dcsim.report.summary import TERMINAL_WIDTH

    plan = _fenced_block_after(_read("docs/sweeps.md"), "$ dcsim plan scenarios/reference.yaml -q max-demand --target")
    fault = _fenced_block_after(_read("docs/faults.md"), "fault cooling_failure")
    for block in (plan, fault):
        lines = [ln for ln in block.splitlines() if not ln.startswith("$ ")]
        assert lines and all(len(ln) <= TERMINAL_WIDTH for ln in lines), [ln for ln in lines if len(ln) > TERMINAL_WIDTH]
    # the fault row is indented as the summary prints it, its continuation rows under it
    assert fault.startswith("  fault ") and all(ln.startswith("    ") for ln in fault.splitlines()[1:])
