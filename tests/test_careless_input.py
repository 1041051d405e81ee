"""Careless input caught at the door (audit AUH, 2026-12-05): unit slips in SLO targets, prices and rack limits,
a price or carbon intensity written as a quantity, a milli-token rate read as millions, a 1000x contract blamed on
the cooling plant, and a Ctrl-C while a finished run is written."""

from __future__ import annotations

import pytest

from dcsim.metrics.fmt import fmt_si


# ------------------------------------------------------------------ AUH 8: counts below 1 print plainly
def test_a_token_rate_below_one_prints_plainly_not_with_a_milli_prefix():
    # a one-request trace over 2 h printed "6.11 mtok/s" beside "171 ktok/s": read as millions
    assert fmt_si(0.00611, "tok/s") == "0.00611 tok/s"
    assert fmt_si(0.5, "") == "0.5" and fmt_si(0.25, "tokens") == "0.25 tokens"
    assert fmt_si(-0.6672, "", 4) == "-0.6672"
    # physical units keep their milli and micro prefixes (mW never reads as MW)
    assert fmt_si(6e-4, "W") == "600 µW" and fmt_si(0.6, "J") == "600 mJ"
    # k and up unchanged
    assert fmt_si(1.71e5, "tok/s") == "171 ktok/s"


def test_compare_and_the_summary_share_the_one_rule():
    from dcsim.report.compare import _fmt_val

    assert _fmt_val(0.6672, "tok/s") == fmt_si(0.6672, "", 4) == "0.6672"
    assert _fmt_val(57330.0, "tok/s") == "57.33k"


# ------------------------------------------------------------------ AUH 7: a quantity is a constant series
@pytest.mark.parametrize("path,text,kind", [("price", "80 USD/MWh", "price"), ("carbon", "350 g/kWh", "carbon")])
def test_a_price_or_carbon_quantity_is_a_constant_series(path, text, kind):
    from dcsim.scenario import load_scenario
    from dcsim.units import parse_quantity

    sc = load_scenario("scenarios/reference.yaml", overrides={f"grid.{path}": text})
    spec = getattr(sc.grid, path)
    assert spec.kind == "constant"
    assert spec.value == pytest.approx(parse_quantity(text, kind))


def test_a_bare_number_price_is_still_refused_with_the_unit_to_write():
    from dcsim.scenario import ScenarioError, load_scenario

    for v in ("80", 80, {"kind": "constant", "value": "80"}):  # a quoted "80" passed as 80 USD/J (2.88e11 USD/MWh)
        with pytest.raises(ScenarioError) as e:
            load_scenario("scenarios/reference.yaml", overrides={"grid.price": v})
        assert "needs a unit" in str(e.value) and "PriceSeriesSpec" not in str(e.value)
    assert load_scenario("scenarios/reference.yaml", overrides={"grid.price": "0"}).grid.price.value == 0.0
