"""Through the real driver stack, on a real SQL Server or the served simulator (see conftest):
every sql/ file parses, every statement runs with its parameters, the nightly profile runs."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.db.catalog import load_catalog
from jobs.db.connection import Endpoint
from jobs.db.executor import Executor
from jobs.errors import DatabaseError
from jobs.exit_codes import ExitCode
from jobs.runner.options import RunOptions
from jobs.runner.plan import build_plan
from jobs.runner.run import execute_plan
from jobs.settings.model import Settings
from jobs.susdb import Susdb
from tests.integration.served import PASSWORD_ENV, Database

pytestmark = pytest.mark.integration
SAMPLE_PARAMETERS: dict[str, list[Any]] = {
    "superseded_updates": [0, 0, 1, 0, 0, 0, None],
    "computer_counts": [30],
    "kpi_client_outcomes": [30],
    "sync_history_backlog": [90],
    "delete_sync_history": [10, 90],
    "client_events_backlog": [30],
    "delete_client_events": [10, 30],
    "acquire_target_lock": ["susdb-maint:test"],
    "release_target_lock": ["susdb-maint:test"],
    "check_target_lock": ["susdb-maint:test"],
    "update_is_declined": ["00000000-0000-0000-0000-000000000000"],
    "update_liveness": ["00000000-0000-0000-0000-000000000000"],
    "superseding_updates": [None],
    "update_exists": [0],
    "update_titles": [0, 1000],
    "update_old_revisions": [0],
    "index_fragmentation": ["LIMITED"],
}
SKIP_RUNNING = {
    "configmgr_deployed_updates",  # Configuration Manager's site database, not SUSDB
    "decline_update",
    "delete_update",
    "compress_update",
    "backup_database",
    "drop_custom_index",
    "reorganize_index",
    "rebuild_index",
    "update_statistics_table",
    "create_index_localized_property",
    "create_index_supersedes",
    "begin_transaction",  # a transaction of the computers guard: run by the nightly profile
    "commit_transaction",
    "cleanup_obsolete_computers",
    "apply_delete_update_fix",  # they change a WSUS procedure: tests/stages/test_delete_fix.py
    "restore_delete_update",
}  # they run inside the nightly profile below


def settings(database: Database) -> Settings:
    return Settings.model_validate(
        {
            "backup": {"gate": "off"},
            "stages": {"reindex": {"online": False}},
            "targets": {
                "real": {
                    "kind": "sqlserver",
                    "server": database.server,
                    "port": database.port,
                    "database": database.database,
                    "auth": "sql",
                    "username": database.username,
                    "password_env": PASSWORD_ENV,
                    "encrypt": "optional",
                    "trust_server_certificate": True,
                    "driver": database.driver,
                }
            },
        }
    )


@pytest.fixture
def executor(fixture_database):
    endpoint = Endpoint("real", settings(fixture_database).targets["real"])
    runner = Executor(endpoint, default_timeout=60)
    yield runner
    runner.close()


def test_every_sql_file_parses_on_the_server(executor, fixture_database):
    if not fixture_database.real:
        pytest.skip(
            "SET PARSEONLY checks T-SQL against SQL Server's own parser: a real server only"
        )
    connection = executor.connection
    for statement in load_catalog().values():
        connection.execute("SET PARSEONLY ON;")  # its own batch: see bytebase/dbhub#374
        try:
            for batch in statement.batches:
                connection.execute(batch.text, *([None] * batch.text.count("?")))
        finally:
            connection.execute("SET PARSEONLY OFF;")


@pytest.mark.parametrize("name", sorted(set(load_catalog()) - SKIP_RUNNING))
def test_every_read_statement_runs(executor, name):
    executor.run(name, SAMPLE_PARAMETERS.get(name, []))


def test_the_nightly_profile_runs_end_to_end(fixture_database, tmp_path):
    configured = settings(fixture_database)
    configured.stages.decline.min_age_days = 0
    plan = build_plan(
        configured, RunOptions(target="real", profile="nightly", max_duration_minutes=30)
    )
    report = execute_plan(plan, tmp_path / "state")
    statuses = {stage.stage: stage.status for stage in report.stages}
    assert statuses["decline"] == "done" and statuses["obsolete_updates"] == "done", report.stages
    # What stays superseded has nothing alive above it (tests/stages pins which, with an oracle).
    assert (
        report.kpis_after["superseded_not_declined"] < report.kpis_before["superseded_not_declined"]
    )
    assert report.exit_code in (
        ExitCode.OK,
        ExitCode.STAGE_FAILED,
    )  # sp_updatestats may need sysadmin


# -- the assumptions the simulated SUSDB makes, checked on a real server (issue 12) ------------


def declined_titles(executor: Executor) -> set[str]:
    rows = executor.connection.execute(
        "SELECT lp.Title FROM dbo.tbUpdate u "
        "JOIN dbo.tbRevision r ON r.LocalUpdateID = u.LocalUpdateID AND r.IsLatestRevision = 1 "
        "JOIN dbo.tbLocalizedPropertyForRevision lpr ON lpr.RevisionID = r.RevisionID "
        "JOIN dbo.tbLocalizedProperty lp ON lp.LocalizedPropertyID = lpr.LocalizedPropertyID "
        "WHERE EXISTS (SELECT 1 FROM dbo.tbDeployment d JOIN dbo.tbRevision dr "
        "ON dr.RevisionID = d.RevisionID WHERE dr.LocalUpdateID = u.LocalUpdateID AND d.ActionID = 2)"
    ).fetchall()
    return {row[0] for row in rows}


def test_the_servers_own_refusals_are_the_ones_the_code_falls_back_from(executor):
    susdb = Susdb(executor)
    event_instance = next(
        entry
        for entry in susdb.index_stats(mode="SAMPLED")
        if entry.table == "tbEventInstance" and entry.index_id == 1
    )
    with pytest.raises(DatabaseError) as online:
        susdb.rebuild_index(
            "tbEventInstance", event_instance.index, online=True, fill_factor=None, maxdop=None
        )
    assert online.value.native in (2725, 1712)  # ntext columns (Enterprise) or the edition
    with pytest.raises(DatabaseError) as reorganize:
        susdb.reorganize_index("tbRevisionInCategory", "nc1RevisionInCategory")
    assert reorganize.value.native == 2552


def test_the_fixtures_guess_for_vupdate_publication_state_refuses_a_number(executor):
    import pyodbc

    with pytest.raises(pyodbc.Error, match=r"\(245\)"):
        executor.connection.execute(
            "SELECT COUNT(*) FROM PUBLIC_VIEWS.vUpdate WHERE PublicationState = 1"
        ).fetchall()


def test_index_stats_keep_to_dbo_user_tables_and_a_limited_scan_has_no_density(executor):
    susdb = Susdb(executor)
    sampled = susdb.index_stats(mode="SAMPLED")
    assert sampled and not any(entry.table == "CommandLog" for entry in sampled)
    assert any(not entry.allow_page_locks for entry in sampled)
    limited = susdb.index_stats(mode="LIMITED")
    assert limited and all(entry.page_density is None for entry in limited)


def test_procedure_results_are_read_by_position(executor):
    assert all(isinstance(local_id, int) for local_id in Susdb(executor).updates_to_compress())


def test_every_right_the_stages_use_is_checked_and_held_by_the_test_login(executor):
    rights = Susdb(executor).permissions()
    assert all(rights.values()), rights
    assert "EXECUTE dbo.spGetUpdatesToCompress" in rights


def test_the_last_synchronization_is_three_hours_old(executor):
    last, ages = Susdb(executor).last_sync_event()
    assert last is not None and any(170 <= age <= 190 for age in ages)


def test_declines_take_offered_updates_only_and_every_product_must_be_unwanted(
    fixture_database, executor, tmp_path
):
    if not fixture_database.real:
        pytest.skip(
            "reads rows of tests/fixtures/susdb_fixture.sql, which only a real server is built "
            "from; on the simulator tests/stages/test_decline.py pins the same rule"
        )
    data = settings(fixture_database).model_dump()
    data["stages"]["decline"] = {
        "rules": [{"field": "product", "pattern": "Windows Server 2012 R2"}],
    }
    plan = build_plan(
        Settings.model_validate(data), RunOptions(target="real", stages=["decline"], profile=None)
    )
    report = execute_plan(plan, tmp_path / "state")
    assert report.stages[-1].status == "done", report.stages
    declined = declined_titles(executor)
    assert "Update for Windows Server 2012 R2 (KB5009001)" in declined
    assert "Windows Malicious Software Removal Tool x64 - v5.130 (KB890830)" not in declined
    assert not declined & {
        "Product Detectoid for Windows Server 2012 R2",
        "Hidden update for Windows Server 2012 R2",
        "Bundled component for Windows Server 2012 R2",
        "Windows XP",
    }


# -- Microsoft's spDeleteUpdate change, applied and taken back on the server (issue 24) ---------
def _alter_directly(executor: Executor, text: str) -> None:
    """ALTER PROCEDURE must be alone in its batch; the SET options it captures come first."""
    from jobs.stages.delete_fix import as_alter

    cursor = executor.connection.cursor()
    cursor.execute("SET ANSI_NULLS ON")
    cursor.execute("SET QUOTED_IDENTIFIER ON")
    cursor.execute(as_alter(text))
    cursor.close()


def test_the_spdeleteupdate_change_is_applied_and_taken_back_on_the_server(
    fixture_database, executor, tmp_path
):
    from jobs.simulator.schema import spdeleteupdate_texts
    from jobs.stages import delete_fix

    susdb = Susdb(executor)
    fixture_text = susdb.delete_update_module()
    assert fixture_text is not None
    rights_before = susdb.delete_fix_rights()
    # The fixture's procedure gives way to WSUS's original as Microsoft's article implies it
    # (the published text without the primary key).
    if fixture_database.real:
        _alter_directly(executor, spdeleteupdate_texts()["original"])
    else:
        from tests.catalog import SimulatedServer

        assert fixture_database.sim is not None
        SimulatedServer(fixture_database.sim).spdeleteupdate("original")
    try:
        configured = settings(fixture_database)
        configured.stages.delete_fix.apply = True
        state = tmp_path / "state"
        applied = execute_plan(
            build_plan(configured, RunOptions(target="real", profile=None, stages=["delete_fix"])),
            state,
        )
        assert applied.stages[-1].status == "done", applied.stages
        fixed = susdb.delete_update_module()
        assert fixed is not None and delete_fix.state_of(fixed.definition) == "fixed"
        assert (fixed.uses_ansi_nulls, fixed.uses_quoted_identifier, fixed.signed) == (
            True,
            True,
            False,
        )
        assert susdb.delete_fix_rights() == rights_before
        restored = execute_plan(
            build_plan(
                configured,
                RunOptions(
                    target="real", profile=None, stages=["preflight"], restore_delete_fix=True
                ),
            ),
            state,
        )
        assert restored.stages[-1].status == "done", restored.stages
        back = susdb.delete_update_module()
        assert back is not None and delete_fix.state_of(back.definition) == "original"
        assert (back.uses_ansi_nulls, back.uses_quoted_identifier) == (True, True)
    finally:
        if fixture_database.real:
            _alter_directly(executor, fixture_text.definition)
