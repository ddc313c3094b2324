"""The ``sql/`` catalog: one operation per file, each with a header naming it and its parameters.

Header lines at the top of each file::

    -- name: delete_update
    -- summary: ...
    -- params: @localUpdateID int
    -- returns: none
    -- effect: once
    -- writes: yes
    -- dry run: Sent = 1, Present = 0
    -- dry run then: obsolete_updates, updates_to_compress leave out column 0 = @localUpdateID

``writes`` (every file says ``yes`` or ``no``) is whether sending it changes anything: data,
schema, a procedure, a backup file, a lock, a transaction. ``plan --show-sql`` sends only what
does not (``jobs/db/dryrun.py``): a statement that writes is recorded instead, and answered with
its ``dry run`` row so the run path goes on as if it had worked; ``dry run then`` says what the
reads after it would find changed. A read whose answer hangs on a change the dry run never makes
(whether the session holds the target lock) declares a ``dry run`` answer too.

``effect: once`` marks a statement that must never be sent again blindly (a queue item's WSUS
procedure call, whose reply may have been lost after the server committed): the executor does
not retry it; the queue engine verifies on the server first. Everything else is safe to resend
after a transient error. The name travels with the text (the executor sends the header too), so logs and the simulated
SUSDB know which operation a batch is.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from jobs.db.tsql import Batch, count_markers, split_batches, strip_comments

_HEADER = re.compile(
    r"^--\s*(name|summary|params|returns|effect|writes|dry run|dry run then):\s?(.*)$"
)
_CONTINUATION = re.compile(r"^--\s{2,}(.*)$")
_PARAM = re.compile(r"@(\w+)\s+([\w()]+(?:\s+NULL)?)", re.I)


@dataclass(frozen=True)
class Statement:
    name: str
    summary: str
    params: tuple[tuple[str, str], ...]  # (name, SQL type), in binding order
    returns: str
    text: str
    path: str
    effect: str = "repeatable"
    writes: bool = False
    dry_run: str | None = None  # what a dry run answers instead of sending it (None: sent)
    dry_run_then: str = ""  # what later reads find after it, in a dry run

    @property
    def sent_once(self) -> bool:
        return self.effect == "once"

    @property
    def sent_in_dry_run(self) -> bool:
        """Whether ``plan --show-sql`` sends it to the target: a read that declares no answer."""
        return not self.writes and self.dry_run is None

    @property
    def batches(self) -> tuple[Batch, ...]:
        return _batches(self.text)

    @property
    def calls_wsus_procedure(self) -> bool:
        """Whether it runs one of WSUS's own procedures (``EXEC dbo.sp...``): those run with
        WSUS's lock timeout, not the tool's (``jobs/db/executor.py``)."""
        return _calls_wsus_procedure(self.text)

    def placeholder_count(self) -> int:
        return count_markers(self.text)


# WSUS's procedures live in dbo; the tool's own calls are to sys (sp_getapplock, sp_executesql).
_WSUS_EXEC = re.compile(r"\bEXEC(?:UTE)?\s+(?:@\w+\s*=\s*)?(?:\[?dbo\]?\.)\[?sp\w+", re.I)
_STRING = re.compile(r"N?'(?:[^']|'')*'")


@functools.lru_cache(maxsize=512)
def _calls_wsus_procedure(text: str) -> bool:
    return bool(_WSUS_EXEC.search(_STRING.sub("''", strip_comments(text))))


@functools.lru_cache(maxsize=512)
def _batches(text: str) -> tuple[Batch, ...]:
    return tuple(split_batches(text))


def sql_directory() -> Path:
    """Where the .sql files are: inside the installed wheel, or the source tree's sql/."""
    packaged = resources.files("jobs") / "_sql"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "sql"


def parse_statement(text: str, path: str) -> Statement:
    fields: dict[str, str] = {}
    last = None
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            last = header.group(1)
            fields[last] = header.group(2).strip()
            continue
        continuation = _CONTINUATION.match(line)
        if continuation and last:
            fields[last] += " " + continuation.group(1).strip()
            continue
        break
    if "name" not in fields:
        raise ValueError(f"{path}: the first line must be '-- name: <statement name>'")
    params_text = fields.get("params", "none")
    params = (
        ()
        if params_text.lower() == "none"
        else tuple((match.group(1), match.group(2)) for match in _PARAM.finditer(params_text))
    )
    statement = Statement(
        name=fields["name"],
        summary=fields.get("summary", ""),
        params=params,
        returns=fields.get("returns", ""),
        text=text,
        path=path,
        effect=fields.get("effect", "repeatable"),
        writes=fields.get("writes") == "yes",
        dry_run=fields.get("dry run"),
        dry_run_then=fields.get("dry run then", ""),
    )
    if statement.effect not in ("repeatable", "once"):
        raise ValueError(f"{path}: effect must be 'once' or left out, not {statement.effect!r}")
    if statement.placeholder_count() != len(params):
        raise ValueError(
            f"{path}: header lists {len(params)} parameter(s) but the text has "
            f"{statement.placeholder_count()} '?' marker(s)"
        )
    # Fail closed: a new file that forgets to say is refused, never sent by a dry run by default.
    if fields.get("writes") not in ("yes", "no"):
        raise ValueError(f"{path}: the header must say '-- writes: yes' or '-- writes: no'")
    if statement.writes and statement.dry_run is None:
        raise ValueError(
            f"{path}: a statement that writes must say what a dry run answers instead "
            "('-- dry run: Column = value, ...' or '-- dry run: no rows')"
        )
    if statement.dry_run is not None and (
        len(statement.batches) != 1 or statement.batches[0].repeat != 1
    ):
        raise ValueError(f"{path}: a statement a dry run answers must be one batch, sent once")
    return statement


@functools.cache
def load_catalog() -> dict[str, Statement]:
    directory = sql_directory()
    catalog: dict[str, Statement] = {}
    for path in sorted(directory.glob("*.sql")):
        statement = parse_statement(path.read_text(encoding="utf-8"), path.name)
        if statement.name in catalog:
            raise ValueError(f"{path.name}: statement name {statement.name!r} is used twice")
        if statement.name != path.stem:
            raise ValueError(f"{path.name}: name {statement.name!r} must match the file name")
        catalog[statement.name] = statement
    return catalog


def statement(name: str) -> Statement:
    try:
        return load_catalog()[name]
    except KeyError:
        raise KeyError(f"no statement named {name!r} in sql/") from None


_NAME_LINE = re.compile(r"^\s*--\s*name:\s*(\S+)", re.M)


def statement_name(text: str) -> str | None:
    """Return the name in a batch's header, or None for an unnamed batch."""
    match = _NAME_LINE.search(text)
    return match.group(1) if match else None
