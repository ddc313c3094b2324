from __future__ import annotations

import dataclasses
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from jobs.db.connection import Endpoint
from jobs.errors import LockBusy, StateError
from jobs.exit_codes import ExitCode
from jobs.runner.run import StageResult
from jobs.state.store import SCHEMA_VERSION, StateStore
from tests.helpers import (
    cli_command,
    cli_env,
    held_lock,
    query,
    run,
    settings_for,
    simulated_command,
)

ROOT = Path(__file__).resolve().parents[2]


def test_a_second_run_on_a_locked_target_stops_with_lock_busy(small_sim, state_dir, event_log):
    settings = settings_for(small_sim, backup={"gate": "off"})
    with held_lock(Endpoint("sim", settings.targets["sim"]), state_dir):
        busy = run(settings, state_dir, stages=["health"])
    assert busy.exit_code == ExitCode.LOCKED and busy.status == "locked"
    assert "another run" in (busy.error or "")
    assert event_log.named("lock.busy")
    (finish,) = [event for event in event_log.named("run.finish") if event["run_id"] == busy.run_id]
    assert finish["exit_code"] == 5 and "another run" in finish["error"]
    history = StateStore(state_dir).runs("sim")
    assert [row["status"] for row in history] == ["locked"]
    assert run(settings, state_dir, stages=["health"]).exit_code == 0  # released


def test_the_server_side_applock_stops_a_run_from_another_host(small_sim, tmp_path):
    settings = settings_for(small_sim, backup={"gate": "off"})
    endpoint = Endpoint("sim", settings.targets["sim"])
    # Two hosts do not share a state directory: only the lock on the server can stop the second.
    with (
        held_lock(endpoint, tmp_path / "host-a"),
        pytest.raises(LockBusy, match="sp_getapplock"),
        held_lock(endpoint, tmp_path / "host-b"),
    ):
        pass


@pytest.mark.slow
def test_two_concurrent_runs_one_runs_the_other_exits_5(small_sim, tmp_path):
    command = simulated_command(tmp_path, small_sim, "run", "--stage", "decline", latency_ms=3)
    env = cli_env()
    first = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
        tmp_path.joinpath("state").glob("database-*.lock")
    ):
        time.sleep(0.05)
    time.sleep(0.5)
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err[-1000:]
    assert second.returncode == 5
    assert any(
        json.loads(line)["event"] == "lock.busy"
        for line in second.stderr.splitlines()
        if line.startswith("{")
    )
    assert second.stderr.strip().splitlines()[-1].startswith("susdb-maint: sim: another run")


def test_a_corrupted_state_file_is_a_clear_error_and_susdb_is_untouched(small_sim, state_dir):
    state_dir.mkdir(parents=True)
    (state_dir / "state.sqlite3").write_bytes(b"this is not a database" * 100)
    before = query(small_sim, "SELECT COUNT(*), SUM(Declined) FROM vwMinimalUpdate")
    with pytest.raises(StateError, match="corrupt"):
        run(settings_for(small_sim, backup={"gate": "off"}), state_dir, profile="nightly")
    assert query(small_sim, "SELECT COUNT(*), SUM(Declined) FROM vwMinimalUpdate") == before
    assert (
        (state_dir / "state.sqlite3").read_bytes().startswith(b"this is not")
    )  # never silently reset


