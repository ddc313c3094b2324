"""The custom_indexes stage as the rest of the tool sees it: its declaration (``@stage``) and its
settings, ``[stages.custom_indexes]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs.settings.fields import Section, doc
from jobs.stages.registry import stage

if TYPE_CHECKING:
    from jobs.runner.context import RunContext, StageOutcome


class CustomIndexSettings(Section):
    remove: bool = doc(
        "Drop the custom indexes this tool created instead of creating them.", False, default=False
    )


@stage(
    name="custom_indexes",
    order=10,
    destructive=False,
    needs_preflight=False,
    phase="cleanup",
    settings=CustomIndexSettings,
    rights=(
        "ALTER on dbo.tbLocalizedPropertyForRevision (custom index)",
        "ALTER on dbo.tbRevisionSupersedesUpdate (custom index)",
    ),
)
def run(ctx: RunContext) -> StageOutcome:
    from jobs.stages import custom_indexes as implementation  # imported when the stage runs

    return implementation.run(ctx)
