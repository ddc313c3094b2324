"""Each modelled procedure follows its documented behaviour, refusals included."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import timedelta

import pytest

from jobs import errors
from jobs.clock import VirtualClock
from jobs.db.catalog import statement
from jobs.db.classify import classify
from jobs.simulator import connect, schema
from jobs.simulator.faults import FaultPlan
from tests.helpers import NOW, CatalogBuilder, query


def execute(connection, name, *params):
    cursor = connection.cursor()
    cursor.execute(statement(name).text, list(params))
    return cursor


def rows(connection, name, *params):
    cursor = execute(connection, name, *params)
    return cursor.fetchall() if cursor.description else []


@pytest.fixture
def built(tmp_path):
    builder = CatalogBuilder(tmp_path / "hand.sqlite3")
    ids = {
        "old_expired": builder.update(
            "Old expired update (KB1)", age_days=400, expired=True, kb="1"
        ),
        "young_expired": builder.update(
            "Young expired update (KB2)", age_days=400, expired=True, kb="2", received_days=5
        ),
        "approved_expired": builder.update(
            "Approved expired update (KB3)", age_days=400, expired=True, approved=True
        ),
        "prerequisite": builder.update("Expired prerequisite (KB4)", age_days=400, expired=True),
        "live": builder.update("Live update (KB5)", age_days=10),
    }
    prerequisite_local_id = builder.local_id(ids["prerequisite"])
    revision_of = {
        key: builder.db.execute(
            "SELECT RevisionID FROM tbRevision r JOIN tbUpdate u ON u.LocalUpdateID = r.LocalUpdateID WHERE u.UpdateID = ?",
            (value,),
        ).fetchone()[0]
        for key, value in ids.items()
    }
    builder.db.execute(
        "INSERT INTO tbPrerequisiteDependency VALUES (?, ?, ?)",
        (revision_of["live"], revision_of["prerequisite"], prerequisite_local_id),
    )
    path = builder.close()
    return path, ids, revision_of


def test_obsolete_updates_are_the_expired_old_unapproved_unreferenced_ones(built):
    path, ids, _ = built
    connection = connect(path, clock=VirtualClock(NOW))
    local_ids = {row[0] for row in rows(connection, "obsolete_updates")}
    expected = {
        query(path, "SELECT LocalUpdateID FROM tbUpdate WHERE UpdateID = ?", (ids["old_expired"],))[
            0
        ][0]
    }
    assert local_ids == expected


def test_spdeleteupdate_refuses_an_update_still_referenced_and_deletes_nothing(built):
    path, ids, _ = built
    connection = connect(path, clock=VirtualClock(NOW))
    local_id = query(
        path, "SELECT LocalUpdateID FROM tbUpdate WHERE UpdateID = ?", (ids["prerequisite"],)
    )[0][0]
    with pytest.raises(Exception) as caught:
        execute(connection, "delete_update", local_id)
    assert caught.value.args[0] == "42000"
    assert "still referenced by other update(s) (50000)" in caught.value.args[1]
    assert isinstance(classify(caught.value), errors.StillReferenced)
    assert query(path, "SELECT COUNT(*) FROM tbRevision WHERE LocalUpdateID = ?", (local_id,)) == [
        (1,)
    ]


def test_spdeleteupdate_removes_the_update_its_revisions_and_its_bundled_children(tmp_path):
    builder = CatalogBuilder(tmp_path / "b.sqlite3")
    parent = builder.update("Parent (KB10)", age_days=400, expired=True)
    child = builder._row("Child", created=NOW - timedelta(days=400), explicitly=0)
    parent_revision = builder.db.execute(
        "SELECT RevisionID FROM tbRevision r JOIN tbUpdate u ON u.LocalUpdateID = "
        "r.LocalUpdateID WHERE u.UpdateID = ?",
        (parent,),
    ).fetchone()[0]
    builder.db.execute("INSERT INTO tbBundleDependency VALUES (?, ?)", (parent_revision, child[2]))
    local_id = builder.local_id(parent)
    path = builder.close()
    connection = connect(path, clock=VirtualClock(NOW))
    execute(connection, "delete_update", local_id)
    assert query(
        path, "SELECT COUNT(*) FROM tbUpdate WHERE LocalUpdateID IN (?, ?)", (local_id, child[0])
    ) == [(0,)]
    assert query(
        path,
        "SELECT COUNT(*) FROM tbProperty WHERE RevisionID IN (?, ?)",
        (parent_revision, child[2]),
    ) == [(0,)]
    assert query(path, "SELECT COUNT(*) FROM tbBundleDependency") == [(0,)]
    execute(connection, "delete_update", local_id)  # a second call is a no-op, as on SQL Server


def test_spdeleteupdate_costs_tens_of_seconds_without_microsofts_fix(tmp_path):
    builder = CatalogBuilder(tmp_path / "c.sqlite3")
    first = builder.local_id(builder.update("A", age_days=400, expired=True))
    second = builder.local_id(builder.update("B", age_days=400, expired=True))
    path = builder.close()
    clock = VirtualClock(NOW)
    connection = connect(path, clock=clock)
    before = clock.monotonic()
    execute(connection, "delete_update", first)
    with_fix = clock.monotonic() - before
    connection.db.execute(
        "UPDATE sim_object_definition SET definition = 'DECLARE @revisionList TABLE(RevisionID INT)'"
    )
    before = clock.monotonic()
    execute(connection, "delete_update", second)
    without_fix = clock.monotonic() - before
    assert with_fix < 2 and without_fix > 20


def test_spdeclineupdate_declines_and_moves_approvals_to_dead_deployments(tmp_path):
    builder = CatalogBuilder(tmp_path / "d.sqlite3")
    update = builder.update("Approved (KB20)", age_days=40, approved=True)
    path = builder.close()
    connection = connect(path, clock=VirtualClock(NOW))
    execute(connection, "decline_update", update, "CONTOSO\\admin")
    assert query(path, "SELECT Declined FROM vwMinimalUpdate WHERE UpdateID = ?", (update,)) == [
        (1,)
    ]
    assert query(path, "SELECT ActionID, AdminNameWhoDeleted FROM tbDeadDeployment") == [
        (0, "CONTOSO\\admin")
    ]
    execute(connection, "decline_update", update, "again")  # declining twice changes nothing
    assert query(path, "SELECT COUNT(*) FROM tbDeployment WHERE ActionID = 2") == [(1,)]


def test_spdeclineupdate_refuses_on_a_replica(tmp_path):
    builder = CatalogBuilder(tmp_path / "r.sqlite3", replica=True)
    update = builder.update("Superseded (KB21)", age_days=40)
    path = builder.close()
    connection = connect(path, clock=VirtualClock(NOW))
    with pytest.raises(Exception) as caught:
        execute(connection, "decline_update", update, "admin")
    assert "Cannot perform this action when the server is in replica mode" in caught.value.args[1]
    assert isinstance(classify(caught.value), errors.ReplicaRefused)
    assert query(path, "SELECT Declined FROM vwMinimalUpdate WHERE UpdateID = ?", (update,)) == [
        (0,)
    ]


UNKNOWN_UPDATE = "00000000-0000-0000-0000-000000000000"


def test_spdeclineupdate_of_an_unknown_update_fails(small_sim):
    connection = connect(small_sim)
    with pytest.raises(Exception, match="was not found"):
        connection.cursor().execute(
            "EXEC dbo.spDeclineUpdate @updateID = ?, @adminName = ?", (UNKNOWN_UPDATE, "admin")
        )


def test_a_decline_checks_on_the_server_before_it_calls_the_procedure(small_sim):
    connection = connect(small_sim)
    (update,) = query(small_sim, "SELECT UpdateID FROM vwMinimalUpdate WHERE Declined = 0 LIMIT 1")[
        0
    ]
    assert rows(connection, "decline_update", update, "admin") == [(1, 1, 1)]  # sent, declined
    assert rows(connection, "decline_update", update, "admin") == [(0, 1, 1)]  # not sent again
    assert rows(connection, "decline_update", UNKNOWN_UPDATE, "admin") == [(0, 0, 0)]
    calls = query(
        small_sim, "SELECT COUNT(*) FROM sim_call_log WHERE procedure = 'spDeclineUpdate'"
    )
    assert calls == [(1,)]


def test_compression_removes_only_unreferenced_older_revisions(small_sim):
    connection = connect(small_sim)
    candidates = [row[0] for row in rows(connection, "updates_to_compress")]
    assert candidates
    latest_before = query(small_sim, "SELECT COUNT(*) FROM tbRevision WHERE IsLatestRevision = 1")
    for local_id in candidates:
        execute(connection, "compress_update", local_id)
    assert rows(connection, "updates_to_compress") == []
    assert (
        query(small_sim, "SELECT COUNT(*) FROM tbRevision WHERE IsLatestRevision = 1")
        == latest_before
    )


def test_obsolete_computers_are_those_silent_for_30_days(small_sim):
    connection = connect(small_sim)
    total, inactive, certain = rows(connection, "computer_counts", 30)[0]
    assert inactive >= certain > 0
    ((deleted,),) = rows(connection, "cleanup_obsolete_computers")
    assert certain <= deleted <= inactive
    assert rows(connection, "computer_counts", 30)[0][0] == total - deleted


@pytest.mark.parametrize(
    ("column", "gone"),
    [("LastSyncTime", {1, 3}), ("LastReportedStatusTime", {2, 3}), ("either", {1, 2, 3})],
)
def test_obsolete_computers_go_with_their_status_rows_and_pay_for_them(tmp_path, column, gone):
    """spCleanupObsoleteComputers deletes each computer's tbUpdateStatusPerComputer rows with it
    and charges their cost; silent by the server's column (``either``: by one of the two)."""
    from jobs.simulator.server import COST, ts

    builder = CatalogBuilder(tmp_path / "computers.sqlite3")
    builder.computers("PC", 4, synced_hours=2)
    stale = ts(NOW - timedelta(days=40))
    builder.db.execute(
        "UPDATE tbComputerTarget SET LastSyncTime = ? WHERE TargetID IN (1, 3)", (stale,)
    )
    builder.db.execute(
        "UPDATE tbComputerTarget SET LastReportedStatusTime = ? WHERE TargetID IN (2, 3)", (stale,)
    )
    per_computer = 1500
    builder.db.executemany(
        "INSERT INTO tbUpdateStatusPerComputer VALUES (2, ?, ?, ?, ?, ?)",
        [
            (local_id, target_id, ts(NOW), ts(NOW), ts(NOW))
            for target_id in range(1, 5)
            for local_id in range(1, per_computer + 1)
        ],
    )
    builder.obsolete_computers(column=column)
    path = builder.close()
    clock = VirtualClock(NOW)
    connection = connect(path, clock=clock)
    ((deleted,),) = rows(connection, "cleanup_obsolete_computers")
    connection.close()
    assert deleted == len(gone)
    left = {1, 2, 3, 4} - gone
    assert {row[0] for row in query(path, "SELECT TargetID FROM tbComputerTarget")} == left
    assert query(
        path, "SELECT TargetID, COUNT(*) FROM tbUpdateStatusPerComputer GROUP BY TargetID"
    ) == [(target_id, per_computer) for target_id in sorted(left)]
    charged = COST["statement"] * len(gone) + COST["status_row"] * per_computer * len(gone)
    assert clock.monotonic() == pytest.approx(charged)  # the call is all the clock was charged


