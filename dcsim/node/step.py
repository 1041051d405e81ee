"""One batch iteration of a replica as a pure function of plain floats: the single source of the step.

``iteration_step(P, prefill_tokens, n_decode, ctx_tokens_sum, prefill_ctx_sum) -> (dt_s, gpu_power_w)``
is written in the subset of Python that numba compiles (float arithmetic, ``**``, one tuple of
parameters), so the readable request-fidelity loop (:mod:`dcsim.serving.replica`, which calls it
as plain Python) and the compiled serving kernel (which compiles this very function) execute the
same operations in the same order. ``P`` is the tuple built by :func:`step_params` for one DVFS
clock; its fields are named in :data:`STEP_FIELDS`.

Physics (see :mod:`dcsim.node.perf` and :mod:`dcsim.node.power` for the sources):

    t_c  = (positions·F_pos + F_attn·(prefill_ctx_sum + positions·sparse·ctx_sum)) / (tp·peak·MFU·clock)
    t_m  = (dense weights + expert weights touched + ctx_sum·KV_read + positions·KV_write) / (tp·BW·MBU)
    dt   = overlap_p(t_c, t_m) + t_fixed + t_seq·n_decode
    P    = tp·(P_idle + clock^γ·P_base) + tp·clock^γ·(P_compute·t_c + P_memory·t_m) / dt
"""

from __future__ import annotations

from dcsim.node.perf import Derived, PerfParams, peak_flops
from dcsim.node.power import PowerParams
from dcsim.scenario.node import GpuSpec

__all__ = ["STEP_FIELDS", "step_params", "iteration_step"]

#: names of the entries of a step-parameter tuple, in order (units in the comments of step_params)
STEP_FIELDS = ("inv_c", "inv_m", "fpp", "fat", "pos", "dsp", "wd", "we", "ef", "kvr", "kvw", "t0", "ts",
               "op", "inv_op", "a_base", "a_c", "a_m", "inv_tps", "spec_dec", "one_minus", "idle")


def step_params(d: Derived, gpu: GpuSpec, tp: int, p: PerfParams, pw: PowerParams, clock: float = 1.0) -> tuple:
    """The float parameters of :func:`iteration_step` for a replica of ``tp`` GPUs at ``clock``."""
    clock = float(clock)
    cg = clock ** pw.gamma
    return (
        1.0 / (tp * peak_flops(gpu, d.peak_precision) * p.mfu * clock),  # inv_c: s per FLOP
        1.0 / (tp * gpu.hbm_bw * p.mbu),                                # inv_m: s per byte
        float(d.flops_per_position),                                     # fpp: FLOP per position
        float(d.attn_flops_per_ctx),                                     # fat: FLOP per (position, ctx token)
        float(d.positions),                                              # pos: positions per decode sequence
        float(d.positions * d.sparse),                                   # dsp
        float(d.dense_weight_bytes),                                     # wd: B
        float(d.expert_weight_bytes),                                    # we: B
        float(d.expert_frac),                                            # ef: k/E
        float(d.kv_read_per_ctx),                                        # kvr: B per ctx token
        float(d.kv_bytes_per_token),                                     # kvw: B per position
        float(p.t_fixed_s),                                              # t0: s
        float(p.t_seq_s),                                                # ts: s per decode sequence
        float(p.overlap_p),                                              # op
        1.0 / p.overlap_p,                                               # inv_op
        tp * (gpu.idle_w + cg * pw.p_base_w),                            # a_base: W
        tp * cg * pw.p_compute_w,                                        # a_c: W
        tp * cg * pw.p_memory_w,                                         # a_m: W
        1.0 / d.tokens_per_step,                                         # inv_tps
        1.0 if d.tokens_per_step != 1.0 else 0.0,                        # spec_dec (flag)
        1.0 - d.expert_frac,                                             # one_minus
        float(gpu.idle_w * tp),                                          # idle: W
    )


def iteration_step(P, prefill_tokens, n_decode, ctx_tokens_sum, prefill_ctx_sum=-1.0):
    """(dt_s, gpu_power_w) of one iteration; ``prefill_ctx_sum < 0`` means ``prefill_tokens**2 / 2``.

    Empty batch -> ``(0.0, idle power)``. With speculative decoding the decode share of the step
    time (by positions) is divided by ``tokens_per_step`` (see NodeModel.step_fn).
    """
    (inv_c, inv_m, fpp, fat, pos, dsp, wd, we, ef, kvr, kvw, t0, ts,
     op, inv_op, a_base, a_c, a_m, inv_tps, spec_dec, one_minus, idle) = P
    if prefill_tokens <= 0 and n_decode <= 0:
        return 0.0, idle
    if prefill_ctx_sum < 0.0:
        prefill_ctx_sum = 0.5 * prefill_tokens * prefill_tokens
    npos = prefill_tokens + n_decode * pos
    tc = (npos * fpp + fat * (prefill_ctx_sum + dsp * ctx_tokens_sum)) * inv_c
    mem = wd + ctx_tokens_sum * kvr + npos * kvw
    if ef > 0.0:
        mem += we * (1.0 - one_minus ** npos)
    tm = mem * inv_m
    hi = tc if tc > tm else tm
    dt = hi * ((tc / hi) ** op + (tm / hi) ** op) ** inv_op + t0 + ts * n_decode
    pwr = a_base + (a_c * tc + a_m * tm) / dt
    if spec_dec != 0.0 and n_decode > 0:
        w = prefill_tokens / npos
        dt *= w + (1.0 - w) * inv_tps
    return dt, pwr
