"""What one invocation asks: the command line's options, or a scheduled job's.

One frozen object, made where they are read (argparse, a schedule entry) and carried unchanged
to the plan (``Plan.options``) and the stages (``RunContext.options``): each option is declared
here once and read where it is used, never copied field by field along the way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import time


@dataclass(frozen=True)
class RunOptions:
    target: str | None = None
    all_targets: bool = False  # run --all: every target, declines top-down, cleanup bottom-up
    profile: str | None = None
    stages: tuple[str, ...] | None = None  # --stage, in the order given
    until: time | None = None  # --until: stop starting work at this local time
    max_duration_minutes: float | None = None
    dry_run: bool = False  # plan: count and estimate, change nothing in SUSDB
    remove_custom_indexes: bool = False
    run_late: bool = False  # start although the window has closed (--max-duration still holds)
    restore_delete_fix: bool = False  # put back the spDeleteUpdate text this tool replaced

    def __post_init__(self) -> None:
        if self.stages is not None and not isinstance(self.stages, tuple):
            object.__setattr__(self, "stages", tuple(self.stages))

    def on(self, target: str | None, *, dry_run: bool | None = None) -> RunOptions:
        """The same options for one target (one of --all's, or the one given)."""
        return replace(self, target=target, dry_run=self.dry_run if dry_run is None else dry_run)
