"""The integration tier: a real SQL Server, from $SUSDB_TEST_DSN or testcontainers, else skipped."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "susdb_fixture.sql"
IMAGE = "mcr.microsoft.com/mssql/server:2022-latest"


def _odbc_fields(dsn: str) -> dict[str, str]:
    fields = {}
    for part in dsn.split(";"):
        if "=" in part:
            key, value = part.split("=", 1)
            fields[key.strip().upper()] = value.strip().strip("{}")
    return fields


def _docker_available() -> str | None:
    try:
        import docker

        docker.from_env().ping()
        return None
    except Exception as error:  # no engine, no socket, no permission: all mean "cannot run here"
        return f"{type(error).__name__}: {str(error)[:120]}"


@pytest.fixture(scope="session")
def sqlserver() -> Iterator[dict[str, str]]:
    """Yield the ODBC fields of a reachable SQL Server (SERVER, UID, PWD, DRIVER)."""
    try:
        import pyodbc  # noqa: F401
    except ImportError as error:
        pytest.skip(
            f"integration tier skipped: pyodbc cannot load ({error}); install unixodbc and an ODBC driver"
        )
    dsn = os.environ.get("SUSDB_TEST_DSN")
    if dsn:
        yield _odbc_fields(dsn)
        return
    problem = _docker_available()
    if problem:
        pytest.skip(
            f"integration tier skipped: no SQL Server (set SUSDB_TEST_DSN, or run where a Docker engine is "
            f"reachable for testcontainers; here: {problem})"
        )
    from testcontainers.mssql import SqlServerContainer

    password = "Susdb-" + uuid.uuid4().hex[:12] + "!"
    with SqlServerContainer(IMAGE, password=password) as container:
        server = f"{container.get_container_host_ip()},{container.get_exposed_port(1433)}"
        yield {"SERVER": server, "UID": "sa", "PWD": password, "DRIVER": ""}


@pytest.fixture(scope="session")
def fixture_database(sqlserver: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Create a scratch SUSDB from tests/fixtures/susdb_fixture.sql; drop it afterwards."""
    import pyodbc

    from jobs.db.connection import choose_driver
    from jobs.db.tsql import split_batches

    driver = choose_driver(sqlserver.get("DRIVER") or None, pyodbc.drivers())
    name = f"SUSDB_test_{uuid.uuid4().hex[:8]}"
    base = (
        f"DRIVER={{{driver}}};SERVER={sqlserver['SERVER']};UID={sqlserver['UID']};PWD={{{sqlserver['PWD']}}};"
        "Encrypt=optional;TrustServerCertificate=yes;"
    )
    master = pyodbc.connect(base + "DATABASE=master;", autocommit=True, timeout=30)
    master.execute(f"CREATE DATABASE [{name}]")
    database = pyodbc.connect(base + f"DATABASE={name};", autocommit=True, timeout=30)
    for batch in split_batches(FIXTURE.read_text(encoding="utf-8")):
        database.execute(batch.text)
    database.close()
    os.environ["SUSDB_TEST_PASSWORD"] = sqlserver["PWD"]
    host, _, port = sqlserver["SERVER"].partition(",")
    yield {
        "database": name,
        "server": host,
        "port": int(port) if port else None,
        "username": sqlserver["UID"],
        "driver": driver,
    }
    master.execute(f"ALTER DATABASE [{name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
    master.execute(f"DROP DATABASE [{name}]")
    master.close()
