"""Open DB-API connections to a target: pyodbc for SQL Server and WID, or the simulated SUSDB.

Each ODBC driver gets a connection string in its own vocabulary, and a setting a driver cannot
honour is refused before connecting (one line, exit 2):

* Microsoft's ODBC Driver 18 and later: ``Encrypt=mandatory|optional|strict`` and
  ``TrustServerCertificate=yes|no``.
* Microsoft's ODBC Driver 17 (and 13, 11): ``Encrypt=yes|no`` only ("Version 17 accepts only yes
  and no", https://learn.microsoft.com/sql/connect/odbc/major-version-differences); ``strict``
  (TDS 8) is refused.
* FreeTDS: ``Encryption=require|request`` (understood by every version; ``Encrypt`` only since
  1.5), ``SERVER`` and ``PORT`` apart, ``TDS_Version=7.4``. FreeTDS checks the server certificate
  only when ``ca file`` is set ("If not specify or empty any certificate will be accepted from
  server", FreeTDS userguide), and only in a freetds.conf section: with ``ca_file`` the target is
  reached through a section of the tool's own (``jobs.db.freetds_conf``); without it, required
  encryption with ``trust_server_certificate = false`` is refused rather than silently not
  honoured. FreeTDS does not open named pipes, so it cannot reach WID.
* The in-box Windows ``SQL Server`` driver and SQL Server Native Client are not supported:
  Microsoft recommends neither for new development and they lack Driver 18's TLS settings
  (https://learn.microsoft.com/sql/connect/connect-history).

ODBC connection pooling is turned off before the first connection, so session state (the target
lock, an open transaction) dies with the connection it belongs to. A connection that never opens
is reported as "could not connect to NAME (ADDRESS): CAUSE", the cause translated by
``jobs.db.classify.connect_cause``; a refused login is told apart from a database the login
cannot open by a second login, to master (``jobs.db.refused_login``).

pyodbc is imported lazily, here only, so the simulator, the demo and the unit tests run on a
machine without unixODBC.
"""

from __future__ import annotations

import codecs
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from jobs.clock import Clock, SystemClock
from jobs.db import freetds_conf, refused_login
from jobs.errors import ConfigError, DatabaseError
from jobs.redaction import redact_text, register_secret
from jobs.settings.model import SimulatorTarget, SqlServerTarget

APP_NAME = "susdb-maint"
FREETDS = "FreeTDS"
DEFAULT_PORT = 1433
Family = Literal["msodbc18", "msodbc17", "freetds"]
_MICROSOFT = re.compile(r"ODBC Driver (\d+) for SQL Server|msodbcsql-?(\d+)", re.I)
UNSUPPORTED = {
    "sql server": "the in-box Windows 'SQL Server' driver",
    "sql server native client 11.0": "SQL Server Native Client",
    "sql server native client 10.0": "SQL Server Native Client",
    "sql native client": "SQL Server Native Client",
}


def resolve_password(target: SqlServerTarget, environ: Any = None) -> str | None:
    """Return the SQL password from its reference (never from the config file itself)."""
    environ = os.environ if environ is None else environ
    if target.auth != "sql":
        return None
    value: str
    if target.password_env:
        value = str(environ.get(target.password_env) or "")
        if not value:
            raise ConfigError(
                [f"password_env: environment variable {target.password_env} is not set or empty"]
            )
    else:
        assert target.password_file is not None
        value = read_password_file(Path(target.password_file).expanduser())
    register_secret(value)
    return value


