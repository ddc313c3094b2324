"""Crontab expressions with cron's own meaning, on APScheduler's triggers.

APScheduler's ``CronTrigger.from_crontab`` numbers the days of the week from Monday (0 = Monday,
6 = Sunday, 7 refused), while cron numbers them from Sunday (0 and 7 = Sunday; crontab(5)): read
as APScheduler reads it, ``15 1 * * 0`` fires on Mondays and ``1-5`` from Tuesday to Saturday, and
a maintenance window lands on a working day (admin review N22e). Cron also fires when EITHER the
day of the month or the day of the week matches, when both are restricted ("the command will be
run when either field matches the current time", crontab(5)); APScheduler requires both.

So the weekday field is rewritten here as day names (which both read the same), and an
expression that restricts both day fields becomes two triggers, either of which fires.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any

from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_ITEM = re.compile(r"^(?P<range>\*|\d+(?:-\d+)?)(?:/(?P<step>\d+))?$")


def weekdays(field: str) -> str:
    """Cron's day-of-week field in day names ("*" stays "*"); ValueError for a bad one."""
    if field == "*":
        return field
    days: list[int] = []
    for item in field.lower().split(","):
        if re.fullmatch(r"[a-z]{3}(?:-[a-z]{3})?", item):
            first, _, last = item.partition("-")
            if first not in NAMES or (last and last not in NAMES):
                raise ValueError(f"unknown day of the week in {field!r}")
            span = range(NAMES.index(first), NAMES.index(last or first) + 1)
            days.extend(span if span else ())
            continue
        match = _ITEM.match(item)
        if not match:
            raise ValueError(f"day of the week {item!r} is not cron's 0-7, a name, or a range")
        low, high = (0, 6) if match["range"] == "*" else _bounds(match["range"])
        step = int(match["step"] or 1)
        if step < 1:
            raise ValueError(f"step 0 in {field!r}")
        days.extend(day % 7 for day in range(low, high + 1, step))  # 7 is Sunday too
    if not days:
        raise ValueError(f"no day of the week in {field!r}")
    return ",".join(NAMES[day] for day in sorted(set(days)))


def _bounds(text: str) -> tuple[int, int]:
    low_text, _, high_text = text.partition("-")
    low, high = int(low_text), int(high_text or low_text)
    if not 0 <= low <= high <= 7:
        raise ValueError(f"day of the week {text!r} is outside cron's 0-7")
    return low, high


def trigger(expression: str, timezone: tzinfo | None = None) -> Any:
    """The APScheduler trigger that fires when cron would; ValueError for a bad expression."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields

    def cron(**days: str) -> CronTrigger:
        return CronTrigger(minute=minute, hour=hour, month=month, timezone=timezone, **days)

    if day != "*" and weekday != "*":
        return OrTrigger([cron(day=day), cron(day_of_week=weekdays(weekday))])
    return cron(day=day, day_of_week=weekdays(weekday))
