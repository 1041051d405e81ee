"""A tick on which IT was shed for temperature has its own mode code in the record (``mode`` 3, shed): the
controller's log and figures, and the SLO estimate's gap caveats, ask the mode instead of telling the placeholder
clock of a "capped" tick with no GPU in service from a real cap (until 2026-12-05). The engine run that records it
(chiller-trip's 103 shed ticks) is tests/test_flex_engine.py::test_shed_ticks_are_neither_capped_at_a_clock_nor_in_
the_mean_clock."""

import numpy as np
import pytest

from dcsim.engine.controller import Controller
from dcsim.metrics.summary import controller_figures
from dcsim.tpf import MODE_SHED


def test_a_shed_logs_no_cap_and_the_restart_logs_its_own_reason():
    """A shed after an uncapped tick logged "cap ... uniform_cap: power or cooling budget short: caps lowered" (the
    engine recorded the shed as uniform_cap); the thermal model's "thermal shed" entry says it. Back from the shed,
    the controller logs the mode IT restarts in as a restart, not as an uncap whose "headroom [was] restored" (no cap
    came before it): a throttled restart is a cap, an uncapped one a "restart"."""
    ctl = Controller("frontier", 600.0, 1e6, 23)
    for t, md in ((0.0, 0), (10.0, MODE_SHED), (20.0, MODE_SHED), (30.0, 2), (40.0, MODE_SHED), (50.0, 0),
                  (60.0, MODE_SHED), (70.0, 0), (80.0, 2), (90.0, 0)):
        ctl.record(t, md, 0.0, 1e5, 30.0, 0.0, False)
    back = "IT back in service after a thermal shed"
    assert [(a["t_s"], a["action"], a["mode"], a["reason"]) for a in ctl.log] == [
        (30.0, "cap", "uniform_cap", back), (50.0, "restart", "uncapped", back), (70.0, "restart", "uncapped", back),
        (80.0, "cap", "uniform_cap", "power or cooling budget short: caps lowered"),
        (90.0, "uncap", "uncapped", "headroom restored")]


def test_uncapped_capped_and_out_of_service_shares_partition_the_run():
    """A tick the thermal throttle records uniform_cap while every GPU has failed (FlexChunk.thermal_limit's throttle
    branch) runs no clock: it is out of service, not capped. (Until 2026-12-05 it counted in both, and the shares
    summed to 7/6.) The clocks are averaged over the ticks in service only."""
    mode = np.array([0, 1, 2, 2, MODE_SHED, 0])
    gpus = np.array([8.0, 8.0, 8.0, 0.0, 0.0, 8.0])
    ts = {"mode": mode, "mean_clock": np.array([1.0, 0.8, 0.9, 0.3, 0.3, 1.0]), "gpus_in_service": gpus}
    f = controller_figures(ts)
    assert f["capped_share"] == 2 / 6 and f["out_of_service_share"] == 2 / 6
    assert f["mean_clock"] == f["mean_controller_clock"] == np.mean([1.0, 0.8, 0.9, 1.0])
    assert controller_figures({**ts, "gpus_in_service": np.zeros(6)})["mean_clock"] is None


@pytest.fixture
def chiller_trip(shipped_run):
    """scenarios/chiller-trip.yaml's run as shipped (its 10-minute chiller trip sheds IT for temperature, then
    throttles it): the one run conftest.py's ``shipped_run`` shares with test_flex_engine, test_notes,
    test_scenarios_expect and test_thermal_throttle_load (this module ran the same file a second time until
    2026-12-06). Read it, never change it; the tests carry its xdist group."""
    return shipped_run("chiller-trip")


@pytest.mark.xdist_group("shipped-chiller-trip")
def test_a_run_records_shed_only_with_no_gpu_in_service_and_a_cap_only_with_some(chiller_trip):
    """On chiller-trip's recorded ticks (not records the test makes up): no tick is mode shed with a GPU in service,
    none is a capped mode (frontier, uniform_cap) with none in service; so the report's shares are the counts of
    the mode names: capped the frontier and uniform_cap ticks, out of service the shed ones (no GPU fails in this
    run). (The check the test held until 2026-12-05 forced ``gpus_in_service`` to 0 on shed ticks of random records
    and compared controller_figures with the functions it calls: it could not fail.)"""
    from dcsim.tpf import MODE_NAMES

    ts = chiller_trip.timeseries
    names = np.array(MODE_NAMES)[np.asarray(ts["mode"], int)]
    gpus = np.asarray(ts["gpus_in_service"], float)
    shed, capped = names == "shed", np.isin(names, ("frontier", "uniform_cap"))
    assert shed.any() and capped.any(), "chiller-trip no longer sheds and caps: the checks below would be empty"
    assert not (shed & (gpus > 0)).any(), ts["t_s"][shed & (gpus > 0)][:5]
    assert not (capped & (gpus == 0)).any(), ts["t_s"][capped & (gpus == 0)][:5]
    n = names.size
    ctl = chiller_trip.report["controller"]
    assert ctl["capped_share"] == np.count_nonzero(capped) / n
    assert ctl["out_of_service_share"] == np.count_nonzero(shed) / n
    assert controller_figures(ts)["capped_share"] == ctl["capped_share"]


@pytest.mark.xdist_group("shipped-chiller-trip")
def test_a_shedding_episode_starts_on_whole_tokens_not_a_float_residue(chiller_trip):
    """chiller-trip's log opened its hold-limit shedding episode at 2,790 s on a tick that shed 5.96e-08 tokens (the
    queue's float residue), 10 s before the first whole shed (1.88 M tokens at 2,800 s), and counted the episode
    from there (audit 2026-12-05). Each episode now starts on a tick that shed at least SHED_RESIDUE_TOK. (Since the
    thermal throttle read the power of the tick's work, 2026-12-05, 10 s earlier: a 7.45e-08 residue at 2,780 s, the
    first whole shed, 1.88 M tokens, at 2,790 s.)"""
    from dcsim.engine.controller import SHED_RESIDUE_TOK

    res = chiller_trip
    ts = res.timeseries
    # queue_step sheds no float residue: a tick sheds nothing or at least SHED_RESIDUE_TOK
    assert not ((ts["shed_tokens"] > 0) & (ts["shed_tokens"] < SHED_RESIDUE_TOK)).any()
    starts = [e["t_s"] for e in res.controller_log if e["action"] == "shed"]
    assert starts
    for t0 in starts:
        j = int(np.searchsorted(ts["t_s"], t0))
        assert ts["shed_tokens"][j] >= SHED_RESIDUE_TOK
        assert j == 0 or ts["shed_tokens"][j - 1] < SHED_RESIDUE_TOK
    first_whole = float(ts["t_s"][np.argmax(ts["shed_tokens"] >= SHED_RESIDUE_TOK)])
    assert starts[0] == first_whole == 2790.0
