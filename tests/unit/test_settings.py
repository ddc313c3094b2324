from __future__ import annotations

import sys
from pathlib import Path

import pytest

from jobs.errors import ConfigError
from jobs.settings import load as module
from jobs.settings import render
from jobs.settings.model import Settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "susdb-maint.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        module.load_settings(path, environ or {})
    return caught.value.problems


def test_defaults_are_valid_and_include_the_built_in_profiles():
    settings = module.load_settings(None, {})
    assert set(settings.effective_profiles()) >= {"nightly", "pre-patch-tuesday", "full"}
    assert settings.backup.gate == "required"


def test_three_mistakes_give_three_lines_each_naming_its_key(tmp_path):
    path = write(
        tmp_path,
        """
[runner]
batch_target_secnds = 30
[stages.decline]
superseded = "sometimes"
[targets.wsus01]
kind = "sqlserver"
server = "sql01"
port = 99999
""",
    )
    problems = problems_of(path)
    assert len(problems) == 3
    assert any(f"{path}: runner.batch_target_secnds: unknown key" in line for line in problems)
    assert any(f"{path}: stages.decline.superseded:" in line for line in problems)
    assert any(f"{path}: targets.wsus01.port:" in line for line in problems)


def test_an_inline_password_is_refused(tmp_path):
    path = write(
        tmp_path,
        """
[targets.wsus01]
kind = "sqlserver"
server = "sql01"
auth = "sql"
username = "maint"
password = "Hunter2!"
password_env = "X"
""",
    )
    (line,) = problems_of(path)
    assert "targets.wsus01.password: inline passwords are not allowed" in line
    assert "Hunter2!" not in line


def test_sql_auth_needs_exactly_one_password_reference(tmp_path):
    path = write(
        tmp_path,
        """
[targets.wsus01]
kind = "sqlserver"
server = "sql01"
auth = "sql"
username = "maint"
""",
    )
    (line,) = problems_of(path)
    assert "exactly one of password_env or password_file" in line


def test_a_wid_config_can_be_checked_on_any_machine(tmp_path):
    path = write(tmp_path, '[targets.wsus01]\nkind = "sqlserver"\nwid = true\n')
    settings = module.load_settings(path, {})
    assert settings.targets["wsus01"].wid is True


def test_connecting_to_wid_off_windows_is_refused_with_the_reason(tmp_path):
    from jobs.db.connection import Endpoint, open_connection

    path = write(tmp_path, '[targets.wsus01]\nkind = "sqlserver"\nwid = true\n')
    target = module.load_settings(path, {}).targets["wsus01"]
    assert target.platform_problem("win32") is None
    if sys.platform == "win32":
        pytest.skip("on Windows the pipe is really opened")
    with pytest.raises(ConfigError) as caught:
        open_connection(Endpoint("wsus01", target))
    (line,) = caught.value.problems
    assert line.startswith("targets.wsus01: wid = true works only on the WSUS host itself")
    assert "Windows Internal Database accepts local named-pipe connections only" in line


def test_environment_overrides_a_key_and_parses_its_type(tmp_path):
    path = write(tmp_path, '[targets.wsus01]\nkind = "sqlserver"\nserver = "sql01"\n')
    settings = module.load_settings(
        path,
        {
            "SUSDB_MAINT_TARGETS_WSUS01_PORT": "1444",
            "SUSDB_MAINT_LOG_FORMAT": "json",
            "SUSDB_MAINT_RUNNER_MAX_ATTEMPTS": "7",
        },
    )
    assert settings.targets["wsus01"].port == 1444
    assert settings.log.format == "json"
    assert settings.runner.max_attempts == 7


def test_an_environment_variable_that_names_no_key_is_an_error(tmp_path):
    path = write(tmp_path, "")
    (line,) = problems_of(path, {"SUSDB_MAINT_RUNER_MAX_ATTEMPTS": "7"})
    assert "$SUSDB_MAINT_RUNER_MAX_ATTEMPTS: names no configuration key" in line


