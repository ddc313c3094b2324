"""Declines: superseded (all or last level only, aged from either date, optionally only recent
arrivals), expired, rules by title, product, classification or legacy name, and the products
still kept. ``never_decline`` always wins.

Only what no one needs is declined. Candidates are updates clients are offered (the SQL keeps
categories, detectoids, hidden updates and bundled children out). Many updates belong to several
products (the Malicious Software Removal Tool, .NET, Defender, servicing stacks): a product or
classification rule declines one only when every product (classification) it belongs to is
unwanted, and ``keep_products`` declines only updates that belong to none of the kept products.
Every product of a declined update travels with it, into its queue payload and its event.

Each candidate source (superseded, expired, the rules) is its own query: one that fails is
logged (``decline.source_fail``) and skipped, the others still fill the queue, and the stage
reports the failed sources and ends ``failed`` rather than silently ``done``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from jobs import events
from jobs.errors import DatabaseError, StageStopped
from jobs.patterns import Matcher, any_pattern
from jobs.runner import queue, work
from jobs.runner.context import RunContext, StageOutcome
from jobs.stages import decline_presets
from jobs.stages.configmgr import SiteUnreadable, SiteView, read_site
from jobs.stages.declared.decline import DeclineRule, DeclineSettings
from jobs.stages.supersedence import CoverGraph, is_alive, live_cover
from jobs.state.store import ACTIVE, DeclineRecord
from jobs.susdb import Supersedence, Susdb, UpdateCategories, UpdateRef, UpdateState

log = events.get_logger("susdb_maint.stages.decline")
# The admin name a decline is made with (WSUS keeps it with the decline, and shows it): the tool
# and the run, so a decline found made is told apart from one another run or host made.
ADMIN_NAME = "susdb-maint"
NOT_KEPT = "not in keep_products"
KEEP_PRODUCTS = "stages.decline.keep_products"  # where an administrator writes it
CLOSEST = 5  # products a refused keep_products entry is shown with
NO_LONGER_CHOSEN = "no longer chosen by the config"
# max_rule_share_percent judges a share only past this many declines: on a small catalog (a
# test server, a freshly installed WSUS) a few legitimate declines are already a large share.
RULE_SHARE_FLOOR = 100

Source = Callable[[], Iterable[tuple[UpdateCategories, str]]]


def rule_matcher(rule: DeclineRule) -> Matcher:
    if rule.match == "regex":
        return any_pattern(rule.pattern)  # an administrator's: RE2, linear time (jobs.patterns)
    # Whole words: "Windows Server 2012" must not also hit "Windows Server 2012 R2".
    words = r"\s+".join(re.escape(word) for word in rule.pattern.split())
    # "R2" is part of a Windows product name, so a whole-word match stops short of it too.
    return re.compile(rf"(?<![\w.-]){words}(?!\w)(?!\s+R\d\b)", re.IGNORECASE)


def product_matcher(name: str) -> Matcher:
    return rule_matcher(DeclineRule(field="product", pattern=name))


def is_protected(update_id: str, kb: str | None, never: set[str]) -> bool:
    return update_id in never or (kb is not None and kb.upper() in never)


def _label(rule: DeclineRule) -> str:
    return rule.reason or rule.pattern


class Rules:
    """The configured rules, applied to one update with all its products and classifications."""

    def __init__(self, rules: list[DeclineRule], keep: list[Matcher]) -> None:
        compiled = [(rule, rule_matcher(rule)) for rule in rules]
        self.text = [(rule, m) for rule, m in compiled if rule.field in ("title", "legacy_name")]
        self.categories = {
            field: [(rule, m) for rule, m in compiled if rule.field == field]
            for field in ("product", "classification")
        }
        self.keep = keep

    def __bool__(self) -> bool:
        return bool(self.text or any(self.categories.values()) or self.keep)

    @property
    def judge_categories(self) -> bool:
        return bool(any(self.categories.values()) or self.keep)

    def reason(self, entry: UpdateCategories) -> str | None:
        """Given an update, return why a rule declines it, or None to keep it. An update with a
        product or classification whose title does not resolve is judged by its title and legacy
        name only: judged on the categories that did resolve, a product rule or keep_products
        would fail open (decline-review N4)."""
        for rule, matcher in self.text:
            text = entry.update.title if rule.field == "title" else entry.legacy_name
            if matcher.search(text or ""):
                return f"rule:{_label(rule)}"
        if entry.unresolved:
            return None
        for field, values in (
            ("product", entry.products),
            ("classification", entry.classifications),
        ):
            rules = self.categories[field]
            if not rules or not values:
                continue
            # Every product (classification) of the update must be unwanted, not just one.
            matched = [
                next((rule for rule, m in rules if m.search(value)), None) for value in values
            ]
            if all(matched):
                labels = dict.fromkeys(_label(rule) for rule in matched if rule is not None)
                return "rule:" + "+".join(labels)
        if (
            self.keep
            and entry.products
            and not any(
                matcher.search(product) for matcher in self.keep for product in entry.products
            )
        ):
            return NOT_KEPT
        return None


def kept_products(susdb: Susdb, names: list[str]) -> list[Matcher]:
    """Matchers for ``keep_products``; raise ValueError, one line naming the setting, each entry
    that matches no product on this server and the products closest to it (a typo would
    otherwise decline every update of the product meant: the whole list then goes unapplied)."""
    matchers = [product_matcher(name) for name in names]
    products = susdb.product_titles()
    unknown = [
        name
        for name, matcher in zip(names, matchers, strict=True)
        if not any(matcher.search(product) for product in products)
    ]
    if unknown:
        found = "; ".join(
            f"{name!r} names no product on this server ({_closest_products(name, products)})"
            for name in unknown
        )
        raise ValueError(f"{KEEP_PRODUCTS}: {found}; nothing is declined for keep_products")
    return matchers


def _closest_products(name: str, products: list[str]) -> str:
    """The products most like ``name`` (difflib, case-insensitive), or a few the server has."""
    by_folded = {product.casefold(): product for product in products}
    close = difflib.get_close_matches(name.casefold(), list(by_folded), n=CLOSEST)
    if close:
        return "closest: " + ", ".join(repr(by_folded[folded]) for folded in close)
    listed = sorted(by_folded.values(), key=str.casefold)
    more = len(listed) - CLOSEST
    return (
        "none is close; it has "
        + (", ".join(map(repr, listed[:CLOSEST])) or "no product")
        + (f" and {more} more" if more > 0 else "")
    )


def sources(
    susdb: Susdb,
    settings: DeclineSettings,
    notes: Notes,
    today: date,
    site: SiteView | None = None,
) -> list[tuple[str, Source]]:
    """The candidate sources, by name, in the order their reasons win."""
    chosen: list[tuple[str, Source]] = []
    if settings.superseded != "off":
        chosen.append(
            (
                "superseded",
                lambda: (
                    (entry, "superseded")
                    for entry in susdb.superseded_updates(**superseded_scope(settings, site))
                ),
            )
        )
    if settings.expired:
        chosen.append(
            ("expired", lambda: ((entry, "expired") for entry in susdb.expired_updates()))
        )
    configured = [*settings.rules, *decline_presets.preset_rules(settings.presets, today)]
    if configured or settings.keep_products:

        def by_rule() -> Iterator[tuple[UpdateCategories, str]]:
            keep: list[Matcher] = []
            if settings.keep_products:
                try:
                    keep = kept_products(susdb, settings.keep_products)
                except ValueError as error:
                    notes.problems["keep_products"] = str(error)
                    source_failed(susdb, "keep_products", error, notes)
                except DatabaseError as error:
                    source_failed(susdb, "keep_products", error, notes)
            rules = Rules(configured, keep)
            if not rules:
                return
            offered = matched = 0
            for entry in susdb.undeclined_updates_with_categories():
                offered += 1
                if entry.unresolved and rules.judge_categories:
                    notes.unresolved += 1
                    log.warning(
                        "decline.category_unresolved",
                        update_id=entry.update.update_id,
                        kb=entry.update.kb,
                        title=entry.update.title,
                        category_ids=entry.unresolved,
                    )
                reason = rules.reason(entry)
                if reason:
                    matched += 1
                    yield entry, reason
            # Judged once the whole catalog is read; the queue is built only after this, so a
            # refusal here leaves nothing queued.
            too_many = matched * 100 > offered * settings.max_rule_share_percent
            if too_many and matched > RULE_SHARE_FLOOR:
                raise RulesTooBroad(matched, offered, settings.max_rule_share_percent)

        chosen.append(("rules", by_rule))
    return chosen


class RulesTooBroad(Exception):
    """The rules would decline more of the catalog than ``max_rule_share_percent`` allows."""

    def __init__(self, matched: int, offered: int, limit: int) -> None:
        super().__init__(
            f"the rules, presets and keep_products would decline {matched} of the {offered} "
            f"updates clients are offered, more than max_rule_share_percent ({limit}%); nothing "
            "was declined. Check the rules, or raise stages.decline.max_rule_share_percent"
        )


@dataclass
class Notes:
    """What building the candidates found besides candidates: the sources that failed, and the
    updates left alone because a category title did not resolve."""

    failed: list[str] = dataclasses.field(default_factory=list)
    # Failed sources whose cause is the config, with the line that says so (source -> line).
    problems: dict[str, str] = dataclasses.field(default_factory=dict)
    unresolved: int = 0
    # Candidates Configuration Manager deploys, each once whatever the sources that found it.
    deployed_kept: set[str] = dataclasses.field(default_factory=set)
    declined_but_deployed: int = 0  # deployed by Configuration Manager, declined in WSUS


def superseded_scope(settings: DeclineSettings, site: SiteView | None) -> dict[str, Any]:
    """What makes a superseded update a candidate, one declaration for the queue and for the
    check before each decline is sent."""
    return {
        "last_level_only": settings.superseded == "last_level_only",
        "min_age_days": settings.min_age_days,
        "age_from_superseding": settings.age_basis == "superseding",
        "arrived_within_months": settings.arrived_within_months,
        "cleanup_wizard": settings.superseded == "cleanup_wizard",
        # Configuration Manager's wait counts from the superseding update, whatever the basis.
        "superseder_min_age_days": site.supersedence_days if site else 0,
    }


def source_failed(susdb: Susdb, name: str, error: Exception, notes: Notes) -> None:
    if isinstance(error, StageStopped):
        # A stop or the window's end cut the query short: the stage is partial, not failed
        # (admin review N44: Ctrl-C during plan read "failed", exit 1).
        raise error
    log.error(
        "decline.source_fail",
        source=name,
        error=str(error),
        error_kind=getattr(error, "kind", "config"),
    )
    notes.failed.append(name)
    if getattr(error, "reconnect", False):
        # The next source needs a working connection; if this fails too, it fails on its own.
        with contextlib.suppress(Exception):
            susdb.executor.reconnect()


@dataclass(frozen=True)
class Decline:
    """One update to decline, and why: the decline queue's item."""

    update_id: str
    kb: str | None = None
    title: str = ""
    reason: str = ""
    products: list[str] = dataclasses.field(default_factory=list)
    classifications: list[str] = dataclasses.field(default_factory=list)
    legacy_name: str = ""
    covered_by: str = ""  # superseded: the live update that covered it when it was queued
    covered_by_name: str = ""  # and that update as people look it up: KB (else title), state
    # Its products or classifications whose title did not resolve (CategoryIDs): judged again
    # before it is sent, the rules judging categories still leave it alone.
    unresolved: list[int] = dataclasses.field(default_factory=list)

    def because(self) -> str:
        """Why it is queued, as an administrator reviews it: "superseded by KB5034441 (created
        2024-01-09, not approved)",
        "expired", the rule or preset ("rule:preset:x86"), "not in keep_products"."""
        if self.reason == "superseded" and (self.covered_by_name or self.covered_by):
            return f"superseded by {self.covered_by_name or self.covered_by}"
        return self.reason

    def categories(self) -> UpdateCategories:
        """The update as the rules see it, from what was read when it was queued."""
        return UpdateCategories(
            UpdateRef(self.update_id, 0, self.title, self.kb),
            self.legacy_name,
            list(self.products),
            list(self.classifications),
            list(self.unresolved),
        )


