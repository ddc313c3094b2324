"""Configuration: one pydantic schema that is also the documentation.

``model`` declares every key with its type, default, description and example (each stage's own
section with its stage, ``jobs/stages/declared/``, on ``fields``' building blocks); ``load``
finds the file, applies ``SUSDB_MAINT_<SECTION>_<KEY>`` overrides and reports every problem at
once; ``render`` turns the schema into the commented example config and the README reference.

The names below load on first use, so a stage's settings module can import ``fields`` while the
schema it is assembled into imports that module (no import cycle).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.settings.load import load_settings, locate_config_file
    from jobs.settings.model import Settings

__all__ = ["Settings", "load_settings", "locate_config_file"]

_HOMES = {"Settings": "model", "load_settings": "load", "locate_config_file": "load"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
