"""The terminal views wrap their long rows: the run summary (every row as its Note rows, under the value column),
the warnings before and under it, ``dcsim tpf`` and ``dcsim plan`` answers and ``dcsim compare``'s free text, all
at one width (``dcsim.report.summary.TERMINAL_WIDTH``), never changing a word; report.json keeps the text whole."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import squash, transferred_scenario
from dcsim.cli import main
from dcsim.metrics.fmt import calibration_caveat
from dcsim.report.compare import compare
from dcsim.report.summary import TERMINAL_WIDTH, wrap_hanging, wrap_line, wrap_text

ROOT = Path(__file__).resolve().parents[1]


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("wrap")
    path = base / "mixtral.yaml"
    path.write_text(yaml.safe_dump(transferred_scenario(), sort_keys=False))
    code, out, err = _cli("run", str(path), "--out", str(base / "out"), "--no-plots")  # piped: wrapped all the same
    assert code == 0, err
    rep = json.loads((base / "out" / "report.json").read_text())
    return base, path, out, err, rep


def test_piped_stderr_wraps_each_warning_as_a_terminal_does(tmp_path):
    """One rule, wherever the output goes: redirected to a log (here a StringIO, no terminal), a warning wraps as it
    does at a terminal, continued under its text, and reads back word for word (it was one line when piped, wrapped
    at a terminal: two layouts of one output)."""
    path = tmp_path / "mixtral.yaml"
    path.write_text(yaml.safe_dump(transferred_scenario(), sort_keys=False))
    code, _, err = _cli("validate", str(path))
    assert code == 0 and _too_long(err) == []
    from dcsim.engine.preflight import preflight
    from dcsim.scenario import load_scenario

    warns = preflight(load_scenario(path), label=str(path)).warnings
    assert warns and max(len(w) for w in warns) > TERMINAL_WIDTH
    assert [squash(b) for b in _blocks(err.splitlines(), "warning: ")] == [squash(w) for w in warns]


def _too_long(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if len(ln) > TERMINAL_WIDTH and set(ln) != {"─"}]


def _blocks(lines: list[str], prefix: str) -> list[str]:
    """The texts of the blocks opening with ``prefix`` (continuation lines indented to its length), joined."""
    out, cur = [], None
    for ln in lines:
        if ln.startswith(prefix):
            cur = [ln[len(prefix):]]
            out.append(cur)
        elif cur is not None and ln.startswith(" " * len(prefix)) and ln.strip():
            cur.append(ln[len(prefix):])
        else:
            cur = None
    return [" ".join(b) for b in out]


def test_the_run_has_long_rows_to_wrap(run):
    """The case is a real one: its caveat and some warning are longer than a line."""
    *_, rep = run
    assert len(calibration_caveat(rep["provenance"]["calibration"])) > TERMINAL_WIDTH
    assert max(len(w) for w in rep["warnings"]) > TERMINAL_WIDTH


def test_no_line_of_the_summary_or_its_warnings_is_wider_than_the_width(run):
    _, _, out, err, _ = run
    assert "UNCALIBRATED" in out and "WARNING  " in out and "warning: " in err
    assert _too_long(out) == []
    assert _too_long(err) == []


def test_wrapped_rows_read_back_as_the_text(run):
    """The calibration row, continued under the value column, is the caveat word for word; each WARNING under the
    summary and each warning: line before it, continued under its text, is the report's warning."""
    _, _, out, err, rep = run
    lines = out.splitlines()
    row = next(i for i, ln in enumerate(lines) if ln.startswith("  Calibration "))
    col = len(lines[row]) - len(lines[row][2 + len("Calibration"):].lstrip())
    text = [lines[row][col:]]
    for ln in lines[row + 1:]:
        if ln[:col].strip():  # the next labelled row
            break
        text.append(ln[col:])
    assert len(text) > 1  # it was wrapped
    assert " ".join(text) == calibration_caveat(rep["provenance"]["calibration"])
    assert [squash(b) for b in _blocks(lines, "  WARNING  ")] == [squash(w) for w in rep["warnings"]]
    assert [squash(b) for b in _blocks(err.splitlines(), "warning: ")] == [squash(w) for w in rep["warnings"]]
    # report.json keeps every warning whole: wrapping is the terminal's view
    assert all("\n" not in w for w in rep["warnings"]) and max(len(w) for w in rep["warnings"]) > TERMINAL_WIDTH


