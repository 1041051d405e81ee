"""Request fidelity's facility door (``dcsim.engine.requests._Lane``): a token bucket on output tokens at the
controller's limit, two ticks deep, that releases its FIFO queue while the tokens released before a request are under
the bucket, charging each its whole answer (the bucket goes into debt, repaid by later ticks first). Until 2026-12-05
the head went only when its whole answer fitted: an answer longer than the bucket never did and blocked everything
behind it until it was shed at the hold limit (docs/slo.md, "A capped KV-bound rack on 1-s ticks")."""
from collections import deque

import numpy as np
import pytest

from dcsim.engine.requests import _Lane


def _door(hold_limit_s: float = 600.0) -> _Lane:
    """A lane with only its door's state: the FIFO of held requests and the bucket."""
    ln = _Lane.__new__(_Lane)
    ln._hold, ln._hold_n, ln._hold_tok = deque(), 0, 0
    ln._bucket = 0.0
    ln.hold_limit = hold_limit_s
    return ln


def _run_door(door_tok_s: float, n_out_ticks: list[np.ndarray], dt: float = 1.0):
    """Feed each tick's answers (arriving at the tick's start) through the door, ``_Lane._admit`` as ``_Lane.tick``
    calls it (queue, refill, release, clamp to the depth); returns the tokens released and shed per tick, and the
    released answers."""
    ln = _door()
    rel_tok, shed_tok, released = [], [], []
    for k, o in enumerate(n_out_ticks):
        t0, t1 = k * dt, (k + 1) * dt
        n = o.size
        rel, shed = ln._admit((np.full(n, t0), np.zeros(n, dtype=np.int64), np.full(n, 100, dtype=np.int64),
                               o.astype(np.int64)), door_tok_s, dt, t1)
        rel_tok.append(0.0 if rel is None else float(rel[3].sum()))
        shed_tok.append(float(shed[1].sum()))
        if rel is not None:
            released.append(rel[3])
    return np.array(rel_tok), np.array(shed_tok), (np.concatenate(released) if released else np.zeros(0))


def _reasoning_answers(rate_tok_s: float, ticks: int, seed: int = 1) -> list[np.ndarray]:
    """Answers like the reasoning preset's (lognormal, median 5,483 tokens, capped at 32,768: docs/slo.md) arriving
    at ``rate_tok_s`` of output on average; one 30,000-token answer at tick 5 (longer than a 25 k bucket)."""
    rng = np.random.default_rng(seed)
    mean = float(np.minimum(rng.lognormal(np.log(5483.0), 0.8, 100_000), 32768).mean())
    out = []
    for k in range(ticks):
        o = np.minimum(rng.lognormal(np.log(5483.0), 0.8, rng.poisson(rate_tok_s / mean)), 32768).astype(np.int64)
        if k == 5:
            o = np.concatenate([[30_000], o]).astype(np.int64)
        out.append(np.maximum(o, 1))
    return out


@pytest.mark.parametrize("door_tok_s", [12_500.0, 1_250.0])  # request fidelity's rack; a hybrid sample's tenth
def test_door_releases_a_longer_answer_than_its_bucket_and_conserves_the_limit(door_tok_s):
    """1.05x the door's rate offered for 600 one-second ticks (the capped KV-bound rack of docs/slo.md: 12.5 k tok/s,
    a bucket 25 k tokens deep; and a hybrid sample's door at a tenth of it, 2.5 k deep, shorter than most reasoning
    answers). The door does not block: it passes the limit's worth (within a bucket and an answer), sheds nothing
    within the 600-s hold limit, and lets the long answers through; and it never releases more than the limit allows:
    over the run at most limit x time plus the longest answer (the last one's debt), in any window at most
    limit x window plus the depth and the longest answer (the debt a long answer leaves is carried, not forgiven).
    Before the fix the 30,000-token answer at tick 5 (at the sample's door, the first answer over 2,501 tokens)
    blocked the door until the hold limit: 31 k of 7.5 M tokens released (none at the sample's door)."""
    ticks, dt = 600, 1.0
    answers = _reasoning_answers(1.05 * door_tok_s, ticks)
    rel, shed, released = _run_door(door_tok_s, answers, dt)
    depth = 2 * door_tok_s * dt + 1.0
    longest = float(max(o.max() for o in answers if o.size))
    # conservation: the run, and windows of 1 to 120 ticks
    assert rel.sum() <= door_tok_s * ticks * dt + longest
    cum = np.concatenate([[0.0], np.cumsum(rel)])
    for w in (1, 2, 10, 120):
        assert (cum[w:] - cum[:-w]).max() <= door_tok_s * w * dt + depth + longest, w
    # no blocking: the door passes the limit's worth, sheds nothing, and the long answers go through
    assert rel.sum() >= door_tok_s * ticks * dt - depth - longest
    assert shed.sum() == 0.0
    assert (released > depth).any()


def test_door_carries_the_debt_a_long_answer_leaves():
    """A 20,000- and a 30,000-token answer behind an empty 12.5 k tok/s bucket (25,001 deep), and a 1,000-token one
    at tick 2: the first goes at tick 0 (12,500 in the bucket: 7,500 in debt), the second at tick 1 (5,000: 25,000 in
    debt), and the third waits while the debt is repaid (-12,500 at tick 2, 0 at tick 3) to tick 4. By then the door
    has released 51,000 tokens in five ticks, within limit x time (62,500)."""
    none = np.zeros(0, dtype=np.int64)
    rel, shed, _ = _run_door(12_500.0, [np.array([20_000, 30_000]), none, np.array([1_000]), none, none, none])
    assert list(rel) == [20_000.0, 30_000.0, 0.0, 0.0, 1_000.0, 0.0]
    assert shed.sum() == 0.0
