"""Run a plan against one target: window, lock, run record, stages in order, summary, exit code.

Every run leaves a history row and a ``run.finish`` event, whatever happens: a window that has
closed, a server that cannot be reached, a lock held by another run, a lost lock, a crash inside a
stage. A run found still "running" by a later run on the same database died without finishing
(SIGKILL, power loss) and is marked abandoned.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from jobs import events, progress
from jobs.clock import Clock
from jobs.db.connection import Endpoint
from jobs.db.executor import Executor, RetryLimits
from jobs.db.lock import TargetLock
from jobs.errors import (
    ConfigError,
    DatabaseError,
    LockBusy,
    LockLost,
    StageStopped,
    StateError,
    SusdbMaintError,
)
from jobs.exit_codes import ExitCode
from jobs.runner.context import GATE_NOT_PASSED, RunContext, StageOutcome
from jobs.runner.plan import Plan
from jobs.runner.signals import interrupt_main_thread, on_stop_signals
from jobs.stages import registry
from jobs.state.store import StateStore
from jobs.susdb import Susdb

log = events.get_logger("susdb_maint.runner")
T = TypeVar("T")
SUMMARY_DETAILS = (
    "by_reason",
    "pages_before",
    "pages_after",
    "queued",
    "estimated_seconds",
    "gone",
)
# What ``run.finish`` says of each stage.
FINISH_KEYS = ("stage", "status", "done", "skipped", "failed", "remaining")


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class StageResult:
    """What a run records of one stage: how it ended (its StageOutcome), when, and for how long.
    ``as_dict()`` is its stored and reported form: history, ``run.finish``, RunReport.as_dict."""

    stage: str
    status: str  # done, partial, planned, skipped, refused, deferred or failed
    reason: str | None
    started_at: str  # UTC, ISO 8601 with a Z
    finished_at: str
    duration_seconds: float
    done: int
    skipped: int
    failed: int
    remaining: int
    detail: dict[str, Any]

    @classmethod
    def of(
        cls, stage: str, outcome: StageOutcome, started_at: str, finished_at: str, seconds: float
    ) -> StageResult:
        return cls(
            stage=stage,
            status=outcome.status,
            reason=outcome.reason,
            started_at=started_at,
            finished_at=finished_at,
            duration_seconds=round(seconds, 3),
            done=outcome.done,
            skipped=outcome.skipped,
            failed=outcome.failed,
            remaining=outcome.remaining,
            detail=outcome.detail,
        )

    def as_dict(self) -> dict[str, Any]:
        return {each.name: getattr(self, each.name) for each in fields(self)}


@dataclass
class RunReport:
    run_id: str
    target: str
    profile: str
    exit_code: ExitCode
    status: str
    stages: list[StageResult] = field(default_factory=list)
    kpis_before: dict[str, float] = field(default_factory=dict)
    kpis_after: dict[str, float] = field(default_factory=dict)
    quarantined: int = 0
    dry_run: bool = False
    duration_seconds: float = 0.0
    error: str | None = None  # why the run could not start or had to stop, in one line
    database: str | None = None
    virtual_time: bool = False  # its seconds are a simulated SUSDB's (published costs, no wait)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "target": self.target,
            "profile": self.profile,
            "status": self.status,
            "exit_code": int(self.exit_code),
            "dry_run": self.dry_run,
            "duration_seconds": round(self.duration_seconds, 3),
            "stages": [stage.as_dict() for stage in self.stages],
            "kpis_before": self.kpis_before,
            "kpis_after": self.kpis_after,
            "quarantined": self.quarantined,
            "error": self.error,
            "database": self.database,
            "virtual_time": self.virtual_time,
        }


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def clock_for(endpoint: Endpoint) -> Clock:
    """The host's clock for a real server; for a simulated SUSDB the catalog's own, modelled
    clock, on which its published costs pass instantly."""
    return endpoint.kind.run_clock(endpoint.target)


def stop_on_signals(stop: threading.Event) -> contextlib.AbstractContextManager[None]:
    """SIGINT / SIGTERM / SIGHUP ask the run to stop after the current item; a second SIGINT
    interrupts. None of them reaches the statement under way (jobs/runner/signals.py)."""

    def handler(number: int) -> None:
        if stop.is_set() and number == signal.SIGINT:
            interrupt_main_thread()
            return
        log.warning(
            "signal.received",
            signal=signal.Signals(number).name,
            action="finishing the current item",
        )
        stop.set()

    return on_stop_signals(handler)


def _status_exit(results: list[StageResult], stopped: bool) -> tuple[str, ExitCode]:
    """A refusal outranks a failure: it names what the administrator must change before any
    destructive work can run (a backup, a guard), and nothing destructive ran for it."""
    statuses = [result.status for result in results]
    if "refused" in statuses:
        return "refused", ExitCode.REFUSED
    if "failed" in statuses:
        return "failed", ExitCode.STAGE_FAILED
    if "partial" in statuses or "deferred" in statuses or stopped:
        return "partial", ExitCode.PARTIAL
    return "ok", ExitCode.OK


def execute_plan(
    plan: Plan,
    state_dir: Path,
    *,
    clock: Clock | None = None,
    stop: threading.Event | None = None,
    on_abandoned: Callable[[RunReport], Any] | None = None,
) -> RunReport:
    """Run every stage of the plan against its target and return the report. Never raises for a
    run-level failure (the report carries the exit code and a one-line ``error``), a state store
    that fails mid-run included (exit 2); raises StateError when the state store cannot be
    opened at all. A run the server stops answering
    ends the process once a cancel goes unanswered (``jobs/db/watchdog.py``), after recording itself
    and calling ``on_abandoned`` with its report."""
    clock = clock or clock_for(plan.endpoint)
    stop = stop or threading.Event()
    run_id = new_run_id()
    report = RunReport(
        run_id,
        plan.endpoint.name,
        plan.profile,
        ExitCode.OK,
        "running",
        dry_run=plan.dry_run,
        virtual_time=clock.virtual,
    )
    store = StateStore(state_dir, busy_timeout=plan.settings.runner.state_busy_seconds)
    store.on_busy = lambda waited: log.warning(
        "state.busy", path=str(store.path), waited_seconds=round(waited, 1)
    )
    started = time.monotonic()
    finishing = threading.Lock()  # the run's record is written once: by _finish or _abandon
    # Only a run in the process's main thread ends the process when its link goes silent; a
    # scheduled job records itself and leaves its thread to the socket's own timeouts.
    ends_process = threading.current_thread() is threading.main_thread()
    with (
        events.bound(run_id=run_id, target=plan.endpoint.name),
        stop_on_signals(stop),
        contextlib.ExitStack() as resources,
    ):
        resources.callback(store.close)
        store.start_run(run_id, plan.endpoint.name, plan.profile, plan.dry_run)
        ctx: RunContext | None = None
        try:
            window = plan.window(clock.now())
            if window.closed:
                report.error = window.closed
                report.stages = [
                    _skipped_result(name, "deferred", "window_closed") for name in plan.stages
                ]
                log.warning("window.closed", reason=window.closed)
            else:
                ctx = _open(plan, state_dir, clock, stop, run_id, store, resources)
                watchdog = ctx.susdb.executor.watchdog
                watchdog.grace_seconds = plan.settings.runner.hard_stop_grace_seconds
                watchdog.on_unanswered = lambda why: _abandon(
                    report, state_dir, finishing, on_abandoned, why, ends_process
                )
                if window.deadline is not None:
                    ctx.deadline_at = window.deadline
                    ctx.deadline_monotonic = (
                        clock.monotonic() + (window.deadline - clock.now()).total_seconds()
                    )
                report.database = ctx.facts.database
                _run_stages(plan, ctx, report)
        except LockBusy as error:
            report.error, report.status, report.exit_code = str(error), "locked", ExitCode.LOCKED
        except LockLost as error:
            # Another run may hold the lock now: this one stops, as one that could not take it.
            log.error("run.stopped", reason=str(error))
            report.error, report.status = str(error), "failed"
            report.exit_code = ExitCode.LOCKED
        except DatabaseError as error:  # the server could not be reached, or refused the login
            # A connection that never opened already says so, in an administrator's words.
            kind = error.kind.replace("_", " ")
            report.error = str(error) if error.statement == "connect" else f"{kind}: {error}"
            report.status = "refused" if error.exit_code == ExitCode.REFUSED else "failed"
            report.exit_code = error.exit_code
            log.error("run.unreachable", error_kind=error.kind, error=str(error))
        except StateError as error:
            # The store failed mid-run (a full disk, the file deleted or replaced): a failed run in
            # the event, the metrics and, where it can still be written, the history.
            report.error, report.status, report.exit_code = str(error), "failed", error.exit_code
            log.error("state.unwritable", error=str(error))
        except ConfigError as error:  # the target cannot be used from here (wid off Windows, ...)
            report.error, report.status, report.exit_code = str(error), "failed", error.exit_code
            log.error("run.unreachable", error_kind="config", error=str(error))
        finally:
            with finishing:
                _finish(plan, ctx, report, store, stop, clock, started)
    return report


def _abandon(
    report: RunReport,
    state_dir: Path,
    finishing: threading.Lock,
    on_abandoned: Callable[[RunReport], Any] | None,
    why: str,
    ends_process: bool,
) -> None:
    """A cancel the server never answered (the watchdog, jobs/db/watchdog.py): record the run as
    partial where it can still be written, then end the process as a kill would (its thread is
    stuck in the driver and cannot be woken). That is safe by the queue engine's promise: an item
    in flight is verified on the server before anything is sent again, and each destructive
    statement checks that its work is still to be done; the server ends the session, and the
    run's lock with it, when it notices the dead link. A scheduled job (not the main thread)
    records itself and leaves its thread to the socket's own timeouts: the worker lives on."""
    log.error("run.abandoned_link", reason=why)
    if not ends_process:
        _record_abandoned(report, state_dir, finishing, on_abandoned, why)
        return
    try:
        _record_abandoned(report, state_dir, finishing, on_abandoned, why)
    finally:
        events.flush()
        os._exit(int(report.exit_code))


