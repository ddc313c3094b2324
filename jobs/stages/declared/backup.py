"""The backup stage as the rest of the tool sees it: its declaration (``@stage``). Its settings
are the top-level ``[backup]`` section, shared with the backup gate (``jobs/settings/model.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs.stages.registry import stage

if TYPE_CHECKING:
    from jobs.runner.context import RunContext, StageOutcome


@stage(
    name="backup",
    order=5,
    destructive=False,
    needs_preflight=False,
    phase="cleanup",
    rights=("BACKUP DATABASE (backup stage)",),
)
def run(ctx: RunContext) -> StageOutcome:
    from jobs.stages import backup as implementation  # imported when the stage runs

    return implementation.run(ctx)
