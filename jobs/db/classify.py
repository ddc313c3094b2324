"""One table-driven classifier from driver errors to the project's error classes.

pyodbc puts the SQLSTATE in ``args[0]`` or, for some errors, ``args[1]`` (pyodbc issue #1206), and
the native error number only inside the message: ``[40001] [...]text (1205) (SQLExecDirectW)``.
Rules are checked in order; the first match wins; anything else is fatal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jobs import errors
from jobs.redaction import redact_text

_SQLSTATE = re.compile(r"^[0-9A-Z]{5}$")
_NATIVE = re.compile(r"\((-?\d+)\)\s*\((?:SQL\w+)\)\s*$|\((-?\d+)\)\s*$")
_NATIVE_ANYWHERE = re.compile(r"\((\d{3,6})\)")


@dataclass(frozen=True)
class Rule:
    error_class: type[errors.DatabaseError]
    sqlstates: frozenset[str] = frozenset()
    natives: frozenset[int] = frozenset()
    text: re.Pattern[str] | None = None


def _rule(
    cls: type[errors.DatabaseError],
    sqlstates: str = "",
    natives: tuple[int, ...] = (),
    text: str | None = None,
) -> Rule:
    return Rule(
        cls,
        frozenset(sqlstates.split()),
        frozenset(natives),
        re.compile(text, re.I) if text else None,
    )


RULES: tuple[Rule, ...] = (
    # Messages first: both travel as SQLSTATE 42000 / native 50000 (RAISERROR from a procedure).
    _rule(errors.ReplicaRefused, text=r"server is in replica mode"),
    _rule(errors.StillReferenced, text=r"still referenced by other update"),
    _rule(errors.TransientError, sqlstates="40001", natives=(1205, 1222)),
    _rule(
        errors.ConnectionLost,
        sqlstates="08S01 08001 08003 08004 08007 01002",
        natives=(10053, 10054, 10060, 233, 232, 64, 121, 109),
    ),
    # FreeTDS numbers its own network errors (src/tds/util.c: 20002 connection failed, 20003
    # timed out, 20004 read failed, 20006 write failed, 20009 unable to connect, 20017 unexpected
    # EOF, 20020 out of sync); a server that drops the socket mid-result is 01000 / 20017.
    _rule(errors.ConnectionLost, natives=(20002, 20003, 20004, 20006, 20009, 20017, 20020)),
    _rule(errors.StatementTimeout, sqlstates="HYT00 HYT01 HY008"),
    _rule(errors.LoginFailed, sqlstates="28000", natives=(18456, 18452, 4060, 18486, 18487, 18488)),
    _rule(errors.NotPermitted, natives=(229, 230, 262, 297, 300, 1088, 15247, 916)),
)


def sqlstate_of(error: BaseException) -> str | None:
    for argument in error.args[:2]:
        if isinstance(argument, str) and _SQLSTATE.match(argument):
            return argument
    match = re.search(r"\[([0-9A-Z]{5})\]", " ".join(str(argument) for argument in error.args))
    return match.group(1) if match else None


def native_of(error: BaseException) -> int | None:
    texts = [str(argument) for argument in error.args]
    for text in texts:
        match = _NATIVE.search(text)
        if match:
            return int(match.group(1) or match.group(2))
    anywhere = _NATIVE_ANYWHERE.findall(" ".join(texts))
    return int(anywhere[-1]) if anywhere else None


def message_of(error: BaseException) -> str:
    texts = [
        str(argument)
        for argument in error.args
        if not (isinstance(argument, str) and _SQLSTATE.match(argument))
    ]
    text = " ".join(texts) or type(error).__name__
    # "[42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]text (229) (SQLExecDirectW)"
    text = re.sub(r"^\[[0-9A-Z]{5}\]\s*", "", text)
    text = re.sub(r"^(\[[^\]]*\])+", "", text)
    text = re.sub(r"\s*\((?:SQL\w+)\)\s*$", "", text)
    return redact_text(text.strip())


def classify(error: BaseException, statement: str | None = None) -> errors.DatabaseError:
    """Given a driver exception, return the project's error for it (never raises)."""
    if isinstance(error, errors.DatabaseError):
        return error
    sqlstate = sqlstate_of(error)
    native = native_of(error)
    message = message_of(error)
    for rule in RULES:
        if rule.text is not None and rule.text.search(message):
            return rule.error_class(message, sqlstate=sqlstate, native=native, statement=statement)
        if rule.text is None and (
            (sqlstate is not None and sqlstate in rule.sqlstates)
            or (native is not None and native in rule.natives)
        ):
            return rule.error_class(message, sqlstate=sqlstate, native=native, statement=statement)
    return errors.DatabaseError(message, sqlstate=sqlstate, native=native, statement=statement)
