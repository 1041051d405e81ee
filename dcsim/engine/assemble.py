"""Build the typed report of a run (:class:`~dcsim.metrics.record.RunReport`) from its per-tick
arrays, in one place; and the fluid-fidelity SLO estimate."""

from __future__ import annotations

import math

import numpy as np

from dcsim import __version__
from dcsim.engine.build import LONG_OUTPUT_GAP_PCT, Models, long_output, with_interconnect
from dcsim.engine.controller import awake_curves, per_awake_count, power_down_for, serving_replicas
from dcsim.engine.held import held_clock, held_clock_notes
from dcsim.engine.pools import FRACTIONAL_REPLICAS_BELOW, frontier_parts, frontier_share_within
from dcsim.engine.requests import CONTRACT_SCATTER_BAND
from dcsim.engine.steady import (
    ceilings_at, flop_per_output_token, pool_flop_per_output_token, scenario_moments, steady_report,
)
from dcsim.engine.tables import ladder_replicas
from dcsim.metrics.record import (
    Binding, Carbon, ControllerSummary, UtilizationAdjustedOutput, DeliveredPower, JoulesPerToken, Money, PeakPower, Provenance, RunReport,
    Throughput, Tokens, TokensAccounting, unlimited_cooling_to_null,
)
from dcsim.metrics.provenance import code_hash
from dcsim.metrics.fmt import NEAR_TIE, fmt_duration, fmt_local_short, fmt_si, group_band
from dcsim.node.model import clock_text
from dcsim.metrics.summary import (binding_potential_summary, binding_summary, closed_form_summary, controller_figures,
                                   energy_summary)
from dcsim.scenario import scenario_hash
from dcsim.thermal.facility import heat_rejection_kind
from dcsim.serving.pool import effective_backend
from dcsim.serving.slo_estimate import (CAPPED_LOW_CLOCK, SloEstimate, estimate_for_run, known_gap_caveats,
                                        long_prompt_caveat, one_pool_gap_ticks, preempting_pool_caveat,
                                        preempting_pool_near_ceiling_ticks, report_block, tail_caveat,
                                        young_saturated_caveat, young_saturated_ticks)
from dcsim.tpf import (BINDING_NAMES, MODE_SHED, band_ratio_window, capped_ticks, closed_door, facility_bound_pool,
                       limits_within_band, near_tie_margin, serving_share)
from dcsim.units import format_quantity

__all__ = ["assemble_report", "goodput_fluid", "planner_notes", "tpf_block", "utilization_adjusted",
           "pool_columns", "pools_block", "slo_estimate"]


def pool_columns(m: Models, ts: dict, p: int) -> dict:
    """Pool ``p``'s per-tick arrays under the facility's column names (``pool<p>_*`` columns when
    there are several pools; the facility's own with one)."""
    if not m.multi_pool:
        return ts
    out = {k: ts[k] for k in ("t_s", "mode", "gpus_in_service", "pue") if k in ts}
    pre = f"pool{p}_"
    out.update({k[len(pre):]: v for k, v in ts.items() if k.startswith(pre)})
    return out


class _PoolView:
    """Pool ``p`` of a run seen as a facility of its own (the duck-typed ``Models`` the fluid SLO
    estimate reads): its classes, groups, curves and GPUs; the scenario and clock levels shared."""

    def __init__(self, m: Models, p: int):
        pool = m.pools[p]
        self.scenario, self.clocks, self.curves, self.gpus = m.scenario, m.clocks, pool.curves, pool.gpus
        self.groups = [m.groups[g] for g in pool.groups]
        self.workload = type("PoolWorkload", (), {"classes": [m.workload.classes[c] for c in pool.classes],
                                                  "mean_input": pool.mean_input, "mean_output": pool.mean_output})()


def serving_frontier_parts(m, pd=None):
    """The ``frontier_parts`` the fluid SLO estimate calls (:func:`dcsim.serving.slo_estimate.estimate_for_run`):
    :func:`dcsim.engine.pools.frontier_parts` with the vertices' rates of the replicas serving. A pool of several
    rack groups with ``controller.idle_power_down`` (``pd``, its :class:`~dcsim.engine.controller.PowerDown`): on the
    curves of the replicas awake on each tick (the ladder's first, :func:`dcsim.engine.controller.awake_curves`, all
    of them serving, the share ``avail`` given ignored), where the engine chose the tick's operating point; otherwise
    on the pool's curves at the share ``avail`` of its replicas in service and awake, the fleet's rates times it."""
    if pd is not None and pd.by_group:
        def parts(_curves, clocks, served, avail, share):
            served, share = np.asarray(served, dtype=float), np.asarray(share, dtype=float)
            n_awake = np.asarray(avail, dtype=float) * pd.replicas
            return per_awake_count(n_awake, lambda k, sel: frontier_parts(
                awake_curves(m, pd, k), clocks, served[sel], np.ones(int(sel.sum())), share[sel]))
        return parts

    def parts(curves, clocks, served, avail, share):
        fp = frontier_parts(curves, clocks, served, avail, share)
        a = np.asarray(avail, dtype=float)
        return dict(fp, rate_a=fp["rate_a"] * a, rate_b=fp["rate_b"] * a)
    return parts


def _serving(m, ts: dict) -> dict:
    """The SLO estimate's ``serving_replicas`` (per tick and group) and ``frontier_parts`` of a run, or of one pool
    seen as a facility (:class:`_PoolView` with its columns, no idle_power_down): the power-down schedule built once
    (:func:`dcsim.engine.controller.serving_replicas`, :func:`serving_frontier_parts`); the arguments
    :func:`dcsim.serving.slo_estimate.estimate_for_run` takes for it. :func:`slo_estimate` is its one caller (the
    known gap's warning, :func:`slo_gap_caveats`, reads the critically loaded ticks the estimate kept; until
    2026-12-05 it called this again on the run's whole series, and found other ticks on a deferrable run)."""
    pd = power_down_for(m, float(m.scenario.controller.tick)) if "awake_fraction" in ts else None
    share = serving_share(ts, m.gpus)  # in service and awake: serving_replicas takes the smaller of it and awake
    awake = np.asarray(ts["awake_fraction"], dtype=float) if "awake_fraction" in ts else share
    return {"serving_replicas": serving_replicas(m, pd, share, awake), "frontier_parts": serving_frontier_parts(m, pd)}


def slo_estimate(m: Models, ts: dict, ticks: np.ndarray | None = None):
    """The fluid SLO estimate (:func:`dcsim.serving.slo_estimate.estimate_for_run`); with several
    pools, one estimate per pool (each on its own replicas, classes and flows) combined: per-class
    figures as they are (a class lives in one pool), goodput summed, attainment weighted by each
    pool's served requests; the run-wide ``latency_s`` is that of the pool serving the most
    requests (said in ``method``). ``ticks``: the requests served in those ticks only
    (:func:`dcsim.serving.slo_estimate.estimate_for_run`)."""
    if not m.multi_pool:
        return estimate_for_run(m, ts, ticks=ticks, **_serving(m, ts))
    ests, reqs = [], []
    for p, pool in enumerate(m.pools):
        cols = pool_columns(m, ts, p)
        view = dict(cols, queue_tokens=cols["held_tokens"], gpus_in_service=ts["gpus_in_service"] * pool.gpus / m.gpus)
        pv = _PoolView(m, p)  # several pools: no idle_power_down (the schema refuses it)
        est = estimate_for_run(pv, view, ticks=ticks, **_serving(pv, view))
        if not est.estimated:
            return est
        ests.append(est)
        a = np.asarray(cols["achieved_tok_s"], float)
        reqs.append(float(np.sum(a if ticks is None else a[ticks])) / pool.mean_output)
    w = np.array(reqs)
    att = [e.slo_attainment for e in ests]
    slo = (float(sum(a * x for a, x in zip(att, w)) / w.sum()) if w.sum() > 0 and all(a is not None for a in att)
           else None)
    big = int(np.argmax(w))
    per_class, tail = {}, {}
    for e in ests:
        per_class.update(e.per_class)
        tail.update({k: v for k, v in e.tail_near_ceiling.items() if k != "all"})
    tail["all"] = ests[big].tail_near_ceiling.get("all", 0.0)  # run-wide latency_s is that pool's
    method = (f"{ests[big].method}; one estimate per model pool (racks[].serves); run-wide latency_s is pool "
              f"{m.pools[big].name}'s (most requests), per class in serving.per_class")
    n_t = np.shape(ts["t_s"])[0]

    def cols(attr, empty):  # each pool's column of a per-tick record, (ticks, pools)
        return np.concatenate([np.asarray(getattr(e, attr) if getattr(e, attr) is not None
                                          else np.full((n_t, 1), empty)) for e in ests], axis=1)
    # each pool's critically loaded ticks (the shared-cap gap's share, slo_gap_caveats), its saturated ticks and KV
    # fill times (the saturated KV-bound pool's, young_saturated_shares)
    return SloEstimate(latency_s=ests[big].latency_s, slo_attainment=slo,
                       goodput_tok_s=float(sum(e.goodput_tok_s for e in ests)), per_class=per_class, method=method,
                       tail_near_ceiling=tail, critical_ticks=cols("critical_ticks", False).astype(bool),
                       saturated_ticks=cols("saturated_ticks", False).astype(bool),
                       kv_fill_s=cols("kv_fill_s", np.nan).astype(float))


def tick_share(sel: np.ndarray, arrived: np.ndarray, served: np.ndarray) -> tuple[int, int, float, float]:
    """The share of a run the ticks ``sel`` (bools) are: ``(ticks, of ticks, share of the output tokens that arrived on
    them, share served on them)`` (``arrived``, ``served``: per tick, any one unit). A series with no token in it has
    none on the ticks either: its share is 0.0, no request concerned (until 2026-12-05 the facility's gaps read 1.0
    there, the pool choice of the shared-cap gap 0.0)."""
    def part(x: np.ndarray) -> float:
        tot = float(np.sum(x))
        return float(np.sum(x[sel])) / tot if tot > 0 else 0.0
    return int(np.count_nonzero(sel)), int(sel.size), part(arrived), part(served)


