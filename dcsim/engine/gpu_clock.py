"""The effective GPU clock at an operating point: the lower of the controller's DVFS clock and the
clock the board throttles to under its power limit (``racks[].node.power_cap``).

The node tables (:func:`dcsim.engine.tables.node_table`) hold throughput and power at each of the
controller's clock *levels*; under a board power limit the board runs slower than the level
wherever the level's power would exceed the limit (:mod:`dcsim.node.step`, "Board power limit").
The controller's level then says little about the clock: with a low cap every level throttles to
the same clock and the frontier may pick any of them. What the GPUs actually run at is
``min(level clock, board clock at the replica's batch)``, the figure reported as ``mean_clock``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["board_clock", "EffectiveClock", "interp_rows"]


def board_clock(node, batch, mean_in: float, mean_out: float, decode_ctx: float | None = None,
                prompt_scv: float = 0.0) -> np.ndarray:
    """Clock (fraction of maximum) at which a replica's board runs a steady ``batch`` under its
    power limit ``node.limit_w`` (W per GPU): where the steady-state per-GPU power at full clock
    of the same node limited only by its TDP exceeds the limit, the clock at which it equals it
    (:meth:`dcsim.node.model.NodeModel.clock_for_cap`, bisection); 1 where the limit holds at full
    clock, and at batch 0 (idle). The TDP's own throttling is not shown (the node model applies it
    inside every step; stock H100/B200 profiles stay below TDP at full batch)."""
    b = np.asarray(batch, dtype=float)
    out = np.ones(b.shape)
    if node.limit_w >= node.gpu.tdp_w:
        return out
    free = dataclasses.replace(node, power_cap_w=float(node.gpu.tdp_w))  # the same board at its TDP
    busy = b > 0
    if np.any(busy):
        out[busy] = np.asarray(free.clock_for_cap(node.limit_w, b[busy], mean_in, mean_out, decode_ctx, prompt_scv),
                               dtype=float)
    return out


def interp_rows(x, xp, fp, rows) -> np.ndarray:
    """``np.interp(x[i], xp, fp[rows[i]])`` for every ``i``, in one pass: each point on its own row of the table
    ``fp`` (rows × ``xp.size``), all rows on the shared grid ``xp`` (ascending). Bit for bit numpy's ``np.interp``
    (its C ``arr_interp``: the interval ``xp[j] <= x < xp[j+1]`` found by bisection, here ``searchsorted``; the
    row's ends outside the grid and at its last point; ``fp[j]`` at a grid point; ``slope * (x - xp[j]) + fp[j]``
    inside, ``slope`` = ``(fp[j+1] - fp[j]) / (xp[j+1] - xp[j])``, from the right end where that gives NaN; NaN at
    a NaN ``x``), so a per-point comprehension of ``np.interp`` calls may be replaced without changing a result."""
    x = np.asarray(x, dtype=float)
    xp = np.asarray(xp, dtype=float)
    fp = np.asarray(fp, dtype=float)
    rows = np.asarray(rows, dtype=int)
    n = xp.size
    if n == 1:  # numpy: fp[0] below, at (NaN included) and above the one point
        return fp[rows, 0].astype(float)
    j = np.searchsorted(xp, x, side="right") - 1  # xp[j] <= x < xp[j+1]; -1 below the grid; n-1 at or above its end
    jc = np.clip(j, 0, n - 2)
    x0, x1 = xp[jc], xp[jc + 1]
    y0, y1 = fp[rows, jc], fp[rows, jc + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (y1 - y0) / (x1 - x0)
        out = slope * (x - x0) + y0
        nan = np.isnan(out)
        if np.any(nan):  # numpy tries the other end, then a flat interval's value
            out = np.where(nan, slope * (x - x1) + y1, out)
            out = np.where(nan & np.isnan(out) & (y0 == y1), y0, out)
    out = np.where(x == x0, y0, out)
    out = np.where(j < 0, fp[rows, 0], np.where(j >= n - 1, fp[rows, n - 1], out))
    return np.where(np.isnan(x), x, out)


class EffectiveClock:
    """Effective clock per tick of a pool of rack groups, from the operating point of
    :func:`dcsim.engine.pools.pool_operating_point` (same curves, same modes).

    ``grid_c`` / ``grid_pq`` (clock levels × load fractions of the supply curves): the GPU-weighted
    mean over the groups of ``min(level clock, board clock at the group's batch)``, the batch
    being the one that serves the group's rate at that level and load (rack limits applied as
    in :func:`dcsim.engine.tables.supply_curves`); ``vertex``: the same at each vertex of the
    efficient frontier (``'pq'``), found by the vertex's level and IT power.
    """

    def __init__(self, groups, curves, clocks: np.ndarray, mean_in: float, mean_out: float,
                 decode_ctx: float | None = None, prompt_scv: float = 0.0):
        u = curves.u
        K = clocks.size
        w = np.array([g.gpus for g in groups], dtype=float)
        w = w / w.sum()
        self.clocks = np.asarray(clocks, dtype=float)
        self.curves = curves
        #: some group's board limit lies below its TDP (else the effective clock is the controller's)
        self.throttles = any(g.node.limit_w < g.node.gpu.tdp_w for g in groups)
        self.grid_c = np.zeros((K, u.size))
        self.grid_pq = np.zeros((K, u.size))
        for wi, g in zip(w, groups):
            tab, lim = g.table, g.limits
            bc = board_clock(g.node, tab.batch, mean_in, mean_out, decode_ctx, prompt_scv)
            eff = np.minimum(self.clocks[:, None], bc[None, :])  # (K, batch points)
            budget = min(lim.rack_power_limit_w, lim.rack_cooling_limit_w)
            w_rep_max = (budget - lim.rack_overhead_w) / lim.replicas_per_rack
            for k in range(K):
                r = u * tab.thr_max[k]
                for grid, limited in ((self.grid_c, False), (self.grid_pq, True)):
                    rk = np.minimum(r, tab.rate_at_wall(k, w_rep_max)) if limited and np.isfinite(w_rep_max) else r
                    b = np.interp(rk, tab.thr[k], tab.batch)
                    grid[k] += wi * np.interp(b, tab.batch, eff[k])
        f = curves.frontier("pq")
        lv = np.rint(f.level).astype(int)
        uv = np.array([np.interp(it, curves.it_pq[k], u) for it, k in zip(f.it, lv)])
        self.vertex = np.array([np.interp(x, u, self.grid_pq[k]) for x, k in zip(uv, lv)])
        self.frontier = f

    def at(self, policy: str, served, mode, level, avail, load_fraction) -> np.ndarray:
        """Effective clock (fraction of maximum) per tick. ``served`` tokens/s, ``mode`` and
        ``level`` as the controller's, ``avail`` fraction of replicas serving, ``load_fraction``
        the operating point's (NaN on the frontier)."""
        a = np.maximum(np.asarray(avail, dtype=float), 1e-12)
        r = np.asarray(served, dtype=float) / a
        u = np.asarray(load_fraction, dtype=float)
        mode, level = np.asarray(mode), np.asarray(level)
        out = np.empty(r.size)
        top = self.clocks.size - 1
        if policy == "none":
            return np.interp(np.interp(r, self.curves.rate_c[top], self.curves.u), self.curves.u, self.grid_c[top])
        for md in np.unique(mode):
            sel = mode == md
            if md == 1:  # a mix of frontier vertices (replicas at two operating points)
                out[sel] = np.interp(r[sel], self.frontier.rate, self.vertex)
                continue
            for k in np.unique(level[sel]):
                s2 = sel & (level == k)
                out[s2] = np.interp(u[s2], self.curves.u, self.grid_pq[int(k)])
        return out
