"""Node power: work-based power from idle, the board power limit as a law, DVFS/caps, server power."""

from __future__ import annotations

import numpy as np
import pytest

from dcsim.node import build_node
from dcsim.node.catalog import gpu_catalog, shipped_profiles
from dcsim.node.power import PowerParams, bisect_clock, gpu_power, wall_power
from dcsim.node.step import STEP_FIELDS, iteration_step
from dcsim.scenario.node import GpuSpec, NodeSpec

CHAT_IN, CHAT_OUT = 634.0, 380.0
PROFILES = shipped_profiles()


def _node(name, **kw):
    pr = PROFILES[name]
    return build_node(NodeSpec(gpu=pr["gpu"], model=pr["model"], precision=pr["precision"],
                               tensor_parallel=pr["tensor_parallel"], **kw))


@pytest.fixture(scope="module")
def h100_70b():
    return build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b"))


def test_gpu_power_formula_and_clock_scaling():
    pp = PowerParams(p_compute_w=300.0, p_memory_w=200.0, p_sync_w=50.0, gamma=2.0)
    assert gpu_power(70.0, pp, 0.5, 0.25, 0.25, 1.0) == pytest.approx(70 + 150 + 50 + 12.5)
    assert gpu_power(70.0, pp, 0.5, 0.25, 0.25, 0.5) == pytest.approx(70 + 0.25 * 212.5)
    assert gpu_power(70.0, pp, 0.0, 0.0, 0.0) == 70.0  # no work, no dynamic power


def _grid_power(n, clock, cap=None):
    """Per-GPU (dt, P) over prefill chunks, decode batches x contexts and mixed steps."""
    step = n.step_fn(clock)
    out = []
    for L in np.geomspace(1, 16384, 25):
        out.append(("prefill", L, step(L, 0, 0.0)))
    for b in np.geomspace(1, 1024, 21):
        for ctx in (128.0, 2048.0, 16384.0):
            out.append(("decode", (b, ctx), step(0, b, b * ctx)))
            out.append(("mixed", (b, ctx), step(512.0, b, b * ctx)))
    return out


#: profiles whose decode power falls more than 25 % beyond its peak (the 400-point batch grid 1-2,048 at 1,000 tokens
#: of context, uncapped): the twenty-fourth pass (docs/node.md) refitted the B200 Qwen3-235B BF16 profiles with the MoE
#: dispatch at P_sync (TP8: P_sync 222 -> 161 W, P_memory 638 -> 780 W), and their decode power now peaks at batch
#: ~56 and falls 30.2 % (TP8) / 25.9 % (TP4) by batch 2,048 (23.6 % at most before). The fall starts inside the
#: fitted range, where ML.ENERGY measured the power rising (TP8 4,770 W at batch 64, 5,078 W at 256), so it is a
#: known gap of these two profiles, not physics: test_decode_power_fall_of_b200_qwen3_235b_is_a_known_gap
DECODE_FALL_KNOWN = {"B200_qwen3-235b-a22b_bf16_tp8": 0.31, "B200_qwen3-235b-a22b_bf16_tp4": 0.27}


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_board_limit_is_a_law_for_every_profile(name):
    """Property: over batch, context, phase, clock and cap, per-GPU power never exceeds the limit,
    rises with the clock while the step shortens, and is continuous in the work of a step: rising from batch 1,
    falling beyond its peak by at most the stated bounds."""
    for cap in (None, 0.6):
        n = _node(name)
        if cap is not None:
            n = _node(name, power_cap=cap * n.gpu.tdp_w)
        tp, lim = n.gpus_per_replica, n.limit_w
        grids = {c: _grid_power(n, c) for c in (0.3, 0.6, 1.0)}
        for c, g in grids.items():
            for phase, x, (dt, p) in g:
                assert dt > 0 and p / tp <= lim * (1 + 1e-9), (c, phase, x, p / tp, lim)
                assert p / tp > n.gpu.idle_w  # any work draws more than idle
        for (_, _, (d_lo, p_lo)), (_, _, (d_hi, p_hi)) in zip(grids[0.6], grids[1.0]):
            assert p_hi >= p_lo * (1 - 1e-9) and d_hi <= d_lo * (1 + 1e-9)
        # continuous in the work of the step (no jump between neighbouring points of a 400-point grid), rising
        # from batch 1 (nothing more than 4 % below the power of the least work: the MoE profiles dip 2-4 % at
        # small batch as the expert reads spread), and not monotone beyond a peak, within stated bounds: prefill
        # peaks at the roofline ridge (both units busy) and falls up to 7.7 % by 32k tokens; decode falls up to
        # 25 % by batch 2,048 as the per-sequence overhead (at P_sync) takes a growing share of the step (an allowance,
        # assumption, not a measured fall: ML.ENERGY's B200 Qwen3-235B TP8 power goes from 5,078 W at batch 256 to
        # 4,509 W at 1,024, -11 %, but the rows beyond 256 send their prompts 2-6 times and are not fitted, and the
        # series rises again to 4,924 W at 2,048 and 5,396 W at 4,096; mlenergy_qwen3-235b-a22b-bf16.csv).
        # Except the profiles of DECODE_FALL_KNOWN, whose decode power peaks inside their fitted range and falls
        # where the measured power rises (test_decode_power_fall_of_b200_qwen3_235b_is_a_known_gap)
        step = n.step_fn()
        pre = np.array([step(L, 0, 0.0)[1] for L in np.geomspace(1, 32768, 400)])
        dec = np.array([step(0, b, b * 1000.0)[1] for b in np.geomspace(1, 2048, 400)])
        for curve, fall in ((pre, 0.10), (dec, DECODE_FALL_KNOWN.get(name, 0.25))):
            rel = np.diff(curve) / curve[:-1]
            assert np.abs(rel).max() < 0.03, name
            top = int(np.argmax(curve))
            assert curve[:top + 1].min() >= 0.96 * curve[0], name
            assert curve[top:].min() >= (1 - fall) * curve[top], name
        # prefill draws at least what batch-1 decode does ([SW]: prefill is the power-hungry phase)
        assert pre[-1] >= dec[0] * (1 - 1e-9)


