"""Run history: each run, its stages' results, its KPIs, and what it checkpointed as it went.

History never says less than the server: every checkpoint adds to its run's ``run_progress`` in
the checkpoint's own commit (``count_progress``), so a run killed mid-stage (SIGKILL, power loss)
that records no stage result still has one made from what it checkpointed, when the next run on
its database marks it abandoned.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from jobs.state.file import StateFile, dicts


def count_progress(
    db: sqlite3.Connection, run_id: str, stage: str, done: int, skipped: int, failed: int
) -> None:
    """Add a checkpoint's counts to its run's progress (in the caller's transaction)."""
    db.execute(
        "INSERT INTO run_progress VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, stage) DO UPDATE "
        "SET done = done + excluded.done, skipped = skipped + excluded.skipped, "
        "failed = failed + excluded.failed",
        (run_id, stage, done, skipped, failed),
    )


def count_old_runs(db: sqlite3.Connection, before: str) -> int:
    """Finished runs started before ``before`` (a stamp): what ``forget_runs`` would drop."""
    (count,) = db.execute(
        "SELECT COUNT(*) FROM runs WHERE started_at < ? AND status <> 'running'", (before,)
    ).fetchone()
    return int(count)


def forget_runs(db: sqlite3.Connection, before: str) -> dict[str, int]:
    """Drop finished runs started before ``before`` with all they recorded (in the caller's
    transaction); return the rows dropped per table. A run still running is never dropped."""
    removed: dict[str, int] = {}
    old_runs = "SELECT run_id FROM runs WHERE started_at < ? AND status <> 'running'"
    for table in ("stage_results", "kpis", "run_progress"):
        removed[table] = db.execute(
            f"DELETE FROM {table} WHERE run_id IN ({old_runs})", (before,)
        ).rowcount
    removed["runs"] = db.execute(
        "DELETE FROM runs WHERE started_at < ? AND status <> 'running'", (before,)
    ).rowcount
    return removed


# A run as the history shows it: its row, and the declines its audit rows hold (what `history
# --declined` lists), so the count and the list can never disagree.
RUN_COLUMNS = (
    "r.*, (SELECT COUNT(*) FROM declined_updates d WHERE d.run_id = r.run_id) AS declined_rows"
)


class RunHistory(StateFile):
    """Runs, stage results and KPIs: what ``history``, the report and monitoring read."""

    def start_run(self, run_id: str, target: str, profile: str, dry_run: bool) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO runs (run_id, target, profile, dry_run, started_at) VALUES (?, ?, ?, ?, ?)",
                (run_id, target, profile, int(dry_run), self._stamp()),
            )

    def bind_run(
        self, run_id: str, database_id: str, database_name: str, *, lock_held: bool = True
    ) -> list[str]:
        """Record which database a run works on. With the target lock held (no other real run on
        this database can be alive), mark runs on it that died without finishing (SIGKILL, power
        loss) as abandoned and return their IDs."""
        with self.transaction():
            self.db.execute(
                "UPDATE runs SET database_id = ?, database_name = ? WHERE run_id = ?",
                (database_id, database_name, run_id),
            )
            if not lock_held:
                return []
            abandoned = [
                row[0]
                for row in self.db.execute(
                    "SELECT run_id FROM runs WHERE database_id = ? AND status = 'running' "
                    "AND dry_run = 0 AND run_id <> ?",
                    (database_id, run_id),
                )
            ]
            self.db.executemany(
                "UPDATE runs SET status = 'abandoned', finished_at = COALESCE(finished_at, ?) WHERE run_id = ?",
                [(self._stamp(), abandoned_id) for abandoned_id in abandoned],
            )
            for abandoned_id in abandoned:
                self._record_abandoned(abandoned_id)
        return abandoned

    def unrecorded_progress(self, run_id: str) -> list[tuple[str, int, int, int]]:
        """What a run checkpointed in stages that recorded no result, or less than they did:
        (stage, done, skipped, failed). A stage a lost lock or server ended mid-way."""
        with self.reading():
            return self._unrecorded_progress(run_id)

    def _unrecorded_progress(self, run_id: str) -> list[tuple[str, int, int, int]]:
        # A stage may run twice in one run (reindex): what its finished runs recorded is taken
        # off the run's counts, and the rest is the stage that was under way.
        recorded: dict[str, tuple[int, int, int]] = {}
        for stage, done, skipped, failed in self.db.execute(
            "SELECT stage, SUM(done), SUM(skipped), SUM(failed) FROM stage_results "
            "WHERE run_id = ? GROUP BY stage",
            (run_id,),
        ):
            recorded[stage] = (done or 0, skipped or 0, failed or 0)
        unrecorded = []
        for stage, done, skipped, failed in self.db.execute(
            "SELECT stage, done, skipped, failed FROM run_progress WHERE run_id = ? ORDER BY rowid",
            (run_id,),
        ).fetchall():
            earlier = recorded.get(stage, (0, 0, 0))
            left = (done - earlier[0], skipped - earlier[1], failed - earlier[2])
            if max(left) > 0:
                unrecorded.append((stage, *(max(0, count) for count in left)))
        return unrecorded

    def _record_abandoned(self, run_id: str) -> None:
        """A run that never finished: its unfinished stages' results from its checkpoints, and a
        summary, so history and the report say what it did (in the caller's transaction)."""
        (started_at,) = self.db.execute(
            "SELECT started_at FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        (ordinal,) = self.db.execute(
            "SELECT COALESCE(MAX(ordinal), -1) + 1 FROM stage_results WHERE run_id = ?", (run_id,)
        ).fetchone()
        for stage, done, skipped, failed in self._unrecorded_progress(run_id):
            self.db.execute(
                "INSERT INTO stage_results (run_id, ordinal, stage, status, reason, started_at, "
                "done, skipped, failed, detail_json) VALUES (?, ?, ?, 'abandoned', ?, ?, ?, ?, ?, '{}')",
                (
                    run_id,
                    ordinal,
                    stage,
                    "the run was killed mid-stage; counts are what it had checkpointed",
                    started_at,
                    done,
                    skipped,
                    failed,
                ),
            )
            ordinal += 1
        stages = [
            {"stage": stage, "status": status, "done": done, "skipped": skipped, "failed": failed}
            for stage, status, done, skipped, failed in self.db.execute(
                "SELECT stage, status, done, skipped, failed FROM stage_results WHERE run_id = ? "
                "ORDER BY ordinal",
                (run_id,),
            )
        ]
        self.db.execute(
            "UPDATE runs SET summary_json = COALESCE(summary_json, ?) WHERE run_id = ?",
            (json.dumps({"run_id": run_id, "status": "abandoned", "stages": stages}), run_id),
        )

    def last_database(self, target: str, before_run: str) -> tuple[str, str] | None:
        """The database (key, description) a target's previous run worked on, if any."""
        with self.reading():
            row = self.db.execute(
                "SELECT database_id, database_name FROM runs WHERE target = ? AND run_id <> ? "
                "AND database_id IS NOT NULL ORDER BY started_at DESC, rowid DESC LIMIT 1",
                (target, before_run),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def finish_run(self, run_id: str, status: str, exit_code: int, summary: dict[str, Any]) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, exit_code = ?, summary_json = ? WHERE run_id = ?",
                (self._stamp(), status, exit_code, json.dumps(summary, default=str), run_id),
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
            f"SELECT {RUN_COLUMNS} FROM runs r"
            + (" WHERE target = ?" if target else "")
            + " ORDER BY started_at DESC, rowid DESC LIMIT ?"
        )
        with self.reading():
            return dicts(self.db.execute(sql, (target, limit) if target else (limit,)))

    def latest_runs(self) -> list[dict[str, Any]]:
        """The newest finished (or abandoned) run of every target: what monitoring reports."""
        with self.reading():
            return dicts(
                self.db.execute(
                    f"SELECT {RUN_COLUMNS} FROM runs r WHERE r.dry_run = 0 "
                    "AND r.status <> 'running' AND r.rowid = "
                    "(SELECT x.rowid FROM runs x WHERE x.target = r.target AND x.dry_run = 0 "
                    "AND x.status <> 'running' ORDER BY x.started_at DESC, x.rowid DESC LIMIT 1) "
                    "ORDER BY r.target"
                )
            )

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.reading():
            cursor = self.db.execute(
                f"SELECT {RUN_COLUMNS} FROM runs r WHERE run_id = ? OR run_id LIKE ? "
                "ORDER BY started_at DESC LIMIT 1",
                (run_id, f"{run_id}%"),
            )
            row = cursor.fetchone()
            columns = [column[0] for column in cursor.description]
        return dict(zip(columns, row, strict=True)) if row else None

    def stage_results(self, run_id: str) -> list[dict[str, Any]]:
        with self.reading():
            return dicts(
                self.db.execute(
                    "SELECT * FROM stage_results WHERE run_id = ? ORDER BY ordinal", (run_id,)
                )
            )

    def kpis(self, run_id: str) -> dict[str, dict[str, float]]:
        result: dict[str, dict[str, float]] = {}
        with self.reading():
            for phase, name, value in self.db.execute(
                "SELECT phase, name, value FROM kpis WHERE run_id = ?", (run_id,)
            ):
                result.setdefault(phase, {})[name] = value
        return result