def _record_abandoned(
    report: RunReport,
    state_dir: Path,
    finishing: threading.Lock,
    on_abandoned: Callable[[RunReport], Any] | None,
    why: str,
) -> None:
    acquired = finishing.acquire(timeout=5)  # not while _finish writes the same record
    try:
        if acquired and report.status == "running":
            report.status, report.exit_code, report.error = "partial", ExitCode.PARTIAL, why
            try:
                store = StateStore(state_dir, busy_timeout=5)
                try:
                    _add_unrecorded_stages(report, store)
                    store.finish_run(
                        report.run_id, report.status, int(report.exit_code), report.as_dict()
                    )
                finally:
                    store.close()
            except StateError as error:
                log.error("state.unwritable", error=str(error))
            _log_finish(report)
        if on_abandoned is not None:
            on_abandoned(report)
    finally:
        if acquired:
            finishing.release()


def _open(
    plan: Plan,
    state_dir: Path,
    clock: Clock,
    stop: threading.Event,
    run_id: str,
    store: StateStore,
    resources: contextlib.ExitStack,
) -> RunContext:
    """Connect, lock the database (by its identity) on that same session, and bind the run to
    that database."""
    limits = RetryLimits(plan.settings.runner.max_attempts, plan.settings.runner.retry_max_seconds)
    executor = Executor(
        plan.endpoint, clock=clock, default_timeout=plan.default_timeout, retry_limits=limits
    )
    resources.callback(executor.close)
    lock = None
    if not plan.dry_run:
        # The session that holds the lock is the one that does the work (jobs/db/lock.py).
        lock = resources.enter_context(TargetLock(executor, state_dir))
    susdb = Susdb(executor)
    identity = susdb.database_identity()
    previous = store.last_database(plan.endpoint.name, run_id)
    if previous is not None and previous[0] != identity.key:
        # Queues stay with the database they were found in: nothing of the other one is sent here.
        log.warning(
            "target.database_changed",
            previous=previous[1],
            now=identity.describe(),
            action="this database's own queues are used; the other database's wait for it",
        )
    bound = store.bind_run(run_id, identity.key, identity.describe(), lock_held=lock is not None)
    for abandoned in bound:
        log.warning("run.abandoned", abandoned_run_id=abandoned, reason="it never finished")
    ctx = RunContext(
        run_id=run_id,
        target=plan.endpoint.name,
        settings=plan.settings,
        susdb=susdb,
        store=store,
        clock=clock,
        database=identity.key,
        options=plan.options,
        stop=stop,
        progress=None if plan.dry_run else progress.for_run(),
        lock=lock,
    )
    ctx.facts.database = identity.describe()
    ctx.facts.database_name = identity.database_name
    executor.window = ctx.seconds_left
    executor.stop = stop
    if ctx.progress is not None:
        resources.callback(ctx.progress.close)
    return ctx


