"""Translate the project's plain T-SQL into SQLite, so the text the project ships is what runs.

sqlglot does the dialect work. Around it: ``?`` markers become named ``@pN`` parameters (sqlglot
moves ``TOP (?)`` to a trailing ``LIMIT``, which would reorder positional markers), schema
prefixes map onto the simulator's table names (``dbo.X`` -> ``X``, ``PUBLIC_VIEWS.vUpdate`` ->
``"PUBLIC_VIEWS.vUpdate"``), ``DATEADD`` / ``GETUTCDATE`` become functions the simulator
registers (so they follow its clock), and ``DELETE TOP (n)`` becomes a rowid-limited delete.
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


def _map_table(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Table):
        schema_name = node.args.get("db")
        if schema_name is not None:
            schema_text = schema_name.name
            node.set("db", None)
            node.set("catalog", None)
            if schema_text.upper() == "PUBLIC_VIEWS":
                node.set("this", exp.to_identifier(f"PUBLIC_VIEWS.{node.name}", quoted=True))
    elif isinstance(node, exp.DateAdd):
        unit = node.args.get("unit")
        unit_name = unit.name if unit is not None else "DAY"
        return exp.Anonymous(
            this="DATEADD",
            expressions=[exp.Literal.string(unit_name.upper()), node.expression, node.this],
        )
    elif isinstance(node, exp.CurrentTimestamp | exp.CurrentDate):
        return exp.Anonymous(this="GETUTCDATE", expressions=[])
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
    tree = sqlglot.parse_one(statement, read="tsql")
    tree = tree.transform(_map_table)
    return tree.sql(dialect="sqlite")
