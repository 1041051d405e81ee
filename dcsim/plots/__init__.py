"""Figures of a dcsim run (matplotlib, Agg canvas): take a Result, return a Figure."""

from dcsim.plots.figures import (
    BINDING_NAMES,
    CONSTRAINT_COLORS,
    FIGURES,
    POWER_COLORS,
    RUN_COLORS,
    all_figures,
    joules_per_token_plot,
    latency_cdf_plot,
    power_stack_plot,
    pue_plot,
    signature_plot,
)
from dcsim.plots.flex import annual_binding_figure, annual_pue_figure, grid_flex_figure, thermal_figure
from dcsim.plots.sweep import NoSweepFigure, sweep_figure

# issue 18: each returns None when the run has nothing to show (no annual/grid/thermal block)
FIGURES.update({"binding_month_hour": annual_binding_figure, "pue_outdoor_year": annual_pue_figure,
                "grid_flex": grid_flex_figure, "thermal": thermal_figure})

__all__ = [
    "BINDING_NAMES",
    "CONSTRAINT_COLORS",
    "FIGURES",
    "POWER_COLORS",
    "RUN_COLORS",
    "all_figures",
    "joules_per_token_plot",
    "latency_cdf_plot",
    "power_stack_plot",
    "pue_plot",
    "signature_plot",
    "sweep_figure",
    "NoSweepFigure",
]
