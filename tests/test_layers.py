"""Imports point one way and peer models stay independent (import-linter layers contract), no package
has an import cycle among its modules (acyclic_siblings contract); both run here."""

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]


def test_layers_contract_is_kept(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_scenario_specs_are_pure_data():
    """dcsim.scenario imports nothing from the rest of dcsim but units (and itself)."""
    for f in (ROOT / "dcsim" / "scenario").glob("*.py"):
        for line in f.read_text().splitlines():
            s = line.strip()
            if s.startswith(("from dcsim", "import dcsim")):
                assert s.startswith(("from dcsim.units", "from dcsim.scenario")), f"{f.name}: {s}"
