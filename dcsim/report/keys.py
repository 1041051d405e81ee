"""The dotted paths of ``report.json`` (docs/report.md), for checking a key a user names before a run.

:data:`REPORT_PATHS` lists every leaf of the report of a fluid run and of a request-fidelity run
(with an electricity price and a carbon intensity, so ``cost`` and ``carbon`` are there) as
patterns: ``<class>`` stands for a workload class name of the scenario, ``<pool>`` for a rack
group or model-pool name, ``*`` for a list index. Blocks a report has only with optional features
(``faults:``, ``grid:``, storage, thermal mass, ``deferrable:``, runs over 3 days, hybrid fidelity,
``expect:``) are :data:`OPEN_PREFIXES`: a path under one of them is accepted unchecked.

``tests/test_sweep.py::test_report_paths_match_a_run`` regenerates the set from two runs and fails
when it drifts (a report key added, renamed or removed without updating this file).
"""

from __future__ import annotations

import difflib
from typing import Any

__all__ = ["REPORT_PATHS", "OPEN_PREFIXES", "report_patterns", "unknown_paths"]

#: Top-level keys (and sub-trees) present only with optional scenario features: checked to the prefix only.
OPEN_PREFIXES: tuple[str, ...] = (
    "annual", "deferrable", "expect", "faults", "faults_baseline", "faults_total", "flexibility", "grid",
    "serving.hybrid", "storage", "thermal", "tpf.moments.peak_demand.pools", "tpf.moments.hottest.pools",
    "tpf.moments.mean_demand.pools",
)

