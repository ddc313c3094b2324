"""Statements over SQL Server system objects, answered by name from the modelled server.

These statements read catalog views and DMVs (``sys.indexes``, ``sys.dm_db_index_physical_stats``,
``msdb.dbo.backupset``...) or run DDL built with QUOTENAME; SQLite has none of that, so each is
modelled here, keyed by the statement name in its header. A batch that touches a system object
and has no handler here fails with an error naming it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from jobs.db.tsql import strip_comments
from jobs.simulator import schema
from jobs.simulator.faults import server_error
from jobs.simulator.server import COST, ResultSet, Server, ts
from jobs.simulator.translate import to_sqlite

SYSTEM_MARKERS = re.compile(
    r"\bsys\.|\bmsdb\.|SERVERPROPERTY|OBJECT_DEFINITION|HAS_PERMS_BY_NAME|\bALTER\s+INDEX|"
    r"\bCREATE\s+(?:UNIQUE\s+)?(?:NON)?CLUSTERED\s+INDEX|\bDROP\s+INDEX|UPDATE\s+STATISTICS|"
    r"BACKUP\s+DATABASE|sp_getapplock|sp_releaseapplock|sp_executesql",
    re.I,
)
CUSTOM_PREFIX = "nclSusdbMaint_"
Handler = Callable[[Server, list[Any]], tuple[list[ResultSet], float]]
HANDLERS: dict[str, Handler] = {}


def handles(name: str) -> Callable[[Handler], Handler]:
    def register(function: Handler) -> Handler:
        HANDLERS[name] = function
        return function

    return register


def one(columns: list[str], row: tuple[Any, ...]) -> list[ResultSet]:
    return [ResultSet(columns, [row])]


@handles("server_info")
def server_info(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    props = dict(server.db.execute("SELECT name, value FROM sim_server_property").fetchall())
    return one(
        ["ProductVersion", "Edition", "EngineEdition", "ServerName", "DatabaseName"],
        (
            props.get("ProductVersion"),
            props.get("Edition"),
            int(props.get("EngineEdition") or 0),
            props.get("ServerName"),
            server.database_name,
        ),
    ), 0.0


@handles("database_identity")
def database_identity(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    meta = dict(
        server.db.execute(
            "SELECT key, value FROM sim_meta WHERE key IN ('database_guid', 'create_date')"
        ).fetchall()
    )
    server_name = server.scalar("SELECT value FROM sim_server_property WHERE name = 'ServerName'")
    return one(
        ["ServerName", "DatabaseName", "DatabaseGuid", "CreateDate"],
        (server_name, server.database_name, meta.get("database_guid"), meta.get("create_date")),
    ), 0.0


@handles("last_full_backup")
def last_full_backup(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    rows = server.db.execute(
        "SELECT backup_finish_date, physical_device_name FROM sim_backupset "
        "WHERE database_name = 'SUSDB' AND type = 'D' ORDER BY backup_finish_date DESC LIMIT 1"
    ).fetchall()
    return [ResultSet(["LastBackupUtc", "Device"], [tuple(row) for row in rows])], 0.0


def _denied(server: Server, permission: str) -> bool:
    server.load_denials()
    return permission.upper() in server.denied()


@handles("delete_update_definition")
def delete_update_definition(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    # OBJECT_DEFINITION returns NULL when the caller lacks VIEW DEFINITION (Microsoft's
    # OBJECT_DEFINITION documentation: "NULL ... if the caller does not have permission"), and
    # sys.sql_modules shows no row for a module the caller cannot see.
    columns = ["Definition", "UsesAnsiNulls", "UsesQuotedIdentifier", "IsSigned"]
    if _denied(server, "VIEW DEFINITION dbo.spDeleteUpdate"):
        return [ResultSet(columns, [])], 0.0
    row = server.db.execute(
        "SELECT definition, uses_ansi_nulls, uses_quoted_identifier, is_signed "
        "FROM sim_object_definition WHERE name = 'dbo.spDeleteUpdate'"
    ).fetchone()
    return one(columns, tuple(row)), 0.0


@handles("delete_fix_rights")
def delete_fix_rights(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    return one(
        ["CanView", "CanAlter"],
        (
            0 if _denied(server, "VIEW DEFINITION dbo.spDeleteUpdate") else 1,
            0 if _denied(server, "ALTER dbo.spDeleteUpdate") else 1,
        ),
    ), 0.0


_GUARD = re.compile(r"\bIF\s+(.+?)\s+RAISERROR\s*\(", re.I | re.S)
_STRING = re.compile(r"N?'(?:[^']|'')*'")
_DECLARED_PARAMETER = re.compile(r"\bDECLARE\s+@(\w+)\s+[\w()]+\s*=\s*\?", re.I)


def _replace_procedure(server: Server, params: list[Any], text: str, refusal: str) -> None:
    """The statement's own transaction around ALTER PROCEDURE, as SQL Server runs it: its guard
    (``IF <condition> RAISERROR``) is evaluated from the statement's text with SQL's three-valued
    logic (a NULL comparison is not TRUE, so it does not stop the change); the procedure's text
    must begin with ALTER (a CREATE of an existing procedure fails with error 2714, comments
    before it or not); the ALTER captures the session's ANSI_NULLS and QUOTED_IDENTIFIER, which
    the model takes as OFF unless the session set them (a driver's defaults are not the tool's to
    assume), and drops the procedure's signature."""
    if _denied(server, "ALTER dbo.spDeleteUpdate"):
        raise server_error(
            "Cannot alter the procedure 'spDeleteUpdate', because it does not exist or you do "
            "not have permission.",
            native=15151,
        )
    bindings = dict(zip(_DECLARED_PARAMETER.findall(server.statement_text), params, strict=False))
    # The guard is found outside string literals (the procedure text in @fixed has IFs of its
    # own), then evaluated with its literals back in place.
    literals: list[str] = []

    def hide(match: re.Match[str]) -> str:
        literals.append(match.group(0))
        return f"__literal_{len(literals) - 1}__"

    code = _STRING.sub(hide, strip_comments(server.statement_text))
    guard = _GUARD.search(code)
    if guard is not None:
        condition = re.sub(
            r"__literal_(\d+)__", lambda match: literals[int(match.group(1))], guard.group(1)
        )
        translated = to_sqlite(f"SELECT CASE WHEN {condition} THEN 1 ELSE 0 END")
        if server.db.execute(translated, bindings).fetchone()[0]:
            raise server_error(refusal)
    first = strip_comments(text).split(None, 1)[0].upper() if text.strip() else ""
    if first != "ALTER":
        raise server_error(
            "There is already an object named 'spDeleteUpdate' in the database.", native=2714
        )
    stored = re.sub(r"\bALTER\s+PROCEDURE", "CREATE PROCEDURE", text, count=1, flags=re.I)
    options = server.session_options
    server.db.execute(
        "UPDATE sim_object_definition SET definition = ?, uses_ansi_nulls = ?, "
        "uses_quoted_identifier = ?, is_signed = 0 WHERE name = 'dbo.spDeleteUpdate'",
        (
            stored,
            int(options.get("ANSI_NULLS") == "ON"),
            int(options.get("QUOTED_IDENTIFIER") == "ON"),
        ),
    )


