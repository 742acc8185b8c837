"""Both paths skip and count unusable polygons alike, and malformed samples raise.

A polygon that cannot give a target must not crash, produce NaN or inf, or
change the maps of the other polygons of its image. Both paths must skip it
for the same reason, one of ``fastcollate.polygons.SKIP_REASONS``.
"""

import logging
import math
import re
from collections import Counter

import cv2
import numpy as np
import pyclipper
import pytest
import torch

from conftest import assert_paths_equal, run_path
from fastcollate import FastDBCollateFN, make_db_targets, skip_counts
from fastcollate.polygons import (
    EMPTY_OFFSET,
    NON_FINITE,
    OUT_OF_RANGE,
    OUTSIDE_IMAGE,
    SKIP_LOG,
    SKIP_REASONS,
    TOO_FEW_POINTS,
    ZERO_AREA,
)
from fastcollate.targets import TargetParams

PARAMS = TargetParams()
PATHS = pytest.mark.parametrize("reference", [True, False], ids=["reference", "fast"])

# Two ordinary boxes drawn next to each bad polygon, one before it and one after.
GOOD_BEFORE = np.array([[4, 4], [24, 4], [24, 14], [4, 14]])
GOOD_AFTER = np.array([[40, 44], [60, 44], [60, 60], [40, 60]])

# (polygon, (height, width), skip reason), named by id. Every box outside the image is
# 40x20 px, so its offset distance D is 40 * 20 * (1 - 0.4**2) / 120 = 5.6 px,
# and it lies more than D px past the edge: its dilated box misses the image too.
BAD_POLYGONS = [
    pytest.param([(80, 40), (80, 40), (100, 40), (100, 40)], (128, 128), ZERO_AREA, id="duplicated_vertices"),
    pytest.param([(10, 10), (20, 10), (30, 10)], (64, 64), ZERO_AREA, id="collinear"),
    pytest.param([(10, 30), (30, 20)], (64, 64), ZERO_AREA, id="two_points"),
    pytest.param([(10, 30)], (64, 64), TOO_FEW_POINTS, id="one_point"),
    pytest.param(np.zeros((0, 2)), (64, 64), TOO_FEW_POINTS, id="empty"),
    pytest.param([(10, 10), (30, 30), (30, 10), (10, 30)], (64, 64), ZERO_AREA, id="bowtie"),
    pytest.param([(10, 10), (math.nan, 10), (30, 30), (10, 30)], (64, 64), NON_FINITE, id="nan"),
    pytest.param([(10, 10), (30, 10), (30, math.inf), (10, 30)], (64, 64), NON_FINITE, id="inf"),
    pytest.param([(-math.inf, 10), (30, 10), (30, 30), (10, 30)], (64, 64), NON_FINITE, id="minus_inf"),
    pytest.param([(0, 0), (2**20, 0), (2**20, 10), (0, 10)], (64, 64), OUT_OF_RANGE, id="out_of_range"),
    # A valid triangle so thin that pyclipper returns no dilated polygon for
    # its offset distance of about 0.09 px.
    pytest.param([(1, 1), (2, 4), (3, 5)], (64, 64), EMPTY_OFFSET, id="thin_triangle"),
    pytest.param([(-60, 10), (-20, 10), (-20, 30), (-60, 30)], (64, 64), OUTSIDE_IMAGE, id="left_of_image"),
    pytest.param([(10, -60), (30, -60), (30, -20), (10, -20)], (64, 64), OUTSIDE_IMAGE, id="above_image"),
    pytest.param([(84, 10), (124, 10), (124, 30), (84, 30)], (64, 64), OUTSIDE_IMAGE, id="right_of_image"),
    pytest.param([(10, 84), (30, 84), (30, 124), (10, 124)], (64, 64), OUTSIDE_IMAGE, id="below_image"),
]


def test_bad_polygons_cover_every_reason():
    reasons = {case.values[2] for case in BAD_POLYGONS}

    assert reasons == set(SKIP_REASONS)


@pytest.mark.parametrize(("polygon", "size", "reason"), BAD_POLYGONS)
def test_bad_polygon_paths_equal(polygon, size, reason):
    _, _, skipped = assert_paths_equal([GOOD_BEFORE, polygon, GOOD_AFTER], size, PARAMS)

    assert skipped == Counter({reason: 1})


@pytest.mark.parametrize(("polygon", "size", "reason"), BAD_POLYGONS)
@PATHS
def test_bad_polygon_no_effect(polygon, size, reason, reference):
    prob_map, thresh_map, skipped = run_path([GOOD_BEFORE, polygon, GOOD_AFTER], size, PARAMS, reference)
    expected_prob, expected_thresh, expected_skipped = run_path([GOOD_BEFORE, GOOD_AFTER], size, PARAMS, reference)

    assert np.array_equal(prob_map, expected_prob)
    assert np.array_equal(thresh_map, expected_thresh)
    assert skipped == Counter({reason: 1})
    assert expected_skipped == Counter()


