"""Work queues: each stage's items on one database, and the checkpoints that move them on.

An item is keyed by the identity of the database it was found in, never by a target's name in a
config: a queue is only ever worked against that same database. Its life is the exactly-once
protocol (docs/architecture.md): ``pending``, marked ``in_flight`` in a durable commit before it
is sent (``mark_batch_in_flight``), then ``done``, ``skipped`` or ``gone`` in its batch's
checkpoint (``complete``), or ``failed`` until it is ``quarantined`` (``mark_failed``). How a queue
is filled is ``jobs.state.spool``; what an operator sees and does, ``jobs.state.queue_views``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobs.state.audit import AuditRow
from jobs.state.file import STAMP, StateFile
from jobs.state.history import count_progress

ACTIVE = ("pending", "in_flight", "failed")
TERMINAL = ("done", "skipped", "gone")


@dataclass(frozen=True)
class WorkItem:
    key: str
    payload: dict[str, Any]
    status: str
    attempts: int
    failed_runs: int
    run_id: str | None = None  # the run that last sent it (or marked it in flight)

    @property
    def may_have_reached_the_server(self) -> bool:
        """Sent before (a killed run, a lost reply, a timeout): verify before sending again."""
        return self.attempts > 0


@dataclass(frozen=True)
class Completion:
    """How one item ended in a batch: ``done``, ``skipped`` (with a reason) or ``gone``."""

    key: str
    status: str
    reason: str | None = None


def _items(rows: list[Any]) -> list[WorkItem]:
    return [
        WorkItem(key, json.loads(payload), status, attempts, failed_runs, run_id)
        for key, payload, status, attempts, failed_runs, run_id in rows
    ]


class WorkQueues(StateFile):
    """Each stage's queue on a database: what is next, what is in flight, and the checkpoints."""

    def queue_info(self, database: str, stage: str) -> dict[str, Any] | None:
        """The queue's age in hours and how long its last candidate query took, or None."""
        with self.reading():
            row = self.db.execute(
                "SELECT created_at, build_seconds, created_by_run FROM queues "
                "WHERE database_id = ? AND stage = ?",
                (database, stage),
            ).fetchone()
        if not row:
            return None
        created = datetime.strptime(row[0], STAMP)
        age = (self.clock.now() - created).total_seconds() / 3600
        return {"age_hours": age, "build_seconds": row[1], "run_id": row[2]}

    def active_count(self, database: str, stage: str) -> int:
        """Items a stage still has to work through (pending, interrupted or failed)."""
        counts = self.queue_counts(database, stage)
        return sum(counts.get(status, 0) for status in ACTIVE)

    def queue_counts(self, database: str, stage: str) -> dict[str, int]:
        with self.reading():
            rows = self.db.execute(
                "SELECT status, COUNT(*) FROM work_items WHERE database_id = ? AND stage = ? GROUP BY status",
                (database, stage),
            ).fetchall()
        return {status: count for status, count in rows}

    def next_items(
        self, database: str, stage: str, limit: int, exclude: set[str] | None = None
    ) -> list[WorkItem]:
        with self.reading():
            rows = self.db.execute(
                "SELECT item_key, payload_json, status, attempts, failed_runs, run_id FROM work_items "
                "WHERE database_id = ? AND stage = ? AND status IN ('pending', 'in_flight', 'failed') "
                "ORDER BY ordinal LIMIT ?",
                (database, stage, limit + len(exclude or ())),
            ).fetchall()
        items = [item for item in _items(rows) if item.key not in (exclude or set())]
        return items[:limit]

    def in_flight(self, database: str, stage: str) -> list[WorkItem]:
        """Items a run sent (or was about to send) and never settled."""
        with self.reading():
            rows = self.db.execute(
                "SELECT item_key, payload_json, status, attempts, failed_runs, run_id FROM work_items "
                "WHERE database_id = ? AND stage = ? AND status = 'in_flight' ORDER BY ordinal",
                (database, stage),
            ).fetchall()
        return _items(rows)

    def count_by_reason(
        self, database: str, stage: str, statuses: tuple[str, ...]
    ) -> dict[str, int]:
        marks = ",".join("?" * len(statuses))
        with self.reading():
            rows = self.db.execute(
                f"SELECT json_extract(payload_json, '$.reason'), COUNT(*) FROM work_items "
                f"WHERE database_id = ? AND stage = ? AND status IN ({marks}) GROUP BY 1 ORDER BY 2 DESC",
                (database, stage, *statuses),
            ).fetchall()
        return {reason: count for reason, count in rows}

    def active_keys(self, database: str, stage: str) -> frozenset[str]:
        """The keys of a stage's items still to be done (pending, in flight, failed)."""
        marks = ",".join("?" * len(ACTIVE))
        with self.reading():
            rows = self.db.execute(
                f"SELECT item_key FROM work_items WHERE database_id = ? AND stage = ? "
                f"AND status IN ({marks})",
                (database, stage, *ACTIVE),
            ).fetchall()
        return frozenset(row[0] for row in rows)

    def mark_batch_in_flight(self, database: str, stage: str, keys: list[str], run_id: str) -> None:
        """Mark a batch's items in flight in one durable commit, before any of them is sent."""
        now = self._stamp()
        # This commit (and all before it) is on disk before a statement is sent: even an OS
        # crash cannot roll the store back past an item the server may have seen (one fsync a
        # batch).
        self.db.execute("PRAGMA synchronous = FULL")
        try:
            with self.transaction():
                self.db.executemany(
                    "UPDATE work_items SET status = 'in_flight', attempts = attempts + 1, run_id = ?, "
                    "updated_at = ? WHERE database_id = ? AND stage = ? AND item_key = ?",
                    [(run_id, now, database, stage, key) for key in keys],
                )
        finally:
            self.db.execute("PRAGMA synchronous = NORMAL")

    def release(self, database: str, stage: str, keys: list[str]) -> None:
        """Items marked in flight but never sent (a stop between items): back to pending."""
        if not keys:
            return
        with self.transaction():
            self.db.executemany(
                "UPDATE work_items SET status = 'pending', attempts = MAX(0, attempts - 1) "
                "WHERE database_id = ? AND stage = ? AND item_key = ? AND status = 'in_flight'",
                [(database, stage, key) for key in keys],
            )

    def complete(
        self,
        database: str,
        stage: str,
        run_id: str,
        completions: list[Completion],
        audit: Sequence[AuditRow],
        target: str,
        *,
        counted: bool = True,
    ) -> None:
        """Checkpoint a batch in one commit: how each item ended, and the stage's audit rows
        about them (a decline the server confirmed), so the history holds a change exactly when
        the queue holds its item settled. ``counted``: the batch is this run's stage work (not
        items an earlier run left in flight, settled before a rebuild), so it counts towards the
        run's progress."""
        if not completions and not audit:
            return
        now = self._stamp()
        done = sum(entry.status == "done" for entry in completions)
        with self.transaction():
            if counted:
                count_progress(self.db, run_id, stage, done, len(completions) - done, 0)
            self.db.executemany(
                "UPDATE work_items SET status = ?, reason = ?, run_id = ?, updated_at = ? "
                "WHERE database_id = ? AND stage = ? AND item_key = ?",
                [
                    (entry.status, entry.reason, run_id, now, database, stage, entry.key)
                    for entry in completions
                ],
            )
            for row in audit:
                row.keep(self.db, target, now)

    def mark_failed(
        self,
        database: str,
        stage: str,
        key: str,
        run_id: str,
        kind: str,
        message: str,
        quarantine_after: int,
    ) -> bool:
        """Record a failed item; return True when this failure quarantines it."""
        with self.transaction():
            count_progress(self.db, run_id, stage, 0, 0, 1)
            self.db.execute(
                "UPDATE work_items SET failed_runs = failed_runs + 1, last_error_kind = ?, last_error = ?, run_id = ?, "
                "updated_at = ?, status = CASE WHEN failed_runs + 1 >= ? THEN 'quarantined' ELSE 'failed' END "
                "WHERE database_id = ? AND stage = ? AND item_key = ?",
                (
                    kind,
                    message[:2000],
                    run_id,
                    self._stamp(),
                    quarantine_after,
                    database,
                    stage,
                    key,
                ),
            )
            row = self.db.execute(
                "SELECT status FROM work_items WHERE database_id = ? AND stage = ? AND item_key = ?",
                (database, stage, key),
            ).fetchone()
        return bool(row and row[0] == "quarantined")

    def forget_finished(self, database: str, stage: str) -> None:
        """A drained queue keeps no finished items: the state store stays the size of the work."""
        with self.transaction():
            self.db.execute(
                "DELETE FROM work_items WHERE database_id = ? AND stage = ? AND status IN ('done', 'skipped', 'gone')",
                (database, stage),
            )

    # -- per-item times, by target name: what sizes batches and estimates a plan ------------------
    def add_timing(self, target: str, stage: str, items: int, seconds: float) -> None:
        if items <= 0:
            return
        with self.transaction():
            self.db.execute(
                "INSERT INTO item_timings VALUES (?, ?, ?, ?) ON CONFLICT (target, stage) DO UPDATE SET "
                "items = items + excluded.items, seconds = seconds + excluded.seconds",
                (target, stage, items, seconds),
            )

    def seconds_per_item(self, target: str, stage: str) -> float | None:
        with self.reading():
            row = self.db.execute(
                "SELECT items, seconds FROM item_timings WHERE target = ? AND stage = ?",
                (target, stage),
            ).fetchone()
        return row[1] / row[0] if row and row[0] else None
