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
    # compute gives way to power on the 17.5 degC row; at 15 degC the chillers draw so little that the plant's
    # 395 kW of heat rejection binds first (cooling 154.3 k vs power 154.6 k tok/s at 960 GPUs)
    assert np.isfinite(pd.boundary_x(1, 1, 2)) and np.isfinite(pd.boundary_x(0, 1, 3))


def test_fast_axes_equal_rebuilt_models():
    raw = read_yaml(REF)
    counts = [4, 10, 17]
    caps = ["300 kW", "450 kW", "700 kW"]
    pd = phase_diagram(REF, x=("racks.0.count", counts), y=("facility.interconnect", caps), demand="full")
    i = pd.moment["index"]
    # the moment on the reference's local clock (it starts 2026-07-15 00:00; the title read "t = 16.0 h")
    h, rem = divmod(int(round(pd.moment["t_s"])) // 60, 60)
    assert pd.moment["local_time"] == f"07-15 {h:02d}:{rem:02d}"
    for iy, cap in enumerate(caps):
        for ix, n in enumerate(counts):
            m = _models(raw, REF.parent, {"racks.0.count": n, "facility.interconnect": cap})
            mom = scenario_moments(m)
            r = ceilings_at(m, np.inf, mom["t_db_c"][i], mom["t_wb_c"][i])
            for k in ("compute_tok_s", "power_tok_s", "cooling_tok_s"):
                assert getattr(pd, k)[iy, ix] == pytest.approx(float(r[k]), rel=1e-6), (k, n, cap)
            assert pd.binding[iy, ix] == int(r["binding"])


def test_the_map_and_a_plan_answer_describe_a_moment_alike(gpus_by_temp):
    """A phase diagram's moment is plan.moment_info's, the description a plan answer gives of a moment (phase built
    its own copy of the dict), with the moment's index in front."""
    from dcsim.plan import moment_info, plan

    m = _models(read_yaml(REF), REF.parent)
    mom = scenario_moments(m)
    i = gpus_by_temp.moment["index"]
    assert i == int(np.argmax(mom["demand_tok_s"]))  # peak demand, the default moment
    assert gpus_by_temp.moment == {"index": i, **moment_info(mom, i, m)}
    assert list(gpus_by_temp.moment) == ["index", "t_s", "t_out_c", "t_wb_c", "demand_tok_s", "local_time"]
    answer = plan(REF, "max-gpus")["moment"]
    j = int(np.flatnonzero(mom["t_s"] == answer["t_s"])[0])
    assert answer == moment_info(mom, j, m)
    # both read on the scenario's local clock (its start 2026-07-15 00:00), worked out here from t_s alone
    for mo in (gpus_by_temp.moment, answer):
        t = int(mo["t_s"])
        assert mo["local_time"] == f"07-15 {t // 3600:02d}:{t % 3600 // 60:02d}"
        assert mo["t_out_c"] == pytest.approx(float(mom["t_db_c"][int(np.flatnonzero(mom["t_s"] == mo["t_s"])[0])]))


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
    assert "GPUs" in ax.get_xlabel() and ax.get_ylabel() == "outdoor dry-bulb (°C)"
    import matplotlib.pyplot as plt

    plt.close(fig)


# --- plot_phase against the numbers it was drawn from (mutation audit): a hand-made diagram, non-square, with a
# --- simulated cell that agrees and one that differs

def _toy_diagram(y_path="t_out_c", y_values=(15.0, 25.0, 35.0)):
    from dcsim.phase import PhaseDiagram

    xv = ["300 kW", "450 kW", "600 kW", "750 kW"]
    x = np.array([300e3, 450e3, 600e3, 750e3])
    y = np.arange(len(y_values), dtype=float) if isinstance(y_values[0], str) else np.asarray(y_values, float)
    yy = np.arange(len(y_values), dtype=float)
    binding = np.array([[2, 2, 1, 1], [2, 2, 2, 1], [3, 3, 2, 2]])[: len(y_values)]
    achieved = 100e3 + 0.4 * x[None, :] - 30e3 * yy[:, None]  # a plane: contours are straight lines
    compute = np.broadcast_to(0.9 * x[None, :], binding.shape).copy()
    sim = [{"x": xv[0], "y": y_values[0], "ix": 0, "iy": 0, "binding": 2, "closed_form": 2},
           {"x": xv[3], "y": y_values[-1], "ix": 3, "iy": len(y_values) - 1, "binding": 1, "closed_form": 2}]
    return PhaseDiagram("facility.interconnect", y_path, xv, list(y_values), x, y, binding,
                        demand_tok_s=np.full(binding.shape, 250e3), compute_tok_s=compute,
                        power_tok_s=achieved, cooling_tok_s=achieved * 1.5, achieved_tok_s=achieved,
                        moment={"index": 42, "t_s": 14 * 3600.0, "t_out_c": 31.0, "t_wb_c": 22.0,
                                "demand_tok_s": 250e3, "local_time": "07-15 14:00"}, demand_mode="scenario", sim=sim)


def _rgb(c):
    import matplotlib.colors as mc

    return mc.to_rgba(c)[:3]


def test_plot_phase_cells_are_the_map_on_its_axes():
    """Each cell of the map is its (x, y) value's binding code, centred on that value in the axis unit (MW, degC):
    catches a map transposed, shifted half a cell, or an interconnect in kW labelled MW."""
    import matplotlib.pyplot as plt

    pd = _toy_diagram()
    fig = plot_phase(pd)
    ax = fig.axes[0]
    mesh = ax.collections[0]
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(pd.binding.shape), pd.binding)
    xy = mesh.get_coordinates()  # (ny + 1, nx + 1, 2) cell corners
    np.testing.assert_allclose(0.5 * (xy[0, 1:, 0] + xy[0, :-1, 0]), pd.x / 1e6)
    np.testing.assert_allclose(0.5 * (xy[1:, 0, 1] + xy[:-1, 0, 1]), pd.y)
    assert ax.get_xlabel() == "interconnect (MW)" and ax.get_ylabel() == "outdoor dry-bulb (°C)"
    assert ax.get_title() == "Binding constraint — 07-15 14:00 local, 31.0 °C, demand 250k tok/s"
    plt.close(fig)


