"""Psychrometrics and weather inputs: Stull check value, EPW and CSV readers, synthetic presets."""

import numpy as np
import pytest
from pydantic import ValidationError

from dcsim.scenario.facility import (
    ConstantWeatherSpec, CsvWeatherSpec, EpwWeatherSpec, FacilitySpec, SyntheticWeatherSpec,
)
from dcsim.thermal.psychro import (
    dew_point_c, relative_humidity, saturation_vapor_pressure_pa, wet_bulb_c, wet_bulb_from_dew_point_c,
    wet_bulb_stull_c,
)
from dcsim.thermal.weather import build_weather, read_epw


def test_stull_published_check_value():
    # Stull (2011), J. Appl. Meteor. Climatol. 50:2267: T = 20 degC, RH = 50 % -> Tw = 13.7 degC
    assert wet_bulb_stull_c(20.0, 0.5) == pytest.approx(13.7, abs=0.05)


def test_thermodynamic_wet_bulb():
    # psychrometric-chart value at sea level: 20 degC, 50 % RH -> 13.8 degC wet-bulb
    assert wet_bulb_c(20.0, 0.5) == pytest.approx(13.8, abs=0.1)
    assert wet_bulb_c(30.0, 1.0) == pytest.approx(30.0, abs=1e-6)  # saturated air
    t = np.linspace(-10, 45, 12)[:, None]
    rh = np.linspace(0.1, 0.95, 8)[None, :]
    tw = wet_bulb_c(t, rh)
    assert np.all(tw <= t + 1e-9) and np.all(tw >= dew_point_c(t, rh) - 1e-9)
    # agrees with Stull within its stated accuracy (−1 … +0.65 K) over its valid range
    assert np.max(np.abs(tw - wet_bulb_stull_c(t, rh))[t[:, 0] > -5]) < 1.0
    # lower pressure (altitude) -> lower wet-bulb at the same dew point
    assert wet_bulb_from_dew_point_c(30.0, 15.0, 80e3) < wet_bulb_from_dew_point_c(30.0, 15.0, 101325.0)


def test_dew_point_round_trip():
    t = np.array([-5.0, 10.0, 35.0])
    rh = np.array([0.3, 0.6, 0.9])
    np.testing.assert_allclose(relative_humidity(t, dew_point_c(t, rh)), rh, rtol=1e-9)
    assert saturation_vapor_pressure_pa(20.0) == pytest.approx(2339, rel=0.01)  # 2.339 kPa at 20 degC


def test_constant_weather():
    w = build_weather(ConstantWeatherSpec(t_db="30 degC", rh="40%"))
    db, wb = w.at(np.arange(5.0))
    assert db.shape == (5,) and np.all(db == 30.0)
    assert np.all(wb == pytest.approx(float(wet_bulb_c(30.0, 0.4))))
    w2 = build_weather(ConstantWeatherSpec(t_db=30, t_wb=22))
    assert w2.at(0.0)[1] == 22.0
    with pytest.raises(ValidationError):
        ConstantWeatherSpec(t_db=20, t_wb=25)


def test_synthetic_diurnal_and_seasonal_shape():
    spec = SyntheticWeatherSpec(mean_t=20, diurnal_amplitude=5, seasonal_amplitude=0, rh=0.5, peak_hour=15)
    w = build_weather(spec)
    t = np.arange(0, 86400, 60.0)
    db, wb = w.at(t)
    assert t[np.argmax(db)] == pytest.approx(15 * 3600)
    assert db.max() == pytest.approx(25.0) and db.min() == pytest.approx(15.0, abs=1e-3)
    assert db.mean() == pytest.approx(20.0, abs=1e-6)
    assert np.all(wb < db)
    # dew point is constant over the day, so wet-bulb rises with dry-bulb but less
    assert t[np.argmax(wb)] == pytest.approx(15 * 3600, abs=600)
    assert 0 < wb.max() - wb.min() < db.max() - db.min()
    # seasonal term: 180 days from the peak is colder
    s = SyntheticWeatherSpec(mean_t=10, diurnal_amplitude=0, seasonal_amplitude=8, rh=0.5, peak_day=200)
    db2, _ = build_weather(s, clock_s=199 * 86400.0).at(np.array([0.0, 182.5 * 86400]))  # t = 0: day 200
    assert db2[0] == pytest.approx(18.0) and db2[1] == pytest.approx(2.0, abs=1e-3)


