"""Thermal dynamics: lumped thermal masses of the cooling loop and the white space, GPU thermal
throttling, and the response to a cooling failure (docs/thermal-dynamics.md).

Steady-state dcsim lets the plant reject any heat up to its capacity at once. Here heat is
stored: two well-mixed nodes exchange heat through the CRAH coil (air racks) or the CDU heat
exchanger (liquid racks),

    C_s·dT_s/dt = Q_it − UA·(T_s − T_w)          white space (air + IT metal, or secondary coolant)
    C_w·dT_w/dt = UA·(T_s − T_w) − Q_out         loop water (chilled / facility water)

with Q_out the heat the plant (plus an optional stratified storage tank) removes. The GPU sees
T_s: inlet air or coolant supply; its die runs at T_s + r_th·P and throttles at t_limit.

**Integrator.** Over one tick the heat flows Q_it and Q_out are held constant; the two-node
linear system then has a closed-form solution (total energy S = C_s·T_s + C_w·T_w grows by
(Q_it − Q_out)·dt; the difference D = T_s − T_w relaxes exponentially to its equilibrium), so
the step is exact for piecewise-constant flows at any tick length and conserves energy to
rounding: C_s·ΔT_s + C_w·ΔT_w = (Q_it − Q_out)·dt. The plant's Q_out is the one that brings
T_w back to its set point at the end of the tick (linear in Q_out, solved exactly), clipped to
what the plant and tank can do.

Wiring (phase 2): call :func:`thermal_step` once per tick after the IT power of the tick is
known, with the plant capacity of the tick (weather derating × fault); apply the returned
``gpu_power_cap_w`` (throttle or pre-emptive cap) at the next tick, as the controller's caps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dcsim.thermal.cooling import CP_WATER, RHO_WATER

#: share of the IT heat that follows the GPUs' power when they throttle: cooling_failure_response's default (simulate
#: takes it from its caller, no default: its 0.0 (feedback off) once became this silently)
#: (assumption: in the catalog DGX H100 at full load the GPUs draw 5,600 of its 9,300 W at the wall (0.60 after
#: the PSUs) and, with the host's load-following part (non_gpu_max_w - non_gpu_idle_w), 0.86; 0.8 lies between)
GPU_HEAT_SHARE = 0.8

__all__ = [
    "ThermalParams", "ThermalState", "thermal_params", "steady_state", "two_node_step",
    "plant_removal_w", "thermal_step", "simulate", "gpu_temperature_c", "allowed_gpu_power_w",
    "clock_fraction_for_power", "power_for_clock_fraction", "cooling_failure_response",
]


# --------------------------------------------------------------------------- GPU thermal limits
def gpu_temperature_c(t_coolant_c, power_w, r_th_k_per_w):
    """GPU die temperature [degC] = coolant (inlet air or cold-plate water) + r_th·P."""
    return np.asarray(t_coolant_c, dtype=float) + r_th_k_per_w * np.asarray(power_w, dtype=float)


def allowed_gpu_power_w(t_coolant_c, t_limit_c: float, r_th_k_per_w: float):
    """Largest GPU board power [W] that keeps the die at or under t_limit at this coolant
    temperature: (t_limit − T_coolant)/r_th (unclipped; below the GPU's lowest power limit the
    GPU cannot be held under its limit: shed)."""
    return (t_limit_c - np.asarray(t_coolant_c, dtype=float)) / r_th_k_per_w


def clock_fraction_for_power(power_w, p_idle_w: float, p_max_w: float, gamma: float):
    """Clock (fraction of maximum) at which a GPU draws power_w, from P = P_idle + (P_max −
    P_idle)·f^γ (the DVFS law of DESIGN.md: dynamic power ∝ clock^γ); clipped to [0, 1]."""
    x = (np.asarray(power_w, dtype=float) - p_idle_w) / (p_max_w - p_idle_w)
    return np.clip(x, 0.0, 1.0) ** (1.0 / gamma)


def power_for_clock_fraction(clock, p_idle_w: float, p_max_w: float, gamma: float):
    """Inverse of :func:`clock_fraction_for_power`: P = P_idle + (P_max − P_idle)·f^γ [W]."""
    return p_idle_w + (p_max_w - p_idle_w) * np.clip(np.asarray(clock, dtype=float), 0.0, 1.0) ** gamma


# --------------------------------------------------------------------------- parameters and state
@dataclass(frozen=True)
class ThermalParams:
    """Resolved SI parameters of :class:`~dcsim.scenario.facility.ThermalDynamicsSpec`."""

    c_space_j_per_k: float
    c_loop_j_per_k: float
    ua_w_per_k: float
    setpoint_c: float
    tank_capacity_j: float
    tank_max_discharge_w: float
    tank_max_recharge_w: float
    tank_initial_j: float
    t_limit_c: float
    r_th_k_per_w: float
    p_max_w: float
    p_min_w: float
    p_idle_w: float
    gamma: float
    preemptive_cap: bool
    shed_space_c: float
    allowable_space_c: float = math.inf  # the server inlet's allowable maximum: warned above, not shed (inf: none)


@dataclass(frozen=True)
class ThermalState:
    """Temperatures of the two nodes [degC] and the tank's stored cooling [J]."""

    t_space_c: float
    t_loop_c: float
    tank_j: float = 0.0


