"""The GPU die limit in the closed form (docs/thermal-dynamics.md, "The die limit in the closed form"): the docs
example's two rack groups (320 H100s, 128 B200s at the hall's 0.0743 K/W) at full load (1,400 req/s mean, diurnal, beyond its compute
ceiling through the run's hour), no cooling failure, the plant at its setpoint. The B200 dies would pass 87 degC at full clock, so the run holds the clock one
level down; the closed form (``dcsim tpf``: dcsim.engine.steady) reads the same ceiling and the same binding.

    python docs/examples/die_limit.py
"""

import importlib.util
from pathlib import Path

import numpy as np

import dcsim
from dcsim.engine.build import build_models
from dcsim.engine.steady import steady_report
from dcsim.scenario import load_scenario

HERE = Path(__file__).resolve().parent


def full_load(duration: str = "1 h", b200_thermal: dict | None = None) -> dict:
    """The two-group hall of docs/examples/thermal_groups.py with no fault, at 1,400 req/s mean, diurnal (beyond its
    compute ceiling through the run's hour): the raw scenario dict. tests/test_die_closed_form.py runs it too."""
    spec = importlib.util.spec_from_file_location("thermal_groups", HERE / "thermal_groups.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    d = mod.two_group_trip(b200_thermal, duration=duration)
    d["faults"] = []
    d["name"] = "die-limit"  # no trip: not thermal_groups.py's "two-group-trip"
    d["workload"]["arrivals"]["mean_rate"] = "1400 req/s"
    return d


def main() -> None:
    """The closed form's peak-demand moment against the simulation's mean served rate and binding."""
    d = full_load()
    cf = steady_report(build_models(load_scenario(d)), crossovers_too=False)["moments"]["peak_demand"]
    r = dcsim.run(d)
    ts = r.timeseries
    names = ("demand", "compute", "power", "cooling")
    share = np.bincount(ts["binding"], minlength=4) / ts["binding"].size
    print(f"closed form: C {cf['compute_tok_s']:,.0f}  P {cf['power_tok_s']:,.0f}  Q {cf['cooling_tok_s']:,.0f} tok/s "
          f"({cf.get('cooling_limit', 'plant')}), achieved {cf['achieved_tok_s']:,.0f}, binding {cf['binding']}")
    print(f"simulation:  served {np.mean(ts['achieved_tok_s']):,.0f} tok/s, binding "
          + ", ".join(f"{n} {s:.0%}" for n, s in zip(names, share) if s > 0)
          + f", throttled {r.report['thermal']['throttled_s'] / 60:.0f} min "
          f"(die limit {r.report['thermal']['throttled_die_s'] / 60:.0f} min)")


if __name__ == "__main__":
    main()
