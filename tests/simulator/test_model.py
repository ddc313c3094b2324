"""The simulated SUSDB is SUSDB's shape: plain sqlite3 and SUSDB names are enough to read it."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from jobs.simulator import create
from jobs.simulator.catalog import preset_profile
from tests.helpers import NOW, query

REQUIRED_TABLES = {
    "tbUpdate",
    "tbRevision",
    "tbProperty",
    "tbRevisionSupersedesUpdate",
    "tbBundleDependency",
    "tbPrerequisiteDependency",
    "tbDeployment",
    "tbDeadDeployment",
    "tbLocalizedProperty",
    "tbLocalizedPropertyForRevision",
    "tbCategory",
    "tbRevisionInCategory",
    "tbComputerTarget",
    "tbEventInstance",
    "tbConfigurationA",
    "tbConfigurationC",
    "tbSchemaVersion",
}


# Updates a client can be offered: Microsoft's filter in PUBLIC_VIEWS.vUpdateInstallationInfo.
DEPLOYABLE_COUNT = """
SELECT COUNT(*) FROM tbUpdate u
JOIN tbRevision r ON r.LocalUpdateID = u.LocalUpdateID AND r.IsLatestRevision = 1
JOIN tbProperty p ON p.RevisionID = r.RevisionID
WHERE p.ExplicitlyDeployable = 1 AND p.UpdateType IN ('Software', 'Driver')"""


def test_the_file_has_susdb_tables_and_views_under_their_own_names(small_sim):
    names = {
        row[0]
        for row in query(
            small_sim, "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
        )
    }
    assert names >= REQUIRED_TABLES
    assert {"vwMinimalUpdate", "PUBLIC_VIEWS.vUpdate"} <= names


def test_microsofts_own_health_query_runs_on_it_with_plain_sqlite(small_sim):
    ((total, superseded_not_declined),) = query(
        small_sim,
        "SELECT COUNT(UpdateID), SUM(IsSuperseded = 1 AND Declined = 0) FROM vwMinimalUpdate",
    )
    assert total > 1500 and superseded_not_declined > 100


def test_declined_is_a_block_deployment_to_all_computers(small_sim):
    rows = query(
        small_sim,
        """
        SELECT COUNT(*) FROM vwMinimalUpdate mu WHERE mu.Declined = 1 AND NOT EXISTS (
            SELECT 1 FROM tbDeployment d JOIN tbRevision r ON r.RevisionID = d.RevisionID
            WHERE r.LocalUpdateID = mu.LocalUpdateID AND d.ActionID = 2
              AND d.TargetGroupID = 'A0A08746-4DBE-4A37-9ADF-9E7652C0B421')""",
    )
    assert rows == [(0,)]
    assert query(
        small_sim, 'SELECT COUNT(*) FROM "PUBLIC_VIEWS.vUpdate" WHERE IsDeclined = 1'
    ) == query(small_sim, "SELECT COUNT(DISTINCT UpdateID) FROM vwMinimalUpdate WHERE Declined = 1")


def test_superseded_means_a_latest_revision_lists_the_update(small_sim):
    ((count,),) = query(
        small_sim,
        """
        SELECT COUNT(*) FROM vwMinimalUpdate mu WHERE mu.IsSuperseded = 1 AND NOT EXISTS (
            SELECT 1 FROM tbRevisionSupersedesUpdate s JOIN tbRevision r ON r.RevisionID = s.RevisionID
            WHERE s.SupersededUpdateID = mu.UpdateID AND r.IsLatestRevision = 1)""",
    )
    assert count == 0


def test_the_catalog_has_the_shapes_of_a_real_server(neglected_sim):
    def titles(pattern: str) -> int:
        return query(
            neglected_sim,
            'SELECT COUNT(*) FROM "PUBLIC_VIEWS.vUpdate" WHERE DefaultTitle LIKE ?',
            (pattern,),
        )[0][0]

    assert titles("%Cumulative Update for Windows%") > 100
    assert titles("Security Intelligence Update for Microsoft Defender Antivirus%") > 1000
    assert (
        titles("%Itanium%") > 10
        and titles("%ARM64%") > 10
        and titles("%Language Interface Pack%") > 10
    )
    assert titles("%Microsoft Office 2016%") > 100
    assert (
        query(neglected_sim, "SELECT COUNT(*) FROM tbProperty WHERE UpdateType = 'Driver'")[0][0]
        > 100
    )
    assert query(neglected_sim, "SELECT COUNT(*) FROM tbBundleDependency")[0][0] > 0
    assert query(neglected_sim, "SELECT COUNT(*) FROM tbPrerequisiteDependency")[0][0] > 0
    assert (
        query(neglected_sim, "SELECT COUNT(*) FROM tbRevision WHERE IsLatestRevision = 0")[0][0]
        > 100
    )
    assert (
        query(neglected_sim, "SELECT COUNT(*) FROM tbEventInstance WHERE EventNamespaceID = 2")[0][
            0
        ]
        > 1000
    )


def _digest(path) -> str:
    db = sqlite3.connect(path)
    try:
        rows = db.execute(
            "SELECT UpdateID, LegacyName FROM tbUpdate ORDER BY LocalUpdateID"
        ).fetchall()
    finally:
        db.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_catalogs_are_deterministic_by_seed(tmp_path):
    counts = [
        create(
            tmp_path / f"{name}.sqlite3", preset_profile("small", updates=500, seed=seed, now=NOW)
        )
        for name, seed in (("a", 9), ("b", 9), ("c", 10))
    ]
    assert counts[0] == counts[1]
    assert (
        _digest(tmp_path / "a.sqlite3")
        == _digest(tmp_path / "b.sqlite3")
        != _digest(tmp_path / "c.sqlite3")
    )


def test_the_size_parameter_sets_the_number_of_updates(tmp_path):
    counts = create(tmp_path / "x.sqlite3", preset_profile("small", updates=3000, seed=1))
    assert counts["updates"] == 3000
    assert query(tmp_path / "x.sqlite3", DEPLOYABLE_COUNT)[0][0] == 3000


def test_a_half_written_catalog_never_takes_the_real_name(tmp_path, monkeypatch):
    from jobs.simulator import catalog

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(catalog, "generate", boom)
    with pytest.raises(RuntimeError):
        create(tmp_path / "x.sqlite3", preset_profile("small"))
    assert not (tmp_path / "x.sqlite3").exists()


def test_msrt_servicing_stacks_defender_and_dotnet_belong_to_several_products(small_sim):
    products = dict(
        query(
            small_sim,
            """
            SELECT lp.Title, COUNT(*) FROM tbRevisionInCategory ric
            JOIN tbCategory c ON c.CategoryID = ric.CategoryID AND c.CategoryType = 'Product'
            JOIN tbRevision r ON r.RevisionID = ric.RevisionID AND r.IsLatestRevision = 1
            JOIN tbLocalizedPropertyForRevision lpr ON lpr.RevisionID = r.RevisionID
            JOIN tbLocalizedProperty lp ON lp.LocalizedPropertyID = lpr.LocalizedPropertyID
            WHERE lp.Title LIKE 'Windows Malicious Software Removal Tool%'
               OR lp.Title LIKE '%Servicing Stack Update%'
               OR lp.Title LIKE 'Security Intelligence Update%'
               OR lp.Title LIKE '%.NET Framework%'
            GROUP BY r.RevisionID, lp.Title""",
        )
    )
    msrt = [count for title, count in products.items() if "Removal Tool" in title]
    assert msrt and min(msrt) == 7  # listed under every Windows product it runs on
    assert all(count >= 2 for count in products.values())


def test_vwminimalupdate_carries_revisions_categories_detectoids_and_bundled_children(small_sim):
    kinds = dict(query(small_sim, "SELECT UpdateType, COUNT(*) FROM vwMinimalUpdate GROUP BY 1"))
    assert kinds["Category"] > 0 and kinds["Detectoid"] > 0
    ((older,),) = query(
        small_sim, "SELECT COUNT(*) FROM vwMinimalUpdate WHERE IsLatestRevision = 0"
    )
    assert older > 0
    expired = query(
        small_sim,
        "SELECT DISTINCT mu.UpdateType FROM vwMinimalUpdate mu JOIN tbProperty p "
        "ON p.RevisionID = mu.RevisionID WHERE p.PublicationState = 1 AND mu.IsLatestRevision = 1",
    )
    assert {"Category", "Detectoid", "Software"} <= {row[0] for row in expired}
    ((children,),) = query(
        small_sim,
        "SELECT COUNT(*) FROM vwMinimalUpdate mu JOIN tbBundleDependency b "
        "ON b.BundledRevisionID = mu.RevisionID WHERE mu.IsSuperseded = 1",
    )
    assert children > 0


def test_vupdate_publication_state_is_a_string_that_sql_server_will_not_compare_with_a_number(
    small_sim,
):
    from jobs.simulator import connect

    assert {
        row[0]
        for row in query(small_sim, 'SELECT DISTINCT PublicationState FROM "PUBLIC_VIEWS.vUpdate"')
    } == {
        "Published",
        "Expired",
    }
    cursor = connect(small_sim).cursor()
    with pytest.raises(
        Exception,
        match=r"Conversion failed when converting the nvarchar value 'Published' to data type int. \(245\)",
    ):
        cursor.execute(
            "-- name: probe\nSELECT v.UpdateId FROM PUBLIC_VIEWS.vUpdate AS v WHERE v.PublicationState = 1;",
            [],
        )
