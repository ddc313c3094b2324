"""The SUSDB subset, as SQLite DDL with SUSDB's own table, column and view names.

Types follow SQL Server's: uniqueidentifier -> TEXT (upper-case GUID), bit -> INTEGER 0/1,
datetime -> TEXT ``YYYY-MM-DD HH:MM:SS`` (UTC, so it sorts and compares like a datetime).
Tables prefixed ``sim_`` are the simulator's own bookkeeping (index physical stats, procedure
definitions, server properties, backup history); every other name is SUSDB's.
"""

import hashlib
import sqlite3

ALL_COMPUTERS_GROUP = "A0A08746-4DBE-4A37-9ADF-9E7652C0B421"
UNASSIGNED_GROUP = "B73CA6ED-5727-47F3-84DE-015E03F6A88A"
ACTION_INSTALL, ACTION_UNINSTALL, ACTION_BLOCK, ACTION_PREDEPLOYMENT_CHECK = 0, 1, 2, 3
SYNC_EVENT_NAMESPACE = 2
SYNC_EVENT_IDS = (381, 382, 384, 386, 387, 389)
# Client reporting events. The IDs are the client members of WSUS's WsusEventId enumeration whose
# values Microsoft's page lists (147 ClientDetectionComplete, 148 ClientDetectionFailed, 161-163
# download failed / succeeded / canceled, 184 installed with reboot, 186 installation canceled,
# 197-200 installation at shutdown; https://learn.microsoft.com/previous-versions/ms825099(v=msdn.10)).
# Which namespace WSUS keeps them in is not public: one of their own here (ours), apart from the
# server's namespace 2, where Microsoft's sync-history script finds the synchronization events.
CLIENT_EVENT_NAMESPACE = 1
CLIENT_EVENT_IDS = (147, 148, 161, 162, 163, 184, 186, 197, 198, 199, 200)
# tbEventNamespace's rows are not public either: the two namespaces above, with names of our own.
EVENT_NAMESPACES = (
    (CLIENT_EVENT_NAMESPACE, "Client reporting events (simulated)"),
    (SYNC_EVENT_NAMESPACE, "Server events (simulated)"),
)

