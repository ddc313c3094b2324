"""Simulated SUSDBs as a test describes them.

``CatalogBuilder`` makes one by hand: exactly the updates a test names (titles, ages, KBs,
supersedence, products, classifications, approvals, bundles), the computers and what they report,
the events. ``SimulatedServer`` puts a named condition on a simulated SUSDB that already exists (a
preset's): a right the login lacks, the build of spDeleteUpdate, a lock WSUS holds, an item a
procedure always fails on, a volume nearly full. A builder takes the same conditions, and is a
replica with ``replica=True`` (a preset: ``preset_profile(..., replica=True)``); a run's own lock,
held by another run, is ``tests.helpers.held_lock``. The SQL that
plants each one is here, once, so a test says what it means (``server.deny("EXECUTE
dbo.spCompressUpdate")``) and reads like the behaviour it checks.

``build_catalog`` turns a case written as data (tests/fixtures/decline_cases.yml) into a builder's
calls: updates are named by title, and name each other by title.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from jobs.simulator import catalog, schema
from jobs.simulator.dbapi import catalog_clock
from jobs.simulator.server import ts

NOW = datetime(2026, 11, 25, 2, 0, 0)

SpDeleteUpdateBuild = Literal["fixed", "original", "unknown"]


class ServerConditions:
    """Named conditions of a simulated SQL Server and its SUSDB (jobs/simulator/__init__.py says
    how the simulator reads each one). Subclasses say where rows go and what "now" is."""

    def _write(self, sql: str, rows: Iterable[tuple[Any, ...]] = ((),)) -> None:
        raise NotImplementedError

    def _scalar(self, sql: str) -> Any:
        raise NotImplementedError

    def _now(self) -> datetime:
        raise NotImplementedError

    def _meta(self, key: str, value: object) -> None:
        self._write("INSERT OR REPLACE INTO sim_meta VALUES (?, ?)", [(key, str(value))])

    # -- rights, procedures, locks ------------------------------------------------------------

    def deny(self, *rights: str) -> None:
        """The login lacks these rights: ``EXECUTE dbo.spCompressUpdate``, ``VIEW DEFINITION
        dbo.spDeleteUpdate``, ``ALTER dbo.tbRevision``, ``ROLE db_owner``, ``BACKUP DATABASE
        SUSDB``, ``VIEW ANY DATABASE`` (HAS_PERMS_BY_NAME and IS_ROLEMEMBER answer 0)."""
        self._write(
            "INSERT OR REPLACE INTO sim_meta VALUES (?, ?)",
            [(f"deny:{right}", right) for right in rights],
        )

    def spdeleteupdate(self, build: SpDeleteUpdateBuild) -> None:
        """dbo.spDeleteUpdate is this build: ``fixed`` (Microsoft's fix, under a second a
        deletion), ``original`` (as WSUS ships it: about 30 seconds a deletion), ``unknown`` (a
        build whose text this tool does not know, as after a WSUS update)."""
        self._write(
            "UPDATE sim_object_definition SET definition = ? WHERE name = 'dbo.spDeleteUpdate'",
            [(schema.spdeleteupdate_texts()[build],)],
        )

    def spdeleteupdate_module(self, **columns: int) -> None:
        """dbo.spDeleteUpdate's module flags in sys.sql_modules (``is_signed``,
        ``uses_ansi_nulls``, ``uses_quoted_identifier``)."""
        for column in columns:
            assert column in {"is_signed", "uses_ansi_nulls", "uses_quoted_identifier"}, column
            self._write(
                f"UPDATE sim_object_definition SET {column} = ? WHERE name = 'dbo.spDeleteUpdate'",
                [(columns[column],)],
            )

    def poison(self, procedure: str, argument: str, error: str) -> None:
        """``procedure`` always fails with ``error`` when its first argument is ``argument``, as on
        a damaged update."""
        self._meta(f"poison:{procedure}:{argument.upper()}", error)

    def wsus_holds_lock(self, table: str, seconds: float) -> None:
        """Another session (WSUS's own work, a client's report) holds locks on ``table`` for
        ``seconds``: a statement inside a procedure waits them out or, with a shorter
        LOCK_TIMEOUT, fails with 1222 while the procedure goes on."""
        self._meta(f"locked:{table}", seconds)

    # -- the server and its files --------------------------------------------------------------

    def engine_edition(self, value: int) -> None:
        """SERVERPROPERTY('EngineEdition') answers ``value`` (3: Enterprise)."""
        self._write(
            "UPDATE sim_server_property SET value = ? WHERE name = 'EngineEdition'", [(str(value),)]
        )

    def volume(self, mount_point: str, *, free_bytes: int) -> None:
        """The volume the server keeps the database on, as sys.dm_os_volume_stats says."""
        self._meta("volume_mount_point", mount_point)
        self._meta("volume_free_bytes", free_bytes)

    def fragmented(
        self, table: str, index: str | None = None, *, percent: float = 60.0, density: float = 70.0
    ) -> None:
        """An index of ``table`` (every one unless named) fragmented to ``percent``, its pages
        ``density`` percent full."""
        self._write(
            "UPDATE sim_index SET avg_fragmentation_in_percent = ?, "
            "avg_page_space_used_in_percent = ? WHERE object_name = ? AND (? IS NULL OR name = ?)",
            [(percent, density, table, index, index)],
        )

    def custom_index(self, table: str, name: str, column: str, *, index_id: int) -> None:
        """An administrator's nonclustered index on ``table(column)``, named as they chose."""
        self._write(
            f"INSERT INTO sim_index {schema.SIM_INDEX_COLUMNS} "
            "VALUES (?, ?, ?, 'NONCLUSTERED', ?, 0, 1, 98, 24)",
            [(table, index_id, name, column)],
        )

    def made_by_another_version(self, *, before_formats: bool = False) -> None:
        """The file was made by another susdb-maint version (``before_formats``: one made before
        files carried a format at all)."""
        if before_formats:
            self._write("DELETE FROM sim_meta WHERE key = 'format'")
        else:
            self._meta("format", "older")

    # -- computers ----------------------------------------------------------------------------

    def computers(
        self,
        prefix: str,
        count: int,
        *,
        synced_hours: float | None,
        reported_hours: float | None = None,
        result: int = 1,
    ) -> None:
        """``count`` computers named ``prefix1``, ``prefix2``..., as ``computer`` plants one."""
        self._plant_computers(
            [f"{prefix}{number}" for number in range(1, count + 1)],
            synced_hours,
            reported_hours,
            result,
        )

    def computer(
        self,
        name: str,
        *,
        synced_hours: float | None,
        reported_hours: float | None = None,
        result: int = 1,
        modelled: bool = False,
    ) -> None:
        """A computer that last synchronized ``synced_hours`` ago with ``result`` (LastSyncResult:
        0 never, 1 succeeded, 2 failed) and last reported status ``reported_hours`` ago (the
        synchronization's time unless given; None: never). ``modelled``: it keeps scanning on the
        simulated server's clock (jobs/simulator/clients.py), else its dates stay as planted."""
        synced = self._plant_computers([name], synced_hours, reported_hours, result)
        if modelled:
            self._write("INSERT INTO sim_client VALUES (?, ?)", [(name, synced)])

    def _plant_computers(
        self,
        names: list[str],
        synced_hours: float | None,
        reported_hours: float | None,
        result: int,
    ) -> str | None:
        now = self._now()

        def ago(hours: float | None) -> str | None:
            return None if hours is None else ts(now - timedelta(hours=hours))

        synced = ago(synced_hours)
        reported = synced if reported_hours is None else ago(reported_hours)
        self._write(
            "INSERT INTO tbComputerTarget (ComputerID, FullDomainName, LastSyncTime, "
            "LastReportedStatusTime, LastSyncResult) VALUES (?, ?, ?, ?, ?)",
            [(name, f"{name.lower()}.contoso.com", synced, reported, result) for name in names],
        )
        return synced

    def no_computers(self) -> None:
        """Every computer is gone from the estate (and what it reported)."""
        self._write("DELETE FROM tbUpdateStatusPerComputer")
        self._write("DELETE FROM tbComputerTarget")

    def every_computer_last_synced(self, moment: datetime) -> None:
        """Every computer's LastSyncTime is ``moment``; their status reports are left as they
        were (reporting and synchronization broke apart)."""
        self._write("UPDATE tbComputerTarget SET LastSyncTime = ?", [(ts(moment),)])

    def obsolete_computers(self, *, days: int | None = None, column: str | None = None) -> None:
        """WSUS's own rule for spCleanupObsoleteComputers, which no parameter changes: silent
        ``days`` (30 unless set) by ``column`` (``LastSyncTime`` unless set;
        ``LastReportedStatusTime``; or ``either``, silent by one of the two)."""
        if days is not None:
            self._meta("obsolete_computer_days", days)
        if column is not None:
            self._meta("obsolete_computer_column", column)

    def client_scan_limit(self, updates: int) -> None:
        """Clients fail their scans while more than ``updates`` updates are not declined
        (Microsoft's figure is 7,000)."""
        self._meta("client_scan_limit", updates)

    # -- events -------------------------------------------------------------------------------

    def events(
        self,
        label: str,
        *,
        namespace: int,
        event_id: int,
        age_days: float,
        computer: str | None = None,
        copies: int = 1,
    ) -> None:
        """``copies`` rows of tbEventInstance, ``age_days`` old, with IDs ``label-000000``...;
        ``computer`` names the computer a client's report came from."""
        at = ts(self._now() - timedelta(days=age_days))
        # EventOrdinalNumber is an IDENTITY column in SUSDB: numbered on from the last row.
        last = int(self._scalar("SELECT COALESCE(MAX(EventOrdinalNumber), 0) FROM tbEventInstance"))
        self._write(
            "INSERT INTO tbEventInstance (EventInstanceID, EventID, EventNamespaceID, "
            "TimeAtTarget, TimeAtServer, ComputerID, EventOrdinalNumber) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (f"{label}-{copy:06d}", event_id, namespace, at, at, computer, last + 1 + copy)
                for copy in range(copies)
            ],
        )

    def synchronized(self, *, minutes_ago: float = 0, days_ago: float = 0, copies: int = 1) -> None:
        """A WSUS synchronization wrote its event (381, the server's namespace) that long ago;
        ``copies``: that many, as the history of many synchronizations."""
        self.events(
            f"SYNC-{uuid.uuid4().hex[:12]}",
            namespace=schema.SYNC_EVENT_NAMESPACE,
            event_id=381,
            age_days=days_ago + minutes_ago / 1440,
            copies=copies,
        )


