"""Node model: roofline latency and activity-based power of one model replica, calibrated
from measured Joules/token (see docs/node.md)."""

from dcsim.node.catalog import gpu_catalog, model_catalog, resolve_gpu, resolve_model
from dcsim.node.levers import PRESETS
from dcsim.node.model import NodeModel, SteadyState, build_node

__all__ = ["NodeModel", "SteadyState", "build_node", "gpu_catalog", "model_catalog", "resolve_gpu",
           "resolve_model", "PRESETS"]
