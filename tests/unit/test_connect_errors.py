"""A connection that never opens is one line an administrator can act on: what, where, why.

The driver texts are the real ones: Microsoft's ODBC Driver 17/18 as they appear in pyodbc
(issue reports quoted in the comments), and FreeTDS's, produced here by connecting to a closed
port, a name that does not resolve and a port that never answers.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from jobs import errors
from jobs.db import connection as module
from jobs.db.classify import classify, connect_cause
from jobs.exit_codes import ExitCode
from jobs.settings.model import SqlServerTarget
from tests.helpers import run_cli


class Error(Exception):
    """Stands in for pyodbc.Error: the classifier reads only ``args``."""


MICROSOFT = [
    # sqlcmd / pyodbc on Linux, "Error code 0x2AF9 usually means that the servers hostname
    # couldn't be resolved" (microsoft/msphpsql#1023).
    (
        (
            "08001",
            "[08001] [Microsoft][ODBC Driver 18 for SQL Server]TCP Provider: Error code 0x2AF9 (11001) (SQLDriverConnect)",
        ),
        errors.ConnectFailed,
        "name does not resolve",
    ),
    (
        (
            "08001",
            "[08001] [Microsoft][ODBC Driver 18 for SQL Server]TCP Provider: No connection could be made because the target machine actively refused it.\r\n (10061) (SQLDriverConnect)",
        ),
        errors.ConnectFailed,
        "refused",
    ),
    (
        (
            "HYT00",
            "[HYT00] [Microsoft][ODBC Driver 18 for SQL Server]Login timeout expired (0) (SQLDriverConnect)",
        ),
        errors.ConnectFailed,
        "timed out",
    ),
    # mkleehammer/pyodbc#1319
    (
        (
            "08001",
            "[08001] [Microsoft][ODBC Driver 18 for SQL Server]TCP Provider: The wait operation timed out.\r\n (258) (SQLDriverConnect)",
        ),
        errors.ConnectFailed,
        "timed out",
    ),
    (
        (
            "28000",
            "[28000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Login failed for user 'CONTOSO\\svc-wsus'. (18456) (SQLDriverConnect)",
        ),
        errors.LoginFailed,
        "login failed for CONTOSO\\svc-wsus",
    ),
    (
        (
            "42000",
            '[42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Cannot open database "SUSDB" requested by the login. The login failed. (4060) (SQLDriverConnect)',
        ),
        errors.LoginFailed,
        "the login cannot open database SUSDB",
    ),
    (
        (
            "08001",
            "[08001] [Microsoft][ODBC Driver 18 for SQL Server]SSL Provider: [error:0A000086:SSL routines::certificate verify failed:self-signed certificate] (-1) (SQLDriverConnect)",
        ),
        errors.ConnectionSettingRefused,
        "the server's TLS certificate is not trusted",
    ),
    (
        (
            "08001",
            "[08001] [Microsoft][ODBC Driver 18 for SQL Server]SSL Provider: [error:0A000086:SSL routines::certificate verify failed:subject name does not match host name] (-1) (SQLDriverConnect)",
        ),
        errors.ConnectionSettingRefused,
        "the server's TLS certificate names another host",
    ),
    (
        (
            "HY000",
            "[HY000] [Microsoft][ODBC Driver 18 for SQL Server]SSPI Provider: No Kerberos credentials available (default cache: FILE:/tmp/krb5cc_0) (851968) (SQLDriverConnect)",
        ),
        errors.LoginFailed,
        "integrated authentication found no Kerberos ticket",
    ),
    (
        (
            "08001",
            "[08001] [Microsoft][ODBC Driver 18 for SQL Server]Named Pipes Provider: Could not open a connection to SQL Server [2].  (2) (SQLDriverConnect)",
        ),
        errors.ConnectFailed,
        "the named pipe cannot be opened",
    ),
    # "SQLSTATE[08001]: [Microsoft][ODBC Driver 1[1-9] for SQL Server]Invalid value specified for
    # connection string attribute 'ColumnEncryption'" (microsoft/msphpsql#532): Driver 17 given
    # Encrypt=mandatory says the same of 'Encrypt'.
    (
        (
            "08001",
            "[08001] [Microsoft][ODBC Driver 17 for SQL Server]Invalid value specified for connection string attribute 'Encrypt' (0) (SQLDriverConnect)",
        ),
        errors.ConnectionSettingRefused,
        "the ODBC driver refuses the value given to its setting Encrypt",
    ),
    (
        (
            "01S00",
            "[01S00] [Microsoft][ODBC Driver 17 for SQL Server]Invalid connection string attribute (0) (SQLDriverConnect)",
        ),
        errors.ConnectionSettingRefused,
        "the ODBC driver does not know one of the connection settings",
    ),
    # Produced on this machine (unixODBC) and reported on Windows (mkleehammer/pyodbc#648).
    (
        (
            "01000",
            "[01000] [unixODBC][Driver Manager]Can't open lib 'ODBC Driver 18 for SQL Server' : file not found (0) (SQLDriverConnect)",
        ),
        errors.ConnectionSettingRefused,
        "the ODBC driver is not installed",
    ),
    (
        (
            "IM002",
            "[IM002] [Microsoft][ODBC Driver Manager] Data source name not found and no default driver specified (0) (SQLDriverConnect)",
        ),
        errors.ConnectionSettingRefused,
        "the ODBC driver is not installed",
    ),
]
FREETDS = [
    (
        (
            "08S01",
            "[08S01] [FreeTDS][SQL Server]Unable to connect: Adaptive Server is unavailable or does not exist (20009) (SQLDriverConnect)",
        ),
        errors.ConnectFailed,
        "refused",
    ),
    (
        ("HYT00", "[HYT00] [FreeTDS][SQL Server]Timeout expired (0) (SQLDriverConnect)"),
        errors.ConnectFailed,
        "timed out",
    ),
    (
        (
            "08001",
            "[08001] [FreeTDS][SQL Server]Unable to connect to data source (0) (SQLDriverConnect)",
        ),
        errors.ConnectFailed,
        "the server closed the connection",
    ),
]


@pytest.mark.parametrize(("args", "expected", "cause"), MICROSOFT + FREETDS)
def test_each_driver_text_translates_into_a_cause_an_administrator_can_act_on(
    args, expected, cause
):
    error_class, text, _ = connect_cause(Error(*args))
    assert error_class is expected and text.startswith(cause)


def test_a_refused_connection_setting_is_a_configuration_error_not_a_lost_connection():
    (refused,) = [args for args, _, _ in MICROSOFT if "Invalid value specified" in args[1]]
    error = classify(Error(*refused))
    assert isinstance(error, errors.ConnectionSettingRefused)
    assert not isinstance(error, errors.ConnectionLost) and not error.retryable
    assert error.exit_code == ExitCode.BAD_USAGE


# -- FreeTDS, for real ---------------------------------------------------------------------------


def freetds() -> None:
    pyodbc = pytest.importorskip("pyodbc", reason="pyodbc cannot load here", exc_type=ImportError)
    if "FreeTDS" not in pyodbc.drivers():
        pytest.skip("FreeTDS is not installed (apt-get install tdsodbc)")


def endpoint(server: str, port: int, **values: object) -> module.Endpoint:
    target = SqlServerTarget.model_validate(
        {
            "kind": "sqlserver",
            "server": server,
            "port": port,
            "driver": "FreeTDS",
            "auth": "sql",
            "username": "susdb_maint",
            "password_env": "SUSDB_TEST_UNUSED_PASSWORD",
            "encrypt": "optional",
            "login_timeout": 1,
            **values,
        }
    )
    return module.Endpoint("wsus01", target)


@pytest.fixture
def password(monkeypatch):
    monkeypatch.setenv("SUSDB_TEST_UNUSED_PASSWORD", "not-a-real-password")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts a TCP connection and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
    yield listener.getsockname()[1]
    for connection in held:
        connection.close()
    listener.close()


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def failure(target: module.Endpoint) -> errors.DatabaseError:
    with pytest.raises(errors.DatabaseError) as caught:
        module.open_connection(target)
    return caught.value


def test_a_closed_port_is_refused_never_a_lost_connection(password):
    freetds()
    port = closed_port()
    error = failure(endpoint("127.0.0.1", port))
    assert isinstance(error, errors.ConnectFailed) and error.kind == "unreachable"
    assert str(error).startswith(f"could not connect to wsus01 (127.0.0.1:{port}): refused")


def test_a_name_that_does_not_resolve_says_so(password):
    freetds()
    error = failure(endpoint("wsus-nonexistent.invalid", 1433))
    assert str(error).startswith(
        "could not connect to wsus01 (wsus-nonexistent.invalid:1433): name does not resolve"
    )


@pytest.mark.slow
def test_a_port_that_never_answers_times_out(password, silent_port):
    freetds()
    error = failure(endpoint("127.0.0.1", silent_port))
    assert str(error).startswith(
        f"could not connect to wsus01 (127.0.0.1:{silent_port}): timed out"
    )
    assert "[FreeTDS: Timeout expired" in str(error)  # the driver's own words come after ours


def test_odbc_connection_pooling_is_off_before_the_first_connection(password, monkeypatch):
    pyodbc = pytest.importorskip("pyodbc", reason="pyodbc cannot load here", exc_type=ImportError)
    seen = []

    def connect(*args, **kwargs):
        seen.append(pyodbc.pooling)
        raise pyodbc.OperationalError("HYT00", "[HYT00] [FreeTDS][SQL Server]Timeout expired (0)")

    monkeypatch.setattr(pyodbc, "pooling", True)
    monkeypatch.setattr(pyodbc, "connect", connect)
    monkeypatch.setattr(pyodbc, "drivers", lambda: ["FreeTDS"])
    failure(endpoint("127.0.0.1", 1))
    assert seen == [False]


@pytest.mark.slow
def test_a_driver_that_is_not_installed_is_exit_2_naming_the_installed_ones(tmp_path):
    pyodbc = pytest.importorskip("pyodbc", reason="pyodbc cannot load here", exc_type=ImportError)
    config = tmp_path / "c.toml"
    config.write_text(
        '[backup]\ngate = "off"\n[targets.wsus01]\nkind = "sqlserver"\nserver = "sql01.contoso.com"\n'
        'driver = "ODBC Driver 99 for SQL Server"\n'
    )
    result = run_cli("--config", str(config), "--state-dir", str(tmp_path / "state"), "run")
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("susdb-maint:")]
    assert "targets.wsus01.driver: 'ODBC Driver 99 for SQL Server' is not installed" in line
    assert all(f"'{name}'" in line for name in pyodbc.drivers())


# -- a refused login: the password, or the database? ---------------------------------------------
FREETDS_LOGIN_FAILED = (
    "28000",
    "[28000] [FreeTDS][SQL Server]Login failed for user 'susdb_maint'. (18456) (SQLDriverConnect)",
)
DRIVER18_CANNOT_OPEN = (
    "42000",
    '[42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Cannot open database "SUSDB2" '
    "requested by the login. The login failed. (4060) (SQLDriverConnect)",
)
DRIVER18_LOGIN_FAILED = (
    "28000",
    "[28000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Login failed for user "
    "'susdb_maint'. (18456) (SQLDriverConnect)",
)


class Server:
    """Stands in for pyodbc.connect: a server with these databases and one password."""

    def __init__(self, pyodbc, databases, password, refusal, cannot_open=None):
        self.pyodbc = pyodbc
        self.databases = databases
        self.password = password
        self.refusal = refusal  # what the driver reports for a refused login
        self.cannot_open = cannot_open or refusal  # and for a database the login cannot open
        self.logins: list[str] = []

    def connect(self, text, **options):
        fields = dict(part.split("=", 1) for part in text.strip(";").split(";"))
        database = fields["DATABASE"].strip("{}")
        self.logins.append(database)
        if fields["PWD"].strip("{}") != self.password:
            raise self.pyodbc.Error(*self.refusal)
        if database != "master":
            raise self.pyodbc.Error(*self.cannot_open)
        return Master(self.databases)


class Master:
    def __init__(self, databases):
        self.databases = databases

    def cursor(self):
        return self

    def execute(self, text, *params):
        assert "-- name: database_names" in text
        return self

    def fetchall(self):
        return [(name,) for name in self.databases]

    def close(self):
        pass


@pytest.fixture
def fake_server(monkeypatch):
    pyodbc = pytest.importorskip("pyodbc", reason="pyodbc cannot load here", exc_type=ImportError)
    monkeypatch.setenv("SUSDB_TEST_UNUSED_PASSWORD", "Right-Secret-1")

    def serve(driver, databases, refusal, cannot_open=None, password="Right-Secret-1"):
        server = Server(pyodbc, databases, password, refusal, cannot_open)
        monkeypatch.setattr(pyodbc, "connect", server.connect)
        monkeypatch.setattr(pyodbc, "drivers", lambda: [driver])
        return server

    return serve


def refusal(database: str = "SUSDB2", driver: str = "FreeTDS") -> errors.DatabaseError:
    return failure(endpoint("sql01", 1433, database=database, driver=driver))


def test_a_database_master_accepts_the_login_for_is_named_with_the_servers_databases(fake_server):
    server = fake_server(
        "FreeTDS", ["master", "tempdb", "model", "msdb", "SUSDB"], FREETDS_LOGIN_FAILED
    )
    error = refusal()
    assert isinstance(error, errors.LoginFailed) and error.native == 4060
    assert str(error) == (
        "could not connect to wsus01 (sql01:1433): targets.wsus01.database: 'SUSDB2' is not a "
        "database on this server (it has master, model, msdb, SUSDB, tempdb; did you mean "
        "'SUSDB'?); the login itself is accepted: it opens master"
    )
    assert server.logins == ["SUSDB2", "master"]


def test_a_password_master_refuses_too_is_a_refused_login_and_never_shown(fake_server):
    server = fake_server("FreeTDS", ["master", "SUSDB"], FREETDS_LOGIN_FAILED, password="other")
    error = refusal()
    assert isinstance(error, errors.LoginFailed) and error.native == 18456
    assert "login failed for susdb_maint" in str(error) and "database" not in str(error)
    assert "Right-Secret-1" not in str(error) and server.logins == ["SUSDB2", "master"]


def test_driver_18s_18456_is_the_login_so_no_second_login_is_made(fake_server):
    # Driver 18 reports the first error, 4060, for a database: 18456 alone is the password, and
    # a second failed login would only bring a lockout policy's threshold nearer.
    server = fake_server(
        "ODBC Driver 18 for SQL Server", ["master"], DRIVER18_LOGIN_FAILED, password="other"
    )
    error = refusal(driver="ODBC Driver 18 for SQL Server")
    assert "login failed for susdb_maint" in str(error) and server.logins == ["SUSDB2"]


def test_driver_18s_4060_is_named_with_the_servers_databases(fake_server):
    fake_server(
        "ODBC Driver 18 for SQL Server",
        ["master", "SUSDB"],
        DRIVER18_LOGIN_FAILED,
        cannot_open=DRIVER18_CANNOT_OPEN,
    )
    error = refusal(driver="ODBC Driver 18 for SQL Server")
    assert "targets.wsus01.database: 'SUSDB2' is not a database on this server" in str(error)


def test_a_database_the_server_has_but_the_login_cannot_open_says_so(fake_server):
    fake_server("FreeTDS", ["master", "SUSDB"], FREETDS_LOGIN_FAILED)
    error = refusal(database="susdb")
    assert str(error).startswith(
        "could not connect to wsus01 (sql01:1433): targets.wsus01.database: the login cannot "
        "open 'susdb', which this server has"
    )


def test_a_long_list_of_databases_is_cut_at_ten(fake_server):
    fake_server(
        "FreeTDS", ["master"] + [f"Shop{number:02}" for number in range(20)], FREETDS_LOGIN_FAILED
    )
    error = str(refusal())
    assert "Shop08, and 11 more" in error and "Shop09" not in error
