"""Declines on hand-built catalogs, beyond which updates go and with what reason (those are the
cases in tests/fixtures/decline_cases.yml): limits and queues, plans, refusals, replicas, events,
the history's why, and what may ever reach spDeclineUpdate."""

from __future__ import annotations

import json

import pytest

from jobs.exit_codes import ExitCode
from jobs.stages.configmgr import SiteView
from jobs.stages.declared.decline import DeclineRule
from jobs.stages.decline import declined_but_deployed, rule_matcher
from tests.helpers import (
    CatalogBuilder,
    declined_ids,
    gateway,
    offered_to_spdeclineupdate,
    query,
    run,
    run_cli,
    settings_for,
    simulator_config,
)


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
        # Age 0 unless a test names one: these tests pin the other rules (the default age has
        # its own cases in tests/fixtures/decline_cases.yml).
        path,
        backup={"gate": "off"},
        stages={"decline": {"expired": False, "min_age_days": 0, **options}},
    )
    report = run(settings, state_dir, stages=["decline"])
    assert report.exit_code == ExitCode.OK, report.stages
    return declined_ids(path)


def test_max_declines_per_run_leaves_the_rest_queued(chain, state_dir):
    path, _ = chain
    settings = settings_for(
        path,
        backup={"gate": "off"},
        stages={"decline": {"max_declines_per_run": 2, "expired": False, "min_age_days": 0}},
    )
    first = run(settings, state_dir, stages=["decline"])
    assert (
        first.exit_code == ExitCode.PARTIAL
        and first.stages[-1].done == 2
        and first.stages[-1].reason == "max_per_run"
    )
    second = run(settings, state_dir, stages=["decline"])
    assert second.stages[-1].done == 1 and second.exit_code == ExitCode.OK
    assert len(declined_ids(path)) == 3


def test_a_replica_declines_nothing_and_says_why(tmp_path, state_dir, event_log):
    builder = CatalogBuilder(tmp_path / "replica.sqlite3", replica=True)
    old = builder.update("Old (KB1000)", age_days=100)
    builder.update("New (KB1001)", age_days=10, supersedes=(old,))
    path = builder.close()
    report = run(settings_for(path, backup={"gate": "off"}), state_dir, stages=["decline"])
    assert report.exit_code == ExitCode.OK
    assert report.stages[-1].status == "skipped" and report.stages[-1].reason == "replica"
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
        stages={"decline": {"min_age_days": 0}},
    )
    report = run(settings, state_dir, stages=["decline"])
    assert report.stages[-1].status == "skipped" and report.stages[-1].reason == "replica"


def test_plan_counts_per_reason_and_declines_nothing(chain, state_dir):
    path, _ = chain
    settings = settings_for(
        path,
        backup={"gate": "off"},
        stages={
            "decline": {
                "min_age_days": 0,
                "rules": [{"field": "title", "pattern": "Servicing Stack"}],
            }
        },
    )
    report = run(settings, state_dir, stages=["decline"], dry_run=True)
    assert report.stages[-1].status == "planned"
    assert report.stages[-1].detail["by_reason"] == {"superseded": 3, "rule:Servicing Stack": 1}
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


# -- only what no one needs (issue 12) ---------------------------------------------------------


@pytest.fixture
def shared(tmp_path):
    """Updates of a retired product, alone and shared with products still in use."""
    builder = CatalogBuilder(tmp_path / "shared.sqlite3")
    ids = {
        "only_81": builder.update(
            "Update for Windows 8.1 (KB3001)", age_days=10, product="Windows 8.1"
        ),
        "msrt": builder.update(
            "Windows Malicious Software Removal Tool x64 - v5.130 (KB890830)",
            age_days=10,
            product="Windows 8.1",
            also_products=("Windows 11", "Windows Server 2022"),
            classification="Update Rollups",
        ),
        "81_and_7": builder.update(
            "Update for Windows 8.1 and Windows 7 (KB3002)",
            age_days=10,
            product="Windows 8.1",
            also_products=("Windows 7",),
        ),
        "only_11": builder.update(
            "Update for Windows 11 (KB3003)", age_days=10, product="Windows 11"
        ),
        "defender": builder.update(
            "Security Intelligence Update for Microsoft Defender Antivirus (KB2267602)",
            age_days=1,
            product="Microsoft Defender Antivirus",
            also_products=("Windows 11",),
            classification="Definition Updates",
        ),
    }
    return builder.close(), ids


