"""The decline cases in tests/fixtures/decline_cases.yml: catalog + settings + now -> declines."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from jobs.exit_codes import ExitCode
from tests.helpers import ROOT, CatalogBuilder, query, run, settings_for

CASES: dict[str, dict[str, Any]] = yaml.safe_load(
    (ROOT / "tests" / "fixtures" / "decline_cases.yml").read_text(encoding="utf-8")
)


def build(case: dict[str, Any], path: Path) -> Path:
    assert isinstance(case["now"], datetime), "a case names its moment: now: YYYY-MM-DDTHH:MM:SS"
    builder = CatalogBuilder(path, now=case["now"])
    builder.unresolved = set(case.get("unresolved_categories", ()))
    ids: dict[str, str] = {}
    later: list[tuple[str, str]] = []  # (superseding, superseded) named before it exists
    for spec in case["updates"]:
        options = dict(spec)
        title = options.pop("title")
        options["supersedes"] = tuple(ids[name] for name in options.pop("supersedes", ()))
        later += [(name, title) for name in options.pop("superseded_by", ())]
        ids[title] = builder.update(title, **options)
    for superseding, superseded in later:
        builder.supersede(ids[superseding], ids[superseded])
    for title in case.get("configmgr", {}).get("deployed", ()):
        builder.deploy_in_configmgr(ids[title])
    return builder.close()


def declined_titles(path: Path) -> set[str]:
    return {
        title
        for (title,) in query(
            path,
            "SELECT lp.Title FROM vwMinimalUpdate mu "
            "JOIN tbRevision r ON r.LocalUpdateID = mu.LocalUpdateID AND r.IsLatestRevision = 1 "
            "JOIN tbLocalizedPropertyForRevision lpr ON lpr.RevisionID = r.RevisionID "
            "JOIN tbLocalizedProperty lp ON lp.LocalizedPropertyID = lpr.LocalizedPropertyID "
            "WHERE mu.Declined = 1",
        )
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_decline_case(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    path = build(case, tmp_path / "susdb.sqlite3")
    decline = {"expired": False, **case.get("settings", {})}
    sections: dict[str, Any] = {"backup": {"gate": "off"}, "stages": {"decline": decline}}
    if "configmgr" in case:
        # The simulated file holds the site database's v_UpdateCIs too.
        sections["configmgr"] = {
            "site": {"kind": "simulator", "path": str(path)},
            "supersedence_months": case["configmgr"].get("supersedence_months", 0),
        }
    settings = settings_for(path, **sections)
    report = run(settings, tmp_path / "state", stages=["decline"])
    assert report.exit_code == ExitCode.OK, report.stages
    assert declined_titles(path) == set(case["declined"])
