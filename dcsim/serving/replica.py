"""One model replica at request fidelity: continuous batching in a tight plain-Python loop.

:class:`Replica` holds a FIFO of requests (future and arrived), a running batch and a KV-cache
budget in tokens. :meth:`Replica.advance` runs the batch loop up to a controller tick, **one step
per batch iteration**, calling the node's ``step(prefill_tokens, n_decode, ctx_tokens_sum) ->
(dt_s, gpu_power_w)``, and **jumps ahead exactly** over runs of all-decode iterations during which
the batch composition cannot change (no admission possible, no sequence finishes, KV fits).

Scheduling follows vLLM (Kwon et al., SOSP'23; vLLM ``vllm/core/scheduler.py`` v0 and
``vllm/v1/core/sched/scheduler.py``):

* admission is FIFO in release order (when a request reached this replica); latency counts from
  its original arrival (``t_arrival``, earlier for a request held at the facility door or retried
  after a node failure), and a request still waiting for admission more than ``hold_limit``
  after its arrival is shed and counted instead (``AdvanceResult.shed_rows``), so no admitted
  request waited longer than ``hold_limit``;
* a request is admitted when a batch slot is free (``max_batch`` concurrent
  sequences, vLLM ``max_num_seqs``) and its prompt's KV fits below ``(1 - kv_watermark)`` of the
  capacity; the whole prompt's KV is reserved at admission;
* without chunked prefill (vLLM v0 default) an iteration is either prefill-only (whole prompts,
  at most ``max_batched_tokens`` unless a single prompt is longer) or decode-only, prefills first;
  with chunked prefill (vLLM v1 default, Sarathi-Serve) every iteration carries one token for each
  decoding sequence and fills the rest of the ``max_batched_tokens`` budget with prompt chunks;
* a prefill (or the last chunk of one) emits the first output token; each decode iteration emits
  one token per decoding sequence and grows its KV by one token;
* preemption by recompute: when the decoding sequences' KV growth would exceed the capacity, the
  most recently admitted sequence is evicted (KV freed, generated tokens kept) to the front of the
  waiting queue and its prefill (prompt + tokens generated so far) is redone on readmission; no
  admission happens in an iteration that preempted (as in vLLM).

Conventions: ``ctx_tokens_sum`` is the decode attention context: the sum over decoding sequences
of their KV length including the new token. If the node's step takes a 4th argument
``prefill_ctx_sum`` (dcsim.node does), prefill attention is passed there as the sum over prompt
tokens of the context each attends over (a chunk of ``c`` tokens after a cached prefix ``d``:
``c*d + c*(c+1)/2``); for a 3-argument step the prefill chunks' context (prefix + chunk) is added
to ``ctx_tokens_sum``. Iteration energy ``dt * gpu_power`` is attributed to sequences by token
share (each prefill token and each decode token gets an equal share), so the energy of all
finished requests plus idle energy equals the replica's GPU energy once all have finished (energy
spent on a preempted sequence stays with it). The idle replica draws ``node.idle_gpu_power_w``.

Jumping ahead: between events that can change the batch (an admissible arrival, a sequence
finishing, KV running out, ``t_end``) the loop runs all-decode iterations with a fixed
``n_decode`` while ``ctx_tokens_sum`` grows by ``n_decode`` per step. Such a run of ``k`` steps is
summed in closed form (arithmetic series for time and energy; the step count to reach a time is
the root of a quadratic) when the node's ``dt`` and step energy at the run's first, middle and
last step lie on a line within ``jump_rtol`` (1e-10 relative): for a step that is convex in ctx
(roofline ``max(compute, memory) + overhead``, or dcsim.node's smooth soft-max of the two) the
whole run then deviates from the line by about 3e-10 at most. Runs that fail the test are halved
down to single exact ``step`` calls. ``Replica(..., jump=False)`` calls ``step`` once per
iteration; tests check both give the same latencies and energies to 1e-9.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, bisect_right
from collections import deque
from itertools import chain
from operator import le
from typing import Any, Callable, NamedTuple

import numpy as np

__all__ = ["Replica", "AdvanceResult", "FinishedBatch"]

StepFn = Callable[[float, int, float], tuple[float, float]]

# vLLM SchedulerConfig.DEFAULT_MAX_NUM_BATCHED_TOKENS = 2048 (vllm/config/scheduler.py); used only
# when the node does not say its own max_batched_tokens.
DEFAULT_MAX_BATCHED_TOKENS = 2048
# vLLM v0 block manager admission watermark, 1% of KV blocks kept free (``watermark=0.01``).
DEFAULT_KV_WATERMARK = 0.01
# Collinearity tolerance for jumping over a run of decode steps (relative): runs are summed as
# arithmetic series when first/middle/last steps agree with the chord to this; see _decode_run.
DEFAULT_JUMP_RTOL = 1e-10
_MAX_LINES = 64  # checked-affine ctx intervals kept per n_decode (bounded memory)
_BIG = 1 << 62
_CLOCKS_KEPT = 8  # DVFS clocks whose step function and affine intervals are kept

# A sequence is a Python list with fixed slots (faster than objects in the hot loop):
_TARR, _CLS, _NIN, _NOUT, _G, _D0, _A0, _EJ, _TFIRST, _TADMIT, _UID, _DONE, _P = range(13)
# _G generated tokens as of decode counter _D0 (decoding: g = _G + D - _D0); _A0 per-decode-token
# energy accumulator at _D0; _EJ energy attributed so far (J); _UID admission id (-1 if not
# running); _DONE prompt tokens prefilled of _P (prompt length of the current admission).


class FinishedBatch(NamedTuple):
    """Requests finished during one :meth:`Replica.advance` (numpy arrays, one row each)."""

    cls: np.ndarray  # int64 request-class index
    t_arrival: np.ndarray  # s
    t_admit: np.ndarray  # s, first admission into the batch
    t_first: np.ndarray  # s, first output token
    t_finish: np.ndarray  # s, last output token
    n_in: np.ndarray  # int64 tokens
    n_out: np.ndarray  # int64 tokens
    energy_j: np.ndarray  # J attributed (token share of iteration GPU energy)

    @property
    def ttft_s(self) -> np.ndarray:
        """Time to first token (s)."""
        return self.t_first - self.t_arrival

    @property
    def tpot_s(self) -> np.ndarray:
        """Time per output token after the first, (finish - first)/(n_out - 1); NaN if n_out == 1."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n_out > 1, (self.t_finish - self.t_first) / np.maximum(self.n_out - 1, 1), np.nan)

    @property
    def e2e_s(self) -> np.ndarray:
        """End-to-end latency (s)."""
        return self.t_finish - self.t_arrival

    @property
    def queue_delay_s(self) -> np.ndarray:
        """Arrival to first admission into the running batch (s)."""
        return self.t_admit - self.t_arrival

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.cls.shape[0])

    @staticmethod
    def from_rows(rows: list[tuple]) -> "FinishedBatch":
        """Build from (cls, t_arr, t_admit, t_first, t_finish, n_in, n_out, energy) tuples."""
        if not rows:
            e = np.empty(0)
            ei = np.empty(0, dtype=np.int64)
            return FinishedBatch(ei, e, e, e, e, ei, ei, e)
        a = np.fromiter(chain.from_iterable(rows), dtype=float, count=8 * len(rows)).reshape(-1, 8)
        return FinishedBatch(a[:, 0].astype(np.int64), a[:, 1], a[:, 2], a[:, 3], a[:, 4],
                             a[:, 5].astype(np.int64), a[:, 6].astype(np.int64), a[:, 7])

    @staticmethod
    def concat(batches: list["FinishedBatch"]) -> "FinishedBatch":
        """Concatenate several batches field by field."""
        if not batches:
            return FinishedBatch.from_rows([])
        return FinishedBatch(*(np.concatenate(cols) for cols in zip(*batches)))


