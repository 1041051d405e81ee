"""Thermal masses: energy balance (exact for the integrator), closed form vs an ODE solver,
throttling and shedding after a cooling failure, storage tank, pre-emptive caps."""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from dcsim.scenario.facility import THERMAL_KIND_DEFAULTS, GpuThermalSpec, ThermalDynamicsSpec, ThermalStorageTankSpec
from dcsim.thermal.dynamics import (
    ThermalState, allowed_gpu_power_w, clock_fraction_for_power, cooling_failure_response, gpu_temperature_c,
    power_for_clock_fraction, simulate, steady_state, thermal_params, thermal_step, two_node_step,
)

Q = 10e6  # design heat, W


def params(**kw):
    return thermal_params(ThermalDynamicsSpec(**kw), Q, 15.0)


def test_energy_balance_is_exact_for_any_flows():
    p = params()
    rng = np.random.default_rng(1)
    for _ in range(50):
        ts, tw = rng.uniform(15, 40, 2)
        qi, qo = rng.uniform(0, 2 * Q, 2)
        dt = rng.uniform(0.1, 3600)
        ts1, tw1 = two_node_step(ts, tw, qi, qo, p.c_space_j_per_k, p.c_loop_j_per_k, p.ua_w_per_k, dt)
        lhs = p.c_space_j_per_k * (ts1 - ts) + p.c_loop_j_per_k * (tw1 - tw)
        assert lhs == pytest.approx((qi - qo) * dt, rel=1e-9, abs=1e-3 * p.c_loop_j_per_k)


def test_two_node_step_matches_an_ode_solver_and_is_tick_independent():
    p = params()
    c_s, c_w, ua = p.c_space_j_per_k, p.c_loop_j_per_k, p.ua_w_per_k
    q_in, q_out = 8e6, 3e6

    def rhs(_t, y):
        ts, tw = y
        x = ua * (ts - tw)
        return [(q_in - x) / c_s, (x - q_out) / c_w]

    sol = solve_ivp(rhs, (0, 1800), [20.0, 15.0], rtol=1e-10, atol=1e-10, t_eval=[1800])
    one = two_node_step(20.0, 15.0, q_in, q_out, c_s, c_w, ua, 1800.0)
    ts, tw = 20.0, 15.0
    for _ in range(1800):  # the same flows in 1-s ticks: the exact step composes
        ts, tw = two_node_step(ts, tw, q_in, q_out, c_s, c_w, ua, 1.0)
    np.testing.assert_allclose(one, sol.y[:, -1], rtol=1e-8)
    np.testing.assert_allclose((ts, tw), sol.y[:, -1], rtol=1e-8)


def test_steady_state_is_held_and_plant_hits_set_point():
    p = params()
    st = steady_state(p, 7e6)
    new, f = thermal_step(p, st, 7e6, Q, 60.0)
    assert new.t_loop_c == pytest.approx(15.0, abs=1e-9)
    assert new.t_space_c == pytest.approx(15.0 + 7e6 / p.ua_w_per_k, abs=1e-9)
    assert f["q_out_w"] == pytest.approx(7e6, rel=1e-9)
    # a load step within capacity: the loop is back at its set point at the end of every tick
    s = simulate(p, st, np.full(30, 9e6), Q, 60.0, gpu_heat_share=0.0)
    np.testing.assert_allclose(s["t_loop_c"], 15.0, atol=1e-9)