def slo_gap_caveats(m: Models, ts: dict, attainment: float | None = None, notes: list[str] | None = None,
                    critical: np.ndarray | None = None, saturated: np.ndarray | None = None,
                    kv_fill_s: np.ndarray | None = None) -> list[str]:
    """:func:`dcsim.serving.slo_estimate.known_gap_caveats` of a fluid run: its classes as they share replicas (each
    pool's own with several pools), its hold limit and tick, what it shed, whether it ran capped with a queue, and
    whether several pools ran capped on their shared budget; with the share of the run (ticks, and served requests
    by their output tokens) each tick-wise gap concerns, those too small to move the run's SLO ``attainment`` going
    to ``notes`` instead. ``critical``: the ticks the estimate ran critically loaded on one pool
    (:attr:`dcsim.serving.slo_estimate.SloEstimate.critical_ticks`, on the series it read: with deferrable work the
    interactive view, :func:`interactive_view`), with several pools per pool ``(ticks, pools)``
    (:func:`slo_estimate`; one column for one pool): the shared-cap gap is weighed on the pool whose served
    requests were most on its own such ticks, and not warned without any (until 2026-12-05 warned on every capped run); None: none kept.
    ``saturated``, ``kv_fill_s``: the ticks the estimate simulated each pool saturated and its KV fill times
    (:attr:`dcsim.serving.slo_estimate.SloEstimate.saturated_ticks`, ``kv_fill_s``, ``(ticks, pools)``), which the
    saturated KV-bound pool's gap counts its spells on (:func:`young_saturated_shares`); None: not warned."""
    sc = m.scenario
    classes = m.workload.classes
    sets = [[classes[c] for c in pool.classes] for pool in m.pools] if m.multi_pool else [classes]
    mode = np.asarray(ts.get("mode", np.zeros(np.shape(ts["queue_tokens"]))))
    # capped with work waiting: ticks the controller capped with GPUs in service (capped_ticks of the run's columns)
    # and a queue. Neither a tick on which IT was shed for temperature (mode shed) nor one on which every GPU had
    # failed runs a clock: their queue waits for no low-clock replica (until 2026-12-05 the engine recorded a shed
    # capped at the lowest clock level, which read here as "capped at clock 0.30")
    cq = capped_ticks(mode, ts) & (np.asarray(ts["queue_tokens"], float) > 0)
    capped_queue = bool(np.any(cq))
    clk = np.asarray(ts.get("controller_clock", ts.get("mean_clock", np.ones(cq.shape))), float)
    clock_min = float(np.min(clk[cq])) if capped_queue else None
    shared_cap = bool(m.multi_pool and np.any(mode == 1))
    served = np.asarray(ts["achieved_tok_s"], float)
    arrived = np.asarray(ts.get("arrived_tokens", served), float)

    shares = {"capped_long_tick": tick_share(cq, arrived, served),
              "capped_low_clock": tick_share(cq & (clk < CAPPED_LOW_CLOCK), arrived, served)}
    # one pool capped with its arrivals at the capping ceiling (request fidelity's lane serves below it) or run
    # critically loaded (the ticks the estimate walked that queue on): their share, for the known gap
    if critical is not None and not m.multi_pool:
        ceiling = np.minimum(np.asarray(ts["power_tok_s"], float), np.asarray(ts["cooling_tok_s"], float))
        dt = float(sc.controller.tick)
        shares["critical"] = tick_share(one_pool_gap_ticks(closed_door(mode) if mode.size == served.size else
                                                           np.zeros(served.size, bool), arrived / dt, ceiling,
                                                           np.asarray(critical, bool)[:, 0]), arrived, served)
    crit_pool = None
    if critical is not None and m.multi_pool and shared_cap:
        shares["shared_critical"], crit_pool = shared_critical_share(m, ts, critical)
    out: list[str] = []
    gap_notes: list[str] = []
    ins = [{c.name: float(c.input.mean()) for c in cs} for cs in sets]
    # the gaps of the whole run once (the prompt mix of one pool among them); the prompt mix of each further pool
    # (long_prompt_caveat): until 2026-12-05 every gap was asked once per pool and the repeats dropped
    for w in known_gap_caveats(ins[0], float(sc.controller.hold_limit), float(sc.controller.tick),
                               float(np.sum(ts["shed_tokens"])), capped_queue, shared_cap, clock_min, shares=shares,
                               attainment=attainment, notes=gap_notes, critical_pool=crit_pool) + \
            [long_prompt_caveat(x) for x in ins[1:]] + \
            ([preempting_pool_caveat(kv, other, sh, LONG_OUTPUT_GAP_PCT, attainment, gap_notes)
              for kv, other, sh in preempting_pool_shares(m, ts)]
             if shared_cap and sc.controller.shared_split == "tokens" else []) + \
            [young_saturated_caveat(kv, sh, fill, attainment, gap_notes)
             for kv, sh, fill in young_saturated_shares(m, ts, saturated, kv_fill_s)]:
        if w is not None and w not in out:
            out.append(w)
    if notes is not None:
        notes.extend(n for n in gap_notes if n not in notes)
    return out


def shared_critical_share(m: Models, ts: dict, critical) -> tuple[tuple[int, int, float, float], str]:
    """Several pools: the share of the run the shared-cap gap concerns (``(ticks, of ticks, share of the pool's
    output tokens that arrived on them, share served on them)``, requests counted by their output tokens) and the
    pool's name, for the pool whose served tokens were most on the ticks the estimate ran its replicas critically
    loaded (``critical``, ``(ticks, pools)``: :attr:`dcsim.serving.slo_estimate.SloEstimate.critical_ticks` of
    :func:`slo_estimate`). mixed-fleet (measured 2026-12-05): the chat pool on 287 of 1,440 ticks, 22 % of its
    served tokens; 02:00-03:00, 06:00-07:20 and 14:00-15:00 none; 07:30-09:30 all 120."""
    crit = np.asarray(critical, bool)
    return _most_served_pool(m, ts, lambda p: crit[:, p])


def _most_served_pool(m: Models, ts: dict, ticks_of, skip: int | None = None) -> tuple[tuple, str] | None:
    """``(tick_share, name)`` of the pool (``skip`` left out) whose served tokens were most on its ticks
    ``ticks_of(p)`` (bools; ties to the more ticks): :func:`tick_share` of its arrived and served output tokens. The
    one loop :func:`shared_critical_share` and :func:`preempting_pool_shares` weigh a gap on."""
    best = None
    for p, pool in enumerate(m.pools):
        if p == skip:
            continue
        cols = pool_columns(m, ts, p)
        served = np.asarray(cols["achieved_tok_s"], float)
        sh = tick_share(ticks_of(p), np.asarray(cols.get("arrived_tokens", served), float), served)
        if best is None or (sh[3], sh[0]) > (best[0][3], best[0][0]):
            best = (sh, pool.name)
    return best


def preempting_pool_shares(m: Models, ts: dict) -> list[tuple[str, str, tuple[int, int, float, float]]]:
    """Several pools: for each KV-bound pool of long answers (``dcsim.engine.build.long_output``, a group
    ``kv_bound``: request fidelity preempts there and serves up to ``LONG_OUTPUT_GAP_PCT`` below the tables), the ticks
    it was offered work within that gap below its compute ceiling at full clock
    (:func:`dcsim.serving.slo_estimate.preempting_pool_near_ceiling_ticks`) with the facility capped (``mode`` 1: an
    uncapped tick has no shared budget to move), weighed on the other pool whose served
    tokens were most there: ``(its name, the other pool's name, tick_share of the other pool)``. mixed-fleet
    (measured 2026-12-05): the reasoning pool over the chat pool, 06:00-07:20 on 20 of 80 ticks. Asked only under
    ``controller.shared_split: tokens``: the default split (useful_clock, session 53) gives such a pool's held work no
    clock the other pools need, and the gap is closed (docs/slo.md)."""
    out = []
    if not m.multi_pool:
        return out
    gap = LONG_OUTPUT_GAP_PCT[1] / 100.0
    for p, pool in enumerate(m.pools):
        if not (long_output(pool) and any(m.groups[g].kv_bound for g in pool.groups)):
            continue
        cols = pool_columns(m, ts, p)
        if "demand_tok_s" not in cols or "compute_tok_s" not in cols:
            continue
        sel = preempting_pool_near_ceiling_ticks(cols["demand_tok_s"], cols["compute_tok_s"], gap)
        sel &= np.asarray(ts.get("mode", np.zeros(sel.shape)))[:sel.size] == 1  # capped ticks only: the budget moves there
        if not np.any(sel):
            continue
        best = _most_served_pool(m, ts, lambda q: sel, skip=p)
        if best is not None:
            out.append((pool.name, best[1], best[0]))
    return out


def young_saturated_shares(m: Models, ts: dict, saturated, kv_fill_s) -> list[tuple[str, tuple[int, int, float,
                                                                                             float], float]]:
    """For each KV-bound pool of long answers (``dcsim.engine.build.long_output``, a group ``kv_bound``), the ticks the
    SLO estimate simulated its replicas saturated in a spell long enough for request fidelity's to preempt
    (:func:`dcsim.serving.slo_estimate.young_saturated_ticks` on the estimate's own ``saturated`` ticks and KV fill
    times ``kv_fill_s``, ``(ticks, pools)``: :attr:`dcsim.serving.slo_estimate.SloEstimate.saturated_ticks`): ``(its
    name, tick_share of its own requests, the longest fill time there in s)``; none where either is None.
    mixed-fleet (measured 2026-12-05, 0.7 x the fill time of 1,305 s at clock 0.57): the reasoning pool from 14:00 on
    0 of 20 ticks, 18 of 40, 38 of 60, 98 of 120; the day on 861 of 1,440; 02:00-03:00 and 06:00-07:20 none."""
    out: list[tuple[str, tuple[int, int, float, float], float]] = []
    if saturated is None or kv_fill_s is None:
        return out
    sat = np.asarray(saturated, bool).reshape(np.shape(saturated)[0], -1)
    fill = np.asarray(kv_fill_s, float).reshape(sat.shape)
    dt = float(m.scenario.controller.tick)
    for p, pool in enumerate(m.pools):
        if not (long_output(pool) and any(m.groups[g].kv_bound for g in pool.groups)):
            continue
        sel = young_saturated_ticks(sat[:, p], fill[:, p], dt)
        if not np.any(sel):
            continue
        cols = pool_columns(m, ts, p)
        served = np.asarray(cols["achieved_tok_s"], float)
        out.append((pool.name, tick_share(sel, np.asarray(cols.get("arrived_tokens", served), float), served),
                    float(np.max(fill[sel, p]))))
    return out


def interactive_view(m: Models, ts: dict) -> dict:
    """``ts`` as the SLO estimate must see it: with deferrable work (issue 18, its own target: the deadline) the
    interactive tokens only — served, and arrived (a tick's arrivals are the deferrable share plus the rest) — and the
    share of a capped tick at the frontier's point at which that rate runs within the tick's IT power
    (:func:`dcsim.engine.pools.frontier_share_within`), not the one the engine recorded for the whole rate: the
    estimate leaves the deferred work out of the replicas' load on every tick (docs/grid.md). Taking the recorded
    share on capped ticks alone was measured and not kept (2026-12-04): grid-flex's deferred catch-up at 19:41-19:51
    runs wholly at the frontier's point at full load, and the day's SLO attainment read 0.450 against 0.457 — but
    the uncapped ticks would still see no deferred load, and a 6-h window of the same scenario read more SLO-meeting
    tokens with node failures than without (they left less spare rate to the deferred work).

    The scenario schema refuses ``deferrable`` with ``controller.idle_power_down``, so every replica in service serves
    here (a branch on the power-down ladder's awake curves, added 2026-12-05 and reachable only by editing a built
    scenario, was removed the same day)."""
    d = m.scenario.deferrable
    if d is None or "deferred_served_tok_s" not in ts:
        return ts
    served = np.asarray(ts["achieved_tok_s"], float) - np.asarray(ts["deferred_served_tok_s"], float)
    view = dict(ts, achieved_tok_s=served, arrived_tokens=np.asarray(ts["arrived_tokens"], float) * (1.0 - float(d.share)))
    if "frontier_share" in ts and "mode" in ts:
        it = np.asarray(ts["it_power_w"], float)
        share = frontier_share_within(m.curves, m.clocks, float(m.overhead_w), served, serving_share(ts, m.gpus), it)
        view["frontier_share"] = np.where(np.asarray(ts["mode"]) == 1, share, 0.0)
    return view


