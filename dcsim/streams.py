"""Named random streams: every component draws from a stream keyed by its *name*, not by the
order in which streams were spawned, so adding a component never changes another's draws.

``named_stream(seed, "workload")`` is ``numpy.random.SeedSequence(seed, spawn_key=key)`` with
``key = stream_key(name)``. The five streams the engine had before names were introduced keep
the spawn keys they had as spawn positions (``LEGACY_KEYS``), so no report changed when streams
got names; every other name hashes (sha256, 63 bits, top bit set so it never meets a small
position) to its own key. A component's internal sub-streams are children of its own stream.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["LEGACY_KEYS", "stream_key", "named_stream"]

#: spawn keys of the streams that existed as spawn positions (``root.spawn(4)`` and the SLO
#: estimate's child 4): unchanged, so their draws are what they were
LEGACY_KEYS: dict[str, tuple[int, ...]] = {
    "workload": (0,),
    "facility": (1,),
    "serving": (2,),
    "faults": (3,),
    "slo_estimate": (4,),
    "serving.sample": (2, 1),
    "serving.metrics": (2, 2),
}


def stream_key(name: str) -> tuple[int, ...]:
    """The spawn key of stream ``name``: a pure function of the name."""
    if not name:
        raise ValueError("a random stream needs a name")
    if name in LEGACY_KEYS:
        return LEGACY_KEYS[name]
    h = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")
    return (h | (1 << 63),)


def named_stream(seed: int, name: str) -> np.random.SeedSequence:
    """The random stream of component ``name`` for scenario seed ``seed``."""
    return np.random.SeedSequence(int(seed), spawn_key=stream_key(name))
