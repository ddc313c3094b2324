"""Commands shared by the command line and the scheduler (alembic's ``command.py``): one typed
function per command, returning what it found or did; jobs/output.py says it, and jobs/cli.py
only parses, prints and maps exit codes.

``run`` is the one run path: one target or every target in hierarchy order, each target's run
wrapped in monitoring (textfile, heartbeat) and given the same stop signal, with one
``--max-duration`` bounding the whole invocation.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jobs import events, report_html
from jobs.errors import UsageError
from jobs.exit_codes import ExitCode
from jobs.monitoring import monitored
from jobs.runner.hierarchy import run_all
from jobs.runner.options import RunOptions
from jobs.runner.plan import Plan, build_plan
from jobs.runner.run import RunReport, execute_plan, stop_on_signals
from jobs.settings.model import Settings

log = events.get_logger("susdb_maint.commands")


def plan_for(settings: Settings, options: RunOptions, target: str | None, **asked: Any) -> Plan:
    """The plan of ``options`` on one target (``asked``: dry_run)."""
    return build_plan(settings, options.on(target, **asked))


def run(
    settings: Settings,
    state_dir: Path,
    request: RunOptions,
    *,
    stop: threading.Event | None = None,
    on_report: Callable[[RunReport], Any] | None = None,
) -> ExitCode:
    """Run the request; return the invocation's exit code (the worst of its targets')."""
    stop = stop or threading.Event()
    started = time.monotonic()

    def make_plan(target: str | None) -> Plan:
        plan = plan_for(settings, request, target)
        if request.max_duration_minutes:
            # One --max-duration bounds the whole invocation, every target of --all included.
            left = request.max_duration_minutes - (time.monotonic() - started) / 60
            plan = replace(plan, max_duration_minutes=max(left, 1 / 60))
        return plan

    with monitored(settings.monitoring, state_dir) as monitor, stop_on_signals(stop):

        def abandoned(report: RunReport) -> None:
            # The process ends right after (a silent link: jobs/runner/run.py): say so first.
            monitor.abandoned(report)
            if on_report is not None:
                on_report(report)
                sys.stdout.flush()
                sys.stderr.flush()

        def run_plan(plan: Plan, phase: str | None = None) -> RunReport:
            report = execute_plan(plan, state_dir, stop=stop, on_abandoned=abandoned)
            monitor.append(report)
            if on_report is not None:
                on_report(report)
            if not plan.dry_run:
                report_html.after_run(settings, state_dir, report.run_id)  # never raises
            return report

        if request.all_targets:
            return run_all(settings, make_plan, run_plan, stop)
        return run_plan(make_plan(request.target)).exit_code


@dataclass(frozen=True)
class Planned:
    """One dry run: its report, its plan, and its phase under ``plan --all`` (else None)."""

    report: RunReport
    plan: Plan
    phase: str | None = None


def plan(settings: Settings, state_dir: Path, request: RunOptions) -> list[Planned]:
    """A dry run of the request's plan: counts, estimates, no change in SUSDB. With --all, one
    per target and phase, in the order ``run --all`` takes them (jobs/runner/hierarchy.py)."""
    if not request.all_targets:
        dry = plan_for(settings, request, request.target, dry_run=True)
        return [Planned(execute_plan(dry, state_dir), dry)]
    planned: list[Planned] = []

    def plan_one(dry: Plan, phase: str) -> RunReport:
        report = execute_plan(dry, state_dir, stop=stop)
        planned.append(Planned(report, dry, phase))
        return report

    stop = threading.Event()
    with stop_on_signals(stop):
        run_all(
            settings,
            lambda name: plan_for(settings, request, name, dry_run=True),
            plan_one,
            stop,
        )
    return planned


def plan_items(state_dir: Path, planned: Planned) -> list[str]:
    """``plan --items``: a line per item of a queue the next run resumes, else of what this plan
    would queue (kept apart); titles read from the target where the queue has none."""
    from jobs import plan_items as listing
    from jobs.state.store import ACTIVE

    report, plan = planned.report, planned.plan
    found = listing.items(state_dir, plan.endpoint.name, plan.stages, report.run_id, ACTIVE)
    titles = listing.titles_from(plan.endpoint, found) if report.stages else {}
    return list(listing.lines(found, titles))


@dataclass(frozen=True)
class ShownSql:
    """``plan --show-sql``: the listing, the exit code a run would have, and one line for each
    thing that kept the dry run from a stage (the target unreachable, a stage refused)."""

    text: str
    exit_code: ExitCode = ExitCode.OK
    problems: tuple[str, ...] = ()


def show_sql(
    settings: Settings, state_dir: Path, request: RunOptions, *, offline: bool = False
) -> ShownSql:
    """What a run of the request sends: on its target, the run path with every statement that
    writes recorded instead of sent (jobs/sqlplan.py); ``offline``, rendered against a
    throwaway simulated SUSDB, without a database and without counts."""
    from jobs import sqlplan

    if offline:
        recorded = sqlplan.record_offline(
            settings, lambda throwaway, name: plan_for(throwaway, request, name)
        )
        return ShownSql(sqlplan.render_offline(recorded))
    shown = sqlplan.on_target(
        settings,
        state_dir,
        lambda name: plan_for(settings, request, name),
        target=request.target,
        all_targets=request.all_targets,
    )
    return ShownSql(sqlplan.render(shown), sqlplan.exit_code(shown), tuple(sqlplan.problems(shown)))


def queued(
    settings: Settings,
    state_dir: Path,
    target: str | None,
    stage: str | None,
    statuses: tuple[str, ...],
) -> tuple[str, list[dict[str, Any]]]:
    """A target's queued items in these statuses, with the target's name."""
    from jobs.runner.plan import choose_target
    from jobs.state.store import StateStore

    name = choose_target(settings, target).name
    store = StateStore(state_dir)
    try:
        return name, store.queue_items(name, stage, statuses)
    finally:
        store.close()


def retry_quarantined(
    settings: Settings, state_dir: Path, target: str | None, stage: str | None
) -> int:
    """Put a target's quarantined items back in its queues; return how many."""
    from jobs.db.lock import no_run_working_on
    from jobs.runner.plan import choose_target
    from jobs.state.store import StateStore

    name = choose_target(settings, target).name
    store = StateStore(state_dir)
    try:
        with no_run_working_on(state_dir, store.databases_of(name)):
            return store.retry_quarantined(name, stage)
    finally:
        store.close()


