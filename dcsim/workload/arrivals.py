"""Arrival processes, generated window by window (vectorised numpy, seeded Generator).

Every process has ``sample(t0, t1) -> sorted times in [t0, t1)`` (s), called for consecutive
windows; state (next renewal epoch, MMPP phase) is carried between calls so that chunked
generation is the same process as one long window. ``rate(t)`` is the expected arrivals per
second at ``t`` and ``mean_rate`` the long-run average.

- Poisson: count ~ Poisson(rate * dt), times uniform.
- Time-varying rate (diurnal sinusoid, 24-h profile, CSV profile): Lewis-Shedler thinning of a
  Poisson process at the rate's upper bound.
- Gamma renewal: gaps ~ Gamma(k = 1/cv^2, theta = 1/(rate k)), started in equilibrium (first gap
  = U * length-biased gap, Gamma(k+1, theta)).
- 2-state MMPP: exponential sojourns, Poisson within a state; started in the stationary phase.
- Trace replay: arrival times of a loaded trace, optionally looped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import math
from typing import Callable

import numpy as np

__all__ = ["ArrivalProcess", "PoissonProcess", "ThinnedProcess", "GammaRenewal", "Mmpp2",
           "TraceReplay", "diurnal_rate_fn", "hourly_profile_rate_fn", "table_rate_fn"]


class ArrivalProcess(ABC):
    """Base: consecutive-window sampling with a private Generator."""

    mean_rate: float

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    @abstractmethod
    def rate(self, t_s) -> np.ndarray:
        """Expected arrivals per second at ``t_s`` (s)."""

    @abstractmethod
    def sample(self, t0: float, t1: float) -> np.ndarray:
        """Sorted arrival times in ``[t0, t1)`` (s)."""

    def expected_count(self, t0_s, dt_s) -> np.ndarray:
        """Expected arrivals in ``[t0, t0 + dt)`` per window (vectorized): the midpoint rule
        ``rate(t0 + dt/2)·dt`` — exact for constant and linear rates, error O(dt³·rate'') for
        smooth ones (a diurnal cosine at a 1-min tick: ~1e-6 relative). Replays override it
        with the exact count."""
        t0 = np.asarray(t0_s, dtype=float)
        return self.rate(t0 + 0.5 * dt_s) * dt_s

    def peak_count(self, window_s: float) -> float:
        """An upper bound on the arrivals :meth:`sample` draws in any window of ``window_s`` (s),
        for preflight's memory estimate (dcsim.engine.preflight): without drawing them."""
        return self.mean_rate * window_s


# --------------------------------------------------------------------------- Poisson
class PoissonProcess(ArrivalProcess):
    """Homogeneous Poisson process at ``rate`` (1/s)."""

    def __init__(self, rate: float, rng: np.random.Generator):
        super().__init__(rng)
        self.mean_rate = float(rate)

    def rate(self, t_s) -> np.ndarray:
        return np.full(np.shape(t_s), self.mean_rate, dtype=float)

    def sample(self, t0: float, t1: float) -> np.ndarray:
        n = self.rng.poisson(self.mean_rate * (t1 - t0))
        t = t0 + (t1 - t0) * self.rng.random(n)
        t.sort()
        return t[t < t1]


# --------------------------------------------------------------------------- thinning
def diurnal_rate_fn(mean_rate: float, amplitude: float, peak_hour: float, period_s: float,
                    start_hour: float) -> Callable[[np.ndarray], np.ndarray]:
    """lambda(t) = mean*(1 + a*cos(2*pi*(h - peak)/P)), h = local hour at t (1/s)."""
    period_h = period_s / 3600.0

    def f(t):
        h = start_hour + np.asarray(t, dtype=float) / 3600.0
        return mean_rate * (1.0 + amplitude * np.cos(2.0 * np.pi * (h - peak_hour) / period_h))

    return f


def hourly_profile_rate_fn(mean_rate: float, profile, period_s: float,
                           start_hour: float) -> Callable[[np.ndarray], np.ndarray]:
    """Piecewise-constant rate: ``mean * m[i]/mean(m)`` in slot i of 24 per period (1/s)."""
    m = np.asarray(profile, dtype=float)
    m = m / m.mean()
    slot = period_s / m.size

    def f(t):
        tt = start_hour * 3600.0 * (period_s / 86400.0) + np.asarray(t, dtype=float)
        i = np.floor(np.mod(tt, period_s) / slot).astype(np.int64) % m.size
        return mean_rate * m[i]

    return f


