"""The terminal views wrap their long rows at one width (``dcsim.report.summary.TERMINAL_WIDTH``), never changing a
word; report.json keeps the text whole. Two kinds of output, one rule each (docs/report.md, "Long rows wrap"): a
report a formatter lays out (the run summary, every row as its Note rows, under the value column, and the WARNING
lines under it; ``dcsim tpf`` and ``dcsim plan`` answers; ``dcsim compare``'s free text) is laid out the same piped or
not; a message (warnings and errors on stderr, ``dcsim sweep``'s lines) is wrapped at a terminal only and stays one
line, whole, when piped."""

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


class _Terminal(io.StringIO):
    """A stream that says it is a terminal, as stdout and stderr do in an interactive shell."""

    def isatty(self) -> bool:
        return True


def _cli(*argv: str, terminal: bool = False) -> tuple[int, str, str]:
    """``dcsim *argv`` with stdout and stderr captured: piped (a StringIO, no terminal), or a terminal's."""
    out, err = (_Terminal(), _Terminal()) if terminal else (io.StringIO(), io.StringIO())
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("wrap")
    path = base / "mixtral.yaml"
    path.write_text(yaml.safe_dump(transferred_scenario(), sort_keys=False))
    code, out, err = _cli("run", str(path), "--out", str(base / "out"), "--no-plots", terminal=True)
    assert code == 0, err
    rep = json.loads((base / "out" / "report.json").read_text())
    return base, path, out, err, rep


def test_piped_stderr_keeps_each_warning_on_one_line(tmp_path):
    """Redirected to a log, a warning stays whole on one line (grep finds it; its breaks never depend on a path), the
    warning word for word; at a terminal it wraps, continued under its text."""
    path = tmp_path / "mixtral.yaml"
    path.write_text(yaml.safe_dump(transferred_scenario(), sort_keys=False))
    from dcsim.engine.preflight import preflight
    from dcsim.scenario import load_scenario

    warns = preflight(load_scenario(path), label=str(path)).warnings
    assert warns and max(len(w) for w in warns) > TERMINAL_WIDTH
    code, _, err = _cli("validate", str(path))
    assert code == 0 and err.splitlines() == [f"warning: {w}" for w in warns]
    code, _, err = _cli("validate", str(path), terminal=True)
    assert code == 0 and _too_long(err) == [] and len(err.splitlines()) > len(warns)
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
    # the runs share it: printed once, after both runs' names (dcsim compare)
    assert caveat == data["runs"][1]["calibration_caveat"]
    assert [squash(b) for b in _blocks(lines, "out, b: ")][0] == squash(caveat)
    assert squash(f"out, b: {caveat}") in squash(table) and squash(table).count(squash(caveat)) == 1


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


def test_a_line_in_columns_wraps_as_any_other():
    """``wrap_block`` wraps every line by ``wrap_line``: a ``dcsim tpf`` pool line set apart by runs of spaces is
    no table to keep whole (a 124-character one ran past the width when lines in columns were guessed to be tables);
    it breaks between its fields first."""
    from dcsim.report.summary import wrap_block

    line = ("    pool llama-3.1-405b-reasoning-long-context: D 1,234,567  C 2,345,678  achieved 1,234,567 tok/s   "
            "binding: COMPUTE")
    assert len(line) > TERMINAL_WIDTH
    lines = wrap_block("header\n" + line)
    assert lines[0] == "header" and len(lines) == 3 and _too_long("\n".join(lines)) == []
    assert lines[2] == "      binding: COMPUTE"  # two past the line's indent (its label is longer than a label)
    assert squash(" ".join(lines[1:])) == squash(line)


def test_a_message_wraps_at_a_terminal_only():
    """``print_message``: at a terminal each line wrapped, continued under its text; piped, the text as it is."""
    from dcsim.report.summary import is_terminal, print_message

    text = "error: " + "a long message about a field " * 6 + "\n  point 0 {\"a\": 1}: " + "reason " * 20
    piped, term = io.StringIO(), _Terminal()
    print_message(text, file=piped)
    print_message(text, file=term)
    assert not is_terminal(piped) and is_terminal(term) and not is_terminal(object())
    assert piped.getvalue() == text + "\n"
    lines = term.getvalue().splitlines()
    assert len(lines) > 3 and _too_long(term.getvalue()) == [] and squash(term.getvalue()) == squash(text)
    assert lines[1].startswith(" " * len("error: "))


def test_the_summary_is_printed_as_its_formatter_lays_it_out(tmp_path):
    """A long --out: the Files and Open rows keep their path on the label's line, the file names under the value
    column (a second wrapping of the printed summary broke them under the label: '  Files' alone, the path on the
    next line at column 4)."""
    from conftest import small_scenario

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(small_scenario(duration="10 min"), sort_keys=False))
    out_dir = tmp_path / ("a-long-folder-name-" * 5) / "out"
    code, out, _ = _cli("run", str(path), "--out", str(out_dir), "--no-plots")
    assert code == 0, out
    lines = out.splitlines()
    files = next(i for i, ln in enumerate(lines) if ln.startswith("  Files "))
    col = len(lines[files]) - len(lines[files][len("  Files"):].lstrip())
    assert lines[files][col:] == f"{out_dir}/" and lines[files + 1][:col].strip() == ""
    assert lines[files + 1][col:].startswith("report.json, timeseries.csv")
    assert next(ln for ln in lines if ln.startswith("  Open ")).endswith(f" {out_dir}/report.html")


def test_error_messages_wrap_at_a_terminal_and_validate_comments_always(tmp_path):
    """An error message (file, field, reason) wraps under its field at a terminal and is one line a field when piped;
    validate's comment lines are laid out by it, piped or not, and stay comments, so the YAML under them loads."""
    path = tmp_path / "mixtral.yaml"
    path.write_text(yaml.safe_dump(transferred_scenario(), sort_keys=False))
    argv = ("run", str(path), "--set", "facility.cooling.kind=chiller_plantt", "--out", str(tmp_path / "o"))
    code, _, err = _cli(*argv, terminal=True)
    assert code == 2 and "does not match any of the expected tags" in squash(err) and _too_long(err) == []
    code, _, piped = _cli(*argv)
    assert code == 2 and squash(piped) == squash(err) and len(piped.splitlines()) < len(err.splitlines())
    assert any(ln.startswith("  facility.cooling") and "does not match any of the expected tags" in ln
               for ln in piped.splitlines()), piped
    code, out, _ = _cli("validate", str(path), "--set", "fidelity=request")
    assert code == 0 and _too_long(out) == []
    head = out.split("\nname:")[0].splitlines()
    assert len(head) > 2 and all(ln.startswith("# ") for ln in head)  # the run estimate, wrapped as comments
    assert "requests simulated" in squash(" ".join(head)) and yaml.safe_load(out)["name"] == "mixtral"
