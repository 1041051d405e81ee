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
``n_decode`` while ``ctx_tokens_sum`` grows by ``n_decode`` per step. A run of at least
``JUMP_MIN_STEPS`` steps is summed in closed form (arithmetic series for time and energy; the step
count to reach a time is the root of a quadratic) when the node's ``dt`` and step energy at the
run's first, middle and last step lie on a line within ``jump_rtol`` (1e-10 relative): for a step
that is convex in ctx (roofline ``max(compute, memory) + overhead``, or dcsim.node's smooth
soft-max of the two) the whole run then deviates from the line by about 3e-10 at most. Shorter
runs, and runs that fail the check, are stepped exactly: the check costs three step evaluations,
so jumping is used only where it saves. ``Replica(..., jump=False)`` calls ``step`` once per
iteration; tests check both give the same latencies and energies to 1e-9.

The loop is written as named phases (:meth:`Replica.advance` calls ``_schedule``,
``_prefill_iteration``, ``_preempt``, ``_decode`` with ``_decode_run`` and ``_finish_decodes``,
``_idle``); :mod:`dcsim.serving.kernel` compiles the same phases over arrays for speed.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from collections import deque
from itertools import chain, islice
from operator import le
from typing import Any, Callable, NamedTuple

import numpy as np

from dcsim.scenario.node import NodeSpec
from dcsim.scenario.serving import ServingSpec

__all__ = ["Replica", "AdvanceResult", "FinishedBatch"]

StepFn = Callable[[float, int, float], tuple[float, float]]

# One home for each serving default, in the scenario specs (with their sources there):
# NodeSpec.max_batched_tokens (used when a node object does not say its own) and
# ServingSpec.kv_watermark.
DEFAULT_MAX_BATCHED_TOKENS = int(NodeSpec.model_fields["max_batched_tokens"].default)
DEFAULT_KV_WATERMARK = float(ServingSpec.model_fields["kv_watermark"].default)
# Collinearity tolerance for jumping over a run of decode steps (relative): runs are summed as
# arithmetic series when first/middle/last steps agree with the chord to this; see _decode_run.
DEFAULT_JUMP_RTOL = 1e-10
# A decode run is jumped (one 3-point affine check, then closed form) only when it has at least
# this many steps: the check costs 3 step evaluations and the closed form about one more, so
# shorter runs are stepped exactly (chosen by measurement: bench/bench_request_fidelity.py).
JUMP_MIN_STEPS = 8
_CLOCKS_KEPT = 8  # DVFS clocks whose step functions are kept

# A sequence is a Python list with fixed slots (faster than objects in the hot loop):
_TARR, _CLS, _NIN, _NOUT, _G, _D0, _A0, _EJ, _TFIRST, _TADMIT, _UID, _DONE, _P = range(13)
# _G generated tokens as of decode counter _D0 (decoding: g = _G + D - _D0); _A0 per-decode-token
# energy accumulator at _D0; _EJ energy attributed so far (J); _UID admission id (-1 if not
# running); _DONE prompt tokens prefilled of _P (prompt length of the current admission).



# The request rows' checks, one text for both backends (this reference and dcsim.serving.kernel).
ROWS_LENGTH_ERROR = "t, cls, n_in and n_out must have the same length"
ROWS_ORDER_ERROR = "arrival times must be sorted and not earlier than previous arrivals"
ROWS_TOKENS_ERROR = "n_in and n_out must be >= 1 token"
ROWS_ARRIVAL_ERROR = "t_arrival must have one entry per request, none after its release time t"


def check_request_arrays(t: np.ndarray, t_arrival: np.ndarray, cls: np.ndarray, n_in: np.ndarray,
                         n_out: np.ndarray, last_t: float = -math.inf) -> None:
    """Raise ValueError as :meth:`Replica.enqueue_many` does for rows it refuses: lengths that
    differ, release times out of order or before ``last_t``, an arrival after its release, a
    prompt or an output under one token. The vectorized form of the reference's own checks, for
    the compiled backend (a zero-token prompt made its replica loop forever)."""
    m = len(t)
    if not (len(cls) == len(n_in) == len(n_out) == m):
        raise ValueError(ROWS_LENGTH_ERROR)
    if m == 0:
        return
    if len(t_arrival) != m or bool(np.any(t_arrival > t)):
        raise ValueError(ROWS_ARRIVAL_ERROR)
    if t[0] < last_t or (m > 1 and bool(np.any(np.diff(t) < 0))):
        raise ValueError(ROWS_ORDER_ERROR)
    if int(n_in.min()) < 1 or int(n_out.min()) < 1:
        raise ValueError(ROWS_TOKENS_ERROR)

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


