"""Obsolete computers, behind a guard: a broken reporting pipeline must not wipe the inventory."""

from __future__ import annotations

from jobs import events
from jobs.runner.context import RunContext, StageOutcome

log = events.get_logger("susdb_maint.stages.computers")


def run(ctx: RunContext) -> StageOutcome:
    settings = ctx.settings.stages.computers
    total, inactive = ctx.susdb.computer_counts(settings.inactive_days)
    share = 100.0 * inactive / total if total else 0.0
    detail = {
        "total": total,
        "inactive": inactive,
        "inactive_percent": round(share, 1),
        "inactive_days": settings.inactive_days,
    }
    if inactive and (inactive > settings.guard_count or share > settings.guard_percent):
        reason = (
            f"guard: {inactive} of {total} computers ({share:.1f}%) have not reported for "
            f"{settings.inactive_days} days; limits are {settings.guard_count} and {settings.guard_percent:g}%"
        )
        log.warning("computers.guard", **detail)
        return StageOutcome(status="refused", reason=reason, remaining=inactive, detail=detail)
    if ctx.dry_run or not inactive:
        return StageOutcome(
            status="planned" if ctx.dry_run else "done", remaining=inactive, detail=detail
        )
    deleted = ctx.susdb.cleanup_obsolete_computers()
    detail["deleted"] = deleted
    return StageOutcome(done=deleted, detail=detail)