def read_password_file(path: Path) -> str:
    """The password on the first line of ``path``, as Windows tools write files too: UTF-8 with
    or without a byte-order mark (Notepad), UTF-16 (PowerShell 5's ``>``), CRLF line ends.
    ConfigError, one line, for a file that cannot be read or whose first line is empty."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(
            [f"password_file: cannot read {path} ({error.strerror or error})"]
        ) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"  # drops a UTF-8 byte-order mark, reads plain UTF-8 as it is
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise ConfigError(
            [f"password_file: {path} is neither UTF-8 nor UTF-16 text; save it as UTF-8"]
        ) from None
    lines = text.splitlines()
    value = lines[0].strip() if lines else ""
    if not value:
        raise ConfigError(
            [f"password_file: the first line of {path} is empty; put the password on it"]
        )
    return value


def _braced(value: str) -> str:
    """Quote an ODBC attribute value: braces, with closing braces doubled."""
    return "{" + value.replace("}", "}}") + "}"


def driver_family(driver: str) -> Family:
    """Which vocabulary a driver speaks; raise ConfigError for a driver this tool does not use."""
    unsupported = UNSUPPORTED.get(driver.strip().lower())
    if unsupported:
        raise ConfigError(
            [
                f"driver: {unsupported} ('{driver}') is not supported: Microsoft recommends it for "
                "no new development and it lacks ODBC Driver 18's encryption settings; install "
                "'ODBC Driver 18 for SQL Server'"
            ]
        )
    microsoft = _MICROSOFT.search(driver)
    if microsoft:
        version = int(microsoft.group(1) or microsoft.group(2))
        return "msodbc18" if version >= 18 else "msodbc17"
    if "freetds" in driver.lower() or "tdsodbc" in driver.lower():
        return "freetds"
    raise ConfigError(
        [
            f"driver: '{driver}' is not a driver susdb-maint knows how to configure; use "
            "'ODBC Driver 18 for SQL Server', 'ODBC Driver 17 for SQL Server' or FreeTDS"
        ]
    )


def choose_driver(configured: str | None, installed: list[str]) -> str:
    """The configured driver if it is installed, else the best installed one; ConfigError (exit 2)
    naming the installed drivers when there is none to use."""
    listed = ", ".join(f"'{name}'" for name in installed) or "none"
    if configured:
        if configured not in installed and not Path(configured).is_file():
            raise ConfigError(
                [
                    f"driver: '{configured}' is not installed (installed ODBC drivers: {listed}); "
                    "install it, or set driver to one of these"
                ]
            )
        driver_family(configured)
        return configured
    microsoft = sorted(
        (int(match.group(1)), name)
        for name in installed
        if (match := re.fullmatch(r"ODBC Driver (\d+) for SQL Server", name))
        and int(match.group(1)) >= 17
    )
    if microsoft:
        return microsoft[-1][1]
    if FREETDS in installed:
        return FREETDS
    raise ConfigError(
        [
            f"driver: no ODBC driver susdb-maint can use is installed (installed ODBC drivers: "
            f"{listed}); install 'ODBC Driver 18 for SQL Server' (or FreeTDS: apt-get install "
            "tdsodbc), then set driver if it is not found by name"
        ]
    )


def _encryption(target: SqlServerTarget, driver: str, family: Family) -> list[str]:
    """The TLS attributes in the driver's own vocabulary; ConfigError for what it cannot honour."""
    mode = target.effective_encrypt
    trust = "yes" if target.trust_server_certificate else "no"
    if family == "msodbc18":
        return [f"Encrypt={mode}", f"TrustServerCertificate={trust}"]
    if mode == "strict":
        raise ConfigError(
            [
                f"encrypt: 'strict' (TDS 8) cannot be honoured by '{driver}', which knows only "
                "encryption on or off; install 'ODBC Driver 18 for SQL Server' or use 'mandatory'"
            ]
        )
    if family == "msodbc17":
        return [
            f"Encrypt={'yes' if mode == 'mandatory' else 'no'}",
            f"TrustServerCertificate={trust}",
        ]
    if target.ca_file and target.trust_server_certificate:
        raise ConfigError(
            [
                "trust_server_certificate: true says accept any certificate, ca_file says check "
                "it; give one of them"
            ]
        )
    if mode == "mandatory" and not target.trust_server_certificate and not target.ca_file:
        raise ConfigError(
            [
                "trust_server_certificate: false cannot be honoured by FreeTDS without ca_file: "
                "FreeTDS checks the server certificate only against a CA file; set ca_file to the "
                "CA that issued the server's certificate, or trust_server_certificate = true to "
                "accept any, or install 'ODBC Driver 18 for SQL Server'"
            ]
        )
    return [f"Encryption={'require' if mode == 'mandatory' else 'request'}"]


