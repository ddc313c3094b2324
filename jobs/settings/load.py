"""Find, read, override and validate the configuration, reporting every problem at once."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jobs.errors import ConfigError
from jobs.paths import CONFIG_FILE_NAME, platform_config_file
from jobs.settings.model import Settings, SimulatorTarget

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
        check_config_path(path, "--config" if cli_value else "$SUSDB_MAINT_CONFIG")
        return path
    for candidate in (Path.cwd() / CONFIG_FILE_NAME, platform_config_file()):
        if candidate.is_file():
            return candidate
    return None


def check_config_path(path: Path, source: str | None = None) -> None:
    """Raise ConfigError unless ``path`` is a file (a directory is named as one)."""
    origin = f" (from {source})" if source else ""
    if path.is_dir():
        raise ConfigError(
            [
                f"{path}: is a directory; give the config file itself{origin}, for example "
                f"{path / CONFIG_FILE_NAME}"
            ]
        )
    if not path.is_file():
        raise ConfigError([f"{path}: config file not found{origin}"])


# Byte-order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one). PowerShell 5
# writes UTF-16 LE with a BOM for `>` and `Out-File`, UTF-8 with a BOM for `-Encoding UTF8`.
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32", "UTF-32 LE"),
    (b"\x00\x00\xfe\xff", "utf-32", "UTF-32 BE"),
    (b"\xef\xbb\xbf", "utf-8-sig", "UTF-8 with a byte-order mark"),
    (b"\xff\xfe", "utf-16", "UTF-16 LE"),
    (b"\xfe\xff", "utf-16", "UTF-16 BE"),
)
_RESAVE = (
    "save it as UTF-8: in PowerShell, (Get-Content FILE) | Set-Content -Encoding UTF8 FILE; "
    "in Notepad, Save As with Encoding UTF-8"
)


def decode_config(path: Path, raw: bytes) -> str:
    """Return the text of a config file written by any usual Windows or Unix tool.

    Read UTF-8 (with or without a byte-order mark) and UTF-16/32 with one. Raise ConfigError with
    one line naming the encoding found and how to save the file otherwise.
    """
    for bom, codec, name in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(codec)
            except UnicodeDecodeError as error:
                raise ConfigError(
                    [
                        f"{path}: starts with a {name} byte-order mark but is not {name} "
                        f"({error.reason} at byte {error.start}); {_RESAVE.replace('FILE', str(path))}"
                    ]
                ) from None
    resave = _RESAVE.replace("FILE", str(path))
    if b"\x00" in raw:  # never in TOML text: UTF-16 or UTF-32 that lost its byte-order mark
        raise ConfigError([f"{path}: looks like UTF-16 without a byte-order mark; {resave}"])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            [
                f"{path}: not UTF-8 (byte 0x{raw[error.start]:02X} on line {line}): probably the "
                f"Windows ANSI code page (Out-File -Encoding Default); {resave}"
            ]
        ) from None


def _toml_hint(text: str, error: tomllib.TOMLDecodeError) -> str:
    """A Windows path in double quotes is the classic TOML mistake: "C:\\Users" is an escape."""
    match = re.search(r"at line (\d+)", str(error))
    if not match:
        return ""
    lines = text.splitlines()
    number = int(match.group(1))
    line = lines[number - 1] if 0 < number <= len(lines) else ""
    if "\\" in line and '"' in line:
        return (
            "; a backslash inside double quotes starts an escape: write Windows paths in single "
            "quotes ('C:\\ProgramData\\susdb-maint') or double each backslash"
        )
    return ""


def read_toml(path: Path) -> dict[str, Any]:
    if path.is_dir():
        check_config_path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError([f"{path}: cannot read: {error.strerror}"]) from error
    text = decode_config(path, raw)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: not valid TOML: {error}{_toml_hint(text, error)}"]) from None


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
        # A section given a scalar (`targets = "wsus01"`) has no keys to override; validation
        # reports it.
        section = data.get(name)
        section = section if isinstance(section, Mapping) else {}
        sub = getattr(annotation, "model_fields", None)
        if sub is not None:
            paths.extend(_leaf_paths(annotation, (*prefix, name), section))
        elif name in ("targets", "profiles") and not prefix:
            for entry_name, entry in section.items():
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


def env_variable(path: tuple[str, ...]) -> str:
    """The environment variable that overrides a key path."""
    return ENV_PREFIX + "_".join(path).upper().replace("-", "_").replace(".", "_")


def apply_env_overrides(
    data: dict[str, Any], environ: Mapping[str, str], applied: dict[str, str] | None = None
) -> list[str]:
    """Apply ``SUSDB_MAINT_<SECTION>_<KEY>`` variables to ``data`` in place.

    Return problems for variables that name no key, or two (targets `wsus-01` and `wsus_01` share
    one variable), so a typo in a container's environment is as loud as a typo in the file.
    ``applied`` receives each overridden key path (dotted) with its variable.
    """
    by_name: dict[str, list[tuple[str, ...]]] = {}
    for path in _leaf_paths(Settings, (), data):
        by_name.setdefault(env_variable(path), []).append(path)
    problems = []
    for variable, raw in sorted(environ.items()):
        if not variable.startswith(ENV_PREFIX) or variable in _NOT_OVERRIDES:
            continue
        paths = by_name.get(variable)
        if not paths:
            problems.append(f"${variable}: names no configuration key")
            continue
        if len(paths) > 1:
            keys = " and ".join(".".join(path) for path in paths)
            problems.append(
                f"${variable}: matches {keys}; rename one of them (names differing only by "
                "'-', '.', '_' or case share a variable) or set the key in the file"
            )
            continue
        (path,) = paths
        node = data
        for key in path[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break  # the file gives this section a scalar: validation names it
        else:
            node[path[-1]] = _parse_env_value(raw)
        if applied is not None:
            applied[".".join(path)] = variable
    return problems


def format_location(location: tuple[Any, ...]) -> str:
    # "[key]" marks a problem with a table's key rather than its value: the key is already named.
    parts = [str(part) for part in location if part != "[key]"]
    # pydantic puts the discriminator value into the path of a tagged union member: drop it, an
    # administrator wrote targets.wsus01.port, not targets.wsus01.sqlserver.port.
    if len(parts) > 2 and parts[0] == "targets" and parts[2] in _TARGET_KINDS:
        del parts[2]
    return ".".join(parts) or "(top level)"


def _toml_kind(value: Any) -> str:
    """What a value is, in TOML's words."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


