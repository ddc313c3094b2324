"""The project's error classes.

Driver errors are translated into the ``DatabaseError`` family by ``jobs.db.classify``; everything
above the access layer reasons only about these classes, never about pyodbc or SQLSTATEs.
"""

from jobs.exit_codes import ExitCode


class SusdbMaintError(Exception):
    """Base class: an error that ends a command with a documented exit code and one clear line."""

    exit_code: ExitCode = ExitCode.STAGE_FAILED


class ConfigError(SusdbMaintError):
    """Bad configuration: carries every problem found, one line each."""

    exit_code = ExitCode.BAD_USAGE

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class UsageError(SusdbMaintError):
    exit_code = ExitCode.BAD_USAGE


class StateError(SusdbMaintError):
    """The state store is corrupt, locked by a newer version, or unreadable."""

    exit_code = ExitCode.BAD_USAGE


class StateBusy(StateError):
    """Another process kept the state store's write lock for longer than we wait."""

    exit_code = ExitCode.LOCKED


class LockBusy(SusdbMaintError):
    exit_code = ExitCode.LOCKED


class LockLost(SusdbMaintError):
    """The session holding the target lock is gone: the run must not go on unlocked."""

    exit_code = ExitCode.STAGE_FAILED


class StageStopped(SusdbMaintError):
    """A stage ends early, and not by its own fault: the run's window closed or a stop was asked
    for (``reason`` None: the runner names which, ``deadline`` or ``signal``), or the server
    refuses the stage's work. The one stop every stage shares: the runner turns it into the
    stage's outcome, ``status`` (``partial`` unless a subclass says otherwise) and ``reason``,
    for every stage; the queue engine checkpoints what its batch settled first."""

    status = "partial"
    reason: str | None = None


class DatabaseError(SusdbMaintError):
    """A classified error from the database. ``kind`` names the class for events and the queue."""

    kind = "fatal"
    retryable = False
    reconnect = False

    def __init__(
        self,
        message: str,
        *,
        sqlstate: str | None = None,
        native: int | None = None,
        statement: str | None = None,
    ) -> None:
        self.sqlstate = sqlstate
        self.native = native
        self.statement = statement
        super().__init__(message)


class TransientError(DatabaseError):
    """Deadlock victim (1205 / 40001) or lock timeout (1222): retry the same work."""

    kind = "transient"
    retryable = True


class ConnectionLost(DatabaseError):
    """Link failure (08S01, 08001, 10054): reconnect, then retry."""

    kind = "connection_lost"
    retryable = True
    reconnect = True


class ConnectFailed(ConnectionLost):
    """A connection that never opened: the name does not resolve, the server refuses or does not
    answer. On a reconnect in the middle of a run it is retried like a lost connection."""

    kind = "unreachable"


class ConnectionSettingRefused(DatabaseError):
    """The ODBC driver is missing or refused a connection setting: a configuration problem."""

    kind = "bad_connection_setting"
    exit_code = ExitCode.BAD_USAGE


class StatementTimeout(DatabaseError):
    """The query timeout (HYT00) or the stage's time budget cancelled the statement."""

    kind = "timeout"


class Interrupted(DatabaseError, StageStopped):
    """The run's window closed, or a stop was asked for, while the statement ran: not the
    statement's fault, and not a failure of the item it was working on. A database error (the
    statement ended, its effect unknown until verified) and a stop (the stage ends partial)."""

    kind = "interrupted"


class LoginFailed(DatabaseError):
    kind = "login_failed"
    exit_code = ExitCode.REFUSED


class NotPermitted(DatabaseError):
    kind = "not_permitted"
    exit_code = ExitCode.REFUSED


class ReplicaRefused(DatabaseError, StageStopped):
    """spDeclineUpdate with @failIfReplica = 1 on a replica server: nothing the stage sends can
    succeed there, so it is a stop (the stage is skipped), not a failure of the item."""

    kind = "replica"
    status = "skipped"
    reason = "replica"


class StillReferenced(DatabaseError):
    """spDeleteUpdate refused: the update is still referenced by other update(s)."""

    kind = "still_referenced"