TABLES = """
CREATE TABLE tbUpdateType (UpdateTypeID TEXT PRIMARY KEY, Name TEXT NOT NULL);
CREATE TABLE tbUpdate (
    LocalUpdateID INTEGER PRIMARY KEY,
    UpdateID TEXT NOT NULL UNIQUE,
    UpdateTypeID TEXT NOT NULL,
    IsClientSelfUpdate INTEGER NOT NULL DEFAULT 0,
    PublisherID TEXT,
    IsPublic INTEGER NOT NULL DEFAULT 1,
    IsHidden INTEGER NOT NULL DEFAULT 0,
    DetectoidType INTEGER,
    LegacyName TEXT,
    LastUndeclinedTime TEXT,
    IsLocallyPublished INTEGER NOT NULL DEFAULT 0,
    ImportedTime TEXT NOT NULL
);
CREATE TABLE tbRevision (
    RevisionID INTEGER PRIMARY KEY,
    LocalUpdateID INTEGER NOT NULL REFERENCES tbUpdate (LocalUpdateID),
    RevisionNumber INTEGER NOT NULL,
    LastIsLeafChange TEXT,
    IsLeaf INTEGER NOT NULL DEFAULT 1,
    IsBeta INTEGER NOT NULL DEFAULT 0,
    TimeToGoLiveOnCatalog TEXT,
    RowID TEXT,
    State INTEGER NOT NULL DEFAULT 1,
    Origin INTEGER,
    IsCritical INTEGER NOT NULL DEFAULT 0,
    LanguageMask INTEGER,
    IsLatestRevision INTEGER NOT NULL DEFAULT 1,
    IsMandatory INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ncRevision_LocalUpdateID_RevisionNumber__IsLatestRevision
    ON tbRevision (IsLatestRevision, LocalUpdateID, RevisionNumber);
CREATE TABLE tbProperty (
    RevisionID INTEGER PRIMARY KEY REFERENCES tbRevision (RevisionID),
    PublicationState INTEGER NOT NULL DEFAULT 0,
    CreationDate TEXT NOT NULL,
    ReceivedFromCreatorService TEXT NOT NULL,
    ExplicitlyDeployable INTEGER NOT NULL DEFAULT 1,
    DefaultPropertiesLanguageID INTEGER DEFAULT 0,  -- nullable, as in a live SUSDB's scaffold
    UpdateType TEXT NOT NULL DEFAULT 'Software',
    MsrcSeverity TEXT DEFAULT 'Unspecified',
    InstallRebootBehavior INTEGER DEFAULT 0
);
CREATE TABLE tbRevisionSupersedesUpdate (
    RevisionID INTEGER NOT NULL REFERENCES tbRevision (RevisionID),
    SupersededUpdateID TEXT NOT NULL,
    PRIMARY KEY (RevisionID, SupersededUpdateID)
) WITHOUT ROWID;
CREATE TABLE tbBundleDependency (
    RevisionID INTEGER NOT NULL,
    BundledRevisionID INTEGER NOT NULL,
    PRIMARY KEY (RevisionID, BundledRevisionID)
) WITHOUT ROWID;
CREATE INDEX nc1BundleDependency ON tbBundleDependency (BundledRevisionID);
CREATE TABLE tbPrerequisiteDependency (
    RevisionID INTEGER NOT NULL,
    PrerequisiteRevisionID INTEGER NOT NULL,
    PrerequisiteLocalUpdateID INTEGER,
    PRIMARY KEY (RevisionID, PrerequisiteRevisionID)
) WITHOUT ROWID;
CREATE INDEX nc1PrerequisiteDependency ON tbPrerequisiteDependency (PrerequisiteRevisionID);
CREATE INDEX nc2PrerequisiteDependency ON tbPrerequisiteDependency (PrerequisiteLocalUpdateID);
CREATE TABLE tbTargetGroup (
    TargetGroupID TEXT PRIMARY KEY,
    TargetGroupTypeID INTEGER NOT NULL DEFAULT 0,
    Name TEXT NOT NULL,
    Description TEXT,
    OrderValue INTEGER,
    IsBuiltin INTEGER NOT NULL DEFAULT 0,
    ParentGroupID TEXT,
    GroupPriority INTEGER
);
CREATE TABLE tbDeployment (
    DeploymentID INTEGER PRIMARY KEY,
    RevisionID INTEGER NOT NULL REFERENCES tbRevision (RevisionID),
    TargetGroupID TEXT NOT NULL,
    TargetGroupTypeID INTEGER NOT NULL DEFAULT 0,
    ActionID INTEGER NOT NULL,
    DeploymentStatus INTEGER NOT NULL DEFAULT 0,
    DeploymentTime TEXT NOT NULL,
    GoLiveTime TEXT,
    Deadline TEXT,
    AdminName TEXT,
    LastChangeTime TEXT,
    LastChangeNumber INTEGER,
    DeploymentGuid TEXT,
    IsAssigned INTEGER NOT NULL DEFAULT 1,
    UpdateType TEXT,
    Priority INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ncDeploymentRevision ON tbDeployment (RevisionID);
CREATE TABLE tbDeadDeployment (
    DeploymentID INTEGER NOT NULL,
    TimeOfDeath TEXT NOT NULL,
    ActionID INTEGER NOT NULL,
    DeploymentTime TEXT,
    GoLiveTime TEXT,
    Deadline TEXT,
    AdminName TEXT,
    DeploymentGuid TEXT,
    IsAssigned INTEGER,
    RevisionID INTEGER NOT NULL,
    TargetGroupID TEXT NOT NULL,
    TargetGroupTypeID INTEGER NOT NULL,
    AdminNameWhoDeleted TEXT,
    LastChangeNumber INTEGER,
    UpdateID TEXT,
    RevisionNumber INTEGER,
    UpdateType TEXT
);
CREATE INDEX ncDeadDeploymentRevision ON tbDeadDeployment (RevisionID);
CREATE TABLE tbLocalizedProperty (
    LocalizedPropertyID INTEGER PRIMARY KEY,
    Title TEXT NOT NULL,
    Description TEXT,
    ReleaseNote TEXT
);
CREATE TABLE tbLocalizedPropertyForRevision (
    RevisionID INTEGER NOT NULL,
    LanguageID INTEGER NOT NULL,
    LocalizedPropertyID INTEGER NOT NULL,
    PRIMARY KEY (RevisionID, LanguageID, LocalizedPropertyID)
) WITHOUT ROWID;
CREATE TABLE tbKBArticleForRevision (
    RevisionID INTEGER NOT NULL,
    KBArticleID TEXT NOT NULL,
    PRIMARY KEY (RevisionID, KBArticleID)
) WITHOUT ROWID;
CREATE TABLE tbCategory (
    CategoryIndex INTEGER,
    CategoryID INTEGER PRIMARY KEY,
    ParentCategoryID INTEGER,
    CategoryType TEXT NOT NULL,
    LastChange TEXT,
    ProhibitsSubcategories INTEGER DEFAULT 0,
    ProhibitsUpdates INTEGER DEFAULT 0,
    DisplayOrder INTEGER
);
CREATE TABLE tbPrecomputedCategoryLocalizedProperty (
    CategoryID INTEGER NOT NULL,
    ShortLanguage TEXT NOT NULL,
    Title TEXT NOT NULL,
    CategoryType TEXT NOT NULL,
    PRIMARY KEY (CategoryID, ShortLanguage)
) WITHOUT ROWID;
-- Configuration Manager's site database, not SUSDB: its documented view of software updates
-- (v_UpdateCIs, the columns the decline stage reads). A simulated site database is a simulated
-- file whose v_UpdateCIs rows say what Configuration Manager deploys.
CREATE TABLE v_UpdateCIs (
    CI_ID INTEGER PRIMARY KEY,
    CI_UniqueID TEXT NOT NULL,
    CIType_ID INTEGER NOT NULL DEFAULT 1,
    IsDeployed INTEGER NOT NULL DEFAULT 0,
    IsExpired INTEGER NOT NULL DEFAULT 0,
    IsSuperseded INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE tbRevisionInCategory (
    RevisionID INTEGER NOT NULL,
    CategoryID INTEGER NOT NULL,
    Expanded INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (RevisionID, CategoryID)
) WITHOUT ROWID;
CREATE INDEX nc1RevisionInCategory ON tbRevisionInCategory (CategoryID);
CREATE TABLE tbComputerTarget (
    TargetID INTEGER PRIMARY KEY,
    ComputerID TEXT NOT NULL UNIQUE,
    SID TEXT,
    LastSyncTime TEXT,
    LastReportedStatusTime TEXT,
    LastReportedRebootTime TEXT,
    IPAddress TEXT,
    FullDomainName TEXT,
    IsRegistered INTEGER NOT NULL DEFAULT 1,
    LastInventoryTime TEXT,
    LastNameChangeTime TEXT,
    EffectiveLastDetectionTime TEXT,
    ParentServerTargetID INTEGER,
    LastSyncResult INTEGER
);
-- What each computer last reported for each update. SummarizationState carries the values of
-- the API's UpdateInstallationState (0 Unknown, 1 NotApplicable, 2 NotInstalled, 3 Downloaded,
-- 4 Installed, 5 Failed, 6 InstalledPendingReboot): PUBLIC_VIEWS.vUpdateInstallationInfo returns
-- it as State unchanged (susdb-internals §8.2); that the numbers are the enum's is our inference.
CREATE TABLE tbUpdateStatusPerComputer (
    SummarizationState INTEGER NOT NULL,
    LocalUpdateID INTEGER NOT NULL,
    TargetID INTEGER NOT NULL,
    LastChangeTime TEXT NOT NULL,
    LastRefreshTime TEXT NOT NULL,
    LastChangeTimeOnServer TEXT NOT NULL,
    PRIMARY KEY (TargetID, LocalUpdateID)
) WITHOUT ROWID;
CREATE INDEX nc3UpdateStatusPerComputer ON tbUpdateStatusPerComputer (SummarizationState);
CREATE TABLE tbEventInstance (
    EventInstanceID TEXT PRIMARY KEY,
    EventID INTEGER NOT NULL,
    EventNamespaceID INTEGER NOT NULL,
    EventSourceID INTEGER,
    TimeAtTarget TEXT,
    TimeAtServer TEXT,
    Win32HResult INTEGER,
    AppName TEXT,
    MiscData TEXT,
    ReplacementStrings TEXT,
    ComputerID TEXT,
    UpdateID TEXT,
    RevisionNumber INTEGER,
    DeviceID TEXT,
    EventOrdinalNumber INTEGER
);
-- Event namespaces, the scaffold's columns; rows: EVENT_NAMESPACES.
CREATE TABLE tbEventNamespace (
    EventNamespaceID INTEGER PRIMARY KEY,
    DisplayNameString TEXT NOT NULL,
    MajorVersion INTEGER NOT NULL DEFAULT 0,
    MinorVersion INTEGER NOT NULL DEFAULT 0,
    BuildNumber INTEGER NOT NULL DEFAULT 0,
    QfeNumber INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE tbConfigurationA (
    ConfigurationID INTEGER PRIMARY KEY,
    ServerID TEXT,
    SyncToMu INTEGER NOT NULL DEFAULT 1,
    UpstreamServerName TEXT,
    ServerPortNumber INTEGER,
    UpstreamServerUseSsl INTEGER DEFAULT 0
);
CREATE TABLE tbConfigurationC (
    ConfigurationID INTEGER PRIMARY KEY,
    MaxXmlPerRequest INTEGER DEFAULT 5242880,
    ReplicaMode INTEGER NOT NULL DEFAULT 0,
    RevisionDeletionTimeThreshold INTEGER NOT NULL DEFAULT 30,
    RevisionDeletionSizeThreshold INTEGER
);
CREATE TABLE tbSchemaVersion (
    ID INTEGER PRIMARY KEY,
    ComponentName TEXT NOT NULL,
    BuildNumber TEXT,
    SchemaVersion INTEGER
);
-- The SQL Server indexes being modelled (sys.indexes). Objects outside dbo, system tables
-- (is_ms_shipped = 1) and tables the simulator holds no rows for (fixed_rows) live here too.
CREATE TABLE sim_index (
    object_name TEXT NOT NULL,
    index_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    type_desc TEXT NOT NULL,
    key_column TEXT NOT NULL,
    fill_factor INTEGER NOT NULL DEFAULT 0,
    avg_fragmentation_in_percent REAL NOT NULL DEFAULT 0,
    avg_page_space_used_in_percent REAL NOT NULL DEFAULT 98,
    row_bytes INTEGER NOT NULL DEFAULT 40,
    schema_name TEXT NOT NULL DEFAULT 'dbo',
    object_type TEXT NOT NULL DEFAULT 'U',
    is_ms_shipped INTEGER NOT NULL DEFAULT 0,
    allow_page_locks INTEGER NOT NULL DEFAULT 1,
    fixed_rows INTEGER,
    PRIMARY KEY (schema_name, object_name, index_id)
);
-- A module's text, and what sys.sql_modules keeps with it: the ANSI_NULLS and QUOTED_IDENTIFIER
-- settings of the session that created or last altered it ("the setting ... when the module was
-- created"), and whether it is signed (sys.crypt_properties; "altering a module drops its
-- signature", ADD SIGNATURE documentation).
CREATE TABLE sim_object_definition (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    uses_ansi_nulls INTEGER NOT NULL DEFAULT 1,
    uses_quoted_identifier INTEGER NOT NULL DEFAULT 1,
    is_signed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE sim_server_property (name TEXT PRIMARY KEY, value TEXT);
-- The computers that keep scanning (jobs/simulator/clients.py), with the LastSyncTime the model
-- last wrote: one whose tbComputerTarget row says otherwise was planted and leaves the model.
CREATE TABLE sim_client (ComputerID TEXT PRIMARY KEY, LastSyncTime TEXT);
CREATE TABLE sim_backupset (
    backup_set_id INTEGER PRIMARY KEY,
    database_name TEXT NOT NULL,
    type TEXT NOT NULL,
    is_copy_only INTEGER NOT NULL DEFAULT 0,
    backup_finish_date TEXT NOT NULL,
    physical_device_name TEXT
);
CREATE TABLE sim_meta (key TEXT PRIMARY KEY, value TEXT);
-- Every successful call of a modelled WSUS procedure, committed with its effects: the audit trail
-- that shows an item was processed exactly once.
CREATE TABLE sim_call_log (
    call_id INTEGER PRIMARY KEY,
    procedure TEXT NOT NULL,
    arguments TEXT NOT NULL,
    called_at TEXT NOT NULL,
    lock_timeout_ms INTEGER NOT NULL DEFAULT -1  -- the calling session's @@LOCK_TIMEOUT
);
-- Physical SQLite indexes that keep the simulator fast. They are not SQL Server indexes: the
-- modelled index set (what sys.indexes shows) is sim_index.
CREATE INDEX sim_ix_supersedes_superseded ON tbRevisionSupersedesUpdate (SupersededUpdateID);
CREATE INDEX sim_ix_revision_update ON tbRevision (LocalUpdateID);
CREATE INDEX sim_ix_lpfr_property ON tbLocalizedPropertyForRevision (LocalizedPropertyID);
CREATE INDEX sim_ix_computer_sync ON tbComputerTarget (LastSyncTime);
CREATE INDEX sim_ix_dead_deployment_id ON tbDeadDeployment (DeploymentID);
CREATE INDEX sim_ix_event_time ON tbEventInstance (EventNamespaceID, TimeAtServer);
CREATE INDEX sim_ix_event_server_time ON tbEventInstance (TimeAtServer);
"""

