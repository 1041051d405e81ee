"""The result of a run: the report dict and the per-tick time series."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Result"]


@dataclass
class Result:
    """What :func:`dcsim.run` returns.

    Attributes:
        report: the ``report.json`` content (plain python types, SI units).
        timeseries: per controller tick, equal-length numpy arrays (see docs/report.md).
        latency_samples: class name → {"ttft_s", "tpot_s", "e2e_s"} bounded samples
            (request and hybrid fidelity; empty in fluid fidelity).
        slo: class name → {"ttft_s", "tpot_s"} targets.
        scenario: the validated :class:`dcsim.scenario.Scenario`.
    """

    report: dict
    timeseries: dict[str, np.ndarray]
    latency_samples: dict = field(default_factory=dict)
    slo: dict = field(default_factory=dict)
    scenario: object = None
    controller_log: list = field(default_factory=list)
    wall_time_s: float = 0.0

    @property
    def name(self) -> str:
        return self.report.get("scenario", "run")

    @property
    def binding(self) -> list[str]:
        """Binding constraint name per tick."""
        from dcsim.tpf import BINDING_NAMES

        return [BINDING_NAMES[int(c)] for c in self.timeseries["binding"]]

    def __repr__(self) -> str:
        r = self.report
        return (f"Result({r.get('scenario')!r}: {r['throughput_tok_s']['output']:.4g} tok/s, "
                f"{r['joules_per_output_token']['facility']:.4g} J/tok facility, PUE {r['pue']:.3f}, "
                f"binding share {r['binding']['share']})")