@pytest.mark.parametrize("name,tp,band", [("B200_qwen3-235b-a22b_bf16_tp8", 8, 0.10),
                                           ("B200_qwen3-235b-a22b_bf16_tp4", 4, 0.07)])
def test_decode_power_fall_of_b200_qwen3_235b_is_a_known_gap(name, tp, band):
    """Known failure, encoded as measured: between ML.ENERGY's batch-64 and batch-256 rows of B200 Qwen3-235B BF16
    (chat, steady state at each row's batch, lengths, context and prompt spread) the measured GPU power RISES
    (TP8 4,770 -> 5,078 W, +6.4 %; TP4 3,123 -> 3,204 W, +2.6 %) while the profile's FALLS (TP8 5,212 -> 4,736 W,
    -9.1 %; TP4 3,228 -> 3,050 W, -5.5 %): since the twenty-fourth pass its decode power peaks at batch ~56
    (DECODE_FALL_KNOWN; docs/node.md). The model's fall must stay within its documented band (10 % TP8, 7 % TP4),
    so a worse fall fails; a profile whose power no longer falls here has mended the gap (update this test, the
    DECODE_FALL_KNOWN bounds and docs/node.md)."""
    import csv
    from pathlib import Path

    f = Path(__file__).resolve().parents[1] / "dcsim" / "data" / "measurements" / "mlenergy_qwen3-235b-a22b-bf16.csv"
    rows = {int(r["max_num_seqs"]): r for r in csv.DictReader(f.open())
            if r["gpu"] == "B200" and int(r["n_gpus"]) == tp and int(r["max_num_seqs"]) in (64, 256)}
    n = _node(name)
    g = lambda k: np.array([float(rows[b][k]) for b in (64, 256)])  # noqa: E731
    s = n.steady_state(g("batch"), g("mean_in"), g("mean_out"), decode_ctx=g("decode_ctx"), prompt_scv=g("prompt_scv"))
    meas = g("gpu_power_w")
    assert meas[1] > meas[0]  # the measured power rises from batch 64 to 256
    model = s.gpu_power_w[1] / s.gpu_power_w[0] - 1.0
    assert -band < model < 0.0, (name, model)


