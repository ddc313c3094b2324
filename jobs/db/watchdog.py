"""The executor's watchdog: cancels the running statement when its real-time budget runs out or
a stop is asked for.

One thread per executor, started on first use and waiting on a condition between statements
(a stream's statement and one sent while it is read are watched side by side).
A thread started per statement cost about 150 us of CPU (more than the statement's whole
bookkeeping on a fast link), paid by every statement of a run with a window on a real server.

A cancel is made on a thread of its own, holding the statement's ``cancelling`` lock, which
``finish`` takes too: a statement never ends (and its cursor is never closed) while a cancel is
under way (through pyodbc and FreeTDS, seen against the served simulator, ``SQLCancel`` racing
``SQLFreeStmt`` crashed the process: SIGSEGV), and a statement that is over is never cancelled.
The cancel has its own thread because it may block: Microsoft's ODBC Driver 18 waits in
``SQLCancel`` while the link is silent, and the watchdog must go on watching meanwhile.

A cancel goes over the statement's own socket. When the link has gone silent (a firewall or VPN
that dropped its state: no reset, no reply) it never arrives, and nothing else ends the
statement in time: FreeTDS, at its query timeout, sends a cancel too and waits one more query
timeout for the answer (network-review D2: a one-minute window ended 60 s late, a two-minute one
120 s late), and TCP retransmits for about 15 minutes (Linux ``tcp_retries2``) before the socket
fails; keepalive probes only an idle connection. So a statement still running ``grace_seconds``
after its cancel was sent is reported to ``on_unanswered`` (the runner records the run and ends
the process, as a kill would: jobs/runner/run.py). Only a statement this watchdog cancelled can
be reported: an item that finishes after a stop request, or reporting after the window, never is.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

POLL_SECONDS = 0.05  # how soon a stop request is noticed


@dataclass(eq=False)
class Watch:
    """One statement under watch; ``fired`` says why it was cancelled ("stop" or "budget")."""

    cursor: Any
    deadline: float | None  # time.monotonic() at which the budget runs out; None: no budget
    stop: threading.Event | None
    fired: list[str] = field(default_factory=list)
    cancelled_at: float | None = None  # time.monotonic() when the cancel was sent
    cancelling: threading.Lock = field(default_factory=threading.Lock)  # held while cancelling
    over: bool = False  # the statement ended: never cancel it (set under ``cancelling``)


class Watchdog:
    def __init__(self) -> None:
        # What to do about a cancel the server has not answered after grace_seconds (None: wait).
        self.grace_seconds = 60.0
        self.on_unanswered: Callable[[str], None] | None = None
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._watches: list[Watch] = []
        self._thread: threading.Thread | None = None  # the one serving; None after close()

    def watch(
        self, cursor: Any, budget_seconds: float | None, stop: threading.Event | None
    ) -> Watch:
        """Start watching the statement about to run on ``cursor``; end with ``finish``."""
        deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
        watch = Watch(cursor, deadline, stop)
        with self._lock:
            self._watches.append(watch)
            if self._thread is None:
                # A thread from before close() may still be on its way out: it serves only while
                # it is the one in ``_thread``, so this new one is never left unserved.
                self._thread = threading.Thread(
                    target=self._loop, name="susdb-maint-watchdog", daemon=True
                )
                self._thread.start()
            self._wake.notify_all()  # an old thread on its way out may be waiting too
        return watch

    def finish(self, watch: Watch) -> None:
        """The statement is over: it is not cancelled from now on (waits for a cancel under way)."""
        with self._lock:
            if watch in self._watches:
                self._watches.remove(watch)
        with watch.cancelling:
            watch.over = True

    def close(self) -> None:
        with self._lock:
            self._thread = None
            self._watches.clear()
            self._wake.notify_all()

    def _loop(self) -> None:
        me = threading.current_thread()
        with self._lock:
            while self._thread is me:
                if not self._watches:
                    self._wake.wait()
                    continue
                now = time.monotonic()
                for watch in list(self._watches):
                    if watch.cancelled_at is not None:
                        if now >= watch.cancelled_at + self.grace_seconds:
                            self._watches.remove(watch)
                            self._unanswered(watch)
                        continue
                    reason = _due(watch)
                    if reason is not None:
                        watch.fired.append(reason)
                        watch.cancelled_at = now
                        if self.on_unanswered is None:
                            self._watches.remove(watch)
                        threading.Thread(
                            target=_cancel, args=(watch,), name="susdb-maint-cancel", daemon=True
                        ).start()
                deadlines = [
                    moment for moment in map(self._next_moment, self._watches) if moment is not None
                ]
                left = min(deadlines, default=time.monotonic() + POLL_SECONDS) - time.monotonic()
                self._wake.wait(max(0.0, min(POLL_SECONDS, left)))

    def _next_moment(self, watch: Watch) -> float | None:
        """When the loop must look at a watch again: its budget's end, or its cancel's grace."""
        if watch.cancelled_at is not None:
            return watch.cancelled_at + self.grace_seconds
        return watch.deadline

    def _unanswered(self, watch: Watch) -> None:
        why = "a stop was asked for" if "stop" in watch.fired else "the window closed"
        callback = self.on_unanswered
        if callback is not None:
            callback(
                f"the server did not answer the cancel sent when {why} for "
                f"{self.grace_seconds:g} s (a silent link): the connection was abandoned; the "
                "next run verifies what was in flight"
            )


def _cancel(watch: Watch) -> None:
    with watch.cancelling:
        if watch.over:
            return
        with contextlib.suppress(Exception):  # FreeTDS complains when idle
            watch.cursor.cancel()


def _due(watch: Watch) -> str | None:
    if watch.stop is not None and watch.stop.is_set():
        return "stop"
    if watch.deadline is not None and time.monotonic() >= watch.deadline:
        return "budget"
    return None
