"""SQL Server's catalog views, two DMVs and the permission functions, so the project's SQL runs as written.

A statement that reads ``sys.objects``, ``sys.tables``, ``sys.schemas``, ``sys.indexes``,
``sys.databases``, ``sys.dm_db_partition_stats`` or ``sys.dm_db_index_physical_stats(...)``, or
calls ``HAS_PERMS_BY_NAME`` / ``IS_ROLEMEMBER``, is not answered by a handler keyed by its name:
these objects are materialized as temporary tables from the modelled server just before it runs,
and its own joins and WHERE clauses decide what comes back. A filter the project forgets (a schema, an
allocation unit, ``is_ms_shipped``) therefore lets the modelled server's other objects through,
as it would on SQL Server.

Facts modelled (sys.dm_db_index_physical_stats, https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-db-index-physical-stats-transact-sql):

* ``LIMITED`` "is the fastest mode and scans the smallest number of pages. For an index, only the
  parent-level pages of the B-tree (that is, the pages above the leaf level) are scanned"; it
  returns NULL for ``avg_page_space_used_in_percent`` and ``record_count``. A NULL mode is LIMITED.
* ``SAMPLED`` reads "a 1 percent sample of all the pages"; "if the index or heap has fewer than
  10,000 pages, DETAILED mode is used instead". ``DETAILED`` reads every page, and "the nonleaf
  levels of indexes are only processed when mode = DETAILED".
* A table with ``text``, ``ntext`` or ``image`` columns has a ``LOB_DATA`` allocation unit besides
  ``IN_ROW_DATA``: one more row per index of it.
* ``sys.dm_db_partition_stats.row_count`` is metadata: reading it scans no page.

Facts modelled (Microsoft Learn: sys.databases,
https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-databases-transact-sql;
VIEW ANY DATABASE Permission,
https://learn.microsoft.com/previous-versions/sql/sql-server-2008/ms189077(v=sql.100)):

* One row per database of the instance: the system databases master (1), tempdb (2), model (3)
  and msdb (4), and the modelled SUSDB (5, under the name the server gives it). Columns modelled:
  ``database_id``, ``name``, ``state_desc`` (all ONLINE).
* "By default, the VIEW ANY DATABASE permission is granted to the public role": every login sees
  every row. A login denied it (``deny:*`` = ``VIEW ANY DATABASE``) sees master and tempdb ("always
  visible to public") and the database it is connected to ("can always be viewed").

Every page a statement reads is written to ``sim_scan_log`` (statement, object, mode, pages), so a
test can tell a status call that reads the database from one that reads its metadata. Object and
schema IDs are stable hashes of their names (``OBJECT_ID`` of an object that does not exist
returns an ID that no catalog row has, which joins like NULL).
"""

from __future__ import annotations

import math
import re
import sqlite3
import zlib
from typing import Any

from jobs.simulator import schema
from jobs.simulator.faults import server_error

SCAN_LOG = """
CREATE TABLE IF NOT EXISTS sim_scan_log (
    scan_id INTEGER PRIMARY KEY,
    statement TEXT NOT NULL,
    object_name TEXT NOT NULL,
    mode TEXT NOT NULL,
    pages_read INTEGER NOT NULL
)
"""
# The system databases every instance has, in database_id order.
SYSTEM_DATABASES = ("master", "tempdb", "model", "msdb")
# Schema IDs SQL Server gives its fixed schemas.
FIXED_SCHEMAS = {"dbo": 1, "guest": 2, "INFORMATION_SCHEMA": 3, "sys": 4}
MODELLED = re.compile(
    r"^(?:sys\.(?:objects|tables|schemas|indexes|databases|dm_db_partition_stats"
    r"|dm_db_index_physical_stats)"
    r"|HAS_PERMS_BY_NAME)$",
    re.I,
)
_PHYSICAL_STATS = re.compile(
    r"\bsys\.dm_db_index_physical_stats\s*\(([^;]*?)\)(?=\s+(?:AS\s+)?\w)", re.I
)
MODES = ("LIMITED", "SAMPLED", "DETAILED")
ROWS_PER_NONLEAF_PAGE = 400  # an 8 KB page of narrow index keys


def schema_id(name: str) -> int:
    return FIXED_SCHEMAS.get(name) or 5 + zlib.crc32(name.lower().encode()) % 10_000


