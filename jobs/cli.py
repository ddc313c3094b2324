"""The command line: ``susdb-maint <command>``. Exit codes are documented in jobs.exit_codes."""

from __future__ import annotations

import argparse
import errno
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from jobs import __version__, events
from jobs.errors import ConfigError, DatabaseError, SusdbMaintError, UsageError
from jobs.exit_codes import EXIT_CODE_DOCS, ExitCode
from jobs.paths import resolve_state_dir
from jobs.settings import Settings, load_settings, locate_config_file
from jobs.settings.load import check_config_path
from jobs.settings.model import MAX_MINUTES, _parse_hhmm
from jobs.stages import registry

EPILOG = "exit codes:\n" + "\n".join(
    f"  {int(code)}  {text}" for code, text in EXIT_CODE_DOCS.items()
)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2), not a usage dump, and an
    option is only ever its whole name: `--remov` must not mean `--remove-custom-indexes`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(int(ExitCode.BAD_USAGE))


def _hhmm(value: str) -> Any:
    try:
        return _parse_hhmm(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _number_in(expected: str, low: float, high: float, *, low_allowed: bool = True) -> Any:
    """An argparse type: a finite number from ``low`` (or just above it) to ``high``; anything
    else is one line saying what was ``expected``."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        above_low = number >= low if low_allowed else number > low
        if not math.isfinite(number) or not above_low or number > high:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value!r}")
        return number

    return parse


_positive_minutes = _number_in(
    f"minutes, more than 0 and at most {MAX_MINUTES} (a week)", 0, MAX_MINUTES, low_allowed=False
)
_share = _number_in("a share from 0 to 1", 0, 1)
_non_negative = _number_in("0 or more", 0, math.inf)


def _whole_number(low: int, high: int) -> Any:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(
                f"expected a whole number from {low:,} to {high:,}, got {value!r}"
            )
        return number

    return parse


def _common_options(default: Any) -> Parser:
    """Options accepted before and after the command. Below the top level their default is
    SUPPRESS, so ``--state-dir X demo`` is not reset by the subcommand's own default."""
    common = Parser(add_help=False, argument_default=default)
    common.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: $SUSDB_MAINT_CONFIG, "
        "./susdb-maint.toml, the platform config directory)",
    )
    common.add_argument(
        "--state-dir",
        metavar="DIR",
        help="run history, queues and demo data "
        "(default: $SUSDB_MAINT_STATE_DIR, config state_dir, the platform state directory)",
    )
    common.add_argument(
        "--log-format", choices=("auto", "json", "console"), help="event output on stderr"
    )
    common.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    common.add_argument(
        "--log-file", metavar="PATH", help="also append JSON events to this size-rotated file"
    )
    return common


def _catalog_options(parser: Parser) -> None:
    """What a made simulated SUSDB holds: for demo and simulator create."""
    parser.add_argument("--preset", choices=("small", "neglected"), default="small")
    parser.add_argument(
        "--updates",
        type=_whole_number(1, 2_000_000),
        metavar="N",
        help="catalog size (default: the preset's)",
    )
    parser.add_argument("--seed", type=_whole_number(0, 2**32 - 1), default=1)


