"""One batch iteration of a replica as a pure function of plain floats: the single source of the step.

``iteration_step(P, prefill_tokens, n_decode, ctx_tokens_sum, prefill_ctx_sum) -> (dt_s, gpu_power_w)``
is written in the subset of Python that numba compiles (float arithmetic, ``**``, if/else, one
bounded loop, one tuple of parameters), so the readable request-fidelity loop
(:mod:`dcsim.serving.replica`, which calls it as plain Python), the compiled serving kernel (which
compiles this very function) and the steady state (:func:`steady_step`, which maps it over arrays)
execute the same operations in the same order. ``P`` is the tuple built by :func:`step_params`
for one DVFS clock; its fields are named in :data:`STEP_FIELDS`.

Physics (see :mod:`dcsim.node.perf` and :mod:`dcsim.node.power` for the sources), at clock c:

    t_c  = (positions·F_pos + F_attn·(prefill_ctx_sum + positions·sparse·ctx_sum)) / (tp·peak·MFU·c)
    t_m  = (dense weights + expert weights touched + ctx_sum·KV_read + positions·KV_write) / (tp·BW·MBU)
    (expert parallel: the expert weights of the busiest GPU, ·G; :func:`dcsim.node.perf.expert_parallel_imbalance`;
     the energy counts the mean GPU's reads, t_m,e, the others wait at the all-to-all)
    (with sliding-window layers, ctx_sum and prefill_ctx_sum are the context attended to:
     :func:`dcsim.node.perf.attended_context`)
    t_s  = (t_layer + t_seq_layer·n_decode)·layers_run      (launch gaps, sync, TP all-reduce; per-sequence
           + t_host_seq·n_decode                             attention bookkeeping; the host's work per sequence
                                                             per iteration the GPUs wait on, fitted only in a pool
                                                             that identifies it, else 0: docs/node.md,
                                                             "Twenty-ninth pass")
    t_e  = t_moe_layer·moe_layers_run                        (MoE dispatch: routing, token permutation,
                                                             small expert GEMMs; 0 for dense models)
    t_q  = t_fp8_layer·fp8_layers_run                        (FP8 W8A8: activation quantisation in front of
                                                             each linear layer, block scales; 0 unless fp8;
                                                             free in a fit only when the data identify it:
                                                             one model in FP8 and BF16, or two FP8 models)
    t_o  = t_s + t_e + t_q
    dt   = overlap_p(t_c, t_m) + t_o
    P    = tp·P_idle + c^γ·tp·(P_compute·t_c + P_memory·t_m,e + P_sync·(t_s + t_e + t_q)) / dt

Every overhead draws P_sync, the host wait per sequence too: the MoE dispatch (routing, token permutation, the all-to-all wait and the
launch-bound small expert GEMMs of a small-batch step: its bytes are counted in t_m,e already) and the FP8
activation quantisation are short launch- and routing-bound kernels that load neither unit. Until
December 2026 the dispatch drew P_memory; the overhead-bound small-batch MoE steps then drew far more than
measured (docs/node.md, "Twenty-fourth pass"; P_memory for the FP8 cost was measured and rejected, third pass). The
host's wait per decode sequence (t_host_seq) is in t_s: the GPUs spin in their launch and sync loops while they
wait, as in a launch gap; at idle power the pooled A100-SXM4-40GB fit's predicted power fell with the host's share
where the measured power is flat (docs/node.md, "Twenty-ninth pass").

Power is idle plus each part of the step's work times its power: no constant serving term, so it
rises smoothly from a batch of one with the memory traffic and FLOPs per second actually done.

**Board power limit** (a law, not a check): if P at the controller's clock exceeds the replica's
limit ``tp·limit_w`` (TDP, or the scenario's ``power_cap``), the board lowers its clock to the
one where P equals the limit (P rises monotonically with c: γ ≥ 1 and dt falls with c), found by
regula falsi (Illinois) only in that case; the step then takes longer (compute-bound parts
stretch as 1/c). If even the lowest clock exceeds the limit, the board idles part of the step
(duty cycling): the step stretches until the dynamic energy fits, and P equals the limit.
"""

from __future__ import annotations

import numpy as np

from dcsim.node.perf import Derived, PerfParams, median_prefill_tokens, peak_flops
from dcsim.node.power import PowerParams
from dcsim.scenario.node import GpuSpec

