"""The die hold's cost, per tick (the reference, dcsim.engine.flex.steady_die_level) against per chunk (numpy over
ticks, FlexChunk._die_table), measured in one run: the docs example's two-group hall at full load whose B200 dies hold
the clock every tick (docs/examples/die_limit.py), run once with each path after a warm-up, CPU time of the die-level
reads (time.process_time around FlexChunk._die_level, table build included) and of the whole run; whether the two
runs' columns are identical.

    python bench/bench_die_hold.py [--duration "6 h"] [--repeat 2]
"""

from __future__ import annotations

import argparse
import runpy
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchtiming  # noqa: E402,F401  (one BLAS thread, before numpy's work)

import dcsim  # noqa: E402
import dcsim.engine.flex as flex  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _full_load(duration: str) -> dict:
    """docs/examples/die_limit.py's hall (its main block not run)."""
    return runpy.run_path(str(ROOT / "docs" / "examples" / "die_limit.py"), run_name="die_limit")["full_load"](duration)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", default="6 h")
    ap.add_argument("--repeat", type=int, default=2, help="alternating pairs (reference, vectorised)")
    args = ap.parse_args()
    d = _full_load(args.duration)
    dcsim.run(_full_load("10 min"))  # warm-up: imports, the SLO estimate's compiled kernel
    orig = flex.FlexChunk._die_level
    acc = [0.0]

    def timed(self, j, a, lv):
        t0 = time.process_time()
        r = orig(self, j, a, lv)
        acc[0] += time.process_time() - t0
        return r

    flex.FlexChunk._die_level = timed
    best = {False: (np.inf, np.inf), True: (np.inf, np.inf)}
    runs = {}
    for _ in range(args.repeat):
        for vec in (False, True):
            flex.DIE_HOLD_VECTORISED = vec
            acc[0] = 0.0
            t0 = time.process_time()
            r = dcsim.run(d)
            tot = time.process_time() - t0
            best[vec] = (min(best[vec][0], acc[0]), min(best[vec][1], tot))
            runs[vec] = r.timeseries
    ts0, ts1 = runs[False], runs[True]
    same = all(np.array_equal(np.asarray(ts0[k]), np.asarray(ts1[k]), equal_nan=np.asarray(ts0[k]).dtype.kind == "f")
               for k in ts0)
    n = ts1["t_s"].size
    held = int(np.count_nonzero(ts1["thermal_throttled"] == 2))
    print(f"{args.duration}, {n:,} ticks, {held:,} held by the die limit; least CPU of {args.repeat}:")
    for vec, name in ((False, "per tick (reference)"), (True, "per chunk (numpy)")):
        print(f"  {name:22s} die-level reads {best[vec][0]:.3f} s   whole run {best[vec][1]:.2f} s")
    print(f"  ratio: die-level reads {best[False][0] / max(best[True][0], 1e-9):.0f}x, "
          f"whole run {best[False][1] / best[True][1]:.2f}x; columns identical: {same}")


if __name__ == "__main__":
    main()
