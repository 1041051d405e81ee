"""The closed-form Token Production Function (TPF).

The token rate a facility can sustain is the smallest of four ceilings
(Liu, Yuan et al., "Position: LLM Inference Should Be Evaluated as
Energy-to-Token Production", arXiv 2605.11733, 2026; dcsim DESIGN.md)::

    T = min( D,                         demand            [tokens/s]
             C = K_eff / F_tok,         compute           [FLOP/s / (FLOP/token)]
             P = θ·P_deliv / (PUE·E_tok), delivered power [W / (J/token)]
             Q = Q_rej / E_tok )        cooling           [W of heat / (J/token)]

* ``F_tok``   FLOP per output token (prefill work of the request amortised in), FLOP/token
* ``E_tok``   IT energy per output token (GPU + server + rack), J/token; all of it becomes heat
* ``K_eff``   roofline-effective compute (not peak), FLOP/s
* ``P_deliv`` power available at the utility meter (the interconnect cap), W
* ``PUE``     facility power / IT power at the operating point, dimensionless ≥ 1
* ``Q_rej``   heat of IT the cooling plant can reject now, W (its capacity less the in-room
              power-chain losses it also rejects: :func:`dcsim.engine.steady.heat_rejection_it_w`)
* ``θ``       accounting factor of the position paper, dimensionless (default 1)

Every function takes numpy arrays (or scalars) and broadcasts. In the closed form the
binding constraint is ``demand`` when D does not exceed any supply ceiling, otherwise the
argmin of C, P, Q (:func:`binding_of`; in a simulation this input-only argmin is the
*potential* binding). A simulation's binding is what held the served rate down
(:func:`binding_simulated`): ``demand`` only when all work waiting was served. ``slack_x = ceiling_x / achieved - 1`` is the fractional
headroom of ceiling x over the achieved rate (0 for the binding one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BINDING_NAMES",
    "band_ratio_window",
    "ceilings_within_band",
    "limits_within_band",
    "cooling_binds_text",
    "binding_of_pool",
    "binding_that_holds",
    "facility_binding",
    "facility_bound_pool",
    "near_tie_margin",
    "serving_share",
    "CROSSOVER_INTERCONNECT_RANGE_X",
    "CROSSOVER_GPU_RANGE_X",
    "CROSSOVER_T_OUT_RANGE_C",
    "CROSSOVER_T_OUT_STEP_C",
    "TPF",
    "token_production",
    "binding_of",
    "binding_simulated",
    "overrun_running_tok",
    "overrun_window_tok",
    "OVERRUN_WINDOW_S",
    "OVERRUN_Z",
    "MODE_NAMES",
    "MODE_SHED",
    "capped_ticks",
    "closed_door",
    "in_service",
]

#: Names of the binding constraints, indexed by the integer codes used in time series.
BINDING_NAMES: tuple[str, ...] = ("demand", "compute", "power", "cooling")

#: Operating modes recorded per tick (timeseries ``mode``, by code): full clock and even load; on the efficient
#: frontier; a uniform clock level below full (policy 'uniform', or the thermal throttle); IT shed for temperature
#: (``facility.thermal``: every GPU out of service, nothing served, no clock run — the tick's ``clock_level`` and
#: clocks are the lowest level's, a placeholder no replica ran at; docs/thermal-dynamics.md). The engine's
#: controller (:mod:`dcsim.engine.controller`) decides the first three; the thermal model's shed
#: (:meth:`dcsim.engine.flex.FlexChunk.thermal_limit`) sets the fourth. Here, beside :data:`BINDING_NAMES`, so that
#: every layer that reads a recorded ``mode`` (serving's SLO estimate included) asks the same codes.
MODE_NAMES: tuple[str, ...] = ("uncapped", "frontier", "uniform_cap", "shed")
#: The code of a tick on which IT was shed for temperature.
MODE_SHED = MODE_NAMES.index("shed")
#: The codes of a tick the controller capped (power, cooling or the thermal throttle); :func:`capped_ticks` is the
#: one reader.
_CAPPED_MODES = (MODE_NAMES.index("frontier"), MODE_NAMES.index("uniform_cap"))
#: The code of a tick nothing limited (the door open).
_OPEN_MODE = MODE_NAMES.index("uncapped")


def closed_door(mode) -> np.ndarray:
    """Ticks whose door was closed (bools, or one bool for one code) from the recorded ``mode`` codes: the ticks the
    controller capped (:func:`capped_ticks`, without its in-service test) and those on which IT was shed for
    temperature (:data:`MODE_SHED`, no replica admits): every code but uncapped. The one spelling of what the
    request lane's ``capped`` (:mod:`dcsim.engine.loop`), the binding label's capped-below-full-clock ticks and the
    SLO estimate's door (:mod:`dcsim.serving.slo_estimate`) read."""
    return np.asarray(mode) != _OPEN_MODE


def capped_ticks(mode, ts: dict | None = None) -> np.ndarray:
    """Ticks the controller capped (bools) from the recorded ``mode`` codes: frontier or uniform_cap. Not a shed tick (:data:`MODE_SHED`), which runs no clock; and, given the run's columns ``ts``, not a
    tick with no GPU in service (:func:`in_service`) either: the thermal throttle records uniform_cap on a tick on
    which every GPU had failed (:meth:`dcsim.engine.flex.FlexChunk.thermal_limit`), and such a tick is out of service,
    not capped (so that uncapped + capped + out of service = 1: :func:`dcsim.metrics.summary.controller_figures`).
    Where a closed door is meant (a shed tick admits nothing either) a reader asks :func:`closed_door`."""
    capped = np.isin(np.asarray(mode), _CAPPED_MODES)
    return capped if ts is None else capped & in_service(ts)


