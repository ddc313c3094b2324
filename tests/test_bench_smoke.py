"""bench/ stays runnable: each script runs at a small size and prints its figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def bench(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=BENCH.parent,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.slow
def test_overhead_bench_prints_per_item_figures():
    output = bench("overhead.py", "--items", "300", "--latency-items", "20")
    assert "decline_zero_latency" in output and "us/item" in output and "% of wall" in output


@pytest.mark.slow
def test_round_trip_and_window_benches_print_their_figures():
    assert "per update" in bench("round_trips.py", "--updates", "3000")
    output = bench("window.py", "--updates", "3000", "--window", "30")
    assert "without_microsoft_fix" in output and "monolithic call needs" in output


@pytest.mark.slow
def test_the_driver_overhead_bench_prints_both_figures():
    from tests.integration.served import driver_problem

    problem = driver_problem()
    if problem:
        pytest.skip(f"needs the real driver stack: {problem}")
    output = bench("driver_overhead.py", "--items", "200")
    assert "decline_in_process" in output and "decline_over_freetds" in output
    assert "the driver stack adds" in output and "requests per item" in output


@pytest.mark.slow
def test_the_kpi_read_bench_prints_its_bound_against_the_window():
    output = bench("kpi_reads.py", "--updates", "3000", "--collections", "1")
    assert "kpi_client_outcomes: tbComputerTarget" in output and "within budget" in output