def test_simulated_run_conserves_energy_including_the_tank():
    p = params(tank=ThermalStorageTankSpec(volume_m3=200, max_discharge="4 MW"))
    # the tank holds rho*V*c_p*usable_delta_t = 200 m3 x ~1000 kg/m3 x ~4186 J/(kg K) x 7.5 K (default)
    assert p.tank_capacity_j == pytest.approx(200 * 1000.0 * 4186.0 * 7.5, rel=1e-2)  # measured 6.279 GJ, exact
    st = steady_state(p, 8e6)
    rng = np.random.default_rng(3)
    it = rng.uniform(4e6, 9e6, 400)
    cap = np.where((np.arange(400) > 50) & (np.arange(400) < 200), 3e6, Q)
    s = simulate(p, st, it, cap, 30.0, gpu_heat_share=0.0)
    stored = p.c_space_j_per_k * (s["t_space_c"][-1] - st.t_space_c) + p.c_loop_j_per_k * (s["t_loop_c"][-1] - st.t_loop_c)
    assert stored == pytest.approx(np.sum(s["it_heat_w"] - s["q_out_w"]) * 30.0, rel=1e-9, abs=1e3)
    # the tank gives out exactly what it loses, stays within [0, capacity] and is recharged after
    assert st.tank_j - s["tank_j"][-1] == pytest.approx(np.sum(s["q_tank_w"]) * 30.0, rel=1e-9, abs=1.0)
    assert np.all(s["tank_j"] >= -1e-6) and np.all(s["tank_j"] <= p.tank_capacity_j + 1e-6)
    assert s["tank_j"].min() < p.tank_capacity_j and s["tank_j"][-1] == pytest.approx(p.tank_capacity_j)
    assert np.all(s["q_out_w"] <= cap + 4e6 + 1e-6)


def test_with_no_heat_removal_the_rise_is_the_energy_balance():
    p = params()
    st = steady_state(p, 6e6)
    n, dt = 600, 1.0
    s = simulate(p, st, np.full(n, 6e6), 0.0, dt, gpu_heat_share=0.0)
    mean_t = (p.c_space_j_per_k * s["t_space_c"] + p.c_loop_j_per_k * s["t_loop_c"]) / (p.c_space_j_per_k + p.c_loop_j_per_k)
    mean_0 = (p.c_space_j_per_k * st.t_space_c + p.c_loop_j_per_k * st.t_loop_c) / (p.c_space_j_per_k + p.c_loop_j_per_k)
    # m·c_p·dT/dt = Q_in − Q_out with Q_out = 0: linear in time
    np.testing.assert_allclose(mean_t - mean_0, 6e6 * dt * np.arange(1, n + 1) / (p.c_space_j_per_k + p.c_loop_j_per_k),
                               rtol=1e-9)
    assert np.all(np.diff(s["t_space_c"]) > 0) and np.all(np.diff(s["t_loop_c"]) > 0)
    # and the split between the nodes follows the two-node ODE (time constant 1/(UA(1/C_s + 1/C_w)) ~ 49 s):
    # the engine's per-tick step (thermal_step) is checked against the solver, not just the mean
    c_s, c_w, ua = p.c_space_j_per_k, p.c_loop_j_per_k, p.ua_w_per_k

    def rhs(_t, y):
        x = ua * (y[0] - y[1])
        return [(6e6 - x) / c_s, x / c_w]

    t = dt * np.arange(1, n + 1)
    sol = solve_ivp(rhs, (0, n * dt), [st.t_space_c, st.t_loop_c], rtol=1e-10, atol=1e-10, t_eval=t)
    np.testing.assert_allclose(s["t_space_c"], sol.y[0], rtol=1e-8)  # measured max rel. diff 3e-11, bar 1e-8
    np.testing.assert_allclose(s["t_loop_c"], sol.y[1], rtol=1e-8)


