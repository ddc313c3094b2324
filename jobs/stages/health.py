"""Health KPIs: what clients scan, what is superseded, what is waiting to be cleaned, and what
the clients say about it (synchronized, failed, stopped reporting).

Collected before and after every run and by ``status``, so they read metadata, not data: row
counts from sys.dm_db_partition_stats, fragmentation from a LIMITED scan (the pages above the leaf
level; ``fragmented_indexes`` counts the indexes above Microsoft's fragmentation thresholds, page
density being unknown there). The client figures read tbComputerTarget, one row per computer
(sql/kpi_client_outcomes.sql says which of its values are documented)."""

from __future__ import annotations

from typing import Any

from jobs import events
from jobs.runner.context import RunContext, StageOutcome
from jobs.stages.declared.health import HealthSettings
from jobs.stages.reindex import fragmented

log = events.get_logger("susdb_maint.stages.health")


def collect(ctx: RunContext, *, count_obsolete: bool = False) -> dict[str, float]:
    """Return the KPIs; the obsolete backlog only from a queue, or by the full scan when asked."""
    susdb = ctx.susdb
    counts = susdb.update_counts()
    rows = susdb.table_rows()
    clients = susdb.client_outcomes(ctx.settings.stages.health.stopped_reporting_days)
    kpis: dict[str, float] = {
        "total_updates": counts["TotalUpdates"],
        "not_declined": counts["NotDeclined"],
        "superseded_not_declined": counts["SupersededNotDeclined"],
        "declined": counts["Declined"],
        "approved": susdb.approved_updates(),
        "event_instance_rows": rows["EventInstanceRows"],
        "computers": rows["Computers"],
        "clients_synced_day": clients["SyncedLastDay"],
        "clients_synced_week": clients["SyncedLastWeek"],
        "clients_sync_failed": clients["LastSyncFailed"],
        "clients_not_reporting": clients["StoppedReporting"],
        "database_size_mb": susdb.database_size_mb(),
        # A LIMITED scan reads only the pages above the leaf level: fragmentation without page
        # density, so a status call does not read the whole database.
        "fragmented_indexes": len(
            fragmented(susdb.index_stats(mode="LIMITED", timeout=0), ctx.settings.stages.reindex)
        ),
    }
    if count_obsolete:
        kpis["obsolete_backlog"] = sum(1 for _ in susdb.obsolete_update_ids(timeout=0))
    elif ctx.database and ctx.store.queue_counts(ctx.database, "obsolete_updates"):
        kpis["obsolete_backlog"] = ctx.store.active_count(ctx.database, "obsolete_updates")
    return kpis


def thresholds(settings: HealthSettings) -> dict[str, int]:
    """Each KPI that has a warning threshold, and the threshold: a value above it warns
    (``kpi.threshold``), and ``status`` and the report forecast when it gets there."""
    return {
        "superseded_not_declined": settings.superseded_warning,
        "not_declined": settings.not_declined_warning,
        "event_instance_rows": settings.event_rows_warning,
    }


def warnings(kpis: dict[str, float], ctx: RunContext) -> list[dict[str, Any]]:
    return [
        {"kpi": name, "value": kpis[name], "threshold": limit}
        for name, limit in thresholds(ctx.settings.stages.health).items()
        if kpis.get(name, 0) > limit
    ]


# Declared, with its settings and the rights it needs, in jobs/stages/declared/health.py.
def run(ctx: RunContext) -> StageOutcome:
    kpis = collect(ctx, count_obsolete=ctx.settings.stages.health.count_obsolete)
    for name, value in kpis.items():
        log.info("kpi", name=name, value=value, phase="health")
    alerts = warnings(kpis, ctx)
    for alert in alerts:
        log.warning("kpi.threshold", **alert)
    ctx.facts.health = kpis
    return StageOutcome(detail={"kpis": kpis, "warnings": alerts})
