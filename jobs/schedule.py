"""``susdb-maint schedule``: the foreground worker (lands with the scheduling issue)."""

from __future__ import annotations

from pathlib import Path

from jobs.errors import UsageError
from jobs.settings.model import Settings


def run_scheduler(
    settings: Settings, config_path: Path | None, state_dir: Path, *, list_only: bool
) -> int:
    raise UsageError(
        "schedule: no [schedule] jobs are supported yet; use `susdb-maint run --profile nightly` "
        "from Task Scheduler, cron or a systemd timer"
    )
