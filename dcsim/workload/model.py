"""Workload = arrival process x request classes x token lengths (or a trace).

``build_workload(spec, seed_seq, base_dir) -> Workload``. ``Workload.sample(t0, t1)`` returns
the requests arriving in ``[t0, t1)`` as numpy arrays; successive calls must cover
consecutive windows (a gap between calls is generated and discarded, so stateful processes
stay correct). Random streams: children of ``seed_seq`` derived per component (arrivals,
class choice, trace thinning, one per class for lengths) without mutating ``seed_seq``, so
the same seed gives identical arrays.

Trace workloads take each request's input and output tokens from the trace (unclipped: a
replay is exact, but for the context window of the model serving its class, ``build_workload(max_context=...)``,
applied after the class draw: a prompt that fills it is refused, a longer answer cut, :mod:`dcsim.workload.context`)
and draw its class by share; every class then reports the trace's mean lengths under its window. A synthetic class is
held to its window by the same rule (its draws refused or cut; its means the expectation over its lengths). ``rate(t)`` of a trace is the empirical rate in ``rate_bin`` bins (default 60 s).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dcsim.scenario.limits import BASE_MEMORY_BYTES, memory_limit_bytes
from dcsim.scenario.workload import (
    DiurnalArrivalSpec, EmpiricalLengthSpec, FixedLengthSpec, GammaArrivalSpec,
    LognormalLengthSpec, MmppArrivalSpec, PoissonArrivalSpec, ProfileCsvArrivalSpec,
    RequestClassSpec, TraceArrivalSpec, WorkloadSpec,
)
from dcsim.workload.arrivals import (
    ArrivalProcess, GammaRenewal, Mmpp2, PoissonProcess, ThinnedProcess, TraceReplay,
    diurnal_rate_fn, hourly_profile_rate_fn, table_rate_fn,
)
from dcsim.workload.context import BINDS_AT, MAX_EXACT_WINDOW, WindowMoments, context_cut, window_effect, window_moments
from dcsim.workload.lengths import EmpiricalLength, FixedLength, LengthDist, LogNormalLength
from dcsim.workload.presets import preset
from dcsim.textio import MAX_TABLE_BYTES, read_text
from dcsim.workload.trace import TraceData, TraceError, read_column, read_trace, resolve_path

__all__ = ["ArrivalBatch", "RequestClass", "Workload", "build_workload", "build_length", "resolve_class",
           "child_seed"]


@dataclass(frozen=True)
class ArrivalBatch:
    """Requests arriving in one window: ``t`` (s, sorted), ``cls`` (class index),
    ``n_in`` and ``n_out`` (tokens, int64 >= 1)."""

    t: np.ndarray
    cls: np.ndarray
    n_in: np.ndarray
    n_out: np.ndarray

    def __len__(self) -> int:
        return int(self.t.size)


@dataclass(frozen=True)
class RequestClass:
    """A resolved request class (SI units; lengths in tokens)."""

    name: str
    share: float
    slo_ttft_s: float
    slo_tpot_s: float
    input: LengthDist
    output: LengthDist
    max_tokens: int | None
    max_input: int | None
    preset: str | None = None
    mean_input_override: float | None = None
    mean_output_override: float | None = None
    #: the share of the requests drawn into this class that the context window of the pool serving it accepts (not
    #: refused: :func:`dcsim.workload.context.context_cut`); ``mean_input`` and ``mean_output`` are those requests'
    accepted_share: float = 1.0
    #: a synthetic class's lengths under the context window of the pool serving it, where the window refuses or cuts
    #: some of its draws (:func:`dcsim.workload.context.window_moments`); None where it binds on none (or for a trace)
    window: WindowMoments | None = None

    @property
    def mean_input(self) -> float:
        """Mean input tokens per request (of the requests its context window accepts)."""
        return self.mean_input_override if self.mean_input_override is not None else self.input.mean()

    @property
    def mean_output(self) -> float:
        """Mean output tokens per request (cap included; of the requests its context window accepts, answers cut)."""
        return self.mean_output_override if self.mean_output_override is not None else self.output.mean()

    # the moments of the requests served (its context window accepts, answers cut: :attr:`window`), else of its
    # length distributions (a mean override scales the lengths, keeping their coefficient of variation)
    def _served_var(self, dist, mean: float, win_sq: str, win_mean: str) -> float:
        """Variance of one length of the requests served, tokens^2: the window's moments, else the distribution's,
        scaled to ``mean`` (a mean override keeps the coefficient of variation)."""
        if self.window is not None:
            return max(getattr(self.window, win_sq) - getattr(self.window, win_mean) ** 2, 0.0)
        return dist.var() * (mean / max(dist.mean(), 1e-300)) ** 2

    @property
    def in_var(self) -> float:
        """Variance of the prompt length of the requests served, tokens^2."""
        return self._served_var(self.input, self.mean_input, "in_sq", "mean_in")

    @property
    def in_sq(self) -> float:
        """E[n_in^2] of the requests served, tokens^2."""
        return self.window.in_sq if self.window is not None else self.in_var + self.mean_input ** 2

    @property
    def out_var(self) -> float:
        """Variance of the answer length of the requests served, tokens^2."""
        return self._served_var(self.output, self.mean_output, "out_sq", "mean_out")

    @property
    def out_sq(self) -> float:
        """E[n_out^2] of the requests served, tokens^2."""
        return self.window.out_sq if self.window is not None else self.out_var + self.mean_output ** 2

    @property
    def in_out(self) -> float:
        """E[n_in n_out] of the requests served, tokens^2 (independent draws: the product of the means; under a
        window the answer is cut at the window less the prompt, so not independent of it)."""
        return self.window.in_out if self.window is not None else self.mean_input * self.mean_output

    def served_draws(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(n_in, n_out) of the requests served among ``n`` drawn (input then output, as :meth:`Workload.sample`
        draws them): those its window refuses left out, the answers cut (:func:`context_cut`)."""
        n_in, n_out = self.input.sample(n, rng), self.output.sample(n, rng)
        if self.window is None:
            return n_in, n_out
        kept, cut = context_cut(n_in, n_out, self.window.max_context)
        return n_in[kept], cut[kept]