#: Leaf paths of a fluid and a request-fidelity report (regenerate with the test named in the module docstring).
REPORT_PATHS: frozenset[str] = frozenset((
    "binding.final",
    "binding.median_slack.compute",
    "binding.median_slack.cooling",
    "binding.median_slack.power",
    "binding.most_common",
    "binding.most_common_tied",
    "binding.n_shifts",
    "binding.share.compute",
    "binding.share.cooling",
    "binding.share.demand",
    "binding.share.power",
    "binding.shifts",
    "binding_potential.n_shifts",
    "binding_potential.note",
    "binding_potential.share.compute",
    "binding_potential.share.cooling",
    "binding_potential.share.demand",
    "binding_potential.share.power",
    "carbon.basis",
    "carbon.g",
    "carbon.g_per_mtok",
    "clock.day_of_year",
    "clock.hour",
    "clock.start",
    "consolidation_s.<pool>",
    "controller.actions",
    "controller.cap_events",
    "controller.capped_share",
    "controller.mean_clock",
    "controller.mean_controller_clock",
    "cooling_exceeded_s",
    "cost.basis",
    "cost.usd",
    "cost.usd_per_mtok",
    "duration_s",
    "energy_j.cooling",
    "energy_j.cooling_chiller",
    "energy_j.cooling_fans",
    "energy_j.cooling_pumps",
    "energy_j.cooling_tower",
    "energy_j.delivery_losses",
    "energy_j.facility",
    "energy_j.fixed_loads",
    "energy_j.gpu",
    "energy_j.it",
    "energy_j.loss_pdu",
    "energy_j.loss_transformer",
    "energy_j.loss_ups",
    "energy_j.power_losses",
    "energy_j.server_non_gpu_and_rack",
    "facility_power_w.mean",
    "facility_power_w.peak",
    "fidelity",
    "goodput_tok_s",
    "gpus",
    "interconnect_exceeded_s",
    "interconnect_w",
    "joules_per_output_token.facility",
    "joules_per_output_token.gpu",
    "joules_per_output_token.it",
    "joules_per_slo_output_token.facility",
    "joules_per_slo_output_token.gpu",
    "joules_per_slo_output_token.it",
    "latency_s.e2e.mean",
    "latency_s.e2e.p50",
    "latency_s.e2e.p90",
    "latency_s.e2e.p99",
    "latency_s.tpot.mean",
    "latency_s.tpot.p50",
    "latency_s.tpot.p90",
    "latency_s.tpot.p99",
    "latency_s.ttft.mean",
    "latency_s.ttft.p50",
    "latency_s.ttft.p90",
    "latency_s.ttft.p99",
    "notes",
    "partial",
    "peak_power_w.facility",
    "peak_power_w.gpu",
    "peak_power_w.it",
    "policy",
    "pools.*.arrival_share",
    "pools.*.binding.final",
    "pools.*.binding.n_shifts",
    "pools.*.binding.share.compute",
    "pools.*.binding.share.cooling",
    "pools.*.binding.share.demand",
    "pools.*.binding.share.power",
    "pools.*.ceilings_tok_s.compute",
    "pools.*.ceilings_tok_s.cooling",
    "pools.*.ceilings_tok_s.power",
    "pools.*.classes",
    "pools.*.decode_context_tokens",
    "pools.*.energy_j.facility",
    "pools.*.energy_j.gpu",
    "pools.*.energy_j.it",
    "pools.*.flop_per_output_token",
    "pools.*.gpus",
    "pools.*.groups.*.batch_at_full_load",
    "pools.*.groups.*.batch_limited_by",
    "pools.*.groups.*.flop_per_output_token",
    "pools.*.groups.*.gpu",
    "pools.*.groups.*.gpus",
    "pools.*.groups.*.kv_capacity_tokens",
    "pools.*.groups.*.max_batch",
    "pools.*.groups.*.max_batched_tokens",
    "pools.*.groups.*.model",
    "pools.*.groups.*.name",
    "pools.*.groups.*.precision",
    "pools.*.groups.*.replicas",
    "pools.*.groups.*.tensor_parallel",
    "pools.*.joules_per_output_token.facility",
    "pools.*.joules_per_output_token.gpu",
    "pools.*.joules_per_output_token.it",
    "pools.*.mean_cap_w",
    "pools.*.mean_clock",
    "pools.*.mean_input_tokens",
    "pools.*.mean_output_tokens",
    "pools.*.name",
    "pools.*.prompt_scv",
    "pools.*.replicas",
    "pools.*.throughput_tok_s.demand_output",
    "pools.*.throughput_tok_s.output",
    "pools.*.tokens.input",
    "pools.*.tokens.output",
    "pools.*.tokens_accounting.arrived",
    "pools.*.tokens_accounting.served",
    "pools.*.tokens_accounting.shed",
    "pools.*.tokens_accounting.waiting",
    "preemptions",
    "provenance.calibration.*.band_lower_bound",
    "provenance.calibration.*.base_status",
    "provenance.calibration.*.batch_limit",
    "provenance.calibration.*.error_band_pct.j_per_tok_pct",
    "provenance.calibration.*.error_band_pct.tok_s_pct",
    "provenance.calibration.*.extrapolated",
    "provenance.calibration.*.for",
    "provenance.calibration.*.group",
    "provenance.calibration.*.levers",
    "provenance.calibration.*.measured_batch_max",
    "provenance.calibration.*.profile",
    "provenance.calibration.*.serving_stack",
    "provenance.calibration.*.stack_current",
    "provenance.calibration.*.stack_note",
    "provenance.calibration.*.status",
    "provenance.calibration_profiles",
    "provenance.dcsim_version",
    "provenance.gpus",
    "provenance.models",
    "provenance.overrides",
    "provenance.scenario_hash",
    "provenance.seed",
    "pue",
    "pue_adjusted_delivered_power_w.available.mean",
    "pue_adjusted_delivered_power_w.available.min",
    "pue_adjusted_delivered_power_w.mean",
    "pue_adjusted_delivered_power_w.peak",
    "pue_adjusted_delivered_power_w.theta",
    "pue_adjusted_delivered_power_w.used",
    "queue_delay_s.mean",
    "queue_delay_s.p50",
    "queue_delay_s.p90",
    "queue_delay_s.p99",
    "rack_limit_exceeded_s",
    "replicas",
    "requests.arrived",
    "requests.completed",
    "requests.in_flight",
    "requests.requeued_after_failure",
    "requests.shed",
    "scenario",
    "seed",
    "serving.energy_per_output_token_j",
    "serving.energy_per_request_j.mean",
    "serving.energy_per_request_j.p50",
    "serving.energy_per_request_j.p90",
    "serving.energy_per_request_j.p99",
    "serving.per_class.<class>.energy_per_output_token_j",
    "serving.per_class.<class>.energy_per_request_j.mean",
    "serving.per_class.<class>.energy_per_request_j.p50",
    "serving.per_class.<class>.energy_per_request_j.p90",
    "serving.per_class.<class>.energy_per_request_j.p99",
    "serving.per_class.<class>.goodput_tok_s",
    "serving.per_class.<class>.latency_s.e2e.mean",
    "serving.per_class.<class>.latency_s.e2e.p50",
    "serving.per_class.<class>.latency_s.e2e.p90",
    "serving.per_class.<class>.latency_s.e2e.p99",
    "serving.per_class.<class>.latency_s.tpot.mean",
    "serving.per_class.<class>.latency_s.tpot.p50",
    "serving.per_class.<class>.latency_s.tpot.p90",
    "serving.per_class.<class>.latency_s.tpot.p99",
    "serving.per_class.<class>.latency_s.ttft.mean",
    "serving.per_class.<class>.latency_s.ttft.p50",
    "serving.per_class.<class>.latency_s.ttft.p90",
    "serving.per_class.<class>.latency_s.ttft.p99",
    "serving.per_class.<class>.queue_delay_s.mean",
    "serving.per_class.<class>.queue_delay_s.p50",
    "serving.per_class.<class>.queue_delay_s.p90",
    "serving.per_class.<class>.queue_delay_s.p99",
    "serving.per_class.<class>.requests.arrived",
    "serving.per_class.<class>.requests.completed",
    "serving.per_class.<class>.requests.in_flight",
    "serving.per_class.<class>.requests.shed",
    "serving.per_class.<class>.slo.tpot_s",
    "serving.per_class.<class>.slo.ttft_s",
    "serving.per_class.<class>.slo_attainment",
    "serving.per_class.<class>.throughput_tok_s",
    "serving.per_class.<class>.tokens.in",
    "serving.per_class.<class>.tokens.out",
    "serving.throughput_tok_s",
    "serving.tokens.in",
    "serving.tokens.out",
    "slo_attainment",
    "slo_method",
    "slo_note",
    "slo_tail_near_ceiling.<class>",
    "slo_tail_near_ceiling.all",
    "throughput_tok_s.demand_output",
    "throughput_tok_s.input",
    "throughput_tok_s.output",
    "tick_s",
    "tokens.input",
    "tokens.output",
    "tokens_accounting.arrived",
    "tokens_accounting.served",
    "tokens_accounting.shed",
    "tokens_accounting.waiting",
    "tpf.achieved_tok_s",
    "tpf.binding",
    "tpf.compute_tok_s",
    "tpf.cooling_tok_s",
    "tpf.demand_tok_s",
    "tpf.flop_per_output_token",
    "tpf.inputs.delivered_power_w",
    "tpf.inputs.demand_tok_s",
    "tpf.inputs.effective_flops",
    "tpf.inputs.flop_per_token",
    "tpf.inputs.heat_rejection_w",
    "tpf.inputs.joule_per_token_it",
    "tpf.inputs.pue",
    "tpf.inputs.theta",
    "tpf.moments.hottest.achieved_tok_s",
    "tpf.moments.hottest.binding",
    "tpf.moments.hottest.compute_tok_s",
    "tpf.moments.hottest.cooling_tok_s",
    "tpf.moments.hottest.demand_tok_s",
    "tpf.moments.hottest.heat_capacity_w",
    "tpf.moments.hottest.inputs.delivered_power_w",
    "tpf.moments.hottest.inputs.demand_tok_s",
    "tpf.moments.hottest.inputs.effective_flops",
    "tpf.moments.hottest.inputs.flop_per_token",
    "tpf.moments.hottest.inputs.heat_rejection_w",
    "tpf.moments.hottest.inputs.joule_per_token_it",
    "tpf.moments.hottest.inputs.pue",
    "tpf.moments.hottest.inputs.theta",
    "tpf.moments.hottest.interconnect_w",
    "tpf.moments.hottest.it_budget_cooling_w",
    "tpf.moments.hottest.it_budget_power_w",
    "tpf.moments.hottest.operating_point",
    "tpf.moments.hottest.power_tok_s",
    "tpf.moments.hottest.slack.compute",
    "tpf.moments.hottest.slack.cooling",
    "tpf.moments.hottest.slack.demand",
    "tpf.moments.hottest.slack.power",
    "tpf.moments.hottest.t_out_c",
    "tpf.moments.hottest.t_s",
    "tpf.moments.hottest.t_wb_c",
    "tpf.moments.mean_demand.achieved_tok_s",
    "tpf.moments.mean_demand.binding",
    "tpf.moments.mean_demand.compute_tok_s",
    "tpf.moments.mean_demand.cooling_tok_s",
    "tpf.moments.mean_demand.demand_tok_s",
    "tpf.moments.mean_demand.heat_capacity_w",
    "tpf.moments.mean_demand.inputs.delivered_power_w",
    "tpf.moments.mean_demand.inputs.demand_tok_s",
    "tpf.moments.mean_demand.inputs.effective_flops",
    "tpf.moments.mean_demand.inputs.flop_per_token",
    "tpf.moments.mean_demand.inputs.heat_rejection_w",
    "tpf.moments.mean_demand.inputs.joule_per_token_it",
    "tpf.moments.mean_demand.inputs.pue",
    "tpf.moments.mean_demand.inputs.theta",
    "tpf.moments.mean_demand.interconnect_w",
    "tpf.moments.mean_demand.it_budget_cooling_w",
    "tpf.moments.mean_demand.it_budget_power_w",
    "tpf.moments.mean_demand.operating_point",
    "tpf.moments.mean_demand.power_tok_s",
    "tpf.moments.mean_demand.slack.compute",
    "tpf.moments.mean_demand.slack.cooling",
    "tpf.moments.mean_demand.slack.demand",
    "tpf.moments.mean_demand.slack.power",
    "tpf.moments.mean_demand.t_out_c",
    "tpf.moments.mean_demand.t_s",
    "tpf.moments.mean_demand.t_wb_c",
    "tpf.moments.peak_demand.achieved_tok_s",
    "tpf.moments.peak_demand.binding",
    "tpf.moments.peak_demand.compute_tok_s",
    "tpf.moments.peak_demand.cooling_tok_s",
    "tpf.moments.peak_demand.demand_tok_s",
    "tpf.moments.peak_demand.heat_capacity_w",
    "tpf.moments.peak_demand.inputs.delivered_power_w",
    "tpf.moments.peak_demand.inputs.demand_tok_s",
    "tpf.moments.peak_demand.inputs.effective_flops",
    "tpf.moments.peak_demand.inputs.flop_per_token",
    "tpf.moments.peak_demand.inputs.heat_rejection_w",
    "tpf.moments.peak_demand.inputs.joule_per_token_it",
    "tpf.moments.peak_demand.inputs.pue",
    "tpf.moments.peak_demand.inputs.theta",
    "tpf.moments.peak_demand.interconnect_w",
    "tpf.moments.peak_demand.it_budget_cooling_w",
    "tpf.moments.peak_demand.it_budget_power_w",
    "tpf.moments.peak_demand.operating_point",
    "tpf.moments.peak_demand.power_tok_s",
    "tpf.moments.peak_demand.slack.compute",
    "tpf.moments.peak_demand.slack.cooling",
    "tpf.moments.peak_demand.slack.demand",
    "tpf.moments.peak_demand.slack.power",
    "tpf.moments.peak_demand.t_out_c",
    "tpf.moments.peak_demand.t_s",
    "tpf.moments.peak_demand.t_wb_c",
    "tpf.operating_point",
    "tpf.power_tok_s",
    "tpf.run_mean.achieved_tok_s",
    "tpf.run_mean.binding",
    "tpf.run_mean.compute_tok_s",
    "tpf.run_mean.cooling_tok_s",
    "tpf.run_mean.demand_tok_s",
    "tpf.run_mean.inputs.delivered_power_w",
    "tpf.run_mean.inputs.demand_tok_s",
    "tpf.run_mean.inputs.effective_flops",
    "tpf.run_mean.inputs.flop_per_token",
    "tpf.run_mean.inputs.heat_rejection_w",
    "tpf.run_mean.inputs.joule_per_token_it",
    "tpf.run_mean.inputs.pue",
    "tpf.run_mean.inputs.theta",
    "tpf.run_mean.operating_point",
    "tpf.run_mean.power_tok_s",
    "tpf.run_mean.slack.compute",
    "tpf.run_mean.slack.cooling",
    "tpf.run_mean.slack.demand",
    "tpf.run_mean.slack.power",
    "tpf.slack.compute",
    "tpf.slack.cooling",
    "tpf.slack.demand",
    "tpf.slack.power",
    "utilization",
    "utilization_adjusted_output.achieved_tok_s",
    "utilization_adjusted_output.ceiling_tok_s",
    "utilization_adjusted_output.phi_sys",
    "utilization_adjusted_output.product_tok_s",
    "utilization_adjusted_output.slo_output_tok_s",
    "utilization_adjusted_output.slo_share",
    "utilization_adjusted_output.utilization",
    "utilization_adjusted_output_tok_s",
    "warnings",
))