def test_plot_phase_simulated_cells_and_legend():
    """A simulated cell is drawn at its (x, y), filled with the binding the simulation found, a circle where it
    agrees with the map and a cross where it differs; the legend names each constraint on the map in its colour and
    both markers. Catches points at swapped indices, filled with the map's binding, markers swapped, a wrong-coloured
    legend patch or the 'differs' entry missing."""
    import matplotlib.pyplot as plt
    from matplotlib.markers import MarkerStyle

    pd = _toy_diagram()
    fig = plot_phase(pd)
    ax = fig.axes[0]
    from matplotlib.collections import PathCollection

    pts = [c for c in ax.collections if type(c) is PathCollection]
    assert len(pts) == len(pd.sim)
    for c, p in zip(pts, pd.sim):
        np.testing.assert_allclose(c.get_offsets()[0], (pd.x[p["ix"]] / 1e6, pd.y[p["iy"]]))
        assert _rgb(c.get_facecolor()[0]) == _rgb(CONSTRAINT_COLORS[BINDING_NAMES[p["binding"]]])
        m = MarkerStyle("o" if p["binding"] == p["closed_form"] else "X")
        np.testing.assert_allclose(c.get_paths()[0].vertices, m.get_path().transformed(m.get_transform()).vertices)
    leg = ax.get_legend()
    by_text = {t.get_text(): h for t, h in zip(leg.get_texts(), leg.legend_handles)
               if not t.get_text().startswith(("near tie", "contours"))}  # entries tested on their own below
    assert list(by_text) == ["compute binds", "power binds", "cooling binds", "simulated (agrees)",
                             "simulated (differs)"]
    for name in ("compute", "power", "cooling"):
        assert _rgb(by_text[f"{name} binds"].get_facecolor()) == _rgb(CONSTRAINT_COLORS[name])
    assert by_text["simulated (agrees)"].get_marker() == "o" and by_text["simulated (differs)"].get_marker() == "X"
    plt.close(fig)


