"""TargetCache with the masked profiles: exact hits of all four maps, keys, damaged entries and workers."""

from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from conftest import shared_data_params
from fastcollate import FastDBCollateFN, TargetCache, TargetParams
from fastcollate.cache.codec import _HEADER, _SKIPS, decode_into
from fastcollate.cache.key import target_key
from fastcollate.cache.masked import (
    _MAP, KIND_BITS, KIND_DELTA_PLANES, decode_masked_into, encode_masked,
)
from fastcollate.cache.spill import HEADER
from fastcollate.cli import main
from fastcollate.data import sample_dirs
from fastcollate.datasets import load_samples
from fastcollate.profiles import MASKED_PROFILES, MHLIAO, PADDLEOCR, draw_profile_targets, prepare_float_polygons
from fastcollate.readers import read_icdar_annotation, read_image_size
from test_profiles_collate import JitteredPages
from test_profiles_equal import jittered_page, letterboxed
from test_profiles_properties import pages

SIDE = 160
MAP_NAMES = ("prob_map", "thresh_map", "prob_mask", "thresh_mask")
# Files per real-data folder: enough for every kind of page, within the test budget.
REAL_FILES = 4


def new_maps(shape):
    maps = tuple(np.zeros(shape, dtype=np.float32) for _ in MAP_NAMES)
    maps[2].fill(1.0)
    return maps


def draw(polygons, ignore_tags, shape, params, cache=None, path="fast"):
    maps = new_maps(shape)
    skipped = draw_profile_targets(polygons, ignore_tags, *maps, params, path, cache=cache)
    if cache is not None:
        cache.flush()
    return maps, skipped


def assert_maps_identical(actual, expected):
    for name, values, reference in zip(MAP_NAMES, actual, expected):
        assert values.dtype == np.float32, name
        assert np.array_equal(values.view(np.uint32), reference.view(np.uint32)), name


def map_kinds(entry):
    """Return the storage kind of each map of a masked entry, in ``MAP_NAMES`` order."""
    kinds = []
    position = _HEADER.size + _SKIPS.size
    for _ in MAP_NAMES:
        kind, length = _MAP.unpack_from(entry, position)
        kinds.append(kind)
        position += _MAP.size + length
    return kinds


def assert_round_trip(polygons, ignore_tags, shape, params):
    """Assert that an entry of the maps decodes to the same bits and packs the 0/1 maps."""
    expected, skipped = draw(polygons, ignore_tags, shape, params)
    entry = encode_masked(expected, skipped)
    decoded = tuple(np.full(shape, np.float32(0.5)) for _ in MAP_NAMES)

    decoded_skipped = decode_masked_into(entry, decoded)

    assert_maps_identical(decoded, expected)
    assert decoded_skipped == +Counter(skipped)
    # The prob map and both masks contain only 0.0 and 1.0, so they are bit-packed.
    kinds = map_kinds(entry)
    assert [kinds[0], kinds[2], kinds[3]] == [KIND_BITS] * 3


@pytest.mark.parametrize("profile", MASKED_PROFILES)
def test_synthetic_page_hits_identical(tmp_path, profile):
    polygons, ignore_tags = jittered_page(7, SIDE, 40)
    params = TargetParams(profile=profile)
    expected, expected_skipped = draw(polygons, ignore_tags, (SIDE, SIDE), params)
    cache = TargetCache(spill_dir=tmp_path)

    miss = draw(polygons, ignore_tags, (SIDE, SIDE), params, cache)
    memory_hit = draw(polygons, ignore_tags, (SIDE, SIDE), params, cache)
    cache.clear_memory()
    disk_hit = draw(polygons, ignore_tags, (SIDE, SIDE), params, cache)

    for maps, skipped in (miss, memory_hit, disk_hit):
        assert_maps_identical(maps, expected)
        assert skipped == +Counter(expected_skipped)
    stats = cache.stats()
    assert (stats["misses"], stats["memory_hits"], stats["disk_hits"]) == (1, 1, 1)


@pytest.mark.parametrize("profile", MASKED_PROFILES)
def test_reference_path_shares_entries(profile):
    polygons, ignore_tags = jittered_page(8, SIDE, 30)
    params = TargetParams(profile=profile)
    cache = TargetCache()

    reference = draw(polygons, ignore_tags, (SIDE, SIDE), params, cache, path="reference")
    fast_hit = draw(polygons, ignore_tags, (SIDE, SIDE), params, cache, path="fast")

    assert cache.stats()["memory_hits"] == 1
    assert_maps_identical(fast_hit[0], reference[0])


def test_hits_are_copies():
    polygons, ignore_tags = jittered_page(9, SIDE, 30)
    params = TargetParams(profile=MHLIAO)
    cache = TargetCache()
    first, _ = draw(polygons, ignore_tags, (SIDE, SIDE), params, cache)
    expected = tuple(values.copy() for values in first)

    for values in first:
        values.fill(7.0)
    second, _ = draw(polygons, ignore_tags, (SIDE, SIDE), params, cache)

    assert_maps_identical(second, expected)


