"""Monitoring tells the truth: every way a run can end reaches the textfile, the heartbeat, the
events and the history, for `run`, `run --all` and scheduled jobs alike."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path
from typing import ClassVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobs import commands
from jobs.db.connection import Endpoint
from jobs.exit_codes import ExitCode
from jobs.runner.options import RunOptions
from jobs.settings.model import Settings
from jobs.state.store import StateStore
from tests.helpers import CatalogBuilder, held_lock, run, settings_for


class Pings(http.server.BaseHTTPRequestHandler):
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Pings.paths.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def heartbeat_url():
    server = http.server.HTTPServer(("127.0.0.1", 0), Pings)
    # shutdown() waits for serve_forever's next poll: 0.5 s by default, each test.
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    Pings.paths = []
    yield f"http://127.0.0.1:{server.server_port}/hc"
    server.shutdown()
    server.server_close()


def exit_codes(textfile: Path) -> dict[str, float]:
    return {
        sample.labels["target"]: sample.value
        for family in text_string_to_metric_families(textfile.read_text())
        for sample in family.samples
        if sample.name == "susdb_maint_last_run_exit_code"
    }


def monitored_settings(settings: Settings, tmp_path: Path, url: str) -> Settings:
    return settings.model_copy(
        update={
            "monitoring": settings.monitoring.model_copy(
                update={"textfile": str(tmp_path / "metrics.prom"), "heartbeat_url": url}
            )
        }
    )


@pytest.mark.slow
def test_an_unreachable_server_is_reported_everywhere(
    tmp_path, state_dir, heartbeat_url, event_log
):
    settings = monitored_settings(
        settings_for(tmp_path / "missing.sqlite3"), tmp_path, heartbeat_url
    )
    code = commands.run(settings, state_dir, RunOptions(stages=["decline"]))
    assert code == ExitCode.STAGE_FAILED
    assert exit_codes(tmp_path / "metrics.prom") == {"sim": 1}
    assert Pings.paths == ["/hc/start", "/hc/fail"]
    (finish,) = event_log.named("run.finish")
    assert finish["exit_code"] == 1 and "not found" in finish["error"]
    (row,) = StateStore(state_dir).runs("sim")
    assert (row["status"], row["exit_code"]) == ("failed", 1)


@pytest.mark.slow
def test_a_busy_lock_is_reported_as_exit_5(small_sim, tmp_path, state_dir, heartbeat_url):
    settings = monitored_settings(
        settings_for(small_sim, backup={"gate": "off"}), tmp_path, heartbeat_url
    )
    with held_lock(Endpoint("sim", settings.targets["sim"]), state_dir):
        code = commands.run(settings, state_dir, RunOptions(stages=["decline"]))
    assert code == ExitCode.LOCKED
    assert exit_codes(tmp_path / "metrics.prom") == {"sim": 5}
    assert Pings.paths[-1] == "/hc/fail"


@pytest.mark.slow
def test_a_refused_gate_is_reported_as_exit_4(tmp_path, state_dir, heartbeat_url):
    builder = CatalogBuilder(tmp_path / "n.sqlite3", backup_age_hours=None)
    builder.update("Old (KB1)", age_days=100)
    settings = monitored_settings(settings_for(builder.close()), tmp_path, heartbeat_url)
    assert commands.run(settings, state_dir, RunOptions(stages=["decline"])) == ExitCode.REFUSED
    assert exit_codes(tmp_path / "metrics.prom") == {"sim": 4}
    assert Pings.paths[-1] == "/hc/fail"


@pytest.mark.slow
def test_a_crash_inside_a_stage_is_reported_and_the_next_stage_runs(
    small_sim, tmp_path, state_dir, heartbeat_url, monkeypatch, event_log
):
    from dataclasses import replace

    from jobs.stages import registry

    def broken(ctx):
        raise RuntimeError("a bug")

    declared = registry.get("sync_history")
    monkeypatch.setitem(registry._DECLARED, "sync_history", replace(declared, run=broken))
    settings = monitored_settings(
        settings_for(small_sim, backup={"gate": "off"}), tmp_path, heartbeat_url
    )
    code = commands.run(settings, state_dir, RunOptions(stages=["sync_history", "health"]))
    assert code == ExitCode.STAGE_FAILED
    assert exit_codes(tmp_path / "metrics.prom") == {"sim": 1}
    (finish,) = event_log.named("run.finish")
    assert [stage["status"] for stage in finish["stages"]] == ["done", "failed", "done"]


@pytest.mark.slow
def test_run_all_reports_every_target_and_pings_once(small_sim, tmp_path, state_dir, heartbeat_url):
    settings = settings_for(small_sim, backup={"gate": "off"})
    settings.targets["gone"] = settings_for(tmp_path / "missing.sqlite3").targets["sim"]
    settings = monitored_settings(settings, tmp_path, heartbeat_url)
    code = commands.run(settings, state_dir, RunOptions(all_targets=True, stages=["decline"]))
    assert code == ExitCode.STAGE_FAILED
    assert exit_codes(tmp_path / "metrics.prom") == {"sim": 0, "gone": 1}
    assert Pings.paths == ["/hc/start", "/hc/fail"]


@pytest.mark.slow
def test_a_scheduled_job_is_monitored_like_a_run(small_sim, tmp_path, state_dir, heartbeat_url):
    from jobs.schedule import run_job
    from jobs.settings.model import ScheduleJob

    settings = monitored_settings(
        settings_for(small_sim, backup={"gate": "off"}), tmp_path, heartbeat_url
    )
    job = ScheduleJob(profile="nightly", cron="0 1 * * *")
    assert run_job(settings, state_dir, "nightly", job, threading.Event()) == 0
    assert exit_codes(tmp_path / "metrics.prom") == {"sim": 0}
    assert Pings.paths == ["/hc/start", "/hc"]


def test_a_run_killed_outright_is_marked_abandoned_by_the_next_run(small_sim, state_dir, event_log):
    settings = settings_for(small_sim, backup={"gate": "off"})
    first = run(settings, state_dir, stages=["health"])
    store = StateStore(state_dir)
    # What a SIGKILL leaves behind: a run bound to the database that never finished.
    store.start_run("20260101T000000Z-dead00", "sim", "nightly", False)
    database = store.run(first.run_id)["database_id"]
    store.bind_run("20260101T000000Z-dead00", database, "the same database")
    second = run(settings, state_dir, stages=["health"])
    assert store.run("20260101T000000Z-dead00")["status"] == "abandoned"
    (abandoned,) = event_log.named("run.abandoned")
    assert abandoned["abandoned_run_id"] == "20260101T000000Z-dead00"
    assert abandoned["run_id"] == second.run_id


def test_a_plan_never_marks_a_run_in_progress_abandoned(small_sim, state_dir):
    settings = settings_for(small_sim, backup={"gate": "off"})
    first = run(settings, state_dir, stages=["health"])
    store = StateStore(state_dir)
    store.start_run("20260101T000000Z-alive0", "sim", "nightly", False)
    store.bind_run("20260101T000000Z-alive0", store.run(first.run_id)["database_id"], "same")
    run(settings, state_dir, stages=["decline"], dry_run=True)  # a plan takes no lock
    assert store.run("20260101T000000Z-alive0")["status"] == "running"


def test_a_scheduled_job_for_all_targets_stops_on_the_workers_stop_signal(
    small_sim, tmp_path, state_dir
):
    from jobs.schedule import run_job
    from jobs.settings.model import ScheduleJob

    settings = settings_for(small_sim, backup={"gate": "off"})
    settings.targets["other"] = settings_for(tmp_path / "other.sqlite3").targets["sim"]
    stop = threading.Event()
    stop.set()  # SIGTERM reached the worker before the job's first target
    job = ScheduleJob(profile="nightly", cron="0 1 * * *", target="all")
    assert run_job(settings, state_dir, "all-targets", job, stop) == ExitCode.PARTIAL
    assert not StateStore(state_dir).runs()  # no target's run started


def test_a_statement_cut_by_the_window_leaves_its_stage_partial_not_failed(small_sim, state_dir):
    from jobs.db.executor import Executor
    from jobs.errors import Interrupted

    original = Executor.run

    def window_closes_during_statistics(self, name, *args, **kwargs):
        if name == "update_statistics_all":
            raise Interrupted("update_statistics_all was cancelled: the time budget ran out")
        return original(self, name, *args, **kwargs)

    import pytest

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Executor, "run", window_closes_during_statistics)
        report = run(
            settings_for(small_sim, backup={"gate": "off"}), state_dir, stages=["statistics"]
        )
    assert report.stages[-1].status == "partial"
    assert report.exit_code == ExitCode.PARTIAL


@pytest.mark.slow
def test_a_deferred_stage_reports_the_work_it_still_has_queued(neglected_sim, state_dir):
    settings = settings_for(neglected_sim, backup={"gate": "off"})
    first = run(settings, state_dir, stages=["obsolete_updates"], max_duration_minutes=5)
    left = first.stages[-1].remaining
    assert first.stages[-1].status == "partial" and left > 0
    # The whole window goes to the declines: the cleanup does not start, and says what waits.
    second = run(
        settings, state_dir, stages=["decline", "obsolete_updates"], max_duration_minutes=0.05
    )
    deferred = second.stages[-1]
    assert deferred.status in ("deferred", "partial") and deferred.remaining == left