def child_seed(ss: np.random.SeedSequence, i: int) -> np.random.SeedSequence:
    """The ``i``-th child of ``ss`` as ``ss.spawn`` would make it, without mutating ``ss``."""
    return np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, i), pool_size=ss.pool_size)


def build_length(spec, cap: int | None, cap_mass: float, base_dir: Path | None) -> LengthDist:
    """A length distribution from a length spec (or spec dict), an optional cap and cap mass."""
    if isinstance(spec, dict):
        spec = {"lognormal": LognormalLengthSpec, "empirical": EmpiricalLengthSpec,
                "fixed": FixedLengthSpec}[spec["kind"]](**spec)
    c = math.inf if cap is None else float(cap)
    if isinstance(spec, LognormalLengthSpec):
        return LogNormalLength(median=spec.median, p99=spec.p99, cap=c, cap_mass=cap_mass)
    if isinstance(spec, FixedLengthSpec):
        return FixedLength(value=spec.value, cap=c, cap_mass=cap_mass)
    if isinstance(spec, EmpiricalLengthSpec):
        if spec.file is not None:
            vals = read_column(spec.file, spec.column, base_dir)
            return EmpiricalLength(values=tuple(vals), weights=None, cap=c, cap_mass=cap_mass)
        w = tuple(spec.weights) if spec.weights is not None else None
        return EmpiricalLength(values=tuple(spec.values), weights=w, cap=c, cap_mass=cap_mass)
    raise TypeError(f"unknown length spec {type(spec).__name__}")


def resolve_class(spec: RequestClassSpec, base_dir: Path | None) -> RequestClass:
    """Merge a class spec over its preset (explicit fields win) and build its distributions."""
    base = preset(spec.preset) if spec.preset is not None else {}
    given = spec.model_fields_set

    def pick(field: str):
        v = getattr(spec, field)
        if field in given or v is not None:
            return v
        return base.get(field)

    cap = pick("max_tokens")
    max_in = pick("max_input")
    cap_mass = pick("cap_mass") or 0.0
    if cap_mass > 0 and cap is None:
        raise ValueError(f"class {spec.name!r}: cap_mass > 0 needs max_tokens")
    inp = build_length(pick("input"), max_in, 0.0, base_dir)
    out = build_length(pick("output"), cap, cap_mass, base_dir)
    return RequestClass(name=spec.name, share=spec.share, slo_ttft_s=float(pick("slo_ttft")),
                        slo_tpot_s=float(pick("slo_tpot")), input=inp, output=out,
                        max_tokens=cap, max_input=max_in, preset=spec.preset)


#: Header names of a profile_csv's two columns and their factors to s and 1/s. The header used to be skipped
#: unread, so an `hour,rate` file was read as seconds and the whole run sat at its last row's rate (audit C, A4):
#: the header now sets the unit, and a name outside these is refused.
_PROFILE_TIME_COLS = {"time": 1.0, "t": 1.0, "t_s": 1.0, "time_s": 1.0, "seconds": 1.0, "second": 1.0, "s": 1.0,
                      "minute": 60.0, "minutes": 60.0, "min": 60.0, "time_min": 60.0,
                      "hour": 3600.0, "hours": 3600.0, "h": 3600.0, "time_h": 3600.0}
_PROFILE_RATE_COLS = {"rate": 1.0, "rate_s": 1.0, "rate_per_s": 1.0, "req_per_s": 1.0,
                      "rate_per_min": 1 / 60.0, "req_per_min": 1 / 60.0, "rate_per_h": 1 / 3600.0, "req_per_h": 1 / 3600.0}


