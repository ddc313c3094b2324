"""The simulated clients: each scans the not-declined catalog once a detection period, fails while
that catalog is above the modelled limit, and synchronizes again once maintenance brings it under
(jobs/simulator/clients.py)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from jobs.db.catalog import statement
from jobs.exit_codes import ExitCode
from jobs.simulator import clients, connect
from jobs.simulator.server import ts
from tests.helpers import NOW, CatalogBuilder, query, run, settings_for

PERIOD = timedelta(hours=clients.DETECTION_HOURS)


def outcomes(path: Path, stopped_reporting_days: int = 30) -> dict[str, int]:
    connection = connect(path)
    try:
        cursor = connection.cursor()
        cursor.execute(statement("kpi_client_outcomes").text, [stopped_reporting_days])
        columns = [column[0] for column in cursor.description]
        return dict(zip(columns, cursor.fetchone(), strict=True))
    finally:
        connection.close()


def later(path: Path, by: timedelta) -> None:
    """Move the simulated server's clock on (a pinned catalog's clock moves only when told)."""
    ((clock,),) = query(path, "SELECT value FROM sim_meta WHERE key = 'clock'")
    at(path, datetime.strptime(clock, "%Y-%m-%d %H:%M:%S") + by)


def at(path: Path, moment: datetime) -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE sim_meta SET value = ? WHERE key = 'clock'", (ts(moment),))


def computer(path: Path, name: str) -> tuple[str | None, str | None, int]:
    ((synced, reported, result),) = query(
        path,
        "SELECT LastSyncTime, LastReportedStatusTime, LastSyncResult FROM tbComputerTarget "
        "WHERE ComputerID = ?",
        (name,),
    )
    return synced, reported, result


def decline(path: Path, update_ids: list[str]) -> None:
    connection = connect(path)
    try:
        for update_id in update_ids:
            connection.cursor().execute(statement("decline_update").text, [update_id, "test"])
    finally:
        connection.close()


@pytest.fixture
def estate(tmp_path):
    """Five updates every client scans (four superseded by the fifth), a scan limit of three,
    two computers that keep scanning and one that left the estate."""
    built = CatalogBuilder(tmp_path / "susdb.sqlite3")
    old = [
        built.update(f"2026-0{month} Cumulative Update", age_days=200 - 30 * month)
        for month in range(1, 5)
    ]
    built.update("2026-05 Cumulative Update", age_days=60, supersedes=tuple(old))
    built.client_scan_limit(3)
    built.computer("PC1", synced_hours=30, modelled=True)
    built.computer("PC2", synced_hours=30, modelled=True)
    built.computer("GONE", synced_hours=24 * 90)  # switched off: never scans again
    return built.close(), old


def test_a_client_fails_its_scan_while_the_catalog_is_above_the_limit(estate):
    path, _ = estate

    seen = outcomes(path)

    assert seen["LastSyncFailed"] == 2 and seen["SyncedLastDay"] == 0
    synced, reported, result = computer(path, "PC1")
    # It contacted the server (LastSyncTime: "when the client computer last contacted the update
    # server to check for new updates", MS-WSUSSS) and reported its failure.
    assert result == clients.FAILED
    assert synced == reported and synced == ts(clients.last_scan("PC1", NOW))
    assert NOW - PERIOD < clients.last_scan("PC1", NOW) <= NOW


def test_the_clients_recover_at_their_next_scan_after_maintenance_brings_the_catalog_under(estate):
    path, old = estate
    assert outcomes(path)["LastSyncFailed"] == 2

    decline(path, old[:2])  # three updates left to scan: at the limit, not above it
    assert outcomes(path)["LastSyncFailed"] == 2, "no client has scanned since"
    later(path, PERIOD)

    seen = outcomes(path)
    assert seen["LastSyncFailed"] == 0
    assert seen["SyncedLastDay"] == seen["SyncedLastWeek"] == 2
    assert computer(path, "PC1")[2] == clients.SUCCEEDED


def test_a_client_scans_once_a_detection_period(estate):
    path, _ = estate
    outcomes(path)
    first = computer(path, "PC1")[0]
    scans = [clients.last_scan("PC1", NOW + PERIOD * step / 4) for step in range(9)]

    assert len(set(scans)) == 3 and scans[4] - scans[0] == PERIOD  # two periods, three scans
    next_scan = clients.last_scan("PC1", NOW) + PERIOD
    at(path, next_scan - timedelta(seconds=1))
    outcomes(path)
    assert computer(path, "PC1")[0] == first, "not yet"
    at(path, next_scan)
    outcomes(path)
    assert computer(path, "PC1")[0] == ts(next_scan)


def test_a_computer_that_left_the_estate_never_scans(estate):
    path, _ = estate
    planted = computer(path, "GONE")
    later(path, PERIOD * 3)

    assert outcomes(path)["StoppedReporting"] == 1
    assert computer(path, "GONE") == planted


def test_dates_changed_outside_the_model_are_left_as_they_were_set(estate):
    """A test (or an administrator) that plants a date takes the computer out of the model."""
    path, _ = estate
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE tbComputerTarget SET LastSyncTime = '2020-01-01 00:00:00' WHERE ComputerID = 'PC2'"
        )
    later(path, PERIOD * 2)

    outcomes(path)

    assert computer(path, "PC2")[0] == "2020-01-01 00:00:00"
    assert computer(path, "PC1")[0] != "2020-01-01 00:00:00"


def test_the_limit_is_microsofts_7000_valid_updates_unless_the_file_says_otherwise(tmp_path):
    assert clients.DEFAULT_SCAN_LIMIT == 7000
    built = CatalogBuilder(tmp_path / "susdb.sqlite3")
    for number in range(5):
        built.update(f"Update {number}", age_days=10)
    built.computer("PC1", synced_hours=30, modelled=True)
    path = built.close()

    assert outcomes(path)["LastSyncFailed"] == 0


def test_a_generated_neglected_catalog_starts_with_its_scanning_clients_failing(neglected_sim):
    ((scanned,),) = query(neglected_sim, clients.SCANNED_CATALOG)
    assert scanned > clients.DEFAULT_SCAN_LIMIT
    modelled = query(
        neglected_sim,
        "SELECT ct.LastSyncResult, ct.LastSyncTime FROM tbComputerTarget ct "
        "JOIN sim_client sc ON sc.ComputerID = ct.ComputerID",
    )
    silent = query(
        neglected_sim,
        "SELECT LastSyncResult FROM tbComputerTarget WHERE ComputerID NOT IN "
        "(SELECT ComputerID FROM sim_client)",
    )
    assert modelled and silent
    assert {result for result, _ in modelled} == {clients.FAILED}
    # Computers that left the estate stopped for reasons of their own: their last sync succeeded.
    assert {result for (result,) in silent} == {clients.SUCCEEDED}


def test_a_generated_small_catalog_has_healthy_clients(small_sim):
    ((scanned,),) = query(small_sim, clients.SCANNED_CATALOG)
    assert scanned < clients.DEFAULT_SCAN_LIMIT
    assert query(small_sim, "SELECT DISTINCT LastSyncResult FROM tbComputerTarget") == [
        (clients.SUCCEEDED,)
    ]


@pytest.mark.slow
def test_a_night_of_maintenance_brings_the_neglected_clients_back_within_a_day(
    neglected_sim, state_dir
):
    settings = settings_for(neglected_sim, backup={"gate": "off"})
    night = run(settings, state_dir, profile="nightly")
    assert night.exit_code in (ExitCode.OK, ExitCode.PARTIAL)
    before, after = night.kpis_before, night.kpis_after
    assert before["not_declined"] > clients.DEFAULT_SCAN_LIMIT >= after["not_declined"]
    assert before["clients_sync_failed"] > 0 and before["clients_synced_day"] == 0
    # Clients rescan once a detection period: the run's own hours show only the first of them.
    assert after["clients_sync_failed"] < before["clients_sync_failed"]

    later(neglected_sim, PERIOD)
    seen = outcomes(neglected_sim)
    ((modelled,),) = query(neglected_sim, "SELECT COUNT(*) FROM sim_client")
    assert seen["LastSyncFailed"] == 0
    assert seen["SyncedLastDay"] == modelled
