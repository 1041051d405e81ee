"""The engine loop: simpy owns time; exogenous inputs are vectorized per chunk of ticks.

For a chunk of ticks, :func:`exogenous` evaluates at once (at mid-tick) demand, weather, the
interconnect cap and the fault models, and from them the ceilings C, P, Q of the Token
Production Function (P and Q on the efficient frontier of the node and facility power models,
see :mod:`dcsim.engine.tables`) and the rates that fit the budgets. :func:`simulate` then steps
the controller (:mod:`dcsim.engine.controller`) tick by tick — the fluid queue step, or
:mod:`dcsim.engine.requests` in request and hybrid fidelity — and :func:`operating_point` and
the facility model turn what was served into IT and facility power, vectorized per chunk.
docs/engine.md shows the event flow.
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
from dcsim.engine.gpu_clock import EffectiveClock, interp_rows
from dcsim.engine.controller import (
    ArrivalWindow, Controller, awake_curves, awake_groups, per_awake_count, power_down_for, queue_step,
    serving_replicas,
)
from dcsim.engine.flex import FlexChunk, build_flex, curtailment_caps
from dcsim.engine.interrupt import StopAtTick
from dcsim.engine.pools import PoolTicker, mean_cap_w, pool_operating_point
from dcsim.engine.tables import whole_pool_it_w
from dcsim.power.grid import below_contract, cap_over
from dcsim.serving.slo_estimate import clock_cost_tok_s, clock_holds_rate, critically_loaded, full_load_tok_s
from dcsim.tpf import binding_of, binding_simulated, closed_door

__all__ = ["Exogenous", "exogenous", "simulate", "operating_point", "curtailment_caps", "CHUNK_TICKS"]

#: Most ticks whose exogenous inputs are evaluated in one vectorized call.
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
    fit_top: np.ndarray            # largest rate within both budgets at full clock, even load
    fit_frontier: np.ndarray       # largest rate within both budgets on the efficient frontier
    fit_levels: np.ndarray         # (n, K) largest rate within both budgets at each uniform clock level
    availability: np.ndarray       # fraction of replicas in service
    awake: np.ndarray              # fraction of replicas serving (= availability unless idle_power_down)
    parked_w: np.ndarray           # wall power (W) of in-service replicas not serving (waking, standby)
    asleep: np.ndarray             # replicas in standby (count)
    it_budget_w: np.ndarray        # IT power (W) the serving replicas and every rack's overhead may draw by the
                                   # budgets (the cooling one lifted where thermal dynamics store heat), parked_w aside
    request: np.ndarray            # bool: held to a utility request's cap (grid.curtailment; not a curtailment fault)
    overhead_w: float              # rack overhead power (W), not scaled by availability

    def head(self, n: int) -> "Exogenous":
        """The first ``n`` ticks (a chunk cut short by an event)."""
        return dataclasses.replace(self, **{f.name: getattr(self, f.name)[:n] for f in dataclasses.fields(self)
                                            if f.name != "overhead_w"})


def exogenous(m: Models, i0: int, i1: int, dt: float,
              availability: Callable[[np.ndarray], np.ndarray] | None = None, flex=None,
              extra_w=0.0, target_w: float | None = None, power_down=None, caps=None) -> Exogenous:
    """Vectorized exogenous inputs and TPF ceilings for ticks ``i0 .. i1-1`` (evaluated at mid-tick; the meter cap over
    the whole tick: :func:`curtailment_caps`; heat waves and cooling failures time-weighted over the whole tick:
    :meth:`~dcsim.faults.FaultSchedule.weather_over`, :meth:`~dcsim.faults.FaultSchedule.cooling_factor_over`).

    ``caps``: the run's ``curtailment`` faults as cap lowerings (:func:`curtailment_caps` of ``m``, built once per run:
    ``Flex.fault_caps`` by :func:`~dcsim.engine.flex.build_flex`, else by :func:`simulate`); ``None`` builds them here
    (a direct caller). The utility's requests are ``flex.events``; each tick is held to the lowest cap of either in
    force in any part of it, and ``Exogenous.request`` marks the ticks a request caps (the grid's ``curtailment``
    column).

    ``flex`` (:class:`dcsim.engine.flex.Flex`): the utility's curtailment requests lower the cap,
    and thermal dynamics without pre-emptive cap lift the instant cooling budget (heat is stored;
    the thermal side throttles instead). ``extra_w`` (W, per tick or one figure) adds to the meter budget (a
    battery's discharge: :meth:`dcsim.engine.flex.Flex.battery_lift_w`, which holds the site at most to its contract
    where the battery only rides through requests; every budget is at most ``power_chain.transformer_rating`` where
    given, :meth:`~dcsim.thermal.facility.Facility.max_it_delivered_w`);
    ``target_w`` lowers it (a peak-shaving target).

    ``power_down`` (:class:`~dcsim.engine.controller.PowerDown`, ``controller.idle_power_down``):
    the replicas not serving are waking or in standby; the rates that fit the budgets are those
    of the serving replicas with the others' power set aside, and the P and Q ceilings use the
    frontier with standby points (:meth:`~dcsim.engine.tables.SupplyCurves.standby_frontier`).
    ``flex`` and ``power_down`` are not combined (the scenario validator refuses it).
    """
    t = np.arange(i0, i1) * dt
    tm = t + 0.5 * dt
    lam = np.asarray(m.workload.rate(tm), dtype=float)
    demand = m.demand_tok_s(t, dt)  # exact per-tick tokens for traces (issue 17.4)
    t_db, t_wb = m.facility.weather.at(tm)
    t_db, t_wb = np.array(t_db, dtype=float), np.array(t_wb, dtype=float)
    # the contract, or the lowest curtailment (a fault or a utility request) in force in any part of the tick: the
    # faults' lowest and the requests' lowest, the lower of the two (the same figure as one pass over both lists)
    if caps is None:
        caps = flex.fault_caps if flex is not None else curtailment_caps(m)
    contract = float(m.facility.interconnect_w)
    cap = cap_over(caps, t, dt, contract)
    if flex is not None and flex.events:
        cap_req = flex.request_caps(i0, i1, dt)  # cap_over of the requests, computed once per run (build_flex)
        request = below_contract(cap_req, contract)  # the one rule (power.grid; notice_over reads it too)
        cap = np.minimum(cap, cap_req)
    else:
        request = np.zeros(t.shape, dtype=bool)
    avail = np.ones(t.shape)
    cool_factor = np.ones(t.shape)
    fx = m.faults
    if fx is not None:  # exogenous events: failures, heat waves, chiller outages (curtailments: the cap above)
        # node failures, heat waves and cooling failures over the whole tick, time-weighted (a fault covering a share
        # f of a tick acts on it by f: FaultSchedule.availability_over, weather_over, cooling_factor_over); the meter
        # cap above takes the worst case. Until 2026-12-05 node failures were read at mid-tick
        avail = np.asarray(fx.availability_over(t, dt), dtype=float) * avail
        t_db, t_wb = fx.weather_over(t, dt, t_db, t_wb)
        t_db, t_wb = np.asarray(t_db, dtype=float), np.asarray(t_wb, dtype=float)
        cool_factor = np.asarray(fx.cooling_factor_over(t, dt), dtype=float)
    if availability is not None:
        avail = avail * np.asarray(availability(tm), dtype=float)
    budget = cap + extra_w if target_w is None else np.minimum(cap, target_w)
    lf = m.liquid_fraction
    it_max_p = np.asarray(m.facility.max_it_delivered_w(budget, lf, t_db, t_wb), dtype=float)
    heat_cap = np.asarray(m.facility.heat_rejection_capacity_w(t_db, t_wb, lf), dtype=float) * cool_factor
    # IT power whose heat (IT + in-room power-chain losses) the reduced plant can reject: the
    # inversion on the reduced capacity (the UPS no-load heat does not scale with cool_factor)
    it_max_q = np.broadcast_to(np.asarray(m.facility.max_it_for_cooling_w(t_db, t_wb, lf, cool_factor),
                                          dtype=float), t.shape).astype(float)
    cv = m.curves
    # With a fraction a of replicas in service, the facility's (IT, rate) points scale to
    # (a·(IT − overhead) + overhead, a·rate): invert on the scaled budget.
    ovh = m.overhead_w
    a = np.maximum(avail, 1e-12)
    unit = lambda b: whole_pool_it_w(b, a, ovh)  # noqa: E731
    power_tok_s = cv.ceiling(unit(it_max_p), "p", beyond_compute=True) * avail
    cooling_tok_s = cv.ceiling(unit(it_max_q), "q", beyond_compute=True) * avail
    awake, parked_w, asleep = avail, np.zeros(t.shape), np.zeros(t.shape)
    if power_down is not None:  # controller.idle_power_down (docs/slo.md): serve on the awake replicas
        n_rep = power_down.replicas
        # replicas the budgets can run on the frontier with standby points: a share x of the
        # fleet at the hull's first vertex, the rest in standby
        f = cv.standby_frontier(power_down.standby_fraction, ovh, "pq")
        b = unit(np.minimum(it_max_p, it_max_q))
        x = np.clip((b - f.it[0]) / max(float(f.it[1] - f.it[0]), 1e-300), 0.0, 1.0) if f.it.size > 1 else np.ones(t.shape)
        serving, powered = power_down.schedule(i0, demand, avail * n_rep, np.ceil(x * avail * n_rep - 1e-9))
        parked_w = power_down.parked_power_w(avail * n_rep, serving, powered)
        asleep = np.maximum(np.floor(avail * n_rep + 1e-9) - powered, 0.0)
        awake = serving / n_rep
        for which, budget in (("p", it_max_p), ("q", it_max_q)):  # the ceilings with standby points
            f = cv.standby_frontier(power_down.standby_fraction, ovh, which)
            sb = np.interp(unit(budget), f.it, f.rate, left=0.0) * avail
            if which == "p":
                power_tok_s = np.maximum(power_tok_s, sb)
            else:
                cooling_tok_s = np.maximum(cooling_tok_s, sb)
        a = np.maximum(awake, 1e-12)
        unit = lambda b: whole_pool_it_w(b - parked_w, a, ovh)  # noqa: E731
    else:
        # the rates scale by the share in service, 0 with every replica down; the budget per share divides by it
        # clamped as above (unclamped, numpy warned "divide by zero" with every replica down; same figures)
        a = avail
        unit = lambda b: whole_pool_it_w(b, np.maximum(avail, 1e-12), ovh)  # noqa: E731
    # thermal dynamics without a pre-emptive cap store heat: the instant cooling budget is lifted
    free_q = flex is not None and flex.th_free_q
    it_fit = it_max_p if free_q else np.minimum(it_max_p, it_max_q)
    it_budget = it_fit - parked_w
    K = cv.rate_pq.shape[0]
    if power_down is not None and power_down.by_group:
        # several rack groups: the serving replicas are the ladder's first (PowerDown), on their own curves, with the
        # parked replicas' power set aside (the curves hold every rack's overhead)
        b = it_budget

        def fits(k: int, sel: np.ndarray) -> dict[str, np.ndarray]:
            c = awake_curves(m, power_down, k)
            return {"top": c.fit_top(b[sel]), "frontier": c.ceiling(b[sel], "pq"),
                    "levels": np.stack([np.interp(b[sel], c.it_pq[q], c.rate_pq[q], left=0.0) for q in range(K)],
                                       axis=-1)}

        fit = per_awake_count(serving, fits)
        fit_top, fit_frontier, fit_levels = fit["top"], fit["frontier"], fit["levels"]
    else:
        both = unit(it_fit)
        levels = np.stack([np.interp(both, cv.it_pq[k], cv.rate_pq[k], left=0.0) for k in range(K)], axis=-1)
        fit_top, fit_frontier, fit_levels = cv.fit_top(both) * a, cv.ceiling(both, "pq") * a, levels * a[:, None]
    return Exogenous(
        t, demand, lam, t_db, t_wb, cap, it_max_p, heat_cap, it_max_q,
        compute_tok_s=cv.compute_tok_s * avail,
        power_tok_s=power_tok_s,
        cooling_tok_s=cooling_tok_s,
        fit_top=fit_top,
        fit_frontier=fit_frontier,
        fit_levels=fit_levels,
        availability=avail, awake=awake, parked_w=parked_w, asleep=asleep, overhead_w=ovh,
        it_budget_w=it_budget, request=request,
    )


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

    simpy owns time. Processes:

    * ``controller``: one event per controller tick; it decides the operating mode
      (:class:`~dcsim.engine.controller.Controller`) and serves the tick — the fluid queue step,
      or ``request_engine.tick`` (which serves requests replica by replica and returns what it
      served). Exogenous inputs are evaluated vectorized per *chunk* of ticks (at most
      ``CHUNK_TICKS``); a chunk ends early when an exogenous event fires;
    * ``fault_window``: one process per windowed fault (cooling failure, curtailment, heat
      wave), with an event at its start and its end; each is logged in ``events`` and ends the
      current chunk, so the inputs after it are evaluated afresh.
    """
    sc = m.scenario
    dt = float(sc.controller.tick)
    n_ticks = int(math.ceil(sc.duration / dt - 1e-9))
    ctl = Controller(sc.controller.policy, float(sc.controller.hold_limit), m.curves.compute_tok_s,
                     m.clocks.size - 1)
    power_down = power_down_for(m, dt)  # None unless controller.idle_power_down
    trace = _Trace()
    env = simpy.Environment()
    events: list[dict] = []
    st = {"backlog": 0.0, "boundary": False, "interrupted": False}
    wall0 = time.perf_counter()
    stop = StopAtTick()  # first Ctrl-C: stop at the end of the current tick (issue 17.2)
    cur: dict = {}  # the chunk in progress: a hard interrupt still records its finished fluid ticks
    fx = build_flex(m, dt, n_ticks)  # issue 18: grid events, storage, thermal dynamics, deferrable work
    if fx is not None:
        fx.sink, fx.operating_point = ctl.note, operating_point
    caps = fx.fault_caps if fx is not None else curtailment_caps(m)  # the curtailment faults, once per run
    # several model pools (racks[].serves) share the budget: dcsim.engine.pools (hetero)
    mp = PoolTicker(m, ctl.hold_s, request_engine, availability) if m.multi_pool else None

    def finish_chunk(ex, j: int, cols: dict, fc: FlexChunk | None = None) -> None:
        """Record the first ``j`` ticks of chunk ``ex`` from the per-tick lists ``cols``."""
        if j < ex.t_s.size:
            ex = ex.head(j)
        f = {k: np.array(v[:j], dtype=float) for k, v in cols.items() if k not in ("mode", "level")}
        mode, level = np.array(cols["mode"][:j], dtype=np.int8), np.array(cols["level"][:j], dtype=np.int16)
        parked = (ex.awake, ex.parked_w, ex.asleep, power_down) if power_down is not None else None
        # several pools: each lane's fluid remainder runs at its own pool's mode (PoolTicker.decide), not the facility's
        pmode = mode if mp is None else np.array(mp.cols["mode"][:j], dtype=np.int8).reshape(j, -1)
        extra = request_engine.chunk_power(pmode, level, parked) if request_engine is not None else None
        _record_chunk(m, trace, ex, f["served"], mode, level, f["backlog"], f["held"], f["waiting"], f["shed"],
                      f["arrived"], extra, mp, None if fc is None else (lambda fb, rb, gw: fc.columns(j, fb, rb, gw)),
                      limit=f["limit"], power_down=power_down)

    def fault_window(env, t_s: float, edge: str, i: int):
        yield env.timeout(t_s)
        w = m.faults.specs[i]
        events.append({"t_s": t_s, "event": f"{w.kind} {edge}", "fault": i})
        st["boundary"] = True

    def grid_window(env, t_s: float, what: str, i: int):
        yield env.timeout(t_s)
        events.append({"t_s": t_s, "event": what, "request": i})
        if what == "curtailment notice":
            fx.note(t_s, "curtailment notice", "utility request announced: storage pre-charges, deferrable work held")
        st["boundary"] = True

    def controller(env):
        i0 = 0
        backlog_tok, shed_prev = 0.0, False
        uniform = ctl.policy == "uniform"
        window = ArrivalWindow(ctl.hold_s, dt)  # the work younger than the hold limit (the backlog's cap)
        while i0 < n_ticks:
            st["boundary"] = False
            i1 = min(n_ticks, i0 + CHUNK_TICKS)
            ex = exogenous(m, i0, i1, dt, availability, fx, power_down=power_down, caps=caps)
            fc = _flex_chunk(m, fx, ex, i0, i1, dt, availability)
            n = i1 - i0
            # plain Python floats in the per-tick loop (numpy scalars cost ~10x more per operation)
            dem, av = ex.demand_tok_s.tolist(), ex.awake.tolist()  # awake = in service unless powered down
            ftop, ffr = ex.fit_top.tolist(), ex.fit_frontier.tolist()
            cols = {k: [] for k in ("served", "mode", "level", "backlog", "held", "waiting", "shed", "arrived",
                                    "limit")}
            served, mode, level, backlog, held, waiting, shed, arrived, limits = cols.values()
            if fc is not None:
                fc.cols = cols
            if request_engine is not None:  # effective clock of the frontier operating point
                fr = m.curves.frontier("pq")
                lvl = np.interp(ex.fit_frontier / np.maximum(ex.awake, 1e-12), fr.rate, fr.level)
                # the fractional level's clock: the lanes run it as a mix of the two levels around it in time
                # (rounded to the nearest level, replicas with nothing waiting, which the trim leaves alone, ran up to
                # a level above the frontier's: docs/engine.md "Request fidelity at a binding power limit")
                clk_fr = np.interp(lvl, np.arange(m.clocks.size), m.clocks)
            j = 0
            cur.update(ex=ex, cols=cols, j=0, fc=fc)
            dq = fx.dq if fc is not None else None
            maybe = fc.maybe if fc is not None else None  # ticks where storage or thermal may act
            if mp is not None:
                mp.start_chunk(ex, dt)
            while j < n:
                if j > 0 and st["boundary"]:  # an exogenous event fired: end the chunk here
                    break
                d = dem[j]
                if mp is not None:  # several pools: split the shared budget, serve each pool (hetero)
                    md, limit, sv, b, sh, arr, hl, need = mp.tick(j, float(ex.t_s[j]), dt)
                    k = ctl.top_level
                    held.append(hl)
                else:
                    queued = backlog_tok if request_engine is None else request_engine.held_tok
                    if dq is not None:  # deferrable share: waits for spare rate (issue 18)
                        d_def = d * fx.share
                        d_int = d - d_def
                        gate, q_def = fc.deferrable_need(j)
                        need = queued / dt + d_int + q_def / dt + (d_def if gate else 0.0)
                    else:
                        need = queued / dt + d
                    slow = maybe is not None and (maybe[j] or fx.busy)
                    ft, ff, lv = ftop[j], ffr[j], ex.fit_levels[j]
                    if slow and fc.engaged(j, need):
                        ft, ff, lv = fc.fits(j, ft, ff, lv)
                    md, limit, k = ctl.decide(need, ft, ff, lv if uniform else None, av[j])
                    if slow:  # the thermal limit of last tick, or the masses taking this tick's excess heat
                        md, limit, k = fc.thermal_limit(j, md, limit, k, lv)
                    if request_engine is not None:
                        clk = clk_fr[j] if md == 1 else m.clocks[k]
                        if md == 1 and need < limit * (1.0 - 1e-9):
                            # capped with the waiting work below the limit: the caps lowered only as far as the
                            # budget needs (the fluid's operating point at that rate, pool_operating_point), not
                            # to the frontier's clock at the limit, where even load drew less than the budget
                            clk = float(operating_point(m, np.array([need]), np.array([1], dtype=np.int8),
                                                        np.array([k], dtype=np.int16), np.array([av[j]]),
                                                        np.array([limit]))["clock"][0])
                        # only compute limits, every replica in service awake: the door stays open and the
                        # replicas queue what they cannot serve yet
                        open_door = ctl.compute_only(md, limit, av[j]) and av[j] >= ex.availability[j] - 1e-12
                        # the IT power the serving replicas (and every rack's overhead) may draw by the budgets, the
                        # parked replicas' charged power set aside (idle_power_down): the lane holds an uncapped tick
                        # to it while a parked replica still finishes its requests, and on its first tick
                        sv, b, sh, arr = request_engine.tick(float(ex.t_s[j]), dt, limit, float(clk),
                                                             float(ex.availability[j]), awake=av[j],
                                                             capped=bool(closed_door(md)), open_door=open_door,
                                                             it_budget_w=float(ex.it_budget_w[j]))
                        held.append(request_engine.label_held_tok)  # door + running work held back
                    elif dq is not None:
                        arr = d * dt
                        sv, b, sh = queue_step(backlog_tok, d_int, limit, dt, window.push(d_int * dt))
                        spare = max(limit - sv, 0.0) * dt
                        done = fc.step_deferrable(j, gate, d_def * dt, spare)
                        sv += done / dt  # deferred work left waiting counts as held only when the rate ran out
                        held.append(b + (dq.backlog if dq.backlog > 0 and done >= spare * (1 - 1e-12) else 0.0))
                    else:
                        arr = d * dt
                        sv, b, sh = queue_step(backlog_tok, d, limit, dt, window.push(d * dt))
                        held.append(b)
                    if slow:
                        fc.after(j, md, sv, k, limit)
                backlog_tok = b
                served.append(sv)
                mode.append(md)
                level.append(k)
                limits.append(limit)
                backlog.append(b)
                shed.append(sh)
                arrived.append(arr)
                waiting.append(need)
                # sh is 0 or a real shed: the fluid lanes' queue_step sheds no float residue (under SHED_RESIDUE_TOK
                # it stays in the backlog), request fidelity's engine sheds whole requests; a residue opens no episode
                if md != ctl.mode or sh > 0 or shed_prev:  # mode changes, shedding episodes (start, total at end)
                    ctl.record(float(ex.t_s[j]), md, float(limit), d, float(ex.t_db_c[j]), float(sh), shed_prev)
                shed_prev = sh > 0
                j += 1
                cur["j"] = j
                yield env.timeout(dt)
                if stop.requested:
                    st["interrupted"] = True
                    break
            st["backlog"] = backlog_tok
            cur.clear()
            finish_chunk(ex, j, cols, fc)
            i0 += j
            if progress is not None:
                progress(i0 / n_ticks)
            if st["interrupted"]:
                return

    if m.faults is not None:
        for t_s, edge, i in m.faults.window_events():
            env.process(fault_window(env, t_s, edge, i))
    if fx is not None:
        for t_s, what, i in fx.window_events():
            env.process(grid_window(env, t_s, what, i))
    env.process(controller(env))
    try:
        with stop:
            env.run()
    except KeyboardInterrupt:  # a second Ctrl-C (or one outside the tick loop): stop now
        st["interrupted"] = True
        if cur.get("j") and request_engine is None:  # fluid ticks are whole once counted
            finish_chunk(cur["ex"], cur["j"], cur["cols"], cur.get("fc"))
        if not trace.cols:
            raise  # nothing simulated yet: there is no partial result to report
    arrays = trace.arrays()
    return {
        "timeseries": arrays,
        "dt": dt,
        "ticks_planned": n_ticks,
        "interrupted": st["interrupted"],
        "backlog_tok": st["backlog"],
        "controller_log": ctl.log,
        "controller_log_dropped": ctl.log_dropped,
        "events": events,
        "wall_s": time.perf_counter() - wall0,
        "flex": fx,
    }