def object_id(schema_name: str, name: str) -> int:
    return 1_000 + zlib.crc32(f"{schema_name}.{name}".lower().encode()) % 2_000_000_000


def databases(server: Any) -> list[tuple[int, str]]:
    """(database_id, name) of every database of the modelled instance."""
    return [
        *enumerate(SYSTEM_DATABASES, start=1),
        (len(SYSTEM_DATABASES) + 1, server.database_name),
    ]


def database_id(server: Any, name: str) -> int | None:
    return next((key for key, each in databases(server) if each.lower() == name.lower()), None)


def _visible_databases(server: Any) -> list[tuple[int, str, str]]:
    """sys.databases as the session's login sees it (VIEW ANY DATABASE, or not)."""
    shown = databases(server)
    if "VIEW ANY DATABASE" in server.denied():
        always = {"master", "tempdb", server.current_database.lower()}
        shown = [(key, name) for key, name in shown if name.lower() in always]
    return [(key, name, "ONLINE") for key, name in shown]


def _unquote(name: str) -> str:
    return name.strip().replace("[", "").replace("]", "")


def _split_name(name: str) -> tuple[str, str]:
    parts = _unquote(name).split(".")
    return (parts[-2] if len(parts) > 1 else "dbo"), parts[-1]


def register_functions(db: sqlite3.Connection, server: Any) -> None:
    """Register the T-SQL functions these statements call, answering from the modelled server."""

    def has_perms_by_name(securable: Any, _class: Any, permission: Any) -> int:
        name = _unquote(str(securable))
        return int(f"{str(permission).upper()} {name}".upper() not in server.denied())

    def is_rolemember(role: Any) -> int:
        return int(f"ROLE {role}".upper() not in server.denied())

    def object_id_of(name: Any) -> int | None:
        return None if name is None else object_id(*_split_name(str(name)))

    def quotename(value: Any) -> str | None:
        return None if value is None else "[" + str(value).replace("]", "]]") + "]"

    def object_definition(identifier: Any) -> str | None:
        # "NULL ... if the caller does not have permission" (OBJECT_DEFINITION documentation).
        server.load_denials()
        for name, definition in db.execute("SELECT name, definition FROM sim_object_definition"):
            if object_id(*_split_name(name)) == identifier:
                denied = f"VIEW DEFINITION {name}".upper() in server.denied()
                return None if denied else str(definition)
        return None

    db.create_function("HAS_PERMS_BY_NAME", 3, has_perms_by_name)
    db.create_function("OBJECT_DEFINITION", 1, object_definition)
    db.create_function("IS_ROLEMEMBER", 1, is_rolemember)
    db.create_function("OBJECT_ID", 1, object_id_of, deterministic=True)
    db.create_function(
        "SCHEMA_ID", 1, lambda name: schema_id(_unquote(str(name))), deterministic=True
    )
    db.create_function("DB_ID", 0, lambda: database_id(server, server.current_database))
    db.create_function("DB_NAME", 0, lambda: server.current_database)
    db.create_function("QUOTENAME", 1, quotename, deterministic=True)
    db.create_function(
        "CONCAT", -1, lambda *parts: "".join("" if part is None else str(part) for part in parts)
    )


def unmodelled(code: str, markers: re.Pattern[str]) -> list[str]:
    """The system objects a statement uses that this module does not model."""
    code = re.sub(r"N?'(?:[^']|'')*'", "''", code)
    found = {match.group(0) for match in markers.finditer(code)}
    named = {match.group(0) for match in re.finditer(r"\bsys\.\w+", code, re.I)}
    return sorted(name for name in (found - {"sys."}) | named if not MODELLED.match(name.strip()))


def _objects(server: Any) -> list[tuple[str, str, str, int]]:
    """(schema, name, type, is_ms_shipped) of every object the modelled database has."""
    objects: dict[tuple[str, str], tuple[str, str, str, int]] = {}
    for name, kind in server.db.execute(
        "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND "
        "(name LIKE 'tb%' OR name LIKE 'vw%' OR name LIKE 'PUBLIC_VIEWS.%')"
    ):
        owner, bare = _split_name(name) if name.startswith("PUBLIC_VIEWS.") else ("dbo", name)
        objects[(owner, bare)] = (owner, bare, "U" if kind == "table" else "V", 0)
    for owner, name, kind, shipped in server.db.execute(
        "SELECT DISTINCT schema_name, object_name, object_type, is_ms_shipped FROM sim_index"
    ):
        objects.setdefault((owner, name), (owner, name, kind, shipped))
    return sorted(objects.values())


