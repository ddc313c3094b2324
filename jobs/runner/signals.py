"""Stop signals (SIGINT, SIGTERM, SIGHUP) ask a run or the worker to stop; they never interrupt
a statement the driver is waiting on.

A signal handled the usual way interrupts the system call of the thread it lands on, and the
kernel picks the main thread, which is the one waiting in the driver's read. Microsoft's ODBC
Driver 18 reports that read as a lost link (error 10004), so the run reconnected, took its lock
again and only then stopped (seen against the served simulator:
tests/integration/test_real_driver.py, ``test_sigterm_mid_statement_...``).

On POSIX the signals are therefore blocked in the main thread (and every thread it starts
inside the block), and a listener thread of their own waits for them. The kernel may still
give one to a thread started earlier, which has them unblocked; Python's C-level handler then
writes the signal's number to the wakeup file descriptor (``signal.set_wakeup_fd``) from
whichever thread took it, and the listener reads it from there. So every signal reaches the
handler at once, on the listener thread, and Python's own handlers do nothing. Windows has
neither signal masks nor reads that a console event interrupts: there Python's handlers call
the handler themselves, in the main thread.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
CAN_BLOCK = hasattr(signal, "pthread_sigmask")
END = b"\0"  # written by the block's end: no signal has number 0

_listening = threading.Lock()  # one listener at a time: an inner block leaves it to the outer
_interrupt = threading.Event()  # a second SIGINT asked the main thread to stop at once
# SIGINTs the listener made itself: _thread.interrupt_main() trips SIGINT, which writes to the
# wakeup descriptor too, and must not read as another Ctrl-C.
_self_made = [0]


@contextmanager
def on_stop_signals(handler: Callable[[int], None]) -> Iterator[None]:
    """Inside the block, each stop signal calls ``handler(number)`` (on the listener thread on
    POSIX, on the main thread elsewhere). Only the main thread can listen; elsewhere, or inside
    another such block, this does nothing."""
    if threading.current_thread() is not threading.main_thread() or not _listening.acquire(
        blocking=False
    ):
        yield
        return
    try:
        if CAN_BLOCK:
            with _listener(handler):
                yield
        else:
            previous = {
                n: signal.signal(n, lambda number, frame: handler(number)) for n in STOP_SIGNALS
            }
            try:
                yield
            finally:
                _restore(previous)
    finally:
        _listening.release()


@contextmanager
def _listener(handler: Callable[[int], None]) -> Iterator[None]:
    reading, writing = socket.socketpair()
    writing.setblocking(False)  # set_wakeup_fd requires it: a signal never waits on a full pipe
    previous = {number: signal.signal(number, _in_main_thread) for number in STOP_SIGNALS}
    previous_fd = signal.set_wakeup_fd(writing.fileno(), warn_on_full_buffer=False)
    unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)

    def listen() -> None:
        # This thread alone takes the signals; it never sends a statement.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        while True:
            for number in reading.recv(64):
                if number == END[0]:
                    return
                if number == signal.SIGINT and _self_made[0]:
                    _self_made[0] -= 1
                    continue
                handler(number)

    listener = threading.Thread(target=listen, name="stop-signals", daemon=True)
    listener.start()
    try:
        yield
    finally:
        writing.send(END)
        listener.join()
        signal.set_wakeup_fd(previous_fd)
        _restore(previous)
        # A signal that arrived since is delivered now, to the handlers the block found.
        signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
        reading.close()
        writing.close()


def _in_main_thread(number: int, frame: Any) -> None:
    """Python's handler while the listener runs: the listener has the signal from the wakeup
    descriptor already; only an interrupt it asked for is raised here."""
    if _interrupt.is_set():
        _interrupt.clear()
        raise KeyboardInterrupt


def _restore(previous: dict[int, Any]) -> None:
    for number, old in previous.items():
        with contextlib.suppress(ValueError, OSError):
            signal.signal(number, old)


def interrupt_main_thread() -> None:
    """Raise KeyboardInterrupt in the main thread, from whichever thread took the signal."""
    if threading.current_thread() is threading.main_thread():
        raise KeyboardInterrupt
    _interrupt.set()
    _self_made[0] += 1
    _thread.interrupt_main()  # runs Python's SIGINT handler (_in_main_thread) in the main thread
