"""Declines on hand-built catalogs: which updates go, which stay, and why."""

from __future__ import annotations

import pytest

from jobs.exit_codes import ExitCode
from jobs.settings.model import DeclineRule
from jobs.stages.decline import rule_matcher
from tests.helpers import CatalogBuilder, declined_ids, run, settings_for


@pytest.fixture
def chain(tmp_path):
    """Four monthly updates: D supersedes C supersedes B supersedes A. A is the last level."""
    builder = CatalogBuilder(tmp_path / "chain.sqlite3")
    a = builder.update("2026-07 Cumulative Update (KB501)", age_days=120, kb="501")
    b = builder.update("2026-08 Cumulative Update (KB502)", age_days=90, kb="502", supersedes=(a,))
    c = builder.update("2026-09 Cumulative Update (KB503)", age_days=60, kb="503", supersedes=(b,))
    d = builder.update("2026-10 Cumulative Update (KB504)", age_days=20, kb="504", supersedes=(c,))
    unrelated = builder.update("Servicing Stack Update (KB505)", age_days=200, kb="505")
    return builder.close(), {"a": a, "b": b, "c": c, "d": d, "unrelated": unrelated}


def decline(path, state_dir, **options):
    settings = settings_for(
        path, backup={"gate": "off"}, stages={"decline": {"expired": False, **options}}
    )
    report = run(settings, state_dir, stages=["decline"])
    assert report.exit_code == ExitCode.OK, report.stages
    return declined_ids(path)


def test_all_declines_every_superseded_update_and_nothing_else(chain, state_dir):
    path, ids = chain
    assert decline(path, state_dir, superseded="all") == {ids["a"], ids["b"], ids["c"]}


def test_last_level_only_declines_exactly_the_end_of_each_chain(chain, state_dir):
    path, ids = chain
    assert decline(path, state_dir, superseded="last_level_only") == {ids["a"]}


def test_age_counted_from_the_superseding_update(chain, state_dir):
    path, ids = chain
    # B is superseded by C (60 days old), C by D (20 days old): with 30 days from the superseder,
    # A and B go (their superseders are 90 and 60 days old), C stays.
    assert decline(path, state_dir, min_age_days=30, age_basis="superseding") == {
        ids["a"],
        ids["b"],
    }


def test_age_counted_from_the_updates_own_creation(chain, state_dir):
    path, ids = chain
    # Own ages: A 120, B 90, C 60 days: with 70 days, A and B go, C stays.
    assert decline(path, state_dir, min_age_days=70, age_basis="own") == {ids["a"], ids["b"]}
    # The same threshold from the superseding update keeps B (C is 60 days old).


def test_the_two_age_bases_differ_on_the_same_catalog(tmp_path):
    results = {}
    for basis in ("own", "superseding"):
        builder = CatalogBuilder(tmp_path / f"{basis}.sqlite3")
        old = builder.update("Old superseded (KB600)", age_days=200)
        builder.update("New superseding (KB601)", age_days=5, supersedes=(old,))
        path = builder.close()
        results[basis] = decline(
            path, tmp_path / f"state-{basis}", min_age_days=30, age_basis=basis
        ) == {old}
    assert results == {"own": True, "superseding": False}


def test_never_decline_wins_by_kb_and_by_update_id(chain, state_dir):
    path, ids = chain
    declined = decline(path, state_dir, never_decline=["KB502", ids["c"].lower()])
    assert declined == {ids["a"]}


def test_expired_updates_are_declined_when_asked(tmp_path, state_dir):
    builder = CatalogBuilder(tmp_path / "e.sqlite3")
    expired = builder.update("Expired (KB700)", age_days=10, expired=True)
    builder.update("Current (KB701)", age_days=10)
    path = builder.close()
    assert decline(path, state_dir, expired=True, superseded="off") == {expired}


def test_title_rules_match_whole_words_so_2012_does_not_hit_2012_r2(tmp_path, state_dir):
    builder = CatalogBuilder(tmp_path / "t.sqlite3")
    plain = builder.update("Security Update for Windows Server 2012 (KB800)", age_days=10)
    builder.update("Security Update for Windows Server 2012 R2 (KB801)", age_days=10)
    builder.update("Security Update for Windows Server 20120 (KB802)", age_days=10)
    itanium = builder.update(
        "Update for Windows Server 2008 R2 for Itanium-based Systems (KB803)", age_days=10
    )
    path = builder.close()
    rules = [
        {"field": "title", "pattern": "Windows Server 2012", "reason": "ws2012"},
        {"field": "title", "match": "regex", "pattern": r"itanium|\bia64\b", "reason": "itanium"},
    ]
    assert decline(path, state_dir, superseded="off", rules=rules) == {plain, itanium}