def test_plot_phase_contours_are_the_achieved_rate_in_k_tok_s():
    """The contour lines are the achieved rate in thousands of tokens/s (labelled 'NNNk'): along each line the
    achieved rate (a plane here) equals the line's level. Catches contours of another ceiling or in other units."""
    import matplotlib.pyplot as plt
    from matplotlib.contour import ContourSet

    pd = _toy_diagram()
    fig = plot_phase(pd)
    ax = fig.axes[0]
    cs = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert len(cs) == 1
    n = 0
    for level, segs in zip(cs[0].levels, cs[0].allsegs):
        for seg in segs:
            x_w, yi = seg[:, 0] * 1e6, np.interp(seg[:, 1], pd.y, np.arange(pd.y.size))
            np.testing.assert_allclose((100e3 + 0.4 * x_w - 30e3 * yi) / 1e3, level, rtol=1e-9)
            n += len(seg)
    assert n > 0
    labels = [t.get_text() for t in ax.texts]
    assert labels and all(t == f"{float(t[:-1]):.0f}k" for t in labels)
    assert {float(t[:-1]) for t in labels} <= {float(v) for v in cs[0].levels}
    plt.close(fig)


def test_plot_phase_categorical_axis_ticks_in_order():
    """A non-numeric axis is drawn as categories: row k of the map at y = k, ticked with the k-th value."""
    import matplotlib.pyplot as plt

    pd = _toy_diagram("racks.0.node.precision", ("bf16", "fp8"))
    fig = plot_phase(pd)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["bf16", "fp8"]
    np.testing.assert_array_equal(ax.get_yticks(), [0, 1])
    xy = ax.collections[0].get_coordinates()
    np.testing.assert_allclose(0.5 * (xy[1:, 0, 1] + xy[:-1, 0, 1]), [0.0, 1.0])
    np.testing.assert_array_equal(np.asarray(ax.collections[0].get_array()).reshape(2, 4), pd.binding)
    assert ax.get_ylabel() == "precision"  # its name, not the raw key
    plt.close(fig)


def test_plot_phase_legend_names_only_the_markers_drawn():
    """Where every simulated cell differs from the map there is no circle on it: the legend must not list
    'simulated (agrees)' (it did, whenever any cell was simulated)."""
    import matplotlib.pyplot as plt

    pd = _toy_diagram()
    pd.sim = [p for p in pd.sim if p["binding"] != p["closed_form"]]
    fig = plot_phase(pd)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "simulated (differs)" in labels and "simulated (agrees)" not in labels
    plt.close(fig)


def test_plot_phase_builds_its_figure_without_pyplot():
    """Without ``ax`` the figure is built as the package's other figures are (dcsim.plots.figures.new_figure): on the
    Agg canvas, not registered with pyplot (so callers need not close it), constrained layout, the size and dpi it had;
    with ``ax`` it draws there and returns that axes' figure. Catches a return to plt.subplots, which left every
    figure open in pyplot's registry."""
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    before = plt.get_fignums()
    fig = plot_phase(_toy_diagram())
    assert plt.get_fignums() == before
    assert type(fig.canvas) is FigureCanvasAgg and fig.canvas.manager is None
    assert isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine)
    assert tuple(fig.get_size_inches()) == (7.5, 5.2) and fig.dpi == 110
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and ax.get_xlabel() == "interconnect (MW)"
    assert ax.get_title().startswith("Binding constraint — 07-15 14:00 local")
    # a caller's axes: drawn there, its figure returned, nothing added to pyplot either
    own = Figure(figsize=(6, 4))
    own_ax = own.subplots()
    assert plot_phase(_toy_diagram(), ax=own_ax, title="mine") is own
    assert own_ax.get_title() == "mine" and plt.get_fignums() == before


@pytest.mark.parametrize("axis, message", [
    (("t_out_c", [30, float("nan")]), "t_out_c[1]: nan is not an outdoor dry-bulb"),
    (("gpus", [-320, 320]), "gpus[0]: -320 is not a positive count"),
    (("racks.0.count", [2.5]), "racks.0.count[0]: 2.5 is not a whole number of racks"),
    (("demand", [-1.0]), "demand[0]: -1.0 is not output tokens/s"),
    (("workload.arrivals.scale", ["x"]), "workload.arrivals.scale[0]: 'x' is not a multiplier"),
    (("facility.interconnect", [float("nan")]), "facility.interconnect[0]: nan is not a positive power"),
])
def test_fast_axes_are_checked(axis, message):
    """Audit C (A9): the fast axes build no scenario, so nothing checked them: "35 degC" on t_out_c became NaN and drew
    as cooling-bound; negative GPU counts and NaN interconnects were computed without a word."""
    other = ("facility.interconnect", ["400 kW"]) if axis[0] != "facility.interconnect" else ("t_out_c", [30])
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        phase_diagram(ROOT / "scenarios" / "reference.yaml", x=axis, y=other)


