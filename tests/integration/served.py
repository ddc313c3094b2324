"""The served simulator for the integration tier: a simulated SUSDB behind FreeTDS and pyodbc."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from jobs.settings.model import Settings
from jobs.simulator.tds import ServeOptions, SimulatorServer

USER = "susdb_maint"
PASSWORD = "Served-Test-1!"
PASSWORD_ENV = "SUSDB_TEST_PASSWORD"
DRIVER = "FreeTDS"
TIER_REQUIRED = "SUSDB_REQUIRE_DRIVER_TIER"  # set by .ci/run where it installed the driver


@dataclass
class Database:
    """Where the shared integration tests run."""

    tier: str  # "dsn", "container" or "served"
    server: str
    port: int | None
    database: str
    username: str
    driver: str
    sim: Path | None = None  # the served simulator's file

    @property
    def real(self) -> bool:
        return self.tier != "served"


def unavailable(reason: str) -> NoReturn:
    """Skip the tier with the reason, or fail it where .ci/run said the driver is installed."""
    if os.environ.get(TIER_REQUIRED):
        pytest.fail(f"integration tier cannot run, but {TIER_REQUIRED} is set: {reason}")
    pytest.skip(f"integration tier skipped: {reason}")


def driver_problem() -> str | None:
    """Why the real driver stack cannot run here (None: pyodbc loads and FreeTDS is registered)."""
    try:
        import pyodbc
    except ImportError as error:
        return f"pyodbc cannot load ({error}); install unixODBC: apt-get install unixodbc tdsodbc"
    if DRIVER not in pyodbc.drivers():
        return (
            f"the {DRIVER} ODBC driver is not registered (drivers: {pyodbc.drivers() or 'none'}); "
            "install it: apt-get install tdsodbc"
        )
    return None


class Served:
    """One simulated SUSDB file served on a free loopback port, and a sqlserver target for it."""

    def __init__(self, sim: Path, *, driver: str = DRIVER, **options: Any) -> None:
        self.sim = sim
        self.driver = driver  # the ODBC driver the target names (FreeTDS, or Driver 18)
        self.server = SimulatorServer(
            ServeOptions(sim=sim, user=USER, password=PASSWORD, **options)
        ).start()
        os.environ[PASSWORD_ENV] = PASSWORD

    def target(self, **overrides: Any) -> dict[str, Any]:
        target = {
            "kind": "sqlserver",
            "server": self.server.host,
            "port": self.server.port,
            "database": self.server.options.database,
            "auth": "sql",
            "username": USER,
            "password_env": PASSWORD_ENV,
            "encrypt": "optional",  # the simulator offers no TLS
            "driver": self.driver,
        }
        target.update(overrides)
        return target

    def settings(self, *, target: dict[str, Any] | None = None, **sections: Any) -> Settings:
        """Settings with one target, ``served``; ``sections`` override config sections."""
        data: dict[str, Any] = {"targets": {"served": self.target(**(target or {}))}}
        data.setdefault("backup", {"gate": "off"})
        data.update(sections)
        return Settings.model_validate(data)

    def config(self, directory: Path, **target: Any) -> Path:
        """A config file whose one target, ``served``, is this server (for CLI runs)."""
        lines = ['[backup]\ngate = "off"\n[targets.served]']
        for key, value in self.target(**target).items():
            lines.append(f"{key} = {value!r}".replace("'", '"'))
        path = directory / "served.toml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def stop(self) -> None:
        self.server.stop()
