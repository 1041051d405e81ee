"""Capacity planner: answer sizing questions on the closed form, then confirm by simulation.

Questions (``dcsim plan FILE --question ...``):

* ``max-gpus`` — the most GPUs (``racks.0.count`` racks) whose full compute the facility can power
  and cool under its interconnect cap: at full load (unbounded demand) compute must still bind at
  every evaluated moment, so the fleet can serve any demand up to its compute ceiling at full clock
  (no controller capping, which stretches decode steps and so TPOT). Integer bisection.
* ``max-demand`` — the highest demand (``workload.arrivals.scale``) the facility serves in full at
  every tick (demand-limited all day: no queue builds, so TTFT holds). Demand is proportional to
  ``scale``, so the answer is the root ``scale·D(t) = min(C, P, Q)(t)`` at the critical tick.
* ``interconnect-for`` — the smallest ``facility.interconnect`` at which power no longer binds for
  ``--gpus N`` GPUs at full load at the weather percentile. Bisection on the cap.

Moments: every controller tick of the scenario (its demand and weather), or, with
``--weather-percentile P``, one design moment at the P-th percentile of the scenario's dry-bulb
temperature (nearest rank; that tick's wet-bulb). The closed form is
:func:`dcsim.engine.steady.ceilings_at` on the same node and facility models as the simulation.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dcsim.argcheck import flag_quantity
from dcsim.engine.assemble import calibration_provenance
from dcsim.engine.build import with_interconnect  # noqa: F401  (re-exported)
from dcsim.engine.steady import scenario_moments  # noqa: F401  (re-exported)

from dcsim.metrics.fmt import (band_window_text, calibration_caveat, fmt_band, fmt_local_short,
                              fmt_multiple, fmt_replicas_from, fmt_si, or_list, group_band, whole_replicas_from)
from dcsim.scenario import ControllerSpec, ScenarioError, load_scenario, read_yaml
from dcsim.serving.slo_estimate import SEED_BAND_PCT, slo_caveats
from dcsim.tpf import BINDING_NAMES, band_ratio_window, ceilings_within_band
from dcsim.units import excerpt, format_quantity as fmt_quantity, parse_quantity
from dcsim.textio import check_count, count_arg

__all__ = ["QUESTIONS", "plan", "scenario_moments", "moment_info", "moment_text", "with_interconnect", "design_moment", "evaluate", "add_parser",
           "Target", "parse_target", "plan_for_targets", "TARGET_SEEDS", "TARGET_WINDOW_S", "confirm_window", "weather_note",
           "power_down_ceiling_tok_s", "power_down_gain", "STANDBY_FRACTION", "WAKE_UP_DELAY_S",
           "weather_year_moments"]

QUESTIONS = ("max-gpus", "max-demand", "interconnect-for")
#: ``interconnect-for`` grows its bracket up to this interconnect, W, and says so where power still binds there: a
#: search bound (no site is this large), not a measurement.
INTERCONNECT_SEARCH_MAX_W = 1e13
#: ``max-demand`` under targets searches the demand scale from this share of the closed form's ceiling up to this
#: multiple of it (the targets hold at the top: the ceiling is the answer). Search bounds, not measurements; the
#: answer's note and the error where the targets fail at the bottom are said from them.
TARGET_SCALE_SEARCH_X = (1e-3, 1.05)
#: The confirming runs of an answer under service targets: seeds and the steady window's length, s (``dcsim plan
#: --seeds`` / ``--window``, their help, and :func:`plan_for_targets`' and :func:`confirm_window`'s defaults). Choices
#: of this tool (assumptions), not measurements.
TARGET_SEEDS = 3
TARGET_WINDOW_S = 1800.0
#: The 2 % steps :func:`_refine` takes past the refined answer when another seed misses there, each confirmed with
#: every seed (a choice of this tool, not a measurement).
REFINE_STEPS = 3
#: Confirmations with every seed an answer under targets may take (max-demand, interconnect-for): the fast answer,
#: the refined answer and its :data:`REFINE_STEPS` steps. So the runs grow as ``seeds`` x this (up to 5 x seeds,
#: plus the bisection's one-seed runs, which do not grow with seeds: 6 in docs/sweeps.md's refined example); until
#: session 55 the docs and the refusal said "x 4".
CONFIRMS_PER_SEED = 2 + REFINE_STEPS
#: Wall time of one confirming run, s, for the estimate the ``--seeds`` refusal gives (an estimate, not a measurement
#: of one run): docs/sweeps.md's refined max-demand example on the reference (5-min hybrid windows) took 9 min 37 s
#: for its 9 bisection runs and 3 confirming runs as the docs count them, ~48 s each; the 15 runs the code makes there
#: (3 more: the fast answer's confirmation) and its fluid search share that time, so it errs long. The default
#: 30-min window makes each run longer still.
CONFIRM_RUN_S_ESTIMATE = 48.0
#: The most confirming runs (seeds) an answer under targets takes (``--seeds``, ``seeds=``): a choice of this tool
#: (an assumption, not a measurement). Each seed is a request/hybrid run of the window, confirmed up to
#: :data:`CONFIRMS_PER_SEED` times, so the runs grow as seeds x 5: ``--seeds 1000000`` (a typo for 10) was taken
#: without a word until session 55, an estimated 7.6 years of runs (5,000,000 x ~48 s, :data:`CONFIRM_RUN_S_ESTIMATE`);
#: it is refused naming the flag, this bound and that estimate.
MAX_TARGET_SEEDS = 20
_CEIL = ("compute_tok_s", "power_tok_s", "cooling_tok_s")
_NAMES = ("compute", "power", "cooling")


def _raw_and_dir(scenario, overrides: dict | None = None) -> tuple[dict, Path | None]:
    """Scenario source as (raw dict, base folder), with ``overrides`` (dotted path → value) applied to the raw
    dict. A source of another type is a TypeError naming it (:func:`dcsim.scenario.check_scenario_arg`; the planner
    and the phase diagram took ``42`` to ``dict(42)``: "'int' object is not iterable")."""
    from dcsim.scenario import Scenario, apply_overrides, check_scenario_arg

    check_scenario_arg(scenario)
    if isinstance(scenario, (str, os.PathLike)):
        p = Path(scenario)
        raw, bdir = read_yaml(p), p.resolve().parent
    elif isinstance(scenario, Scenario):  # only the fields the author set: re-validates like the file did
        raw, bdir = scenario.model_dump(mode="json", exclude_unset=True), scenario.base_dir
    else:
        raw, bdir = dict(scenario), None
    return (apply_overrides(raw, overrides) if overrides else raw), bdir


def _source_label(scenario) -> str | None:
    """What errors of validating :func:`_raw_and_dir`'s dict name (``load_scenario(label=)``): the file it was read
    from, a Scenario's name, None (``<dict>``) for a dict. Until 2026-12-05 they said ``<dict>`` and each command
    relabelled them."""
    from dcsim.scenario import Scenario

    if isinstance(scenario, (str, os.PathLike)):
        return str(Path(scenario))
    return scenario.name if isinstance(scenario, Scenario) else None


def _check_gpus(gpus) -> None:
    """``gpus`` of the Python API: None or a count, checked as the CLI checks ``--gpus`` (:func:`dcsim.textio.
    check_count`; ``gpus=-5`` was answered with 32 GPUs). Until 2026-12-05 a check of its own, which took a whole
    float (``32.0``) that the CLI's check refuses."""
    if gpus is not None:
        try:
            check_count(gpus, "GPUs")
        except ValueError as e:
            raise ValueError(f"gpus: {e} (as `dcsim plan --gpus`)") from None


def _long_time_text(s: float) -> str:
    """A wall time estimate in the unit a reader weighs it in: seconds to hours (:func:`fmt_duration`), days from
    2 days on, years from a year on (``2.4e8 s`` reads "7.6 years", not "66,667 h")."""
    from dcsim.metrics.fmt import fmt_duration

    if s >= 365.25 * 86400:
        return f"{s / (365.25 * 86400):,.2g} years" if s < 10 * 365.25 * 86400 else f"{s / (365.25 * 86400):,.0f} years"
    if s >= 2 * 86400:
        return f"{s / 86400:.2g} days"
    return fmt_duration(s)


def check_seeds(seeds, flag: str = "seeds") -> int:
    """The confirming runs of an answer under targets: a count (:func:`dcsim.textio.check_count`) of at most
    :data:`MAX_TARGET_SEEDS`; a ValueError naming ``flag`` as the caller gives it (``seeds`` in Python, ``--seeds``
    on the command line) otherwise. One check for both (until session 55 ``seeds=0`` ran one seed, and any count was
    taken)."""
    try:
        n = check_count(seeds, "confirming runs")
    except ValueError as e:
        raise ValueError(f"{flag}: {e}") from None
    if n > MAX_TARGET_SEEDS:
        runs = CONFIRMS_PER_SEED * n
        raise ValueError(f"{flag} {n}: at most {MAX_TARGET_SEEDS} confirming runs (dcsim.plan.MAX_TARGET_SEEDS): "
                         "each is a request- or hybrid-fidelity run of the window, and an answer is confirmed with "
                         f"every seed up to {CONFIRMS_PER_SEED} times (the fast answer, the refined one, "
                         f"{REFINE_STEPS} steps), so up to {runs:,} such runs, an estimated "
                         f"{_long_time_text(runs * CONFIRM_RUN_S_ESTIMATE)} at ~{CONFIRM_RUN_S_ESTIMATE:g} s each "
                         f"(5-min windows on the reference; longer windows take longer); give "
                         f"{flag}{' ' if flag.startswith('-') else '='}{MAX_TARGET_SEEDS} or fewer "
                         f"(default {TARGET_SEEDS}; docs/sweeps.md, plan)")
    return n


def whole_racks(gpus: int | None, gpus_per_rack: int, count0: int) -> tuple[int, dict]:
    """The rack count of rack group 0 an interconnect-for question sizes for ``gpus`` GPUs (None: the scenario's
    ``count0`` racks): ``gpus`` rounded up to whole racks of ``gpus_per_rack``, and what the answer says of it:
    ``gpus_asked`` (None without ``--gpus``) and ``gpus_note``, the rounding in words when ``gpus`` is not a whole
    number of racks (None otherwise). Until 2026-12-05 ``--gpus 7`` was answered "for 32 GPUs" with no word that the
    question had been changed (the input audit AUH, 4). One home for plan, plan under targets and --curtailment."""
    count = count0 if gpus is None else max(1, int(math.ceil(gpus / gpus_per_rack)))
    note = None
    if gpus is not None and count * gpus_per_rack != gpus:
        note = (f"{gpus:,} GPUs asked, rounded up to whole racks: {count:,} rack{'s' * (count != 1)} of "
                f"{gpus_per_rack:,} GPUs = {count * gpus_per_rack:,} GPUs (the answer is for those)")
    return count, {"gpus_asked": gpus, "gpus_note": note}


def refuse_gpus_for(question: str, gpus, flag: str = "gpus") -> None:
    """``gpus`` sizes interconnect-for only: a ValueError for another question (``max-demand`` answered for the
    scenario's fleet and ``max-gpus`` searched its own count with ``--gpus`` unused: the input audit AUH, 5).
    ``flag`` names it as the caller reads it (``gpus`` in Python, ``--gpus`` on the command line)."""
    if gpus is not None and question != "interconnect-for":
        what = ("max-demand answers for the scenario's own fleet (set racks.0.count to size another)"
                if question == "max-demand" else "max-gpus finds the GPU count itself")
        raise ValueError(f"{flag} applies to interconnect-for, not {question}: {what}; drop {flag}")


