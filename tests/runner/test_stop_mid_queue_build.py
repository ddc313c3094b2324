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


@pytest.mark.slow
def test_a_window_that_cuts_the_second_reindex_pass_leaves_it_partial_with_its_count(tmp_path):
    """The window closes in the second reindex pass, mid-statement: that pass is partial with
    the indexes it did, and the run is partial (exit 3), not "stopped mid-stage" and failed."""
    from tests.helpers import run_cli

    result = run_cli(
        "--state-dir", str(tmp_path / "state"), "--log-level", "error",
        "demo", "--preset", "neglected", "--updates", "3000", "--sim", str(tmp_path / "s.db"),
    )  # fmt: skip
    assert result.returncode == ExitCode.PARTIAL, result.stdout[-3000:] + result.stderr[-2000:]
    assert "stopped mid-stage" not in result.stdout + result.stderr
    reindex = [line for line in result.stdout.splitlines() if line.startswith("│ reindex")]
    assert len(reindex) == 2 and "partial" in reindex[1], reindex