def _run_stages(plan: Plan, ctx: RunContext, report: RunReport) -> None:
    from jobs.stages import health

    log.info(
        "run.start",
        profile=plan.profile,
        stages=plan.stages,
        dry_run=plan.dry_run,
        deadline=ctx.deadline_at.isoformat() + "Z" if ctx.deadline_at else None,
        endpoint=plan.endpoint.describe(),
        database=ctx.facts.database,
        virtual_time=ctx.clock.virtual,
    )
    report.kpis_before = _kpis(ctx, health, plan.count_obsolete_kpi)
    ctx.store.record_kpis(ctx.run_id, "before", report.kpis_before)
    for ordinal, name in enumerate(plan.stages):
        result = _with_budget(
            ctx,
            plan.stage_budgets.get(name),
            functools.partial(_run_stage, ctx, registry.get(name)),
        )
        report.stages.append(result)
        ctx.store.record_stage(ctx.run_id, ordinal, result.as_dict())
    if not plan.dry_run:
        report.kpis_after = _kpis(ctx, health, plan.count_obsolete_kpi)
        ctx.store.record_kpis(ctx.run_id, "after", report.kpis_after)


def _finish(
    plan: Plan,
    ctx: RunContext | None,
    report: RunReport,
    store: StateStore,
    stop: threading.Event,
    clock: Clock,
    started: float,
) -> None:
    try:
        _add_unrecorded_stages(report, store)
        report.quarantined = len(store.quarantined(plan.endpoint.name))
    except StateError as error:
        _store_failed(report, error)
    remaining = {result.stage: result.remaining for result in report.stages if result.remaining}
    stopped_early = any(result.reason in ("deadline", "signal") for result in report.stages)
    if ctx is not None and (stopped_early or (ctx.out_of_time() and remaining)):
        log.warning("deadline.reached", remaining=remaining, reason=ctx.stop_reason())
    if report.status == "running":
        report.status, report.exit_code = _status_exit(report.stages, stop.is_set())
    report.duration_seconds = clock.monotonic() if clock.virtual else time.monotonic() - started
    try:
        store.finish_run(report.run_id, report.status, int(report.exit_code), report.as_dict())
        if not plan.dry_run:
            store.prune(
                plan.settings.runner.history_days, plan.settings.runner.declined_history_days
            )
            store.compact()
    except StateError as error:
        _store_failed(report, error)
    _log_finish(report)


