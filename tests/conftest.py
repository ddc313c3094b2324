from __future__ import annotations

from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.helpers")

from jobs.simulator import create  # noqa: E402
from jobs.simulator.catalog import preset_profile  # noqa: E402
from tests.helpers import EventLog, copy_sim  # noqa: E402


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
