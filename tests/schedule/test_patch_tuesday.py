"""The Patch Tuesday trigger, checked against an independent computation over 40 months."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.patch_tuesday import PatchTuesdayTrigger, patch_tuesday


def second_tuesday(year: int, month: int) -> date:
    """Independent: walk the month and take the second Tuesday met."""
    tuesdays = [
        day
        for day in range(1, calendar.monthrange(year, month)[1] + 1)
        if date(year, month, day).weekday() == calendar.TUESDAY
    ]
    return date(year, month, tuesdays[1])


MONTHS = [(2025 + (index // 12), index % 12 + 1) for index in range(40)]


@pytest.mark.parametrize(("year", "month"), MONTHS)
def test_patch_tuesday_is_the_second_tuesday(year, month):
    assert patch_tuesday(year, month) == second_tuesday(year, month)


def test_known_dates():
    assert patch_tuesday(2026, 12) == date(2026, 12, 8)
    assert patch_tuesday(2027, 1) == date(2027, 1, 12)
    assert patch_tuesday(2027, 2) == date(2027, 2, 9)


@pytest.mark.parametrize("offset_days", [-12, -10, -8, -7, -2, 0, 1, 3, 9, 15])
def test_fire_times_over_36_months_match_the_independent_computation(offset_days):
    zone = ZoneInfo("Europe/Paris")
    trigger = PatchTuesdayTrigger(offset_days=offset_days, at=time(3, 0), timezone=zone)
    start = datetime(2026, 1, 1, tzinfo=zone)
    expected = sorted(
        datetime.combine(
            second_tuesday(year, month) + timedelta(days=offset_days), time(3, 0), tzinfo=zone
        )
        for year, month in [(2025 + (index // 12), index % 12 + 1) for index in range(50)]
    )
    expected = [moment for moment in expected if moment >= start][:36]
    fired, previous = [], None
    for _ in range(36):
        previous = trigger.get_next_fire_time(previous, start)
        fired.append(previous)
    assert fired == expected


def test_ten_days_before_crosses_into_the_previous_month():
    trigger = PatchTuesdayTrigger(offset_days=-10, at=time(2, 30), timezone=UTC)
    now = datetime(2026, 11, 25, tzinfo=UTC)
    first = trigger.get_next_fire_time(None, now)
    # Patch Tuesday of December 2026 is the 8th: ten days before is 28 November.
    assert first == datetime(2026, 11, 28, 2, 30, tzinfo=UTC)
    assert trigger.get_next_fire_time(first, now) == datetime(2027, 1, 2, 2, 30, tzinfo=UTC)


def test_hours_offsets_and_the_fire_time_itself_counts_as_now():
    trigger = PatchTuesdayTrigger(offset_days=1, offset_hours=-20, at=time(0, 0), timezone=UTC)
    moment = datetime(2026, 12, 8, 4, 0, tzinfo=UTC)  # 8 Dec + 1 day - 20 h
    assert trigger.get_next_fire_time(None, moment) == moment
    assert trigger.get_next_fire_time(moment, moment) > moment


@given(
    st.integers(min_value=-27, max_value=27),
    st.integers(min_value=-23, max_value=23),
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2032, 12, 31)),
)
def test_the_next_fire_time_is_the_earliest_one_after_now(offset_days, offset_hours, now):
    now = now.replace(tzinfo=UTC)
    trigger = PatchTuesdayTrigger(
        offset_days=offset_days, offset_hours=offset_hours, at=time(3, 0), timezone=UTC
    )
    fire = trigger.get_next_fire_time(None, now)
    assert fire is not None and fire >= now
    candidates = [
        trigger.fire_time_for(year, month)
        for year in range(now.year - 1, now.year + 2)
        for month in range(1, 13)
    ]
    assert fire == min(candidate for candidate in candidates if candidate >= now)
