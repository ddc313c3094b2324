"""A DB-API connection to a simulated SUSDB, with the surface the project uses on pyodbc.

``cursor``, ``execute(sql, params)``, ``fetchone`` / ``fetchmany`` / ``fetchall``, ``nextset``,
``messages``, ``rowcount``, ``description``, ``cancel``, ``close``; on the connection ``timeout``,
``autocommit``, ``commit``, ``rollback``, ``close``. Each ``execute`` is one batch and one
transaction (the procedures modelled are self-transactional on SQL Server too).

As with pyodbc, a cursor takes the connection's ``timeout`` when it is made and keeps it: pyodbc
sets ``SQL_ATTR_QUERY_TIMEOUT`` on the statement handle in ``Cursor_New`` from the connection's
value ("The timeout is applied to all cursors created by the connection, so it cannot be changed
for a specific cursor or SQL statement", pyodbc's Connection documentation). A cursor reused
after the connection's timeout changed runs with the old one.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import re
import sqlite3
import tempfile
import threading
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import filelock

from jobs.clock import SystemClock, VirtualClock
from jobs.db.catalog import statement_name
from jobs.db.tsql import number_markers, split_statements, strip_comments, tokens
from jobs.simulator import clients, schema, system, sysviews
from jobs.simulator.faults import _DRIVER, FaultPlan, make_error, server_error
from jobs.simulator.server import ResultSet, Server, ts
from jobs.simulator.translate import full_counts, to_sqlite, type_clash

_DECLARE = re.compile(r"^DECLARE\s+@(\w+)\s+[\w]+(?:\s*\([^)]*\))?\s*(?:=\s*(.+))?$", re.I | re.S)
_EXEC = re.compile(r"^EXEC(?:UTE)?\s+(?:@(\w+)\s*=\s*)?([\w.\[\]#]+)\s*(.*)$", re.I | re.S)
# A DECLARE's value the simulator reads itself: a variable, NULL, a string or a number.
_SIMPLE_VALUE = re.compile(
    r"@\w+|NULL|SYSTEM_USER|SUSER_SNAME\(\)|N?'(?:[^']|'')*'|[-+]?\d+(?:\.\d+)?", re.I | re.S
)
_ROWCOUNT = re.compile(r"^SELECT\s+@@ROWCOUNT\s+AS\s+\[?(\w+)\]?$", re.I)


def _sql_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value).upper()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return ts(value)
    return value


def _literal(text: str, bindings: dict[str, Any]) -> Any:
    text = text.strip()
    if text.startswith("@"):
        return bindings.get(text[1:])
    if text.upper() == "NULL":
        return None
    if text.upper() in ("SYSTEM_USER", "SUSER_SNAME()"):
        return "SIMULATOR\\susdb-maint"
    match = re.fullmatch(r"N?'((?:[^']|'')*)'", text, re.S)
    if match:
        return match.group(1).replace("''", "'")
    try:
        return int(text)
    except ValueError:
        return float(text)


class Cursor:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.timeout = connection.timeout  # fixed when the cursor is made, as in pyodbc
        self._results: list[ResultSet] = []
        self._index = 0
        self._position = 0
        self.rowcount = -1
        self.messages: list[tuple[str, str]] | None = None
        self.closed = False

    # -- DB-API --------------------------------------------------------------------------------
    @property
    def description(self) -> list[tuple[Any, ...]] | None:
        current = self._current()
        if current is None or not current.columns:
            return None
        return [(name, str, None, None, None, None, True) for name in current.columns]

    def execute(self, sql: str, params: Any = ()) -> Cursor:
        if self.closed or self.connection.closed:
            raise _DRIVER.ProgrammingError("HY010", "[HY010] Attempt to use a closed cursor.")
        if params is not None and not isinstance(params, list | tuple):
            params = (params,)
        results = self.connection._execute(sql, list(params or ()), self.timeout)
        self._results, self._index, self._position = results, 0, 0
        self._load_current()
        return self

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self.fetchmany(1)
        return rows[0] if rows else None

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        current = self._current_query()
        if current.source is not None:
            return list(current.source.fetchmany(size))
        chunk = current.rows[self._position : self._position + size]
        self._position += len(chunk)
        return chunk

    def fetchall(self) -> list[tuple[Any, ...]]:
        current = self._current_query()
        if current.source is not None:
            return list(current.source.fetchall())
        chunk = current.rows[self._position :]
        self._position = len(current.rows)
        return chunk

    def nextset(self) -> bool | None:
        if self._index + 1 >= len(self._results):
            self._results, self._index = [], 0
            self.messages = None
            return None
        self._index += 1
        self._position = 0
        self._load_current()
        return True

    def cancel(self) -> None:
        self.connection._cancelled.set()

    def close(self) -> None:
        self.closed = True

    # -- internals -----------------------------------------------------------------------------
    def _current(self) -> ResultSet | None:
        return self._results[self._index] if self._index < len(self._results) else None

    def _load_current(self) -> None:
        current = self._current()
        self.rowcount = current.rowcount if current else -1
        self.messages = (
            [
                ("[01000] (0)", f"[Microsoft][ODBC Driver 18 for SQL Server][SQL Server]{text}")
                for text in current.messages
            ]
            if current and current.messages
            else None
        )

    def _current_query(self) -> ResultSet:
        current = self._current()
        if current is None or not current.columns:
            raise _DRIVER.ProgrammingError("24000", "No results.  Previous SQL was not a query.")
        return current


class Connection:
    """One session on the simulated server: its transaction, its application locks, its link.

    Sessions behave as SQL Server's do (shared/reference/tsql-review.md finding 1, with sources):
    a batch runs in autocommit unless a transaction is open; ``BEGIN TRANSACTION`` opens one that
    outlives the batch; a procedure that opens its own transaction (``spDeleteUpdate``'s published
    body begins with ``BEGIN TRANSACTION``) and is cancelled mid-way (a query timeout's attention)
    leaves that transaction open with ``@@TRANCOUNT`` at 1, holding its locks, and every later
    statement nests inside it; a deadlock victim's transaction is rolled back whole; closing or
    losing the connection rolls back whatever is open and releases the session's application locks.
    """

    def __init__(
        self,
        path: Path,
        faults: FaultPlan | None,
        latency: float,
        clock: Any,
        cost_model: bool,
        database: str = "SUSDB",
    ) -> None:
        self.path = path
        self.faults = (faults or FaultPlan()).bind(str(path.resolve()))
        self.latency = latency
        self.timeout = 0  # given to each cursor when it is made
        self._statement_timeout = 0  # the running statement's cursor's
        self.autocommit = True
        self.closed = False
        self.broken = False  # the link failed: the session is gone on the server
        self.trancount = 0  # @@TRANCOUNT of this session
        self.session_options: dict[str, str] = {}  # SET options this session ran
        self.last_batch_options: dict[str, str] = {}  # those the last batch ended with
        # Real seconds a named statement runs (cancellable), on top of ``latency``: how a test
        # makes one statement slow enough for a watchdog or a query timeout to cancel it.
        self.delays: dict[str, float] = {}
        self._cancelled = threading.Event()
        self._applocks: dict[str, filelock.FileLock] = {}
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("PRAGMA foreign_keys = OFF")
        if schema.file_format(self.db) != schema.FORMAT:
            self.db.close()
            raise make_error(
                "link_failure",
                f"simulated SUSDB made by another susdb-maint version: {path}",
                function="SQLDriverConnect",
            )
        self.clock = clock or VirtualClock(clock_start(self.db))
        self.server = Server(self.db, self.clock, cost_model, database)
        self.db.create_function("GETUTCDATE", 0, lambda: ts(self.clock.now()))
        self.db.create_function("SYSUTCDATETIME", 0, lambda: ts(self.clock.now()))
        self.db.create_function("GETDATE", 0, lambda: ts(self.clock.now()))
        self.db.create_function("DATEADD", 3, _dateadd, deterministic=True)
        ensure_identity(self.db)
        sysviews.register_functions(self.db, self.server)

    def use(self, database: str) -> None:
        """Put the session in ``database``: the modelled one or ``master`` (``USE``)."""
        self.server.current_database = database

    def cursor(self) -> Cursor:
        if self.closed:
            raise _DRIVER.ProgrammingError("HY010", "[HY010] Attempt to use a closed connection.")
        return Cursor(self)

    def commit(self) -> None:
        """Each batch commits on its own (autocommit), as the project runs pyodbc."""

    def rollback(self) -> None:
        """Nothing is left open between batches by the driver itself."""

    def close(self) -> None:
        if not self.closed:
            self._end_session()
            self.db.close()
        self.closed = True

    def _end_session(self) -> None:
        """The server ends the session: roll back what is open, release its application locks."""
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")
        self.trancount = 0
        for lock in self._applocks.values():
            lock.release(force=True)
        self._applocks.clear()

    def drop(self) -> None:
        """The link fails (a reset, a dead network): the server ends the session at once."""
        if not self.broken and not self.closed:
            self._end_session()
        self.broken = True

    # -- execution -----------------------------------------------------------------------------
    def _execute(self, sql: str, params: list[Any], timeout: int = 0) -> list[ResultSet]:
        """One batch. A parameterized one reaches SQL Server as sp_prepexec or sp_executesql (how
        pyodbc's drivers send parameters): dynamic SQL, whose SET options last only as long as
        it does ("if a SET statement is specified in a dynamic SQL string that is run by using
        either sp_executesql or EXECUTE, the value of the SET option is restored after control is
        returned from the batch", Microsoft, "SET Statements (Transact-SQL)")."""
        if not params:
            try:
                return self._run_batch(sql, params, timeout)
            finally:
                self.last_batch_options = dict(self.session_options)
        saved = dict(self.session_options)
        try:
            return self._run_batch(sql, params, timeout)
        finally:
            self.last_batch_options = dict(self.session_options)
            self.session_options.clear()
            self.session_options.update(saved)

    def _run_batch(self, sql: str, params: list[Any], timeout: int) -> list[ResultSet]:
        name = statement_name(sql) or "(unnamed batch)"
        self._statement_timeout = timeout
        if self.broken:
            raise make_error("link_down", function="SQLExecDirectW")
        self._cancelled.clear()
        fault = self.faults.draw(name)
        if fault is not None and fault.timing == "before":
            if fault.kind == "link_failure":
                self.drop()
            elif fault.kind == "deadlock":
                self._rollback_all()  # the victim's whole transaction is rolled back
            raise fault.error
        delay = self.latency + self.delays.get(name, 0.0)
        if delay:
            if not SystemClock().sleep(delay, self._cancelled):
                raise make_error("cancelled")
            self.clock.advance(delay)
        params = [_sql_value(value) for value in params]
        if name in ("acquire_target_lock", "release_target_lock", "check_target_lock"):
            return self._applock(name, params)
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("SAVEPOINT sim_batch")
        self._procedures_opened = 0
        self._lock_timeouts: list[str] = []
        try:
            results, cost = self._dispatch(name, sql, params)
            if fault is not None and fault.timing == "during":
                raise fault.error
            self._charge(cost)
        except BaseException as error:
            self._abort_batch(error)
            raise
        self._finish_batch()
        if self._lock_timeouts:
            # A statement inside a procedure timed out waiting for a lock; the procedure went on
            # and committed (Server.locks_granted): the client sees error 1222 all the same.
            raise make_error("lock_timeout")
        if fault is not None:  # after: the work is done; the reply never arrives
            if fault.kind == "reply_lost":
                self.drop()
            raise fault.error
        return [result for result in results if result.columns or result.messages] or (
            [ResultSet(rowcount=results[-1].rowcount)] if results else []
        )

    def _dispatch(self, name: str, sql: str, params: list[Any]) -> tuple[list[ResultSet], float]:
        if name in clients.READS:
            # The clients go on scanning while nobody looks: they catch up before anyone reads them.
            clients.catch_up(self.db, self.clock.now())
        if name in system.HANDLERS:
            # Modelled by a handler, not statement by statement: its SET options still apply.
            for text in split_statements(sql):
                self._note_set_option(" ".join(text.upper().split()))
            self.server.session_options = self.session_options
            self.server.statement_text = sql
            return system.HANDLERS[name](self.server, params)
        code = strip_comments(sql)
        if system.SYSTEM_MARKERS.search(code):
            missing = sysviews.unmodelled(code, system.SYSTEM_MARKERS)
            if missing:
                raise server_error(
                    f"susdb-maint simulator: statement {name!r} uses SQL Server system objects "
                    f"that the simulator does not model ({', '.join(missing)})",
                    native=2812,
                )
            return self._run_tsql(name, sql, params, catalog=True)
        return self._run_tsql(name, sql, params)

    def _finish_batch(self) -> None:
        self._persist_clock()
        if self.db.in_transaction:
            self.db.execute("RELEASE sim_batch")
            if self.trancount == 0:
                self.db.execute("COMMIT")

    def _abort_batch(self, error: BaseException) -> None:
        """Undo what the batch did, except a transaction a cancelled procedure left open."""
        if not self.db.in_transaction:
            return
        interrupted = isinstance(error, _DRIVER.Error) and _leaves_transaction_open(error)
        if interrupted and self._procedures_opened:
            # An attention (a query timeout, a cancel) or a lock timeout aborted the batch inside a
            # procedure's own transaction: its work stays, uncommitted and locked, and @@TRANCOUNT
            # stays up (XACT_ABORT is OFF by default; whether each WSUS procedure's own error
            # handling catches a lock timeout is not public, so the simulator assumes it does not).
            self.trancount += self._procedures_opened
            self._persist_clock()
            self.db.execute("RELEASE sim_batch")
            return
        self.db.execute("ROLLBACK TO sim_batch")
        self.db.execute("RELEASE sim_batch")
        if self.trancount == 0:
            self.db.execute("COMMIT")

    def _rollback_all(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")
        self.trancount = 0

    def _persist_clock(self) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO sim_meta VALUES ('clock', ?)", (ts(self.clock.now()),)
        )

    def _charge(self, cost: float) -> None:
        limit = self._statement_timeout  # the cursor's, fixed when it was made
        if limit and cost > limit:
            self.clock.advance(limit)
            raise make_error("query_timeout")
        self.clock.advance(cost)

    def _transaction_statement(self, upper: str, text: str) -> list[ResultSet] | None:
        """BEGIN / COMMIT / ROLLBACK TRANSACTION and @@TRANCOUNT, with SQL Server's errors."""
        words = upper.replace("TRANSACTION", "TRAN").split()
        if words[:2] == ["BEGIN", "TRAN"]:
            self.trancount += 1
            return []
        if words[:2] == ["COMMIT", "TRAN"] or words == ["COMMIT"]:
            if self.trancount == 0:
                raise server_error(
                    "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION.",
                    native=3902,
                )
            self.trancount -= 1
            return []
        conditional = upper.startswith("IF @@TRANCOUNT > 0 ")
        if conditional:
            words = words[4:]
        if words[:2] == ["ROLLBACK", "TRAN"] or words == ["ROLLBACK"]:
            if self.trancount == 0:
                if conditional:
                    return []
                raise server_error(
                    "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION.",
                    native=3903,
                )
            # Rolls back the whole session transaction; the batch goes on in a fresh one.
            self.db.execute("ROLLBACK")
            self.trancount = 0
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("SAVEPOINT sim_batch")
            return []
        match = _TRANCOUNT.match(" ".join(text.split()))
        if match:
            return [ResultSet([match.group(1) or "TranCount"], [(self.trancount,)])]
        return None

    def _run_tsql(
        self, name: str, sql: str, params: list[Any], *, catalog: bool = False
    ) -> tuple[list[ResultSet], float]:
        numbered, count = number_markers(sql)
        if count != len(params):
            raise _DRIVER.ProgrammingError(
                "07002",
                f"[07002] The SQL contains {count} parameter markers, but {len(params)} parameters were supplied",
            )
        bindings: dict[str, Any] = {
            f"p{index}": value for index, value in enumerate(params, start=1)
        }
        results: list[ResultSet] = []
        cost = 0.0
        last_rowcount = -1
        for text in split_statements(numbered):
            upper = " ".join(text.upper().split())
            if self._note_set_option(upper):
                continue
            transaction = self._transaction_statement(upper, text)
            if transaction is not None:
                results.extend(transaction)
                continue
            declare = _DECLARE.match(text)
            if declare:
                value = declare.group(2)
                bindings[declare.group(1)] = (
                    None
                    if value is None
                    else _literal(value, bindings)
                    if _SIMPLE_VALUE.fullmatch(value.strip())
                    else self._scalar(name, value, bindings)  # a subquery, a function call
                )
                continue
            guarded = split_if(text)
            if guarded is not None:
                condition, text = guarded
                cost += self.server.charge(0.005)
                if not self._scalar(name, f"CASE WHEN {condition} THEN 1 ELSE 0 END", bindings):
                    continue
            rowcount = _ROWCOUNT.match(text)
            if rowcount:
                results.append(ResultSet([rowcount.group(1)], [(last_rowcount,)]))
                continue
            execute = _EXEC.match(text)
            if execute:
                result, seconds = self._call(execute.group(2), execute.group(3), bindings)
                results.append(result)
                cost += seconds
                last_rowcount = result.rowcount
                continue
            if catalog:
                text, read_cost = sysviews.prepare(self.server, text, bindings, name)
                cost += read_cost
            try:
                translated = to_sqlite(text)
                clash = type_clash(text)
            except Exception as error:  # sqlglot parse errors: report like a SQL syntax error
                raise server_error(
                    f"susdb-maint simulator could not translate {name!r}: {error}", native=102
                ) from error
            if clash:
                raise server_error(clash, native=245, sqlstate="22018")
            for table in full_counts(text):
                cost += sysviews.log_full_count(self.server, name, table)
            try:
                cursor = self.db.execute(translated, bindings)
            except sqlite3.Error as error:
                raise server_error(f"{name}: {error}", native=207) from error
            if cursor.description:
                columns = [column[0] for column in cursor.description]
                results.append(ResultSet(columns, source=cursor))
                last_rowcount = -1  # as pyodbc reports for a SELECT
            else:
                last_rowcount = cursor.rowcount
                results.append(ResultSet(rowcount=cursor.rowcount))
                self.server.note_row_locks(name, translated, cursor.rowcount)
            cost += self.server.charge(0.005)
        return results, cost

    def _note_set_option(self, upper: str) -> bool:
        """Keep a ``SET option value`` statement's value for the session; False for any other."""
        if not upper.startswith("SET "):
            return False
        option = upper[4:].split()
        if option:
            self.session_options[option[0]] = " ".join(option[1:])
        return True

    def _scalar(self, name: str, expression: str, bindings: dict[str, Any]) -> Any:
        """The value of a T-SQL scalar expression (a subquery in parentheses, a condition)."""
        try:
            translated = to_sqlite(f"SELECT {expression}")
        except Exception as error:  # sqlglot parse errors: report like a SQL syntax error
            raise server_error(
                f"susdb-maint simulator could not translate {name!r}: {error}", native=102
            ) from error
        try:
            row = self.db.execute(translated, bindings).fetchone()
        except sqlite3.Error as error:
            raise server_error(f"{name}: {error}", native=207) from error
        return row[0] if row else None

    def _call(
        self, procedure: str, arguments: str, bindings: dict[str, Any]
    ) -> tuple[ResultSet, float]:
        model = self.server.procedure(procedure)
        if model is None:
            raise server_error(f"Could not find stored procedure '{procedure}'.", native=2812)
        kwargs: dict[str, Any] = {}
        positional: list[Any] = []
        for argument in _split_arguments(arguments):
            named = re.match(r"^@(\w+)\s*=\s*(.+)$", argument, re.S)
            if named:
                kwargs[named.group(1)] = _literal(named.group(2), bindings)
            else:
                positional.append(_literal(argument, bindings))
        arguments_seen = [*positional, *kwargs.values()]
        if arguments_seen:
            # A poison item: tests mark one argument a procedure always fails on (sim_meta
            # 'poison:<procedure>:<first argument>' = the error text), as a damaged update does.
            poison = self.db.execute(
                "SELECT value FROM sim_meta WHERE key = ?",
                (f"poison:{model.__name__}:{str(arguments_seen[0]).strip('{}').upper()}",),
            ).fetchone()
            if poison:
                raise server_error(poison[0])
        STARTED_CALLS[(str(self.path.resolve()), model.__name__)] += 1
        if model.__name__ in TRANSACTIONAL_PROCEDURES:
            self._procedures_opened += 1  # its BEGIN TRANSACTION
        self.server.lock_timeout_ms = self.lock_timeout_ms()
        self.server.lock_timeouts = []
        try:
            result = model(*positional, **kwargs)
        except TypeError as error:
            raise server_error(
                f"Procedure or function '{procedure}' has too many arguments specified "
                f"or is missing a parameter ({error}).",
                native=8144,
            ) from error
        self.db.execute(
            "INSERT INTO sim_call_log (procedure, arguments, called_at, lock_timeout_ms) "
            "VALUES (?, ?, ?, ?)",
            (
                model.__name__,
                json.dumps([*positional, *kwargs.values()], default=str),
                ts(self.clock.now()),
                self.server.lock_timeout_ms,
            ),
        )
        if self.server.lock_timeouts:
            self._lock_timeouts.extend(self.server.lock_timeouts)
        return result

    def lock_timeout_ms(self) -> int:
        """The session's @@LOCK_TIMEOUT: what its last SET LOCK_TIMEOUT said, else -1."""
        value = self.session_options.get("LOCK_TIMEOUT", "-1").split()[0]
        try:
            return int(value)
        except ValueError:
            return -1

    def _applock(self, name: str, params: list[Any]) -> list[ResultSet]:
        (resource,) = params
        digest = hashlib.sha1(str(resource).encode()).hexdigest()[:16]
        if name == "check_target_lock":
            held = digest in self._applocks
            return [ResultSet(["LockMode"], [("Exclusive" if held else "NoLock",)])]
        if name == "release_target_lock":
            lock = self._applocks.pop(digest, None)
            if lock is not None:
                lock.release(force=True)
            return [ResultSet(["Result"], [(0 if lock else -999,)])]
        # SQL Server scopes an application lock to the database, not to the name a client used
        # to reach it: every path to one file (a symlink, a hard link) is one lock, keyed by the
        # file's identity (device and inode), not its path (network-review).
        lock = filelock.FileLock(applock_file(self.path, digest), timeout=0)
        try:
            lock.acquire()
        except filelock.Timeout:
            return [ResultSet(["Result"], [(-1,)])]
        self._applocks[digest] = lock
        return [ResultSet(["Result"], [(0,)])]


def applock_file(path: Path, digest: str) -> Path:
    """Where the application lock ``digest`` of the simulated database at ``path`` is held: one
    file per database file, whichever path reaches it."""
    identity = path.stat()
    folder = Path(tempfile.gettempdir()) / "susdb-maint-simulator-applocks"
    folder.mkdir(exist_ok=True)
    return folder / f"{identity.st_dev:x}-{identity.st_ino:x}-{digest}.lock"


# Every procedure call started in this process, per (database file, procedure), whether it
# committed or not: what a server-side trace (Extended Events) shows and sim_call_log, which is
# rolled back with the call's effects, cannot. How a test sees a deletion done and undone.
STARTED_CALLS: collections.Counter[tuple[str, str]] = collections.Counter()


def started_calls(path: str | Path, procedure: str) -> int:
    return STARTED_CALLS[(str(Path(path).resolve()), procedure)]


# Procedures that open their own transaction. spDeleteUpdate's published body begins with
# BEGIN TRANSACTION (Microsoft, "The spDeleteUpdate stored procedure runs slowly"); whether
# spDeclineUpdate, spCompressUpdate and spCleanupObsoleteComputers do is not public, so they are
# modelled the dangerous way: they do, and a cancel leaves their transaction open.
TRANSACTIONAL_PROCEDURES = frozenset(
    {"spDeleteUpdate", "spDeclineUpdate", "spCompressUpdate", "spCleanupObsoleteComputers"}
)
_TRANCOUNT = re.compile(r"^SELECT @@TRANCOUNT(?: AS \[?(\w+)\]?)?$", re.I)


def _leaves_transaction_open(error: BaseException) -> bool:
    """A query timeout or a cancel (the client's attention reached the server mid-batch), or a
    lock timeout (error 1222 aborts the statement, not the transaction)."""
    text = " ".join(str(argument) for argument in error.args)
    return "[HYT00]" in text or "[HY008]" in text or "(1222)" in text


CLOCK_MODES = ("wall", "pinned")


def clock_start(db: sqlite3.Connection) -> datetime:
    """Where the simulated server's clock stands when a session opens the file.

    A real SQL Server's ``GETUTCDATE()`` is the host's clock, and the demo's catalog models one:
    its clock (``clock_mode = 'wall'``) follows the wall clock, and never runs backwards from the
    time the file last recorded. A catalog built at a fixed moment (a test's, ``clock_mode =
    'pinned'``) keeps its own clock: it starts where the file left it and moves only with the
    modelled time of what runs on it, so an age a test planted is the same on any day.
    """
    rows = dict(db.execute("SELECT key, value FROM sim_meta WHERE key IN ('clock', 'clock_mode')"))
    wall = SystemClock().now().replace(microsecond=0)
    if "clock" not in rows:
        return wall
    stored = datetime.strptime(rows["clock"], "%Y-%m-%d %H:%M:%S")
    return stored if rows.get("clock_mode") == "pinned" else max(wall, stored)


def catalog_clock(path: str | Path) -> VirtualClock:
    """The modelled clock a run on the simulated SUSDB at ``path`` shares with the server."""
    try:
        with contextlib.closing(
            sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        ) as db:
            return VirtualClock(clock_start(db))
    except sqlite3.Error:  # missing, or not a simulated SUSDB: opening it says which
        return VirtualClock()


def ensure_identity(db: sqlite3.Connection) -> None:
    """Give the file its database identity once, as SQL Server gives a database its
    ``service_broker_guid`` and ``create_date`` when it is created (or restored)."""
    if db.execute("SELECT 1 FROM sim_meta WHERE key = 'database_guid'").fetchone():
        return
    created = db.execute("SELECT value FROM sim_meta WHERE key = 'created'").fetchone()
    db.execute(
        "INSERT OR IGNORE INTO sim_meta VALUES ('database_guid', ?)", (str(uuid.uuid4()).upper(),)
    )
    db.execute(
        "INSERT OR IGNORE INTO sim_meta VALUES ('create_date', ?)",
        (created[0] if created else ts(SystemClock().now()),),
    )


_GUARDED = frozenset({"EXEC", "EXECUTE", "SELECT", "UPDATE", "DELETE", "INSERT", "RETURN"})


def split_if(text: str) -> tuple[str, str] | None:
    """``IF <condition> <statement>`` as (condition, statement), or None for any other statement.

    T-SQL's ``IF boolean_expression { sql_statement | statement_block }`` runs the one statement
    that follows the condition only when the condition is TRUE; a NULL condition is not TRUE
    (Microsoft, "IF...ELSE (Transact-SQL)"). The simulator models the one-statement form the
    project's files use: the statement starts at the first EXEC, SELECT, UPDATE, DELETE, INSERT
    or RETURN outside parentheses (a subquery in the condition is inside them). ``ELSE`` and
    ``BEGIN ... END`` blocks are not modelled and are refused, not guessed at.
    """
    if not re.match(r"^IF\b", text, re.I):
        return None
    depth, offset = 0, 0
    for _type, value in tokens(text):
        if value == "(":
            depth += 1
        elif value == ")":
            depth -= 1
        elif depth == 0 and offset > 2 and value.upper() in _GUARDED:
            condition, statement = text[2:offset].strip(), text[offset:].strip()
            if re.search(r"\bELSE\b", statement, re.I) or re.match(r"^BEGIN\b", statement, re.I):
                break
            return condition, statement
        offset += len(value)
    raise server_error(
        "susdb-maint simulator: only IF <condition> <one statement> is modelled", native=102
    )


def _split_arguments(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth, in_string = 0, False
    for char in text:
        if char == "'":
            in_string = not in_string
        if not in_string:
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
            elif char == "," and depth == 0:
                parts.append("".join(current).strip())
                current = []
                continue
        current.append(char)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


_UNITS = {
    "DAY": "days",
    "DD": "days",
    "D": "days",
    "HOUR": "hours",
    "HH": "hours",
    "MINUTE": "minutes",
    "MI": "minutes",
    "N": "minutes",
    "SECOND": "seconds",
    "SS": "seconds",
    "S": "seconds",
    "WEEK": "weeks",
}


def _dateadd(unit: str, number: Any, moment: Any) -> str | None:
    if moment is None or number is None:
        return None
    base = datetime.strptime(str(moment)[:19], "%Y-%m-%d %H:%M:%S")
    unit = str(unit).upper()
    if unit in ("MONTH", "MM", "M"):
        return ts(base + timedelta(days=30 * float(number)))
    if unit in ("YEAR", "YY", "YYYY"):
        return ts(base + timedelta(days=365 * float(number)))
    return ts(base + timedelta(**{_UNITS[unit]: float(number)}))


def connect(
    path: str | Path,
    *,
    faults: FaultPlan | None = None,
    latency: float = 0.0,
    clock: Any = None,
    cost_model: bool = True,
    database: str = "SUSDB",
) -> Connection:
    """Open a simulated SUSDB. ``latency`` (seconds) is real time added to every statement;
    ``database`` is the name the server gives it (``simulator serve --database``)."""
    path = Path(path)
    if not path.is_file():
        raise make_error(
            "link_failure", f"simulated SUSDB not found: {path}", function="SQLDriverConnect"
        )
    from jobs.demo import is_simulated_susdb

    if not is_simulated_susdb(path):  # read-only first: opening writes to an empty file
        with path.open("rb") as file:
            sqlite = file.read(16) == b"SQLite format 3\x00"
        raise sqlite3.DatabaseError(
            "no such table: sim_meta" if sqlite else "file is not a database"
        )
    return Connection(path, faults, latency, clock, cost_model, database)


def create(path: str | Path, profile: Any) -> dict[str, int]:
    """Create a simulated SUSDB file from a catalog profile; return what was generated."""
    from jobs.simulator import catalog, schema

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".creating")
    temporary.unlink(missing_ok=True)
    db = sqlite3.connect(temporary)
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        schema.create(db)
        counts = catalog.generate(db, profile)
        db.execute("ANALYZE")  # planner statistics: without them SQLite picks O(n^2) join orders
        db.execute("INSERT INTO sim_meta VALUES ('clock', ?)", (ts(profile.now),))
        db.execute("INSERT INTO sim_meta VALUES ('clock_mode', ?)", (profile.clock,))
        ensure_identity(db)
        db.commit()
    finally:
        db.close()
    # A stale write-ahead log of an earlier file by the same name would be replayed into this one.
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    temporary.replace(path)  # a half-written catalog never takes the real name
    return counts
