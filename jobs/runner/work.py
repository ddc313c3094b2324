"""Queue stages: find candidates once, store them, then work through them in batches.

A stage gives two functions: ``candidates()`` (the expensive, set-based query, run once per
queue) yielding ``(key, payload)``, and ``process(payload)`` (one item, one call) returning None
when done or a skip reason. Everything else is here: queue freshness, batches as checkpoints,
retries, timeouts, quarantine, the deadline, signals and progress events.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from jobs import events
from jobs.errors import (
    ConnectionLost,
    DatabaseError,
    LoginFailed,
    NotPermitted,
    ReplicaRefused,
    StatementTimeout,
    StillReferenced,
)
from jobs.runner.context import RunContext, StageOutcome
from jobs.runner.policy import BatchSizer, retrying
from jobs.state.store import ACTIVE

log = events.get_logger("susdb_maint.runner")

Candidates = Callable[[], Iterable[tuple[str, dict[str, Any]]]]
Process = Callable[[dict[str, Any]], str | None]
Verify = Callable[[dict[str, Any]], bool]
# Candidate passes per stage and run when ``repeat_until_empty``.
MAX_PASSES = 3
# Consecutive item failures that end a stage: a broken server must not burn through the queue.
CIRCUIT_BREAKER = 25


class StageStopped(Exception):
    """A stage-level condition (replica refusal) ended the stage early."""

    def __init__(self, status: str, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


def ensure_queue(ctx: RunContext, stage: str, candidates: Candidates) -> dict[str, int]:
    """Run the candidate query unless the stage's queue is fresh and has work left; return counts."""
    counts = ctx.store.queue_counts(ctx.target, stage)
    active = sum(counts.get(status, 0) for status in ACTIVE)
    age = ctx.store.queue_age_hours(ctx.target, stage)
    fresh = age is not None and age <= ctx.settings.runner.queue_max_age_hours
    if active and fresh:
        log.info("queue.resume", pending=active, age_hours=round(age or 0, 2))
        return counts
    started = time.monotonic()
    virtual_started = ctx.clock.monotonic()
    total = ctx.store.replace_queue(ctx.target, stage, ctx.run_id, candidates())
    log.info(
        "queue.build",
        items=total,
        seconds=round(time.monotonic() - started, 3),
        server_seconds=round(ctx.clock.monotonic() - virtual_started, 3),
    )
    return ctx.store.queue_counts(ctx.target, stage)


