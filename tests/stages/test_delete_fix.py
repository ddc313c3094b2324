"""Microsoft's spDeleteUpdate change: applied only on request, only on a text this tool knows, only
after the backup gate, on a replica too but never without the rights; its original saved only once
the change committed; and put back on request."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from jobs.exit_codes import ExitCode
from jobs.simulator import create
from jobs.simulator.catalog import preset_profile
from jobs.simulator.schema import spdeleteupdate_texts
from jobs.stages import delete_fix
from tests.catalog import SimulatedServer
from tests.helpers import query, run, settings_for

APPLY = {"delete_fix": {"apply": True}}


def definition(path: Path) -> str:
    return query(
        path, "SELECT definition FROM sim_object_definition WHERE name = 'dbo.spDeleteUpdate'"
    )[0][0]


@pytest.mark.slow
def test_the_fix_is_applied_before_the_cleanup_and_clears_a_backlog_in_one_window(
    neglected_sim, state_dir, event_log
):
    assert delete_fix.state_of(definition(neglected_sim)) == "original"
    settings = settings_for(neglected_sim, backup={"gate": "off"}, stages=APPLY)
    report = run(
        settings,
        state_dir,
        stages=["custom_indexes", "obsolete_updates"],
        max_duration_minutes=240,
    )
    names = [stage.stage for stage in report.stages]
    assert names.index("delete_fix") == names.index("obsolete_updates") - 1
    assert report.exit_code == ExitCode.OK, report.stages
    assert delete_fix.state_of(definition(neglected_sim)) == "fixed"
    assert report.stages[-1].remaining == 0  # the whole backlog in one four-hour window
    assert event_log.named("delete_fix.applied")


def test_without_the_setting_nothing_is_changed(neglected_sim, state_dir):
    before = definition(neglected_sim)
    report = run(
        settings_for(neglected_sim, backup={"gate": "off"}),
        state_dir,
        stages=["obsolete_updates"],
        max_duration_minutes=60,
    )
    assert "delete_fix" not in [stage.stage for stage in report.stages]
    assert definition(neglected_sim) == before


def test_an_unknown_text_is_left_alone(tmp_path, state_dir):
    sim = tmp_path / "unknown.sqlite3"
    create(
        sim,
        preset_profile("small", seed=5, delete_fix=False, delete_update_text="unknown"),
    )
    before = definition(sim)
    report = run(
        settings_for(sim, backup={"gate": "off"}, stages=APPLY),
        state_dir,
        stages=["delete_fix"],
    )
    assert report.exit_code == ExitCode.REFUSED
    assert "not one susdb-maint knows" in report.stages[-1].reason
    assert definition(sim) == before


@pytest.mark.slow
def test_applied_on_a_replica_refused_without_rights_and_without_a_backup(tmp_path, state_dir):
    # spDeleteUpdate is local to each SUSDB, and Microsoft's article asks for the change on
    # every affected server: a replica's own deletions are as slow (decline review N11).
    replica = tmp_path / "replica.sqlite3"
    create(replica, preset_profile("small", seed=6, delete_fix=False, replica=True))
    applied = run(
        settings_for(replica, backup={"gate": "off"}, stages=APPLY),
        state_dir / "replica",
        stages=["delete_fix"],
    )
    assert applied.stages[-1].status == "done"
    assert delete_fix.state_of(definition(replica)) == "fixed"

    for permission, words in (
        ("ALTER dbo.spDeleteUpdate", "lacks ALTER"),
        ("VIEW DEFINITION dbo.spDeleteUpdate", "VIEW DEFINITION"),
    ):
        sim = tmp_path / f"{permission.split()[0]}.sqlite3"
        create(sim, preset_profile("small", seed=7, delete_fix=False))
        SimulatedServer(sim).deny(permission)
        report = run(
            settings_for(sim, backup={"gate": "off"}, stages=APPLY),
            state_dir,
            stages=["delete_fix"],
        )
        assert report.exit_code == ExitCode.REFUSED and words in report.stages[-1].reason
        assert delete_fix.state_of(spdeleteupdate_texts()["original"]) == "original"
        assert definition(sim) == spdeleteupdate_texts()["original"]

    stale = tmp_path / "stale.sqlite3"
    create(stale, preset_profile("small", seed=8, delete_fix=False, backup_age_hours=None))
    gated = run(settings_for(stale, stages=APPLY), state_dir, stages=["delete_fix"])
    assert gated.stages[-1].status == "refused" and "backup" in gated.stages[-1].reason
    assert definition(stale) == spdeleteupdate_texts()["original"]


def test_restore_puts_the_original_text_back_exactly(tmp_path, state_dir):
    sim = tmp_path / "s.sqlite3"
    create(sim, preset_profile("small", seed=9, delete_fix=False))
    original = definition(sim)
    settings = settings_for(sim, backup={"gate": "off"}, stages=APPLY)
    assert run(settings, state_dir, stages=["delete_fix"]).exit_code == ExitCode.OK
    assert definition(sim) != original
    restored = run(settings, state_dir, stages=["preflight"], restore_delete_fix=True)
    assert restored.exit_code == ExitCode.OK, restored.stages
    assert definition(sim) == original
    again = run(settings, state_dir, stages=["preflight"], restore_delete_fix=True)
    assert again.exit_code == ExitCode.REFUSED and "nothing to put back" in again.stages[-1].reason


def test_a_change_that_fails_saves_no_original_and_claims_nothing(tmp_path, state_dir, event_log):
    """The change's batch fails (here the server denies it, as when the login lost its right
    between the check and the ALTER): the procedure keeps its text, no original is saved, so no
    later run says a WSUS update replaced the change (preflight.delete_fix_replaced) and
    --restore-delete-update has nothing to put back (decline review N7)."""
    sim = tmp_path / "s.sqlite3"
    create(sim, preset_profile("small", seed=15, delete_fix=False))
    original = definition(sim)
    denied = {
        "rate": 1.0,
        "kinds": ["permission_denied"],
        "statements": ["apply_delete_update_fix"],
    }
    failing = settings_for(sim, backup={"gate": "off"}, stages=APPLY, target={"faults": denied})
    report = run(failing, state_dir, stages=["delete_fix"])
    stage = report.stages[-1]
    assert stage.stage == "delete_fix" and stage.status == "failed" and stage.done == 0
    assert report.exit_code != ExitCode.OK
    assert definition(sim) == original
    assert query(state_dir / "state.sqlite3", "SELECT COUNT(*) FROM procedure_originals") == [(0,)]
    assert not event_log.named("delete_fix.applied")

    settings = settings_for(sim, backup={"gate": "off"})
    assert run(settings, state_dir, stages=["preflight"]).exit_code == ExitCode.OK
    assert event_log.named("preflight.delete_fix_missing")
    assert not event_log.named("preflight.delete_fix_replaced")
    restore = run(settings, state_dir, stages=["preflight"], restore_delete_fix=True)
    assert restore.exit_code == ExitCode.REFUSED
    assert "nothing to put back" in (restore.stages[-1].reason or "")
    assert definition(sim) == original


def test_a_wsus_update_that_replaced_the_procedure_is_noticed_and_never_overwritten(
    tmp_path, state_dir, event_log
):
    sim = tmp_path / "s.sqlite3"
    create(sim, preset_profile("small", seed=10, delete_fix=False))
    settings = settings_for(sim, backup={"gate": "off"}, stages=APPLY)
    run(settings, state_dir, stages=["delete_fix"])
    # A WSUS update replaces the procedure with a build of its own.
    SimulatedServer(sim).spdeleteupdate("unknown")
    restore = run(settings, state_dir, stages=["preflight"], restore_delete_fix=True)
    assert event_log.named("preflight.delete_fix_replaced")
    assert restore.exit_code == ExitCode.REFUSED and "no longer holds" in restore.stages[-1].reason
    assert definition(sim) == spdeleteupdate_texts()["unknown"]


def test_fingerprints_ignore_comments_case_brackets_and_create_or_alter():
    fixed = spdeleteupdate_texts()["fixed"]
    variant = "/* header */\n" + fixed.replace(
        "CREATE PROCEDURE [dbo].[spDeleteUpdate]", "alter procedure dbo.spDeleteUpdate"
    )
    assert delete_fix.fingerprint(variant) == delete_fix.fingerprint(fixed)
    assert delete_fix.state_of(variant) == "fixed"
    assert delete_fix.state_of(spdeleteupdate_texts()["unknown"]) == "unknown"
    assert delete_fix.state_of(None) == "unreadable"


def test_a_saved_text_that_is_not_wsus_original_is_never_executed(tmp_path, state_dir):
    sim = tmp_path / "s.sqlite3"
    create(sim, preset_profile("small", seed=11, delete_fix=False))
    settings = settings_for(sim, backup={"gate": "off"}, stages=APPLY)
    run(settings, state_dir, stages=["delete_fix"])
    db = sqlite3.connect(state_dir / "state.sqlite3")
    db.execute("UPDATE procedure_originals SET original_text = 'DROP TABLE dbo.tbUpdate'")
    db.commit()
    db.close()
    report = run(settings, state_dir, stages=["preflight"], restore_delete_fix=True)
    assert report.exit_code == ExitCode.REFUSED and "not executed" in report.stages[-1].reason
    assert delete_fix.state_of(definition(sim)) == "fixed"


def module_flags(path: Path) -> tuple[int, int, int]:
    db = sqlite3.connect(path)
    try:
        return db.execute(
            "SELECT uses_ansi_nulls, uses_quoted_identifier, is_signed FROM sim_object_definition"
        ).fetchone()
    finally:
        db.close()


def test_the_change_keeps_the_procedures_set_options(tmp_path, state_dir):
    """An ALTER captures the session's ANSI_NULLS and QUOTED_IDENTIFIER: the change sets both ON,
    as WSUS created the procedure, whatever the driver's defaults are (decline review N7)."""
    sim = tmp_path / "s.sqlite3"
    create(sim, preset_profile("small", seed=11, delete_fix=False))
    settings = settings_for(sim, backup={"gate": "off"}, stages=APPLY)
    assert run(settings, state_dir, stages=["delete_fix"]).exit_code == ExitCode.OK
    assert module_flags(sim) == (1, 1, 0)
    restored = run(settings, state_dir, stages=["preflight"], restore_delete_fix=True)
    assert restored.exit_code == ExitCode.OK
    assert module_flags(sim) == (1, 1, 0)