def _read_profile_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``time,rate`` table with a header row naming the units (:data:`_PROFILE_TIME_COLS`: ``time`` is seconds,
    ``hour`` hours, ...; :data:`_PROFILE_RATE_COLS`: ``rate`` is req/s); returned in s and 1/s. Errors name
    file:line."""
    ts, rs = [], []
    lines = read_text(path, TraceError, limit=MAX_TABLE_BYTES).splitlines()
    if not lines:
        raise TraceError(f"{path}: empty rate profile")
    head = [c.strip().lower() for c in lines[0].split(",")]
    if len(head) < 2 or head[0] not in _PROFILE_TIME_COLS or head[1] not in _PROFILE_RATE_COLS:
        raise TraceError(f"{path}:1: header {lines[0][:80]!r}: expected a time column ({', '.join(_PROFILE_TIME_COLS)}) "
                         f"then a rate column ({', '.join(_PROFILE_RATE_COLS)}), e.g. 'time,rate' (s, req/s) or "
                         "'hour,rate'")
    t_unit, r_unit = _PROFILE_TIME_COLS[head[0]], _PROFILE_RATE_COLS[head[1]]
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split(",")
        try:
            if len(parts) < 2:
                raise ValueError("expected 'time,rate'")
            t, r = float(parts[0]), float(parts[1])
            if not (math.isfinite(t) and math.isfinite(r)) or r < 0:
                raise ValueError("time and rate must be finite and rate >= 0")
        except ValueError as exc:
            raise TraceError(f"{path}:{n}: bad row {line[:80]!r}: {exc}") from None
        if ts and t <= ts[-1]:
            raise TraceError(f"{path}:{n}: times must increase ({t:g} after {ts[-1]:g})")
        ts.append(t)
        rs.append(r)
    if not ts:
        raise TraceError(f"{path}: rate profile has no rows")
    return np.asarray(ts) * t_unit, np.asarray(rs) * r_unit


#: Peak memory per request while :func:`_prepare_trace` replicates a trace (``rate_scale`` > 1), B: measured with
#: tracemalloc on 1e6 and 1e7 copies of a 10,000-row trace, 65 B (24 B kept afterwards), 2026-12-05.
TRACE_BYTES_PER_REQUEST = 65
#: Memory per replayed request a trace replay keeps for the whole run (arrival time and input / output tokens, 8 B
#: each), B: the 24 B of the same tracemalloc measurement; :func:`dcsim.engine.preflight.preflight` adds it to the
#: run's peak memory estimate.
TRACE_KEPT_BYTES_PER_REQUEST = 24
#: Memory per replayed request and per distinct context window a trace replay holds while the windows are applied,
#: B: the kept flag (bool, 1 B) and the cut answer (int64, 8 B) :func:`dcsim.workload.context.context_cut` returns for
#: every row (by the dtypes, not measured); where the pools' windows differ the workload keeps them for the run, with
#: the expected answer per row over the class draw (float64, :data:`WINDOWS_ROW_BYTES`).
WINDOW_BYTES_PER_REQUEST = 9
#: Memory per replayed request of the expected answer over the class draw a workload keeps where the pools' windows
#: differ (float64), B.
WINDOWS_ROW_BYTES = 8


def trace_bytes_per_request(windows: int = 0) -> int:
    """Memory a trace replay may take per replayed request, B: :data:`TRACE_BYTES_PER_REQUEST` while the copies are
    made, plus :data:`WINDOW_BYTES_PER_REQUEST` for each of the ``windows`` distinct context windows the classes are
    held to and :data:`WINDOWS_ROW_BYTES` where there are several (counted on top of the copies: an upper bound)."""
    return TRACE_BYTES_PER_REQUEST + windows * WINDOW_BYTES_PER_REQUEST + (WINDOWS_ROW_BYTES if windows > 1 else 0)


def max_trace_requests(windows: int = 0) -> int:
    """Most requests a trace replay may hold after ``rate_scale`` (x ``scale``) replicates it: what the run's memory
    limit (:func:`dcsim.scenario.limits.memory_limit_bytes`: ``DCSIM_MEMORY_LIMIT``, else 4 GiB) leaves after dcsim's
    own :data:`~dcsim.scenario.limits.BASE_MEMORY_BYTES`, over the :data:`TRACE_BYTES_PER_REQUEST` the copies take
    while they are made (62,230,266 at 4 GiB) and what each of ``windows`` distinct context windows adds
    (:func:`trace_bytes_per_request`: 54,661,720 at 4 GiB with one window, 44,450,190 with two). An unreadable or too small ``DCSIM_MEMORY_LIMIT`` is a
    :class:`~dcsim.scenario.ScenarioError` naming the variable (``dcsim validate``/``run``'s preflight refuses it in
    its resource check, before :func:`~dcsim.engine.build.build_models` reads any trace; a caller that builds the
    models without preflight gets it here, from the trace replay)."""
    # memory_limit_bytes() is at least MIN_MEMORY_LIMIT, above BASE_MEMORY_BYTES: the difference is positive
    return int((memory_limit_bytes() - BASE_MEMORY_BYTES) // trace_bytes_per_request(windows))


def _prepare_trace(tr: TraceData, a: TraceArrivalSpec, rng: np.random.Generator, windows: int = 0):
    """Apply start_offset, loop, time_scale and rate_scale*scale; returns (t, n_in, n_out, period). ``windows``: the
    distinct context windows the replay will be held to (their row arrays count in the memory cap)."""
    tau = tr.t
    gap = tau[-1] / max(len(tau) - 1, 1)
    period = None
    if a.loop:
        if tau[-1] <= 0:  # one request, or all at one instant: no period to repeat (was 'start_offset beyond the end')
            raise TraceError(f"{tr.path}: loop needs a trace whose requests span some time; this one has "
                             f"{len(tau)} request{'s' if len(tau) != 1 else ''} at a single time")
        P = tau[-1] + gap  # last-to-first gap = mean gap
        rel = np.mod(tau - a.start_offset, P)
        period = P * a.time_scale
    else:
        rel = tau - a.start_offset
    keep = rel >= 0
    order = np.argsort(rel[keep], kind="stable")
    t = rel[keep][order] * a.time_scale
    n_in, n_out = tr.n_in[keep][order], tr.n_out[keep][order]
    if t.size == 0:
        raise TraceError(f"{tr.path}: start_offset {a.start_offset:g} s is beyond the trace end")
    s = a.rate_scale * a.scale
    n = t.size  # the requests replayed, before rate_scale x scale replicates or thins them
    scale = f" x scale {a.scale:g}" if a.scale != 1 else ""
    most, per = max_trace_requests(windows), trace_bytes_per_request(windows)
    if s * n > most:  # refused before the copies are made: 1e6 x 7,200 rows died in MemoryError
        held = "" if not windows else (f", {per - TRACE_BYTES_PER_REQUEST} B for the {windows} context window"
                                       f"{'s' if windows > 1 else ''} they are held to")
        raise TraceError(f"{tr.path}: rate_scale {a.rate_scale:g}{scale} replicates the {n:,} requests replayed "
                         f"into ~{s * n:.3g}, more than the {most:,} a replay may hold (~"
                         f"{per} B each: {TRACE_BYTES_PER_REQUEST} B while the copies are made{held}: "
                         f"{s * n * per / 1e9:,.3g} GB, over the memory limit less dcsim's "
                         f"own {BASE_MEMORY_BYTES / 1e6:.0f} MB); use a "
                         "smaller rate_scale, or arrivals of kind poisson or diurnal at the rate you mean (or raise "
                         "DCSIM_MEMORY_LIMIT)")
    if s != 1.0:
        reps = np.floor(s).astype(np.int64) + (rng.random(n) < (s - math.floor(s)))
        idx = np.repeat(np.arange(n), reps)
        first = np.concatenate(([True], idx[1:] != idx[:-1])) if idx.size else idx.astype(bool)
        nxt = np.append(t[1:], (t[-1] + gap * a.time_scale) if period is None else period + t[0])
        # copies beyond the first land uniformly between the request and the next one
        jitter = np.where(first, 0.0, rng.random(idx.size) * (nxt[idx] - t[idx]))
        tt = t[idx] + jitter
        if period is not None:
            tt = np.mod(tt, period)
        order = np.argsort(tt, kind="stable")
        t, n_in, n_out = tt[order], n_in[idx][order], n_out[idx][order]
        if t.size == 0:  # a legal rate_scale that thins every request away: an IndexError in the replay until 2026-12-05
            # each request is kept with probability rate_scale x scale (s < 1 here): none of n kept with probability
            # (1 - s)^n ~ exp(-s n), ~37 % of seeds at s n = 1, ~5 % at s n = 3
            raise TraceError(f"{tr.path}: rate_scale {a.rate_scale:g}{scale} thins the {n:,} requests replayed to "
                             f"none; rate_scale ~{1 / (n * a.scale):.3g} (1/(N x scale)) gives one request on average, and "
                             "none on ~37 % of seeds: use a few times that (3x: none on ~5 %), or arrivals of kind "
                             "poisson or diurnal at the rate you mean")
    return t, n_in, n_out, period


class Workload:
    """Request generator: see module docstring. Attributes ``classes``, ``mean_input``,
    ``mean_output`` (tokens/request), ``mean_rate`` (req/s); ``rate(t)``; ``sample(t0, t1)``."""

    def __init__(self, arrivals: ArrivalProcess, classes: list[RequestClass],
                 rng_cls: np.random.Generator, rng_len: list[np.random.Generator],
                 trace: tuple[np.ndarray, np.ndarray] | None = None, class_window: np.ndarray | None = None,
                 window_cuts: dict[int, tuple[np.ndarray, np.ndarray]] | None = None):
        self.arrivals = arrivals
        self.classes = classes
        self._rng_cls = rng_cls
        self._rng_len = rng_len
        self._trace = trace
        self._cum = np.cumsum([c.share for c in classes])
        self._cum[-1] = 1.0
        self._t_end: float | None = None
        self.trace_skipped = 0  # bad trace rows dropped with on_bad_row="skip"
        #: a trace whose rows are not in time order: (file, rows out of order, rows, line of the first); replayed in
        #: time order, and preflight says so
        self.trace_unsorted: tuple[str, int, int, int | None] | None = None
        #: a trace replayed once (no loop): (file, first and last arrival [s of the run], requests); preflight
        #: compares it with the run's duration
        self.trace_span: tuple[str, float, float, int] | None = None
        self.mean_rate = float(arrivals.mean_rate)
        #: :meth:`served_means` per selection of classes (None: all), computed on first use
        self._served_means: dict[tuple[int, ...] | None, tuple[float, float, float]] = {}
        #: a trace's window per class (tokens, int64; :data:`NO_WINDOW` for none), None when no window refuses or cuts
        #: any of its requests: applied after the class draw (:meth:`sample`), expected over it in the fluid figures
        self._win: np.ndarray | None = None
        self._by_window: list[tuple[float, list[int], np.ndarray, np.ndarray]] = []
        #: what the window did to the requests :meth:`sample` drew (refused, their prompt and output tokens, output
        #: tokens cut), counted from t = 0
        self._refused_drawn = np.zeros(4)
        #: one window for every class: the replay holds the kept rows only; the refused rows (a replay of their times,
        #: with their prompts and answers) and the tokens cut from each kept row, to count them in the run's window
        #: (:meth:`context_refused`)
        self._refused_rows: tuple[TraceReplay, np.ndarray, np.ndarray] | None = None
        self._cut_tokens: np.ndarray | None = None
        #: a synthetic workload's window per class (tokens, int64; NO_WINDOW where it binds on none of the class's
        #: draws), None where none binds: applied to the lengths drawn (:meth:`sample`), expected in the fluid figures
        #: (each class's :attr:`RequestClass.window`)
        self._syn_win: np.ndarray | None = None
        if class_window is not None:
            if trace is not None:
                self._set_window(np.asarray(class_window, dtype=np.int64), window_cuts or {})
            else:
                self._syn_win = np.asarray(class_window, dtype=np.int64)
        #: the run's warnings about the context window (a trace's requests refused or cut; a synthetic class that can
        #: overrun it)
        self.context_warnings: list[str] = []

    def _set_window(self, cw: np.ndarray, cuts: dict[int, tuple[np.ndarray, np.ndarray]]) -> None:
        """Hold a trace's requests to the window of the class each is drawn into (``cw[k]`` for class k): per distinct
        window, the share of requests drawn into its classes, the classes, and the rows kept with their answers cut
        (``cuts[w]``: what :func:`context_cut` made of the rows under window ``w``, a refused row's answer 0, computed
        once by :func:`build_workload`, which seeds :data:`NO_WINDOW` with the rows whole)."""
        n_in, n_out = self._trace
        if not (n_in.size and int(np.max(n_in + n_out)) > int(cw.min())):
            return  # no request reaches any window: nothing to apply (the replay as without one)
        p = np.diff(np.concatenate(([0.0], self._cum)))  # the class draw's probabilities
        self._win = cw
        for w in np.unique(cw):
            ks = [k for k in range(len(cw)) if cw[k] == w]
            self._by_window.append((float(p[ks].sum()), ks, *cuts[int(w)]))
        self._row_out = self._row_expect(lambda kept, out: out)  # the fluid figures' answers (output_tokens)

    def _row_expect(self, f) -> np.ndarray:
        """Per trace row, the expectation over the class draw of ``f(kept, out)`` (exact with one window)."""
        if len(self._by_window) == 1:
            return np.asarray(f(*self._by_window[0][2:]), dtype=float)
        return sum(pw * np.asarray(f(kept, out), dtype=float) for pw, _, kept, out in self._by_window)

    def context_refused(self, t_end_s: float, tick_s: float | None = None) -> dict[str, float]:
        """Requests refused by the context window and their prompt and output tokens, and the output tokens cut from
        the answers kept, of the trace's requests arriving in ``[0, t_end_s)`` (after ``start_offset``, ``loop``,
        ``rate_scale``): counted from the requests drawn where :meth:`sample` drew up to ``t_end_s`` (request
        fidelity), else exact with one window and expected over the class draw with several; a synthetic class's, the
        arrivals expected in the run (at ``tick_s``: by the run's own ticks, the midpoint rate as :meth:`demand_tok_s`
        takes it, so the fluid run's arrived + refused + cut tokens conserve the tokens asked at any tick; without it
        by 1-min midpoints) times its window's expectation
        (:attr:`RequestClass.window`). Zero when no window refuses or cuts any request."""
        keys = ("requests", "in_tokens", "out_tokens", "cut_out_tokens")
        if self._refused_rows is not None:  # one window: applied before the replay, counted exactly
            refused, n_in, n_out = self._refused_rows

            def rows(replay: TraceReplay, x: np.ndarray | None) -> float:
                return float(replay.cumulative(t_end_s, x) - replay.cumulative(0.0, x))
            return {"requests": rows(refused, None), "in_tokens": rows(refused, n_in),
                    "out_tokens": rows(refused, n_out), "cut_out_tokens": rows(self.arrivals, self._cut_tokens)}
        if self._win is None and self._syn_win is None:
            return dict.fromkeys(keys, 0.0)
        if self._t_end is not None and abs(self._t_end - t_end_s) <= 1e-9 * max(1.0, abs(t_end_s)):
            return {k: float(v) for k, v in zip(keys, self._refused_drawn)}
        if self._syn_win is not None:  # synthetic: the arrivals expected in the run x each class's expectation
            # expected arrivals in [0, t_end): the midpoint rate of each of the run's ticks (demand_tok_s's), else of
            # 1-min windows (a diurnal cosine differs by ~1e-6 relative)
            if tick_s is not None:
                k = max(1, round(t_end_s / tick_s))
                n = float(np.sum(self.rate(np.arange(k) * tick_s + 0.5 * tick_s))) * tick_s
            else:
                k = max(1, math.ceil(t_end_s / 60.0))
                n = float(np.sum(self.arrivals.expected_count(np.arange(k) * (t_end_s / k), t_end_s / k)))
            per = np.zeros(4)
            for c in self.classes:
                if c.window is not None:
                    m = c.window
                    per += c.share * np.array([m.p_refused, m.refused_in, m.refused_out, m.cut_out])
            return {k: n * float(v) for k, v in zip(keys, per)}
        n_in, n_out = self._trace
        r = self._row_expect(lambda kept, out: ~kept)
        cut = self._row_expect(lambda kept, out: np.where(kept, n_out - out, 0))

        def c(x: np.ndarray) -> float:
            return float(self.arrivals.cumulative(t_end_s, x) - self.arrivals.cumulative(0.0, x))
        return {"requests": c(r), "in_tokens": c(r * n_in), "out_tokens": c(r * n_out), "cut_out_tokens": c(cut)}

    @property
    def trace_requests(self) -> int:
        """Requests of the trace replayed (after ``rate_scale`` copies), 0 without a trace."""
        return 0 if self._trace is None else int(len(self._trace[0]))

    @property
    def trace_memory_bytes(self) -> int:
        """Memory a trace replay keeps for the whole run, B: :data:`TRACE_KEPT_BYTES_PER_REQUEST` per replayed request,
        and the context window's arrays by their sizes (per distinct window where the pools' windows differ, each
        row's kept flag and cut answer, the trace's own answers where no window holds a class, and the expected
        answer; with one window, the refused rows and the tokens cut from the kept ones). 0 without a trace."""
        if self._trace is None:
            return 0
        # a class no window holds (NO_WINDOW) keeps the trace's own answers, counted in the per-request bytes already
        extra = sum(kept.nbytes + (0 if out is self._trace[1] else out.nbytes) for _, _, kept, out in self._by_window)
        if self._win is not None:
            extra += self._row_out.nbytes
        if self._refused_rows is not None:
            extra += sum(x.nbytes for x in (self._refused_rows[0].t, *self._refused_rows[1:], self._cut_tokens))
        return self.trace_requests * TRACE_KEPT_BYTES_PER_REQUEST + int(extra)

    def _cl(self, class_indices) -> list[RequestClass]:
        return self.classes if class_indices is None else [self.classes[i] for i in class_indices]

    def served_means(self, class_indices=None) -> tuple[float, float, float]:
        """(mean input, mean output, output per arrival) of the classes ``class_indices`` (default all) at their
        shares, each weighed by the share of its draws its window accepts: the means per request served (answers
        cut) and the output tokens served per arrival of the arrival process (a refused request arrives in
        ``rate`` but brings no work). :func:`build_workload` refuses a class none of whose requests is accepted."""
        key = None if class_indices is None else tuple(int(k) for k in class_indices)
        got = self._served_means.get(key)
        if got is None:  # the classes are frozen: summed once per selection (the fluid figures ask every tick)
            cl = self._cl(key)
            acc = float(sum(c.share * c.accepted_share for c in cl))
            m_in = float(sum(c.share * c.accepted_share * c.mean_input for c in cl)) / acc
            per = float(sum(c.share * c.accepted_share * c.mean_output for c in cl))
            got = self._served_means[key] = (m_in, per / acc, per)
        return got

    @property
    def accepted_share(self) -> float:
        """The share of the arrivals the context windows accept (not refused; 1 where no window refuses any): over
        the classes at their shares, each its :attr:`RequestClass.accepted_share`."""
        return float(sum(c.share * c.accepted_share for c in self.classes))

    @property
    def mean_input(self) -> float:
        """Mixture mean input tokens per request served (the requests the context windows accept)."""
        return self.served_means()[0]

    @property
    def mean_output(self) -> float:
        """Mixture mean output tokens per request served (the requests the context windows accept, answers cut)."""
        return self.served_means()[1]

    @property
    def output_per_arrival(self) -> float:
        """Expected output tokens served per arrival of the arrival process (``rate(t)`` counts arrivals): the mean
        answer of the requests served times the share accepted (:meth:`served_means`)."""
        return self.served_means()[2]

    def decode_context(self, class_indices=None) -> float:
        """Mean context (tokens) of a running sequence, weighted by residence: ``E[n_out (n_in +
        n_out/2)] / E[n_out]`` over the classes ``class_indices`` (default all) at their shares.

        Under continuous batching a sequence stays in the batch for its ``n_out`` decode steps, so
        the running batch over-represents long outputs (length bias); the mean over requests,
        ``mean_in + mean_out/2``, under-states the KV cache a batch holds (chat preset: 1,381
        vs 1,260 tokens; a reasoning preset 5,872 vs 3,852). Lengths are drawn independently per
        class (as :meth:`sample` draws them); a trace replay uses its own (n_in, n_out) pairs.
        """
        if self._win is not None:  # each class's requests under its window
            n_in = np.asarray(self._trace[0], dtype=float)
            num = den = 0.0
            for pw, ks, kept, out in self._by_window:
                q = self._class_part(pw, ks, class_indices)
                o = out[kept].astype(float)
                num += q * float(np.sum(o * (n_in[kept] + 0.5 * o)))
                den += q * float(np.sum(o))
            return float(num / max(den, 1e-300))
        if self._trace is not None:
            n_in, n_out = (np.asarray(x, dtype=float) for x in self._trace)
            return float(np.sum(n_out * (n_in + 0.5 * n_out)) / max(float(np.sum(n_out)), 1.0))
        cl = self._cl(class_indices)
        # each class's served requests' moments (under a window that binds the answer is cut at the window less the
        # prompt, so no longer independent of it), weighed by the share of its draws the window accepts
        num = sum(c.share * c.accepted_share * (c.in_out + 0.5 * c.out_sq) for c in cl)
        den = sum(c.share * c.accepted_share * c.mean_output for c in cl)
        return float(num / den)

    def prompt_scv(self, class_indices=None) -> float:
        """Squared coefficient of variation of the prompt length of a request, ``E[n_in^2] / E[n_in]^2 - 1``,
        over the classes ``class_indices`` (default all) at their shares: the spread of the prefill a
        replica's iterations carry (:func:`dcsim.node.perf.steady_mix`; chat preset 0.28, code 0.73). Each
        class keeps its distribution's coefficient of variation at its mean (a mean override scales the
        lengths); a trace replay uses its own prompts."""
        if self._win is not None:  # the prompts each class's window keeps
            n_in = np.asarray(self._trace[0], dtype=float)
            s0 = s1 = s2 = 0.0
            for pw, ks, kept, _ in self._by_window:
                q = self._class_part(pw, ks, class_indices)
                x = n_in[kept]
                s0, s1, s2 = s0 + q * x.size, s1 + q * float(np.sum(x)), s2 + q * float(np.sum(x * x))
            return float(max(s2 * s0 / (s1 * s1) - 1.0, 0.0)) if s1 > 0 else 0.0
        if self._trace is not None:
            n_in = np.asarray(self._trace[0], dtype=float)
            m = float(np.mean(n_in))
            return float(np.mean(n_in * n_in) / (m * m) - 1.0) if m > 0 else 0.0
        cl = self._cl(class_indices)
        wt = [c.share * c.accepted_share for c in cl]  # served requests' weights
        sh = sum(wt)
        m1 = sum(x * c.mean_input for x, c in zip(wt, cl)) / sh
        m2 = sum(x * c.in_sq for x, c in zip(wt, cl)) / sh
        return float(max(m2 / (m1 * m1) - 1.0, 0.0)) if m1 > 0 else 0.0

    def _class_part(self, pw: float, ks: list[int], class_indices) -> float:
        """The draw's probability of the classes ``ks`` (those held to one window) that are among ``class_indices``."""
        if class_indices is None:
            return pw
        p = np.diff(np.concatenate(([0.0], self._cum)))
        return float(sum(p[k] for k in ks if k in set(class_indices)))

    def rate(self, t_s) -> np.ndarray:
        """Expected arrivals per second at ``t_s`` (s)."""
        return self.arrivals.rate(np.asarray(t_s, dtype=float))

    def output_tokens(self, t0_s, dt_s) -> np.ndarray:
        """Output tokens arriving in each window ``[t0, t0 + dt)`` (vectorized over ``t0_s``).

        A trace replay counts the trace's own tokens in each window, so the windows of a run
        add up to the trace's tokens exactly at any tick length (issue 17.4); an analytic
        process gives the expected count (see ``ArrivalProcess.expected_count``) times the
        mean output length.
        """
        if self._trace is not None:
            t0 = np.asarray(t0_s, dtype=float)
            # under a context window: the answers each class's window serves (none for a refused prompt)
            n_out = self._trace[1] if self._win is None else self._row_out
            return self.arrivals.cumulative(t0 + dt_s, n_out) - self.arrivals.cumulative(t0, n_out)
        return self.arrivals.expected_count(t0_s, dt_s) * self.output_per_arrival

    def demand_tok_s(self, t0_s, dt_s: float) -> np.ndarray:
        """Mean output-token arrival rate (tokens/s) over each window ``[t0, t0 + dt)``: the
        fluid engine's demand. Exact window counts for traces; for analytic processes
        ``rate(t0 + dt/2) · mean_output`` (the same floats as the midpoint rate)."""
        if self._trace is not None:
            return self.output_tokens(t0_s, dt_s) / dt_s
        t0 = np.asarray(t0_s, dtype=float)
        return np.asarray(self.rate(t0 + 0.5 * dt_s), dtype=float) * self.output_per_arrival

    def sample(self, t0: float, t1: float) -> ArrivalBatch:
        """Requests arriving in ``[t0, t1)`` (s); windows must not go back in time."""
        if not t1 >= t0:
            raise ValueError(f"sample window must have t1 >= t0, got [{t0}, {t1})")
        if self._t_end is not None:
            if t0 < self._t_end - 1e-9:
                raise ValueError(f"sample windows must be consecutive: t0={t0} < previous t1={self._t_end}")
            if t0 > self._t_end:
                self._draw(self._t_end, t0)  # keep process state right; discard the gap
        batch = self._draw(t0, t1)
        self._t_end = t1
        return batch

    def _draw(self, t0: float, t1: float) -> ArrivalBatch:
        t = self.arrivals.sample(t0, t1)
        n = t.size
        if len(self.classes) == 1:
            cls = np.zeros(n, dtype=np.int64)
        else:
            cls = np.searchsorted(self._cum, self._rng_cls.random(n), side="right").astype(np.int64)
            np.minimum(cls, len(self.classes) - 1, out=cls)
        if self._trace is not None:
            idx = self.arrivals.last_index
            n_in, n_out = self._trace[0][idx], self._trace[1][idx]
        else:
            n_in = np.empty(n, dtype=np.int64)
            n_out = np.empty(n, dtype=np.int64)
            for k, c in enumerate(self.classes):
                m = cls == k if len(self.classes) > 1 else slice(None)
                cnt = n if len(self.classes) == 1 else int(np.count_nonzero(m))
                rng = self._rng_len[k]
                n_in[m] = c.input.sample(cnt, rng)
                n_out[m] = c.output.sample(cnt, rng)
        win = self._win if self._trace is not None else self._syn_win
        if win is not None:  # the window of the class each request was drawn into (dcsim.workload.context)
            kept, cut = context_cut(n_in, n_out, win[cls])
            self._refused_drawn += (np.count_nonzero(~kept), n_in[~kept].sum(), n_out[~kept].sum(),
                                    (n_out - cut)[kept].sum())
            n_out = cut
            if not kept.all():  # refused: never arrives
                t, cls, n_in, n_out = t[kept], cls[kept], n_in[kept], n_out[kept]
        return ArrivalBatch(t=t, cls=cls, n_in=n_in, n_out=n_out)


