"""What each command prints, in one place: one function per command, fed what its function in
jobs/commands.py returned. Results go to standard output, problems to standard error, one line
each. The tables themselves are built in jobs/report.py; machines read the events instead.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from jobs import forecast, report

if TYPE_CHECKING:
    from jobs.commands import Planned, ShownSql, WrittenReport
    from jobs.runner.run import RunReport
    from jobs.status import Status

QUARANTINE_SHOWN = 10  # the rest: susdb-maint queue show
DECLINED_COLUMNS = ("update_id", "kb", "title", "reason", "why", "declined_at")


def problem(line: str) -> None:
    sys.stderr.write(f"susdb-maint: {line}\n")


# -- run and plan --------------------------------------------------------------------------------
def run_summary(result: Any, stream: TextIO | None = None) -> None:
    """A run's or a plan's table, and the KPIs around it (``result``: a RunReport or its dict)."""
    out = report.console(stream)
    data = result.as_dict() if hasattr(result, "as_dict") else result
    virtual = report.simulated(data.get("virtual_time"))
    if data.get("dry_run"):
        code = data["exit_code"]
        outcome = "" if code == 0 else f"; {data['status']}, exit {code}"
        title = (
            f"Plan for {data['target']} ({data['profile']}): a dry run, nothing was changed "
            f"in SUSDB{outcome}{virtual}"
        )
        # A plan that reached no stage (unreachable, locked) is its headline; the error follows.
        out.print(
            report.plan_table(data["stages"], title) if data["stages"] else title, markup=False
        )
        if data.get("kpis_before"):
            out.print(report.snapshot_table(data["kpis_before"], "SUSDB now"))
        return
    headline = (
        f"Run {data['run_id']} on {data['target']} ({data['profile']}): "
        f"{data['status']}, exit {data['exit_code']}{virtual}"
    )
    # A run that never reached a stage (unreachable, locked) is its headline; the error follows.
    out.print(
        report.stage_table(data["stages"], headline) if data["stages"] else headline, markup=False
    )
    before, after = data.get("kpis_before") or {}, data.get("kpis_after") or {}
    if before or after:
        notes = report.explain_changes(before, after, data["stages"])
        out.print(report.kpi_table(before, after, notes=notes))
    if data.get("quarantined"):
        out.print(
            f"[bold]{data['quarantined']} quarantined item(s)[/bold]: see `susdb-maint queue show`"
        )


def run_report(result: RunReport) -> None:
    """``run``, per target as it finishes: the summary, then each failed or refused stage's
    reason whole, one line each (the table's note is cut to its column, or shows the queue's
    counts instead; admin review N12), and the run's own error last."""
    run_summary(result)
    for stage in result.stages:
        if stage.status in ("failed", "refused") and stage.reason:
            problem(f"{result.target}: {stage.stage} {stage.status}: {stage.reason}")
    if result.error:
        problem(f"{result.target}: {result.error}")


def plan(planned: Sequence[Planned], items: Sequence[str] = ()) -> None:
    """``plan``: each target's dry run and whether its work fits the window; with --all, the
    phase of each and the whole window they share; with --items, the item lines."""
    for one in planned:
        result, dry = one.report, one.plan
        if one.phase:
            order = "upstream first" if one.phase == "decline" else "replicas first"
            print(f"\n--all, {one.phase} phase ({order}): {dry.endpoint.name}")
        run_report(result)
        if result.stages:  # nothing reached, nothing to estimate: never "fits"
            print(
                report.window_fit(
                    result.stages,
                    dry.max_duration_minutes,
                    dry.until,
                    virtual_time=result.virtual_time,
                )
            )
    if len(planned) > 1:
        # run --all shares one window among its targets, one after the other.
        first = planned[0]
        total = report.window_fit(
            [stage for one in planned for stage in one.report.stages],
            first.plan.max_duration_minutes,
            first.plan.until,
            virtual_time=first.report.virtual_time,
        )
        print(f"\n--all, every target one after the other: {total}")
    for line in items:
        print(line)


def shown_sql(shown: ShownSql) -> None:
    sys.stdout.write(shown.text)
    for line in shown.problems:
        problem(line)


