"""Target cache: hit against computing, entry size, and the cost of a cache that never hits.

Run with ``pytest bench/test_bench_cache.py --benchmark-only``. Each group
times the cached and the uncached case in the same run, and the last test
prints their ratios.
"""

import time

import numpy as np
import pytest

from fastcollate import FastDBCollateFN, TargetCache, TargetParams
from fastcollate.cache.codec import decode_into_upgrading, draw_and_encode
from fastcollate.cache.key import target_key
from fastcollate.cache.spill import SpillDirectory
from fastcollate.data import sample_dirs
from fastcollate.datasets import load_samples
from fastcollate.polygons import prepare_polygons
from fastcollate.synthetic import make_batch, make_page
from fastcollate.targets import FAST, draw_targets_into

from conftest import BASE_SIZE, PAGE_SEED, WORDS, scaled_page

_medians = {}
_entry_sizes = {}
_interleaved = {}

def draw_fresh(prepared, prob_map, thresh_map):
    prob_map.fill(0.0)
    thresh_map.fill(0.0)
    return draw_targets_into(prepared, prob_map, thresh_map, TargetParams(), FAST)

def draw_cached(cache, prepared, prob_map, thresh_map):
    # No clearing, as in the collate: a hit writes every pixel and a miss clears the maps itself.
    return cache.draw_into(prepared, prob_map, thresh_map, TargetParams(), FAST)

@pytest.mark.parametrize("case", ["compute", "memory_hit", "disk_hit"])
def test_hit_against_compute(benchmark, tmp_path, case):
    benchmark.group = f"one image {BASE_SIZE}x{BASE_SIZE}, {WORDS} words"
    prepared = prepare_polygons(scaled_page(BASE_SIZE))
    prob_map = np.zeros((BASE_SIZE, BASE_SIZE), dtype=np.float32)
    thresh_map = np.zeros((BASE_SIZE, BASE_SIZE), dtype=np.float32)
    expected = [array.copy() for array in (prob_map, thresh_map)]
    draw_fresh(prepared, *expected)

    if case == "compute":
        function, args = draw_fresh, (prepared, prob_map, thresh_map)
    else:
        # A memory budget of 0 sends every lookup to the spill directory.
        max_bytes = 0 if case == "disk_hit" else 2**30
        cache = TargetCache(max_bytes=max_bytes, spill_dir=tmp_path if case == "disk_hit" else None)
        draw_cached(cache, prepared, prob_map, thresh_map)
        function, args = draw_cached, (cache, prepared, prob_map, thresh_map)
    # The first hit upgrades the recipe entry of the miss, so the rounds time full hits.
    function(*args)
    if case != "compute":
        cache.flush()

    benchmark.pedantic(function, args=args, rounds=30, iterations=1)

    assert np.array_equal(prob_map, expected[0])
    assert np.array_equal(thresh_map, expected[1])
    _medians[(benchmark.group, case)] = benchmark.stats.stats

def entry_size(sample_polygons, size):
    prob_map = np.zeros((size, size), dtype=np.float32)
    thresh_map = np.zeros((size, size), dtype=np.float32)
    _, entry = draw_and_encode(prepare_polygons(sample_polygons), prob_map, thresh_map,
                               TargetParams(), FAST)
    return len(entry)

def test_entry_size(benchmark):
    """Bytes of 1000 full entries at 640, estimated from real and synthetic pages."""
    benchmark.group = "entry size"
    real_pages = [sample["polygons"] for folder in sample_dirs() for sample in load_samples(folder, 640)]
    rng = np.random.default_rng(PAGE_SEED)
    synthetic_pages = [make_page(rng, BASE_SIZE, WORDS) for _ in range(10)]

    def measure():
        _entry_sizes["real"] = [entry_size(page, BASE_SIZE) for page in real_pages]
        _entry_sizes["synthetic"] = [entry_size(page, BASE_SIZE) for page in synthetic_pages]

    benchmark.pedantic(measure, rounds=1, iterations=1)
    for name, sizes in _entry_sizes.items():
        benchmark.extra_info[f"{name}_mean_entry_bytes"] = float(np.mean(sizes))
        benchmark.extra_info[f"{name}_1000_entries_mb"] = float(np.mean(sizes)) * 1000 / 1e6

def shifted_batches(count):
    """Batches of 16 at 640 whose polygons move by one pixel per batch, so every key is new."""
    base = make_batch(PAGE_SEED, BASE_SIZE, WORDS, 16)
    batches = []
    for shift in range(1, count + 1):
        batch = []
        for sample in base:
            moved = dict(sample)
            moved["polygons"] = [polygon + np.float32(shift) for polygon in sample["polygons"]]
            batch.append(moved)
        batches.append(batch)
    return batches