def test_a_keep_products_entry_that_names_no_product_declines_nothing_for_it_and_fails_the_stage(
    shared, state_dir, event_log
):
    path, _ = shared
    settings = settings_for(
        path,
        backup={"gate": "off"},
        stages={
            "decline": {"expired": False, "superseded": "off", "keep_products": ["Windows 12"]}
        },
    )
    report = run(settings, state_dir, stages=["decline"])
    stage = report.stages[-1]
    assert report.exit_code == ExitCode.STAGE_FAILED
    assert stage.status == "failed" and stage.detail["failed_sources"] == ["keep_products"]
    (failure,) = event_log.named("decline.source_fail")
    assert failure["source"] == "keep_products" and "'Windows 12'" in failure["error"]
    assert declined_ids(path) == set()


KEEP_PRODUCTS_LINE = (
    "stages.decline.keep_products: 'Windos Server 2022' names no product on this server "
    "(closest: 'Windows Server 2022'"
)


def test_a_misspelled_keep_products_entry_is_named_with_the_closest_products_and_nothing_is_declined_for_the_list(
    shared, state_dir
):
    """Admin review N12: the kept products that do resolve are not applied alone either, or
    every Windows Server 2022 update would go for the typo."""
    path, _ = shared
    settings = settings_for(
        path,
        backup={"gate": "off"},
        stages={
            "decline": {
                "expired": False,
                "superseded": "off",
                "keep_products": ["Windos Server 2022", "Windows 11"],
            }
        },
    )
    report = run(settings, state_dir, stages=["decline"])
    stage = report.stages[-1]
    assert report.exit_code == ExitCode.STAGE_FAILED and stage.status == "failed"
    assert stage.reason is not None and stage.reason.startswith(KEEP_PRODUCTS_LINE)
    assert stage.reason.endswith("; nothing is declined for keep_products")
    assert declined_ids(path) == set()


def test_a_keep_products_entry_close_to_no_product_lists_some_the_server_has(shared, state_dir):
    path, _ = shared
    settings = settings_for(
        path, backup={"gate": "off"}, stages={"decline": {"keep_products": ["Solaris"]}}
    )
    stage = run(settings, state_dir, stages=["decline"]).stages[-1]
    assert stage.reason is not None
    assert stage.reason.startswith(
        "stages.decline.keep_products: 'Solaris' names no product on this server (none is "
        "close; it has "
    )
    assert "Windows 11" in stage.reason and "Windows 8.1" in stage.reason


def test_a_keep_products_typo_met_by_a_resumed_queue_withholds_its_declines_and_says_why(
    shared, state_dir
):
    path, _ = shared
    night = {"expired": False, "superseded": "off", "max_declines_per_run": 1}
    first = {**night, "keep_products": ["Windows 11", "Microsoft Defender Antivirus"]}
    run(
        settings_for(path, backup={"gate": "off"}, stages={"decline": first}),
        state_dir,
        stages=["decline"],
    )
    (declined_first,) = declined_ids(path)
    second = {**first, "keep_products": ["Windos 11", "Microsoft Defender Antivirus"]}
    report = run(
        settings_for(path, backup={"gate": "off"}, stages={"decline": second}),
        state_dir,
        stages=["decline"],
    )
    stage = report.stages[-1]
    assert declined_ids(path) == {declined_first} and stage.skipped == 1
    assert stage.status == "failed" and report.exit_code == ExitCode.STAGE_FAILED
    assert stage.reason is not None and stage.reason.startswith(
        "stages.decline.keep_products: 'Windos 11' names no product on this server "
        "(closest: 'Windows 11'"
    )


@pytest.mark.slow
def test_plan_says_in_one_line_which_keep_products_entry_names_no_product(shared, tmp_path):
    path, _ = shared
    extra = '[stages.decline]\nkeep_products = ["Windos Server 2022", "Windows 11"]\n'
    config = simulator_config(tmp_path, path, extra=extra)
    result = run_cli("--config", str(config), "--state-dir", str(tmp_path / "state"), "plan")
    assert result.returncode == ExitCode.STAGE_FAILED, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("susdb-maint:")]
    assert line.startswith(f"susdb-maint: sim: decline failed: {KEEP_PRODUCTS_LINE}")
    assert "Traceback" not in result.stderr


