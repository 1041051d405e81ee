"""Every tutorial notebook runs top to bottom (nbclient, kernel python3, 120 s each).

Deselect with ``-m "not notebooks"``. The committed notebooks carry no outputs and match what
``scripts/make_notebooks.py`` writes.
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

pytestmark = pytest.mark.notebooks


def test_notebooks_exist_without_outputs():
    import nbformat

    names = {p.name for p in NOTEBOOKS}
    assert {"01_quickstart.ipynb", "02_phase_diagram.ipynb", "03_capacity_planning.ipynb",
            "04_energy_levers.ipynb", "05_calibrate_node.ipynb", "06_grid_flexibility.ipynb"} <= names
    for p in NOTEBOOKS:
        nb = nbformat.read(p, as_version=4)
        nbformat.validate(nb)
        for c in nb.cells:
            if c.cell_type == "code":
                assert not c.outputs and c.execution_count is None, f"{p.name}: commit notebooks without outputs"


def test_notebooks_match_the_generator():
    import importlib.util

    import nbformat

    spec = importlib.util.spec_from_file_location("make_notebooks", ROOT / "scripts" / "make_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name, cells in mod.NOTEBOOKS.items():
        nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        assert [c.source for c in nb.cells] == [c.source for c in cells], f"{name}: rerun scripts/make_notebooks.py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # a cold start every time, and nothing written outside the test: the kernel (which inherits this environment)
    # finds its temporary folder (tempfile.gettempdir(): notebook 03's sweep cache, 05's mkdtemp) and the user cache
    # folder (dcsim.sweep.default_cache_dir) in this test's own tmp_path. Until 2026-12-06 03's sweep cached into
    # the machine's /tmp/dcsim-notebook-cache, so its cost depended on earlier runs and it outlived the clone.
    # matplotlib keeps its font cache where it was (a library's, not a notebook's: rebuilding it per test costs time;
    # MPLCONFIGDIR also stops a user's matplotlibrc from reaching the figures)
    import matplotlib

    monkeypatch.setenv("MPLCONFIGDIR", matplotlib.get_cachedir())
    for var in ("TMPDIR", "TMP", "TEMP"):
        monkeypatch.setenv(var, str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    nb = nbformat.read(path, as_version=4)
    n_cells = len(nb.cells)
    if path.stem == "03_capacity_planning":  # its answer under targets, as --json prints it (a cell of the test's)
        nb.cells.append(nbformat.v4.new_code_cell(_ANSWER_AS_JSON))
    # a guard against a hung cell, not a speed target (speed is bench/'s: bench_plan.py for notebook 03's plan
    # cells, which took 76-165 s each at load 10-14 on 2 cores and timed out at the old 120 s, 2026-12-05)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert not errors
    if path.stem == "03_capacity_planning":  # its sweep cached into this test's folder, not the machine's
        assert any((tmp_path / "dcsim-notebook-cache").rglob("*.json"))
        _answer_is_the_stored_one(nb.cells.pop())
    assert len(nb.cells) == n_cells
    # every notebook shows at least one figure
    assert any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


#: the test's own last cell in notebook 03: its max-demand answer under targets (``base``) as ``dcsim plan --json``
#: prints an answer (dcsim.textio.json_text, as dcsim.plan's command writes it)
_ANSWER_AS_JSON = "from dcsim.textio import json_text\nprint(json_text(base, indent=2, sort_keys=True))"


def _answer_is_the_stored_one(cell) -> None:
    """Notebook 03's ``base`` is the answer tests/data/plan_reference_max_demand_targets.json stores (docs/sweeps.md
    pastes it): every field (numbers to a relative 1e-9, text exactly; conftest.json_mismatches) and every printed
    line. The notebook's call is the command docs/sweeps.md shows (tests/test_docs_quotes.py checks that the command
    makes this call and prints the stored answer as stored), so this is the check that the stored answer is what the
    command answers now, made on the plan the notebook runs anyway: until session 55 that test ran the command's
    whole plan again (44.5 CPU-s, 118 s wall on a loaded 2-core box, 2026-12-06), the same plan the notebook runs."""
    import json

    from conftest import json_mismatches
    from dcsim.plan import format_targets

    fresh = json.loads("".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout"))
    stored = json.loads((ROOT / "tests" / "data" / "plan_reference_max_demand_targets.json").read_text())
    off = json_mismatches(stored, fresh)
    assert not off, ("tests/data/plan_reference_max_demand_targets.json is not what notebook 03 (and `dcsim plan`, "
                     "the command docs/sweeps.md shows) answers now: re-run that command with --json into the file and "
                     f"paste its text into docs/sweeps.md; {off[:5]}")
    assert format_targets(fresh).splitlines() == format_targets(stored).splitlines()
