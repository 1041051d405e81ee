"""The ``annual`` block's label (terminal summary, report.html): a run shorter than a year is no year. A 4-day
reference run printed "Year   PUE 1.422 ... hours binding: demand 41.00 h ... power 13.84 h" for its 96 h (audit of
5c8e81e); it reads "Run (96 h)" now, in the terminal's row, report.html's table and report.html's figure titles."""

from dcsim.report.html import FIGURE_TITLES
from dcsim.report.summary import flex_rows

HOURS = {"demand": 41.0, "compute": 41.16, "power": 13.84}


def _row(annual: dict) -> tuple[str, str]:
    (row,) = [r for r in flex_rows({"annual": {"hours_binding": HOURS, "pue": {"annual": 1.422}, **annual}})
              if "hours binding" in r[1]]
    return row


def test_a_run_shorter_than_a_year_labels_its_annual_row_with_its_length():
    label, text = _row({"hours": 96.0})
    assert label == "Run (96 h)" and "PUE 1.422" in text and "power 13.84 h" in text
    assert _row({"hours": 95.5})[0] == "Run (95.5 h)"
    assert _row({"hours": 8759.75})[0] == "Run (8,759.75 h)"


def test_a_year_stays_a_year():
    from dcsim.report.summary import HOURS_PER_YEAR, annual_label

    assert HOURS_PER_YEAR == 8760.0
    assert _row({"hours": 8760.0})[0] == "Year"
    assert _row({})[0] == "Year"  # a block that does not say its hours (older report.json): as it was read
    assert annual_label({"hours": None}) == "Year"


def test_report_html_titles_the_annual_figures_with_the_runs_length():
    from dcsim.report.html import _figure_title

    short = {"annual": {"hours": 96.0}}
    assert _figure_title("binding_month_hour", short) == "The run (96 h): binding constraint by month and hour"
    assert _figure_title("pue_outdoor_year", short) == "The run (96 h): PUE against outdoor temperature"
    year = {"annual": {"hours": 8760.0}}
    for stem in ("binding_month_hour", "pue_outdoor_year", "grid_flex", "thermal"):
        assert _figure_title(stem, year) == FIGURE_TITLES[stem]
    assert _figure_title("thermal", short) == FIGURE_TITLES["thermal"]  # no annual figure: untouched
