"""Fluid SLO estimate: queueing-aware TTFT / TPOT distributions from per-tick aggregates.

The fluid engine moves token flows, not requests; this module turns its per-tick operating
point into per-class latency distributions and SLO attainment with a small queueing model of a
continuous-batching replica (method, calibration and error bands: ``docs/slo.md``). It is a
pure model over numpy arrays and imports nothing from :mod:`dcsim.engine`; the adapter
:func:`estimate_for_run` reads what it needs from a built model and a timeseries by duck typing.

Per replica, at a per-replica output rate ``r`` (tokens/s) and clock level ``k``:

* the operating batch ``b*`` solves ``thr_k(b*) = r`` on the node table, so the mean step is
  ``tau = b*/r``; the decode-only step at that batch is ``t_d(b*)`` and the rest of the step,
  ``tau - t_d``, is prefill work of the ``lambda = r / mean_out`` prompts per second, whose
  nominal time ``p(n_in) = a_k n_in + q_k n_in^2`` (s) is scaled by an overlap factor ``kappa``
  (prefill partly hides under decode memory time) so that ``lambda kappa E[p] = 1 - t_d/tau``;
* **TPOT** of a request with ``n_out`` tokens: ``t_d + Z/(n_out-1)`` where ``Z`` is the prefill
  time that lands in its ``n_out-1`` steps, compound Poisson (rate ``lambda``, jump ``kappa p``),
  taken as a Gamma with that mean and variance;
* **TTFT**: the residual of the running iteration (uniform on ``tau``), the wait for the prefill
  work ahead of it (G/G/1, Kingman's mean with the arrival SCV, P(wait) = rho_p, exponential
  tail), its own prefill ``kappa p(n_in)`` plus one decode step, the wait for a batch slot
  (G/G/c with ``c = b_max`` slots held for a request's decode, Erlang C with the Kingman factor,
  exponential tail) and, above the replicas' effective capacity ``eta * thr_max`` or when the
  controller holds work at the door, a deterministic FIFO wait: the door backlog over the served
  rate (capped by the hold limit, beyond which work is shed) plus a replica backlog built by the
  Lindley recursion of (offered - effective capacity);
* ``eta`` and ``wait_factor`` are calibrated against request fidelity (``CALIBRATION`` below).

Percentiles are of the mixture over ticks weighted by requests served; SLO attainment counts a
request as meeting its class's TTFT and TPOT SLOs (joint, per sample) and shed requests as
misses, as request fidelity does. Quasi-random (Kronecker) points stand in for random draws,
so the estimate is deterministic without a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from dcsim.streams import named_stream

__all__ = ["ClassMoments", "ReplicaService", "TickFlows", "Calibration", "CALIBRATION", "SloEstimate",
           "NotEstimated", "estimate_slo", "service_from_node", "lognormal_from_moments", "arrival_scv",
           "estimate_for_run", "erlang_c", "QUANTILES"]

QUANTILES = (0.5, 0.9, 0.99)
_N_POINTS = 1024  # quasi-random points per class and operating point
_QBINS = int(math.ceil(math.log(1e13) / math.log(1.005))) + 1
_RATIO_MAX = 0.995  # largest arrival/service ratio of the stationary queue
_POOL_STATES = 65_536  # states of the pooled birth-death chain, at most


@dataclass(frozen=True)
class Calibration:
    """Free parameters of the estimate, fitted to request fidelity (``docs/slo.md``).

    ``eta``: multiplies the saturation throughput derived from the node
    (:func:`saturation_throughput_tok_s`; 1 = as derived). ``wait_factor``: multiplies both queueing waits (routing and chunked
    prefill depart from the G/G/1 and G/G/c idealisations).
    """

    eta: float = 1.0
    wait_factor: float = 1.0
    source: str = "assumption"


#: Fitted by ``python scripts/calibrate_slo.py`` (grid and residuals in docs/slo.md).
CALIBRATION = Calibration()


@dataclass(frozen=True)
class ClassMoments:
    """A request class: share of requests, length moments (tokens, tokens^2), SLOs (s; inf = none)."""

    name: str
    share: float
    mean_in: float
    var_in: float
    mean_out: float
    var_out: float
    slo_ttft_s: float = math.inf
    slo_tpot_s: float = math.inf
    max_out: float = math.inf
    in_sorted: np.ndarray | None = None  # optional sorted draws of the input lengths (tokens)
    out_sorted: np.ndarray | None = None  # optional sorted draws of the output lengths (tokens)

    def lengths(self, u_in: np.ndarray, u_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Input and output lengths at quantiles ``u_in``, ``u_out``: the draws if given, else the
        lognormal with the class's moments."""
        def pick(srt, u, mean, var, cap):
            if srt is not None and srt.size:
                return srt[np.minimum((u * srt.size).astype(int), srt.size - 1)].astype(float)
            return lognormal_from_moments(mean, var, u, cap)
        return (pick(self.in_sorted, u_in, self.mean_in, self.var_in, math.inf),
                pick(self.out_sorted, u_out, self.mean_out, self.var_out, self.max_out))