def deferred_on_time_tok_s(ts: dict) -> np.ndarray | float:
    """Per tick, deferred tokens/s served by their deadline (they meet their SLO); 0 without deferrable work."""
    if "deferred_served_tok_s" not in ts:
        return 0.0
    return np.asarray(ts["deferred_served_tok_s"], float) - np.asarray(ts["deferred_late_tok_s"], float)


def goodput_fluid(m: Models, ts: dict, ticks: np.ndarray | None = None) -> tuple[float | None, float | None]:
    """Fluid SLO goodput: (sum over ticks of SLO-meeting output tokens/s, fraction of requests meeting
    their SLOs), from the queueing-aware estimate :mod:`dcsim.serving.slo_estimate` (docs/slo.md);
    ``(None, None)`` where it makes none (``serving.slo_estimate: false``, a trace workload). ``ticks``
    (a boolean mask): over those ticks only, with the waits of the whole run."""
    est = slo_estimate(m, ts, ticks)
    if not est.estimated:
        return None, None
    n = ts["t_s"].size if ticks is None else int(np.count_nonzero(ticks))
    return est.goodput_tok_s * n, est.slo_attainment


def clock_below_range(m: Models, ts: dict) -> dict[str, dict]:
    """Per rack group whose DVFS clock ran below the lowest clock its measurements cover (its calibration's
    ``measured_clock_min``, :func:`dcsim.node.model.clock_floor`: its profile's own when it states one, 0.69-0.76 on the
    shipped H100 profiles (0.669 on the H100 pool, a transferred pair's), the clocks their fits run Splitwise's capped
    prefill rows at; 1.0, full clock, on a profile
    with no capped row; else the GPU's) on some tick: ``share``,
    the share of its GPU-time (its GPUs serving: in service and, with idle power-down, awake,
    :func:`dcsim.tpf.serving_share`; a thermal shed's ticks not counted) run below it, and ``clock_min``, the lowest such clock. The clock is the pool's
    ``controller_clock``, the DVFS level the controller (power capping) or the thermal throttle set: a static board
    limit below the measured caps is the EXTRAPOLATED CAP caveat's, and such a group (``cap_extrapolated``) is left
    out. Groups that never ran below it are absent (an empty dict for a run that never throttles below)."""
    out: dict[str, dict] = {}
    if not ts["t_s"].size:
        return out
    # the GPUs serving each tick (in service and awake); a group's share is a ratio of its own ticks, so any factor
    # constant over the run (the pool's or the group's GPU count) cancels
    w = np.where(np.asarray(ts["mode"]) == MODE_SHED, 0.0, serving_share(ts, m.gpus))
    for p, pool in enumerate(m.pools):
        clk = np.asarray(pool_columns(m, ts, p)["controller_clock"], dtype=float)
        for gi in pool.groups:
            c = m.groups[gi].node.calibration
            floor = c.get("measured_clock_min")
            if floor is None or c.get("cap_extrapolated") or not np.any(w > 0):
                continue
            below = (clk < float(floor) - 1e-9) & (w > 0)
            if np.any(below):
                out[m.groups[gi].name] = {"share": round(float(np.sum(w[below]) / np.sum(w)), 4),
                                          "clock_min": round(float(np.min(clk[below])), 3),
                                          "measured_clock_min": float(floor),
                                          "clock_min_of": c["clock_min_of"],
                                          **({"clock_min_from": c["clock_min_from"]} if c.get("clock_min_from") else {})}
    return out


def clock_warning(group: str, c: dict, below: dict) -> str:
    """The run's warning for a rack group whose controller or thermal throttle ran its GPUs below the lowest clock its
    measurements cover (:func:`clock_below_range`), in the words of the EXTRAPOLATED CLOCK caveat
    (:func:`dcsim.node.model.clock_text`)."""
    return f"{group}: {clock_text({**c, **below_fields(below)})}"


def below_fields(below: dict) -> dict:
    """The calibration-record fields of a group's :func:`clock_below_range` entry."""
    return {"clock_below_range_share": below["share"], "clock_below_range_min": below["clock_min"],
            "measured_clock_min": below["measured_clock_min"], "clock_min_of": below["clock_min_of"],
            # a transfer's floor: the measurements its parameters come from (model.clock_floor_source)
            **({"clock_min_from": below["clock_min_from"]} if below.get("clock_min_from") else {})}


def calibration_provenance(m: Models, below: dict | None = None) -> list[dict]:
    """Per rack group, how trustworthy its node parameters are (status, profile, expected error band). With the run's
    :func:`clock_below_range` (``below``, worked out once per run by the caller), a group whose controller or thermal
    throttle ran below its measured clock range adds ``clock_below_range_share`` (share of its GPU-time), ``clock_below_range_min``
    (the lowest clock) and ``measured_clock_min``; the others are as before (a run that never throttles below its
    range writes the same report)."""
    keys = ("status", "profile", "for", "error_band_pct", "levers", "base_status", "band_lower_bound", "meaning",
            "borrowed", "serving_stack", "stack_current", "stack_note", "measured_batch_max", "batch_limit",
            "extrapolated", "measured_prompt_max", "measured_context_max", "mean_input", "decode_context",
            "context_extrapolated", "in_range_status", "band_notes", "profile_source", "profile_mismatch",
            "profile_measured_for", "limit_w", "limit_frac_tdp", "measured_cap_min_frac", "cap_min_of",
            "cap_extrapolated", "gamma_source", "pool_over_carry")
    below = below or {}
    out = []
    for g in m.groups:
        rec = {"group": g.name, **{k: g.node.calibration[k] for k in keys}}
        if g.name in below:
            b = below[g.name]
            rec.update(below_fields(b))
        out.append(rec)
    return out


def bound_pool_of_ticks(m: Models, ts: dict) -> np.ndarray:
    """Per tick, the index of the pool whose binding is the facility's (:func:`dcsim.tpf.facility_bound_pool`: the
    bound pool furthest short for its own work, held + shed tokens over the work waiting that tick); all 0 with one
    pool."""
    n = np.asarray(ts["binding"]).size
    if not m.multi_pool:
        return np.zeros(n, dtype=int)
    dt = float(m.scenario.controller.tick)
    cols = [pool_columns(m, ts, p) for p in range(len(m.pools))]
    stack = lambda key, default=0.0: np.stack([np.asarray(c.get(key, np.full(n, default)), dtype=float)  # noqa: E731
                                               for c in cols], axis=-1)
    return facility_bound_pool(stack("binding"), stack("held_tokens") + stack("shed_tokens"),
                               stack("waiting_tok_s") * dt)


def binding_within_band(m: Models, ts: dict) -> dict | None:
    """Where the run's binding limit is undetermined within its calibration band (``binding.within_band``, docs/report.md,
    binding): on each tick bound by a limit, which other limits' ceilings lie within the band of the named one
    (:func:`dcsim.tpf.limits_within_band`; C moves with the tok/s band, P and Q with the J/token band, the upper end
    of P/C capped by what the GPUs can draw at their TDP, ``Group.power_cap_ratio``), each pool read with the band of
    its groups by :func:`dcsim.metrics.fmt.group_band` (the widest of its out-of-sample groups; the rule is stated
    there, a plan answer's band reads it too). With
    several pools a tick counts only the flags of the pool whose binding is the facility's
    (:func:`bound_pool_of_ticks`): another pool's near order is not the facility's.

    ``share``: the share of the run's ticks on which another limit could bind; ``share_by_named``: that per limit
    named; ``by_named``: per limit named binding,
    per other limit, the share of the run on which it is named and the other could bind instead (the headline reads
    the entry of the limit it names only); ``alternatives``: per limit, that summed over the limits named;
    ``median_gap``: per such limit, the median of (its ceiling / the named one - 1) on those ticks; the band
    (``tok_s_pct``, ``j_per_tok_pct``, the widest of the pools read), ``power_cap_ratio`` (the largest of the pools
    read), ``ratio_window`` (:func:`dcsim.tpf.band_ratio_window` of them), ``lower_bound`` and ``groups``. None when
    no group is out of sample."""
    records = calibration_provenance(m)
    n = np.asarray(ts["binding"]).size
    names = ("compute", "power", "cooling")
    by_named = {nm: {k: np.zeros(n, dtype=bool) for k in names if k != nm} for nm in names}
    gaps: dict[str, list[np.ndarray]] = {k: [] for k in names}
    used: list[str] = []
    lower_bound, bt_max, bj_max, cap_max = False, 0.0, 0.0, 0.0
    bound = bound_pool_of_ticks(m, ts)
    for p, pool in enumerate(m.pools):
        band = group_band(records, [m.groups[g].name for g in pool.groups])
        if band is None:
            continue
        bt, bj = band["tok_s"], band["j_per_tok"]
        cap = max(g.power_cap_ratio for g in m.groups if g.name in band["groups"])
        used += band["groups"]
        lower_bound = lower_bound or band["lower_bound"]
        bt_max, bj_max, cap_max = max(bt_max, bt), max(bj_max, bj), max(cap_max, cap)
        cols = pool_columns(m, ts, p)
        b = np.asarray(cols["binding"])
        ceil = {k: np.asarray(cols[f"{k}_tok_s"], dtype=float) for k in names}
        here = bound == p
        for nm, flags in limits_within_band(b, ceil["compute"], ceil["power"], ceil["cooling"], bt, bj, cap).items():
            for k, v in flags.items():
                v = v & here
                by_named[nm][k] |= v
                with np.errstate(divide="ignore", invalid="ignore"):
                    gaps[k].append(ceil[k][v] / ceil[nm][v] - 1.0)
    if not used:
        return None
    flagged = np.zeros(n, dtype=bool)
    for flags in by_named.values():
        for v in flags.values():
            flagged |= v
    lo, hi = band_ratio_window(bt_max, bj_max, cap_max)
    frac = lambda v: float(np.count_nonzero(v)) / max(n, 1)  # noqa: E731
    return {"share": frac(flagged),
            "share_by_named": {nm: frac(np.logical_or.reduce(list(flags.values()))) for nm, flags in by_named.items()},
            "by_named": {nm: {k: frac(v) for k, v in flags.items()} for nm, flags in by_named.items()},
            "alternatives": {k: sum(frac(by_named[nm][k]) for nm in names if nm != k) for k in names},
            "median_gap": {k: float(np.median(np.concatenate(g))) if sum(a.size for a in g) else None
                           for k, g in gaps.items()},
            "tok_s_pct": round(100.0 * bt_max, 9), "j_per_tok_pct": round(100.0 * bj_max, 9),
            "power_cap_ratio": round(cap_max, 9),
            "ratio_window": [lo, hi if math.isfinite(hi) else None],
            "lower_bound": lower_bound,
            "groups": sorted(set(used))}


