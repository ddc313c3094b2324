"""A corpus of what an administrator could type: bad configurations, command lines, environment
variables and files saved by Windows tools. Each gets one clear line naming the problem, the
documented exit code, and no traceback.

The corpus runs in-process through ``cli.main`` (an exception escaping it fails the test, as a
traceback would fail the administrator); a few cases run as real processes too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jobs import cli as module
from tests.helpers import cli_command, cli_env, run_cli

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
    (
        "target without kind",
        "[targets.x]\npath = 'a'\n",
        "targets.x: required key is missing: kind",
    ),
    (
        "unquoted dotted target name",  # admin review N04
        "[targets.wsus01.contoso.com]\nkind = 'sqlserver'\nserver = 'wsus01.contoso.com'\n",
        """targets.wsus01: a dotted target name must be quoted: [targets."wsus01.contoso.com"]""",
    ),
    (
        "a stage twice in a profile",  # admin review N18
        "[profiles.p]\nstages = ['preflight', 'decline', 'decline']\n",
        "profiles.p.stages: a stage may be listed once",
    ),
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
        "not a regular expression RE2 can run",
    ),
    (
        "regex rule with lookbehind (RE2 has none)",
        "[[stages.decline.rules]]\nfield = 'title'\nmatch = 'regex'\npattern = '(?<!x)86'\n",
        "not a regular expression RE2 can run",
    ),
    (
        "regex rule that matches every title",
        "[[stages.decline.rules]]\nfield = 'title'\nmatch = 'regex'\npattern = '.*'\n",
        "matches an empty text, so it would match every update",
    ),
    (
        "word rule with no word",
        "[[stages.decline.rules]]\nfield = 'title'\npattern = ' '\n",
        "has no word in it, so it would match every update",
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
        "[schedule.jobs.n]\nprofile = 'weekly'\ncron = '0 1 * * *'\n" + TARGET,
        "profile 'weekly' is not a defined profile",
    ),
    (
        "fault rate above 1",
        "[targets.x]\nkind = 'simulator'\npath = 'a'\n[targets.x.faults]\nrate = 2\n",
        "targets.x.faults.rate:",
    ),
    ("not TOML", "[runner\n", "not valid TOML"),
    # A section or a list given a scalar.
    ("targets given a string", 'targets = "wsus01"\n', "targets: expected a table"),
    (
        "a target given a string",
        '[targets]\nwsus01 = "sql01"\n',
        "targets.wsus01: expected a table",
    ),
    ("profiles given a number", "profiles = 1\n", "profiles: expected a table"),
    ("log given a number", "log = 1\n", "log: expected a table"),
    (
        "stage options given a string",
        "[stages]\ndecline = 'all'\n",
        "stages.decline: expected a table",
    ),
    ("stages given a number", "[profiles.p]\nstages = 1\n", "profiles.p.stages: expected a list"),
    (
        "stages given a string",
        "[profiles.p]\nstages = 'decline'\n",
        "profiles.p.stages: expected a list",
    ),
    (
        "never_decline given a string",
        "[stages.decline]\nnever_decline = 'KB5005565'\n",
        "stages.decline.never_decline: expected a list",
    ),
    (
        "rules given a string",
        "[stages.decline]\nrules = 'Itanium'\n",
        "stages.decline.rules: expected a list",
    ),
    (
        "fault kinds given a string",
        TARGET + "faults = { kinds = 'deadlock' }\n",
        "targets.x.faults.kinds: expected a list",
    ),
    # Numbers that are no numbers, or too large for any clock or INT column.
    (
        "infinite window",
        "[window]\nmax_duration_minutes = inf\n",
        "window.max_duration_minutes: expected a finite number",
    ),
    (
        "not-a-number window",
        "[window]\nmax_duration_minutes = nan\n",
        "window.max_duration_minutes: expected a finite number",
    ),
    (
        "huge window",
        "[window]\nmax_duration_minutes = 1e308\n",
        "window.max_duration_minutes: expected at most 10080",
    ),
    (
        "infinite profile window",
        "[profiles.p]\nstages = ['decline']\nmax_duration_minutes = inf\n",
        "profiles.p.max_duration_minutes: expected a finite number",
    ),
    (
        "infinite stage budget",
        "[profiles.p]\nstages = ['decline']\nstage_budgets = { decline = inf }\n",
        "profiles.p.stage_budgets.decline: expected a finite number",
    ),
    (
        "huge stage budget",
        "[profiles.p]\nstages = ['decline']\nstage_budgets = { decline = 1e9 }\n",
        "budgets must be more than 0 and at most 10080 minutes",
    ),
    (
        "budget for an unknown stage",
        "[profiles.p]\nstages = ['decline']\nstage_budgets = { defrag = 5 }\n",
        "profiles.p.stage_budgets.defrag:",
    ),
    (
        "huge day count",
        "[stages.decline]\nmin_age_days = 99999999999999999\n",
        "stages.decline.min_age_days: expected at most 36500",
    ),
    (
        "huge retention",
        "[stages.sync_history]\nretention_days = 1e6\n",
        "stages.sync_history.retention_days: expected at most 36500",
    ),
    (
        "huge history retention",
        "[runner]\nhistory_days = 1e9\n",
        "runner.history_days: expected at most 36500",
    ),
    (
        "inactive_days, which WSUS ignores",
        "[stages.computers]\ninactive_days = 60\n",
        "stages.computers.inactive_days: removed",
    ),
    (
        "backup.path, replaced by a folder",
        "[backup]\npath = 'D:\\Backup\\SUSDB.bak'\n",
        "backup.path: replaced by backup.directory",
    ),
    (
        "infinite backup age",
        "[backup]\nmax_age_hours = inf\n",
        "backup.max_age_hours: expected a finite number",
    ),
    (
        "not-a-number retry time",
        "[runner]\nretry_max_seconds = nan\n",
        "runner.retry_max_seconds: expected a finite number",
    ),
    (
        "huge statement timeout",
        "[stages.reindex]\nstatement_timeout_seconds = 1e12\n",
        "stages.reindex.statement_timeout_seconds: expected at most 604800",
    ),
    (
        "huge query timeout",
        "[targets.x]\nkind = 'sqlserver'\nserver = 's'\nquery_timeout = 99999999999\n",
        "targets.x.query_timeout: expected at most 604800",
    ),
    (
        "infinite latency",
        TARGET + "latency_ms = inf\n",
        "targets.x.latency_ms: expected a finite number",
    ),
    (
        "huge misfire grace",
        "[schedule]\nmisfire_grace_minutes = 99999999\n",
        "schedule.misfire_grace_minutes: expected at most 10080",
    ),
    (
        "huge log backups",
        "[log]\nfile_backups = 10000000000\n",
        "log.file_backups: expected at most 1000",
    ),
    (
        "negative max declines",
        "[stages.decline]\nmax_declines_per_run = -1\n",
        "stages.decline.max_declines_per_run: expected at least 0",
    ),
    # Times.
    (
        "window time as a number",
        "[window]\nuntil = 6\n",
        'window.until: expected HH:MM in quotes ("06:00"), got 6',
    ),
    ("window time with am/pm", "[window]\nuntil = '6:00 AM'\n", "window.until: expected HH:MM"),
    (
        "patch tuesday offset beyond a month",
        "[schedule.jobs.n]\npatch_tuesday = { offset_days = 40 }\n" + TARGET,
        "patch_tuesday.offset_days: expected at most 27",
    ),
    (
        "cron hour 25",
        "[schedule.jobs.n]\ncron = '0 25 * * *'\n" + TARGET,
        "is not a valid crontab expression",
    ),
    (
        "neither cron nor patch tuesday",
        "[schedule.jobs.n]\nprofile = 'nightly'\n" + TARGET,
        "exactly one of cron or patch_tuesday",
    ),
    # References between sections.
    (
        "upstream loop",
        "[targets.a]\nkind = 'simulator'\npath = 'a'\nupstream = 'b'\n[targets.b]\nkind = 'simulator'\npath = 'b'\nupstream = 'a'\n",
        "targets.a.upstream: the upstream chain loops: a -> b -> a",
    ),
    (
        "target upstream of itself",
        "[targets.a]\nkind = 'simulator'\npath = 'a'\nupstream = 'a'\n",
        "targets.a.upstream: the upstream chain loops: a -> a",
    ),
    (
        "three-target upstream loop",
        "".join(
            f"[targets.{name}]\nkind = 'simulator'\npath = '{name}'\nupstream = '{up}'\n"
            for name, up in (("a", "c"), ("b", "a"), ("c", "b"))
        ),
        "the upstream chain loops: a -> c -> b -> a",
    ),
    (
        "job on an unknown target",
        "[schedule.jobs.n]\ncron = '0 1 * * *'\ntarget = 'wsus99'\n" + TARGET,
        "schedule.jobs.n.target 'wsus99' is not a configured target",
    ),
    (
        "job with no target among several",
        "[schedule.jobs.n]\ncron = '0 1 * * *'\n"
        + TARGET
        + "[targets.y]\nkind = 'simulator'\npath = 'y'\n",
        "schedule.jobs.n: several targets are",
    ),
    (
        "job with no target configured",
        "[schedule.jobs.n]\ncron = '0 1 * * *'\n",
        "schedule.jobs.n: no target is configured",
    ),
    # What Windows editors and habits produce.
    (
        "Windows path in double quotes",
        '[backup]\ndirectory = "D:\\Backup\\SUSDB"\n',
        "write Windows paths in single quotes",
    ),
    (
        "Windows user path in double quotes",
        '[log]\nfile = "C:\\Users\\admin\\events.jsonl"\n',
        "write Windows paths in single quotes",
    ),
    ("a key written twice", "[runner]\nmax_attempts = 3\nmax_attempts = 4\n", "not valid TOML"),
    (
        "kind in capitals",
        "[targets.x]\nkind = 'SQLServer'\nserver = 's'\n",
        "targets.x: Input tag 'SQLServer'",
    ),
    (
        "wid and a server",
        "[targets.x]\nkind = 'sqlserver'\nserver = 's'\nwid = true\n",
        "give either server or wid = true, not both",
    ),
    (
        "a section typed twice",
        "[window]\nuntil = '06:00'\n[window]\nmax_duration_minutes = 60\n",
        "not valid TOML",
    ),
]


def call(
    args: list[str],
    directory: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    """Run ``susdb-maint ARGS`` in ``directory`` in-process; return exit code, stdout, stderr."""
    for variable in list(os.environ):
        if variable.startswith("SUSDB_MAINT_"):
            monkeypatch.delenv(variable)
    for variable, value in (env or {}).items():
        monkeypatch.setenv(variable, value)
    monkeypatch.chdir(directory)
    try:
        code = module.main(args)
    except SystemExit as exit_:  # argparse's usage errors
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line(err: str) -> str:
    """The one line of the error, events (JSON lines, documented in docs/events.md) aside."""
    lines = [line for line in err.strip().splitlines() if not line.startswith('{"')]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("case", "text", "expected"), BAD_CONFIGS, ids=[case for case, _, _ in BAD_CONFIGS]
)
def test_each_bad_config_gets_one_clear_line_and_exit_2(
    tmp_path, monkeypatch, capsys, case, text, expected
):
    config = tmp_path / "bad.toml"
    config.write_text(text, encoding="utf-8")
    code, _, err = call(["config", "check", str(config)], tmp_path, monkeypatch, capsys)
    assert code == 2
    line = one_line(err)
    assert expected in line and str(config) in line


@pytest.mark.slow
def test_a_bad_config_is_one_line_from_a_real_process_too(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('targets = "wsus01"\n')
    result = run_cli("config", "check", str(config), cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr
        == f"susdb-maint: {config}: targets: expected a table (a [section] or {{ key = value }}), got the string 'wsus01'\n"
    )


# Files as Windows tools save them: the bytes, and what the one line must say.
BAD_ENCODINGS = [
    (
        "ANSI code page (Out-File -Encoding Default)",
        "[targets.x]\nkind = 'sqlserver'\nserver = 'café'\n".encode("cp1252"),
        "not UTF-8 (byte 0xE9 on line 3): probably the Windows ANSI code page",
    ),
    (
        "UTF-16 without a byte-order mark",
        "[window]\nuntil = '06:00'\n".encode("utf-16-le"),
        "looks like UTF-16 without a byte-order mark",
    ),
    (
        "a UTF-16 byte-order mark over UTF-8 text",
        b"\xff\xfe" + b"[window]\nuntil = '06:00'\n" + b"\xd8",
        "starts with a UTF-16 LE byte-order mark but is not UTF-16 LE",
    ),
]


@pytest.mark.parametrize(
    ("case", "raw", "expected"), BAD_ENCODINGS, ids=[case for case, _, _ in BAD_ENCODINGS]
)
def test_a_file_in_an_unreadable_encoding_says_which_and_how_to_save_it(
    tmp_path, monkeypatch, capsys, case, raw, expected
):
    config = tmp_path / "bad.toml"
    config.write_bytes(raw)
    code, _, err = call(["config", "check", str(config)], tmp_path, monkeypatch, capsys)
    assert code == 2
    line = one_line(err)
    assert expected in line
    assert f"(Get-Content {config}) | Set-Content -Encoding UTF8 {config}" in line


TARGET_FILE = TARGET
WID_TARGET = "[targets.w]\nkind = 'sqlserver'\nwid = true\n"
NOT_A_SIMULATOR = "[targets.n]\nkind = 'simulator'\npath = 'notes.txt'\n"

BAD_COMMANDS = [
    (["frobnicate"], 2, "invalid choice"),
    (["run", "--until", "25:99"], 2, "--until"),
    (["run", "--until", "6pm"], 2, "--until"),
    (["run", "--max-duration", "-5"], 2, "--max-duration"),
    (["run", "--max-duration", "0"], 2, "--max-duration"),
    (["run", "--max-duration", "soon"], 2, "--max-duration"),
    (["run", "--max-duration", "inf"], 2, "--max-duration: expected minutes, more than 0"),
    (["run", "--max-duration", "nan"], 2, "--max-duration: expected minutes, more than 0"),
    (["run", "--max-duration", "1e308"], 2, "at most 10080 (a week), got '1e308'"),
    (["simulator", "serve", "--sim", "s.sqlite3", "--fault-rate", "2"], 2, "from 0 to 1"),
    (["simulator", "serve", "--sim", "s.sqlite3", "--latency-ms", "-1"], 2, "0 or more"),
    (["plan", "--max-duration", "infinity"], 2, "--max-duration"),
    (["demo", "--max-duration", "inf"], 2, "--max-duration"),
    (["run", "--stage", "defrag"], 2, "--stage"),
    (["run", "--target", "c", "--all"], 2, "not allowed with argument"),
    (["--config", "c.toml", "plan", "--all", "--items"], 2, "--items lists one target's items"),
    (["demo", "--preset", "huge"], 2, "--preset"),
    (["demo", "--updates", "0"], 2, "--updates"),
    (
        ["demo", "--updates", "1000000000000"],
        2,
        "--updates: expected a whole number from 1 to 2,000,000",
    ),
    (["demo", "--seed", "-1"], 2, "--seed"),
    (["demo", "--seed", "lucky"], 2, "--seed"),
    (
        ["demo", "--sim", "notes.txt", "--fresh"],
        2,
        "--sim notes.txt: not a simulated SUSDB (no sim_meta table); refusing to overwrite it",
    ),
    (["demo", "--sim", "notes.txt"], 2, "refusing to use it"),
    (["demo", "--sim", "state"], 2, "--sim state: is a directory"),
    (["history", "--limit", "many"], 2, "--limit"),
    (["history", "--limit", "0"], 2, "--limit"),
    (["history", "--limit", "99999999999999999999"], 2, "--limit"),
    (["history", "--format", "csv"], 2, "--format csv applies to --declined RUN_ID"),
    (["queue", "purge"], 2, "invalid choice"),
    (["queue", "retry", "--stage", "defrag"], 2, "--stage"),
    (["config"], 2, "required"),
    (["config", "check", "state"], 2, "state: is a directory; give the config file itself"),
    (["config", "check", "missing.toml"], 2, "missing.toml: config file not found"),
    (["config", "init", "--output", "c.toml"], 2, "c.toml exists; use --force to overwrite it"),
    (
        ["config", "init", "--output", "notes.txt/c.toml"],
        2,
        "notes.txt: exists and is not a directory",
    ),
    (["config", "init", "--output", "state"], 2, "state is a directory; give the file to write"),
    (["config", "init", "--wid", "--simulator", "x"], 2, "not allowed with argument"),
    (["--log-format", "yaml", "run"], 2, "--log-format"),
    (["--log-level", "loud", "run"], 2, "--log-level"),
    (["--config", "missing.toml", "run"], 2, "config file not found"),
    (
        ["--config", "state", "run"],
        2,
        "state: is a directory; give the config file itself (from --config)",
    ),
    (
        ["--config", "wid.toml", "run"],
        2,
        "targets.w: wid = true works only on the WSUS host itself (Windows)",
    ),
    (
        ["--config", "wid.toml", "status"],
        2,
        "Windows Internal Database accepts local named-pipe connections only",
    ),
    (
        ["--config", "c.toml", "--state-dir", "notes.txt", "status"],
        2,
        "notes.txt: the state directory is a file",
    ),
    (
        ["--config", "c.toml", "--log-file", "notes.txt/events.jsonl", "status"],
        2,
        "notes.txt: exists and is not a directory",
    ),
    (
        ["--config", "c.toml", "run", "--target", "nope"],
        2,
        "--target 'nope' is not a configured target",
    ),
    (
        ["--config", "c.toml", "status", "--target", "nope"],
        2,
        "--target 'nope' is not a configured target",
    ),
    (
        ["--config", "c.toml", "queue", "show", "--target", "nope"],
        2,
        "--target 'nope' is not a configured target",
    ),
    (["--config", "c.toml", "run", "--profile", "weekly"], 2, "--profile 'weekly' is not defined"),
    (["--config", "c.toml", "schedule", "--list"], 2, "no jobs in [schedule.jobs]"),
    (
        ["--config", "c.toml", "--log-file", "/proc/no-such/events.log", "plan"],
        2,
        "--log-file /proc/no-such/events.log: cannot write the event log there",
    ),
    (["--config", "c.toml", "--log-file", ".", "plan"], 2, "--log-file .: cannot write"),
    (["--config", "c.toml", "history", "--declined", "20990101"], 2, "no state file yet"),
    (  # admin review N18, on the command line
        ["--config", "c.toml", "run", "--stage", "health", "--stage", "health"],
        2,
        "--stage: a stage may be listed once (reindex twice: before and after the cleanup): "
        "health repeated",
    ),
    (  # admin review N45
        ["--config", "c.toml", "report", "--since", "2026-12-31", "--until", "2026-12-01"],
        2,
        "--since 2026-12-31 is after --until 2026-12-01",
    ),
    (  # admin review R59: a config mistake, not a connection that failed
        ["--config", "notsim.toml", "plan"],
        2,
        "the file is not a simulated SUSDB (not even SQLite)",
    ),
    (["simulator", "create", "--sim", "notes.txt"], 2, "not a simulated SUSDB"),
    (  # admin review N41c: the typo first, not "no state file yet"
        ["--config", "c.toml", "report", "--target", "bogus"],
        2,
        "--target 'bogus' is not a configured target (known: x)",
    ),
    (
        ["--config", "c.toml", "history", "--target", "bogus"],
        2,
        "--target 'bogus' is not a configured target (known: x)",
    ),
    (["--config", "c.toml", "--state-dir", "corrupt", "history"], 2, "corrupt"),
    (["plan", "--offline"], 2, "--offline renders --show-sql without a database"),
    (
        ["plan", "--show-sql", "--offline", "--profile", "weekly"],
        2,
        "is not defined (known: full, nightly, nightly-with-backup, pre-patch-tuesday)",
    ),
]


@pytest.mark.parametrize(
    ("args", "code", "expected"), BAD_COMMANDS, ids=[" ".join(args) for args, _, _ in BAD_COMMANDS]
)
def test_each_bad_command_line_gets_one_clear_line_and_its_exit_code(
    tmp_path, monkeypatch, capsys, args, code, expected
):
    if "wid.toml" in args and sys.platform == "win32":
        pytest.skip("on Windows a WID target is reached, not refused")
    (tmp_path / "c.toml").write_text(TARGET_FILE)
    (tmp_path / "wid.toml").write_text(WID_TARGET)
    (tmp_path / "notsim.toml").write_text(NOT_A_SIMULATOR)
    (tmp_path / "notes.txt").write_text("an administrator's notes: must survive\n")
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "state.sqlite3").write_bytes(b"garbage" * 500)
    (tmp_path / "state").mkdir()
    exit_code, _, err = call(
        args, tmp_path, monkeypatch, capsys, env={"SUSDB_MAINT_STATE_DIR": str(tmp_path / "state")}
    )
    assert exit_code == code, err
    assert expected in one_line(err)
    assert (tmp_path / "notes.txt").read_text() == "an administrator's notes: must survive\n"


# Environment variables set in a service definition or a container, with the config they meet.
BAD_ENVIRONMENTS = [
    (
        {"SUSDB_MAINT_LOG_LEVL": "debug"},
        TARGET,
        "$SUSDB_MAINT_LOG_LEVL: names no configuration key",
    ),
    (
        {"SUSDB_MAINT_TARGETS_NOPE_PORT": "1433"},
        TARGET,
        "$SUSDB_MAINT_TARGETS_NOPE_PORT: names no configuration key",
    ),
    (
        {"SUSDB_MAINT_LOG_LEVEL": "loud"},
        TARGET,
        "log.level: Input should be 'debug', 'info', 'warning' or 'error' (from $SUSDB_MAINT_LOG_LEVEL)",
    ),
    (
        {"SUSDB_MAINT_WINDOW_MAX_DURATION_MINUTES": "inf"},
        TARGET,
        "window.max_duration_minutes: expected a finite number, got inf (from $SUSDB_MAINT_WINDOW_MAX_DURATION_MINUTES)",
    ),
    (
        {"SUSDB_MAINT_RUNNER_MAX_ATTEMPTS": "many"},
        TARGET,
        "runner.max_attempts: Input should be a valid integer",
    ),
    (
        {"SUSDB_MAINT_TARGETS_WSUS_01_PORT": "1433"},
        "[targets.wsus-01]\nkind = 'sqlserver'\nserver = 'a'\n[targets.wsus_01]\nkind = 'sqlserver'\nserver = 'b'\n",
        "$SUSDB_MAINT_TARGETS_WSUS_01_PORT: matches targets.wsus-01.port and targets.wsus_01.port",
    ),
    (
        {"SUSDB_MAINT_TARGETS_WSUS01_PORT": "1433"},
        "[targets.WSUS01]\nkind = 'sqlserver'\nserver = 'a'\n[targets.wsus01]\nkind = 'sqlserver'\nserver = 'b'\n",
        "matches targets.WSUS01.port and targets.wsus01.port",
    ),
    ({"SUSDB_MAINT_LOG_LEVEL": "debug"}, "log = 'debug'\n", "log: expected a table"),
    (
        {"SUSDB_MAINT_CONFIG": "state"},
        TARGET,
        "state: is a directory; give the config file itself (from $SUSDB_MAINT_CONFIG)",
    ),
    (
        {"SUSDB_MAINT_CONFIG": "nowhere.toml"},
        TARGET,
        "nowhere.toml: config file not found (from $SUSDB_MAINT_CONFIG)",
    ),
]


@pytest.mark.parametrize(
    ("env", "text", "expected"),
    BAD_ENVIRONMENTS,
    ids=[
        " ".join(env) + (f" ({text.splitlines()[0]})" if "TARGETS" in " ".join(env) else "")
        for env, text, _ in BAD_ENVIRONMENTS
    ],
)
def test_each_bad_environment_override_gets_one_clear_line_and_exit_2(
    tmp_path, monkeypatch, capsys, env, text, expected
):
    (tmp_path / "susdb-maint.toml").write_text(text)
    (tmp_path / "state").mkdir()
    code, _, err = call(["config", "show"], tmp_path, monkeypatch, capsys, env=env)
    assert code == 2
    assert expected in one_line(err)


def test_the_corpus_is_large_enough():
    """The corpus only grows: 56 cases before the administrator's-path issue."""
    size = len(BAD_CONFIGS) + len(BAD_ENCODINGS) + len(BAD_COMMANDS) + len(BAD_ENVIRONMENTS)
    assert size >= 140


