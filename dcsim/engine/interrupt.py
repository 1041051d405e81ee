"""Ctrl-C that stops a run at a tick boundary (issue 17.2).

While a run is inside :class:`StopAtTick`, the first SIGINT only sets ``requested``; the engine
checks it after every controller tick, so it stops with every model in a consistent state (a
request-fidelity replica is never left half-way through a tick) and reports what finished. A
second SIGINT raises :class:`KeyboardInterrupt` at once, as usual. Outside the main thread (where
Python delivers signals) it does nothing and Ctrl-C behaves as usual.
"""

from __future__ import annotations

import signal
import threading

__all__ = ["StopAtTick"]


class StopAtTick:
    """Context manager: ``with StopAtTick() as stop: ... if stop.requested: break``."""

    def __init__(self) -> None:
        self.requested = False
        self._old = None

    def _handler(self, signum, frame) -> None:
        if self.requested:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "StopAtTick":
        if threading.current_thread() is threading.main_thread():
            try:
                self._old = signal.signal(signal.SIGINT, self._handler)
            except (ValueError, TypeError):  # no signals here (embedded interpreter)
                self._old = None
        return self

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None
