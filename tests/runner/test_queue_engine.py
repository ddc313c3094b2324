"""The queue engine on its own: a fake server (plain Python functions) and a real state store, no
simulated SUSDB. Each rule of the exactly-once protocol, one test."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from jobs.clock import VirtualClock
from jobs.db.retry import RetryPolicy
from jobs.errors import ConnectionLost, DatabaseError, Interrupted, LockLost, TransientError
from jobs.runner import work
from jobs.runner.context import Facts, RunContext
from jobs.runner.queue import DONE, GONE, QueueWork, Settled
from jobs.settings.model import Settings
from jobs.state.store import DeclineRecord, StateStore, WorkItem


@dataclass(frozen=True)
class Item:
    key: str


class FakeServer:
    """What the engine sees of SUSDB: items it processes, and what it holds for each."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self.done: set[str] = set()
        self.gone: set[str] = set()
        self.sent: list[str] = []
        self.failures: dict[str, list[Exception]] = {}  # raised in order, before any effect
        self.lost_replies: set[str] = set()  # done, then the reply is lost
        self.candidates_built = 0

    def candidates(self):
        self.candidates_built += 1
        for key in self.keys:
            if key not in self.done and key not in self.gone:
                yield key, Item(key)

    def process(self, payload: Item) -> Settled:
        key = payload.key
        self.sent.append(key)
        if self.failures.get(key):
            raise self.failures[key].pop(0)
        if key in self.gone:
            return GONE
        self.done.add(key)
        if key in self.lost_replies:
            self.lost_replies.discard(key)
            raise ConnectionLost("reply lost after the commit", native=10054)
        return DONE

    def verify(self, payload: Item) -> Settled | None:
        key = payload.key
        if key in self.gone:
            return GONE
        return DONE if key in self.done else None


def context(tmp_path, **runner: Any) -> RunContext:
    settings = Settings.model_validate({"runner": {"batch_target_seconds": 1, **runner}})
    clock = VirtualClock()
    limits = settings.runner
    executor = SimpleNamespace(reconnect=lambda: None)
    executor.retry_policy = lambda: RetryPolicy(
        limits.max_attempts, limits.retry_max_seconds, clock.sleep, executor.reconnect
    )
    return RunContext(
        run_id="20260101T000000Z-aaaaaa",
        target="fake",
        settings=settings,
        susdb=SimpleNamespace(executor=executor),  # type: ignore[arg-type]
        store=StateStore(tmp_path / "state"),
        clock=clock,
        database="fake-database",
        facts=Facts(refuse_destructive=None),
    )


def queue_for(server: FakeServer, audit: Any = None, **options: Any) -> QueueWork:
    return QueueWork(
        "decline",
        Item,
        server.candidates,
        server.process,
        per_item_seconds_guess=0.1,
        verify=server.verify,
        audit=audit,
        **options,
    )


def test_every_item_is_sent_once_and_checkpointed(tmp_path):
    server = FakeServer([f"u{number}" for number in range(25)])
    outcome = work.process_queue(context(tmp_path), queue_for(server))
    assert outcome.status == "done" and outcome.done == 25
    assert sorted(server.sent) == sorted(server.keys)


def test_a_lost_reply_is_verified_not_resent(tmp_path):
    server = FakeServer(["a", "b", "c"])
    server.lost_replies.add("b")
    outcome = work.process_queue(context(tmp_path), queue_for(server))
    assert outcome.done == 3 and server.sent.count("b") == 1


def test_a_transient_error_before_any_effect_is_retried(tmp_path):
    server = FakeServer(["a"])
    server.failures["a"] = [TransientError("deadlock victim", native=1205)]
    outcome = work.process_queue(context(tmp_path), queue_for(server))
    assert outcome.done == 1 and server.sent == ["a", "a"]


def test_a_gone_item_is_settled_gone_and_never_recorded(tmp_path):
    server = FakeServer(["a", "b"])
    recorded: list[str] = []

    def record(item: Item, sent_by: str) -> DeclineRecord:
        recorded.append(item.key)
        return DeclineRecord(sent_by, item.key, None, "t", "r")

    ctx = context(tmp_path)
    # Build the queue, then the server deletes "b" behind it.
    work.process_queue(ctx, queue_for(server, audit=record, limit=0))
    server.gone.add("b")
    outcome = work.process_queue(ctx, queue_for(server, audit=record))
    assert outcome.done == 1 and outcome.detail["gone"] == 1 and outcome.failed == 0
    assert recorded == ["a"]


def test_an_error_whose_effect_is_in_place_settles_the_item(tmp_path):
    server = FakeServer(["a"])

    def process(payload: Item) -> Settled:
        server.done.add("a")  # the server committed; then the statement reports a timeout
        raise DatabaseError("timeout after the commit")

    outcome = work.process_queue(context(tmp_path), replace_process(queue_for(server), process))
    assert outcome.done == 1 and outcome.failed == 0


def replace_process(queue: QueueWork, process: Any) -> QueueWork:
    from dataclasses import replace

    return replace(queue, process=process)


