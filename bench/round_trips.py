"""Round trips: statements sent per declined and per deleted update, and candidate queries per
window (one per stage queue, never one per batch).
Usage: python bench/round_trips.py
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
from collections import Counter
from pathlib import Path

from common import save, server_meter

from jobs import events
from jobs.runner.options import RunOptions
from jobs.runner.plan import build_plan
from jobs.runner.run import execute_plan
from jobs.settings.model import Settings
from jobs.simulator import create
from jobs.simulator.catalog import preset_profile

CANDIDATE_QUERIES = {
    "decline": ("superseded_updates", "expired_updates"),
    "obsolete_updates": ("obsolete_updates",),
    "compress": ("updates_to_compress",),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=20_000)
    args = parser.parse_args()
    stream = io.StringIO()
    events.configure(log_format="json", level="info", stream=stream)
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        sim = root / "susdb.sqlite3"
        create(sim, preset_profile("neglected", updates=args.updates, seed=6, delete_fix=True))
        settings = Settings.model_validate(
            {
                "backup": {"gate": "off"},
                "runner": {"batch_target_seconds": 30},
                "targets": {"sim": {"kind": "simulator", "path": str(sim)}},
            }
        )
        plan = build_plan(
            settings, RunOptions(target="sim", profile="nightly", max_duration_minutes=240)
        )
        with server_meter() as meter:
            report = execute_plan(plan, root / "state")
    sent = meter["statements"]
    emitted = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    batches = Counter(event.get("stage") for event in emitted if event["event"] == "batch.finish")
    builds = Counter(event.get("stage") for event in emitted if event["event"] == "queue.build")
    stages = {stage.stage: stage for stage in report.stages}
    declined = stages["decline"].done
    deleted = stages["obsolete_updates"].done
    results = {
        "declined": declined,
        "deleted": deleted,
        "statements_per_declined_update": round(sent["decline_update"] / max(declined, 1), 3),
        "statements_per_deleted_update": round(sent["delete_update"] / max(deleted, 1), 3),
        "candidate_queries": {
            stage: sum(sent[name] for name in names) for stage, names in CANDIDATE_QUERIES.items()
        },
        "queue_builds": {stage: builds[stage] for stage in CANDIDATE_QUERIES},
        "batches": {stage: batches[stage] for stage in CANDIDATE_QUERIES},
        "all_statements": dict(sent.most_common()),
        "exit_code": int(report.exit_code),
    }
    print(
        f"declined {declined:,} updates with {sent['decline_update']:,} decline statements: "
        f"{results['statements_per_declined_update']} per update"
    )
    print(
        f"deleted {deleted:,} updates with {sent['delete_update']:,} delete statements: "
        f"{results['statements_per_deleted_update']} per update"
    )
    for stage, count in results["candidate_queries"].items():
        print(
            f"{stage}: {count} candidate statement(s) for {builds[stage]} queue build(s), over {batches[stage]} "
            f"batches (a new build only after a queue is drained: deleting frees more)"
        )
    save("round_trips", results)


if __name__ == "__main__":
    main()