def utilization_adjusted(ts: dict, dt: float, slo_output_tok_s: float | None) -> UtilizationAdjustedOutput:
    """Decompose the achieved output as ceiling × U × Φ_sys (docs/report.md, "the four figures").

    Per tick: ceiling K_t = min(C, P, Q); offered O_t = min(work waiting W_t, K_t) with W_t the
    queue plus arrivals (tokens/s); served A_t. Over the run: ceiling = mean K, U = ΣO/ΣK,
    Φ_sys = ΣA/ΣO, so ceiling·U·Φ_sys = mean A exactly. U = 0 when the ceiling is 0; Φ_sys = 1
    when nothing was offered (nothing could be lost).

    With several model pools (``pool<p>_*`` columns) compute and rack limits hold per pool: one
    pool's spare replicas cannot serve another pool's model, and a rack-limited pool cannot use the
    facility's spare budget. So K_t = min(Σ_p K_p, P, Q) with K_p = min(C_p, P_p, Q_p) the pool's own
    ceilings, and O_t = min(Σ_p min(W_p, K_p), K_t): work a pool could not take is not "offered".
    """
    k = np.minimum(np.minimum(ts["compute_tok_s"], ts["power_tok_s"]), ts["cooling_tok_s"])
    o = np.minimum(ts["waiting_tok_s"], k)
    n_pools = 0
    while f"pool{n_pools}_waiting_tok_s" in ts:
        n_pools += 1
    if n_pools > 1:
        kp = [np.minimum(np.minimum(ts[f"pool{p}_compute_tok_s"], ts[f"pool{p}_power_tok_s"]),
                         ts[f"pool{p}_cooling_tok_s"]) for p in range(n_pools)]
        k = np.minimum(k, sum(kp))
        o = np.minimum(sum(np.minimum(ts[f"pool{p}_waiting_tok_s"], kp[p]) for p in range(n_pools)), k)
    a = ts["achieved_tok_s"]
    n = max(a.size, 1)
    sk, so, sa = float(np.sum(k)), float(np.sum(o)), float(np.sum(a))
    u = so / sk if sk > 0 else 0.0
    phi = sa / so if so > 0 else 1.0
    ceiling = sk / n
    achieved = sa / n
    return UtilizationAdjustedOutput(
        ceiling_tok_s=ceiling, utilization=u, phi_sys=phi, product_tok_s=ceiling * u * phi,
        achieved_tok_s=achieved, slo_output_tok_s=slo_output_tok_s,
        slo_share=slo_output_tok_s / achieved if achieved > 0 and slo_output_tok_s is not None else None)


#: the planner notes about power or cooling (fewer GPUs under the power cap, the racks' own limits, the larger
#: interconnect and its cooling clause) are written where that constraint binds, other than by a near tie with compute
#: (:func:`firm_binding_masks`), on at least this share of the run (a choice: where it binds on fewer ticks, or only by
#: a hair, more power or cooling buys under :data:`dcsim.metrics.fmt.NEAR_TIE` and the notes have no decision to offer)
PLANNER_NOTE_MIN_BINDING_SHARE = 0.01


def near_tie_masks(m: Models, ts: dict) -> list[tuple]:
    """Per pool ``(pool index, compute_tok_s, {kind: (bound, margin)})`` for ``kind`` in power, cooling: ``bound`` the
    ticks on which the pool is named bound by it, ``margin`` :func:`dcsim.tpf.near_tie_margin` over every tick (NaN
    where no near tie, :data:`NEAR_TIE`). One computation for :func:`near_tie_notes` and :func:`firm_binding_masks`."""
    out = []
    for p in range(len(m.pools)):
        cols = pool_columns(m, ts, p)
        b = np.asarray(cols["binding"])
        c = np.asarray(cols["compute_tok_s"], dtype=float)
        # a tie only where compute would hold the rest: the work waiting reaches C (a pool the shared budget ran
        # below full clock at the rate that just meets its work is power-bound there with P = C, and the next
        # watt raises its clock: no tie); either side: a critically loaded tick reads power with P a little
        # above C. The closed form's rule too (dcsim.tpf.near_tie_margin, dcsim tpf)
        work = np.asarray(cols.get("waiting_tok_s", np.full(b.shape, np.inf)), dtype=float)
        kinds = {}
        for code, kind in ((2, "power"), (3, "cooling")):
            sel = b == code
            kinds[kind] = (sel, np.asarray(near_tie_margin(np.where(sel, code, 0), c, cols["power_tok_s"],
                                                           cols["cooling_tok_s"], work, NEAR_TIE)))
        out.append((p, c, kinds))
    return out


def firm_binding_masks(m: Models, ts: dict, ties: list[tuple] | None = None) -> dict:
    """``{kind: bools per tick}`` for power and cooling: the ticks on which some pool is bound by ``kind`` with its
    ceiling not in a near tie with compute (:func:`near_tie_masks`), where more of it would buy more than
    :data:`NEAR_TIE` of the rate. The planner notes are gated on these (:data:`PLANNER_NOTE_MIN_BINDING_SHARE`):
    reference from 12:00 to 14:00 is power-bound throughout, every tick a near tie (the run's "binds by a hair"
    note), and until 2026-12-05 it printed the larger-interconnect note beside it."""
    n = np.asarray(ts["binding"]).size
    out = {"power": np.zeros(n, dtype=bool), "cooling": np.zeros(n, dtype=bool)}
    for _, _, kinds in (ties if ties is not None else near_tie_masks(m, ts)):
        for kind, (sel, margin) in kinds.items():
            out[kind] |= sel & ~np.isfinite(margin)
    return out


#: the share of the fleet the fewer-GPUs figure re-evaluates the closed form with (10 % fewer GPUs, racks scaled
#: alike; a choice: a step a planner would weigh, large enough to move P clear of float noise)
FEWER_GPUS_SCALE = 0.9


def fewer_gpus_at_peak(m: Models, mom: dict, achieved_all_tok_s: float) -> dict:
    """report.json's ``tpf.fewer_gpus``: the closed form (:func:`dcsim.engine.steady.ceilings_at`) at the run's
    peak-demand moment with :data:`FEWER_GPUS_SCALE` of the GPUs: ``gpus``, ``achieved_tok_s`` (min(D, C, P, Q) with
    them) and ``change`` against ``achieved_all_tok_s``, the whole fleet's at that moment (the ``tpf`` block's
    ``achieved_tok_s``, passed in: until 2026-12-05 recomputed here and written again as ``achieved_tok_s_all``,
    byte-identical; None when the whole fleet achieves nothing). Under a binding power cap ``change`` > 0 says
    fewer GPUs would serve more, the planner note's figure (campus-interconnect's "+0.9 %", which the note alone
    stated and no ``expect:`` check could bound until 2026-12-05)."""
    i = int(np.argmax(mom["demand_tok_s"]))
    args = (mom["demand_tok_s"][i], mom["t_db_c"][i], mom["t_wb_c"][i])
    a1 = float(achieved_all_tok_s)
    a09 = float(ceilings_at(m, *args, gpu_scale=FEWER_GPUS_SCALE)["achieved_tok_s"])
    return {"gpu_scale": FEWER_GPUS_SCALE, "gpus": round(FEWER_GPUS_SCALE * m.gpus), "achieved_tok_s": a09,
            "change": a09 / a1 - 1.0 if a1 > 0 else None}


