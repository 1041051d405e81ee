"""Deferrable work with deadlines: a pure scheduling model (docs/grid.md §Deferrable work).

A share of the output-token demand (a batch API: results within 24 h) may wait. Each tick's
deferrable arrivals join a first-in-first-out backlog — with one deadline offset for all work,
earliest-deadline-first is first-in-first-out. Each tick the scheduler may serve up to the
`capacity` it is given (the headroom the interactive work leaves: compute, power or cooling),
and under the ``cheap`` / ``clean`` policies only in ticks whose signal (price, carbon) is at
or below a threshold — except work due within ``urgency``, which is served whatever the signal.
Nothing is ever dropped: tokens served after their deadline are counted as late, tokens still
waiting at the end are reported with the part already past its deadline.

Invariant (tested): Σ arrivals = Σ served + backlog at the end, every tick.

Wiring (phase 2): per tick the engine splits the offered demand into interactive and
deferrable, serves the interactive work first, passes the remaining token capacity here
(:class:`DeferrableQueue.step`), and adds the served deferrable tokens to the achieved rate.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

import numpy as np

__all__ = ["DeferrableQueue", "schedule_deferrable", "signal_threshold"]


def signal_threshold(signal, quantile: float) -> float:
    """The cheap/clean threshold: the `quantile` of the run's (day-ahead known) signal."""
    return float(np.quantile(np.asarray(signal, dtype=float), quantile))


@dataclass
class DeferrableQueue:
    """FIFO backlog of (arrival time, tokens left) with running totals. Mutable state for the
    tick loop; all counts in tokens, times in s."""

    deadline_s: float
    urgency_s: float
    #: arrivals within this long of the newest waiting bucket join it, keeping the bucket's
    #: (earlier) arrival time: lateness is then judged up to ``bucket_s`` early — conservative
    #: (0 = one bucket per call; the engine uses deadline/288, 5 min for a 24-h deadline)
    bucket_s: float = 0.0
    arrival_t: list = field(default_factory=list)
    left: list = field(default_factory=list)
    cum: list = field(default_factory=list)  # tokens arrived up to and including bucket k
    head: int = 0
    arrived: float = 0.0
    served: float = 0.0
    served_late: float = 0.0
    delay_token_s: float = 0.0  # Σ tokens × (completion − arrival)

    @property
    def backlog(self) -> float:
        return self.arrived - self.served

    def _due_within(self, t_s: float, horizon_s: float) -> float:
        """Tokens waiting whose deadline falls at or before t + horizon (overdue included). FIFO
        with one deadline offset: that is everything that arrived by t + horizon − deadline,
        less what has been served (O(log n))."""
        k = bisect_right(self.arrival_t, t_s + horizon_s - self.deadline_s)
        return max(self.cum[k - 1] - self.served, 0.0) if k else 0.0

    def step(self, t_s: float, dt_s: float, arrivals: float, capacity: float, open_: bool = True) -> float:
        """One tick [t, t + dt): enqueue `arrivals` (at t), serve up to `capacity` tokens — all of
        it when `open_` (headroom policy, or a cheap/clean tick), else only work due before the
        end of the urgency window. Returns the tokens served; work completing at t + dt later
        than arrival + deadline is counted late."""
        if arrivals > 0:
            self.arrived += arrivals
            if self.head < len(self.left) and t_s - self.arrival_t[-1] < self.bucket_s:
                self.left[-1] += arrivals
                self.cum[-1] = self.arrived
            else:
                self.arrival_t.append(t_s)
                self.left.append(float(arrivals))
                self.cum.append(self.arrived)
        budget = capacity if capacity > 0 else 0.0
        if budget > 0 and not open_:
            budget = min(budget, self._due_within(t_s + dt_s, self.urgency_s))
        done = 0.0
        t_end = t_s + dt_s
        while budget > 0 and self.head < len(self.left):
            k = self.head
            take = min(budget, self.left[k])
            self.left[k] -= take
            budget -= take
            done += take
            self.delay_token_s += take * (t_end - self.arrival_t[k])
            if t_end > self.arrival_t[k] + self.deadline_s:
                self.served_late += take
            if self.left[k] <= 0:
                self.head += 1
        self.served += done
        return done

    def overdue(self, t_s: float) -> float:
        """Tokens still waiting at t whose deadline has passed."""
        return self._due_within(t_s, 0.0)


def schedule_deferrable(arrivals_tok, capacity_tok, dt_s: float, deadline_s: float, *,
                        policy: str = "headroom", signal=None, threshold: float | None = None,
                        quantile: float | None = None, urgency_s: float | None = None) -> dict:
    """Run a :class:`DeferrableQueue` over ticks: `arrivals_tok` (deferrable tokens arriving per
    tick), `capacity_tok` (tokens the tick's headroom allows). For policy ``cheap``/``clean``
    the tick is open when `signal` ≤ `threshold` (or, without one, the `quantile` of `signal`), and work due
    within `urgency_s` is served in a closed tick; those policies refuse to run without the values they use (the
    scenario's defaults are :class:`dcsim.scenario.grid.DeferrableWorkSpec`'s ``quantile`` and ``urgency``; this
    model takes plain values). ``headroom`` serves every tick and uses neither.

    Returns per-tick ``served`` and ``backlog`` (end of tick) arrays and the totals
    ``arrived``, ``served``, ``served_late``, ``backlog_end``, ``overdue_end`` (tokens),
    ``mean_delay_s`` (token-weighted arrival → completion, served tokens) and ``threshold``."""
    a = np.asarray(arrivals_tok, dtype=float)
    cap = np.broadcast_to(np.asarray(capacity_tok, dtype=float), a.shape)
    if policy == "headroom":
        open_ = np.ones(a.shape, dtype=bool)
    elif policy in ("cheap", "clean"):
        if signal is None:
            raise ValueError(f"policy {policy!r} needs a signal (price or carbon per tick)")
        missing = [k for k, v in (("urgency_s", urgency_s), ("quantile", quantile if threshold is None else 0.0))
                   if v is None]
        if missing:
            raise ValueError(f"policy {policy!r} needs {' and '.join(missing)} (quantile: the share of ticks open, "
                             "unless a threshold is given; urgency_s: seconds before its deadline at which work is "
                             "served in a closed tick; a scenario's defaults: DeferrableWorkSpec().quantile, .urgency)")
        sig = np.broadcast_to(np.asarray(signal, dtype=float), a.shape)
        threshold = signal_threshold(sig, quantile) if threshold is None else float(threshold)
        open_ = sig <= threshold
    else:
        raise ValueError(f"unknown deferrable policy {policy!r} (headroom, cheap, clean)")
    q = DeferrableQueue(deadline_s, 0.0 if urgency_s is None else urgency_s)  # headroom: every tick is open
    served = np.zeros(a.size)
    backlog = np.zeros(a.size)
    for i in range(a.size):
        served[i] = q.step(i * dt_s, dt_s, float(a[i]), float(cap[i]), bool(open_[i]))
        backlog[i] = q.backlog
    end = a.size * dt_s
    return {"served": served, "backlog": backlog, "arrived": q.arrived, "served_total": q.served,
            "served_late": q.served_late, "backlog_end": q.backlog, "overdue_end": q.overdue(end),
            "mean_delay_s": q.delay_token_s / q.served if q.served > 0 else 0.0, "threshold": threshold}