def test_sync_history_is_deleted_in_top_n_batches(small_sim):
    connection = connect(small_sim)
    ((backlog,),) = rows(connection, "sync_history_backlog", 90)
    assert backlog > 100
    ((deleted,),) = rows(connection, "delete_sync_history", 100, 90)
    assert deleted == 100
    assert rows(connection, "sync_history_backlog", 90) == [(backlog - 100,)]


def test_sp_updatestats_reports_its_messages(small_sim):
    cursor = execute(connect(small_sim), "update_statistics_all")
    assert any(
        "Statistics for all tables have been updated." in message for _, message in cursor.messages
    )


def test_index_rebuild_resets_fragmentation_and_online_needs_enterprise(small_sim):
    connection = connect(small_sim)
    with pytest.raises(
        Exception, match=r"Online index operations can only be performed in Enterprise.*\(1712\)"
    ):
        execute(connection, "rebuild_index", "tbRevision", "PK__tbRevision", True, None, None)
    connection.db.execute(
        "UPDATE sim_index SET avg_fragmentation_in_percent = 70 WHERE object_name = 'tbRevision'"
    )
    execute(connection, "rebuild_index", "tbRevision", "PK__tbRevision", False, 90, None)
    stats = {row[1]: row for row in rows(connection, "index_fragmentation", "SAMPLED")}
    assert stats["PK__tbRevision"][6] < 1 and stats["PK__tbRevision"][4] == 90


