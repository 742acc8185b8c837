"""End-to-end DataLoader throughput, and a hang check of 20 repetitions per start method.

Run with ``pytest bench/test_bench_loader.py --benchmark-only -s``. The
throughput test prints the same table as ``fastcollate loader-bench``: both
paths through 2 workers, batch 16, 640 x 640, in one run.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from fastcollate.loader_bench import format_results, run_loader_bench

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))

from test_workers_fork import run_script  # noqa: E402

HANG_REPETITIONS = 20
# spawn took 298 s for 20 repetitions on 2 cores at load average 4-8
# (docs/performance-workers.md), so this leaves about 2x margin.
HANG_TIMEOUT_S = 600


def test_loader_throughput(benchmark):
    results = benchmark.pedantic(
        run_loader_bench, kwargs=dict(size=640, batch_size=16, batches=20, num_workers=2,
                                      consumer_ms=20.0, progress=False),
        rounds=1, iterations=1,
    )
    print()
    print(format_results(results, 640, 16, 2, 20.0))

    assert results["fast"].maps_digest == results["reference"].maps_digest
    benchmark.extra_info["fast_images_per_second"] = results["fast"].images_per_second
    benchmark.extra_info["reference_images_per_second"] = results["reference"].images_per_second


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_start_method_no_hang(benchmark, start_method):
    completed = benchmark.pedantic(run_script, args=(start_method, HANG_REPETITIONS, HANG_TIMEOUT_S),
                                   rounds=1, iterations=1)

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert f"finished {HANG_REPETITIONS} repetitions" in completed.stdout
