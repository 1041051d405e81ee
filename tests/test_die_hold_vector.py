"""The die hold vectorised per chunk (dcsim.engine.flex.steady_die_levels, FlexChunk._die_table) against the per-tick
reference (steady_die_level): the same (level, group) on random cases, and the same run bit for bit."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

import dcsim
import dcsim.engine.flex as flex
from dcsim.engine.build import build_models
from dcsim.engine.flex import DieGroup, die_groups, steady_die_level, steady_die_levels, thermal_params_of
from dcsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def _full_load(duration: str) -> dict:
    """docs/examples/die_limit.py's hall (its main block not run)."""
    return runpy.run_path(str(ROOT / "docs" / "examples" / "die_limit.py"), run_name="die_limit")["full_load"](duration)


@pytest.fixture(scope="module")
def models():
    m = build_models(load_scenario(_full_load("10 min")))
    p = thermal_params_of(m)
    return m, p, die_groups(m, p)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectorised_die_levels_equal_the_per_tick_reference(models, seed):
    """Random works (some unbounded), in-service shares (some 0 and 1), budgets per level, overheads and die groups
    (limits 40-100 degC, resistances 0.03-0.12 K/W, one to three groups): every (level, group) the vectorised function
    returns is the per-tick reference's, exactly, over levels -1 to the top."""
    m, p, base = models
    cv = m.curves
    rng = np.random.default_rng(seed)
    K = len(cv.rate_pq)
    full = float(cv.rate_pq[-1][-1])
    n = 300
    seen = set()
    for _ in range(4):  # four draws of die groups: levels from none fitting (-1) to the top
        groups = [DieGroup(f"g{i}", g.gpu, g.gpus, float(rng.uniform(35, 95)), float(rng.uniform(0.03, 0.12)),
                           g.gpu_pq) for i, g in enumerate(base * 2)][: int(rng.integers(1, 4))]
        rate = rng.uniform(0.0, 1.3, n) * full
        rate[rng.random(n) < 0.15] = np.inf
        a = rng.uniform(0.0, 1.0, n)
        a[rng.random(n) < 0.1] = 1.0
        a[rng.random(n) < 0.05] = 0.0
        fit = rng.uniform(0.3, 1.2, (n, K)) * full
        ovh = float(rng.uniform(0.0, 20e3))
        heat = m.facility.heat_to_reject_w
        lv, who = steady_die_levels(groups, cv, p, heat, rate, a, ovh, fit_levels=fit)
        ref = [steady_die_level(groups, cv, p, heat, float(rate[i]), float(a[i]), ovh, fit_levels=fit[i])
               for i in range(n)]
        assert lv.tolist() == [r[0] for r in ref]
        assert who.tolist() == [r[1] for r in ref]
        seen |= set(lv.tolist())
    assert len(seen) > 5  # the cases reach many levels, not only the top


def test_a_run_with_the_vectorised_die_hold_is_the_reference_run(monkeypatch):
    """The two-group hall whose B200 dies hold the clock every tick: the run with the chunk's table is the run with
    the per-tick reference, every column bit for bit, and the table answered (nearly) every tick."""
    d = _full_load("20 min")
    monkeypatch.setattr(flex, "DIE_HOLD_VECTORISED", False)
    ref = dcsim.run(d).timeseries
    hits = []
    orig = flex.FlexChunk._die_table

    def spy(self):
        hits.append(self)
        return orig(self)

    reference = []  # ticks the per-tick reference answered (the table did not)
    one = flex.steady_die_level

    def counted(*args, **kw):
        reference.append(1)
        return one(*args, **kw)

    monkeypatch.setattr(flex, "DIE_HOLD_VECTORISED", True)
    monkeypatch.setattr(flex.FlexChunk, "_die_table", spy)
    monkeypatch.setattr(flex, "steady_die_level", counted)
    vec = dcsim.run(d).timeseries
    assert np.all(vec["thermal_throttled"] == 2)
    for k in ref:
        assert np.array_equal(np.asarray(ref[k]), np.asarray(vec[k]),
                              equal_nan=np.asarray(ref[k]).dtype.kind == "f"), k
    assert hits and len(reference) <= 0.1 * vec["t_s"].size