def test_on_enterprise_a_table_with_ntext_columns_refuses_an_online_clustered_rebuild(tmp_path):
    path = CatalogBuilder(tmp_path / "ee.sqlite3", edition="enterprise").close()
    connection = connect(path)
    execute(connection, "rebuild_index", "tbRevision", "PK__tbRevision", True, None, None)
    with pytest.raises(Exception, match=r"data type text, ntext, image or FILESTREAM.*\(2725\)"):
        execute(
            connection, "rebuild_index", "tbEventInstance", "PK__tbEventInstance", True, None, None
        )
    execute(
        connection, "rebuild_index", "tbEventInstance", "PK__tbEventInstance", False, None, None
    )


def test_an_index_with_page_locks_off_cannot_be_reorganized(small_sim):
    connection = connect(small_sim)
    table, index = schema.PAGE_LOCKS_OFF
    with pytest.raises(Exception, match=r"page level locking is disabled. \(2552\)"):
        execute(connection, "reorganize_index", table, index)
    execute(connection, "rebuild_index", table, index, False, None, None)


def test_the_physical_stats_dmv_returns_every_object_and_the_query_decides(small_sim):
    connection = connect(small_sim)
    probe = (
        "-- name: probe\nSELECT s.name, o.name, o.is_ms_shipped, ps.alloc_unit_type_desc "
        "FROM sys.dm_db_index_physical_stats(DB_ID(), NULL, NULL, NULL, 'LIMITED') AS ps "
        "JOIN sys.objects AS o ON o.object_id = ps.object_id "
        "JOIN sys.schemas AS s ON s.schema_id = o.schema_id;"
    )
    cursor = connection.cursor()
    cursor.execute(probe, [])
    seen = cursor.fetchall()
    assert ("dba", "CommandLog", 0, "IN_ROW_DATA") in seen  # a DBA's table outside dbo
    assert ("sys", "sysrscols", 1, "IN_ROW_DATA") in seen  # a system table
    assert ("dbo", "tbEventInstance", 0, "LOB_DATA") in seen  # its ntext columns
    names = {row[0] for row in rows(connection, "index_fragmentation", "SAMPLED")}
    assert "PK_CommandLog" not in names and "clst" not in names


