"""Per-item runner overhead: wall time minus time inside the simulated server, per item.

Targets: at most 200 us per item at zero latency (declines, obsolete-update deletions, 10k items),
and at most 1% of wall time when the simulated per-item cost is 10 ms.
Usage: python bench/overhead.py [--items 10000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import quiet_events, save, server_meter

from jobs.runner.plan import build_plan
from jobs.runner.run import execute_plan
from jobs.settings.model import Settings
from jobs.simulator import create
from jobs.simulator.catalog import preset_profile


def measure(sim: Path, state: Path, stage: str, items: int, latency_ms: float) -> dict[str, float]:
    options = {"decline": {"max_declines_per_run": items, "expired": False}}
    settings = Settings.model_validate(
        {
            "backup": {"gate": "off"},
            "stages": options,
            "targets": {
                "sim": {
                    "kind": "simulator",
                    "path": str(sim),
                    "cost_model": False,
                    "latency_ms": latency_ms,
                }
            },
        }
    )
    # Preflight stays in: destructive stages never run without its gate, even with gate = off.
    plan = build_plan(settings, target="sim", profile=None, stages=[stage])
    # Build the queue first (a plan), so the measurement is the per-item loop alone.
    dry = build_plan(settings, target="sim", profile=None, stages=[stage], dry_run=True)
    execute_plan(dry, state)
    with server_meter() as meter:
        started = time.perf_counter()
        report = execute_plan(plan, state)
        wall = time.perf_counter() - started
    done = sum(result["done"] + result["skipped"] + result["failed"] for result in report.stages)
    done = min(done, items) if stage == "decline" else done
    overhead = wall - meter["seconds"]
    return {
        "items": done,
        "wall_seconds": round(wall, 3),
        "server_seconds": round(meter["seconds"], 3),
        "overhead_us_per_item": round(overhead / max(done, 1) * 1e6, 1),
        "overhead_share_percent": round(100 * overhead / wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--latency-items", type=int, default=1000)
    args = parser.parse_args()
    quiet_events()
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        sim = root / "susdb.sqlite3"
        # A neglected catalog of this size has more than 10k superseded and 5k+ obsolete updates.
        create(sim, preset_profile("neglected", updates=max(3 * args.items, 20_000), seed=8))
        results["decline_zero_latency"] = measure(sim, root / "state", "decline", args.items, 0.0)
        results["obsolete_zero_latency"] = measure(
            sim, root / "state", "obsolete_updates", args.items, 0.0
        )
        sim2 = root / "susdb2.sqlite3"
        create(sim2, preset_profile("neglected", updates=20_000, seed=9))
        results["decline_10ms"] = measure(
            sim2, root / "state2", "decline", args.latency_items, 10.0
        )
    for name, figures in results.items():
        print(
            f"{name:24} items {figures['items']:>6}  wall {figures['wall_seconds']:>8.3f} s  "
            f"server {figures['server_seconds']:>8.3f} s  overhead {figures['overhead_us_per_item']:>7.1f} us/item  "
            f"({figures['overhead_share_percent']:.2f}% of wall)"
        )
    save("overhead", results)


if __name__ == "__main__":
    main()
