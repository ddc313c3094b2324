"""A plan says what the run will do: each stage's count in a plan is what a run on the same
simulated SUSDB then does, and its time estimate is the run's order of magnitude."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from jobs.runner.run import RunReport, StageResult
from jobs.simulator import create
from jobs.simulator.catalog import preset_profile
from tests.helpers import run, settings_for

LONG = 100_000  # minutes: a window long enough for everything
APPLY_FIX = {"delete_fix": {"apply": True}}


@pytest.fixture(scope="module")
def unfixed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A neglected server's catalog, small: spDeleteUpdate without Microsoft's change."""
    path = tmp_path_factory.mktemp("templates") / "unfixed.sqlite3"
    create(path, preset_profile("neglected", updates=1500, seed=5))
    return path


@pytest.fixture
def unfixed_sim(unfixed_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "unfixed.sqlite3"
    shutil.copyfile(unfixed_template, path)
    return path


def plan_then_run(
    sim: Path, state_dir: Path, sections: dict[str, Any] | None = None, **options: Any
) -> tuple[RunReport, RunReport]:
    """A plan, then the run it describes, with the same settings (config ``sections``) on the
    same catalog."""
    settings = settings_for(sim, **{"backup": {"gate": "off"}, **(sections or {})})
    options.setdefault("max_duration_minutes", LONG)
    plan = run(settings, state_dir, dry_run=True, **options)
    done = run(settings, state_dir, **options)
    assert [stage.stage for stage in plan.stages] == [stage.stage for stage in done.stages]
    return plan, done


def the(report: RunReport, name: str) -> StageResult:
    """The stage ``name`` of a report (its first pass, for reindex)."""
    return next(stage for stage in report.stages if stage.stage == name)


def worked(stage: StageResult) -> int:
    """Items a run's stage dealt with: done, or found done already on the server."""
    return stage.done + stage.skipped


def test_a_plan_counts_the_custom_indexes_the_run_creates(small_sim, state_dir):
    plan, done = plan_then_run(small_sim, state_dir, stages=["custom_indexes"])
    assert the(done, "custom_indexes").done == 2
    assert the(plan, "custom_indexes").status == "planned"
    assert the(plan, "custom_indexes").remaining == 2


def test_a_plan_counts_the_custom_indexes_a_removal_drops(small_sim, state_dir):
    settings = settings_for(small_sim, backup={"gate": "off"})
    run(settings, state_dir, stages=["custom_indexes"])
    plan, done = plan_then_run(
        small_sim, state_dir, stages=["custom_indexes"], remove_custom_indexes=True
    )
    assert the(done, "custom_indexes").done == 2
    assert (the(plan, "custom_indexes").status, the(plan, "custom_indexes").remaining) == (
        "planned",
        2,
    )


@pytest.mark.parametrize("method", ["sp_updatestats", "fullscan"])
def test_a_plan_counts_the_statistics_updates_the_run_makes(small_sim, state_dir, method):
    plan, done = plan_then_run(
        small_sim,
        state_dir,
        stages=["statistics"],
        sections={"stages": {"statistics": {"method": method}}},
    )
    assert the(done, "statistics").done > 0
    assert the(plan, "statistics").remaining == the(done, "statistics").done


@pytest.mark.slow
def test_a_plan_leaves_out_of_compression_the_updates_the_cleanup_deletes_first(
    small_sim, state_dir
):
    plan, done = plan_then_run(small_sim, state_dir, stages=["obsolete_updates", "compress"])
    assert the(plan, "obsolete_updates").remaining == worked(the(done, "obsolete_updates"))
    assert the(plan, "compress").remaining == worked(the(done, "compress"))


@pytest.mark.slow
def test_every_stage_of_a_nightly_plans_what_the_run_then_does(small_sim, state_dir):
    plan, done = plan_then_run(small_sim, state_dir, profile="nightly")
    cleanup_planned = False
    for planned, ran in zip(plan.stages, done.stages, strict=True):
        if planned.status != "planned":
            continue  # checked (preflight, health) or skipped: the same in the run
        if planned.stage == "reindex" and cleanup_planned:
            # The deletes before it fragment the indexes it then finds: the plan says so.
            assert "after the cleanup" in (planned.reason or "")
            continue
        assert planned.remaining == worked(ran), planned.stage
        cleanup_planned = cleanup_planned or planned.stage in ("obsolete_updates", "compress")


def test_a_plan_counts_the_backup_the_run_takes(small_sim, state_dir, tmp_path):
    backup = {"gate": "off", "directory": str(tmp_path / "backups")}
    plan, done = plan_then_run(small_sim, state_dir, stages=["backup"], sections={"backup": backup})
    assert the(done, "backup").done == 1
    assert (the(plan, "backup").status, the(plan, "backup").remaining) == ("planned", 1)
    assert the(plan, "backup").detail["estimated_seconds"] > 0


def test_a_plan_counts_the_delete_fix_it_would_apply(unfixed_sim, state_dir):
    plan, done = plan_then_run(
        unfixed_sim, state_dir, stages=["delete_fix"], sections={"stages": APPLY_FIX}
    )
    assert the(done, "delete_fix").done == 1
    assert (the(plan, "delete_fix").status, the(plan, "delete_fix").remaining) == ("planned", 1)


def _estimate_against_run(plan: RunReport, done: RunReport) -> float:
    """The plan's estimate for the obsolete updates over what the run then took (both on the
    simulated SUSDB's clock)."""
    estimate = the(plan, "obsolete_updates").detail["estimated_seconds"]
    took = the(done, "obsolete_updates").duration_seconds
    assert worked(the(done, "obsolete_updates")) > 0 and took > 0
    return float(estimate) / took


@pytest.mark.slow
def test_with_the_delete_fix_to_apply_a_plan_estimates_deletes_at_the_fixed_cost(
    unfixed_sim, state_dir
):
    plan, done = plan_then_run(
        unfixed_sim,
        state_dir,
        stages=["custom_indexes", "obsolete_updates"],
        sections={"stages": APPLY_FIX},
    )
    assert the(done, "delete_fix").done == 1
    assert 0.5 <= _estimate_against_run(plan, done) <= 2


@pytest.mark.slow
def test_slow_nights_before_the_fix_do_not_slow_the_estimate_once_it_is_applied(
    unfixed_sim, state_dir
):
    # Two slow nights measured spDeleteUpdate without Microsoft's change (about 30 s a call).
    settings = settings_for(unfixed_sim, backup={"gate": "off"})
    for _ in range(2):
        run(
            settings,
            state_dir,
            stages=["custom_indexes", "obsolete_updates"],
            max_duration_minutes=3,
        )
    plan, done = plan_then_run(
        unfixed_sim,
        state_dir,
        stages=["custom_indexes", "obsolete_updates"],
        sections={"stages": APPLY_FIX},
    )
    assert the(done, "delete_fix").done == 1
    assert 0.5 <= _estimate_against_run(plan, done) <= 2