@dataclass(frozen=True)
class ReplicaService:
    """One replica's service tables at each clock level.

    ``thr`` (K, B) output tokens/s at batch ``batch`` (B,) (column 0 idle); ``decode_step_s``
    (K, B) decode-only iteration time (s) at that batch with the mean context; ``prefill_s`` (K, G)
    time (s) of an iteration prefilling ``prefill_tokens`` (G,) prompt tokens alone (one prompt's
    attention); ``b_max`` batch slots.
    """

    batch: np.ndarray
    thr: np.ndarray
    decode_step_s: np.ndarray
    prefill_tokens: np.ndarray
    prefill_s: np.ndarray
    b_max: float
    eta: np.ndarray | float = 1.0
    max_batched_tokens: float = math.inf  # chunked-prefill token budget per iteration  # (K,) saturation throughput of random batches / the table's largest

    def prefill_time_s(self, k: int, tokens) -> np.ndarray:
        """Iteration time (s) prefilling ``tokens`` prompt tokens at clock level ``k`` (interpolated)."""
        return np.interp(tokens, self.prefill_tokens, self.prefill_s[k])


@dataclass(frozen=True)
class TickFlows:
    """Per-tick aggregates of one replica group (arrays of length n).

    ``served_tok_s`` output tokens/s served; ``replicas`` replicas in service; ``level`` clock
    level index; ``door_wait_s`` wait before admission decided by the controller (door backlog
    over served rate, s); ``shed_tok`` output tokens shed in the tick; ``dt_s`` tick length.
    """

    served_tok_s: np.ndarray
    replicas: np.ndarray
    level: np.ndarray
    door_wait_s: np.ndarray
    shed_tok: np.ndarray
    dt_s: float


@dataclass
class SloEstimate:
    """Per-class and overall latency percentiles (s), SLO attainment and goodput (tokens/s)."""

    latency_s: dict
    slo_attainment: float | None
    goodput_tok_s: float
    per_class: dict
    method: str
    samples: dict = field(default_factory=dict, repr=False)

    @property
    def estimated(self) -> bool:
        return True


@dataclass
class NotEstimated:
    """The estimate cannot be made; ``reason`` says why."""

    reason: str

    @property
    def estimated(self) -> bool:
        return False


# --------------------------------------------------------------------------- pure pieces

def lognormal_from_moments(mean: float, var: float, u: np.ndarray, cap: float = math.inf) -> np.ndarray:
    """Token counts at quantiles ``u`` of the lognormal with ``mean`` and ``var`` (>= 1, <= cap)."""
    mean = max(float(mean), 1.0)
    s2 = math.log1p(max(float(var), 0.0) / (mean * mean))
    mu = math.log(mean) - 0.5 * s2
    x = np.exp(mu + math.sqrt(s2) * math.sqrt(2.0) * special.erfinv(2.0 * np.asarray(u) - 1.0))
    return np.clip(np.maximum(np.round(x), 1.0), 1.0, cap)


def _kronecker(n: int, d: int) -> np.ndarray:
    """``n`` points of the d-dimensional R_d low-discrepancy sequence (Roberts 2018), shape (d, n)."""
    g = 2.0
    for _ in range(30):  # root of x^(d+1) = x + 1
        g = (1.0 + g) ** (1.0 / (d + 1))
    alpha = (1.0 / g) ** np.arange(1, d + 1)
    i = np.arange(1, n + 1)
    return np.mod(0.5 + np.outer(alpha, i), 1.0)


def erlang_c(c: float, a: np.ndarray) -> np.ndarray:
    """Erlang C probability of waiting, ``c`` servers, offered load ``a`` erlangs (a < c), vectorized.

    Erlang B by its stable recursion ``B_k = a B_{k-1} / (k + a B_{k-1})``, then
    ``C = B / (1 - (a/c)(1 - B))``.
    """
    a = np.asarray(a, dtype=float)
    b = np.ones_like(a)
    for k in range(1, int(round(c)) + 1):
        b = a * b / (k + a * b)
    rho = np.minimum(a / c, 1.0 - 1e-12)
    return np.clip(b / (1.0 - rho * (1.0 - b)), 0.0, 1.0)


