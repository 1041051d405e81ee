"""The bare-simpy floor the benchmarks compare against: one ``env.timeout`` event per step."""

from __future__ import annotations

import time
from typing import Callable

import simpy


def simpy_events_per_s(n_events: int = 1_000_000, clock: Callable[[], float] = time.perf_counter) -> float:
    """Events/s of a bare simpy process chaining ``env.timeout`` (``clock``: wall or CPU time)."""
    env = simpy.Environment()

    def proc(env, n):
        for _ in range(n):
            yield env.timeout(0.01)

    env.process(proc(env, n_events))
    t0 = clock()
    env.run()
    return n_events / (clock() - t0)
