"""Time for the served simulator: modelled costs that take real time, and that a cancel stops.

In process, the runner and the simulated SUSDB share a virtual clock, so a night of published
costs (``spDeleteUpdate``'s tens of seconds each) passes in seconds. Over TDS the runner keeps its
own system clock, as it does against a real server: its query timeout is the driver's timer,
its window watchdog a real ``cursor.cancel()``. So the served simulator charges each statement's
modelled cost in real time, divided by a time scale: at 1, a statement costed at 25 seconds
takes 25 seconds; at 60, under half a second; at 0, no time (as in process). The virtual clock
(``GETUTCDATE()``, persisted in the file) still moves by the full modelled cost, as in process.
An attention from the client ends the wait at once with the driver's "operation canceled" error,
so the statement is rolled back like one cancelled on a real server before it committed.
"""

from __future__ import annotations

import threading
from datetime import datetime

from jobs.clock import VirtualClock
from jobs.simulator.faults import make_error


class PacedClock(VirtualClock):
    """A virtual clock shared by every session of one served simulator; see the module docstring."""

    def __init__(self, start: datetime, time_scale: float) -> None:
        super().__init__(start)
        self.time_scale = time_scale
        self._session = threading.local()

    def bind(self, cancelled: threading.Event) -> None:
        """Make ``cancelled`` (a session's attention) interrupt costs charged on this thread."""
        self._session.cancelled = cancelled

    def advance(self, seconds: float) -> None:
        if seconds > 0 and self.time_scale > 0:
            cancelled: threading.Event = getattr(self._session, "cancelled", threading.Event())
            if cancelled.wait(seconds / self.time_scale):
                raise make_error("cancelled")
        super().advance(seconds)