class AdvanceResult:
    """What one :meth:`Replica.advance` call did over ``[t_start, t_end]``.

    Energy, busy and idle time cover exactly that window: an iteration straddling ``t_end`` is
    run to completion, and its energy after ``t_end`` is carried into the next call.
    ``rows`` holds the finished requests as tuples ``(cls, t_arrival, t_admit, t_first, t_finish,
    n_in, n_out, energy_j)`` and ``shed_rows`` the ``(cls, n_out)`` of requests shed for waiting
    in the queue longer than the replica's ``hold_limit``; ``finished`` converts them to a :class:`FinishedBatch` on first
    access (an engine may instead concatenate the ``rows`` of many replicas and convert once).
    Iterating yields ``(energy_gpu_j, peak_gpu_power_w, finished)`` (the architecture contract).
    """

    __slots__ = ("energy_gpu_j", "busy_time_s", "idle_time_s", "peak_gpu_power_w", "iterations",
                 "segments", "finished_count", "preemptions", "rows", "shed_rows", "_finished")

    def __init__(self, energy_gpu_j: float, busy_time_s: float, idle_time_s: float,
                 peak_gpu_power_w: float, iterations: int, segments: int, finished_count: int,
                 preemptions: int, rows: list, shed_rows: list | None = None):
        self.energy_gpu_j = energy_gpu_j  # J over the window
        self.busy_time_s = busy_time_s  # s with an iteration running
        self.idle_time_s = idle_time_s  # s idle at node.idle_gpu_power_w
        self.peak_gpu_power_w = peak_gpu_power_w  # W, max over iterations (idle power if none)
        self.iterations = iterations  # batch iterations (jumped decode steps counted one by one)
        self.segments = segments  # loop passes (prefill/mixed steps + decode runs + idle)
        self.finished_count = finished_count
        self.preemptions = preemptions
        self.rows = rows
        self.shed_rows = shed_rows if shed_rows is not None else []  # (cls, n_out) shed past hold_limit
        self._finished = None

    @property
    def finished(self) -> FinishedBatch:
        """Requests finished in the window, as numpy arrays."""
        if self._finished is None:
            self._finished = FinishedBatch.from_rows(self.rows)
        return self._finished

    def __iter__(self):
        return iter((self.energy_gpu_j, self.peak_gpu_power_w, self.finished))

    def __repr__(self) -> str:
        return (f"AdvanceResult(energy_gpu_j={self.energy_gpu_j:.6g}, busy_time_s={self.busy_time_s:.6g}, "
                f"idle_time_s={self.idle_time_s:.6g}, peak_gpu_power_w={self.peak_gpu_power_w:.6g}, "
                f"iterations={self.iterations}, finished_count={self.finished_count}, "
                f"preemptions={self.preemptions})")


