"""The dry run on the real path: each sql/ file says whether it writes and, if it does, what a dry
run answers instead of sending it; the executor records such a statement and never sends it."""

from __future__ import annotations

from datetime import datetime

import pytest

from jobs.db import dryrun as module
from jobs.db.catalog import load_catalog, parse_statement
from jobs.db.connection import Endpoint
from jobs.db.executor import RECORDING, Executor
from jobs.settings.model import SimulatorTarget
from tests.helpers import query

CATALOG = load_catalog()
NOW = datetime(2026, 3, 1, 2, 0, 0)


def test_every_statement_says_whether_it_writes_and_each_one_that_writes_what_a_dry_run_answers():
    writing = {name for name, statement in CATALOG.items() if statement.writes}
    assert {
        "decline_update",
        "delete_update",
        "compress_update",
        "cleanup_obsolete_computers",
        "delete_sync_history",
        "delete_client_events",
        "rebuild_index",
        "reorganize_index",
        "backup_database",
        "acquire_target_lock",
        "apply_delete_update_fix",
        "update_statistics_all",
    } <= writing
    assert {"superseded_updates", "obsolete_updates", "index_fragmentation"}.isdisjoint(writing)
    for name in writing:
        assert not CATALOG[name].sent_in_dry_run, name
    # Every declaration parses, and names only statements and parameters that exist.
    module.check_catalog(CATALOG)


def test_a_file_that_does_not_say_whether_it_writes_is_rejected():
    with pytest.raises(ValueError, match="writes"):
        parse_statement("-- name: x\n-- params: none\nSELECT 1;", "x.sql")


def test_a_file_that_writes_without_a_dry_run_answer_is_rejected():
    with pytest.raises(ValueError, match="dry run"):
        parse_statement("-- name: x\n-- params: none\n-- writes: yes\nDELETE FROM t;", "x.sql")


def test_a_declaration_naming_an_unknown_parameter_is_rejected():
    bad = parse_statement(
        "-- name: x\n-- params: @a int\n-- writes: yes\n-- dry run: Deleted = @b\n"
        "DELETE TOP (?) FROM t;",
        "x.sql",
    )
    with pytest.raises(ValueError, match="@b"):
        module.check_catalog({**CATALOG, "x": bad})


def test_a_change_not_sent_gets_the_answer_its_file_declares():
    dry = module.DryRun()
    assert dry.intercept("decline", "decline_update", ["ABC", "susdb-maint"], NOW) == (
        ("Sent", "Present", "Declined"),
        [(1, 1, 1)],
    )
    assert dry.intercept("sync_history", "delete_sync_history", [500, 30], NOW) == (
        ("Deleted",),
        [(500,)],
    )
    assert dry.intercept("computers", "cleanup_obsolete_computers", [], NOW) == ((), [])
    assert (
        dry.intercept("decline", "superseded_updates", [True, 30, False, 0, False, 0, None], NOW)
        is None
    )
    assert [(entry.name, entry.sent) for entry in dry.entries] == [
        ("decline_update", False),
        ("delete_sync_history", False),
        ("cleanup_obsolete_computers", False),
        ("superseded_updates", True),
    ]


def test_later_reads_see_what_the_recorded_changes_declare():
    dry = module.DryRun()
    dry.intercept("obsolete_updates", "delete_update", [7], NOW)
    # WSUS's list no longer holds a deleted update: a second pass does not delete it again.
    assert dry.shown("obsolete_updates", ("LocalUpdateID",), [(9,), (7,), (3,)]) == [(9,), (3,)]
    assert dry.shown("updates_to_compress", ("",), [(7,), (8,)]) == [(8,)]
    dry.intercept("decline", "decline_update", ["{abc-1}", "susdb-maint"], NOW)
    columns = ("SupersedingUpdateID", "Declined", "Title")
    assert dry.shown("update_liveness", columns, [("ABC-1", 0, "x")]) == [("ABC-1", 1, "x")]
    assert dry.shown("expired_updates", ("UpdateID", "Title"), [("abc-1", "a"), ("d", "b")]) == [
        ("d", "b")
    ]
    dry.intercept("reindex", "rebuild_index", ["tbRevision", "ix_a", False, None, None], NOW)
    stats = ("TableName", "IndexName", "Fragmentation")
    assert dry.shown(
        "index_fragmentation", stats, [("tbRevision", "ix_a", 90), ("tbRevision", "ix_b", 90)]
    ) == [("tbRevision", "ix_b", 90)]
    # A backup that was recorded is the last backup the gate then reads.
    dry.intercept("backup", "backup_database", [r"D:\b\SUSDB_1.bak"], NOW)
    assert dry.intercept("backup", "last_full_backup", [], NOW) == (
        ("LastBackupUtc", "Device"),
        [(NOW, r"D:\b\SUSDB_1.bak")],
    )


def test_under_a_dry_run_the_executor_sends_no_statement_that_writes(small_sim):
    sent: list = []
    executor = Executor(Endpoint("sim", SimulatorTarget(kind="simulator", path=str(small_sim))))
    (local_id,) = query(small_sim, "SELECT MIN(LocalUpdateID) FROM tbUpdate")[0]
    token = RECORDING.set(sent)
    try:
        with module.recording() as dry:
            answer = executor.run("delete_update", [local_id])
            executor.run("begin_transaction")
            executor.run("cleanup_obsolete_computers")
            executor.run("commit_transaction")
            still = executor.run("update_exists", [local_id])
    finally:
        RECORDING.reset(token)
        executor.close()
    assert [(row["Sent"], row["Present"]) for row in answer.rows] == [(1, 0)]
    assert still.rows[0]["Present"] == 1  # a read: sent, and the server still has it
    assert [name for _, name, _ in sent] == ["update_exists"]
    assert [entry.name for entry in dry.entries if not entry.sent] == [
        "delete_update",
        "begin_transaction",
        "cleanup_obsolete_computers",
        "commit_transaction",
    ]
    assert query(small_sim, "SELECT COUNT(*) FROM sim_call_log")[0][0] == 0
