"""Open DB-API connections to a target: pyodbc for SQL Server and WID, or the simulated SUSDB.

pyodbc is imported lazily, here only, so the simulator, the demo and the unit tests run on a
machine without unixODBC.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.errors import ConfigError, DatabaseError
from jobs.redaction import redact_text, register_secret
from jobs.settings.model import SimulatorTarget, SqlServerTarget

PREFERRED_DRIVERS = ("ODBC Driver 18 for SQL Server", "ODBC Driver 17 for SQL Server", "FreeTDS")
APP_NAME = "susdb-maint"


def resolve_password(target: SqlServerTarget, environ: Any = None) -> str | None:
    """Return the SQL password from its reference (never from the config file itself)."""
    environ = os.environ if environ is None else environ
    if target.auth != "sql":
        return None
    if target.password_env:
        value = environ.get(target.password_env)
        if not value:
            raise ConfigError(
                [f"password_env: environment variable {target.password_env} is not set or empty"]
            )
    else:
        assert target.password_file is not None
        try:
            value = (
                Path(target.password_file)
                .expanduser()
                .read_text(encoding="utf-8")
                .splitlines()[0]
                .strip()
            )
        except (OSError, IndexError) as error:
            raise ConfigError(
                [f"password_file: cannot read a password from {target.password_file}: {error}"]
            ) from None
    register_secret(value)
    return value


def _braced(value: str) -> str:
    """Quote an ODBC attribute value: braces, with closing braces doubled."""
    return "{" + value.replace("}", "}}") + "}"


def choose_driver(configured: str | None, installed: list[str]) -> str:
    if configured:
        return configured
    for name in PREFERRED_DRIVERS:
        if name in installed:
            return name
    listed = ", ".join(installed) or "none"
    raise ConfigError(
        [
            f"driver: no SQL Server ODBC driver found (installed ODBC drivers: {listed}); install "
            "'ODBC Driver 18 for SQL Server' (or FreeTDS: apt-get install tdsodbc) or set driver"
        ]
    )


def connection_string(target: SqlServerTarget, driver: str, password: str | None) -> str:
    """Build the ODBC connection string for a SQL Server or WID target."""
    parts = [
        f"DRIVER={_braced(driver)}",
        f"SERVER={target.server_address}",
        f"DATABASE={_braced(target.database)}",
        f"APP={APP_NAME}",
    ]
    if target.auth == "windows":
        parts.append("Trusted_Connection=yes")
    else:
        parts.append(f"UID={_braced(target.username or '')}")
        parts.append(f"PWD={_braced(password or '')}")
    if driver == "FreeTDS":
        # FreeTDS speaks TDS 7.4 and knows Encrypt only as on/off ("require"), not mandatory/strict.
        parts.append("TDS_Version=7.4")
        parts.append(f"Encrypt={'no' if target.effective_encrypt == 'optional' else 'yes'}")
    else:
        parts.append(f"Encrypt={target.effective_encrypt}")
        parts.append(f"TrustServerCertificate={'yes' if target.trust_server_certificate else 'no'}")
    return ";".join(parts) + ";"


@dataclass
class Endpoint:
    """How to reach one target; safe to print (its repr carries no secret)."""

    name: str
    target: SqlServerTarget | SimulatorTarget

    def __repr__(self) -> str:
        return f"Endpoint(name={self.name!r}, kind={self.target.kind!r})"

    def describe(self) -> str:
        if isinstance(self.target, SimulatorTarget):
            return f"simulated SUSDB {self.target.path}"
        return f"{self.target.server_address}/{self.target.database}"


def open_connection(
    endpoint: Endpoint, *, clock: Any = None, query_timeout: int | None = None
) -> Any:
    """Return an autocommit DB-API connection to the endpoint. Raise DatabaseError (classified)."""
    from jobs.db.classify import classify

    target = endpoint.target
    if isinstance(target, SimulatorTarget):
        from jobs.simulator import FaultPlan, connect

        faults = FaultPlan(**target.faults.model_dump())
        try:
            connection = connect(
                Path(target.path).expanduser(),
                faults=faults,
                latency=target.latency_ms / 1000.0,
                clock=clock,
                cost_model=target.cost_model,
            )
        except Exception as error:
            raise classify(error, "connect") from None
    else:
        if problem := target.platform_problem():
            raise ConfigError([f"targets.{endpoint.name}: {problem}"])
        try:
            import pyodbc
        except ImportError as error:
            raise DatabaseError(
                f"pyodbc cannot be imported ({error}); install unixODBC (apt-get install unixodbc) and "
                "pip install 'susdb-maint[sqlserver]'"
            ) from None
        password = resolve_password(target)
        driver = choose_driver(target.driver, list(pyodbc.drivers()))
        try:
            connection = pyodbc.connect(
                connection_string(target, driver, password),
                autocommit=True,
                timeout=target.login_timeout,
            )
        except pyodbc.Error as error:
            classified = classify(error, "connect")
            classified.args = (redact_text(str(classified)),)
            raise classified from None
    default_timeout = target.query_timeout if isinstance(target, SqlServerTarget) else 0
    connection.timeout = default_timeout if query_timeout is None else query_timeout
    return connection
