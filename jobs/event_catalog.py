"""Every event susdb-maint writes, declared once: its name, level, fields and when it happens.

``docs/events.md`` and ``config/events.schema.json`` are generated from these declarations
(``python -m jobs.event_catalog``, kept in step by a test), and the event pipeline notes any
name that is not declared here, which fails the test suite. Names are stable dotted names;
fields may be added, never renamed, within schema version 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EventSpec:
    name: str
    level: str
    fields: str  # for people: the fields and what they hold (Markdown)
    when: str
    required: tuple[str, ...] = ()  # fields the schema requires
    properties: dict[str, Any] = field(default_factory=dict)  # schema constraints on fields


def _event(
    name: str,
    level: str,
    fields: str,
    when: str,
    required: str = "",
    **properties: Any,
) -> EventSpec:
    return EventSpec(name, level, fields, when, tuple(required.split()), properties)


RUN = "run_id target"
STAGE = "run_id target stage"
COUNTS = {"type": "integer"}
DECLARATIONS: tuple[EventSpec, ...] = (
    # -- a run -------------------------------------------------------------------------------
    _event(
        "run.start",
        "info",
        "`profile`, `stages`, `dry_run`, `deadline`, `endpoint`, `database`, `virtual_time`",
        "a run took the lock, read the database's identity and began",
        f"{RUN} profile stages dry_run",
        stages={"type": "array", "items": {"type": "string"}},
        dry_run={"type": "boolean"},
    ),
    _event(
        "run.finish",
        "info",
        "`status` (`ok`/`partial`/`failed`/`refused`/`locked`), `exit_code`, `duration_seconds`, "
        "`stages` (per stage: `stage`, `status`, `done`, `skipped`, `failed`, `remaining`), "
        "`kpis_before`, `kpis_after`, `quarantined`, `error` (one line when the run could not "
        "start or had to stop: window closed, server unreachable, lock busy or lost)",
        "always, last event of a run, also of a run that never reached its first stage; the same "
        "numbers as the printed summary and `history --json`",
        f"{RUN} status exit_code duration_seconds stages kpis_before kpis_after quarantined",
        status={"enum": ["ok", "partial", "failed", "refused", "locked"]},
        exit_code={"enum": [0, 1, 2, 3, 4, 5]},
        error={"type": ["string", "null"]},
        stages={
            "type": "array",
            "items": {
                "type": "object",
                "required": ["stage", "status", "done", "skipped", "failed", "remaining"],
            },
        },
        kpis_before={"type": "object", "additionalProperties": {"type": "number"}},
        kpis_after={"type": "object", "additionalProperties": {"type": "number"}},
        quarantined={"type": "integer", "minimum": 0},
    ),
    _event(
        "run.abandoned",
        "warning",
        "`abandoned_run_id`, `reason`",
        "a run found a run on the same database still marked running: it died without finishing "
        "(SIGKILL, power loss) and is now marked `abandoned`",
        f"{RUN} abandoned_run_id",
    ),
    _event(
        "run.abandoned_link",
        "error",
        "`reason`",
        "a statement cancelled when the window closed (or on a stop) had not ended "
        "`runner.hard_stop_grace_seconds` later (a silent link the cancel never crossed): the run "
        "records itself as partial and the process ends with exit 3 (a scheduled job's thread is "
        "left to the socket's timeouts); the next run verifies what was in flight",
        f"{RUN} reason",
    ),
    _event(
        "state.unwritable",
        "error",
        "`error`",
        "the state store failed mid-run (a full disk, the file deleted or replaced under the "
        "run): the run ends as failed (exit 2) in its event, its metrics and, where it can still "
        "be written, its history",
        f"{RUN} error",
    ),
    _event(
        "run.unreachable",
        "error",
        "`error_kind`, `error`",
        "the server could not be reached or refused the login (exit 1, or 4 for a refused login)",
        f"{RUN} error_kind error",
    ),
    _event(
        "run.stopped",
        "error",
        "`reason`",
        "the target lock was lost mid-run: the run stops before its next batch (exit 1)",
        f"{RUN} reason",
    ),
    _event(
        "window.closed",
        "warning",
        "`reason`",
        "the run started outside its window (`--until`, `window.start`): no work, exit 3; "
        "`--run-late` runs anyway",
        f"{RUN} reason",
    ),
    _event(
        "target.database_changed",
        "warning",
        "`previous`, `now`, `action`",
        "a target now reaches another database than its last run did; each database keeps its "
        "own queues, nothing stored is sent to the other",
        f"{RUN} previous now",
    ),
    _event(
        "deadline.reached",
        "warning",
        "`remaining` (per stage), `reason` (`deadline`/`signal`)",
        "the window ended, or a stop signal came, with work left (exit 3)",
        f"{RUN} remaining reason",
        remaining={"type": "object"},
    ),
    _event(
        "signal.received",
        "warning",
        "`signal`, `action`",
        "SIGINT, SIGTERM or SIGHUP: the run stops after the current item, the worker after its job",
        "signal action",
    ),
    _event(
        "hierarchy.run",
        "info",
        "`phase` (`decline`/`cleanup`), `stages`",
        "`run --all` starts a target's part of a phase: declines top-down, cleanup bottom-up",
        "phase target stages",
    ),
    # -- locks, sessions, the state store ----------------------------------------------------
    _event(
        "lock.acquired",
        "debug",
        "`resource`, `database`",
        "the run holds the lock on its database",
        "resource",
    ),
    _event(
        "lock.busy",
        "warning",
        "`resource`, `holder`, `result`",
        "another run holds the lock on this database, under any target name (exit 5)",
        "resource holder",
    ),
    _event(
        "lock.lost",
        "error",
        "`error`, `lock_mode` or `reason`",
        "the session holding the target lock is gone, or another run took the lock while this one "
        "reconnected: the run stops (exit 5)",
    ),
    _event(
        "lock.reacquired",
        "info",
        "`resource`, `database`",
        "after a reconnect the new session took the target lock again, on the same database, "
        "before any other statement",
    ),
    _event(
        "transaction.rolled_back",
        "warning",
        "`statement`, `open_transactions`, `error_kind`",
        "after a cancelled or failed statement the session still had a transaction open (a WSUS "
        "procedure's own): rolled back before anything else was sent",
        "statement open_transactions",
    ),
    _event(
        "transaction.rollback_fail",
        "warning",
        "`statement`, `error`",
        "that rollback failed: the connection was dropped instead (the server rolls back)",
        "statement error",
    ),
    _event(
        "reconnect.fail",
        "warning",
        "`error`",
        "a reconnect before a retry failed; the retry is counted and may fail too",
        "error",
    ),
    _event(
        "retry",
        "warning",
        "`attempt`, `sleep_seconds`, `error_kind`, `error`, `native_error`",
        "a transient error (deadlock victim, lock timeout, lost link) is retried",
        "attempt sleep_seconds error_kind error",
    ),
    _event(
        "sql.message",
        "info",
        "`statement`, `message`",
        "PRINT / RAISERROR ... WITH NOWAIT output",
        "statement message",
    ),
    _event(
        "state.busy",
        "warning",
        "`path`, `waited_seconds`",
        "another susdb-maint process holds the state store's write lock; the run waits up to "
        "`runner.state_busy_seconds`, then exits 5",
        "path waited_seconds",
    ),
    # -- stages --------------------------------------------------------------------------------
    _event("stage.start", "info", "`dry_run`", "a stage begins", STAGE),
    _event(
        "stage.finish",
        "info",
        "`status` (`done`/`partial`/`failed`/`planned`), `reason`, `done`, `skipped`, `failed`, "
        "`remaining`, `duration_seconds`, and `by_reason`, `pages_before`, `pages_after`, "
        "`queued`, `estimated_seconds`, `gone` where they apply",
        "a stage ran",
        f"{STAGE} status done skipped failed remaining duration_seconds",
        status={"enum": ["done", "partial", "failed", "planned"]},
    ),
    _event(
        "stage.skip",
        "warning",
        "`status` (`skipped`/`refused`/`deferred`), `reason` (`replica`, `not_windows`, backup "
        "gate or guard text, `deadline`, `signal`, `window_closed`), `remaining`",
        "a stage did not run or was refused",
        f"{STAGE} status reason",
        status={"enum": ["skipped", "refused", "deferred"]},
    ),
    _event(
        "stage.interrupted",
        "warning",
        "`reason` (`deadline`/`signal`), `error`",
        "the window closed or a stop came while one of the stage's statements ran: it was "
        "cancelled (its transaction rolled back) and the stage ends partial, not failed",
        f"{STAGE} reason",
    ),
    _event(
        "stage.fail",
        "error",
        "`error_kind`, `error`",
        "a stage failed; the next stage still runs",
        f"{STAGE} error_kind error",
    ),
    # -- queues and items ----------------------------------------------------------------------
    _event(
        "queue.build",
        "info",
        "`items`, `seconds`, `server_seconds`",
        "a stage's candidate query ran (spooled, then swapped in)",
        "items",
    ),
    _event(
        "queue.resume",
        "info",
        "`pending`, `age_hours`, `stale` (a plan that kept a stale queue)",
        "a fresh queue was resumed",
        "pending",
    ),
    _event("queue.spooled", "debug", "`rows`", "a candidate query's rows are spooled", "rows"),
    _event(
        "queue.spool_discarded",
        "info",
        "`rows`",
        "the candidate rows a killed run (or a day-old plan) left spooled were removed",
        "rows",
    ),
    _event(
        "queue.planned",
        "info",
        "`items`",
        "a plan ran a candidate query and kept its rows as the plan, apart from the queues (the "
        "next run builds its own)",
        "items",
    ),
    _event(
        "plan.items_untitled",
        "warning",
        "`error`, `items`",
        "`plan --items` could not read the KB and title of the obsolete-update and compression "
        "items from the target; it lists them without",
        "error items",
    ),
    _event(
        "queue.deferred",
        "warning",
        "`expected_seconds`, `seconds_left`, `reason`",
        "the candidate query took longer last time than the window has left: not started, stage "
        "`deferred`",
        "expected_seconds seconds_left",
    ),
    _event(
        "batch.finish",
        "info",
        "`batch`, `size`, `done`, `skipped`, `failed`, `gone`, `seconds`, `wall_seconds`, "
        "`remaining`, `rate_per_second`, `eta_seconds`, `next_size`",
        "every batch (a checkpoint)",
        f"{STAGE} batch size done skipped failed seconds remaining",
        done=COUNTS,
        skipped=COUNTS,
        failed=COUNTS,
        remaining=COUNTS,
    ),
    _event(
        "item.settled",
        "info",
        "`item`, `status` (`done`/`gone`), `reason`",
        "an item that may have reached the server (a killed run, a lost reply, a timeout, a "
        "retry) was found done, or its update gone, before anything was sent again",
        "item status",
    ),
    _event(
        "item.gone",
        "info",
        "`item`",
        "the update was deleted since the queue was built (obsolete cleanup): nothing to do, not "
        "a decline",
        "item",
    ),
    _event(
        "item.skip",
        "info",
        "`item`, `reason`, `error`",
        "e.g. `still_referenced` from spDeleteUpdate",
        "item reason",
    ),
    _event(
        "item.fail",
        "warning",
        "`item`, `error_kind`, `error`, `native_error`, `quarantined`",
        "an item failed after its retries",
        "item error_kind error quarantined",
    ),
    # -- health --------------------------------------------------------------------------------
    _event(
        "kpi",
        "info",
        "`name`, `value`, `phase`",
        "health KPIs",
        "name value phase",
        value={"type": "number"},
    ),
    _event(
        "kpi.threshold",
        "warning",
        "`kpi`, `value`, `threshold`",
        "a KPI is above its warning threshold",
        "kpi value threshold",
    ),
    _event(
        "kpi.unavailable",
        "warning",
        "`error`, `error_kind`",
        "the KPIs before or after a run could not be read; the run goes on",
        "error",
    ),
    # -- preflight, backup, the spDeleteUpdate change -------------------------------------------
    _event(
        "preflight.server",
        "info",
        "`product_version`, `edition`, `wid`, `server_name`, `database`, `schema_build`, "
        "`schema_version`, `replica`, `sync_to_mu`, `upstream_server`",
        "preflight",
    ),
    _event(
        "preflight.permission_missing",
        "warning",
        "`permission`",
        "a right some stage needs is missing",
        "permission",
    ),
    _event(
        "preflight.delete_fix_missing",
        "warning",
        "`article`, `impact`, `remedy`",
        "Microsoft's spDeleteUpdate fix is not applied",
    ),
    _event(
        "preflight.delete_fix_replaced",
        "warning",
        "`impact`, `remedy`",
        "susdb-maint applied the fix on this database and the procedure no longer holds it (a "
        "WSUS update?)",
    ),
    _event(
        "preflight.delete_fix_unknown",
        "warning",
        "`article`, `reason`",
        "without VIEW DEFINITION on spDeleteUpdate, whether Microsoft's fix is in place cannot be "
        "told",
    ),
    _event(
        "preflight.sync_recent",
        "warning",
        "`last_sync_event`, `minutes_ago`, `advice`",
        "a WSUS synchronization is running or just ran (Microsoft asks for none during "
        "maintenance)",
        "minutes_ago",
    ),
    _event(
        "preflight.sync_quiet",
        "info",
        "`waited_minutes`",
        "the synchronization events went quiet: destructive stages may run",
        "waited_minutes",
    ),
    _event(
        "preflight.sync_deferred",
        "warning",
        "`waited_minutes`, `reason`",
        "a synchronization may still be running after the sync guard's wait: destructive "
        "stages are deferred to the next run (exit 3)",
        "waited_minutes",
    ),
    _event(
        "preflight.sync_unknown",
        "warning",
        "`error`",
        "whether a synchronization is running could not be read",
    ),
    _event(
        "delete_fix.applied",
        "info",
        "`procedure`, `original_fingerprint`",
        "the `delete_fix` stage applied Microsoft's change",
        "procedure",
    ),
    _event(
        "delete_fix.restored",
        "info",
        "`procedure`, `fingerprint`",
        "`run --restore-delete-update` put the original text back",
        "procedure",
    ),
    _event(
        "backup.fresh",
        "info",
        "`last_backup`, `age_hours`, `device` (the file it went to)",
        "the backup gate passed, on the backup named",
        "last_backup age_hours",
    ),
    _event(
        "backup.stale",
        "warning",
        "`gate`, `reason`",
        "no fresh backup (or its history cannot be read): refused with `required`, a warning with "
        "`advisory`",
        "gate reason",
    ),
    _event(
        "backup.pruned",
        "info",
        "`directory`, `files`, `kept`",
        "the backup stage deleted its own files beyond `backup.keep`",
        "directory files kept",
    ),
    _event(
        "backup.space",
        "info",
        "`directory`, `free_bytes`, `needed_bytes`, `seen_by`",
        "free space where the backup lands, before it starts (refused with one line when it "
        "would not fit)",
        "directory free_bytes needed_bytes",
    ),
    _event(
        "backup.pruned_for_space",
        "info",
        "`directory`, `files`",
        "the backup would not fit until the oldest of this tool's backups go, which the prune "
        "after a success would delete anyway: deleted before the backup (never the last one)",
        "directory files",
    ),
    _event(
        "backup.space_unread",
        "info",
        "`error_kind`, `error`",
        "the engine's view of its volumes could not be read (VIEW SERVER STATE): the free space "
        "is read from this host where it sees the folder",
        "error_kind",
    ),
    _event(
        "backup.space_unknown",
        "warning",
        "`directory`, `needed_bytes`, `reason`",
        "the free space where the backup lands cannot be seen (a share the server writes to): "
        "the backup starts anyway",
        "directory reason",
    ),
    _event(
        "backup.prune_skipped",
        "info",
        "`directory`, `reason`",
        "this host cannot see the backup folder: nothing pruned",
        "directory reason",
    ),
    _event(
        "backup.prune_fail",
        "warning",
        "`file`, `error`",
        "an old backup file could not be deleted",
        "file error",
    ),
    _event(
        "backup.partial_removed",
        "info",
        "`file`",
        "the file of a failed backup was removed",
        "file",
    ),
    # -- stage work ----------------------------------------------------------------------------
    _event(
        "decline.update",
        "info",
        "`update_id`, `kb`, `title`, `reason`, `why`, `products`, `classifications`",
        "an update was declined (every product and classification it belongs to is named; "
        "`why` in words: the live update that covered a superseded one at that moment, or the "
        "rule and products)",
        "update_id reason",
    ),
    _event(
        "decline.source_fail",
        "error",
        "`source` (`superseded`, `expired`, `rules`, ...), `error`, `error_kind`",
        "one candidate source failed; the others still fill the queue and the stage is reported "
        "failed",
        "source error",
    ),
    _event(
        "decline.protected",
        "info",
        "`update_id`, `kb`, `title`",
        "`never_decline` kept an update",
        "update_id",
    ),
    _event(
        "decline.refused",
        "error",
        "`reason`",
        "the decline stage was refused before anything was queued or declined (exit 4): the "
        "rules would decline more than `max_rule_share_percent` of the catalog, or the "
        "`[configmgr]` site database could not be read",
        "reason",
    ),
    _event(
        "decline.category_unresolved",
        "warning",
        "`update_id`, `kb`, `title`, `category_ids`",
        "a product or classification of an update has no title (neither WSUS's precomputed "
        "English title nor its own): product, classification and `keep_products` rules leave "
        "the update alone (title rules still apply); counted in the stage's `category_unresolved`",
        "update_id",
    ),
    _event(
        "decline.deployed",
        "info",
        "`update_id`, `kb`, `title`, `candidate_reason`",
        "a candidate was not queued: Configuration Manager deploys it (`[configmgr]`); counted "
        "in the stage's `kept_deployed`",
        "update_id",
    ),
    _event(
        "configmgr.declined_but_deployed",
        "warning",
        "`update_id`",
        "Configuration Manager deploys an update that WSUS has declined: its clients report it "
        "not required; counted in the decline stage's `declined_but_deployed`",
        "update_id",
    ),
    _event(
        "decline.uncovered",
        "info",
        "`update_id`, `kb`, `title`, `reason`",
        "a superseded update was not queued: no live update covers it (every update superseding "
        "it, directly or through a chain, is declined, expired, declined tonight by another "
        "source, or an unapproved preview)",
        "update_id",
    ),
    _event(
        "decline.withheld",
        "info",
        "`update_id`, `kb`, `title`, `queued_reason`, `reason`",
        "a queued decline was judged again before it was sent and not sent: `never_decline`, "
        "no longer chosen by the config, or no live superseder on the server now",
        "update_id",
    ),
    _event(
        "index.present",
        "info",
        "`table`, `column`, `index`",
        "a custom index (found by leading column, whatever its name) is there already",
        "table index",
    ),
    _event(
        "index.create",
        "info",
        "`table`, `column`, `index`",
        "the custom_indexes stage creates an index",
        "table index",
    ),
    _event(
        "index.create.planned",
        "info",
        "`table`, `column`, `index`",
        "a plan would create an index",
        "table index",
    ),
    _event(
        "index.drop",
        "info",
        "`table`, `index`",
        "`--remove-custom-indexes` drops an index this tool created",
        "table index",
    ),
    _event(
        "index.drop.planned",
        "info",
        "`table`, `index`",
        "a plan would drop an index this tool created",
        "table index",
    ),
    _event(
        "index.reorganize",
        "info",
        "`table`, `index`, `fragmentation`, `density`, `pages`",
        "the reindex stage reorganizes an index",
        "table index",
    ),
    _event(
        "index.rebuild",
        "info",
        "`table`, `index`, `fragmentation`, `density`, `pages`",
        "the reindex stage rebuilds an index",
        "table index",
    ),
    _event(
        "index.online_refused",
        "info",
        "`table`, `index`, `native_error` (2725, 1712)",
        "an index cannot be rebuilt ONLINE (LOB columns, edition): rebuilt offline instead",
        "table index",
    ),
    _event(
        "index.page_locks_disabled",
        "info",
        "`table`, `index`",
        "REORGANIZE refused (2552: page locks disallowed): rebuilt instead",
        "table index",
    ),
    _event(
        "computers.guard",
        "warning",
        "`total`, and `estimated` (silent by either date: at most this many go), "
        "`estimated_at_least` (silent by both), `estimated_percent`, `threshold_days` (refused "
        "before the call) or `deleted`, `deleted_percent`, `reported_by_wsus` (rolled back after "
        "it)",
        "more computers than the guard allows would go: refused from the estimate without "
        "calling spCleanupObsoleteComputers, or (the backstop) its deletion rolled back",
        "total",
    ),
    _event(
        "client_events.namespaces",
        "info",
        "`namespaces` (per event namespace: `namespace`, `name` from tbEventNamespace or null, "
        "`rows`)",
        "the client_events stage counted tbEventInstance by namespace, before deleting: where the "
        "rows are (namespace 2 holds the server's synchronization events and is never touched)",
        "namespaces",
        namespaces={
            "type": "array",
            "items": {"type": "object", "required": ["namespace", "name", "rows"]},
        },
    ),
    _event(
        "content_files.result",
        "info",
        "`output`",
        "Invoke-WsusServerCleanup -CleanupUnneededContentFiles finished",
    ),
    # -- the worker, monitoring, reports, the demo ---------------------------------------------
    _event(
        "schedule.start",
        "info",
        "`jobs` (name: trigger)",
        "the worker started",
        "jobs",
    ),
    _event("schedule.stop", "info", "", "the worker stopped"),
    _event(
        "schedule.fire",
        "info",
        "`job`, `profile`, `target`",
        "a scheduled job starts",
        "job",
    ),
    _event(
        "schedule.run_fail",
        "error",
        "`job`, `error`, `exit_code`",
        "a scheduled job could not run (a configuration error, a broken state store)",
        "job error exit_code",
    ),
    _event(
        "schedule.missed",
        "warning",
        "`job`, `error`",
        "a job's fire time passed beyond the misfire grace while the worker was busy or down",
        "job",
    ),
    _event(
        "schedule.overlap",
        "warning",
        "`job`, `error`",
        "a job was due while its previous run still ran: skipped",
        "job",
    ),
    _event(
        "schedule.job_error",
        "warning",
        "`job`, `error`",
        "a job raised an unexpected error",
        "job",
    ),
    _event("schedule.event", "warning", "`job`, `error`", "another scheduler event", "job"),
    _event(
        "monitoring.heartbeat_fail",
        "warning",
        "`state`, `error`",
        "a heartbeat ping failed (never fails the run)",
        "state error",
    ),
    _event(
        "monitoring.textfile_fail",
        "warning",
        "`path`, `error`",
        "the Prometheus textfile could not be written (never fails the run)",
        "path error",
    ),
    _event(
        "monitoring.history_unavailable",
        "warning",
        "`error`",
        "the textfile was written from this invocation only: the run history could not be read",
        "error",
    ),
    _event(
        "report.written",
        "info",
        "`path`, `run_id`",
        "the HTML report of a run was written",
        "path",
    ),
    _event(
        "report.email_sent",
        "info",
        "`to`, `server`",
        "the report was e-mailed",
        "to",
    ),
    _event(
        "report.fail",
        "warning",
        "`error`",
        "the report or its e-mail failed (never fails the run)",
        "error",
    ),
    _event(
        "simulator.login",
        "info",
        "`spid`, `user`, `app`",
        "`simulator serve`: a client logged in",
        "spid user",
    ),
    _event(
        "simulator.login_failed",
        "info",
        "`spid`, `user`",
        "`simulator serve`: a login was refused (18456)",
        "spid user",
    ),
    _event(
        "simulator.connection_dropped",
        "info",
        "`spid`",
        "`simulator serve`: a modelled link failure closed a client's socket",
        "spid",
    ),
    _event(
        "simulator.session_error",
        "debug",
        "`spid`, `error`",
        "`simulator serve`: a client session ended on a protocol or socket error",
        "spid error",
    ),
    _event(
        "demo.created",
        "info",
        "`path`, and the catalog's counts",
        "`demo` generated a simulated SUSDB",
        "path",
    ),
    _event(
        "demo.remade",
        "warning",
        "`path`, `reason`",
        "`demo` found its simulated SUSDB made by another susdb-maint version (which this "
        "simulator cannot run) and made it again",
        "path reason",
    ),
)
EVENTS: dict[str, EventSpec] = {spec.name: spec for spec in DECLARATIONS}
ROOT = Path(__file__).resolve().parents[1]
EVERY_EVENT_FIELDS = (
    ("timestamp", "UTC, ISO-8601, ends in `Z`"),
    ("level", "`debug`, `info`, `warning`, `error`"),
    ("event", "the event name below"),
    ("host`, `version", "machine name, susdb-maint version"),
    ("run_id", "inside a run: `YYYYMMDDTHHMMSSZ-xxxxxx`"),
    ("target", "inside a run: the target's name from the config"),
    ("stage", "inside a stage"),
)


def is_declared(name: str) -> bool:
    return name in EVENTS


def markdown() -> str:
    lines = [
        "# Events",
        "",
        "<!-- generated by `python -m jobs.event_catalog` from jobs/event_catalog.py: edit there -->",
        "",
        "Every line susdb-maint writes to stderr (and to `--log-file`) is one event: a JSON object "
        "with",
        "`--log-format json` or when stderr is not a terminal, a readable line otherwise. The JSON "
        "Schema is",
        "[`config/events.schema.json`](../config/events.schema.json); the test suite validates "
        "emitted",
        "events against it and fails on an event name that is not declared. Event names are "
        "stable dotted",
        "names; fields may be added, never renamed, within schema version 1.",
        "",
        "## Fields on every event",
        "",
        "| field | meaning |",
        "| --- | --- |",
        *(f"| `{name}` | {meaning} |" for name, meaning in EVERY_EVENT_FIELDS),
        "",
        "Secrets never appear: passwords, `PWD=` / `Password=` parts of connection strings and any "
        "secret",
        "value read through `password_env` / `password_file` are replaced by `***` in every event.",
        "",
        "## Events",
        "",
        "| event | level | fields | when |",
        "| --- | --- | --- | --- |",
        *(
            f"| `{spec.name}` | {spec.level} | {spec.fields or '-'} | {spec.when} |"
            for spec in DECLARATIONS
        ),
        "",
    ]
    return "\n".join(lines)


def json_schema() -> dict[str, Any]:
    rules = []
    for spec in DECLARATIONS:
        then: dict[str, Any] = {}
        if spec.required:
            then["required"] = list(spec.required)
        if spec.properties:
            then["properties"] = spec.properties
        if then:
            rules.append({"if": {"properties": {"event": {"const": spec.name}}}, "then": then})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://susdb-maint.invalid/events.schema.json",
        "title": "susdb-maint event (one JSON object per line)",
        "description": "Schema version 1, generated from jobs/event_catalog.py. Fields may be "
        "added; names and meanings of existing fields do not change within a major version.",
        "type": "object",
        "required": ["timestamp", "level", "event", "host", "version"],
        "properties": {
            "timestamp": {
                "type": "string",
                "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$",
            },
            "level": {"enum": ["debug", "info", "warning", "error", "critical"]},
            "event": {"type": "string", "pattern": "^[a-z_]+(\\.[a-z_]+)*$"},
            "host": {"type": "string"},
            "version": {"type": "string"},
            "run_id": {"type": "string", "pattern": "^\\d{8}T\\d{6}Z-[0-9a-f]{6}$"},
            "target": {"type": "string"},
            "stage": {"type": "string"},
            "logger": {"type": "string"},
        },
        "allOf": rules,
    }


def render() -> dict[Path, str]:
    """The generated files and their text."""
    return {
        ROOT / "docs" / "events.md": markdown(),
        ROOT / "config" / "events.schema.json": json.dumps(json_schema(), indent=2) + "\n",
    }


def main() -> None:
    for path, text in render().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
