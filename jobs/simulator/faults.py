"""Errors shaped like pyodbc's, and the fault plan that injects them.

pyodbc puts the SQLSTATE in ``args[0]`` and the message in ``args[1]``, formatted
``[SQLSTATE] [driver][SQL Server]text (native) (function)``, and picks the exception class from the
SQLSTATE (40001 is a plain ``Error``; HYT00 and 08S01 ``OperationalError``; 28000
``InterfaceError``; 42000 ``ProgrammingError``). When pyodbc cannot be imported (no unixODBC),
look-alike classes with the same names and attributes stand in, so the project's real classifier
is what the tests exercise.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any


def _look_alike_module() -> ModuleType:
    module = ModuleType("pyodbc_look_alike")

    class Error(Exception):
        pass

    class DatabaseError(Error):
        pass

    class OperationalError(DatabaseError):
        pass

    class ProgrammingError(DatabaseError):
        pass

    class IntegrityError(DatabaseError):
        pass

    class DataError(DatabaseError):
        pass

    class InterfaceError(Error):
        pass

    for cls in (
        Error,
        DatabaseError,
        OperationalError,
        ProgrammingError,
        IntegrityError,
        DataError,
        InterfaceError,
    ):
        cls.__module__ = "pyodbc"
        setattr(module, cls.__name__, cls)
    return module


def driver_module() -> Any:
    try:
        import pyodbc

        return pyodbc
    except ImportError:
        return _look_alike_module()


_DRIVER = driver_module()
PREFIX = "[Microsoft][ODBC Driver 18 for SQL Server]"

# kind: (exception class name, SQLSTATE, native error, message, from the server?)
FAULTS: dict[str, tuple[str, str, int, str, bool]] = {
    "deadlock": (
        "Error",
        "40001",
        1205,
        "Transaction (Process ID 57) was deadlocked on lock resources with another process and "
        "has been chosen as the deadlock victim. Rerun the transaction.",
        True,
    ),
    "lock_timeout": ("Error", "HY000", 1222, "Lock request time out period exceeded.", True),
    "query_timeout": ("OperationalError", "HYT00", 0, "Query timeout expired", False),
    "link_failure": (
        "OperationalError",
        "08S01",
        10054,
        "TCP Provider: An existing connection was forcibly closed by the remote host.",
        False,
    ),
    "login_failed": (
        "InterfaceError",
        "28000",
        18456,
        "Login failed for user 'susdb_maint'.",
        True,
    ),
    "permission_denied": (
        "ProgrammingError",
        "42000",
        229,
        "The EXECUTE permission was denied on the object 'spDeleteUpdate', database "
        "'SUSDB', schema 'dbo'.",
        True,
    ),
    "replica": (
        "ProgrammingError",
        "42000",
        50000,
        "Cannot perform this action when the server is in replica mode",
        True,
    ),
    "still_referenced": (
        "ProgrammingError",
        "42000",
        50000,
        "spDeleteUpdate got error: cannot delete update as it is still referenced by "
        "other update(s)",
        True,
    ),
    "cancelled": ("OperationalError", "HY008", 0, "Operation canceled", False),
    "link_down": (
        "OperationalError",
        "08S01",
        0,
        "Communication link failure",
        False,
    ),
}


def make_error(kind: str, text: str | None = None, function: str = "SQLExecDirectW") -> Exception:
    """Return the pyodbc-shaped exception for a fault kind (``text`` overrides its message)."""
    class_name, sqlstate, native, message, from_server = FAULTS[kind]
    body = text or message
    source = f"{PREFIX}[SQL Server]" if from_server else PREFIX
    cls = getattr(_DRIVER, class_name)
    error: Exception = cls(sqlstate, f"[{sqlstate}] {source}{body} ({native}) ({function})")
    return error


def server_error(text: str, native: int = 50000, sqlstate: str = "42000") -> Exception:
    # pyodbc picks the class from the SQLSTATE: 42xxx ProgrammingError, 22xxx DataError.
    if sqlstate.startswith("42"):
        cls = _DRIVER.ProgrammingError
    elif sqlstate.startswith("22"):
        cls = _DRIVER.DataError
    else:
        cls = _DRIVER.Error
    error: Exception = cls(
        sqlstate, f"[{sqlstate}] {PREFIX}[SQL Server]{text} ({native}) (SQLExecDirectW)"
    )
    return error


# When a fault strikes relative to the statement's own work, as real networks and servers do:
# ``before``: the statement never ran (deadlock victim, lock timeout, a link that was already down);
# ``during``: the server was cancelled mid-statement (the client's query timeout sent an attention);
# ``after``: the statement ran and committed, then the reply was lost (a link failure after
# execution) or the client's timeout fired just as it finished.
FAULT_TIMING: dict[str, str] = {
    "deadlock": "before",
    "lock_timeout": "during",  # inside a procedure's own transaction, it stays open
    "link_failure": "before",
    "login_failed": "before",
    "permission_denied": "before",
    "replica": "before",
    "query_timeout": "during",
    "reply_lost": "after",
    "timeout_after_commit": "after",
}
# Kinds whose error the client sees, when it is not the kind's own name.
FAULT_ERROR = {"reply_lost": "link_failure", "timeout_after_commit": "query_timeout"}


class InjectedFault(Exception):
    """A fault drawn for one statement: its kind, when it strikes, and the error the client sees."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.timing = FAULT_TIMING[kind]
        self.error = make_error(FAULT_ERROR.get(kind, kind))
        super().__init__(kind)


# One fault stream per (file, plan) in a process: a reconnect continues the draw where the lost
# connection left it, as a flaky network does, instead of replaying the same faults from the seed.
_STREAMS: dict[tuple[Any, ...], random.Random] = {}
_STREAMS_LOCK = threading.Lock()


def forget_streams() -> None:
    """Start every fault stream from its seed again, as a new process would."""
    with _STREAMS_LOCK:
        _STREAMS.clear()


@dataclass
class FaultPlan:
    """Which statements fail, how often and how, reproducibly by seed."""

    rate: float = 0.0
    kinds: list[str] = field(default_factory=lambda: ["deadlock", "lock_timeout"])
    statements: list[str] = field(default_factory=list)
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        unknown = [kind for kind in self.kinds if kind not in FAULT_TIMING]
        if unknown:
            raise ValueError(f"unknown fault kinds: {unknown}")
        self._rng = random.Random(self.seed)

    def bind(self, scope: str) -> FaultPlan:
        """Share one fault stream with every connection of this process to ``scope`` (a file)."""
        key = (scope, self.rate, tuple(self.kinds), tuple(self.statements), self.seed)
        with _STREAMS_LOCK:
            self._rng = _STREAMS.setdefault(key, self._rng)
        return self

    def draw(self, statement_name: str | None) -> InjectedFault | None:
        if self.rate <= 0 or not self.kinds:
            return None
        if self.statements and statement_name not in self.statements:
            return None
        with self._lock:
            if self._rng.random() >= self.rate:
                return None
            return InjectedFault(self._rng.choice(self.kinds))
