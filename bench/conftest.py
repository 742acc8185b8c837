"""Shared pages and the ratio report of the target benchmarks.

Absolute times drift on shared machines, so every benchmark group times the
reference and the fast path in the same run, and the summary prints their
ratio.
"""

import numpy as np
import pytest

from fastcollate.benchmark import single_thread_opencv
from fastcollate.synthetic import make_batch, make_page

PAGE_SEED = 2024
WORDS = 150
BASE_SIZE = 640

_medians = {}

single_thread_opencv()


def scaled_page(size):
    """Return the 640 px synthetic page of 150 words, scaled to ``size``."""
    polygons = make_page(np.random.default_rng(PAGE_SEED), BASE_SIZE, WORDS)
    return [polygon * (size / BASE_SIZE) for polygon in polygons]


@pytest.fixture(scope="session")
def collate_batch():
    return make_batch(PAGE_SEED, BASE_SIZE, WORDS, 16)


@pytest.fixture
def record_median(request):
    """Store a benchmark's median under (group, path) for the ratio report."""

    def record(benchmark, group, path):
        _medians[(group, path)] = benchmark.stats.stats.median

    return record


def pytest_terminal_summary(terminalreporter):
    groups = sorted({group for group, _ in _medians})
    rows = []
    for group in groups:
        reference = _medians.get((group, "reference"))
        fast = _medians.get((group, "fast"))
        if reference and fast:
            rows.append(f"{group:28} reference {reference * 1e3:9.2f} ms   fast {fast * 1e3:8.2f} ms"
                        f"   speedup {reference / fast:6.1f}x")
    if rows:
        terminalreporter.write_sep("-", "fast path against reference path, same run (medians)")
        for row in rows:
            terminalreporter.write_line(row)