def test_a_limited_scan_reads_the_pages_above_the_leaf_level_only(small_sim):
    connection = connect(small_sim)
    limited = rows(connection, "index_fragmentation", "LIMITED")
    assert limited and all(row[7] is None and row[9] is None for row in limited)
    read = dict(
        connection.db.execute(
            "SELECT mode, SUM(pages_read) FROM sim_scan_log GROUP BY mode"
        ).fetchall()
    )
    rows(connection, "index_fragmentation", "SAMPLED")
    sampled = connection.db.execute(
        "SELECT SUM(pages_read) FROM sim_scan_log WHERE mode = 'SAMPLED'"
    ).fetchone()[0]
    assert read["LIMITED"] * 20 < sampled


def test_without_view_definition_object_definition_returns_null(small_sim):
    connection = connect(small_sim)
    assert rows(connection, "delete_update_definition")[0][0]
    connection.db.execute(
        "INSERT INTO sim_meta VALUES ('deny:1', 'VIEW DEFINITION dbo.spDeleteUpdate')"
    )
    assert rows(connection, "delete_update_definition") == []  # sys.sql_modules hides it too
    held = dict(rows(connection, "check_permissions"))
    assert held["VIEW DEFINITION on dbo.spDeleteUpdate (fix check)"] == 0


