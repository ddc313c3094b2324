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

from jobs import commands, cron, events, output, report
from jobs.errors import SusdbMaintError, UsageError
from jobs.patch_tuesday import PatchTuesdayTrigger
from jobs.runner.options import RunOptions
from jobs.runner.signals import on_stop_signals
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
        return cron.trigger(job.cron, timezone)  # cron's own weekday numbers (jobs/cron.py)
    assert job.patch_tuesday is not None
    offset = job.patch_tuesday
    return PatchTuesdayTrigger(
        offset_days=offset.offset_days,
        offset_hours=offset.offset_hours,
        at=offset.at or datetime.min.time(),
        timezone=timezone,
    )


def next_fire_times(trigger: Any, count: int, now: datetime) -> list[datetime]:
    """The next ``count`` fire times after ``now``, each later than the one before.

    APScheduler's CronTrigger starts its search from min(now, previous + 1 µs): asked with the
    same ``now`` it returns the same time again, so each search starts from the previous fire.
    """
    times: list[datetime] = []
    previous = None
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, previous or now)
        if fire is None:
            break
        times.append(fire)
        previous = fire
    return times


def describe_trigger(job: ScheduleJob) -> str:
    """How a job fires, as the administrator wrote it."""
    if job.cron is not None:
        return f"cron {job.cron}"
    assert job.patch_tuesday is not None
    offset = job.patch_tuesday
    days = f"{offset.offset_days:+d} days" if offset.offset_days else "on the day"
    hours = f" {offset.offset_hours:+d} h" if offset.offset_hours else ""
    at = f" at {offset.at:%H:%M}" if offset.at else ""
    return f"Patch Tuesday {days}{hours}{at}"


def job_targets(settings: Settings, job: ScheduleJob) -> list[str]:
    """The targets a job runs against: its own, every one for ``all``, else the default one."""
    if job.target == "all":
        return sorted(settings.targets)
    if job.target:
        return [job.target]
    if settings.default_target:
        return [settings.default_target]
    return list(settings.targets) if len(settings.targets) == 1 else []


def next_fires(settings: Settings, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each scheduled job with its targets and next fire time (None if it never fires again)."""
    timezone = zone(settings.schedule.timezone)
    now = now or datetime.now(timezone)
    fires = []
    for name, job in settings.schedule.jobs.items():
        times = next_fire_times(trigger_for(job, timezone), 1, now)
        fires.append(
            {
                "job": name,
                "profile": job.profile,
                "targets": job_targets(settings, job),
                "when": describe_trigger(job),
                "next": times[0] if times else None,
            }
        )
    return fires


def schedule_table(settings: Settings, now: datetime, count: int = 3) -> Any:
    """The configured jobs and their next ``count`` fire times, in the schedule's time zone."""
    from rich.table import Table

    timezone = zone(settings.schedule.timezone)
    table = Table(title=f"Scheduled jobs ({settings.schedule.timezone})", title_justify="left")
    for column in ("job", "profile", "target", "fires", "next"):
        table.add_column(column, no_wrap=column != "next")
    for name, job in settings.schedule.jobs.items():
        times = next_fire_times(trigger_for(job, timezone), count, now)
        table.add_row(
            name,
            job.profile,
            ", ".join(job_targets(settings, job)) or "-",
            describe_trigger(job),
            "\n".join(f"{moment:%a %Y-%m-%d %H:%M %Z}".strip() for moment in times) or "never",
        )
    return table


def run_job(
    settings: Settings, state_dir: Path, name: str, job: ScheduleJob, stop: threading.Event
) -> int:
    """One scheduled run: the same command as ``susdb-maint run``, monitoring and stop included."""
    with events.bound(schedule_job=name):
        log.info("schedule.fire", job=name, profile=job.profile, target=job.target)
        request = RunOptions(
            target=None if job.target == "all" else job.target,
            all_targets=job.target == "all",
            profile=job.profile,
        )
        try:
            return int(commands.run(settings, state_dir, request, stop=stop, on_report=_summary))
        except SusdbMaintError as error:
            log.error(
                "schedule.run_fail", job=name, error=str(error), exit_code=int(error.exit_code)
            )
            return int(error.exit_code)


def _summary(result: Any) -> None:
    output.run_report(result)


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
        report.console().print(schedule_table(settings, datetime.now(timezone)))
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

    def on_signal(number: int) -> None:
        log.warning(
            "signal.received", signal=signal.Signals(number).name, action="stopping the worker"
        )
        stop.set()
        scheduler.shutdown(wait=False)

    log.info(
        "schedule.start", jobs={name: str(trigger_for(job, timezone)) for name, job in jobs.items()}
    )
    # The jobs' threads start inside: a signal reaches none of their statements.
    with on_stop_signals(on_signal):
        scheduler.start()
        with running:  # a job still running finishes its current item and records its state
            pass
    log.info("schedule.stop")
    return 0
