"""Offline rendering (Alembic's offline mode): the exact batches each stage sends, with the
parameter values the configuration gives, without a database."""

from __future__ import annotations

from typing import Any

from jobs.db.catalog import statement
from jobs.settings.model import Settings

PER_ITEM = "<per item>"


def stage_statements(stage: str, settings: Settings) -> list[tuple[str, list[Any]]]:
    """Given a stage and the settings, return (statement name, parameters) in the order sent."""
    decline = settings.stages.decline
    retention = settings.stages.sync_history
    mapping: dict[str, list[tuple[str, list[Any]]]] = {
        "preflight": [
            ("server_info", []),
            ("schema_version", []),
            ("replica_state", []),
            ("delete_update_definition", []),
            ("check_permissions", []),
            ("last_sync_event", []),
            ("last_full_backup", []),
        ],
        "backup": [
            (
                "backup_database",
                [f"{settings.backup.directory or '<backup.directory>'}/<database>_<run ID>.bak"],
            ),
            ("last_full_backup", []),
        ],
        "custom_indexes": [
            ("index_key_columns", []),
            ("create_index_localized_property", []),
            ("create_index_supersedes", []),
        ],
        "reindex": [
            ("index_fragmentation", ["SAMPLED"]),
            ("reorganize_index", [PER_ITEM, PER_ITEM]),
            (
                "rebuild_index",
                [
                    PER_ITEM,
                    PER_ITEM,
                    settings.stages.reindex.online,
                    PER_ITEM,
                    settings.stages.reindex.maxdop,
                ],
            ),
        ],
        "statistics": (
            [("update_statistics_all", [])]
            if settings.stages.statistics.method == "sp_updatestats"
            else [("user_tables", []), ("update_statistics_table", [PER_ITEM])]
        ),
        "decline": (
            (
                [
                    (
                        "superseded_updates",
                        [
                            decline.superseded == "last_level_only",
                            decline.min_age_days,
                            decline.age_basis == "superseding",
                            decline.arrived_within_months,
                        ],
                    )
                ]
                if decline.superseded != "off"
                else []
            )
            + ([("expired_updates", [])] if decline.expired else [])
            + ([("product_titles", [])] if decline.keep_products else [])
            + (
                [("undeclined_update_categories", [])]
                if decline.rules or decline.keep_products
                else []
            )
            + [("decline_update", [PER_ITEM, "susdb-maint"])]
        ),
        "delete_fix": [
            ("delete_fix_rights", []),
            ("delete_update_definition", []),
            ("apply_delete_update_fix", [PER_ITEM]),
        ],
        "obsolete_updates": [("obsolete_updates", []), ("delete_update", [PER_ITEM])],
        "compress": [("updates_to_compress", []), ("compress_update", [PER_ITEM])],
        "computers": [
            ("begin_transaction", []),
            ("computer_target_ids", []),
            ("cleanup_obsolete_computers", []),
            ("computer_target_ids", []),
            ("commit_transaction", []),
        ],
        "sync_history": [
            ("sync_history_backlog", [retention.retention_days]),
            ("delete_sync_history", [retention.batch_rows, retention.retention_days]),
        ],
        "content_files": [],
        "health": [
            ("kpi_update_counts", []),
            ("kpi_approved_updates", []),
            ("kpi_table_rows", []),
            ("database_size", []),
            ("index_fragmentation", ["LIMITED"]),
        ],
    }
    return mapping[stage]


def render_stage(stage: str, settings: Settings) -> str:
    lines = [f"-- ===== stage: {stage} ====="]
    if stage == "content_files":
        lines.append(
            "-- (no SQL: Invoke-WsusServerCleanup -CleanupUnneededContentFiles on the WSUS host)"
        )
    for name, params in stage_statements(stage, settings):
        spec = statement(name)
        bound = ", ".join(
            f"@{param} = {value!r}" for (param, _), value in zip(spec.params, params, strict=False)
        )
        lines.append(f"-- parameters: {bound or 'none'}")
        for batch in spec.batches:
            lines.append(batch.text)
            lines.append("GO" if batch.repeat == 1 else f"GO {batch.repeat}")
    return "\n".join(lines) + "\n"
