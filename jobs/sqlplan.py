"""``plan --show-sql``: the T-SQL a run sends, from the run path itself.

On the target (the default), Ola Hallengren's ``@Execute = 'N'`` and alembic's ``as_sql`` on the
real path: the run's own plan runs against the configured target, through the same endpoint and
executor a run uses, under a dry run (``jobs/db/dryrun.py``). The reads run there for real
(candidate queries, preflight, KPIs); every statement that writes is recorded with its real
parameters instead of being sent, and answered as its ``sql/`` file declares, so the stages and
the queue engine go on exactly as in a run. No target lock is taken (its statements are
recorded like any change), and the state directory is not touched: the run works on a copy of the
state store, so it resumes the queues a run would resume and keeps nothing. A statement not sent
takes no time, so the window and stage budgets are set aside: the listing is all the work a run
would do, which a run's window may cut short.

``--offline`` renders without a database: the same run path against a throwaway simulated SUSDB
built so that every branch has work; each stage's statements once, without counts (a throwaway's
numbers are not the server's).

Stages that act on the WSUS host rather than through SQL never run here; they are listed as such.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from jobs import events
from jobs.db.catalog import statement
from jobs.db.dryrun import Entry, recording
from jobs.db.executor import RECORDING
from jobs.exit_codes import ExitCode
from jobs.runner.plan import Plan
from jobs.runner.run import RunReport, execute_plan
from jobs.settings.model import Settings, SimulatorTarget
from jobs.stages import registry

Recorded = list[tuple[str | None, str, list[Any]]]
THROWAWAY = "show-sql"
EXTERNAL = "(no SQL)"  # recorded for a stage that acts on the WSUS host, not through SQL
LONG_VALUE = 80  # characters of a parameter shown on a send's line (a procedure's whole text)
# Keeps every backup file where it is: the backup stage deletes its oldest files beyond
# backup.keep after a backup, and a dry run deletes nothing on this host.
KEEP_EVERY_BACKUP = 1_000_000


@dataclass
class Shown:
    """One target's dry run on the real path (one phase of it under ``--all``)."""

    plan: Plan
    report: RunReport
    entries: list[Entry]
    stages: list[str] = field(default_factory=list)  # as planned, host stages included
    external: list[str] = field(default_factory=list)  # those that act on the host: not run
    phase: str | None = None


# -- on the target ------------------------------------------------------------------------------
def on_target(
    settings: Settings,
    state_dir: Path,
    make_plan: Callable[[str | None], Plan],
    *,
    target: str | None = None,
    all_targets: bool = False,
) -> list[Shown]:
    """Run the plan ``make_plan(target)`` (with ``all_targets``, every target in ``run --all``'s
    order) against its target with every change recorded instead of sent; return what each sent
    and recorded."""
    shown: list[Shown] = []
    with _state_copy(state_dir) as copy, _quiet():

        def dry(plan: Plan, phase: str | None = None) -> RunReport:
            planned = list(plan.stages)
            plan, external = _unbounded(plan)
            plan = replace(
                plan,
                settings=plan.settings.model_copy(
                    update={
                        "backup": plan.settings.backup.model_copy(
                            update={"keep": KEEP_EVERY_BACKUP}
                        )
                    }
                ),
            )
            with recording() as journal:
                report = execute_plan(plan, copy)
            shown.append(Shown(plan, report, journal.entries, planned, external, phase))
            return report

        if all_targets:
            from jobs.runner.hierarchy import run_all

            run_all(settings, make_plan, dry, threading.Event())
        else:
            dry(make_plan(target))
    return shown


def _unbounded(plan: Plan) -> tuple[Plan, list[str]]:
    """The whole plan, no window or budget (a statement not sent takes no time), and the stages
    that act outside SQL taken out (they never run in a dry run)."""
    external = [name for name in plan.stages if registry.get(name).external]
    return (
        replace(
            plan,
            until=None,
            max_duration_minutes=None,
            stage_budgets={},
            stages=[name for name in plan.stages if name not in external],
        ),
        external,
    )


@contextlib.contextmanager
def _state_copy(state_dir: Path) -> Iterator[Path]:
    """A throwaway copy of the state store (queues to resume, timings, the saved spDeleteUpdate
    text): the dry run reads what a run would read there and keeps nothing."""
    from jobs.state.store import FILE_NAME, StateStore

    with tempfile.TemporaryDirectory(prefix="susdb-maint-show-sql-") as directory:
        copy = Path(directory)
        if (state_dir / FILE_NAME).exists():
            source = StateStore(state_dir, read_only=True)
            try:
                target = sqlite3.connect(copy / FILE_NAME)
                try:
                    source.db.backup(target)
                finally:
                    target.close()
            finally:
                source.close()
        yield copy


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No events: they would tell of declines and deletions that never happened. What went
    wrong is in the run's report."""
    with open(os.devnull, "w", encoding="utf-8") as quiet:
        events.configure(log_format="json", level="error", stream=quiet)
        yield


