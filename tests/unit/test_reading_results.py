"""Reading the results as an administrator does: history, status, plan, schedule --list and the
before/after table say what happened without being misread."""

from __future__ import annotations

import io
import json
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from jobs import commands, output, report
from jobs.runner.options import RunOptions
from jobs.schedule import next_fire_times, schedule_table, trigger_for
from jobs.settings.model import Settings
from jobs.state.store import StateStore
from tests.catalog import SimulatedServer
from tests.helpers import (
    a_catalog_with_decline_findings,
    query,
    run,
    run_cli,
    settings_for,
    simulator_config,
)


def cli(directory: Path, sim: Path, *args: str, extra: str = "") -> str:
    config = simulator_config(directory, sim, extra=extra)
    result = run_cli(
        "--config", str(config), "--state-dir", str(directory / "state"), "--log-format", "json",
        *args,
    )  # fmt: skip
    assert result.returncode in (0, 1, 3), result.stderr[-2000:]  # ok, a stage failed, partial
    return result.stdout


def rendered(table: object, width: int = 120) -> str:
    stream = io.StringIO()
    report.console(stream).print(table, width=width)
    return stream.getvalue()


@pytest.mark.slow
def test_history_shows_the_whole_run_id_and_what_each_run_declined_deleted_and_compressed(
    small_sim, tmp_path
):
    settings = settings_for(small_sim, backup={"gate": "off"})
    result = run(settings, tmp_path / "state", profile="nightly")
    store = StateStore(tmp_path / "state", read_only=True)
    runs = store.runs("sim", 5)
    store.close()
    done = {stage.stage: stage.done for stage in result.stages}
    assert done["decline"] and done["obsolete_updates"] and done["compress"]
    for width in (120, 60):  # a narrow terminal wraps other columns, never the run ID
        text = rendered(report.history_table(runs), width)
        assert result.run_id in text
        row = next(line for line in text.splitlines() if result.run_id in line)
    wide = rendered(report.history_table(runs))
    row = next(line for line in wide.splitlines() if result.run_id in line)
    counts = [f"{done[stage]:,}" for stage in ("decline", "obsolete_updates", "compress")]
    assert row.split()[-3:] == counts
    assert "declined" in wide and "deleted" in wide and "compressed" in wide


@pytest.mark.slow
def test_history_json_carries_the_counts(small_sim, tmp_path):
    cli(tmp_path, small_sim, "run", "--stage", "decline")
    (entry,) = json.loads(cli(tmp_path, small_sim, "history", "--json"))
    assert entry["counts"]["declined"] > 0 and entry["counts"]["deleted"] == 0


@pytest.mark.slow
def test_status_is_a_snapshot_with_the_last_run_the_backlog_quarantine_and_the_next_fire(
    small_sim, tmp_path
):
    victim = _poison_one_superseded_update(small_sim)
    schedule = (
        '[schedule]\ntimezone = "Europe/Paris"\n[schedule.jobs.nightly]\ncron = "15 1 * * *"\n'
    )
    extra = "[runner]\nquarantine_after = 1\n" + schedule
    cli(tmp_path, small_sim, "run", "--profile", "nightly", "--max-duration", "5", extra=extra)
    text = cli(tmp_path, small_sim, "status", extra=extra)
    header = next(line for line in text.splitlines() if "KPI" in line)
    assert "now" in header and "before" not in header and "after" not in header
    store = StateStore(tmp_path / "state", read_only=True)
    (last,) = store.runs("sim", 1)
    store.close()
    assert f"Last run: {last['run_id']} (nightly)" in text
    assert re.search(
        r"Queued for the next runs:\n(  \w+: .*\n)*  obsolete_updates: pending \d", text
    )
    assert "1 quarantined item(s)" in text and f"decline {victim}" in text
    assert re.search(r"Next scheduled run: \w{3} \d{4}-\d\d-\d\d 01:15 CE[S]?T \(job nightly", text)
    unscheduled = cli(tmp_path, small_sim, "status", extra="[runner]\nquarantine_after = 1\n")
    assert "Next scheduled run: no [schedule.jobs] for this target" in unscheduled
    status = json.loads(cli(tmp_path, small_sim, "status", "--json", extra=extra))
    assert status["last_run"]["run_id"] == last["run_id"] and status["quarantined"] == 1
    assert status["queued"] and status["next_runs"][0]["job"] == "nightly"


@pytest.mark.slow
def test_a_plan_is_headed_as_a_plan_and_shows_work_to_do_not_work_done(small_sim, tmp_path):
    text = cli(tmp_path, small_sim, "plan", "--profile", "nightly")
    assert text.startswith("Plan for sim (nightly): a dry run, nothing was changed in SUSDB")
    header = next(line for line in text.splitlines() if "stage" in line)
    columns = [cell.strip() for cell in header.strip("┃").split("┃")]
    assert columns == ["stage", "plan", "items to do", "already done", "estimate", "note"]
    decline = next(line for line in text.splitlines() if line.startswith("│ decline"))
    cells = [cell.strip() for cell in decline.strip("│").split("│")]
    assert cells[1] == "would run" and int(cells[2].replace(",", "")) > 0
    assert "before" not in text and "SUSDB now" in text


