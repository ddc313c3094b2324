"""The documented, stable process exit codes."""

import enum


class ExitCode(enum.IntEnum):
    OK = 0  # every stage finished
    STAGE_FAILED = 1  # at least one stage failed (the others still ran)
    BAD_USAGE = 2  # bad configuration, bad arguments, corrupt state file
    PARTIAL = 3  # the deadline or a signal stopped the run; work remains queued
    REFUSED = 4  # a precondition refused the run (no fresh backup, ...)
    LOCKED = 5  # another run holds the target lock (or took it while this one reconnected)


EXIT_CODE_DOCS = {
    ExitCode.OK: "all stages finished",
    ExitCode.STAGE_FAILED: "a stage failed (the other stages still ran)",
    ExitCode.BAD_USAGE: "bad configuration or usage (one line per problem on stderr)",
    ExitCode.PARTIAL: "partial: the deadline or SIGINT/SIGTERM stopped the run, work remains queued",
    ExitCode.REFUSED: "a precondition refused destructive work (no fresh backup, rules declining too much, ...)",
    ExitCode.LOCKED: "another run holds the target lock, or took it while this one reconnected",
}
