"""What the tool changed on a server, kept to review it and to put it back: the updates each run
declined (``history --declined``, the undo script, the HTML report) and the WSUS procedure texts
it replaced (``--restore-delete-update``).

A stage keeps its audit rows through the queue engine without the engine knowing what they are:
the stage's ``QueueWork.audit`` hook makes an ``AuditRow`` for each item done, and the row is
written in the same commit as the checkpoint that settles its item (``WorkQueues.complete``), so
the history holds a change exactly when the queue holds its item done, never twice, never lost.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Protocol

from jobs.state.file import StateFile, dicts


class AuditRow(Protocol):
    """One row a stage keeps about an item it settled; written by ``keep`` in the checkpoint's
    own transaction, with the run's target and the checkpoint's time stamp."""

    def keep(self, db: sqlite3.Connection, target: str, stamp: str) -> None: ...


@dataclass(frozen=True)
class DeclineRecord:
    """A decline the server confirmed, for the history (and the undo script): the decline
    stage's audit row."""

    run_id: str  # the run that sent it (a decline settled after a killed run is that run's)
    update_id: str
    kb: str | None
    title: str
    reason: str
    why: str = ""

    def keep(self, db: sqlite3.Connection, target: str, stamp: str) -> None:
        # OR IGNORE: one row per run and update, however often its decline is settled.
        db.execute(
            "INSERT OR IGNORE INTO declined_updates VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.run_id,
                target,
                self.update_id,
                self.kb,
                self.title,
                self.reason,
                stamp,
                self.why or None,
            ),
        )


def count_old_declines(db: sqlite3.Connection, before: str) -> int:
    """Declines made before ``before`` (a stamp): what ``forget_declines`` would drop."""
    (count,) = db.execute(
        "SELECT COUNT(*) FROM declined_updates WHERE declined_at < ?", (before,)
    ).fetchone()
    return int(count)


def forget_declines(db: sqlite3.Connection, before: str) -> dict[str, int]:
    """Drop declines made before ``before`` (in the caller's transaction): the decline list has
    its own retention, longer than the run history's, so an old run can still be undone."""
    removed = db.execute("DELETE FROM declined_updates WHERE declined_at < ?", (before,))
    return {"declined_updates": removed.rowcount}


class AuditLog(StateFile):
    """A run's declines, and the procedure texts the tool replaced."""

    def declined(self, run_id: str) -> list[dict[str, Any]]:
        with self.reading():
            return dicts(
                self.db.execute(
                    "SELECT update_id, kb, title, reason, why, declined_at FROM declined_updates "
                    "WHERE run_id = ? ORDER BY declined_at, update_id",
                    (run_id,),
                )
            )

    def declined_by_reason(self, run_id: str) -> dict[str, int]:
        """How many updates the run declined, per reason, the most first: what the decline
        stage's own counts no longer say once its queue has drained."""
        with self.reading():
            return dict(
                self.db.execute(
                    "SELECT reason, COUNT(*) FROM declined_updates WHERE run_id = ? "
                    "GROUP BY reason ORDER BY 2 DESC, reason",
                    (run_id,),
                ).fetchall()
            )

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
