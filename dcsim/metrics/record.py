"""The typed report of a run: one dataclass per block of ``report.json``.

:class:`RunReport` is built once, in :func:`dcsim.engine.assemble.assemble_report`, from the run's
per-tick arrays; ``report.json``, the terminal summary, the HTML page and the plots render its
plain form (:meth:`RunReport.to_dict`). Keys are stable (docs/report.md): add, never rename.
Blocks that a run does not produce (``cost`` without a price, ``faults`` without faults, the
request-level ``serving`` figures in fluid fidelity) are ``None`` here and absent from the JSON.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Tokens", "Throughput", "JoulesPerToken", "PeakPower", "DeliveredPower", "UtilizationAdjustedOutput", "Binding",
    "TokensAccounting", "ControllerSummary", "Provenance", "Money", "Carbon", "RunReport",
    "plain", "non_finite_paths",
]

_OMIT = {"omit_none": True}


def plain(obj: Any) -> Any:
    """Dataclasses → dicts (``None`` blocks marked optional are dropped), tuples → lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            if v is None and f.metadata.get("omit_none"):
                continue
            out[f.metadata.get("key", f.name)] = plain(v)
        return out
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def non_finite_paths(obj: Any, path: str = "") -> list[str]:
    """Dotted paths of every NaN or infinite float in a plain report (for the invariant check)."""
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in non_finite_paths(v, f"{path}.{k}" if path else str(k))]
    if isinstance(obj, (list, tuple)):
        return [p for i, v in enumerate(obj) for p in non_finite_paths(v, f"{path}[{i}]")]
    if isinstance(obj, float) and not math.isfinite(obj):
        return [path]
    return []


_COOLING_KEYS = ("cooling", "heat")


