"""Window throughput: items finished in a four-hour (virtual) window by the runner, versus one
monolithic call that must finish inside the window or keeps nothing (the Server Cleanup Wizard's
behaviour on a neglected server), on the same catalog and the same published cost model; and the
runner on a server without Microsoft's spDeleteUpdate change when it applies the change itself
(``stages.delete_fix.apply``) before the cleanup.
Usage: python bench/window.py [--updates 60000] [--window 240]
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

from common import quiet_events, save

from jobs.runner.options import RunOptions
from jobs.runner.plan import build_plan
from jobs.runner.run import execute_plan
from jobs.settings.model import Settings
from jobs.simulator import connect, create
from jobs.simulator.catalog import preset_profile
from jobs.simulator.server import COST


def monolithic_seconds(obsolete: int, updates: int, fix: bool) -> float:
    """The wizard's single call: one scan, then every spDeleteUpdate, without custom indexes."""
    per_item = (
        COST["delete_update"]
        + (0 if fix else COST["delete_update_without_fix"])
        + COST["delete_update_without_index"]
    )
    return updates * COST["obsolete_scan_per_update"] + obsolete * per_item


def scenario(
    root: Path, updates: int, window: float, fix: bool, apply_fix: bool = False
) -> dict[str, float]:
    sim = root / f"susdb-{'fix' if fix else 'nofix'}-{apply_fix}.sqlite3"
    create(sim, preset_profile("neglected", updates=updates, seed=12, delete_fix=fix))
    connection = connect(sim)
    obsolete = len(connection.server.spGetObsoleteUpdatesToCleanup()[0].rows)
    connection.close()
    settings = Settings.model_validate(
        {
            "backup": {"gate": "off"},
            "stages": {"delete_fix": {"apply": apply_fix}},
            "targets": {"sim": {"kind": "simulator", "path": str(sim)}},
        }
    )
    plan = build_plan(
        settings,
        RunOptions(
            target="sim",
            profile=None,
            stages=["custom_indexes", "obsolete_updates"],
            max_duration_minutes=window,
        ),
    )
    report = execute_plan(plan, root / f"state-{fix}-{apply_fix}")
    ours = next(stage for stage in report.stages if stage.stage == "obsolete_updates").done
    monolith_total = monolithic_seconds(obsolete, updates, fix)
    monolith = obsolete if monolith_total <= window * 60 else 0
    return {
        "obsolete_backlog": obsolete,
        "runner_done_in_window": ours,
        "runner_nights_to_clear": math.ceil(obsolete / max(ours, 1)),
        "monolithic_call_hours": round(monolith_total / 3600, 1),
        "monolithic_done_in_window": monolith,
        "monolithic_nights_to_clear": 1
        if monolith
        else "never (times out every night, keeps nothing)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=60_000)
    parser.add_argument("--window", type=float, default=240, help="minutes")
    args = parser.parse_args()
    quiet_events()
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        for name, fix, apply_fix in (
            ("without_microsoft_fix", False, False),
            ("with_microsoft_fix", True, False),
            ("fix_applied_by_the_tool", False, True),
        ):
            results[name] = scenario(Path(directory), args.updates, args.window, fix, apply_fix)
            figures = results[name]
            print(
                f"{name:24} backlog {figures['obsolete_backlog']:>6,}: runner {figures['runner_done_in_window']:>6,} "
                f"deleted in {args.window:g} min ({figures['runner_nights_to_clear']} night(s) to clear); "
                f"monolithic call needs {figures['monolithic_call_hours']} h -> "
                f"{figures['monolithic_done_in_window']:,} kept ({figures['monolithic_nights_to_clear']})"
            )
    save("window", results)


if __name__ == "__main__":
    main()