def process_queue(
    ctx: RunContext,
    stage: str,
    candidates: Candidates,
    process: Process,
    *,
    per_item_seconds_guess: float,
    limit: int | None = None,
    verify: Verify | None = None,
    repeat_until_empty: bool = False,
    declines: bool = False,
) -> StageOutcome:
    """Work through a stage's queue; ``limit`` caps the items processed in this run.

    An item still marked in flight was interrupted in an earlier run (SIGKILL, power loss): its
    effect may or may not have committed on the server. ``verify`` settles it from the server's
    state, so it is never sent twice.
    """
    counts = ensure_queue(ctx, stage, candidates)
    outcome = StageOutcome()
    remaining = sum(counts.get(status, 0) for status in ACTIVE)
    outcome.remaining = remaining
    outcome.detail["queued"] = remaining
    if ctx.dry_run:
        estimate = ctx.store.seconds_per_item(ctx.target, stage) or per_item_seconds_guess
        outcome.detail["estimated_seconds"] = round(remaining * estimate, 1)
        outcome.status = "planned"
        return outcome
    runner_settings = ctx.settings.runner
    estimate = ctx.store.seconds_per_item(ctx.target, stage) or per_item_seconds_guess
    sizer = BatchSizer(runner_settings.batch_target_seconds, estimate)
    retry = retrying(runner_settings, ctx.clock, ctx.susdb.executor.reconnect)
    if ctx.progress is not None:
        ctx.progress.start(stage, remaining)
    failed_this_run: set[str] = set()
    consecutive_failures = 0
    batch_number = 0
    while remaining > 0:
        if ctx.stop.is_set():
            outcome.status, outcome.reason = "partial", "signal"
            break
        left = ctx.seconds_left()
        if left is not None:
            # Do not start a batch that cannot finish before the deadline: shrink it, or stop.
            affordable = int(left / max(estimate, 1e-6))
            if affordable < 1:
                outcome.status, outcome.reason = "partial", "deadline"
                break
            sizer.size = min(sizer.size, affordable)
        size = sizer.size
        if limit is not None:
            allowed = limit - (outcome.done + outcome.skipped + outcome.failed)
            if allowed <= 0:
                outcome.status, outcome.reason = "partial", "max_per_run"
                break
            size = min(size, allowed)
        items = ctx.store.next_items(ctx.target, stage, size, exclude=failed_this_run)
        if not items:
            break
        batch_number += 1
        batch = {"done": 0, "skipped": 0, "failed": 0}
        stage_error: DatabaseError | None = None
        timed_out = False
        wall_started = time.perf_counter()
        started = ctx.clock.monotonic()
        # One commit marks the whole batch in flight before anything is sent: an item the server
        # may have seen is never mistaken for one it has not.
        ctx.store.mark_batch_in_flight(ctx.target, stage, [item.key for item in items], ctx.run_id)
        # Completions are checkpointed once per batch (one commit). An item done on the server but
        # not yet checkpointed when the process dies is still in flight: ``verify`` settles it.
        done_items: list[tuple[str, tuple[str | None, str, str] | None]] = []
        skipped_items: list[tuple[str, str]] = []
        for item in items:
            if ctx.stop.is_set():
                break
            interrupted = item.status == "in_flight"
            settled = False
            try:
                if interrupted and verify is not None and retry(verify, item.payload):
                    log.info("item.settled", item=item.key, reason="done before an interruption")
                    skip_reason, settled = None, True
                else:
                    skip_reason = retry(process, item.payload)
            except StillReferenced as error:
                skip_reason = "still_referenced"
                log.info("item.skip", item=item.key, reason=skip_reason, error=str(error))
            except ReplicaRefused as error:
                ctx.store.complete(ctx.target, stage, ctx.run_id, done_items, skipped_items)
                raise StageStopped("skipped", "replica") from error
            except (NotPermitted, LoginFailed, ConnectionLost) as error:
                # Not this item's fault: nothing else will succeed either. The item stays in
                # flight, so the next run settles it with ``verify``.
                stage_error = error
                break
            except DatabaseError as error:
                timed_out = timed_out or isinstance(error, StatementTimeout)
                quarantined = ctx.store.mark_failed(
                    ctx.target,
                    stage,
                    item.key,
                    ctx.run_id,
                    error.kind,
                    str(error),
                    runner_settings.quarantine_after,
                )
                failed_this_run.add(item.key)
                batch["failed"] += 1
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
            if skip_reason:
                skipped_items.append((item.key, skip_reason))
                batch["skipped"] += 1
            else:
                declined = None
                if declines and not settled:
                    payload = item.payload
                    declined = (
                        payload.get("kb"),
                        payload.get("title", ""),
                        payload.get("reason", ""),
                    )
                done_items.append((item.key, declined))
                batch["done"] += 1
        ctx.store.complete(ctx.target, stage, ctx.run_id, done_items, skipped_items)
        seconds = ctx.clock.monotonic() - started
        wall_seconds = time.perf_counter() - wall_started
        processed = batch["done"] + batch["skipped"] + batch["failed"]
        ctx.store.add_timing(ctx.target, stage, processed, seconds)
        if processed:
            estimate = max(seconds / processed, 1e-6)
        sizer.after_batch(processed, seconds, timed_out)
        if ctx.progress is not None:
            ctx.progress.advance(processed)
        for key in ("done", "skipped", "failed"):
            setattr(outcome, key, getattr(outcome, key) + batch[key])
        # Failed items stay queued but are not retried in this run: they leave this run's count.
        active_left = remaining - processed
        rate = processed / seconds if seconds > 0 else None
        log.info(
            "batch.finish",
            batch=batch_number,
            size=len(items),
            **batch,
            seconds=round(seconds, 3),
            wall_seconds=round(wall_seconds, 3),
            remaining=max(0, active_left),
            rate_per_second=round(rate, 3) if rate else None,
            eta_seconds=round(active_left / rate, 1) if rate and active_left > 0 else 0,
            next_size=sizer.size,
        )
        remaining = max(0, active_left)
        if stage_error is not None:
            log.error("stage.fail", error_kind=stage_error.kind, error=str(stage_error))
            outcome.status, outcome.reason = "failed", f"{stage_error.kind}: {stage_error}"
            break
    if ctx.progress is not None:
        ctx.progress.finish()
    outcome.remaining = ctx.store.active_count(ctx.target, stage)
    if outcome.failed and outcome.status == "done":
        # Failed items stay queued for the next run, until they are quarantined.
        outcome.status, outcome.reason = "failed", "items_failed"
    passes = 1
    while (
        repeat_until_empty
        and outcome.status == "done"
        and outcome.done
        and passes < MAX_PASSES
        and not ctx.out_of_time()
    ):
        # Cleaning frees more: deleting an update can make its prerequisites obsolete. With the
        # queue drained and time left, ask the server again (Microsoft: repeat until the counts drop).
        passes += 1
        more = process_queue(
            ctx,
            stage,
            candidates,
            process,
            per_item_seconds_guess=per_item_seconds_guess,
            limit=limit,
            verify=verify,
            declines=declines,
        )
        for key in ("done", "skipped", "failed"):
            setattr(outcome, key, getattr(outcome, key) + getattr(more, key))
        outcome.status, outcome.reason, outcome.remaining = more.status, more.reason, more.remaining
        if not more.done:
            break
    return outcome
