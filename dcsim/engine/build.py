"""Build the component models of a scenario, each from its own sub-spec."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from dcsim.engine.tables import GroupLimits, JointFrontier, NodeTable, SupplyCurves, node_table, supply_curves
from dcsim.faults import FaultSchedule, build_faults
from dcsim.metrics.fmt import UNCALIBRATED, expected_error
from dcsim.node import build_node
from dcsim.node.catalog import UnknownCatalogName
from dcsim.node.catalog import model_max_context
from dcsim.node.model import (CLOCK_WARNING_LEAD, EXTRAPOLATION_FACTOR, at_workload, cap_assumption_text, cap_text,
                              context_beyond, context_extrapolation_factor, precision_warning)
from dcsim.node.power import tdp_wall_ratio, unused_gpus
from dcsim.power.rack import rack_cooling_limit_w, rack_liquid_fraction, rack_power_limit_w
from dcsim.scenario import Scenario, ScenarioError
from dcsim.serving.pool import fallback_warning
from dcsim.serving.slo_estimate import slo_estimate_skip_reason
from dcsim.streams import named_stream
from dcsim.thermal.facility import build_facility
from dcsim.workload import build_workload

__all__ = ["Group", "Pool", "Models", "build_models", "with_interconnect", "pool_layout"]


@dataclass
class Group:
    """One rack group: its node model, table and static limits."""

    name: str
    node: object
    table: NodeTable
    limits: GroupLimits
    liquid_fraction: float
    gpus: int
    gpu_name: str
    model_name: str
    profile: str | None
    #: its replicas' batch at full load is set by the KV cache at its pool's context (:func:`kv_batch_at_full_load`),
    #: not by ``max_batch`` nor the token budget: the long-output warning, and the fluid SLO estimate's door that
    #: releases per tick (``dcsim.serving.slo_estimate.estimate_for_run``); set once the pools are known
    kv_bound: bool = False

    @property
    def rack_full_load_w(self) -> float:
        """A rack's draw with every replica at full batch and full clock, rack overhead included (W): what its
        power and cooling limits are compared with (preflight, the rack-limit notes)."""
        return self.limits.replicas_per_rack * float(np.max(self.table.wall[-1])) + self.limits.rack_overhead_w


    @property
    def power_cap_ratio(self) -> float:
        """How far its node model's full-load power may understate the true draw at most: the wall power at the GPUs'
        TDP over that at the modelled full-load GPU draw (the table's largest, full clock;
        :func:`dcsim.node.power.tdp_wall_ratio`): the physical end of the calibration band's window of P/C
        (:func:`dcsim.tpf.band_ratio_window`)."""
        n = self.node
        return tdp_wall_ratio(n.gpu, n.gpus_per_replica, n.gpus_per_node, float(np.max(self.table.gpu[-1])))

@dataclass
class Pool:
    """A model pool: the rack groups that serve the same workload classes (``racks[].serves``).

    Without ``serves`` every group serves every class: one pool holding the whole fleet. Each
    pool has its own class mix (``share``: its fraction of the arrivals; ``mean_input`` /
    ``mean_output``: tokens per request of its classes), its own node tables (built at those
    means) and supply curves; the interconnect and the cooling plant are shared between pools
    (:class:`dcsim.engine.tables.JointFrontier`).
    """

    name: str
    groups: list[int]          # indices into Models.groups
    classes: list[int]         # indices into workload.classes
    share: float               # fraction of arrivals routed here (sum of its classes' shares)
    mean_input: float          # tokens per request served (its context window accepts), over its classes
    mean_output: float
    decode_context: float      # tokens a running sequence holds, residence-weighted (Workload.decode_context)
    prompt_scv: float          # squared coefficient of variation of its prompt lengths (Workload.prompt_scv)
    curves: SupplyCurves
    overhead_w: float          # rack overhead power of its racks, W
    gpus: int
    replicas: int
    #: expected output tokens served here per arrival of the workload: its classes' shares x the share of their
    #: requests the context window accepts x the mean answer served (= share x mean_output where none is refused;
    #: Workload.output_per_arrival for the whole mix)
    output_per_arrival: float


def pool_layout(sc: Scenario) -> list[tuple[list[int], list[int]]]:
    """(group indices, class indices) of each pool, in order of first appearance in ``racks``."""
    names = [c.name for c in sc.workload.classes]
    if all(g.serves is None for g in sc.racks):
        return [(list(range(len(sc.racks))), list(range(len(names))))]
    out: dict[frozenset, tuple[list[int], list[int]]] = {}
    for i, g in enumerate(sc.racks):
        key = frozenset(g.serves)
        out.setdefault(key, ([], sorted(names.index(c) for c in key)))[0].append(i)
    return list(out.values())


@dataclass
class Models:
    """Everything a run needs, built once: workload, facility, groups, supply curves."""

    scenario: Scenario
    workload: object
    facility: object
    groups: list[Group]
    curves: SupplyCurves
    clocks: np.ndarray
    seeds: dict = field(default_factory=dict)  # streams already drawn from, by name (see stream())
    #: the clock of day: seconds from 1 January 00:00 local time to t = 0 (scenario ``start:``)
    clock_s: float = 0.0
    faults: FaultSchedule | None = None  # exogenous event schedule (dcsim.faults), or None
    warnings: list = field(default_factory=list)  # modelling caveats worth reading, for the report
    #: model pools (racks[].serves); one pool of every group when classes are not routed
    pools: list[Pool] = field(default_factory=list)
    #: the context window each request class is held to (tokens, None: none; :func:`context_windows`)
    context_window: list = field(default_factory=list)
    #: (ThermalParams, DieGroups) of facility.thermal, as :func:`dcsim.engine.flex.die_ceiling_tok_s` reads them (built
    #: on first use; not an input: dataclasses.replace, as with_interconnect's new plant, starts without it)
    die_cache: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def stream(self, name: str) -> np.random.SeedSequence:
        """The random stream of component ``name`` (:func:`dcsim.streams.named_stream`): keyed by
        the name, so adding a component never changes another's draws."""
        return named_stream(self.scenario.seed, name)

    @property
    def multi_pool(self) -> bool:
        """Several model pools share the interconnect and the plant (``racks[].serves``)."""
        return len(self.pools) > 1

    def pool_demand_tok_s(self, demand_tok_s: np.ndarray) -> np.ndarray:
        """(ticks, pools) output tokens/s offered to each pool, from the facility demand: the output tokens its classes
        bring per arrival (share × the share their context window accepts × their mean answer served,
        :attr:`Pool.output_per_arrival`) over the mixture's (exact expected split for analytic arrivals; for a trace,
        classes are drawn by share)."""
        d = np.asarray(demand_tok_s, dtype=float)
        if not self.multi_pool:
            return d[:, None]
        w = np.array([p.output_per_arrival for p in self.pools]) / self.workload.output_per_arrival
        return d[:, None] * w[None, :]

    def joint(self, which: str = "pq"):
        """The pools' joint efficient frontier for rack limits ``which`` (cached)."""
        cache = self.__dict__.setdefault("_joint", {})
        if which not in cache:
            cache[which] = JointFrontier([p.curves.frontier(which) for p in self.pools],
                                         [p.overhead_w for p in self.pools],
                                         [p.curves.rack_limited(which) for p in self.pools])
        return cache[which]

    def demand_tok_s(self, t_start_s, dt_s: float) -> np.ndarray:
        """Output tokens/s offered during the ticks starting at ``t_start_s`` (length ``dt_s``).

        The one place demand is computed (the engine's ticks and the closed form's moments):
        the workload's own per-window figure — the arrival rate at mid-tick × the mean output
        tokens per request for analytic processes, the trace's exact tokens in each window for a
        replay (so a fluid replay conserves tokens at any tick length, issue 17.4).
        """
        return self.workload.demand_tok_s(np.asarray(t_start_s, dtype=float), dt_s)

    @property
    def start_hour(self) -> float:
        """Local hour of the day at t = 0."""
        return (self.clock_s % 86400.0) / 3600.0

    @property
    def gpus(self) -> int:
        return sum(g.gpus for g in self.groups)

    @property
    def replicas(self) -> int:
        return sum(g.limits.replicas for g in self.groups)

    @property
    def overhead_w(self) -> float:
        """Rack overhead power (switches, management) of all racks, W."""
        return float(sum(g.limits.racks * g.limits.rack_overhead_w for g in self.groups))

    @property
    def liquid_fraction(self) -> float:
        """Share of IT heat captured by liquid, weighted by each group's peak IT power."""
        w = np.array([g.limits.replicas * g.table.wall[-1, -1] for g in self.groups])
        lf = np.array([g.liquid_fraction for g in self.groups])
        return float((w * lf).sum() / w.sum()) if w.sum() > 0 else 0.0


