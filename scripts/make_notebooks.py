"""Write the tutorial notebooks in notebooks/ (without outputs) from the cells below.

    python scripts/make_notebooks.py

Each notebook finds the repository root itself, so it runs from notebooks/ or the root. CI runs
them top to bottom (tests/test_notebooks.py, at most 600 s a cell: a hang guard); each takes under a minute on an idle
2-core machine except 03_capacity_planning (about 1.5 min, measured 2026-12-01), whose two plan-under-targets cells are the
longest (the BF16 one is bench/bench_plan.py's targets example, its CPU time in docs/slo.md, "Planning under
service targets"; docs/sweeps.md gives the notebooks' measured times, and how a loaded machine stretches them).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "notebooks"

SETUP = """\
from pathlib import Path
import numpy as np
import matplotlib.pyplot as plt
import dcsim

# the repository root (this notebook lives in notebooks/)
ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "scenarios" / "reference.yaml").exists())
REF = ROOT / "scenarios" / "reference.yaml"


def show(fig):
    # display a matplotlib Figure as PNG (pyplot and Agg-canvas figures alike)
    import io
    from IPython.display import Image, display

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    display(Image(buf.getvalue()))
"""


def md(s: str):
    return new_markdown_cell(s.strip())


def code(s: str):
    return new_code_cell(s.strip())


NOTEBOOKS: dict[str, list] = {}

NOTEBOOKS["01_quickstart.ipynb"] = [
    md("""
# dcsim quickstart

dcsim answers: **how many useful tokens can this facility produce, at how many Joules each, and
which limit binds — compute, delivered power or cooling — and when does that change?**

The shipped reference scenario is a small hall of 40 DGX-class 8×H100 servers serving
Llama-3.1-70B to chat traffic on a hot July day, under a 495 kW interconnect. At fluid fidelity
(one controller tick per minute) a whole day runs in a few seconds, nearly all of it the queueing
estimate of latency and SLO attainment (docs/slo.md); with `serving.slo_estimate: false` it takes
a fraction of a second. Measured on 2026-12-06, `dcsim.run(REF)` timed with `time.process_time`
and `time.perf_counter`, three runs with the estimate and two without in each of two processes:
3.5–4.9 CPU-s for the day and 0.2–0.3 CPU-s without the estimate, on a shared 2-core machine at
load 11–16 (wall 13–19 s and 0.7–1.0 s there; no quiet moment to time the wall on).
"""),
    code(SETUP),
    code("""
sc = dcsim.load_scenario(REF)
res = dcsim.run(sc)
rep = res.report
print(f"{rep['gpus']} GPUs, {rep['throughput_tok_s']['output']:,.0f} output tok/s served of "
      f"{rep['throughput_tok_s']['demand_output']:,.0f} demanded")
print("J per output token (GPU / IT / facility):",
      ", ".join(f"{rep['joules_per_output_token'][k]:.2f}" for k in ("gpu", "it", "facility")))
print(f"PUE {rep['pue']:.3f}, peak facility power {rep['peak_power_w']['facility'] / 1e3:.0f} kW")
print("binding shares:", {k: round(v, 3) for k, v in rep["binding"]["share"].items()})
print("shifts:", [(round(s["t_s"] / 3600, 2), s["from"], s["to"]) for s in rep["binding"]["shifts"]])
"""),
    md("""
The **signature plot**: demand D, the compute C, power P and cooling Q ceilings, and the achieved
rate coloured by the constraint that binds. The four constraint colours (grey demand, blue compute,
vermillion power, green cooling) are the same in every dcsim figure and mean which constraint binds;
the power figure's stack of components has colours of its own.
"""),
    code("""
from dcsim.plots import signature_plot

show(signature_plot(res))
"""),
    md("""
## The closed form

The Token Production Function `T = min(D, C, P, Q)` evaluated on the same node and facility models,
without queues: the steady-state answer the simulation must reproduce, and where the binding
constraint would flip.
"""),
    code("""
from dcsim.engine.build import build_models
from dcsim.engine.steady import steady_report

tpf = steady_report(build_models(sc))
for label, r in tpf["moments"].items():
    x = r["crossover"]
    print(f"{label:12s} t={r['t_s'] / 3600:5.2f} h  {r['t_out_c']:4.1f} degC  D={r['demand_tok_s']:9,.0f}  "
          f"C={r['compute_tok_s']:9,.0f}  P={r['power_tok_s']:9,.0f}  Q={r['cooling_tok_s']:9,.0f}  -> {r['binding']}")
"""),
    md("""
## What-ifs with overrides

Any field can be overridden by its dotted path, with units: a bigger interconnect, more racks.
"""),
    code("""
whatif = {}
for ov in ({}, {"facility.interconnect": "600 kW"}, {"facility.interconnect": "600 kW", "racks.0.count": 14}):
    r = dcsim.run(REF, overrides=ov).report
    whatif[str(ov)] = r
    share = {k: f"{100 * v:.0f}%" for k, v in r["binding"]["share"].items() if v > 0}
    print(f"{str(ov):60s} {r['throughput_tok_s']['output']:9,.0f} tok/s  "
          f"{r['joules_per_output_token']['facility']:.2f} J/tok  {share}")
"""),
    md("""
The 600 kW interconnect alone serves no more tokens than 495 kW (within a fraction of a percent: the
lines below print both figures and the difference), at a higher J/token. Power no longer binds, but
where it bound at 495 kW it bound by a hair (its ceiling within 1 % of the
compute ceiling: little to win), and the UPS and transformers are rated to the interconnect: their
no-load losses grow with the rating, the PUE rises, and those losses are heat the same cooling plant
must reject, so cooling binds longer. The runs say so in their notes; the lines below compare them:
"""),
    code("""
a, b = whatif["{}"], whatif[str({"facility.interconnect": "600 kW"})]
for name, r in (("495 kW", a), ("600 kW", b)):
    sh = r["binding"]["share"]
    print(f"{name}: power binds {100 * sh['power']:4.1f} %, cooling {100 * sh['cooling']:4.1f} % of the day; "
          f"delivery losses {r['energy_j']['delivery_losses'] / 3.6e6:,.0f} kWh, PUE {r['pue']:.3f}, "
          f"{r['throughput_tok_s']['output']:,.0f} tok/s")