def test_presets_ordering_and_overrides():
    t = np.arange(0, 86400, 600.0)
    mean = {p: build_weather(SyntheticWeatherSpec(preset=p)).at(t)[0].mean()
            for p in ("nordic", "temperate", "hot-dry", "hot-humid")}
    assert mean["nordic"] < mean["temperate"] < mean["hot-dry"]
    wb_dry = build_weather(SyntheticWeatherSpec(preset="hot-dry")).at(t)[1].mean()
    wb_humid = build_weather(SyntheticWeatherSpec(preset="hot-humid")).at(t)[1].mean()
    assert wb_humid > wb_dry
    hotter = build_weather(SyntheticWeatherSpec(preset="temperate", mean_t=30)).at(t)[0].mean()
    assert hotter > mean["temperate"] + 15
    with pytest.raises(ValidationError):
        SyntheticWeatherSpec(mean_t=20)  # no preset and missing fields


def test_with_offset_heat_wave_hook():
    w = build_weather(SyntheticWeatherSpec(preset="temperate"))
    t = np.arange(0, 86400, 3600.0)
    db, wb = w.at(t)
    db2, wb2 = w.with_offset(lambda tt: 6.0 * np.ones_like(tt)).at(t)
    np.testing.assert_allclose(db2 - db, 6.0)
    assert np.all(wb2 > wb) and np.all(wb2 - wb < 6.0)


def test_csv_reader_interpolates_hourly(tmp_path):
    p = tmp_path / "w.csv"
    p.write_text("hour,t_db,rh\n0,10,50\n1,20,50\n2,30,25\n")
    w = build_weather(CsvWeatherSpec(path="w.csv"), base_dir=tmp_path)
    db, wb = w.at(np.array([0.0, 1800.0, 3600.0, 5400.0, 99999.0]))
    np.testing.assert_allclose(db, [10, 15, 20, 25, 30])
    assert wb[0] == pytest.approx(float(wet_bulb_c(10.0, 0.5)))
    assert wb[1] == pytest.approx(0.5 * (wet_bulb_c(10.0, 0.5) + wet_bulb_c(20.0, 0.5)))
    # offset and wrap
    w2 = build_weather(CsvWeatherSpec(path=str(p), offset="1 h", wrap=True))
    assert w2.at(0.0)[0] == pytest.approx(20.0)
    assert w2.at(3 * 3600.0)[0] == pytest.approx(20.0)  # period 3 h
    # t_wb and t_dp columns
    q = tmp_path / "w2.csv"
    q.write_text("t_s,t_db,t_wb\n0,25,18\n3600,27,19\n")
    assert build_weather(CsvWeatherSpec(path=str(q))).at(1800.0)[1] == pytest.approx(18.5)
    r = tmp_path / "w3.csv"
    r.write_text("t_s,t_db,t_dp\n0,25,15\n3600,25,15\n")
    assert build_weather(CsvWeatherSpec(path=str(r))).at(0.0)[1] == pytest.approx(
        float(wet_bulb_from_dew_point_c(25.0, 15.0)))
    bad = tmp_path / "bad.csv"
    bad.write_text("hour,t_db\n0,10\n")
    with pytest.raises(ValueError, match="t_wb"):
        build_weather(CsvWeatherSpec(path=str(bad)))
    with pytest.raises(FileNotFoundError):
        build_weather(CsvWeatherSpec(path="missing.csv"), base_dir=tmp_path)


def _write_epw(path, rows):
    header = ["LOCATION,Testville,XX,XXX,TMY3,000000,40.0,-100.0,-6.0,100.0",
              "DESIGN CONDITIONS,0", "TYPICAL/EXTREME PERIODS,0", "GROUND TEMPERATURES,0",
              "HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0", "COMMENTS 1,written by dcsim tests",
              "COMMENTS 2,", "DATA PERIODS,1,1,Data,Sunday, 1/ 1,12/31"]
    lines = list(header)
    for (month, day, hour, tdb, tdp, rh, p) in rows:
        f = [1999, month, day, hour, 0, "?9?9?9?9E0?9?9?9?9?9?9?9?9?9?9?9?9?9?9?9*9*9?9?9?9",
             tdb, tdp, rh, p] + [0] * 25
        lines.append(",".join(str(x) for x in f))
    path.write_text("\n".join(lines) + "\n")


