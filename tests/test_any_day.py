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
from datetime import date
from pathlib import Path

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


@pytest.mark.parametrize("when", sorted(CLOCKS))
def test_the_calendar_tests_pass_on_another_day(when: str, tmp_path: Path) -> None:
    faketime = shutil.which("faketime")
    if faketime is None:
        if REQUIRED:
            pytest.fail("SUSDB_REQUIRE_FAKETIME=1 but faketime is not on PATH")
        pytest.skip("faketime is not installed (Debian: apt-get install faketime)")
    shift, zone = CLOCKS[when]
    environment = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
    environment["TZ"] = zone
    shifted = subprocess.run(
        [faketime, *shift, sys.executable, "-c", "import datetime; print(datetime.date.today())"],
        env=environment, capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()  # fmt: skip
    assert shifted != str(date.today()), "faketime did not move the clock"
    calendar_tests = (
        "-m", "calendar and not slow", "-q", "-p", "no:cacheprovider",
        "--timeout", "120", "--timeout-method", "thread", "--basetemp", str(tmp_path / "base"),
    )  # fmt: skip
    result = subprocess.run(
        [faketime, *shift, sys.executable, "-m", "pytest", *calendar_tests],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = result.stdout.strip().splitlines()[-1:] or [result.stderr[-500:]]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in summary[0] and "failed" not in summary[0], summary