def connection_string(target: SqlServerTarget, driver: str, password: str | None) -> str:
    """Build the ODBC connection string for a SQL Server or WID target in the driver's vocabulary.
    Raise ConfigError for a setting the driver cannot honour."""
    family = driver_family(driver)
    if family == "freetds" and target.wid:
        raise ConfigError(
            [
                "wid: FreeTDS cannot open the Windows Internal Database's named pipe; install "
                "'ODBC Driver 18 for SQL Server' on the WSUS host"
            ]
        )
    if target.ca_file and family != "freetds":
        raise ConfigError(
            [
                f"ca_file: '{driver}' checks the server certificate against the system's trusted "
                "CAs and has no setting for a CA file; install the issuing CA there "
                "(update-ca-certificates, or the Windows certificate store) and remove ca_file"
            ]
        )
    if family == "freetds" and target.ca_file:
        assert target.server is not None
        section = freetds_conf.section_for(target.server, target.port, target.ca_file)
        if not Path(target.ca_file).is_file():
            raise ConfigError([f"ca_file: {target.ca_file} is not a readable file"])
        server = [f"Servername={section}"]
    elif family == "freetds":
        assert target.server is not None
        server = [f"SERVER={target.server}"] + ([f"PORT={target.port}"] if target.port else [])
        server.append("TDS_Version=7.4")
    else:
        server = [f"SERVER={target.server_address}"]
    parts = [
        f"DRIVER={_braced(driver)}",
        *server,
        f"DATABASE={_braced(target.database)}",
        f"APP={APP_NAME}",
    ]
    if target.auth == "windows":
        parts.append("Trusted_Connection=yes")
    elif family == "freetds" and "}" in (password or ""):
        # ODBC quotes a value in braces and doubles a closing brace inside it; FreeTDS's parser
        # does not undo the doubling, so it would send another password (admin review O04).
        raise ConfigError(
            [
                "password: it contains '}', which FreeTDS cannot receive in a connection string; "
                "use 'ODBC Driver 18 for SQL Server', or a password without '}'"
            ]
        )
    else:
        parts.append(f"UID={_braced(target.username or '')}")
        parts.append(f"PWD={_braced(password or '')}")
    parts.extend(_encryption(target, driver, family))
    if family in ("msodbc17", "msodbc18"):
        # Idle connection resiliency (on by default since Driver 17.2, ConnectRetryCount=1)
        # reconnects a broken idle connection by itself and restores the session's settings,
        # but not its application lock: the run would go on working on a session that does not
        # hold the lock. With 0 a broken link reaches the executor, which takes the lock again
        # before anything else (jobs/db/lock.py).
        parts.append("ConnectRetryCount=0")
    return ";".join(parts) + ";"


class Cursor(Protocol):
    """What the executor uses of a DB-API cursor (pyodbc's, or the simulated SUSDB's)."""

    rowcount: int

    @property
    def description(self) -> Any: ...

    @property
    def messages(self) -> Any: ...

    def execute(self, sql: str, params: Any = ...) -> Any: ...

    def fetchmany(self, size: int = ...) -> Any: ...

    def fetchall(self) -> Any: ...

    def nextset(self) -> Any: ...

    def cancel(self) -> None: ...

    def close(self) -> None: ...


class Connection(Protocol):
    """What the executor uses of a DB-API connection (autocommit, a query timeout in seconds)."""

    timeout: int

    def cursor(self) -> Cursor: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class TargetKind:
    """One kind of target, declared once (``KINDS``): how to reach it and what time it runs on."""

    name: str
    open: Callable[[Endpoint, Clock | None], Connection]
    describe: Callable[[Any], str]  # for events and tables
    address: Callable[[Any], str]  # where a connection goes, as an administrator writes it
    # The clock a run on this kind keeps its window, ages and history by: the host's for a real
    # server; for the simulated SUSDB the modelled one it shares with the server (a night in
    # seconds), standing where the catalog's own clock stands.
    run_clock: Callable[[Any], Clock]
    query_timeout: Callable[[Any], int]  # default seconds per statement


@dataclass
class Endpoint:
    """How to reach one target; safe to print (its repr carries no secret)."""

    name: str
    target: SqlServerTarget | SimulatorTarget

    def __repr__(self) -> str:
        return f"Endpoint(name={self.name!r}, kind={self.target.kind!r})"

    @property
    def kind(self) -> TargetKind:
        return KINDS[self.target.kind]

    def describe(self) -> str:
        return self.kind.describe(self.target)

    def address(self) -> str:
        """Where a connection goes, as an administrator writes it: host:port, or the WID pipe."""
        return self.kind.address(self.target)


def _sqlserver_address(target: SqlServerTarget) -> str:
    if target.wid:
        return target.server_address.removeprefix("np:")
    assert target.server is not None
    if target.port or "\\" not in target.server:
        return f"{target.server}:{target.port or DEFAULT_PORT}"
    return target.server


def _name_resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return True


