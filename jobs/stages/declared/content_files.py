"""The content_files stage as the rest of the tool sees it: its declaration (``@stage``) and its
settings, ``[stages.content_files]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs.settings.fields import MAX_SECONDS, Section, doc
from jobs.stages.registry import stage

if TYPE_CHECKING:
    from jobs.runner.context import RunContext, StageOutcome


class ContentFileSettings(Section):
    timeout_seconds: int = doc(
        "Seconds allowed for Invoke-WsusServerCleanup -CleanupUnneededContentFiles.",
        7200,
        default=7200,
        ge=1,
        le=MAX_SECONDS,
    )


@stage(
    name="content_files",
    order=80,
    destructive=False,
    needs_preflight=False,
    phase="cleanup",
    settings=ContentFileSettings,
    rights=(),  # none in SUSDB: WSUS's own cmdlet, on the WSUS host
    external=True,
)
def run(ctx: RunContext) -> StageOutcome:
    from jobs.stages import content_files as implementation  # imported when the stage runs

    return implementation.run(ctx)
