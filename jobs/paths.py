"""Where things live on disk: the config file search order and the state directory."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP = "susdb-maint"
CONFIG_FILE_NAME = "susdb-maint.toml"


def platform_config_file() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / APP / CONFIG_FILE_NAME
    return Path(platformdirs.user_config_dir(APP)) / CONFIG_FILE_NAME


def platform_state_dir() -> Path:
    # %ProgramData% on Windows: the scheduled task often runs as SYSTEM or a gMSA, whose profile
    # directory is not where an administrator looks.
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / APP
    return Path(platformdirs.user_state_dir(APP))


def resolve_state_dir(cli_value: str | None, config_value: str | None) -> Path:
    """Given the --state-dir option and the config's state_dir, return the state directory.

    Order: --state-dir, $SUSDB_MAINT_STATE_DIR, config ``state_dir``, the platform default.
    """
    for candidate in (cli_value, os.environ.get("SUSDB_MAINT_STATE_DIR"), config_value):
        if candidate:
            return Path(candidate).expanduser()
    return platform_state_dir()
