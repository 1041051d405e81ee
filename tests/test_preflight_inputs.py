"""Preflight on hostile inputs: a degF temperature read as degC, a unit slip blamed on the right field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dcsim.engine.preflight import preflight
from dcsim.scenario import ScenarioError, load_scenario
from dcsim.units import format_quantity

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "scenarios" / "reference.yaml"


def _pre(*sets):
    return preflight(load_scenario(str(REF), overrides=list(sets)), label="reference.yaml")


def test_synthetic_day_outside_the_temperature_range_refused_with_degF_hint():
    """mean_t=75 (meant degF) on the hot-dry preset (seasonal 10 K, diurnal 7 K) makes a 92 degC day: refused on
    facility.weather.mean_t, with the span and "write '75 degF'"; 75 degF itself is valid."""
    with pytest.raises(ScenarioError, match=r"facility\.weather\.mean_t: .*58 \.\. 92 degC.*write '75 degF'"):
        load_scenario(str(REF), overrides=["facility.weather.mean_t=75"])
    load_scenario(str(REF), overrides=["facility.weather.mean_t=75 degF"])


def test_generated_day_above_world_record_warned():
    """A synthetic day peaking above 56.7 degC (WMO world record) is warned naming mean_t; a hot real day is not."""
    w = [x for x in _pre("facility.weather.mean_t=60").warnings if "56.7" in x]
    assert len(w) == 1 and w[0].startswith("facility.weather.mean_t: the outdoor dry bulb reaches 77.0 °C")
    assert "write '60 degF'" in w[0]
    assert not [x for x in _pre().warnings if "56.7" in x]  # the reference's Phoenix-like day peaks near 41 degC
    w = [x for x in _pre("facility.weather={kind: constant, t_db: 60, rh: 0.1}").warnings if "56.7" in x]
    assert len(w) == 1 and w[0].startswith("facility.weather.t_db:")


@pytest.mark.parametrize("override, field, words", [
    # an oversized plant's idle fans and pumps eat the contract: the slip is the capacity, not the interconnect
    ("facility.cooling.capacity=395 MW", "facility.cooling.capacity", "MW for kW"),
    # a plant rated below the idle heat: the capacity, not the power chain's ratings
    ("facility.cooling.capacity=395 W", "facility.cooling.capacity", "W for kW"),
    ("facility.power_chain.fixed_load=5 MW", "facility.power_chain.fixed_load", "MW for kW"),
    ("facility.power_chain.fixed_load=600 kW", "facility.power_chain.fixed_load", "lower fixed_load"),
    ("facility.interconnect=495 W", "facility.interconnect", "cannot power the fleet even idle"),
])
def test_unit_slip_blamed_on_the_field_that_slipped(override, field, words):
    with pytest.raises(ScenarioError) as e:
        _pre(override)
    errs = e.value.errors
    assert len(errs) == 1 and errs[0][0] == field and words in errs[0][1], errs
    assert "ups_rating" not in errs[0][1]


@pytest.mark.parametrize("value, hint", [
    ("495 W", " (a unit slip? did you mean 495 kW or 495 MW?)"),
    ("495 mW", " (a unit slip? did you mean 495 kW or 495 MW?)"),
    ("5 W", " (a unit slip? did you mean 5 MW?)"),  # 5 kW would not carry the 80.6 kW the idle fleet draws
    ("0.05 MW", "; raise facility.interconnect"),  # 50 kW: a contract sized short, not a slipped prefix
])
def test_an_interconnect_that_cannot_power_the_idle_fleet_names_the_unit_meant(value, hint):
    """`interconnect: 495 W` (meant kW or MW) was asked "a unit slip, mW for MW?", a unit it was not written in. The
    hint reads the number as written in the units a site is quoted in (kW, MW) that would carry the idle fleet's IT;
    a contract within UNIT_SLIP_FACTOR of it is sized short and gets no unit hint."""
    with pytest.raises(ScenarioError) as e:
        _pre(f"facility.interconnect={value}")
    msg = str(e.value)
    assert "facility.interconnect:" in msg and "cannot power the fleet even idle" in msg, msg
    assert msg.rstrip().endswith("no token could be served" + hint), msg
    assert "mW for MW" not in msg


def test_unit_slip_readings_are_the_number_as_written_in_another_site_unit_either_way():
    """One reading rule for a contract short of the idle fleet (read in larger units) and one so large its power
    chain's losses overwhelm the plant (read in smaller units, 495 MW for 495 kW): (number, unit) pairs, so no
    message parses the unit back out of its own text."""
    from dcsim.engine.preflight import unit_slip_readings

    idle_it = 80.57e3  # the reference hall's 320 H100s idle (its message says so)
    assert unit_slip_readings(495.0, idle_it) == [(495.0, "kW"), (495.0, "MW")]
    assert unit_slip_readings(0.495, idle_it) == [(495.0, "kW"), (495.0, "MW")]  # typed in mW
    assert unit_slip_readings(49.5, idle_it) == [(49.5, "MW")]  # 49.5 kW carries less than the idle fleet
    assert unit_slip_readings(2e3, 80e3) == [(2.0, "MW")]  # 2 kW: 2 MW, never 2 kW again
    assert unit_slip_readings(0.0, idle_it) == []
    full = 343.9e3  # the reference fleet at full load; 20x that is the most a contract is read as meant
    assert unit_slip_readings(495e6, idle_it, 20 * full) == [(495.0, "kW")]
    assert unit_slip_readings(495e9, idle_it, 20 * full) == [(495.0, "kW")]  # GW: kW still, MW is 14x too much
    assert unit_slip_readings(4.95e9, idle_it, 20 * full) == [(4.95, "MW")]  # 4.95 kW cannot carry the idle fleet


def test_an_oversized_contract_gives_the_plant_reason_the_cooling_refusal_gives():
    """The contract's refusal (495 MW for 495 kW) said the plant's shortfall in words of its own; it now names the
    contract and the slip, then the plant's reason in the words facility.cooling is refused with at 10 MW; at 495 MW
    the chain's no-load heat alone exceeds the plant, so it says no IT power can be cooled at all (it said "at most
    0 W" until 2026-12-05)."""
    with pytest.raises(ScenarioError) as big:
        _pre("facility.interconnect=495 MW")
    with pytest.raises(ScenarioError) as ten:
        _pre("facility.interconnect=10 MW")
    (f1, r1), = big.value.errors
    (f2, r2), = ten.value.errors
    assert (f1, f2) == ("facility.interconnect", "facility.cooling")
    assert r1.startswith("495 MW is 1.44e+03x the fleet's full-load IT power (343.9 kW) (a unit slip, MW for kW? "
                         "did you mean 495 kW?): the plant cannot reject even the idle fleet's heat (80.57 kW of idle "
                         "IT power): the power chain's heat at zero IT, 18.61 MW, already exceeds the most the plant "
                         "rejects during the run, 395 kW, so it can cool no IT power at all")
    assert r2.startswith("the plant cannot reject even the idle fleet's heat: 80.57 kW")
    assert "the UPS and transformer ratings follow the interconnect 495 MW" in r1