def arrival_scv(spec) -> float | None:
    """Squared coefficient of variation of inter-arrival times of an arrival spec (None if unknown).

    Poisson and thinned Poisson (diurnal, profile) 1; gamma renewal ``cv^2``; 2-state MMPP the
    asymptotic index of dispersion of counts, ``1 + 2 r1 r2 (l1-l2)^2 / ((r1+r2)^2 (l1 r2 + l2 r1))``
    with switching rates ``r_i = 1/sojourn_i`` (Fischer & Meier-Hellstern 1993); trace: None.
    """
    kind = getattr(spec, "kind", None)
    if kind in ("poisson", "diurnal", "profile_csv"):
        return 1.0
    if kind == "gamma":
        return float(spec.cv) ** 2
    if kind == "mmpp":
        l1, l2 = (float(x) for x in spec.rates)
        r1, r2 = (1.0 / float(s) for s in spec.mean_sojourn)
        den = (r1 + r2) ** 2 * (l1 * r2 + l2 * r1)
        return 1.0 + (2.0 * r1 * r2 * (l1 - l2) ** 2 / den if den > 0 else 0.0)
    return None


def saturation_throughput_tok_s(step, b_max: float, max_batched_tokens: float, e_in: float, e_in2: float,
                                mean_out: float, ctx_lb: float) -> tuple[float, float]:
    """Output tokens/s of a saturated replica whose iterations prefill random batches of prompts.

    At saturation ``b`` sequences decode (the slots, or fewer when the chunked-prefill budget
    binds: the prompt tokens arriving per iteration, ``b E[n_in]/mean_out`` on average, must fit
    in ``max_batched_tokens - b``). Each iteration prefills the prompts that arrived during the one
    before (Poisson, ``lambda T = b/mean_out`` prompts, lengths with moments ``e_in``, ``e_in2``)
    and decodes ``b`` sequences holding the length-biased context ``ctx_lb`` each; the mean
    iteration time ``T`` is the fixed point of ``E[step(X(T), b)]`` over quasi-random draws of
    the prompt tokens ``X``, where the convexity of the roofline max makes it longer than the step
    at the mean prefill the node table assumes. Returns ``(b / T, b)``.
    """
    b = float(min(b_max, max(1.0, math.floor(max_batched_tokens / (1.0 + e_in / mean_out)))))
    u = (np.arange(4096) + 0.5) / 4096
    grid = np.concatenate([[0.0], np.geomspace(1.0, 16.0 * max_batched_tokens, 96)])
    pctx = grid * 0.5 * (e_in2 / max(e_in, 1e-300) + 1.0)  # sum of n(n+1)/2 over the batch's prompts
    t_grid = np.array([step(float(x), int(b), b * ctx_lb, float(pc))[0] for x, pc in zip(grid, pctx)])
    x = _compound_tokens(np.full(u.size, b / mean_out), e_in, e_in2, u)
    return b / float(np.mean(np.interp(x, grid, t_grid))), b


def service_from_node(node, batch: np.ndarray, thr: np.ndarray, clocks: np.ndarray, classes: list | None = None,
                      mean_in: float | None = None, mean_out: float | None = None) -> ReplicaService:
    """Service tables from a node model (duck-typed: ``step_fn(clock)(prefill, n_decode, ctx, prefill_ctx)``
    and ``max_batched_tokens``).

    Decode-only steps at each table batch with the mean context; prefill-only iterations over a
    geometric grid of 1 .. 131,072 prompt tokens; ``eta`` from
    :func:`saturation_throughput_tok_s` at full clock with the classes' length draws
    (``ClassMoments``; without them ``eta`` = 1).
    """
    if classes:
        w = np.array([c.share for c in classes], float)
        w = w / w.sum()
        u2 = _kronecker(8192, 2)
        ls = [c.lengths(u2[0], u2[1]) for c in classes]
        e_in = float(sum(wi * np.mean(li) for wi, (li, _) in zip(w, ls)))
        e_in2 = float(sum(wi * np.mean(li * li) for wi, (li, _) in zip(w, ls)))
        mo = float(sum(wi * np.mean(lo) for wi, (_, lo) in zip(w, ls)))
        # decode context per running sequence, weighted by residence (output length)
        ctx_lb = float(sum(wi * np.sum(lo * (li + 0.5 * lo)) for wi, (li, lo) in zip(w, ls))
                       / sum(wi * np.sum(lo) for wi, (_, lo) in zip(w, ls)))
        mean_in = e_in if mean_in is None else mean_in
        mean_out = mo if mean_out is None else mean_out
    ctx = mean_in + 0.5 * mean_out
    K, B = thr.shape
    grid = np.unique(np.round(np.geomspace(1, 131_072, 48)))
    dec = np.zeros((K, B))
    pre = np.zeros((K, grid.size))
    for k, c in enumerate(clocks):
        st = node.step_fn(float(c))
        for j, b in enumerate(batch):
            dec[k, j] = st(0.0, int(b), float(b) * ctx, 0.0)[0] if b > 0 else 0.0
        for j, n in enumerate(grid):
            pre[k, j] = st(float(n), 0, 0.0, n * (n + 1) / 2)[0]
    eta = np.ones(K)
    if classes:
        for k, c in enumerate(clocks):
            sat, _ = saturation_throughput_tok_s(node.step_fn(float(c)), float(batch[-1]),
                                                 float(node.max_batched_tokens), e_in, e_in2, mo, ctx_lb)
            eta[k] = min(sat / thr[k, -1], 1.0)
    return ReplicaService(np.asarray(batch, float), np.asarray(thr, float), dec, grid, pre, float(batch[-1]), eta,
                          float(getattr(node, "max_batched_tokens", math.inf)))