def _cum(k: int, d0: float, s: float) -> float:
    """Sum of k terms of the arithmetic series d0, d0+s, ... (s)."""
    return k * d0 + s * (k * (k - 1) * 0.5)


def _steps_to_reach(rem: float, d0: float, s: float) -> int:
    """Smallest k >= 1 with k*d0 + s*k(k-1)/2 >= rem (dt series d0, d0+s, ...); huge if never."""
    if rem <= d0:
        return 1
    b = d0 - 0.5 * s
    disc = b * b + 2.0 * s * rem
    if disc < 0.0 or (b <= 0.0 and s <= 0.0):
        return 1 << 62
    denom = b + math.sqrt(disc)
    if denom <= 0.0:
        return 1 << 62
    k = max(1, int(math.ceil(2.0 * rem / denom)))
    while k > 1 and _cum(k - 1, d0, s) >= rem:
        k -= 1
    while _cum(k, d0, s) < rem:
        k += 1
    return k


class Replica:
    """One model replica: FIFO queue, running batch, KV-cache budget and the batching loop.

    ``node`` needs ``step_fn(clock)``, ``max_batch``, ``kv_capacity_tokens``, ``idle_gpu_power_w``
    and optionally ``max_batched_tokens`` (docs/architecture.md "Node model"). Keyword arguments
    override the node's values. ``t0`` is the replica's start time (s).
    """

    def __init__(self, node: Any, *, max_batch: int | None = None,
                 max_batched_tokens: int | None = None, kv_capacity_tokens: int | None = None,
                 chunked_prefill: bool = True, kv_watermark: float = DEFAULT_KV_WATERMARK,
                 jump: bool = True, jump_rtol: float = DEFAULT_JUMP_RTOL, t0: float = 0.0,
                 hold_limit: float = math.inf):
        self.node = node
        self.max_batch = int(max_batch if max_batch is not None else node.max_batch)
        mbt = max_batched_tokens if max_batched_tokens is not None else getattr(
            node, "max_batched_tokens", DEFAULT_MAX_BATCHED_TOKENS)
        self.max_batched_tokens = int(mbt)
        self.kv_capacity_tokens = int(kv_capacity_tokens if kv_capacity_tokens is not None
                                      else node.kv_capacity_tokens)
        if self.max_batch < 1 or self.max_batched_tokens < 1 or self.kv_capacity_tokens < 2:
            raise ValueError("max_batch, max_batched_tokens must be >= 1 and kv_capacity_tokens >= 2")
        if not 0.0 <= kv_watermark < 1.0:
            raise ValueError(f"kv_watermark must be in [0, 1), got {kv_watermark}")
        self.kv_admit_tokens = int(math.floor(self.kv_capacity_tokens * (1.0 - kv_watermark)))
        self._ctx_top = self.kv_capacity_tokens + self.max_batch  # decode ctx never exceeds this
        if not hold_limit > 0.0:
            raise ValueError(f"hold_limit must be > 0 s, got {hold_limit}")
        self.hold_limit = float(hold_limit)
        self.chunked_prefill = bool(chunked_prefill)
        self.jump = bool(jump)
        self.jump_rtol = float(jump_rtol)
        # n_decode -> ([lo, ...], [(lo, hi, dt_lo, dt_slope, e_lo, e_slope), ...]) sorted by lo:
        # ctx intervals on which dt and step energy were checked affine (at most _MAX_LINES)
        self._lines: dict[int, tuple[list, list]] = {}
        self._span: dict[int, int] = {}  # n_decode -> width (ctx tokens) of the last affine check
        self._fails: dict[int, int] = {}  # n_decode -> width of the last failed check (ctx tokens)
        self.idle_gpu_power_w = float(node.idle_gpu_power_w)
        # pending FIFO of fresh requests (future and arrived-but-not-admitted), as Python lists
        self._p_t: list[float] = []  # release time: FIFO order, admissible from then (s)
        self._p_a: list[float] = []  # original arrival time: latency counts from here (s)
        self._p_c: list[int] = []
        self._p_in: list[int] = []
        self._p_out: list[int] = []
        self._ph = 0  # head index into the pending lists
        self._taken = 0  # pending requests admitted so far (cumulative)
        self._last_t = -math.inf
        self._waiting: deque = deque()  # preempted sequences, readmitted first
        self._running: dict[int, list] = {}  # uid -> seq, in admission order (LIFO victim)
        self._prefilling: deque = deque()  # chunked mode: admitted seqs with prompt left
        self._heap: list[int] = []  # (decode index at finish << 32) | uid of decoding sequences
        self._uid = 0
        self._n_dec = 0  # decoding sequences
        self._D = 0  # decode iterations so far
        self._A = 0.0  # J per decoding sequence accumulated over decode iterations
        self._S = 0  # sum of (n_in + g) over decoding sequences = next decode ctx sum
        self.kv_used = 0  # KV tokens held or reserved
        self.kv_peak = 0  # max of kv_used ever seen (tokens)
        self.now = float(t0)
        self._acct_t = float(t0)  # energy reported up to here; [acct, now] runs at _carry_p
        self._carry_p = 0.0
        self._clock = None
        self._clock_states: dict[float, tuple] = {}
        self._step: StepFn | None = None
        self._pstep = None  # step taking prefill_ctx_sum as 4th argument, if the node has one
        self.enqueued = 0  # requests offered to enqueue/enqueue_many, shed ones included
        self.completed = 0
        self.shed = 0  # requests shed: never fit in KV (at enqueue) or waited past hold_limit
        self.shed_held = 0  # of which shed in the queue for waiting longer than hold_limit
        self.preemptions = 0
        self.iterations = 0
        self.step_calls = 0  # calls of the node's step function (fewer than iterations when jumping)
        self.outstanding_tokens = 0  # sum of n_in + n_out over enqueued, unfinished requests
        self._last_fin_t = -math.inf
        self._last_fin_n = 0

    # ------------------------------------------------------------------ requests in
    def enqueue(self, t_arrival: float, cls: int, n_in: int, n_out: int) -> bool:
        """Add one request arriving at ``t_arrival`` (s); False if shed (can never fit in KV)."""
        return not bool(self.enqueue_many(np.array([t_arrival], float), np.array([cls]),
                                          np.array([n_in]), np.array([n_out]))[0])

    def enqueue_many(self, t: np.ndarray, cls: np.ndarray, n_in: np.ndarray,
                     n_out: np.ndarray, t_arrival: np.ndarray | None = None) -> np.ndarray:
        """Add requests (arrays sorted by release time ``t``, s). Returns the boolean shed mask.

        ``t`` is when a request reaches this replica (its FIFO position; it is admissible from
        then); ``t_arrival`` (default ``t``) is when it first arrived at the facility, from which
        its latency counts and its wait is bounded by ``hold_limit`` (a request held at the door
        or retried after a failure arrives earlier than it is released).
        A request is shed (never enqueued) when ``n_in + n_out`` exceeds the admissible KV
        capacity, as a real server rejects a prompt longer than its max model length.
        Release times must not go backwards across calls.
        """
        tl = t.tolist() if isinstance(t, np.ndarray) else [float(x) for x in t]
        m = len(tl)
        if m == 0:
            return np.zeros(0, dtype=bool)
        if t_arrival is None:
            al = tl
        else:
            al = t_arrival.tolist() if isinstance(t_arrival, np.ndarray) else [float(x) for x in t_arrival]
            if len(al) != m or any(map(lambda a, b: a > b, al, tl)):
                raise ValueError("t_arrival must have one entry per request, none after its release time t")
        il = n_in.tolist() if isinstance(n_in, np.ndarray) else [int(x) for x in n_in]
        ol = n_out.tolist() if isinstance(n_out, np.ndarray) else [int(x) for x in n_out]
        cl = cls.tolist() if isinstance(cls, np.ndarray) else [int(x) for x in cls]
        if not (len(il) == len(ol) == len(cl) == m):
            raise ValueError("t, cls, n_in and n_out must have the same length")
        if tl[0] < self._last_t or (m > 1 and not all(map(le, tl, tl[1:]))):
            raise ValueError("arrival times must be sorted and not earlier than previous arrivals")
        if min(il) < 1 or min(ol) < 1:
            raise ValueError("n_in and n_out must be >= 1 token")
        if self._ph > 4096 and 2 * self._ph > len(self._p_t):
            for lst in (self._p_t, self._p_a, self._p_c, self._p_in, self._p_out):
                del lst[: self._ph]
            self._ph = 0
        lim = self.kv_admit_tokens
        shed_l = [a + b > lim for a, b in zip(il, ol)]
        shed = np.array(shed_l, dtype=bool)
        if any(shed_l):
            keep = [i for i, x in enumerate(shed_l) if not x]
            tl = [tl[i] for i in keep]
            al = [al[i] for i in keep]
            il = [il[i] for i in keep]
            ol = [ol[i] for i in keep]
            cl = [cl[i] for i in keep]
            self.shed += m - len(keep)
        self.enqueued += m
        if tl:
            self._p_t.extend(tl)
            self._p_a.extend(al)
            self._p_c.extend(cl)
            self._p_in.extend(il)
            self._p_out.extend(ol)
            self._last_t = tl[-1]
            self.outstanding_tokens += sum(il) + sum(ol)
        return shed

    def drain(self) -> list[tuple[float, int, int, int]]:
        """Take every unfinished request out of the replica (a node failure).

        Returns ``(t_arrival, cls, n_in, n_out)`` of the running, preempted and not yet admitted
        requests (``t_arrival`` the original arrival, so their latency keeps counting from it),
        in arrival order, and leaves the replica empty and idle. Their progress (KV,
        generated tokens) is lost: the engine retries them on other replicas from the start.
        Counters stay consistent: ``enqueued`` drops by the number drained, so in-flight =
        ``enqueued - completed - shed`` is 0 afterwards.
        """
        seqs = list(self._running.values()) + list(self._waiting)
        out = [(float(v[_TARR]), int(v[_CLS]), int(v[_NIN]), int(v[_NOUT])) for v in seqs]
        ph = self._ph
        out += list(zip(self._p_a[ph:], self._p_c[ph:], self._p_in[ph:], self._p_out[ph:]))
        out.sort(key=lambda r: r[0])
        self._running.clear()
        self._waiting.clear()
        self._prefilling.clear()
        self._heap.clear()
        for lst in (self._p_t, self._p_a, self._p_c, self._p_in, self._p_out):
            lst.clear()
        self._ph = 0
        self._n_dec = 0
        self._S = 0
        self.kv_used = 0
        self.outstanding_tokens = 0
        self.enqueued -= len(out)
        self._taken = self.completed + self.shed_held
        return out

    # ------------------------------------------------------------------ state
    @property
    def n_running(self) -> int:
        """Sequences in the running batch (decoding + prefilling)."""
        return len(self._running)

    @property
    def n_waiting(self) -> int:
        """Arrived requests (as of ``now``) not in the running batch, including preempted ones."""
        return len(self._waiting) + bisect_right(self._p_t, self.now, self._ph) - self._ph

    @property
    def n_pending(self) -> int:
        """Enqueued requests not yet admitted (arrived or not)."""
        return len(self._p_t) - self._ph + len(self._waiting)

    def in_system_at(self, t: float) -> int:
        """Requests arrived by ``t`` and not finished by ``t``.

        Exact for ``t`` no earlier than the start of the replica's last iteration (e.g. the
        ``t_end`` just passed to :meth:`advance`).
        """
        arrived = self._taken + bisect_right(self._p_t, t, self._ph) - self._ph
        done = self.completed + self.shed_held - (self._last_fin_n if self._last_fin_t > t else 0)
        return arrived - done

    def _set_clock(self, clock: float) -> None:
        """Switch to DVFS ``clock``: its step function and checked-affine intervals (the last
        ``_CLOCKS_KEPT`` clocks are kept, so a controller moving among levels reuses them)."""
        st = self._clock_states.get(clock)
        if st is None:
            step = self.node.step_fn(clock)
            try:  # the node may accept the prefill attention context as a 4th argument
                step(1, 0, 0.0, 1.0)
                pstep = step
            except TypeError:
                pstep = None
            st = (step, pstep, {}, {}, {})
            if len(self._clock_states) >= _CLOCKS_KEPT:
                self._clock_states.pop(next(iter(self._clock_states)))
            self._clock_states[clock] = st
        self._clock = clock
        self._step, self._pstep, self._lines, self._span, self._fails = st

    def _decode_run(self, n: int, ctx0: int, kmax: int, rem: float):
        """Up to ``kmax`` decode steps of ``n`` sequences from ctx ``ctx0``, stopping after the
        first step whose cumulative end time reaches ``rem`` (s). Returns
        (k, total_dt, total_energy, peak_power, last_power).

        Jumping: for each ``n`` the replica keeps one ctx interval on which the node's ``dt`` and
        step energy were checked to be affine: their values at the interval's two ends and its
        middle lie on a line within ``jump_rtol``. For a step function convex in ctx (roofline
        max, or the node's soft-max of compute and memory time) that bounds the deviation from
        the line on the whole interval by about ``3*jump_rtol``. Runs inside the interval are
        summed in closed form (arithmetic series) without calling the node; a run leaving it
        checks a new interval at least as long as the run and twice the last good one, halving
        on failure down to single exact steps.
        """
        step = self._step
        k = 0
        tsum = esum = peak = 0.0
        pw = 0.0
        ctx = ctx0
        jump = self.jump
        lines = self._lines
        fails = self._fails
        novalid = False
        calls = 0
        while k < kmax:
            K = kmax - k
            if not jump or novalid or K < 4:  # exact steps for the rest of the run
                while k < kmax:
                    dt, pw = step(0, n, ctx)
                    calls += 1
                    k += 1
                    tsum += dt
                    esum += dt * pw
                    if pw > peak:
                        peak = pw
                    ctx += n
                    if tsum >= rem:
                        break
                break
            ln = None
            if jump:
                lst = lines.get(n)
                if lst is not None:
                    i = bisect_right(lst[0], ctx) - 1
                    if i >= 0 and ctx <= lst[1][i][1]:
                        ln = lst[1][i]
            if ln is None:
                if jump and K >= 4 and not novalid:
                    rtol = self.jump_rtol
                    d0, p0 = step(0, n, ctx)
                    e0 = d0 * p0
                    calls += 1
                    # steps needed: up to the composition limit K, or to reach the time limit
                    # (an upper bound while dt does not fall with ctx)
                    kn = K
                    est = (rem - tsum) / d0 + 2.0
                    if est < kn:
                        kn = int(est)
                    Wn = (kn - 1) * n  # ctx width the run needs
                    if kn >= 4 and Wn < fails.get(n, _BIG):
                        W = 2 * self._span.get(n, 0)  # try wider, for reuse by later runs
                        top = self._ctx_top - ctx
                        if W > top:
                            W = top
                        if W < Wn:
                            W = Wn
                        while True:
                            Wm = W // 2
                            dm, pm = step(0, n, ctx + Wm)
                            d2, p2 = step(0, n, ctx + W)
                            calls += 2
                            em, e2 = dm * pm, d2 * p2
                            w = Wm / W
                            if (abs(dm - d0 - (d2 - d0) * w) <= rtol * dm
                                    and abs(em - e0 - (e2 - e0) * w) <= rtol * abs(em)):
                                ln = (ctx, ctx + W, d0, (d2 - d0) / W, e0, (e2 - e0) / W)
                                lst = lines.get(n)
                                if lst is None or len(lst[0]) >= _MAX_LINES:
                                    lines[n] = lst = ([], [])
                                i = bisect_right(lst[0], ctx)
                                lst[0].insert(i, ctx)
                                lst[1].insert(i, ln)
                                self._span[n] = W
                                fails.pop(n, None)
                                break
                            if W <= Wn:
                                break
                            W = Wn  # the wider try failed: try what the run needs, once
                        if ln is None:  # not affine over the run: step it exactly
                            self._span[n] = 0
                            fails[n] = Wn  # skip checks this wide for this n from now on
                            novalid = True
                    if ln is None:
                        dt, pw = d0, p0  # take the first step exactly (already evaluated)
                else:
                    dt, pw = step(0, n, ctx)
                    calls += 1
                if ln is None:
                    k += 1
                    tsum += dt
                    esum += dt * pw
                    if pw > peak:
                        peak = pw
                    ctx += n
                    if tsum >= rem:
                        break
                    continue
            # closed form over the affine interval
            lo, hi, dlo, sdc, elo, sec = ln
            kp = int((hi - ctx) // n) + 1
            if kp > K:
                kp = K
            d0 = dlo + sdc * (ctx - lo)
            sd = sdc * n
            e0 = elo + sec * (ctx - lo)
            se = sec * n
            r = rem - tsum
            if r <= d0:
                kt = 1
            else:
                kt = _steps_to_reach(r, d0, sd)
            kk = kp if kp < kt else kt
            m = kk * (kk - 1) * 0.5
            tsum += kk * d0 + sd * m
            esum += kk * e0 + se * m
            p0 = e0 / d0
            pw = (e0 + se * (kk - 1)) / (d0 + sd * (kk - 1))
            if p0 > peak:
                peak = p0
            if pw > peak:
                peak = pw
            k += kk
            ctx += kk * n
            if kk == kt:
                break
        self.step_calls += calls
        return k, tsum, esum, peak, pw

    # ------------------------------------------------------------------ the loop
    def advance(self, t_end: float, clock: float = 1.0) -> AdvanceResult:
        """Run the batching loop until ``t_end`` (s) at DVFS ``clock``; see the module docstring."""
        if clock != self._clock:
            self._set_clock(clock)
        step = self._step
        pstep = self._pstep
        idle_p = self.idle_gpu_power_w
        energy = busy = idle = 0.0
        peak = 0.0
        iters = segs = npre = 0
        rows: list[tuple] = []
        now = self.now
        # energy of the iteration that straddled the previous t_end
        if now > self._acct_t:
            upto = now if now <= t_end else t_end
            span = upto - self._acct_t
            energy += self._carry_p * span
            busy += span
            peak = self._carry_p
            self._acct_t = upto
            if now >= t_end:
                return AdvanceResult(energy, busy, 0.0, peak, 0, 0, 0, 0, [])
        chunked = self.chunked_prefill
        max_batch = self.max_batch
        mbt = self.max_batched_tokens
        cap = self.kv_capacity_tokens
        cap_adm = self.kv_admit_tokens
        p_t, p_a, p_c, p_in, p_out = self._p_t, self._p_a, self._p_c, self._p_in, self._p_out
        hold = self.hold_limit
        shed_rows: list[tuple[int, int]] = []
        ph = self._ph
        npend = len(p_t)
        waiting = self._waiting
        running = self._running
        pf = self._prefilling
        heap = self._heap
        heappush, heappop = heapq.heappush, heapq.heappop
        lines = self._lines
        uid = self._uid
        n_dec = self._n_dec
        D, A, S = self._D, self._A, self._S
        kv_used = self.kv_used
        kv_peak = self.kv_peak
        taken = self._taken
        out_tok = 0
        p_last = idle_p
        fin_t = self._last_fin_t
        fin_n = self._last_fin_n

        while now < t_end:
            segs += 1
            if (n_dec and not pf and not waiting and (ph >= npend or p_t[ph] > now)
                    and kv_used + n_dec <= cap):
                # fast path: nothing to admit or prefill, KV fits: straight to a decode run
                preempted = False
                budget = mbt - n_dec if chunked else mbt
            else:
                preempted = False
                # ---- chunked mode: decodes ride in every iteration, so make room for their KV first
                if chunked and n_dec and kv_used + n_dec > cap:
                    while kv_used + n_dec > cap:
                        _, v = running.popitem()
                        if v[_DONE] < v[_P]:  # a prefilling sequence
                            pf.remove(v)
                            kv_used -= v[_P]
                        else:
                            g = v[_G] + D - v[_D0]
                            v[_G] = g
                            v[_EJ] += A - v[_A0]
                            kv_used -= v[_NIN] + g - 1
                            S -= v[_NIN] + g
                            n_dec -= 1
                        v[_UID] = -1
                        v[_DONE] = 0
                        waiting.appendleft(v)
                        npre += 1
                    preempted = True
                # ---- prefill work: continue chunks, then admit FIFO
                ptoks = 0
                pctx = 0  # tokens attended by the last token of each chunk (3-argument steps)
                pq = 0.0  # prefill attention context summed over chunk tokens (4th argument)
                chunks = None
                budget = mbt - n_dec if chunked else mbt
                if chunked and pf and budget > 0:
                    chunks = []
                    for sq in pf:
                        c = sq[_P] - sq[_DONE]
                        if c > budget:
                            c = budget
                        chunks.append((sq, c))
                        ptoks += c
                        pctx += sq[_DONE] + c
                        pq += c * sq[_DONE] + 0.5 * c * (c + 1)
                        budget -= c
                        if budget == 0:
                            break
                if not preempted and budget > 0:
                    # KV left for new prompts after this iteration's decode tokens (chunked mode)
                    kv_lim = cap_adm - n_dec if chunked else cap_adm
                    while len(running) < max_batch:
                        if waiting:
                            sq = waiting[0]
                            need = sq[_NIN] + sq[_G]
                        elif ph < npend and p_t[ph] <= now:
                            if now - p_a[ph] > hold:  # waited past the hold limit: shed, counted
                                shed_rows.append((p_c[ph], p_out[ph]))
                                out_tok += p_in[ph] + p_out[ph]
                                ph += 1
                                taken += 1
                                continue
                            sq = None
                            need = p_in[ph]
                        else:
                            break
                        if kv_used + need > kv_lim:
                            break
                        if not chunked and ptoks and ptoks + need > budget:
                            break
                        if sq is None:
                            sq = [p_a[ph], p_c[ph], need, p_out[ph], 0, 0, 0.0, 0.0, -1.0, now, 0, 0, need]
                            ph += 1
                            taken += 1
                        else:
                            waiting.popleft()
                            sq[_P] = need
                        uid += 1
                        sq[_UID] = uid
                        running[uid] = sq
                        kv_used += need
                        if chunks is None:
                            chunks = []
                        if chunked:
                            c = need if need < budget else budget
                            if c < need:
                                pf.append(sq)  # only sequences left partly prefilled wait in pf
                            chunks.append((sq, c))
                            ptoks += c
                            pctx += c
                            pq += 0.5 * c * (c + 1)
                            budget -= c
                            if budget == 0:
                                break
                        else:
                            chunks.append((sq, need))
                            ptoks += need
                            pctx += need
                            pq += 0.5 * need * (need + 1)
                    if kv_used > kv_peak:
                        kv_peak = kv_used
                if ptoks:
                    # ---- one prefill (or mixed) iteration
                    nd = n_dec if chunked else 0
                    if pstep is not None:
                        dt, pw = pstep(ptoks, nd, S if nd else 0, pq)
                    else:
                        dt, pw = step(ptoks, nd, pctx + (S if nd else 0))
                    e_it = dt * pw
                    self.step_calls += 1
                    now += dt
                    busy += dt
                    energy += e_it
                    iters += 1
                    p_last = pw
                    if pw > peak:
                        peak = pw
                    e_tok = e_it / (ptoks + nd)
                    if nd:
                        D += 1
                        A += e_tok
                        S += nd
                        kv_used += nd
                        if kv_used > kv_peak:
                            kv_peak = kv_used
                    for sq, c in chunks:
                        sq[_EJ] += e_tok * c
                        if chunked:
                            done = sq[_DONE] + c
                            sq[_DONE] = done
                            if done < sq[_P]:
                                continue
                            if pf and pf[0] is sq:
                                pf.popleft()
                        else:
                            sq[_DONE] = c
                        g = sq[_G] + 1
                        sq[_G] = g
                        if sq[_TFIRST] < 0.0:
                            sq[_TFIRST] = now
                        nin = sq[_NIN]
                        if g >= sq[_NOUT]:
                            del running[sq[_UID]]
                            kv_used -= nin + g - 1
                            rows.append((sq[_CLS], sq[_TARR], sq[_TADMIT], sq[_TFIRST], now, nin, g, sq[_EJ]))
                            out_tok += nin + g
                        else:
                            sq[_D0] = D
                            sq[_A0] = A
                            S += nin + g
                            n_dec += 1
                            heappush(heap, ((D + sq[_NOUT] - g) << 32) | sq[_UID])
                    if nd:
                        lim = (D + 1) << 32
                        while heap and heap[0] < lim:
                            u = heappop(heap) & 0xFFFFFFFF
                            sq = running.pop(u, None)
                            if sq is None:  # preempted since
                                continue
                            nin, no = sq[_NIN], sq[_NOUT]
                            kv_used -= nin + no - 1
                            S -= nin + no
                            n_dec -= 1
                            rows.append((sq[_CLS], sq[_TARR], sq[_TADMIT], sq[_TFIRST], now, nin, no,
                                         sq[_EJ] + A - sq[_A0]))
                            out_tok += nin + no
                    continue
                if n_dec == 0:
                    if waiting or (ph < npend and p_t[ph] <= now):
                        if not preempted:  # cannot happen: an empty replica admits any unshed request
                            raise RuntimeError("replica stalled with admissible requests")
                        continue  # a preemption emptied the batch; admit on the next pass
                    # ---- idle until the next arrival (or t_end)
                    tn = p_t[ph] if ph < npend else t_end
                    if tn > t_end:
                        tn = t_end
                    idle += tn - now
                    energy += idle_p * (tn - now)
                    now = tn
                    p_last = idle_p
                    continue
            # ---- a run of decode-only iterations
            if not chunked and kv_used + n_dec > cap:
                while kv_used + n_dec > cap:
                    _, v = running.popitem()
                    g = v[_G] + D - v[_D0]
                    v[_G] = g
                    v[_EJ] += A - v[_A0]
                    kv_used -= v[_NIN] + g - 1
                    S -= v[_NIN] + g
                    n_dec -= 1
                    v[_UID] = -1
                    v[_DONE] = 0
                    waiting.appendleft(v)
                    npre += 1
                preempted = True
            while (heap[0] & 0xFFFFFFFF) not in running:  # drop entries of preempted sequences
                heappop(heap)
            kmax = (heap[0] >> 32) - D
            kk = (cap - kv_used) // n_dec
            if kk < kmax:
                kmax = kk
            if preempted:
                kmax = 1
            tstop = t_end
            if (not waiting and ph < npend and len(running) < max_batch and budget > 0
                    and kv_used + p_in[ph] <= cap_adm and p_t[ph] < tstop):
                tstop = p_t[ph]
            ln = None
            lst = lines.get(n_dec)
            if lst is not None:
                i = bisect_right(lst[0], S) - 1
                if i >= 0:
                    ln = lst[1][i]
            if ln is not None and S + (kmax - 1) * n_dec <= ln[1]:
                # fast path: the whole run lies on a checked-affine interval (see _decode_run)
                lo, _, dlo, sdc, elo, sec = ln
                d0 = dlo + sdc * (S - lo)
                sd = sdc * n_dec
                e0 = elo + sec * (S - lo)
                se = sec * n_dec
                k = kmax
                tsum = k * d0 + sd * (k * (k - 1) * 0.5)
                rem = tstop - now
                if tsum >= rem:
                    k = 1 if rem <= d0 else _steps_to_reach(rem, d0, sd)
                    tsum = k * d0 + sd * (k * (k - 1) * 0.5)
                esum = k * e0 + se * (k * (k - 1) * 0.5)
                pk = e0 / d0
                pl = (e0 + se * (k - 1)) / (d0 + sd * (k - 1))
                if pl > pk:
                    pk = pl
            elif kmax < 4:  # a short run: exact steps (the next finish is close)
                k = 0
                tsum = esum = pk = 0.0
                ctx = S
                rem = tstop - now
                while True:
                    dt, pl = step(0, n_dec, ctx)
                    k += 1
                    tsum += dt
                    esum += dt * pl
                    if pl > pk:
                        pk = pl
                    if k == kmax or tsum >= rem:
                        break
                    ctx += n_dec
                self.step_calls += k
            else:
                k, tsum, esum, pk, pl = self._decode_run(n_dec, S, kmax, tstop - now)
            now += tsum
            busy += tsum
            energy += esum
            iters += k
            p_last = pl
            if pk > peak:
                peak = pk
            D += k
            A += esum / n_dec
            S += k * n_dec
            kv_used += k * n_dec
            if kv_used > kv_peak:
                kv_peak = kv_used
            lim = (D + 1) << 32
            while heap and heap[0] < lim:
                u = heappop(heap) & 0xFFFFFFFF
                sq = running.pop(u, None)
                if sq is None:
                    continue
                nin, no = sq[_NIN], sq[_NOUT]
                kv_used -= nin + no - 1
                S -= nin + no
                n_dec -= 1
                rows.append((sq[_CLS], sq[_TARR], sq[_TADMIT], sq[_TFIRST], now, nin, no,
                             sq[_EJ] + A - sq[_A0]))
                out_tok += nin + no

        # ---- store state back, split the straddling iteration's energy at t_end
        if now > t_end:
            over = now - t_end
            energy -= p_last * over
            busy -= over
            self._carry_p = p_last
            self._acct_t = t_end
        else:
            self._acct_t = now
        if rows:
            last = rows[-1][4]
            m = 0
            for r in reversed(rows):
                if r[4] != last:
                    break
                m += 1
            if last == fin_t:
                fin_n += m
            else:
                fin_t, fin_n = last, m
        self._last_fin_t, self._last_fin_n = fin_t, fin_n
        self.now = now
        self._ph = ph
        self._taken = taken
        self._uid = uid
        self._n_dec = n_dec
        self._D, self._A, self._S = D, A, S
        self.kv_used = kv_used
        self.kv_peak = kv_peak
        nf = len(rows)
        self.completed += nf
        self.preemptions += npre
        self.iterations += iters
        self.outstanding_tokens -= out_tok
        if peak == 0.0:
            peak = idle_p
        self.shed += len(shed_rows)
        self.shed_held += len(shed_rows)
        return AdvanceResult(energy, busy, idle, peak, iters, segs, nf, npre, rows, shed_rows)