#: how the rack-group warnings built here whose caveat the HTML's first screen shows as a banner go on after
#: "racks[i] (name): " (uncalibrated, levers modelled, an extrapolated batch or context, an older serving stack, a
#: node.profile measured for another setup, which its caveat names, and the EXTRAPOLATED CLOCK caveat's
#: throttling below the measured clock range, dcsim.engine.assemble.clock_warning); the report's warnings box leaves
#: them out (dcsim.report.html). Until 2026-12-05 the clock one was missing: report.html printed it twice, in its
#: banner and again in the box (audit AUF item 2).
BANNERED_WARNINGS = ("no calibrated profile", "levers ", "at full load a replica runs a batch", "the profile for ",
                     "its pool's requests run beyond the lengths", "node.profile ",
                     CLOCK_WARNING_LEAD)


def _calibration_warning(i: int, g: Group) -> str:
    """The run's warning for a rack group whose figures its profile's measurements do not cover (its band printed
    ``≥±`` when it is a lower bound, :func:`dcsim.metrics.fmt.expected_error`)."""
    c = g.node.calibration
    if c["in_range_status"] == "lever-modelled":
        return (f"racks[{i}] ({g.name}): levers {', '.join(c['levers'])} are modelled, not measured, for "
                f"{c['for']}; using {g.profile} ({c['in_range_status']}: {c['meaning']}; {expected_error(c)})")
    return (f"racks[{i}] ({g.name}): no calibrated profile for {c['for']}; using {g.profile} ({c['in_range_status']}: "
            f"{c['meaning']}; {expected_error(c)})")