def test_not_valid_toml_is_one_line_with_the_position(tmp_path):
    path = write(tmp_path, "[runner\nmax_attempts = 3\n")
    (line,) = problems_of(path)
    assert line.startswith(f"{path}: not valid TOML")


def test_an_upstream_must_name_a_target(tmp_path):
    path = write(tmp_path, '[targets.a]\nkind = "simulator"\npath = "x"\nupstream = "b"\n')
    (line,) = problems_of(path)
    assert "upstream 'b' is not a configured target" in line


def test_decline_rules_reject_a_bad_regular_expression(tmp_path):
    path = write(
        tmp_path,
        '[[stages.decline.rules]]\nfield = "title"\nmatch = "regex"\npattern = "(unclosed"\n',
    )
    (line,) = problems_of(path)
    assert "stages.decline.rules.0" in line and "not a regular expression RE2 can run" in line


def test_never_decline_accepts_kb_numbers_and_update_ids_only(tmp_path):
    path = write(
        tmp_path,
        '[stages.decline]\nnever_decline = ["KB5005565", "{3b2a9c1e-1111-2222-3333-444455556666}", "oops"]\n',
    )
    (line,) = problems_of(path)
    assert "'oops'" in line and "KB5005565" not in line


def test_the_example_config_is_valid_and_documents_every_section():
    text = render.example_config()
    import tomllib

    settings = Settings.model_validate(tomllib.loads(text))
    assert "wsus01" in settings.targets
    for section in (
        "[log]",
        "[runner]",
        "[window]",
        "[backup]",
        "[stages.decline]",
        "[stages.reindex]",
    ):
        assert section in text


def test_the_simulator_example_config_points_at_the_given_file(tmp_path):
    import tomllib

    settings = Settings.model_validate(
        tomllib.loads(render.example_config(str(tmp_path / "sim.sqlite3")))
    )
    assert settings.targets["simulated"].kind == "simulator"
    assert settings.targets["simulated"].path == str(tmp_path / "sim.sqlite3")


def test_every_schema_field_has_a_description():
    from pydantic import BaseModel

    def walk(model: type[BaseModel], prefix: str) -> list[str]:
        missing = []
        for name, field in model.model_fields.items():
            if not field.description:
                missing.append(prefix + name)
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                missing += walk(annotation, f"{prefix}{name}.")
        return missing

    assert walk(Settings, "") == []


def test_generated_files_match_the_schema():
    root = Path(__file__).resolve().parents[2]
    assert (root / "config" / "susdb-maint.example.toml").read_text(
        encoding="utf-8"
    ) == render.example_config()
    assert (root / "config" / "config.schema.json").read_text(
        encoding="utf-8"
    ) == render.json_schema()
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert render.markdown_reference() in readme, "run: python -m jobs.settings.render"


WINDOWS_ENCODINGS = [
    ("UTF-16 LE with a BOM (PowerShell 5 `>` and Out-File)", "utf-16-le", b"\xff\xfe"),
    ("UTF-16 BE with a BOM (Out-File -Encoding BigEndianUnicode)", "utf-16-be", b"\xfe\xff"),
    ("UTF-8 with a BOM (Out-File -Encoding UTF8)", "utf-8", b"\xef\xbb\xbf"),
    ("UTF-32 LE with a BOM (Out-File -Encoding UTF32)", "utf-32-le", b"\xff\xfe\x00\x00"),
    ("UTF-8 without a BOM (PowerShell 7, every Unix editor)", "utf-8", b""),
]


@pytest.mark.parametrize(
    ("case", "codec", "bom"), WINDOWS_ENCODINGS, ids=[case for case, _, _ in WINDOWS_ENCODINGS]
)
def test_a_config_saved_by_windows_tools_is_read(tmp_path, case, codec, bom):
    text = "[targets.wsus01]\r\nkind = 'sqlserver'\r\nserver = 'sql01'\r\n[backup]\r\ndirectory = 'D:\\Sauvegardes\\SUSDB-été'\r\n"
    path = tmp_path / "susdb-maint.toml"
    path.write_bytes(bom + text.encode(codec))
    settings = module.load_settings(path, {})
    assert settings.backup.directory == "D:\\Sauvegardes\\SUSDB-été"


