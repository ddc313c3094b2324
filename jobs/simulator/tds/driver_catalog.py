"""Catalog procedures a driver sends on its own: ``sp_datatype_info_100``.

pyodbc asks, on every connect, ``SQLGetTypeInfo`` for varchar, nvarchar, varbinary and timestamp
(FreeTDS sends ``sp_datatype_info_100 <type>,3``) and binds longer strings than the reported
sizes as long types (``ntext``). Answering them as SQL Server does keeps pyodbc's parameter
binding what it is against a real server. Columns and values: SQL Server's ``sp_datatype_info``
result (ODBC ``SQLGetTypeInfo``), for the types asked.
"""

from __future__ import annotations

import re
from typing import Any

COLUMNS = [
    "TYPE_NAME",
    "DATA_TYPE",
    "PRECISION",
    "LITERAL_PREFIX",
    "LITERAL_SUFFIX",
    "CREATE_PARAMS",
    "NULLABLE",
    "CASE_SENSITIVE",
    "SEARCHABLE",
    "UNSIGNED_ATTRIBUTE",
    "MONEY",
    "AUTO_INCREMENT",
    "LOCAL_TYPE_NAME",
    "MINIMUM_SCALE",
    "MAXIMUM_SCALE",
    "SQL_DATA_TYPE",
    "SQL_DATETIME_SUB",
    "NUM_PREC_RADIX",
    "INTERVAL_PRECISION",
    "USERTYPE",
]
_TYPES: dict[int, list[tuple[Any, ...]]] = {
    12: [("varchar", 12, 8000, "'", "'", "max length", 1, 0, 3, None, 0, None, "varchar",
          None, None, 12, None, None, None, 2)],
    -9: [("nvarchar", -9, 4000, "N'", "'", "max length", 1, 0, 3, None, 0, None, "nvarchar",
          None, None, -9, None, None, None, 0)],
    -3: [("varbinary", -3, 8000, "0x", None, "max length", 1, 0, 2, None, 0, None, "varbinary",
          None, None, -3, None, None, None, 4)],
    93: [("datetime", 93, 23, "'", "'", None, 1, 0, 3, None, 0, None, "datetime",
          3, 3, 9, 3, None, None, 12)],
}  # fmt: skip
_CALL = re.compile(
    r"^\s*(?:EXEC(?:UTE)?\s+)?sp_datatype_info(?:_90|_100)?\s+(-?\d+)(?:\s*,\s*\d+)?\s*;?\s*$", re.I
)


def type_info(sql: str) -> tuple[list[str], list[tuple[Any, ...]]] | None:
    """The result of an ``sp_datatype_info`` call, or None if ``sql`` is something else."""
    match = _CALL.match(sql)
    if match is None:
        return None
    return COLUMNS, _TYPES.get(int(match.group(1)), [])