def in_service(ts: dict) -> np.ndarray:
    """Ticks with at least one GPU in service (bools) from the run's columns: not those on which IT was shed for
    temperature (``facility.thermal``: the replicas off, ``gpus_in_service`` 0, mode ``shed``,
    docs/thermal-dynamics.md) or every GPU failed. Such a tick serves nothing and runs no clock."""
    return np.asarray(ts["gpus_in_service"], float) > 0


def serving_share(ts: dict, gpus: int) -> np.ndarray:
    """Per tick, the share of a fleet of ``gpus`` GPUs serving, from the run's columns: those in service
    (``gpus_in_service`` over ``gpus``; a fleet of none reads 0), and with ``controller.idle_power_down`` (an
    ``awake_fraction`` column) no more than the share awake. The one reading of it that the fluid SLO estimate
    (:func:`dcsim.serving.slo_estimate.estimate_for_run`), the replicas serving it is handed
    (``dcsim.engine.assemble._serving``) and the deferrable work's frontier share (``assemble.interactive_view``)
    take (until 2026-12-05 each worked it out)."""
    share = np.asarray(ts["gpus_in_service"], float) / max(gpus, 1)
    if "awake_fraction" in ts:
        share = np.minimum(share, np.asarray(ts["awake_fraction"], float))
    return share


#: The ranges the closed form's crossover searches scan (:func:`dcsim.engine.steady.crossovers`, ``tpf.moments.*.
#: crossover`` of report.json): a crossover outside them is reported as none (NaN), and ``dcsim tpf`` says which range
#: it searched from these. Search bounds chosen to hold any facility the scenario format describes, not measurements:
#: the interconnect and the GPU count as multiples of the scenario's own (a facility rebuilt at each), the outdoor
#: dry-bulb in degC (the wet-bulb depression of the moment kept).
CROSSOVER_INTERCONNECT_RANGE_X: tuple[float, float] = (1e-3, 100.0)
CROSSOVER_GPU_RANGE_X: tuple[float, float] = (1e-3, 1e3)
CROSSOVER_T_OUT_RANGE_C: tuple[float, float] = (-30.0, 55.0)
#: Grid step (degC) of the outdoor-temperature search: the binding is read on a grid this fine over
#: :data:`CROSSOVER_T_OUT_RANGE_C`, and each change between two grid points is bisected. The cooling limit is no
#: monotone function of temperature (below its rating the plant's capacity is flat while the power budget grows in
#: the cold as PUE falls, so cooling can bind in the cold, power in the mild, cooling in the heat), so comparing the
#: range's two ends misses crossovers. A span of one binding narrower than this step may be missed. Search
#: resolution chosen, not a measurement.
CROSSOVER_T_OUT_STEP_C: float = 0.25


def cooling_binds_text(spans, t_lo: float, t_hi: float) -> str:
    """Where cooling binds over the outdoor temperatures searched, in a planner's words: ``spans`` the
    ``crossover.cooling_binds_t_out_c`` list of :func:`dcsim.engine.steady.crossovers` (``from_c``/``to_c``, None
    where the span reaches the end of the searched range ``t_lo``..``t_hi`` °C). "cooling binds below 15.0 °C and
    above 39.9 °C"; "cooling binds nowhere in -30..55 °C" where it binds nowhere in the range (until 2026-12-05
    "cooling binds above (none in ...)", the single-crossover wording with no temperature)."""
    rng = f"{t_lo:g}..{t_hi:g} °C"
    if not spans:
        return f"cooling binds nowhere in {rng}"
    parts = []
    for s in spans:
        lo, hi = s.get("from_c"), s.get("to_c")
        if lo is None and hi is None:
            return f"cooling binds at every outdoor temperature searched ({rng})"
        parts.append(f"below {hi:.1f} °C" if lo is None else f"above {lo:.1f} °C" if hi is None
                     else f"between {lo:.1f} and {hi:.1f} °C")
    return "cooling binds " + " and ".join(parts)


@dataclass(frozen=True)
class TPF:
    """Ceilings (tokens/s), achieved rate (tokens/s), the binding constraint and slacks.

    ``binding`` is the constraint's name, a str for scalar input (``"cooling"``) and an array of str for arrays;
    ``binding_code`` holds the int codes into :data:`BINDING_NAMES` that the engine's time series use. Until
    2026-12-05 ``binding`` was the code, ``np.int8(1)`` for compute (walkthrough: the public closed form answered
    a number where the README reads a name)."""

    demand_tok_s: np.ndarray
    compute_tok_s: np.ndarray
    power_tok_s: np.ndarray
    cooling_tok_s: np.ndarray
    achieved_tok_s: np.ndarray
    binding_code: np.ndarray  # int codes into BINDING_NAMES

    @property
    def binding(self) -> str | np.ndarray:
        """The binding constraint's name: a str for scalar input, an array of str (object dtype) for arrays."""
        names = np.asarray(BINDING_NAMES, dtype=object)[self.binding_code]
        return names if np.ndim(names) else str(names)

    @property
    def binding_name(self) -> str | np.ndarray:
        """The same as :attr:`binding` (its name before 2026-12-05, when ``binding`` held the codes)."""
        return self.binding

    def slack(self) -> dict[str, np.ndarray]:
        """Fractional headroom of each ceiling over the achieved rate (dimensionless)."""
        a = np.where(self.achieved_tok_s > 0, self.achieved_tok_s, np.nan)
        return {
            "demand": self.demand_tok_s / a - 1.0,
            "compute": self.compute_tok_s / a - 1.0,
            "power": self.power_tok_s / a - 1.0,
            "cooling": self.cooling_tok_s / a - 1.0,
        }

    def as_dict(self) -> dict:
        """Plain-python summary (scalars as floats), for reports and printing."""
        out = {
            "demand_tok_s": self.demand_tok_s,
            "compute_tok_s": self.compute_tok_s,
            "power_tok_s": self.power_tok_s,
            "cooling_tok_s": self.cooling_tok_s,
            "achieved_tok_s": self.achieved_tok_s,
        }
        out = {k: (float(v) if np.ndim(v) == 0 else np.asarray(v).tolist()) for k, v in out.items()}
        out["binding"] = self.binding if np.ndim(self.binding_code) == 0 else list(self.binding)
        out["slack"] = {k: (float(v) if np.ndim(v) == 0 else np.asarray(v).tolist()) for k, v in self.slack().items()}
        return out


