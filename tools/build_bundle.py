"""Build an offline install bundle of susdb-maint: its wheel and every dependency's wheel for one
target platform, checked to be complete, with the commands that install it.

Run it from a clone, on a machine that reaches PyPI; copy the folder (or the zip) to the WSUS
host and install there with no network:

    python tools/build_bundle.py                      # Windows x64, Python 3.12 (the default)
    python tools/build_bundle.py --python 3.13        # for a host with Python 3.13
    python tools/build_bundle.py --platform current   # this machine's platform and Python

    py -3.12 -m pip install --no-index --find-links BUNDLE "susdb-maint[sqlserver,windows]"

Why a folder of wheels rather than a single-file application: pyodbc, pydantic-core and pywin32
are compiled extensions, which a zipapp (shiv, pex) must unpack into the running user's profile
before it can load them; for SYSTEM or a gMSA that profile is not where an administrator looks or
cleans up. Wheels install with the pip every Python has, into a folder the administrator chooses,
and each file can be checked against SHA256SUMS after the copy.

Why uv resolves the dependencies: ``pip download --platform win_amd64`` evaluates environment
markers for the machine it runs on, so a Linux build machine silently leaves out every
Windows-only dependency (pywin32, tzdata for tzlocal). ``uv pip compile --python-platform``
evaluates them for the target; pip then downloads exactly the pinned wheels, and a second,
offline resolution against the bundle alone proves nothing is missing.

This script is a release tool, not part of the package: it needs only the standard library, pip
and uv (``pip install uv``), and never imports susdb-maint.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import platform
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ("sqlserver", "windows")

# Target platforms: uv's name for the resolution, pip's wheel platform tag for the download.
PLATFORMS = {
    "windows": ("x86_64-pc-windows-msvc", "win_amd64"),
    "windows-arm64": ("aarch64-pc-windows-msvc", "win_arm64"),
}


class BundleError(Exception):
    """A step failed: the message says which and why."""


def project_version(root: Path) -> str:
    with (root / "pyproject.toml").open("rb") as stream:
        return str(tomllib.load(stream)["project"]["version"])


def _run(command: list[str], what: str, *, stdin: str | None = None) -> str:
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-15:]
        raise BundleError(f"{what} failed ({' '.join(command[:4])} ...):\n" + "\n".join(detail))
    return result.stdout


def _uv() -> list[str]:
    if importlib.util.find_spec("uv") is None:
        raise BundleError(
            "uv is needed to resolve dependencies for another platform (pip evaluates environment "
            "markers for this machine): pip install uv"
        )
    return [sys.executable, "-m", "uv"]


def _target_options(platform_name: str, python: str) -> tuple[list[str], list[str]]:
    """uv's and pip's options naming the target interpreter and platform."""
    uv_options = ["--python-version", python]
    if platform_name == "current":
        return uv_options, []
    uv_platform, wheel_platform = PLATFORMS[platform_name]
    abi = "cp" + python.replace(".", "")
    pip_options = ["--platform", wheel_platform, "--python-version", python]
    pip_options += ["--implementation", "cp", "--abi", abi]
    return [*uv_options, "--python-platform", uv_platform], pip_options


def bundle_name(version: str, platform_name: str, python: str) -> str:
    if platform_name == "current":
        tag = f"{sys.platform}-{platform.machine().lower()}"
    else:
        tag = PLATFORMS[platform_name][1]
    return f"susdb-maint-{version}-{tag}-py{python}"


def build_bundle(
    output: Path,
    *,
    platform_name: str = "windows",
    python: str = "3.12",
    extras: tuple[str, ...] = EXTRAS,
    root: Path = ROOT,
    archive: bool = False,
) -> Path:
    """Build the bundle folder ``output`` (replaced if it exists); return it.

    Raise BundleError if a step fails or the bundle does not resolve on its own, offline.
    """
    uv = _uv()
    uv_target, pip_target = _target_options(platform_name, python)
    if output.exists():
        shutil.rmtree(output)
    output.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as scratch:
        _run([*uv, "build", "--wheel", "--out-dir", scratch, str(root)], "building the wheel")
        (wheel,) = Path(scratch).glob("susdb_maint-*.whl")
        shutil.copy2(wheel, output / wheel.name)
    requirements = output / "requirements.txt"
    extra_options = [option for extra in extras for option in ("--extra", extra)]
    _run(
        [
            *uv,
            "pip",
            "compile",
            str(root / "pyproject.toml"),
            *extra_options,
            *uv_target,
            "--no-header",
            "--no-annotate",
            "--quiet",
            "--output-file",
            str(requirements),
        ],
        "resolving the dependencies for the target",
    )
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            *pip_target,
            "--dest",
            str(output),
            "--requirement",
            str(requirements),
            "--disable-pip-version-check",
            "--quiet",
        ],
        "downloading the wheels",
    )
    # The proof: the bundle alone, offline, satisfies the install command on the target.
    requirement = f"susdb-maint[{','.join(extras)}]" if extras else "susdb-maint"
    _run(
        [
            *uv,
            "pip",
            "compile",
            "-",
            "--offline",
            "--no-index",
            "--find-links",
            str(output),
            *uv_target,
            "--no-header",
            "--no-annotate",
            "--quiet",
        ],
        "checking that the bundle installs offline",
        stdin=requirement + "\n",
    )
    _write_install_notes(output, platform_name, python, requirement)
    _write_checksums(output)
    if archive:
        shutil.make_archive(str(output), "zip", output.parent, output.name)
    return output


def _write_checksums(output: Path) -> None:
    lines = []
    for path in sorted(output.iterdir()):
        if path.name != "SHA256SUMS":
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            lines.append(f"{digest}  {path.name}")
    (output / "SHA256SUMS").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_install_notes(output: Path, platform_name: str, python: str, requirement: str) -> None:
    if platform_name.startswith("windows"):
        text = f"""\