def planner_notes(m: Models, ts: dict, mom: dict, tpf: dict, near_tie: list[dict] | None = None,
                  ties: list[tuple] | None = None, held: list[dict] | None = None) -> list[str]:
    """Effects a planner would not expect, explained with this run's figures (docs/facility.md).

    * Under a binding power cap, fewer GPUs can serve more: every replica draws idle power and
      every rack its overhead, so at the peak-demand moment the closed form is re-evaluated with
      10 % fewer GPUs (racks scale too) — when it achieves more, min(D, C, P, Q), the note says so.
    * A larger interconnect raises PUE at the same load when the UPS and transformer ratings
      follow it (their no-load losses scale with the rating): the run's mean IT load and weather
      are re-evaluated on the facility rebuilt for twice the interconnect — only where power or
      cooling binds, other than by a near tie with compute, on :data:`PLANNER_NOTE_MIN_BINDING_SHARE`
      of the run or more, where a larger contract is a decision to weigh.

    The fewer-GPUs note, the racks' limits and the cooling clause of the interconnect note read the same gate for
    their constraint (:func:`firm_binding_masks`).

    ``mom``: the scenario's moments (:func:`dcsim.engine.steady.scenario_moments`); ``tpf``: the report's
    :func:`tpf_block` with its ``fewer_gpus`` (:func:`fewer_gpus_at_peak`; its ``achieved_tok_s`` is the whole
    fleet's at the peak-demand moment); ``near_tie``: :func:`near_ties` when the caller has it (report.json's
    ``binding.near_tie``, the "binds by a hair" notes rendered from it); ``ties``: :func:`near_tie_masks` when the
    caller has it (:func:`assemble_report` computes it once for ``near_tie`` and these notes: until 2026-12-05 it was
    computed twice per run, byte-identical); ``held``: report.json's ``binding.held_clock``
    (:func:`dcsim.engine.held.held_clock`), which the held-clock notes are rendered from, when the caller has it.
    """
    notes = []
    ties = near_tie_masks(m, ts) if ties is None else ties
    firm = firm_binding_masks(m, ts, ties)
    # binds on the share that gates the notes, other than by a near tie (the report's binding.share counts the near
    # ties too); "power or cooling" for the interconnect note (several pools: a tick can be bound by both)
    # the cooling the interconnect note speaks of is the plant's: a tick the die hold labels cooling in normal operation
    # (thermal_throttled 2, dcsim.engine.flex.THROTTLE_DIE_HOLD: the dies, not the plant, hold the clock) is counted
    # out, where a larger contract neither helps nor takes cooling ceiling (until 2026-12-05 the note told such a hall
    # "where cooling binds a larger contract serves less")
    from dcsim.engine.flex import THROTTLE_DIE_HOLD

    n_ticks = np.asarray(ts["binding"]).size
    die = (np.asarray(ts["thermal_throttled"]) == THROTTLE_DIE_HOLD if "thermal_throttled" in ts
           else np.zeros(n_ticks, dtype=bool))
    firm["cooling plant"] = firm["cooling"] & ~die
    firm["power or cooling"] = firm["power"] | firm["cooling plant"]
    binds = {k: float(np.mean(v)) >= PLANNER_NOTE_MIN_BINDING_SHARE for k, v in firm.items()}
    if binds["power"]:
        few = tpf["fewer_gpus"]
        a1, a09 = float(tpf["achieved_tok_s"]), few["achieved_tok_s"]
        if a09 > a1 * (1 + 1e-6):
            notes.append(
                f"fewer GPUs would serve more under this power cap: at peak demand the closed form gives "
                f"{a1:,.0f} tok/s with {m.gpus:,} GPUs and {a09:,.0f} tok/s "
                f"({'+' + format(100 * few['change'], '.1f') + ' %' if a1 > 0 else 'up from none'}) with "
                f"{few['gpus']:,}: idle and rack overhead power of the extra GPUs eat the budget "
                "(docs/facility.md, counter-intuitive results)")
    for kind, which in (("power", "p"), ("cooling", "q")):
        if binds[kind]:
            notes += rack_limit_notes(m, kind, which)
    notes += near_tie_notes(m, ts, ties, near_tie)
    notes += alternation_notes(ts, m.scenario.clock_block(), m.scenario.duration)
    notes += held_clock_notes(m, held_clock(m, ts, PLANNER_NOTE_MIN_BINDING_SHARE) if held is None else held)
    pc = m.scenario.facility.power_chain
    # the note answers "would a larger contract help?": asked where power or cooling binds other than by a hair; a
    # run compute- or demand-bound throughout, or bound only in near ties with compute, has no use for more
    # interconnect (the note fired on all ~25 runs of the audit of 2026-12-05, compute-bound days included, and
    # then still on reference 12:00-14:00 beside "more power would buy under 1 %")
    if binds["power or cooling"] and (pc.ups_rating is None or pc.transformer_rating is None):
        it = float(np.mean(ts["it_power_w"]))
        t_db, t_wb = float(np.mean(ts["t_out_c"])), float(np.mean(ts["t_wb_c"]))
        cap = float(m.facility.interconnect_w)
        pue = lambda f: float(f.breakdown(it, m.liquid_fraction, t_db, t_wb)["facility"] / it)  # noqa: E731
        big = with_interconnect(m, 2.0 * cap).facility
        p_now, p_big = pue(m.facility), pue(big)
        if it > 0 and p_big > p_now * 1.002:
            heat = ""
            if binds["cooling plant"]:
                # the UPS and PDU losses are heat inside the hall (dcsim.thermal.facility): where the plant
                # binds, the bigger chain's losses take IT heat budget, so the cooling ceiling falls
                h = int(np.argmax(mom["t_db_c"]))  # the tpf block's "hottest" moment
                hot = (mom["demand_tok_s"][h], mom["t_db_c"][h], mom["t_wb_c"][h])
                q_now = float(tpf["moments"]["hottest"]["cooling_tok_s"] if tpf is not None
                              else ceilings_at(m, *hot)["cooling_tok_s"])
                q_big = float(ceilings_at(with_interconnect(m, 2.0 * cap), *hot)["cooling_tok_s"])
                if q_big < q_now * (1 - 1e-4):
                    heat = (f"; and their losses are heat the cooling plant must reject: at the hottest tick "
                            f"({mom['t_db_c'][h]:.1f} °C) the cooling ceiling is {q_now:,.0f} tok/s with "
                            f"{cap / 1e6:g} MW and {q_big:,.0f} tok/s ({100 * (q_big / q_now - 1):+.1f} %) with "
                            f"{2 * cap / 1e6:g} MW, so where cooling binds a larger contract serves less")
            follow = [n for n, k in (("UPS", "ups_rating"), ("transformer", "transformer_rating"))
                      if getattr(pc, k) is None]  # only those not fixed (campus fixes its UPS: the note named both)
            what = " and ".join(follow) + (" ratings follow" if len(follow) > 1 else " rating follows")
            fields = "power_chain." + " / ".join(k for k in ("ups_rating", "transformer_rating")
                                                 if getattr(pc, k) is None)
            notes.append(
                f"a larger interconnect would raise PUE at this load: at the run's mean IT load "
                f"({it / 1e3:,.0f} kW) PUE is {p_now:.3f} with {cap / 1e6:g} MW and {p_big:.3f} with "
                f"{2 * cap / 1e6:g} MW, because the {what} the interconnect "
                f"and {'their' if len(follow) > 1 else 'its'} no-load losses follow the rating{heat} (set "
                f"{fields} to decouple {'them' if len(follow) > 1 else 'it'}; docs/facility.md)")
    return notes


#: a near-tie note is written when at least this share of the run is bound by near ties of one kind
NEAR_TIE_MIN_SHARE = 0.05


def near_ties(m: Models, ts: dict, ties: list[tuple] | None = None) -> list[dict]:
    """report.json's ``binding.near_tie``: where power or cooling is named binding but its ceiling sits within
    :data:`NEAR_TIE` of the compute ceiling, with the work waiting at least that close to C (:func:`near_tie_masks`),
    on at least :data:`NEAR_TIE_MIN_SHARE` of the run and on most of the ticks that pool is bound by it. One entry per
    pool and kind: ``kind``; ``pool`` (the pool's name with several pools, its own C the one compared; None with one);
    ``share`` (fraction of the run's ticks in such a near tie); ``bound_share`` (fraction of the run's ticks on which
    that pool is bound by ``kind``, near tie or not: ``share`` is a part of it); ``within_frac`` (:data:`NEAR_TIE`);
    ``margin_median``, ``margin_max`` ((C - X)/C over the near-tie ticks, either side); ``compute_tok_s`` (the pool's
    median C on them). The one computation of the "binds by a hair" notes (:func:`near_tie_notes` renders them) and of
    the signature figure's legend (:func:`dcsim.plots.figures.signature`), which until 2026-12-05 parsed the notes'
    prose and labelled the facility's whole power share "by a hair" (grid-flex: 19 % power, 11 % of it by a hair)."""
    out = []
    n_ticks = np.asarray(ts["binding"]).size
    for p, c, kinds in (ties if ties is not None else near_tie_masks(m, ts)):
        for kind, (sel, margin_all) in kinds.items():
            if not sel.any():
                continue
            margin = margin_all[sel]
            tie = np.isfinite(margin)
            share = float(np.count_nonzero(tie)) / n_ticks  # of the run's ticks
            if share < NEAR_TIE_MIN_SHARE or np.count_nonzero(tie) < 0.5 * sel.sum():
                continue
            out.append({"kind": kind, "pool": m.pools[p].name if m.multi_pool else None, "share": share,
                        "bound_share": float(np.count_nonzero(sel)) / n_ticks, "within_frac": float(NEAR_TIE),
                        "margin_median": float(np.median(margin[tie])), "margin_max": float(np.max(margin[tie])),
                        "compute_tok_s": float(np.median(c[sel][tie]))})
    return out


def near_tie_notes(m: Models, ts: dict, ties: list[tuple] | None = None,
                   entries: list[dict] | None = None) -> list[str]:
    """Where power or cooling is named binding but its ceiling sits within :data:`NEAR_TIE` of the compute
    ceiling, with the work waiting at least that close to C, on most of those ticks, the label is right (it is the
    lowest) and misleading on its own: more power or cooling would buy under 1 %, and compute holds the rest
    of the work. One note per pool and kind, rendered from :func:`near_ties` (report.json's ``binding.near_tie``,
    ``entries`` when the caller has them), with the run's figures (the median and largest margin, the share of the
    run). ``ties``: :func:`near_tie_masks` when the caller has it."""
    notes = []
    for e in (entries if entries is not None else near_ties(m, ts, ties)):
        kind, within = e["kind"], 100 * e["within_frac"]
        where = f"pool {e['pool']!r}: " if e["pool"] is not None else ""
        notes.append(
            f"{where}{kind} binds by a hair: on {100 * e['share']:.0f} % of the run it is named binding with its "
            f"ceiling within {within:g} % of the compute ceiling (median {100 * e['margin_median']:.2f} "
            f"%, at most {100 * e['margin_max']:.2f} %): more {kind} would buy under "
            f"{within:g} % there; compute ({e['compute_tok_s']:,.0f} tok/s) holds the rest of "
            "the work (docs/report.md, binding)")
    return notes


#: shifts at most this many ticks apart, back and forth between the same two constraints, are one alternation
ALTERNATION_TICKS = 6
#: an alternation is noted when it holds at least this many shifts (assumption: below it a planner reads them one by one)
ALTERNATION_MIN_SHIFTS = 6


def alternation_notes(ts: dict, clock: dict | None = None, span_s: float | None = None) -> list[str]:
    """Where the binding label flips back and forth between the same two constraints tick after tick (a controller
    limit cycle: the thermal throttle switching between neighbouring clock levels to hold the dies at their limit,
    a trim around a cap), each flip is a real per-tick label but the shift count reads like many regime changes.
    One note per such window: its shifts, its span (in the local ``clock`` of report.json, :func:`fmt_local_window`;
    ``span_s`` the run's length), and each constraint's share of its ticks — both bind there."""
    from dcsim.metrics.fmt import fmt_local_window
    from dcsim.tpf import BINDING_NAMES

    b = np.asarray(ts["binding"])
    t = np.asarray(ts["t_s"], dtype=float)
    idx = np.nonzero(b[1:] != b[:-1])[0] + 1
    total = idx.size
    notes, i = [], 0
    while i < idx.size:
        pair = {int(b[idx[i] - 1]), int(b[idx[i]])}
        j = i
        while (j + 1 < idx.size and idx[j + 1] - idx[j] <= ALTERNATION_TICKS
               and {int(b[idx[j + 1] - 1]), int(b[idx[j + 1]])} == pair):
            j += 1
        n = j - i + 1
        if n >= ALTERNATION_MIN_SHIFTS:
            w = b[idx[i] - 1: idx[j] + 1]
            x, y = sorted(pair, key=lambda c: (-np.count_nonzero(w == c), c))
            notes.append(
                f"{BINDING_NAMES[x]} and {BINDING_NAMES[y]} alternate: {n} of the run's {total} shifts fall in "
                f"{fmt_local_window(t[idx[i]], t[idx[j]], clock, span_s)}, at most {ALTERNATION_TICKS} ticks apart; "
                f"over those "
                f"{w.size} ticks {BINDING_NAMES[x]} binds {100 * np.count_nonzero(w == x) / w.size:.0f} % and "
                f"{BINDING_NAMES[y]} {100 * np.count_nonzero(w == y) / w.size:.0f} %. Both hold the served rate there "
                "(a controller holding a limit by switching between neighbouring settings): read it as one regime "
                "(docs/report.md, binding)")
        i = j + 1
    return notes


