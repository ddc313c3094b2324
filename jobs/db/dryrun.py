"""A dry run on the real path: ``plan --show-sql`` (Ola Hallengren's ``@Execute = 'N'``,
alembic's ``as_sql``, but against the real target).

While ``recording()`` is active, every executor sends what only reads and records, without
sending it, every statement whose ``sql/`` file says ``writes: yes``; it answers such a statement
with the row the file declares (``dry run:``), so the run path goes on as if it had worked. The
file also says what the reads after it would find changed (``dry run then:``): a deleted update
is no longer in WSUS's obsolete list, a declined one no longer a candidate, a rebuilt index no
longer fragmented, a backup is the last backup. Nothing about a change is known outside its file:
stages and the queue engine run unchanged.

The grammar, in the file's header::

    -- dry run: no rows | Column = value, ...           (value: 12, 'text', NULL, @param,
                                                          SYSUTCDATETIME())
    -- dry run then: <reads> leave out <test>; <reads> set Column = value where <test>;
    --          <read> answers Column = value, ...
    (<reads>: statement names, comma-separated; <test>: Column = @param [and ...], where a
     column is a name or "column N", by position from 0)

What a change would make the server find later on its own (the old revisions a decline frees,
the indexes deletions fragment, the prerequisites a deletion frees) cannot be foreseen: the
dry run shows the server as it is now.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jobs.db.catalog import Statement, load_catalog

# A value in a declaration, unevaluated: ("literal", v), ("param", name) or ("now", None).
Value = tuple[str, Any]
# The columns and rows a dry run answers with (no columns: no rows).
Answer = tuple[tuple[str, ...], list[tuple[Any, ...]]]
Test = tuple[tuple[str | int, str], ...]  # (column name or position, parameter name)

_NO_ROWS = "no rows"
_EXPLANATION = re.compile(r"\s+\([^()]*\)\s*$")  # a trailing "(why)" is for people
_ASSIGNMENT = re.compile(r"^(\w+)\s*=\s*(.+)$")
_LEAVE_OUT = re.compile(r"^(?P<reads>[\w\s,]+?)\s+leave out\s+(?P<test>.+)$", re.I)
_SET = re.compile(
    r"^(?P<reads>[\w\s,]+?)\s+set\s+(?P<column>\w+)\s*=\s*(?P<value>.+?)\s+where\s+(?P<test>.+)$",
    re.I,
)
_ANSWERS = re.compile(r"^(?P<read>\w+)\s+answers\s+(?P<answer>.+)$", re.I)
_POSITION = re.compile(r"^column\s+(\d+)$", re.I)


@dataclass(frozen=True)
class Entry:
    """One statement of the dry run, in order: ``sent`` to the target (a read), or recorded and
    answered as declared."""

    stage: str | None
    name: str
    params: tuple[Any, ...]
    sent: bool


@dataclass(frozen=True)
class Declared:
    """A statement's declarations, parsed."""

    answer: tuple[tuple[str, Value], ...] | None  # None: sent
    leave_out: tuple[tuple[str, Test], ...] = ()  # (read, test)
    sets: tuple[tuple[str, str, Value, Test], ...] = ()  # (read, column, value, test)
    answers: tuple[tuple[str, tuple[tuple[str, Value], ...]], ...] = ()  # (read, row)


def _value(text: str, params: Sequence[str], where: str) -> Value:
    text = text.strip()
    if text.startswith("@"):
        if text[1:] not in params:
            raise ValueError(f"{where}: {text} is not one of its parameters ({', '.join(params)})")
        return ("param", text[1:])
    if text.upper() == "SYSUTCDATETIME()":
        return ("now", None)
    if text.upper() == "NULL":
        return ("literal", None)
    if re.fullmatch(r"-?\d+", text):
        return ("literal", int(text))
    if re.fullmatch(r"N?'(?:[^']|'')*'", text):
        return ("literal", text[text.index("'") + 1 : -1].replace("''", "'"))
    raise ValueError(
        f"{where}: {text!r} is not a number, a 'string', NULL, @param or SYSUTCDATETIME()"
    )


