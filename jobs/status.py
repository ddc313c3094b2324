"""``susdb-maint status``: a target now: its health KPIs with their warning thresholds, when a KPI
heading for its threshold reaches it (jobs/forecast.py, from the run history), the last run, what
is queued per stage, quarantined items, rights, and when the scheduler runs it next. What it
gathers; jobs/output.py says it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jobs import forecast
from jobs.db.executor import Executor
from jobs.runner.context import RunContext
from jobs.runner.plan import choose_target
from jobs.runner.run import clock_for, new_run_id
from jobs.settings.model import Settings
from jobs.stages import health, registry
from jobs.state.store import StateStore
from jobs.susdb import Susdb


def queued_backlog(store: StateStore, database: str) -> dict[str, dict[str, int]]:
    """Per stage, the work items stored for this database (queues belong to the database they
    were found in, whatever the target is called), by status, finished ones left out."""
    backlog = {}
    for stage in registry.names():
        counts = {
            status: count
            for status, count in store.queue_counts(database, stage).items()
            if status not in ("done", "skipped", "gone")
        }
        if counts:
            backlog[stage] = counts
    return backlog


@dataclass(frozen=True)
class Status:
    """A target now: what ``status`` shows (jobs/output.py renders it)."""

    target: str
    described: str  # where the target is: server and database, or the simulated file
    kpis: dict[str, float]
    warnings: list[dict[str, Any]]
    thresholds: dict[str, int]
    forecasts: dict[str, forecast.Forecast]
    permissions: dict[str, bool]  # empty unless --check-permissions
    last_run: dict[str, Any] | None  # the last real run: plans change nothing
    queued: dict[str, dict[str, int]]
    quarantined: list[dict[str, Any]]
    next_runs: list[dict[str, Any]]

    @property
    def missing_rights(self) -> list[str]:
        return [name for name, held in self.permissions.items() if not held]


def collect(
    settings: Settings, state_dir: Path, target: str | None, *, check_permissions: bool
) -> Status:
    """Read the target's KPIs (one connection) and what the state store knows of it."""
    from jobs.schedule import next_fires

    endpoint = choose_target(settings, target)
    clock = clock_for(endpoint)
    store = StateStore(state_dir)
    executor = Executor(endpoint, clock=clock, default_timeout=120)
    try:
        susdb = Susdb(executor)
        ctx = RunContext(
            run_id=new_run_id(),
            target=endpoint.name,
            settings=settings,
            susdb=susdb,
            store=store,
            clock=clock,
            database=susdb.database_identity().key,
        )
        kpis = health.collect(ctx, count_obsolete=settings.stages.health.count_obsolete)
        limits = health.thresholds(settings.stages.health)
        last = [run for run in store.runs(endpoint.name, 50) if not run["dry_run"]]
        return Status(
            target=endpoint.name,
            described=endpoint.describe(),
            kpis=kpis,
            warnings=health.warnings(kpis, ctx),
            thresholds=limits,
            forecasts=forecast.forecasts(run_history(store, endpoint.name), limits),
            permissions=susdb.permissions() if check_permissions else {},
            last_run=last[0] if last else None,
            queued=queued_backlog(store, ctx.database),
            quarantined=store.quarantined(endpoint.name),
            next_runs=[fire for fire in next_fires(settings) if endpoint.name in fire["targets"]],
        )
    finally:
        executor.close()
        store.close()


def run_history(store: StateStore, target: str) -> list[tuple[datetime, dict[str, float]]]:
    """The KPIs of the target's newest real runs (plans change nothing and are not the trend),
    each at its start: after the run where it got that far, else before it."""
    history = []
    for run in store.runs(target, 10 * forecast.POINTS):
        if run["dry_run"]:
            continue
        phases = store.kpis(run["run_id"])
        kpis = phases.get("after") or phases.get("before")
        if kpis:
            history.append((datetime.fromisoformat(run["started_at"]), kpis))
        if len(history) == forecast.POINTS:
            break
    return history