def binding_that_holds(shares) -> tuple[str | None, float]:
    """What binds most of a run, from its shares of time (``binding.share``: name -> fraction), and that share.

    The constraint with the largest share, except where demand has it but the limits (compute, power, cooling)
    together bind longer: then the limit binding the longest. Its share is demand's where demand holds the run, else
    the share of the run *some* limit binds (whichever limit leads). A planner
    asks whether a limit binds, and the plurality of four labels hides it (reference: demand 42.6 % of the day, a
    limit 57.4 %). (None, nan) without shares. The summary's headline, report.html's card and the sweep figure's
    markers and map read this rule."""
    sh = {k: float(v) for k, v in (shares or {}).items() if k in BINDING_NAMES and isinstance(v, (int, float))
          and not isinstance(v, bool) and v == v}
    if not sh:
        return None, float("nan")
    top = max(BINDING_NAMES, key=lambda k: sh.get(k, -1.0))  # the first of a tie, as binding.most_common
    limits = {k: v for k, v in sh.items() if k != "demand" and v > 0}
    if (top == "demand" and sum(limits.values()) <= sh["demand"]) or not limits:
        return top, sh[top]
    # a limit holds the run: the longest (a tie: BINDING_NAMES' order), with the share *some* limit binds, whichever
    # limit leads (a plurality limit's own share read less limit time than a demand-led run's sum)
    return max((k for k in BINDING_NAMES if k in limits), key=limits.get), sum(limits.values())


def facility_bound_pool(pool_binding, short, offered) -> np.ndarray:
    """The index of the pool whose binding is the facility's (:func:`facility_binding`, which documents the rule):
    the bound pool with the largest relative shortfall, shape ``pool_binding.shape[:-1]``; a tie the first pool, and
    pool 0 where no pool is bound (the facility's binding is then demand)."""
    b = np.asarray(pool_binding)
    s, o = (np.asarray(x, dtype=float) for x in (short, offered))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(o > 0, np.maximum(s, 0.0) / np.where(o > 0, o, 1.0), 0.0)
    return np.argmax(np.where(b != 0, 1.0 + rel, 0.0), axis=-1)


def facility_binding(pool_binding, short, offered) -> np.ndarray:
    """The facility's binding with several model pools: that of the pool furthest short *for its own work*.

    ``pool_binding``: each pool's code (:data:`BINDING_NAMES`), shape (..., pools); ``short``: what each pool did not
    serve of its work (the simulation: tokens held past the tick + shed; the closed form: demand - achieved, tokens/s);
    ``offered``: that work in the same unit (queue + the tick's arrivals; the demand). Returns the code of the bound
    pool (code not 0) with the largest relative shortfall ``short / offered``; a bound pool short of nothing (critically
    loaded: it holds work its record does not count) before an unbound one; ties the first pool; demand (0) when no
    pool is bound.

    Why relative: the pools serve different models, and a 405B-class output token is not the work of a 70B one (~5.8x
    the FLOPs, other Joules), so a shortfall in tokens compares the two models' tokens and names the pool with the
    many cheap tokens (mixed-fleet at 21:00-22:05 read compute, its 70B chat pool's held tokens outnumbering the
    reasoning pool's, while the facility ran on its shared power budget). The share of its own work a pool could not
    serve is a pure number in every model's units and answers the planner's question: whose users lost most, and to
    what. Weighting the tokens by FLOPs or Joules instead would rank a pool by its model's size or by its operating
    point. Used by the simulation (:meth:`dcsim.engine.pools.PoolTicker.record`) and the closed form
    (:func:`dcsim.engine.steady.ceilings_at`) alike; until 2026-12-05 the one named the pool holding back the most
    tokens and the other the pool with the largest deficit in tokens/s."""
    b = np.asarray(pool_binding)
    return binding_of_pool(b, facility_bound_pool(b, short, offered))


def binding_of_pool(pool_binding, pool) -> np.ndarray:
    """The binding code (int8) of pool ``pool`` (shape ``pool_binding.shape[:-1]``) in ``pool_binding`` (..., pools):
    the facility's binding once :func:`facility_bound_pool` has named its pool."""
    b = np.asarray(pool_binding)
    return np.take_along_axis(b, np.asarray(pool)[..., None], axis=-1)[..., 0].astype(np.int8)


