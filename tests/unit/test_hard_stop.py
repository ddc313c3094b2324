"""The hard stop fires once, ``grace`` after the window's end or a stop request, unless the run's
database work ended first."""

from __future__ import annotations

import threading
import time

import pytest

from jobs.runner.hard_stop import HardStop


def armed(window_in: float | None, stop: threading.Event, grace: float = 0.1):
    fired: list[str] = []
    done = threading.Event()

    def expiry(why: str) -> None:
        fired.append(why)
        done.set()

    hard_stop = HardStop(grace, expiry)
    hard_stop.arm(None if window_in is None else time.monotonic() + window_in, stop)
    return hard_stop, fired, done


@pytest.mark.slow
def test_it_fires_once_grace_seconds_after_the_window_closed():
    started = time.monotonic()
    _, fired, done = armed(0.1, threading.Event())
    assert done.wait(5)
    assert time.monotonic() - started >= 0.2
    time.sleep(0.2)
    assert len(fired) == 1 and "after the window closed" in fired[0]


@pytest.mark.slow
def test_a_stop_request_starts_the_grace_without_a_window():
    stop = threading.Event()
    _, fired, done = armed(None, stop)
    assert not done.wait(0.3)  # no window, no stop: nothing to bound
    stop.set()
    assert done.wait(5)
    assert "a stop was asked for" in fired[0]


def test_a_run_that_finished_its_database_work_disarms_it():
    hard_stop, fired, done = armed(0.02, threading.Event(), grace=0.02)
    hard_stop.disarm()
    assert not done.wait(0.1)
    assert fired == []