def build_parser() -> Parser:
    top = _common_options(None)
    common = _common_options(argparse.SUPPRESS)
    parser = Parser(
        prog="susdb-maint",
        description="Batched, resumable, time-boxed maintenance for the WSUS database (SUSDB).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[top],
    )
    parser.add_argument("--version", action="version", version=f"susdb-maint {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    def command(name: str, help_text: str) -> Parser:
        return commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            parents=[common],
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    def add_run_options(sub: Parser) -> None:
        which = sub.add_mutually_exclusive_group()
        which.add_argument(
            "--target", metavar="NAME", help="target from the config (default: the only one)"
        )
        which.add_argument(
            "--all", action="store_true", help="every target: declines top-down, cleanup bottom-up"
        )
        sub.add_argument(
            "--profile",
            metavar="NAME",
            help="nightly (default), pre-patch-tuesday, full, or one of yours",
        )
        sub.add_argument(
            "--stage",
            action="append",
            choices=registry.names(),
            metavar="STAGE",
            help="run only these stages, in this order (repeatable); with --profile, under "
            "that profile's window",
        )
        sub.add_argument(
            "--until", type=_hhmm, metavar="HH:MM", help="stop starting new work at this local time"
        )
        sub.add_argument(
            "--max-duration",
            type=_positive_minutes,
            metavar="MINUTES",
            help="stop starting new work after this many minutes",
        )
        sub.add_argument(
            "--remove-custom-indexes",
            action="store_true",
            help="drop the custom indexes this tool created",
        )
        sub.add_argument(
            "--restore-delete-update",
            action="store_true",
            help="put back the spDeleteUpdate text this tool replaced (stages.delete_fix.apply)",
        )
        sub.add_argument(
            "--run-late",
            action="store_true",
            help="start even when the window (--until) has closed; --max-duration still applies",
        )

    demo = command("demo", "Create (or reuse) a simulated SUSDB and run the nightly profile on it.")
    _catalog_options(demo)
    demo.add_argument(
        "--sim", metavar="PATH", help="simulated SUSDB file (default: in the state directory)"
    )
    demo.add_argument(
        "--fresh", action="store_true", help="recreate the simulated SUSDB even if it exists"
    )
    demo.add_argument(
        "--max-duration",
        type=_positive_minutes,
        metavar="MINUTES",
        help="window in simulated minutes (default: the nightly profile's)",
    )
    demo.set_defaults(handler=cmd_demo)

    run = command("run", "Run a profile (or chosen stages) against a target.")
    add_run_options(run)
    run.set_defaults(handler=cmd_run)

    plan = command(
        "plan", "Dry run: count candidates, estimate durations, change nothing in SUSDB."
    )
    add_run_options(plan)
    plan.add_argument(
        "--show-sql",
        action="store_true",
        help="print the T-SQL a run sends, in order: the reads run on the target, every "
        "change is recorded instead of sent",
    )
    plan.add_argument(
        "--offline",
        action="store_true",
        help="with --show-sql: render without a database (a throwaway simulated SUSDB), no counts",
    )
    plan.add_argument(
        "--items",
        action="store_true",
        help="list the items a run would work on, one a line, tab-separated: stage, id, status, "
        "kb, title, reason, products",
    )
    plan.set_defaults(handler=cmd_plan)

    status = command("status", "Health KPIs of a target, and quarantined items.")
    status.add_argument("--target", metavar="NAME")
    status.add_argument("--check-permissions", action="store_true", help="test each stage's rights")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cmd_status)

    history = command("history", "Past runs, or the updates one run declined.")
    history.add_argument("--target", metavar="NAME")
    history.add_argument("--limit", type=_whole_number(1, 1_000_000), default=20)
    history.add_argument("--json", action="store_true", help="machine-readable output")
    history.add_argument("--declined", metavar="RUN_ID", help="list the updates this run declined")
    history.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="with --declined"
    )
    history.add_argument(
        "--undo-script",
        metavar="RUN_ID",
        help="write a reviewed PowerShell script that puts back the updates this run declined",
    )
    history.add_argument(
        "--output",
        metavar="FILE",
        help="with --undo-script (default: undo-RUN_ID.ps1; - for stdout)",
    )
    history.set_defaults(handler=cmd_history)

    report_command = command(
        "report", "HTML report of one run, or of the runs in a date range, with trend charts."
    )
    report_command.add_argument("--run", metavar="RUN_ID", help="one run (default: the latest)")
    report_command.add_argument("--since", metavar="YYYY-MM-DD", help="runs started on or after")
    report_command.add_argument("--until", metavar="YYYY-MM-DD", help="runs started on or before")
    report_command.add_argument("--target", metavar="NAME")
    report_command.add_argument(
        "--output", metavar="FILE", help="(default: report-TARGET-RUN.html; - for stdout)"
    )
    report_command.add_argument(
        "--email", action="store_true", help="also send it to [report.email] to"
    )
    report_command.set_defaults(handler=cmd_report)

    schedule = command(
        "schedule", "Foreground worker running the jobs in [schedule] (APScheduler)."
    )
    schedule.add_argument("--list", action="store_true", help="print the next fire times and exit")
    schedule.set_defaults(handler=cmd_schedule)

    queue = command("queue", "Inspect or reset work queues and quarantined items.")
    queue.add_argument("action", choices=("show", "retry", "clear"))
    queue.add_argument("--target", metavar="NAME")
    queue.add_argument("--stage", choices=registry.names())
    queue.set_defaults(handler=cmd_queue)

    simulator = command("simulator", "The simulated SUSDB, for tests and demos.")
    simulator_commands = simulator.add_subparsers(
        dest="simulator_command", metavar="ACTION", parser_class=Parser
    )
    simulator_commands.required = True
    create = simulator_commands.add_parser(
        "create",
        help="make a simulated SUSDB that has never been cleaned, to try plan and run on",
        description="Make a simulated SUSDB as an uncleaned WSUS server has it: superseded, "
        "expired and obsolete updates waiting. `demo` makes one too, then cleans it.",
        parents=[common],
    )
    create.add_argument("--sim", metavar="PATH", required=True, help="simulated SUSDB file")
    _catalog_options(create)
    create.add_argument(
        "--fresh", action="store_true", help="make it again if PATH holds a simulated SUSDB"
    )
    create.set_defaults(handler=cmd_simulator_create)
    serve = simulator_commands.add_parser(
        "serve",
        help="serve a simulated SUSDB over TDS to ODBC drivers (FreeTDS); a test and demo tool",
        description="Serve a simulated SUSDB over TDS, so a sqlserver target (pyodbc and FreeTDS) "
        "can run against it. A test and demo tool, not a SQL Server: loopback only unless --host "
        "is given, TLS only with --tls-cert and --tls-key, one SQL login.",
        parents=[common],
    )
    serve.add_argument("--sim", metavar="PATH", required=True, help="simulated SUSDB file")
    serve.add_argument(
        "--preset",
        choices=("small", "neglected"),
        help="create the simulated SUSDB from this preset if PATH does not exist",
    )
    serve.add_argument("--port", type=int, default=0, help="TCP port (default 0: a free one)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default loopback)"
    )
    serve.add_argument("--user", default="susdb_maint", help="the SQL login (default susdb_maint)")
    serve.add_argument(
        "--password-env",
        default="SUSDB_PASSWORD",
        metavar="VAR",
        help="environment variable holding the login's password (default SUSDB_PASSWORD)",
    )
    serve.add_argument("--database", default="SUSDB", help="database name (default SUSDB)")
    serve.add_argument(
        "--time-scale",
        type=float,
        default=3600.0,
        metavar="N",
        help="modelled seconds per real second (default 3600; 1: real time; 0: no real time)",
    )
    serve.add_argument(
        "--latency-ms", type=_non_negative, default=0.0, help="real time per statement"
    )
    serve.add_argument(
        "--fault-rate", type=_share, default=0.0, help="share of statements failing (0 to 1)"
    )
    serve.add_argument("--fault-kind", action="append", help="fault kinds (repeatable)")
    serve.add_argument("--fault-statement", action="append", help="only these statements")
    serve.add_argument("--fault-seed", type=int, default=0)
    serve.add_argument(
        "--tls-cert", metavar="PEM", help="offer TLS as SQL Server does, with this certificate"
    )
    serve.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    serve.set_defaults(handler=cmd_simulator_serve)

    config = command("config", "Write, check or show the configuration.")
    config_commands = config.add_subparsers(
        dest="config_command", metavar="ACTION", parser_class=Parser
    )
    config_commands.required = True
    init = config_commands.add_parser(
        "init", help="write a commented example config", parents=[common]
    )
    kind = init.add_mutually_exclusive_group()
    kind.add_argument(
        "--simulator", metavar="PATH", help="make its target a simulated SUSDB at PATH"
    )
    kind.add_argument(
        "--wid",
        action="store_true",
        help="make its target the Windows Internal Database of this WSUS host",
    )
    init.add_argument(
        "--output",
        metavar="FILE",
        default="susdb-maint.toml",
        help="(default: ./susdb-maint.toml; - for stdout)",
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(handler=cmd_config_init)
    check = config_commands.add_parser(
        "check", help="validate; print every problem, one line each", parents=[common]
    )
    check.add_argument("file", nargs="?", metavar="FILE")
    check.set_defaults(handler=cmd_config_check)
    show = config_commands.add_parser(
        "show", help="print the effective config, secrets redacted", parents=[common]
    )
    show.set_defaults(handler=cmd_config_show)
    return parser


# -- plumbing ----------------------------------------------------------------------------------
def load(args: argparse.Namespace) -> tuple[Settings, Path | None]:
    path = locate_config_file(getattr(args, "config", None))
    return load_settings(path), path


def setup_events(args: argparse.Namespace, settings: Settings | None) -> None:
    log_settings = settings.log if settings else None
    log_file = args.log_file or (log_settings.file if log_settings else None)
    try:
        events.configure(
            log_format=args.log_format or (log_settings.format if log_settings else "auto"),
            level=args.log_level or (log_settings.level if log_settings else "info"),
            log_file=log_file,
            file_max_bytes=log_settings.file_max_bytes if log_settings else 10 * 1024 * 1024,
            file_backups=log_settings.file_backups if log_settings else 5,
            windows_eventlog=settings.monitoring.eventlog if settings else False,
        )
    except OSError as error:
        source = "--log-file" if args.log_file else "log.file"
        raise UsageError(
            f"{source} {log_file}: cannot write the event log there ({_os_reason(error)}); "
            "give a file in a writable folder"
        ) from None


def state_dir(args: argparse.Namespace, settings: Settings) -> Path:
    path = resolve_state_dir(getattr(args, "state_dir", None), settings.state_dir)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path}: the state directory is a file; give a directory (--state-dir)")
    return path


