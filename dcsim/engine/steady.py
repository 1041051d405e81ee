"""Steady-state Token Production Function of a scenario, and its crossover points.

Uses the same node tables and facility models as the simulation, evaluated at one
moment (a tick's demand and weather) with no queues: this is the closed-form answer
the simulation must reproduce in steady state. Crossovers are found by root-finding
on the monotone ceilings (scipy ``brentq``).
"""

from __future__ import annotations

import math

import numpy as np

from dcsim.engine.build import Models, with_interconnect
from dcsim.engine.flex import die_ceiling_tok_s
from dcsim.metrics.fmt import NEAR_TIE
from dcsim.tpf import (BINDING_NAMES, CROSSOVER_GPU_RANGE_X, CROSSOVER_INTERCONNECT_RANGE_X, CROSSOVER_T_OUT_RANGE_C,
                       CROSSOVER_T_OUT_STEP_C, binding_of, binding_of_pool, facility_bound_pool, near_tie_margin)

__all__ = ["MOMENTS", "ceilings_at", "heat_rejection_it_w", "crossovers", "scenario_moments", "steady_report", "flop_per_output_token",
           "pool_flop_per_output_token"]


def pool_flop_per_output_token(m: Models, p: int) -> float:
    """FLOP per output token of pool ``p``: each group's node at the pool's class mix, weighted by
    the group's share of the pool's compute (tokens/s at full clock)."""
    pool = m.pools[p]
    gs = [m.groups[g] for g in pool.groups]
    f = [float(g.node.flops_per_output_token(pool.mean_input, pool.mean_output, pool.decode_context)) for g in gs]
    if len(f) == 1:
        return f[0]
    w = np.array([g.limits.replicas * g.table.thr_max[-1] for g in gs])
    return float(np.dot(f, w) / w.sum())


def flop_per_output_token(m: Models, weights=None) -> float:
    """FLOP per output token of the facility: one group's node at the workload's mean lengths;
    several pools: each pool's figure weighted by ``weights`` (its output tokens; default its
    share of the offered output tokens)."""
    if not m.multi_pool:
        if len(m.groups) == 1:
            p0 = m.pools[0]  # the whole mix: the workload's means and context, computed once at build
            return float(m.groups[0].node.flops_per_output_token(p0.mean_input, p0.mean_output, p0.decode_context))
        return pool_flop_per_output_token(m, 0)
    f = np.array([pool_flop_per_output_token(m, p) for p in range(len(m.pools))])
    offered = np.array([p.output_per_arrival for p in m.pools])
    w = np.asarray(weights, dtype=float) if weights is not None else offered
    if not w.sum() > 0:
        w = offered
    return float(np.dot(f, w) / w.sum())


def _pool_ceilings_at(m: Models, d, it_p, it_q, a) -> dict:
    """:func:`ceilings_at` for several pools: per-pool demand (its classes), the shared budgets
    split on the pools' joint frontier (docs/engine.md "Several model pools")."""
    shape = d.shape
    d, it_p, it_q, a = (x.ravel() for x in (d, it_p, it_q, a))
    ovh = m.overhead_w
    unit = lambda b: (b - a * ovh) / a + ovh  # noqa: E731  (racks scale with a too)
    dp = m.pool_demand_tok_s(d)
    need_u = dp / a[:, None]
    cp = np.array([p.curves.compute_tok_s for p in m.pools])[None, :] * a[:, None]
    c = cp.sum(axis=1)
    pw = m.joint("p").facility_ceiling(need_u, unit(it_p)) * a
    q = m.joint("q").facility_ceiling(need_u, unit(it_q)) * a
    served = m.joint("pq").split(np.minimum(dp, cp) / a[:, None], unit(np.minimum(it_p, it_q))) * a[:, None]
    deficit = dp - served
    tol = 1e-9 * np.maximum(dp, 1.0)
    # a pool short of its work is bound by the lowest of its own ceilings, as the simulation names it
    # (dcsim.engine.pools.record): its rack limits included (JointFrontier.pool_ceilings)
    pp = m.joint("p").pool_ceilings(need_u, unit(it_p)) * a[:, None]
    pq = m.joint("q").pool_ceilings(need_u, unit(it_q)) * a[:, None]
    pool_code = np.where(deficit <= tol, 0, 1 + np.argmin(np.stack([cp, pp, pq]), axis=0))
    # the pool furthest short for its own demand, as simulated (dcsim.tpf.facility_binding)
    worst = facility_bound_pool(pool_code, deficit, dp)
    code = binding_of_pool(pool_code, worst)
    out = {"demand_tok_s": d, "compute_tok_s": c, "power_tok_s": pw, "cooling_tok_s": q,
           "achieved_tok_s": served.sum(axis=1), "binding": code, "bound_pool": worst}
    out = {k: v.reshape(shape) for k, v in out.items()}
    out["pools"] = {"demand_tok_s": dp.reshape(shape + (-1,)), "compute_tok_s": cp.reshape(shape + (-1,)),
                    "power_tok_s": pp.reshape(shape + (-1,)), "cooling_tok_s": pq.reshape(shape + (-1,)),
                    "achieved_tok_s": served.reshape(shape + (-1,)), "binding": pool_code.reshape(shape + (-1,))}
    return out


