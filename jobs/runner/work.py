"""Queue stages: find candidates once, store them, then work through them in batches.

A stage gives a ``QueueWork``: ``candidates()`` (the expensive, set-based query, run once per
queue) yielding ``(key, payload)``; ``process(payload)`` (one item, one call) returning how it
ended; ``verify(payload)`` (what the server holds for it); and an optional ``record`` hook (the
decline history). Everything else is here: queue freshness, batches as checkpoints, retries,
timeouts, quarantine, the window, signals and progress events.

Exactly once, across two databases:

* a batch is marked in flight in one durable commit before anything is sent;
* an item that may have reached the server (sent by a killed run, or by this run before a lost
  reply, a timeout or a retry) is verified on the server before it is sent again: a decline whose
  reply was lost is found declined, a deleted update is found gone;
* completions are checkpointed once per batch; a queue rebuild first settles what is in flight,
  and keeps each item's failure count, so a poison item is quarantined on its third failing night.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from jobs import events
from jobs.db.retry import retrying
from jobs.errors import (
    ConnectionLost,
    DatabaseError,
    Interrupted,
    LoginFailed,
    NotPermitted,
    ReplicaRefused,
    StatementTimeout,
    StillReferenced,
)
from jobs.runner.context import RunContext, StageOutcome
from jobs.runner.policy import BatchSizer
from jobs.state.store import ACTIVE, Completion, DeclineRecord, WorkItem

log = events.get_logger("susdb_maint.runner")

# Candidate passes per stage and run when ``repeat_until_empty``.
MAX_PASSES = 3
# Consecutive item failures that end a stage: a broken server must not burn through the queue.
CIRCUIT_BREAKER = 25


@dataclass(frozen=True)
class Settled:
    """How one item ended: ``done``, ``skipped`` (with a reason) or ``gone`` (nothing left)."""

    status: str
    reason: str | None = None


DONE = Settled("done")
GONE = Settled("gone")

Candidates = Callable[[], Iterable[tuple[str, dict[str, Any]]]]
Process = Callable[[dict[str, Any]], Settled]
Verify = Callable[[dict[str, Any]], Settled | None]  # None: not done on the server
Record = Callable[[WorkItem, str], DeclineRecord | None]  # (item, run that sent it)


@dataclass
class QueueWork:
    stage: str
    candidates: Candidates
    process: Process
    per_item_seconds_guess: float
    verify: Verify | None = None
    record: Record | None = None
    limit: int | None = None  # items per run
    repeat_until_empty: bool = False


class StageStopped(Exception):
    """A stage-level condition (replica refusal) ended the stage early."""

    def __init__(self, status: str, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


class QueueDeferred(Exception):
    """The candidate query would not finish before the window closes: not started."""


# -- building a queue ----------------------------------------------------------------------------
def ensure_queue(ctx: RunContext, work: QueueWork) -> dict[str, int]:
    """Run the candidate query unless the stage's queue is fresh and has work left; return counts.
    Raise QueueDeferred when the query would not fit the time left, Interrupted when the window
    closes (or a stop is asked for) while it runs."""
    store, database = ctx.store, ctx.database
    counts = store.queue_counts(database, work.stage)
    active = sum(counts.get(status, 0) for status in ACTIVE)
    info = store.queue_info(database, work.stage)
    age = info["age_hours"] if info else None
    fresh = age is not None and age <= ctx.settings.runner.queue_max_age_hours
    if active and (fresh or ctx.dry_run):
        # A plan never rebuilds a queue that holds work: that is the next real run's job.
        log.info("queue.resume", pending=active, age_hours=round(age or 0, 2), stale=not fresh)
        return counts
    if not ctx.dry_run:
        settle_in_flight(ctx, work)
    expected = info["build_seconds"] if info else None
    left = ctx.seconds_left()
    if expected and left is not None and expected > left:
        log.warning(
            "queue.deferred",
            expected_seconds=round(expected, 1),
            seconds_left=round(left, 1),
            reason="the candidate query would not finish before the window closes",
        )
        raise QueueDeferred(f"the candidate query takes about {expected:.0f} s; {left:.0f} s left")
    started = time.monotonic()
    server_started = ctx.clock.monotonic()

    def build() -> int:
        build_id, rows = store.spool(work.candidates())
        log.debug("queue.spooled", rows=rows)
        return store.swap_in(
            database,
            work.stage,
            build_id,
            target=ctx.target,
            run_id=ctx.run_id,
            build_seconds=ctx.clock.monotonic() - server_started,
        )

    total = _retry(ctx)(build)
    log.info(
        "queue.build",
        items=total,
        seconds=round(time.monotonic() - started, 3),
        server_seconds=round(ctx.clock.monotonic() - server_started, 3),
    )
    return store.queue_counts(database, work.stage)


def settle_in_flight(ctx: RunContext, work: QueueWork) -> None:
    """Before a rebuild replaces the queue, settle what a killed run left in flight, so its real
    effects reach the history and nothing it sent is forgotten."""
    items = ctx.store.in_flight(ctx.database, work.stage)
    if not items:
        return
    completions: list[Completion] = []
    declines: list[DeclineRecord] = []
    unsettled: list[str] = []
    for item in items:
        settled = _retry(ctx)(work.verify, item.payload) if work.verify else None
        if settled is None:
            unsettled.append(item.key)
            continue
        log.info("item.settled", item=item.key, status=settled.status, reason="before a rebuild")
        completions.append(Completion(item.key, settled.status, settled.reason))
        if settled.status == "done" and work.record is not None:
            record = work.record(item, item.run_id or ctx.run_id)
            if record is not None:
                declines.append(record)
    ctx.store.complete(ctx.database, work.stage, ctx.run_id, completions, declines, ctx.target)
    ctx.store.release(ctx.database, work.stage, unsettled)


def _retry(ctx: RunContext) -> Any:
    executor = ctx.susdb.executor
    return retrying(
        ctx.settings.runner.max_attempts,
        ctx.settings.runner.retry_max_seconds,
        ctx.clock.sleep,
        executor.reconnect,
    )


# -- working through a queue ---------------------------------------------------------------------
class _Batch:
    """One batch's bookkeeping: what ended how, checkpointed in one commit."""

    def __init__(self, items: list[WorkItem]) -> None:
        self.items = items
        self.completions: list[Completion] = []
        self.declines: list[DeclineRecord] = []
        self.attempted: set[str] = set()
        self.counts = {"done": 0, "skipped": 0, "failed": 0, "gone": 0}

    def end(self, item: WorkItem, settled: Settled) -> None:
        self.completions.append(Completion(item.key, settled.status, settled.reason))
        self.counts[settled.status] += 1

    @property
    def processed(self) -> int:
        return sum(self.counts.values())

    def unsent(self) -> list[str]:
        return [item.key for item in self.items if item.key not in self.attempted]