def test_a_temperature_axis_takes_units():
    pd = phase_diagram(ROOT / "scenarios" / "reference.yaml", x=("t_out_c", ["30 degC", 35, "40 degC"]),
                       y=("facility.interconnect", ["400 kW", "500 kW"]))
    same = phase_diagram(ROOT / "scenarios" / "reference.yaml", x=("t_out_c", [30, 35, 40]),
                         y=("facility.interconnect", ["400 kW", "500 kW"]))
    np.testing.assert_array_equal(pd.binding, same.binding)
    np.testing.assert_array_equal(pd.x, [30.0, 35.0, 40.0])  # numeric, not the category index


def test_plot_phase_hatches_the_near_ties():
    """A cell whose next-lowest limit is within NEAR_TIE (dcsim.metrics.fmt) of the lowest is hatched (notebook 02's 15 degC row
    was cooling-bound by 0.1 % over power and drawn as solid colour); a clear cell is not, and the legend says what
    the hatch is. Catches the hatch missing, drawn over every cell, or over the wrong ones."""
    import matplotlib.pyplot as plt

    from dcsim.metrics.fmt import NEAR_TIE
    from dcsim.phase import near_ties

    pd = _toy_diagram()
    pd.cooling_tok_s = pd.cooling_tok_s.copy()
    pd.cooling_tok_s[0, 0] = pd.power_tok_s[0, 0] * (1 + 0.5 * NEAR_TIE)  # power binds by 0.5 %: a near tie
    tie = near_ties(pd)
    assert tie[0, 0] and not tie[2, 0]
    fig = plot_phase(pd)
    ax = fig.axes[0]
    hatched = [c for c in ax.collections if c.get_gid() == "near-tie"]
    assert len(hatched) == 1 and hatched[0].get_hatch() == "////"
    drawn = ~np.ma.getmaskarray(hatched[0].get_array()).reshape(tie.shape)
    np.testing.assert_array_equal(drawn, tie)
    assert any(t.get_text().startswith("near tie") for t in ax.get_legend().get_texts())
    plt.close(fig)


def test_reference_map_hatches_its_cool_row_tie(gpus_by_temp):
    """On the reference hall at full load the 15 degC row of large fleets is a near tie of power and cooling."""
    from dcsim.phase import near_ties

    tie = near_ties(gpus_by_temp)
    assert tie[0, -1] and not tie[len(gpus_by_temp.y) // 2, 0]


def test_plot_phase_says_what_its_contours_are_and_ticks_counts_whole():
    """The contour labels ("240k") said nothing of what they count, and a rack axis was ticked at 22.5: the legend
    names the contours served output (k tok/s), and a count axis is ticked at whole numbers."""
    import matplotlib.pyplot as plt

    pd = _toy_diagram("racks.0.count", (4.0, 5.0, 6.0))
    fig = plot_phase(pd)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "contours: served output\n(k tok/s)" in labels
    assert ax.get_ylabel() == "racks"
    ticks = [v for v in ax.get_yticks() if ax.get_ylim()[0] <= v <= ax.get_ylim()[1]]
    assert ticks and all(float(v).is_integer() for v in ticks)
    plt.close(fig)


def test_the_contour_entry_follows_the_contours_not_any_text_on_the_axes():
    """The legend's contour entry was added when the axes held any text: a caller's axes with a note of its own and
    no contours drawn (an unfinished map) named contours that were not there. It follows the contour labels."""
    import matplotlib.pyplot as plt

    from dcsim.plots.figures import new_figure

    pd = _toy_diagram("racks.0.count", (4.0, 5.0, 6.0))
    pd.achieved_tok_s = pd.achieved_tok_s.copy()
    pd.achieved_tok_s[0, 0] = np.nan  # no contours over an unfinished map
    ax = new_figure(7.5, 5.2).subplots()
    ax.text(0.5, 0.5, "a caller's note", transform=ax.transAxes)
    plot_phase(pd, ax=ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert not any(t.startswith("contours") for t in labels)
    plt.close(ax.figure)


def test_plot_phase_draws_the_palette_at_full_alpha():
    """At alpha 0.85 the map's compute read lighter than the signature's #0072B2: the map is drawn at full alpha."""
    import matplotlib.pyplot as plt

    fig = plot_phase(_toy_diagram())
    assert fig.axes[0].collections[0].get_alpha() in (None, 1.0)
    plt.close(fig)
