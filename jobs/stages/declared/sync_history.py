"""The sync_history stage as the rest of the tool sees it: its declaration (``@stage``) and its
settings, ``[stages.sync_history]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs.settings.fields import MAX_DAYS, Section, doc
from jobs.stages.registry import stage

if TYPE_CHECKING:
    from jobs.runner.context import RunContext, StageOutcome


# "Lock escalation is triggered when ... a single Transact-SQL statement acquires at least 5,000
# locks on a single nonpartitioned table or index" (https://learn.microsoft.com/previous-versions/sql/sql-server-2008-r2/ms184286(v=sql.105)).
LOCK_ESCALATION_THRESHOLD = 5000


class SyncHistorySettings(Section):
    retention_days: int = doc(
        "Keep synchronization history this many days.", 90, default=90, ge=0, le=MAX_DAYS
    )
    batch_rows: int = doc(
        "Rows per DELETE TOP (n); below SQL Server's lock-escalation threshold (5,000 locks per "
        "statement), so a batch never takes a table lock on tbEventInstance, which client "
        "reporting writes to all the time.",
        4000,
        default=4000,
        ge=1,
        lt=LOCK_ESCALATION_THRESHOLD,
    )


@stage(
    name="sync_history",
    order=70,
    destructive=True,
    needs_preflight=True,
    phase="cleanup",
    settings=SyncHistorySettings,
    rights=("DELETE on dbo.tbEventInstance",),
)
def run(ctx: RunContext) -> StageOutcome:
    from jobs.stages import sync_history as implementation  # imported when the stage runs

    return implementation.run(ctx)
