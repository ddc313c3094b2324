"""One client session: pre-login, login, then requests run on one simulated SUSDB connection.

Each session owns one ``jobs.simulator.connect`` connection, so the statement dispatch, costs,
faults, application locks (a file lock held by the connection) and call log are the in-process
simulator's own; closing the socket closes the connection, as a session ends on a real server.
A reader thread watches the socket while a statement runs, so an attention packet cancels it
([MS-TDS] 3.2.5.1 and 3.3.5.7): the server stops, discards what it had not sent, and answers
DONE with DONE_ATTN. Errors the simulator raises carry SQL Server's number, which becomes an
ERROR token with that number, state and severity; a link failure becomes a closed socket, and a
query timeout a statement that runs until the client gives up on it.

Databases, as SQL Server answers a login for each:

* The served SUSDB (``--database``), and the system databases whose guest user cannot be
  disabled, master, tempdb and msdb ("The guest user can't be dropped, but guest user can be
  disabled by revoking its CONNECT permission ... within any database other than master, tempdb,
  or msdb", Microsoft Learn, Guest Permissions on User Databases): any login opens them. In a
  system database only the server-wide catalog is modelled, ``sys.databases`` (Microsoft Learn,
  sys.databases: one row per database; VIEW ANY DATABASE, granted to public by default, shows every
  row; ``jobs.simulator.sysviews``); naming any other object there fails with SQL Server's 208,
  "Invalid object name", since SUSDB's objects are not in them.
* Any other name, model included (ours: whether model's guest is enabled is not modelled): error
  4060, "Cannot open database "%.*ls" requested by the login. The login failed." (Microsoft Learn,
  Database Engine events and errors 4000 to 4999), then 18456, as SQL Server sends them; a driver
  reports one of the two (FreeTDS the last, Microsoft's the first).
"""

from __future__ import annotations

import contextlib
import queue
import re
import socket
import threading
from typing import TYPE_CHECKING, Any

from jobs import events
from jobs.db.catalog import statement_name
from jobs.db.classify import message_of, native_of, sqlstate_of
from jobs.simulator import connect
from jobs.simulator.tds import driver_catalog, tls, tokens
from jobs.simulator.tds.datatypes import COLUMN_TYPES, infer_column_type
from jobs.simulator.tds.placeholders import MissingParameter, bind
from jobs.simulator.tds.requests import (
    TDS72,
    Login,
    Parameter,
    RpcCall,
    parse_login7,
    parse_rpc,
    parse_sql_batch,
)
from jobs.simulator.tds.tokens import Done, EnvChange, Token
from jobs.simulator.tds.wire import (
    DEFAULT_PACKET_SIZE,
    HEADER,
    MAX_PACKET_SIZE,
    Message,
    PacketType,
    ProtocolError,
    Stream,
    packets,
    read_message,
)

if TYPE_CHECKING:
    from jobs.simulator.tds.server import SimulatorServer

log = events.get_logger("susdb_maint.simulator.tds")
SERVER_NAME = "SUSDB-SIMULATOR"
# SQL Server's severity and state for the errors the simulator raises (default: 16, state 1).
SEVERITY_AND_STATE = {
    1205: (13, 51),  # deadlock victim
    1222: (16, 56),  # lock request time out
    229: (14, 5),  # permission denied
    230: (14, 1),
    18456: (14, 1),
    4060: (11, 1),
    2812: (16, 62),  # could not find stored procedure
    102: (15, 1),  # syntax
}
# System databases any login may open (their guest user cannot be disabled); see the docstring.
GUEST_DATABASES = ("master", "tempdb", "msdb")
# What a session in one of them may name: the server-wide catalog.
SERVER_WIDE = frozenset({"sys.databases"})
_OBJECT_NAME = re.compile(
    r"\b(?:FROM|JOIN|INTO|UPDATE|EXEC(?:UTE)?|TABLE)\s+((?:\[?\w+\]?\.){0,2}\[?\w+\]?)", re.I
)
LINK_FAILURE_STATES = {"08S01", "08001", "08003", "08004", "08007"}
CLIENT_SIDE_TIMEOUT_STATES = {"HYT00", "HYT01", "HY008"}
# A query-timeout fault keeps the statement running until the client's timer cancels it.
STALL_LIMIT_SECONDS = 600
_ATTENTION = object()