def process_queue(ctx: RunContext, work: QueueWork) -> StageOutcome:
    """Work through a stage's queue (``work.limit`` caps the items processed in this run)."""
    outcome = StageOutcome()
    try:
        counts = ensure_queue(ctx, work)
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
    estimate = ctx.store.seconds_per_item(ctx.target, work.stage) or work.per_item_seconds_guess
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
    passes = 1
    while (
        work.repeat_until_empty
        and outcome.status == "done"
        and outcome.done
        and passes < MAX_PASSES
        and not ctx.out_of_time()
    ):
        # Cleaning frees more: deleting an update can make its prerequisites obsolete. With the
        # queue drained and time left, ask the server again (Microsoft: repeat until the counts drop).
        passes += 1
        more = process_queue(ctx, QueueWork(**{**work.__dict__, "repeat_until_empty": False}))
        for key in ("done", "skipped", "failed"):
            setattr(outcome, key, getattr(outcome, key) + getattr(more, key))
        outcome.detail["gone"] = outcome.detail.get("gone", 0) + more.detail.get("gone", 0)
        outcome.status, outcome.reason, outcome.remaining = more.status, more.reason, more.remaining
        if not more.done:
            break
    return outcome


def _work_through(
    ctx: RunContext, work: QueueWork, outcome: StageOutcome, remaining: int, estimate: float
) -> None:
    runner_settings = ctx.settings.runner
    sizer = BatchSizer(runner_settings.batch_target_seconds, estimate)
    retry = _retry(ctx)  # one policy for the stage: building one per item costs more than a call
    if ctx.progress is not None:
        ctx.progress.start(work.stage, remaining)
    failed_this_run: set[str] = set()
    consecutive_failures = 0
    batch_number = 0
    gone = 0
    try:
        while remaining > 0:
            if ctx.out_of_time():
                outcome.status, outcome.reason = "partial", ctx.stop_reason()
                break
            ctx.ensure_locked()
            left = ctx.seconds_left()
            if left is not None:
                # Do not start a batch that cannot finish before the deadline: shrink it, or stop.
                affordable = int(left / max(estimate, 1e-6))
                if affordable < 1:
                    outcome.status, outcome.reason = "partial", "deadline"
                    break
                sizer.size = min(sizer.size, affordable)
            size = sizer.size
            if work.limit is not None:
                allowed = work.limit - (outcome.done + outcome.skipped + outcome.failed)
                if allowed <= 0:
                    outcome.status, outcome.reason = "partial", "max_per_run"
                    break
                size = min(size, allowed)
            items = ctx.store.next_items(ctx.database, work.stage, size, exclude=failed_this_run)
            if not items:
                break
            batch_number += 1
            batch = _Batch(items)
            wall_started = time.perf_counter()
            started = ctx.clock.monotonic()
            # One durable commit marks the whole batch in flight before anything is sent: an item
            # the server may have seen is never mistaken for one it has not.
            ctx.store.mark_batch_in_flight(
                ctx.database, work.stage, [item.key for item in items], ctx.run_id
            )
            stage_error: DatabaseError | None = None
            stopped: str | None = None
            timed_out = False
            try:
                for item in items:
                    if ctx.out_of_time():
                        stopped = ctx.stop_reason()
                        break
                    batch.attempted.add(item.key)
                    try:
                        settled, sent_here = _work_item(work, item, retry)
                    except StillReferenced as error:
                        settled, sent_here = Settled("skipped", "still_referenced"), True
                        log.info(
                            "item.skip", item=item.key, reason=settled.reason, error=str(error)
                        )
                    except (NotPermitted, LoginFailed, ConnectionLost) as error:
                        # Not this item's fault: nothing else will succeed either. The item stays in
                        # flight, so the next run settles it on the server before sending it again.
                        stage_error = error
                        break
                    except Interrupted:
                        # The window closed (or a stop came) mid-statement: the item stays in flight
                        # and is verified before it is ever sent again.
                        stopped = ctx.stop_reason()
                        break
                    except DatabaseError as error:
                        if isinstance(error, ReplicaRefused):
                            raise
                        timed_out = timed_out or isinstance(error, StatementTimeout)
                        quarantined = ctx.store.mark_failed(
                            ctx.database,
                            work.stage,
                            item.key,
                            ctx.run_id,
                            error.kind,
                            str(error),
                            runner_settings.quarantine_after,
                        )
                        failed_this_run.add(item.key)
                        batch.counts["failed"] += 1
                        consecutive_failures += 1
                        log.warning(
                            "item.fail",
                            item=item.key,
                            error_kind=error.kind,
                            error=str(error),
                            native_error=error.native,
                            quarantined=quarantined,
                        )
                        if consecutive_failures >= CIRCUIT_BREAKER:
                            stage_error = DatabaseError(
                                f"{consecutive_failures} items failed in a row; last: {error}"
                            )
                            break
                        continue
                    consecutive_failures = 0
                    batch.end(item, settled)
                    if settled.status == "gone":
                        log.info("item.gone", item=item.key)
                    if settled.status == "done" and work.record is not None:
                        record = work.record(
                            item, ctx.run_id if sent_here else item.run_id or ctx.run_id
                        )
                        if record is not None:
                            batch.declines.append(record)
            except ReplicaRefused as error:
                _checkpoint(ctx, work, batch)
                raise StageStopped("skipped", "replica") from error
            _checkpoint(ctx, work, batch)
            seconds = ctx.clock.monotonic() - started
            processed = batch.processed
            ctx.store.add_timing(ctx.target, work.stage, processed, seconds)
            if processed:
                estimate = max(seconds / processed, 1e-6)
            sizer.after_batch(processed, seconds, timed_out)
            if ctx.progress is not None:
                ctx.progress.advance(processed)
            outcome.done += batch.counts["done"]
            outcome.skipped += batch.counts["skipped"] + batch.counts["gone"]
            outcome.failed += batch.counts["failed"]
            gone += batch.counts["gone"]
            # Failed items stay queued but are not retried in this run: they leave this run's count.
            remaining = max(0, remaining - processed)
            rate = processed / seconds if seconds > 0 else None
            log.info(
                "batch.finish",
                batch=batch_number,
                size=len(items),
                done=batch.counts["done"],
                skipped=batch.counts["skipped"] + batch.counts["gone"],
                failed=batch.counts["failed"],
                gone=batch.counts["gone"],
                seconds=round(seconds, 3),
                wall_seconds=round(time.perf_counter() - wall_started, 3),
                remaining=remaining,
                rate_per_second=round(rate, 3) if rate else None,
                eta_seconds=round(remaining / rate, 1) if rate and remaining > 0 else 0,
                next_size=sizer.size,
            )
            if stage_error is not None:
                log.error("stage.fail", error_kind=stage_error.kind, error=str(stage_error))
                outcome.status, outcome.reason = "failed", f"{stage_error.kind}: {stage_error}"
                break
            if stopped is not None:
                outcome.status, outcome.reason = "partial", stopped
                break
    finally:
        if ctx.progress is not None:
            ctx.progress.finish()
        if gone:
            outcome.detail["gone"] = outcome.detail.get("gone", 0) + gone