def test_every_product_of_a_declined_update_is_in_its_queued_payload_and_its_event(
    shared, state_dir, event_log
):
    path, ids = shared
    rules = [
        {"field": "product", "pattern": "Windows 8.1"},
        {"field": "product", "pattern": "Windows 7"},
    ]
    settings = settings_for(
        path,
        backup={"gate": "off"},
        stages={"decline": {"expired": False, "superseded": "off", "rules": rules}},
    )
    run(settings, state_dir, stages=["decline"], dry_run=True)  # the payloads, as a plan keeps them
    payloads = {
        key: json.loads(text)
        for key, text in query(
            state_dir / "state.sqlite3",
            "SELECT item_key, payload_json FROM planned_items WHERE stage = 'decline'",
        )
    }
    assert set(payloads[ids["81_and_7"]]["products"]) == {"Windows 8.1", "Windows 7"}
    assert payloads[ids["only_81"]]["classifications"] == ["Security Updates"]
    run(settings, state_dir, stages=["decline"])
    events = {event["update_id"]: event for event in event_log.named("decline.update")}
    assert set(events[ids["81_and_7"]]["products"]) == {"Windows 8.1", "Windows 7"}
    assert set(events) == {ids["only_81"], ids["81_and_7"]}


def test_categories_detectoids_hidden_updates_and_bundled_children_are_never_offered(
    tmp_path, state_dir
):
    """vwMinimalUpdate may carry every kind of update (its definition is not public): only updates
    clients are offered may reach spDeclineUpdate, whatever the reason."""
    builder = CatalogBuilder(tmp_path / "kinds.sqlite3")
    old = builder.update(
        "2026-06 Cumulative Update for Itanium test (KB5100)", age_days=150, kb="5100"
    )
    new = builder.update(
        "2026-07 Cumulative Update for Itanium test (KB5101)",
        age_days=120,
        kb="5101",
        supersedes=(old,),
    )
    old_child = builder.update(
        "2026-06 component (Itanium)", age_days=150, explicitly=0, expired=True
    )
    new_child = builder.update(
        "2026-07 component (Itanium)", age_days=120, explicitly=0, supersedes=(old_child,)
    )
    builder.bundle(old, old_child)
    builder.bundle(new, new_child)
    # The dangerous alternative: a bundled child flagged deployable all the same.
    deployable_child = builder.update(
        "Deployable bundled child (Itanium)", age_days=150, expired=True, supersedes=()
    )
    builder.bundle(new, deployable_child)
    hidden = builder.update(
        "Hidden superseded update (Itanium)", age_days=150, hidden=True, expired=True
    )
    builder.update("Superseder of the hidden one", age_days=100, supersedes=(hidden,))
    detectoid = builder.update(
        "Product Detectoid for Itanium-based Systems",
        age_days=900,
        update_type="Detectoid",
        explicitly=0,
        expired=True,
    )
    category = builder.category("Windows XP Itanium", expired=True)
    expired = builder.update(
        "Expired update for Itanium-based Systems (KB5102)", age_days=60, expired=True
    )
    path = builder.close()

    decline(
        path,
        state_dir,
        superseded="all",
        expired=True,
        rules=[{"field": "title", "pattern": "Itanium"}],
    )

    offered = set(offered_to_spdeclineupdate(path))
    assert offered == {old, new, expired}
    assert not offered & {old_child, new_child, deployable_child, hidden, detectoid, category}


def test_a_failing_candidate_source_is_logged_and_skipped_and_the_others_still_decline(
    chain, state_dir, event_log
):
    path, ids = chain
    settings = settings_for(
        path,
        backup={"gate": "off"},
        target={
            "faults": {"rate": 1.0, "kinds": ["query_timeout"], "statements": ["expired_updates"]}
        },
        stages={"decline": {"expired": True, "min_age_days": 0}},
    )
    report = run(settings, state_dir, stages=["decline"])
    stage = report.stages[-1]
    assert declined_ids(path) == {ids["a"], ids["b"], ids["c"]}
    assert stage.status == "failed" and stage.detail["failed_sources"] == ["expired"]
    assert "expired" in stage.reason
    (failure,) = event_log.named("decline.source_fail")
    assert failure["source"] == "expired" and "timeout" in failure["error"].lower()
    assert report.exit_code == ExitCode.STAGE_FAILED