def thermal_params(spec, design_heat_w: float, setpoint_c: float) -> ThermalParams:
    """Resolve a ThermalDynamicsSpec for a plant of `design_heat_w` holding `setpoint_c`
    (``spec.design_heat`` and ``spec.setpoint`` override them when given)."""
    q = float(spec.design_heat) if spec.design_heat is not None else float(design_heat_w)
    if not q > 0 or not math.isfinite(q):
        raise ValueError(f"thermal dynamics: design heat must be finite and > 0, got {q}")
    sp = float(spec.setpoint) if spec.setpoint is not None else float(setpoint_c)
    c_loop = RHO_WATER * spec.loop_water_l_per_kw * 1e-3 * (q / 1e3) * CP_WATER
    tank = spec.tank
    if tank is not None:
        cap = RHO_WATER * tank.volume_m3 * CP_WATER * tank.usable_delta_t
        dis = math.inf if tank.max_discharge is None else float(tank.max_discharge)
        rec = math.inf if tank.max_recharge is None else float(tank.max_recharge)
        init = tank.initial_charge * cap
    else:
        cap, dis, rec, init = 0.0, 0.0, 0.0, 0.0
    g = spec.gpu
    d = spec.kind_defaults  # THERMAL_KIND_DEFAULTS of the spec's kind (the spec's own figures)

    def pick(value, key):
        return float(d[key] if value is None else value)

    return ThermalParams(
        c_space_j_per_k=pick(spec.white_space_j_per_k_per_w, "white_space_j_per_k_per_w") * q,
        c_loop_j_per_k=c_loop, ua_w_per_k=q / pick(spec.coil_approach, "coil_approach"), setpoint_c=sp,
        tank_capacity_j=cap, tank_max_discharge_w=dis, tank_max_recharge_w=rec, tank_initial_j=init,
        t_limit_c=g.t_limit, r_th_k_per_w=pick(g.r_th_k_per_w, "r_th_k_per_w"), p_max_w=g.p_max_w,
        p_min_w=g.p_min_w, p_idle_w=g.p_idle_w, gamma=g.gamma, preemptive_cap=spec.preemptive_cap,
        shed_space_c=pick(spec.shed_inlet_limit, "shed_space_c"),
        allowable_space_c=pick(spec.inlet_allowable_limit, "allowable_space_c"))


def steady_state(p: ThermalParams, heat_w: float) -> ThermalState:
    """Equilibrium with the plant holding its set point and carrying heat_w: T_w = set point,
    T_s = T_w + Q/UA; the tank at its initial charge."""
    return ThermalState(p.setpoint_c + heat_w / p.ua_w_per_k, p.setpoint_c, p.tank_initial_j)