def test_failures_count_across_rebuilds_and_quarantine_on_the_third(tmp_path):
    server = FakeServer(["poison", "fine"])
    ctx = context(tmp_path, queue_max_age_hours=12, quarantine_after=3)
    ctx.store.clock = ctx.clock  # the queue's age is read from a clock the test moves
    for night in (1, 2, 3):
        ctx.clock.advance(24 * 3600)  # a night later: the queue is stale and is rebuilt
        server.failures["poison"] = [DatabaseError("damaged")]
        outcome = work.process_queue(ctx, queue_for(server))
        assert outcome.failed == 1, night
    assert [row["item_key"] for row in ctx.store.quarantined()] == ["poison"]
    assert server.candidates_built == 3  # rebuilt every night


def test_a_circuit_breaker_ends_a_stage_that_only_fails(tmp_path):
    server = FakeServer([f"u{number}" for number in range(40)])
    for key in server.keys:
        server.failures[key] = [DatabaseError("broken")]
    outcome = work.process_queue(context(tmp_path), queue_for(server))
    assert outcome.status == "failed" and outcome.failed == work.CIRCUIT_BREAKER


def test_a_lost_connection_leaves_the_item_in_flight_for_the_next_run(tmp_path):
    server = FakeServer(["a", "b"])
    server.failures["a"] = [ConnectionLost("gone", native=10054)] * 10
    ctx = context(tmp_path, max_attempts=2)
    outcome = work.process_queue(ctx, queue_for(server))
    assert outcome.status == "failed"
    assert [item.key for item in ctx.store.in_flight(ctx.database, "decline")] == ["a"]
    server.failures.clear()
    again = work.process_queue(ctx, queue_for(server))
    assert again.done == 2 and server.sent.count("b") == 1


def test_a_window_closing_mid_item_leaves_it_in_flight_and_releases_the_rest(tmp_path):
    server = FakeServer(["a", "b", "c"])
    server.failures["b"] = [Interrupted("the window closed")]
    ctx = context(tmp_path)
    outcome = work.process_queue(ctx, queue_for(server))
    assert outcome.status == "partial"
    counts = ctx.store.queue_counts(ctx.database, "decline")
    assert counts == {"done": 1, "in_flight": 1, "pending": 1}


def test_a_stop_between_items_sends_nothing_more(tmp_path):
    server = FakeServer(["a", "b", "c"])
    ctx = context(tmp_path)
    original = server.process

    def stop_after_first(payload):
        result = original(payload)
        ctx.stop.set()
        return result

    outcome = work.process_queue(ctx, replace_process(queue_for(server), stop_after_first))
    assert outcome.status == "partial" and outcome.reason == "signal" and server.sent == ["a"]


def test_a_lost_lock_stops_before_the_next_batch(tmp_path):
    server = FakeServer(["a"])
    ctx = context(tmp_path)

    class LostLock:
        def ensure_held(self) -> None:
            raise LockLost("the lock's session is gone")

    ctx.lock = LostLock()
    with pytest.raises(LockLost):
        work.process_queue(ctx, queue_for(server))
    assert server.sent == []


def test_a_queue_build_that_would_not_fit_is_deferred(tmp_path):
    server = FakeServer(["a"])
    ctx = context(tmp_path, queue_max_age_hours=0)
    work.process_queue(ctx, queue_for(server))
    ctx.store.db.execute("UPDATE queues SET build_seconds = 500")
    ctx.deadline_monotonic = ctx.clock.monotonic() + 60
    server.keys.append("b")
    outcome = work.process_queue(ctx, queue_for(server))
    assert outcome.status == "deferred" and server.candidates_built == 1


def test_a_payload_stored_by_another_version_loads_into_todays_type(tmp_path):
    from jobs.stages.decline import Decline

    stored = WorkItem("u", {"update_id": "U", "title": "T", "retired_field": 1}, "pending", 0, 0)
    queue = QueueWork("decline", Decline, lambda: iter(()), lambda item: DONE, 0.1)
    assert queue.payload_of(stored) == Decline("U", title="T")  # unknown left out, new defaulted


def test_a_queue_whose_work_frees_more_is_built_again_up_to_max_passes(tmp_path):
    # Deleting an update can make its prerequisites obsolete: each pass frees the next one's.
    server = FakeServer(["a"])
    frees = {"a": "b", "b": "c", "c": "d"}
    original = server.process

    def process(payload: Item) -> Settled:
        settled = original(payload)
        server.keys.append(frees[payload.key])
        return settled

    queue = replace_process(queue_for(server, repeat_until_empty=True), process)
    outcome = work.process_queue(context(tmp_path), queue)
    assert outcome.status == "done" and outcome.done == work.MAX_PASSES
    assert server.sent == ["a", "b", "c"] and server.candidates_built == work.MAX_PASSES


def test_a_queue_is_not_built_again_once_a_pass_finds_nothing(tmp_path):
    server = FakeServer(["a", "b"])
    outcome = work.process_queue(context(tmp_path), queue_for(server, repeat_until_empty=True))
    assert outcome.status == "done" and outcome.done == 2
    assert server.candidates_built == 2  # the second pass found nothing more: no third