def test_limit_throttles_the_clock_and_stretches_compute_bound_steps(h100_70b):
    n = h100_70b
    capped = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", power_cap="400 W"))
    assert capped.limit_w == 400.0
    t_free, p_free = n.step_fn()(8192, 0, 0.0)
    t_cap, p_cap = capped.step_fn()(8192, 0, 0.0)
    assert p_free / 4 > 400.0 and p_cap / 4 == pytest.approx(400.0, rel=1e-6)
    assert t_cap > 1.15 * t_free                 # prefill slows under the limit
    t_d, p_d = n.step_fn()(0, 1, 1000.0)
    t_dc, p_dc = capped.step_fn()(0, 1, 1000.0)
    assert t_dc / t_d < 1.01                     # batch-1 decode barely moves [ILL] [DVFS]
    assert p_dc / 4 <= 400.0 * (1 + 1e-9)
    # caps outside the settable range are clipped (nvidia-smi -pl: 200-700 W on H100 [SMI])
    assert build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", power_cap="50 W")).limit_w == 200.0
    assert build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", power_cap="900 W")).limit_w == 700.0


def test_throttle_is_continuous_at_the_limit(h100_70b):
    """Sweeping the prefill chunk across the point where the limit starts to bind: time and power
    are continuous (no jump when the throttle engages)."""
    free = h100_70b.step_fn()
    lo, hi = free(1, 0, 0.0)[1] / 4, free(16384, 0, 0.0)[1] / 4
    cap = 0.5 * (lo + hi)
    capped = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-70b", power_cap=cap))
    L = np.geomspace(1, 16384, 3000)
    res = np.array([capped.step_fn()(x, 0, 0.0) for x in L])
    assert np.any(res[:, 1] / 4 < cap - 1.0) and np.any(res[:, 1] / 4 > cap * (1 - 1e-9))
    assert np.max(np.abs(np.diff(res[:, 0])) / res[:-1, 0]) < 0.01
    assert np.max(np.abs(np.diff(res[:, 1])) / res[:-1, 1]) < 0.01


def test_duty_cycles_when_even_the_lowest_clock_exceeds_the_limit(h100_70b):
    """With the clock floor at the controller's clock, the board idles part of the step: the
    dynamic energy is conserved and the power equals the limit."""
    n = h100_70b
    P = list(n.step_params(1.0))
    i = {k: j for j, k in enumerate(STEP_FIELDS)}
    P[i["cmin"]] = 1.0
    free = list(P)
    free[i["lim"]] = 1e12
    P[i["lim"]] = 4 * 300.0
    dt0, p0 = iteration_step(tuple(free), 8192.0, 0.0, 0.0)  # no limit: the work's own power
    dt, p = iteration_step(tuple(P), 8192.0, 0.0, 0.0)
    idle = 4 * n.gpu.idle_w
    assert p == pytest.approx(1200.0)
    assert (p - idle) * dt == pytest.approx((p0 - idle) * dt0, rel=1e-12)


def test_idle_is_below_batch_one_and_power_rises_from_it(h100_70b):
    n = h100_70b
    assert n.idle_gpu_power_w == pytest.approx(4 * 72.0)
    p1 = float(n.steady_state(1.0, CHAT_IN, CHAT_OUT).gpu_power_w) / 4
    p8 = float(n.steady_state(8.0, CHAT_IN, CHAT_OUT).gpu_power_w) / 4
    assert n.gpu.idle_w < p1 <= p8
    # ML.ENERGY: 441 W/GPU at batch 8 (0.63 TDP) [ML3]; the model gives 417.5 W (-5.3 %), held to the
    # calibrated points' +-10 % of docs/validation.md (it was 15 %)
    assert p8 == pytest.approx(441.0, rel=0.10)


def test_power_rises_with_clock_and_stays_within_the_limit(h100_70b):
    b = np.array([1, 8, 32, 64, 128, 512, 900], dtype=float)[:, None]
    c = np.array([0.3, 0.6, 1.0])[None, :]
    p = h100_70b.steady_state(b, CHAT_IN, CHAT_OUT, c).gpu_power_w / 4
    assert np.all(np.diff(p, axis=1) > 0)
    assert np.all(p <= 700.0 * (1 + 1e-9))


def test_prefill_draws_more_than_decode(h100_70b):
    step = h100_70b.step_fn()
    _, p_prefill = step(4096, 0, 0.0)
    _, p_decode = step(0, 8, 8 * 1000.0)
    assert p_prefill > p_decode + 4 * 50


