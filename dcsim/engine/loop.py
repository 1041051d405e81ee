"""The engine: simpy owns time; the controller tick is the one feedback arrow.

Each controller tick (length ``dt``):

1. exogenous inputs for a chunk of ticks are precomputed at once, vectorized:
   demand, weather, the interconnect cap, and from them the ceilings C, P, Q of
   the Token Production Function (P and Q by inverting the monotone facility and
   node power models, see :mod:`dcsim.engine.tables`);
2. the tick serves work at the clock level the controller chose on the previous
   tick, never more than the current power and cooling budgets allow (admission
   is held otherwise; waiting work beyond ``hold_limit`` is shed and counted);
3. the controller looks at the headroom and picks the clock level for the next
   tick (the highest one that serves the most work within the limits), logging
   every change with its reason;
4. IT power follows from the node tables, then facility power from the power
   chain and cooling plant, vectorized per chunk.

In ``fluid`` fidelity the work is a token flow per facility (replicas are
identical within a group and share load in proportion to their capacity). In
``request`` and ``hybrid`` fidelity, see :mod:`dcsim.engine.requests`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import simpy

from dcsim.engine.build import Models
from dcsim.tpf import BINDING_NAMES, binding_of

__all__ = ["Exogenous", "exogenous", "FluidState", "simulate"]

CHUNK_TICKS = 4096


@dataclass
class Exogenous:
    """Per-tick inputs that do not depend on the simulation state (arrays of length n)."""

    t_s: np.ndarray            # tick start, s
    demand_tok_s: np.ndarray   # output tokens/s requested
    arrival_rate: np.ndarray   # requests/s
    t_db_c: np.ndarray
    t_wb_c: np.ndarray
    interconnect_w: np.ndarray
    it_max_power_w: np.ndarray     # largest IT power the interconnect allows
    heat_capacity_w: np.ndarray    # heat the plant can reject
    it_max_cooling_w: np.ndarray   # largest IT power whose heat the plant can reject
    compute_tok_s: np.ndarray
    power_tok_s: np.ndarray
    cooling_tok_s: np.ndarray
    fit_by_level: np.ndarray       # (n, K) largest rate within power and cooling at each clock level
    availability: np.ndarray       # fraction of replicas in service


def exogenous(m: Models, i0: int, i1: int, dt: float,
              availability: Callable[[np.ndarray], np.ndarray] | None = None) -> Exogenous:
    """Vectorized exogenous inputs and TPF ceilings for ticks ``i0 .. i1-1``."""
    t = np.arange(i0, i1) * dt
    tm = t + 0.5 * dt
    lam = np.asarray(m.workload.rate(tm), dtype=float)
    demand = lam * m.workload.mean_output
    t_db, t_wb = m.facility.weather.at(tm)
    t_db, t_wb = np.array(t_db, dtype=float), np.array(t_wb, dtype=float)
    cap = np.full(t.shape, float(m.facility.interconnect_w))
    avail = np.ones(t.shape)
    cool_factor = np.ones(t.shape)
    fx = m.faults
    if fx is not None:  # exogenous events: failures, curtailments, heat waves, chiller outages
        avail = np.asarray(fx.availability(tm), dtype=float) * avail
        cap = cap * np.asarray(fx.interconnect_factor(tm), dtype=float)
        t_db, t_wb = fx.weather(tm, t_db, t_wb)
        cool_factor = np.asarray(fx.cooling_factor(tm), dtype=float)
    if availability is not None:
        avail = avail * np.asarray(availability(tm), dtype=float)
    lf = m.liquid_fraction
    it_max_p = np.asarray(m.facility.max_it_power_w(cap, lf, t_db, t_wb), dtype=float)
    heat_cap = np.asarray(m.facility.heat_rejection_capacity_w(t_db, t_wb, lf), dtype=float) * cool_factor
    # IT power whose heat (IT + in-room power-chain losses) the plant can reject
    it_max_q = np.asarray(m.facility.max_it_for_cooling_w(t_db, t_wb, lf), dtype=float) * cool_factor
    cv = m.curves
    # With a fraction a of replicas in service, a facility rate R at IT power W scales to
    # (a·R, a·(W − overhead) + overhead): invert on the scaled budget.
    ovh = sum(g.limits.racks * g.limits.rack_overhead_w for g in m.groups)
    a = np.maximum(avail, 1e-12)
    scale_budget = lambda b: (b - ovh) / a + ovh  # noqa: E731
    compute = cv.compute_tok_s * avail
    power = cv.ceiling(scale_budget(it_max_p), "p") * avail
    cooling = cv.ceiling(scale_budget(it_max_q), "q") * avail
    fit = cv.fit_by_level(scale_budget(np.minimum(it_max_p, it_max_q))) * avail[:, None]
    return Exogenous(t, demand, lam, t_db, t_wb, cap, it_max_p, heat_cap, it_max_q, compute, power, cooling,
                     fit, avail)


@dataclass
class FluidState:
    """Controller and queue state carried from tick to tick."""

    backlog_tok: float = 0.0
    level: int = -1            # clock level index chosen for the next tick
    shed_tok: float = 0.0
    log: list = field(default_factory=list)
    log_dropped: int = 0


@dataclass
class Trace:
    """Per-tick records of a run, as lists of chunk arrays (concatenated at the end)."""

    cols: dict = field(default_factory=dict)

    def add(self, **arrays):
        for k, v in arrays.items():
            self.cols.setdefault(k, []).append(np.asarray(v))

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) if v else np.array([]) for k, v in self.cols.items()}


LOG_LIMIT = 5000


def _log(state: FluidState, entry: dict) -> None:
    if len(state.log) < LOG_LIMIT:
        state.log.append(entry)
    else:
        state.log_dropped += 1


def _choose_level(fit_row: np.ndarray, need_tok_s: float, policy: str) -> tuple[int, str]:
    """Controller: the highest clock level that serves the most of ``need_tok_s`` within limits."""
    K = fit_row.size
    if policy == "none":
        return K - 1, "uncapped"
    served = np.minimum(fit_row, need_tok_s)
    best = served.max()
    ok = np.nonzero(served >= best * (1 - 1e-9))[0]
    k = int(ok[-1])
    if k == K - 1:
        return k, "headroom"
    return k, "power/cooling limit: clock lowered"


def simulate(m: Models, *, progress: Callable[[float], None] | None = None,
             request_engine=None, availability=None) -> dict:
    """Advance the scenario through time. Returns the per-tick arrays and run facts.

    ``request_engine`` (optional) serves requests replica by replica at request
    fidelity on each tick; without it, work is a fluid token flow.
    """
    sc = m.scenario
    dt = float(sc.controller.tick)
    n_ticks = int(math.ceil(sc.duration / dt - 1e-9))
    policy = sc.controller.policy
    hold = float(sc.controller.hold_limit)
    K = m.clocks.size
    cv = m.curves
    state = FluidState(level=K - 1)
    trace = Trace()
    env = simpy.Environment()
    done = {"ticks": 0, "interrupted": False}
    wall0 = time.perf_counter()

    def ticks(env):
        for i0 in range(0, n_ticks, CHUNK_TICKS):
            i1 = min(n_ticks, i0 + CHUNK_TICKS)
            ex = exogenous(m, i0, i1, dt, availability)
            n = i1 - i0
            served = np.empty(n)
            level = np.empty(n, dtype=np.int16)
            backlog = np.empty(n)
            shed = np.empty(n)
            demand = ex.demand_tok_s
            fit = ex.fit_by_level
            uncapped = cv.rate_c[:, -1]
            extra = None
            for j in range(n):
                k = state.level
                need = state.backlog_tok / dt + demand[j]
                limit = uncapped[k] * ex.availability[j] if policy == "none" else fit[j, k]
                if request_engine is not None:
                    s = request_engine.tick(ex.t_s[j], dt, k, limit, need)
                else:
                    s = need if need < limit else limit
                b = state.backlog_tok + (demand[j] - s) * dt
                cap_tok = hold * max(s, 0.0)
                sh = b - cap_tok if b > cap_tok else 0.0
                state.backlog_tok = b - sh
                state.shed_tok += sh
                served[j], level[j], backlog[j], shed[j] = s, k, state.backlog_tok, sh
                nk, why = _choose_level(fit[j] if policy != "none" else uncapped, state.backlog_tok / dt + demand[j], policy)
                if nk != k:
                    _log(state, {"t_s": float(ex.t_s[j] + dt), "action": "set_clock", "from": float(m.clocks[k]),
                                 "to": float(m.clocks[nk]), "reason": why,
                                 "demand_tok_s": float(demand[j]), "t_out_c": float(ex.t_db_c[j])})
                if sh > 0 and (j == 0 or shed[j - 1] == 0):
                    _log(state, {"t_s": float(ex.t_s[j]), "action": "shed", "reason": f"waiting work beyond hold_limit {hold:g} s",
                                 "tokens": float(sh)})
                state.level = nk
                done["ticks"] += 1
                yield env.timeout(dt)
            if request_engine is not None:
                extra = request_engine.chunk_power(i0, i1)
            _record_chunk(m, trace, ex, served, level, backlog, shed, dt, extra)
            if progress is not None:
                progress(i1 / n_ticks)

    env.process(ticks(env))
    try:
        env.run()
    except KeyboardInterrupt:
        done["interrupted"] = True
    arrays = trace.arrays()
    return {
        "timeseries": arrays,
        "dt": dt,
        "ticks_done": int(arrays["t_s"].size) if "t_s" in arrays else 0,
        "ticks_planned": n_ticks,
        "interrupted": done["interrupted"],
        "shed_tok": state.shed_tok,
        "backlog_tok": state.backlog_tok,
        "controller_log": state.log,
        "controller_log_dropped": state.log_dropped,
        "wall_s": time.perf_counter() - wall0,
    }


def _operating_point(m: Models, served: np.ndarray, level: np.ndarray, avail: np.ndarray, policy: str):
    """IT power, GPU power and mean iteration time for served rates at chosen clock levels."""
    cv = m.curves
    it = np.empty(served.size)
    gpu = np.empty(served.size)
    uu = np.empty(served.size)
    rate_tab, it_tab, gpu_tab = (cv.rate_c, cv.it_c, cv.gpu_c) if policy == "none" else (cv.rate_pq, cv.it_pq, cv.gpu_pq)
    ovh = sum(g.limits.racks * g.limits.rack_overhead_w for g in m.groups)
    a = np.maximum(avail, 1e-12)
    for k in np.unique(level):
        sel = level == k
        r_full = served[sel] / a[sel]  # rate if all replicas were in service
        u = np.interp(r_full, rate_tab[k], cv.u)
        uu[sel] = u
        it[sel] = a[sel] * (np.interp(u, cv.u, it_tab[k]) - ovh) + ovh
        gpu[sel] = a[sel] * np.interp(u, cv.u, gpu_tab[k])
    return it, gpu, uu


def _record_chunk(m: Models, trace: Trace, ex: Exogenous, served, level, backlog, shed, dt, extra) -> None:
    policy = m.scenario.controller.policy
    if extra is not None:  # request fidelity measured its own IT and GPU power
        it, gpu = extra["it_power_w"], extra["gpu_power_w"]
        load_u = np.full(served.size, np.nan)
    else:
        it, gpu, load_u = _operating_point(m, served, level, ex.availability, policy)
    fb = m.facility.breakdown(it, m.liquid_fraction, ex.t_db_c, ex.t_wb_c)
    binding = binding_of(ex.demand_tok_s, ex.compute_tok_s, ex.power_tok_s, ex.cooling_tok_s)
    g0 = m.groups[0]
    gpus = sum(g.gpus for g in m.groups)
    # Equivalent per-GPU cap of the chosen clock level: GPU power at full batch and that clock.
    cap_w = g0.table.gpu[level, -1] / g0.node.gpus_per_replica
    trace.add(
        t_s=ex.t_s, demand_tok_s=ex.demand_tok_s, arrival_rate=ex.arrival_rate,
        compute_tok_s=ex.compute_tok_s, power_tok_s=ex.power_tok_s, cooling_tok_s=ex.cooling_tok_s,
        achieved_tok_s=served, binding=binding,
        it_power_w=fb["it"], gpu_power_w=gpu, cooling_power_w=fb["cooling"], loss_power_w=fb["losses"],
        fixed_power_w=fb["fixed"], facility_power_w=fb["facility"], interconnect_w=ex.interconnect_w,
        pue=fb["facility"] / fb["it"], t_out_c=ex.t_db_c, t_wb_c=ex.t_wb_c,
        gpus_in_service=ex.availability * gpus, mean_clock=m.clocks[level], mean_cap_w=cap_w,
        queue_tokens=backlog, shed_tokens=shed, clock_level=level, load_fraction=load_u, it_max_power_w=ex.it_max_power_w, heat_capacity_w=ex.heat_capacity_w,
        it_max_cooling_w=ex.it_max_cooling_w,
        **{f"cooling_{p}_w": fb[f"cooling_{p}"] for p in ("chiller", "fans", "pumps", "tower") if f"cooling_{p}" in fb},
        **{f"loss_{p}_w": fb[f"loss_{p}"] for p in ("transformer", "ups", "pdu") if f"loss_{p}" in fb},
    )


def binding_names(codes: np.ndarray) -> list[str]:
    """Binding codes → names."""
    return [BINDING_NAMES[int(c)] for c in codes]
