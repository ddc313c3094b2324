"""``plan --show-sql`` on a target through the real driver stack (FreeTDS and Driver 18), against
the served simulator: the reads run there, nothing that changes anything is ever sent, and what
it lists is what the following run sends, in the same order."""

from __future__ import annotations

import subprocess

import pytest

from jobs.db.catalog import load_catalog
from jobs.db.executor import RECORDING
from jobs.exit_codes import ExitCode
from jobs.runner.options import RunOptions
from jobs.runner.plan import build_plan
from jobs.runner.run import execute_plan
from tests.helpers import cli_env, configured_command
from tests.unit.test_sqlplan import (
    FORESEEABLE_NIGHT,
    procedures_that_change,
    run_sends,
    shown_sends,
    table_contents,
    without_lock_checks,
)

pytestmark = pytest.mark.integration
WRITES = sorted(name for name, statement in load_catalog().items() if statement.writes)


def show_sql(served, directory, *args: str) -> subprocess.CompletedProcess[str]:
    command = configured_command(
        served.config(directory), directory / "state", "plan", "--show-sql", *args
    )
    return subprocess.run(command, capture_output=True, text=True, env=cli_env(), timeout=300)


def test_show_sql_on_the_served_simulator_sends_nothing_that_changes_anything(
    serve, small_sim, tmp_path
):
    served = serve(small_sim, time_scale=0)
    before = table_contents(small_sim)

    result = show_sql(served, tmp_path, "--profile", "nightly")

    assert result.returncode == 0, result.stderr
    assert served.server.stats["logins"] >= 1  # it did read there
    received = {name: served.server.stats[f"received {name}"] for name in WRITES}
    assert not any(received.values()), received
    assert table_contents(small_sim) == before
    assert not procedures_that_change(small_sim)
    recorded = [line for _, line, sent in shown_sends(result.stdout) if not sent]
    assert any(line.startswith("decline_update ") for line in recorded)
    assert any(line.startswith("delete_update ") for line in recorded)


def test_show_sql_on_the_served_simulator_lists_what_the_following_run_sends_in_order(
    serve, small_sim, tmp_path
):
    served = serve(small_sim, time_scale=0)
    stages = [option for stage in FORESEEABLE_NIGHT for option in ("--stage", stage)]
    shown = show_sql(served, tmp_path, *stages)
    assert shown.returncode == 0, shown.stderr

    sent: list = []
    token = RECORDING.set(sent)
    try:
        plan = build_plan(
            served.settings(),
            RunOptions(
                target="served",
                profile=None,
                stages=FORESEEABLE_NIGHT,
                max_duration_minutes=100_000,
            ),
        )
        report = execute_plan(plan, tmp_path / "state")
    finally:
        RECORDING.reset(token)

    assert report.exit_code == ExitCode.OK, report.stages
    listed = shown_sends(shown.stdout)
    assert without_lock_checks(listed) == without_lock_checks(run_sends(sent))
    recorded = {line.split()[0] for _, line, was_sent in listed if not was_sent}
    assert {"decline_update", "delete_update", "compress_update", "delete_sync_history"} <= recorded
