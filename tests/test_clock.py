"""One clock of day: the top-level ``start:`` sets weather, arrivals and prices together."""

import numpy as np
import pytest

import dcsim
from conftest import small_scenario
from dcsim.engine.build import build_models
from dcsim.scenario import ScenarioError, load_scenario

DIURNAL = {"kind": "diurnal", "mean_rate": "200 req/s", "amplitude": 0.5, "peak_hour": 14}
SYN = {"kind": "synthetic", "preset": "hot-dry", "peak_hour": 15}


def _models(start=None, **over):
    raw = small_scenario(**{"workload.arrivals": DIURNAL, "facility.weather": SYN, "duration": "4 h", **over})
    if start is not None:
        raw["start"] = start
    return build_models(load_scenario(raw))


def test_start_sets_weather_and_arrivals_time_of_day():
    night, noon = _models(), _models("2026-07-15T13:00")
    t = np.array([0.0, 3600.0])
    # 13:00 + 1 h = the arrivals' 14:00 peak and near the weather's afternoon high
    assert noon.workload.rate(t[1:])[0] == pytest.approx(200 * 1.5)
    assert night.workload.rate(t[:1])[0] < noon.workload.rate(t[:1])[0]
    db_night, _ = night.facility.weather.at(t)
    db_noon, _ = noon.facility.weather.at(t)
    assert np.all(db_noon > db_night + 5)
    # the same local time gives the same weather and rate, whatever the route to it
    late = _models("2026-07-15T00:00")
    np.testing.assert_allclose(late.facility.weather.at(np.array([13 * 3600.0]))[0], db_noon[:1])
    np.testing.assert_allclose(late.workload.rate(np.array([13 * 3600.0])), noon.workload.rate(t[:1]))


def test_start_date_sets_the_season():
    jan, jul = _models("2026-01-15T12:00"), _models("2026-07-15T12:00")
    assert jan.facility.weather.at(0.0)[0] < jul.facility.weather.at(0.0)[0] - 10


def test_default_start_is_midnight_of_the_weathers_day():
    a, b = _models(), _models("2026-07-15T00:00")  # synthetic weather: 15 July (day 196)
    t = np.linspace(0, 86400, 50)
    np.testing.assert_array_equal(a.facility.weather.at(t)[0], b.facility.weather.at(t)[0])
    np.testing.assert_array_equal(a.workload.rate(t), b.workload.rate(t))


def test_price_profile_follows_the_clock():
    prof = [1.0] * 12 + [3.0] * 12
    over = {"economics": {"price": "100 USD/MWh", "price_profile": prof}, "duration": "1 h",
            "workload.arrivals": {"kind": "poisson", "rate": "100 req/s"},
            "facility.weather": {"kind": "constant", "t_db": 20}}
    morning = dcsim.run(dict(small_scenario(**over), start="2026-07-15T06:00"))
    evening = dcsim.run(dict(small_scenario(**over), start="2026-07-15T18:00"))
    e = morning.report["energy_j"]["facility"]
    assert evening.report["energy_j"]["facility"] == pytest.approx(e)
    assert morning.report["cost"]["usd"] == pytest.approx(e / 3.6e9 * 100.0)
    assert evening.report["cost"]["usd"] == pytest.approx(3 * morning.report["cost"]["usd"])


def test_old_start_hour_key_is_refused_naming_start():
    raw = small_scenario(**{"workload.arrivals": dict(DIURNAL, start_hour=13)})
    with pytest.raises(ScenarioError, match="start_hour.*top-level 'start:'"):
        load_scenario(raw)


def test_a_capped_tick_at_even_load_reports_its_own_effective_clock():
    """A capped tick whose budget holds even load at the top clock runs there (pools._capped_point); its effective
    clock under a board cap is the grid's at that level and load, not the frontier vertex's at its rate (the reference
    at a 450 W cap and 330 kW recorded a mean clock 0.544 under a controller clock 0.721; now 0.712)."""
    import numpy as np

    from conftest import small_scenario
    from dcsim.engine.build import build_models
    from dcsim.engine.loop import effective_clock
    from dcsim.engine.pools import pool_operating_point
    from dcsim.scenario import load_scenario

    m = build_models(load_scenario(small_scenario(duration="10 min", **{"racks.0.node.power_cap": "450 W"})))
    ec, cv, K = effective_clock(m), m.curves, m.clocks.size
    assert ec.throttles
    r = 0.5 * float(cv.rate_pq[K - 1, -1])
    u = float(np.interp(r, cv.rate_pq[K - 1], cv.u))
    budget = float(np.interp(u, cv.u, cv.it_pq[K - 1])) * 1.01  # even load at the top level fits the budget
    op = pool_operating_point(cv, m.clocks, "frontier", m.overhead_w, np.array([r]), np.array([1]),
                              np.array([K - 1]), np.array([1.0]), it_budget_w=np.array([budget]), ec=ec)
    assert op["clock"][0] == pytest.approx(m.clocks[-1])
    assert op["effective_clock"][0] == pytest.approx(min(m.clocks[-1], np.interp(u, cv.u, ec.grid_pq[K - 1])))
    assert op["effective_clock"][0] > np.interp(r, ec.frontier.rate, ec.vertex) + 1e-3  # what it recorded before