def test_product_classification_and_legacy_name_rules(tmp_path, state_dir):
    builder = CatalogBuilder(tmp_path / "p.sqlite3")
    office = builder.update("Security Update for Office (KB900)", age_days=5, product="Office 2016")
    driver = builder.update("Intel - System - 10.1", age_days=5, classification="Drivers")
    arm = builder.update("Some update (KB902)", age_days=5, legacy="KB902-WINDOWS10-ARM64-ROLLUP")
    builder.update("Keep me (KB903)", age_days=5)
    path = builder.close()
    rules = [
        {"field": "product", "pattern": "Office 2016"},
        {"field": "classification", "pattern": "Drivers"},
        {"field": "legacy_name", "match": "regex", "pattern": "-ARM64-"},
    ]
    assert decline(path, state_dir, superseded="off", rules=rules) == {office, driver, arm}


def test_max_declines_per_run_leaves_the_rest_queued(chain, state_dir):
    path, _ = chain
    settings = settings_for(
        path,
        backup={"gate": "off"},
        stages={"decline": {"max_declines_per_run": 2, "expired": False}},
    )
    first = run(settings, state_dir, stages=["decline"])
    assert (
        first.exit_code == ExitCode.PARTIAL
        and first.stages[-1]["done"] == 2
        and first.stages[-1]["reason"] == "max_per_run"
    )
    second = run(settings, state_dir, stages=["decline"])
    assert second.stages[-1]["done"] == 1 and second.exit_code == ExitCode.OK
    assert len(declined_ids(path)) == 3


def test_a_replica_declines_nothing_and_says_why(tmp_path, state_dir, event_log):
    builder = CatalogBuilder(tmp_path / "replica.sqlite3", replica=True)
    old = builder.update("Old (KB1000)", age_days=100)
    builder.update("New (KB1001)", age_days=10, supersedes=(old,))
    path = builder.close()
    report = run(settings_for(path, backup={"gate": "off"}), state_dir, stages=["decline"])
    assert report.exit_code == ExitCode.OK
    assert report.stages[-1]["status"] == "skipped" and report.stages[-1]["reason"] == "replica"
    (skip,) = [event for event in event_log.named("stage.skip") if event["stage"] == "decline"]
    assert skip["reason"] == "replica"
    assert declined_ids(path) == set()


def test_a_replica_refusal_from_sql_itself_also_skips_the_stage(tmp_path, state_dir):
    builder = CatalogBuilder(tmp_path / "r2.sqlite3")
    old = builder.update("Old (KB1100)", age_days=100)
    builder.update("New (KB1101)", age_days=10, supersedes=(old,))
    path = builder.close()
    # Preflight sees an autonomous server; spDeclineUpdate then refuses (replica mode switched on
    # between the two): @failIfReplica = 1 is the last line of defence.
    settings = settings_for(
        path,
        backup={"gate": "off"},
        target={"faults": {"rate": 1.0, "kinds": ["replica"], "statements": ["decline_update"]}},
    )
    report = run(settings, state_dir, stages=["decline"])
    assert report.stages[-1]["status"] == "skipped" and report.stages[-1]["reason"] == "replica"


def test_plan_counts_per_reason_and_declines_nothing(chain, state_dir):
    path, _ = chain
    settings = settings_for(
        path,
        backup={"gate": "off"},
        stages={"decline": {"rules": [{"field": "title", "pattern": "Servicing Stack"}]}},
    )
    report = run(settings, state_dir, stages=["decline"], dry_run=True)
    assert report.stages[-1]["status"] == "planned"
    assert report.stages[-1]["detail"]["by_reason"] == {"superseded": 3, "rule:Servicing Stack": 1}
    assert declined_ids(path) == set()


@pytest.mark.parametrize(
    ("pattern", "text", "hit"),
    [
        ("Windows Server 2012", "Update for Windows Server 2012 (KB1)", True),
        ("Windows Server 2012", "Update for Windows Server 2012 R2 (KB1)", False),
        ("Windows Server 2012", "Update for Windows Server 2012-based Systems", True),
        ("Windows Server 2012", "Update for Windows Server 2012R2", False),
        ("Itanium", "for Itanium-based Systems", True),
        ("Preview", "Cumulative Update Preview for Windows 11", True),
        ("Preview", "Previewer tool", False),
    ],
)
def test_whole_word_matching(pattern, text, hit):
    assert bool(rule_matcher(DeclineRule(field="title", pattern=pattern)).search(text)) is hit