def _store_failed(report: RunReport, error: StateError) -> None:
    """The history cannot be written: the run is a failed one (exit 2) wherever it is reported."""
    if report.exit_code != ExitCode.BAD_USAGE:
        log.error("state.unwritable", error=str(error))
        report.error, report.status, report.exit_code = str(error), "failed", error.exit_code


def _checkpointed(ctx: RunContext, name: str, outcome: StageOutcome) -> StageOutcome:
    """A stage that ended by an exception still did what its checkpoints counted: its result
    says so, rather than 0 done and a second "stopped mid-stage" row for the same work (a
    window that cut the second reindex pass read as a failed run)."""
    for stage, done, skipped, failed in ctx.store.unrecorded_progress(ctx.run_id):
        if stage == name:
            outcome.done, outcome.skipped, outcome.failed = done, skipped, failed
    return outcome


def _add_unrecorded_stages(report: RunReport, store: StateStore) -> None:
    """A stage that a lost lock, a lost server or the hard stop ended mid-way recorded no result,
    but its checkpoints counted what it did: the run's record says so (network-review D4)."""
    now = _utc_now()
    for stage, done, skipped, failed in store.unrecorded_progress(report.run_id):
        outcome = StageOutcome(
            status="failed" if report.exit_code != ExitCode.PARTIAL else "partial",
            reason=f"stopped mid-stage: {report.error or 'the run ended'}",
            done=done,
            skipped=skipped,
            failed=failed,
        )
        result = StageResult.of(stage, outcome, now, now, 0.0)
        store.record_stage(report.run_id, len(report.stages), result.as_dict())
        report.stages.append(result)


