"""Obsolete updates: WSUS's own candidate list once per queue, then spDeleteUpdate per update."""

from __future__ import annotations

from collections.abc import Iterator

from jobs.errors import DatabaseError
from jobs.runner import queue, work
from jobs.runner.context import RunContext, StageOutcome
from jobs.susdb import LocalUpdate


# Declared, with its settings and the rights it needs, in jobs/stages/declared/obsolete_updates.py.
def run(ctx: RunContext) -> StageOutcome:
    settings = ctx.settings.stages.obsolete_updates

    def candidates() -> Iterator[tuple[str, LocalUpdate]]:
        for local_id in ctx.susdb.obsolete_update_ids(timeout=settings.candidate_timeout_seconds):
            yield str(local_id), LocalUpdate(local_id)

    def process(update: LocalUpdate) -> queue.Settled:
        sent, present = ctx.susdb.delete_update(
            update.local_update_id, timeout=settings.statement_timeout_seconds
        )
        if not sent:  # deleted already (the server checked first): nothing was sent
            return queue.GONE
        if present:
            raise DatabaseError(
                f"spDeleteUpdate returned, but update {update.local_update_id} is still there"
            )
        return queue.DONE

    def verify(update: LocalUpdate) -> queue.Settled | None:
        # spDeleteUpdate deletes the update: gone is what done looks like.
        return None if ctx.susdb.update_exists(update.local_update_id) else queue.DONE

    fixed = bool(ctx.facts.delete_fix)  # unknown: assume the slow procedure
    return work.process_queue(
        ctx,
        queue.QueueWork(
            "obsolete_updates",
            LocalUpdate,
            candidates,
            process,
            per_item_seconds_guess=1.0 if fixed else 30.0,
            verify=verify,
            repeat_until_empty=True,
            # Microsoft's change makes each call some 30 times faster: the nights before it must
            # not slow the estimates (and batch sizes) after it, nor the other way round.
            timed_as="obsolete_updates:delete_fix" if fixed else None,
        ),
    )
