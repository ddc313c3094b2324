"""Time, injectable: the real clock, or a virtual one that a simulated night runs on in seconds."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the runner, the executor and the simulated SUSDB need of time."""

    virtual: bool  # True: a modelled clock that only moves when told (the simulated SUSDB)

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float, cancelled: threading.Event | None = None) -> bool: ...

    def advance(self, seconds: float) -> None: ...


class SystemClock:
    virtual = False

    def now(self) -> datetime:
        """Current UTC time, naive (SUSDB stores UTC datetimes without an offset)."""
        return datetime.now(UTC).replace(tzinfo=None)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, cancelled: threading.Event | None = None) -> bool:
        """Sleep; return False when ``cancelled`` was set before the time was up."""
        if seconds <= 0:
            return True
        if cancelled is None:
            time.sleep(seconds)
            return True
        return not cancelled.wait(seconds)

    def advance(self, seconds: float) -> None:
        """Charge modelled server time; the real clock has no model time to charge."""


class VirtualClock(SystemClock):
    """A clock that only moves when told: ``sleep`` and ``advance`` add to it instantly."""

    virtual = True

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or SystemClock().now()
        self._elapsed = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def sleep(self, seconds: float, cancelled: threading.Event | None = None) -> bool:
        self.advance(seconds)
        return True

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._elapsed += seconds