__all__ = ["STEP_FIELDS", "step_params", "iteration_step", "steady_step", "THROTTLE_ITERS"]

#: names of the entries of a step-parameter tuple, in order (units in the comments of step_params)
STEP_FIELDS = ("inv_c", "inv_m", "fpp", "fat", "pos", "dsp", "wd", "we", "ef", "kvr", "kvw", "t0", "ts",
               "op", "inv_op", "a_c", "a_m", "a_s", "inv_tps", "spec_dec", "one_minus", "idle",
               "clock", "gamma", "lim", "cmin", "cg", "tmoe", "tfp8", "win", "lfr", "epg", "epm")

#: most regula-falsi iterations when the board limit binds (converges to 1e-9 relative in ~6-10)
THROTTLE_ITERS = 40


def check_clock(clock) -> float:
    """``clock`` as a float, refused unless a fraction of the GPU's top clock in (0, 1] (1.5 ran as an overclock, 0
    divided by zero); any array of clocks is checked whole. A scalar takes a float comparison (step_params is called
    per clock level and per cap bisection: the array path cost it 3 us of its 5)."""
    if np.ndim(clock) == 0:
        c0 = float(clock)
        if not (0.0 < c0 <= 1.0 + 1e-9):
            raise ValueError(f"clock must be a fraction of the GPU's top clock in (0, 1], got {c0!r}")
        return c0
    c = np.asarray(clock, dtype=float)
    if not np.all((c > 0.0) & (c <= 1.0 + 1e-9)):
        bad = c[~((c > 0.0) & (c <= 1.0 + 1e-9))].ravel()[0]
        raise ValueError(f"clock must be a fraction of the GPU's top clock in (0, 1], got {float(bad)!r}")
    return c


def step_params(d: Derived, gpu: GpuSpec, tp: int, p: PerfParams, pw: PowerParams, clock: float = 1.0,
                limit_w: float | None = None) -> tuple:
    """The float parameters of :func:`iteration_step` for a replica of ``tp`` GPUs at ``clock``.

    ``limit_w`` is the per-GPU board power limit (default: the GPU's TDP); it is clipped to
    ``[power_limit_min_w, tdp_w]`` as ``nvidia-smi -pl`` does.
    """
    clock = check_clock(clock)
    lim = gpu.tdp_w if limit_w is None else min(max(float(limit_w), gpu.power_limit_min_w), gpu.tdp_w)
    return (
        1.0 / (tp * peak_flops(gpu, d.peak_precision) * p.mfu),  # inv_c: s per FLOP at clock 1
        1.0 / (tp * gpu.hbm_bw * p.mbu),                         # inv_m: s per byte
        float(d.flops_per_position),                             # fpp: FLOP per position
        float(d.attn_flops_per_ctx),                             # fat: FLOP per (position, ctx token)
        float(d.positions),                                      # pos: positions per decode sequence
        float(d.positions * d.sparse),                           # dsp
        float(d.dense_weight_bytes),                             # wd: B
        float(d.expert_weight_bytes),                            # we: B
        float(d.expert_frac),                                    # ef: k/E
        float(d.kv_read_per_ctx),                                # kvr: B per ctx token
        float(d.kv_bytes_per_token),                             # kvw: B per position
        float(p.t_layer_s * d.layers_run),                       # t0: s per iteration
        # ts: s per decode sequence: the per-layer bookkeeping and the host's wait (t_host_seq_s), both P_sync
        float(p.t_seq_layer_s * d.layers_run + p.t_host_seq_s),
        float(p.overlap_p),                                      # op
        1.0 / p.overlap_p,                                       # inv_op
        float(tp * pw.p_compute_w),                              # a_c: W at clock 1, compute busy
        float(tp * pw.p_memory_w),                               # a_m: W at clock 1, memory busy
        float(tp * pw.p_sync_w),                                 # a_s: W at clock 1, overhead part
        1.0 / d.tokens_per_step,                                 # inv_tps
        1.0 if d.tokens_per_step != 1.0 else 0.0,                # spec_dec (flag)
        1.0 - d.expert_frac,                                     # one_minus
        float(gpu.idle_w * tp),                                  # idle: W
        clock,                                                   # clock: controller's clock, fraction of max
        float(pw.gamma),                                         # gamma: dynamic power ~ clock^gamma
        float(lim * tp),                                         # lim: W, board limit of the replica
        float(min(gpu.clock_min, clock)),                        # cmin: lowest clock the board can reach
        clock ** float(pw.gamma),                                # cg: clock^gamma (saves a pow per step)
        float(p.t_moe_layer_s * d.moe_layers_run),               # tmoe: s per iteration of MoE dispatch
        float(p.t_fp8_layer_s * d.fp8_layers_run),               # tfp8: s per iteration of FP8 quantisation
        float(d.window),                                         # win: tokens a local layer attends to (0: none)
        float(d.local_frac),                                     # lfr: share of the layers with a sliding window
        float(d.ep_groups),                                      # epg: GPUs holding whole experts (1: sharded)
        float(d.experts_per_group),                              # epm: experts per GPU under expert parallel
    )


