from __future__ import annotations

import http.server
import threading
from typing import ClassVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobs.monitoring import eventlog, heartbeat, monitored, prometheus
from jobs.settings.model import MonitoringSettings
from tests.helpers import run, settings_for


def samples(path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    result = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            result[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return result


@pytest.mark.slow
def test_the_textfile_parses_and_matches_the_run_summary(small_sim, state_dir, tmp_path):
    report = run(settings_for(small_sim, backup={"gate": "off"}), state_dir, profile="nightly")
    path = tmp_path / "out" / "susdb.prom"
    prometheus.write_textfile(str(path), report)
    values = samples(path)
    assert values[("susdb_maint_last_run_exit_code", (("target", "sim"),))] == int(report.exit_code)
    decline = next(stage for stage in report.stages if stage.stage == "decline")
    key = ("susdb_maint_stage_items", (("result", "done"), ("stage", "decline"), ("target", "sim")))
    assert values[key] == decline.done
    reindex_done = sum(stage.done for stage in report.stages if stage.stage == "reindex")
    assert (
        values[
            (
                "susdb_maint_stage_items",
                (("result", "done"), ("stage", "reindex"), ("target", "sim")),
            )
        ]
        == reindex_done
    )
    for name, value in report.kpis_after.items():
        assert values[("susdb_maint_kpi", (("name", name), ("target", "sim")))] == value
    assert values[("susdb_maint_quarantined_items", (("target", "sim"),))] == report.quarantined
    assert not list(path.parent.glob("*.tmp*"))  # written through a rename


class Recorder(http.server.BaseHTTPRequestHandler):
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Recorder.paths.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args) -> None:
        pass


@pytest.mark.slow
def test_heartbeats_ping_start_and_success_on_loopback():
    server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Recorder.paths = []
    url = f"http://127.0.0.1:{server.server_port}/ping/abc"
    try:
        with monitored(MonitoringSettings(heartbeat_url=url), "sim") as reports:
            reports.append(type("R", (), {"exit_code": 0})())
    finally:
        server.shutdown()
    assert Recorder.paths == ["/ping/abc/start", "/ping/abc"]


def test_a_failing_heartbeat_never_fails_the_run(event_log):
    assert heartbeat.ping("http://127.0.0.1:9/nothing-listens", "start", timeout=1) is False
    assert event_log.named("monitoring.heartbeat_fail")


def test_the_event_log_is_only_used_on_windows():
    assert eventlog.handler("linux") is None
    # Without pywin32 (never installed off Windows) the handler cannot write: no error, no handler.
    assert eventlog.handler("win32") is None


def test_event_ids_are_stable_per_event_name():
    assert eventlog.event_id("run.finish") == eventlog.event_id("run.finish")
    assert 1000 <= eventlog.event_id("stage.fail") < 2000
    assert eventlog.event_id("run.finish") != eventlog.event_id("run.start")
