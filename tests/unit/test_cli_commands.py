"""status, plan, queue and demo as an administrator runs them."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.catalog import SimulatedServer
from tests.helpers import CatalogBuilder, offered, run_cli, simulator_config


def cli(
    tmp_path: Path, sim: Path, *args: str, gate: str = "off", extra: str = ""
) -> subprocess.CompletedProcess[str]:
    config = simulator_config(tmp_path, sim, gate=gate, extra=extra)
    return run_cli(
        "--config",
        str(config),
        "--state-dir",
        str(tmp_path / "state"),
        "--log-format",
        "json",
        *args,
    )


@pytest.mark.slow
def test_status_json_shows_kpis_and_permission_checks(small_sim, tmp_path):
    result = cli(tmp_path, small_sim, "status", "--json", "--check-permissions")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["kpis"]["total_updates"] == len(offered(small_sim))
    assert status["kpis"]["superseded_not_declined"] > 0
    assert (
        all(status["permissions"].values())
        and "EXECUTE dbo.spDeleteUpdate" in status["permissions"]
    )
    assert status["permissions_needed_by"]["EXECUTE dbo.spDeclineUpdate"] == ["decline"]


@pytest.mark.slow
def test_status_exits_4_when_a_right_is_missing(small_sim, tmp_path):
    SimulatedServer(small_sim).deny("EXECUTE dbo.spDeleteUpdate")
    result = cli(tmp_path, small_sim, "status", "--check-permissions")
    assert result.returncode == 4
    assert "MISSING  EXECUTE dbo.spDeleteUpdate: needed by obsolete_updates" in result.stdout


@pytest.mark.slow
def test_plan_show_sql_offline_needs_no_database(tmp_path):
    result = cli(
        tmp_path,
        tmp_path / "nowhere.sqlite3",
        "plan",
        "--show-sql",
        "--offline",
        "--stage",
        "obsolete_updates",
    )
    assert result.returncode == 0, result.stderr
    assert (
        "EXEC dbo.spGetObsoleteUpdatesToCleanup;" in result.stdout
        and "EXEC dbo.spDeleteUpdate" in result.stdout
    )


@pytest.mark.slow
def test_plan_lists_the_items_and_changes_nothing(small_sim, tmp_path):
    before = (
        sqlite3.connect(small_sim).execute("SELECT SUM(Declined) FROM vwMinimalUpdate").fetchone()
    )
    result = cli(tmp_path, small_sim, "plan", "--stage", "decline", "--items")
    assert result.returncode == 0, result.stderr
    items = item_lines(result.stdout, "decline")
    assert len(items) > 100
    # Each planned decline says what it is and why: KB (when it has one), title, reason.
    assert all(item[2] == "planned" and len(item) == len(ITEM_COLUMNS) for item in items)
    assert any(item[3].startswith("KB") and item[5].startswith("superseded by ") for item in items)
    assert (
        sqlite3.connect(small_sim).execute("SELECT SUM(Declined) FROM vwMinimalUpdate").fetchone()
        == before
    )


# What `plan --items` prints per item, tab-separated, in this order (README, "plan --items").
ITEM_COLUMNS = ("stage", "id", "status", "kb", "title", "reason", "products")


def item_lines(stdout: str, stage: str) -> list[list[str]]:
    return [line.split("\t") for line in stdout.splitlines() if line.startswith(f"{stage}\t")]


@pytest.mark.slow
def test_plan_items_say_for_each_decline_its_kb_title_reason_and_products(tmp_path):
    builder = CatalogBuilder(tmp_path / "review.sqlite3")
    old = builder.update(
        "2026-05 Cumulative Update for Windows Server 2019 (KB5100)", age_days=200, kb="5100"
    )
    builder.update(
        "2026-06 Cumulative Update for Windows Server 2019 (KB5101)",
        age_days=150,
        kb="5101",
        supersedes=(old,),
        approved=True,
    )
    x86 = builder.update(
        "2026-06 Cumulative Update for Windows 10 for x86-based Systems (KB5102)",
        age_days=150,
        kb="5102",
        product="Windows 10",
        also_products=("Windows 10 LTSB",),
    )
    expired = builder.update(
        "Security Intelligence Update for Microsoft Defender Antivirus (KB2267602)",
        age_days=100,
        kb="2267602",
        expired=True,
        product="Microsoft Defender Antivirus",
    )
    path = builder.close()
    extra = '[stages.decline]\npresets = ["x86"]\nexpired = true\n'
    result = cli(tmp_path, path, "plan", "--stage", "decline", "--items", extra=extra)
    assert result.returncode == 0, result.stderr
    items = {
        item[1]: dict(zip(ITEM_COLUMNS, item, strict=True))
        for item in item_lines(result.stdout, "decline")
    }
    assert items[old] == {
        "stage": "decline",
        "id": old,
        "status": "planned",
        "kb": "KB5100",
        "title": "2026-05 Cumulative Update for Windows Server 2019 (KB5100)",
        "reason": "superseded by KB5101 (created 2026-06-28, approved for install)",
        "products": "Windows Server 2019",
    }
    assert (items[x86]["kb"], items[x86]["reason"]) == ("KB5102", "rule:preset:x86")
    assert items[x86]["products"] == "Windows 10; Windows 10 LTSB"
    assert (items[expired]["reason"], items[expired]["products"]) == (
        "expired",
        "Microsoft Defender Antivirus",
    )
    assert set(items) == {old, x86, expired}


def catalog_titles(path: Path) -> dict[str, tuple[str, str]]:
    """LocalUpdateID -> (KB, title) of each update's latest revision, as the catalog has them."""
    rows = sqlite3.connect(path).execute(
        """SELECT r.LocalUpdateID, MIN(k.KBArticleID), MIN(lp.Title) FROM tbRevision r
        JOIN tbProperty p ON p.RevisionID = r.RevisionID
        LEFT JOIN tbKBArticleForRevision k ON k.RevisionID = r.RevisionID
        LEFT JOIN tbLocalizedPropertyForRevision lpr ON lpr.RevisionID = r.RevisionID
            AND lpr.LanguageID = p.DefaultPropertiesLanguageID
        LEFT JOIN tbLocalizedProperty lp ON lp.LocalizedPropertyID = lpr.LocalizedPropertyID
        WHERE r.IsLatestRevision = 1 GROUP BY r.LocalUpdateID"""
    )
    return {str(local): (f"KB{kb}" if kb else "", title or "") for local, kb, title in rows}


