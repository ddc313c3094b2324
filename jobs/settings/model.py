"""The configuration schema. Every field carries a description and an example: they are the docs.

Each stage's own section under ``[stages]`` is declared with its stage
(``jobs/stages/declared/<stage>.py``); ``StageSettings`` assembles them. What is here belongs to no
one stage: targets, the runner, the window, the backup gate, profiles, schedule, monitoring, report.
"""

from __future__ import annotations

import re
import sys
from datetime import time
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from jobs.settings.fields import MAX_DAYS, MAX_HOURS, MAX_SECONDS, Section, doc
from jobs.settings.fields import MAX_MINUTES as MAX_MINUTES  # --max-duration's bound too
from jobs.stages import registry
from jobs.stages.declared.client_events import ClientEventSettings
from jobs.stages.declared.compress import CompressSettings
from jobs.stages.declared.computers import ComputerSettings
from jobs.stages.declared.content_files import ContentFileSettings
from jobs.stages.declared.custom_indexes import CustomIndexSettings
from jobs.stages.declared.decline import DeclineSettings
from jobs.stages.declared.delete_fix import DeleteFixSettings
from jobs.stages.declared.health import HealthSettings
from jobs.stages.declared.obsolete_updates import ObsoleteUpdateSettings
from jobs.stages.declared.preflight import PreflightSettings
from jobs.stages.declared.reindex import ReindexSettings
from jobs.stages.declared.statistics import StatisticsSettings
from jobs.stages.declared.sync_history import SyncHistorySettings


def _known_stage(name: str) -> str:
    if not registry.is_stage(name):
        raise ValueError(f"unknown stage {name!r} (choose from {', '.join(registry.names())})")
    return name


def _stage_enum(schema: dict[str, Any]) -> None:
    schema["enum"] = list(registry.names())


# A stage's name, checked against the stages' own declarations (jobs/stages/declared/).
StageName = Annotated[str, AfterValidator(_known_stage), Field(json_schema_extra=_stage_enum)]

WID_PIPE = r"np:\\.\pipe\MICROSOFT##WID\tsql\query"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _parse_hhmm(value: Any) -> Any:
    if isinstance(value, str):
        match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
        if not match:
            raise ValueError(f"expected HH:MM, got {value!r}")
        return time(int(match.group(1)), int(match.group(2)))
    if value is None or isinstance(value, time):  # TOML's own local time: until = 06:00:00
        return value
    # pydantic would read the number 6 as six seconds past midnight.
    raise ValueError(f'expected HH:MM in quotes ("06:00"), got {value!r}')


ClockTime = Annotated[time | None, BeforeValidator(_parse_hhmm)]


class LogSettings(Section):
    format: Literal["auto", "json", "console"] = doc(
        "Event output on stderr: `json` lines, readable `console` lines, or `auto` (console on a "
        "terminal, JSON otherwise).",
        "json",
        default="auto",
    )
    level: Literal["debug", "info", "warning", "error"] = doc(
        "Lowest event level written.", "info", default="info"
    )
    file: str | None = doc(
        "Also append JSON lines to this file, rotated by size.",
        "/var/log/susdb-maint/events.jsonl",
        default=None,
    )
    file_max_bytes: int = doc(
        "Rotate the log file at this size.", 10485760, default=10 * 1024 * 1024, gt=0, le=2**40
    )
    file_backups: int = doc("Rotated log files kept.", 5, default=5, ge=0, le=1000)