def _flex_chunk(m: Models, fx, ex: Exogenous, i0: int, i1: int, dt: float, availability) -> FlexChunk | None:
    """The chunk's issue-18 helper: exogenous inputs again at cap + the battery's discharge limit
    and at its peak-shaving target (docs/grid.md); ``None`` when the run has no issue-18 model."""
    if fx is None:
        return None
    b = fx.batt
    # the budget at the cap + the battery's lift, per tick, computed once for the chunk: at most to the contract
    # (dispatch "events"; Flex.battery_lift_w), the budget at most the transformer's rating where given (the facility)
    lift = fx.battery_lift_w(ex.interconnect_w) if b is not None else None
    ex_hi = (lambda: exogenous(m, i0, i1, dt, availability, fx, extra_w=lift)) if b is not None else None
    ex_tgt = (exogenous(m, i0, i1, dt, availability, fx, target_w=b.shave_to_w)
              if b is not None and b.dispatch != "events" else ex)
    ex_at = (lambda w, j: exogenous(m, i0 + j, i0 + j + 1, dt, availability, fx, extra_w=w)) \
        if b is not None else None
    return FlexChunk(fx, ex, ex_hi, ex_tgt, i0, ex_at, lift)


def operating_point(m: Models, served, mode, level, avail, limit=None, ec=None) -> dict[str, np.ndarray]:
    """IT power (W), GPU power (W), effective clock and per-replica load fraction per tick.

    ``served`` tokens/s; ``mode`` per :data:`dcsim.tpf.MODE_NAMES`; ``level`` clock-level index
    (uniform mode); ``avail`` fraction of replicas in service; ``limit`` the controller's rate limit (tokens/s):
    a capped tick draws its budget, the frontier's IT power at that limit (:func:`pool_operating_point`).
    """
    budget = None if limit is None else m.curves.frontier("pq").it_w(limit, m.overhead_w, avail)
    return pool_operating_point(m.curves, m.clocks, m.scenario.controller.policy, m.overhead_w, served, mode,
                                level, avail, it_budget_w=budget, ec=ec)