def test_sys_databases_shows_every_database_unless_view_any_database_is_denied(small_sim):
    """VIEW ANY DATABASE is public's by default; without it a login sees master, tempdb and the
    database it is in (Microsoft Learn, sys.databases)."""
    connection = connect(small_sim)
    names = {row[0] for row in rows(connection, "database_names")}
    assert names == {"master", "tempdb", "model", "msdb", "SUSDB"}
    connection.db.execute("INSERT INTO sim_meta VALUES ('deny:1', 'VIEW ANY DATABASE')")
    assert {row[0] for row in rows(connection, "database_names")} == {"master", "tempdb", "SUSDB"}
    assert connect(small_sim, database="SUSDB_LAB").cursor().execute(
        "-- name: ids\nSELECT database_id FROM sys.databases WHERE name = 'SUSDB_LAB'", []
    ).fetchall() == [(5,)]


def test_creating_an_index_that_exists_fails_like_msg_1913(small_sim):
    connection = connect(small_sim)
    execute(connection, "create_index_supersedes")
    with pytest.raises(
        Exception, match=r"already exists on table 'dbo.tbRevisionSupersedesUpdate'. \(1913\)"
    ):
        execute(connection, "create_index_supersedes")


def test_an_unmodelled_system_statement_fails_naming_it(small_sim):
    cursor = connect(small_sim).cursor()
    with pytest.raises(
        Exception,
        match=r"statement 'mystery' uses SQL Server system objects .*sys.dm_exec_requests",
    ):
        cursor.execute("-- name: mystery\nSELECT session_id FROM sys.dm_exec_requests;", [])


def test_an_unknown_procedure_fails_with_2812(small_sim):
    cursor = connect(small_sim).cursor()
    with pytest.raises(Exception, match=r"Could not find stored procedure 'dbo.spNope'. \(2812\)"):
        cursor.execute("-- name: nope\nEXEC dbo.spNope;", [])


def test_a_wrong_parameter_count_is_refused(small_sim):
    with pytest.raises(Exception, match="parameter markers"):
        execute(connect(small_sim), "computer_counts")


def test_a_statement_longer_than_the_timeout_fails_with_hyt00_after_the_timeout(small_sim):
    clock = VirtualClock(NOW)
    connection = connect(small_sim, clock=clock)
    connection.db.execute(
        "UPDATE sim_object_definition SET definition = 'TABLE(RevisionID INT)'"
    )  # no fix: ~30 s
    local_id = rows(connection, "obsolete_updates")[0][0]
    connection.timeout = 5
    before = clock.monotonic()
    with pytest.raises(Exception) as caught:
        execute(connection, "delete_update", local_id)
    assert caught.value.args[0] == "HYT00"
    assert isinstance(classify(caught.value), errors.StatementTimeout)
    assert clock.monotonic() - before == pytest.approx(5, abs=0.1)
    # The batch was rolled back: the update is still there.
    assert query(
        small_sim, "SELECT COUNT(*) FROM tbUpdate WHERE LocalUpdateID = ?", (local_id,)
    ) == [(1,)]