@handles("apply_delete_update_fix")
def apply_delete_update_fix(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    # What the statement hands sp_executesql: its @fixed literal.
    literal = re.search(
        r"DECLARE @fixed nvarchar\(max\) = N'((?:[^']|'')*)';", server.statement_text, re.S
    )
    if literal is None:
        raise server_error("simulator: apply_delete_update_fix without its @fixed text")
    _replace_procedure(
        server,
        params,
        literal.group(1).replace("''", "'"),
        "spDeleteUpdate changed while susdb-maint was about to replace it; nothing was changed",
    )
    return [ResultSet()], server.charge(0.05)


@handles("restore_delete_update")
def restore_delete_update(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    original, _ = params
    _replace_procedure(
        server,
        params,
        str(original),
        "spDeleteUpdate is not the text susdb-maint put there; nothing was changed",
    )
    return [ResultSet()], server.charge(0.05)


@handles("backup_database")
def backup_database(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    (path,) = params
    rows = server.table_rows("tbRevision")
    target = Path(str(path))
    # The server writes the file where this host can see its folder (a local WID, a share); a
    # path of another OS (D:\\Backups on Linux) is not one: it is never written here.
    if target.is_absolute() and target.parent.is_dir():
        target.write_bytes(b"TAPE simulated SUSDB backup\n")
    finished = server.clock.now() + timedelta(seconds=server.charge(rows * 0.0005))
    server.db.execute(
        "INSERT INTO sim_backupset (database_name, type, is_copy_only, backup_finish_date, "
        "physical_device_name) VALUES ('SUSDB', 'D', 1, ?, ?)",
        (ts(finished), path),
    )
    return [
        ResultSet(messages=["100 percent processed.", "BACKUP DATABASE successfully processed."])
    ], server.charge(rows * 0.0005)


@handles("index_key_columns")
def index_key_columns(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    rows = server.db.execute(
        "SELECT object_name, name, key_column FROM sim_index WHERE index_id > 1 AND object_name IN "
        "('tbLocalizedPropertyForRevision', 'tbRevisionSupersedesUpdate') ORDER BY object_name, index_id"
    ).fetchall()
    return [ResultSet(["TableName", "IndexName", "LeadingColumn"], rows)], 0.0


def _create_index(
    server: Server, table: str, name: str, column: str, row_bytes: int
) -> tuple[list[ResultSet], float]:
    if server.scalar("SELECT 1 FROM sim_index WHERE object_name = ? AND name = ?", (table, name)):
        raise server_error(
            f"The operation failed because an index or statistics with name '{name}' already "
            f"exists on table 'dbo.{table}'.",
            native=1913,
        )
    next_id = int(
        server.scalar(
            "SELECT COALESCE(MAX(index_id), 1) + 1 FROM sim_index WHERE object_name = ?", (table,)
        )
    )
    server.db.execute(
        f"INSERT INTO sim_index {schema.SIM_INDEX_COLUMNS} VALUES (?, ?, ?, 'NONCLUSTERED', ?, 0, 0.5, 99, ?)",
        (table, next_id, name, column, row_bytes),
    )
    return [ResultSet()], server.charge(server.table_rows(table) * COST["create_index_per_row"])


@handles("create_index_localized_property")
def create_index_localized_property(
    server: Server, params: list[Any]
) -> tuple[list[ResultSet], float]:
    return _create_index(
        server,
        "tbLocalizedPropertyForRevision",
        f"{CUSTOM_PREFIX}LocalizedPropertyID",
        "LocalizedPropertyID",
        12,
    )


@handles("create_index_supersedes")
def create_index_supersedes(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    return _create_index(
        server,
        "tbRevisionSupersedesUpdate",
        f"{CUSTOM_PREFIX}SupersededUpdateID",
        "SupersededUpdateID",
        24,
    )


@handles("drop_custom_index")
def drop_custom_index(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    table, name = params
    if str(name).startswith(CUSTOM_PREFIX):
        server.db.execute("DELETE FROM sim_index WHERE object_name = ? AND name = ?", (table, name))
    return [ResultSet()], 0.0


def _index(server: Server, table: str, name: str) -> dict[str, Any]:
    # The statements reach dbo objects only (ALTER INDEX ... ON [dbo].X), as on SQL Server.
    for stats in server.index_physical_stats():
        if (
            stats["schema_name"] == "dbo"
            and stats["object_name"] == table
            and stats["name"] == name
        ):
            return stats
    raise server_error(f"index {name} on dbo.{table} not found")


@handles("reorganize_index")
def reorganize_index(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    table, name = params
    stats = _index(server, table, name)
    if not stats["allow_page_locks"]:
        raise server_error(
            f'The index "{name}" (partition 1) on table "{table}" cannot be reorganized because '
            "page level locking is disabled.",
            native=2552,
        )
    # REORGANIZE compacts leaf pages toward the fill factor and removes most logical fragmentation.
    target_density = stats["fill_factor"] or 98
    server.db.execute(
        "UPDATE sim_index SET avg_fragmentation_in_percent = MIN(avg_fragmentation_in_percent, 3.0), "
        "avg_page_space_used_in_percent = MAX(avg_page_space_used_in_percent, ?) WHERE object_name = ? AND name = ?",
        (min(target_density, 95), table, name),
    )
    return [ResultSet()], server.charge(stats["page_count"] * COST["reorganize_per_page"])


@handles("rebuild_index")
def rebuild_index(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    table, name, online, fill_factor, _maxdop = params
    stats = _index(server, table, name)
    engine_edition = server.scalar(
        "SELECT value FROM sim_server_property WHERE name = 'EngineEdition'"
    )
    if online and str(engine_edition) != "3":
        raise server_error(
            "Online index operations can only be performed in Enterprise edition of SQL Server.",
            native=1712,
        )
    lob = schema.LOB_COLUMNS.get(table)
    if online and lob and stats["index_id"] == 1:
        raise server_error(
            f"An online operation cannot be performed for index '{name}' because the index "
            f"contains column '{lob[0]}' of data type text, ntext, image or FILESTREAM. For a "
            "clustered index, the column could be any column of the table. The operation must be "
            "performed offline.",
            native=2725,
        )
    new_fill = int(fill_factor) if fill_factor else stats["fill_factor"]
    server.db.execute(
        "UPDATE sim_index SET avg_fragmentation_in_percent = 0.5, avg_page_space_used_in_percent = ?, fill_factor = ? "
        "WHERE object_name = ? AND name = ?",
        ((new_fill or 99) - 0.5, new_fill, table, name),
    )
    return [ResultSet()], server.charge(stats["page_count"] * COST["rebuild_per_page"])


@handles("user_tables")
def user_tables(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    rows = server.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'tb%' ORDER BY name"
    )
    return [ResultSet(["TableName"], rows.fetchall())], 0.0


@handles("update_statistics_table")
def update_statistics_table(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    (table,) = params
    exists = server.scalar(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    )
    rows = server.table_rows(table) if exists else 0
    return [ResultSet()], server.charge(rows * COST["statistics_per_row"] * 5)


@handles("backup_space")
def backup_space(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    # One volume holds the data and log files (a WID's system drive, C:\ by default); its free
    # bytes are sim_meta 'volume_free_bytes' (a test fills the disk), else 200 GB.
    used = server.scalar("PRAGMA page_count") * server.scalar("PRAGMA page_size")
    free = int(
        server.scalar("SELECT value FROM sim_meta WHERE key = 'volume_free_bytes'") or 200 * 1024**3
    )
    mount = server.scalar("SELECT value FROM sim_meta WHERE key = 'volume_mount_point'") or "C:\\"
    return one(["MountPoint", "AvailableBytes", "UsedBytes"], (mount, free, used)), 0.0


@handles("database_size")
def database_size(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    pages = server.scalar("PRAGMA page_count") * server.scalar("PRAGMA page_size")
    return one(["SizeMB"], (int(pages / 1024 / 1024),)), 0.0


@handles("update_statistics_all")
def update_statistics_all(server: Server, params: list[Any]) -> tuple[list[ResultSet], float]:
    result, cost = server.sp_updatestats()
    return [result], cost