def _awake_operating_point(m: Models, power_down, served, mode, level, awake, limit) -> dict[str, np.ndarray]:
    """:func:`operating_point` of a pool of several rack groups with ``idle_power_down``: each tick on the curves of
    the replicas serving (the ladder's first, :func:`awake_curves`), not on a proportional slice of every group, and
    where a board power cap throttles, its effective clock from those replicas' own
    (:func:`_awake_effective_clock`; until 2026-12-04 the whole pool's, and a capped tick's the frontier vertex at its
    rate: docs/slo.md "Powering idle nodes down")."""
    served, mode, level = np.asarray(served, dtype=float), np.asarray(mode), np.asarray(level)
    throttles = effective_clock(m).throttles

    def point(k: int, sel: np.ndarray) -> dict[str, np.ndarray]:
        cv = awake_curves(m, power_down, k)
        budget = None if limit is None else cv.frontier("pq").it_w(np.asarray(limit, dtype=float)[sel], m.overhead_w)
        return pool_operating_point(cv, m.clocks, m.scenario.controller.policy, m.overhead_w, served[sel], mode[sel],
                                    level[sel], np.ones(int(sel.sum())), it_budget_w=budget,
                                    ec=_awake_effective_clock(m, power_down, k) if throttles else None)

    return per_awake_count(np.asarray(awake, dtype=float) * power_down.replicas, point)


