"""Synchronization history: old sync events deleted in DELETE TOP (n) batches until none are left."""

from __future__ import annotations

from jobs import events
from jobs.runner.context import RunContext, StageOutcome
from jobs.stages.batched_delete import delete_in_batches

log = events.get_logger("susdb_maint.stages.sync_history")


# Declared, with its settings and the rights it needs, in jobs/stages/declared/sync_history.py.
def run(ctx: RunContext) -> StageOutcome:
    settings = ctx.settings.stages.sync_history
    backlog = ctx.susdb.sync_history_backlog(settings.retention_days)
    outcome = StageOutcome(
        remaining=backlog, detail={"backlog": backlog, "retention_days": settings.retention_days}
    )
    return delete_in_batches(
        ctx,
        outcome,
        settings.batch_rows,
        lambda timeout: ctx.susdb.delete_sync_history(
            settings.batch_rows, settings.retention_days, timeout=timeout
        ),
        log,
    )