def exit_code(shown: list[Shown]) -> ExitCode:
    """What the run would exit with, as ``plan`` says it (the worst of its targets')."""
    from jobs.runner.hierarchy import worst

    return worst([ExitCode(one.report.exit_code) for one in shown])


def problems(shown: list[Shown]) -> list[str]:
    """One line for each thing that kept the dry run from a stage: the target unreachable, a
    stage refused, failed or deferred (its reason)."""
    lines = []
    for one in shown:
        name = one.plan.endpoint.name
        if one.report.error:
            lines.append(f"{name}: {one.report.error}")
        for stage in one.report.stages:
            if stage.status in ("failed", "refused"):
                lines.append(f"{name}: {stage.stage} {stage.status}: {stage.reason}")
    return lines


def render(shown: list[Shown]) -> str:
    """Every statement in the order the run sends it, one line each (sent to the target, or
    not sent and recorded); each statement's text where a stage first sends it; per stage and in
    all, how many were sent and how many recorded."""
    lines = [
        "-- susdb-maint plan --show-sql: what `susdb-maint run` sends, from the run path itself.",
        '-- "sent": a read, run on the target now. "not sent": it changes something; recorded',
        "-- with its parameters, and answered as its sql/ file declares (-- dry run:), so the run",
        "-- went on as if it had worked. No lock was taken and the state directory is unchanged.",
        "-- A statement not sent takes no time: the window and stage budgets do not cut this list,",
        "-- which is all the work; a run starts no batch once its window has closed. What a change",
        "-- makes the server find later on its own (old revisions a decline frees, indexes that",
        "-- deletions fragment, prerequisites a deletion frees) is not foreseen here, and ages",
        "-- are judged now: a run that reaches a stage hours later finds what is old enough then.",
    ]
    totals: Counter[tuple[str, bool]] = Counter()
    for one in shown:
        lines += _render_one(one, totals)
    sent = sum(count for (_, was_sent), count in totals.items() if was_sent)
    recorded = sum(count for (_, was_sent), count in totals.items() if not was_sent)
    lines.append(
        f"-- ===== in all: sent {sent}, not sent {recorded}{_by_name(totals, False)} ====="
    )
    return "\n".join(lines) + "\n"


def _render_one(one: Shown, totals: Counter[tuple[str, bool]]) -> list[str]:
    report = one.report
    where = f"target {one.plan.endpoint.name}"
    if report.database:
        where += f" ({report.database})"
    phase = f", {one.phase} phase of --all" if one.phase else ""
    lines = [f"-- ===== {where}, profile {one.plan.profile}{phase} ====="]
    results = list(report.stages)
    pending = list(one.stages)

    def no_sql(name: str) -> list[str]:
        """A planned stage that sent nothing, in its place: why."""
        if name in one.external:
            return [
                f"-- ===== stage: {name}: no SQL (it acts on the WSUS host; not run here) ====="
            ]
        result = next((result for result in results if result.stage == name), None)
        if result is None:
            return []  # not reached: the run stopped before it
        results.remove(result)
        reason = f" ({result.reason})" if result.reason else ""
        return [f"-- ===== stage: {name}: {result.status}{reason}; no SQL ====="]

    def passed_over(until: str | None) -> list[str]:
        skipped: list[str] = []
        while pending:
            name = pending.pop(0)
            if name == until:
                break
            skipped += no_sql(name)
        return skipped

    stages_seen = False
    for stage, entries in _segments(one.entries):
        if stage != "run" or stages_seen:
            # The run's own statements after the stages (the KPIs after) come after every stage.
            lines += passed_over(stage if stage != "run" else None)
        stages_seen = stages_seen or stage != "run"
        lines.append(f"-- ===== {'the run itself' if stage == 'run' else f'stage: {stage}'} =====")
        shown_text: set[str] = set()
        counts: Counter[tuple[str, bool]] = Counter()
        for entry in entries:
            verb = "sent" if entry.sent else "not sent"
            lines.append(f"-- {verb}: {send_text(entry.name, entry.params)}")
            if entry.name not in shown_text:
                shown_text.add(entry.name)
                lines += _text_of(entry.name)
            counts[(entry.name, entry.sent)] += 1
        totals.update(counts)
        result = next((result for result in results if result.stage == stage), None)
        outcome = ""
        if result is not None:
            results.remove(result)
            outcome = f"{result.status}{f' ({result.reason})' if result.reason else ''}; "
        lines.append(
            f"-- {'the run itself' if stage == 'run' else f'stage {stage}'}: {outcome}"
            f"sent {_total(counts, True)}{_by_name(counts, True)}, "
            f"not sent {_total(counts, False)}{_by_name(counts, False)}"
        )
    lines += passed_over(None)
    if report.error:
        lines.append(f"-- stopped: {report.error}")
    return lines


