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
  so it need not be (ours). ``HasSupersededUpdates``: the latest revision supersedes something.
* **Expired**: ``tbProperty.PublicationState = 1`` on the latest revision.
* **Approved**: an Install deployment (``ActionID = 0``) to a computer group.
* **vwMinimalUpdate**: one row per explicitly deployable Software or Driver update, latest
  revision (categories, detectoids and bundled children are not updates a client scans; ours).
* **Procedures** (``server.py``): ``spDeclineUpdate`` (``@failIfReplica`` refusal with SQL
  Server's text), ``spDeleteUpdate`` (the "still referenced by other update(s)" refusal, bundled
  children, the second pass that spares revisions referenced from outside), ``spGetObsolete-
  UpdatesToCleanup`` (the body captured from a live server), ``spGetUpdatesToCompress`` /
  ``spCompressUpdate`` (non-latest revisions nothing references), ``spCleanupObsoleteComputers``
  (see below), ``sp_updatestats`` (its messages). System objects (``system.py``): server
  properties, ``msdb.dbo.backupset``, ``OBJECT_DEFINITION``, ``sys.indexes`` and index
  physical stats, index DDL, application locks (a file lock per resource, released when the
  session's process dies, like a session-owned applock).
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

from jobs.simulator.dbapi import Connection, Cursor, connect, create
from jobs.simulator.faults import FaultPlan

__all__ = ["Connection", "Cursor", "FaultPlan", "connect", "create"]
