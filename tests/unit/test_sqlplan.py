"""plan --show-sql renders what a run sends, recorded from the real code path, without a database."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from jobs.commands import RunRequest
from jobs.db.executor import RECORDING
from jobs.exit_codes import ExitCode
from jobs.runner.context import RunContext, StageOutcome
from jobs.settings.model import Settings
from jobs.sqlplan import record, render
from jobs.stages import registry
from tests.helpers import run, run_cli, settings_for


def recorded_by_stage(recorded) -> dict[str, list[str]]:
    stages: dict[str, list[str]] = {}
    for stage, name, _ in recorded:
        stages.setdefault(stage or "run", []).append(name)
    return stages


def show_sql(settings: Settings, **request) -> list[tuple[str | None, str, list]]:
    plan_request = RunRequest(**request)
    return record(settings, lambda throwaway, name: plan_request.plan(throwaway, name))


@pytest.mark.slow
def test_show_sql_names_every_statement_a_simulated_nightly_run_sends(small_sim, state_dir):
    sent: list = []
    token = RECORDING.set(sent)
    try:
        run(settings_for(small_sim, backup={"gate": "off"}), state_dir, profile="nightly")
    finally:
        RECORDING.reset(token)
    shown = recorded_by_stage(show_sql(Settings(backup={"gate": "off"}), profile="nightly"))
    for stage, names in recorded_by_stage(sent).items():
        if stage != "run" and registry.get(stage).external:
            assert shown[stage] == ["(no SQL)"]  # it acts on the WSUS host, shown as such
            continue
        assert set(names) <= set(shown[stage]), stage


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
    sent = [
        (name, params)
        for stage, name, params in show_sql(settings, stages=["decline"])
        if stage == "decline"
    ]
    names = list(dict.fromkeys(name for name, _ in sent))
    # The rules first (what they decline covers nothing, and they are queued first), then the
    # supersedences and the superseded candidates; before a superseded decline is sent, the
    # update that covered it is read again (update_liveness). Before the stage, the sync guard
    # reads the synchronization events.
    assert names == [
        "last_sync_event",
        "check_target_lock",
        "undeclined_update_categories",
        "superseding_updates",
        "superseded_updates",
        "decline_update",
        "update_liveness",
    ]
    assert next(params for name, params in sent if name == "superseded_updates") == [
        True,
        30,
        False,
        0,  # arrived_within_months: the whole catalog
        False,  # not the Server Cleanup Wizard's rule
        0,  # no Configuration Manager wait
        None,  # every candidate (one update's ID when a queued decline is judged again)
    ]


def test_the_rendering_shows_each_statement_once_with_its_text_and_parameters():
    settings = Settings.model_validate(
        {"stages": {"sync_history": {"retention_days": 45, "batch_rows": 1000}}}
    )
    text = render(show_sql(settings, stages=["obsolete_updates", "sync_history"]))
    assert text.index("EXEC dbo.spGetObsoleteUpdatesToCleanup;") < text.index(
        "IF @toDo > 0 EXEC dbo.spDeleteUpdate @localUpdateID = @localUpdateID;"
    )
    assert re.search(r"-- delete_update \(sent \d+ times in the recorded run\)", text)
    assert "DELETE TOP (@batchRows) FROM dbo.tbEventInstance" in text
    assert "@batchRows = 1000, @retentionDays = 45" in text


@pytest.mark.slow
def test_show_sql_needs_no_database_and_never_writes_where_the_config_points(tmp_path):
    backups = tmp_path / "backups"
    backups.mkdir()
    config = tmp_path / "c.toml"
    config.write_text(
        f'[backup]\ndirectory = "{backups}"\n'
        '[targets.prod]\nkind = "sqlserver"\nserver = "no-such-host.invalid"\n'
    )
    result = run_cli(
        "--config", str(config), "plan", "--show-sql", "--profile", "nightly-with-backup"
    )
    assert result.returncode == 0, result.stderr
    assert "BACKUP DATABASE" in result.stdout and "spDeleteUpdate" in result.stdout
    assert not list(backups.iterdir())  # the throwaway's backup went to a throwaway folder


@pytest.fixture
def throwaway_stage():
    """A stage declared through the declaration alone, as a new stage module would."""

    @registry.stage(name="throwaway", order=65, destructive=True, needs_preflight=True)
    def run_throwaway(ctx: RunContext) -> StageOutcome:
        ctx.susdb.executor.run("server_info")
        return StageOutcome(done=1)

    yield registry.get("throwaway")
    registry._DECLARED.pop("throwaway")


def test_a_stage_declared_alone_is_planned_gated_rendered_and_reported(
    throwaway_stage, small_sim, tmp_path, state_dir
):
    from tests.helpers import CatalogBuilder

    # Planned: the preflight it needs comes first.
    ok = run(settings_for(small_sim, backup={"gate": "off"}), state_dir, stages=["throwaway"])
    assert [stage.stage for stage in ok.stages] == ["preflight", "throwaway"]
    # Reported.
    assert ok.exit_code == ExitCode.OK and ok.stages[-1].done == 1
    # Gated: it deletes, so no fresh backup refuses it.
    builder = CatalogBuilder(tmp_path / "nobackup.sqlite3", backup_age_hours=None)
    refused = run(settings_for(builder.close()), tmp_path / "other", stages=["throwaway"])
    assert refused.stages[-1].status == "refused" and refused.exit_code == ExitCode.REFUSED
    # Rendered.
    shown = recorded_by_stage(show_sql(Settings(backup={"gate": "off"}), stages=["throwaway"]))
    assert "server_info" in shown["throwaway"]
    # Named by the configuration and the command line.
    assert "throwaway" in registry.names()
    assert replace(throwaway_stage, order=1).name == "throwaway"


def test_a_stage_must_say_whether_it_deletes():
    with pytest.raises(TypeError):
        registry.stage(name="careless", order=1, needs_preflight=False)  # type: ignore[call-arg]


def test_every_declared_stage_names_a_settings_section_that_exists():
    from jobs.settings.model import StageSettings

    for declared in registry.stages():
        if declared.settings is not None:
            assert declared.settings in StageSettings.model_fields, declared.name
    assert registry.names()[0] == "preflight" and registry.names()[-1] == "health"
    assert registry.destructive() == {
        "decline",
        "delete_fix",
        "obsolete_updates",
        "compress",
        "computers",
        "sync_history",
        "client_events",
    }
