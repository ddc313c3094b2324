"""Against a real SQL Server: every sql/ file parses, every statement runs, the nightly profile runs."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.db.catalog import load_catalog
from jobs.db.connection import Endpoint
from jobs.db.executor import Executor
from jobs.exit_codes import ExitCode
from jobs.runner.plan import build_plan
from jobs.runner.run import execute_plan
from jobs.settings.model import Settings

pytestmark = pytest.mark.integration
SAMPLE_PARAMETERS: dict[str, list[Any]] = {
    "superseded_updates": [0, 0, 1, 0],
    "computer_counts": [30],
    "sync_history_backlog": [90],
    "delete_sync_history": [10, 90],
    "acquire_target_lock": ["susdb-maint:test"],
    "release_target_lock": ["susdb-maint:test"],
    "check_target_lock": ["susdb-maint:test"],
    "update_is_declined": ["00000000-0000-0000-0000-000000000000"],
    "update_exists": [0],
    "update_old_revisions": [0],
    "index_fragmentation": ["LIMITED"],
}
SKIP_RUNNING = {
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


def settings(fixture_database: dict[str, Any]) -> Settings:
    return Settings.model_validate(
        {
            "backup": {"gate": "off"},
            "stages": {"reindex": {"online": False}},
            "targets": {
                "real": {
                    "kind": "sqlserver",
                    "server": fixture_database["server"],
                    "port": fixture_database["port"],
                    "database": fixture_database["database"],
                    "auth": "sql",
                    "username": fixture_database["username"],
                    "password_env": "SUSDB_TEST_PASSWORD",
                    "encrypt": "optional",
                    "trust_server_certificate": True,
                    "driver": fixture_database["driver"],
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


def test_every_sql_file_parses_on_the_server(executor):
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
    plan = build_plan(
        settings(fixture_database), target="real", profile="nightly", max_duration_minutes=30
    )
    report = execute_plan(plan, tmp_path / "state")
    statuses = {stage["stage"]: stage["status"] for stage in report.stages}
    assert statuses["decline"] == "done" and statuses["obsolete_updates"] == "done", report.stages
    assert report.kpis_after["superseded_not_declined"] == 0
    assert report.exit_code in (
        ExitCode.OK,
        ExitCode.STAGE_FAILED,
    )  # sp_updatestats may need sysadmin
