"""A model's context window (prompt + answer, tokens) applied to requests, as vLLM applies ``max_model_len``.

vLLM's rules (the window is ``max_model_len``, by default the model's config.json ``max_position_embeddings``; dcsim
reads it from the model catalog, :func:`dcsim.node.catalog.model_max_context`):

- a prompt that leaves no room for one answer token is refused: the OpenAI server refuses ``prompt >= max_model_len``
  when the request sets no ``max_tokens`` ("This model's maximum context length is ... tokens. However, you requested
  ... tokens in the messages", ``vllm/entrypoints/openai/serving_engine.py`` ``_validate_input``, v0.10.0), and the
  engine refuses ``prompt > max_model_len`` ("The decoder prompt (length ...) is longer than the maximum model length
  of ...", the input processor's ``_validate_model_input``);
- an answer stops when prompt + answer reaches the window: the v1 scheduler's ``check_stop`` ends a request with
  ``FINISHED_LENGTH_CAPPED`` once ``request.num_tokens >= max_model_len`` (``vllm/v1/core/sched``), so the answer is cut
  at ``max_model_len - prompt`` tokens.

A request whose ``max_tokens`` would overrun the window is also refused by the OpenAI server; a trace records the
tokens generated, not the ``max_tokens`` asked, so dcsim applies the cut (assumption: the client set no ``max_tokens``
beyond the window).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dcsim.workload.lengths import LengthDist

__all__ = ["context_cut", "ContextWindowEffect", "window_effect", "WindowMoments", "window_moments",
           "MAX_EXACT_WINDOW", "BINDS_AT"]

#: share of a class's requests (refused or cut) below which a window is taken not to bind: the sums' float rounding
#: (1e-15 to 1e-13 on the shipped presets) and tails no run draws (one request in 10^9); assumption, a numerical
#: threshold, not physics. :attr:`WindowMoments.binds` and the synthetic class's warning read it.
BINDS_AT = 1e-9

#: largest window whose excess :func:`window_moments` sums exactly over integers (8 M entries, 64 MB a
#: float array); above it the excess is bounded by the two tails (assumption: a numerical budget, not physics)
MAX_EXACT_WINDOW = 1 << 23


def context_cut(n_in_tokens: np.ndarray, n_out_tokens: np.ndarray, max_context_tokens: int | np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """(kept, n_out) of requests under a context window of ``max_context_tokens`` (vLLM's ``max_model_len``; one window
    for every request, or an array of one per request, e.g. the window of the pool each request's class is routed to):
    a request whose prompt leaves no room for one answer token (``n_in >= max_context``) is refused (``kept`` False); a
    kept request's answer is cut at ``max_context - n_in`` tokens (``FINISHED_LENGTH_CAPPED``). Module docstring:
    sources. The one home of the rule: the trace replay, the sampled requests and the fluid figures all call it."""
    n_in = np.asarray(n_in_tokens, dtype=np.int64)
    n_out = np.asarray(n_out_tokens, dtype=np.int64)
    w = np.asarray(max_context_tokens, dtype=np.int64)
    kept = n_in < w
    return kept, np.minimum(n_out, np.maximum(w - n_in, 0))


@dataclass(frozen=True)
class ContextWindowEffect:
    """What a context window does to a trace's requests: refused and cut, with the prompt and output tokens they carry.
    ``classes`` names the request classes held to this window when the scenario's pools hold its classes to different
    windows ("" when every class is held to it): the counts are then of the trace's rows as if every row were drawn
    into those classes."""

    path: str
    columns: str            # the trace's input and output columns, as the warning names them
    max_context: int        # tokens
    requests: int           # requests in the trace (as replayed, before the window)
    refused: int            # requests refused: prompt >= window
    cut: int                # requests kept whose answer was cut
    out_tokens: int         # output tokens of the trace (before the window)
    refused_out_tokens: int  # output tokens the refused requests asked for
    cut_out_tokens: int     # output tokens cut from the kept answers
    in_tokens: int = 0      # prompt tokens of the trace
    refused_in_tokens: int = 0  # prompt tokens of the refused requests
    classes: str = ""       # the classes held to this window ("" : all), with their share of the requests

    def warning(self, who: str) -> str | None:
        """The run's warning (None when the window changed nothing); ``who`` names the model(s) whose window it is."""
        if not (self.refused or self.cut):
            return None
        n = max(self.requests, 1)
        parts = []
        if self.refused:
            parts.append(f"{self.refused:,} of its {self.requests:,} requests ({100 * self.refused / n:.3g} %) have a "
                         f"prompt of {self.max_context:,} tokens or more and are refused, as vLLM refuses them (their "
                         f"{self.refused_in_tokens:,} prompt tokens, {100 * self.refused_in_tokens / max(self.in_tokens, 1):.3g} % "
                         f"of the trace's, and {self.refused_out_tokens:,} output tokens never arrive)")
        if self.cut:
            parts.append(f"{self.cut:,} ({100 * self.cut / n:.3g} %) ask for more answer than the window leaves and "
                         f"are cut at {self.max_context:,} tokens less their prompt ({self.cut_out_tokens:,} output "
                         "tokens not generated)")
        lost = self.refused_out_tokens + self.cut_out_tokens
        of = f" for the requests of {self.classes}" if self.classes else ""
        return (f"workload.arrivals.path: {self.path} ({self.columns}): the context window of {who}{of} is "
                f"{self.max_context:,} tokens (prompt + answer, vLLM's max_model_len, by default the model's "
                f"max_position_embeddings): " + "; ".join(parts) + f"; in all {100 * lost / max(self.out_tokens, 1):.3g} % of the "
                "trace's output tokens are not served (report.json requests.refused_context, tokens_accounting."
                "refused_context_in/_out, cut_context_out; docs/workload.md, Context window)")


def window_effect(path: str, columns: str, n_in_tokens: np.ndarray, n_out_tokens: np.ndarray, max_context_tokens: int,
                  classes: str = "", cut: tuple[np.ndarray, np.ndarray] | None = None) -> ContextWindowEffect:
    """What :func:`context_cut` does to requests of ``n_in_tokens`` / ``n_out_tokens`` under ``max_context_tokens``
    (``cut``: the ``(kept, n_out)`` :func:`context_cut` already returned for them, so it is not made twice)."""
    n_in = np.asarray(n_in_tokens, dtype=np.int64)
    n_out = np.asarray(n_out_tokens, dtype=np.int64)
    kept, out = context_cut(n_in, n_out, max_context_tokens) if cut is None else cut
    cut_ = kept & (out < n_out)
    return ContextWindowEffect(str(path), columns, int(max_context_tokens), int(n_in.size), int((~kept).sum()),
                               int(cut_.sum()), int(n_out.sum()), int(n_out[~kept].sum()),
                               int((n_out - out)[cut_].sum()), int(n_in.sum()), int(n_in[~kept].sum()), classes)


@dataclass(frozen=True)
class WindowMoments:
    """What a context window does to a request class whose prompt I and answer O are drawn independently (as dcsim
    draws them), by :func:`context_cut`'s rule, exact over integers (:func:`window_moments`). Per arrival:
    ``p_refused`` (P(I >= w)), ``p_cut`` (P(kept and O > w - I)), ``cut_out`` (answer tokens cut, E), ``refused_in``
    and ``refused_out`` (prompt and answer tokens the refused requests carry, E). Of the requests kept (the answer
    O' = min(O, w - I)): ``mean_in`` E[I], ``mean_out`` E[O'], ``out_sq`` E[O'^2], ``in_out`` E[I O'], ``in_sq``
    E[I^2]. ``exact`` False: the window is above :data:`MAX_EXACT_WINDOW`, ``p_refused`` and ``p_cut`` are the tails'
    bound and the rest NaN."""

    p_refused: float
    p_cut: float
    cut_out: float
    refused_in: float
    refused_out: float
    mean_in: float
    mean_out: float
    out_sq: float
    in_out: float
    in_sq: float
    exact: bool = True
    max_context: int = 0    # the window, tokens

    @property
    def accepted(self) -> float:
        """The share of the class's requests the window accepts (1 - ``p_refused``)."""
        return 1.0 - self.p_refused

    @property
    def binds(self) -> bool:
        """The window refuses or cuts at least :data:`BINDS_AT` of the requests (exactly; a bound above
        :data:`MAX_EXACT_WINDOW` never binds)."""
        return self.exact and self.p_refused + self.p_cut >= BINDS_AT


def window_moments(inp: LengthDist, out: LengthDist, max_context_tokens: int) -> WindowMoments:
    """:class:`WindowMoments` of a class of prompt lengths ``inp`` and answer lengths ``out`` under a window of
    ``max_context_tokens``: sums over the integers 1..w - 1 of the prompt's pmf, each prompt i keeping the answer
    min(O, w - i), whose moments come from the answer's tail P(O >= j) (E[min(O, c)] = sum_{j<=c} P(O >= j),
    E[min(O, c)^2] = sum_{j<=c} (2j - 1) P(O >= j)). Caps that keep prompt + answer inside the window change nothing;
    a window above :data:`MAX_EXACT_WINDOW` gives the tails' bound (``exact`` False)."""
    w = int(max_context_tokens)
    m_in, m_out = float(inp.mean()), float(out.mean())
    if inp.cap + out.cap <= w:  # caps keep every request inside the window (prompt < w as out >= 1)
        o2 = float(out.var()) + m_out * m_out
        i2 = float(inp.var()) + m_in * m_in
        return WindowMoments(0.0, 0.0, 0.0, 0.0, 0.0, m_in, m_out, o2, m_in * m_out, i2, max_context=w)
    if w > MAX_EXACT_WINDOW:
        h = MAX_EXACT_WINDOW // 2
        pi, po = inp.pmf(h), out.pmf(h)
        bound = max(1.0 - pi.sum(), 0.0) + max(1.0 - po.sum(), 0.0)  # P(I > h) + P(O > h) >= P(I + O > w)
        nan = math.nan
        return WindowMoments(bound, bound, nan, nan, nan, nan, nan, nan, nan, nan, exact=False, max_context=w)
    pw = inp.pmf(w)  # prompts 0..w (entry 0 is 0)
    pi = pw[:w]  # prompts 0..w-1: the ones kept
    # P(I >= w), the tail: entry w plus the mass beyond the array (none under a cap below w), not 1 - P(kept), whose
    # rounding is ~1e-15
    p_ref = 0.0 if inp.cap < w else float(pw[w]) + max(1.0 - float(pw.sum()), 0.0)
    p_kept = 1.0 - p_ref
    po = out.pmf(w)[: w + 1]
    tail = max(1.0 - float(po.sum()), 0.0)  # P(O > w)
    so = np.cumsum(po[::-1])[::-1] + tail  # so[j] = P(O >= j), j = 0..w
    j = np.arange(so.size, dtype=float)
    m1 = np.concatenate(([0.0], np.cumsum(so[1:])))  # m1[c] = E[min(O, c)], c = 0..w
    m2 = np.concatenate(([0.0], np.cumsum((2.0 * j[1:] - 1.0) * so[1:])))  # m2[c] = E[min(O, c)^2]
    i = np.arange(1, w)
    q = pi[1:w]
    c = w - i  # the answer room each kept prompt leaves
    e1 = float(np.dot(q, m1[c]))
    p_cut = float(np.dot(q, so[c + 1]))  # P(O > c) = P(O >= c + 1); c + 1 <= w
    k = max(p_kept, 1e-300)
    ii = i.astype(float)
    return WindowMoments(
        p_refused=p_ref, p_cut=p_cut, cut_out=max(p_kept * m_out - e1, 0.0),
        refused_in=max(m_in - float(np.dot(np.arange(w, dtype=float), pi)), 0.0), refused_out=p_ref * m_out,
        mean_in=float(np.dot(ii, q)) / k, mean_out=e1 / k, out_sq=float(np.dot(q, m2[c])) / k,
        in_out=float(np.dot(q * ii, m1[c])) / k, in_sq=float(np.dot(q, ii * ii)) / k, max_context=w)

