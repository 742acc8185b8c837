"""The fast path of each masked profile equals its reference, bit for bit.

Every comparison checks the prob map, threshold map, shrink mask and
threshold mask with ``np.array_equal``, the skip counts, and that no value
is NaN or inf.
"""

import math
from collections import Counter

import numpy as np
import pytest

from conftest import SHARED_DATA, describe_difference, shared_data_params
from fastcollate.datasets import letterbox
from fastcollate.readers import (
    read_ctw1500_annotation, read_icdar_annotation, read_image_size, read_wildreceipt_annotation,
)
from fastcollate.profiles import MASKED_PROFILES, MHLIAO, PADDLEOCR, prepare_float_polygons
from fastcollate.profiles.fast import make_targets_mhliao_fast, make_targets_paddleocr_fast
from fastcollate.profiles.reference import make_targets_mhliao, make_targets_paddleocr
from fastcollate.synthetic import make_page
from fastcollate.targets import TargetParams, make_db_targets

LETTERBOX_SIZE = 640
ICDAR2015_IMAGE_SIZE = (720, 1280)
OUTPUT_NAMES = ("prob_map", "thresh_map", "prob_mask", "thresh_mask")
REFERENCE_FUNCTIONS = {MHLIAO: make_targets_mhliao, PADDLEOCR: make_targets_paddleocr}
FAST_FUNCTIONS = {MHLIAO: make_targets_mhliao_fast, PADDLEOCR: make_targets_paddleocr_fast}


def run_profile(profile, polygons, ignore_tags, size, params, reference):
    """Build one image's maps and masks on one path and return ``(outputs, skipped)``."""
    height, width = size
    prepared = prepare_float_polygons(polygons, ignore_tags)
    if reference:
        *outputs, skipped = REFERENCE_FUNCTIONS[profile](
            prepared, height, width, params.shrink_ratio, params.thresh_min, params.thresh_max)
        return outputs, skipped

    outputs = [np.zeros(size, dtype=np.float32) for _ in OUTPUT_NAMES]
    outputs[2].fill(1.0)
    skipped = FAST_FUNCTIONS[profile](
        prepared, *outputs, params.shrink_ratio, params.thresh_min, params.thresh_max)
    return outputs, skipped


def assert_profile_paths_equal(profile, polygons, size, ignore_tags=None, params=None):
    """Assert that both paths give the same maps, masks and skip counts, and return the reference's."""
    params = params if params is not None else TargetParams(profile=profile)
    reference_outputs, reference_skipped = run_profile(profile, polygons, ignore_tags, size, params, True)
    fast_outputs, fast_skipped = run_profile(profile, polygons, ignore_tags, size, params, False)

    for name, reference, fast in zip(OUTPUT_NAMES, reference_outputs, fast_outputs):
        assert reference.dtype == np.float32, name
        assert reference.shape == tuple(size), name
        assert np.isfinite(reference).all(), f"reference {name} has NaN or inf"
        assert np.isfinite(fast).all(), f"fast {name} has NaN or inf"
        assert np.array_equal(fast, reference), describe_difference(fast, reference, name)
    assert Counter(fast_skipped) == Counter(reference_skipped)
    return reference_outputs, reference_skipped


def jittered_page(seed, size, n_words):
    """Return a synthetic page with float vertices and about one word in ten ignored."""
    rng = np.random.default_rng(seed)
    polygons = [
        polygon.astype(np.float64) + rng.uniform(-0.5, 0.5, polygon.shape)
        for polygon in make_page(rng, size, n_words)
    ]
    ignore_tags = [bool(rng.random() < 0.1) for _ in polygons]
    return polygons, ignore_tags


@pytest.mark.parametrize("profile", MASKED_PROFILES)
@pytest.mark.parametrize("seed", [0, 1])
def test_synthetic_page(profile, seed):
    polygons, ignore_tags = jittered_page(seed, 640, 150)

    assert_profile_paths_equal(profile, polygons, (640, 640), ignore_tags)


@pytest.mark.parametrize("profile", MASKED_PROFILES)
def test_integer_page(profile):
    polygons = make_page(np.random.default_rng(5), 512, 100)

    assert_profile_paths_equal(profile, polygons, (512, 512))