d = b["throughput_tok_s"]["output"] / a["throughput_tok_s"]["output"] - 1
print(f"600 kW against 495 kW: {100 * d:+.2f} % output tokens/s")
print("the 495 kW run's note:", next(n for n in a["notes"] if n.startswith("power binds by a hair")).split(":")[0])
print("the 600 kW run's note:", next(n for n in b["notes"] if n.startswith("a larger interconnect")).split(":")[0])
# what the text above says
assert b["binding"]["share"]["power"] == 0  # the knife-edge tokens/s difference is printed above, not asserted
assert b["energy_j"]["delivery_losses"] > a["energy_j"]["delivery_losses"] and b["pue"] > a["pue"]
assert b["binding"]["share"]["cooling"] > a["binding"]["share"]["cooling"]
"""),
]

NOTEBOOKS["02_phase_diagram.ipynb"] = [
    md("""
# Binding-constraint phase diagrams

Which constraint binds as two parameters change? `dcsim.phase.phase_diagram` evaluates the closed
form densely over a grid (milliseconds per row) at one moment of the scenario, and can simulate a
few cells to overlay: a circle is a simulated cell whose binding constraint agrees with the map, a
cross one that differs.
"""),
    code(SETUP),
    code("""
from dcsim.phase import phase_diagram, plot_phase

pd = phase_diagram(REF, x=("gpus", np.linspace(64, 960, 57)), y=("t_out_c", np.linspace(15, 50, 36)),
                   demand="full", simulate=3)
print("share of the map:", {k: round(v, 2) for k, v in pd.share().items()})
print("simulated cells agreeing with the closed form:",
      sum(p["binding"] == p["closed_form"] for p in pd.sim), "of", len(pd.sim))
show(plot_phase(pd, title="Reference hall at full load: GPUs x outdoor temperature (495 kW interconnect)"))
"""),
    md("""
At full load (unbounded demand) small fleets are compute-bound; past a few hundred GPUs the
495 kW interconnect binds, and on the hottest afternoons the air-cooled chillers' derated heat
rejection binds first. The contours are the achieved token rate (thousands of tokens/s).

The green band along the coldest row (15 °C) is no error: it is the plant's nameplate binding on a
cold day. Below 35 °C the heat rejection is its rated 395 kW (it derates only above), so Q stays
flat, while the chillers draw less power as the air cools and the interconnect powers more IT: near
15 °C P meets Q, and which of the two binds there is decided by well under 1 % (the near-tie
hatching: a tie at display precision, not a finding). The lines below read both off the map at 512 GPUs:
"""),
    code("""
j = int(np.argmin(abs(pd.x - 512)))
for t_c in (15.0, 16.0, 35.0):
    i = int(np.argmin(abs(pd.y - t_c)))
    P, Q = pd.power_tok_s[i, j], pd.cooling_tok_s[i, j]
    print(f"{pd.y[i]:4.0f} degC, {pd.x[j]:.0f} GPUs: P {P:,.0f}  Q {Q:,.0f} tok/s (P/Q {P / Q:.4f}) -> "
          f"{('demand', 'compute', 'power', 'cooling')[pd.binding[i, j]]}")
cold = pd.binding[0] == 3
print(f"cooling binds at {pd.y[0]:.0f} degC from {pd.x[np.argmax(cold)]:.0f} GPUs" if cold.any() else "no cooling at 15 degC")
# what the text above says: Q flat below 35 degC (the nameplate); at 15 degC P and Q a near tie (the map's hatching,
# dcsim.phase.near_ties); which of the two binds there is printed above, not asserted (a knife edge)
from dcsim.phase import near_ties

i15, i35 = (int(np.argmin(abs(pd.y - t))) for t in (15.0, 35.0))
assert abs(pd.cooling_tok_s[i15, j] / pd.cooling_tok_s[i35, j] - 1) < 1e-9
assert pd.binding[i15, j] in (2, 3) and near_ties(pd)[i15, j]
"""),
    md("""

Next: delivered power against fleet size when users ask for 150k output tokens/s on the hottest
tick. The demand-limited region (grey) is where the fleet, its power and its cooling all suffice;
below it the fleet is too small (compute), and to the left the interconnect too small (power; with
many racks their idle draw alone eats a small budget). At this demand the reference plant's 395 kW
of heat rejection carries every fleet of the map even derated on the hottest tick, so cooling does
not appear here (it does at full load, above).
"""),
    code("""
caps = [f"{v:.0f} kW" for v in np.linspace(200, 900, 36)]
pd2 = phase_diagram(REF, x=("facility.interconnect", caps), y=("racks.0.count", list(range(4, 25))),
                    demand=150e3, moment="hottest")
print("share of the map:", {k: round(v, 2) for k, v in pd2.share().items()})
show(plot_phase(pd2))
"""),
    md("""
And J/token against delivered power: at the large batches of a full hall the node model has FP8
weights lower the Joules per token (at small batches the per-layer FP8 cost makes them dearer,
docs/node.md), so at the same interconnect the power ceiling rises (rows are precision, a
categorical axis; full load, hottest tick). FP8 Llama-3.1-70B on H100 has no measurement of its
own: its node parameters are transferred from the GPU's pooled fit, and its expected error
(`node.calibration`, the leave-one-model-out table of docs/validation.md) is printed next to its
figures:
"""),
    code("""
pd3 = phase_diagram(REF, x=("facility.interconnect", caps), y=("racks.0.node.precision", ["bf16", "fp8"]),
                    demand="full", moment="hottest")
from dcsim.engine.build import build_models
from dcsim.metrics.fmt import expected_error, fmt_band

cal = {prec: build_models(dcsim.load_scenario(REF, overrides={"racks.0.node.precision": prec})).groups[0].node.calibration
       for prec in pd3.y_values}
ceiling = {}
for k, prec in enumerate(pd3.y_values):
    j = int(np.argmax(pd3.binding[k] != 2))
    ceiling[prec] = np.interp(400e3, pd3.x, pd3.power_tok_s[k])
    print(f"{prec}: power ceiling at 400 kW {ceiling[prec]:,.0f} tok/s ({cal[prec]['status']}, "
          f"{expected_error(cal[prec])}); power binds below "
          f"~{pd3.x[j] / 1e3:.0f} kW, then {('demand', 'compute', 'power', 'cooling')[pd3.binding[k, j]]}")