# Declined (SUSDB has no "declined" column): spDeclineUpdate replaces the update's deployments
# with one Block deployment (ActionID 2) to the All Computers group; the views derive Declined /
# IsDeclined from it. Superseded: a latest revision of some update lists this UpdateID in
# tbRevisionSupersedesUpdate.
#
# Neither view's definition is public, so both model the dangerous alternative (tsql-review
# findings 8, 10 and 11): vwMinimalUpdate has one row per revision of every update, categories,
# detectoids, bundled children and hidden updates included; PUBLIC_VIEWS.vUpdate has one row per
# update of every kind, and exposes PublicationState as the API's enum names ('Published' /
# 'Expired', https://learn.microsoft.com/previous-versions/windows/desktop/ms752754(v=vs.85)),
# which SQL Server refuses to compare with a number (error 245).
VIEWS = f"""
CREATE VIEW vwMinimalUpdate AS
SELECT
    u.UpdateID, r.RevisionNumber, r.RevisionID, u.LocalUpdateID, r.IsLeaf,
    p.UpdateType, p.CreationDate, r.State, r.IsLatestRevision, p.ReceivedFromCreatorService,
    CASE WHEN EXISTS (SELECT 1 FROM tbRevisionSupersedesUpdate s WHERE s.RevisionID = r.RevisionID)
         THEN 1 ELSE 0 END AS HasSupersededUpdates,
    u.LegacyName, p.MsrcSeverity, r.IsMandatory,
    CASE WHEN EXISTS (
        SELECT 1 FROM tbRevisionSupersedesUpdate s
        WHERE s.SupersededUpdateID = u.UpdateID
          AND EXISTS (SELECT 1 FROM tbRevision sr WHERE sr.RevisionID = s.RevisionID AND sr.IsLatestRevision = 1))
         THEN 1 ELSE 0 END AS IsSuperseded,
    CASE WHEN u.IsLocallyPublished = 1 THEN 1 ELSE 0 END AS UpdateSource,
    CASE WHEN EXISTS (
        SELECT 1 FROM tbDeployment d JOIN tbRevision dr ON dr.RevisionID = d.RevisionID
        WHERE dr.LocalUpdateID = u.LocalUpdateID AND d.ActionID = {ACTION_BLOCK}) THEN 1 ELSE 0 END AS Declined
FROM tbUpdate u
JOIN tbRevision r ON r.LocalUpdateID = u.LocalUpdateID
JOIN tbProperty p ON p.RevisionID = r.RevisionID;

CREATE VIEW "PUBLIC_VIEWS.vUpdate" AS
SELECT
    u.UpdateID AS UpdateId, r.RevisionNumber,
    lp.Title AS DefaultTitle, lp.Description AS DefaultDescription,
    (SELECT cu.UpdateID FROM tbRevisionInCategory ric
       JOIN tbCategory c ON c.CategoryID = ric.CategoryID AND c.CategoryType = 'UpdateClassification'
       JOIN tbUpdate cu ON cu.LocalUpdateID = c.CategoryID
     WHERE ric.RevisionID = r.RevisionID LIMIT 1) AS ClassificationId,
    u.ImportedTime AS ArrivalDate, p.CreationDate,
    CASE WHEN EXISTS (
        SELECT 1 FROM tbDeployment d JOIN tbRevision dr ON dr.RevisionID = d.RevisionID
        WHERE dr.LocalUpdateID = u.LocalUpdateID AND d.ActionID = {ACTION_BLOCK}) THEN 1 ELSE 0 END AS IsDeclined,
    p.MsrcSeverity,
    (SELECT KBArticleID FROM tbKBArticleForRevision k WHERE k.RevisionID = r.RevisionID LIMIT 1) AS KnowledgebaseArticle,
    NULL AS SecurityBulletin,
    CASE p.PublicationState WHEN 1 THEN 'Expired' ELSE 'Published' END AS PublicationState,
    CASE WHEN u.IsLocallyPublished = 1 THEN 1 ELSE 0 END AS UpdateSource,
    p.InstallRebootBehavior AS InstallationRebootBehavior
FROM tbUpdate u
JOIN tbRevision r ON r.LocalUpdateID = u.LocalUpdateID AND r.IsLatestRevision = 1
JOIN tbProperty p ON p.RevisionID = r.RevisionID
JOIN tbLocalizedPropertyForRevision lpr
    ON lpr.RevisionID = r.RevisionID AND lpr.LanguageID = p.DefaultPropertiesLanguageID
JOIN tbLocalizedProperty lp ON lp.LocalizedPropertyID = lpr.LocalizedPropertyID;
"""