# -- status --------------------------------------------------------------------------------------
def status(found: Status, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(status_fields(found), indent=2))
        return
    out = report.console(markup=False)  # "[schedule.jobs]" and error texts are not markup
    notes = {name: f"threshold {limit:,}" for name, limit in found.thresholds.items()}
    notes.update(
        {
            alert["kpi"]: f"above the warning threshold {alert['threshold']:,}"
            for alert in found.warnings
        }
    )
    for name, seen in found.forecasts.items():
        notes[name] += f": reached {forecast.when(seen.days)}"
    out.print(report.snapshot_table(found.kpis, f"{found.target}: {found.described}", notes))
    for name, seen in found.forecasts.items():
        out.print(f"Forecast: {forecast.sentence(report.KPI_LABELS.get(name, name), seen)}")
    out.print(_last_run_line(found.last_run))
    if found.queued:
        out.print("Queued for the next runs:")
        for stage, counts in found.queued.items():
            out.print(
                f"  {stage}: " + ", ".join(f"{state} {count:,}" for state, count in counts.items())
            )
    else:
        out.print("Queued for the next runs: nothing")
    quarantined = found.quarantined
    if quarantined:
        out.print(
            f"{len(quarantined)} quarantined item(s) (failed in several runs; not retried until "
            f"`susdb-maint queue retry --target {found.target}`):"
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
    for fire in found.next_runs:
        when = f"{fire['next']:%a %Y-%m-%d %H:%M %Z}".strip() if fire["next"] else "never"
        out.print(
            f"Next scheduled run: {when} (job {fire['job']}, {fire['profile']}, {fire['when']})"
        )
    if not found.next_runs:
        out.print(
            "Next scheduled run: no [schedule.jobs] for this target "
            "(Task Scheduler, cron or systemd schedules are not visible here)"
        )
    for name, held in found.permissions.items():
        # A missing right names the stages that declare it (jobs/stages/declared/).
        needed_by = "" if held else ", ".join(_needing(name))
        out.print(
            f"{'ok     ' if held else 'MISSING'}  {name}"
            + (f": needed by {needed_by}" if needed_by else "")
        )


def _needing(right: str) -> tuple[str, ...]:
    from jobs.stages import registry

    return tuple(registry.needing(right))


def _last_run_line(run: dict[str, Any] | None) -> str:
    if run is None:
        return "Last run: none yet (see susdb-maint history for plans)"
    done = ", ".join(f"{name} {count:,}" for name, count in report.run_counts(run).items() if count)
    return (
        f"Last run: {run['run_id']} ({run['profile']}), started {run['started_at']}: "
        f"{run['status']}, exit {report.number(run['exit_code'])}" + (f"; {done}" if done else "")
    )


def status_fields(found: Status) -> dict[str, Any]:
    """``status --json``: the same facts, for monitoring."""
    last = found.last_run
    return {
        "target": found.target,
        "kpis": found.kpis,
        "warnings": found.warnings,
        "thresholds": found.thresholds,
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
            for name, seen in found.forecasts.items()
        ],
        "permissions": found.permissions,
        "permissions_needed_by": {name: list(_needing(name)) for name in found.permissions},
        "last_run": None
        if last is None
        else {
            **{
                key: last[key]
                for key in ("run_id", "profile", "started_at", "finished_at", "status", "exit_code")
            },
            "dry_run": bool(last["dry_run"]),
            "counts": report.run_counts(last),
        },
        "queued": found.queued,
        "quarantined": len(found.quarantined),
        "quarantined_items": [
            {key: item[key] for key in ("stage", "item_key", "failed_runs", "last_error")}
            for item in found.quarantined
        ],
        "next_runs": [
            {**fire, "next": fire["next"].isoformat() if fire["next"] else None}
            for fire in found.next_runs
        ],
    }


# -- history -------------------------------------------------------------------------------------
def history(runs: list[dict[str, Any]], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(runs, indent=2))
    else:
        report.console().print(report.history_table(runs))


def declined(run_id: str, rows: list[dict[str, Any]], output_format: str) -> None:
    """``history --declined RUN_ID``: a table, JSON or CSV of the updates the run declined."""
    if output_format == "json":
        print(json.dumps(rows, indent=2))
    elif output_format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(DECLINED_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    elif not rows:
        print(f"run {run_id} declined nothing", file=sys.stderr)
    else:
        for row in rows:
            print(
                f"{row['declined_at']}  {row['update_id']}  {row['kb'] or '-':>10}  "
                f"{row['reason']:<14} {row['title']}"
            )
            if row["why"]:
                print(f"{'':22}why: {row['why']}")


def undo_script(written: Path | None, text: str, count: int) -> None:
    if written is None:
        sys.stdout.write(text)
        return
    print(
        f"wrote {written}: {count} update(s); review it, then run it with -WhatIf in "
        "Windows PowerShell 5.1 on the WSUS server"
    )


# -- queue ---------------------------------------------------------------------------------------
def queue(target: str, rows: list[dict[str, Any]]) -> None:
    """``queue show``: counts per stage and status, then each quarantined item with its error."""
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        by_status = counts.setdefault(row["stage"], {})
        by_status[row["status"]] = by_status.get(row["status"], 0) + 1
    for stage, by_status in counts.items():
        print(f"{stage}: " + ", ".join(f"{state} {n}" for state, n in sorted(by_status.items())))
    for row in rows:
        if row["status"] == "quarantined":
            print(
                f"quarantined\t{row['stage']}\t{row['item_key']}\t{row['failed_runs']} failed "
                f"runs\t{row['last_error_kind']}: {row['last_error']}"
            )
    if not rows:
        print(f"{target}: no queued work")


def queue_changed(action: str, count: int) -> None:
    if action == "retry":
        print(f"{count} quarantined item(s) will be retried")
    else:
        print(f"{count} queued item(s) removed")


# -- report --------------------------------------------------------------------------------------
def written_report(done: WrittenReport) -> None:
    if done.written is None:
        sys.stdout.write(done.html)
    else:
        print(f"wrote {done.written}")
    if done.sent_to:
        print(f"sent to {', '.join(done.sent_to)}")