# the power ceiling is delivered power / (J per token): the J/token band of the transferred profile applies
gain = ceiling["fp8"] / ceiling["bf16"] - 1
band = cal["fp8"]["error_band_pct"]["j_per_tok_pct"]
print(f"fp8 vs bf16 power ceiling: {100 * gain:+.0f} %, {'outside' if 100 * abs(gain) > band else 'inside'} "
      f"the {fmt_band(cal['fp8']['error_band_pct'], cal['fp8']['band_lower_bound'], quantities=('j_per_tok_pct',))} "
      f"error band of the {cal['fp8']['status']} fp8 profile")
# the text's claims, checked: the model has FP8 raise the power ceiling, by less than its J/token error band
assert gain > 0 and 100 * gain < band
fig = plot_phase(pd3)
ax = fig.axes[0]  # the caveat travels with the figure too
ax.set_title(ax.get_title() + f"\\nfp8 row: {cal['fp8']['status']} profile, {expected_error(cal['fp8'])}", fontsize=9)
show(fig)
"""),
    md("""
The FP8 gain in power ceiling is **inside** the J/token error band of the transferred FP8 profile
(the printed lines): the model cannot tell it from its own transfer error, so it is no basis for
sizing. Its sign comes from prefill: the chat preset's prompts are 5.5× its outputs (mean 1,155 vs
211 tokens), and FP8 weights run prefill on tensor cores with about twice the BF16 rate; its size is
held down by the H100's achievable FP8 matmul rate (1,403 of 1,979 TFLOP/s, [MAMF], docs/node.md
"Achievable matmul ceiling": until 2026-12-04 the transfer ran FP8 prefill at the pooled fit's MFU
of 1.0 of the datasheet peak, and this gain read +44 %, outside a ±30 % band). Calibrate a few FP8
load levels (notebook 05, `dcsim calibrate`) before sizing on it.
"""),
]

NOTEBOOKS["03_capacity_planning.ipynb"] = [
    md("""
# Capacity planning under a power envelope and service targets

`dcsim.plan` answers sizing questions. Without targets it bisects on the closed form (the Token
Production Function over every tick of the scenario, or at a weather percentile) and reports the
constraint binding at the answer and the headroom to the next one. With service targets
(`plan_for_targets`, `dcsim plan --target ...`) it searches on fluid runs with the queueing SLO
estimate (docs/slo.md), then confirms the answer with request- or hybrid-fidelity runs over
several seeds.
"""),
    code(SETUP),
    md("""
## Flat out under the cap is not a service answer

`max-gpus` without targets is the most GPUs the interconnect can power and cool **at full load**.
The confirming simulation runs the scenario's own demand on that fleet; the planner warns when
that leaves requests missing their SLOs.
"""),
    code("""
from dcsim.plan import plan, format_plan

r = plan(REF, "max-gpus", confirm=True)
print(format_plan(r))
"""),
    md("""
## A what-if under service targets: does FP8 let the hall serve more chat?

Targets: TTFT p99 within 2 s and 99 % of requests meeting their class SLOs (chat: TTFT 1 s,
TPOT 100 ms). Question: the most traffic (`workload.arrivals.scale`) the reference hall serves
under them on its hot July day, with BF16 weights and with FP8 weights. Each answer is searched on
the fast model, then confirmed by three hybrid runs (seeds) of a steady 5-minute window at the
critical moment (the tick where demand is highest against the binding ceiling); if the
confirmation misses a target, the planner bisects again on the confirming model.
"""),
    code("""
from dcsim.plan import plan_for_targets, format_targets

TARGETS = ["ttft.p99<=2 s", "slo_attainment>=0.99"]
base = plan_for_targets(REF, "max-demand", TARGETS, seeds=3, window=300)
print(format_targets(base))
"""),
    code("""
fp8 = plan_for_targets(REF, "max-demand", TARGETS, seeds=3, window=300,
                       overrides={"racks.0.node.precision": "fp8"})
print(format_targets(fp8))
"""),
    code("""
rows = [("bf16", base), ("fp8", fp8)]
for name, r in rows:
    c = r["confirm"]
    att = c["spread"]["slo_attainment>=0.99"]
    print(f"{name}: {r['mean_rate_req_s']:,.1f} req/s mean, {r['peak_demand_tok_s'] / 1e3:,.0f}k output tok/s at the "
          f"peak on {r['gpus']} GPUs (scale {r['scale']:.3f}), "
          f"{'confirmed' if c['confirmed'] else 'NOT confirmed'}, attainment {att['min']:.3f}..{att['max']:.3f} "
          f"over {len(c['runs'])} seeds, binding at the moment: {c['runs'][0]['binding']}")
gain = fp8["scale"] / base["scale"] - 1
# FP8 Llama-3.1-70B on H100 has no calibration of its own: its expected error travels with the figure
from dcsim.engine.build import build_models
from dcsim.metrics.fmt import expected_error, fmt_band
cal = build_models(dcsim.load_scenario(REF, overrides={"racks.0.node.precision": "fp8"})).groups[0].node.calibration
band = cal["error_band_pct"]
inside = 100 * abs(gain) <= band["tok_s_pct"]
print(f"FP8 weights change the traffic served under the targets by {100 * gain:+.0f} % "
      f"(fp8 node {cal['status']} from {cal['profile']}: {expected_error(cal)}) — "
      f"{'inside' if inside else 'outside'} the tok/s band")
# what the text below says
assert gain > 0 and inside
fig, ax = plt.subplots(figsize=(6, 3.6))
peaks = [r["peak_demand_tok_s"] / 1e3 for _, r in rows]
# each bar carries its profile's expected tok/s error (bf16 calibrated, fp8 transferred)
cals = [build_models(dcsim.load_scenario(REF)).groups[0].node.calibration, cal]
from dcsim.plots import RUN_COLORS  # categories take the run colours: no constraint colour (compute blue) for fp8
ax.bar([n for n, _ in rows], peaks, color=list(RUN_COLORS[:2]), capsize=6,
       yerr=[c["error_band_pct"]["tok_s_pct"] / 100 * p for c, p in zip(cals, peaks)])
