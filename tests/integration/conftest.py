"""The integration tier: the real driver stack (pyodbc, unixODBC, an ODBC driver) and a server.

Which server ``fixture_database`` uses, the first that applies:

1. ``$SUSDB_TEST_DSN``: a real SQL Server (an ODBC connection string to a scratch server);
2. a reachable Docker engine: SQL Server 2022 in a container (testcontainers);
3. otherwise the served simulator: a fresh simulated SUSDB behind ``susdb-maint simulator serve``
   on a free loopback port, reached through pyodbc and FreeTDS.

On a real server the database is built from ``tests/fixtures/susdb_fixture.sql``; on the served
simulator it is a copy of a generated catalog. The tests are shared, the setup is not. The
scenarios in ``test_real_driver.py`` need the simulator's call log, so they always use the served
simulator. Without pyodbc or FreeTDS the tier is skipped with the reason; where .ci/run installed
them (``SUSDB_REQUIRE_DRIVER_TIER``) it fails instead, so it never passes by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import copy_sim
from tests.integration.drivers import DRIVER18, FREETDS, driver18_problem
from tests.integration.drivers import REQUIRED as DRIVER18_REQUIRED
from tests.integration.served import (
    DRIVER,
    PASSWORD_ENV,
    Database,
    Served,
    driver_problem,
    unavailable,
)

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


@contextmanager
def _real_server() -> Iterator[tuple[str, dict[str, str]] | None]:
    """A real SQL Server's tier and ODBC fields (SERVER, UID, PWD, DRIVER), or None."""
    dsn = os.environ.get("SUSDB_TEST_DSN")
    if dsn:
        yield "dsn", _odbc_fields(dsn)
        return
    if _docker_available() is not None:
        yield None
        return
    from testcontainers.mssql import SqlServerContainer

    password = "Susdb-" + uuid.uuid4().hex[:12] + "!"
    with SqlServerContainer(IMAGE, password=password) as container:
        server = f"{container.get_container_host_ip()},{container.get_exposed_port(1433)}"
        yield "container", {"SERVER": server, "UID": "sa", "PWD": password, "DRIVER": ""}


def _scratch_database(tier: str, fields: dict[str, str]) -> Iterator[Database]:
    """Create a scratch SUSDB from tests/fixtures/susdb_fixture.sql; drop it afterwards."""
    try:
        import pyodbc
    except ImportError as error:
        unavailable(f"pyodbc cannot load ({error}); install unixodbc and an ODBC driver")
    from jobs.db.connection import choose_driver
    from jobs.db.tsql import split_batches

    driver = choose_driver(fields.get("DRIVER") or None, pyodbc.drivers())
    name = f"SUSDB_test_{uuid.uuid4().hex[:8]}"
    base = (
        f"DRIVER={{{driver}}};SERVER={fields['SERVER']};UID={fields['UID']};PWD={{{fields['PWD']}}};"
        "Encrypt=optional;TrustServerCertificate=yes;"
    )
    master = pyodbc.connect(base + "DATABASE=master;", autocommit=True, timeout=30)
    master.execute(f"CREATE DATABASE [{name}]")
    database = pyodbc.connect(base + f"DATABASE={name};", autocommit=True, timeout=30)
    for batch in split_batches(FIXTURE.read_text(encoding="utf-8")):
        database.execute(batch.text)
    database.close()
    os.environ[PASSWORD_ENV] = fields["PWD"]
    host, _, port = fields["SERVER"].partition(",")
    yield Database(tier, host, int(port) if port else None, name, fields["UID"], driver)
    master.execute(f"ALTER DATABASE [{name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
    master.execute(f"DROP DATABASE [{name}]")
    master.close()


def _served_database(directory: Path, template: Path) -> Iterator[Database]:
    problem = driver_problem()
    if problem:
        unavailable(problem)
    served = Served(copy_sim(template, directory))
    try:
        target = served.target()
        yield Database(
            "served",
            target["server"],
            target["port"],
            target["database"],
            target["username"],
            DRIVER,
            served.sim,
        )
    finally:
        served.stop()


@pytest.fixture(scope="session")
def fixture_database(
    tmp_path_factory: pytest.TempPathFactory, small_template: Path
) -> Iterator[Database]:
    """The shared tests' SUSDB: on a real server if there is one, else on the served simulator."""
    with _real_server() as real:
        if real is None:
            yield from _served_database(tmp_path_factory.mktemp("served"), small_template)
        else:
            yield from _scratch_database(*real)


@pytest.fixture(params=[FREETDS, DRIVER18], ids=["freetds", "driver18"])
def odbc_driver(request: pytest.FixtureRequest) -> str:
    """Each scenario through each driver: FreeTDS, and Microsoft's ODBC Driver 18 (from the
    mssql-python-odbc wheel, tests/integration/drivers.py). Where .ci/run installed what Driver 18
    needs, its leg fails instead of skipping."""
    driver = str(request.param)
    if driver == DRIVER18:
        problem = driver18_problem()
        if problem:
            if os.environ.get(DRIVER18_REQUIRED):
                pytest.fail(f"{DRIVER18} cannot run, but {DRIVER18_REQUIRED} is set: {problem}")
            pytest.skip(f"{DRIVER18} leg skipped: {problem}")
    return driver


@pytest.fixture
def serve(odbc_driver: str) -> Iterator[Callable[..., Served]]:
    """Start served simulators for one test (``serve(sim_path, **ServeOptions)``), reached through
    ``odbc_driver``; stop them after."""
    problem = driver_problem()
    if problem:
        unavailable(problem)
    started: list[Served] = []

    def start(sim: Path, **options: Any) -> Served:
        served = Served(sim, driver=odbc_driver, **options)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()
