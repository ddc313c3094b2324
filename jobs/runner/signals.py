"""Stop signals (SIGINT, SIGTERM, SIGHUP) ask a run or the worker to stop; they never interrupt
a statement the driver is waiting on.

A signal handled the usual way interrupts the system call of the thread it lands on, and the
kernel picks the main thread, which is the one waiting in the driver's read. Microsoft's ODBC
Driver 18 reports that read as a lost link (error 10004), so the run reconnected, took its lock
again and only then stopped (seen against the served simulator:
tests/integration/test_real_driver.py, ``test_sigterm_mid_statement_...``). On POSIX the signals
are therefore blocked in the listening thread and in every thread it starts afterwards, and a
listener thread of their own takes them with ``sigtimedwait``. Python's handlers stay installed
for a thread started earlier, which the kernel may still pick. Windows has neither signal masks
nor reads that a console event interrupts: there the handlers alone do it.
"""

from __future__ import annotations

import _thread
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
# Sent to the listener thread alone when its block ends, so a run's end never waits on a poll:
# a real-time signal no library here uses, blocked in that thread, taken by its sigtimedwait.
WAKE: int = getattr(signal, "SIGRTMIN", 0)
CAN_BLOCK = bool(WAKE) and hasattr(signal, "pthread_sigmask") and hasattr(signal, "sigtimedwait")
POLL_SECONDS = 1.0  # only a safety net: WAKE ends the listener's wait at once

_listening = threading.Lock()  # one listener at a time: an inner block leaves it to the outer


@contextmanager
def on_stop_signals(handler: Callable[[int], None]) -> Iterator[None]:
    """Inside the block, each stop signal calls ``handler(number)`` (on the listener thread, or
    on the main thread where a thread started earlier took it). Only the main thread can listen;
    elsewhere, or inside another such block, this does nothing."""
    if threading.current_thread() is not threading.main_thread() or not _listening.acquire(
        blocking=False
    ):
        yield
        return

    def handle(number: int, frame: Any) -> None:
        handler(number)

    previous = {number: signal.signal(number, handle) for number in STOP_SIGNALS}
    done = threading.Event()
    listener: threading.Thread | None = None
    if CAN_BLOCK:
        unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, [*STOP_SIGNALS, WAKE])

        def listen() -> None:
            while not done.is_set():
                taken = signal.sigtimedwait([*STOP_SIGNALS, WAKE], POLL_SECONDS)
                if taken is not None and taken.si_signo != WAKE:
                    handler(taken.si_signo)

        listener = threading.Thread(target=listen, name="stop-signals", daemon=True)
        listener.start()
    try:
        yield
    finally:
        if listener is not None:
            done.set()
            if listener.ident is not None:
                signal.pthread_kill(listener.ident, WAKE)
            listener.join()
            # A signal that arrived since is delivered now, to the handlers still installed.
            signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
        for number, old in previous.items():
            signal.signal(number, old)
        _listening.release()


def interrupt_main_thread() -> None:
    """Raise KeyboardInterrupt in the main thread, from whichever thread took the signal."""
    if threading.current_thread() is threading.main_thread():
        raise KeyboardInterrupt
    _thread.interrupt_main()