class Abandoned(Exception):
    """The client sent an attention: stop producing this response."""


class Dropped(Exception):
    """Close the socket without an answer (a modelled link failure)."""


class Response:
    """Tokens of one response, sent as packets as they fill; stops when an attention arrives."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.buffer = bytearray()

    def add(self, token: bytes) -> None:
        self.buffer += token
        room = self.session.packet_size - HEADER.size
        while len(self.buffer) > room:
            if self.session.cancelled.is_set():
                raise Abandoned
            self.session.send(bytes(self.buffer[:room]), last=False)
            del self.buffer[:room]

    def finish(self) -> None:
        self.session.send(bytes(self.buffer), last=True)
        self.buffer.clear()


def _message_text(message: Any) -> str:
    text = message[1] if isinstance(message, tuple | list) and len(message) > 1 else str(message)
    return re.sub(r"^(\[[^\]]*\])+", "", text).strip()


def _error_text(error: BaseException) -> str:
    return re.sub(r"\s*\(-?\d+\)$", "", message_of(error))


def missing_from_system_database(sql: str) -> str | None:
    """The first object ``sql`` names that a system database does not have (SUSDB's tables,
    views and procedures), or None."""
    code = re.sub(r"--[^\n]*|/\*.*?\*/|N?'(?:[^']|'')*'", " ", sql, flags=re.S)
    for name in _OBJECT_NAME.findall(code):
        bare = str(name).replace("[", "").replace("]", "")
        if bare.lower() not in SERVER_WIDE and bare.upper() not in ("STATISTICS", "TOP"):
            return bare
    return None


class Session:
    """One TDS connection, from pre-login to close; ``run`` is its thread."""

    def __init__(self, sock: socket.socket, server: SimulatorServer, spid: int) -> None:
        self.raw = sock
        self.sock: Stream = sock  # TLS over ``raw`` once a client asked for it (tds/tls.py)
        self.server = server
        self.spid = spid
        self.packet_size = DEFAULT_PACKET_SIZE
        self.user = ""
        self.database = ""  # the database the session is in
        self.connection: Any = None
        self.prepared: dict[int, tuple[str, str]] = {}
        self.cancelled = threading.Event()  # set while an attention is unanswered
        self._attentions = 0
        self._acknowledged = 0
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._incoming: queue.Queue[Any] = queue.Queue()
        self._running_cursor: Any = None
        self._statement = ""  # the name of the statement last run, for the server's stats

    # -- socket --------------------------------------------------------------------------------
    def send(self, payload: bytes, *, last: bool) -> None:
        with self._send_lock:
            self.sock.sendall(
                packets(PacketType.REPLY, payload, self.packet_size, self.spid, last=last)
            )

    def _read_loop(self) -> None:
        while True:
            try:
                message = read_message(self.sock)
            except (OSError, ProtocolError):
                message = None
            if message is None:
                self._incoming.put(None)
                return
            if message.type == PacketType.ATTENTION:
                with self._lock:
                    self._attentions += 1
                    self.cancelled.set()
                    cursor = self._running_cursor
                if cursor is not None:
                    with contextlib.suppress(Exception):
                        cursor.cancel()
                self._incoming.put(_ATTENTION)
            else:
                self._incoming.put(message)

    def _acknowledge_attention(self, response: Response | None = None) -> None:
        """Answer every attention received so far with one DONE_ATTN ([MS-TDS] 2.2.1.7)."""
        with self._lock:
            due = self._attentions > self._acknowledged
            self._acknowledged = self._attentions
            self.cancelled.clear()
        if due:
            self.server.count("attentions")
            if response is not None:
                response.buffer.clear()
            self.send(tokens.done(Done.ATTENTION), last=True)

    # -- lifetime ------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            if not self._handshake():
                return
            threading.Thread(
                target=self._read_loop, name=f"tds-read-{self.spid}", daemon=True
            ).start()
            while True:
                item = self._incoming.get()
                if item is None:
                    return
                if item is _ATTENTION:
                    self._acknowledge_attention()
                    continue
                try:
                    self._handle(item)
                except Dropped:
                    self.server.count("dropped")
                    log.info("simulator.connection_dropped", spid=self.spid)
                    return
        except (OSError, ProtocolError) as error:
            log.debug("simulator.session_error", spid=self.spid, error=str(error))
        finally:
            self.close()

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.close()  # rolls back what is open, releases application locks
            self.connection = None
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()

    # -- login ---------------------------------------------------------------------------------
    def _handshake(self) -> bool:
        offered = self.server.options.tls
        tds8 = offered is not None and tls.is_tds8_client(self.raw)
        if tds8:
            assert offered is not None
            self.sock = tls.handshake_tds8(self.raw, tls.server_context(*offered, tds8=True))
        prelogin = read_message(self.sock)
        if prelogin is None:
            return False
        if prelogin.type != PacketType.PRELOGIN:
            raise ProtocolError(f"expected PRELOGIN, got packet type {prelogin.type}")
        wanted = tokens.prelogin_encryption(prelogin.payload)
        # What SQL Server answers: encryption for the whole session when the client asks for it,
        # the login only when it does not (ENCRYPT_OFF); none when either side has none.
        if offered is None or tds8 or wanted == tokens.ENCRYPT_NOT_SUP:
            answer = tokens.ENCRYPT_NOT_SUP
        elif wanted == tokens.ENCRYPT_OFF:
            answer = tokens.ENCRYPT_OFF
        else:
            answer = tokens.ENCRYPT_ON
        self.send(tokens.prelogin_answer(self.server.product_version, answer), last=True)
        if answer != tokens.ENCRYPT_NOT_SUP:
            assert offered is not None
            self.server.count(f"tls {'session' if answer == tokens.ENCRYPT_ON else 'login'}")
            self.sock = tls.handshake_in_prelogin(
                self.raw, tls.server_context(*offered, tds8=False), self.spid
            )
        elif tds8:
            self.server.count("tls tds8")
        message = read_message(self.sock)
        if answer == tokens.ENCRYPT_OFF:
            self.sock = self.raw  # the login only: the session goes on in clear
        if message is None:
            return False
        if message.type != PacketType.LOGIN7:
            raise ProtocolError(f"expected LOGIN7, got type {message.type}")
        login = parse_login7(message.payload)
        return self._login(login)

    def _refuse_login(self, user: str, *first: bytes) -> bool:
        self.server.count("login_failed")
        log.info("simulator.login_failed", spid=self.spid, user=user)
        refusal = b"".join(first) + tokens.message(
            18456, f"Login failed for user '{user}'.", severity=14, server=SERVER_NAME
        )
        self.send(refusal + tokens.done(Done.ERROR), last=True)
        return False

    def _login(self, login: Login) -> bool:
        options = self.server.options
        self.user = login.user
        if login.tds_version < TDS72:
            return self._refuse_login(login.user)
        if login.integrated_security:
            return self._refuse_login(login.user)
        if login.user != options.user or login.password != options.password:
            return self._refuse_login(login.user)
        database = login.database or options.database
        system = next((name for name in GUEST_DATABASES if name == database.casefold()), None)
        if system is None and database.casefold() != options.database.casefold():
            cannot_open = tokens.message(
                4060,
                f'Cannot open database "{database}" requested by the login. The login failed.',
                severity=11,
                server=SERVER_NAME,
            )
            return self._refuse_login(login.user, cannot_open)
        try:
            self.connection = connect(
                options.sim,
                faults=options.faults,
                clock=self.server.clock,
                cost_model=options.cost_model,
                database=options.database,
            )
        except Exception as error:
            return self._refuse_login(
                login.user,
                tokens.message(4060, _error_text(error), severity=11, server=SERVER_NAME),
            )
        name = system or options.database
        self.database = name
        self.connection.use(name)
        self.packet_size = min(max(login.packet_size, 512), MAX_PACKET_SIZE)
        version = min(login.tds_version, tokens.TDS74)
        greeting = b"".join(
            [
                tokens.env_text(EnvChange.DATABASE, name, "master"),
                tokens.message(
                    5701, f"Changed database context to '{name}'.", severity=0, server=SERVER_NAME
                ),
                tokens.env_collation(),
                tokens.env_text(EnvChange.LANGUAGE, "us_english", ""),
                tokens.message(
                    5703, "Changed language setting to us_english.", severity=0, server=SERVER_NAME
                ),
                tokens.loginack(version, self.server.product_version),
                tokens.env_text(
                    EnvChange.PACKET_SIZE, str(self.packet_size), str(login.packet_size)
                ),
                tokens.done(Done.FINAL),
            ]
        )
        self.send(greeting, last=True)
        self.server.count("logins")
        log.info("simulator.login", spid=self.spid, user=login.user, app=login.app)
        return True

    # -- requests ------------------------------------------------------------------------------
    def _handle(self, message: Message) -> None:
        self.server.count("requests")
        known = message.type in {kind.value for kind in PacketType}
        self.server.count(f"requests {PacketType(message.type).name if known else message.type}")
        response = Response(self)
        try:
            if message.type == PacketType.SQL_BATCH:
                self._run(parse_sql_batch(message.payload), [], response, in_procedure=False)
            elif message.type == PacketType.RPC:
                calls = parse_rpc(message.payload)
                for index, call in enumerate(calls):
                    self._call(call, response, last=index == len(calls) - 1)
            else:
                response.add(
                    tokens.message(
                        40000 + message.type,
                        f"the simulator does not serve TDS messages of type {message.type}",
                        severity=16,
                        server=SERVER_NAME,
                    )
                )
                response.add(tokens.done(Done.ERROR))
        except Abandoned:
            pass
        if self.cancelled.is_set():
            self.server.count("cancelled")  # an attention stopped this request
            self.server.count(f"cancelled {self._statement}")
            self._acknowledge_attention(response)
            return
        response.finish()

    def _call(self, call: RpcCall, response: Response, *, last: bool) -> None:
        """One RPC: the system procedures drivers send parameterized statements through."""
        procedure = call.procedure.lower()
        self.server.count(f"rpc {procedure}")
        arguments = call.parameters
        first = arguments[0].value if arguments else None
        handle = None
        statement: tuple[str, str] | None = None  # (text, parameter declaration) to run
        values: list[Parameter] = []
        if procedure == "sp_executesql":
            declaration = arguments[1].value if len(arguments) > 1 else ""
            statement, values = (first or "", declaration or ""), arguments[2:]
        elif procedure in ("sp_prepare", "sp_prepexec") and len(arguments) >= 3:
            handle = self.server.next_handle()
            self.prepared[handle] = (arguments[2].value or "", arguments[1].value or "")
            if procedure == "sp_prepexec":
                statement, values = self.prepared[handle], arguments[3:]
        elif procedure == "sp_execute" and first in self.prepared:
            statement, values = self.prepared[first], arguments[1:]
        elif procedure == "sp_execute":
            self._fail(response, 8179, f"Could not find prepared statement with handle {first}.")
            return
        elif procedure == "sp_unprepare":
            self.prepared.pop(int(first or 0), None)
        else:
            self._fail(response, 2812, f"Could not find stored procedure '{call.procedure}'.")
            return
        ok = True
        if statement is not None:
            sql, declaration = statement
            try:
                text, positional = bind(
                    sql, declaration, [(item.name, item.value) for item in values]
                )
            except MissingParameter as missing:
                self._fail(
                    response,
                    8178,
                    f"The parameterized query '({declaration})' expects the parameter "
                    f"'{missing.name}', which was not supplied.",
                )
                return
            ok = self._run(text, positional, response, in_procedure=True)
        response.add(tokens.return_status(0 if ok else -6))
        if handle is not None:
            response.add(tokens.return_value(1, "", COLUMN_TYPES["int"], handle))
        status = (Done.FINAL if last else Done.MORE) | (Done.FINAL if ok else Done.ERROR)
        response.add(tokens.done(status, token=Token.DONEPROC))

    def _fail(self, response: Response, number: int, text: str) -> None:
        severity, state = SEVERITY_AND_STATE.get(number, (16, 1))
        response.add(
            tokens.message(number, text, severity=severity, state=state, server=SERVER_NAME)
        )
        response.add(tokens.done(Done.ERROR, token=Token.DONEPROC))

    def _run(self, sql: str, params: list[Any], response: Response, *, in_procedure: bool) -> bool:
        """Run one statement text on the simulator; add its results. False when it failed."""
        done_token = Token.DONEINPROC if in_procedure else Token.DONE
        self._statement = statement_name(sql) or "(unnamed batch)"
        self.server.count(f"received {self._statement}")
        if self.server.options.latency and self.cancelled.wait(self.server.options.latency):
            return True  # cancelled before it ran: the attention answers
        catalog = driver_catalog.type_info(sql)
        if catalog is not None:
            self._result(response, *catalog, -1, in_procedure, done_token)
            return True
        missing = self.database in GUEST_DATABASES and missing_from_system_database(sql)
        if missing:
            text = f"Invalid object name '{missing}'."
            response.add(tokens.message(208, text, severity=16, server=SERVER_NAME))
            status = Done.ERROR | (Done.MORE if in_procedure else Done.FINAL)
            response.add(tokens.done(status, token=done_token))
            return False
        cursor = self.connection.cursor()
        self.server.clock.bind(self.cancelled)
        with self._lock:
            self._running_cursor = cursor
        try:
            if self.cancelled.is_set():
                return True
            cursor.execute(sql, params)
            self.server.after_statement(self._statement)
            self._results(cursor, response, done_token, in_procedure)
            return True
        except Abandoned:
            raise
        except Dropped:
            raise
        except Exception as error:
            return self._error(error, response, done_token, in_procedure)
        finally:
            with self._lock:
                self._running_cursor = None

    def _results(
        self, cursor: Any, response: Response, done_token: int, in_procedure: bool
    ) -> None:
        while True:
            for line in cursor.messages or ():
                response.add(tokens.message(0, _message_text(line), severity=0, server=SERVER_NAME))
            names = [column[0] for column in cursor.description or ()]
            rows = cursor.fetchall() if names else []
            rowcount = cursor.rowcount
            more = bool(cursor.nextset())
            self._result(response, names, rows, rowcount, more or in_procedure, done_token)
            if not more:
                return

    def _result(
        self,
        response: Response,
        names: list[str],
        rows: list[Any],
        rowcount: int,
        more: bool,
        done_token: int,
    ) -> None:
        """One result: its columns and rows if it has any, then its DONE with the row count."""
        if names:
            types = [infer_column_type([row[index] for row in rows]) for index in range(len(names))]
            response.add(tokens.colmetadata(names, types))
            for row in rows:
                response.add(tokens.row(types, row))
            rowcount = len(rows)
        status = Done.COUNT if rowcount >= 0 else Done.FINAL
        response.add(tokens.done(status | (Done.MORE if more else 0), rowcount, token=done_token))

    def _error(
        self, error: Exception, response: Response, done_token: int, in_procedure: bool
    ) -> bool:
        if self.cancelled.is_set():
            return True  # the attention answers, not an error
        sqlstate = sqlstate_of(error)
        if sqlstate in LINK_FAILURE_STATES:
            raise Dropped from error
        if sqlstate in CLIENT_SIDE_TIMEOUT_STATES and self.cancelled.wait(STALL_LIMIT_SECONDS):
            return True  # the client's timer ran out and sent its attention, as modelled
        number = native_of(error) or 50000
        severity, state = SEVERITY_AND_STATE.get(number, (16, 1))
        response.add(
            tokens.message(
                number, _error_text(error), severity=severity, state=state, server=SERVER_NAME
            )
        )
        status = Done.ERROR | (Done.MORE if in_procedure else Done.FINAL)
        response.add(tokens.done(status, token=done_token))
        return False
