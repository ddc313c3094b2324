"""Retry policy for statements: tenacity, transient errors only, reconnect after a lost link.

The same classifier and limits serve every statement the tool sends: queue items (through the
queue engine, which verifies before it resends) and everything else (through the executor, for
statements whose header does not say ``effect: once``).

``RetryPolicy`` runs the first attempt itself and hands over to tenacity only after a retryable
failure: a call through tenacity costs about 15 us (a Future, a thread-local, a list of actions
per attempt), more than the rest of a queue item's bookkeeping, and nearly every call succeeds
first time. Tenacity then counts that failure as its attempt 1 and starts its clock where the
first attempt started, so attempts, waits, the time limit and the ``retry`` events are the same
as when tenacity ran every attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from jobs import events
from jobs.errors import DatabaseError

log = events.get_logger("susdb_maint.retry")
T = TypeVar("T")


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, DatabaseError) and error.retryable


def retrying(
    max_attempts: int,
    max_seconds: float,
    sleep: Callable[[float], Any],
    reconnect: Callable[[], None],
) -> Retrying:
    """Build a retry policy: transient errors only, jittered exponential backoff, bounded by
    attempts and by elapsed time (no pause that would end past it); reconnect first after a lost
    connection."""

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        pause = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "retry",
            attempt=state.attempt_number,
            sleep_seconds=round(pause, 3),
            error_kind=getattr(error, "kind", "fatal"),
            error=str(error),
            native_error=getattr(error, "native", None),
        )
        if isinstance(error, DatabaseError) and error.reconnect:
            try:
                reconnect()
            except DatabaseError as reconnect_error:  # the next attempt will fail and be counted
                log.warning("reconnect.fail", error=str(reconnect_error))

    return Retrying(
        retry=retry_if_exception(is_retryable),
        stop=stop_after_attempt(max_attempts) | stop_before_delay(max_seconds),
        wait=wait_random_exponential(multiplier=0.5, max=30),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


@dataclass(frozen=True)
class RetryPolicy:
    """Transient errors retried within ``max_attempts`` and ``max_seconds`` (see the module
    docstring for why the first attempt runs outside tenacity)."""

    max_attempts: int
    max_seconds: float
    sleep: Callable[[float], Any]
    reconnect: Callable[[], None]

    def __call__(self, fn: Callable[..., T], *args: Any) -> T:
        started = time.monotonic()
        try:
            return fn(*args)
        except Exception as error:
            if not is_retryable(error):
                raise
            first_failure = error
        replayed = False

        def attempt() -> T:
            nonlocal replayed
            if not replayed:  # tenacity's attempt 1 is the failure that already happened
                replayed = True
                raise first_failure
            return fn(*args)

        spent = time.monotonic() - started
        result: T = self.tenacity(max(0.0, self.max_seconds - spent))(attempt)
        return result

    def tenacity(self, max_seconds: float | None = None) -> Retrying:
        """The same policy as a tenacity controller (for ``for attempt in ...`` loops)."""
        return retrying(
            self.max_attempts,
            self.max_seconds if max_seconds is None else max_seconds,
            self.sleep,
            self.reconnect,
        )