ax.set_ylabel("peak demand served\\nunder targets [k tok/s]")
ax.set_title("TTFT p99 <= 2 s, 99 % of requests within SLO\\nerror bars: the profiles' expected error ("
             + ", ".join(f"{n} {c['status']} {fmt_band(c['error_band_pct'], c['band_lower_bound'], quantities=('tok_s_pct',))}"
                         for (n, _), c in zip(rows, cals)) + ")", fontsize=9)
fig.tight_layout()
show(fig)
"""),
    md("""
The printed lines carry the answer: the traffic each option serves under the targets, the seed
spread of the confirming runs and the constraint binding at the critical moment; the bracket and
any refinement are in the planner's output above. The FP8 answer rests on a transferred node
profile (no measurement of FP8 Llama-3.1-70B on H100), and its gain over BF16 is **inside** that
profile's expected tok/s error: the planner cannot tell it from the transfer error. The gain's sign
is prefill (the chat preset's prompts are 5.5× its outputs; FP8 weights run prefill at about twice
the BF16 rate); its size is bounded by the H100's achievable FP8 matmul rate ([MAMF], docs/node.md;
until 2026-12-04 the transfer ran FP8 prefill at the datasheet peak and this gain read outside the
band). Measure a few FP8 load levels and calibrate (notebook 05) before sizing on it.

## Powering idle replicas down

`controller.idle_power_down: true` puts the replicas the demand does not need in standby (5 % of
their idle power) and wakes them with a delay (120 s) when demand rises; both figures are
assumptions (docs/slo.md). On the reference day the same tokens are served and the facility
energy per token falls, the saving coming from the hours of low demand; SLO attainment falls
slightly, because replicas woken as demand ramps up serve only after the delay.
"""),
    code("""
from dcsim.plots.figures import clock_axis

runs = {pd: dcsim.run(REF, overrides={"controller.idle_power_down": pd}) for pd in (False, True)}
for pd, r in runs.items():
    rep = r.report
    print(f"idle_power_down {str(pd):5s}: facility {rep['energy_j']['facility'] / 3.6e9:.2f} MWh, "
          f"{rep['joules_per_output_token']['facility']:.2f} J/token, "
          f"served {rep['throughput_tok_s']['output'] / 1e3:.1f} k tok/s, SLO attainment {rep['slo_attainment']:.3f}")
off, on = (runs[x].report for x in (False, True))
saved = 1 - on["energy_j"]["facility"] / off["energy_j"]["facility"]
print(f"facility energy saved: {100 * saved:.1f} %")
# what the text above says
assert abs(on["throughput_tok_s"]["output"] / off["throughput_tok_s"]["output"] - 1) < 1e-3 and saved > 0
assert off["slo_attainment"] - 0.05 < on["slo_attainment"] <= off["slo_attainment"]
ts = runs[True].timeseries
fig, ax = plt.subplots(figsize=(6.5, 3))
h = ts["t_s"] / 3600
from dcsim.plots import RUN_COLORS
ax.plot(h, ts["awake_fraction"], color=RUN_COLORS[0], label="replicas awake")
dem = ts["demand_tok_s"] / ts["compute_tok_s"].max()
ax.plot(h, dem, color="0.5", lw=1, label="demand / compute ceiling")
# hours from the start on the scenario's local clock (report.json clock), ticked and labelled as dcsim's figures are
ax.set_xlim(h[0], h[-1])
clock_axis(ax, 1 / 3600, runs[True].report["clock"])
ax.set_ylabel("share of the fleet\\n(demand: of its ceiling)"); ax.set_ylim(0, 1.05 * max(1.0, float(dem.max())))
ax.legend(fontsize=8)
ax.set_title("idle_power_down on the reference day", fontsize=9)
fig.tight_layout()
show(fig)
"""),
    md("""
## Interconnect needed for a fleet, by weather percentile