def test_wall_power_hand_computed_and_full_server_near_datasheet():
    n = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-8b"))
    g, s = n.gpu, n.gpu.server
    gp = 500.0  # one GPU
    x = (500 - g.idle_w) / (g.tdp_w - g.idle_w)
    host = s.non_gpu_idle_w + (s.non_gpu_max_w - s.non_gpu_idle_w) * x
    assert float(n.wall_power(gp)) == pytest.approx((gp + host / 8) / s.psu_efficiency)
    assert np.all(np.diff(wall_power(g, 1, 8, np.linspace(0, 700, 20))) > 0)


@pytest.mark.parametrize("gpu", sorted(gpu_catalog()))
def test_fully_loaded_server_reproduces_datasheet_maximum_within_10pct(gpu):
    """8 GPUs at TDP and the host at its maximum: within 10 % of the vendor's maximum system power
    ([DGXH100] 10.2 kW, [DGXB200] 14.3 kW, DGX A100 6.5 kW), and within 10 % of the measured
    8.48 kW gpu-burn maximum of an 8xH100 HGX [LAT] for H100; idle server below 30 % of it. Every catalog GPU's
    server (until session 53 the A100-SXM4-40GB and MI300X servers were left out)."""
    n = build_node(NodeSpec(gpu=gpu, model="llama-3.1-8b"))
    s = n.gpu.server
    full = s.gpus_per_node * float(wall_power(n.gpu, 1, s.gpus_per_node, n.gpu.tdp_w))
    idle = s.gpus_per_node * float(wall_power(n.gpu, 1, s.gpus_per_node, n.gpu.idle_w))
    assert abs(full / s.server_max_w - 1) <= 0.10
    assert idle < 0.3 * full
    if gpu == "H100-SXM":
        assert abs(full / 8480.0 - 1) <= 0.10


def test_cap_clock_monotone(h100_70b):
    n = h100_70b
    caps = np.linspace(200, 700, 11)
    clk = n.clock_for_cap(caps, 512.0, CHAT_IN, CHAT_OUT)
    assert np.all(np.diff(clk) >= 0) and clk[-1] == 1.0 and clk[0] >= n.clock_min
    tput = n.steady_state(512.0, CHAT_IN, CHAT_OUT, clk).throughput_tok_s
    assert np.all(np.diff(tput) >= 0)
    pw = n.steady_state(512.0, CHAT_IN, CHAT_OUT, clk).gpu_power_w / 4
    assert np.all(pw <= np.maximum(caps, 200.0) + 1e-6)
    assert n.clock_for_cap(50.0, 512.0, CHAT_IN, CHAT_OUT) == n.clock_for_cap(200.0, 512.0, CHAT_IN, CHAT_OUT)


def test_bisect_clock_finds_boundary():
    f = lambda c: 100.0 + 600.0 * np.asarray(c) ** 2  # noqa: E731
    c = bisect_clock(f, np.array([700.0, 400.0, 50.0]), 0.2)
    assert c[0] == 1.0
    assert c[1] == pytest.approx(np.sqrt(0.5), abs=1e-9)
    assert c[2] == 0.2


def test_energy_is_power_times_time(h100_70b):
    n = h100_70b
    s = n.steady_state(64.0, CHAT_IN, CHAT_OUT)
    j = n.energy_per_output_token(64.0, CHAT_IN, CHAT_OUT)
    assert float(j) == pytest.approx(float(s.gpu_power_w * s.iter_time_s / 64.0))


def test_inline_gpu_limit_is_its_own_tdp():
    gpu = GpuSpec(name="toy", peak_flops={"bf16": "100 TFLOP/s"}, hbm_bytes="80 GB", hbm_bw="1 TB/s",
                  tdp_w="300 W", idle_w="30 W", power_limit_min_w="100 W")
    n = build_node(NodeSpec(gpu=gpu, model="llama-3.1-8b"))
    assert n.limit_w == 300.0
    assert n.step_fn()(16384, 0, 0.0)[1] <= 300.0 * (1 + 1e-9)


