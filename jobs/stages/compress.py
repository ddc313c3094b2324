"""Revision compression: spGetUpdatesToCompress once per queue, then spCompressUpdate per update."""

from __future__ import annotations

from typing import Any

from jobs.runner import queue, work
from jobs.runner.context import RunContext, StageOutcome
from jobs.stages.registry import stage


@stage(
    name="compress",
    order=50,
    destructive=True,
    needs_preflight=True,
    phase="cleanup",
    settings="compress",
)
def run(ctx: RunContext) -> StageOutcome:
    settings = ctx.settings.stages.compress

    def candidates() -> Any:
        for local_id in ctx.susdb.updates_to_compress(timeout=0):
            yield str(local_id), {"local_update_id": local_id}

    def process(payload: dict[str, Any]) -> queue.Settled:
        ctx.susdb.compress_update(
            payload["local_update_id"], timeout=settings.statement_timeout_seconds
        )
        return queue.DONE

    def verify(payload: dict[str, Any]) -> queue.Settled | None:
        # Settled when no unreferenced older revision is left.
        return queue.DONE if ctx.susdb.old_revisions(payload["local_update_id"]) == 0 else None

    return work.process_queue(
        ctx,
        queue.QueueWork(
            "compress",
            candidates,
            process,
            per_item_seconds_guess=0.5,
            verify=verify,
            repeat_until_empty=True,
        ),
    )
