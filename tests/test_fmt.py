"""Number formats (dcsim.metrics.fmt) read as a planner reads them: no exponent form."""

from dcsim.metrics.fmt import fmt_time


def test_latencies_of_a_thousand_seconds_and_more_print_without_an_exponent():
    # was "1e+03 s" and "1.74e+03 s" (the '.3g' format) in the TTFT/E2E lines of mixed-fleet
    assert fmt_time(1000.0) == "1,000 s"
    assert fmt_time(1738.2) == "1,740 s"  # three significant digits, as below 1,000 s
    assert fmt_time(999.6) == "1,000 s"  # '.3g' rounds it up to 1e+03
    assert fmt_time(86_400.0) == "86,400 s"
    assert fmt_time(123_456.0) == "123,000 s"


def test_latencies_below_a_thousand_seconds_keep_their_short_form():
    assert [fmt_time(x) for x in (600.0, 2.0, 1.0, 0.05, 0.0123, 2e-5)] == \
        ["600 s", "2 s", "1 s", "50 ms", "12.3 ms", "20 µs"]
    assert fmt_time(None) == "n/a" and fmt_time(True) == "n/a"
    assert "e+" not in fmt_time(3.2e7)


def test_unit_boundaries_round_before_choosing_the_unit():
    assert fmt_time(0.9996) == "1 s" and fmt_time(0.0009996) == "1 ms"  # were "1e+03 ms", "1e+03 µs"
    assert fmt_time(0.0) == "0 s"


def test_moments_print_in_the_scenario_local_clock():
    """A moment 7,195 s into chiller-trip (start 2026-07-15 11:00) printed "01:59:55": a planner read 2 a.m. on a
    hot afternoon. Moments print on the local clock: HH:MM in a run of a day or less, MM-DD HH:MM beyond (day N
    without a start date); without a clock, elapsed time that says so."""
    from dcsim.metrics.fmt import fmt_local_short, fmt_local_time, fmt_local_window

    trip = {"start": "2026-07-15T11:00:00", "day_of_year": 196, "hour": 11.0}
    assert fmt_local_short(7195.0, trip, 7200.0) == "12:59"
    assert fmt_local_short(7195.0, trip, 30 * 86400.0) == fmt_local_short(7195.0, trip) == "07-15 12:59"
    assert fmt_local_time(0.0, trip) == "2026-07-15 11:00"
    assert fmt_local_window(600.0, 3000.0, trip, 7200.0) == "11:10–11:50"
    assert fmt_local_window(600.0, 3000.0, trip) == "07-15 11:10–11:50"  # one day named once
    assert fmt_local_window(600.0, 90000.0, trip) == "07-15 11:10–07-16 12:00"
    year = {"start": "2025-01-01T00:00:00", "day_of_year": 1, "hour": 0.0}
    assert fmt_local_short(355 * 86400 + 14 * 3600 + 7 * 60 + 30, year, 8760 * 3600.0) == "12-22 14:07"
    undated = {"day_of_year": 196, "hour": 0.0}
    assert fmt_local_short(3600.0, undated, 86400.0) == "01:00"
    assert fmt_local_short(3600.0, undated, 2 * 86400.0) == "day 196 01:00"
    assert fmt_local_short(6530.0, None, 7200.0) == "01:48:50 from the start"
    assert fmt_local_window(6530.0, 6840.0, None) == "01:48:50–01:54:00 from the start"
    assert fmt_local_short(None, trip) == "n/a"


def test_a_temperature_reads_the_same_in_both_html_logs():
    """report.html's shift table printed the outdoor temperature to three significant digits ("41 °C", "9.87 °C")
    beside a controller log at one decimal ("41.0 °C"): both now use fmt_celsius, one decimal, as the terminal and
    plan answers print temperatures."""
    from dcsim.metrics.fmt import fmt_celsius
    from dcsim.report.html import _shift_table

    assert [fmt_celsius(x) for x in (41.04, 9.873, -3.25, 105.0)] == ["41.0 °C", "9.9 °C", "-3.2 °C", "105.0 °C"]
    assert fmt_celsius(None) == fmt_celsius(True) == fmt_celsius("hot") == "n/a"
    report = {"binding": {"shifts": [{"t_s": 60.0, "from": "demand", "to": "power", "t_out_c": 41.04},
                                     {"t_s": 120.0, "from": "power", "to": "demand"}]}}
    cells = _shift_table(report)
    assert "<td>41.0 °C</td>" in cells and "<td>n/a</td>" in cells


