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