class _ClosedPipeTolerant:
    """A standard stream that turns into /dev/null once its reader goes away (``| head -1``).

    The command carries on and exits with its own code: a run whose summary could not be printed
    still finished its work, and says so in its exit code. The way CLI tools stay quiet on a
    closed pipe, without letting SIGPIPE kill a run between a batch and its checkpoint.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _closed(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except OSError as error:
            if not _reader_gone(error):
                raise
            self._closed()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as error:
            if not _reader_gone(error):
                raise
            self._closed()
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        # Everything else is the stream's own: isatty() above all, which decides whether
        # log.format = "auto" renders for a person (console, progress bars) or for a machine.
        return getattr(self._stream, name)


def _reader_gone(error: OSError) -> bool:
    # Windows reports a closed pipe as EINVAL rather than EPIPE.
    return isinstance(error, BrokenPipeError) or error.errno in (errno.EPIPE, errno.EINVAL)


def _guard_standard_streams() -> None:
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, _ClosedPipeTolerant):
            continue
        try:
            stream.fileno()
        except (AttributeError, OSError, ValueError):
            continue  # not a real file (a test's StringIO): nothing can close under it
        setattr(sys, name, _ClosedPipeTolerant(stream))


def main(argv: Sequence[str] | None = None) -> int:
    _guard_standard_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as error:
        for line in error.problems:
            sys.stderr.write(f"susdb-maint: {line}\n")
        return int(error.exit_code)
    except (SusdbMaintError, DatabaseError) as error:
        kind = getattr(error, "kind", None)
        prefix = f"{kind.replace('_', ' ')}: " if isinstance(error, DatabaseError) and kind else ""
        sys.stderr.write(f"susdb-maint: {prefix}{error}\n")
        return int(error.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("susdb-maint: interrupted\n")
        return int(ExitCode.PARTIAL)
    except OSError as error:  # a path the administrator gave cannot be read or written
        sys.stderr.write(f"susdb-maint: {_os_reason(error)}\n")
        return int(ExitCode.BAD_USAGE)


def _os_reason(error: OSError) -> str:
    """Which path, and what is wrong with it, in the administrator's words."""
    where = f"{error.filename}: " if error.filename else ""
    reason = error.strerror or str(error)
    if isinstance(error, FileExistsError):  # mkdir over a file
        reason = "exists and is not a directory"
    return where + reason