class SqlServerTarget(Section):
    kind: Literal["sqlserver"] = doc(
        "A SUSDB on SQL Server or Windows Internal Database.", "sqlserver"
    )
    server: str | None = doc(
        "Host name or host\\instance. Leave empty with `wid = true`.",
        "sql01.contoso.com",
        default=None,
    )
    port: int | None = doc(
        "TCP port; empty for the default instance port or a named instance.",
        1433,
        default=None,
        ge=1,
        le=65535,
    )
    database: str = doc("Database name.", "SUSDB", default="SUSDB", min_length=1, max_length=128)
    wid: bool = doc(
        "Connect to the local Windows Internal Database through its named pipe (Windows only: WID "
        "accepts local connections only).",
        False,
        default=False,
    )
    wid_legacy_pipe: Any = Field(
        default=None, exclude=True, description="Removed: Windows Server 2008 R2's SSEE."
    )
    auth: Literal["windows", "sql"] = doc(
        "`windows`: integrated authentication (Trusted_Connection); `sql`: username and password.",
        "windows",
        default="windows",
    )
    username: str | None = doc('SQL login, with `auth = "sql"`.', "susdb_maint", default=None)
    password_env: str | None = doc(
        "Name of the environment variable holding the SQL password.", "SUSDB_PASSWORD", default=None
    )
    password_file: str | None = doc(
        "Path of a file whose first line is the SQL password.", "/run/secrets/susdb", default=None
    )
    password: str | None = Field(default=None, exclude=True, description="Refused: never inline.")
    encrypt: Literal["mandatory", "optional", "strict"] | None = doc(
        "TLS: `mandatory` (default over TCP), `optional` (default for the local WID pipe) or "
        "`strict` (TDS 8, ODBC Driver 18 only). Sent in each driver's own words: Driver 17 gets "
        "yes/no, FreeTDS Encryption=require/request.",
        "mandatory",
        default=None,
    )
    trust_server_certificate: bool = doc(
        "Accept a server certificate that does not chain to a trusted root. FreeTDS checks "
        "certificates only against `ca_file`, so with FreeTDS and `mandatory` give one of them.",
        False,
        default=False,
    )
    ca_file: str | None = doc(
        "FreeTDS only: PEM file of the CA that issued the server's certificate; FreeTDS then "
        "checks the certificate and that it names `server`. Microsoft's drivers use the system's "
        "trusted CAs instead. Relative to the config file's folder.",
        "/etc/ssl/certs/contoso-root-ca.pem",
        default=None,
    )
    driver: str | None = doc(
        "ODBC driver name; empty: the newest 'ODBC Driver NN for SQL Server' (17 or later), then "
        "FreeTDS. The in-box Windows 'SQL Server' driver and SQL Server Native Client are not "
        "supported.",
        "ODBC Driver 18 for SQL Server",
        default=None,
    )
    login_timeout: int = doc("Seconds to wait for a connection.", 30, default=30, ge=1, le=600)
    query_timeout: int = doc(
        "Default seconds per statement (0: none); stages may set their own.",
        600,
        default=600,
        ge=0,
        le=MAX_SECONDS,
    )
    upstream: str | None = doc(
        "Name of this server's upstream target (hierarchy order for `run --all`).",
        "wsus-root",
        default=None,
    )

    @field_validator("wid_legacy_pipe")
    @classmethod
    def _no_ssee(cls, value: Any) -> None:
        if value is not None:
            raise ValueError(
                "wid_legacy_pipe was removed: the Windows Internal Database of Windows Server "
                "2008 / 2008 R2 (SSEE) is SQL Server 2005, which cannot run this tool's statements, "
                "and neither Python nor ODBC Driver 18 supports that system; remove the key"
            )
        return None

    @field_validator("password")
    @classmethod
    def _no_inline_password(cls, value: str | None) -> None:
        if value is not None:
            raise ValueError("inline passwords are not allowed; use password_env or password_file")
        return None

    @model_validator(mode="after")
    def _coherent(self) -> SqlServerTarget:
        problems = []
        if self.wid and self.server:
            problems.append("give either server or wid = true, not both")
        if not self.wid and not self.server:
            problems.append("server is required unless wid = true")
        if self.auth == "sql":
            if not self.username:
                problems.append("auth = 'sql' needs username")
            if bool(self.password_env) == bool(self.password_file):
                problems.append("auth = 'sql' needs exactly one of password_env or password_file")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def platform_problem(self, platform: str = sys.platform) -> str | None:
        """Why this target cannot be reached from this machine, or None. Checked when connecting,
        not when validating: a WID config can be written and checked anywhere."""
        if self.wid and platform != "win32":
            return (
                "wid = true works only on the WSUS host itself (Windows): Windows Internal "
                "Database accepts local named-pipe connections only; run susdb-maint there"
            )
        return None

    @property
    def server_address(self) -> str:
        """The ODBC SERVER value: the WID pipe, or host[,port]."""
        if self.wid:
            return WID_PIPE
        assert self.server is not None
        return f"{self.server},{self.port}" if self.port else self.server

    @property
    def effective_encrypt(self) -> str:
        if self.encrypt:
            return self.encrypt
        # The local WID pipe does not do TLS the way a network endpoint does (Microsoft's own 2026
        # script and the MS-JP blog use Encrypt optional / TrustServerCertificate for WID).
        return "optional" if self.wid else "mandatory"


