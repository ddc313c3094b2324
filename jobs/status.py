"""``susdb-maint status``: a target now: its health KPIs with their warning thresholds, when a KPI
heading for its threshold reaches it (jobs/forecast.py, from the run history), the last run, what
is queued per stage, quarantined items, rights, and when the scheduler runs it next."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from jobs import forecast, report
from jobs.db.executor import Executor
from jobs.runner.context import RunContext
from jobs.runner.plan import choose_target
from jobs.runner.run import clock_for, new_run_id
from jobs.settings.model import Settings
from jobs.stages import health, registry
from jobs.state.store import StateStore
from jobs.susdb import Susdb

QUARANTINE_SHOWN = 10  # the rest: susdb-maint queue show


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


def show_status(
    settings: Settings,
    state_dir: Path,
    target: str | None,
    *,
    check_permissions: bool,
    as_json: bool,
) -> int:
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
        alerts = health.warnings(kpis, ctx)
        limits = health.thresholds(settings.stages.health)
        coming = forecast.forecasts(run_history(store, endpoint.name), limits)
        permissions = Susdb(executor).permissions() if check_permissions else {}
        quarantined = store.quarantined(endpoint.name)
        backlog = queued_backlog(store, ctx.database)
        # The last real run: plans change nothing, and `history` lists them.
        last = [run for run in store.runs(endpoint.name, 50) if not run["dry_run"]]
    finally:
        executor.close()
        store.close()
    fires = [fire for fire in next_fires(settings) if endpoint.name in fire["targets"]]
    last_run = last[0] if last else None
    if as_json:
        print(
            json.dumps(
                {
                    "target": endpoint.name,
                    "kpis": kpis,
                    "warnings": alerts,
                    "thresholds": limits,
                    "forecasts": [
                        {
                            "kpi": name,
                            "threshold": seen.threshold,
                            "days": round(seen.days, 2),
                            "per_day": round(seen.per_day, 2),
                            "points": seen.points,
                            "at": seen.at.isoformat() if seen.at else None,
                            "text": forecast.sentence(report.KPI_LABELS.get(name, name), seen),
                        }
                        for name, seen in coming.items()
                    ],
                    "permissions": permissions,
                    "permissions_needed_by": {
                        name: list(registry.needing(name)) for name in permissions
                    },
                    "last_run": _last_run_fields(last_run),
                    "queued": backlog,
                    "quarantined": len(quarantined),
                    "quarantined_items": [
                        {
                            key: item[key]
                            for key in ("stage", "item_key", "failed_runs", "last_error")
                        }
                        for item in quarantined
                    ],
                    "next_runs": [
                        {**fire, "next": fire["next"].isoformat() if fire["next"] else None}
                        for fire in fires
                    ],
                },
                indent=2,
            )
        )
    else:
        _print_status(
            endpoint,
            kpis,
            alerts,
            limits,
            coming,
            permissions,
            last_run,
            backlog,
            quarantined,
            fires,
        )
    missing = [name for name, held in permissions.items() if not held]
    return 4 if missing else 0


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


def _last_run_fields(run: dict[str, Any] | None) -> dict[str, Any] | None:
    if run is None:
        return None
    fields = {
        key: run[key]
        for key in ("run_id", "profile", "started_at", "finished_at", "status", "exit_code")
    }
    fields["dry_run"] = bool(run["dry_run"])
    fields["counts"] = report.run_counts(run)
    return fields


def _print_status(
    endpoint: Any,
    kpis: dict[str, float],
    alerts: list[dict[str, Any]],
    limits: dict[str, int],
    coming: dict[str, forecast.Forecast],
    permissions: dict[str, bool],
    last_run: dict[str, Any] | None,
    backlog: dict[str, dict[str, int]],
    quarantined: list[dict[str, Any]],
    fires: list[dict[str, Any]],
) -> None:
    out = report.console(markup=False)  # "[schedule.jobs]" and error texts are not markup
    notes = {name: f"threshold {limit:,}" for name, limit in limits.items()}
    notes.update(
        {alert["kpi"]: f"above the warning threshold {alert['threshold']:,}" for alert in alerts}
    )
    for name, seen in coming.items():
        notes[name] += f": reached {forecast.when(seen.days)}"
    out.print(report.snapshot_table(kpis, f"{endpoint.name}: {endpoint.describe()}", notes))
    for name, seen in coming.items():
        out.print(f"Forecast: {forecast.sentence(report.KPI_LABELS.get(name, name), seen)}")
    if last_run is None:
        out.print("Last run: none yet (see susdb-maint history for plans)")
    else:
        done = ", ".join(
            f"{name} {count:,}" for name, count in report.run_counts(last_run).items() if count
        )
        out.print(
            f"Last run: {last_run['run_id']} ({last_run['profile']}), started "
            f"{last_run['started_at']}: "
            f"{last_run['status']}, exit {report.number(last_run['exit_code'])}"
            + (f"; {done}" if done else "")
        )
    if backlog:
        out.print("Queued for the next runs:")
        for stage, counts in backlog.items():
            out.print(
                f"  {stage}: "
                + ", ".join(f"{status} {count:,}" for status, count in counts.items())
            )
    else:
        out.print("Queued for the next runs: nothing")
    if quarantined:
        out.print(
            f"{len(quarantined)} quarantined item(s) (failed in several runs; not retried until "
            f"`susdb-maint queue retry --target {endpoint.name}`):"
        )
        for item in quarantined[:QUARANTINE_SHOWN]:
            out.print(
                f"  {item['stage']} {item['item_key']}: {item['failed_runs']} failed runs, "
                f"{item['last_error_kind']}: {item['last_error']}"
            )
        if len(quarantined) > QUARANTINE_SHOWN:
            out.print(
                f"  ... and {len(quarantined) - QUARANTINE_SHOWN} more: susdb-maint queue show"
            )
    if fires:
        for fire in fires:
            when = f"{fire['next']:%a %Y-%m-%d %H:%M %Z}".strip() if fire["next"] else "never"
            out.print(
                f"Next scheduled run: {when} (job {fire['job']}, {fire['profile']}, {fire['when']})"
            )
    else:
        out.print(
            "Next scheduled run: no [schedule.jobs] for this target "
            "(Task Scheduler, cron or systemd schedules are not visible here)"
        )
    for name, held in permissions.items():
        # A missing right names the stages that declare it (jobs/stages/declared/).
        needed_by = "" if held else ", ".join(registry.needing(name))
        out.print(
            f"{'ok     ' if held else 'MISSING'}  {name}"
            + (f": needed by {needed_by}" if needed_by else "")
        )