# -- commands ----------------------------------------------------------------------------------
def cmd_config_init(args: argparse.Namespace) -> int:
    from jobs.settings.render import example_config

    text = example_config(
        str(Path(args.simulator).expanduser()) if args.simulator else None, wid=args.wid
    )
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    output = Path(args.output).expanduser()
    if output.is_dir():
        raise UsageError(
            f"{output} is a directory; give the file to write, for example "
            f"{output / 'susdb-maint.toml'}"
        )
    if output.exists() and not args.force:
        raise UsageError(f"{output} exists; use --force to overwrite it")
    # C:\ProgramData\susdb-maint does not exist on a fresh host: create it, as the docs say.
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output}; check it with: susdb-maint config check {output}")
    if args.simulator and not Path(args.simulator).expanduser().exists():
        print(f"make the simulated SUSDB: susdb-maint simulator create --sim {args.simulator}")
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    path = Path(args.file).expanduser() if args.file else locate_config_file(args.config)
    if path is not None:
        check_config_path(path)
    load_settings(path)
    print(f"{path or '(defaults)'}: OK")
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    from jobs.settings.render import redacted_dump

    settings, path = load(args)
    print(f"# effective configuration from {path or '(defaults)'}, secrets redacted")
    print(redacted_dump(settings), end="")
    return 0


