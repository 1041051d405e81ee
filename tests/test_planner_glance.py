"""What a planner reads at a glance (the audit AUF of 2026-12-05, /work/notes/s51/AUF.md): each caveat once on
report.html's first screen, the energy rows named as the plant is built, the closed form's near-tie said in every
view, enough digits to tell used from available power, and the sweep's and compare's bands as the run's own."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_report import synthetic_result  # noqa: E402  (test fixture, not shipped)

from dcsim.engine.build import BANNERED_WARNINGS
from dcsim.metrics.fmt import energy_label
from dcsim.report.html import _cards, _energy_table, _warnings_box
from dcsim.report.summary import summary_table
from dcsim.scenario.facility import (AirsideEconomizerSpec, ChillerPlantSpec, FixedPueSpec, LiquidCoolingSpec)
from dcsim.thermal.facility import heat_rejection_kind

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


def test_heat_rejection_kind_follows_the_plant():
    """What the cooling_tower part holds: tower fans only on a chiller plant with cooling towers."""
    assert heat_rejection_kind(ChillerPlantSpec(heat_rejection="cooling_tower")) == "cooling_tower"
    assert heat_rejection_kind(ChillerPlantSpec(heat_rejection="dry_cooler")) == "dry_cooler"
    assert heat_rejection_kind(LiquidCoolingSpec()) == "dry_cooler"
    assert heat_rejection_kind(AirsideEconomizerSpec()) == "dry_cooler"
    assert heat_rejection_kind(FixedPueSpec(pue=1.3)) is None


def test_energy_table_names_dry_cooler_fans_not_a_cooling_tower():
    """AUF item 4: an air-cooled plant's dry-cooler fans read "cooling tower" in report.html's energy table."""
    e = {"facility": 10.0e9, "it": 7.0e9, "cooling": 2.5e9, "cooling_chiller": 1.5e9, "cooling_tower": 0.2e9}
    row = lambda report: re.search(r'title="energy_j.cooling_tower">[^<]*?└ ([^<]*)<', _energy_table(report)).group(1)  # noqa: E731
    assert row({"energy_j": e, "heat_rejection": "dry_cooler"}) == "heat rejection (dry-cooler fans)"
    assert row({"energy_j": e, "heat_rejection": "cooling_tower"}) == "heat rejection (cooling-tower fans)"
    assert row({"energy_j": e}) == energy_label("cooling_tower") == "cooling tower"  # older report.json


#: reference's peak-demand moment (report.json tpf.moments.peak_demand, main ac8a9c6): cooling binds with Q
#: 2,208 tok/s (0.98 %) under C
TIE = {"gap_tok_s": 2208.1, "kind": "cooling", "margin": 0.00976, "threshold": 0.01}


def _tied(pool: str | None = None):
    res = synthetic_result()
    mom = {"compute_tok_s": 226.18e3, "power_tok_s": 224.26e3, "cooling_tok_s": 223.97e3, "binding": "cooling",
           "operating_point": "peak demand", "t_s": 3600.0, "near_tie": {**TIE, **({"pool": pool} if pool else {})}}
    tpf = {**res.report["tpf"], "binding": "cooling", "operating_point": "peak_demand", "moments": {"peak_demand": mom}}
    return SimpleNamespace(**{**vars(res), "report": {**res.report, "tpf": tpf}})


def test_terminal_and_card_say_the_closed_forms_near_tie():
    """AUF item 7: the summary said "closed form at peak_demand: cooling" and the card's chip "cooling" where the
    HTML table and dcsim tpf said "cooling by a hair"."""
    res = _tied()
    assert "closed form at peak_demand: cooling by a hair" in summary_table(res)
    card = _cards(res.report).split("Binding constraint", 1)[1].split("closed form at", 1)[1][:400]
    assert "by a hair" in card
    pooled = _tied("b200-reasoning")
    assert "cooling by a hair (pool b200-reasoning)" in summary_table(pooled)
    # no near tie at the operating point: no label
    plain = synthetic_result()
    assert "by a hair" not in summary_table(plain) and "by a hair" not in _cards(plain.report)


#: campus-interconnect's figures (report.json, main ac8a9c6): used = available mean, the min 0.3 % lower, peak IT
#: 14.039 MW above both
CAMPUS = {"pue_adjusted_delivered_power_w": {"available": {"mean": 13997197.29, "min": 13956250.66},
                                             "mean": 13997197.29, "peak": 14038655.85, "theta": 1.0,
                                             "used": 13997197.29},
          "peak_power_w": {"facility": 15999999.99999444, "gpu": 7622326.6, "it": 14038655.85}}


def test_mw_scale_power_keeps_the_digits_that_tell_used_from_min():
    """AUF item 8: "used 14 MW of 14 MW available (min 14 MW)", "peak power IT 14 MW" for 13.997 / 13.997 /
    13.956 MW and a 14.039 MW peak; the reference hall's kW figures keep their three digits."""
    res = synthetic_result()
    campus = SimpleNamespace(**{**vars(res), "report": {**res.report, **CAMPUS}})
    text = " ".join(summary_table(campus).split())
    assert "used 14.00 MW of 14.00 MW available (θ·P/PUE at the cap, min 13.96 MW)" in text
    assert "peak power IT 14.04 MW facility 16.00 MW" in text
    card = _cards(campus.report).split("PUE-adjusted delivered power", 1)[1][:600]
    assert "14.00 <small>MW" in card and "13.96 MW" in card
    ref = {"pue_adjusted_delivered_power_w": {"available": {"mean": 348339.4, "min": 338979.7}, "mean": 325275.8,
                                              "used": 325275.8, "peak": 343889.8, "theta": 1.0},
           "peak_power_w": {"facility": 495000.0, "it": 343889.8}}
    text = " ".join(summary_table(SimpleNamespace(**{**vars(res), "report": {**res.report, **ref}})).split())
    assert "used 325 kW of 348 kW available (θ·P/PUE at the cap, min 339 kW)" in text  # README's block
    assert "peak power IT 344 kW facility 495 kW" in text