def unlimited_cooling_to_null(obj, cooling: bool = False):
    """Set to None, in place, every +inf under a key naming cooling or heat (the ceilings, slacks and budgets of a
    plant with no capacity: unlimited, not a number); other values are left alone, so a non-finite figure anywhere
    else still fails the run's invariant check."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        here = cooling or (isinstance(k, str) and any(w in k for w in _COOLING_KEYS))
        if isinstance(v, float) and here and v == math.inf:
            obj[k] = None
        elif isinstance(v, (dict, list)):
            unlimited_cooling_to_null(v, here)


@dataclass
class Tokens:
    """Tokens over the run: ``input`` (prompt) and ``output`` (generated)."""

    input: float
    output: float


@dataclass
class Throughput:
    """Mean rates over the run, tokens/s; ``demand_output`` is what users asked for."""

    output: float
    input: float
    demand_output: float


@dataclass
class JoulesPerToken:
    """Energy per output token at GPU, IT and facility (IT × PUE) level, J/token
    (``None`` when no token was served: undefined, with a warning)."""

    gpu: float | None
    it: float | None
    facility: float | None


@dataclass
class PeakPower:
    """Largest per-tick power, W."""

    it: float
    facility: float
    gpu: float


@dataclass
class DeliveredPower:
    """``pue_adjusted_delivered_power_w``: θ·P_fac/PUE, the power that reaches IT, W (docs/report.md).

    ``available``: what the interconnect cap makes available to IT, θ·cap/PUE of each tick
    (``mean``, ``min``); ``used``: θ·P_fac/PUE of each tick averaged (= mean IT power);
    ``mean`` and ``peak``: the same per-tick series' mean and largest value; ``theta``: θ.
    """

    mean: float
    peak: float
    available: dict
    used: float
    theta: float


@dataclass
class UtilizationAdjustedOutput:
    """The position paper's utilization-adjusted output, decomposed (docs/report.md).

    ``ceiling_tok_s`` = mean of min(C, P, Q); ``utilization`` U = offered ÷ ceiling;
    ``phi_sys`` Φ_sys = served ÷ offered (served ÷ ceiling on ticks where work was waiting);
    ``product_tok_s`` = ceiling·U·Φ_sys = ``achieved_tok_s``; ``slo_output_tok_s``: output tokens/s
    that met their SLO (quality/service-conditioned output), ``slo_share`` of achieved (None when
    nothing was served).
    """

    ceiling_tok_s: float
    utilization: float
    phi_sys: float
    product_tok_s: float
    achieved_tok_s: float
    slo_output_tok_s: float
    slo_share: float | None


@dataclass
class Binding:
    """Binding-constraint time shares, shifts and slacks (``binding`` block)."""

    share: dict
    shifts: list
    n_shifts: int
    final: str | None
    most_common: str | None
    median_slack: dict
    most_common_tied: list = field(default_factory=list)
    #: where the binding limit is undetermined within the run's calibration band (None for an in-sample calibrated
    #: run; dcsim.engine.assemble.binding_within_band)
    within_band: dict | None = None
    #: where power or cooling is named binding within NEAR_TIE of compute's ceiling, per pool and kind
    #: (dcsim.engine.assemble.near_ties; the run's "binds by a hair" notes are rendered from it)
    near_tie: list = field(default_factory=list)
    #: where power or cooling holds the clock below full while every token asked for is served, per kind, with each
    #: pool's held clock and ticks (dcsim.engine.held.held_clock; the run's "holds the clock" notes are rendered
    #: from it)
    held_clock: list = field(default_factory=list)


@dataclass
class TokensAccounting:
    """Output tokens: arrived = served + waiting + shed (checked on every run). Outside that identity, the tokens of the
    requests a model's context window refused or cut, which never arrive (a trace's requests arriving in the run,
    dcsim.workload.context; 0 without a trace)."""

    arrived: float
    served: float
    waiting: float
    shed: float
    refused_context_in: float = 0.0   # prompt tokens of the requests refused (prompt >= the window)
    refused_context_out: float = 0.0  # output tokens those requests asked for
    cut_context_out: float = 0.0      # output tokens cut from the answers kept (at the window less the prompt)


@dataclass
class ControllerSummary:
    """What the controller did: actions logged, cap events, share of capped ticks, mean clock."""

    actions: int
    cap_events: int
    # of all ticks, those the controller capped (mode frontier or uniform_cap) with GPUs in service: dcsim.tpf.capped_ticks
    # of the run's columns (dcsim.metrics.summary.controller_figures)
    capped_share: float
    # effective: the lower of the controller's clock and the board's throttled clock, over the ticks with GPUs in
    # service (None: none)
    mean_clock: float | None
    mean_controller_clock: float | None = None  # the controller's DVFS clock level, in service (None: not recorded)
    hold_limit_s: float | None = None  # controller.hold_limit: work waiting longer is shed (caps the latency tail)
    out_of_service_share: float = 0.0  # of all ticks, those with no GPU in service (IT shed for temperature)


@dataclass
class Provenance:
    """Where the figures come from: code version, scenario hash, seed, profiles, catalog names."""

    dcsim_version: str
    scenario_hash: str
    seed: int
    calibration_profiles: list
    gpus: list
    models: list
    #: per rack group: ``group, status, profile, for, error_band_pct, levers, base_status, band_lower_bound``
    #: (dcsim.node's calibration record)
    calibration: list = field(default_factory=list)
    #: ``path=value`` overrides applied to the scenario file (``--set``, sweep points), in order
    overrides: list = field(default_factory=list)
    #: sha256 of dcsim's sources and shipped data (:func:`dcsim.metrics.provenance.code_hash`, the sweep cache's
    #: key too): ``dcsim_version`` stays 0.1.0 through every change; ``dcsim compare`` names runs of different code
    code_hash: str | None = None
    #: the serving backend that ran the replicas (request-level serving, the SLO estimate): ``kernel`` or
    #: ``python`` (serving.backend; ``kernel`` falls back to ``python`` where numba cannot be imported); None: not
    #: recorded (as ``code_hash``)
    serving_backend: str | None = None


@dataclass
class Money:
    """Energy cost of the run (``cost`` block)."""

    usd: float
    usd_per_mtok: float
    basis: str = "facility energy x economics.price"


@dataclass
class Carbon:
    """Grid emissions of the run (``carbon`` block)."""

    g: float
    g_per_mtok: float
    basis: str = "facility energy x economics.carbon_intensity"


@dataclass
class RunReport:
    """Everything ``report.json`` holds, typed. See docs/report.md for each key."""

    scenario: str
    seed: int
    fidelity: str
    duration_s: float
    partial: bool
    tick_s: float
    tokens: Tokens
    throughput_tok_s: Throughput
    energy_j: dict
    joules_per_output_token: JoulesPerToken
    pue: float | None
    peak_power_w: PeakPower
    pue_adjusted_delivered_power_w: DeliveredPower
    facility_power_w: dict
    utilization: float
    utilization_adjusted_output_tok_s: float
    utilization_adjusted_output: UtilizationAdjustedOutput
    joules_per_slo_output_token: JoulesPerToken
    binding: Binding
    binding_potential: dict
    tpf: dict
    policy: str
    gpus: int
    replicas: int
    interconnect_w: float
    interconnect_exceeded_s: float
    #: the largest excess of the meter over the cap in force, max(meter / cap - 1) over the ticks over, a fraction of
    #: that cap (0 when never over; the worst tick picked by that fraction, dcsim.engine.assemble): request
    #: and hybrid fidelity's per-tick scatter past the trim's margin, at most +0.1 % (docs/engine.md, "The contract at
    #: either fidelity")
    interconnect_max_excess_fraction: float | None  # None: the worst tick's cap in force was 0 W
    cooling_exceeded_s: float
    #: time the site drew through a power-chain element over its rating: the facility over a given
    #: ``power_chain.transformer_rating`` or IT over what the UPS rating carries (policy none; docs/report.md)
    delivery_exceeded_s: float
    tokens_accounting: TokensAccounting
    controller: ControllerSummary
    warnings: list
    provenance: Provenance
    goodput_tok_s: float | None = None
    #: with deferrable work: ``goodput_tok_s`` split into the requests scored by their latency SLOs and the
    #: deferred tokens served by their deadline (their sum is ``goodput_tok_s``; docs/grid.md)
    goodput_interactive_tok_s: float | None = field(default=None, metadata=_OMIT)
    goodput_deferred_tok_s: float | None = field(default=None, metadata=_OMIT)
    slo_attainment: float | None = None
    slo_note: str | None = field(default=None, metadata=_OMIT)
    #: request and hybrid fidelity: the serving engine's figures (latency_s, queue_delay_s,
    #: requests, serving, preemptions), merged at top level
    serving_figures: dict | None = field(default=None, metadata=_OMIT)
    cost: Money | None = field(default=None, metadata=_OMIT)
    carbon: Carbon | None = field(default=None, metadata=_OMIT)
    faults: list | None = field(default=None, metadata=_OMIT)
    #: the scenario's ``expect:`` checks (absent when it has none)
    expect: dict | None = field(default=None, metadata=_OMIT)
    #: the run's clock of day: ``start`` (ISO local date-time, when given), ``day_of_year``, ``hour``
    clock: dict | None = field(default=None, metadata=_OMIT)
    #: effects a planner would not expect, explained with figures (docs/facility.md)
    notes: list = field(default_factory=list)
    faults_baseline: dict | None = field(default=None, metadata=_OMIT)
    faults_total: dict | None = field(default=None, metadata=_OMIT)
    #: one entry per model pool (racks[].serves; the whole fleet as one pool without it): groups,
    #: classes, tokens, energy, J/token, FLOP/token, binding shares, ceilings, clock and cap
    pools: list | None = field(default=None, metadata=_OMIT)
    #: issue 18 (docs/grid.md, docs/thermal-dynamics.md): the utility side (meter energy, cost,
    #: carbon, curtailment requests), storage, thermal dynamics, deferrable work, the same run
    #: without its flexibility, and the annual aggregates of runs longer than a few days
    grid: dict | None = field(default=None, metadata=_OMIT)
    storage: dict | None = field(default=None, metadata=_OMIT)
    thermal: dict | None = field(default=None, metadata=_OMIT)
    deferrable: dict | None = field(default=None, metadata=_OMIT)
    flexibility: dict | None = field(default=None, metadata=_OMIT)
    annual: dict | None = field(default=None, metadata=_OMIT)
    #: what ``energy_j.cooling_tower`` holds: ``"cooling_tower"`` (tower fans) or ``"dry_cooler"`` (dry-cooler
    #: fans), from the plant's kind and ``heat_rejection`` (dcsim.thermal.facility.heat_rejection_kind); absent for
    #: the quick-study cooling modes
    heat_rejection: str | None = field(default=None, metadata=_OMIT)

    def to_dict(self) -> dict:
        """The plain ``report.json`` mapping (serving figures merged at top level)."""
        out = plain(self)
        out.update(out.pop("serving_figures", None) or {})
        return out
