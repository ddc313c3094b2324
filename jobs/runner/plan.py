"""The plan: which target, which stages in which order, until when, dry run or not."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from jobs.db.connection import Endpoint
from jobs.errors import UsageError
from jobs.runner.options import RunOptions
from jobs.settings.model import Settings, repeated_stages
from jobs.stages import registry
from jobs.wallclock import next_wall_time, previous_wall_time, to_local, zone_of


@dataclass
class Plan:
    settings: Settings
    endpoint: Endpoint
    options: RunOptions  # what was asked, as asked
    profile: str  # the profile's name, "custom" for --stage alone
    stages: list[str]  # what runs, in order: the options' or the profile's, with what they need
    until: time | None = None  # the window's end: --until, else the profile's, else [window]
    max_duration_minutes: float | None = None  # likewise
    default_timeout: int | None = None
    stage_budgets: dict[str, float] = field(default_factory=dict)  # minutes per stage
    count_obsolete_kpi: bool = False  # run the full obsolete scan for the before/after KPIs
    window_start: time | None = None

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run

    def window(self, now: datetime) -> Window:
        """Given the run's start (UTC, naive), return when to stop starting work, and whether
        the window is closed already.

        ``until`` means the end of the window the run belongs to: the next time the local clock
        shows it. The window opens at ``window_start`` before that (or 12 hours before), so a
        01:00 job that Task Scheduler or systemd starts late, at 09:00, does no work: a missed
        night never becomes a run during the working day. ``run_late`` ignores ``until``.
        """
        candidates = []
        if self.max_duration_minutes:
            candidates.append(now + timedelta(minutes=self.max_duration_minutes))
        closed = None
        if self.until is not None and not self.options.run_late:
            # The schedule's zone (or the host's): wall-clock times on daylight-saving nights too.
            zone = zone_of(self.settings.schedule.timezone)
            end = next_wall_time(now, self.until, zone)
            opens = (
                previous_wall_time(end, self.window_start, zone)
                if self.window_start is not None
                else end - timedelta(hours=DEFAULT_WINDOW_HOURS)
            )
            if now < opens:
                shown = [f"{to_local(moment, zone):%H:%M}" for moment in (opens, end, now)]
                closed = (
                    f"the maintenance window ({shown[0]}-{shown[1]}) is closed: it is "
                    f"{shown[2]}; nothing was done (run --run-late to run anyway)"
                )
            candidates.append(end)
        return Window(min(candidates) if candidates else None, closed)


@dataclass(frozen=True)
class Window:
    deadline: datetime | None  # naive UTC: stop starting work then
    closed: str | None = None  # why no work may start at all


DEFAULT_WINDOW_HOURS = 12


def choose_target(settings: Settings, name: str | None) -> Endpoint:
    if name:
        if name not in settings.targets:
            known = ", ".join(sorted(settings.targets)) or "none configured"
            raise UsageError(f"--target {name!r} is not a configured target (known: {known})")
        return Endpoint(name, settings.targets[name])
    if settings.default_target:
        return Endpoint(settings.default_target, settings.targets[settings.default_target])
    if len(settings.targets) == 1:
        only = next(iter(settings.targets))
        return Endpoint(only, settings.targets[only])
    if not settings.targets:
        raise UsageError(
            "no target configured: run `susdb-maint config init` (or `susdb-maint demo`)"
        )
    raise UsageError(
        f"several targets configured ({', '.join(sorted(settings.targets))}): choose one with --target"
    )


def build_plan(settings: Settings, options: RunOptions) -> Plan:
    """The plan for one target (``options.target``, or the only or default one)."""
    target, profile, stages = options.target, options.profile, options.stages
    endpoint = choose_target(settings, target)
    profiles = settings.effective_profiles()
    profile_name = profile if profile is not None else ("custom" if stages else "nightly")
    # A named profile keeps its window and budgets even when --stage picks the stages: a
    # one-stage run at 02:00 under --profile nightly must not run into the working day.
    named = None
    if profile is not None or not stages:
        named = profiles.get(profile_name)
        if named is None:
            raise UsageError(
                f"--profile {profile_name!r} is not defined (known: {', '.join(sorted(profiles))})"
            )
    if stages:
        unknown = [stage for stage in stages if not registry.is_stage(stage)]
        if unknown:
            raise UsageError(
                f"--stage {', '.join(unknown)}: unknown stage "
                f"(choose from {', '.join(registry.names())})"
            )
        if problem := repeated_stages(list(stages)):
            raise UsageError(f"--stage: {problem}")
        chosen = list(stages)
    else:
        assert named is not None
        chosen = list(named.stages)
    profile_until = named.until if named else None
    profile_start = named.start if named else None
    profile_minutes = named.max_duration_minutes if named else None
    budgets: dict[str, float] = (
        {str(stage): minutes for stage, minutes in named.stage_budgets.items()} if named else {}
    )
    if options.remove_custom_indexes and "custom_indexes" not in chosen:
        chosen.insert(1 if chosen and chosen[0] == "preflight" else 0, "custom_indexes")
    if options.restore_delete_fix:
        # Taking Microsoft's change back is a run of its own: preflight (the gate), then that.
        chosen = ["preflight", "delete_fix"]
    elif (
        settings.stages.delete_fix.apply
        and "obsolete_updates" in chosen
        and "delete_fix" not in chosen
    ):
        # Opt-in: right before the cleanup it speeds up.
        chosen.insert(chosen.index("obsolete_updates"), "delete_fix")
    if "preflight" not in chosen and any(registry.get(stage).needs_preflight for stage in chosen):
        # Destructive and replica-sensitive stages rely on what preflight finds (and on its gate).
        chosen.insert(1 if chosen[0] == "backup" else 0, "preflight")
    window = settings.window
    default_timeout = endpoint.kind.query_timeout(endpoint.target)
    return Plan(
        settings=settings,
        endpoint=endpoint,
        options=options,
        profile=profile_name,
        stages=chosen,
        until=options.until or profile_until or window.until,
        max_duration_minutes=(
            options.max_duration_minutes or profile_minutes or window.max_duration_minutes
        ),
        default_timeout=default_timeout,
        stage_budgets=budgets,
        window_start=profile_start or window.start,
    )
