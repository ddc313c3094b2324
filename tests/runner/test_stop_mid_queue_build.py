"""A stop that cuts a decline source's query short makes the stage partial (exit 3), in a plan
as in a run: it is not a failed source, and no queue missing that source's items is kept
(admin review N44: Ctrl-C during plan read "failed", exit 1)."""

from __future__ import annotations

import pytest

from jobs.errors import Interrupted
from jobs.exit_codes import ExitCode
from jobs.susdb import Susdb
from tests.helpers import run, settings_for


@pytest.mark.slow
@pytest.mark.parametrize("dry_run", [True, False], ids=["plan", "run"])
def test_a_stop_during_the_supersedence_query_leaves_decline_partial(
    small_sim, tmp_path, monkeypatch, dry_run
):
    def cut_short(self: Susdb) -> None:
        raise Interrupted("supersedences was cancelled: a stop was asked for")

    monkeypatch.setattr(Susdb, "supersedences", cut_short)
    settings = settings_for(small_sim, backup={"gate": "off"})
    report = run(settings, tmp_path / "state", stages=["decline"], dry_run=dry_run)
    (decline,) = [stage for stage in report.stages if stage.stage == "decline"]
    assert decline.status == "partial", decline
    assert report.exit_code == ExitCode.PARTIAL
