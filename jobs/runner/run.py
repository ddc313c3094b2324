"""Run a plan against one target: lock, run record, stages in order, summary, exit code."""

from __future__ import annotations

import contextlib
import functools
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jobs import events, progress
from jobs.clock import SystemClock, VirtualClock
from jobs.db.connection import Endpoint
from jobs.db.executor import Executor
from jobs.db.lock import TargetLock
from jobs.errors import DatabaseError, SusdbMaintError
from jobs.exit_codes import ExitCode
from jobs.runner.context import RunContext, StageOutcome
from jobs.runner.plan import Plan
from jobs.settings.model import DESTRUCTIVE_STAGES, SimulatorTarget
from jobs.state.store import StateStore
from jobs.susdb import Susdb

log = events.get_logger("susdb_maint.runner")
# Reporting is not work: it still runs after the deadline, so the summary has fresh numbers.
REPORTING_STAGES = frozenset({"health"})
SUMMARY_DETAILS = ("by_reason", "pages_before", "pages_after", "queued", "estimated_seconds")


@dataclass
class RunReport:
    run_id: str
    target: str
    profile: str
    exit_code: ExitCode
    status: str
    stages: list[dict[str, Any]] = field(default_factory=list)
    kpis_before: dict[str, float] = field(default_factory=dict)
    kpis_after: dict[str, float] = field(default_factory=dict)
    quarantined: int = 0
    dry_run: bool = False
    duration_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "target": self.target,
            "profile": self.profile,
            "status": self.status,
            "exit_code": int(self.exit_code),
            "dry_run": self.dry_run,
            "duration_seconds": round(self.duration_seconds, 3),
            "stages": self.stages,
            "kpis_before": self.kpis_before,
            "kpis_after": self.kpis_after,
            "quarantined": self.quarantined,
        }


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def clock_for(endpoint: Endpoint) -> Any:
    """A simulated SUSDB runs on virtual time: its published costs pass instantly."""
    return VirtualClock() if isinstance(endpoint.target, SimulatorTarget) else SystemClock()


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT / SIGTERM ask the run to stop after the current item; a second SIGINT interrupts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[signal.Signals, Any] = {}

    def handler(number: int, frame: Any) -> None:
        if stop.is_set() and number == signal.SIGINT:
            raise KeyboardInterrupt
        log.warning(
            "signal.received",
            signal=signal.Signals(number).name,
            action="finishing the current item",
        )
        stop.set()

    for number in (signal.SIGINT, signal.SIGTERM):
        previous[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def _status_exit(results: list[dict[str, Any]], stopped: bool) -> tuple[str, ExitCode]:
    statuses = [result["status"] for result in results]
    if "failed" in statuses:
        return "failed", ExitCode.STAGE_FAILED
    if "refused" in statuses:
        return "refused", ExitCode.REFUSED
    if "partial" in statuses or "deferred" in statuses or stopped:
        return "partial", ExitCode.PARTIAL
    return "ok", ExitCode.OK


def execute_plan(
    plan: Plan, state_dir: Path, *, clock: Any = None, stop: threading.Event | None = None
) -> RunReport:
    """Run every stage of the plan against its target; return the report (never raises for a
    stage failure; raises LockBusy, StateError or a connection error before any stage ran)."""
    from jobs.stages import STAGES, health

    clock = clock or clock_for(plan.endpoint)
    stop = stop or threading.Event()
    run_id = new_run_id()
    store = StateStore(state_dir)
    wall_started = time.monotonic()
    with (
        events.bound(run_id=run_id, target=plan.endpoint.name),
        stop_on_signals(stop),
        contextlib.ExitStack() as resources,
    ):
        # Released in reverse order, whatever happens: progress, connection, lock, state store.
        resources.callback(store.close)
        if not plan.dry_run:
            resources.enter_context(TargetLock(plan.endpoint, state_dir, clock=clock))
        executor = Executor(plan.endpoint, clock=clock, default_timeout=plan.default_timeout)
        resources.callback(executor.close)
        deadline = plan.deadline_from(clock.now())
        if deadline is not None and not getattr(clock, "virtual", False):
            executor.deadline_monotonic = (
                time.monotonic() + (deadline - clock.now()).total_seconds()
            )
        ctx = RunContext(
            run_id=run_id,
            target=plan.endpoint.name,
            settings=plan.settings,
            susdb=Susdb(executor),
            store=store,
            clock=clock,
            dry_run=plan.dry_run,
            deadline=deadline,
            stop=stop,
            remove_custom_indexes=plan.remove_custom_indexes,
            progress=None if plan.dry_run else progress.for_run(),
        )
        if ctx.progress is not None:
            resources.callback(ctx.progress.close)
        report = RunReport(
            run_id, plan.endpoint.name, plan.profile, ExitCode.OK, "running", dry_run=plan.dry_run
        )
        store.start_run(run_id, plan.endpoint.name, plan.profile, plan.dry_run)
        log.info(
            "run.start",
            profile=plan.profile,
            stages=plan.stages,
            dry_run=plan.dry_run,
            deadline=deadline.isoformat() + "Z" if deadline else None,
            endpoint=plan.endpoint.describe(),
            virtual_time=getattr(clock, "virtual", False),
        )
        try:
            report.kpis_before = _kpis(ctx, health, plan.count_obsolete_kpi)
            store.record_kpis(run_id, "before", report.kpis_before)
            for ordinal, name in enumerate(plan.stages):
                result = _with_budget(
                    ctx,
                    executor,
                    plan.stage_budgets.get(name),
                    functools.partial(_run_stage, ctx, ordinal, name, STAGES[name]),
                )
                report.stages.append(result)
                store.record_stage(run_id, ordinal, result)
            if not plan.dry_run:
                report.kpis_after = _kpis(ctx, health, plan.count_obsolete_kpi)
                store.record_kpis(run_id, "after", report.kpis_after)
        finally:
            remaining = {
                result["stage"]: result["remaining"]
                for result in report.stages
                if result.get("remaining")
            }
            stopped_early = any(
                result.get("reason") in ("deadline", "signal") for result in report.stages
            )
            if stopped_early or (ctx.out_of_time() and remaining):
                log.warning(
                    "deadline.reached",
                    remaining=remaining,
                    reason="signal" if stop.is_set() else "deadline",
                )
            report.quarantined = len(store.quarantined(plan.endpoint.name))
            report.status, report.exit_code = _status_exit(report.stages, stop.is_set())
            report.duration_seconds = (
                clock.monotonic()
                if getattr(clock, "virtual", False)
                else time.monotonic() - wall_started
            )
            summary = report.as_dict()
            store.finish_run(run_id, report.status, int(report.exit_code), summary)
            log.info(
                "run.finish",
                status=report.status,
                exit_code=int(report.exit_code),
                duration_seconds=round(report.duration_seconds, 3),
                stages=[
                    {
                        key: result[key]
                        for key in ("stage", "status", "done", "skipped", "failed", "remaining")
                    }
                    for result in report.stages
                ],
                kpis_before=report.kpis_before,
                kpis_after=report.kpis_after,
                quarantined=report.quarantined,
            )
    return report


def _with_budget(ctx: RunContext, executor: Executor, minutes: float | None, work: Any) -> Any:
    """Run ``work`` with the deadline narrowed to the stage's own budget, if it has one."""
    if not minutes:
        return work()
    saved_deadline, saved_watchdog = ctx.deadline, executor.deadline_monotonic
    budget_end = ctx.clock.now() + timedelta(minutes=minutes)
    ctx.deadline = budget_end if saved_deadline is None else min(saved_deadline, budget_end)
    if not getattr(ctx.clock, "virtual", False):
        executor.deadline_monotonic = (
            time.monotonic() + (ctx.deadline - ctx.clock.now()).total_seconds()
        )
    try:
        return work()
    finally:
        ctx.deadline, executor.deadline_monotonic = saved_deadline, saved_watchdog


def _kpis(ctx: RunContext, health: Any, count_obsolete: bool) -> dict[str, float]:
    try:
        return health.collect(ctx, count_obsolete=count_obsolete)
    except DatabaseError as error:
        log.warning("kpi.unavailable", error=str(error), error_kind=error.kind)
        return {}


def _run_stage(ctx: RunContext, ordinal: int, name: str, function: Any) -> dict[str, Any]:
    """One error boundary per stage: a failure is recorded and the next stage still runs."""
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    started = ctx.clock.monotonic()
    with events.bound(stage=name):
        outcome: StageOutcome
        ran = False
        if name in DESTRUCTIVE_STAGES and ctx.facts.get("refuse_destructive") and not ctx.dry_run:
            outcome = StageOutcome(status="refused", reason=ctx.facts["refuse_destructive"])
        elif ctx.out_of_time() and name not in REPORTING_STAGES:
            outcome = StageOutcome(
                status="deferred", reason="signal" if ctx.stop.is_set() else "deadline"
            )
        else:
            log.info("stage.start", dry_run=ctx.dry_run)
            ran = True
            try:
                outcome = function(ctx)
            except (SusdbMaintError, DatabaseError) as error:
                kind = getattr(error, "kind", type(error).__name__)
                log.error("stage.fail", error_kind=kind, error=str(error))
                outcome = StageOutcome(status="failed", reason=f"{kind}: {error}")
            except Exception as error:  # an unexpected bug in one stage must not stop the others
                log.exception(
                    "stage.fail", error_kind="internal", error=f"{type(error).__name__}: {error}"
                )
                outcome = StageOutcome(
                    status="failed", reason=f"internal: {type(error).__name__}: {error}"
                )
        seconds = ctx.clock.monotonic() - started
        result = {
            "stage": name,
            "status": outcome.status,
            "reason": outcome.reason,
            "started_at": started_at,
            "finished_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration_seconds": round(seconds, 3),
            "done": outcome.done,
            "skipped": outcome.skipped,
            "failed": outcome.failed,
            "remaining": outcome.remaining,
            "detail": outcome.detail,
        }
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
