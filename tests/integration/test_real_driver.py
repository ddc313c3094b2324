"""Scenarios through the real driver stack (pyodbc, unixODBC, FreeTDS) against the served
simulator, each checked against what the simulated SUSDB recorded (``sim_call_log``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pyodbc
import pytest

from jobs.db.catalog import statement
from jobs.db.classify import classify
from jobs.db.connection import Endpoint, open_connection
from jobs.db.executor import Executor, RetryLimits
from jobs.errors import DatabaseError, LoginFailed, StatementTimeout, StillReferenced
from jobs.exit_codes import ExitCode
from jobs.runner.options import RunOptions
from jobs.runner.plan import build_plan
from jobs.runner.run import RunReport, execute_plan
from jobs.settings.model import Settings
from jobs.simulator import FaultPlan
from jobs.simulator.server import COST
from jobs.state.store import StateStore
from tests.helpers import (
    CatalogBuilder,
    NightlyScenario,
    cli_env,
    configured_command,
    procedure_calls,
    query,
)
from tests.integration.drivers import FREETDS
from tests.integration.served import PASSWORD, PASSWORD_ENV, Served

pytestmark = pytest.mark.integration
LONG = 100_000  # minutes
WINDOW = 0.02  # minutes: 1.2 s
SLOW_DELETE = 3.0  # real seconds a deletion takes once the clock is slowed down


def run(settings: Settings, state_dir: Path, **plan_options) -> RunReport:
    plan_options.setdefault("max_duration_minutes", LONG)
    plan_options.setdefault("profile", None)
    return execute_plan(
        build_plan(settings, RunOptions(target="served", **plan_options)), state_dir
    )


def executor_for(served: Served, timeout: int = 60, attempts: int = 5) -> Executor:
    return Executor(
        Endpoint("served", served.settings().targets["served"]),
        default_timeout=timeout,
        retry_limits=RetryLimits(max_attempts=attempts),
    )


def expired_updates(directory: Path, count: int) -> tuple[Path, list[int]]:
    """A SUSDB whose only obsolete updates are ``count`` expired ones (spDeleteUpdate takes
    them); returns its path and their LocalUpdateIDs."""
    builder = CatalogBuilder(directory / "expired.sqlite3")
    ids = [
        builder.local_id(builder.update(f"Expired {n} (KB{n})", age_days=400, expired=True))
        for n in range(count)
    ]
    return builder.close(), ids


def present(sim: Path, local_ids: list[int]) -> list[int]:
    marks = ",".join("?" * len(local_ids))
    rows = query(
        sim,
        f"SELECT LocalUpdateID FROM tbUpdate WHERE LocalUpdateID IN ({marks})",
        tuple(local_ids),
    )
    return sorted(row[0] for row in rows)


def slow_deletions_ahead(served: Served, settings: Settings, state_dir: Path) -> None:
    """Queue the deletions while they are fast, let the runner believe they stay fast (5 ms, as
    it measured on an earlier night), then make each one take SLOW_DELETE seconds."""
    run(settings, state_dir, stages=["obsolete_updates"], dry_run=True)
    store = StateStore(state_dir)
    # Under both names deletion times are kept: without and with Microsoft's spDeleteUpdate fix.
    for timings in ("obsolete_updates", "obsolete_updates:delete_fix"):
        store.add_timing("served", timings, 1000, 5.0)
    store.close()
    served.server.clock.time_scale = COST["delete_update"] / SLOW_DELETE


# -- the nightly profile ------------------------------------------------------------------------
def test_the_nightly_profile_on_a_neglected_susdb_runs_end_to_end_through_the_driver_exactly_once(
    serve, neglected_sim, state_dir
):
    served = serve(neglected_sim, time_scale=0)
    scenario = NightlyScenario(neglected_sim)

    report = run(served.settings(stages=scenario.stages, backup={}), state_dir, profile="nightly")

    assert report.exit_code == ExitCode.OK, report.stages
    scenario.check_end_state(report, state_dir)
    # One session: the one that holds the target lock does the work (jobs/db/lock.py).
    assert served.server.stats["logins"] == 1
    # Autocommit, with transactions in T-SQL: neither driver sends a transaction-manager request
    # (TDS packet type 14, which pyodbc's autocommit=False would make Driver 18 send).
    sent = {kind for kind in served.server.stats if kind.startswith("requests ")}
    assert sent == {"requests SQL_BATCH", "requests RPC"}, sent


# -- lost connections ---------------------------------------------------------------------------
def test_a_connection_lost_before_a_decline_commits_is_reopened_and_each_decline_sent_once(
    serve, small_sim, state_dir
):
    faults = FaultPlan(rate=0.03, kinds=["link_failure"], statements=["decline_update"], seed=7)
    served = serve(small_sim, time_scale=0, faults=faults)

    report = run(served.settings(), state_dir, stages=["decline"])

    assert report.exit_code == ExitCode.OK, report.stages
    decline = report.stages[-1]
    assert decline.done > 100 and decline.failed == 0
    assert served.server.stats["dropped"] >= 3  # the server really closed sockets mid-batch
    sent = procedure_calls(small_sim, "spDeclineUpdate")
    assert max(sent.values()) == 1 and sum(sent.values()) == decline.done


def test_a_connection_lost_after_a_decline_committed_settles_the_item_instead_of_resending_it(
    serve, small_sim, state_dir
):
    served = serve(small_sim, time_scale=0, drop_after={"decline_update": 5})

    report = run(served.settings(), state_dir, stages=["decline"])

    assert served.server.stats["dropped"] == 1
    assert report.exit_code == ExitCode.OK, report.stages
    sent = procedure_calls(small_sim, "spDeclineUpdate")
    assert max(sent.values()) == 1, [item for item, count in sent.items() if count > 1]


# -- timeouts and cancels -----------------------------------------------------------------------
def test_a_statement_past_its_query_timeout_is_cancelled_and_the_server_acknowledges(
    serve, tmp_path
):
    sim, (victim,) = expired_updates(tmp_path, 1)
    served = serve(sim, time_scale=COST["delete_update"] / SLOW_DELETE)
    executor = executor_for(served, timeout=1)
    started = time.monotonic()

    with pytest.raises(StatementTimeout) as raised:
        executor.run("delete_update", [victim])

    assert raised.value.sqlstate == "HYT00"
    assert time.monotonic() - started < SLOW_DELETE - 1  # the driver's timer, not the end
    # The attention stopped it, and DONE_ATTN went back.
    assert served.server.stats["cancelled delete_update"] == 1
    assert procedure_calls(sim, "spDeleteUpdate") == Counter()  # rolled back, not committed
    # The connection is still in step: the next statement on it gets its own answer.
    assert executor.run("update_exists", [victim]).rows == [{"Present": 1}]
    executor.close()


def test_no_transaction_is_left_open_after_a_query_timeout(serve, tmp_path):
    sim, (victim,) = expired_updates(tmp_path, 1)
    executor = executor_for(serve(sim, time_scale=COST["delete_update"] / SLOW_DELETE), timeout=1)
    with pytest.raises(StatementTimeout):
        executor.run("delete_update", [victim])
    cursor = executor.connection.cursor()
    assert cursor.execute("SELECT @@TRANCOUNT AS open_transactions").fetchone()[0] == 0


def test_a_window_closing_during_a_long_delete_cancels_it_and_the_next_run_deletes_it_once(
    serve, tmp_path, state_dir
):
    sim, ids = expired_updates(tmp_path, 1)
    served = serve(sim, time_scale=0)
    settings = served.settings()
    slow_deletions_ahead(served, settings, state_dir)
    started = time.monotonic()

    cut_short = run(settings, state_dir, stages=["obsolete_updates"], max_duration_minutes=WINDOW)

    assert time.monotonic() - started < WINDOW * 60 + 1  # cancelled at the deadline
    assert served.server.stats["cancelled delete_update"] == 1
    assert served.server.stats["received delete_update"] == 1
    stage = cut_short.stages[-1]
    assert (stage.status, stage.reason) == ("partial", "deadline"), stage
    assert (stage.done, stage.failed, stage.remaining) == (0, 0, 1), stage
    assert cut_short.exit_code == ExitCode.PARTIAL
    assert cut_short.kpis_after["obsolete_backlog"] == 1  # reporting still ran after the window
    assert present(sim, ids) == ids and procedure_calls(sim, "spDeleteUpdate") == Counter()
    served.server.clock.time_scale = 0
    finished = run(settings, state_dir, stages=["obsolete_updates"])
    assert finished.exit_code == ExitCode.OK, finished.stages
    assert present(sim, ids) == [] and list(procedure_calls(sim, "spDeleteUpdate").values()) == [1]


def test_no_deletion_is_sent_after_the_window_has_closed(serve, tmp_path, state_dir):
    sim, ids = expired_updates(tmp_path, 2)
    served = serve(sim, time_scale=0)
    settings = served.settings()
    slow_deletions_ahead(served, settings, state_dir)

    run(settings, state_dir, stages=["obsolete_updates"], max_duration_minutes=WINDOW)

    assert served.server.stats["received delete_update"] == 1  # the one the window cut short
    assert present(sim, ids) == ids


# -- refusals: login, database, permission ------------------------------------------------------
def cli_run(
    served: Served, directory: Path, *args: str, password: str = PASSWORD, **target
) -> subprocess.CompletedProcess[str]:
    command = configured_command(served.config(directory, **target), directory / "state", *args)
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=cli_env(**{PASSWORD_ENV: password}),
        timeout=180,
    )


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    return result.stderr.strip().splitlines()[-1]


def test_a_wrong_password_is_exit_4_with_one_line_that_never_shows_it(
    serve, small_sim, tmp_path, odbc_driver
):
    served = serve(small_sim)
    wrong = "Not-The-Password-42"
    result = cli_run(served, tmp_path, "run", "--stage", "decline", password=wrong)
    assert result.returncode == ExitCode.REFUSED, result.stderr
    line = last_line(result)
    assert line.startswith("susdb-maint: served: could not connect to served (127.0.0.1:")
    assert "login failed for susdb_maint" in line and "(18456)" in line
    assert "targets.served.database" not in line
    assert wrong not in result.stdout + result.stderr and "Traceback" not in result.stderr
    # FreeTDS reports 18456 for a wrong password and an unknown database alike: a second login,
    # to master, tells them apart. Driver 18 reports 4060 for a database, so 18456 is the login.
    assert served.server.stats["login_failed"] == (2 if odbc_driver == FREETDS else 1)
    assert served.server.stats["logins"] == 0
    assert procedure_calls(small_sim, "spDeclineUpdate") == Counter()


def test_an_unknown_database_is_exit_4_with_one_line_naming_the_setting_and_the_databases(
    serve, small_sim, tmp_path
):
    """Admin review S02: FreeTDS said "login failed" for a misspelled database."""
    served = serve(small_sim)
    result = cli_run(served, tmp_path, "run", "--stage", "decline", database="SUSDB_NOPE")
    assert result.returncode == ExitCode.REFUSED, result.stderr
    line = last_line(result)
    assert line.startswith("susdb-maint: served: could not connect to served (127.0.0.1:")
    assert "targets.served.database: 'SUSDB_NOPE' is not a database on this server" in line
    assert "master, model, msdb, SUSDB, tempdb" in line and "login failed" not in line
    assert PASSWORD not in result.stdout + result.stderr and "Traceback" not in result.stderr
    # One refused login to SUSDB_NOPE, one accepted to master that read sys.databases.
    assert served.server.stats["login_failed"] == 1 and served.server.stats["logins"] == 1
    assert served.server.stats["received database_names"] == 1
    assert procedure_calls(small_sim, "spDeclineUpdate") == Counter()


def test_a_permission_refused_mid_stage_fails_that_stage_with_exit_1_and_sends_nothing(
    serve, small_sim, tmp_path
):
    # README's exit codes: a stage that failed is 1; 4 is kept for refused logins and gates.
    faults = FaultPlan(rate=1.0, kinds=["permission_denied"], statements=["decline_update"])
    served = serve(small_sim, time_scale=0, faults=faults)
    result = cli_run(served, tmp_path, "run", "--stage", "decline")
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    failure = next(event for event in events if event["event"] == "stage.fail")
    assert failure["error_kind"] == "not_permitted"
    assert "EXECUTE permission was denied" in failure["error"]
    assert procedure_calls(small_sim, "spDeclineUpdate") == Counter()
    assert result.returncode == ExitCode.STAGE_FAILED, result.stderr[-2000:]


# -- a stop request -----------------------------------------------------------------------------
def test_sigterm_mid_statement_stops_after_the_item_on_the_same_session(serve, tmp_path):
    """SIGTERM while the driver waits for the server's reply must not reach that read: Driver 18
    reports an interrupted read as a lost link (error 10004), and the run would reconnect and
    resend instead of stopping after the item."""
    sim, _ = expired_updates(tmp_path, 20)
    served = serve(sim, time_scale=0, latency=0.2)  # each statement waits 0.2 s for its reply
    command = configured_command(
        served.config(tmp_path), tmp_path / "state", "run", "--stage", "obsolete_updates"
    )
    running = subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, env=cli_env(**{PASSWORD_ENV: PASSWORD})
    )
    assert running.stderr is not None
    for line in running.stderr:  # wait until the run is deleting, then stop it mid-statement
        if '"stage.start"' in line and "obsolete_updates" in line:
            break
    time.sleep(1.0)
    running.send_signal(signal.SIGTERM)
    rest = running.stderr.read()
    assert running.wait(timeout=60) == ExitCode.PARTIAL, rest[-2000:]
    assert served.server.stats["logins"] == 1, rest[-2000:]
    assert '"retry"' not in rest and "lock.reacquired" not in rest, rest[-2000:]


# -- the target lock ----------------------------------------------------------------------------
def test_a_second_run_on_the_same_database_through_another_connection_exits_5(serve, tmp_path):
    sim, _ = expired_updates(tmp_path, 20)
    # Every statement takes 0.1 s (outside the file's write lock, so the second run's statements
    # are not queued behind the first run's): the first run stays long enough.
    served = serve(sim, time_scale=0, latency=0.1)
    config = served.config(tmp_path)
    environment = cli_env(**{PASSWORD_ENV: PASSWORD})

    def command(state: str) -> list[str]:
        # Separate state directories, so separate local lock files: only the server's is shared.
        return configured_command(config, tmp_path / state, "run", "--stage", "obsolete_updates")

    first = subprocess.Popen(command("first"), stderr=subprocess.PIPE, text=True, env=environment)
    try:
        assert first.stderr is not None
        for line in first.stderr:  # wait until the first run holds the lock and is working
            if '"stage.start"' in line and "obsolete_updates" in line:
                break
        second = subprocess.run(
            command("second"), capture_output=True, text=True, env=environment, timeout=60
        )
        # One session a run: the first run's, which holds the lock and does the work, and the
        # second's, refused the lock before it sent any work.
        logins = served.server.stats["logins"]
    finally:
        first.terminate()
        first.wait(timeout=30)
    assert second.returncode == ExitCode.LOCKED, second.stderr
    assert "lock" in last_line(second)
    assert logins == 2, second.stderr


# -- how FreeTDS sends statements ---------------------------------------------------------------
def test_each_parameterized_statement_is_sent_as_sp_prepexec_then_unprepared(
    serve, small_sim, odbc_driver
):
    served = serve(small_sim, time_scale=0)
    cursor = executor_for(served).connection.cursor()
    text = statement("update_exists").text
    present = [
        len(query(small_sim, "SELECT 1 FROM tbUpdate WHERE LocalUpdateID = ?", (n,)))
        for n in (1, 99_999)
    ]

    results = [cursor.execute(text, local_id).fetchone()[0] for local_id in (1, 99_999)]
    cursor.close()

    assert results == present
    # pyodbc binds the parameters again on each execute, and the driver prepares again: one
    # sp_prepexec per execution. FreeTDS unprepares each at once (the second round trip of each
    # item); Driver 18 sends the last one's sp_unprepare with the session's next request, so a
    # whole run stays balanced (the nightly test checks that).
    stats = served.server.stats
    unprepared = 2 if odbc_driver == FREETDS else 1
    assert (stats["rpc sp_prepexec"], stats["rpc sp_execute"], stats["rpc sp_unprepare"]) == (
        2,
        0,
        unprepared,
    )


# -- the classifier against FreeTDS's own text --------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("deadlock", "transient"),
        ("lock_timeout", "transient"),
        ("permission_denied", "not_permitted"),
        ("login_failed", "login_failed"),
        ("replica", "replica"),
        ("link_failure", "connection_lost"),
        ("query_timeout", "timeout"),  # the statement stalls until the driver's timer cancels it
    ],
)
def test_freetds_errors_from_the_server_classify_as_the_classifier_table_says(
    serve, small_sim, kind, expected
):
    faults = FaultPlan(rate=1.0, kinds=[kind], statements=["update_exists"])
    # One attempt: the error as it comes, not the executor's retries of a transient one.
    executor = executor_for(serve(small_sim, time_scale=0, faults=faults), timeout=1, attempts=1)
    with pytest.raises(DatabaseError) as raised:
        executor.run("update_exists", [1])
    assert raised.value.kind == expected, raised.value
    assert not str(raised.value).startswith("[")  # the driver's prefixes are stripped
    if kind == "link_failure":  # and the next statement on the dead connection
        with pytest.raises(DatabaseError) as again:
            executor.run("update_exists", [1])
        assert again.value.kind == "connection_lost", again.value
    executor.close()


def test_spdeleteupdates_still_referenced_refusal_classifies_as_still_referenced(serve, tmp_path):
    builder = CatalogBuilder(tmp_path / "expired.sqlite3")
    needed = builder.update("Expired 0 (KB0)", age_days=400, expired=True)
    needing = builder.update("Expired 1 (KB1)", age_days=400, expired=True)
    builder.prerequisite(needing, needed)
    needed_local_id = builder.local_id(needed)
    sim = builder.close()
    executor = executor_for(serve(sim, time_scale=0))
    with pytest.raises(StillReferenced) as raised:
        executor.run("delete_update", [needed_local_id])
    assert raised.value.native == 50000 and "still referenced" in str(raised.value)
    executor.close()


def test_login_and_database_refusals_classify_as_login_failed(serve, small_sim, odbc_driver):
    """SQL Server refuses an unknown database with error 4060, then 18456. FreeTDS reports the
    last of them, Driver 18 the first; both are a refused login. A second login, to master, tells
    a wrong password (master refuses it too) from a wrong database (master accepts it): the
    database's refusal is 4060 through both drivers, and names the setting."""
    served = serve(small_sim)
    os.environ["SUSDB_TEST_WRONG_PASSWORD"] = "wrong"
    for target, native, says in (
        ({"password_env": "SUSDB_TEST_WRONG_PASSWORD"}, 18456, "login failed for susdb_maint"),
        ({"database": "SUSDB_NOPE"}, 4060, "targets.served.database: 'SUSDB_NOPE'"),
    ):
        endpoint = Endpoint("served", served.settings(target=target).targets["served"])
        with pytest.raises(LoginFailed) as raised:
            open_connection(endpoint)
        assert raised.value.native == native and says in str(raised.value)


