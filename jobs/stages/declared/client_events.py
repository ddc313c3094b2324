"""The client_events stage as the rest of the tool sees it: its declaration (``@stage``) and its
settings, ``[stages.client_events]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs.settings.fields import MAX_DAYS, Section, doc
from jobs.stages.declared.sync_history import LOCK_ESCALATION_THRESHOLD
from jobs.stages.registry import stage

if TYPE_CHECKING:
    from jobs.runner.context import RunContext, StageOutcome


# WSUS's own retention of client events: IUpdateServerConfiguration.ClientEventExpirationTime, "The
# default is 15 days" (https://learn.microsoft.com/previous-versions/ms822161(v=msdn.10)). Keeping
# at least that long keeps everything a default WSUS server keeps.
WSUS_CLIENT_EVENT_DAYS = 15


class ClientEventSettings(Section):
    enabled: bool = doc(
        "Delete client reporting events (tbEventInstance) older than `retention_days`; the stage "
        "runs only when this is true and `client_events` is listed in the profile (no default "
        "profile lists it). WSUS's event history (GetUpdateEventHistory) loses what is deleted; "
        "the server's own events (synchronization history) are never touched.",
        True,
        default=False,
    )
    retention_days: int = doc(
        "Keep client reporting events this many days; at least 15, WSUS's own default "
        "(ClientEventExpirationTime).",
        30,
        default=30,
        ge=WSUS_CLIENT_EVENT_DAYS,
        le=MAX_DAYS,
    )
    batch_rows: int = doc(
        "Rows per DELETE TOP (n), below SQL Server's lock-escalation threshold (5,000 locks per "
        "statement), as for sync_history.",
        4000,
        default=4000,
        ge=1,
        lt=LOCK_ESCALATION_THRESHOLD,
    )


@stage(
    name="client_events",
    order=75,
    destructive=True,
    needs_preflight=True,
    phase="cleanup",
    settings=ClientEventSettings,
    rights=("DELETE on dbo.tbEventInstance",),
)
def run(ctx: RunContext) -> StageOutcome:
    from jobs.stages import client_events as implementation  # imported when the stage runs

    return implementation.run(ctx)
