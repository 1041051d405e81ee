"""Timing for the benches: CPU time beside wall time, and targets judged on CPU time.

The benches run on a shared 2-core box. Wall time there measures the other jobs as much as dcsim: in the
audit of 2026-12-05 (AUC 6), ``bench_fluid.py`` printed a fluid facility-day of **wall 24.59 s** against its
"target wall <= 10 s" at load average 13, where the same run took **4.11 s of CPU**. So every bench prints
both, and a stated target is judged on CPU time (``target met`` / ``target MISSED``); the wall time is
what a user on an idle machine of the same speed would wait, give or take.

CPU time is :func:`time.process_time` (every thread of this process, user + system). The benches hold
OpenBLAS, OpenMP and MKL to one thread (set here, at import, before numpy loads; a value already set in the
environment wins): their worker threads busy-wait after a BLAS call and that spinning would count as
dcsim's CPU (measured 2026-12-02 in ``bench_request_fidelity.py``: 0.216 CPU-s with the default threads
against 0.138 s with one). Import this module before numpy. Work done in child processes (sweep workers) is
counted with :func:`cpu_with_children_s`.
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # before numpy loads: see the docstring

import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass  # noqa: E402

__all__ = ["Timing", "timed", "best_of", "verdict", "cpu_with_children_s", "steady_malloc"]


@dataclass
class Timing:
    """Wall and CPU seconds of one timed block."""

    wall_s: float = 0.0
    cpu_s: float = 0.0

    def __str__(self) -> str:
        return f"CPU {self.cpu_s:.2f} s (wall {self.wall_s:.2f} s)"


@contextmanager
def timed(children: bool = False):
    """``with timed() as t: ...`` fills ``t`` (a :class:`Timing`) when the block ends; ``children``: add the
    CPU time of child processes reaped during the block (:func:`cpu_with_children_s`)."""
    t = Timing()
    cpu = cpu_with_children_s if children else time.process_time
    w0, c0 = time.perf_counter(), cpu()
    try:
        yield t
    finally:
        t.wall_s, t.cpu_s = time.perf_counter() - w0, cpu() - c0


def cpu_with_children_s() -> float:
    """CPU seconds (user + system) of this process, of its children that have been waited for and, where psutil
    is installed, of its live descendants (a sweep's reusable worker pool outlives each sweep)."""
    x = os.times()
    total = x.user + x.system + x.children_user + x.children_system
    try:
        import psutil
    except ImportError:
        return total
    for c in psutil.Process().children(recursive=True):
        try:
            ct = c.cpu_times()
            total += ct.user + ct.system
        except psutil.Error:  # gone meanwhile: counted in children_* once reaped
            pass
    return total


def best_of(fn, repeat: int = 3) -> Timing:
    """The smallest CPU time and the smallest wall time of ``repeat`` calls of ``fn`` (each minimum taken on its
    own: the least-disturbed call of each clock)."""
    runs = []
    for _ in range(repeat):
        with timed() as t:
            fn()
        runs.append(t)
    return Timing(min(r.wall_s for r in runs), min(r.cpu_s for r in runs))


def verdict(cpu_s: float, target_s: float) -> str:
    """``target met`` or ``target MISSED`` for ``cpu_s`` CPU seconds against a target of ``target_s`` seconds."""
    return f"target <= {target_s:g} s {'met' if cpu_s <= target_s else 'MISSED'} on CPU time"


def steady_malloc() -> bool:
    """Have glibc keep freed memory for reuse (no trimming, arrays up to 32 MiB from the heap), so that repeated
    vectorized calls on arrays of millions of elements do not page-fault fresh pages on every call. Without it the
    page faults' cost depends on which allocations came before (glibc adjusts its thresholds to the largest block
    freed): measured 2026-12-05, the bare ``np.minimum`` chain of bench_tpf.py on 10^6 points took 4.5 ms of CPU
    with 1,228 page faults a call, or 1.9 ms with none, depending on whether a 24 MB block had been freed before.
    False where glibc's ``mallopt`` is not available (the figures are then as the allocator leaves them)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # glibc malloc.h
        return bool(libc.mallopt(m_trim_threshold, 1 << 30)) and bool(libc.mallopt(m_mmap_threshold, 32 << 20))
    except (OSError, AttributeError):
        return False
