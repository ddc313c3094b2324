"""Whether something alive still covers a superseded update.

A superseded update is declined only while some update that supersedes it, directly or through a
chain of superseding updates, is alive: at its latest revision (the SQL reads latest revisions
only), offered to clients (explicitly deployable, not hidden), not declined, not expired, not
declined in this same run by any source (superseded included: see ``CoverGraph``), and, when it is
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
from collections.abc import Callable, Container, Iterable, Iterator
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

    What declines tonight covers nothing: the updates other sources decline (``doom``) and the
    superseded candidates themselves (``add_candidate``), else two updates that supersede each
    other would each be declined as covered by the other, leaving nothing. So a candidate is
    covered by the nearest live update above it that no source declines tonight (``sure``), found
    through any chain of updates, candidates included. Where none is, a live candidate with
    nothing live above it at all stays tonight (it has no cover itself: a ``top``), and covers
    what it supersedes: the newest update of a chain whose superseder was expired still covers
    the older ones. Candidates in a loop with no way out cover one another and all stay.

    Kept in a temporary SQLite file, not in memory: a neglected 1M-update catalog holds hundreds
    of thousands of supersedences (Defender definitions chain one every few hours), and the run's
    memory must stay flat whatever the catalog's size. Each search remembers what it found for
    every update on its way (``reach``), so a long chain is walked once, not once an update.
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
            # In the order the source gave them (oldest first), which the queue keeps.
            "CREATE TABLE candidate (update_id TEXT UNIQUE NOT NULL, item TEXT);"
            # What a search found above an update, per kind of search ('sure' or 'top'); a NULL
            # cover: nothing of that kind above it.
            "CREATE TABLE reach (kind TEXT, update_id TEXT, cover TEXT,"
            " PRIMARY KEY (kind, update_id)) WITHOUT ROWID;"
            "CREATE TABLE top (update_id TEXT PRIMARY KEY, is_top INTEGER) WITHOUT ROWID;"
        )
        self._deployed = deployed
        self._adding: list[tuple[str, str]] = []  # candidates not yet written, in batches

    def doom(self, update_id: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO doomed VALUES (?)", (update_id,))

    def add_candidate(self, update_id: str, item: str) -> None:
        """A superseded update this run would decline if something covers it (``item``: its
        queue payload as JSON, kept here rather than in memory until its cover is known)."""
        self._adding.append((update_id, item))
        if len(self._adding) >= 1000:
            self._add_pending()

    def _add_pending(self) -> None:
        self._db.executemany("INSERT OR IGNORE INTO candidate VALUES (?, ?)", self._adding)
        self._adding.clear()

    def candidates(self) -> Iterator[tuple[str, str]]:
        """(update ID, payload) of each candidate, in the order they were added."""
        self._add_pending()
        rows = self._db.execute("SELECT update_id, item FROM candidate ORDER BY rowid")
        while batch := rows.fetchmany(1000):
            yield from batch

    def load(self, links: Iterable[Supersedence]) -> CoverGraph:
        batch: list[tuple[str, str]] = []
        alive: list[tuple[str, str | None]] = []
        for link in links:
            batch.append((link.superseded, link.superseding))
            if is_alive(link, deployed=self._deployed):
                alive.append((link.superseding, link.briefly()))
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

    def _alive(self, update_id: str) -> bool:
        """Alive as a superseder, and declined by no other source tonight."""
        return bool(self._db.execute(
            "SELECT 1 FROM alive WHERE update_id = ? "
            "AND NOT EXISTS (SELECT 1 FROM doomed WHERE update_id = ?)",
            (update_id, update_id),
        ).fetchone())  # fmt: skip

    def _candidate(self, update_id: str) -> bool:
        found = self._db.execute("SELECT 1 FROM candidate WHERE update_id = ?", (update_id,))
        return found.fetchone() is not None

    def _sure(self, update_id: str) -> bool:
        """Alive, and declined by no source tonight: it stays whatever else goes."""
        return self._alive(update_id) and not self._candidate(update_id)

    def _top(self, update_id: str) -> bool:
        """A live candidate with nothing live anywhere above it: it has no cover, so it stays."""
        if not (self._candidate(update_id) and self._alive(update_id)):
            return False
        known = self._db.execute("SELECT is_top FROM top WHERE update_id = ?", (update_id,))
        row = known.fetchone()
        if row is None:
            seen = {update_id}
            queue = deque(self._above(update_id))
            found_alive = False
            while queue and not found_alive:
                node = queue.popleft()
                if node not in seen:
                    seen.add(node)
                    found_alive = self._alive(node)
                    queue.extend(self._above(node))
            row = (not found_alive,)
            self._db.execute("INSERT INTO top VALUES (?, ?)", (update_id, row[0]))
        return bool(row[0])

    def _search(self, start: str, kind: str, is_cover: Callable[[str], bool]) -> str | None:
        """The nearest update above ``start`` that ``is_cover``, breadth first, remembered for
        every update on the way (``reach``, per ``kind`` of search)."""
        parent: dict[str, str] = {}
        seen = {start}
        queue = deque((node, start) for node in self._above(start))
        looped = False  # back at the start: what was seen is judged from it, not from itself
        while queue:
            node, below = queue.popleft()
            if node == start:
                looped = True
            if node in seen:
                continue
            seen.add(node)
            parent[node] = below
            found: str | None = node if is_cover(node) else None
            if found is None:
                known = self._db.execute(
                    "SELECT cover FROM reach WHERE kind = ? AND update_id = ?", (kind, node)
                ).fetchone()
                if known is None:
                    queue.extend((above, node) for above in self._above(node))
                    continue
                found = known[0]
                if found is None:
                    continue  # nothing of the kind above it
            # Every update on the way from the start up to here reaches ``found``.
            on_path, step = [], below
            while step != start:
                on_path.append(step)
                step = parent[step]
            on_path.append(start)
            self._remember(kind, [(update_id, found) for update_id in on_path])
            return found
        if not looped:
            self._remember(kind, [(update_id, None) for update_id in seen])
        return None

    def _remember(self, kind: str, found: list[tuple[str, str | None]]) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO reach VALUES (?, ?, ?)",
            [(kind, update_id, cover) for update_id, cover in found],
        )

    def cover(self, update_id: str) -> str | None:
        """What covers the candidate ``update_id`` tonight, or None when nothing alive does: the
        nearest update above it that stays whatever else goes, else the nearest top."""
        return self._search(update_id, "sure", self._sure) or self._search(
            update_id, "top", self._top
        )

    def name_of(self, update_id: str) -> str | None:
        """A live update (what ``cover`` answers) as people look it up: its KB article, else
        its title (drivers have no KB), with its date and approval."""
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
            # Never itself: two updates superseding each other lead back to the start.
            if link.superseding != update_id and is_alive(link, doomed, deployed):
                return link
        for link in links:
            if link.superseding not in seen:
                seen.add(link.superseding)
                queue.append(link.superseding)
    return None
