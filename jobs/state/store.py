"""The state store: one object over the state file, made of one part per concern.

- ``jobs.state.file``: the SQLite file (WAL, busy waits, transactions, one-line errors);
- ``jobs.state.schema``: its migrations;
- ``jobs.state.history``: runs, stage results, KPIs, what each run checkpointed;
- ``jobs.state.queues``: work items and their checkpoints, per-item times;
- ``jobs.state.spool``: building a queue (or a plan) from a candidate query;
- ``jobs.state.queue_views``: what an operator sees of the queues and does to them;
- ``jobs.state.audit``: what the tool changed (declined updates, replaced procedures).

Each part is a class over the one ``StateFile``; ``StateStore`` is all of them, so a caller opens
one store and one connection, and a checkpoint can write an item's status, its run's progress
and its audit row in one commit. The names callers import from here are kept here.
"""

from __future__ import annotations

from datetime import timedelta

from jobs.state import audit, history
from jobs.state.audit import AuditLog, AuditRow, DeclineRecord
from jobs.state.file import FILE_NAME, STAMP
from jobs.state.history import RunHistory
from jobs.state.queue_views import QueueViews
from jobs.state.queues import ACTIVE, TERMINAL, Completion, WorkItem, WorkQueues
from jobs.state.schema import MIGRATIONS, SCHEMA_VERSION
from jobs.state.spool import QueueBuilds, spool_owner

__all__ = [
    "ACTIVE",
    "FILE_NAME",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "STAMP",
    "TERMINAL",
    "AuditRow",
    "Completion",
    "DeclineRecord",
    "StateStore",
    "WorkItem",
    "spool_owner",
]


class StateStore(RunHistory, WorkQueues, QueueBuilds, QueueViews, AuditLog):
    """The state file with every part's methods: what the runner, the commands and the reports
    open."""

    def prune(self, history_days: float, declines_days: float) -> dict[str, int]:
        """Drop run history older than ``history_days`` and decline history older than
        ``declines_days``; return what went, per table."""

        def cutoff(days: float) -> str:
            return (self.clock.now() - timedelta(days=days)).strftime(STAMP)

        runs_before, declines_before = cutoff(history_days), cutoff(declines_days)
        with self.reading():
            old = history.count_old_runs(self.db, runs_before)
            old += audit.count_old_declines(self.db, declines_before)
        if not old:  # nothing to drop: no write, no fsync
            return {}
        with self.transaction():
            removed = history.forget_runs(self.db, runs_before)
            removed.update(audit.forget_declines(self.db, declines_before))
        return {table: count for table, count in removed.items() if count}
