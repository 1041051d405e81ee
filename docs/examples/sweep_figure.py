"""A sweep and its figure from Python: the reference hall on days 15-40 degC warm on average (docs/sweeps.md).

    python docs/examples/sweep_figure.py [OUT_DIR]

Writes OUT_DIR/results.csv and OUT_DIR/sweep.png (default: a temporary folder) and prints, per point, the served
output, the facility J/token and what binds most of the day by the headline's rule (``binding.holds``: demand, or,
where the limits together bind longer than demand, the limit binding the longest), as the figure's marker colours it.
"""

import sys
import tempfile
from pathlib import Path

from dcsim.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[2]
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="dcsim-sweep-"))
rows = run_sweep(ROOT / "scenarios" / "sweeps" / "outdoor_temperature.yaml", cache_dir=None, progress=False, out=out)
for r in rows:
    print(f"mean {r['facility.weather.mean_t']:4.1f} degC  served {r['throughput_tok_s.output'] / 1e3:5.1f} k tok/s  "
          f"facility {r['joules_per_output_token.facility']:.2f} J/tok  binds most: {r['binding.holds']}")
path, what = rows.figure                  # written with out=...: (its path, what it shows)
print(f"figure {path}: {what}")
fig = rows.plot()                         # the same figure as a matplotlib Figure (Jupyter shows it)
fig.savefig(out / "sweep_again.png")
