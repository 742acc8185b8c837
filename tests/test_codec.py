"""Cache entries decode to the maps of a fresh computation, bit for bit.

Each round trip draws an image with ``draw_and_encode``, checks that the
maps it drew equal those of the path alone, decodes the entry into arrays
filled with garbage and checks those maps and the skip counts again.
"""

import struct
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings

from conftest import (
    SHARED_DATA, describe_difference, require_shared_data, run_path, shared_data_params,
)
from fastcollate.cache import codec
from fastcollate.cache.codec import decode_into, draw_and_encode
from fastcollate.datasets import read_icdar_annotation, read_image_size
from fastcollate.kernels.targets import draw_targets
from fastcollate.kernels.threshold import square_edge_length
from fastcollate.kernels.runs import encode_runs
from fastcollate.kernels.winners import draw_targets_recording, edge_ratio, redraw_thresh_map
from fastcollate.polygons import prepare_polygons
from fastcollate.synthetic import make_page
from fastcollate.targets import FAST, REFERENCE, TargetParams
from test_properties import images, target_params
from test_targets_equal import (
    ICDAR2015_IMAGE_SIZE, letterboxed_polygons, read_ctw1500, wildreceipt_params,
)

MAX_ENTRY_BYTES = 200_000


def round_trip(polygons, size, params=None, path=FAST, verify=False):
    """Encode one image, check both the drawn and the decoded maps; return the entry."""
    params = params if params is not None else TargetParams()
    expected_prob, expected_thresh, expected_skipped = run_path(polygons, size, params, path == REFERENCE)

    prepared = prepare_polygons(polygons)
    prob_map = np.zeros(size, dtype=np.float32)
    thresh_map = np.zeros(size, dtype=np.float32)
    skipped, entry = draw_and_encode(prepared, prob_map, thresh_map, params, path, verify=verify)

    assert np.array_equal(prob_map, expected_prob), describe_difference(prob_map, expected_prob, "drawn prob")
    assert np.array_equal(thresh_map, expected_thresh), describe_difference(thresh_map, expected_thresh, "drawn thresh")
    assert Counter(skipped) == Counter(expected_skipped)

    # Garbage, not zeros: decoding must write every pixel.
    decoded_prob = np.full(size, np.nan, dtype=np.float32)
    decoded_thresh = np.full(size, np.nan, dtype=np.float32)
    decoded_skipped = decode_into(entry, decoded_prob, decoded_thresh)

    assert np.array_equal(decoded_prob, expected_prob), describe_difference(decoded_prob, expected_prob, "decoded prob")
    assert np.array_equal(decoded_thresh, expected_thresh), describe_difference(decoded_thresh, expected_thresh, "decoded thresh")
    assert decoded_skipped == Counter(expected_skipped)
    return entry


def entry_layout(entry):
    return struct.unpack_from("<4sHBBII", entry, 0)[2]


@pytest.mark.parametrize(("size", "seed"), [(640, 0), (640, 2024), (1024, 1)])
def test_synthetic_page(size, seed):
    polygons = make_page(np.random.default_rng(seed), size, 150)

    entry = round_trip(polygons, (size, size))

    assert entry_layout(entry) == codec.LAYOUT_WINNERS


def test_bench_page_entry_size():
    polygons = make_page(np.random.default_rng(2024), 640, 150)

    entry = round_trip(polygons, (640, 640))

    assert len(entry) <= MAX_ENTRY_BYTES


def test_reference_path_generic_layout():
    polygons = make_page(np.random.default_rng(3), 320, 60)

    entry = round_trip(polygons, (320, 320), path=REFERENCE)

    assert entry_layout(entry) == codec.LAYOUT_GENERIC


@pytest.mark.parametrize("params", [
    TargetParams(corrected_edges=True),
    TargetParams(shrink_ratio=0.9, thresh_min=0.0, thresh_max=1.0, corrected_edges=True),
    TargetParams(shrink_ratio=0.0, thresh_min=0.5, thresh_max=0.5),
], ids=["corrected_edges", "shrink_0.9-corrected_edges", "shrink_0-flat_thresh"])
def test_params(params):
    polygons = make_page(np.random.default_rng(5), 400, 80)

    round_trip(polygons, (400, 400), params)