@pytest.mark.parametrize("rating, carries", [("60 kW", "20.44 kW"), ("400 W", "0 W")])
def test_a_transformer_below_the_idle_fleet_is_refused_naming_its_rating(rating, carries, capsys):
    """A given transformer_rating caps the facility budget (Facility.max_it_delivered_w), but preflight read the
    contract alone: reference.yaml with 60 kW validated and its run served no token; 400 W was blamed on
    facility.interconnect. The transformer carries the whole site, so 60 kW leaves 20.44 kW of IT for an idle fleet
    of 80.57 kW: refused naming the rating, exit 2."""
    from dcsim.cli import main
    with pytest.raises(ScenarioError) as e:
        _pre(f"facility.power_chain.transformer_rating={rating}")
    errs = e.value.errors
    assert len(errs) == 1 and errs[0][0] == "facility.power_chain.transformer_rating", errs
    assert f"carries at most {carries} of IT" in errs[0][1] and "80.57 kW" in errs[0][1], errs
    assert main(["validate", str(REF), "--set", f"facility.power_chain.transformer_rating={rating}"]) == 2
    out = capsys.readouterr()
    assert "facility.power_chain.transformer_rating:" in out.err + out.out


def test_a_transformer_below_the_contract_is_warned_to_bind_first_and_no_rating_changes_nothing():
    """400 kW on reference's 495 kW contract carries 287.2 kW of IT against the 354.8 kW the interconnect allows and
    the fleet's 343.9 kW full load: warned that delivered power binds at the transformer before the interconnect.
    A rating at the contract (the default it follows) is not warned."""
    w = [x for x in _pre("facility.power_chain.transformer_rating=400 kW").warnings if "transformer_rating" in x]
    assert len(w) == 1 and w[0].startswith("facility.power_chain.transformer_rating: the transformer (400 kW) "
                                           "is rated below the interconnect (495 kW) and carries at most 287.2 kW "
                                           "of IT"), w
    assert "binds at the transformer before the interconnect" in w[0]
    base = _pre().warnings
    assert not [x for x in base if "transformer_rating" in x]
    assert _pre("facility.power_chain.transformer_rating=495 kW").warnings == base