def _cap_warning(i: int, g: Group) -> str:
    """The run's warning for a rack group whose board limit is below the lowest power cap measured on its GPU
    (:func:`dcsim.node.model.at_workload`: ``cap_extrapolated``)."""
    c = g.node.calibration
    return f"racks[{i}] ({g.name}): {cap_text(c)}: its throttled figures are extrapolated, {cap_assumption_text(c)}"


def _context_warning(i: int, g: Group) -> str:
    """The run's warning for a rack group whose pool runs beyond the lengths its profile was measured at
    (:func:`dcsim.node.model.context_beyond`)."""
    c = g.node.calibration
    over = " and ".join(f"{what} {v:,.0f} tokens, {v / m:.1f}x the longest measured ({m:,.0f})"
                        for what, v, m in context_beyond(c, c["mean_input"], c["decode_context"]))
    return (f"racks[{i}] ({g.name}): its pool's requests run beyond the lengths its profile ({g.profile}) was measured "
            f"at: {over}; past {context_extrapolation_factor():.1f}x (the least ratio at which a measured carry to "
            f"longer contexts left its band) its figures are extrapolated: {expected_error(c)}, the misses of "
            f"chat-fitted profiles at ML.ENERGY's GPQA lengths (docs/validation.md H-*-gpqa-*; docs/node.md, "
            f"Extrapolated context)")


#: the tables' non-decreasing power may lift the node model's GPU power by this much before the run says so (the
#: audit of node physics: B200 Qwen3-235B TP8 at max_batch 4096, +10.6 % at batch 1,553; the reference hall's
#: largest lift is +1.1 %, at the lowest clock; assumption: 2 % is below every calibrated band)
TABLE_LIFT_WARN = 0.02


def context_windows(sc: Scenario) -> tuple[list[int | None], list[str]]:
    """The context window each request class is held to, tokens, and whose it is: the smallest window of the rack
    groups of the pool serving the class (``racks[].serves``; one pool of every group without it), each group's
    ``node.max_model_len`` where set, else its model's ``max_context`` (:func:`dcsim.node.catalog.model_max_context`;
    a model with none sets none). A ``max_model_len`` above the model's window is a :class:`ScenarioError` naming the
    field, as vLLM refuses it."""
    names = [c.name for c in sc.workload.classes]
    wins: list[int | None] = [None] * len(names)
    whos = [""] * len(names)
    for gis, cis in pool_layout(sc):
        best, who = None, ""
        for i in gis:
            gs = sc.racks[i]
            try:
                w = model_max_context(gs.node.model)
            except (ValueError, KeyError):  # an unknown model: build_node names it
                continue
            name = gs.node.model if isinstance(gs.node.model, str) else gs.node.model.name
            own = gs.node.max_model_len
            if own is not None:
                if w is not None and own > w:
                    raise ScenarioError(sc.name, [(
                        f"racks[{i}].node.max_model_len",
                        f"{own:,} tokens is above the context window of {name}, {w:,} tokens (its max_context, "
                        "config.json max_position_embeddings): vLLM refuses it (\"User-specified max_model_len is "
                        "greater than the derived max_model_len\"); set it at most " f"{w:,}, or leave it out")])
                w, name = own, f"{name} at max_model_len {own:,}"
            if w is not None and (best is None or w < best):
                best, who = w, f"{name} (racks[{i}], {gs.name})"
        for c in cis:
            wins[c], whos[c] = best, who
    return wins, whos


