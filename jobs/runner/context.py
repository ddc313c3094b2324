"""What a stage is given: the target, its options, the gateway, the state store, time and events."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jobs.settings.model import Settings
from jobs.state.store import StateStore
from jobs.susdb import Susdb


@dataclass
class StageOutcome:
    """How a stage ended. ``status``: done, partial, skipped, refused or failed."""

    status: str = "done"
    done: int = 0
    skipped: int = 0
    failed: int = 0
    remaining: int = 0
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunContext:
    run_id: str
    target: str
    settings: Settings
    susdb: Susdb
    store: StateStore
    clock: Any
    dry_run: bool = False
    deadline: datetime | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    facts: dict[str, Any] = field(default_factory=dict)  # what preflight found, for later stages
    remove_custom_indexes: bool = False
    progress: Any = None  # a StageProgress on an interactive terminal

    def seconds_left(self) -> float | None:
        if self.deadline is None:
            return None
        return (self.deadline - self.clock.now()).total_seconds()

    def out_of_time(self, needed_seconds: float = 0.0) -> bool:
        left = self.seconds_left()
        return self.stop.is_set() or (left is not None and left <= needed_seconds)
