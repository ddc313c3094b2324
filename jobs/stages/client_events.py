"""Client reporting events: the old ones deleted in DELETE TOP (n) batches, on request only.

**Why.** Clients report events (detection, download, installation) to ``tbEventInstance``. "This
problem occurs if the number of reporting events in the tbEventInstance table exceeds 1 million
rows": clients stop reporting (``Failed to upload events to the server with hr = 80244008``) and
the console times out. WSUS's own deletion "is initiated only if the reporting events ... exceed 1
million rows", "is very slow and blocks the client computers from reporting", and deletes "1,000
events every 12 hours" (KB 909131,
https://support.microsoft.com/topic/16a2656d-7645-3a02-3e82-1349eb74f6b2).

**Off by default.** The stage runs only when ``stages.client_events.enabled`` is true *and* a
profile (or ``--stage``) lists ``client_events``; no default profile does. It is destructive: the
backup gate and the sync guard apply, as to ``sync_history``, and it deletes the same way
(``batched_delete``: autocommit batches below lock escalation, no new batch after the window
closed or a stop, the next run finds what is left by the same test, so it resumes without a queue).

**Which rows are a client's** (``sql/delete_client_events.sql``, ``sql/client_events_backlog.sql``):

* *Event IDs.* WSUS's API names the client events and their values (``WsusEventId``,
  https://learn.microsoft.com/previous-versions/ms825099(v=msdn.10)): 147 ClientDetectionComplete,
  148 ClientDetectionFailed, 161 ClientDownloadFailed, 162 ClientDownloadSucceeded, 163
  ClientDownloadCanceled, 184 ClientInstallationCompletedWithReboot, 186
  ClientInstallationCanceled, 197-200 ClientInstallationAtShutdown (Succeeded, Failed,
  CompletedWithReboot, TimedOut). Only these go. Detection events, one per client per detection
  cycle, are the bulk KB 909131 describes ("depends on the number of clients and on the frequency
  ... of each detection cycle"). Other client members of the enumeration whose values the public
  page does not show in full (installation succeeded or failed, uninstallation, ...) are kept:
  a guess could only delete too much.
* *A computer.* A client event names the computer that sent it (``IUpdateEvent.ComputerId``,
  ``HasAssociatedComputer``); a row with no ComputerID is kept.
* *Never namespace 2.* Microsoft's "clear the synchronization history" script deletes
  ``EventNamespaceID = 2`` with six event IDs, so namespace 2 holds the server's own
  synchronization events; "WSUS uses subscription server events to generate synchronization
  history" (``IUpdateServerConfiguration.ServerEventExpirationTime``). Which namespace holds client
  events is **not public** (tbEventNamespace's rows are not documented). Under each reading the
  stage is safe: client events in a namespace of their own (the simulator's model): the old ones
  go; client and server events together in namespace 2: nothing goes (the
  ``client_events.namespaces`` event and ``event_rows_by_namespace`` show where the rows are); more
  namespaces: only rows the API calls client events, naming a computer, go.
* *Age.* ``TimeAtServer`` older than ``retention_days`` (whether it is UTC is not public: hours,
  against a retention of at least 15 days); a row with no TimeAtServer is kept.

**What WSUS loses.** The event history: ``IUpdateServer.GetUpdateEventHistory`` (and the
``IUpdate`` and ``IComputerTarget`` overloads) return "both client and server events"; older
client events are no longer in it. Whether the console's reports (Computer Status, Update Status
and their detailed forms) read ``tbEventInstance`` is not public. The state they show per computer
and update is what each client last reported (``UpdateInstallationState``: "The state is updated
when the client reports to the server"), which the public view ``vUpdateInstallationInfo`` reads
from ``tbUpdateStatusPerComputer`` (its text, captured from a live server), not from events. Either
way the retention cannot be shorter than WSUS's own: client events are kept
``ClientEventExpirationTime``, "The default is 15 days"
(https://learn.microsoft.com/previous-versions/ms822161(v=msdn.10)), and WSUS deletes older ones
itself when its purge runs; ``retention_days`` (default 30) is refused below 15, so the stage takes
nothing a default WSUS server keeps.
"""

from __future__ import annotations

from jobs import events
from jobs.runner.context import RunContext, StageOutcome
from jobs.stages.batched_delete import delete_in_batches

log = events.get_logger("susdb_maint.stages.client_events")


# Declared, with its settings and the rights it needs, in jobs/stages/declared/client_events.py.
def run(ctx: RunContext) -> StageOutcome:
    settings = ctx.settings.stages.client_events
    if not settings.enabled:
        return StageOutcome(status="skipped", reason="off: stages.client_events.enabled is false")
    namespaces = ctx.susdb.event_rows_by_namespace()
    log.info(
        "client_events.namespaces",
        namespaces=[
            {"namespace": row.namespace, "name": row.name, "rows": row.rows} for row in namespaces
        ],
    )
    backlog = ctx.susdb.client_events_backlog(settings.retention_days)
    outcome = StageOutcome(
        remaining=backlog,
        detail={
            "backlog": backlog,
            "retention_days": settings.retention_days,
            "rows_by_namespace": {str(row.namespace): row.rows for row in namespaces},
        },
    )
    return delete_in_batches(
        ctx,
        outcome,
        settings.batch_rows,
        lambda timeout: ctx.susdb.delete_client_events(
            settings.batch_rows, settings.retention_days, timeout=timeout
        ),
        log,
    )
