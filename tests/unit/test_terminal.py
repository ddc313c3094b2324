"""``log.format = "auto"``: console lines and progress bars for a person at a terminal, JSON lines
for everything else. Checked through a real pseudo-terminal, as an administrator runs the demo."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
from pathlib import Path

import pytest

from tests.helpers import cli_command, cli_env

pytestmark = pytest.mark.slow


def demo_command(directory: Path) -> list[str]:
    return cli_command(
        "demo", "--state-dir", str(directory / "state"), "--sim", str(directory / "s.sqlite3"),
        "--updates", "300",
    )  # fmt: skip


def run_on_a_terminal(command: list[str], directory: Path) -> str:
    """Run ``command`` with stdout and stderr on a pseudo-terminal; return what the screen got."""
    controller, terminal = pty.openpty()
    environment = cli_env(TERM="xterm-256color", COLUMNS="120", LINES="40")
    environment.pop("NO_COLOR", None)
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal,
        env=environment, cwd=directory,
    )  # fmt: skip
    os.close(terminal)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], 120)
            if not ready:
                raise AssertionError("no output from the command for 120 s")
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(controller)
        process.wait(timeout=120)
    assert process.returncode == 0, b"".join(chunks).decode(errors="replace")[-2000:]
    return b"".join(chunks).decode(errors="replace")


def test_the_demo_on_a_terminal_shows_console_lines_and_progress_bars(tmp_path):
    screen = run_on_a_terminal(demo_command(tmp_path), tmp_path)
    lines = [line.strip() for line in screen.replace("\r", "\n").splitlines() if line.strip()]
    assert not [line for line in lines if line.startswith('{"')], "JSON events on a terminal"
    assert any("[info" in line and "run.start" in line for line in lines), screen[:2000]
    # rich draws a bar with heavy horizontal lines beside the stage name, then redraws it.
    assert any("━" in line and "decline" in line for line in lines), screen[-3000:]


def test_the_demo_piped_writes_json_lines(tmp_path):
    result = subprocess.run(
        demo_command(tmp_path), capture_output=True, text=True, env=cli_env(), cwd=tmp_path,
        timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    events = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert {"run.start", "run.finish"} <= {event["event"] for event in events}
    assert "━" not in result.stderr
