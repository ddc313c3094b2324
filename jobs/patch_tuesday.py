"""Patch Tuesday: the second Tuesday of the month, and a trigger "N days (or hours) before or
after it, at HH:MM" that cron cannot express once N exceeds 7 (it crosses into another month)."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from apscheduler.triggers.base import BaseTrigger

TUESDAY = 1


def patch_tuesday(year: int, month: int) -> date:
    """Return the second Tuesday of the month."""
    first_weekday = calendar.weekday(year, month, 1)
    first_tuesday = 1 + (TUESDAY - first_weekday) % 7
    return date(year, month, first_tuesday + 7)


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


class PatchTuesdayTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 has no types
    """Fires at ``at`` (local wall time in ``timezone``) on Patch Tuesday + ``offset``."""

    def __init__(
        self,
        *,
        offset_days: int = 0,
        offset_hours: int = 0,
        at: time = time(3, 0),
        timezone: tzinfo,
    ) -> None:
        self.offset = timedelta(days=offset_days, hours=offset_hours)
        self.at = at
        self.timezone = timezone

    def fire_time_for(self, year: int, month: int) -> datetime:
        """The fire time that belongs to the Patch Tuesday of ``year``-``month``."""
        naive = datetime.combine(patch_tuesday(year, month), self.at) + self.offset
        return naive.replace(tzinfo=self.timezone)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        after = previous_fire_time if previous_fire_time is not None else now
        strictly_after = previous_fire_time is not None
        year, month = after.year, after.month
        # Offsets up to four weeks reach at most one month either way: look one month back and on.
        for step in range(-1, 14):
            candidate = self.fire_time_for(*_add_months(year, month, step))
            if candidate > after or (not strictly_after and candidate == after):
                return candidate
        return None

    def __getstate__(self) -> dict[str, Any]:
        return {"offset": self.offset, "at": self.at, "timezone": self.timezone}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.offset, self.at, self.timezone = state["offset"], state["at"], state["timezone"]

    def __str__(self) -> str:
        sign = "+" if self.offset >= timedelta(0) else "-"
        return f"patch_tuesday[{sign}{abs(self.offset)} at {self.at:%H:%M}]"