def ceilings_at(m: Models, demand_tok_s, t_db_c, t_wb_c, interconnect_w=None, gpu_scale=1.0) -> dict:
    """Ceilings (tokens/s) at given demand and weather; ``gpu_scale`` multiplies the replica count.

    All arguments broadcast. Returns D, C, P, Q, achieved, binding code, and the
    IT-power budgets (W) from the interconnect and from the cooling plant.
    """
    cap = m.facility.interconnect_w if interconnect_w is None else interconnect_w
    d, t_db, t_wb, cap, a = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in
                                                  (demand_tok_s, t_db_c, t_wb_c, cap, gpu_scale)))
    lf = m.liquid_fraction
    it_p = np.asarray(m.facility.max_it_delivered_w(cap, lf, t_db, t_wb), dtype=float)
    heat = np.asarray(m.facility.heat_rejection_capacity_w(t_db, t_wb, lf), dtype=float)
    it_q = np.asarray(m.facility.max_it_for_cooling_w(t_db, t_wb, lf), dtype=float)
    if m.multi_pool:
        out = _pool_ceilings_at(m, d, it_p, it_q, a)
        out.update({"it_budget_power_w": it_p, "it_budget_cooling_w": it_q, "heat_capacity_w": heat})
        return out
    # a·N replicas (racks scale too): budget per "unit facility" is budget / a.
    ovh = m.overhead_w
    unit = lambda b: (b - a * ovh) / a + ovh  # noqa: E731  (racks scale with a too)
    c = m.curves.compute_tok_s * a
    p = m.curves.ceiling(unit(it_p), "p", beyond_compute=True) * a
    q = m.curves.ceiling(unit(it_q), "q", beyond_compute=True) * a
    out = {}
    th = m.scenario.facility.thermal
    if th is not None:
        # the GPU dies at their limit in normal operation hold the clock (dcsim.engine.flex.FlexChunk._die_hold): the
        # cooling ceiling is the lower of the plant's and the dies' (die_ceiling_tok_s, at the budget the engine's
        # levels are read under: the power budget alone where heat is stored, with the pre-emptive cap the cooling
        # budget too). Until 2026-12-05 the plant's alone: the closed form read compute (C) where the run read cooling.
        it_fit = np.minimum(it_p, it_q) if th.preemptive_cap else it_p
        q_die = np.asarray(die_ceiling_tok_s(m, d, it_fit, a), dtype=float)
        out["die_binds"] = q_die < q
        q = np.minimum(q, q_die)
    code = binding_of(d, c, p, q)
    return {"demand_tok_s": d, "compute_tok_s": c, "power_tok_s": p, "cooling_tok_s": q,
            "achieved_tok_s": np.minimum(np.minimum(d, c), np.minimum(p, q)), "binding": code,
            "it_budget_power_w": it_p, "it_budget_cooling_w": it_q, "heat_capacity_w": heat, **out}


def _flip(pred, lo: float, hi: float, log: bool = False, iters: int = 60) -> float:
    """Boundary where the boolean ``pred`` changes between ``lo`` and ``hi`` (bisection).

    NaN when ``pred`` has the same value at both ends (no crossing in the range).
    """
    plo, phi = bool(pred(lo)), bool(pred(hi))
    if plo == phi:
        return float("nan")
    for _ in range(iters):
        mid = math.sqrt(lo * hi) if log else 0.5 * (lo + hi)
        if bool(pred(mid)) == plo:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi) if log else 0.5 * (lo + hi)


