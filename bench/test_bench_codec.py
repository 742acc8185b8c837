"""Cache entry encoding: a hit against computing the targets, and a miss against drawing alone.

Each group times the two cases in the same run, and the end of the pytest
session prints the ratio of their medians. Each entry's size in bytes goes to ``extra_info``.
On a busy machine, run ``-k interleaved`` alone: it times all six cases in
turn within each round, in CPU time, so that a change in load hits them
alike.

- hit: ``decode_into`` into the map arrays, against preparing the polygons
  and drawing both maps on the fast path into zeroed arrays.
- miss: ``draw_and_encode`` against ``draw_targets_into``, both from
  prepared polygons into zeroed arrays.
- recipe miss (interleaved only): ``draw_and_encode(record_edges=False)``,
  what ``TargetCache`` does on a miss by default.
- first hit (interleaved only): ``decode_into_upgrading`` of a recipe
  entry, which draws the maps, records the edges and builds the full entry.
"""

import time

import numpy as np
import pytest

from conftest import scaled_page
from fastcollate import TargetParams
from fastcollate.cache.codec import decode_into, decode_into_upgrading, draw_and_encode
from fastcollate.polygons import prepare_polygons
from fastcollate.targets import FAST, draw_targets_into

SIZES = (640, 1024)
ROUNDS = 60

_medians = {}


class RatioReport:
    """Print the ratios after the benchmark tables, as ``pytest_terminal_summary`` runs uncaptured."""

    def pytest_terminal_summary(self, terminalreporter):
        if not _medians:
            return
        terminalreporter.write_sep("-", "cache entry encoding, same run (medians)")
        for size in SIZES:
            compute = _medians.get(("compute", size))
            hit = _medians.get(("hit", size))
            draw = _medians.get(("draw", size))
            miss = _medians.get(("miss", size))
            if compute and hit:
                terminalreporter.write_line(
                    f"{size}x{size}  compute {compute * 1e3:7.3f} ms   hit  {hit * 1e3:7.3f} ms"
                    f"   hit speedup {compute / hit:5.2f}x")
            if draw and miss:
                terminalreporter.write_line(
                    f"{size}x{size}  draw    {draw * 1e3:7.3f} ms   miss {miss * 1e3:7.3f} ms"
                    f"   miss overhead {(miss - draw) * 1e3:+.3f} ms ({(miss / draw - 1) * 100:+.1f}%)")
            recipe_miss = _medians.get(("recipe_miss", size))
            if draw and recipe_miss:
                terminalreporter.write_line(
                    f"{size}x{size}  draw    {draw * 1e3:7.3f} ms   recipe miss {recipe_miss * 1e3:7.3f} ms"
                    f"   overhead {(recipe_miss - draw) * 1e3:+.3f} ms ({(recipe_miss / draw - 1) * 100:+.1f}%)")
            first_hit = _medians.get(("first_hit", size))
            if compute and first_hit:
                terminalreporter.write_line(
                    f"{size}x{size}  compute {compute * 1e3:7.3f} ms   first hit of a recipe "
                    f"{first_hit * 1e3:7.3f} ms   speedup {compute / first_hit:5.2f}x")


@pytest.fixture(scope="module", autouse=True)
def ratio_report(request):
    plugins = request.config.pluginmanager
    if not plugins.has_plugin("codec-ratio-report"):
        plugins.register(RatioReport(), "codec-ratio-report")


def zeroed(size):
    return np.zeros((size, size), dtype=np.float32), np.zeros((size, size), dtype=np.float32)


def compute(polygons, size):
    prob_map, thresh_map = zeroed(size)
    draw_targets_into(prepare_polygons(polygons), prob_map, thresh_map, TargetParams(), FAST)
    return prob_map, thresh_map


def draw(prepared, size):
    prob_map, thresh_map = zeroed(size)
    draw_targets_into(prepared, prob_map, thresh_map, TargetParams(), FAST)