# The base indexes whose physical stats the simulator tracks (sys.indexes /
# sys.dm_db_index_physical_stats). (table, index_id, name, type, leading key, row bytes)
BASE_INDEXES = (
    ("tbUpdate", 1, "PK__tbUpdate", "CLUSTERED", "LocalUpdateID", 120),
    ("tbRevision", 1, "PK__tbRevision", "CLUSTERED", "RevisionID", 90),
    (
        "tbRevision",
        2,
        "ncRevision_LocalUpdateID_RevisionNumber__IsLatestRevision",
        "NONCLUSTERED",
        "IsLatestRevision",
        20,
    ),
    ("tbProperty", 1, "PK__tbProperty", "CLUSTERED", "RevisionID", 160),
    (
        "tbRevisionSupersedesUpdate",
        1,
        "PK__tbRevisionSupersedesUpdate",
        "CLUSTERED",
        "RevisionID",
        28,
    ),
    ("tbLocalizedProperty", 1, "PK__tbLocalizedProperty", "CLUSTERED", "LocalizedPropertyID", 900),
    (
        "tbLocalizedPropertyForRevision",
        1,
        "PK__tbLocalizedPropertyForRevision",
        "CLUSTERED",
        "RevisionID",
        20,
    ),
    ("tbRevisionInCategory", 1, "PK__tbRevisionInCategory", "CLUSTERED", "RevisionID", 16),
    ("tbRevisionInCategory", 2, "nc1RevisionInCategory", "NONCLUSTERED", "CategoryID", 12),
    ("tbDeployment", 1, "c0DeploymentRevision", "CLUSTERED", "LastChangeNumber", 220),
    ("tbBundleDependency", 1, "PK__tbBundleDependency", "CLUSTERED", "RevisionID", 16),
    ("tbPrerequisiteDependency", 1, "PK__tbPrerequisiteDependency", "CLUSTERED", "RevisionID", 20),
    ("tbEventInstance", 1, "PK__tbEventInstance", "CLUSTERED", "EventInstanceID", 260),
    ("tbComputerTarget", 1, "PK__tbComputerTarget", "CLUSTERED", "TargetID", 400),
)

