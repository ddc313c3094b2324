"""The decline stage as the rest of the tool sees it: its declaration (``@stage``) and its
settings, ``[stages.decline]``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import field_validator, model_validator

from jobs.settings.fields import MAX_DAYS, MAX_INT, Section, doc
from jobs.stages.registry import stage

if TYPE_CHECKING:
    from jobs.runner.context import RunContext, StageOutcome


class DeclineRule(Section):
    field: Literal["title", "product", "classification", "legacy_name"] = doc(
        "What the pattern is matched against. An update listed under several products (the "
        "Malicious Software Removal Tool, .NET, Defender, servicing stacks) is declined by "
        "`product` rules only when every one of its products matches one; `classification` "
        "rules likewise.",
        "title",
    )
    match: Literal["word", "regex"] = doc(
        '`word`: whole words, case-insensitive ("Windows Server 2012" does not hit "Windows '
        'Server 2012 R2"); `regex`: a regular expression run on RE2 (linear time, no lookaround '
        "or backreferences), case-insensitive; one that matches an empty text is refused.",
        "word",
        default="word",
    )
    pattern: str = doc("The text or expression.", "Itanium", min_length=1)
    reason: str | None = doc("Label recorded with each decline.", "itanium", default=None)

    @model_validator(mode="after")
    def _compiles(self) -> DeclineRule:
        if self.match == "word":
            if not re.search(r"\w", self.pattern):
                raise ValueError(
                    f"pattern {self.pattern!r} has no word in it, so it would match every update"
                )
            return self
        from jobs.patterns import PatternError, linear

        try:
            matcher = linear(self.pattern)
        except PatternError as error:
            raise ValueError(f"pattern {self.pattern!r}: {error}") from None
        if matcher.search("") is not None:
            raise ValueError(
                f"pattern {self.pattern!r} matches an empty text, so it would match every update"
            )
        return self


# The decline presets, declared in jobs/stages/decline_presets.py (README lists their rules).
PresetName = Literal[
    "itanium",
    "arm64",
    "x86",
    "language-packs",
    "preview",
    "edge-dev-beta",
    "drivers",
    "windows-feature-updates-eos",
    "office-32bit",
    "office-64bit",
]


class DeclineSettings(Section):
    superseded: Literal["all", "last_level_only", "cleanup_wizard", "off"] = doc(
        "Decline superseded updates: `all`, `last_level_only` (superseded and superseding nothing, "
        "like Decline-SupersededUpdates.ps1 -DeclineLastLevelOnly), `cleanup_wizard` (the WSUS "
        "Server Cleanup Wizard's rule: superseded by an approved update, on the server 30 days, "
        "not approved itself in 30 days, needed by no computer; never fires where Configuration "
        "Manager deploys, since it approves nothing in WSUS) or `off`. Always: only while a live "
        "update covers it.",
        "all",
        default="all",
    )
    min_age_days: int = doc(
        "Keep superseded updates younger than this many days. 90 by default: Microsoft's decline "
        "SQL uses 90 days and says it should match Configuration Manager's supersedence rule "
        "(Microsoft's script: 3 months); a superseded update declined sooner can still be the "
        "one clients need while its superseder is being piloted. 0 declines at once.",
        90,
        default=90,
        ge=0,
        le=MAX_DAYS,
    )
    age_basis: Literal["superseding", "own"] = doc(
        "Age counted from the creation date of the oldest update superseding it (Configuration "
        "Manager's rule, per superseder) or from the update's own (Microsoft's script).",
        "superseding",
        default="superseding",
    )
    arrived_within_months: int = doc(
        "Consider only superseded updates that arrived on the server in the last N months, as "
        "Microsoft's Decline-SupersededUpdates.ps1 does (6); 0: the whole catalog.",
        6,
        default=0,
        ge=0,
        le=1200,
    )
    expired: bool = doc("Decline expired updates.", True, default=True)
    rules: list[DeclineRule] = doc(
        "Decline by title, product, classification or legacy name.",
        [{"field": "title", "match": "word", "pattern": "Itanium"}],
        default=[],
    )
    presets: list[PresetName] = doc(
        "Named rule sets joined to `rules` (see README, Decline presets): itanium, arm64, x86, "
        "language-packs, preview, edge-dev-beta, drivers, windows-feature-updates-eos, "
        "office-32bit, office-64bit. `never_decline` still wins.",
        ["itanium", "arm64"],
        default=[],
    )
    keep_products: list[str] = doc(
        "Products still in use (whole words, case-insensitive, as in the WSUS console's "
        "Products list): decline every update that belongs to none of them. An entry that "
        "names no product on the server stops this list from being applied: the stage fails "
        "(exit 1) with one line naming the entry and the server's products closest to it.",
        ["Windows 11", "Windows Server 2022", "Microsoft Defender Antivirus"],
        default=[],
    )
    never_decline: list[str] = doc(
        "KB numbers (KB5005565) or update IDs that are never declined; wins over every rule.",
        ["KB5005565"],
        default=[],
    )
    max_rule_share_percent: int = doc(
        "Refuse the stage (exit 4) when the rules, presets and keep_products together would "
        "decline more than this share of the updates clients are offered (and more than 100 "
        "updates): a rule that matches far more than meant (a typo, a too-broad pattern) stops "
        "before it declines anything. "
        "Raise it for a deliberate large clean-up; 100 turns the check off.",
        50,
        default=50,
        ge=1,
        le=100,
    )
    max_declines_per_run: int = doc(
        "At most this many declines per run (0: no limit); declining thousands at once upstream "
        "makes replica syncs time out.",
        1000,
        default=0,
        ge=0,
        le=MAX_INT,
    )

    @field_validator("keep_products")
    @classmethod
    def _named_products(cls, values: list[str]) -> list[str]:
        blank = [value for value in values if not value.strip()]
        if blank:
            raise ValueError("keep_products entries must name a product")
        return [value.strip() for value in values]

    @field_validator("never_decline")
    @classmethod
    def _kb_or_guid(cls, values: list[str]) -> list[str]:
        pattern = re.compile(
            r"^(KB\d{1,9}|\{?[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}\}?)$", re.I
        )
        bad = [value for value in values if not pattern.match(value.strip())]
        if bad:
            raise ValueError(f"not a KB number or update ID: {', '.join(map(repr, bad))}")
        return [value.strip().strip("{}").upper() for value in values]


@stage(
    name="decline",
    order=30,
    destructive=True,
    needs_preflight=True,
    phase="decline",
    settings=DeclineSettings,
    rights=("EXECUTE dbo.spDeclineUpdate",),
)
def run(ctx: RunContext) -> StageOutcome:
    from jobs.stages import decline as implementation  # imported when the stage runs

    return implementation.run(ctx)
