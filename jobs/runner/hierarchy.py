"""``run --all``: declines top-down (upstream first, so replicas inherit them at their next
sync), cleanup bottom-up (replicas first), as Microsoft's maintenance guide says."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from jobs import events
from jobs.errors import UsageError
from jobs.exit_codes import ExitCode
from jobs.settings.model import Settings

log = events.get_logger("susdb_maint.hierarchy")
# Worst last: the code an --all invocation exits with. A target whose settings cannot be used
# (exit 2) is the administrator's to fix before any other.
SEVERITY = (
    ExitCode.OK,
    ExitCode.PARTIAL,
    ExitCode.STAGE_FAILED,
    ExitCode.REFUSED,
    ExitCode.LOCKED,
    ExitCode.BAD_USAGE,
)


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


def worst(codes: list[ExitCode]) -> ExitCode:
    return max(codes, key=SEVERITY.index, default=ExitCode.OK)


def run_all(
    settings: Settings,
    make_plan: Callable[[str], Any],
    run_plan: Callable[[Any, str], Any],
    stop: threading.Event,
) -> ExitCode:
    """Run every target in two phases (``run_plan(plan, phase)``); one target's failure never
    stops the others. ``plan --all`` goes the same way with dry runs."""
    order = top_down(settings)
    codes: list[ExitCode] = []
    from jobs.stages import registry

    def in_phase(phase: str) -> Callable[[list[str]], list[str]]:
        return lambda stages: [
            name for name in stages if registry.get(name).phase in (phase, "both")
        ]

    phases = (
        ("decline", order, in_phase("decline")),
        ("cleanup", list(reversed(order)), in_phase("cleanup")),
    )
    for phase, names, pick in phases:
        for name in names:
            if stop.is_set():
                codes.append(ExitCode.PARTIAL)
                break
            plan = make_plan(name)
            plan = replace(plan, stages=pick(plan.stages))
            if not [stage for stage in plan.stages if stage != "preflight"]:
                continue
            log.info("hierarchy.run", phase=phase, target=name, stages=plan.stages)
            codes.append(ExitCode(run_plan(plan, phase).exit_code))
    return worst(codes)