# --------------------------------------------------------------------------- the exact step
def two_node_step(t_space_c, t_loop_c, q_in_w, q_out_w, c_space, c_loop, ua, dt_s):
    """Exact solution after dt_s of the two-node system with constant heat flows (vectorized):
    Q_in into the white space, Q_out out of the loop. Returns (T_s, T_w) [degC].

    S = C_s·T_s + C_w·T_w grows by (Q_in − Q_out)·dt; D = T_s − T_w obeys
    dD/dt = Q_in/C_s + Q_out/C_w − k·D, k = UA·(1/C_s + 1/C_w), so
    D(dt) = D_∞ + (D_0 − D_∞)·e^{−k·dt}, D_∞ = (Q_in/C_s + Q_out/C_w)/k."""
    ts, tw, q_in, q_out = (np.asarray(x, dtype=float) if isinstance(x, (list, tuple)) else x
                           for x in (t_space_c, t_loop_c, q_in_w, q_out_w))
    s1 = c_space * ts + c_loop * tw + (q_in - q_out) * dt_s
    k = ua * (1.0 / c_space + 1.0 / c_loop)
    d_inf = (q_in / c_space + q_out / c_loop) / k
    d1 = d_inf + (ts - tw - d_inf) * math.exp(-k * dt_s)  # scalars and arrays alike
    tw1 = (s1 - c_space * d1) / (c_space + c_loop)
    return tw1 + d1, tw1


def plant_removal_w(p: ThermalParams, t_space_c: float, t_loop_c: float, q_in_w: float, dt_s: float) -> float:
    """Heat removal [W] over the next dt_s that brings the loop exactly to its set point
    (T_w(dt) is linear in Q_out: solved in closed form); may be negative (loop below set point)."""
    c_s, c_w = p.c_space_j_per_k, p.c_loop_j_per_k
    k = p.ua_w_per_k * (1.0 / c_s + 1.0 / c_w)
    e = math.exp(-k * dt_s)
    a = two_node_step(float(t_space_c), float(t_loop_c), float(q_in_w), 0.0, c_s, c_w, p.ua_w_per_k, dt_s)[1]
    b = (-dt_s - c_s * (1.0 - e) / (c_w * k)) / (c_s + c_w)  # dT_w(dt)/dQ_out < 0
    return (p.setpoint_c - a) / b


def thermal_step(p: ThermalParams, state: ThermalState, it_heat_w: float, plant_capacity_w: float,
                 dt_s: float) -> tuple[ThermalState, dict]:
    """Advance one tick with IT heat `it_heat_w` (held over the tick) and the plant able to
    remove up to `plant_capacity_w`. Returns the new state and the tick's flows:
    ``q_out_w`` (heat leaving the loop: plant + tank), ``q_plant_w`` (heat the plant moved,
    including tank recharge: what its chillers/economizer work on), ``q_tank_w`` (tank
    discharge, < 0 while recharging), ``gpu_power_cap_w`` (the thermal limit at the new
    white-space temperature, for the next tick), ``shed`` (the GPUs cannot be held under
    their limit even at their lowest power, or the room passed its shutdown limit)."""
    want = plant_removal_w(p, state.t_space_c, state.t_loop_c, it_heat_w, dt_s)
    want = max(want, 0.0)
    cap = max(float(plant_capacity_w), 0.0)
    tank = state.tank_j
    if want <= cap:
        q_plant_direct = want
        recharge = min(cap - want, p.tank_max_recharge_w, (p.tank_capacity_j - tank) / dt_s) \
            if p.tank_capacity_j > 0 else 0.0
        recharge = max(recharge, 0.0)
        q_tank = -recharge
    else:
        q_plant_direct = cap
        q_tank = min(want - cap, p.tank_max_discharge_w, tank / dt_s) if p.tank_capacity_j > 0 else 0.0
        q_tank = max(q_tank, 0.0)
    q_out = q_plant_direct + max(q_tank, 0.0)
    ts, tw = two_node_step(float(state.t_space_c), float(state.t_loop_c), float(it_heat_w), float(q_out),
                           p.c_space_j_per_k, p.c_loop_j_per_k, p.ua_w_per_k, dt_s)
    new = ThermalState(ts, tw, tank - q_tank * dt_s)
    allowed = (p.t_limit_c - ts) / p.r_th_k_per_w  # allowed_gpu_power_w, scalar
    shed = allowed < p.p_min_w or ts >= p.shed_space_c
    return new, {"q_out_w": q_out, "q_plant_w": q_plant_direct + max(-q_tank, 0.0), "q_tank_w": q_tank,
                 "gpu_power_cap_w": min(max(allowed, p.p_min_w), p.p_max_w), "shed": shed,
                 "sustainable_w": cap + (min(p.tank_max_discharge_w, tank / dt_s) if p.tank_capacity_j > 0 else 0.0)}