def _materialize(
    db: sqlite3.Connection, table: str, columns: list[str], rows: list[tuple[Any, ...]]
) -> None:
    # Emptied and refilled, never dropped: SQLite refuses to drop a table a pending statement
    # still reads ("database table is locked"), and a cancelled statement may leave one pending.
    db.execute(f'CREATE TEMP TABLE IF NOT EXISTS "{table}" ({", ".join(columns)})')
    db.execute(f'DELETE FROM temp."{table}"')
    if rows:
        marks = ", ".join("?" * len(columns))
        db.executemany(f'INSERT INTO temp."{table}" VALUES ({marks})', rows)


def _log(server: Any, statement: str, object_name: str, mode: str, pages: int) -> None:
    server.db.execute(SCAN_LOG)
    server.db.execute(
        "INSERT INTO sim_scan_log (statement, object_name, mode, pages_read) VALUES (?, ?, ?, ?)",
        (statement, object_name, mode, pages),
    )


def log_full_count(server: Any, statement: str, table: str) -> float:
    """A COUNT(*) over a whole table reads its smallest index in full: log the pages, return the cost."""
    if table.startswith("PUBLIC_VIEWS.") or not server.scalar(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ):
        return 0.0
    width = server.scalar(
        "SELECT MIN(row_bytes) FROM sim_index WHERE object_name = ? AND schema_name = 'dbo'",
        (table,),
    )
    pages = max(1, math.ceil(server.table_rows(table) * (width or 40) / 8060))
    _log(server, statement, table, "COUNT", pages)
    return float(server.charge(pages * schema.COST_PER_PAGE_READ))


def prepare(server: Any, text: str, bindings: dict[str, Any], statement: str) -> tuple[str, float]:
    """Materialize the catalog objects ``text`` reads; return its runnable text and the read cost."""
    db = server.db
    server.load_denials()
    objects = _objects(server)
    schemas = sorted({owner for owner, _, _, _ in objects} | set(FIXED_SCHEMAS))
    _materialize(db, "sys.schemas", ["schema_id", "name"], [(schema_id(s), s) for s in schemas])
    _materialize(
        db,
        "sys.objects",
        ["object_id", "name", "schema_id", "type", "type_desc", "is_ms_shipped"],
        [
            (
                object_id(owner, name),
                name,
                schema_id(owner),
                kind,
                {"U": "USER_TABLE", "V": "VIEW", "S": "SYSTEM_TABLE"}.get(kind, kind),
                shipped,
            )
            for owner, name, kind, shipped in objects
        ],
    )
    _materialize(
        db,
        "sys.tables",
        ["object_id", "name", "schema_id", "type", "type_desc", "is_ms_shipped"],
        [],
    )
    db.execute(
        'INSERT INTO temp."sys.tables" SELECT object_id, name, schema_id, type, type_desc, '
        "is_ms_shipped FROM temp.\"sys.objects\" WHERE type = 'U'"
    )
    stats = server.index_physical_stats()
    indexed = {(s["schema_name"], s["object_name"]) for s in stats if s["index_id"] <= 1}
    index_rows = [
        (
            object_id(s["schema_name"], s["object_name"]),
            s["index_id"],
            s["name"],
            1 if s["type_desc"] == "CLUSTERED" else 2,
            s["type_desc"],
            s["fill_factor"],
            s["allow_page_locks"],
        )
        for s in stats
    ] + [
        (object_id(owner, name), 0, None, 0, "HEAP", 0, 1)
        for owner, name, kind, _ in objects
        if kind == "U" and (owner, name) not in indexed
    ]
    _materialize(
        db,
        "sys.indexes",
        ["object_id", "index_id", "name", "type", "type_desc", "fill_factor", "allow_page_locks"],
        index_rows,
    )
    cost = 0.0
    if re.search(r"\bsys\.databases\b", text, re.I):
        _materialize(
            db, "sys.databases", ["database_id", "name", "state_desc"], _visible_databases(server)
        )
    if re.search(r"\bsys\.dm_db_partition_stats\b", text, re.I):
        _materialize(
            db,
            "sys.dm_db_partition_stats",
            ["object_id", "index_id", "partition_number", "row_count", "used_page_count"],
            [
                (
                    object_id(s["schema_name"], s["object_name"]),
                    s["index_id"],
                    1,
                    s["record_count"],
                    s["page_count"],
                )
                for s in stats
            ],
        )
        _log(server, statement, "sys.dm_db_partition_stats", "METADATA", 0)
    call = _PHYSICAL_STATS.search(text)
    if call:
        mode = _mode(call.group(1), bindings)
        rows, pages_read = _physical_stats(stats, mode)
        _materialize(db, "sys.dm_db_index_physical_stats", PHYSICAL_STATS_COLUMNS, rows)
        for name, pages in pages_read.items():
            _log(server, statement, name, mode, pages)
        cost += server.charge(sum(pages_read.values()) * schema.COST_PER_PAGE_READ)
        text = text[: call.start()] + "sys.dm_db_index_physical_stats" + text[call.end() :]
    return text, cost


