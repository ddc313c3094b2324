"""Decline presets: named, documented rule sets for what most estates never need.

Each preset is declared once, as ordinary ``DeclineRule`` values, and joins the configured rules
when named in ``[stages.decline] presets``; ``never_decline`` still wins over every one of them.
Patterns are matched against the update's title (whole words unless a regular expression is
needed), except drivers, which WSUS classifies. The titles they were checked against, with their
sources, are in ``tests/fixtures/update_titles.json``.

Feature updates are declined only once every edition of their release is out of service: the
end dates are Microsoft's for Enterprise and Education (the later of the two editions), from
https://learn.microsoft.com/lifecycle/products/windows-10-enterprise-and-education and
https://learn.microsoft.com/lifecycle/products/windows-11-enterprise-and-education. A release not in
the table is never declined by the preset. Windows 10 22H2 ends with the last year of the
commercial Extended Security Updates program (2028-10-10), not with regular servicing: ESU needs
22H2, and in an ESU estate its feature update is how an older build becomes eligible
(decline-review N5).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from jobs.stages.declared.decline import DeclineRule, PresetName


def _ours(**fields: typing.Any) -> DeclineRule:
    """A preset's rule: this project's own pattern, reviewed and tested here, so it skips the
    checks an administrator's pattern gets (some need lookaround, which RE2 does not have)."""
    return DeclineRule.model_construct(**fields)


def _title(pattern: str, *, regex: bool = False) -> DeclineRule:
    return _ours(field="title", match="regex" if regex else "word", pattern=pattern)


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    rules: Callable[[date], list[DeclineRule]]


# (product, release, last day of servicing for Enterprise and Education): Microsoft Lifecycle.
WINDOWS_RELEASES: tuple[tuple[str, str, date], ...] = (
    ("Windows 10", "1507", date(2017, 5, 9)),
    ("Windows 10", "1511", date(2017, 10, 10)),
    ("Windows 10", "1607", date(2019, 4, 9)),
    ("Windows 10", "1703", date(2019, 10, 8)),
    ("Windows 10", "1709", date(2020, 10, 13)),
    ("Windows 10", "1803", date(2021, 5, 11)),
    ("Windows 10", "1809", date(2021, 5, 11)),
    ("Windows 10", "1903", date(2020, 12, 8)),
    ("Windows 10", "1909", date(2022, 5, 10)),
    ("Windows 10", "2004", date(2021, 12, 14)),
    ("Windows 10", "20H2", date(2023, 5, 9)),
    ("Windows 10", "21H1", date(2022, 12, 13)),
    ("Windows 10", "21H2", date(2024, 6, 11)),
    ("Windows 10", "22H2", date(2028, 10, 10)),  # ESU year 3 (regular servicing: 2025-10-14)
    ("Windows 11", "21H2", date(2024, 10, 8)),
    ("Windows 11", "22H2", date(2025, 10, 14)),
    ("Windows 11", "23H2", date(2026, 11, 10)),
    ("Windows 11", "24H2", date(2027, 10, 12)),
    ("Windows 11", "25H2", date(2028, 10, 10)),
)


def feature_update_rule(product: str, release: str) -> DeclineRule:
    """One release's feature updates in each title form WSUS has used: "Feature update to Windows
    10 (business editions), version 1903, en-us x64", "Windows 10 (consumer editions) version 1909
    en-us x64", "Windows 11 22H2 (business editions) en-us x64", "Upgrade to Windows 11 (business
    editions), version 22H2 ..."."""
    return _ours(
        field="title",
        match="regex",
        pattern=(
            rf"^(?:Feature update to |Upgrade to )?{re.escape(product)}\b"
            rf"(?=.*\((?:business|consumer) editions\))(?=.*(?<![\w.-]){release}(?![\w.]))"
        ),
        reason=f"preset:windows-feature-updates-eos:{product} {release}",
    )


def _end_of_service_rules(today: date) -> list[DeclineRule]:
    return [
        feature_update_rule(product, release)
        for product, release, last_day in WINDOWS_RELEASES
        if today > last_day
    ]


# A title that also names another architecture serves 64-bit machines too (decline-review N6).
_ONLY_X86 = r"^(?!.*\b(?:x64|AMD64|ARM64)\b)"
# A service pack of a language pack updates an installed pack: multilingual estates need it.
_NOT_A_SERVICE_PACK = r"^(?!.*\bService Pack\b)"


def _static(*rules: DeclineRule) -> Callable[[date], list[DeclineRule]]:
    return lambda today: list(rules)