# --------------------------------------------------------------------------- a run of ticks
def simulate(p: ThermalParams, state: ThermalState, it_heat_w, plant_capacity_w, dt_s: float,
             gpu_power_w=None, *, gpu_heat_share: float) -> dict[str, np.ndarray]:
    """Run :func:`thermal_step` over the ticks of `it_heat_w` (requested IT heat, W) and
    `plant_capacity_w` (W), with the GPUs' feedback when `gpu_heat_share` > 0; 0 switches the feedback off: the IT
    heat is taken as given. `gpu_heat_share` is a required keyword, with no default (:data:`GPU_HEAT_SHARE` is
    :func:`cooling_failure_response`'s): it defaulted to 0.0 (feedback off), then for part of session 52 to 0.8, a
    silent change of behaviour for every caller that left it out.

    * the GPU part of the IT heat (``gpu_heat_share`` of it at the requested per-GPU power
      `gpu_power_w`) scales with the GPU power actually allowed: min(requested, thermal limit
      of the previous tick) — throttling;
    * with ``preemptive_cap``, when the plant plus tank cannot carry the requested heat the GPU
      power is capped at once so that the IT heat equals what they can carry (floored at the
      GPUs' lowest power limit);
    * once shed (GPUs cannot be held under their limit at their lowest power, or the room is
      past its shutdown temperature) IT is switched off and stays off for the rest of the run.

    Returns per-tick arrays: t_space_c, t_loop_c, tank_j (end of tick), it_heat_w (actual),
    q_out_w, q_plant_w, q_tank_w, gpu_power_w (actual), clock (fraction of maximum), throttled,
    capped, shed (bool)."""
    it_req = np.asarray(it_heat_w, dtype=float)
    cap = np.broadcast_to(np.asarray(plant_capacity_w, dtype=float), it_req.shape)
    n = it_req.size
    p_req = np.broadcast_to(np.asarray(p.p_max_w if gpu_power_w is None else gpu_power_w, dtype=float),
                            it_req.shape)
    out = {k: np.zeros(n) for k in ("t_space_c", "t_loop_c", "tank_j", "it_heat_w", "q_out_w", "q_plant_w",
                                     "q_tank_w", "gpu_power_w", "clock")}
    flags = {k: np.zeros(n, dtype=bool) for k in ("throttled", "capped", "shed")}
    limit = float(min(max(allowed_gpu_power_w(state.t_space_c, p.t_limit_c, p.r_th_k_per_w), p.p_min_w), p.p_max_w))
    is_shed = False
    for i in range(n):
        pr = float(p_req[i])
        pg = pr
        if is_shed:
            heat, pg = 0.0, 0.0
        else:
            if gpu_heat_share > 0 and pr > limit:
                pg = limit
                flags["throttled"][i] = True
            if gpu_heat_share > 0 and p.preemptive_cap:
                avail = cap[i] + (min(p.tank_max_discharge_w, state.tank_j / dt_s) if p.tank_capacity_j > 0 else 0.0)
                if it_req[i] > avail:
                    # GPU power at which IT heat = avail: it·(1 − s + s·P/P_req) = avail
                    p_fit = pr * (1.0 - (it_req[i] - avail) / (gpu_heat_share * it_req[i]))
                    p_fit = max(p_fit, p.p_min_w)
                    if p_fit < pg:
                        pg = p_fit
                        flags["capped"][i] = True
            heat = float(it_req[i]) * (1.0 - gpu_heat_share + gpu_heat_share * pg / pr) if pr > 0 else float(it_req[i])
        state, f = thermal_step(p, state, heat, float(cap[i]), dt_s)
        limit = f["gpu_power_cap_w"]
        if f["shed"] and not is_shed and gpu_heat_share > 0:
            is_shed = True
        flags["shed"][i] = is_shed
        out["t_space_c"][i], out["t_loop_c"][i], out["tank_j"][i] = state.t_space_c, state.t_loop_c, state.tank_j
        out["it_heat_w"][i], out["q_out_w"][i], out["q_plant_w"][i] = heat, f["q_out_w"], f["q_plant_w"]
        out["q_tank_w"][i], out["gpu_power_w"][i] = f["q_tank_w"], pg
    out["clock"] = np.where(out["gpu_power_w"] > 0,
                            clock_fraction_for_power(np.maximum(out["gpu_power_w"], p.p_idle_w), p.p_idle_w,
                                                     p.p_max_w, p.gamma)
                            / np.maximum(clock_fraction_for_power(p_req, p.p_idle_w, p.p_max_w, p.gamma), 1e-12), 0.0)
    out["clock"] = np.minimum(out["clock"], 1.0)
    out.update(flags)
    return out


