"""Index maintenance: Microsoft's WSUS policy by default, one decision per index, most benefit
first, one ALTER INDEX per call, resumable through the work queue.

It works on every edition. Rebuilds are offline, as in Microsoft's script, unless ``online`` is
set, the edition allows it (Enterprise, Developer) and the server is not WID. An index that
cannot be rebuilt online (error 2725: a clustered index of a table with text, ntext or image
columns; 1712: the edition refuses) is rebuilt offline instead. REORGANIZE needs page locks: an
index with ALLOW_PAGE_LOCKS = OFF (error 2552) is rebuilt instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from jobs import events
from jobs.errors import DatabaseError
from jobs.runner import queue, work
from jobs.runner.context import RunContext, StageOutcome
from jobs.stages.declared.reindex import ReindexSettings
from jobs.susdb import IndexStats

log = events.get_logger("susdb_maint.stages.reindex")
# "Online index operations can only be performed in Enterprise edition" (1712); "An online
# operation cannot be performed for index ... because the index contains column ... of data type
# text, ntext, image" (2725).
ONLINE_REFUSED = frozenset({1712, 2725})
# "... cannot be reorganized because page level locking is disabled."
PAGE_LOCKS_DISABLED = 2552
# Stages whose deletes fragment the indexes a later reindex pass finds.
DELETING = frozenset({"obsolete_updates", "compress"})


@dataclass(frozen=True)
class IndexWork:
    """One index to maintain: the reindex queue's item."""

    table: str
    index: str
    action: str  # "reorganize" | "rebuild"
    fill_factor: int | None = None
    pages: int = 0
    fragmentation: float = 0.0
    density: float | None = None  # None from a LIMITED scan


@dataclass(frozen=True)
class Decision:
    action: str  # "reorganize" | "rebuild"
    fill_factor: int | None
    benefit: float


def decide(stats: IndexStats, settings: ReindexSettings) -> Decision | None:
    """Given one index's leaf-level stats, return what to do with it, or None to leave it.

    Without a page density (a LIMITED scan) only the fragmentation thresholds apply."""
    pages, fragmentation, density = stats.page_count, stats.fragmentation, stats.page_density
    # Microsoft's script: CASE fill_factor WHEN 0 THEN 0 ELSE 1 END (100 counts as set).
    fill_factor_set = stats.fill_factor != 0
    benefit = (
        pages * max(fragmentation, 100.0 - (density if density is not None else 100.0)) / 100.0
    )
    decision = _policy(stats, settings, fill_factor_set, benefit)
    if decision is not None and decision.action == "reorganize" and not stats.allow_page_locks:
        # REORGANIZE needs page locks (error 2552): a rebuild is the only way to defragment it.
        return Decision("rebuild", None, benefit)
    return decision


def _policy(
    stats: IndexStats, settings: ReindexSettings, fill_factor_set: bool, benefit: float
) -> Decision | None:
    pages, fragmentation, density = stats.page_count, stats.fragmentation, stats.page_density
    if settings.mode == "bands":
        if pages < settings.min_pages or fragmentation <= settings.reorganize_above_percent:
            return None
        if fragmentation <= settings.rebuild_above_percent:
            return Decision("reorganize", None, benefit)
        return Decision("rebuild", None, benefit)
    # Microsoft's "Reindex the WSUS database" thresholds.
    low_density = density is not None and density < 85.0 and density / 100.0 * pages < pages - 1
    fragmented = (pages > 50 and fragmentation > 15.0) or (pages > 10 and fragmentation > 80.0)
    if not (low_density or fragmented):
        return None
    if fragmentation < settings.rebuild_above_percent or (
        density is not None and 75.0 <= density <= 85.0 and fill_factor_set
    ):
        return Decision("reorganize", None, benefit)
    if (stats.record_count or 0) >= 5000 and not fill_factor_set:
        return Decision("rebuild", settings.fill_factor, benefit)
    return Decision("rebuild", None, benefit)


def fragmented(
    stats: list[IndexStats], settings: ReindexSettings
) -> list[tuple[IndexStats, Decision]]:
    decisions = [(entry, decide(entry, settings)) for entry in stats]
    chosen = [(entry, decision) for entry, decision in decisions if decision is not None]
    return sorted(chosen, key=lambda pair: pair[1].benefit, reverse=True)


# Declared, with its settings and the rights it needs, in jobs/stages/declared/reindex.py.
def run(ctx: RunContext) -> StageOutcome:
    settings = ctx.settings.stages.reindex
    server = ctx.facts.server or ctx.susdb.server_info()
    # Never ONLINE on WID, whatever edition it reports (what it reports is not public).
    online = settings.online and server.online_rebuild_allowed and not server.is_wid
    pages_before: dict[str, int] = {}

    def candidates() -> Iterator[tuple[str, IndexWork]]:
        for entry, decision in fragmented(
            ctx.susdb.index_stats(mode="SAMPLED", timeout=0), settings
        ):
            key = f"{entry.table}.{entry.index}"
            pages_before[key] = entry.page_count
            yield (
                key,
                IndexWork(
                    entry.table,
                    entry.index,
                    decision.action,
                    decision.fill_factor,
                    entry.page_count,
                    entry.fragmentation,
                    entry.page_density,
                ),
            )

    timeout = settings.statement_timeout_seconds

    def rebuild(table: str, index: str, fill_factor: int | None) -> None:
        options = {"fill_factor": fill_factor, "maxdop": settings.maxdop}
        if online:
            try:
                ctx.susdb.rebuild_index(table, index, online=True, timeout=timeout, **options)
                return
            except DatabaseError as error:
                if error.native not in ONLINE_REFUSED:
                    raise
                log.info(
                    "index.online_refused", table=table, index=index, native_error=error.native
                )
        ctx.susdb.rebuild_index(table, index, online=False, timeout=timeout, **options)

    def process(item: IndexWork) -> queue.Settled:
        log.info(
            "index." + item.action,
            table=item.table,
            index=item.index,
            fragmentation=item.fragmentation,
            density=item.density,
            pages=item.pages,
        )
        if item.action != "reorganize":
            rebuild(item.table, item.index, item.fill_factor)
            return queue.DONE
        try:
            ctx.susdb.reorganize_index(item.table, item.index, timeout=timeout)
        except DatabaseError as error:
            if error.native != PAGE_LOCKS_DISABLED:
                raise
            log.info("index.page_locks_disabled", table=item.table, index=item.index)
            rebuild(item.table, item.index, None)
        return queue.DONE

    outcome = work.process_queue(
        ctx, queue.QueueWork("reindex", IndexWork, candidates, process, per_item_seconds_guess=30.0)
    )
    if not ctx.dry_run and outcome.done:
        # Page counts need no leaf-level read: a LIMITED scan has them.
        after = {
            f"{entry.table}.{entry.index}": entry.page_count
            for entry in ctx.susdb.index_stats(mode="LIMITED", timeout=0)
        }
        touched = [key for key in pages_before if key in after]
        outcome.detail["pages_before"] = sum(pages_before[key] for key in touched)
        outcome.detail["pages_after"] = sum(after[key] for key in touched)
    if ctx.dry_run and ctx.worked & DELETING:
        # It measures the indexes when it runs: a plan cannot count what the deletes before it
        # fragment (on a neglected server, most of what this pass then rebuilds).
        outcome.reason = "after the cleanup: it also finds the indexes the deletes fragment"
    outcome.detail["online"] = online
    return outcome
