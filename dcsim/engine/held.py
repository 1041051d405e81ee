"""The held clock: where every token asked for is served (binding ``demand``) but the controller held the GPUs below
full clock because power or cooling left no room for the full-clock draw (docs/facility.md, "Held clock").

:func:`held_clock` is report.json's ``binding.held_clock`` (per kind that holds the clock on enough of the run: its
ticks, the IT it allowed, the no-load losses, and per pool the clock held and on how many ticks); the run's note
(:func:`held_clock_notes`) is rendered from it. Until session 54 the finding lived in the note's prose only."""

from __future__ import annotations

import numpy as np

from dcsim.engine.build import Models
from dcsim.engine.flex import THROTTLE_DIE_HOLD, THROTTLE_ENGAGED
from dcsim.tpf import BINDING_NAMES, capped_ticks

__all__ = ["held_clock", "held_clock_notes"]

#: a pool's clock counts as held below full where it is under full clock by more than this (fraction of full clock)
FULL_CLOCK_TOL = 1e-9


def held_clock(m: Models, ts: dict, min_share: float) -> list[dict]:
    """report.json's ``binding.held_clock``: one entry per kind (``cooling``: the plant's ceiling ``it_max_cooling_w``
    is the tighter; ``power``: the power budget's, ``it_max_power_w``) where the binding reads ``demand`` on a capped
    tick (:func:`dcsim.tpf.capped_ticks`) on at least ``min_share`` of the run; thermally throttled ticks are counted
    out, both the die hold (:data:`dcsim.engine.flex.THROTTLE_DIE_HOLD`: the dies, not the plant, hold the clock) and
    the engaged throttle (:data:`dcsim.engine.flex.THROTTLE_ENGAGED`: the GPUs at their temperature limit while the
    room's thermal mass carries heat the plant does not reject, e.g. through a chiller trip). On those the clock is
    the temperature's, not a steady ceiling's: chiller-trip's 18 demand-bound throttled ticks (11:33-11:36) drew
    310-324 kW of IT at clock 0.94 with the plant tripped, which until session 54 this entry called "cooling, IT at
    most 0 kW", a ceiling the run never had and a fix (UPS rating, more cooling capacity) that does not apply; the
    throttle has its own report (``thermal.throttled_s``, ``faults[].time_to_first_throttle_s``, the event log). Each
    entry: ``kind``, ``ticks`` and ``share`` of the run, ``clock_mean`` (the controller's clock, GPU-weighted, over
    those ticks), ``it_max_w`` (mean IT the tighter ceiling allowed there, W), ``achieved_tok_s`` (mean served
    there), ``ups_no_load_w`` / ``transformer_no_load_w`` (the chain's no-load losses, W; 0 for a quick study),
    ``heat_capacity_w`` (mean plant capacity there, W; None without the column or for a plant without a capacity) and ``pools``: per pool held below
    full clock on any of those ticks, ``pool`` (its name), ``ticks`` (how many of them it ran below full clock),
    ``clock_mean`` / ``clock_min`` / ``clock_max`` (its controller clock over those below-full ticks, the ones
    ``ticks`` counts; a single pool's is the run's). Empty where nothing holds the clock so, or the timeseries lacks
    the columns."""

    need = ("binding", "mode", "it_max_power_w", "it_max_cooling_w", "achieved_tok_s", "gpus_in_service")
    if any(k not in ts for k in need):
        return []
    b = np.asarray(ts["binding"])
    n = b.size
    if n == 0:
        return []
    held = capped_ticks(ts["mode"], ts) & (b == BINDING_NAMES.index("demand"))
    if "thermal_throttled" in ts:  # the engaged throttle and the die hold: the temperature holds the clock
        held &= ~np.isin(np.asarray(ts["thermal_throttled"]), (THROTTLE_ENGAGED, THROTTLE_DIE_HOLD))
    p_w, q_w = np.asarray(ts["it_max_power_w"], float), np.asarray(ts["it_max_cooling_w"], float)
    clock = np.asarray(ts.get("controller_clock", ts.get("mean_clock", np.full(n, np.nan))), float)
    f = m.facility
    pc = m.scenario.facility.power_chain
    ups_nl_w = 0.0 if f.quick_study else float(pc.ups_l0 * pc.ups_redundancy * f.ups_rating_w)
    tr_nl_w = 0.0 if f.quick_study else float(pc.transformer_no_load * f.transformer_rating_w)
    out = []
    for kind, sel in (("cooling", held & (q_w <= p_w)), ("power", held & (p_w < q_w))):
        ticks = int(np.count_nonzero(sel))
        if ticks / n < min_share:
            continue
        cap = (np.asarray(ts["heat_capacity_w"], float)[sel] if "heat_capacity_w" in ts else None)
        out.append({
            "kind": kind, "ticks": ticks, "share": ticks / n,
            "clock_mean": float(np.nanmean(clock[sel])),
            "it_max_w": float(np.mean((q_w if kind == "cooling" else p_w)[sel])),
            "achieved_tok_s": float(np.mean(np.asarray(ts["achieved_tok_s"], float)[sel])),
            "ups_no_load_w": ups_nl_w, "transformer_no_load_w": tr_nl_w,
            "heat_capacity_w": None if cap is None or not np.all(np.isfinite(cap)) else float(np.mean(cap)),
            "pools": _held_pools(m, ts, sel, clock),
        })
    return out


