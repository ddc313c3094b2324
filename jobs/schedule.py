"""``susdb-maint schedule``: a foreground worker running the configured jobs with APScheduler 3.

Jobs come from ``[schedule.jobs.NAME]`` (cron, or relative to Patch Tuesday). One instance per job,
missed runs coalesced, a misfire grace time; scheduler errors and missed runs become events.
SIGTERM / SIGINT: the running job finishes or stops after its current item and records its state,
then the worker exits.
"""

from __future__ import annotations

import signal
import threading
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from jobs import events, report, report_html
from jobs.errors import SusdbMaintError, UsageError
from jobs.monitoring import monitored
from jobs.patch_tuesday import PatchTuesdayTrigger
from jobs.runner.hierarchy import run_all
from jobs.runner.plan import build_plan
from jobs.runner.run import execute_plan
from jobs.settings.model import ScheduleJob, Settings

log = events.get_logger("susdb_maint.schedule")


def zone(name: str) -> tzinfo:
    if name == "local":
        local = datetime.now().astimezone().tzinfo
        assert local is not None
        return local
    return ZoneInfo(name)


def trigger_for(job: ScheduleJob, timezone: tzinfo) -> Any:
    if job.cron is not None:
        return CronTrigger.from_crontab(job.cron, timezone=timezone)
    assert job.patch_tuesday is not None
    offset = job.patch_tuesday
    return PatchTuesdayTrigger(
        offset_days=offset.offset_days,
        offset_hours=offset.offset_hours,
        at=offset.at or datetime.min.time(),
        timezone=timezone,
    )


def next_fire_times(trigger: Any, count: int, now: datetime) -> list[datetime]:
    times: list[datetime] = []
    previous = None
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:
            break
        times.append(fire)
        previous = fire
    return times


def run_job(
    settings: Settings, state_dir: Path, name: str, job: ScheduleJob, stop: threading.Event
) -> int:
    """One scheduled run: the same code path as ``susdb-maint run``."""
    with events.bound(schedule_job=name):
        log.info("schedule.fire", job=name, profile=job.profile, target=job.target)
        try:
            if job.target == "all":
                return int(
                    run_all(
                        settings,
                        state_dir,
                        lambda target, dry: build_plan(
                            settings, target=target, profile=job.profile
                        ),
                    )
                )
            plan = build_plan(settings, target=job.target, profile=job.profile)
            with monitored(settings.monitoring, plan.endpoint.name) as reports:
                result = execute_plan(plan, state_dir, stop=stop)
                reports.append(result)
            report.print_run_summary(result)
            report_html.after_run(settings, state_dir, result.run_id)
            return int(result.exit_code)
        except SusdbMaintError as error:
            log.error(
                "schedule.run_fail", job=name, error=str(error), exit_code=int(error.exit_code)
            )
            return int(error.exit_code)


def run_scheduler(
    settings: Settings, config_path: Path | None, state_dir: Path, *, list_only: bool
) -> int:
    jobs = settings.schedule.jobs
    if not jobs:
        raise UsageError(
            f"no jobs in [schedule.jobs] of {config_path or 'the configuration'}; add one, for example "
            '[schedule.jobs.nightly] with cron = "0 1 * * *"'
        )
    timezone = zone(settings.schedule.timezone)
    if list_only:
        now = datetime.now(timezone)
        for name, job in jobs.items():
            trigger = trigger_for(job, timezone)
            times = ", ".join(
                moment.isoformat(timespec="minutes") for moment in next_fire_times(trigger, 3, now)
            )
            print(
                f"{name}\t{job.profile}\t{job.target or settings.default_target or '-'}\t{trigger}\t{times}"
            )
        return 0
    stop = threading.Event()
    running = threading.Lock()
    scheduler = BlockingScheduler(
        timezone=timezone,
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": settings.schedule.misfire_grace_minutes * 60,
        },
    )

    def guarded(name: str, job: ScheduleJob) -> None:
        with running:
            if not stop.is_set():
                run_job(settings, state_dir, name, job, stop)

    for name, job in jobs.items():
        scheduler.add_job(
            guarded,
            trigger_for(job, timezone),
            args=(name, job),
            id=name,
            name=name,
            replace_existing=True,
        )

    def on_event(event: JobEvent) -> None:
        names = {
            EVENT_JOB_ERROR: "schedule.job_error",
            EVENT_JOB_MISSED: "schedule.missed",
            EVENT_JOB_MAX_INSTANCES: "schedule.overlap",
        }
        exception = getattr(event, "exception", None)
        log.warning(
            names.get(event.code, "schedule.event"),
            job=event.job_id,
            error=f"{type(exception).__name__}: {exception}" if exception else None,
        )

    scheduler.add_listener(on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)

    def on_signal(number: int, frame: Any) -> None:
        log.warning(
            "signal.received", signal=signal.Signals(number).name, action="stopping the worker"
        )
        stop.set()
        scheduler.shutdown(wait=False)

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, on_signal)
    log.info(
        "schedule.start", jobs={name: str(trigger_for(job, timezone)) for name, job in jobs.items()}
    )
    scheduler.start()
    with running:  # a job still running finishes its current item and records its state first
        pass
    log.info("schedule.stop")
    return 0
