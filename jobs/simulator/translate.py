"""Translate the project's plain T-SQL into SQLite, so the text the project ships is what runs.

sqlglot does the dialect work. Around it: ``?`` markers become named ``@pN`` parameters (sqlglot
moves ``TOP (?)`` to a trailing ``LIMIT``, which would reorder positional markers), schema
prefixes map onto the simulator's table names (``dbo.X`` -> ``X``, ``PUBLIC_VIEWS.vUpdate`` ->
``"PUBLIC_VIEWS.vUpdate"``, ``sys.indexes`` -> ``"sys.indexes"``), ``N'...'`` becomes a plain
string, ``DATEADD`` / ``GETUTCDATE`` become functions the simulator registers (so they follow its
clock), and ``DELETE TOP (n)`` becomes a rowid-limited delete.

SQLite does not type-check a comparison; SQL Server does. ``type_clash`` finds a comparison of a
column the simulator models as a string (``STRING_COLUMNS``) with a number, which SQL Server
refuses with error 245, and ``full_counts`` the tables a statement counts in full (SQL Server
reads an index of the table to the end for that).
"""

from __future__ import annotations

import functools
import re

import sqlglot
from sqlglot import exp

_DELETE_TOP = re.compile(
    r"^\s*DELETE\s+TOP\s*\((?P<count>[^)]*)\)\s+FROM\s+(?P<table>[\w.\[\]]+)(?P<rest>.*)$",
    re.I | re.S,
)


def _map_table(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.Table):
        schema_name = node.args.get("db")
        if schema_name is not None:
            schema_text = schema_name.name
            node.set("db", None)
            node.set("catalog", None)
            if schema_text.upper() in ("PUBLIC_VIEWS", "SYS"):
                prefix = "PUBLIC_VIEWS" if schema_text.upper() == "PUBLIC_VIEWS" else "sys"
                node.set("this", exp.to_identifier(f"{prefix}.{node.name}", quoted=True))
    elif isinstance(node, exp.National):
        return exp.Literal.string(node.this)
    elif isinstance(node, exp.DateAdd):
        unit = node.args.get("unit")
        unit_name = unit.name if unit is not None else "DAY"
        return exp.Anonymous(
            this="DATEADD",
            expressions=[exp.Literal.string(unit_name.upper()), node.expression, node.this],
        )
    elif isinstance(node, exp.CurrentTimestamp | exp.CurrentDate):
        return exp.Anonymous(this="GETUTCDATE", expressions=[])
    elif isinstance(node, exp.QueryOption):
        return None  # OPTION (RECOMPILE) and other plan hints: SQLite has no plan cache to steer
    return node


@functools.lru_cache(maxsize=512)
def to_sqlite(statement: str) -> str:
    """Given one T-SQL statement with ``@pN`` parameters, return its SQLite form."""
    match = _DELETE_TOP.match(statement)
    if match:
        table, rest = match.group("table"), match.group("rest")
        statement = (
            f"DELETE FROM {table} WHERE rowid IN "
            f"(SELECT TOP ({match.group('count')}) rowid FROM {table}{rest})"
        )
    mapped = sqlglot.parse_one(statement, read="tsql").transform(_map_table)
    assert mapped is not None  # only a query option is ever removed, never the statement
    return mapped.sql(dialect="sqlite")


# Columns whose type is not public and that the simulator models as strings (the dangerous
# alternative): (view, column) -> a value SQL Server would fail to convert.
STRING_COLUMNS = {("PUBLIC_VIEWS.vUpdate", "publicationstate"): "Published"}
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)


def _tables_by_alias(tree: exp.Expr) -> dict[str, str]:
    tables = {}
    for table in tree.find_all(exp.Table):
        owner = table.args.get("db")
        full = f"{owner.name}.{table.name}" if owner is not None else table.name
        if full.lower().startswith("dbo."):
            full = table.name
        tables[(table.alias_or_name or table.name).lower()] = full
    return tables


@functools.lru_cache(maxsize=512)
def type_clash(statement: str) -> str | None:
    """SQL Server's error 245 text if the statement compares a string-modelled column with a number."""
    if not any(column in statement.lower() for _, column in STRING_COLUMNS):
        return None
    tree = sqlglot.parse_one(statement, read="tsql")
    tables = _tables_by_alias(tree)
    for comparison in tree.find_all(*_COMPARISONS):
        for column, other in (
            (comparison.this, comparison.expression),
            (comparison.expression, comparison.this),
        ):
            if not isinstance(column, exp.Column) or not (
                isinstance(other, exp.Literal) and other.is_number
            ):
                continue
            owner = (
                tables.get(column.table.lower())
                if column.table
                else (next(iter(tables.values())) if len(tables) == 1 else None)
            )
            value = STRING_COLUMNS.get((owner or "", column.name.lower()))
            if value is not None:
                return f"Conversion failed when converting the nvarchar value '{value}' to data type int."
    return None


@functools.lru_cache(maxsize=512)
def full_counts(statement: str) -> tuple[str, ...]:
    """The tables a statement counts in full: COUNT over one table, with no join and no WHERE."""
    if "COUNT" not in statement.upper():
        return ()
    tree = sqlglot.parse_one(statement, read="tsql")
    counted = []
    for select in tree.find_all(exp.Select):
        source = select.args.get("from_") or select.args.get("from")
        if source is None or select.args.get("joins") or select.args.get("where"):
            continue
        table = source.this
        if isinstance(table, exp.Table) and any(
            isinstance(node, exp.Count)
            for projection in select.expressions
            for node in projection.walk()
        ):
            counted.append(table.name)
    return tuple(counted)
