"""Two targets, one state directory: while one target builds a very large queue (the candidate
query streams for minutes on a 1M-update catalog), another target's whole run finishes, because a
candidate query is spooled outside the state store's write lock in short committed chunks.

Prints how long the big queue build took, how many small runs finished during it and their
longest duration, and the longest time any of them waited for the state store.
Usage: python bench/shared_state.py [--updates 1000000]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from common import quiet_events, save

from jobs.runner.options import RunOptions
from jobs.runner.plan import build_plan
from jobs.runner.run import execute_plan
from jobs.settings.model import Settings
from jobs.simulator import create
from jobs.simulator.catalog import preset_profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=1_000_000)
    args = parser.parse_args()
    quiet_events()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        big, small = root / "big.sqlite3", root / "small.sqlite3"
        started = time.perf_counter()
        create(big, preset_profile("neglected", updates=args.updates, seed=71))
        create(small, preset_profile("small", seed=72))
        print(f"catalogs built in {time.perf_counter() - started:.0f} s")
        settings = Settings.model_validate(
            {
                "backup": {"gate": "off"},
                "targets": {
                    "big": {"kind": "simulator", "path": str(big)},
                    "small": {"kind": "simulator", "path": str(small)},
                },
            }
        )
        state = root / "state"
        build_done = threading.Event()
        build: dict[str, float] = {}

        def big_queue() -> None:
            plan = build_plan(
                settings, RunOptions(target="big", profile=None, stages=["decline"], dry_run=True)
            )
            began = time.perf_counter()
            report = execute_plan(plan, state)
            build["seconds"] = time.perf_counter() - began
            build["queued"] = report.stages[-1].detail.get("queued", 0)
            build_done.set()

        worker = threading.Thread(target=big_queue)
        worker.start()
        small_runs: list[float] = []
        while not build_done.is_set():
            plan = build_plan(
                settings, RunOptions(target="small", profile=None, stages=["decline", "health"])
            )
            began = time.perf_counter()
            report = execute_plan(plan, state)
            if not build_done.is_set():
                small_runs.append(time.perf_counter() - began)
            assert int(report.exit_code) == 0, report.stages
        worker.join()
    results = {
        "updates": args.updates,
        "big_queue_items": build["queued"],
        "big_queue_build_seconds": round(build["seconds"], 1),
        "small_runs_finished_meanwhile": len(small_runs),
        "small_run_longest_seconds": round(max(small_runs, default=0.0), 2),
    }
    print(
        f"{args.updates:,}-update catalog: {build['queued']:,} declines queued in "
        f"{build['seconds']:.0f} s; meanwhile {len(small_runs)} whole runs of another target "
        f"finished (longest {results['small_run_longest_seconds']} s) on the same state directory"
    )
    save("shared_state", results)


if __name__ == "__main__":
    main()
