"""Revision compression: spGetUpdatesToCompress once per queue, then spCompressUpdate per update."""

from __future__ import annotations

from collections.abc import Iterator

from jobs.runner import queue, work
from jobs.runner.context import RunContext, StageOutcome
from jobs.susdb import LocalUpdate


# Declared, with its settings and the rights it needs, in jobs/stages/declared/compress.py.
def run(ctx: RunContext) -> StageOutcome:
    settings = ctx.settings.stages.compress

    def candidates() -> Iterator[tuple[str, LocalUpdate]]:
        for local_id in ctx.susdb.updates_to_compress(timeout=0):
            yield str(local_id), LocalUpdate(local_id)

    def process(update: LocalUpdate) -> queue.Settled:
        sent = ctx.susdb.compress_update(
            update.local_update_id, timeout=settings.statement_timeout_seconds
        )
        # Not sent: the server checked first and found no obsolete revision left to remove.
        return queue.DONE if sent else queue.Settled("skipped", "nothing_to_compress")

    def verify(update: LocalUpdate) -> queue.Settled | None:
        # Settled when no unreferenced older revision is left.
        return queue.DONE if ctx.susdb.old_revisions(update.local_update_id) == 0 else None

    return work.process_queue(
        ctx,
        queue.QueueWork(
            "compress",
            LocalUpdate,
            candidates,
            process,
            per_item_seconds_guess=0.5,
            verify=verify,
            repeat_until_empty=True,
            taken_by="obsolete_updates",  # a deleted update has no revisions left to compress
        ),
    )