@pytest.mark.slow
def test_history_on_a_read_only_folder_says_read_only_never_corrupt(small_sim, tmp_path):
    # A read-only mount of a healthy state folder (an auditor's copy, a snapshot): "corrupt, move
    # it aside" would throw a good history away. Root ignores file modes, so a real read-only
    # bind mount is used where this machine allows one.
    import shlex

    state_dir, mount = tmp_path / "state", tmp_path / "read-only"
    run(settings_for(small_sim, backup={"gate": "off"}), state_dir, stages=["health"])
    mount.mkdir()
    history = " ".join(
        shlex.quote(part) for part in cli_command("--state-dir", str(mount), "history")
    )
    script = (
        f"mount --bind -o ro {shlex.quote(str(state_dir))} {shlex.quote(str(mount))} && {history}"
    )
    try:
        done = subprocess.run(
            ["unshare", "-m", "sh", "-c", script],
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=120,
        )
    except FileNotFoundError:
        pytest.skip("unshare is not installed: no read-only mount to test with")
    if "mount" in done.stderr and done.returncode != 2:
        pytest.skip(f"no read-only bind mount here: {done.stderr.strip()[:200]}")
    assert done.returncode == 2, done.stderr
    assert "read-only" in done.stderr and "corrupt" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_an_abandoned_run_keeps_the_second_pass_of_a_stage_that_runs_twice(state_dir):
    # The nightly profile reindexes before and after the cleanup: killed in the second pass,
    # the run's history keeps both passes and the cleanup between them.
    from jobs.state.store import Completion

    store = StateStore(state_dir)
    dead, database = "20260101T000000Z-dead01", "db-1"
    store.start_run(dead, "sim", "nightly", False)
    store.bind_run(dead, database, "SUSDB")

    def checkpoint(stage: str, count: int) -> None:
        keys = [Completion(f"{stage}-{n}", "done", None) for n in range(count)]
        store.complete(database, stage, dead, keys, [], "sim")

    def finished(ordinal: int, stage: str, done: int) -> None:
        result = dict.fromkeys(("reason", "finished_at", "duration_seconds"))
        result.update(stage=stage, status="done", started_at="2026-01-01T00:00:00Z", done=done)
        store.record_stage(dead, ordinal, result)

    checkpoint("reindex", 2)
    finished(0, "reindex", 2)
    checkpoint("obsolete_updates", 300)
    finished(1, "obsolete_updates", 300)
    checkpoint("reindex", 7)  # the second pass, killed before it finished
    store.start_run("20260101T010000Z-next01", "sim", "nightly", False)
    assert store.bind_run("20260101T010000Z-next01", database, "SUSDB") == [dead]
    stages = [(row["stage"], row["status"], row["done"]) for row in store.stage_results(dead)]
    assert stages == [
        ("reindex", "done", 2),
        ("obsolete_updates", "done", 300),
        ("reindex", "abandoned", 7),
    ]
    summary = json.loads(store.run(dead)["summary_json"])
    assert [stage["done"] for stage in summary["stages"]] == [2, 300, 7]
    store.close()


def test_a_migration_another_process_applied_meanwhile_is_not_applied_twice(state_dir):
    # Two runs open an old state file at the same moment: both read the old version before
    # either takes the write lock; the second must find the step done, not fail on it.
    from jobs.state.schema import SCHEMA_VERSION, migrate

    store = StateStore(state_dir)
    migrate(store, SCHEMA_VERSION - 1)  # what the slower process does after the faster one
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.close()


def test_upgrading_removes_the_rows_an_older_version_left_spooled(state_dir):
    """network-review D6: a process killed while its candidate query was spooled left its rows;
    before build IDs named their owner, no later run could tell they were abandoned."""
    StateStore(state_dir).close()
    db = sqlite3.connect(state_dir / "state.sqlite3")
    rows = [("9f2c41aa", 0, "A", "{}"), ("run:db:1700000000:ab", 0, "B", "{}")]
    db.executemany("INSERT INTO queue_spool VALUES (?, ?, ?, ?)", rows)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    db.commit()
    db.close()

    store = StateStore(state_dir)
    kept = store.db.execute("SELECT build_id FROM queue_spool").fetchall()
    store.close()
    assert kept == [("run:db:1700000000:ab",)]  # a build the next run of its database judges


def test_a_state_file_from_a_newer_version_is_refused(state_dir):
    StateStore(state_dir).close()
    db = sqlite3.connect(state_dir / "state.sqlite3")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StateError, match="newer susdb-maint"):
        StateStore(state_dir)