def build_models(sc: Scenario, classes: list | None = None) -> Models:
    """Build workload, facility and node groups; random streams spawned per component from the seed. ``classes``: the
    request classes another build of the same workload and racks resolved (its ``workload.classes``), taken as they
    are (their context windows' moments not summed again: :func:`~dcsim.workload.build_workload`)."""
    s_workload, s_facility, s_serving, s_faults = (named_stream(sc.seed, k) for k in
                                                   ("workload", "facility", "serving", "faults"))
    day, sec = sc.clock()
    clock_s = (day - 1) * 86400.0 + sec
    windows, window_of = context_windows(sc)
    workload = build_workload(sc.workload, s_workload, sc.base_dir, start_hour=sec / 3600.0, max_context=windows,
                              context_of=window_of, classes=classes)
    facility = build_facility(sc.facility, sc.base_dir, s_facility, clock_s)
    clocks = None
    groups: list[Group] = []
    layout = pool_layout(sc)
    pool_of = {gi: pi for pi, (gis, _) in enumerate(layout) for gi in gis}
    # (share, mean input, mean output, residence-weighted context, prompt SCV, output per arrival) of each pool's
    # classes: the means of the requests served, each class weighed by its share x the share its window accepts
    means = []
    for _, cis in layout:
        m_in, m_out, per_arrival = workload.served_means(cis)
        means.append((float(sum(workload.classes[c].share for c in cis)), m_in, m_out, workload.decode_context(cis),
                      workload.prompt_scv(cis), per_arrival))
    for gi, gs in enumerate(sc.racks):
        try:
            node = build_node(gs.node, sc.base_dir)
        except (ValueError, KeyError, OSError) as e:  # e.g. the model does not fit the GPUs
            # a catalog name the catalog does not hold names its field (racks[0].node.gpu), not the whole node
            field = f"racks[{gi}].node" + (f".{e.field}" if isinstance(e, UnknownCatalogName) else "")
            raise ScenarioError(sc.name, [(field, str(e).strip("'\""))]) from None
        if clocks is None:
            clocks = np.linspace(max(node.clock_min, 0.3), 1.0, sc.controller.clock_levels)
        _, m_in, m_out, dctx, scv, _ = means[pool_of[gi]]
        node = node.for_context(dctx)  # sliding-window layers keep only their window of KV (every fidelity)
        # the batch a replica reaches at full load and the pool's lengths, against the ranges its profile was
        # measured at
        full = float(node.batch_limit(m_in, m_out, dctx))
        node = dataclasses.replace(node, calibration=at_workload(node.calibration, full, m_in, dctx, node.limit_w,
                                                                 node.gpu.tdp_w))
        table = node_table(node, m_in, m_out, clocks, power_cap_w=gs.node.power_cap, decode_ctx=dctx, prompt_scv=scv)
        reps_per_rack = gs.nodes_per_rack * node.replicas_per_node
        limits = GroupLimits(
            replicas=gs.count * reps_per_rack,
            replicas_per_rack=reps_per_rack,
            racks=gs.count,
            rack_overhead_w=float(gs.power.overhead),
            rack_power_limit_w=float(rack_power_limit_w(gs.power.power_limit, gs.power.derate)),
            rack_cooling_limit_w=float(rack_cooling_limit_w(gs.cooling.kind, gs.cooling.limit)),
        )
        groups.append(Group(
            name=gs.name, node=node, table=table, limits=limits,
            liquid_fraction=rack_liquid_fraction(gs.cooling.kind, gs.cooling.liquid_fraction),
            gpus=gs.count * gs.nodes_per_rack * node.gpus_per_node,
            gpu_name=node.gpu.name,
            model_name=node.model.name,
            profile=str(node.profile.get("name")),
        ))
    curves = supply_curves([g.table for g in groups], [g.limits for g in groups])
    pools = []
    for (gis, cis), (sh, m_in, m_out, dctx, scv, per_arrival) in zip(layout, means):
        gg = [groups[i] for i in gis]
        pools.append(Pool(
            name="+".join(g.name for g in gg), groups=gis, classes=cis, share=sh, mean_input=m_in, mean_output=m_out,
            decode_context=dctx, prompt_scv=scv,
            curves=curves if len(layout) == 1 else supply_curves([g.table for g in gg], [g.limits for g in gg]),
            overhead_w=float(sum(g.limits.racks * g.limits.rack_overhead_w for g in gg)),
            gpus=sum(g.gpus for g in gg), replicas=sum(g.limits.replicas for g in gg),
            output_per_arrival=per_arrival))
        for g in gg:
            g.kv_bound = kv_batch_at_full_load(g.node, pools[-1]) is not None
    warnings = [_calibration_warning(i, g) for i, g in enumerate(groups)
                if g.node.calibration["in_range_status"] in UNCALIBRATED
                and g.node.calibration["in_range_status"] != "user-profile"]
    warnings += workload.context_warnings  # requests refused or cut by the model's context window
    warnings += [_context_warning(i, g) for i, g in enumerate(groups) if g.node.calibration["context_extrapolated"]]
    warnings += [f"racks[{i}] ({g.name}): {w}" for i, g in enumerate(groups) if (w := precision_warning(g.node))]
    warnings += [f"racks[{i}] ({g.name}): at full load a replica runs a batch of {g.node.calibration['batch_limit']:,.0f}, "
                 f"more than {EXTRAPOLATION_FACTOR:g}x the largest its profile ({g.profile}) was measured at "
                 f"({g.node.calibration['measured_batch_max']:,.0f}): its figures there are extrapolated, with no error "
                 f"band measured (docs/node.md, Calibration); lower racks[{i}].node.max_batch to stay in range"
                 for i, g in enumerate(groups) if g.node.calibration.get("extrapolated")]
    warnings += [_cap_warning(i, g) for i, g in enumerate(groups) if g.node.calibration.get("cap_extrapolated")]
    warnings += [f"racks[{i}] ({g.name}): node.profile {g.profile} was fitted to {g.node.calibration['profile_measured_for']}, "
                 f"not {g.node.calibration['for']} (its {', '.join(g.node.calibration['profile_mismatch'])} "
                 f"differ{'s' if len(g.node.calibration['profile_mismatch']) == 1 else ''}): "
                 f"its parameters describe that setup"
                 for i, g in enumerate(groups) if g.node.calibration.get("profile_mismatch")]
    warnings += [f"racks[{i}] ({g.name}): the node model's GPU power falls past its peak in batch, and the "
                 f"{sc.fidelity}-fidelity tables hold it at the peak (they need it non-decreasing): up to "
                 f"+{100 * g.table.gpu_lift[0]:.1f} % GPU power at batch {g.table.gpu_lift[1]:,.0f} (clock "
                 f"{g.table.gpu_lift[2]:.2f}); request fidelity charges the model's own (docs/engine.md, Tables)"
                 for i, g in enumerate(groups) if sc.fidelity != "request" and g.table.gpu_lift[0] > TABLE_LIFT_WARN]
    warnings += [f"racks[{i}] ({g.name}): tensor_parallel {g.node.gpus_per_replica} leaves {unused} of the "
                 f"{g.node.gpus_per_node} GPUs of each server unused (powered, idle at {g.node.gpu.idle_w:g} W each, "
                 f"counted in the racks' power)"
                 for i, g in enumerate(groups)
                 if (unused := unused_gpus(g.node.gpus_per_replica, g.node.gpus_per_node))]
    warnings += [f"racks[{i}] ({g.name}): the profile for {g.node.calibration['for']} was measured on "
                 f"{g.node.calibration['serving_stack']}: {g.node.calibration['stack_note']}"
                 for i, g in enumerate(groups) if g.node.calibration["stack_current"] is False]
    # numba cannot be imported: said once, as a run warning (the pools are built with make_pool(warn=False)), where
    # the run simulates replicas: request and hybrid fidelity, and the SLO estimate of a fluid run (made unless
    # dcsim.serving.slo_estimate.slo_estimate_skip_reason gives a reason)
    if sc.fidelity != "fluid" or slo_estimate_skip_reason(sc) is None:
        warnings += [w for w in (fallback_warning(sc.serving.backend),) if w]
    if sc.fidelity != "request":
        for pool in filter(long_output, pools):
            for gi in pool.groups:
                kv_batch = kv_batch_at_full_load(groups[gi].node, pool)
                if kv_batch is not None:
                    warnings.append(_long_output_warning(gi, groups[gi], pool, kv_batch))
    faults = None
    if sc.faults:
        try:
            faults = build_faults(sc.faults, s_faults, {g.name: g.limits.replicas for g in groups},
                                  float(sc.duration), interconnect_w=float(facility.interconnect_w))
        except ValueError as e:  # messages start with the field path, e.g. "faults[1].group: ..."
            path, _, reason = str(e).partition(": ")
            raise ScenarioError(sc.name, [(path, reason or str(e))]) from None
    return Models(sc, workload, facility, groups, curves, clocks,
                  seeds={"serving": s_serving, "faults": s_faults}, clock_s=clock_s, warnings=warnings, faults=faults,
                  pools=pools, context_window=windows)


