"""``susdb-maint demo``: a simulated SUSDB, the nightly profile, a before/after table."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from jobs import events, output, report
from jobs.errors import UsageError
from jobs.exit_codes import ExitCode
from jobs.runner.options import RunOptions
from jobs.runner.plan import build_plan
from jobs.runner.run import execute_plan
from jobs.settings.model import Settings, SimulatorTarget

log = events.get_logger("susdb_maint.demo")
DEMO_TARGET = "demo"
T = TypeVar("T")


def default_sim_path(state_dir: Path, preset: str, updates: int | None, seed: int) -> Path:
    size = f"-{updates}" if updates else ""
    return state_dir / "demo" / f"susdb-{preset}{size}-seed{seed}.sqlite3"


def _read_only(path: Path, query: Callable[[sqlite3.Connection], T]) -> T | None:
    """``query`` on the file opened read-only; None when it is not SQLite or lacks what is asked."""
    try:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            return query(db)
    except sqlite3.Error:
        return None


def is_simulated_susdb(path: Path) -> bool:
    """True if ``path`` is a SQLite file written by the simulator (it has its ``sim_meta`` table)."""
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sim_meta'"
    return bool(_read_only(path, lambda db: db.execute(sql).fetchone()))


def simulator_format(path: Path) -> str | None:
    """The simulator format a simulated SUSDB file was made with (None: unknown or unreadable)."""
    from jobs.simulator import schema

    return _read_only(path, schema.file_format)


def ensure_simulated_susdb(
    path: Path, preset: str, updates: int | None, seed: int, fresh: bool
) -> bool:
    """Create the simulated SUSDB unless it exists (or ``fresh``); return True when created.

    Raise UsageError for an existing file that is not a simulated SUSDB: ``--sim`` may point
    anywhere, and ``--fresh`` must never overwrite someone's file.
    """
    from jobs.simulator import create, schema
    from jobs.simulator.catalog import preset_profile

    if path.is_dir():
        raise UsageError(f"--sim {path}: is a directory; give the simulated SUSDB's file name")
    if path.exists():
        if not is_simulated_susdb(path):
            action = "overwrite" if fresh else "use"
            raise UsageError(
                f"--sim {path}: not a simulated SUSDB (no sim_meta table); refusing to {action} "
                "it: give a new file name, or leave out --sim"
            )
        if not fresh and simulator_format(path) == schema.FORMAT:
            return False
        if not fresh:  # made by another version: this simulator could not run it
            log.warning("demo.remade", path=str(path), reason="made by another susdb-maint version")
    counts = create(path, preset_profile(preset, updates=updates, seed=seed))
    log.info("demo.created", path=str(path), **counts)
    return True


def run_demo(
    settings: Settings,
    state_dir: Path,
    *,
    preset: str,
    updates: int | None,
    seed: int,
    sim_path: str | None,
    fresh: bool,
    max_duration: float | None,
) -> int:
    path = (
        Path(sim_path).expanduser()
        if sim_path
        else default_sim_path(state_dir, preset, updates, seed)
    )
    created = ensure_simulated_susdb(path, preset, updates, seed, fresh)
    out = report.console()
    out.print(f"Simulated SUSDB ({'created' if created else 'reused'}): {path}")
    out.print(
        f"Inspect it with: sqlite3 {path} "
        '"SELECT COUNT(*) FROM vwMinimalUpdate WHERE IsLatestRevision = 1 AND Declined = 0"'
    )
    targets = dict(settings.targets)
    targets[DEMO_TARGET] = SimulatorTarget(kind="simulator", path=str(path))
    demo_settings = settings.model_copy(update={"targets": targets, "default_target": DEMO_TARGET})
    options = RunOptions(target=DEMO_TARGET, profile="nightly", max_duration_minutes=max_duration)
    plan = build_plan(demo_settings, options)
    plan.count_obsolete_kpi = True
    result = execute_plan(plan, state_dir)
    output.run_summary(result)
    if result.kpis_after.get("computers") and result.exit_code in (ExitCode.OK, ExitCode.PARTIAL):
        out.print(_a_day_later(demo_settings, path))
    out.print(f"History: susdb-maint --state-dir {state_dir} history")
    # The demo's target lives only in this command: a config names it for status, queue, plan.
    out.print(
        f"Status, queues and plans of it: susdb-maint config init --simulator {path} "
        f"--output demo.toml, then susdb-maint --config demo.toml --state-dir {state_dir} status"
    )
    if created is False and not fresh:
        out.print(
            "(The simulated SUSDB was reused: run `susdb-maint demo --fresh` for a neglected one again.)"
        )
    sys.stdout.flush()
    return int(result.exit_code)


def _a_day_later(settings: Settings, path: Path) -> str:
    """The clients once each has scanned again since the run: a client sees tonight's declines
    at its next scan, up to a detection period later (jobs/simulator/clients.py). Read on a copy
    of the simulated SUSDB whose clock is moved on by that period (what a real server shows the
    next morning); the demo's own file keeps its clock, so the next demo starts where this one
    ended."""
    import tempfile

    from jobs.db.connection import Endpoint
    from jobs.db.executor import Executor
    from jobs.runner.run import clock_for
    from jobs.simulator.clients import DETECTION_HOURS
    from jobs.susdb import Susdb

    with tempfile.TemporaryDirectory(prefix="susdb-maint-demo-") as folder:
        copy = Path(folder) / path.name
        with (
            contextlib.closing(sqlite3.connect(path)) as source,
            contextlib.closing(sqlite3.connect(copy)) as target,
        ):
            source.backup(target)  # the WAL's pages too
        endpoint = Endpoint(DEMO_TARGET, SimulatorTarget(kind="simulator", path=str(copy)))
        clock = clock_for(endpoint)
        clock.advance(DETECTION_HOURS * 3600)
        executor = Executor(endpoint, clock=clock)
        try:
            clients = Susdb(executor).client_outcomes(settings.stages.health.stopped_reporting_days)
        finally:
            executor.close()
    return (
        f"{DETECTION_HOURS} h later (simulated time), every computer has scanned once since the "
        f"run: {clients['SyncedLastDay']:,} synced OK in the last 24 h, "
        f"{clients['LastSyncFailed']:,} whose last sync failed."
    )
