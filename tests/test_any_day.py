"""The suite is true on any day: the date-sensitive tests (marked ``calendar`` in conftest.py),
slow ones included (the windows, the synchronization waits, status's next fire, the report), pass
with the clock a year ahead and on both daylight-saving nights of a year.

libfaketime shifts the clock of a whole pytest process (and the susdb-maint processes it starts),
so a test that read the wall clock somewhere instead of the clock it controls fails here. Only the
calendar tests run this way: libfaketime also shifts the timed waits of threads, which the
watchdog and cancel tests measure, and those do not depend on the date.

The three passes run side by side, and in the background: where this module is part of the
session, conftest.py starts them before the session's first test, at a lower priority, so they
use what the rest of the suite leaves of the machine (much of its time is spent waiting on
processes, sockets and timeouts), and these tests only collect their outcomes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.helpers import ROOT

# Run alone (nothing else runs while the passes do), this module waits two to three minutes.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# Where CI installed faketime (.ci/run), this check must run, not skip.
REQUIRED = os.environ.get("SUSDB_REQUIRE_FAKETIME") == "1"
# Set in a pass's own environment: a pass never starts passes of its own.
IN_A_PASS = "SUSDB_ANY_DAY_PASS"
# Below the suite's priority: the passes take the idle processor, not the suite's timing.
NICENESS = "10"

CLOCKS = {
    "a year ahead": (("-f", "+365d"), "UTC"),
    # Europe/Berlin: 02:00 local is skipped at 01:00 UTC on the last Sunday of March, and
    # 02:00-03:00 local happens twice on the last Sunday of October.
    "spring-forward night": (("2027-03-28 00:30:00",), "Europe/Berlin"),
    "fall-back night": (("2027-10-31 00:30:00",), "Europe/Berlin"),
}


class Pass:
    """One pytest process running the calendar tests under one clock, its output in files (a
    pipe nobody reads while the suite goes on would fill up and stop it)."""

    def __init__(self, faketime: str, when: str, directory: Path) -> None:
        shift, zone = CLOCKS[when]
        directory.mkdir(parents=True, exist_ok=True)
        environment = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
        environment.update({"TZ": zone, IN_A_PASS: "1"})
        calendar_tests = (
            "-m", "calendar", "-q", "-p", "no:cacheprovider",
            "--timeout", "180", "--timeout-method", "thread",
            "--basetemp", str(directory / "base"),
        )  # fmt: skip
        nice = shutil.which("nice")
        self.stdout_path, self.stderr_path = directory / "stdout", directory / "stderr"
        with self.stdout_path.open("w") as stdout, self.stderr_path.open("w") as stderr:
            self.process = subprocess.Popen(
                [
                    *([nice, "-n", NICENESS] if nice else []),
                    faketime, *shift, sys.executable, "-m", "pytest", *calendar_tests,
                ],
                cwd=ROOT, env=environment, stdout=stdout, stderr=stderr, text=True,
            )  # fmt: skip

    def outcome(self, timeout: float) -> tuple[int, str, str]:
        returncode = self.process.wait(timeout=timeout)
        return returncode, self.stdout_path.read_text(), self.stderr_path.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_passes(faketime: str, directory: Path) -> dict[str, Pass]:
    return {
        when: Pass(faketime, when, directory / when.replace(" ", "-")) for when in sorted(CLOCKS)
    }


def wanted(session: pytest.Session) -> bool:
    """Whether this session runs this module's tests, and is not itself one of the passes."""
    here = Path(__file__).resolve()
    return os.environ.get(IN_A_PASS) != "1" and any(item.path == here for item in session.items)


def faketime_or_skip() -> str:
    faketime = shutil.which("faketime")
    if faketime is None:
        if REQUIRED:
            pytest.fail("SUSDB_REQUIRE_FAKETIME=1 but faketime is not on PATH")
        pytest.skip("faketime is not installed (Debian: apt-get install faketime)")
    return faketime


@pytest.fixture(scope="module")
def shifted_runs(
    any_day_passes: dict[str, Pass] | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Pass]]:
    """The calendar tests under each clock, side by side: the passes conftest.py started before
    the session's first test, else (a session that did not start them) started here."""
    faketime = faketime_or_skip()
    runs = any_day_passes or start_passes(faketime, tmp_path_factory.mktemp("any-day"))
    yield runs
    for run in runs.values():
        run.stop()


@pytest.mark.parametrize("when", sorted(CLOCKS))
def test_the_calendar_tests_pass_on_another_day(when: str, shifted_runs: dict[str, Pass]) -> None:
    faketime = faketime_or_skip()
    shift, zone = CLOCKS[when]
    shifted = subprocess.run(
        [faketime, *shift, sys.executable, "-c", "import datetime; print(datetime.date.today())"],
        env={**os.environ, "TZ": zone}, capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()  # fmt: skip
    assert shifted != str(date.today()), "faketime did not move the clock"
    returncode, stdout, stderr = shifted_runs[when].outcome(timeout=540)
    summary = stdout.strip().splitlines()[-1:] or [stderr[-500:]]
    assert returncode == 0, stdout[-6000:] + stderr[-2000:]
    assert " passed" in summary[0] and "failed" not in summary[0], summary