# Columns of type text, ntext or image, from the EF Core scaffold of a live SUSDB
# (shared/reference/susdb-schema.json), for the modelled tables that have them. A clustered index
# of such a table cannot be rebuilt ONLINE: "Clustered indexes must be created, rebuilt, or dropped
# offline when the underlying table contains the following large object (LOB) data types: image,
# ntext, and text." (https://learn.microsoft.com/sql/relational-databases/indexes/guidelines-for-online-index-operations)
LOB_COLUMNS = {"tbEventInstance": ("MiscData", "ReplacementStrings", "DeviceID")}

# Whether any SUSDB index disallows page locks is not public (tsql-review finding 22): the
# simulator models the dangerous alternative, one base index with ALLOW_PAGE_LOCKS = OFF, which
# REORGANIZE refuses with error 2552.
PAGE_LOCKS_OFF = ("tbRevisionInCategory", "nc1RevisionInCategory")

# Objects a real SUSDB's database also holds besides WSUS's own dbo tables: a DBA's log table in
# its own schema (maintenance solutions are often installed in one) and a system base table.
# sys.dm_db_index_physical_stats returns them too; ALTER INDEX ... ON [dbo].X cannot reach them.
# (schema, table, index_id, name, type, leading key, row bytes, object type, is_ms_shipped, rows)
OTHER_OBJECTS = (
    ("dba", "CommandLog", 1, "PK_CommandLog", "CLUSTERED", "ID", 300, "U", 0, 40_000),
    ("sys", "sysrscols", 1, "clst", "CLUSTERED", "rsid", 60, "S", 1, 20_000),
)

