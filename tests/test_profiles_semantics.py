"""What each profile does with ignore tags, small text, split shrinks and the image border."""

import numpy as np
import pytest

from fastcollate.targets import TargetParams, make_db_targets
from test_profiles_equal import assert_profile_paths_equal

SIZE = (96, 128)
WORD = np.array([[20.5, 30.25], [80.75, 30.0], [80.5, 50.5], [20.25, 50.75]])


def dumbbell(x, y, lobe=30.0, neck=4.0, gap=20.0):
    """Return two lobes joined by a neck, whose shrink splits at ratios 0.4 and 0.8."""
    half = (lobe - neck) / 2
    vertices = [
        [0, 0], [lobe, 0], [lobe, half], [lobe + gap, half], [lobe + gap, 0], [2 * lobe + gap, 0],
        [2 * lobe + gap, lobe], [lobe + gap, lobe], [lobe + gap, half + neck], [lobe, half + neck],
        [lobe, lobe], [0, lobe],
    ]
    return np.array(vertices) + [x, y]


def targets(profile, polygons, ignore_tags=None, reference=False):
    return make_db_targets(polygons, SIZE, reference=reference, profile=profile, ignore_tags=ignore_tags)


@pytest.mark.parametrize("profile", ["mhliao", "paddleocr"])
def test_ignored_word_is_masked(profile):
    prob_map, thresh_map, prob_mask, thresh_mask = targets(profile, [WORD], [True])

    assert prob_map.max() == 0.0
    assert prob_mask[40, 50] == 0.0
    assert prob_mask[5, 5] == 1.0
    assert thresh_mask.max() == 0.0
    assert thresh_map.max() == np.float32(0.3)


@pytest.mark.parametrize("profile", ["mhliao", "paddleocr"])
def test_word_fills_maps_and_masks(profile):
    prob_map, thresh_map, prob_mask, thresh_mask = targets(profile, [WORD], [False])

    assert prob_map[40, 50] == 1.0
    assert prob_mask.min() == 1.0
    assert thresh_mask[40, 50] == 1.0
    assert thresh_mask[28, 50] == 1.0
    assert thresh_map.max() > np.float32(0.69)


def test_small_word_mhliao_has_no_border():
    small = np.array([[20.0, 30.0], [80.0, 30.0], [80.0, 36.0], [20.0, 36.0]])

    prob_map, _, prob_mask, thresh_mask = targets("mhliao", [small])

    assert prob_map.max() == 0.0
    assert prob_mask[33, 50] == 0.0
    assert thresh_mask.max() == 0.0


def test_small_word_paddleocr_keeps_border():
    """PaddleOCR draws the border before its shrink step tags the word as too small."""
    small = np.array([[20.0, 30.0], [80.0, 30.0], [80.0, 36.0], [20.0, 36.0]])

    prob_map, _, prob_mask, thresh_mask = targets("paddleocr", [small])

    assert prob_map.max() == 0.0
    assert prob_mask[33, 50] == 0.0
    assert thresh_mask[33, 50] == 1.0


def test_split_shrink_mhliao_fills_first_piece():
    prob_map, *_ = targets("mhliao", [dumbbell(10, 10)])

    left = prob_map[25, 10:40].max()
    right = prob_map[25, 60:90].max()
    assert (left, right) in ((1.0, 0.0), (0.0, 1.0))


def test_split_shrink_paddleocr_fills_all_pieces():
    prob_map, *_ = targets("paddleocr", [dumbbell(10, 10)])

    assert prob_map[25, 10:40].max() == 1.0
    assert prob_map[25, 60:90].max() == 1.0


def test_split_shrink_baseline_fills_all_pieces():
    prob_map, _ = make_db_targets([dumbbell(10, 10)], SIZE)

    assert prob_map[25, 10:40].max() == 1.0
    assert prob_map[25, 60:90].max() == 1.0


def test_border_clamping_differs():
    """mhliao clamps a word that leaves the image before its border, but PaddleOCR does not."""
    crossing = WORD - [40.0, 0.0]

    _, mhliao_thresh, *_ = targets("mhliao", [crossing])
    _, paddle_thresh, *_ = targets("paddleocr", [crossing])

    # mhliao's clamped polygon has an edge on column 0, so the border peaks there.
    assert mhliao_thresh[40, 0] > paddle_thresh[40, 0]


@pytest.mark.parametrize("profile", ["mhliao", "paddleocr"])
def test_outside_word_is_skipped(profile):
    """A word entirely outside the image draws nothing. The sources would raise here."""
    outside = WORD + [0.0, 400.0]

    assert_profile_paths_equal(profile, [outside, WORD], SIZE)


@pytest.mark.parametrize("profile", ["mhliao", "paddleocr"])
def test_pixel_on_repeated_vertex_keeps_old_value(profile):
    """A pixel on a zero-length edge gets 0 / 0 = NaN in the source's distance.

    The NaN survives the minimum over edges, and ``np.fmax`` then keeps the
    old value, so the pixel of the repeated closing vertex stays at
    thresh_min while its neighbours on the edge get the maximum.
    """
    square = np.array([[20.0, 20.0], [60.0, 20.0], [60.0, 60.0], [20.0, 60.0], [20.0, 20.0]])

    _, thresh_map, *_ = targets(profile, [square])
    _, reference_thresh, *_ = targets(profile, [square], reference=True)

    assert thresh_map[20, 20] == np.float32(0.3)
    assert thresh_map[20, 21] > np.float32(0.69)
    assert np.array_equal(thresh_map, reference_thresh)


def test_baseline_ignores_ignore_tags():
    baseline = make_db_targets([WORD], SIZE, ignore_tags=[True])
    untagged = make_db_targets([WORD], SIZE)

    assert len(baseline) == 2
    assert np.array_equal(baseline[0], untagged[0])


def test_params_profile_used_by_default():
    params = TargetParams(profile="mhliao")

    outputs = make_db_targets([WORD], SIZE, params)

    assert len(outputs) == 4


def test_paddleocr_ratio_one_by_rounding():
    """np.arange(1/3, 1, 1/3) ends at 1.0, where D is 0 and the split shrink becomes the polygon."""
    params = TargetParams(shrink_ratio=1 / 3, profile="paddleocr")

    outputs = assert_profile_paths_equal("paddleocr", [dumbbell(10, 10)], SIZE, params=params)

    prob_map = outputs[0][0]
    assert np.arange(1 / 3, 1, 1 / 3)[-1] == 1.0
    assert prob_map[25, 45] == 1.0


@pytest.mark.parametrize("profile", ["mhliao", "paddleocr"])
def test_long_word_beyond_image(profile):
    """A word reaching thousands of pixels past the image agrees on both paths."""
    long_word = np.array([[-2000.25, 40.5], [3000.75, 41.0], [3000.5, 60.25], [-2000.5, 59.75]])

    outputs, _ = assert_profile_paths_equal(profile, [long_word, WORD], SIZE)

    assert outputs[0][50, 64] == 1.0