def make_cache(case, tmp_path):
    """Return the cache of a collate case: None, memory only, spill directory, or recording on a miss."""
    if case == "no_cache":
        return None
    if case == "memory_cache":
        return TargetCache()
    if case == "spill_cache":
        return TargetCache(spill_dir=tmp_path)
    if case == "memory_record_on_miss":
        return TargetCache(record_on_miss=True)
    raise ValueError(f"unknown case {case!r}")


@pytest.mark.parametrize("case", ["no_cache", "memory_cache", "spill_cache"])
def test_collate_random_augmentation(benchmark, tmp_path, case):
    benchmark.group = "collate 16 at 640, every key new"
    rounds = 12
    batches = iter(shifted_batches(rounds + 1))
    cache = make_cache(case, tmp_path)
    collate = FastDBCollateFN(cache=cache)
    collate(next(batches))

    benchmark.pedantic(collate, setup=lambda: ((next(batches),), {}), rounds=rounds, iterations=1)

    if cache is not None:
        assert cache.stats()["hits"] == 0
    _medians[(benchmark.group, case)] = benchmark.stats.stats

def interleaved_medians(functions, rounds, clock=time.perf_counter):
    """Time each function once per round, rotating the order; return the median seconds of each.

    Other processes share the machine, so running the cases side by side
    exposes them to the same load, which separate benchmark groups do not.
    ``clock`` is wall time by default. ``time.process_time`` counts the CPU
    time of every thread of this process, so it leaves out the time that
    other jobs run on the cores.
    """
    times = {name: [] for name in functions}
    names = list(functions)
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            start = clock()
            functions[name]()
            times[name].append(clock() - start)
    return {name: float(np.median(values)) for name, values in times.items()}


@pytest.mark.parametrize("clock", ["wall", "cpu"])
def test_collate_interleaved(benchmark, tmp_path, clock):
    """Every key new: the collates run side by side, batch by batch.

    In ``cpu`` the spill case waits for its background writes after each
    batch, so that their CPU time counts against it and not against the
    next case.
    """
    benchmark.group = f"collate 16 at 640, every key new, interleaved, {clock} time"
    rounds = 30
    batches = shifted_batches(rounds + 1)
    cases = ("no_cache", "memory_cache", "spill_cache", "memory_record_on_miss")
    collates = {case: FastDBCollateFN(cache=make_cache(case, tmp_path)) for case in cases}
    for collate in collates.values():
        collate(batches[0])
    collates["spill_cache"].cache.flush()
    positions = {name: iter(range(1, rounds + 1)) for name in collates}

    def run(name):
        collates[name](batches[next(positions[name])])
        if clock == "cpu" and collates[name].cache is not None:
            collates[name].cache.flush()

    functions = {name: (lambda name=name: run(name)) for name in collates}
    timer = time.perf_counter if clock == "wall" else time.process_time

    medians = benchmark.pedantic(interleaved_medians, args=(functions, rounds, timer), rounds=1, iterations=1)

    for name, median in medians.items():
        benchmark.extra_info[f"{name}_median_s"] = median
        _interleaved[(benchmark.group, name)] = median


def test_hit_interleaved(benchmark, tmp_path):
    """Hits and computing one image, side by side."""
    benchmark.group = f"one image {BASE_SIZE}x{BASE_SIZE}, {WORDS} words, interleaved"
    prepared = prepare_polygons(scaled_page(BASE_SIZE))
    prob_map = np.zeros((BASE_SIZE, BASE_SIZE), dtype=np.float32)
    thresh_map = np.zeros((BASE_SIZE, BASE_SIZE), dtype=np.float32)
    memory_cache = TargetCache()
    disk_cache = TargetCache(max_bytes=0, spill_dir=tmp_path)
    functions = {
        "compute": lambda: draw_fresh(prepared, prob_map, thresh_map),
        "memory_hit": lambda: draw_cached(memory_cache, prepared, prob_map, thresh_map),
        "disk_hit": lambda: draw_cached(disk_cache, prepared, prob_map, thresh_map),
    }
    # Two calls: a miss that stores a recipe, then the hit that upgrades it.
    for function in functions.values():
        function()
        function()
    disk_cache.flush()

    medians = benchmark.pedantic(interleaved_medians, args=(functions, 60), rounds=1, iterations=1)

    assert memory_cache.stats()["misses"] == 1
    assert disk_cache.stats()["misses"] == 1
    for name, median in medians.items():
        benchmark.extra_info[f"{name}_median_s"] = median
        _interleaved[(benchmark.group, name)] = median


