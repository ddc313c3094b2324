"""Shared bench helpers: build catalogs, run the real CLI code paths, time the simulated server."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"

from jobs import events  # noqa: E402
from jobs.db.catalog import statement_name  # noqa: E402
from jobs.simulator import dbapi  # noqa: E402


def quiet_events() -> None:
    events.configure(log_format="json", level="error", stream=open(os.devnull, "w"))  # noqa: SIM115


@contextmanager
def server_meter() -> Any:
    """Measure wall time spent inside the simulated server's DB-API calls (what pyodbc's calls
    would be against SQL Server) and count the statements sent, by name."""
    meter: dict[str, Any] = {"seconds": 0.0, "statements": Counter()}
    originals = {
        name: getattr(dbapi.Cursor, name)
        for name in ("execute", "fetchall", "fetchmany", "nextset")
    }

    def wrap(name: str, original: Any) -> Any:
        def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                meter["seconds"] += time.perf_counter() - started
                if name == "execute":
                    meter["statements"][statement_name(args[0])] += 1

        return timed

    for name, original in originals.items():
        setattr(dbapi.Cursor, name, wrap(name, original))
    try:
        yield meter
    finally:
        for name, original in originals.items():
            setattr(dbapi.Cursor, name, original)


def save(name: str, data: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"(saved bench/results/{name}.json)")


def bench_settings(
    name: str, target: dict[str, Any], items: int, window_minutes: float | None = None
) -> Any:
    """Settings for one bench target: no backup gate (preflight still runs), ``items``
    declines at most, superseded only; ``window_minutes`` a run's window, as nightly runs have."""
    from jobs.settings.model import Settings

    return Settings.model_validate(
        {
            "backup": {"gate": "off"},
            "window": {"max_duration_minutes": window_minutes},
            "stages": {"decline": {"max_declines_per_run": items, "expired": False}},
            "targets": {name: target},
        }
    )


def measure_stage(
    settings: Any, target: str, state: Path, stage: str, items: int
) -> dict[str, float]:
    """Run one stage's queue against ``target`` and split its wall time: inside the simulated
    server's DB-API calls, and everything else (the runner's overhead, and over TDS the driver
    and the wire too). The queue is built first by a plan, so the per-item loop (and preflight's
    handful of statements) is what is timed."""
    from jobs.runner.options import RunOptions
    from jobs.runner.plan import build_plan
    from jobs.runner.run import execute_plan

    # Preflight stays in: destructive stages never run without its gate, even with gate = off.
    plan = build_plan(settings, RunOptions(target=target, profile=None, stages=[stage]))
    # Build the queue first (a plan), so the measurement is the per-item loop alone.
    dry = build_plan(
        settings, RunOptions(target=target, profile=None, stages=[stage], dry_run=True)
    )
    execute_plan(dry, state)
    with server_meter() as meter:
        started = time.perf_counter()
        report = execute_plan(plan, state)
        wall = time.perf_counter() - started
    done = sum(result.done + result.skipped + result.failed for result in report.stages)
    done = min(done, items) if stage == "decline" else done
    overhead = wall - meter["seconds"]
    return {
        "items": done,
        "wall_seconds": round(wall, 3),
        "server_seconds": round(meter["seconds"], 3),
        "overhead_us_per_item": round(overhead / max(done, 1) * 1e6, 1),
        "overhead_share_percent": round(100 * overhead / wall, 2),
    }


def print_overhead(results: dict[str, dict[str, float]]) -> None:
    for name, figures in results.items():
        print(
            f"{name:30} items {figures['items']:>6}  wall {figures['wall_seconds']:>8.3f} s  "
            f"server {figures['server_seconds']:>8.3f} s  overhead {figures['overhead_us_per_item']:>7.1f} us/item  "
            f"({figures['overhead_share_percent']:.2f}% of wall)"
        )