def _steps_to_reach(rem: float, d0: float, s: float) -> int:
    """Smallest k >= 1 with k*d0 + s*k(k-1)/2 >= rem (dt series d0, d0+s, ...); huge if never.

    Plain arithmetic only: :mod:`dcsim.serving.kernel` compiles this very function."""
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
    while k > 1 and (k - 1) * d0 + s * ((k - 1) * (k - 2) * 0.5) >= rem:  # sum of k-1 steps
        k -= 1
    while k * d0 + s * (k * (k - 1) * 0.5) < rem:  # sum of k steps
        k += 1
    return k


def _closed_form_run(d0, p0, dm, pm, d2, p2, W, Wm, n, kn, rem, rtol):
    """A decode run summed in closed form, or ``k = 0`` if it may not be.

    ``(d0, p0)``, ``(dm, pm)``, ``(d2, p2)``: step time (s) and power (W) at ctx offsets 0, ``Wm``
    and ``W`` tokens of a run of up to ``kn`` steps of ``n`` sequences. If time and energy are
    collinear within ``rtol`` the run is an arithmetic series: returns (steps k up to ``kn`` or
    to reach ``rem`` s, total time s, total energy J, peak power W, last power W).
    Plain arithmetic only: :mod:`dcsim.serving.kernel` compiles this very function.
    """
    e0, em, e2 = d0 * p0, dm * pm, d2 * p2
    f = Wm / W
    if not (abs(dm - d0 - (d2 - d0) * f) <= rtol * dm and abs(em - e0 - (e2 - e0) * f) <= rtol * abs(em)):
        return 0, 0.0, 0.0, 0.0, 0.0
    sd = (d2 - d0) / W * n  # dt and energy change per step
    se = (e2 - e0) / W * n
    kt = 1 if rem <= d0 else _steps_to_reach(rem, d0, sd)
    k = kn if kn < kt else kt
    m = k * (k - 1) * 0.5
    tsum = k * d0 + sd * m
    esum = k * e0 + se * m
    peak = p0
    pw = (e0 + se * (k - 1)) / (d0 + sd * (k - 1))
    if pw > peak:
        peak = pw
    return k, tsum, esum, peak, pw


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
        self.idle_gpu_power_w = float(node.idle_gpu_power_w)
        # pending FIFO of fresh requests (future and arrived-but-not-admitted), as Python lists
        self._p_t: list[float] = []  # release time: FIFO order, admissible from then (s)
        self._p_a: list[float] = []  # original arrival time: latency counts from here (s)
        self._p_c: list[int] = []
        self._p_in: list[int] = []
        self._p_out: list[int] = []
        self._ph = 0  # head index into the pending lists
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
        self.generated = 0  # output tokens generated so far (each decode step's and each first token)
        self.lost_generated = 0  # of which generated by requests a node failure took out (see drain)

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
                raise ValueError(ROWS_ARRIVAL_ERROR)
        il = n_in.tolist() if isinstance(n_in, np.ndarray) else [int(x) for x in n_in]
        ol = n_out.tolist() if isinstance(n_out, np.ndarray) else [int(x) for x in n_out]
        cl = cls.tolist() if isinstance(cls, np.ndarray) else [int(x) for x in cls]
        if not (len(il) == len(ol) == len(cl) == m):
            raise ValueError(ROWS_LENGTH_ERROR)
        if tl[0] < self._last_t or (m > 1 and not all(map(le, tl, tl[1:]))):
            raise ValueError(ROWS_ORDER_ERROR)
        if min(il) < 1 or min(ol) < 1:
            raise ValueError(ROWS_TOKENS_ERROR)
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
        D = self._D
        self.lost_generated += sum(v[_G] + D - v[_D0] if v[_UID] >= 0 and v[_DONE] >= v[_P] else v[_G]
                                   for v in seqs)
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

    def pending_out_tokens(self, arrived_before: float = math.inf) -> int:
        """Output tokens of the enqueued requests not yet admitted to a batch (fresh ones; a preempted
        sequence is in service) that arrived before ``arrived_before`` (s)."""
        ph = self._ph
        return sum(o for a, o in zip(islice(self._p_a, ph, None), islice(self._p_out, ph, None)) if a < arrived_before)

    def _set_clock(self, clock: float) -> None:
        """Switch to DVFS ``clock``: its step function (the last ``_CLOCKS_KEPT`` clocks are kept,
        so a controller moving among levels reuses them)."""
        st = self._clock_states.get(clock)
        if st is None:
            step = self.node.step_fn(clock)
            try:  # the node may accept the prefill attention context as a 4th argument
                step(1, 0, 0.0, 1.0)
                pstep = step
            except TypeError:
                pstep = None
            st = (step, pstep)
            if len(self._clock_states) >= _CLOCKS_KEPT:
                self._clock_states.pop(next(iter(self._clock_states)))
            self._clock_states[clock] = st
        self._clock = clock
        self._step, self._pstep = st

    # ------------------------------------------------------------------ the loop
    def advance(self, t_end: float, clock: float = 1.0) -> AdvanceResult:
        """Run the batching loop until ``t_end`` (s) at DVFS ``clock``; see the module docstring.

        Each pass of the loop is one of: a prefill (or mixed) iteration, a run of decode-only
        iterations, or idling until the next arrival. The phases are methods named after what
        they do; the compiled kernel (:mod:`dcsim.serving.kernel`) has one function per phase,
        in the same order.
        """
        if clock != self._clock:
            self._set_clock(clock)
        w = _Window(self.idle_gpu_power_w)
        if self.now > self._acct_t and self._carry_over(t_end, w):
            return w.result()
        chunked = self.chunked_prefill
        cap = self.kv_capacity_tokens
        while self.now < t_end:
            w.segs += 1
            preempted = False
            n_dec = self._n_dec
            if not (n_dec and not self._prefilling and not self._waiting and not self._head_released()
                    and self.kv_used + n_dec <= cap):
                # something to prefill or admit, or the decodes' KV does not fit
                if chunked and n_dec and self.kv_used + n_dec > cap:
                    preempted = self._preempt(w)  # decodes ride in every chunked iteration
                chunks, ptoks, pctx, pq = self._schedule(preempted, w)
                if ptoks:
                    self._prefill_iteration(chunks, ptoks, pctx, pq, w)
                    continue
                if self._n_dec == 0:
                    if self._waiting or self._head_released():
                        if not preempted:  # cannot happen: an empty replica admits any unshed request
                            raise RuntimeError("replica stalled with admissible requests")
                        continue  # a preemption emptied the batch; admit on the next pass
                    self._idle(t_end, w)
                    continue
            if not chunked and self.kv_used + self._n_dec > cap:
                preempted = self._preempt(w)
            self._decode(t_end, preempted, w)
        return self._close(t_end, w)

    def _head_released(self) -> bool:
        """The oldest fresh request has reached the replica (is admissible by time)."""
        return self._ph < len(self._p_t) and self._p_t[self._ph] <= self.now

    def _carry_over(self, t_end: float, w: "_Window") -> bool:
        """Account the energy of the iteration that straddled the previous ``t_end``; True if it
        also covers this whole window."""
        now = self.now
        upto = now if now <= t_end else t_end
        span = upto - self._acct_t
        w.energy += self._carry_p * span
        w.busy += span
        w.peak = self._carry_p
        self._acct_t = upto
        return now >= t_end

    def _preempt(self, w: "_Window") -> bool:
        """Preemption by recompute: evict the most recently admitted sequences until the decoding
        sequences' next KV tokens fit; they go to the front of the waiting queue (in admission
        order) keeping their generated tokens, and redo their prefill on readmission."""
        running, pf, waiting = self._running, self._prefilling, self._waiting
        cap = self.kv_capacity_tokens
        D, A = self._D, self._A
        while self.kv_used + self._n_dec > cap:
            _, v = running.popitem()
            if v[_DONE] < v[_P]:  # a prefilling sequence (chunked mode)
                pf.remove(v)
                self.kv_used -= v[_P]
            else:
                g = v[_G] + D - v[_D0]
                v[_G] = g
                v[_EJ] += A - v[_A0]
                self.kv_used -= v[_NIN] + g - 1
                self._S -= v[_NIN] + g
                self._n_dec -= 1
            v[_UID] = -1
            v[_DONE] = 0
            waiting.appendleft(v)
            w.npre += 1
        return True

    def _schedule(self, preempted: bool, w: "_Window"):
        """The prefill work of the next iteration: first continue partly prefilled prompts
        (chunked mode), then admit FIFO — preempted sequences first, then fresh requests released
        by now, shedding those that waited past ``hold_limit`` — while a batch slot, the KV
        (below the watermark) and the token budget allow. No admission after a preemption.
        Returns ``(chunks, ptoks, pctx, pq)``: ``(sequence, tokens)`` pairs, prefill tokens, the
        3-argument context sum and the prefill attention context (``prefill_ctx_sum``)."""
        chunked = self.chunked_prefill
        n_dec = self._n_dec
        budget = self.max_batched_tokens - n_dec if chunked else self.max_batched_tokens
        chunks: list = []
        ptoks = 0
        pctx = 0  # tokens attended by the last token of each chunk (3-argument steps)
        pq = 0.0  # prefill attention context summed over chunk tokens (4th argument)
        if chunked and self._prefilling and budget > 0:
            for sq in self._prefilling:
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
        if preempted or budget <= 0:
            return chunks, ptoks, pctx, pq
        now = self.now
        waiting, running = self._waiting, self._running
        p_t, p_in = self._p_t, self._p_in
        npend = len(p_t)
        hold = self.hold_limit
        # KV left for new prompts after this iteration's decode tokens (chunked mode)
        kv_lim = self.kv_admit_tokens - n_dec if chunked else self.kv_admit_tokens
        while len(running) < self.max_batch:
            ph = self._ph
            if waiting:
                sq = waiting[0]
                need = sq[_NIN] + sq[_G]
            elif ph < npend and p_t[ph] <= now:
                if now - self._p_a[ph] > hold:  # waited past the hold limit: shed, counted
                    w.shed_rows.append((self._p_c[ph], self._p_out[ph]))
                    w.out_tok += p_in[ph] + self._p_out[ph]
                    self._ph = ph + 1
                    continue
                sq = None
                need = p_in[ph]
            else:
                break
            if self.kv_used + need > kv_lim:
                break
            if not chunked and ptoks and ptoks + need > budget:
                break
            if sq is None:
                sq = [self._p_a[ph], self._p_c[ph], need, self._p_out[ph], 0, 0, 0.0, 0.0, -1.0, now, 0, 0, need]
                self._ph = ph + 1
            else:
                waiting.popleft()
                sq[_P] = need
            self._uid += 1
            sq[_UID] = self._uid
            running[self._uid] = sq
            self.kv_used += need
            c = need if (not chunked or need < budget) else budget
            if chunked:
                if c < need:
                    self._prefilling.append(sq)  # only sequences left partly prefilled wait here
                budget -= c
            chunks.append((sq, c))
            ptoks += c
            pctx += c
            pq += 0.5 * c * (c + 1)
            if chunked and budget == 0:
                break
        if self.kv_used > self.kv_peak:
            self.kv_peak = self.kv_used
        return chunks, ptoks, pctx, pq

    def _prefill_iteration(self, chunks: list, ptoks: int, pctx: int, pq: float, w: "_Window") -> None:
        """One prefill (chunked: mixed) iteration: step the node, share its energy by token,
        emit first tokens of completed prompts, move them to decoding (or finish them)."""
        chunked = self.chunked_prefill
        nd = self._n_dec if chunked else 0
        S = self._S
        if self._pstep is not None:
            dt, pw = self._pstep(ptoks, nd, S if nd else 0, pq)
        else:
            dt, pw = self._step(ptoks, nd, pctx + (S if nd else 0))
        e_it = dt * pw
        self.step_calls += 1
        now = self.now + dt
        self.now = now
        w.busy += dt
        w.energy += e_it
        w.iters += 1
        w.p_last = pw
        if pw > w.peak:
            w.peak = pw
        e_tok = e_it / (ptoks + nd)
        if nd:
            self._D += 1
            self._A += e_tok
            self._S += nd
            self.kv_used += nd
            if self.kv_used > self.kv_peak:
                self.kv_peak = self.kv_used
        pf, running, heap = self._prefilling, self._running, self._heap
        D, A = self._D, self._A
        gen = nd  # one token per decoding sequence riding in the iteration, one per prompt completed
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
            gen += 1
            if sq[_TFIRST] < 0.0:
                sq[_TFIRST] = now
            nin = sq[_NIN]
            if g >= sq[_NOUT]:
                del running[sq[_UID]]
                self.kv_used -= nin + g - 1
                w.rows.append((sq[_CLS], sq[_TARR], sq[_TADMIT], sq[_TFIRST], now, nin, g, sq[_EJ]))
                w.out_tok += nin + g
            else:
                sq[_D0] = D
                sq[_A0] = A
                self._S += nin + g
                self._n_dec += 1
                heapq.heappush(heap, ((D + sq[_NOUT] - g) << 32) | sq[_UID])
        self.generated += gen
        if nd:
            self._finish_decodes(w)

    def _idle(self, t_end: float, w: "_Window") -> None:
        """Nothing running: idle at ``idle_gpu_power_w`` until the next arrival (or ``t_end``)."""
        ph = self._ph
        tn = self._p_t[ph] if ph < len(self._p_t) else t_end
        if tn > t_end:
            tn = t_end
        span = tn - self.now
        w.idle += span
        w.energy += w.idle_p * span
        self.now = tn
        w.p_last = w.idle_p

    def _decode(self, t_end: float, preempted: bool, w: "_Window") -> None:
        """A run of decode-only iterations with the batch fixed: up to the next sequence finish,
        the KV limit, the next admissible arrival or ``t_end`` (one step after a preemption)."""
        heap, running = self._heap, self._running
        n_dec, D, S = self._n_dec, self._D, self._S
        while (heap[0] & 0xFFFFFFFF) not in running:  # drop entries of preempted sequences
            heapq.heappop(heap)
        kmax = (heap[0] >> 32) - D
        kk = (self.kv_capacity_tokens - self.kv_used) // n_dec
        if kk < kmax:
            kmax = kk
        if preempted:
            kmax = 1
        tstop = t_end
        ph = self._ph
        if ph < len(self._p_t) and not self._waiting and len(running) < self.max_batch:
            budget = self.max_batched_tokens - n_dec if self.chunked_prefill else self.max_batched_tokens
            tp = self._p_t[ph]
            if budget > 0 and self.kv_used + self._p_in[ph] <= self.kv_admit_tokens and tp < tstop:
                tstop = tp  # stop where the next request can be admitted
        k, tsum, esum, pk, pl = self._decode_run(n_dec, S, kmax, tstop - self.now)
        self.now += tsum
        w.busy += tsum
        w.energy += esum
        w.iters += k
        w.p_last = pl
        if pk > w.peak:
            w.peak = pk
        self._D = D + k
        self.generated += k * n_dec
        self._A += esum / n_dec
        self._S = S + k * n_dec
        self.kv_used += k * n_dec
        if self.kv_used > self.kv_peak:
            self.kv_peak = self.kv_used
        self._finish_decodes(w)

    def _finish_decodes(self, w: "_Window") -> None:
        """Sequences whose last token was generated by decode iteration ``D`` leave the batch."""
        heap, running = self._heap, self._running
        lim = (self._D + 1) << 32
        now, A = self.now, self._A
        while heap and heap[0] < lim:
            sq = running.pop(heapq.heappop(heap) & 0xFFFFFFFF, None)
            if sq is None:  # preempted since
                continue
            nin, no = sq[_NIN], sq[_NOUT]
            self.kv_used -= nin + no - 1
            self._S -= nin + no
            self._n_dec -= 1
            w.rows.append((sq[_CLS], sq[_TARR], sq[_TADMIT], sq[_TFIRST], now, nin, no, sq[_EJ] + A - sq[_A0]))
            w.out_tok += nin + no

    def _decode_run(self, n: int, ctx: int, kmax: int, rem: float):
        """Up to ``kmax`` decode steps of ``n`` sequences from ctx ``ctx``, stopping after the
        first step whose cumulative time reaches ``rem`` (s). Returns
        (k, total_dt, total_energy, peak_power, last_power).

        Jumping, where it pays: a run of at least :data:`JUMP_MIN_STEPS` steps is checked once —
        the node's ``dt`` and step energy at its first, middle and last step must lie on a line
        within ``jump_rtol`` — and then summed in closed form (arithmetic series; the step that
        reaches ``rem`` is the root of a quadratic). For a step function convex in ctx (the
        roofline max, dcsim.node's soft-max of compute and memory time) the run then deviates
        from the line by about ``3*jump_rtol`` at most. Otherwise, and for shorter runs, every
        step is exact.
        """
        step = self._step
        k = 0
        tsum = esum = peak = pw = 0.0
        calls = 0
        if self.jump and kmax >= JUMP_MIN_STEPS:
            d0, p0 = step(0, n, ctx)
            calls += 1
            kn = kmax  # steps the line must cover: to kmax, or to reach rem while dt does not fall
            est = rem / d0 + 2.0
            if est < kn:
                kn = int(est)
            jumped = False
            if kn >= JUMP_MIN_STEPS:
                W = (kn - 1) * n
                Wm = W // 2
                dm, pm = step(0, n, ctx + Wm)
                d2, p2 = step(0, n, ctx + W)
                calls += 2
                k, tsum, esum, peak, pw = _closed_form_run(d0, p0, dm, pm, d2, p2, W, Wm, n, kn, rem,
                                                           self.jump_rtol)
                if k:
                    ctx += k * n
                    jumped = True
            if not jumped:  # take the first step exactly (already evaluated)
                k = 1
                tsum = d0
                esum = d0 * p0
                peak = pw = p0
                ctx += n
        while k < kmax and (k == 0 or tsum < rem):  # at least one step
            dt, pw = step(0, n, ctx)
            calls += 1
            k += 1
            tsum += dt
            esum += dt * pw
            if pw > peak:
                peak = pw
            ctx += n
        self.step_calls += calls
        return k, tsum, esum, peak, pw

    def _close(self, t_end: float, w: "_Window") -> AdvanceResult:
        """Split the iteration straddling ``t_end`` (its energy after it is carried into the next
        window) and fold the window into the replica's counters."""
        now = self.now
        if now > t_end:
            over = now - t_end
            w.energy -= w.p_last * over
            w.busy -= over
            self._carry_p = w.p_last
            self._acct_t = t_end
        else:
            self._acct_t = now
        self.completed += len(w.rows)
        self.preemptions += w.npre
        self.iterations += w.iters
        self.outstanding_tokens -= w.out_tok
        self.shed += len(w.shed_rows)
        self.shed_held += len(w.shed_rows)
        return w.result()


class _Window:
    """What one :meth:`Replica.advance` accumulates over its window (see :class:`AdvanceResult`)."""

    __slots__ = ("idle_p", "energy", "busy", "idle", "peak", "iters", "segs", "npre", "rows",
                 "shed_rows", "p_last", "out_tok")

    def __init__(self, idle_p: float):
        self.idle_p = idle_p
        self.energy = self.busy = self.idle = self.peak = 0.0
        self.iters = self.segs = self.npre = self.out_tok = 0
        self.rows: list[tuple] = []
        self.shed_rows: list[tuple[int, int]] = []
        self.p_last = idle_p

    def result(self) -> AdvanceResult:
        peak = self.peak if self.peak != 0.0 else self.idle_p
        return AdvanceResult(self.energy, self.busy, self.idle, peak, self.iters, self.segs, len(self.rows),
                             self.npre, self.rows, self.shed_rows)