def test_miss_breakdown(benchmark, tmp_path):
    """Where a miss's time goes: drawing, the key, encoding, the spill write, and the first hit.

    ``miss_full`` and ``miss_recipe`` are ``draw_and_encode`` on the fast
    path with and without recording the edges; the report subtracts
    ``draw`` to give the encoding cost. ``spill_write`` writes a full
    entry's file in the calling thread, ``spill_write_later`` only queues it
    for the background writer, whose work still shares the cores.
    ``first_hit`` decodes a recipe entry and builds the full entry.
    """
    benchmark.group = f"miss breakdown {BASE_SIZE}x{BASE_SIZE}, {WORDS} words, interleaved"
    prepared = prepare_polygons(scaled_page(BASE_SIZE))
    prob_map = np.zeros((BASE_SIZE, BASE_SIZE), dtype=np.float32)
    thresh_map = np.zeros((BASE_SIZE, BASE_SIZE), dtype=np.float32)
    _, entry = draw_and_encode(prepared, prob_map, thresh_map, TargetParams(), FAST)
    _, recipe = draw_and_encode(prepared, np.zeros_like(prob_map), np.zeros_like(thresh_map),
                                TargetParams(), FAST, record_edges=False)
    spill = SpillDirectory(tmp_path)
    key_numbers = iter(range(10**6))

    def miss(record_edges):
        prob_map.fill(0.0)
        thresh_map.fill(0.0)
        return draw_and_encode(prepared, prob_map, thresh_map, TargetParams(), FAST, record_edges=record_edges)

    functions = {
        "draw": lambda: draw_fresh(prepared, prob_map, thresh_map),
        "key": lambda: target_key(prepared, (BASE_SIZE, BASE_SIZE), TargetParams()),
        "miss_full": lambda: miss(True),
        "miss_recipe": lambda: miss(False),
        "spill_write": lambda: spill.write(f"{next(key_numbers):040x}", entry),
        "spill_write_later": lambda: spill.write_later(f"{next(key_numbers):040x}", entry),
        "first_hit": lambda: decode_into_upgrading(recipe, prob_map, thresh_map),
    }

    medians = benchmark.pedantic(interleaved_medians, args=(functions, 40), rounds=1, iterations=1)
    spill.flush()
    medians["encode_full"] = medians["miss_full"] - medians["draw"]
    medians["encode_recipe"] = medians["miss_recipe"] - medians["draw"]

    for name, median in medians.items():
        benchmark.extra_info[f"{name}_median_s"] = median
        _interleaved[(benchmark.group, name)] = median


def test_zz_report(benchmark, capsys):
    """Print the same-run ratios of the tests above (runs last by name)."""
    # Using the fixture keeps this test in `--benchmark-only` runs.
    benchmark.group = "report"
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    lines = []
    image_group = f"one image {BASE_SIZE}x{BASE_SIZE}, {WORDS} words"
    compute = _medians.get((image_group, "compute"))
    for case in ("memory_hit", "disk_hit"):
        hit = _medians.get((image_group, case))
        if compute and hit:
            lines.append(f"{case:12} median {hit.median * 1e3:7.2f} ms against compute "
                         f"{compute.median * 1e3:7.2f} ms: {compute.median / hit.median:5.1f}x faster; "
                         f"min {hit.min * 1e3:.2f} against {compute.min * 1e3:.2f} ms: "
                         f"{compute.min / hit.min:.1f}x")

    collate_group = "collate 16 at 640, every key new"
    plain = _medians.get((collate_group, "no_cache"))
    for case in ("memory_cache", "spill_cache", "memory_record_on_miss"):
        cached = _medians.get((collate_group, case))
        if plain and cached:
            lines.append(f"{case:12} median {cached.median * 1e3:7.1f} ms against no cache "
                         f"{plain.median * 1e3:7.1f} ms: {100 * (cached.median / plain.median - 1):+5.1f}% "
                         f"overhead; min {100 * (cached.min / plain.min - 1):+.1f}%")

    for name, sizes in _entry_sizes.items():
        lines.append(f"{name} pages: mean entry {np.mean(sizes) / 1e3:7.1f} kB, "
                     f"1000 entries {np.mean(sizes) * 1000 / 1e6:7.1f} MB "
                     f"(min {min(sizes) / 1e3:.1f} kB, max {max(sizes) / 1e3:.1f} kB, {len(sizes)} pages)")

    for (group, name), median in sorted(_interleaved.items()):
        if "breakdown" in group:
            baseline_name = "draw"
        elif "image" in group:
            baseline_name = "compute"
        else:
            baseline_name = "no_cache"
        baseline = _interleaved.get((group, baseline_name))
        clock = " (cpu)" if group.endswith("cpu time") else ""
        if name != baseline_name and baseline:
            lines.append(f"interleaved{clock} {name:12} median {median * 1e3:7.2f} ms against {baseline_name} "
                         f"{baseline * 1e3:7.2f} ms: ratio {median / baseline:.3f}")

    with capsys.disabled():
        print("\ntarget cache, same run (medians):")
        for line in lines:
            print("  " + line)
