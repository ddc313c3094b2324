"""Test helpers: simulated SUSDBs (preset or hand-built), settings and runs, captured events."""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jobs import events
from jobs.db.catalog import statement
from jobs.runner.plan import build_plan
from jobs.runner.run import RunReport, execute_plan
from jobs.settings.model import ReindexSettings, Settings
from jobs.simulator import catalog, connect, schema
from jobs.simulator.server import ts
from jobs.stages.reindex import fragmented
from jobs.susdb import IndexStats

NOW = datetime(2026, 11, 25, 2, 0, 0)
ROOT = Path(__file__).resolve().parents[1]


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a susdb-maint subprocess: this source tree, no stray overrides."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("SUSDB_MAINT_")
    }
    environment["PYTHONPATH"] = str(ROOT)
    environment.update(extra)
    return environment


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "jobs", *args]


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run ``susdb-maint ARGS`` as an administrator would, capturing stdout and stderr."""
    return subprocess.run(
        cli_command(*args),
        capture_output=True,
        text=True,
        env=cli_env(**(env or {})),
        cwd=cwd or ROOT,
        timeout=timeout,
    )


def simulator_config(directory: Path, sim: Path, *, gate: str = "off", extra: str = "") -> Path:
    """Write a config whose one target, ``sim``, is the simulated SUSDB at ``sim``."""
    config = directory / "c.toml"
    config.write_text(
        f'[backup]\ngate = "{gate}"\n[targets.sim]\nkind = "simulator"\npath = "{sim}"\n{extra}'
    )
    return config


def settings_for(sim_path: Path, **sections: Any) -> Settings:
    """Settings with one simulated target named ``sim``; ``sections`` override config sections."""
    target = {"kind": "simulator", "path": str(sim_path)}
    target.update(sections.pop("target", {}))
    data: dict[str, Any] = {"targets": {"sim": target}}
    data.update(sections)
    return Settings.model_validate(data)


def run(
    settings: Settings, state_dir: Path, *, clock: Any = None, stop: Any = None, **plan_options: Any
) -> RunReport:
    plan_options.setdefault("target", "sim")
    plan_options.setdefault("profile", None)
    plan = build_plan(settings, **plan_options)
    return execute_plan(plan, state_dir, clock=clock, stop=stop)


def copy_sim(template: Path, directory: Path) -> Path:
    path = directory / "susdb.sqlite3"
    shutil.copyfile(template, path)
    return path


def simulated_command(
    directory: Path, sim: Path, *args: str, latency_ms: float = 0, extra: str = ""
) -> list[str]:
    """A ``susdb-maint`` command line against the simulated SUSDB at ``sim``, with JSON events,
    its config and state directory in ``directory``."""
    target_options = f"latency_ms = {latency_ms}\n" if latency_ms else ""
    config = simulator_config(directory, sim, extra=target_options + extra)
    return configured_command(config, directory / "state", *args)


def configured_command(config: Path, state_dir: Path, *args: str) -> list[str]:
    """A ``susdb-maint`` command line with this config and state directory, and JSON events."""
    return cli_command(
        "--config", str(config), "--state-dir", str(state_dir), "--log-format", "json", *args
    )


class EventLog:
    """Events rendered by the real pipeline into JSON lines, parsed back."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        events.configure(log_format="json", level="debug", stream=self.stream)

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stream.getvalue().splitlines() if line.strip()]

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    def named(self, name: str) -> list[dict[str, Any]]:
        return [event for event in self.all() if event["event"] == name]


