"""From ``sp_executesql``'s named parameters back to the simulator's ``?`` markers.

ODBC drivers turn each ``?`` into ``@P1``, ``@P2``... and send the text to ``sp_executesql`` or
``sp_prepexec`` with a declaration string (``@P1 int,@P2 nvarchar(4000)``) and the values. The
simulated SUSDB takes ``?`` markers with positional values, as pyodbc does, so each use of a
declared name is turned back into a ``?`` and its value appended in order of use. Text inside
string literals, quoted identifiers and comments (T-SQL block comments nest) is left alone, and
so is any other ``@variable``; the statement's ``-- name:`` header is kept as received.
"""

from __future__ import annotations

import re
from typing import Any

_NAME = re.compile(r"@[\w@#$]+")


class MissingParameter(Exception):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(name)


def declared_names(declaration: str) -> list[str]:
    """The parameter names of a declaration string, in order: ``@P1 int,@P2 decimal(9, 2)``."""
    names, depth, start = [], 0, 0
    pieces = []
    for index, char in enumerate(declaration):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            pieces.append(declaration[start:index])
            start = index + 1
    pieces.append(declaration[start:])
    for piece in pieces:
        match = _NAME.search(piece)
        if match:
            names.append(match.group(0))
    return names


def _skip_block_comment(sql: str, index: int) -> int:
    depth = 0
    while index < len(sql):
        if sql.startswith("/*", index):
            depth += 1
            index += 2
        elif sql.startswith("*/", index):
            depth -= 1
            index += 2
            if depth == 0:
                return index
        else:
            index += 1
    return index


def _skip_quoted(sql: str, index: int, closing: str) -> int:
    """Past a quoted run that starts at ``index``; a doubled closing character is an escape."""
    index += 1
    while index < len(sql):
        if sql[index] == closing:
            if sql.startswith(closing * 2, index):
                index += 2
                continue
            return index + 1
        index += 1
    return index


def to_positional(sql: str, values: dict[str, Any]) -> tuple[str, list[Any]]:
    """Replace each use of a parameter in ``values`` (keys like ``@P1``) by ``?``.

    Returns the new text and the values in marker order. A declared parameter without a value
    raises MissingParameter, as SQL Server's error 8178 does."""
    wanted = {name.casefold(): name for name in values}
    out: list[str] = []
    ordered: list[Any] = []
    index = 0
    while index < len(sql):
        char = sql[index]
        if sql.startswith("--", index):
            end = sql.find("\n", index)
            end = len(sql) if end < 0 else end
        elif sql.startswith("/*", index):
            end = _skip_block_comment(sql, index)
        elif char in "'\"":
            end = _skip_quoted(sql, index, char)
        elif char == "[":
            end = _skip_quoted(sql, index, "]")
        elif char == "@":
            match = _NAME.match(sql, index)
            assert match is not None
            end = match.end()
            key = match.group(0).casefold()
            if key in wanted:
                value = values[wanted[key]]
                if value is _MISSING:
                    raise MissingParameter(wanted[key])
                out.append("?")
                ordered.append(value)
                index = end
                continue
        else:
            end = index + 1
        out.append(sql[index:end])
        index = end
    return "".join(out), ordered


_MISSING = object()


def bind(sql: str, declaration: str, supplied: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """Match supplied values to the declared names and rewrite the text. A value without a name
    is the declared parameter at its position (drivers send ``sp_prepexec`` values unnamed)."""
    declared = declared_names(declaration)
    by_key: dict[str, Any] = {}
    for position, (name, value) in enumerate(supplied):
        if not name and position < len(declared):
            name = declared[position]
        by_key[name.casefold()] = value
    values = {name: by_key.get(name.casefold(), _MISSING) for name in declared}
    return to_positional(sql, values)
