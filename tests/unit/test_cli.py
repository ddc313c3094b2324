"""The command line as an administrator meets it: one clear line per problem, documented exit codes,
never a traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import run_cli, simulator_config


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env, cwd=cwd, timeout=120)


def test_help_lists_every_command_and_the_exit_codes():
    result = cli("--help")
    assert result.returncode == 0
    for command in ("demo", "run", "plan", "status", "history", "schedule", "queue", "config"):
        assert command in result.stdout
    assert "5  another run holds the target lock" in result.stdout


@pytest.mark.parametrize(
    "command", ["demo", "run", "plan", "status", "history", "schedule", "queue", "config"]
)
def test_every_command_has_help(command, capsys):
    from jobs import cli as module

    with pytest.raises(SystemExit) as exited:  # in process: one real process is test_version
        module.main([command, "--help"])
    assert exited.value.code == 0 and "usage:" in capsys.readouterr().out


def test_version():
    result = cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("susdb-maint ")


@pytest.mark.slow
def test_config_init_writes_a_file_that_config_check_accepts(tmp_path):
    assert cli("config", "init", "--output", str(tmp_path / "c.toml")).returncode == 0
    result = cli("config", "check", str(tmp_path / "c.toml"))
    assert result.returncode == 0 and "OK" in result.stdout


def test_config_init_creates_the_folder_of_its_output(tmp_path):
    output = tmp_path / "ProgramData" / "susdb-maint" / "susdb-maint.toml"
    result = cli("config", "init", "--output", str(output), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert output.is_file()


@pytest.mark.slow
def test_a_wid_config_from_config_init_passes_config_check_on_any_machine(tmp_path):
    output = tmp_path / "susdb-maint" / "susdb-maint.toml"
    assert cli("config", "init", "--wid", "--output", str(output), cwd=tmp_path).returncode == 0
    assert "\nwid = true\n" in output.read_text()
    result = cli("config", "check", str(output), cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"{output}: OK", result.stderr


def test_config_init_refuses_to_overwrite_without_force(tmp_path):
    (tmp_path / "c.toml").write_text("# mine\n")
    result = cli("config", "init", "--output", str(tmp_path / "c.toml"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--force" in result.stderr
    assert (tmp_path / "c.toml").read_text() == "# mine\n"


def test_config_check_with_three_mistakes_prints_three_lines_and_exits_2(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text(
        '[runner]\nmax_attempts = 0\n[log]\nformat = "xml"\n[window]\nuntil = "25:00"\n'
    )
    result = cli("config", "check", str(config))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3, result.stderr
    assert all(str(config) in line for line in lines)
    assert {"runner.max_attempts", "log.format", "window.until"} == {
        line.split(": ")[2] for line in lines
    }
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_missing_config_file_is_one_line_and_exit_2(tmp_path):
    result = cli("--config", str(tmp_path / "nope.toml"), "run")
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"susdb-maint: {tmp_path / 'nope.toml'}: config file not found (from --config)"
    )


def test_a_bad_argument_is_one_line_and_exit_2():
    result = cli("run", "--until", "7 o'clock")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "--until" in result.stderr


def test_an_option_is_only_its_whole_name(capsys):
    """A prefix is not an option: `--remov` must not run as `--remove-custom-indexes`."""
    from jobs.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["plan", "--remov"])
    assert stopped.value.code == 2 and "unrecognized arguments: --remov" in capsys.readouterr().err


@pytest.mark.slow
def test_an_unreachable_simulated_server_is_one_line_and_exit_1(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(f'[targets.x]\nkind = "simulator"\npath = "{tmp_path / "missing.sqlite3"}"\n')
    result = cli(
        "--config", str(config), "--state-dir", str(tmp_path / "state"), "run", "--stage", "health"
    )
    assert result.returncode == 1
    # Never "connection lost" for a connection that never opened.
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("susdb-maint: x: could not connect to x (simulated SUSDB ")
    )
    assert "the simulated SUSDB file does not exist" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_plan_that_cannot_connect_shows_no_table_and_no_estimate(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(f'[targets.x]\nkind = "simulator"\npath = "{tmp_path / "missing.sqlite3"}"\n')
    result = cli("--config", str(config), "--state-dir", str(tmp_path / "state"), "plan")
    assert result.returncode == 1
    assert "fits" not in result.stdout and "Estimated work" not in result.stdout
    assert "stage" not in result.stdout  # no empty table
    assert "the simulated SUSDB file does not exist" in result.stderr


@pytest.mark.slow
def test_a_simulated_susdb_from_another_version_is_one_line_naming_the_cause(small_sim, tmp_path):
    from tests.catalog import SimulatedServer

    SimulatedServer(small_sim).made_by_another_version(before_formats=True)
    config = tmp_path / "c.toml"
    config.write_text(f'[targets.x]\nkind = "simulator"\npath = "{small_sim}"\n')
    result = cli(
        "--config", str(config), "--state-dir", str(tmp_path / "state"), "run", "--stage", "health"
    )
    assert result.returncode == 1
    assert "made by another susdb-maint version" in result.stderr and "--fresh" in result.stderr
    assert "Traceback" not in result.stderr and "no such column" not in result.stderr


@pytest.mark.slow
def test_run_without_any_target_says_how_to_make_one(tmp_path):
    result = cli("--state-dir", str(tmp_path), "run", cwd=tmp_path)
    assert result.returncode == 2
    assert "no target configured" in result.stderr


@pytest.mark.slow
def test_state_dir_given_before_the_command_is_honoured(tmp_path, small_sim):
    config = simulator_config(tmp_path, small_sim)
    result = cli(
        "--config", str(config), "--state-dir", str(tmp_path / "here"), "run", "--stage", "health"
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "here" / "state.sqlite3").exists()


@pytest.mark.slow
def test_report_without_a_run_takes_the_latest_run_of_this_configs_targets(tmp_path):
    """Admin review E02: a state directory shared by two configs; this one names wsus01 only,
    and a newer run of wsus02 must not be reported (or e-mailed) in its place."""
    from jobs.state.store import StateStore

    store = StateStore(tmp_path / "state")
    store.start_run("20260101T010000Z-aaaaaa", "wsus01", "nightly", False)
    store.finish_run("20260101T010000Z-aaaaaa", "ok", 0, {"run_id": "20260101T010000Z-aaaaaa"})
    store.start_run("20260102T010000Z-bbbbbb", "wsus02", "nightly", False)
    store.finish_run("20260102T010000Z-bbbbbb", "ok", 0, {"run_id": "20260102T010000Z-bbbbbb"})
    store.close()
    config = tmp_path / "c.toml"
    config.write_text('[targets.wsus01]\nkind = "simulator"\npath = "x.sqlite3"\n')
    result = run_cli(
        "--config", str(config), "report", "--state-dir", str(tmp_path / "state"), "--output", "-"
    )
    assert result.returncode == 0, result.stderr
    assert "20260101T010000Z-aaaaaa" in result.stdout
    assert "20260102T010000Z-bbbbbb" not in result.stdout
