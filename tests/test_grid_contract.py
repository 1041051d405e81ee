"""A battery that rides through curtailment requests (dispatch: events) covers the request's cut, not more: the site
draws at most its contract (audit of 2026-12-05, finding B). Until then the tick's meter budget was the request's cap
plus the battery's whole discharge limit, never clipped: with a 300-kW battery under a 400-kW contract, grid-flex's
40 % request ran the site at 490-495 kW (its transformer, rated at the interconnect by default, overloaded 10-24 %)
and served more during the request than before it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import dcsim

ROOT = Path(__file__).resolve().parents[1]
FLEX = ROOT / "scenarios" / "grid-flex.yaml"


@pytest.fixture(scope="module")
def big_battery():
    return dcsim.run(str(FLEX), overrides={"facility.interconnect": "400 kW", "facility.storage.energy": "1000 kWh",
                                           "facility.storage.max_discharge": "300 kW", "deferrable": None})


def test_a_battery_lifts_the_site_to_its_contract_not_beyond(big_battery):
    ts, rep = big_battery.timeseries, big_battery.report
    contract, cap = 400e3, 0.6 * 400e3
    req = ts["curtailment"].astype(bool)
    assert req.sum() == 120 and np.all(ts["interconnect_w"][req] == pytest.approx(cap))
    # the battery covers the cut: the site runs above the request's cap on stored energy ...
    assert ts["facility_power_w"][req].max() > cap + 100e3
    assert np.all(ts["meter_power_w"][req] <= cap * (1 + 1e-9))
    # ... but never above its contract (measured 490-495 kW before the fix)
    assert ts["facility_power_w"].max() <= contract * (1 + 1e-9)
    assert rep["storage"]["unmet_energy_j"] < 1.0
    # the battery's discharge never exceeds the cut it covers
    assert np.all(ts["battery_w"][req] <= contract - cap + 1e-6)
    # and the request serves about what the contract allows the hour before it (measured 187.3-188.7k tok/s in the
    # request, the evening cooler, against 187.3k at most before it; 224-226k when the battery ran the site past its
    # contract)
    dt = rep["tick_s"]
    before = (ts["t_s"] >= 16 * 3600) & (ts["t_s"] < 17 * 3600)
    assert ts["achieved_tok_s"][req].max() <= ts["achieved_tok_s"][before].max() * 1.02
    assert dt == 60.0


def test_a_peak_shaving_battery_runs_the_site_at_most_to_its_transformer_rating():
    # peak_shave with shave_to at the cap runs the site above its contract on stored energy (what dcsim plan
    # --curtailment --storage assumes), but a transformer_rating given carries no more (Flex.battery_lift_w); until
    # 2026-12-05 the rating set only its losses and the site ran at up to 495.5 kW over a 420-kW transformer
    r = dcsim.run(str(FLEX), overrides={"facility.interconnect": "400 kW", "facility.storage.energy": "1000 kWh",
                                        "facility.storage.max_discharge": "300 kW", "deferrable": None,
                                        "facility.storage.dispatch": "peak_shave", "facility.storage.shave_to": "400 kW",
                                        "facility.power_chain.transformer_rating": "420 kW"})
    ts, rep = r.timeseries, r.report
    fac = ts["facility_power_w"]
    assert fac.max() <= 420e3 * (1 + 1e-9)
    # the battery still lifts the site above the 400-kW contract, up to the rating (measured 1,256 ticks above it)
    assert np.count_nonzero(fac > 401e3) > 100 and fac.max() > 419e3
    assert np.all(ts["meter_power_w"] <= 400e3 * (1 + 1e-9)) and rep["storage"]["unmet_energy_j"] < 1.0


def test_a_transformer_rating_given_limits_a_site_without_a_battery():
    # the transformer carries the whole site, battery-fed or not: a given rating limits every budget where the UPS
    # rating does (Facility.max_it_delivered_w); until 2026-12-05 it limited only a battery's lift and reference.yaml
    # with a 400-kW transformer and no battery ran at 495.0 kW
    ref = ROOT / "scenarios" / "reference.yaml"
    r = dcsim.run(str(ref), overrides={"facility.power_chain.transformer_rating": "400 kW"})
    ts = r.timeseries
    assert np.all(ts["interconnect_w"] == 495e3)  # the meter cap is still the contract ...
    assert ts["facility_power_w"].max() <= 400e3 * (1 + 1e-9)  # ... the transformer holds the site below it
    assert ts["facility_power_w"].max() > 399e3  # and binds at the evening peak


def test_the_delivery_budget_is_the_contract_at_most_a_given_transformer_rating():
    # Facility.delivery_budget_w, the one rule Facility.max_it_delivered_w and preflight's transformer check read: a
    # given rating below the budget binds (the transformer carries the whole site), one above it or none does not,
    # and a quick-study plant (fixed PUE) models no delivery chain, so reads no rating
    from dcsim.engine.build import build_models
    from dcsim.scenario import load_scenario

    ref = ROOT / "scenarios" / "reference.yaml"
    rated = build_models(load_scenario(ref, {"facility.power_chain.transformer_rating": "400 kW"})).facility
    assert rated.delivery_budget_w(495e3) == 400e3 and rated.delivery_budget_w(300e3) == 300e3
    assert rated.delivery_budget_w(np.array([350e3, 450e3])).tolist() == [350e3, 400e3]
    assert build_models(load_scenario(ref)).facility.delivery_budget_w(495e3) == 495e3  # no rating given
    quick = build_models(load_scenario(ref, {"facility.power_chain.transformer_rating": "400 kW",
                                             "facility.cooling": {"kind": "fixed_pue", "pue": 1.3}})).facility
    assert quick.quick_study and quick.delivery_budget_w(495e3) == 495e3
    # the IT the chain carries is what that budget allows, at most the UPS's share
    t, rated_lf = np.array([20.0, 35.0]), 0.0
    want = np.minimum(rated.max_it_power_w(np.full(2, 400e3), rated_lf, t, t - 8.0), rated.ups_it_limit_w)
    assert rated.max_it_delivered_w(np.full(2, 495e3), rated_lf, t, t - 8.0).tolist() == want.tolist()


def test_the_battery_lift_is_derived_from_its_dispatch_and_the_contract():
    """Flex.battery_lift_w derives the ceiling an events battery lifts the budget to (the contract) from batt.dispatch
    and contract_w on each call: until 2026-12-05 it read a field build_flex set, so a Flex built otherwise (or whose
    battery changed after) lifted an events battery's site past its contract."""
    from dataclasses import replace

    from dcsim.engine.flex import Flex
    from dcsim.power.storage import battery_params
    from dcsim.scenario.facility import BatteryStorageSpec

    ev = battery_params(BatteryStorageSpec(energy="200 kWh", max_charge="150 kW", max_discharge="150 kW"))
    fx = Flex(m=None, dt=60.0, n_ticks=10, contract_w=400e3, events=[], price=None, carbon=None, batt=ev)
    # a request's cap of 300 kW: the battery lifts the budget by the cut (100 kW), not by its 150-kW discharge
    assert np.asarray(fx.battery_lift_w(np.array([300e3, 200e3, 400e3]))).tolist() == [100e3, 150e3, 0.0]
    # a peak-shaving battery lifts it by its whole discharge limit (the rating limits the site: Facility)
    fx.batt = replace(ev, dispatch="peak_shave")
    assert np.asarray(fx.battery_lift_w(np.array([300e3, 400e3]))).tolist() == [150e3, 150e3]


