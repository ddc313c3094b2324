"""A corpus of bad configurations and command lines: each gets one clear line naming the problem,
the documented exit code, and no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import run_cli

TARGET = '[targets.x]\nkind = "simulator"\npath = "x.sqlite3"\n'

BAD_CONFIGS = [
    ("unknown top-level key", 'stat_dir = "/tmp"\n', "stat_dir: unknown key"),
    ("unknown section", "[loggin]\nlevel = 'info'\n", "loggin: unknown key"),
    (
        "typo in a stage option",
        "[stages.decline]\nsupersede = 'all'\n",
        "stages.decline.supersede: unknown key",
    ),
    ("bad enum", "[stages.decline]\nsuperseded = 'most'\n", "stages.decline.superseded:"),
    ("bad age basis", "[stages.decline]\nage_basis = 'newest'\n", "stages.decline.age_basis:"),
    ("negative age", "[stages.decline]\nmin_age_days = -1\n", "stages.decline.min_age_days:"),
    ("string for a number", "[runner]\nmax_attempts = 'five'\n", "runner.max_attempts:"),
    ("zero attempts", "[runner]\nmax_attempts = 0\n", "runner.max_attempts:"),
    (
        "negative batch target",
        "[runner]\nbatch_target_seconds = -3\n",
        "runner.batch_target_seconds:",
    ),
    ("bad window time", "[window]\nuntil = '6am'\n", "window.until: expected HH:MM"),
    ("hour out of range", "[window]\nuntil = '24:10'\n", "window.until: expected HH:MM"),
    ("bad log format", "[log]\nformat = 'xml'\n", "log.format:"),
    ("bad log level", "[log]\nlevel = 'loud'\n", "log.level:"),
    ("bad backup gate", "[backup]\ngate = 'maybe'\n", "backup.gate:"),
    ("target without kind", "[targets.x]\npath = 'a'\n", "targets.x:"),
    ("unknown target kind", "[targets.x]\nkind = 'oracle'\n", "targets.x:"),
    (
        "sqlserver without server",
        "[targets.x]\nkind = 'sqlserver'\n",
        "server is required unless wid = true",
    ),
    (
        "port out of range",
        "[targets.x]\nkind = 'sqlserver'\nserver = 's'\nport = 70000\n",
        "targets.x.port:",
    ),
    (
        "inline password",
        "[targets.x]\nkind = 'sqlserver'\nserver = 's'\npassword = 'x'\n",
        "targets.x.password: inline passwords are not allowed",
    ),
    (
        "sql auth without user",
        "[targets.x]\nkind = 'sqlserver'\nserver = 's'\nauth = 'sql'\npassword_env = 'P'\n",
        "needs username",
    ),
    (
        "both password references",
        "[targets.x]\nkind = 'sqlserver'\nserver = 's'\nauth = 'sql'\nusername = 'u'\npassword_env = 'P'\npassword_file = 'f'\n",
        "exactly one of password_env or password_file",
    ),
    (
        "bad encrypt",
        "[targets.x]\nkind = 'sqlserver'\nserver = 's'\nencrypt = 'yes'\n",
        "targets.x.encrypt:",
    ),
    (
        "bad target name",
        "[targets.'my target']\nkind = 'simulator'\npath = 'a'\n",
        "targets: names may use",
    ),
    (
        "unknown default target",
        "default_target = 'nope'\n" + TARGET,
        "default_target 'nope' is not a configured target",
    ),
    (
        "unknown upstream",
        "[targets.x]\nkind = 'simulator'\npath = 'a'\nupstream = 'y'\n",
        "upstream 'y' is not a configured target",
    ),
    (
        "unknown stage in profile",
        "[profiles.mine]\nstages = ['preflight', 'defrag']\n",
        "profiles.mine.stages.1:",
    ),
    ("empty profile", "[profiles.mine]\nstages = []\n", "profiles.mine.stages:"),
    (
        "bad regex rule",
        "[[stages.decline.rules]]\nfield = 'title'\nmatch = 'regex'\npattern = '['\n",
        "not a valid regular expression",
    ),
    (
        "rule on unknown field",
        "[[stages.decline.rules]]\nfield = 'vendor'\npattern = 'x'\n",
        "stages.decline.rules.0.field:",
    ),
    (
        "bad never_decline entry",
        "[stages.decline]\nnever_decline = ['5005565']\n",
        "not a KB number or update ID",
    ),
    (
        "guard above 100 percent",
        "[stages.computers]\nguard_percent = 150\n",
        "stages.computers.guard_percent:",
    ),
    ("bad reindex mode", "[stages.reindex]\nmode = 'always'\n", "stages.reindex.mode:"),
    ("fill factor zero", "[stages.reindex]\nfill_factor = 0\n", "stages.reindex.fill_factor:"),
    ("bad cron", "[schedule.jobs.n]\ncron = 'every night'\n", "is not a valid crontab expression"),
    (
        "cron and patch tuesday",
        "[schedule.jobs.n]\ncron = '0 1 * * *'\npatch_tuesday = { offset_days = 1 }\n",
        "exactly one of cron or patch_tuesday",
    ),
    ("unknown time zone", "[schedule]\ntimezone = 'Mars/Olympus'\n", "unknown time zone"),
    (
        "job with an unknown profile",
        "[schedule.jobs.n]\nprofile = 'weekly'\ncron = '0 1 * * *'\n",
        "profile 'weekly' is not a defined profile",
    ),
    (
        "fault rate above 1",
        "[targets.x]\nkind = 'simulator'\npath = 'a'\n[targets.x.faults]\nrate = 2\n",
        "targets.x.faults.rate:",
    ),
    ("not TOML", "[runner\n", "not valid TOML"),
]


def cli(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env, cwd=cwd, timeout=120)


@pytest.mark.parametrize(
    ("case", "text", "expected"), BAD_CONFIGS, ids=[case for case, _, _ in BAD_CONFIGS]
)
def test_each_bad_config_gets_one_clear_line_and_exit_2(tmp_path, case, text, expected):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    result = cli(["config", "check", str(config)], tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0] and str(config) in lines[0]
    assert "Traceback" not in result.stderr


BAD_COMMANDS = [
    (["frobnicate"], 2, "invalid choice"),
    (["run", "--until", "25:99"], 2, "--until"),
    (["run", "--max-duration", "-5"], 2, "--max-duration"),
    (["run", "--max-duration", "soon"], 2, "--max-duration"),
    (["run", "--stage", "defrag"], 2, "--stage"),
    (["demo", "--preset", "huge"], 2, "--preset"),
    (["demo", "--updates", "0"], 2, "--updates"),
    (["history", "--limit", "many"], 2, "--limit"),
    (["queue", "purge"], 2, "invalid choice"),
    (["config"], 2, "required"),
    (["--log-format", "yaml", "run"], 2, "--log-format"),
    (["--config", "missing.toml", "run"], 2, "config file not found"),
    (
        ["--config", "c.toml", "run", "--target", "nope"],
        2,
        "--target 'nope' is not a configured target",
    ),
    (["--config", "c.toml", "run", "--profile", "weekly"], 2, "--profile 'weekly' is not defined"),
    (["--config", "c.toml", "history", "--declined", "20990101"], 2, "no state file yet"),
    (["--config", "c.toml", "--state-dir", "corrupt", "history"], 2, "corrupt"),
]


@pytest.mark.parametrize(
    ("args", "code", "expected"), BAD_COMMANDS, ids=[" ".join(args) for args, _, _ in BAD_COMMANDS]
)
def test_each_bad_command_line_gets_one_clear_line_and_its_exit_code(
    tmp_path, args, code, expected
):
    (tmp_path / "c.toml").write_text(TARGET)
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "state.sqlite3").write_bytes(b"garbage" * 500)
    (tmp_path / "state").mkdir()
    result = cli(args, tmp_path, env={"SUSDB_MAINT_STATE_DIR": str(tmp_path / "state")})
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_the_corpus_is_large_enough():
    assert len(BAD_CONFIGS) + len(BAD_COMMANDS) >= 30


def test_show_sql_with_an_unknown_profile_is_one_line(tmp_path):
    result = cli(["plan", "--show-sql", "--profile", "weekly"], tmp_path)
    assert result.returncode == 2 and result.stderr.strip().endswith(
        "is not defined (known: full, nightly, nightly-with-backup, pre-patch-tuesday)"
    )


def test_an_unwritable_path_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    result = cli(["config", "init", "--output", str(tmp_path / "file" / "c.toml")], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"susdb-maint: Not a directory: {tmp_path / 'file' / 'c.toml'}"
