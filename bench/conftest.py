"""Shared pages and the ratio report of the target benchmarks.

Absolute times drift on shared machines, so every benchmark group times the
reference and the fast path in the same run, and the summary prints their
ratio. ``--ratio-json FILE`` also saves the ratios as a benchmark result for
``fastcollate compare`` and ``fastcollate report``.
"""

import sys

import numpy as np
import pytest

from fastcollate.benchmark import single_thread_opencv
from fastcollate.regression import bench_document, make_case, save_json
from fastcollate.synthetic import make_batch, make_page

PAGE_SEED = 2024
WORDS = 150
BASE_SIZE = 640

_medians = {}
_sizes = {}
_series = {}
_extra_sections = {}

single_thread_opencv()


def scaled_page(size):
    """Return the 640 px synthetic page of 150 words, scaled to ``size``."""
    polygons = make_page(np.random.default_rng(PAGE_SEED), BASE_SIZE, WORDS)
    return [polygon * (size / BASE_SIZE) for polygon in polygons]


@pytest.fixture(scope="session")
def collate_batch():
    return make_batch(PAGE_SEED, BASE_SIZE, WORDS, 16)


def pytest_addoption(parser):
    parser.addoption("--ratio-json", metavar="FILE",
                     help="save the fast/reference ratio of every group as a benchmark result")


@pytest.fixture
def record_median(request):
    """Store a benchmark's median under (group, path) for the ratio report.

    ``size`` (pixels) and ``series`` place the group in the plot of speedup
    against image size.
    """

    def record(benchmark, group, path, size=None, series=None):
        _medians[(group, path)] = benchmark.stats.stats.median
        if size is not None:
            _sizes[group] = size
            _series[group] = series

    return record


@pytest.fixture
def record_section():
    """Store an extra named section, such as the profiling overhead, in the JSON result."""

    def record(name, value):
        _extra_sections[name] = value

    return record


def ratio_cases():
    cases = []
    for group in sorted({group for group, _ in _medians}):
        reference = _medians.get((group, "reference"))
        fast = _medians.get((group, "fast"))
        if reference and fast:
            cases.append(make_case(group, reference, fast, _sizes.get(group), _series.get(group)))
    return cases


def pytest_terminal_summary(terminalreporter, config):
    cases = ratio_cases()
    if cases:
        terminalreporter.write_sep("-", "fast path against reference path, same run (medians)")
        for case in cases:
            terminalreporter.write_line(
                f"{case['name']:28} reference {case['reference_ms']:9.2f} ms   "
                f"fast {case['fast_ms']:8.2f} ms   speedup {case['speedup']:6.1f}x"
            )
    overhead = _extra_sections.get("profiling_overhead")
    if overhead:
        terminalreporter.write_line(
            f"profiling on against off, batch of 16 at 640, median of {overhead['pairs']} "
            f"interleaved pairs: wall time {overhead['percent']:+.2f}%, "
            f"CPU time {overhead['cpu']['percent']:+.2f}%; ratio of minima: wall "
            f"{overhead['min_ratio']:.4f}, CPU {overhead['cpu']['min_ratio']:.4f}"
        )

    path = config.getoption("--ratio-json")
    if path and cases:
        command = "pytest " + " ".join(sys.argv[1:])
        save_json(bench_document(cases, command=command, **_extra_sections), path)
        terminalreporter.write_line(f"wrote {path}")
