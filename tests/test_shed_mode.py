"""A tick on which IT was shed for temperature has its own mode code in the record (``mode`` 3, shed): the
controller's log and figures, and the SLO estimate's gap caveats, ask the mode instead of telling the placeholder
clock of a "capped" tick with no GPU in service from a real cap (until 2026-12-05). The engine run that records it
(chiller-trip's 103 shed ticks) is tests/test_flex_engine.py::test_shed_ticks_are_neither_capped_at_a_clock_nor_in_
the_mean_clock."""

import numpy as np

from dcsim.engine.controller import MODE_NAMES, Controller
from dcsim.metrics.record import MODE_SHED, capped_ticks
from dcsim.metrics.summary import controller_figures


def test_the_shed_code_is_its_own_mode_neither_capped_nor_uncapped():
    assert MODE_NAMES[MODE_SHED] == "shed" and MODE_NAMES[:3] == ("uncapped", "frontier", "uniform_cap")
    mode = np.array([0, 1, 2, MODE_SHED], dtype=np.int8)
    np.testing.assert_array_equal(capped_ticks(mode), [False, True, True, False])


def test_a_shed_logs_no_cap_and_the_restart_logs_the_mode_it_comes_back_in():
    """A shed after an uncapped tick logged "cap ... uniform_cap: power or cooling budget short: caps lowered" (the
    engine recorded the shed as uniform_cap); the thermal model's "thermal shed" entry says it. Back from the shed,
    the controller logs the mode IT restarts in (a throttled restart: cap)."""
    ctl = Controller("frontier", 600.0, 1e6, 23)
    for t, md in ((0.0, 0), (10.0, MODE_SHED), (20.0, MODE_SHED), (30.0, 2), (40.0, MODE_SHED), (50.0, 0)):
        ctl.record(t, md, 0.0, 1e5, 30.0, 0.0, False)
    assert [(a["t_s"], a["action"], a["mode"]) for a in ctl.log] == [(30.0, "cap", "uniform_cap"),
                                                                     (50.0, "uncap", "uncapped")]


def test_controller_figures_read_the_mode_not_the_gpus_in_service():
    """Capped share from the recorded modes; out-of-service share and the clocks' ticks from the GPUs in service
    (a shed tick, or every GPU failed: no clock run)."""
    ts = {"mode": np.array([0, 1, 2, MODE_SHED, MODE_SHED, 0]), "mean_clock": np.array([1.0, 0.8, 0.9, 0.3, 0.3, 1.0]),
          "gpus_in_service": np.array([8.0, 8.0, 8.0, 0.0, 0.0, 8.0])}
    f = controller_figures(ts)
    assert f["capped_share"] == 2 / 6 and f["out_of_service_share"] == 2 / 6
    assert f["mean_clock"] == np.mean([1.0, 0.8, 0.9, 1.0])
