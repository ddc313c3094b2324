"""plan --show-sql: on the target, the run path with every change recorded instead of sent (and
read back in the order the following run sends it); --offline, the rendering without a database."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from jobs.commands import plan_for
from jobs.db.catalog import statement
from jobs.db.executor import RECORDING
from jobs.exit_codes import ExitCode
from jobs.runner.context import RunContext, StageOutcome
from jobs.runner.options import RunOptions
from jobs.settings.model import Settings, default_profiles
from jobs.sqlplan import record_offline, render_offline
from jobs.stages import registry
from tests.helpers import query, run, run_cli, settings_for


def recorded_by_stage(recorded) -> dict[str, list[str]]:
    stages: dict[str, list[str]] = {}
    for stage, name, _ in recorded:
        stages.setdefault(stage or "run", []).append(name)
    return stages


def show_sql(settings: Settings, **request) -> list[tuple[str | None, str, list]]:
    options = RunOptions(**request)
    return record_offline(settings, lambda throwaway, name: plan_for(throwaway, options, name))


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
    text = render_offline(show_sql(settings, stages=["obsolete_updates", "sync_history"]))
    assert text.index("EXEC dbo.spGetObsoleteUpdatesToCleanup;") < text.index(
        "IF @toDo > 0 EXEC dbo.spDeleteUpdate @localUpdateID = @localUpdateID;"
    )
    # Offline, nothing is counted: a throwaway's numbers are not the administrator's server's.
    assert "-- delete_update (sent for each item or batch); parameters:" in text
    assert not re.search(r"\d+ times", text)
    assert "not your server" in text.splitlines()[0]
    assert "DELETE TOP (@batchRows) FROM dbo.tbEventInstance" in text
    assert "@batchRows = 1000, @retentionDays = 45" in text


@pytest.mark.slow
def test_show_sql_offline_needs_no_database_and_never_writes_where_the_config_points(tmp_path):
    backups = tmp_path / "backups"
    backups.mkdir()
    config = tmp_path / "c.toml"
    config.write_text(
        f'[backup]\ndirectory = "{backups}"\n'
        '[targets.prod]\nkind = "sqlserver"\nserver = "no-such-host.invalid"\n'
    )
    result = run_cli(
        "--config",
        str(config),
        "--state-dir",
        str(tmp_path / "state"),
        "plan",
        "--show-sql",
        "--offline",
        "--profile",
        "nightly-with-backup",
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


# -- on the target: the run path, with every change recorded instead of sent ------------------
# Changes, by what the simulated SUSDB logs when WSUS's procedures run (sim_call_log).
CHANGING_PROCEDURES = (
    "spDeclineUpdate",
    "spDeleteUpdate",
    "spCompressUpdate",
    "spCleanupObsoleteComputers",
    "sp_updatestats",
)
# Asked before every batch: how many batches a run makes depends on how long its items take,
# and a statement that is not sent takes no time. Compared apart (each stage asks before its
# first change, in both).
PER_BATCH = "check_target_lock"
SECTION = re.compile(r"^-- ===== (?:stage: (\S+)|the run itself) =====$")
SEND = re.compile(r"^-- (sent|not sent): (.*)$")
# A decline is made in the name of the run that sends it (its admin name): a plan and the run
# after it each have their own run ID, so sends are compared with it left out.
RUN_ID = re.compile(r"\b\d{8}T\d{6}Z-[0-9a-f]{6}\b")


def _same_run(send: str) -> str:
    return RUN_ID.sub("<run>", send)


def shown_sends(text: str) -> list[tuple[str, str, bool]]:
    """(stage or 'run', the send as the output spells it, whether it was sent) for each
    statement `plan --show-sql` lists, in its order."""
    sends: list[tuple[str, str, bool]] = []
    stage = "run"
    for line in text.splitlines():
        section = SECTION.match(line)
        if section:
            stage = section.group(1) or "run"
            continue
        send = SEND.match(line)
        if send:
            sends.append((stage, _same_run(send.group(2)), send.group(1) == "sent"))
    return sends


def run_sends(recorded) -> list[tuple[str, str]]:
    """A run's RECORDING, spelled as `plan --show-sql` spells each send."""
    from jobs.sqlplan import send_text

    return [
        (stage or "run", _same_run(send_text(name, params))) for stage, name, params in recorded
    ]


def without_lock_checks(sends):
    return [send[:2] for send in sends if not send[1].startswith(PER_BATCH)]