def binding_of(demand, compute, power, cooling) -> np.ndarray:
    """Integer binding code per element: 0 demand if D ≤ min(C, P, Q), else argmin of C, P, Q (1..3).

    Ties among supply ceilings resolve in the order compute, power, cooling.

    A chain of two strict comparisons (power below compute, cooling below the lower of the two): the first of
    equal ceilings keeps the label, as ``argmin`` of the stacked ceilings does, and the result is the same for
    every input (tests/test_tpf.py holds it to the stack-and-argmin form on ties, infinities and NaN). A NaN
    ceiling, which only the stacked form orders (``argmin`` takes the first NaN), and a single point fall back to
    it. Its cost against the stacked form: bench/README.md (closed-form TPF).
    """
    d, c, p, q = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (demand, compute, power, cooling)))
    if d.ndim == 0:  # one point: numpy gives scalars, not arrays to write into
        return _binding_of_stacked(d, c, p, q)
    low = np.minimum(c, p)  # NaN where either is
    code = (p < c).astype(np.int8)
    code += 1  # 1 compute, 2 power below it
    np.copyto(code, np.int8(3), where=q < low)  # cooling strictly below both
    np.minimum(low, q, out=low)
    if np.isnan(low).any():
        return _binding_of_stacked(d, c, p, q)
    np.copyto(code, np.int8(0), where=d <= low)
    return code


def _binding_of_stacked(d, c, p, q) -> np.ndarray:
    """:func:`binding_of` as argmin over the stacked ceilings (NaN ceilings: the first NaN binds)."""
    supply = np.stack([c, p, q])
    code = 1 + np.argmin(supply, axis=0)
    code = np.where(d <= supply.min(axis=0), 0, code)
    return code.astype(np.int8) if code.ndim else np.int8(code)


def band_ratio_window(tok_s_frac: float, j_per_tok_frac: float,
                      power_cap_ratio: float = math.inf) -> tuple[float, float]:
    """The range of ``X / C`` (X an energy-limited ceiling, power P or cooling Q; C the compute ceiling; tokens/s over
    tokens/s, dimensionless) inside which a node model off by up to ``±tok_s_frac`` in tokens/s and ``±j_per_tok_frac``
    in J/token (a calibration band as fractions, ``provenance.calibration[].error_band_pct`` / 100) leaves the order
    of X and C undetermined. C is the fleet's tokens/s at full load, so the true C lies in C·[1 − b_t, 1 + b_t]; P and
    Q are a power (or heat) budget over J/token (DESIGN.md: P = P_deliv / (PUE·E_tok), Q = Q_rej / E_tok), so the
    true X lies in X·[1/(1 + b_j), 1/(1 − b_j)]; the two ranges overlap, and either may bind, exactly when
    (1 − b_t)(1 − b_j) ≤ X/C ≤ (1 + b_t)(1 + b_j). The two bands are taken as independent (the calibration record
    states them apart and no joint or node-power band): the widest reading. A J/token band of 100 % or more leaves
    no upper end (inf).

    ``power_cap_ratio`` bounds the upper end physically. X/C is the budget over the fleet's full-load draw (N × node
    power: the tok/s error cancels), so an X above C by a factor r binds instead only if the node truly draws r times
    its modelled full-load power, and it cannot draw more than its GPUs at their TDP allow
    (:func:`dcsim.node.power.tdp_wall_ratio`; 1.20 for the H100 in FP8 at the reference workload, where the product
    of the bands alone read 1.67, an H100 drawing ~1,230 W). The cap is taken at least 1 (a model drawing above TDP
    is no reason to exclude an exact tie). inf: no cap (a caller without the node)."""
    bt, bj = max(float(tok_s_frac), 0.0), max(float(j_per_tok_frac), 0.0)
    hi = (1.0 + bt) * (1.0 + bj) if bj < 1.0 else math.inf
    cap = float(power_cap_ratio)
    if cap == cap:
        hi = min(hi, max(cap, 1.0))
    return (max(1.0 - bt, 0.0) * max(1.0 - bj, 0.0), hi)


def ceilings_within_band(x_tok_s, x_kind: str, y_tok_s, y_kind: str, tok_s_frac: float, j_per_tok_frac: float,
                         power_cap_ratio: float = math.inf):
    """Whether the order of two ceilings (tokens/s; ``*_kind`` each ``"compute"``, ``"power"`` or ``"cooling"``) can
    flip within a calibration band (fractions, :func:`band_ratio_window`, with its physical ``power_cap_ratio``): the
    one rule the run's binding headline, report.html's binding card, ``dcsim plan``'s answers and ``dcsim compare``
    read. Compute against power or cooling: their ratio inside :func:`band_ratio_window`. Power against cooling:
    both are budgets over the same J/token, so the band moves them together and cannot flip them (False, even where
    they are equal: which of two equal ceilings is named is the tie order, not the band); likewise two of one kind.
    A zero or non-finite ceiling is never within the band of another (a band of 100 % would otherwise reach down to
    0). Broadcasts."""
    x, y = (np.asarray(v, dtype=float) for v in (x_tok_s, y_tok_s))
    energy = ("power", "cooling")
    if (x_kind in energy) == (y_kind in energy):
        out = np.zeros(np.broadcast_shapes(x.shape, y.shape), dtype=bool)
    else:
        c, e = (x, y) if x_kind == "compute" else (y, x)
        lo, hi = band_ratio_window(tok_s_frac, j_per_tok_frac, power_cap_ratio)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = e / np.where(c > 0, c, np.nan)
        out = np.isfinite(r) & (r > 0) & (r >= lo) & (r <= hi)
    return out if out.ndim else bool(out)


