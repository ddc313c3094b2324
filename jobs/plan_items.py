"""What `plan --items` prints: one line per item a run would work on, so an administrator can
review a preset's hits (or any decline) before a night sends them.

The lines are tab-separated with fixed columns (README, "plan --items"): ``stage``, ``id`` and
``status`` first, as they always were, so scripts that cut them keep working; then ``kb``,
``title``, ``reason`` and ``products``. A column an item has nothing for is empty, never left
out. The obsolete-update and compression queues know an update by its LocalUpdateID only: its KB
and title are read from the catalog, where it has them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs import events
from jobs.db.connection import Endpoint
from jobs.db.executor import Executor
from jobs.errors import DatabaseError
from jobs.runner.run import clock_for
from jobs.stages.decline import Decline
from jobs.state.store import StateStore
from jobs.susdb import Susdb, UpdateTitle

log = events.get_logger("susdb_maint.plan_items")
COLUMNS = ("stage", "id", "status", "kb", "title", "reason", "products")
DECLINE_FIELDS = frozenset(field.name for field in dataclasses.fields(Decline))
# Queues whose item is an update by LocalUpdateID, and why an update is in each.
BY_LOCAL_ID = {
    "obsolete_updates": "obsolete: WSUS's spGetObsoleteUpdatesToCleanup lists it",
    "compress": "older revisions to remove: WSUS's spGetUpdatesToCompress lists it",
}


@dataclass(frozen=True)
class Item:
    stage: str
    key: str
    status: str  # a queue's (pending, in_flight, failed) or "planned"
    payload: dict[str, Any]


def items(
    state_dir: Path,
    target: str,
    stages: Iterable[str],
    run_id: str,
    queued_statuses: tuple[str, ...],
) -> list[Item]:
    """The queues the next run resumes, then what the plan ``run_id`` would queue (kept apart)."""
    chosen = set(stages)
    store = StateStore(state_dir)
    try:
        queued = store.queue_items(target, None, queued_statuses)
        planned = store.planned_items(run_id)
    finally:
        store.close()
    found = [_item(row, row["status"]) for row in queued if row["stage"] in chosen]
    return found + [_item(row, "planned") for row in planned]


def _item(row: Mapping[str, Any], status: str) -> Item:
    return Item(row["stage"], row["item_key"], status, json.loads(row["payload_json"] or "{}"))


def titles_from(endpoint: Endpoint, found: list[Item]) -> dict[int, UpdateTitle]:
    """The KB and title of each update the obsolete-update and compression items name, read from
    the target; none (the lines still list each item) when the target cannot be read now."""
    wanted = [int(item.key) for item in found if item.stage in BY_LOCAL_ID]
    if not wanted:
        return {}
    try:
        executor = Executor(endpoint, clock=clock_for(endpoint))
        try:
            return Susdb(executor).update_titles(wanted)
        finally:
            executor.close()
    except DatabaseError as error:
        log.warning("plan.items_untitled", error=str(error), items=len(wanted))
        return {}


def lines(found: Iterable[Item], titles: Mapping[int, UpdateTitle]) -> Iterator[str]:
    for item in found:
        columns = (item.stage, item.key, item.status, *described(item, titles))
        yield "\t".join(_one_line(str(column)) for column in columns)


def described(item: Item, titles: Mapping[int, UpdateTitle]) -> tuple[str, str, str, str]:
    """An item's kb, title, reason and products (each "" when it has none)."""
    payload = item.payload
    if item.stage == "decline":
        decline = Decline(**{key: payload[key] for key in DECLINE_FIELDS if key in payload})
        return decline.kb or "", decline.title, decline.because(), "; ".join(decline.products)
    if item.stage in BY_LOCAL_ID:
        title = titles.get(int(item.key)) or UpdateTitle(None, "")
        return title.kb or "", title.title, BY_LOCAL_ID[item.stage], ""
    if item.stage == "reindex":
        fragmentation, pages = payload.get("fragmentation") or 0, payload.get("pages") or 0
        return (
            "",
            "",
            f"{payload.get('action')}: {fragmentation:.0f}% fragmented, {pages:,} pages",
            "",
        )
    return "", "", "", ""


def _one_line(text: str) -> str:
    """A title with a tab or a line break would break the columns: each becomes a space."""
    return " ".join(text.replace("\t", " ").splitlines())
