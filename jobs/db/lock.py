"""The target lock: no two runs, from any host, touch one SUSDB at once.

Two layers: a local lock file (cheap, catches a second run on this host before it connects) and
``sp_getapplock`` (owner Session, Exclusive, timeout 0) on a dedicated connection held for the
whole run, which catches runs from other hosts and is released by SQL Server if this process
dies.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from types import TracebackType
from typing import Any

import filelock

from jobs import events
from jobs.db.connection import Endpoint
from jobs.db.executor import Executor
from jobs.errors import LockBusy

log = events.get_logger("susdb_maint.lock")


def resource_name(endpoint: Endpoint) -> str:
    return f"susdb-maint:{endpoint.name}"


class TargetLock:
    def __init__(self, endpoint: Endpoint, state_dir: Path, *, clock: Any = None) -> None:
        self.endpoint = endpoint
        digest = hashlib.sha1(endpoint.name.encode()).hexdigest()[:12]
        state_dir.mkdir(parents=True, exist_ok=True)
        self.file_lock = filelock.FileLock(str(state_dir / f"target-{digest}.lock"), timeout=0)
        self.clock = clock
        self.executor: Executor | None = None

    def __enter__(self) -> TargetLock:
        resource = resource_name(self.endpoint)
        try:
            self.file_lock.acquire()
        except filelock.Timeout:
            log.warning("lock.busy", resource=resource, holder="another run on this host")
            raise LockBusy(
                f"another run holds the lock for target {self.endpoint.name!r} (on this host)"
            ) from None
        try:
            self.executor = Executor(self.endpoint, clock=self.clock, default_timeout=30)
            granted = self.executor.run("acquire_target_lock", [resource]).rows[0]["Result"]
        except BaseException:
            self._release()
            raise
        if granted < 0:
            self._release()
            log.warning(
                "lock.busy",
                resource=resource,
                holder="another session on the server",
                result=granted,
            )
            raise LockBusy(
                f"another run holds the lock for target {self.endpoint.name!r} (sp_getapplock {granted})"
            )
        log.debug("lock.acquired", resource=resource)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release()

    def _release(self) -> None:
        if self.executor is not None:
            # Closing the session releases a session-owned applock anyway.
            with contextlib.suppress(Exception):
                self.executor.run("release_target_lock", [resource_name(self.endpoint)])
            self.executor.close()
            self.executor = None
        if self.file_lock.is_locked:
            self.file_lock.release()
