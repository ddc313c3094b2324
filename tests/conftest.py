from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("tests.helpers")

from tests.integration.drivers import register_driver18  # noqa: E402

# Before anything asks unixODBC for a driver: it keeps the odbcinst.ini folder it read first.
register_driver18()

from jobs.simulator import create  # noqa: E402
from jobs.simulator.catalog import preset_profile  # noqa: E402
from tests.helpers import EventLog, copy_sim  # noqa: E402

# The tests whose outcome hangs on a date: ages, windows and deadlines, Patch Tuesday, backup age,
# lifecycle presets, retention. Marked ``calendar``; tests/test_any_day.py runs them all, slow ones
# included, a year ahead and across a daylight-saving change. A module, or one test of a module
# ("path::name").
CALENDAR_TESTS = (
    "tests/stages/test_decline.py",
    "tests/stages/test_decline_cases.py",
    "tests/stages/test_decline_presets.py",
    "tests/stages/test_nightly.py",
    "tests/stages/test_delete_fix.py",
    "tests/stages/test_live_wsus.py",
    "tests/stages/test_client_events.py",
    "tests/schedule/test_patch_tuesday.py",
    "tests/runner/test_queue_engine.py",
    "tests/unit/test_settings.py",
    "tests/unit/test_report_html.py",
    "tests/unit/test_reading_results.py",
    "tests/unit/test_wallclock.py",
    "tests/simulator/test_procedures.py::test_obsolete_updates_are_the_expired_old_unapproved_unreferenced_ones",
    "tests/simulator/test_procedures.py::test_obsolete_computers_are_those_silent_for_30_days",
    "tests/simulator/test_procedures.py::test_sync_history_is_deleted_in_top_n_batches",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module, _, name = item.nodeid.partition("::")
        if module in CALENDAR_TESTS or f"{module}::{name.split('[')[0]}" in CALENDAR_TESTS:
            item.add_marker(pytest.mark.calendar)


@pytest.fixture(scope="session", autouse=True)
def any_day_passes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any] | None]:
    """When this session runs tests/test_any_day.py, its three passes start before the first
    test, in the background and below the suite's priority: they run while the suite waits on
    processes, sockets and timeouts, and that module only collects their outcomes. None when the
    session does not run it (or faketime is missing: that module then skips, or fails in CI)."""
    from tests import test_any_day

    faketime = shutil.which("faketime")
    if faketime is None or not test_any_day.wanted(request.session):
        yield None
        return
    passes = test_any_day.start_passes(faketime, tmp_path_factory.mktemp("any-day"))
    yield passes
    for started in passes.values():
        started.stop()


@pytest.fixture(scope="session")
def small_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("templates") / "small.sqlite3"
    create(path, preset_profile("small", seed=3))
    return path


@pytest.fixture(scope="session")
def neglected_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("templates") / "neglected.sqlite3"
    # A neglected server at a tenth of the preset's size keeps the suite fast; the full preset is
    # exercised by bench/.
    create(path, preset_profile("neglected", updates=8000, seed=4))
    return path


@pytest.fixture
def small_sim(small_template: Path, tmp_path: Path) -> Path:
    return copy_sim(small_template, tmp_path)


@pytest.fixture
def neglected_sim(neglected_template: Path, tmp_path: Path) -> Path:
    return copy_sim(neglected_template, tmp_path)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def event_log() -> EventLog:
    return EventLog()


@pytest.fixture(scope="session", autouse=True)
def every_event_is_declared():
    """An event name the catalog does not declare fails the suite (jobs/event_catalog.py)."""
    from jobs import events

    yield
    assert not events.UNDECLARED, (
        f"events emitted but not declared in jobs/event_catalog.py: {sorted(events.UNDECLARED)}"
    )