def payload(entry: UpdateCategories, reason: str) -> Decline:
    update = entry.update
    return Decline(
        update.update_id,
        update.kb,
        update.title,
        reason,
        list(entry.products),
        list(entry.classifications),
        entry.legacy_name,
        unresolved=list(entry.unresolved),
    )


def _unprotected(
    susdb: Susdb,
    chosen: list[tuple[str, Source]],
    never: set[str],
    notes: Notes,
    site: SiteView | None = None,
) -> Iterator[tuple[str, Decline]]:
    """(update ID, payload) for each reason a source gives, never_decline left out; a source that
    fails is logged, named in ``failed`` and skipped, the others still yield."""
    for name, source in chosen:
        try:
            for entry, reason in source():
                update = entry.update
                if is_protected(update.update_id, update.kb, never):
                    log.info(
                        "decline.protected",
                        update_id=update.update_id,
                        kb=update.kb,
                        title=update.title,
                    )
                    continue
                if site is not None and site.deploys(update.update_id):
                    notes.deployed_kept.add(update.update_id)
                    log.info(
                        "decline.deployed",
                        update_id=update.update_id,
                        kb=update.kb,
                        title=update.title,
                        candidate_reason=reason,
                    )
                    continue
                yield update.update_id, payload(entry, reason)
        except DatabaseError as error:
            if error.reconnect:
                raise  # a lost link: the queue build is retried whole (network-review D10)
            source_failed(susdb, name, error, notes)


