"""The target lock: no two runs, from any host, under any target name, touch one SUSDB at once.

Both layers are keyed by the database's identity (what the server reports), never by the name a
config gives the target: two configs that call one SUSDB differently still exclude each other.

* ``sp_getapplock`` (owner Session, Exclusive, timeout 0) on the run's own work connection: the
  session that holds the lock is the session that does the work. With a dedicated lock
  connection, a dropped lock connection let another host take the lock while this run finished
  its batch on the work connection (network-review D1: 409 declines doubled). Application locks
  are scoped to the database they are taken in, so the resource name is a constant. SQL Server
  releases it when the session ends, so a run killed outright never leaves it behind; after a
  reconnect the new session takes it again, on the same database, before anything else is sent,
  or the run stops (LockLost); the run also checks it before every batch.
* a local lock file named after the identity, so a second run on this host fails fast even if
  its server-side attempt would race.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import filelock

from jobs import events
from jobs.db.executor import Executor
from jobs.errors import DatabaseError, LockBusy, LockLost
from jobs.susdb import DatabaseIdentity, Susdb

log = events.get_logger("susdb_maint.lock")
RESOURCE = "susdb-maint"
# The lock's own questions answer at once on a live link; a silent one must not hold the run for
# a whole query timeout (600 s by default). What the dedicated lock connection had.
LOCK_QUESTION_SECONDS = 30


class TargetLock:
    def __init__(self, executor: Executor, state_dir: Path) -> None:
        self.endpoint = executor.endpoint
        self.state_dir = state_dir
        self.executor: Executor | None = executor  # the run's work connection
        self.file_lock: filelock.FileLock | None = None
        self.identity: DatabaseIdentity | None = None

    def __enter__(self) -> TargetLock:
        assert self.executor is not None
        try:
            self.identity = Susdb(self.executor).database_identity()
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self.file_lock = filelock.FileLock(
                str(lock_file(self.state_dir, self.identity.key)), timeout=0
            )
            try:
                self.file_lock.acquire()
            except filelock.Timeout:
                log.warning("lock.busy", resource=RESOURCE, holder="another run on this host")
                raise LockBusy(
                    f"another run on this host is working on {self.identity.describe()} "
                    f"(target {self.endpoint.name!r} names the same database)"
                ) from None
            granted = self.executor.run(
                "acquire_target_lock", [RESOURCE], timeout=LOCK_QUESTION_SECONDS
            ).rows[0]["Result"]
        except BaseException:
            self._release()
            raise
        if granted < 0:
            self._release()
            log.warning(
                "lock.busy",
                resource=RESOURCE,
                holder="another session on the server",
                result=granted,
            )
            raise LockBusy(
                f"another run holds the lock on {self.identity.describe()} (sp_getapplock {granted})"
            )
        log.debug("lock.acquired", resource=RESOURCE, database=self.identity.describe())
        self.executor.on_connect = self._take_again
        return self

    def _take_again(self) -> None:
        """On a new session (a reconnect): the same database, and the lock again, before any work;
        else LockLost. Another run may have taken it the moment the old session ended."""
        assert self.executor is not None and self.identity is not None
        identity = Susdb(self.executor).database_identity()
        if identity != self.identity:
            raise LockLost(
                f"after a reconnect the connection reached {identity.describe()}, not the locked "
                f"{self.identity.describe()}; the run stopped"
            )
        with self.executor.unbounded():
            granted = self.executor.run(
                "acquire_target_lock", [RESOURCE], timeout=LOCK_QUESTION_SECONDS
            ).rows[0]["Result"]
        if granted < 0:
            log.error("lock.lost", reason="taken by another run during a reconnect")
            raise LockLost(
                "the connection holding the target lock was lost and another run took the lock "
                "before this one could reconnect; the run stopped so that it never works unlocked"
            )
        log.info("lock.reacquired", resource=RESOURCE, database=identity.describe())

    def ensure_held(self) -> None:
        """Raise LockLost unless this session still holds the lock (checked before every batch)."""
        if self.executor is None:
            raise LockLost("the target lock is not held")
        try:
            # A question about the session, not work: it is asked after the window closed too.
            with self.executor.unbounded():
                mode = self.executor.run(
                    "check_target_lock", [RESOURCE], timeout=LOCK_QUESTION_SECONDS
                ).rows[0]["LockMode"]
        except DatabaseError as error:
            log.error("lock.lost", error=str(error))
            raise LockLost(
                "the connection holding the target lock was lost; the run stopped so that it "
                f"never works unlocked ({error})"
            ) from None
        if mode != "Exclusive":
            log.error("lock.lost", lock_mode=mode)
            raise LockLost(
                f"the target lock is no longer held (APPLOCK_MODE says {mode}: its session ended, "
                "as when the connection holding it drops); the run stopped so that it never works "
                "unlocked"
            )

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release()

    def _release(self) -> None:
        if self.executor is not None:
            self.executor.on_connect = None
            # Closing the session releases a session-owned applock anyway, and the run closes it
            # next: one attempt, never a reconnect for it (a run whose link went silent must
            # not spend its retries' logins after its record is written).
            with contextlib.suppress(Exception), self.executor.unbounded():
                self.executor.run(
                    "release_target_lock", [RESOURCE], timeout=LOCK_QUESTION_SECONDS, once=True
                )
            self.executor = None
        if self.file_lock is not None and self.file_lock.is_locked:
            self.file_lock.release()


def lock_file(state_dir: Path, database_key: str) -> Path:
    """The local lock file of one database, by its identity key."""
    return state_dir / f"database-{database_key}.lock"


@contextlib.contextmanager
def no_run_working_on(state_dir: Path, database_keys: list[str]) -> Iterator[None]:
    """Hold the local lock of each database while a command changes its queues (queue clear,
    queue retry): a run on this host owns its queues while it works, and changing them under it
    made it report "done, remaining 0" with work left (admin review N49). Raise LockBusy (exit 5)
    when a run holds one; a run cannot start meanwhile."""
    with contextlib.ExitStack() as held:
        for key in sorted(set(database_keys)):
            lock = filelock.FileLock(str(lock_file(state_dir, key)), timeout=0)
            try:
                held.enter_context(lock)
            except filelock.Timeout:
                raise LockBusy(
                    "a run is working on this target's database now and owns its queues; "
                    "try again when it has finished"
                ) from None
        yield
