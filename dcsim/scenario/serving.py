"""Serving sub-spec: how requests are routed and batched at request fidelity.

Pure data (imports only :mod:`dcsim.units` via the base). Batch limits (``max_batch``,
``max_batched_tokens``) and the KV capacity belong to the node (:class:`~dcsim.scenario.node.NodeSpec`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dcsim.scenario.base import Spec
from dcsim.units import quantity


class ServingSpec(Spec):
    """Router, batching options and metric sampling for request-fidelity serving.

    * ``router``: ``round_robin``, ``least_outstanding`` (least outstanding tokens, i.e.
      join-shortest-queue in tokens) or ``power_aware`` (least outstanding among replicas with
      power headroom at least ``min_headroom_w``; default 0 W, an assumption).
    * ``chunked_prefill``: vLLM V1 schedules chunked prefill by default (vLLM docs, "Optimization
      and Tuning: chunked prefill"); ``false`` gives vLLM V0's prefill-first, prefill-only
      iterations.
    * ``preemption``: ``recompute`` (vLLM V1's only mode: evicted sequences redo their prefill).
      KV swapping to host memory is not modelled.
    * ``kv_watermark``: fraction of KV kept free at admission; 0.01 is vLLM V0's block-manager
      default (``watermark=0.01``); vLLM V1's KV cache manager has none.
    * ``latency_sample_size``: per-class reservoir of finished requests kept for latency CDFs
      (bounded memory; assumption).
    * ``backend``: ``kernel`` (default) runs request-level serving in the compiled kernel
      (numba, :mod:`dcsim.serving.kernel`); ``python`` runs the readable reference loop
      (:mod:`dcsim.serving.replica`). Both give the same results; ``kernel`` falls back to
      ``python`` with a warning where numba cannot be imported.
    * ``slo_estimate``: at fluid fidelity, estimate latency and SLO attainment by simulating the
      request engine's replicas at each operating point (docs/slo.md; ~2–4 s of a reference-day
      run). ``false`` skips it for sweeps and plans over physical limits (the run then takes
      ~0.1 s; goodput, SLO attainment and latency are null, said in the report's warnings).
    """

    router: Literal["round_robin", "least_outstanding", "power_aware"] = "least_outstanding"
    chunked_prefill: bool = True
    preemption: Literal["recompute"] = "recompute"
    kv_watermark: quantity("fraction", ge=0, lt=1) = Field(
        0.01, description="KV blocks kept free when admitting; source: vLLM V0 block manager watermark 0.01 "
            "(docs/serving.md); vLLM V1's KV cache manager has no watermark")
    min_headroom_w: quantity("power", ge=0) = 0.0
    latency_sample_size: int = Field(10_000, ge=1, le=10_000_000, description="finished requests kept per class "
                                     "for latency CDFs (assumption: a numerical setting, p99 from ~100 requests "
                                     "above it)")
    backend: Literal["kernel", "python"] = "kernel"
    slo_estimate: bool = True
