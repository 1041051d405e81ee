"""Phase diagrams: the closed-form map is physical, fast axes equal rebuilt models, simulation agrees."""

import numpy as np
import pytest

from conftest import ROOT, small_scenario
from dcsim.engine.steady import ceilings_at
from dcsim.phase import CONSTRAINT_COLORS, phase_diagram, plot_phase
from dcsim.plan import _models, scenario_moments
from dcsim.scenario import read_yaml
from dcsim.tpf import BINDING_NAMES

REF = ROOT / "scenarios" / "reference.yaml"


@pytest.fixture(scope="module")
def gpus_by_temp():
    return phase_diagram(REF, x=("gpus", np.linspace(64, 960, 15)), y=("t_out_c", np.linspace(15, 50, 15)),
                         demand="full")


def test_map_is_physical(gpus_by_temp):
    pd = gpus_by_temp
    assert pd.binding.shape == (15, 15)
    # compute ceiling proportional to GPUs, independent of weather
    np.testing.assert_allclose(pd.compute_tok_s / pd.x[None, :], pd.compute_tok_s[0, 0] / pd.x[0], rtol=1e-9)
    # a hotter day never raises P or Q, so never raises the achieved rate
    assert np.all(np.diff(pd.power_tok_s, axis=0) <= 1e-6 * pd.power_tok_s[:-1])
    assert np.all(np.diff(pd.cooling_tok_s, axis=0) <= 1e-6 * pd.cooling_tok_s[:-1])
    assert np.all(np.diff(pd.achieved_tok_s, axis=0) <= 1e-6 * pd.achieved_tok_s[:-1])
    # at full load, compute binds for the small fleets only: a prefix of every row
    for row in pd.binding:
        c = row == 1
        assert c[0] and not c[-1]
        assert np.all(np.diff(c.astype(int)) <= 0)
    # all three constraints appear over this range (reference hall: the July day spans them)
    assert set(np.unique(pd.binding)) == {1, 2, 3}
    # the achieved rate is the smallest ceiling everywhere
    lo = np.minimum(pd.compute_tok_s, np.minimum(pd.power_tok_s, pd.cooling_tok_s))
    np.testing.assert_allclose(pd.achieved_tok_s, lo)
    assert sum(pd.share().values()) == pytest.approx(1.0)
    assert np.isfinite(pd.boundary_x(0, 1, 2))


def test_fast_axes_equal_rebuilt_models():
    raw = read_yaml(REF)
    counts = [4, 10, 17]
    caps = ["300 kW", "450 kW", "700 kW"]
    pd = phase_diagram(REF, x=("racks.0.count", counts), y=("facility.interconnect", caps), demand="full")
    i = pd.moment["index"]
    for iy, cap in enumerate(caps):
        for ix, n in enumerate(counts):
            m = _models(raw, REF.parent, {"racks.0.count": n, "facility.interconnect": cap})
            mom = scenario_moments(m)
            r = ceilings_at(m, np.inf, mom["t_db_c"][i], mom["t_wb_c"][i])
            for k in ("compute_tok_s", "power_tok_s", "cooling_tok_s"):
                assert getattr(pd, k)[iy, ix] == pytest.approx(float(r[k]), rel=1e-6), (k, n, cap)
            assert pd.binding[iy, ix] == int(r["binding"])


def test_precision_axis_fp8_lowers_joules_per_token():
    caps = [f"{v:.0f} kW" for v in np.linspace(150, 700, 23)]
    pd = phase_diagram(REF, x=("facility.interconnect", caps), y=("racks.0.node.precision", ["bf16", "fp8"]),
                       demand="full", overrides={"facility.cooling.capacity": "3 MW"})
    # same interconnect, fewer J per token with FP8: the power ceiling rises
    assert np.all(pd.power_tok_s[1] > pd.power_tok_s[0])
    assert pd.x_values == caps and list(pd.y) == [0.0, 1.0]
    # FP8 also raises the compute ceiling; both rows flip from power- to compute-bound in range
    assert np.all(pd.compute_tok_s[1] > pd.compute_tok_s[0])
    b16, b8 = pd.boundary_x(0, 2, 1), pd.boundary_x(1, 2, 1)
    assert 150e3 < b16 < 700e3 and 150e3 < b8 < 700e3


def test_simulated_points_agree_with_closed_form_in_steady_state():
    sc = small_scenario(duration="40 min")
    pd = phase_diagram(sc, x=("facility.interconnect", ["60 kW", "100 kW", "200 kW"]),
                       y=("workload.arrivals.scale", [0.5, 1.0, 2.5]), moment=1800.0, simulate=3)
    assert len(pd.sim) == 9
    assert {p["closed_form"] for p in pd.sim} >= {0, 2}      # demand- and power-bound cells both sampled
    assert [p["binding"] for p in pd.sim] == [p["closed_form"] for p in pd.sim]
    for p in pd.sim:
        assert p["achieved_tok_s"] == pytest.approx(pd.achieved_tok_s[p["iy"], p["ix"]], rel=0.03)


def test_plot_uses_the_constraint_palette(gpus_by_temp):
    import matplotlib

    fig = plot_phase(gpus_by_temp)
    ax = fig.axes[0]
    mesh = ax.collections[0]
    cols = [matplotlib.colors.to_hex(mesh.cmap(mesh.norm(k))) for k in range(4)]
    assert cols == [CONSTRAINT_COLORS[n].lower() for n in BINDING_NAMES]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"compute binds", "power binds", "cooling binds"} <= set(labels)
    assert "GPUs" in ax.get_xlabel() and "degC" in ax.get_ylabel()
    import matplotlib.pyplot as plt

    plt.close(fig)
