"""Statistics after the index work: sp_updatestats, or UPDATE STATISTICS WITH FULLSCAN per table."""

from __future__ import annotations

from jobs import events
from jobs.runner.context import RunContext, StageOutcome

log = events.get_logger("susdb_maint.stages.statistics")


# Declared, with its settings and the rights it needs, in jobs/stages/declared/statistics.py.
def run(ctx: RunContext) -> StageOutcome:
    method = ctx.settings.stages.statistics.method
    if ctx.dry_run:
        # What the run counts: one sp_updatestats call, or one UPDATE STATISTICS per table.
        calls = 1 if method == "sp_updatestats" else len(ctx.susdb.user_tables())
        return StageOutcome(status="planned", remaining=calls, detail={"method": method})
    if method == "sp_updatestats":
        messages = ctx.susdb.update_statistics(timeout=0)
        return StageOutcome(done=1, detail={"method": method, "messages": len(messages)})
    outcome = StageOutcome(detail={"method": method})
    tables = ctx.susdb.user_tables()
    for position, table in enumerate(tables):
        if ctx.out_of_time():
            outcome.status, outcome.reason = "partial", ctx.stop_reason()
            outcome.remaining = len(tables) - position
            break
        ctx.susdb.update_table_statistics(table, timeout=0)
        outcome.done += 1
    return outcome