_EXPECTED = {
    "dict_type": "a table (a [section] or { key = value })",
    "model_type": "a table (a [section] or { key = value })",
    "model_attributes_type": "a table (a [section] or { key = value })",
    "list_type": 'a list, for example ["a", "b"]',
}


def _reason(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see `susdb-maint config init`)"
    if kind == "missing":
        return "required key is missing"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_toml_kind(error.get('input'))}"
    if kind == "union_tag_not_found":  # a target without `kind`
        return _untagged_target(error["loc"], error.get("input"))
    if kind == "finite_number":
        return f"expected a finite number, got {error.get('input')!r}"
    bounds = {"less_than_equal": ("at most", "le"), "greater_than": ("more than", "gt")}
    bounds["greater_than_equal"] = ("at least", "ge")
    if kind in bounds:
        words, key = bounds[kind]
        limit = error["ctx"][key]
        limit = int(limit) if isinstance(limit, float) and limit.is_integer() else limit
        return f"expected {words} {limit}, got {error.get('input')!r}"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _untagged_target(location: tuple[Any, ...], value: Any) -> str:
    """A target table without ``kind``. TOML reads ``[targets.wsus01.contoso.com]`` as target
    ``wsus01`` holding a table ``contoso``: all tables, no keys of a target (admin review N04)."""
    kinds = " or ".join(f'"{name}"' for name in sorted(_TARGET_KINDS))
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        dotted = ".".join([str(location[-1]), *_first_path(value)])
        return (
            f'a dotted target name must be quoted: [targets."{dotted}"] (TOML read '
            f"[targets.{dotted}] as nested tables)"
        )
    return f"required key is missing: kind ({kinds})"


def _first_path(table: Mapping[str, Any]) -> list[str]:
    """The keys down the first chain of nested tables: contoso, com for {contoso: {com: {...}}}."""
    path: list[str] = []
    while table and all(isinstance(v, dict) for v in table.values()) and len(table) == 1:
        key = next(iter(table))
        path.append(key)
        table = table[key]
    return path


def validation_problems(
    source: str, error: ValidationError, overridden: Mapping[str, str] | None = None
) -> list[str]:
    """One line per problem: ``SOURCE: key.path: reason``, naming the environment variable when
    the value came from one. A check across sections may report several, one per line."""
    problems = []
    for item in error.errors(include_url=False):
        location = format_location(tuple(item["loc"]))
        origin = (overridden or {}).get(location)
        suffix = f" (from ${origin})" if origin else ""
        for reason in _reason(item).split("\n"):
            where = "" if location == "(top level)" else f"{location}: "
            problems.append(f"{source}: {where}{reason}{suffix}")
    return problems


def load_settings(path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Given a config file (or None for defaults) and the environment, return valid Settings.

    Raise ConfigError listing every problem, one line each: ``FILE: key.path: reason``.
    """
    environ = os.environ if environ is None else environ
    source = str(path) if path else "(defaults)"
    data = read_toml(path) if path else {}
    overridden: dict[str, str] = {}
    problems = [f"{source}: {line}" for line in apply_env_overrides(data, environ, overridden)]
    try:
        settings = Settings.model_validate(data)
    except ValidationError as error:
        problems.extend(validation_problems(source, error, overridden))
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    if path is not None:
        resolve_relative_paths(settings, Path(path).expanduser().resolve().parent)
    return settings


def resolve_relative_paths(settings: Settings, base: Path) -> None:
    """Files on this host named by a relative path are the config file's neighbours, not the
    current directory's: under Task Scheduler that is System32, under systemd ``/`` (admin
    review H06). ``~`` is the user's home. A path the server reads (``backup.directory``) is
    left as written: it is the server's, not this host's."""

    def resolved(value: str | None) -> str | None:
        if not value:
            return value
        candidate = Path(value).expanduser()
        return str(candidate if candidate.is_absolute() else base / candidate)

    settings.state_dir = resolved(settings.state_dir)
    settings.log.file = resolved(settings.log.file)
    settings.monitoring.textfile = resolved(settings.monitoring.textfile)
    settings.report.email.ca_file = resolved(settings.report.email.ca_file)
    targets = list(settings.targets.values())
    if settings.configmgr is not None:
        targets.append(settings.configmgr.site)
    for target in targets:
        if isinstance(target, SimulatorTarget):
            target.path = resolved(target.path) or target.path
        else:
            target.password_file = resolved(target.password_file)
            target.ca_file = resolved(target.ca_file)
