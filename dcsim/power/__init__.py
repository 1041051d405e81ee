"""Power: rack limits and the delivery chain (transformer, UPS, PDU) as pure vectorized functions."""

from dcsim.power.delivery import pdu_loss_w, transformer_loss_w, ups_efficiency, ups_loss_w
from dcsim.power.rack import (
    DEFAULT_RACK_COOLING_LIMIT_W,
    rack_cooling_limit_w,
    rack_liquid_fraction,
    rack_node_power_budget_w,
    rack_power_limit_w,
    split_rack_heat,
)

__all__ = [
    "pdu_loss_w", "transformer_loss_w", "ups_efficiency", "ups_loss_w",
    "DEFAULT_RACK_COOLING_LIMIT_W", "rack_cooling_limit_w", "rack_liquid_fraction",
    "rack_node_power_budget_w", "rack_power_limit_w", "split_rack_heat",
]
