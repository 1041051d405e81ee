"""The runnable examples of docs/thermal-dynamics.md and docs/grid.md run and print what the
documents say they print."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_and_matches_its_doc(path):
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    docs = (ROOT / "docs" / "thermal-dynamics.md").read_text() + (ROOT / "docs" / "grid.md").read_text()
    for line in out.stdout.splitlines():
        # every printed figure the docs quote must be the one the example prints
        if line.strip() and line.split()[0] in ("defaults", "30", "300", "liquid", "year:", "curtailment:", "no", "battery",
                                                "deferrable", "budget", "closed", "simulation:"):
            assert line.strip() in docs, line
    if path.stem == "sweep_figure":
        # docs/sweeps.md pastes the example's points; "binds most" is the headline's rule (binding.holds), the figure's
        # marker: at a 35 degC day the limits bind 57 % between them, cooling the longest (it printed the plurality,
        # "demand", beside the figure's cooling marker until 2026-12-05)
        sweeps = (ROOT / "docs" / "sweeps.md").read_text()
        points = [ln.strip() for ln in out.stdout.splitlines() if ln.startswith("mean ")]
        assert len(points) == 6 and all(p in sweeps for p in points), points
        assert points[4].startswith("mean 35.0 degC") and points[4].endswith("binds most: cooling"), points[4]