#: measured band of the tokens/s request fidelity serves below the node tables in steady state where a rack group's
#: running sequences hold mostly generated tokens and its replicas are KV-bound, so they preempt by recompute
#: (docs/engine.md "Long outputs"; measured 2026-12-03 with the median-ITL profiles): 8 H100 replicas of Llama-3.1-70B on
#: the reasoning preset, compute binding, -4.4 % (last 90 min of 3 h) and -5.0 % (last 3 h of 6 h, 3.65 preemptions per
#: completed request); mixed-fleet's reasoning pool, power binding, -6.1 % (12:00-18:00 of a run from 06:00). Not KV-bound
#: (max_batch 64) the same hall reads -0.4 %. (Before the median-ITL fit: -4.9, -5.0 and -8.5 %: the band was 5-9 %.)
LONG_OUTPUT_GAP_PCT = (4, 6)


def long_output(pool: Pool) -> bool:
    """True where most of the KV a running sequence holds is generated tokens (the residence-weighted context less
    the prompt exceeds the prompt): its batches grow every step."""
    return pool.decode_context - pool.mean_input > pool.mean_input


def kv_batch_at_full_load(node, pool: Pool) -> float | None:
    """The batch a replica's KV cache holds at the pool's context where that, not ``max_batch`` nor the per-step token
    budget, sets its batch at full load; None otherwise."""
    kv_batch = node.kv_capacity_tokens / pool.decode_context
    full = float(node.batch_limit(pool.mean_input, pool.mean_output, pool.decode_context))
    return kv_batch if kv_batch <= full * (1.0 + 1e-9) else None