def test_gpu_thermal_functions_invert_each_other():
    g = GpuThermalSpec()
    r_th = THERMAL_KIND_DEFAULTS["air"]["r_th_k_per_w"]
    t = np.linspace(20, 60, 9)
    p_allowed = allowed_gpu_power_w(t, g.t_limit, r_th)
    np.testing.assert_allclose(gpu_temperature_c(t, p_allowed, r_th), g.t_limit)
    # the default resistances put a 700 W GPU at its 87 degC limit at a 35 degC inlet (air) and
    # 45 degC coolant (liquid)
    assert gpu_temperature_c(35.0, 700.0, r_th) == pytest.approx(87.0)
    assert gpu_temperature_c(45.0, 700.0, THERMAL_KIND_DEFAULTS["liquid"]["r_th_k_per_w"]) == pytest.approx(87.0)
    f = np.linspace(0.1, 1, 10)
    np.testing.assert_allclose(clock_fraction_for_power(power_for_clock_fraction(f, 72, 700, 2.0), 72, 700, 2.0), f)
    # the DVFS law itself, not only its inverse: half clock at gamma 2 is 72 + 628/4 = 229 W
    assert power_for_clock_fraction(0.5, 72, 700, 2.0) == pytest.approx(229.0)
    assert clock_fraction_for_power(229.0, 72, 700, 2.0) == pytest.approx(0.5)
    assert np.all(np.diff(p_allowed) < 0)  # hotter coolant, lower allowed power


def failure(p, minutes=60, cap_after=0.0, load=8e6, dt=1.0):
    n = int(minutes * 60 / dt)
    it = np.full(n, load)
    cap = np.where(np.arange(n) * dt < 60, Q, cap_after)
    return cooling_failure_response(p, it, cap, dt, gpu_power_w=650.0, gpu_heat_share=0.75, tokens_per_s=1e6)


def test_chiller_trip_throttles_then_sheds_and_mass_buys_time():
    p = params()
    base = failure(p)
    assert base["time_to_first_throttle_s"] is not None and base["time_to_first_shed_s"] is not None
    assert 60 < base["time_to_first_throttle_s"] < base["time_to_first_shed_s"]
    s = base["series"]
    i = int(base["time_to_first_throttle_s"])  # first throttled tick
    # the GPUs throttle exactly when the white space reaches the temperature that puts a 650 W GPU at 87 degC
    assert s["t_space_c"][i - 1] >= 87.0 - p.r_th_k_per_w * 650.0 - 1e-9 > s["t_space_c"][i - 2]
    assert base["tokens_lost"] > 0 and base["mean_clock"] < 1
    # the throttle time is the one of the closed form: from the steady state, no heat removal after 60 s,
    # the first tick whose white space starts above the threshold (measured 1415 s, crossing at 1414.4 s)
    st = steady_state(p, 8e6)
    thr = 87.0 - p.r_th_k_per_w * 650.0

    def t_space_after(tau):
        return two_node_step(st.t_space_c, st.t_loop_c, 8e6, 0.0, p.c_space_j_per_k, p.c_loop_j_per_k,
                             p.ua_w_per_k, tau)[0]

    assert base["time_to_first_throttle_s"] == math.ceil(60.0 + brentq(lambda x: t_space_after(x) - thr, 1, 1e5))
    # no clock (and no token) is lost before the first throttled tick; the GPUs run at the power asked
    assert np.all(s["clock"][:i] == 1.0) and s["clock"][i] < 1.0
    # throttling feeds back: the GPU share of the heat falls with the GPU power, so the room reaches its
    # 45 degC shed limit later than at the full 8 MW (measured 1892 s vs 1848 s without feedback)
    k = int(np.argmax(s["shed"]))
    assert np.all(s["gpu_power_w"][i:k + 1] < 650.0)
    np.testing.assert_allclose(s["it_heat_w"][i:k + 1], 8e6 * (0.25 + 0.75 * s["gpu_power_w"][i:k + 1] / 650.0),
                               rtol=1e-12)
    t_shed_no_feedback = 60.0 + brentq(lambda x: t_space_after(x) - p.shed_space_c, 1, 1e5)
    assert base["time_to_first_shed_s"] > t_shed_no_feedback + 20.0
    # more loop water -> later throttle; a storage tank -> later still; a lighter load -> later
    more = failure(params(loop_water_l_per_kw=30.0))
    tank = failure(params(tank=ThermalStorageTankSpec(volume_m3=300)))
    light = failure(params(), load=5e6)
    for other in (more, tank, light):
        assert other["time_to_first_throttle_s"] is None or \
            other["time_to_first_throttle_s"] > base["time_to_first_throttle_s"]
        assert other["tokens_lost"] < base["tokens_lost"]


