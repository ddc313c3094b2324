"""Prometheus metrics for node_exporter's textfile collector, written atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

RESULTS = ("done", "skipped", "failed", "remaining")


def summary_of(row: dict[str, Any]) -> dict[str, Any] | None:
    """A run history row as a report dict (an abandoned run counts as failed)."""
    summary = json.loads(row.get("summary_json") or "null")
    if summary is None:
        if row.get("status") != "abandoned":
            return None
        summary = {"target": row["target"], "exit_code": 1, "duration_seconds": 0, "stages": []}
    summary.setdefault("target", row["target"])
    if row.get("status") == "abandoned":
        summary["exit_code"] = 1
    return dict(summary)


def registry_for(reports: Any) -> CollectorRegistry:
    """Build the metrics of run reports (RunReports or their dicts), one label set per target."""
    many: Iterable[Any] = reports if isinstance(reports, list | tuple) else [reports]
    registry = CollectorRegistry()
    gauges = _gauges(registry)
    for report in many:
        _add(gauges, report.as_dict() if hasattr(report, "as_dict") else report)
    return registry


def _gauges(registry: CollectorRegistry) -> dict[str, Gauge]:
    def gauge(name: str, text: str, labels: list[str]) -> Gauge:
        return Gauge(name, text, labels, registry=registry)

    return {
        "exit": gauge(
            "susdb_maint_last_run_exit_code",
            "Exit code of the last run (0 ok, 3 partial, ...)",
            ["target"],
        ),
        "success": gauge(
            "susdb_maint_last_run_success", "1 if the last run finished every stage", ["target"]
        ),
        "timestamp": gauge(
            "susdb_maint_last_run_timestamp_seconds",
            "When the last run finished (Unix time)",
            ["target"],
        ),
        "duration": gauge(
            "susdb_maint_last_run_duration_seconds", "Duration of the last run", ["target"]
        ),
        "stage_duration": gauge(
            "susdb_maint_stage_duration_seconds",
            "Duration of each stage in the last run",
            ["target", "stage"],
        ),
        "items": gauge(
            "susdb_maint_stage_items",
            "Items per stage and result in the last run",
            ["target", "stage", "result"],
        ),
        "kpi": gauge("susdb_maint_kpi", "SUSDB health KPIs after the last run", ["target", "name"]),
        "quarantined": gauge(
            "susdb_maint_quarantined_items", "Items quarantined until an operator acts", ["target"]
        ),
    }


def _add(gauges: dict[str, Gauge], data: dict[str, Any]) -> None:
    target = data["target"]
    gauges["exit"].labels(target).set(data["exit_code"])
    gauges["success"].labels(target).set(1 if data["exit_code"] == 0 else 0)
    gauges["timestamp"].labels(target).set_to_current_time()
    gauges["duration"].labels(target).set(data.get("duration_seconds") or 0)
    duration, items = gauges["stage_duration"], gauges["items"]
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
    for name, value in (data.get("kpis_after") or data.get("kpis_before") or {}).items():
        gauges["kpi"].labels(target, name).set(value)
    gauges["quarantined"].labels(target).set(data.get("quarantined", 0))


def write_textfile(path: str, reports: Any) -> None:
    """Write the reports' metrics to ``path`` through a temporary file and a rename."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(os.fspath(target), registry_for(reports))
