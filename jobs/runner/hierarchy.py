"""``run --all``: declines top-down (upstream first, so replicas inherit them at their next
sync), cleanup bottom-up (replicas first), as Microsoft's maintenance guide says."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobs import events, report
from jobs.errors import SusdbMaintError, UsageError
from jobs.exit_codes import ExitCode
from jobs.runner.run import execute_plan
from jobs.settings.model import Settings

log = events.get_logger("susdb_maint.hierarchy")
DECLINE_PHASE = ("preflight", "decline")


def top_down(settings: Settings) -> list[str]:
    """Targets ordered so every upstream comes before its downstream servers."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise UsageError(f"targets.{name}.upstream: the upstream chain loops")
        visiting.add(name)
        upstream = settings.targets[name].upstream
        if upstream:
            visit(upstream)
        visiting.discard(name)
        order.append(name)

    for name in sorted(settings.targets):
        visit(name)
    return order


def run_all(settings: Settings, state_dir: Path, make_plan: Callable[[str, bool], Any]) -> ExitCode:
    order = top_down(settings)
    worst = ExitCode.OK
    severity = [
        ExitCode.OK,
        ExitCode.PARTIAL,
        ExitCode.STAGE_FAILED,
        ExitCode.REFUSED,
        ExitCode.LOCKED,
    ]

    def note(code: ExitCode) -> None:
        nonlocal worst
        if severity.index(code) > severity.index(worst):
            worst = code

    phases = (
        ("decline", order, lambda stages: [s for s in stages if s in DECLINE_PHASE]),
        ("cleanup", list(reversed(order)), lambda stages: [s for s in stages if s != "decline"]),
    )
    for phase, names, pick in phases:
        for name in names:
            plan = make_plan(name, False)
            plan.stages = pick(plan.stages)
            if not [stage for stage in plan.stages if stage != "preflight"]:
                continue
            log.info("hierarchy.run", phase=phase, target=name, stages=plan.stages)
            try:
                result = execute_plan(plan, state_dir)
            except SusdbMaintError as error:
                log.error("hierarchy.target_fail", target=name, error=str(error))
                note(error.exit_code)
                continue
            report.print_run_summary(result)
            note(result.exit_code)
    return worst