#: Bisections of each change :func:`_spans` finds between two grid points: the 0.25-degC step
#: (dcsim.tpf.CROSSOVER_T_OUT_STEP_C) halved 20 times is 2.4e-7 degC, far under the 0.1 degC `dcsim tpf` prints (until
#: 2026-12-05 60, :func:`_flip`'s default for its log-spaced ranges: 40 more ceilings_at calls per change for nothing).
SPAN_BISECTIONS = 20


def _spans(pred_grid, pred, lo: float, hi: float, step: float) -> list[dict]:
    """Every span of ``lo``..``hi`` where the boolean ``pred`` holds, as ``{"from_c", "to_c"}`` (None where the span
    reaches the end of the range): ``pred_grid`` (the predicate over an array) read on a grid of about ``step``, each
    change between two grid points bisected with ``pred`` (:func:`_flip`). A span narrower than ``step`` may be
    missed; comparing the two ends alone (as :func:`_flip` does) misses any even number of changes."""
    g = np.linspace(lo, hi, max(2, int(math.ceil((hi - lo) / step - 1e-9)) + 1))
    on = np.asarray(pred_grid(g), dtype=bool)
    spans, start = [], None  # start: where the span open now began (None: at ``lo``)
    for k in np.flatnonzero(on[1:] != on[:-1]):
        x = _flip(pred, float(g[k]), float(g[k + 1]), iters=SPAN_BISECTIONS)
        x = 0.5 * float(g[k] + g[k + 1]) if math.isnan(x) else x  # the scalar read disagreed with the grid's
        if on[k + 1]:
            start = x
        else:
            spans.append({"from_c": start, "to_c": x})
    if on[-1]:
        spans.append({"from_c": start, "to_c": None})
    return spans