def limits_within_band(binding, compute, power, cooling, tok_s_frac: float, j_per_tok_frac: float,
                       power_cap_ratio: float = math.inf) -> dict:
    """Per tick, which limit other than the one named binding could bind within a calibration band (fractions,
    with :func:`band_ratio_window`'s physical ``power_cap_ratio``): ``{named: {kind: bools}}`` for each limit named
    (compute, power, cooling) and each other limit ``kind``, true where the tick is bound by ``named`` (``binding``
    int codes of :data:`BINDING_NAMES`, 1-3; demand-bound ticks never) and ``kind``'s ceiling is within the band of
    ``named``'s (:func:`ceilings_within_band`). Kept per named limit: an alternative of compute on compute-bound
    ticks is not one of power on power-bound ticks. Ceilings in tokens/s; broadcasts. Two pairs can flip, compute
    with power and compute with cooling (the rule is symmetric in its two ceilings); power with cooling never can."""
    b = np.asarray(binding)
    c, p, q = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (compute, power, cooling)))
    cp, cq = (np.asarray(ceilings_within_band(c, "compute", e, kind, tok_s_frac, j_per_tok_frac, power_cap_ratio),
                         dtype=bool) for e, kind in ((p, "power"), (q, "cooling")))
    never = np.zeros(c.shape, dtype=bool)
    within = {"compute": {"power": cp, "cooling": cq}, "power": {"compute": cp, "cooling": never},
              "cooling": {"compute": cq, "power": never}}
    return {named: {k: (b == code) & w for k, w in within[named].items()}
            for code, named in ((1, "compute"), (2, "power"), (3, "cooling"))}


def near_tie_margin(binding, compute, power, cooling, work, tol: float):
    """How far the binding power or cooling ceiling sits under the compute ceiling, ``(C - X) / C`` (dimensionless),
    where that is a *near tie*; NaN elsewhere. A near tie: the binding (int codes, :data:`BINDING_NAMES`) is power
    (X = P) or cooling (X = Q), ``|C - X| < tol·C``, and the work waiting reaches C as closely (``work ≥ C·(1 - tol)``,
    tokens/s): the label is right (X is the lowest) and misleading alone — more of X buys under ``tol`` of the rate,
    and compute holds the rest of the work. A pool the shared budget ran below full clock at the rate that just
    meets its work (work under C) is no tie: the next watt raises its clock. ``tol`` is the caller's, the run's one
    threshold (:data:`dcsim.metrics.fmt.NEAR_TIE`): the run's "by a hair" notes
    (:func:`dcsim.engine.assemble.near_tie_notes`) and the closed form's (:func:`dcsim.engine.steady.steady_report`,
    ``dcsim tpf``) read this one rule. Broadcasts; C, P, Q and work in tokens/s."""
    b, c, p, q, w = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (binding, compute, power, cooling, work)))
    x = np.where(b == 2, p, q)
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = (c - x) / np.where(c > 0, c, np.nan)
    tie = ((b == 2) | (b == 3)) & (np.abs(margin) < tol) & (w >= c * (1.0 - tol))
    out = np.where(tie, margin, np.nan)
    return out if out.ndim else float(out)


def binding_simulated(held_tok, shed_tok, scale_tok, compute, power, cooling, *, supply_only=None,
                      capped=None, critical=None, rtol: float = 1e-9) -> np.ndarray:
    """What held the *served* rate down on each tick (int codes into :data:`BINDING_NAMES`).

    ``demand`` (0) when all work waiting was served: nothing is left waiting for admission after
    the tick (``held_tok`` ≤ ``rtol·scale_tok``, rounding) and nothing was shed. Otherwise a
    supply ceiling held work back: the lowest of C, P, Q of that tick (ties resolve compute,
    power, cooling). ``supply_only`` (optional int code) names the ceiling that limits instead
    — policy ``none`` never caps, so only compute can hold work back there.
    ``capped`` (optional bools): ticks on which the controller's operating point ran the supply
    below its full clock because the power or cooling budget capped it (DESIGN.md: the limit at
    the controller's operating point). Compute at full clock was not reached there, so it cannot
    be what held the work back: the lower of P and Q is (ties resolve power). With several pools a
    pool's P can equal its C (the shared budget *could* buy all its compute, taken from the other
    pools) while the split ran it at the clock that just meets its work, where replicas queue at
    request fidelity (docs/report.md, binding). The engine passes as ``capped`` only the ticks whose clock costs
    throughput (``dcsim.serving.slo_estimate.clock_holds_rate``: the full-load rate at that clock under ``RHO_MAX`` of
    full clock's); a capped clock that costs less serves what full clock would, and its tick reads the lowest ceiling
    (compute where P reaches C; until 2026-12-05 power: mixed-fleet's memory-bound reasoning pool at 07:14-07:20).
    ``critical`` (optional bools): ticks on which the controller ran the supply capped at exactly its throughput —
    the clock whose full-load rate is the whole work, the replicas critically loaded. Work waits there past the
    tick whatever the record says: request fidelity counts it held, and fluid fidelity, whose record moves the
    tick's work as a flow and serves it in full, makes it wait in that regulated queue in its own SLO estimate
    (``dcsim.serving.slo_estimate.critical_wait_s``). So such a tick is not demand-bound: one rule, both fidelities
    (before 2026-12-05 fluid read demand there, mixed-fleet's chat pool 07:30-09:30, where request read power).
    Units: tokens (``held_tok``, ``shed_tok``, ``scale_tok`` = the tick's arrivals) and tokens/s.
    """
    held, shed, scale = (np.asarray(x, dtype=float) for x in (held_tok, shed_tok, scale_tok))
    waiting = (held > rtol * np.maximum(scale, 1.0)) | (shed > 0)
    if critical is not None:
        waiting = waiting | np.asarray(critical, dtype=bool)
    if supply_only is not None:
        code = np.full(waiting.shape, int(supply_only))
    else:
        c, p, q = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (compute, power, cooling)))
        code = 1 + np.argmin(np.stack([c, p, q]), axis=0)
        if capped is not None:
            code = np.where(np.asarray(capped, dtype=bool), np.where(q < p, 3, 2), code)
    return np.where(waiting, code, 0).astype(np.int8)


