"""status, plan, queue and demo as an administrator runs them."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.helpers import offered, run_cli, simulator_config


def cli(
    tmp_path: Path, sim: Path, *args: str, gate: str = "off"
) -> subprocess.CompletedProcess[str]:
    config = simulator_config(tmp_path, sim, gate=gate)
    return run_cli(
        "--config",
        str(config),
        "--state-dir",
        str(tmp_path / "state"),
        "--log-format",
        "json",
        *args,
    )


@pytest.mark.slow
def test_status_json_shows_kpis_and_permission_checks(small_sim, tmp_path):
    result = cli(tmp_path, small_sim, "status", "--json", "--check-permissions")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["kpis"]["total_updates"] == len(offered(small_sim))
    assert status["kpis"]["superseded_not_declined"] > 0
    assert (
        all(status["permissions"].values())
        and "EXECUTE dbo.spDeleteUpdate" in status["permissions"]
    )


@pytest.mark.slow
def test_status_exits_4_when_a_right_is_missing(small_sim, tmp_path):
    db = sqlite3.connect(small_sim)
    db.execute("INSERT INTO sim_meta VALUES ('deny:1', 'EXECUTE dbo.spDeleteUpdate')")
    db.commit()
    db.close()
    result = cli(tmp_path, small_sim, "status", "--check-permissions")
    assert result.returncode == 4
    assert "MISSING  EXECUTE dbo.spDeleteUpdate" in result.stdout


@pytest.mark.slow
def test_plan_show_sql_needs_no_database(tmp_path):
    result = cli(
        tmp_path, tmp_path / "nowhere.sqlite3", "plan", "--show-sql", "--stage", "obsolete_updates"
    )
    assert result.returncode == 0, result.stderr
    assert (
        "EXEC dbo.spGetObsoleteUpdatesToCleanup;" in result.stdout
        and "EXEC dbo.spDeleteUpdate" in result.stdout
    )


@pytest.mark.slow
def test_plan_lists_the_items_and_changes_nothing(small_sim, tmp_path):
    before = (
        sqlite3.connect(small_sim).execute("SELECT SUM(Declined) FROM vwMinimalUpdate").fetchone()
    )
    result = cli(tmp_path, small_sim, "plan", "--stage", "decline", "--items")
    assert result.returncode == 0, result.stderr
    items = [
        line.split("\t") for line in result.stdout.splitlines() if line.startswith("decline\t")
    ]
    assert len(items) > 100
    # Each planned decline says why and what it is: reason, KB (when it has one) and title.
    assert all(item[2] == "planned" and len(item) >= 5 for item in items)
    assert any(item[3] == "superseded" and item[4].startswith("KB") for item in items)
    assert (
        sqlite3.connect(small_sim).execute("SELECT SUM(Declined) FROM vwMinimalUpdate").fetchone()
        == before
    )


@pytest.mark.slow
def test_queue_show_retry_and_clear(small_sim, tmp_path):
    # A plan arms no queue; a night cut short by its window leaves one.
    assert cli(tmp_path, small_sim, "plan", "--stage", "obsolete_updates").returncode == 0
    assert "no queued work" in cli(tmp_path, small_sim, "queue", "show").stdout
    cut_short = cli(
        tmp_path, small_sim, "run", "--stage", "obsolete_updates", "--max-duration", "1"
    )
    assert cut_short.returncode == 3, cut_short.stderr[-1000:]
    shown = cli(tmp_path, small_sim, "queue", "show")
    assert shown.returncode == 0 and shown.stdout.startswith("obsolete_updates: ")
    assert "pending " in shown.stdout
    assert (
        "0 quarantined item(s) will be retried" in cli(tmp_path, small_sim, "queue", "retry").stdout
    )
    cleared = cli(tmp_path, small_sim, "queue", "clear", "--stage", "obsolete_updates")
    assert cleared.returncode == 0 and "queued item(s) removed" in cleared.stdout
    assert "no queued work" in cli(tmp_path, small_sim, "queue", "show").stdout


@pytest.mark.slow
def test_demo_makes_again_a_simulated_susdb_another_version_made(tmp_path):
    import sqlite3

    demo = ("--state-dir", str(tmp_path / "state"), "demo", "--updates", "300", "--seed", "3")
    assert run_cli(*demo, cwd=tmp_path).returncode == 0
    path = next((tmp_path / "state" / "demo").glob("*.sqlite3"))
    db = sqlite3.connect(path)
    db.execute("UPDATE sim_meta SET value = 'older' WHERE key = 'format'")
    db.commit()
    db.close()
    again = run_cli(*demo, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "Simulated SUSDB (created):" in again.stdout and "demo.remade" in again.stderr


@pytest.mark.slow
def test_demo_creates_a_simulated_susdb_and_prints_before_and_after(tmp_path):
    demo = ("--state-dir", str(tmp_path / "state"), "demo", "--updates", "800", "--seed", "2")
    result = run_cli(*demo, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        "Simulated SUSDB (created):" in result.stdout and "SUSDB before and after" in result.stdout
    )
    assert "Superseded, not declined" in result.stdout
    path = next((tmp_path / "state" / "demo").glob("*.sqlite3"))
    # Superseded updates stay while they are young (min_age_days, 90 by default) or nothing live
    # covers them; the table says so.
    assert offered(path, "mu.IsSuperseded = 1 AND mu.Declined = 0")
    assert "kept: too young (min_age_days) or nothing live covers" in result.stdout
    assert "Simulated SUSDB (reused):" in run_cli(*demo, cwd=tmp_path).stdout


@pytest.mark.slow
def test_queue_commands_never_touch_a_queue_a_running_run_owns(small_sim, tmp_path):
    """admin review N49: `queue clear` during a run removed its items and the run said "done"."""
    import filelock

    from jobs.db.lock import lock_file
    from jobs.state.store import StateStore

    cut_short = cli(
        tmp_path, small_sim, "run", "--stage", "obsolete_updates", "--max-duration", "1"
    )
    assert cut_short.returncode == 3
    store = StateStore(tmp_path / "state")
    (database,) = store.databases_of("sim")
    queued = store.active_count(database, "obsolete_updates")
    store.close()
    with filelock.FileLock(str(lock_file(tmp_path / "state", database)), timeout=0):  # a run
        for command in (("queue", "clear"), ("queue", "retry")):
            refused = cli(tmp_path, small_sim, *command)
            assert refused.returncode == 5, refused
            assert "a run is working on this target's database" in refused.stderr
            assert len(refused.stderr.strip().splitlines()) == 1
    store = StateStore(tmp_path / "state")
    assert store.active_count(database, "obsolete_updates") == queued
    store.close()
    assert cli(tmp_path, small_sim, "queue", "clear").returncode == 0  # the run has finished