@pytest.mark.parametrize("profile", MASKED_PROFILES)
def test_page_640_round_trip(profile):
    polygons, ignore_tags = jittered_page(0, 640, 150)

    assert_round_trip(polygons, ignore_tags, (640, 640), TargetParams(profile=profile))


def real_pages():
    """Letterboxed pages of the first ICDAR 2015 and SROIE files of the corpus."""
    params = []
    for folder, pattern in (("icdar2015/train", "gt_img_*.txt"), ("sroie", "*.txt")):
        params.extend(shared_data_params(folder, pattern)[:REAL_FILES])
    return params


@pytest.mark.parametrize("profile", MASKED_PROFILES)
@pytest.mark.parametrize("path", real_pages())
def test_real_page_round_trip(profile, path):
    words = read_icdar_annotation(path)
    if path.name.startswith("gt_"):
        image_path = path.with_name(path.name.removeprefix("gt_")).with_suffix(".jpg")
    else:
        image_path = path.with_suffix(".jpg")
    polygons, ignore_tags, size = letterboxed(words, read_image_size(image_path))

    assert_round_trip(polygons, ignore_tags, size, TargetParams(profile=profile))


@settings(max_examples=40, deadline=None)
@given(pages(), st.sampled_from(MASKED_PROFILES))
def test_random_polygons_round_trip(page, profile):
    size, polygons, ignore_tags, shrink_ratio = page

    assert_round_trip(polygons, ignore_tags, size, TargetParams(shrink_ratio=shrink_ratio, profile=profile))


def test_non_binary_mask_values_stored_raw():
    """A map with -0.0, 0.5 or NaN is not bit-packed, so it still decodes to the same bits."""
    maps = new_maps((5, 7))
    maps[0][0, 0] = -0.0
    maps[2][1, 1] = 0.5
    maps[3][2, 2] = np.nan
    maps[1][...] = np.linspace(0.3, 0.7, 35, dtype=np.float32).reshape(5, 7)
    entry = encode_masked(maps, Counter(non_finite=2))
    decoded = new_maps((5, 7))

    skipped = decode_masked_into(entry, decoded)

    assert map_kinds(entry) == [KIND_DELTA_PLANES] * 4
    assert_maps_identical(decoded, maps)
    assert skipped == Counter(non_finite=2)


def key_of(polygons, ignore_tags, params, shape=(SIDE, SIDE)):
    return target_key(prepare_float_polygons(polygons, ignore_tags), shape, params)


def test_key_depends_on_every_input():
    polygons, ignore_tags = jittered_page(4, SIDE, 10)
    params = TargetParams(profile=MHLIAO)
    key = key_of(polygons, ignore_tags, params)
    moved = [polygon.copy() for polygon in polygons]
    moved[3][2, 0] = np.nextafter(moved[3][2, 0], np.inf)
    flipped_tags = list(ignore_tags)
    flipped_tags[0] = not flipped_tags[0]

    assert key_of([polygon.copy() for polygon in polygons], list(ignore_tags), params) == key
    assert key_of(polygons, ignore_tags, TargetParams(profile=PADDLEOCR)) != key
    assert key_of(polygons, ignore_tags, TargetParams(shrink_ratio=0.5, profile=MHLIAO)) != key
    assert key_of(polygons, flipped_tags, params) != key
    assert key_of(moved, ignore_tags, params) != key
    assert key_of(polygons, ignore_tags, params, shape=(SIDE, SIDE + 1)) != key
    assert key_of(polygons[::-1], ignore_tags[::-1], params) != key


def masked_entry():
    polygons, ignore_tags = jittered_page(5, SIDE, 20)
    maps, skipped = draw(polygons, ignore_tags, (SIDE, SIDE), TargetParams(profile=PADDLEOCR))
    return encode_masked(maps, skipped)


def flip_byte(entry, position):
    damaged = bytearray(entry)
    damaged[position] ^= 0xFF
    return bytes(damaged)


