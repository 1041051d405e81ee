"""Counter-intuitive results are explained in report.notes with figures (issue 12.7), and the
claims hold when checked independently."""

from pathlib import Path

import numpy as np

import dcsim
from dcsim.engine.build import build_models, with_interconnect

SC = Path(__file__).resolve().parents[1] / "scenarios"


def test_fewer_gpus_serve_more_under_a_power_cap():
    full = dcsim.run(SC / "campus-interconnect.yaml", overrides={"expect": {}})
    fewer = dcsim.run(SC / "campus-interconnect.yaml", overrides={"racks.0.count": 540, "expect": {}})
    note = [n for n in full.report["notes"] if n.startswith("fewer GPUs would serve more")]
    assert note and "19,200 GPUs" in note[0] and "17,280" in note[0]
    # the simulation agrees with the note: 10 % fewer racks, more tokens over the day
    assert fewer.report["tokens"]["output"] > full.report["tokens"]["output"]
    assert full.report["binding"]["share"]["power"] > 0.3


def test_no_fewer_gpus_note_when_power_does_not_bind():
    res = dcsim.run(SC / "campus-interconnect.yaml", overrides={"racks.0.count": 350, "expect": {}})
    assert res.report["binding"]["share"]["power"] == 0.0
    assert not [n for n in res.report["notes"] if n.startswith("fewer GPUs")]


def test_larger_interconnect_raises_pue_at_the_same_load():
    res = dcsim.run(SC / "reference.yaml")
    note = [n for n in res.report["notes"] if n.startswith("a larger interconnect would raise PUE")]
    assert note
    m = build_models(res.scenario)
    ts = res.timeseries
    it = float(np.mean(ts["it_power_w"]))
    args = (it, m.liquid_fraction, float(np.mean(ts["t_out_c"])), float(np.mean(ts["t_wb_c"])))
    pue = lambda f: float(f.breakdown(*args)["facility"] / it)  # noqa: E731
    p1, p2 = pue(m.facility), pue(with_interconnect(m, 2 * m.facility.interconnect_w).facility)
    assert p2 > p1
    assert f"PUE is {p1:.3f}" in note[0] and f"{p2:.3f} with" in note[0]
    # with the ratings set explicitly the effect (and the note) goes away
    fixed = dcsim.run(SC / "reference.yaml", overrides={"facility.power_chain.ups_rating": "450 kW",
                                                        "facility.power_chain.transformer_rating": "450 kW",
                                                        "expect": {}})
    assert not [n for n in fixed.report["notes"] if n.startswith("a larger interconnect")]
