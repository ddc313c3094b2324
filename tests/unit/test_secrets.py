"""A password given through password_env never appears in any output."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from jobs.db import connection as module
from jobs.db.classify import classify
from jobs.redaction import redact_text, register_secret
from jobs.settings.model import SqlServerTarget
from tests.helpers import cli_command, cli_env

ROOT = Path(__file__).resolve().parents[2]
SECRET = "S3cr3t-Pa55word;x=1"


def sql_target(**extra: object) -> SqlServerTarget:
    return SqlServerTarget.model_validate(
        {
            "kind": "sqlserver",
            "server": "sql01",
            "auth": "sql",
            "username": "maint",
            "password_env": "SUSDB_TEST_SECRET",
            **extra,
        }
    )


def test_the_connection_string_carries_the_password_but_redaction_removes_it():
    text = module.connection_string(sql_target(), "ODBC Driver 18 for SQL Server", SECRET)
    assert "PWD={S3cr3t-Pa55word;x=1};" in text
    redacted = redact_text(text)
    assert SECRET not in redacted and "PWD=***" in redacted


def test_a_registered_secret_is_masked_even_inside_a_driver_message():
    register_secret(SECRET)
    error = Exception(
        "28000",
        f"[28000] Login failed for user 'maint' with password {SECRET} (18456) (SQLDriverConnect)",
    )
    assert SECRET not in str(classify(error))


def test_the_endpoint_repr_names_no_secret():
    endpoint = module.Endpoint("wsus01", sql_target())
    assert "SUSDB_TEST_SECRET" not in repr(endpoint) and "password" not in repr(endpoint).lower()


def test_resolve_password_reads_the_environment_and_registers_the_value():
    assert module.resolve_password(sql_target(), {"SUSDB_TEST_SECRET": SECRET}) == SECRET
    assert SECRET not in redact_text(f"oops {SECRET}")


@pytest.mark.slow
def test_no_cli_output_shows_the_password(tmp_path, small_sim):
    config = tmp_path / "c.toml"
    config.write_text(
        f'[targets.sql]\nkind = "sqlserver"\nserver = "127.0.0.1"\nport = 9\nauth = "sql"\nusername = "maint"\n'
        f'password_env = "SUSDB_TEST_SECRET"\nlogin_timeout = 1\n'
        f'[targets.sim]\nkind = "simulator"\npath = "{small_sim}"\n[backup]\ngate = "off"\n'
        # One retry of the unreachable server shows its events and the final error: the default
        # five attempts each wait out the login timeout and repeat the same lines.
        "[runner]\nmax_attempts = 2\n"
    )
    env = cli_env(SUSDB_TEST_SECRET=SECRET)
    outputs = []
    for args in (
        ["config", "show"],
        ["--log-format", "json", "run", "--target", "sim", "--stage", "health"],
        [
            "--log-format",
            "json",
            "--log-level",
            "debug",
            "run",
            "--target",
            "sql",
            "--stage",
            "health",
        ],
    ):
        result = subprocess.run(
            cli_command(
                "--config",
                str(config),
                "--state-dir",
                str(tmp_path / "state"),
                *args,
            ),
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        outputs.append(result.stdout + result.stderr)
    joined = "\n".join(outputs)
    assert "password_env" in outputs[0]  # the reference is shown, the value is not
    assert SECRET not in joined and "S3cr3t" not in joined