def _compound_tokens(mean_count: np.ndarray, e_x: float, e_x2: float, u: np.ndarray) -> np.ndarray:
    """Quantile ``u`` of a compound Poisson sum (Poisson mean ``mean_count``, jumps with moments
    ``e_x``, ``e_x2``): an atom at 0 of mass ``exp(-mean_count)``, and above it the Gamma with the
    conditional mean and variance of the sum given at least one jump."""
    n = np.asarray(mean_count, float)
    m, v = n * e_x, n * e_x2  # mean and variance of the sum
    p0 = np.exp(-n)
    q = np.maximum(1.0 - p0, 1e-300)
    mc = m / q
    vc = np.maximum((v + m * m) / q - mc * mc, 1e-300)
    shape = mc * mc / vc
    uu = np.clip((u - p0) / q, 1e-12, 1.0 - 1e-12)
    x = special.gammaincinv(np.clip(shape, 1e-6, 1e12), uu) * vc / np.maximum(mc, 1e-300)
    return np.where((m > 0) & (u > p0), x, 0.0)


def _replica_backlog_wait(offered_tok_s: np.ndarray, capacity_tok_s: np.ndarray, dt: float) -> np.ndarray:
    """Wait (s) behind a replica backlog that grows when the offered rate exceeds the capacity.

    Lindley recursion ``q_j = max(0, q_{j-1} + (offered_j - capacity_j) dt)`` (tokens per replica),
    solved in closed form as ``S_j - min(0, min_{i<=j} S_i)`` with ``S`` the cumulative sum;
    the wait is ``q_j / capacity_j``.
    """
    x = (np.asarray(offered_tok_s, float) - np.asarray(capacity_tok_s, float)) * dt
    s = np.cumsum(x)
    q = s - np.minimum(np.minimum.accumulate(s), 0.0)
    return q / np.maximum(capacity_tok_s, 1e-300)


def _weighted_quantiles(x: np.ndarray, w: np.ndarray, qs=QUANTILES) -> list[float | None]:
    """Weighted quantiles on geometric bins of 0.5 % (1 us .. 1e7 s): O(n), within 0.5 % relative."""
    ok = np.isfinite(x) & (w > 0)
    x, w = x[ok], w[ok]
    if x.size == 0 or w.sum() <= 0:
        return [None for _ in qs]
    g = math.log(1.005)
    idx = np.clip(np.ceil(np.log(np.maximum(x, 1e-6) / 1e-6) / g), 0, _QBINS - 1).astype(np.int64)
    cw = np.cumsum(np.bincount(idx, weights=w, minlength=_QBINS))
    cw /= cw[-1]
    lo, hi = float(x.min()), float(x.max())
    out = []
    for q in qs:
        i = int(np.searchsorted(cw, q, side="left"))
        out.append(float(np.clip(1e-6 * math.exp(g * (i - 0.5)), lo, hi)))
    return out


def _lat(x, w) -> dict:
    q = _weighted_quantiles(x, w)
    ok = np.isfinite(x) & (w > 0)
    mean = float(np.sum(x[ok] * w[ok]) / np.sum(w[ok])) if np.any(ok) else None
    return {"p50": q[0], "p90": q[1], "p99": q[2], "mean": mean}


# --------------------------------------------------------------------------- the estimate