def overrun_running_tok(prev_tok: float, arrived_tok: float, served_tok: float, shed_tok: float,
                        capacity_tok: float, *, rho_max: float) -> float:
    """Output tokens of running work held past the tick because more arrived than the replicas could serve (tokens):
    request fidelity's count of the work in the system that grows beyond the replicas' capacity, whatever the clock.

    DESIGN.md: demand binds only when all the work asked for was served at the rate asked. A pool whose replicas
    admit every request (a KV-bound pool preempts and recomputes rather than queue at the door: mixed-fleet's reasoning
    pool) holds nothing at the door when more arrives than it can serve; the work it cannot serve grows in its
    replicas. The clock's count (``dcsim.serving.slo_estimate.slowed_running_tok``) counts that growth only as far
    as the clock's slowdown explains it, ~nothing for a memory-bound pool whose rate barely moves with the clock, so
    until 2026-12-05 such ticks read demand (mixed-fleet at request fidelity, 06:55, 06:59 and 07:12 of a run from
    06:00: the reasoning pool's arrivals 77.7, 76.4 and 73.8 ktok/s against its 75.3 ktok/s full-load rate, its
    work in the system growing 0.64, 0.40 and 0.21 M tokens on the tick, and 06:56-06:57, whose spare capacity drains
    that count without emptying it; tests/binding_check.py found them). Now compute, as the clock costs that pool
    under 2 % (``dcsim.serving.slo_estimate.clock_holds_rate``).

    Request fidelity's rule only: at fluid fidelity the same work is the backlog the fluid carries to the next tick
    (``held_tokens``) plus the critical-tick rule (a capped tick served at ``rho_max`` of its ceiling holds work,
    docs/engine.md "A critically loaded tick holds work"); nothing in the fluid engine calls this.

    A CUSUM, the second beside the clock's (:func:`dcsim.serving.slo_estimate.slowed_running_tok`, with the same
    allowance and read past the same threshold; the two are kept apart for now, the label reads the larger): on a
    tick whose arrivals reach ``rho_max`` of ``capacity_tok`` (the full-load rate of the replicas that took requests,
    at the clock they ran, times the tick) the tick's growth of the work in the system (``arrived_tok - served_tok -
    shed_tok``) is counted; on any other tick the replicas have spare capacity and the count drains by it
    (``rho_max * capacity_tok - arrived_tok``). Less, on every tick, the allowance ``(1 - rho_max) * arrived_tok``
    (the scatter of a tick's arrivals against its service). This function alone cannot tell replicas filling from
    empty from work held back (``overrun_running_tok(0, 9.9e6, 3e6, 0, 10e6, rho_max=0.98)`` counts 6.70 M tokens):
    the request lane calls it only once its replicas have filled, from the first tick that served and shed
    ``rho_max`` of its arrivals (``dcsim.engine.requests``, ``_filled``; mixed-fleet's reasoning pool takes ~15 min
    and ~16 M tokens to fill from a cold start). The label reads it past the same decision threshold
    as the clock's count (``slowed_running_held_tok``). The request lane keeps it on capped ticks only: with the door
    open (only compute limits) the replicas queue what they cannot serve and the label already reads those queues
    (``dcsim.engine.requests``, ``held_tok``); its 2 % allowance is a fifth of one tick's arrival scatter in an
    8-replica 405B pool, and counted on open ticks it read that pool asked 0.92x compute on 54 more of 150 ticks. Before
    the queues form, a sustained overrun on open or capped ticks is :func:`overrun_window_tok`'s, whose allowance is
    the window's own scatter. Units: tokens."""
    arrived, cap = float(arrived_tok), float(capacity_tok)
    if arrived >= rho_max * cap:
        step = arrived - float(served_tok) - float(shed_tok)
    else:
        step = -(rho_max * cap - arrived)
    return max(0.0, float(prev_tok) + step - (1.0 - rho_max) * arrived)


#: trailing window (s) over which :func:`overrun_window_tok` weighs the growth of the work in the system against the
#: scatter of the window's arrivals (assumption, a numerical choice: 15 min is 2-4 mean residences of the longest
#: class's answer (reasoning, ~7,000 tokens at ~35 ms: ~4 min), so a pool keeping up drains within the window what a
#: burst brought; a longer window detects a smaller overrun but later, as its first test waits a whole window after the
#: replicas fill; measured 2026-12-05 on 10-, 15-, 20- and 30-min windows, docs/engine.md "An open door's overrun")
OVERRUN_WINDOW_S = 900.0
#: decision threshold of :func:`overrun_window_tok` in standard deviations of the window's arrived work: one-sided
#: Gaussian tail 1 - Phi(2.0) = 2.28 % of a keeping-up pool's windows (the false-alarm rate; assumption: the normal
#: approximation of a compound Poisson sum, ~1,500 requests in the 405B pool's 15-min window)
OVERRUN_Z = 2.0