def fleet_gpus(m0, count: int) -> int:
    """The fleet's GPUs with ``count`` racks in rack group 0 and the other groups at their counts in ``m0`` (the
    scenario's models): whom an interconnect-for answer feeds (``fleet_gpus``, :func:`fleet_gpus_text`). The one
    formula of plan and plan under targets (until session 55 two: ``round(count / count0 * m.gpus)`` over the
    rebuilt models in one, ``m0.gpus - g0 + count * gpr`` in the other)."""
    g0 = int(m0.groups[0].gpus)
    return int(m0.gpus) - g0 + int(count) * (g0 // int(m0.scenario.racks[0].count))


def fleet_gpus_text(r: dict) -> str:
    """Whom an interconnect-for answer feeds, in GPUs: the whole fleet (``fleet_gpus``), and where other rack groups
    keep their counts beside rack group 0, the count it sizes (``gpus``): "448 GPUs (320 in rack group 0, the count
    sized, and 128 in the other groups)". Until session 55 the die hall of docs/thermal-dynamics.md read "for 320
    GPUs" though its interconnect feeds all 448 (``gpus`` is rack group 0's). One wording for plan and plan under
    targets; an answer without ``fleet_gpus`` (stored before session 55) says ``gpus``."""
    g, fleet = int(r["gpus"]), r.get("fleet_gpus")
    if fleet is None or int(fleet) == g:
        return f"{g:,} GPUs"
    return f"{int(fleet):,} GPUs ({g:,} in rack group 0, the count sized, and {int(fleet) - g:,} in the other groups)"


def gpus_note_lines(r: dict) -> list[str]:
    """The answer's ``GPUs:`` line when ``--gpus`` was rounded up to whole racks (:func:`whole_racks`), else none:
    one wording for plan, plan under targets and --curtailment."""
    return [f"  GPUs: {r['gpus_note']}"] if r.get("gpus_note") else []


def _prepare(scenario, question: str, overrides: dict | None, gpus=None):
    """Check the question and ``gpus`` (a count, :func:`_check_gpus`, and for interconnect-for only,
    :func:`refuse_gpus_for`); the raw scenario with ``overrides`` applied, its folder and its models."""
    if question not in QUESTIONS:
        raise ValueError(f"unknown question {question!r}; one of {', '.join(QUESTIONS)}")
    _check_gpus(gpus)
    refuse_gpus_for(question, gpus)
    raw, bdir = _raw_and_dir(scenario, overrides)
    m = _models(raw, bdir, label=_source_label(scenario))
    if question in ("max-gpus", "interconnect-for") and m.multi_pool:
        raise ValueError(
            f"{question} is not supported for several model pools (racks[].serves) yet: the question sizes "
            "one rack group against the facility's budgets, and with pools sharing the interconnect the "
            "answer depends on how the fleet should grow; size each pool in a scenario of its own, or ask "
            "max-demand (the traffic the fleet as it is can carry)")
    return raw, bdir, m


def fleet_note(m) -> str | None:
    """What max-gpus / interconnect-for resize when the fleet has several rack groups in one pool."""
    if len(m.groups) <= 1:
        return None
    others = ", ".join(g.name for g in m.groups[1:])
    return (f"sizes rack group 0 ({m.groups[0].name}, racks.0.count); the other groups ({others}) keep "
            "their counts and are part of every evaluation")


def _models(raw: dict, base_dir, overrides: dict | None = None, label: str | None = None):
    from dcsim.engine.build import build_models

    return build_models(load_scenario(raw, overrides=overrides or None, base_dir=base_dir, label=label))


def design_moment(mom: dict, percentile: float | None) -> dict[str, np.ndarray]:
    """All ticks (``percentile`` None) or the one tick at the nearest-rank P-th percentile of dry-bulb."""
    if percentile is None:
        return mom
    if not 0.0 <= percentile <= 100.0:
        raise ValueError(f"weather percentile must be in [0, 100], got {percentile}")
    order = np.argsort(mom["t_db_c"], kind="stable")
    k = int(np.clip(math.ceil(percentile / 100.0 * order.size) - 1, 0, order.size - 1))
    i = int(order[k])
    return {key: v[i:i + 1] for key, v in mom.items()}


def evaluate(m, mom: dict, demand_tok_s=None, interconnect_w=None, gpu_scale=1.0) -> dict:
    """Closed-form ceilings at the moments (``demand_tok_s`` overrides the moments' demand; inf = full load)."""
    from dcsim.engine.steady import ceilings_at

    d = mom["demand_tok_s"] if demand_tok_s is None else demand_tok_s
    return ceilings_at(m, d, mom["t_db_c"], mom["t_wb_c"], interconnect_w=interconnect_w, gpu_scale=gpu_scale)


def _die_binds(r: dict) -> np.ndarray:
    """Per moment (flat, as ``r["binding"]``), whether the GPU dies' limit sets the cooling ceiling of an
    :func:`evaluate` result: its ``die_binds``, all False without it (no ``facility.thermal``: a scalar False, which
    indexed at a moment past the first raised IndexError in max-gpus until the review of session 52)."""
    code = np.asarray(r["binding"]).ravel()
    return np.broadcast_to(np.asarray(r.get("die_binds", False), dtype=bool).ravel(), code.shape)


def _ceilings_at_index(r: dict, i: int) -> dict:
    """The ceilings of an :func:`evaluate` result at moment ``i``, with ``cooling_limit: "die"`` where the GPU dies'
    limit sets Q there (:func:`_die_binds`): the one rule every plan question reads its answer's ceilings by (until
    session 53 interconnect-for read the plant's cooling headroom alone and printed "binding at the answer: COMPUTE;
    next: cooling with 7.2 % headroom" on the die hall, C 388,978 above the dies' Q 380,996 tok/s)."""
    out = {k: float(np.asarray(r[k]).ravel()[i]) for k in ("demand_tok_s", *_CEIL, "achieved_tok_s")}
    if _die_binds(r)[i]:
        out["cooling_limit"] = "die"
    return out


def _die_holds_at(r: dict, i: int) -> bool:
    """Whether the GPU dies' limit is the binding ceiling of an :func:`evaluate` result at moment ``i`` (cooling binds
    and its Q is the dies', :func:`_die_binds`)."""
    return bool(_die_binds(r)[i]) and int(np.asarray(r["binding"]).ravel()[i]) == 3


def _margin(ceil: dict, binding: str) -> tuple[str | None, float | None]:
    """The next constraint after ``binding`` among compute/power/cooling and its headroom (fraction); the headroom
    is None (undefined) where the binding ceiling is 0: a margin over nothing has no ratio (it read "inf %")."""
    vals = {n: ceil[f"{n}_tok_s"] for n in _NAMES if n != binding}
    if not vals:
        return None, float("nan")
    nxt = min(vals, key=vals.get)
    base = ceil[f"{binding}_tok_s"] if binding in _NAMES else ceil["demand_tok_s"]
    return nxt, _ratio_margin(vals[nxt], base)


#: a limit whose ceiling sits within this fraction of the binding one at the answer is reported tied with it
#: (``tied_with``): a headroom that prints as "0.0 %". interconnect-for sizes the contract so that power meets compute
#: (to its bisection's 1e-7), and its answer read "COMPUTE; next: cooling with 918.7 % headroom" beside "power 0.0 %"
#: (walkthrough 2026-12-05): the next limit is the one tied, binding from any smaller interconnect
PLAN_TIE_REL = 5e-4


def tied_limits(ceilings: dict, binding: str) -> list[str]:
    """The limits among compute/power/cooling other than ``binding`` whose ceiling is within :data:`PLAN_TIE_REL` of
    the binding one (``ceilings``: the answer's ``*_tok_s`` at its critical moment); [] where none, or where the
    binding is not one of them or its ceiling is not positive."""
    if binding not in _NAMES:
        return []
    base = float(ceilings.get(f"{binding}_tok_s", float("nan")))
    if not (base > 0 and math.isfinite(base)):
        return []
    return [n for n in _NAMES if n != binding and f"{n}_tok_s" in ceilings
            and abs(float(ceilings[f"{n}_tok_s"]) / base - 1.0) <= PLAN_TIE_REL]


def _ratio_margin(nxt: float, base: float) -> float | None:
    """``nxt / base - 1``, None where ``base`` is not positive (a zero ceiling: the margin is undefined)."""
    return float(nxt / base - 1.0) if base > 0 and math.isfinite(nxt / base) else None


def moment_info(mom: dict, i: int, m=None) -> dict:
    """Moment ``i`` of :func:`scenario_moments` as plan answers and phase diagrams report it: its time (s from the
    run's start), temperatures, demand and, with the models ``m``, its ``local_time`` on the scenario's clock
    (``MM-DD HH:MM``: a weather-year moment can fall on any day)."""
    t = float(mom["t_s"][i])
    out = {"t_s": t, "t_out_c": float(mom["t_db_c"][i]), "t_wb_c": float(mom["t_wb_c"][i]),
           "demand_tok_s": float(mom["demand_tok_s"][i])}
    if m is not None:
        out["local_time"] = fmt_local_short(t, m.scenario.clock_block())
    return out


def moment_text(mo: dict) -> str:
    """A moment of a plan answer as printed: its local time, else the elapsed time, said so (a hand-built answer)."""
    return f"{mo['local_time']} local" if mo.get("local_time") else fmt_local_short(mo.get("t_s"), None)


# --------------------------------------------------------------------------- questions

def _headroom(m, r: dict, a: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Fractional IT-power headroom of the power and cooling budgets over the fleet at full load.

    ``it_budget / W_full - 1`` where ``W_full`` is the IT power (W) of ``a`` times the fleet with
    every replica at full clock and largest batch (the top of the supply frontier, both rack limits
    applied: what the fleet draws at full load). Negative: that constraint binds at full load. One
    figure for both budgets: each read against the top of its own frontier, a B200 reference fleet whose
    racks' feeds (48 kW, 48.5 kW at full load) cap it at 463 kW read power -20.6 % and cooling -24.1 % (against
    485 kW, a load it never draws) where the two ceilings were equal (audit G, finding 2).
    """
    w = a * float(m.curves.frontier("pq").it[-1])
    return (np.asarray(r["it_budget_power_w"], dtype=float).ravel() / w - 1.0,
            np.asarray(r["it_budget_cooling_w"], dtype=float).ravel() / w - 1.0)


def _fleet_top(m, a: float = 1.0) -> tuple[str, float]:
    """What caps ``a`` times the fleet when the facility's budgets do not: ``compute`` (every replica flat out) or
    its racks' own limits, ``power (racks)`` / ``cooling (racks)``, where those stop the supply frontier below the
    compute ceiling (:meth:`dcsim.engine.tables.SupplyCurves.rack_limited`); and that ceiling, tokens/s."""
    cv = m.curves
    if not cv.rack_limited("pq"):
        return "compute", a * float(cv.compute_tok_s)
    # both rack limits applied: the frontier's top is the lower of the power and cooling ones; the active limit is
    # the one whose own frontier stops there (power on a tie)
    top = float(cv.frontier("pq").rate[-1])
    name = ("power (racks)" if float(cv.frontier("p").rate[-1]) <= float(cv.frontier("q").rate[-1])
            else "cooling (racks)")
    return name, a * top


def _rack_limit_note(sc, g, tail: str = "at any count (each is capped at its own limit; more racks still add "
                                        "tokens)") -> tuple[str, str] | None:
    """(the binding, why) when no rack runs flat out because of the rack's own limit, not the facility's budget (a
    600 kW hall answered "0 GPUs … binding POWER … 1139 % headroom" for 37 kW racks under the default 30 kW air rack
    limit: the audit of node physics, finding 11); None when the rack fits its limits."""
    lim, full = g.limits, float(g.rack_full_load_w)
    rc, rp = sc.racks[0].cooling, sc.racks[0].power
    heat, feed = full > lim.rack_cooling_limit_w, full > lim.rack_power_limit_w
    if not (heat or feed):
        return None
    parts = []
    if heat:
        given = rc is not None and rc.limit is not None
        kind = rc.kind if rc is not None else "air"
        parts.append(f"its heat limit {fmt_quantity(lim.rack_cooling_limit_w, 'power')} (racks[0].cooling"
                     + (".limit)" if given else f": the default for {kind} cooling, dcsim.scenario.facility."
                                                "RACK_COOLING_LIMIT_W; set racks[0].cooling.kind / limit)"))
    if feed:
        parts.append(f"its feed {fmt_quantity(lim.rack_power_limit_w, 'power')} (racks[0].power.power_limit "
                     f"derated to {100 * float(rp.derate):g} % continuous)")
    return ("cooling" if heat else "power",
            f"a rack at full load draws {fmt_quantity(full, 'power')}, over " + " and ".join(parts)
            + ": no rack runs flat out " + tail)


def _max_gpus(raw, bdir, m0, mom, max_racks: int) -> dict:
    sc = m0.scenario
    count0 = sc.racks[0].count
    g0 = m0.groups[0]
    gpus_per_rack = g0.gpus // count0
    single = len(m0.groups) == 1
    evals = {"n": 0}

    def ceil(count: int) -> tuple[dict, object, float]:
        evals["n"] += 1
        if single:  # a·N replicas and racks scale the supply curves exactly (ceilings_at gpu_scale)
            a = count / count0
            return evaluate(m0, mom, demand_tok_s=np.inf, gpu_scale=a), m0, a
        m = _models(raw, bdir, {"racks.0.count": count})
        return evaluate(m, mom, demand_tok_s=np.inf), m, 1.0

    def ok(count: int) -> bool:
        return bool(np.all(ceil(count)[0]["binding"] == 1))

    if not ok(1):
        lo, hi = 0, 1
    else:
        lo, hi = 1, 2
        while ok(hi):
            lo, hi = hi, hi * 2
            if hi > max_racks:
                raise ValueError(f"power and cooling never bind below {max_racks} racks: nothing limits the GPU count")
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    r, m, a = ceil(max(lo, 1))
    hp, hq = _headroom(m, r, a)
    h = np.minimum(hp, hq)
    i = int(np.argmin(h))
    nxt = "power" if hp[i] <= hq[i] else "cooling"
    r_hi = ceil(hi)[0]
    die = _die_flip(m0, mom, r_hi, lo, hi, count0, single, evals)
    if die is not None:  # the dies hold the clock first: the plant's budgets are not what flips the binding
        i, x = die
        h = np.full_like(h, np.nan)
        h[i] = x
        nxt = "cooling"
    out: dict[str, Any] = {"overrides": {"racks.0.count": lo}, "racks": lo, "gpus": lo * gpus_per_rack,
                           "gpus_per_rack": gpus_per_rack, "ceilings": _ceilings_at_index(r, i),
                           "headroom": {"power": float(hp[i]), "cooling": float(hq[i])},
                           "next_binding_above": BINDING_NAMES[int(np.asarray(r_hi["binding"]).ravel()[i])]}
    reps_per_rack = g0.limits.replicas_per_rack
    out["replicas"] = lo * reps_per_rack
    if lo >= 1:
        g = lo * gpus_per_rack
        x = float(h[i])  # the crossover as a fraction more of group 0's GPUs
        if die is None and not single:
            ratio = _fleet_over_group0_it(m)
            x *= ratio
            # the other groups' full-load IT in group 0's GPUs: their draw moves with the band but not with the count
            out["other_groups_gpus"] = g * (ratio - 1.0)
        # whole replicas in servers (dcsim.metrics.fmt.whole_replicas_from: the rule tpf's crossover uses too)
        flip = whole_replicas_from(g * (1.0 + x), g0.node.gpus_per_replica, g0.node.gpus_per_node)
        if die is not None:  # the headroom above is the plant's budgets'; the dies' limit comes first
            out.update(cooling_limit="die", die_margin=float(h[i]))
            if not single:  # found at whole racks of group 0 (_die_flip): no continuous crossover, no replica count
                flip = None
        out.update(binding="compute", next_binding=nxt, margin=float(h[i]),
                   gpus_at_flip=g * (1.0 + x), margin_gpus=g * x, at_flip=flip,
                   margin_replicas=flip["replicas_below"] - lo * reps_per_rack if flip else None)
    else:
        rack = _rack_limit_note(sc, g0)
        out.update(binding=nxt, next_binding="compute", margin=float(-h[i]),
                   note="even one rack at full load exceeds the facility's power or cooling budget")
        if _die_holds_at(r, i):
            out.update(binding="cooling", margin=None, note="even at one rack the GPU dies at their limit hold the "
                       "clock below full speed (facility.thermal): no rack runs flat out",
                       margin_note="the dies' limit binds, not the facility's budget")
        if rack:  # the rack's own limit: the facility's budgets and headroom are not the cause
            out.update(binding=rack[0], note=rack[1], margin=None,
                       margin_note="the rack's own limit binds (note below), not the facility's budget")
    out["moment"] = moment_info(mom, i, m0)
    out["closed_form_evaluations"] = evals["n"]
    return out


def _fleet_over_group0_it(m) -> float:
    """The fleet's full-load IT power over rack group 0's (each group's supply frontier top, its rack limits applied,
    :func:`dcsim.engine.tables.supply_curves`): a headroom that is a fraction of the fleet's IT power
    (:func:`_headroom`) is this many times that fraction of group 0's GPUs, the only ones ``max-gpus`` adds. Until
    session 53 the crossover of a several-group hall read ``g·(1 + h)``, a fraction of the whole fleet's IT applied
    to group 0's GPUs alone: the die hall without its die limit (320 H100s beside 128 B200s) read "continuous
    crossover 332.3 GPUs ... 83 replicas (332 GPUs) still run flat out" where the fleet at 336 H100s is compute-bound
    at every moment (power binds from 339.2)."""
    from dcsim.engine.tables import supply_curves

    g0 = m.groups[0]
    w0 = float(supply_curves([g0.table], [g0.limits]).frontier("pq").it[-1])
    return float(m.curves.frontier("pq").it[-1]) / w0 if w0 > 0 else 1.0


def _die_flip(m0, mom, r_hi: dict, lo: int, hi: int, count0: int, single: bool, evals: dict):
    """Where the GPU dies' limit (not the plant's budgets) ends compute binding as racks are added: ``(i, x)`` with
    ``i`` the moment where it flips first and ``x`` the fraction of the ``lo`` racks' GPUs more at which it does, or
    None where the dies do not set the binding at ``hi`` racks. The die ceiling (:func:`dcsim.engine.flex.
    die_ceiling_tok_s`) is the compute ceiling of the clock level the dies hold, not a budget over the fleet's draw:
    the headroom of :func:`_headroom` misses it (the docs hall read "power would bind from 68 replicas" and "next:
    power with 40.2 % headroom" where a run at 7 racks, 56 replicas, is cooling-bound every tick). One rack group:
    the flip is bisected on the closed form at a continuous ``gpu_scale``; several: it is the whole rack ``hi``
    (the other groups keep their counts, so no continuous scale reads them)."""
    code = np.asarray(r_hi["binding"]).ravel()
    held = (code == 3) & _die_binds(r_hi)
    if not held.any() or lo < 1:
        return None
    if not single:
        i = int(np.flatnonzero(held)[0])
        return i, hi / lo - 1.0
    a_lo = np.full(code.size, lo / count0)
    a_hi = np.full(code.size, hi / count0)
    for _ in range(40):  # 2^-40 of a rack
        mid = 0.5 * (a_lo + a_hi)
        evals["n"] += 1
        comp = np.asarray(evaluate(m0, mom, demand_tok_s=np.inf, gpu_scale=mid)["binding"]).ravel() == 1
        a_lo, a_hi = np.where(comp, mid, a_lo), np.where(comp, a_hi, mid)
    flip = np.where(code == 1, np.inf, a_hi)
    i = int(np.argmin(flip))
    evals["n"] += 1
    r = evaluate(m0, mom, demand_tok_s=np.inf, gpu_scale=a_hi)
    if not _die_binds(r)[i]:
        return None  # the plant's budget flips first: _headroom reads it
    return i, float(flip[i]) / (lo / count0) - 1.0


def _max_demand(raw, bdir, m0, mom) -> dict:
    if m0.multi_pool:
        return _max_demand_pools(m0, mom)
    scale0 = float(m0.scenario.workload.arrivals.scale)
    # the ceilings at full work: C and P do not depend on the demand, but the dies' Q does (die_ceiling_tok_s): read
    # at the scenario's own demand, where the dies do not hold the clock, it is the plant's, and the scaled demand
    # is not served (docs hall at 1,400 req/s answered 388,978 tok/s binding compute; the run served 380,996 of it,
    # cooling 100 %). At full work it is the level the dies hold under any demand above it.
    r = evaluate(m0, mom, demand_tok_s=np.inf)
    lim = np.minimum(r["compute_tok_s"], np.minimum(r["power_tok_s"], r["cooling_tok_s"]))
    d = np.asarray(mom["demand_tok_s"], dtype=float) * np.ones_like(lim)
    ratio = np.where(d > 0, lim / np.maximum(d, 1e-300), np.inf)
    i = int(np.argmin(ratio))
    if not np.isfinite(ratio[i]):
        raise ValueError("the scenario has no demand to scale")
    scale = scale0 * float(ratio[i])
    at = _ceilings_at_index(r, i)  # Q the dies' at full work where they hold the clock (cooling_limit: die)
    at["demand_tok_s"] = float(d[i] * ratio[i])
    vals = {n: at[f"{n}_tok_s"] for n in _NAMES}
    binding = min(vals, key=vals.get)
    nxt, marg = _margin(at, binding)
    out = {"overrides": {"workload.arrivals.scale": scale}, "scale": scale, "scale_ratio": float(ratio[i]),
           **demand_figures(m0, d * ratio[i]), "binding": binding, "ceilings": at, "next_binding": nxt, "margin": marg,
           "moment": moment_info(mom, i, m0), "closed_form_evaluations": 1}
    out.update(rate_field_answer(m0.scenario.workload.arrivals, float(ratio[i])))
    out.update(_scale_past_bound(m0.scenario.workload.arrivals, scale, float(ratio[i])))
    # power or cooling binding at the top of its rack-limited frontier is the racks' own limit, not the facility's
    # budget: said as interconnect-for and max-gpus say it
    cv = m0.curves
    which = {"power": "p", "cooling": "q"}.get(binding)
    if which and cv.rack_limited(which) and at[f"{binding}_tok_s"] >= cv.frontier(which).rate[-1] * (1.0 - 1e-9):
        rack = _rack_limit_note(m0.scenario, m0.groups[0], "at any demand (each is capped at its own limit)")
        if rack:
            out["rack_note"] = rack[1]
    return out


#: the arrival kinds whose demand one rate field sets (``workload.arrivals.<field>``, req/s): a max-demand answer
#: past ``scale``'s bound is given on it (:func:`_scale_past_bound`)
RATE_FIELDS = {"poisson": "rate", "gamma": "rate", "diurnal": "mean_rate"}


def rate_field_answer(arr, ratio: float) -> dict:
    """A max-demand answer ``ratio`` times the scenario's demand on the arrivals' own rate field (:data:`RATE_FIELDS`),
    the value to set with ``workload.arrivals.scale`` kept: ``rate_field`` and ``rate_req_s`` (the field × ratio);
    ``{}`` for an arrival kind with no one rate field (trace, mmpp, profile_csv). This is the figure to set, not the
    mean over the run's moments (``mean_rate_req_s``, :func:`demand_figures`): the two agree only over a whole day of
    diurnal arrivals (reference over 2 h from 13:00 reads 1,053 req/s over the run for mean_rate 661.1 req/s; until
    session 54 the answer printed the first alone, as "req/s mean")."""
    field = RATE_FIELDS.get(str(arr.kind))
    if field is None:
        return {}
    return {"rate_field": field, "rate_req_s": float(getattr(arr, field)) * float(ratio)}


def _scale_past_bound(arr, scale: float, ratio: float) -> dict:
    """A max-demand answer whose ``workload.arrivals.scale`` is past the field's bound
    (:data:`dcsim.scenario.workload.MAX_MULTIPLIER`, 1e6: a scenario's rate set a million times too low, such as
    reference at ``mean_rate: 1e-6 req/s``, answers 6.6e8): the same demand given on the arrivals' own rate field
    (:data:`RATE_FIELDS`), the scale kept, so the answer runs (``overrides``, ``rate_field``, ``rate_req_s``); ``{}``
    within the bound. An arrival kind with no one rate field (trace, mmpp, profile_csv) is refused naming the bound
    and the fix. Until 2026-12-05 the answer was refused as "max-demand has no answer: dcsim run refuses the fleet
    at it (workload.arrivals.scale=6.61174e+08) ... less than or equal to 1000000", though the closed form had one."""
    from dcsim.scenario.workload import MAX_MULTIPLIER

    if scale <= MAX_MULTIPLIER:
        return {}
    field = RATE_FIELDS.get(str(arr.kind))
    if field is None:
        raise ValueError(f"max-demand: the answer, {ratio:.3g}x the scenario's demand (workload.arrivals.scale "
                         f"{scale:.3g}), is past the scale's bound {MAX_MULTIPLIER:g}, and {arr.kind} arrivals have "
                         "no one rate field to carry it: raise the scenario's own demand (its rates, or the trace's "
                         "rate_scale) and ask again")
    rate = rate_field_answer(arr, ratio)["rate_req_s"]
    return {"overrides": {f"workload.arrivals.{field}": f"{rate:.9g} req/s"}, "rate_field": field,
            "rate_req_s": rate, "scale_bound": MAX_MULTIPLIER}


def _max_demand_pools(m0, mom) -> dict:
    """max-demand with several model pools: the largest scale of the demand at which the closed form serves every
    pool's work in full at every moment (bisection). Each pool has its own compute, its own racks and its own
    share of the demand, and the shared budgets are split on the joint frontier, so the facility's min(C, P, Q)
    over its demand is no answer: it counts one pool's spare replicas for another's model (mixed-fleet: 0.752x
    by that ratio, where the simulation left work waiting on 46 % of the day)."""
    scale0 = float(m0.scenario.workload.arrivals.scale)
    d = np.asarray(mom["demand_tok_s"], dtype=float)
    if not np.any(d > 0):
        raise ValueError("the scenario has no demand to scale")
    evals = {"n": 0}

    def short_at(x: float) -> tuple[dict, np.ndarray]:
        """The closed form at ``x`` times the demand, and per (tick, pool) the share of its demand left unserved."""
        evals["n"] += 1
        r = evaluate(m0, mom, demand_tok_s=d * x)
        dem = np.asarray(r["pools"]["demand_tok_s"], dtype=float).reshape(d.size, -1)
        got = np.asarray(r["pools"]["achieved_tok_s"], dtype=float).reshape(d.size, -1)
        return r, (dem - got) / np.maximum(dem, 1e-300)

    ok = lambda x: bool(np.all(short_at(x)[1] <= 1e-9))  # noqa: E731
    lo, hi = 0.0, 1.0
    while ok(hi):
        lo, hi = hi, hi * 2.0
        if hi > 1e9:
            raise ValueError("the closed form serves any demand: no pool is ever short")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
        if hi - lo <= 1e-9 * hi:
            break
    x = lo
    r_hi, short_hi = short_at(hi)
    i, p = (int(v) for v in np.unravel_index(np.argmax(short_hi), short_hi.shape))  # the pool short first, when
    binding = ("demand", "compute", "power", "cooling")[int(np.asarray(r_hi["pools"]["binding"]).reshape(d.size, -1)[i, p])]
    r_x = short_at(x)[0]
    at = _ceilings_at_index(r_x, i)
    at["demand_tok_s"] = float(d[i] * x)
    # the next constraint is the short pool's own (the facility's sums mix the pools: mixed-fleet read "compute
    # with 34.2 % headroom" where the reasoning pool's compute sat 1e-7 above its power ceiling)
    own = {k: float(np.asarray(r_x["pools"][k]).reshape(d.size, -1)[i, p]) for k in _CEIL}
    own["demand_tok_s"] = at["demand_tok_s"]
    nxt, marg = _margin(own, binding) if binding in _NAMES else (None, float("nan"))
    return {"overrides": {"workload.arrivals.scale": scale0 * x}, "scale": scale0 * x, "scale_ratio": x,
            **demand_figures(m0, d * x), **rate_field_answer(m0.scenario.workload.arrivals, x),
            "binding": binding, "binding_pool": m0.pools[p].name, "ceilings": at, "pool_ceilings": own,
            "next_binding": nxt,
            "margin": marg, "moment": moment_info(mom, i, m0), "closed_form_evaluations": evals["n"],
            "note": f"several model pools: the largest demand every pool serves in full at every moment; pool "
                    f"{m0.pools[p].name!r} falls short first ({binding}-bound; its own C {own['compute_tok_s']:,.0f}, P "
                    f"{own['power_tok_s']:,.0f}, Q {own['cooling_tok_s']:,.0f} tok/s, and the next constraint is its "
                    "own); facility ceilings below are the pools' sums"}


def _interconnect_for(raw, bdir, m0, mom, gpus: int | None, rtol: float = 1e-7) -> dict:
    sc = m0.scenario
    count0 = sc.racks[0].count
    gpr = m0.groups[0].gpus // count0
    count, asked = whole_racks(gpus, gpr, count0)
    single = len(m0.groups) == 1
    m = m0 if (single or count == count0) else _models(raw, bdir, {"racks.0.count": count})
    a = count / count0 if single else 1.0
    evals = {"n": 0}

    def r_at(cap: float) -> dict:
        evals["n"] += 1
        return evaluate(with_interconnect(m, cap), mom, demand_tok_s=np.inf, gpu_scale=a)

    # the IT power the racks' own feeds let the fleet draw at full load: a budget at or above it feeds them nothing
    # more, so power binding there is the racks' limit, which no interconnect lifts (the search grew the cap to
    # 11.38 MW, or to its 10 TW bound, for a B200 reference fleet whose 48 kW racks draw 48.5 kW flat out)
    p_rack_it = a * float(m.curves.frontier("p").it[-1]) if m.curves.rack_limited("p") else math.inf

    def binds_at(r: dict) -> np.ndarray:
        """Per moment: the interconnect's power binds (not the racks' feeds)."""
        return ((np.atleast_1d(r["binding"]).ravel() == 2)
                & (np.atleast_1d(r["it_budget_power_w"]).ravel() < p_rack_it * (1.0 - 1e-9)))

    def power_binds(cap: float) -> bool:
        return bool(np.any(binds_at(r_at(cap))))

    lo, hi = 1.0, max(float(m0.facility.interconnect_w), 1e3)
    while power_binds(hi):
        lo, hi = hi, hi * 4.0
        if hi > INTERCONNECT_SEARCH_MAX_W:
            raise ValueError(f"power still binds at {fmt_si(lo, 'W')}, the largest interconnect searched (up to "
                             f"{fmt_si(INTERCONNECT_SEARCH_MAX_W, 'W')}): the delivery chain cannot feed this fleet")
    if not power_binds(lo):
        lo = hi = 1.0
    while hi / lo > 1.0 + rtol:
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if not power_binds(mid) else (mid, hi)
    r = r_at(hi)
    hp, hq = _headroom(m, r, a)
    # the critical moment: where power binds just below the answer (the last tick to flip), not merely the
    # tightest power headroom — where cooling binds first that headroom decides nothing (reference read 16:01 h,
    # 41 degC, where cooling binds; power flips last at 13:18 h)
    last = np.nonzero(binds_at(r_at(lo)))[0] if lo < hi else np.zeros(0, int)
    i = int(last[np.argmin(hp[last])]) if last.size else int(np.argmin(hp))
    at = _ceilings_at_index(r, i)
    # past the interconnect the fleet stops at its own top: compute, or its racks' limits where those cap it below
    # compute (the B200 reference read "next: compute with 12.6 % headroom" where its 48 kW racks hold it 10.5 % above
    # the cooling ceiling, at 399,583 tok/s, not 12.6 %; audit G, finding 2)
    top, top_tok_s = _fleet_top(m, a)
    die = _die_holds_at(r, i)
    if hq[i] >= 0 and not die:
        binding, nxt, marg = top, "cooling", float(hq[i])
    else:  # the plant's cooling budget, or the GPU dies' limit (the plant's headroom does not read it: one rule with
        # max-gpus and max-demand, _ceilings_at_index's cooling_limit)
        binding, nxt, marg = "cooling", top, _ratio_margin(top_tok_s, at["cooling_tok_s"])
    out = {"overrides": {"racks.0.count": count, "facility.interconnect": hi}, "interconnect_w": hi,
           "racks": count, "gpus": count * gpr, "fleet_gpus": fleet_gpus(m0, count), **asked,
           "binding": binding, "ceilings": at,
           "next_binding": nxt, "margin": marg, "next_binding_below": "power",
           "headroom": {"power": float(hp[i]), "cooling": float(hq[i])},
           "moment": moment_info(mom, i, m0), "closed_form_evaluations": evals["n"],
           "it_budget_power_w": float(np.asarray(r["it_budget_power_w"]).ravel()[i])}
    sc_pc = m0.scenario.facility.power_chain
    follows = sc_pc is None or sc_pc.ups_rating is None or sc_pc.transformer_rating is None
    loss = (" and, with the UPS and transformer ratings following the interconnect (their defaults), removes "
            "some: their no-load losses grow with the rating and are heat the plant must reject (set "
            "facility.power_chain.ups_rating / transformer_rating to keep them fixed)") if follows else ""
    # the other moments: where the plant cannot carry the fleet at full load whatever the interconnect (the critical
    # moment is where power flips last; a hotter hour may be cooling-bound: the audit of 2026-12-04 read "COMPUTE"
    # on the reference day, whose 16:00 at 41 degC is cooling-bound at full load, 84 % of its afternoon confirmed so)
    hot = np.atleast_1d(hq).ravel() < 0
    out["cooling_binds_share"] = float(np.mean(hot)) if hot.size else 0.0
    if die:
        out["cooling_limit"] = "die"
        q_die = at["cooling_tok_s"]
        # the interconnect whose power ceiling meets the dies' level at the critical moment: the power the fleet at
        # that level draws; the answer's remainder feeds a power the dies never let the fleet use at full load
        lo_q, hi_q = 1.0, hi
        for _ in range(60):
            mid = math.sqrt(lo_q * hi_q)
            p_mid = float(np.asarray(r_at(mid)["power_tok_s"]).ravel()[i])
            lo_q, hi_q = (mid, hi_q) if p_mid < q_die else (lo_q, mid)
        out["interconnect_die_level_w"] = hi_q
        # the headroom of the limit that binds: the IT power the fleet draws at the dies' level (the power budget
        # where power meets their rate) over its full-load IT power, in the line's unit; the plant's cooling budget
        # has room left (cooling_plant). Until session 54 the line read the plant's alone ("cooling 7.2 %" on the die
        # hall, whose dies hold the fleet 2.1 % under compute)
        w_die = float(np.asarray(r_at(hi_q)["it_budget_power_w"]).ravel()[i])
        # (``cooling`` stays the plant's budget, as where the dies do not hold; the dies' is ``cooling_dies``: until
        # the review of session 54 ``cooling`` changed meaning here, the plant's kept as ``cooling_plant``)
        out["headroom"]["cooling_dies"] = w_die / (a * float(m.curves.frontier("pq").it[-1])) - 1.0
        out["headroom"]["cooling_limit"] = "die"
        out["note"] = (f"the GPU dies at their limit (facility.thermal) hold the clock at {q_die:,.0f} tok/s, "
                       f"{100 * (1.0 - q_die / top_tok_s):.1f} % below the fleet's {top} ceiling: no interconnect "
                       f"brings the fleet to {top} at full load here. Power stops binding at this interconnect because "
                       f"the dies' level takes over; that level draws what {fmt_quantity(hi_q, 'power')} of "
                       f"interconnect delivers (power meets the dies' rate there), so the other "
                       f"{fmt_quantity(hi - hi_q, 'power')} feed power the dies never let the fleet use at full load "
                       f"(an interconnect down to {fmt_quantity(hi_q, 'power')} serves at least as much: power binds "
                       "there at or above the dies' rate); interconnect above this adds no tokens" + loss +
                       "; only a cooler die (lower thermal resistance, colder loop) raises the output")
    elif binding == "cooling":
        out["note"] = ("cooling binds at full load at this weather: interconnect above this adds no tokens" + loss +
                       "; the fleet at full load needs more heat rejection")
    elif follows:
        out["note"] = (f"interconnect above this adds no tokens at full load ({binding} binds); a larger one raises "
                       "the delivery chain's no-load losses (UPS and transformer ratings follow it by default)")
    rack = _rack_limit_note(sc, m.groups[0], "at any interconnect (each is capped at its own limit)")
    if rack:
        out["rack_note"] = rack[1]
    if binding != "cooling" and hot.any():
        j = int(np.argmin(hq))
        mo = moment_info(mom, j, m0)
        out["cooling_note"] = (f"cooling binds at full load on {100 * out['cooling_binds_share']:.1f} % of the moments "
                               f"(the worst at {moment_text(mo)}, outdoor {mo['t_out_c']:.1f} °C, "
                               f"{100 * -float(hq[j]):.1f} % short of the fleet's full-load heat): there the fleet does not "
                               "run at full load at any interconnect; only more heat rejection raises its output there")
    return out


def _confirm(raw, bdir, overrides: dict) -> dict:
    """Simulate the scenario at the answer and report what the closed form claims."""
    from dcsim.engine.run import run

    rep = run(load_scenario(raw, overrides=overrides, base_dir=bdir)).report
    return {
        "throughput_tok_s": rep["throughput_tok_s"]["output"],
        "demand_tok_s": rep["throughput_tok_s"]["demand_output"],
        "served_share": rep["throughput_tok_s"]["output"] / max(rep["throughput_tok_s"]["demand_output"], 1e-300),
        "peak_facility_power_w": rep["peak_power_w"]["facility"],
        "interconnect_w": rep["interconnect_w"],
        "interconnect_exceeded_s": rep["interconnect_exceeded_s"],
        "delivery_exceeded_s": rep["delivery_exceeded_s"],
        "binding_share": dict(rep["binding"]["share"]),
        "most_common": rep["binding"]["most_common"],
        "capped_share": rep["controller"]["capped_share"],
        "slo_attainment": rep.get("slo_attainment"),
        "joules_per_output_token_facility": rep["joules_per_output_token"]["facility"],
        "pue": rep["pue"],
        "gpus": rep["gpus"],
    }


def refuse_unrunnable(raw: dict, bdir, overrides: dict, what: str) -> None:
    """Raise the :class:`~dcsim.scenario.ScenarioError` ``dcsim run`` (preflight) would raise for the scenario at
    ``overrides``: an answer whose fleet cannot run is no answer. interconnect-for answered "1.146 MW for 3,200
    GPUs" (ceilings C 2.26 M, P 0, Q 0 tok/s, "compute with inf % headroom") for a fleet whose plant cannot reject
    even its idle heat, which run and validate refuse."""
    from dcsim.engine.preflight import preflight

    at = ", ".join(f"{k}={fmt_quantity(v, 'power')}" if k == "facility.interconnect"
                   else f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in overrides.items())
    label = f"{raw.get('name', 'scenario')}: {what} has no answer: dcsim run refuses the fleet at it ({at})"
    try:
        preflight(load_scenario(raw, overrides=overrides, base_dir=bdir), label=label)
    except ScenarioError as e:
        raise ScenarioError(label, e.errors) from None


def plan(scenario, question: str, *, gpus: int | None = None, weather_percentile: float | None = None,
         confirm: bool = False, overrides: dict | None = None, max_racks: int = 1_000_000) -> dict:
    """Answer a capacity question (see module doc) for a scenario path, dict or Scenario.

    Returns a dict: ``question``, the answer (``overrides`` to apply plus ``gpus`` / ``scale`` /
    ``interconnect_w``), ``binding`` (constraint binding at the answer), ``next_binding`` and
    ``margin`` (fractional headroom of the next ceiling over the binding one), ``ceilings``
    (tokens/s at the critical moment), ``moment`` (its time, s, and temperatures, degC) and,
    with ``confirm=True``, ``confirm``: the simulation's figures at the answer. max-demand gives its answer in the
    question's units too (:func:`demand_figures`: ``mean_rate_req_s``, ``peak_rate_req_s``, ``peak_demand_tok_s``,
    ``gpus``), as :func:`plan_for_targets` does; ``band.rule`` says which calibration band the answer's range is in.
    """
    raw, bdir, m0 = _prepare(scenario, question, overrides, gpus)
    year = weather_year_moments(m0) if weather_percentile is not None else None
    mom = design_moment(year if year is not None else scenario_moments(m0), weather_percentile)
    if question == "max-gpus":
        out = _max_gpus(raw, bdir, m0, mom, max_racks)
    elif question == "max-demand":
        out = _max_demand(raw, bdir, m0, mom)
    else:
        out = _interconnect_for(raw, bdir, m0, mom, gpus)
    ov = dict(out["overrides"])
    if ov.get("racks.0.count", 1) < 1:  # max-gpus: not even one rack runs flat out; that rack must still run
        ov["racks.0.count"] = 1
    if ov.get("workload.arrivals.scale", 1.0) <= 0:  # max-demand: no demand is served somewhere; the fleet must run
        del ov["workload.arrivals.scale"]
    refuse_unrunnable(raw, bdir, ov, question)
    if out.get("margin") is None and out.get("next_binding") and not out.get("margin_note"):
        out["margin_note"] = (f"the {out['binding']} ceiling is 0 at the critical moment: no token is served "
                              f"there, and a margin over it is undefined")
    out["tied_with"] = tied_limits(out.get("ceilings") or {}, out.get("binding"))
    if out.get("next_binding") in out["tied_with"]:
        out["tied_with"] = [out["next_binding"]] + [t for t in out["tied_with"] if t != out["next_binding"]]
    out = {"question": question, "scenario": m0.scenario.name,
           "weather_percentile": weather_percentile, "moments_evaluated": int(mom["t_s"].size), **out}
    if weather_percentile is not None:
        out["weather_source"] = (f"the {year['t_s'].size} hours of {m0.scenario.facility.weather.path} "
                                 "(the weather file's year, not only the simulated ticks)" if year is not None
                                 else f"the scenario's {scenario_moments(m0)['t_s'].size} ticks: "
                                 + weather_note(m0.scenario))
    out["calibration_caveat"] = _caveat(m0)
    out["band"] = answer_band(out, model_band(m0), m0, mom)
    if out["band"] is not None:
        die = die_group_band(raw, bdir, m0, mom, out, max_racks)
        if die is not None:
            out["band"].update(die)
    note = fleet_note(m0) if question != "max-demand" else None
    if note:
        out["fleet_note"] = note
    if confirm:
        out["confirm"] = _confirm(raw, bdir, out["overrides"])
    return out


def model_band(m) -> dict | None:
    """The calibration band a plan answer carries (issue 14.6): the widest band of the scenario's rack groups whose node
    figures are not in-sample calibrated (:func:`dcsim.metrics.fmt.out_of_sample_bands`: transferred or extrapolated;
    the rule of the run's headline band), as fractions ``tok_s`` and ``j_per_tok``, with ``power_cap_ratio`` (the
    largest of those groups' ``Group.power_cap_ratio``: the physical end of the window of P/C), ``lower_bound`` and
    ``groups``; None for an in-sample calibrated scenario (its answer reads as it did)."""
    records = calibration_provenance(m)
    band = group_band(records)
    if band is None:
        return None
    cap = max((g.power_cap_ratio for g in m.groups if g.name in band["groups"]), default=math.inf)
    # which band it is (``rule``, printed in words): one group's own; the fleet's, each group's by its share (one
    # pool of several groups); the widest group's (several pools: a pool's own ceilings decide, its widest band holds)
    out = {**band, "power_cap_ratio": cap, "rule": "group" if len(m.groups) == 1 else "widest"}
    if len(m.groups) > 1 and not m.multi_pool:
        out.update(fleet_weighted_band(m, records))
        if out.get("weighted"):
            out["rule"] = "share-weighted"
    return out


def fleet_weighted_band(m, records: list[dict]) -> dict:
    """The calibration band of the fleet's aggregate ceilings where rack groups of one pool differ (several pools keep
    the widest: each pool's binding is read on its own ceilings, :func:`_max_demand_pools`): each out-of-sample group's
    band (:func:`dcsim.metrics.fmt.group_band` of that group alone; 0 for an in-sample group, whose fit residual is
    not a facility figure's error) weighted by its share of the fleet's full-clock compute ceiling (``tok_s``: C is
    the groups' sum, so a group's rate off by b moves it by b times its share) and of the fleet's full-load IT power
    (``j_per_tok``: the draw P and Q are read against), each group's own supply curve
    (:func:`dcsim.engine.tables.supply_curves`, its rack limits applied) at the scenario's counts; ``weighted`` and
    ``widest`` (the widest group's figures, named in the answer). Until 2026-12-05 the widest group's band stood for
    the whole fleet: the docs' die hall (320 calibrated H100s, ±3.6 %, beside 128 B200s at ±36 % tok/s) answered
    max-gpus "within ±36 % tok/s, ±22 % J/token: 6-14 racks" for racks of H100s."""
    from dcsim.engine.tables import supply_curves

    c, w, bt, bj = [], [], [], []
    for g in m.groups:
        cv = supply_curves([g.table], [g.limits])
        c.append(float(cv.frontier("pq").rate[-1]))
        w.append(float(cv.frontier("pq").it[-1]))
        own = group_band(records, [g.name])
        bt.append(own["tok_s"] if own else 0.0)
        bj.append(own["j_per_tok"] if own else 0.0)
    if not (sum(c) > 0 and sum(w) > 0):
        return {}
    return {"tok_s": sum(x * b for x, b in zip(c, bt)) / sum(c), "j_per_tok": sum(x * b for x, b in zip(w, bj)) / sum(w),
            "weighted": True, "widest": {"tok_s": max(bt), "j_per_tok": max(bj)}}


def answer_band(out: dict, band: dict | None, m=None, mom: dict | None = None) -> dict | None:
    """The range a plan answer spans within the calibration band ``band`` (:func:`model_band`), None without one.

    C moves with the tok/s band and P, Q with the J/token band (:func:`dcsim.tpf.band_ratio_window`: X/C may be off by
    a factor in [(1 - b_t)(1 - b_j), (1 + b_t)(1 + b_j)], the two taken independent), so:

    * ``binding_alternatives``: the limits whose ceiling at the critical moment is within the band of the binding one
      (:func:`dcsim.tpf.ceilings_within_band`): the binding at the answer may be any of them;
    * max-gpus: the GPUs at which power or cooling starts to bind scale with the budget over the fleet's full-load
      draw, tokens/s × J/token per GPU, off by that factor: ``gpus_at_flip`` = the crossover divided by each end of
      the window, ``racks`` / ``gpus`` the whole racks that run flat out below each (one rack at least);
    * interconnect-for: the fleet's full-load IT draw is off by the same factor; ``interconnect_w`` = the answer
      times the facility power at that IT draw over the facility power at the modelled draw, at the critical
      moment (:meth:`facility.breakdown`: PUE, losses and fixed loads as modelled at the answer's interconnect);
    * max-demand (one pool): ``scale`` = the answer times the lowest ceiling at each end over the lowest modelled
      one: low C·(1 - b_t), P and Q over (1 + b_j); high C·(1 + b_t), P and Q over (1 - b_j); the node's full-load
      draw, tokens/s × J/token, held within the window's top (its TDP cap, ``power_cap_ratio``) as the other
      questions hold it: at the low end J/token rises at most to hi/(1 - b_t), at the high end tokens/s to
      hi/(1 - b_j) (until 2026-12-05 max-demand ignored the cap)."""
    if band is None:
        return None
    bt, bj, cap = band["tok_s"], band["j_per_tok"], band.get("power_cap_ratio", math.inf)
    lo, hi = band_ratio_window(bt, bj, cap)
    c = out.get("ceilings") or {}
    named = out.get("binding")
    alts = []
    if named in _NAMES and isinstance(c.get(f"{named}_tok_s"), (int, float)):
        alts = [k for k in _NAMES if k != named and bool(ceilings_within_band(
            c[f"{named}_tok_s"], named, c.get(f"{k}_tok_s", math.nan), k, bt, bj, cap))]
    res: dict[str, Any] = {"tok_s_pct": 100.0 * bt, "j_per_tok_pct": 100.0 * bj, "lower_bound": band["lower_bound"],
                           "groups": band["groups"], "weighted": bool(band.get("weighted")),
                           "rule": band.get("rule", "group"),
                           "ratio_window": [lo, hi if math.isfinite(hi) else None],
                           "power_cap_ratio": cap if math.isfinite(cap) else None,
                           "binding_alternatives": alts}
    q = out.get("question")
    if q == "max-gpus" and out.get("gpus_at_flip") is not None:
        gpr = int(out["gpus_per_rack"])
        f = float(out["gpus_at_flip"])
        # other rack groups kept at their counts (``other_groups_gpus``, their full-load IT in group 0's GPUs, e):
        # the fleet's draw off by r moves the crossover to (f + e)/r - e, not f/r (until session 53 f/r: the die
        # hall without its die limit read 312-434 GPUs for 296-486)
        e = float(out.get("other_groups_gpus") or 0.0)
        flips = [(f + e) / hi - e if math.isfinite(hi) else 0.0, (f + e) / lo - e if lo > 0 else math.inf]
        racks = [max(int(math.floor(x / gpr + 1e-9)), 1) if math.isfinite(x) else None for x in flips]
        res.update(gpus_at_flip=[x if math.isfinite(x) else None for x in flips], racks=racks,
                   gpus=[r * gpr if r is not None else None for r in racks])
    elif q == "interconnect-for" and m is not None and mom is not None and out.get("it_budget_power_w"):
        mo, w = out["moment"], float(out["it_budget_power_w"])
        f = with_interconnect(m, float(out["interconnect_w"])).facility
        at = lambda x: float(f.breakdown(w * x, m.liquid_fraction, mo["t_out_c"], mo["t_wb_c"])["facility"])  # noqa: E731
        base = at(1.0)
        res["interconnect_w"] = [float(out["interconnect_w"]) * at(x) / base if base > 0 and math.isfinite(x) else None
                                 for x in (lo, hi)]
    elif q == "max-demand" and "binding_pool" not in out and all(isinstance(c.get(k), (int, float)) for k in _CEIL):
        # true C = C·a, a in [1 - b_t, 1 + b_t]; true J/token = J·b, b in [1 - b_j, 1 + b_j], so P, Q over b; the
        # node's full-load draw moves by a·b, at most the window's top (band_ratio_window: the TDP cap). Lowest: a at
        # its bottom, b up to min(1 + b_j, hi/(1 - b_t)); highest: b at its bottom, a up to min(1 + b_t, hi/(1 - b_j))
        now = min(c[k] for k in _CEIL)
        b_max = min(1 + bj, hi / (1 - bt)) if bt < 1 else 1 + bj
        a_max = min(1 + bt, hi / (1 - bj)) if bj < 1 else 1 + bt
        low = min(c["compute_tok_s"] * max(1 - bt, 0.0), c["power_tok_s"] / b_max, c["cooling_tok_s"] / b_max)
        high = min(c["compute_tok_s"] * a_max, *(c[k] / (1 - bj) if bj < 1 else math.inf
                                                 for k in ("power_tok_s", "cooling_tok_s")))
        if now > 0:
            res["scale"] = [float(out["scale"]) * low / now, float(out["scale"]) * high / now]
    return res


def _die_set(out: dict) -> bool:
    """Whether the GPU dies' limit (not the plant's budgets) sets a plan answer: max-gpus's flip held by the dies
    (``cooling_limit: die``, or even one rack held below full clock), max-demand's binding Q the dies' at full work.
    interconnect-for where the dies' level is what stops power binding (``cooling_limit: die``: the interconnect that
    feeds that level follows the holding group's power; until session 54 it kept the fleet's weighted band there, the
    die hall's 585 kW-815 kW)."""
    q = out.get("question")
    if q == "max-gpus":
        return (out.get("cooling_limit") == "die"
                or out.get("margin_note") == "the dies' limit binds, not the facility's budget")
    if q == "max-demand":
        return out.get("binding") == "cooling" and (out.get("ceilings") or {}).get("cooling_limit") == "die"
    return out.get("cooling_limit") == "die"


def _die_holder(m, mom: dict, i: int, a: float = 1.0) -> int:
    """The rack group whose dies set the level held at full work at moment ``i`` (``a`` the replica multiple, as
    :func:`evaluate`): :func:`dcsim.engine.flex.die_ceiling_tok_s` at the budget the closed form reads its levels under
    (the power budget, with the pre-emptive cap the cooling budget too: :func:`dcsim.engine.steady.ceilings_at`);
    -1 where the dies do not hold the clock."""
    from dcsim.engine.flex import die_ceiling_tok_s

    r = evaluate(m, mom, demand_tok_s=np.inf, gpu_scale=a)
    it_p = float(np.asarray(r["it_budget_power_w"]).ravel()[i])
    it_q = float(np.asarray(r["it_budget_cooling_w"]).ravel()[i])
    fit = min(it_p, it_q) if m.scenario.facility.thermal.preemptive_cap else it_p
    return int(die_ceiling_tok_s(m, np.inf, fit, a, holder=True)[1])


def die_group_band(raw: dict, bdir, m0, mom: dict, out: dict, max_racks: int = 1_000_000) -> dict | None:
    """The band of a die-set plan answer (:func:`_die_set`): the dies that hold the clock are one rack group's, whose
    temperature T = T_s + r_th·P follows that group's own GPU power, so the answer's range is the question re-solved
    with that group's power at the ends of its own J/token band, P·(1 ± b_j) (:func:`dcsim.metrics.fmt.group_band`
    of the group alone; 0 for an in-sample group), not the fleet's weighted band (:func:`fleet_weighted_band`, the
    right worst case for the sums C, P, Q) divided into the answer. The die rise r_th·P at P·(1 ± b_j) is set as
    ``racks[g].gpu_thermal.r_th_k_per_w`` = r_th·(1 ± b_j), the same product; the room's heat and the plant's budgets
    stay at the modelled draw (their error is the fleet's, weighted). Returns ``die_group`` (name, ``j_per_tok_pct``),
    ``die_power_x`` [1 + b_j, 1 - b_j] and the question's ends at those (max-gpus ``racks``, ``gpus``,
    ``gpus_at_flip``; max-demand ``scale``), the low answer first; None where the dies do not set the answer.
    Until session 53 the docs' die hall (B200 dies bind, ±22 % J/token) answered max-gpus "6-8 racks" (the fleet's
    ±8 %; 6-14 racks before that) where its answers at the B200's power ×1.22 / ×0.78 are 0 and 10 racks."""
    from dcsim.scenario import apply_overrides

    if not _die_set(out):
        return None
    q = out["question"]
    t = np.asarray(mom["t_s"], dtype=float)
    i = int(np.argmin(np.abs(t - float(out["moment"]["t_s"]))))
    count0 = m0.scenario.racks[0].count
    if q in ("max-gpus", "interconnect-for"):
        # max-gpus: the first whole rack the dies hold (the flip lies below it); interconnect-for: its fleet, at its
        # answer's interconnect (the power budget the dies' levels are read under)
        n = max(int(out["racks"]) + 1, 1) if q == "max-gpus" else int(out["racks"])
        if len(m0.groups) == 1:
            m, a = m0, n / count0
        else:
            m, a = (m0 if n == count0 else _models(raw, bdir, {"racks.0.count": n})), 1.0
        if q == "interconnect-for":
            m = with_interconnect(m, float(out["interconnect_w"]))
    else:
        m, a = m0, 1.0
    g = _die_holder(m, mom, i, a)
    if g < 0:
        return None
    name = m0.groups[g].name
    own = group_band(calibration_provenance(m0), [name])
    bj = float(own["j_per_tok"]) if own else 0.0
    r_th = float(m.die_cache[1][g].r_th_k_per_w)
    ends = []
    for f in (1.0 + bj, max(1.0 - bj, 1e-6)):
        raw_f = apply_overrides(raw, {f"racks.{g}.gpu_thermal.r_th_k_per_w": r_th * f})
        m_f = _models(raw_f, bdir)
        ends.append(_max_gpus(raw_f, bdir, m_f, mom, max_racks) if q == "max-gpus"
                    else _max_demand(raw_f, bdir, m_f, mom) if q == "max-demand"
                    else _interconnect_for(raw_f, bdir, m_f, mom, int(out["gpus"])))
    res: dict[str, Any] = {"die_group": {"name": name, "gpu": m0.groups[g].gpu_name, "j_per_tok_pct": 100.0 * bj},
                           "die_power_x": [1.0 + bj, 1.0 - bj], "rule": "die-group"}
    if q == "max-gpus":
        res.update(racks=[int(e["racks"]) for e in ends], gpus=[int(e["gpus"]) for e in ends],
                   gpus_at_flip=[e.get("gpus_at_flip") for e in ends])
    elif q == "max-demand":
        res["scale"] = [float(e["scale"]) for e in ends]
    else:  # interconnect-for: not monotone in the group's power, so its range is not its ends' (_die_ic_range)
        res.update(_die_ic_range(raw, bdir, m, mom, out, g, r_th, ends, res["die_power_x"]))
    return res


#: interconnect-for's die band bisects the holding group's power multiple at which its dies let go of the clock to
#: this width (a tolerance of the search, not a measurement: 8 steps over the die hall's ±22 %)
DIE_LET_GO_X_TOL = 2e-3


def _die_ic_range(raw, bdir, m, mom, out: dict, g: int, r_th: float, ends: list[dict], xs: list[float]) -> dict:
    """interconnect-for's range where the dies of group ``g`` set the answer, over that group's GPU power multiple x
    in its band (``xs``, the re-solved ``ends`` at each end; the answer itself at x = 1), each answer's draw with the
    group's GPU power at x times the modelled (:func:`_die_end_interconnect_w`). With the dies holding the clock (x
    above the x* where they let go) the group's GPUs draw what holds their die at its limit, r_th·(x·P) = T_lim - T_s,
    the same at every x, and the rest of the fleet runs at the level they hold, which falls as x rises: the draw falls
    (or at least does not rise) as x rises. With the dies letting go the fleet runs at full clock and its draw rises
    with x. So the most interconnect is needed where the dies just let go (x*), not at an end, and the least at one of
    the ends: on the die hall at x 1.221, 1, 0.983 and 0.779 the interconnect reads 694.8, 748.4, 765.4 and 730.9 kW,
    within 0.3 % of a model whose B200s draw x times the GPU power (693.8, 748.4, 765.2, 729.0 kW); on the B200
    group alone at 0.09 K/W 247.1, 256.9, 267.1 (x* 0.853), 256.8 kW. Until session 54 the group's whole IT share
    was scaled, which read the held draw rising with x on the B200 group alone (253.6 kW at x0.855, 262.2 kW at
    x1.22; the text then said where the most was read, as it still does). The most is reported where it was read.

    x* is bisected to :data:`DIE_LET_GO_X_TOL` with one closed-form evaluation a step: whether the dies hold the
    clock at x at the let-go answer's interconnect and critical moment (:func:`_die_holds_at`; that interconnect
    feeds the fleet at full clock, so the dies hold there exactly where they hold below full clock). Where the dies
    let go the answer does not depend on x (r_th sets nothing at full clock): the let-go solve stands for every x
    below x*, its draw scaled by x. The held side is solved once more, just above x* (until session 54 every step
    re-solved the question: 7.5 s of CPU for 2.6 s on the die hall of 1 h, 22.1 for 4.6 s over 24 h, the same
    answers). Returns ``interconnect_w`` [least, most], ``die_let_go_x`` (x*, None where the dies hold the clock at
    both ends or at neither) and ``interconnect_samples`` ([x, W, binding] read: the ends, the answer, and about
    x* the last held and the first let-go x)."""
    from dcsim.scenario import apply_overrides

    def raw_at(x: float) -> dict:
        return apply_overrides(raw, {f"racks.{g}.gpu_thermal.r_th_k_per_w": r_th * x})

    def at(x: float) -> dict:
        raw_x = raw_at(x)
        return _interconnect_for(raw_x, bdir, _models(raw_x, bdir), mom, int(out["gpus"]))

    held = lambda e: e.get("cooling_limit") == "die"  # noqa: E731
    samples = [(x, e) for x, e in zip(xs, ends)] + [(1.0, out)]
    x_let_go = None
    (x_hi, e_hi), (x_lo, e_lo) = samples[0], samples[1]
    if held(e_hi) and not held(e_lo):
        if not held(out):
            x_lo, e_lo = 1.0, out
        else:
            x_hi = 1.0
        # the let-go answer's fleet, interconnect and critical moment: the dies hold there iff they hold the clock
        count0 = int(raw["racks"][0]["count"])
        n = int(e_lo["racks"])
        single = len(m.groups) == 1
        a = n / count0 if single else 1.0
        ov = {"racks.0.count": n} if (not single and n != count0) else None
        t = np.asarray(mom["t_s"], dtype=float)
        i_lo = int(np.argmin(np.abs(t - float(e_lo["moment"]["t_s"]))))

        def holds(x: float) -> bool:
            m_x = with_interconnect(_models(raw_at(x), bdir, ov), float(e_lo["interconnect_w"]))
            return _die_holds_at(evaluate(m_x, mom, demand_tok_s=np.inf, gpu_scale=a), i_lo)

        while x_hi - x_lo > DIE_LET_GO_X_TOL:
            mid = 0.5 * (x_lo + x_hi)
            x_lo, x_hi = (x_lo, mid) if holds(mid) else (mid, x_hi)
        x_let_go = x_lo
        if x_hi not in (1.0, xs[0]):
            samples.append((x_hi, at(x_hi)))
        if x_lo not in (1.0, xs[1]):
            samples.append((x_lo, e_lo))
    read = sorted(((x, _die_end_interconnect_w(m, g, e, x), e["binding"]) for x, e in samples), key=lambda t: -t[0])
    ws = [w for _, w, _ in read]
    return {"interconnect_w": [min(ws), max(ws)], "die_let_go_x": x_let_go,
            "interconnect_samples": [[x, w, b] for x, w, b in read]}


def _die_end_interconnect_w(m, g: int, e: dict, f: float) -> float:
    """interconnect-for's answer at one end of the holding group's power band (``e``, re-solved with its die rise
    r_th·P at P·``f``, :func:`die_group_band`) with that group's GPU power at ``f`` times the modelled one too: the r_th
    route moves the level the dies hold but leaves the draw the interconnect feeds at the modelled power, and an
    interconnect answer is that draw. The band is a J/token band of GPU energy (ML.ENERGY reads the GPUs alone), so
    ``f`` scales group ``g``'s GPU power only, as r_th·f scales the die rise (r_th·P·f): its part of the fleet's IT
    power is taken as its GPUs' share of the fleet's full-load IT power (its own supply curve's GPU power at full load,
    :attr:`dcsim.engine.tables.Frontier.gpu`, over the groups' full-load IT; at a held level the groups run one uniform
    level, so the share is close to that); the fleet's IT draw at the end's answer, ``it_budget_power_w``, becomes
    W·(1 + (f - 1)·share) and the interconnect scales as the facility power at that draw over the facility power at W
    (:meth:`facility.breakdown` at the end's critical moment, as :func:`answer_band` scales its ends). Until session 54
    the group's whole IT share was scaled (its CPUs, memory and fans too): the die hall's band read 706.4-763.5 kW."""
    from dcsim.engine.tables import supply_curves

    fr = [supply_curves([x.table], [x.limits]).frontier("pq") for x in m.groups]
    it_full = sum(float(x.it[-1]) for x in fr)
    share = float(fr[g].gpu[-1]) / it_full if it_full > 0 else 1.0
    it_w, ic = float(e["it_budget_power_w"]), float(e["interconnect_w"])
    mo = e["moment"]
    fac = with_interconnect(m, ic).facility
    at = lambda x: float(fac.breakdown(x, m.liquid_fraction, mo["t_out_c"], mo["t_wb_c"])["facility"])  # noqa: E731
    base = at(it_w)
    return ic * at(it_w * (1.0 + (f - 1.0) * share)) / base if base > 0 else ic


def band_answer_text(r: dict) -> list[str]:
    """The lines a plan answer's calibration band adds (:func:`answer_band`, ``r["band"]``): the range of the answer
    within the band; ``[]`` without one."""
    b = r.get("band")
    if not b:
        return []
    bnd = fmt_band({"tok_s_pct": b["tok_s_pct"], "j_per_tok_pct": b["j_per_tok_pct"]}, bool(b["lower_bound"]))
    if b.get("weighted"):  # several rack groups: each group's band by its share of the fleet (fleet_weighted_band)
        bnd += f"; {', '.join(b['groups'])}'s band by share of the fleet's compute and full-load IT power"
    elif b.get("rule") == "widest":  # several pools: the widest group's, as each pool's binding is read on its own
        gs = b["groups"]
        bnd += (f"; {gs[0]}'s band" if len(gs) == 1 else f"; the widest group's, of {', '.join(gs)}") + (
            ": several model pools, each read on its own ceilings")
    lb = "at least " if b["lower_bound"] else ""
    die = b.get("die_group")
    if die:  # the dies of one group set the answer: its own power band, the question re-solved at each end
        if b.get("racks"):
            (r0, r1), (g0, g1) = b["racks"], b["gpus"]
            what = f"{lb}{r0:,}-{r1:,} racks ({g0:,}-{g1:,} GPUs) run flat out under the cap"
        elif r.get("question") == "interconnect-for":
            i0, i1 = b["interconnect_w"]
            # the most where it was read (_die_ic_range): where the dies just let go where the held draw does not
            # rise with x (the die hall, and the B200 group alone, since the GPUs alone are scaled); an end otherwise
            x_most = max(b.get("interconnect_samples") or [[None, i1]], key=lambda s: s[1])[0]
            what = (f"{lb}{fmt_quantity(round_sig(i0, 4, up=True), 'power')}-"
                    f"{fmt_quantity(round_sig(i1, 4, up=True), 'power')} of interconnect"
                    + (f", the most where the dies just let go of the clock (x{x_most:.3g}) and the "
                       "fleet runs at full clock" if x_most is not None and x_most == b.get("die_let_go_x")
                       else f", the most at their power x{x_most:.3g}" if x_most is not None else ""))
        else:
            s0, s1 = b["scale"]
            what = f"{lb}workload.arrivals.scale {round_sig(s0, 3, up=False):.3g}-{round_sig(s1, 3, up=False):.3g}"
        x0, x1 = b["die_power_x"]
        return [f"  within the calibration band ({die['name']}'s own "
                f"{fmt_band({'j_per_tok_pct': die['j_per_tok_pct']}, quantities=('j_per_tok_pct',))}: its "
                f"{die['gpu']} dies set the answer, re-solved at their power x{x0:.3g} and x{x1:.3g}): {what} "
                "(docs/sweeps.md, plan)"]
    if b.get("racks"):  # whole racks below each end of the window: the answer's own unit
        (r0, r1), (g0, g1), (f0, f1) = b["racks"], b["gpus"], b["gpus_at_flip"]
        what = (f"{lb}{r0:,}-{r1:,} racks ({g0:,}-{g1:,} GPUs) run flat out under the cap; power or cooling binds "
                f"from {f0:,.0f}-{f1:,.0f} GPUs" if r1 is not None else
                f"{lb}from {r0:,} racks ({g0:,} GPUs), no upper end, run flat out under the cap; power or cooling "
                f"binds from {f0:,.0f} GPUs, no upper end")
    elif b.get("interconnect_w") and all(v is not None for v in b["interconnect_w"]):
        i0, i1 = b["interconnect_w"]
        what = (f"{lb}{fmt_quantity(round_sig(i0, 3, up=False), 'power')}-"
                f"{fmt_quantity(round_sig(i1, 3, up=True), 'power')} of interconnect")
    elif b.get("scale"):
        s0, s1 = b["scale"]
        what = f"{lb}workload.arrivals.scale {round_sig(s0, 3, up=False):.3g}-{round_sig(s1, 3, up=False):.3g}"
    else:
        what = "the answer's range is not computed for this question"
    return [f"  within the calibration band ({bnd}): {what} (C moves with the tok/s band, P and Q with the J/token "
            f"band: P/C and Q/C within {band_window_text(b['ratio_window'])}; docs/sweeps.md, plan)"]


def binding_answer_text(r: dict) -> str:
    """The binding at a plan answer as printed: ``"COMPUTE"``, or ``"COMPUTE, or cooling within the calibration
    band"`` where :func:`answer_band` finds another limit within the band at the critical moment."""
    alts = (r.get("band") or {}).get("binding_alternatives") or []
    return r["binding"].upper() + (f", or {or_list(alts)} could bind instead within the calibration band"
                                   if alts else "")


def _caveat(m) -> str | None:
    """The calibration caveat of the scenario's node models (None when all are calibrated, issue 14.6)."""
    return calibration_caveat(calibration_provenance(m))


def weather_year_moments(m) -> dict[str, np.ndarray] | None:
    """Every hour of the scenario's weather file (EPW or CSV) as moments; None for other weather.

    ``t_s`` is the simulation time of each file hour (file time minus the scenario's offset, so a
    diurnal demand is evaluated at the right hour of day); demand is the workload's rate there.
    """
    from dcsim.thermal.weather import read_epw, read_weather_csv, resolve_weather_path

    w = m.scenario.facility.weather
    if w.kind not in ("epw", "csv"):
        return None
    path = resolve_weather_path(w.path, m.scenario.base_dir)
    if w.kind == "epw":
        t_f, t_db, _tdp, _rh, _pa, t_wb = read_epw(path)
        offset = m.clock_s  # the top-level start: (seconds from 1 January)
    else:
        t_f, t_db, t_wb = read_weather_csv(path)
        offset = w.offset
    t = np.asarray(t_f, float) - offset
    demand = np.asarray(m.workload.rate(t), float) * m.workload.output_per_arrival
    t_db = np.asarray(t_db, float)
    return {"t_s": t, "demand_tok_s": demand, "t_db_c": t_db, "t_wb_c": np.minimum(np.asarray(t_wb, float), t_db)}


# --------------------------------------------------------------------------- service targets

_TARGET_RE = re.compile(r"^\s*(?:(?P<cls>[A-Za-z0-9_\-]+)\.)??(?P<metric>ttft|tpot|e2e|slo_attainment)"
                        r"(?:\.(?P<q>p50|p90|p99|mean))?\s*(?P<op><=|>=|<|>)\s*(?P<val>.+?)\s*$")


@dataclass(frozen=True)
class Target:
    """A service target: ``[class.]ttft|tpot|e2e.p50|p90|p99|mean <= time`` or ``[class.]slo_attainment >= fraction``."""

    text: str
    cls: str | None
    metric: str
    quantile: str | None
    op: str
    value: float  # s, or a fraction for slo_attainment

    def measure(self, report: dict) -> float | None:
        """The target's figure in a report (fluid estimate or request/hybrid measurement); None if absent."""
        blk = report if self.cls is None else (report.get("serving", {}).get("per_class", {}).get(self.cls) or {})
        if self.metric == "slo_attainment":
            v = blk.get("slo_attainment")
        else:
            v = (blk.get("latency_s") or {}).get(self.metric, {}).get(self.quantile)
        return None if v is None else float(v)

    def check(self, report: dict) -> dict:
        """``{target, value, ok, headroom}``: headroom is the fractional margin (negative: missed);
        None for a target of 0, which has no relative margin (``slo_attainment>=0`` never binds)."""
        v = self.measure(report)
        if v is None:
            return {"target": self.text, "value": None, "ok": False, "headroom": None}
        ok = v <= self.value if self.op == "<=" else v >= self.value
        if self.value <= 0:
            head = None
        else:
            head = 1.0 - v / self.value if self.op == "<=" else (v - self.value) / self.value
        return {"target": self.text, "value": v, "ok": bool(ok), "headroom": head}


def parse_target(text: str, class_names: list[str] | None = None) -> Target:
    """Parse ``"ttft.p99<=2 s"``, ``"chat.tpot.p99<=100 ms"``, ``"slo_attainment>=0.99"``; a ValueError names the
    flag and the text, then the reason (:func:`_parse_target`)."""
    try:
        return _parse_target(text, class_names)
    except ValueError as e:  # `ttft.p99<=2 kW` said only "unit 'kW' is not a time unit": of which flag?
        raise ValueError(f"--target {excerpt(text, 80)}: {e}") from None


def _parse_target(text: str, class_names: list[str] | None) -> Target:
    """:func:`parse_target` but for the ``--target TEXT:`` before its reasons."""
    m = _TARGET_RE.match(text)
    if not m:
        raise ValueError("expected [class.]ttft|tpot|e2e.p50|p90|p99|mean<=TIME "
                         "or [class.]slo_attainment>=FRACTION")
    cls, metric, q, op, val = m.group("cls"), m.group("metric"), m.group("q"), m.group("op"), m.group("val")
    op = {"<": "<=", ">": ">="}.get(op, op)

    if metric == "slo_attainment":
        if q is not None:
            raise ValueError("slo_attainment takes no quantile")
        value = parse_quantity(val, "fraction")
        if op != ">=":
            raise ValueError("slo_attainment is a floor: use >=")
        if not (0.0 <= value <= 1.0):  # NaN fails too
            raise ValueError("slo_attainment is a share of requests in [0, 1] "
                             f"(e.g. 0.99 or 99%), got {value:g}")
    else:
        if q is None:
            raise ValueError(f"give a quantile, e.g. {metric}.p99")
        if re.fullmatch(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", val.strip()):
            # a bare number would be seconds, and latencies (TPOT above all) are quoted in ms: `tpot.p99<=100`
            # was read as 100 s, never bound, and the echo showed no unit (audit C, A8)
            raise ValueError("a latency target needs a unit, e.g. "
                             f"'{metric}.{q}<={val.strip()} ms' or '{metric}.{q}<={val.strip()} s'")
        value = parse_quantity(val, "time")
        if op != "<=":
            raise ValueError("a latency target is a ceiling: use <=")
        if not (0.0 < value < math.inf):  # NaN fails too
            raise ValueError(f"a latency ceiling must be a time > 0, got {value:g} s")
    if cls is not None and class_names is not None and cls not in class_names:
        raise ValueError(f"no request class {excerpt(cls, 80)} (classes: {', '.join(class_names)})")
    return Target(text.strip(), cls, metric, q, op, float(value))


def weather_note(sc) -> str:
    """Where the weather of a scenario (and so its percentiles) comes from."""
    w = sc.facility.weather
    if w.kind in ("epw", "csv"):
        return f"weather from {w.path} ({w.kind}; {sc.duration / 86400:.3g} days of it simulated)"
    if w.kind == "synthetic":
        days = sc.duration / 86400
        return (f"weather from the synthetic model ({days:.3g} day{'s' if days != 1 else ''}"
                + (", deterministic cosines" if w.noise_std == 0 else ", with AR(1) noise")
                + "): percentiles of one synthetic day, not of a weather year")
    return "constant weather"


#: Standby draw of a powered-down replica as a fraction of its idle wall power, and its wake-up
#: delay: the defaults of ``controller.standby_power`` and ``controller.wake_up_delay``
#: (assumptions, see :class:`dcsim.scenario.ControllerSpec`).
STANDBY_FRACTION = float(ControllerSpec.model_fields["standby_power"].default)
WAKE_UP_DELAY_S = float(ControllerSpec.model_fields["wake_up_delay"].default)


def power_down_ceiling_tok_s(m, it_budget_w, standby_fraction: float = STANDBY_FRACTION) -> np.ndarray:
    """Largest rate (tokens/s) within ``it_budget_w`` (W) if replicas not needed were powered down.

    The efficient frontier mixes operating points, the all-idle one included (replicas idle at
    their idle power). Powering down moves that point to standby power (``standby_fraction`` of
    the idle wall power, rack overhead unchanged); the new frontier is the upper hull of the
    standby point and the old frontier's vertices.
    """
    f = m.curves.standby_frontier(standby_fraction, m.overhead_w)
    return np.interp(np.asarray(it_budget_w, float), f.it, f.rate, left=0.0)


def power_down_gain(raw, bdir, overrides: dict, standby_fraction: float | None = None,
                    fast=None) -> dict:
    """What ``controller.idle_power_down: true`` changes at a candidate: the engine's answer.

    Two fluid runs of the scenario (``fast``: a memoised report function, default
    :func:`_fast`), with idle replicas powered down (standby, woken with the wake-up delay, as the
    engine simulates it) and without: the served and SLO-meeting tokens/s they add (run means),
    the IT energy they save, and the steady-state ceiling of the old estimate
    (:func:`power_down_ceiling_tok_s`) for comparison.
    """
    fast = fast or (lambda ov: _fast(raw, bdir, ov))
    on_ov = {**overrides, "controller.idle_power_down": True}
    if standby_fraction is not None:
        on_ov["controller.standby_power"] = float(standby_fraction)
    off, on = fast(dict(overrides)), fast(on_ov)
    m = _models(raw, bdir, {**on_ov, "fidelity": "fluid"})
    c = m.scenario.controller
    good = lambda r: r.get("goodput_tok_s") or 0.0  # noqa: E731
    return {"gain_tok_s": on["throughput_tok_s"]["output"] - off["throughput_tok_s"]["output"],
            "goodput_gain_tok_s": good(on) - good(off),
            "it_energy_saved_share": 1.0 - on["energy_j"]["it"] / max(off["energy_j"]["it"], 1e-300),
            "slo_attainment": {"off": off.get("slo_attainment"), "on": on.get("slo_attainment")},
            "standby_fraction": float(c.standby_power), "wake_up_delay_s": float(c.wake_up_delay),
            "note": "fluid engine runs with controller.idle_power_down on and off (standby power and wake-up "
                    "delay are assumptions)"}


def _fast(raw, bdir, overrides: dict) -> dict:
    """The fast model at a candidate: a fluid run (closed-form ceilings per tick + the queueing SLO estimate)."""
    from dcsim.engine.run import run

    return run(load_scenario(raw, overrides={**overrides, "fidelity": "fluid"}, base_dir=bdir)).report


def _meets(targets: list[Target], rep: dict) -> tuple[bool, list[dict]]:
    checks = [t.check(rep) for t in targets]
    return all(c["ok"] for c in checks), checks


def _bisect(ok, lo: float, hi: float, *, rtol: float, integer: bool = False, geometric: bool = False, rising=True):
    """Largest x in [lo, hi] with ok(x) when ok holds below a threshold (``rising=False``: smallest
    x with ok(x) when it holds above). ``ok(lo)`` (resp. ``ok(hi)``) must hold. Returns (x, bracket)."""
    good, bad = (lo, hi) if rising else (hi, lo)
    while True:
        if integer and abs(bad - good) <= 1:
            break
        if not integer and abs(bad - good) <= rtol * max(abs(good), abs(bad)):
            break
        mid = math.sqrt(good * bad) if geometric and good > 0 and bad > 0 else 0.5 * (good + bad)
        if integer:
            mid = int(round(mid))
            if mid in (good, bad):
                mid = good + (1 if bad > good else -1)
        if ok(mid):
            good = mid
        else:
            bad = mid
    return good, (min(good, bad), max(good, bad))


def _critical_tick(rep_ts: dict) -> int:
    """The tick where demand is largest against the binding ceiling (where queues and latency peak)."""
    lim = np.minimum(rep_ts["compute_tok_s"], np.minimum(rep_ts["power_tok_s"], rep_ts["cooling_tok_s"]))
    return int(np.argmax(rep_ts["demand_tok_s"] / np.maximum(lim, 1e-300)))


def fastest_step_s(m) -> dict[str, tuple[float, str]]:
    """The shortest time any request can take, unloaded, at the top clock (1.0), over the scenario's groups:
    ``{"ttft": (s, group), "tpot": ..., "e2e": ...}``. TTFT is at least one iteration prefilling a 1-token prompt
    alone; TPOT at least one decode iteration of that request alone; e2e at least the first (an output of one
    token). Each is the node's iteration model (:meth:`dcsim.node.model.NodeModel.step_fn`), the same step the runs
    use: an iteration reads the weights once, so no load, prompt or clock makes one shorter."""
    best: dict[str, tuple[float, str]] = {}
    for g in m.groups:
        step = g.node.step_fn(1.0)
        pre = float(step(1, 0, 0.0)[0])
        dec = float(step(0, 1, 1.0)[0])
        for k, v in (("ttft", pre), ("tpot", dec), ("e2e", pre)):
            if k not in best or v < best[k][0]:
                best[k] = (v, getattr(g, "name", None) or getattr(g, "gpu_name", "?"))
    return best


def check_targets_reachable(tg: list[Target], m) -> None:
    """A latency target below one request's own unloaded time (:func:`fastest_step_s`) is refused at once: no
    GPU count, demand or interconnect meets it (`ttft.p99<=1 ms` searched 2 min 48 s, then said no GPU count
    meets the targets)."""
    best = fastest_step_s(m)
    for t in tg:
        if t.metric in best and t.value < best[t.metric][0]:
            v, g = best[t.metric]
            what = {"ttft": "a 1-token prompt prefilled alone", "tpot": "one decode step of a request alone",
                    "e2e": "a 1-token prompt's single iteration alone"}[t.metric]
            raise ValueError(f"--target {t.text}: {fmt_quantity(t.value, 'time')} is below the fastest any request "
                             f"can be: {what} takes {fmt_quantity(v, 'time')} on {g} at the top clock (the node's "
                             f"iteration model); no GPU count, demand or interconnect meets it")


def plan_for_targets(scenario, question: str, targets: list[str], *, gpus: int | None = None,
                     overrides: dict | None = None, confirm: bool = True, seeds: int = TARGET_SEEDS,
                     window: float = TARGET_WINDOW_S, max_racks: int = 4096, refine: bool = True) -> dict:
    """Answer ``question`` under service ``targets`` (see :func:`parse_target`).

    Search on the fast model (fluid runs of the scenario, the SLO estimate of
    :mod:`dcsim.serving.slo_estimate`), then confirm at the answer with ``seeds`` request- or
    hybrid-fidelity runs of a ``window``-second steady window at the critical tick (the demand,
    weather and ceilings of the tick where demand is highest against the binding ceiling).

    * ``max-demand``: the largest ``workload.arrivals.scale`` meeting the targets;
    * ``max-gpus``: the GPU counts (``racks.0.count``) meeting the targets at the scenario's
      demand: the fewest, the most, and the one that maximises SLO-meeting output (goodput);
    * ``interconnect-for``: the smallest ``facility.interconnect`` meeting the targets for
      ``gpus`` GPUs (default: the scenario's) at the scenario's demand.

    With ``refine`` (default), when the confirming runs miss a target of ``max-demand`` or
    ``interconnect-for`` (the fast model is optimistic near saturation, docs/slo.md), the answer is
    bisected again on the confirming model (one seed per step, to 2 %), re-confirmed with every
    seed and stepped 2 % further (at most 3 times) while a seed misses; the fast-model answer
    stays in ``fast_answer``.

    The confirming runs are made once per value and seed and reused within the plan (a cache private to the plan,
    keyed on the overrides as the fast model's runs are): the refinement's bisection runs the first seed at the value
    it settles on, which its confirmation runs again. Every figure is the same as making each run afresh (the runs
    are seeded and deterministic; tests/test_plan_speed.py and bench/bench_plan.py compare the answers with every
    confirmation made afresh, by handing :func:`confirm_window` no cache: :func:`_without_the_plans_cache`).
    """
    seeds = check_seeds(seeds)  # before a search of minutes, as --seeds is checked before it
    if isinstance(targets, str):  # read character by character: "--target 't': expected ..."
        raise ValueError(f"targets must be a list of strings such as ['ttft.p99<=2 s'], got one string {targets!r}")
    raw, bdir, m0 = _prepare(scenario, question, overrides, gpus)
    sc = m0.scenario
    tg = [parse_target(t, [c.name for c in m0.workload.classes]) for t in targets]
    check_targets_reachable(tg, m0)  # before a search of minutes that could only end "no ... meets the targets"
    evals = {"n": 0}
    memo: dict = {}

    def fast(ov: dict) -> dict:
        key = _overrides_key(ov)
        if key not in memo:
            evals["n"] += 1
            memo[key] = _fast(raw, bdir, ov)
        return memo[key]

    def ok(ov: dict) -> bool:
        return _meets(tg, fast(ov))[0]

    out: dict[str, Any] = {"question": question, "scenario": sc.name, "targets": [t.text for t in tg],
                           "weather": weather_note(sc), "search": "fluid runs + queueing SLO estimate"}
    count0 = sc.racks[0].count
    gpr = m0.groups[0].gpus // count0
    if question == "max-demand":
        scale0 = float(sc.workload.arrivals.scale)
        cf = _max_demand(raw, bdir, m0, design_moment(scenario_moments(m0), None))["scale"]
        ov = lambda s: {"workload.arrivals.scale": float(s)}  # noqa: E731
        lo = cf * TARGET_SCALE_SEARCH_X[0]
        if not ok(ov(lo)):
            raise ValueError(f"targets not met even at {lo / scale0:.3g}x the scenario's demand scale "
                             f"({fmt_multiple(TARGET_SCALE_SEARCH_X[0])} of the closed form's ceiling): "
                             + "; ".join(_fmt_check(c) for c in _meets(tg, fast(ov(lo)))[1]))
        hi = cf * TARGET_SCALE_SEARCH_X[1]
        unbounded = ok(ov(hi))
        if unbounded:  # the targets do not bind before the facility's ceiling: the ceiling is the answer
            ans, br = cf, (hi, hi)
        else:
            ans, br = _bisect(lambda s: ok(ov(s)), lo, hi, rtol=0.005, geometric=True)
        out.update({"overrides": ov(ans), "scale": ans, "scale_ratio": ans / scale0, "bracket": list(br),
                    "closed_form_scale": cf, "targets_bind": not unbounded})
        _demand_answer(raw, bdir, out, ans)
        if unbounded:
            out["note"] = (f"the targets still hold at the search's end ({hi:.4g} = "
                           f"{fmt_multiple(TARGET_SCALE_SEARCH_X[1])} the closed-form ceiling): "
                           "they do not limit demand, the facility's ceiling does, so the answer is the ceiling "
                           f"(scale {cf:.4g}); beyond it work waits up to controller.hold_limit and is then shed, which "
                           "a latency target at or above hold_limit cannot see")
    elif question == "max-gpus":
        ov = lambda c: {"racks.0.count": int(c)}  # noqa: E731
        flat = _max_gpus(raw, bdir, m0, design_moment(scenario_moments(m0), None), max_racks)["racks"]
        hi = int(min(max_racks, max(2 * max(flat, 1), 2 * count0, 4)))
        counts = sorted({int(round(x)) for x in np.geomspace(1, hi, 14)} | {count0, max(flat, 1)})
        rows = []
        for c in counts:
            rep = fast(ov(c))
            good = rep.get("goodput_tok_s")
            rows.append({"racks": c, "gpus": c * gpr, "meets": _meets(tg, rep)[0],
                         "goodput_tok_s": None if good is None else float(good),
                         "throughput_tok_s": rep["throughput_tok_s"]["output"],
                         "binding": rep["binding"]["most_common"]})
            on = fast({**ov(c), "controller.idle_power_down": True})
            rows[-1].update({"power_down_meets": _meets(tg, on)[0],
                             "power_down_goodput_tok_s": float(on.get("goodput_tok_s") or 0.0),
                             "power_down_gain_tok_s": on["throughput_tok_s"]["output"] - rep["throughput_tok_s"]["output"]})
        feas = [r for r in rows if r["meets"]]
        if not feas:
            raise ValueError(f"no GPU count in 1..{hi} racks meets the targets at the scenario's demand")
        # the fewest racks meeting the targets (bisection below the first feasible scan point)
        first = feas[0]["racks"]
        below = [r["racks"] for r in rows if r["racks"] < first]
        fewest, br_lo = (first, (first, first)) if not below else _bisect(
            lambda c: ok(ov(c)), max(below), first, rtol=0, integer=True, rising=False)
        last = feas[-1]["racks"]
        above = [r["racks"] for r in rows if r["racks"] > last]
        most, br_hi = (last, (last, last)) if not above else _bisect(
            lambda c: ok(ov(c)), last, min(above), rtol=0, integer=True)
        most_bounded = bool(above)  # False: the largest count scanned still meets them (not an upper limit)
        best = _fewest_within_tie(feas, "goodput_tok_s")
        out.update({"overrides": ov(best["racks"]), "racks": best["racks"], "gpus": best["racks"] * gpr,
                    "gpus_per_rack": gpr, "recommended_gpus": best["racks"] * gpr,
                    "fewest_gpus": fewest * gpr, "most_gpus": most * gpr, "most_gpus_bounded": most_bounded,
                    "bracket_fewest_racks": list(br_lo), "bracket_most_racks": list(br_hi),
                    "flat_out_gpus": flat * gpr, "scan": rows,
                    "power_down": _power_down_answer(raw, bdir, rows, ov, best, fast),
                    "note": ("more GPUs lower SLO-meeting output beyond the recommended count "
                             "(the power cap forces lower clocks and idle nodes draw power)")
                    if any(r["racks"] > best["racks"] and r["goodput_tok_s"] is not None
                           and r["goodput_tok_s"] < 0.99 * best["goodput_tok_s"] for r in rows) else None})
    else:
        count, asked = whole_racks(gpus, gpr, count0)
        cf = _interconnect_for(raw, bdir, m0, design_moment(scenario_moments(m0), None), count * gpr)["interconnect_w"]
        ov = lambda w: {"racks.0.count": count, "facility.interconnect": float(w)}  # noqa: E731

        def probe(w: float) -> bool | None:
            """Targets met at interconnect ``w``; ``None`` where the scenario refuses it (below the
            idle fleet's draw, or so large that ratings following it make the plant's no-load losses
            exceed what it can reject)."""
            try:
                return ok(ov(w))
            except ScenarioError:
                return None

        ok_ic = lambda w: bool(probe(w))  # noqa: E731  (a refused interconnect meets nothing)
        fleet = fleet_gpus(m0, count)  # the other groups keep their counts
        hi, valid = cf * 1.5, None
        while not (met := probe(hi)):
            if met is False:
                valid = hi
            if met is None or hi > 64.0 * cf:
                top = valid if valid is not None else hi
                checks = "" if valid is None else "; " + "; ".join(
                    _fmt_check(c) for c in _meets(tg, fast(ov(valid)))[1])
                raise ValueError(f"targets not met at any interconnect up to {top / 1e6:.4g} MW for "
                                 f"{fleet_gpus_text({'gpus': count * gpr, 'fleet_gpus': fleet})} "
                                 f"at the scenario's demand (closed form for its peak: {cf / 1e6:.4g} MW): "
                                 "the fleet, not the interconnect, falls short" + checks)
            hi *= 2.0
        lo = cf * 0.05
        if ok_ic(lo):
            ans, br = lo, (lo, lo)
        else:
            ans, br = _bisect(ok_ic, lo, hi, rtol=0.005, geometric=True, rising=False)
        out.update({"overrides": ov(ans), "interconnect_w": ans, "racks": count, "gpus": count * gpr,
                    "fleet_gpus": fleet, **asked,
                    "bracket": list(br), "closed_form_interconnect_w": cf})
    out["fast"] = _fast_block(tg, fast(out["overrides"]))
    out["fast_evaluations"] = evals["n"]
    out["calibration_caveat"] = _caveat(m0)
    if confirm:
        confirmed_runs: dict = {}  # this plan's confirming windows and runs, per overrides (and seed)
        cw = lambda ov, **kw: confirm_window(raw, bdir, ov, tg, window=window,  # noqa: E731
                                             cache=confirmed_runs, **kw)
        out["confirm"] = cw(out["overrides"], seeds=seeds)
        if question == "max-gpus":  # the powered-down recommendation, confirmed on the request engine too
            pdn = out["power_down"]
            pdn["confirm"] = cw(pdn["overrides"], seeds=seeds)
        if refine and not out["confirm"]["confirmed"] and question in ("max-demand", "interconnect-for"):
            _refine(out, raw, bdir, tg, question, seeds, window, cw)
    return out


#: SLO-meeting outputs within this share of the best are a tie: the fluid SLO estimate's spread across seeds
#: (:data:`dcsim.serving.slo_estimate.SEED_BAND_PCT`); the planner then takes the fewest GPUs. Until 2026-12-04 it
#: took the largest figure: 320 over 288 GPUs for 2 tok/s (0.002 %), and 416 over 320 with power-down for 1e-10 tok/s
#: (the audit of fidelities, finding 7)
GOODPUT_TIE_REL = SEED_BAND_PCT / 100.0


def _fewest_within_tie(rows: list[dict], key: str) -> dict:
    """The row of fewest racks among those whose ``key`` (SLO-meeting output) is within :data:`GOODPUT_TIE_REL` of
    the best."""
    top = max(float(r[key] or 0.0) for r in rows)
    tied = [r for r in rows if float(r[key] or 0.0) >= (1.0 - GOODPUT_TIE_REL) * top]
    return min(tied, key=lambda r: r["racks"])


def _power_down_answer(raw, bdir, rows: list[dict], ov, best: dict, fast) -> dict:
    """max-gpus with ``controller.idle_power_down``: the engine's gain at the recommended count
    and the count that maximises SLO-meeting output when idle replicas are powered down."""
    out = power_down_gain(raw, bdir, ov(best["racks"]), fast=fast)
    feas = [r for r in rows if r["power_down_meets"]] or rows
    pick = _fewest_within_tie(feas, "power_down_goodput_tok_s")
    out.update({"recommended_gpus": pick["gpus"], "recommended_goodput_tok_s": pick["power_down_goodput_tok_s"],
                "meets_targets": bool(pick["power_down_meets"]), "overrides": {**ov(pick["racks"]),
                                                                              "controller.idle_power_down": True}})
    return out


def _fast_block(tg: list[Target], rep: dict) -> dict:
    """The fast model's figures at an answer: each target's value and headroom, and the binding target."""
    checks = _meets(tg, rep)[1]
    binds = [c for c in checks if c["headroom"] is not None]
    return {"targets": checks, "slo_attainment": rep.get("slo_attainment"),
            "goodput_tok_s": rep.get("goodput_tok_s"), "throughput_tok_s": rep["throughput_tok_s"]["output"],
            "binding_share": dict(rep["binding"]["share"]), "binding": rep["binding"]["most_common"],
            "slo_method": rep.get("slo_method"),
            "slo_caveat": "; ".join(slo_caveats(rep)) or None,
            "binding_target": min(binds, key=lambda c: c["headroom"])["target"] if binds else None}


def _refine(out: dict, raw, bdir, tg: list[Target], question: str, seeds: int, window: float, cw) -> None:
    """Bisect the answer on the confirming model (one seed per step) and confirm it again. ``cw(overrides, seeds=)``:
    the plan's confirmation (:func:`confirm_window` with the plan's cache of runs)."""
    n = {"runs": 0}

    def ok(ov: dict) -> bool:
        n["runs"] += 1
        return cw(ov, seeds=1)["confirmed"]

    demand = question == "max-demand"
    key = "workload.arrivals.scale" if demand else "facility.interconnect"
    ans = out["scale"] if demand else out["interconnect_w"]
    racks = out.get("racks")
    ov = (lambda x: {key: float(x)}) if demand else (lambda x: {"racks.0.count": racks, key: float(x)})  # noqa: E731
    safe = ans
    for _ in range(6):  # a value the confirming model accepts: less demand, or more interconnect
        safe *= 0.7 if demand else 1.4
        if ok(ov(safe)):
            break
    else:
        out["refined"] = {"note": f"targets missed on the confirming model at {key} = {safe:.4g}", "runs": n["runs"]}
        return
    x, br = _bisect(lambda v: ok(ov(v)), min(safe, ans), max(safe, ans), rtol=0.02, geometric=True, rising=demand)
    out["fast_answer"] = {"overrides": out["overrides"], "bracket": out.get("bracket"), "confirm": out["confirm"]}
    out["overrides"] = ov(x)
    out["scale" if question == "max-demand" else "interconnect_w"] = x
    out["fast_answer"]["fast"] = out["fast"]
    ratio0 = out.get("scale_ratio")
    out["bracket"] = list(br)
    out["refined"] = {"runs": n["runs"], "bracket": list(br),
                      "note": "answer bisected on the confirming model (one seed per step)"}
    out["confirm"] = cw(out["overrides"], seeds=seeds)
    # the other seeds may still miss: step 2 % further (at most REFINE_STEPS times), confirming with every seed
    for _ in range(REFINE_STEPS):
        if out["confirm"]["confirmed"]:
            break
        prev, x = x, x * (0.98 if demand else 1.02)
        out["overrides"] = ov(x)
        out["scale" if demand else "interconnect_w"] = x
        out["bracket"] = [min(x, prev), max(x, prev)]
        out["refined"]["runs"] += seeds
        out["refined"]["stepped"] = out["refined"].get("stepped", 0) + 1
        out["confirm"] = cw(out["overrides"], seeds=seeds)
    if question == "max-demand":
        out["scale_ratio"] = x / (ans / ratio0)
        _demand_answer(raw, bdir, out, x)
    out["fast"] = _fast_block(tg, _fast(raw, bdir, out["overrides"]))


def _demand(raw, bdir, ov: dict) -> np.ndarray:
    m = _models(raw, bdir, ov)
    return scenario_moments(m)["demand_tok_s"]


def demand_figures(m, demand_tok_s) -> dict:
    """A demand answer in the units of the question: the arrivals, req/s (``mean_rate_req_s``,
    ``peak_rate_req_s``: the output tokens demanded over the expected output tokens served per arrival,
    :attr:`dcsim.workload.model.Workload.output_per_arrival`, so ``rate(t)`` itself for analytic arrivals and the
    trace's tokens in request units for a replay), the output tokens/s demanded (``mean_demand_tok_s``,
    ``peak_demand_tok_s``) over ``demand_tok_s`` (the moments' demand at the answer) and the GPUs that serve it
    (``gpus``: the scenario's fleet). Until session 54 an answer under targets said its demand in
    ``workload.arrivals.scale`` alone (the flat-out one in scale and peak tok/s)."""
    d = np.asarray(demand_tok_s, dtype=float).ravel()
    per = float(m.workload.output_per_arrival)
    rate = d / per if per > 0 else np.full_like(d, np.nan)
    return {"mean_rate_req_s": float(np.mean(rate)), "peak_rate_req_s": float(np.max(rate)),
            "mean_demand_tok_s": float(np.mean(d)), "peak_demand_tok_s": float(np.max(d)), "gpus": int(m.gpus)}


def _demand_answer(raw, bdir, out: dict, scale: float) -> None:
    """Set ``out``'s demand figures (:func:`demand_figures`) for plan_for_targets' max-demand answer at ``scale``,
    and the closed form's ceiling in req/s (demand is proportional to the scale). Called again where the answer is
    refined: until session 54 ``peak_demand_tok_s`` stayed at the fast model's answer (the stored reference answer:
    219,111 tok/s at scale 0.5897, for 205,365 at its refined 0.5527; notebook 03 plots it)."""
    m = _models(raw, bdir, {"workload.arrivals.scale": float(scale)})
    out.update(demand_figures(m, scenario_moments(m)["demand_tok_s"]))
    out["closed_form_mean_rate_req_s"] = out["mean_rate_req_s"] * float(out["closed_form_scale"]) / float(scale)
    rf = rate_field_answer(m.scenario.workload.arrivals, float(out["scale_ratio"]))
    out.update(rf)
    if rf:
        out["closed_form_rate_req_s"] = rf["rate_req_s"] * float(out["closed_form_scale"]) / float(scale)


def _steady_window(raw: dict, m, i: int, window: float, fidelity: str) -> dict:
    """A steady scenario at tick ``i`` of ``m``: that tick's weather held constant, arrivals at its rate."""
    import copy

    sc = m.scenario
    dt = float(sc.controller.tick)
    t = np.array([(i + 0.5) * dt])
    t_db, t_wb = (float(np.asarray(x).ravel()[0]) for x in m.facility.weather.at(t))
    r = copy.deepcopy(raw)
    r["facility"] = {**r["facility"], "weather": {"kind": "constant", "t_db": t_db, "t_wb": min(t_wb, t_db)}}
    arr = dict(r["workload"]["arrivals"])
    rate = float(m.workload.rate(t)[0])
    if arr.get("kind") in ("diurnal", "profile_csv", "trace"):
        arr = {"kind": "poisson", "rate": rate}
    elif arr.get("kind") in ("poisson", "gamma"):
        arr = {**arr, "rate": rate, "scale": 1.0}
    r["workload"] = {**r["workload"], "arrivals": arr}
    r["duration"] = float(window)
    r["fidelity"] = fidelity
    r["faults"] = faults_at(raw.get("faults") or [], sc.faults, float(t[0]), float(window), tick_s=dt)
    r["controller"] = {**r.get("controller", {}), "tick": min(float(sc.controller.tick), 1.0)}
    return r


def faults_at(raw_faults: list, specs, t_s: float, window: float, *, tick_s: float) -> list:
    """The scenario's faults as they stand at the tick whose middle is ``t_s`` and length ``tick_s``, held through a
    steady window of ``window`` s: a fault overlapping any part of the tick (:func:`dcsim.power.grid.overlaps`), from
    the window's start to its end, one that does not dropped; node failures (a stationary random process) kept. As
    the engine reads the tick: a curtailment at its cap (the engine holds such a tick to it), a cooling failure at
    its loss × the share of the tick it covers (several over the tick held as one, at the loss of the time-mean of
    their product, :func:`dcsim.faults.cooling_factor_mean`) and a heat wave at its mean strength over the tick, its ramp done
    (:meth:`dcsim.faults.FaultSchedule.cooling_factor_over`, :meth:`~dcsim.faults.FaultSchedule.weather_over`;
    until 2026-12-05 those two were taken at ``t_s``, as the engine then read them). Until 2026-12-04 the window
    dropped every fault: ``plan -q max-demand`` on scenarios/curtailment.yaml confirmed its answer at 17:00, the critical tick because the
    curtailment starts there, on the full contract (attainment 0.73-0.80 there at every fidelity with the curtailment
    in force; the audit of fidelities, finding 1). Until 2026-12-05 a curtailment was kept only if in force at the
    tick's middle: reference.yaml at a 15-min tick with a 1-min curtailment fault at 17:05 confirmed at the 17:00
    tick, which the engine holds to the fault's cap, without the fault."""
    from dcsim.faults import FaultSchedule, cooling_factor_mean
    from dcsim.power.grid import overlaps
    from dcsim.scenario.faults import as_list

    raw_faults = as_list(raw_faults)  # `faults:` may be one mapping or null, as the scenario reads it
    t0 = t_s - 0.5 * tick_s
    # the cooling failures over the tick act as the engine reads them, the time-mean of the product of their losses
    # (cooling_factor_mean): held as one failure at that mean loss (two overlapping ones within a tick were held
    # each at its own mean until 2026-12-05, a product of means)
    cool = [(float(sp.start), float(sp.end), 1.0 - float(sp.capacity_loss)) for sp in specs
            if sp.kind == "cooling_failure" and overlaps(t0, tick_s, sp.start, sp.end)]
    cool_factor = float(cooling_factor_mean(cool, np.array([t0]), tick_s)[0])
    cool_held = False
    out = []
    for f, spec in zip(raw_faults, specs):
        if spec.kind == "node_failures":
            out.append(f)
            continue
        if not overlaps(t0, tick_s, spec.start, spec.end):
            continue
        held = {**f, "start": 0.0, "duration": float(window)}
        if spec.kind == "heat_wave":  # at its mean strength over the tick (its own ramp), held without a ramp
            frac = float(FaultSchedule.heat_wave_mean_strength(spec, np.array([t0]), tick_s)[0])
            if frac <= 0:
                continue
            wb = spec.offset if spec.wet_bulb_offset is None else spec.wet_bulb_offset
            held.update(offset=float(spec.offset) * frac, wet_bulb_offset=float(wb) * frac, ramp=0.0)
        elif spec.kind == "cooling_failure":  # all of them over the tick, as one: the first holds their mean loss
            if cool_held:
                continue
            cool_held = True
            held.update(capacity_loss=1.0 - cool_factor)
        out.append(held)
    return out


def _window_at_critical_tick(r0: dict, bdir, window: float) -> tuple[dict, dict]:
    """The steady window of :func:`confirm_window` for the scenario ``r0``: (its raw scenario, the moment: the
    critical tick's time, outdoor temperature, demand and local time).

    The critical tick is found on a fluid run of the whole scenario, of which only the timeseries' demand and
    ceilings are read: the engine's loop alone (:func:`dcsim.engine.loop.simulate`), without assembling the report,
    whose queueing SLO estimate (worked out from the finished run, dcsim.engine.assemble) reads those columns and
    does not change them. On the reference day the loop takes 0.04-0.05 s CPU and the whole run with its report and
    estimate 3.2 s (dcsim.engine.run.run_models; 2026-12-05, a loaded 2-core machine), which every confirmation paid
    until then. The window is built from ``r0`` itself, so its runs keep the scenario's serving options."""
    from dcsim.engine.loop import simulate

    m = _models(r0, bdir, {"fidelity": "fluid"})
    ts = simulate(m)["timeseries"]
    i = _critical_tick(ts)
    fid = "request" if m.replicas <= 64 else "hybrid"
    moment = {"t_s": float(ts["t_s"][i]), "t_out_c": float(ts["t_out_c"][i]),
              "demand_tok_s": float(ts["demand_tok_s"][i]),
              "local_time": fmt_local_short(float(ts["t_s"][i]), m.scenario.clock_block())}
    base = {**_steady_window(r0, m, i, window, fid), "seed": int(m.scenario.seed)}  # the scenario's (or default) seed
    return base, moment


def _overrides_key(overrides: dict) -> str:
    """The key a plan's caches (the fast model's runs, the confirming windows) keep a value's runs under."""
    return json.dumps(overrides, sort_keys=True, default=str)


@contextlib.contextmanager
def _without_the_plans_cache():
    """Within the block every confirmation of a plan is made afresh: :func:`confirm_window` is handed no cache (it
    then keeps one of its own for the call), where the plan hands it the one it keeps. The one switch
    tests/test_plan_speed.py (the cache changes no figure) and bench/bench_plan.py (what it saves) both use."""
    global confirm_window
    kept = confirm_window

    def afresh(*a, cache=None, **k):
        return kept(*a, cache=None, **k)

    confirm_window = afresh
    try:
        yield
    finally:
        confirm_window = kept


def confirm_window(raw, bdir, overrides: dict, targets: list[Target], *, seeds: int = TARGET_SEEDS,
                   window: float = TARGET_WINDOW_S, cache: dict | None = None) -> dict:
    """Request (<= 64 replicas) or hybrid runs of a steady ``window``-second window at the critical tick of the
    scenario ``raw`` with ``overrides``, for ``seeds`` seeds (the scenario's seed, then the next ones).

    ``cache``: a dict one plan keeps across its confirmations (``window`` and ``targets`` fixed): the window per
    ``overrides`` and each seed's run in it are made once and reused; None (default): a fresh one. Every figure is
    the same as with a fresh cache (the runs are seeded and deterministic)."""
    from dcsim.engine.run import run
    from dcsim.scenario import apply_overrides

    cache = {} if cache is None else cache

    key = _overrides_key(overrides)
    if key not in cache:
        cache[key] = _window_at_critical_tick(apply_overrides(raw, overrides), bdir, window)
    base, moment = cache[key]
    runs = []
    for k in range(max(1, seeds)):
        seed = int(base["seed"]) + k
        if (key, seed) not in cache:
            rep = run(load_scenario(base, overrides={"seed": seed}, base_dir=bdir)).report
            met, checks = _meets(targets, rep)
            cache[(key, seed)] = {"seed": seed, "meets": met, "targets": checks,
                                  "slo_attainment": rep.get("slo_attainment"),
                                  "ttft_p50_s": rep["latency_s"]["ttft"]["p50"],
                                  "ttft_p99_s": rep["latency_s"]["ttft"]["p99"],
                                  "tpot_p99_s": rep["latency_s"]["tpot"]["p99"],
                                  "throughput_tok_s": rep["throughput_tok_s"]["output"],
                                  "binding": rep["binding"]["most_common"]}
        runs.append(cache[(key, seed)])
    spread = {}
    for j, t in enumerate(targets):
        vals = [rr["targets"][j]["value"] for rr in runs if rr["targets"][j]["value"] is not None]
        spread[t.text] = {"min": min(vals), "max": max(vals), "mean": float(np.mean(vals))} if vals else None
    return {"fidelity": base["fidelity"], "window_s": float(window), "tick_s": base["controller"]["tick"],
            "faults_held": [f.get("kind", "?") for f in base["faults"]], "moment": dict(moment),
            "runs": runs, "spread": spread, "confirmed": all(rr["meets"] for rr in runs)}


def demand_answer_text(r: dict) -> str:
    """A max-demand answer in the question's units (:func:`demand_figures`): req/s mean and at the peak, the output
    tokens/s at the peak and the GPUs serving it, each rounded down (a maximum: the printed demand is still served);
    ``""`` for an answer without them (one stored before session 54)."""
    if r.get("mean_rate_req_s") is None:
        return ""
    return (f"{_req_s_text(r['mean_rate_req_s'])} req/s mean over the run, {_req_s_text(r['peak_rate_req_s'])} req/s "
            f"at the peak ({r['peak_demand_tok_s']:,.0f} output tok/s) on {r['gpus']:,} GPUs")


def _req_s_text(v: float) -> str:
    """A demand answer's req/s as printed: rounded down (a maximum), 4 significant figures."""
    return f"{round_sig(v, 4, up=False):,.0f}" if v >= 1e3 else f"{round_sig(v, 4, up=False):.4g}"


def demand_setting_text(r: dict) -> str:
    """The field to set for a max-demand answer: the arrivals' own rate field where the kind has one
    (:func:`rate_field_answer`; the mean over the run printed before it is that only over a whole diurnal day), then
    ``workload.arrivals.scale``, the same demand."""
    scale = (f"workload.arrivals.scale = {round_sig(r['scale'], 4, up=False):.4g} "
             f"({round_sig(r['scale_ratio'], 3, up=False):.3g}x the scenario")
    if r.get("rate_field") is None:
        return scale
    scale0 = float(r["scale"]) / float(r["scale_ratio"]) if r.get("scale_ratio") else 1.0
    kept = f" at workload.arrivals.scale {scale0:.4g}" if abs(scale0 - 1.0) > 1e-12 else ""
    return (f"workload.arrivals.{r['rate_field']} = {_req_s_text(r['rate_req_s'])} req/s{kept}, or " + scale)


def format_targets(r: dict) -> str:
    """Human-readable answer of :func:`plan_for_targets`: the answer, then its confirmation (the request-level runs
    that check it) and the verdict, then how the search found it (the fast model's figures at the answer, the binding
    target, the refinement), then the caveats, short and in one place (:func:`caveat_lines`). Until session 55 the
    weather and calibration notes came before the answer and the fast model's SLO caveat (~1,500 characters, ~20
    lines at a terminal) between the answer and its confirmation."""
    q = r["question"]
    lines = [f"{r['scenario']}: {q} under {', '.join(r['targets'])}"]
    if q == "max-demand":
        units = demand_answer_text(r)
        cf_rate = r.get("closed_form_mean_rate_req_s")
        if r.get("targets_bind", True):
            lines.append(f"  answer: {units + '; ' if units else ''}{demand_setting_text(r)}; "
                         f"bracket {round_sig(r['bracket'][0], 4, up=False):.4g} .. {round_sig(r['bracket'][1], 4, up=True):.4g}); "
                         f"the closed form's ceiling is "
                         + (f"workload.arrivals.{r['rate_field']} {_req_s_text(r['closed_form_rate_req_s'])} req/s "
                            f"(scale {r['closed_form_scale']:.4g})" if r.get("closed_form_rate_req_s") is not None
                            else f"{_req_s_text(cf_rate)} req/s mean over the run (scale {r['closed_form_scale']:.4g})"
                            if cf_rate is not None else f"scale {r['closed_form_scale']:.4g}"))
        else:
            lines.append(f"  answer: the facility's ceiling, {units + '; ' if units else ''}{demand_setting_text(r)}"
                         "): the targets do not bind")
            lines.append(f"  note: {r['note']}")
    elif q == "max-gpus":
        most = (f"{r['most_gpus']:,} GPUs" if r.get("most_gpus_bounded", True) else
                f"at least {r['most_gpus']:,} GPUs (the largest count scanned; no upper limit found)")
        lines.append(f"  recommended: {r['recommended_gpus']:,} GPUs (the fewest within {100 * GOODPUT_TIE_REL:g} % of the most "
                     f"SLO-meeting output, the estimate's seed spread); targets met from "
                     f"{r['fewest_gpus']:,} GPUs to {most} (racks bracketed {r['bracket_fewest_racks']} "
                     f"and {r['bracket_most_racks']}); flat out under the cap: {r['flat_out_gpus']:,} GPUs")
        if r.get("note"):
            lines.append(f"  note: {r['note']}")
        pdn = r["power_down"]
        lines.append(f"  with controller.idle_power_down (standby {100 * pdn['standby_fraction']:g} % of idle power, "
                     f"wake-up {pdn['wake_up_delay_s']:g} s: assumptions) the engine serves {pdn['gain_tok_s']:+,.0f} "
                     f"tok/s ({pdn['goodput_gain_tok_s']:+,.0f} SLO-meeting) and changes IT energy by "
                     f"{-100 * pdn['it_energy_saved_share']:+.0f} % at the recommended count; with it the "
                     f"most SLO-meeting output (within {100 * GOODPUT_TIE_REL:g} %, fewest GPUs) is at {pdn['recommended_gpus']:,} GPUs "
                     f"({pdn['recommended_goodput_tok_s']:,.0f} tok/s"
                     + ("" if pdn["meets_targets"] else ", no count meets the targets") + ")")
        if "confirm" in pdn:
            c = pdn["confirm"]
            lines.append("  powered-down recommendation " + ("CONFIRMED" if c["confirmed"] else "NOT CONFIRMED")
                         + f" by {len(c['runs'])} {c['fidelity']}-fidelity run(s)")
    else:
        lines.append(f"  answer: interconnect {fmt_quantity(round_sig(r['interconnect_w'], 4, up=True), 'power')} "
                     f"for {fleet_gpus_text(r)} (bracket {fmt_quantity(r['bracket'][0], 'power')} .. "
                     f"{fmt_quantity(r['bracket'][1], 'power')}; power stops binding at full load from "
                     f"{fmt_quantity(r['closed_form_interconnect_w'], 'power')})")
        lines += gpus_note_lines(r)
    if "confirm" in r:
        c = r["confirm"]
        mo = c["moment"]
        lines.append(f"  confirmation: {len(c['runs'])} {c['fidelity']}-fidelity runs of a {c['window_s'] / 60:g}-min "
                     f"steady window at {moment_text(mo)} ({mo['t_out_c']:.1f} °C, "
                     f"{mo['demand_tok_s']:,.0f} tok/s demanded"
                     + (f"; in force there and held through the window: {', '.join(c['faults_held'])}"
                        if c.get("faults_held") else "") + "):")
        for t in r["targets"]:  # in the targets' order, also for an answer read back from --json (its keys sorted)
            s = c["spread"][t]
            lines.append(f"    {t}: " + ("n/a" if s is None else f"{target_value_text(t, s['mean'])} (seeds "
                                             f"{target_range_text(t, s['min'], s['max'])})"))
        lines.append("  " + ("CONFIRMED: every confirming run meets the targets" if c["confirmed"] else
                             "NOT CONFIRMED: " + "; ".join(
                                 f"seed {rr['seed']}: " + ", ".join(_fmt_check(x) for x in rr["targets"] if not x["ok"])
                                 for rr in c["runs"] if not rr["meets"])))
    f = r["fast"]
    lines.append(f"  fast model at the answer (fluid, over the whole run): binding {f['binding']}; "
                 + "; ".join(_fmt_check(c) for c in f["targets"]))
    if f.get("binding_target"):  # "the others" only when there are others
        lines.append(f"  binding target: {f['binding_target']}"
                     + (" (the others keep the headroom shown)" if len(f.get("targets") or []) > 1 else ""))
    if "fast_answer" in r:
        lines.append(f"  refined: the fast model's answer missed a target when confirmed; bisected on the confirming "
                     f"model ({r['refined']['runs']} runs) to the answer above (fast model said "
                     f"{json.dumps(r['fast_answer']['overrides'])})")
    elif r.get("refined"):
        lines.append(f"  refinement failed: {r['refined']['note']}")
    lines += caveat_lines(r)
    return "\n".join(lines)


#: where a caveat of the fast model's SLO estimate is cut for the answer's caveats (:func:`short_caveat`): the
#: tail caveat's "SLO tail: TTFT p99 is uncertain — ...", a known gap's
#: "SLO estimate: <regime> (on N of M ticks ...): ..."
_CAVEAT_CUTS = (" — ", " (on ")


def short_caveat(text: str, limit: int = 200) -> str:
    """A caveat of the fast model's SLO estimate (:func:`dcsim.serving.slo_estimate.slo_caveats`) in a line: its
    head, before the measured bands and the regime's share of the run (the whole text stays in the answer,
    ``fast.slo_caveat``, and in docs/slo.md)."""
    cut = min((text.find(c) for c in _CAVEAT_CUTS if c in text), default=len(text))
    return excerpt(text[:cut].strip(), limit, quote=False)


def caveat_lines(r: dict) -> list[str]:
    """The caveats of an answer under targets, after it and its confirmation, one line each: the weather's source,
    the calibration caveat, and the fast model's SLO caveats cut to their heads (:func:`short_caveat`), with where
    their whole text is. The caveats of the fast model bear on its figures, not on the request-level confirmation."""
    out = [r["weather"]] if r.get("weather") else []  # "weather from ...", "constant weather"
    if r.get("calibration_caveat"):
        out.append(f"calibration: {r['calibration_caveat']}")
    f = r.get("fast") or {}
    if f.get("slo_caveat"):
        heads = "; ".join(short_caveat(c) for c in _split_caveats(str(f["slo_caveat"])))
        out.append(f"fast model's SLO estimate (its figures above, not the confirmation's): {heads} (whole text: "
                   "--json fast.slo_caveat; docs/slo.md)")
    return caveats_block(out)


def _split_caveats(joined: str) -> list[str]:
    """The caveats :func:`_fast_block` joined with "; " (each known gap begins ``SLO_GAP_PREFIX``)."""
    from dcsim.serving.slo_estimate import SLO_GAP_PREFIX

    parts = joined.split(f"; {SLO_GAP_PREFIX}")
    return [parts[0]] + [SLO_GAP_PREFIX + p for p in parts[1:]]


def target_value_text(target: str, v: float) -> str:
    """A target's figure as the answer prints it, with its unit: a latency in the unit the target is written in
    (``ttft.p99<=2 s``: "0.4209 s"; ``tpot.p99<=100 ms``: "42.31 ms"), an SLO attainment as a percentage of requests
    ("99.77 % of requests"), 4 significant figures. Until session 55 the bare number ("ttft.p99<=2 s: 0.4209")."""
    num, unit = _target_figure(target, v)
    return f"{num} {unit}"


def target_range_text(target: str, lo: float, hi: float) -> str:
    """Two figures of a target, the unit once: "0.4261 .. 0.7097 s", "99.48 .. 99.93 %"."""
    (a, unit), (b, _) = _target_figure(target, lo), _target_figure(target, hi)
    return f"{a} .. {b} {unit.split(' ')[0]}"


def _target_figure(target: str, v: float) -> tuple[str, str]:
    """:func:`target_value_text`'s number and unit."""
    t = _parse_target(target, None)
    if t.metric == "slo_attainment":
        return f"{100 * v:.4g}", "% of requests"
    m = re.fullmatch(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*(?P<unit>\S.*?)\s*",
                     _TARGET_RE.match(target).group("val"))
    unit = m.group("unit") if m else "s"
    try:
        per = parse_quantity(f"1 {unit}", "time")
    except ValueError:
        unit, per = "s", 1.0
    return f"{v / per:.4g}", unit


def _fmt_check(c: dict) -> str:
    if c["value"] is None:
        return f"{c['target']}: not estimated"
    head = "" if c["headroom"] is None else f", headroom {100 * c['headroom']:+.0f} %"
    return f"{c['target']}: {target_value_text(c['target'], c['value'])} ({'ok' if c['ok'] else 'MISSED'}{head})"


# --------------------------------------------------------------------------- CLI

def round_sig(x: float, digits: int = 4, up: bool = True) -> float:
    """``x`` to ``digits`` significant figures, rounded up (a minimum: the printed answer still suffices) or down
    (a maximum: the printed answer still fits). Rounding to nearest printed an interconnect 0.003 % below the
    minimum, where power binds instead of the compute the answer names."""
    if not math.isfinite(x) or x == 0:
        return x
    q = 10.0 ** (math.floor(math.log10(abs(x))) - digits + 1)
    y = x / q
    y = math.ceil(y - 1e-9) if up else math.floor(y + 1e-9)  # a value already on the grid stays (float noise)
    return y * q


def format_plan(r: dict) -> str:
    """Human-readable answer. A maximum (max-demand's scale) is printed rounded down and a minimum
    (interconnect-for's power) rounded up, so the printed figure keeps the answer's binding constraint. The answer
    and its band, then ``--confirm``'s simulation (:func:`_simulation_lines`), then how it was found (the critical
    moment, headroom, ceilings, binding) and its notes, then the caveats last (:func:`caveats_block`), as
    :func:`format_targets` lays out an answer under targets."""
    q = r["question"]
    where = (f"at the {r['weather_percentile']:g}th-percentile weather" if r["weather_percentile"] is not None
             else f"over all {r['moments_evaluated']} ticks")
    mo = r["moment"]
    lines = [f"{r['scenario']}: {q} {where}"]
    if q == "max-gpus":
        reps = f"{r['replicas']:,} replicas, " if r.get("replicas") is not None else ""
        lines.append(f"  answer: {r['gpus']:,} GPUs ({reps}{r['racks']} racks of {r['gpus_per_rack']}) run flat out "
                     "under the cap")
        if r.get("at_flip"):  # whole replicas (and servers): dcsim.metrics.fmt.whole_replicas_from
            f, tp = r["at_flip"], r["at_flip"]["gpus_per_replica"]
            lines.append(f"  {r['next_binding']} would bind from {fmt_replicas_from(f)} (continuous crossover "
                         f"{r['gpus_at_flip']:,.1f} GPUs): {f['replicas_below']:,} replicas "
                         f"({f['replicas_below'] * tp:,} GPUs) still run flat out, {r['margin_replicas']:,} more than "
                         f"the answer; one rack more: {r['next_binding_above']} binds")
        elif "gpus_at_flip" in r:
            lines.append(f"  {r['next_binding']} would bind from {r['gpus_at_flip']:,.1f} GPUs "
                         f"(margin {r['margin_gpus']:,.1f} GPUs; one rack more: {r['next_binding_above']} binds)")
    elif q == "max-demand" and r.get("scale_bound"):  # past scale's bound: the answer on the rate field
        units = demand_answer_text(r)  # the question's units, as every other demand answer gives them
        lines.append(f"  answer: {units + '; ' if units else ''}workload.arrivals.{r['rate_field']} = "
                     f"{_req_s_text(r['rate_req_s'])} req/s ({round_sig(r['scale_ratio'], 3, up=False):.3g}x the "
                     f"scenario, past workload.arrivals.scale's bound {r['scale_bound']:g})"
                     + ("" if units else f", peak demand {r['peak_demand_tok_s']:,.0f} tok/s"))
    elif q == "max-demand" and r.get("mean_rate_req_s") is not None:
        lines.append(f"  answer: {demand_answer_text(r)}; {demand_setting_text(r)})")
    elif q == "max-demand":
        lines.append(f"  answer: workload.arrivals.scale = {round_sig(r['scale'], 4, up=False):.4g} "
                     f"({round_sig(r['scale_ratio'], 3, up=False):.3g}x the scenario), "
                     f"peak demand {r['peak_demand_tok_s']:,.0f} tok/s")
    else:
        lines.append(f"  answer: interconnect {fmt_quantity(round_sig(r['interconnect_w'], 4, up=True), 'power')} for "
                     f"{fleet_gpus_text(r)} at full load")
        lines += gpus_note_lines(r)
    lines += band_answer_text(r)
    lines += _simulation_lines(r)  # the answer's confirmation reads with it, before how the answer was found
    lines.append(f"  critical moment: {moment_text(mo)}, outdoor {mo['t_out_c']:.1f} °C")
    # max-gpus: the next limit in GPUs, the answer's unit; the one "headroom" printed is the IT power's, said so
    # (until 2026-12-05 the docs hall read "headroom ... power 40.5 %, cooling 47.5 %" of the fleet's IT power and
    # "next: cooling with 16.7 % headroom", 16.7 % more of rack group 0's GPUs)
    in_gpus = q == "max-gpus" and r.get("gpus_at_flip") is not None
    if "headroom" in r:
        hd = r["headroom"]
        die_hd = hd.get("cooling_limit") == "die"
        lines.append(f"  IT-power headroom over the fleet at full load (% of its full-load IT power): power "
                     f"{100 * hd['power']:.1f} %, cooling {100 * hd['cooling_dies' if die_hd else 'cooling']:.1f} %"
                     + (f" (the GPU dies' limit: the IT the fleet draws at the level they hold; the plant's budget "
                        f"{100 * hd['cooling']:.1f} %)" if die_hd else ""))
        if r.get("cooling_limit") == "die" and r.get("gpus_at_flip") is not None:
            lines.append(f"  but the GPU dies at their limit (facility.thermal) hold the clock from "
                         f"{r['gpus_at_flip']:,.1f} GPUs ({r['margin_gpus']:,.1f} more), before either budget "
                         "binds: cooling binds there")
    c = r["ceilings"]
    lines.append(f"  ceilings there: C {c['compute_tok_s']:,.0f}  P {c['power_tok_s']:,.0f}  Q {c['cooling_tok_s']:,.0f} tok/s"
                 + (" (Q: the GPU dies' limit at full work)" if c.get("cooling_limit") == "die" else ""))
    nb = r.get("next_binding")
    tied = [t for t in (r.get("tied_with") or []) if t != r.get("binding")]
    tie = ""
    if tied:  # a limit tied with the binding one is the next to bind, whatever the headroom of the one past it
        below = r.get("next_binding_below")
        tie = (f", tied with {or_list(tied).replace(' or ', ' and ')} (0.0 % headroom"
               + (": a smaller interconnect makes power bind" if below in tied and below == "power" else "") + ")")
    nxt_word = "next past them" if tied and nb not in tied else "next"
    if nb in tied:
        nb = None  # said in the tie
    lines.append(f"  binding at the answer: {binding_answer_text(r)}{tie}"
                 + ((f"; {nxt_word}: {nb} from {r['gpus_at_flip']:,.1f} GPUs ({r['margin_gpus']:,.1f} more)"
                     if in_gpus and r.get("margin") is not None
                     else f"; {nxt_word}: {nb} with {100 * r['margin']:.1f} % headroom" if r.get("margin") is not None else
                     f"; {nxt_word}: {nb} (margin undefined: {r.get('margin_note', 'the binding ceiling is 0')})")
                    if nb else ""))
    if r.get("fleet_note"):
        lines.append(f"  fleet: {r['fleet_note']}")
    if r.get("note"):
        lines.append(f"  note: {r['note']}")
    if r.get("rack_note"):
        lines.append(f"  racks: {r['rack_note']}")
    if r.get("cooling_note"):
        lines.append(f"  WARNING: {r['cooling_note']}")
    caveats = [f"weather percentile over {r['weather_source']}"] if r.get("weather_source") else []
    if r.get("calibration_caveat"):
        caveats.append(f"calibration: {r['calibration_caveat']}")
    return "\n".join(lines + caveats_block(caveats))


def caveats_block(caveats: list[str]) -> list[str]:
    """The answer's caveats, last, one line each under ``caveats:`` (none: no block); one layout for plan and plan
    under targets (:func:`format_plan`, :func:`caveat_lines`)."""
    return (["  caveats:"] + [f"    {x}" for x in caveats]) if caveats else []


def _simulation_lines(r: dict) -> list[str]:
    """``--confirm``'s lines, printed under the answer: the simulation at the answer, and a warning where fewer than
    99 % of requests meet their SLOs there. Until session 55 (review of PLAN3) they came after the answer's notes
    (25 lines below the answer on the die hall of docs/thermal-dynamics.md, at 100 columns), and the calibration
    caveat before the answer."""
    lines: list[str] = []
    if "confirm" in r:
        s = r["confirm"]
        shares = ", ".join(f"{k} {100 * v:.0f} %" for k, v in s["binding_share"].items() if v > 0)
        slo = "n/a" if s["slo_attainment"] is None else f"{100 * s['slo_attainment']:.1f} %"
        lines.append(f"  simulation: {s['throughput_tok_s']:,.0f} tok/s served of {s['demand_tok_s']:,.0f} demanded, "
                     f"peak facility {fmt_quantity(s['peak_facility_power_w'], 'power')} "
                     f"(cap {fmt_quantity(s['interconnect_w'], 'power')}, exceeded {s['interconnect_exceeded_s']:g} s"
                     + (f"; the power chain's ratings {s['delivery_exceeded_s']:g} s" if s.get("delivery_exceeded_s") else "")
                     + f"), binding {shares}, SLO attainment {slo}")
        if s["slo_attainment"] is not None and s["slo_attainment"] < 0.99:
            lines.append(f"  WARNING: only {100 * s['slo_attainment']:.1f} % of requests meet their SLOs at this answer: "
                         "it sizes power and compute, not service; ask again with --target (e.g. "
                         "--target 'ttft.p99<=2 s' --target 'slo_attainment>=0.99')")
    return lines


def plan_error(e: ValueError, file: str | None = None, sets: dict | None = None) -> int:
    """How `dcsim plan` (each question, --curtailment's too) ends on a refusal: a :class:`ScenarioError` (naming the
    file, each field and the reason) goes on to the CLI's handler; any other ValueError is printed as argparse words
    its own, ``dcsim plan: error: ...`` (wrapped at a terminal only), and the exit code is 2.

    A ScenarioError that names ``<dict>`` (a later load of the file's dict with the planner's own overrides, which
    :func:`_source_label` does not reach) is raised again naming ``file``, the command's FILE argument. An error in
    one of the command's ``--set`` paths (``sets``, :func:`_sets`: given to the planner as the API's ``overrides``)
    is named as the flag (:func:`dcsim.scenario.relabel_override`; until session 55 :func:`_sets` read the file and
    applied every --set a second time only to borrow the label)."""
    if isinstance(e, ScenarioError):
        from dcsim.scenario import GivenAs, relabel_override

        o = e.override
        if o is not None and o.given_as is GivenAs.OVERRIDES_ARG and sets and o.at in sets:
            raise relabel_override(e, GivenAs.SET_FLAG) from None
        if file is not None and e.source == "<dict>":
            raise ScenarioError(str(file), e.errors) from None
        raise e
    from dcsim.report.summary import print_message

    print_message(f"dcsim plan: error: {e}", file=sys.stderr)
    return 2


def unused_flags(args) -> str | None:
    """Why ``dcsim plan``'s flags do not apply to the question asked, or None: ``--gpus`` sizes interconnect-for
    only; ``--seeds``, ``--window``, ``--no-confirm`` and ``--no-refine`` qualify ``--target``. Such a flag was
    ignored without a word (``-q max-demand --gpus 5`` answered for the scenario's 320 GPUs; the input audit AUH, 5);
    it is refused as ``--curtailment`` with max-demand is, through :func:`plan_error`. Read by both commands
    (``dcsim plan`` and its ``--curtailment`` form, :mod:`dcsim.plan_flex`)."""
    try:
        refuse_gpus_for(args.question, args.gpus, "--gpus")
    except ValueError as e:
        return str(e)
    if not args.target:
        given = [f for f, v in (("--seeds", args.seeds), ("--window", args.window),
                                ("--no-confirm", args.no_confirm or None), ("--no-refine", args.no_refine or None))
                 if v is not None]
        if given:
            many = len(given) > 1
            return (f"{' and '.join(given)} qualif{'y' if many else 'ies'} --target (the confirming runs of an answer "
                    f"under service targets); give --target too, or drop {'them' if many else 'it'}")
    return None


def cmd_plan(args) -> int:
    why = unused_flags(args)
    if why:
        return plan_error(ValueError(why), args.file)
    sets = None
    try:
        sets = _sets(args.set)
        window = TARGET_WINDOW_S if args.window is None else flag_quantity("--window", args.window, "time")
        if not (0.0 < window < math.inf):
            raise ValueError(f"--window {args.window!r}: the confirming window's length, a time > 0 (e.g. '30 min')")
        if args.target:
            if args.seeds is not None:
                check_seeds(args.seeds, "--seeds")
            if args.weather_percentile is not None:
                raise ValueError("--target judges the scenario's own weather over its run; "
                                 "drop --weather-percentile (or set a constant weather with --set)")
            r = plan_for_targets(args.file, args.question, args.target, gpus=args.gpus,
                                 overrides=sets, confirm=not args.no_confirm,
                                 seeds=TARGET_SEEDS if args.seeds is None else args.seeds,
                                 refine=not args.no_refine,
                                 window=window)
        else:
            r = plan(args.file, args.question, gpus=args.gpus, weather_percentile=args.weather_percentile,
                     confirm=args.confirm, overrides=sets)
    except ValueError as e:
        return plan_error(e, args.file, sets)
    if args.json:
        from dcsim.textio import json_text

        print(json_text(r, indent=2, sort_keys=True))
    else:
        from dcsim.report.summary import print_wrapped

        print_wrapped(format_targets(r) if args.target else format_plan(r))
    return 0


def _sets(sets: list[str] | None) -> dict | None:
    """``--set`` strings as an overrides mapping, each parsed as ``run --set`` parses it
    (:func:`dcsim.scenario.parse_sets`: the bounded YAML reader, audit C, C3; one field set twice refused), its
    errors naming the flag. The planner applies the mapping as the Python API's ``overrides``: an error in setting a
    path names that argument, and the command names the flag again (:func:`plan_error`'s ``sets``)."""
    if not sets:
        return None
    from dcsim.scenario import GivenAs, parse_sets

    return {k: v for k, v, _ in parse_sets(sets, GivenAs.SET_FLAG)}


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``dcsim plan FILE --question ... [--gpus N] [--weather-percentile P] [--confirm]``."""
    p = subparsers.add_parser("plan", help="capacity planner: max GPUs, max demand, interconnect needed",
                              description="Answer a sizing question on the closed form, optionally confirm by simulation.")
    p.add_argument("file")
    p.add_argument("--question", "-q", required=True, choices=QUESTIONS)
    p.add_argument("--gpus", type=count_arg("GPUs"), help="GPU count for interconnect-for (default: the scenario's), "
                                                          "rounded up to whole racks (the answer says so)")
    p.add_argument("--weather-percentile", type=float, metavar="P",
                   help="evaluate at the P-th percentile of the scenario's dry-bulb (default: every tick)")
    p.add_argument("--confirm", action="store_true", help="simulate the scenario at the answer")
    p.add_argument("--set", action="append", metavar="PATH=VALUE", help="override a scenario field first")
    p.add_argument("--target", action="append", metavar="TARGET",
                   help="service target, repeatable: 'ttft.p99<=2 s', 'chat.tpot.p99<=100 ms', "
                        "'slo_attainment>=0.99'; the question is then answered under the targets")
    p.add_argument("--seeds", type=count_arg("confirming runs"),
                   help=f"confirming runs (seeds) under --target (default {TARGET_SEEDS}, at most "
                        f"{MAX_TARGET_SEEDS})")
    p.add_argument("--window", help="length of the confirming window under --target (default "
                                    f"'{TARGET_WINDOW_S / 60:g} min')")
    p.add_argument("--no-confirm", action="store_true", help="under --target: skip the confirming runs")
    p.add_argument("--no-refine", action="store_true",
                   help="under --target: report a missed confirmation without bisecting again on the confirming model")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plan)
    return p