def _build_arrivals(a, rng: np.random.Generator, base_dir: Path | None, start_hour: float = 0.0):
    if isinstance(a, PoissonArrivalSpec):
        return PoissonProcess(a.rate * a.scale, rng)
    if isinstance(a, GammaArrivalSpec):
        return GammaRenewal(a.rate * a.scale, a.cv, rng)
    if isinstance(a, MmppArrivalSpec):
        return Mmpp2([r * a.scale for r in a.rates], a.mean_sojourn, rng)
    if isinstance(a, DiurnalArrivalSpec):
        mean = a.mean_rate * a.scale
        if a.profile is not None:
            fn = hourly_profile_rate_fn(mean, a.profile, a.period, start_hour)
            m = np.asarray(a.profile, float)
            rmax = mean * m.max() / m.mean()
        else:
            fn = diurnal_rate_fn(mean, a.amplitude, a.peak_hour, a.period, start_hour)
            rmax = mean * (1.0 + a.amplitude)
        return ThinnedProcess(fn, rmax, mean, rng)
    if isinstance(a, ProfileCsvArrivalSpec):
        p = resolve_path(a.path, base_dir)
        ts, rs = _read_profile_csv(p)
        rs = rs * a.scale
        fn = table_rate_fn(ts, rs, a.interpolation, a.period)
        if ts.size > 1 or a.period is not None:
            end = ts[0] + a.period if a.period is not None else ts[-1]
            grid = np.linspace(ts[0], end, 100_001)
            mean = float(np.trapezoid(fn(grid), grid) / (end - ts[0]))
        else:
            mean = float(rs[0])
        return ThinnedProcess(fn, float(rs.max()), mean, rng)
    raise TypeError(f"unknown arrival spec {type(a).__name__}")


