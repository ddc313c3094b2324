"""Prometheus metrics for node_exporter's textfile collector, written atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

RESULTS = ("done", "skipped", "failed", "remaining")


def registry_for(report: Any) -> CollectorRegistry:
    """Build the metrics of one run report (RunReport or its dict)."""
    data = report.as_dict() if hasattr(report, "as_dict") else report
    target = data["target"]
    registry = CollectorRegistry()
    Gauge(
        "susdb_maint_last_run_exit_code",
        "Exit code of the last run (0 ok, 3 partial, ...)",
        ["target"],
        registry=registry,
    ).labels(target).set(data["exit_code"])
    Gauge(
        "susdb_maint_last_run_success",
        "1 if the last run finished every stage",
        ["target"],
        registry=registry,
    ).labels(target).set(1 if data["exit_code"] == 0 else 0)
    Gauge(
        "susdb_maint_last_run_timestamp_seconds",
        "When the last run finished (Unix time)",
        ["target"],
        registry=registry,
    ).labels(target).set_to_current_time()
    Gauge(
        "susdb_maint_last_run_duration_seconds",
        "Duration of the last run",
        ["target"],
        registry=registry,
    ).labels(target).set(data["duration_seconds"])
    duration = Gauge(
        "susdb_maint_stage_duration_seconds",
        "Duration of each stage in the last run",
        ["target", "stage"],
        registry=registry,
    )
    items = Gauge(
        "susdb_maint_stage_items",
        "Items per stage and result in the last run",
        ["target", "stage", "result"],
        registry=registry,
    )
    seen: set[str] = set()
    for stage in data["stages"]:
        name = stage["stage"]
        if name in seen:  # reindex runs twice in the nightly profile: report the sum
            duration.labels(target, name).inc(stage.get("duration_seconds") or 0)
            for result in RESULTS:
                items.labels(target, name, result).inc(stage.get(result) or 0)
            continue
        seen.add(name)
        duration.labels(target, name).set(stage.get("duration_seconds") or 0)
        for result in RESULTS:
            items.labels(target, name, result).set(stage.get(result) or 0)
    kpi = Gauge(
        "susdb_maint_kpi",
        "SUSDB health KPIs after the last run",
        ["target", "name"],
        registry=registry,
    )
    for name, value in (data.get("kpis_after") or data.get("kpis_before") or {}).items():
        kpi.labels(target, name).set(value)
    Gauge(
        "susdb_maint_quarantined_items",
        "Items quarantined until an operator acts",
        ["target"],
        registry=registry,
    ).labels(target).set(data.get("quarantined", 0))
    return registry


def write_textfile(path: str, report: Any) -> None:
    """Write the report's metrics to ``path`` through a temporary file and a rename."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(os.fspath(target), registry_for(report))
