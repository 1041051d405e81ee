"""Per-tick records → report: energies, binding shares and shifts, the typed report, formats, expect checks."""

from dcsim.metrics.record import RunReport
from dcsim.metrics.result import Result

__all__ = ["Result", "RunReport"]