def _names(sc) -> tuple[set[str], set[str]]:
    """(class names, rack group and pool names) of a scenario (a :class:`~dcsim.scenario.Scenario`)."""
    classes = {c.name for c in sc.workload.classes}
    groups = {g.name for g in sc.racks}
    pools: dict[tuple, list[str]] = {}
    for g in sc.racks:
        pools.setdefault(tuple(g.serves) if g.serves else (), []).append(g.name)
    groups |= {"+".join(v) for v in pools.values()}
    return classes, groups


def report_patterns(report: dict, sc) -> set[str]:
    """The leaf paths of ``report`` as :data:`REPORT_PATHS` patterns (``sc``'s names and list indices replaced)."""
    classes, groups = _names(sc)
    out: set[str] = set()

    def walk(x: Any, pre: list[str]) -> None:
        path = ".".join(pre)
        if any(path == p or path.startswith(p + ".") for p in OPEN_PREFIXES):
            return
        if isinstance(x, dict) and x:
            for k, v in x.items():
                seg = "<class>" if k in classes else "<pool>" if k in groups else str(k)
                walk(v, pre + [seg])
        elif isinstance(x, list) and x and all(isinstance(v, dict) for v in x):
            for v in x:
                walk(v, pre + ["*"])
        else:
            out.add(path)

    walk(report, [])
    return out


