"""A window ends when the wall clock shows its end, on daylight-saving nights too (issue 23, D5)."""

from __future__ import annotations

import os
import time
from datetime import datetime
from datetime import time as clock_time
from pathlib import Path

import pytest

from jobs.runner.options import RunOptions
from jobs.runner.plan import build_plan
from tests.helpers import settings_for

UNUSED = Path("/unused.sqlite3")  # the window needs a plan, never a connection


@pytest.fixture
def berlin_host(monkeypatch):
    """The host's own zone is Europe/Berlin (schedule.timezone = "local")."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def deadline(now: datetime, until: str, zone: str = "local") -> datetime:
    settings = settings_for(UNUSED, schedule={"timezone": zone})
    plan = build_plan(settings, RunOptions(target="sim", profile=None, stages=["health"]))
    plan.until = clock_time.fromisoformat(until)
    plan.max_duration_minutes = None
    window = plan.window(now)
    assert window.deadline is not None
    return window.deadline


def test_until_is_wall_clock_time_on_a_spring_forward_night(berlin_host):
    # 00:30 CET; at 02:00 the clocks go to 03:00; 05:30 CEST is 03:30 UTC.
    assert deadline(datetime(2027, 3, 27, 23, 30), "05:30") == datetime(2027, 3, 28, 3, 30)


def test_until_is_wall_clock_time_on_a_fall_back_night(berlin_host):
    # 01:30 CEST; at 03:00 the clocks go back to 02:00; 05:30 CET is 04:30 UTC.
    assert deadline(datetime(2027, 10, 30, 23, 30), "05:30") == datetime(2027, 10, 31, 4, 30)


def test_the_schedules_time_zone_wins_over_the_hosts(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        # New York springs forward at 02:00 EST on 2027-03-14; 05:30 EDT is 09:30 UTC.
        assert deadline(datetime(2027, 3, 14, 5, 0), "05:30", zone="America/New_York") == datetime(
            2027, 3, 14, 9, 30
        )
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_closed_window_names_wall_clock_times(berlin_host):
    settings = settings_for(UNUSED)
    plan = build_plan(settings, RunOptions(target="sim", profile=None, stages=["health"]))
    plan.until, plan.window_start = clock_time(5, 30), clock_time(1, 0)
    # 09:15 CEST on the morning after a spring-forward night: the 01:00-05:30 window is closed.
    window = plan.window(datetime(2027, 3, 28, 7, 15))
    assert window.closed is not None and "(01:00-05:30)" in window.closed
    assert "it is 09:15" in window.closed
    assert os.environ["TZ"] == "Europe/Berlin"
