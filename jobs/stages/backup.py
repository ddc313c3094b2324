"""Optional backup: a new copy-only, checksummed full backup each run, before destructive work.

Each run writes a new file (``<database>_<run ID>.bak``, the run ID starting with the UTC time), so a backup that fails part-way never
destroys the last good one; after a success the oldest of this tool's files beyond
``backup.keep`` are deleted, where this host can see the folder. A failed, skipped or cancelled
backup refuses the destructive stages that follow (the gate fails closed).
"""

from __future__ import annotations

import re
from pathlib import Path

from jobs import events
from jobs.errors import DatabaseError
from jobs.runner.context import RunContext, StageOutcome
from jobs.stages import preflight
from jobs.stages.registry import stage

log = events.get_logger("susdb_maint.stages.backup")
GUESS_SECONDS = 600.0  # a first backup, before this target has a measured one


def file_stem(database: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", database or "SUSDB")


def backup_file(directory: str, database: str, run_id: str) -> str:
    """The file this run's backup goes to, spelled as the server's OS spells paths."""
    separator = "\\" if ("\\" in directory or re.match(r"^[A-Za-z]:", directory)) else "/"
    folder = directory.rstrip("/\\")
    return f"{folder}{separator}{file_stem(database)}_{run_id}.bak"


@stage(name="backup", order=5, destructive=False, needs_preflight=False, phase="cleanup")
def run(ctx: RunContext) -> StageOutcome:
    settings = ctx.settings.backup
    if not settings.directory:
        reason = "backup.directory is not set"
        preflight.refuse_after_backup(ctx, reason)
        return StageOutcome(status="skipped", reason=reason)
    database = ctx.facts.database_name or "SUSDB"
    target_file = backup_file(settings.directory, database, ctx.run_id)
    if ctx.dry_run:
        return StageOutcome(status="planned", detail={"file": target_file})
    expected = ctx.store.seconds_per_item(ctx.target, "backup") or GUESS_SECONDS
    left = ctx.seconds_left()
    if left is not None and expected > left:
        reason = f"deadline: the backup takes about {expected:.0f} s and {left:.0f} s are left"
        preflight.refuse_after_backup(ctx, reason)
        return StageOutcome(status="deferred", reason=reason)
    started = ctx.clock.monotonic()
    try:
        messages = ctx.susdb.backup_database(target_file, timeout=0)
    except DatabaseError as error:
        preflight.refuse_after_backup(ctx, f"the backup failed: {error}")
        _remove_partial(target_file)
        raise
    ctx.store.add_timing(ctx.target, "backup", 1, ctx.clock.monotonic() - started)
    ctx.facts.last_backup = ctx.susdb.last_full_backup()
    ctx.facts.backup_failed = None
    preflight.check_backup(ctx)
    pruned = prune(settings.directory, database, settings.keep)
    return StageOutcome(
        done=1, detail={"file": target_file, "messages": messages[-2:], "pruned": pruned}
    )


def prune(directory: str, database: str, keep: int) -> list[str]:
    """Delete this tool's oldest backups beyond ``keep``, if this host sees the folder."""
    folder = Path(directory)
    if not folder.is_dir():
        log.info("backup.prune_skipped", directory=directory, reason="not visible from this host")
        return []
    name = file_stem(database)
    ours = sorted(
        (
            path
            for path in folder.glob(f"{name}_*.bak")
            if re.fullmatch(rf"{re.escape(name)}_\d{{8}}T\d{{6}}Z-[0-9a-f]{{6}}\.bak", path.name)
        ),
        key=lambda path: (path.stat().st_mtime, path.name),  # oldest first
    )
    removed = []
    for path in ours[:-keep]:
        try:
            path.unlink()
            removed.append(path.name)
        except OSError as error:
            log.warning("backup.prune_fail", file=str(path), error=str(error))
    if removed:
        log.info("backup.pruned", directory=directory, files=removed, kept=keep)
    return removed


def _remove_partial(target_file: str) -> None:
    path = Path(target_file)
    if path.is_file():
        try:
            path.unlink()
        except OSError:
            return
        log.info("backup.partial_removed", file=target_file)