def test_iteration_step_compiles_with_numba_bit_for_bit():
    """The step (throttle included) stays in numba's nopython subset: compiled == Python, bit for bit."""
    import importlib
    import importlib.util

    if importlib.util.find_spec("numba") is None:  # installed but not importable: fail, not skip (audit AUC 3)
        pytest.skip("numba is not installed")
    numba = importlib.import_module("numba")
    f = numba.njit(iteration_step)
    for cap in (None, "300 W", "200 W"):
        n = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-8b", power_cap=cap))
        for clock in (1.0, 0.55):
            P = n.step_params(clock)
            for args in ((100.0, 32.0, 4e4, -1.0), (8000.0, 0.0, 0.0, -1.0), (0.0, 1.0, 1000.0, -1.0),
                         (0.0, 0.0, 0.0, -1.0), (512.0, 64.0, 64e3, 512.0 ** 2 / 2)):
                assert f(P, *args) == iteration_step(P, *args), (cap, clock, args)


@pytest.mark.parametrize("gpn", [1, 2, 4, 16])
def test_a_smaller_or_larger_node_carries_its_share_of_the_host(gpn):
    """node.gpus_per_node other than the server's: wall power per GPU equals the catalog server's at the same GPU
    power (the host per GPU slot), not the whole 8-GPU host per node (a 1-GPU H100 node drew 4.09 kW at full load)."""
    n = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-8b"))
    g = n.gpu
    for gp in (g.idle_w, 400.0, g.tdp_w):
        per_gpu_8 = float(wall_power(g, 1, 8, gp))
        assert float(wall_power(g, 1, gpn, gp)) == pytest.approx(per_gpu_8, rel=1e-12)
    # at TDP: the GPU plus its eighth of the server's host at its maximum, through the PSUs (a 1-GPU node drew 4.09 kW)
    s = g.server
    assert float(wall_power(g, 1, gpn, g.tdp_w)) == pytest.approx((g.tdp_w + s.non_gpu_max_w / s.gpus_per_node)
                                                                  / s.psu_efficiency)


@pytest.mark.parametrize("clock", [1.5, 0.0, -0.5, float("nan"), float("inf")])
def test_a_clock_outside_zero_one_is_refused(h100_70b, clock):
    """The clock is a fraction of the top clock (audit N #12: 1.5 ran as an overclock, 0 raised ZeroDivisionError,
    -0.5 a TypeError about complex numbers)."""
    with pytest.raises(ValueError, match="clock must be a fraction"):
        h100_70b.step_fn(clock)
    with pytest.raises(ValueError, match="clock must be a fraction"):
        h100_70b.steady_state(64, 634, 400, clock)


#: the other parameter paths of the property sweep, one pair each: a pair with no calibration of its own (this GPU's
#: pooled efficiencies, ``transferred``), a pooled fit the scenario names (``user-pool``) and a GPU with no measurement
#: at all (``generic``)
SWEEP_PATHS = {"transferred": dict(gpu="H100-SXM", model="mixtral-8x7b", tensor_parallel=2),
               "pooled": dict(gpu="H100-SXM", model="llama-3.1-8b", profile="dcsim/data/profiles/pooled/H100-SXM.yaml"),
               "generic": dict(gpu="MI300X", model="llama-3.1-70b")}
SWEEP_CTX = (128.0, 2048.0, 32768.0, 131072.0)


