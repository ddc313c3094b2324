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
from collections import deque
from collections.abc import Callable, Container, Iterable
from datetime import date

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
    """Every supersedence of the catalog, read once: who covers each superseded update."""

    def __init__(
        self,
        links: Iterable[Supersedence],
        doomed: Container[str],
        deployed: Container[str] = (),
    ) -> None:
        self._up: dict[str, list[str]] = {}
        self._alive: dict[str, bool] = {}
        for link in links:
            self._up.setdefault(link.superseded, []).append(link.superseding)
            self._alive[link.superseding] = is_alive(link, doomed, deployed)
        self._dead: set[str] = set()  # proven to reach nothing alive

    def cover(self, update_id: str) -> str | None:
        """The nearest live update covering ``update_id``, or None when nothing alive does."""
        seen = {update_id}
        queue = deque(self._up.get(update_id, ()))
        while queue:
            node = queue.popleft()
            if node in seen:
                continue
            seen.add(node)
            if self._alive.get(node):
                return node
            if node not in self._dead:  # dead: nothing alive above it (it may be alive itself)
                queue.extend(self._up.get(node, ()))
        self._dead |= seen  # none of them is alive, and nothing above any of them is
        return None


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
