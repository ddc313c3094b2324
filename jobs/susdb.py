"""The SUSDB gateway: one typed method per operation, each running one named statement.

It maps rows to small dataclasses and leaves every decision (what to decline, when to stop) to
the stages.
"""

from __future__ import annotations

import hashlib
import itertools
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from jobs.db.executor import Executor, Result, Row
from jobs.errors import DatabaseError


def as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value)[:19])


@dataclass(frozen=True)
class ServerInfo:
    product_version: str
    edition: str
    engine_edition: int
    server_name: str
    database: str

    @property
    def is_wid(self) -> bool:
        return (
            "Internal Database" in (self.edition or "")
            or "##WID" in (self.server_name or "").upper()
            or "##SSEE" in (self.server_name or "").upper()
        )

    @property
    def online_rebuild_allowed(self) -> bool:
        # ONLINE index operations need Enterprise (EngineEdition 3) or Developer / Evaluation.
        return self.engine_edition == 3 or any(
            word in (self.edition or "") for word in ("Enterprise", "Developer")
        )


@dataclass(frozen=True)
class DatabaseIdentity:
    """Which database this is: what the server reports, never what a config calls it."""

    server_name: str
    database_name: str
    database_guid: str
    create_date: str

    @property
    def key(self) -> str:
        """A short, stable key for the state store and lock file names."""
        text = "|".join(
            (
                self.server_name.upper(),
                self.database_name.upper(),
                self.database_guid.upper(),
                self.create_date,
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def describe(self) -> str:
        return f"{self.server_name}/{self.database_name} (created {self.create_date})"


@dataclass(frozen=True)
class LocalUpdate:
    """One update by its LocalUpdateID: an item of the obsolete-update and compression queues."""

    local_update_id: int


@dataclass(frozen=True)
class UpdateState:
    """What the server holds for one update: present at all, and its latest revision declined;
    when read on its own (``update_state``), the admin name its decline was made with."""

    present: bool
    declined: bool
    declined_by: str | None = None


@dataclass(frozen=True)
class ComputerCounts:
    """All computers, and those WSUS's cleanup would delete: at most (silent by either date) and
    at least (silent by both)."""

    total: int
    at_most: int
    at_least: int


@dataclass(frozen=True)
class Module:
    """A stored procedure as sys.sql_modules keeps it."""

    definition: str
    uses_ansi_nulls: bool
    uses_quoted_identifier: bool
    signed: bool


@dataclass(frozen=True)
class ReplicaState:
    replica_mode: bool
    sync_to_mu: bool
    upstream_server: str | None


@dataclass(frozen=True)
class UpdateRef:
    update_id: str
    local_update_id: int
    title: str
    kb: str | None


@dataclass(frozen=True)
class UpdateTitle:
    """How an administrator looks an update up: its KB article (when it has one) and title."""

    kb: str | None
    title: str


# Wanted LocalUpdateIDs per round trip of ``update_titles``: one range each.
TITLES_PER_RANGE = 500


@dataclass(frozen=True)
class NamespaceRows:
    """tbEventInstance rows in one event namespace; ``name`` from tbEventNamespace, if it lists it."""

    namespace: int
    name: str | None
    rows: int


@dataclass
class UpdateCategories:
    update: UpdateRef
    legacy_name: str
    products: list[str] = field(default_factory=list)
    classifications: list[str] = field(default_factory=list)
    # Product or classification categories whose title resolves neither way (CategoryIDs): the
    # rules judging categories leave such an update alone.
    unresolved: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class IndexStats:
    """One index at the leaf level. A LIMITED scan leaves ``page_density`` and ``record_count``
    unknown (None)."""

    table: str
    index: str
    index_id: int
    type_desc: str
    fill_factor: int
    fragmentation: float
    page_density: float | None
    page_count: int
    record_count: int | None
    allow_page_locks: bool = True


def _with_categories(rows: Iterator[dict[str, Any]]) -> Iterator[UpdateCategories]:
    """Group (update, category) rows, ordered by update, into one entry per update."""
    for _, group in itertools.groupby(rows, key=lambda row: row["LocalUpdateID"]):
        members = list(group)
        entry = UpdateCategories(_ref(members[0]), members[0].get("LegacyName") or "")
        for row in members:
            title = row.get("CategoryTitle")
            if not title:
                if row.get("CategoryType") in ("Product", "UpdateClassification"):
                    entry.unresolved.append(int(row["CategoryID"]))
                continue
            if row.get("CategoryType") == "Product" and title not in entry.products:
                entry.products.append(title)
            elif (
                row.get("CategoryType") == "UpdateClassification"
                and title not in entry.classifications
            ):
                entry.classifications.append(title)
        yield entry


@dataclass(frozen=True)
class Supersedence:
    """One update superseding another, with what decides whether the superseding one is alive."""

    superseded: str  # UpdateID, upper case
    superseding: str
    declined: bool
    expired: bool
    approved: bool  # an Install deployment of its latest revision
    title: str | None  # None: no title in its default language
    kb: str | None = None
    created: datetime | None = None
    offered: bool = True  # clients are offered it: explicitly deployable, not hidden

    def describe(self) -> str:
        """The superseding update, as an administrator looks it up: KB, title, date, approval."""
        name = " ".join(part for part in (self.kb, self.title and f"'{self.title}'") if part)
        return f"{name or self.superseding} ({self.state()})"

    def briefly(self) -> str:
        """The superseding update in a few words: its KB (else its title), date and approval."""
        return f"{self.kb or self.title or self.superseding} ({self.state()})"

    def state(self) -> str:
        facts = [f"created {self.created:%Y-%m-%d}"] if self.created else []
        facts.append("approved for install" if self.approved else "not approved")
        return ", ".join(facts)


def _supersedence(row: dict[str, Any]) -> Supersedence:
    return Supersedence(
        superseded=sys.intern(str(row.get("SupersededUpdateID") or "").upper()),
        superseding=sys.intern(str(row["SupersedingUpdateID"]).upper()),
        declined=bool(row["Declined"]),
        expired=bool(row["Expired"]),
        approved=bool(row["Approved"]),
        title=row["Title"],
        kb=f"KB{row['KBArticle']}" if row.get("KBArticle") else None,
        created=as_datetime(row.get("CreationDate")),
        offered=bool(row["Offered"]),
    )


def _ref(row: dict[str, Any]) -> UpdateRef:
    return UpdateRef(
        update_id=str(row["UpdateID"]).upper(),
        local_update_id=int(row["LocalUpdateID"]),
        title=row["Title"],
        kb=(f"KB{row['KBArticle']}" if row.get("KBArticle") else None),
    )


class Susdb:
    """Typed access to one SUSDB through one executor."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    # -- identity and lock -----------------------------------------------------------------------
    def database_identity(self) -> DatabaseIdentity:
        row = self.executor.run("database_identity").rows[0]
        created = row["CreateDate"]
        return DatabaseIdentity(
            str(row["ServerName"] or ""),
            str(row["DatabaseName"] or ""),
            str(row["DatabaseGuid"] or ""),
            created.isoformat(sep=" ") if isinstance(created, datetime) else str(created or ""),
        )

    # -- preflight -------------------------------------------------------------------------------
    def server_info(self) -> ServerInfo:
        row = self.executor.run("server_info").rows[0]
        return ServerInfo(
            row["ProductVersion"],
            row["Edition"],
            int(row["EngineEdition"] or 0),
            row["ServerName"],
            row["DatabaseName"],
        )

    def schema_version(self) -> dict[str, Any]:
        rows = self.executor.run("schema_version").rows
        return rows[0] if rows else {}

    def replica_state(self) -> ReplicaState:
        row = self.executor.run("replica_state").rows[0]
        return ReplicaState(
            bool(row["ReplicaMode"]), bool(row["SyncToMu"]), row["UpstreamServerName"]
        )

    def last_full_backup(self) -> datetime | None:
        return self.last_full_backup_and_device()[0]

    def last_full_backup_and_device(self) -> tuple[datetime | None, str | None]:
        """When the newest full backup finished (UTC), and the file or device it went to."""
        rows = self.executor.run("last_full_backup").rows
        if not rows:
            return None, None
        device = rows[0].get("Device")
        return as_datetime(rows[0]["LastBackupUtc"]), None if device is None else str(device)

    def delete_update_fix_applied(self) -> bool | None:
        """Whether Microsoft's spDeleteUpdate fix is in place; None when the definition cannot be
        read (OBJECT_DEFINITION returns NULL without VIEW DEFINITION on the procedure)."""
        definition = self.delete_update_definition()
        if definition is None:
            return None
        normalized = " ".join(definition.upper().split())
        return "@REVISIONLIST TABLE(REVISIONID INT PRIMARY KEY)" in normalized.replace(
            "TABLE (", "TABLE("
        )

    def delete_update_definition(self) -> str | None:
        """spDeleteUpdate's text (None without VIEW DEFINITION on it)."""
        module = self.delete_update_module()
        return None if module is None else module.definition

    def delete_update_module(self) -> Module | None:
        """spDeleteUpdate as the server keeps it (None without VIEW DEFINITION on it)."""
        rows = self.executor.run("delete_update_definition").rows
        if not rows or rows[0]["Definition"] is None:
            return None
        row = rows[0]
        return Module(
            str(row["Definition"]),
            bool(row["UsesAnsiNulls"]),
            bool(row["UsesQuotedIdentifier"]),
            bool(row["IsSigned"]),
        )

    def delete_fix_rights(self) -> tuple[bool, bool]:
        row = self.executor.run("delete_fix_rights").rows[0]
        return bool(row["CanView"]), bool(row["CanAlter"])

    def apply_delete_update_fix(self, expected: str) -> None:
        self.executor.run("apply_delete_update_fix", [expected], timeout=120)

    def restore_delete_update(self, original: str, expected_current: str) -> None:
        self.executor.run("restore_delete_update", [original, expected_current], timeout=120)

    def last_sync_event(self) -> tuple[datetime | None, list[int]]:
        """The last synchronization event and its age in minutes, against UTC and local time."""
        row = self.executor.run("last_sync_event").rows[0]
        ages = [
            int(row[column])
            for column in ("MinutesAgoUtc", "MinutesAgoLocal")
            if row.get(column) is not None
        ]
        return as_datetime(row["LastSyncEvent"]), ages

    def permissions(self) -> dict[str, bool]:
        return {
            row["Permission"]: bool(row["Held"])
            for row in self.executor.run("check_permissions").rows
        }

    def backup_database(self, path: str, timeout: int | None = None) -> list[str]:
        return self.executor.run("backup_database", [path], timeout=timeout).messages

    # -- indexes ---------------------------------------------------------------------------------
    def custom_index_columns(self) -> list[tuple[str, str, str]]:
        return [
            (row["TableName"], row["IndexName"], row["LeadingColumn"])
            for row in self.executor.run("index_key_columns").rows
        ]

    def create_custom_index(self, statement_name: str, timeout: int | None = None) -> None:
        self.executor.run(statement_name, timeout=timeout)

    def drop_custom_index(self, table: str, index: str) -> None:
        self.executor.run("drop_custom_index", [table, index])

    def index_stats(
        self, *, mode: Literal["LIMITED", "SAMPLED"] = "SAMPLED", timeout: int | None = None
    ) -> list[IndexStats]:
        """Leaf-level stats of every dbo index: SAMPLED (Microsoft's reindex script) or LIMITED
        (fragmentation and page counts only, reading the pages above the leaf level)."""
        if mode not in ("LIMITED", "SAMPLED"):
            raise ValueError(f"unknown scan mode {mode!r}")
        return [
            IndexStats(
                row["TableName"],
                row["IndexName"],
                int(row["IndexId"]),
                row["TypeDesc"],
                int(row["FillFactor"] or 0),
                float(row["Fragmentation"] or 0),
                None if row["PageDensity"] is None else float(row["PageDensity"]),
                int(row["PageCount"] or 0),
                None if row["RecordCount"] is None else int(row["RecordCount"]),
                bool(row["AllowPageLocks"]) if row.get("AllowPageLocks") is not None else True,
            )
            for row in self.executor.run("index_fragmentation", [mode], timeout=timeout).rows
        ]

    def reorganize_index(self, table: str, index: str, timeout: int | None = None) -> None:
        self.executor.run("reorganize_index", [table, index], timeout=timeout)

    def rebuild_index(
        self,
        table: str,
        index: str,
        *,
        online: bool,
        fill_factor: int | None,
        maxdop: int | None,
        timeout: int | None = None,
    ) -> None:
        self.executor.run(
            "rebuild_index", [table, index, online, fill_factor, maxdop], timeout=timeout
        )

    def update_statistics(self, timeout: int | None = None) -> list[str]:
        return self.executor.run("update_statistics_all", timeout=timeout).messages

    def user_tables(self) -> list[str]:
        return [row["TableName"] for row in self.executor.run("user_tables").rows]

    def update_table_statistics(self, table: str, timeout: int | None = None) -> None:
        self.executor.run("update_statistics_table", [table], timeout=timeout)

    # -- declines --------------------------------------------------------------------------------
    def superseded_updates(
        self,
        *,
        last_level_only: bool,
        min_age_days: int,
        age_from_superseding: bool,
        arrived_within_months: int = 0,
        cleanup_wizard: bool = False,
        superseder_min_age_days: int = 0,
        update_id: str | None = None,
    ) -> Iterator[UpdateCategories]:
        rows = self.executor.stream(
            "superseded_updates",
            [
                last_level_only,
                min_age_days,
                age_from_superseding,
                arrived_within_months,
                cleanup_wizard,
                superseder_min_age_days,
                update_id,
            ],
        )
        return _with_categories(rows)

    def supersedences(self) -> Iterator[Supersedence]:
        """Every supersedence between latest revisions (the decline stage's cover graph)."""
        rows = self.executor.stream("superseding_updates", [None])
        return (_supersedence(row) for row in rows)

    def superseders_of(self, update_id: str) -> list[Supersedence]:
        """The updates that directly supersede ``update_id``, as the server holds them now."""
        rows = self.executor.run("superseding_updates", [update_id]).rows
        return [_supersedence(row) for row in rows]

    def as_superseder(self, update_id: str) -> Supersedence | None:
        """``update_id`` as a superseder now (its state, not whom it supersedes), or None when
        it is gone."""
        rows = self.executor.run("update_liveness", [update_id]).rows
        return _supersedence(rows[0]) if rows else None

    def expired_updates(self) -> Iterator[UpdateCategories]:
        return _with_categories(self.executor.stream("expired_updates"))

    def undeclined_updates_with_categories(self) -> Iterator[UpdateCategories]:
        return _with_categories(self.executor.stream("undeclined_update_categories"))

    def product_titles(self) -> list[str]:
        return [row["Title"] for row in self.executor.run("product_titles").rows]

    def update_state(self, update_id: str) -> UpdateState:
        row = self.executor.run("update_is_declined", [update_id]).rows[0]
        return UpdateState(bool(row["Present"]), bool(row["Declined"]), row["DeclinedBy"])

    def declined_update_ids(self) -> Iterator[str]:
        """The UpdateID (upper case) of every update whose latest revision is declined, streamed:
        one read for a whole set of updates, where ``update_state`` is a round trip each."""
        return (str(row["UpdateID"]).upper() for row in self.executor.stream("declined_update_ids"))

    def update_exists(self, local_update_id: int) -> bool:
        return bool(self.executor.run("update_exists", [local_update_id]).rows[0]["Present"])

    def decline_update(
        self, update_id: str, admin_name: str, timeout: int | None = None
    ) -> tuple[bool, UpdateState]:
        """Decline one update if it is still to be declined; return whether the call was sent
        and what the server holds afterwards (same batch)."""
        row = _answer(self.executor.run("decline_update", [update_id, admin_name], timeout=timeout))
        return bool(row["Sent"]), UpdateState(bool(row["Present"]), bool(row["Declined"]))

    # -- cleanup ---------------------------------------------------------------------------------
    def obsolete_update_ids(self, timeout: int | None = None) -> Iterator[int]:
        # Read by position: the column is named LocalUpdateID in the captured body, but a build
        # that names it otherwise must not stop the stage.
        return (int(row.at(0)) for row in self.executor.stream("obsolete_updates", timeout=timeout))

    def delete_update(self, local_update_id: int, timeout: int | None = None) -> tuple[bool, bool]:
        """Delete one update if it still exists; return (sent, still present afterwards)."""
        row = _answer(self.executor.run("delete_update", [local_update_id], timeout=timeout))
        return bool(row["Sent"]), bool(row["Present"])

    def update_titles(self, local_update_ids: Iterable[int]) -> dict[int, UpdateTitle]:
        """The KB and title of each of these updates still in the catalog, by LocalUpdateID."""
        wanted = sorted(set(local_update_ids))
        found: dict[int, UpdateTitle] = {}
        for start in range(0, len(wanted), TITLES_PER_RANGE):
            chunk = wanted[start : start + TITLES_PER_RANGE]
            # A range holds every update between its ends: keep only the wanted ones.
            chosen = set(chunk)
            for row in self.executor.stream("update_titles", [chunk[0], chunk[-1]]):
                local_id = int(row["LocalUpdateID"])
                if local_id in chosen:
                    kb = f"KB{row['KBArticle']}" if row["KBArticle"] else None
                    found[local_id] = UpdateTitle(kb, row["Title"] or "")
        return found

    def updates_to_compress(self, timeout: int | None = None) -> Iterator[int]:
        # Read by position: no public source names spGetUpdatesToCompress's column.
        return (
            int(row.at(0)) for row in self.executor.stream("updates_to_compress", timeout=timeout)
        )

    def old_revisions(self, local_update_id: int) -> int:
        return int(
            self.executor.run("update_old_revisions", [local_update_id]).rows[0]["OldRevisions"]
            or 0
        )

    def compress_update(self, local_update_id: int, timeout: int | None = None) -> bool:
        """Compress one update if it still has obsolete revisions; return whether it was sent."""
        row = _answer(self.executor.run("compress_update", [local_update_id], timeout=timeout))
        return bool(row["Sent"])

    def computer_counts(self, threshold_days: int) -> ComputerCounts:
        row = self.executor.run("computer_counts", [threshold_days]).rows[0]
        return ComputerCounts(
            int(row["Total"] or 0), int(row["Inactive"] or 0), int(row["Certain"] or 0)
        )

    def computer_target_ids(self) -> set[int]:
        return {int(row["TargetID"]) for row in self.executor.run("computer_target_ids").rows}

    def cleanup_obsolete_computers(self) -> int | None:
        """Run WSUS's deletion; return its own count, if it reports one (read by position)."""
        rows = self.executor.run("cleanup_obsolete_computers").rows
        return int(next(iter(rows[0].values()))) if rows else None

    def sync_history_backlog(self, retention_days: int) -> int:
        return int(
            self.executor.run("sync_history_backlog", [retention_days]).rows[0]["Backlog"] or 0
        )

    def delete_sync_history(
        self, batch_rows: int, retention_days: int, timeout: int | None = None
    ) -> int:
        rows = self.executor.run(
            "delete_sync_history", [batch_rows, retention_days], timeout=timeout
        ).rows
        return int(rows[0]["Deleted"]) if rows else 0

    def event_rows_by_namespace(self) -> list[NamespaceRows]:
        return [
            NamespaceRows(
                int(row["EventNamespaceID"]), row["DisplayName"], int(row["EventRows"] or 0)
            )
            for row in self.executor.run("event_rows_by_namespace").rows
        ]

    def client_events_backlog(self, retention_days: int) -> int:
        return int(
            self.executor.run("client_events_backlog", [retention_days]).rows[0]["Backlog"] or 0
        )

    def delete_client_events(
        self, batch_rows: int, retention_days: int, timeout: int | None = None
    ) -> int:
        rows = self.executor.run(
            "delete_client_events", [batch_rows, retention_days], timeout=timeout
        ).rows
        return int(rows[0]["Deleted"]) if rows else 0

    # -- health ----------------------------------------------------------------------------------
    def update_counts(self) -> dict[str, int]:
        row = self.executor.run("kpi_update_counts").rows[0]
        return {key: int(value or 0) for key, value in row.items()}

    def approved_updates(self) -> int:
        return int(self.executor.run("kpi_approved_updates").rows[0]["Approved"] or 0)

    def table_rows(self) -> dict[str, int]:
        row = self.executor.run("kpi_table_rows").rows[0]
        return {key: int(value or 0) for key, value in row.items()}

    def client_outcomes(self, stopped_reporting_days: int) -> dict[str, int]:
        """Computers that synchronized (last day, last week), whose last synchronization failed,
        and that stopped reporting, by the statement's column names."""
        row = self.executor.run("kpi_client_outcomes", [stopped_reporting_days]).rows[0]
        return {key: int(value or 0) for key, value in row.items()}

    def backup_space(self) -> tuple[int, list[tuple[str, int]]]:
        """The bytes a full backup copies, and (mount point, bytes free) per volume the engine
        keeps this database's files on."""
        rows = self.executor.run("backup_space").rows
        used = int(rows[0]["UsedBytes"] or 0) if rows else 0
        return used, [(str(row["MountPoint"]), int(row["AvailableBytes"] or 0)) for row in rows]

    def database_size_mb(self) -> int:
        return int(self.executor.run("database_size").rows[0]["SizeMB"] or 0)


def _answer(result: Result) -> Row:
    """The row a destructive statement answers with: without it, what the server did is not
    known, and the queue engine asks the server (verify) instead of guessing."""
    if not result.rows:
        raise DatabaseError("the statement returned no answer row; what it did is checked")
    return result.rows[-1]
