"""When a KPI will reach its warning threshold at the current rate, from the run history.

The rate is the least-squares slope over the newest ``POINTS`` runs that were not dry runs (about
a week of nightly runs), each placed at its start time, so two runs a night or a skipped night
weigh as the time between them says. The forecast starts from the newest value, not from the
fitted line: "at the current rate, from where it is now". Nothing is forecast from fewer than
``MIN_POINTS`` runs, from runs less than ``MIN_SPAN`` apart (a rate per day from runs minutes
apart is noise: a few test runs read as millions a day), from a flat or improving trend, or for a KPI already above its threshold
(that is a warning, `kpi.threshold`, not a forecast). Every threshold here is a warning *above*
a value (``stages.health``), so getting worse means rising.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

POINTS = 7  # the newest runs the rate is fitted over: a week of nightly runs
MIN_POINTS = 3
MIN_SPAN = timedelta(days=1)  # the runs fitted must cover at least this much time
A_YEAR = 365


@dataclass(frozen=True)
class Forecast:
    threshold: float
    days: float  # from the newest run until the value reaches the threshold
    per_day: float  # the fitted rate
    points: int  # runs the rate was fitted over
    latest: float
    since: datetime  # the newest run's time, where ``days`` count from

    @property
    def at(self) -> datetime | None:
        """When the threshold is reached; None beyond a year (no date worth printing)."""
        return self.since + timedelta(days=self.days) if self.days <= A_YEAR else None


def crossing(points: Sequence[tuple[datetime, float]], threshold: float) -> Forecast | None:
    """Given (time, value) points of one KPI and its warning threshold, return when the value
    reaches the threshold at the least-squares rate of the newest ``POINTS`` points, or None when
    there are fewer than ``MIN_POINTS``, they span less than ``MIN_SPAN``, the trend is flat or improving, or the
    newest value is already above the threshold."""
    newest = sorted(points, key=lambda point: point[0])[-POINTS:]
    if len(newest) < MIN_POINTS or newest[-1][0] - newest[0][0] < MIN_SPAN:
        return None
    origin = newest[0][0]
    days = [(moment - origin).total_seconds() / 86_400 for moment, _ in newest]
    values = [float(value) for _, value in newest]
    mean_day, mean_value = sum(days) / len(days), sum(values) / len(values)
    spread = sum((day - mean_day) ** 2 for day in days)
    if spread == 0:
        return None
    slope = (
        sum(
            (day - mean_day) * (value - mean_value) for day, value in zip(days, values, strict=True)
        )
        / spread
    )
    latest = values[-1]
    if slope <= 0 or latest > threshold:
        return None
    return Forecast(
        threshold, (threshold - latest) / slope, slope, len(newest), latest, newest[-1][0]
    )


def forecasts(
    history: Iterable[tuple[datetime, Mapping[str, float]]], thresholds: Mapping[str, float]
) -> dict[str, Forecast]:
    """Given runs as (time, KPIs) and each KPI's warning threshold, return a forecast for every
    KPI heading for its threshold, by KPI name."""
    runs = list(history)
    found = {}
    for name, threshold in thresholds.items():
        points = [(moment, kpis[name]) for moment, kpis in runs if kpis.get(name) is not None]
        seen = crossing(points, threshold)
        if seen is not None:
            found[name] = seen
    return found


def when(days: float) -> str:
    if days < 1:
        return "within a day"
    if days > A_YEAR:
        return "in more than a year"
    rounded = round(days)
    return f"in about {rounded} day{'' if rounded == 1 else 's'}"


def sentence(label: str, seen: Forecast) -> str:
    """One line: "Superseded, not declined reaches 1,500 in about 9 days, around 2026-12-15 (+12 a
    day over the last 7 runs, to 2026-12-06)". The dates say where the days count from, so a
    forecast read long after the last run is not taken for today's."""
    rate = f"{seen.per_day:+,.0f}" if abs(seen.per_day) >= 1 else f"{seen.per_day:+,.2f}"
    around = f", around {seen.at:%Y-%m-%d}" if seen.at else ""
    return (
        f"{label} reaches {seen.threshold:,.0f} {when(seen.days)}{around} "
        f"({rate} a day over the last {seen.points} runs, to {seen.since:%Y-%m-%d})"
    )
