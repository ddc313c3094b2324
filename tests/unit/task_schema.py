"""The structure Microsoft's published Task Scheduler schema requires, for the elements a task
definition like ours uses (learn.microsoft.com/windows/win32/taskschd/task-scheduler-schema).

The XSD itself is not vendored here; these are its facts, checked element by element: which
children each element may have, in which order where the schema says ``xs:sequence``, which are
required, and the type of each value (booleans, durations, dates, enumerations, ranges).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass, field

NAMESPACE = "http://schemas.microsoft.com/windows/2004/02/mit/task"

Check = Callable[[str], bool]


def boolean(text: str) -> bool:
    return text in ("true", "false", "1", "0")


def duration(text: str) -> bool:  # xs:duration
    match = re.fullmatch(
        r"-?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?",
        text,
    )
    return bool(match) and text not in ("P", "-P") and not text.endswith("T")


def date_time(text: str) -> bool:  # xs:dateTime
    pattern = r"-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?"
    return re.fullmatch(pattern, text) is not None


def one_of(*values: str) -> Check:
    return lambda text: text in values


def integer(low: int, high: int) -> Check:
    return lambda text: text.strip().isdigit() and low <= int(text) <= high


def text_of(low: int = 0, high: int = 1_000_000) -> Check:
    return lambda text: low <= len(text) <= high


NON_EMPTY = text_of(1)
PATH = text_of(1, 260)  # pathType: nonEmptyString, maxLength 260


@dataclass
class Rule:
    """One complex type: ``sequence`` children in this order, or ``all`` in any order (each at
    most once); ``required`` of them must be there; ``repeat`` children (a choice group) may
    appear ``between`` times."""

    sequence: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    repeat: tuple[str, ...] = ()
    between: tuple[int, int] = (0, 0)
    attributes: tuple[str, ...] = ()


TRIGGER_BASE = ("Enabled", "StartBoundary", "EndBoundary", "Repetition", "ExecutionTimeLimit")
SCHEDULES = ("ScheduleByDay", "ScheduleByWeek", "ScheduleByMonth", "ScheduleByMonthDayOfWeek")

RULES: dict[str, Rule] = {
    "Task": Rule(
        all=("RegistrationInfo", "Triggers", "Settings", "Data", "Principals", "Actions"),
        required=("Actions",),
        attributes=("version",),
    ),
    "RegistrationInfo": Rule(
        all=(
            "URI",
            "SecurityDescriptor",
            "Source",
            "Date",
            "Author",
            "Version",
            "Description",
            "Documentation",
        ),
    ),
    "Triggers": Rule(
        repeat=(
            "BootTrigger",
            "RegistrationTrigger",
            "IdleTrigger",
            "TimeTrigger",
            "EventTrigger",
            "LogonTrigger",
            "SessionStateChangeTrigger",
            "CalendarTrigger",
        ),
        between=(0, 48),
    ),
    # calendarTriggerType extends triggerBaseType (a sequence) with RandomDelay and a choice of
    # exactly one schedule.
    "CalendarTrigger": Rule(
        sequence=(*TRIGGER_BASE, "RandomDelay", "Schedule"), attributes=("id",)
    ),
    "TimeTrigger": Rule(sequence=(*TRIGGER_BASE, "RandomDelay"), attributes=("id",)),
    "ScheduleByDay": Rule(all=("DaysInterval",)),
    "Principals": Rule(repeat=("Principal",), between=(1, 1)),
    "Principal": Rule(
        all=(
            "UserId",
            "LogonType",
            "GroupId",
            "DisplayName",
            "RunLevel",
            "ProcessTokenSidType",
            "RequiredPrivileges",
        ),
        attributes=("id",),
    ),
    "Settings": Rule(
        all=(
            "AllowStartOnDemand",
            "RestartOnFailure",
            "MultipleInstancesPolicy",
            "DisallowStartIfOnBatteries",
            "StopIfGoingOnBatteries",
            "AllowHardTerminate",
            "StartWhenAvailable",
            "NetworkProfileName",
            "RunOnlyIfNetworkAvailable",
            "WakeToRun",
            "Enabled",
            "Hidden",
            "DeleteExpiredTaskAfter",
            "IdleSettings",
            "NetworkSettings",
            "ExecutionTimeLimit",
            "Priority",
            "RunOnlyIfIdle",
            "UseUnifiedSchedulingEngine",
            "DisallowStartOnRemoteAppSession",
        ),
    ),
    "Actions": Rule(
        repeat=("Exec", "ComHandler", "SendEmail", "ShowMessage"),
        between=(1, 32),
        attributes=("Context",),
    ),
    "Exec": Rule(
        all=("Command", "Arguments", "WorkingDirectory"), required=("Command",), attributes=("id",)
    ),
}

VALUES: dict[str, Check] = {
    "URI": NON_EMPTY,
    "Date": date_time,
    "StartBoundary": date_time,
    "EndBoundary": date_time,
    "Enabled": boolean,
    "ExecutionTimeLimit": duration,
    "RandomDelay": duration,
    "DeleteExpiredTaskAfter": duration,
    "DaysInterval": integer(1, 365),
    "UserId": NON_EMPTY,
    "GroupId": NON_EMPTY,
    "LogonType": one_of("S4U", "Password", "InteractiveToken", "InteractiveTokenOrPassword"),
    "RunLevel": one_of("LeastPrivilege", "HighestAvailable"),
    "MultipleInstancesPolicy": one_of("Parallel", "Queue", "IgnoreNew", "StopExisting"),
    "Priority": integer(0, 10),
    "Command": PATH,
    "WorkingDirectory": PATH,
    **{
        name: boolean
        for name in (
            "AllowStartOnDemand",
            "DisallowStartIfOnBatteries",
            "StopIfGoingOnBatteries",
            "AllowHardTerminate",
            "StartWhenAvailable",
            "RunOnlyIfNetworkAvailable",
            "WakeToRun",
            "Hidden",
            "RunOnlyIfIdle",
            "UseUnifiedSchedulingEngine",
            "DisallowStartOnRemoteAppSession",
        )
    },
}


@dataclass
class Problems:
    lines: list[str] = field(default_factory=list)

    def add(self, where: str, text: str) -> None:
        self.lines.append(f"{where}: {text}")


def _local(element: ElementTree.Element, problems: Problems, where: str) -> str:
    namespace, _, name = element.tag[1:].partition("}")
    if namespace != NAMESPACE:
        problems.add(where, f"element {element.tag} is not in the task namespace")
    return name


def _check(element: ElementTree.Element, problems: Problems, where: str) -> None:
    name = _local(element, problems, where)
    rule = RULES.get(name)
    children = list(element)
    if rule is None:
        if children:
            problems.add(where, f"{name} is not checked here but has children")
        check = VALUES.get(name)
        if check is not None and not check((element.text or "").strip()):
            problems.add(where, f"{name} has an invalid value {element.text!r}")
        return
    for attribute in element.attrib:
        if attribute not in rule.attributes:
            problems.add(where, f"{name} has no attribute {attribute!r}")
    names = [_local(child, problems, where) for child in children]
    if rule.sequence:
        order = [
            "Schedule" if child in SCHEDULES and "Schedule" in rule.sequence else child
            for child in names
        ]
        unknown = [child for child in order if child not in rule.sequence]
        positions = [rule.sequence.index(child) for child in order if child in rule.sequence]
        if unknown:
            problems.add(where, f"{name} may not contain {unknown}")
        if positions != sorted(positions) or len(set(positions)) != len(positions):
            problems.add(where, f"{name}'s children are out of the schema's order: {names}")
        if "Schedule" in rule.sequence and order.count("Schedule") != 1:
            problems.add(where, f"{name} needs exactly one of {', '.join(SCHEDULES)}")
    elif rule.all:
        unknown = [child for child in names if child not in rule.all]
        twice = {child for child in names if names.count(child) > 1}
        if unknown:
            problems.add(where, f"{name} may not contain {unknown}")
        if twice:
            problems.add(where, f"{name} has {sorted(twice)} more than once")
    else:
        unknown = [child for child in names if child not in rule.repeat]
        low, high = rule.between
        if unknown:
            problems.add(where, f"{name} may not contain {unknown}")
        if not low <= len(names) <= high:
            problems.add(where, f"{name} needs {low} to {high} children, has {len(names)}")
    for required in rule.required:
        if required not in names:
            problems.add(where, f"{name} needs {required}")
    for child, child_name in zip(children, names, strict=True):
        _check(child, problems, f"{where}/{child_name}")


def problems(text: str) -> list[str]:
    """Every way the task definition ``text`` departs from the schema's structure, one a line."""
    root = ElementTree.fromstring(text)
    found = Problems()
    if _local(root, found, "") != "Task":
        found.add("", "the root element is not Task")
    version = root.get("version")
    # The published XSD fixes the version attribute at 1.3 when present.
    if version is not None and version != "1.3":
        found.add("Task", f"version {version!r}: the published schema fixes it at 1.3")
    _check(root, found, "Task")
    ids = [element.get("id") for element in root.iter() if element.get("id") is not None]
    if len(ids) != len(set(ids)):
        found.add("Task", f"ids are not unique: {ids}")
    actions = root.find(f"{{{NAMESPACE}}}Actions")
    principal_ids = {principal.get("id") for principal in root.iter(f"{{{NAMESPACE}}}Principal")}
    if actions is not None and actions.get("Context") not in (None, *principal_ids):
        found.add("Task/Actions", f"Context {actions.get('Context')!r} names no Principal id")
    return found.lines
