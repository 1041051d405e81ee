"""The engine: simpy owns time; the controller tick is the one feedback arrow.

On each controller tick (length ``dt``):

1. exogenous inputs for a chunk of ticks are precomputed at once, vectorized:
   demand, weather, the interconnect cap, faults, and from them the ceilings C, P, Q
   of the Token Production Function (P and Q on the efficient frontier of the node and
   facility power models, see :mod:`dcsim.engine.tables`);
2. the controller compares the work waiting (queue + arrivals) with what fits in the
   power and cooling budgets:

   * it fits at full clock with load spread evenly → run uncapped;
   * it does not → cap: policy ``frontier`` lowers node power caps and consolidates load
     so the facility runs on its efficient frontier (it reaches the P/Q ceilings);
     policy ``uniform`` gives every node the same clock level (as POLCA-style capping
     does) and reaches somewhat less; policy ``none`` never caps (limits may be exceeded,
     counted in ``interconnect_exceeded_s``);
   * work that still does not fit waits (admission held); work waiting longer than
     ``hold_limit`` is shed and counted — never silently lost;

   every change of mode is logged with its time and reason;
3. IT power follows from the operating point, then facility power from the power chain
   and cooling plant, vectorized per chunk.

Power caps act within the tick (hardware power capping responds in milliseconds); the
budgets depend only on exogenous inputs, so there is no algebraic loop. In ``fluid``
fidelity the work is a token flow; ``request`` and ``hybrid`` fidelity hand each tick to
:mod:`dcsim.engine.requests`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import simpy

from dcsim.engine.build import Models
from dcsim.engine.interrupt import StopAtTick
from dcsim.tpf import binding_of

__all__ = ["Exogenous", "exogenous", "simulate", "MODE_NAMES"]

CHUNK_TICKS = 4096
LOG_LIMIT = 5000
#: Operating modes recorded per tick: full clock and even load; on the efficient frontier;
#: a uniform clock level below full (policy 'uniform').
MODE_NAMES = ("uncapped", "frontier", "uniform_cap")


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
    fit_top: np.ndarray            # largest rate within both budgets at full clock, even load
    fit_frontier: np.ndarray       # largest rate within both budgets on the efficient frontier
    fit_levels: np.ndarray         # (n, K) largest rate within both budgets at each uniform clock level
    availability: np.ndarray       # fraction of replicas in service
    overhead_w: float              # rack overhead power (W), not scaled by availability


def exogenous(m: Models, i0: int, i1: int, dt: float,
              availability: Callable[[np.ndarray], np.ndarray] | None = None) -> Exogenous:
    """Vectorized exogenous inputs and TPF ceilings for ticks ``i0 .. i1-1`` (evaluated at mid-tick)."""
    t = np.arange(i0, i1) * dt
    tm = t + 0.5 * dt
    lam = np.asarray(m.workload.rate(tm), dtype=float)
    demand = m.workload.demand_tok_s(t, dt)  # exact per-window tokens for traces (issue 17.4)
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
        t_db, t_wb = np.asarray(t_db, dtype=float), np.asarray(t_wb, dtype=float)
        cool_factor = np.asarray(fx.cooling_factor(tm), dtype=float)
    if availability is not None:
        avail = avail * np.asarray(availability(tm), dtype=float)
    lf = m.liquid_fraction
    it_max_p = np.asarray(m.facility.max_it_power_w(cap, lf, t_db, t_wb), dtype=float)
    heat_cap = np.asarray(m.facility.heat_rejection_capacity_w(t_db, t_wb, lf), dtype=float) * cool_factor
    # IT power whose heat (IT + in-room power-chain losses) the plant can reject
    it_max_q = np.asarray(m.facility.max_it_for_cooling_w(t_db, t_wb, lf), dtype=float) * cool_factor
    cv = m.curves
    # With a fraction a of replicas in service, the facility's (IT, rate) points scale to
    # (a·(IT − overhead) + overhead, a·rate): invert on the scaled budget.
    ovh = m.overhead_w
    a = np.maximum(avail, 1e-12)
    unit = lambda b: (b - ovh) / a + ovh  # noqa: E731
    both = unit(np.minimum(it_max_p, it_max_q))
    K = cv.rate_pq.shape[0]
    levels = np.stack([np.interp(both, cv.it_pq[k], cv.rate_pq[k], left=0.0) for k in range(K)], axis=-1)
    return Exogenous(
        t, demand, lam, t_db, t_wb, cap, it_max_p, heat_cap, it_max_q,
        compute_tok_s=cv.compute_tok_s * avail,
        power_tok_s=cv.ceiling(unit(it_max_p), "p") * avail,
        cooling_tok_s=cv.ceiling(unit(it_max_q), "q") * avail,
        fit_top=cv.fit_top(both) * avail,
        fit_frontier=cv.ceiling(both, "pq") * avail,
        fit_levels=levels * avail[:, None],
        availability=avail, overhead_w=ovh,
    )


@dataclass
class _State:
    backlog_tok: float = 0.0
    shed_tok: float = 0.0
    mode: int = 0
    log: list = field(default_factory=list)
    log_dropped: int = 0

    def note(self, entry: dict) -> None:
        if len(self.log) < LOG_LIMIT:
            self.log.append(entry)
        else:
            self.log_dropped += 1


@dataclass
class _Trace:
    cols: dict = field(default_factory=dict)

    def add(self, **arrays):
        for k, v in arrays.items():
            self.cols.setdefault(k, []).append(np.asarray(v))

    def arrays(self) -> dict[str, np.ndarray]:
        n = min((len(v) for v in self.cols.values()), default=0)  # a Ctrl-C mid-add drops that chunk
        return {k: np.concatenate(v[:n]) for k, v in self.cols.items() if n}


def simulate(m: Models, *, progress: Callable[[float], None] | None = None,
             request_engine=None, availability=None) -> dict:
    """Advance the scenario through time; returns the per-tick arrays and run facts.

    ``request_engine`` (optional) serves requests replica by replica on each tick; it
    receives the controller's rate limit and returns what it served.
    """
    sc = m.scenario
    dt = float(sc.controller.tick)
    n_ticks = int(math.ceil(sc.duration / dt - 1e-9))
    policy = sc.controller.policy
    hold = float(sc.controller.hold_limit)
    state = _State()
    trace = _Trace()
    env = simpy.Environment()
    done = {"interrupted": False}
    wall0 = time.perf_counter()
    c_full = m.curves.compute_tok_s
    cur: dict = {}  # the chunk in progress, so a Ctrl-C keeps its finished ticks
    stop = StopAtTick()  # first Ctrl-C: stop at the end of the current tick

    def record_partial() -> None:  # the finished ticks of the chunk in progress
        k, ex = cur["j"], cur["ex"]
        part = dataclasses.replace(ex, **{f.name: getattr(ex, f.name)[:k] for f in dataclasses.fields(ex)
                                          if isinstance(getattr(ex, f.name), np.ndarray)})
        c = [a[:k] for a in cur["cols"]]
        extra = request_engine.chunk_power(c[1], c[2]) if request_engine is not None else None
        _record_chunk(m, trace, part, *c, extra)

    def ticks(env):
        for i0 in range(0, n_ticks, CHUNK_TICKS):
            i1 = min(n_ticks, i0 + CHUNK_TICKS)
            ex = exogenous(m, i0, i1, dt, availability)
            n = i1 - i0
            served = np.empty(n)
            mode = np.zeros(n, dtype=np.int8)
            level = np.full(n, m.clocks.size - 1, dtype=np.int16)
            backlog = np.empty(n)
            shed = np.empty(n)
            arrived = np.empty(n)
            demand, fit_top, fit_fr, avail = ex.demand_tok_s, ex.fit_top, ex.fit_frontier, ex.availability
            if request_engine is not None:  # effective clock of the frontier operating point
                fr = m.curves.frontier("pq")
                lvl = np.interp(fit_fr / np.maximum(avail, 1e-12), fr.rate, fr.level)
                # quantized to the controller's clock levels (replicas cache their step tables per clock)
                clk_fr = m.clocks[np.rint(lvl).astype(int)]
            cur.update(ex=ex, cols=(served, mode, level, backlog, shed, arrived), j=0)
            for j in range(n):
                queued = state.backlog_tok if request_engine is None else request_engine.door_backlog_tok
                need = queued / dt + demand[j]
                k = level[j]
                if policy == "none" or need <= fit_top[j]:
                    md, limit = 0, (c_full * avail[j] if policy == "none" else fit_top[j])
                elif policy == "frontier":
                    md, limit = 1, fit_fr[j]
                else:  # uniform: the highest clock level that serves the most
                    row = ex.fit_levels[j]
                    best = min(float(row.max()), need)
                    k = int(np.nonzero(row >= best * (1 - 1e-12))[0][-1])
                    md, limit = 2, row[k]
                    level[j] = k
                if request_engine is not None:
                    clk = clk_fr[j] if md == 1 else m.clocks[k]
                    s, b, sh, arr = request_engine.tick(float(ex.t_s[j]), dt, limit, float(clk), float(avail[j]))
                    state.backlog_tok = b
                else:
                    arr = demand[j] * dt
                    s = need if need < limit else limit
                    b = state.backlog_tok + arr - s * dt
                    cap_tok = hold * s
                    sh = b - cap_tok if b > cap_tok else 0.0
                    state.backlog_tok = b - sh
                state.shed_tok += sh
                served[j], mode[j], backlog[j], shed[j], arrived[j] = s, md, state.backlog_tok, sh, arr
                if md != state.mode:
                    why = ("headroom restored" if md == 0 else
                           "power or cooling budget short: caps lowered" + (", load consolidated" if md == 1 else ""))
                    state.note({"t_s": float(ex.t_s[j]), "action": "cap" if md else "uncap",
                                "mode": MODE_NAMES[md], "reason": why, "demand_tok_s": float(demand[j]),
                                "limit_tok_s": float(limit), "t_out_c": float(ex.t_db_c[j])})
                    state.mode = md
                if sh > 0 and (j == 0 or shed[j - 1] == 0):
                    state.note({"t_s": float(ex.t_s[j]), "action": "shed", "tokens": float(sh),
                                "reason": f"waiting work beyond hold_limit {hold:g} s"})
                cur["j"] = j + 1
                yield env.timeout(dt)
                if stop.requested:
                    record_partial()
                    done["interrupted"] = True
                    return
            cur.clear()
            extra = request_engine.chunk_power(mode, level) if request_engine is not None else None
            _record_chunk(m, trace, ex, served, mode, level, backlog, shed, arrived, extra)
            if progress is not None:
                progress(i1 / n_ticks)

    env.process(ticks(env))
    try:
        with stop:
            env.run()
    except KeyboardInterrupt:  # a second Ctrl-C (or one outside the tick loop): stop now
        done["interrupted"] = True
        if cur.get("j") and request_engine is None:  # fluid ticks are whole once counted
            record_partial()
        if not trace.cols:
            raise  # nothing simulated yet: there is no partial result to report
    arrays = trace.arrays()
    return {
        "timeseries": arrays,
        "dt": dt,
        "ticks_planned": n_ticks,
        "interrupted": done["interrupted"],
        "shed_tok": state.shed_tok,
        "backlog_tok": state.backlog_tok,
        "controller_log": state.log,
        "controller_log_dropped": state.log_dropped,
        "wall_s": time.perf_counter() - wall0,
    }


def operating_point(m: Models, served, mode, level, avail) -> dict[str, np.ndarray]:
    """IT power (W), GPU power (W), effective clock and per-replica load fraction per tick.

    ``served`` tokens/s; ``mode`` per :data:`MODE_NAMES`; ``level`` clock-level index
    (uniform mode); ``avail`` fraction of replicas in service.
    """
    cv = m.curves
    ovh = m.overhead_w
    a = np.maximum(np.asarray(avail, dtype=float), 1e-12)
    r = np.asarray(served, dtype=float) / a  # rate if every replica were in service
    it, gpu = np.empty(r.size), np.empty(r.size)
    clock, u = np.empty(r.size), np.full(r.size, np.nan)
    top = cv.rate_pq.shape[0] - 1
    if m.scenario.controller.policy == "none":
        sel = np.ones(r.size, dtype=bool)
        u[sel] = np.interp(r, cv.rate_c[top], cv.u)
        it[sel] = np.interp(u, cv.u, cv.it_c[top])
        gpu[sel] = np.interp(u, cv.u, cv.gpu_c[top])
        clock[sel] = m.clocks[top]
    else:
        for md in np.unique(mode):
            sel = mode == md
            if md == 1:
                f = cv.frontier("pq")
                it[sel] = np.interp(r[sel], f.rate, f.it)
                gpu[sel] = np.interp(r[sel], f.rate, f.gpu)
                clock[sel] = np.interp(np.interp(r[sel], f.rate, f.level), np.arange(m.clocks.size), m.clocks)
                continue
            for k in np.unique(level[sel]):
                s2 = sel & (level == k)
                u[s2] = np.interp(r[s2], cv.rate_pq[k], cv.u)
                it[s2] = np.interp(u[s2], cv.u, cv.it_pq[k])
                gpu[s2] = np.interp(u[s2], cv.u, cv.gpu_pq[k])
                clock[s2] = m.clocks[k]
    return {"it_power_w": a * (it - ovh) + ovh, "gpu_power_w": a * gpu, "clock": clock, "load_fraction": u}


def _record_chunk(m: Models, trace: _Trace, ex: Exogenous, served, mode, level, backlog, shed, arrived, extra) -> None:
    op = operating_point(m, served, mode, level, ex.availability)
    if extra is not None:  # request fidelity measured its own IT and GPU power
        op["it_power_w"], op["gpu_power_w"] = extra["it_power_w"], extra["gpu_power_w"]
    fb = m.facility.breakdown(op["it_power_w"], m.liquid_fraction, ex.t_db_c, ex.t_wb_c)
    binding = binding_of(ex.demand_tok_s, ex.compute_tok_s, ex.power_tok_s, ex.cooling_tok_s)
    g0 = m.groups[0]
    # equivalent per-GPU cap: GPU power of a full-batch replica at the effective clock
    clk_idx = np.interp(op["clock"], m.clocks, np.arange(m.clocks.size))
    cap_w = np.interp(clk_idx, np.arange(m.clocks.size), g0.table.gpu[:, -1]) / g0.node.gpus_per_replica
    trace.add(
        t_s=ex.t_s, demand_tok_s=ex.demand_tok_s, arrival_rate=ex.arrival_rate,
        compute_tok_s=ex.compute_tok_s, power_tok_s=ex.power_tok_s, cooling_tok_s=ex.cooling_tok_s,
        achieved_tok_s=served, binding=binding,
        it_power_w=fb["it"], gpu_power_w=op["gpu_power_w"], cooling_power_w=fb["cooling"],
        loss_power_w=fb["losses"], fixed_power_w=fb["fixed"], facility_power_w=fb["facility"],
        interconnect_w=ex.interconnect_w, pue=fb["facility"] / fb["it"], t_out_c=ex.t_db_c, t_wb_c=ex.t_wb_c,
        gpus_in_service=ex.availability * m.gpus, mean_clock=op["clock"], mean_cap_w=cap_w,
        queue_tokens=backlog, shed_tokens=shed, arrived_tokens=arrived, mode=mode, clock_level=level,
        load_fraction=op["load_fraction"], it_max_power_w=ex.it_max_power_w, heat_capacity_w=ex.heat_capacity_w,
        it_max_cooling_w=ex.it_max_cooling_w,
        **{f"{p}_w": fb[p] for p in ("cooling_chiller", "cooling_fans", "cooling_pumps", "cooling_tower",
                                      "loss_transformer", "loss_ups", "loss_pdu") if p in fb},
    )
