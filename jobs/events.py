"""The one event pipeline: structlog, JSON lines or console lines, stdlib logging bridged in.

Every event carries ``timestamp`` (UTC, ISO-8601, ``Z``), ``level``, ``event`` (a stable dotted
name), ``host``, ``version`` and, once bound, ``run_id``, ``target`` and ``stage``. Names and
fields are declared in jobs/event_catalog.py (docs/events.md and config/events.schema.json are
generated from it).
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import socket
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

from jobs import __version__
from jobs.redaction import redact_value

_STATIC = {"host": socket.gethostname(), "version": __version__}
_interactive = False
_console: Any = None


def interactive() -> bool:
    """True when events are readable console lines on a terminal (progress bars may show)."""
    return _interactive


def terminal_console() -> Any:
    """The rich Console that event lines and progress bars share on a terminal, else None.

    Two writers on one terminal garble each other: an event line written while a progress bar
    is drawn lands in the middle of the bar. Through one Console, rich clears the bar, prints
    the line above it and draws the bar again.
    """
    return _console


class _ConsoleHandler(logging.Handler):
    """Writes formatted event lines through the shared rich Console."""

    def __init__(self, console: Any) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        from rich.text import Text

        try:
            self.console.print(Text(self.format(record)), soft_wrap=True)
        except Exception:
            self.handleError(record)


def _add_static_fields(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in _STATIC.items():
        event_dict.setdefault(key, value)
    return event_dict


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    redacted: MutableMapping[str, Any] = redact_value(dict(event_dict))
    return redacted


def _stringify_exceptions(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if isinstance(value, BaseException):
            event_dict[key] = f"{type(value).__name__}: {value}"
    return event_dict


def _drop_static_fields(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Console lines are read by a person at this host: host and version are noise there (JSON
    output and the log file keep them)."""
    for key in _STATIC:
        event_dict.pop(key, None)
    return event_dict


# Event names emitted in this process that jobs/event_catalog.py does not declare (the test
# suite fails on any): a new name must be documented before it ships.
UNDECLARED: set[str] = set()


def _note_undeclared(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    from jobs.event_catalog import is_declared

    name = event_dict.get("event")
    if isinstance(name, str) and not is_declared(name):
        UNDECLARED.add(name)
    return event_dict


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _add_static_fields,
        _stringify_exceptions,
        structlog.processors.format_exc_info,
        _redact,
    ]


class _LogFile(logging.handlers.RotatingFileHandler):
    """The ``--log-file``: a write that fails (a full disk, ``/dev/full``) is one line on stderr,
    once, not logging's traceback for every event; the console still gets every event."""

    failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        self._give_up(sys.exc_info()[1])

    def flush(self) -> None:
        try:
            super().flush()
        except OSError as error:  # buffered lines meet the full disk when the file is closed
            self._give_up(error)

    def _give_up(self, error: BaseException | None) -> None:
        if self.failed:
            return
        self.failed = True
        reason = getattr(error, "strerror", None) or str(error)
        with contextlib.suppress(Exception):
            sys.stderr.write(
                f"susdb-maint: cannot write the log file {self.baseFilename} ({reason}); "
                "from now on events go to the console only\n"
            )


def flush() -> None:
    """Push out what the handlers hold: before a process ends without unwinding (os._exit)."""
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def configure(
    *,
    log_format: str = "auto",
    level: str = "info",
    stream: TextIO | None = None,
    log_file: str | None = None,
    file_max_bytes: int = 10 * 1024 * 1024,
    file_backups: int = 5,
    windows_eventlog: bool = False,
) -> None:
    """Configure the process-wide pipeline. Events go to ``stream`` (stderr by default)."""
    global _interactive, _console, _generation
    stream = stream or sys.stderr
    on_terminal = bool(getattr(stream, "isatty", lambda: False)())
    if log_format == "auto":
        log_format = "console" if on_terminal else "json"
    _interactive = on_terminal and log_format == "console"
    _console = None
    if _interactive:
        from rich.console import Console

        _console = Console(file=stream, highlight=False, markup=False, emoji=False)
    shared = _shared_processors()
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False, event_key="event")
    )
    structlog.configure(
        processors=[
            # Below the level: dropped before any other processor runs, so a filtered event
            # (a decline.update per item at level warning) costs almost nothing.
            structlog.stdlib.filter_by_level,
            *shared,
            _note_undeclared,  # our own events only: stdlib records from libraries are not ours
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    _generation += 1
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    console: logging.Handler = (
        _ConsoleHandler(_console) if _console is not None else logging.StreamHandler(stream)
    )
    readable = [_drop_static_fields] if log_format == "console" else []
    console.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *readable,
                renderer,
            ],
        )
    )
    root.addHandler(console)
    if log_file:
        Path(log_file).expanduser().parent.mkdir(parents=True, exist_ok=True)
        rotating = _LogFile(
            Path(log_file).expanduser(),
            maxBytes=file_max_bytes,
            backupCount=file_backups,
            encoding="utf-8",
        )
        rotating.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=shared,
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.JSONRenderer(),
                ],
            )
        )
        root.addHandler(rotating)
    if windows_eventlog:
        from jobs.monitoring import eventlog

        eventlog_handler = eventlog.handler()
        if eventlog_handler is not None:
            eventlog_handler.setFormatter(
                structlog.stdlib.ProcessorFormatter(
                    foreign_pre_chain=shared,
                    processors=[
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.JSONRenderer(),
                    ],
                )
            )
            root.addHandler(eventlog_handler)
    root.setLevel(level.upper())
    # Third-party chatter below warning is noise in an audit stream.
    for noisy in ("apscheduler", "filelock", "urllib3", "docker"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


# Bumped by configure(): every logger binds again to the new pipeline on its next event.
_generation = 0


class _Logger:
    """A named logger, bound to the pipeline once per ``configure()``.

    An event below the level costs a level check and nothing else: through structlog a filtered
    ``decline.update`` (one per decline) cost about 5 us, a bind and a ``DropEvent`` raised and
    caught. structlog's ``cache_logger_on_first_use`` would keep a logger used before
    ``configure()`` on the default pipeline for good, which has no redaction; this one rebinds
    whenever the pipeline changes.
    """

    __slots__ = ("_bound", "_enabled", "_generation", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._bound: Any = None
        self._enabled: Any = None
        self._generation = -1

    def __getattr__(self, attribute: str) -> Any:
        generation = _generation  # read once: a configure() while binding rebinds next time
        if self._generation != generation:
            self._bound = structlog.stdlib.get_logger(self._name).bind()
            # Before configure() structlog's default logger has no stdlib level to ask.
            self._enabled = getattr(self._bound, "isEnabledFor", None)
            self._generation = generation
        level = _LEVELS.get(attribute)
        if level is not None and self._enabled is not None and not self._enabled(level):
            return _dropped
        return getattr(self._bound, attribute)


_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


def _dropped(*_: Any, **__: Any) -> None:
    """An event below the level."""


def get_logger(name: str = "susdb_maint") -> Any:
    return _Logger(name)


bound = structlog.contextvars.bound_contextvars
clear = structlog.contextvars.clear_contextvars
