"""Optional backup: a copy-only, checksummed full backup before destructive work."""

from __future__ import annotations

from jobs import events
from jobs.runner.context import RunContext, StageOutcome
from jobs.stages import preflight

log = events.get_logger("susdb_maint.stages.backup")


def run(ctx: RunContext) -> StageOutcome:
    path = ctx.settings.backup.path
    if not path:
        return StageOutcome(status="skipped", reason="backup.path is not set")
    if ctx.dry_run:
        return StageOutcome(status="planned", detail={"path": path})
    messages = ctx.susdb.backup_database(path, timeout=0)
    ctx.facts["last_backup"] = ctx.susdb.last_full_backup()
    preflight.check_backup(ctx)
    return StageOutcome(done=1, detail={"path": path, "messages": messages[-2:]})
