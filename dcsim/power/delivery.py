"""Power-delivery chain losses (pure, vectorized). Powers in W.

Structure: every device has no-load + proportional + square-law losses (Rasmussen, Schneider
Electric White Paper 113 [WP113]). UPS part-load efficiency η(x) = x/(x + L0 + L1·x). The
default coefficients live in one place, :mod:`dcsim.scenario.facility` (``UPS_L0``, ``UPS_L1``,
``TRANSFORMER_*``, ``PDU_LOSS_FRACTION``, each with its source), and are the defaults here too.

Who carries what (dcsim convention):
  PDU   carries the IT load               -> loss_pdu = f_pdu · IT            ([LEI] PD_lr)
  UPS   carries IT + PDU loss             -> loss_ups = L0·R_inst + L1·P_out
  transformer carries everything downstream (IT, cooling, UPS and PDU losses, fixed loads).
"""

from __future__ import annotations

import numpy as np

from dcsim.scenario.facility import (
    PDU_LOSS_FRACTION, TRANSFORMER_NO_LOAD, TRANSFORMER_PROPORTIONAL, TRANSFORMER_SQUARE, UPS_L0, UPS_L1,
)

__all__ = ["ups_efficiency", "ups_loss_w", "pdu_loss_w", "transformer_loss_w"]


def ups_efficiency(x, l0: float = UPS_L0, l1: float = UPS_L1):
    """UPS efficiency [0–1] at load fraction x = output/rating: x/(x + L0 + L1·x) [UPS][D]."""
    x = np.asarray(x, dtype=float)
    return x / (x + l0 + l1 * x)


def ups_loss_w(p_out_w, rating_w: float, l0: float = UPS_L0, l1: float = UPS_L1, redundancy: float = 1.0):
    """UPS loss [W] carrying output p_out_w; input − output = R·(L0 + L1·x) per system.

    `redundancy` systems of `rating_w` share the load equally (2 = 2N), so the no-load part
    scales with the installed rating: loss = L0·redundancy·R + L1·P_out. Zero output still
    costs the no-load loss (the UPS is energised)."""
    p = np.asarray(p_out_w, dtype=float)
    return l0 * redundancy * rating_w + l1 * p


def pdu_loss_w(it_w, fraction: float = PDU_LOSS_FRACTION):
    """PDU/distribution loss [W] = fraction·IT ([LEI] PD_lr 0–2 % of IT)."""
    return fraction * np.asarray(it_w, dtype=float)


def transformer_loss_w(p_out_w, rating_w: float, no_load: float = TRANSFORMER_NO_LOAD,
                       proportional: float = TRANSFORMER_PROPORTIONAL, square: float = TRANSFORMER_SQUARE):
    """Transformer loss [W] at output p_out_w: R·(no_load + proportional·x + square·x²), x = P/R
    (WP113 structure [WP113]; default coefficients are an assumption giving 99.0 % at rating)."""
    x = np.asarray(p_out_w, dtype=float) / rating_w
    return rating_w * (no_load + proportional * x + square * x * x)