def _awake_effective_clock(m: Models, power_down, k: int) -> EffectiveClock:
    """The :class:`~dcsim.engine.gpu_clock.EffectiveClock` of the first ``k`` replicas of the power-down ladder (at
    least one): the groups with replicas among them (:func:`~dcsim.engine.controller.awake_groups`, each weighted by
    its awake replicas' GPUs) on their :func:`awake_curves`; built once per count and kept on ``m``."""
    cache = m.__dict__.setdefault("_awake_effective_clock", {})
    if k not in cache:
        k1 = max(k, 1)
        gs = [g for g in awake_groups(m, power_down, k1) if g.limits.replicas > 0]
        p = m.pools[0]
        cache[k] = EffectiveClock(gs, awake_curves(m, power_down, k1), m.clocks, p.mean_input, p.mean_output,
                                  p.decode_context, p.prompt_scv)
    return cache[k]


def effective_clock(m: Models) -> EffectiveClock:
    """The run's :class:`~dcsim.engine.gpu_clock.EffectiveClock` (one pool), built once and kept on ``m``."""
    ec = m.__dict__.get("_effective_clock")
    if ec is None:
        ec = m.__dict__["_effective_clock"] = EffectiveClock(
            m.groups, m.curves, m.clocks, m.pools[0].mean_input, m.pools[0].mean_output, m.pools[0].decode_context,
            m.pools[0].prompt_scv)
    return ec