def estimate_slo(groups: list[tuple[TickFlows, ReplicaService]], classes: list[ClassMoments],
                 scv_arrival: float | None, *, hold_limit_s: float = math.inf,
                 calibration: Calibration = CALIBRATION, duration_s: float | None = None) -> SloEstimate | NotEstimated:
    """Per-class TTFT/TPOT/e2e percentiles, SLO attainment and goodput (see module doc).

    ``groups``: one (per-tick flows, service tables) per replica group; ``classes``: the request
    classes; ``scv_arrival``: SCV of inter-arrival times (None: not estimated).
    """
    if scv_arrival is None:
        return NotEstimated("arrival variability unknown (trace replay): no queueing estimate")
    if not classes or any(not (c.mean_in > 0 and c.mean_out > 0) for c in classes):
        return NotEstimated("request classes without length moments")
    cal = calibration
    shares = np.array([c.share for c in classes], float)
    shares = shares / shares.sum()
    mean_out = float(np.dot(shares, [c.mean_out for c in classes]))
    U = _kronecker(_N_POINTS, 11)
    lens = [c.lengths(U[0], U[1]) for c in classes]
    n_in = [x[0] for x in lens]
    n_out = [x[1] for x in lens]
    cs2_hold = float(np.dot(shares, [c.var_out + c.mean_out ** 2 for c in classes])) / mean_out ** 2 - 1.0
    kf = lambda cs2: 0.5 * (scv_arrival + cs2)  # noqa: E731  (Kingman's variability factor)
    out_x = {c.name: {"ttft": [], "tpot": [], "e2e": [], "w": [], "met": [], "tok": []} for c in classes}
    shed_req = np.zeros(len(classes))
    served_tok_total = 0.0
    dur = duration_s
    for flows, sv in groups:
        n = np.maximum(np.asarray(flows.replicas, float), 1e-12)
        r = np.asarray(flows.served_tok_s, float) / n
        lvl = np.asarray(flows.level, int)
        cap = cal.eta * np.broadcast_to(sv.eta, sv.thr.shape[:1])[lvl] * sv.thr[lvl, -1]
        rep_wait = _replica_backlog_wait(r, cap, flows.dt_s)
        wait = np.minimum(np.asarray(flows.door_wait_s, float) + rep_wait, hold_limit_s)
        tok = np.asarray(flows.served_tok_s, float) * flows.dt_s
        served_tok_total += float(tok.sum())
        if dur is None:
            dur = flows.dt_s * r.size
        # shed requests per class (counted as misses): shed tokens split by token share
        tok_share = shares * np.array([c.mean_out for c in classes]) / mean_out
        shed_req += float(np.sum(flows.shed_tok)) * tok_share / np.array([c.mean_out for c in classes])
        # operating points: clock level x utilisation bin x wait bin
        rho = np.minimum(r / np.maximum(cap, 1e-300), 0.999)
        rb = np.round(-np.log1p(-rho) / 0.04).astype(np.int64)  # finer towards saturation
        wb = np.where(wait > 1e-3, np.round(np.log(np.maximum(wait, 1e-3)) / 0.02).astype(np.int64) + 1_000_000, 0)
        key = np.stack([lvl, rb, wb], axis=1)
        busy = tok > 0
        if not np.any(busy):
            continue
        uk, inv = np.unique(key[busy], axis=0, return_inverse=True)
        inv = inv.ravel()
        wt = np.bincount(inv, weights=tok[busy])
        r_m = np.bincount(inv, weights=(r * tok)[busy]) / wt
        w_m = np.bincount(inv, weights=(wait * tok)[busy]) / wt
        n_m = np.bincount(inv, weights=(n * tok)[busy]) / wt
        base: dict = {}  # samples at (clock level, utilisation bin); the wait only shifts TTFT
        for gi in range(uk.shape[0]):
            k, rbin = int(uk[gi, 0]), int(uk[gi, 1])
            if (k, rbin) not in base:
                base[(k, rbin)] = _point(classes, n_in, n_out, U, sv, k, float(r_m[gi]), float(n_m[gi]),
                                         shares, mean_out, kf, cs2_hold, cal)
            for ci, cl in enumerate(classes):
                ttft0, tpot, no = base[(k, rbin)][ci]
                ttft = ttft0 + float(w_m[gi])
                e2e = ttft + np.where(no > 1, tpot * (no - 1.0), 0.0)
                met = (ttft <= cl.slo_ttft_s) & ((no <= 1) | (tpot <= cl.slo_tpot_s))
                req = float(wt[gi]) * tok_share[ci] / cl.mean_out  # requests of this class served here
                d = out_x[cl.name]
                d["ttft"].append(ttft)
                d["tpot"].append(tpot)
                d["e2e"].append(e2e)
                d["w"].append(np.full(ttft.size, req / ttft.size))
                d["met"].append(met)
                d["tok"].append(no)
    return _assemble(out_x, classes, shed_req, dur or 1.0, served_tok_total, scv_arrival, cal)


