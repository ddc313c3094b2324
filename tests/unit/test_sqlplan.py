"""plan --show-sql renders the exact batches a stage sends, without a database."""

from __future__ import annotations

from jobs.settings.model import STAGE_NAMES, Settings
from jobs.sqlplan import render_stage, stage_statements


def test_every_stage_renders_without_a_database():
    settings = Settings()
    for stage in STAGE_NAMES:
        text = render_stage(stage, settings)
        assert text.startswith(f"-- ===== stage: {stage} =====")


def test_the_decline_stage_sends_spdeclineupdate_with_failifreplica_1():
    text = render_stage("decline", Settings())
    assert (
        "EXEC dbo.spDeclineUpdate @updateID = @updateID, @adminName = @adminName, @failIfReplica = 1;"
        in text
    )
    assert (
        "-- parameters: @lastLevelOnly = False, @minAgeDays = 0, @ageFromSuperseding = True" in text
    )


def test_decline_options_change_the_statements_and_their_parameters():
    settings = Settings.model_validate(
        {
            "stages": {
                "decline": {
                    "superseded": "last_level_only",
                    "min_age_days": 30,
                    "age_basis": "own",
                    "expired": False,
                    "rules": [{"field": "title", "pattern": "Itanium"}],
                }
            }
        }
    )
    names = [name for name, _ in stage_statements("decline", settings)]
    assert names == ["superseded_updates", "undeclined_update_categories", "decline_update"]
    assert stage_statements("decline", settings)[0][1] == [True, 30, False, 0]


def test_obsolete_updates_run_the_candidate_procedure_then_one_delete_per_update():
    text = render_stage("obsolete_updates", Settings())
    assert text.index("EXEC dbo.spGetObsoleteUpdatesToCleanup;") < text.index(
        "EXEC dbo.spDeleteUpdate @localUpdateID = ?;"
    )
    assert text.count("\nGO") == 2


def test_sync_history_deletes_in_top_n_batches_with_the_configured_retention():
    settings = Settings.model_validate(
        {"stages": {"sync_history": {"retention_days": 45, "batch_rows": 1000}}}
    )
    text = render_stage("sync_history", settings)
    assert "DELETE TOP (@batchRows) FROM dbo.tbEventInstance" in text
    assert "-- parameters: @batchRows = 1000, @retentionDays = 45" in text


def test_fullscan_statistics_go_table_by_table():
    settings = Settings.model_validate({"stages": {"statistics": {"method": "fullscan"}}})
    assert [name for name, _ in stage_statements("statistics", settings)] == [
        "user_tables",
        "update_statistics_table",
    ]
