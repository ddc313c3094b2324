"""Every sql/ file: a header naming it and its parameters, and only objects SUSDB really has."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from jobs.db.catalog import load_catalog, parse_statement

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "susdb-schema.json").read_text()
)
CATALOG = load_catalog()
SYSTEM_OBJECTS = {
    "sys.indexes",
    "sys.objects",
    "sys.index_columns",
    "sys.columns",
    "sys.tables",
    "sys.database_files",
    "sys.databases",
    "sys.dm_db_index_physical_stats",
    "sys.dm_db_partition_stats",
    "sys.sp_getapplock",
    "sys.sp_releaseapplock",
    "sys.sp_executesql",
    "sys.sql_modules",
    "sys.crypt_properties",
    "sys.dm_os_volume_stats",
    "msdb.dbo.backupmediafamily",
    "sys.sp_updatestats",
    "msdb.dbo.backupset",
}


def _columns(entry: dict) -> set[str]:
    columns = entry.get("columns", [])
    names = [column["name"] if isinstance(column, dict) else column for column in columns]
    return {name.lower() for name in names}


OBJECTS: dict[str, set[str]] = {}
for section in ("tables", "views"):
    for name, entry in SCHEMA[section].items():
        OBJECTS[name.lower()] = _columns(entry)
PROCEDURES = {name.lower() for name in SCHEMA["procedures"]}
# Configuration Manager's site database (configmgr_deployed_updates.sql), not SUSDB: the
# documented view and the columns read ("Software updates views in Configuration Manager").
OBJECTS["dbo.v_updatecis"] = {
    "ci_id",
    "ci_uniqueid",
    "citype_id",
    "isdeployed",
    "isexpired",
    "issuperseded",
}


def code_of(text: str) -> str:
    """The SQL without comments and string literals."""
    return re.sub(r"--[^\n]*|/\*.*?\*/|N?'(?:[^']|'')*'", " ", text, flags=re.S)


def test_the_catalog_loads_every_file_with_a_matching_name():
    files = sorted(
        path.stem for path in (Path(__file__).resolve().parents[2] / "sql").glob("*.sql")
    )
    assert sorted(CATALOG) == files and len(files) >= 30


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_each_statement_references_only_real_susdb_objects_and_columns(name):
    code = code_of(CATALOG[name].text).replace("[", "").replace("]", "")
    referenced = {
        match.lower()
        for match in re.findall(r"\b(?:msdb\.)?(?:dbo|PUBLIC_VIEWS|sys)\.\w+", code, re.I)
    }
    for reference in referenced:
        if reference in SYSTEM_OBJECTS:
            continue
        assert reference in OBJECTS or reference in PROCEDURES, (
            f"{name}: {reference} is not in SUSDB's schema"
        )
    aliases = {
        alias.lower(): obj.lower()
        for obj, alias in re.findall(
            r"(?:FROM|JOIN)\s+((?:dbo|PUBLIC_VIEWS)\.\w+)\s+(?:AS\s+)?(\w+)", code, re.I
        )
    }
    for alias, column in re.findall(r"\b(\w+)\.(\w+)\b", code):
        target = aliases.get(alias.lower())
        if target in OBJECTS:
            assert column.lower() in OBJECTS[target], f"{name}: {target} has no column {column}"
    for table, column in re.findall(r"ON\s+dbo\.(\w+)\s*\((\w+)", code, re.I):
        assert column.lower() in OBJECTS[f"dbo.{table.lower()}"], (
            f"{name}: dbo.{table} has no column {column}"
        )


def test_a_file_whose_header_and_markers_disagree_is_rejected():
    with pytest.raises(ValueError, match="header lists 1 parameter"):
        parse_statement("-- name: x\n-- params: @a int\nSELECT 1;", "x.sql")


def test_a_file_without_a_name_is_rejected():
    with pytest.raises(ValueError, match="name"):
        parse_statement("SELECT 1;", "x.sql")


# These execute a whole procedure text, not a statement built from names: Microsoft's published
# body (a constant in the file), or the original text the delete_fix stage saved, which it executes
# only when its fingerprint is WSUS's original (tests/stages/test_delete_fix.py).
WHOLE_PROCEDURE_TEXTS = {"apply_delete_update_fix", "restore_delete_update"}


def test_identifiers_reach_dynamic_sql_only_through_quotename():
    for name, statement in CATALOG.items():
        code = code_of(statement.text)
        if "sp_executesql" in code and name not in WHOLE_PROCEDURE_TEXTS:
            built = re.findall(r"@sql(?:\s+nvarchar\(max\))?\s*=(.*?);", statement.text, re.S)
            assert built, name
            for expression in built:
                assert "QUOTENAME(" in expression, f"{name}: dynamic SQL without QUOTENAME"
                assert not re.search(r"\+\s*@(tableName|indexName)\b", expression), (
                    f"{name}: raw name concatenated"
                )


def test_every_parameter_is_bound_with_a_marker_never_formatted_in():
    for name, statement in CATALOG.items():
        assert "%s" not in code_of(statement.text) and "{" not in code_of(statement.text), name


def test_the_integration_tier_has_parameters_for_every_statement_it_runs():
    from tests.integration.test_sqlserver import SAMPLE_PARAMETERS, SKIP_RUNNING

    for name, statement in CATALOG.items():
        if name not in SKIP_RUNNING:
            assert len(SAMPLE_PARAMETERS.get(name, [])) == len(statement.params), name
