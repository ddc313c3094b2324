"""The compress stage as the rest of the tool sees it: its declaration (``@stage``) and its
settings, ``[stages.compress]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs.settings.fields import MAX_SECONDS, Section, doc
from jobs.stages.registry import stage

if TYPE_CHECKING:
    from jobs.runner.context import RunContext, StageOutcome


class CompressSettings(Section):
    statement_timeout_seconds: int = doc(
        "Seconds allowed for one spCompressUpdate call.", 600, default=600, ge=0, le=MAX_SECONDS
    )


@stage(
    name="compress",
    order=50,
    destructive=True,
    needs_preflight=True,
    phase="cleanup",
    settings=CompressSettings,
    rights=(
        "EXECUTE dbo.spGetUpdatesToCompress",
        "EXECUTE dbo.spCompressUpdate",
    ),
)
def run(ctx: RunContext) -> StageOutcome:
    from jobs.stages import compress as implementation  # imported when the stage runs

    return implementation.run(ctx)
