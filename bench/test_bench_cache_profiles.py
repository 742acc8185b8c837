"""Target cache with the masked profiles: hit against computing, miss overhead and entry size.

Run with ``pytest bench/test_bench_cache_profiles.py --benchmark-only -s``.
The cases of each profile run side by side, round after round, so that they
meet the same load, and the report prints their same-run ratios. The page is
the 150-word bench page at 640 x 640 with every tenth word ignored.
"""

import time

import numpy as np
import pytest

from fastcollate import TargetCache, TargetParams
from fastcollate.cache.masked import encode_masked
from fastcollate.data import sample_dirs
from fastcollate.datasets import load_samples
from fastcollate.profiles import MASKED_PROFILES, draw_profile_targets
from fastcollate.synthetic import make_page
from fastcollate.targets import FAST

from conftest import BASE_SIZE, PAGE_SEED, WORDS, scaled_page

ROUNDS = 60
CASES = ("compute", "miss", "memory_hit", "disk_hit")

_medians = {}
_entry_sizes = {}


def ignore_every_tenth(polygons):
    return [index % 10 == 9 for index in range(len(polygons))]


def new_maps(size):
    maps = tuple(np.zeros((size, size), dtype=np.float32) for _ in range(4))
    maps[2].fill(1.0)
    return maps


def reset(maps):
    for values, initial in zip(maps, (0.0, 0.0, 1.0, 0.0)):
        values.fill(initial)


@pytest.mark.parametrize("profile", MASKED_PROFILES)
def test_hit_interleaved(benchmark, tmp_path, profile):
    """Median wall time of computing, a miss, a memory hit and a disk hit, one image at 640."""
    benchmark.group = f"{profile} cache, one image {BASE_SIZE}x{BASE_SIZE}"
    polygons = scaled_page(BASE_SIZE)
    ignore_tags = ignore_every_tenth(polygons)
    params = TargetParams(profile=profile)
    maps = new_maps(BASE_SIZE)
    expected = new_maps(BASE_SIZE)
    draw_profile_targets(polygons, ignore_tags, *expected, params, FAST)

    memory_cache = TargetCache()
    miss_cache = TargetCache()
    # A memory budget of 0 sends every lookup to the spill directory.
    disk_cache = TargetCache(max_bytes=0, spill_dir=tmp_path / "spill")
    for cache in (memory_cache, disk_cache):
        reset(maps)
        draw_profile_targets(polygons, ignore_tags, *maps, params, FAST, cache=cache)
        cache.flush()
    shifts = iter(range(1, ROUNDS + 1))

    def run(case):
        reset(maps)
        if case == "compute":
            draw_profile_targets(polygons, ignore_tags, *maps, params, FAST)
        elif case == "miss":
            # A new shift per round gives a new key, so every lookup misses.
            shift = next(shifts) * 1e-3
            shifted = [polygon + shift for polygon in polygons]
            draw_profile_targets(shifted, ignore_tags, *maps, params, FAST, cache=miss_cache)
        else:
            cache = memory_cache if case == "memory_hit" else disk_cache
            draw_profile_targets(polygons, ignore_tags, *maps, params, FAST, cache=cache)

    def measure():
        times = {case: [] for case in CASES}
        for _ in range(ROUNDS):
            for case in CASES:
                start = time.perf_counter()
                run(case)
                times[case].append(time.perf_counter() - start)
        for case in CASES:
            _medians[(profile, case)] = float(np.median(times[case]))

    benchmark.pedantic(measure, rounds=1, iterations=1)

    run("disk_hit")
    for values, reference in zip(maps, expected):
        assert np.array_equal(values.view(np.uint32), reference.view(np.uint32))
    assert disk_cache.stats()["misses"] == 1


def entry_size(page, ignore_tags, params):
    maps = new_maps(BASE_SIZE)
    skipped = draw_profile_targets(page, ignore_tags, *maps, params, FAST)
    return len(encode_masked(maps, skipped))


@pytest.mark.parametrize("profile", MASKED_PROFILES)
def test_entry_size(benchmark, profile):
    """Bytes per entry at 640, on the embedded real pages and on 10 synthetic pages."""
    benchmark.group = "masked entry size"
    params = TargetParams(profile=profile)
    real = [(sample["polygons"], sample["ignore_tags"])
            for folder in sample_dirs() for sample in load_samples(folder, BASE_SIZE)]
    rng = np.random.default_rng(PAGE_SEED)
    synthetic = []
    for _ in range(10):
        page = make_page(rng, BASE_SIZE, WORDS)
        synthetic.append((page, ignore_every_tenth(page)))

    def measure():
        _entry_sizes[(profile, "real")] = [entry_size(page, tags, params) for page, tags in real]
        _entry_sizes[(profile, "synthetic")] = [entry_size(page, tags, params) for page, tags in synthetic]

    benchmark.pedantic(measure, rounds=1, iterations=1)


def test_zz_report(benchmark, capsys):
    """Print the same-run ratios of the tests above (runs last by name)."""
    # Using the fixture keeps this test in `--benchmark-only` runs.
    benchmark.group = "report"
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    lines = []
    for profile in MASKED_PROFILES:
        compute = _medians.get((profile, "compute"))
        for case in CASES[1:]:
            median = _medians.get((profile, case))
            if compute and median:
                lines.append(f"{profile:9} {case:10} median {median * 1e3:6.2f} ms against compute "
                             f"{compute * 1e3:6.2f} ms: ratio {median / compute:.3f}")
    for (profile, name), sizes in sorted(_entry_sizes.items()):
        lines.append(f"{profile:9} {name} pages: mean entry {np.mean(sizes) / 1e3:6.1f} kB "
                     f"(min {min(sizes) / 1e3:.1f} kB, max {max(sizes) / 1e3:.1f} kB, {len(sizes)} pages)")

    with capsys.disabled():
        print("\nmasked target cache, same run (medians, wall time):")
        for line in lines:
            print("  " + line)
