"""What a stage is given: the target, its options, the gateway, the state store, time and events."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jobs.clock import Clock
from jobs.runner.options import RunOptions
from jobs.settings.model import Settings
from jobs.state.store import StateStore
from jobs.susdb import ServerInfo, Susdb

# How an administrator lets destructive stages run: named in every refusal of the backup gate.
WAY_OUT = (
    "take a backup first (the `backup` stage with backup.directory, as in the profile "
    '`nightly-with-backup`), or set backup.gate = "advisory" or "off"'
)
# Until the backup gate positively passes in this run, destructive stages are refused.
GATE_NOT_PASSED = (
    "the backup gate has not passed in this run (preflight did not run, or did not finish); "
    f"to go on, fix what stopped preflight, or {WAY_OUT}"
)


@dataclass
class StageOutcome:
    """How a stage ended. ``status``: done, partial, skipped, refused, deferred or failed."""

    status: str = "done"
    done: int = 0
    skipped: int = 0
    failed: int = 0
    remaining: int = 0
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Facts:
    """What a run learned that later stages rely on (most of it from preflight)."""

    # Until the backup gate positively passes, destructive stages are refused with this reason.
    refuse_destructive: str | None = GATE_NOT_PASSED
    backup_failed: str | None = None  # the backup stage did not produce a backup
    # Destructive stages wait for the next night with this reason (exit 3): a synchronization.
    defer_destructive: str | None = None
    backup_unreadable: str | None = None  # msdb's backup history could not be read
    last_backup: datetime | None = None
    last_backup_device: str | None = None  # where that backup went (msdb's media family)
    server: ServerInfo | None = None
    replica: bool = False
    delete_fix: bool | None = None  # Microsoft's spDeleteUpdate change in place (None: unknown)
    database: str = ""  # the database's identity, for people
    database_name: str = ""
    health: dict[str, float] = field(default_factory=dict)


@dataclass
class RunContext:
    run_id: str
    target: str
    settings: Settings
    susdb: Susdb
    store: StateStore
    clock: Clock
    database: str = ""  # the database identity key: what queues and in-flight items belong to
    options: RunOptions = field(default_factory=RunOptions)  # what was asked, as asked
    # The window, on the clock's monotonic scale: a wall-clock step neither stretches nor cuts it.
    deadline_monotonic: float | None = None
    deadline_at: datetime | None = None  # the same moment in UTC, for people
    stop: threading.Event = field(default_factory=threading.Event)
    facts: Facts = field(default_factory=Facts)
    progress: Any = None  # a StageProgress on an interactive terminal
    lock: Any = None  # the TargetLock: checked before every batch
    # Stages whose candidates this dry run kept as a plan (store.planned_items), not as a queue.
    planned: set[str] = field(default_factory=set)
    # Stages this run has resumed a queue or made a plan for, so far: a later stage's plan
    # leaves out what they take (compress, after obsolete_updates) or says it cannot count it.
    worked: set[str] = field(default_factory=set)

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run

    def seconds_left(self) -> float | None:
        if self.deadline_monotonic is None:
            return None
        return self.deadline_monotonic - self.clock.monotonic()

    def out_of_time(self, needed_seconds: float = 0.0) -> bool:
        left = self.seconds_left()
        return self.stop.is_set() or (left is not None and left <= needed_seconds)

    def ensure_locked(self) -> None:
        """Raise LockLost when the session holding the target lock is gone."""
        if self.lock is not None:
            self.lock.ensure_held()

    def stop_reason(self) -> str:
        return "signal" if self.stop.is_set() else "deadline"
