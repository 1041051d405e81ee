"""Streaming per-class serving metrics with bounded memory.

Counters, fixed log-bucket quantile sketches (relative error <= ``rel_err``, DDSketch-style
mapping: Masson, Rim & Lee, VLDB 2019) and a seeded per-class reservoir sample (Vitter's
Algorithm R, vectorized) of finished requests for latency CDF plots. Memory is fixed at
construction: it does not grow with the number of requests.

SLO attainment is the fraction of requests that met both their class's TTFT and TPOT SLOs
(a request with one output token has no TPOT and meets that part); shed requests count as
misses. Goodput is the output tokens of SLO-meeting requests per second of the run.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from dcsim.serving.replica import FinishedBatch

__all__ = ["LogHistogram", "ServingMetrics", "QUANTILES"]

QUANTILES = (0.5, 0.9, 0.99)
_METRICS = ("ttft", "tpot", "e2e", "queue", "energy")
_SAMPLE_FIELDS = ("t_arrival", "ttft_s", "tpot_s", "e2e_s", "queue_delay_s", "energy_j", "n_in", "n_out")


class LogHistogram:
    """Histogram with geometric buckets; quantiles within ``rel_err`` relative error.

    Bucket ``i >= 1`` holds values in ``(v_min*g**(i-1), v_min*g**i]`` with
    ``g = (1+rel_err)/(1-rel_err)`` and reports ``2*v_min*g**i/(g+1)``; bucket 0 holds values
    ``<= v_min`` (zeros included) and reports the smallest value seen. Values above ``v_max``
    go to the last bucket. ``rows`` independent histograms share the bucket layout (one per class).
    Units are those of the values added.
    """

    def __init__(self, rows: int = 1, rel_err: float = 0.005, v_min: float = 1e-9, v_max: float = 1e9):
        if not 0.0 < rel_err < 0.5:
            raise ValueError("rel_err must be in (0, 0.5)")
        self.rel_err = rel_err
        self.gamma = (1.0 + rel_err) / (1.0 - rel_err)
        self._lg = math.log(self.gamma)
        self.v_min = v_min
        self.nb = int(math.ceil(math.log(v_max / v_min) / self._lg)) + 1
        self.rows = rows
        self.counts = np.zeros((rows, self.nb), dtype=np.int64)
        self.total = np.zeros(rows)
        self.vmin = np.full(rows, np.inf)
        self.vmax = np.full(rows, -np.inf)

    def add(self, values: np.ndarray, row: np.ndarray | int = 0) -> None:
        """Add values (non-finite ones are ignored) to histogram ``row`` (int or array)."""
        v = np.asarray(values, dtype=float)
        r = np.broadcast_to(np.asarray(row, dtype=np.int64), v.shape)
        ok = np.isfinite(v)
        if not ok.all():
            v, r = v[ok], r[ok]
        if v.size == 0:
            return
        with np.errstate(divide="ignore"):
            idx = np.ceil(np.log(np.maximum(v, 1e-300) / self.v_min) / self._lg)
        idx = np.clip(idx, 0, self.nb - 1).astype(np.int64)
        self.counts += np.bincount(r * self.nb + idx, minlength=self.rows * self.nb).reshape(self.rows, self.nb)
        self.total += np.bincount(r, weights=v, minlength=self.rows)
        if self.rows == 1:  # one class: plain reductions (ufunc.at is slow)
            self.vmin[0] = min(self.vmin[0], v.min())
            self.vmax[0] = max(self.vmax[0], v.max())
        else:
            np.minimum.at(self.vmin, r, v)
            np.maximum.at(self.vmax, r, v)

    def count(self, row: int | None = None) -> int:
        """Number of values in ``row`` (all rows if None)."""
        c = self.counts if row is None else self.counts[row]
        return int(c.sum())

    def _row(self, row: int | None, weights: np.ndarray | None = None):
        if row is None:
            if weights is not None:  # each row's values stand for ``weights[row]`` values each
                w = np.asarray(weights, dtype=float)
                has = self.counts.sum(axis=1) > 0
                return ((self.counts * w[:, None]).sum(axis=0), float(np.dot(self.total, w)),
                        float(self.vmin[has].min()) if has.any() else math.inf,
                        float(self.vmax[has].max()) if has.any() else -math.inf)
            return self.counts.sum(axis=0), float(self.total.sum()), float(self.vmin.min()), float(self.vmax.max())
        return self.counts[row], float(self.total[row]), float(self.vmin[row]), float(self.vmax[row])

    def quantile(self, q: float | Sequence[float], row: int | None = None,
                 weights: np.ndarray | None = None) -> np.ndarray:
        """Quantile(s) ``q`` in [0, 1] of ``row`` (merged rows if None, each row's values weighted by ``weights``
        if given); NaN if empty.

        Returns the order statistic of rank ``floor(q*(n-1))`` within ``rel_err`` (exact at 0, 1).
        """
        qs = np.atleast_1d(np.asarray(q, dtype=float))
        c, _, lo, hi = self._row(row, weights)
        n = float(c.sum())
        if n <= 0:
            return np.full(qs.shape, np.nan)
        cum = np.cumsum(c)
        i = np.searchsorted(cum, qs * (n - 1), side="right")
        val = 2.0 * self.v_min * self.gamma ** i / (self.gamma + 1.0)
        val = np.where((i == 0) | (qs <= 0.0), lo, val)
        val = np.where(qs >= 1.0, hi, val)  # exact extremes
        return np.clip(val, lo, hi)

    def mean(self, row: int | None = None, weights: np.ndarray | None = None) -> float:
        """Exact mean of the values added (NaN if none); merged rows weighted by ``weights`` if given."""
        c, tot, _, _ = self._row(row, weights)
        n = float(c.sum())
        return tot / n if n > 0 else math.nan


def _f(x: float) -> float | None:
    """JSON-safe float (None for NaN)."""
    x = float(x)
    return None if math.isnan(x) else x


class ServingMetrics:
    """Per-class streaming serving metrics.

    ``class_names`` and the SLOs (s; ``None`` or ``inf`` = no SLO) come from the workload's
    classes. ``seed`` (a :class:`numpy.random.SeedSequence` or int) drives the reservoir sample
    of ``sample_size`` finished requests per class: the caller's figure, no default here (the engine passes
    ``serving.latency_sample_size``, whose default is ServingSpec's, its one home; until session 53 this module
    imported the spec to repeat it).
    """

    def __init__(self, class_names: Sequence[str], slo_ttft_s: Sequence[float | None],
                 slo_tpot_s: Sequence[float | None], *, sample_size: int,
                 seed: np.random.SeedSequence | int | None = 0, rel_err: float = 0.005):
        self.class_names = list(class_names)
        k = len(self.class_names)
        if len(slo_ttft_s) != k or len(slo_tpot_s) != k:
            raise ValueError("one TTFT and one TPOT SLO per class")
        self.slo_ttft = np.array([math.inf if s is None else float(s) for s in slo_ttft_s])
        self.slo_tpot = np.array([math.inf if s is None else float(s) for s in slo_tpot_s])
        self.k = k
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self._rng = np.random.default_rng(ss)
        self.hist = {m: LogHistogram(k, rel_err, *((1e-6, 1e9) if m == "energy" else (1e-7, 1e7)))
                     for m in _METRICS}
        z = lambda: np.zeros(k, dtype=np.int64)  # noqa: E731
        self.arrived, self.completed, self.shed, self.slo_met = z(), z(), z(), z()
        self.tokens_in, self.tokens_out, self.good_tokens = z(), z(), z()
        self.energy_j = np.zeros(k)
        self.sample_size = int(sample_size)
        self._sample = np.full((k, self.sample_size, len(_SAMPLE_FIELDS)), np.nan)
        self._seen = z()
        self.flush_rows = 8192  # rows buffered before a vectorized update (bounded memory)
        self._buf: list[tuple] = []
        self._batches: list[FinishedBatch] = []
        self._n_batched = 0
        #: requests each recorded request of a class stands for in the run-wide figures (latency percentiles, SLO
        #: attainment): None = 1 each. Hybrid fidelity with several model pools samples a different share of each
        #: pool (``serving.hybrid.compute_share``), so its run-wide mix is reweighted to the pools' true request
        #: shares (``run_wide_weighting`` in the report), and so is the run-wide ``shed_share`` of the counts (the
        #: counts themselves stay the sample's); per-class figures are unweighted
        self.class_weight: np.ndarray | None = None

    # -------------------------------------------------------------- inputs
    def record_arrivals(self, cls: np.ndarray) -> None:
        """Count arriving requests (class index array), shed or not."""
        self.arrived += np.bincount(np.asarray(cls, dtype=np.int64), minlength=self.k)[: self.k]

    def record_shed(self, cls: np.ndarray) -> None:
        """Count requests refused service (class index array)."""
        self.shed += np.bincount(np.asarray(cls, dtype=np.int64), minlength=self.k)[: self.k]

    def add_rows(self, rows: list[tuple]) -> None:
        """Add finished requests given as :class:`~dcsim.serving.replica.AdvanceResult` rows.

        Rows are buffered (at most ``flush_rows``) and folded in vectorized batches; outputs
        flush the buffer first.
        """
        self._buf.extend(rows)
        if len(self._buf) + self._n_batched >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        """Fold buffered rows and batches into the sketches, counters and reservoirs."""
        parts = self._batches
        if self._buf:
            parts.append(FinishedBatch.from_rows(self._buf))
            self._buf = []
        if parts:
            self._batches, self._n_batched = [], 0
            self._ingest(parts[0] if len(parts) == 1 else FinishedBatch.concat(parts))

    def add(self, fb: FinishedBatch) -> None:
        """Add a batch of finished requests; small batches are buffered (up to ``flush_rows``
        rows) and folded in together, so per-tick calls stay cheap."""
        n = len(fb)
        if n == 0:
            return
        self._batches.append(fb)
        self._n_batched += n
        if self._n_batched + len(self._buf) >= self.flush_rows:
            self.flush()

    def _ingest(self, fb: FinishedBatch) -> None:
        """Vectorized update with a batch of finished requests."""
        if len(fb) == 0:
            return
        c = fb.cls
        ttft, tpot, e2e, qd = fb.ttft_s, fb.tpot_s, fb.e2e_s, fb.queue_delay_s
        for name, v in (("ttft", ttft), ("tpot", tpot), ("e2e", e2e), ("queue", qd), ("energy", fb.energy_j)):
            self.hist[name].add(v, c)
        met = (ttft <= self.slo_ttft[c]) & ((fb.n_out <= 1) | (tpot <= self.slo_tpot[c]))
        bc = lambda w=None: np.bincount(c, weights=w, minlength=self.k)[: self.k]  # noqa: E731
        self.completed += bc().astype(np.int64)
        self.slo_met += bc(met.astype(float)).astype(np.int64)
        self.tokens_in += bc(fb.n_in.astype(float)).astype(np.int64)
        self.tokens_out += bc(fb.n_out.astype(float)).astype(np.int64)
        self.good_tokens += bc(np.where(met, fb.n_out, 0).astype(float)).astype(np.int64)
        self.energy_j += bc(fb.energy_j)
        fields = (fb.t_arrival, ttft, tpot, e2e, qd, fb.energy_j, fb.n_in, fb.n_out)
        if self.k == 1:
            self._reservoir(0, np.arange(len(fb)), fields)
        else:
            for k in np.unique(c):
                self._reservoir(int(k), np.flatnonzero(c == k), fields)

    def _reservoir(self, k: int, rows: np.ndarray, fields: tuple) -> None:
        """Algorithm R over a batch (the ``rows`` of ``fields`` that belong to class ``k``): item
        number j (0-based, over all seen) replaces a uniform slot with probability size/(j+1);
        later items overwrite earlier ones, as sequentially. Only kept rows are gathered."""
        K = self.sample_size
        seen = int(self._seen[k])
        m = rows.shape[0]
        self._seen[k] = seen + m
        fill = max(0, min(K - seen, m))
        if fill:
            self._sample[k, seen: seen + fill] = np.stack([f[rows[:fill]] for f in fields], axis=1)
        rest = rows[fill:]
        if rest.shape[0] == 0:
            return
        j = np.arange(seen + fill, seen + m)
        accept = self._rng.random(rest.shape[0]) * (j + 1) < K
        slots = self._rng.integers(0, K, size=rest.shape[0])
        idx = np.flatnonzero(accept)
        if idx.size == 0:
            return
        s = slots[idx]
        # keep the last accepted item per slot (sequential semantics)
        rev_s = s[::-1]
        _, first_in_rev = np.unique(rev_s, return_index=True)
        last = idx[::-1][first_in_rev]
        self._sample[k, slots[last]] = np.stack([f[rest[last]] for f in fields], axis=1)

    # -------------------------------------------------------------- outputs
    def sample(self, cls: int | str) -> dict[str, np.ndarray]:
        """The reservoir of class ``cls`` (index or name): arrays by field (s, J, tokens)."""
        self.flush()
        k = self.class_names.index(cls) if isinstance(cls, str) else int(cls)
        n = min(int(self._seen[k]), self.sample_size)
        return {f: self._sample[k, :n, i].copy() for i, f in enumerate(_SAMPLE_FIELDS)}

    def _lat(self, m: str, row: int | None) -> dict:
        h = self.hist[m]
        w = self.class_weight if row is None else None
        q = h.quantile(QUANTILES, row, w)
        return {"p50": _f(q[0]), "p90": _f(q[1]), "p99": _f(q[2]), "mean": _f(h.mean(row, w))}

    def _block(self, row: int | None, duration_s: float) -> dict:
        sel = slice(None) if row is None else slice(row, row + 1)
        arrived = int(self.arrived[sel].sum())
        completed = int(self.completed[sel].sum())
        shed = int(self.shed[sel].sum())
        met = int(self.slo_met[sel].sum())
        denom = completed + shed
        out = int(self.tokens_out[sel].sum())
        att = _f(met / denom) if denom else None
        shed_share = None  # run-wide only (per class it is shed / arrived)
        if row is None and self.class_weight is None:
            shed_share = _f(shed / arrived) if arrived else None
        elif row is None:
            w = np.asarray(self.class_weight, dtype=float)
            den_w = float(np.dot(self.completed + self.shed, w))
            att = _f(float(np.dot(self.slo_met, w)) / den_w) if den_w > 0 else None
            # the counts' share too, weighted alike: the raw sample mix over-counts the pool sampled at the larger
            # share (mixed-fleet: 16.7 % of the reasoning pool, 10 % of the chat pool)
            arr_w = float(np.dot(self.arrived, w))
            shed_share = _f(float(np.dot(self.shed, w)) / arr_w) if arr_w > 0 else None
        block = {
            "latency_s": {m: self._lat(m, row) for m in ("ttft", "tpot", "e2e")},
            "queue_delay_s": self._lat("queue", row),
            "slo_attainment": att,
            "goodput_tok_s": float(self.good_tokens[sel].sum()) / duration_s,
            "throughput_tok_s": out / duration_s,
            "requests": {"arrived": arrived, "completed": completed,
                         "in_flight": arrived - completed - shed, "shed": shed},
            "tokens": {"in": int(self.tokens_in[sel].sum()), "out": out},
            "energy_per_request_j": self._lat("energy", row),
            "energy_per_output_token_j": _f(float(self.energy_j[sel].sum()) / out) if out else None,
        }
        if row is None:
            # run-wide share of the arrived requests shed: weighted by class_weight when set, as slo_attainment
            # (the summary's Requests row and hold-limit note print it); per class it is shed / arrived
            block["shed_share"] = shed_share
        return block

    def to_report(self, duration_s: float) -> dict:
        """The report block: overall figures plus ``per_class`` (durations in s, energies in J)."""
        if not duration_s > 0:
            raise ValueError("duration_s must be > 0")
        self.flush()
        rep = self._block(None, duration_s)
        rep["per_class"] = {}
        for i, name in enumerate(self.class_names):
            b = self._block(i, duration_s)
            b["slo"] = {"ttft_s": _f(self.slo_ttft[i]) if math.isfinite(self.slo_ttft[i]) else None,
                        "tpot_s": _f(self.slo_tpot[i]) if math.isfinite(self.slo_tpot[i]) else None}
            rep["per_class"][name] = b
        return rep
