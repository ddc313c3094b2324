"""Obsolete computers, behind a guard on what is really deleted.

``spCleanupObsoleteComputers`` takes no parameter and deletes by WSUS's own threshold (30 days by
default, a server option whose storage is not public) and by a date column that is not public
either. So the guard does not predict: it runs the procedure inside a transaction of its own,
counts the computers that really went (TargetIDs before and after), and rolls everything back
when that is more than ``guard_count`` or ``guard_percent`` of all computers: a broken reporting
pipeline never wipes the inventory.
"""

from __future__ import annotations

from jobs import events
from jobs.runner.context import RunContext, StageOutcome
from jobs.stages.registry import stage

log = events.get_logger("susdb_maint.stages.computers")
# WSUS's default threshold (MS-WSUSAR 3.1.4.108); for estimates only.
DEFAULT_THRESHOLD_DAYS = 30


@stage(
    name="computers",
    order=60,
    destructive=True,
    needs_preflight=True,
    phase="cleanup",
    settings="computers",
)
def run(ctx: RunContext) -> StageOutcome:
    settings = ctx.settings.stages.computers
    if ctx.dry_run:
        total, inactive = ctx.susdb.computer_counts(DEFAULT_THRESHOLD_DAYS)
        return StageOutcome(
            status="planned",
            remaining=inactive,
            detail={
                "total": total,
                "estimated": inactive,
                "threshold_days": DEFAULT_THRESHOLD_DAYS,
            },
        )
    executor = ctx.susdb.executor

    def guarded_cleanup() -> StageOutcome:
        before = ctx.susdb.computer_target_ids()
        reported = ctx.susdb.cleanup_obsolete_computers()
        deleted = len(before - ctx.susdb.computer_target_ids())
        total = len(before)
        share = 100.0 * deleted / total if total else 0.0
        detail = {
            "total": total,
            "deleted": deleted,
            "deleted_percent": round(share, 1),
            "reported_by_wsus": reported,
        }
        if deleted > settings.guard_count or share > settings.guard_percent:
            executor.rollback()
            reason = (
                f"guard: spCleanupObsoleteComputers deleted {deleted} of {total} computers "
                f"({share:.1f}%), over the limits ({settings.guard_count}, "
                f"{settings.guard_percent:g}%); rolled back, nothing was deleted"
            )
            log.warning("computers.guard", **detail)
            return StageOutcome(status="refused", reason=reason, remaining=deleted, detail=detail)
        executor.commit()
        return StageOutcome(done=deleted, detail=detail)

    return executor.run_transaction(guarded_cleanup)
