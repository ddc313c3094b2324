"""Read load of the health KPIs: what `status` reads, and every run before and after its stages
(and once more in its health stage), on a neglected catalog. Per collection: the statements sent,
the pages the simulated server logs (row counts from metadata, the index tops of a LIMITED scan),
and an upper bound for the rest: the simulator charges a plain SELECT a flat cost whatever it
reads, so each table a plain statement names (the catalog count's tbUpdate, tbRevision,
tbProperty, tbDeployment and vwMinimalUpdate's tables; the client figures' tbComputerTarget) is
counted as read in full, every page, at the simulator's read rate (``schema.COST_PER_PAGE_READ``).

Budget (issue 28): one collection of every KPI, the client figures included, at most 1 % of the
nightly profile's window (240 minutes: 144 s) on the 60k catalog, by that upper bound. The
obsolete backlog is not counted (`count_obsolete = false`, the default: its procedure scans the
catalog, minutes on a neglected server).
Usage: python bench/kpi_reads.py [--updates 60000] [--window 240] [--collections 3]
"""

from __future__ import annotations

import argparse
import math
import re
import sqlite3
import tempfile
import time
from pathlib import Path

from common import quiet_events, save, server_meter

from jobs.db.catalog import statement
from jobs.db.connection import Endpoint
from jobs.db.executor import Executor
from jobs.runner.context import RunContext
from jobs.runner.run import clock_for, new_run_id
from jobs.settings.model import Settings
from jobs.simulator import connect, create, schema, sysviews
from jobs.simulator.catalog import preset_profile
from jobs.stages import health
from jobs.state.store import StateStore
from jobs.susdb import Susdb

BUDGET_SHARE = 0.01  # of the window, per collection
# What the views a statement names read (their definitions are not public; the simulator's).
VIEW_TABLES = {
    "vwMinimalUpdate": (
        "tbUpdate",
        "tbRevision",
        "tbProperty",
        "tbRevisionSupersedesUpdate",
        "tbDeployment",
    ),
}
PAGE_BYTES = 8060


def tables_named(name: str) -> set[str]:
    """The dbo tables a plain statement from sql/ reads, views resolved to their tables."""
    text = statement(name).text
    named = set(re.findall(r"\bdbo\.(\w+)", text))
    return {table for view in named for table in VIEW_TABLES.get(view, (view,))}


def full_read_pages(sim: Path, table: str) -> int:
    """Every page of a table's narrowest index, as the simulator sizes them (sysviews)."""
    db = sqlite3.connect(sim)
    try:
        (rows,) = db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
        (width,) = db.execute(
            "SELECT MIN(row_bytes) FROM sim_index WHERE object_name = ? AND schema_name = 'dbo'",
            (table,),
        ).fetchone()
    finally:
        db.close()
    return max(1, math.ceil(rows * (width or 40) / PAGE_BYTES))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=60_000)
    parser.add_argument("--window", type=float, default=240, help="minutes")
    parser.add_argument("--collections", type=int, default=3)
    options = parser.parse_args()
    quiet_events()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        sim = root / "neglected.sqlite3"
        create(sim, preset_profile("neglected", updates=options.updates, seed=12))
        settings = Settings.model_validate(
            {"targets": {"sim": {"kind": "simulator", "path": str(sim)}}}
        )
        endpoint = Endpoint("sim", settings.targets["sim"])
        clock = clock_for(endpoint)
        executor = Executor(endpoint, clock=clock, default_timeout=120)
        store = StateStore(root / "state")
        try:
            susdb = Susdb(executor)
            ctx = RunContext(
                run_id=new_run_id(),
                target="sim",
                settings=settings,
                susdb=susdb,
                store=store,
                clock=clock,
                database=susdb.database_identity().key,
            )
            scans = connect(sim)
            scans.db.execute(sysviews.SCAN_LOG)
            scans.db.execute("DELETE FROM sim_scan_log")  # the identity read before counts not
            scans.close()
            simulated, wall = [], []
            with server_meter() as meter:
                for _ in range(options.collections):
                    before, started = clock.now(), time.perf_counter()
                    kpis = health.collect(ctx)
                    simulated.append((clock.now() - before).total_seconds())
                    wall.append(time.perf_counter() - started)
        finally:
            executor.close()
            store.close()
        scans = connect(sim)
        pages = {
            f"{mode} {name}": int(count)
            for mode, name, count in scans.db.execute(
                "SELECT mode, object_name, SUM(pages_read) FROM sim_scan_log "
                "GROUP BY mode, object_name"
            )
        }
        scans.close()
        plain = sorted(
            name
            for name in meter["statements"]
            if name not in ("index_fragmentation", "kpi_table_rows", "database_size")
        )  # those three read metadata and index tops: the scan log has their pages
        full_reads = {
            f"{name}: {table}": full_read_pages(sim, table)
            for name in plain
            for table in sorted(tables_named(name))
        }
    budget = options.window * 60 * BUDGET_SHARE
    logged_pages = sum(pages.values()) // options.collections
    bound_pages = logged_pages + sum(full_reads.values())
    per_collection = bound_pages * schema.COST_PER_PAGE_READ + max(simulated)
    figures = {
        "updates": options.updates,
        "computers": kpis["computers"],
        "not_declined": kpis["not_declined"],
        "collections": options.collections,
        "statements_per_collection": sum(meter["statements"].values()) // options.collections,
        "statements": dict(meter["statements"]),
        "simulated_seconds_per_collection": round(max(simulated), 3),
        "wall_seconds_per_collection": round(max(wall), 3),
        "server_wall_seconds": round(meter["seconds"], 3),
        "logged_pages_by_mode_and_object": pages,
        "plain_statement_full_read_pages": full_reads,
        "bound_pages_per_collection": bound_pages,
        "bound_seconds_per_collection": round(per_collection, 3),
        "window_minutes": options.window,
        "budget_seconds": budget,
        "share_of_window_percent": round(100 * per_collection / (options.window * 60), 4),
        "within_budget": per_collection <= budget,
    }
    print(
        f"{options.updates:,} updates, {kpis['computers']:,.0f} computers: one KPI collection sends "
        f"{figures['statements_per_collection']} statements and reads at most {bound_pages:,} "
        f"pages: {per_collection:,.2f} s at the modelled read rate, "
        f"{figures['share_of_window_percent']}% of a {options.window:g}-minute window "
        f"(budget {budget:g} s); {max(wall):.2f} s of wall time in the simulator"
    )
    print(
        "read in full, at most: "
        + ", ".join(f"{key} {count:,}" for key, count in full_reads.items())
    )
    print(f"logged (metadata, LIMITED index tops): {logged_pages:,} pages a collection")
    print("within budget" if figures["within_budget"] else "OVER BUDGET")
    save("kpi_reads", figures)


if __name__ == "__main__":
    main()
