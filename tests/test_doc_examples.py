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