`interconnect-for` gives the smallest interconnect at which power stops binding for 320 GPUs at
full load, at each design temperature (percentiles of the reference scenario's one synthetic July
day; with an EPW or CSV weather file they come from the file's year). Hotter weather raises chiller power (PUE), so the
interconnect needed grows with temperature — until heat rejection itself binds first (the
air-cooled plant derates above 35 degC). From there no interconnect lets the fleet run flat out,
and the figure the planner reports (where power stops binding, below cooling) falls again; the
planner marks those rows `binding cooling`. Each point of the figure is in the colour of the
constraint the planner names at its answer (`binding` in the lines): compute (blue) where, once
power stops binding, the GPUs themselves are the limit; cooling (green) where heat rejection binds
first. The interconnect is what is sized, so no point is power's colour.
"""),
    code("""
pcts = [0, 25, 50, 75, 90, 100]
rows = [plan(REF, "interconnect-for", gpus=320, weather_percentile=p) for p in pcts]
for p, r in zip(pcts, rows):
    print(f"p{p:<3d} {r['moment']['t_out_c']:5.1f} degC  interconnect {r['interconnect_w'] / 1e3:6.1f} kW  "
          f"binding {r['binding']:8s} next {r['next_binding']} (+{100 * r['margin']:.1f} %)")
cool = [r["binding"] == "cooling" for r in rows]
k = int(np.argmax([r["interconnect_w"] for r in rows]))
print(f"largest interconnect needed: {rows[k]['interconnect_w'] / 1e3:.1f} kW at p{pcts[k]} "
      f"({rows[k]['moment']['t_out_c']:.1f} degC); cooling binds first from "
      + (f"p{pcts[cool.index(True)]}" if any(cool) else "no percentile"))
fig, ax = plt.subplots(figsize=(6, 3.5))
t = [r["moment"]["t_out_c"] for r in rows]
w = [r["interconnect_w"] / 1e3 for r in rows]
ax.plot(t, w, "-", color="0.6")
from dcsim.plots import CONSTRAINT_COLORS  # dcsim's colours: compute blue, cooling green
# each point in the colour of what binds at the answer, as the lines above name it: power stops binding there, so
# what binds is the next constraint (compute), or cooling where heat rejection binds first
ax.scatter(t, w, c=[CONSTRAINT_COLORS[r["binding"]] for r in rows], zorder=3)
assert not any(r["binding"] == "power" for r in rows)  # what the text above says
ax.set_xlabel("design outdoor dry-bulb (°C)"); ax.set_ylabel("interconnect where power\\nstops binding (kW)")
# the axis is zoomed (not from 0): say so, with the size of the move it magnifies
rise = 100 * (max(w) / min(w) - 1)
ax.set_title(f"320 GPUs at full load; colour: what binds at that interconnect\\n"
             f"axis zoomed, not from 0: the whole range is {rise:.0f} % of the lowest", fontsize=9)
fig.tight_layout()
show(fig)
"""),
    md("""
## A sweep over the envelope

`dcsim.sweep` runs a grid of simulations (one row per point, cached by scenario hash, so running
this cell twice is free) and draws them (`rows.plot()`). The same call runs on a Dask cluster with `client=...`.
The figure shows served output and what binds, not latency, so the sweep sets `serving.slo_estimate: false`
on every point (`fixed`): the fluid runs skip the queueing SLO estimate, most of a fluid run's cost, and the
figure is the same (its rows then carry no `slo_attainment` or `goodput_tok_s`).
"""),
    code("""
import tempfile
from dcsim.sweep import run_sweep

cache = Path(tempfile.gettempdir()) / "dcsim-notebook-cache"
spec = {"name": "envelope", "base": str(REF), "mode": "grid",
        "parameters": {"facility.interconnect": {"range": ["300 kW", "700 kW"], "steps": 5},
                       "racks.0.count": {"values": [8, 10, 12]}},
        "fixed": {"serving.slo_estimate": False}}
rows = run_sweep(spec, cache_dir=cache, progress=False)
# the sweep's own figure (dcsim sweep writes it as sweep.png): served output over the grid beside the
# constraint that binds most of each point's day (docs/sweeps.md, The figure)
show(rows.plot())
"""),
]

NOTEBOOKS["04_energy_levers.ipynb"] = [
    md("""
# Energy levers and the power-bound crossover

Levers change FLOPs, bytes or tokens per step (never a multiplier on the result): FP8 weights,
FP8 KV cache or KV compression, speculative / multi-token decoding (see docs/node.md for the
sources). A GPU at full load draws about its rated power whatever the lever, so levers do not
change how many GPUs a power envelope can run flat out; they change **how many tokens each Joule
buys**, which moves the demand (and the delivered power) at which the facility turns power-bound.
"""),
    code(SETUP),
    code("""
from dcsim.engine.build import build_models
from dcsim.metrics.fmt import expected_error
from dcsim.plan import plan

LEVERS = {
    "bf16 (baseline)": {},
    "fp8 weights": {"racks.0.node.precision": "fp8"},
    "fp8 + fp8 KV": {"racks.0.node.precision": "fp8", "racks.0.node.levers.kv_precision": "fp8"},
    "KV compression x4": {"racks.0.node.levers.kv_compression": 4.0},
    "speculative (mtp-chat)": {"racks.0.node.levers.preset": "mtp-chat"},
}
table = []
for name, ov in LEVERS.items():
    m = build_models(dcsim.load_scenario(REF, overrides=ov))
    node, w = m.groups[0].node, m.workload
    jt = node.energy_per_output_token(np.array([16.0, 256.0]), w.mean_input, w.mean_output)
    top = plan(REF, "max-demand", overrides=ov)
    run = dcsim.run(REF, overrides=ov).report
    table.append((name, jt[0], jt[1], m.curves.compute_tok_s, top["peak_demand_tok_s"], top["binding"],
                  run["throughput_tok_s"]["output"], run["joules_per_output_token"]["facility"],
                  run["binding"]["share"]["power"], node.calibration))
print(f"{'lever':24s} {'J/tok@16':>8s} {'J/tok@256':>9s} {'C tok/s':>9s} {'max peak D':>10s} {'then':>8s} "
      f"{'served':>9s} {'fac J/tok':>9s} {'power%':>6s}")
for t in table:
    print(f"{t[0]:24s} {t[1]:8.2f} {t[2]:9.3f} {t[3]:9,.0f} {t[4]:10,.0f} {t[5]:>8s} {t[6]:9,.0f} {t[7]:9.2f} {100 * t[8]:6.1f}")
# the caveat travels with the number: which rows rest on measurements of this configuration
for t in table:
    c = t[9]
    if c["status"] != "calibrated":
        # the band is printed "≥±" where it is a lower bound (a lever's effect is modelled, not measured)
        print(f"caveat, {t[0]}: {c['for']} is {c['status']} ({c['profile']}); {expected_error(c)}")
"""),
    md("""
Columns: GPU J per output token at batch 16 and 256 (node model); the compute ceiling of the
320-GPU hall; `max peak D` — the highest peak demand (output tok/s) the hall serves in full all day
(`plan(..., "max-demand")`) and the constraint that stops it; then the simulated day at the
scenario's demand: served tokens/s, facility J/token and the share of the day power binds.
Speculative decoding verifies 9 positions per step: cheaper per token at small batches, dearer at
the large batches a saturated hall runs, so it *raises* J/token here.

The crossover on a map: demand × interconnect on the hottest tick (cooling capacity raised so it
does not mask power), baseline against FP8 weights and KV cache. The power-bound region (vermillion)
recedes: the same interconnect serves more demand before power binds. The FP8 + FP8-KV map rests on
no measurement of that configuration (a transferred profile with a modelled lever, the caveat above):
the printed lines set the shift against its J/token error band, which is only a lower bound — read the
map's shape, and measure and calibrate (notebook 05) before sizing on its figures.
"""),
    code("""
from dcsim.phase import phase_diagram, plot_phase

fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), sharey=True, layout="constrained")  # room for each legend
caps = [f"{v:.0f} kW" for v in np.linspace(150, 600, 31)]
flips = {}
for ax, (name, ov) in zip(axes, [("bf16 baseline", {}), ("fp8 weights + fp8 KV", LEVERS["fp8 + fp8 KV"])]):
    pd = phase_diagram(REF, x=("demand", np.linspace(20e3, 300e3, 36)), y=("facility.interconnect", caps),
                       moment="hottest", overrides={**ov, "facility.cooling.capacity": "3 MW"})
    plot_phase(pd, ax=ax, title=name)
    flip = [pd.boundary_x(k, 0, 2) for k in range(len(caps))]
    print(f"{name}: at {caps[10]} power starts binding above {flip[10] / 1e3:,.0f}k tok/s of demand")
    flips[name] = flip[10]