@pytest.mark.parametrize("profile", MASKED_PROFILES)
def test_page_crossing_border(profile):
    """Shifted pages put words across every side, where the profiles differ in clamping."""
    polygons, ignore_tags = jittered_page(3, 256, 60)
    shifted = [polygon + offset for polygon in polygons for offset in ((-40.5, 0), (0, -40.5), (60.25, 60.25))]
    tags = ignore_tags * 3

    assert_profile_paths_equal(profile, shifted, (256, 256), tags)


def letterboxed(words, image_size):
    polygons, size, _ = letterbox([word.polygon for word in words], image_size, LETTERBOX_SIZE)
    return polygons, [word.ignore for word in words], size


@pytest.mark.parametrize("profile", MASKED_PROFILES)
@pytest.mark.parametrize("path", shared_data_params("icdar2015/train", "gt_img_*.txt"))
def test_icdar2015_train(profile, path):
    words = read_icdar_annotation(path)
    image_size = read_image_size(path.with_name(path.name.removeprefix("gt_")).with_suffix(".jpg"))
    polygons, ignore_tags, size = letterboxed(words, image_size)

    assert_profile_paths_equal(profile, polygons, size, ignore_tags)


@pytest.mark.parametrize("profile", MASKED_PROFILES)
@pytest.mark.parametrize("path", shared_data_params("icdar2015/test", "gt_img_*.txt"))
def test_icdar2015_test(profile, path):
    polygons, ignore_tags, size = letterboxed(read_icdar_annotation(path), ICDAR2015_IMAGE_SIZE)

    assert_profile_paths_equal(profile, polygons, size, ignore_tags)


@pytest.mark.parametrize("profile", MASKED_PROFILES)
@pytest.mark.parametrize("path", shared_data_params("sroie", "*.txt"))
def test_sroie(profile, path):
    words = read_icdar_annotation(path)
    polygons, ignore_tags, size = letterboxed(words, read_image_size(path.with_suffix(".jpg")))

    assert_profile_paths_equal(profile, polygons, size, ignore_tags)


@pytest.mark.parametrize("profile", MASKED_PROFILES)
@pytest.mark.parametrize("path", shared_data_params("ctw1500", "*.txt"))
def test_ctw1500(profile, path):
    words = read_ctw1500_annotation(path)
    # The images are not in the corpus, so the image is taken as the
    # smallest one that contains every vertex as a pixel.
    points = np.concatenate([word.polygon for word in words])
    image_size = (math.ceil(points[:, 1].max()) + 1, math.ceil(points[:, 0].max()) + 1)
    polygons, ignore_tags, size = letterboxed(words, image_size)

    assert_profile_paths_equal(profile, polygons, size, ignore_tags)


def wildreceipt_receipts():
    path = SHARED_DATA / "wildreceipt" / "train.txt"
    if not path.is_file():
        return shared_data_params("wildreceipt", "train.txt")
    return [pytest.param(receipt, id=f"wildreceipt/{receipt.name}")
            for receipt in read_wildreceipt_annotation(path)]


@pytest.mark.parametrize("profile", MASKED_PROFILES)
@pytest.mark.parametrize("receipt", wildreceipt_receipts())
def test_wildreceipt(profile, receipt):
    polygons, ignore_tags, size = letterboxed(receipt.words, receipt.image_size)

    assert any(ignore_tags)
    assert_profile_paths_equal(profile, polygons, size, ignore_tags)


@pytest.mark.parametrize("profile", MASKED_PROFILES)
@pytest.mark.parametrize("shrink_ratio", [0.2, 0.3, 0.9])
def test_shrink_ratios(profile, shrink_ratio):
    polygons, ignore_tags = jittered_page(8, 384, 60)
    params = TargetParams(shrink_ratio=shrink_ratio, thresh_min=0.1, thresh_max=0.9, profile=profile)

    assert_profile_paths_equal(profile, polygons, (384, 384), ignore_tags, params)


@pytest.mark.parametrize("profile", MASKED_PROFILES)
@pytest.mark.parametrize("reference", [True, False], ids=["reference", "fast"])
def test_make_db_targets_profile(profile, reference):
    """The public entry point returns the maps and masks of the requested path."""
    polygons, ignore_tags = jittered_page(11, 256, 40)
    params = TargetParams(profile=profile)

    outputs = make_db_targets(polygons, (256, 256), reference=reference, profile=profile,
                              ignore_tags=ignore_tags)
    expected, _ = run_profile(profile, polygons, ignore_tags, (256, 256), params, reference)

    assert len(outputs) == 4
    for name, output, expected_map in zip(OUTPUT_NAMES, outputs, expected):
        assert np.array_equal(output, expected_map), name