def test_policy_none_through_a_transformer_below_the_contract_is_counted():
    """Policy none never caps: 9 racks of reference draw ~452 kW, within the 495-kW contract but through a 400-kW
    transformer. Until 2026-12-05 only the contract was counted (interconnect_exceeded_s 0, no warning) and the run
    read as met; delivery_exceeded_s now counts the ticks over the rating (every tick of the afternoon here) and a
    warning gives the largest excess. The frontier policy holds the same site to the rating: 0."""
    over = {"controller.policy": "none", "racks.0.count": 9, "facility.power_chain.transformer_rating": "400 kW",
            "duration": "1 h", "start": "2026-07-15T14:00"}
    r = dcsim.run(str(ROOT / "scenarios" / "reference.yaml"), overrides=over)
    rep, ts = r.report, r.timeseries
    assert rep["interconnect_exceeded_s"] == 0.0
    assert ts["facility_power_w"].max() > 440e3
    assert rep["delivery_exceeded_s"] == pytest.approx(float(np.count_nonzero(ts["facility_power_w"] > 400e3)) * 60.0)
    assert rep["delivery_exceeded_s"] == 3600.0
    said = "the facility drew more than its transformer's rating for 60 min of 60 min (at most 51.6 kW (+13 %) over"
    assert any(w.startswith(said) for w in rep["warnings"]), rep["warnings"]
    held = dcsim.run(str(ROOT / "scenarios" / "reference.yaml"), overrides={**over, "controller.policy": "frontier"})
    assert held.report["delivery_exceeded_s"] == 0.0 and held.timeseries["facility_power_w"].max() <= 400e3 * (1 + 1e-9)
    assert not any("transformer's rating for" in w for w in held.report["warnings"])