# the text's claim, checked: with FP8 the same interconnect serves more demand before power binds
assert flips["fp8 weights + fp8 KV"] > flips["bf16 baseline"]
# the caveat travels with the map: the power-bound flip is delivered power / (J per token), so the J/token band applies
from dcsim.metrics.fmt import fmt_band
c = next(t[9] for t in table if t[0] == "fp8 + fp8 KV")  # its node's calibration, from the table above
shift = flips["fp8 weights + fp8 KV"] / flips["bf16 baseline"] - 1
band = fmt_band(c["error_band_pct"], c["band_lower_bound"], quantities=("j_per_tok_pct",))
print(f"caveat, fp8 weights + fp8 KV: {c['for']} is {c['status']} ({c['profile']}); {expected_error(c)}. "
      f"The flip moves {100 * shift:+.0f} % against a J/token error of {band}"
      + (" (a lower bound: the true error may be larger)" if c["band_lower_bound"] else ""))
assert c["status"] != "calibrated" and c["band_lower_bound"]  # what the text above says: a lower bound
axes[1].set_title(f"fp8 weights + fp8 KV ({c['status']}: expected error {band})")
show(fig)
"""),
]

NOTEBOOKS["05_calibrate_node.ipynb"] = [
    md("""
# Calibrating a node from your own measurements

`dcsim.node.calibrate` fits the node model (roofline efficiencies, per-layer step overheads, the
GPU power of compute, memory traffic and overheads, and the DVFS exponent when power-cap rows
exist) to steady-state serving points by least squares, with weak priors, and reports each
parameter's standard error; it warns when a parameter sits on a bound or is not identified by the
data, and refuses a fit with fewer measured values than parameters. Your measurements go in a CSV
with the columns of the shipped ML.ENERGY files; here the shipped H100 Llama-3.1-70B points and the
Splitwise power-cap points stand in for "your own" (they are real published measurements, see
dcsim/data/measurements).
"""),
    code(SETUP),
    code("""
import csv
MEAS = ROOT / "dcsim" / "data" / "measurements"
rows = list(csv.DictReader(open(MEAS / "mlenergy_llama-3.1-70b.csv")))
cols = ["kind", "gpu", "n_gpus", "model", "precision", "max_num_seqs", "batch", "mean_in", "mean_out",
        "output_tok_s", "gpu_power_w", "j_per_out_tok", "median_itl_ms"]
print(", ".join(cols))
for r in [r for r in rows if r["gpu"] == "H100-SXM"][:4]:
    print(", ".join(r[c] for c in cols))
"""),
    md("""
Say your test rig measured only up to 256 concurrent sequences: write those rows as your own CSV
(same columns; `source` says where each row comes from) and fit.
"""),
    code("""
import tempfile
work = Path(tempfile.mkdtemp())
mine_csv = work / "my_measurements.csv"
with open(mine_csv, "w", newline="") as f:
    wr = csv.DictWriter(f, fieldnames=list(rows[0]))
    wr.writeheader()
    wr.writerows(r for r in rows if r["gpu"] == "H100-SXM" and int(r["max_num_seqs"]) <= 256)

from dcsim.node.calibrate import calibrate, format_report

prof = calibrate([mine_csv, MEAS / "splitwise_h100_cap.csv"],
                 gpu="H100-SXM", model="llama-3.1-70b", precision="bf16", tp=4)
print(format_report(prof))
"""),
    md("""
The warnings are part of the answer. Eight load levels of one configuration (batches 8–256: tokens/s,
J/token and, where the median iteration is decode-only, the median inter-token latency) and one
power-cap level pin five of the nine free parameters: MFU and the per-sequence overhead (the median
ITL, a decode-only step, separates decode time from prefill time, which tokens/s alone mixes), the
compute and memory powers `p_compute_w` and `p_memory_w`, and gamma (the cap rows enter the fit). The
other four — MBU, the per-layer overhead, the overlap exponent and the sync power — are flagged "not
identified": the data alone barely constrain them (the warnings' data-only relative standard errors),
so the weak prior, not the data, sets them. Without the ITL column the same rows pin only the two
powers. Predictions at the measured points are trustworthy (the MAPE line); a parameter flagged "not
identified" should not be quoted on its own.
"""),
    code("""
unc = prof["uncertainty"]
pinned = [k for k, u in unc.items() if u["identified"]]
held = [k for k, u in unc.items() if not u["identified"]]
print(f"pinned by the data: {', '.join(pinned)}")
print(f"set by the prior ({len(held)} of {len(unc)} free parameters): {', '.join(held)}")
# what the text above says
assert pinned == ["mfu", "t_seq_layer_s", "p_compute_w", "p_memory_w", "gamma"] and "mbu" in held
assert max(prof["fit"]["mape_tok_s_pct"], prof["fit"]["mape_j_per_tok_pct"]) < 2
"""),
    md("""
Measured against fitted tokens/s and J/token per load level:
"""),
    code("""
pts = prof["points"]
from dcsim.plots import RUN_COLORS  # dcsim's colours for categories (no constraint colour: blue is compute)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
b = [p["batch"] for p in pts]
axes[0].plot(b, [p["tok_s"] for p in pts], "o", color=RUN_COLORS[0], label="measured")
axes[0].plot(b, [p["tok_s_fit"] for p in pts], "-", color=RUN_COLORS[1], label="fit")
# a row is one replica: tensor parallel over 4 GPUs (the n_gpus column, tp=4 above)
axes[0].set_ylabel("output tok/s per replica\\n(TP4: 4 GPUs)"); axes[0].set_xscale("log")
axes[1].plot(b, [p["j_per_tok"] for p in pts], "o", color=RUN_COLORS[0], label="measured")
axes[1].plot(b, [p["j_per_tok_fit"] for p in pts], "-", color=RUN_COLORS[1], label="fit")
axes[1].set_ylabel("GPU J / output token"); axes[1].set_xscale("log")
for ax in axes:
    ax.set_xlabel("mean running batch"); ax.legend()
fig.tight_layout()
show(fig)
"""),
    md("""
Save the profile and point a scenario at it (`node.profile`, relative to the scenario file or
absolute); every run then uses your fit. Fitted only up to 256 sequences, it differs a little from
the shipped profile (fitted to all load levels) — the hall runs at batches up to 256.
"""),
    code("""
