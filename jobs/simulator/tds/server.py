"""The listener: a simulated SUSDB served over TDS on a TCP port, one session a connection.

A test and demo tool, not a SQL Server: it listens on the loopback address unless told
otherwise, offers no TLS, and knows one SQL login (user and password from its options).
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import socketserver
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jobs.errors import UsageError
from jobs.simulator.dbapi import clock_start
from jobs.simulator.faults import FaultPlan
from jobs.simulator.tds.pacing import PacedClock
from jobs.simulator.tds.session import Dropped, Session

LOOPBACK = "127.0.0.1"
FIRST_SPID = 51  # SQL Server's user sessions start above the system ones


@dataclass
class ServeOptions:
    """What is served, to whom, and how it behaves.

    ``time_scale``: modelled seconds per real second (see ``pacing``; 0: no real time).
    ``latency``: real seconds added to every statement, as the simulator target's latency_ms.
    ``drop_after``: statement name -> n: the n-th call of that statement (counted over the
    whole server) commits, then the server closes that client's socket instead of answering.
    """

    sim: Path
    user: str
    password: str = field(repr=False)
    database: str = "SUSDB"
    time_scale: float = 60.0
    latency: float = 0.0
    faults: FaultPlan | None = None
    cost_model: bool = True
    drop_after: dict[str, int] = field(default_factory=dict)
    # (certificate, key) PEM files: TLS offered as SQL Server offers it (tds/tls.py); None: none.
    tls: tuple[Path, Path] | None = None


def _read_server_state(path: Path) -> tuple[datetime, tuple[int, int, int]]:
    """Where the file's clock stands (``dbapi.clock_start``: the wall clock, or the catalog's own
    when it is pinned) and the version of SQL Server it models, which LOGINACK reports."""
    try:
        with contextlib.closing(sqlite3.connect(path)) as db:
            start = clock_start(db)
            version = db.execute(
                "SELECT value FROM sim_server_property WHERE name = 'ProductVersion'"
            ).fetchone()
    except sqlite3.DatabaseError as error:  # a text file, a state store, another SQLite file
        raise UsageError(
            f"--sim {path}: not a simulated SUSDB ({error}); give a new file and --preset "
            "small or neglected to make one"
        ) from None
    parts = [int(part) for part in str(version[0] if version else "16.0.1000").split(".")[:3]]
    major, minor, build = [*parts, 0, 0, 0][:3]
    return start, (major, minor, build)


class _Listener(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


class SimulatorServer:
    """Serve ``options.sim`` on ``host:port`` (port 0: a free one) from a background thread."""

    def __init__(self, options: ServeOptions, host: str = LOOPBACK, port: int = 0) -> None:
        if not Path(options.sim).is_file():
            raise FileNotFoundError(f"simulated SUSDB not found: {options.sim}")
        self.options = options
        start, self.product_version = _read_server_state(Path(options.sim))
        self.clock = PacedClock(start, options.time_scale)
        self._spids = itertools.count(FIRST_SPID)
        self._handles = itertools.count(1)
        self._calls: Counter[str] = Counter()
        # What happened on the wire, for tests and the bench: logins, login_failed, requests,
        # "received NAME" (statements by name), "rpc PROCEDURE" (sp_prepexec...), attentions (each acknowledged), cancelled
        # (requests an attention stopped; also "cancelled NAME"), dropped (sockets closed).
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.sessions: set[Session] = set()
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                server._serve_one(self.request)

        self._listener = _Listener((host, port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._listener.server_address[0])

    @property
    def port(self) -> int:
        return int(self._listener.server_address[1])

    def _serve_one(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session = Session(sock, self, next(self._spids))
        with self._lock:
            self.sessions.add(session)
        try:
            session.run()
        finally:
            with self._lock:
                self.sessions.discard(session)

    def count(self, event: str) -> None:
        with self._lock:
            self.stats[event] += 1

    def next_handle(self) -> int:
        with self._lock:
            return next(self._handles)

    def after_statement(self, name: str) -> None:
        """Called when a statement has committed: drop the connection if the plan says so."""
        if name not in self.options.drop_after:
            return
        with self._lock:
            self._calls[name] += 1
            due = self._calls[name] == self.options.drop_after[name]
        if due:
            raise Dropped(f"{name}: call {self._calls[name]} committed, connection dropped")

    def start(self) -> SimulatorServer:
        self._thread = threading.Thread(
            target=self._listener.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="tds-listener",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._listener.serve_forever()

    def stop(self) -> None:
        self._listener.shutdown()
        self._listener.server_close()
        with self._lock:
            sessions = list(self.sessions)
        for session in sessions:
            session.close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- how to reach it -----------------------------------------------------------------------
    def connection_string(self, password: str = "<password>") -> str:
        """The ODBC connection string for FreeTDS (what ``jobs.db.connection`` builds too)."""
        return (
            f"DRIVER={{FreeTDS}};SERVER={self.host},{self.port};DATABASE={self.options.database};"
            f"UID={self.options.user};PWD={password};TDS_Version=7.4;"
            + ("Encryption=require;" if self.options.tls else "Encrypt=no;")
        )

    def target_config(self, name: str, password_env: str) -> str:
        """A ``[targets.NAME]`` section for susdb-maint's config that points at this server."""
        return (
            f"[targets.{name}]\n"
            f'kind = "sqlserver"\n'
            f'server = "{self.host}"\n'
            f"port = {self.port}\n"
            f'database = "{self.options.database}"\n'
            f'auth = "sql"\n'
            f'username = "{self.options.user}"\n'
            f'password_env = "{password_env}"\n'
            f'driver = "FreeTDS"\n'
            + (
                'encrypt = "mandatory"\ntrust_server_certificate = true  # or ca_file = "CA.pem"\n'
                if self.options.tls
                else 'encrypt = "optional"  # served without --tls-cert: no TLS\n'
            )
        )
