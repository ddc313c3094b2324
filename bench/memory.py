"""Peak memory of a full nightly run on 10k, 100k and 1M-update catalogs.

Target: flat (1M at most 1.5x the 10k figure) and under 300 MB, because nothing holds the whole
catalog in memory: candidates stream from the server into the state store, items come back in
batches. Each run is its own process (`susdb-maint run --profile nightly`); its peak RSS comes from
the kernel (getrusage of the child). The catalog is generated beforehand, in another process.
Usage: python bench/memory.py [--sizes 10000 100000 1000000] [--window 240]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, save

MEASURE = (
    "import resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)"
)


def peak_rss_mb(command: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Run ``command`` under a fresh wrapper process, so its peak is its own (KB on Linux)."""
    started = time.perf_counter()
    output = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(output[0]) / 1024, time.perf_counter() - started, int(output[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--window", type=float, default=240, help="nightly window, simulated minutes"
    )
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        for size in sorted(args.sizes):
            sim = root / f"susdb-{size}.sqlite3"
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import sys; from jobs.simulator import create; "
                    "from jobs.simulator.catalog import preset_profile; "
                    f"create(sys.argv[1], preset_profile('neglected', updates={size}, seed=5))",
                    str(sim),
                ],
                env=env,
                check=True,
            )
            generated = time.perf_counter() - started
            config = root / f"c{size}.toml"
            config.write_text(
                f'[backup]\ngate = "off"\n[targets.sim]\nkind = "simulator"\npath = "{sim}"\n'
            )
            command = [
                sys.executable,
                "-m",
                "jobs",
                "--config",
                str(config),
                "--state-dir",
                str(root / f"state{size}"),
                "--log-format",
                "json",
                "run",
                "--profile",
                "nightly",
                "--max-duration",
                str(args.window),
            ]
            peak, seconds, code = peak_rss_mb(command, env)
            results[size] = {
                "peak_rss_mb": round(peak, 1),
                "run_seconds": round(seconds, 1),
                "exit_code": code,
                "generate_seconds": round(generated, 1),
                "file_mb": round(sim.stat().st_size / 2**20, 1),
            }
            print(
                f"{size:>9,} updates: peak RSS {peak:7.1f} MB, nightly run {seconds:7.1f} s (exit {code}), "
                f"catalog generated in {generated:5.1f} s, {results[size]['file_mb']} MB on disk",
                flush=True,
            )
    sizes = sorted(results)
    if len(sizes) > 1:
        ratio = results[sizes[-1]]["peak_rss_mb"] / results[sizes[0]]["peak_rss_mb"]
        print(
            f"peak RSS {sizes[-1]:,} / {sizes[0]:,}: {ratio:.2f}x (target at most 1.5x, under 300 MB)"
        )
        results["ratio"] = round(ratio, 2)
    save("memory", {str(key): value for key, value in results.items()})


if __name__ == "__main__":
    main()
