"""One declaration per stage: everything the runner, the planner, ``run --all``, the backup gate,
the configuration and the command line know about a stage comes from here.

A stage module declares itself with ``@stage(...)`` on its ``run(ctx)`` function (as alembic's
``Operations.register_operation`` and borgmatic's hook dispatch do). ``destructive`` has no
default: a new stage says whether it may delete, and so whether the backup gate must pass first.
Adding a stage touches its module, its SQL files, its settings and its tests, nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from jobs.runner.context import RunContext, StageOutcome

Phase = Literal["decline", "cleanup", "both"]


@dataclass(frozen=True)
class Stage:
    name: str
    order: int  # its place in Microsoft's order for a full run
    destructive: bool  # deletes or changes WSUS's data: only after the backup gate passed
    needs_preflight: bool  # relies on what preflight finds (replica, edition, the gate)
    phase: Phase  # run --all: declines top-down, cleanup bottom-up, or both phases
    run: Callable[[RunContext], StageOutcome]
    reporting: bool = False  # reports rather than works: still runs after the window closed
    settings: str | None = None  # its section under [stages], when it has one
    external: bool = False  # acts on the WSUS host, not through SQL (never in plan --show-sql)


_DECLARED: dict[str, Stage] = {}
_loaded = False


def stage(
    *,
    name: str,
    order: int,
    destructive: bool,
    needs_preflight: bool,
    phase: Phase = "cleanup",
    reporting: bool = False,
    settings: str | None = None,
    external: bool = False,
) -> Callable[[Callable[[RunContext], StageOutcome]], Callable[[RunContext], StageOutcome]]:
    """Declare the decorated ``run(ctx)`` as the stage ``name``."""

    def declare(run: Callable[[RunContext], StageOutcome]) -> Callable[[RunContext], StageOutcome]:
        _DECLARED[name] = Stage(
            name, order, destructive, needs_preflight, phase, run, reporting, settings, external
        )
        return run

    return declare


def _load() -> dict[str, Stage]:
    """Import every module of ``jobs.stages`` once, so each has declared itself."""
    global _loaded
    if not _loaded:
        import jobs.stages as package

        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"jobs.stages.{module.name}")
        _loaded = True
    return _DECLARED


def stages() -> list[Stage]:
    """Every declared stage, in Microsoft's order."""
    return sorted(_load().values(), key=lambda declared: declared.order)


def get(name: str) -> Stage:
    return _load()[name]


def names() -> tuple[str, ...]:
    return tuple(declared.name for declared in stages())


def is_stage(name: str) -> bool:
    return name in _load()


def destructive() -> frozenset[str]:
    return frozenset(declared.name for declared in stages() if declared.destructive)