def clear_queue(settings: Settings, state_dir: Path, target: str | None, stage: str | None) -> int:
    """Drop a target's queues (items in flight stay, so the next run settles them)."""
    from jobs.db.lock import no_run_working_on
    from jobs.runner.plan import choose_target
    from jobs.state.store import StateStore

    name = choose_target(settings, target).name
    store = StateStore(state_dir)
    try:
        with no_run_working_on(state_dir, store.databases_of(name)):
            return store.clear_queue(name, stage)
    finally:
        store.close()


def history(state_dir: Path, target: str | None, limit: int) -> list[dict[str, Any]]:
    """Past runs, newest first, each with its summary and its declined/deleted counts."""
    import json

    from jobs import report
    from jobs.state.store import StateStore

    store = StateStore(state_dir, read_only=True)
    try:
        runs = store.runs(target, limit)
        if target is not None and not runs:
            known = sorted({row["target"] for row in store.runs(None, 10_000)})
            # A misspelt target is not "no runs" (admin review R22).
            raise UsageError(
                f"--target {target}: no run of that target in {store.path} (targets there: "
                f"{', '.join(known) or 'none'})"
            )
    finally:
        store.close()
    for run_row in runs:
        run_row["dry_run"] = bool(run_row["dry_run"])  # stored as SQLite's 0/1
        run_row["summary"] = json.loads(run_row.pop("summary_json") or "{}")
        run_row["counts"] = report.run_counts(run_row)
    return runs