def crossovers(m: Models, demand_tok_s: float, t_db_c: float, t_wb_c: float,
               achieved_tok_s: float | None = None) -> dict:
    """Where the binding constraint changes, holding everything else at the given moment.

    * ``interconnect_w``: delivered power below which power binds *at the interconnect* (facility rebuilt for
      each interconnect, see :func:`dcsim.engine.build.with_interconnect`); where the racks' own power limits
      hold the fleet (:meth:`~dcsim.engine.tables.SupplyCurves.rack_limited`), the interconnect above which
      they do instead (more contract buys nothing there), and ``racks_hold_power`` says whether they do at the
      scenario's interconnect;
    * ``gpus``: GPU count above which compute stops binding (racks scale with GPUs);
    * ``cooling_binds_t_out_c``: every span of outdoor dry-bulb (wet-bulb depression kept) where cooling binds, as
      ``{"from_c", "to_c"}`` degC, None where the span reaches the end of the searched range (:func:`_spans`: a grid
      of :data:`dcsim.tpf.CROSSOVER_T_OUT_STEP_C`, each change bisected); empty where cooling binds nowhere in it.
      Cooling can bind in the cold too: below the plant's rating its capacity is flat while the power budget grows
      as PUE falls (reference with B200 nodes at 40 degC: cooling binds below 15.2 and above 39.9 degC);
    * ``t_out_c``: outdoor dry-bulb above which cooling binds up to the top of the range (the last span's start).
    NaN where the binding does not flip in the searched range (:data:`dcsim.tpf.CROSSOVER_INTERCONNECT_RANGE_X`,
    ``CROSSOVER_GPU_RANGE_X``, ``CROSSOVER_T_OUT_RANGE_C``: interconnect 0.1 %–100× the scenario's, GPUs 0.1 %–1000×,
    −30…55 degC); ``t_out_c`` NaN also where cooling does not bind at the range's top. ``achieved_tok_s``: the
    moment's achieved rate when at hand (:func:`steady_report` holds it), else
    computed; the gains are measured from it.
    """
    depression = t_db_c - t_wb_c
    cap0 = float(m.facility.interconnect_w)

    def binds(kind: int, t_db=None, **kw) -> np.ndarray:
        """``kind`` (a binding code) binds the facility at the moment, or at the outdoor dry-bulb ``t_db`` (degC, a
        number or an array; the moment's wet-bulb depression kept) — with several pools, binds any pool: the facility's own
        label names one pool's constraint, that of the pool furthest short for its own demand
        (:func:`dcsim.tpf.facility_binding`), so it flips where another pool becomes the furthest short, which is no
        crossover of the constraint (mixed-fleet read "compute stops binding from 448 GPUs" where the chat pool
        stayed compute-bound at 447 and 449, when the label compared the pools' deficits in tokens/s)."""
        t = None if t_db is None else np.asarray(t_db, dtype=float)
        r = ceilings_at(m, demand_tok_s, *((t_db_c, t_wb_c) if t is None else (t, t - depression)), **kw)
        if m.multi_pool:
            return np.any(np.asarray(r["pools"]["binding"]) == kind, axis=-1)
        return np.asarray(r["binding"]) == kind

    def cooling_on(t) -> np.ndarray:  # cooling binds (any pool) at each outdoor dry-bulb of ``t``
        return binds(3, t)

    def at_interconnect(c: float) -> bool | None:
        """True where power binds at the interconnect ``c``, False where something else binds, None where power
        binds at the racks' own limits (the frontier's top under rack power limits: no budget feeds them more)."""
        r = ceilings_at(with_interconnect(m, c), demand_tok_s, t_db_c, t_wb_c)
        def at_racks(cv, p_tok: float) -> bool:  # the P ceiling is the top of the rack-limited frontier
            return cv.rack_limited("p") and p_tok >= float(cv.frontier("p").rate[-1]) * (1.0 - 1e-9)

        if m.multi_pool:  # every power-bound pool: at its racks, or (True) some at the interconnect
            pools = r["pools"]
            held = [at_racks(m.pools[i].curves, float(pools["power_tok_s"][i]))
                    for i, b in enumerate(np.asarray(pools["binding"])) if int(b) == 2]
        else:
            held = [at_racks(m.curves, float(r["power_tok_s"]))] if int(r["binding"]) == 2 else []
        if not held:
            return False
        return None if all(held) else True

    # a facility designed for each interconnect (ratings and default capacities follow it)
    (c_lo, c_hi), (a_lo, a_hi) = CROSSOVER_INTERCONNECT_RANGE_X, CROSSOVER_GPU_RANGE_X
    cap_star = _flip(lambda c: at_interconnect(c) is True, cap0 * c_lo, cap0 * c_hi, log=True)
    a_star = _flip(lambda a: bool(binds(1, gpu_scale=a)), a_lo, a_hi, log=True)
    spans = _spans(cooling_on, lambda t: bool(cooling_on(t)), *CROSSOVER_T_OUT_RANGE_C, CROSSOVER_T_OUT_STEP_C)
    top = spans[-1] if spans and spans[-1]["to_c"] is None else None
    t_star = float(top["from_c"]) if top is not None and top["from_c"] is not None else float("nan")
    # what reaching a crossover above the scenario's own value buys: the achieved rate there less the moment's
    # (tokens/s): mixed-fleet at peak read "power binds below 888.4 kW" of a 700 kW contract, +250 tok/s (0.08 %)
    now = (float(ceilings_at(m, demand_tok_s, t_db_c, t_wb_c)["achieved_tok_s"]) if achieved_tok_s is None
           else float(achieved_tok_s))
    gain_cap = (float(ceilings_at(with_interconnect(m, cap_star), demand_tok_s, t_db_c, t_wb_c)["achieved_tok_s"]) - now
                if math.isfinite(cap_star) and cap_star > cap0 else None)
    gain_gpus = (float(ceilings_at(m, demand_tok_s, t_db_c, t_wb_c, gpu_scale=a_star)["achieved_tok_s"]) - now
                 if math.isfinite(a_star) and a_star > 1.0 else None)
    return {
        "interconnect_w": cap_star,
        "racks_hold_power": at_interconnect(cap0) is None,
        "gpus": a_star * m.gpus if math.isfinite(a_star) else float("nan"),
        "t_out_c": t_star,
        "cooling_binds_t_out_c": spans,
        "interconnect_gain_tok_s": gain_cap,
        "gpus_gain_tok_s": gain_gpus,
    }


#: The moments of a run at which the closed form is evaluated, and what each one is.
MOMENTS: dict[str, str] = {
    "peak_demand": "the tick of highest offered demand",
    "hottest": "the tick of highest outdoor dry-bulb temperature",
    "mean_demand": "the tick whose offered demand is closest to the run's mean",
}


