"""Request-fidelity serving: the replica batching loop and streaming latency/SLO metrics."""

from dcsim.serving.replica import AdvanceResult, FinishedBatch, Replica

__all__ = ["Replica", "AdvanceResult", "FinishedBatch"]