def serving_full_load_tok_s(m: Models, power_down, clock, availability, awake) -> np.ndarray:
    """Full-load rate (tokens/s) per tick of the replicas serving at ``clock`` (the controller's): each rack group's
    replicas among them (:func:`~dcsim.engine.controller.serving_replicas`: with ``idle_power_down`` the ladder's
    first ``awake`` share, else the ``availability`` share of each group) at its own node table's full-load rate
    (:func:`~dcsim.serving.slo_estimate.full_load_tok_s`); what the binding label's critically-loaded test reads."""
    return full_load_tok_s(m.groups, m.clocks, clock, serving_replicas(m, power_down, availability, awake))


def lane_effective_clock(m: Models, replica_clock, controller_clock, fluid_clock, load_fraction) -> np.ndarray:
    """The effective clock (fraction of maximum, GPU-weighted over rack groups) of replicas that ran
    ``replica_clock`` (a request lane's, per tick): at most the board's throttled clock there. Where that is the
    controller's clock, the fluid operating point's effective clock ``fluid_clock`` (the same replicas at the same
    clock, read on the replicas awake where idle replicas are powered down); elsewhere :class:`EffectiveClock`'s grid
    (:func:`effective_clock`, the run's rack groups, ``grid_pq``) at the lane's fractional clock level (a time mix of
    its two levels) and the tick's ``load_fraction`` (full load where it is NaN: a frontier tick's vertices run full
    batches; an assumption where the lane's replicas run partly loaded, read only where a board limit throttles); the
    lane's clock itself where no group's board limit lies below its TDP (no shipped scenario's does)."""
    rc = np.asarray(replica_clock, dtype=float)
    eff = np.asarray(fluid_clock, dtype=float)
    ec = effective_clock(m)
    same = np.abs(rc - np.asarray(controller_clock, dtype=float)) <= 1e-9
    if not ec.throttles:
        return np.where(same, eff, rc)
    own = ~same  # the ticks read on the grid (the others take the fluid operating point's)
    K = m.clocks.size
    lv = np.interp(rc[own], m.clocks, np.arange(K))
    lo = np.minimum(np.floor(lv + 1e-9).astype(int), K - 2)
    w = np.clip(lv - lo, 0.0, 1.0)
    u = np.broadcast_to(np.asarray(load_fraction, dtype=float), rc.shape)[own]
    u = np.where(np.isfinite(u), u, 1.0)
    lane = rc.copy()  # every tick's value is replaced below or discarded by the np.where
    lane[own] = ((1.0 - w) * interp_rows(u, ec.curves.u, ec.grid_pq, lo)
                 + w * interp_rows(u, ec.curves.u, ec.grid_pq, lo + 1))
    return np.where(same, eff, lane)