# What a simulated SUSDB writes when it is only read: the pages each read scanned (as a server's
# read statistics grow), where its clock stands (time passes while it answers), and the calls of
# WSUS's procedures that only read (sim_call_log logs every procedure WSUS has).
READ_TRACES = {
    "sim_scan_log": "1 = 1",  # created by the first read, if it is not there yet
    "sim_meta": "key = 'clock'",
    "sim_call_log": "procedure IN ('spGetObsoleteUpdatesToCleanup', 'spGetUpdatesToCompress')",
    # The simulated clients scan on their own as modelled time passes (jobs/simulator/clients.py),
    # as a real server's keep synchronizing: their state moves whatever the tool sends.
    "sim_client": "1 = 1",
}
# Columns compared where clients change the others themselves: which computers exist is what a
# run could change (spCleanupObsoleteComputers); their sync times and results are the clients'.
COMPARED = {"tbComputerTarget": "TargetID, ComputerID"}


def table_contents(sim) -> dict[str, list]:
    """Every table of a simulated SUSDB, row by row, in a fixed order: SUSDB's own, the modelled
    indexes, procedures and backups, and the log of WSUS procedure calls (sim_call_log)."""
    tables = [row[0] for row in query(sim, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {
        table: sorted(
            map(
                repr,
                query(
                    sim,
                    f'SELECT {COMPARED.get(table, "*")} FROM "{table}" '
                    f"WHERE NOT ({READ_TRACES.get(table, '0 = 1')})",
                ),
            )
        )
        for table in tables
        if READ_TRACES.get(table) != "1 = 1"
    }


def show_sql_on_target(settings: Settings, state_dir, **request):
    from jobs import commands

    return commands.show_sql(settings, state_dir, RunOptions(**request))


def test_show_sql_on_the_target_changes_nothing_there_nor_in_the_state_store(small_sim, tmp_path):
    settings = settings_for(small_sim, backup={"gate": "off"})
    state = tmp_path / "state"
    run(settings, state, stages=["decline"], dry_run=True)  # a state store with a plan in it
    runs_before = query_runs(state)
    before = table_contents(small_sim)
    sent: list = []
    token = RECORDING.set(sent)
    try:
        shown = show_sql_on_target(settings, state, profile="nightly")
    finally:
        RECORDING.reset(token)

    assert shown.exit_code == ExitCode.OK, shown.text
    assert sent and not [name for _, name, _ in sent if statement(name).writes]
    assert table_contents(small_sim) == before  # SUSDB, its indexes, procedures, backups
    assert not procedures_that_change(small_sim)
    assert query_runs(state) == runs_before  # no run, queue or timing was kept
    sends = shown_sends(shown.text)
    changes = [line for _, line, was_sent in sends if not was_sent]
    assert any(line.startswith("decline_update @updateID = ") for line in changes)
    assert any(line.startswith("delete_update @localUpdateID = ") for line in changes)


def procedures_that_change(sim) -> list:
    """The calls of WSUS procedures that change something in a simulated SUSDB's call log."""
    marks = ",".join("?" * len(CHANGING_PROCEDURES))
    return query(
        sim, f"SELECT * FROM sim_call_log WHERE procedure IN ({marks})", CHANGING_PROCEDURES
    )


def query_runs(state) -> list:
    """What a state store holds that a run adds to: runs, queues, timings, declines."""
    path = state / "state.sqlite3"
    return [
        query(path, f"SELECT * FROM {table} ORDER BY 1")
        for table in ("runs", "work_items", "planned_items", "item_timings", "declined_updates")
    ]


# The nightly profile's stages but its second reindex pass, which measures what the deletions
# before it fragmented (a dry run deletes nothing, so it cannot foresee that pass), and the stage
# that acts on the WSUS host, not through SQL.
_NIGHTLY = default_profiles()["nightly"].stages
FORESEEABLE_NIGHT = [
    name
    for position, name in enumerate(_NIGHTLY)
    if name != "content_files" and not (name == "reindex" and "reindex" in _NIGHTLY[:position])
]


def show_then_run(sim, state_dir, **request):
    """`plan --show-sql`, then the run it shows on the same simulated SUSDB; return what the
    first listed (stage, send, sent) and what the run sent (stage, send)."""
    settings = settings_for(sim, backup={"gate": "off"})
    shown = show_sql_on_target(settings, state_dir, **request)
    assert shown.exit_code == ExitCode.OK, shown.text
    sent: list = []
    token = RECORDING.set(sent)
    try:
        done = run(settings, state_dir, max_duration_minutes=100_000, **request)
    finally:
        RECORDING.reset(token)
    assert done.exit_code == ExitCode.OK, done.stages
    return shown_sends(shown.text), run_sends(sent)


def test_show_sql_on_the_target_lists_what_the_following_run_sends_in_the_same_order(
    small_sim, state_dir
):
    listed, sent = show_then_run(small_sim, state_dir, stages=FORESEEABLE_NIGHT)

    assert without_lock_checks(listed) == without_lock_checks(sent)
    changes = {
        stage
        for stage, line, was_sent in listed
        if not was_sent and stage != "run" and not line.startswith(PER_BATCH)
    }
    assert {"decline", "obsolete_updates", "compress", "sync_history", "statistics"} <= changes
    for stage in changes:
        # As in the run: the lock is checked when the stage starts, before its first change.
        in_stage = [(line, was_sent) for where, line, was_sent in listed if where == stage]
        first_change = next(
            position
            for position, (line, was_sent) in enumerate(in_stage)
            if not was_sent and not line.startswith(PER_BATCH)
        )
        assert any(line.startswith(PER_BATCH) for line, _ in in_stage[:first_change]), stage


def by_stage_pass(sends) -> list[tuple[str, list]]:
    """The sends cut where the stage changes (reindex runs twice a night)."""
    passes: list[tuple[str, list]] = []
    for stage, line, *_ in sends:
        if not passes or passes[-1][0] != stage:
            passes.append((stage, []))
        passes[-1][1].append(line)
    return passes


@pytest.mark.slow
def test_over_the_whole_nightly_profile_only_the_reindex_after_the_deletions_differs(
    small_sim, state_dir
):
    listed, sent = show_then_run(small_sim, state_dir, profile="nightly")

    shown_passes = by_stage_pass(without_lock_checks(listed))
    run_passes = by_stage_pass(without_lock_checks(sent))
    assert [stage for stage, _ in shown_passes] == [stage for stage, _ in run_passes]
    second_reindex = [stage for stage, _ in run_passes].index("reindex", 4)
    for position, (stage, lines) in enumerate(shown_passes):
        if position != second_reindex:
            assert lines == run_passes[position][1], stage
    # What the deletions fragmented is rebuilt by the run, and not foreseen by the dry run.
    assert len(run_passes[second_reindex][1]) > len(shown_passes[second_reindex][1])


def test_show_sql_on_the_target_shows_each_text_once_per_stage_and_counts_what_it_recorded(
    small_sim, state_dir
):
    settings = settings_for(small_sim, backup={"gate": "off"})
    text = show_sql_on_target(settings, state_dir, stages=["obsolete_updates"]).text
    assert text.count("IF @toDo > 0 EXEC dbo.spDeleteUpdate @localUpdateID = @localUpdateID;") == 1
    deletes = [
        line
        for _, line, was_sent in shown_sends(text)
        if not was_sent and line.startswith("delete_update ")
    ]
    assert len(deletes) > 1 and len(set(deletes)) == len(deletes)  # each update once
    assert re.search(rf"not sent \d+ \([^)]*delete_update {len(deletes)}\b", text)


@pytest.mark.slow
def test_plan_show_sql_on_a_target_that_cannot_be_reached_says_so_and_shows_nothing(tmp_path):
    sim = tmp_path / "nowhere.sqlite3"
    config = tmp_path / "c.toml"
    config.write_text(f'[targets.sim]\nkind = "simulator"\npath = "{sim}"\n')
    result = run_cli(
        "--config", str(config), "--state-dir", str(tmp_path / "state"), "plan", "--show-sql"
    )
    assert result.returncode != 0 and result.stderr.strip(), result
    assert "-- sent:" not in result.stdout and "-- not sent:" not in result.stdout


def test_show_sql_takes_no_lock_so_it_runs_while_a_run_holds_the_target(small_sim, state_dir):
    from jobs.db.connection import Endpoint
    from jobs.settings.model import SimulatorTarget
    from tests.helpers import held_lock

    settings = settings_for(small_sim, backup={"gate": "off"})
    endpoint = Endpoint("sim", SimulatorTarget(kind="simulator", path=str(small_sim)))
    with held_lock(endpoint, state_dir):
        shown = show_sql_on_target(settings, state_dir, stages=["sync_history"])
    assert shown.exit_code == ExitCode.OK, shown.problems
    assert ("run", "acquire_target_lock @resource = N'susdb-maint'", False) in shown_sends(
        shown.text
    )
