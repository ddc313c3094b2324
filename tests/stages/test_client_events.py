"""Client reporting events (issue 28): counted by namespace, and, when an administrator turns the
stage on, the old ones deleted in small batches, the server's own events never."""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path

import pytest
from pydantic import ValidationError

from jobs.exit_codes import ExitCode
from jobs.settings.model import default_profiles
from jobs.simulator import schema
from jobs.stages.declared.client_events import ClientEventSettings
from jobs.susdb import Susdb
from tests.catalog import CatalogBuilder
from tests.helpers import gateway, query, run, settings_for

CLIENT = schema.CLIENT_EVENT_NAMESPACE  # the simulator's; which one WSUS uses is not public
DETECTED = schema.CLIENT_EVENT_IDS[0]  # 147, ClientDetectionComplete
COMPUTER = "9A1C2B3D-0000-4000-8000-000000000001"


def labels(path: Path) -> set[str]:
    return {
        row[0].rsplit("-", 1)[0]
        for row in query(path, "SELECT EventInstanceID FROM tbEventInstance")
    }


def enabled(**options: object) -> dict[str, object]:
    return {"client_events": {"enabled": True, "retention_days": 30, **options}}


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Client and server events of various ages, under each plausible reading of SUSDB."""
    susdb = CatalogBuilder(tmp_path / "events.sqlite3")
    events = partial(susdb.events, computer=COMPUTER)  # a client's reports, unless it says
    # Client reports, in the client namespace, with documented client event IDs.
    events("client-young", namespace=CLIENT, event_id=DETECTED, age_days=5)
    events("client-inside-retention", namespace=CLIENT, event_id=DETECTED, age_days=29)
    events("client-old-detection", namespace=CLIENT, event_id=DETECTED, age_days=40)
    events("client-old-download", namespace=CLIENT, event_id=162, age_days=200)
    events("client-old-install", namespace=CLIENT, event_id=184, age_days=400)
    # The server's own synchronization history: never this stage's (sync_history's).
    events(
        "sync-old",
        namespace=schema.SYNC_EVENT_NAMESPACE,
        event_id=schema.SYNC_EVENT_IDS[0],
        age_days=200,
        computer=None,
    )
    # If WSUS kept client events in its own namespace too: left alone (never namespace 2).
    events(
        "client-id-in-server-namespace",
        namespace=schema.SYNC_EVENT_NAMESPACE,
        event_id=DETECTED,
        age_days=200,
    )
    # Another namespace's event naming no computer, and an event ID no client is documented to send.
    events("no-computer", namespace=3, event_id=DETECTED, age_days=200, computer=None)
    events("empty-computer", namespace=CLIENT, event_id=DETECTED, age_days=200, computer="")
    events("undocumented-id", namespace=CLIENT, event_id=500, age_days=200)
    return susdb.close()


def test_only_client_events_older_than_the_retention_go(mixed, state_dir):
    report = run(settings_for(mixed, stages=enabled()), state_dir, stages=["client_events"])
    assert report.exit_code == ExitCode.OK, report.stages
    stage = report.stages[-1]
    assert (stage.stage, stage.status, stage.done, stage.remaining) == (
        "client_events",
        "done",
        3,
        0,
    )
    assert labels(mixed) == {
        "client-young",
        "client-inside-retention",
        "sync-old",
        "client-id-in-server-namespace",
        "no-computer",
        "empty-computer",
        "undocumented-id",
    }


def test_the_stage_does_nothing_while_it_is_off(mixed, state_dir):
    before = query(mixed, "SELECT COUNT(*) FROM tbEventInstance")
    report = run(settings_for(mixed), state_dir, stages=["client_events"])
    stage = report.stages[-1]
    assert (stage.status, stage.done) == ("skipped", 0)
    assert "stages.client_events.enabled" in (stage.reason or "")
    assert query(mixed, "SELECT COUNT(*) FROM tbEventInstance") == before


def test_no_default_profile_lists_the_stage():
    for name, profile in default_profiles().items():
        assert "client_events" not in profile.stages, name
    assert ClientEventSettings().enabled is False


def test_a_retention_shorter_than_wsus_own_default_is_refused():
    # IUpdateServerConfiguration.ClientEventExpirationTime: "The default is 15 days."
    assert ClientEventSettings(retention_days=15).retention_days == 15
    with pytest.raises(ValidationError, match="greater than or equal to 15"):
        ClientEventSettings(retention_days=14)
    with pytest.raises(ValidationError, match="less than 5000"):
        ClientEventSettings(batch_rows=5000)


@pytest.fixture
def backlog(tmp_path: Path) -> Path:
    susdb = CatalogBuilder(tmp_path / "backlog.sqlite3")
    susdb.events(
        "old", namespace=CLIENT, event_id=DETECTED, age_days=90, computer=COMPUTER, copies=10_000
    )
    susdb.events(
        "young", namespace=CLIENT, event_id=DETECTED, age_days=1, computer=COMPUTER, copies=50
    )
    return susdb.close()


def test_old_client_events_go_in_batches_below_the_lock_escalation_threshold(
    backlog, state_dir, event_log
):
    settings = settings_for(backlog, stages=enabled(batch_rows=3000))
    report = run(settings, state_dir, stages=["client_events"])
    assert report.stages[-1].done == 10_000
    batches = [
        event for event in event_log.named("batch.finish") if event["stage"] == "client_events"
    ]
    assert [event["done"] for event in batches] == [3000, 3000, 3000, 1000]
    assert [event["remaining"] for event in batches] == [7000, 4000, 1000, 0]
    assert labels(backlog) == {"young"}
    escalations = query(
        backlog, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sim_lock_escalation'"
    )[0][0] and query(backlog, "SELECT object_name FROM sim_lock_escalation")
    assert not escalations


def test_a_stopped_run_leaves_the_rest_for_the_next_run(backlog, state_dir, monkeypatch):
    stop = threading.Event()
    delete = Susdb.delete_client_events

    def stop_after_one_batch(self: Susdb, *args: object, **kwargs: object) -> int:
        stop.set()  # SIGTERM arrives while the first batch runs
        return delete(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Susdb, "delete_client_events", stop_after_one_batch)
    settings = settings_for(backlog, stages=enabled(batch_rows=4000))
    first = run(settings, state_dir, stages=["client_events"], stop=stop)
    stage = first.stages[-1]
    assert (stage.status, stage.reason, stage.done, stage.remaining) == (
        "partial",
        "signal",
        4000,
        6000,
    )
    assert first.exit_code == ExitCode.PARTIAL
    monkeypatch.setattr(Susdb, "delete_client_events", delete)
    second = run(settings, state_dir, stages=["client_events"])
    assert (second.stages[-1].status, second.stages[-1].done) == ("done", 6000)
    assert labels(backlog) == {"young"}


def test_a_plan_counts_the_backlog_and_deletes_nothing(backlog, state_dir):
    report = run(
        settings_for(backlog, stages=enabled()),
        state_dir,
        stages=["client_events"],
        dry_run=True,
    )
    stage = report.stages[-1]
    assert (stage.status, stage.remaining) == ("planned", 10_000)
    assert query(backlog, "SELECT COUNT(*) FROM tbEventInstance") == [(10_050,)]


def test_event_rows_are_counted_by_namespace_with_its_name(mixed):
    with gateway(mixed) as susdb:
        counted = {row.namespace: row.rows for row in susdb.event_rows_by_namespace()}
        names = {row.namespace: row.name for row in susdb.event_rows_by_namespace()}
    assert counted == {CLIENT: 7, schema.SYNC_EVENT_NAMESPACE: 2, 3: 1}
    assert names[3] is None  # a namespace tbEventNamespace does not list
    assert names[CLIENT] and names[schema.SYNC_EVENT_NAMESPACE]


def test_the_stage_logs_the_rows_by_namespace_before_it_deletes(mixed, state_dir, event_log):
    run(settings_for(mixed, stages=enabled()), state_dir, stages=["client_events"])
    (counted,) = event_log.named("client_events.namespaces")
    assert {entry["namespace"]: entry["rows"] for entry in counted["namespaces"]} == {
        CLIENT: 7,
        schema.SYNC_EVENT_NAMESPACE: 2,
        3: 1,
    }


def test_a_generated_catalog_holds_old_client_events_the_statement_deletes(small_sim):
    with gateway(small_sim) as susdb:
        backlog = susdb.client_events_backlog(30)
        assert backlog > 100
        assert susdb.delete_client_events(100, 30) == 100
        assert susdb.client_events_backlog(30) == backlog - 100
    ((sync_events,),) = query(
        small_sim,
        "SELECT COUNT(*) FROM tbEventInstance WHERE EventNamespaceID = ?",
        (schema.SYNC_EVENT_NAMESPACE,),
    )
    assert sync_events > 0


def test_no_batch_is_deleted_by_a_run_that_no_longer_holds_the_target_lock():
    """As before every queue batch: a session whose lock another host took deletes nothing."""
    from types import SimpleNamespace

    from jobs.errors import LockLost
    from jobs.runner.context import StageOutcome
    from jobs.stages.batched_delete import delete_in_batches

    def lost() -> None:
        raise LockLost("the target lock was taken by another run")

    sent: list[int] = []
    ctx = SimpleNamespace(dry_run=False, out_of_time=lambda: False, ensure_locked=lost, clock=None)
    with pytest.raises(LockLost):
        delete_in_batches(ctx, StageOutcome(remaining=10), 4, sent.append, None)  # type: ignore[arg-type]
    assert sent == []