def _segments(entries: list[Entry]) -> list[tuple[str, list[Entry]]]:
    """The entries cut where the stage changes (a stage may run twice: reindex)."""
    segments: list[tuple[str, list[Entry]]] = []
    for entry in entries:
        stage = entry.stage or "run"
        if not segments or segments[-1][0] != stage:
            segments.append((stage, []))
        segments[-1][1].append(entry)
    return segments


def _total(counts: Counter[tuple[str, bool]], sent: bool) -> int:
    return sum(count for (_, was_sent), count in counts.items() if was_sent is sent)


def _by_name(counts: Counter[tuple[str, bool]], sent: bool) -> str:
    named = [(name, count) for (name, was_sent), count in counts.items() if was_sent is sent]
    if not named:
        return ""
    return " (" + ", ".join(f"{name} {count}" for name, count in named) + ")"


def _text_of(name: str) -> list[str]:
    lines = []
    for batch in statement(name).batches:
        lines.append(batch.text)
        lines.append("GO" if batch.repeat == 1 else f"GO {batch.repeat}")
    return lines


def send_text(name: str, params: Any) -> str:
    """One send as a line shows it: the statement's name and its parameters, bound by name."""
    spec = statement(name)
    bound = ", ".join(
        f"@{param} = {sql_literal(value)}"
        for (param, _), value in zip(spec.params, params, strict=False)
    )
    return f"{name} {bound}" if bound else name


def sql_literal(value: Any) -> str:
    """A parameter's value as T-SQL writes it, on one line; a long text cut (with its length)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return f"'{value.isoformat(sep=' ')}'"
    text = str(value)
    shown = " ".join(text.split())
    if len(shown) > LONG_VALUE:
        shown = f"{shown[:LONG_VALUE]}... ({len(text)} characters)"
    return "N'" + shown.replace("'", "''") + "'"


# -- offline ------------------------------------------------------------------------------------
def record_offline(settings: Settings, make_plan: Any) -> Recorded:
    """Run ``make_plan(settings, target)`` against a throwaway simulated SUSDB; return every
    statement sent, as (stage, statement name, parameters)."""
    from jobs.simulator import create
    from jobs.simulator.catalog import preset_profile

    with tempfile.TemporaryDirectory(prefix="susdb-maint-show-sql-") as directory:
        root = Path(directory)
        sim = root / "throwaway.sqlite3"
        create(sim, preset_profile("neglected", updates=600, seed=7, backup_age_hours=1.0))
        targets = {THROWAWAY: SimulatorTarget(kind="simulator", path=str(sim))}
        # Backups of the throwaway go to a throwaway folder: never the administrator's.
        backup = settings.backup.model_copy(update={"directory": str(root / "backups")})
        (root / "backups").mkdir()
        throwaway = settings.model_copy(
            update={"targets": targets, "default_target": THROWAWAY, "backup": backup}
        )
        plan, external = _unbounded(make_plan(throwaway, THROWAWAY))
        recorded: Recorded = []
        token = RECORDING.set(recorded)
        with _quiet():
            try:
                execute_plan(plan, root / "state")
            finally:
                RECORDING.reset(token)
    return recorded + [(name, EXTERNAL, []) for name in external]


def render_offline(recorded: Recorded) -> str:
    """Each stage's statements once, in the order first sent, with the parameters of that first
    send (an item's ID is the throwaway's: an example); no counts."""
    lines: list[str] = [
        "-- susdb-maint plan --show-sql --offline: rendered without a database, not your server: "
        "the run path against a throwaway simulated SUSDB; item IDs in the parameters are "
        "examples, and nothing is counted.",
    ]
    sections: dict[str, dict[str, list[list[Any]]]] = {}
    for stage, name, params in recorded:
        sections.setdefault(stage or "run", {}).setdefault(name, []).append(params)
    for stage, sent in sections.items():
        lines.append(f"-- ===== {'the run itself' if stage == 'run' else f'stage: {stage}'} =====")
        for name, sends in sent.items():
            if name == EXTERNAL:
                lines.append("-- (no SQL: this stage acts on the WSUS host itself)")
                continue
            bound = send_text(name, sends[0])[len(name) :].strip()
            repeat = " (sent for each item or batch)" if len(sends) > 1 else ""
            lines.append(f"-- {name}{repeat}; parameters: {bound or 'none'}")
            lines += _text_of(name)
    return "\n".join(lines) + "\n"
