"""Deployment samples and the Dockerfile: syntax-checked, and saying what they must say."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
import yaml

from jobs.cli import build_parser
from tests.unit import task_schema

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


TASK_XML = DEPLOY / "windows" / "susdb-maint-nightly.xml"
NS = {"t": task_schema.NAMESPACE}


def test_the_task_scheduler_xml_parses_and_runs_elevated():
    root = ElementTree.parse(TASK_XML).getroot()
    assert root.find("t:Principals/t:Principal/t:UserId", NS).text == "S-1-5-18"  # SYSTEM
    assert root.find("t:Principals/t:Principal/t:RunLevel", NS).text == "HighestAvailable"
    assert root.find("t:Settings/t:MultipleInstancesPolicy", NS).text == "IgnoreNew"
    parses(root.find("t:Actions/t:Exec/t:Arguments", NS).text.split())


def test_the_task_scheduler_xml_has_the_structure_microsofts_task_schema_requires():
    assert task_schema.problems(TASK_XML.read_text(encoding="utf-8")) == []


BROKEN_TASKS = [
    (
        "the schedule before the start boundary",
        "<StartBoundary>2026-01-01T01:15:00</StartBoundary>\n      <ScheduleByDay>\n        <DaysInterval>1</DaysInterval>\n      </ScheduleByDay>",
        "<ScheduleByDay>\n        <DaysInterval>1</DaysInterval>\n      </ScheduleByDay>\n      <StartBoundary>2026-01-01T01:15:00</StartBoundary>",
        "out of the schema's order",
    ),
    (
        "run level spelled as in the GUI",
        "<RunLevel>HighestAvailable</RunLevel>",
        "<RunLevel>Highest</RunLevel>",
        "RunLevel has an invalid value",
    ),
    (
        "a misspelt setting",
        "<ExecutionTimeLimit>PT5H</ExecutionTimeLimit>",
        "<ExecutionTimeLimt>PT5H</ExecutionTimeLimt>",
        "Settings may not contain ['ExecutionTimeLimt']",
    ),
    (
        "a duration in hours",
        "<ExecutionTimeLimit>PT5H</ExecutionTimeLimit>",
        "<ExecutionTimeLimit>5h</ExecutionTimeLimit>",
        "ExecutionTimeLimit has an invalid value",
    ),
    (
        "no command",
        "<Command>C:\\Program Files\\susdb-maint\\Scripts\\susdb-maint.exe</Command>",
        "",
        "Exec needs Command",
    ),
    (
        "a context naming no principal",
        'Actions Context="Author"',
        'Actions Context="Nobody"',
        "names no Principal id",
    ),
    (
        "a version the schema does not fix",
        'Task version="1.3"',
        'Task version="1.4"',
        "fixes it at 1.3",
    ),
    (
        "no schedule",
        "<ScheduleByDay>\n        <DaysInterval>1</DaysInterval>\n      </ScheduleByDay>",
        "",
        "needs exactly one of ScheduleByDay",
    ),
]


@pytest.mark.parametrize(
    ("case", "old", "new", "expected"), BROKEN_TASKS, ids=[case for case, *_ in BROKEN_TASKS]
)
def test_the_task_schema_check_catches_what_the_schema_forbids(case, old, new, expected):
    text = TASK_XML.read_text(encoding="utf-8")
    assert old in text
    found = task_schema.problems(text.replace(old, new))
    assert any(expected in line for line in found), found


def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path):
    """systemd's own check, in a scratch root holding the units, systemd's standard units and a
    stand-in for the installed program (verify insists that ExecStart's program exists)."""
    analyze = shutil.which("systemd-analyze")
    system_units = Path("/usr/lib/systemd/system")
    if analyze is None or not system_units.is_dir():
        pytest.skip("systemd-analyze is not installed here (apt-get install systemd)")
    service = configparser.ConfigParser(strict=False, interpolation=None)
    service.read(DEPLOY / "systemd" / "susdb-maint.service")
    program = Path(service["Service"]["ExecStart"].split()[0])
    root = tmp_path / "root"
    shutil.copytree(system_units, root / "usr/lib/systemd/system", symlinks=True)
    stand_in = root / program.relative_to("/")
    stand_in.parent.mkdir(parents=True)
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    for unit in ("susdb-maint.service", "susdb-maint.timer"):
        shutil.copy(DEPLOY / "systemd" / unit, units / unit)
    result = subprocess.run(
        [analyze, "verify", f"--root={root}", "susdb-maint.service", "susdb-maint.timer"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stderr


def test_the_systemd_service_has_its_state_directory_and_the_readmes_paths():
    service = configparser.ConfigParser(strict=False, interpolation=None)
    service.read(DEPLOY / "systemd" / "susdb-maint.service")
    section = service["Service"]
    assert section["StateDirectory"] == "susdb-maint"
    assert (
        "SUSDB_MAINT_STATE_DIR=/var/lib/susdb-maint"
        in (DEPLOY / "systemd" / "susdb-maint.service").read_text()
    )
    assert section["ExecStart"].startswith(LINUX_PROGRAM + " ")


README = (ROOT / "README.md").read_text(encoding="utf-8")
WINDOWS_DOC = (ROOT / "docs" / "windows.md").read_text(encoding="utf-8")
OPERATIONS_DOC = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
WINDOWS_PROGRAM = r"C:\Program Files\susdb-maint\Scripts\susdb-maint.exe"
WINDOWS_CONFIG = r"C:\ProgramData\susdb-maint\susdb-maint.toml"
LINUX_PROGRAM = "/opt/susdb-maint/.venv/bin/susdb-maint"
LINUX_CONFIG = "/etc/susdb-maint/susdb-maint.toml"


def test_the_samples_and_the_docs_agree_on_paths():
    root = ElementTree.parse(TASK_XML).getroot()
    assert root.find("t:Actions/t:Exec/t:Command", NS).text == WINDOWS_PROGRAM
    for document in (README, WINDOWS_DOC):
        assert WINDOWS_PROGRAM in document and WINDOWS_CONFIG in document
    arguments = root.find("t:Actions/t:Exec/t:Arguments", NS).text
    log_file = arguments.split("--log-file ")[1].split()[0]
    assert log_file in WINDOWS_DOC
    cron = (DEPLOY / "cron" / "susdb-maint").read_text()
    assert LINUX_PROGRAM in cron and LINUX_CONFIG in cron
    for document in (README, OPERATIONS_DOC):
        assert LINUX_PROGRAM in document and LINUX_CONFIG in document
    assert "/var/lib/susdb-maint" in README and "/var/lib/susdb-maint" in OPERATIONS_DOC
