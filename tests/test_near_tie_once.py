"""The near-tie masks (:func:`dcsim.engine.assemble.near_tie_masks`: per pool, the ticks named power or cooling and
their margin to the compute ceiling) are computed once per run and read by both their consumers, report.json's
``binding.near_tie`` and the planner notes; until 2026-12-05 (session 53) each computed them again."""

from pathlib import Path

import dcsim
import dcsim.engine.assemble as assemble

ROOT = Path(__file__).resolve().parents[1]


def test_near_tie_masks_are_computed_once_per_run(monkeypatch):
    calls = []
    real = assemble.near_tie_masks

    def counted(m, ts):
        calls.append(1)
        return real(m, ts)

    monkeypatch.setattr(assemble, "near_tie_masks", counted)
    # reference over its noon power-bound hour, where the near-tie entry and the planner notes both read the masks
    res = dcsim.run(ROOT / "scenarios" / "reference.yaml",
                    overrides={"start": "2026-07-15T12:00", "duration": "1 h", "expect": {}})
    assert len(calls) == 1
    assert isinstance(res.report["binding"]["near_tie"], list)
