"""Retry policy for statements: tenacity, transient errors only, reconnect after a lost link.

The same classifier and limits serve every statement the tool sends: queue items (through the
queue engine, which verifies before it resends) and everything else (through the executor, for
statements whose header does not say ``effect: once``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from jobs import events
from jobs.errors import DatabaseError

log = events.get_logger("susdb_maint.retry")


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, DatabaseError) and error.retryable


def retrying(
    max_attempts: int,
    max_seconds: float,
    sleep: Callable[[float], Any],
    reconnect: Callable[[], None],
) -> Retrying:
    """Build a retry policy: transient errors only, jittered exponential backoff, bounded by
    attempts and by elapsed time; reconnect first after a lost connection."""

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
        stop=stop_after_attempt(max_attempts) | stop_after_delay(max_seconds),
        wait=wait_random_exponential(multiplier=0.5, max=30),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