# Editions as SERVERPROPERTY reports them: (Edition, EngineEdition, @@SERVERNAME). EngineEdition
# 2 = Standard, 3 = Enterprise (also Developer and Evaluation), 4 = Express
# (https://learn.microsoft.com/sql/t-sql/functions/serverproperty-transact-sql). What WID reports
# is not public; it is modelled as Express-class.
EDITIONS = {
    "wid": ("Windows Internal Database (64-bit)", 4, "WSUS01\\MICROSOFT##WID"),
    "enterprise": ("Enterprise Edition: Core-based Licensing (64-bit)", 3, "SQL01"),
    "standard": ("Standard Edition (64-bit)", 2, "SQL01"),
    "express": ("Express Edition (64-bit)", 4, "SQL01\\SQLEXPRESS"),
}

# Seconds charged per page a scan reads (sys.dm_db_index_physical_stats, COUNT over a table).
COST_PER_PAGE_READ = 0.00002

SIM_INDEX_COLUMNS = (
    "(object_name, index_id, name, type_desc, key_column, fill_factor, "
    "avg_fragmentation_in_percent, avg_page_space_used_in_percent, row_bytes)"
)


# Microsoft's spDeleteUpdate before and after the fix in "The spDeleteUpdate stored procedure runs
# slowly": the only difference that matters to detection is the table variable's primary key.
def spdeleteupdate_texts() -> dict[str, str]:
    """dbo.spDeleteUpdate as OBJECT_DEFINITION shows it. ``fixed``: Microsoft's published body
    ("The spDeleteUpdate stored procedure runs slowly"); ``original``: the same without the
    primary key, which is what the article says WSUS ships (its exact text is not public);
    ``unknown``: a build whose text differs, the alternative a tool must stay safe under."""
    import re

    from jobs.db.catalog import statement

    literal = re.search(
        r"DECLARE @fixed nvarchar\(max\) = N'((?:[^']|'')*)';",
        statement("apply_delete_update_fix").text,
        re.S,
    )
    assert literal is not None
    fixed = literal.group(1).replace("''", "'").replace("ALTER PROCEDURE", "CREATE PROCEDURE", 1)
    original = fixed.replace("TABLE(RevisionID INT PRIMARY KEY)", "TABLE(RevisionID INT)")
    unknown = original.replace(
        "SET NOCOUNT ON", "SET NOCOUNT ON\nSET LOCK_TIMEOUT 600000 -- a later build's addition"
    )
    return {"fixed": fixed, "original": original, "unknown": unknown}


# Which files this simulator can open: derived from the schema's text, so any change to it makes
# a file created before refuse to open with one line saying why (not fail mid-run on a column).
FORMAT = hashlib.sha256(repr((TABLES, VIEWS, BASE_INDEXES)).encode()).hexdigest()[:12]


def create(connection: sqlite3.Connection) -> None:
    connection.executescript(TABLES + VIEWS)
    connection.execute("INSERT INTO sim_meta VALUES ('format', ?)", (FORMAT,))


def file_format(connection: sqlite3.Connection) -> str | None:
    """The format a simulated SUSDB was created with (None: before formats were recorded)."""
    row = connection.execute("SELECT value FROM sim_meta WHERE key = 'format'").fetchone()
    return str(row[0]) if row else None
