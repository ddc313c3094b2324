"""``plan --all``: the dry run of what ``run --all`` will do on a WSUS hierarchy, in its order:
declines top-down (upstream first), cleanup bottom-up (replicas first), nothing changed."""

from __future__ import annotations

import shutil

import pytest

from jobs import commands
from jobs.exit_codes import ExitCode
from jobs.runner.options import RunOptions
from tests.helpers import procedure_calls, run_cli, settings_for, simulator_config


@pytest.fixture
def hierarchy(small_sim, tmp_path):
    """An upstream server and its replica, each its own simulated SUSDB."""
    replica_sim = tmp_path / "replica.sqlite3"
    shutil.copyfile(small_sim, replica_sim)
    settings = settings_for(small_sim, backup={"gate": "off"})
    settings.targets["replica"] = (
        settings_for(replica_sim).targets["sim"].model_copy(update={"upstream": "sim"})
    )
    return settings, (small_sim, replica_sim)


@pytest.mark.slow
def test_plan_all_plans_each_phase_in_the_order_run_all_takes_and_changes_nothing(
    hierarchy, tmp_path
):
    settings, sims = hierarchy
    request = RunOptions(all_targets=True, stages=["decline", "obsolete_updates"])
    planned = commands.plan(settings, tmp_path / "state", request)
    assert [(one.phase, one.plan.endpoint.name) for one in planned] == [
        ("decline", "sim"),
        ("decline", "replica"),
        ("cleanup", "replica"),
        ("cleanup", "sim"),
    ]
    assert all(one.report.dry_run for one in planned)
    assert [one.plan.stages for one in planned][:: len(planned) - 1] == [
        ["preflight", "decline"],
        ["preflight", "obsolete_updates"],
    ]
    for sim in sims:
        assert not procedure_calls(sim, "spDeclineUpdate")
        assert not procedure_calls(sim, "spDeleteUpdate")


@pytest.mark.slow
def test_plan_all_prints_each_phase_and_the_whole_window(small_sim, tmp_path):
    replica = tmp_path / "replica.sqlite3"
    shutil.copyfile(small_sim, replica)
    extra = f'[targets.replica]\nkind = "simulator"\npath = "{replica}"\nupstream = "sim"\n'
    config = simulator_config(tmp_path, small_sim, extra=extra)
    result = run_cli(
        "--config", str(config), "--state-dir", str(tmp_path / "state"), "--log-level", "error",
        "plan", "--all", "--stage", "decline", "--max-duration", "60",
    )  # fmt: skip
    assert result.returncode == ExitCode.OK, result.stderr[-2000:]
    headings = [line for line in result.stdout.splitlines() if line.startswith("--all")]
    assert headings[:2] == [
        "--all, decline phase (upstream first): sim",
        "--all, decline phase (upstream first): replica",
    ]
    assert headings[-1].startswith("--all, every target one after the other: Estimated work")
    assert "window 60 min" in headings[-1]
