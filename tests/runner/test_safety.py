"""Never harm a SUSDB: work is bound to its database, one run per database, no transaction left
open, gates that fail closed, a guard on what is really deleted, a window that a late start
cannot stretch into the working day."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobs.db.connection import Endpoint
from jobs.db.executor import Executor
from jobs.exit_codes import ExitCode
from jobs.runner.options import RunOptions
from jobs.simulator import create
from jobs.simulator.catalog import preset_profile
from jobs.state.store import StateStore
from tests.catalog import SimulatedServer
from tests.helpers import CatalogBuilder, held_lock, query, run, settings_for

LONG = 100_000


def calls(path: Path, procedure: str) -> Counter[str]:
    return Counter(
        arguments
        for (arguments,) in query(
            path, "SELECT arguments FROM sim_call_log WHERE procedure = ?", (procedure,)
        )
    )


def obsolete_ids(path: Path) -> set[int]:
    from jobs.simulator import connect

    connection = connect(path)
    try:
        rows, _ = connection.server.spGetObsoleteUpdatesToCleanup()
        return {row[0] for row in rows.rows}
    finally:
        connection.close()


# -- 1. work belongs to one database -------------------------------------------------------------
@pytest.mark.slow
def test_a_queue_found_in_one_database_is_never_sent_to_another(tmp_path, state_dir, event_log):
    first = tmp_path / "a.sqlite3"
    other = tmp_path / "b.sqlite3"
    create(first, preset_profile("neglected", updates=3000, seed=21))
    create(other, preset_profile("neglected", updates=3000, seed=22))
    # A short window leaves most of the first database's obsolete updates queued.
    left = run(
        settings_for(first, backup={"gate": "off"}),
        state_dir,
        stages=["obsolete_updates"],
        max_duration_minutes=30,
    )
    assert left.exit_code == ExitCode.PARTIAL and left.stages[-1].remaining > 0
    obsolete_in_other = obsolete_ids(other)

    # The same target name now points at another database: none of the stored items go there.
    moved = run(
        settings_for(other, backup={"gate": "off"}),
        state_dir,
        stages=["obsolete_updates"],
        max_duration_minutes=30,
    )
    deleted = {int(arguments.strip("[]")) for arguments in calls(other, "spDeleteUpdate")}
    assert deleted and deleted <= obsolete_in_other
    (changed,) = event_log.named("target.database_changed")
    assert changed["run_id"] == moved.run_id

    # Back on the first database, its own queue resumes where it stopped.
    back = run(
        settings_for(first, backup={"gate": "off"}),
        state_dir,
        stages=["obsolete_updates"],
        max_duration_minutes=LONG,
    )
    assert back.exit_code == ExitCode.OK
    assert max(calls(first, "spDeleteUpdate").values()) == 1
    resumed = [
        event
        for event in event_log.all()
        if event.get("run_id") == back.run_id and event["event"].startswith("queue.")
    ]
    assert resumed[0]["event"] == "queue.resume"


def test_the_demo_and_a_simulator_config_have_different_target_names():
    from jobs.demo import DEMO_TARGET
    from jobs.settings.render import example_config

    assert f"[targets.{DEMO_TARGET}]" not in example_config("/tmp/mine.sqlite3")


# -- 2. one run per database, whatever the configs call it -----------------------------------------
def test_two_target_names_for_one_database_exclude_each_other(small_sim, tmp_path):
    one = settings_for(small_sim, backup={"gate": "off"})
    other = settings_for(small_sim, backup={"gate": "off"})
    other.targets["wsus-by-another-name"] = other.targets.pop("sim")
    with held_lock(Endpoint("sim", one.targets["sim"]), tmp_path / "state"):
        same_host = run(
            other, tmp_path / "state", target="wsus-by-another-name", stages=["decline"]
        )
        other_host = run(
            other, tmp_path / "elsewhere", target="wsus-by-another-name", stages=["decline"]
        )
    assert same_host.exit_code == ExitCode.LOCKED == other_host.exit_code
    assert "sp_getapplock" in (other_host.error or "")
    assert not calls(small_sim, "spDeclineUpdate")


def _seed_where(passes: int, rate: float) -> int:
    """A fault seed whose first ``passes`` draws pass and whose next one strikes."""
    for seed in range(10_000):
        draws = random.Random(seed)
        if all(draws.random() >= rate for _ in range(passes)) and draws.random() < rate:
            return seed
    raise AssertionError("no seed")


def _lost_link_settings(small_sim, seed_passes: int):
    return settings_for(
        small_sim,
        backup={"gate": "off"},
        runner={"batch_target_seconds": 1},
        stages={"decline": {"min_age_days": 0}},
        target={
            "faults": {
                # Rare enough that a retry after the drop succeeds: the test is about the
                # reconnect, not about exhausting retries (the number of checks varies with time).
                "rate": 0.05,
                "kinds": ["link_failure"],
                "statements": ["check_target_lock"],
                "seed": _seed_where(seed_passes, 0.05),
            }
        },
    )


@pytest.mark.slow
def test_a_run_whose_connection_drops_takes_the_lock_again_on_its_new_session(
    small_sim, state_dir, event_log
):
    """The session that holds the lock does the work: after a reconnect the new session takes
    the lock again before anything else, and the night goes on, each decline sent once."""
    from jobs.simulator import faults

    faults.forget_streams()
    report = run(_lost_link_settings(small_sim, 3), state_dir, stages=["decline"])
    assert report.exit_code == ExitCode.OK, report.stages
    assert event_log.named("lock.reacquired")
    sent = calls(small_sim, "spDeclineUpdate")
    assert sent and max(sent.values()) == 1


def test_a_run_whose_lock_was_taken_while_it_reconnected_stops_with_exit_5(
    small_sim, state_dir, monkeypatch
):
    """network-review D1: another host took the lock the moment the first one's session ended;
    the first host must not send one more statement of work."""
    from jobs.db import lock as lock_module
    from jobs.simulator import faults

    faults.forget_streams()
    settings = _lost_link_settings(small_sim, 3)
    other_host: list[Executor] = []
    original = lock_module.TargetLock._take_again

    def another_host_takes_it_first(self: lock_module.TargetLock) -> None:
        if not other_host:
            other = Executor(Endpoint("other-host", settings.targets["sim"]))
            assert other.run("acquire_target_lock", [lock_module.RESOURCE]).rows[0]["Result"] >= 0
            other_host.append(other)
        original(self)

    monkeypatch.setattr(lock_module.TargetLock, "_take_again", another_host_takes_it_first)
    try:
        before = sum(calls(small_sim, "spDeclineUpdate").values())
        report = run(settings, state_dir, stages=["decline", "obsolete_updates"])
        sent_by_the_first = sum(calls(small_sim, "spDeclineUpdate").values()) - before
    finally:
        for executor in other_host:
            executor.close()
    assert report.exit_code == ExitCode.LOCKED
    assert "another run took the lock" in (report.error or "")
    assert 0 < sent_by_the_first < 40  # the batches before the drop, nothing after
    assert not calls(small_sim, "spDeleteUpdate")
    assert StateStore(state_dir).runs("sim")[0]["status"] == "failed"
    # network-review D4: the stage the lost lock ended still says what it did, in the report,
    # the run's history and its decline records alike.
    (stopped,) = [result for result in report.stages if result.stage == "decline"]
    assert stopped.status == "failed" and stopped.done > 0
    with sqlite3.connect(state_dir / "state.sqlite3") as db:
        (recorded,) = db.execute(
            "SELECT done FROM stage_results WHERE run_id = ? AND stage = 'decline'",
            (report.run_id,),
        ).fetchone()
        (declined,) = db.execute(
            "SELECT COUNT(*) FROM declined_updates WHERE run_id = ?", (report.run_id,)
        ).fetchone()
    assert recorded == stopped.done == declined
    # Everything the batch settled before the lock went is in the history; only the decline
    # whose reply the drop took (at most one) waits for this host's next run to be verified.
    assert sent_by_the_first - declined <= 1


# -- 3. no transaction left open ---------------------------------------------------------------------
@pytest.mark.slow
def test_a_cancelled_delete_leaves_no_transaction_open_and_nothing_done_is_rolled_back(
    neglected_sim, state_dir, event_log
):
    from jobs.simulator import faults

    faults.forget_streams()
    settings = settings_for(
        neglected_sim,
        backup={"gate": "off"},
        target={
            "faults": {
                "rate": 0.3,
                "kinds": ["query_timeout"],
                "statements": ["delete_update"],
                "seed": 4,
            }
        },
    )
    report = run(
        settings, state_dir, stages=["obsolete_updates", "compress"], max_duration_minutes=600
    )
    obsolete, compress = report.stages[-2], report.stages[-1]
    assert obsolete.failed > 0  # the timeouts happened
    assert event_log.named("transaction.rolled_back")
    # Every item recorded as done is done in SUSDB: nothing nested in an orphaned transaction
    # was rolled back when the connection closed.
    assert obsolete.done == sum(calls(neglected_sim, "spDeleteUpdate").values())
    assert compress.done == sum(calls(neglected_sim, "spCompressUpdate").values())
    assert compress.done > 0


def test_every_session_yields_deadlocks_and_lock_waits_to_wsus(small_sim):
    from jobs.db.executor import Executor

    executor = Executor(Endpoint("sim", settings_for(small_sim).targets["sim"]))
    options = executor.connection.session_options
    assert options["DEADLOCK_PRIORITY"] == "LOW"
    executor.run("database_identity")  # the tool's own statements give up a lock wait at 30 s
    assert options["LOCK_TIMEOUT"] == "30000"
    executor.close()
    # WSUS's own procedures run with -1: tests/simulator/test_procedures.py


# -- 4. gates fail closed ------------------------------------------------------------------------
def test_a_preflight_that_fails_before_the_gate_refuses_destructive_stages(small_sim, state_dir):
    settings = settings_for(
        small_sim,
        target={
            "faults": {"rate": 1.0, "kinds": ["permission_denied"], "statements": ["server_info"]}
        },
    )
    report = run(settings, state_dir, stages=["decline", "sync_history"])
    statuses = {stage.stage: stage.status for stage in report.stages}
    assert statuses == {"preflight": "failed", "decline": "refused", "sync_history": "refused"}
    assert report.exit_code == ExitCode.REFUSED
    reason = report.stages[1].reason
    assert "backup gate has not passed" in reason and "backup.gate" in reason
    assert not calls(small_sim, "spDeclineUpdate")


def test_unreadable_backup_history_refuses_destructive_stages(small_sim, state_dir):
    settings = settings_for(
        small_sim,
        target={
            "faults": {
                "rate": 1.0,
                "kinds": ["permission_denied"],
                "statements": ["last_full_backup"],
            }
        },
    )
    report = run(settings, state_dir, stages=["decline"])
    assert report.exit_code == ExitCode.REFUSED
    assert report.stages[0].status == "done"
    assert "cannot read the backup history" in report.stages[1].reason
    assert "nightly-with-backup" in report.stages[1].reason


def test_a_failed_backup_stage_refuses_destructive_stages_even_with_an_older_backup(
    small_sim, state_dir, tmp_path
):
    backups = tmp_path / "backups"
    backups.mkdir()
    settings = settings_for(
        small_sim,
        backup={"directory": str(backups)},
        target={
            "faults": {
                "rate": 1.0,
                "kinds": ["permission_denied"],
                "statements": ["backup_database"],
            }
        },
    )
    report = run(settings, state_dir, stages=["preflight", "backup", "decline"])
    statuses = [stage.status for stage in report.stages]
    assert statuses == ["done", "failed", "refused"]
    assert report.exit_code == ExitCode.REFUSED
    assert "the backup failed" in report.stages[-1].reason


def test_each_backup_is_a_new_file_and_only_the_newest_are_kept(tmp_path, state_dir):
    builder = CatalogBuilder(tmp_path / "b.sqlite3", backup_age_hours=None)
    builder.update("Old (KB1)", age_days=100)
    path = builder.close()
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "SUSDB_20200101T000000Z.bak").write_text("an administrator's older backup")
    (backups / "mine.bak").write_text("not ours: never touched")
    settings = settings_for(path, backup={"directory": str(backups), "keep": 2})
    for _ in range(3):
        report = run(settings, state_dir, profile="nightly-with-backup", max_duration_minutes=LONG)
        assert report.stages[0].stage == "backup" and report.stages[0].status == "done"
        assert report.exit_code == ExitCode.OK, report.stages
    ours = sorted(path.name for path in backups.glob("SUSDB_*-*.bak"))
    assert len(ours) == 2 and f"SUSDB_{report.run_id}.bak" in ours  # the newest is kept
    assert (backups / "mine.bak").exists()  # not ours: never touched
    assert (backups / "SUSDB_20200101T000000Z.bak").exists()
    devices = [row[0] for row in query(path, "SELECT physical_device_name FROM sim_backupset")]
    assert len(set(devices)) == 3  # never the same file twice


def test_without_backups_the_refusal_names_the_way_out(tmp_path, state_dir):
    builder = CatalogBuilder(tmp_path / "n.sqlite3", backup_age_hours=None)
    builder.update("Old (KB1)", age_days=100)
    report = run(settings_for(builder.close()), state_dir, stages=["decline"])
    reason = report.stages[-1].reason
    assert report.exit_code == ExitCode.REFUSED
    assert "backup.directory" in reason and 'backup.gate = "advisory"' in reason


# -- 5. the computers guard counts what will be deleted ---------------------------------------------
def _computers(
    path: Path, silent_status: int, silent_both: int, active: int, silent_sync: int = 0
) -> SimulatedServer:
    """Only these computers: some silent by LastReportedStatusTime only (they synchronize, their
    status reports stopped), some by LastSyncTime only (their synchronization broke, they still
    report), some silent by both dates, some active."""
    server = SimulatedServer(path)
    server.no_computers()
    server.computers("REPORTING-BROKE", silent_status, synced_hours=48, reported_hours=120 * 24)
    server.computers("SYNC-BROKE", silent_sync, synced_hours=120 * 24, reported_hours=48)
    server.computers("SILENT", silent_both, synced_hours=120 * 24)
    server.computers("ACTIVE", active, synced_hours=48)
    return server


def test_the_computers_guard_refuses_from_its_estimate_without_calling_wsus(small_sim, state_dir):
    """Decline review N3: over the limits, two nights in a row, the deletion is never started:
    one read a night, not a delete of thousands of computers (and their status rows, every lock
    held) rolled back. The estimate counts computers silent by either date column: the most that
    can go, whichever one WSUS tests (which one is not public)."""
    from jobs.simulator.dbapi import started_calls

    server = _computers(small_sim, silent_status=0, silent_both=187, active=2000)
    server.obsolete_computers(column="LastReportedStatusTime")
    guarded = settings_for(
        small_sim, backup={"gate": "off"}, stages={"computers": {"guard_count": 150}}
    )
    # The plan says what the run will do: refuse (a review found "would run 187", exit 0).
    plan = run(guarded, state_dir, stages=["computers"], dry_run=True)
    assert (plan.exit_code, plan.stages[-1].status) == (ExitCode.REFUSED, "refused")
    for _night in (1, 2):
        report = run(guarded, state_dir, stages=["computers"])
        assert report.exit_code == ExitCode.REFUSED
        reason = report.stages[-1].reason or ""
        assert "187 of 2187 computers" in reason and "not called" in reason
    assert started_calls(small_sim, "spCleanupObsoleteComputers") == 0
    assert query(small_sim, "SELECT COUNT(*) FROM tbComputerTarget") == [(2187,)]

    allowed = settings_for(
        small_sim, backup={"gate": "off"}, stages={"computers": {"guard_count": 200}}
    )
    done = run(allowed, state_dir, stages=["computers"])
    assert done.exit_code == ExitCode.OK and done.stages[-1].done == 187
    assert query(small_sim, "SELECT COUNT(*) FROM tbComputerTarget") == [(2000,)]


def test_clients_whose_reporting_broke_are_counted_not_refused_every_night(small_sim, state_dir):
    """Silent by one date only (they synchronize, their status reports stopped): in the estimate's
    upper figure, which is under the limits here, so the procedure is called; what WSUS really
    deletes is counted in the transaction. They go, and the night is not refused."""
    server = _computers(small_sim, silent_status=38, silent_both=10, active=2000)
    server.obsolete_computers(column="LastReportedStatusTime")
    report = run(
        settings_for(small_sim, backup={"gate": "off"}, stages={"computers": {"guard_count": 100}}),
        state_dir,
        stages=["computers"],
    )
    assert report.exit_code == ExitCode.OK and report.stages[-1].done == 48


def test_thousands_silent_by_one_date_only_never_start_a_deletion(small_sim, state_dir):
    """Issue 24: 2,000 computers silent by one date only (1,200 whose synchronization broke but
    which still report, 800 the reverse), none by both, and a server whose procedure deletes by
    either date (the dangerous alternative: which column WSUS tests is not public). Over the
    limits, two nights in a row, the procedure is never called: refused from the upper estimate,
    with both figures and the settings that would let it run. Raised as the line says, WSUS
    deletes them all in one night."""
    from jobs.simulator.dbapi import started_calls

    server = _computers(small_sim, silent_status=800, silent_both=0, active=2000, silent_sync=1200)
    server.obsolete_computers(column="either")
    guarded = settings_for(small_sim, backup={"gate": "off"})  # 500 computers, 25%
    for _night in (1, 2):
        report = run(guarded, state_dir, stages=["computers"])
        assert report.exit_code == ExitCode.REFUSED
        reason = report.stages[-1].reason or ""
        assert "up to 2000 of 4000 computers (50.0%)" in reason
        assert "(0 by both)" in reason and "was not called" in reason
        assert "guard_count to 2000" in reason and "guard_percent to 50" in reason
        assert report.stages[-1].detail["estimated_at_least"] == 0
    assert started_calls(small_sim, "spCleanupObsoleteComputers") == 0
    assert calls(small_sim, "spCleanupObsoleteComputers") == Counter()
    assert query(small_sim, "SELECT COUNT(*) FROM tbComputerTarget") == [(4000,)]

    raised = settings_for(
        small_sim,
        backup={"gate": "off"},
        stages={"computers": {"guard_count": 2000, "guard_percent": 50}},
    )
    done = run(raised, state_dir, stages=["computers"])
    assert done.exit_code == ExitCode.OK and done.stages[-1].done == 2000
    assert started_calls(small_sim, "spCleanupObsoleteComputers") == 1


def test_the_computers_guard_still_counts_what_wsus_really_deletes(small_sim, state_dir):
    """The estimate assumes WSUS's default threshold (30 days); a server set to 10 days deletes
    more than estimated: the transactional count is the backstop, and rolls it back."""
    server = _computers(small_sim, silent_status=0, silent_both=20, active=0)
    server.computers("LAPTOP", 200, synced_hours=14 * 24)
    server.obsolete_computers(days=10)
    guarded = settings_for(
        small_sim, backup={"gate": "off"}, stages={"computers": {"guard_count": 100}}
    )
    report = run(guarded, state_dir, stages=["computers"])
    assert report.exit_code == ExitCode.REFUSED
    assert "deleted 220 of 220 computers" in (report.stages[-1].reason or "")
    assert query(small_sim, "SELECT COUNT(*) FROM tbComputerTarget") == [(220,)]


def test_inactive_days_is_refused_because_the_server_decides(small_sim):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="WSUS's own threshold"):
        settings_for(small_sim, stages={"computers": {"inactive_days": 90}})


# -- 7. a late start never runs into the working day -----------------------------------------------
def _hhmm(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M")


@pytest.mark.slow
def test_a_start_after_the_window_closed_does_no_work(small_sim, state_dir, event_log):
    now = datetime.now(UTC)
    settings = settings_for(
        small_sim, backup={"gate": "off"}, window={"until": _hhmm(now - timedelta(hours=3))}
    )
    late = run(settings, state_dir, stages=["decline"])
    assert late.exit_code == ExitCode.PARTIAL
    assert "window" in (late.error or "") and "--run-late" in late.error
    assert {stage.status for stage in late.stages} == {"deferred"}
    assert not calls(small_sim, "spDeclineUpdate")
    assert StateStore(state_dir).runs("sim")[0]["exit_code"] == 3
    anyway = run(settings, state_dir, stages=["decline"], run_late=True)
    assert anyway.exit_code == ExitCode.OK and calls(small_sim, "spDeclineUpdate")


@pytest.mark.slow
def test_a_window_that_closes_before_preflight_defers_the_deleting_stages_exit_3(
    neglected_sim, state_dir
):
    # The before-KPIs (with the full obsolete scan, as the demo counts them) use up a one-minute
    # window: preflight never ran, so nothing was judged. That is a closed window (exit 3), not a
    # refusal telling the administrator to turn the backup gate off (exit 4).

    from jobs.runner.plan import build_plan
    from jobs.runner.run import execute_plan

    plan = build_plan(
        settings_for(neglected_sim),
        RunOptions(target="sim", profile="nightly", max_duration_minutes=0.01),
    )
    plan.count_obsolete_kpi = True
    report = execute_plan(plan, state_dir)
    statuses = {result.stage: result.status for result in report.stages}
    assert statuses["preflight"] == "deferred"
    assert statuses["decline"] == statuses["obsolete_updates"] == "deferred"
    assert report.exit_code == ExitCode.PARTIAL
    assert not calls(neglected_sim, "spDeclineUpdate") and not calls(
        neglected_sim, "spDeleteUpdate"
    )


def test_a_gate_that_refused_still_refuses_when_the_window_then_closes(small_sim, state_dir):
    stale = settings_for(small_sim, backup={"gate": "required", "max_age_hours": 0.001})
    report = run(stale, state_dir, profile="nightly", max_duration_minutes=0.01)
    statuses = {result.stage: result.status for result in report.stages}
    assert statuses["preflight"] == "done" and statuses["decline"] == "refused"
    assert report.exit_code == ExitCode.REFUSED


def test_a_named_profile_keeps_its_window_when_stages_are_picked(small_sim):
    from jobs.runner.plan import build_plan

    settings = settings_for(small_sim)
    one_stage = build_plan(
        settings, RunOptions(target="sim", profile="nightly", stages=["obsolete_updates"])
    )
    nightly = build_plan(settings, RunOptions(target="sim", profile="nightly"))
    assert "obsolete_updates" in one_stage.stages and "decline" not in one_stage.stages
    assert one_stage.max_duration_minutes == nightly.max_duration_minutes == 240
    assert one_stage.profile == "nightly"
    # Stages alone: the [window] section's limits, no profile's.
    assert (
        build_plan(settings, RunOptions(target="sim", profile=None, stages=["health"])).profile
        == "custom"
    )


def test_an_unknown_profile_is_refused_with_stages_too(small_sim):
    from jobs.errors import UsageError
    from jobs.runner.plan import build_plan

    with pytest.raises(UsageError, match="--profile 'nope' is not defined"):
        build_plan(
            settings_for(small_sim), RunOptions(target="sim", profile="nope", stages=["health"])
        )
    with pytest.raises(UsageError, match="--profile '' is not defined"):
        build_plan(settings_for(small_sim), RunOptions(target="sim", profile=""))


def test_a_window_with_a_start_time_refuses_an_early_start_too(small_sim, state_dir):
    now = datetime.now(UTC)
    settings = settings_for(
        small_sim,
        backup={"gate": "off"},
        window={
            "start": _hhmm(now + timedelta(hours=1)),
            "until": _hhmm(now + timedelta(hours=4)),
        },
    )
    assert run(settings, state_dir, stages=["decline"]).exit_code == ExitCode.PARTIAL
    assert not calls(small_sim, "spDeclineUpdate")


@pytest.mark.slow
def test_a_reconnect_that_could_not_take_the_lock_again_sends_no_work_on_that_session(small_sim):
    """A reconnect whose lock statement failed leaves a session without the lock: the next
    statement of work must reconnect (and take the lock) first, never run on it."""
    from jobs.errors import ConnectionLost

    executor = Executor(Endpoint("sim", settings_for(small_sim).targets["sim"]))
    takes: list[str] = []

    def take_the_lock_again() -> None:
        takes.append("take")
        if len(takes) == 1:
            raise ConnectionLost("link lost while taking the lock again")

    executor.on_connect = take_the_lock_again
    try:
        with pytest.raises(ConnectionLost):
            executor.reconnect()
        rows = executor.run("server_info").rows  # reconnects, takes the lock, then runs
        assert rows and takes == ["take", "take"]
    finally:
        executor.on_connect = None
        executor.close()
