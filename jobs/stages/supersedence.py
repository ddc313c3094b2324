"""Whether something alive still covers a superseded update.

A superseded update is declined only while some update that supersedes it, directly or through a
chain of superseding updates, is alive: at its latest revision (the SQL reads latest revisions
only), offered to clients (explicitly deployable, not hidden), not declined, not expired, not declined in this same run by another source, and, when it is
an optional preview (a title the ``preview`` preset matches, or no readable title at all), approved
for install.

Why: Microsoft's optional monthly preview (the "D" release) supersedes that month's security update
(the "B" release); most estates never approve previews, and declining B deletes its approvals
(spDeclineUpdate "declines an update ... and deletes all deployments", MS-WSUSAR), which leaves no
approved security update until the next Patch Tuesday (shared/reference/decline-review.md N1). The
Server Cleanup Wizard declines only updates "superseded by an approved update" for the same reason.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import tempfile
from collections import deque
from collections.abc import Callable, Container, Iterable
from datetime import date
from pathlib import Path

from jobs.patterns import Matcher
from jobs.stages import decline_presets
from jobs.susdb import Supersedence

# Links walked on the server for one item before it is judged not covered (fail closed).
MAX_LINKS_WALKED = 200


@functools.cache
def _preview_matchers() -> tuple[Matcher, ...]:
    from jobs.stages.decline import rule_matcher  # decline imports this module

    return tuple(rule_matcher(rule) for rule in decline_presets.preset_rules(["preview"], date.min))


def is_preview(title: str | None) -> bool:
    """A title the ``preview`` preset matches; an unreadable title might be one."""
    if not title:
        return True
    return any(matcher.search(title) for matcher in _preview_matchers())


def is_alive(
    link: Supersedence, doomed: Container[str] = (), deployed: Container[str] = ()
) -> bool:
    """Whether the superseding update of ``link`` covers what it supersedes. ``deployed``: what
    Configuration Manager deploys, which counts like an approval (its estates never approve)."""
    if not link.offered or link.declined or link.expired or link.superseding in doomed:
        return False
    return link.approved or link.superseding in deployed or not is_preview(link.title)


class CoverGraph:
    """Every supersedence of the catalog, read once: who covers each superseded update.

    Kept in a temporary SQLite file, not in memory: a neglected 1M-update catalog holds hundreds
    of thousands of supersedences (Defender definitions chain one every few hours), and the run's
    memory must stay flat whatever the catalog's size. ``doom`` marks updates another source
    declines tonight; they cover nothing.
    """

    def __init__(self, deployed: Container[str] = ()) -> None:
        handle, name = tempfile.mkstemp(prefix="susdb-maint-cover-", suffix=".sqlite3")
        os.close(handle)
        self._path = Path(name)
        self._db = sqlite3.connect(self._path)
        self._db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
            "CREATE TABLE up (superseded TEXT NOT NULL, superseding TEXT NOT NULL);"
            "CREATE TABLE alive (update_id TEXT PRIMARY KEY, name TEXT) WITHOUT ROWID;"
            "CREATE TABLE doomed (update_id TEXT PRIMARY KEY) WITHOUT ROWID;"
        )
        self._deployed = deployed
        self._dead: set[str] = set()  # proven to reach nothing alive

    def doom(self, update_id: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO doomed VALUES (?)", (update_id,))

    def load(self, links: Iterable[Supersedence]) -> CoverGraph:
        batch: list[tuple[str, str]] = []
        alive: list[tuple[str, str | None]] = []
        for link in links:
            batch.append((link.superseded, link.superseding))
            if is_alive(link, deployed=self._deployed):
                alive.append((link.superseding, link.kb or link.title))
            if len(batch) >= 10_000:
                self._flush(batch, alive)
        self._flush(batch, alive)
        self._db.execute("CREATE INDEX up_by_superseded ON up (superseded)")
        return self

    def _flush(self, batch: list[tuple[str, str]], alive: list[tuple[str, str | None]]) -> None:
        self._db.executemany("INSERT INTO up VALUES (?, ?)", batch)
        self._db.executemany("INSERT OR IGNORE INTO alive VALUES (?, ?)", alive)
        batch.clear()
        alive.clear()

    def _above(self, update_id: str) -> list[str]:
        return [row[0] for row in self._db.execute(
            "SELECT superseding FROM up WHERE superseded = ?", (update_id,)
        )]  # fmt: skip

    def _is_alive(self, update_id: str) -> bool:
        return bool(self._db.execute(
            "SELECT 1 FROM alive WHERE update_id = ? "
            "AND NOT EXISTS (SELECT 1 FROM doomed WHERE update_id = ?)",
            (update_id, update_id),
        ).fetchone())  # fmt: skip

    def cover(self, update_id: str) -> str | None:
        """The nearest live update covering ``update_id``, or None when nothing alive does."""
        seen = {update_id}
        queue = deque(self._above(update_id))
        while queue:
            node = queue.popleft()
            if node in seen:
                continue
            seen.add(node)
            if self._is_alive(node):
                return node
            if node not in self._dead:  # dead: nothing alive above it (it may be alive itself)
                queue.extend(self._above(node))
        self._dead |= seen  # none of them is alive, and nothing above any of them is
        return None

    def name_of(self, update_id: str) -> str | None:
        """A live update (what ``cover`` answers) as people look it up: its KB article, else
        its title (drivers have no KB)."""
        row = self._db.execute("SELECT name FROM alive WHERE update_id = ?", (update_id,))
        found = row.fetchone()
        return found[0] if found else None

    def close(self) -> None:
        self._db.close()
        self._path.unlink(missing_ok=True)


def live_cover(
    superseders_of: Callable[[str], list[Supersedence]],
    update_id: str,
    deployed: Container[str] = (),
    doomed: Container[str] = (),
) -> Supersedence | None:
    """The link to the nearest live update covering ``update_id`` as the server holds it now,
    walked a link a round trip; None when nothing alive covers it or the walk is longer than is
    sensible."""
    seen = {update_id}
    queue = deque([update_id])
    walked = 0
    while queue and walked < MAX_LINKS_WALKED:
        links = superseders_of(queue.popleft())
        walked += 1
        for link in links:
            if is_alive(link, doomed, deployed):
                return link
        for link in links:
            if link.superseding not in seen:
                seen.add(link.superseding)
                queue.append(link.superseding)
    return None
