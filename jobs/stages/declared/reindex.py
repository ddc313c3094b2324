"""The reindex stage as the rest of the tool sees it: its declaration (``@stage``) and its
settings, ``[stages.reindex]``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from jobs.settings.fields import MAX_INT, MAX_SECONDS, Section, doc
from jobs.stages.registry import stage

if TYPE_CHECKING:
    from jobs.runner.context import RunContext, StageOutcome


class ReindexSettings(Section):
    mode: Literal["microsoft", "bands"] = doc(
        "`microsoft`: the thresholds of Microsoft's WSUS reindex script; `bands`: the "
        "fragmentation bands below (Ola Hallengren style).",
        "microsoft",
        default="microsoft",
    )
    reorganize_above_percent: float = doc(
        "With `bands`: reorganize above this fragmentation.", 5, default=5.0, ge=0, le=100
    )
    rebuild_above_percent: float = doc(
        "Rebuild above this fragmentation (Microsoft: 30).", 30, default=30.0, ge=0, le=100
    )
    min_pages: int = doc(
        "With `bands`: ignore indexes smaller than this.", 1000, default=1000, ge=0, le=MAX_INT
    )
    online: bool = doc(
        "REBUILD WITH (ONLINE = ON) where the edition allows it (Enterprise, Developer), never on "
        "WID. Off by default, as in Microsoft's script. An index that cannot be rebuilt online "
        "(a clustered index of a table with text, ntext or image columns) is rebuilt offline.",
        False,
        default=False,
    )
    maxdop: int | None = doc("MAXDOP for rebuilds.", 2, default=None, ge=0, le=64)
    fill_factor: int = doc(
        "Fill factor for a first rebuild of an index with 5000+ rows and none set.",
        90,
        default=90,
        ge=1,
        le=100,
    )
    statement_timeout_seconds: int = doc(
        "Seconds allowed for one ALTER INDEX.", 3600, default=3600, ge=0, le=MAX_SECONDS
    )


@stage(
    name="reindex",
    order=20,
    destructive=False,
    needs_preflight=True,
    phase="cleanup",
    settings=ReindexSettings,
    rights=(
        "VIEW DATABASE STATE",
        "ALTER on every dbo table (reindex)",
    ),
)
def run(ctx: RunContext) -> StageOutcome:
    from jobs.stages import reindex as implementation  # imported when the stage runs

    return implementation.run(ctx)