def candidates(
    susdb: Susdb,
    settings: DeclineSettings,
    today: date,
    notes: Notes | None = None,
    site: SiteView | None = None,
) -> Iterator[tuple[str, Decline]]:
    """Yield (update ID, payload) for each reason an update matches; the work queue keeps an
    update's first reason. A lost connection is raised, not skipped: the queue engine retries
    the whole build after a reconnect, rather than fail a source for the night.

    The other sources come first: what they decline tonight covers nothing, and neither do the
    superseded candidates. A superseded update is then queued only while a live update that
    stays tonight covers it (``supersedence.CoverGraph``); when the supersedences
    cannot be read, no superseded update is (the source fails closed). Nothing here holds the
    catalog in memory: candidates stream, the cover graph lives in a temporary file."""
    notes = Notes() if notes is None else notes
    never = set(settings.never_decline)
    chosen = sources(susdb, settings, notes, today, site)
    superseded = [(name, source) for name, source in chosen if name == "superseded"]
    others = [pair for pair in chosen if pair[0] != "superseded"]
    graph = CoverGraph(deployed=site.deployed if site else ())
    try:
        # The other sources first, streamed: each is queued as it comes (the queue keeps an
        # update's first reason) and marked doomed, since what they decline covers nothing.
        for key, item in _unprotected(susdb, others, never, notes, site):
            graph.doom(key)
            yield key, item
        if not superseded:
            return
        try:
            graph.load(susdb.supersedences())
        except DatabaseError as error:
            if error.reconnect:
                raise
            source_failed(susdb, "superseded", error, notes)
            return
        # Every superseded candidate first: they decline tonight too, so none covers another.
        for key, item in _unprotected(susdb, superseded, never, notes, site):
            graph.add_candidate(key, json.dumps(queue.fields_of(item)))
        for key, stored in graph.candidates():
            item = Decline(**json.loads(stored))
            covering = graph.cover(key)
            if covering is None:
                log.info(
                    "decline.uncovered",
                    update_id=key,
                    kb=item.kb,
                    title=item.title,
                    reason="no live update supersedes it",
                )
                continue
            yield (
                key,
                dataclasses.replace(
                    item, covered_by=covering, covered_by_name=graph.name_of(covering) or ""
                ),
            )
    finally:
        graph.close()


