"""The run's hard stop: no run outlives its window, or a stop request, by more than the grace.

Every way the runner ends a statement goes over the statement's own socket. When the link goes
silent (a firewall or VPN drops its state: no reset, no reply), none of them arrives: the
watchdog's cancel is an attention packet the server never sees; FreeTDS, at its query timeout,
sends a cancel and waits one more query timeout for the answer (measured: a blackholed statement
ended a one-minute window 60 s late, a two-minute one 120 s late; network-review D2); and TCP
itself retransmits unacknowledged data for about 15 minutes (Linux ``tcp_retries2``) before the
socket fails. TCP keepalive does not help either: it only probes an idle connection, and a peer
whose kernel still acknowledges (a stalled proxy, a hung server) answers its probes.

So a timer, not a socket, bounds the run: ``grace`` seconds after the window closed (or a stop
was asked for) the process ends with exit 3, as a kill would end it. That is safe by the queue
engine's promise (an item in flight is verified on the server before anything is sent again,
and each destructive statement checks on the server that its work is still to be done); the
server ends the session, and releases the run's lock with it, when it notices the link is dead.
Before it exits, ``on_expiry`` records the run as partial (exit 3) where the record can still be
written: the state store, the ``run.finish`` event, monitoring. A run that finished its database
work disarms the timer; a simulated night on virtual time never arms it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

POLL_SECONDS = 0.5  # how soon a stop request starts the grace period


class HardStop:
    def __init__(self, grace_seconds: float, on_expiry: Callable[[str], None]) -> None:
        self.grace_seconds = grace_seconds
        self.on_expiry = on_expiry  # called once, on the timer's thread, with why
        self._disarmed = threading.Event()
        self._thread: threading.Thread | None = None

    def arm(self, window_end: float | None, stop: threading.Event) -> None:
        """Watch the window's end (on ``time.monotonic()``; None: no window) and ``stop``."""
        self._thread = threading.Thread(
            target=self._wait, args=(window_end, stop), name="susdb-maint-hard-stop", daemon=True
        )
        self._thread.start()

    def disarm(self) -> None:
        self._disarmed.set()

    def _wait(self, window_end: float | None, stop: threading.Event) -> None:
        stopped_at: float | None = None
        while True:
            now = time.monotonic()
            if stopped_at is None and stop.is_set():
                stopped_at = now
            due = [
                moment + self.grace_seconds
                for moment in (window_end, stopped_at)
                if moment is not None
            ]
            if due and now >= min(due):
                break
            wait = min([POLL_SECONDS, *(moment - now for moment in due)])
            if self._disarmed.wait(max(wait, 0.0)):
                return
        if self._disarmed.is_set():
            return
        why = "a stop was asked for" if stopped_at is not None else "the window closed"
        self.on_expiry(
            f"the server did not answer for {self.grace_seconds:g} s after {why} "
            "(a silent link): the connection was abandoned; the next run verifies what was in "
            "flight"
        )