class FaultSettings(Section):
    rate: float = doc("Share of statements that fail (0 to 1).", 0.05, default=0.0, ge=0.0, le=1.0)
    kinds: list[
        Literal[
            "deadlock",
            "lock_timeout",
            "query_timeout",
            "link_failure",
            "login_failed",
            "permission_denied",
            "replica",
            "reply_lost",
            "timeout_after_commit",
        ]
    ] = doc(
        "Fault kinds drawn from. `query_timeout` cancels a statement mid-way (a procedure's own "
        "transaction stays open); `reply_lost` and `timeout_after_commit` strike after the server "
        "committed.",
        ["deadlock", "lock_timeout"],
        default=["deadlock", "lock_timeout"],
    )
    statements: list[str] = doc(
        "Named statements that may fail (empty: all).", ["decline_update"], default=[]
    )
    seed: int = doc("Seed of the fault draw.", 7, default=0)


class SimulatorTarget(Section):
    kind: Literal["simulator"] = doc("The built-in simulated SUSDB (one SQLite file).", "simulator")
    path: str = doc("Path of the simulated SUSDB file.", "~/susdb-sim.sqlite3", min_length=1)
    latency_ms: float = doc(
        "Added latency per statement, in milliseconds.", 0, default=0.0, ge=0, le=60_000
    )
    cost_model: bool = doc(
        "Charge published per-item costs (spDeleteUpdate seconds, ...) to the virtual clock.",
        True,
        default=True,
    )
    faults: FaultSettings = doc("Injected faults.", None, default_factory=FaultSettings)
    upstream: str | None = doc("Name of this server's upstream target.", None, default=None)


Target = Annotated[SqlServerTarget | SimulatorTarget, Field(discriminator="kind")]


class RunnerSettings(Section):
    batch_target_seconds: float = doc(
        "Aim for batches of about this duration; batches grow after fast ones and halve after a "
        "timeout.",
        30,
        default=30.0,
        gt=0,
        le=MAX_SECONDS,
    )
    max_attempts: int = doc(
        "Attempts per item for transient errors, in one run.", 5, default=5, ge=1, le=100
    )
    retry_max_seconds: float = doc(
        "Stop retrying one item after this many seconds.", 600, default=600.0, gt=0, le=MAX_SECONDS
    )
    quarantine_after: int = doc(
        "Quarantine an item after this many failed runs.", 3, default=3, ge=1, le=1000
    )
    hard_stop_grace_seconds: float = doc(
        "When a statement cancelled at the window's end (or on a stop) has not ended this many "
        "seconds later, the server never got the cancel (a silent link): the run is recorded as "
        "partial and the process ends (exit 3); the next run verifies what was in flight.",
        60,
        default=60.0,
        ge=5,
        le=MAX_SECONDS,
    )
    queue_max_age_hours: float = doc(
        "Re-run a stage's candidate query when its queue is this old (0: on every run).",
        24,
        default=24.0,
        ge=0,
        le=MAX_HOURS,
    )
    history_days: float = doc(
        "Keep run history (runs, stage results, KPIs) this many days.",
        400,
        default=400.0,
        gt=0,
        le=MAX_DAYS,
    )
    declined_history_days: float = doc(
        "Keep the list of declined updates (for `history --declined` and undoing a night's "
        "declines) this many days.",
        400,
        default=400.0,
        gt=0,
        le=MAX_DAYS,
    )
    state_busy_seconds: float = doc(
        "Wait this long for another susdb-maint process to release the state store's write "
        "lock before giving up (exit 5).",
        600,
        default=600.0,
        gt=0,
        le=MAX_SECONDS,
    )