def test_schedule_list_shows_distinct_fire_times_for_cron_and_patch_tuesday_jobs():
    settings = Settings.model_validate(
        {
            "targets": {"wsus01": {"kind": "sqlserver", "server": "sql01"}},
            "schedule": {
                "timezone": "Europe/Paris",
                "jobs": {
                    "nightly": {"cron": "15 1 * * *"},
                    "before-patch-tuesday": {
                        "profile": "pre-patch-tuesday",
                        "patch_tuesday": {"offset_days": -10, "at": "02:30"},
                    },
                },
            },
        }
    )
    paris = ZoneInfo("Europe/Paris")
    now = datetime(2026, 11, 25, 12, 0, tzinfo=paris)
    nightly = next_fire_times(trigger_for(settings.schedule.jobs["nightly"], paris), 3, now)
    assert [moment.day for moment in nightly] == [26, 27, 28]
    text = rendered(schedule_table(settings, now))
    assert "Thu 2026-11-26 01:15 CET" in text and "Sat 2026-11-28 01:15 CET" in text
    # Ten days before the second Tuesdays of December (8th), January (12th), February (9th).
    for fire in ("Sat 2026-11-28 02:30", "Sat 2027-01-02 02:30", "Sat 2027-01-30 02:30"):
        assert fire in text
    assert "cron 15 1 * * *" in text and "Patch Tuesday -10 days at 02:30" in text


@pytest.mark.slow
def test_the_before_after_table_explains_approvals_removed_by_declines(small_sim, tmp_path):
    approved_superseded = (
        sqlite3.connect(small_sim)
        .execute(
            """SELECT COUNT(DISTINCT mu.UpdateID) FROM vwMinimalUpdate mu JOIN tbRevision r
        ON r.LocalUpdateID = mu.LocalUpdateID JOIN tbDeployment d ON d.RevisionID = r.RevisionID
        WHERE mu.IsSuperseded = 1 AND mu.Declined = 0 AND d.ActionID = 0"""
        )
        .fetchone()[0]
    )
    assert approved_superseded > 0
    settings = settings_for(small_sim, backup={"gate": "off"})
    result = run(settings, tmp_path / "state", stages=["decline", "obsolete_updates", "health"])
    data = result.as_dict()
    assert data["kpis_after"]["approved"] < data["kpis_before"]["approved"]
    stream = io.StringIO()
    output.run_summary(data, stream)
    text = stream.getvalue()
    approved = next(line for line in text.splitlines() if "Approved" in line)
    assert "declining an approved update removes its approval" in approved
    assert all(len(line) <= 120 for line in text.splitlines())
    declined = next(line for line in text.splitlines() if line.startswith("│ Declined "))
    assert f"+{report.items_done(data['stages'])['decline']:,} declined by this run" in declined
    size = next(line for line in text.splitlines() if "Database size" in line)
    assert "does not shrink" in size


def test_a_change_with_nothing_to_explain_has_no_note():
    notes = report.explain_changes({"approved": 10}, {"approved": 10}, [])
    assert notes == {}


def test_the_total_note_says_when_deleted_updates_were_never_in_the_total():
    # The total counts updates clients are offered; obsolete ones never offered go too.
    stages = [{"stage": "obsolete_updates", "done": 722}]
    partly = report.explain_changes({"total_updates": 5000}, {"total_updates": 4288}, stages)
    assert partly["total_updates"] == "722 obsolete updates deleted, 10 of them never offered"
    whole = report.explain_changes({"total_updates": 5000}, {"total_updates": 4278}, stages)
    assert whole["total_updates"] == "722 obsolete updates deleted"


def _poison_one_superseded_update(path: Path) -> str:
    """Make one superseded, approved update fail on every decline, like a broken server."""
    ((victim,),) = query(
        path,
        """SELECT mu.UpdateID FROM vwMinimalUpdate mu JOIN tbRevision r ON r.LocalUpdateID =
        mu.LocalUpdateID JOIN tbDeployment d ON d.RevisionID = r.RevisionID WHERE mu.IsSuperseded = 1
        AND mu.Declined = 0 AND d.ActionID = 0 ORDER BY mu.UpdateID LIMIT 1""",
    )
    SimulatedServer(path).poison("spDeclineUpdate", victim, "simulated corruption")
    return str(victim)


def note_column(text: str) -> str:
    """The last column of a rendered table, its wrapped lines joined again."""
    cells = [
        line.strip("│").split("│")[-1].strip() for line in text.splitlines() if line.startswith("│")
    ]
    return " ".join(cell for cell in cells if cell)