def _log_finish(report: RunReport) -> None:
    log.info(
        "run.finish",
        status=report.status,
        exit_code=int(report.exit_code),
        duration_seconds=round(report.duration_seconds, 3),
        stages=[
            {key: value for key, value in result.as_dict().items() if key in FINISH_KEYS}
            for result in report.stages
        ],
        kpis_before=report.kpis_before,
        kpis_after=report.kpis_after,
        quarantined=report.quarantined,
        error=report.error,
    )


def _with_budget(ctx: RunContext, minutes: float | None, work: Callable[[], T]) -> T:
    """Run ``work`` with the window narrowed to the stage's own budget, if it has one."""
    if not minutes:
        return work()
    saved = ctx.deadline_monotonic
    budget_end = ctx.clock.monotonic() + minutes * 60
    ctx.deadline_monotonic = budget_end if saved is None else min(saved, budget_end)
    try:
        return work()
    finally:
        ctx.deadline_monotonic = saved


def _kpis(ctx: RunContext, health: Any, count_obsolete: bool) -> dict[str, float]:
    try:
        with ctx.susdb.executor.unbounded():
            return dict(health.collect(ctx, count_obsolete=count_obsolete))
    except DatabaseError as error:
        log.warning("kpi.unavailable", error=str(error), error_kind=error.kind)
        return {}


def _skipped_result(name: str, status: str, reason: str, remaining: int = 0) -> StageResult:
    now = _utc_now()
    outcome = StageOutcome(status=status, reason=reason, remaining=remaining)
    return StageResult.of(name, outcome, now, now, 0.0)


def _queued(ctx: RunContext, name: str) -> int:
    """What a stage that did not run still has queued (a deferred stage is not 'remaining 0')."""
    return ctx.store.active_count(ctx.database, name) if ctx.database else 0


