"""One module per maintenance stage; each exposes ``run(ctx) -> StageOutcome``.

A stage says what to do; the gateway (``jobs.susdb``) and ``sql/`` say how to say it to SQL
Server; the runner decides when to stop.
"""

from collections.abc import Callable

from jobs.runner.context import RunContext, StageOutcome
from jobs.stages import (
    backup,
    compress,
    computers,
    content_files,
    custom_indexes,
    decline,
    delete_fix,
    health,
    obsolete_updates,
    preflight,
    reindex,
    statistics,
    sync_history,
)

STAGES: dict[str, Callable[[RunContext], StageOutcome]] = {
    "preflight": preflight.run,
    "backup": backup.run,
    "custom_indexes": custom_indexes.run,
    "reindex": reindex.run,
    "decline": decline.run,
    "delete_fix": delete_fix.run,
    "obsolete_updates": obsolete_updates.run,
    "compress": compress.run,
    "computers": computers.run,
    "sync_history": sync_history.run,
    "content_files": content_files.run,
    "statistics": statistics.run,
    "health": health.run,
}