LONG_BREAKDOWN = {
    "superseded": 594,
    "rule:preset:x86": 88,
    "rule:preset:language-packs": 80,
    "rule:preset:preview": 51,
    "expired": 25,
}
WHOLE_NOTE = ", ".join(f"{reason} {count}" for reason, count in LONG_BREAKDOWN.items())


def test_the_plan_note_wraps_between_words_and_is_never_cut():
    stage = {
        "stage": "decline",
        "status": "planned",
        "remaining": 838,
        "skipped": 0,
        "detail": {"by_reason": LONG_BREAKDOWN, "estimated_seconds": 83.8},
    }
    text = rendered(report.plan_table([stage], "Plan"))
    assert note_column(text) == WHOLE_NOTE
    assert all(len(line) <= 120 for line in text.splitlines())


def test_the_run_note_wraps_between_words_and_is_never_cut():
    stage = {
        "stage": "decline",
        "status": "done",
        "done": 838,
        "detail": {"by_reason": LONG_BREAKDOWN},
    }
    assert note_column(rendered(report.stage_table([stage], "Run"))) == f"queued: {WHOLE_NOTE}"


@pytest.mark.slow
@pytest.mark.parametrize("command", ["plan", "run"])
def test_simulated_seconds_are_marked_as_simulated_time(small_sim, tmp_path, command):
    text = cli(tmp_path, small_sim, command, "--profile", "nightly")
    headline = text.splitlines()[0]
    assert headline.endswith("(simulated time)"), headline
    if command == "plan":
        estimate = next(line for line in text.splitlines() if line.startswith("Estimated work"))
        assert "(simulated time)" in estimate


def test_a_report_says_whether_its_seconds_are_simulated(small_sim, tmp_path):
    settings = settings_for(small_sim, backup={"gate": "off"})
    assert run(settings, tmp_path / "state", stages=["health"]).as_dict()["virtual_time"] is True


def test_a_failed_stage_note_says_why_before_its_counts():
    """Admin review: a misspelled keep_products showed only "superseded 267, expired 182"."""
    failed = {
        "status": "failed",
        "reason": "stages.decline.keep_products: 'Windos Server 2022' names no product",
        "detail": {"by_reason": {"superseded": 267, "expired": 182}},
    }
    assert report.stage_note(failed) == (
        "stages.decline.keep_products: 'Windos Server 2022' names no product; "
        "queued: superseded 267, expired 182"
    )
    done = {**failed, "status": "done", "reason": None}
    assert report.stage_note(done) == "queued: superseded 267, expired 182"


def test_after_the_queue_drained_the_run_summary_says_what_was_declined_and_left_alone(tmp_path):
    """The stage's own counts are of what is still queued: none once the queue has drained. The
    summary says what went, per reason, from the run's decline history, and what the stage left
    alone or found amiss, Configuration Manager's mismatches both ways."""
    _, settings = a_catalog_with_decline_findings(tmp_path)
    printed: list[object] = []
    commands.run(
        settings,
        tmp_path / "state",
        RunOptions(target="sim", stages=("decline",)),
        on_report=printed.append,
    )
    (result,) = printed
    stream = io.StringIO()
    output.run_summary(result, stream)
    stages = stream.getvalue().split("SUSDB before and after")[0]
    assert note_column(stages) == (
        "declined: rule:Servicing Stack 1; 1 left alone: a category title did not resolve; "
        "Configuration Manager deploys 2: 1 candidate(s) kept, 1 declined in WSUS"
    )


def test_a_note_says_configuration_manager_agreed_when_nothing_is_amiss():
    """Zeros are said too: that the site was read and found nothing amiss is worth knowing."""
    stage = {
        "status": "done",
        "detail": {"configmgr_deployed": 12, "kept_deployed": 0, "declined_but_deployed": 0},
    }
    assert report.stage_note(stage) == (
        "Configuration Manager deploys 12: 0 candidate(s) kept, 0 declined in WSUS"
    )


def test_a_run_note_tells_what_was_declined_from_what_is_still_queued():
    stage = {
        "status": "partial",
        "reason": "max_per_run",
        "detail": {
            "declined_by_reason": {"superseded": 1500, "expired": 2},
            "by_reason": {"superseded": 300},
        },
    }
    assert report.stage_note(stage) == (
        "max_per_run; declined: superseded 1,500, expired 2; queued: superseded 300"
    )


def test_the_before_and_after_notes_name_only_what_this_run_did():
    """A run that declined nothing does not say clients will see its declines; one that neither
    deleted nor reindexed does not blame a reindex for new fragmentation (fresh-eyes review)."""
    before = {"clients_sync_failed": 15.0, "fragmented_indexes": 1.0}
    after = {"clients_sync_failed": 15.0, "fragmented_indexes": 3.0}

    notes = report.explain_changes(before, after, [{"stage": "computers", "done": 0}])

    assert "clients_sync_failed" not in notes and "fragmented_indexes" not in notes
    declined = report.explain_changes(before, after, [{"stage": "decline", "done": 5}])
    assert declined["clients_sync_failed"].startswith("clients see tonight's declines")