def _run_request(args: argparse.Namespace) -> Any:
    from jobs.runner.options import RunOptions

    return RunOptions(
        target=args.target,
        all_targets=args.all,
        profile=args.profile,
        stages=args.stage,
        until=args.until,
        max_duration_minutes=args.max_duration,
        remove_custom_indexes=args.remove_custom_indexes,
        run_late=args.run_late,
        restore_delete_fix=args.restore_delete_update,
    )


def cmd_run(args: argparse.Namespace) -> int:
    from jobs import commands, output

    settings, _ = load(args)
    setup_events(args, settings)
    return int(
        commands.run(
            settings, state_dir(args, settings), _run_request(args), on_report=output.run_report
        )
    )


def cmd_plan(args: argparse.Namespace) -> int:
    from jobs import commands, output
    from jobs.runner.hierarchy import worst

    if args.offline and not args.show_sql:
        raise UsageError("--offline renders --show-sql without a database: give --show-sql too")
    if args.all and args.items:
        raise UsageError("--items lists one target's items: give --target instead of --all")
    settings, _ = load(args)
    if args.show_sql:  # the run path, every change recorded instead of sent (jobs/sqlplan.py)
        shown = commands.show_sql(
            settings, state_dir(args, settings), _run_request(args), offline=args.offline
        )
        output.shown_sql(shown)
        return int(shown.exit_code)
    setup_events(args, settings)
    directory = state_dir(args, settings)
    planned = commands.plan(settings, directory, _run_request(args))
    items = commands.plan_items(directory, planned[0]) if args.items else []
    output.plan(planned, items)
    return int(worst([ExitCode(one.report.exit_code) for one in planned]))


def cmd_status(args: argparse.Namespace) -> int:
    from jobs import commands, output

    settings, _ = load(args)
    setup_events(args, settings)
    found = commands.status(
        settings, state_dir(args, settings), args.target, check_permissions=args.check_permissions
    )
    output.status(found, as_json=args.json)
    return int(ExitCode.REFUSED if found.missing_rights else ExitCode.OK)