def _mode(arguments: str, bindings: dict[str, Any]) -> str:
    parts = [part.strip() for part in re.split(r",(?![^(]*\))", arguments)]
    if len(parts) != 5:
        raise server_error(
            "An insufficient number of arguments were supplied for the procedure or function "
            "sys.dm_db_index_physical_stats.",
            native=313,
        )
    if any(part.upper() != "NULL" for part in parts[1:4]):
        raise server_error(
            "susdb-maint simulator: sys.dm_db_index_physical_stats is modelled for a whole "
            "database only (object, index and partition NULL)",
            native=2812,
        )
    raw = parts[4]
    if raw.startswith("@"):
        value = bindings.get(raw[1:])
    elif raw.upper() == "NULL":
        value = None
    else:
        value = re.sub(r"^N?'|'$", "", raw)
    mode = "LIMITED" if value in (None, "", "DEFAULT") else str(value).upper()
    if mode not in MODES:
        raise server_error(f"Parameter 5 is incorrect for this DMV: '{value}'.", native=2561)
    return mode


PHYSICAL_STATS_COLUMNS = [
    "database_id",
    "object_id",
    "index_id",
    "partition_number",
    "index_type_desc",
    "alloc_unit_type_desc",
    "index_depth",
    "index_level",
    "avg_fragmentation_in_percent",
    "page_count",
    "avg_page_space_used_in_percent",
    "record_count",
]


def _physical_stats(
    stats: list[dict[str, Any]], mode: str
) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    rows: list[tuple[Any, ...]] = []
    pages_read: dict[str, int] = {}
    for s in stats:
        pages = s["page_count"]
        nonleaf = max(1, math.ceil(pages / ROWS_PER_NONLEAF_PAGE)) if pages > 1 else 0
        depth = 1 + (nonleaf > 0)
        if mode == "LIMITED":
            read = nonleaf or 1
        elif mode == "SAMPLED" and pages >= 10_000:
            read = nonleaf + math.ceil(pages / 100)
        else:
            read = nonleaf + pages
        key = f"{s['schema_name']}.{s['object_name']}.{s['name']}"
        pages_read[key] = read
        exact = mode != "LIMITED"
        ident = (
            5,
            object_id(s["schema_name"], s["object_name"]),
            s["index_id"],
            1,
            s["type_desc"] + " INDEX",
        )
        rows.append(
            (
                *ident,
                "IN_ROW_DATA",
                depth,
                0,
                s["avg_fragmentation_in_percent"],
                pages,
                s["avg_page_space_used_in_percent"] if exact else None,
                s["record_count"] if exact else None,
            )
        )
        if mode == "DETAILED" and nonleaf:
            rows.append((*ident, "IN_ROW_DATA", depth, 1, 0.0, nonleaf, 90.0, pages))
        if s["index_id"] <= 1 and schema.LOB_COLUMNS.get(s["object_name"]):
            lob_pages = max(1, pages // 2)
            rows.append((*ident, "LOB_DATA", 1, 0, 0.0, lob_pages, 70.0 if exact else None, None))
    return rows, pages_read