@pytest.mark.slow
def test_an_unwritable_path_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    result = run_cli("config", "init", "--output", str(tmp_path / "file" / "c.toml"), cwd=tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"susdb-maint: {tmp_path / 'file'}: exists and is not a directory"
    )


@pytest.mark.slow
def test_a_reader_that_goes_away_is_no_error_and_keeps_the_exit_code(tmp_path):
    """``susdb-maint plan --show-sql --offline | head -1``: no "Broken pipe", no traceback,
    exit 0."""
    process = subprocess.Popen(
        cli_command("plan", "--show-sql", "--offline"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
        cwd=tmp_path,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # what head does after its first line
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0
    assert first.strip() and err == ""


def test_a_history_of_a_target_that_never_ran_is_one_line_naming_those_that_did(tmp_path):
    """Admin review R22: a misspelt --target is not an empty history."""
    from jobs import commands
    from jobs.errors import UsageError
    from jobs.state.store import StateStore

    store = StateStore(tmp_path)
    store.start_run("20260101T000000Z-aaaaaa", "wsus01", "nightly", False)
    store.close()
    with pytest.raises(UsageError, match=r"--target wsus1: no run of that target .* wsus01\)"):
        commands.history(tmp_path, "wsus1", 10)


def test_serving_a_file_that_is_not_a_simulated_susdb_is_one_line(tmp_path):
    """Admin review S07: not a traceback."""
    from jobs.errors import UsageError
    from jobs.simulator.tds.server import _read_server_state

    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(UsageError, match="not a simulated SUSDB"):
        _read_server_state(text)


def test_the_declines_of_a_dry_run_are_one_line_pointing_at_plan_items(tmp_path):
    """Admin review N48b: a plan declines nothing; not an empty list and exit 0."""
    from jobs import commands
    from jobs.errors import UsageError
    from jobs.state.store import StateStore

    store = StateStore(tmp_path)
    store.start_run("20260101T000000Z-aaaaaa", "wsus01", "nightly", True)
    store.close()
    with pytest.raises(
        UsageError, match=r"a dry run \(plan\), which declines nothing; plan --items"
    ):
        commands.declined(tmp_path, "20260101T000000Z-aaaaaa")


def test_simulator_create_makes_an_uncleaned_susdb_once(tmp_path, monkeypatch, capsys):
    """Admin review, part A 3: a documented way to an uncleaned simulated SUSDB to try plan on."""
    from jobs.demo import is_simulated_susdb

    code, out, _ = call(
        ["simulator", "create", "--sim", "lab.sqlite3"], tmp_path, monkeypatch, capsys
    )
    assert code == 0 and "never cleaned" in out and is_simulated_susdb(tmp_path / "lab.sqlite3")
    code, _, err = call(
        ["simulator", "create", "--sim", "lab.sqlite3"], tmp_path, monkeypatch, capsys
    )
    assert code == 2 and "--fresh makes it again" in one_line(err)


def test_an_empty_file_named_as_a_simulated_susdb_is_refused_and_left_empty(
    tmp_path, monkeypatch, capsys
):
    """Admin review: `plan` turned a 0-byte file into a 4,096-byte SQLite file."""
    (tmp_path / "empty.sqlite3").write_bytes(b"")
    (tmp_path / "c.toml").write_text("[targets.e]\nkind = 'simulator'\npath = 'empty.sqlite3'\n")
    code, _, err = call(["--config", "c.toml", "plan"], tmp_path, monkeypatch, capsys)
    assert code == 2 and "not a simulated SUSDB" in one_line(err)
    assert (tmp_path / "empty.sqlite3").stat().st_size == 0
