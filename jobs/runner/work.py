"""The queue engine: work through a stage's queue in batches (``jobs.runner.queue`` builds it).

It knows nothing about a particular stage: a stage's ``QueueWork`` says how to process and verify
an item, and what audit row to keep about one done (written in the item's own checkpoint). Here:
batches as checkpoints, retries, timeouts, quarantine, the circuit breaker, the window, signals
and progress events.

Exactly once, across two databases:

* a batch is marked in flight in one durable commit before anything is sent;
* an item that may have reached the server (sent by a killed run, or by this run before a lost
  reply, a timeout or a retry) is verified on the server before it is sent again: an item whose
  reply was lost is found done, one deleted meanwhile is found gone;
* completions, with the stage's audit rows, are checkpointed once per batch; a queue rebuild
  first settles what is in flight, and keeps each item's failure count, so a poison item is
  quarantined on its third failing night.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from jobs import events
from jobs.db.retry import RetryPolicy
from jobs.errors import (
    ConnectionLost,
    DatabaseError,
    Interrupted,
    LockLost,
    LoginFailed,
    NotPermitted,
    StageStopped,
    StatementTimeout,
    StillReferenced,
)
from jobs.runner.context import RunContext, StageOutcome
from jobs.runner.policy import BatchSizer
from jobs.runner.queue import (
    QueueDeferred,
    QueueWork,
    Settled,
    confirmed,
    ensure_queue,
)
from jobs.state.store import ACTIVE, AuditRow, Completion, WorkItem

log = events.get_logger("susdb_maint.runner")

# Candidate passes per stage and run when ``repeat_until_empty``.
MAX_PASSES = 3
# Consecutive item failures that end a stage: a broken server must not burn through the queue.
CIRCUIT_BREAKER = 25


# -- working through a queue ---------------------------------------------------------------------
class _Batch:
    """One batch's bookkeeping: what ended how, checkpointed in one commit, and why it stopped."""

    def __init__(self, items: list[WorkItem], started: float) -> None:
        self.items = items
        self.started = started  # on the run's clock
        self.wall_started = time.perf_counter()
        self.completions: list[Completion] = []
        self.audit: list[AuditRow] = []  # the stage's rows about items done, checkpointed too
        self.attempted: set[str] = set()
        self.counts = {"done": 0, "skipped": 0, "failed": 0, "gone": 0}
        self.stage_error: DatabaseError | None = None  # nothing more can succeed this run
        self.stopped: str | None = None  # the window closed or a stop came: "deadline"/"signal"
        self.timed_out = False

    def end(self, item: WorkItem, settled: Settled) -> None:
        self.completions.append(Completion(item.key, settled.status, settled.reason))
        self.counts[settled.status] += 1

    @property
    def processed(self) -> int:
        return sum(self.counts.values())

    def unsent(self) -> list[str]:
        return [item.key for item in self.items if item.key not in self.attempted]


@dataclass
class _Run:
    """What one pass through a queue carries from batch to batch."""

    retry: RetryPolicy
    sizer: BatchSizer
    estimate: float
    remaining: int
    failed_this_run: set[str] = field(default_factory=set)
    consecutive_failures: int = 0
    batches: int = 0
    gone: int = 0


def process_queue(ctx: RunContext, work: QueueWork[Any]) -> StageOutcome:
    """Work through a stage's queue (``work.limit`` caps the items processed in this run). With
    ``repeat_until_empty``, a pass that drained the queue and did something is followed by
    another (a new candidate query), up to ``MAX_PASSES``, while time is left."""
    outcome = _one_pass(ctx, work)
    last = outcome
    passes = 1
    while (
        work.repeat_until_empty
        and outcome.status == "done"
        and last.done
        and passes < MAX_PASSES
        and not ctx.out_of_time()
    ):
        # Cleaning frees more: deleting an update can make its prerequisites obsolete. With the
        # queue drained and time left, ask the server again (Microsoft: repeat until the counts drop).
        passes += 1
        last = _one_pass(ctx, work)
        _add_pass(outcome, last)
    return outcome


def _add_pass(outcome: StageOutcome, more: StageOutcome) -> None:
    """Count a further pass into the stage's outcome; the stage ends as that pass did."""
    for key in ("done", "skipped", "failed"):
        setattr(outcome, key, getattr(outcome, key) + getattr(more, key))
    outcome.detail["gone"] = outcome.detail.get("gone", 0) + more.detail.get("gone", 0)
    outcome.status, outcome.reason, outcome.remaining = more.status, more.reason, more.remaining


