"""The ``annual`` block's label (terminal summary, report.html): a run shorter than a year is no year. A 4-day
reference run printed "Year   PUE 1.422 ... hours binding: demand 41.00 h ... power 13.84 h" for its 96 h (audit of
5c8e81e); it reads "Run (96 h)" now, in the terminal's row, report.html's table, report.html's figure headings and
the annual figures' own titles and legends."""

import numpy as np

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
    from dcsim.report.summary import annual_label

    assert _row({"hours": 8760.0})[0] == "Year"
    assert _row({})[0] == "Year"  # a block that does not say its hours (older report.json): as it was read
    assert annual_label({"hours": None}) == "Year"


def test_report_html_titles_the_annual_figures_with_the_runs_length():
    from dcsim.report.html import _figure_title

    short = {"annual": {"hours": 96.0}}
    assert _figure_title("binding_month_hour", short) == "The run (96 h): binding constraint by month and hour"
    assert _figure_title("pue_outdoor_year", short) == "The run (96 h): PUE against outdoor temperature"
    year = {"annual": {"hours": 8760.0}}
    assert _figure_title("binding_month_hour", year) == "The year: binding constraint by month and hour"
    assert _figure_title("pue_outdoor_year", year) == "The year: PUE against outdoor temperature"
    for stem in ("grid_flex", "thermal"):  # no annual figure: untouched
        assert _figure_title(stem, year) == _figure_title(stem, short) == FIGURE_TITLES[stem]


def _annual(hours: float) -> dict:
    top = [[-1] * 24 for _ in range(12)]
    top[6] = [1] * 24
    share = {k: [[1.0 if k == "compute" and i == 6 else None for _ in range(24)] for i in range(12)]
             for k in ("demand", "compute", "power", "cooling")}
    return {"hours": hours, "start": "2026-07-15T00:00:00", "hours_binding": HOURS | {"cooling": 17.33},
            "binding": {"month_hour_binding": top, "month_hour_share": share},
            "pue": {"annual": 1.422, "by_month": [None] * 6 + [1.422] + [None] * 5},
            "t_out_c": {"mean_by_month": [None] * 6 + [33.0] + [None] * 5}}


def test_the_annual_figures_name_the_span_they_cover():
    """reference over 4 days: report.html's heading read "The run (96 h)" while the PNGs under it said "over the
    year" and "annual PUE 1.422". The figures' titles and legends name the run's span as the headings do."""
    from dcsim.plots.annual import binding_month_hour_plot, pue_outdoor_year_plot
    from datetime import datetime

    t = np.arange(0.0, 96 * 3600.0, 300.0)
    for hours, span, adj in ((96.0, "over the run (96 h)", "run (96 h) PUE 1.422"),
                             (8760.0, "over the year", "annual PUE 1.422")):
        a = _annual(hours)
        fig = pue_outdoor_year_plot(t, np.full(t.size, 1.42), np.full(t.size, 33.0),
                                    datetime.fromisoformat(a["start"]), summary=a)
        ax = fig.axes[0]
        assert span in ax.get_title()
        assert [x.get_text() for x in ax.get_legend().get_texts()] == [f"{adj} (energy-weighted)"]
        fig = binding_month_hour_plot(a)
        assert span in fig.axes[0].get_title() and fig.axes[1].get_title() == f"Hours\n{span}"
