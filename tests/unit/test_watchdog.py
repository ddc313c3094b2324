"""The executor's watchdog: it cancels a statement whose time is up or whose stop was asked for,
never one that is over, and never while its cursor is being closed."""

from __future__ import annotations

import threading
import time

import pytest

from jobs.db.watchdog import Watchdog


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


def test_when_the_time_is_up_the_statement_is_cancelled_and_the_drivers_complaint_dropped():
    watchdog, cursor = Watchdog(), Cursor()
    watch = watchdog.watch(cursor, 0.01, None)
    assert cursor.cancelling.wait(5)
    time.sleep(0.1)
    watchdog.finish(watch)
    assert cursor.cancels == 1 and watch.fired == ["budget"]


def test_a_statement_that_is_over_is_never_cancelled():
    watchdog, cursor = Watchdog(), Cursor()
    watchdog.finish(watchdog.watch(cursor, 0.1, None))
    time.sleep(0.3)
    assert cursor.cancels == 0


def test_the_end_of_a_statement_waits_for_a_cancel_under_way_so_no_cancel_races_the_close():
    watchdog, cursor = Watchdog(), Cursor(cancel_seconds=0.3)
    watch = watchdog.watch(cursor, 0.0, None)
    assert cursor.cancelling.wait(5)
    watchdog.finish(watch)  # the executor then closes the cursor
    assert cursor.cancels == 1 and time.monotonic() >= cursor.cancel_ended


def test_a_stop_request_cancels_a_statement_with_no_budget():
    watchdog, cursor, stop = Watchdog(), Cursor(), threading.Event()
    watch = watchdog.watch(cursor, None, stop)
    time.sleep(0.15)
    assert cursor.cancels == 0
    stop.set()
    assert cursor.cancelling.wait(5)
    watchdog.finish(watch)
    assert watch.fired == ["stop"]


def watchdog_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "susdb-maint-watchdog"}


def test_one_thread_watches_statement_after_statement_and_ends_with_the_executor():
    watchdog, before = Watchdog(), watchdog_threads()
    for _ in range(200):
        watchdog.finish(watchdog.watch(Cursor(), 30.0, None))
    (ours,) = watchdog_threads() - before
    late = Cursor()
    watch = watchdog.watch(late, 0.05, None)  # the same thread still cancels on time
    assert late.cancelling.wait(5)
    watchdog.finish(watch)
    assert watchdog_threads() - before == {ours}
    watchdog.close()
    ours.join(5)
    assert not ours.is_alive()


@pytest.mark.slow
def test_two_statements_at_once_are_each_cancelled_on_their_own_time():
    # A stream is read while another statement runs: each keeps its own budget.
    watchdog, stream, inner = Watchdog(), Cursor(), Cursor()
    outer_watch = watchdog.watch(stream, 0.4, None)
    inner_watch = watchdog.watch(inner, 0.05, None)
    assert inner.cancelling.wait(5)
    assert stream.cancels == 0
    watchdog.finish(inner_watch)
    assert stream.cancelling.wait(5)
    watchdog.finish(outer_watch)
    assert (inner_watch.fired, outer_watch.fired) == (["budget"], ["budget"])


@pytest.mark.slow
def test_a_statement_watched_right_after_close_is_still_cancelled_on_time():
    # An executor reconnected after close(): the old thread may still be on its way out.
    for _ in range(50):
        watchdog, cursor = Watchdog(), Cursor()
        watchdog.finish(watchdog.watch(Cursor(), 30.0, None))
        watchdog.close()
        watch = watchdog.watch(cursor, 0.02, None)
        assert cursor.cancelling.wait(5)
        watchdog.finish(watch)
        watchdog.close()


def test_a_cancel_the_server_never_answers_is_reported_after_the_grace():
    """A silent link: the cancel is sent, the statement never ends. Reported once, grace
    seconds after the cancel (the runner then records the run and ends the process)."""
    watchdog, cursor = Watchdog(), Cursor()
    reported: list[str] = []
    watchdog.grace_seconds = 0.05
    watchdog.on_unanswered = reported.append
    started = time.monotonic()
    watch = watchdog.watch(cursor, 0.01, None)
    while not reported and time.monotonic() - started < 5:
        time.sleep(0.01)
    time.sleep(0.05)
    watchdog.finish(watch)
    assert len(reported) == 1 and "did not answer the cancel" in reported[0]
    assert cursor.cancels == 1 and cursor.cancel_ended - started < 0.5


def test_a_cancel_that_is_answered_is_never_reported():
    watchdog, cursor = Watchdog(), Cursor()
    reported: list[str] = []
    watchdog.grace_seconds = 0.05
    watchdog.on_unanswered = reported.append
    watch = watchdog.watch(cursor, 0.01, None)
    assert cursor.cancelling.wait(5)
    watchdog.finish(watch)  # the statement ended: the server acknowledged the cancel
    time.sleep(0.15)
    assert reported == []


def test_a_statement_left_to_finish_is_never_reported_however_long_it_runs():
    """A stop asks items to finish (no cancel): only a cancelled statement can be reported."""
    watchdog, cursor = Watchdog(), Cursor()
    reported: list[str] = []
    watchdog.grace_seconds = 0.01
    watchdog.on_unanswered = reported.append
    watch = watchdog.watch(cursor, None, None)
    time.sleep(0.1)
    watchdog.finish(watch)
    assert reported == [] and cursor.cancels == 0


@pytest.mark.slow
def test_a_cancel_that_blocks_in_the_driver_does_not_hold_up_the_report():
    """Driver 18 waits in SQLCancel while the link is silent: the report still comes on time."""
    watchdog, cursor = Watchdog(), Cursor(cancel_seconds=0.6)
    reported: list[float] = []
    watchdog.grace_seconds = 0.05
    watchdog.on_unanswered = lambda why: reported.append(time.monotonic())
    started = time.monotonic()
    watch = watchdog.watch(cursor, 0.01, None)
    assert cursor.cancelling.wait(5)
    while not reported and time.monotonic() - started < 5:
        time.sleep(0.01)
    assert reported and reported[0] - started < 0.4  # long before the cancel returned
    watchdog.finish(watch)  # waits for the cancel under way
    assert cursor.cancels == 1