def cmd_history(args: argparse.Namespace) -> int:
    from jobs import commands, output

    if args.format != "table" and not args.declined:
        raise UsageError(
            f"--format {args.format} applies to --declined RUN_ID; use --json for runs"
        )
    settings, _ = load(args)
    directory = state_dir(args, settings)
    commands.check_history_target(settings, directory, args.target)
    if args.undo_script:
        written, text, count = commands.undo_script(
            directory,
            args.undo_script,
            Path(args.output) if args.output and args.output != "-" else None,
            to_stdout=args.output == "-",
        )
        output.undo_script(written, text, count)
    elif args.declined:
        rows = commands.declined(directory, args.declined)
        output.declined(args.declined, rows, "json" if args.json else args.format)
    else:
        output.history(commands.history(directory, args.target, args.limit), as_json=args.json)
    return int(ExitCode.OK)


def cmd_report(args: argparse.Namespace) -> int:
    from jobs import commands, output, report_html

    if args.run and (args.since or args.until):
        raise UsageError("give --run or --since/--until, not both")
    since = report_html.parse_day(args.since) if args.since else None
    until = report_html.parse_day(args.until, end=True) if args.until else None
    if since and until and since > until:
        raise UsageError(f"--since {args.since} is after --until {args.until}: swap them")
    settings, _ = load(args)
    setup_events(args, settings)
    done = commands.report(
        settings,
        state_dir(args, settings),
        run_id=args.run,
        target=args.target,
        since=since,
        until=until,
        output=args.output,
        email=args.email,
    )
    output.written_report(done)
    return int(ExitCode.OK)


def cmd_queue(args: argparse.Namespace) -> int:
    from jobs import commands, output

    settings, _ = load(args)
    directory = state_dir(args, settings)
    if args.action in ("retry", "clear"):
        change = commands.retry_quarantined if args.action == "retry" else commands.clear_queue
        output.queue_changed(args.action, change(settings, directory, args.target, args.stage))
        return int(ExitCode.OK)
    statuses = ("pending", "in_flight", "failed", "quarantined")
    target, rows = commands.queued(settings, directory, args.target, args.stage, statuses)
    output.queue(target, rows)
    return int(ExitCode.OK)


def cmd_schedule(args: argparse.Namespace) -> int:
    from jobs.schedule import run_scheduler

    settings, path = load(args)
    setup_events(args, settings)
    return run_scheduler(settings, path, state_dir(args, settings), list_only=args.list)


def cmd_demo(args: argparse.Namespace) -> int:
    from jobs.demo import run_demo

    settings, _ = load(args)
    setup_events(args, settings)
    return run_demo(
        settings,
        state_dir(args, settings),
        preset=args.preset,
        updates=args.updates,
        seed=args.seed,
        sim_path=args.sim,
        fresh=args.fresh,
        max_duration=args.max_duration,
    )


def cmd_simulator_create(args: argparse.Namespace) -> int:
    from jobs.demo import ensure_simulated_susdb

    setup_events(args, None)
    path = Path(args.sim).expanduser()
    if not ensure_simulated_susdb(path, args.preset, args.updates, args.seed, args.fresh):
        raise UsageError(
            f"--sim {path}: already holds a simulated SUSDB; --fresh makes it again (uncleaned)"
        )
    print(
        f"made {path}: a simulated SUSDB never cleaned; point a config at it and plan: "
        f"susdb-maint config init --simulator {path} && susdb-maint plan"
    )
    return ExitCode.OK


def cmd_simulator_serve(args: argparse.Namespace) -> int:
    from jobs.simulator.tds.command import serve

    setup_events(args, None)
    return serve(
        sim=args.sim,
        port=args.port,
        host=args.host,
        user=args.user,
        password_env=args.password_env,
        database=args.database,
        time_scale=args.time_scale,
        latency_ms=args.latency_ms,
        preset=args.preset,
        fault_rate=args.fault_rate,
        fault_kinds=args.fault_kind,
        fault_statements=args.fault_statement,
        fault_seed=args.fault_seed,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )
