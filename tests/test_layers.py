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


def test_each_forbidden_contract_names_the_modules_it_covers_and_the_architecture_doc_quotes_it():
    """The contract "Pure model modules take plain values ..." covered dcsim.thermal.cooling and
    dcsim.workload.deferrable alone while other model modules import dcsim.scenario: its name claimed a rule for all.
    Each forbidden contract's name now names every module it covers, and docs/architecture.md quotes it and names them."""
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    doc = " ".join((ROOT / "docs" / "architecture.md").read_text().split())
    forbidden = [c for c in cfg["tool"]["importlinter"]["contracts"] if c["type"] == "forbidden"]
    assert forbidden
    for c in forbidden:
        for mod in c["source_modules"]:
            short = mod.removeprefix("dcsim.")
            assert short in c["name"], (c["name"], mod)
            assert f"`{mod}`" in doc, mod
        assert f'"{c["name"]}"' in doc, c["name"]
