"""DELETE TOP (n) until nothing is left: the one loop of every stage that deletes rows by a test
on the server (sync_history, client_events).

Each batch is one autocommit statement whose predicate is the state: what a stopped run left is
still old, and the next run finds it. So there is no queue to keep and nothing to verify before a
batch is sent again; a batch cut short by a stop or a lost link is rolled back whole by the server
and counted by the run that deletes it. No new batch starts once the window has closed or a stop
was asked for (``partial``, the next run goes on).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobs.runner.context import RunContext, StageOutcome

# Seconds allowed for one DELETE TOP batch.
BATCH_TIMEOUT = 600


def delete_in_batches(
    ctx: RunContext,
    outcome: StageOutcome,
    batch_rows: int,
    delete_batch: Callable[[int], int],
    log: Any,
) -> StageOutcome:
    """Given the outcome holding the backlog in ``remaining`` and ``delete_batch(timeout)``, which
    deletes at most ``batch_rows`` rows and returns how many it deleted, delete until the backlog
    is gone, a batch deletes nothing, or time runs out; each batch is a ``batch.finish`` event on
    the stage's own logger ``log``. Return the outcome. A dry run counts the backlog only."""
    if ctx.dry_run:
        outcome.status = "planned"
        return outcome
    batch = 0
    while outcome.remaining > 0:
        if ctx.out_of_time():
            outcome.status, outcome.reason = ("partial", ctx.stop_reason())
            break
        ctx.ensure_locked()  # as before every queue batch: only the lock's holder deletes
        started = ctx.clock.monotonic()
        deleted = delete_batch(BATCH_TIMEOUT)
        batch += 1
        outcome.done += deleted
        outcome.remaining = max(0, outcome.remaining - deleted)
        log.info(
            "batch.finish",
            batch=batch,
            size=batch_rows,
            done=deleted,
            skipped=0,
            failed=0,
            seconds=round(ctx.clock.monotonic() - started, 3),
            remaining=outcome.remaining,
        )
        if deleted == 0:
            break
    return outcome
