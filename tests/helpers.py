"""Test helpers: simulated SUSDBs (preset or hand-built), settings and runs, captured events."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobs import events
from jobs.db.catalog import statement
from jobs.db.connection import Endpoint
from jobs.db.executor import Executor
from jobs.runner.options import RunOptions
from jobs.runner.plan import build_plan
from jobs.runner.run import RunReport, execute_plan
from jobs.settings.model import ReindexSettings, Settings, SimulatorTarget
from jobs.simulator import connect
from jobs.stages.reindex import fragmented
from jobs.susdb import IndexStats, Susdb

# A hand-built simulated SUSDB and its clock live in tests/catalog.py; imported from here too.
from tests.catalog import NOW as NOW
from tests.catalog import CatalogBuilder as CatalogBuilder

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


@contextmanager
def gateway(sim_path: Path) -> Iterator[Susdb]:
    """The SUSDB gateway over a simulated SUSDB, as a stage would use it."""
    executor = Executor(Endpoint("sim", SimulatorTarget(kind="simulator", path=str(sim_path))))
    try:
        yield Susdb(executor)
    finally:
        executor.close()


@contextmanager
def held_lock(endpoint: Endpoint, state_dir: Path) -> Iterator[Any]:
    """The target lock as a run holds it: on a session of its own executor."""
    from jobs.db.lock import TargetLock

    executor = Executor(endpoint)
    try:
        with TargetLock(executor, state_dir) as lock:
            yield lock
    finally:
        executor.close()


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
    plan = build_plan(settings, RunOptions(**plan_options))
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


def declined_ids(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {
            row[0] for row in db.execute("SELECT UpdateID FROM vwMinimalUpdate WHERE Declined = 1")
        }


# Updates clients are offered (Microsoft's filter in PUBLIC_VIEWS.vUpdateInstallationInfo, and not
# a bundled child), read from the base tables, not from views whose definition is not public.
# Aliases: u, r, p, mu, lp.
OFFERED = """
SELECT u.UpdateID FROM tbUpdate u
JOIN tbRevision r ON r.LocalUpdateID = u.LocalUpdateID AND r.IsLatestRevision = 1
JOIN tbProperty p ON p.RevisionID = r.RevisionID
JOIN vwMinimalUpdate mu ON mu.RevisionID = r.RevisionID
JOIN tbLocalizedPropertyForRevision lpr ON lpr.RevisionID = r.RevisionID
JOIN tbLocalizedProperty lp ON lp.LocalizedPropertyID = lpr.LocalizedPropertyID
WHERE p.ExplicitlyDeployable = 1 AND p.UpdateType IN ('Software', 'Driver') AND u.IsHidden = 0
  AND NOT EXISTS (SELECT 1 FROM tbBundleDependency b WHERE b.BundledRevisionID = r.RevisionID)
