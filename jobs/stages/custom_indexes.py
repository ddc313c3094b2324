"""The two custom indexes Microsoft recommends, detected by leading key column, not by name."""

from __future__ import annotations

from jobs import events
from jobs.runner.context import RunContext, StageOutcome

log = events.get_logger("susdb_maint.stages.custom_indexes")
PREFIX = "nclSusdbMaint_"
# (table, leading column) -> the statement that creates our index for it
WANTED = {
    ("tbLocalizedPropertyForRevision", "LocalizedPropertyID"): (
        "create_index_localized_property",
        f"{PREFIX}LocalizedPropertyID",
    ),
    ("tbRevisionSupersedesUpdate", "SupersededUpdateID"): (
        "create_index_supersedes",
        f"{PREFIX}SupersededUpdateID",
    ),
}


# Declared, with its settings and the rights it needs, in jobs/stages/declared/custom_indexes.py.
def run(ctx: RunContext) -> StageOutcome:
    existing = ctx.susdb.custom_index_columns()
    outcome = StageOutcome(status="planned" if ctx.dry_run else "done")
    if ctx.options.remove_custom_indexes or ctx.settings.stages.custom_indexes.remove:
        for table, index, _ in existing:
            if not index.startswith(PREFIX):
                continue  # only what this tool created: an administrator's own index stays
            log.info(
                "index.drop" + ("" if not ctx.dry_run else ".planned"), table=table, index=index
            )
            if not ctx.dry_run:
                ctx.susdb.drop_custom_index(table, index)
            _count(ctx, outcome)
        return outcome
    covered = {(table, column): index for table, index, column in existing}
    for (table, column), (statement, name) in WANTED.items():
        if (table, column) in covered:
            log.info("index.present", table=table, column=column, index=covered[(table, column)])
            outcome.skipped += 1
            continue
        log.info(
            "index.create" + (".planned" if ctx.dry_run else ""),
            table=table,
            column=column,
            index=name,
        )
        if not ctx.dry_run:
            ctx.susdb.create_custom_index(statement, timeout=0)
        _count(ctx, outcome)
    return outcome


def _count(ctx: RunContext, outcome: StageOutcome) -> None:
    """One index created or dropped; in a plan, one still to do (what the run then does)."""
    if ctx.dry_run:
        outcome.remaining += 1
    else:
        outcome.done += 1
