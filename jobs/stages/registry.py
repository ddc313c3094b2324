"""One declaration per stage: everything the runner, the planner, ``run --all``, the backup gate,
the configuration, the command line and ``status --check-permissions`` know about a stage comes
from here.

Each stage declares itself in ``jobs/stages/declared/<stage>.py`` with ``@stage(...)``: its
facts, its settings class and the rights it needs, next to that settings class. Those modules are
light (pydantic, no runner or database code), and the declared ``run(ctx)`` imports the stage's
implementation (``jobs/stages/<stage>.py``) only when the stage runs, as sqlfluff's plugin hooks
import their rules only when fetched: validating a config or listing the stages imports none of
it. ``destructive`` has no default: a new stage says whether it may delete, and so whether the
backup gate must pass first. Adding a stage touches its module, its declaration, its SQL files and
its tests, nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pydantic import BaseModel

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
    settings: type[BaseModel] | None = None  # its section under [stages], when it has one
    rights: tuple[str, ...] = ()  # rows of sql/check_permissions.sql it needs
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
    settings: type[BaseModel] | None = None,
    rights: tuple[str, ...] = (),
    external: bool = False,
) -> Callable[[Callable[[RunContext], StageOutcome]], Callable[[RunContext], StageOutcome]]:
    """Declare the decorated ``run(ctx)`` as the stage ``name``."""

    def declare(run: Callable[[RunContext], StageOutcome]) -> Callable[[RunContext], StageOutcome]:
        _DECLARED[name] = Stage(
            name=name,
            order=order,
            destructive=destructive,
            needs_preflight=needs_preflight,
            phase=phase,
            run=run,
            reporting=reporting,
            settings=settings,
            rights=rights,
            external=external,
        )
        return run

    return declare


def _load() -> dict[str, Stage]:
    """Import every declaration once (no implementation), so each stage has declared itself."""
    global _loaded
    if not _loaded:
        import jobs.stages.declared as package

        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{module.name}")
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


def needing(right: str) -> tuple[str, ...]:
    """The stages that declare ``right`` (a row of sql/check_permissions.sql), in order."""
    return tuple(declared.name for declared in stages() if right in declared.rights)
