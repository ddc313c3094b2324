"""The statistics stage as the rest of the tool sees it: its declaration (``@stage``) and its
settings, ``[stages.statistics]``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from jobs.settings.fields import Section, doc
from jobs.stages.registry import stage

if TYPE_CHECKING:
    from jobs.runner.context import RunContext, StageOutcome


class StatisticsSettings(Section):
    method: Literal["sp_updatestats", "fullscan"] = doc(
        "`sp_updatestats` (changed statistics, default sampling) or per-table UPDATE STATISTICS "
        "WITH FULLSCAN.",
        "sp_updatestats",
        default="sp_updatestats",
    )


@stage(
    name="statistics",
    order=90,
    destructive=False,
    needs_preflight=False,
    phase="cleanup",
    settings=StatisticsSettings,
    rights=("db_owner (sp_updatestats)",),
)
def run(ctx: RunContext) -> StageOutcome:
    from jobs.stages import statistics as implementation  # imported when the stage runs

    return implementation.run(ctx)