def _every_path() -> dict[str, tuple[dict, str]]:
    """``key -> (node spec, the calibration status it must take)`` for every parameter path a replica can run on
    besides its own calibration: on every catalog GPU a dense and an MoE model with no profile of their own on it (this
    GPU's pooled transfer; H200 the H100's same-silicon parameters; MI300X the generic average; Mistral-Nemo-12B BF16
    TP1 is among the A100-40GB pool's fitted data, so that transfer is partly in-sample), every shipped pool file named
    as a scenario's ``node.profile``, a calibration carried to another TP, to the other expert layout and to a model
    of the same shape, and levers on a calibration. Until session 53 the sweep ran one pair per path (the H100's transfer
    and pool, MI300X): the A100 and B200 pools and the H200 were never swept (audit of issue 14, item 1)."""
    from dcsim.node.catalog import pooled_profiles
    from dcsim.scenario.node import LeverSpec

    pools = pooled_profiles()
    paths = {}
    for g in gpu_catalog():
        status = "transferred" if g in pools else ("same-silicon" if g == "H200" else "generic")
        for m in ("mistral-nemo-12b", "mixtral-8x7b"):
            paths[f"{g}/{m}"] = dict(gpu=g, model=m), status
    for g in pools:
        paths[f"{g}/pool-file"] = dict(gpu=g, model="mistral-nemo-12b",
                                       profile=f"dcsim/data/profiles/pooled/{g}.yaml"), "user-pool"
    paths["H100-SXM/llama-3.1-70b/tp8"] = dict(gpu="H100-SXM", model="llama-3.1-70b", tensor_parallel=8), "other-tp"
    paths["B200/llama-3.1-70b/tp4"] = dict(gpu="B200", model="llama-3.1-70b", tensor_parallel=4), "other-tp"
    paths["H100-SXM/qwen3-30b-a3b/sharded"] = dict(gpu="H100-SXM", model="qwen3-30b-a3b", tensor_parallel=2,
                                                   expert_parallel=False), "other-layout"
    paths["A100-SXM4-40GB/llama-3.3-70b"] = dict(gpu="A100-SXM4-40GB", model="llama-3.3-70b",
                                                 tensor_parallel=8), "same-architecture"
    paths["H100-SXM/llama-3.1-70b/mtp"] = dict(gpu="H100-SXM", model="llama-3.1-70b",
                                               levers=LeverSpec(preset="mtp-chat")), "lever-modelled"
    kv_skip = LeverSpec(kv_precision="fp8", layer_skip=0.5)
    paths["B200/llama-3.1-70b/kv-fp8-skip"] = dict(gpu="B200", model="llama-3.1-70b", tensor_parallel=2,
                                                   levers=kv_skip), "lever-modelled"
    return paths


EVERY_PATH = _every_path()


def _sweep_node(key):
    from pathlib import Path

    if key in SWEEP_PATHS:
        n = build_node(NodeSpec(**SWEEP_PATHS[key]), base_dir=Path(__file__).resolve().parents[1])
        assert n.calibration["status"] == {"transferred": "transferred", "pooled": "user-pool",
                                           "generic": "generic"}[key]
        return n
    if key in EVERY_PATH:
        spec, status = EVERY_PATH[key]
        n = build_node(NodeSpec(**spec), base_dir=Path(__file__).resolve().parents[1])
        assert n.calibration["status"] == status, (key, n.calibration["status"])
        return n
    return _node(key)


#: the free-running (no cap, no board limit) per-GPU power of a batch of one at the top clock stays below this many
#: times TDP on every path: an assumption, generous (the shipped paths draw at most 0.92 x TDP there, B200 Qwen3-235B
#: FP8 TP2, measured 2026-12-05; a board's limit at TDP throttles above it). The limit law alone cannot see a fit whose
#: power is absurd, because the throttle holds every step at the limit: an A100-40GB pool with P_sync 2000 W passed
#: the sweep drawing exactly 400 W
FREE_BATCH_ONE_MAX_TDP = 1.5


def _free_batch_one_w(n) -> float:
    """The highest free-running per-GPU power (W) of a decode batch of one at the top clock over SWEEP_CTX."""
    i_lim = STEP_FIELDS.index("lim")
    P = _params(n, 1.0, 1e15)
    P = P[:i_lim] + (1e15,) + P[i_lim + 1:]
    return max(iteration_step(P, 0.0, 1.0, c)[1] for c in SWEEP_CTX) / n.gpus_per_replica


def _params(n, clock, limit_w):
    from dcsim.node.step import step_params

    return step_params(n.derived, n.gpu, n.gpus_per_replica, n.perf, n.pw, clock, limit_w)


def _sweep_work():
    """(phase, prefill_tokens, n_decode, ctx_sum, prefill_ctx_sum) over prefill chunks (alone and after up to 131k
    tokens of context), decode batches x contexts up to 131k tokens, and mixed steps."""
    w = [("prefill", L, 0.0, 0.0, -1.0) for L in np.geomspace(1, 16384, 8)]
    w += [("prefill", 512.0, 0.0, 0.0, 512.0 * c + 0.5 * 512.0 ** 2) for c in SWEEP_CTX]
    for b in np.geomspace(1, 1024, 6):
        for c in SWEEP_CTX:
            w.append(("decode", 0.0, b, b * c, -1.0))
            w.append(("mixed", 512.0, b, b * c, -1.0))
    return w


