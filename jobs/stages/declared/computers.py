"""The computers stage as the rest of the tool sees it: its declaration (``@stage``) and its
settings, ``[stages.computers]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from jobs.settings.fields import MAX_INT, Section, doc
from jobs.stages.registry import stage

if TYPE_CHECKING:
    from jobs.runner.context import RunContext, StageOutcome


class ComputerSettings(Section):
    guard_percent: float = doc(
        "Refuse obsolete-computer cleanup when more than this share of all computers might go: "
        "estimated first (silent 30 days, WSUS's default threshold, by either date column, since "
        "which one WSUS tests is not public), so the procedure is not even called; then counted, "
        "inside a transaction, and rolled back.",
        25,
        default=25.0,
        ge=0,
        le=100,
    )
    guard_count: int = doc(
        "Refuse obsolete-computer cleanup when more than this many computers might go "
        "(estimated before the call, silent 30 days by either date column; counted after it).",
        500,
        default=500,
        ge=0,
        le=MAX_INT,
    )
    inactive_days: int | None = Field(
        default=None, exclude=True, description="Refused: the server's threshold applies."
    )

    @field_validator("inactive_days")
    @classmethod
    def _no_inactive_days(cls, value: int | None) -> None:
        if value is not None:
            raise ValueError(
                "removed: spCleanupObsoleteComputers deletes by WSUS's own threshold (30 days by "
                "default), whatever this said; the guard (guard_count, guard_percent) now checks "
                "the computers it really deletes"
            )
        return None


@stage(
    name="computers",
    order=60,
    destructive=True,
    needs_preflight=True,
    phase="cleanup",
    settings=ComputerSettings,
    rights=("EXECUTE dbo.spCleanupObsoleteComputers",),
)
def run(ctx: RunContext) -> StageOutcome:
    from jobs.stages import computers as implementation  # imported when the stage runs

    return implementation.run(ctx)