def test_tick_length_barely_moves_the_answer():
    a = failure(params(), dt=1.0)
    b = failure(params(), dt=10.0)
    # within one coarse tick (measured 1415 s vs 1420 s: +5 s, bar 10 s)
    assert b["time_to_first_throttle_s"] == pytest.approx(a["time_to_first_throttle_s"], abs=10.0)
    assert b["time_to_first_shed_s"] == pytest.approx(a["time_to_first_shed_s"], abs=10.0)  # measured +8 s
    assert b["tokens_lost"] == pytest.approx(a["tokens_lost"], rel=0.02)  # measured -0.45 %, bar 2 %


def test_preemptive_cap_holds_temperatures_and_avoids_throttle():
    cap_after = 5e6
    reactive = failure(params(), cap_after=cap_after)
    pre = failure(params(preemptive_cap=True), cap_after=cap_after)
    assert pre["time_to_first_cap_s"] == pytest.approx(60.0)
    assert pre["time_to_first_throttle_s"] is None and pre["time_to_first_shed_s"] is None
    assert pre["peak_space_c"] < reactive["peak_space_c"]
    # capped IT heat equals what the plant can carry
    s = pre["series"]
    np.testing.assert_allclose(s["it_heat_w"][120:], cap_after, rtol=1e-9)
    # the heat the white space released when the load fell went into the loop (+0.33 K), which
    # then holds: capped to exactly the capacity, the plant has nothing spare to pull it back
    assert s["t_loop_c"].max() < 15.5
    assert abs(s["t_loop_c"][-1] - s["t_loop_c"][-600]) < 1e-6
    # the plant plus tank: no cap while the tank makes up the 3 MW shortfall (50 m3 = 1.57 GJ, 523 s),
    # then the cap (measured 583 s vs 60 + 523.25 s)
    pt = params(preemptive_cap=True, tank=ThermalStorageTankSpec(volume_m3=50))
    tank = failure(pt, cap_after=cap_after)
    assert tank["time_to_first_cap_s"] == pytest.approx(60.0 + pt.tank_capacity_j / 3e6, abs=2.0)
    assert tank["time_to_first_throttle_s"] is None


def test_shed_is_permanent_and_switches_it_off():
    r = failure(params(), minutes=90)
    s = r["series"]
    k = int(np.argmax(s["shed"]))
    assert s["shed"][k:].all() and np.all(s["it_heat_w"][k + 1:] == 0.0)
    assert np.all(s["clock"][k + 1:] == 0.0)


def test_state_and_spec_validation():
    with pytest.raises(ValueError):
        GpuThermalSpec(p_min_w=800)
    with pytest.raises(ValueError):
        thermal_params(ThermalDynamicsSpec(), 0.0, 15.0)
    st = ThermalState(20.0, 15.0)
    assert st.tank_j == 0.0


def test_liquid_kind_defaults_and_shed_by_the_gpu_limit():
    air, liq = params(), thermal_params(ThermalDynamicsSpec(kind="liquid"), Q, 32.0)
    assert liq.c_space_j_per_k < air.c_space_j_per_k and liq.r_th_k_per_w < air.r_th_k_per_w
    assert liq.ua_w_per_k > air.ua_w_per_k and liq.shed_space_c == float("inf")
    # explicit values win over the kind's defaults
    assert thermal_params(ThermalDynamicsSpec(kind="liquid", coil_approach=5), Q, 32.0).ua_w_per_k == pytest.approx(Q / 5)
    r = failure(liq, minutes=120)
    s = r["series"]
    k = int(np.argmax(s["shed"]))
    # shed when even the lowest power limit (200 W) would put the die over 87 degC
    assert s["t_space_c"][k] >= 87.0 - liq.r_th_k_per_w * 200.0 > s["t_space_c"][k - 1]
