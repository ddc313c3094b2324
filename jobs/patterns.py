"""Administrators' regular expressions run on RE2, whose matching time is linear in the text.

A decline rule's ``regex`` runs against every title of the catalog, unattended, inside the window
and while the target lock is held. On a backtracking engine (Python's ``re``) a pattern such as
``^(\\w+\\s?)*$`` never finishes on an ordinary title and takes the window, the stop signal and the
lock with it (admin-review N14). RE2 has no backtracking ("guaranteed to run in time linear in the
size of the input", RE2's README); the price is that it has no lookaround and no backreferences,
so a pattern using them is refused in ``config check`` with RE2's own reason.

The decline presets' patterns are this project's own, reviewed and tested; those that need
lookaround (feature-update releases) run on Python's ``re``.
"""

from __future__ import annotations

import re
from typing import Protocol

import re2


class Matcher(Protocol):
    def search(self, text: str) -> object | None: ...


class PatternError(ValueError):
    """A pattern RE2 cannot run, with RE2's reason."""


def _options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # the error is raised and reported once, in our words
    return options


def linear(pattern: str) -> Matcher:
    """A case-insensitive matcher on RE2; PatternError when RE2 cannot run the pattern."""
    try:
        return re2.compile(pattern, _options())  # type: ignore[no-any-return]
    except re2.error as error:
        reason = error.args[0] if error.args else error
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(
            f"not a regular expression RE2 can run: {reason} (RE2 runs in linear time and has "
            "no lookaround or backreferences)"
        ) from None


def any_pattern(pattern: str) -> Matcher:
    """RE2 where it can run the pattern, else Python's ``re`` (the presets' own patterns only:
    an administrator's pattern is checked with ``linear`` when the config is read)."""
    try:
        return linear(pattern)
    except PatternError:
        return re.compile(pattern, re.IGNORECASE)
