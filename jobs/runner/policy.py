"""Batch-size policy: adaptive batches for throughput (retries: ``jobs.db.retry``)."""

from __future__ import annotations


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