"""


def offered(path: Path, condition: str = "1 = 1") -> set[str]:
    """The IDs of offered updates matching ``condition`` (aliases u, r, p, mu, lp)."""
    return {row[0] for row in query(path, f"{OFFERED} AND {condition}")}


def offered_to_spdeclineupdate(path: Path) -> list[str]:
    """The update IDs spDeclineUpdate was called with, in order (the simulator's call log)."""
    rows = query(
        path,
        "SELECT arguments FROM sim_call_log WHERE procedure = 'spDeclineUpdate' ORDER BY call_id",
    )
    return [str(json.loads(row[0])[0]).upper() for row in rows]


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
    """Offered, not declined updates matching ``condition`` (aliases u, r, p, mu, lp)."""
    return offered(path, f"mu.Declined = 0 AND {condition}")


def covered_by_a_live_update(path: Path, dead: frozenset[str] = frozenset()) -> set[str]:
    """Updates that some live update supersedes, directly or through a chain: the oracle for the
    decline stage's cover rule, written apart from it. Live: latest revision, offered (explicitly
    deployable, not hidden), not declined, not expired, not in ``dead`` (declined the same night),
    and a preview (its title says so) only when approved for install."""
    links = query(
        path,
        """
        SELECT s.SupersededUpdateID, u.UpdateID,
               mu.Declined = 0 AND p.PublicationState <> 1
               AND p.ExplicitlyDeployable = 1 AND u.IsHidden = 0
               AND (lp.Title NOT LIKE '%Preview%' OR EXISTS (
                    SELECT 1 FROM tbDeployment d WHERE d.RevisionID = r.RevisionID AND d.ActionID = 0))
        FROM tbRevisionSupersedesUpdate s
        JOIN tbRevision r ON r.RevisionID = s.RevisionID AND r.IsLatestRevision = 1
        JOIN tbUpdate u ON u.LocalUpdateID = r.LocalUpdateID
        JOIN tbProperty p ON p.RevisionID = r.RevisionID
        JOIN vwMinimalUpdate mu ON mu.UpdateID = u.UpdateID AND mu.IsLatestRevision = 1
        JOIN tbLocalizedPropertyForRevision lpr ON lpr.RevisionID = r.RevisionID
        JOIN tbLocalizedProperty lp ON lp.LocalizedPropertyID = lpr.LocalizedPropertyID""",
    )
    above: dict[str, set[str]] = {}
    live: set[str] = set()
    for superseded, superseding, alive in links:
        above.setdefault(superseded, set()).add(superseding)
        if alive and superseding not in dead:
            live.add(superseding)
    covered: set[str] = set()
    for start in above:
        seen, frontier = {start}, set(above[start])
        while frontier and not frontier & live:
            seen |= frontier
            frontier = {up for node in frontier for up in above.get(node, ())} - seen
        if frontier & live:
            covered.add(start)
    return covered


def covered_when_declined(before: Path, state_dir: Path) -> set[str]:
    """The oracle's covered set for a night: the catalog as the night found it, less everything
    the night declined, for any reason (superseded included: two updates that supersede each
    other do not cover each other once both are declined)."""
    declined = query(state_dir / "state.sqlite3", "SELECT update_id FROM declined_updates")
    return covered_by_a_live_update(before, dead=frozenset(row[0] for row in declined))


def products_of(path: Path) -> dict[str, set[str]]:
    """Each update's products, from the simulated SUSDB's categories."""
    products: dict[str, set[str]] = {}
    for update_id, product in query(
        path,
        """
        SELECT u.UpdateID, lp.Title FROM tbUpdate u
        JOIN tbRevision r ON r.LocalUpdateID = u.LocalUpdateID AND r.IsLatestRevision = 1
        JOIN tbRevisionInCategory ric ON ric.RevisionID = r.RevisionID
        JOIN tbCategory c ON c.CategoryID = ric.CategoryID AND c.CategoryType = 'Product'
        JOIN tbRevision cr ON cr.LocalUpdateID = c.CategoryID AND cr.IsLatestRevision = 1
        JOIN tbLocalizedPropertyForRevision lpr ON lpr.RevisionID = cr.RevisionID
        JOIN tbLocalizedProperty lp ON lp.LocalizedPropertyID = lpr.LocalizedPropertyID""",
    ):
        products.setdefault(update_id, set()).add(product)
    return products


def index_stats(path: Path) -> list[IndexStats]:
    with gateway(path) as susdb:
        return susdb.index_stats(mode="SAMPLED")


def obsolete_backlog(path: Path) -> int:
    cursor = connect(path).cursor()
    cursor.execute(statement("obsolete_updates").text, [])
    return len(cursor.fetchall())


class NightlyScenario:
    """A nightly run on a neglected SUSDB, and what an administrator checks the morning after.

    Three superseded updates are protected by ``never_decline``; a title rule declines Itanium
    updates; a product rule retires Windows Server 2012 R2, which must not decline updates that
    other products still need (the Malicious Software Removal Tool). ``stages`` is the config
    section to run with; ``check_end_state`` is the oracle, shared by the in-process and the
    real-driver tiers."""

    RETIRED = frozenset({"Windows Server 2012 R2"})

    def __init__(self, sim: Path) -> None:
        self.sim = sim
        # The catalog as the night found it: the cleanup deletes declined, expired superseders,
        # and with them the links through which a live update covered what was declined.
        self.before = sim.with_name(sim.name + ".before")
        shutil.copyfile(sim, self.before)
        self.protected = sorted(undeclined(sim, "mu.IsSuperseded = 1"))[:3]
        self.eligible = undeclined(sim, "(mu.IsSuperseded = 1 OR p.PublicationState = 1)")
        self.itanium = undeclined(sim, "lp.Title LIKE '%Itanium%'")
        products = products_of(sim)
        self.only_retired = {update for update, names in products.items() if names <= self.RETIRED}
        self.shared = {
            update
            for update, names in products.items()
            if names & self.RETIRED and names - self.RETIRED
        }
        assert self.shared  # the Malicious Software Removal Tool is listed under 2012 R2 and more
        self.latest_msrt = undeclined(
            sim, "lp.Title LIKE 'Windows Malicious Software Removal Tool%' AND mu.IsSuperseded = 0"
        )
        assert len(self.latest_msrt) == 1
        self.stages: dict[str, Any] = {
            "decline": {
                "never_decline": self.protected,
                "min_age_days": 0,
                "rules": [
                    {"field": "title", "match": "word", "pattern": "Itanium", "reason": "itanium"},
                    {"field": "product", "pattern": "Windows Server 2012 R2", "reason": "ws2012r2"},
                ],
            }
        }

    def check_end_state(self, report: RunReport, state_dir: Path) -> None:
        sim = self.sim
        reasons = dict(
            query(state_dir / "state.sqlite3", "SELECT update_id, reason FROM declined_updates")
        )
        covered = covered_when_declined(self.before, state_dir)
        left = undeclined(sim, "mu.IsSuperseded = 1")
        # No superseded update that a live update covered is left but the protected ones; what is
        # left besides them had nothing alive above it (an unapproved preview, a declined or
        # expired superseder, one a rule declined the same night).
        assert left & covered <= set(self.protected)
        assert set(self.protected) <= left
        # No obsolete backlog, no index above Microsoft's thresholds.
        assert obsolete_backlog(sim) == 0
        assert fragmented(index_stats(sim), ReindexSettings()) == []
        # Not one declined update that is not superseded, expired or matched by a rule.
        declined_now = {
            row[0] for row in query(sim, "SELECT UpdateID FROM vwMinimalUpdate WHERE Declined = 1")
        }
        declined_by_run = set(reasons)
        assert declined_by_run <= (self.eligible | self.itanium | self.only_retired)
        still_there = {row[0] for row in query(sim, "SELECT UpdateID FROM tbUpdate")}
        # The rest were declined, then deleted as obsolete.
        assert declined_by_run & still_there <= declined_now
        assert not declined_by_run & set(self.protected)
        # Nothing that belongs to a product still kept was declined for a product.
        by_product = {update for update, reason in reasons.items() if reason == "rule:ws2012r2"}
        assert by_product and by_product <= self.only_retired
        assert not by_product & self.shared
        assert not declined_by_run & self.latest_msrt
        # Every update declined as superseded was covered by a live update.
        superseded_by_run = {update for update, reason in reasons.items() if reason == "superseded"}
        assert superseded_by_run and superseded_by_run <= covered
        assert report.kpis_after["superseded_not_declined"] == len(left)
        assert report.kpis_after["not_declined"] < report.kpis_before["not_declined"] / 2
        # Exactly once: no WSUS procedure received the same arguments twice.
        for procedure in ("spDeclineUpdate", "spDeleteUpdate", "spCompressUpdate"):
            sent = procedure_calls(sim, procedure)
            assert sent and max(sent.values()) == 1, procedure


def a_catalog_with_decline_findings(directory: Path) -> tuple[Path, Settings]:
    """A catalog on which the decline stage declines one update by a rule and finds one of each
    thing it reports besides: an update left alone because a product title does not resolve, a
    superseded candidate kept because Configuration Manager deploys it, and a deployed update
    WSUS has declined. Returns the file and settings that run the stage on it (the simulated
    file is the site database too)."""
    builder = CatalogBuilder(directory / "findings.sqlite3")
    builder.unresolved = {"Windows 11"}
    old = builder.update("2026-07 Cumulative Update (KB701)", age_days=200, kb="701")
    builder.update("2026-08 Cumulative Update (KB702)", age_days=150, kb="702", supersedes=(old,))
    pulled = builder.update("Pulled Update (KB703)", age_days=100, kb="703", declined=True)
    builder.update("Servicing Stack Update (KB704)", age_days=90, kb="704")
    builder.update(
        "Feature update (KB705)",
        age_days=80,
        kb="705",
        product="Windows 10",
        also_products=("Windows 11",),
    )
    builder.deploy_in_configmgr(old)
    builder.deploy_in_configmgr(pulled)
    path = builder.close()
    rules = [
        {"field": "title", "pattern": "Servicing Stack"},
        {"field": "product", "pattern": "Windows 10"},
    ]
    settings = settings_for(
        path,
        backup={"gate": "off"},
        configmgr={"site": {"kind": "simulator", "path": str(path)}, "supersedence_months": 0},
        stages={"decline": {"expired": False, "min_age_days": 0, "rules": rules}},
    )
    return path, settings