def test_empty_image():
    entry = round_trip([], (48, 80))

    assert entry_layout(entry) == codec.LAYOUT_WINNERS


def test_long_runs_split():
    # 300 x 300 pixels with no polygon make one run of 90,000 untouched
    # pixels, more than a uint16 length can store.
    entry = round_trip([np.array([[-50, -50], [-10, -50], [-10, -20]])], (300, 300))

    assert entry_layout(entry) == codec.LAYOUT_WINNERS


def test_skip_counts_kept():
    polygons = [
        np.array([[np.nan, 1.0], [5.0, 5.0], [1.0, 9.0]]),  # non_finite
        np.array([[3, 3]]),  # too_few_points
        np.array([[1, 1], [5, 5], [9, 9]]),  # zero_area
        np.array([[200, 200], [260, 200], [260, 230], [200, 230]]),  # outside_image
        np.array([[4, 4], [40, 6], [38, 20], [5, 18]]),
    ]

    entry = round_trip(polygons, (64, 64))

    skipped = decode_into(entry, np.zeros((64, 64), np.float32), np.zeros((64, 64), np.float32))
    assert skipped == Counter(non_finite=1, too_few_points=1, zero_area=1, outside_image=1)


# Shapes whose pixels tie between edges (squares, on their diagonals), lie
# exactly on edges (integer axis-aligned sides), overlap (the same polygon
# twice, nested polygons) or cross the image border.
HARD_CASES = {
    "square_ties": [np.array([[10, 10], [30, 10], [30, 30], [10, 30]])],
    "diamond_ties": [np.array([[32, 4], [60, 32], [32, 60], [4, 32]])],
    "same_polygon_twice": [np.array([[8, 8], [50, 12], [46, 40], [6, 36]])] * 2,
    "nested": [np.array([[2, 2], [62, 2], [62, 62], [2, 62]]), np.array([[20, 20], [40, 20], [40, 40], [20, 40]])],
    "overlapping": [np.array([[5, 5], [40, 5], [40, 30], [5, 30]]), np.array([[25, 15], [60, 15], [60, 50], [25, 50]])],
    "crossing_every_border": [np.array([[-20, -15], [90, -10], [85, 80], [-10, 75]])],
    "crossing_left_border": [np.array([[-30, 10], [20, 10], [20, 30], [-30, 30]])],
    "long_edges": [np.array([[-30000, 10], [30000, 10], [30000, 30], [-30000, 30]])],
    "self_intersecting": [np.array([[5, 5], [55, 50], [55, 5], [5, 50]])],
    "concave": [np.array([[5, 5], [60, 5], [60, 60], [32, 20], [5, 60]])],
}


@pytest.mark.parametrize("corrected_edges", [False, True], ids=["classic", "corrected_edges"])
@pytest.mark.parametrize("name", sorted(HARD_CASES))
def test_hard_case(name, corrected_edges):
    round_trip(HARD_CASES[name], (64, 64), TargetParams(corrected_edges=corrected_edges))


@settings(max_examples=150, deadline=None)
@given(image=images(), params=target_params())
def test_random_polygons(image, params):
    size, polygons = image

    round_trip(polygons, size, params)


