"""The command line: ``susdb-maint <command>``. Exit codes are documented in jobs.exit_codes."""

from __future__ import annotations

import argparse
import csv
import errno
import json
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
    """argparse, but a usage error is one line (and exit code 2), not a usage dump."""

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


def _show_report(result: Any) -> None:
    from jobs import report

    report.print_run_summary(result)
    # A failed stage's reason whole, one line each: the table's note is cut to its column, or
    # shows the queue's counts instead (admin review N12). The run's own error stays last.
    for stage in result.stages:
        if stage.status == "failed" and stage.reason:
            sys.stderr.write(
                f"susdb-maint: {result.target}: {stage.stage} failed: {stage.reason}\n"
            )
    if result.error:
        sys.stderr.write(f"susdb-maint: {result.target}: {result.error}\n")


def cmd_run(args: argparse.Namespace) -> int:
    from jobs import commands

    settings, _ = load(args)
    setup_events(args, settings)
    return int(
        commands.run(
            settings, state_dir(args, settings), _run_request(args), on_report=_show_report
        )
    )


def cmd_plan(args: argparse.Namespace) -> int:
    from jobs import commands, report

    if args.offline and not args.show_sql:
        raise UsageError("--offline renders --show-sql without a database: give --show-sql too")
    settings, _ = load(args)
    if args.show_sql:  # the run path, every change recorded instead of sent (jobs/sqlplan.py)
        shown = commands.show_sql(
            settings,
            state_dir(args, settings),
            _run_request(args),
            offline=args.offline,
        )
        sys.stdout.write(shown.text)
        for problem in shown.problems:
            sys.stderr.write(f"susdb-maint: {problem}\n")
        return int(shown.exit_code)
    setup_events(args, settings)
    if args.all and args.items:
        raise UsageError("--items lists one target's items: give --target instead of --all")
    directory = state_dir(args, settings)
    planned = commands.plan(settings, directory, _run_request(args))
    for one in planned:
        result, plan = one.report, one.plan
        if one.phase:
            order = "upstream first" if one.phase == "decline" else "replicas first"
            print(f"\n--all, {one.phase} phase ({order}): {plan.endpoint.name}")
        _show_report(result)
        if result.stages:  # nothing reached, nothing to estimate: never "fits"
            fit = report.window_fit(
                result.stages,
                plan.max_duration_minutes,
                plan.until,
                virtual_time=result.virtual_time,
            )
            print(fit)
    if len(planned) > 1:
        # run --all shares one window among its targets, one after the other.
        stages = [stage for one in planned for stage in one.report.stages]
        first = planned[0]
        total = report.window_fit(
            stages,
            first.plan.max_duration_minutes,
            first.plan.until,
            virtual_time=first.report.virtual_time,
        )
        print(f"\n--all, every target one after the other: {total}")
    if args.items:
        from jobs import plan_items
        from jobs.state.store import ACTIVE

        (one,) = planned
        result, plan = one.report, one.plan
        # A queue the next run will resume, else what this plan would queue (kept apart).
        found = plan_items.items(directory, plan.endpoint.name, plan.stages, result.run_id, ACTIVE)
        titles = plan_items.titles_from(plan.endpoint, found) if result.stages else {}
        for line in plan_items.lines(found, titles):
            print(line)
    from jobs.runner.hierarchy import worst

    return int(worst([ExitCode(one.report.exit_code) for one in planned]))


def cmd_status(args: argparse.Namespace) -> int:
    from jobs.status import show_status

    settings, _ = load(args)
    setup_events(args, settings)
    return show_status(
        settings,
        state_dir(args, settings),
        args.target,
        check_permissions=args.check_permissions,
        as_json=args.json,
    )


def _check_history_target(settings: Any, directory: Path, target: str | None) -> None:
    """A --target that is neither configured nor in any history is a typo: say so first (admin
    review N41c), rather than "no state file yet". A target removed from the config keeps its
    history, so one the state store knows is let through (commands.history checks that)."""
    from jobs.state.store import FILE_NAME

    if target and target not in settings.targets and not (directory / FILE_NAME).exists():
        known = ", ".join(sorted(settings.targets)) or "none configured"
        raise UsageError(f"--target {target!r} is not a configured target (known: {known})")


