"""A year of the shipped climates at 9 MW IT under a 12 MW interconnect: PUE and water of the
airside economizer (with and without its adiabatic pad) against the default chiller plant.

    python docs/examples/economizer_year.py
"""

from pathlib import Path

import numpy as np

from dcsim.scenario.facility import FacilitySpec
from dcsim.thermal.facility import build_facility

WEATHER = Path(__file__).resolve().parents[2] / "dcsim" / "data" / "weather"
COOLING = {
    "airside + adiabatic": {"kind": "airside_economizer"},
    "airside, no pad": {"kind": "airside_economizer", "adiabatic": False},
    "chiller plant": {"kind": "chiller_plant"},
}

for path in sorted(WEATHER.glob("*.epw")):
    t = np.arange(8760) * 3600.0 + 1800.0  # hour midpoints
    cells = []
    for name, cooling in COOLING.items():
        fac = build_facility(FacilitySpec(interconnect="12 MW", cooling=cooling,
                                          weather={"kind": "epw", "path": str(path)}))
        t_db, t_wb = fac.weather.at(t)
        b = fac.breakdown(np.full(t.size, 9e6), 0.0, t_db, t_wb)
        pue = b["facility"].sum() / b["it"].sum()
        water_l_per_kwh = b.get("water_kg_s", np.zeros(1)).sum() * 3600.0 / (b["it"].sum() / 1e3)
        cells.append(f"{name}: PUE {pue:.3f}, water {water_l_per_kwh:.2f} L/kWh")
    print(path.name.split("_TMY3")[0], "|", " | ".join(cells))
