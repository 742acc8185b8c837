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
from fastcollate.cache.codec import CODEC_VERSION, decode_into, draw_and_encode
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
    complete = redraw_thresh_map(redrawn, run_ids, run_lengths, points, starts, distances, scale, offset, False)

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


@pytest.fixture(scope="module")
def page_entry():
    """Return ``(entry, prob_map, thresh_map)`` of a small synthetic page in the winners layout."""
    polygons = make_page(np.random.default_rng(9), 128, 20)
    prob_map = np.zeros((128, 128), np.float32)
    thresh_map = np.zeros((128, 128), np.float32)
    _, entry = draw_and_encode(prepare_polygons(polygons), prob_map, thresh_map, TargetParams(), FAST)
    return entry, prob_map, thresh_map


def decode_fresh(entry, size=(128, 128)):
    return decode_into(entry, np.zeros(size, np.float32), np.zeros(size, np.float32))


@pytest.mark.parametrize("size", [(128, 127), (127, 128), (64, 64)])
def test_wrong_shape_rejected(page_entry, size):
    entry, _, _ = page_entry

    with pytest.raises(ValueError, match="contains 128 x 128 maps"):
        decode_fresh(entry, size)


def test_wrong_shape_rejected_generic_layout():
    prob_map = np.zeros((32, 32), np.float32)
    entry = codec.encode(prob_map, prob_map, Counter())

    with pytest.raises(ValueError, match="contains 32 x 32 maps"):
        decode_fresh(entry, (32, 16))


def test_damaged_generic_entry_rejected():
    prob_map = np.zeros((32, 32), np.float32)
    entry = codec.encode(prob_map, prob_map + np.float32(0.3), Counter())

    with pytest.raises(ValueError, match="invalid compressed maps"):
        decode_fresh(entry[:-4], (32, 32))


def test_other_version_rejected(page_entry):
    entry, _, _ = page_entry
    older = entry[:4] + struct.pack("<H", CODEC_VERSION - 1) + entry[6:]

    with pytest.raises(ValueError, match=f"codec version {CODEC_VERSION - 1}, expected {CODEC_VERSION}"):
        decode_fresh(older)


@pytest.mark.parametrize(("name", "damage"), [
    ("empty", lambda entry: b""),
    ("magic", lambda entry: b"XXXX" + entry[4:]),
    ("layout", lambda entry: entry[:6] + bytes([7]) + entry[7:]),
    ("truncated_header", lambda entry: entry[:30]),
    ("truncated_arrays", lambda entry: entry[:-3]),
    ("trailing_bytes", lambda entry: entry + b"\0\0\0\0"),
])
def test_damaged_entry_rejected(page_entry, name, damage):
    entry, _, _ = page_entry

    with pytest.raises(ValueError):
        decode_fresh(damage(entry))


def run_ids_offset(entry):
    """Return the byte offset of the run ids in a winners-layout entry, and the run count."""
    payload = struct.calcsize("<4sHBBII") + struct.calcsize(f"<{len(codec.SKIP_REASONS)}I")
    (_, _, point_count, polygon_count, prob_run_count, run_count,
     _) = struct.unpack_from("<ffIIIII", entry, payload)
    offset = (payload + struct.calcsize("<ffIIIII") + 8 * (polygon_count + 1) + 8 * polygon_count
              + 8 * point_count + 4 * prob_run_count)
    return offset, run_count


def test_prob_runs_not_covering_map_rejected(page_entry):
    entry, _, _ = page_entry
    offset, _ = run_ids_offset(entry)
    # The prob map's runs end right before the edge runs; the last one grows by a pixel.
    last_run = offset - 4
    (length,) = struct.unpack_from("<I", entry, last_run)
    damaged = entry[:last_run] + struct.pack("<I", length + 1) + entry[offset:]

    with pytest.raises(ValueError, match="prob map runs"):
        decode_fresh(damaged)


def test_missing_edge_rejected(page_entry):
    entry, _, _ = page_entry
    offset, _ = run_ids_offset(entry)
    damaged = entry[:offset] + struct.pack("<H", 60000) + entry[offset + 2:]

    with pytest.raises(ValueError, match="missing edge"):
        decode_fresh(damaged)


def test_runs_not_covering_map_rejected(page_entry):
    entry, _, _ = page_entry
    offset, run_count = run_ids_offset(entry)
    lengths = offset + 2 * run_count
    damaged = entry[:lengths] + struct.pack("<H", 1) + entry[lengths + 2:]

    with pytest.raises(ValueError, match="do not cover the map"):
        decode_fresh(damaged)


@pytest.mark.parametrize(("dtype", "shape"), [(np.float64, (128, 128)), (np.float32, (128, 128, 1))])
def test_wrong_array_rejected(page_entry, dtype, shape):
    entry, _, _ = page_entry

    with pytest.raises(ValueError, match="must be a float32"):
        decode_into(entry, np.zeros(shape, dtype), np.zeros((128, 128), np.float32))


def test_verify_stores_wrong_pixels(page_entry):
    """An entry that names a wrong winning edge is repaired by exceptions under verification."""
    entry, prob_map, thresh_map = page_entry
    offset, run_count = run_ids_offset(entry)
    run_ids = np.frombuffer(entry, np.uint16, run_count, offset)
    # The first run that names an edge now names its polygon's next edge.
    first_edge_run = int(np.flatnonzero(run_ids)[0])
    wrong_id = int(run_ids[first_edge_run]) + 1
    damaged = entry[:offset + 2 * first_edge_run] + struct.pack("<H", wrong_id) + entry[offset + 2 * first_edge_run + 2:]
    decoded_thresh = np.zeros_like(thresh_map)
    decode_into(damaged, np.zeros_like(prob_map), decoded_thresh)
    assert not np.array_equal(decoded_thresh, thresh_map)

    repaired = codec._verified(damaged, prob_map, thresh_map, Counter())

    repaired_prob = np.zeros_like(prob_map)
    repaired_thresh = np.zeros_like(thresh_map)
    decode_into(repaired, repaired_prob, repaired_thresh)
    assert len(repaired) > len(damaged)
    assert np.array_equal(repaired_prob, prob_map)
    assert np.array_equal(repaired_thresh, thresh_map)


def test_verify_keeps_correct_entry():
    polygons = make_page(np.random.default_rng(4), 256, 40)

    plain = round_trip(polygons, (256, 256))
    verified = round_trip(polygons, (256, 256), verify=True)

    assert verified == plain


@pytest.mark.parametrize("wrap", [bytearray, memoryview, lambda entry: memoryview(b"\0" + entry)[1:]],
                         ids=["bytearray", "memoryview", "unaligned_memoryview"])
def test_entry_buffer_types(page_entry, wrap):
    entry, prob_map, thresh_map = page_entry
    decoded_prob = np.full_like(prob_map, np.nan)
    decoded_thresh = np.full_like(thresh_map, np.nan)

    decode_into(wrap(entry), decoded_prob, decoded_thresh)

    assert np.array_equal(decoded_prob, prob_map)
    assert np.array_equal(decoded_thresh, thresh_map)
