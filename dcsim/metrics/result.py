"""The result of a run: the typed report, its plain ``report.json`` form and the per-tick time series."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dcsim.metrics.record import RunReport
from dcsim.tpf import BINDING_NAMES

__all__ = ["Result"]


@dataclass
class Result:
    """What :func:`dcsim.run` returns.

    Attributes:
        record: the typed report (:class:`~dcsim.metrics.record.RunReport`).
        report: its plain form, the ``report.json`` content (plain python types, SI units);
            call :meth:`refresh` after changing ``record``.
        timeseries: per controller tick, equal-length numpy arrays (see docs/report.md).
        latency_samples: class name → {"ttft_s", "tpot_s", "e2e_s"} bounded samples
            (request and hybrid fidelity; empty in fluid fidelity).
        slo: class name → {"ttft_s", "tpot_s"} targets.
        scenario: the validated :class:`dcsim.scenario.Scenario`.
        controller_log: the controller's actions (cap, uncap, restart after a thermal shed, shed) with time and
        reason.
        events: exogenous events the engine scheduled (fault window starts and ends).
    """

    record: RunReport
    timeseries: dict[str, np.ndarray]
    latency_samples: dict = field(default_factory=dict)
    slo: dict = field(default_factory=dict)
    scenario: object = None
    controller_log: list = field(default_factory=list)
    events: list = field(default_factory=list)
    wall_time_s: float = 0.0
    report: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.report = self.record.to_dict()

    def refresh(self) -> "Result":
        """Rebuild :attr:`report` from :attr:`record` (after the record was extended); returns self."""
        self.report = self.record.to_dict()
        return self

    @property
    def name(self) -> str:
        return self.record.scenario

    @property
    def binding(self) -> list[str]:
        """Binding constraint name per tick."""
        return [BINDING_NAMES[int(c)] for c in self.timeseries["binding"]]

    @property
    def caveats(self) -> list[str]:
        """What the numbers carry, as the CLI summary and the HTML put it first: a partial (interrupted) run, the
        node calibration (groups not fitted to their own measurements, with the expected error band; extrapolated;
        older serving stack) and the SLO figures' caveats (tail near the ceiling, known gaps). Empty when none."""
        from dcsim.metrics.fmt import calibration_caveats
        from dcsim.serving.slo_estimate import slo_caveats

        rep = self.report
        out = [w for w in rep.get("warnings") or [] if isinstance(w, str) and w.startswith("PARTIAL:")]
        return out + calibration_caveats((rep.get("provenance") or {}).get("calibration")) + slo_caveats(rep)

    def __repr__(self) -> str:
        r = self.record
        n = len(self.caveats)
        return (f"Result({r.scenario!r}{' PARTIAL' if r.partial else ''}: {r.throughput_tok_s.output:.4g} tok/s, "
                f"{r.joules_per_output_token.facility:.4g} J/tok facility, PUE {r.pue:.3f}, "
                f"binding share {r.binding.share}" + (f"; {n} caveat{'s' * (n > 1)}: see .caveats" if n else "") + ")")

