"""Per-item overhead through the real driver on loopback, next to the in-process figure.

The same queues (declines, then obsolete-update deletions) run on three copies of one catalog:
in process, through the simulator's DB-API, and through pyodbc with FreeTDS and with Microsoft's
ODBC Driver 18 (the mssql-python-odbc wheel, registered as the tests do) against the served
simulator (``susdb-maint simulator serve``) on 127.0.0.1. Both figures are wall time minus the
time spent inside the simulated server's DB-API calls, per item, with the cost model off. Over TDS
the remainder holds the runner, pyodbc, FreeTDS, the loopback socket and the served simulator's
own TDS encoding: an upper bound for what the driver stack adds against a real server on the
same host. Round trips are counted by the server (requests per item). Both runs have the
nightly profile's window (240 minutes): on real time (the served run) every statement is then
watched by the window's watchdog, as on a real night.
Needs unixODBC and FreeTDS (apt-get install unixodbc tdsodbc); Driver 18 is measured where the
test extra installed its wheel.
Usage: python bench/driver_overhead.py [--items 2000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from common import bench_settings, measure_stage, print_overhead, quiet_events, save
from overhead import measure

from jobs.simulator import create
from jobs.simulator.catalog import preset_profile
from jobs.simulator.tds import ServeOptions, SimulatorServer
from tests.integration.drivers import DRIVER18, driver18_problem, register_driver18

PASSWORD = "bench-Passw0rd"
NIGHTLY_WINDOW = 240  # minutes, as the nightly profile


def measure_served(sim: Path, state: Path, stage: str, items: int, driver: str) -> dict[str, float]:
    os.environ["SUSDB_BENCH_PASSWORD"] = PASSWORD
    options = ServeOptions(sim=sim, user="bench", password=PASSWORD, time_scale=0, cost_model=False)
    with SimulatorServer(options) as server:
        target = {
            "kind": "sqlserver",
            "server": server.host,
            "port": server.port,
            "auth": "sql",
            "username": "bench",
            "password_env": "SUSDB_BENCH_PASSWORD",
            "encrypt": "optional",
            "driver": driver,
        }
        settings = bench_settings("served", target, items, NIGHTLY_WINDOW)
        figures = measure_stage(settings, "served", state, stage, items)
        # The run's own requests: the lock's and the plan's come before it; subtract neither, as
        # each run pays them once (they are a handful among thousands).
        figures["requests_per_item"] = round(server.stats["requests"] / max(figures["items"], 1), 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    quiet_events()
    drivers = {"freetds": "FreeTDS"}
    if register_driver18() is None and driver18_problem() is None:
        drivers["driver18"] = DRIVER18
    else:
        print(f"Driver 18 not measured: {register_driver18() or driver18_problem()}")
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        template = root / "template.sqlite3"
        # A neglected catalog three times the item count has enough superseded and obsolete
        # updates for both queues.
        create(template, preset_profile("neglected", updates=max(3 * args.items, 600), seed=8))
        for stage in ("decline", "obsolete_updates"):
            in_process = root / f"{stage}-in.sqlite3"
            shutil.copyfile(template, in_process)
            results[f"{stage}_in_process"] = measure(
                in_process, root / f"{stage}-state-in", stage, args.items, 0.0, NIGHTLY_WINDOW
            )
            for label, driver in drivers.items():
                copy = root / f"{stage}-{label}.sqlite3"
                shutil.copyfile(template, copy)
                results[f"{stage}_over_{label}"] = measure_served(
                    copy, root / f"{stage}-state-{label}", stage, args.items, driver
                )
    print_overhead(results)
    for stage in ("decline", "obsolete_updates"):
        local = results[f"{stage}_in_process"]["overhead_us_per_item"]
        for label in drivers:
            wire = results[f"{stage}_over_{label}"]
            print(
                f"{stage:18} {label:9} the driver stack adds "
                f"{wire['overhead_us_per_item'] - local:>7.1f} us/item "
                f"({wire['requests_per_item']} requests per item over TDS)"
            )
    save("driver_overhead", results)


if __name__ == "__main__":
    main()
