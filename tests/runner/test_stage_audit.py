"""A stage's audit hook through the queue engine: the engine carries rows it knows nothing about
(here a stage's own table, not the decline history), and each row is kept exactly once, in the
same commit as the checkpoint that settles its item."""

from __future__ import annotations

import ast
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from jobs.clock import VirtualClock
from jobs.db.retry import RetryPolicy
from jobs.errors import ConnectionLost, StateError
from jobs.runner import queue, work
from jobs.runner.context import Facts, RunContext
from jobs.settings.model import Settings
from jobs.state.store import StateStore

ROOT = Path(__file__).resolve().parents[2]
FIRST, SECOND = "20260101T000000Z-first1", "20260102T000000Z-secnd2"


@dataclass(frozen=True)
class Item:
    key: str


@dataclass(frozen=True)
class Noted:
    """The stage's own audit row, in a table of its own: neither the engine nor the store knows
    what it is, only that it keeps itself."""

    run_id: str
    key: str

    def keep(self, db: sqlite3.Connection, target: str, stamp: str) -> None:
        db.execute("INSERT INTO noted VALUES (?, ?, ?)", (self.run_id, self.key, target))


class Server:
    """Carries out every item it is sent; loses the reply of the keys in ``lost_replies``."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self.done: set[str] = set()
        self.sent: list[str] = []
        self.lost_replies: set[str] = set()

    def candidates(self) -> Any:
        return ((key, Item(key)) for key in self.keys if key not in self.done)

    def process(self, item: Item) -> queue.Settled:
        self.sent.append(item.key)
        self.done.add(item.key)
        if item.key in self.lost_replies:
            raise ConnectionLost("reply lost after the commit", native=10054)
        return queue.DONE

    def verify(self, item: Item) -> queue.Settled | None:
        return queue.DONE if item.key in self.done else None


def stage_queue(server: Server) -> queue.QueueWork[Item]:
    return queue.QueueWork(
        "noting",
        Item,
        server.candidates,
        server.process,
        per_item_seconds_guess=0.1,
        verify=server.verify,
        audit=lambda item, sent_by: Noted(sent_by, item.key),
    )


def context(store: StateStore, run_id: str, **runner: Any) -> RunContext:
    settings = Settings.model_validate({"runner": {"batch_target_seconds": 1, **runner}})
    clock = VirtualClock()
    limits = settings.runner
    executor = SimpleNamespace(reconnect=lambda: None)
    executor.retry_policy = lambda: RetryPolicy(
        limits.max_attempts, limits.retry_max_seconds, clock.sleep, executor.reconnect
    )
    return RunContext(
        run_id=run_id,
        target="fake",
        settings=settings,
        susdb=SimpleNamespace(executor=executor),  # type: ignore[arg-type]
        store=store,
        clock=clock,
        database="fake-database",
        facts=Facts(refuse_destructive=None),
    )


def noted(store: StateStore) -> list[tuple[str, str, str]]:
    return sorted(store.db.execute("SELECT run_id, item_key, target FROM noted").fetchall())


@pytest.fixture
def store(tmp_path: Path) -> Any:
    store = StateStore(tmp_path / "state")
    store.db.execute("CREATE TABLE noted (run_id TEXT, item_key TEXT, target TEXT)")
    yield store
    store.close()


def test_an_audit_hook_keeps_one_row_per_item_done_even_after_a_lost_reply(store):
    server = Server(["a", "b", "c"])
    server.lost_replies.add("b")  # retried: verified on the server, found done, not resent
    outcome = work.process_queue(context(store, FIRST), stage_queue(server))
    assert outcome.status == "done" and outcome.done == 3
    assert server.sent == ["a", "b", "c"]
    assert noted(store) == [(FIRST, "a", "fake"), (FIRST, "b", "fake"), (FIRST, "c", "fake")]


@pytest.mark.parametrize("queue_max_age_hours", [24, 0], ids=["resumed", "rebuilt"])
def test_an_item_a_run_left_in_flight_is_kept_once_by_the_run_that_confirms_it(
    store, queue_max_age_hours
):
    # The first run's reply for "a" is lost and its retries run out: "a" stays in flight. The
    # next night verifies it (resuming the queue, or settling it before a rebuild) and keeps
    # its row once, as its own work: each run's history lists what it counts.
    server = Server(["a", "b", "c"])
    server.lost_replies.add("a")
    options = {"queue_max_age_hours": queue_max_age_hours, "max_attempts": 1}
    first = work.process_queue(context(store, FIRST, **options), stage_queue(server))
    assert first.status == "failed" and noted(store) == []
    assert [item.key for item in store.in_flight("fake-database", "noting")] == ["a"]

    server.lost_replies.clear()
    second = work.process_queue(context(store, SECOND, **options), stage_queue(server))
    assert second.status == "done"
    assert server.sent.count("a") == 1 and second.done == 3
    assert noted(store) == [(SECOND, "a", "fake"), (SECOND, "b", "fake"), (SECOND, "c", "fake")]


def test_an_audit_row_that_cannot_be_kept_rolls_its_checkpoint_back(store):
    # Row and checkpoint are one commit: when the row cannot be written, the item is not marked
    # done either, so the next run verifies it on the server and keeps the row then, once.
    store.db.execute("DROP TABLE noted")
    server = Server(["a"])
    with pytest.raises(StateError, match="noted"):
        work.process_queue(context(store, FIRST), stage_queue(server))
    assert store.queue_counts("fake-database", "noting") == {"in_flight": 1}
    assert store.unrecorded_progress(FIRST) == []  # its progress went back with it

    store.db.execute("CREATE TABLE noted (run_id TEXT, item_key TEXT, target TEXT)")
    outcome = work.process_queue(context(store, SECOND), stage_queue(server))
    # The second run confirmed it: its count and its row, once.
    assert outcome.done == 1 and server.sent == ["a"]
    assert noted(store) == [(SECOND, "a", "fake")]


@pytest.mark.parametrize("path", ["jobs/runner/work.py", "jobs/runner/queue.py"])
def test_the_queue_engine_knows_no_stage(path):
    source = (ROOT / path).read_text(encoding="utf-8")
    assert "declin" not in source.lower()
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert not [name for name in imported if name.startswith("jobs.stages")]