def test_a_cursor_keeps_the_timeout_the_connection_had_when_it_was_made(small_sim):
    # pyodbc sets a cursor's query timeout once, in Cursor_New, from the connection's.
    clock = VirtualClock(NOW)
    connection = connect(small_sim, clock=clock)
    connection.db.execute("UPDATE sim_object_definition SET definition = 'TABLE(RevisionID INT)'")
    first, second = rows(connection, "obsolete_updates")[:2]
    connection.timeout = 5
    made_at_five = connection.cursor()
    connection.timeout = 0  # no limit for cursors made from now on
    with pytest.raises(Exception) as caught:
        made_at_five.execute(statement("delete_update").text, [first[0]])
    assert caught.value.args[0] == "HYT00"
    execute(connection, "delete_update", second[0])  # a new cursor: no limit, ~30 s, done


def test_cancel_from_another_thread_stops_a_slow_statement(small_sim):
    connection = connect(small_sim, latency=5.0)
    cursor = connection.cursor()
    threading.Timer(0.2, cursor.cancel).start()
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        cursor.execute(statement("server_info").text, [])
    assert time.monotonic() - started < 3
    assert caught.value.args[0] == "HY008"
    assert isinstance(classify(caught.value), errors.StatementTimeout)


@pytest.mark.parametrize(
    ("kind", "sqlstate", "native", "class_name", "project_error"),
    [
        ("deadlock", "40001", 1205, "Error", errors.TransientError),
        ("lock_timeout", "HY000", 1222, "Error", errors.TransientError),
        ("query_timeout", "HYT00", 0, "OperationalError", errors.StatementTimeout),
        ("link_failure", "08S01", 10054, "OperationalError", errors.ConnectionLost),
        ("login_failed", "28000", 18456, "InterfaceError", errors.LoginFailed),
        ("permission_denied", "42000", 229, "ProgrammingError", errors.NotPermitted),
        ("replica", "42000", 50000, "ProgrammingError", errors.ReplicaRefused),
    ],
)
def test_injected_faults_carry_sql_servers_sqlstate_and_native_number(
    small_sim, kind, sqlstate, native, class_name, project_error
):
    connection = connect(
        small_sim, faults=FaultPlan(rate=1.0, kinds=[kind], statements=["server_info"], seed=1)
    )
    with pytest.raises(Exception) as caught:
        execute(connection, "server_info")
    error = caught.value
    assert type(error).__name__ == class_name
    assert error.args[0] == sqlstate and f"({native}) (SQLExecDirectW)" in error.args[1]
    assert type(classify(error)) is project_error
    if kind == "link_failure":  # the session is gone: the connection stays dead, as a real one does
        with pytest.raises(Exception, match="08S01"):
            execute(connection, "schema_version")
        connection = connect(small_sim)
    assert rows(connection, "schema_version")  # other statements are not in the plan


def survived(connection, statements: int) -> list[bool]:
    """Run a statement ``statements`` times; say each time whether it got through."""
    result = []
    for _ in range(statements):
        try:
            execute(connection, "schema_version")
            result.append(True)
        except Exception:
            result.append(False)
    return result


def test_a_fault_plan_is_reproducible_by_seed(small_sim):
    from jobs.simulator import faults

    def outcomes(seed: int) -> list[bool]:
        faults.forget_streams()  # as in a new process
        return survived(connect(small_sim, faults=FaultPlan(rate=0.3, seed=seed)), 40)

    assert outcomes(4) == outcomes(4) != outcomes(5)
    assert 4 < outcomes(4).count(False) < 25


def test_a_reconnect_continues_the_fault_stream_instead_of_replaying_it(small_sim):
    from jobs.simulator import faults

    faults.forget_streams()

    def draws() -> list[bool]:
        connection = connect(small_sim, faults=FaultPlan(rate=0.5, seed=9))
        result = survived(connection, 20)
        connection.close()
        return result

    assert draws() != draws()  # a second connection draws on from where the first stopped


