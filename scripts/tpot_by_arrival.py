"""A request-fidelity run's TPOT by arrival time, per 10-min bin: the measurement behind docs/slo.md, "A saturated
KV-bound pool with young contexts" ("Narrowed on 2026-12-06").

Runs the scenario at request fidelity, keeps every finished request's record (arrival, admission, first and last
token, lengths) as the serving metrics ingest it, and prints for one class, per bin of arrival time: the requests, TPOT
p10/p50/p99 (ms) and the share whose TPOT exceeds 1.2x the bin's p50 (stalled, a proxy: preemption by recompute is
not recorded per request). Then, over the requests finished by the run's end, the TPOT p50/p99 as the report counts
them and with the stalled ones set to their bin's p50: what the step time alone gives.

    python scripts/tpot_by_arrival.py scenarios/mixed-fleet.yaml --set start=2026-07-15T14:00 --set duration=120min \
        --cls reasoning

(2026-12-06: 14:00-16:00, about 10 min wall on a loaded 2-core machine.)
"""

from __future__ import annotations

import argparse

import numpy as np

import dcsim
import dcsim.serving.metrics as metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--set", action="append", default=[], help="key=value overrides, as dcsim run's")
    ap.add_argument("--cls", default=None, help="request class name (default: the first)")
    ap.add_argument("--bin", type=float, default=600.0, help="arrival bin, s")
    a = ap.parse_args()
    over = dict(s.split("=", 1) for s in a.set)
    over.update(fidelity="request", expect={})
    rows: list[np.ndarray] = []
    ingest = metrics.ServingMetrics._ingest

    def keep(self, fb):
        if len(fb):
            rows.append(np.stack([fb.cls.astype(float), fb.t_arrival, fb.t_first, fb.t_finish, fb.n_out.astype(float)],
                                 axis=1))
        return ingest(self, fb)

    metrics.ServingMetrics._ingest = keep
    try:
        res = dcsim.run(a.scenario, overrides=over)
    finally:
        metrics.ServingMetrics._ingest = ingest
    names = list(res.report["serving"]["per_class"])
    ci = names.index(a.cls) if a.cls else 0
    d = np.concatenate(rows)
    d = d[(d[:, 0] == ci) & (d[:, 4] > 1)]
    ta, tf, tfin, n = d[:, 1], d[:, 2], d[:, 3], d[:, 4]
    tpot = (tfin - tf) / (n - 1)
    b = np.floor(ta / a.bin).astype(int)
    flat = tpot.copy()
    print(f"class {names[ci]}: TPOT by arrival time (ms), bins of {a.bin:g} s")
    print("arrival_s  requests  p10  p50  p99  stalled")
    for k in np.unique(b):
        s = b == k
        p10, p50, p99 = np.percentile(tpot[s], [10, 50, 99])
        stalled = s & (tpot > 1.2 * p50)
        flat[stalled] = p50
        print(f"{k * a.bin:9.0f} {s.sum():9d} {1e3 * p10:5.1f} {1e3 * p50:5.1f} {1e3 * p99:6.1f} "
              f"{stalled.sum() / s.sum():7.3f}")
    p = np.percentile(tpot, [50, 99])
    q = np.percentile(flat, [50, 99])
    print(f"all finished: TPOT p50 {1e3 * p[0]:.1f} ms, p99 {1e3 * p[1]:.1f} ms; stalled set to their bin's p50: "
          f"p50 {1e3 * q[0]:.1f} ms, p99 {1e3 * q[1]:.1f} ms")


if __name__ == "__main__":
    main()
