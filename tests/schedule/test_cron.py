"""Crontab expressions fire on the days cron says (0 and 7 are Sunday), not APScheduler's
numbering (0 is Monday), over a whole week for each form of the weekday field."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jobs import cron

UTC_ZONE = ZoneInfo("UTC")
MONDAY = datetime(2026, 11, 30, tzinfo=UTC_ZONE)  # a Monday


def days_fired(expression: str, days: int = 14) -> list[str]:
    """The weekday names the expression fires on over ``days`` days from a Monday."""
    trigger = cron.trigger(expression, UTC_ZONE)
    fired, previous, now = [], None, MONDAY
    while True:
        moment = trigger.get_next_fire_time(previous, now)
        if moment is None or moment >= MONDAY + timedelta(days=days):
            return fired
        fired.append(f"{moment:%a %d}")
        previous, now = moment, moment + timedelta(seconds=1)


@pytest.mark.parametrize(
    ("weekday", "expected"),
    [
        ("0", ["Sun 06", "Sun 13"]),
        ("7", ["Sun 06", "Sun 13"]),
        ("sun", ["Sun 06", "Sun 13"]),
        ("6,0", ["Sat 05", "Sun 06", "Sat 12", "Sun 13"]),
        ("1-5", ["Mon 30", "Tue 01", "Wed 02", "Thu 03", "Fri 04"]),
        ("mon-fri", ["Mon 30", "Tue 01", "Wed 02", "Thu 03", "Fri 04"]),
        ("*/3", ["Wed 02", "Sat 05", "Sun 06", "Wed 09", "Sat 12", "Sun 13"]),
    ],
)
def test_the_weekday_field_means_what_it_means_in_cron(weekday, expected):
    fired = days_fired(f"15 1 * * {weekday}")
    assert fired[: len(expected)] == expected or fired == expected


def test_a_day_of_the_month_or_a_weekday_fires_on_either_as_cron_does():
    # "15 1 13 * 1": the 13th of the month, and every Monday.
    assert days_fired("15 1 13 * 1") == ["Mon 30", "Mon 07", "Sun 13"]


@pytest.mark.parametrize("expression", ["15 1 * * 8", "15 1 * * 1-9", "15 1 * *", "x 1 * * *"])
def test_a_bad_expression_is_refused(expression):
    with pytest.raises(ValueError):
        cron.trigger(expression)
