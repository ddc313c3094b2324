"""Per-item runner overhead: wall time minus time inside the simulated server, per item.

Targets: at most 200 us per item at zero latency (declines, obsolete-update deletions, 10k items),
and at most 1% of wall time when the simulated per-item cost is 10 ms.
Usage: python bench/overhead.py [--items 10000]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import bench_settings, measure_stage, print_overhead, quiet_events, save

from jobs.simulator import create
from jobs.simulator.catalog import preset_profile


def measure(
    sim: Path,
    state: Path,
    stage: str,
    items: int,
    latency_ms: float,
    window_minutes: float | None = None,
) -> dict[str, float]:
    target = {"kind": "simulator", "path": str(sim), "cost_model": False, "latency_ms": latency_ms}
    settings = bench_settings("sim", target, items, window_minutes)
    return measure_stage(settings, "sim", state, stage, items)


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
    print_overhead(results)
    save("overhead", results)


if __name__ == "__main__":
    main()