def overrun_window_tok(arrived_tok: float, served_tok: float, shed_tok: float, capacity_tok: float,
                       arrived_sq_tok2: float, *, rho_max: float, z: float = OVERRUN_Z) -> float:
    """Output tokens of work the replicas held past a trailing window because more arrived than they could serve
    (tokens), beyond what the scatter of the window's arrivals explains; 0 where the growth is within that scatter.

    DESIGN.md: demand binds only when all the work asked for was served at the rate asked. A pool no budget caps whose
    replicas admit every request (a KV-bound pool keeps its preempted sequences in its batch slots, so fresh requests
    queue only once all are taken) grows its work in the system when asked more than it serves, with nothing waiting
    at any door: 8 B200 replicas of Llama-3.1-405B asked 1.05x the node tables' rate grew it 0.44 M tokens over
    minutes 20-26 and read demand until their queues formed at minute 27 (docs/engine.md, "An open door's overrun").

    Arguments are sums over the window (tokens): ``arrived_tok``, ``served_tok``, ``shed_tok``, ``capacity_tok`` (the
    full-load rate of the replicas that took requests, at the clock they ran, times each tick) and ``arrived_sq_tok2``
    (the sum of the squares of the arrived requests' output tokens, tokens^2). The work grew by ``G = arrived -
    served - shed``. Arrivals are a compound Poisson sum: its variance is estimated by the sum of the squared sizes
    (``Var(sum s_i) = lambda E[s^2]``; ``sqrt(N) * sqrt(E[s^2])``, the request count times the size spread), so
    ``sigma = sqrt(arrived_sq_tok2)``. The window counts as overrun where (a) its arrivals reach ``rho_max`` of its
    capacity (the replicas had no spare capacity by the tables; a pool whose rate rises below capacity grows its
    running work by Little's law, not by work held back) and (b) ``G > z * sigma``: then ``G - z * sigma`` is
    returned. A pool keeping up (arrival rate at most ``rho_max`` of capacity) passes (b) on at most ``1 - Phi(z)`` of
    its windows (2.28 % at :data:`OVERRUN_Z`), where the per-tick 2 % allowance of :func:`overrun_running_tok` was a
    fifth of an 8-replica pool's per-tick scatter (~100 requests, +-10 %). Measured 2026-12-05 on that pool (8 B200
    replicas of Llama-3.1-405B, reasoning answers, request fidelity) asked 0.924x for 150 min: ``G / sigma`` over its
    128 whole 15-min windows had mean 0.06 and standard deviation 1.08 (the estimate holds), exceeded 2 on 5 of them
    (3.9 %), and on one of those (minute 26, its arrivals a burst at 0.988 of capacity) the arrivals reached capacity:
    1 false tick of 150. ``overrun_window_tok(8e6, 7e6, 0, 8e6, 8e6 * 11520, rho_max=0.98)`` counts
    0.39 M tokens (growth 1 M, sigma 0.30 M). Units: tokens."""
    arrived = float(arrived_tok)
    if arrived <= 0.0 or arrived < rho_max * float(capacity_tok):
        return 0.0
    grown = arrived - float(served_tok) - float(shed_tok)
    excess = grown - z * math.sqrt(max(float(arrived_sq_tok2), 0.0))
    return excess if excess > 0.0 else 0.0


#: each argument of :func:`token_production`: the unit dimension (:mod:`dcsim.units`) a quantity string is parsed
#: in (None: a number only), the lower bound, whether the bound itself is allowed, whether +inf is allowed ("no such
#: limit": demand, compute, delivered power and heat rejection may be unbounded; the closed form's answer is then the
#: other ceilings), and what the argument is, for the refusal
_TPF_ARGS = {
    "flop_per_token": (None, 0.0, False, False, "FLOP per output token, a finite number > 0"),
    "joule_per_token_it": ("energy", 0.0, False, False, "IT energy per output token in J, a finite number > 0"),
    "effective_flops": ("compute", 0.0, True, True, "FLOP/s, a number >= 0"),
    "delivered_power_w": ("power", 0.0, True, True, "power in W (or a string such as '20 MW'), a number >= 0"),
    "pue": (None, 1.0, True, False, "facility/IT power, a finite number >= 1"),
    "heat_rejection_w": ("power", 0.0, True, True, "heat in W (or a string such as '18 MW'), a number >= 0"),
    "demand_tok_s": (None, 0.0, True, True, "output tokens/s, a number >= 0"),
    "theta": (None, 0.0, True, False, "the accounting factor, a finite number >= 0"),
}


def _within(x: np.ndarray, lo: float, lo_ok: bool, inf_ok: bool) -> bool:
    """Every element of ``x`` admissible (:data:`_TPF_ARGS`), from its minimum and maximum alone (NaN propagates
    through both): the closed form is evaluated on arrays of millions of points, where building the refusal's
    element masks cost 8-10x the evaluation itself (audit AUC, bench/bench_tpf.py)."""
    mn = float(np.min(x))
    if not (mn > lo or (lo_ok and mn == lo)):  # False for NaN
        return False
    return inf_ok or bool(np.isfinite(np.max(x)))


