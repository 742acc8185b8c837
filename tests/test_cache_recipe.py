"""Recipe entries: a miss stores the geometry, the first hit records the edges and upgrades the entry."""

import struct
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings

from conftest import describe_difference, run_path
from fastcollate.cache import TargetCache, codec
from fastcollate.cache.codec import decode_into, decode_into_upgrading, draw_and_encode
from fastcollate.cache.precompute import precompute
from fastcollate.cache.spill import HEADER
from fastcollate.polygons import prepare_polygons
from fastcollate.synthetic import make_page
from fastcollate.targets import FAST, REFERENCE, TargetParams
from test_properties import images, target_params

SKIP_PAGE = [
    np.array([[np.nan, 1.0], [5.0, 5.0], [1.0, 9.0]]),  # non_finite
    np.array([[3, 3]]),  # too_few_points
    np.array([[1, 1], [5, 5], [9, 9]]),  # zero_area
    np.array([[200, 200], [260, 200], [260, 230], [200, 230]]),  # outside_image
    np.array([[4, 4], [40, 6], [38, 20], [5, 18]]),
]

CASES = [
    ("page_640", lambda: make_page(np.random.default_rng(2024), 640, 150), (640, 640), TargetParams()),
    ("page_corrected_edges", lambda: make_page(np.random.default_rng(5), 400, 80), (400, 400),
     TargetParams(shrink_ratio=0.9, thresh_min=0.0, thresh_max=1.0, corrected_edges=True)),
    ("skips", lambda: SKIP_PAGE, (64, 64), TargetParams()),
    ("empty", lambda: [], (48, 80), TargetParams()),
    ("wide", lambda: make_page(np.random.default_rng(7), 300, 40), (200, 500), TargetParams()),
]


def entry_layout(entry):
    return struct.unpack_from("<4sHBBII", entry, 0)[2]


def garbage_maps(size):
    return np.full(size, np.nan, dtype=np.float32), np.full(size, np.nan, dtype=np.float32)


def assert_maps(prob_map, thresh_map, expected, label):
    assert np.array_equal(prob_map, expected[0]), describe_difference(prob_map, expected[0], f"{label} prob")
    assert np.array_equal(thresh_map, expected[1]), describe_difference(thresh_map, expected[1], f"{label} thresh")