class WindowSettings(Section):
    start: ClockTime = doc(
        "When the maintenance window opens (local HH:MM). A run that starts outside "
        "[start, until) does no work (exit 3) unless `run --run-late`; without `start`, the "
        "window is the 12 hours before `until`.",
        "01:00",
        default=None,
    )
    until: ClockTime = doc(
        "Stop starting new work at this local time (HH:MM).", "06:00", default=None
    )
    max_duration_minutes: float | None = doc(
        "Stop starting new work after this many minutes.", 240, default=None, gt=0, le=MAX_MINUTES
    )

    @model_validator(mode="after")
    def _a_window_has_a_length(self) -> WindowSettings:
        if self.start is not None and self.start == self.until:
            # Read as written it is a window of no time, or of a whole day: neither is meant.
            raise ValueError(
                f"start and until are both {self.start:%H:%M}: a window of no time or of 24 hours; "
                "set them apart (or leave start out: the 12 hours before until)"
            )
        return self


class BackupSettings(Section):
    gate: Literal["required", "advisory", "off"] = doc(
        "Without a fresh full backup: `required` refuses destructive stages (exit 4), `advisory` "
        "warns, `off` does not check.",
        "required",
        default="required",
    )
    max_age_hours: float = doc(
        "A full or copy-only backup younger than this counts as fresh.",
        26,
        default=26.0,
        gt=0,
        le=MAX_HOURS,
    )
    directory: str | None = doc(
        "Folder (as the SQL Server service sees it) where the optional `backup` stage writes a "
        "new copy-only, checksummed full backup each run: SUSDB_<UTC time>.bak. On WID the "
        "account `NT SERVICE\\MSSQL$MICROSOFT##WID` must be able to write there.",
        "D:\\Backup\\SUSDB",
        default=None,
    )
    keep: int = doc(
        "Backups of this tool kept in `directory`; older ones are deleted after a new one "
        "succeeds (only where this host can see the folder).",
        3,
        default=3,
        ge=1,
        le=1000,
    )
    path: str | None = Field(default=None, exclude=True, description="Replaced by directory.")

    @field_validator("path")
    @classmethod
    def _path_replaced(cls, value: str | None) -> None:
        if value is not None:
            raise ValueError(
                "replaced by backup.directory: each run writes a new SUSDB_<time>.bak there, so "
                "the last good backup is never overwritten"
            )
        return None


# Each stage's section, as its declaration names it (``@stage(settings=...)``; a test holds the two
# together), in the order the generated reference shows them.
class StageSettings(Section):
    preflight: PreflightSettings = doc("preflight stage.", None, default_factory=PreflightSettings)
    custom_indexes: CustomIndexSettings = doc(
        "custom_indexes stage.", None, default_factory=CustomIndexSettings
    )
    reindex: ReindexSettings = doc("reindex stage.", None, default_factory=ReindexSettings)
    statistics: StatisticsSettings = doc(
        "statistics stage.", None, default_factory=StatisticsSettings
    )
    decline: DeclineSettings = doc("decline stage.", None, default_factory=DeclineSettings)
    delete_fix: DeleteFixSettings = doc(
        "delete_fix stage: Microsoft's spDeleteUpdate change, opt-in.",
        None,
        default_factory=DeleteFixSettings,
    )
    obsolete_updates: ObsoleteUpdateSettings = doc(
        "obsolete_updates stage.", None, default_factory=ObsoleteUpdateSettings
    )
    compress: CompressSettings = doc("compress stage.", None, default_factory=CompressSettings)
    computers: ComputerSettings = doc("computers stage.", None, default_factory=ComputerSettings)
    sync_history: SyncHistorySettings = doc(
        "sync_history stage.", None, default_factory=SyncHistorySettings
    )
    client_events: ClientEventSettings = doc(
        "client_events stage: old client reporting events, opt-in.",
        None,
        default_factory=ClientEventSettings,
    )
    content_files: ContentFileSettings = doc(
        "content_files stage.", None, default_factory=ContentFileSettings
    )
    health: HealthSettings = doc("health stage and `status`.", None, default_factory=HealthSettings)


def repeated_stages(names: list[str]) -> str | None:
    """Why a list of stages repeats one, or None. reindex alone may come twice: before the
    cleanup and after it, which fragments again what the first pass rebuilt (Microsoft's order,
    ``default_profiles``)."""
    repeated = sorted(
        {name for name in names if names.count(name) > (2 if name == "reindex" else 1)}
    )
    if not repeated:
        return None
    return (
        f"a stage may be listed once (reindex twice: before and after the cleanup): "
        f"{', '.join(repeated)} repeated"
    )


