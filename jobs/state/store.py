"""The state store: SQLite in WAL mode, versioned migrations, one commit per state change.

WAL with synchronous=NORMAL keeps every committed change across a SIGKILL (only an operating
system crash can lose the last commits), at tens of microseconds per commit. A corrupt file, or
one written by a newer version, is an error with the path in it: never a silent reset.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobs.errors import StateError

FILE_NAME = "state.sqlite3"

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        target TEXT NOT NULL,
        profile TEXT NOT NULL,
        dry_run INTEGER NOT NULL DEFAULT 0,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL DEFAULT 'running',
        exit_code INTEGER,
        summary_json TEXT
    );
    CREATE INDEX runs_by_target ON runs (target, started_at);
    CREATE TABLE stage_results (
        run_id TEXT NOT NULL REFERENCES runs (run_id),
        ordinal INTEGER NOT NULL,
        stage TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        duration_seconds REAL,
        done INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        remaining INTEGER NOT NULL DEFAULT 0,
        detail_json TEXT,
        PRIMARY KEY (run_id, ordinal)
    );
    CREATE TABLE kpis (
        run_id TEXT NOT NULL,
        phase TEXT NOT NULL,
        name TEXT NOT NULL,
        value REAL,
        PRIMARY KEY (run_id, phase, name)
    );
    CREATE TABLE queues (
        target TEXT NOT NULL,
        stage TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by_run TEXT,
        PRIMARY KEY (target, stage)
    );
    CREATE TABLE work_items (
        target TEXT NOT NULL,
        stage TEXT NOT NULL,
        ordinal INTEGER NOT NULL,
        item_key TEXT NOT NULL,
        payload_json TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        failed_runs INTEGER NOT NULL DEFAULT 0,
        last_error_kind TEXT,
        last_error TEXT,
        reason TEXT,
        run_id TEXT,
        updated_at TEXT,
        PRIMARY KEY (target, stage, item_key)
    );
    CREATE INDEX work_items_next ON work_items (target, stage, status, ordinal);
    CREATE TABLE item_timings (
        target TEXT NOT NULL,
        stage TEXT NOT NULL,
        items INTEGER NOT NULL DEFAULT 0,
        seconds REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (target, stage)
    );
    CREATE TABLE declined_updates (
        run_id TEXT NOT NULL,
        target TEXT NOT NULL,
        update_id TEXT NOT NULL,
        kb TEXT,
        title TEXT,
        reason TEXT NOT NULL,
        declined_at TEXT NOT NULL,
        PRIMARY KEY (run_id, update_id)
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
ACTIVE = ("pending", "in_flight", "failed")


@dataclass(frozen=True)
class WorkItem:
    key: str
    payload: dict[str, Any]
    status: str
    attempts: int
    failed_runs: int


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%SZ")


class StateStore:
    def __init__(self, state_dir: Path, *, read_only: bool = False) -> None:
        self.path = Path(state_dir) / FILE_NAME
        if read_only and not self.path.exists():
            raise StateError(
                f"{self.path}: no state file yet (nothing has run with this state directory)"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(
                self.path, isolation_level=None, timeout=30, check_same_thread=False
            )
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StateError(
                    f"{self.path}: written by a newer susdb-maint (state schema {version}, this version knows "
                    f"{SCHEMA_VERSION}); upgrade susdb-maint or point --state-dir elsewhere"
                )
            if version < SCHEMA_VERSION:
                self._migrate(version)
            self.db.execute("SELECT count(*) FROM runs").fetchone()
        except sqlite3.DatabaseError as error:
            raise StateError(
                f"{self.path}: the state file is corrupt or not a susdb-maint state file ({error}); "
                "move it aside to start a new history"
            ) from None

    def _migrate(self, current: int) -> None:
        for version in range(current, SCHEMA_VERSION):
            with self.transaction():
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {version + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    # -- runs ------------------------------------------------------------------------------------
    def start_run(self, run_id: str, target: str, profile: str, dry_run: bool) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO runs (run_id, target, profile, dry_run, started_at) VALUES (?, ?, ?, ?, ?)",
                (run_id, target, profile, int(dry_run), _now()),
            )

    def finish_run(self, run_id: str, status: str, exit_code: int, summary: dict[str, Any]) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, exit_code = ?, summary_json = ? WHERE run_id = ?",
                (_now(), status, exit_code, json.dumps(summary, default=str), run_id),
            )

    def record_stage(self, run_id: str, ordinal: int, result: dict[str, Any]) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO stage_results (run_id, ordinal, stage, status, reason, started_at, finished_at, "
                "duration_seconds, done, skipped, failed, remaining, detail_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    ordinal,
                    result["stage"],
                    result["status"],
                    result.get("reason"),
                    result["started_at"],
                    result.get("finished_at"),
                    result.get("duration_seconds"),
                    result.get("done", 0),
                    result.get("skipped", 0),
                    result.get("failed", 0),
                    result.get("remaining", 0),
                    json.dumps(result.get("detail", {}), default=str),
                ),
            )

    def record_kpis(self, run_id: str, phase: str, values: dict[str, float]) -> None:
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO kpis VALUES (?, ?, ?, ?)",
                [(run_id, phase, name, value) for name, value in values.items()],
            )

    def runs(self, target: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        sql = (
            "SELECT * FROM runs"
            + (" WHERE target = ?" if target else "")
            + " ORDER BY started_at DESC, rowid DESC LIMIT ?"
        )
        cursor = self.db.execute(sql, (target, limit) if target else (limit,))
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def run(self, run_id: str) -> dict[str, Any] | None:
        cursor = self.db.execute(
            "SELECT * FROM runs WHERE run_id = ? OR run_id LIKE ? ORDER BY started_at DESC LIMIT 1",
            (run_id, f"{run_id}%"),
        )
        row = cursor.fetchone()
        return (
            dict(zip([column[0] for column in cursor.description], row, strict=True))
            if row
            else None
        )

    def stage_results(self, run_id: str) -> list[dict[str, Any]]:
        cursor = self.db.execute(
            "SELECT * FROM stage_results WHERE run_id = ? ORDER BY ordinal", (run_id,)
        )
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def kpis(self, run_id: str) -> dict[str, dict[str, float]]:
        result: dict[str, dict[str, float]] = {}
        for phase, name, value in self.db.execute(
            "SELECT phase, name, value FROM kpis WHERE run_id = ?", (run_id,)
        ):
            result.setdefault(phase, {})[name] = value
        return result

    # -- work queues -----------------------------------------------------------------------------
    def queue_age_hours(self, target: str, stage: str) -> float | None:
        row = self.db.execute(
            "SELECT created_at FROM queues WHERE target = ? AND stage = ?", (target, stage)
        ).fetchone()
        if not row:
            return None
        created = datetime.strptime(row[0], "%Y-%m-%dT%H:%M:%SZ")
        return (datetime.now(UTC).replace(tzinfo=None) - created).total_seconds() / 3600

    def active_count(self, target: str, stage: str) -> int:
        """Items a stage still has to work through (pending, interrupted or failed this run)."""
        counts = self.queue_counts(target, stage)
        return sum(counts.get(status, 0) for status in ACTIVE)

    def queue_counts(self, target: str, stage: str) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT status, COUNT(*) FROM work_items WHERE target = ? AND stage = ? GROUP BY status",
            (target, stage),
        ).fetchall()
        return {status: count for status, count in rows}

    def replace_queue(
        self, target: str, stage: str, run_id: str, items: Iterable[tuple[str, dict[str, Any]]]
    ) -> int:
        """Replace a stage's queue with fresh candidates; quarantined items stay until an operator acts."""
        with self.transaction():
            self.db.execute(
                "DELETE FROM work_items WHERE target = ? AND stage = ? AND status <> 'quarantined'",
                (target, stage),
            )
            quarantined = {
                row[0]
                for row in self.db.execute(
                    "SELECT item_key FROM work_items WHERE target = ? AND stage = ?",
                    (target, stage),
                )
            }
            # The first candidate for a key wins (INSERT OR IGNORE): a stage may list an update
            # for two reasons without holding every key it has seen in memory.
            changes_before = self.db.total_changes
            insert = (
                "INSERT OR IGNORE INTO work_items (target, stage, ordinal, item_key, payload_json, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)"
            )
            batch: list[tuple[Any, ...]] = []
            for ordinal, (key, payload) in enumerate(items):
                if key in quarantined:
                    continue
                batch.append((target, stage, ordinal, key, json.dumps(payload), _now()))
                if len(batch) >= 5000:
                    self.db.executemany(insert, batch)
                    batch.clear()
            if batch:
                self.db.executemany(insert, batch)
            count = self.db.total_changes - changes_before
            self.db.execute(
                "INSERT OR REPLACE INTO queues VALUES (?, ?, ?, ?)", (target, stage, _now(), run_id)
            )
        return count

    def next_items(
        self, target: str, stage: str, limit: int, exclude: set[str] | None = None
    ) -> list[WorkItem]:
        rows = self.db.execute(
            "SELECT item_key, payload_json, status, attempts, failed_runs FROM work_items WHERE target = ? AND stage = ? "
            "AND status IN ('pending', 'in_flight', 'failed') ORDER BY ordinal LIMIT ?",
            (target, stage, limit + len(exclude or ())),
        ).fetchall()
        items = [
            WorkItem(key, json.loads(payload), status, attempts, failed_runs)
            for key, payload, status, attempts, failed_runs in rows
            if key not in (exclude or set())
        ]
        return items[:limit]

    def count_by_reason(self, target: str, stage: str, statuses: tuple[str, ...]) -> dict[str, int]:
        marks = ",".join("?" * len(statuses))
        rows = self.db.execute(
            f"SELECT json_extract(payload_json, '$.reason'), COUNT(*) FROM work_items "
            f"WHERE target = ? AND stage = ? AND status IN ({marks}) GROUP BY 1 ORDER BY 2 DESC",
            (target, stage, *statuses),
        ).fetchall()
        return {reason: count for reason, count in rows}

    def mark_batch_in_flight(self, target: str, stage: str, keys: list[str], run_id: str) -> None:
        """Mark a batch's items in flight in one commit, before any of them is sent."""
        now = _now()
        with self.transaction():
            self.db.executemany(
                "UPDATE work_items SET status = 'in_flight', attempts = attempts + 1, run_id = ?, updated_at = ? "
                "WHERE target = ? AND stage = ? AND item_key = ?",
                [(run_id, now, target, stage, key) for key in keys],
            )

    def complete(
        self,
        target: str,
        stage: str,
        run_id: str,
        done: list[tuple[str, tuple[str | None, str, str] | None]],
        skipped: list[tuple[str, str]],
    ) -> None:
        """Checkpoint a batch in one commit: items done (with the declines they made) and skipped."""
        if not done and not skipped:
            return
        now = _now()
        with self.transaction():
            self.db.executemany(
                "UPDATE work_items SET status = 'done', run_id = ?, updated_at = ? "
                "WHERE target = ? AND stage = ? AND item_key = ?",
                [(run_id, now, target, stage, key) for key, _ in done],
            )
            self.db.executemany(
                "INSERT OR IGNORE INTO declined_updates VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (run_id, target, key, *declined, now)
                    for key, declined in done
                    if declined is not None
                ],
            )
            self.db.executemany(
                "UPDATE work_items SET status = 'skipped', reason = ?, run_id = ?, updated_at = ? "
                "WHERE target = ? AND stage = ? AND item_key = ?",
                [(reason, run_id, now, target, stage, key) for key, reason in skipped],
            )

    def mark_failed(
        self,
        target: str,
        stage: str,
        key: str,
        run_id: str,
        kind: str,
        message: str,
        quarantine_after: int,
    ) -> bool:
        """Record a failed item; return True when this failure quarantines it."""
        with self.transaction():
            self.db.execute(
                "UPDATE work_items SET failed_runs = failed_runs + 1, last_error_kind = ?, last_error = ?, run_id = ?, "
                "updated_at = ?, status = CASE WHEN failed_runs + 1 >= ? THEN 'quarantined' ELSE 'failed' END "
                "WHERE target = ? AND stage = ? AND item_key = ?",
                (kind, message[:2000], run_id, _now(), quarantine_after, target, stage, key),
            )
            row = self.db.execute(
                "SELECT status FROM work_items WHERE target = ? AND stage = ? AND item_key = ?",
                (target, stage, key),
            ).fetchone()
        return bool(row and row[0] == "quarantined")

    def quarantined(self, target: str | None = None) -> list[dict[str, Any]]:
        sql = (
            "SELECT target, stage, item_key, payload_json, failed_runs, last_error_kind, last_error, updated_at "
            "FROM work_items WHERE status = 'quarantined'"
            + (" AND target = ?" if target else "")
            + " ORDER BY target, stage, ordinal"
        )
        cursor = self.db.execute(sql, (target,) if target else ())
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def queue_items(
        self, target: str, stage: str | None, statuses: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(statuses))
        sql = (
            f"SELECT stage, item_key, status, attempts, failed_runs, last_error_kind, last_error, reason FROM work_items "
            f"WHERE target = ? AND status IN ({marks})"
            + (" AND stage = ?" if stage else "")
            + " ORDER BY stage, ordinal"
        )
        params: tuple[Any, ...] = (target, *statuses, stage) if stage else (target, *statuses)
        cursor = self.db.execute(sql, params)
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def retry_quarantined(self, target: str, stage: str | None = None) -> int:
        with self.transaction():
            sql = "UPDATE work_items SET status = 'pending', failed_runs = 0, attempts = 0 WHERE target = ? AND status = 'quarantined'"
            return self.db.execute(
                sql + (" AND stage = ?" if stage else ""), (target, stage) if stage else (target,)
            ).rowcount

    def clear_queue(self, target: str, stage: str | None = None) -> int:
        with self.transaction():
            params: tuple[Any, ...] = (target, stage) if stage else (target,)
            count = self.db.execute(
                "DELETE FROM work_items WHERE target = ?" + (" AND stage = ?" if stage else ""),
                params,
            ).rowcount
            self.db.execute(
                "DELETE FROM queues WHERE target = ?" + (" AND stage = ?" if stage else ""), params
            )
            return count

    # -- timings, declines, indexes --------------------------------------------------------------
    def add_timing(self, target: str, stage: str, items: int, seconds: float) -> None:
        if items <= 0:
            return
        self.db.execute(
            "INSERT INTO item_timings VALUES (?, ?, ?, ?) ON CONFLICT (target, stage) DO UPDATE SET "
            "items = items + excluded.items, seconds = seconds + excluded.seconds",
            (target, stage, items, seconds),
        )

    def seconds_per_item(self, target: str, stage: str) -> float | None:
        row = self.db.execute(
            "SELECT items, seconds FROM item_timings WHERE target = ? AND stage = ?",
            (target, stage),
        ).fetchone()
        return row[1] / row[0] if row and row[0] else None

    def record_decline(
        self,
        run_id: str,
        target: str,
        update_id: str,
        kb: str | None,
        title: str,
        reason: str,
        *,
        unless_recorded: bool = False,
    ) -> None:
        """Record one declined update; ``unless_recorded`` skips it when an interrupted run
        already recorded it."""
        if (
            unless_recorded
            and self.db.execute(
                "SELECT 1 FROM declined_updates WHERE target = ? AND update_id = ?",
                (target, update_id),
            ).fetchone()
        ):
            return
        self.db.execute(
            "INSERT OR IGNORE INTO declined_updates VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, target, update_id, kb, title, reason, _now()),
        )

    def declined(self, run_id: str) -> list[dict[str, Any]]:
        cursor = self.db.execute(
            "SELECT update_id, kb, title, reason, declined_at FROM declined_updates WHERE run_id = ? "
            "ORDER BY declined_at, update_id",
            (run_id,),
        )
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
