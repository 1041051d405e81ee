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
]