def test_close_ceilings_print_digits_enough_to_tell_them_apart():
    """reference's peak: C 226,177, P 224,256, Q 223,969 tok/s printed "226 k / 224 k / 224 k" at three figures, the
    binding pair (P and Q, 0.13 % apart) alike; ceilings within 1 % print with figures enough to differ, the rest keep
    three."""
    from dcsim.metrics.fmt import fmt_ceilings

    c, p, q = fmt_ceilings([226_177.3, 224_256.1, 223_969.5])
    assert p != q and c == "226.18 ktok/s" and p == "224.26 ktok/s" and q == "223.97 ktok/s"
    assert fmt_ceilings([226_177, 232_811, 242_769]) == ["226 ktok/s", "233 ktok/s", "243 ktok/s"]  # 2.9 % apart
    assert fmt_ceilings([226_177, 224_256, None]) == ["226 ktok/s", "224 ktok/s", "n/a"]  # 0.85 %: already apart
    assert fmt_ceilings([226_177, 226_177.0, 1e30])[0] == "226 ktok/s"  # equal ceilings: nothing to tell apart


def test_html_closed_form_row_tells_close_ceilings_apart():
    from dcsim.report.html import _summary

    mom = {"compute_tok_s": 226_177.3, "power_tok_s": 224_256.1, "cooling_tok_s": 223_969.5, "binding": "cooling",
           "operating_point": "the tick of highest offered demand", "t_s": 50_000.0}
    html = _summary({"tpf": {"moments": {"peak_demand": mom}}})
    assert "224.26 ktok/s / 223.97 ktok/s" in html


def test_ceilings_equal_but_for_rounding_print_alike_and_a_near_tie_prints_apart():
    """mixed-fleet's chat pool has P at its C, 1e-15 apart by rounding: fmt_ceilings widened the pair to 7 figures
    ("226.1767 k / 226.1767 k", alike still); now such a pair is no near tie to tell apart. ``dcsim tpf``'s token
    rates (tok_s_apart) print the reasoning pool's C 75,265.067 and P 75,265.057 apart, the chat pool's alike."""
    from dcsim.metrics.fmt import fmt_ceilings, tok_s_apart

    assert fmt_ceilings([226_176.6536695803, 226_176.6536695813]) == ["226 ktok/s", "226 ktok/s"]
    assert fmt_ceilings([75_265.0674699983, 75_265.0569944643]) == ["75.26507 ktok/s", "75.26506 ktok/s"]
    assert tok_s_apart(75_265.0674699983, 75_265.0569944643) == ["75,265.067", "75,265.057"]
    assert tok_s_apart(226_176.6536695803, 226_176.6536695813) == ["226,177", "226,177"]
    assert tok_s_apart(75_265.07, 75_015.12) == ["75,265", "75,015"]  # 0.33 %: apart already


def test_band_window_text_without_a_window_says_na():
    """``band_window_text(None)`` (a record without ``ratio_window``) raised TypeError iterating None; it now says
    "n/a" as for a window without a lower end, and a window reads as before."""
    from dcsim.metrics.fmt import band_window_text

    assert band_window_text(None) == "n/a"
    assert band_window_text([0.5, 1.2]) == "0.50-1.20x"
    assert band_window_text([0.5, None]) == "from 0.50x"


def test_share_weighted_says_whether_it_weighted():
    """The headline band's "by pool share" flag comes from the same reading as the figure (``_share_weighted``
    returns both): weighted by the pools' shares where every pool has a finite figure, else the widest, unweighted."""
    import math

    from dcsim.metrics.fmt import _share_weighted

    v, w = _share_weighted([0.1, 0.3], [3.0, 1.0])
    assert math.isclose(v, 0.15) and w is True
    assert _share_weighted([0.1, 0.3], [3.0, math.nan]) == (0.3, False)
    assert _share_weighted([0.2], [5.0]) == (0.2, False)


def test_html_pue_reads_three_decimals_like_the_terminal():
    """report.html's shift table printed a PUE of 1.440 as "1.44" beside "1.397" (four significant figures drop the
    trailing zero; reference run, shift at 12:08); both tables now print three decimals, as the terminal does."""
    from dcsim.report.html import _shift_table

    report = {"binding": {"shifts": [{"t_s": 60.0, "from": "demand", "to": "power", "pue": 1.44},
                                     {"t_s": 120.0, "from": "power", "to": "demand", "pue": 1.3972},
                                     {"t_s": 180.0, "from": "demand", "to": "power", "pue": None}]}}
    cells = _shift_table(report)
    assert "<td>1.440</td>" in cells and "<td>1.397</td>" in cells and "<td>n/a</td>" in cells
