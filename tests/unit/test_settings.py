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


@pytest.mark.skipif(sys.platform == "win32", reason="WID is refused only off Windows")
def test_wid_is_refused_off_windows_with_the_reason(tmp_path):
    path = write(tmp_path, '[targets.wsus01]\nkind = "sqlserver"\nwid = true\n')
    (line,) = problems_of(path)
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
    assert "stages.decline.rules.0" in line and "not a valid regular expression" in line


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