@pytest.mark.parametrize("damage, match", [
    (lambda entry: entry[:-1], "truncated"),
    (lambda entry: entry + b"\0", "trailing bytes"),
    (lambda entry: flip_byte(entry, len(entry) - 3), "invalid compressed thresh_mask"),
    (lambda entry: flip_byte(entry, len(entry) // 2), "invalid compressed|has .* bytes"),
    (lambda entry: entry[:20], "shorter than its header|truncated"),
])
def test_damaged_entry_rejected(damage, match):
    with pytest.raises(ValueError, match=match):
        decode_masked_into(damage(masked_entry()), new_maps((SIDE, SIDE)))


def test_entry_of_other_layout_or_shape_rejected():
    entry = masked_entry()

    with pytest.raises(ValueError, match="four maps of a masked profile"):
        decode_into(entry, *new_maps((SIDE, SIDE))[:2])
    with pytest.raises(ValueError, match="maps, expected"):
        decode_masked_into(entry, new_maps((SIDE, SIDE + 1)))


def test_undecodable_spill_entry_is_a_miss(tmp_path, caplog):
    """An entry that passes the spill checksum but fails to decode is drawn again."""
    polygons, ignore_tags = jittered_page(6, SIDE, 20)
    params = TargetParams(profile=MHLIAO)
    expected, _ = draw(polygons, ignore_tags, (SIDE, SIDE), params)
    cache = TargetCache(max_bytes=0, spill_dir=tmp_path)
    key = key_of(polygons, ignore_tags, params)
    assert cache.spill.write(key, masked_entry()[:-40])

    maps, _ = draw(polygons, ignore_tags, (SIDE, SIDE), params, cache)

    assert_maps_identical(maps, expected)
    assert cache.stats()["misses"] == 1
    assert cache.stats()["disk_invalid_entries"] == 1
    assert "Failed to decode cache entry" in caplog.text
    rewritten, _ = draw(polygons, ignore_tags, (SIDE, SIDE), params, cache)
    assert cache.stats()["disk_hits"] == 1
    assert_maps_identical(rewritten, expected)


def test_corrupted_spill_file_is_a_miss(tmp_path):
    polygons, ignore_tags = jittered_page(6, SIDE, 20)
    params = TargetParams(profile=PADDLEOCR)
    expected, _ = draw(polygons, ignore_tags, (SIDE, SIDE), params)
    cache = TargetCache(max_bytes=0, spill_dir=tmp_path)
    draw(polygons, ignore_tags, (SIDE, SIDE), params, cache)
    path = cache.spill.path(key_of(polygons, ignore_tags, params))
    path.write_bytes(flip_byte(path.read_bytes(), HEADER.size + 40))

    maps, _ = draw(polygons, ignore_tags, (SIDE, SIDE), params, cache)

    assert_maps_identical(maps, expected)
    assert cache.stats()["misses"] == 2


@pytest.mark.parametrize("profile", MASKED_PROFILES)
def test_collate_with_cache_equals_uncached(profile):
    dataset = JitteredPages(4)
    batch = [dataset[index] for index in range(4)]
    collate = FastDBCollateFN(profile=profile, cache={}, reuse_buffers=False)
    expected = FastDBCollateFN(profile=profile, reuse_buffers=False)(batch)

    first = collate(batch)
    second = collate(batch)

    assert collate.cache.stats()["memory_hits"] == 4
    for result in (first, second):
        for name in ("prob_maps", "thresh_maps", "prob_masks", "thresh_masks"):
            assert torch.equal(result[name], expected[name]), name


# Python 3.12+ warns when it forks a process that runs threads, as torch does.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_dataloader_second_pass_hits(tmp_path):
    dataset = JitteredPages(8)
    collate = FastDBCollateFN(profile=PADDLEOCR, cache={"spill_dir": str(tmp_path)})
    loader = DataLoader(dataset, batch_size=2, num_workers=2, persistent_workers=False,
                        collate_fn=collate, timeout=120)
    uncached = FastDBCollateFN(profile=PADDLEOCR, reuse_buffers=False)

    first_pass = list(loader)
    first_stats = collate.cache.stats()
    collate.cache.reset_stats()
    second_pass = list(loader)
    second_stats = collate.cache.stats()

    assert first_stats["misses"] == len(dataset)
    assert second_stats["disk_hits"] == len(dataset)
    assert second_stats["misses"] == 0
    for batches in (first_pass, second_pass):
        for index, batch in enumerate(batches):
            expected = uncached([dataset[2 * index], dataset[2 * index + 1]])
            for name in ("prob_maps", "thresh_maps", "prob_masks", "thresh_masks"):
                assert torch.equal(batch[name], expected[name]), name


def test_precompute_profile_then_read_only(tmp_path, capsys):
    cache_dir = tmp_path / "targets"
    folder = sample_dirs()[1]
    arguments = ["precompute", "--data", str(folder), "--cache-dir", str(cache_dir), "--size", "160",
                 "--profile", MHLIAO, "--no-progress"]
    image_count = len(list(folder.glob("*.txt")))

    assert main(arguments) == 0
    assert capsys.readouterr().out.startswith(f"0 present, {image_count} written")

    samples = load_samples(folder, size=160)[:3]
    collate = FastDBCollateFN(profile=MHLIAO, cache=TargetCache(spill_dir=cache_dir, read_only=True),
                              reuse_buffers=False)
    batch = collate(samples)
    expected = FastDBCollateFN(profile=MHLIAO, reuse_buffers=False)(samples)

    assert collate.cache.stats()["disk_hits"] == 3
    for name in ("prob_maps", "thresh_maps", "prob_masks", "thresh_masks"):
        assert torch.equal(batch[name], expected[name]), name