def _one_pass(ctx: RunContext, work: QueueWork[Any]) -> StageOutcome:
    """Build the queue if it needs it, then work through it once."""
    outcome = StageOutcome()
    try:
        counts = ensure_queue(ctx, work, outcome)
    except QueueDeferred as deferred:
        outcome.status, outcome.reason = "deferred", f"deadline: {deferred}"
        outcome.remaining = ctx.store.active_count(ctx.database, work.stage)
        return outcome
    except Interrupted as interrupted:
        outcome.status, outcome.reason = "partial", ctx.stop_reason()
        outcome.detail["interrupted"] = str(interrupted)
        outcome.remaining = ctx.store.active_count(ctx.database, work.stage)
        return outcome
    remaining = sum(counts.get(status, 0) for status in ACTIVE)
    outcome.remaining = remaining
    outcome.detail["queued"] = remaining
    estimate = ctx.store.seconds_per_item(ctx.target, work.timings) or work.per_item_seconds_guess
    if ctx.dry_run:
        outcome.detail["estimated_seconds"] = round(remaining * estimate, 1)
        outcome.status = "planned"
        return outcome
    _work_through(ctx, work, outcome, remaining, estimate)
    outcome.remaining = ctx.store.active_count(ctx.database, work.stage)
    if outcome.remaining == 0:
        ctx.store.forget_finished(ctx.database, work.stage)
    if outcome.failed and outcome.status == "done":
        # Failed items stay queued for the next run, until they are quarantined.
        outcome.status, outcome.reason = "failed", "items_failed"
    return outcome


def _work_through(
    ctx: RunContext, work: QueueWork[Any], outcome: StageOutcome, remaining: int, estimate: float
) -> None:
    """Batches until the queue is empty, the window closes, a stop comes or the stage fails."""
    state = _Run(
        retry=ctx.susdb.executor.retry_policy(),
        sizer=BatchSizer(ctx.settings.runner.batch_target_seconds, estimate),
        estimate=estimate,
        remaining=remaining,
    )
    if ctx.progress is not None:
        ctx.progress.start(work.stage, remaining)
    try:
        while state.remaining > 0:
            items = _next_batch(ctx, work, state, outcome)
            if not items:
                break
            batch = _run_batch(ctx, work, state, items)
            _account(ctx, work, state, batch, outcome)
            if batch.stage_error is not None:
                error = batch.stage_error
                log.error("stage.fail", error_kind=error.kind, error=str(error))
                outcome.status, outcome.reason = "failed", f"{error.kind}: {error}"
                break
            if batch.stopped is not None:
                outcome.status, outcome.reason = "partial", batch.stopped
                break
    finally:
        if ctx.progress is not None:
            ctx.progress.finish()
        if state.gone:
            outcome.detail["gone"] = outcome.detail.get("gone", 0) + state.gone


def _next_batch(
    ctx: RunContext, work: QueueWork[Any], state: _Run, outcome: StageOutcome
) -> list[WorkItem] | None:
    """The next batch, sized to the time left and the run's limit; None (with the outcome's
    reason set) when no batch may start."""
    if ctx.out_of_time():
        outcome.status, outcome.reason = "partial", ctx.stop_reason()
        return None
    ctx.ensure_locked()
    left = ctx.seconds_left()
    if left is not None:
        # Do not start a batch that cannot finish before the deadline: shrink it, or stop.
        affordable = int(left / max(state.estimate, 1e-6))
        if affordable < 1:
            outcome.status, outcome.reason = "partial", "deadline"
            return None
        state.sizer.size = min(state.sizer.size, affordable)
    size = state.sizer.size
    if work.limit is not None:
        allowed = work.limit - (outcome.done + outcome.skipped + outcome.failed)
        if allowed <= 0:
            outcome.status, outcome.reason = "partial", "max_per_run"
            return None
        size = min(size, allowed)
    return ctx.store.next_items(ctx.database, work.stage, size, exclude=state.failed_this_run)


def _run_batch(ctx: RunContext, work: QueueWork[Any], state: _Run, items: list[WorkItem]) -> _Batch:
    """Mark the batch in flight (one durable commit, before anything is sent: an item the server
    may have seen is never mistaken for one it has not), send each item, checkpoint."""
    batch = _Batch(items, ctx.clock.monotonic())
    ctx.store.mark_batch_in_flight(
        ctx.database, work.stage, [item.key for item in items], ctx.run_id
    )
    try:
        for item in items:
            if ctx.out_of_time():
                batch.stopped = ctx.stop_reason()
                break
            batch.attempted.add(item.key)
            if not _one_item(ctx, work, state, batch, item):
                break
    except (StageStopped, LockLost):
        # What this batch settled before the stage was stopped (the server refused its work) or
        # the lock went is the server's record too: it is checkpointed (and so in the history)
        # before the stage ends, not left for the next run of this host to settle (two hosts'
        # histories would miss it meanwhile).
        _checkpoint(ctx, work, batch)
        raise
    _checkpoint(ctx, work, batch)
    return batch


