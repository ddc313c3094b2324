"""The preflight stage as the rest of the tool sees it: its declaration (``@stage``) and its
settings, ``[stages.preflight]``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from jobs.settings.fields import MAX_HOURS, Section, doc
from jobs.stages.registry import stage

if TYPE_CHECKING:
    from jobs.runner.context import RunContext, StageOutcome


class PreflightSettings(Section):
    sync_quiet_minutes: int = doc(
        "A WSUS synchronization event recorded less than this many minutes ago means a "
        "synchronization may be running (SUSDB has no documented 'running' flag, so a recent "
        "synchronization event is the sign). 0: do not check.",
        30,
        default=30,
        ge=0,
        le=10_080,
    )
    sync_guard: Literal["wait", "warn"] = doc(
        "While a synchronization may be running: `wait` (up to sync_wait_minutes, inside the "
        "window, for it to go quiet; destructive stages are deferred, exit 3, if it does not) or "
        "`warn` (go on). Microsoft asks for no synchronization during maintenance.",
        "wait",
        default="wait",
    )
    sync_wait_minutes: float = doc(
        "How long the sync guard waits for a synchronization to go quiet.",
        45,
        default=45.0,
        ge=0,
        le=MAX_HOURS * 60,
    )


@stage(
    name="preflight",
    order=0,
    destructive=False,
    needs_preflight=False,
    phase="both",
    settings=PreflightSettings,
    rights=(
        "SELECT on database",
        "VIEW DATABASE STATE",
        "SELECT on msdb.dbo.backupset (backup gate)",
        "VIEW DEFINITION on dbo.spDeleteUpdate (fix check)",
    ),
)
def run(ctx: RunContext) -> StageOutcome:
    from jobs.stages import preflight as implementation  # imported when the stage runs

    return implementation.run(ctx)
