"""Wording a planner reads literally: what `run --no-plots` skips, how a fault line wraps, and `plan --target`'s
"the others" only when there are others."""

from __future__ import annotations

import argparse

import yaml

from conftest import small_scenario
from dcsim.report.summary import fault_lines, wrap_line


def test_no_plots_help_says_the_html_is_still_written():
    """`--no-plots` drops the PNGs only (write_outputs: plots=False removes "png" from the formats; report.html is
    rendered without figures): the help said it skipped "PNG plots and HTML"."""
    from dcsim.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["run"]
    (act,) = [a for a in sub._actions if "--no-plots" in a.option_strings]
    assert "report.html is still written" in act.help and "and HTML" not in act.help


def test_a_fault_line_wraps_after_its_window_not_after_its_kind():
    """curtailment's fault line broke straight after "fault curtailment": the kind was padded to 14 characters and
    the wrapper reads a run of three spaces as a field break."""
    rep = {"duration_s": 86400.0, "clock": {"start": "2026-07-15T00:00:00", "hour": 0.0, "day_of_year": 196},
           "faults": [{"kind": "curtailment", "start_s": 61200.0, "end_s": 68400.0, "tokens_lost": 658.3e6,
                       "tokens_lost_window": 658.3e6, "energy_change_j": -392.6 * 3.6e6,
                       "binding_s": {"power": 7200.0, "demand": 0.0}}]}
    (line,) = fault_lines(rep)
    assert line.startswith("fault curtailment 17:00–19:00: ")
    first = wrap_line("  " + line)[0]
    assert first.startswith("  fault curtailment 17:00–19:00: ") and len(first) > 60


def test_plan_says_the_others_only_with_several_targets(capsys, tmp_path):
    from dcsim.cli import main

    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(small_scenario(duration="20 min", **{"racks.0.count": 1, "controller.tick": "10 s"})))
    assert main(["plan", str(f), "-q", "max-demand", "--target", "ttft.p99<=1 s", "--no-confirm"]) == 0
    out = capsys.readouterr().out
    assert "binding target: ttft.p99<=1 s" in out and "the others" not in out
    assert main(["plan", str(f), "-q", "max-demand", "--target", "ttft.p99<=1 s", "--target", "tpot.p99<=1 s",
                 "--no-confirm"]) == 0
    assert "(the others keep the headroom shown)" in capsys.readouterr().out
