"""Wall-clock times in a zone: a window that ends at 05:30 ends when the wall clock shows 05:30,
on daylight-saving nights too.

A fixed UTC offset (what ``datetime.astimezone()`` gives) is tonight's offset at the moment it is
asked; on a spring-forward night 05:30 computed at 01:00 with it is 06:30 on the wall clock, on a
fall-back night 04:30. Each conversion here asks the zone's rules for that very moment: an IANA
zone through ``zoneinfo``, or the host's own zone through the C library (``localtime`` and
``mktime`` with ``tm_isdst = -1``, which apply the host's rules, on Windows too).
"""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo


def zone_of(name: str) -> tzinfo | None:
    """The zone a setting names: None for the host's own (``local``)."""
    return None if name == "local" else ZoneInfo(name)


def to_local(moment_utc: datetime, zone: tzinfo | None = None) -> datetime:
    """Naive UTC -> the naive wall-clock time in ``zone`` (None: the host's)."""
    aware = moment_utc.replace(tzinfo=UTC)
    if zone is not None:
        return aware.astimezone(zone).replace(tzinfo=None)
    return datetime.fromtimestamp(aware.timestamp())


def to_utc(local: datetime, zone: tzinfo | None = None) -> datetime:
    """A naive wall-clock time in ``zone`` -> naive UTC. A time the clock skips (02:30 on a
    spring-forward night) is read with the offset before the change; a time it shows twice, at
    its first showing."""
    if zone is not None:
        return local.replace(tzinfo=zone, fold=0).astimezone(UTC).replace(tzinfo=None)
    fields = (*local.timetuple()[:8], -1)  # tm_isdst = -1: the C library decides
    seconds = _time.mktime(fields)
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None) + timedelta(
        microseconds=local.microsecond
    )


def next_wall_time(now_utc: datetime, at: time, zone: tzinfo | None = None) -> datetime:
    """The next moment after ``now_utc`` when the wall clock shows ``at``, as naive UTC."""
    day = to_local(now_utc, zone).date()
    for offset in range(3):
        candidate = to_utc(datetime.combine(day + timedelta(days=offset), at), zone)
        if candidate > now_utc:
            return candidate
    raise AssertionError("unreachable: a wall-clock time recurs within three days")


def previous_wall_time(moment_utc: datetime, at: time, zone: tzinfo | None = None) -> datetime:
    """The last moment before ``moment_utc`` when the wall clock showed ``at``, as naive UTC."""
    day = to_local(moment_utc, zone).date()
    for offset in range(3):
        candidate = to_utc(datetime.combine(day - timedelta(days=offset), at), zone)
        if candidate < moment_utc:
            return candidate
    raise AssertionError("unreachable: a wall-clock time recurs within three days")
