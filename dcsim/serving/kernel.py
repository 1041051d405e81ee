"""Compiled serving kernel: the replica batching loop of :mod:`dcsim.serving.replica` over arrays.

:class:`KernelGroup` holds the replicas of one rack group (same node, same batching options) as
a structure of arrays, and :meth:`KernelGroup.tick` serves one controller tick in ONE compiled
call: route the tick's requests (the routers of :mod:`dcsim.routing`), enqueue them, and advance
every replica to the end of the tick. Finished requests land in preallocated arrays that
:class:`~dcsim.serving.replica.FinishedBatch` wraps without Python tuples.

The Python :class:`~dcsim.serving.replica.Replica` is the readable reference; each function
here is one of its phases, with the same name, doing the same floating-point operations in the
same order, and tests hold the two identical (tests/test_kernel.py). The node's iteration physics
is NOT written here: the kernel compiles :func:`dcsim.node.step.iteration_step` itself and feeds it
the opaque float tuple ``P = node.step_params(clock)``.

Data layout (R replicas, B = max_batch sequence slots per replica, Q pending slots per replica):

========================  =================  ===================================================
array                     shape / dtype      holds
========================  =================  ===================================================
``ist``                   (R, NI) int64      per-replica integer state, columns ``I_*`` below
``fst``                   (R, NF) float64    per-replica float state, columns ``F_*`` below
``si``                    (R, B, NSI) int64  sequence slots, integer fields ``S_*``
``sf``                    (R, B, NSF) f64    sequence slots, float fields ``T_*``
``lst``                   (R, 4, B) int64    slot lists: ``[0]`` running (admission order, the
                                             Python ``_running`` dict), ``[1]`` waiting ring
                                             (preempted, ``_waiting`` deque), ``[2]`` prefilling
                                             (``_prefilling`` deque), ``[3]`` free-slot stack
``pend_f``                (R, 2, Q) f64      pending ring (``_p_t``/``_p_a``): release, arrival (s)
``pend_i``                (R, 3, Q) int64    pending ring (``_p_c``/``_p_in``/``_p_out``)
``chunk``                 (2, B) int64       scratch: this iteration's prefill chunks (slot, tokens)
``win``                   (R, NW) float64    the last window of each replica (``AdvanceResult``)
``fin_f``                 (5, N) float64     finished rows: t_arrival, t_admit, t_first, t_finish,
                                             energy_j
``fin_i``                 (3, N) int64       finished rows: cls, n_in, n_out
``shed``                  (2, N) int64       shed requests: cls, n_out (KV never fits at enqueue,
                                             or waited past ``hold_limit`` in the queue)
``cnt``                   (2,) int64         rows written to ``fin_*`` and to ``shed`` this call
========================  =================  ===================================================

A sequence slot is allocated when a fresh request is admitted and freed when it finishes (a
preempted sequence keeps its slot while it waits): running + waiting never exceed ``max_batch``
(fresh requests are admitted only when no preempted one waits), so B slots suffice.
The Python heap of finish indices becomes ``I_MINFIN`` (the smallest ``S_FIN``, the decode index
at which a decoding sequence finishes) plus a scan of the running list when that index is
reached (or after a preemption, ``I_FINDIRTY``): finishers leave in admission order, as the heap's
``(finish, uid)`` keys order them.

numba compiles on first use and caches the machine code on disk (``cache=True``; when no cache
directory is writable it compiles in memory each process). The on-disk cache is flushed when the
source of this module, of the node step or of the replica helpers changes (numba itself only
watches this file). Without numba, :data:`AVAILABLE` is False and the engine falls back to the
Python reference with a run warning (:func:`dcsim.serving.pool.fallback_warning`).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import math
import types
from pathlib import Path

import numpy as np

from dcsim.node.step import iteration_step
from dcsim.serving import replica as _replica
from dcsim.serving.replica import (DEFAULT_JUMP_RTOL, DEFAULT_KV_WATERMARK, JUMP_MIN_STEPS, FinishedBatch,
                                   _closed_form_run, _steps_to_reach)

try:  # numba is a core dependency; the Python reference remains where it cannot be imported
    import numba
    from numba import njit

    AVAILABLE = True
    #: why numba could not be imported (the ImportError's message), None where it was
    IMPORT_ERROR: str | None = None
except ImportError as _e:  # pragma: no cover - exercised only without numba
    numba = None
    AVAILABLE = False
    IMPORT_ERROR = str(_e) or type(_e).__name__

__all__ = ["AVAILABLE", "IMPORT_ERROR", "KernelGroup", "ROUTER_CODES", "warm_up"]

# ---- per-replica integer state (ist columns)
(I_NDEC, I_D, I_S, I_KV, I_KVPEAK, I_UID, I_NRUN, I_WHEAD, I_WCOUNT, I_NPF, I_PHEAD, I_PCOUNT,
 I_NFREE, I_COMPLETED, I_SHED, I_SHED_HELD, I_PREEMPT, I_ITERS, I_CALLS, I_ENQUEUED, I_OUTSTANDING,
 I_MINFIN, I_FINDIRTY, I_GEN, I_LOST) = range(25)
NI = 25
# ---- per-replica float state (fst columns)
F_NOW, F_ACCT, F_CARRY, F_A = range(4)
NF = 4
# ---- sequence slot fields: integers (si) and floats (sf); names follow replica.py's _CLS, _NIN, ...
S_CLS, S_NIN, S_NOUT, S_G, S_D0, S_UID, S_DONE, S_P, S_FIN = range(9)
NSI = 9
T_ARR, T_A0, T_EJ, T_FIRST, T_ADMIT = range(5)
NSF = 5
# ---- window results (win columns), as AdvanceResult
W_ENERGY, W_BUSY, W_IDLE, W_PEAK, W_ITERS, W_SEGS, W_NFIN, W_NPRE = range(8)
NW = 8
# ---- lst rows
L_RUN, L_WAIT, L_PF, L_FREE = range(4)
# ---- configuration (cfg_i / cfg_f)
C_MAXB, C_MBT, C_CAP, C_CAPADM, C_CHUNKED, C_JUMP = range(6)
C_HOLD, C_IDLEP, C_RTOL = range(3)

_BIG = 1 << 62

#: router name -> code inside the compiled call (-1: destinations given by the caller)
ROUTER_CODES = {"round_robin": 0, "least_outstanding": 1, "power_aware": 2}


def _sources_digest() -> str:
    """Hash of every source the compiled kernel is built from (numba's cache watches one file)."""
    h = hashlib.sha256()
    for mod in (inspect.getmodule(iteration_step), _replica):
        h.update(inspect.getsource(mod).encode())
    h.update(Path(__file__).read_bytes())
    h.update(numba.__version__.encode() if numba is not None else b"")
    return h.hexdigest()[:16]


def _probe():  # a function to ask numba whether a cache locator is available for this file
    return 0


def _cache_usable() -> bool:
    if numba is None:
        return False
    try:
        from numba.core.caching import FunctionCache

        FunctionCache(_probe)
        return True
    except Exception:  # noqa: BLE001 - any failure means: compile in memory
        return False


_CACHE = _cache_usable()


def _jit(fn, inline: bool = False):
    """numba.njit with the disk cache where usable; ``inline`` inlines the phase into its caller
    at numba-IR level (no per-call argument passing or reference counting of the state arrays)."""
    if numba is None:
        return fn
    return njit(cache=_CACHE, nogil=True, boundscheck=False, inline="always" if inline else "never")(fn)


_step = _jit(iteration_step, inline=True)  # THE node step (dcsim.node.step), compiled as is
_steps = _jit(_steps_to_reach, inline=True)  # the replica's closed-form step count, compiled as is


def _rebind(fn, **names):
    """``fn`` with some of its module globals replaced (here: by their compiled versions)."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, **names}, fn.__name__, fn.__defaults__)


# the replica's closed-form decode run, compiled as is, calling the compiled _steps_to_reach
_closed = _jit(_rebind(_closed_form_run, _steps_to_reach=_steps), inline=True)


# =============================================================================== phases
def _preempt(r, cfg_i, st, npre):
    """Replica._preempt: evict the most recently admitted sequences until the decodes' KV fits."""
    ist, fst, si, sf, lst = st[0], st[1], st[2], st[3], st[4]
    cap = cfg_i[C_CAP]
    B = lst.shape[2]
    D = ist[r, I_D]
    A = fst[r, F_A]
    while ist[r, I_KV] + ist[r, I_NDEC] > cap:
        n = ist[r, I_NRUN] - 1
        v = lst[r, L_RUN, n]
        ist[r, I_NRUN] = n
        if si[r, v, S_DONE] < si[r, v, S_P]:  # a prefilling sequence (chunked mode)
            _list_remove(r, L_PF, I_NPF, v, st)
            ist[r, I_KV] -= si[r, v, S_P]
        else:
            g = si[r, v, S_G] + D - si[r, v, S_D0]
            si[r, v, S_G] = g
            sf[r, v, T_EJ] += A - sf[r, v, T_A0]
            ist[r, I_KV] -= si[r, v, S_NIN] + g - 1
            ist[r, I_S] -= si[r, v, S_NIN] + g
            ist[r, I_NDEC] -= 1
            ist[r, I_FINDIRTY] = 1  # I_MINFIN may now be below the true minimum
        si[r, v, S_UID] = -1
        si[r, v, S_DONE] = 0
        h = ist[r, I_WHEAD] - 1
        if h < 0:
            h += B
        ist[r, I_WHEAD] = h
        lst[r, L_WAIT, h] = v
        ist[r, I_WCOUNT] += 1
        npre += 1
    return npre


def _head_released(r, st, now):
    """Replica._head_released: the oldest fresh request has reached the replica."""
    ist, pend_f = st[0], st[5]
    if ist[r, I_PCOUNT] == 0:
        return False
    Q = pend_f.shape[2]
    return pend_f[r, 0, ist[r, I_PHEAD] % Q] <= now


def _schedule(r, preempted, cfg_i, cfg_f, st, out):
    """Replica._schedule: continue partly prefilled prompts, then admit FIFO (preempted first,
    then fresh requests released by now, shedding those past hold_limit). Writes the chunks to
    ``chunk``; returns (number of chunks, ptoks, pq)."""
    ist, fst, si, sf, lst, pend_f, pend_i, chunk = st[0], st[1], st[2], st[3], st[4], st[5], st[6], st[7]
    shed, cnt = out[2], out[3]
    chunked = cfg_i[C_CHUNKED] != 0
    n_dec = ist[r, I_NDEC]
    mbt = cfg_i[C_MBT]
    budget = mbt - n_dec if chunked else mbt
    nch = 0
    ptoks = 0
    pq = 0.0
    if chunked and ist[r, I_NPF] > 0 and budget > 0:
        for j in range(ist[r, I_NPF]):
            v = lst[r, L_PF, j]
            done = si[r, v, S_DONE]
            c = si[r, v, S_P] - done
            if c > budget:
                c = budget
            chunk[0, nch] = v
            chunk[1, nch] = c
            nch += 1
            ptoks += c
            pq += c * done + 0.5 * c * (c + 1)
            budget -= c
            if budget == 0:
                break
    if preempted or budget <= 0:
        return nch, ptoks, pq
    now = fst[r, F_NOW]
    hold = cfg_f[C_HOLD]
    B = lst.shape[2]
    Q = pend_f.shape[2]
    kv_lim = cfg_i[C_CAPADM] - n_dec if chunked else cfg_i[C_CAPADM]
    while ist[r, I_NRUN] < cfg_i[C_MAXB]:
        fresh = False
        v = -1
        q = 0
        if ist[r, I_WCOUNT] > 0:
            v = lst[r, L_WAIT, ist[r, I_WHEAD]]
            need = si[r, v, S_NIN] + si[r, v, S_G]
        elif ist[r, I_PCOUNT] > 0 and pend_f[r, 0, ist[r, I_PHEAD] % Q] <= now:
            q = ist[r, I_PHEAD] % Q
            if now - pend_f[r, 1, q] > hold:  # waited past the hold limit: shed, counted
                k = cnt[1]
                shed[0, k] = pend_i[r, 0, q]
                shed[1, k] = pend_i[r, 2, q]
                cnt[1] = k + 1
                ist[r, I_SHED] += 1
                ist[r, I_SHED_HELD] += 1
                ist[r, I_OUTSTANDING] -= pend_i[r, 1, q] + pend_i[r, 2, q]
                ist[r, I_PHEAD] += 1
                ist[r, I_PCOUNT] -= 1
                continue
            fresh = True
            need = pend_i[r, 1, q]
        else:
            break
        if ist[r, I_KV] + need > kv_lim:
            break
        if not chunked and ptoks > 0 and ptoks + need > budget:
            break
        if fresh:
            nf = ist[r, I_NFREE] - 1
            v = lst[r, L_FREE, nf]
            ist[r, I_NFREE] = nf
            si[r, v, S_CLS] = pend_i[r, 0, q]
            si[r, v, S_NIN] = need
            si[r, v, S_NOUT] = pend_i[r, 2, q]
            si[r, v, S_G] = 0
            si[r, v, S_D0] = 0
            si[r, v, S_DONE] = 0
            si[r, v, S_P] = need
            sf[r, v, T_ARR] = pend_f[r, 1, q]
            sf[r, v, T_A0] = 0.0
            sf[r, v, T_EJ] = 0.0
            sf[r, v, T_FIRST] = -1.0
            sf[r, v, T_ADMIT] = now
            ist[r, I_PHEAD] += 1
            ist[r, I_PCOUNT] -= 1
        else:
            h = ist[r, I_WHEAD] + 1
            if h == B:
                h = 0
            ist[r, I_WHEAD] = h
            ist[r, I_WCOUNT] -= 1
            si[r, v, S_P] = need
        uid = ist[r, I_UID] + 1
        ist[r, I_UID] = uid
        si[r, v, S_UID] = uid
        lst[r, L_RUN, ist[r, I_NRUN]] = v
        ist[r, I_NRUN] += 1
        ist[r, I_KV] += need
        c = need if (not chunked or need < budget) else budget
        if chunked:
            if c < need:
                lst[r, L_PF, ist[r, I_NPF]] = v
                ist[r, I_NPF] += 1
            budget -= c
        chunk[0, nch] = v
        chunk[1, nch] = c
        nch += 1
        ptoks += c
        pq += 0.5 * c * (c + 1)
        if chunked and budget == 0:
            break
    if ist[r, I_KV] > ist[r, I_KVPEAK]:
        ist[r, I_KVPEAK] = ist[r, I_KV]
    return nch, ptoks, pq


def _emit(r, v, now, nout, ej, st, out):
    """Write one finished request to the output rows and free its slot."""
    ist, si, sf, lst = st[0], st[2], st[3], st[4]
    fin_f, fin_i, cnt = out[0], out[1], out[3]
    k = cnt[0]
    fin_f[0, k] = sf[r, v, T_ARR]
    fin_f[1, k] = sf[r, v, T_ADMIT]
    fin_f[2, k] = sf[r, v, T_FIRST]
    fin_f[3, k] = now
    fin_f[4, k] = ej
    fin_i[0, k] = si[r, v, S_CLS]
    fin_i[1, k] = si[r, v, S_NIN]
    fin_i[2, k] = nout
    cnt[0] = k + 1
    lst[r, L_FREE, ist[r, I_NFREE]] = v
    ist[r, I_NFREE] += 1


def _list_remove(r, row, count, v, st):
    """Remove slot ``v`` from slot list ``lst[r, row]`` of length ``ist[r, count]``, keeping order
    (searched from the end: the running and prefilling lists lose their newest most often)."""
    ist, lst = st[0], st[4]
    n = ist[r, count]
    j = n - 1
    while lst[r, row, j] != v:
        j -= 1
    for q in range(j, n - 1):
        lst[r, row, q] = lst[r, row, q + 1]
    ist[r, count] = n - 1


def _finish_decodes(r, st, out):
    """Replica._finish_decodes: sequences whose last token came at decode index D leave, in
    admission order; returns their tokens (n_in + n_out) for the outstanding count."""
    ist, fst, si, sf, lst = st[0], st[1], st[2], st[3], st[4]
    D = ist[r, I_D]
    if D < ist[r, I_MINFIN]:  # I_MINFIN is a lower bound of every decoder's finish index
        return 0
    now = fst[r, F_NOW]
    A = fst[r, F_A]
    n = ist[r, I_NRUN]
    keep = 0
    out_tok = 0
    mf = _BIG
    for j in range(n):
        v = lst[r, L_RUN, j]
        if si[r, v, S_DONE] >= si[r, v, S_P]:
            if si[r, v, S_FIN] <= D:
                nin = si[r, v, S_NIN]
                no = si[r, v, S_NOUT]
                ist[r, I_KV] -= nin + no - 1
                ist[r, I_S] -= nin + no
                ist[r, I_NDEC] -= 1
                _emit(r, v, now, no, sf[r, v, T_EJ] + A - sf[r, v, T_A0], st, out)
                out_tok += nin + no
                continue
            if si[r, v, S_FIN] < mf:
                mf = si[r, v, S_FIN]
        lst[r, L_RUN, keep] = v
        keep += 1
    ist[r, I_NRUN] = keep
    ist[r, I_MINFIN] = mf
    ist[r, I_FINDIRTY] = 0
    return out_tok


def _prefill_iteration(r, nch, ptoks, pq, P, cfg_i, st, out, acc):
    """Replica._prefill_iteration: one prefill (chunked: mixed) iteration."""
    ist, fst, si, sf, lst, chunk = st[0], st[1], st[2], st[3], st[4], st[7]
    chunked = cfg_i[C_CHUNKED] != 0
    nd = ist[r, I_NDEC] if chunked else 0
    S = ist[r, I_S]
    dt, pw = _step(P, float(ptoks), float(nd), float(S if nd else 0), pq)
    e_it = dt * pw
    ist[r, I_CALLS] += 1
    now = fst[r, F_NOW] + dt
    fst[r, F_NOW] = now
    acc[W_BUSY] += dt
    acc[W_ENERGY] += e_it
    acc[W_ITERS] += 1.0
    acc[NW] = pw  # p_last
    if pw > acc[W_PEAK]:
        acc[W_PEAK] = pw
    e_tok = e_it / (ptoks + nd)
    if nd:
        ist[r, I_D] += 1
        fst[r, F_A] += e_tok
        ist[r, I_S] += nd
        ist[r, I_KV] += nd
        if ist[r, I_KV] > ist[r, I_KVPEAK]:
            ist[r, I_KVPEAK] = ist[r, I_KV]
    D = ist[r, I_D]
    A = fst[r, F_A]
    out_tok = 0
    gen = nd  # one token per decoding sequence riding in the iteration, one per prompt completed
    for j in range(nch):
        v = chunk[0, j]
        c = chunk[1, j]
        sf[r, v, T_EJ] += e_tok * c
        if chunked:
            done = si[r, v, S_DONE] + c
            si[r, v, S_DONE] = done
            if done < si[r, v, S_P]:
                continue
            npf = ist[r, I_NPF]
            if npf > 0 and lst[r, L_PF, 0] == v:
                for q in range(npf - 1):
                    lst[r, L_PF, q] = lst[r, L_PF, q + 1]
                ist[r, I_NPF] = npf - 1
        else:
            si[r, v, S_DONE] = c
        g = si[r, v, S_G] + 1
        si[r, v, S_G] = g
        gen += 1
        if sf[r, v, T_FIRST] < 0.0:
            sf[r, v, T_FIRST] = now
        nin = si[r, v, S_NIN]
        if g >= si[r, v, S_NOUT]:
            _list_remove(r, L_RUN, I_NRUN, v, st)
            ist[r, I_KV] -= nin + g - 1
            _emit(r, v, now, g, sf[r, v, T_EJ], st, out)
            out_tok += nin + g
        else:
            si[r, v, S_D0] = D
            sf[r, v, T_A0] = A
            ist[r, I_S] += nin + g
            ist[r, I_NDEC] += 1
            fin = D + si[r, v, S_NOUT] - g
            si[r, v, S_FIN] = fin
            if fin < ist[r, I_MINFIN]:
                ist[r, I_MINFIN] = fin
    ist[r, I_GEN] += gen
    if nd:
        out_tok += _finish_decodes(r, st, out)
    return out_tok


def _idle(r, t_end, st, acc, idle_p):
    """Replica._idle: idle until the next arrival (or t_end)."""
    ist, fst, pend_f = st[0], st[1], st[5]
    Q = pend_f.shape[2]
    tn = pend_f[r, 0, ist[r, I_PHEAD] % Q] if ist[r, I_PCOUNT] > 0 else t_end
    if tn > t_end:
        tn = t_end
    span = tn - fst[r, F_NOW]
    acc[W_IDLE] += span
    acc[W_ENERGY] += idle_p * span
    fst[r, F_NOW] = tn
    acc[NW] = idle_p


def _decode_run(r, n, ctx, kmax, rem, P, cfg_i, cfg_f, ist, res):
    """Replica._decode_run: k decode steps (jumped in closed form where it pays); writes
    (k, tsum, esum, peak, last power) to ``res``."""
    k = 0
    tsum = 0.0
    esum = 0.0
    peak = 0.0
    pw = 0.0
    calls = 0
    fn = float(n)
    if cfg_i[C_JUMP] != 0 and kmax >= JUMP_MIN_STEPS:
        d0, p0 = _step(P, 0.0, fn, float(ctx), -1.0)
        calls += 1
        kn = kmax
        est = rem / d0 + 2.0
        if est < kn:
            kn = int(est)
        jumped = False
        if kn >= JUMP_MIN_STEPS:
            W = (kn - 1) * n
            Wm = W // 2
            dm, pm = _step(P, 0.0, fn, float(ctx + Wm), -1.0)
            d2, p2 = _step(P, 0.0, fn, float(ctx + W), -1.0)
            calls += 2
            k, tsum, esum, peak, pw = _closed(d0, p0, dm, pm, d2, p2, W, Wm, n, kn, rem, cfg_f[C_RTOL])
            if k:
                ctx += k * n
                jumped = True
        if not jumped:
            k = 1
            tsum = d0
            esum = d0 * p0
            peak = p0
            pw = p0
            ctx += n
    while k < kmax and (k == 0 or tsum < rem):  # at least one step
        dt, pw = _step(P, 0.0, fn, float(ctx), -1.0)
        calls += 1
        k += 1
        tsum += dt
        esum += dt * pw
        if pw > peak:
            peak = pw
        ctx += n
    ist[r, I_CALLS] += calls
    res[0] = k
    res[1] = tsum
    res[2] = esum
    res[3] = peak
    res[4] = pw


def _decode(r, t_end, preempted, P, cfg_i, cfg_f, st, out, acc, res):
    """Replica._decode: a run of decode-only iterations with the batch fixed."""
    ist, fst, si, lst, pend_f, pend_i = st[0], st[1], st[2], st[4], st[5], st[6]
    n_dec = ist[r, I_NDEC]
    D = ist[r, I_D]
    S = ist[r, I_S]
    if ist[r, I_FINDIRTY] != 0:  # a decoder was preempted: recompute the next finish exactly
        mf = _BIG
        for j in range(ist[r, I_NRUN]):
            v = lst[r, L_RUN, j]
            if si[r, v, S_DONE] >= si[r, v, S_P] and si[r, v, S_FIN] < mf:
                mf = si[r, v, S_FIN]
        ist[r, I_MINFIN] = mf
        ist[r, I_FINDIRTY] = 0
    kmax = ist[r, I_MINFIN] - D
    kk = (cfg_i[C_CAP] - ist[r, I_KV]) // n_dec
    if kk < kmax:
        kmax = kk
    if preempted:
        kmax = 1
    tstop = t_end
    now = fst[r, F_NOW]
    if ist[r, I_PCOUNT] > 0 and ist[r, I_WCOUNT] == 0 and ist[r, I_NRUN] < cfg_i[C_MAXB]:
        budget = cfg_i[C_MBT] - n_dec if cfg_i[C_CHUNKED] != 0 else cfg_i[C_MBT]
        q = ist[r, I_PHEAD] % pend_f.shape[2]
        tp = pend_f[r, 0, q]
        if budget > 0 and ist[r, I_KV] + pend_i[r, 1, q] <= cfg_i[C_CAPADM] and tp < tstop:
            tstop = tp
    _decode_run(r, n_dec, S, kmax, tstop - now, P, cfg_i, cfg_f, ist, res)
    k = int(res[0])
    tsum = res[1]
    esum = res[2]
    fst[r, F_NOW] = now + tsum
    acc[W_BUSY] += tsum
    acc[W_ENERGY] += esum
    acc[W_ITERS] += k
    acc[NW] = res[4]
    if res[3] > acc[W_PEAK]:
        acc[W_PEAK] = res[3]
    ist[r, I_D] = D + k
    ist[r, I_GEN] += k * n_dec
    fst[r, F_A] += esum / n_dec
    ist[r, I_S] = S + k * n_dec
    ist[r, I_KV] += k * n_dec
    if ist[r, I_KV] > ist[r, I_KVPEAK]:
        ist[r, I_KVPEAK] = ist[r, I_KV]
    return _finish_decodes(r, st, out)


def _advance(r, t_end, P, cfg_i, cfg_f, st, out, acc, res):
    """Replica.advance for replica ``r``: the loop of phases up to ``t_end``; the window's
    results go to ``win[r]``. Returns 0, or 1 if the replica stalled (a bug, raised by the caller)."""
    ist, fst, win = st[0], st[1], st[8]
    idle_p = cfg_f[C_IDLEP]
    for j in range(NW):
        acc[j] = 0.0
    acc[NW] = idle_p  # p_last
    out_tok = 0
    npre = 0
    fin0 = out[3][0]
    chunked = cfg_i[C_CHUNKED] != 0
    cap = cfg_i[C_CAP]
    stalled = 0
    skip = False
    if fst[r, F_NOW] > fst[r, F_ACCT]:  # Replica._carry_over
        now = fst[r, F_NOW]
        upto = now if now <= t_end else t_end
        span = upto - fst[r, F_ACCT]
        acc[W_ENERGY] += fst[r, F_CARRY] * span
        acc[W_BUSY] += span
        acc[W_PEAK] = fst[r, F_CARRY]
        fst[r, F_ACCT] = upto
        skip = now >= t_end
    if not skip:
        while fst[r, F_NOW] < t_end:
            acc[W_SEGS] += 1.0
            preempted = False
            n_dec = ist[r, I_NDEC]
            if not (n_dec > 0 and ist[r, I_NPF] == 0 and ist[r, I_WCOUNT] == 0
                    and not _head_released(r, st, fst[r, F_NOW]) and ist[r, I_KV] + n_dec <= cap):
                if chunked and n_dec > 0 and ist[r, I_KV] + n_dec > cap:
                    npre = _preempt(r, cfg_i, st, npre)
                    preempted = True
                nch, ptoks, pq = _schedule(r, preempted, cfg_i, cfg_f, st, out)
                if ptoks > 0:
                    out_tok += _prefill_iteration(r, nch, ptoks, pq, P, cfg_i, st, out, acc)
                    continue
                if ist[r, I_NDEC] == 0:
                    if ist[r, I_WCOUNT] > 0 or _head_released(r, st, fst[r, F_NOW]):
                        if not preempted:
                            stalled = 1
                            break
                        continue
                    _idle(r, t_end, st, acc, idle_p)
                    continue
            if not chunked and ist[r, I_KV] + ist[r, I_NDEC] > cap:
                npre = _preempt(r, cfg_i, st, npre)
                preempted = True
            out_tok += _decode(r, t_end, preempted, P, cfg_i, cfg_f, st, out, acc, res)
        # Replica._close
        now = fst[r, F_NOW]
        if now > t_end:
            over = now - t_end
            acc[W_ENERGY] -= acc[NW] * over
            acc[W_BUSY] -= over
            fst[r, F_CARRY] = acc[NW]
            fst[r, F_ACCT] = t_end
        else:
            fst[r, F_ACCT] = now
        nfin = out[3][0] - fin0
        ist[r, I_COMPLETED] += nfin
        ist[r, I_PREEMPT] += npre
        ist[r, I_ITERS] += int(acc[W_ITERS])
        ist[r, I_OUTSTANDING] -= out_tok
    nfin = out[3][0] - fin0
    win[r, W_ENERGY] = acc[W_ENERGY]
    win[r, W_BUSY] = acc[W_BUSY]
    win[r, W_IDLE] = acc[W_IDLE]
    win[r, W_PEAK] = acc[W_PEAK] if acc[W_PEAK] != 0.0 else idle_p
    win[r, W_ITERS] = acc[W_ITERS]
    win[r, W_SEGS] = acc[W_SEGS]
    win[r, W_NFIN] = nfin
    win[r, W_NPRE] = npre
    return stalled


# =============================================================================== routing, enqueue
def _heap_less(k1, i1, k2, i2):
    return k1 < k2 or (k1 == k2 and i1 < i2)


def _sift_down(hk, hi, n, pos):
    while True:
        c = 2 * pos + 1
        if c >= n:
            break
        if c + 1 < n and _heap_less(hk[c + 1], hi[c + 1], hk[c], hi[c]):
            c += 1
        if _heap_less(hk[c], hi[c], hk[pos], hi[pos]):
            tk = hk[c]
            ti = hi[c]
            hk[c] = hk[pos]
            hi[c] = hi[pos]
            hk[pos] = tk
            hi[pos] = ti
            pos = c
        else:
            break


def _route(code, n_in, n_out, outstanding, avail, headroom, use_headroom, min_headroom, rr, dest):
    """dcsim.routing in compiled form: round robin (0), least outstanding tokens (1), power
    aware (2); the same assignment as the Python routers (ties to the lower index)."""
    R = outstanding.shape[0]
    m = n_in.shape[0]
    cand = np.empty(R, np.int64)
    nc = 0
    for i in range(R):
        if avail[i]:
            cand[nc] = i
            nc += 1
    if code == 0:
        for j in range(m):
            dest[j] = cand[(rr[0] + j) % nc]
        rr[0] = (rr[0] + m) % nc
        return
    if code == 2 and use_headroom:
        ok = 0
        for q in range(nc):
            if headroom[cand[q]] >= min_headroom:
                ok += 1
        if ok > 0:
            w = 0
            for q in range(nc):
                if headroom[cand[q]] >= min_headroom:
                    cand[w] = cand[q]
                    w += 1
            nc = w
    hk = np.empty(nc)
    hi = np.empty(nc, np.int64)
    for q in range(nc):
        hk[q] = float(outstanding[cand[q]])
        hi[q] = cand[q]
    for pos in range(nc // 2 - 1, -1, -1):
        _sift_down(hk, hi, nc, pos)
    for j in range(m):
        dest[j] = hi[0]
        hk[0] = hk[0] + float(n_in[j] + n_out[j])
        _sift_down(hk, hi, nc, 0)


def _enqueue(dest, t_rel, t_arr, cls, n_in, n_out, cfg_i, st, out):
    """Replica.enqueue_many for every request of the tick (already sorted by release time)."""
    ist, fst, pend_f, pend_i = st[0], st[1], st[5], st[6]
    shed, cnt = out[2], out[3]
    Q = pend_f.shape[2]
    lim = cfg_i[C_CAPADM]
    for j in range(t_rel.shape[0]):
        r = dest[j]
        ist[r, I_ENQUEUED] += 1
        if n_in[j] + n_out[j] > lim:  # can never fit in KV: shed, counted
            ist[r, I_SHED] += 1
            k = cnt[1]
            shed[0, k] = cls[j]
            shed[1, k] = n_out[j]
            cnt[1] = k + 1
            continue
        q = (ist[r, I_PHEAD] + ist[r, I_PCOUNT]) % Q
        pend_f[r, 0, q] = t_rel[j]
        pend_f[r, 1, q] = t_arr[j]
        pend_i[r, 0, q] = cls[j]
        pend_i[r, 1, q] = n_in[j]
        pend_i[r, 2, q] = n_out[j]
        ist[r, I_PCOUNT] += 1
        ist[r, I_OUTSTANDING] += n_in[j] + n_out[j]


def _route_group(code, n_in, n_out, ist, avail, headroom, use_headroom, min_headroom, rr, dest):
    """Route one tick's (or routing window's) requests by the replicas' outstanding tokens (writes ``dest``)."""
    outstanding = ist[:, I_OUTSTANDING].copy()
    _route(code, n_in, n_out, outstanding, avail, headroom, use_headroom, min_headroom, rr, dest)


def _tick(t_end, P, code, dest, t_rel, t_arr, cls, n_in, n_out, avail, headroom, use_headroom,
          min_headroom, rr, cfg_i, cfg_f, st, out, run_mask):
    """One controller tick of one rack group: route, enqueue, advance every replica (in order).
    Returns the index of a stalled replica, or -1."""
    ist = st[0]
    if code >= 0 and t_rel.shape[0] > 0:
        _route_group(code, n_in, n_out, ist, avail, headroom, use_headroom, min_headroom, rr, dest)
    _enqueue(dest, t_rel, t_arr, cls, n_in, n_out, cfg_i, st, out)
    return _advance_all(t_end, P, cfg_i, cfg_f, st, out, run_mask, np.zeros(ist.shape[0]), np.zeros(NW + 1),
                        np.zeros(5))


def _window_of(t, t_anchor, d, t_end):
    """Start of the routing window holding time ``t`` (windows of ``d`` s from ``t_anchor``)."""
    return min(max(t_anchor + np.floor((t - t_anchor) / d) * d, t_anchor), t_end)


def _advance_all(t, P, cfg_i, cfg_f, st, out, run_mask, esum, acc, res):
    """Advance every replica to ``t``, adding each one's energy to ``esum``; stalled replica or -1."""
    win = st[8]
    for r in range(st[0].shape[0]):
        if run_mask[r]:
            if _advance(r, t, P, cfg_i, cfg_f, st, out, acc, res):
                return r
            esum[r] += win[r, W_ENERGY]
    return -1


def _tick_windows(t_anchor, d, t_end, P, code, dest, t_rel, t_arr, cls, n_in, n_out, avail, headroom,
                  use_headroom, min_headroom, rr, cfg_i, cfg_f, st, out, run_mask, prog, tcur, esum):
    """A tick routed in windows of ``d`` s from ``t_anchor`` (dcsim.serving.pool, "routing windows"):
    each window's requests are routed on the replicas' state at its start, every replica advanced
    to it first — the same windows and order as the pool's Python loop. Resumable: from request
    ``prog[1]`` and time ``tcur[0]``; stops before a window the pending rings cannot hold
    (``prog[0] = 1``, ``prog[2]`` the slots its routed requests need on the fullest replica; the
    caller grows them and calls again). Energy per replica accumulates in
    ``esum``. Returns the index of a stalled replica, or -1."""
    ist = st[0]
    R = ist.shape[0]
    Q = st[5].shape[2]
    m = t_rel.shape[0]
    acc = np.zeros(NW + 1)
    res = np.zeros(5)
    cnts = np.zeros(R, np.int64)
    a = prog[1]
    cur = tcur[0]
    prog[0] = 0
    while a < m:
        ws = _window_of(t_rel[a], t_anchor, d, t_end)
        if ws > cur:
            bad = _advance_all(ws, P, cfg_i, cfg_f, st, out, run_mask, esum, acc, res)
            if bad >= 0:
                return bad
            cur = ws
        b = a + 1
        while b < m and _window_of(t_rel[b], t_anchor, d, t_end) == ws:
            b += 1
        te = _window_of(t_rel[b], t_anchor, d, t_end) if b < m else t_end
        _route_group(code, n_in[a:b], n_out[a:b], ist, avail, headroom, use_headroom, min_headroom, rr, dest[a:b])
        cnts[:] = 0
        for j in range(a, b):
            cnts[dest[j]] += 1
        need = 0
        for r in range(R):
            if ist[r, I_PCOUNT] + cnts[r] > need:
                need = ist[r, I_PCOUNT] + cnts[r]
        if need > Q:
            prog[0] = 1
            prog[1] = a
            prog[2] = need
            tcur[0] = cur
            return -1
        _enqueue(dest[a:b], t_rel[a:b], t_arr[a:b], cls[a:b], n_in[a:b], n_out[a:b], cfg_i, st, out)
        bad = _advance_all(te, P, cfg_i, cfg_f, st, out, run_mask, esum, acc, res)
        if bad >= 0:
            return bad
        cur = te
        a = b
    if cur < t_end:
        bad = _advance_all(t_end, P, cfg_i, cfg_f, st, out, run_mask, esum, acc, res)
        if bad >= 0:
            return bad
    prog[1] = m
    tcur[0] = t_end
    return -1


# compile every phase (each calls the others through these module globals)
(_preempt, _head_released, _schedule, _emit, _list_remove, _finish_decodes, _prefill_iteration, _idle,
 _decode_run, _decode, _heap_less, _sift_down) = (
    _jit(f, inline=True) for f in (_preempt, _head_released, _schedule, _emit, _list_remove, _finish_decodes,
                                   _prefill_iteration, _idle, _decode_run, _decode, _heap_less, _sift_down))
_window_of, _advance_all = (_jit(f, inline=True) for f in (_window_of, _advance_all))
_advance, _route, _route_group, _enqueue, _tick, _tick_windows = map(
    _jit, (_advance, _route, _route_group, _enqueue, _tick, _tick_windows))

_CHECKED = False


def _check_cache() -> None:
    """numba's cache watches only the file of the compiled function; flush it when the node step,
    the replica helpers or this module changed since it was written."""
    global _CHECKED
    if _CHECKED or not _CACHE or not hasattr(_tick, "_cache"):
        _CHECKED = True
        return
    _CHECKED = True
    try:
        path = Path(_tick._cache._cache_path)
        stamp = path / "dcsim-kernel.stamp"
        digest = _sources_digest()
        if not stamp.exists() or stamp.read_text() != digest:
            for d in (_step, _steps, _closed, _preempt, _head_released, _schedule, _emit, _list_remove, _finish_decodes,
                      _prefill_iteration, _idle, _decode_run, _decode, _advance, _heap_less, _sift_down, _route,
                      _route_group, _enqueue, _tick, _window_of, _advance_all, _tick_windows):
                d._cache.flush()
            path.mkdir(parents=True, exist_ok=True)
            stamp.write_text(digest)
    except (OSError, AttributeError):  # unwritable cache: numba recompiles in memory as needed
        pass


# =============================================================================== Python side
class KernelGroup:
    """The replicas of one rack group, served by the compiled kernel (see the module docstring).

    Same options as :class:`~dcsim.serving.replica.Replica` (one ``node`` for all replicas; it
    must provide ``step_params(clock)``). ``router`` is a name of :data:`ROUTER_CODES`, or None
    when the caller passes destinations to :meth:`tick`.
    """

    def __init__(self, node, n_replicas: int, *, router: str | None = "least_outstanding",
                 min_headroom_w: float = 0.0, chunked_prefill: bool = True,
                 kv_watermark: float = DEFAULT_KV_WATERMARK, jump: bool = True,
                 jump_rtol: float = DEFAULT_JUMP_RTOL, hold_limit: float = math.inf,
                 max_batch: int | None = None, max_batched_tokens: int | None = None,
                 kv_capacity_tokens: int | None = None, t0: float = 0.0, queue: int = 256):
        if not AVAILABLE:
            raise RuntimeError("numba is not importable: use the Python reference (serving.backend: python)")
        if not callable(getattr(node, "step_params", None)):
            raise TypeError(f"KernelGroup needs node.step_params(clock) (dcsim.node.NodeModel); "
                            f"{type(node).__name__} has none: use dcsim.serving.Replica")
        proto = _replica.Replica(node, max_batch=max_batch, max_batched_tokens=max_batched_tokens,
                                 kv_capacity_tokens=kv_capacity_tokens, chunked_prefill=chunked_prefill,
                                 kv_watermark=kv_watermark, jump=jump, jump_rtol=jump_rtol, t0=t0,
                                 hold_limit=hold_limit)  # validates the options exactly as the reference
        self.node = node
        self.n = R = int(n_replicas)
        B = proto.max_batch
        self.max_batch = B
        self.kv_admit_tokens = proto.kv_admit_tokens
        self.code = -1 if router is None else ROUTER_CODES[router]
        self.min_headroom_w = float(min_headroom_w)
        self.cfg_i = np.array([B, proto.max_batched_tokens, proto.kv_capacity_tokens, proto.kv_admit_tokens,
                               int(proto.chunked_prefill), int(proto.jump)], np.int64)
        self.cfg_f = np.array([proto.hold_limit, proto.idle_gpu_power_w, proto.jump_rtol])
        ist = np.zeros((R, NI), np.int64)
        ist[:, I_NFREE] = B
        ist[:, I_MINFIN] = _BIG
        fst = np.zeros((R, NF))
        fst[:, F_NOW] = fst[:, F_ACCT] = float(t0)
        lst = np.zeros((R, 4, B), np.int64)
        lst[:, L_FREE, :] = np.arange(B)[::-1]
        self.st = (ist, fst, np.zeros((R, B, NSI), np.int64), np.zeros((R, B, NSF)), lst,
                   np.zeros((R, 2, queue)), np.zeros((R, 3, queue), np.int64), np.zeros((2, B), np.int64),
                   np.zeros((R, NW)))
        self.out = (np.zeros((5, 1024)), np.zeros((3, 1024), np.int64), np.zeros((2, 1024), np.int64),
                    np.zeros(2, np.int64))
        self.rr = np.zeros(1, np.int64)
        self._clock = None
        self._P = None
        self._params: dict[float, tuple] = {}
        self._all = np.ones(R, dtype=bool)
        _check_cache()

    # ---------------------------------------------------------------- state views
    @property
    def ist(self) -> np.ndarray:
        return self.st[0]

    def _col(self, c: int) -> np.ndarray:
        return self.st[0][:, c].copy()

    @property
    def outstanding_tokens(self) -> np.ndarray:
        """Per replica: n_in + n_out of enqueued, unfinished requests (tokens)."""
        return self._col(I_OUTSTANDING)

    enqueued = property(lambda self: self._col(I_ENQUEUED), doc="per replica: requests offered")
    completed = property(lambda self: self._col(I_COMPLETED), doc="per replica: requests finished")
    shed = property(lambda self: self._col(I_SHED), doc="per replica: requests shed")
    shed_held = property(lambda self: self._col(I_SHED_HELD), doc="per replica: shed past hold_limit")
    preemptions = property(lambda self: self._col(I_PREEMPT), doc="per replica: preemptions")
    iterations = property(lambda self: self._col(I_ITERS), doc="per replica: batch iterations")
    step_calls = property(lambda self: self._col(I_CALLS), doc="per replica: node step evaluations")
    kv_used = property(lambda self: self._col(I_KV), doc="per replica: KV tokens held")
    kv_peak = property(lambda self: self._col(I_KVPEAK), doc="per replica: peak KV tokens")
    generated = property(lambda self: self._col(I_GEN), doc="per replica: output tokens generated")
    lost_generated = property(lambda self: self._col(I_LOST),
                              doc="per replica: of which generated by requests a node failure took out")

    @property
    def n_running(self) -> np.ndarray:
        return self._col(I_NRUN)

    @property
    def n_pending(self) -> np.ndarray:
        """Per replica: enqueued requests not in the running batch (fresh or preempted)."""
        return self._col(I_PCOUNT) + self._col(I_WCOUNT)

    def pending_out_tokens(self, arrived_before: float = math.inf) -> np.ndarray:
        """Per replica: output tokens of the enqueued requests not yet admitted (the pending ring) that
        arrived before ``arrived_before`` (s), as :meth:`dcsim.serving.replica.Replica.pending_out_tokens`."""
        ist, pend_f, pend_i = self.st[0], self.st[5], self.st[6]
        Q = pend_i.shape[2]
        k = np.arange(int(ist[:, I_PCOUNT].max(initial=0)))  # only the slots a queue can hold
        idx = (ist[:, I_PHEAD, None] + k) % Q
        live = (k < ist[:, I_PCOUNT, None]) & (np.take_along_axis(pend_f[:, 1, :], idx, axis=1) < arrived_before)
        return np.where(live, np.take_along_axis(pend_i[:, 2, :], idx, axis=1), 0).sum(axis=1)

    @property
    def window(self) -> np.ndarray:
        """(R, NW) results of the last tick: energy J, busy s, idle s, peak W, iterations,
        segments, finished, preemptions (columns ``W_*``)."""
        return self.st[8]

    # ---------------------------------------------------------------- capacity
    def _ensure(self, m: int, dest: np.ndarray | None, rings: bool = True) -> None:
        ist = self.st[0]
        if rings:
            self._grow_rings(int(ist[:, I_PCOUNT].max())
                             + (m if dest is None else int(np.bincount(dest, minlength=self.n).max())))
        rows = int(ist[:, I_PCOUNT].sum() + ist[:, I_NRUN].sum() + ist[:, I_WCOUNT].sum()) + m
        if rows > self.out[0].shape[1]:
            N = max(2 * self.out[0].shape[1], rows)
            self.out = (np.zeros((5, N)), np.zeros((3, N), np.int64), np.zeros((2, N), np.int64), self.out[3])

    def _grow_rings(self, need: int) -> None:
        """Pending rings of at least ``need`` slots per replica (contents kept, heads reset)."""
        ist = self.st[0]
        Q = self.st[5].shape[2]
        if need > Q:
            Q2 = max(2 * Q, need)
            pf, pi = self.st[5], self.st[6]
            nf, ni = np.zeros((self.n, 2, Q2)), np.zeros((self.n, 3, Q2), np.int64)
            for r in range(self.n):
                c = int(ist[r, I_PCOUNT])
                idx = (int(ist[r, I_PHEAD]) + np.arange(c)) % Q
                nf[r, :, :c] = pf[r][:, idx]
                ni[r, :, :c] = pi[r][:, idx]
            ist[:, I_PHEAD] = 0
            self.st = self.st[:5] + (nf, ni) + self.st[7:]

    def _params_at(self, clock: float) -> tuple:
        P = self._params.get(clock)
        if P is None:
            P = tuple(float(x) for x in self.node.step_params(clock))
            if len(self._params) >= 8:
                self._params.pop(next(iter(self._params)))
            self._params[clock] = P
        return P

    # ---------------------------------------------------------------- one tick
    def tick(self, t_end: float, clock: float, t_rel: np.ndarray, t_arr: np.ndarray, cls: np.ndarray,
             n_in: np.ndarray, n_out: np.ndarray, *, dest: np.ndarray | None = None,
             available: np.ndarray | None = None, headroom_w: np.ndarray | None = None,
             route_from: float | None = None, route_interval_s: float = 0.0):
        """Route and enqueue the tick's requests (sorted by release time ``t_rel``; ``t_arr`` the
        original arrivals) and advance every replica to ``t_end`` at DVFS ``clock``.

        Returns ``(finished, shed_cls, shed_n_out)``: a :class:`FinishedBatch` of the requests
        finished in the tick (replica by replica, each in finish order, as the reference) and the
        class and output tokens of the requests shed (KV never fits, or past ``hold_limit``).
        Per-replica window results are in :attr:`window`, the replica of each request in
        :attr:`last_dest`. With ``route_from`` (the time the replicas were advanced to) and
        ``route_interval_s`` > 0, the tick is routed in windows (:mod:`dcsim.serving.pool`); the
        window's energy column is then the tick's. The rows are checked (``ValueError``, as the reference replica
        checks its own); :class:`dcsim.serving.pool.KernelPool`, which checks them once for the whole pool, calls
        :meth:`tick_rows` instead.
        """
        _replica.check_request_arrays(np.asarray(t_rel, float), np.asarray(t_arr, float), np.asarray(cls),
                                      np.asarray(n_in), np.asarray(n_out))
        return self.tick_rows(t_end, clock, t_rel, t_arr, cls, n_in, n_out, dest=dest, available=available,
                              headroom_w=headroom_w, route_from=route_from, route_interval_s=route_interval_s)

    def tick_rows(self, t_end: float, clock: float, t_rel: np.ndarray, t_arr: np.ndarray, cls: np.ndarray,
                  n_in: np.ndarray, n_out: np.ndarray, *, dest: np.ndarray | None = None,
                  available: np.ndarray | None = None, headroom_w: np.ndarray | None = None,
                  route_from: float | None = None, route_interval_s: float = 0.0):
        """:meth:`tick` on rows already checked (the pool's ``_check_rows``): not checked again."""
        m = len(t_rel)
        given = dest is not None
        if not given and self.code < 0:
            raise ValueError("this group has no router: pass dest")
        avail = self._all if available is None else np.asarray(available, dtype=np.bool_)
        if m and not avail.any():
            raise ValueError("no replica available to route to")
        hr = np.zeros(self.n) if headroom_w is None else np.asarray(headroom_w, dtype=float)
        n_in = np.asarray(n_in, np.int64)
        n_out = np.asarray(n_out, np.int64)
        if (not given and m and route_interval_s > 0 and route_from is not None
                and t_end - route_from > route_interval_s):
            return self._tick_windows(float(route_from), float(route_interval_s), float(t_end), clock,
                                      np.asarray(t_rel, float), np.asarray(t_arr, float), np.asarray(cls, np.int64),
                                      n_in, n_out, avail, hr, headroom_w is not None)
        if not given:
            dest = np.zeros(m, np.int64)
            if m and int(self.st[0][:, I_PCOUNT].max()) + m > self.st[5].shape[2]:
                # the pending rings might overflow if every request went to one replica: route
                # first (the same compiled router and state), then size the rings exactly
                _route_group(self.code, n_in, n_out, self.st[0], avail, hr, headroom_w is not None,
                             self.min_headroom_w, self.rr, dest)
                given = True
        self._ensure(m, dest if given else None)
        cnt = self.out[3]
        cnt[:] = 0
        bad = _tick(float(t_end), self._params_at(clock), -1 if given else self.code, dest,
                    np.asarray(t_rel, float), np.asarray(t_arr, float), np.asarray(cls, np.int64),
                    n_in, n_out, avail, hr, headroom_w is not None,
                    self.min_headroom_w, self.rr, self.cfg_i, self.cfg_f, self.st, self.out, self._all)
        if bad >= 0:
            raise RuntimeError(f"replica {bad} stalled with admissible requests")
        return self._results(dest)

    def _results(self, dest: np.ndarray):
        """The tick's finished requests and shed (class, output tokens), copied out of the kernel's
        arrays; ``dest`` is kept as :attr:`last_dest`."""
        self.last_dest = dest
        cnt = self.out[3]
        nf, ns = int(cnt[0]), int(cnt[1])
        ff, fi, sh = self.out[0], self.out[1], self.out[2]
        fin = FinishedBatch(fi[0, :nf].copy(), ff[0, :nf].copy(), ff[1, :nf].copy(), ff[2, :nf].copy(),
                            ff[3, :nf].copy(), fi[1, :nf].copy(), fi[2, :nf].copy(), ff[4, :nf].copy())
        return fin, sh[0, :ns].copy(), sh[1, :ns].copy()

    def _tick_windows(self, t0, d, t_end, clock, t_rel, t_arr, cls, n_in, n_out, avail, hr, use_hr):
        """:meth:`tick` routed in windows of ``d`` s from ``t0`` (compiled loop, resumed when a
        window does not fit the pending rings)."""
        m = len(t_rel)
        dest = np.zeros(m, np.int64)
        self._ensure(m, None, rings=False)
        cnt = self.out[3]
        cnt[:] = 0
        prog, tcur, esum = np.zeros(3, np.int64), np.array([t0]), np.zeros(self.n)
        P = self._params_at(clock)
        while True:
            bad = _tick_windows(t0, d, t_end, P, self.code, dest, t_rel, t_arr, cls, n_in, n_out, avail, hr, use_hr,
                                self.min_headroom_w, self.rr, self.cfg_i, self.cfg_f, self.st, self.out, self._all,
                                prog, tcur, esum)
            if bad >= 0:
                raise RuntimeError(f"replica {bad} stalled with admissible requests")
            if prog[0] == 0:
                break
            # the window from request prog[1] does not fit: rings for its routed requests (prog[2]
            # on the fullest replica; doubled at least). Not the rest of the tick on one replica:
            # requests held at the door are released together at a tick's start, all in its first
            # window, and sizing for all of them on one replica took the reference day's rings of
            # 80 replicas from 4,096 to 64,088 slots (196 MiB; peak RSS 481 -> 310 MiB, rings 8,192)
            self._grow_rings(int(prog[2]))
        self.st[8][:, W_ENERGY] = esum
        return self._results(dest)

    # ---------------------------------------------------------------- failures
    def drain(self, r: int) -> list[tuple[float, int, int, int]]:
        """Replica.drain for replica ``r``: every unfinished request ``(t_arrival, cls, n_in,
        n_out)`` in arrival order; the replica is left empty and idle."""
        ist, fst, si, sf, lst, pf, pi = self.st[:7]
        B = self.max_batch
        Q = pf.shape[2]
        slots = [int(v) for v in lst[r, L_RUN, :ist[r, I_NRUN]]]
        slots += [int(lst[r, L_WAIT, (ist[r, I_WHEAD] + j) % B]) for j in range(ist[r, I_WCOUNT])]
        out = [(float(sf[r, v, T_ARR]), int(si[r, v, S_CLS]), int(si[r, v, S_NIN]), int(si[r, v, S_NOUT]))
               for v in slots]
        D = int(ist[r, I_D])  # their generated tokens are lost (Replica.drain)
        ist[r, I_LOST] += sum(int(si[r, v, S_G]) + (D - int(si[r, v, S_D0])
                                                    if si[r, v, S_UID] >= 0 and si[r, v, S_DONE] >= si[r, v, S_P] else 0)
                              for v in slots)
        idx = (int(ist[r, I_PHEAD]) + np.arange(int(ist[r, I_PCOUNT]))) % Q
        out += list(zip(pf[r, 1, idx].tolist(), pi[r, 0, idx].tolist(), pi[r, 1, idx].tolist(),
                        pi[r, 2, idx].tolist()))
        out.sort(key=lambda x: x[0])
        ist[r, I_NRUN] = ist[r, I_WCOUNT] = ist[r, I_NPF] = ist[r, I_PCOUNT] = ist[r, I_PHEAD] = 0
        ist[r, I_WHEAD] = 0
        lst[r, L_FREE, :] = np.arange(B)[::-1]
        ist[r, I_NFREE] = B
        ist[r, I_NDEC] = ist[r, I_S] = ist[r, I_KV] = ist[r, I_OUTSTANDING] = ist[r, I_FINDIRTY] = 0
        ist[r, I_MINFIN] = _BIG
        ist[r, I_ENQUEUED] -= len(out)
        return out


_WARM = False


def warm_up(node) -> float:
    """Compile (or load from the disk cache) the kernel on a tiny group of ``node`` (any built
    :class:`dcsim.node.NodeModel`: the compiled code depends on the argument types, not the node), once per process;
    returns seconds spent. The replica pool calls it with its first node when it is built, before a run's clock
    starts, so compilation is never counted as run time. The caller passes the node: the serving layer builds no
    scenario spec of its own (until 2026-12-06 this built one from ``dcsim.scenario.node.NodeSpec``, the one import
    of the input layer in the kernel, which ``pyproject.toml``'s import contract now forbids)."""
    import time

    global _WARM
    t0 = time.perf_counter()
    if AVAILABLE and not _WARM:
        _say_if_cold()
        with _ctrl_c_deferred():
            g = KernelGroup(node, 2, max_batch=4, hold_limit=60.0)
            g.tick(1.0, 1.0, np.array([0.1, 0.2]), np.array([0.1, 0.2]), np.zeros(2, np.int64),
                   np.array([100, 200]), np.array([20, 30]), headroom_w=np.zeros(2))
        _WARM = True
    return time.perf_counter() - t0


def _say_if_cold() -> None:
    """One line on a terminal or in a notebook when the kernel compiles rather than loads from the disk cache: a
    first run after an install or a code change compiled for 25-75 s and printed nothing (the audit of the API,
    finding 4: 49.5 and 75.8 s first runs; the compile alone 26-34 s on a 2-core machine). It reads numba's own cache
    folder after :func:`_check_cache` (which flushes it when the sources changed). Quiet elsewhere (pipes, captured
    output)."""
    import sys

    _check_cache()
    try:
        cached = _CACHE and any(Path(_tick._cache._cache_path).glob("*.nbi"))
    except AttributeError:
        cached = False
    if cached:
        return
    interactive = "ipykernel" in sys.modules or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
    if interactive:
        sys.stderr.write("dcsim: compiling the request-level kernel with numba (the first run after an install or a "
                         "code change: 25-75 s on a 2-core machine; cached on disk afterwards)\n")
        sys.stderr.flush()


@contextlib.contextmanager
def _ctrl_c_deferred():
    """Hold a Ctrl-C back while numba compiles or loads its cache, and raise it right after.

    numba's cache loader runs inside a ctypes callback; a KeyboardInterrupt raised there is
    printed as "Exception ignored ... Traceback" and then LOST, so the run went on to the end
    (exit 0) although the user had pressed Ctrl-C (found by tests/test_hostile.py under load)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield  # not ours to change (a worker thread, or the caller handles SIGINT itself)
        return
    pressed = []
    signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if pressed:
        raise KeyboardInterrupt
