"""Obsolete computers, behind a guard on what would be deleted.

``spCleanupObsoleteComputers`` takes no parameter and deletes by WSUS's own threshold (30 days by
default, a server option whose storage is not public) and by a date column that is not public
either. The guard works in two steps:

1. **An estimate, before anything is called**: the computers silent for WSUS's default threshold
   by both date columns (they go whichever column WSUS tests). Over ``guard_count`` or
   ``guard_percent``, the stage refuses and the procedure is never started: a night over the
   limits costs one read. (Refusing on those silent by either date would refuse every night on
   an estate where clients synchronize but their status reporting broke.) Running the deletion to undo it would delete every
   stale computer and its status rows (thousands a computer), hold every lock until the rollback
   and block client reporting meanwhile, every night (decline review N3).
2. **A backstop on the real deletion**: under the limits, the procedure runs inside a transaction
   of the stage's own; the computers that really went are counted (TargetIDs before and after)
   and rolled back when over the limits. That catches a server whose threshold is shorter than
   the default; it holds locks only on the small set the estimate allowed.
"""

from __future__ import annotations

from jobs import events
from jobs.runner.context import RunContext, StageOutcome

log = events.get_logger("susdb_maint.stages.computers")
# WSUS's default threshold (MS-WSUSAR 3.1.4.108); for estimates only.
DEFAULT_THRESHOLD_DAYS = 30


# Declared, with its settings and the rights it needs, in jobs/stages/declared/computers.py.
def run(ctx: RunContext) -> StageOutcome:
    settings = ctx.settings.stages.computers
    counts = ctx.susdb.computer_counts(DEFAULT_THRESHOLD_DAYS)
    detail: dict[str, float] = {
        "total": counts.total,
        "estimated": counts.at_least,
        "estimated_at_most": counts.at_most,
        "threshold_days": DEFAULT_THRESHOLD_DAYS,
    }
    if ctx.dry_run:
        return StageOutcome(status="planned", remaining=counts.at_most, detail=detail)
    executor = ctx.susdb.executor
    # Refused on what surely goes (silent by both dates): a client that syncs but whose status
    # reporting broke is common, and which date WSUS tests is not public; the rest is counted.
    share = 100.0 * counts.at_least / counts.total if counts.total else 0.0
    if counts.at_least > settings.guard_count or share > settings.guard_percent:
        detail["estimated_percent"] = round(share, 1)
        log.warning("computers.guard", **detail)
        reason = (
            f"guard: {counts.at_least} of {counts.total} computers ({share:.1f}%) have neither "
            f"synchronized nor reported for {DEFAULT_THRESHOLD_DAYS} days, over the limits "
            f"({settings.guard_count}, {settings.guard_percent:g}%); "
            "spCleanupObsoleteComputers was not called"
        )
        return StageOutcome(
            status="refused", reason=reason, remaining=counts.at_least, detail=detail
        )

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