def scenario_moments(m: Models) -> dict[str, np.ndarray]:
    """Tick mid-points of the scenario: ``t_s`` (s), ``demand_tok_s`` (output tokens/s), ``t_db_c``, ``t_wb_c`` (degC).

    Fault-free inputs (no heat waves, curtailments or failures): the scenario as designed.
    """
    sc = m.scenario
    dt = float(sc.controller.tick)
    n = int(math.ceil(sc.duration / dt - 1e-9))
    t0 = np.arange(n) * dt
    t = t0 + 0.5 * dt
    demand = m.demand_tok_s(t0, dt)
    t_db, t_wb = (np.asarray(x, dtype=float) for x in m.facility.weather.at(t))
    return {"t_s": t, "demand_tok_s": demand, "t_db_c": t_db, "t_wb_c": t_wb}


def heat_rejection_it_w(cooling_tok_s: float, joule_per_token_it: float | None) -> float | None:
    """Q_rej of the closed form, W: the IT heat the plant can take, Q·E_tok, so that
    ``dcsim.tpf.token_production`` gives back the cooling ceiling Q (tokens/s) exactly.

    Q is the cooling ceiling the engine inverts (:func:`ceilings_at`): the IT power whose heat
    *with* the PDU and UPS losses fits the plant (``it_budget_cooling_w``), on the frontier with
    the racks' cooling limits. The raw capacity (``heat_capacity_w``) also covers those losses,
    so Q_rej = raw capacity / E_tok would overstate Q (7 % on reference.yaml at its hottest
    tick). E_tok is the one of the power-bound operating point (J/token); where the cooling
    frontier's own J/token differs (rack cooling limits, the frontier's curvature) Q·E_tok
    differs from ``it_budget_cooling_w`` by as much (docs/report.md, ``tpf.inputs``)."""
    if joule_per_token_it is None:
        return None
    return cooling_tok_s * joule_per_token_it


def _symbols(r: dict, m: Models, f_tok: float) -> dict:
    """The position paper's symbols backed out at a moment's power-bound operating point:
    F_tok, K_eff = C·F_tok, P_deliv, PUE = P_deliv / IT budget, E_tok = IT budget / P,
    Q_rej = Q·E_tok (:func:`heat_rejection_it_w`), D, θ. They are the keyword arguments of
    :func:`dcsim.tpf.token_production`, which gives back the moment's C, P, Q and binding."""
    p = r["power_tok_s"]
    it_b = r["it_budget_power_w"]
    e_tok = it_b / p if p > 0 else None
    return {"flop_per_token": f_tok, "effective_flops": r["compute_tok_s"] * f_tok,
            "delivered_power_w": r["interconnect_w"], "pue": r["interconnect_w"] / it_b if it_b > 0 else None,
            "joule_per_token_it": e_tok, "heat_rejection_w": heat_rejection_it_w(r["cooling_tok_s"], e_tok),
            "demand_tok_s": r["demand_tok_s"], "theta": 1.0}


def _near_tie(code: int, c: float, p: float, q: float, d: float) -> dict | None:
    """A moment's (or a pool's) power or cooling binding within the run's near tie of compute
    (:func:`dcsim.tpf.near_tie_margin` with :data:`dcsim.metrics.fmt.NEAR_TIE`, the rule of the run's "by a hair"
    notes): ``kind``, ``margin`` (C - X)/C and ``gap_tok_s`` C - X; ``buy_tok_s`` what more of that resource would buy
    at most, up to the next ceiling above X (``next``: compute, the other of power and cooling where it sits between X
    and C, or demand), tokens/s; None where it is no near tie."""
    margin = near_tie_margin(code, c, p, q, d, NEAR_TIE)
    if not math.isfinite(margin):
        return None
    kind = BINDING_NAMES[code]
    x, other = (p, ("cooling", q)) if kind == "power" else (q, ("power", p))
    nxt, lim = min((("compute", c), other, ("demand", d)), key=lambda kv: kv[1])
    return {"kind": kind, "margin": float(margin), "gap_tok_s": float(margin * c), "threshold": NEAR_TIE,
            "next": nxt, "buy_tok_s": float(max(lim - x, 0.0))}


