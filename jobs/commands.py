"""Commands shared by the command line and the scheduler (alembic's ``command.py``).

``run`` is the one run path: one target or every target in hierarchy order, each target's run
wrapped in monitoring (textfile, heartbeat) and given the same stop signal, with one
``--max-duration`` bounding the whole invocation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from jobs import events, report_html
from jobs.exit_codes import ExitCode
from jobs.monitoring import monitored
from jobs.runner.hierarchy import run_all
from jobs.runner.plan import Plan, build_plan
from jobs.runner.run import RunReport, execute_plan, stop_on_signals
from jobs.settings.model import Settings

log = events.get_logger("susdb_maint.commands")


@dataclass(frozen=True)
class RunRequest:
    """What to run: the command line's options, or a scheduled job's."""

    target: str | None = None
    all_targets: bool = False
    profile: str | None = None
    stages: list[str] | None = None
    until: clock_time | None = None
    max_duration_minutes: float | None = None
    remove_custom_indexes: bool = False
    run_late: bool = False
    restore_delete_fix: bool = False

    def plan(self, settings: Settings, target: str | None, *, dry_run: bool = False) -> Plan:
        return build_plan(
            settings,
            target=target,
            profile=self.profile,
            stages=self.stages,
            dry_run=dry_run,
            until=self.until,
            max_duration_minutes=self.max_duration_minutes,
            remove_custom_indexes=self.remove_custom_indexes,
            run_late=self.run_late,
            restore_delete_fix=self.restore_delete_fix,
        )


def run(
    settings: Settings,
    state_dir: Path,
    request: RunRequest,
    *,
    stop: threading.Event | None = None,
    on_report: Callable[[RunReport], Any] | None = None,
) -> ExitCode:
    """Run the request; return the invocation's exit code (the worst of its targets')."""
    stop = stop or threading.Event()
    started = time.monotonic()

    def make_plan(target: str | None) -> Plan:
        plan = request.plan(settings, target)
        if request.max_duration_minutes:
            # One --max-duration bounds the whole invocation, every target of --all included.
            left = request.max_duration_minutes - (time.monotonic() - started) / 60
            plan = replace(plan, max_duration_minutes=max(left, 1 / 60))
        return plan

    with monitored(settings.monitoring, state_dir) as monitor, stop_on_signals(stop):

        def run_plan(plan: Plan) -> RunReport:
            report = execute_plan(plan, state_dir, stop=stop)
            monitor.append(report)
            if on_report is not None:
                on_report(report)
            if not plan.dry_run:
                report_html.after_run(settings, state_dir, report.run_id)  # never raises
            return report

        if request.all_targets:
            return run_all(settings, make_plan, run_plan, stop)
        return run_plan(make_plan(request.target)).exit_code