def _held_pools(m: Models, ts: dict, sel: np.ndarray, clock: np.ndarray) -> list[dict]:
    """Per pool run below full clock on ``sel``: the ticks it was below full and its clock over those ticks (mean,
    min, max; a tick of ``sel`` on which the pool ran at full clock is in neither, until session 54 the clock's
    figures averaged over every tick of ``sel`` while ``ticks`` counted the below-full ones). Several pools read
    their own ``pool<i>_controller_clock`` (the GPU-weighted mean blends in a pool at full clock: mixed-fleet's 0.95
    is its chat pool at 1.00 and its reasoning pool at 0.87, 0.77-0.91); one pool, the run's clock."""
    cols = ([(pl.name, np.asarray(ts.get(f"pool{p}_controller_clock", []), float)) for p, pl in enumerate(m.pools)]
            if m.multi_pool else [(m.pools[0].name if m.pools else "", clock)])
    out = []
    for name, c in cols:
        if c.size != sel.size or not sel.any():
            continue
        cb = c[sel][c[sel] < 1 - FULL_CLOCK_TOL]
        if cb.size:
            out.append({"pool": name, "ticks": int(cb.size), "clock_mean": float(cb.mean()),
                        "clock_min": float(cb.min()), "clock_max": float(cb.max())})
    return out


def held_clock_notes(m: Models, held: list[dict]) -> list[str]:
    """The run's notes for :func:`held_clock`'s entries, read from them: the binding label is right (demand limits
    the tokens) and says nothing of the held clock, which until 2026-12-05 reached a planner only as an
    "EXTRAPOLATED CLOCK" warning (reference at 5 MW, 00:00-00:30: clock 0.55 on every tick, PUE 2.571, 4.86 J per
    output token at the meter against 2.49 at 495 kW, docs/facility.md). Cooling's note quotes the UPS no-load loss
    (``ups_l0·ups_redundancy·ups_rating``: heat made at any load, which the plant must reject,
    :meth:`dcsim.thermal.facility.Facility.heat_to_reject_w`) as a share of the plant's capacity; both quote the
    chain's no-load losses (UPS and transformer) per output token served on those ticks, W over tok/s, before the
    cooling power that rejects them. With several pools the note names each pool held below full clock."""
    f = m.facility
    pc = m.scenario.facility.power_chain
    notes = []
    for h in held:
        kind = h["kind"]
        what = ("the cooling plant cannot reject the heat of the full clock" if kind == "cooling"
                else "the power budget cannot feed the full clock")
        pools = ""
        if m.multi_pool and h["pools"]:
            pools = " (pool " + ", ".join(f"{p['pool']!r} {p['clock_mean']:.2f} ({p['clock_min']:.2f}-"
                                          f"{p['clock_max']:.2f})" for p in h["pools"]) + "; the others at full clock)"
        text = (f"{kind} holds the clock while demand is met: on {100 * h['share']:.1f} % of the run every token asked "
                f"for is served (binding: demand), yet the controller caps the GPUs at a mean clock of "
                f"{h['clock_mean']:.2f}{pools} because {what} (IT at most {h['it_max_w'] / 1e3:,.0f} kW there)")
        ups_nl_w, tr_nl_w, cap_w = h["ups_no_load_w"], h["transformer_no_load_w"], h["heat_capacity_w"]
        if kind == "cooling" and ups_nl_w > 0 and cap_w is not None and cap_w > 0:
            rating = ("its " + format(f.ups_rating_w / 1e6, "g") + " MW rating"
                      + (", which follows the interconnect" if pc.ups_rating is None else "")
                      + (f", x{pc.ups_redundancy:g} systems" if pc.ups_redundancy != 1 else ""))
            text += (f"; {ups_nl_w / 1e3:,.1f} kW of the plant's {cap_w / 1e3:,.0f} kW "
                     f"({100 * ups_nl_w / cap_w:.0f} %) is the UPS's no-load loss (ups_l0 "
                     f"{100 * pc.ups_l0:.2f} % of {rating}, CALIBRATION C2 [UPS][D]), heat made at any load")
        if h["achieved_tok_s"] > 0 and ups_nl_w + tr_nl_w > 0:
            text += (f"; the chain's no-load losses ({(ups_nl_w + tr_nl_w) / 1e3:,.1f} kW, UPS and transformer) cost "
                     f"{(ups_nl_w + tr_nl_w) / h['achieved_tok_s']:.2f} J per output token there at the meter, before "
                     f"the cooling that rejects them")
        fix = ("set power_chain.ups_rating / transformer_rating to the hall's load, or more cooling capacity"
               if kind == "cooling" else "a larger interconnect or fewer GPUs")
        notes.append(text + f" ({fix}; docs/facility.md, held clock)")
    return notes
