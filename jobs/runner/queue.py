"""A stage's work queue: what a stage gives the engine, and how a queue is (re)built.

A stage gives a ``QueueWork``: the type of its items' payload (a dataclass, stored as JSON),
``candidates()`` (the expensive, set-based query, run once per queue) yielding ``(key,
payload)``; ``process(payload)`` (one item, one call) returning how it ended;
``verify(payload)`` (what the server holds for it); and an optional ``audit`` hook: the row the
stage keeps about an item done (an ``AuditRow``, written in the item's checkpoint; what it says
is the stage's business, never the engine's). A queue is rebuilt when it is older than
``runner.queue_max_age_hours`` or has no work left: what a killed run left in flight is settled
first, the candidate query is spooled outside the state store's write lock, and it is started
only if it fits the time left.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from jobs import events
from jobs.runner.context import RunContext, StageOutcome
from jobs.state.store import ACTIVE, AuditRow, Completion, WorkItem, spool_owner

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

log = events.get_logger("susdb_maint.runner")
P = TypeVar("P", bound="DataclassInstance")


@dataclass(frozen=True)
class Settled:
    """How one item ended: ``done``, ``skipped`` (with a reason) or ``gone`` (nothing left).
    ``done_by``: for work found done on the server, who the server says did it (a run ID, or
    whoever else), where the stage can tell; None when it cannot."""

    status: str
    reason: str | None = None
    done_by: str | None = None


DONE = Settled("done")
GONE = Settled("gone")


def fields_of(payload: Any) -> dict[str, Any]:
    """A payload's fields, one level deep: what is stored as JSON. ``dataclasses.asdict`` copies
    every list and value recursively, about 40 us a payload on a 48,000-candidate queue build."""
    return {field.name: getattr(payload, field.name) for field in dataclasses.fields(payload)}


@dataclass
class QueueWork(Generic[P]):
    stage: str
    payload_type: type[P]  # what one item carries: a dataclass
    candidates: Callable[[], Iterable[tuple[str, P]]]
    process: Callable[[P], Settled]
    per_item_seconds_guess: float
    verify: Callable[[P], Settled | None] | None = None  # None: not done on the server
    # What the stage keeps about an item done: (payload, run that sent it) -> its audit row.
    audit: Callable[[P, str], AuditRow | None] | None = None
    limit: int | None = None  # items per run
    repeat_until_empty: bool = False
    # The name its past per-item times are kept under (None: the stage's): one stage whose calls
    # cost another order of magnitude under a condition keeps each condition's times apart.
    timed_as: str | None = None
    # A stage that runs first in a run and takes some of these items away (compress: updates
    # obsolete_updates deletes). A plan leaves out what that stage's plan holds.
    taken_by: str | None = None

    @property
    def timings(self) -> str:
        return self.timed_as or self.stage

    def payload_of(self, item: WorkItem) -> P:
        """An item's stored payload as the stage's type; a field an older version stored and
        this one does not know is left out (the type's defaults cover fields added since)."""
        known = _field_names(self.payload_type)
        return self.payload_type(
            **{key: value for key, value in item.payload.items() if key in known}
        )


@functools.cache
def _field_names(payload_type: type[Any]) -> frozenset[str]:
    return frozenset(field.name for field in dataclasses.fields(payload_type))


class QueueDeferred(Exception):
    """The candidate query would not finish before the window closes: not started."""


# -- building a queue ----------------------------------------------------------------------------
def ensure_queue(ctx: RunContext, work: QueueWork[Any], outcome: StageOutcome) -> dict[str, int]:
    """Run the candidate query unless the stage's queue is fresh and has work left; return the
    queue's counts. What a killed run left in flight is settled first, into ``outcome`` (this
    run confirmed it: its history lists it). Raise QueueDeferred when the query would not fit
    the time left, Interrupted when the window closes (or a stop is asked for) while it runs."""
    store, database = ctx.store, ctx.database
    counts = store.queue_counts(database, work.stage)
    active = sum(counts.get(status, 0) for status in ACTIVE)
    info = store.queue_info(database, work.stage)
    age = info["age_hours"] if info else None
    fresh = age is not None and age < ctx.settings.runner.queue_max_age_hours
    if active and (fresh or ctx.dry_run):
        # A plan never rebuilds a queue that holds work: that is the next real run's job.
        log.info("queue.resume", pending=active, age_hours=round(age or 0, 2), stale=not fresh)
        ctx.worked.add(work.stage)
        return counts
    if not ctx.dry_run:
        settle_in_flight(ctx, work, outcome)
    else:
        # A plan never creates or changes a queue the next run executes (a setting tried in a
        # plan must not change anything the night after): its candidates are kept apart.
        return {"pending": _plan(ctx, work)}
    expected = info["build_seconds"] if info else None
    left = ctx.seconds_left()
    if expected and left is not None and expected > left:
        log.warning(
            "queue.deferred",
            expected_seconds=round(expected, 1),
            seconds_left=round(left, 1),
            reason="the candidate query would not finish before the window closes",
        )
        raise QueueDeferred(f"the candidate query takes about {expected:.0f} s; {left:.0f} s left")
    started = time.monotonic()
    server_started = ctx.clock.monotonic()

    owner = spool_owner("run", database)
    # Under the target lock no other run spools for this database: what is there is a killed
    # run's (a kill during a long candidate query), never to be swapped in.
    abandoned = store.discard_abandoned_spools(owner)
    if abandoned:
        log.info("queue.spool_discarded", rows=abandoned)

    def build() -> int:
        build_id, rows = store.spool(
            ((key, fields_of(payload)) for key, payload in work.candidates()), owner
        )
        log.debug("queue.spooled", rows=rows)
        return store.swap_in(
            database,
            work.stage,
            build_id,
            target=ctx.target,
            run_id=ctx.run_id,
            build_seconds=ctx.clock.monotonic() - server_started,
        )

    total = ctx.susdb.executor.retry_policy()(build)
    log.info(
        "queue.build",
        items=total,
        seconds=round(time.monotonic() - started, 3),
        server_seconds=round(ctx.clock.monotonic() - server_started, 3),
    )
    return store.queue_counts(database, work.stage)


def _plan(ctx: RunContext, work: QueueWork[Any]) -> int:
    """Run the candidate query for a plan and keep its rows as the latest plan; return how many."""

    owner = spool_owner("plan", ctx.database)
    # A plan takes no lock: only a day-old plan build is surely abandoned.
    abandoned = ctx.store.discard_abandoned_spools(owner, older_than_seconds=86_400)
    if abandoned:
        log.info("queue.spool_discarded", rows=abandoned)

    # What a stage before it in this run takes away is not this stage's to do (the run's own
    # candidate query, made after that stage, no longer finds it).
    taken_by = work.taken_by if work.taken_by in ctx.worked else None

    def build() -> int:
        build_id, _ = ctx.store.spool(
            ((key, fields_of(payload)) for key, payload in work.candidates()), owner
        )
        return ctx.store.keep_plan(
            ctx.run_id, work.stage, build_id, taken_by=taken_by, database=ctx.database
        )

    planned = ctx.susdb.executor.retry_policy()(build)
    ctx.planned.add(work.stage)
    ctx.worked.add(work.stage)
    log.info("queue.planned", items=planned)
    return planned


def settle_in_flight(ctx: RunContext, work: QueueWork[Any], outcome: StageOutcome) -> None:
    """Before a rebuild replaces the queue, settle what a killed run left in flight, so its real
    effects reach the history and nothing it sent is forgotten. This run confirms them: they are
    its work, counted in ``outcome`` and listed in its history (the run that sent them recorded
    only what its checkpoints confirmed)."""
    items = ctx.store.in_flight(ctx.database, work.stage)
    if not items:
        return
    completions: list[Completion] = []
    audit: list[AuditRow] = []
    unsettled: list[str] = []
    for item in items:
        payload = work.payload_of(item)
        settled = ctx.susdb.executor.retry_policy()(work.verify, payload) if work.verify else None
        if settled is None:
            unsettled.append(item.key)
            continue
        log.info("item.settled", item=item.key, status=settled.status, reason="before a rebuild")
        settled, row = confirmed(ctx, work, payload, settled)
        completions.append(Completion(item.key, settled.status, settled.reason))
        if row is not None:
            audit.append(row)
        outcome.done += settled.status == "done"
        outcome.skipped += settled.status != "done"
    ctx.store.complete(ctx.database, work.stage, ctx.run_id, completions, audit, ctx.target)
    ctx.store.release(ctx.database, work.stage, unsettled)


def confirmed(
    ctx: RunContext, work: QueueWork[Any], payload: Any, settled: Settled
) -> tuple[Settled, AuditRow | None]:
    """An item found on the server: how it ends for this run, and its audit row. Work found done
    is this run's (it confirmed it; each run's history lists what it counts), unless the server
    names someone who is no run of this state store (another host's run, an administrator):
    that is this run's skip, in no history here."""
    if settled.status != "done":
        return settled, None
    by = settled.done_by
    if by is not None and by != ctx.run_id:
        found = ctx.store.run(by)
        if found is None or found["run_id"] != by:
            return Settled("skipped", f"done by {by}"), None
    row = work.audit(payload, ctx.run_id) if work.audit is not None else None
    return settled, row
