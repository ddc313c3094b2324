"""The state file's schema: every version of it, as the migration that made it, and how a file is
brought up to date.

A migration is never edited once released: a file written by any earlier version is brought to
this one step by step (``PRAGMA user_version`` says where it stands), and a file from a newer
version is refused where it is opened (``jobs.state.file``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.state.file import StateFile

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
    # 7: spooled candidate rows whose build ID names no owner were left by a process killed
    # while its candidate query ran, before build IDs named their owner (run or plan, database):
    # no later run can tell they are abandoned, so they would stay for ever (network-review D6).
    """
    DELETE FROM queue_spool WHERE build_id NOT LIKE 'run:%' AND build_id NOT LIKE 'plan:%';
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(state: StateFile, current: int) -> None:
    """Apply the migrations after version ``current``, each in its own transaction."""
    for version in range(current, SCHEMA_VERSION):
        with state.transaction():
            # Read again under the write lock: another process opening the same file at the
            # same moment may have applied this step already.
            if state.db.execute("PRAGMA user_version").fetchone()[0] > version:
                continue
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    state.db.execute(statement)
            state.db.execute(f"PRAGMA user_version = {version + 1}")