class CatalogBuilder:
    """A hand-built simulated SUSDB: exactly the updates a test names, nothing else."""

    def __init__(
        self,
        path: Path,
        *,
        now: datetime = NOW,
        replica: bool = False,
        backup_age_hours: float | None = 2.0,
    ) -> None:
        self.path = path
        self.now = now
        self.db = sqlite3.connect(path)
        schema.create(self.db)
        self.rng = random.Random(5)
        self.next_local = 1
        self.next_revision = 1
        self.next_deployment = 1
        self.categories: dict[str, int] = {}
        profile = catalog.Profile(
            updates=0,
            now=now,
            replica=replica,
            backup_age_hours=backup_age_hours,
            custom_indexes=True,
        )
        catalog._write_server_objects(self.db, profile, self.rng)
        self.db.execute("INSERT INTO sim_meta VALUES ('clock', ?)", (ts(now),))
        self.db.execute(
            "INSERT INTO tbTargetGroup VALUES (?, 0, 'All Computers', NULL, 0, 1, NULL, 0)",
            (schema.ALL_COMPUTERS_GROUP,),
        )
        self.group = str(uuid.UUID(int=self.rng.getrandbits(128))).upper()
        self.db.execute(
            "INSERT INTO tbTargetGroup VALUES (?, 0, 'Servers', NULL, 1, 0, ?, 0)",
            (self.group, schema.ALL_COMPUTERS_GROUP),
        )

    def _category(self, name: str, kind: str) -> int:
        if name not in self.categories:
            local_id = self._row(
                name, created=self.now - timedelta(days=3000), update_type="Category", explicitly=0
            )[0]
            self.db.execute(
                "INSERT INTO tbCategory VALUES (?, ?, NULL, ?, NULL, 0, 0, 0)",
                (local_id, local_id, kind),
            )
            self.categories[name] = local_id
        return self.categories[name]

    def _row(
        self,
        title: str,
        *,
        created: datetime,
        update_type: str = "Software",
        explicitly: int = 1,
        expired: bool = False,
        kb: str | None = None,
        legacy: str = "",
        received: datetime | None = None,
    ) -> tuple[int, str, int]:
        local_id, revision_id = self.next_local, self.next_revision
        self.next_local += 1
        self.next_revision += 1
        update_id = str(uuid.UUID(int=self.rng.getrandbits(128))).upper()
        received = received or created
        self.db.execute(
            "INSERT INTO tbUpdate (LocalUpdateID, UpdateID, UpdateTypeID, LegacyName, ImportedTime) VALUES (?, ?, 'T', ?, ?)",
            (local_id, update_id, legacy, ts(received)),
        )
        self.db.execute(
            "INSERT INTO tbRevision (RevisionID, LocalUpdateID, RevisionNumber) VALUES (?, ?, 200)",
            (revision_id, local_id),
        )
        self.db.execute(
            "INSERT INTO tbProperty (RevisionID, PublicationState, CreationDate, ReceivedFromCreatorService, "
            "ExplicitlyDeployable, UpdateType) VALUES (?, ?, ?, ?, ?, ?)",
            (revision_id, int(expired), ts(created), ts(received), explicitly, update_type),
        )
        self.db.execute(
            "INSERT INTO tbLocalizedProperty (LocalizedPropertyID, Title) VALUES (?, ?)",
            (revision_id, title),
        )
        self.db.execute(
            "INSERT INTO tbLocalizedPropertyForRevision VALUES (?, 0, ?)",
            (revision_id, revision_id),
        )
        if kb:
            self.db.execute("INSERT INTO tbKBArticleForRevision VALUES (?, ?)", (revision_id, kb))
        return local_id, update_id, revision_id

    def update(
        self,
        title: str,
        *,
        age_days: float,
        supersedes: tuple[str, ...] = (),
        expired: bool = False,
        kb: str | None = None,
        product: str = "Windows Server 2019",
        classification: str = "Security Updates",
        legacy: str = "",
        approved: bool = False,
        declined: bool = False,
        received_days: float | None = None,
    ) -> str:
        created = self.now - timedelta(days=age_days)
        received = (
            self.now - timedelta(days=received_days) if received_days is not None else created
        )
        _, update_id, revision_id = self._row(
            title, created=created, expired=expired, kb=kb, legacy=legacy, received=received
        )
        for category, kind in ((product, "Product"), (classification, "UpdateClassification")):
            self.db.execute(
                "INSERT INTO tbRevisionInCategory VALUES (?, ?, 0)",
                (revision_id, self._category(category, kind)),
            )
        for superseded in supersedes:
            self.db.execute(
                "INSERT INTO tbRevisionSupersedesUpdate VALUES (?, ?)", (revision_id, superseded)
            )
        if approved or declined:
            group = self.group if approved else schema.ALL_COMPUTERS_GROUP
            action = schema.ACTION_INSTALL if approved else schema.ACTION_BLOCK
            self.db.execute(
                "INSERT INTO tbDeployment (DeploymentID, RevisionID, TargetGroupID, ActionID, DeploymentTime) "
                "VALUES (?, ?, ?, ?, ?)",
                (self.next_deployment, revision_id, group, action, ts(self.now)),
            )
            self.next_deployment += 1
        return update_id

    def local_id(self, update_id: str) -> int:
        return int(
            self.db.execute(
                "SELECT LocalUpdateID FROM tbUpdate WHERE UpdateID = ?", (update_id,)
            ).fetchone()[0]
        )

    def close(self) -> Path:
        self.db.execute("ANALYZE")
        self.db.commit()
        self.db.close()
        return self.path