import yaml
path = work / "my_h100_70b.yaml"
path.write_text(yaml.safe_dump(prof, sort_keys=False))
mine = dcsim.run(REF, overrides={"racks.0.node.profile": str(path)}).report
shipped = dcsim.run(REF).report
for name, r in (("shipped profile", shipped), ("my profile", mine)):
    print(f"{name:16s} {r['throughput_tok_s']['output']:9,.0f} tok/s  "
          f"{r['joules_per_output_token']['gpu']:.3f} GPU J/tok  {r['joules_per_output_token']['facility']:.3f} facility J/tok")
"""),
    md("""
A model with no calibration at all borrows its GPU's pooled fit (one parameter set fitted to all the
GPU's calibrated models) with its own FLOPs, bytes and KV traffic. Every node says how it was
parameterised and the error to expect (the leave-one-model-out table of docs/validation.md):
"""),
    code("""
from dcsim.metrics.fmt import expected_error
from dcsim.node import build_node
from dcsim.scenario.node import NodeSpec
for model in ("llama-3.1-70b", "mixtral-8x7b"):
    cal = build_node(NodeSpec(gpu="H100-SXM", model=model)).calibration
    print(f"{model:14s} {cal['status']:12s} {cal['profile']:32s} {expected_error(cal)}")
"""),
]

NOTEBOOKS["06_grid_flexibility.ipynb"] = [
    md("""
# Grid flexibility, storage, thermal dynamics and a year (issue 18)

Interconnection is the scarcest resource for new AI capacity, and utilities connect loads that
can flex sooner. This notebook asks dcsim:

1. **How many more GPUs connect under the same interconnect if the site accepts curtailment**
   on a small share of the year's hours (with and without a battery), for two climates?
2. What does a utility request cost in tokens, and what do a battery and deferrable (batch)
   work buy back?
3. How long does a hall ride through a chiller trip before its GPUs throttle and shed?
4. Which constraint binds, month by month and hour by hour, over a year?

docs/grid.md and docs/thermal-dynamics.md give the sources of every default.
"""),
    code(SETUP),
    md("""
## 1. Connectable GPUs against the curtailment budget

`dcsim.plan_flex.connectable_gpus_curve` answers `dcsim plan -q max-gpus --curtailment ...` for
each budget: every hour of the weather file's year, the fleet and its demand scaled together
(`load="demand"`, "more of the same site"); where the meter would exceed the 495 kW contract the
site flexes (a battery first, if any). Here the reference hall serves 60 % of its usual traffic, so
its peaks are the diurnal demand peaks on warm afternoons, and events may last up to 4 h.
"""),
    code("""
from dcsim.plan_flex import connectable_gpus_curve

YEAR = ROOT / "scenarios" / "year-richmond.yaml"
EPW = {"Richmond": "USA_VA_Richmond.Intl.AP.724010_TMY3.epw", "Phoenix": "USA_AZ_Phoenix-Sky.Harbor.Intl.AP.722780_TMY3.epw"}
budgets = [0.0, 0.0025, 0.005, 0.01, 0.02]
curves = {}
for city, f in EPW.items():
    ov = {"workload.arrivals.scale": 0.6,
          "facility.weather": {"kind": "epw", "path": str(ROOT / "dcsim" / "data" / "weather" / f)}}
    curves[city] = connectable_gpus_curve(str(YEAR), budgets, max_event="4 h", overrides=ov)
    curves[city + " + 200 kWh battery"] = connectable_gpus_curve(str(YEAR), budgets, max_event="4 h",
                                                                 storage="200 kWh/150 kW", overrides=ov)
# each city's gain over its own GPU count with no flexibility, in %: GPU counts on an axis from 298 to 340 drew
# Richmond's +2.4 % as a leap; colour = city, dashed = with the battery
base = {city: curves[city][0]["gpus_exact"] for city in EPW}
from dcsim.plots import RUN_COLORS  # dcsim's colours for categories: no constraint colour (blue, vermillion)
colour = {"Richmond": RUN_COLORS[0], "Phoenix": RUN_COLORS[1]}
fig, ax = plt.subplots(figsize=(8, 4.5))
for name, rows in curves.items():
    city, battery = name.split(" ")[0], "battery" in name
    ax.plot([100 * r["budget"] for r in rows], [100 * (r["gpus_exact"] / base[city] - 1) for r in rows],
            color=colour[city], ls="--" if battery else "-", marker="s" if battery else "o", ms=5 if battery else 9,
            label=name)
ax.axhline(0.0, color="0.5", lw=0.8)
ax.set_xlabel("curtailment budget (% of the year's hours, events <= 4 h)")
ax.set_ylabel("GPUs that connect under 495 kW,\\n% more than with no flexibility")
ax.yaxis.set_major_formatter(lambda v, _: f"{v:+.1f} %")
ax.legend(title="with no flexibility: " + ", ".join(f"{c} {base[c]:.0f} GPUs" for c in EPW), fontsize=9,
          title_fontsize=9, loc="center right")
ax.set_title("Connectable GPUs against the curtailment budget")
show(fig)
for name, rows in curves.items():
    print(f"{name:30s}", "  ".join(f"{100 * r['budget']:.2g}%: {r['gpus_exact']:.0f}" for r in rows),
          f"(at 2 %: limited by {rows[-1]['limited_by']})")
# the figures the text below reads, from the GPU counts printed above
ric, bat = curves["Richmond"], curves["Richmond + 200 kWh battery"]
g0, g1, gb = (round(r["gpus_exact"]) for r in (ric[0], ric[budgets.index(0.01)], bat[0]))
print(f"Richmond: a 1 % budget connects {g0} -> {g1} GPUs ({100 * (g1 / g0 - 1):+.1f} %); "
      f"the battery with no curtailment {gb} ({100 * (gb / g0 - 1):+.1f} %, {(gb - g0) / (g1 - g0):.0%} of that gain)")
assert 0.015 < g1 / g0 - 1 < 0.03 and (gb - g0) / (g1 - g0) > 0.5
assert all(r["gpus_exact"] == curves["Phoenix"][0]["gpus_exact"] for r in curves["Phoenix"])
"""),
    md("""
