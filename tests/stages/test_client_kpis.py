"""Client outcome KPIs: what the computers say about the catalog, each pinned against a hand-built
SUSDB whose computers are planted one by one."""

from __future__ import annotations

from jobs import report
from jobs.exit_codes import ExitCode
from jobs.stages import health
from tests.helpers import CatalogBuilder, run, settings_for

CLIENT_KPIS = (
    "clients_synced_day",
    "clients_synced_week",
    "clients_sync_failed",
    "clients_not_reporting",
)


def kpis_of(path, state_dir, **health_settings):
    settings = settings_for(path, backup={"gate": "off"}, stages={"health": health_settings})
    result = run(settings, state_dir, stages=["health"])
    assert result.exit_code == ExitCode.OK, result.stages
    return result.kpis_before


def estate(tmp_path):
    built = CatalogBuilder(tmp_path / "susdb.sqlite3")
    built.update("2026-11 Cumulative Update (KB5070001)", age_days=10)
    built.computer("OK-HOUR", synced_hours=1)
    built.computer("OK-3DAYS", synced_hours=72)
    built.computer("OK-10DAYS", synced_hours=240)
    built.computer("FAILED-HOUR", synced_hours=1, result=2)  # contacted the server, scan failed
    built.computer("FAILED-WEEKS", synced_hours=24 * 20, result=2)
    built.computer("NEVER", synced_hours=None, result=0)  # registered, never synchronized
    built.computer("SILENT-40DAYS", synced_hours=24 * 40)
    built.computer("REPORTING-BROKE", synced_hours=2, reported_hours=24 * 31)
    return built.close()


def test_each_client_kpi_counts_exactly_the_computers_it_names(tmp_path, state_dir):
    kpis = kpis_of(estate(tmp_path), state_dir)

    assert kpis["clients_synced_day"] == 2  # OK-HOUR, REPORTING-BROKE: succeeded within a day
    assert kpis["clients_synced_week"] == 3  # and OK-3DAYS; a failed scan is not a sync
    assert kpis["clients_sync_failed"] == 2  # FAILED-HOUR, FAILED-WEEKS, however old
    assert kpis["clients_not_reporting"] == 2  # SILENT-40DAYS, REPORTING-BROKE; NEVER never did
    assert kpis["computers"] == 8
    assert kpis["not_declined"] == 1  # the catalog every client scans


def test_stopped_reporting_counts_from_the_configured_days(tmp_path, state_dir):
    kpis = kpis_of(estate(tmp_path), state_dir, stopped_reporting_days=7)

    # OK-10DAYS and FAILED-WEEKS too; a report three days old is not stopped.
    assert kpis["clients_not_reporting"] == 4


def test_an_empty_estate_reads_zero_not_nothing(tmp_path, state_dir):
    built = CatalogBuilder(tmp_path / "susdb.sqlite3")
    built.update("2026-11 Cumulative Update (KB5070001)", age_days=10)

    kpis = kpis_of(built.close(), state_dir)

    assert {name: kpis[name] for name in CLIENT_KPIS} == dict.fromkeys(CLIENT_KPIS, 0)


def test_client_kpis_have_labels_and_say_which_way_is_better():
    assert set(CLIENT_KPIS) <= set(report.KPI_LABELS)
    assert report.KPI_BETTER_WHEN["clients_synced_day"] == "higher"
    assert report.KPI_BETTER_WHEN["clients_synced_week"] == "higher"
    assert report.KPI_BETTER_WHEN["clients_sync_failed"] == "lower"
    assert report.KPI_BETTER_WHEN["clients_not_reporting"] == "lower"


def test_the_catalog_clients_scan_has_microsofts_threshold(tmp_path):
    limits = health.thresholds(settings_for(tmp_path / "x.sqlite3").stages.health)

    # KB 4489045: clients recover when the valid updates are "fewer than 7,000"; the guide: more
    # than 1,500 superseded updates cause problems "on both the server and client sides".
    assert limits["not_declined"] == 7000
    assert limits["superseded_not_declined"] == 1500
    assert limits["event_instance_rows"] == 1_000_000
