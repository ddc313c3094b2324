"""Render the schema as a commented example config, a Markdown reference and a JSON Schema.

The schema in ``model`` is the single source: the shipped ``config/`` files and README's
configuration reference are generated from it (a test keeps them in step).
"""

from __future__ import annotations

import json
import types
import typing
from datetime import time
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from jobs.settings.model import ScheduleSettings, Settings, SimulatorTarget, SqlServerTarget

HEADER = """\
# susdb-maint configuration, generated from the schema (susdb-maint config init).
# Every key is shown with its description; commented keys show their default.
# Uncomment a line to set it: every commented key, table and job is valid as it stands.
# Check a file with: susdb-maint config check FILE
# Any key can be overridden by an environment variable SUSDB_MAINT_<SECTION>_<KEY>,
# for example SUSDB_MAINT_LOG_FORMAT=json or SUSDB_MAINT_TARGETS_WSUS01_PORT=1433.
# Windows paths go in single quotes, where a backslash is just a backslash: 'D:\\Backup'.
"""

# The two jobs the tool exists for (README, "Scheduling and monitoring"): every night, and a
# deeper pass ten days before Patch Tuesday, so the catalog is clean before the month's updates.
EXAMPLE_JOBS = """\
# The two jobs this tool exists for: the nightly run, and a pass ten days before Patch Tuesday
# (the second Tuesday of the month; cron cannot say "ten days before" it).
# [schedule.jobs.nightly]
# profile = "nightly"
# cron = "15 1 * * *"

# [schedule.jobs.before-patch-tuesday]
# profile = "pre-patch-tuesday"
# patch_tuesday = { offset_days = -10, at = "02:30" }
"""

