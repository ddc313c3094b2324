"""Whole profiles on the simulated SUSDB: what a WSUS administrator checks the morning after."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

import pytest

from jobs.exit_codes import ExitCode
from jobs.runner.hierarchy import top_down
from jobs.stages.declared.reindex import ReindexSettings
from jobs.stages.reindex import fragmented
from tests.catalog import CatalogBuilder, SimulatedServer
from tests.helpers import (
    NightlyScenario,
    index_stats,
    obsolete_backlog,
    query,
    run,
    settings_for,
)

LONG = 100_000  # minutes: a window long enough for everything
# The WSUS procedures a nightly run on a neglected SUSDB calls.
WSUS_PROCEDURES = {
    "spDeclineUpdate",
    "spGetObsoleteUpdatesToCleanup",
    "spDeleteUpdate",
    "spGetUpdatesToCompress",
    "spCompressUpdate",
    "spCleanupObsoleteComputers",
}


@pytest.mark.slow
def test_a_nightly_run_with_a_long_window_leaves_a_clean_susdb(neglected_sim, state_dir):
    scenario = NightlyScenario(neglected_sim)
    assert fragmented(index_stats(neglected_sim), ReindexSettings())  # neglected: fragmented before
    report = run(
        settings_for(neglected_sim, stages=scenario.stages),
        state_dir,
        profile="nightly",
        max_duration_minutes=LONG,
    )
    assert report.exit_code == ExitCode.OK, report.stages
    scenario.check_end_state(report, state_dir)
    # Issue 24: every WSUS procedure the night called ran with WSUS's own lock timeout (-1, wait),
    # never the tool's 30 seconds: error 1222 would cancel one statement and the procedure would
    # go on without it (sim_call_log records the calling session's @@LOCK_TIMEOUT).
    timeouts = query(
        neglected_sim,
        "SELECT procedure, lock_timeout_ms, COUNT(*) FROM sim_call_log "
        "GROUP BY procedure, lock_timeout_ms ORDER BY procedure",
    )
    assert {procedure for procedure, _, _ in timeouts} >= WSUS_PROCEDURES
    assert {timeout for _, timeout, _ in timeouts} == {-1}, timeouts


@pytest.mark.slow
def test_a_ten_minute_window_ends_partial_and_the_next_run_finishes(
    neglected_sim, state_dir, event_log
):
    settings = settings_for(neglected_sim, backup={"gate": "off"})
    first = run(settings, state_dir, profile="nightly", max_duration_minutes=10)
    assert first.exit_code == ExitCode.PARTIAL
    assert any(stage.status in ("partial", "deferred") for stage in first.stages)
    assert event_log.named("deadline.reached")
    health = next(stage for stage in first.stages if stage.stage == "health")
    assert health.status == "done"  # reporting still runs after the deadline
    second = run(settings, state_dir, profile="nightly", max_duration_minutes=LONG)
    assert second.exit_code == ExitCode.OK
    assert obsolete_backlog(neglected_sim) == 0


def test_without_a_fresh_backup_destructive_stages_are_refused_with_exit_4(
    tmp_path, state_dir, event_log
):
    builder = CatalogBuilder(tmp_path / "nobackup.sqlite3", backup_age_hours=None)
    old = builder.update("Old (KB1)", age_days=100)
    builder.update("New (KB2)", age_days=10, supersedes=(old,))
    path = builder.close()
    # The plan refuses as the run will (a review found "would run", exit 0).
    plan = run(settings_for(path), state_dir, stages=["decline"], dry_run=True)
    assert (plan.exit_code, plan.stages[-1].status) == (ExitCode.REFUSED, "refused")
    assert "no full backup on record" in (plan.stages[-1].reason or "")
    report = run(settings_for(path), state_dir, stages=["decline", "reindex", "health"])
    assert report.exit_code == ExitCode.REFUSED
    statuses = {stage.stage: stage.status for stage in report.stages}
    assert statuses == {
        "preflight": "done",
        "decline": "refused",
        "reindex": "done",
        "health": "done",
    }
    refused = next(stage for stage in report.stages if stage.stage == "decline")
    assert "no full backup on record" in refused.reason
    assert event_log.named("backup.stale")
    assert query(path, "SELECT COUNT(*) FROM vwMinimalUpdate WHERE Declined = 1") == [(0,)]


def test_an_advisory_gate_warns_and_goes_on(tmp_path, state_dir, event_log):
    builder = CatalogBuilder(tmp_path / "stale.sqlite3", backup_age_hours=100)
    old = builder.update("Old (KB1)", age_days=100)
    builder.update("New (KB2)", age_days=10, supersedes=(old,))
    path = builder.close()
    settings = settings_for(
        path, backup={"gate": "advisory"}, stages={"decline": {"min_age_days": 0}}
    )
    report = run(settings, state_dir, stages=["decline"])
    assert report.exit_code == ExitCode.OK and report.stages[-1].done == 1
    (stale,) = event_log.named("backup.stale")
    assert re.search(r"last full backup 1\d\d\.\d h ago", stale["reason"])


def test_the_backup_stage_makes_a_copy_only_backup_that_satisfies_the_gate(tmp_path, state_dir):
    builder = CatalogBuilder(tmp_path / "b.sqlite3", backup_age_hours=None)
    old = builder.update("Old (KB1)", age_days=100)
    builder.update("New (KB2)", age_days=10, supersedes=(old,))
    path = builder.close()
    backups = tmp_path / "backups"
    backups.mkdir()
    settings = settings_for(path, backup={"directory": str(backups)})
    report = run(settings, state_dir, stages=["preflight", "backup", "decline"])
    assert report.exit_code == ExitCode.OK, report.stages
    ((copy_only, device),) = query(
        path, "SELECT is_copy_only, physical_device_name FROM sim_backupset"
    )
    assert copy_only == 1 and re.fullmatch(
        r"SUSDB_\d{8}T\d{6}Z-[0-9a-f]{6}\.bak", Path(device).name
    )
    assert Path(device).parent == backups and Path(device).is_file()


def test_a_backup_that_would_not_fit_is_refused_before_it_starts(tmp_path, state_dir, event_log):
    """Decline review N8: the engine's own view of the volume (sys.dm_os_volume_stats) says
    4 KB are free where the backup would land; nothing is written, and the gate stays closed."""
    builder = CatalogBuilder(tmp_path / "b.sqlite3", backup_age_hours=None)
    old = builder.update("Old (KB1)", age_days=100)
    builder.update("New (KB2)", age_days=10, supersedes=(old,))
    builder.volume("D:\\", free_bytes=4096)
    path = builder.close()
    settings = settings_for(path, backup={"directory": "D:\\WSUS\\Backups"})
    report = run(settings, state_dir, stages=["preflight", "backup", "decline"])
    statuses = {stage.stage: stage.status for stage in report.stages}
    assert statuses == {"preflight": "done", "backup": "refused", "decline": "refused"}
    reason = report.stages[1].reason or ""
    assert reason.startswith("the backup would not fit in D:\\WSUS\\Backups")
    assert "the server, volume D:\\" in reason
    assert query(path, "SELECT COUNT(*) FROM sim_backupset") == [(0,)]
    assert report.exit_code == ExitCode.REFUSED


def test_a_folder_sized_for_keep_backups_makes_room_from_the_oldest(tmp_path, state_dir):
    """backup.keep = 2 and two backups fill the volume: the oldest, which the prune after a
    success would delete anyway, goes first; the newer one stays until the new one is made."""
    builder = CatalogBuilder(tmp_path / "b.sqlite3", backup_age_hours=None)
    builder.update("Old (KB1)", age_days=100)
    builder.volume("/", free_bytes=4096)
    path = builder.close()
    size = path.stat().st_size * 2  # more than a backup of it needs
    backups = tmp_path / "backups"
    backups.mkdir()
    oldest, newer = (backups / f"SUSDB_2026010{day}T020000Z-abcdef.bak" for day in (1, 2))
    for moment, old_backup in enumerate((oldest, newer)):
        old_backup.write_bytes(b"\0" * size)
        os.utime(old_backup, (1_700_000_000 + moment, 1_700_000_000 + moment))
    settings = settings_for(path, backup={"directory": str(backups), "keep": 2})
    report = run(settings, state_dir, stages=["preflight", "backup"])
    assert report.stages[-1].status == "done", report.stages
    assert not oldest.exists() and newer.exists()
    assert len(list(backups.glob("SUSDB_*.bak"))) == 2


def test_the_gate_says_which_backup_it_relied_on(tmp_path, state_dir, event_log):
    builder = CatalogBuilder(tmp_path / "b.sqlite3", backup_age_hours=None)
    builder.update("Old (KB1)", age_days=100)
    path = builder.close()
    backups = tmp_path / "backups"
    backups.mkdir()
    settings = settings_for(path, backup={"directory": str(backups)})
    run(settings, state_dir, stages=["preflight", "backup"])
    (fresh,) = event_log.named("backup.fresh")
    assert Path(fresh["device"]).parent == backups


def test_the_computer_guard_refuses_a_mass_deletion(small_sim, state_dir):
    from jobs.simulator.dbapi import started_calls

    # Synchronization broke on every computer; their status reports go on.
    SimulatedServer(small_sim).every_computer_last_synced(datetime(2020, 1, 1))
    report = run(settings_for(small_sim, backup={"gate": "off"}), state_dir, stages=["computers"])
    assert report.exit_code == ExitCode.REFUSED
    # Silent by LastSyncTime only: they may all go (which date WSUS tests is not public), so
    # refused from the estimate, without calling WSUS.
    assert report.stages[-1].reason.startswith("guard: up to 40 of 40 computers (100.0%)")
    assert started_calls(small_sim, "spCleanupObsoleteComputers") == 0
    assert query(small_sim, "SELECT COUNT(*) FROM tbComputerTarget") == [(40,)]


def test_custom_indexes_are_found_by_leading_column_whatever_their_name(small_sim, state_dir):
    SimulatedServer(small_sim).custom_index(
        "tbRevisionSupersedesUpdate", "nclSupercededUpdateID", "SupersededUpdateID", index_id=7
    )
    report = run(
        settings_for(small_sim, backup={"gate": "off"}), state_dir, stages=["custom_indexes"]
    )
    assert (report.stages[-1].done, report.stages[-1].skipped) == (1, 1)
    names = {row[0] for row in query(small_sim, "SELECT name FROM sim_index WHERE index_id > 1")}
    assert {"nclSupercededUpdateID", "nclSusdbMaint_LocalizedPropertyID"} <= names
    assert (
        "nclSusdbMaint_SupersededUpdateID" not in names
    )  # no duplicate of the administrator's index

    removed = run(
        settings_for(small_sim, backup={"gate": "off"}),
        state_dir,
        stages=["custom_indexes"],
        remove_custom_indexes=True,
    )
    assert removed.stages[-1].done == 1
    names = {row[0] for row in query(small_sim, "SELECT name FROM sim_index WHERE index_id > 1")}
    assert "nclSupercededUpdateID" in names and "nclSusdbMaint_LocalizedPropertyID" not in names


def test_reindex_reports_pages_before_and_after_and_statistics_can_go_table_by_table(
    neglected_sim, state_dir
):
    settings = settings_for(
        neglected_sim, backup={"gate": "off"}, stages={"statistics": {"method": "fullscan"}}
    )
    report = run(settings, state_dir, stages=["reindex", "statistics"])
    reindex = report.stages[0] if report.stages[0].stage == "reindex" else report.stages[1]
    assert reindex.done > 0 and reindex.detail["pages_after"] < reindex.detail["pages_before"]
    statistics = report.stages[-1]
    assert statistics.done == len(
        query(
            neglected_sim, "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'tb%'"
        )
    )


@pytest.mark.slow
def test_plan_changes_nothing_in_susdb(neglected_sim, state_dir):
    snapshot = "SELECT (SELECT COUNT(*) FROM tbUpdate), (SELECT SUM(Declined) FROM vwMinimalUpdate), (SELECT COUNT(*) FROM tbEventInstance), (SELECT SUM(avg_fragmentation_in_percent) FROM sim_index)"
    before = query(neglected_sim, snapshot)
    report = run(settings_for(neglected_sim), state_dir, profile="nightly", dry_run=True)
    assert query(neglected_sim, snapshot) == before
    decline = next(stage for stage in report.stages if stage.stage == "decline")
    assert decline.status == "planned" and decline.detail["queued"] > 1000
    obsolete = next(stage for stage in report.stages if stage.stage == "obsolete_updates")
    assert obsolete.detail["estimated_seconds"] > 0


def test_run_all_orders_targets_upstream_first_for_declines():
    from jobs.settings.model import Settings

    settings = Settings.model_validate(
        {
            "targets": {
                "replica-b": {"kind": "simulator", "path": "b", "upstream": "root"},
                "root": {"kind": "simulator", "path": "r"},
                "replica-a": {"kind": "simulator", "path": "a", "upstream": "root"},
                "leaf": {"kind": "simulator", "path": "l", "upstream": "replica-a"},
            }
        }
    )
    order = top_down(settings)
    assert order.index("root") < order.index("replica-a") < order.index("leaf")
    assert order.index("root") < order.index("replica-b")


@pytest.mark.slow
def test_a_stage_budget_stops_that_stage_and_the_next_stage_still_runs(neglected_sim, state_dir):
    settings = settings_for(
        neglected_sim,
        backup={"gate": "off"},
        profiles={
            "budgeted": {
                "stages": ["obsolete_updates", "compress"],
                "stage_budgets": {"obsolete_updates": 30},
            }
        },
    )
    report = run(settings, state_dir, profile="budgeted", max_duration_minutes=LONG)
    stages = {stage.stage: stage for stage in report.stages}
    assert (
        stages["obsolete_updates"].status == "partial"
        and stages["obsolete_updates"].reason == "deadline"
    )
    assert 0 < stages["obsolete_updates"].done < stages["obsolete_updates"].remaining
    assert stages["compress"].status == "done" and stages["compress"].done > 0
    assert report.exit_code == ExitCode.PARTIAL


def test_preflight_warns_when_microsofts_delete_fix_or_a_right_is_missing(
    neglected_sim, state_dir, event_log
):
    SimulatedServer(neglected_sim).deny("EXECUTE dbo.spCompressUpdate")
    report = run(
        settings_for(neglected_sim, backup={"gate": "off"}), state_dir, stages=["preflight"]
    )
    (fix,) = event_log.named("preflight.delete_fix_missing")
    assert "spdeleteupdate-slow-performance" in fix["article"]
    (permission,) = event_log.named("preflight.permission_missing")
    assert permission["permission"] == "EXECUTE dbo.spCompressUpdate"
    assert report.stages[0].detail["wid"] is True and report.stages[0].detail["delete_fix"] is False
