"""Human output: run summaries, history, before/after tables. Machines read the events instead."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

KPI_LABELS = {
    "total_updates": "Updates (total)",
    "not_declined": "Not declined (what clients scan)",
    "superseded_not_declined": "Superseded, not declined",
    "declined": "Declined",
    "approved": "Approved",
    "obsolete_backlog": "Obsolete backlog",
    "fragmented_indexes": "Fragmented indexes",
    "event_instance_rows": "tbEventInstance rows",
    "computers": "Computers",
    "database_size_mb": "Database size (MB)",
}


def console(stream: TextIO | None = None) -> Console:
    return Console(file=stream or sys.stdout, highlight=False, soft_wrap=True, width=120)


def _number(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def kpi_table(
    before: dict[str, float], after: dict[str, float], title: str = "SUSDB before and after"
) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("KPI")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    table.add_column("change", justify="right")
    for key, label in KPI_LABELS.items():
        if key not in before and key not in after:
            continue
        old, new = before.get(key), after.get(key)
        change = "" if old is None or new is None else f"{new - old:+,.0f}"
        table.add_row(label, _number(old), _number(new), change)
    return table


def stage_table(stages: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column, justify in (
        ("stage", "left"),
        ("status", "left"),
        ("done", "right"),
        ("skipped", "right"),
        ("failed", "right"),
        ("remaining", "right"),
        ("seconds", "right"),
        ("note", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for stage in stages:
        detail = stage.get("detail") or {}
        note = stage.get("reason") or ""
        if detail.get("by_reason"):
            note = ", ".join(f"{reason} {count}" for reason, count in detail["by_reason"].items())
        if "estimated_seconds" in detail:
            note = (note + "; " if note else "") + f"estimate {detail['estimated_seconds']:,.0f} s"
        table.add_row(
            stage["stage"],
            stage["status"],
            _number(stage.get("done")),
            _number(stage.get("skipped")),
            _number(stage.get("failed")),
            _number(stage.get("remaining")),
            f"{stage.get('duration_seconds') or 0:,.1f}",
            note[:70],
        )
    return table


def print_run_summary(report: Any, stream: TextIO | None = None) -> None:
    out = console(stream)
    data = report.as_dict() if hasattr(report, "as_dict") else report
    virtual = " (simulated time)" if data.get("virtual_time") else ""
    out.print(
        stage_table(
            data["stages"],
            f"Run {data['run_id']} on {data['target']} ({data['profile']}): "
            f"{data['status']}, exit {data['exit_code']}{virtual}",
        )
    )
    if data.get("kpis_before") or data.get("kpis_after"):
        out.print(kpi_table(data.get("kpis_before") or {}, data.get("kpis_after") or {}))
    if data.get("quarantined"):
        out.print(
            f"[bold]{data['quarantined']} quarantined item(s)[/bold]: see `susdb-maint queue show`"
        )


def history_table(runs: list[dict[str, Any]]) -> Table:
    table = Table(title="Run history", title_justify="left")
    for column in ("run", "target", "profile", "started", "finished", "status", "exit"):
        table.add_column(column)
    for run in runs:
        table.add_row(
            run["run_id"],
            run["target"],
            run["profile"] + (" (dry run)" if run["dry_run"] else ""),
            run["started_at"],
            run.get("finished_at") or "-",
            run["status"],
            _number(run.get("exit_code")),
        )
    return table


def window_fit(stages: list[dict[str, Any]], max_duration_minutes: float | None, until: Any) -> str:
    """One line: the estimated work of the queued items against the window."""
    seconds = sum((stage.get("detail") or {}).get("estimated_seconds", 0) for stage in stages)
    estimate = f"Estimated work for the queued items: {seconds / 60:,.1f} min (from past runs' per-item times"
    estimate += " where known, published costs otherwise)"
    if max_duration_minutes is None and until is None:
        return estimate + "; no window set."
    if max_duration_minutes is None:
        return estimate + f"; the window ends at {until:%H:%M}."
    verdict = (
        "fits"
        if seconds <= max_duration_minutes * 60
        else "does not fit: the rest stays queued for later runs"
    )
    return estimate + f"; window {max_duration_minutes:g} min: {verdict}."