def _first_time(mask, t_s):
    idx = np.flatnonzero(mask)
    return float(t_s[idx[0]]) if idx.size else None


def cooling_failure_response(p: ThermalParams, it_heat_w, plant_capacity_w, dt_s: float, *,
                             gpu_power_w=None, gpu_heat_share: float = GPU_HEAT_SHARE, tokens_per_s=None,
                             state: ThermalState | None = None) -> dict:
    """What a cooling failure does to a facility carrying the IT load path `it_heat_w` (W per
    tick) while the plant can remove `plant_capacity_w` (W per tick, the failure as a drop).

    Starts from the steady state of the first tick (unless `state` is given) and returns
    ``time_to_first_throttle_s`` (end of the first tick whose GPUs run below their requested
    power for temperature; None if never), ``time_to_first_shed_s`` (None if never),
    ``time_to_first_cap_s`` (pre-emptive caps), the peak white-space and loop temperatures,
    ``mean_clock`` and, with `tokens_per_s` (tokens/s at the requested clock, per tick),
    ``tokens_lost`` = Σ tokens_per_s·(1 − clock)·dt — an upper bound for memory-bound
    decode, whose rate falls less than the clock (DESIGN.md node physics) — plus the per-tick
    arrays of :func:`simulate` under ``series``. Times are measured from the start of the path."""
    it = np.asarray(it_heat_w, dtype=float)
    if state is None:
        state = steady_state(p, float(it[0]))
    s = simulate(p, state, it, plant_capacity_w, dt_s, gpu_power_w=gpu_power_w, gpu_heat_share=gpu_heat_share)
    t_end = (np.arange(it.size) + 1.0) * dt_s
    # a tick is throttled when the thermal limit of the tick before held the GPUs down
    res = {
        "time_to_first_throttle_s": _first_time(s["throttled"], t_end - dt_s),
        "time_to_first_cap_s": _first_time(s["capped"], t_end - dt_s),
        "time_to_first_shed_s": _first_time(s["shed"], t_end),
        "peak_space_c": float(s["t_space_c"].max()),
        "peak_loop_c": float(s["t_loop_c"].max()),
        "mean_clock": float(s["clock"].mean()),
        "series": s,
    }
    if tokens_per_s is not None:
        tps = np.broadcast_to(np.asarray(tokens_per_s, dtype=float), it.shape)
        res["tokens_lost"] = float(np.sum(tps * (1.0 - s["clock"]) * dt_s))
    return res
