"""An independent, queue-aware check of the binding label, from a run's per-tick time series alone.

DESIGN.md ("binding constraint"): a limit binds when the work asked for is not served at the rate asked *because of
that limit*; ``demand`` only when all the work waiting was served. The engine's label
(:func:`dcsim.tpf.binding_simulated`, per pool ``dcsim.engine.pools``) reads its own internal state (the clock's
full-load rates, the request lane's running-work count). This helper re-reads the label from what the record shows —
what arrived, what was served, what was shed, the ceilings C, P, Q and the controller's mode — and lists the ticks on
which the two disagree, so a physics change that mislabels fails a test (tests/test_binding_queue_check.py) instead
of shipping a wrong answer a planner would sign.

The rules (tokens; ``dt`` the tick; one pool's columns, or ``pool<i>_`` ones):

* ``conserved``: the work in the system after each tick, from the flows alone — the running sum of arrived −
  served·dt − shed, less the work a flexible-demand window deferred (``deferred_backlog_tokens``) — equals the
  record's ``queue_tokens`` and, at fluid fidelity, its ``held_tokens`` (where nothing is deferred), within ``RTOL``
  of the tick's arrivals. A tick where it does not is a disagreement whatever its label: the engine's account of what
  waits lost or made work, so an engine bug that rewrote a label and its held work together cannot vouch for itself.
* ``held``: work waits after the tick beyond the label's rounding allowance (over ``RTOL`` of the tick's arrivals,
  ``binding_simulated``'s rtol) or some was shed. At fluid fidelity the work waiting is the flows' work above (all of
  the fluid's work in the system waits at the door); at request fidelity the record has no column for the door's
  queue apart from the running work (``queue_tokens`` is both), so this leg reads the engine's ``held_tokens``, and
  the independent legs there are ``grew`` and the conservation leg's bound: the held work is a part of the work in
  the system, never more than the flows' work (at request fidelity ``queue_tokens`` is the lane's own running sum of
  the same flows, so its equality with them checks the record's summation only; the bound checks the engine's held
  count against them).
* ``pressed``: the tick served at least ``RHO_MAX`` (0.98, the critically-loaded margin of
  ``dcsim.serving.slo_estimate``) of the supply ceiling its label would name — the replicas were offered what the
  limit lets them serve, and work waits past the tick in their queue even where the record moves it as a flow
  (docs/engine.md "A critically loaded tick holds work").
* ``grew``: (request fidelity) a per-tick growth test: the work in the system — the running sum of arrived −
  served − shed, from the flows — grew on the tick by more than ``1 − RHO_MAX`` of its arrivals, on a closed-door
  tick whose arrivals reach ``RHO_MAX`` of the full-load rate of the replicas at the clock they ran, and its sum over
  the run of closed-door ticks (each less that allowance, floored at 0, so it drains only by the work shrinking, not
  by spare capacity as the engine's count does) exceeds the allowance too. Only once the pool has filled: from the
  first tick that served and shed ``RHO_MAX`` of its arrivals on (before it the replicas fill from empty, which holds
  nothing back; the engine's ``_filled`` latch, dcsim.engine.requests). The record's own account of running work
  held back, without the engine's clock tables.

A tick labelled **demand** must be neither held nor (on a closed-door tick) pressed, nor grew. A tick labelled
**compute**, **power** or **cooling** must be held, pressed or grew; and its name must be the supply that held it:
power or cooling only on a closed-door tick (the controller ran the clock below full for that budget; ``mode`` not 0)
or where that ceiling is the lowest, the lower of P and Q where capped (ties power); compute only where C is no
higher than the lowest ceiling by more than ``NAME_TOL`` or the door was open (full clock: compute's ceiling is what
the replicas ran).

Where the check is looser than the engine (no clock tables: a capped clock that costs its replicas under 2 % reads
compute in the engine, :func:`dcsim.serving.slo_estimate.clock_holds_rate`), it accepts either name on a capped tick;
it never accepts demand with work held at the door.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dcsim.tpf import BINDING_NAMES

#: the label's rounding allowance of held work (fraction of the tick's arrivals): binding_simulated's rtol
RTOL = 1e-9
#: the critically-loaded margin (dcsim.serving.slo_estimate.RHO_MAX, 0.98), repeated here so the check stays independent
RHO_MAX = 0.98
#: a ceiling counts as the lowest within this fraction (the run's near-tie threshold, dcsim.metrics.fmt.NEAR_TIE
#: is 0.5 %; a little wider so the engine's per-pool rates' rounding never trips it)
NAME_TOL = 0.01


@dataclass(frozen=True)
class Disagreement:
    who: str  # "facility" or "pool<i>"
    tick: int
    t_s: float
    label: str
    why: str

    def __str__(self) -> str:
        h, rem = divmod(int(self.t_s), 3600)
        return f"{self.who} tick {self.tick} (t={h:02d}:{rem // 60:02d}:{rem % 60:02d}): {self.label}: {self.why}"


def read_run(out_dir) -> dict:
    """The time series of a result folder (``timeseries.csv``), numeric columns as float arrays."""
    import csv

    with open(Path(out_dir) / "timeseries.csv", newline="") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    ts = {}
    for j, name in enumerate(head):
        col = [r[j] for r in body]
        try:
            ts[name] = np.array([float(v) for v in col])
        except ValueError:
            ts[name] = np.array(col)
    return ts


def _units(ts: dict) -> list[str]:
    """Column prefixes to check: '' for a one-pool run, else each ``pool<i>_``."""
    pools = sorted({k.split("_", 1)[0] for k in ts if k.startswith("pool") and k.endswith("_binding")})
    return [p + "_" for p in pools] if pools else [""]


def full_load_capacity(m, ts: dict, clock: str = "controller_clock") -> dict:
    """Per pool prefix, the full-load output rate (tokens/s) of its replicas serving at the clock ``clock`` names
    (``controller_clock``, or ``mean_clock``: the one the replicas ran; ``pool<i>_...`` per pool): each rack group's
    node-table throughput at its largest batch (``table.thr_max``, interpolated between the tables' clock levels)
    times its replicas serving — in service and awake, with ``controller.idle_power_down`` the efficiency ladder's
    first (``dcsim.engine.controller.serving_replicas``, the description of which replicas are up, not the label
    rule). What the replicas *could* serve at that clock, against which a capped tick's served rate shows whether
    they were offered all they could take."""
    from dcsim.engine.controller import power_down_for, serving_replicas

    t = np.asarray(ts["t_s"], float)
    dt = float(t[1] - t[0]) if t.size > 1 else 60.0
    avail = np.asarray(ts["gpus_in_service"], float) / max(m.gpus, 1)
    awake = np.asarray(ts.get("awake_fraction", np.ones_like(avail)), float)
    reps = serving_replicas(m, power_down_for(m, dt), avail, awake)  # (ticks, groups)
    k = np.arange(m.clocks.size)

    def cap(groups, clk):
        lv = np.interp(np.asarray(clk, float), m.clocks, k)
        return sum(np.interp(lv, k, m.groups[g].table.thr_max) * reps[:, g] for g in groups)

    units = _units(ts)
    if units == [""]:
        return {"": cap(range(len(m.groups)), ts[clock])}
    return {u: cap(m.pools[int(u[4:-1])].groups, ts[u + clock]) for u in units}


def unit_flags(ts: dict, p: str = "", *, request: bool = False, capacity=None, ran_capacity=None) -> dict:
    """Per tick of the pool with prefix ``p``: held, pressed, grew, capped, and the ceilings (see the module)."""
    t = np.asarray(ts["t_s"], float)
    dt = float(t[1] - t[0]) if t.size > 1 else 60.0
    arrived = np.asarray(ts[p + "arrived_tokens"], float)
    shed = np.asarray(ts.get(p + "shed_tokens", ts["shed_tokens"]), float) if p + "shed_tokens" in ts or not p \
        else np.zeros_like(arrived)
    served = np.asarray(ts[p + "achieved_tok_s"], float)
    # the work in the system after each tick from the record's own flows (conservation: what arrived, less what was
    # served and shed), less the work a flexible-demand window deferred to later (kept apart, deferred_backlog_tokens)
    deferred = np.asarray(ts.get(p + "deferred_backlog_tokens", np.zeros_like(arrived)), float)
    work = np.cumsum(arrived - served * dt - shed) - deferred
    tol = RTOL * np.maximum(arrived, 1.0)
    # the engine's queue (queue_tokens) must be that work; so must its held work (held_tokens) at fluid fidelity, where
    # no deferred work waits (the label may count deferred work held when it is served at a limit: year-richmond)
    leaks = np.zeros(t.size, bool)
    if p + "queue_tokens" in ts:
        leaks |= np.abs(np.asarray(ts[p + "queue_tokens"], float) - work) > tol
    held_tok = np.asarray(ts[p + "held_tokens"], float)
    if not request:
        leaks |= (deferred <= 0) & (np.abs(held_tok - work) > tol)
        # what waits, read from the flows: at fluid fidelity all the work in the system waits at the door
        held_tok = np.maximum(work, 0.0)
    else:
        # request fidelity: the label's held work (the door's and the running work held back) is a part of the work
        # in the system, so never more than the flows' work; read from the flows, not from the engine's own count
        leaks |= held_tok - np.maximum(work, 0.0) > tol
    c, pw, q = (np.asarray(ts[p + k], float) for k in ("compute_tok_s", "power_tok_s", "cooling_tok_s"))
    mode = np.asarray(ts[p + "mode"] if p + "mode" in ts else ts["mode"], float)
    capped = mode != 0
    # capped below full clock (the clock a fraction of the top one, 1.0): the controller's budget ran the replicas
    # slower. A capped tick at full clock (a budget that still buys full clock) is compute's at most
    clk = np.asarray(ts[p + "controller_clock"] if p + "controller_clock" in ts else ts["controller_clock"], float)
    below = capped & (clk < 1.0 - 1e-9)
    held = (held_tok > RTOL * np.maximum(arrived, 1.0)) | (shed > 0)
    lowest = np.minimum(c, np.minimum(pw, q))
    # the replicas' full-load rate at the controller's clock where known (the frontier's ceiling P can sit a little
    # under it: campus-interconnect 08:44 served 0.9804 of P, 0.9790 of that rate), else the lowest ceiling
    pressed = served >= RHO_MAX * (lowest if capacity is None else capacity)
    grew = np.zeros(t.size, bool)
    cusum = np.zeros(t.size)
    if request:
        g = arrived - served * dt - shed
        allow = (1.0 - RHO_MAX) * arrived
        # beyond capacity: the tick's arrivals reach RHO_MAX of the full-load rate of the replicas at the clock they
        # ran (growth under it is the replicas filling, which they serve from their spare capacity)
        beyond = arrived / dt >= RHO_MAX * ran_capacity if ran_capacity is not None else np.ones(t.size, bool)
        # filled: from the first tick that served and shed RHO_MAX of its arrivals on; before it the replicas fill
        # from empty (mixed-fleet's reasoning pool from a cold 06:53: ~15 min, ~16 M tokens), which holds nothing back
        filled = np.maximum.accumulate(served * dt + shed >= RHO_MAX * arrived)
        s = 0.0
        for i in range(t.size):
            if i == 0 or not capped[i] or not filled[i]:
                s = 0.0
            else:
                s = max(0.0, s + g[i] - allow[i])
            cusum[i] = s
            grew[i] = s > allow[i] and g[i] > allow[i] and beyond[i]
    return dict(t=t, dt=dt, arrived=arrived, held_tok=held_tok, shed=shed, served=served, c=c, p=pw, q=q,
                capped=capped, below=below, held=held, pressed=pressed, grew=grew, cusum=cusum, lowest=lowest,
                work=work, leaks=leaks)


def check_unit(ts: dict, p: str = "", *, request: bool = False, capacity=None,
               ran_capacity=None) -> list[Disagreement]:
    """The ticks of one pool (prefix ``p``) whose label the record contradicts (see the module); ``capacity`` its
    full-load rate at the controller's clock (:func:`full_load_capacity`), else the lowest ceiling stands for it."""
    f = unit_flags(ts, p, request=request, capacity=capacity, ran_capacity=ran_capacity)
    b = np.asarray(ts[p + "binding"], float).astype(int)
    who = p.rstrip("_") or "facility"
    out = []
    for i in range(b.size):
        name = BINDING_NAMES[b[i]]
        fig = (f"arrived {f['arrived'][i]:.4g} tok, served {f['served'][i]:.4g} tok/s, held {f['held_tok'][i]:.4g}, "
               f"shed {f['shed'][i]:.4g}, C/P/Q {f['c'][i]:.4g}/{f['p'][i]:.4g}/{f['q'][i]:.4g}, "
               f"capped {bool(f['capped'][i])}")
        if request:
            fig += f", growth cusum {f['cusum'][i]:.4g}"
        if f["leaks"][i]:
            out.append(Disagreement(who, i, f["t"][i], name, f"the record's queue or held work is not its flows' "
                                    f"work ({f['work'][i]:.6g} tok: arrived - served - shed, summed); " + fig))
        # the critically-loaded rule (docs/engine.md): capped below full clock and served at RHO_MAX of the replicas'
        # full-load rate there; at full clock a tick that served all its work is demand's (mixed two-pool hall of
        # tests/test_hetero.py at 00:05:30: capped at clock 1.0, 99.8 % of its full-load rate, its backlog drained)
        pressed = f["pressed"][i] and f["below"][i]
        if name == "demand":
            if f["held"][i]:
                out.append(Disagreement(who, i, f["t"][i], name, "work held at the door or shed; " + fig))
            elif pressed:
                out.append(Disagreement(who, i, f["t"][i], name, "capped below full clock and served at its "
                                        "replicas' full-load rate there; " + fig))
            elif f["grew"][i]:
                out.append(Disagreement(who, i, f["t"][i], name, "work in the system grew, capped; " + fig))
            continue
        if not (f["held"][i] or f["pressed"][i] or f["grew"][i]):
            # request fidelity counts running work its clock held back (held_tokens includes it), so held covers it
            out.append(Disagreement(who, i, f["t"][i], name, "nothing held, ceiling not reached; " + fig))
            continue
        c, pw, q, lo = f["c"][i], f["p"][i], f["q"][i], f["lowest"][i]
        if name == "compute":
            if f["capped"][i] and c > lo * (1.0 + NAME_TOL) and not f["held"][i]:
                out.append(Disagreement(who, i, f["t"][i], name, "capped, C not the lowest, nothing held; " + fig))
        elif name in ("power", "cooling"):
            x = pw if name == "power" else q
            if not f["capped"][i] and x > lo * (1.0 + NAME_TOL):
                out.append(Disagreement(who, i, f["t"][i], name, f"door open and {name} not the lowest; " + fig))
    return out


def check_run(ts: dict, *, request: bool = False, m=None) -> list[Disagreement]:
    """Every disagreement of a run: each pool's label, and the facility's (with several pools: demand exactly
    where every pool reads demand)."""
    units = _units(ts)
    caps = full_load_capacity(m, ts) if m is not None else {}
    ran = full_load_capacity(m, ts, "mean_clock") if m is not None and request else {}
    out = []
    for p in units:
        out += check_unit(ts, p, request=request, capacity=caps.get(p), ran_capacity=ran.get(p))
    if units != [""]:
        b = np.asarray(ts["binding"], float).astype(int)
        pools_demand = np.all([np.asarray(ts[p + "binding"], float) == 0 for p in units], axis=0)
        for i in np.flatnonzero((b == 0) != pools_demand):
            out.append(Disagreement("facility", int(i), float(ts["t_s"][i]), BINDING_NAMES[b[i]],
                                    "facility demand iff every pool demand: pools "
                                    + "/".join(BINDING_NAMES[int(ts[p + 'binding'][i])] for p in units)))
    return out
