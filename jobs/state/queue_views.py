"""What an operator sees of the queues and does to them (``status``, ``queue show|retry|clear``),
by the target names the queues were last built for: an operator names a target, the queues
belong to databases.
"""

from __future__ import annotations

from typing import Any

from jobs.state.file import StateFile, dicts


class QueueViews(StateFile):
    """Quarantined and queued items by target, and the operator's retry and clear."""

    def databases_of(self, target: str) -> list[str]:
        """The database identities a target's queues belong to."""
        with self.reading():
            rows = self.db.execute(
                "SELECT DISTINCT database_id FROM queues WHERE target = ?", (target,)
            ).fetchall()
        return [row[0] for row in rows]

    def _scope(self, target: str | None) -> tuple[str, tuple[Any, ...]]:
        if target is None:
            return "", ()
        return (
            " AND w.database_id IN (SELECT database_id FROM queues WHERE target = ?)",
            (target,),
        )

    def quarantined(self, target: str | None = None) -> list[dict[str, Any]]:
        where, params = self._scope(target)
        sql = (
            "SELECT q.target, w.stage, w.item_key, w.payload_json, w.failed_runs, w.last_error_kind, "
            "w.last_error, w.updated_at FROM work_items w JOIN queues q ON q.database_id = w.database_id "
            "AND q.stage = w.stage WHERE w.status = 'quarantined'"
            + where
            + " ORDER BY q.target, w.stage, w.ordinal"
        )
        with self.reading():
            return dicts(self.db.execute(sql, params))

    def queue_items(
        self, target: str, stage: str | None, statuses: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(statuses))
        where, params = self._scope(target)
        sql = (
            f"SELECT w.stage, w.item_key, w.status, w.attempts, w.failed_runs, w.last_error_kind, "
            f"w.last_error, w.reason, w.payload_json FROM work_items w WHERE w.status IN ({marks})"
            + where
            + (" AND w.stage = ?" if stage else "")
            + " ORDER BY w.stage, w.ordinal"
        )
        with self.reading():
            return dicts(self.db.execute(sql, (*statuses, *params, *((stage,) if stage else ()))))

    def retry_quarantined(self, target: str, stage: str | None = None) -> int:
        where, params = self._scope(target)
        with self.transaction():
            sql = (
                "UPDATE work_items AS w SET status = 'pending', failed_runs = 0 "
                "WHERE w.status = 'quarantined'" + where
            )
            return self.db.execute(
                sql + (" AND w.stage = ?" if stage else ""),
                (*params, *((stage,) if stage else ())),
            ).rowcount

    def clear_queue(self, target: str, stage: str | None = None) -> int:
        """Drop a target's queues; items in flight stay, so the next run settles them first."""
        where, params = self._scope(target)
        stage_filter = (" AND w.stage = ?", (stage,)) if stage else ("", ())
        with self.transaction():
            count = self.db.execute(
                "DELETE FROM work_items AS w WHERE w.status <> 'in_flight'"
                + where
                + stage_filter[0],
                (*params, *stage_filter[1]),
            ).rowcount
            self.db.execute(
                "DELETE FROM queues WHERE target = ?" + (" AND stage = ?" if stage else ""),
                (target, stage) if stage else (target,),
            )
            return count
