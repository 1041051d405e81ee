"""What a planner reads at a glance (the audit AUF of 2026-12-05, /work/notes/s51/AUF.md): each caveat once on
report.html's first screen, the energy rows named as the plant is built, the closed form's near-tie said in every
view, enough digits to tell used from available power, and the sweep's and compare's bands as the run's own."""

from __future__ import annotations

from dcsim.engine.build import BANNERED_WARNINGS
from dcsim.report.html import _warnings_box

#: mixed-fleet's two clock warnings (report.json warnings, main ac8a9c6), shortened after the prefix
CLOCK = ("racks[0] (h100-chat): controller/thermal throttling below the measured clock range: 12.7 % of its GPU-time "
         "at a DVFS clock below the lowest clock the capped measurements of H100-SXM cover (0.69), down to 0.61")
OTHER = "the IT load drew more than its interconnect for 2 min"


def test_warnings_box_leaves_out_the_clock_caveat_its_banner_shows():
    """AUF item 2: the EXTRAPOLATED CLOCK banner's text came again in the Warnings box, word for word."""
    assert any(CLOCK.split(": ", 1)[1].startswith(p) for p in BANNERED_WARNINGS)
    box = _warnings_box({"warnings": [CLOCK, OTHER]})
    assert "Warnings (1)" in box and OTHER in box and "throttling below" not in box
    assert _warnings_box({"warnings": [CLOCK]}) == ""

