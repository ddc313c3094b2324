"""Microsoft's stored procedures and SQL Server's system objects, modelled in Python.

Each procedure follows its published behaviour (shared/reference/susdb-internals.md):
``spDeleteUpdate`` refuses an update still referenced by a bundle or prerequisite, deletes the
update's revisions plus its non-deployable bundled children; ``spDeclineUpdate`` refuses on a
replica when ``@failIfReplica = 1`` and replaces the update's deployments by a Block deployment;
``spGetObsoleteUpdatesToCleanup`` applies the filter of the body captured from a live server.
Costs follow the published figures and are charged to the simulator's clock.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from jobs.simulator import schema
from jobs.simulator.faults import make_error, server_error

LOCK_ESCALATION_THRESHOLD = 5000

# Published costs, in seconds (Microsoft: spDeleteUpdate "tens of seconds" per update without the
# fix; about a second with the fix and the custom indexes).
COST = {
    "statement": 0.005,
    "status_row": 0.0002,  # one tbUpdateStatusPerComputer row deleted with its computer
    "delete_update": 0.8,
    "delete_update_without_fix": 25.0,
    "delete_update_without_index": 6.0,
    "obsolete_scan_per_update": 0.002,
    "compress_update": 0.4,
    "decline_update": 0.03,
    "decline_without_supersedes_index": 0.05,
    "rebuild_per_page": 0.0004,
    "reorganize_per_page": 0.0008,
    "statistics_per_row": 0.00001,
    "create_index_per_row": 0.00002,
}


@dataclass
class ResultSet:
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    rowcount: int = -1
    source: Any = (
        None  # a SQLite cursor still producing rows: large results stream, as on SQL Server
    )


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class Server:
    """The modelled server behind one simulated SUSDB file."""

    def __init__(
        self, db: sqlite3.Connection, clock: Any, cost_model: bool, database: str = "SUSDB"
    ) -> None:
        self.db = db
        self.clock = clock
        self.cost_model = cost_model
        # The modelled database's name on this server, and the database the session is in (a
        # served session may log in to master instead: jobs.simulator.tds.session).
        self.database_name = database
        self.current_database = database
        self._row_counts: dict[str, int] = {}
        self._denied: frozenset[str] = frozenset()
        # The calling session's SET LOCK_TIMEOUT (ms; -1 waits for ever, SQL Server's default and
        # what WSUS's procedures were written for), and the lock timeouts a statement inside the
        # running procedure hit: reported to the client once the procedure has finished.
        self.lock_timeout_ms = -1
        self.lock_timeouts: list[str] = []
        # The calling session's SET options and the statement's text, for the statements modelled
        # by a handler that depend on them (an ALTER PROCEDURE captures ANSI_NULLS, say).
        self.session_options: dict[str, str] = {}
        self.statement_text = ""

    # -- helpers -------------------------------------------------------------------------------
    def charge(self, seconds: float) -> float:
        return seconds if self.cost_model else 0.0

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        row = self.db.execute(sql, params).fetchone()
        return row[0] if row else None

    def note_row_locks(self, statement: str, sql: str, rows: int) -> None:
        """Record a lock escalation when one statement changes ``LOCK_ESCALATION_THRESHOLD`` rows
        or more of a table: "Lock escalation is triggered when ... a single Transact-SQL
        statement acquires at least 5,000 locks on a single nonpartitioned table or index"
        (https://learn.microsoft.com/previous-versions/sql/sql-server-2008-r2/ms184286(v=sql.105));
        the table lock then blocks every writer, client reporting included."""
        match = re.match(r"\s*(?:DELETE\s+FROM|UPDATE)\s+\"?(\w+)", sql, re.I)
        if rows < LOCK_ESCALATION_THRESHOLD or not match:
            return
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS sim_lock_escalation "
            "(statement TEXT NOT NULL, object_name TEXT NOT NULL, locks INTEGER NOT NULL)"
        )
        self.db.execute(
            "INSERT INTO sim_lock_escalation VALUES (?, ?, ?)", (statement, match.group(1), rows)
        )

    def locks_granted(self, table: str, statement: str) -> bool:
        """Whether a statement inside a procedure gets its locks on ``table``, which another
        session (WSUS's own work, a client's report) holds for ``sim_meta`` 'locked:<table>'
        seconds.

        With LOCK_TIMEOUT -1 it waits them out. With a shorter timeout SQL Server returns error
        1222 and "cancels the current statement ... any transaction containing the statement is
        not rolled back" ("SET LOCK_TIMEOUT (Transact-SQL)"; "Customizing the Lock Time-Out"):
        the procedure goes on with its next statement and commits. The model returns False for
        that statement (the caller skips what it would have done) and reports 1222 to the client
        after the procedure finished. Whether a WSUS procedure tests @@ERROR after each statement
        is not public; spDeleteUpdate's published body has no test after its "still referenced"
        checks, so the dangerous alternative is modelled: none does.
        """
        held = self.scalar("SELECT value FROM sim_meta WHERE key = ?", (f"locked:{table}",))
        if held is None:
            return True
        seconds = float(held)
        if self.lock_timeout_ms < 0 or self.lock_timeout_ms >= seconds * 1000:
            self.clock.advance(seconds)
            return True
        self.clock.advance(self.lock_timeout_ms / 1000)
        self.lock_timeouts.append(statement)
        return False

    def load_denials(self) -> None:
        """Read the rights the login lacks (``sim_meta`` keys ``deny:*``, values such as
        ``EXECUTE dbo.spCompressUpdate``, ``VIEW DEFINITION dbo.spDeleteUpdate`` or
        ``ROLE db_owner``) before a statement that asks for them runs."""
        rows = self.db.execute("SELECT key, value FROM sim_meta WHERE key LIKE 'deny:%'")
        self._denied = frozenset(
            str(text).upper() for key, value in rows for text in (key[5:], value) if text
        )

    def denied(self) -> frozenset[str]:
        return self._denied

    def has_index_on(self, table: str, column: str) -> bool:
        return bool(
            self.scalar(
                "SELECT 1 FROM sim_index WHERE object_name = ? AND key_column = ? AND index_id > 1",
                (table, column),
            )
        )

    def delete_fix_applied(self) -> bool:
        definition = self.scalar(
            "SELECT definition FROM sim_object_definition WHERE name = 'dbo.spDeleteUpdate'"
        )
        return "REVISIONID INT PRIMARY KEY" in " ".join((definition or "").upper().split())

    def fragment(self, table: str, changed_rows: int) -> None:
        """Deletes and inserts fragment a table's indexes in proportion to the share of rows changed."""
        # Counting rows on every change would make the simulator quadratic: estimate from a count
        # taken once per connection.
        if table not in self._row_counts:
            self._row_counts[table] = self.table_rows(table)
        rows = max(1, self._row_counts[table])
        share = min(1.0, changed_rows / rows)
        self.db.execute(
            "UPDATE sim_index SET avg_fragmentation_in_percent = MIN(99.0, avg_fragmentation_in_percent + ?), "
            "avg_page_space_used_in_percent = MAX(40.0, avg_page_space_used_in_percent - ?) WHERE object_name = ?",
            (share * 400.0, share * 150.0, table),
        )

    def table_rows(self, table: str) -> int:
        return int(self.scalar(f'SELECT COUNT(*) FROM "{table}"') or 0)

    # -- stored procedures ---------------------------------------------------------------------
    def spDeclineUpdate(
        self, updateID: str, adminName: str = "", failIfReplica: int = 1
    ) -> tuple[ResultSet, float]:
        if failIfReplica and self.scalar("SELECT ReplicaMode FROM tbConfigurationC"):
            raise make_error("replica")
        update_id = str(updateID).strip("{}").upper()
        local_id = self.scalar(
            "SELECT LocalUpdateID FROM tbUpdate WHERE UpdateID = ?", (update_id,)
        )
        if local_id is None:
            raise server_error(f"spDeclineUpdate: the update {update_id} was not found")
        now = ts(self.clock.now())
        revisions = [
            row[0]
            for row in self.db.execute(
                "SELECT RevisionID FROM tbRevision WHERE LocalUpdateID = ? "
                "UNION SELECT b.BundledRevisionID FROM tbBundleDependency b JOIN tbRevision r "
                "ON r.RevisionID = b.RevisionID WHERE r.LocalUpdateID = ?",
                (local_id, local_id),
            )
        ]
        marks = ",".join("?" * len(revisions))
        already = self.scalar(
            f"SELECT COUNT(*) FROM tbDeployment WHERE RevisionID IN ({marks}) AND ActionID = ?",
            (*revisions, schema.ACTION_BLOCK),
        )
        if already:
            return ResultSet(rowcount=0), self.charge(COST["statement"])
        self.db.execute(
            f"INSERT INTO tbDeadDeployment (DeploymentID, TimeOfDeath, ActionID, DeploymentTime, GoLiveTime, "
            f"Deadline, AdminName, DeploymentGuid, IsAssigned, RevisionID, TargetGroupID, TargetGroupTypeID, "
            f"AdminNameWhoDeleted, LastChangeNumber, UpdateID, RevisionNumber, UpdateType) "
            f"SELECT d.DeploymentID, ?, d.ActionID, d.DeploymentTime, d.GoLiveTime, d.Deadline, d.AdminName, "
            f"d.DeploymentGuid, d.IsAssigned, d.RevisionID, d.TargetGroupID, d.TargetGroupTypeID, ?, "
            f"d.LastChangeNumber, ?, r.RevisionNumber, d.UpdateType FROM tbDeployment d "
            f"JOIN tbRevision r ON r.RevisionID = d.RevisionID WHERE d.RevisionID IN ({marks})",
            (now, adminName, update_id, *revisions),
        )
        removed = self.db.execute(
            f"DELETE FROM tbDeployment WHERE RevisionID IN ({marks})", revisions
        ).rowcount
        latest = self.scalar(
            "SELECT RevisionID FROM tbRevision WHERE LocalUpdateID = ? AND IsLatestRevision = 1",
            (local_id,),
        )
        next_id = 1 + max(
            int(self.scalar("SELECT COALESCE(MAX(DeploymentID), 0) FROM tbDeployment")),
            int(self.scalar("SELECT COALESCE(MAX(DeploymentID), 0) FROM tbDeadDeployment")),
        )
        for offset, revision in enumerate(
            [latest] + [rev for rev in revisions if rev != latest and self._is_child(rev, local_id)]
        ):
            self.db.execute(
                "INSERT INTO tbDeployment (DeploymentID, RevisionID, TargetGroupID, TargetGroupTypeID, ActionID, "
                "DeploymentTime, AdminName, LastChangeTime, LastChangeNumber, IsAssigned) "
                "VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, 0)",
                (
                    next_id + offset,
                    revision,
                    schema.ALL_COMPUTERS_GROUP,
                    schema.ACTION_BLOCK,
                    now,
                    adminName,
                    now,
                    next_id + offset,
                ),
            )
        self.fragment("tbDeployment", removed + 1)
        cost = COST["decline_update"]
        if not self.has_index_on("tbRevisionSupersedesUpdate", "SupersededUpdateID"):
            cost += COST["decline_without_supersedes_index"]
        return ResultSet(rowcount=removed), self.charge(cost)

    def _is_child(self, revision: int, local_id: int) -> bool:
        return bool(
            self.scalar(
                "SELECT 1 FROM tbRevision WHERE RevisionID = ? AND LocalUpdateID <> ?",
                (revision, local_id),
            )
        )

    def spGetObsoleteUpdatesToCleanup(self) -> tuple[ResultSet, float]:
        threshold = int(
            self.scalar("SELECT RevisionDeletionTimeThreshold FROM tbConfigurationC") or 30
        )
        minimum = ts(self.clock.now() - timedelta(days=threshold))
        rows = self.db.execute(
            """
            SELECT DISTINCT u.LocalUpdateID FROM tbUpdate u
            JOIN tbRevision r ON r.LocalUpdateID = u.LocalUpdateID
            JOIN tbProperty p ON p.RevisionID = r.RevisionID
            WHERE p.PublicationState = 1
              AND (p.ExplicitlyDeployable = 1 OR p.UpdateType IN ('Category', 'Detectoid'))
              AND p.ReceivedFromCreatorService <= :minimum
              AND NOT EXISTS (SELECT 1 FROM tbBundleDependency bd JOIN tbRevision r1
                              ON bd.BundledRevisionID = r1.RevisionID WHERE r1.LocalUpdateID = u.LocalUpdateID)
              AND NOT EXISTS (SELECT 1 FROM tbPrerequisiteDependency pd JOIN tbRevision r2
                              ON pd.PrerequisiteRevisionID = r2.RevisionID WHERE r2.LocalUpdateID = u.LocalUpdateID)
              AND NOT EXISTS (SELECT 1 FROM tbDeployment d JOIN tbRevision r3 ON d.RevisionID = r3.RevisionID
                              WHERE r3.LocalUpdateID = u.LocalUpdateID AND d.TargetGroupTypeID = 0
                                AND d.ActionID IN (0, 1, 3))
              AND NOT EXISTS (SELECT 1 FROM tbDeadDeployment dd JOIN tbRevision r4 ON dd.RevisionID = r4.RevisionID
                              WHERE r4.LocalUpdateID = u.LocalUpdateID AND dd.TargetGroupTypeID = 0
                                AND dd.ActionID IN (0, 1, 3) AND dd.TimeOfDeath > :minimum)
            ORDER BY u.LocalUpdateID DESC
            """,
            {"minimum": minimum},
        ).fetchall()
        updates = self.table_rows("tbUpdate")
        return ResultSet(["LocalUpdateID"], rows), self.charge(
            updates * COST["obsolete_scan_per_update"]
        )

    def spDeleteUpdate(self, localUpdateID: int) -> tuple[ResultSet, float]:
        local_id = int(localUpdateID)
        revisions = [
            row[0]
            for row in self.db.execute(
                "SELECT RevisionID FROM tbRevision WHERE LocalUpdateID = ?", (local_id,)
            )
        ]
        if not revisions:
            return ResultSet(rowcount=0), self.charge(COST["statement"])
        marks = ",".join("?" * len(revisions))
        # The published body's IF EXISTS "still referenced" checks, and its second pass, read the
        # dependency tables: a lock timeout cancels those reads, and the procedure carries on to
        # the deletes (see locks_granted).
        checked = self.locks_granted("tbBundleDependency", "spDeleteUpdate: still referenced?")
        referenced = checked and self.scalar(
            f"SELECT 1 FROM tbBundleDependency WHERE BundledRevisionID IN ({marks}) "
            f"UNION ALL SELECT 1 FROM tbPrerequisiteDependency WHERE PrerequisiteRevisionID IN ({marks}) LIMIT 1",
            (*revisions, *revisions),
        )
        if referenced:
            raise make_error("still_referenced")
        children = [
            row[0]
            for row in self.db.execute(
                f"SELECT DISTINCT b.BundledRevisionID FROM tbBundleDependency b JOIN tbProperty p "
                f"ON p.RevisionID = b.BundledRevisionID WHERE b.RevisionID IN ({marks}) AND p.ExplicitlyDeployable = 0",
                revisions,
            )
        ]
        doomed = set(revisions) | set(children)
        # A revision still referenced from outside the set survives (spDeleteUpdate's second pass).
        for revision in sorted(doomed, reverse=True) if checked else ():
            outside = self.db.execute(
                "SELECT RevisionID FROM tbBundleDependency WHERE BundledRevisionID = ? "
                "UNION SELECT RevisionID FROM tbPrerequisiteDependency WHERE PrerequisiteRevisionID = ?",
                (revision, revision),
            ).fetchall()
            if any(row[0] not in doomed for row in outside):
                doomed.discard(revision)
        deleted = self.delete_revisions(sorted(doomed))
        cost = COST["delete_update"]
        if not self.delete_fix_applied():
            cost += COST["delete_update_without_fix"]
        if not self.has_index_on("tbLocalizedPropertyForRevision", "LocalizedPropertyID"):
            cost += COST["delete_update_without_index"]
        return ResultSet(rowcount=deleted), self.charge(cost)

    def delete_revisions(self, revisions: list[int]) -> int:
        """Delete revisions the way spDeleteRevision does: the revision and everything hanging off it."""
        if not revisions:
            return 0
        self.db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS sim_deleted_updates (LocalUpdateID INTEGER)"
        )
        self.db.execute("DELETE FROM sim_deleted_updates")
        marks = ",".join("?" * len(revisions))
        self.db.execute(
            f"INSERT INTO sim_deleted_updates SELECT DISTINCT LocalUpdateID FROM tbRevision "
            f"WHERE RevisionID IN ({marks})",
            revisions,
        )
        properties = [
            row[0]
            for row in self.db.execute(
                f"SELECT LocalizedPropertyID FROM tbLocalizedPropertyForRevision WHERE RevisionID IN ({marks})",
                revisions,
            )
        ]
        counts = {}
        for table, column in (
            ("tbProperty", "RevisionID"),
            ("tbLocalizedPropertyForRevision", "RevisionID"),
            ("tbKBArticleForRevision", "RevisionID"),
            ("tbRevisionInCategory", "RevisionID"),
            ("tbRevisionSupersedesUpdate", "RevisionID"),
            ("tbBundleDependency", "RevisionID"),
            ("tbPrerequisiteDependency", "RevisionID"),
            ("tbDeployment", "RevisionID"),
            ("tbDeadDeployment", "RevisionID"),
            ("tbRevision", "RevisionID"),
        ):
            counts[table] = self.db.execute(
                f"DELETE FROM {table} WHERE {column} IN ({marks})", revisions
            ).rowcount
        if properties:
            property_marks = ",".join("?" * len(properties))
            counts["tbLocalizedProperty"] = self.db.execute(
                f"DELETE FROM tbLocalizedProperty WHERE LocalizedPropertyID IN ({property_marks}) AND NOT EXISTS "
                f"(SELECT 1 FROM tbLocalizedPropertyForRevision x WHERE x.LocalizedPropertyID = "
                f"tbLocalizedProperty.LocalizedPropertyID)",
                properties,
            ).rowcount
        for table, changed in counts.items():
            if changed:
                self.fragment(table, changed)
        self.db.execute(
            "DELETE FROM tbUpdate WHERE LocalUpdateID IN (SELECT LocalUpdateID FROM sim_deleted_updates) "
            "AND NOT EXISTS (SELECT 1 FROM tbRevision r WHERE r.LocalUpdateID = tbUpdate.LocalUpdateID)"
        )
        return counts["tbRevision"]

    def spGetUpdatesToCompress(self) -> tuple[ResultSet, float]:
        rows = self.db.execute(
            f"SELECT DISTINCT r.LocalUpdateID FROM tbRevision r WHERE r.IsLatestRevision = 0 AND {self._unreferenced('r')} "
            "ORDER BY r.LocalUpdateID"
        ).fetchall()
        # No public source shows this result's column name (every public caller reads column 0 or
        # INSERT ... EXEC into its own column): the simulator names it nothing, as an expression
        # without an alias would be (tsql-review finding 9).
        return ResultSet([""], rows), self.charge(self.table_rows("tbRevision") * 0.0005)

    @staticmethod
    def _unreferenced(alias: str) -> str:
        return (
            f"NOT EXISTS (SELECT 1 FROM tbDeployment d WHERE d.RevisionID = {alias}.RevisionID) "
            f"AND NOT EXISTS (SELECT 1 FROM tbBundleDependency b WHERE b.BundledRevisionID = {alias}.RevisionID) "
            f"AND NOT EXISTS (SELECT 1 FROM tbPrerequisiteDependency q WHERE q.PrerequisiteRevisionID = {alias}.RevisionID)"
        )

    def spCompressUpdate(self, localUpdateID: int) -> tuple[ResultSet, float]:
        revisions = [
            row[0]
            for row in self.db.execute(
                f"SELECT r.RevisionID FROM tbRevision r WHERE r.LocalUpdateID = ? AND r.IsLatestRevision = 0 "
                f"AND {self._unreferenced('r')}",
                (int(localUpdateID),),
            )
        ]
        deleted = self.delete_revisions(revisions)
        return ResultSet(rowcount=deleted), self.charge(COST["compress_update"])

    def spCleanupObsoleteComputers(self) -> tuple[ResultSet, float]:
        """WSUS's deletion of computers that stopped contacting the server.

        Its threshold: MS-WSUSAR 3.1.4.108, "The default threshold value SHOULD be 30 days. This
        threshold is a WSUS server configuration option." Where WSUS stores it and which date
        column it tests are not public: the simulator keeps both in sim_meta
        (obsolete_computer_days, obsolete_computer_column), so tests can model a server whose
        threshold or column differ from any guess the tool could make. The column is
        ``LastSyncTime`` (the default here), ``LastReportedStatusTime``, or ``either``: a computer
        silent by one of the two goes. ``either`` is a guess, the dangerous alternative (it
        deletes the most: a client that synchronizes but whose status reporting broke goes too),
        modelled because nothing public rules it out.
        """
        days = int(
            self.scalar("SELECT value FROM sim_meta WHERE key = 'obsolete_computer_days'") or 30
        )
        column = (
            self.scalar("SELECT value FROM sim_meta WHERE key = 'obsolete_computer_column'")
            or "LastSyncTime"
        )
        columns = {
            "LastSyncTime": ("LastSyncTime",),
            "LastReportedStatusTime": ("LastReportedStatusTime",),
            "either": ("LastSyncTime", "LastReportedStatusTime"),
        }.get(column)
        if columns is None:
            raise server_error(f"simulator: unknown obsolete_computer_column {column!r}")
        # "Removes client computers ..." (MS-WSUSAR): each computer goes with the rows that hang
        # off it, above all its status per update (tbUpdateStatusPerComputer, often thousands of
        # rows a computer: decline review N3, from the schema's foreign keys). Those rows are what
        # the deletion costs, and they are locked until the transaction that holds them ends.
        cutoff = ts(self.clock.now() - timedelta(days=days))
        silent = " OR ".join(f"{name} IS NULL OR {name} < ?" for name in columns)
        cutoffs = (cutoff,) * len(columns)
        doomed = f"SELECT TargetID FROM tbComputerTarget WHERE {silent}"
        statuses = self.db.execute(
            f"DELETE FROM tbUpdateStatusPerComputer WHERE TargetID IN ({doomed})", cutoffs
        ).rowcount
        self.note_row_locks(
            "spCleanupObsoleteComputers", "DELETE FROM tbUpdateStatusPerComputer", statuses
        )
        deleted = self.db.execute(f"DELETE FROM tbComputerTarget WHERE {silent}", cutoffs).rowcount
        self.note_row_locks("spCleanupObsoleteComputers", "DELETE FROM tbComputerTarget", deleted)
        if deleted:
            self.fragment("tbComputerTarget", deleted)
        return ResultSet(["Column1"], [(deleted,)]), self.charge(
            COST["statement"] * max(1, deleted) + COST["status_row"] * statuses
        )

    def sp_updatestats(self) -> tuple[ResultSet, float]:
        messages = []
        rows = 0
        for (table,) in self.db.execute(
            "SELECT DISTINCT object_name FROM sim_index WHERE schema_name = 'dbo' AND fixed_rows IS NULL "
            "ORDER BY object_name"
        ).fetchall():
            count = self.table_rows(table)
            rows += count
            messages.append(f"Updating [dbo].[{table}]")
            messages.append(
                "    0 index(es)/statistic(s) have been updated, 1 did not require update."
            )
        messages.append("Statistics for all tables have been updated.")
        return ResultSet(messages=messages), self.charge(rows * COST["statistics_per_row"])

    PROCEDURES: ClassVar[dict[str, str]] = {
        "spdeclineupdate": "spDeclineUpdate",
        "spgetobsoleteupdatestocleanup": "spGetObsoleteUpdatesToCleanup",
        "spdeleteupdate": "spDeleteUpdate",
        "spgetupdatestocompress": "spGetUpdatesToCompress",
        "spcompressupdate": "spCompressUpdate",
        "spcleanupobsoletecomputers": "spCleanupObsoleteComputers",
        "sp_updatestats": "sp_updatestats",
    }

    def procedure(self, name: str) -> Callable[..., tuple[ResultSet, float]] | None:
        bare = name.split(".")[-1].strip("[]").lower()
        method = self.PROCEDURES.get(bare)
        return getattr(self, method) if method else None

    # -- system objects ------------------------------------------------------------------------
    def index_physical_stats(self) -> list[dict[str, Any]]:
        """One leaf-level row per modelled index, with exact figures (what DETAILED would see)."""
        result = []
        for row in self.db.execute(
            "SELECT schema_name, object_name, index_id, name, type_desc, key_column, fill_factor, "
            "avg_fragmentation_in_percent, avg_page_space_used_in_percent, row_bytes, object_type, "
            "is_ms_shipped, allow_page_locks, fixed_rows FROM sim_index "
            "ORDER BY schema_name, object_name, index_id"
        ).fetchall():
            (
                owner,
                table,
                index_id,
                name,
                type_desc,
                key,
                fill_factor,
                fragmentation,
                density,
                row_bytes,
                kind,
                shipped,
                page_locks,
                fixed_rows,
            ) = row
            records = self.table_rows(table) if fixed_rows is None else fixed_rows
            pages = max(1, math.ceil(records * row_bytes / (8060 * max(density, 1) / 100)))
            result.append(
                {
                    "schema_name": owner,
                    "object_name": table,
                    "index_id": index_id,
                    "name": name,
                    "type_desc": type_desc,
                    "key_column": key,
                    "fill_factor": fill_factor,
                    "avg_fragmentation_in_percent": round(fragmentation, 2),
                    "avg_page_space_used_in_percent": round(density, 2),
                    "record_count": records,
                    "page_count": pages,
                    "object_type": kind,
                    "is_ms_shipped": shipped,
                    "allow_page_locks": page_locks,
                }
            )
        return result
