"""Retry and batch-size policy: tenacity for transient errors, adaptive batches for throughput."""

from __future__ import annotations

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
from jobs.settings.model import RunnerSettings

log = events.get_logger("susdb_maint.runner")


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, DatabaseError) and error.retryable


def retrying(settings: RunnerSettings, clock: Any, reconnect: Any) -> Retrying:
    """Build the per-item retry policy: transient errors only, jittered exponential backoff,
    bounded by attempts and by elapsed time; reconnect first after a lost connection."""

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        sleep = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "retry",
            attempt=state.attempt_number,
            sleep_seconds=round(sleep, 3),
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
        stop=stop_after_attempt(settings.max_attempts)
        | stop_after_delay(settings.retry_max_seconds),
        wait=wait_random_exponential(multiplier=0.5, max=30),
        sleep=clock.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


class BatchSizer:
    """Aim each batch at ``target_seconds``: grow after fast batches, shrink after slow ones, halve
    after a timeout."""

    def __init__(
        self, target_seconds: float, seconds_per_item: float | None, maximum: int = 5000
    ) -> None:
        self.target = target_seconds
        self.maximum = maximum
        guess = target_seconds / seconds_per_item if seconds_per_item else 10
        self.size = max(1, min(maximum, int(guess)))

    def after_batch(self, items: int, seconds: float, timed_out: bool) -> None:
        if timed_out:
            self.size = max(1, self.size // 2)
        elif items and seconds > 0:
            ideal = items * self.target / seconds
            # Grow at most 2x per batch, so one fast batch does not make the next one huge.
            self.size = max(1, min(self.maximum, self.size * 2, int(ideal)))
        elif items:
            self.size = min(self.maximum, self.size * 2)
