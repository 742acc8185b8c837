"""Damaged and mismatched cache entries: each is rejected with ValueError, never decoded into wrong maps."""

import struct
from collections import Counter

import numpy as np
import pytest

from fastcollate.cache import codec
from fastcollate.cache.codec import CODEC_VERSION, decode_into, draw_and_encode
from fastcollate.polygons import prepare_polygons
from fastcollate.synthetic import make_page
from fastcollate.targets import FAST, TargetParams


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


def winners_layout(entry):
    """Return the byte offsets of the stored values and of the run ids in a winners-layout entry, and the counts."""
    payload = struct.calcsize("<4sHBBII") + struct.calcsize(f"<{len(codec.SKIP_REASONS)}I")
    (_, _, point_count, polygon_count, prob_run_count, stored_count, run_count,
     _) = struct.unpack_from("<ffIIIIII", entry, payload)
    stored = (payload + struct.calcsize("<ffIIIIII") + 8 * (polygon_count + 1) + 8 * polygon_count
              + 8 * point_count + 4 * prob_run_count)
    return stored, stored_count, stored + 4 * stored_count, run_count


def run_ids_offset(entry):
    """Return the byte offset of the run ids in a winners-layout entry, and the run count."""
    _, _, offset, run_count = winners_layout(entry)
    return offset, run_count


def test_prob_runs_not_covering_map_rejected(page_entry):
    entry, _, _ = page_entry
    stored, _, _, _ = winners_layout(entry)
    # The prob map's runs end right before the stored values; the last one grows by a pixel.
    last_run = stored - 4
    (length,) = struct.unpack_from("<I", entry, last_run)
    damaged = entry[:last_run] + struct.pack("<I", length + 1) + entry[stored:]

    with pytest.raises(ValueError, match="prob map runs"):
        decode_fresh(damaged)


def test_page_entry_stores_short_runs(page_entry):
    entry, _, _ = page_entry
    _, stored_count, _, _ = winners_layout(entry)

    assert stored_count > 0


def test_unused_stored_values_rejected(page_entry):
    entry, _, _ = page_entry
    _, _, offset, run_count = winners_layout(entry)
    run_ids = np.frombuffer(entry, dtype=np.uint16, count=run_count, offset=offset)
    # An untouched background run turned into a stored run uses up values meant for later runs.
    background = offset + 2 * int(np.flatnonzero(run_ids == 0)[0])
    marker = np.iinfo(np.uint16).max
    damaged = entry[:background] + struct.pack("<H", marker) + entry[background + 2:]

    with pytest.raises(ValueError, match="stored values"):
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
    # The first run that names an edge, not background or stored values, now names its polygon's next edge.
    first_edge_run = int(np.flatnonzero((run_ids != 0) & (run_ids != np.iinfo(np.uint16).max))[0])
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


@pytest.mark.parametrize("wrap", [bytearray, memoryview, lambda entry: memoryview(b"\0" + entry)[1:]],
                         ids=["bytearray", "memoryview", "unaligned_memoryview"])
def test_entry_buffer_types(page_entry, wrap):
    entry, prob_map, thresh_map = page_entry
    decoded_prob = np.full_like(prob_map, np.nan)
    decoded_thresh = np.full_like(thresh_map, np.nan)

    decode_into(wrap(entry), decoded_prob, decoded_thresh)

    assert np.array_equal(decoded_prob, prob_map)
    assert np.array_equal(decoded_thresh, thresh_map)
