"""The building blocks of every configuration section: ``Section``, ``doc`` and the upper bounds.

Both the schema (``model``) and each stage's own settings (``jobs/stages/declared/``) build on
this module, which imports nothing of the project, so a stage's settings never import the schema
that assembles them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Upper bounds that keep every duration and count inside what datetime, SQL Server's INT and
# DATEADD can hold (an `inf` or `1e308` would otherwise fail deep inside a run, not here).
MAX_MINUTES = 7 * 24 * 60  # a maintenance window or budget: at most a week
MAX_SECONDS = 7 * 24 * 3600  # one statement: at most a week
MAX_HOURS = 366 * 24  # an age: at most a year
MAX_DAYS = 36_500  # a retention or an age in days: at most a hundred years
MAX_INT = 2**31 - 1  # a count sent to SQL Server as INT


def doc(description: str, example: Any = None, **kwargs: Any) -> Any:
    """Given a description and an example, return a pydantic Field that documents itself."""
    examples = None if example is None else [example]
    return Field(description=description, examples=examples, **kwargs)


class Section(BaseModel):
    # A typo must never be silently ignored: unknown keys are errors everywhere.
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)
