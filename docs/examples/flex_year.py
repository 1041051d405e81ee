"""A year of the reference hall in Richmond, then — standalone, before the engine wiring of
phase 2 — what a curtailment budget costs with and without a battery, and what deferring 30 %
of the work into cheap hours does (docs/grid.md).

    python docs/examples/flex_year.py [--out DIR]     # figures to DIR (default: a temp folder)
"""

import argparse
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np

import dcsim
from dcsim.metrics.annual import annual_summary
from dcsim.plots.annual import binding_month_hour_plot, pue_outdoor_year_plot
from dcsim.power.grid import (
    cap_over, curtailment_enabled_scale, curtailment_events, curtailment_summary, notice_over, series_at,
)
from dcsim.power.storage import battery_params, dispatch
from dcsim.scenario.facility import BatteryStorageSpec
from dcsim.scenario.grid import CurtailmentProcessSpec, DeferrableWorkSpec, PriceSeriesSpec
from dcsim.workload.deferrable import schedule_deferrable

ROOT = Path(__file__).resolve().parents[2]
ap = argparse.ArgumentParser()
ap.add_argument("--out", default=None)
out = Path(ap.parse_args().out or tempfile.mkdtemp(prefix="dcsim-year-"))
out.mkdir(parents=True, exist_ok=True)

# 1. a year at fluid fidelity (5-min tick keeps this example quick; bench/bench_year.py times 1 min)
weather = {"kind": "epw", "path": str(ROOT / "dcsim/data/weather/USA_VA_Richmond.Intl.AP.724010_TMY3.epw")}
r = dcsim.run(ROOT / "scenarios/reference.yaml",
              overrides={"duration": "8760 h", "controller.tick": "5 min", "facility.weather": weather,
                         "start": "2025-01-01T00:00"})
start = datetime(2025, 1, 1)
ts, dt = r.timeseries, r.report["tick_s"]
a = annual_summary(ts, start, tick_s=dt, slo_token_share=r.report["utilization_adjusted_output"]["slo_share"])
print(f"year: PUE {a['pue']['annual']:.3f} (Jan {a['pue']['by_month'][0]:.3f}, Jul {a['pue']['by_month'][6]:.3f}); "
      f"hours binding {', '.join(f'{k} {v:,.0f}' for k, v in a['hours_binding'].items())}")
binding_month_hour_plot(a).savefig(out / "binding_month_hour.png")
pue_outdoor_year_plot(ts["t_s"], ts["pue"], ts["t_out_c"], start, summary=a).savefig(out / "pue_outdoor_year.png")

# 2. curtailment: 0.5 % of the year's hours, events of ~2 h (≤ 4 h), half the contract, 1 h notice
contract = r.report["interconnect_w"]
events = curtailment_events(CurtailmentProcessSpec(budget="0.5%"), a["hours"] * 3600.0, start,
                            np.random.SeedSequence(42))
s = curtailment_summary(events, a["hours"] * 3600.0)
cap = cap_over(events, ts["t_s"], r.report["tick_s"], contract)  # the cap over each whole tick
load = ts["facility_power_w"]
j_per_tok = np.where(ts["achieved_tok_s"] > 0, load / np.maximum(ts["achieved_tok_s"], 1e-9), 0.0)
price = series_at(PriceSeriesSpec(kind="daily_profile", value="60 USD/MWh",
                                  profile=[0.7] * 6 + [1.0] * 8 + [1.6] * 6 + [1.0] * 4), ts["t_s"], start)
print(f"curtailment: {s['events']} events, {s['hours']:.1f} h ({100 * s['share_of_hours']:.2f} % of the year), "
      f"longest {s['longest_h']:.1f} h")
for name, batt in (("no battery", None),
                   ("battery 200 kWh / 150 kW", BatteryStorageSpec(energy="200 kWh", max_charge="75 kW",
                                                                   max_discharge="150 kW"))):
    if batt is None:
        grid, unmet = load, np.maximum(load - cap, 0.0)
    else:
        d = dispatch(battery_params(batt), load, cap, contract, dt, price=price,
                     precharge=notice_over(events, ts["t_s"], dt, contract))  # announced, not yet capped
        grid, unmet = d["grid_w"], d["unmet_w"]
    lost = float(np.sum(np.where(j_per_tok > 0, unmet / np.where(j_per_tok > 0, j_per_tok, 1.0), 0.0)) * dt)
    # estimate: the meter energy the cap refuses, at the tick's facility J/token (phase 2: the controller)
    print(f"  {name:26s} energy not served {np.sum(unmet) * dt / 3.6e9:6.2f} MWh, ~{lost / a['tokens']['output']:.4%} "
          f"of the year's tokens lost (estimate), energy cost {np.sum(np.minimum(grid, cap) * price) * dt:,.0f} USD")

# 3. deferrable: 30 % of the served tokens are batch work due in 24 h, moved into spare compute
#    in the cheapest 30 % of hours (urgent work served whatever the price)
batch = 0.3 * ts["achieved_tok_s"] * dt
spare = np.maximum(ts["compute_tok_s"] - 0.7 * ts["achieved_tok_s"], 0.0) * dt
dw = DeferrableWorkSpec()  # the scenario's defaults: the 0.3 quantile, 4 h urgency
for policy in ("headroom", "cheap"):
    d = schedule_deferrable(batch, spare, dt, 86400.0, policy=policy, signal=price, quantile=dw.quantile,
                            urgency_s=dw.urgency)
    mean_price = np.sum(d["served"] * price) / np.sum(d["served"]) * 3.6e9
    print(f"  deferrable {policy:8s}: served {d['served_total'] / d['arrived']:.4%} (rest queued at the end), "
          f"late {d['served_late']:.3g} tokens, mean delay {d['mean_delay_s'] / 3600:.2f} h, "
          f"price of the hours served {mean_price:.1f} USD/MWh (token-weighted)")
# 4. the interconnection question, first order: the same hall's meter profile with the 510 kW cap
#    lifted (UPS and transformer keep their 510 kW ratings), scaled until it exceeds 510 kW on at
#    most the budget's hours, no event over 4 h; GPUs that fit = 320 × scale
free = dcsim.run(ROOT / "scenarios/reference.yaml",
                 overrides={"duration": "8760 h", "controller.tick": "5 min", "facility.weather": weather,
                            "facility.interconnect": "10 MW", "facility.power_chain.ups_rating": "510 kW",
                            "facility.power_chain.transformer_rating": "510 kW"})
profile = free.timeseries["facility_power_w"]
for budget in (0.0, 0.0025, 0.005, 0.01):
    for limit in (4 * 3600.0, None):
        c = curtailment_enabled_scale(profile, contract, dt, budget, max_event_s=limit)
        print(f"  budget {100 * budget:4.2f} %, events {'<= 4 h' if limit else 'any length'}: "
              f"{320 * c['scale']:5.1f} GPUs fit ({c['hours_curtailed']:.1f} h in {c['events']} events)")
print(f"figures in {out}")
