"""The retry policy: transient errors only, attempts and time bounded, a lost link reconnected.

The first attempt runs outside tenacity (for speed); these pin down that tenacity still counts it,
so the limits an administrator sets mean what they say.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from jobs.db.retry import RetryPolicy
from jobs.errors import ConnectionLost, NotPermitted, StatementTimeout
from jobs.errors import TransientError as Transient


def policy(max_attempts: int = 3, max_seconds: float = 60.0, **kwargs: Any) -> RetryPolicy:
    return RetryPolicy(
        max_attempts,
        max_seconds,
        kwargs.get("sleep", lambda _: None),
        kwargs.get("reconnect", lambda: None),
    )


class Calls:
    """A callable that fails with the given errors, one per call, then returns ``"ok"``."""

    def __init__(self, *errors: BaseException, pause: float = 0.0) -> None:
        self.errors = list(errors)
        self.count = 0
        self.pause = pause

    def __call__(self, *args: Any) -> str:
        self.count += 1
        self.args = args
        if self.pause:
            time.sleep(self.pause)
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_a_first_success_is_returned_with_its_arguments() -> None:
    calls = Calls()
    assert policy()(calls, "a", 2) == "ok"
    assert (calls.count, calls.args) == (1, ("a", 2))


def test_a_transient_failure_is_retried_until_it_succeeds(event_log: Any) -> None:
    calls = Calls(Transient("busy"), Transient("busy"))
    assert policy(max_attempts=3)(calls) == "ok"
    assert calls.count == 3
    assert [event["attempt"] for event in event_log.named("retry")] == [1, 2]


def test_max_attempts_counts_the_first_attempt() -> None:
    calls = Calls(*[Transient(f"busy {n}") for n in range(10)])
    with pytest.raises(Transient, match="busy 2"):
        policy(max_attempts=3)(calls)
    assert calls.count == 3


def test_one_attempt_means_no_retry() -> None:
    calls = Calls(Transient("busy"))
    with pytest.raises(Transient):
        policy(max_attempts=1)(calls)
    assert calls.count == 1


@pytest.mark.parametrize(
    "error", [NotPermitted("denied"), StatementTimeout("timeout"), ValueError("a bug")]
)
def test_what_is_not_transient_is_raised_at_once(error: BaseException) -> None:
    calls = Calls(error)
    with pytest.raises(type(error)):
        policy()(calls)
    assert calls.count == 1


def test_the_time_limit_includes_the_first_attempt() -> None:
    # The first attempt alone used up the time allowed for retrying: no second attempt.
    calls = Calls(Transient("busy"), pause=0.05)
    with pytest.raises(Transient):
        policy(max_attempts=5, max_seconds=0.03)(calls)
    assert calls.count == 1


def test_backoff_sleeps_between_attempts() -> None:
    pauses: list[float] = []
    calls = Calls(Transient("busy"), Transient("busy"))
    policy(max_attempts=3, sleep=pauses.append)(calls)
    assert len(pauses) == 2 and all(0 <= pause <= 30 for pause in pauses)


def test_a_lost_link_is_reconnected_before_the_next_attempt() -> None:
    order: list[str] = []
    calls = Calls(ConnectionLost("link down"))

    def work() -> str:
        order.append("attempt")
        return calls()

    policy(reconnect=lambda: order.append("reconnect"))(work)
    assert order == ["attempt", "reconnect", "attempt"]