def test_a_plan_arms_nothing_the_next_run_executes(chain, state_dir):
    """admin-review P1: presets tried in a plan and removed again still declined the next night."""
    path, ids = chain
    tried = settings_for(
        path,
        backup={"gate": "off"},
        stages={"decline": {"superseded": "off", "expired": False, "rules": [
            {"field": "title", "pattern": "Servicing Stack"}]}},
    )  # fmt: skip
    plan = run(tried, state_dir, stages=["decline"], dry_run=True)
    assert plan.stages[-1].detail["by_reason"] == {"rule:Servicing Stack": 1}
    kept = settings_for(
        path, backup={"gate": "off"}, stages={"decline": {"superseded": "off", "expired": False}}
    )
    night = run(kept, state_dir, stages=["decline"])
    assert night.exit_code == ExitCode.OK and declined_ids(path) == set()
    assert ids["unrelated"] not in declined_ids(path)


def test_a_plan_leaves_a_queue_the_next_run_resumes_as_it_was(chain, state_dir):
    """network-review N44b: a plan rebuilt a running night's queues. A stale queue (a real run
    would rebuild it) and other settings: the plan lists, and changes nothing queued."""
    path, _ = chain
    unfinished = {"expired": False, "min_age_days": 0, "max_declines_per_run": 1}
    run(settings_for(path, backup={"gate": "off"}, stages={"decline": unfinished}), state_dir)
    queued = "SELECT item_key, status, ordinal, payload_json FROM work_items ORDER BY ordinal"
    before = query(state_dir / "state.sqlite3", queued)
    assert len(before) == 3

    other = {"expired": False, "min_age_days": 0, "rules": [{"field": "title", "pattern": "Stack"}]}
    run(
        settings_for(
            path, backup={"gate": "off"}, runner={"queue_max_age_hours": 0},
            stages={"decline": other},
        ),
        state_dir,
        stages=["decline"],
        dry_run=True,
    )  # fmt: skip
    assert query(state_dir / "state.sqlite3", queued) == before


def test_an_update_added_to_never_decline_after_an_unfinished_night_is_not_declined(
    chain, state_dir, event_log
):
    """admin-review H01: a queued decline is judged again, with the config as it is, when sent."""
    path, ids = chain
    first_night = {"expired": False, "min_age_days": 0, "max_declines_per_run": 1}
    run(
        settings_for(path, backup={"gate": "off"}, stages={"decline": first_night}),
        state_dir,
        stages=["decline"],
    )
    (declined_first,) = declined_ids(path)
    queued = {ids["a"], ids["b"], ids["c"]} - {declined_first}
    protect = sorted(queued)
    second_night = {**first_night, "max_declines_per_run": 0, "never_decline": protect}
    report = run(
        settings_for(path, backup={"gate": "off"}, stages={"decline": second_night}),
        state_dir,
        stages=["decline"],
    )
    assert declined_ids(path) == {declined_first}
    assert report.stages[-1].skipped == 2
    withheld = {
        event["update_id"]: event["reason"] for event in event_log.named("decline.withheld")
    }
    assert withheld == dict.fromkeys(protect, "never_decline")


def test_a_queued_superseded_decline_is_withheld_when_its_superseders_died_since(
    tmp_path, state_dir, event_log
):
    builder = CatalogBuilder(tmp_path / "died.sqlite3")
    first = builder.update("First (KB960)", age_days=300)
    second = builder.update("Second (KB961)", age_days=200, supersedes=(first,))
    third = builder.update("Third (KB962)", age_days=100, supersedes=(second,))
    path = builder.close()
    limited = {"expired": False, "min_age_days": 0, "max_declines_per_run": 1}
    settings = settings_for(path, backup={"gate": "off"}, stages={"decline": limited})
    run(settings, state_dir, stages=["decline"])
    assert declined_ids(path) == {first}  # Second waits in the queue, covered by Third
    # Before the next night an administrator declines Third in the WSUS console.
    with gateway(path) as susdb:
        susdb.decline_update(third, "admin")
    run(settings, state_dir, stages=["decline"])
    assert declined_ids(path) == {first, third}
    (withheld,) = event_log.named("decline.withheld")
    assert withheld["update_id"] == second and withheld["reason"] == "no live superseder"