def declined(state_dir: Path, run_id: str) -> list[dict[str, Any]]:
    """The updates one run declined (confirmed by the server)."""
    from jobs.state.store import StateStore

    store = StateStore(state_dir, read_only=True)
    try:
        found = store.run(run_id)
        if found is None:
            raise UsageError(f"--declined {run_id!r}: no such run (see susdb-maint history)")
        if found["dry_run"]:  # admin review N48b: not an empty list, exit 0
            raise UsageError(
                f"--declined {found['run_id']}: a dry run (plan), which declines nothing; "
                "plan --items lists what a run would decline"
            )
        return store.declined(found["run_id"])
    finally:
        store.close()


def undo_script(
    state_dir: Path, run_id: str, output: Path | None, *, to_stdout: bool
) -> tuple[Path | None, str, int]:
    """The PowerShell script that puts back one run's declines: (file written or None, its text,
    how many updates)."""
    from jobs.state.store import StateStore
    from jobs.undo import write_undo_script

    store = StateStore(state_dir, read_only=True)
    try:
        return write_undo_script(store, run_id, output, to_stdout=to_stdout)
    finally:
        store.close()


def status(
    settings: Settings, state_dir: Path, target: str | None, *, check_permissions: bool
) -> Any:
    """A target now (jobs/status.py): KPIs, forecasts, the last run, queues, rights, next runs."""
    from jobs import status as target_status

    return target_status.collect(settings, state_dir, target, check_permissions=check_permissions)


def check_history_target(settings: Settings, state_dir: Path, target: str | None) -> None:
    """A --target that is neither configured nor in any history is a typo: say so first (admin
    review N41c), rather than "no state file yet". A target removed from the config keeps its
    history, so one the state store knows is let through (``history`` checks that)."""
    from jobs.state.store import FILE_NAME

    if target and target not in settings.targets and not (state_dir / FILE_NAME).exists():
        known = ", ".join(sorted(settings.targets)) or "none configured"
        raise UsageError(f"--target {target!r} is not a configured target (known: {known})")


@dataclass(frozen=True)
class WrittenReport:
    """``report``: the HTML, where it was written (None: to standard output), who it was sent to."""

    html: str
    written: Path | None
    sent_to: tuple[str, ...] = ()


def report(
    settings: Settings,
    state_dir: Path,
    *,
    run_id: str | None,
    target: str | None,
    since: str | None,
    until: str | None,
    output: str | None,
    email: bool,
) -> WrittenReport:
    """The HTML report of one run (the latest of this config's targets when none is named) or of
    the runs between two days (``since``/``until``: jobs.report_html.parse_day's); written to
    ``output`` ("-": not written, for standard output; None: the report's own name in the
    current folder), and e-mailed when asked."""
    from jobs import mail
    from jobs.state.store import StateStore

    check_history_target(settings, state_dir, target)
    if email and not settings.report.email.to:
        raise UsageError("--email: no recipients in [report.email] to")
    store = StateStore(state_dir, read_only=True)
    try:
        if not run_id and not (since or until):
            run_id = _latest_run(store, [target] if target else sorted(settings.targets))
        subject, text, html = report_html.render(
            store, settings, run_id=run_id, target=target, since=since, until=until
        )
        found = store.run(run_id) if run_id else None
    finally:
        store.close()
    name = report_html.default_file_name(run_id, found["target"] if found else target)
    written = None if output == "-" else Path(output or name)
    if written is not None:
        written.write_text(html, encoding="utf-8")
    if not email:
        return WrittenReport(html, written)
    mail.send(
        settings.report.email,
        mail.build_message(settings.report.email, subject, text, html, name),
    )
    return WrittenReport(html, written, tuple(settings.report.email.to))


def _latest_run(store: Any, targets: list[str]) -> str:
    """The latest run of these targets: a state directory shared by several configs holds other
    servers' runs too (admin review E02)."""
    names: list[str | None] = [*targets] or [None]
    latest = [row for name in names for row in store.runs(name, 1)]
    if not latest:
        raise UsageError(
            f"no runs yet of {', '.join(t for t in targets if t) or 'any target'} "
            "(see susdb-maint history)"
        )
    return str(max(latest, key=lambda row: (row["started_at"], row["run_id"]))["run_id"])
