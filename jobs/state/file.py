"""The state file: one SQLite file in WAL mode, opened, made and written the same way by every
part of the state store (``history``, ``queues``, ``spool``, ``queue_views``, ``audit``).

A corrupt, empty or newer file is an error with the path in it, never a silent reset; every
SQLite error after opening is a one-line ``StateError``; a write lock held too long by another
process is waited for with an event, then ``StateBusy``. Commits are ``synchronous = NORMAL``
(WAL: safe across a killed process; an OS crash may lose the last few, which only makes the next
run verify more); the one commit that must survive an OS crash says so itself
(``queues.mark_batch_in_flight``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobs.clock import Clock, SystemClock
from jobs.errors import StateBusy, StateError
from jobs.state.schema import SCHEMA_VERSION, migrate

FILE_NAME = "state.sqlite3"
STAMP = "%Y-%m-%dT%H:%M:%SZ"
BUSY_POLL_SECONDS = 0.2


def dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    """A query's rows as dicts by column name (what history, queue views and reports read)."""
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


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


class StateFile:
    """The open state file: its connection, its transactions and reads, its clock for stamps."""

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
                migrate(self, version)
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
                migrate(self, 0)
            finally:
                self.db.close()
            with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
                os.link(temporary, self.path)
        except (OSError, sqlite3.Error) as error:
            raise StateError(f"{self.path}: cannot create the state store ({error})") from None
        finally:
            temporary.unlink(missing_ok=True)

    def _retry_busy(self, operation: Callable[[], Any]) -> Any:
        """Run ``operation``; while another process holds the write lock, wait (with an event),
        up to ``busy_timeout`` seconds."""
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

    def _stamp(self) -> str:
        return self.clock.now().strftime(STAMP)

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