def test_a_regex_rule_runs_in_linear_time_on_any_title():
    """admin-review N14: on a backtracking engine this pattern never finishes on such a title
    (2^40 ways to split 40 letters); on RE2 it answers at once."""
    rule = DeclineRule(field="title", match="regex", pattern=r"^(\w+\s?)+!$")
    title = "Cumulative Update for Windows " + "x" * 40
    assert rule_matcher(rule).search(title) is None


def test_rules_that_would_decline_most_of_the_catalog_are_refused_with_exit_4(tmp_path, state_dir):
    """admin-review N15: a rule far broader than meant stops before it declines anything."""
    builder = CatalogBuilder(tmp_path / "broad.sqlite3")
    for number in range(150):
        builder.update(
            f"2026-{number:03} Cumulative Update for Contoso (KB{7000 + number})", age_days=9
        )
    for number in range(50):
        builder.update(f"Definition Update for Contoso (KB{8000 + number})", age_days=9)
    path = builder.close()
    broad = {
        "superseded": "off",
        "expired": False,
        "rules": [{"field": "title", "pattern": "Cumulative Update"}],
    }
    report = run(
        settings_for(path, backup={"gate": "off"}, stages={"decline": broad}),
        state_dir,
        stages=["decline"],
    )
    assert report.exit_code == ExitCode.REFUSED and report.stages[-1].status == "refused"
    assert "150 of the 200 updates" in report.stages[-1].reason
    assert "max_rule_share_percent" in report.stages[-1].reason
    assert declined_ids(path) == set()
    allowed = {**broad, "max_rule_share_percent": 75}
    report = run(
        settings_for(path, backup={"gate": "off"}, stages={"decline": allowed}),
        state_dir,
        stages=["decline"],
    )
    assert report.exit_code == ExitCode.OK and len(declined_ids(path)) == 150


def test_every_decline_says_why_in_the_history(chain, state_dir):
    path, ids = chain
    rules = [{"field": "title", "pattern": "Servicing Stack", "reason": "ssu"}]
    decline(path, state_dir, min_age_days=0, rules=rules)
    whys = dict(query(state_dir / "state.sqlite3", "SELECT update_id, why FROM declined_updates"))
    # Covered by what stays: KB502 and KB503 go the same night.
    assert whys[ids["a"]] == (
        "superseded; covered by KB504 '2026-10 Cumulative Update (KB504)' "
        "(created 2026-11-05, not approved)"
    )
    assert whys[ids["unrelated"]] == (
        "rule:ssu; products: Windows Server 2019; classifications: Security Updates"
    )


def test_configmgr_mismatches_are_counted_both_ways(tmp_path, state_dir, event_log):
    builder = CatalogBuilder(tmp_path / "cm.sqlite3")
    # Expired and superseded: two sources find it, Configuration Manager keeps it once.
    old = builder.update("Old (KB1101)", age_days=200, expired=True)
    new = builder.update("New (KB1102)", age_days=150, supersedes=(old,))
    declined_yet_deployed = builder.update("Pulled (KB1103)", age_days=100, declined=True)
    builder.deploy_in_configmgr(old)
    builder.deploy_in_configmgr(declined_yet_deployed)
    path = builder.close()
    configmgr = {"site": {"kind": "simulator", "path": str(path)}, "supersedence_months": 0}
    settings = settings_for(
        path, backup={"gate": "off"}, configmgr=configmgr, stages={"decline": {"expired": True}}
    )
    report = run(settings, state_dir, stages=["decline"])
    detail = report.stages[-1].detail
    assert declined_ids(path) == {
        declined_yet_deployed
    }  # Old stays: Configuration Manager deploys it
    assert (detail["kept_deployed"], detail["declined_but_deployed"]) == (1, 1)
    (mismatch,) = event_log.named("configmgr.declined_but_deployed")
    assert mismatch["update_id"] == declined_yet_deployed
    assert new not in declined_ids(path)


