"""Writing, showing and comparing run results: report.json, timeseries, plots, report.html,
the terminal summary and ``dcsim compare``.

``dcsim.report.compare.compare`` and ``dcsim.report.html.render_html`` live in their submodules
(they import matplotlib; this package does not until figures are written).
"""

from dcsim.report.serialize import report_json_bytes
from dcsim.report.summary import latency_stats, report_latency, summary_table
from dcsim.report.write import DEFAULT_FORMATS, TIMESERIES_COLUMNS, OutputExistsError, read_timeseries, write_outputs

__all__ = [
    "DEFAULT_FORMATS",
    "TIMESERIES_COLUMNS",
    "OutputExistsError",
    "latency_stats",
    "read_timeseries",
    "report_json_bytes",
    "report_latency",
    "summary_table",
    "write_outputs",
]