class SimulatedServer(ServerConditions):
    """Named conditions put on a simulated SUSDB file that already exists; each one is written
    and committed at once. Ages count from the simulated server's clock."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _write(self, sql: str, rows: Iterable[tuple[Any, ...]] = ((),)) -> None:
        with contextlib.closing(sqlite3.connect(self.path)) as db, db:
            db.executemany(sql, rows)

    def _scalar(self, sql: str) -> Any:
        with contextlib.closing(sqlite3.connect(self.path)) as db:
            return db.execute(sql).fetchone()[0]

    def _now(self) -> datetime:
        return catalog_clock(self.path).now()


class CatalogBuilder(ServerConditions):
    """A hand-built simulated SUSDB: exactly the updates a test names, nothing else."""

    def __init__(
        self,
        path: Path,
        *,
        now: datetime = NOW,
        replica: bool = False,
        backup_age_hours: float | None = 2.0,
        edition: str = "wid",
    ) -> None:
        self.path = path
        self.now = now
        self.db = sqlite3.connect(path)
        schema.create(self.db)
        self.rng = random.Random(5)
        self.next_local = 1
        self.next_revision = 1
        self.next_deployment = 1
        self.categories: dict[str, int] = {}
        self.unresolved: set[str] = set()  # category names whose title will not resolve
        profile = catalog.Profile(
            updates=0,
            now=now,
            replica=replica,
            backup_age_hours=backup_age_hours,
            custom_indexes=True,
            edition=edition,
        )
        catalog._write_server_objects(self.db, profile, self.rng)
        # The catalog's own clock, pinned at ``now``: an age planted here is the same whatever day
        # the test runs (dbapi.clock_start).
        self.db.execute("INSERT INTO sim_meta VALUES ('clock', ?)", (ts(now),))
        self.db.execute("INSERT INTO sim_meta VALUES ('clock_mode', 'pinned')")
        self.db.execute(
            "INSERT INTO tbTargetGroup VALUES (?, 0, 'All Computers', NULL, 0, 1, NULL, 0)",
            (schema.ALL_COMPUTERS_GROUP,),
        )
        self.group = str(uuid.UUID(int=self.rng.getrandbits(128))).upper()
        self.db.execute(
            "INSERT INTO tbTargetGroup VALUES (?, 0, 'Servers', NULL, 1, 0, ?, 0)",
            (self.group, schema.ALL_COMPUTERS_GROUP),
        )

    def _write(self, sql: str, rows: Iterable[tuple[Any, ...]] = ((),)) -> None:
        self.db.executemany(sql, rows)

    def _scalar(self, sql: str) -> Any:
        return self.db.execute(sql).fetchone()[0]

    def _now(self) -> datetime:
        return self.now

    def _category(self, name: str, kind: str, *, expired: bool = False) -> int:
        if name not in self.categories:
            local_id, _, revision_id = self._row(
                name,
                created=self.now - timedelta(days=3000),
                update_type="Category",
                explicitly=0,
                expired=expired,
            )
            self.db.execute(
                "INSERT INTO tbCategory VALUES (?, ?, NULL, ?, NULL, 0, 0, 0)",
                (local_id, local_id, kind),
            )
            if name in self.unresolved:
                # No precomputed title, and no default language to find its own title in
                # (tbProperty.DefaultPropertiesLanguageID is nullable in a live SUSDB).
                self.db.execute(
                    "UPDATE tbProperty SET DefaultPropertiesLanguageID = NULL WHERE RevisionID = ?",
                    (revision_id,),
                )
            else:
                self.db.execute(
                    "INSERT INTO tbPrecomputedCategoryLocalizedProperty VALUES (?, 'en', ?, ?)",
                    (local_id, name, kind),
                )
            self.categories[name] = local_id
        return self.categories[name]

    def _row(
        self,
        title: str,
        *,
        created: datetime,
        update_type: str = "Software",
        explicitly: int = 1,
        expired: bool = False,
        kb: str | None = None,
        legacy: str = "",
        received: datetime | None = None,
        hidden: bool = False,
        update_id: str | None = None,
    ) -> tuple[int, str, int]:
        local_id, revision_id = self.next_local, self.next_revision
        self.next_local += 1
        self.next_revision += 1
        generated = str(uuid.UUID(int=self.rng.getrandbits(128))).upper()
        update_id = update_id.upper() if update_id else generated
        received = received or created
        self.db.execute(
            "INSERT INTO tbUpdate (LocalUpdateID, UpdateID, UpdateTypeID, LegacyName, ImportedTime, IsHidden) "
            "VALUES (?, ?, 'T', ?, ?, ?)",
            (local_id, update_id, legacy, ts(received), int(hidden)),
        )
        self.db.execute(
            "INSERT INTO tbRevision (RevisionID, LocalUpdateID, RevisionNumber) VALUES (?, ?, 200)",
            (revision_id, local_id),
        )
        self.db.execute(
            "INSERT INTO tbProperty (RevisionID, PublicationState, CreationDate, ReceivedFromCreatorService, "
            "ExplicitlyDeployable, UpdateType) VALUES (?, ?, ?, ?, ?, ?)",
            (revision_id, int(expired), ts(created), ts(received), explicitly, update_type),
        )
        self.db.execute(
            "INSERT INTO tbLocalizedProperty (LocalizedPropertyID, Title) VALUES (?, ?)",
            (revision_id, title),
        )
        self.db.execute(
            "INSERT INTO tbLocalizedPropertyForRevision VALUES (?, 0, ?)",
            (revision_id, revision_id),
        )
        if kb:
            self.db.execute("INSERT INTO tbKBArticleForRevision VALUES (?, ?)", (revision_id, kb))
        return local_id, update_id, revision_id

    def update(
        self,
        title: str,
        *,
        age_days: float,
        supersedes: tuple[str, ...] = (),
        expired: bool = False,
        kb: str | None = None,
        product: str = "Windows Server 2019",
        classification: str = "Security Updates",
        legacy: str = "",
        approved: bool = False,
        declined: bool = False,
        received_days: float | None = None,
        also_products: tuple[str, ...] = (),
        also_classifications: tuple[str, ...] = (),
        update_type: str = "Software",
        explicitly: int = 1,
        hidden: bool = False,
        needed_by: int = 0,
        update_id: str | None = None,
    ) -> str:
        """One update; returns its UpdateID (``update_id`` when given, else a generated one).
        ``supersedes``: the UpdateIDs it supersedes; ``needed_by``: that many computers report
        it NotInstalled (state 2)."""
        created = self.now - timedelta(days=age_days)
        received = (
            self.now - timedelta(days=received_days) if received_days is not None else created
        )
        local_id, update_id, revision_id = self._row(
            title,
            created=created,
            expired=expired,
            kb=kb,
            legacy=legacy,
            received=received,
            update_type=update_type,
            explicitly=explicitly,
            hidden=hidden,
            update_id=update_id,
        )
        for category, kind in (
            *((name, "Product") for name in (product, *also_products)),
            *((name, "UpdateClassification") for name in (classification, *also_classifications)),
        ):
            self.db.execute(
                "INSERT INTO tbRevisionInCategory VALUES (?, ?, 0)",
                (revision_id, self._category(category, kind)),
            )
        for superseded in supersedes:
            self.db.execute(
                "INSERT INTO tbRevisionSupersedesUpdate VALUES (?, ?)", (revision_id, superseded)
            )
        if approved or declined:
            group = self.group if approved else schema.ALL_COMPUTERS_GROUP
            action = schema.ACTION_INSTALL if approved else schema.ACTION_BLOCK
            self.db.execute(
                "INSERT INTO tbDeployment (DeploymentID, RevisionID, TargetGroupID, ActionID, DeploymentTime) "
                "VALUES (?, ?, ?, ?, ?)",
                (self.next_deployment, revision_id, group, action, ts(self.now)),
            )
            self.next_deployment += 1
        for target_id in range(1, needed_by + 1):
            self.db.execute(
                "INSERT OR IGNORE INTO tbComputerTarget (TargetID, ComputerID, LastSyncTime, "
                "LastReportedStatusTime) VALUES (?, ?, ?, ?)",
                (target_id, f"PC{target_id:05d}", ts(self.now), ts(self.now)),
            )
            self.db.execute(
                "INSERT INTO tbUpdateStatusPerComputer VALUES (2, ?, ?, ?, ?, ?)",
                (local_id, target_id, ts(self.now), ts(self.now), ts(self.now)),
            )
        return update_id

    def category(self, name: str, *, kind: str = "Product", expired: bool = False) -> str:
        """A category (product or classification) as SUSDB stores it: an update of its own."""
        local_id = self._category(name, kind, expired=expired)
        return str(
            self.db.execute(
                "SELECT UpdateID FROM tbUpdate WHERE LocalUpdateID = ?", (local_id,)
            ).fetchone()[0]
        )

    def supersede(self, superseding: str, superseded: str) -> None:
        """``superseding``'s latest revision supersedes ``superseded`` (either order of import)."""
        self.db.execute(
            "INSERT INTO tbRevisionSupersedesUpdate SELECT r.RevisionID, ? FROM tbRevision r "
            "JOIN tbUpdate u ON u.LocalUpdateID = r.LocalUpdateID WHERE u.UpdateID = ?",
            (superseded, superseding),
        )

    def prerequisite(self, needing: str, needed: str) -> None:
        """``needing``'s latest revision lists ``needed`` as a prerequisite (tbPrerequisite-
        Dependency): spDeleteUpdate refuses ``needed`` as still referenced."""
        self.db.execute(
            "INSERT INTO tbPrerequisiteDependency SELECT b.RevisionID, a.RevisionID, a.LocalUpdateID "
            "FROM tbRevision a JOIN tbUpdate au ON au.LocalUpdateID = a.LocalUpdateID, "
            "tbRevision b JOIN tbUpdate bu ON bu.LocalUpdateID = b.LocalUpdateID "
            "WHERE au.UpdateID = ? AND bu.UpdateID = ?",
            (needed, needing),
        )

    def deploy_in_configmgr(self, update_id: str, *, ci_type: int = 1) -> None:
        """Configuration Manager deploys the update: a row of its site database's v_UpdateCIs,
        which the simulated file holds too (a config's [configmgr] site points at it)."""
        self.db.execute(
            "INSERT INTO v_UpdateCIs (CI_UniqueID, CIType_ID, IsDeployed) VALUES (?, ?, 1)",
            (update_id, ci_type),
        )

    def bundle(self, parent: str, child: str) -> None:
        """Bundle ``child`` in ``parent`` (tbBundleDependency, latest revisions)."""
        self.db.execute(
            "INSERT INTO tbBundleDependency SELECT p.RevisionID, c.RevisionID FROM tbRevision p "
            "JOIN tbUpdate pu ON pu.LocalUpdateID = p.LocalUpdateID, tbRevision c "
            "JOIN tbUpdate cu ON cu.LocalUpdateID = c.LocalUpdateID "
            "WHERE pu.UpdateID = ? AND cu.UpdateID = ?",
            (parent, child),
        )

    def local_id(self, update_id: str) -> int:
        return int(
            self.db.execute(
                "SELECT LocalUpdateID FROM tbUpdate WHERE UpdateID = ?", (update_id,)
            ).fetchone()[0]
        )

    def close(self) -> Path:
        self.db.execute("ANALYZE")
        self.db.commit()
        self.db.close()
        return self.path


