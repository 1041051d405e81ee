"""Token-length distributions with analytic moments, including an output cap.

A length ``N`` is an integer >= 1. Each distribution draws a base integer ``B >= 1`` and applies

    N = cap                  with probability ``cap_mass`` (runaway generation to the cap)
    N = min(B, cap)          otherwise,

so outputs longer than ``max_tokens`` pile up *at* the cap, and ``cap_mass`` adds the
over-generation mass that plain prompts can trigger (BenchOverflow, 2026; see presets).
``mean()`` and ``var()`` are exact for the discretised distribution (lognormal: exact sum over
integers below a grid limit, continuous partial moments of the lognormal beyond it, whose
rounding error is far below 1e-6 relative). ``sample(n, rng)`` is vectorised.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
from scipy import special

__all__ = ["residence_output_context", "LengthDist", "LogNormalLength", "EmpiricalLength", "FixedLength", "Z99",
           "lognormal_sigma"]

Z99 = float(special.ndtri(0.99))  # 2.3263478740 (standard normal 99th percentile)
_GRID_MAX = 1 << 17  # integers summed exactly before switching to continuous partial moments


def lognormal_sigma(median: float, p99: float) -> float:
    """Log-space standard deviation of a lognormal with this median and 99th percentile."""
    return math.log(p99 / median) / Z99


def _clip_moments_from_pmf(k: np.ndarray, p: np.ndarray, cap: float) -> tuple[float, float, float]:
    """(E[min(B,cap)], E[min(B,cap)^2], P(B >= cap)) for a pmf on integers ``k``."""
    kk = np.minimum(k, cap)
    return float(np.dot(p, kk)), float(np.dot(p, kk * kk)), float(p[k >= cap].sum())


@dataclass(frozen=True)
class LengthDist(ABC):
    """Base class: a capped integer token-length distribution (tokens, >= 1)."""

    cap: float = math.inf
    cap_mass: float = 0.0

    def __post_init__(self):
        if not self.cap >= 1:
            raise ValueError(f"cap must be >= 1 token, got {self.cap}")
        if not 0.0 <= self.cap_mass <= 1.0:
            raise ValueError(f"cap_mass must be in [0, 1], got {self.cap_mass}")
        if self.cap_mass > 0 and not math.isfinite(self.cap):
            raise ValueError("cap_mass > 0 needs a finite cap (max_tokens)")

    # -- subclasses implement these two ------------------------------------------------
    @abstractmethod
    def _base_clipped(self, cap: float) -> tuple[float, float, float]:
        """(E[min(B,cap)], E[min(B,cap)^2], P(B >= cap)) of the base draw B."""

    @abstractmethod
    def _base_sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of the base (uncapped) length distribution."""

    @abstractmethod
    def _base_pmf(self, n: int) -> np.ndarray:
        """P(B = k) for k = 0..n (index k; entry 0 is 0) of the base draw; its mass above n left out."""

    # -- public API ----------------------------------------------------------------------
    @cached_property
    def _mom(self) -> tuple[float, float, float]:
        """(E[N], E[N^2], P(N = cap)), computed once per distribution value (:func:`_moments`): equal distributions
        of several request classes share it."""
        try:
            return _moments(self)
        except TypeError:  # a field that cannot be hashed (a list of empirical values): this instance only
            return _moments.__wrapped__(self)

    def mean(self) -> float:
        """Mean token count (tokens), cap and cap_mass included."""
        return self._mom[0]

    def var(self) -> float:
        """Variance of the token count (tokens^2), cap and cap_mass included."""
        m1, m2, _ = self._mom
        return max(m2 - m1 * m1, 0.0)

    def p_cap(self) -> float:
        """Probability that a request's length equals the cap (0 without a cap)."""
        return self._mom[2] if math.isfinite(self.cap) else 0.0

    def pmf(self, n: int) -> np.ndarray:
        """P(N = k) for k = 0..n (index k; entry 0 is 0), the cap and ``cap_mass`` applied as :meth:`sample` applies
        them (everything at or above the cap lands at it); the mass above n is left out (it sums to 1 when n >= the
        cap or the support)."""
        p = self._base_pmf(int(n))
        if math.isfinite(self.cap):
            c = int(self.cap)
            if c <= n:
                above = max(1.0 - float(p[:c].sum()), 0.0)  # everything at or beyond the cap lands at the cap
                p[c + 1:] = 0.0
                p[c] = above
            if self.cap_mass > 0:
                p *= 1.0 - self.cap_mass
                if c <= n:
                    p[c] += self.cap_mass
        return p

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` token counts (int64, >= 1, <= cap)."""
        b = self._base_sample(int(n), rng)
        if math.isfinite(self.cap):
            c = int(self.cap)
            np.minimum(b, c, out=b)
            if self.cap_mass > 0:
                b[rng.random(b.size) < self.cap_mass] = c
        return b


@lru_cache(maxsize=1024)
def _moments(d: LengthDist) -> tuple[float, float, float]:
    """(E[N], E[N^2], P(N = cap)) of ``d``, memoised by value (the frozen dataclass's equality and hash): 40 request
    classes of one preset built the same lognormal moments 80 times (~25 ms each), 1.99 s of a 2.55 s preflight."""
    m1, m2, pc = d._base_clipped(d.cap)
    q = d.cap_mass
    if q > 0:
        c = d.cap
        m1 = q * c + (1 - q) * m1
        m2 = q * c * c + (1 - q) * m2
        pc = q + (1 - q) * pc
    return m1, m2, pc


@dataclass(frozen=True)
class LogNormalLength(LengthDist):
    """B = max(1, round(X)), X lognormal with the given ``median`` and ``p99`` (tokens)."""

    median: float = 1.0
    p99: float = 2.0
    mu: float = field(init=False)
    sigma: float = field(init=False)

    def __post_init__(self):
        super().__post_init__()
        if not (self.median > 0 and self.p99 > self.median):
            raise ValueError(f"lognormal needs 0 < median < p99, got median={self.median}, p99={self.p99}")
        object.__setattr__(self, "mu", math.log(self.median))
        object.__setattr__(self, "sigma", lognormal_sigma(self.median, self.p99))

    @classmethod
    def from_sigma(cls, median: float, sigma: float, **kw) -> "LogNormalLength":
        """Build from the median and the log-space standard deviation."""
        return cls(median=median, p99=median * math.exp(Z99 * sigma), **kw)

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return special.ndtr((np.log(x) - self.mu) / self.sigma)

    def _partial(self, a: float, b: float, j: int) -> float:
        """E[X^j ; a < X < b] of the continuous lognormal (j = 1, 2)."""
        mu, s = self.mu, self.sigma
        za = -math.inf if a <= 0 else (math.log(a) - mu - j * s * s) / s
        zb = math.inf if not math.isfinite(b) else (math.log(b) - mu - j * s * s) / s
        return math.exp(j * mu + 0.5 * j * j * s * s) * float(special.ndtr(zb) - special.ndtr(za))

    def _base_clipped(self, cap: float) -> tuple[float, float, float]:
        # integers 1..K-1 exactly (B = k iff k-0.5 <= X < k+0.5; B = 1 iff X < 1.5)
        hi = min(cap, _GRID_MAX)
        kmax = int(math.floor(hi))
        k = np.arange(1, kmax + 1, dtype=float)
        edges = self._cdf(k + 0.5)
        p = np.diff(np.concatenate(([0.0], edges)))
        if kmax >= cap:  # the whole support up to the cap is on the grid
            p[-1] += 1.0 - edges[-1]  # everything above the cap lands at the cap
            return _clip_moments_from_pmf(k, p, cap)
        m1 = float(np.dot(p, k))
        m2 = float(np.dot(p, k * k))
        a = kmax + 0.5
        b = cap - 0.5 if math.isfinite(cap) else math.inf
        m1 += self._partial(a, b, 1)
        m2 += self._partial(a, b, 2)
        pc = 0.0
        if math.isfinite(cap):
            pc = 1.0 - float(self._cdf(np.array(b)))
            m1 += pc * cap
            m2 += pc * cap * cap
        return m1, m2, pc

    def _base_pmf(self, n: int) -> np.ndarray:
        k = np.arange(n + 1, dtype=float)
        cdf = self._cdf(np.maximum(k + 0.5, 1e-300))
        p = np.diff(np.concatenate(([0.0], cdf)))
        p[0] = 0.0
        if n >= 1:
            p[1] = cdf[1]  # B = 1 for X < 1.5
        return p

    def _base_sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        x = np.exp(self.mu + self.sigma * rng.standard_normal(n))
        return np.maximum(np.floor(x + 0.5), 1.0).astype(np.int64)


@dataclass(frozen=True)
class EmpiricalLength(LengthDist):
    """B drawn from ``values`` (tokens, rounded to integers >= 1) with ``weights``."""

    values: tuple[float, ...] = (1.0,)
    weights: tuple[float, ...] | None = None
    _k: np.ndarray = field(init=False, repr=False, compare=False)
    _cum: np.ndarray = field(init=False, repr=False, compare=False)
    _p: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        super().__post_init__()
        v = np.maximum(np.rint(np.asarray(self.values, dtype=float)), 1.0)
        if v.size == 0 or not np.all(np.isfinite(v)):
            raise ValueError("empirical lengths need finite values")
        w = np.ones_like(v) if self.weights is None else np.asarray(self.weights, dtype=float)
        if w.shape != v.shape or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("empirical weights must match values, be >= 0 and not all zero")
        order = np.argsort(v, kind="stable")
        v, w = v[order], w[order]
        p = w / w.sum()
        object.__setattr__(self, "_k", v.astype(np.int64))
        object.__setattr__(self, "_p", p)
        cum = np.cumsum(p)
        cum[-1] = 1.0
        object.__setattr__(self, "_cum", cum)

    def _base_clipped(self, cap: float) -> tuple[float, float, float]:
        return _clip_moments_from_pmf(self._k.astype(float), self._p, cap)

    def _base_pmf(self, n: int) -> np.ndarray:
        p = np.zeros(n + 1)
        inside = self._k <= n
        np.add.at(p, self._k[inside], self._p[inside])
        return p

    def _base_sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        idx = np.searchsorted(self._cum, rng.random(n), side="right")
        return self._k[np.minimum(idx, self._k.size - 1)].copy()


@dataclass(frozen=True)
class FixedLength(LengthDist):
    """B = ``value`` tokens for every request."""

    value: int = 1

    def __post_init__(self):
        super().__post_init__()
        if self.value < 1:
            raise ValueError(f"fixed length must be >= 1, got {self.value}")

    def _base_clipped(self, cap: float) -> tuple[float, float, float]:
        c = min(float(self.value), cap)
        return c, c * c, 1.0 if self.value >= cap else 0.0

    def _base_pmf(self, n: int) -> np.ndarray:
        p = np.zeros(n + 1)
        if self.value <= n:
            p[self.value] = 1.0
        return p

    def _base_sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.full(n, self.value, dtype=np.int64)


def residence_output_context(bins, counts, mean_out: float | None = None) -> float:
    """Output tokens a running sequence holds on average, weighted by residence: ``E[o^2] / (2 E[o])``
    of an output-length histogram (``bins``: edges, ``counts``: per bin; lengths uniform within a bin).

    A continuously batched sequence stays in the batch for its ``o`` decode steps and holds ``j``
    output tokens at step ``j``, so over the batch the mean is ``E[o^2]/(2E[o])`` (``E[o]/2`` only
    when every output has the same length; ``E[o]`` for a geometric one). With ``mean_out`` the
    histogram gives the shape only: ``mean_out · E[o^2]/(2E[o]^2)`` (a run whose mean differs a little
    from the histogram's, e.g. one configuration of a task-level histogram).
    """
    b = np.asarray(bins, dtype=float)
    n = np.asarray(counts, dtype=float)
    if b.ndim != 1 or n.shape != (b.size - 1,) or not np.all(np.diff(b) > 0) or n.sum() <= 0 or np.any(n < 0):
        raise ValueError("output-length histogram: need increasing bin edges and one non-negative count per bin")
    lo, hi = b[:-1], b[1:]
    e1 = float(np.sum(n * 0.5 * (lo + hi)) / n.sum())
    e2 = float(np.sum(n * (lo * lo + lo * hi + hi * hi) / 3.0) / n.sum())
    if mean_out is None:
        return e2 / (2.0 * e1)
    return float(mean_out) * e2 / (2.0 * e1 * e1)