@pytest.mark.parametrize(("polygon", "size", "reason"), BAD_POLYGONS)
@PATHS
def test_bad_polygon_alone_empty(polygon, size, reason, reference):
    prob_map, thresh_map, _ = run_path([polygon], size, PARAMS, reference)

    assert not prob_map.any()
    assert (thresh_map == np.float32(PARAMS.thresh_min)).all()


# Two 20x20 squares joined by a 10x4 px neck. Shrinking by
# D = 840 * 0.84 / 172, about 4.1 px and more than half the neck's height,
# cuts the neck, so pyclipper returns two pieces, and both must be filled.
DUMBBELL = np.array([
    [10, 10], [30, 10], [30, 18], [40, 18], [40, 10], [60, 10],
    [60, 30], [40, 30], [40, 22], [30, 22], [30, 30], [10, 30],
])
DUMBBELL_IMAGE_SIZE = (40, 80)


def shrunk_pieces(polygon, shrink_ratio):
    """Shrink ``polygon`` as the reference path does and return pyclipper's pieces."""
    poly = polygon.astype(np.int32)[np.newaxis]
    distance = cv2.contourArea(poly) * (1 - shrink_ratio**2) / (cv2.arcLength(poly, True) + np.finfo(float).eps)
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(polygon.tolist(), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return [np.array(piece, dtype=np.int32) for piece in offset.Execute(-distance)]


def test_dumbbell_shrinks_to_two_pieces():
    pieces = shrunk_pieces(DUMBBELL, PARAMS.shrink_ratio)

    assert len(pieces) == 2


def test_dumbbell_paths_equal():
    assert_paths_equal([DUMBBELL], DUMBBELL_IMAGE_SIZE, PARAMS)


@PATHS
def test_dumbbell_fills_both_pieces(reference):
    prob_map, _, _ = run_path([DUMBBELL], DUMBBELL_IMAGE_SIZE, PARAMS, reference)
    expected = np.zeros(DUMBBELL_IMAGE_SIZE, dtype=np.float32)
    masks = []
    for piece in shrunk_pieces(DUMBBELL, PARAMS.shrink_ratio):
        mask = np.zeros(DUMBBELL_IMAGE_SIZE, dtype=np.uint8)
        cv2.fillPoly(mask, [piece], 1)
        masks.append(mask.astype(bool))
        cv2.fillPoly(expected, [piece], 1.0)

    assert prob_map[masks[0]].all(), "left piece of the dumbbell is not filled"
    assert prob_map[masks[1]].all(), "right piece of the dumbbell is not filled"
    assert np.array_equal(prob_map, expected)
    assert not prob_map[:, 35].any(), "the cut neck of the dumbbell is filled"


# Marks a key to delete from the bad sample.
MISSING = object()


def make_batch_with(bad_sample):
    """Return a two-sample batch whose sample 1, named bad.jpg, is updated by ``bad_sample``."""
    good = {
        "image": torch.zeros((3, 64, 64)),
        "polygons": [GOOD_BEFORE],
        "image_filename": "good.jpg",
        "inverse_matrix": np.eye(3),
    }
    bad = dict(good, image_filename="bad.jpg")
    bad.update(bad_sample)
    return [good, {key: value for key, value in bad.items() if value is not MISSING}]


# (keys of sample 1 to replace or delete, key named in the message, what the
# message reports as found)
MALFORMED_SAMPLES = [
    pytest.param({"polygons": [np.zeros((4, 3))]}, "key 'polygons'[0]", "shape (4, 3)", id="polygon_4x3"),
    pytest.param({"polygons": [np.zeros((2, 4, 2))]}, "key 'polygons'[0]", "shape (2, 4, 2)", id="polygon_2x4x2"),
    pytest.param({"polygons": [np.arange(8)]}, "key 'polygons'[0]", "shape (8,)", id="polygon_1d"),
    pytest.param(
        {"polygons": [GOOD_BEFORE, [["a", "b"], ["c", "d"], ["e", "f"]]]},
        "key 'polygons'[1]", "dtype <U1", id="polygon_strings",
    ),
    pytest.param(
        {"polygons": [[[1, 2], [3, 4], [5]]]}, "key 'polygons'[0]", "cannot be read as an array", id="polygon_ragged",
    ),
    pytest.param({"polygons": None}, "key 'polygons'", "is NoneType", id="polygons_none"),
    pytest.param({"polygons": MISSING}, "key 'polygons'", "is missing", id="polygons_missing"),
    pytest.param({"image": MISSING}, "key 'image'", "is missing", id="image_missing"),
    pytest.param({"image": torch.zeros((64, 64))}, "key 'image'", "shape (64, 64)", id="image_2d"),
    pytest.param(
        {"image": torch.zeros((3, 32, 48))}, "key 'image'", "shape (3, 32, 48) but sample 0 has (3, 64, 64)",
        id="image_size_differs",
    ),
]


@pytest.mark.parametrize(("bad_sample", "key", "found"), MALFORMED_SAMPLES)
@PATHS
def test_malformed_sample_raises(bad_sample, key, found, reference):
    collate = FastDBCollateFN(reference=reference)

    with pytest.raises(ValueError, match=re.escape("sample 1 of the batch ('bad.jpg')")) as error:
        collate(make_batch_with(bad_sample))

    message = str(error.value)
    assert key in message
    assert found in message


@PATHS
def test_make_db_targets_names_sample(reference):
    with pytest.raises(ValueError, match=re.escape("sample 5 of the batch ('page.jpg'): key 'polygons'[1] has shape (4, 3)")):
        make_db_targets([GOOD_BEFORE, np.zeros((4, 3))], (64, 64), reference=reference, sample_index=5,
                        filename="page.jpg")


def test_skip_warning_once_per_reason(caplog, monkeypatch):
    # SKIP_LOG is process-wide: start from empty counts, restored after the test.
    monkeypatch.setattr(SKIP_LOG, "counts", Counter())
    caplog.set_level(logging.WARNING, logger="fastcollate.polygons")
    collinear = [(10, 10), (20, 10), (30, 10)]
    with_nan = [(10, 10), (math.nan, 10), (30, 30)]

    make_db_targets([GOOD_BEFORE, collinear], (64, 64), reference=True, sample_index=2, filename="page.jpg")
    make_db_targets([collinear, GOOD_AFTER], (64, 64), reference=False, sample_index=3, filename="page.jpg")
    make_db_targets([collinear, with_nan], (64, 64), reference=True, sample_index=4, filename="other.jpg")
    make_db_targets([with_nan], (64, 64), reference=False)
    records = [record for record in caplog.records if record.name == "fastcollate.polygons"]

    assert [record.levelno for record in records] == [logging.WARNING, logging.WARNING]
    assert ZERO_AREA in records[0].getMessage()
    assert "sample 2 of the batch ('page.jpg')" in records[0].getMessage()
    assert NON_FINITE in records[1].getMessage()
    assert "sample 4 of the batch ('other.jpg')" in records[1].getMessage()
    assert skip_counts() == {ZERO_AREA: 3, NON_FINITE: 2}


def test_float16_polygon_no_warning():
    polygon = np.array([[10, 10], [50, 10], [50, 40], [10, 40]], dtype=np.float16)

    fast = make_db_targets([polygon], (64, 80), reference=False)
    reference = make_db_targets([polygon], (64, 80), reference=True)

    assert np.array_equal(fast[0], reference[0])
    assert np.array_equal(fast[1], reference[1])
    assert fast[0].sum() > 0


@pytest.mark.parametrize("reference", [True, False], ids=["reference", "fast"])
def test_zero_height_image_rejected(reference):
    sample = {"image": torch.zeros(3, 0, 80), "polygons": [np.array([[1, 1], [9, 1], [9, 9]])],
              "image_filename": "empty.jpg", "inverse_matrix": None}

    with pytest.raises(ValueError, match=r"sample 0 of the batch \('empty.jpg'\): key 'image' has shape \(3, 0, 80\)"):
        FastDBCollateFN(reference=reference)([sample])


def test_single_array_polygons_rejected():
    polygon = np.array([[10, 10], [50, 10], [50, 40], [10, 40]])

    with pytest.raises(ValueError, match=r"key 'polygons' is a single array of shape \(4, 2\)"):
        make_db_targets(polygon, (64, 64))


@pytest.mark.parametrize("image_size", [(64.5, 80), ("64", "80"), (True, 80), (64,)])
def test_image_size_rejected(image_size):
    with pytest.raises(ValueError, match="image_size"):
        make_db_targets([], image_size)


@pytest.mark.parametrize("name", ["shrink_ratio", "thresh_min", "thresh_max"])
def test_string_param_rejected(name):
    with pytest.raises(ValueError, match=f"{name} must be a real number"):
        TargetParams(**{name: "0.4"})


def test_numpy_image_named_not_tensor():
    batch = make_batch_with({"image": np.zeros((3, 64, 64), dtype=np.float32)})

    with pytest.raises(ValueError) as error:
        FastDBCollateFN()(batch)

    message = str(error.value)
    assert "sample 1 of the batch ('bad.jpg')" in message
    assert "key 'image' is a numpy.ndarray of shape (3, 64, 64), not a torch.Tensor" in message
    assert "torch.from_numpy" in message


@pytest.mark.parametrize("profile", ["baseline", "mhliao", "paddleocr"])
def test_ignore_tags_count_checked_every_profile(profile):
    batch = make_batch_with({"polygons": [GOOD_BEFORE], "ignore_tags": [True, False]})

    with pytest.raises(ValueError) as error:
        FastDBCollateFN(profile=profile)(batch)

    assert "sample 1 of the batch ('bad.jpg'): key 'ignore_tags' has 2 values" in str(error.value)
    assert "for 1 polygons" in str(error.value)


def test_baseline_accepts_matching_ignore_tags():
    batch = make_batch_with({"ignore_tags": [np.True_]})

    collated = FastDBCollateFN()(batch)

    assert collated["prob_maps"].shape == (2, 1, 64, 64)


def test_make_db_targets_checks_ignore_tags():
    with pytest.raises(ValueError, match="key 'ignore_tags' has 0 values"):
        make_db_targets([GOOD_BEFORE], (64, 64), ignore_tags=[])
