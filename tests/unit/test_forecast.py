"""The forecast: when a KPI that is getting worse reaches its warning threshold at the current
rate, from hand-built run histories (least squares over the newest runs)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from jobs import forecast

START = datetime(2026, 11, 1, 2, 0)


def nightly(*values: float, every_hours: float = 24) -> list[tuple[datetime, float]]:
    """One point a night (or every ``every_hours``), oldest first."""
    return [
        (START + timedelta(hours=every_hours * night), value) for night, value in enumerate(values)
    ]


def test_a_rising_kpi_reaches_its_threshold_at_the_least_squares_rate():
    seen = forecast.crossing(nightly(1000, 1050, 1100, 1150, 1200), threshold=1500)

    assert seen is not None
    assert seen.per_day == pytest.approx(50)
    assert seen.days == pytest.approx(6)  # (1,500 - 1,200) / 50 a day, from the newest value
    assert seen.points == 5


def test_the_rate_is_a_least_squares_fit_not_the_last_step():
    # A noisy history: the last step alone (+150) would say two days.
    seen = forecast.crossing(nightly(1000, 1100, 1050, 1200, 1150, 1300), threshold=1600)

    assert seen is not None
    assert seen.per_day == pytest.approx(900 / 17.5)  # the fitted slope, 51.4 a day
    assert seen.days == pytest.approx(300 / (900 / 17.5))


def test_points_are_placed_by_their_time_not_by_their_position():
    # Two runs a day: the rate per day is twice the rate per run.
    seen = forecast.crossing(nightly(100, 110, 120, 130, every_hours=12), threshold=200)

    assert seen is not None and seen.per_day == pytest.approx(20)
    assert seen.days == pytest.approx(3.5)


def test_only_the_newest_points_count():
    # A long fall, then a week of growth: the forecast follows the newest POINTS runs.
    falling = [5000 - 100 * night for night in range(20)]
    rising = [3100 + 100 * night for night in range(forecast.POINTS)]
    seen = forecast.crossing(nightly(*falling, *rising), threshold=4000)

    assert seen is not None and seen.points == forecast.POINTS
    assert seen.per_day == pytest.approx(100)


@pytest.mark.parametrize(
    "values",
    [
        pytest.param((1200, 1300), id="two points"),
        pytest.param((1300,), id="one point"),
        pytest.param((), id="no point"),
    ],
)
def test_fewer_than_three_points_give_no_forecast(values):
    assert forecast.crossing(nightly(*values), threshold=1500) is None


def test_a_flat_trend_gives_no_forecast():
    assert forecast.crossing(nightly(1200, 1200, 1200, 1200), threshold=1500) is None


def test_an_improving_trend_gives_no_forecast():
    assert forecast.crossing(nightly(1400, 1300, 1250, 1100), threshold=1500) is None


def test_a_kpi_already_above_its_threshold_gets_a_warning_not_a_forecast():
    assert forecast.crossing(nightly(1400, 1480, 1550, 1600), threshold=1500) is None


def test_points_all_taken_at_one_moment_give_no_rate():
    moment = [(START, 100.0), (START, 200.0), (START, 300.0)]
    assert forecast.crossing(moment, threshold=1500) is None


def test_runs_minutes_apart_give_no_rate_per_day():
    """Admin review: seven runs a few minutes apart read as millions of rows a day."""
    minutes_apart = nightly(1360, 1660, 1960, 2260, 2560, 2860, every_hours=0.05)
    assert forecast.crossing(minutes_apart, threshold=3000) is None
    a_day_apart = nightly(1360, 1660, 1960, every_hours=12)
    assert forecast.crossing(a_day_apart, threshold=3000) is not None


def test_the_forecast_reads_as_a_sentence():
    seen = forecast.crossing(nightly(1140, 1180, 1220, 1260), threshold=1500)
    assert seen is not None

    assert forecast.sentence("Superseded, not declined", seen) == (
        "Superseded, not declined reaches 1,500 in about 6 days, around 2026-11-10 "
        "(+40 a day over the last 4 runs, to 2026-11-04)"
    )


@pytest.mark.parametrize(
    ("days", "when"),
    [
        (0.4, "within a day"),
        (1.2, "in about 1 day"),
        (9.4, "in about 9 days"),
        (400, "in more than a year"),
    ],
)
def test_how_far_off_a_crossing_is_said(days, when):
    seen = forecast.Forecast(
        threshold=1500, days=days, per_day=10, points=5, latest=1000, since=START
    )
    assert when in forecast.sentence("Not declined", seen)
    assert ("around" in forecast.sentence("Not declined", seen)) == (days <= 365)


def test_each_kpi_with_a_threshold_gets_its_own_forecast_from_a_run_history():
    history = [
        (START + timedelta(days=night), {"superseded_not_declined": value, "not_declined": 5000})
        for night, value in enumerate((1100, 1150, 1200, 1250))
    ]
    found = forecast.forecasts(
        history, {"superseded_not_declined": 1500, "not_declined": 7000, "event_instance_rows": 10}
    )

    assert set(found) == {"superseded_not_declined"}  # not_declined is flat; no event rows
    assert found["superseded_not_declined"].days == pytest.approx(5)