def test_deployed_updates_declined_in_wsus_are_found_in_one_read_however_many_are_deployed(
    tmp_path, monkeypatch, event_log
):
    builder = CatalogBuilder(tmp_path / "many.sqlite3")
    deployed = [
        builder.update(f"Deployed {n} (KB{1200 + n})", age_days=100, declined=n % 4 == 0)
        for n in range(40)
    ]
    path = builder.close()
    gone = "0BADC0DE-0000-0000-0000-000000000000"  # deployed, deleted from WSUS: not declined
    site = SiteView(deployed=frozenset([*deployed, gone]), supersedence_days=0)
    sent: list[str] = []
    with gateway(path) as susdb:
        for method in ("run", "stream"):
            original = getattr(susdb.executor, method)

            def recorded(name, *args, _original=original, **kwargs):
                sent.append(name)
                return _original(name, *args, **kwargs)

            monkeypatch.setattr(susdb.executor, method, recorded)
        found = declined_but_deployed(susdb, site)
    assert sent == ["declined_update_ids"]
    assert found == 10
    reported = [event["update_id"] for event in event_log.named("configmgr.declined_but_deployed")]
    assert reported == sorted(deployed[::4])


def test_an_unreadable_site_database_refuses_the_decline_stage(chain, state_dir, tmp_path):
    path, _ = chain
    configmgr = {"site": {"kind": "simulator", "path": str(tmp_path / "no-such-site.sqlite3")}}
    settings = settings_for(
        path, backup={"gate": "off"}, configmgr=configmgr, stages={"decline": {"min_age_days": 0}}
    )
    report = run(settings, state_dir, stages=["decline"])
    assert report.exit_code == ExitCode.REFUSED and report.stages[-1].status == "refused"
    assert "Configuration Manager's site database" in report.stages[-1].reason
    assert declined_ids(path) == set()


def test_a_queued_superseded_decline_is_withheld_once_the_config_asks_for_an_older_age(
    chain, state_dir, event_log
):
    """A fresh-eyes review: a queue built under min_age_days = 0 still declined under 3650."""
    path, ids = chain
    first = {"expired": False, "min_age_days": 0, "max_declines_per_run": 1}
    run(
        settings_for(path, backup={"gate": "off"}, stages={"decline": first}),
        state_dir,
        stages=["decline"],
    )
    assert declined_ids(path) == {ids["a"]}
    later = {"expired": False, "min_age_days": 3650}
    run(
        settings_for(path, backup={"gate": "off"}, stages={"decline": later}),
        state_dir,
        stages=["decline"],
    )
    assert declined_ids(path) == {ids["a"]}
    reasons = {event["reason"] for event in event_log.named("decline.withheld")}
    assert reasons == {"no longer chosen by the config"}


def test_the_why_never_names_a_superseder_a_rule_declines_the_same_night(tmp_path, state_dir):
    builder = CatalogBuilder(tmp_path / "why.sqlite3")
    old = builder.update("Tool update (KB30)", age_days=300, kb="30")
    builder.update(
        "Tool update for Itanium-based Systems (KB31)", age_days=200, kb="31", supersedes=(old,)
    )
    builder.update("Tool update, new (KB32)", age_days=150, kb="32", supersedes=(old,))
    path = builder.close()
    decline = {"min_age_days": 0, "expired": False, "presets": ["itanium"]}
    run(
        settings_for(path, backup={"gate": "off"}, stages={"decline": decline}),
        state_dir,
        stages=["decline"],
    )
    whys = dict(query(state_dir / "state.sqlite3", "SELECT update_id, why FROM declined_updates"))
    assert "KB32" in whys[old] and "KB31" not in whys[old]


def _seed_failing_first(rate: float) -> int:
    """A fault seed whose first draw strikes and whose next few pass."""
    import random

    for seed in range(10_000):
        draws = random.Random(seed)
        if draws.random() < rate and all(draws.random() >= rate for _ in range(4)):
            return seed
    raise AssertionError("no seed")