susdb-maint offline bundle: {output.name}
Target: Windows, Python {python} (64-bit), installed for all users.

In an elevated PowerShell, in this folder (docs/windows.md explains each step):

  # Check the copy: every line must say True
  Get-Content SHA256SUMS | ForEach-Object {{ $h, $f = $_ -split '  '; (Get-FileHash $f).Hash -eq $h.ToUpper() }}

  py -{python} -m venv "C:\\Program Files\\susdb-maint"
  & "C:\\Program Files\\susdb-maint\\Scripts\\python.exe" -m pip install --no-index --find-links . "{requirement}"
  & "C:\\Program Files\\susdb-maint\\Scripts\\susdb-maint.exe" --version
"""
    else:
        text = f"""\
susdb-maint offline bundle: {output.name}
Target: this build machine's platform, Python {python}.

  sha256sum -c SHA256SUMS
  python{python} -m venv /opt/susdb-maint/.venv
  /opt/susdb-maint/.venv/bin/pip install --no-index --find-links . "{requirement}"
  /opt/susdb-maint/.venv/bin/susdb-maint --version
"""
    (output / "INSTALL.txt").write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--platform",
        choices=[*PLATFORMS, "current"],
        default="windows",
        help="target platform (default: windows, x64)",
    )
    parser.add_argument(
        "--python",
        metavar="X.Y",
        help="target Python version (default: 3.12 for Windows, this Python for current)",
    )
    parser.add_argument(
        "--output", metavar="DIR", help="bundle folder (default: dist/NAME beside pyproject.toml)"
    )
    parser.add_argument(
        "--no-zip", action="store_true", help="do not also write NAME.zip beside the folder"
    )
    args = parser.parse_args(argv)
    this_python = f"{sys.version_info.major}.{sys.version_info.minor}"
    python = args.python or ("3.12" if args.platform != "current" else this_python)
    name = bundle_name(project_version(ROOT), args.platform, python)
    output = Path(args.output) if args.output else ROOT / "dist" / name
    try:
        bundle = build_bundle(
            output, platform_name=args.platform, python=python, archive=not args.no_zip
        )
    except BundleError as error:
        sys.stderr.write(f"build_bundle: {error}\n")
        return 1
    wheels = sorted(path.name for path in bundle.glob("*.whl"))
    print(f"{bundle}: {len(wheels)} wheels")
    for wheel in wheels:
        print(f"  {wheel}")
    print(f"Install: see {bundle / 'INSTALL.txt'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