def _one_item(
    ctx: RunContext, work: QueueWork[Any], state: _Run, batch: _Batch, item: WorkItem
) -> bool:
    """Send one item and record how it ended; return False when the batch must stop."""
    payload = work.payload_of(item)
    try:
        settled = _work_item(work, item, payload, state.retry)
    except StillReferenced as error:
        settled = Settled("skipped", "still_referenced")
        log.info("item.skip", item=item.key, reason=settled.reason, error=str(error))
    except (NotPermitted, LoginFailed, ConnectionLost) as error:
        # Not this item's fault: nothing else will succeed either. The item stays in flight, so
        # the next run settles it on the server before sending it again.
        batch.stage_error = error
        return False
    except Interrupted:
        # The window closed (or a stop came) mid-statement: the item stays in flight and is
        # verified before it is ever sent again.
        batch.stopped = ctx.stop_reason()
        return False
    except StageStopped:
        raise  # the stage may not go on (the server refuses its work): the runner ends it
    except DatabaseError as error:
        batch.timed_out = batch.timed_out or isinstance(error, StatementTimeout)
        _fail(ctx, work, state, batch, item, error)
        return batch.stage_error is None
    state.consecutive_failures = 0
    # Work found done is this run's, in its count and its history alike, unless the server names
    # another host's run or an administrator (jobs/runner/queue.py, confirmed).
    settled, row = confirmed(ctx, work, payload, settled)
    batch.end(item, settled)
    if settled.status == "gone":
        log.info("item.gone", item=item.key)
    if row is not None:
        batch.audit.append(row)
    return True


def _fail(
    ctx: RunContext,
    work: QueueWork[Any],
    state: _Run,
    batch: _Batch,
    item: WorkItem,
    error: DatabaseError,
) -> None:
    """An item failed after its retries: count it towards quarantine and the circuit breaker."""
    quarantined = ctx.store.mark_failed(
        ctx.database,
        work.stage,
        item.key,
        ctx.run_id,
        error.kind,
        str(error),
        ctx.settings.runner.quarantine_after,
    )
    state.failed_this_run.add(item.key)
    batch.counts["failed"] += 1
    state.consecutive_failures += 1
    log.warning(
        "item.fail",
        item=item.key,
        error_kind=error.kind,
        error=str(error),
        native_error=error.native,
        quarantined=quarantined,
    )
    if state.consecutive_failures >= CIRCUIT_BREAKER:
        batch.stage_error = DatabaseError(
            f"{state.consecutive_failures} items failed in a row; last: {error}"
        )


def _account(
    ctx: RunContext, work: QueueWork[Any], state: _Run, batch: _Batch, outcome: StageOutcome
) -> None:
    """After a batch: timings, the next batch's size, progress, the outcome, batch.finish."""
    seconds = ctx.clock.monotonic() - batch.started
    processed = batch.processed
    ctx.store.add_timing(ctx.target, work.timings, processed, seconds)
    if processed:
        state.estimate = max(seconds / processed, 1e-6)
    state.sizer.after_batch(processed, seconds, batch.timed_out)
    if ctx.progress is not None:
        ctx.progress.advance(processed)
    outcome.done += batch.counts["done"]
    outcome.skipped += batch.counts["skipped"] + batch.counts["gone"]
    outcome.failed += batch.counts["failed"]
    state.gone += batch.counts["gone"]
    state.batches += 1
    # Failed items stay queued but are not retried in this run: they leave this run's count.
    state.remaining = max(0, state.remaining - processed)
    rate = processed / seconds if seconds > 0 else None
    log.info(
        "batch.finish",
        batch=state.batches,
        size=len(batch.items),
        done=batch.counts["done"],
        skipped=batch.counts["skipped"] + batch.counts["gone"],
        failed=batch.counts["failed"],
        gone=batch.counts["gone"],
        seconds=round(seconds, 3),
        wall_seconds=round(time.perf_counter() - batch.wall_started, 3),
        remaining=state.remaining,
        rate_per_second=round(rate, 3) if rate else None,
        eta_seconds=round(state.remaining / rate, 1) if rate and state.remaining > 0 else 0,
        next_size=state.sizer.size,
    )


def _checkpoint(ctx: RunContext, work: QueueWork[Any], batch: _Batch) -> None:
    ctx.store.complete(
        ctx.database, work.stage, ctx.run_id, batch.completions, batch.audit, ctx.target
    )
    # Marked in flight but never sent (a stop between items): nothing to verify.
    ctx.store.release(ctx.database, work.stage, batch.unsent())


def _work_item(work: QueueWork[Any], item: WorkItem, payload: Any, retry: RetryPolicy) -> Settled:
    """Process one item; return how it ended. Every send that may follow an earlier one (a
    killed run, a lost reply, a timeout, a retry) is preceded by ``verify``, so a call the server
    already carried out is never made twice."""
    sent_here = False

    def attempt() -> Settled:
        nonlocal sent_here
        if (sent_here or item.may_have_reached_the_server) and work.verify is not None:
            settled = work.verify(payload)
            if settled is not None:
                log.info("item.settled", item=item.key, status=settled.status)
                return settled
        sent_here = True
        return work.process(payload)

    try:
        return retry(attempt)
    except (StillReferenced, NotPermitted, LoginFailed, ConnectionLost, StageStopped):
        raise
    except DatabaseError:
        # A timeout that struck after the server committed, an update deleted since the queue was
        # built: what the server holds decides, not the error.
        if work.verify is not None and sent_here:
            try:
                settled = work.verify(payload)
            except DatabaseError:
                settled = None
            if settled is not None:
                log.info(
                    "item.settled", item=item.key, status=settled.status, reason="after an error"
                )
                return settled
        raise