def cmd_history(args: argparse.Namespace) -> int:
    from jobs import commands, report

    if args.format != "table" and not args.declined:
        raise UsageError(
            f"--format {args.format} applies to --declined RUN_ID; use --json for runs"
        )
    settings, _ = load(args)
    directory = state_dir(args, settings)
    _check_history_target(settings, directory, args.target)
    if args.undo_script:
        path, text, count = commands.undo_script(
            directory,
            args.undo_script,
            Path(args.output) if args.output and args.output != "-" else None,
            to_stdout=args.output == "-",
        )
        if path is None:
            sys.stdout.write(text)
        else:
            print(
                f"wrote {path}: {count} update(s); review it, then run it with -WhatIf in "
                "Windows PowerShell 5.1 on the WSUS server"
            )
        return 0
    if args.declined:
        rows = commands.declined(directory, args.declined)
        if args.format == "json" or args.json:
            print(json.dumps(rows, indent=2))
        elif args.format == "csv":
            writer = csv.DictWriter(
                sys.stdout,
                fieldnames=["update_id", "kb", "title", "reason", "why", "declined_at"],
            )
            writer.writeheader()
            writer.writerows(rows)
        elif not rows:
            print(f"run {args.declined} declined nothing", file=sys.stderr)
        else:
            for row in rows:
                print(
                    f"{row['declined_at']}  {row['update_id']}  {row['kb'] or '-':>10}  "
                    f"{row['reason']:<14} {row['title']}"
                )
                if row["why"]:
                    print(f"{'':22}why: {row['why']}")
        return 0
    runs = commands.history(directory, args.target, args.limit)
    if args.json:
        print(json.dumps(runs, indent=2))
    else:
        report.console().print(report.history_table(runs))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from jobs import mail, report_html
    from jobs.state.store import StateStore

    settings, _ = load(args)
    setup_events(args, settings)
    if args.run and (args.since or args.until):
        raise UsageError("give --run or --since/--until, not both")
    since = report_html.parse_day(args.since) if args.since else None
    until = report_html.parse_day(args.until, end=True) if args.until else None
    _check_history_target(settings, state_dir(args, settings), args.target)
    if since and until and since > until:
        raise UsageError(f"--since {args.since} is after --until {args.until}: swap them")
    store = StateStore(state_dir(args, settings), read_only=True)
    try:
        run_id = args.run
        if not run_id and not (args.since or args.until):
            # The latest run of this config's targets: a state directory shared by several
            # configs holds other servers' runs too (admin review E02).
            targets: list[str | None] = (
                [args.target] if args.target else [*sorted(settings.targets)] or [None]
            )
            latest = [row for name in targets for row in store.runs(name, 1)]
            if not latest:
                raise UsageError(
                    f"no runs yet of {', '.join(t for t in targets if t) or 'any target'} "
                    "(see susdb-maint history)"
                )
            run_id = max(latest, key=lambda row: (row["started_at"], row["run_id"]))["run_id"]
        subject, text, html = report_html.render(
            store,
            settings,
            run_id=run_id,
            target=args.target,
            since=since,
            until=until,
        )
        target = store.run(run_id)["target"] if run_id else args.target  # type: ignore[index]
    finally:
        store.close()
    name = report_html.default_file_name(run_id, target)
    if args.output == "-":
        sys.stdout.write(html)
    else:
        output = Path(args.output or name)
        output.write_text(html, encoding="utf-8")
        print(f"wrote {output}")
    if args.email:
        if not settings.report.email.to:
            raise UsageError("--email: no recipients in [report.email] to")
        mail.send(
            settings.report.email,
            mail.build_message(settings.report.email, subject, text, html, name),
        )
        print(f"sent to {', '.join(settings.report.email.to)}")
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    from jobs import commands

    settings, _ = load(args)
    directory = state_dir(args, settings)
    if args.action == "retry":
        count = commands.retry_quarantined(settings, directory, args.target, args.stage)
        print(f"{count} quarantined item(s) will be retried")
        return 0
    if args.action == "clear":
        count = commands.clear_queue(settings, directory, args.target, args.stage)
        print(f"{count} queued item(s) removed")
        return 0
    statuses = ("pending", "in_flight", "failed", "quarantined")
    target, rows = commands.queued(settings, directory, args.target, args.stage, statuses)
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["stage"], {}).setdefault(row["status"], 0)
        counts[row["stage"]][row["status"]] += 1
    for stage, by_status in counts.items():
        print(
            f"{stage}: "
            + ", ".join(f"{status} {count}" for status, count in sorted(by_status.items()))
        )
    for row in rows:
        if row["status"] == "quarantined":
            print(
                f"quarantined\t{row['stage']}\t{row['item_key']}\t{row['failed_runs']} failed "
                f"runs\t{row['last_error_kind']}: {row['last_error']}"
            )
    if not rows:
        print(f"{target}: no queued work")
    return 0


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
