"""A statement the watchdog cancelled reads as interrupted, whichever way the driver answers the
cancel: FreeTDS raises HY008; Microsoft's ODBC Driver 18 returns an empty success, or, when the
cancel lands as the reply arrives, HY010 from SQLRowCount (both seen against the served
simulator: tests/integration/test_real_driver.py). Never a failure of the item, never a result."""

from __future__ import annotations

import threading
from typing import Any

import pyodbc
import pytest

from jobs.db import executor as executor_module
from jobs.db.connection import Endpoint
from jobs.db.executor import Executor
from jobs.errors import ConnectionLost, Interrupted
from jobs.settings.model import SqlServerTarget

ANSWERS = {
    "freetds": pyodbc.Error("HY008", "[HY008] [FreeTDS][SQL Server]Operation canceled (0)"),
    "driver18 empty success": None,
    "driver18 late cancel": pyodbc.Error(
        "HY010", "[HY010] [unixODBC][Driver Manager]Function sequence error (0) (SQLRowCount)"
    ),
}


class Cursor:
    """Every statement returns at once, except the one under test: it waits for its cancel."""

    def __init__(self, answer: Exception | None) -> None:
        self.answer = answer
        self.cancelled = threading.Event()
        self.description = None
        self.messages: list[Any] = []
        self.rowcount = -1

    def execute(self, text: str, params: Any) -> None:
        if "-- name: delete_update" in text:
            assert self.cancelled.wait(5), "the watchdog never cancelled the statement"
            if self.answer is not None:
                raise self.answer

    def cancel(self) -> None:
        self.cancelled.set()

    def nextset(self) -> bool:
        return False

    def close(self) -> None:
        pass


class Connection:
    def __init__(self, answer: Exception | None) -> None:
        self.answer = answer
        self.timeout = 0

    def cursor(self) -> Cursor:
        return Cursor(self.answer)

    def close(self) -> None:
        pass


def executor_answering(monkeypatch: pytest.MonkeyPatch, answer: Exception | None) -> Executor:
    monkeypatch.setattr(executor_module, "open_connection", lambda *a, **k: Connection(answer))
    executor = Executor(Endpoint("fake", SqlServerTarget(kind="sqlserver", server="fake")))
    executor.window = lambda: 0.05  # seconds left in the run's window
    return executor


@pytest.mark.parametrize("answer", ANSWERS.values(), ids=ANSWERS.keys())
def test_a_cancelled_statement_is_interrupted_whatever_the_driver_answers(monkeypatch, answer):
    executor = executor_answering(monkeypatch, answer)
    with pytest.raises(Interrupted, match="the time budget ran out"):
        executor.run("delete_update", [1])
    executor.close()


def test_a_link_lost_while_cancelling_stays_a_lost_link(monkeypatch):
    lost = pyodbc.Error("08S01", "[08S01] [FreeTDS][SQL Server]Communication link failure (0)")
    executor = executor_answering(monkeypatch, lost)
    executor.retry_limits = executor_module.RetryLimits(max_attempts=1)
    with pytest.raises(ConnectionLost):
        executor.run("delete_update", [1])
    executor.close()