@pytest.mark.parametrize("key", sorted(PROFILES) + sorted(SWEEP_PATHS) + sorted(EVERY_PATH))
def test_board_limit_law_at_every_cap_clock_and_context(key):
    """Property, every shipped profile and every other parameter path (:func:`_every_path`): over caps none / 0.9 /
    0.6 x TDP / the lowest settable limit, clocks from the lowest to the top, prefill, decode and mixed steps with
    contexts up to 131k tokens: power never exceeds the limit and exceeds idle, rises with the clock while the step
    shortens, rises from idle to batch 1 and is continuous in the batch; a capped step never takes less time than the
    free one at the same clock and draws the limit wherever the cap binds (a memory-bound step's time does not depend
    on the clock, as Splitwise's decode at 0.7 x TDP; below that no measurement exists, docs/node.md "Decode time
    under a deep cap")."""
    n = _sweep_node(key)
    i_lim = STEP_FIELDS.index("lim")
    g, tp = n.gpu, n.gpus_per_replica
    # a sanity bound the throttle cannot hide: the fit's own power of a batch of one, free-running at the top clock
    assert _free_batch_one_w(n) < FREE_BATCH_ONE_MAX_TDP * g.tdp_w, (key, _free_batch_one_w(n), g.tdp_w)
    caps = {"none": None, "0.9": 0.9 * g.tdp_w, "0.6": 0.6 * g.tdp_w, "min": g.power_limit_min_w}
    clocks = (g.clock_min, 0.6, 1.0)
    work = _sweep_work()
    free = {c: [iteration_step(_params(n, c, 1e15)[:i_lim] + (1e15,) + _params(n, c, 1e15)[i_lim + 1:], *w[1:])
                for w in work] for c in clocks}
    for cap, lim_in in caps.items():
        lim = g.tdp_w if lim_in is None else lim_in
        res = {}
        for c in clocks:
            P = _params(n, c, lim)
            res[c] = [iteration_step(P, *w[1:]) for w in work]
            for w, (dt, p), (dt0, p0) in zip(work, res[c], free[c]):
                assert dt > 0 and g.idle_w < p / tp <= lim * (1 + 1e-9), (key, cap, c, w, p / tp)
                assert dt >= dt0 * (1 - 1e-9), (key, cap, c, w)
                if p0 / tp > lim * (1 + 1e-6):  # the cap binds: the step is throttled to the limit
                    assert p / tp == pytest.approx(lim, rel=1e-6), (key, cap, c, w)
        for lo, hi in zip(clocks, clocks[1:]):
            for (d_lo, p_lo), (d_hi, p_hi) in zip(res[lo], res[hi]):
                # (within the throttle's convergence, 1e-9 of the limit: both may sit on it)
                assert p_hi >= p_lo * (1 - 1e-7) and d_hi <= d_lo * (1 + 1e-7), (key, cap, lo, hi)
        # from idle, continuous in the batch: decode over 200 batches 1-2,048, at the top and the lowest clock
        for c in (g.clock_min, 1.0):
            P = _params(n, c, lim)
            for ctx in (2048.0, 131072.0):
                cur = np.array([iteration_step(P, 0.0, b, b * ctx)[1] for b in np.geomspace(1, 2048, 200)])
                assert cur[0] > tp * g.idle_w, (key, cap, c, ctx)
                assert np.abs(np.diff(cur) / cur[:-1]).max() < 0.05, (key, cap, c, ctx)
                top = int(np.argmax(cur))
                # rising from batch 1, within 4 % (the MoE profiles dip as the expert reads spread)
                assert cur[:top + 1].min() >= 0.96 * cur[0], (key, cap, c, ctx)


