"""Per-tick records → report: energies, J/token, PUE, binding shares and shifts."""

from dcsim.metrics.result import Result

__all__ = ["Result"]