class Profile(Section):
    stages: list[StageName] = doc(
        "Stages in order.", ["preflight", "decline", "obsolete_updates", "health"], min_length=1
    )
    max_duration_minutes: float | None = doc(
        "Stop starting new work after this many minutes (overrides [window]).",
        240,
        default=None,
        gt=0,
        le=MAX_MINUTES,
    )
    start: ClockTime = doc(
        "When this profile's window opens (see window.start).", "01:00", default=None
    )
    until: ClockTime = doc("Stop starting new work at this local time.", "06:00", default=None)
    stage_budgets: dict[StageName, float] = doc(
        "Minutes each named stage may use at most (inside the run's window).",
        {"obsolete_updates": 120},
        default={},
    )

    @field_validator("stages")
    @classmethod
    def _each_stage_once(cls, value: list[str]) -> list[str]:
        if problem := repeated_stages(value):
            raise ValueError(problem)
        return value

    @field_validator("stage_budgets")
    @classmethod
    def _positive_budgets(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [name for name, minutes in value.items() if not 0 < minutes <= MAX_MINUTES]
        if bad:
            raise ValueError(
                f"budgets must be more than 0 and at most {MAX_MINUTES} minutes: {', '.join(bad)}"
            )
        return value


def default_profiles() -> dict[str, Profile]:
    # Microsoft's order (wsus-maintenance-guide): indexes first so the cleanup's queries are fast,
    # the cleanup, then reindex again, since deleting thousands of updates fragments what the
    # first pass rebuilt, and statistics last. `full` is the same list without a time window;
    # the `backup` stage is left to nightly-with-backup and profiles that set backup.directory.
    nightly: list[Any] = [
        "preflight",
        "custom_indexes",
        "reindex",
        "decline",
        "obsolete_updates",
        "compress",
        "computers",
        "sync_history",
        "content_files",
        "reindex",
        "statistics",
        "health",
    ]
    return {
        "nightly": Profile(stages=nightly, max_duration_minutes=240),
        "pre-patch-tuesday": Profile(
            stages=["preflight", "decline", "obsolete_updates", "reindex", "statistics", "health"],
            max_duration_minutes=120,
        ),
        "full": Profile(stages=list(nightly)),
        # The first night on a server with no SQL backups (most WID servers): a copy-only backup
        # first, so the backup gate passes and nothing destructive runs without one.
        "nightly-with-backup": Profile(stages=["backup", *nightly], max_duration_minutes=300),
    }


class PatchTuesdayOffset(Section):
    offset_days: int = doc(
        "Days after (positive) or before (negative) the second Tuesday of the month; may exceed 7.",
        -2,
        default=0,
        ge=-27,
        le=27,
    )
    offset_hours: int = doc("Hours added to the offset.", 0, default=0, ge=-23, le=23)
    at: ClockTime = doc("Local time of day (HH:MM).", "03:00", default=time(3, 0))


class ScheduleJob(Section):
    profile: str = doc("Profile to run.", "nightly", default="nightly")
    target: str | None = doc(
        "Target name, or `all` for every target in hierarchy order (default: the default target).",
        "wsus01",
        default=None,
    )
    cron: str | None = doc(
        "Five-field crontab expression (minute hour day month weekday).", "0 1 * * *", default=None
    )
    patch_tuesday: PatchTuesdayOffset | None = doc(
        "Fire relative to Patch Tuesday instead of by cron.",
        {"offset_days": -2, "at": "03:00"},
        default=None,
    )

    @model_validator(mode="after")
    def _one_trigger(self) -> ScheduleJob:
        if (self.cron is None) == (self.patch_tuesday is None):
            raise ValueError("give exactly one of cron or patch_tuesday")
        if self.cron is not None:
            from jobs import cron

            try:
                cron.trigger(self.cron)
            except ValueError as error:
                raise ValueError(
                    f"cron {self.cron!r} is not a valid crontab expression: {error}"
                ) from None
        return self


class ScheduleSettings(Section):
    timezone: str = doc(
        "Time zone of cron and Patch Tuesday times: `local`, or an IANA name such as `Europe/Paris`.",
        "local",
        default="local",
    )
    misfire_grace_minutes: int = doc(
        "A run missed by less than this (the worker was busy or down) still starts.",
        360,
        default=360,
        ge=1,
        le=MAX_MINUTES,
    )
    jobs: dict[str, ScheduleJob] = doc(
        "Scheduled jobs, by name.",
        {"nightly": {"profile": "nightly", "cron": "0 1 * * *"}},
        default={},
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value != "local":
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}") from None
        return value


class MonitoringSettings(Section):
    textfile: str | None = doc(
        "Write Prometheus metrics here after every run (node_exporter textfile collector), atomically.",
        "/var/lib/node_exporter/textfile_collector/susdb_maint.prom",
        default=None,
    )
    heartbeat_url: str | None = doc(
        "Ping this URL on start (`/start`), success and failure (`/fail`), healthchecks.io style; a "
        "failed ping never fails the run.",
        "https://hc-ping.com/your-uuid",
        default=None,
    )
    eventlog: bool = doc(
        "Also write events to the Windows Event Log (source `susdb-maint`); no effect elsewhere.",
        True,
        default=True,
    )


class ReportEmailSettings(Section):
    to: list[str] = doc(
        "Recipients of the HTML report; empty: no e-mail.", ["wsus-admins@contoso.com"], default=[]
    )
    sender: str | None = doc("From address.", "susdb-maint@contoso.com", default=None)
    smtp_host: str | None = doc("SMTP server.", "smtp.contoso.com", default=None)
    smtp_port: int | None = doc(
        "SMTP port; empty: 587 with `starttls`, 465 with `tls`, 25 with `none`.",
        587,
        default=None,
        ge=1,
        le=65535,
    )
    security: Literal["starttls", "tls", "none"] = doc(
        "`starttls` (upgrade a plain connection, port 587), `tls` (TLS from the start, port "
        "465) or `none` (plain SMTP, only on a trusted relay). The server certificate is verified.",
        "starttls",
        default="starttls",
    )
    ca_file: str | None = doc(
        "PEM file of the CA that signed the SMTP server's certificate (default: the system's).",
        "/etc/ssl/certs/contoso-ca.pem",
        default=None,
    )
    username: str | None = doc("SMTP login, if the server wants one.", "susdb-maint", default=None)
    password_env: str | None = doc(
        "Name of the environment variable holding the SMTP password.", "SMTP_PASSWORD", default=None
    )
    password: str | None = Field(default=None, exclude=True, description="Refused: never inline.")
    after_run: bool = doc("Send the report after every run.", True, default=False)
    timeout_seconds: float = doc(
        "Seconds allowed for the SMTP conversation.", 30, default=30.0, gt=0
    )

    @field_validator("password")
    @classmethod
    def _no_inline_password(cls, value: str | None) -> None:
        if value is not None:
            raise ValueError("inline passwords are not allowed; use password_env")
        return None

    @model_validator(mode="after")
    def _complete(self) -> ReportEmailSettings:
        problems = []
        if self.to and not (self.smtp_host and self.sender):
            problems.append("e-mail needs smtp_host and sender")
        if self.password_env and not self.username:
            problems.append("password_env needs username")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class ReportSettings(Section):
    html_dir: str | None = doc(
        "Write an HTML report here after every run (report-TARGET-RUN_ID.html).",
        "C:\\ProgramData\\susdb-maint\\reports",
        default=None,
    )
    trend_runs: int = doc("Past runs shown in the trend charts.", 30, default=30, ge=2, le=1000)
    max_listed_updates: int = doc(
        "Declined updates listed one by one (the rest are counted).", 500, default=500, ge=0
    )
    email: ReportEmailSettings = doc(
        "Send the report by e-mail (SMTP).", None, default_factory=ReportEmailSettings
    )


class ConfigMgrSettings(Section):
    site: Target = doc(
        "The Configuration Manager site database (CM_XXX) whose software update points use these "
        "WSUS servers, read-only (db_datareader is enough): updates it deploys are never "
        "declined, and a deployed update counts as a live superseder. If it cannot be read, the "
        "decline stage is refused (exit 4).",
        {"kind": "sqlserver", "server": "cmsql01.contoso.com", "database": "CM_P01"},
    )
    supersedence_months: int = doc(
        'The site\'s "months to wait for a superseded update to expire" (Software Update Point '
        "component, Supersedence Rules): a superseded update is declined only this long after "
        "the update superseding it was created, whatever min_age_days says. Where the site "
        'stores it is not documented, so it is set here; 0 for "immediately expire".',
        3,
        default=3,
        ge=0,
        le=120,
    )


class Settings(Section):
    state_dir: str | None = doc(
        "Where run history, work queues and the demo's simulated SUSDB live (default: the "
        "platform state directory).",
        "/var/lib/susdb-maint",
        default=None,
    )
    default_target: str | None = doc(
        "Target used when --target is not given (default: the only one).", "wsus01", default=None
    )
    log: LogSettings = doc("Event output.", None, default_factory=LogSettings)
    targets: dict[str, Target] = doc(
        "SUSDB instances, by name.",
        {"wsus01": {"kind": "sqlserver", "server": "sql01.contoso.com", "auth": "windows"}},
        default={},
    )
    runner: RunnerSettings = doc(
        "Batches, retries and queues.", None, default_factory=RunnerSettings
    )
    window: WindowSettings = doc(
        "Default maintenance window.", None, default_factory=WindowSettings
    )
    backup: BackupSettings = doc("Backup gate.", None, default_factory=BackupSettings)
    stages: StageSettings = doc("Options per stage.", None, default_factory=StageSettings)
    schedule: ScheduleSettings = doc(
        "Jobs for `susdb-maint schedule`.", None, default_factory=ScheduleSettings
    )
    monitoring: MonitoringSettings = doc(
        "Metrics, heartbeats and the Windows Event Log.", None, default_factory=MonitoringSettings
    )
    report: ReportSettings = doc(
        "HTML report after each run and on demand.", None, default_factory=ReportSettings
    )
    configmgr: ConfigMgrSettings | None = doc(
        "Configuration Manager awareness (optional): read its site database so the decline "
        "stage never declines what a software update group deploys.",
        {
            "site": {"kind": "sqlserver", "server": "cmsql01.contoso.com", "database": "CM_P01"},
            "supersedence_months": 3,
        },
        default=None,
    )
    profiles: dict[str, Profile] = doc(
        "Stage lists by name; `nightly`, `pre-patch-tuesday` and `full` are built in and may be "
        "overridden.",
        {"weekly": {"stages": ["preflight", "reindex", "statistics", "health"]}},
        default={},
    )

    @field_validator("targets", "profiles")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = [name for name in value if not _NAME.match(name)]
        if bad:
            raise ValueError(f"names may use letters, digits, '.', '_' and '-': {bad}")
        return value

    @model_validator(mode="after")
    def _references(self) -> Settings:
        problems = []
        if self.default_target and self.default_target not in self.targets:
            problems.append(f"default_target {self.default_target!r} is not a configured target")
        for name, target in self.targets.items():
            if target.upstream and target.upstream not in self.targets:
                problems.append(
                    f"targets.{name}.upstream {target.upstream!r} is not a configured target"
                )
        problems.extend(self._upstream_loops())
        profiles = self.effective_profiles()
        for name, job in self.schedule.jobs.items():
            if job.profile not in profiles:
                problems.append(
                    f"schedule.jobs.{name}.profile {job.profile!r} is not a defined profile"
                )
            if job.target and job.target != "all" and job.target not in self.targets:
                problems.append(
                    f"schedule.jobs.{name}.target {job.target!r} is not a configured target"
                )
            if job.target is None and not self.default_target and len(self.targets) != 1:
                which = "no target is configured" if not self.targets else "several targets are"
                problems.append(
                    f"schedule.jobs.{name}: {which} and neither the job's target nor "
                    "default_target says which to run"
                )
        if problems:
            # One problem a line: the loader reports each on its own.
            raise ValueError("\n".join(problems))
        return self

    def _upstream_loops(self) -> list[str]:
        """One line per chain of `upstream` that comes back to itself (run --all needs a tree)."""
        loops: list[str] = []
        reported: set[str] = set()
        for start in sorted(self.targets):
            chain = [start]
            while True:
                upstream = self.targets[chain[-1]].upstream
                if upstream is None or upstream not in self.targets or upstream in reported:
                    break
                if upstream in chain:
                    cycle = chain[chain.index(upstream) :]
                    if not reported.intersection(cycle):
                        loops.append(
                            f"targets.{cycle[0]}.upstream: the upstream chain loops: "
                            + " -> ".join([*cycle, upstream])
                        )
                    reported.update(cycle)
                    break
                chain.append(upstream)
        return loops

    def effective_profiles(self) -> dict[str, Profile]:
        return {**default_profiles(), **self.profiles}
