"""The one executor: runs named statements from ``sql/`` and nothing else.

It binds parameters with ``?`` markers, sets the statement timeout (never past the run's window),
cancels a running statement from a watchdog when the window closes or a stop is asked for, drains
every result set (so an error raised by a later statement surfaces), turns PRINT / RAISERROR WITH
NOWAIT messages into ``sql.message`` events, and translates driver errors through the classifier.

Three promises hold for every statement:

* **No transaction is left open.** WSUS procedures open their own transactions
  (``spDeleteUpdate``'s published body begins with ``BEGIN TRANSACTION``); when SQL Server
  cancels one (a query timeout's attention, the window's watchdog) or a statement fails inside
  one, that transaction stays open, later calls nest inside it, and closing the connection rolls
  them all back while our state store says "done". After any error the executor asks the session
  for ``@@TRANCOUNT`` and rolls back before anything else is sent; if it cannot, it drops the
  connection, which ends the session on the server.
* **Transient errors are retried everywhere** (deadlock victim, lock timeout, a lost link after a
  reconnect), except for statements whose header says ``effect: once``: those are queue items,
  which the queue engine verifies on the server before it ever sends them again.
* **Nothing that writes is sent in a dry run.** Under ``plan --show-sql``
  (``jobs.db.dryrun.recording()``), a statement whose file says ``writes: yes`` is recorded and
  answered as the file declares, and the reads after it show what it would have changed.

Each session runs with ``DEADLOCK_PRIORITY LOW`` (WSUS's own work wins a deadlock,
``sql/session_settings.sql``). The tool's own statements run with a 30-second lock timeout
(``TOOL_LOCK_TIMEOUT_MS``), so index DDL waiting for a lock gives up instead of queueing every
WSUS request behind it. WSUS's procedures run with SQL Server's default, -1, which they were
written for: error 1222 cancels only the statement that waited, and a procedure that does not
test for it (spDeleteUpdate's "still referenced" checks) goes on and commits without the check;
their statement timeout bounds the wait instead. Every batch sets its own lock timeout first: a
SET in a parameterized batch (sp_prepexec, sp_executesql) ends with the batch, so no session
value can be relied on. ``XACT_ABORT`` is left as WSUS itself leaves it (OFF), for the same
reason.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from jobs import events
from jobs.clock import Clock, SystemClock
from jobs.db.catalog import Statement, statement
from jobs.db.classify import classify
from jobs.db.connection import Connection, Endpoint, open_connection
from jobs.db.dryrun import DRY_RUN, Answer
from jobs.db.retry import RetryPolicy
from jobs.db.tsql import count_markers
from jobs.db.watchdog import Watch, Watchdog
from jobs.errors import ConnectionLost, DatabaseError, Interrupted, StatementTimeout

log = events.get_logger("susdb_maint.sql")
T = TypeVar("T")
# While set, every statement any executor sends is appended as (stage, name, parameters):
# how ``plan --show-sql --offline`` renders what a run sends, and how tests see what went out.
# Under a dry run (``jobs.db.dryrun.DRY_RUN``, ``plan --show-sql``) a statement that writes is
# not sent: it is recorded there and answered as its sql/ file declares.
RECORDING: contextvars.ContextVar[list[tuple[str | None, str, list[Any]]] | None] = (
    contextvars.ContextVar("susdb_maint_recording", default=None)
)
NO_LIMIT = 0  # an ODBC query timeout of 0 waits for ever
TOOL_LOCK_TIMEOUT_MS = 30_000  # the tool's own statements: give up a lock wait after 30 s
WSUS_LOCK_TIMEOUT_MS = -1  # WSUS's procedures: SQL Server's default, what they were written for


class Row(dict[str, Any]):
    """A result row by column name, and by position with ``at(i)``: for procedure results whose
    column names are not published (spGetUpdatesToCompress)."""

    __slots__ = ("positional",)

    def __init__(self, columns: Sequence[str], values: Sequence[Any]) -> None:
        super().__init__(zip(columns, values, strict=False))
        self.positional = tuple(values)

    def at(self, index: int) -> Any:
        return self.positional[index]


@dataclass
class Result:
    rows: list[Row] = field(default_factory=list)
    rowcount: int = -1
    messages: list[str] = field(default_factory=list)
    sets: list[list[Row]] = field(default_factory=list)  # rows per result set

    def column(self, position: int = 0) -> list[Any]:
        """The values of one column by position, for procedures whose column names are not
        published."""
        return [row.at(position) for row in self.rows]


@dataclass(frozen=True)
class RetryLimits:
    max_attempts: int = 5
    max_seconds: float = 600.0


def _message_text(message: Any) -> str:
    text = message[1] if isinstance(message, tuple | list) and len(message) > 1 else str(message)
    while text.startswith("["):
        closing = text.find("]")
        if closing < 0:
            break
        text = text[closing + 1 :]
    return text.strip()


class Executor:
    """Runs named statements over one connection to one target; reconnects when needed."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        clock: Clock | None = None,
        default_timeout: int | None = None,
        retry_limits: RetryLimits | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.clock: Clock = clock or SystemClock()
        self.default_timeout = default_timeout
        self.retry_limits = retry_limits or RetryLimits()
        # Seconds left in the run's window (None: no window): no statement may run past it.
        self.window: Callable[[], float | None] | None = None
        # A stop request (SIGTERM) cancels statements that allow it: candidate queries.
        self.stop: threading.Event | None = None
        self.connection: Connection
        self.in_transaction = False  # a transaction of ours spans statements: never retry them
        self.watchdog = Watchdog()
        # Run on every new session before anything else is sent on it (the target lock takes
        # itself again there: a session that does not hold it does no work).
        self.on_connect: Callable[[], None] | None = None
        self._connecting = False
        self._session_ready = False
        # A lost link that every retry's reconnect failed to mend: until a connect succeeds,
        # statements get one attempt each, not a retry's logins each (a run that lost its server
        # ends in seconds, not a login timeout times its attempts per statement after it).
        self._unreachable = False
        # The first connection is retried like any statement: a link lost on the session's first
        # statements (its settings, the lock) must not end the night (network-review D9). Each
        # attempt opens a new connection itself, so the retry's own reconnect is not needed.
        RetryPolicy(
            self.retry_limits.max_attempts,
            self.retry_limits.max_seconds,
            self.clock.sleep,
            lambda: None,
        )(self.connect)

    @property
    def virtual_time(self) -> bool:
        return self.clock.virtual

    def connect(self) -> None:
        # Until the new session is ready (settings, the lock taken again), no statement of work
        # may run on it: a reconnect that failed half-way must not leave an unlocked session.
        self._session_ready = False
        if hasattr(self, "connection"):
            self.drop_connection()  # a connection a failed attempt left behind
        # The simulated SUSDB and the runner must agree on time: share a virtual clock.
        self.connection = open_connection(
            self.endpoint,
            clock=self.clock if self.virtual_time else None,
            query_timeout=self.default_timeout,
        )
        self._run_unguarded("session_settings")
        if self.on_connect is not None:
            # Its statements run once each: a failure fails this connect, which the retry that
            # asked for the reconnect counts, instead of a retry (and reconnect) nested inside it.
            self._connecting = True
            try:
                self.on_connect()
            finally:
                self._connecting = False
        self._session_ready = True
        self._unreachable = False

    def reconnect(self) -> None:
        self.drop_connection()
        self.connect()

    def drop_connection(self) -> None:
        """Close the connection (the server ends the session and rolls back what it left open)."""
        with contextlib.suppress(Exception):
            self.connection.close()

    def close(self) -> None:
        self.watchdog.close()  # first: it waits for a cancel under way, which then never meets a
        self.drop_connection()  # closed connection

    @contextlib.contextmanager
    def unbounded(self) -> Iterator[None]:
        """Statements inside run even after the window closed (reporting, the lock's own
        questions: not work), but never past its end by more than the watchdog's grace: a link
        gone silent then cannot keep the run alive for a query timeout (600 s by default) or a
        retry's reconnects (network-review D2). A statement cut there is cancelled, and one whose
        cancel goes unanswered is the watchdog's (the run ends a grace later)."""
        saved = self.window
        if saved is None:
            yield
            return
        grace = self.watchdog.grace_seconds

        def with_grace() -> float | None:
            left = saved()
            return None if left is None else left + grace

        self.window = with_grace
        try:
            yield
        finally:
            self.window = saved

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction over several statements. None of them is retried (a reconnect would
        leave the transaction behind); the body ends it with ``commit()`` or ``rollback()``, and
        anything else (an error, a body that forgot) rolls it back."""
        self.run("begin_transaction")
        self.in_transaction = True
        try:
            yield
        finally:
            if self.in_transaction:
                self.in_transaction = False
                with contextlib.suppress(DatabaseError):
                    self._run_unguarded("rollback_open_transaction")

    def run_transaction(self, unit: Callable[[], T]) -> T:
        """Run ``unit`` inside one transaction (it ends it with ``commit()`` or ``rollback()``).
        A transient error means the server rolled the transaction back (a deadlock victim) or the
        session is gone: the whole unit runs again from its start, never a statement alone."""

        def attempt() -> T:
            with self.transaction():
                return unit()

        result: T = self.retry_policy()(attempt)
        return result

    def commit(self) -> None:
        self.run("commit_transaction")
        self.in_transaction = False

    def rollback(self) -> None:
        self._run_unguarded("rollback_open_transaction")
        self.in_transaction = False

    # -- running -------------------------------------------------------------------------------
    def run(
        self,
        name: str,
        params: Sequence[Any] = (),
        *,
        timeout: int | None = None,
        budget_seconds: float | None = None,
        once: bool = False,
    ) -> Result:
        """Run a named statement to completion; return all rows of all its result sets.
        ``once``: one attempt, whatever fails (no retry, no reconnect for it)."""

        def attempt() -> Result:
            result = Result()
            for rows in self._execute(name, params, timeout, budget_seconds, result, None, False):
                result.rows.extend(rows)
            return result

        if once or statement(name).sent_once or self.in_transaction or self._connecting:
            return attempt()
        try:
            result: Result = self.retry_policy()(attempt)
        except DatabaseError as error:
            self._unreachable = self._unreachable or error.reconnect
            raise
        return result

    def stream(
        self,
        name: str,
        params: Sequence[Any] = (),
        *,
        timeout: int | None = None,
        fetch_size: int = 2000,
    ) -> Iterator[Row]:
        """Yield the rows of a named statement in chunks of ``fetch_size`` (bounded memory).
        A stop request cancels it; a transient error before the first row is retried."""
        first: list[Row] | None = None
        for attempt in self.retry_policy().tenacity():
            with attempt:
                chunks = self._execute(name, params, timeout, None, Result(), fetch_size, True)
                first = next(chunks, None)
        if first is None:
            return
        yield from first
        for rows in chunks:
            yield from rows

    def retry_policy(self) -> RetryPolicy:
        """The run's retry limits, reconnecting this executor after a lost link: for statements
        here and for queue items (which the queue engine verifies before it resends). Never
        retried past the window: no pause or reconnect starts that would end after it."""
        max_seconds = self.retry_limits.max_seconds
        left = self.window() if self.window is not None else None
        if left is not None:
            max_seconds = max(0.0, min(max_seconds, left))
        return RetryPolicy(
            1 if self._unreachable else self.retry_limits.max_attempts,
            max_seconds,
            self.clock.sleep,
            self.reconnect,
        )

    def _run_unguarded(self, name: str) -> Result:
        """Run a housekeeping statement of the session itself: no window, no retry."""
        result = Result()
        for rows in self._send(name, statement(name).text, [], 30, None, result, None, False):
            result.rows.extend(rows)
        return result

    def _execute(
        self,
        name: str,
        params: Sequence[Any],
        timeout: int | None,
        budget_seconds: float | None,
        result: Result,
        fetch_size: int | None,
        cancel_on_stop: bool,
    ) -> Iterator[list[Row]]:
        if not self._session_ready and not self._connecting:
            raise ConnectionLost(
                "the session was reconnected but not made ready (the target lock not taken "
                "again); reconnecting before any work",
                statement=name,
            )
        spec: Statement = statement(name)
        statement_timeout = self.default_timeout if timeout is None else timeout
        window_left = self.window() if self.window is not None else None
        if window_left is not None:
            if window_left <= 0:
                raise Interrupted("the run's window has closed", statement=name)
            budget_seconds = (
                window_left if budget_seconds is None else min(budget_seconds, window_left)
            )
        remaining = list(params)
        lock_timeout = WSUS_LOCK_TIMEOUT_MS if spec.calls_wsus_procedure else TOOL_LOCK_TIMEOUT_MS
        for batch in spec.batches:
            marker_count = count_markers(batch.text)
            batch_params, remaining = remaining[:marker_count], remaining[marker_count:]
            text = f"-- name: {name}\nSET LOCK_TIMEOUT {lock_timeout};\n{batch.text}"
            for _ in range(batch.repeat):
                yield from self._send(
                    name,
                    text,
                    batch_params,
                    statement_timeout or NO_LIMIT,
                    budget_seconds,
                    result,
                    fetch_size,
                    cancel_on_stop,
                )

    def _send(
        self,
        name: str,
        text: str,
        params: list[Any],
        statement_timeout: int,
        budget_seconds: float | None,
        result: Result,
        fetch_size: int | None,
        cancel_on_stop: bool,
    ) -> Iterator[list[Row]]:
        dry_run = DRY_RUN.get()
        if dry_run is not None:
            answer = dry_run.intercept(_stage(), name, params, self.clock.now())
            if answer is not None:  # it writes: recorded, never sent
                yield from _answered(answer, result, fetch_size)
                return
        recording = RECORDING.get()
        if recording is not None:
            recording.append((_stage(), name, list(params)))
        connection = self.connection
        # The query timeout never runs past the budget: on virtual time (the simulated SUSDB) this
        # is how a window closes mid-statement; on real time the watchdog below does it too.
        timeout = statement_timeout
        if budget_seconds is not None:
            capped = max(1, int(budget_seconds + 0.999))
            timeout = capped if timeout == NO_LIMIT else min(timeout, capped)
        cut_by_budget = timeout != statement_timeout
        connection.timeout = timeout
        cursor = connection.cursor()
        watch = self._watch(cursor, budget_seconds, cancel_on_stop)
        fired = watch.fired if watch is not None else []
        try:
            cursor.execute(text, params)
            while True:
                for message in cursor.messages or ():
                    line = _message_text(message)
                    result.messages.append(line)
                    log.info("sql.message", statement=name, message=line)
                if cursor.description:
                    columns = [column[0] for column in cursor.description]
                    current: list[Row] = []
                    if fetch_size is None:  # streams keep no rows: bounded memory
                        result.sets.append(current)
                    while True:
                        chunk = cursor.fetchmany(fetch_size) if fetch_size else cursor.fetchall()
                        if not chunk:
                            break
                        if dry_run is not None:  # as the server would show it after the changes
                            chunk = dry_run.shown(name, columns, chunk)
                        rows = [Row(columns, row) for row in chunk]
                        if fetch_size is None:
                            current.extend(rows)
                        yield rows
                        if not fetch_size:
                            break
                else:
                    result.rowcount = cursor.rowcount
                if not cursor.nextset():
                    break
        except Exception as error:
            classified = classify(error, name)
            # The statement's cursor is closed before anything else is sent on the session:
            # Driver 18 refuses a new statement while a cancelled one's cursor is open
            # ("Connection is busy"), and the rollback below would fail and drop the session.
            self._end(watch, cursor)
            self._after_error(name, classified)
            # After the watchdog fired, the error is the cancel's, whatever the driver calls it:
            # FreeTDS raises HY008; Driver 18 sometimes answers HY010 ("Function sequence error"
            # from SQLRowCount on the cancelled statement). A lost link stays a lost link.
            cancelled = bool(fired) and not isinstance(classified, ConnectionLost)
            if cancelled or (isinstance(classified, StatementTimeout) and cut_by_budget):
                why = "a stop was asked for" if "stop" in fired else "the time budget ran out"
                raise Interrupted(
                    f"{name} was cancelled: {why}",
                    sqlstate=classified.sqlstate,
                    native=classified.native,
                    statement=name,
                ) from None
            raise classified from None
        else:
            if fired:
                # The watchdog cancelled it and the driver reported no error: Microsoft's ODBC
                # Driver 18 returns an empty success for a statement cancelled from another
                # thread (seen against the served simulator; FreeTDS raises HY008). Whatever the
                # driver says, a cancelled statement did not finish: its results are not read as
                # an answer, and what it left open is rolled back.
                why = "a stop was asked for" if "stop" in fired else "the time budget ran out"
                interrupted = Interrupted(f"{name} was cancelled: {why}", statement=name)
                self._end(watch, cursor)
                self._after_error(name, interrupted)
                raise interrupted
        finally:
            self._end(watch, cursor)

    def _end(self, watch: Watch | None, cursor: Any) -> None:
        """The statement is over: stop watching it (waiting for a cancel under way, so none races
        the close), then close its cursor. Safe to call more than once."""
        if watch is not None:
            self.watchdog.finish(watch)
        with contextlib.suppress(Exception):
            cursor.close()

    def _watch(
        self, cursor: Any, budget_seconds: float | None, cancel_on_stop: bool
    ) -> Watch | None:
        """Have the watchdog cancel the statement when its real-time budget runs out or a stop is
        asked for (on virtual time the query timeout alone closes the window)."""
        stop = self.stop if cancel_on_stop else None
        timed = budget_seconds is not None and not self.virtual_time
        if stop is None and not timed:
            return None
        return self.watchdog.watch(cursor, budget_seconds if timed else None, stop)

    def _after_error(self, name: str, error: DatabaseError) -> None:
        """Leave no transaction open: a lost link ended the session; otherwise ask the session."""
        if isinstance(error, ConnectionLost) or name in HOUSEKEEPING:
            return
        try:
            result = self._run_unguarded("rollback_open_transaction")
        except DatabaseError as rollback_error:
            # The session cannot be trusted: end it, and the server rolls back what it holds.
            log.warning("transaction.rollback_fail", statement=name, error=str(rollback_error))
            self.drop_connection()
            with contextlib.suppress(DatabaseError):
                self.connect()
            return
        open_transactions = int(result.rows[0]["OpenTransactions"]) if result.rows else 0
        if open_transactions:
            log.warning(
                "transaction.rolled_back",
                statement=name,
                open_transactions=open_transactions,
                error_kind=error.kind,
            )


HOUSEKEEPING = frozenset({"session_settings", "rollback_open_transaction"})


def _stage() -> str | None:
    """The stage the statement is sent for (bound on the run's events), if any."""
    stage: str | None = structlog.contextvars.get_contextvars().get("stage")
    return stage


def _answered(answer: Answer, result: Result, fetch_size: int | None) -> Iterator[list[Row]]:
    """A dry run's declared answer, as the rows a sent statement would have yielded."""
    columns, values = answer
    if not columns:
        result.rowcount = 0
        return
    rows = [Row(columns, row) for row in values]
    if fetch_size is None:
        result.sets.append(rows)
    yield rows
