"""Declines: superseded (all or last level only, aged from either date), expired, and rules by
title, product, classification or legacy name. ``never_decline`` always wins."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from jobs import events
from jobs.errors import DatabaseError
from jobs.runner import queue, work
from jobs.runner.context import RunContext, StageOutcome
from jobs.settings.model import DeclineRule, DeclineSettings
from jobs.stages import decline_presets
from jobs.stages.registry import stage
from jobs.state.store import ACTIVE, DeclineRecord, WorkItem
from jobs.susdb import Susdb, UpdateCategories, UpdateRef, UpdateState

log = events.get_logger("susdb_maint.stages.decline")
ADMIN_NAME = "susdb-maint"


def rule_matcher(rule: DeclineRule) -> re.Pattern[str]:
    if rule.match == "regex":
        return re.compile(rule.pattern, re.IGNORECASE)
    # Whole words: "Windows Server 2012" must not also hit "Windows Server 2012 R2".
    words = r"\s+".join(re.escape(word) for word in rule.pattern.split())
    # "R2" is part of a Windows product name, so a whole-word match stops short of it too.
    return re.compile(rf"(?<![\w.-]){words}(?!\w)(?!\s+R\d\b)", re.IGNORECASE)


def rule_fields(rule: DeclineRule, entry: UpdateCategories) -> list[str]:
    if rule.field == "title":
        return [entry.update.title]
    if rule.field == "product":
        return entry.products
    if rule.field == "classification":
        return entry.classifications
    return [entry.legacy_name]


def is_protected(update: UpdateRef, never: set[str]) -> bool:
    return update.update_id in never or (update.kb is not None and update.kb.upper() in never)


def candidates(susdb: Susdb, settings: DeclineSettings) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (update ID, payload) for each reason an update matches, superseded first; the work
    queue keeps an update's first reason, so nothing here holds the whole catalog in memory."""
    never = set(settings.never_decline)

    def emit(update: UpdateRef, reason: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if is_protected(update, never):
            log.info(
                "decline.protected", update_id=update.update_id, kb=update.kb, title=update.title
            )
            return
        yield (
            update.update_id,
            {
                "update_id": update.update_id,
                "kb": update.kb,
                "title": update.title,
                "reason": reason,
            },
        )

    if settings.superseded != "off":
        for update in susdb.superseded_updates(
            last_level_only=settings.superseded == "last_level_only",
            min_age_days=settings.min_age_days,
            age_from_superseding=settings.age_basis == "superseding",
        ):
            yield from emit(update, "superseded")
    if settings.expired:
        for update in susdb.expired_updates():
            yield from emit(update, "expired")
    rules = [*settings.rules, *decline_presets.preset_rules(settings.presets)]
    if rules:
        matchers = [(rule, rule_matcher(rule)) for rule in rules]
        for entry in susdb.undeclined_updates_with_categories():
            for rule, matcher in matchers:
                if any(matcher.search(text or "") for text in rule_fields(rule, entry)):
                    yield from emit(entry.update, f"rule:{rule.reason or rule.pattern}")
                    break


@stage(
    name="decline",
    order=30,
    destructive=True,
    needs_preflight=True,
    phase="decline",
    settings="decline",
)
def run(ctx: RunContext) -> StageOutcome:
    settings = ctx.settings.stages.decline
    if ctx.facts.get("replica"):
        return StageOutcome(status="skipped", reason="replica")

    def process(payload: dict[str, Any]) -> queue.Settled:
        state = ctx.susdb.decline_update(payload["update_id"], ADMIN_NAME)
        return settle(state) or _not_declined(payload)

    def verify(payload: dict[str, Any]) -> queue.Settled | None:
        return settle(ctx.susdb.update_state(payload["update_id"]))

    def record(item: WorkItem, sent_by: str) -> DeclineRecord:
        payload = item.payload
        return DeclineRecord(
            sent_by, payload["update_id"], payload.get("kb"), payload["title"], payload["reason"]
        )

    try:
        outcome = work.process_queue(
            ctx,
            queue.QueueWork(
                "decline",
                lambda: candidates(ctx.susdb, settings),
                process,
                per_item_seconds_guess=0.1,
                verify=verify,
                record=record,
                limit=settings.max_declines_per_run or None,
            ),
        )
    except work.StageStopped as stopped:
        return StageOutcome(status=stopped.status, reason=stopped.reason)
    outcome.detail["by_reason"] = queued_reasons(ctx)
    return outcome


def settle(state: UpdateState) -> queue.Settled | None:
    """A deleted update is gone (never a decline); a declined one is done; else not yet."""
    if not state.present:
        return queue.GONE
    return queue.DONE if state.declined else None


def _not_declined(payload: dict[str, Any]) -> queue.Settled:
    raise DatabaseError(
        f"spDeclineUpdate returned, but update {payload['update_id']} is not declined"
    )


def queued_reasons(ctx: RunContext) -> dict[str, int]:
    """Declines still queued, per reason (counted in the state store, not in memory)."""
    return ctx.store.count_by_reason(ctx.database, "decline", ACTIVE)