def test_a_fit_with_absurd_power_fails_the_free_running_bound_the_limit_law_cannot_see(tmp_path):
    """The A100-40GB pool file with P_sync set to 2000 W (its fit: 64 W) draws exactly its 400 W limit on every
    throttled step, so the limit law passes it; its free-running batch of one at the top clock is far above
    FREE_BATCH_ONE_MAX_TDP x TDP, which the sweep now asserts on every path."""
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]
    doc = yaml.safe_load((root / "dcsim/data/profiles/pooled/A100-SXM4-40GB.yaml").read_text())
    doc["params"]["p_sync_w"] = 2000.0
    (tmp_path / "pool.yaml").write_text(yaml.safe_dump(doc))
    spec = dict(gpu="A100-SXM4-40GB", model="mistral-nemo-12b")
    good = build_node(NodeSpec(**spec, profile="dcsim/data/profiles/pooled/A100-SXM4-40GB.yaml"), base_dir=root)
    bad = build_node(NodeSpec(**spec, profile=str(tmp_path / "pool.yaml")), base_dir=root)
    tdp = bad.gpu.tdp_w
    assert _free_batch_one_w(good) < FREE_BATCH_ONE_MAX_TDP * tdp
    assert _free_batch_one_w(bad) > FREE_BATCH_ONE_MAX_TDP * tdp
    # the throttle holds the mutant at its limit: the limit law alone passes it
    _, p = iteration_step(_params(bad, 1.0, tdp), 0.0, 1.0, 2048.0)
    assert p / bad.gpus_per_replica == pytest.approx(tdp, rel=1e-6)


def test_steady_state_below_one_sequence_mixes_a_batch_of_one_with_idle():
    """A replica with less than one sequence on average runs a batch of one for a share b of the time and idles the
    rest: over a time T it serves b·T times a batch of one's tokens per second and uses b·T·P(batch 1) +
    (1 - b)·T·P_idle of GPU energy, so its energy per token is that over the tokens (a batch of 0.001 no longer draws a
    batch of one's power); negative and NaN batches are refused."""
    n = build_node(NodeSpec(gpu="H100-SXM", model="llama-3.1-8b"))
    one = n.steady_state(1.0, 634.0, 400.0)
    p1, thr1, idle = float(one.gpu_power_w), float(one.throughput_tok_s), n.idle_gpu_power_w
    T = 3600.0
    for b in (0.001, 0.25, 0.5, 0.999):
        s = n.steady_state(b, 634.0, 400.0)
        energy_j = b * T * p1 + (1.0 - b) * T * idle
        tokens = b * T * thr1
        assert float(s.gpu_power_w) * T == pytest.approx(energy_j, rel=1e-9), b
        assert float(s.throughput_tok_s) * T == pytest.approx(tokens, rel=1e-9), b
        assert float(n.energy_per_output_token(b, 634.0, 400.0)) == pytest.approx(energy_j / tokens, rel=1e-9), b
    s0 = n.steady_state(0.0, 634.0, 400.0)
    assert float(s0.gpu_power_w) == idle and float(s0.throughput_tok_s) == 0.0
    for bad in (-0.5, float("nan")):
        with pytest.raises(ValueError, match="batch must be"):
            n.steady_state(bad, 634.0, 400.0)


def test_a_board_limit_below_one_sequence_throttles_the_running_step():
    """Below a batch of one the replica runs a batch of one part of the time and idles the rest; the board's power
    limit acts on the step that runs, not on the time-averaged power, so the clock a cap sets (and the board clock the
    engine reports) is a batch of one's at every batch below one. Until December 2026 the cap was met on the
    time-averaged power: the B200 70B on 2 GPUs at 300 W per GPU ran at clock 1.0 at a batch of 0.05 and 0.67 at 0.6,
    against a batch of one's 0.52, and the running step drew 834 W per GPU at 0.05 (2.8 times the limit)."""
    import dataclasses

    from dcsim.engine.gpu_clock import board_clock

    n = build_node(NodeSpec(gpu="B200", model="llama-3.1-70b", tensor_parallel=2))
    c1 = n.clock_for_cap(300.0, 1.0, 634.0, 400.0)
    assert n.gpu.clock_min < c1 < 0.9
    b = np.array([0.05, 0.3, 0.6, 1.0])
    for bi in b:
        c = n.clock_for_cap(300.0, float(bi), 634.0, 400.0)
        assert c == pytest.approx(c1, rel=1e-6), bi
        # the running step (a batch of one) at that clock draws the limit, not more
        run = float(n.steady_state(1.0, 634.0, 400.0, c).gpu_power_w) / n.gpus_per_replica
        assert run <= 300.0 * (1 + 1e-6), (bi, run)
    capped = dataclasses.replace(n, power_cap_w=300.0)
    assert board_clock(capped, b, 634.0, 400.0) == pytest.approx(np.full(4, c1), rel=1e-6)
