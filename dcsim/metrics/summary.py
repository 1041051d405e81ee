"""From per-tick arrays to the report: energies, J/token, PUE, binding shares and shifts.

All energies are the time integral of per-tick power (power is constant within a
tick), so ``energy_j.facility == it + cooling + power_losses`` holds to rounding
(``power_losses`` counts power-chain losses plus fixed facility loads such as
lighting and controls; both are also reported separately).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from dcsim.tpf import BINDING_NAMES, capped_ticks, in_service, token_production

__all__ = ["binding_summary", "binding_potential_summary", "energy_summary", "shifts", "tied_leaders",
           "controller_figures"]


def shifts(ts: dict, column: str = "binding") -> list[dict]:
    """Every change of binding constraint between consecutive ticks, with its context
    (demand, work held waiting for admission, outdoor temperature, PUE, GPUs in service)."""
    b = ts[column]
    idx = np.nonzero(b[1:] != b[:-1])[0] + 1
    out = []
    for i in idx:
        out.append({
            "t_s": float(ts["t_s"][i]),
            "from": BINDING_NAMES[int(b[i - 1])],
            "to": BINDING_NAMES[int(b[i])],
            "demand_tok_s": float(ts["demand_tok_s"][i]),
            "queue_tokens": float(ts["held_tokens"][i]) if "held_tokens" in ts else 0.0,
            "t_out_c": float(ts["t_out_c"][i]),
            "pue": float(ts["pue"][i]),
            "gpus_in_service": float(ts["gpus_in_service"][i]),
        })
    return out


def binding_potential_summary(ts: dict) -> dict:
    """The input-only binding (argmin of offered demand and the ceilings): shares and shift count."""
    b = ts["binding_potential"]
    n = max(b.size, 1)
    return {"share": {name: float(np.count_nonzero(b == code)) / n for code, name in enumerate(BINDING_NAMES)},
            "n_shifts": int(np.count_nonzero(b[1:] != b[:-1])),
            "note": "what would bind for the demand as offered, ignoring queues: the argmin of D, C, P, Q"}


def tied_leaders(shares: Mapping[str, float]) -> list[str]:
    """The constraints sharing the largest time share (shares are tick counts over the same total, so a tie is
    exact), in the order of ``shares``; one name when there is no tie."""
    sh = {k: float(v) for k, v in shares.items() if isinstance(v, (int, float))}
    if not sh:
        return []
    top = max(sh.values())
    return [k for k, v in sh.items() if v == top]


def controller_figures(ts: dict) -> dict:
    """The controller's figures of a run (or of one pool's columns), the one home of each:
    ``capped_share`` the share of all ticks the controller capped (power or cooling; the recorded mode frontier or
    uniform_cap with GPUs in service, :func:`~dcsim.tpf.capped_ticks`); ``out_of_service_share`` the share with no GPU in
    service (:func:`~dcsim.tpf.in_service`: IT shed for temperature — mode ``shed`` — or every GPU failed), so that uncapped +
    capped + out of service = 1; ``mean_clock`` (effective clock) and ``mean_controller_clock`` (the controller's DVFS
    level) over the ticks in service (None when there are none). Until 2026-12-05 the shed ticks counted as capped at
    their placeholder clock 0.30: chiller-trip read "capped 56.5 % of the ticks, mean clock 0.917" where its 977
    ticks in service ran at 0.982 on average and 46.9 % of the run was capped; the engine then recorded them capped
    (uniform_cap) and this function left out those with no GPU in service; it records them shed (mode 3) since."""
    on = in_service(ts)
    n = max(on.size, 1)
    clock = np.asarray(ts["mean_clock"], float)
    ctrl = np.asarray(ts.get("controller_clock", clock), float)
    mean = (lambda x: float(np.mean(x[on])) if np.any(on) else None)  # noqa: E731
    return {"capped_share": float(np.count_nonzero(capped_ticks(ts["mode"], ts))) / n,
            "out_of_service_share": float(np.count_nonzero(~on)) / n,
            "mean_clock": mean(clock), "mean_controller_clock": mean(ctrl)}


def binding_summary(ts: dict, dt: float) -> dict:
    """Share of time each constraint binds, the shifts, and the binding at the end."""
    b = ts["binding"]
    n = max(b.size, 1)
    share = {name: float(np.count_nonzero(b == code)) / n for code, name in enumerate(BINDING_NAMES)}
    sh = shifts(ts)
    supply = np.stack([ts["compute_tok_s"], ts["power_tok_s"], ts["cooling_tok_s"]])
    # over the ticks that served something: a tick serving nothing has no relative slack (until session 55 its tokens
    # were floored at 1e-300, and a run serving nothing on most ticks read a median slack of ~1.6e304)
    served = np.asarray(ts["achieved_tok_s"], float) > 0.0
    achieved = np.asarray(ts["achieved_tok_s"], float)[served]
    slack = {name: (float(np.median(supply[i][served] / achieved - 1.0)) if np.any(served) else None)
             for i, name in enumerate(("compute", "power", "cooling"))}
    return {
        "share": share,
        "shifts": sh,
        "n_shifts": len(sh),
        "final": BINDING_NAMES[int(b[-1])] if b.size else None,
        "most_common": max(share, key=share.get) if b.size else None,
        # every constraint with the largest share (a tie: as many ticks each; most_common is the first of them)
        "most_common_tied": tied_leaders(share) if b.size else [],
        "median_slack": slack,
    }


def energy_summary(ts: dict, dt: float) -> dict:
    """Energies (J) by component: integral of each power column over the ticks."""
    e = lambda col: float(np.sum(ts[col]) * dt) if col in ts else 0.0  # noqa: E731
    it = e("it_power_w")
    cooling = e("cooling_power_w")
    losses = e("loss_power_w")
    fixed = e("fixed_power_w")
    gpu = e("gpu_power_w")
    out = {
        "gpu": gpu,
        "server_non_gpu_and_rack": it - gpu,
        "it": it,
        "cooling": cooling,
        "power_losses": losses + fixed,
        "delivery_losses": losses,
        "fixed_loads": fixed,
        "facility": it + cooling + losses + fixed,
    }
    for col in ts:
        if col.startswith(("cooling_", "loss_")) and col.endswith("_w") and col not in ("cooling_tok_s",):
            if col in ("cooling_power_w", "loss_power_w"):
                continue
            out[col[:-2]] = e(col)
    return out


def closed_form_summary(ts: dict, dt: float, flop_per_token: float, effective_flops: float) -> dict:
    """The TPF closed form at the run's mean operating point (paper's four-figure view).

    ``E_tok`` = IT energy / output tokens and ``PUE`` = facility / IT energy of the run;
    ``P_deliv`` = mean interconnect cap; ``Q_rej`` = mean IT-heat budget of the plant (the IT power
    whose heat with the PDU and UPS losses fits the capacity, ``it_max_cooling_w``: the same meaning
    as the moments' ``heat_rejection_w``, :func:`dcsim.engine.steady.heat_rejection_it_w`);
    ``D`` = mean demand. The per-tick ceilings in the time series invert the full,
    load-dependent models instead; this summary linearises at the run's average. No binding, achieved rate or
    slack: at the mean E_tok, which averages partial-load ticks, min(D, C, P, Q) is no state the run was in
    (``tpf.run_mean``'s note, :data:`dcsim.engine.assemble.RUN_MEAN_NOTE`).
    """
    out_tok = float(np.sum(ts["achieved_tok_s"]) * dt)
    it_j = float(np.sum(ts["it_power_w"]) * dt)
    fac_j = float(np.sum(ts["facility_power_w"]) * dt)
    if out_tok <= 0 or it_j <= 0:
        return {"compute_tok_s": float(np.mean(ts["compute_tok_s"])), "power_tok_s": 0.0,
                "cooling_tok_s": 0.0, "inputs": {}}
    e_tok = it_j / out_tok
    pue = fac_j / it_j
    q_rej = float(np.mean(ts["it_max_cooling_w"]))
    r = token_production(
        flop_per_token=flop_per_token, joule_per_token_it=e_tok, effective_flops=effective_flops,
        delivered_power_w=float(np.mean(ts["interconnect_w"])), pue=pue,
        heat_rejection_w=q_rej, demand_tok_s=float(np.mean(ts["demand_tok_s"])),
    )
    d = r.as_dict()
    return {
        "compute_tok_s": d["compute_tok_s"], "power_tok_s": d["power_tok_s"], "cooling_tok_s": d["cooling_tok_s"],
        "demand_tok_s": d["demand_tok_s"],
        "inputs": {
            "flop_per_token": flop_per_token, "joule_per_token_it": e_tok, "effective_flops": effective_flops,
            "delivered_power_w": float(np.mean(ts["interconnect_w"])), "pue": pue,
            "heat_rejection_w": q_rej, "demand_tok_s": float(np.mean(ts["demand_tok_s"])),
            "theta": 1.0,
        },
    }