def iteration_step(P, prefill_tokens, n_decode, ctx_tokens_sum, prefill_ctx_sum=-1.0):
    """(dt_s, gpu_power_w) of one iteration; ``prefill_ctx_sum < 0`` means ``prefill_tokens**2 / 2``.

    Empty batch -> ``(0.0, idle power)``. Power never exceeds the board limit ``P[lim]``: above it
    the clock throttles (see the module docstring). With speculative decoding the decode share of
    the step time (by positions) is divided by ``tokens_per_step`` (see NodeModel.step_fn).
    """
    (inv_c, inv_m, fpp, fat, pos, dsp, wd, we, ef, kvr, kvw, t0, ts,
     op, inv_op, a_c, a_m, a_s, inv_tps, spec_dec, one_minus, idle, clock, gamma, lim, cmin, cg, tmoe, tfp8,
     win, lfr, epg, epm) = P
    if prefill_tokens <= 0 and n_decode <= 0:
        return 0.0, idle
    if prefill_ctx_sum < 0.0:
        prefill_ctx_sum = 0.5 * prefill_tokens * prefill_tokens
    if win > 0.0:
        # sliding-window layers attend to (and read the KV of) at most ``win`` tokens; mean field, as
        # dcsim.node.perf.attended_context
        ex = ctx_tokens_sum - n_decode * win
        if ex > 0.0:
            ctx_tokens_sum = ctx_tokens_sum - lfr * ex
        ex = prefill_ctx_sum - prefill_tokens * win
        if ex > 0.0:
            prefill_ctx_sum = prefill_ctx_sum - lfr * ex
    npos = prefill_tokens + n_decode * pos
    tc1 = (npos * fpp + fat * (prefill_ctx_sum + dsp * ctx_tokens_sum)) * inv_c
    mem = wd + ctx_tokens_sum * kvr + npos * kvw
    mem_mean = mem  # bytes read by the mean GPU (x tp): what the energy counts
    if ef > 0.0:
        q = 1.0 - one_minus ** npos
        wx = we * q
        mem_mean += wx
        if epg > 1.0 and q < 1.0 - 1e-12:
            # expert parallel: the step waits for the GPU with the most experts touched (E[max] of epg
            # Binomial(epm, q)), as dcsim.node.perf.expert_parallel_imbalance
            pj = (1.0 - q) ** epm
            cdf = pj
            emax = 0.0
            r = q / (1.0 - q)
            for j in range(int(epm)):
                emax += 1.0 - cdf ** epg
                pj = pj * (epm - j) / (j + 1.0) * r
                cdf += pj
            wx *= emax / (epm * q)
        mem += wx
    tm = mem * inv_m
    tm_e = mem_mean * inv_m
    ts_n = t0 + ts * n_decode
    to = ts_n + tmoe + tfp8
    # overheads (launch gaps, per-sequence bookkeeping, MoE dispatch, FP8 quantisation) load neither unit: P_sync
    e_fix = a_m * tm_e + a_s * to  # dynamic energy at clock 1 of the clock-independent parts
    c = clock
    tc = tc1 / c
    hi = tc if tc > tm else tm
    dt = hi * ((tc / hi) ** op + (tm / hi) ** op) ** inv_op + to
    pwr = idle + cg * (a_c * tc + e_fix) / dt
    if pwr > lim:
        # board limit: lower the clock to where P = lim (regula falsi, Illinois variant)
        c_lo = cmin
        tc = tc1 / c_lo
        hi = tc if tc > tm else tm
        dt_lo = hi * ((tc / hi) ** op + (tm / hi) ** op) ** inv_op + to
        e_lo = c_lo ** gamma * (a_c * tc + e_fix)
        f_lo = idle + e_lo / dt_lo - lim
        if f_lo >= 0.0:
            # even the lowest clock exceeds the limit: duty-cycle (stretch the step at constant energy)
            dt = e_lo / (lim - idle) if lim > idle else dt_lo
            pwr = lim
        else:
            c_hi = c
            f_hi = pwr - lim
            dt = dt_lo
            pwr = f_lo + lim
            side = 0
            for _ in range(THROTTLE_ITERS):
                cm = (c_lo * f_hi - c_hi * f_lo) / (f_hi - f_lo)
                tc = tc1 / cm
                hi = tc if tc > tm else tm
                dm = hi * ((tc / hi) ** op + (tm / hi) ** op) ** inv_op + to
                fm = idle + cm ** gamma * (a_c * tc + e_fix) / dm - lim
                if fm <= 0.0:
                    c_lo, f_lo = cm, fm
                    dt = dm
                    pwr = fm + lim
                    if side == -1:
                        f_hi *= 0.5
                    side = -1
                    if fm > -1e-9 * lim:
                        break
                else:
                    c_hi, f_hi = cm, fm
                    if side == 1:
                        f_lo *= 0.5
                    side = 1
                if c_hi - c_lo < 1e-12:
                    break
    if spec_dec != 0.0 and n_decode > 0:
        w = prefill_tokens / npos
        dt *= w + (1.0 - w) * inv_tps
    return dt, pwr