def _tpf_arg(name: str, value) -> np.ndarray:
    """``value`` of :func:`token_production`'s argument ``name`` as a float array, or a ValueError (TypeError for a
    value that is no number at all) naming the argument and the reason (:data:`_TPF_ARGS`). A quantity string is
    parsed in the argument's dimension (``delivered_power_w="20 MW"``); a boolean, None, NaN, a negative value (pue
    below 1) or an infinite one where no infinity means anything is refused: until 2026-12-05 ``pue=nan`` and
    ``delivered_power_w=-20e6`` returned NaN and negative rates with a binding label (the input audit AUH, 2)."""
    dim, lo, lo_ok, inf_ok, what = _TPF_ARGS[name]
    if isinstance(value, str):
        if dim is None:
            raise TypeError(f"token_production: {name} = {value!r}: expected {what}, not a string "
                            "(the closed form takes SI numbers)")
        from dcsim.units import UnitError, parse_quantity

        try:
            value = parse_quantity(value, dim)
        except UnitError as e:
            raise ValueError(f"token_production: {name} = {value!r}: {e}") from None
    if value is None or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"token_production: {name} = {value!r}: expected {what}")
    try:
        a = np.asarray(value)  # once; booleans before the cast, which would read True as 1.0
        # complex, timedelta64, datetime64: the cast dropped an imaginary part (a ComplexWarning, then a result),
        # read np.datetime64('2020-01-01') as 18,262 (days since 1970) and a timedelta64 in its own unit
        x = None if a.dtype == bool or a.dtype.kind in "cmM" else a.astype(float, copy=False)
    except OverflowError:  # an integer beyond a float (10**400)
        raise ValueError(f"token_production: {name}: expected {what}, got an integer too large for a float") from None
    except (TypeError, ValueError):  # a ragged list, text that is no number, an object
        shown = type(value).__name__
        raise TypeError(f"token_production: {name}: expected {what} (or an array of them), got {shown}") from None
    if a.dtype.kind in "cmM":
        raise TypeError(f"token_production: {name}: expected {what}, got {a.dtype} values (a complex number, a date "
                        "or a duration is no SI number)")
    if x is None:
        raise TypeError(f"token_production: {name}: expected {what}, got booleans")
    if x.size == 0 or _within(x, lo, lo_ok, inf_ok):  # two reductions; the element only on a refusal
        return x
    bad = np.isnan(x) | (x < lo) | ((x == lo) & (not lo_ok)) | (np.isinf(x) & ((x < 0) | (not inf_ok)))
    if np.any(bad):
        first = float(x[bad].ravel()[0]) if x.ndim else float(x)
        where = f" (element {int(np.flatnonzero(bad.ravel())[0])})" if x.ndim else ""
        raise ValueError(f"token_production: {name} = {first!r}{where}: expected {what}")
    return x


def token_production(
    *,
    flop_per_token,
    joule_per_token_it,
    effective_flops,
    delivered_power_w,
    pue,
    heat_rejection_w,
    demand_tok_s,
    theta=1.0,
) -> TPF:
    """Evaluate the four ceilings and the achieved token rate.

    Args (all broadcastable arrays, SI):
        flop_per_token: FLOP per output token, FLOP/token (finite, > 0).
        joule_per_token_it: IT energy per output token, J/token (finite, > 0).
        effective_flops: roofline-effective compute of all in-service GPUs, FLOP/s (≥ 0).
        delivered_power_w: power available at the meter, W (≥ 0).
        pue: facility/IT power at the operating point (finite, ≥ 1).
        heat_rejection_w: heat of IT the plant can reject now, W (capacity less PDU and UPS losses; ≥ 0).
        demand_tok_s: output tokens/s requested (≥ 0).
        theta: accounting factor θ (dimensionless, finite, ≥ 0, default 1).

    Every argument is checked first (:func:`_tpf_arg`): NaN, None, a boolean, a negative value or a PUE below 1 is a
    ValueError (TypeError for a non-number) naming the argument; +inf is taken for the four that bound a ceiling or
    the demand (no such limit); a quantity string is parsed where the argument has a unit dimension
    (``delivered_power_w="20 MW"``, ``heat_rejection_w``, ``effective_flops="3e5 TFLOP/s"``,
    ``joule_per_token_it="0.6 J"``) and refused for the plain numbers.
    """
    a = {k: _tpf_arg(k, v) for k, v in (
        ("flop_per_token", flop_per_token), ("joule_per_token_it", joule_per_token_it),
        ("effective_flops", effective_flops), ("delivered_power_w", delivered_power_w), ("pue", pue),
        ("heat_rejection_w", heat_rejection_w), ("demand_tok_s", demand_tok_s), ("theta", theta))}
    try:
        np.broadcast_shapes(*(v.shape for v in a.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {v.shape}" for k, v in a.items() if v.ndim)
        raise ValueError(f"token_production: the arguments do not broadcast together: {shapes}") from None
    f, e = a["flop_per_token"], a["joule_per_token_it"]
    c = a["effective_flops"] / f
    with np.errstate(invalid="ignore"):  # theta 0 with an unbounded delivered power: no power ceiling (0 x inf)
        p = a["theta"] * a["delivered_power_w"] / (a["pue"] * e)
    p = np.where(np.isnan(p), 0.0, p)
    q = a["heat_rejection_w"] / e
    d = a["demand_tok_s"]
    d, c, p, q = np.broadcast_arrays(d, c, p, q)
    achieved = np.minimum(np.minimum(d, c), np.minimum(p, q))
    return TPF(d * 1.0, c * 1.0, p * 1.0, q * 1.0, achieved, binding_of(d, c, p, q))
