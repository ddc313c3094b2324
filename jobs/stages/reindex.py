"""Index maintenance: Microsoft's WSUS policy by default, one decision per index, most benefit
first, one ALTER INDEX per call, resumable through the work queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs import events
from jobs.runner import queue, work
from jobs.runner.context import RunContext, StageOutcome
from jobs.settings.model import ReindexSettings
from jobs.stages.registry import stage
from jobs.susdb import IndexStats

log = events.get_logger("susdb_maint.stages.reindex")


@dataclass(frozen=True)
class Decision:
    action: str  # "reorganize" | "rebuild"
    fill_factor: int | None
    benefit: float


def decide(stats: IndexStats, settings: ReindexSettings) -> Decision | None:
    """Given one index's leaf-level stats, return what to do with it, or None to leave it."""
    pages, fragmentation, density = stats.page_count, stats.fragmentation, stats.page_density
    fill_factor_set = stats.fill_factor not in (0, 100)
    benefit = pages * max(fragmentation, 100.0 - density) / 100.0
    if settings.mode == "bands":
        if pages < settings.min_pages or fragmentation <= settings.reorganize_above_percent:
            return None
        if fragmentation <= settings.rebuild_above_percent:
            return Decision("reorganize", None, benefit)
        return Decision("rebuild", None, benefit)
    # Microsoft's "Reindex the WSUS database" thresholds.
    low_density = density < 85.0 and density / 100.0 * pages < pages - 1
    fragmented = (pages > 50 and fragmentation > 15.0) or (pages > 10 and fragmentation > 80.0)
    if not (low_density or fragmented):
        return None
    if fragmentation < settings.rebuild_above_percent or (
        75.0 <= density <= 85.0 and fill_factor_set
    ):
        return Decision("reorganize", None, benefit)
    if stats.record_count >= 5000 and not fill_factor_set:
        return Decision("rebuild", settings.fill_factor, benefit)
    return Decision("rebuild", None, benefit)


def fragmented(
    stats: list[IndexStats], settings: ReindexSettings
) -> list[tuple[IndexStats, Decision]]:
    decisions = [(entry, decide(entry, settings)) for entry in stats]
    chosen = [(entry, decision) for entry, decision in decisions if decision is not None]
    return sorted(chosen, key=lambda pair: pair[1].benefit, reverse=True)


@stage(
    name="reindex",
    order=20,
    destructive=False,
    needs_preflight=True,
    phase="cleanup",
    settings="reindex",
)
def run(ctx: RunContext) -> StageOutcome:
    settings = ctx.settings.stages.reindex
    server = ctx.facts.get("server") or ctx.susdb.server_info()
    online = settings.online and server.online_rebuild_allowed
    pages_before: dict[str, int] = {}

    def candidates() -> Any:
        for entry, decision in fragmented(ctx.susdb.index_stats(timeout=0), settings):
            key = f"{entry.table}.{entry.index}"
            pages_before[key] = entry.page_count
            yield (
                key,
                {
                    "table": entry.table,
                    "index": entry.index,
                    "action": decision.action,
                    "fill_factor": decision.fill_factor,
                    "pages": entry.page_count,
                    "fragmentation": entry.fragmentation,
                    "density": entry.page_density,
                },
            )

    def process(payload: dict[str, Any]) -> queue.Settled:
        timeout = settings.statement_timeout_seconds
        log.info(
            "index." + payload["action"],
            table=payload["table"],
            index=payload["index"],
            fragmentation=payload["fragmentation"],
            density=payload["density"],
            pages=payload["pages"],
        )
        if payload["action"] == "reorganize":
            ctx.susdb.reorganize_index(payload["table"], payload["index"], timeout=timeout)
        else:
            ctx.susdb.rebuild_index(
                payload["table"],
                payload["index"],
                online=online,
                fill_factor=payload["fill_factor"],
                maxdop=settings.maxdop,
                timeout=timeout,
            )
        return queue.DONE

    outcome = work.process_queue(
        ctx, queue.QueueWork("reindex", candidates, process, per_item_seconds_guess=30.0)
    )
    if not ctx.dry_run and outcome.done:
        after = {
            f"{entry.table}.{entry.index}": entry.page_count
            for entry in ctx.susdb.index_stats(timeout=0)
        }
        touched = [key for key in pages_before if key in after]
        outcome.detail["pages_before"] = sum(pages_before[key] for key in touched)
        outcome.detail["pages_after"] = sum(after[key] for key in touched)
    outcome.detail["online"] = online
    return outcome
