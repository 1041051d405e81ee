"""The shipped typical-year files (dcsim/data/weather) read end to end through build_facility."""

from pathlib import Path

import numpy as np
import pytest

from dcsim.scenario.facility import FacilitySpec
from dcsim.thermal.facility import build_facility
from dcsim.thermal.weather import read_epw

WEATHER = Path(__file__).resolve().parents[1] / "dcsim" / "data" / "weather"
YEARS = {
    # file: (mean, min, max dry-bulb, max wet-bulb) as stated in dcsim/data/weather/README.md
    "USA_AZ_Phoenix-Sky.Harbor.Intl.AP.722780_TMY3.epw": (23.8, 2.2, 44.4, 25.0),
    "USA_VA_Richmond.Intl.AP.724010_TMY3.epw": (14.7, -17.8, 36.7, 27.5),
}


@pytest.mark.parametrize("name", sorted(YEARS))
def test_year_reads_through_build_facility(name):
    mean, lo, hi, wb_max = YEARS[name]
    t, tdb, _tdp, rh, _p, twb = read_epw(WEATHER / name)
    assert t.size == 8760 and np.all(np.diff(t) == 3600.0)
    assert tdb.mean() == pytest.approx(mean, abs=0.05) and tdb.min() == lo and tdb.max() == hi
    assert twb.max() == pytest.approx(wb_max, abs=0.05)
    assert np.all((rh >= 0) & (rh <= 1)) and np.all(twb <= tdb + 1e-9)
    fac = build_facility(FacilitySpec(interconnect="10 MW", weather={"kind": "epw", "path": str(WEATHER / name)}))
    ts = np.arange(0, 365 * 86400, 600.0)
    db, wb = fac.weather.at(ts)
    assert np.all(np.isfinite(db)) and np.all(wb <= db + 1e-9)
    b = fac.breakdown(np.full(ts.size, 7e6), 0.0, db, wb)
    assert np.all(b["facility"] > b["it"])
    # seasons: July is warmer than January in both (northern hemisphere)
    jan, jul = db[ts < 31 * 86400].mean(), db[(ts >= 181 * 86400) & (ts < 212 * 86400)].mean()
    assert jul > jan + 15


def test_the_two_climates_contrast():
    (_, phx_db, *_, phx_wb), (_, ric_db, *_, ric_wb) = (read_epw(WEATHER / n) for n in sorted(YEARS))
    assert phx_db.mean() > ric_db.mean() + 5       # hotter dry-bulb in the desert
    assert np.percentile(ric_wb, 99) > np.percentile(phx_wb, 99)  # but a more humid summer in Virginia
