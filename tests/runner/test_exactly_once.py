"""Exactly once and progress under the failures real networks and servers produce: lost replies,
late timeouts, updates deleted behind the queue, nightly rebuilds, a busy state store, windows,
clock steps, transient errors outside queue items, a broken state store."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from jobs.clock import SystemClock
from jobs.errors import StateError
from jobs.exit_codes import ExitCode
from jobs.simulator import create, faults
from jobs.simulator.catalog import preset_profile
from jobs.state.store import StateStore, spool_owner
from tests.helpers import cli_env, query, run, settings_for, simulated_command

LONG = 100_000


def calls(path: Path, procedure: str) -> Counter[str]:
    return Counter(
        arguments
        for (arguments,) in query(
            path, "SELECT arguments FROM sim_call_log WHERE procedure = ?", (procedure,)
        )
    )


def declined_in_history(state_dir: Path) -> list[str]:
    db = sqlite3.connect(state_dir / "state.sqlite3")
    try:
        return [row[0] for row in db.execute("SELECT update_id FROM declined_updates")]
    finally:
        db.close()


def sent_declines(path: Path) -> set[str]:
    return {json.loads(arguments)[0].upper() for arguments in calls(path, "spDeclineUpdate")}


# -- 1 and 9: a lost reply, a late timeout: verified before anything is sent again -----------------
@pytest.mark.slow
def test_fault_soak_with_lost_replies_and_late_timeouts_repeats_nothing(tmp_path, state_dir):
    faults.forget_streams()
    sim = tmp_path / "soak.sqlite3"
    create(sim, preset_profile("neglected", updates=6000, seed=41, delete_fix=True))
    settings = settings_for(
        sim,
        backup={"gate": "off"},
        target={
            "faults": {
                "rate": 0.05,
                "kinds": ["reply_lost", "timeout_after_commit", "deadlock", "link_failure"],
                "seed": 8,
                "statements": ["decline_update", "delete_update", "compress_update"],
            }
        },
    )
    report = run(
        settings,
        state_dir,
        stages=["decline", "obsolete_updates", "compress"],
        max_duration_minutes=LONG,
    )
    assert report.exit_code == ExitCode.OK, report.stages
    assert all(stage.failed == 0 for stage in report.stages)
    for procedure in ("spDeclineUpdate", "spDeleteUpdate", "spCompressUpdate"):
        sent = calls(sim, procedure)
        assert sent and max(sent.values()) == 1, procedure  # none twice
    history = declined_in_history(state_dir)
    assert len(history) == len(set(history)) == len(sent_declines(sim))  # no false rows
    assert set(history) == sent_declines(sim)


# -- 2: updates that are gone -------------------------------------------------------------------
@pytest.mark.slow
def test_an_update_deleted_behind_the_decline_queue_is_gone_not_failed_nor_declined(
    tmp_path, state_dir
):
    neglected_sim = tmp_path / "n.sqlite3"
    # 2,500 updates: about 200 of the expired ones queued for decline are deleted first.
    create(neglected_sim, preset_profile("neglected", updates=2500, seed=43, delete_fix=True))
    # The issue's repro: a decline queue that outlives its run (max_declines_per_run), then the
    # obsolete cleanup deletes expired updates still queued for decline.
    limited = settings_for(
        neglected_sim, backup={"gate": "off"}, stages={"decline": {"max_declines_per_run": 300}}
    )
    reports = [
        run(limited, state_dir, stages=["decline", "obsolete_updates"], max_duration_minutes=LONG),
        run(
            settings_for(neglected_sim, backup={"gate": "off"}),
            state_dir,
            stages=["decline", "obsolete_updates"],
            max_duration_minutes=LONG,
        ),
    ]
    for report in reports:
        assert report.exit_code in (ExitCode.OK, ExitCode.PARTIAL), report.stages
        assert all(stage.failed == 0 for stage in report.stages)
    gone = sum(stage.detail.get("gone", 0) for report in reports for stage in report.stages)
    assert gone > 0  # expired updates left in the decline queue were deleted by obsolete cleanup
    history = declined_in_history(state_dir)
    assert set(history) <= sent_declines(neglected_sim)  # only declines that were really sent
    assert max(calls(neglected_sim, "spDeclineUpdate").values()) == 1
    assert not StateStore(state_dir).quarantined()


# -- 3: failure counts and in-flight items survive a rebuild ---------------------------------------
@pytest.mark.slow
def test_a_nightly_cadence_quarantines_a_poison_item_on_its_third_failing_night(
    small_sim, state_dir
):
    (poison,) = query(
        small_sim,
        "SELECT UpdateID FROM vwMinimalUpdate WHERE IsSuperseded = 1 AND Declined = 0 LIMIT 1",
    )[0:1]
    db = sqlite3.connect(small_sim)
    db.execute(
        "INSERT INTO sim_meta VALUES (?, 'spDeclineUpdate: the update is damaged')",
        (f"poison:spDeclineUpdate:{poison[0]}",),
    )
    db.commit()
    db.close()
    # Every night's queue is older than queue_max_age_hours: each run rebuilds it, as nightly runs do.
    settings = settings_for(small_sim, backup={"gate": "off"}, runner={"queue_max_age_hours": 0})
    for night in (1, 2, 3):
        report = run(settings, state_dir, stages=["decline"])
        quarantined = StateStore(state_dir).quarantined("sim")
        assert report.stages[-1].failed == 1
        assert bool(quarantined) == (night == 3), night
    assert quarantined[0]["item_key"] == poison[0]
    fourth = run(settings, state_dir, stages=["decline"])
    assert fourth.exit_code == ExitCode.OK and fourth.stages[-1].failed == 0


@pytest.mark.slow
def test_a_rebuild_first_settles_what_a_killed_run_left_in_flight(small_sim, state_dir, event_log):
    settings = settings_for(small_sim, backup={"gate": "off"})
    first = run(settings, state_dir, stages=["decline"], max_duration_minutes=LONG)
    assert first.stages[-1].done > 0
    # What a SIGKILL right after the server committed leaves: an item in flight whose decline
    # reached SUSDB but never the history.
    store = StateStore(state_dir)
    database = store.run(first.run_id)["database_id"]
    update = next(iter(sent_declines(small_sim)))
    db = sqlite3.connect(state_dir / "state.sqlite3")
    db.execute("DELETE FROM declined_updates WHERE update_id = ?", (update,))
    db.execute(
        "INSERT INTO work_items (database_id, stage, ordinal, item_key, payload_json, status, "
        "attempts, run_id) VALUES (?, 'decline', 0, ?, ?, 'in_flight', 1, 'killed-run')",
        (
            database,
            update,
            json.dumps({"update_id": update, "kb": None, "title": "T", "reason": "superseded"}),
        ),
    )
    db.execute("UPDATE queues SET created_at = '2000-01-01T00:00:00Z'")  # stale: rebuilt
    db.commit()
    db.close()
    second = run(settings, state_dir, stages=["decline"], max_duration_minutes=LONG)
    assert update in declined_in_history(state_dir)
    (row,) = sqlite3.connect(state_dir / "state.sqlite3").execute(
        "SELECT run_id FROM declined_updates WHERE update_id = ?", (update,)
    )
    # The run that confirmed it on the server keeps it, in its history and its count alike.
    assert row[0] == second.run_id
    (progress,) = sqlite3.connect(state_dir / "state.sqlite3").execute(
        "SELECT COALESCE(SUM(done), 0) FROM run_progress WHERE run_id = ?", (second.run_id,)
    )
    assert progress[0] == second.stages[-1].done
    sent = json.dumps([update, f"susdb-maint {first.run_id}", 1])
    assert calls(small_sim, "spDeclineUpdate")[sent] == 1


# -- 4: the in-flight mark is durable ----------------------------------------------------------
def test_the_in_flight_mark_is_on_disk_before_anything_is_sent(state_dir):
    store = StateStore(state_dir)
    sent: list[str] = []
    store.db.set_trace_callback(sent.append)
    store.mark_batch_in_flight("db", "decline", ["a"], "run")
    marked = next(index for index, text in enumerate(sent) if "in_flight" in text)
    durable = [index for index, text in enumerate(sent) if text == "PRAGMA synchronous = FULL"]
    commit = next(index for index, text in enumerate(sent) if index > marked and text == "COMMIT")
    assert durable and durable[-1] < marked < commit  # FULL: the commit syncs to disk
    assert sent[-1] == "PRAGMA synchronous = NORMAL"  # other commits stay cheap
    assert store.db.execute("PRAGMA journal_size_limit").fetchone()[0] == 64 * 1024 * 1024


# -- 5: candidate queries spool outside the write lock ----------------------------------------------
@pytest.mark.slow
def test_a_slow_candidate_query_never_holds_the_state_store_for_another_run(
    tmp_path, state_dir, monkeypatch
):
    from jobs.susdb import Susdb

    slow_sim = tmp_path / "slow.sqlite3"
    quick_sim = tmp_path / "quick.sqlite3"
    create(slow_sim, preset_profile("neglected", updates=2000, seed=51))
    create(quick_sim, preset_profile("small", seed=52))
    original = Susdb.obsolete_update_ids

    def slow_stream(self, timeout=None):
        for number, local_id in enumerate(original(self, timeout=timeout)):
            if number < 120 and "slow" in str(self.executor.endpoint.target.path):
                time.sleep(0.05)  # a server streaming a huge candidate list: six seconds
            yield local_id

    monkeypatch.setattr(Susdb, "obsolete_update_ids", slow_stream)
    settings = settings_for(slow_sim, backup={"gate": "off"}, runner={"state_busy_seconds": 1})
    settings.targets["quick"] = settings_for(quick_sim).targets["sim"]
    slow_done: list[float] = []

    def slow_run() -> None:
        run(settings, state_dir, target="sim", stages=["obsolete_updates"], max_duration_minutes=1)
        slow_done.append(time.monotonic())

    worker = threading.Thread(target=slow_run)
    worker.start()
    time.sleep(1.0)  # the slow run is inside its candidate query now
    quick = run(settings, state_dir, target="quick", stages=["decline"])
    quick_done = time.monotonic()
    worker.join(timeout=120)
    assert quick.exit_code == ExitCode.OK
    assert slow_done and quick_done < slow_done[0]  # it finished while the other still spooled


# -- 6: the window: candidate queries that would not fit, cancels, a monotonic clock ----------------
@pytest.mark.slow
def test_a_candidate_query_that_would_not_fit_the_time_left_is_not_started(
    neglected_sim, state_dir, event_log
):
    settings = settings_for(neglected_sim, backup={"gate": "off"})
    first = run(settings, state_dir, stages=["obsolete_updates"], max_duration_minutes=LONG)
    assert first.exit_code == ExitCode.OK
    scans = sum(calls(neglected_sim, "spGetObsoleteUpdatesToCleanup").values())
    # The scan took about 16 s of server time on this catalog; give the next run 10 s.
    db = sqlite3.connect(state_dir / "state.sqlite3")
    db.execute("UPDATE queues SET created_at = '2000-01-01T00:00:00Z', build_seconds = 600")
    db.commit()
    db.close()
    short = run(settings, state_dir, stages=["obsolete_updates"], max_duration_minutes=5)
    stage = short.stages[-1]
    assert stage.status == "deferred" and "candidate query" in stage.reason
    assert short.exit_code == ExitCode.PARTIAL
    assert sum(calls(neglected_sim, "spGetObsoleteUpdatesToCleanup").values()) == scans
    assert event_log.named("queue.deferred")


@pytest.mark.slow
def test_a_first_candidate_query_is_cancelled_when_the_window_closes(tmp_path, state_dir):
    sim = tmp_path / "big.sqlite3"
    create(sim, preset_profile("neglected", updates=6000, seed=61))
    # The obsolete scan costs about 12 s of server time here; the window is 6 s.
    report = run(
        settings_for(sim, backup={"gate": "off"}),
        state_dir,
        stages=["obsolete_updates"],
        max_duration_minutes=0.1,
    )
    stage = report.stages[-1]
    assert stage.status == "partial" and stage.reason == "deadline"
    assert report.exit_code == ExitCode.PARTIAL
    assert report.duration_seconds < 0.1 * 60 + 2  # the window, not the query, ended the stage
    assert not calls(sim, "spDeleteUpdate")


@pytest.mark.slow
def test_a_stop_request_cancels_a_candidate_query(small_sim, state_dir, monkeypatch):
    from jobs import simulator
    from jobs.simulator import dbapi

    original = dbapi.connect

    def slow_connect(*args, **kwargs):
        connection = original(*args, **kwargs)
        connection.delays = {"obsolete_updates": 30.0}
        return connection

    monkeypatch.setattr(simulator, "connect", slow_connect)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    report = run(
        settings_for(small_sim, backup={"gate": "off"}),
        state_dir,
        stages=["obsolete_updates"],
        stop=stop,
        clock=SystemClock(),
    )
    assert time.monotonic() - started < 10
    assert report.stages[-1].status == "partial" and report.stages[-1].reason == "signal"
    assert report.exit_code == ExitCode.PARTIAL


class SteppedClock(SystemClock):
    """The wall clock jumps ten hours forward after the run starts; monotonic time does not."""

    def __init__(self) -> None:
        self.calls = 0

    def now(self) -> datetime:
        self.calls += 1
        return super().now() + (timedelta(hours=10) if self.calls > 3 else timedelta())


@pytest.mark.slow
def test_a_wall_clock_step_neither_cuts_nor_stretches_the_window(small_sim, state_dir):
    report = run(
        settings_for(small_sim, backup={"gate": "off"}),
        state_dir,
        stages=["decline", "obsolete_updates"],
        max_duration_minutes=60,
        clock=SteppedClock(),
    )
    assert report.exit_code == ExitCode.OK, report.stages
    assert all(stage.status == "done" for stage in report.stages)


# -- 7: transient errors are retried everywhere -------------------------------------------------
@pytest.mark.slow
def test_a_deadlock_outside_queue_items_is_retried_not_a_failed_stage(
    small_sim, state_dir, event_log
):
    faults.forget_streams()
    settings = settings_for(
        small_sim,
        backup={"gate": "off"},
        target={
            "faults": {
                "rate": 0.5,
                "kinds": ["deadlock", "lock_timeout"],
                "seed": 3,
                "statements": [
                    "server_info",
                    "last_full_backup",
                    "kpi_update_counts",
                    # Not superseded_updates: it is also each superseded decline's check before
                    # sending, an item's statement, which this test is not about.
                    "expired_updates",
                    "obsolete_updates",
                    "index_fragmentation",
                    "sync_history_backlog",
                    "computer_target_ids",
                ],
            }
        },
    )
    report = run(settings, state_dir, profile="nightly", max_duration_minutes=LONG)
    assert report.exit_code == ExitCode.OK, report.stages
    assert {event.get("error_kind") for event in event_log.named("retry")} >= {"transient"}


# -- 8: the state store -------------------------------------------------------------------------
def test_an_empty_state_file_is_refused_not_a_new_history(state_dir):
    state_dir.mkdir(parents=True)
    (state_dir / "state.sqlite3").write_bytes(b"")
    with pytest.raises(StateError, match="empty"):
        StateStore(state_dir)


def test_a_read_only_state_directory_is_named_not_called_corrupt(small_sim, tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes through read-only modes; the check needs an ordinary user")
    state = tmp_path / "ro"
    StateStore(state).close()
    state.chmod(0o500)
    try:
        with pytest.raises(StateError) as caught:
            StateStore(state)
        assert "not writable" in str(caught.value) and "corrupt" not in str(caught.value)
    finally:
        state.chmod(0o700)


def test_a_state_directory_this_user_cannot_write_is_named(tmp_path, monkeypatch):
    import os

    state = tmp_path / "locked-down"
    StateStore(state).close()
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: False if Path(path) == state else real_access(path, mode)
    )
    with pytest.raises(StateError) as caught:
        StateStore(state)
    assert "not writable by this user" in str(caught.value)
    assert "corrupt" not in str(caught.value) and "move it aside" not in str(caught.value)


def test_a_full_disk_mid_run_is_one_clear_line(small_sim, state_dir, monkeypatch):
    opened = StateStore.__init__

    def tiny(self, *args, **kwargs):
        opened(self, *args, **kwargs)
        (pages,) = self.db.execute("PRAGMA page_count").fetchone()
        self.db.execute(f"PRAGMA max_page_count = {pages + 2}")  # the disk fills up

    monkeypatch.setattr(StateStore, "__init__", tiny)
    report = run(settings_for(small_sim, backup={"gate": "off"}), state_dir, stages=["decline"])
    # admin review N51: a failed run (exit 2) in the report, its event and the metrics.
    assert report.exit_code == ExitCode.BAD_USAGE and report.status == "failed"
    assert "full" in (report.error or "")


def test_a_state_file_deleted_mid_run_fails_the_run(small_sim, state_dir, event_log):
    """network-review D8: the run noticed at its next write, instead of writing into a deleted
    file and ending exit 0 with its history gone."""
    settings = settings_for(small_sim, backup={"gate": "off"}, runner={"batch_target_seconds": 1})
    original = StateStore.complete
    completed: list[int] = []

    def delete_after_the_second_batch(self, *args, **kwargs):
        original(self, *args, **kwargs)
        completed.append(1)
        if len(completed) == 2:
            for suffix in ("", "-wal", "-shm"):
                (state_dir / f"state.sqlite3{suffix}").unlink(missing_ok=True)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StateStore, "complete", delete_after_the_second_batch)
        report = run(settings, state_dir, stages=["decline"])
    assert report.exit_code == ExitCode.BAD_USAGE and "deleted" in (report.error or "")
    (finish,) = event_log.named("run.finish")
    assert finish["exit_code"] == ExitCode.BAD_USAGE and finish["status"] == "failed"


@pytest.mark.slow
def test_old_history_is_pruned_and_declines_kept_longer(small_sim, state_dir):
    settings = settings_for(small_sim, backup={"gate": "off"})
    first = run(settings, state_dir, stages=["decline"])
    db = sqlite3.connect(state_dir / "state.sqlite3")
    db.execute(
        "UPDATE runs SET started_at = '2020-01-01T00:00:00Z' WHERE run_id = ?", (first.run_id,)
    )
    db.commit()
    db.close()
    run(
        settings_for(small_sim, backup={"gate": "off"}, runner={"history_days": 30}),
        state_dir,
        stages=["health"],
    )
    store = StateStore(state_dir)
    assert store.run(first.run_id) is None
    assert store.declined(first.run_id)  # the decline list has its own, longer retention


@pytest.mark.slow
def test_sighup_stops_a_run_like_sigterm(small_sim, tmp_path):
    command = simulated_command(
        tmp_path,
        small_sim,
        "run",
        "--stage",
        "decline",
        latency_ms=8,
        extra="[runner]\nbatch_target_seconds = 5\n",
    )
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env()
    )
    time.sleep(2.0)
    process.send_signal(signal.SIGHUP)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 3, stderr[-1000:]
    assert '"signal": "SIGHUP"' in stderr
    finish = next(json.loads(line) for line in stderr.splitlines() if '"run.finish"' in line)
    assert finish["status"] == "partial"


def test_two_processes_creating_the_state_store_at_once_both_open_it(tmp_path):
    for attempt in range(20):
        state = tmp_path / f"s{attempt}"
        errors: list[BaseException] = []

        def open_store(state: Path = state, errors: list[BaseException] = errors) -> None:
            try:
                StateStore(state).close()
            except BaseException as error:  # any failure fails the test
                errors.append(error)

        workers = [threading.Thread(target=open_store) for _ in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert not errors, errors


def test_the_rows_a_killed_run_left_spooled_are_removed_by_the_next_run(
    small_sim, state_dir, event_log
):
    """issue 23, D6: a kill during a long candidate query left its spooled rows forever."""
    settings = settings_for(small_sim, backup={"gate": "off"})
    run(settings, state_dir, stages=["sync_history"])
    store = StateStore(state_dir)
    database = store.runs("sim", 1)[0]["database_id"]
    rows = [(f"key-{number}", {"n": number}) for number in range(3)]
    store.spool(iter(rows), spool_owner("run", database))  # a killed run's build
    store.spool(iter(rows), spool_owner("run", "another database"))  # another target's, alive
    store.close()
    run(settings, state_dir, stages=["compress"])
    (discarded,) = event_log.named("queue.spool_discarded")
    assert discarded["rows"] == 3
    left = query(state_dir / "state.sqlite3", "SELECT build_id FROM queue_spool")
    assert left and all(build.startswith("run:another database:") for (build,) in left)


# -- D7: a state store rolled back (a lost WAL, a file restored from a copy) ----------------------
def _restored(state_dir: Path, copy: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (state_dir / f"state.sqlite3{suffix}").unlink(missing_ok=True)
    (state_dir / "state.sqlite3").write_bytes(copy.read_bytes())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stage", "procedure"),
    [
        ("decline", "spDeclineUpdate"),
        ("obsolete_updates", "spDeleteUpdate"),
        ("compress", "spCompressUpdate"),
    ],
)
def test_a_state_store_rolled_back_sends_nothing_twice(
    neglected_sim, state_dir, tmp_path, stage, procedure
):
    """The state file loses a run (restored from a copy taken before it): its queue says the items
    that run did are still to do. The server has done them; each statement checks first."""
    settings = settings_for(neglected_sim, backup={"gate": "off"})
    first = run(settings, state_dir, stages=[stage], max_duration_minutes=1)
    assert first.stages[-1].remaining > 0  # the window closed with work left in the queue
    with sqlite3.connect(state_dir / "state.sqlite3") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    copy = tmp_path / "state-copy.sqlite3"
    copy.write_bytes((state_dir / "state.sqlite3").read_bytes())
    second = run(settings, state_dir, stages=[stage], max_duration_minutes=1)
    assert second.stages[-1].done > 0
    _restored(state_dir, copy)
    run(settings, state_dir, stages=[stage], max_duration_minutes=1)
    doubled = {arguments: n for arguments, n in calls(neglected_sim, procedure).items() if n > 1}
    assert doubled == {}