def declined_ids(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {
            row[0] for row in db.execute("SELECT UpdateID FROM vwMinimalUpdate WHERE Declined = 1")
        }


def query(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def record_decline(
    store: Any, run_id: str, target: str, update_id: str, kb: str | None, title: str, reason: str
) -> None:
    """Put one confirmed decline into a state store's history, as a decline batch would."""
    from jobs.state.store import DeclineRecord

    store.complete(
        "", "decline", run_id, [], [DeclineRecord(run_id, update_id, kb, title, reason)], target
    )


def procedure_calls(path: Path, procedure: str) -> Counter[str]:
    """How often each argument list was sent to a WSUS procedure (the simulator's call log)."""
    return Counter(
        arguments
        for (arguments,) in query(
            path, "SELECT arguments FROM sim_call_log WHERE procedure = ?", (procedure,)
        )
    )


def undeclined(path: Path, condition: str) -> set[str]:
    return {
        row[0]
        for row in query(
            path,
            f'SELECT mu.UpdateID FROM vwMinimalUpdate mu JOIN "PUBLIC_VIEWS.vUpdate" v '
            f"ON v.UpdateId = mu.UpdateID WHERE mu.Declined = 0 AND {condition}",
        )
    }


def index_stats(path: Path) -> list[IndexStats]:
    cursor = connect(path).cursor()
    cursor.execute(statement("index_fragmentation").text, [])
    return [IndexStats(*row) for row in cursor.fetchall()]


def obsolete_backlog(path: Path) -> int:
    cursor = connect(path).cursor()
    cursor.execute(statement("obsolete_updates").text, [])
    return len(cursor.fetchall())


class NightlyScenario:
    """A nightly run on a neglected SUSDB, and what an administrator checks the morning after.

    Three superseded updates are protected by ``never_decline``; a title rule declines Itanium
    updates. ``stages`` is the config section to run with; ``check_end_state`` is the oracle."""

    def __init__(self, sim: Path) -> None:
        self.sim = sim
        never = query(
            sim,
            "SELECT UpdateID FROM vwMinimalUpdate WHERE IsSuperseded = 1 AND Declined = 0 LIMIT 3",
        )
        self.protected = [row[0] for row in never]
        self.eligible = undeclined(sim, "(mu.IsSuperseded = 1 OR v.PublicationState = 1)")
        self.itanium = undeclined(sim, "v.DefaultTitle LIKE '%Itanium%'")
        self.stages: dict[str, Any] = {
            "decline": {
                "never_decline": self.protected,
                "min_age_days": 0,
                "rules": [
                    {"field": "title", "match": "word", "pattern": "Itanium", "reason": "itanium"}
                ],
            }
        }

    def check_end_state(self, report: RunReport, state_dir: Path) -> None:
        sim = self.sim
        # No superseded, undeclined update is left but the protected ones.
        assert undeclined(sim, "mu.IsSuperseded = 1") == set(self.protected)
        # No obsolete backlog, no index above Microsoft's thresholds.
        assert obsolete_backlog(sim) == 0
        assert fragmented(index_stats(sim), ReindexSettings()) == []
        # Not one declined update that is not superseded, expired or matched by a rule.
        declined_now = {
            row[0] for row in query(sim, "SELECT UpdateID FROM vwMinimalUpdate WHERE Declined = 1")
        }
        declined_by_run = {
            row[0]
            for row in query(state_dir / "state.sqlite3", "SELECT update_id FROM declined_updates")
        }
        assert declined_by_run <= (self.eligible | self.itanium)
        still_there = {row[0] for row in query(sim, "SELECT UpdateID FROM tbUpdate")}
        # The rest were declined, then deleted as obsolete.
        assert declined_by_run & still_there <= declined_now
        assert not declined_by_run & set(self.protected)
        assert report.kpis_after["superseded_not_declined"] == len(self.protected)
        assert report.kpis_after["not_declined"] < report.kpis_before["not_declined"] / 2
        # Exactly once: no WSUS procedure received the same arguments twice.
        for procedure in ("spDeclineUpdate", "spDeleteUpdate", "spCompressUpdate"):
            sent = procedure_calls(sim, procedure)
            assert sent and max(sent.values()) == 1, procedure