def _row(text: str, params: Sequence[str], where: str) -> tuple[tuple[str, Value], ...]:
    text = _EXPLANATION.sub("", text.strip())
    if text.lower() == _NO_ROWS:
        return ()
    row = []
    for part in text.split(","):
        assignment = _ASSIGNMENT.match(part.strip())
        if assignment is None:
            raise ValueError(f"{where}: {part.strip()!r} is not 'Column = value'")
        row.append((assignment.group(1), _value(assignment.group(2), params, where)))
    return tuple(row)


def _test(text: str, params: Sequence[str], where: str) -> Test:
    terms = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.I):
        assignment = _ASSIGNMENT.match(part.strip()) or re.match(
            r"^(column\s+\d+)\s*=\s*(.+)$", part.strip(), re.I
        )
        if assignment is None:
            raise ValueError(f"{where}: {part.strip()!r} is not 'Column = @param'")
        kind, parameter = _value(assignment.group(2), params, where)
        if kind != "param":
            raise ValueError(f"{where}: a test compares a column with a parameter")
        position = _POSITION.match(assignment.group(1))
        terms.append((int(position.group(1)) if position else assignment.group(1), parameter))
    return tuple(terms)


def _reads(text: str, catalog: Mapping[str, Statement], where: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    for name in names:
        if name not in catalog:
            raise ValueError(f"{where}: no statement named {name!r} in sql/")
        if catalog[name].writes:
            raise ValueError(f"{where}: {name} is not a read")
    return names


def declared(statement: Statement, catalog: Mapping[str, Statement]) -> Declared:
    """Parse a statement's dry-run declarations; raise ValueError naming the file and the part."""
    where = statement.path
    params = [name for name, _ in statement.params]
    if statement.dry_run is None:
        if statement.dry_run_then:
            raise ValueError(f"{where}: 'dry run then' without a 'dry run' answer")
        return Declared(None)
    leave_out: list[tuple[str, Test]] = []
    sets: list[tuple[str, str, Value, Test]] = []
    answers: list[tuple[str, tuple[tuple[str, Value], ...]]] = []
    for part in filter(None, (part.strip() for part in statement.dry_run_then.split(";"))):
        if match := _SET.match(part):
            value = _value(match["value"], params, where)
            test = _test(match["test"], params, where)
            for read in _reads(match["reads"], catalog, where):
                sets.append((read, match["column"], value, test))
        elif match := _LEAVE_OUT.match(part):
            test = _test(match["test"], params, where)
            leave_out += [(read, test) for read in _reads(match["reads"], catalog, where)]
        elif match := _ANSWERS.match(part):
            (read,) = _reads(match["read"], catalog, where)
            answers.append((read, _row(match["answer"], params, where)))
        else:
            raise ValueError(
                f"{where}: {part!r}: say '<reads> leave out <test>', '<reads> set Column = value "
                "where <test>' or '<read> answers Column = value, ...'"
            )
    return Declared(
        _row(statement.dry_run, params, where), tuple(leave_out), tuple(sets), tuple(answers)
    )


def check_catalog(catalog: Mapping[str, Statement]) -> dict[str, Declared]:
    """Every statement's declarations, parsed: a mistake in any file fails here, at once."""
    return {name: declared(statement, catalog) for name, statement in catalog.items()}


@functools.cache
def _declarations() -> dict[str, Declared]:
    return check_catalog(load_catalog())


def _key(value: Any) -> str:
    """One value as two drivers may spell it: a GUID with or without braces, in any case; a
    number as int or text; a name in any case (SQL Server's default collation)."""
    if isinstance(value, bool):
        value = int(value)
    return str(value).strip("{}").upper()


Columns = tuple[str | int, ...]  # the columns a test compares, by name or position


@dataclass
class DryRun:
    """The statements of one dry run, in order, and what its recorded changes left behind.
    What a read no longer shows is kept by the values it is tested on, so a night of tens of
    thousands of declines costs one lookup per row read, not one per decline."""

    entries: list[Entry] = field(default_factory=list)
    # read -> the columns tested -> the values whose rows it no longer shows
    _left_out: dict[str, dict[Columns, set[tuple[str, ...]]]] = field(default_factory=dict)
    # read -> (column set, the columns tested) -> the values tested -> the value it now shows
    _sets: dict[str, dict[tuple[str, Columns], dict[tuple[str, ...], Any]]] = field(
        default_factory=dict
    )
    _answers: dict[str, Answer] = field(default_factory=dict)  # read -> what it now answers
    declarations: dict[str, Declared] = field(default_factory=lambda: _declarations())

    def intercept(
        self, stage: str | None, name: str, params: Sequence[Any], now: datetime
    ) -> Answer | None:
        """Journal one statement; return the answer to give instead of sending it, or None when
        it is a read to send."""
        declared = self.declarations[name]
        answer = self._answers.get(name)
        if answer is None and declared.answer is None:
            self.entries.append(Entry(stage, name, tuple(params), True))
            return None
        self.entries.append(Entry(stage, name, tuple(params), False))
        bound = dict(zip((param for param, _ in _statement(name).params), params, strict=False))
        if answer is None:
            assert declared.answer is not None
            answer = _evaluate(declared.answer, bound, now)
        for read, test in declared.leave_out:
            columns, values = _split(test, bound)
            self._left_out.setdefault(read, {}).setdefault(columns, set()).add(values)
        for read, column, value, test in declared.sets:
            columns, values = _split(test, bound)
            changed = self._sets.setdefault(read, {}).setdefault((column, columns), {})
            changed[values] = _bind(value, bound, now)
        for read, row in declared.answers:
            self._answers[read] = _evaluate(row, bound, now)
        return answer

    def shown(
        self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> Sequence[Sequence[Any]]:
        """A read's rows as the server would show them after the changes recorded so far."""
        left_out, sets = self._left_out.get(name, {}), self._sets.get(name, {})
        if not left_out and not sets:
            return rows
        lowered = [column.lower() for column in columns]
        shown = []
        for row in rows:
            values = list(row)
            if any(_values(lowered, values, tested) in keys for tested, keys in left_out.items()):
                continue
            for (column, tested), changed in sets.items():
                key = _values(lowered, values, tested)
                if column.lower() in lowered and key in changed:
                    values[lowered.index(column.lower())] = changed[key]
            shown.append(tuple(values))
        return shown


def _split(test: Test, bound: Mapping[str, Any]) -> tuple[Columns, tuple[str, ...]]:
    """A test bound to a change's parameters: the columns it compares, and the values."""
    return (
        tuple(column for column, _ in test),
        tuple(_key(bound.get(parameter)) for _, parameter in test),
    )


def _values(lowered: Sequence[str], values: Sequence[Any], tested: Columns) -> tuple[str, ...]:
    """A row's values in the tested columns (by name or position); a column the read does not
    have matches nothing."""
    found = []
    for column in tested:
        position = column if isinstance(column, int) else None
        if isinstance(column, str) and column.lower() in lowered:
            position = lowered.index(column.lower())
        if position is None or position >= len(values):
            return ("\0missing",)
        found.append(_key(values[position]))
    return tuple(found)


def _statement(name: str) -> Statement:
    return load_catalog()[name]


def _bind(value: Value, bound: Mapping[str, Any], now: datetime) -> Any:
    kind, content = value
    if kind == "param":
        return bound.get(content)
    return now if kind == "now" else content


def _evaluate(
    row: tuple[tuple[str, Value], ...], bound: Mapping[str, Any], now: datetime
) -> Answer:
    if not row:
        return (), []
    return tuple(column for column, _ in row), [tuple(_bind(value, bound, now) for _, value in row)]


# The dry run under way in this context, if any: every executor consults it before sending.
DRY_RUN: contextvars.ContextVar[DryRun | None] = contextvars.ContextVar(
    "susdb_maint_dry_run", default=None
)


@contextlib.contextmanager
def recording() -> Iterator[DryRun]:
    """Inside, no executor sends a statement that writes: each is recorded in the yielded
    DryRun's ``entries`` and answered as its file declares."""
    dry = DryRun()
    token = DRY_RUN.set(dry)
    try:
        yield dry
    finally:
        DRY_RUN.reset(token)