class Judge:
    """Judges a queued decline again right before it is sent: the config as it is now
    (never_decline, the sources and rules still chosen) and, for a superseded update, a live
    superseder on the server at that moment. A queue can outlive the config that built it (a
    night that ran out of time, a config changed before the next)."""

    def __init__(
        self,
        susdb: Susdb,
        settings: DeclineSettings,
        today: date,
        site: SiteView | None,
        queued: Callable[[], frozenset[str]] = frozenset,
        queued_this_run: Callable[[], bool] = lambda: False,
    ) -> None:
        self.today = today
        self.site = site
        self._queued = queued
        self._queued_this_run = functools.cache(queued_this_run)
        self.susdb = susdb
        self.settings = settings
        self.never = set(settings.never_decline)
        self.problem: str | None = None  # why keep_products does not resolve, for the stage

    @functools.cached_property
    def rules(self) -> Rules | None:
        """The rules as configured now; None when keep_products cannot be resolved (then no
        rule decline goes out: fail closed)."""
        keep: list[Matcher] = []
        if self.settings.keep_products:
            try:
                keep = kept_products(self.susdb, self.settings.keep_products)
            except ValueError as error:
                self.problem = str(error)
                return None
            except DatabaseError:
                return None
        presets = decline_presets.preset_rules(self.settings.presets, self.today)
        configured = [*self.settings.rules, *presets]
        return Rules(configured, keep)

    @functools.cached_property
    def doomed(self) -> frozenset[str]:
        """Updates still queued for a decline, for any reason: declined too, so covering nothing
        (read once, when the first superseded decline is judged: the queue exists by then). The
        item being judged is among them; a cover is never the item itself."""
        return self._queued()

    def _recorded_cover_if_alive(
        self, item: Decline, deployed: frozenset[str]
    ) -> Supersedence | None:
        """The update that covered ``item`` when it was queued, if it is alive on the server now
        and not queued for a decline itself: one indexed read instead of a walk up the chain,
        which in a long one (Defender's definitions) passes every update queued below the
        cover."""
        if not item.covered_by:
            return None
        link = self.susdb.as_superseder(item.covered_by)
        if link is None or not is_alive(link, self.doomed, deployed):
            return None
        return link

    def _still_superseded(self, item: Decline) -> bool:
        """Whether the server still finds ``item`` a superseded candidate under the settings as
        they are now (age, scope, the cleanup wizard's rule, Configuration Manager's wait)."""
        scope = superseded_scope(self.settings, self.site)
        return any(True for _ in self.susdb.superseded_updates(**scope, update_id=item.update_id))

    def verdict(self, item: Decline) -> Verdict:
        """Whether ``item`` may be declined now, and why (in words, for the history)."""
        if is_protected(item.update_id, item.kb, self.never):
            return Verdict("never_decline")
        if self.site is not None and self.site.deploys(item.update_id):
            return Verdict("deployed by Configuration Manager")
        if item.reason == "superseded":
            if self.settings.superseded == "off":
                return Verdict(NO_LONGER_CHOSEN)
            # Queued by an earlier run, under the settings then: still a candidate under these?
            if not self._queued_this_run() and not self._still_superseded(item):
                return Verdict(NO_LONGER_CHOSEN)
            deployed = self.site.deployed if self.site else frozenset()
            # What covered it when queued, else (that one is gone) the server walked afresh.
            cover = self._recorded_cover_if_alive(item, deployed) or live_cover(
                self.susdb.superseders_of, item.update_id, deployed, doomed=self.doomed
            )
            if cover is None:
                return Verdict("no live superseder")
            if self.settings.superseded == "cleanup_wizard" and not any(
                link.approved and is_alive(link)
                for link in self.susdb.superseders_of(item.update_id)
            ):
                return Verdict("no approved superseder")
            return Verdict(why=f"superseded; covered by {cover.describe()}")
        if item.reason == "expired":
            if not self.settings.expired:
                return Verdict(NO_LONGER_CHOSEN)
            return Verdict(why=f"expired by Microsoft{_belongs_to(item)}")
        rules = self.rules
        reason = rules.reason(item.categories()) if rules is not None else None
        if reason is None:
            return Verdict(NO_LONGER_CHOSEN)
        # The rule that declines it now, which may not be the one that queued it.
        return Verdict(why=f"{reason}{_belongs_to(item)}", reason=reason)