#: the window of a class no model's window holds (tokens)
NO_WINDOW = np.iinfo(np.int64).max


def build_workload(spec: WorkloadSpec, seed_seq: np.random.SeedSequence,
                   base_dir: Path | None = None, start_hour: float = 0.0,
                   max_context: int | Sequence[int | None] | None = None,
                   context_of: str | Sequence[str] = "the model", warn: bool = True,
                   classes: Sequence[RequestClass] | None = None) -> Workload:
    """Build the request generator for ``spec`` (files resolved against ``base_dir``);
    ``start_hour`` is the local hour at t = 0 (the scenario's ``start:``), for diurnal arrivals.

    ``max_context`` (tokens; one window for every class, or one per class, None where no window holds it;
    ``context_of`` names whose window it is, likewise): a trace's requests are held to the window of the class each is
    drawn into, refused or cut as vLLM does (:meth:`Workload.sample`), in every fidelity, and
    ``Workload.context_warnings`` says how many (``warn``); a synthetic class whose lengths can overrun its window is
    held to it by the same rule: the requests :meth:`Workload.sample` draws are refused or cut, and its means and
    accepted share are the exact expectation over its lengths (:func:`dcsim.workload.context.window_moments`), which
    the warning quotes.

    ``classes``: the request classes another workload of the same ``spec.classes`` and windows resolved (its
    :attr:`Workload.classes`, e.g. a run's, for a workload whose arrivals alone differ): a synthetic workload takes
    them as they are, their windows' moments included (:func:`window_moments` is not summed again); a trace's
    classes are resolved again (their means are the trace's)."""
    base_dir = Path(base_dir) if base_dir is not None else None
    resolved = None if classes is None or isinstance(spec.arrivals, TraceArrivalSpec) else list(classes)
    classes = []
    for c in spec.classes if resolved is None else ():
        try:
            classes.append(resolve_class(c, base_dir))
        except (ValueError, TraceError) as exc:
            raise ValueError(f"workload.classes[{c.name}]: {exc}") from exc
    if resolved is not None:
        classes = resolved
    n = len(classes)
    wins = list(max_context) if isinstance(max_context, (list, tuple)) else [max_context] * n
    whos = [context_of] * n if isinstance(context_of, str) else list(context_of)
    rng_arr = np.random.default_rng(child_seed(seed_seq, 0))
    rng_cls = np.random.default_rng(child_seed(seed_seq, 1))
    rng_trace = np.random.default_rng(child_seed(seed_seq, 2))
    len_ss = child_seed(seed_seq, 3)
    rng_len = [np.random.default_rng(child_seed(len_ss, k)) for k in range(n)]
    a = spec.arrivals
    if isinstance(a, TraceArrivalSpec):
        tr = read_trace(a.path, a.format, base_dir, a.columns, a.time_unit, a.on_bad_row)
        distinct = list(dict.fromkeys(int(w) for w in wins if w is not None))  # in the classes' order
        t, n_in, n_out, period = _prepare_trace(tr, a, rng_trace, windows=len(distinct))
        # what each distinct window does to the rows, made once (context_cut) and carried to the warnings, the
        # classes' means, the replay (one window) or the per-class draw (several)
        cuts = {w: context_cut(n_in, n_out, w) for w in distinct}
        for kept, out in cuts.values():
            out[~kept] = 0  # a refused row serves no answer (the per-class draw's figures read it so)
        cuts[int(NO_WINDOW)] = (np.ones(n_in.size, bool), n_out)  # a class no window holds: every row whole
        effects = []
        for w in distinct:
            ks = [k for k, x in enumerate(wins) if x is not None and int(x) == w]
            kept = cuts[w][0]
            if not kept.any():  # a class no request of which would be served
                served = "" if len(ks) == n else f" class {', '.join(classes[k].name for k in ks)} of"
                raise _refused_all(f"{tr.path}: every one of its {int(n_in.size):,} requests has a prompt "
                                   f"({tr.columns.split(',')[0]})", w, whos[ks[0]], served)
            sh = sum(classes[k].share for k in ks) / max(sum(c.share for c in classes), 1e-300)
            said = "" if len(ks) == n else (", ".join(classes[k].name for k in ks) + f" ({100 * sh:.3g} % of them)")
            effects.append((window_effect(str(tr.path), tr.columns, n_in, n_out, w, said, cut=cuts[w]), whos[ks[0]]))
        one = len(set(wins)) == 1  # one window (or none) for every class: applied before the replay
        means = {}
        for w in set(wins):
            kept, out = cuts[int(NO_WINDOW if w is None else w)]
            # kept.any(): refused above otherwise; several windows: the share of a class's draws its window accepts
            means[w] = (float(n_in[kept].mean()), float(out[kept].mean()), 1.0 if one else float(kept.mean()))
        classes = [dataclasses.replace(c, mean_input_override=means[w][0], mean_output_override=means[w][1],
                                       accepted_share=means[w][2]) for c, w in zip(classes, wins)]
        refused_rows = cut_tokens = cw = None
        if one and distinct:
            # one window for every class: applied before the replay, so the replay's rate, the classes' means and
            # every figure built on them are the requests served (a refused request never arrives)
            kept, out = cuts[distinct[0]]
            if not kept.all() or np.any(out < n_out):
                refused_rows = (TraceReplay(t[~kept], period, a.rate_bin, rng_arr), n_in[~kept], n_out[~kept])
                cut_tokens = (n_out - out)[kept]
                t, n_in, n_out = t[kept], n_in[kept], out[kept]
        elif distinct:
            cw = np.array([NO_WINDOW if w is None else int(w) for w in wins], dtype=np.int64)
        proc = TraceReplay(t, period, a.rate_bin, rng_arr)
        wl = Workload(proc, classes, rng_cls, rng_len, trace=(n_in, n_out), class_window=cw, window_cuts=cuts)
        del cuts  # the workload keeps the cuts it needs (_by_window), not the others
        wl._refused_rows, wl._cut_tokens = refused_rows, cut_tokens
        wl.trace_skipped = tr.skipped
        if tr.unsorted:
            wl.trace_unsorted = (str(tr.path), tr.unsorted, len(tr), tr.first_unsorted_line)
        if period is None:
            wl.trace_span = (str(tr.path), float(t[0]), float(t[-1]), int(t.size))
        if warn:
            wl.context_warnings = [w for e, who in effects if (w := e.warning(who))]
        return wl
    # a synthetic class is held to its window as a trace is: its requests drawn (request fidelity, the hybrid sample)
    # refused or cut by context_cut, and its fluid figures the exact expectation over its lengths (window_moments)
    # (classes resolved already carry the moments of the windows that bind: not summed again; one that does not bind
    # has no warning but above MAX_EXACT_WINDOW, whose tails' bound is cheap)
    moments = [None if w is None else c.window if resolved is not None and (c.window is not None or
               int(w) <= MAX_EXACT_WINDOW) else window_moments(c.input, c.output, int(w)) for c, w in zip(classes, wins)]
    for c, m, w, who in zip(classes, moments, wins, whos):
        if m is not None and m.binds and m.accepted <= 0.0:  # a class none of whose requests would be served
            raise _refused_all(f"workload.classes[{c.name}]: every request its input lengths draw has a prompt",
                               m.max_context, who, "" if n == 1 else f" class {c.name} of")
    if resolved is None:
        classes = [c if m is None or not m.binds else
                   dataclasses.replace(c, window=m, mean_input_override=m.mean_in, mean_output_override=m.mean_out,
                                       accepted_share=m.accepted) for c, m in zip(classes, moments)]
    cw = None
    if any(c.window is not None for c in classes):
        cw = np.array([NO_WINDOW if c.window is None else c.window.max_context for c in classes], dtype=np.int64)
    wl = Workload(_build_arrivals(a, rng_arr, base_dir, start_hour), classes, rng_cls, rng_len, class_window=cw)
    if warn:
        wl.context_warnings = [w for c, m, mc, who in zip(classes, moments, wins, whos)
                               if m is not None and (w := _class_window_warning(c, m, mc, who))]
    return wl