def test_epw_reader(tmp_path):
    rows = []
    for day in (1, 2):
        for hour in range(1, 25):
            tdb = 10.0 + hour * 0.5 + (day - 1)
            rows.append((7, day, hour, tdb, 5.0, 50, 95000))
    rows[5] = (7, 1, 6, 99.9, 5.0, 50, 95000)  # missing dry-bulb code
    p = tmp_path / "site.epw"
    _write_epw(p, rows)
    t, tdb, tdp, rh, pa, twb = read_epw(p)
    jul1 = (31 + 28 + 31 + 30 + 31 + 30) * 86400.0
    assert t[0] == pytest.approx(jul1 + 1800.0)  # hour 1 centred at 00:30
    assert tdb[5] == pytest.approx(0.5 * (tdb[4] + tdb[6]))  # missing value interpolated
    np.testing.assert_allclose(twb, wet_bulb_from_dew_point_c(tdb, 5.0, 95000.0))
    assert np.all(twb <= tdb) and np.all(pa == 95000)
    # clock at day 182 (1 July): t = 0 is midnight of July 1
    w = build_weather(EpwWeatherSpec(path=str(p), wrap=False), clock_s=181 * 86400.0)
    db, wb = w.at(np.array([1800.0, 3600.0, 86400.0 + 1800.0]))
    np.testing.assert_allclose(db[[0, 2]], [10.5, 11.5])
    assert db[1] == pytest.approx(0.5 * (10.5 + 11.0))
    assert wb[0] == pytest.approx(float(wet_bulb_from_dew_point_c(10.5, 5.0, 95000.0)))


def test_epw_and_csv_refuse_a_dry_bulb_above_the_world_record_alike(tmp_path):
    """One rule for both weather files: a dry bulb above the highest air temperature ever recorded (56.7 degC) is
    not measured weather. A CSV row was refused there while an EPW row passed up to the EPW data dictionary's 70 degC
    (a 60 degC afternoon ran). The record itself passes both, and the EPW's missing code (99.9) is still filled."""
    from dcsim.thermal.weather import T_RECORD_HIGH_C, WeatherError, read_weather_csv

    def epw(name, hot):
        rows = [(7, 1, h, 30.0 + h / 2, 5.0, 20, 95000) for h in range(1, 25)]
        rows[14] = (7, 1, 15, hot, 5.0, 20, 95000)
        path = tmp_path / name
        _write_epw(path, rows)
        return path

    def csv(name, hot):
        path = tmp_path / name
        path.write_text("hour,t_db,rh\n" + "".join(f"{h},{hot if h == 14 else 30.0 + h / 2},20\n" for h in range(24)))
        return path

    for hot in (60.0, 69.0):
        with pytest.raises(WeatherError, match=rf"hot{hot:g}\.epw:23: dry bulb \(field 7\) = {hot:g} degC is above "
                                               r"the highest air temperature ever recorded \(56\.7 degC.*1 of 24 rows"):
            read_epw(epw(f"hot{hot:g}.epw", hot))
        with pytest.raises(WeatherError, match=rf"t_db = {hot:g} degC is above the highest air temperature ever"):
            read_weather_csv(csv(f"hot{hot:g}.csv", hot))
    assert read_epw(epw("record.epw", T_RECORD_HIGH_C))[1].max() == T_RECORD_HIGH_C
    assert read_weather_csv(csv("record.csv", T_RECORD_HIGH_C))[1].max() == T_RECORD_HIGH_C
    assert read_epw(epw("missing.epw", 99.9))[1].max() < T_RECORD_HIGH_C  # the missing code, interpolated
    # a number near the code is not the code: refused, where until 2026-12-05 the checks took 99.8995 for the code
    # (np.isclose) and the filling did not (>= 99.9), and the run read a 99.9 degC afternoon
    with pytest.raises(WeatherError, match=r"near\.epw:23: dry bulb .*99\.8995"):
        read_epw(epw("near.epw", 99.8995))


def test_facility_spec_accepts_weather_kinds(tmp_path):
    spec = FacilitySpec.model_validate({"interconnect": "20 MW", "weather": {"kind": "synthetic", "preset": "hot-dry"}})
    assert spec.weather.kind == "synthetic"
    with pytest.raises(ValidationError):
        FacilitySpec.model_validate({"interconnect": "20 MW", "weather": {"kind": "rainy"}})


def test_old_start_day_key_names_the_new_start_key():
    with pytest.raises(ValueError, match="replaced by the top-level 'start:'"):
        SyntheticWeatherSpec(preset="temperate", start_day=15)
    with pytest.raises(ValueError, match="replaced by the top-level 'start:'"):
        EpwWeatherSpec(path="x.epw", start_day=15)