def steady_report(m: Models, crossovers_too: bool = True, moments: dict | None = None) -> dict:
    """The closed-form Token Production Function at the moments of :data:`MOMENTS`.

    Each moment gives D, C, P, Q, the achieved rate min(D, C, P, Q), the binding constraint,
    the slack of each ceiling, the IT-power budgets, the paper's symbols at that operating
    point (``inputs``) and, with ``crossovers_too``, the crossovers (:func:`crossovers`; NaN
    where none lies in the searched range). ``dcsim tpf`` prints this; ``report.json``'s ``tpf``
    block is the same function without the crossovers (they rebuild the facility many times).
    ``moments``: :func:`scenario_moments` of ``m`` when already at hand.
    """
    mom = scenario_moments(m) if moments is None else moments
    t, demand, t_db, t_wb = mom["t_s"], mom["demand_tok_s"], mom["t_db_c"], mom["t_wb_c"]
    f_tok = flop_per_output_token(m)
    out = {"flop_per_output_token": f_tok, "gpus": m.gpus, "replicas": m.replicas,
           "interconnect_w": m.facility.interconnect_w, "moments": {}}
    picks = {"peak_demand": int(np.argmax(demand)), "hottest": int(np.argmax(t_db)),
             "mean_demand": int(np.argmin(np.abs(demand - demand.mean())))}
    for label, i in picks.items():
        r = ceilings_at(m, demand[i], t_db[i], t_wb[i])
        per_pool = r.pop("pools", None)
        bound = r.pop("bound_pool", None)
        die = bool(r.pop("die_binds", False))
        code = int(r["binding"])
        r = {k: float(v) if k != "binding" else BINDING_NAMES[int(v)] for k, v in r.items()}
        if die:  # Q is the dies' (the clock they hold at their limit), not the plant's: dcsim tpf says which
            r["cooling_limit"] = "die"
        if m.scenario.facility.thermal is not None and per_pool is None:
            # the dies' Q depends on the demand (die_ceiling_tok_s: at a demand the level they hold serves, that
            # level's rate; under more work, the level held at full work), where C and P do not: at full work,
            # where the dies set it, Q beside C and P (the docs hall at 1,400 req/s read the plant's 427,117 tok/s
            # at its demand and served 380,996 under more)
            full = ceilings_at(m, np.inf, t_db[i], t_wb[i])
            if bool(full.get("die_binds", False)):
                r["cooling_full_work_tok_s"] = float(full["cooling_tok_s"])
        if per_pool is not None:  # several pools: each pool's demand, ceilings, achieved and binding
            r["pools"] = [{"name": pool.name, "demand_tok_s": float(per_pool["demand_tok_s"][p]),
                           "compute_tok_s": float(per_pool["compute_tok_s"][p]),
                           "power_tok_s": float(per_pool["power_tok_s"][p]),
                           "cooling_tok_s": float(per_pool["cooling_tok_s"][p]),
                           "achieved_tok_s": float(per_pool["achieved_tok_s"][p]),
                           "binding": BINDING_NAMES[int(per_pool["binding"][p])],
                           "near_tie": _near_tie(int(per_pool["binding"][p]), *(float(per_pool[k][p]) for k in (
                               "compute_tok_s", "power_tok_s", "cooling_tok_s", "demand_tok_s")))}
                          for p, pool in enumerate(m.pools)]
            # the facility's binding is its bound pool's, and so is its near tie
            tie = r["pools"][int(bound)]["near_tie"] if code else None
            r["near_tie"] = dict(tie, pool=r["pools"][int(bound)]["name"]) if tie else None
        else:
            r["near_tie"] = _near_tie(code, r["compute_tok_s"], r["power_tok_s"], r["cooling_tok_s"], r["demand_tok_s"])
        r["interconnect_w"] = float(m.facility.interconnect_w)
        r["operating_point"] = MOMENTS[label]
        r["t_s"] = float(t[i])
        r["t_out_c"] = float(t_db[i])
        r["t_wb_c"] = float(t_wb[i])
        a = r["achieved_tok_s"]
        r["slack"] = {k: (r[f"{k}_tok_s"] / a - 1.0 if a > 0 else None) for k in BINDING_NAMES}
        r["inputs"] = _symbols(r, m, f_tok)
        if crossovers_too:
            r["crossover"] = crossovers(m, demand[i], t_db[i], t_wb[i], achieved_tok_s=a)
        out["moments"][label] = r
    return out
