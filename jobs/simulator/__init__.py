"""The simulated SUSDB: a model of the SUSDB subset the job touches, in one SQLite file.

Modelling choices (each follows shared/reference/susdb-internals.md; where public sources are
silent the choice is marked as ours):

* **Tables and names.** SUSDB's own table and column names (``tbUpdate``, ``tbRevision``,
  ``tbProperty``, ``tbRevisionSupersedesUpdate``, ``tbBundleDependency``,
  ``tbPrerequisiteDependency``, ``tbDeployment``, ``tbDeadDeployment``, ``tbLocalizedProperty``,
  ``tbLocalizedPropertyForRevision``, ``tbKBArticleForRevision``, ``tbCategory``,
  ``tbRevisionInCategory``, ``tbTargetGroup``, ``tbComputerTarget``, ``tbEventInstance``,
  ``tbConfigurationA``, ``tbConfigurationC``, ``tbSchemaVersion``), a column subset each. The
  ``dbo`` schema is dropped (SQLite has one namespace); the public view is named
  ``"PUBLIC_VIEWS.vUpdate"`` (quote it in sqlite3). GUIDs are upper-case TEXT, bits 0/1, datetimes
  UTC TEXT ``YYYY-MM-DD HH:MM:SS``.
* **Declined** has no column in SUSDB. ``spDeclineUpdate`` "declines an update ... and deletes all
  deployments" (MS-WSUSAR); we model the decline as the update's deployments moved to
  ``tbDeadDeployment`` and one Block deployment (``ActionID = 2``, the action
  ``spGetObsoleteUpdatesToCleanup`` does not count as an approval) to the All Computers group.
  ``vwMinimalUpdate.Declined`` and ``PUBLIC_VIEWS.vUpdate.IsDeclined`` derive from it (ours).
* **Superseded**: some latest revision (``IsLatestRevision = 1``) lists the UpdateID in
  ``tbRevisionSupersedesUpdate``; whether the superseder must itself be undeclined is not public,
  so it need not be (ours): the dangerous alternative, under which ``IsSuperseded`` stays 1 when
  every superseder is declined, expired or an unapproved preview. ``HasSupersededUpdates``: the
  latest revision supersedes something.
* **Microsoft's monthly cadence** (``catalog.py``): each month's security cumulative update (the
  "B" release, second Tuesday) and, about half the months, an optional non-security "Cumulative
  Update Preview" (the "D" release, fourth week) that supersedes it; the next month's B supersedes
  the preview (decline-review N1; Microsoft has shipped same-month supersedence before, the
  November 2016 Security Only update superseded by that month's rollup).
* **Category titles**: WSUS's precomputed ``tbPrecomputedCategoryLocalizedProperty`` (the
  scaffold's columns) holds an English title for each generated category;
  ``tbProperty.DefaultPropertiesLanguageID`` is nullable, as in the scaffold, so a hand-built
  catalog can hold a category whose title resolves neither way.
* **Expired**: ``tbProperty.PublicationState = 1`` on the latest revision, the integer form the
  ``spGetObsoleteUpdatesToCleanup`` body captured from a live server tests (susdb-internals §3.1).
* **Approved**: an Install deployment (``ActionID = 0``) to a computer group.
* **The views model the dangerous alternative** (their definitions are not public; tsql-review
  findings 8, 10, 11): ``vwMinimalUpdate`` has one row per revision of every update (categories,
  detectoids, bundled children, hidden updates too); ``PUBLIC_VIEWS.vUpdate`` lists every update
  and exposes ``PublicationState`` as the API's enum names ``'Published'`` / ``'Expired'``
  (https://learn.microsoft.com/previous-versions/windows/desktop/ms752754(v=vs.85)); comparing it
  with a number fails with SQL Server's error 245, which SQLite would not raise (``translate``).
  What clients are offered is Microsoft's filter in ``PUBLIC_VIEWS.vUpdateInstallationInfo``:
  ``ExplicitlyDeployable = 1 AND IsLatestRevision = 1 AND IsHidden = 0`` (susdb-internals §8.2).
* **Catalogs** (``catalog.py``): updates listed under several products, as Microsoft lists them
  (the Malicious Software Removal Tool under every Windows product, servicing stacks under
  Windows 10 LTSB and Windows Server 2016, Defender definitions and .NET under the Windows
  versions they apply to); an expired retired product; detectoids, half of them expired;
  non-deployable bundled children, superseded along their chain and expired with their bundle;
  a few hidden updates.
* **Procedure results**: ``spGetObsoleteUpdatesToCleanup`` returns ``LocalUpdateID`` (the captured
  body); ``spGetUpdatesToCompress``'s column name is not public, so the simulator names it
  nothing (tsql-review finding 9).
* **Catalog views and DMVs** (``sysviews.py``) are materialized from the modelled server and the
  project's SQL runs on them as written, so its own filters decide: ``sys.objects``, ``sys.tables``,
  ``sys.schemas``, ``sys.indexes``, ``sys.databases`` (VIEW ANY DATABASE, or its denial),
  ``sys.dm_db_partition_stats`` (row counts from metadata) and
  ``sys.dm_db_index_physical_stats`` (LIMITED reads only the pages above the leaf level and
  returns no density; SAMPLED reads 1 % of an index of 10,000 pages or more, else all of it; a
  LOB_DATA unit for tables with ntext columns; https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-db-index-physical-stats-transact-sql).
  Pages read are logged in ``sim_scan_log``; a ``COUNT(*)`` over a whole table reads it in full.
  The database also holds a DBA's table in schema ``dba`` and a system table (``is_ms_shipped``).
* **Rights**: ``HAS_PERMS_BY_NAME`` and ``IS_ROLEMEMBER`` answer from denials in ``sim_meta``
  (``deny:*`` = ``EXECUTE dbo.spCompressUpdate``, ``ALTER dbo.tbRevision``, ``ROLE db_owner``,
  ``BACKUP DATABASE SUSDB``...). Without ``VIEW DEFINITION`` on ``dbo.spDeleteUpdate``,
  ``OBJECT_DEFINITION`` returns NULL ("Returns NULL on error or if a caller doesn't have
  permission to view the object", https://learn.microsoft.com/sql/t-sql/functions/object-definition-transact-sql).
* **Editions** (``schema.EDITIONS``, ``Profile.edition``): WID (what it reports is not public: an
  Express-class EngineEdition 4, ours), Standard, Express, Enterprise. ``REBUILD ... ONLINE = ON``
  fails with 1712 below Enterprise (EngineEdition 3), and with 2725 for a clustered index of a
  table with text/ntext/image columns ("Clustered indexes must be created, rebuilt, or dropped
  offline when the underlying table contains ... image, ntext, and text",
  https://learn.microsoft.com/sql/relational-databases/indexes/guidelines-for-online-index-operations;
  the columns from the EF Core scaffold of a live SUSDB). Whether any SUSDB index disallows page
  locks is not public: one does here (``schema.PAGE_LOCKS_OFF``), and REORGANIZE fails on it with
  2552.
* **Locks**: a statement that changes 5,000 rows or more of one table records a lock escalation
  in ``sim_lock_escalation`` ("a single Transact-SQL statement acquires at least 5,000 locks on a
  single nonpartitioned table or index",
  https://learn.microsoft.com/previous-versions/sql/sql-server-2008-r2/ms184286(v=sql.105)).
* **Synchronizations**: two a day, each writing namespace-2 events (381, 382); the last ended
  three hours before the catalog's "now". Whether ``TimeAtServer`` is UTC is not public; it is
  UTC here.
* **Client reporting events**: reports of the last 60 days in ``tbEventInstance``, each naming the
  computer that sent it (``ComputerID``, as ``IUpdateEvent.ComputerId`` does), mostly detection
  events (KB 909131: their number "depends on the number of clients and on the frequency ... of
  each detection cycle"), with client event IDs of WSUS's ``WsusEventId`` enumeration
  (``schema.CLIENT_EVENT_IDS``). Which namespace WSUS keeps them in, and the rows of
  ``tbEventNamespace``, are not public: namespace 1 here, named by us, apart from the server's
  namespace 2 (Microsoft's sync-history script). The deletion is the project's plain
  ``DELETE TOP`` run as written: any n qualifying rows ("the delete operation is performed on a
  random selection of n number of rows", "Limiting Deleted Rows by Using TOP",
  https://learn.microsoft.com/previous-versions/sql/sql-server-2008-r2/ms175486(v=sql.105)), a
  lock escalation noted at 5,000 rows (below).
* **Procedures** (``server.py``): ``spDeclineUpdate`` (``@failIfReplica`` refusal with SQL
  Server's text), ``spDeleteUpdate`` (the "still referenced by other update(s)" refusal, bundled
  children, the second pass that spares revisions referenced from outside), ``spGetObsolete-
  UpdatesToCleanup`` (the body captured from a live server), ``spGetUpdatesToCompress`` /
  ``spCompressUpdate`` (non-latest revisions nothing references), ``spCleanupObsoleteComputers``
  (see below), ``sp_updatestats`` (its messages). Statements answered by name (``system.py``):
  server properties, ``msdb.dbo.backupset``, ``OBJECT_DEFINITION``, index DDL, application locks
  (a file lock per resource, released when the session's process dies, like a session-owned
  applock).
* **Indexes.** ``sim_index`` holds the SQL Server indexes being modelled (what ``sys.indexes``
  shows) with fragmentation and page density; deletes raise them in proportion to the rows
  changed, ``REBUILD`` resets them, ``REORGANIZE`` mostly. Page counts follow the row counts.
  ``sim_ix_*`` are physical SQLite indexes that keep the simulator fast; they model nothing.
* **Costs and time.** Statements charge published costs to a clock (``spDeleteUpdate`` about 25
  seconds without Microsoft's fix, 6 more without the custom index, under a second with both;
  the obsolete scan in proportion to the catalog). By default the clock is virtual, persisted in
  ``sim_meta``, so a ten-hour night runs in seconds; ``GETUTCDATE()`` reads it. ``latency`` adds
  real time per statement. A statement whose cost exceeds the connection's ``timeout`` fails with
  HYT00 after charging the timeout.
* **Sessions and transactions** (``dbapi.Connection``): SQL Server's rules, with sources in
  shared/reference/tsql-review.md finding 1. A batch runs in autocommit unless a transaction is
  open; ``BEGIN TRANSACTION`` opens one that outlives the batch; ``@@TRANCOUNT`` counts them.
  ``spDeleteUpdate``'s published body begins with ``BEGIN TRANSACTION`` (Microsoft, "The
  spDeleteUpdate stored procedure runs slowly"); whether ``spDeclineUpdate``, ``spCompressUpdate``
  and ``spCleanupObsoleteComputers`` do is not public, so they are modelled the dangerous way:
  they do. A cancelled procedure (a query timeout's attention) keeps its transaction open with
  its work uncommitted, as SQL Server does with XACT_ABORT OFF ("No transaction is rolled back,
  no locks are released", dba.stackexchange.com/questions/10912); later statements nest inside
  it; closing the connection, or losing the link, rolls it back. A deadlock victim's whole
  transaction is rolled back. ``SET`` options a session runs are recorded.
* **Identity** (``sim_meta``: ``database_guid``, ``create_date``), written once when the file is
  created, as SQL Server sets ``service_broker_guid`` and ``create_date`` for a new or restored
  database; ``database_identity`` returns it with the server name.
* **Format** (``sim_meta``: ``format``): a digest of the schema's text. A file another
  susdb-maint version made does not open (one line: make it again); ``demo`` makes its own
  file again. This is the simulator's own guard, not a SUSDB behaviour.
* **Clients** (``clients.py``): each computer still in the estate scans the not-declined catalog
  once a detection period (22 hours, WSUS's default, KB 909131) and fails while that catalog is
  above 7,000 updates (KB 4489045: clients "never actually complete a scan" until the valid
  updates are "fewer than 7,000"; the seed article names the failure, 8007000E, and its cause,
  but no size; ``sim_meta`` ``client_scan_limit`` sets another limit). A scan writes
  ``LastSyncTime`` and ``LastReportedStatusTime`` (the client contacted the server) and
  ``LastSyncResult`` 1 or 2 (MS-WSUSSS's values). Scans are settled when a statement reads the
  computers, by the catalog as it stands then (ours).
* **Obsolete computers**: ``spCleanupObsoleteComputers`` deletes by WSUS's own threshold
  (MS-WSUSAR 3.1.4.108: "SHOULD be 30 days ... a WSUS server configuration option") and date
  column; where WSUS keeps that option and which column it tests are not public, so both live in
  ``sim_meta`` (``obsolete_computer_days``, ``obsolete_computer_column``: ``LastSyncTime`` or the
  dangerous alternative ``LastReportedStatusTime``).
* **Faults** strike before a statement runs (deadlock, lock timeout, a link already down), during
  it (a query timeout: a procedure's transaction stays open), or after it committed (``reply_lost``:
  the link fails before the reply; ``timeout_after_commit``). A link failure ends the session.
  One fault stream per file and plan in a process: a reconnect draws on, it does not replay the
  seed. A test can mark one argument a procedure always fails on (``sim_meta``
  ``poison:<procedure>:<argument>``), as a damaged update does, and make a named statement take
  real time (``Connection.delays``) so a watchdog or a stop can cancel it.
* **Errors** are pyodbc's (or look-alikes with pyodbc's class names when pyodbc cannot be
  imported): SQLSTATE in ``args[0]``, ``[SQLSTATE] [driver][SQL Server]text (native) (function)``
  in ``args[1]``.
* **Served over TDS** (``jobs.simulator.tds``, ``susdb-maint simulator serve``): each client
  connection gets its own ``connect`` connection behind a TDS endpoint that FreeTDS's ODBC driver
  talks to, so pyodbc and the driver run between the runner and this model.
* **Plain SQL** from ``sql/`` is translated with sqlglot and run on SQLite as written; an unknown
  procedure fails with error 2812, an unmodelled system-object statement with an error naming it.
"""

from jobs.simulator.dbapi import Connection, Cursor, catalog_clock, connect, create
from jobs.simulator.faults import FaultPlan

__all__ = ["Connection", "Cursor", "FaultPlan", "catalog_clock", "connect", "create"]
