"""Find, read, override and validate the configuration, reporting every problem at once."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jobs.errors import ConfigError
from jobs.paths import CONFIG_FILE_NAME, platform_config_file
from jobs.settings.model import Settings

ENV_PREFIX = "SUSDB_MAINT_"
# Variables with this prefix that are not config overrides.
_NOT_OVERRIDES = {"SUSDB_MAINT_CONFIG", "SUSDB_MAINT_STATE_DIR"}
_TARGET_KINDS = {"sqlserver", "simulator"}


def locate_config_file(cli_value: str | None) -> Path | None:
    """Given --config, return the config file to read, or None to run on defaults.

    Order: --config, $SUSDB_MAINT_CONFIG, ./susdb-maint.toml, the platform config directory.
    An explicitly named file that does not exist is an error; the implicit ones are optional.
    """
    explicit = cli_value or os.environ.get("SUSDB_MAINT_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            source = "--config" if cli_value else "$SUSDB_MAINT_CONFIG"
            raise ConfigError([f"{path}: config file not found (from {source})"])
        return path
    for candidate in (Path.cwd() / CONFIG_FILE_NAME, platform_config_file()):
        if candidate.is_file():
            return candidate
    return None


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: not valid TOML: {error}"]) from error
    except OSError as error:
        raise ConfigError([f"{path}: cannot read: {error.strerror}"]) from error


def _parse_env_value(raw: str) -> Any:
    """Read an override as a TOML value (numbers, booleans, arrays), else as a plain string."""
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return raw


def _leaf_paths(
    model: type[Any], prefix: tuple[str, ...], data: Mapping[str, Any]
) -> list[tuple[str, ...]]:
    """List every overridable key path: schema fields, plus entries of named maps in ``data``."""
    paths: list[tuple[str, ...]] = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        annotation = field.annotation
        sub = getattr(annotation, "model_fields", None)
        if sub is not None:
            paths.extend(_leaf_paths(annotation, (*prefix, name), data.get(name, {}) or {}))
        elif name in ("targets", "profiles") and not prefix:
            for entry_name, entry in (data.get(name) or {}).items():
                if isinstance(entry, Mapping):
                    paths.extend((name, entry_name, key) for key in _entry_keys(name, entry))
        else:
            paths.append((*prefix, name))
    return paths


def _entry_keys(section: str, entry: Mapping[str, Any]) -> list[str]:
    from jobs.settings.model import Profile, SimulatorTarget, SqlServerTarget

    if section == "profiles":
        model: Any = Profile
    else:
        model = SimulatorTarget if entry.get("kind") == "simulator" else SqlServerTarget
    return [name for name, field in model.model_fields.items() if not field.exclude]


def apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Apply ``SUSDB_MAINT_<SECTION>_<KEY>`` variables to ``data`` in place.

    Return problems for variables that name no key, so a typo in a container's environment is as
    loud as a typo in the file.
    """
    by_name = {
        "_".join(path).upper().replace("-", "_").replace(".", "_"): path
        for path in _leaf_paths(Settings, (), data)
    }
    problems = []
    for variable, raw in sorted(environ.items()):
        if not variable.startswith(ENV_PREFIX) or variable in _NOT_OVERRIDES:
            continue
        path = by_name.get(variable[len(ENV_PREFIX) :])
        if path is None:
            problems.append(f"${variable}: names no configuration key")
            continue
        node = data
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = _parse_env_value(raw)
    return problems


def format_location(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location]
    # pydantic puts the discriminator value into the path of a tagged union member: drop it, an
    # administrator wrote targets.wsus01.port, not targets.wsus01.sqlserver.port.
    if len(parts) > 2 and parts[0] == "targets" and parts[2] in _TARGET_KINDS:
        del parts[2]
    return ".".join(parts) or "(top level)"


def _reason(error: Mapping[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (check the spelling; see `susdb-maint config init`)"
    if error["type"] == "missing":
        return "required key is missing"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def validation_problems(source: str, error: ValidationError) -> list[str]:
    return [
        f"{source}: {format_location(tuple(item['loc']))}: {_reason(item)}"
        for item in error.errors(include_url=False)
    ]


def load_settings(path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Given a config file (or None for defaults) and the environment, return valid Settings.

    Raise ConfigError listing every problem, one line each: ``FILE: key.path: reason``.
    """
    environ = os.environ if environ is None else environ
    source = str(path) if path else "(defaults)"
    data = read_toml(path) if path else {}
    problems = [f"{source}: {line}" for line in apply_env_overrides(data, environ)]
    try:
        settings = Settings.model_validate(data)
    except ValidationError as error:
        problems.extend(validation_problems(source, error))
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    return settings
