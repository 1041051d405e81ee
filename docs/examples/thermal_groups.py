"""The thermal throttle with two rack groups of different GPUs in one hall (docs/thermal-dynamics.md, "Several rack
groups"): chiller-trip's 320 H100s with 128 B200s beside them serving the same model, one plant sized for both, the
plant tripping for 40 minutes. Each group's dies against its own limit on the throttled ticks, and the group that set
the fleet's clock level.

    python docs/examples/thermal_groups.py
"""

from pathlib import Path

import numpy as np
import yaml

import dcsim
from dcsim.engine.build import build_models
from dcsim.engine.flex import load_per_level, die_groups, group_gpu_w
from dcsim.scenario import load_scenario
from dcsim.thermal.dynamics import thermal_params


def two_group_trip(b200_thermal: dict | None = None, duration: str | None = None) -> dict:
    """chiller-trip's H100 hall with 128 B200s beside it serving the same model, one plant sized for both (the raw
    scenario dict): ``b200_thermal`` the B200 group's own die parameters (``racks[].gpu_thermal``; None: the hall's),
    ``duration`` the run's (None: chiller-trip's 3 h). tests/test_thermal_groups.py runs it too."""
    d = yaml.safe_load((Path(__file__).resolve().parents[2] / "scenarios" / "chiller-trip.yaml").read_text())
    d.update(name="two-group-trip", expect={}, **({"duration": duration} if duration is not None else {}))
    d["facility"].update(interconnect="800 kW")
    d["facility"]["cooling"]["capacity"] = "640 kW"
    d["workload"]["arrivals"]["mean_rate"] = "900 req/s"
    g = {"name": "b200", "count": 4, "nodes_per_rack": 4,
         "node": {"gpu": "B200", "model": "llama-3.1-70b", "precision": "bf16", "tensor_parallel": 4, "max_batch": 256},
         "power": {"power_limit": "80 kW"}, "cooling": {"kind": "rear_door", "limit": "70 kW"}}
    if b200_thermal is not None:
        g["gpu_thermal"] = b200_thermal
    d["racks"].append(g)
    return d


CASES = {  # the B200 group's own die parameters (racks[].gpu_thermal)
    "B200 at the hall's r_th 0.0743 K/W": None,
    "B200 at its own r_th 0.052 K/W": {"r_th_k_per_w": 0.052},  # (87 - 35)/1000: the default's design rule at its TDP
}


def main() -> None:
    """Run each case of :data:`CASES` and print its throttle, shed and each group's die peak on the throttled ticks."""
    for name, own in CASES.items():
        sd = two_group_trip(own)
        sc = load_scenario(sd)
        m = build_models(sc)
        groups = die_groups(m, thermal_params(sc.facility.thermal, float(m.facility.capacity_w), 15.0))
        r = dcsim.run(sd)
        ts, th = r.timeseries, r.report["thermal"]
        thr = np.flatnonzero(ts["thermal_throttled"] > 0)
        print(f"{name}: throttled {th['throttled_s'] / 60:.0f} min, shed {th['shed_s'] / 60:.0f} min, "
              f"output tokens lost {r.report['faults_total']['tokens_lost'] / 1e6:.0f} M")
        for gi, g in enumerate(groups):
            # each throttled tick: the white space at its end + r_th x the group's GPU power at the tick's level
            # and rate
            die = [ts["t_space_c"][j] + g.r_th_k_per_w * group_gpu_w(
                g, m.curves.u, load_per_level(m.curves, ts["achieved_tok_s"][j], ts["gpus_in_service"][j] / m.gpus))[
                int(ts["thermal_level"][j])] for j in thr]
            print(f"  {g.name:7s} {g.gpu:9s} die peak {max(die):6.2f} degC (limit {g.t_limit_c:g})  "
                  f"set the level {th['groups'][gi]['throttle_set_s'] / 60:5.1f} min")


if __name__ == "__main__":  # imported (by the tests): two_group_trip alone
    main()
