"""``susdb-maint simulator serve``: what an administrator trying the served simulator sees."""

from __future__ import annotations

import re
import signal
import socket
import subprocess

import pytest

from jobs.exit_codes import ExitCode
from jobs.simulator.tds.requests import parse_prelogin
from jobs.simulator.tds.tokens import ENCRYPT_NOT_SUP, PRELOGIN_ENCRYPTION
from jobs.simulator.tds.wire import PacketType, packets, read_message
from tests.helpers import cli_command, cli_env, run_cli


@pytest.mark.slow
def test_serve_prints_its_port_a_connection_string_and_a_target_then_answers_on_loopback(
    small_sim,
):
    server = subprocess.Popen(
        cli_command("simulator", "serve", "--sim", str(small_sim), "--port", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(SUSDB_PASSWORD="demo-Passw0rd"),
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        host, port = re.fullmatch(r"listening on (127\.0\.0\.1):(\d+)\n", first).groups()
        lines = [server.stdout.readline() for _ in range(16)]
        text = "".join(lines)
        assert (
            f"SERVER=127.0.0.1,{port};DATABASE=SUSDB;UID=susdb_maint;PWD=<$SUSDB_PASSWORD>" in text
        )
        assert "demo-Passw0rd" not in text  # the password itself is never printed
        assert f"port = {port}" in text and 'password_env = "SUSDB_PASSWORD"' in text
        assert "not a SQL Server" in text
        with socket.create_connection((host, int(port)), timeout=10) as client:
            client.sendall(packets(PacketType.PRELOGIN, b"\xff", 4096, 0, last=True))
            answer = read_message(client)
        assert answer is not None
        assert parse_prelogin(answer.payload)[PRELOGIN_ENCRYPTION] == bytes([ENCRYPT_NOT_SUP])
    finally:
        server.send_signal(signal.SIGTERM)
        returncode = server.wait(timeout=30)
    assert returncode == 0
    assert "Traceback" not in server.stderr.read()


def test_serve_refuses_what_it_cannot_serve_before_it_listens(tmp_path, monkeypatch):
    """In process, so the quick tier runs the command's own checks too; the tests around this one
    run it as an administrator does."""
    from jobs.errors import UsageError
    from jobs.simulator.tds.command import serve

    options = dict(
        sim=str(tmp_path / "none.sqlite3"), port=0, host="127.0.0.1", user="susdb_maint",
        password_env="SUSDB_TEST_SERVE_PASSWORD", database="SUSDB", time_scale=1.0,
        latency_ms=0.0, preset=None, fault_rate=0.0, fault_kinds=None, fault_statements=None,
        fault_seed=0,
    )  # fmt: skip
    monkeypatch.delenv("SUSDB_TEST_SERVE_PASSWORD", raising=False)
    with pytest.raises(UsageError, match="SUSDB_TEST_SERVE_PASSWORD is not set or empty"):
        serve(**options)
    monkeypatch.setenv("SUSDB_TEST_SERVE_PASSWORD", "x")
    with pytest.raises(
        UsageError, match=r"not found: .*none\.sqlite3 \(create one with --preset\)"
    ):
        serve(**options)
    with pytest.raises(UsageError, match="70000 is not a TCP port"):
        serve(**{**options, "port": 70000})
    with pytest.raises(UsageError, match="cannot be negative"):
        serve(**{**options, "latency_ms": -1.0})


@pytest.mark.slow
def test_serve_without_the_password_variable_is_one_line_and_exit_2(small_sim):
    result = run_cli("simulator", "serve", "--sim", str(small_sim), env={"SUSDB_PASSWORD": ""})
    assert result.returncode == ExitCode.BAD_USAGE
    assert result.stderr.strip() == (
        "susdb-maint: --password-env: environment variable SUSDB_PASSWORD is not set or empty; "
        "set it to the password clients must log in with"
    )


@pytest.mark.slow
def test_serve_a_missing_file_is_one_line_and_exit_2(tmp_path):
    result = run_cli(
        "simulator", "serve", "--sim", str(tmp_path / "none.sqlite3"), env={"SUSDB_PASSWORD": "x"}
    )
    assert result.returncode == ExitCode.BAD_USAGE
    assert result.stderr.strip().endswith("(create one with --preset)")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_serve_an_unknown_fault_kind_is_refused_by_the_parser(small_sim):
    result = run_cli(
        "simulator", "serve", "--sim", str(small_sim), "--fault-kind", "gremlins",
        env={"SUSDB_PASSWORD": "x"},
    )  # fmt: skip
    assert result.returncode == ExitCode.BAD_USAGE
    assert "gremlins" in result.stderr and "Traceback" not in result.stderr