@pytest.mark.parametrize(
    ("columns", "words"),
    [
        ({"is_signed": 1}, "signed"),
        ({"uses_quoted_identifier": 0}, "QUOTED_IDENTIFIER OFF"),
    ],
)
def test_a_signed_or_differently_set_procedure_is_left_alone(tmp_path, state_dir, columns, words):
    sim = tmp_path / "s.sqlite3"
    create(sim, preset_profile("small", seed=12, delete_fix=False))
    SimulatedServer(sim).spdeleteupdate_module(**columns)
    report = run(
        settings_for(sim, backup={"gate": "off"}, stages=APPLY), state_dir, stages=["delete_fix"]
    )
    assert report.exit_code == ExitCode.REFUSED and words in (report.stages[-1].reason or "")
    assert definition(sim) == spdeleteupdate_texts()["original"]


def test_the_change_fails_closed_when_its_recheck_cannot_read_the_text(tmp_path):
    """OBJECT_DEFINITION is NULL without VIEW DEFINITION; NULL <> @expected is not TRUE, so a
    plain comparison would let the ALTER through."""
    from jobs.db.connection import Endpoint
    from jobs.db.executor import Executor
    from jobs.errors import DatabaseError
    from jobs.susdb import Susdb

    sim = tmp_path / "s.sqlite3"
    create(sim, preset_profile("small", seed=13, delete_fix=False))
    original = definition(sim)
    SimulatedServer(sim).deny(
        "VIEW DEFINITION dbo.spDeleteUpdate"
    )  # lost between the check and the change
    executor = Executor(Endpoint("sim", settings_for(sim).targets["sim"]))
    try:
        with pytest.raises(DatabaseError, match="nothing was changed"):
            Susdb(executor).apply_delete_update_fix(original)
    finally:
        executor.close()
    assert definition(sim) == original


def test_a_saved_original_with_a_comment_before_create_is_put_back():
    text = "/* WSUS 10.0.17763 */\n-- shipped text\nCREATE PROCEDURE dbo.spDeleteUpdate AS SELECT 1"
    assert delete_fix.as_alter(text) == (
        "/* WSUS 10.0.17763 */\n-- shipped text\nALTER PROCEDURE dbo.spDeleteUpdate AS SELECT 1"
    )
