"""On a live WSUS: results read by position, small delete batches, a warning when a
synchronization just ran, and the rights of what really runs, checked."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from jobs.db.catalog import load_catalog
from jobs.exit_codes import ExitCode
from jobs.stages.declared.sync_history import SyncHistorySettings
from tests.catalog import CatalogBuilder, SimulatedServer
from tests.helpers import gateway, query, run, settings_for


def test_compress_reads_the_procedures_result_by_position_whatever_its_column_is_called(
    small_sim, state_dir
):
    # The simulator's spGetUpdatesToCompress names its column nothing: no public source names it.
    report = run(settings_for(small_sim, backup={"gate": "off"}), state_dir, stages=["compress"])
    assert report.exit_code == ExitCode.OK, report.stages
    assert report.stages[-1].done > 0


@pytest.mark.slow
def test_sync_history_batches_stay_under_the_lock_escalation_threshold(tmp_path, state_dir):
    builder = CatalogBuilder(tmp_path / "history.sqlite3")
    builder.synchronized(days_ago=200, copies=12_000)
    path = builder.close()
    report = run(settings_for(path, backup={"gate": "off"}), state_dir, stages=["sync_history"])
    assert report.exit_code == ExitCode.OK and report.stages[-1].done == 12_000
    escalations = query(
        path,
        "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sim_lock_escalation'",
    )[0][0] and query(path, "SELECT object_name, locks FROM sim_lock_escalation")
    assert not escalations


def test_a_batch_of_5000_rows_or_more_is_refused_by_the_configuration():
    assert SyncHistorySettings().batch_rows == 4000
    with pytest.raises(ValidationError, match="less than 5000"):
        SyncHistorySettings(batch_rows=5000)


@pytest.mark.slow
def test_destructive_work_waits_for_a_synchronization_to_go_quiet(small_sim, state_dir, event_log):
    """A synchronization event 5 minutes ago: the sync guard waits (inside the window, on the
    run's clock) until none is younger than sync_quiet_minutes, then the declines run."""
    SimulatedServer(small_sim).synchronized(minutes_ago=5)
    report = run(
        settings_for(small_sim, backup={"gate": "off"}), state_dir, stages=["preflight", "decline"]
    )
    assert report.exit_code == ExitCode.OK, report.stages
    (warning,) = event_log.named("preflight.sync_recent")
    assert 4 <= warning["minutes_ago"] <= 6 and "pause the synchronization" in warning["advice"]
    (quiet,) = event_log.named("preflight.sync_quiet")
    assert 24 <= quiet["waited_minutes"] <= 27
    assert report.stages[-1].done > 0


@pytest.mark.slow
def test_a_synchronization_that_does_not_go_quiet_defers_destructive_work(
    small_sim, state_dir, event_log
):
    SimulatedServer(small_sim).synchronized(minutes_ago=5)
    settings = settings_for(
        small_sim, backup={"gate": "off"}, stages={"preflight": {"sync_wait_minutes": 10}}
    )
    report = run(settings, state_dir, stages=["preflight", "decline"])
    assert report.exit_code == ExitCode.PARTIAL
    decline = report.stages[-1]
    assert decline.status == "deferred" and "synchronization may be running" in (
        decline.reason or ""
    )
    assert query(small_sim, "SELECT COUNT(*) FROM sim_call_log") == [(0,)]

    warned = settings_for(
        small_sim, backup={"gate": "off"}, stages={"preflight": {"sync_guard": "warn"}}
    )
    assert run(warned, state_dir, stages=["preflight", "decline"]).exit_code == ExitCode.OK


def test_preflight_is_quiet_when_the_last_synchronization_is_hours_old(
    small_sim, state_dir, event_log
):
    # The simulated server's last synchronization ended three hours ago.
    run(settings_for(small_sim, backup={"gate": "off"}), state_dir, stages=["preflight"])
    assert event_log.named("preflight.sync_recent") == []


def test_without_view_definition_the_delete_fix_check_says_it_cannot_tell(
    small_sim, state_dir, event_log
):
    SimulatedServer(small_sim).deny("VIEW DEFINITION dbo.spDeleteUpdate")
    report = run(settings_for(small_sim, backup={"gate": "off"}), state_dir, stages=["preflight"])
    assert event_log.named("preflight.delete_fix_missing") == []
    (unknown,) = event_log.named("preflight.delete_fix_unknown")
    assert "VIEW DEFINITION" in unknown["reason"]
    assert report.stages[0].detail["delete_fix"] is None
    assert report.stages[0].detail["missing_permissions"] == [
        "VIEW DEFINITION on dbo.spDeleteUpdate (fix check)"
    ]


def test_the_rights_check_covers_every_wsus_procedure_the_statements_execute(small_sim):
    # What the statements execute themselves, not what a procedure body they install would run.
    code = "\n".join(
        statement.text
        for statement in load_catalog().values()
        if not re.search(r"\b(?:ALTER|CREATE)\s+PROCEDURE\b", statement.text, re.I)
    )
    procedures = set(re.findall(r"\bEXEC(?:UTE)?\s+(?:@\w+\s*=\s*)?dbo\.(sp\w+)", code, re.I))
    assert "spGetUpdatesToCompress" in procedures
    with gateway(small_sim) as susdb:
        rights = susdb.permissions()
    assert all(rights.values())
    assert {f"EXECUTE dbo.{name}" for name in procedures} <= set(rights)


@pytest.mark.parametrize(
    ("denied", "reported"),
    [
        ("ALTER dbo.tbRevision", ["ALTER on every dbo table (reindex)"]),
        (
            "ALTER dbo.tbLocalizedPropertyForRevision",
            [
                "ALTER on dbo.tbLocalizedPropertyForRevision (custom index)",
                "ALTER on every dbo table (reindex)",
            ],
        ),
        ("ROLE db_owner", ["db_owner (sp_updatestats)"]),
        ("BACKUP DATABASE SUSDB", ["BACKUP DATABASE (backup stage)"]),
        (
            "VIEW DEFINITION dbo.spDeleteUpdate",
            ["VIEW DEFINITION on dbo.spDeleteUpdate (fix check)"],
        ),
        ("EXECUTE dbo.spGetUpdatesToCompress", ["EXECUTE dbo.spGetUpdatesToCompress"]),
    ],
)
def test_each_right_a_stage_really_uses_is_checked(small_sim, denied, reported):
    SimulatedServer(small_sim).deny(denied)
    with gateway(small_sim) as susdb:
        rights = susdb.permissions()
    assert [name for name, held in rights.items() if not held] == reported


def test_unreadable_synchronization_events_defer_destructive_work(small_sim, state_dir):
    """The guard fails closed: when the events cannot be read, a synchronization cannot be ruled
    out, and the destructive stages wait for the next run (exit 3)."""
    settings = settings_for(
        small_sim,
        backup={"gate": "off"},
        target={
            "faults": {
                "rate": 1.0,
                "kinds": ["permission_denied"],
                "statements": ["last_sync_event"],
            }
        },
    )
    report = run(settings, state_dir, stages=["preflight", "decline"])
    assert report.exit_code == ExitCode.PARTIAL
    assert "cannot tell whether a WSUS synchronization is running" in (
        report.stages[-1].reason or ""
    )
    assert query(small_sim, "SELECT COUNT(*) FROM sim_call_log") == [(0,)]


@pytest.mark.slow
def test_a_synchronization_that_starts_mid_night_holds_the_next_destructive_stage(
    small_sim, state_dir, event_log, monkeypatch
):
    """Checked before each destructive stage, not once: a synchronization event written after
    preflight holds the stage that comes next until it goes quiet."""
    from jobs.stages import preflight

    checked_in_preflight = preflight.warn_of_sync

    def preflight_then_a_sync_starts(ctx):
        checked_in_preflight(ctx)
        SimulatedServer(small_sim).synchronized(minutes_ago=1)

    monkeypatch.setattr(preflight, "warn_of_sync", preflight_then_a_sync_starts)
    report = run(settings_for(small_sim, backup={"gate": "off"}), state_dir, stages=["decline"])
    assert report.exit_code == ExitCode.OK, report.stages
    assert event_log.named("preflight.sync_recent") == []  # preflight saw none
    (quiet,) = event_log.named("preflight.sync_quiet")
    assert quiet["waited_minutes"] >= 29
