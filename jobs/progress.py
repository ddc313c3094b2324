"""Progress bars for interactive runs (a terminal and console-format events); never in JSON or
non-TTY output, where the batch.finish events carry the same numbers. The bars are drawn on the
same rich Console as the event lines, so neither garbles the other."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class StageProgress:
    def __init__(self, console: Console | None = None) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=True,
        )
        self.task: Any = None

    def start(self, stage: str, total: int) -> None:
        if not self.progress.live.is_started:
            self.progress.start()
        self.task = self.progress.add_task(stage, total=max(total, 1))

    def advance(self, items: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, items)

    def finish(self) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None

    def close(self) -> None:
        if self.progress.live.is_started:
            self.progress.stop()


def for_run() -> StageProgress | None:
    from jobs import events

    return StageProgress(events.terminal_console()) if events.interactive() else None