def build_catalog(
    path: Path,
    *,
    now: datetime,
    updates: Iterable[Mapping[str, Any]],
    unresolved_categories: Iterable[str] = (),
    deployed_in_configmgr: Iterable[str] = (),
) -> tuple[Path, dict[str, str]]:
    """A catalog written as data: each update a mapping of ``title`` and ``CatalogBuilder.update``
    options, where ``supersedes`` names earlier titles and ``superseded_by`` later ones.
    Returns the file and each title's UpdateID."""
    builder = CatalogBuilder(path, now=now)
    builder.unresolved = set(unresolved_categories)
    ids: dict[str, str] = {}
    later: list[tuple[str, str]] = []  # (superseding, superseded): named before it exists
    for spec in updates:
        options = dict(spec)
        title = options.pop("title")
        assert title not in ids, f"two updates are titled {title!r}: a case names them by title"
        options["supersedes"] = tuple(ids[name] for name in options.pop("supersedes", ()))
        later += [(name, title) for name in options.pop("superseded_by", ())]
        for many in ("also_products", "also_classifications"):
            options[many] = tuple(options.get(many, ()))
        ids[title] = builder.update(title, **options)
    for superseding, superseded in later:
        builder.supersede(ids[superseding], ids[superseded])
    for title in deployed_in_configmgr:
        builder.deploy_in_configmgr(ids[title])
    return builder.close(), ids