def rack_limit_notes(m: Models, kind: str, which: str) -> list[str]:
    """Where the racks' own limits (``racks[].power``, derated, or ``racks[].cooling``) hold the fleet under its
    compute ceiling, whatever the interconnect or the plant: a note per pool naming the rack groups, so a planner
    reading "power binds" beside facility headroom knows it is the rack PDUs (or the rack cooling), not the
    contract (:meth:`dcsim.engine.tables.SupplyCurves.rack_limited`)."""
    notes = []
    for p, pool in enumerate(m.pools):
        cv = pool.curves if m.multi_pool else m.curves
        if not cv.rack_limited(which):
            continue
        names = []
        for gi, g in enumerate(m.groups):
            if gi not in pool.groups:
                continue
            lim = g.limits
            limit = lim.rack_power_limit_w if kind == "power" else lim.rack_cooling_limit_w
            full = g.rack_full_load_w
            if full > limit * (1 + 1e-9):
                field = "power.power_limit (derated)" if kind == "power" else "cooling.limit"
                names.append(f"racks[{gi}] ({m.scenario.racks[gi].name}) {field} {format_quantity(limit, 'power')} "
                             f"per rack against {format_quantity(full, 'power')} at full load")
        top = float(cv.frontier(which).rate[-1])
        where = f"pool {pool.name!r}: " if m.multi_pool else ""
        notes.append(f"{where}{kind} binds at the racks: " + "; ".join(names or ["the rack limits"])
                     + f" hold the fleet at {top:,.0f} tok/s, under its compute ceiling {cv.compute_tok_s:,.0f} tok/s, "
                     f"whatever the {'interconnect' if kind == 'power' else 'cooling plant'} (docs/engine.md, the "
                     "ceilings)")
    return notes


def pools_block(m: Models, ts: dict, dt: float, input_tokens: list[float]) -> list[dict]:
    """``report.json``'s ``pools``: one entry per model pool (the whole fleet without
    ``racks[].serves``) with its groups, classes, tokens, energy and J/token, FLOP/token, binding
    shares, mean ceilings, clock and cap, and token accounting (docs/report.md). A pool's facility
    energy is its IT energy × the facility's PUE of each tick (the shared plant and power chain
    charged in proportion to IT power)."""
    out = []
    for p, pool in enumerate(m.pools):
        c = pool_columns(m, ts, p)
        tok = float(np.sum(c["achieved_tok_s"]) * dt)
        e_it = float(np.sum(c["it_power_w"]) * dt)
        e_gpu = float(np.sum(c["gpu_power_w"]) * dt)
        e_fac = float(np.sum(c["it_power_w"] * ts["pue"]) * dt)
        b = np.asarray(c["binding"])
        n = max(b.size, 1)
        jpt = lambda e: e / tok if tok > 0 else None  # noqa: E731
        groups = []
        for gi in pool.groups:
            g, gs = m.groups[gi], m.scenario.racks[gi]
            groups.append({"name": g.name, "gpu": g.gpu_name, "model": g.model_name, "precision": gs.node.precision,
                           "tensor_parallel": g.node.gpus_per_replica, "gpus": g.gpus, "replicas": g.limits.replicas,
                           "flop_per_output_token": float(g.node.flops_per_output_token(
                               pool.mean_input, pool.mean_output, pool.decode_context)),
                           # what a replica holds and what caps its batch at full load, at the pool's context
                           "max_batch": int(gs.node.max_batch), "max_batched_tokens": int(gs.node.max_batched_tokens),
                           "kv_capacity_tokens": float(g.node.kv_capacity_tokens),
                           "batch_at_full_load": g.node.calibration["batch_limit"],
                           "batch_limited_by": g.node.batch_limiter(pool.mean_input, pool.mean_output,
                                                                    pool.decode_context)})
        out.append({
            "name": pool.name, "groups": groups,
            "classes": [m.workload.classes[i].name for i in pool.classes], "arrival_share": pool.share,
            "mean_input_tokens": pool.mean_input, "mean_output_tokens": pool.mean_output,
            "decode_context_tokens": pool.decode_context, "prompt_scv": pool.prompt_scv,
            "gpus": pool.gpus, "replicas": pool.replicas,
            "flop_per_output_token": pool_flop_per_output_token(m, p),
            "tokens": {"input": float(input_tokens[p]), "output": tok},
            "throughput_tok_s": {"output": tok / (n * dt), "demand_output": float(np.mean(c["demand_tok_s"]))},
            "energy_j": {"gpu": e_gpu, "it": e_it, "facility": e_fac},
            "joules_per_output_token": {"gpu": jpt(e_gpu), "it": jpt(e_it), "facility": jpt(e_fac)},
            "binding": {"share": {name: float(np.count_nonzero(b == k)) / n for k, name in enumerate(BINDING_NAMES)},
                        "n_shifts": int(np.count_nonzero(b[1:] != b[:-1])),
                        "final": BINDING_NAMES[int(b[-1])] if b.size else None},
            "ceilings_tok_s": {k: float(np.mean(c[f"{k}_tok_s"])) for k in ("compute", "power", "cooling")},
            "mean_clock": controller_figures(c)["mean_clock"], "mean_cap_w": float(np.mean(c["mean_cap_w"])),
            "tokens_accounting": {"arrived": float(np.sum(c["arrived_tokens"])), "served": tok,
                                  "waiting": float(c["queue_tokens"][-1]) if b.size else 0.0,
                                  "shed": float(np.sum(c["shed_tokens"]))},
        })
    return out


def run_moments(m: Models, ts: dict, dt: float) -> dict:
    """:func:`dcsim.engine.steady.scenario_moments`, read off the run's own ticks when the run had no
    faults (the same functions at the same mid-tick times), else evaluated afresh (fault-free)."""
    if m.faults is not None or ts["t_s"].size != math.ceil(m.scenario.duration / dt - 1e-9):
        return scenario_moments(m)
    return {"t_s": ts["t_s"] + 0.5 * dt, "demand_tok_s": ts["demand_tok_s"], "t_db_c": ts["t_out_c"],
            "t_wb_c": ts["t_wb_c"]}


def tpf_block(m: Models, run_mean: dict, mom: dict | None = None) -> dict:
    """``report.json``'s ``tpf`` block: the closed form of :func:`dcsim.engine.steady.steady_report`
    (the function ``dcsim tpf`` prints) at its labelled moments; the top-level figures are those of
    the ``peak_demand`` moment; ``run_mean`` is the closed form linearised at the run's own mean
    E_tok and PUE (a different operating point, labelled as such)."""
    st = steady_report(m, crossovers_too=False, moments=mom)
    peak = st["moments"]["peak_demand"]
    out = {k: peak[k] for k in ("demand_tok_s", "compute_tok_s", "power_tok_s", "cooling_tok_s",
                                "achieved_tok_s", "binding", "slack", "inputs")}
    out["operating_point"] = "peak_demand"
    out["moments"] = st["moments"]
    out["flop_per_output_token"] = st["flop_per_output_token"]
    # no binding (nor achieved or slack, which follow from it): the run's mean E_tok averages partial-load ticks,
    # whose J/token is higher, so P at it is not the power ceiling of any tick, and min(D, C, P, Q) at the mean
    # demand is no state the run was in (reference: "power", P 198,589 tok/s, where the run had power binding
    # 14 % of the time within 0.8 % of C = 226,177; docs/report.md, tpf.run_mean)
    out["run_mean"] = dict(run_mean,
                           operating_point="linearised at the run's mean: E_tok = IT energy / "
                           "output tokens and PUE = facility / IT energy of the run, mean interconnect, "
                           "heat rejection and demand",
                           note=RUN_MEAN_NOTE)
    return out


#: what ``tpf.run_mean`` says of itself in report.json
RUN_MEAN_NOTE = ("no binding: the run's mean E_tok averages its partial-load ticks (more J per token), so P here is "
                 "the rate the mean cap would fund at the run's average energy per token, not a ceiling any tick "
                 "met; which limit binds, and when, is binding.share (the run) and tpf.moments (the closed form "
                 "at labelled ticks)")