@dataclass(frozen=True)
class Verdict:
    """A queued decline judged at the moment of sending: an objection, or why it may go."""

    objection: str | None = None
    why: str = ""
    reason: str = ""  # a rule decline's rule as configured now; else the queued reason stands


def _belongs_to(item: Decline) -> str:
    parts = []
    if item.products:
        parts.append(f"products: {', '.join(item.products)}")
    if item.classifications:
        parts.append(f"classifications: {', '.join(item.classifications)}")
    return "".join(f"; {part}" for part in parts)


# Declared, with its settings and the rights it needs, in jobs/stages/declared/decline.py.
def run(ctx: RunContext) -> StageOutcome:
    settings = ctx.settings.stages.decline
    if ctx.facts.replica:
        return StageOutcome(status="skipped", reason="replica")
    notes = Notes()

    # The run's clock decides which releases the lifecycle preset holds out of service.
    today = ctx.clock.now().date()
    site: SiteView | None = None
    if ctx.settings.configmgr is not None:
        try:
            site = read_site(ctx.settings.configmgr, ctx.clock)
        except SiteUnreadable as error:
            log.error("decline.refused", reason=str(error))
            return StageOutcome(status="refused", reason=str(error))
        notes.declined_but_deployed = declined_but_deployed(ctx.susdb, site)
    judge = Judge(
        ctx.susdb,
        settings,
        today,
        site,
        lambda: ctx.store.active_keys(ctx.database, "decline"),
        lambda: (ctx.store.queue_info(ctx.database, "decline") or {}).get("run_id") == ctx.run_id,
    )

    verdicts: dict[str, Verdict] = {}  # update ID -> its verdict, on to the history record

    def process(item: Decline) -> queue.Settled:
        verdict = judge.verdict(item)
        objection = verdict.objection
        if objection is not None:
            log.info(
                "decline.withheld",
                update_id=item.update_id,
                kb=item.kb,
                title=item.title,
                queued_reason=item.reason,
                reason=objection,
            )
            return queue.Settled("skipped", objection)
        verdicts[item.update_id] = verdict
        sent, state = ctx.susdb.decline_update(item.update_id, admin_name(ctx.run_id))
        if not sent:
            # The server checked first: deleted, or declined already (by a run whose record the
            # state store lost, or by hand). Nothing was sent, so nothing is recorded as made.
            settled = settle(state) or _not_declined(item)
            if settled is queue.DONE:
                settled = queue.Settled("skipped", "already_declined")
            log.info(
                "item.settled", item=item.update_id, status=settled.status, reason="on the server"
            )
            return settled
        settled = settle(state) or _not_declined(item)
        log.info(
            "decline.update",
            update_id=item.update_id,
            kb=item.kb,
            title=item.title,
            reason=verdict.reason or item.reason,
            why=verdict.why,
            products=item.products,
            classifications=item.classifications,
        )
        return settled

    def verify(item: Decline) -> queue.Settled | None:
        return settle(ctx.susdb.update_state(item.update_id))

    def audit(item: Decline, sent_by: str) -> DeclineRecord:
        # A decline settled on the server after a lost reply or a killed run has no verdict of
        # this run's: say what was known when it was queued.
        verdict = verdicts.pop(item.update_id, Verdict())
        why = verdict.why or (
            f"superseded; covered by {item.covered_by} when queued" if item.covered_by else ""
        )
        reason = verdict.reason or item.reason
        return DeclineRecord(sent_by, item.update_id, item.kb, item.title, reason, why)

    try:
        outcome = work.process_queue(
            ctx,
            queue.QueueWork(
                "decline",
                Decline,
                lambda: candidates(ctx.susdb, settings, today, notes, site),
                process,
                per_item_seconds_guess=0.1,
                verify=verify,
                audit=audit,
                limit=settings.max_declines_per_run or None,
            ),
        )
    except RulesTooBroad as refusal:
        log.error("decline.refused", reason=str(refusal))
        return StageOutcome(status="refused", reason=str(refusal))
    if judge.problem is not None and "keep_products" not in notes.failed:
        # A queue resumed from an earlier night met a keep_products that no longer resolves:
        # its rule declines were withheld; say why, as a fresh queue would.
        notes.failed.append("keep_products")
        notes.problems["keep_products"] = judge.problem
    outcome.detail["by_reason"] = queued_reasons(ctx)
    if not ctx.dry_run:
        # What it declined, per reason (its confirmed declines): the queue's own counts say what
        # is still queued, nothing once it has drained.
        declined = ctx.store.declined_by_reason(ctx.run_id)
        if declined:
            outcome.detail["declined_by_reason"] = declined
    if notes.unresolved:
        outcome.detail["category_unresolved"] = notes.unresolved
    if site is not None:
        # Both ways: candidates kept because deployed; deployed updates WSUS has declined.
        outcome.detail["configmgr_deployed"] = len(site.deployed)
        outcome.detail["kept_deployed"] = len(notes.deployed_kept)
        outcome.detail["declined_but_deployed"] = notes.declined_but_deployed
    if notes.failed:
        outcome.detail["failed_sources"] = notes.failed
        if outcome.status in ("done", "planned"):
            outcome.status = "failed"
            outcome.reason = failed_sources_reason(notes)
    return outcome