def _long_output_warning(i: int, g, pool: Pool, kv_batch: float) -> str:
    lo, hi = LONG_OUTPUT_GAP_PCT
    return (f"racks[{i}] ({g.name}): most of the KV its running sequences hold is generated tokens "
            f"({pool.decode_context:,.0f} tokens per sequence, its prompt {pool.mean_input:,.0f}) and at full load its "
            f"replicas are KV-bound ({kv_batch:,.0f} sequences of max_batch {g.node.max_batch}), so they preempt by "
            f"recompute as vLLM does, which the node tables do not model: its tokens/s at full load is an upper bound; "
            f"request fidelity served {lo}-{hi} % less in steady state in the cases measured, more over runs shorter "
            f"than a few hours (docs/engine.md, Long outputs); confirm with --set fidelity=request")


def with_interconnect(m: Models, cap_w: float) -> Models:
    """The models with the facility rebuilt for interconnect ``cap_w`` (W).

    The delivery chain's ratings (transformer, UPS), the default fixed load and a default cooling
    capacity follow the interconnect, so a facility *designed* for another interconnect is
    rebuilt from its spec (microseconds), with the same weather random stream as
    :func:`build_models`. (A curtailment instead keeps the equipment and lowers only the cap.)
    """
    sc = m.scenario
    spec = sc.facility.model_copy(update={"interconnect": float(cap_w)})
    s_facility = named_stream(sc.seed, "facility")
    return dataclasses.replace(m, facility=build_facility(spec, sc.base_dir, s_facility, m.clock_s))
