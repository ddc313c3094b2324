"""Optional backup: a new copy-only, checksummed full backup each run, before destructive work.

Each run writes a new file (``<database>_<run ID>.bak``, the run ID starting with the UTC time), so a backup that fails part-way never
destroys the last good one; after a success the oldest of this tool's files beyond
``backup.keep`` are deleted, where this host can see the folder. A failed, skipped or cancelled
backup refuses the destructive stages that follow (the gate fails closed).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from jobs import events
from jobs.errors import DatabaseError
from jobs.runner.context import RunContext, StageOutcome
from jobs.stages import preflight

log = events.get_logger("susdb_maint.stages.backup")
GUESS_SECONDS = 600.0  # a first backup, before this target has a measured one


def file_stem(database: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", database or "SUSDB")


def backup_file(directory: str, database: str, run_id: str) -> str:
    """The file this run's backup goes to, spelled as the server's OS spells paths."""
    separator = "\\" if ("\\" in directory or re.match(r"^[A-Za-z]:", directory)) else "/"
    folder = directory.rstrip("/\\")
    return f"{folder}{separator}{file_stem(database)}_{run_id}.bak"


# Declared, with its settings and the rights it needs, in jobs/stages/declared/backup.py.
def run(ctx: RunContext) -> StageOutcome:
    settings = ctx.settings.backup
    if not settings.directory:
        reason = "backup.directory is not set"
        preflight.refuse_after_backup(ctx, reason)
        return StageOutcome(status="skipped", reason=reason)
    database = ctx.facts.database_name or "SUSDB"
    target_file = backup_file(settings.directory, database, ctx.run_id)
    expected = ctx.store.seconds_per_item(ctx.target, "backup") or GUESS_SECONDS
    if ctx.dry_run:
        detail = {"file": target_file, "estimated_seconds": round(expected, 1)}
        return StageOutcome(status="planned", remaining=1, detail=detail)
    left = ctx.seconds_left()
    if left is not None and expected > left:
        reason = f"deadline: the backup takes about {expected:.0f} s and {left:.0f} s are left"
        preflight.refuse_after_backup(ctx, reason)
        return StageOutcome(status="deferred", reason=reason)
    no_room = _no_room(ctx, settings.directory)
    if no_room is not None:
        preflight.refuse_after_backup(ctx, no_room)
        return StageOutcome(status="refused", reason=no_room)
    started = ctx.clock.monotonic()
    try:
        messages = ctx.susdb.backup_database(target_file, timeout=0)
    except DatabaseError as error:
        preflight.refuse_after_backup(ctx, f"the backup failed: {error}")
        _remove_partial(target_file)
        raise
    ctx.store.add_timing(ctx.target, "backup", 1, ctx.clock.monotonic() - started)
    ctx.facts.last_backup, ctx.facts.last_backup_device = ctx.susdb.last_full_backup_and_device()
    ctx.facts.backup_failed = None
    preflight.check_backup(ctx)
    pruned = prune(settings.directory, database, settings.keep)
    return StageOutcome(
        done=1, detail={"file": target_file, "messages": messages[-2:], "pruned": pruned}
    )


def _no_room(ctx: RunContext, directory: str) -> str | None:
    """Why the backup would not fit where the engine writes it, or None. A full disk fails the
    backup part-way (and, on WID, often the system drive with it), then every destructive stage
    is refused night after night: check before starting (decline review N8)."""
    try:
        needed, volumes = ctx.susdb.backup_space()
    except DatabaseError as error:  # no VIEW SERVER STATE, say: this host may still see it
        log.info("backup.space_unread", error=str(error), error_kind=error.kind)
        needed, volumes = ctx.susdb.database_size_mb() * 1024 * 1024, []
    free, seen_by = free_bytes_at(directory, volumes)
    wanted = int(needed * SPACE_MARGIN)
    if free is None:
        log.warning(
            "backup.space_unknown",
            directory=directory,
            needed_bytes=wanted,
            reason="the folder is on none of the database's volumes and not visible from here",
        )
        return None
    log.info(
        "backup.space", directory=directory, free_bytes=free, needed_bytes=wanted, seen_by=seen_by
    )
    if free >= wanted:
        return None
    # A folder sized for backup.keep backups has no room for one more until the oldest goes,
    # which the prune does only after a success: make room now, from the files the prune would
    # delete anyway (beyond keep - 1, and never the last one), if that is enough.
    keep = max(ctx.settings.backup.keep - 1, 1)
    database = ctx.facts.database_name or "SUSDB"
    spare = ours(directory, database)[:-keep]
    if spare and free + sum(path.stat().st_size for path in spare) >= wanted:
        log.info("backup.pruned_for_space", directory=directory, files=[p.name for p in spare])
        prune(directory, database, keep)
        return None
    return (
        f"the backup would not fit in {directory}: about {_gib(wanted)} needed "
        f"({SPACE_MARGIN:g} x the data in use), {_gib(free)} free ({seen_by}); "
        "free space there or set backup.directory to a larger volume"
    )


SPACE_MARGIN = 1.2  # the data in use, plus the log written during the backup, plus headroom


def free_bytes_at(directory: str, volumes: list[tuple[str, int]]) -> tuple[int | None, str]:
    """Free bytes where a backup to ``directory`` lands, and who says so: the engine, when the
    folder is on a volume that holds the database's files (its own view, wherever this tool
    runs); else this host, when it sees the folder; else unknown."""
    folded = directory.replace("/", "\\").lower()
    for mount, available in sorted(volumes, key=lambda volume: -len(volume[0])):
        point = mount.replace("/", "\\").lower()
        if point and folded.startswith(point):
            return available, f"the server, volume {mount}"
    folder = Path(directory)
    if folder.is_dir():
        return shutil.disk_usage(folder).free, "this host"
    return None, "unknown"


def _gib(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB"


def ours(directory: str, database: str) -> list[Path]:
    """This tool's backup files in ``directory``, oldest first ([] when this host cannot see it)."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    name = file_stem(database)
    return sorted(
        (
            path
            for path in folder.glob(f"{name}_*.bak")
            if re.fullmatch(rf"{re.escape(name)}_\d{{8}}T\d{{6}}Z-[0-9a-f]{{6}}\.bak", path.name)
        ),
        key=lambda path: (path.stat().st_mtime, path.name),
    )


def prune(directory: str, database: str, keep: int) -> list[str]:
    """Delete this tool's oldest backups beyond ``keep``, if this host sees the folder."""
    if not Path(directory).is_dir():
        log.info("backup.prune_skipped", directory=directory, reason="not visible from this host")
        return []
    removed = []
    for path in ours(directory, database)[:-keep]:
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
