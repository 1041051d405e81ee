"""Physics defects found by the physics audit: each test asserts the physics that was broken.

* A partial ``cooling_failure`` leaves the plant rejecting no more heat than its reduced capacity
  (the UPS no-load heat does not scale with the lost capacity).
"""

from pathlib import Path

import numpy as np
import yaml

from dcsim.engine.run import run

ROOT = Path(__file__).resolve().parents[1]


def _reference(**over) -> dict:
    sc = yaml.safe_load((ROOT / "scenarios" / "reference.yaml").read_text())
    sc.pop("expect", None)
    sc.update(over)
    return sc


def test_partial_cooling_failure_heat_within_reduced_capacity():
    """reference.yaml, 10:00–13:00 on 15 July, 30 % of the plant lost 11:00–12:00: cooling binds in
    the window, and the heat to reject (IT + PDU + UPS losses) never exceeds the reduced capacity."""
    sc = _reference(duration="3 h", start="2026-07-15T10:00",
                    faults=[{"kind": "cooling_failure", "start": "1 h", "duration": "1 h", "capacity_loss": "30%"}])
    ts = run(sc).timeseries
    heat_w = ts["it_power_w"] + ts["loss_pdu_w"] + ts["loss_ups_w"]
    tm = ts["t_s"] + 30.0
    win = (tm >= 3600.0) & (tm < 7200.0)
    assert win.sum() == 60 and np.all(ts["binding"][win] == 3)  # cooling holds the served rate down
    assert np.all(heat_w <= ts["heat_capacity_w"] * (1 + 1e-9))
    # the budget is used: heat meets the reduced capacity where cooling binds (no slack left idle)
    np.testing.assert_allclose(heat_w[win], ts["heat_capacity_w"][win], rtol=1e-6)
