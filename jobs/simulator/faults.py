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

    class InterfaceError(Error):
        pass

    for cls in (
        Error,
        DatabaseError,
        OperationalError,
        ProgrammingError,
        IntegrityError,
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
}


def make_error(kind: str, text: str | None = None, function: str = "SQLExecDirectW") -> Exception:
    """Return the pyodbc-shaped exception for a fault kind (``text`` overrides its message)."""
    class_name, sqlstate, native, message, from_server = FAULTS[kind]
    body = text or message
    source = f"{PREFIX}[SQL Server]" if from_server else PREFIX
    cls = getattr(_DRIVER, class_name)
    return cls(sqlstate, f"[{sqlstate}] {source}{body} ({native}) ({function})")


def server_error(text: str, native: int = 50000, sqlstate: str = "42000") -> Exception:
    cls = _DRIVER.ProgrammingError if sqlstate.startswith("42") else _DRIVER.Error
    return cls(sqlstate, f"[{sqlstate}] {PREFIX}[SQL Server]{text} ({native}) (SQLExecDirectW)")


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
        unknown = [kind for kind in self.kinds if kind not in FAULTS]
        if unknown:
            raise ValueError(f"unknown fault kinds: {unknown}")
        self._rng = random.Random(self.seed)

    def draw(self, statement_name: str | None) -> Exception | None:
        if self.rate <= 0 or not self.kinds:
            return None
        if self.statements and statement_name not in self.statements:
            return None
        with self._lock:
            if self._rng.random() >= self.rate:
                return None
            return make_error(self._rng.choice(self.kinds))