_step_ufunc = np.frompyfunc(iteration_step, 5, 2)


def step_arrays(P, prefill_tokens, n_decode, ctx_tokens_sum, prefill_ctx_sum):
    """:func:`iteration_step` mapped over broadcast arrays (the same scalar operations per element)."""
    p_obj = np.empty((), dtype=object)  # the tuple as one scalar, not an array to broadcast
    p_obj[()] = P
    dt, pw = _step_ufunc(p_obj, *np.broadcast_arrays(np.asarray(prefill_tokens, float), np.asarray(n_decode, float),
                                                 np.asarray(ctx_tokens_sum, float), np.asarray(prefill_ctx_sum, float)))
    return np.asarray(dt, dtype=float), np.asarray(pw, dtype=float)


def median_step(P, batch, mean_in, mean_out, decode_ctx, prompt_scv=0.0, tokens_per_step=1.0):
    """Duration (s) of the steady state's median iteration with ``batch`` sequences decoding, each holding
    ``decode_ctx`` tokens: the iteration at the median prefill (:func:`dcsim.node.perf.median_prefill_tokens`,
    decode-only where at least half the iterations carry no prompt). Every iteration emits one token per decoding
    sequence, so this is the median inter-token latency (fitted by :mod:`dcsim.node.calibrate`, compared in
    docs/validation.md). Broadcasts over its arguments."""
    b, mi, scv = (np.asarray(a, dtype=float) for a in (batch, mean_in, prompt_scv))
    x = median_prefill_tokens(b * tokens_per_step / np.asarray(mean_out, dtype=float), mi, scv)
    return step_arrays(P, x, b, b * np.asarray(decode_ctx, dtype=float), x * 0.5 * mi * (1.0 + scv))[0]


def steady_step(P, batch, mean_in, mean_out, chunk_tokens, decode_ctx=None, prompt_scv=0.0):
    """Average iteration of a replica in steady state with ``batch`` sequences decoding.

    Returns ``(t_s, gpu_power_w, tokens)``: mean iteration time, time-averaged GPU power and output
    tokens per iteration, counted as the request path counts them (one token per decode sequence
    per call; with speculative decoding :func:`iteration_step` shortens the call instead). The mix
    of iterations is :func:`dcsim.node.perf.steady_mix` (a random prefill per iteration: a Poisson
    number of prompts of random lengths, ``prompt_scv``); each kind is one call of
    :func:`iteration_step`, so the board limit and throttling are those of the request path.
    """
    from dcsim.node.perf import steady_mix

    tokens, ctx, x, w, pctx = steady_mix(batch, mean_in, mean_out, chunk_tokens, decode_ctx=decode_ctx,
                                         prompt_scv=prompt_scv)
    b = np.broadcast_to(np.asarray(batch, float), tokens.shape)[..., None]
    t, p = step_arrays(P, x, b, ctx[..., None], pctx)
    tw = w * t
    t_mean = np.sum(tw, axis=-1)
    return t_mean, np.sum(tw * p, axis=-1) / t_mean, tokens