@pytest.mark.slow
def test_history_and_the_run_summary_show_the_same_numbers_as_the_events(
    small_sim, state_dir, event_log
):
    report = run(settings_for(small_sim, backup={"gate": "off"}), state_dir, profile="nightly")
    (finish,) = event_log.named("run.finish")
    store = StateStore(state_dir)
    (stored,) = store.runs("sim")
    summary = json.loads(stored["summary_json"])
    for source in (summary, report.as_dict()):
        assert source["exit_code"] == finish["exit_code"] and source["status"] == finish["status"]
        assert (
            source["kpis_before"] == finish["kpis_before"]
            and source["kpis_after"] == finish["kpis_after"]
        )
        assert [
            {
                key: stage[key]
                for key in ("stage", "status", "done", "skipped", "failed", "remaining")
            }
            for stage in source["stages"]
        ] == finish["stages"]
    stage_rows = store.stage_results(report.run_id)
    assert [(row["stage"], row["done"]) for row in stage_rows] == [
        (stage["stage"], stage["done"]) for stage in finish["stages"]
    ]
    assert store.kpis(report.run_id)["after"] == finish["kpis_after"]
    store.close()


@pytest.mark.slow
def test_the_history_stores_each_stage_result_with_its_keys(small_sim, state_dir):
    report = run(settings_for(small_sim, backup={"gate": "off"}), state_dir, profile="nightly")
    keys = [each.name for each in dataclasses.fields(StageResult)]
    assert report.stages and all(list(stage.as_dict()) == keys for stage in report.stages)
    data = report.as_dict()
    assert json.loads(json.dumps(data)) == data  # JSON as it is: no default= needed
    store = StateStore(state_dir, read_only=True)
    (stored,) = store.runs("sim")
    rows = store.stage_results(report.run_id)
    store.close()
    summary = json.loads(stored["summary_json"])
    assert [list(stage) for stage in summary["stages"]] == [keys] * len(report.stages)
    # A stage_results row: the run, the ordinal, then one column a key (the detail as JSON).
    assert [
        [column.removesuffix("_json") for column in row if column not in ("run_id", "ordinal")]
        for row in rows
    ] == [keys] * len(report.stages)


@pytest.mark.slow
def test_history_json_and_declined_export_from_the_cli(small_sim, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        f'[backup]\ngate = "off"\n[targets.sim]\nkind = "simulator"\npath = "{small_sim}"\n'
    )
    env = cli_env()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            cli_command(
                "--config",
                str(config),
                "--state-dir",
                str(tmp_path / "state"),
                *args,
            ),
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    assert cli("run", "--stage", "decline").returncode == 0
    (entry,) = json.loads(cli("history", "--json").stdout)
    assert entry["dry_run"] is False  # a boolean in JSON, not SQLite's 0
    declined_stage = entry["summary"]["stages"][-1]
    csv_out = cli("history", "--declined", entry["run_id"], "--format", "csv").stdout.splitlines()
    assert csv_out[0] == "update_id,kb,title,reason,why,declined_at"
    assert len(csv_out) - 1 == declined_stage["done"] > 0
    rows = json.loads(cli("history", "--declined", entry["run_id"][:15], "--format", "json").stdout)
    assert {row["reason"] for row in rows} <= {"superseded", "expired"} and len(
        rows
    ) == declined_stage["done"]
    assert cli("history", "--declined", "nope").returncode == 2


def test_two_paths_to_one_simulated_database_are_one_lock(small_sim, tmp_path):
    """A symlink to the same file is the same database: its application lock is the same one.
    (A hard link cannot reach a simulated SUSDB at all: SQLite finds its WAL by path.)"""
    link = tmp_path / "same-database.sqlite3"
    link.symlink_to(small_sim)
    endpoint = Endpoint("sim", settings_for(small_sim).targets["sim"])
    other = Endpoint("sim", settings_for(link).targets["sim"])
    with (
        held_lock(endpoint, tmp_path / "host-a"),
        pytest.raises(LockBusy, match="sp_getapplock"),
        held_lock(other, tmp_path / "host-b"),
    ):
        pass
