"""The GPU die limit in the closed form (dcsim.engine.flex.die_ceiling_tok_s in dcsim.engine.steady.ceilings_at) and
the throttled time by cause. The docs example's two-group hall at full load (docs/examples/die_limit.py): its B200s
at the hall's 0.0743 K/W pass 87 degC at full clock, so the run holds the clock one level down, cooling-bound. Until
2026-12-05 the closed form read compute there (Q the plant's, 415,652 tok/s, over C 388,978)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import dcsim
from dcsim.engine.build import build_models
from dcsim.engine.steady import ceilings_at, steady_report
from dcsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
CLOSED_FORM_BAND = 0.02  # docs/engine.md: the fluid simulation against the closed form (tests/test_engine.py)


def _example():
    spec = importlib.util.spec_from_file_location("die_limit", ROOT / "docs" / "examples" / "die_limit.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def held():
    d = _example().full_load("20 min")
    return d, dcsim.run(d)


def test_the_closed_form_reads_the_die_ceiling_and_the_simulation_s_binding(held):
    d, r = held
    ts = r.timeseries
    cf = steady_report(build_models(load_scenario(d)), crossovers_too=False)["moments"]["peak_demand"]
    assert np.all(ts["binding"] == 3)  # the simulation: cooling (dcsim.tpf.BINDING_NAMES) every tick
    assert cf["binding"] == "cooling" and cf.get("cooling_limit") == "die"
    assert cf["cooling_tok_s"] < cf["compute_tok_s"]
    served = float(np.mean(ts["achieved_tok_s"]))
    assert cf["achieved_tok_s"] == pytest.approx(served, rel=CLOSED_FORM_BAND)
    # the ceiling is the compute ceiling of the level the run holds
    m = build_models(load_scenario(d))
    k = int(ts["thermal_level"][0])
    assert cf["cooling_tok_s"] == pytest.approx(float(m.curves.rate_pq[k][-1]), rel=1e-12)


def test_dies_under_their_limit_leave_the_closed_form_as_it_was():
    """The same hall with B200s allowed to 95 degC: no die hold in the run, and no die ceiling in the closed form (Q
    the plant's, binding compute); the held hall at part load binds on demand (a guard), and between the dies' Q and
    C on the dies (which the closed form without the die ceiling read as demand)."""
    ex = _example()
    free = build_models(load_scenario(ex.full_load("10 min", {"t_limit": 95})))
    r = ceilings_at(free, np.inf, 37.5, 21.8)
    assert int(r["binding"]) == 1 and not bool(r["die_binds"])
    m = build_models(load_scenario(ex.full_load("10 min")))
    # a guard: at part load the held dies do not hold the clock, Q is the plant's and the demand binds
    low = ceilings_at(m, 200e3, 37.5, 21.8)
    assert int(low["binding"]) == 0 and not bool(low["die_binds"])
    # between the dies' Q (380,996 tok/s) and C (388,978): the dies bind, where the closed form before the die
    # ceiling read demand (Q the plant's 415,513, over the demand)
    q_die = float(ceilings_at(m, np.inf, 37.5, 21.8)["cooling_tok_s"])
    mid = ceilings_at(m, 385e3, 37.5, 21.8)
    assert q_die < 385e3 < float(mid["compute_tok_s"])
    assert int(mid["binding"]) == 3 and bool(mid["die_binds"])
    assert float(mid["achieved_tok_s"]) == pytest.approx(q_die, rel=1e-12)


def test_throttled_time_counts_the_die_hold_by_its_cause(held):
    """Every tick of the die-held hall is throttled by the dies (THROTTLE_DIE_HOLD), none by the plant, and the report
    counts them so: throttled_s and its part throttled_die_s both the run's 1,200 s."""
    from dcsim.engine.flex import THROTTLE_DIE_HOLD

    _, r = held
    th, ts = r.report["thermal"], r.timeseries
    dt = float(ts["t_s"][1] - ts["t_s"][0])
    die = np.asarray(ts["thermal_throttled"]) == THROTTLE_DIE_HOLD
    assert np.all(die)
    assert th["throttled_s"] == pytest.approx(1200.0) and th["throttled_die_s"] == pytest.approx(die.sum() * dt)


def test_the_thermal_figures_shade_the_die_hold_by_its_cause(held):
    """A die-held hall with no cooling failure (the masses never engage) has a thermal figure whose one cooling shade
    spans every tick the dies held (until 2026-12-05 it had none), and the signature draws the throttle's Q over
    every tick, its cause the dies' (dcsim.plots.figures.throttle_ticks, the one reading of the codes)."""
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import to_rgb

    from dcsim.plots.figures import CONSTRAINT_COLORS, _throttle_cause, signature_plot, throttle_ticks
    from dcsim.plots.flex import thermal_figure

    _, r = held
    ts = r.timeseries
    plant, die = throttle_ticks(ts)
    assert not plant.any() and die.all()
    assert _throttle_cause(ts) == "die"
    fig = thermal_figure(r)
    assert fig is not None
    ax = fig.axes[0]
    shades = [c for c in ax.collections if isinstance(c, PolyCollection)
              and np.allclose(c.get_facecolor()[0][:3], to_rgb(CONSTRAINT_COLORS["cooling"]))]
    assert len(shades) == 1  # the dies' (the plant's throttle shades nothing: no tick of it)
    v = shades[0].get_paths()[0].vertices
    top = v[v[:, 1] >= 1.0 - 1e-12, 0]  # x where the shade reaches the top: the held ticks
    assert top.min() == pytest.approx(ax.get_xlim()[0]) and top.max() == pytest.approx(ax.get_xlim()[1])
    sig = signature_plot(r)
    q = [ln for a in sig.axes for ln in a.get_lines() if ln.get_linewidth() == 4.0]  # the throttle's Q line
    assert q and all(np.all(np.isfinite(ln.get_ydata())) for ln in q)


def test_liquid_hall_without_a_room_limit_reports_none():
    """``facility.thermal: {kind: liquid}`` has no shed limit on the white space (docs/thermal-dynamics.md: liquid
    none; its racks shed only when the dies cannot be held): the report's ``shed_space_c`` is None. Until 2026-12-05
    it was inf and the run ended in InvariantError (non-finite result at thermal.shed_space_c)."""
    d = _example().full_load("2 min")
    d["facility"]["thermal"] = {"kind": "liquid"}
    th = dcsim.run(d).report["thermal"]
    assert th["shed_space_c"] is None
    assert th["inlet_allowable_max_c"] is None  # the same "none" for the inlet limit


def test_tpf_carries_the_full_work_q_where_the_dies_set_it():
    """At 1,400 req/s the dies do not hold the clock, so the moment's Q is the plant's; at full work, where C and P are
    read, the dies hold it: ``dcsim tpf`` carries that Q too (``cooling_full_work_tok_s``), the rate the hall serves
    under any demand above it (plan max-demand's answer). Absent where the dies never set Q."""
    ex = _example()
    d = ex.full_load("10 min")
    d["workload"]["arrivals"] = {"kind": "poisson", "rate": "1400 req/s"}
    m = build_models(load_scenario(d))
    mo = steady_report(m, crossovers_too=False)["moments"]["peak_demand"]
    full = ceilings_at(m, np.inf, mo["t_out_c"], mo["t_wb_c"])
    assert bool(full["die_binds"])
    assert mo["cooling_full_work_tok_s"] == pytest.approx(float(full["cooling_tok_s"]), rel=1e-12)
    assert mo["cooling_full_work_tok_s"] < mo["compute_tok_s"] < mo["cooling_tok_s"]  # the plant's Q at this demand
    free = build_models(load_scenario(ex.full_load("10 min", {"t_limit": 95})))
    assert "cooling_full_work_tok_s" not in steady_report(free, crossovers_too=False)["moments"]["peak_demand"]