@pytest.mark.parametrize(("polygons", "size", "params"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_recipe_round_trip_and_upgrade(polygons, size, params):
    polygons = polygons()
    expected = run_path(polygons, size, params, False)
    prepared = prepare_polygons(polygons)

    prob_map = np.zeros(size, dtype=np.float32)
    thresh_map = np.zeros(size, dtype=np.float32)
    skipped, recipe = draw_and_encode(prepared, prob_map, thresh_map, params, FAST, record_edges=False)
    assert_maps(prob_map, thresh_map, expected, "drawn")
    assert Counter(skipped) == Counter(expected[2])
    assert entry_layout(recipe) == codec.LAYOUT_RECIPE

    decoded = garbage_maps(size)
    assert decode_into(recipe, *decoded) == Counter(expected[2])
    assert_maps(*decoded, expected, "decoded recipe")

    upgraded_maps = garbage_maps(size)
    upgraded_skipped, full_entry = decode_into_upgrading(recipe, *upgraded_maps)
    assert upgraded_skipped == Counter(expected[2])
    assert_maps(*upgraded_maps, expected, "upgrading")

    # The upgrade gives the bytes of an entry recorded on the miss itself.
    _, recorded = draw_and_encode(prepared, np.zeros(size, np.float32), np.zeros(size, np.float32),
                                  params, FAST)
    assert full_entry == recorded
    full_maps = garbage_maps(size)
    decode_into(full_entry, *full_maps)
    assert_maps(*full_maps, expected, "upgraded entry")


def check_upgrade(polygons, size, params):
    expected = run_path(polygons, size, params, False)
    prepared = prepare_polygons(polygons)
    _, recipe = draw_and_encode(prepared, np.zeros(size, np.float32), np.zeros(size, np.float32),
                                params, FAST, record_edges=False)

    maps = garbage_maps(size)
    _, full_entry = decode_into_upgrading(recipe, *maps)
    assert_maps(*maps, expected, "upgrading")
    full_maps = garbage_maps(size)
    decode_into(full_entry, *full_maps)
    assert_maps(*full_maps, expected, "upgraded entry")


@settings(max_examples=60, deadline=None)
@given(image=images(), params=target_params())
def test_random_polygons_upgrade(image, params):
    size, polygons = image

    check_upgrade(polygons, size, params)


def test_full_entries_do_not_upgrade():
    prepared = prepare_polygons(make_page(np.random.default_rng(1), 128, 10))
    for path in (FAST, REFERENCE):
        _, entry = draw_and_encode(prepared, np.zeros((128, 128), np.float32),
                                   np.zeros((128, 128), np.float32), TargetParams(), path)
        _, full_entry = decode_into_upgrading(entry, *garbage_maps((128, 128)))
        assert full_entry is None


def recipe_of(polygons, size):
    _, entry = draw_and_encode(prepare_polygons(polygons), np.zeros(size, np.float32),
                               np.zeros(size, np.float32), TargetParams(), FAST, record_edges=False)
    return entry


def test_recipe_truncated_rejected():
    recipe = recipe_of(make_page(np.random.default_rng(2), 96, 8), (96, 96))

    for cut in (1, 8, len(recipe) // 2):
        with pytest.raises(ValueError, match="truncated|offsets"):
            decode_into(recipe[:-cut], *garbage_maps((96, 96)))
    with pytest.raises(ValueError, match="trailing bytes"):
        decode_into(recipe + b"\0" * 8, *garbage_maps((96, 96)))


def test_recipe_bad_owner_rejected():
    recipe = bytearray(recipe_of([np.array([[4, 4], [40, 6], [38, 20], [5, 18]])], (64, 64)))
    # The last int64 before the int32 points is the owner of the only dilated polygon.
    owner_position = len(recipe) - 4 * 2 * 4 - 8
    struct.pack_into("<q", recipe, owner_position, 5)

    with pytest.raises(ValueError, match="dilated polygon of a missing polygon"):
        decode_into(bytes(recipe), *garbage_maps((64, 64)))


def draw(cache, prepared, size):
    # NaN maps: a hit must write every pixel and a miss must clear the maps first.
    prob_map, thresh_map = garbage_maps(size)
    skipped = cache.draw_into(prepared, prob_map, thresh_map, TargetParams(), FAST)
    cache.flush()
    return prob_map, thresh_map, skipped


def test_cache_upgrades_on_first_hit(tmp_path):
    size = (160, 160)
    polygons = make_page(np.random.default_rng(9), 160, 20)
    expected = run_path(polygons, size, TargetParams(), False)
    prepared = prepare_polygons(polygons)
    cache = TargetCache(spill_dir=tmp_path)

    results = [draw(cache, prepared, size)]
    entry_file = next(tmp_path.rglob("*.fct"))
    assert entry_layout(entry_file.read_bytes()[HEADER.size:]) == codec.LAYOUT_RECIPE
    results += [draw(cache, prepared, size), draw(cache, prepared, size)]

    for index, result in enumerate(results):
        assert_maps(result[0], result[1], expected, f"lookup {index}")
        assert result[2] == Counter(expected[2])
    stats = cache.stats()
    assert (stats["misses"], stats["memory_hits"], stats["upgrades"]) == (1, 2, 1)
    assert entry_layout(entry_file.read_bytes()[HEADER.size:]) == codec.LAYOUT_WINNERS
    assert stats["disk_writes"] == 2


def test_cache_upgrades_disk_recipe(tmp_path):
    size = (160, 160)
    polygons = make_page(np.random.default_rng(10), 160, 20)
    expected = run_path(polygons, size, TargetParams(), False)
    prepared = prepare_polygons(polygons)
    draw(TargetCache(spill_dir=tmp_path), prepared, size)

    # A memory budget of 0 sends every lookup to the spill directory.
    cache = TargetCache(max_bytes=0, spill_dir=tmp_path)
    first = draw(cache, prepared, size)
    second = draw(cache, prepared, size)

    assert_maps(first[0], first[1], expected, "upgrading disk hit")
    assert_maps(second[0], second[1], expected, "full disk hit")
    stats = cache.stats()
    assert (stats["disk_hits"], stats["upgrades"], stats["misses"]) == (2, 1, 0)


def test_cache_record_on_miss_stores_full(tmp_path):
    prepared = prepare_polygons(make_page(np.random.default_rng(11), 160, 20))
    cache = TargetCache(spill_dir=tmp_path, record_on_miss=True)

    draw(cache, prepared, (160, 160))
    draw(cache, prepared, (160, 160))

    entry_file = next(tmp_path.rglob("*.fct"))
    assert entry_layout(entry_file.read_bytes()[HEADER.size:]) == codec.LAYOUT_WINNERS
    assert cache.stats()["upgrades"] == 0
    assert "record_on_miss=True" in repr(cache)


def test_read_only_upgrades_in_memory_only(tmp_path):
    prepared = prepare_polygons(make_page(np.random.default_rng(12), 160, 20))
    draw(TargetCache(spill_dir=tmp_path), prepared, (160, 160))
    entry_file = next(tmp_path.rglob("*.fct"))
    recipe_file = entry_file.read_bytes()

    cache = TargetCache(spill_dir=tmp_path, read_only=True)
    draw(cache, prepared, (160, 160))
    draw(cache, prepared, (160, 160))

    assert entry_file.read_bytes() == recipe_file
    stats = cache.stats()
    assert (stats["disk_hits"], stats["memory_hits"], stats["upgrades"]) == (1, 1, 1)


def test_precompute_writes_full_entries(tmp_path):
    sample = {"image": np.zeros((3, 128, 128), np.uint8),
              "polygons": make_page(np.random.default_rng(13), 128, 12)}

    result = precompute([sample], tmp_path, TargetParams(), progress=False)

    assert result.written == 1
    entry_file = next(tmp_path.rglob("*.fct"))
    assert entry_layout(entry_file.read_bytes()[HEADER.size:]) == codec.LAYOUT_WINNERS


@pytest.mark.parametrize("distance", [-1.0, 2.0**21, -3.7e269])
def test_recipe_distance_out_of_range_rejected(distance):
    recipe = bytearray(recipe_of([np.array([[4, 4], [40, 6], [38, 20], [5, 18]])], (64, 64)))
    # Header, skip counts, recipe lengths, then int64 starts (2) and the float64 distance.
    position = codec._HEADER.size + codec._SKIPS.size + struct.calcsize("<ffIIIIII") + 2 * 8
    struct.pack_into("<d", recipe, position, distance)

    with pytest.raises(ValueError, match="distance outside"):
        decode_into(bytes(recipe), *garbage_maps((64, 64)))
