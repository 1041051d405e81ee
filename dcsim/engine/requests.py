"""Request and hybrid fidelity: each tick, real requests are served replica by replica.

``request`` fidelity simulates every replica with :class:`dcsim.serving.replica.Replica`
(continuous batching, KV cache, one loop step per batch iteration). ``hybrid`` simulates a
sample of ``hybrid_sample`` replicas that way — fed by the workload at the sample's share of
the facility's compute, so the sample sees the same per-replica load — and treats the rest as
a fluid on the same node tables. Latency and
per-request energy come from the simulated replicas; facility power is the sum of both parts.

Admission: the controller's rate limit (tokens/s) becomes a token bucket at the facility
door; requests wait there when power or cooling is short and are shed (counted) after
``controller.hold_limit``. The same limit bounds the wait inside replica queues: a request not
admitted to a batch within ``hold_limit`` of its arrival is shed there (counted). Latency counts
from each request's original arrival — held at the door, retried after a node failure or not. Requests are never dropped silently: the report's
``requests`` block and the run's invariant check ``arrived = completed + in_flight + shed``.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from dcsim.engine.build import Models
from dcsim.engine.controller import power_down_for, queue_step
from dcsim.engine.invariants import InvariantError
from dcsim.engine.loop import operating_point
from dcsim.serving.metrics import ServingMetrics
from dcsim.serving.pool import make_pool
from dcsim.serving.replica import FinishedBatch
from dcsim.workload import build_workload

__all__ = ["RequestEngine"]

_NO_SHED = np.zeros((2, 0), np.int64)


class RequestEngine:
    """Serves each controller tick's arrivals on simulated replicas (see module docstring)."""

    def __init__(self, m: Models):
        sc = m.scenario
        self.m = m
        sv = sc.serving
        _unused, rng_sample, rng_metrics = m.seeds["serving"].spawn(3)  # keep child indices stable
        total = [g.limits.replicas for g in m.groups]
        if sc.fidelity == "request":
            counts = total
        else:  # hybrid: spread the sample over groups in proportion to their size, ≥ 1 each
            n = min(sc.hybrid_sample, sum(total))
            raw = np.array(total, dtype=float) / sum(total) * n
            counts = [max(1, min(t, int(round(x)))) for t, x in zip(total, raw)]
        nodes = [g.node for g in m.groups]
        self.pool = make_pool(sv.backend, nodes, counts, router=sv.router, min_headroom_w=sv.min_headroom_w,
                              chunked_prefill=sv.chunked_prefill, kv_watermark=sv.kv_watermark,
                              hold_limit=float(sc.controller.hold_limit))
        self.group_of: list[int] = self.pool.group_of.tolist()
        cap_sample = sum(c * g.table.thr_max[-1] for g, c in zip(m.groups, counts))
        cap_all = sum(t * g.table.thr_max[-1] for g, t in zip(m.groups, total))
        #: share of the facility's compute simulated request by request
        self.frac = 1.0 if sc.fidelity == "request" else float(cap_sample / cap_all)
        self.workload = m.workload
        if self.frac < 1.0:
            # The sample's own arrival stream: the workload at frac of its rate (exact thinning
            # for Poisson and time-varying Poisson arrivals; for renewal, MMPP and trace arrivals a
            # rate-scaled copy of the process). The fluid remainder takes the expected rest.
            arr = sc.workload.arrivals
            spec = sc.workload.model_copy(update={"arrivals": arr.model_copy(update={"scale": arr.scale * self.frac})})
            self.workload = build_workload(spec, rng_sample.spawn(1)[0], sc.base_dir, start_hour=m.start_hour)
        cls = m.workload.classes
        self.metrics = ServingMetrics([c.name for c in cls], [c.slo_ttft_s for c in cls], [c.slo_tpot_s for c in cls],
                                      sample_size=sv.latency_sample_size, seed=rng_metrics)
        self.hold_limit = float(sc.controller.hold_limit)
        # requests waiting at the facility door, FIFO: blocks of arrays (t_arrival, cls, n_in, n_out)
        self._hold: deque = deque()
        self._hold_n = 0  # requests in _hold
        self._hold_tok = 0  # output tokens of the requests in _hold (kept as a running sum)
        self._bucket = 0.0
        self._fluid_backlog = 0.0
        self._tick_gpu: list[float] = []
        self._tick_it_sample: list[float] = []
        self._tick_fluid_rate: list[float] = []
        self.arrived_tok = 0.0
        self.served_tok = 0.0
        self.shed_tok = 0.0
        self.n_shed_fluid_tok = 0.0
        self._ovh_share = m.overhead_w * self.frac
        self._last_gpu_w = np.zeros(self.pool.n)
        self._down = np.zeros(self.pool.n, dtype=bool)
        self._any_down = False
        self._all_up = np.ones(self.pool.n, dtype=bool)  # read-only by convention: never modified
        gof = np.array(self.group_of)
        self._by_group = [(g, np.flatnonzero(gof == g)) for g in sorted(set(self.group_of))]
        self.requeued = 0  # requests retried after their replica failed
        self.door_backlog_tok = 0.0  # output tokens waiting to be admitted (for the controller)
        self._finished: list = []  # finished requests not yet in the metrics (bounded by _flush)
        self._buffered = 0

    def _flush(self) -> None:
        """Hand buffered finished requests to the streaming metrics in one vectorized call."""
        if self._finished:
            self.metrics.add(FinishedBatch.concat(self._finished))
            self._finished.clear()
            self._buffered = 0

    # ------------------------------------------------------------------ per tick
    def tick(self, t0: float, dt: float, limit_tok_s: float, clock: float, availability: float = 1.0,
             awake: float | None = None):
        """Serve ``[t0, t0+dt)``; returns (served tokens/s, waiting tokens, shed tokens, arrived tokens).

        ``availability`` is the fraction of replicas in service: new requests are routed only to
        the first ``round(availability · n)`` replicas (requests already inside a failed replica
        finish there — a simplification). ``awake`` (``controller.idle_power_down``) is the
        fraction of replicas serving: the others in service are parked (waking or in standby) and
        get no new requests; requests already inside a parked replica finish there.
        """
        m = self.m
        t1 = t0 + dt
        ab = self.workload.sample(t0, t1)
        t, cls, n_in, n_out = ab.t, ab.cls, ab.n_in, ab.n_out
        fluid_arr = 0.0
        if self.frac < 1.0:  # expected output tokens of the rest of the facility
            fluid_arr = float(m.workload.rate(np.array([t0 + 0.5 * dt]))[0]) * m.workload.mean_output * dt * (1.0 - self.frac)
        arrived = float(n_out.sum()) + fluid_arr
        self.metrics.record_arrivals(cls)
        available = self._in_service(t0, availability)
        if awake is not None and awake < availability - 1e-12:  # idle_power_down: park the rest
            up = np.flatnonzero(available)
            k = max(1, int(round(awake * self.pool.n)))
            if k < up.size:
                available = available.copy()
                available[up[k:]] = False
        if t.size:
            self._hold.append((t, cls, n_in, n_out))
            self._hold_n += t.size
            self._hold_tok += int(n_out.sum())
        # admission: token bucket on output tokens at the controller's limit (sample share)
        self._bucket = min(self._bucket + limit_tok_s * self.frac * dt, limit_tok_s * self.frac * dt * 2 + 1.0)
        shed_tok = 0.0
        rel, shed_cls = self._release(t1)
        if shed_cls.size:
            self.metrics.record_shed(shed_cls[0])
            shed_tok += float(shed_cls[1].sum())
        if rel is not None:
            # a request held at the door (or retried) enters a replica when released, at t0: that
            # is its place in the replica's FIFO; its latency still counts from its arrival
            order = np.argsort(np.maximum(rel[0], t0), kind="stable")
            ra, rc, ri, ro = (x[order] for x in rel)
            rt = np.maximum(ra, t0)
            headroom = None
            if self.m.scenario.serving.router == "power_aware":
                # power headroom of each replica: GPU power at full batch at this clock minus its last draw
                k = float(np.interp(clock, m.clocks, np.arange(m.clocks.size)))
                capg = np.array([np.interp(k, np.arange(m.clocks.size), g.table.gpu[:, -1]) for g in m.groups])
                headroom = capg[self.pool.group_of] - self._last_gpu_w
        else:
            rt = ra = np.zeros(0)
            rc = ri = ro = np.zeros(0, np.int64)
            headroom = None
        energy, fins, sh_c, sh_o = self.pool.serve(t1, clock, rt, ra, rc, ri, ro, available=available,
                                                   headroom_w=headroom)
        if sh_c.size:  # never fits in KV, or waited in a replica queue past hold_limit
            self.metrics.record_shed(sh_c)
            shed_tok += float(sh_o.sum())
        self._last_gpu_w = energy / dt
        gpu_j = float(energy.sum())
        served = 0.0
        it_w = 0.0
        for fin in fins:
            self._finished.append(fin)
            self._buffered += len(fin)
            served += float(fin.n_out.sum())
        if self._buffered >= 20_000:
            self._flush()
        for g, sel in self._by_group:  # wall power of each replica from its mean GPU power this tick
            it_w += float(np.sum(self.m.groups[g].node.wall_power(self._last_gpu_w[sel])))
        # the fluid remainder of a hybrid facility
        fluid_served = 0.0
        if self.frac < 1.0:
            fluid_served, self._fluid_backlog, sh = queue_step(
                self._fluid_backlog, fluid_arr / dt, limit_tok_s * (1.0 - self.frac), dt, self.hold_limit)
            shed_tok += sh
        self._tick_gpu.append(gpu_j / dt)
        self._tick_it_sample.append(it_w + self._ovh_share)
        self._tick_fluid_rate.append(fluid_served)
        self.arrived_tok += arrived
        self.served_tok += served + fluid_served * dt
        self.shed_tok += shed_tok
        waiting = self.arrived_tok - self.served_tok - self.shed_tok
        # work the controller must still admit: tokens held at the door (sample) and the fluid
        # remainder's queue; tokens already inside replicas are in service, not waiting
        self.door_backlog_tok = self._hold_tok + self._fluid_backlog
        return served / dt + fluid_served, waiting, shed_tok, arrived

    def _release(self, t1: float):
        """Take requests from the door queue in FIFO order: those waiting more than hold_limit
        (at ``t1``) are shed; the others are released while the token bucket holds their output
        tokens, up to the first that does not fit. Returns (released arrays (t_arrival, cls, n_in,
        n_out) or None, shed (2, k) array of class and output tokens)."""
        if not self._hold:
            return None, _NO_SHED
        if self._hold_tok <= self._bucket and not any(t1 - b[0][0] > self.hold_limit for b in self._hold):
            # fast path: nothing expired and everything fits the bucket: release all
            blocks = list(self._hold)
            out = blocks[0] if len(blocks) == 1 else tuple(np.concatenate(x) for x in zip(*blocks))
            self._bucket -= float(self._hold_tok)
            self._hold.clear()
            self._hold_n = self._hold_tok = 0
            return out, _NO_SHED
        rel, shed = [], []
        while self._hold:
            t, c, i, o = self._hold[0]
            exp = (t1 - t) > self.hold_limit
            cs = np.cumsum(np.where(exp, 0, o), dtype=float)
            stop = np.flatnonzero(~exp & (cs > self._bucket))
            j = int(stop[0]) if stop.size else t.size
            if j:
                e, k = exp[:j], ~exp[:j]
                shed.append(np.stack([c[:j][e], o[:j][e]]))
                rel.append((t[:j][k], c[:j][k], i[:j][k], o[:j][k]))
                self._bucket -= float(cs[j - 1])
                self._hold_n -= j
                self._hold_tok -= int(o[:j].sum())
            if j < t.size:
                self._hold[0] = (t[j:], c[j:], i[j:], o[j:])
                break
            self._hold.popleft()
        sh = np.concatenate(shed, axis=1) if shed else _NO_SHED
        if not rel:
            return None, sh
        out = tuple(np.concatenate(x) for x in zip(*rel))
        return (out if out[0].size else None), sh

    def _in_service(self, t0: float, availability: float) -> np.ndarray:
        """Replicas in service at ``t0``; requests inside a replica that has just failed are
        taken out (``Replica.drain``) and retried first, from the start, at ``t0``."""
        n = self.pool.n
        fx = self.m.faults
        if fx is None and availability >= 1.0 and not self._any_down:  # all in service (fast path)
            return self._all_up
        if fx is not None and self.frac == 1.0:  # request fidelity: the exact failed replicas
            down = np.asarray(fx.replicas_down(t0), dtype=bool)[:n]
        else:  # hybrid: the sample loses its share of replicas
            down = np.arange(n) >= max(1, int(round(availability * n)))
        newly = np.flatnonzero(down & ~self._down)
        if newly.size:
            retry = []
            for i in newly:
                retry += self.pool.drain(int(i))
            retry.sort(key=lambda r: r[0])
            if retry:  # retried requests go back to the front of the door queue, first to be served
                a = np.array(retry, dtype=float)
                self._hold.appendleft((a[:, 0], a[:, 1].astype(np.int64), a[:, 2].astype(np.int64),
                                       a[:, 3].astype(np.int64)))
                self._hold_n += len(retry)
                self._hold_tok += int(a[:, 3].sum())
            self.requeued += len(retry)
        self._down = down
        self._any_down = bool(down.any())
        return ~down if self._any_down and not down.all() else self._all_up

    def chunk_power(self, mode: np.ndarray, level: np.ndarray, parked=None) -> dict:
        """IT and GPU power (W) of the ticks since the last call (sample measured + fluid modelled).

        ``mode`` and ``level`` are the controller's operating mode and clock level of each of
        those ticks; the fluid remainder runs at that operating point like a fluid facility.
        ``parked`` (``controller.idle_power_down``): per-tick arrays ``(awake fraction, parked
        wall power W, replicas asleep)`` of the facility: the sample's parked replicas idled in the
        engine and draw standby power instead; the fluid remainder serves on its awake share and
        draws its share of the parked power.
        """
        self._flush()
        gpu = np.array(self._tick_gpu)
        it = np.array(self._tick_it_sample)
        share = np.full(gpu.size, 1.0 - self.frac)
        if parked is not None:
            awake, parked_w, asleep = (np.asarray(x, float) for x in parked)
            pd = power_down_for(self.m, 1.0)
            n_asleep = asleep * self.frac
            it = it - n_asleep * pd.idle_wall_w * (1.0 - pd.standby_fraction)
            gpu = gpu - n_asleep * sum(g.limits.replicas * g.node.idle_gpu_power_w for g in self.m.groups) / pd.replicas
            share = awake * (1.0 - self.frac)
        if self.frac < 1.0:
            fr = np.array(self._tick_fluid_rate)
            op = operating_point(self.m, fr, mode, level, share)
            # operating_point adds all rack overhead; the sample already carries its share
            it = it + op["it_power_w"] - self._ovh_share
            gpu = gpu + op["gpu_power_w"]
            if parked is not None:
                it = it + parked_w * (1.0 - self.frac)
        self._tick_gpu.clear()
        self._tick_it_sample.clear()
        self._tick_fluid_rate.clear()
        return {"it_power_w": it, "gpu_power_w": gpu}

    # ------------------------------------------------------------------ results
    def in_flight(self) -> int:
        """Requests at the door or inside a replica (simulated part)."""
        t = self.pool.totals()
        return self._hold_n + t["enqueued"] - t["completed"] - t["shed"]

    def report(self, duration_s: float) -> dict:
        """Latency, SLO attainment, goodput and request accounting (simulated replicas)."""
        self._flush()
        rep = self.metrics.to_report(duration_s)
        req = rep["requests"]
        counted = req["completed"] + req["shed"] + self.in_flight()
        if counted != req["arrived"]:
            raise InvariantError(f"requests not accounted: arrived {req['arrived']} != completed+in_flight+shed {counted}")
        req["in_flight"] = self.in_flight()
        if self.frac < 1.0:
            # latency and SLOs come from the sample; goodput scales to the whole facility
            rep["goodput_tok_s"] = rep["goodput_tok_s"] / self.frac
            rep["hybrid"] = {"sampled_replicas": self.pool.n, "compute_share": self.frac}
        out = {k: rep[k] for k in ("latency_s", "slo_attainment", "goodput_tok_s", "queue_delay_s", "requests")}
        out["serving"] = {k: v for k, v in rep.items() if k not in out}
        out["preemptions"] = self.pool.totals()["preemptions"]
        out["requests"]["requeued_after_failure"] = int(self.requeued)
        return out

    def latency_samples(self) -> dict:
        """Per-class bounded samples of TTFT, TPOT and e2e latency (s) for CDF plots."""
        out = {}
        for name in self.metrics.class_names:
            s = self.metrics.sample(name)
            out[name] = {"ttft_s": s["ttft_s"], "tpot_s": s["tpot_s"], "e2e_s": s["e2e_s"]} if "ttft_s" in s else {
                "ttft_s": s.get("ttft"), "tpot_s": s.get("tpot"), "e2e_s": s.get("e2e")}
        return out
