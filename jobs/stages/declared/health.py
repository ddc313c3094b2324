"""The health stage as the rest of the tool sees it: its declaration (``@stage``) and its
settings, ``[stages.health]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs.settings.fields import MAX_DAYS, Section, doc
from jobs.stages.registry import stage

if TYPE_CHECKING:
    from jobs.runner.context import RunContext, StageOutcome


class HealthSettings(Section):
    superseded_warning: int = doc(
        "Warn above this many superseded, not declined updates (Microsoft: 1500).",
        1500,
        default=1500,
        ge=0,
    )
    not_declined_warning: int = doc(
        "Warn above this many not-declined updates (what clients scan).", 7000, default=7000, ge=0
    )
    event_rows_warning: int = doc(
        "Warn above this many tbEventInstance rows (KB 909131: 1 million).",
        1000000,
        default=1_000_000,
        ge=0,
    )
    count_obsolete: bool = doc(
        "Count the obsolete backlog with spGetObsoleteUpdatesToCleanup (slow on neglected servers).",
        False,
        default=False,
    )
    stopped_reporting_days: int = doc(
        "A computer that sent a status report once and none for this many days counts as stopped "
        "reporting (30: the threshold WSUS's own cleanup deletes computers at by default, "
        "MS-WSUSAR 3.1.4.108).",
        30,
        default=30,
        ge=1,
        le=MAX_DAYS,
    )


@stage(
    name="health",
    order=100,
    destructive=False,
    needs_preflight=False,
    phase="cleanup",
    reporting=True,
    settings=HealthSettings,
    rights=(
        "SELECT on database",
        "VIEW DATABASE STATE",
    ),
)
def run(ctx: RunContext) -> StageOutcome:
    from jobs.stages import health as implementation  # imported when the stage runs

    return implementation.run(ctx)
