"""Stop signals ask the run to stop and never land on the thread waiting in the driver: on POSIX
a listener thread of their own takes them (jobs/runner/signals.py)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from jobs.runner.run import stop_on_signals
from jobs.runner.signals import CAN_BLOCK, on_stop_signals

pytestmark = pytest.mark.skipif(not CAN_BLOCK, reason="no POSIX signal masks here")


def test_a_stop_signal_is_taken_by_the_listener_not_by_the_thread_at_work():
    taken: list[tuple[int, str]] = []
    arrived = threading.Event()

    def handler(number: int) -> None:
        taken.append((number, threading.current_thread().name))
        arrived.set()

    with on_stop_signals(handler):
        os.kill(os.getpid(), signal.SIGTERM)
        assert arrived.wait(5)
    assert taken == [(signal.SIGTERM, "stop-signals")]
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # unblocked after


def test_the_first_sigint_asks_for_a_stop_and_the_second_interrupts():
    stop = threading.Event()
    with pytest.raises(KeyboardInterrupt), stop_on_signals(stop):
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.wait(5)
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the main thread is at work
            time.sleep(0.01)
    assert stop.is_set()


def test_an_inner_block_leaves_the_signals_to_the_outer_one():
    outer, inner = [], []
    arrived = threading.Event()
    with (
        on_stop_signals(lambda number: (outer.append(number), arrived.set())),
        on_stop_signals(inner.append),
    ):
        os.kill(os.getpid(), signal.SIGHUP)
        assert arrived.wait(5)
    assert (outer, inner) == ([signal.SIGHUP], [])


def test_a_signal_the_kernel_gives_a_thread_started_earlier_still_reaches_the_handler_at_once():
    """The kernel may pick any thread that has the signal unblocked: one started before the
    block (a monitoring thread, a stray library thread). The handler still runs at once, not
    when the main thread next runs Python code (full-suite CI caught this)."""
    earlier_done = threading.Event()
    earlier = threading.Thread(target=earlier_done.wait, daemon=True)
    earlier.start()
    taken: list[int] = []
    arrived = threading.Event()

    def handler(number: int) -> None:
        taken.append(number)
        arrived.set()

    try:
        with on_stop_signals(handler):
            assert earlier.ident is not None
            signal.pthread_kill(earlier.ident, signal.SIGTERM)  # as if the kernel chose it
            assert arrived.wait(5)  # the main thread waits here, in C, the whole time
    finally:
        earlier_done.set()
    assert taken == [signal.SIGTERM]
