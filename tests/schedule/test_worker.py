from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import cli_command, cli_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_schedule_list_prints_every_job_with_its_next_fire_times(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        '[targets.x]\nkind = "simulator"\npath = "x"\n[schedule]\ntimezone = "UTC"\n'
        '[schedule.jobs.nightly]\ncron = "0 1 * * *"\n'
        '[schedule.jobs.before-patch]\nprofile = "pre-patch-tuesday"\n'
        '[schedule.jobs.before-patch.patch_tuesday]\noffset_days = -10\nat = "02:30"\n'
    )
    result = subprocess.run(
        cli_command("--config", str(config), "schedule", "--list"),
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "Scheduled jobs (UTC)" in text
    nightly = re.findall(r"\w{3} (\d{4}-\d\d-\d\d) 01:00 UTC", text)
    assert len(nightly) == 3 and len(set(nightly)) == 3, text  # three nights, not one thrice
    before_patch = re.findall(r"\w{3} (\d{4}-\d\d-\d\d) 02:30 UTC", text)
    assert len(set(before_patch)) == 3, text
    assert "cron 0 1 * * *" in text and "Patch Tuesday -10 days at 02:30" in text


@pytest.mark.slow
def test_schedule_without_jobs_is_a_usage_error(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[targets.x]\nkind = "simulator"\npath = "x"\n')
    result = subprocess.run(
        cli_command("--config", str(config), "schedule"),
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
    )
    assert result.returncode == 2 and "no jobs in [schedule.jobs]" in result.stderr


@pytest.mark.slow
def test_a_bad_cron_expression_is_a_config_error(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[schedule.jobs.x]\ncron = "61 * * * *"\n')
    result = subprocess.run(
        cli_command("config", "check", str(config)),
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
    )
    assert (
        result.returncode == 2
        and "schedule.jobs.x: cron '61 * * * *' is not a valid crontab expression" in result.stderr
    )


LIBFAKETIME = next(
    (
        str(path)
        for pattern in ("/usr/lib/*/faketime", "/usr/lib/faketime", "/usr/local/lib/faketime")
        for path in sorted(Path("/").glob(pattern.lstrip("/") + "/libfaketime.so.1"))
    ),
    None,
)


def near_the_next_minute(lead_seconds: int = 4) -> dict[str, str]:
    """The worker's environment with its clock moved on to ``lead_seconds`` before the next whole
    minute, so a ``* * * * *`` job fires seconds after the worker starts, not up to a minute later.

    libfaketime is preloaded into the worker itself (the ``faketime`` wrapper would stand between
    it and the signal): only the wall clock moves, by a fixed offset; monotonic time and the timed
    waits APScheduler sleeps in stay real. Without libfaketime the worker waits for the real minute.
    """
    if LIBFAKETIME is None:
        return cli_env()
    offset = int((60 - lead_seconds - time.time() % 60) % 60)
    preload = " ".join(filter(None, [LIBFAKETIME, os.environ.get("LD_PRELOAD")]))
    return cli_env(LD_PRELOAD=preload, FAKETIME=f"+{offset}", FAKETIME_DONT_FAKE_MONOTONIC="1")


@pytest.mark.slow
def test_a_one_minute_job_fires_runs_and_stops_cleanly_on_sigterm(small_sim, tmp_path):
    textfile = tmp_path / "metrics" / "susdb.prom"
    config = tmp_path / "c.toml"
    config.write_text(
        f'[backup]\ngate = "off"\n[targets.sim]\nkind = "simulator"\npath = "{small_sim}"\n'
        f'[monitoring]\ntextfile = "{textfile}"\n[schedule.jobs.every-minute]\nprofile = "full"\n'
        f'cron = "* * * * *"\n'
    )
    # Events go to a file: a pipe nobody reads fills up and blocks the worker mid-run.
    with (tmp_path / "events.jsonl").open("w") as events_file:
        process = subprocess.Popen(
            cli_command(
                "--config",
                str(config),
                "--state-dir",
                str(tmp_path / "state"),
                "--log-format",
                "json",
                "schedule",
            ),
            stdout=subprocess.DEVNULL,
            stderr=events_file,
            text=True,
            env=near_the_next_minute(),
        )
        deadline = time.monotonic() + 100
        while time.monotonic() < deadline and not textfile.exists():
            time.sleep(0.5)
        assert textfile.exists(), "the job did not fire within 100 s"
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    stderr = (tmp_path / "events.jsonl").read_text()
    assert process.returncode == 0, stderr[-2000:]
    names = [json.loads(line)["event"] for line in stderr.splitlines() if line.startswith("{")]
    assert (
        names.index("schedule.start")
        < names.index("schedule.fire")
        < names.index("run.finish")
        < names.index("schedule.stop")
    )
    assert "signal.received" in names