@pytest.mark.slow
def test_plan_items_name_the_kb_and_title_of_each_update_to_delete_or_compress(small_sim, tmp_path):
    titles = catalog_titles(small_sim)
    result = cli(
        tmp_path, small_sim, "plan", "--stage", "obsolete_updates", "--stage", "compress", "--items"
    )
    assert result.returncode == 0, result.stderr
    for stage in ("obsolete_updates", "compress"):
        items = item_lines(result.stdout, stage)
        assert items and all(len(item) == len(ITEM_COLUMNS) for item in items), stage
        assert {tuple(item[3:5]) for item in items} == {titles[item[1]] for item in items}
        assert all(item[4] for item in items), stage  # the simulated catalog titles every update


@pytest.mark.slow
def test_plan_items_describe_a_queue_left_by_a_night_cut_short_the_same_way(small_sim, tmp_path):
    titles = catalog_titles(small_sim)
    cut_short = cli(
        tmp_path, small_sim, "run", "--stage", "obsolete_updates", "--max-duration", "1"
    )
    assert cut_short.returncode == 3, cut_short.stderr[-1000:]
    result = cli(tmp_path, small_sim, "plan", "--stage", "obsolete_updates", "--items")
    items = item_lines(result.stdout, "obsolete_updates")
    # Still to do (pending), or sent when the window closed and verified first (in flight).
    assert items and all(item[2] in ("pending", "in_flight") for item in items)
    assert all(len(item) == len(ITEM_COLUMNS) for item in items)
    assert all(tuple(item[3:5]) == titles[item[1]] for item in items)


def test_plan_items_keep_every_column_when_a_title_breaks_lines_or_the_catalog_has_none():
    from jobs import plan_items

    decline = plan_items.Item(
        "decline", "ID", "planned", {"update_id": "ID", "title": "A\tB\nC", "reason": "expired"}
    )
    deletion = plan_items.Item("obsolete_updates", "42", "pending", {"local_update_id": 42})
    lines = [line.split("\t") for line in plan_items.lines([decline, deletion], titles={})]
    assert lines[0] == ["decline", "ID", "planned", "", "A B C", "expired", ""]
    assert lines[1][:5] == ["obsolete_updates", "42", "pending", "", ""]
    assert all(len(line) == len(ITEM_COLUMNS) for line in lines)
    assert plan_items.COLUMNS == ITEM_COLUMNS


