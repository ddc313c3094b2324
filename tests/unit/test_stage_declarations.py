"""Each stage declares itself once, in a light module (jobs/stages/declared/): its facts, its
settings class and the rights it needs. The configuration reads those declarations without
importing the runner, the database layer or any stage's implementation."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.settings.model import StageSettings
from jobs.stages import registry

ROOT = Path(__file__).resolve().parents[2]

# What validating a config may import of jobs.stages: the registry and the declarations.
DECLARATIONS = re.compile(r"jobs\.stages(\.registry|\.declared(\.\w+)?)?")
IMPLEMENTATIONS = ("jobs.runner", "jobs.db", "jobs.state", "jobs.susdb", "jobs.simulator")


def test_validating_a_config_imports_no_runner_database_or_stage_implementation(tmp_path):
    config = tmp_path / "susdb-maint.toml"
    config.write_text(
        '[targets.wsus01]\nkind = "sqlserver"\nserver = "sql01.contoso.com"\n'
        '[stages.decline]\npresets = ["itanium"]\n'
        'rules = [{ field = "title", pattern = "ARM64" }]\n'
        '[profiles.weekly]\nstages = ["preflight", "reindex", "statistics", "health"]\n'
        "stage_budgets = { reindex = 30 }\n",
        encoding="utf-8",
    )
    code = (
        "import json, sys\n"
        "import jobs.settings\n"
        "from jobs.settings import load_settings\n"
        "from jobs.stages import registry\n"
        f"settings = load_settings(__import__('pathlib').Path({str(config)!r}), {{}})\n"
        "assert settings.effective_profiles()['weekly'].stages[1] == 'reindex'\n"
        "assert [stage.phase for stage in registry.stages()]\n"
        "print(json.dumps(sorted(name for name in sys.modules if name.startswith('jobs'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    assert "jobs.stages.declared.decline" in loaded  # the declarations were read...
    heavy = [
        name
        for name in loaded
        if name.startswith(IMPLEMENTATIONS)
        or (name.startswith("jobs.stages") and not DECLARATIONS.fullmatch(name))
    ]
    assert heavy == []  # ...and nothing that runs a stage


def test_every_stage_with_a_section_under_stages_names_its_settings_class():
    sections = StageSettings.model_fields
    for declared in registry.stages():
        if declared.name in sections:
            assert declared.settings is sections[declared.name].annotation, declared.name
        else:
            assert declared.settings is None, declared.name
    assert set(sections) <= set(registry.names())  # no section for a stage that is not declared


def test_the_declared_order_and_what_deletes():
    assert registry.names()[0] == "preflight" and registry.names()[-1] == "health"
    assert registry.destructive() == {
        "decline",
        "delete_fix",
        "obsolete_updates",
        "compress",
        "computers",
        "sync_history",
        "client_events",
    }


@pytest.mark.parametrize("name", registry.names())
def test_a_declared_stage_runs_its_own_implementation(monkeypatch, name):
    implementation = importlib.import_module(f"jobs.stages.{name}")
    monkeypatch.setattr(implementation, "run", lambda ctx: ("ran", name, ctx))
    context = object()
    assert registry.get(name).run(context) == ("ran", name, context)  # type: ignore[arg-type]


def test_the_rights_the_stages_declare_are_exactly_what_check_permissions_tests():
    text = (ROOT / "sql" / "check_permissions.sql").read_text(encoding="utf-8")
    checked = set(re.findall(r"SELECT N'([^']+)'", text))
    declared = {right for stage in registry.stages() for right in stage.rights}
    assert "EXECUTE dbo.spDeclineUpdate" in checked
    assert declared == checked  # every right is needed by a stage; every stage's is checked
    assert registry.needing("EXECUTE dbo.spDeleteUpdate") == ("obsolete_updates",)
    assert registry.needing("DELETE on dbo.tbEventInstance") == ("sync_history", "client_events")
