"""Preflight: what server this is, whether it is a replica, and the backup gate.

The gate fails closed: the run starts with destructive stages refused, and only a preflight that
finished and found a fresh backup (or a gate set to ``advisory`` / ``off``) lifts the refusal. A
failed backup stage, or backup history that cannot be read, refuses them again.
"""

from __future__ import annotations

from datetime import datetime

from jobs import events
from jobs.errors import DatabaseError
from jobs.runner.context import WAY_OUT, RunContext, StageOutcome
from jobs.stages import delete_fix

log = events.get_logger("susdb_maint.stages.preflight")
DELETE_FIX_ARTICLE = (
    "The spDeleteUpdate stored procedure runs slowly "
    "(https://learn.microsoft.com/troubleshoot/mem/configmgr/update-management/spdeleteupdate-slow-performance)"
)


# Declared, with its settings and the rights it needs, in jobs/stages/declared/preflight.py.
def run(ctx: RunContext) -> StageOutcome:
    susdb = ctx.susdb
    try:
        last_backup, ctx.facts.last_backup_device = susdb.last_full_backup_and_device()
    except DatabaseError as error:
        # No SELECT on msdb.dbo.backupset, for example: the gate cannot pass on what it cannot see.
        ctx.facts.backup_unreadable = f"{error.kind}: {error}"
        last_backup = None
    info = susdb.server_info()
    schema = susdb.schema_version()
    replica = susdb.replica_state()
    fix_applied = susdb.delete_update_fix_applied()
    facts = ctx.facts
    facts.server, facts.replica = info, replica.replica_mode
    facts.delete_fix, facts.last_backup = fix_applied, last_backup
    log.info(
        "preflight.server",
        product_version=info.product_version,
        edition=info.edition,
        wid=info.is_wid,
        server_name=info.server_name,
        database=info.database,
        schema_build=schema.get("BuildNumber"),
        schema_version=schema.get("SchemaVersion"),
        replica=replica.replica_mode,
        sync_to_mu=replica.sync_to_mu,
        upstream_server=replica.upstream_server,
    )
    if fix_applied is None:
        log.warning(
            "preflight.delete_fix_unknown",
            article=DELETE_FIX_ARTICLE,
            reason="OBJECT_DEFINITION(dbo.spDeleteUpdate) is NULL: the login lacks VIEW DEFINITION "
            "on it, so whether Microsoft's fix is in place cannot be told",
        )
    elif not fix_applied:
        log.warning(
            "preflight.delete_fix_missing",
            article=DELETE_FIX_ARTICLE,
            impact="spDeleteUpdate may take tens of seconds per update",
            remedy="stages.delete_fix.apply = true applies it (after the backup gate)",
        )
    if delete_fix.replaced_since_applied(ctx):
        log.warning(
            "preflight.delete_fix_replaced",
            impact="spDeleteUpdate no longer holds the change susdb-maint applied: a WSUS "
            "update may have replaced it",
            remedy="stages.delete_fix.apply applies it again; the saved original is kept",
        )
    missing = [name for name, held in susdb.permissions().items() if not held]
    for name in missing:
        log.warning("preflight.permission_missing", permission=name)
    warn_of_sync(ctx)
    check_backup(ctx)  # last: only a preflight that finished can lift the refusal
    return StageOutcome(
        detail={
            "edition": info.edition,
            "version": info.product_version,
            "wid": info.is_wid,
            "replica": replica.replica_mode,
            "delete_fix": fix_applied,
            "last_backup": last_backup.isoformat() if last_backup else None,
            "backup_refusal": ctx.facts.refuse_destructive,
            "missing_permissions": missing,
        }
    )


SYNC_POLL_SECONDS = 60.0
UNREADABLE = "unreadable"


def warn_of_sync(ctx: RunContext) -> None:
    """Say so when a WSUS synchronization may be running (the wait, if any, comes before each
    destructive stage: ``hold_for_sync``)."""
    if not ctx.settings.stages.preflight.sync_quiet_minutes:
        return
    seen = _sync_seen(ctx)
    if isinstance(seen, tuple):
        last_event, minutes_ago = seen
        log.warning(
            "preflight.sync_recent",
            last_sync_event=last_event.isoformat(),
            minutes_ago=minutes_ago,
            advice="a WSUS synchronization may be running or just ran; Microsoft asks for none "
            "during maintenance: pause the synchronization schedule for the window",
        )