def _checkpoint(ctx: RunContext, work: QueueWork, batch: _Batch) -> None:
    ctx.store.complete(
        ctx.database, work.stage, ctx.run_id, batch.completions, batch.declines, ctx.target
    )
    # Marked in flight but never sent (a stop between items): nothing to verify.
    ctx.store.release(ctx.database, work.stage, batch.unsent())


def _work_item(work: QueueWork, item: WorkItem, retry: Any) -> tuple[Settled, bool]:
    """Process one item; return how it ended and whether this run sent it. Every send that may
    follow an earlier one (a killed run, a lost reply, a timeout, a retry) is preceded by
    ``verify``, so a call the server already carried out is never made twice."""
    sent_here = False

    def attempt() -> Settled:
        nonlocal sent_here
        if (sent_here or item.may_have_reached_the_server) and work.verify is not None:
            settled = work.verify(item.payload)
            if settled is not None:
                log.info("item.settled", item=item.key, status=settled.status)
                return settled
        sent_here = True
        return work.process(item.payload)

    try:
        return retry(attempt), sent_here
    except (
        StillReferenced,
        ReplicaRefused,
        NotPermitted,
        LoginFailed,
        ConnectionLost,
        Interrupted,
    ):
        raise
    except DatabaseError:
        # A timeout that struck after the server committed, an update deleted since the queue was
        # built: what the server holds decides, not the error.
        if work.verify is not None and sent_here:
            try:
                settled = work.verify(item.payload)
            except DatabaseError:
                settled = None
            if settled is not None:
                log.info(
                    "item.settled", item=item.key, status=settled.status, reason="after an error"
                )
                return settled, sent_here
        raise