def batch_distribution(thr_tok_s: np.ndarray, batch: np.ndarray, lam_tok_s: float, b_max: float):
    """Stationary number of requests in a replica as a birth-death chain (state-dependent M/M/c).

    Births at ``lam_tok_s`` (offered output tokens/s, i.e. requests/s x mean output); deaths at
    ``thr(min(n, c))`` (the batch's output tokens/s at ``n`` running, interpolated on the table,
    divided by the same mean output): continuous batching speeds up as the batch grows, until the
    ``c = b_max`` slots are full. Returns ``(n, pi)`` for n = 0..c (P(N = n)) with the tail
    ``P(N >= c)`` folded into the last state, and ``ratio = lam / mu(c)`` (< 1 for stability).
    """
    c = int(round(b_max))
    n = np.arange(0, c + 1, dtype=float)
    mu = np.interp(n[1:], batch, thr_tok_s)
    logp = np.concatenate([[0.0], np.cumsum(np.log(max(lam_tok_s, 1e-300)) - np.log(np.maximum(mu, 1e-300)))])
    ratio = lam_tok_s / max(mu[-1], 1e-300)
    tail = 1.0 / (1.0 - ratio) if ratio < 1 else np.inf  # states n >= c: geometric with ratio
    logp[-1] += math.log(tail) if np.isfinite(tail) else 700.0
    p = np.exp(logp - logp.max())
    return n, p / p.sum(), ratio


