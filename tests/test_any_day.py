"""The suite is true on any day: the date-sensitive tests (marked ``calendar`` in conftest.py) pass
with the clock a year ahead and on both daylight-saving nights of a year.

libfaketime shifts the clock of a whole pytest process (and the susdb-maint processes it starts),
so a test that read the wall clock somewhere instead of the clock it controls fails here. Only the
calendar tests run this way: libfaketime also shifts the timed waits of threads, which the
watchdog and cancel tests measure, and those do not depend on the date.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow

# Where CI installed faketime (.ci/run), this check must run, not skip.
REQUIRED = os.environ.get("SUSDB_REQUIRE_FAKETIME") == "1"

CLOCKS = {
    "a year ahead": (("-f", "+365d"), "UTC"),
    # Europe/Berlin: 02:00 local is skipped at 01:00 UTC on the last Sunday of March, and
    # 02:00-03:00 local happens twice on the last Sunday of October.
    "spring-forward night": (("2027-03-28 00:30:00",), "Europe/Berlin"),
    "fall-back night": (("2027-10-31 00:30:00",), "Europe/Berlin"),
}


def faketime_or_skip() -> str:
    faketime = shutil.which("faketime")
    if faketime is None:
        if REQUIRED:
            pytest.fail("SUSDB_REQUIRE_FAKETIME=1 but faketime is not on PATH")
        pytest.skip("faketime is not installed (Debian: apt-get install faketime)")
    return faketime


@pytest.fixture(scope="module")
def shifted_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, subprocess.Popen[str]]]:
    """The calendar tests under each clock, started together: they wait mostly on their own
    processes, so the three take about as long as one."""
    faketime = faketime_or_skip()
    runs = {}
    for when, (shift, zone) in CLOCKS.items():
        environment = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
        environment["TZ"] = zone
        calendar_tests = (
            "-m", "calendar and not slow", "-q", "-p", "no:cacheprovider",
            "--timeout", "120", "--timeout-method", "thread",
            "--basetemp", str(tmp_path_factory.mktemp("any-day") / "base"),
        )  # fmt: skip
        runs[when] = subprocess.Popen(
            [faketime, *shift, sys.executable, "-m", "pytest", *calendar_tests],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    yield runs
    for process in runs.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.parametrize("when", sorted(CLOCKS))
def test_the_calendar_tests_pass_on_another_day(
    when: str, shifted_runs: dict[str, subprocess.Popen[str]]
) -> None:
    faketime = faketime_or_skip()
    shift, zone = CLOCKS[when]
    shifted = subprocess.run(
        [faketime, *shift, sys.executable, "-c", "import datetime; print(datetime.date.today())"],
        env={**os.environ, "TZ": zone}, capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()  # fmt: skip
    assert shifted != str(date.today()), "faketime did not move the clock"
    stdout, stderr = shifted_runs[when].communicate(timeout=600)
    summary = stdout.strip().splitlines()[-1:] or [stderr[-500:]]
    assert shifted_runs[when].returncode == 0, stdout[-6000:] + stderr[-2000:]
    assert " passed" in summary[0] and "failed" not in summary[0], summary