def connect_failure(endpoint: Endpoint, error: BaseException, driver: str) -> DatabaseError:
    """The error for a connection that never opened: what failed, in an administrator's words,
    then the driver's own text."""
    from jobs.db.classify import connect_cause, message_of, native_of, sqlstate_of

    error_class, cause, ambiguous = connect_cause(error)
    target = endpoint.target
    if (
        ambiguous
        and isinstance(target, SqlServerTarget)
        and target.server
        and not _name_resolves(target.server.split("\\")[0])
    ):
        from jobs.errors import ConnectFailed

        error_class, cause = ConnectFailed, "name does not resolve"
    if isinstance(target, SqlServerTarget) and target.ca_file and cause.startswith("the server"):
        # FreeTDS says no more than this when the certificate fails its check.
        cause += "; or its certificate was not issued by the CA in ca_file, or names another host"
    detail = message_of(error)
    message = f"could not connect to {endpoint.name} ({endpoint.address()}): {cause}"
    if detail and detail not in cause:
        message += f" [{driver}: {detail}]"
    return error_class(
        redact_text(message),
        sqlstate=sqlstate_of(error),
        native=native_of(error),
        statement="connect",
    )


def open_connection(
    endpoint: Endpoint, *, clock: Clock | None = None, query_timeout: int | None = None
) -> Connection:
    """Return an autocommit DB-API connection to the endpoint. Raise DatabaseError (classified)."""
    connection = endpoint.kind.open(endpoint, clock)
    default_timeout = endpoint.kind.query_timeout(endpoint.target)
    connection.timeout = default_timeout if query_timeout is None else query_timeout
    return connection


def _open_simulator(endpoint: Endpoint, clock: Clock | None) -> Connection:
    from jobs.simulator import FaultPlan, connect

    target = endpoint.target
    assert isinstance(target, SimulatorTarget)
    faults = FaultPlan(**target.faults.model_dump())
    try:
        return connect(
            Path(target.path).expanduser(),
            faults=faults,
            latency=target.latency_ms / 1000.0,
            clock=clock,
            cost_model=target.cost_model,
        )
    except Exception as error:
        raise connect_failure(endpoint, error, "simulator") from None


def _simulator_clock(target: SimulatorTarget) -> Clock:
    from jobs.simulator import catalog_clock

    return catalog_clock(Path(target.path).expanduser())


def _open_sqlserver(endpoint: Endpoint, clock: Clock | None) -> Connection:
    target = endpoint.target
    assert isinstance(target, SqlServerTarget)
    if problem := target.platform_problem():
        raise ConfigError([f"targets.{endpoint.name}: {problem}"])
    try:
        import pyodbc
    except ImportError as error:
        raise ConfigError(
            [
                f"pyodbc cannot be imported ({error}); install unixODBC (apt-get install "
                "unixodbc) and the sqlserver extra: pip install '.[sqlserver]' in the "
                "susdb-maint folder (the Windows bundle carries it)"
            ]
        ) from None
    # Session state (the target lock, an open transaction) must die with the connection: a
    # pooled connection would keep it alive in the driver manager. Read once, before the
    # first connection allocates the environment.
    pyodbc.pooling = False
    password = resolve_password(target)
    try:
        driver = choose_driver(target.driver, list(pyodbc.drivers()))
        text = connection_string(target, driver, password)
    except ConfigError as error:
        # Name the setting where the administrator wrote it: targets.NAME.encrypt, ...
        raise ConfigError([f"targets.{endpoint.name}.{line}" for line in error.problems]) from None
    try:
        connection: Connection = pyodbc.connect(text, autocommit=True, timeout=target.login_timeout)
    except pyodbc.Error as error:
        failure = connect_failure(endpoint, error, driver)
        freetds = driver_family(driver) == "freetds"
        if refused_login.needs_master(failure, target.database, freetds):

            def open_master() -> Connection | None:
                master = target.model_copy(update={"database": refused_login.MASTER})
                try:
                    opened: Connection = pyodbc.connect(
                        connection_string(master, driver, password),
                        autocommit=True,
                        timeout=target.login_timeout,
                    )
                except pyodbc.Error:
                    return None  # master refuses too: the login is the cause
                return opened

            failure = refused_login.explain(
                failure,
                f"targets.{endpoint.name}.database",
                target.database,
                f"could not connect to {endpoint.name} ({endpoint.address()})",
                open_master,
            )
        raise failure from None
    return connection


def _simulated(target: SimulatorTarget) -> str:
    return f"simulated SUSDB {target.path}"


# Every kind of target, in one place: adding one means adding it here (and its settings model).
KINDS: dict[str, TargetKind] = {
    "sqlserver": TargetKind(
        "sqlserver",
        _open_sqlserver,
        describe=lambda target: f"{target.server_address}/{target.database}",
        address=_sqlserver_address,
        run_clock=lambda target: SystemClock(),
        query_timeout=lambda target: int(target.query_timeout),
    ),
    "simulator": TargetKind(
        "simulator",
        _open_simulator,
        describe=_simulated,
        address=_simulated,
        run_clock=_simulator_clock,
        query_timeout=lambda target: 600,
    ),
}
