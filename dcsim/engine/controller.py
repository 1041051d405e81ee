"""The controller: the one feedback arrow of dcsim (power/cooling headroom → caps → hold → shed).

On each controller tick it compares the work waiting (queue + arrivals, tokens/s) with what fits
in the power and cooling budgets of that tick (the exogenous ``fit_*`` rates of
:func:`dcsim.engine.loop.exogenous`) and picks an operating mode:

* the work fits at full clock with load spread evenly → ``uncapped``;
* it does not → policy ``frontier`` lowers node power caps and consolidates load so the
  facility runs on its efficient frontier (it reaches the P/Q ceilings); policy ``uniform``
  gives every node the same clock level (as POLCA-style capping does) and reaches somewhat
  less; policy ``none`` never caps (limits may be exceeded, counted in the report);
* work that still does not fit waits (admission held); work waiting longer than
  ``hold_limit`` is shed and counted — never silently lost (:func:`queue_step`).

Every change of mode and every start of shedding is logged with its time and reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["MODE_NAMES", "LOG_LIMIT", "Controller", "queue_step"]

#: Operating modes recorded per tick: full clock and even load; on the efficient frontier;
#: a uniform clock level below full (policy 'uniform').
MODE_NAMES = ("uncapped", "frontier", "uniform_cap")
#: Controller log entries kept (later ones are counted in ``log_dropped``).
LOG_LIMIT = 5000


def queue_step(backlog_tok: float, inflow_tok_s: float, limit_tok_s: float, dt_s: float,
               hold_s: float) -> tuple[float, float, float]:
    """One tick of a fluid token queue: serve, keep waiting, shed beyond the hold limit.

    ``inflow_tok_s`` tokens/s arrive during the tick. The work waiting is
    ``backlog_tok / dt + inflow_tok_s`` (tokens/s); the tick serves the smaller of that and
    ``limit_tok_s``; what remains waits, except tokens beyond ``hold_s`` seconds of service at
    the served rate, which are shed (Little's law bound on the wait). Returns
    ``(served_tok_s, backlog_tok, shed_tok)``; tokens are conserved:
    ``backlog_in + inflow·dt = served·dt + backlog_out + shed``.
    """
    need = backlog_tok / dt_s + inflow_tok_s
    s = need if need < limit_tok_s else limit_tok_s
    b = backlog_tok + inflow_tok_s * dt_s - s * dt_s
    cap_tok = hold_s * s
    sh = b - cap_tok if b > cap_tok else 0.0
    return s, b - sh, sh


@dataclass
class Controller:
    """Picks the operating mode of each tick and keeps the action log (see module docstring).

    ``policy``: 'frontier', 'uniform' or 'none'; ``hold_s``: the hold limit (s);
    ``compute_tok_s``: the compute ceiling with every replica in service (tokens/s), the limit
    of policy 'none'; ``top_level``: index of the full clock level.
    """

    policy: str
    hold_s: float
    compute_tok_s: float
    top_level: int
    mode: int = 0
    log: list = field(default_factory=list)
    log_dropped: int = 0

    def decide(self, need_tok_s: float, fit_top: float, fit_frontier: float, fit_levels: np.ndarray | None,
               availability: float) -> tuple[int, float, int]:
        """``(mode, limit_tok_s, clock_level)`` for a tick whose waiting work is ``need_tok_s``.

        ``fit_top``/``fit_frontier``: largest rate within both budgets at full clock and even
        load / on the efficient frontier; ``fit_levels[k]``: at uniform clock level k (tokens/s;
        needed by policy 'uniform' only).
        """
        k = self.top_level
        if self.policy == "none":
            return 0, self.compute_tok_s * availability, k
        if need_tok_s <= fit_top:
            return 0, fit_top, k
        if self.policy == "frontier":
            return 1, fit_frontier, k
        # uniform: the highest clock level that serves the most
        best = min(float(fit_levels.max()), need_tok_s)
        k = int(np.nonzero(fit_levels >= best * (1 - 1e-12))[0][-1])
        return 2, float(fit_levels[k]), k

    def note(self, entry: dict) -> None:
        """Append an action to the log (bounded: later entries are only counted)."""
        if len(self.log) < LOG_LIMIT:
            self.log.append(entry)
        else:
            self.log_dropped += 1

    def record(self, t_s: float, mode: int, limit_tok_s: float, demand_tok_s: float, t_out_c: float,
               shed_tok: float, shed_before: bool) -> None:
        """Log a change of mode (cap / uncap) and the start of a shedding episode at ``t_s``."""
        if mode != self.mode:
            why = ("headroom restored" if mode == 0 else
                   "power or cooling budget short: caps lowered" + (", load consolidated" if mode == 1 else ""))
            self.note({"t_s": t_s, "action": "cap" if mode else "uncap", "mode": MODE_NAMES[mode],
                       "reason": why, "demand_tok_s": demand_tok_s, "limit_tok_s": limit_tok_s,
                       "t_out_c": t_out_c})
            self.mode = mode
        if shed_tok > 0 and not shed_before:
            self.note({"t_s": t_s, "action": "shed", "tokens": shed_tok,
                       "reason": f"waiting work beyond hold_limit {self.hold_s:g} s"})