def _run_stage(ctx: RunContext, stage: registry.Stage) -> StageResult:
    """One error boundary per stage: a failure is recorded and the next stage still runs. A lost
    lock or a broken state store ends the whole run instead."""
    started_at = _utc_now()
    started = ctx.clock.monotonic()
    name, function, reporting = stage.name, stage.run, stage.reporting
    with events.bound(stage=name):
        outcome: StageOutcome
        ran = False
        out_of_time = ctx.out_of_time() and not reporting
        if (
            stage.destructive
            and not ctx.dry_run
            and not ctx.facts.refuse_destructive
            and not ctx.facts.defer_destructive
            and not out_of_time
        ):
            from jobs.stages import preflight

            preflight.hold_for_sync(ctx)  # waits, or defers the destructive stages
            out_of_time = ctx.out_of_time()
        # A window that closed before preflight judged anything defers the deleting stages like
        # every other (exit 3); a gate that did judge and refuse still says so (exit 4).
        unjudged = ctx.facts.refuse_destructive is GATE_NOT_PASSED  # the default: never judged
        if (
            stage.destructive
            and ctx.facts.refuse_destructive
            and not ctx.dry_run
            and not (out_of_time and unjudged)
        ):
            outcome = StageOutcome(
                status="refused",
                reason=ctx.facts.refuse_destructive,
                remaining=_queued(ctx, name),
            )
        elif out_of_time:
            outcome = StageOutcome(
                status="deferred", reason=ctx.stop_reason(), remaining=_queued(ctx, name)
            )
        elif stage.destructive and ctx.facts.defer_destructive and not ctx.dry_run:
            outcome = StageOutcome(
                status="deferred",
                reason=ctx.facts.defer_destructive,
                remaining=_queued(ctx, name),
            )
        else:
            if not ctx.dry_run:
                ctx.ensure_locked()
            log.info("stage.start", dry_run=ctx.dry_run)
            ran = True
            try:
                if reporting:
                    with ctx.susdb.executor.unbounded():
                        outcome = function(ctx)
                else:
                    outcome = function(ctx)
            except (LockLost, StateError):
                raise
            except StageStopped as stopped:
                # Not a failure of the stage: the window closed or a stop came, or the server
                # refuses the stage's work (a replica).
                if stopped.reason is None:
                    log.warning("stage.interrupted", reason=ctx.stop_reason(), error=str(stopped))
                outcome = _checkpointed(
                    ctx,
                    name,
                    StageOutcome(
                        status=stopped.status,
                        reason=stopped.reason or ctx.stop_reason(),
                        remaining=_queued(ctx, name),
                    ),
                )
            except (SusdbMaintError, DatabaseError) as error:
                kind = getattr(error, "kind", type(error).__name__)
                log.error("stage.fail", error_kind=kind, error=str(error))
                outcome = _checkpointed(
                    ctx,
                    name,
                    StageOutcome(
                        status="failed", reason=f"{kind}: {error}", remaining=_queued(ctx, name)
                    ),
                )
            except Exception as error:  # an unexpected bug in one stage must not stop the others
                log.exception(
                    "stage.fail", error_kind="internal", error=f"{type(error).__name__}: {error}"
                )
                outcome = StageOutcome(
                    status="failed", reason=f"internal: {type(error).__name__}: {error}"
                )
        if (
            ran
            and ctx.dry_run
            and stage.destructive
            and ctx.facts.refuse_destructive
            and not unjudged
            and outcome.status == "planned"
        ):
            # A plan shows what the stage would work on, and that a run would refuse it: the
            # gate that refuses the run (a backup) refuses it in the plan too (exit 4).
            outcome.status, outcome.reason = "refused", ctx.facts.refuse_destructive
        seconds = ctx.clock.monotonic() - started
        result = StageResult.of(name, outcome, started_at, _utc_now(), seconds)
        if not ran or outcome.status in ("skipped", "refused", "deferred"):
            log.warning(
                "stage.skip",
                status=outcome.status,
                reason=outcome.reason,
                remaining=outcome.remaining,
            )
        else:
            highlights = {
                key: value for key, value in outcome.detail.items() if key in SUMMARY_DETAILS
            }
            log.info(
                "stage.finish",
                status=outcome.status,
                reason=outcome.reason,
                done=outcome.done,
                skipped=outcome.skipped,
                failed=outcome.failed,
                remaining=outcome.remaining,
                duration_seconds=round(seconds, 3),
                **highlights,
            )
        return result