def _price_integral(ts: dict, dt: float, value: float | None, profile: list[float] | None,
                    start_hour: float) -> float | None:
    """∫ facility power × price (or carbon intensity) dt; ``profile`` multiplies by local hour."""
    if value is None:
        return None
    mult = 1.0
    if profile is not None:
        hour = ((ts["t_s"] + start_hour * 3600.0) // 3600).astype(int) % 24
        mult = np.asarray(profile, dtype=float)[hour]
    return float(np.sum(ts["facility_power_w"] * mult) * dt * value)


def fractional_frontier_warning(m, ts: dict, dt: float, duration_s: float) -> str | None:
    """Fluid, one pool: the capped ticks whose operating point is the frontier's consolidated one (load fraction
    NaN) at the lowest clock, loading fewer than :data:`FRACTIONAL_REPLICAS_BELOW` replicas at full load and not a
    whole count: request fidelity, which loads whole replicas (within its margin below the budget: 1.97 replicas
    are one), serves less there (docs/engine.md "At the lowest clock"). None elsewhere."""
    if m.multi_pool:
        return None
    pool = m.pools[0]
    gs = [m.groups[g] for g in pool.groups]
    # replicas loaded at full load at the lowest clock, along the efficiency ladder: request fidelity's count
    x = ladder_replicas(ts["achieved_tok_s"], [g.table for g in gs], [g.limits for g in gs])
    awake = np.asarray(ts["awake_fraction"], dtype=float)
    sel = ((np.asarray(ts["mode"]) == 1) & np.isnan(np.asarray(ts["load_fraction"], dtype=float))
           & (np.asarray(ts["mean_clock"]) <= float(m.clocks[0]) + 1e-9) & (x > 0)
           & (x < min(FRACTIONAL_REPLICAS_BELOW, pool.replicas * float(np.max(awake)))) & (np.abs(x - np.round(x)) > 1e-3))
    if not np.any(sel):
        return None
    return (f"pool {pool.name}: for {np.count_nonzero(sel) * dt / 3600:.3g} h of {duration_s / 3600:.3g} h the "
            f"power budget's frontier point loads {float(np.mean(x[sel])):.2f} of its {pool.replicas} replicas at "
            "full load at the lowest clock (mean), a fraction of a replica that no whole count realises: request "
            "fidelity loads whole replicas, running them above the lowest clock (below one replica: admitting less) (measured 2026-12-04: 1.97 of 2 replicas, "
            "-15 % tokens; 0.95 of 2, -32 %: docs/engine.md \"At the lowest clock\"); confirm with --set "
            "fidelity=request")


def fractional_replicas_warning(fr: dict, duration_s: float) -> str:
    """The request-fidelity warning of a pool whose frontier point needed a fractional count of loaded replicas
    (``_Lane.fractional_note``: docs/engine.md "At the lowest clock")."""
    tok, it = fr["tokens_vs_limit"], fr["it_vs_target"]
    gap = f"tokens {100 * tok:+.1f} % against the controller's limit; IT power {100 * it:+.1f} % against its target"
    shut = fr.get("door_shut_s", 0.0)
    if shut >= 0.5 * fr["seconds"]:
        # the replicas in service, idle, leave no room for any load under the budget: nothing is admitted (session 55;
        # it said "it ran whole replicas above the lowest clock, or one replica over its budget" there)
        how = (f"its replicas in service, idle, leave no room for any load under its budget: it admitted nothing for "
               f"{shut / 3600:.3g} h (controller.idle_power_down parks the idle replicas and serves under it)")
    else:
        how = "it ran whole replicas above the lowest clock, or one replica over its budget"
    return (f"pool {fr['pool']}: for {fr['seconds'] / 3600:.3g} h of {duration_s / 3600:.3g} h the power budget's "
            f"frontier point loads {fr['frontier_replicas']:.2f} of its {fr['replicas']} replicas at full load at the "
            f"lowest clock (mean), a fraction of a replica request fidelity cannot load: {how} (measured on those "
            f"ticks: {gap}); fluid's figures there are of a fractional replica count")


def assemble_report(m: Models, raw: dict, serving: dict | None) -> RunReport:
    """The typed report of a simulated run.

    ``raw`` is :func:`dcsim.engine.loop.simulate`'s output; ``serving`` the request engine's
    figures (request and hybrid fidelity) or ``None`` (fluid: the SLO figures are estimated).
    """
    sc = m.scenario
    ts = raw["timeseries"]
    dt = raw["dt"]
    duration = ts["t_s"].size * dt
    out_tok = float(np.sum(ts["achieved_tok_s"]) * dt)
    pool_out = [float(np.sum(pool_columns(m, ts, p)["achieved_tok_s"]) * dt) for p in range(len(m.pools))]
    pool_in = ((serving or {}).pop("_input_tokens_pools", None) if serving is not None else None)
    if pool_in is None:  # fluid: each pool's served output × its classes' input per output token
        pool_in = [o * p.mean_input / p.mean_output for o, p in zip(pool_out, m.pools)]
        in_tok = out_tok * m.workload.mean_input / m.workload.mean_output if not m.multi_pool else float(sum(pool_in))
    else:  # request and hybrid fidelity: the served requests' own input tokens
        in_tok = float(sum(pool_in))
    en = energy_summary(ts, dt)
    f_tok = flop_per_output_token(m, pool_out)
    k_eff = float(np.mean(ts["compute_tok_s"])) * f_tok
    demand_tok = float(np.sum(ts["demand_tok_s"]) * dt)
    log = raw["controller_log"]
    warnings = list(m.warnings)
    below = clock_below_range(m, ts)  # the controller's / thermal throttle's clocks, tick by tick
    warnings += [clock_warning(f"racks[{i}] ({g.name})", g.node.calibration, below[g.name])
                 for i, g in enumerate(m.groups) if g.name in below]
    if raw["interrupted"]:  # said with the numbers: dcsim.run returns the partial run (the audit of the API: silent)
        warnings.insert(0, f"PARTIAL: the run was interrupted after {duration / 3600:.3g} h of "
                           f"{float(sc.duration) / 3600:.3g} h simulated; every figure covers only that part")
    clock = sc.clock_block()

    def at(t_s: float) -> str:  # a moment of the run in the scenario's local clock
        return fmt_local_short(float(t_s), clock, duration)

    def _excess(drawn_w, limit_w) -> str:
        # the excess in W and as a share of the limit: request and hybrid fidelity's trim scatters a few W over
        # (+0.1 % at most, docs/engine.md), which "0.0 kW" hid (audit 2026-12-05)
        w = fmt_si(float(drawn_w - limit_w), "W")
        if limit_w <= 0:  # a plant down or a cap curtailed to nothing: no share of it
            return f"{w} (against a limit of 0 W)"
        p = 100 * float(drawn_w / limit_w - 1)
        return f"{w} ({p:+.2g} %)" if abs(p) < 10 else f"{w} ({p:+,.0f} %)"

    def _over(drawn, limit, slack_w: float = 0.0) -> tuple[np.ndarray, int]:
        # the ticks ``drawn`` is over ``limit`` (a relative 1e-9 and ``slack_w`` allowed) and the worst one's index:
        # the largest drawn / limit (a limit of 0 W: infinitely over), as report.json interconnect_max_excess_fraction
        # reads it (until session 54 the largest excess in W, which under a moving cap named a tick smaller in share)
        over = np.asarray(drawn > limit * (1 + 1e-9) + slack_w)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(np.asarray(limit) > 0, drawn / np.where(np.asarray(limit) > 0, limit, 1.0), np.inf)
        return over, int(np.argmax(np.where(over, share, -np.inf)))

    meter = ts.get("meter_power_w", ts["facility_power_w"])
    over, i = _over(meter, ts["interconnect_w"])
    exceeded_s = float(np.count_nonzero(over) * dt)
    max_excess = 0.0
    if exceeded_s > 0:  # the worst excess, against the cap in force then (a curtailed cap, not the contract)
        # a cap of 0 W in force (a curtailment to nothing): no fraction of it exists; null in report.json, the
        # warning below says "against a limit of 0 W" (it was inf and stopped the finished run at the invariants)
        max_excess = float(meter[i] / ts["interconnect_w"][i] - 1.0) if ts["interconnect_w"][i] > 0 else None
        # what it is: at request or hybrid fidelity a capped tick's draw scatters past the trim's margin by at most
        # SCATTER_BAND (docs/engine.md, "The contract at either fidelity"); the run's first tick, before anything is
        # measured, is named; anything larger is not that scatter
        why = ""
        if sc.fidelity != "fluid" and sc.controller.policy != "none":
            why = ("; the per-tick scatter of the request lanes' draw past their trim's margin, documented at most "
                   f"+{100 * CONTRACT_SCATTER_BAND:g} %" if max_excess is not None and max_excess <= CONTRACT_SCATTER_BAND else
                   f"; more than the request lanes' documented per-tick scatter (+{100 * CONTRACT_SCATTER_BAND:g} %)")
            if i == 0:
                why += ", on the run's first tick, before any draw was measured"
            if max_excess is None or max_excess > CONTRACT_SCATTER_BAND:
                # the known cause past the scatter: a pool whose frontier point at the lowest clock loads a fraction
                # of a replica, which whole replicas cannot realise (the 26 kW and 7 kW halls; its own warning below)
                why += "".join(f"; the known cause: pool {fr['pool']}'s frontier point at the lowest clock loads "
                               f"{fr['frontier_replicas']:.2f} of its {fr['replicas']} replicas, a fraction of a "
                               "replica whole replicas cannot realise"
                               for fr in (serving or {}).get("_fractional", [])[:1])
            why += " (docs/engine.md)"
        warnings.append(f"the facility drew more than its interconnect for {fmt_duration(exceeded_s)} of "
                        f"{fmt_duration(duration)} (at most {_excess(meter[i], ts['interconnect_w'][i])} over: "
                        f"{float(meter[i]) / 1e3:,.1f} kW at the meter against the "
                        f"{float(ts['interconnect_w'][i]) / 1e3:,.1f} kW cap in force at {at(ts['t_s'][i])}; "
                        f"controller.policy {sc.controller.policy}{why}; report.json interconnect_max_excess_fraction)")
    # the plant's capacity: without thermal masses (whose stored heat is the model's answer) a tick whose IT heat
    # exceeds what the plant can reject is a physically impossible steady state; policy none (never caps) and
    # request or hybrid overshoot can produce it: counted and warned, as the interconnect is
    cool_over, j = ((np.zeros(ts["t_s"].shape, dtype=bool), 0) if "thermal_engaged" in ts
                    else _over(ts["it_power_w"], ts["it_max_cooling_w"], 1e-6))
    cooling_exceeded_s = float(np.count_nonzero(cool_over) * dt)
    if cooling_exceeded_s > 0:
        warnings.append(f"the IT load exceeded what the cooling plant can reject for {fmt_duration(cooling_exceeded_s)} "
                        f"of {fmt_duration(duration)} (at most {_excess(ts['it_power_w'][j], ts['it_max_cooling_w'][j])} "
                        f"over: {float(ts['it_power_w'][j]) / 1e3:,.1f} kW of IT against "
                        f"{float(ts['it_max_cooling_w'][j]) / 1e3:,.1f} kW it can cool, at {at(ts['t_s'][j])}; "
                        f"controller.policy {sc.controller.policy}): a steady state the plant cannot hold (set "
                        "facility.thermal to model the heat it stores)")
    # the power chain's series elements the engine holds every budget to (Facility.max_it_delivered_w): the facility
    # power at most a given transformer rating (Facility.transformer_limit_w, its own loss included, as the budget
    # compares it), IT at most what the UPS rating carries. Policy none (never caps) draws through them; until
    # 2026-12-05 only the contract was counted, so a site within its contract but over its transformer read as met
    fac = m.facility
    tr_over, k_tr = _over(ts["facility_power_w"], math.inf if fac.quick_study else fac.transformer_limit_w)
    ups_over, k_ups = _over(ts["it_power_w"], fac.ups_it_cap_w)  # inf for a quick-study plant: never over
    delivery_exceeded_s = float(np.count_nonzero(tr_over | ups_over) * dt)
    for over_k, k, drawn, limit, what in ((tr_over, k_tr, ts["facility_power_w"], fac.transformer_limit_w,
                                           "the facility drew more than its transformer's rating"),
                                          (ups_over, k_ups, ts["it_power_w"], fac.ups_it_cap_w,
                                           "the IT load drew more than its UPS rating carries")):
        if np.any(over_k):
            warnings.append(f"{what} for {fmt_duration(float(np.count_nonzero(over_k) * dt))} of "
                            f"{fmt_duration(duration)} (at most {_excess(drawn[k], limit)} over: "
                            f"{float(drawn[k]) / 1e3:,.1f} kW against {float(limit) / 1e3:,.1f} kW at {at(ts['t_s'][k])}; "
                            f"controller.policy {sc.controller.policy}; report.json delivery_exceeded_s)")
    if m.multi_pool:
        warnings.append("several model pools (racks[].serves): the facility's F_tok is the output-weighted mean "
                        "of the pools'; its binding is that of the bound pool short of the largest share of its own work; per-pool "
                        "figures under pools (docs/report.md)")
    gap_notes: list[str] = []  # known SLO-estimate gaps too small to warn of (slo_gap_caveats)
    # the requests (a trace's, a synthetic class's) refused or cut by the context window in the run (outside the
    # arrived identities)
    refused = m.workload.context_refused(duration, dt)
    if serving is not None:
        serving = dict(serving)
        if "requests" in serving:
            serving["requests"] = {**serving["requests"], "refused_context": int(round(refused["requests"]))}
        goodput, slo, note = serving.pop("goodput_tok_s"), serving.pop("slo_attainment"), None
        ratio = serving.pop("_rack_over_ratio", 1.0)
        for fr in serving.pop("_fractional", []):
            warnings.append(fractional_replicas_warning(fr, duration))
        if serving.get("rack_limit_exceeded_s", 0.0) > 0:
            warnings.append(f"a simulated rack drew more than its limit (the lower of its derated PDU rating and its "
                            f"cooling limit) for {fmt_duration(serving['rack_limit_exceeded_s'])} of {fmt_duration(duration)}, "
                            f"at most {100 * (ratio - 1):.1f} % over: the controller holds the facility's budgets and "
                            "the racks on average, not each rack's draw tick by tick at this fidelity")
    else:  # fluid: the queueing-aware estimate (latency percentiles per class, or "not estimated")
        view = interactive_view(m, ts)  # the series the estimate reads, and its known gaps' shares with it
        est = slo_estimate(m, view)
        serving = report_block(est)
        goodput, slo, note = serving.pop("goodput_tok_s"), serving.pop("slo_attainment"), serving.pop("slo_note")
        if goodput is None:
            warnings.append(f"SLO figures {serving['slo_method']}")
        else:  # deferred tokens served by their deadline meet their SLO
            goodput += float(np.sum(deferred_on_time_tok_s(ts))) * dt / duration
        frac_w = fractional_frontier_warning(m, ts, dt, duration)
        if frac_w:
            warnings.append(frac_w)
        tail = tail_caveat(serving.get("slo_tail_near_ceiling"))
        if tail:  # the caveat travels with the number
            warnings.append(tail)
        if goodput is not None:
            warnings.extend(w for w in slo_gap_caveats(m, view, slo, gap_notes, est.critical_ticks,
                                                       est.saturated_ticks, est.kv_fill_s)
                            if w not in warnings)
    good_tok = goodput * duration if goodput is not None else 0.0
    # with deferrable work the goodput holds the deferred tokens served by their deadline (added above at fluid
    # fidelity, by the serving figures at request fidelity): stored apart so readers (the flexibility block,
    # dcsim compare) need not subtract them back out
    good_defer = (float(np.sum(deferred_on_time_tok_s(ts))) * dt / duration
                  if goodput is not None and "deferred_served_tok_s" in ts and duration > 0 else None)
    if out_tok <= 0:
        warnings.append("no output token was served: J/token, cost and carbon per token are undefined (null)")
    jpt = lambda j, tok: j / tok if tok > 0 else None  # noqa: E731
    cost = _price_integral(ts, dt, sc.economics.price, sc.economics.price_profile, m.start_hour)
    carbon = _price_integral(ts, dt, sc.economics.carbon_intensity, sc.economics.carbon_profile, m.start_hour)
    per_mtok = lambda x: x / out_tok * 1e6 if out_tok > 0 else None  # noqa: E731
    theta = 1.0  # the position paper's accounting factor (dimensionless, reported)
    bsum = binding_summary(ts, dt)
    bsum["within_band"] = binding_within_band(m, ts)
    ties = near_tie_masks(m, ts)  # once per run: the near-tie entries and the planner notes read it
    bsum["near_tie"] = near_ties(m, ts, ties)
    bsum["held_clock"] = held_clock(m, ts, PLANNER_NOTE_MIN_BINDING_SHARE)  # the held-clock notes read it
    mom = run_moments(m, ts, dt)
    tpf = tpf_block(m, closed_form_summary(ts, dt, f_tok, k_eff), mom)
    tpf["fewer_gpus"] = fewer_gpus_at_peak(m, mom, tpf["achieved_tok_s"])
    pools = pools_block(m, ts, dt, pool_in)
    if np.all(np.isposinf(ts["heat_capacity_w"])):  # a plant with no capacity: no facility cooling ceiling
        for block in (bsum, tpf, pools):
            unlimited_cooling_to_null(block)
        warnings.append("the facility's cooling has no capacity (facility.cooling.capacity unset: unlimited): it "
                        "sets no ceiling; the cooling figures of the Token Production Function are null")
    pue_t = ts["pue"]
    # what the interconnect can feed to IT: the IT power at which facility power reaches the cap (with
    # the PUE of THAT load), not cap / PUE(t) at the tick's own load (at light load the fixed losses
    # make PUE(t) large and cap / PUE(t) a fraction of what the site can deliver)
    avail = theta * ts["it_max_power_w"]
    delivered = theta * ts["facility_power_w"] / pue_t  # = IT power of each tick
    rep = RunReport(
        scenario=sc.name, seed=sc.seed, fidelity=sc.fidelity, duration_s=duration,
        partial=bool(raw["interrupted"]), tick_s=dt,
        tokens=Tokens(input=in_tok, output=out_tok),
        throughput_tok_s=Throughput(output=out_tok / duration, input=in_tok / duration,
                                    demand_output=demand_tok / duration),
        energy_j=en,
        joules_per_output_token=JoulesPerToken(gpu=jpt(en["gpu"], out_tok), it=jpt(en["it"], out_tok),
                                               facility=jpt(en["facility"], out_tok)),
        joules_per_slo_output_token=JoulesPerToken(gpu=jpt(en["gpu"], good_tok), it=jpt(en["it"], good_tok),
                                                   facility=jpt(en["facility"], good_tok)),
        pue=en["facility"] / en["it"] if en["it"] > 0 else None,
        peak_power_w=PeakPower(it=float(np.max(ts["it_power_w"])), facility=float(np.max(ts["facility_power_w"])),
                               gpu=float(np.max(ts["gpu_power_w"]))),
        pue_adjusted_delivered_power_w=DeliveredPower(
            mean=float(np.mean(delivered)), peak=float(np.max(delivered)),
            available={"mean": float(np.mean(avail)), "min": float(np.min(avail))},
            used=float(np.mean(delivered)), theta=theta),
        facility_power_w={"mean": float(np.mean(ts["facility_power_w"])), "peak": float(np.max(ts["facility_power_w"]))},
        utilization=out_tok / max(float(np.sum(ts["compute_tok_s"]) * dt), 1e-300),
        utilization_adjusted_output_tok_s=out_tok / duration,
        utilization_adjusted_output=utilization_adjusted(ts, dt, goodput),
        binding=Binding(**bsum),
        binding_potential=binding_potential_summary(ts),
        tpf=tpf,
        policy=sc.controller.policy, gpus=m.gpus, replicas=m.replicas,
        interconnect_w=float(np.max(ts["interconnect_w"])),
        interconnect_exceeded_s=exceeded_s,
        interconnect_max_excess_fraction=max_excess,
        cooling_exceeded_s=cooling_exceeded_s,
        delivery_exceeded_s=delivery_exceeded_s,
        # output tokens, from the recorded ticks (consistent for partial runs)
        tokens_accounting=TokensAccounting(
            arrived=float(np.sum(ts["arrived_tokens"])), served=out_tok,
            waiting=(float(ts["queue_tokens"][-1]) + float(ts.get("deferred_backlog_tokens", [0.0])[-1])
                     if ts["t_s"].size else 0.0),
            shed=float(np.sum(ts["shed_tokens"])), refused_context_in=refused["in_tokens"],
            refused_context_out=refused["out_tokens"], cut_context_out=refused["cut_out_tokens"]),
        controller=ControllerSummary(actions=len(log) + raw["controller_log_dropped"],
                                     cap_events=sum(1 for a in log if a["action"] == "cap"),
                                     **controller_figures(ts), hold_limit_s=float(sc.controller.hold_limit)),
        warnings=warnings,
        provenance=Provenance(
            dcsim_version=__version__, scenario_hash=scenario_hash(sc), seed=sc.seed,
            calibration_profiles=sorted({str(g.profile) for g in m.groups if g.profile}),
            gpus=sorted({g.gpu_name for g in m.groups}), models=sorted({g.model_name for g in m.groups}),
            calibration=calibration_provenance(m, below), overrides=sc.overrides, code_hash=code_hash(),
            serving_backend=effective_backend(sc.serving.backend)),
        goodput_tok_s=goodput, slo_attainment=slo,
        goodput_interactive_tok_s=None if good_defer is None else goodput - good_defer,
        goodput_deferred_tok_s=good_defer, slo_note=note, serving_figures=serving,
        cost=None if cost is None else Money(usd=cost, usd_per_mtok=per_mtok(cost)),
        clock=sc.clock_block(),
        notes=planner_notes(m, ts, mom, tpf, bsum["near_tie"], ties, bsum["held_clock"]) + gap_notes,
        carbon=None if carbon is None else Carbon(g=carbon, g_per_mtok=per_mtok(carbon)),
        pools=pools,
        heat_rejection=heat_rejection_kind(sc.facility.cooling),
    )
    if raw.get("flex") is not None:  # issue 18 blocks (dcsim.engine.flex)
        from dcsim.engine.flex import flex_report, inlet_allowable_warning
        for k, v in flex_report(raw["flex"], ts, dt).items():
            setattr(rep, k, v)
        hot = inlet_allowable_warning(rep.thermal, duration, at, fmt_duration) if rep.thermal else None
        if hot:
            rep.warnings.append(hot)
        billed = (rep.grid or {}).get("meter", {})
        if rep.cost is None and billed.get("cost_usd") is not None:  # priced by grid.price: paid at the meter
            rep.cost = Money(usd=billed["cost_usd"], usd_per_mtok=per_mtok(billed["cost_usd"]),
                             basis="meter energy x grid.price")
        if rep.carbon is None and billed.get("carbon_g") is not None:
            rep.carbon = Carbon(g=billed["carbon_g"], g_per_mtok=per_mtok(billed["carbon_g"]),
                                basis="meter energy x grid.carbon")
    if duration > ANNUAL_MIN_S:
        share = None if goodput is None or out_tok <= 0 else goodput * duration / out_tok
        rep.annual = annual_block(m, raw, ts, dt, share)
    return rep


#: Runs longer than this (s) get the ``annual`` block (month × hour aggregates; docs/grid.md).
ANNUAL_MIN_S = 3 * 86400.0


def annual_block(m: Models, raw: dict, ts: dict, dt: float, slo_token_share: float | None) -> dict:
    """``report.json``'s ``annual`` block: :func:`dcsim.metrics.annual.annual_summary` of the run
    on its own calendar (``start:``), with the run's price and carbon per tick when it has them.
    ``slo_token_share``: the share of the run's output tokens that met their SLO (goodput × duration
    / output tokens), so that the block's SLO-meeting tokens add up to the run's goodput."""
    from dcsim.engine.flex import price_carbon_per_tick, run_start
    from dcsim.metrics.annual import annual_summary

    fx = raw.get("flex")
    n = ts["t_s"].size
    if fx is not None:
        price, carbon = (None if a is None else a[:n] for a in (fx.price, fx.carbon))
    else:
        price, carbon = price_carbon_per_tick(m, ts["t_s"] + 0.5 * dt)
    out = annual_summary(ts, run_start(m), tick_s=dt, slo_token_share=slo_token_share, price=price, carbon=carbon)
    out["start"] = run_start(m).isoformat()
    return out
