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
    the plant's, binding compute); at a demand the held level serves, the binding is demand."""
    ex = _example()
    free = build_models(load_scenario(ex.full_load("10 min", {"t_limit": 95})))
    r = ceilings_at(free, np.inf, 37.5, 21.8)
    assert int(r["binding"]) == 1 and not bool(r["die_binds"])
    m = build_models(load_scenario(ex.full_load("10 min")))
    low = ceilings_at(m, 200e3, 37.5, 21.8)
    assert int(low["binding"]) == 0


def test_throttled_time_counts_the_die_hold_and_names_its_cause(held):
    _, r = held
    th = r.report["thermal"]
    assert th["throttled_s"] == pytest.approx(1200.0) and th["throttled_die_s"] == pytest.approx(1200.0)
    # the summary says the cause (the plant's throttle alone reads as before: chiller-trip)
    from dcsim.report.summary import flex_rows

    (row,) = [t for k, t in flex_rows(r.report) if k == "Thermal"]
    assert "die limit in normal operation" in row
    plant = dict(th, throttled_s=600.0, throttled_die_s=0.0)
    (row,) = [t for k, t in flex_rows(dict(r.report, thermal=plant)) if k == "Thermal"]
    assert "die limit" not in row


def test_the_thermal_figures_shade_the_die_hold_by_its_cause(held):
    """A die-held hall with no cooling failure (the masses never engage) has a thermal figure, its throttled ticks
    shaded and named as the die limit's (until 2026-12-05 it had none; the signature's throttle line said nothing
    of the cause)."""
    from dcsim.plots.figures import signature_plot
    from dcsim.plots.flex import thermal_figure

    _, r = held
    fig = thermal_figure(r)
    assert fig is not None
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("die limit holds the clock" in t for t in labels)
    assert not any(t == "thermal throttle (cooling binds)" for t in labels)
    sig = signature_plot(r)
    texts = [t.get_text() for ax in sig.axes for t in ax.texts]
    assert "die limit (Q)" in texts


def test_liquid_hall_without_a_room_limit_reports_none():
    """``facility.thermal: {kind: liquid}`` has no shed limit on the white space (docs/thermal-dynamics.md: liquid
    none; its racks shed only when the dies cannot be held): the report's ``shed_space_c`` is None. Until 2026-12-05
    it was inf and the run ended in InvariantError (non-finite result at thermal.shed_space_c)."""
    d = _example().full_load("2 min")
    d["facility"]["thermal"] = {"kind": "liquid"}
    th = dcsim.run(d).report["thermal"]
    assert th["shed_space_c"] is None
    assert th["inlet_allowable_max_c"] is None  # the same "none" for the inlet limit