def _point(classes, n_in, n_out, U, sv: ReplicaService, k, r, n_rep, shares, mean_out, kf, cs2_hold,
           cal) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per class (TTFT before any admission backlog, TPOT, output tokens) samples at one operating point."""
    lam = r / mean_out  # prompts per second per replica
    thr_e = cal.eta * float(np.broadcast_to(sv.eta, sv.thr.shape[:1])[k]) * sv.thr[k]
    p = [sv.prefill_time_s(k, x) for x in n_in]
    ep = float(sum(s * np.mean(pp) for s, pp in zip(shares, p)))
    ep2 = float(sum(s * np.mean(pp * pp) for s, pp in zip(shares, p)))
    e_in = float(sum(s * np.mean(x) for s, x in zip(shares, n_in)))
    e_in2 = float(sum(s * np.mean(x * x) for s, x in zip(shares, n_in)))
    # requests in the replica seen by an arrival: stationary birth-death chain (PASTA)
    nn, pi, _ = batch_distribution(thr_e, sv.batch, min(r, _RATIO_MAX * thr_e[-1]), sv.b_max)
    cdf = np.cumsum(pi)
    c = sv.b_max
    n0 = nn[np.minimum(np.searchsorted(cdf, U[6] * cdf[-1]), nn.size - 1)]
    idle = n0 < 0.5
    b = np.minimum(n0 + 1.0, c)  # the batch it joins
    tau = b / np.maximum(np.interp(b, sv.batch, thr_e), 1e-300)  # mean step at that batch
    t_d = np.interp(b, sv.batch, sv.decode_step_s[k])
    # prefill share of a step at that batch; kappa: prefill time that does not hide under decode
    rho_p = np.clip(1.0 - t_d / np.maximum(tau, 1e-300), 0.0, 0.99)
    kappa = float(np.mean(rho_p)) / (lam * ep) if lam * ep > 0 else 0.0
    # The iteration running when a request arrives: with probability f (the share of time spent
    # prefilling, lam E[p]) one that prefills a length-biased prompt together with the prompt
    # tokens gathered during the iteration before it; otherwise a decode step. The request's own
    # first token comes at the end of the next iteration, which prefills it with every prompt
    # gathered meanwhile (chunked prefill, FIFO) and whose decode memory time hides under the
    # prefill compute (roofline max).
    f = min(lam * ep, 0.99)
    busy = ~idle
    w_lb = np.concatenate([s_ * pp / max(np.sum(pp), 1e-300) for s_, pp in zip(shares, p)])
    n_lb_all = np.concatenate(n_in)
    o = np.argsort(n_lb_all, kind="stable")
    cw = np.cumsum(w_lb[o])
    n_lb = n_lb_all[o][np.minimum(np.searchsorted(cw, U[3] * cw[-1]), o.size - 1)]
    gather = lambda t, u: _compound_tokens(cal.wait_factor * lam * t, e_in, e_in2, u)  # noqa: E731
    t1 = sv.prefill_time_s(k, n_lb)
    t_pf = np.maximum(t_d, sv.prefill_time_s(k, n_lb + gather(t1, U[4])))
    in_pf = U[9] < f
    t_arr = np.where(busy, np.where(in_pf, t_pf, t_d), 0.0)
    # prompt tokens that arrived before it in the running iteration, and after it
    x_ahead = gather(U[2] * t_arr, U[8])
    x_behind = gather((1.0 - U[2]) * t_arr, U[10])
    # slot wait: the pool of n replicas behind one router (join-the-shortest-queue); the
    # geometric queue beyond the slots gives an exponential wait of mean 1/(n (mu_c - lam))
    n_pool = max(float(n_rep), 1.0)
    mu_c = thr_e[-1] / mean_out
    lam_s = min(lam, _RATIO_MAX * mu_c)  # the stationary part; beyond it the backlog recursion
    w_slot = cal.wait_factor * kf(cs2_hold) / (n_pool * (mu_c - lam_s))
    n_ch = min(n_pool, _POOL_STATES / c)  # beyond ~256 replicas pooling changes little; bound the chain
    _, pi_pool, _ = batch_distribution(n_ch * thr_e, n_ch * sv.batch, n_ch * lam_s * mean_out, n_ch * c)
    p_wait = float(pi_pool[-1])
    out = []
    for ci, cl in enumerate(classes):
        ni, no = n_in[ci], n_out[ci]
        u5 = U[7]
        ws = np.where(u5 < p_wait, -np.log(np.maximum(u5, 1e-300) / max(p_wait, 1e-300)) * w_slot, 0.0)
        # the residual of the running iteration, then the iteration that prefills this prompt with
        # the others gathered meanwhile; its decode memory time hides under the prefill compute
        # chunked prefill fills the budget in arrival order: the prompts ahead always, the ones
        # behind only while the budget has room (then they finish in the same iteration)
        room = np.maximum(sv.max_batched_tokens - b - ni - x_ahead, 0.0)
        tokens = ni + x_ahead + np.minimum(x_behind, room)
        ttft = (1.0 - U[2]) * t_arr + np.maximum(np.where(idle, 0.0, t_d), sv.prefill_time_s(k, tokens)) + ws
        steps = np.maximum(no - 1.0, 1.0)
        mz = steps * (tau - t_d)
        vz = lam * steps * tau * kappa * kappa * ep2
        with np.errstate(invalid="ignore", divide="ignore"):
            shape = np.where(vz > 0, mz * mz / np.maximum(vz, 1e-300), np.inf)
            z = np.where(np.isfinite(shape) & (mz > 0),
                         special.gammaincinv(np.minimum(shape, 1e12), U[5]) * vz / np.maximum(mz, 1e-300), mz)
        out.append((ttft, np.where(no > 1, t_d + z / steps, np.nan), no))
    return out


def _assemble(out_x, classes, shed_req, duration_s, served_tok, scv, cal) -> SloEstimate:
    per_class = {}
    all_x = {"ttft": [], "tpot": [], "e2e": [], "w": []}
    met_total = good_tok = req_total = 0.0
    for ci, cl in enumerate(classes):
        d = out_x[cl.name]
        if not d["w"]:
            per_class[cl.name] = {"latency_s": {m: _lat(np.empty(0), np.empty(0)) for m in ("ttft", "tpot", "e2e")},
                                  "slo_attainment": None, "goodput_tok_s": 0.0}
            continue
        x = {m: np.concatenate(d[m]) for m in ("ttft", "tpot", "e2e", "w", "met", "tok")}
        for m in all_x:
            all_x[m].append(x[m])
        served = float(x["w"].sum())
        met = float(np.sum(x["w"] * x["met"]))
        gtok = float(np.sum(x["w"] * x["met"] * x["tok"]))
        # the samples' token mean differs slightly from the class mean: scale to served tokens
        tok_s = float(np.sum(x["w"] * x["tok"]))
        gtok *= served * cl.mean_out / tok_s if tok_s > 0 else 0.0
        den = served + shed_req[ci]
        per_class[cl.name] = {
            "latency_s": {m: _lat(x[m], x["w"]) for m in ("ttft", "tpot", "e2e")},
            "slo_attainment": met / den if den > 0 else None,
            "goodput_tok_s": gtok / duration_s,
            "slo": {"ttft_s": cl.slo_ttft_s if math.isfinite(cl.slo_ttft_s) else None,
                    "tpot_s": cl.slo_tpot_s if math.isfinite(cl.slo_tpot_s) else None},
        }
        met_total += met
        good_tok += gtok
        req_total += den
    if all_x["w"]:
        w = np.concatenate(all_x["w"])
        lat = {m: _lat(np.concatenate(all_x[m]), w) for m in ("ttft", "tpot", "e2e")}
    else:
        lat = {m: _lat(np.empty(0), np.empty(0)) for m in ("ttft", "tpot", "e2e")}
    method = (f"fluid queueing estimate (dcsim.serving.slo_estimate; arrival SCV {scv:.3g}, "
              f"eta {cal.eta:g}, wait factor {cal.wait_factor:g} [{cal.source}]; docs/slo.md)")
    return SloEstimate(latency_s=lat, slo_attainment=met_total / req_total if req_total > 0 else None,
                       goodput_tok_s=good_tok / duration_s, per_class=per_class, method=method)


# --------------------------------------------------------------------------- adapter

def estimate_for_run(m, ts: dict, calibration: Calibration = CALIBRATION) -> SloEstimate | NotEstimated:
    """The estimate for a fluid run: ``m`` a built model (duck-typed ``dcsim.engine.build.Models``),
    ``ts`` its per-tick arrays (``achieved_tok_s``, ``queue_tokens``, ``shed_tokens``,
    ``gpus_in_service``, ``mean_clock``)."""
    sc = m.scenario
    wl = m.workload
    if getattr(sc.workload.arrivals, "kind", None) == "trace":
        return NotEstimated("trace workload: per-class length distributions are not known (only the trace's means)")
    scv = arrival_scv(sc.workload.arrivals)
    # sorted length draws per class, from the scenario seed's named stream "slo_estimate"
    # (dcsim.streams), so the estimate is reproducible from (file, seed)
    rng = np.random.default_rng(named_stream(sc.seed, "slo_estimate"))
    classes = []
    for c in wl.classes:
        classes.append(ClassMoments(c.name, c.share, c.input.mean(), c.input.var(), c.output.mean(),
                                    c.output.var(), c.slo_ttft_s, c.slo_tpot_s,
                                    float(c.max_tokens) if c.max_tokens else math.inf,
                                    np.sort(c.input.sample(_N_POINTS * 4, rng)),
                                    np.sort(c.output.sample(_N_POINTS * 4, rng))))
    dt = float(sc.controller.tick)
    served = np.asarray(ts["achieved_tok_s"], float)
    door = np.where(served > 0, np.asarray(ts["queue_tokens"], float) / np.maximum(served, 1e-300), 0.0)
    avail = np.asarray(ts["gpus_in_service"], float) / max(m.gpus, 1)
    lvl = np.rint(np.interp(np.asarray(ts["mean_clock"], float), m.clocks, np.arange(m.clocks.size))).astype(int)
    mode = np.asarray(ts.get("mode", np.zeros(served.size)))
    if np.any(mode == 1):
        # capped on the frontier: as request fidelity does, every replica runs at the clock of the
        # frontier ceiling (the controller's limit) and the load is spread evenly over them
        fr = m.curves.frontier("pq")
        limit = np.minimum(np.asarray(ts["power_tok_s"], float), np.asarray(ts["cooling_tok_s"], float))
        lvl_fr = np.rint(np.interp(limit / np.maximum(avail, 1e-12), fr.rate, fr.level)).astype(int)
        lvl = np.where(mode == 1, lvl_fr, lvl)
    cache = getattr(m, "_slo_service", None)
    if cache is None:
        cache = [service_from_node(g.node, g.table.batch, g.table.thr, m.clocks, classes, wl.mean_input,
                                   wl.mean_output) for g in m.groups]
        try:
            m._slo_service = cache
        except AttributeError:
            pass
    cap = np.array([g.limits.replicas * g.table.thr_max[-1] for g in m.groups])
    share = cap / cap.sum()
    groups = []
    for g, sv, s in zip(m.groups, cache, share):
        groups.append((TickFlows(served * s, avail * g.limits.replicas, lvl, door,
                                 np.asarray(ts["shed_tokens"], float) * s, dt), sv))
    return estimate_slo(groups, classes, scv, hold_limit_s=float(sc.controller.hold_limit),
                        calibration=calibration, duration_s=dt * served.size)


def report_block(est: SloEstimate | NotEstimated) -> dict:
    """The report keys of a fluid run: ``slo_attainment``, ``goodput_tok_s``, ``latency_s`` (the
    request-fidelity keys ``{ttft,tpot,e2e}.{p50,p90,p99,mean}``), ``serving.per_class``,
    ``slo_method`` (and ``slo_note``, its older name); ``None`` figures when not estimated."""
    if not est.estimated:
        note = f"not estimated: {est.reason}"
        return {"slo_attainment": None, "goodput_tok_s": None, "slo_method": note, "slo_note": note}
    return {"slo_attainment": est.slo_attainment, "goodput_tok_s": est.goodput_tok_s,
            "latency_s": est.latency_s, "serving": {"per_class": est.per_class},
            "slo_method": est.method, "slo_note": est.method}
