"""The delete_fix stage as the rest of the tool sees it: its declaration (``@stage``) and its
settings, ``[stages.delete_fix]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs.settings.fields import Section, doc
from jobs.stages.registry import stage

if TYPE_CHECKING:
    from jobs.runner.context import RunContext, StageOutcome


class DeleteFixSettings(Section):
    apply: bool = doc(
        "Apply Microsoft's published spDeleteUpdate change (a primary key on its table variable; "
        "each delete then takes about a second instead of tens) before the obsolete cleanup, when "
        "the procedure's text is WSUS's original and the backup gate passed; the original text is "
        "kept and `run --restore-delete-update` puts it back.",
        False,
        default=False,
    )


@stage(
    name="delete_fix",
    order=35,
    destructive=True,
    needs_preflight=True,
    phase="cleanup",
    settings=DeleteFixSettings,
    rights=(
        "VIEW DEFINITION on dbo.spDeleteUpdate (fix check)",
        "ALTER on dbo.spDeleteUpdate (delete_fix stage)",
    ),
)
def run(ctx: RunContext) -> StageOutcome:
    from jobs.stages import delete_fix as implementation  # imported when the stage runs

    return implementation.run(ctx)
