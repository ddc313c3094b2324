"""Remove secrets from anything that leaves the process: events, errors, reprs.

Two nets: a pattern for ODBC connection-string secrets (``PWD=...;`` / ``Password=...;``) and the
exact values of secrets this process has read (registered when a password is resolved), so a
password that shows up in a driver's error text is caught too.
"""

from __future__ import annotations

import re
import threading
from typing import Any

MASK = "***"
_CONNECTION_SECRET = re.compile(
    r"(?i)\b(PWD|Password|AccessToken)\s*=\s*(\{(?:[^}]|\}\})*\}|[^;]*)"
)
_SECRET_KEYS = frozenset({"password", "pwd", "secret", "token"})
# Longest first (a secret that contains another is masked whole). A tuple replaced, never
# changed, on register: every event's strings are checked, so reading it takes no lock.
_known_secrets: tuple[str, ...] = ()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Remember a secret's value so it is masked wherever it appears later."""
    global _known_secrets
    if value and len(value) >= 3:
        with _lock:
            _known_secrets = tuple(sorted({*_known_secrets, value}, key=len, reverse=True))


def redact_text(text: str) -> str:
    if "=" in text:  # the connection-string pattern needs one
        text = _CONNECTION_SECRET.sub(lambda match: f"{match.group(1)}={MASK}", text)
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            key: MASK if str(key).lower() in _SECRET_KEYS and value[key] else redact_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return value
