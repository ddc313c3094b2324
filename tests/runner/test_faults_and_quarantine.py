from __future__ import annotations

import shutil

import pytest

from jobs.exit_codes import ExitCode
from jobs.state.store import StateStore
from tests.catalog import SimulatedServer
from tests.helpers import covered_when_declined, offered, query, run, settings_for


@pytest.mark.slow
def test_five_percent_transient_faults_are_retried_and_the_stages_complete(
    small_sim, state_dir, event_log
):
    settings = settings_for(
        small_sim,
        backup={"gate": "off"},
        target={
            "faults": {
                "rate": 0.05,
                "kinds": ["deadlock", "lock_timeout", "link_failure"],
                "statements": ["decline_update", "delete_update", "compress_update"],
                "seed": 21,
            }
        },
        stages={"decline": {"min_age_days": 0}},
    )
    before = small_sim.with_name("before.sqlite3")
    shutil.copyfile(small_sim, before)
    report = run(settings, state_dir, stages=["decline", "obsolete_updates", "compress"])
    assert report.exit_code == ExitCode.OK, report.stages
    retries = event_log.named("retry")
    assert len(retries) > 20
    assert {event["error_kind"] for event in retries} >= {"transient", "connection_lost"}
    assert all(stage.failed == 0 and stage.remaining == 0 for stage in report.stages)
    # Every superseded update a live update covered is declined, faults or not.
    left = offered(small_sim, "mu.IsSuperseded = 1 AND mu.Declined = 0")
    assert not left & covered_when_declined(before, state_dir)


@pytest.mark.slow
def test_an_item_that_always_fails_is_quarantined_after_n_runs_and_reported(
    small_sim, state_dir, event_log
):
    victim = query(
        small_sim,
        """SELECT mu.UpdateID FROM vwMinimalUpdate mu JOIN tbRevision r ON r.LocalUpdateID =
        mu.LocalUpdateID JOIN tbDeployment d ON d.RevisionID = r.RevisionID WHERE mu.IsSuperseded = 1 AND
        mu.Declined = 0 AND d.ActionID = 0 LIMIT 1""",
    )[0][0]
    SimulatedServer(small_sim).poison("spDeclineUpdate", victim, "simulated corruption")
    settings = settings_for(small_sim, backup={"gate": "off"}, runner={"quarantine_after": 2})
    first = run(settings, state_dir, stages=["decline"])
    assert first.exit_code == ExitCode.STAGE_FAILED and first.stages[-1].failed == 1
    assert first.quarantined == 0
    second = run(settings, state_dir, stages=["decline"])
    assert second.quarantined == 1
    (fail,) = [event for event in event_log.named("item.fail") if event["quarantined"]]
    assert fail["item"] == victim and "simulated corruption" in fail["error"]
    third = run(settings, state_dir, stages=["decline", "health"])
    assert third.exit_code == ExitCode.OK  # nothing left to try: quarantined items are not retried
    assert third.quarantined == 1
    assert event_log.named("run.finish")[-1]["quarantined"] == 1
    store = StateStore(state_dir)
    (item,) = store.quarantined("sim")
    assert item["item_key"] == victim and item["failed_runs"] == 2
    assert store.retry_quarantined("sim") == 1 and store.quarantined("sim") == []
    store.close()


def test_timeouts_fail_items_without_retries_and_a_run_of_failures_stops_the_stage(
    small_sim, state_dir, event_log
):
    SimulatedServer(small_sim).spdeleteupdate("original")  # about 30 s a deletion
    settings = settings_for(
        small_sim,
        backup={"gate": "off"},
        runner={"quarantine_after": 5},
        stages={"obsolete_updates": {"statement_timeout_seconds": 10}},
    )
    report = run(settings, state_dir, stages=["obsolete_updates"], max_duration_minutes=10)
    stage = report.stages[-1]
    assert stage.failed > 0 and stage.done == 0
    assert {event["error_kind"] for event in event_log.named("item.fail")} == {"timeout"}
    assert not event_log.named("retry")  # a timeout is never retried in the same run
    assert report.exit_code == ExitCode.STAGE_FAILED
    assert stage.status == "failed" and "25 items failed in a row" in stage.reason
    assert stage.failed == 25


@pytest.mark.slow
def test_a_watchdog_cancels_a_statement_when_the_time_budget_runs_out(small_sim):
    import time

    import pytest

    from jobs.db.connection import Endpoint
    from jobs.db.executor import Executor
    from jobs.errors import Interrupted

    settings = settings_for(small_sim)
    executor = Executor(
        Endpoint("sim", settings.targets["sim"])
    )  # real time: the watchdog is armed
    executor.connection.delays = {"server_info": 5.0, "schema_version": 5.0}
    started = time.monotonic()
    with pytest.raises(Interrupted):
        executor.run("server_info", budget_seconds=0.3)
    assert time.monotonic() - started < 2.5
    closes_at = time.monotonic() + 0.2
    executor.window = lambda: closes_at - time.monotonic()  # the run's window closes in 0.2 s
    with pytest.raises(Interrupted):
        executor.run("schema_version")
    assert time.monotonic() - started < 5
    executor.close()


@pytest.mark.slow
def test_fault_soak_ten_thousand_items_with_five_percent_mixed_faults(tmp_path, state_dir):
    from collections import Counter

    from jobs.simulator import create
    from jobs.simulator.catalog import preset_profile

    sim = tmp_path / "soak.sqlite3"
    # About 12,600 items to decline, delete and compress: over the ten thousand, no more.
    create(sim, preset_profile("neglected", updates=12_000, seed=31, delete_fix=True))
    settings = settings_for(
        sim,
        backup={"gate": "off"},
        target={
            "faults": {
                "rate": 0.05,
                "kinds": ["deadlock", "lock_timeout", "link_failure"],
                "seed": 5,
                "statements": [
                    "decline_update",
                    "delete_update",
                    "compress_update",
                    "update_is_declined",
                    "update_exists",
                ],
            }
        },
    )
    report = run(
        settings,
        state_dir,
        stages=["decline", "obsolete_updates", "compress"],
        max_duration_minutes=100_000,
    )
    assert report.exit_code == ExitCode.OK, report.stages
    processed = sum(stage.done + stage.skipped for stage in report.stages)
    assert processed >= 10_000
    assert all(stage.failed == 0 and stage.remaining == 0 for stage in report.stages)
    for procedure in ("spDeclineUpdate", "spDeleteUpdate", "spCompressUpdate"):
        sent = Counter(
            row[0]
            for row in query(
                sim, "SELECT arguments FROM sim_call_log WHERE procedure = ?", (procedure,)
            )
        )
        assert sent and max(sent.values()) == 1, procedure  # none twice