def test_a_login_to_master_reads_the_servers_databases_and_no_susdb_object(
    serve, small_sim, odbc_driver
):
    """Any login opens master and reads every database's name in sys.databases: VIEW ANY
    DATABASE is granted to public by default (Microsoft Learn, sys.databases). SUSDB's objects
    are not in master: 208, Invalid object name."""
    served = serve(small_sim, database="SUSDB_LAB")
    endpoint = Endpoint("served", served.settings(target={"database": "master"}).targets["served"])
    connection = open_connection(endpoint)
    try:
        rows = connection.cursor().execute(statement("database_names").text).fetchall()
        assert sorted(row[0] for row in rows) == ["SUSDB_LAB", "master", "model", "msdb", "tempdb"]
        with pytest.raises(pyodbc.Error) as missing:
            connection.cursor().execute("SELECT COUNT(*) FROM dbo.tbUpdate")
        assert classify(missing.value).native == 208
    finally:
        connection.close()


def test_timeout_and_cancel_classify_as_statement_timeouts(serve, tmp_path, odbc_driver):
    """A query timeout is HYT00 through both drivers. A cancel from another thread is HY008
    through FreeTDS; through Driver 18 the statement either returns as if it had succeeded, with
    no result, or fails with HY010 (a function sequence error from SQLRowCount), depending on
    when the cancel lands. The executor reads a statement its watchdog cancelled as interrupted,
    whatever the driver says: test_a_window_closing_during_a_long_delete_..."""
    sim, victims = expired_updates(tmp_path, 2)
    served = serve(sim, time_scale=COST["delete_update"] / SLOW_DELETE)
    connection = executor_for(served).connection
    connection.timeout = 1
    delete = "-- name: delete_update\nEXEC dbo.spDeleteUpdate @localUpdateID = ?"
    with pytest.raises(Exception) as timed_out:
        connection.cursor().execute(delete, victims[0])
    connection.timeout = 0
    cursor = connection.cursor()
    threading.Timer(0.5, cursor.cancel).start()
    assert (classify(timed_out.value).sqlstate, classify(timed_out.value).kind) == (
        "HYT00",
        "timeout",
    )
    if odbc_driver == FREETDS:
        with pytest.raises(Exception) as cancelled:
            cursor.execute(delete, victims[1])
        assert (classify(cancelled.value).sqlstate, classify(cancelled.value).kind) == (
            "HY008",
            "timeout",
        )
    else:
        try:
            cursor.execute(delete, victims[1])
        except pyodbc.Error as error:
            assert classify(error).sqlstate == "HY010", error
        else:
            assert cursor.description is None and not cursor.nextset()
    assert served.server.stats["cancelled delete_update"] == 2
    assert present(sim, victims) == victims