def ran_clock(m: Models, op: dict, extra: dict, serving_gpus) -> np.ndarray:
    """The effective clock per tick at request or hybrid fidelity, one pool (``mean_clock``): what the replicas ran.
    The replicas simulated (``extra["sample_share"]`` of the pool: all of them at request fidelity, a hybrid sample's
    share) ran the lane's clock (``extra["replica_clock"]``, :meth:`dcsim.engine.requests.RequestEngine.chunk_power`:
    the controller's, trimmed when capped, held below it on an uncapped tick whose parked replica still finishes its
    batch or on the lane's first tick), at most the board's throttled clock there (:func:`lane_effective_clock`); a
    hybrid sample's fluid remainder ran the fluid operating point's (``op["effective_clock"]``), each weighted by its
    GPUs, as the column is GPU-weighted: the sample's serving (``extra["sample_gpus"]``, its whole replicas in service
    and awake) and the remainder's, ``1 - sample_share`` of the pool's ``serving_gpus`` (per tick: the replicas
    serving, :func:`~dcsim.engine.controller.serving_replicas`; not read at request fidelity, where it may be None),
    as its power is that share of the pool's operating point. With ``idle_power_down`` the sample keeps
    round(awake x sample) replicas awake, fewer or more than its share (2 of 8 where the pool has 7 of 24 awake):
    weighted by ``sample_share`` (a share of compute), the sample's clock counted 2.33 replicas' worth (until later
    on 2026-12-05). Until 2026-12-05 the uncapped ticks recorded the controller's clock throughout, and until later that day the capped ones the fluid
    operating point's: 0.690 in the mean where the replicas ran 0.667 on the capped ticks of the fall from 00:50
    (docs/engine.md "The clock the record keeps")."""
    eff = np.asarray(op["effective_clock"], dtype=float)
    lane = lane_effective_clock(m, extra["replica_clock"], op["controller_clock"], eff, op["load_fraction"])
    share = float(extra["sample_share"])
    if share >= 1.0:  # request fidelity: every replica simulated
        return lane
    g_s = np.asarray(extra["sample_gpus"], dtype=float)
    g_r = (1.0 - share) * np.asarray(serving_gpus, dtype=float)
    f = np.where(g_s + g_r > 0.0, g_s / np.maximum(g_s + g_r, 1e-300), share)
    return f * lane + (1.0 - f) * eff


