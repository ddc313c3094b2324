"""Synchronization history: old sync events deleted in DELETE TOP (n) batches until none are left."""

from __future__ import annotations

from jobs import events
from jobs.runner.context import RunContext, StageOutcome
from jobs.stages.registry import stage

log = events.get_logger("susdb_maint.stages.sync_history")


@stage(
    name="sync_history",
    order=70,
    destructive=True,
    needs_preflight=True,
    phase="cleanup",
    settings="sync_history",
)
def run(ctx: RunContext) -> StageOutcome:
    settings = ctx.settings.stages.sync_history
    backlog = ctx.susdb.sync_history_backlog(settings.retention_days)
    outcome = StageOutcome(
        remaining=backlog, detail={"backlog": backlog, "retention_days": settings.retention_days}
    )
    if ctx.dry_run:
        outcome.status = "planned"
        return outcome
    batch = 0
    while outcome.remaining > 0:
        if ctx.out_of_time():
            outcome.status, outcome.reason = (
                "partial",
                "signal" if ctx.stop.is_set() else "deadline",
            )
            break
        started = ctx.clock.monotonic()
        deleted = ctx.susdb.delete_sync_history(
            settings.batch_rows, settings.retention_days, timeout=600
        )
        batch += 1
        outcome.done += deleted
        outcome.remaining = max(0, outcome.remaining - deleted)
        log.info(
            "batch.finish",
            batch=batch,
            size=settings.batch_rows,
            done=deleted,
            skipped=0,
            failed=0,
            seconds=round(ctx.clock.monotonic() - started, 3),
            remaining=outcome.remaining,
        )
        if deleted == 0:
            break
    return outcome