def uncomment_every_setting(text: str) -> str:
    """Uncomment each commented line that is TOML by itself (a key or a table); leave prose."""
    import tomllib

    lines = []
    for line in text.splitlines():
        if line.startswith("# "):
            candidate = line[2:]
            try:
                tomllib.loads(candidate)
            except tomllib.TOMLDecodeError:
                pass
            else:
                if candidate.strip():
                    line = candidate
        lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("variant", ["sql server", "wid", "simulator"])
def test_every_commented_line_of_the_generated_config_is_valid_once_uncommented(tmp_path, variant):
    import tomllib

    text = render.example_config(
        str(tmp_path / "sim.sqlite3") if variant == "simulator" else None, wid=variant == "wid"
    )
    uncommented = uncomment_every_setting(text)
    assert uncommented.count("\n# ") < text.count("\n# ")  # something was uncommented
    settings = Settings.model_validate(tomllib.loads(uncommented))
    jobs = settings.schedule.jobs
    assert jobs["nightly"].profile == "nightly" and jobs["nightly"].cron == "15 1 * * *"
    before = jobs["before-patch-tuesday"]
    assert before.profile == "pre-patch-tuesday" and before.patch_tuesday is not None
    assert before.patch_tuesday.offset_days == -10


def test_the_generated_config_shows_the_two_jobs_commented_so_it_schedules_nothing_by_itself():
    import tomllib

    text = render.example_config()
    assert "# [schedule.jobs.nightly]" in text and "# [schedule.jobs.before-patch-tuesday]" in text
    assert Settings.model_validate(tomllib.loads(text)).schedule.jobs == {}


def test_the_full_profile_reindexes_after_the_cleanup_as_microsoft_orders_it():
    stages = Settings().effective_profiles()["full"].stages
    cleanup = max(stages.index(name) for name in ("decline", "obsolete_updates", "compress"))
    reindexes = [index for index, name in enumerate(stages) if name == "reindex"]
    assert reindexes[0] < stages.index("decline") and reindexes[-1] > cleanup
    assert stages.index("statistics") > reindexes[-1] and stages[-1] == "health"
    assert Settings().effective_profiles()["full"].max_duration_minutes is None


def test_relative_paths_in_a_config_are_its_neighbours_not_the_working_directorys(
    tmp_path, monkeypatch
):
    """Admin review H06: under Task Scheduler the working directory is System32."""
    from jobs.settings.load import load_settings

    folder = tmp_path / "etc"
    folder.mkdir()
    config = folder / "susdb-maint.toml"
    config.write_text(
        'state_dir = "state"\n'
        '[log]\nfile = "logs/events.jsonl"\n'
        '[monitoring]\ntextfile = "/var/lib/node_exporter/susdb.prom"\n'
        '[backup]\ndirectory = "D:\\\\WSUS\\\\Backups"\n'
        '[targets.sim]\nkind = "simulator"\npath = "sims/susdb.sqlite3"\n'
        '[targets.real]\nkind = "sqlserver"\nserver = "sql01"\nauth = "sql"\n'
        'username = "maint"\npassword_file = "secret.txt"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)  # somewhere else
    settings = load_settings(config)
    assert settings.state_dir == str(folder / "state")
    assert settings.log.file == str(folder / "logs" / "events.jsonl")
    assert settings.monitoring.textfile == "/var/lib/node_exporter/susdb.prom"
    assert settings.targets["sim"].path == str(folder / "sims" / "susdb.sqlite3")
    assert settings.targets["real"].password_file == str(folder / "secret.txt")
    assert settings.backup.directory == "D:\\WSUS\\Backups"  # the server's path, left alone


def test_a_window_that_starts_when_it_ends_is_refused_in_one_line():
    """Admin review N19: start == until read as 24 hours without a word."""
    from jobs.settings.model import Settings

    with pytest.raises(Exception) as caught:
        Settings.model_validate({"window": {"start": "01:00", "until": "01:00"}})
    assert "start and until are both 01:00" in str(caught.value)