def test_a_link_lost_when_a_candidate_query_starts_is_retried_not_a_failed_source(
    chain, state_dir, event_log
):
    """network-review D10 at the start of a query (the executor retries it after a reconnect).
    A drop mid-stream is raised to the queue build, which is retried whole; the in-process
    simulator cannot drop a link mid-result, so that path is left to the driver tier."""
    from jobs.simulator import faults

    faults.forget_streams()
    path, ids = chain
    settings = settings_for(
        path,
        backup={"gate": "off"},
        stages={"decline": {"min_age_days": 0, "expired": True}},
        target={
            "faults": {
                "rate": 0.5,
                "kinds": ["link_failure"],
                "statements": ["expired_updates"],
                "seed": _seed_failing_first(0.5),
            }
        },
    )
    report = run(settings, state_dir, stages=["decline"])
    assert report.exit_code == ExitCode.OK, report.stages
    assert not event_log.named("decline.source_fail")
    assert declined_ids(path) == {ids["a"], ids["b"], ids["c"]}


def _queued_behind_one_decline(tmp_path, state_dir, *, unresolved=()):
    """Two updates a title rule declines; the first night may send one: the second stays queued
    for the next night, as it was judged then."""
    builder = CatalogBuilder(tmp_path / "queued.sqlite3")
    builder.unresolved = set(unresolved)
    first = builder.update("Contoso Agent (KB1501)", age_days=50, product="Windows 10")
    queued = builder.update(
        "Contoso Agent, new (KB1502)",
        age_days=40,
        product="Windows 10",
        also_products=("Windows 11",),
    )
    path = builder.close()
    night = {"expired": False, "max_declines_per_run": 1, "rules": [
        {"field": "title", "pattern": "Contoso", "reason": "contoso"}
    ]}  # fmt: skip
    run(settings_for(path, backup={"gate": "off"}, stages={"decline": night}), state_dir)
    assert declined_ids(path) == {first}
    return path, queued


def test_a_queued_rule_decline_records_the_rule_that_declines_it_when_sent(tmp_path, state_dir):
    """The queue was built by a rule the config no longer has; the rule that declines the update
    now is the one its history names."""
    path, queued = _queued_behind_one_decline(tmp_path, state_dir)
    products = {"expired": False, "rules": [{"field": "product", "pattern": "Windows"}]}
    run(settings_for(path, backup={"gate": "off"}, stages={"decline": products}), state_dir)

    assert queued in declined_ids(path)
    ((reason, why),) = query(
        state_dir / "state.sqlite3",
        "SELECT reason, why FROM declined_updates WHERE update_id = ?",
        (queued,),
    )
    assert reason == "rule:Windows" and why.startswith("rule:Windows; products:")


def test_a_queued_decline_with_an_unresolved_product_stays_under_a_product_rule(
    tmp_path, state_dir, event_log
):
    """decline-review N4 at sending time: the queued item remembers that a product's title did
    not resolve, so a product rule met the next night leaves it alone, as a fresh queue would."""
    path, queued = _queued_behind_one_decline(tmp_path, state_dir, unresolved=["Windows 11"])
    products = {"expired": False, "rules": [{"field": "product", "pattern": "Windows 10"}]}
    run(settings_for(path, backup={"gate": "off"}, stages={"decline": products}), state_dir)

    assert queued not in declined_ids(path)
    (withheld,) = event_log.named("decline.withheld")
    assert (
        withheld["update_id"] == queued and withheld["reason"] == "no longer chosen by the config"
    )


def test_a_drained_queue_still_says_what_it_declined_per_reason(chain, state_dir):
    """The queue's counts per reason are empty once it drains: the stage's result carries what
    it declined per reason, into history, the events and the report (fresh-eyes review)."""
    from jobs.state.store import StateStore

    path, _ = chain
    settings = settings_for(
        path, backup={"gate": "off"}, stages={"decline": {"expired": False, "min_age_days": 0}}
    )
    report = run(settings, state_dir, stages=["decline"])

    assert report.stages[-1].detail["by_reason"] == {}  # nothing left queued
    assert report.stages[-1].detail["declined_by_reason"] == {"superseded": 3}
    store = StateStore(state_dir, read_only=True)
    (stored,) = [row for row in store.stage_results(report.run_id) if row["stage"] == "decline"]
    store.close()
    assert json.loads(stored["detail_json"])["declined_by_reason"] == {"superseded": 3}