def test_the_readme_gives_the_column_order_of_plan_items():
    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
    assert "`" + "`, `".join(ITEM_COLUMNS) + "`" in readme


@pytest.mark.slow
def test_queue_show_retry_and_clear(small_sim, tmp_path):
    # A plan arms no queue; a night cut short by its window leaves one.
    assert cli(tmp_path, small_sim, "plan", "--stage", "obsolete_updates").returncode == 0
    assert "no queued work" in cli(tmp_path, small_sim, "queue", "show").stdout
    cut_short = cli(
        tmp_path, small_sim, "run", "--stage", "obsolete_updates", "--max-duration", "1"
    )
    assert cut_short.returncode == 3, cut_short.stderr[-1000:]
    shown = cli(tmp_path, small_sim, "queue", "show")
    assert shown.returncode == 0 and shown.stdout.startswith("obsolete_updates: ")
    assert "pending " in shown.stdout
    assert (
        "0 quarantined item(s) will be retried" in cli(tmp_path, small_sim, "queue", "retry").stdout
    )
    cleared = cli(tmp_path, small_sim, "queue", "clear", "--stage", "obsolete_updates")
    assert cleared.returncode == 0 and "queued item(s) removed" in cleared.stdout
    assert "no queued work" in cli(tmp_path, small_sim, "queue", "show").stdout


@pytest.mark.slow
def test_demo_makes_again_a_simulated_susdb_another_version_made(tmp_path):
    demo = ("--state-dir", str(tmp_path / "state"), "demo", "--updates", "300", "--seed", "3")
    assert run_cli(*demo, cwd=tmp_path).returncode == 0
    path = next((tmp_path / "state" / "demo").glob("*.sqlite3"))
    SimulatedServer(path).made_by_another_version()
    again = run_cli(*demo, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "Simulated SUSDB (created):" in again.stdout and "demo.remade" in again.stderr


@pytest.mark.slow
def test_demo_creates_a_simulated_susdb_and_prints_before_and_after(tmp_path):
    demo = ("--state-dir", str(tmp_path / "state"), "demo", "--updates", "800", "--seed", "2")
    result = run_cli(*demo, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        "Simulated SUSDB (created):" in result.stdout and "SUSDB before and after" in result.stdout
    )
    assert "Superseded, not declined" in result.stdout
    path = next((tmp_path / "state" / "demo").glob("*.sqlite3"))
    # Superseded updates stay while they are young (min_age_days, 90 by default) or nothing live
    # covers them; the table says so.
    assert offered(path, "mu.IsSuperseded = 1 AND mu.Declined = 0")
    assert "kept: too young (min_age_days) or nothing live covers" in result.stdout
    assert "Simulated SUSDB (reused):" in run_cli(*demo, cwd=tmp_path).stdout


@pytest.mark.slow
def test_queue_commands_never_touch_a_queue_a_running_run_owns(small_sim, tmp_path):
    """admin review N49: `queue clear` during a run removed its items and the run said "done"."""
    import filelock

    from jobs.db.lock import lock_file
    from jobs.state.store import StateStore

    cut_short = cli(
        tmp_path, small_sim, "run", "--stage", "obsolete_updates", "--max-duration", "1"
    )
    assert cut_short.returncode == 3
    store = StateStore(tmp_path / "state")
    (database,) = store.databases_of("sim")
    queued = store.active_count(database, "obsolete_updates")
    store.close()
    with filelock.FileLock(str(lock_file(tmp_path / "state", database)), timeout=0):  # a run
        for command in (("queue", "clear"), ("queue", "retry")):
            refused = cli(tmp_path, small_sim, *command)
            assert refused.returncode == 5, refused
            assert "a run is working on this target's database" in refused.stderr
            assert len(refused.stderr.strip().splitlines()) == 1
    store = StateStore(tmp_path / "state")
    assert store.active_count(database, "obsolete_updates") == queued
    store.close()
    assert cli(tmp_path, small_sim, "queue", "clear").returncode == 0  # the run has finished