def failed_sources_reason(notes: Notes) -> str:
    """One line for the failed sources: the config's problem where it is one, else their names."""
    unexplained = [name for name in notes.failed if name not in notes.problems]
    parts = [notes.problems[name] for name in notes.failed if name in notes.problems]
    if unexplained:
        parts.append(f"candidate source failed: {', '.join(unexplained)}")
    return "; ".join(parts)


def declined_but_deployed(susdb: Susdb, site: SiteView) -> int:
    """Updates Configuration Manager deploys that WSUS has declined (someone declined them in
    the console, or an earlier tool did): clients report them "not required" and compliance lies.
    One read of the declined updates, met with the deployed ones here (not a round trip per
    deployed update); each found is an event, the count goes into the stage's detail."""
    if not site.deployed:
        return 0
    found = sorted(
        update_id for update_id in susdb.declined_update_ids() if site.deploys(update_id)
    )
    for update_id in found:
        log.warning("configmgr.declined_but_deployed", update_id=update_id)
    return len(found)


def admin_name(run_id: str) -> str:
    return f"{ADMIN_NAME} {run_id}"


def declined_by(admin: str | None) -> str | None:
    """Who made a decline, from its admin name: a run of this tool (its run ID), or whoever the
    name says; None when the server names no one we can tell apart (none kept, or an earlier
    version's plain ``susdb-maint``)."""
    if not admin or admin.strip() == ADMIN_NAME:
        return None
    prefix = ADMIN_NAME + " "
    return admin[len(prefix) :].strip() if admin.startswith(prefix) else admin


def settle(state: UpdateState) -> queue.Settled | None:
    """A deleted update is gone (never a decline); a declined one is done, by whom the server
    says; else not yet."""
    if not state.present:
        return queue.GONE
    if not state.declined:
        return None
    return queue.Settled("done", done_by=declined_by(state.declined_by))


def _not_declined(item: Decline) -> queue.Settled:
    raise DatabaseError(f"spDeclineUpdate returned, but update {item.update_id} is not declined")


def queued_reasons(ctx: RunContext) -> dict[str, int]:
    """Declines still queued (or, for a plan, planned), per reason (counted in the state store,
    not in memory)."""
    if "decline" in ctx.planned:
        return ctx.store.planned_reasons(ctx.run_id, "decline")
    return ctx.store.count_by_reason(ctx.database, "decline", ACTIVE)
