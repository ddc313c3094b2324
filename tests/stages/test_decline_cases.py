"""The decline cases in tests/fixtures/decline_cases.yml: catalog + settings + now -> the updates a
decline run declines, each with its reason. One case a behaviour of the rules and presets; the
tests that check more than what is declined (events, history, queues, refusals) are in
test_decline.py and test_decline_presets.py."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from jobs.exit_codes import ExitCode
from tests.catalog import build_catalog
from tests.helpers import ROOT, declined_ids, query, run, settings_for

CASES: dict[str, dict[str, Any]] = yaml.safe_load(
    (ROOT / "tests" / "fixtures" / "decline_cases.yml").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("case", [pytest.param(case, id=name) for name, case in CASES.items()])
def test_decline_case(case: dict[str, Any], tmp_path: Path) -> None:
    assert isinstance(case["now"], datetime), "a case names its moment: now: YYYY-MM-DDTHH:MM:SS"
    configmgr = case.get("configmgr")
    path, ids = build_catalog(
        tmp_path / "susdb.sqlite3",
        now=case["now"],
        updates=case["updates"],
        unresolved_categories=case.get("unresolved_categories", ()),
        deployed_in_configmgr=configmgr["deployed"] if configmgr else (),
    )
    decline = {"expired": False, **case.get("settings", {})}
    sections: dict[str, Any] = {"backup": {"gate": "off"}, "stages": {"decline": decline}}
    if configmgr:
        # The simulated file holds the site database's v_UpdateCIs too.
        sections["configmgr"] = {
            "site": {"kind": "simulator", "path": str(path)},
            "supersedence_months": configmgr.get("supersedence_months", 0),
        }
    state_dir = tmp_path / "state"

    report = run(settings_for(path, **sections), state_dir, stages=["decline"])

    assert report.exit_code == ExitCode.OK, report.stages
    title = {update_id: name for name, update_id in ids.items()}
    by_this_run = {
        title.get(update_id, update_id): reason
        for update_id, reason in query(
            state_dir / "state.sqlite3",
            "SELECT update_id, reason FROM declined_updates WHERE run_id = ?",
            (report.run_id,),
        )
    }
    assert by_this_run == case["declined"]
    whys = dict(
        query(
            state_dir / "state.sqlite3",
            "SELECT update_id, why FROM declined_updates WHERE run_id = ?",
            (report.run_id,),
        )
    )
    for declined, cover in case.get("covered_by", {}).items():
        assert f"'{cover}'" in whys[ids[declined]], whys[ids[declined]]
    # And SUSDB agrees: declined now is what the run declined and what was declined before.
    before = {spec["title"] for spec in case["updates"] if spec.get("declined")}
    declined_now = {title.get(update_id, update_id) for update_id in declined_ids(path)}
    assert declined_now == set(case["declined"]) | before
