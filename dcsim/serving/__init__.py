"""Request-fidelity serving: the replica batching loop and streaming latency/SLO metrics."""

from dcsim.serving.replica import AdvanceResult, FinishedBatch, Replica, affine_pieces

__all__ = ["Replica", "AdvanceResult", "FinishedBatch", "affine_pieces"]
