"""Reference against fast path: per image at 640, 1024 and 1280, and a batch of 16."""

import subprocess
import sys

import numpy as np
import pytest

from fastcollate import FastDBCollateFN, TargetParams
from fastcollate.polygons import prepare_polygons
from fastcollate.targets import FAST, REFERENCE, draw_targets_into

from conftest import scaled_page

SIZES = (640, 1024, 1280)
PATHS = (REFERENCE, FAST)


def build(prepared, size, path):
    prob_map = np.zeros((size, size), dtype=np.float32)
    thresh_map = np.zeros((size, size), dtype=np.float32)
    draw_targets_into(prepared, prob_map, thresh_map, TargetParams(), path)
    return prob_map, thresh_map


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("size", SIZES)
def test_image(benchmark, record_median, size, path):
    benchmark.group = f"image {size}x{size}, 150 words"
    prepared = prepare_polygons(scaled_page(size))
    build(prepared, size, path)  # compile outside the timing

    rounds = 3 if path == REFERENCE else 30
    maps = benchmark.pedantic(build, args=(prepared, size, path), rounds=rounds, iterations=1)

    expected = build(prepared, size, REFERENCE if path == FAST else FAST)
    assert np.array_equal(maps[0], expected[0])
    assert np.array_equal(maps[1], expected[1])
    record_median(benchmark, benchmark.group, path, size=size, series="image, 150 words")


@pytest.mark.parametrize("path", PATHS)
def test_batch_collate(benchmark, record_median, collate_batch, path):
    benchmark.group = "collate batch 16 at 640"
    collate = FastDBCollateFN(reference=path == REFERENCE)
    collate(collate_batch)

    rounds = 2 if path == REFERENCE else 15
    benchmark.pedantic(collate, args=(collate_batch,), rounds=rounds, iterations=1)
    record_median(benchmark, benchmark.group, path)


FIRST_CALL_SCRIPT = """
import time
import numpy as np
start = time.perf_counter()
from fastcollate import make_db_targets
square = [np.array([[10, 10], [90, 12], [88, 40], [9, 38]])]
t0 = time.perf_counter()
make_db_targets(square, (640, 640), reference=False)
t1 = time.perf_counter()
make_db_targets(square, (640, 640), reference=False)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def first_call_overhead():
    output = subprocess.run([sys.executable, "-c", FIRST_CALL_SCRIPT], check=True,
                            capture_output=True, text=True).stdout
    first, steady = (float(value) for value in output.split())
    return first - steady


def test_first_call_warm_cache(benchmark):
    """Extra seconds of a new process's first call, with the compile cache warm."""
    benchmark.group = "first call in a new process (warm cache)"
    first_call_overhead()  # fill the cache
    benchmark.extra_info["note"] = "the time is the whole subprocess; see extra_info"
    overheads = []

    def run():
        overheads.append(first_call_overhead())

    benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info["first_call_overhead_s"] = sorted(overheads)[len(overheads) // 2]
    print(f"\nfirst-call overhead with a warm cache: median {benchmark.extra_info['first_call_overhead_s']:.3f} s")
