"""The one executor: runs named statements from ``sql/`` and nothing else.

It binds parameters with ``?`` markers, sets the statement timeout, cancels a running statement
from a watchdog when a time budget runs out, drains every result set (so an error raised by a
later statement surfaces), turns PRINT / RAISERROR WITH NOWAIT messages into ``sql.message``
events, and translates driver errors through the classifier.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from jobs import events
from jobs.clock import SystemClock
from jobs.db.catalog import Statement, count_markers, statement
from jobs.db.classify import classify
from jobs.db.connection import Endpoint, open_connection

log = events.get_logger("susdb_maint.sql")


@dataclass
class Result:
    rows: list[dict[str, Any]] = field(default_factory=list)
    rowcount: int = -1
    messages: list[str] = field(default_factory=list)


def _message_text(message: Any) -> str:
    text = message[1] if isinstance(message, tuple | list) and len(message) > 1 else str(message)
    while text.startswith("["):
        closing = text.find("]")
        if closing < 0:
            break
        text = text[closing + 1 :]
    return text.strip()


class Executor:
    """Runs named statements over one connection to one target; reconnects on request."""

    def __init__(
        self, endpoint: Endpoint, *, clock: Any = None, default_timeout: int | None = None
    ) -> None:
        self.endpoint = endpoint
        self.clock = clock or SystemClock()
        self.default_timeout = default_timeout
        # When the run's window closes (real time), a statement still running is cancelled.
        self.deadline_monotonic: float | None = None
        self.connection = open_connection(
            endpoint, clock=self._clock_for_connection(), query_timeout=default_timeout
        )

    def _clock_for_connection(self) -> Any:
        # The simulated SUSDB and the runner must agree on time: share a virtual clock.
        return self.clock if getattr(self.clock, "virtual", False) else None

    def reconnect(self) -> None:
        # A lost connection may not close cleanly; it is being replaced anyway.
        with contextlib.suppress(Exception):
            self.connection.close()
        self.connection = open_connection(
            self.endpoint, clock=self._clock_for_connection(), query_timeout=self.default_timeout
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.close()

    # -- running -------------------------------------------------------------------------------
    def run(
        self,
        name: str,
        params: Sequence[Any] = (),
        *,
        timeout: int | None = None,
        budget_seconds: float | None = None,
    ) -> Result:
        """Run a named statement to completion; return all rows of all its result sets."""
        result = Result()
        for rows in self._execute(name, params, timeout, budget_seconds, result, fetch_size=None):
            result.rows.extend(rows)
        return result

    def stream(
        self,
        name: str,
        params: Sequence[Any] = (),
        *,
        timeout: int | None = None,
        fetch_size: int = 2000,
    ) -> Iterator[dict[str, Any]]:
        """Yield the rows of a named statement in chunks of ``fetch_size`` (bounded memory)."""
        result = Result()
        for rows in self._execute(name, params, timeout, None, result, fetch_size=fetch_size):
            yield from rows

    def _execute(
        self,
        name: str,
        params: Sequence[Any],
        timeout: int | None,
        budget_seconds: float | None,
        result: Result,
        fetch_size: int | None,
    ) -> Iterator[list[dict[str, Any]]]:
        spec: Statement = statement(name)
        remaining = list(params)
        for batch in spec.batches:
            marker_count = count_markers(batch.text)
            batch_params, remaining = remaining[:marker_count], remaining[marker_count:]
            text = (
                batch.text
                if batch.text.lstrip().startswith("-- name:")
                else f"-- name: {name}\n{batch.text}"
            )
            for _ in range(batch.repeat):
                yield from self._send(
                    name, text, batch_params, timeout, budget_seconds, result, fetch_size
                )

    def _send(
        self,
        name: str,
        text: str,
        params: list[Any],
        timeout: int | None,
        budget_seconds: float | None,
        result: Result,
        fetch_size: int | None,
    ) -> Iterator[list[dict[str, Any]]]:
        connection = self.connection
        connection.timeout = self.default_timeout if timeout is None else timeout
        cursor = connection.cursor()
        watchdog = None
        if self.deadline_monotonic is not None:
            left = self.deadline_monotonic - time.monotonic()
            budget_seconds = left if budget_seconds is None else min(budget_seconds, left)
        if budget_seconds is not None and not getattr(self.clock, "virtual", False):
            watchdog = threading.Timer(max(0.0, budget_seconds), cursor.cancel)
            watchdog.daemon = True
            watchdog.start()
        try:
            cursor.execute(text, params)
            while True:
                for message in cursor.messages or ():
                    line = _message_text(message)
                    result.messages.append(line)
                    log.info("sql.message", statement=name, message=line)
                if cursor.description:
                    columns = [column[0] for column in cursor.description]
                    while True:
                        chunk = cursor.fetchmany(fetch_size) if fetch_size else cursor.fetchall()
                        if not chunk:
                            break
                        yield [dict(zip(columns, row, strict=False)) for row in chunk]
                        if not fetch_size:
                            break
                else:
                    result.rowcount = cursor.rowcount
                if not cursor.nextset():
                    break
        except Exception as error:
            raise classify(error, name) from None
        finally:
            if watchdog is not None:
                watchdog.cancel()
            with contextlib.suppress(Exception):
                cursor.close()
