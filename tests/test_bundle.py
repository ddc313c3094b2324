"""The offline install path (README, Windows): build the bundle on a connected machine, install it
where pip may not touch the network, run the demo from there."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import build_bundle  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("uv") is None, reason="uv is a test dependency"),
]


def offline_environment() -> dict[str, str]:
    """No pip or uv settings from this machine (its find-links and extra indexes), no source
    tree on the path: only what the bundle brings."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "UV_", "SUSDB_MAINT_", "PYTHON"))
    }
    environment["PIP_CONFIG_FILE"] = os.devnull
    environment["PIP_NO_INDEX"] = "1"
    return environment


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with susdb-maint installed from a bundle, offline."""
    base = tmp_path_factory.mktemp("bundle")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    bundle = build_bundle.build_bundle(base / "bundle", platform_name="current", python=python)
    environment = base / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    scripts = environment / ("Scripts" if sys.platform == "win32" else "bin")
    result = subprocess.run(
        [
            str(scripts / "python"),
            "-m",
            "pip",
            "install",
            "--no-index",
            "--find-links",
            str(bundle),
            "susdb-maint[sqlserver,windows]",
            "--disable-pip-version-check",
        ],
        capture_output=True,
        text=True,
        env=offline_environment(),
        cwd=base,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return scripts


def run_installed(
    scripts: Path, *args: str, cwd: Path, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(scripts / "susdb-maint"), *args],
        capture_output=True,
        text=True,
        env=offline_environment(),
        cwd=cwd,
        timeout=timeout,
    )


def test_the_bundle_installs_offline_and_the_demo_runs_from_it(installed, tmp_path):
    where = subprocess.run(
        [str(installed / "python"), "-c", "import jobs; print(jobs.__file__)"],
        capture_output=True,
        text=True,
        env=offline_environment(),
        cwd=tmp_path,
        check=True,
    ).stdout.strip()
    assert str(installed.parent) in where and str(ROOT) not in where  # the copy, not the tree
    result = run_installed(
        installed, "--state-dir", str(tmp_path / "state"), "demo", "--updates", "400", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "SUSDB before and after" in result.stdout
    assert "Superseded, not declined" in result.stdout


def test_a_wid_config_written_and_checked_by_the_installed_tool(installed, tmp_path):
    config = tmp_path / "ProgramData" / "susdb-maint" / "susdb-maint.toml"
    written = run_installed(
        installed, "config", "init", "--wid", "--output", str(config), cwd=tmp_path
    )
    assert written.returncode == 0, written.stderr
    checked = run_installed(installed, "config", "check", str(config), cwd=tmp_path)
    assert checked.returncode == 0 and checked.stdout.strip() == f"{config}: OK", checked.stderr


def test_the_windows_bundle_carries_the_windows_only_wheels(tmp_path):
    """pip alone, on a Linux build machine, leaves out pywin32 and tzdata (it evaluates the
    markers for itself): the bundle has them, each built for Windows and the chosen Python."""
    bundle = build_bundle.build_bundle(tmp_path / "win", platform_name="windows", python="3.12")
    wheels = {path.name for path in bundle.glob("*.whl")}

    def one(prefix: str) -> str:
        (name,) = [wheel for wheel in wheels if wheel.lower().startswith(prefix)]
        return name

    for compiled in ("pywin32-", "pyodbc-", "pydantic_core-"):
        assert one(compiled).endswith("-cp312-cp312-win_amd64.whl")
    assert one("tzdata-") and one("susdb_maint-0.1.0-")
    assert not any("linux" in wheel or "macosx" in wheel for wheel in wheels)
    sums = (bundle / "SHA256SUMS").read_text().splitlines()
    assert {line.split("  ")[1] for line in sums} >= wheels
    notes = (bundle / "INSTALL.txt").read_text()
    assert '--no-index --find-links . "susdb-maint[sqlserver,windows]"' in notes


def readme_windows_commands() -> list[list[str]]:
    """The susdb-maint command lines of README's Windows section, as PowerShell would split them."""
    import re
    import shlex

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Windows and Windows Internal Database (WID)")[1].split("\n## ")[0]
    commands = []
    for block in re.findall(r"```powershell\n(.*?)```", section, re.S):
        for line in block.splitlines():
            if "susdb-maint.exe" in line and line.startswith("& "):
                # & "C:\...\susdb-maint.exe" ARGS: keep the arguments, backslashes and all.
                arguments = line.split("susdb-maint.exe", 1)[1].lstrip('"').strip()
                commands.append(shlex.split(arguments, posix=False))
    return commands


def test_the_readme_windows_section_runs_literally_where_linux_can(installed, tmp_path):
    """config init --wid and config check, with README's own Windows paths (on Linux a file
    named C:\\ProgramData\\susdb-maint\\susdb-maint.toml in the current folder)."""
    commands = readme_windows_commands()
    assert [command[:2] for command in commands] == [["config", "init"], ["config", "check"]]
    for command in commands:
        result = run_installed(installed, *command, cwd=tmp_path)
        assert result.returncode == 0, (command, result.stderr)
    assert result.stdout.strip() == r"C:\ProgramData\susdb-maint\susdb-maint.toml: OK"