def _locked_by_wsus(path, table: str, seconds: float) -> None:
    db = sqlite3.connect(path)
    db.execute("INSERT OR REPLACE INTO sim_meta VALUES (?, ?)", (f"locked:{table}", str(seconds)))
    db.commit()
    db.close()


def test_a_lock_timeout_inside_a_procedure_cancels_one_statement_and_the_procedure_commits(built):
    """SQL Server's error 1222 cancels the statement that waited, not the procedure: with a
    30-second LOCK_TIMEOUT and WSUS holding the dependency rows for a minute, spDeleteUpdate's
    "still referenced" check is skipped and the update is deleted all the same."""
    path, ids, _ = built
    _locked_by_wsus(path, "tbBundleDependency", 60)
    connection = connect(path, clock=VirtualClock(NOW))
    local_id = query(
        path, "SELECT LocalUpdateID FROM tbUpdate WHERE UpdateID = ?", (ids["prerequisite"],)
    )[0][0]
    with pytest.raises(Exception) as caught:
        connection.cursor().execute(
            "SET LOCK_TIMEOUT 30000; EXEC dbo.spDeleteUpdate @localUpdateID = ?", (local_id,)
        )
    assert "(1222)" in caught.value.args[1]
    assert query(path, "SELECT COUNT(*) FROM tbRevision WHERE LocalUpdateID = ?", (local_id,)) == [
        (0,)
    ]


def test_the_tool_calls_wsus_procedures_with_their_own_lock_timeout(built):
    """Decline review N2: the tool's 30-second lock timeout is for its own statements; WSUS's
    procedures run with @@LOCK_TIMEOUT -1, so a lock held by WSUS is waited out and the
    "still referenced" check refuses the deletion."""
    from jobs.db.connection import Endpoint
    from jobs.db.executor import Executor
    from jobs.susdb import Susdb
    from tests.helpers import settings_for

    path, ids, _ = built
    _locked_by_wsus(path, "tbBundleDependency", 60)
    local_id = query(
        path, "SELECT LocalUpdateID FROM tbUpdate WHERE UpdateID = ?", (ids["prerequisite"],)
    )[0][0]
    executor = Executor(Endpoint("sim", settings_for(path).targets["sim"]))
    try:
        with pytest.raises(errors.StillReferenced):
            Susdb(executor).delete_update(local_id)
        expired = query(
            path, "SELECT LocalUpdateID FROM tbUpdate WHERE UpdateID = ?", (ids["old_expired"],)
        )[0][0]
        assert Susdb(executor).delete_update(expired) == (True, False)
        # The tool's own statements run with its short lock timeout, each batch setting it
        # itself (a SET in a parameterized batch does not outlive it).
        for _ in range(2):
            executor.run("update_exists", [local_id])
            assert executor.connection.last_batch_options["LOCK_TIMEOUT"] == "30000"
            assert executor.connection.lock_timeout_ms() == -1
    finally:
        executor.close()
    assert query(path, "SELECT COUNT(*) FROM tbRevision WHERE LocalUpdateID = ?", (local_id,)) == [
        (1,)
    ]
    assert query(path, "SELECT DISTINCT lock_timeout_ms FROM sim_call_log") == [(-1,)]


def test_a_set_option_in_a_parameterized_batch_lasts_only_as_long_as_the_batch(small_sim):
    connection = connect(small_sim)
    cursor = connection.cursor()
    cursor.execute(
        "SET LOCK_TIMEOUT 30000; SELECT COUNT(*) FROM tbUpdate WHERE LocalUpdateID > ?", (0,)
    )
    assert connection.lock_timeout_ms() == -1  # sp_prepexec: restored when the batch ended
    cursor.execute("SET LOCK_TIMEOUT 30000")
    assert connection.lock_timeout_ms() == 30000  # a plain batch: the session keeps it