def table_rate_fn(times: np.ndarray, rates: np.ndarray, interpolation: str,
                  period_s: float | None) -> Callable[[np.ndarray], np.ndarray]:
    """Rate from a (time s, rate 1/s) table: linear or step, held at the ends or periodic."""
    times = np.asarray(times, dtype=float)
    rates = np.asarray(rates, dtype=float)

    def f(t):
        tt = np.asarray(t, dtype=float)
        if period_s is not None:
            tt = times[0] + np.mod(tt - times[0], period_s)
        if interpolation == "linear":
            return np.interp(tt, times, rates)
        i = np.clip(np.searchsorted(times, tt, side="right") - 1, 0, times.size - 1)
        return rates[i]

    return f


class ThinnedProcess(ArrivalProcess):
    """Non-homogeneous Poisson process by thinning: rate ``fn(t)`` <= ``rate_max`` (1/s)."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], rate_max: float, mean_rate: float,
                 rng: np.random.Generator):
        super().__init__(rng)
        if not rate_max > 0:
            raise ValueError("time-varying rate must be > 0 somewhere")
        self.fn = fn
        self.rate_max = float(rate_max)
        self.mean_rate = float(mean_rate)

    def rate(self, t_s) -> np.ndarray:
        return np.asarray(self.fn(t_s), dtype=float)

    def peak_count(self, window_s: float) -> float:
        return self.rate_max * window_s  # sample() draws candidates at rate_max before thinning

    def sample(self, t0: float, t1: float) -> np.ndarray:
        n = self.rng.poisson(self.rate_max * (t1 - t0))
        t = t0 + (t1 - t0) * self.rng.random(n)
        keep = self.rng.random(n) * self.rate_max < self.fn(t)
        t = t[keep & (t < t1)]
        t.sort()
        return t


# --------------------------------------------------------------------------- gamma renewal
class GammaRenewal(ArrivalProcess):
    """Renewal process with Gamma gaps: mean 1/``rate`` (s), coefficient of variation ``cv``."""

    def __init__(self, rate: float, cv: float, rng: np.random.Generator):
        super().__init__(rng)
        self.mean_rate = float(rate)
        self.k = 1.0 / (cv * cv)
        self.theta = 1.0 / (rate * self.k)
        self._next: float | None = None

    def rate(self, t_s) -> np.ndarray:
        return np.full(np.shape(t_s), self.mean_rate, dtype=float)

    def peak_count(self, window_s: float) -> float:
        return self.mean_rate * window_s * 1.1 + 16  # sample() draws its gaps 10 % ahead

    def sample(self, t0: float, t1: float) -> np.ndarray:
        rng = self.rng
        if self._next is None:  # equilibrium start: forward recurrence time
            self._next = t0 + rng.random() * rng.gamma(self.k + 1.0, self.theta)
        out = []
        t = self._next
        while t < t1:
            n = int(self.mean_rate * (t1 - t) * 1.1) + 16
            gaps = rng.gamma(self.k, self.theta, n)
            ts = t + np.concatenate(([0.0], np.cumsum(gaps[:-1])))
            inside = ts < t1
            out.append(ts[inside])
            t = ts[-1] + gaps[-1] if inside.all() else ts[~inside][0]
        self._next = t
        res = np.concatenate(out) if out else np.empty(0)
        return res[res >= t0]


# --------------------------------------------------------------------------- MMPP
class Mmpp2(ArrivalProcess):
    """Two-state Markov-modulated Poisson process (rates 1/s, mean sojourns s)."""

    def __init__(self, rates, sojourns, rng: np.random.Generator):
        super().__init__(rng)
        self.rates = np.asarray(rates, dtype=float)
        self.soj = np.asarray(sojourns, dtype=float)
        self.pi = self.soj / self.soj.sum()  # stationary phase probabilities
        self.mean_rate = float(np.dot(self.pi, self.rates))
        self._state: int | None = None
        self._switch = 0.0

    def rate(self, t_s) -> np.ndarray:
        return np.full(np.shape(t_s), self.mean_rate, dtype=float)

    def peak_count(self, window_s: float) -> float:
        return float(self.rates.max()) * window_s

    def sample(self, t0: float, t1: float) -> np.ndarray:
        rng = self.rng
        if self._state is None:
            self._state = int(rng.random() >= self.pi[0])
            self._switch = t0 + rng.exponential(self.soj[self._state])
        out = []
        a = t0
        while a < t1:
            b = min(self._switch, t1)
            r = self.rates[self._state]
            if r > 0 and b > a:
                n = rng.poisson(r * (b - a))
                out.append(a + (b - a) * rng.random(n))
            if self._switch <= t1:
                self._state = 1 - self._state
                self._switch += rng.exponential(self.soj[self._state])
            a = b
        if not out:
            return np.empty(0)
        t = np.concatenate(out)
        t.sort()
        return t[t < t1]


# --------------------------------------------------------------------------- trace replay
class TraceReplay(ArrivalProcess):
    """Replays fixed arrival times ``t`` (s, sorted, >= 0), looping with ``period`` if given.

    ``sample`` returns times; ``last_index`` holds the trace row of each returned time so the
    caller can look up token counts. ``rate(t)`` is the binned empirical rate (``bin_s`` bins).
    """

    def __init__(self, t: np.ndarray, period: float | None, bin_s: float, rng: np.random.Generator):
        super().__init__(rng)
        self.t = np.asarray(t, dtype=float)
        self.period = period
        span = period if period is not None else (self.t[-1] if self.t.size else 0.0)
        self._span = span
        self.mean_rate = self.t.size / span if span > 0 else 0.0
        self.bin_s = float(bin_s)
        # bins are counted on demand (searchsorted), never allocated: a stray row at t = 1e12 s
        # must not make an array of 1e10 bins
        self._nb = max(1, int(math.ceil(max(span, self.bin_s) / self.bin_s)))
        self.last_index = np.empty(0, dtype=np.int64)

    def rate(self, t_s) -> np.ndarray:
        tt = np.asarray(t_s, dtype=float)
        if self.period is not None:
            tt = np.mod(tt, self.period)
        i = np.floor(tt / self.bin_s)
        inside = (i >= 0) & (i < self._nb) & (tt <= (self.t[-1] if self.period is None else np.inf))
        ic = np.clip(i, 0, self._nb - 1)
        lo = ic * self.bin_s
        last = ic == self._nb - 1
        hi = np.where(last, np.inf, lo + self.bin_s)
        count = np.searchsorted(self.t, hi, side="left") - np.searchsorted(self.t, lo, side="left")
        width = np.full(np.shape(tt), self.bin_s)
        if self.period is not None:
            width = np.where(last, np.maximum(self._span - (self._nb - 1) * self.bin_s, 1e-9), width)
        return np.where(inside, count / width, 0.0)

    def cumulative(self, t_s, weights: np.ndarray | None = None) -> np.ndarray:
        """Arrivals (or the sum of ``weights`` per arrival, e.g. output tokens) before ``t_s``,
        counting from time 0, looping included. Integer-valued floats: window differences of it
        are exact counts."""
        x = np.asarray(t_s, dtype=float)
        cum = np.concatenate(([0.0], np.cumsum(np.ones(self.t.size) if weights is None
                                                else np.asarray(weights, dtype=float))))
        if self.period is None:
            return cum[np.searchsorted(self.t, x, side="left")]
        k = np.floor(x / self.period)
        return k * cum[-1] + cum[np.searchsorted(self.t, x - k * self.period, side="left")]

    def expected_count(self, t0_s, dt_s) -> np.ndarray:
        """Exact number of replayed arrivals in each window ``[t0, t0 + dt)``."""
        t0 = np.asarray(t0_s, dtype=float)
        return self.cumulative(t0 + dt_s) - self.cumulative(t0)

    def peak_count(self, window_s: float) -> float:
        """The most replayed arrivals in any window of ``window_s`` (exact, sliding over the trace)."""
        n = self.t.size
        if n == 0 or not window_s > 0:
            return 0.0
        if self.period is None:
            return float(np.max(np.searchsorted(self.t, self.t + window_s, side="left") - np.arange(n)))
        P = self.period
        loops = math.floor(window_s / P)
        rem = window_s - loops * P
        tt = np.concatenate((self.t, self.t + P))
        return float(loops * n + np.max(np.searchsorted(tt, self.t + rem, side="left") - np.arange(n)))

    def sample(self, t0: float, t1: float) -> np.ndarray:
        if self.period is None:
            lo, hi = np.searchsorted(self.t, [t0, t1], side="left")
            self.last_index = np.arange(lo, hi, dtype=np.int64)
            return self.t[lo:hi].copy()
        P = self.period
        times, idx = [], []
        c0, c1 = int(math.floor(t0 / P)), int(math.floor(t1 / P))
        for c in range(c0, c1 + 1):
            base = c * P
            lo, hi = np.searchsorted(self.t, [t0 - base, t1 - base], side="left")
            times.append(base + self.t[lo:hi])
            idx.append(np.arange(lo, hi, dtype=np.int64))
        self.last_index = np.concatenate(idx)
        return np.concatenate(times)