def test_nan_distance_keeps_old_value():
    """A pixel whose distance is NaN keeps its value, and its winner comes from the earlier polygon.

    Prepared polygons never give D = 0, so the kernels are called directly:
    the second polygon, with D = 0, turns its on-edge pixels into 0 / 0.
    """
    size = (40, 40)
    first = np.array([[5, 5], [30, 5], [30, 25], [5, 25]], dtype=np.int32)
    second = np.array([[10, 15], [35, 15], [35, 35], [10, 35]], dtype=np.int32)
    points = np.concatenate([first, second])
    starts = np.array([0, 4, 8], dtype=np.int64)
    distances = np.array([4.0, 0.0])
    dilated = np.concatenate([first + [[-4, -4], [4, -4], [4, 4], [-4, 4]], second]).astype(np.int64)
    dilated_starts = np.array([0, 4, 8], dtype=np.int64)
    owners = np.array([0, 1], dtype=np.int64)
    empty_points = np.zeros((0, 2), dtype=np.int64)
    empty_starts = np.zeros(1, dtype=np.int64)
    scale, offset = np.float32(0.4), np.float32(0.3)

    expected_prob = np.zeros(size, np.float32)
    expected_thresh = np.zeros(size, np.float32)
    draw_targets(expected_prob, expected_thresh, points, starts, distances, empty_points, empty_starts,
                 dilated, dilated_starts, owners, scale, offset, False)
    prob_map = np.zeros(size, np.float32)
    thresh_map = np.zeros(size, np.float32)
    winners = np.zeros(size, np.uint16)
    draw_targets_recording(prob_map, thresh_map, winners, points, starts, distances, empty_points,
                           empty_starts, dilated, dilated_starts, owners, scale, offset, False)
    run_ids, run_lengths = encode_runs(winners, np.empty(winners.size, np.int32), 65535)
    redrawn = np.full(size, np.nan, np.float32)
    no_values = np.zeros(0, np.float32)
    complete = redraw_thresh_map(redrawn, run_ids, run_lengths, points, starts, distances, scale, offset, False,
                                 no_values, np.iinfo(np.uint16).max)

    on_edge = edge_ratio(20, 15, 10, 15, 35, 15, square_edge_length(10, 15, 35, 15), 0.0, False)
    assert np.isnan(on_edge)
    assert np.array_equal(thresh_map, expected_thresh)
    # The second polygon raises no pixel: off its edges the ratio is inf,
    # clipped to 1, and on them NaN.
    assert winners.max() <= 4
    assert complete
    assert np.array_equal(redrawn, expected_thresh), describe_difference(redrawn, expected_thresh, "thresh")


@pytest.mark.parametrize("path", shared_data_params("icdar2015/train", "gt_img_*.txt"))
def test_icdar2015_train(path):
    words = read_icdar_annotation(path)
    image_size = read_image_size(path.with_name(path.name.removeprefix("gt_")).with_suffix(".jpg"))
    polygons, size = letterboxed_polygons([word.polygon for word in words], image_size)

    round_trip(polygons, size)


@pytest.mark.parametrize("path", shared_data_params("icdar2015/test", "gt_img_*.txt"))
def test_icdar2015_test(path):
    words = read_icdar_annotation(path)
    polygons, size = letterboxed_polygons([word.polygon for word in words], ICDAR2015_IMAGE_SIZE)

    round_trip(polygons, size)


@pytest.mark.parametrize("path", shared_data_params("sroie", "*.txt"))
def test_sroie(path):
    words = read_icdar_annotation(path)
    polygons, size = letterboxed_polygons([word.polygon for word in words], read_image_size(path.with_suffix(".jpg")))

    round_trip(polygons, size)


@pytest.mark.parametrize("path", shared_data_params("ctw1500", "*.txt"))
def test_ctw1500(path):
    polygons = read_ctw1500(path)
    points = np.concatenate(polygons)
    image_size = (int(np.ceil(points[:, 1].max())) + 1, int(np.ceil(points[:, 0].max())) + 1)
    polygons, size = letterboxed_polygons(polygons, image_size)

    round_trip(polygons, size)


@pytest.mark.parametrize("receipt", wildreceipt_params())
def test_wildreceipt(receipt):
    polygons = [np.reshape(annotation["box"], (4, 2)) for annotation in receipt["annotations"]]
    polygons, size = letterboxed_polygons(polygons, (receipt["height"], receipt["width"]))

    round_trip(polygons, size)


def test_real_sroie_reference_path():
    require_shared_data()
    path = SHARED_DATA / "sroie" / "X51005447848.txt"
    words = read_icdar_annotation(path)
    polygons, size = letterboxed_polygons([word.polygon for word in words], read_image_size(path.with_suffix(".jpg")))

    round_trip(polygons, size, path=REFERENCE)


def test_verify_keeps_correct_entry():
    polygons = make_page(np.random.default_rng(4), 256, 40)

    plain = round_trip(polygons, (256, 256))
    verified = round_trip(polygons, (256, 256), verify=True)

    assert verified == plain