def miss(prepared, size, record_edges=True):
    prob_map, thresh_map = zeroed(size)
    return draw_and_encode(prepared, prob_map, thresh_map, TargetParams(), FAST, record_edges=record_edges)


def record(benchmark, case, size):
    _medians[(case, size)] = benchmark.stats.stats.median


@pytest.mark.parametrize("size", SIZES)
def test_compute(benchmark, size):
    benchmark.group = f"hit against compute, {size}x{size}"
    polygons = scaled_page(size)
    compute(polygons, size)

    benchmark.pedantic(compute, args=(polygons, size), rounds=ROUNDS, iterations=1)
    record(benchmark, "compute", size)


@pytest.mark.parametrize("size", SIZES)
def test_hit(benchmark, size):
    benchmark.group = f"hit against compute, {size}x{size}"
    polygons = scaled_page(size)
    _, entry = miss(prepare_polygons(polygons), size)
    prob_map, thresh_map = zeroed(size)

    benchmark.pedantic(decode_into, args=(entry, prob_map, thresh_map), rounds=ROUNDS, iterations=1)

    expected_prob, expected_thresh = compute(polygons, size)
    assert np.array_equal(prob_map, expected_prob)
    assert np.array_equal(thresh_map, expected_thresh)
    benchmark.extra_info["entry_bytes"] = len(entry)
    record(benchmark, "hit", size)


@pytest.mark.parametrize("size", SIZES)
def test_draw(benchmark, size):
    benchmark.group = f"miss against draw, {size}x{size}"
    prepared = prepare_polygons(scaled_page(size))
    draw(prepared, size)

    benchmark.pedantic(draw, args=(prepared, size), rounds=ROUNDS, iterations=1)
    record(benchmark, "draw", size)


@pytest.mark.parametrize("size", SIZES)
def test_miss(benchmark, size):
    benchmark.group = f"miss against draw, {size}x{size}"
    prepared = prepare_polygons(scaled_page(size))
    miss(prepared, size)

    _, entry = benchmark.pedantic(miss, args=(prepared, size), rounds=ROUNDS, iterations=1)
    benchmark.extra_info["entry_bytes"] = len(entry)
    record(benchmark, "miss", size)


@pytest.mark.parametrize("size", SIZES)
def test_interleaved(benchmark, size):
    """Time every case in turn within each round, so that load changes hit them alike.

    Each case is timed in CPU time of this thread (``time.thread_time``),
    which leaves out the time that other jobs run on the cores. The benchmark
    row is the whole round in wall time. The per-case medians go to
    ``extra_info`` and replace the separate tests' numbers in the report.
    """
    benchmark.group = f"interleaved rounds, {size}x{size}"
    polygons = scaled_page(size)
    prepared = prepare_polygons(polygons)
    _, entry = miss(prepared, size)
    _, recipe = miss(prepared, size, record_edges=False)
    prob_map, thresh_map = zeroed(size)
    cases = {
        "compute": lambda: compute(polygons, size),
        "hit": lambda: decode_into(entry, prob_map, thresh_map),
        "draw": lambda: draw(prepared, size),
        "miss": lambda: miss(prepared, size),
        "recipe_miss": lambda: miss(prepared, size, record_edges=False),
        "first_hit": lambda: decode_into_upgrading(recipe, prob_map, thresh_map),
    }
    times = {case: [] for case in cases}

    def one_round():
        for case, function in cases.items():
            start = time.thread_time()
            function()
            times[case].append(time.thread_time() - start)

    one_round()
    for case in times:
        times[case].clear()
    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)

    for case, values in times.items():
        median = float(np.median(values))
        benchmark.extra_info[f"{case}_median_ms"] = median * 1e3
        _medians[(case, size)] = median
    benchmark.extra_info["entry_bytes"] = len(entry)
    benchmark.extra_info["recipe_bytes"] = len(recipe)
