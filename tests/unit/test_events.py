from __future__ import annotations

import json
import logging
from pathlib import Path

import jsonschema
import pytest

from jobs import events
from tests.helpers import run, settings_for

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "config" / "events.schema.json").read_text()
)


@pytest.mark.slow
def test_events_from_a_whole_run_validate_against_the_published_schema(
    small_sim, state_dir, event_log
):
    run(settings_for(small_sim, backup={"gate": "off"}), state_dir, profile="nightly")
    emitted = event_log.all()
    names = {event["event"] for event in emitted}
    assert {
        "run.start",
        "run.finish",
        "stage.start",
        "stage.finish",
        "stage.skip",
        "batch.finish",
        "kpi",
        "sql.message",
    } <= names
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for event in emitted:
        errors = sorted(validator.iter_errors(event), key=str)
        assert not errors, f"{event['event']}: {errors[0].message}"


def test_every_event_has_a_utc_timestamp_ending_in_z_and_the_run_context(
    small_sim, state_dir, event_log
):
    report = run(settings_for(small_sim, backup={"gate": "off"}), state_dir, stages=["health"])
    for event in event_log.all():
        assert event["timestamp"].endswith("Z")
        if event["event"] in ("stage.start", "stage.finish", "kpi"):
            assert (
                event["run_id"] == report.run_id
                and event["target"] == "sim"
                and event["stage"] == "health"
            )


def test_the_schema_rejects_an_event_missing_its_fields():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {
                "timestamp": "2026-01-01T00:00:00Z",
                "level": "info",
                "event": "run.finish",
                "host": "h",
                "version": "1",
            },
            SCHEMA,
        )


def test_standard_library_logging_goes_through_the_same_pipeline(event_log):
    logging.getLogger("apscheduler.scheduler").warning("Run time of job %s was missed", "nightly")
    (event,) = [item for item in event_log.all() if "missed" in item["event"]]
    assert event["level"] == "warning" and event["timestamp"].endswith("Z") and "host" in event


def test_redaction_applies_to_every_event(event_log):
    events.get_logger().info(
        "run.unreachable", connection_string="DRIVER={x};PWD=hunter22;UID=sa", password="hunter22"
    )
    line = event_log.lines[-1]
    assert "hunter22" not in line and "PWD=***" in line


def test_log_file_gets_json_lines_too(tmp_path):
    with open(tmp_path / "console.txt", "w") as console:
        events.configure(log_format="console", stream=console, log_file=str(tmp_path / "e.jsonl"))
        events.get_logger().info("stage.start", stage="health")
        logging.shutdown()
    lines = (tmp_path / "e.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["event"] == "stage.start"
    events.configure(log_format="json")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_a_log_file_that_cannot_be_written_is_one_line_not_tracebacks(tmp_path, capsys):
    with open(tmp_path / "console.txt", "w") as console:
        events.configure(log_format="json", stream=console, log_file="/dev/full")
        for stage in ("health", "decline", "reindex"):
            events.get_logger().info("stage.start", stage=stage)
        logging.shutdown()
    events.configure(log_format="json")
    errors = capsys.readouterr().err.splitlines()
    assert errors == [
        "susdb-maint: cannot write the log file /dev/full (No space left on device); "
        "from now on events go to the console only"
    ]
    assert len((tmp_path / "console.txt").read_text().splitlines()) == 3  # nothing lost there


def test_console_lines_leave_out_host_and_version_but_json_keeps_them():
    import io

    stream = io.StringIO()
    events.configure(log_format="console", stream=stream)
    events.get_logger().info("stage.start", stage="decline")
    line = stream.getvalue().splitlines()[-1]
    assert (
        "stage.start" in line
        and "stage=decline" in line
        and "host=" not in line
        and "version=" not in line
    )
    events.configure(log_format="json")


def test_the_events_reference_and_schema_are_generated_from_the_catalog():
    from jobs.event_catalog import render

    for path, text in render().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is out of date: run python -m jobs.event_catalog"
        )


def test_an_undeclared_event_name_is_noted(event_log):
    events.get_logger("test").info("no.such_event")
    assert "no.such_event" in events.UNDECLARED
    events.UNDECLARED.discard("no.such_event")


def test_a_logger_made_before_configure_follows_each_new_pipeline():
    import io

    log = events.get_logger("early")  # module-level loggers are made at import, before configure
    first, second = io.StringIO(), io.StringIO()
    events.configure(log_format="json", stream=first)
    log.info("stage.start", stage="health", password="hunter22")
    events.configure(log_format="json", stream=second)
    log.info("stage.finish", stage="health")
    assert '"stage.start"' in first.getvalue() and "hunter22" not in first.getvalue()
    assert '"stage.finish"' in second.getvalue() and "stage.finish" not in first.getvalue()
    events.configure(log_format="json")


def test_an_event_below_the_level_is_dropped_and_one_at_it_is_kept():
    import io

    stream = io.StringIO()
    log = events.get_logger("levels")
    events.configure(log_format="json", stream=stream, level="warning")
    log.info("decline.update", update_id="u1")
    log.debug("queue.spooled", rows=1)
    log.warning("retry", attempt=1)
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["retry"]
    events.configure(log_format="json", stream=stream, level="debug")
    log.debug("queue.spooled", rows=2)
    assert json.loads(stream.getvalue().splitlines()[-1])["event"] == "queue.spooled"
    events.configure(log_format="json")


def test_a_logger_used_before_anything_is_configured_still_logs():
    # The served simulator's threads, a library's import: structlog's default pipeline has no
    # stdlib level to ask, and the event must still come out (not an AttributeError).
    import subprocess
    import sys

    code = "from jobs import events; events.get_logger('early').info('stage.start', stage='a')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "stage.start" in done.stdout + done.stderr
