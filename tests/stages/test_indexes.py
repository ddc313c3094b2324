"""Index maintenance that works on every edition, and KPIs that read metadata, not data."""

from __future__ import annotations

from jobs.db.catalog import statement
from jobs.exit_codes import ExitCode
from jobs.simulator import connect, schema
from jobs.stages.declared.reindex import ReindexSettings
from jobs.stages.reindex import decide
from jobs.susdb import IndexStats
from tests.catalog import CatalogBuilder, SimulatedServer
from tests.helpers import query, run, settings_for


def fill_event_instance(builder: CatalogBuilder, rows: int = 4000) -> None:
    """Enough client events for tbEventInstance's indexes to have pages to rebuild."""
    builder.events("E", namespace=1, event_id=183, age_days=24, copies=rows)


def reindex(path, state_dir, **options):
    settings = settings_for(path, backup={"gate": "off"}, stages={"reindex": options})
    return run(settings, state_dir, stages=["reindex"])


def stats(path, table: str, index: str) -> tuple[float, int]:
    ((fragmentation, fill_factor),) = query(
        path,
        "SELECT avg_fragmentation_in_percent, fill_factor FROM sim_index WHERE object_name = ? AND name = ?",
        (table, index),
    )
    return fragmentation, fill_factor


def test_online_rebuilds_are_off_by_default_as_in_microsofts_script():
    assert ReindexSettings().online is False


def test_on_enterprise_an_index_that_cannot_be_rebuilt_online_is_rebuilt_offline(
    tmp_path, state_dir, event_log
):
    builder = CatalogBuilder(tmp_path / "ee.sqlite3", edition="enterprise")
    fill_event_instance(builder)
    builder.fragmented("tbEventInstance", "PK__tbEventInstance")
    path = builder.close()
    report = reindex(path, state_dir, online=True)
    assert report.exit_code == ExitCode.OK, report.stages
    assert report.stages[-1].detail["online"] is True and report.stages[-1].failed == 0
    assert stats(path, "tbEventInstance", "PK__tbEventInstance")[0] < 1
    (refused,) = event_log.named("index.online_refused")
    assert refused["index"] == "PK__tbEventInstance" and refused["native_error"] == 2725


def test_never_online_on_wid_whatever_edition_it_reports(tmp_path, state_dir):
    builder = CatalogBuilder(tmp_path / "wid.sqlite3")
    fill_event_instance(builder)
    # The dangerous alternative: what WID reports as EngineEdition is not public.
    builder.engine_edition(3)
    builder.fragmented("tbEventInstance")
    path = builder.close()
    report = reindex(path, state_dir, online=True)
    assert report.exit_code == ExitCode.OK, report.stages
    assert report.stages[-1].detail["online"] is False


def test_an_index_with_page_locks_disallowed_is_rebuilt_instead_of_reorganized(
    small_sim, state_dir
):
    table, index = schema.PAGE_LOCKS_OFF
    SimulatedServer(small_sim).fragmented(table, index, percent=20.0)  # the REORGANIZE band
    report = reindex(small_sim, state_dir)
    assert report.exit_code == ExitCode.OK, report.stages
    assert report.stages[-1].failed == 0
    assert stats(small_sim, table, index)[0] < 1  # a REBUILD's result, not a REORGANIZE's


def test_a_fill_factor_of_100_counts_as_set_as_in_microsofts_script():
    index = IndexStats(
        "tbRevision", "PK__tbRevision", 1, "CLUSTERED", 100, 50.0, 90.0, 2000, 10_000
    )
    decision = decide(index, ReindexSettings())
    assert decision is not None and decision.action == "rebuild" and decision.fill_factor is None
    unset = decide(
        IndexStats("tbRevision", "PK__tbRevision", 1, "CLUSTERED", 0, 50.0, 90.0, 2000, 10_000),
        ReindexSettings(),
    )
    assert unset is not None and unset.fill_factor == 90


def test_indexes_outside_dbo_and_system_tables_are_left_alone(neglected_sim, state_dir, event_log):
    report = reindex(neglected_sim, state_dir)
    assert report.exit_code == ExitCode.OK, report.stages
    assert not event_log.named("item.fail")
    touched = {event["index"] for event in event_log.all() if event["event"].startswith("index.")}
    assert touched and "PK_CommandLog" not in touched and "clst" not in touched


def test_a_status_call_reads_metadata_and_index_tops_not_the_database(small_sim, state_dir):
    settings = settings_for(small_sim, backup={"gate": "off"})
    report = run(settings, state_dir, stages=["health"])  # KPIs before, in the stage, after
    assert report.exit_code == ExitCode.OK
    reads = query(small_sim, "SELECT mode, pages_read FROM sim_scan_log")
    assert reads and {mode for mode, _ in reads} <= {"LIMITED", "METADATA"}
    three_collections = sum(pages for _, pages in reads)
    # One SAMPLED scan, as Microsoft's reindex script makes, reads every leaf page of this catalog.
    connection = connect(small_sim)
    connection.cursor().execute(statement("index_fragmentation").text, ["SAMPLED"])
    ((one_full_read,),) = connection.db.execute(
        "SELECT SUM(pages_read) FROM sim_scan_log WHERE mode = 'SAMPLED'"
    ).fetchall()
    assert three_collections * 10 < one_full_read
    kpis = report.kpis_after
    assert (
        kpis["event_instance_rows"]
        == query(small_sim, "SELECT COUNT(*) FROM tbEventInstance")[0][0]
    )
    assert kpis["computers"] == query(small_sim, "SELECT COUNT(*) FROM tbComputerTarget")[0][0]