def _matches(path: str, pattern: str, classes: set[str], groups: set[str]) -> bool:
    a, b = path.split("."), pattern.split(".")
    if len(a) != len(b):
        return False
    for s, p in zip(a, b):
        if p == "<class>":
            ok = s in classes
        elif p == "<pool>":
            ok = s in groups
        elif p == "*":
            ok = s.isdigit()
        else:
            ok = s == p
        if not ok:
            return False
    return True


def unknown_paths(paths, sc) -> list[tuple[str, str]]:
    """``(path, reason)`` for each dotted path no report of ``sc`` has, with close matches suggested."""
    classes, groups = _names(sc)
    errors = []
    for path in paths:
        if not isinstance(path, str) or not path:
            errors.append((str(path), "not a dotted report key"))
            continue
        if any(path == p or path.startswith(p + ".") for p in OPEN_PREFIXES):
            continue
        if any(_matches(path, p, classes, groups) for p in REPORT_PATHS):
            continue
        prefix = sorted(p for p in REPORT_PATHS if p.startswith(path + "."))
        cands = sorted({c for p in REPORT_PATHS for c in _concrete(p, classes, groups)})
        close = difflib.get_close_matches(path, cands, n=3, cutoff=0.6)
        if prefix:
            examples = [min(_concrete(p, classes, groups)) for p in prefix[:3]]
            why = (f"a group of {len(prefix)} figures, not one value; name one, e.g. " + ", ".join(examples)
                   + (", ..." if len(prefix) > 3 else ""))
        else:
            why = "no such key in report.json (docs/report.md)"
            if close:
                why += "; did you mean " + " or ".join(close) + "?"
        errors.append((path, why))
    return errors


def _concrete(pattern: str, classes: set[str], groups: set[str]) -> set[str]:
    out = [""]
    for seg in pattern.split("."):
        alts = sorted(classes) if seg == "<class>" else sorted(groups) if seg == "<pool>" else ["0"] if seg == "*" else [seg]
        out = [f"{o}.{a}" if o else a for o in out for a in alts[:3]]
    return set(out)