def _record_chunk(m: Models, trace: _Trace, ex: Exogenous, served, mode, level, backlog, held, waiting, shed,
                  arrived, extra, mp: PoolTicker | None = None, flex_cols=None, limit=None, power_down=None) -> None:
    pools: dict = {}
    lane_held = None  # request or hybrid fidelity, one pool: the uncapped ticks its lane ran below the top clock (held)
    if extra is not None and "replica_clock" in extra:
        lane_held = (np.asarray(mode) == 0) & (np.asarray(extra["replica_clock"]) < m.clocks[-1] * (1 - 1e-9))
    if mp is not None:  # several pools: per-pool ceilings, binding and power (dcsim.engine.pools)
        rec = mp.record(ex, mode, extra)
        pools = rec.pop("pools")
        ex = dataclasses.replace(ex, power_tok_s=rec["power_tok_s"], cooling_tok_s=rec["cooling_tok_s"],
                                 compute_tok_s=rec["compute_tok_s"], availability=rec["availability"])
        op = {k: rec[k] for k in ("it_power_w", "gpu_power_w", "clock", "load_fraction", "effective_clock")}
        op["controller_clock"] = op["clock"]
    else:
        # the controller's DVFS clock, and the effective one: lower where the board's power cap throttles
        if power_down is not None and power_down.by_group:  # several rack groups, idle replicas powered down
            op = _awake_operating_point(m, power_down, served, mode, level, ex.awake, limit)  # the ladder's first
        else:
            ec = effective_clock(m)
            op = operating_point(m, served, mode, level, ex.awake, limit, ec=ec if ec.throttles else None)
        op["it_power_w"] = op["it_power_w"] + ex.parked_w  # waking and standby replicas (idle_power_down)
        op["controller_clock"] = op["clock"]
        op.setdefault("effective_clock", op["clock"])
        if extra is not None:  # request fidelity measured its own IT and GPU power (parked replicas included)
            op["it_power_w"], op["gpu_power_w"] = extra["it_power_w"], extra["gpu_power_w"]
            serving_gpus = None  # read by a hybrid sample's fluid remainder only
            if float(extra["sample_share"]) < 1.0:
                gpr = np.array([g.node.gpus_per_replica for g in m.groups], dtype=float)
                serving_gpus = serving_replicas(m, power_down, ex.availability, ex.awake) @ gpr
            op["effective_clock"] = ran_clock(m, op, extra, serving_gpus)
    fb = m.facility.breakdown(op["it_power_w"], m.liquid_fraction, ex.t_db_c, ex.t_wb_c)
    fcols = {}
    if flex_cols is not None:  # thermal masses and battery settled; the plant's power follows the heat it moved
        fcols, fb = flex_cols(fb, lambda q: m.facility.breakdown(op["it_power_w"], m.liquid_fraction, ex.t_db_c,
                                                                 ex.t_wb_c, plant_heat_w=q), op["gpu_power_w"])
    # what held the served rate down (docs/report.md "binding"), and the input-only argmin
    # (one pool: a tick capped below full clock has P or Q below C already; with several, PoolTicker.record)
    # a tick on which IT was shed for temperature (MODE_SHED: no clock run, its cooling ceiling 0) admits nothing
    # either: a closed door, counted with the capped ones here
    below = closed_door(np.asarray(mode)) & (np.asarray(op["controller_clock"]) < m.clocks[-1] * (1 - 1e-9))
    capped_below = below  # the controller's: the critically-loaded test reads its clock
    if lane_held is not None and extra["sample_share"] >= 1.0:
        # request fidelity (every replica simulated, not a hybrid sample), one pool: an uncapped tick on which the lane
        # ran its replicas below full clock (held to the budget: a parked replica finishing its batch, the first tick)
        # was limited by power (or cooling), not compute: labelled as a capped tick, read on the replicas' clock. Until
        # 2026-12-05 it read compute (DESIGN.md: the constraint that limits the served rate with work waiting). Hybrid:
        # not (its fluid remainder, most of the facility, ran at the controller's full clock)
        below = below | lane_held
    full_ctl = None
    if mp is None:
        # held back by the clock only where a higher clock serves more (clock_holds_rate): the clock the replicas ran
        # (the lane's on its own held ticks, else the controller's) against full clock, on the replicas serving
        # (serving_full_load_tok_s's: with idle_power_down the ladder's first); the controller's clock's rate is the
        # critically-loaded test's below, the lane-held ticks patched with the lane's clock's
        reps = serving_replicas(m, power_down, ex.availability, ex.awake)
        full_ctl, full_top = clock_cost_tok_s(m.groups, m.clocks, np.asarray(op["controller_clock"], dtype=float),
                                              reps)
        full_ran = full_ctl
        if lane_held is not None and extra["sample_share"] >= 1.0:
            full_ran = np.where(lane_held, full_load_tok_s(m.groups, m.clocks, np.asarray(
                extra["replica_clock"], dtype=float), reps), full_ctl)
        below = below & clock_holds_rate(full_ran, full_top)
    binding = rec["binding"] if mp is not None else binding_simulated(
        held, shed, arrived, ex.compute_tok_s, ex.power_tok_s, ex.cooling_tok_s,
        supply_only=1 if m.scenario.controller.policy == "none" else None, capped=below,
        # the critically-loaded test reads the full-load rate of the replicas serving at the controller's clock: with
        # idle_power_down in a pool of several rack groups the ladder's first, each group at its own full-load rate
        # (controller.serving_replicas; until 2026-12-05 the awake share of the whole pool's, which read a mixed pool
        # low: docs/engine.md "The binding constraint")
        critical=critically_loaded(capped_below, served, full_ctl))
    potential = binding_of(ex.demand_tok_s, ex.compute_tok_s, ex.power_tok_s, ex.cooling_tok_s)
    # equivalent per-GPU cap: GPU power of a full-batch replica at the effective clock (GPU-weighted)
    cap_w = rec["mean_cap_w"] if mp is not None else mean_cap_w(m.groups, m.clocks, op["clock"])
    trace.add(**pools)
    trace.add(
        t_s=ex.t_s, demand_tok_s=ex.demand_tok_s, arrival_rate=ex.arrival_rate,
        compute_tok_s=ex.compute_tok_s, power_tok_s=ex.power_tok_s, cooling_tok_s=ex.cooling_tok_s,
        achieved_tok_s=served, binding=binding, binding_potential=potential, held_tokens=held,
        waiting_tok_s=waiting,
        it_power_w=fb["it"], gpu_power_w=op["gpu_power_w"], cooling_power_w=fb["cooling"],
        loss_power_w=fb["losses"], fixed_power_w=fb["fixed"], facility_power_w=fb["facility"],
        interconnect_w=ex.interconnect_w, pue=fb["facility"] / fb["it"], t_out_c=ex.t_db_c, t_wb_c=ex.t_wb_c,
        gpus_in_service=ex.availability * m.gpus, mean_clock=op.get("effective_clock", op["clock"]),
        controller_clock=op.get("controller_clock", op["clock"]), mean_cap_w=cap_w,
        queue_tokens=backlog, shed_tokens=shed, arrived_tokens=arrived, mode=mode, clock_level=level,
        load_fraction=op["load_fraction"], it_max_power_w=ex.it_max_power_w, heat_capacity_w=ex.heat_capacity_w,
        awake_fraction=ex.awake, parked_power_w=ex.parked_w,
        # a capped tick's time share at the frontier's consolidated point (the fluid SLO estimate reads it); several
        # pools: each pool's, pool<i>_frontier_share
        **({"frontier_share": op["frontier_share"]} if "frontier_share" in op else {}),
        it_max_cooling_w=ex.it_max_cooling_w,
        **fcols,
        **{f"{p}_w": fb[p] for p in ("cooling_chiller", "cooling_fans", "cooling_pumps", "cooling_tower",
                                      "loss_transformer", "loss_ups", "loss_pdu") if p in fb},
    )
