"""Building a queue: a candidate query's rows spooled aside, then swapped in as a stage's queue
in one short transaction, or kept as a plan.

The candidate query can take minutes on a neglected server; its rows go into ``queue_spool`` in
short committed chunks, so the state store's write lock is never held while the server works.
The swap keeps each item's failure count, so a poison item is quarantined on its third failing
night. A plan (a dry run) never creates or changes a queue the next run executes: its rows go to
``planned_items`` instead, and only the latest plan is kept.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from typing import Any

from jobs.state.file import StateFile, dicts

SPOOL_CHUNK = 5000


def spool_owner(kind: str, database: str) -> str:
    """The prefix of a build ID: whose candidate rows these are (a run's or a plan's, for one
    database). A run holds the target lock, so another run's builds for its database can only be
    a killed process's."""
    return f"{kind}:{database}:"


class QueueBuilds(StateFile):
    """Spooled candidate rows, and what becomes of them: a stage's queue, or the latest plan."""

    def spool(
        self, items: Iterable[tuple[str, dict[str, Any]]], owner: str = ""
    ) -> tuple[str, int]:
        """Write a candidate query's rows aside in short committed chunks (the write lock is never
        held while the server works); the first row for a key wins. Return (build ID, rows).
        ``owner`` (``spool_owner``) names whose build it is, so the rows a killed process left can
        be found and removed (``discard_abandoned_spools``)."""
        build_id = f"{owner}{int(time.time())}:{uuid.uuid4().hex}"
        insert = "INSERT OR IGNORE INTO queue_spool VALUES (?, ?, ?, ?)"
        chunk: list[tuple[Any, ...]] = []
        total = 0
        try:
            for ordinal, (key, payload) in enumerate(items):
                chunk.append((build_id, ordinal, key, json.dumps(payload)))
                if len(chunk) >= SPOOL_CHUNK:
                    with self.transaction():
                        self.db.executemany(insert, chunk)
                    total += len(chunk)
                    chunk.clear()
            if chunk:
                with self.transaction():
                    self.db.executemany(insert, chunk)
                total += len(chunk)
        except BaseException:
            self.discard_spool(build_id)
            raise
        return build_id, total

    def discard_abandoned_spools(self, owner: str, older_than_seconds: float = 0.0) -> int:
        """Remove the spooled rows of ``owner``'s builds started more than ``older_than_seconds``
        ago: what a process killed while its candidate query ran left behind. Return the rows."""
        cutoff = time.time() - older_than_seconds
        with self.reading():
            builds = [
                build
                for (build,) in self.db.execute(
                    "SELECT DISTINCT build_id FROM queue_spool "
                    "WHERE substr(build_id, 1, length(?)) = ?",
                    (owner, owner),
                )
                if int(build[len(owner) :].split(":", 1)[0] or 0) <= cutoff
            ]
        removed = 0
        for build in builds:
            with self.transaction():
                removed += self.db.execute(
                    "DELETE FROM queue_spool WHERE build_id = ?", (build,)
                ).rowcount
        return removed

    def discard_spool(self, build_id: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM queue_spool WHERE build_id = ?", (build_id,))

    def swap_in(
        self,
        database: str,
        stage: str,
        build_id: str,
        *,
        target: str,
        run_id: str,
        build_seconds: float,
    ) -> int:
        """Replace a stage's queue with a spooled build in one short transaction. An item that is
        a candidate again keeps its failure count, attempts and last error (so a poison item is
        quarantined on its third failing night); quarantined items stay until an operator acts;
        items that are no longer candidates leave the queue. Return the items queued."""
        key = (database, stage)
        with self.transaction():
            self.db.execute(
                "UPDATE work_items SET status = 'stale' WHERE database_id = ? AND stage = ? "
                "AND status <> 'quarantined'",
                key,
            )
            self.db.execute(
                "INSERT INTO work_items (database_id, stage, ordinal, item_key, payload_json, status, updated_at) "
                "SELECT ?, ?, s.ordinal, s.item_key, s.payload_json, 'pending', ? FROM queue_spool s "
                "WHERE s.build_id = ? ORDER BY s.ordinal "
                "ON CONFLICT (database_id, stage, item_key) DO UPDATE SET "
                "ordinal = excluded.ordinal, payload_json = excluded.payload_json, reason = NULL, "
                "updated_at = excluded.updated_at, "
                "status = CASE WHEN work_items.status = 'quarantined' THEN 'quarantined' ELSE 'pending' END",
                (*key, self._stamp(), build_id),
            )
            self.db.execute(
                "DELETE FROM work_items WHERE database_id = ? AND stage = ? AND status = 'stale'",
                key,
            )
            self.db.execute("DELETE FROM queue_spool WHERE build_id = ?", (build_id,))
            self.db.execute(
                "INSERT OR REPLACE INTO queues VALUES (?, ?, ?, ?, ?, ?)",
                (*key, target, self._stamp(), run_id, build_seconds),
            )
            (queued,) = self.db.execute(
                "SELECT COUNT(*) FROM work_items WHERE database_id = ? AND stage = ? AND status = 'pending'",
                key,
            ).fetchone()
        return int(queued)

    def keep_plan(
        self,
        run_id: str,
        stage: str,
        build_id: str,
        *,
        taken_by: str | None = None,
        database: str = "",
    ) -> int:
        """Keep a plan's spooled candidates as the latest plan (never as a queue); return how
        many it holds. Earlier plans are dropped. ``taken_by``: a stage that gets to some of
        them first; what this plan holds for it, or its queue still has to do, is left out."""
        with self.transaction():
            self.db.execute("DELETE FROM planned_items WHERE run_id <> ?", (run_id,))
            self.db.execute(
                "INSERT OR IGNORE INTO planned_items "
                "SELECT ?, ?, s.ordinal, s.item_key, s.payload_json FROM queue_spool s "
                "WHERE s.build_id = ? AND NOT EXISTS (SELECT 1 FROM planned_items p "
                "WHERE p.run_id = ? AND p.stage = ? AND p.item_key = s.item_key) "
                "AND NOT EXISTS (SELECT 1 FROM work_items w WHERE w.database_id = ? "
                "AND w.stage = ? AND w.item_key = s.item_key "
                "AND w.status IN ('pending', 'in_flight', 'failed'))",
                (run_id, stage, build_id, run_id, taken_by, database, taken_by),
            )
            self.db.execute("DELETE FROM queue_spool WHERE build_id = ?", (build_id,))
            (planned,) = self.db.execute(
                "SELECT COUNT(*) FROM planned_items WHERE run_id = ? AND stage = ?",
                (run_id, stage),
            ).fetchone()
        return int(planned)

    def planned_reasons(self, run_id: str, stage: str) -> dict[str, int]:
        with self.reading():
            rows = self.db.execute(
                "SELECT json_extract(payload_json, '$.reason'), COUNT(*) FROM planned_items "
                "WHERE run_id = ? AND stage = ? GROUP BY 1 ORDER BY 2 DESC",
                (run_id, stage),
            ).fetchall()
        return {reason: count for reason, count in rows}

    def planned_items(self, run_id: str) -> list[dict[str, Any]]:
        """A plan's items: stage, item_key and payload_json (what the stage knows of each)."""
        with self.reading():
            return dicts(
                self.db.execute(
                    "SELECT stage, item_key, payload_json "
                    "FROM planned_items WHERE run_id = ? ORDER BY stage, ordinal",
                    (run_id,),
                )
            )
