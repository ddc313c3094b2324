"""The executor's watchdog: cancels the running statement when its real-time budget runs out or
a stop is asked for.

One thread per executor, started on first use and waiting on a condition between statements
(a stream's statement and one sent while it is read are watched side by side).
A thread started per statement cost about 150 us of CPU (more than the statement's whole
bookkeeping on a fast link), paid by every statement of a run with a window on a real server.

A cancel is made while holding the lock that ``finish`` takes, so a statement never ends (and
its cursor is never closed) while a cancel is under way: through pyodbc and FreeTDS (seen
against the served simulator) ``SQLCancel`` racing ``SQLFreeStmt`` crashed the process
(SIGSEGV). A statement that is over is never cancelled.
"""

from __future__ import annotations

import contextlib
import threading
import time
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


class Watchdog:
    def __init__(self) -> None:
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
                for watch in list(self._watches):
                    reason = _due(watch)
                    if reason is not None:
                        watch.fired.append(reason)
                        self._watches.remove(watch)
                        with contextlib.suppress(Exception):  # FreeTDS complains when idle
                            watch.cursor.cancel()
                deadlines = [w.deadline for w in self._watches if w.deadline is not None]
                left = min(deadlines, default=time.monotonic() + POLL_SECONDS) - time.monotonic()
                self._wake.wait(max(0.0, min(POLL_SECONDS, left)))


def _due(watch: Watch) -> str | None:
    if watch.stop is not None and watch.stop.is_set():
        return "stop"
    if watch.deadline is not None and time.monotonic() >= watch.deadline:
        return "budget"
    return None
