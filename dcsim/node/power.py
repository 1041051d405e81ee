"""GPU and server power by the work done, DVFS clock and board power limit (SI: W, s).

Per GPU, during one iteration of a serving replica (the per-iteration form is
:func:`dcsim.node.step.iteration_step`, the single source the engine runs):

    P_gpu = P_idle + clock^gamma * (P_compute * u_c + P_memory * u_m + P_sync * u_s)

with u_c = t_compute / t, u_m = t_memory / t and u_s = t_overhead / t the shares of the step in
which the tensor cores, the HBM and neither (launch gaps, synchronisation, tensor-parallel
all-reduce, sampling) are busy; every overhead counts in u_s: an MoE model's dispatch time (routing, token
permutation, the all-to-all wait, launch-bound small expert GEMMs; its expert bytes are in t_memory already) and an
FP8 model's activation quantisation (short launch-bound kernels) load neither unit (assumption; the dispatch
counted in u_m until docs/node.md's twenty-fourth pass). Power is static (idle, ~72 W on H100 [SMI]) plus the power of the
work actually done: memory traffic per second (u_m ∝ bytes/s) and FLOPs per second (u_c ∝
FLOP/s); there is no constant "serving" term, so a batch of one draws what its weight reads and
its overheads draw. Splitwise's A100 characterisation [SWsim] shows why P_sync is needed: batch-1
decode of Llama-2-70B draws 0.74 / 0.59 / 0.43 x TDP per GPU at TP 2 / 4 / 8, falling as the
weight bytes per GPU per step fall and the step becomes overhead-bound. All dynamic power scales
as clock^gamma (dynamic power ~ f V^2 with V falling with f): lowering the clock of a memory-bound
decode saves energy at nearly constant latency, as measured by [DVFS] (-42% energy, +1-6%
latency) and [ILL] (clock locking -32% decode energy). P_compute, P_memory, P_sync and gamma are
fitted by :mod:`dcsim.node.calibrate`; each is bounded by the board's dynamic range TDP - idle
(one unit saturated alone stays within the board limit), and their concurrent sum is held at the
board limit by the throttling law in :mod:`dcsim.node.step`.

Server wall power of a replica: (GPU power + replica share of the host power) / PSU efficiency,
the host (CPUs, DRAM, NICs, NVSwitch, fans) rising linearly from ``non_gpu_idle_w`` to
``non_gpu_max_w`` with the GPU load; ``non_gpu_max_w`` is derived (gpus.yaml rule, ``full_load_non_gpu_max_w``) so
that a fully loaded server draws its datasheet figure (see docs/node.md "Server power").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dcsim.scenario.node import GpuSpec


#: the range of the DVFS exponent gamma (dynamic power ~ clock^gamma): 1, power linear in the clock (no voltage
#: scaling); 5, well beyond f·V² with V falling in proportion to f (cubic). The fit's bounds and a profile's check.
GAMMA_RANGE = (1.0, 5.0)


@dataclass(frozen=True)
class PowerParams:
    """Fitted per-GPU power parameters (W at full clock) and the DVFS exponent."""

    p_compute_w: float
    p_memory_w: float
    p_sync_w: float
    gamma: float


def gpu_power(idle_w: float, pp: PowerParams, u_c, u_m, u_s, clock=1.0):
    """Unthrottled power of one serving GPU (W) for step shares ``u_c``, ``u_m``, ``u_s`` at ``clock``."""
    cg = np.asarray(clock, dtype=float) ** pp.gamma
    return idle_w + cg * (pp.p_compute_w * np.asarray(u_c) + pp.p_memory_w * np.asarray(u_m)
                          + pp.p_sync_w * np.asarray(u_s))


def host_power(gpu: GpuSpec, gpu_power_per_gpu, gpus_per_node: int | None = None):
    """Non-GPU DC power of the whole server (W) at a per-GPU power draw (linear in GPU load).

    A node of ``gpus_per_node`` GPUs other than the catalog server's (the scenario's ``node.gpus_per_node``) carries
    the host in proportion to its GPUs (assumption: CPUs, memory, NICs and fans sized per GPU slot). Until 2026-12-04
    every such node carried the whole 8-GPU server's host: 1-GPU H100 nodes drew 4.09 kW at the wall at full load
    (the audit of node physics; a DGX H100 draws 1.16 kW per GPU)."""
    s = gpu.server
    x = np.clip((np.asarray(gpu_power_per_gpu, dtype=float) - gpu.idle_w) / (gpu.tdp_w - gpu.idle_w), 0.0, 1.0)
    share = 1.0 if gpus_per_node is None else gpus_per_node / s.gpus_per_node
    return share * (s.non_gpu_idle_w + (s.non_gpu_max_w - s.non_gpu_idle_w) * x)


def unused_gpus(gpus_per_replica: int, gpus_per_node: int) -> int:
    """GPUs of a server no replica uses: a tensor-parallel degree that does not divide the server's GPUs leaves
    them powered and idle (BLOOM-176B on 7 of 8)."""
    return gpus_per_node % gpus_per_replica


def wall_power(gpu: GpuSpec, gpus_per_replica: int, gpus_per_node: int, gpu_power_w):
    """Wall (AC) power attributable to one replica (W) whose GPUs draw ``gpu_power_w`` in total: its GPUs, its
    share of the server's host power and of the server's GPUs no replica uses (a tensor-parallel degree that does
    not divide the server's GPUs leaves the rest powered and idle at ``idle_w``)."""
    g = np.asarray(gpu_power_w, dtype=float)
    unused_w = unused_gpus(gpus_per_replica, gpus_per_node) * gpu.idle_w
    return (g + (unused_w + host_power(gpu, g / gpus_per_replica, gpus_per_node)) / (gpus_per_node // gpus_per_replica)) \
        / gpu.server.psu_efficiency


def tdp_wall_ratio(gpu: GpuSpec, gpus_per_replica: int, gpus_per_node: int, full_load_gpu_w: float) -> float:
    """Wall power of a replica whose GPUs all draw their TDP over its wall power at the modelled full-load GPU draw
    ``full_load_gpu_w`` (W, the replica's GPUs summed), dimensionless: the most a node model's full-load power can
    understate the true draw, since a GPU's board power limit (its TDP, the datasheet's) caps what it draws. The
    physical end of :func:`dcsim.tpf.band_ratio_window` where a record states no node-power band. inf where the
    modelled draw is not positive."""
    full = float(wall_power(gpu, gpus_per_replica, gpus_per_node, float(full_load_gpu_w)))
    if not full > 0:
        return math.inf
    return float(wall_power(gpu, gpus_per_replica, gpus_per_node, gpu.tdp_w * gpus_per_replica)) / full


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
