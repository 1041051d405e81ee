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