PRESETS: tuple[Preset, ...] = (
    Preset(
        "itanium",
        "Updates for Itanium (IA64) systems; Windows Server 2008 R2 was the last Windows for them.",
        _static(_title("Itanium"), _title("IA64")),
    ),
    Preset(
        "arm64",
        "Updates for ARM64 systems (Windows on Arm devices, Arm builds of apps). Not x64.",
        _static(_title("ARM64")),
    ),
    Preset(
        "x86",
        "Windows, .NET Framework and feature updates for 32-bit (x86) Windows, for estates that "
        'keep only 64-bit Windows: "for x86-based Systems", ".NET ... x86 (KB...)", feature '
        "updates ending in x86. 32-bit applications on 64-bit Windows (Office 32-Bit Edition, "
        "Edge or Microsoft 365 Apps for x86) are left alone, and so is a title that also names "
        "x64, AMD64 or ARM64.",
        _static(
            _title(_ONLY_X86 + r".*(?<![\w.-])x86-based(?!\w)", regex=True),
            _title(_ONLY_X86 + r".*\bx86 \(KB\d+\)", regex=True),
            _title(_ONLY_X86 + r".*\((?:business|consumer) editions\).*\bx86\b", regex=True),
        ),
    ),
    Preset(
        "language-packs",
        "Language packs, language interface packs, MUI packs and Office ScreenTip language "
        "updates; service packs of language packs stay (multilingual estates need them).",
        _static(
            *(
                _title(_NOT_A_SERVICE_PACK + rf".*(?<![\w.-]){re.escape(name)}(?!\w)", regex=True)
                for name in (
                    "Language Pack",
                    "Language Packs",
                    "Language Interface Pack",
                    "MUI Pack",
                    "Multilingual User Interface Pack",
                    "ScreenTip Language",
                )
            )
        ),
    ),
    Preset(
        "preview",
        "Previews, betas and release candidates: cumulative update previews, Preview of Monthly "
        "Quality Rollup, (Preview) channels, Insider Preview builds.",
        _static(
            _title("Preview"),
            _title("Beta"),
            _title("Pre-release"),
            _title("Release Candidate"),
        ),
    ),
    Preset(
        "edge-dev-beta",
        "Microsoft Edge Dev and Beta channel updates; Stable and Extended Stable stay.",
        _static(_title("Microsoft Edge-Dev Channel"), _title("Microsoft Edge-Beta Channel")),
    ),
    Preset(
        "drivers",
        "Updates WSUS classifies as Drivers or Driver Sets (deliver drivers with your own tooling).",
        _static(
            DeclineRule(field="classification", pattern="Drivers"),
            DeclineRule(field="classification", pattern="Driver Sets"),
        ),
    ),
    Preset(
        "windows-feature-updates-eos",
        "Feature updates (upgrades) to Windows 10 and 11 releases whose Enterprise and Education "
        "servicing has ended, by Microsoft's lifecycle dates; a release still serviced is kept.",
        _end_of_service_rules,
    ),
    Preset(
        "office-32bit",
        'Office (MSI) updates for 32-bit Office: titles ending "(KB...) 32-Bit Edition".',
        _static(_title(r"\(KB\d+\) 32-Bit Edition$", regex=True)),
    ),
    Preset(
        "office-64bit",
        'Office (MSI) updates for 64-bit Office: titles ending "(KB...) 64-Bit Edition" (not '
        '"Windows XP 64-bit Edition").',
        _static(_title(r"\(KB\d+\) 64-Bit Edition$", regex=True)),
    ),
)
BY_NAME = {preset.name: preset for preset in PRESETS}
assert set(BY_NAME) == set(typing.get_args(PresetName)), "PresetName must list every preset"


def preset_rules(names: Iterable[str], today: date | None = None) -> list[DeclineRule]:
    """Return the rules of the named presets, each labelled ``preset:NAME`` unless it says more."""
    today = today or datetime.now(UTC).date()
    rules = []
    for name in names:
        for rule in BY_NAME[name].rules(today):
            rules.append(
                rule if rule.reason else rule.model_copy(update={"reason": f"preset:{name}"})
            )
    return rules


def markdown_table() -> str:
    """README's preset list, generated from the declarations."""
    lines = ["| preset | what it declines | rules |", "| --- | --- | --- |"]
    for preset in PRESETS:
        if preset.name == "windows-feature-updates-eos":
            shown = "feature-update titles of: " + ", ".join(
                f"{product} {release} (after {last_day:%Y-%m-%d})"
                for product, release, last_day in WINDOWS_RELEASES
            )
        else:
            shown = "; ".join(
                f"{rule.field} {'~' if rule.match == 'regex' else '='} `{rule.pattern}`"
                for rule in preset.rules(date.min)
            )
        cells = [f"`{preset.name}`", preset.description, shown]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"
