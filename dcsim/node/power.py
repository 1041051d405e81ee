"""GPU and server power by activity, DVFS clock and power cap (SI: W, s).

Per GPU, while a replica is serving [DESIGN "Physics, with calibration"]:

    P_gpu = P_idle + clock^gamma * (P_base + P_compute * u_c + P_memory * u_m)

with u_c = t_compute / t_iter and u_m = t_memory / t_iter the roofline utilisations of the
iteration. P_idle is the separate no-request state (~72 W on H100 [SMI]); P_base is the extra
draw of a GPU that is serving at all (ML.ENERGY's smallest batch already draws 0.6-0.7 x TDP
[ML3]); P_compute and P_memory are the activity-dependent parts. All dynamic power scales as
clock^gamma (dynamic power ~ f V^2 with V falling with f). The memory-side term is scaled too
(L2, memory controllers and NoC sit in the SM clock domain): lowering the clock of a
memory-bound decode saves energy at nearly constant latency, as measured by [DVFS] (-42% energy,
+1-6% latency) and [ILL] (clock locking -32% decode energy); it also keeps power monotone in
batch at every clock. P_base, P_compute, P_memory and gamma are fitted by
:mod:`dcsim.node.calibrate`.

Server wall power of a replica: (GPU power + replica share of the non-GPU power) / PSU
efficiency, the non-GPU power moving linearly from idle to max with the GPU load
(assumption; ML.ENERGY power is GPU-only, so the host share is not fitted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dcsim.scenario.node import GpuSpec


@dataclass(frozen=True)
class PowerParams:
    """Fitted per-GPU power parameters (W) and the DVFS exponent."""

    p_base_w: float
    p_compute_w: float
    p_memory_w: float
    gamma: float


def gpu_power(idle_w: float, pp: PowerParams, u_c, u_m, clock=1.0):
    """Power of one serving GPU (W) for utilisations ``u_c``, ``u_m`` in [0, 1] at ``clock``."""
    cg = np.asarray(clock, dtype=float) ** pp.gamma
    return idle_w + cg * (pp.p_base_w + pp.p_compute_w * np.asarray(u_c) + pp.p_memory_w * np.asarray(u_m))


def host_power(gpu: GpuSpec, gpu_power_per_gpu):
    """Non-GPU DC power of the whole server (W) at a per-GPU power draw (linear in GPU load)."""
    s = gpu.server
    x = np.clip((np.asarray(gpu_power_per_gpu, dtype=float) - gpu.idle_w) / (gpu.tdp_w - gpu.idle_w), 0.0, 1.0)
    return s.non_gpu_idle_w + (s.non_gpu_max_w - s.non_gpu_idle_w) * x


def wall_power(gpu: GpuSpec, gpus_per_replica: int, gpus_per_node: int, gpu_power_w):
    """Wall (AC) power attributable to one replica (W) whose GPUs draw ``gpu_power_w`` in total."""
    g = np.asarray(gpu_power_w, dtype=float)
    share = gpus_per_replica / gpus_per_node
    return (g + share * host_power(gpu, g / gpus_per_replica)) / gpu.server.psu_efficiency


def bisect_clock(power_at_clock, cap_w, clock_min: float, iters: int = 40):
    """Largest clock in [clock_min, 1] with ``power_at_clock(clock) <= cap_w`` (vectorised).

    ``power_at_clock`` maps an array of clocks to per-GPU power and must be non-decreasing in
    clock. Where even ``clock_min`` exceeds the cap, returns ``clock_min`` (the cap cannot be
    met by DVFS alone); where clock 1 fits, returns 1.
    """
    cap = np.asarray(cap_w, dtype=float)
    shape = np.broadcast_shapes(cap.shape, np.shape(power_at_clock(np.ones_like(cap))))
    lo = np.full(shape, float(clock_min))
    hi = np.ones(shape)
    fits_max = power_at_clock(hi) <= cap
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        ok = power_at_clock(mid) <= cap
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    return np.where(fits_max, 1.0, lo)
