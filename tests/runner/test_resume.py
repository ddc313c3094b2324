"""Deadlines, resumes and kills: every item is processed exactly once in total."""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from jobs.exit_codes import ExitCode
from jobs.state.store import StateStore
from tests.helpers import (
    cli_env,
    covered_when_declined,
    offered,
    procedure_calls,
    run,
    settings_for,
    simulated_command,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_deadline_stops_a_run_mid_stage_and_the_next_run_finishes_each_item_once(
    neglected_sim, state_dir, event_log
):
    settings = settings_for(
        neglected_sim, backup={"gate": "off"}, stages={"decline": {"min_age_days": 0}}
    )
    before = neglected_sim.with_name("before.sqlite3")
    shutil.copyfile(neglected_sim, before)
    first = run(
        settings, state_dir, stages=["decline", "obsolete_updates"], max_duration_minutes=60
    )
    assert first.exit_code == ExitCode.PARTIAL
    obsolete = next(stage for stage in first.stages if stage.stage == "obsolete_updates")
    assert obsolete.status == "partial" and obsolete.done > 0 and obsolete.remaining > 0
    (deadline,) = event_log.named("deadline.reached")
    assert deadline["remaining"]["obsolete_updates"] == obsolete.remaining

    second = run(
        settings, state_dir, stages=["decline", "obsolete_updates"], max_duration_minutes=100_000
    )
    assert second.exit_code == ExitCode.OK
    again = next(stage for stage in second.stages if stage.stage == "obsolete_updates")
    assert again.done >= obsolete.remaining  # plus what the deletions freed (a second pass)
    # The second run resumed the stored queue instead of re-running the candidate query first.
    second_run = [
        event["event"]
        for event in event_log.all()
        if event.get("run_id") == second.run_id and event.get("stage") == "obsolete_updates"
    ]
    assert next(name for name in second_run if name.startswith("queue.")) == "queue.resume"
    deletes = procedure_calls(neglected_sim, "spDeleteUpdate")
    assert deletes and max(deletes.values()) == 1
    assert sum(deletes.values()) == obsolete.done + again.done
    assert max(procedure_calls(neglected_sim, "spDeclineUpdate").values()) == 1
    left = offered(neglected_sim, "mu.IsSuperseded = 1 AND mu.Declined = 0")
    assert not left & covered_when_declined(before, state_dir)


def test_a_stale_queue_is_rebuilt_but_a_fresh_one_is_reused(small_sim, state_dir, event_log):
    settings = settings_for(small_sim, backup={"gate": "off"}, runner={"queue_max_age_hours": 0})
    run(settings, state_dir, stages=["obsolete_updates"], max_duration_minutes=1)
    run(settings, state_dir, stages=["obsolete_updates"], max_duration_minutes=1)
    assert len(event_log.named("queue.build")) == 2  # the first queue was stale for the second run
    fresh = settings_for(small_sim, backup={"gate": "off"})
    run(fresh, state_dir, stages=["obsolete_updates"], max_duration_minutes=1)
    assert len(event_log.named("queue.resume")) == 1


FAST_BATCHES = "[runner]\nbatch_target_seconds = 5\n"  # short batches: kills land mid-stage
# What real networks add to a kill: replies lost after the server committed, late timeouts.
POST_COMMIT_FAULTS = (
    'faults = { rate = 0.03, kinds = ["reply_lost", "timeout_after_commit"], seed = 7, '
    'statements = ["decline_update", "delete_update", "compress_update"] }\n'
)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12])
def test_sigkill_at_random_points_with_lost_replies_then_rerun_loses_nothing_and_repeats_nothing(
    small_sim, tmp_path, seed
):
    def command_at(latency_ms: float) -> list[str]:
        return simulated_command(
            tmp_path,
            small_sim,
            "run",
            "--stage",
            "decline",
            "--stage",
            "obsolete_updates",
            "--stage",
            "compress",
            latency_ms=latency_ms,
            extra=POST_COMMIT_FAULTS + FAST_BATCHES + "[stages.decline]\nmin_age_days = 0\n",
        )

    command = command_at(8)  # slow enough that each kill lands in the middle of the work
    before = small_sim.with_name("before.sqlite3")
    shutil.copyfile(small_sim, before)
    env = cli_env()
    rng = random.Random(seed)
    kills = 0
    for _ in range(10):
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        time.sleep(rng.uniform(0.4, 1.4))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=60)
    # The night that finishes the work needs no latency: nothing kills it.
    final = subprocess.run(command_at(0), capture_output=True, text=True, env=env, timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    assert kills >= 8
    for procedure in ("spDeclineUpdate", "spDeleteUpdate", "spCompressUpdate"):
        counted = procedure_calls(small_sim, procedure)
        assert counted, procedure
        repeated = {item: count for item, count in counted.items() if count > 1}
        assert not repeated, f"{procedure} sent twice for {list(repeated)[:3]}"
    store = StateStore(tmp_path / "state")
    database = store.runs("sim", 1)[0]["database_id"]
    assert database
    for stage in ("decline", "obsolete_updates", "compress"):
        counts = store.queue_counts(database, stage)
        assert set(counts) <= {"done", "skipped", "gone"}, counts
    history = [row[0] for row in store.db.execute("SELECT update_id FROM declined_updates")]
    sent = {json.loads(arguments)[0] for arguments in procedure_calls(small_sim, "spDeclineUpdate")}
    assert len(history) == len(set(history)) and set(history) == sent  # no false or lost rows
    left = offered(small_sim, "mu.IsSuperseded = 1 AND mu.Declined = 0")
    assert not left & covered_when_declined(before, tmp_path / "state")
    store.close()


@pytest.mark.slow
def test_sigterm_finishes_the_current_item_records_state_and_exits_3(small_sim, tmp_path):
    command = simulated_command(
        tmp_path, small_sim, "run", "--stage", "decline", latency_ms=8, extra=FAST_BATCHES
    )
    env = cli_env()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    time.sleep(2.0)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 3, stderr[-1000:]
    finish = next(json.loads(line) for line in stderr.splitlines() if '"run.finish"' in line)
    assert finish["status"] == "partial" and finish["stages"][-1]["done"] > 0
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0
    assert max(procedure_calls(small_sim, "spDeclineUpdate").values()) == 1


@pytest.mark.slow
def test_a_run_killed_mid_stage_keeps_in_history_what_it_had_checkpointed(small_sim, tmp_path):
    import sqlite3

    from jobs import commands

    command = simulated_command(
        tmp_path, small_sim, "run", "--stage", "decline", latency_ms=8, extra=FAST_BATCHES
    )
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cli_env()
    )
    state_file = tmp_path / "state" / "state.sqlite3"
    deadline = time.monotonic() + 60
    checkpointed = 0
    while not checkpointed and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
        if state_file.exists():
            with contextlib.suppress(sqlite3.Error):
                db = sqlite3.connect(state_file, timeout=1)
                checkpointed = db.execute("SELECT COUNT(*) FROM declined_updates").fetchone()[0]
                db.close()
    assert checkpointed, "the run finished or stalled before its first checkpoint"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    rerun = subprocess.run(command, capture_output=True, text=True, env=cli_env(), timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    killed, rerun_row = commands.history(tmp_path / "state", None, 10)[::-1]
    assert (killed["status"], rerun_row["status"]) == ("abandoned", "ok")
    # Each run counts what it confirmed: the killed one its checkpoints, the next one the rest
    # (what the killed run left in flight included); together, every decline once.
    sent_by_killed = commands.declined(tmp_path / "state", killed["run_id"])
    assert 0 < checkpointed <= killed["counts"]["declined"] <= len(sent_by_killed)
    store = StateStore(tmp_path / "state", read_only=True)
    (total,) = store.db.execute("SELECT COUNT(*) FROM declined_updates").fetchone()
    (stage,) = [row for row in store.stage_results(killed["run_id"]) if row["stage"] == "decline"]
    store.close()
    assert killed["counts"]["declined"] + rerun_row["counts"]["declined"] == total
    assert stage["status"] == "abandoned" and stage["done"] == killed["counts"]["declined"]
