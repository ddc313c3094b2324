"""Obsolete computers, behind a guard on what would be deleted.

``spCleanupObsoleteComputers`` takes no parameter and deletes by WSUS's own threshold (30 days by
default, a server option whose storage is not public) and by a date column that is not public
either: LastSyncTime, LastReportedStatusTime, or (the dangerous alternative) either of them. The
guard works in two steps:

1. **An estimate, before anything is called**: the computers silent for WSUS's default threshold
   by either date column, the most that can go whichever column WSUS tests (those silent by both
   go in any case: the estimate's lower figure, said alongside). Over ``guard_count`` or
   ``guard_percent``, the stage refuses and the procedure is never started: a night over the
   limits costs one read. Running the deletion to undo it would delete every stale computer and
   its status rows (thousands a computer), hold every lock until the rollback and block client
   reporting meanwhile, every night (decline review N3). An estate whose clients synchronize but
   whose status reporting broke (or the reverse) is refused too, every night, until the
   administrator raises the limits or mends the clients: the refusal says both figures and which
   settings to raise, since WSUS may well delete those computers all at once.
2. **A backstop on the real deletion**: under the limits, the procedure runs inside a transaction
   of the stage's own; the computers that really went are counted (TargetIDs before and after)
   and rolled back when over the limits. That catches a server whose threshold is shorter than
   the default; it holds locks only on the small set the estimate allowed.
"""

from __future__ import annotations

import math

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
        "estimated": counts.at_most,
        "estimated_at_least": counts.at_least,
        "threshold_days": DEFAULT_THRESHOLD_DAYS,
    }
    executor = ctx.susdb.executor
    # Refused on what may go (silent by either date): which date WSUS tests is not public, and a
    # procedure that tests either would delete them all inside our transaction. A plan says so
    # as the run would.
    share = 100.0 * counts.at_most / counts.total if counts.total else 0.0
    if counts.at_most > settings.guard_count or share > settings.guard_percent:
        detail["estimated_percent"] = round(share, 1)
        if not ctx.dry_run:
            log.warning("computers.guard", **detail)
        return StageOutcome(
            status="refused",
            reason=_estimate_refusal(counts.total, counts.at_most, counts.at_least, share, ctx),
            remaining=counts.at_most,
            detail=detail,
        )
    if ctx.dry_run:
        return StageOutcome(status="planned", remaining=counts.at_most, detail=detail)

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


def _estimate_refusal(
    total: int, at_most: int, at_least: int, share: float, ctx: RunContext
) -> str:
    """One line: both figures, the limits, and what the administrator can do about it."""
    settings = ctx.settings.stages.computers
    raise_to = []
    if at_most > settings.guard_count:
        raise_to.append(f"stages.computers.guard_count to {at_most}")
    if share > settings.guard_percent:
        raise_to.append(f"stages.computers.guard_percent to {math.ceil(share)}")
    return (
        f"guard: up to {at_most} of {total} computers ({share:.1f}%) would go, over the limits "
        f"(guard_count {settings.guard_count}, guard_percent {settings.guard_percent:g}%): "
        f"{at_most} are silent {DEFAULT_THRESHOLD_DAYS} days by their last synchronization or "
        f"their last status report ({at_least} by both), and which date WSUS tests is not "
        "public; "
        "spCleanupObsoleteComputers was not called. To let WSUS delete them, raise "
        f"{' and '.join(raise_to)}; else bring those clients back to synchronizing and reporting"
    )