Read (the last printed line): in Richmond a 1 % budget connects 2–3 % more GPUs (+2.8 % when last run), and a
200 kWh battery buys more than half of that without any curtailment. In Phoenix the hall is
limited by its chillers on the hottest afternoons: heat rejection does not flex, so a curtailment budget adds nothing there — the
interconnect is not what binds.
"""),
    md("""
## 2. A utility request met with DVFS caps, a battery and deferrable work

`scenarios/grid-flex.yaml`: the utility holds the meter at 60 % of the contract from 17:00 to
19:00 (an hour's notice). The report's `flexibility` block compares the run with the same
scenario without the battery and the deferrable share. Read the meter's change with the battery's charge
restored (`energy_meter_restored_j`: the battery ends the day emptier than it started) and the shed tokens
beside those still waiting at the end (`tokens_waiting_end`: deferred, not yet served).
"""),
    code("""
r = dcsim.run(str(ROOT / "scenarios" / "grid-flex.yaml"))
fl = r.report["flexibility"]
# the meter with the battery's charge restored to where it started, and the shed tokens still waiting (deferred) at
# the end: without them the buy-back reads better than it is (the battery ends the day emptier; deferred work is
# not yet served)
# each in a unit a planner reads (report.json keeps SI: tokens, J, USD, g)
UNITS = {"tokens_output": (1e6, "M tokens"), "slo_meeting_tokens": (1e6, "M tokens"),
         "tokens_shed": (1e6, "M tokens"), "tokens_waiting_end": (1e6, "M tokens"),
         "energy_meter_j": (3.6e6, "kWh"), "energy_meter_restored_j": (3.6e6, "kWh"),
         "cost_usd": (1.0, "USD"), "carbon_g": (1e3, "kg CO2")}
for k, (div, unit) in UNITS.items():
    name = k.removesuffix("_j").removesuffix("_usd").removesuffix("_g")  # the key without its SI unit
    print(f"{f'{name} ({unit})':34s} with {fl['with'][k] / div:10,.1f}   without {fl['without'][k] / div:10,.1f}   "
          f"change {fl['change'][k] / div:+9,.1f}")
st = r.report["storage"]
kwh = lambda k: f"{st[k] / 3.6e6:,.0f} kWh"  # noqa: E731  (report.json's battery energies are in J)
print(f"battery {kwh('energy_capacity_j')} / {st['max_discharge_w'] / 1e3:.0f} kW: started at {kwh('energy_start_j')}, "
      f"ended at {kwh('energy_end_j')}; discharged {kwh('discharged_j')}, charged {kwh('charged_j')}, "
      f"losses {kwh('losses_j')}, {st['equivalent_full_cycles']:.2f} full cycles, "
      f"peak meter {st['peak_meter_w'] / 1e3:.0f} kW")
print("deferrable late tokens:", r.report["deferrable"]["served_late_tokens"])
from dcsim.plots.flex import grid_flex_figure
show(grid_flex_figure(r))
"""),
    md("""
## 3. A chiller trip with thermal dynamics

`scenarios/chiller-trip.yaml`: the whole plant trips for 40 minutes. The loop and white space
warm; GPUs throttle at 87 °C, then shed at the 45 °C inlet. A chilled-water tank changes that. What the trip
costs is the output lost to the end of the run (`tokens_lost_net`): the window's own loss is partly served later.
"""),
    code("""
from dcsim.plots.flex import thermal_figure
TRIP = str(ROOT / "scenarios" / "chiller-trip.yaml")
trips = {}
for name, ov in {"defaults": {}, "6 m3 tank": {"facility.thermal.tank": {"volume_m3": 6}},
                 "pre-emptive cap": {"facility.thermal.preemptive_cap": True}}.items():
    t = dcsim.run(TRIP, overrides=ov)
    f = t.report["faults"][0]
    after = lambda s: "never" if s is None else f"after {s / 60:.0f} min"  # noqa: E731
    lost = lambda x: f"{x / 1e6:.3g} M" if abs(x) >= 1 else "none"  # noqa: E731  (below a token: rounding)
    print(f"{name:16s} throttle {after(f['time_to_first_throttle_s'])}, shed {after(f['time_to_first_shed_s'])}, "
          f"peak inlet {f['peak_space_c']:.1f} degC, tokens lost {lost(f['tokens_lost_net'])} to the end of the run "
          f"({lost(f['tokens_lost'])} in its window)")
    trips[name] = f
    if name == "defaults":
        show(thermal_figure(t))
# what the text below reads from these lines
d, tank, cap = trips["defaults"], trips["6 m3 tank"], trips["pre-emptive cap"]
assert tank["time_to_first_throttle_s"] > d["time_to_first_throttle_s"] and abs(tank["tokens_lost_net"]) < 1
assert cap["time_to_first_throttle_s"] is None and cap["tokens_lost_net"] > d["tokens_lost_net"]
"""),
    md("""
Read the lines: the 6 m³ tank holds the hall below its throttle and shed points longer (9 min when last run), and
what it loses in the window is served by the end of the run. The pre-emptive cap never throttles or
sheds (its peak inlet stays far below the shed point), but it serves less through the whole outage, so over
the run it loses more output than riding the trip out: it protects the hardware's temperatures, not the
tokens.
"""),
    md("""
## 4. A year: which constraint binds, by month and hour

`scenarios/year-richmond.yaml` runs 8,760 h (15-min tick) with a curtailment process, a battery,
deferrable work in cheap hours, price and carbon; its `annual` block feeds the month × hour map.
"""),
    code("""
from dcsim.plots.flex import annual_binding_figure, annual_pue_figure
y = dcsim.run(str(YEAR))
a = y.report["annual"]
print("PUE annual", round(a["pue"]["annual"], 3), "hours binding", {k: round(v) for k, v in a["hours_binding"].items()})
show(annual_binding_figure(y))
show(annual_pue_figure(y))
"""),
]


def build() -> list[Path]:
    OUT.mkdir(exist_ok=True)
    paths = []
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=cells, metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        })
        # stable cell ids so regenerating gives identical files
        for i, c in enumerate(nb.cells):
            c["id"] = f"{Path(name).stem.split('_')[0]}-{i:02d}"
        nbformat.validate(nb)
        p = OUT / name
        p.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        paths.append(p)
    return paths


if __name__ == "__main__":
    for p in build():
        print(p.relative_to(ROOT))