@pytest.mark.parametrize("rating, racks, tail", [
    ("480 kW", 10, "fits under it only at the milder hours of the run (328.8 kW of IT at the hottest)"),
    ("490 kW", 8, "fits under it at every hour of the run")])
def test_a_transformer_below_the_contract_is_warned_even_where_the_full_load_fits(rating, racks, tail):
    """A given rating below the contract limits the site (Facility.delivery_budget_w: the site never draws its
    contract), whether or not it binds at the fleet's full load: warned with the rating and the contract. Until
    2026-12-05 only a rating binding at full load at every hour was warned: 480 kW on reference's 495-kW contract,
    which binds at its hot hours, validated with no word."""
    w = [x for x in _pre(f"facility.power_chain.transformer_rating={rating}", f"racks.0.count={racks}").warnings
         if "transformer_rating" in x]
    assert len(w) == 1, w
    assert w[0].startswith(f"facility.power_chain.transformer_rating: the transformer ({rating}) is rated below the "
                           "interconnect (495 kW)"), w
    assert f"the site draws at most {rating}, never its contract" in w[0] and w[0].endswith(tail), w


def test_the_it_preflight_says_a_transformer_carries_is_the_runs_budget():
    """Preflight's IT under a given rating is the engine's (Facility.max_it_delivered_w over the run's weather, the
    one budget rule Facility.delivery_budget_w): 344.7 kW at the mildest hour for 480 kW on reference."""
    from dcsim.engine.preflight import _weather_samples
    pre = _pre("facility.power_chain.transformer_rating=480 kW")
    m = pre.models
    t_db, t_wb = _weather_samples(m, float(m.scenario.duration))
    it = np.asarray(m.facility.max_it_delivered_w(np.full(t_db.shape, 495e3), m.liquid_fraction, t_db, t_wb))
    (w,) = [x for x in pre.warnings if "transformer_rating" in x]
    assert f"carries at most {format_quantity(float(it.max()), 'power')} of IT" in w
    assert format_quantity(float(it.max()), "power") == "344.7 kW"


