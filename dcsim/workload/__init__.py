"""Request workload: arrival processes, request classes, token lengths and trace replay.

``build_workload(spec, seed_seq, base_dir) -> Workload``; see ``docs/workload.md``.
"""

from dcsim.workload.lengths import EmpiricalLength, FixedLength, LengthDist, LogNormalLength
from dcsim.workload.model import ArrivalBatch, RequestClass, Workload, build_workload
from dcsim.workload.presets import PRESETS
from dcsim.workload.trace import SHIPPED_TRACES, TraceData, TraceError, read_trace

__all__ = [
    "ArrivalBatch", "RequestClass", "Workload", "build_workload",
    "LengthDist", "LogNormalLength", "EmpiricalLength", "FixedLength",
    "PRESETS", "SHIPPED_TRACES", "TraceData", "TraceError", "read_trace",
]