def test_synthetic_noise_seeded_reproducible_and_chunk_independent():
    spec = SyntheticWeatherSpec(preset="temperate", noise_std=2.0, noise_corr=0.9)
    t = np.arange(0, 30 * 86400, 1800.0)
    a = build_weather(spec, seed_seq=np.random.SeedSequence(7)).at(t)[0]
    b = build_weather(spec, seed_seq=np.random.SeedSequence(7))
    chunked = np.concatenate([b.at(t[:500])[0], b.at(t[500:])[0]])
    np.testing.assert_array_equal(a, chunked)
    c = build_weather(spec, seed_seq=np.random.SeedSequence(8)).at(t)[0]
    base = build_weather(SyntheticWeatherSpec(preset="temperate")).at(t)[0]
    assert not np.allclose(a, c)
    resid = a - base
    assert 1.0 < resid.std() < 3.0  # ≈ noise_std over a month of hourly AR(1)
    hourly = resid[::2]
    assert np.corrcoef(hourly[:-1], hourly[1:])[0, 1] > 0.7


def test_csv_dry_bulb_above_world_record_refused_as_likely_degF(tmp_path):
    """A mild day written in degF (52-68) read as degC would put the hall in 68 degC air: above the highest air
    temperature ever recorded (56.7 degC, Death Valley 1913, WMO) a CSV row is refused, naming the column and degF;
    the header may name the unit (t_db_degF) and the values are then converted."""
    from dcsim.thermal.weather import T_RECORD_HIGH_C, WeatherError, read_weather_csv

    rows = "".join(f"{h},{52 + 16 * h / 23:.1f},40\n" for h in range(24))
    p = tmp_path / "f.csv"
    p.write_text("hour,t_db,rh\n" + rows)
    with pytest.raises(WeatherError, match=r"f\.csv:\d+: t_db = .*56\.7.*degF.*t_db_degF"):
        read_weather_csv(p)
    q = tmp_path / "f2.csv"
    q.write_text("hour,t_db_degF,rh\n" + rows)
    _, t_db, _ = read_weather_csv(q)
    assert t_db.min() == pytest.approx((52 - 32) / 1.8) and t_db.max() == pytest.approx((68 - 32) / 1.8)
    r = tmp_path / "f3.csv"  # wet bulb in degF too, explicit degC dry bulb
    r.write_text("hour,t_db_degC,t_wb_degF\n0,30,68\n1,30,68\n")
    _, t_db, t_wb = read_weather_csv(r)
    assert t_db[0] == 30.0 and t_wb[0] == pytest.approx(20.0)
    ok = tmp_path / "hot.csv"  # the record itself is a possible reading
    ok.write_text(f"hour,t_db,rh\n0,{T_RECORD_HIGH_C},5\n1,50,5\n")
    assert read_weather_csv(ok)[1].max() == T_RECORD_HIGH_C


def test_csv_repeated_or_disagreeing_columns_refused(tmp_path):
    """No column is dropped without a word: a repeated column is refused (the reader kept the last), and two humidity
    columns are refused where their wet bulbs disagree by more than HUMIDITY_AGREE_K (t_wb was used, rh ignored)."""
    from dcsim.thermal.weather import WeatherError, read_weather_csv

    p = tmp_path / "dup.csv"
    p.write_text("hour,t_db,t_db,rh\n0,25,30,40\n1,25,30,40\n")
    with pytest.raises(WeatherError, match=r"dup\.csv:1: column 't_db' appears twice \(columns 2 and 3\)"):
        read_weather_csv(p)
    q = tmp_path / "both.csv"
    q.write_text("hour,t_db,t_wb,rh\n0,30,20,90\n1,30,20,90\n")
    with pytest.raises(WeatherError, match=r"both\.csv:2: columns 't_wb' and 'rh' .*8\.\d K apart"):
        read_weather_csv(q)
    wb = float(wet_bulb_c(30.0, 0.4))
    r = tmp_path / "agree.csv"  # consistent columns: the wet bulb column is used
    r.write_text(f"hour,t_db,t_wb,rh\n0,30,{wb + 0.3:.3f},40\n1,30,{wb + 0.3:.3f},40\n")
    assert read_weather_csv(r)[2][0] == pytest.approx(wb + 0.3, abs=1e-3)
    t = tmp_path / "three.csv"  # two are accepted and cross-checked; a third is refused, and the message says so
    t.write_text(f"hour,t_db,t_wb,rh,t_dp\n0,30,{wb:.3f},40,15\n")
    with pytest.raises(WeatherError, match=r"three\.csv:1: give at most two humidity columns .*not t_wb, rh, t_dp"):
        read_weather_csv(t)