def hold_for_sync(ctx: RunContext) -> None:
    """Keep a destructive stage away from a WSUS synchronization: Microsoft asks for none during
    maintenance ("it's important that you don't sync your WSUS servers/SUPs during this
    maintenance period", wsus-maintenance-guide). Run before each destructive stage, since a
    synchronization may start at any time of the night.

    How it is detected, and what is a guess: SUSDB has no documented "synchronization running"
    flag (the WSUS API's ``GetSynchronizationStatus`` is not reachable from SQL). A
    synchronization event (``sql/last_sync_event.sql``) less than ``sync_quiet_minutes`` ago is
    taken as one that may be running. Which of those events marks a start and which an end is not
    public, so none is trusted to mean "finished"; a synchronization that runs longer than
    ``sync_quiet_minutes`` without writing an event is not seen: pause WSUS's schedule for the
    window. ``TimeAtServer`` is read as UTC, as WSUS keeps its other times (a guess); a reading
    that puts the event in the future is taken as local time instead. With
    ``sync_guard = "wait"`` the stage waits, inside the window and at most ``sync_wait_minutes``,
    for the events to go quiet; if they do not, or cannot be read, destructive stages are
    deferred (exit 3). With ``"warn"`` preflight only says so."""
    settings = ctx.settings.stages.preflight
    if not settings.sync_quiet_minutes or settings.sync_guard == "warn" or ctx.dry_run:
        return
    waited = 0.0
    seen = _sync_seen(ctx)
    while seen is not None:
        if seen == UNREADABLE:
            _defer_for_sync(
                ctx,
                "cannot tell whether a WSUS synchronization is running (its events cannot be read)",
                waited,
            )
            return
        if waited >= settings.sync_wait_minutes * 60 or ctx.out_of_time(SYNC_POLL_SECONDS):
            _defer_for_sync(
                ctx,
                f"a WSUS synchronization may be running (a synchronization event {seen[1]} min "
                f"ago, after waiting {waited / 60:.0f} min)",
                waited,
            )
            return
        if not ctx.clock.sleep(SYNC_POLL_SECONDS, ctx.stop):
            return  # a stop: the run ends, nothing destructive starts
        waited += SYNC_POLL_SECONDS
        seen = _sync_seen(ctx)
    if waited:
        log.info("preflight.sync_quiet", waited_minutes=round(waited / 60, 1))


def _defer_for_sync(ctx: RunContext, why: str, waited: float) -> None:
    log.warning("preflight.sync_deferred", waited_minutes=round(waited / 60, 1), reason=why)
    ctx.facts.defer_destructive = (
        f"{why}: destructive stages wait for the next run; pause WSUS's synchronization "
        'schedule for the window, or set stages.preflight.sync_guard = "warn"'
    )


def _sync_seen(ctx: RunContext) -> tuple[datetime, int] | str | None:
    """The last synchronization event and its age in minutes when it is younger than
    sync_quiet_minutes; UNREADABLE when the events cannot be read; else None."""
    window = ctx.settings.stages.preflight.sync_quiet_minutes
    try:
        last_event, ages = ctx.susdb.last_sync_event()
    except DatabaseError as error:
        log.warning("preflight.sync_unknown", error=str(error), error_kind=error.kind)
        return UNREADABLE
    if last_event is None or not ages:
        return None
    utc, local = ages[0], ages[-1]
    age = local if utc < -5 else utc  # in the future as UTC: the column holds local time
    if -5 <= age <= window:
        return last_event, max(0, age)
    return None


def check_backup(ctx: RunContext) -> None:
    """Apply the backup gate: destructive stages run only when it positively passes."""
    gate = ctx.settings.backup
    failed_backup = ctx.facts.backup_failed
    if failed_backup:
        _refuse(ctx, failed_backup)
        return
    if gate.gate == "off":
        ctx.facts.refuse_destructive = None
        return
    unreadable = ctx.facts.backup_unreadable
    last_backup = ctx.facts.last_backup
    age_hours = (ctx.clock.now() - last_backup).total_seconds() / 3600 if last_backup else None
    if last_backup and not unreadable and age_hours is not None and age_hours <= gate.max_age_hours:
        log.info(
            "backup.fresh",
            last_backup=last_backup.isoformat(),
            age_hours=round(age_hours, 1),
            device=ctx.facts.last_backup_device,
        )
        ctx.facts.refuse_destructive = None
        return
    if unreadable:
        reason = f"cannot read the backup history in msdb.dbo.backupset ({unreadable})"
    else:
        seen = (
            f"last full backup {age_hours:.1f} h ago"
            if age_hours is not None
            else "no full backup on record"
        )
        reason = f"no full backup in the last {gate.max_age_hours:g} h ({seen})"
    log.warning("backup.stale", gate=gate.gate, reason=reason)
    if gate.gate == "advisory":
        ctx.facts.refuse_destructive = None
        return
    _refuse(ctx, reason)


def refuse_after_backup(ctx: RunContext, reason: str) -> None:
    """The backup stage did not produce a backup: whatever the gate said before, refuse."""
    ctx.facts.backup_failed = reason
    _refuse(ctx, reason)


def _refuse(ctx: RunContext, reason: str) -> None:
    ctx.facts.refuse_destructive = f"{reason}; to go on, {WAY_OUT}"