def test_a_number_keeps_its_unit_and_a_word_its_hyphens():
    text = ("expected error ≥±33 % tok/s over 5,872 tokens at 0.99 MW: no-load losses of B200_llama-3.1-405b_fp8_tp4; "
            "confirm with --set fidelity=request")
    for width in range(24, 60):  # from the longest held group up
        lines = wrap_text(text, width)
        assert " ".join(lines) == text
        assert all(len(ln) <= width for ln in lines if " " in ln)  # a single word longer than the width stays whole
        for held in ("±33 %", "5,872 tokens", "0.99 MW", "no-load", "B200_llama-3.1-405b_fp8_tp4",
                     "--set fidelity=request"):
            assert any(held in ln for ln in lines), (width, held, lines)
    path = "/a/very/long/folder/name/that/does/not/fit/report.html"
    assert wrap_text(f"Open {path}", 20) == ["Open", path]


def test_fields_break_before_words():
    """A row of fields set apart by three spaces breaks between fields, not inside one."""
    row = "overhead: cooling 2.47 MWh   losses 826 kWh (delivery 706 kWh + fixed loads 120 kWh)"
    assert wrap_text(row, 72) == ["overhead: cooling 2.47 MWh", "losses 826 kWh (delivery 706 kWh + fixed loads 120 kWh)"]
    assert wrap_text(row, 100) == [row]
    assert wrap_hanging("  WARNING  ", "x " * 60, 40)[1].startswith(" " * 11 + "x")
    assert wrap_line("  answer: " + "word " * 30, 50)[1].startswith(" " * len("  answer: ") + "word")


def test_the_readme_summary_fits_the_width():
    """The README's reference summary is the terminal's output: no row of it runs past the width."""
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("dcsim — reference"):]
    block = block[:block.index("\n  Open")]
    assert _too_long(block) == []


def test_tpf_and_plan_answers_wrap(run):
    _, path, _, _, rep = run
    code, out, _ = _cli("tpf", str(path))
    assert code == 0 and "crossovers: " in out and _too_long(out) == []
    code, out, _ = _cli("plan", str(path), "-q", "max-gpus")
    assert code == 0 and _too_long(out) == []
    assert squash(calibration_caveat(rep["provenance"]["calibration"])) in squash(out)
    lines = out.splitlines()
    cav = next(i for i, ln in enumerate(lines) if "UNCALIBRATED" in ln)
    assert lines[cav + 1].startswith("    ")  # continued under its text, not at column 0


def test_compare_free_text_wraps_and_keeps_the_table(run, tmp_path):
    base, path, *_ = run
    sc = transferred_scenario()
    sc["duration"] = "2 h"  # not like for like: the differences block opens the table
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(sc, sort_keys=False))
    assert _cli("run", str(other), "--out", str(tmp_path / "b"), "--no-plots", "-q")[0] == 0
    table, data = compare([base / "out", tmp_path / "b"])
    lines = table.splitlines()
    assert lines[0].startswith("NOT LIKE FOR LIKE")
    rule = next(i for i, ln in enumerate(lines) if ln and set(ln) <= {"─", " "})
    assert re.match(r"metric\s+unit\s+out\s+b\s+Δ vs out$", lines[rule - 1])  # the table's columns whole
    end = lines.index("", rule)  # the table ends at the first blank line after its rule
    assert all(ln.startswith(("J/token", "Binding", "Node", "Output", "Energy", "PUE", "SLO", "Cost", "Carbon", "Util",
                              "Served", "Throughput", "Peak", "Mean", "Goodput", "Requests")) or ln[:1] != " "
               for ln in lines[rule + 1:end])  # one row a line, none wrapped
    free = lines[:rule - 1] + lines[end:]
    assert _too_long("\n".join(free)) == []
    caveat = data["runs"][0]["calibration_caveat"]
    assert caveat and len(caveat) > TERMINAL_WIDTH
    assert [squash(b) for b in _blocks(lines, "out: ")][0] == squash(caveat)
    assert squash(f"out: {caveat}") in squash(table)


def test_report_json_result_and_html_keep_the_text_whole(tmp_path):
    """Wrapping is the terminal's view: the Result's warnings, report.json and report.html hold each text in one
    piece, however long."""
    import html as _html

    import dcsim
    from dcsim.metrics.fmt import calibration_caveat_kinds
    from dcsim.report import write_outputs

    res = dcsim.run(transferred_scenario())
    write_outputs(res, tmp_path / "o", formats=("json", "html"), plots=False)
    page = (tmp_path / "o" / "report.html").read_text()
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    assert rep["warnings"] == res.report["warnings"] and all("\n" not in w for w in rep["warnings"])
    kinds = calibration_caveat_kinds(rep["provenance"]["calibration"])
    assert kinds and all(_html.escape(text) in page for _, text in kinds)
    long = [w for w in rep["warnings"] if len(w) > TERMINAL_WIDTH and _html.escape(w) in page]
    assert long  # a warning longer than a terminal line, whole on the page


