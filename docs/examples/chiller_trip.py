"""A chiller trip: time to first throttle and shed, with more loop water or a storage tank (docs/thermal-dynamics.md).

    python docs/examples/chiller_trip.py
"""

import numpy as np
from dcsim.scenario.facility import ThermalDynamicsSpec, ThermalStorageTankSpec
from dcsim.thermal.dynamics import thermal_params, cooling_failure_response

n = 90 * 60                                   # 90 min at a 1-s tick
it = np.full(n, 8e6)                          # 8 MW of IT heat asked for
trip = np.where(np.arange(n) < 60, 10e6, 0.0) # all chillers trip at t = 60 s
cases = {  # name: (spec, loop set point degC)
    "defaults": (ThermalDynamicsSpec(), 15.0),
    "30 L/kW loop": (ThermalDynamicsSpec(loop_water_l_per_kw=30), 15.0),
    "300 m³ tank": (ThermalDynamicsSpec(tank=ThermalStorageTankSpec(volume_m3=300)), 15.0),
    "liquid 32 degC": (ThermalDynamicsSpec(kind="liquid"), 32.0),  # direct-to-chip, warm water
}
for name, (spec, setpoint) in cases.items():
    p = thermal_params(spec, design_heat_w=10e6, setpoint_c=setpoint)
    r = cooling_failure_response(p, it, trip, 1.0, gpu_power_w=650.0, gpu_heat_share=0.75,
                                 tokens_per_s=2.0e6)
    print(f"{name:14s} throttle {r['time_to_first_throttle_s']} s  shed {r['time_to_first_shed_s']} s  "
          f"peak inlet/coolant {r['peak_space_c']:.1f} degC  tokens lost {r['tokens_lost']:.3g}")
