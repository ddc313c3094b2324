"""The executor's watchdog: it cancels a statement whose time is up, and never a closed cursor."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from jobs.db.executor import Executor


class Cursor:
    def __init__(self, cancel_seconds: float = 0.0) -> None:
        self.cancel_seconds = cancel_seconds
        self.cancels = 0
        self.cancel_ended = 0.0
        self.cancelling = threading.Event()

    def cancel(self) -> None:
        self.cancelling.set()
        time.sleep(self.cancel_seconds)
        self.cancels += 1
        self.cancel_ended = time.monotonic()
        raise RuntimeError("('HY000', 'The driver did not supply an error!')")  # FreeTDS, idle


def watchdog(cursor: Cursor, seconds: float) -> threading.Event:
    executor = SimpleNamespace(stop=None, virtual_time=False)  # real time, no stop asked for
    done = Executor._watchdog(executor, cursor, seconds, False, [])  # type: ignore[arg-type]
    assert done is not None
    return done


def test_when_the_time_is_up_the_statement_is_cancelled_and_the_drivers_complaint_dropped():
    cursor = Cursor()
    done = watchdog(cursor, 0.01)
    assert cursor.cancelling.wait(5)
    time.sleep(0.1)
    done.set()
    assert cursor.cancels == 1


def test_a_statement_that_is_over_is_never_cancelled():
    cursor = Cursor()
    watchdog(cursor, 0.1).set()
    time.sleep(0.3)
    assert cursor.cancels == 0


def test_the_end_of_a_statement_waits_for_a_cancel_under_way_so_no_cancel_races_the_close():
    cursor = Cursor(cancel_seconds=0.3)
    done = watchdog(cursor, 0.0)
    assert cursor.cancelling.wait(5)
    done.set()  # the executor then closes the cursor
    assert cursor.cancels == 1 and time.monotonic() >= cursor.cancel_ended