def test_a_table_row_stays_whole_and_prose_wraps():
    """``wrap_block``: a line set in columns (three runs of two spaces or more) is a table row, left whole however
    long, so its columns stay under their heads; any other line wraps as ``wrap_line``."""
    from dcsim.report.summary import wrap_block

    row = "           8      8.0     475.7     471.2   -0.94   3.5693   3.5779    0.24    16.36    16.60    1.47 x"
    assert len(row) > TERMINAL_WIDTH and wrap_block(row) == [row]
    prose = "warning: " + "a parameter is not identified by these rows alone " * 4
    lines = wrap_block(prose + "\n" + row)
    assert lines[-1] == row and len(lines) > 2 and _too_long("\n".join(lines[:-1])) == []
    assert squash(" ".join(lines[:-1])) == squash(prose) and lines[1].startswith(" " * len("warning: "))


def test_calibrate_prints_by_the_same_rule():
    """``dcsim calibrate`` prints from its own module: the CLI lays its lines out by the one rule (its warnings and
    notes were 200-350-character lines), its fit tables whole, not a word changed."""
    from dcsim.node.calibrate import main as calibrate_main
    from dcsim.report.summary import _TABLE_ROW

    csv = ROOT / "dcsim" / "data" / "measurements" / "mlenergy_llama-3.1-70b.csv"
    code, out, _ = _cli("calibrate", str(csv))
    assert code == 0
    raw = io.StringIO()
    with contextlib.redirect_stdout(raw):
        assert calibrate_main([str(csv)]) == 0  # the module's own text, unwrapped
    prose = [ln for ln in raw.getvalue().splitlines() if len(ln) > TERMINAL_WIDTH and not _TABLE_ROW.search(ln)]
    assert prose  # the case is a real one
    assert all(_TABLE_ROW.search(ln) for ln in _too_long(out))
    assert squash(out) == squash(raw.getvalue())
    assert [ln for ln in out.splitlines() if _TABLE_ROW.search(ln)] == [
        ln for ln in raw.getvalue().splitlines() if _TABLE_ROW.search(ln)]


def test_the_wrapping_stream_passes_a_progress_bar_through():
    """Sweep's progress bar is redrawn in place (a carriage return, no newline): it goes through at once, as it is;
    the lines after it wrap."""
    from dcsim.cli import _Wrapped

    buf = io.StringIO()
    w = _Wrapped(buf)
    w.write("\rsweep [###...] 1/6 points")
    assert buf.getvalue() == "\rsweep [###...] 1/6 points"
    w.write("\rsweep [######] 6/6 points")
    w.write("\n")
    text = "sweep: 6 points in 7.6 s -> " + "/a/long/folder" * 8 + "/ (results.csv, sweep.png) and more words"
    print(text, file=w)
    w.close_line()
    lines = buf.getvalue().split("\n")
    assert lines[0] == "\rsweep [###...] 1/6 points\rsweep [######] 6/6 points"
    assert len(lines[1:-1]) > 1 and squash(" ".join(lines[1:])) == squash(text)


def test_error_messages_and_validate_comments_wrap(tmp_path):
    """An error message (file, field, reason) wraps under its field; validate's comment lines stay comments, so the
    YAML under them still loads."""
    path = tmp_path / "mixtral.yaml"
    path.write_text(yaml.safe_dump(transferred_scenario(), sort_keys=False))
    code, _, err = _cli("run", str(path), "--set", "facility.cooling.kind=chiller_plantt", "--out", str(tmp_path / "o"))
    assert code == 2 and "does not match any of the expected tags" in squash(err) and _too_long(err) == []
    code, out, _ = _cli("validate", str(path), "--set", "fidelity=request")
    assert code == 0 and _too_long(out) == []
    head = out.split("\nname:")[0].splitlines()
    assert len(head) > 2 and all(ln.startswith("# ") for ln in head)  # the run estimate, wrapped as comments
    assert "requests simulated" in squash(" ".join(head)) and yaml.safe_load(out)["name"] == "mixtral"