def test_policy_none_is_warned_against_a_transformer_the_fleet_fits_the_contract_but_not():
    """Policy none never caps, so the run draws through every series element the engine holds the other policies to
    (Facility.delivery_budget_w). 9 racks of reference draw at most 452.1 kW at the meter, within the 495-kW
    contract but over a 400-kW transformer: until 2026-12-05 the warning read the contract alone and said nothing.
    Warned now with both figures; with the default rating (it follows the contract) nothing changes."""
    w = [x for x in _pre("controller.policy=none", "racks.0.count=9",
                         "facility.power_chain.transformer_rating=400 kW").warnings if x.startswith("controller.policy")]
    assert len(w) == 1, w
    assert w[0].startswith("controller.policy none: nothing holds the facility to its transformer's rating 400 kW "
                           "(below its 495 kW interconnect, which it fits); at full load it draws up to 452.1 kW at "
                           "the meter"), w
    assert "delivery_exceeded_s" in w[0]
    assert not [x for x in _pre("controller.policy=none", "racks.0.count=9").warnings
                if x.startswith("controller.policy")]
    # over both: both named (10 racks draw 503.1 kW with the 400-kW transformer's losses)
    (w,) = [x for x in _pre("controller.policy=none", "facility.power_chain.transformer_rating=400 kW").warnings
            if x.startswith("controller.policy")]
    assert "to its interconnect 495 kW or its transformer's rating 400 kW;" in w and "503.1 kW" in w, w
    # a UPS rated below the full load's IT (300 kW carries 297 kW of 343.9 kW)
    (w,) = [x for x in _pre("controller.policy=none", "facility.power_chain.ups_rating=300 kW").warnings
            if x.startswith("controller.policy")]
    assert "its UPS rating 300 kW (297 kW of IT against the fleet's 343.9 kW at full load)" in w, w


def test_the_stranded_check_reads_the_delivery_chains_limit_not_the_contract(monkeypatch):
    """The stranded-GPU check compares the fleet's full load with what the delivery chain delivers to IT at the
    worst hour, Facility.max_it_delivered_w (the engine's ceiling: the contract, at most a given transformer rating,
    IT at most the UPS rating), and names the element and both figures; until 2026-12-05 it read the contract alone.
    At the shipped 20x ratio a transformer that strands the fleet is refused at idle first, so the ratio is lowered
    here: 343.9 kW is 1.26x the 273.8 kW a 400-kW transformer delivers, 1.02x the contract's 338.5 kW."""
    from dcsim.engine import preflight as P
    monkeypatch.setitem(P.LIMITS, "stranded_ratio", 1.1)
    strand = lambda *s: [x for x in _pre(*s).warnings if "stranded" in x]  # noqa: E731
    assert strand() == []
    (w,) = strand("facility.power_chain.transformer_rating=400 kW")
    assert w.startswith("facility.power_chain.transformer_rating: the fleet's full-load IT power 343.9 kW is 1.26x "
                        "what the transformer (400 kW, rated below the interconnect) can deliver to IT (273.8 kW), "
                        "where the 495 kW interconnect alone would deliver 338.5 kW; most of the 320 GPUs"), w
    (w,) = strand("facility.power_chain.ups_rating=300 kW")
    assert w.startswith("facility.power_chain.ups_rating: the fleet's full-load IT power 343.9 kW is 1.16x what the "
                        "UPS (300 kW) can deliver to IT (297 kW)"), w
    (w,) = strand("racks.0.count=11")  # the contract itself: named as before
    assert w.startswith("facility.interconnect 495 kW: the fleet's full-load IT power 378.3 kW is 1.12x what the "
                        "interconnect can deliver to IT (339 kW)"), w


def test_an_inline_gpu_on_the_default_server_is_warned():
    """MD1 7: an inline 900 W board with no server block runs on the DGX H100's 10.2 kW chassis, its host maximum
    derived as 1,542 W where the catalog's B200 server has 4,256 W: warned, naming server.server_max_w and the
    catalog GPU. Given its server_max_w (or as the catalog's B200, or at the default's 700 W) it is not."""
    import yaml

    from dcsim.node.catalog import gpu_catalog
    b = gpu_catalog()["B200"]
    board = {**b.model_dump(mode="json", exclude={"server", "name"}), "name": "my-900", "tdp_w": 900.0}

    def warns(gpu):
        raw = yaml.safe_load(REF.read_text())
        raw["racks"][0]["node"].update(gpu=gpu, tensor_parallel=2)
        raw["duration"] = "1 h"
        return [w for w in preflight(load_scenario(raw)).warnings if "runs on the default server" in w]

    (w,) = warns(board)
    assert w.startswith("racks[0].node.gpu.server:") and "1,542 W" in w and "server.server_max_w" in w
    assert "gpu: B200" in w
    assert not warns({**board, "server": {"server_max_w": 12000.0}})
    assert not warns("B200") and not warns({**board, "tdp_w": 700.0})
