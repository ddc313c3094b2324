"""``susdb-maint status``: a target's health KPIs now, its queues, quarantined items, rights."""

from __future__ import annotations

import json
from pathlib import Path

from jobs import report
from jobs.db.executor import Executor
from jobs.runner.context import RunContext
from jobs.runner.plan import choose_target
from jobs.runner.run import clock_for, new_run_id
from jobs.settings.model import Settings
from jobs.stages import health
from jobs.state.store import StateStore
from jobs.susdb import Susdb


def show_status(
    settings: Settings,
    state_dir: Path,
    target: str | None,
    *,
    check_permissions: bool,
    as_json: bool,
) -> int:
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
        permissions = Susdb(executor).permissions() if check_permissions else {}
        quarantined = store.quarantined(endpoint.name)
        last = store.runs(endpoint.name, 1)
    finally:
        executor.close()
        store.close()
    if as_json:
        print(
            json.dumps(
                {
                    "target": endpoint.name,
                    "kpis": kpis,
                    "warnings": alerts,
                    "permissions": permissions,
                    "quarantined": len(quarantined),
                    "last_run": last[0]["run_id"] if last else None,
                },
                indent=2,
            )
        )
    else:
        out = report.console()
        out.print(report.kpi_table(kpis, kpis, title=f"{endpoint.name}: {endpoint.describe()}"))
        for alert in alerts:
            out.print(
                f"warning: {alert['kpi']} = {alert['value']:,.0f} (threshold {alert['threshold']:,})"
            )
        for name, held in permissions.items():
            out.print(f"{'ok     ' if held else 'MISSING'}  {name}")
        if quarantined:
            out.print(
                f"{len(quarantined)} quarantined item(s): susdb-maint queue show --target {endpoint.name}"
            )
    missing = [name for name, held in permissions.items() if not held]
    return 4 if missing else 0
