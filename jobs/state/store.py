"""The state store: SQLite in WAL mode, versioned migrations, one commit per state change.

Everything that is sent again to SUSDB (work queues, items in flight) is bound to the identity of
the database it was found in, never to a target's name in a config: a queue is only ever worked
against that same database. An item's in-flight mark is committed with ``synchronous = FULL``: it
is on disk before its statement is sent, so even a crash of the whole machine cannot roll the
store back past it (one fsync a batch). Every other commit is ``NORMAL`` (WAL: safe across a
killed process; an OS crash may lose the last few, which only makes the next run verify more). A corrupt, empty or newer file is
an error with the path in it, never a silent reset; every SQLite error after opening is a one-line
``StateError``; a write lock held too long by another process is waited for with an event, then
``StateBusy``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jobs.clock import Clock, SystemClock
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
    # 2: work belongs to one database. Queues from before database identities cannot be tied to a
    # database, so they are discarded: the next run finds their items again with its candidate
    # query, from the server's own state.
    """
    ALTER TABLE runs ADD COLUMN database_id TEXT;
    ALTER TABLE runs ADD COLUMN database_name TEXT;
    CREATE INDEX runs_by_database ON runs (database_id, status);
    DROP TABLE work_items;
    DROP TABLE queues;
    CREATE TABLE queues (
        database_id TEXT NOT NULL,
        stage TEXT NOT NULL,
        target TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by_run TEXT,
        build_seconds REAL,
        PRIMARY KEY (database_id, stage)
    );
    CREATE TABLE work_items (
        database_id TEXT NOT NULL,
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
        PRIMARY KEY (database_id, stage, item_key)
    );
    CREATE INDEX work_items_next ON work_items (database_id, stage, status, ordinal);
    CREATE TABLE queue_spool (
        build_id TEXT NOT NULL,
        ordinal INTEGER NOT NULL,
        item_key TEXT NOT NULL,
        payload_json TEXT NOT NULL,
        PRIMARY KEY (build_id, item_key)
    ) WITHOUT ROWID;
    """,
    # 3: the texts of WSUS procedures this tool replaced, so they can be put back
    """
    CREATE TABLE procedure_originals (
        database_id TEXT NOT NULL,
        procedure TEXT NOT NULL,
        original_text TEXT NOT NULL,
        replaced_at TEXT NOT NULL,
        run_id TEXT NOT NULL,
        PRIMARY KEY (database_id, procedure)
    );
    """,
    # 4: what each run has checkpointed, per stage, in the checkpoint's own commit: a run killed
    # mid-stage (SIGKILL, power loss) records no stage result, and its queue may be rebuilt
    # since, yet history must still say what it did.
    """
    CREATE TABLE run_progress (
        run_id TEXT NOT NULL,
        stage TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, stage)
    );
    """,
    # 5: what a plan (a dry run) would queue, kept apart from the work queues: a plan never
    # creates or changes a queue that the next run executes. Only the latest plan is kept.
    """
    CREATE TABLE planned_items (
        run_id TEXT NOT NULL,
        stage TEXT NOT NULL,
        ordinal INTEGER NOT NULL,
        item_key TEXT NOT NULL,
        payload_json TEXT NOT NULL,
        PRIMARY KEY (run_id, stage, item_key)
    ) WITHOUT ROWID;
    """,
    # 6: why each decline was made, in words: the live update that covered a superseded one,
    # the rule or preset and the products of one a rule declined.
    """
    ALTER TABLE declined_updates ADD COLUMN why TEXT;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
ACTIVE = ("pending", "in_flight", "failed")
TERMINAL = ("done", "skipped", "gone")
SPOOL_CHUNK = 5000


def spool_owner(kind: str, database: str) -> str:
    """The prefix of a build ID: whose candidate rows these are (a run's or a plan's, for one
    database). A run holds the target lock, so another run's builds for its database can only be
    a killed process's."""
    return f"{kind}:{database}:"


BUSY_POLL_SECONDS = 0.2


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


@dataclass(frozen=True)
class DeclineRecord:
    """A decline the server confirmed, for the history (and the undo script)."""

    run_id: str
    update_id: str
    kb: str | None
    title: str
    reason: str
    why: str = ""


STAMP = "%Y-%m-%dT%H:%M:%SZ"