# Keys whose example names another part of the file: shown as prose, since uncommented they would
# point at something that does not exist.
REFERENCE_KEYS = frozenset({"upstream"})


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, time):
        return json.dumps(value.strftime("%H:%M"))
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def _default(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        return field.default_factory()  # type: ignore[call-arg]
    return None if field.default is PydanticUndefined else field.default


def _submodel(field: FieldInfo) -> type[BaseModel] | None:
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def type_name(annotation: Any) -> str:
    from jobs.settings.model import StageName
    from jobs.stages import registry

    if annotation == StageName:  # a name from the stages' own declarations
        return " | ".join(json.dumps(name) for name in registry.names())
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(json.dumps(arg) for arg in args)
    if origin in (typing.Union, types.UnionType):
        names = [type_name(arg) for arg in args if arg is not type(None)]
        suffix = " (optional)" if type(None) in args else ""
        return " | ".join(names) + suffix
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is list:
        return f"list of {type_name(args[0])}"
    if origin is dict:
        return f"table of {type_name(args[1])}"
    if annotation is time:
        return "HH:MM"
    return getattr(annotation, "__name__", str(annotation))


def _comment(text: str) -> list[str]:
    return [f"# {line}" for line in text.splitlines()]


def _section_lines(
    model: type[BaseModel],
    heading: str | None,
    values: dict[str, Any] | None,
    examples: dict[str, Any] | None = None,
    notes: dict[str, str] | None = None,
) -> list[str]:
    """The lines of one table: set ``values``, every other key commented with its default (or
    ``examples``, or the schema's example) or, for keys in ``notes``, a note instead; then its
    sub-tables."""
    lines: list[str] = []
    nested: list[tuple[str, type[BaseModel], FieldInfo]] = []
    if heading:
        lines.append(f"[{heading}]")
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        sub = _submodel(field)
        if sub is not None:
            nested.append((name, sub, field))
            continue
        if name in ("targets", "profiles") and model is Settings:
            continue
        lines.extend(_comment(field.description or ""))
        if model is ScheduleSettings and name == "jobs":
            lines.append(EXAMPLE_JOBS)
            continue
        default = _default(field)
        shown = (examples or {}).get(name, default)
        shown = shown if shown is not None else (field.examples or [None])[0]
        if values is not None and name in values:
            lines.append(f"{name} = {toml_value(values[name])}")
        elif notes and name in notes:
            lines.append(f"# ({notes[name]})")
        elif shown is None:
            lines.append(f"# ({name} is not set by default)")
        elif name in REFERENCE_KEYS:
            lines.append(f"# (not set by default; for example: {name} = {toml_value(shown)})")
        else:
            lines.append(f"# {name} = {toml_value(shown)}")
        lines.append("")
    for name, sub, field in nested:
        lines.extend(_comment(field.description or ""))
        lines.extend(_section_lines(sub, f"{heading}.{name}" if heading else name, None))
    return lines


def example_config(simulator_path: str | None = None, *, wid: bool = False) -> str:
    """Return the commented example config. Its one target is a SQL Server, the local Windows
    Internal Database with ``wid``, or a simulated SUSDB at ``simulator_path``."""
    target = "simulated" if simulator_path is not None else "wsus01"
    lines = [HEADER]
    lines.extend(_section_lines(Settings, None, None, {"default_target": target}))
    lines.append("# SUSDB instances, by name. Run against one with --target NAME.")
    if simulator_path is not None:
        lines.extend(
            _section_lines(
                SimulatorTarget, "targets.simulated", {"kind": "simulator", "path": simulator_path}
            )
        )
    elif wid:
        lines.extend(
            _section_lines(
                SqlServerTarget,
                "targets.wsus01",
                {"kind": "sqlserver", "wid": True, "auth": "windows"},
                notes={
                    "server": "no server with wid = true: the pipe is on this machine",
                    "port": "no port with wid = true",
                },
            )
        )
    else:
        lines.extend(
            _section_lines(
                SqlServerTarget,
                "targets.wsus01",
                {
                    "kind": "sqlserver",
                    "server": "sql01.contoso.com",
                    "port": 1433,
                    "auth": "windows",
                },
            )
        )
    lines.append(
        "# Profiles: nightly, pre-patch-tuesday and full are built in; add or override here."
    )
    lines.append("# [profiles.weekly]")
    lines.append('# stages = ["preflight", "reindex", "statistics", "health"]')
    lines.append("# max_duration_minutes = 120")
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip() + "\n"


def _reference_rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        key = f"{prefix}{name}"
        sub = _submodel(field)
        if sub is not None:
            rows.extend(_reference_rows(sub, f"{key}."))
            continue
        if model is Settings and name == "targets":
            rows.extend(_reference_rows(SqlServerTarget, "targets.NAME."))
            rows.extend(_reference_rows(SimulatorTarget, "targets.NAME (simulator)."))
            continue
        if model is Settings and name == "profiles":
            from jobs.settings.model import Profile

            rows.extend(_reference_rows(Profile, "profiles.NAME."))
            continue
        default = _default(field)
        default_text = (
            "required"
            if field.is_required()
            else f"`{toml_value(default)}`"
            if default is not None
            else "none"
        )
        example = (field.examples or [None])[0]
        example_text = f"`{toml_value(example)}`" if example is not None else ""
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        kind = type_name(field.annotation).replace("|", "\\|")
        rows.append(f"| `{key}` | {kind} | {default_text} | {description} | {example_text} |")
    return rows


def markdown_reference() -> str:
    header = ["| key | type | default | description | example |", "| --- | --- | --- | --- | --- |"]
    return "\n".join(header + _reference_rows(Settings, "")) + "\n"


def json_schema() -> str:
    return json.dumps(Settings.model_json_schema(), indent=2, sort_keys=True) + "\n"


def redacted_dump(settings: Settings) -> str:
    """Return the effective config as TOML, with anything secret-looking replaced by ***."""
    data = settings.model_dump(mode="json", exclude_none=True)
    data["profiles"] = {
        name: profile.model_dump(mode="json", exclude_none=True)
        for name, profile in settings.effective_profiles().items()
    }
    return _dump_tables(data, []) + "\n"


def _is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in {"password", "pwd", "secret", "token"}


def _dump_tables(data: dict[str, Any], path: list[str]) -> str:
    scalars = []
    tables = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            scalars.append(f"{key} = {toml_value('***' if _is_secret_key(key) else value)}")
    out = []
    if path and (scalars or not tables):
        out.append(f"[{'.'.join(path)}]")
    out.extend(scalars)
    for key, value in tables:
        out.append("")
        out.append(_dump_tables(value, [*path, key]))
    return "\n".join(out).strip("\n")


def write_generated_files(root: Any) -> None:
    """Rewrite the generated config files and README's reference under ``root``."""
    from pathlib import Path

    root = Path(root)
    (root / "config" / "susdb-maint.example.toml").write_text(example_config(), encoding="utf-8")
    (root / "config" / "config.schema.json").write_text(json_schema(), encoding="utf-8")
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- config-reference:start -->", "<!-- config-reference:end -->"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    text = f"{head}{start}\n{markdown_reference()}{end}{tail}"
    from jobs.stages.decline_presets import markdown_table

    start, end = "<!-- decline-presets:start -->", "<!-- decline-presets:end -->"
    if start in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{markdown_table()}{end}{tail}"
    readme.write_text(text, encoding="utf-8")


if __name__ == "__main__":  # python -m jobs.settings.render: regenerate after a schema change
    import pathlib

    write_generated_files(pathlib.Path(__file__).resolve().parents[2])
