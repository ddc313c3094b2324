"""The obsolete_updates stage as the rest of the tool sees it: its declaration (``@stage``) and its
settings, ``[stages.obsolete_updates]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs.settings.fields import MAX_SECONDS, Section, doc
from jobs.stages.registry import stage

if TYPE_CHECKING:
    from jobs.runner.context import RunContext, StageOutcome


class ObsoleteUpdateSettings(Section):
    statement_timeout_seconds: int = doc(
        "Seconds allowed for one spDeleteUpdate call.", 900, default=900, ge=0, le=MAX_SECONDS
    )
    candidate_timeout_seconds: int = doc(
        "Seconds allowed for spGetObsoleteUpdatesToCleanup (slow on neglected servers).",
        3600,
        default=3600,
        ge=0,
        le=MAX_SECONDS,
    )


@stage(
    name="obsolete_updates",
    order=40,
    destructive=True,
    needs_preflight=True,
    phase="cleanup",
    settings=ObsoleteUpdateSettings,
    rights=(
        "EXECUTE dbo.spGetObsoleteUpdatesToCleanup",
        "EXECUTE dbo.spDeleteUpdate",
    ),
)
def run(ctx: RunContext) -> StageOutcome:
    from jobs.stages import obsolete_updates as implementation  # imported when the stage runs

    return implementation.run(ctx)