def _file_identity(path: Path) -> tuple[int, int] | None:
    """The file at ``path`` (device and inode), or None when there is none."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_dev, status.st_ino


def _explain(path: Path, error: sqlite3.Error) -> StateError:
    """One line an administrator can act on, for an SQLite error after the store opened."""
    text = str(error)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        from jobs.errors import StateBusy

        return StateBusy(
            f"{path}: the state store is busy ({text}): another susdb-maint process is writing to it"
        )
    if "readonly" in lowered or "read-only" in lowered:
        return StateError(
            f"{path}: the state store is read-only for this user ({text}); give the account that "
            "runs susdb-maint write access to the state directory, or choose another with --state-dir"
        )
    if "full" in lowered:
        return StateError(
            f"{path}: the disk holding the state store is full ({text}); free space and run again"
        )
    if "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered:
        return StateError(
            f"{path}: the state file is damaged ({text}); keep a copy of it, then move it aside to "
            "start a new history"
        )
    return StateError(f"{path}: the state store failed: {text}")


class StateStore:
    def __init__(
        self, state_dir: Path, *, read_only: bool = False, busy_timeout: float = 600.0
    ) -> None:
        self.path = Path(state_dir) / FILE_NAME
        self.busy_timeout = busy_timeout
        # Stamps and ages in the store are wall-clock UTC; a test sets a clock it controls.
        self.clock: Clock = SystemClock()
        self.on_busy: Any = None  # called once per wait with (seconds waited so far)
        if read_only and not self.path.exists():
            raise StateError(
                f"{self.path}: no state file yet (nothing has run with this state directory)"
            )
        self._identity: tuple[int, int] | None = None  # the file opened; None while creating it
        self._check_usable(read_only)
        if not read_only and not self.path.exists():
            self._create()
        try:
            self.db = sqlite3.connect(
                self.path, isolation_level=None, timeout=BUSY_POLL_SECONDS, check_same_thread=False
            )
            self._identity = _file_identity(self.path)
            self._retry_busy(lambda: self.db.execute("PRAGMA journal_mode = WAL"))
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA journal_size_limit = 67108864")  # truncate the WAL to 64 MB
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StateError(
                    f"{self.path}: written by a newer susdb-maint (state schema {version}, this version knows "
                    f"{SCHEMA_VERSION}); upgrade susdb-maint or point --state-dir elsewhere"
                )
            if version < SCHEMA_VERSION and not read_only:
                self._migrate(version)
            self.db.execute("SELECT count(*) FROM runs").fetchone()
        except sqlite3.DatabaseError as error:
            lowered = str(error).lower()
            if (
                "readonly" in lowered
                or "locked" in lowered
                or "busy" in lowered
                or "full" in lowered
            ):
                raise _explain(self.path, error) from None
            if "unable to open" in lowered and not os.access(self.path.parent, os.W_OK):
                # Not damage: SQLite creates the state file's -shm file next to it even to read.
                raise StateError(
                    f"{self.path}: cannot be opened: its folder is read-only for this user, and "
                    "SQLite needs to create the file's -shm file there even to read it; copy the "
                    "folder somewhere writable to read it, or use the account that runs susdb-maint"
                ) from None
            raise StateError(
                f"{self.path}: the state file is corrupt or not a susdb-maint state file ({error}); "
                "keep a copy of it, then move it aside to start a new history"
            ) from None

    def _check_usable(self, read_only: bool) -> None:
        """A read-only folder, a directory in the file's place or an empty file: say which."""

        directory = self.path.parent
        if self.path.exists():
            if self.path.is_dir():
                raise StateError(f"{self.path}: is a directory, not a state file")
            if self.path.stat().st_size == 0:
                raise StateError(
                    f"{self.path}: the state file is empty (0 bytes), so its history and queues are "
                    "gone; move it aside to start a new history"
                )
            if not read_only and not os.access(self.path, os.W_OK):
                raise StateError(
                    f"{self.path}: the state file is read-only for this user; give the account that "
                    "runs susdb-maint write access, or choose another --state-dir"
                )
        if read_only:
            return
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StateError(
                f"{directory}: cannot create the state directory ({error.strerror}); choose "
                "another with --state-dir"
            ) from None
        if not os.access(directory, os.W_OK | os.X_OK):
            raise StateError(
                f"{directory}: the state directory is not writable by this user (SQLite needs to "
                "create its -wal and -shm files there); fix its rights or choose another --state-dir"
            )

    def _create(self) -> None:
        """Create the file whole, then link it into place: another process starting at the same
        moment never sees a half-made (empty) file, and neither replaces the other's."""
        import secrets

        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            self.db = sqlite3.connect(temporary, isolation_level=None)
            try:
                self._migrate(0)
            finally:
                self.db.close()
            with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
                os.link(temporary, self.path)
        except (OSError, sqlite3.Error) as error:
            raise StateError(f"{self.path}: cannot create the state store ({error})") from None
        finally:
            temporary.unlink(missing_ok=True)

    def _migrate(self, current: int) -> None:
        for version in range(current, SCHEMA_VERSION):
            with self.transaction():
                # Read again under the write lock: another process opening the same file at the
                # same moment may have applied this step already.
                if self.db.execute("PRAGMA user_version").fetchone()[0] > version:
                    continue
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {version + 1}")

    def _retry_busy(self, operation: Any) -> Any:
        """Run ``operation``; while another process holds the write lock, wait (with an event),
        up to ``busy_timeout`` seconds."""
        import time

        started = time.monotonic()
        announced = False
        while True:
            try:
                return operation()
            except sqlite3.OperationalError as error:
                lowered = str(error).lower()
                if "locked" not in lowered and "busy" not in lowered:
                    raise
                waited = time.monotonic() - started
                if waited >= self.busy_timeout:
                    from jobs.errors import StateBusy

                    raise StateBusy(
                        f"{self.path}: the state store stayed busy for {waited:.0f} s (another "
                        "susdb-maint process is writing to it); run again when it has finished"
                    ) from None
                if not announced and self.on_busy is not None:
                    self.on_busy(waited)
                    announced = True
                time.sleep(BUSY_POLL_SECONDS)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._retry_busy(lambda: self.db.execute("BEGIN IMMEDIATE"))
        except sqlite3.Error as error:
            raise _explain(self.path, error) from None
        try:
            self._still_the_file_opened()
            yield self.db
        except sqlite3.Error as error:
            self._rollback()  # SQLite may have rolled back already (a full disk, for one)
            raise _explain(self.path, error) from None
        except BaseException:
            self._rollback()
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as error:
            self._rollback()
            raise _explain(self.path, error) from None

    def _still_the_file_opened(self) -> None:
        """A state file deleted or replaced under a run keeps taking its writes (into the
        unlinked inode) and loses them at close, silently: every write checks first
        (network-review D8)."""
        if self._identity is None:
            return  # the file is being made (under a temporary name)
        now = _file_identity(self.path)
        if now != self._identity:
            what = "deleted" if now is None else "replaced by another file"
            raise StateError(
                f"{self.path}: the state file was {what} while this run was using it; its "
                "history and queues since are not kept there; the run stops (restore the file, "
                "or let the next run start a new history)"
            )

    def _rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A read: SQLite errors become one-line StateErrors."""
        try:
            yield self.db
        except sqlite3.Error as error:
            raise _explain(self.path, error) from None

    def close(self) -> None:
        self.db.close()

    # -- runs ------------------------------------------------------------------------------------
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
            "SELECT * FROM runs"
            + (" WHERE target = ?" if target else "")
            + " ORDER BY started_at DESC, rowid DESC LIMIT ?"
        )
        with self.reading():
            cursor = self.db.execute(sql, (target, limit) if target else (limit,))
            columns = [column[0] for column in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def latest_runs(self) -> list[dict[str, Any]]:
        """The newest finished (or abandoned) run of every target: what monitoring reports."""
        with self.reading():
            cursor = self.db.execute(
                "SELECT * FROM runs r WHERE r.dry_run = 0 AND r.status <> 'running' AND r.rowid = "
                "(SELECT x.rowid FROM runs x WHERE x.target = r.target AND x.dry_run = 0 "
                "AND x.status <> 'running' ORDER BY x.started_at DESC, x.rowid DESC LIMIT 1) "
                "ORDER BY r.target"
            )
            columns = [column[0] for column in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.reading():
            cursor = self.db.execute(
                "SELECT * FROM runs WHERE run_id = ? OR run_id LIKE ? ORDER BY started_at DESC LIMIT 1",
                (run_id, f"{run_id}%"),
            )
            row = cursor.fetchone()
            columns = [column[0] for column in cursor.description]
        return dict(zip(columns, row, strict=True)) if row else None

    def stage_results(self, run_id: str) -> list[dict[str, Any]]:
        with self.reading():
            cursor = self.db.execute(
                "SELECT * FROM stage_results WHERE run_id = ? ORDER BY ordinal", (run_id,)
            )
            columns = [column[0] for column in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def kpis(self, run_id: str) -> dict[str, dict[str, float]]:
        result: dict[str, dict[str, float]] = {}
        with self.reading():
            for phase, name, value in self.db.execute(
                "SELECT phase, name, value FROM kpis WHERE run_id = ?", (run_id,)
            ):
                result.setdefault(phase, {})[name] = value
        return result

    def _stamp(self) -> str:
        return self.clock.now().strftime(STAMP)

    # -- work queues (keyed by database identity and stage) ---------------------------------------
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

    def spool(
        self, items: Iterable[tuple[str, dict[str, Any]]], owner: str = ""
    ) -> tuple[str, int]:
        """Write a candidate query's rows aside in short committed chunks (the write lock is never
        held while the server works); the first row for a key wins. Return (build ID, rows).
        ``owner`` (``spool_owner``) names whose build it is, so the rows a killed process left can
        be found and removed (``discard_abandoned_spools``)."""
        import uuid

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
            cursor = self.db.execute(
                "SELECT stage, item_key, payload_json "
                "FROM planned_items WHERE run_id = ? ORDER BY stage, ordinal",
                (run_id,),
            )
            columns = [column[0] for column in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

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
        items = [
            WorkItem(key, json.loads(payload), status, attempts, failed_runs, run_id)
            for key, payload, status, attempts, failed_runs, run_id in rows
            if key not in (exclude or set())
        ]
        return items[:limit]

    def in_flight(self, database: str, stage: str) -> list[WorkItem]:
        """Items a run sent (or was about to send) and never settled."""
        with self.reading():
            rows = self.db.execute(
                "SELECT item_key, payload_json, status, attempts, failed_runs, run_id FROM work_items "
                "WHERE database_id = ? AND stage = ? AND status = 'in_flight' ORDER BY ordinal",
                (database, stage),
            ).fetchall()
        return [
            WorkItem(key, json.loads(payload), status, attempts, failed_runs, run_id)
            for key, payload, status, attempts, failed_runs, run_id in rows
        ]

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

    def queued_keys_except(self, database: str, stage: str, reason: str) -> frozenset[str]:
        """The keys of a stage's active items whose payload gives another reason than ``reason``."""
        marks = ",".join("?" * len(ACTIVE))
        with self.reading():
            rows = self.db.execute(
                f"SELECT item_key FROM work_items WHERE database_id = ? AND stage = ? "
                f"AND status IN ({marks}) AND json_extract(payload_json, '$.reason') IS NOT ?",
                (database, stage, *ACTIVE, reason),
            ).fetchall()
        return frozenset(row[0] for row in rows)

    def mark_batch_in_flight(self, database: str, stage: str, keys: list[str], run_id: str) -> None:
        """Mark a batch's items in flight in one durable commit, before any of them is sent."""
        now = self._stamp()
        self.db.execute("PRAGMA synchronous = FULL")  # this commit (and all before it) on disk
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
        declines: list[DeclineRecord],
        target: str,
        *,
        counted: bool = True,
    ) -> None:
        """Checkpoint a batch in one commit: how each item ended, and the declines confirmed.
        ``counted``: the batch is this run's stage work (not items an earlier run left in flight,
        settled before a rebuild), so it counts towards the run's progress."""
        if not completions and not declines:
            return
        now = self._stamp()
        done = sum(entry.status == "done" for entry in completions)
        with self.transaction():
            if counted:
                self._count_progress(run_id, stage, done, len(completions) - done, 0)
            self.db.executemany(
                "UPDATE work_items SET status = ?, reason = ?, run_id = ?, updated_at = ? "
                "WHERE database_id = ? AND stage = ? AND item_key = ?",
                [
                    (entry.status, entry.reason, run_id, now, database, stage, entry.key)
                    for entry in completions
                ],
            )
            self.db.executemany(
                "INSERT OR IGNORE INTO declined_updates VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        entry.run_id,
                        target,
                        entry.update_id,
                        entry.kb,
                        entry.title,
                        entry.reason,
                        now,
                        entry.why or None,
                    )
                    for entry in declines
                ],
            )

    def _count_progress(
        self, run_id: str, stage: str, done: int, skipped: int, failed: int
    ) -> None:
        self.db.execute(
            "INSERT INTO run_progress VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, stage) DO UPDATE "
            "SET done = done + excluded.done, skipped = skipped + excluded.skipped, "
            "failed = failed + excluded.failed",
            (run_id, stage, done, skipped, failed),
        )

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
            self._count_progress(run_id, stage, 0, 0, 1)
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

    # -- operator views, by the target names the queues were last built for ------------------------
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
            cursor = self.db.execute(sql, params)
            columns = [column[0] for column in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

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
            cursor = self.db.execute(sql, (*statuses, *params, *((stage,) if stage else ())))
            columns = [column[0] for column in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

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

    # -- timings, declines, housekeeping -----------------------------------------------------------
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

    def declined(self, run_id: str) -> list[dict[str, Any]]:
        with self.reading():
            cursor = self.db.execute(
                "SELECT update_id, kb, title, reason, why, declined_at FROM declined_updates "
                "WHERE run_id = ? ORDER BY declined_at, update_id",
                (run_id,),
            )
            columns = [column[0] for column in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def save_original(self, database: str, procedure: str, text: str, run_id: str) -> None:
        """Keep a procedure's text before the tool replaces it (the first original is kept)."""
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO procedure_originals VALUES (?, ?, ?, ?, ?)",
                (database, procedure, text, self._stamp(), run_id),
            )

    def original_of(self, database: str, procedure: str) -> str | None:
        with self.reading():
            row = self.db.execute(
                "SELECT original_text FROM procedure_originals WHERE database_id = ? AND procedure = ?",
                (database, procedure),
            ).fetchone()
        return row[0] if row else None

    def forget_original(self, database: str, procedure: str) -> None:
        with self.transaction():
            self.db.execute(
                "DELETE FROM procedure_originals WHERE database_id = ? AND procedure = ?",
                (database, procedure),
            )

    def prune(self, history_days: float, declines_days: float) -> dict[str, int]:
        """Drop run history older than ``history_days`` and decline history older than
        ``declines_days``; return what went, per table."""

        def cutoff(days: float) -> str:
            return (self.clock.now() - timedelta(days=days)).strftime(STAMP)

        removed: dict[str, int] = {}
        with self.reading():
            (old,) = self.db.execute(
                "SELECT (SELECT COUNT(*) FROM runs WHERE started_at < ? AND status <> 'running') "
                "+ (SELECT COUNT(*) FROM declined_updates WHERE declined_at < ?)",
                (cutoff(history_days), cutoff(declines_days)),
            ).fetchone()
        if not old:  # nothing to drop: no write, no fsync
            return removed
        with self.transaction():
            old_runs = "SELECT run_id FROM runs WHERE started_at < ? AND status <> 'running'"
            for table in ("stage_results", "kpis", "run_progress"):
                removed[table] = self.db.execute(
                    f"DELETE FROM {table} WHERE run_id IN ({old_runs})", (cutoff(history_days),)
                ).rowcount
            removed["runs"] = self.db.execute(
                "DELETE FROM runs WHERE started_at < ? AND status <> 'running'",
                (cutoff(history_days),),
            ).rowcount
            removed["declined_updates"] = self.db.execute(
                "DELETE FROM declined_updates WHERE declined_at < ?", (cutoff(declines_days),)
            ).rowcount
        return {table: count for table, count in removed.items() if count}

    def compact(self) -> bool:
        """Give back space: checkpoint and truncate the WAL; VACUUM when over a quarter of the
        file (and 64 MB) is free pages. Return True when the file was vacuumed. Never fails a
        run: a reader elsewhere only postpones it."""
        try:
            wal = Path(f"{self.path}-wal")
            if wal.exists() and wal.stat().st_size > 64 * 1024 * 1024:
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            (free,) = self.db.execute("PRAGMA freelist_count").fetchone()
            (pages,) = self.db.execute("PRAGMA page_count").fetchone()
            (size,) = self.db.execute("PRAGMA page_size").fetchone()
            if free * size >= 64 * 1024 * 1024 and free * 4 >= pages:
                self.db.execute("VACUUM")
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                return True
        except sqlite3.Error:
            return False
        return False