def _refused_all(what: str, max_context: int, who: str, served: str) -> TraceError:
    """The error for requests (a trace's, a synthetic class's: ``what``) every one of which a context window refuses
    (``served``: " class X of" where the window is that of some classes only)."""
    return TraceError(f"{what} of {max_context:,} tokens or more, the context window of {who}, the model serving"
                      f"{served} it: vLLM refuses them all; serve it with a model of a larger window (racks[].serves)")


def _class_window_warning(c: RequestClass, m: WindowMoments, max_context: int, who: str) -> str | None:
    """The warning for a synthetic class whose lengths can overrun a context window (None when they cannot, or do
    so for under one request in 10^9); ``m``: :func:`dcsim.workload.context.window_moments` of its lengths."""
    p_ref, p_cut = m.p_refused, m.p_cut
    if p_ref + p_cut < BINDS_AT:
        return None
    if not m.exact:
        return (f"workload.classes[{c.name}]: the context window of {who} is {max_context:,} tokens (prompt + answer); "
                f"at most {100 * p_ref:.2g} % of its requests overrun it (a bound from the length tails, the window "
                f"being above the {MAX_EXACT_WINDOW:,} tokens summed exactly): the run does not apply it to this class "
                "(docs/workload.md, Context window)")
    out = c.output.mean()
    return (f"workload.classes[{c.name}]: the context window of {who} is {max_context:,} tokens (prompt + answer); "
            f"drawn from the class's lengths (input then output, independent), {100 * p_ref:.3g} % of its requests "
            f"have a prompt of {max_context:,} tokens or more and are refused, as vLLM refuses them, and "
            f"{100 * p_cut:.3g} % an answer cut at the window less the prompt ({m.cut_out:.3g} output tokens a request, "
            f"{100 * m.cut_out / max(out, 1e-300):.3g} % of its output); in all {100 * (m.refused_out + m.cut_out) / max(out, 1e-300):.3g} % "
            "of its output tokens are not served. The run applies the window as to a trace: the requests drawn are "
            "refused or cut, the fluid figures take the exact expectation (report.json tokens_accounting."
            "refused_context_in/_out, cut_context_out; set the class's max_input and max_tokens inside the window to "
            "ask only for what it serves; docs/workload.md, Context window)")
